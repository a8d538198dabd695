/* fuzz/fuzz_policy.c: trust-policy files (YAML or JSON) and scope globs.
 *
 * Target functions: atv_policy_parse, atv_policy_scope_for,
 * atv_policy_check_did, atv_policy_check_key, atv_policy_evaluate,
 * atv_policy_free, atv_policy_glob_match.
 *
 * The input is parsed as a policy and, when it parses, asked about a few
 * fixed normalised names and DIDs at fixed times; check_did's verdict and
 * evaluate's outcome agree with scope_for; check_key answers pinned or
 * key_not_pinned for a few fixed keys. The same bytes are then split at
 * their first NUL (or in the middle when there is none) into a glob and a
 * string (each cut to FZ_GLOB_MAX bytes): a glob without '*'
 * or '?' matches exactly itself, and every glob matches under "**". No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"
#include "policy/policy.h"

/* Glob and string are cut to this: matching costs O(len(glob) * len(s)) by
 * contract, and a whole policy file split in two would slow the parser's
 * fuzzing to a crawl without reaching more of the matcher. */
#define FZ_GLOB_MAX 128u

static const char *const fz_refs[] = {
    "atcr.io/acme/app",      "atcr.io/acme/prod-api", "atcr.io/acme/app/sub",
    "localhost:5000/app",    "docker.io/library/alpine", "",
};
static const char *const fz_dids[] = {
    "did:plc:4u6icpunzhsdypzn4z7rivtb",
    "did:plc:z3ldev3mt2q55amla32s6chp",
    "did:web:example.com",
    "did:plc:abc",
};
/* 2001-09-09, 2025-06-01, 2038-01-19 + 1, and the extremes */
static const int64_t fz_times[] = {1000000000, 1748736000, 2147483648, 0, INT64_MAX, INT64_MIN};

static void fz_ask(const struct atv_policy *p)
{
    size_t r, d, t;
    for (r = 0; r < sizeof fz_refs / sizeof fz_refs[0]; r++) {
        struct atv_policy_scope sc, sc2;
        atv_policy_scope_for(p, fz_refs[r], &sc);
        FZ_CHECK(memchr(sc.name, 0, sizeof sc.name) != NULL);
        FZ_CHECK(!sc.matched || (sc.require_signature ? sc.min_signatures >= 1
                                                      : sc.min_signatures == 0));
        FZ_CHECK(!sc.matched || (sc.n_items >= 1 && sc.n_items <= ATV_POLICY_MAX_REQUIRE));
        FZ_CHECK(sc.matched || sc.name[0] == '\0');
        for (t = 0; t < sizeof fz_times / sizeof fz_times[0]; t++) {
            struct atv_policy_outcome o;
            atv_policy_evaluate(p, fz_refs[r], fz_dids, sizeof fz_dids / sizeof fz_dids[0],
                                fz_times[t], &o);
            FZ_CHECK(o.matched == sc.matched && (o.matched || !o.met));
            FZ_CHECK(memchr(o.message, 0, sizeof o.message) != NULL);
            FZ_CHECK(o.met == (o.message[0] == '\0'));
            FZ_CHECK(o.met || !o.matched || (o.have < o.want && o.item < sc.n_items));
            FZ_CHECK(!o.met || sc.require_signature || o.want == 0);
        }
        for (d = 0; d < sizeof fz_dids / sizeof fz_dids[0]; d++) {
            for (t = 0; t < sizeof fz_times / sizeof fz_times[0]; t++) {
                struct atv_err err;
                enum atv_status rc;
                atv_err_clear(&err);
                rc = atv_policy_check_did(p, fz_refs[r], fz_dids[d], fz_times[t], &sc2, &err);
                FZ_CHECK(rc == ATV_OK || (rc == ATV_E_VERIFY && err.reason != NULL));
                FZ_CHECK(sc2.matched == sc.matched && strcmp(sc2.name, sc.name) == 0);
                FZ_CHECK(sc.matched || rc != ATV_OK);
            }
        }
    }
}

/* Keys of testdata/proofs (pinned by the valid samples), and one of no type. */
static const char *const fz_keys[] = {
    "did:key:zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7",
    "did:key:zDnaek1qXF1Mi1z9rqSV4Fsw9sZoWSuoMKPfVac41KM5bVUWX",
    NULL,
};

static void fz_pins(const struct atv_policy *p)
{
    size_t d, k;
    for (k = 0; k < sizeof fz_keys / sizeof fz_keys[0]; k++) {
        struct atv_pubkey key;
        struct atv_err err;
        memset(&key, 0, sizeof key);
        atv_err_clear(&err);
        FZ_CHECK(fz_keys[k] == NULL || atv_atp_key_parse_didkey(fz_keys[k], &key, &err) == ATV_OK);
        for (d = 0; d < sizeof fz_dids / sizeof fz_dids[0]; d++) {
            enum atv_status rc;
            atv_err_clear(&err);
            rc = atv_policy_check_key(p, fz_dids[d], &key, &err);
            FZ_CHECK(rc == ATV_OK || (rc == ATV_E_VERIFY && err.reason != NULL &&
                                      strcmp(err.reason, "key_not_pinned") == 0 &&
                                      memchr(err.msg, 0, sizeof err.msg) != NULL));
        }
    }
}

static void fz_glob(const uint8_t *data, size_t size)
{
    const uint8_t *nul = size > 0 ? memchr(data, 0, size) : NULL;
    size_t gl = nul != NULL ? (size_t)(nul - data) : size / 2;
    size_t sl = nul != NULL ? size - gl - 1 : size - gl;
    char *glob = fz_cstr(data, gl < FZ_GLOB_MAX ? gl : FZ_GLOB_MAX, NULL);
    char *s = fz_cstr(data + size - sl, sl < FZ_GLOB_MAX ? sl : FZ_GLOB_MAX, NULL);
    int m = atv_policy_glob_match(glob, s);

    FZ_CHECK(m == 0 || m == 1);
    if (strpbrk(glob, "*?") == NULL) {
        FZ_CHECK(m == (strcmp(glob, s) == 0));
    }
    FZ_CHECK(atv_policy_glob_match("**", s) == 1);
    FZ_CHECK(atv_policy_glob_match(glob, glob) == 1 || strpbrk(glob, "*?") != NULL);
    free(glob);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_policy *p = NULL;
    struct atv_err err;

    atv_err_clear(&err);
    if (atv_policy_parse((struct atv_bytes){data, size}, &p, &err) == ATV_OK) {
        FZ_CHECK(p != NULL);
        fz_ask(p);
        fz_pins(p);
        atv_policy_free(p);
    } else {
        FZ_CHECK(p == NULL && err.code != ATV_OK);
    }
    fz_glob(data, size);
    return 0;
}
