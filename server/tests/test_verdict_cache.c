/* server/: the verdict cache (cache.c).
 *
 * A verdict goes in compacted (only the signers and artifacts in use) and
 * must come out the same verdict: compared field by field through its JSON
 * document, the bytes a client sees. Then the bounds: the TTL (an entry is
 * gone at exactly its expiry), the policy generation and digest in the key,
 * eviction of the oldest by entries and by bytes, a replaced entry, clear. */
#include "server/server_internal.h"

#include "common/test.h"

#include <stdlib.h>
#include <string.h>

#define NAME "127.0.0.1:5000/atv/app"
#define D1 "sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28"
#define D2 "sha256:1a1e2e2b65596e1a78ee9d7de6d64a485a4125788f2e0e8bcaf625b38e49a2c5"

/* A verdict with n_sig signers and n_art artifacts, every field set. */
static struct atv_vfy_image *verdict(size_t n_sig, size_t n_art, const char *tag)
{
    struct atv_vfy_image *v = calloc(1, sizeof *v);
    size_t i;
    if (v == NULL) {
        return NULL;
    }
    v->allowed = 1;
    v->met = 1;
    v->have = (unsigned)n_sig;
    v->min_signatures = 1;
    v->reason = ATV_VFY_OK;
    (void)snprintf(v->message, sizeof v->message, "met by %s", tag);
    (void)snprintf(v->policy, sizeof v->policy, "policy-%s", tag);
    (void)snprintf(v->digest, sizeof v->digest, "%s", D1);
    (void)snprintf(v->name, sizeof v->name, "%s", NAME);
    (void)snprintf(v->reference, sizeof v->reference, "%s@%s", NAME, D1);
    v->n_signers = n_sig;
    for (i = 0; i < n_sig; i++) {
        (void)snprintf(v->signers[i].did, sizeof v->signers[i].did, "did:plc:signer%zu", i);
        (void)snprintf(v->signers[i].handle, sizeof v->signers[i].handle, "s%zu.test", i);
    }
    v->n_sigs = n_art;
    v->n_artifacts = n_art;
    for (i = 0; i < n_art; i++) {
        struct atv_vfy_artifact *a = &v->artifacts[i];
        (void)snprintf(a->sig_digest, sizeof a->sig_digest, "sha256:%064zu", i);
        a->r.success = i % 2 == 0;
        a->r.reason = i % 2 == 0 ? ATV_VFY_OK : ATV_VFY_SIGNATURE_INVALID;
        (void)snprintf(a->r.message, sizeof a->r.message, "artifact %zu of %s", i, tag);
    }
    v->rollback_guard_off = 1;
    return v;
}

static char *json_of(const struct atv_vfy_image *v)
{
    return atv_vfy_image_json(v, NAME ":good", 1767225600, 0);
}

static void test_round_trip(void)
{
    size_t shapes[][2] = {{0, 0}, {1, 1}, {2, 3}, {ATV_VFY_MAX_SIGS, ATV_VFY_MAX_SIGS}};
    size_t k;
    for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        struct srv_cache *c = NULL;
        struct atv_err err;
        struct atv_vfy_image *v = verdict(shapes[k][0], shapes[k][1], "rt");
        struct atv_vfy_image *got = calloc(1, sizeof *got);
        char *a, *b;
        atv_err_clear(&err);
        CHECK_STATUS(srv_cache_new(60, 16, SRV_CACHE_MAX_BYTES, &c, &err), ATV_OK, &err);
        srv_cache_put(c, 1, NAME, D1, 1000, v);
        CHECK(srv_cache_get(c, 1, NAME, D1, 1000, got) == 1);
        a = json_of(v);
        b = json_of(got);
        CHECK(a != NULL && b != NULL);
        if (a != NULL && b != NULL) {
            CHECK_STR(a, b);
        }
        CHECK_EQ(got->n_signers, shapes[k][0]);
        CHECK_EQ(got->n_artifacts, shapes[k][1]);
        CHECK_EQ(got->rollback_guard_off, 1);
        free(a);
        free(b);
        free(v);
        free(got);
        srv_cache_free(c);
    }
}

static void test_keys_and_ttl(void)
{
    struct srv_cache *c = NULL;
    struct atv_err err;
    struct atv_vfy_image *v = verdict(1, 1, "ttl");
    struct atv_vfy_image *got = calloc(1, sizeof *got);
    size_t n, bytes;

    atv_err_clear(&err);
    CHECK_STATUS(srv_cache_new(0, 16, 1024, &c, &err), ATV_E_USAGE, &err);
    CHECK(c == NULL);
    CHECK_STATUS(srv_cache_new(2, 16, SRV_CACHE_MAX_BYTES, &c, &err), ATV_OK, &err);
    srv_cache_put(c, 7, NAME, D1, 10000, v);
    /* another generation (a reloaded policy), digest or name: a miss */
    CHECK(srv_cache_get(c, 8, NAME, D1, 10000, got) == 0);
    CHECK(srv_cache_get(c, 7, NAME, D2, 10000, got) == 0);
    CHECK(srv_cache_get(c, 7, NAME "x", D1, 10000, got) == 0);
    CHECK(srv_cache_get(c, 7, NAME, D1, 11999, got) == 1);
    /* the TTL is 2 s: at exactly 12000 ms the entry is gone, and its memory too */
    CHECK(srv_cache_get(c, 7, NAME, D1, 12000, got) == 0);
    srv_cache_stats(c, &n, &bytes);
    CHECK_EQ(n, 0);
    CHECK_EQ(bytes, 0);
    /* a newer verdict for the same key replaces the old, with a fresh TTL */
    srv_cache_put(c, 7, NAME, D1, 20000, v);
    (void)snprintf(v->message, sizeof v->message, "the second");
    srv_cache_put(c, 7, NAME, D1, 21000, v);
    srv_cache_stats(c, &n, &bytes);
    CHECK_EQ(n, 1);
    CHECK(srv_cache_get(c, 7, NAME, D1, 22500, got) == 1);
    CHECK_STR(got->message, "the second");
    srv_cache_clear(c);
    CHECK(srv_cache_get(c, 7, NAME, D1, 21000, got) == 0);
    srv_cache_stats(c, &n, &bytes);
    CHECK_EQ(n, 0);
    free(v);
    free(got);
    srv_cache_free(c);
}

static void test_bounds(void)
{
    struct srv_cache *c = NULL;
    struct atv_err err;
    struct atv_vfy_image *v = verdict(1, 2, "bound");
    struct atv_vfy_image *got = calloc(1, sizeof *got);
    char name[64];
    size_t i, n, bytes, one;

    atv_err_clear(&err);
    /* by entries: 4 at most, the oldest goes */
    CHECK_STATUS(srv_cache_new(60, 4, SRV_CACHE_MAX_BYTES, &c, &err), ATV_OK, &err);
    for (i = 0; i < 6; i++) {
        (void)snprintf(name, sizeof name, "reg/app%zu", i);
        srv_cache_put(c, 1, name, D1, 1000 + i, v);
    }
    srv_cache_stats(c, &n, &bytes);
    CHECK_EQ(n, 4);
    CHECK(srv_cache_get(c, 1, "reg/app0", D1, 2000, got) == 0);
    CHECK(srv_cache_get(c, 1, "reg/app1", D1, 2000, got) == 0);
    CHECK(srv_cache_get(c, 1, "reg/app2", D1, 2000, got) == 1);
    CHECK(srv_cache_get(c, 1, "reg/app5", D1, 2000, got) == 1);
    one = bytes / 4;
    srv_cache_free(c);

    /* by bytes: room for two and a half entries keeps two */
    c = NULL;
    CHECK_STATUS(srv_cache_new(60, 100, one * 5 / 2, &c, &err), ATV_OK, &err);
    for (i = 0; i < 5; i++) {
        (void)snprintf(name, sizeof name, "reg/app%zu", i);
        srv_cache_put(c, 1, name, D1, 1000, v);
    }
    srv_cache_stats(c, &n, &bytes);
    CHECK_EQ(n, 2);
    CHECK(bytes <= one * 5 / 2);
    CHECK(srv_cache_get(c, 1, "reg/app4", D1, 1000, got) == 1);
    CHECK(srv_cache_get(c, 1, "reg/app2", D1, 1000, got) == 0);
    srv_cache_free(c);

    /* an entry larger than the whole bound is not kept (and nothing else is lost) */
    c = NULL;
    CHECK_STATUS(srv_cache_new(60, 100, one / 2, &c, &err), ATV_OK, &err);
    srv_cache_put(c, 1, "reg/big", D1, 1000, v);
    srv_cache_stats(c, &n, &bytes);
    CHECK_EQ(n, 0);
    CHECK_EQ(bytes, 0);
    srv_cache_free(c);
    srv_cache_free(NULL);
    free(v);
    free(got);
}

int main(void)
{
    test_round_trip();
    test_keys_and_ttl();
    test_bounds();
    return atv_test_done();
}
