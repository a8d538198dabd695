/* server/metrics.c: counters for /metrics, in the Prometheus text
 * exposition format 0.0.4 (prometheus/docs "Exposition formats": one
 * "# HELP" and "# TYPE" line per family, then "name{label="value"} number"
 * lines, histograms as cumulative _bucket{le=...}, _sum and _count).
 * Label values come from fixed tables only, never from a request. */
#include "server/server_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const path_names[SRV_P_COUNT] = {
    "/verify", "/gatekeeper/verify", "/gatekeeper/mutate", "/k8s/validate", "/k8s/mutate",
    "/healthz", "/readyz", "/metrics", "other"};
static const int codes[SRV_CODES] = {200, 400, 403, 404, 405, 408, 413, 415, 500, 501, 503, 0};
static const char *const upstream_names[SRV_UP_COUNT] = {"registry", "identity", "pds",
                                                         "timeout", "other"};
static const char *const reload_names[SRV_RL_COUNT] = {"tls", "policy"};
static const unsigned long bucket_ms[SRV_BUCKETS] = {1,   5,    10,   25,   50,   100,
                                                     250, 500, 1000, 2500, 5000, 10000};

void srv_metrics_init(struct srv_metrics *m)
{
    size_t i, k;
    for (i = 0; i < SRV_P_COUNT; i++) {
        for (k = 0; k < SRV_CODES; k++) {
            atomic_init(&m->requests[i][k], 0);
        }
    }
    for (i = 0; i < SRV_REASONS; i++) {
        atomic_init(&m->verdicts[i], 0);
    }
    for (i = 0; i < SRV_BUCKETS; i++) {
        atomic_init(&m->latency_bucket[i], 0);
    }
    atomic_init(&m->verdicts_allowed, 0);
    atomic_init(&m->verdicts_refused, 0);
    atomic_init(&m->latency_count, 0);
    atomic_init(&m->latency_sum_ms, 0);
    atomic_init(&m->queue_full, 0);
    atomic_init(&m->deadline_in_queue, 0);
    atomic_init(&m->rollback_guard_off, 0);
    atomic_init(&m->cache_hits, 0);
    atomic_init(&m->cache_misses, 0);
    atomic_init(&m->shared, 0);
    for (i = 0; i < SRV_UP_COUNT; i++) {
        atomic_init(&m->upstream[i], 0);
    }
    atomic_init(&m->slow_cut, 0);
    atomic_init(&m->conns_refused_tls, 0);
    atomic_init(&m->over_budget, 0);
    atomic_init(&m->client_cert_refused, 0);
    for (i = 0; i < SRV_RL_COUNT; i++) {
        atomic_init(&m->reload_ok[i], 0);
        atomic_init(&m->reload_failed[i], 0);
    }
    atomic_init(&m->in_flight, 0);
}

/* The index of code in codes[]; the last slot (0) counts any other code. */
static size_t code_index(int code)
{
    size_t k;
    for (k = 0; k + 1 < SRV_CODES; k++) {
        if (codes[k] == code) {
            return k;
        }
    }
    return SRV_CODES - 1;
}

void srv_metrics_request(struct srv_metrics *m, enum srv_path path, int code)
{
    size_t p = (size_t)path < SRV_P_COUNT ? (size_t)path : (size_t)SRV_P_OTHER;
    atomic_fetch_add(&m->requests[p][code_index(code)], 1);
}

void srv_metrics_verdict(struct srv_metrics *m, const struct atv_vfy_image *v,
                         uint64_t latency_ms)
{
    size_t r = (size_t)v->reason < SRV_REASONS ? (size_t)v->reason : (size_t)ATV_VFY_BAD_REQUEST;
    size_t b;
    atomic_fetch_add(&m->verdicts[r], 1);
    atomic_fetch_add(v->allowed ? &m->verdicts_allowed : &m->verdicts_refused, 1);
    if (v->rollback_guard_off) {
        atomic_fetch_add(&m->rollback_guard_off, 1);
    }
    if (v->transient) {
        enum srv_upstream k;
        switch (v->reason) {
        case ATV_VFY_REGISTRY_ERROR:
            k = SRV_UP_REGISTRY;
            break;
        case ATV_VFY_IDENTITY_ERROR:
            k = SRV_UP_IDENTITY;
            break;
        case ATV_VFY_PDS_ERROR:
            k = SRV_UP_PDS;
            break;
        case ATV_VFY_TIMEOUT:
            k = SRV_UP_TIMEOUT;
            break;
        default:
            k = SRV_UP_OTHER;
            break;
        }
        atomic_fetch_add(&m->upstream[k], 1);
    }
    for (b = 0; b < SRV_BUCKETS; b++) {
        if (latency_ms <= bucket_ms[b]) {
            atomic_fetch_add(&m->latency_bucket[b], 1);
            break;
        }
    }
    atomic_fetch_add(&m->latency_count, 1);
    atomic_fetch_add(&m->latency_sum_ms, (unsigned long)latency_ms);
}

/* A growing text buffer; on any failure it is freed and stays NULL. */
struct text {
    char *p;
    size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) ATV_PRINTF(2, 3);
static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->p == NULL) {
        return;
    }
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            free(t->p);
            t->p = NULL;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        {
            size_t cap = t->cap * 2 + (size_t)n;
            char *np = realloc(t->p, cap);
            if (np == NULL) {
                free(t->p);
                t->p = NULL;
                return;
            }
            t->p = np;
            t->cap = cap;
        }
    }
}

char *srv_metrics_render(struct srv_metrics *m, const struct srv_gauges *g)
{
    struct text t = {malloc(8192), 0, 8192};
    unsigned long cum = 0;
    size_t i, k;

    add(&t, "# HELP atcr_verify_requests_total HTTP requests answered, by path and status.\n"
            "# TYPE atcr_verify_requests_total counter\n");
    for (i = 0; i < SRV_P_COUNT; i++) {
        for (k = 0; k < SRV_CODES; k++) {
            unsigned long v = atomic_load(&m->requests[i][k]);
            if (v == 0) {
                continue;
            }
            if (codes[k] != 0) {
                add(&t, "atcr_verify_requests_total{path=\"%s\",code=\"%d\"} %lu\n",
                    path_names[i], codes[k], v);
            } else {
                add(&t, "atcr_verify_requests_total{path=\"%s\",code=\"other\"} %lu\n",
                    path_names[i], v);
            }
        }
    }
    add(&t, "# HELP atcr_verify_verdicts_total Image verdicts, by reason (OK when met).\n"
            "# TYPE atcr_verify_verdicts_total counter\n");
    for (i = 0; i < SRV_REASONS; i++) {
        add(&t, "atcr_verify_verdicts_total{reason=\"%s\"} %lu\n",
            atv_vfy_reason_name((enum atv_vfy_reason)i), atomic_load(&m->verdicts[i]));
    }
    add(&t, "# HELP atcr_verify_decisions_total Image verdicts, by outcome.\n"
            "# TYPE atcr_verify_decisions_total counter\n"
            "atcr_verify_decisions_total{allowed=\"true\"} %lu\n"
            "atcr_verify_decisions_total{allowed=\"false\"} %lu\n",
        atomic_load(&m->verdicts_allowed), atomic_load(&m->verdicts_refused));
    add(&t, "# HELP atcr_verify_verification_seconds Time from arrival to verdict.\n"
            "# TYPE atcr_verify_verification_seconds histogram\n");
    for (i = 0; i < SRV_BUCKETS; i++) {
        cum += atomic_load(&m->latency_bucket[i]);
        add(&t, "atcr_verify_verification_seconds_bucket{le=\"%lu.%03lu\"} %lu\n",
            bucket_ms[i] / 1000, bucket_ms[i] % 1000, cum);
    }
    {
        unsigned long count = atomic_load(&m->latency_count);
        unsigned long sum = atomic_load(&m->latency_sum_ms);
        add(&t,
            "atcr_verify_verification_seconds_bucket{le=\"+Inf\"} %lu\n"
            "atcr_verify_verification_seconds_sum %lu.%03lu\n"
            "atcr_verify_verification_seconds_count %lu\n",
            count, sum / 1000, sum % 1000, count);
    }
    add(&t,
        "# HELP atcr_verify_queue_full_total Requests refused at once (503): the queue was full.\n"
        "# TYPE atcr_verify_queue_full_total counter\n"
        "atcr_verify_queue_full_total %lu\n"
        "# HELP atcr_verify_queue_expired_total Requests whose deadline passed in the queue (503).\n"
        "# TYPE atcr_verify_queue_expired_total counter\n"
        "atcr_verify_queue_expired_total %lu\n"
        "# HELP atcr_verify_rollback_guard_off_total Verdicts reached without the rollback guard.\n"
        "# TYPE atcr_verify_rollback_guard_off_total counter\n"
        "atcr_verify_rollback_guard_off_total %lu\n"
        "# HELP atcr_verify_in_flight Verifications accepted and not yet answered.\n"
        "# TYPE atcr_verify_in_flight gauge\n"
        "atcr_verify_in_flight %ld\n"
        "# HELP atcr_verify_ready 1 while ready to serve, 0 while shutting down.\n"
        "# TYPE atcr_verify_ready gauge\n"
        "atcr_verify_ready %d\n",
        atomic_load(&m->queue_full), atomic_load(&m->deadline_in_queue),
        atomic_load(&m->rollback_guard_off), atomic_load(&m->in_flight), g->ready ? 1 : 0);
    add(&t,
        "# HELP atcr_verify_cache_hits_total Verdicts answered from the verdict cache.\n"
        "# TYPE atcr_verify_cache_hits_total counter\n"
        "atcr_verify_cache_hits_total %lu\n"
        "# HELP atcr_verify_cache_misses_total Verdict cache lookups that found nothing.\n"
        "# TYPE atcr_verify_cache_misses_total counter\n"
        "atcr_verify_cache_misses_total %lu\n"
        "# HELP atcr_verify_cache_entries Verdicts in the verdict cache.\n"
        "# TYPE atcr_verify_cache_entries gauge\n"
        "atcr_verify_cache_entries %zu\n"
        "# HELP atcr_verify_cache_bytes Memory held by the verdict cache.\n"
        "# TYPE atcr_verify_cache_bytes gauge\n"
        "atcr_verify_cache_bytes %zu\n"
        "# HELP atcr_verify_verdict_ttl_seconds How long a verdict is reused (0: never).\n"
        "# TYPE atcr_verify_verdict_ttl_seconds gauge\n"
        "atcr_verify_verdict_ttl_seconds %u\n"
        "# HELP atcr_verify_shared_total Requests answered by a verification another request "
        "started.\n"
        "# TYPE atcr_verify_shared_total counter\n"
        "atcr_verify_shared_total %lu\n",
        atomic_load(&m->cache_hits), atomic_load(&m->cache_misses), g->cache_entries,
        g->cache_bytes, g->verdict_ttl_s, atomic_load(&m->shared));
    add(&t, "# HELP atcr_verify_upstream_errors_total Transient verdicts, by the upstream that "
            "failed.\n"
            "# TYPE atcr_verify_upstream_errors_total counter\n");
    for (i = 0; i < SRV_UP_COUNT; i++) {
        add(&t, "atcr_verify_upstream_errors_total{kind=\"%s\"} %lu\n", upstream_names[i],
            atomic_load(&m->upstream[i]));
    }
    add(&t, "# HELP atcr_verify_reloads_total Reloads of changed files, by what and result.\n"
            "# TYPE atcr_verify_reloads_total counter\n");
    for (i = 0; i < SRV_RL_COUNT; i++) {
        add(&t,
            "atcr_verify_reloads_total{what=\"%s\",result=\"ok\"} %lu\n"
            "atcr_verify_reloads_total{what=\"%s\",result=\"error\"} %lu\n",
            reload_names[i], atomic_load(&m->reload_ok[i]), reload_names[i],
            atomic_load(&m->reload_failed[i]));
    }
    add(&t,
        "# HELP atcr_verify_connections Open TLS connections.\n"
        "# TYPE atcr_verify_connections gauge\n"
        "atcr_verify_connections %ld\n"
        "# HELP atcr_verify_connections_max Open TLS connections at most (new ones wait).\n"
        "# TYPE atcr_verify_connections_max gauge\n"
        "atcr_verify_connections_max %u\n"
        "# HELP atcr_verify_slow_requests_total Connections closed because a request took over "
        "10 s to arrive.\n"
        "# TYPE atcr_verify_slow_requests_total counter\n"
        "atcr_verify_slow_requests_total %lu\n"
        "# HELP atcr_verify_tls_setup_failed_total Connections closed because TLS could not be "
        "set up.\n"
        "# TYPE atcr_verify_tls_setup_failed_total counter\n"
        "atcr_verify_tls_setup_failed_total %lu\n"
        "# HELP atcr_verify_over_budget_total Connections cut because requests in progress held "
        "too much memory.\n"
        "# TYPE atcr_verify_over_budget_total counter\n"
        "atcr_verify_over_budget_total %lu\n"
        "# HELP atcr_verify_client_cert_refused_total Gatekeeper requests refused for want of a "
        "verified client certificate.\n"
        "# TYPE atcr_verify_client_cert_refused_total counter\n"
        "atcr_verify_client_cert_refused_total %lu\n",
        g->connections, g->max_connections, atomic_load(&m->slow_cut),
        atomic_load(&m->conns_refused_tls), atomic_load(&m->over_budget),
        atomic_load(&m->client_cert_refused));
    return t.p;
}
