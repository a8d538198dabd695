/* common/err.h: the one status type and error record of the whole project.
 *
 * Fallible functions return enum atv_status and take `struct atv_err *err`
 * as their last parameter. atv_err_set() formats the message and returns the
 * code, so `return atv_err_set(err, ATV_E_PARSE, "...")` reads like a bail.
 * The first error set wins: later calls on an error already set keep the
 * original code and message (outer layers add context with atv_err_prefix).
 */
#ifndef ATV_COMMON_ERR_H
#define ATV_COMMON_ERR_H

#include <stddef.h>

#define ATV_MUST_USE __attribute__((warn_unused_result))
#define ATV_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum atv_status {
    ATV_OK = 0,
    ATV_E_NOMEM,       /* allocation failed */
    ATV_E_IO,          /* a file or the network failed */
    ATV_E_LIMIT,       /* an input exceeded a named cap (common/limits.h) */
    ATV_E_PARSE,       /* malformed input */
    ATV_E_UNSUPPORTED, /* well-formed but outside what we accept (algorithm, version, codec) */
    ATV_E_NOT_FOUND,   /* a required object is absent */
    ATV_E_VERIFY,      /* a check ran and failed: a negative verdict, not a malfunction */
    ATV_E_USAGE,       /* the caller misused an API or a command line */
    ATV_E_INTERNAL     /* an invariant broke: a bug */
};

struct atv_err {
    enum atv_status code;
    /* A stable machine-readable reason ("bad_signature", "record_absent", ...),
     * static storage, NULL until set. Reported as the verdict's `reason`. */
    const char *reason;
    /* 1: a retry could change the outcome (connection refused or reset, DNS
     * failure, deadline, HTTP 5xx or 429). A 404, a bad signature or an
     * untrusted DID are definite (0). Set with atv_err_transient. */
    int transient;
    char msg[256];
};

/* Resets err to ATV_OK with an empty message. err may be NULL. */
void atv_err_clear(struct atv_err *err);

/* Records code and a printf-style message unless err already holds an error.
 * Returns: code (so callers can `return atv_err_set(...)`). err may be NULL. */
enum atv_status atv_err_set(struct atv_err *err, enum atv_status code, const char *fmt, ...)
    ATV_PRINTF(3, 4);

/* As atv_err_set, and also records the reason (static string) if none is set yet. */
enum atv_status atv_err_setr(struct atv_err *err, enum atv_status code, const char *reason,
                             const char *fmt, ...) ATV_PRINTF(4, 5);

/* Marks the error already set in err as transient (see above); no effect on
 * an err holding no error, or NULL. */
void atv_err_transient(struct atv_err *err);

/* Prepends "context: " to the message of an error already set (truncating). */
void atv_err_prefix(struct atv_err *err, const char *fmt, ...) ATV_PRINTF(2, 3);

/* A short lower-case name for a status ("parse", "verify", ...). Never NULL. */
const char *atv_status_name(enum atv_status code);

/* Hex of at most `max` leading bytes of p, for messages about untrusted bytes.
 * Writes a NUL-terminated string into out (cap bytes, cap >= 1). */
void atv_hex_prefix(const unsigned char *p, size_t n, size_t max, char *out, size_t cap);

#endif
