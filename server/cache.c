/* server/cache.c: the verdict cache (atv_vfy_vcache's store).
 *
 * Definite verdicts, keyed by the policy's generation, the normalised
 * repository name and the digest, each kept for the TTL from when it was
 * decided: that TTL is how long a revoked signature can still pass through
 * this server. Bounded by entries and by bytes; the oldest entry goes first
 * (insertion order is expiry order, every entry having the same TTL).
 *
 * A verdict struct is large (every artifact slot is there, used or not), so
 * an entry keeps only the used parts: the fields before the signers, the
 * signers in use, the fields up to the artifacts, the artifacts in use and
 * the fields after them. One mutex guards everything; it is held for a
 * lookup and a copy, never across I/O. */
#include "server/server_internal.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEG_A_END offsetof(struct atv_vfy_image, signers)
#define SEG_B_BEGIN offsetof(struct atv_vfy_image, digest)
#define SEG_B_END offsetof(struct atv_vfy_image, artifacts)
#define SEG_C_BEGIN offsetof(struct atv_vfy_image, rollback_guard_off)
/* the compaction relies on this field order (verify.h) */
_Static_assert(offsetof(struct atv_vfy_image, n_signers) < SEG_A_END, "n_signers before signers");
_Static_assert(SEG_A_END + sizeof(((struct atv_vfy_image *)0)->signers) == SEG_B_BEGIN,
               "digest right after signers");
_Static_assert(offsetof(struct atv_vfy_image, n_artifacts) >= SEG_B_BEGIN &&
                   offsetof(struct atv_vfy_image, n_artifacts) < SEG_B_END,
               "n_artifacts between digest and artifacts");
_Static_assert(SEG_B_END + sizeof(((struct atv_vfy_image *)0)->artifacts) <= SEG_C_BEGIN,
               "the rest after artifacts");

#define BUCKETS 4096u

struct entry {
    struct entry *hnext;          /* bucket chain */
    struct entry *older, *newer;  /* insertion order */
    uint64_t expires_ms;
    uint64_t hash;
    size_t bytes;                 /* what this entry accounts for */
    size_t n_signers, n_artifacts;
    char *key;                    /* "GEN NAME@DIGEST" */
    unsigned char *blob;          /* the verdict's used parts */
};

struct srv_cache {
    pthread_mutex_t mu;
    uint64_t ttl_ms;
    size_t max_entries, max_bytes;
    size_t n, bytes;
    struct entry *oldest, *newest;
    struct entry *b[BUCKETS];
};

/* FNV-1a, 64 bits: keys are ours (a generation, a parsed name, a checked
 * digest), and a chain is at most max_entries long anyway. */
static uint64_t hash_of(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static char *key_new(uint64_t gen, const char *name, const char *digest)
{
    size_t n = strlen(name) + strlen(digest) + 24;
    char *k = malloc(n);
    if (k != NULL) {
        (void)snprintf(k, n, "%llu %s@%s", (unsigned long long)gen, name, digest);
    }
    return k;
}

enum atv_status srv_cache_new(unsigned ttl_s, size_t max_entries, size_t max_bytes,
                              struct srv_cache **out, struct atv_err *err)
{
    struct srv_cache *c;
    *out = NULL;
    if (ttl_s == 0 || max_entries == 0 || max_bytes == 0) {
        return atv_err_set(err, ATV_E_USAGE, "srv_cache_new: ttl, entries and bytes must be > 0");
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "server: out of memory");
    }
    (void)pthread_mutex_init(&c->mu, NULL);
    c->ttl_ms = (uint64_t)ttl_s * 1000u;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    *out = c;
    return ATV_OK;
}

/* Unlinks e from its chain and the age list and frees it; c->mu held. */
static void drop(struct srv_cache *c, struct entry *e)
{
    struct entry **pp = &c->b[e->hash % BUCKETS];
    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->hnext;
    }
    if (*pp == e) {
        *pp = e->hnext;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        c->oldest = e->newer;
    }
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        c->newest = e->older;
    }
    c->n--;
    c->bytes -= e->bytes;
    free(e->key);
    free(e->blob);
    free(e);
}

static struct entry *find(struct srv_cache *c, const char *key, uint64_t h)
{
    struct entry *e;
    for (e = c->b[h % BUCKETS]; e != NULL; e = e->hnext) {
        if (e->hash == h && strcmp(e->key, key) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Expired entries are the oldest ones: drop from the old end until one is live. */
static void expire(struct srv_cache *c, uint64_t now_ms)
{
    while (c->oldest != NULL && c->oldest->expires_ms <= now_ms) {
        drop(c, c->oldest);
    }
}

int srv_cache_get(struct srv_cache *c, uint64_t gen, const char *name, const char *digest,
                  uint64_t now_ms, struct atv_vfy_image *out)
{
    char *key = key_new(gen, name, digest);
    struct entry *e;
    int hit = 0;
    if (key == NULL) {
        return 0;
    }
    (void)pthread_mutex_lock(&c->mu);
    expire(c, now_ms);
    e = find(c, key, hash_of(key));
    if (e != NULL) {
        const unsigned char *p = e->blob;
        unsigned char *o = (unsigned char *)out;
        size_t ns = e->n_signers * sizeof out->signers[0];
        size_t na = e->n_artifacts * sizeof out->artifacts[0];
        memcpy(o, p, SEG_A_END);
        p += SEG_A_END;
        memcpy(o + SEG_A_END, p, ns);
        p += ns;
        memcpy(o + SEG_B_BEGIN, p, SEG_B_END - SEG_B_BEGIN);
        p += SEG_B_END - SEG_B_BEGIN;
        memcpy(o + SEG_B_END, p, na);
        p += na;
        memcpy(o + SEG_C_BEGIN, p, sizeof *out - SEG_C_BEGIN);
        hit = 1;
    }
    (void)pthread_mutex_unlock(&c->mu);
    free(key);
    return hit;
}

void srv_cache_put(struct srv_cache *c, uint64_t gen, const char *name, const char *digest,
                   uint64_t now_ms, const struct atv_vfy_image *v)
{
    size_t ns = (v->n_signers <= ATV_VFY_MAX_SIGS ? v->n_signers : ATV_VFY_MAX_SIGS);
    size_t na = (v->n_artifacts <= ATV_VFY_MAX_SIGS ? v->n_artifacts : ATV_VFY_MAX_SIGS);
    size_t blen = SEG_A_END + ns * sizeof v->signers[0] + (SEG_B_END - SEG_B_BEGIN) +
                  na * sizeof v->artifacts[0] + (sizeof *v - SEG_C_BEGIN);
    struct entry *e = calloc(1, sizeof *e);
    unsigned char *p;
    const unsigned char *in = (const unsigned char *)v;

    if (e == NULL) {
        return;
    }
    e->key = key_new(gen, name, digest);
    e->blob = malloc(blen);
    if (e->key == NULL || e->blob == NULL) {
        free(e->key);
        free(e->blob);
        free(e);
        return;
    }
    p = e->blob;
    memcpy(p, in, SEG_A_END);
    p += SEG_A_END;
    memcpy(p, in + SEG_A_END, ns * sizeof v->signers[0]);
    p += ns * sizeof v->signers[0];
    memcpy(p, in + SEG_B_BEGIN, SEG_B_END - SEG_B_BEGIN);
    p += SEG_B_END - SEG_B_BEGIN;
    memcpy(p, in + SEG_B_END, na * sizeof v->artifacts[0]);
    p += na * sizeof v->artifacts[0];
    memcpy(p, in + SEG_C_BEGIN, sizeof *v - SEG_C_BEGIN);
    e->n_signers = ns;
    e->n_artifacts = na;
    e->bytes = blen + strlen(e->key) + sizeof *e;
    e->hash = hash_of(e->key);
    e->expires_ms = now_ms + c->ttl_ms;

    (void)pthread_mutex_lock(&c->mu);
    expire(c, now_ms);
    {
        struct entry *old = find(c, e->key, e->hash);
        if (old != NULL) {
            drop(c, old); /* the newer verdict wins, with a fresh TTL */
        }
    }
    while (c->oldest != NULL && (c->n + 1 > c->max_entries || c->bytes + e->bytes > c->max_bytes)) {
        drop(c, c->oldest);
    }
    if (e->bytes > c->max_bytes) {
        (void)pthread_mutex_unlock(&c->mu);
        free(e->key);
        free(e->blob);
        free(e);
        return;
    }
    e->hnext = c->b[e->hash % BUCKETS];
    c->b[e->hash % BUCKETS] = e;
    e->older = c->newest;
    if (c->newest != NULL) {
        c->newest->newer = e;
    } else {
        c->oldest = e;
    }
    c->newest = e;
    c->n++;
    c->bytes += e->bytes;
    (void)pthread_mutex_unlock(&c->mu);
}

void srv_cache_clear(struct srv_cache *c)
{
    if (c == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&c->mu);
    while (c->oldest != NULL) {
        drop(c, c->oldest);
    }
    (void)pthread_mutex_unlock(&c->mu);
}

void srv_cache_stats(struct srv_cache *c, size_t *entries, size_t *bytes)
{
    (void)pthread_mutex_lock(&c->mu);
    *entries = c->n;
    *bytes = c->bytes;
    (void)pthread_mutex_unlock(&c->mu);
}

void srv_cache_free(struct srv_cache *c)
{
    if (c == NULL) {
        return;
    }
    srv_cache_clear(c);
    (void)pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- the verify/ side: struct atv_vfy_vcache over a job's generation ---------------- */

static int vc_get(void *ctx, const char *name, const char *digest, struct atv_vfy_image *out)
{
    struct srv_vctx *v = ctx;
    int hit = srv_cache_get(v->cache, v->gen, name, digest, atv_vfy_clock_ms(), out);
    atomic_fetch_add(hit ? &v->m->cache_hits : &v->m->cache_misses, 1);
    return hit;
}

static void vc_put(void *ctx, const char *name, const char *digest, const struct atv_vfy_image *v)
{
    struct srv_vctx *x = ctx;
    srv_cache_put(x->cache, x->gen, name, digest, atv_vfy_clock_ms(), v);
}

void srv_job_use_cache(struct srv_job *j, struct srv_cache *c, uint64_t gen,
                       struct srv_metrics *m)
{
    memset(&j->vc, 0, sizeof j->vc);
    if (c == NULL) {
        return;
    }
    j->vctx.cache = c;
    j->vctx.gen = gen;
    j->vctx.m = m;
    j->vc.ctx = &j->vctx;
    j->vc.get = vc_get;
    j->vc.put = vc_put;
}
