/* server/server_internal.h: the worker pool and the metrics (server/ only). */
#ifndef ATV_SERVER_SERVER_INTERNAL_H
#define ATV_SERVER_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "server/server.h"
#include "verify/verify.h"

/* ---- the worker pool (pool.c) -------------------------------------------------------
 * A job is a plain struct: the loop fills it, a worker runs the verification
 * into job->verdict, and the loop takes it back. ctx is the loop's (its
 * evhttp request): a worker never reads it. */
struct srv_job {
    struct srv_job *next;
    void *ctx;
    char image[ATV_SRV_MAX_IMAGE + 1];
    int64_t now;              /* unix seconds at arrival */
    uint64_t start_ms;        /* CLOCK_MONOTONIC ms at arrival */
    uint64_t deadline_ms;     /* CLOCK_MONOTONIC ms: start_ms + params->timeout_ms */
    int expired;              /* 1: the deadline passed before a worker took it (not run) */
    struct atv_vfy_image *verdict; /* new (srv_job_free) */
};
/* Returns a zeroed job with its verdict allocated, or NULL. */
struct srv_job *srv_job_new(void);
void srv_job_free(struct srv_job *j);

struct srv_pool;
struct srv_pool_cfg {
    unsigned workers;
    size_t queue_cap;                    /* queued, not started */
    const struct atv_vfy_params *params; /* borrow */
    const struct atv_vfy_store *store;   /* borrow */
    const struct atv_policy *policy;     /* borrow, read only */
    const struct atv_vfy_log *log;       /* borrow */
};
/* Starts the workers (with SIGTERM, SIGINT and SIGPIPE blocked in them). */
ATV_MUST_USE enum atv_status srv_pool_new(const struct srv_pool_cfg *c, struct srv_pool **out,
                                          struct atv_err *err);
/* Readable when finished jobs wait (srv_pool_take_done); the loop watches it. */
int srv_pool_fd(const struct srv_pool *p);
/* Queues j: 1, the pool owns it until srv_pool_take_done; 0 when the queue
 * is full (the caller keeps j and answers 503 at once). */
int srv_pool_submit(struct srv_pool *p, struct srv_job *j);
/* Finished jobs (a list through next, oldest first; NULL when none), after
 * emptying the wake-up pipe. */
struct srv_job *srv_pool_take_done(struct srv_pool *p);
/* Stops the workers after their current job, joins them and frees every job
 * still queued or finished (their ctx untouched); NULL is a no-op. */
void srv_pool_free(struct srv_pool *p);

/* ---- metrics (metrics.c): C11 atomics, rendered in the Prometheus text format 0.0.4 --- */
enum srv_path { SRV_P_VERIFY = 0, SRV_P_HEALTHZ, SRV_P_READYZ, SRV_P_METRICS, SRV_P_OTHER,
                SRV_P_COUNT };
#define SRV_CODES 11u   /* the status codes we answer, srv_code_index */
#define SRV_REASONS 16u /* enum atv_vfy_reason, OK..STALE_EVIDENCE */
#define SRV_BUCKETS 12u /* latency buckets, milliseconds (metrics.c) */
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
    atomic_long in_flight;
};
void srv_metrics_init(struct srv_metrics *m);
void srv_metrics_request(struct srv_metrics *m, enum srv_path path, int code);
void srv_metrics_verdict(struct srv_metrics *m, const struct atv_vfy_image *v,
                         uint64_t latency_ms);
/* Renders into a new NUL-terminated string (free(3)); NULL when out of memory. */
char *srv_metrics_render(struct srv_metrics *m, int ready);

#endif
