/* common/http.h: the project's only HTTP client (libcurl lives in
 * common/http.c alone), and the fetcher interface through which atproto/
 * receives network bytes without doing I/O itself.
 *
 * Policy (DESIGN.md "Rules that hold everywhere"): HTTPS with certificate
 * checks always on; plain http only when the session allows it (a registry's
 * useHttp) or, with allow_loopback_http, for loopback hosts only; one
 * deadline shared by every request of a session; every body capped; at most
 * ATV_MAX_REDIRECTS redirects, each re-checked against the same policy;
 * credentials never sent to a host other than the one they were given for
 * (a redirect to another host drops them); a POST body goes to one URL
 * only (no redirect is followed for POST). Errors name the host and the
 * HTTP status, never request or response bytes.
 */
#ifndef ATV_COMMON_HTTP_H
#define ATV_COMMON_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define ATV_MAX_REDIRECTS 3

/* ---- fetcher: how atproto/ asks for bytes ----------------------------------
 * get: GET url; on any HTTP answer returns ATV_OK with *status set and the
 *      body (at most max bytes, else ATV_E_LIMIT) appended to out; transport
 *      failures (refused, timeout, TLS, policy) are ATV_E_IO.
 * txt: DNS TXT lookup of name; each record's strings joined, records
 *      separated by '\n' in out. No records is ATV_E_NOT_FOUND.
 * Either may be NULL when the caller offers no such access (offline). */
struct atv_fetcher {
    enum atv_status (*get)(void *ctx, const char *url, size_t max, long *status,
                           struct atv_buf *out, struct atv_err *err);
    enum atv_status (*txt)(void *ctx, const char *name, struct atv_buf *out, struct atv_err *err);
    void *ctx;
};

/* ---- the HTTP session ------------------------------------------------------- */
struct atv_http_opts {
    uint32_t timeout_ms;     /* whole-session budget from atv_http_new; 0 means 2500 */
    int allow_http;          /* plain http:// to any host (registry useHttp) */
    int allow_loopback_http; /* plain http:// to 127.0.0.0/8, [::1] and localhost only */
    const char *ca_file;     /* CA bundle; NULL: libcurl's default, then
                              * /etc/ssl/certs/ca-certificates.crt when that exists */
    int ca_only;             /* with ca_file: that file is the only trust (libcurl's CA
                              * directory, /etc/ssl/certs on Debian, is not consulted) */
    const char *user_agent;  /* NULL: "atcr-verify/<version>" */
};

struct atv_http; /* opaque: options, deadline, a reused libcurl handle */

/* Starts a session; its deadline starts now. Out: *out (new: atv_http_free). */
ATV_MUST_USE enum atv_status atv_http_new(const struct atv_http_opts *opts, struct atv_http **out,
                                          struct atv_err *err);
void atv_http_free(struct atv_http *h);
/* A long-running, multi-threaded program (the server) takes one process-wide
 * libcurl reference on its main thread before it starts any thread, and
 * releases it after the last one has ended: each session's own init/cleanup
 * pair then only counts references and never sets libcurl up or tears it
 * down while another thread uses it.
 * Returns ATV_OK; ATV_E_INTERNAL when libcurl cannot be initialised. */
ATV_MUST_USE enum atv_status atv_http_global_hold(struct atv_err *err);
void atv_http_global_release(void);
/* Milliseconds left before the session's deadline (0 when past it). */
uint32_t atv_http_remaining_ms(const struct atv_http *h);

/* A session for one optional step that must not eat the whole budget (the
 * handle check): the parent's options (scheme policy, CA file, user agent),
 * and a deadline of min(now + budget_ms, the parent's deadline), so the step
 * can never extend the parent's budget. Every request and TXT lookup through
 * it is bounded by that deadline and abandoned there (ATV_E_IO, reason
 * "timeout"); the parent's deadline is untouched, so the caller goes on with
 * what is left. budget_ms 0, or a parent already past its deadline, gives a
 * session whose requests fail at once with "timeout". The new session has
 * its own libcurl handle: it shares no connection with the parent.
 * In: parent (borrow; may be freed before or after *out).
 * Out: *out (new: atv_http_free), NULL on failure.
 * Returns: ATV_OK; ATV_E_USAGE for a NULL parent or out; ATV_E_NOMEM;
 * ATV_E_IO when the parent's CA file is no longer readable. */
ATV_MUST_USE enum atv_status atv_http_sub(struct atv_http *parent, uint32_t budget_ms,
                                          struct atv_http **out, struct atv_err *err);

/* The largest request body atv_http_do sends (a token refresh form is a few KiB). */
#define ATV_HTTP_MAX_REQ_BODY (64u << 10)

struct atv_http_req {
    const char *method;        /* "GET", "HEAD" or "POST" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *authorization; /* value of an Authorization header, or NULL; sent only to
                                * the host:port of `url`, dropped on a cross-host redirect */
    size_t max_body;           /* cap on the body; over it is ATV_E_LIMIT */
    int follow_redirects;      /* 1: follow up to ATV_MAX_REDIRECTS (never for POST) */
    /* POST only (ATV_E_USAGE otherwise): the request body (borrow, body_len
     * bytes, at most ATV_HTTP_MAX_REQ_BODY; may be empty) and its media type
     * (required, sent as Content-Type). A POST never follows a redirect,
     * whatever follow_redirects says: the 3xx is returned as the answer, so
     * a body that may hold a secret (a refresh token) goes to exactly one URL
     * (RFC 9110 section 15.4: 301/302 turn a POST into a GET, 307/308 would
     * re-send the body to the new place). */
    const void *body;
    size_t body_len;
    const char *content_type;
};

/* RFC 8288 section 3: a Link header as the server wrote it. Several Link
 * header fields are joined with ", " (RFC 9110 section 5.3: the same as
 * one comma-separated field). */
#define ATV_HTTP_MAX_LINK 2048u

struct atv_http_resp {
    long status;               /* final HTTP status */
    struct atv_buf body;       /* owned; atv_http_resp_cleanup frees it */
    char content_type[128];    /* "" when absent or too long */
    char content_digest[160];  /* Docker-Content-Digest, "" when absent or too long */
    char www_authenticate[1024]; /* WWW-Authenticate, "" when absent or too long */
    char final_url[2048];      /* after redirects */
    char link[ATV_HTTP_MAX_LINK]; /* Link (all fields joined), "" when absent or dropped */
    int link_dropped;          /* 1 when a Link field was too long or held a control
                                * character: link is then "", and a caller that pages
                                * must fail rather than stop early */
};

/* Performs one request. Returns ATV_OK for any HTTP answer (check status);
 * ATV_E_IO for a transport failure, the deadline (err->reason "timeout"), or a
 * URL the policy refuses;
 * ATV_E_LIMIT for a body over max_body. resp is initialised either way. */
ATV_MUST_USE enum atv_status atv_http_do(struct atv_http *h, const struct atv_http_req *req,
                                         struct atv_http_resp *resp, struct atv_err *err);
void atv_http_resp_cleanup(struct atv_http_resp *resp);

/* A fetcher whose get is a capped GET through h (redirects followed, no
 * credentials) and whose txt is a DNS TXT lookup (libresolv) bounded by the
 * session's deadline: the query runs on a thread of its own and is
 * abandoned at the deadline (ATV_E_IO, reason "timeout"), the thread left
 * to finish on its own (at most about one second per nameserver later, or
 * with the process); at most 32 such threads run at once, past that a
 * lookup fails at once (ATV_E_IO). h must outlive the fetcher. */
struct atv_fetcher atv_http_fetcher(struct atv_http *h);

/* 1 when the URL's host is loopback (127.0.0.0/8, ::1, localhost). */
int atv_http_host_is_loopback(const char *url);

#endif
