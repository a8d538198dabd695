/* server/server.h: atcr-verify serve, a long-running HTTPS verifier (atv_srv_*).
 *
 * Front ends over HTTP for clusters that do not run Ratify v1: today
 * `/verify` (Kyverno apiCall, OPA http.send), plus a plain-HTTP health
 * listener (/healthz, /readyz, /metrics). Every decision is
 * atv_vfy_image_run's; this module only translates requests into it and
 * its verdict into HTTP.
 *
 * Threads (STYLE.md 7.7): one thread runs the libevent loop and owns every
 * evhttp/bufferevent object; a bounded pool of workers runs verifications
 * and hands plain structs back through a queue and a pipe. The policy is
 * replaced, never changed: a reload builds the new one beside the old and
 * swaps a pointer on the loop thread (the TLS context for new connections,
 * the policy for new verifications), so nothing in use changes under anyone.
 *
 * Includes: cli -> server -> verify (and below).
 */
#ifndef ATV_SERVER_SERVER_H
#define ATV_SERVER_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "verify/verify.h"

#define ATV_SRV_DEFAULT_WORKERS 16u
#define ATV_SRV_MAX_WORKERS 256u
#define ATV_SRV_QUEUE_PER_WORKER 4u      /* queued (not started) verifications per worker */
#define ATV_SRV_MAX_VERIFY_BODY 16384u   /* POST /verify body */
#define ATV_SRV_MAX_REVIEW_BODY (3u << 20) /* an AdmissionReview; evhttp's bound for every path */
#define ATV_SRV_MAX_BUFFERED ((size_t)256 << 20) /* bytes all requests in progress may hold */
#define ATV_SRV_DEFAULT_MUTATE_TIMEOUT_MS 900u /* Gatekeeper's mutating webhook defaults to 1 s */
#define ATV_SRV_MAX_HEADERS 16384u       /* request line and headers, bytes */
#define ATV_SRV_MAX_IMAGE 1024u          /* an image reference, bytes */
#define ATV_SRV_IDLE_TIMEOUT_S 120       /* longer than Go clients' 90 s idle reuse */
#define ATV_SRV_DEFAULT_LAME_DUCK_MS 5000u
#define ATV_SRV_MAX_LAME_DUCK_MS 60000u
#define ATV_SRV_DRAIN_MS 10000u          /* in-flight requests after the lame duck, at most */
#define ATV_SRV_MAX_HOST 255u
#define ATV_SRV_DEFAULT_VERDICT_TTL_S 60u
#define ATV_SRV_MAX_VERDICT_TTL_S 3600u
#define ATV_SRV_MAX_CONNECTIONS 4096u     /* open TLS connections; more wait in the backlog */
#define ATV_SRV_REQUEST_LIMIT_S 10        /* accept (or a request's first byte) to a whole request */
#define ATV_SRV_RELOAD_POLL_MS 1000u      /* how often certificate, key, CA and policy are checked */

/* ADDR:PORT: "127.0.0.1:8443", "[::1]:8443", ":8443" (every address),
 * "localhost:8443". PORT is 0..65535, 0 meaning any free port (the bound
 * one is printed). */
struct atv_srv_addr {
    char host[ATV_SRV_MAX_HOST + 1]; /* "" : every address */
    uint16_t port;
};
/* Returns ATV_OK; ATV_E_PARSE naming what is wrong. Out: *out (zeroed on failure). */
ATV_MUST_USE enum atv_status atv_srv_addr_parse(const char *s, struct atv_srv_addr *out,
                                                struct atv_err *err);

struct atv_srv_config {
    struct atv_srv_addr listen;         /* the TLS listener */
    int has_health;
    struct atv_srv_addr health;         /* the plain-HTTP health listener, when has_health */
    const char *tls_cert;               /* borrow: PEM chain file */
    const char *tls_key;                /* borrow: PEM private key file */
    const char *client_ca;              /* borrow: PEM CA file, or NULL: no client certificate */
    unsigned verdict_ttl_s;             /* 0..ATV_SRV_MAX_VERDICT_TTL_S, 0: no verdict cache */
    unsigned workers;                   /* 1..ATV_SRV_MAX_WORKERS */
    unsigned lame_duck_ms;              /* after SIGTERM, before the listener closes */
    unsigned mutate_timeout_ms;         /* the mutation paths' deadline (1..60000) */
    const struct atv_vfy_params *params; /* borrow; timeout_ms is every request's deadline */
    const struct atv_vfy_store *store;  /* borrow */
    const struct atv_vfy_log *log;      /* borrow: the verifications' log lines */
    FILE *errs;                         /* the server's own lines (start, stop); NULL: none */
};
/* Defaults: workers 16, lame duck 5 s, verdict TTL 60 s, no health listener,
 * no client CA; the rest NULL/0. */
void atv_srv_config_init(struct atv_srv_config *c);

struct atv_srv; /* opaque */

/* Loads the trust policy, the certificate and key (checked against each
 * other) and the client CA, raises RLIMIT_NOFILE for ATV_SRV_MAX_CONNECTIONS
 * (fewer connections when the hard limit is lower, said on c->errs), binds
 * both listeners and starts the workers; nothing is served until
 * atv_srv_run. c and everything it borrows must outlive *out.
 * Returns ATV_OK; ATV_E_USAGE for a bad configuration, certificate, key or
 * policy (the CLI's exit 2); ATV_E_IO when an address cannot be bound;
 * ATV_E_NOMEM. Out: *out (new: atv_srv_free), NULL on failure. */
ATV_MUST_USE enum atv_status atv_srv_new(const struct atv_srv_config *c, struct atv_srv **out,
                                         struct atv_err *err);

/* The TCP ports bound (useful with port 0); 0 when there is no such listener. */
uint16_t atv_srv_port(const struct atv_srv *s);
uint16_t atv_srv_health_port(const struct atv_srv *s);

/* Serves until SIGTERM or SIGINT. Every ATV_SRV_RELOAD_POLL_MS, the
 * certificate, key, client CA and policy files are checked (stat through
 * symlinks, so a Kubernetes volume's ..data swap counts) and reloaded when
 * changed; a reload that fails keeps what was in use (logged, counted).
 * On the signal: /readyz answers 503 at once,
 * serving goes on for c->lame_duck_ms, the TLS listener closes, requests
 * in flight drain (at most ATV_SRV_DRAIN_MS), and it returns ATV_OK.
 * SIGPIPE is ignored from the first call on. ATV_E_INTERNAL when the loop
 * fails. */
ATV_MUST_USE enum atv_status atv_srv_run(struct atv_srv *s, struct atv_err *err);

/* Stops the workers (waiting for verifications still running, each bounded
 * by its deadline), closes every connection and frees s; NULL is a no-op. */
void atv_srv_free(struct atv_srv *s);

#endif
