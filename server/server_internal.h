/* server/server_internal.h: the worker pool and the metrics (server/ only). */
#ifndef ATV_SERVER_SERVER_INTERNAL_H
#define ATV_SERVER_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "server/server.h"
#include "verify/verify.h"

/* ---- jobs and who waits for them ------------------------------------------------------
 * A job is one verification. The loop fills it, a worker runs it into
 * job->verdict, the loop takes it back and calls every waiter's done: the
 * requests that asked for this image while it was in flight share it
 * (singleflight). Waiters and the job's policy reference belong to the loop
 * thread; a worker reads only image, times, pol->p, vc and verdict. */
struct atv_srv;
struct srv_job;
struct srv_wait;
/* What a waiter gets, on the loop thread; it owns w from then on.
 *   v != NULL: the verdict (valid during the call only);
 *   v == NULL, busy != NULL: no verdict in time (busy says why: a full queue,
 *     the deadline passed while queued, out of memory): answer 503 or the like;
 *   v == NULL, busy == NULL: the server is going away: free w, answer nothing
 *     (srv_request_release for a request whose client has left). */
typedef void (*srv_wait_fn)(struct atv_srv *s, struct srv_wait *w, const struct atv_vfy_image *v,
                            const char *busy);
struct srv_wait {
    struct srv_wait *next;
    srv_wait_fn done;
    /* set for the call to done: the job's gk_value (below), or NULL */
    const char *gk_value;
};

/* A loaded trust policy. gen identifies it (the verdict cache's key and the
 * singleflight key include it); refs are counted on the loop thread: the
 * server holds one, every job in flight one. */
struct srv_policy {
    struct atv_policy *p;
    uint64_t gen;
    unsigned refs;
};

struct srv_cache;
struct srv_metrics;
struct srv_vctx {
    struct srv_cache *cache;
    uint64_t gen;
    struct srv_metrics *m;
};

#define SRV_KEY_MAX (ATV_SRV_MAX_IMAGE + 96u)
struct srv_job {
    struct srv_job *next;          /* the pool's lists */
    struct srv_job *fnext;         /* loop only: the server's jobs in flight */
    struct srv_wait *waiters, *wlast; /* loop only; answered in order */
    size_t n_waiters;
    char key[SRV_KEY_MAX];         /* the singleflight key (set before submit, then read-only):
                                    * its first byte is the class, 'v' or 'm' */
    char image[ATV_SRV_MAX_IMAGE + 1]; /* the reference verified, as the first asker wrote it */
    int64_t now;                   /* unix seconds at arrival */
    uint64_t start_ms;             /* CLOCK_MONOTONIC ms at arrival */
    uint64_t deadline_ms;          /* CLOCK_MONOTONIC ms: start_ms + params->timeout_ms */
    int expired;                   /* 1: the deadline passed before a worker took it (not run) */
    struct srv_policy *pol;        /* a counted reference */
    struct srv_vctx vctx;
    struct atv_vfy_vcache vc;      /* vc.get NULL: no verdict cache */
    /* allocated by the worker that runs the job (a verdict is large: queued
     * jobs hold none); NULL when not run or out of memory */
    struct atv_vfy_image *verdict;
    /* class 'v' with a definite verdict: the Gatekeeper verify item's value as
     * JSON text, rendered by the worker (srv_gk_value_text), so that the loop
     * thread, which every connection shares, only copies it; else NULL */
    char *gk_value;
};
/* Returns a zeroed job, or NULL. */
struct srv_job *srv_job_new(void);
void srv_job_free(struct srv_job *j);

/* The paths answered, for replies and metrics. */
enum srv_path { SRV_P_VERIFY = 0, SRV_P_GK_VERIFY, SRV_P_GK_MUTATE, SRV_P_K8S_VALIDATE,
                SRV_P_K8S_MUTATE, SRV_P_HEALTHZ, SRV_P_READYZ, SRV_P_METRICS, SRV_P_OTHER,
                SRV_P_COUNT };

/* ---- requests (server.c; loop thread only) ------------------------------------------
 * The endpoint handlers outside server.c (gatekeeper.c, admission.c) see a
 * request as an opaque pointer: libevent stays inside server.c. */
struct evhttp_request;
typedef struct evhttp_request srv_req;
/* Sends body (NULL: empty) with content_type and counts it under path. */
void srv_reply(struct atv_srv *s, srv_req *req, enum srv_path path, int code,
               const char *content_type, const char *body);
/* The request's body as one contiguous view (NULL and 0 when empty); valid
 * until the reply. */
const unsigned char *srv_body(srv_req *req, size_t *len);
/* 1 for POST. */
int srv_is_post(srv_req *req);
/* 1 when the Content-Type is application/json (parameters allowed) or absent. */
int srv_json_request(srv_req *req);
/* A request header's value, NULL when absent. */
const char *srv_header(srv_req *req, const char *name);
/* 1 when the connection presented a client certificate that verified
 * against --client-ca (0 without --client-ca, or on a connection gone). */
int srv_client_verified(srv_req *req);
/* For a waiter released without an answer (srv_wait_fn, v and busy NULL):
 * frees req when its client has gone (evhttp no longer owns it). */
void srv_request_release(srv_req *req);
/* Adds w to the verification of image under the current policy: a job in
 * flight for the same key (normalised reference, policy, deadline class),
 * else a new one with deadline_ms. extra: queue slots beyond the pool's
 * own bound (0: a full queue refuses). 1 when w will be called; 0 when not
 * (the caller still owns w). */
int srv_submit(struct atv_srv *s, const char *image, struct srv_wait *w, int64_t now,
               uint64_t start_ms, uint64_t deadline_ms, char cls, size_t extra);
/* 1 when image parses as a reference (and out, ATV_SRV_MAX_IMAGE + 1
 * bytes, is its normalised name); else 0 with msg set. */
int srv_image_ok(const struct atv_srv *s, const char *image, char *msg, size_t cap);
const struct atv_srv_config *srv_config(const struct atv_srv *s);
struct srv_metrics *srv_metrics_of(struct atv_srv *s);
/* 1 while serving, 0 from SIGTERM on (answers then ask clients to close). */
int srv_serving(const struct atv_srv *s);

/* ---- Gatekeeper external data (gatekeeper.c) ----------------------------------------- */
#define SRV_GK_MAX_BODY ((size_t)1 << 20)
#define SRV_GK_MAX_KEYS 1024u
void srv_gk_handle(struct atv_srv *s, srv_req *req, int mutate);
/* The verify item's value for v as compact JSON text (new: free()), NULL when
 * out of memory. Thread-safe: the workers call it. */
char *srv_gk_value_text(const struct atv_vfy_image *v);

/* ---- Kubernetes admission webhooks (admission.c) ---------------------------------------- */
void srv_k8s_handle(struct atv_srv *s, srv_req *req, int mutate);

/* ---- the worker pool (pool.c) ------------------------------------------------------- */
struct srv_pool;
struct srv_pool_cfg {
    unsigned workers;
    size_t queue_cap;                    /* queued, not started */
    const struct atv_vfy_params *params; /* borrow */
    const struct atv_vfy_store *store;   /* borrow */
    const struct atv_vfy_log *log;       /* borrow */
};
/* Starts the workers (with SIGTERM, SIGINT and SIGPIPE blocked in them). */
ATV_MUST_USE enum atv_status srv_pool_new(const struct srv_pool_cfg *c, struct srv_pool **out,
                                          struct atv_err *err);
/* Readable when finished jobs wait (srv_pool_take_done); the loop watches it. */
int srv_pool_fd(const struct srv_pool *p);
/* Queues j: 1, the pool owns it until srv_pool_take_done; 0 when the queue
 * holds queue_cap + extra jobs already (the caller keeps j and answers 503
 * at once). extra: 0 for a single request; a Gatekeeper batch may queue
 * more, each key still bounded by its deadline. */
int srv_pool_submit(struct srv_pool *p, struct srv_job *j, size_t extra);
/* Takes out of the queue every job whose deadline is at or before now_ms
 * (marked expired, a list through next) so the loop answers them on time
 * even while every worker is busy. */
struct srv_job *srv_pool_expire(struct srv_pool *p, uint64_t now_ms);
/* Finished jobs (a list through next, oldest first; NULL when none), after
 * emptying the wake-up pipe. */
struct srv_job *srv_pool_take_done(struct srv_pool *p);
/* Stops the workers after their current job, joins them, and returns the
 * jobs still queued or finished (a list through next) for the caller to
 * release; NULL is a no-op. */
struct srv_job *srv_pool_free(struct srv_pool *p);

/* ---- the verdict cache (cache.c) ---------------------------------------------------- */
#define SRV_CACHE_MAX_ENTRIES 4096u
#define SRV_CACHE_MAX_BYTES ((size_t)64 * 1024 * 1024)
/* ttl_s > 0. Out: *out (srv_cache_free). */
ATV_MUST_USE enum atv_status srv_cache_new(unsigned ttl_s, size_t max_entries, size_t max_bytes,
                                           struct srv_cache **out, struct atv_err *err);
/* 1 and *out filled when a live entry for (gen, name, digest) exists. Thread-safe. */
int srv_cache_get(struct srv_cache *c, uint64_t gen, const char *name, const char *digest,
                  uint64_t now_ms, struct atv_vfy_image *out);
/* Keeps a copy of v until now_ms + ttl (evicting the oldest past the bounds). */
void srv_cache_put(struct srv_cache *c, uint64_t gen, const char *name, const char *digest,
                   uint64_t now_ms, const struct atv_vfy_image *v);
void srv_cache_clear(struct srv_cache *c);
void srv_cache_stats(struct srv_cache *c, size_t *entries, size_t *bytes);
void srv_cache_free(struct srv_cache *c);
/* Points j->vc at c under generation gen (counting hits and misses in m);
 * c NULL: no cache. */
void srv_job_use_cache(struct srv_job *j, struct srv_cache *c, uint64_t gen,
                       struct srv_metrics *m);

/* ---- metrics (metrics.c): C11 atomics, rendered in the Prometheus text format 0.0.4 --- */
#define SRV_CODES 12u   /* the status codes we answer, srv_code_index */
#define SRV_REASONS 16u /* enum atv_vfy_reason, OK..STALE_EVIDENCE */
#define SRV_BUCKETS 12u /* latency buckets, milliseconds (metrics.c) */
enum srv_upstream { SRV_UP_REGISTRY = 0, SRV_UP_IDENTITY, SRV_UP_PDS, SRV_UP_TIMEOUT, SRV_UP_OTHER,
                    SRV_UP_COUNT };
enum srv_reloaded { SRV_RL_TLS = 0, SRV_RL_POLICY, SRV_RL_COUNT };
struct srv_metrics {
    atomic_ulong requests[SRV_P_COUNT][SRV_CODES];
    atomic_ulong verdicts[SRV_REASONS];
    atomic_ulong verdicts_allowed;
    atomic_ulong verdicts_refused;
    atomic_ulong latency_bucket[SRV_BUCKETS]; /* cumulative at render time, not here */
    atomic_ulong latency_count;
    atomic_ulong latency_sum_ms;
    atomic_ulong queue_full;
    atomic_ulong deadline_in_queue;
    atomic_ulong rollback_guard_off;
    atomic_ulong cache_hits;
    atomic_ulong cache_misses;
    atomic_ulong shared;                      /* requests answered by another's verification */
    atomic_ulong upstream[SRV_UP_COUNT];
    atomic_ulong slow_cut;                    /* connections cut by the whole-request limit */
    atomic_ulong conns_refused_tls;           /* connections whose TLS could not be set up */
    atomic_ulong over_budget;                 /* connections cut: requests in progress held too much */
    atomic_ulong client_cert_refused;         /* Gatekeeper paths without a verified client certificate */
    atomic_ulong reload_ok[SRV_RL_COUNT];
    atomic_ulong reload_failed[SRV_RL_COUNT];
    atomic_long in_flight;
};
/* Values read at render time from the loop's own state. */
struct srv_gauges {
    int ready;
    long connections;
    unsigned max_connections;
    size_t cache_entries, cache_bytes;
    unsigned verdict_ttl_s;
};
void srv_metrics_init(struct srv_metrics *m);
void srv_metrics_request(struct srv_metrics *m, enum srv_path path, int code);
/* One answered verdict; latency_ms from arrival. */
void srv_metrics_verdict(struct srv_metrics *m, const struct atv_vfy_image *v,
                         uint64_t latency_ms);
/* Renders into a new NUL-terminated string (free(3)); NULL when out of memory. */
char *srv_metrics_render(struct srv_metrics *m, const struct srv_gauges *g);

#endif
