/* policy/policy_internal.h: private to policy/ (never included from another directory).
 *
 * The two front ends (parse.c: YAML through libyaml's event API, JSON through
 * jansson) turn a document into one small tree of pol_node; the schema
 * (schema.c) walks that tree once, so every rule of the format is written
 * once and YAML and JSON get the same checks and the same messages. The only
 * difference: YAML nodes carry their line, JSON nodes do not (jansson keeps
 * no position per value).
 */
#ifndef ATV_POLICY_POLICY_INTERNAL_H
#define ATV_POLICY_POLICY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "atproto/atproto.h"
#include "common/buf.h"
#include "common/err.h"
#include "policy/policy.h"

/* Nesting of the tree: the format needs 6 levels
 * (root.policies[i].require[k].trustedDIDs[j]); anything deeper is not ours. */
#define POL_MAX_DEPTH 16u
/* Entries in one mapping or sequence: the largest legitimate one is a DID list. */
#define POL_MAX_ITEMS ATV_POLICY_MAX_DIDS
/* Nodes in one document: bounds memory well below what ATV_POLICY_MAX_FILE
 * of one-character scalars would otherwise cost. */
#define POL_MAX_NODES 32768u
/* A datetime as written (atv_atp_datetime_check caps it at 64 bytes). */
#define POL_MAX_DATETIME 64u

/* The scalar kinds are the schema's types. A YAML plain scalar is typed by
 * its text (see parse.c), a quoted one is always a string. */
enum pol_kind {
    POL_MAP,
    POL_SEQ,
    POL_STR,
    POL_BOOL,
    POL_INT, /* plain decimal: -?(0|[1-9][0-9]*) */
    POL_NULL,
    POL_NUM,  /* any other number (JSON real; YAML 1.5, 0x1F, +1, .inf, ...) */
    POL_OTHER /* a YAML plain scalar some resolver reads as non-string (True, yes, off) */
};

struct pol_node;

struct pol_entry {
    char *key; /* NUL-terminated, MAP only (NULL in a SEQ) */
    struct pol_node *val;
};

struct pol_node {
    enum pol_kind kind;
    size_t line; /* 1-based; 0 when unknown (JSON) */
    /* Where the node sits, for messages: parent NULL at the root. */
    const struct pol_node *parent;
    const char *key; /* borrow: the parent entry's key (MAP parent) */
    size_t key_line; /* the key's line (YAML), for messages about the key itself */
    size_t index;    /* position in the parent */
    /* Scalars: the text (NUL-terminated, no NUL inside), and for POL_BOOL /
     * POL_INT the value (an INT too large to matter is clamped to INT64_MAX). */
    char *text;
    size_t len;
    int b;
    int64_t i;
    /* POL_NUM from JSON (a real, no text kept): its value. YAML keeps the text. */
    int has_real;
    double real;
    /* MAP and SEQ. */
    struct pol_entry *items;
    size_t n, cap;
};

/* Parses YAML or JSON text into a tree. Out: *root (new: pol_tree_free).
 * Errors: ATV_E_PARSE (syntax, duplicate keys, anchors, aliases, tags, NUL in
 * a string, not exactly one document), ATV_E_LIMIT (POL_MAX_*), ATV_E_NOMEM. */
ATV_MUST_USE enum atv_status pol_tree_parse(struct atv_bytes text, struct pol_node **root,
                                            struct atv_err *err);
void pol_tree_free(struct pol_node *n);

/* The node's key path ("policies[2].require.minSignatures", "document" for
 * the root), keys outside [A-Za-z0-9_] quoted and sanitised. */
void pol_node_path(const struct pol_node *n, char *out, size_t cap);

/* Writes "<path>: <message>[ at line N]" into err and returns code; N is the
 * node's line. pol_fail_key reports the line of the node's key instead (an
 * unknown key whose value starts on a later line). */
enum atv_status pol_fail(struct atv_err *err, enum atv_status code, const struct pol_node *at,
                         const char *fmt, ...) ATV_PRINTF(4, 5);
enum atv_status pol_fail_key(struct atv_err *err, enum atv_status code,
                             const struct pol_node *at, const char *fmt, ...) ATV_PRINTF(4, 5);

/* Copies s into out (cap >= 1) for a message: printable ASCII kept, any other
 * byte shown as '?', cut at cap-1 bytes with "..." when longer. */
void pol_sanitize(const char *s, size_t n, char *out, size_t cap);

/* ---- the built policy ---------------------------------------------------- */

/* An instant from an RFC 3339 datetime: floor seconds plus the fraction. */
struct pol_time {
    int64_t sec;   /* unix seconds, floor */
    uint32_t nsec; /* first 9 fraction digits */
    int more;      /* a non-zero fraction digit past the ninth */
    char text[POL_MAX_DATETIME + 1];
};

/* A DID of the top-level trustedDIDs map. */
struct pol_did {
    char *did;
    char *name; /* NULL when absent */
    int has_from, has_until;
    struct pol_time from, until;
    /* `keys`: the pinned #atproto keys, 1..ATV_POLICY_MAX_KEYS distinct keys
     * (as points, whatever encoding each was written in); NULL and 0 when the
     * entry pins none (any key the DID's identity names). */
    struct atv_pubkey *keys;
    size_t nkeys;
};

/* One item of a policy's `require` (a map is one item, a list several). */
struct pol_item {
    int require_signature;
    unsigned min_signatures; /* >= 1, meaningful when require_signature */
    int own_dids; /* 1: the item's trustedDIDs given (dids/ndids); 0: the top-level map */
    char **dids;  /* distinct */
    size_t ndids;
};

struct pol_rule {
    char name[ATV_POLICY_MAX_NAME + 1];
    char *scope;
    enum atv_policy_action action;
    struct pol_item *items; /* 1..ATV_POLICY_MAX_REQUIRE */
    size_t nitems;
};

struct atv_policy {
    struct pol_did *dids; /* the top-level map */
    size_t ndids;
    struct pol_rule *rules; /* file order */
    size_t nrules;
};

/* schema.c owns the built struct: it builds it from a tree and frees it.
 * It calls nothing in policy.c; policy.c calls it (one direction). */

/* Builds a policy from a tree. Out: *out (new: pol_policy_free), NULL on failure. */
ATV_MUST_USE enum atv_status pol_build(const struct pol_node *root, struct atv_policy **out,
                                       struct atv_err *err);
/* Frees a built (or partly built) policy; NULL is a no-op. */
void pol_policy_free(struct atv_policy *p);

/* Converts a datetime that atv_atp_datetime_check accepts (checked again
 * here). Sub-second precision is kept as the fraction. */
ATV_MUST_USE enum atv_status pol_time_parse(const char *s, size_t n, struct pol_time *out,
                                            struct atv_err *err);
/* <0, 0, >0 as a is before, equal to, after b. */
int pol_time_cmp(const struct pol_time *a, const struct pol_time *b);
/* The smallest whole second >= the instant: for an integer `now`,
 * now >= t  <=>  now >= ceil(t)  and  now < t  <=>  now < ceil(t). */
int64_t pol_time_ceil(const struct pol_time *t);

#endif
