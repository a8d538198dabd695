/* The trust policy: the committed samples (YAML and JSON must decide alike),
 * the seed's example, scope globs over normalised names, first match,
 * windows, require lists and the whole-image decision, the implicit
 * trustedDIDs policy, and one rejection per rule of the format
 * (testdata/policy/invalid plus inline documents). Run from the repository root. */
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "common/test.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIR_POLICY "testdata/policy"
#define BOT "did:plc:releasebotaaaaaaaaaaaaaa"
#define ALICE "did:plc:alicealicealicealicealic"
#define CI "did:web:ci.example.com"
#define OUTSIDER "did:plc:outsideroutsideroutside"
#define STRANGER "did:plc:strangerstrangerstrange"

/* Instants of the sample windows (checked against Python's datetime). */
#define T_BOT_FROM 1735689600   /* 2025-01-01T00:00:00Z */
#define T_BOT_UNTIL 1798761600  /* 2027-01-01T00:00:00Z */
#define T_ALICE_FROM 1748772000 /* 2025-06-01T12:00:00.5+02:00 = ...10:00:00.5Z, floor */
#define T_ALICE_UNTIL 1780291800 /* 2026-06-01T00:00:00.25-05:30 = ...05:30:00.25Z, floor */
#define T_MID 1750000000        /* inside every sample window */

static enum atv_status parse_str(const char *s, struct atv_policy **p, struct atv_err *err)
{
    atv_err_clear(err);
    return atv_policy_parse(atv_bytes_str(s), p, err);
}

/* Parses s, expects status want, and (when sub is not NULL) sub in the message. */
static void expect(const char *what, const char *s, enum atv_status want, const char *sub)
{
    struct atv_policy *p = (struct atv_policy *)1;
    struct atv_err err;
    enum atv_status rc = parse_str(s, &p, &err);
    CHECK_MSG(rc == want && (rc == ATV_OK) == (p != NULL), "%s: %s (got %s: %s)", what,
              atv_status_name(want), atv_status_name(rc), err.msg);
    if (sub != NULL) {
        CHECK_MSG(strstr(err.msg, sub) != NULL, "%s: message \"%s\" has \"%s\"", what, err.msg,
                  sub);
    }
    atv_policy_free(p);
}

static struct atv_policy *load(const char *path)
{
    struct atv_policy *p = NULL;
    struct atv_err err;
    atv_err_clear(&err);
    enum atv_status rc = atv_policy_load_file(path, &p, &err);
    CHECK_MSG(rc == ATV_OK && p != NULL, "load %s (%s)", path, err.msg);
    return p;
}

/* Status and reason of one check. */
struct decision {
    enum atv_status rc;
    const char *reason;
    struct atv_policy_scope scope;
    char msg[256];
};

static struct decision decide(const struct atv_policy *p, const char *name, const char *did,
                              int64_t now)
{
    struct decision d;
    struct atv_err err;
    memset(&d, 0, sizeof d);
    memset(&d.scope, 0x5a, sizeof d.scope); /* must be overwritten on every path */
    atv_err_clear(&err);
    d.rc = atv_policy_check_did(p, name, did, now, &d.scope, &err);
    d.reason = err.reason;
    memcpy(d.msg, err.msg, sizeof d.msg);
    return d;
}

static int reason_is(const struct decision *d, const char *want)
{
    if (want == NULL) {
        return d->rc == ATV_OK && d->reason == NULL;
    }
    return d->rc == ATV_E_VERIFY && d->reason != NULL && strcmp(d->reason, want) == 0;
}

/* ---- the samples ---------------------------------------------------------------- */

struct sample_case {
    const char *name, *did;
    int64_t now;
    const char *policy; /* "" for no match */
    const char *reason; /* NULL: trusted */
};

static const struct sample_case sample_cases[] = {
    /* production: the bot only, app and app-canary */
    {"atcr.io/acme/app", BOT, T_MID, "production", NULL},
    {"atcr.io/acme/app-canary", BOT, T_MID, "production", NULL},
    {"atcr.io/acme/app", ALICE, T_MID, "production", "untrusted_did"},
    {"atcr.io/acme/app", STRANGER, T_MID, "production", "untrusted_did"},
    /* production's window is the bot's map entry */
    {"atcr.io/acme/app", BOT, T_BOT_FROM - 1, "production", "did_not_yet_valid"},
    {"atcr.io/acme/app", BOT, T_BOT_FROM, "production", NULL},
    {"atcr.io/acme/app", BOT, T_BOT_UNTIL - 1, "production", NULL},
    {"atcr.io/acme/app", BOT, T_BOT_UNTIL, "production", "did_expired"},
    {"atcr.io/acme/app", BOT, T_BOT_UNTIL + 86400, "production", "did_expired"},
    /* staging: '/' below app is not '*' but is '**'; every DID of the map */
    {"atcr.io/acme/app/sub", BOT, T_MID, "staging", NULL},
    {"atcr.io/acme/other", ALICE, T_MID, "staging", NULL},
    {"atcr.io/acme/other", CI, T_MID, "staging", NULL},
    {"atcr.io/acme/other", OUTSIDER, T_MID, "staging", "untrusted_did"},
    /* Alice: +02:00 / -05:30 offsets and fractional seconds */
    {"atcr.io/acme/x", ALICE, T_ALICE_FROM - 1, "staging", "did_not_yet_valid"},
    {"atcr.io/acme/x", ALICE, T_ALICE_FROM, "staging", "did_not_yet_valid"}, /* < .5 */
    {"atcr.io/acme/x", ALICE, T_ALICE_FROM + 1, "staging", NULL},
    {"atcr.io/acme/x", ALICE, T_ALICE_UNTIL, "staging", NULL}, /* < .25 */
    {"atcr.io/acme/x", ALICE, T_ALICE_UNTIL + 1, "staging", "did_expired"},
    /* CI has no window at all */
    {"atcr.io/acme/x", CI, 0, "staging", NULL},
    {"atcr.io/acme/x", CI, INT64_MAX, "staging", NULL},
    /* sandbox: '?' is one character but not '/'; its only item requires no
     * signature, so no DID is trusted there (nothing is verified) */
    {"localhost:5000/box", CI, T_MID, "sandbox", "untrusted_did"},
    {"localhost:5000/fox", OUTSIDER, T_MID, "sandbox", "untrusted_did"},
    {"localhost:5000/fox", BOT, T_MID, "sandbox", "untrusted_did"},
    {"localhost:5000/ox", CI, T_MID, "", "no_policy"},
    {"localhost:5000/x/ox", CI, T_MID, "", "no_policy"},
    {"localhost:5000/box/sub", CI, T_MID, "", "no_policy"},
    /* no scope matches */
    {"docker.io/library/nginx", BOT, T_MID, "", "no_policy"},
    {"atcr.io/acme", BOT, T_MID, "", "no_policy"},
    {"", BOT, T_MID, "", "no_policy"},
};

static void check_sample(const struct atv_policy *p, const char *label)
{
    for (size_t k = 0; k < sizeof sample_cases / sizeof sample_cases[0]; k++) {
        const struct sample_case *c = &sample_cases[k];
        struct decision d = decide(p, c->name, c->did, c->now);
        CHECK_MSG(reason_is(&d, c->reason) && strcmp(d.scope.name, c->policy) == 0 &&
                      d.scope.matched == (c->policy[0] != '\0'),
                  "%s case %zu: %s %s -> policy \"%s\" %s (got %s, \"%s\": %s)", label, k, c->name,
                  c->did, c->policy, c->reason != NULL ? c->reason : "trusted",
                  atv_status_name(d.rc), d.scope.name, d.msg);
    }
}

static void test_samples(void)
{
    struct atv_policy *y = load(DIR_POLICY "/valid.yaml");
    struct atv_policy *j = load(DIR_POLICY "/valid.json");
    struct atv_policy_scope s;

    if (y == NULL || j == NULL) {
        atv_policy_free(y);
        atv_policy_free(j);
        return;
    }
    check_sample(y, "yaml");
    check_sample(j, "json");

    /* identical decisions, case by case, scope struct included */
    int same = 1;
    for (size_t k = 0; k < sizeof sample_cases / sizeof sample_cases[0]; k++) {
        const struct sample_case *c = &sample_cases[k];
        struct decision a = decide(y, c->name, c->did, c->now);
        struct decision b = decide(j, c->name, c->did, c->now);
        same &= a.rc == b.rc && memcmp(&a.scope, &b.scope, sizeof a.scope) == 0 &&
                strcmp(a.msg, b.msg) == 0 && (a.reason == b.reason);
    }
    CHECK_MSG(same, "yaml and json samples decide alike (status, reason, scope, message)");

    /* what each policy requires */
    atv_policy_scope_for(y, "atcr.io/acme/app", &s);
    CHECK(s.matched == 1 && s.action == ATV_POLICY_ENFORCE && s.require_signature == 1 &&
          s.min_signatures == 1 && s.n_items == 1);
    atv_policy_scope_for(y, "atcr.io/acme/app/x", &s);
    CHECK(s.matched == 1 && strcmp(s.name, "staging") == 0 && s.action == ATV_POLICY_AUDIT &&
          s.require_signature == 1 && s.min_signatures == 2 && s.n_items == 1);
    atv_policy_scope_for(j, "localhost:5000/box", &s);
    CHECK(s.matched == 1 && strcmp(s.name, "sandbox") == 0 && s.action == ATV_POLICY_ENFORCE &&
          s.require_signature == 0 && s.min_signatures == 0 && s.n_items == 1);
    atv_policy_scope_for(j, "quay.io/x", &s);
    CHECK(s.matched == 0 && s.name[0] == '\0' && s.n_items == 0);

    /* messages name the policy, the DID and the date */
    struct decision d = decide(y, "atcr.io/acme/app", BOT, T_BOT_UNTIL);
    CHECK_MSG(strstr(d.msg, "production") != NULL && strstr(d.msg, BOT) != NULL &&
                  strstr(d.msg, "2027-01-01T00:00:00Z") != NULL,
              "expired message: %s", d.msg);
    d = decide(y, "atcr.io/acme/x", ALICE, T_ALICE_FROM);
    CHECK_MSG(strstr(d.msg, "staging") != NULL && strstr(d.msg, ALICE) != NULL &&
                  strstr(d.msg, "2025-06-01T12:00:00.5+02:00") != NULL,
              "not-yet-valid message: %s", d.msg);
    d = decide(y, "atcr.io/acme/app", STRANGER, T_MID);
    CHECK_MSG(strstr(d.msg, "production") != NULL && strstr(d.msg, STRANGER) != NULL,
              "untrusted message: %s", d.msg);
    d = decide(y, "docker.io/x\n/y", BOT, T_MID);
    CHECK_MSG(reason_is(&d, "no_policy") && strchr(d.msg, '\n') == NULL,
              "untrusted bytes are sanitised: %s", d.msg);
    atv_policy_free(y);
    atv_policy_free(j);
}

/* ---- globs --------------------------------------------------------------------- */

static void test_glob(void)
{
    static const struct {
        const char *g, *s;
        int want;
    } cases[] = {
        {"*", "abc", 1},
        {"*", "", 1},
        {"*", "a/b", 0},
        {"**", "a/b/c", 1},
        {"**", "", 1},
        {"***", "a/b", 1}, /* a run of stars is "**" */
        {"a?c", "abc", 1},
        {"a?c", "a/c", 0},
        {"a?c", "ac", 0},
        {"a?c", "abbc", 0},
        {"atcr.io/x:v1", "atcr.io/x:v1", 1},
        {"atcr.io/x:v1", "atcr.io/x:v2", 0},
        {"atcr.io/x", "atcr.io/x:v1", 0}, /* anchored at both ends */
        {"atcr.io/x:v1", "atcr.io/x", 0},
        {"atcr.io/acme/app*", "atcr.io/acme/app:v1", 1},
        {"atcr.io/acme/app*", "atcr.io/acme/app@sha256:00ff", 1},
        {"atcr.io/acme/app*", "atcr.io/acme/app/sub:v1", 0},
        {"atcr.io/acme/app**", "atcr.io/acme/app/sub:v1", 1},
        {"*:v1", "atcr.io/app:v1", 0},
        {"**:v1", "atcr.io/app:v1", 1},
        {"**:v1", "atcr.io/app:v2", 0},
        {"*/*/*", "a/b/c", 1},
        {"*/*/*", "a/b/c/d", 0},
        {"**/c", "a/b/c", 1},
        {"a*b*c", "aXbYc", 1},
        {"a*b*c", "aXbY", 0},
        {"a*/b", "ax/b", 1},
        {"a*/b", "ax/y/b", 0},
        {"a**b", "a/x/b", 1},
        {"*@sha256:*", "app@sha256:ab", 1},
        {"localhost:5000/*", "localhost:5000/app:v1", 1},
        {"", "", 1},
        {"", "a", 0},
        {"?", "", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_MSG(atv_policy_glob_match(cases[k].g, cases[k].s) == cases[k].want,
                  "glob \"%s\" vs \"%s\" -> %d", cases[k].g, cases[k].s, cases[k].want);
    }
    CHECK(atv_policy_glob_match(NULL, "a") == 0 && atv_policy_glob_match("*", NULL) == 0);

    /* Pathological patterns: a backtracking matcher takes exponential time
     * here; ours is O(|glob| * |s|). */
    size_t n = 100000;
    char *s = malloc(n + 1);
    if (s == NULL) {
        CHECK(s != NULL);
        return;
    }
    memset(s, 'a', n);
    s[n] = '\0';
    clock_t t0 = clock();
    CHECK(atv_policy_glob_match("********a", s) == 1);
    CHECK(atv_policy_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s) == 0);
    CHECK(atv_policy_glob_match("**a**a**a**a**a**a**a**a**a**a**b", s) == 0);
    CHECK(atv_policy_glob_match("?*?*?*?*?*?*?*?*?*?*?*?*a", s) == 1);
    s[n / 2] = '/';
    CHECK(atv_policy_glob_match("*a*a*a*a*a*a*a*a*a*a", s) == 0);
    CHECK(atv_policy_glob_match("*a*a*a/*a*a*a*a*a*a*a", s) == 1);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_MSG(secs < 2.0, "pathological globs took %.3f s", secs);
    free(s);
}

/* ---- semantics over inline documents ---------------------------------------------- */

static struct atv_policy *must(const char *doc)
{
    struct atv_policy *p = NULL;
    struct atv_err err;
    enum atv_status rc = parse_str(doc, &p, &err);
    CHECK_MSG(rc == ATV_OK && p != NULL, "parses: %s", err.msg);
    return p;
}

static void test_first_match(void)
{
    struct atv_policy *p = must("policies:\n"
                                "  - name: narrow\n"
                                "    scope: \"atcr.io/acme/app\"\n"
                                "    require: {trustedDIDs: [" BOT "]}\n"
                                "  - name: wide\n"
                                "    scope: \"**\"\n"
                                "    require: {trustedDIDs: [" ALICE "]}\n");
    struct atv_policy *q = must("policies:\n"
                                "  - name: wide\n"
                                "    scope: \"**\"\n"
                                "    require: {trustedDIDs: [" ALICE "]}\n"
                                "  - name: narrow\n"
                                "    scope: \"atcr.io/acme/app\"\n"
                                "    require: {trustedDIDs: [" BOT "]}\n");
    if (p != NULL && q != NULL) {
        struct decision d = decide(p, "atcr.io/acme/app", BOT, 0);
        CHECK(reason_is(&d, NULL) && strcmp(d.scope.name, "narrow") == 0);
        /* the first match decides: the wide policy is not consulted */
        d = decide(p, "atcr.io/acme/app", ALICE, 0);
        CHECK(reason_is(&d, "untrusted_did") && strcmp(d.scope.name, "narrow") == 0);
        d = decide(p, "atcr.io/acme/other", ALICE, 0);
        CHECK(reason_is(&d, NULL) && strcmp(d.scope.name, "wide") == 0);
        /* reversed order: the wide policy shadows the narrow one */
        d = decide(q, "atcr.io/acme/app", BOT, 0);
        CHECK(reason_is(&d, "untrusted_did") && strcmp(d.scope.name, "wide") == 0);
        d = decide(q, "atcr.io/acme/app", ALICE, 0);
        CHECK(reason_is(&d, NULL) && strcmp(d.scope.name, "wide") == 0);
    }
    atv_policy_free(p);
    atv_policy_free(q);
}

static void test_semantics(void)
{
    struct atv_policy_scope s;
    struct decision d;
    /* defaults: enforce, signature required, minSignatures 1, no require block */
    struct atv_policy *p = must("trustedDIDs:\n"
                                "  " BOT ":\n"
                                "policies:\n"
                                "  - name: only\n"
                                "    scope: '**'\n");
    if (p != NULL) {
        atv_policy_scope_for(p, "a/b", &s);
        CHECK(s.matched && s.action == ATV_POLICY_ENFORCE && s.require_signature == 1 &&
              s.min_signatures == 1);
        /* top-level map fallback: the map's DIDs are trusted, others not */
        d = decide(p, "a/b", BOT, 0);
        CHECK(reason_is(&d, NULL));
        d = decide(p, "a/b", ALICE, 0);
        CHECK(reason_is(&d, "untrusted_did"));
    }
    atv_policy_free(p);

    /* audit, a signature: false item beside one that requires 3, a quoted
     * "true" name, plain datetimes, JSON's {} for a DID without window */
    p = must("{\"trustedDIDs\": {\"" BOT "\": {}, \"" ALICE "\": {\"name\": \"A\"},"
             " \"" CI "\": {\"validFrom\": \"2030-01-01T00:00:00+02:00\"}},"
             " \"policies\": [{\"name\": \"true\", \"scope\": \"x/*\", \"action\": \"audit\","
             " \"require\": [{\"signature\": false, \"minSignatures\": 2},"
             " {\"minSignatures\": 3}]}]}");
    if (p != NULL) {
        atv_policy_scope_for(p, "x/y", &s);
        CHECK(s.matched && strcmp(s.name, "true") == 0 && s.action == ATV_POLICY_AUDIT &&
              s.require_signature == 1 && s.min_signatures == 3 && s.n_items == 2);
        d = decide(p, "x/y", CI, 1893448800 - 1); /* 2029-12-31T22:00:00Z - 1 */
        CHECK(reason_is(&d, "did_not_yet_valid"));
        d = decide(p, "x/y", CI, 1893448800);
        CHECK(reason_is(&d, NULL));
    }
    atv_policy_free(p);

    /* signature: false with an explicit minSignatures: no signature needed */
    p = must("{\"trustedDIDs\": {\"" BOT "\": null, \"" ALICE "\": {}},"
             " \"policies\": [{\"name\": \"n\", \"scope\": \"**\","
             " \"require\": {\"signature\": false, \"minSignatures\": 2}}]}");
    if (p != NULL) {
        atv_policy_scope_for(p, "x/y", &s);
        CHECK(s.matched && s.require_signature == 0 && s.min_signatures == 0 && s.n_items == 1);
        d = decide(p, "x/y", BOT, 0);
        CHECK(reason_is(&d, "untrusted_did")); /* no item requires a signature */
    }
    atv_policy_free(p);

    p = must("policies:\n  - name: \"true\"\n    scope: \"**\"\n"
             "    require:\n      signature: false\n      trustedDIDs: []\n");
    if (p != NULL) {
        d = decide(p, "a", BOT, 0);
        CHECK(reason_is(&d, "untrusted_did") && d.scope.require_signature == 0);
    }
    atv_policy_free(p);

    /* a window given with plain (unquoted) YAML datetimes, equal bounds: an
     * empty window, never trusted */
    p = must("trustedDIDs:\n  " BOT ":\n    validFrom: 2025-01-01T00:00:00Z\n"
             "    expiresAt: 2025-01-01T00:00:00Z\n"
             "policies:\n  - {name: a, scope: '**'}\n");
    if (p != NULL) {
        d = decide(p, "a", BOT, T_BOT_FROM - 1);
        CHECK(reason_is(&d, "did_not_yet_valid"));
        d = decide(p, "a", BOT, T_BOT_FROM);
        CHECK(reason_is(&d, "did_expired"));
    }
    atv_policy_free(p);

    /* misuse: NULL policy or arguments; the scope is still filled */
    struct atv_err err;
    atv_err_clear(&err);
    memset(&s, 0x5a, sizeof s);
    CHECK(atv_policy_check_did(NULL, "a", BOT, 0, &s, &err) == ATV_E_USAGE && s.matched == 0 &&
          s.name[0] == '\0');
    atv_policy_scope_for(NULL, "a", &s);
    CHECK(s.matched == 0);
    atv_policy_free(NULL);
}

/* ---- the seed's example ---------------------------------------------------------- */

#define SEED_ALICE "did:plc:aliceaaaaaaaaaaaaaaaaaaa"
#define SEED_BOB "did:plc:bobbbbbbbbbbbbbbbbbbbbbb"
#define SEED_CHARLIE "did:plc:charlieccccccccccccccccc"
#define T_SEED_NOW 1780272000    /* 2026-06-01T00:00:00Z: Bob (to 2025-12-31) expired */
#define T_SEED_BEFORE 1751328000 /* 2025-07-01T00:00:00Z: Bob valid */

static struct atv_policy_outcome outcome(const struct atv_policy *p, const char *name,
                                         const char *const *dids, size_t n, int64_t now)
{
    struct atv_policy_outcome o;
    memset(&o, 0x5a, sizeof o); /* must be overwritten on every path */
    atv_policy_evaluate(p, name, dids, n, now, &o);
    return o;
}

static void test_seed(void)
{
    const char *alice[] = {SEED_ALICE};
    const char *bob[] = {SEED_BOB};
    const char *charlie[] = {SEED_CHARLIE};
    struct atv_policy *p = load(DIR_POLICY "/seed-example.yaml");
    struct atv_policy_outcome o;
    struct atv_policy_scope s;
    struct decision d;

    if (p == NULL) {
        return;
    }
    /* production-images: Alice or Bob, one signature */
    o = outcome(p, "atcr.io/acme/prod-api", alice, 1, T_SEED_NOW);
    CHECK_MSG(o.matched && o.met && o.item == 0 && o.have == 1 && o.want == 1 &&
                  o.message[0] == '\0',
              "seed: prod-api by Alice is met (%s)", o.message);
    o = outcome(p, "atcr.io/acme/prod-api", bob, 1, T_SEED_NOW);
    CHECK_MSG(o.matched && !o.met && o.item == 0 && o.have == 0 && o.want == 1 &&
                  strstr(o.message, "policy production-images: require[0] needs 1 signer among "
                                    "its trusted DIDs, 0 verified") != NULL,
              "seed: prod-api by Bob is not met in 2026 (%s)", o.message);
    d = decide(p, "atcr.io/acme/prod-api", SEED_BOB, T_SEED_NOW);
    CHECK_MSG(reason_is(&d, "did_expired") && strstr(d.msg, "2025-12-31T23:59:59Z") != NULL &&
                  strstr(d.msg, "production-images") != NULL,
              "seed: Bob expired (%s)", d.msg);
    o = outcome(p, "atcr.io/acme/prod-api", bob, 1, T_SEED_BEFORE);
    CHECK_MSG(o.matched && o.met && o.have == 1, "seed: prod-api by Bob is met in 2025");
    d = decide(p, "atcr.io/acme/prod-api", SEED_BOB, T_SEED_BEFORE);
    CHECK(reason_is(&d, NULL));
    o = outcome(p, "atcr.io/acme/prod-api", charlie, 1, T_SEED_NOW);
    CHECK_MSG(o.matched && !o.met && o.have == 0 && o.want == 1,
              "seed: Charlie is not trusted for production");
    d = decide(p, "atcr.io/acme/prod-api", SEED_CHARLIE, T_SEED_NOW);
    CHECK(reason_is(&d, "untrusted_did"));
    d = decide(p, "atcr.io/acme/prod-api", SEED_ALICE, T_SEED_NOW);
    CHECK(reason_is(&d, NULL) && strcmp(d.scope.name, "production-images") == 0);
    /* Alice has validFrom 2024-01-01 and expiresAt: null */
    d = decide(p, "atcr.io/acme/prod-api", SEED_ALICE, 1704067200 - 1);
    CHECK(reason_is(&d, "did_not_yet_valid"));
    d = decide(p, "atcr.io/acme/prod-api", SEED_ALICE, INT64_MAX);
    CHECK(reason_is(&d, NULL));

    /* dev-images: no signature, audit */
    atv_policy_scope_for(p, "atcr.io/acme/dev-tools", &s);
    CHECK(s.matched && strcmp(s.name, "dev-images") == 0 && s.require_signature == 0 &&
          s.min_signatures == 0 && s.action == ATV_POLICY_AUDIT && s.n_items == 1);
    o = outcome(p, "atcr.io/acme/dev-tools", NULL, 0, T_SEED_NOW);
    CHECK(o.matched && o.met && o.want == 0 && o.have == 0);

    /* staging-images: Charlie (no map entry, no window) is enough */
    atv_policy_scope_for(p, "atcr.io/acme/staging-web", &s);
    CHECK(s.matched && strcmp(s.name, "staging-images") == 0 && s.require_signature == 1 &&
          s.min_signatures == 1 && s.action == ATV_POLICY_ENFORCE);
    o = outcome(p, "atcr.io/acme/staging-web", charlie, 1, T_SEED_NOW);
    CHECK(o.matched && o.met && o.have == 1 && o.want == 1);
    o = outcome(p, "atcr.io/acme/staging-web", bob, 1, T_SEED_NOW);
    CHECK(o.matched && !o.met);

    /* the Ratify fixture's policies load too (scopes of names, a port glob) */
    static const char *const ratify[] = {"testdata/ratify/policies/audit.yaml",
                                         "testdata/ratify/policies/enforce.yaml",
                                         "testdata/ratify/policies/other-scope.yaml"};
    for (size_t k = 0; k < sizeof ratify / sizeof ratify[0]; k++) {
        struct atv_policy *r = load(ratify[k]);
        if (r != NULL) {
            atv_policy_scope_for(r, "127.0.0.1:5000/atv/app", &s);
            CHECK_MSG(s.matched == (strstr(ratify[k], "other-scope") == NULL),
                      "%s: 127.0.0.1:5000/atv/app", ratify[k]);
        }
        atv_policy_free(r);
    }

    /* no scope */
    static const char *const none[] = {"atcr.io/acme/other", "ghcr.io/x/prod-y",
                                       "atcr.io/acme/prod-api/sub", "atcr.io/prod-api"};
    for (size_t k = 0; k < sizeof none / sizeof none[0]; k++) {
        o = outcome(p, none[k], alice, 1, T_SEED_NOW);
        atv_policy_scope_for(p, none[k], &s);
        CHECK_MSG(!o.matched && !o.met && !s.matched && o.message[0] != '\0',
                  "seed: %s has no scope", none[k]);
    }
    atv_policy_free(p);
}

/* ---- require lists and the whole-image decision ------------------------------------ */

static void test_evaluate(void)
{
    struct atv_policy *p;
    struct atv_policy_outcome o;
    struct atv_policy_scope s;

    p = must("policies:\n  - name: two\n    scope: \"**\"\n    require:\n"
             "      - trustedDIDs: [" BOT ", " ALICE "]\n        minSignatures: 2\n"
             "      - trustedDIDs: [" CI "]\n");
    if (p != NULL) {
        const char *ab[] = {BOT, ALICE};
        const char *abc[] = {BOT, ALICE, CI};
        const char *aac[] = {BOT, BOT, CI};
        const char *with_null[] = {NULL, CI, ALICE, NULL, BOT};
        atv_policy_scope_for(p, "a/b", &s);
        CHECK(s.matched && s.require_signature == 1 && s.min_signatures == 2 && s.n_items == 2);
        o = outcome(p, "a/b", ab, 2, 0);
        CHECK_MSG(o.matched && !o.met && o.item == 1 && o.have == 0 && o.want == 1 &&
                      strstr(o.message, "policy two: require[1] needs 1 signer among its "
                                        "trusted DIDs, 0 verified") != NULL,
                  "{A,B}: item 1 not met (%s)", o.message);
        o = outcome(p, "a/b", abc, 3, 0);
        CHECK_MSG(o.matched && o.met && o.item == 0 && o.have == 2 && o.want == 2 &&
                      o.message[0] == '\0',
                  "{A,B,C}: met (%zu %u/%u %s)", o.item, o.have, o.want, o.message);
        o = outcome(p, "a/b", aac, 3, 0);
        CHECK_MSG(o.matched && !o.met && o.item == 0 && o.have == 1 && o.want == 2 &&
                      strstr(o.message, "require[0] needs 2 signers among its trusted DIDs, "
                                        "1 verified") != NULL,
                  "{A,A,C}: duplicates count once (%s)", o.message);
        o = outcome(p, "a/b", with_null, 5, 0);
        CHECK(o.met);
        o = outcome(p, "a/b", NULL, 3, 0); /* misuse: counts as none */
        CHECK(o.matched && !o.met && o.item == 0 && o.have == 0);
        /* check_did: trusted by any item that requires a signature */
        struct decision d = decide(p, "a/b", CI, 0);
        CHECK(reason_is(&d, NULL));
        d = decide(p, "a/b", STRANGER, 0);
        CHECK(reason_is(&d, "untrusted_did"));
    }
    atv_policy_free(p);

    /* one DID counting for two items; windows apply per DID in every item */
    p = must("trustedDIDs:\n  " BOT ":\n    expiresAt: \"2025-01-01T00:00:00Z\"\n"
             "  " ALICE ":\n    validFrom: ~\n    expiresAt:\n"
             "policies:\n  - name: both\n    scope: \"**\"\n    require:\n"
             "      - trustedDIDs: [" ALICE ", " CI "]\n"
             "      - {}\n"
             "      - trustedDIDs: [" BOT ", " ALICE "]\n        minSignatures: 2\n");
    if (p != NULL) {
        const char *a[] = {ALICE};
        const char *ab[] = {ALICE, BOT};
        o = outcome(p, "x/y", a, 1, T_BOT_FROM - 1);
        CHECK_MSG(!o.met && o.item == 2 && o.have == 1 && o.want == 2,
                  "Alice counts for items 0 and 1, not 2 alone (%s)", o.message);
        o = outcome(p, "x/y", ab, 2, T_BOT_FROM - 1);
        CHECK_MSG(o.met && o.have == 2 && o.want == 2, "met before Bob expires (%s)", o.message);
        o = outcome(p, "x/y", ab, 2, T_BOT_FROM);
        CHECK_MSG(!o.met && o.item == 2 && o.have == 1, "Bob expired (%s)", o.message);
        /* Bob listed (item 1 via the map, item 2) but expired: the window wins */
        struct decision d = decide(p, "x/y", BOT, T_BOT_FROM);
        CHECK(reason_is(&d, "did_expired"));
        d = decide(p, "x/y", BOT, T_BOT_FROM - 1);
        CHECK(reason_is(&d, NULL));
    }
    atv_policy_free(p);

    /* signature: false alone */
    p = must("policies:\n  - name: free\n    scope: \"**\"\n    require:\n"
             "      - signature: false\n");
    if (p != NULL) {
        atv_policy_scope_for(p, "x/y", &s);
        CHECK(s.matched && s.require_signature == 0 && s.min_signatures == 0 && s.n_items == 1);
        o = outcome(p, "x/y", NULL, 0, 0);
        CHECK(o.matched && o.met && o.have == 0 && o.want == 0 && o.message[0] == '\0');
    }
    atv_policy_free(p);

    /* the implicit policy is one item, scope "**" */
    const char *two[] = {BOT, ALICE};
    p = NULL;
    struct atv_err err;
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_from_dids(two, 2, &p, &err), ATV_OK, &err);
    if (p != NULL) {
        atv_policy_scope_for(p, "any/where/at/all", &s);
        CHECK(s.matched && s.n_items == 1 && s.min_signatures == 1 && s.require_signature == 1);
        o = outcome(p, "any/where", two + 1, 1, 0);
        CHECK(o.matched && o.met && o.have == 1 && o.want == 1);
        o = outcome(p, "any/where", NULL, 0, 0);
        CHECK(o.matched && !o.met && o.have == 0 && o.want == 1);
    }
    atv_policy_free(p);

    /* misuse */
    o = outcome(NULL, "a/b", NULL, 0, 0);
    CHECK(!o.matched && !o.met && o.message[0] != '\0');
    atv_policy_evaluate(NULL, NULL, NULL, 0, 0, NULL);
}

/* ---- datetimes ------------------------------------------------------------------ */

static void test_time(void)
{
    static const struct {
        const char *s;
        int64_t sec;
        uint32_t nsec;
        int64_t ceil;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0, 0},
        {"1970-01-01T00:00:00.000Z", 0, 0, 0},
        {"1969-12-31T23:59:59.5Z", -1, 500000000u, 0},
        {"2000-02-29T12:34:56Z", 951827696, 0, 951827696},
        {"2024-02-29T23:59:59-23:59", 1709337539, 0, 1709337539},
        {"2025-06-01T12:00:00.5+02:00", 1748772000, 500000000u, 1748772001},
        {"2026-06-01T00:00:00.25-05:30", 1780291800, 250000000u, 1780291801},
        {"0001-01-01T00:00:00Z", -62135596800, 0, -62135596800},
        {"9999-12-31T23:59:59Z", 253402300799, 0, 253402300799},
        {"2025-01-01T00:00:00.123456789Z", 1735689600, 123456789u, 1735689601},
        {"2025-01-01T00:00:00.0000000000001Z", 1735689600, 0, 1735689601},
        {"2025-01-01T00:00:00.0000000000000Z", 1735689600, 0, 1735689600},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct pol_time t;
        struct atv_err err;
        atv_err_clear(&err);
        enum atv_status rc = pol_time_parse(cases[k].s, strlen(cases[k].s), &t, &err);
        CHECK_MSG(rc == ATV_OK && t.sec == cases[k].sec && t.nsec == cases[k].nsec &&
                      pol_time_ceil(&t) == cases[k].ceil,
                  "%s -> %lld.%09u (got %s %lld.%09u ceil %lld)", cases[k].s,
                  (long long)cases[k].sec, cases[k].nsec, err.msg, (long long)t.sec, t.nsec,
                  (long long)pol_time_ceil(&t));
    }
    struct pol_time a, b;
    struct atv_err err;
    atv_err_clear(&err);
    CHECK(pol_time_parse("2025-01-01T00:00:00.7Z", 22, &a, &err) == ATV_OK &&
          pol_time_parse("2025-01-01T02:00:00.3+02:00", 27, &b, &err) == ATV_OK &&
          pol_time_cmp(&a, &b) > 0 && pol_time_cmp(&b, &a) < 0 && pol_time_cmp(&a, &a) == 0);
    CHECK(pol_time_parse("2025-01-01T00:00:00", 19, &a, &err) == ATV_E_PARSE);
}

/* ---- the implicit trustedDIDs policy ----------------------------------------------- */

static void test_from_dids(void)
{
    struct atv_policy *p = NULL;
    struct atv_err err;
    struct decision d;
    const char *one[] = {BOT};
    const char *several[] = {BOT, ALICE, CI, BOT};
    const char *bad[] = {BOT, "did:PLC:x"};
    const char *nul[] = {BOT, NULL};

    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_from_dids(NULL, 0, &p, &err), ATV_OK, &err);
    if (p != NULL) {
        d = decide(p, "atcr.io/a/b", BOT, T_MID);
        CHECK(reason_is(&d, "untrusted_did") && d.scope.matched &&
              strcmp(d.scope.name, "trustedDIDs") == 0);
    }
    atv_policy_free(p);

    CHECK_STATUS(atv_policy_from_dids(one, 1, &p, &err), ATV_OK, &err);
    if (p != NULL) {
        d = decide(p, "atcr.io/a/b/c", BOT, 0);
        CHECK(reason_is(&d, NULL) && d.scope.action == ATV_POLICY_ENFORCE &&
              d.scope.require_signature == 1 && d.scope.min_signatures == 1);
        d = decide(p, "localhost:5000/x", BOT, INT64_MAX);
        CHECK(reason_is(&d, NULL));
        d = decide(p, "", BOT, 0); /* "**" matches everything, the empty string too */
        CHECK(reason_is(&d, NULL));
        d = decide(p, "atcr.io/a", ALICE, 0);
        CHECK(reason_is(&d, "untrusted_did") && strstr(d.msg, "trustedDIDs") != NULL);
    }
    atv_policy_free(p);

    CHECK_STATUS(atv_policy_from_dids(several, 4, &p, &err), ATV_OK, &err);
    if (p != NULL) {
        for (size_t k = 0; k < 3; k++) {
            d = decide(p, "r/x", several[k], 0);
            CHECK_MSG(reason_is(&d, NULL), "%s trusted", several[k]);
        }
        d = decide(p, "r/x", STRANGER, 0);
        CHECK(reason_is(&d, "untrusted_did"));
    }
    atv_policy_free(p);

    atv_err_clear(&err);
    p = (struct atv_policy *)1;
    CHECK_STATUS(atv_policy_from_dids(bad, 2, &p, &err), ATV_E_PARSE, &err);
    CHECK(p == NULL && strstr(err.msg, "trustedDIDs[1]") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_from_dids(nul, 2, &p, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_from_dids(NULL, 1, &p, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_from_dids(one, ATV_POLICY_MAX_DIDS + 1, &p, &err), ATV_E_LIMIT, &err);
}

/* ---- rejections: committed files -------------------------------------------------- */

static const struct {
    const char *file;
    enum atv_status code;
    const char *sub;
} invalid_files[] = {
    {"empty.yaml", ATV_E_PARSE, "empty document"},
    {"comments-only.yaml", ATV_E_PARSE, "empty document"},
    {"unknown-key.yaml", ATV_E_PARSE, "policies[1].require.minSignature: unknown key at line 7"},
    {"dup-key.yaml", ATV_E_PARSE, "policies[0]: duplicate key \"scope\" at line 4"},
    {"dup-key.json", ATV_E_PARSE, "duplicate"},
    {"anchor-alias.yaml", ATV_E_PARSE, "line 2: anchors are not allowed"},
    {"tag.yaml", ATV_E_PARSE, "line 2: tags are not allowed"},
    {"two-docs.yaml", ATV_E_PARSE, "second document"},
    {"bad-did.yaml", ATV_E_PARSE, "policies[0].require.trustedDIDs[0]: bad DID"},
    {"bad-datetime.json", ATV_E_PARSE,
     "trustedDIDs[\"did:plc:releasebotaaaaaaaaaaaaaa\"].validFrom: bad datetime"},
    {"window-inverted.yaml", ATV_E_PARSE, "is after expiresAt"},
    {"dup-name.json", ATV_E_PARSE, "policies[1].name: duplicate policy name"},
    {"no-policies.yaml", ATV_E_PARSE, "missing required key \"policies\""},
    {"empty-policies.json", ATV_E_PARSE, "policies: empty"},
    {"version-2.yaml", ATV_E_UNSUPPORTED, "version"},
    {"wrong-type.yaml", ATV_E_PARSE,
     "policies[0].require.signature: want a boolean, got a string at line 5"},
    {"min-unreachable.yaml", ATV_E_PARSE, "only 1 trusted DIDs"},
    {"truncated.json", ATV_E_PARSE, "json: line 1"},
    {"truncated.yaml", ATV_E_PARSE, "yaml: line"},
    {"garbage.bin", ATV_E_PARSE, "yaml"},
    {"scope-tag.yaml", ATV_E_PARSE,
     "policies[0].scope: \"atcr.io/*/prod-*:*\" has a tag or digest part; a scope matches "
     "HOST[:PORT]/REPOSITORY only (write \"atcr.io/*/prod-*\") at line 3"},
    {"require-empty.json", ATV_E_PARSE, "policies[0].require: empty list"},
    {"require-too-many.yaml", ATV_E_LIMIT, "policies[0].require: 17 requirements, max 16"},
};

static void test_invalid_files(void)
{
    size_t listed = sizeof invalid_files / sizeof invalid_files[0];
    for (size_t k = 0; k < listed; k++) {
        char path[256];
        struct atv_policy *p = (struct atv_policy *)1;
        struct atv_err err;
        (void)snprintf(path, sizeof path, "%s/invalid/%s", DIR_POLICY, invalid_files[k].file);
        atv_err_clear(&err);
        enum atv_status rc = atv_policy_load_file(path, &p, &err);
        CHECK_MSG(rc == invalid_files[k].code && p == NULL &&
                      strstr(err.msg, invalid_files[k].sub) != NULL &&
                      strncmp(err.msg, path, strlen(path)) == 0,
                  "%s: %s with \"%s\" (got %s: %s)", invalid_files[k].file,
                  atv_status_name(invalid_files[k].code), invalid_files[k].sub,
                  atv_status_name(rc), err.msg);
    }
    /* every file of the folder is in the table above */
    DIR *dir = opendir(DIR_POLICY "/invalid");
    size_t seen = 0, known = 0;
    CHECK(dir != NULL);
    if (dir != NULL) {
        for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
            if (e->d_name[0] == '.') {
                continue;
            }
            seen++;
            for (size_t k = 0; k < listed; k++) {
                known += strcmp(e->d_name, invalid_files[k].file) == 0;
            }
        }
        (void)closedir(dir);
    }
    CHECK_MSG(seen == listed && known == listed, "invalid/: %zu files, %zu tested of %zu", seen,
              known, listed);

    struct atv_policy *p = (struct atv_policy *)1;
    struct atv_err err;
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_load_file(DIR_POLICY "/no-such-file.yaml", &p, &err), ATV_E_IO, &err);
    CHECK(p == NULL && strstr(err.msg, "no-such-file.yaml") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_load_file(NULL, &p, &err), ATV_E_USAGE, &err);
}

/* ---- rejections: inline documents ----------------------------------------------------- */

#define MINI "policies:\n  - name: a\n    scope: \"**\"\n"
#define REQ(x) MINI "    require:\n      " x "\n"
#define JMINI_TAIL "\"policies\": [{\"name\": \"a\", \"scope\": \"**\"}]}"
#define JREQ(x) "{\"policies\": [{\"name\": \"a\", \"scope\": \"**\", \"require\": {" x "}}]}"

static void test_inline_invalid(void)
{
    expect("mini", MINI, ATV_OK, NULL);
    expect("mini json", "{\"policies\": [{\"name\": \"a\", \"scope\": \"**\"}]}", ATV_OK, NULL);

    /* duplicate keys */
    expect("dup yaml", "policies:\n  - name: a\n    name: b\n    scope: x\n", ATV_E_PARSE,
           "policies[0]: duplicate key \"name\" at line 3");
    expect("dup yaml top", MINI "policies: []\n", ATV_E_PARSE, "document: duplicate key");
    expect("dup yaml flow", "policies: [{name: a, scope: x, scope: y}]\n", ATV_E_PARSE,
           "duplicate key \"scope\"");
    expect("dup json", "{\"policies\": [{\"name\": \"a\", \"name\": \"b\", \"scope\": \"x\"}]}",
           ATV_E_PARSE, "duplicate");
    expect("dup did map",
           "trustedDIDs:\n  " BOT ":\n  " BOT ":\n" MINI, ATV_E_PARSE, "duplicate key");

    /* unknown keys, anywhere */
    expect("unknown top", MINI "polices: []\n", ATV_E_PARSE, "polices: unknown key at line 4");
    expect("unknown rule", MINI "    actoin: audit\n", ATV_E_PARSE,
           "policies[0].actoin: unknown key");
    expect("unknown require", REQ("minSignature: 1"), ATV_E_PARSE,
           "policies[0].require.minSignature: unknown key at line 5");
    expect("unknown did field", "trustedDIDs:\n  " BOT ":\n    expires: x\n" MINI, ATV_E_PARSE,
           "trustedDIDs[\"" BOT "\"].expires: unknown key");
    expect("unknown key, block value", MINI "    requires:\n      signature: true\n", ATV_E_PARSE,
           "policies[0].requires: unknown key at line 4");
    expect("unknown json", JREQ("\"sig\": true"), ATV_E_PARSE,
           "policies[0].require.sig: unknown key");
    expect("odd key", MINI "    \"a b\\u0001\": 1\n", ATV_E_PARSE, "[\"a b?\"]: unknown key");

    /* wrong types */
    expect("signature \"yes\"", REQ("signature: \"yes\""), ATV_E_PARSE, "want a boolean");
    expect("signature yes", REQ("signature: yes"), ATV_E_PARSE, "want a boolean");
    expect("signature True", REQ("signature: True"), ATV_E_PARSE, "want a boolean");
    expect("signature 1", REQ("signature: 1"), ATV_E_PARSE, "want a boolean");
    expect("signature 'true'", REQ("signature: 'true'"), ATV_E_PARSE, "got a string");
    expect("signature json", JREQ("\"signature\": \"true\""), ATV_E_PARSE, "want a boolean");
    expect("min 0", REQ("minSignatures: 0"), ATV_E_PARSE, "out of range");
    expect("min -1", REQ("minSignatures: -1"), ATV_E_PARSE, "out of range");
    expect("min \"2\"", REQ("minSignatures: \"2\""), ATV_E_PARSE, "want an integer");
    expect("min 1.5", REQ("minSignatures: 1.5"), ATV_E_PARSE, "want an integer");
    expect("min 1.0", REQ("minSignatures: 1.0"), ATV_E_PARSE, "want an integer");
    expect("min 01", REQ("minSignatures: 01"), ATV_E_PARSE, "want an integer");
    expect("min +1", REQ("minSignatures: +1"), ATV_E_PARSE, "want an integer");
    expect("min 0x1", REQ("minSignatures: 0x1"), ATV_E_PARSE, "want an integer");
    expect("min huge", REQ("minSignatures: 99999999999999999999999"), ATV_E_PARSE,
           "out of range");
    expect("min 1025", REQ("minSignatures: 1025"), ATV_E_PARSE, "out of range");
    expect("min null", REQ("minSignatures:"), ATV_E_PARSE, "got null");
    expect("min json 0", JREQ("\"minSignatures\": 0"), ATV_E_PARSE, "out of range");
    expect("min json -1", JREQ("\"minSignatures\": -1"), ATV_E_PARSE, "out of range");
    expect("min json \"2\"", JREQ("\"minSignatures\": \"2\""), ATV_E_PARSE, "want an integer");
    expect("min json 1.5", JREQ("\"minSignatures\": 1.5"), ATV_E_PARSE, "want an integer");
    expect("min json 1.0", JREQ("\"minSignatures\": 1.0"), ATV_E_PARSE, "want an integer");
    expect("name bool", "policies:\n  - name: true\n    scope: x\n", ATV_E_PARSE,
           "policies[0].name: want a string, got a boolean");
    expect("name number", "policies:\n  - name: 1.0\n    scope: x\n", ATV_E_PARSE,
           "want a string");
    expect("name off", "policies:\n  - name: off\n    scope: x\n", ATV_E_PARSE, "ambiguous");
    expect("name null", "policies:\n  - name: ~\n    scope: x\n", ATV_E_PARSE, "got null");
    expect("name empty", "policies:\n  - name: ''\n    scope: x\n", ATV_E_PARSE, "empty string");
    expect("name ctl", "policies:\n  - name: \"a\\tb\"\n    scope: x\n", ATV_E_PARSE,
           "control character");
    expect("name nul", "policies:\n  - name: \"a\\0b\"\n    scope: x\n", ATV_E_PARSE, "NUL");
    expect("scope space", "policies:\n  - name: a\n    scope: \"a b\"\n", ATV_E_PARSE,
           "byte 0x20");
    expect("scope missing", "policies:\n  - name: a\n", ATV_E_PARSE,
           "policies[0]: missing required key \"scope\" at line 2");
    expect("name missing", "policies:\n  - scope: a\n", ATV_E_PARSE,
           "missing required key \"name\"");
    expect("action", MINI "    action: block\n", ATV_E_PARSE, "want \"enforce\" or \"audit\"");
    expect("action Audit", MINI "    action: Audit\n", ATV_E_PARSE, "\"audit\"");
    expect("require null", MINI "    require:\n", ATV_E_PARSE,
           "policies[0].require: want a mapping or a sequence of mappings, got null");
    expect("require string", MINI "    require: yes\n", ATV_E_PARSE, "got an ambiguous");
    expect("dids not list", REQ("trustedDIDs: " BOT), ATV_E_PARSE, "want a sequence");
    expect("did not string", REQ("trustedDIDs: [1]"), ATV_E_PARSE, "want a string");
    expect("top dids list", "trustedDIDs: [" BOT "]\n" MINI, ATV_E_PARSE,
           "trustedDIDs: want a mapping");
    expect("top did scalar", "trustedDIDs:\n  " BOT ": yes\n" MINI, ATV_E_PARSE,
           "want a mapping or null");
    expect("policies map", "policies: {name: a}\n", ATV_E_PARSE, "policies: want a sequence");
    expect("policy scalar", "policies: [a]\n", ATV_E_PARSE, "policies[0]: want a mapping");
    expect("version 1.1", "version: \"1.1\"\n" MINI, ATV_E_UNSUPPORTED, "only \"1.0\"");
    expect("version bool", "version: true\n" MINI, ATV_E_PARSE,
           "version: want a number or a string, got a boolean");
    expect("version null", "version:\n" MINI, ATV_E_PARSE, "got null");
    expect("version list", "version: [1]\n" MINI, ATV_E_PARSE, "got a sequence");

    /* versions: 1, 1.0, "1", "1.0"; other numbers and strings are unsupported */
    expect("version 1", "version: 1\n" MINI, ATV_OK, NULL);
    expect("version 1.0", "version: 1.0\n" MINI, ATV_OK, NULL);
    expect("version \"1\"", "version: \"1\"\n" MINI, ATV_OK, NULL);
    expect("version '1.0'", "version: '1.0'\n" MINI, ATV_OK, NULL);
    expect("version json 1.0", "{\"version\": 1.0, " JMINI_TAIL, ATV_OK, NULL);
    expect("version json 1", "{\"version\": 1, " JMINI_TAIL, ATV_OK, NULL);
    expect("version json \"1.0\"", "{\"version\": \"1.0\", " JMINI_TAIL, ATV_OK, NULL);
    expect("version 2", "version: 2\n" MINI, ATV_E_UNSUPPORTED, "\"2\": only \"1.0\"");
    expect("version \"2.0\"", "version: \"2.0\"\n" MINI, ATV_E_UNSUPPORTED, "\"2.0\"");
    expect("version 1.5", "version: 1.5\n" MINI, ATV_E_UNSUPPORTED, "\"1.5\"");
    expect("version 1.00", "version: 1.00\n" MINI, ATV_E_UNSUPPORTED, "\"1.00\"");
    expect("version 0x1", "version: 0x1\n" MINI, ATV_E_UNSUPPORTED, "\"0x1\"");
    expect("version json 2", "{\"version\": 2, " JMINI_TAIL, ATV_E_UNSUPPORTED, "\"2\"");
    expect("version json 1.5", "{\"version\": 1.5, " JMINI_TAIL, ATV_E_UNSUPPORTED, "\"1.5\"");
    expect("version json \"2.0\"", "{\"version\": \"2.0\", " JMINI_TAIL, ATV_E_UNSUPPORTED,
           "\"2.0\"");

    /* require lists */
    expect("require one-item list", MINI "    require:\n      - signature: true\n", ATV_OK, NULL);
    expect("require []", MINI "    require: []\n", ATV_E_PARSE, "policies[0].require: empty list");
    expect("require [] json",
           "{\"policies\": [{\"name\": \"a\", \"scope\": \"**\", \"require\": []}]}", ATV_E_PARSE,
           "policies[0].require: empty list");
    expect("require item scalar", MINI "    require:\n      - signature: true\n      - true\n",
           ATV_E_PARSE, "policies[0].require[1]: want a mapping, got a boolean at line 6");
    expect("require item list", MINI "    require: [[]]\n", ATV_E_PARSE,
           "policies[0].require[0]: want a mapping, got a sequence");
    expect("require item unknown key",
           MINI "    require:\n      - signature: true\n      - minSignature: 1\n", ATV_E_PARSE,
           "policies[0].require[1].minSignature: unknown key at line 6");
    expect("require item unknown key json",
           "{\"policies\": [{\"name\": \"a\", \"scope\": \"**\", \"require\": [{\"sig\": 1}]}]}",
           ATV_E_PARSE, "policies[0].require[0].sig: unknown key");
    expect("require item min unreachable",
           "trustedDIDs:\n  " BOT ":\n  " ALICE ":\n" MINI "    require:\n"
           "      - minSignatures: 2\n"
           "      - trustedDIDs: [" CI "]\n        minSignatures: 2\n",
           ATV_E_PARSE, "policies[0].require[1].minSignatures: 2 but only 1 trusted DIDs");
    expect("require item min reachable via map",
           "trustedDIDs:\n  " BOT ":\n  " ALICE ":\n" MINI "    require:\n"
           "      - minSignatures: 2\n",
           ATV_OK, NULL);
    expect("require item bad type",
           MINI "    require:\n      - signature: \"false\"\n", ATV_E_PARSE,
           "policies[0].require[0].signature: want a boolean");
    expect("require json list",
           "{\"trustedDIDs\": {\"" BOT "\": {\"expiresAt\": null, \"validFrom\": null}},"
           " \"policies\": [{\"name\": \"a\", \"scope\": \"**\", \"require\": [{\"signature\":"
           " false}, {\"trustedDIDs\": [\"" BOT "\"], \"minSignatures\": 1}]}]}",
           ATV_OK, NULL);

    /* null window bounds: no bound */
    expect("validFrom null", "trustedDIDs:\n  " BOT ":\n    validFrom: null\n" MINI, ATV_OK, NULL);
    expect("expiresAt ~", "trustedDIDs:\n  " BOT ":\n    expiresAt: ~\n" MINI, ATV_OK, NULL);
    expect("expiresAt empty", "trustedDIDs:\n  " BOT ":\n    expiresAt:\n" MINI, ATV_OK, NULL);
    expect("expiresAt json null",
           "{\"trustedDIDs\": {\"" BOT "\": {\"expiresAt\": null}}, " JMINI_TAIL, ATV_OK, NULL);
    expect("expiresAt 'null' string", "trustedDIDs:\n  " BOT ":\n    expiresAt: 'null'\n" MINI,
           ATV_E_PARSE, "expiresAt: bad datetime");
    expect("expiresAt false", "trustedDIDs:\n  " BOT ":\n    expiresAt: false\n" MINI,
           ATV_E_PARSE, "want a string");

    /* scopes see HOST[:PORT]/REPOSITORY only */
    expect("scope tag", "policies:\n  - name: a\n    scope: \"atcr.io/acme/app:*\"\n",
           ATV_E_PARSE,
           "policies[0].scope: \"atcr.io/acme/app:*\" has a tag or digest part; a scope matches "
           "HOST[:PORT]/REPOSITORY only (write \"atcr.io/acme/app\") at line 3");
    expect("scope digest", "policies:\n  - name: a\n    scope: \"atcr.io/acme/app@sha256:*\"\n",
           ATV_E_PARSE, "has a tag or digest part; a scope matches HOST[:PORT]/REPOSITORY only "
                        "(write \"atcr.io/acme/app\")");
    expect("scope digest no slash", "policies:\n  - name: a\n    scope: \"app@*\"\n",
           ATV_E_PARSE, "(write \"app\")");
    expect("scope port and tag", "policies:\n  - name: a\n    scope: \"localhost:5000/app:v1\"\n",
           ATV_E_PARSE, "(write \"localhost:5000/app\")");
    expect("scope port glob and tag",
           "policies:\n  - name: a\n    scope: \"127.0.0.1:*/atv/app:*\"\n", ATV_E_PARSE, "(write \"127.0.0.1:*/atv/app\")");
    expect("scope json tag",
           "{\"policies\": [{\"name\": \"a\", \"scope\": \"**:latest\"}]}", ATV_E_PARSE,
           "policies[0].scope: \"**:latest\" has a tag or digest part");
    expect("scope port", "policies:\n  - name: a\n    scope: \"localhost:5000/app\"\n", ATV_OK,
           NULL);
    expect("scope port glob", "policies:\n  - name: a\n    scope: \"127.0.0.1:*/atv/app*\"\n",
           ATV_OK, NULL);
    /* a ':' that no '/' follows is no port: a name always has a '/' after its host */
    expect("scope port, no slash", "policies:\n  - name: a\n    scope: \"localhost:5000\"\n",
           ATV_E_PARSE, "has a tag or digest part");
    expect("scope port dstar", "policies:\n  - name: a\n    scope: \"**:5000/**\"\n", ATV_OK,
           NULL);

    /* DIDs and datetimes */
    expect("bad did", REQ("trustedDIDs: [did:plc]"), ATV_E_PARSE, "bad DID");
    expect("bad did key", "trustedDIDs:\n  notadid:\n" MINI, ATV_E_PARSE,
           "trustedDIDs.notadid: bad DID");
    expect("bad did json", JREQ("\"trustedDIDs\": [\"did:Plc:x\"]"), ATV_E_PARSE, "bad DID");
    expect("dup did", REQ("trustedDIDs: [" BOT ", " BOT "]"), ATV_E_PARSE, "duplicate DID");
    expect("date only", "trustedDIDs:\n  " BOT ":\n    validFrom: \"2025-01-01\"\n" MINI,
           ATV_E_PARSE, "validFrom: bad datetime");
    expect("month 13", "trustedDIDs:\n  " BOT ":\n    validFrom: \"2025-13-01T00:00:00Z\"\n" MINI,
           ATV_E_PARSE, "month");
    expect("no tz", "trustedDIDs:\n  " BOT ":\n    expiresAt: \"2025-01-01T00:00:00\"\n" MINI,
           ATV_E_PARSE, "expiresAt: bad datetime");
    expect("lower z", "trustedDIDs:\n  " BOT ":\n    expiresAt: \"2025-01-01t00:00:00z\"\n" MINI,
           ATV_E_PARSE, "bad datetime");
    expect("-00:00",
           "trustedDIDs:\n  " BOT ":\n    expiresAt: \"2025-01-01T00:00:00-00:00\"\n" MINI,
           ATV_E_PARSE, "bad datetime");
    expect("date number", "trustedDIDs:\n  " BOT ":\n    expiresAt: 20250101\n" MINI,
           ATV_E_PARSE, "want a string");
    expect("from after until",
           "trustedDIDs:\n  " BOT ":\n    validFrom: \"2025-01-02T00:00:00Z\"\n"
           "    expiresAt: \"2025-01-01T00:00:00Z\"\n" MINI,
           ATV_E_PARSE, "validFrom 2025-01-02T00:00:00Z is after expiresAt 2025-01-01T00:00:00Z");
    expect("from after until, offsets",
           "trustedDIDs:\n  " BOT ":\n    validFrom: \"2025-01-01T00:00:00-01:00\"\n"
           "    expiresAt: \"2025-01-01T00:30:00Z\"\n" MINI,
           ATV_E_PARSE, "is after expiresAt");
    expect("from after until, fractions",
           "{\"trustedDIDs\": {\"" BOT "\": {\"validFrom\": \"2025-01-01T00:00:00.7Z\","
           " \"expiresAt\": \"2025-01-01T00:00:00.3Z\"}},"
           " \"policies\": [{\"name\": \"a\", \"scope\": \"*\"}]}",
           ATV_E_PARSE, "is after expiresAt");

    /* policy list */
    expect("dup names", MINI "  - name: a\n    scope: b\n", ATV_E_PARSE,
           "policies[1].name: duplicate policy name (also policies[0]) at line 4");
    expect("empty list", "policies: []\n", ATV_E_PARSE, "policies: empty");
    expect("empty list json", "{\"policies\": []}", ATV_E_PARSE, "policies: empty");
    expect("no policies", "version: \"1.0\"\n", ATV_E_PARSE, "missing required key \"policies\"");
    expect("no policies json", "{}", ATV_E_PARSE, "missing required key \"policies\"");
    expect("min unreachable (map)", "trustedDIDs:\n  " BOT ":\n" REQ("minSignatures: 2"),
           ATV_E_PARSE, "2 but only 1 trusted DIDs");

    /* YAML features we refuse */
    expect("anchor", "x: &a 1\n" MINI, ATV_E_PARSE, "line 1: anchors are not allowed");
    expect("alias", "policies: *a\n", ATV_E_PARSE, "line 1: aliases are not allowed");
    expect("anchor on seq", "policies: &p\n  - name: a\n    scope: x\n", ATV_E_PARSE, "anchors");
    expect("tag !!str", "policies:\n  - name: !!str a\n    scope: x\n", ATV_E_PARSE,
           "line 2: tags are not allowed");
    expect("tag local", "policies: !mine\n  - name: a\n    scope: x\n", ATV_E_PARSE, "tags");
    expect("tag !", "policies:\n  - name: ! a\n    scope: x\n", ATV_E_PARSE, "tags");
    expect("two documents", MINI "---\n" MINI, ATV_E_PARSE, "line 4: a second document");
    expect("two documents, explicit", "---\n" MINI "...\n---\n" MINI, ATV_E_PARSE,
           "second document");
    expect("directive", "%YAML 1.1\n---\n" MINI, ATV_E_PARSE, "directives");
    expect("tag directive", "%TAG !e! tag:example.com,2000:\n---\n" MINI, ATV_E_PARSE,
           "directives");
    expect("complex key", "? [a]\n: b\n" MINI, ATV_E_PARSE, "mapping key must be a scalar");
    expect("explicit document ok", "---\n" MINI "...\n", ATV_OK, NULL);

    /* documents that are not a policy at all */
    expect("empty", "", ATV_E_PARSE, "empty document");
    expect("blank", " \n  \n\n", ATV_E_PARSE, "empty document");
    expect("null root", "---\n", ATV_E_PARSE, "document: want a mapping, got null");
    expect("scalar root", "hello\n", ATV_E_PARSE, "document: want a mapping, got a string");
    expect("seq root", "- a\n", ATV_E_PARSE, "want a mapping");
    /* not '{': YAML, where it is a flow sequence */
    expect("json array root", "[1]", ATV_E_PARSE, "document: want a mapping, got a sequence");
    expect("json trailing", "{\"policies\": []} x", ATV_E_PARSE, "json");
    expect("json NUL escape", "{\"policies\": [{\"name\": \"a\\u0000\", \"scope\": \"*\"}]}",
           ATV_E_PARSE, "json");
    expect("truncated yaml", "policies:\n  - name: \"prod", ATV_E_PARSE, "yaml: line");
    expect("truncated flow", "policies: [{name: a, scope: x}", ATV_E_PARSE, "yaml: line");
    expect("truncated json", "{\"policies\": [", ATV_E_PARSE, "json: line 1");
    expect("bad indent", "policies:\n  - name: a\n   scope: x\n", ATV_E_PARSE, "yaml: line 3");
    expect("tab indent", "policies:\n\t- name: a\n", ATV_E_PARSE, "yaml");
    expect("garbage", "\x01\x02\x03\xff\xfe", ATV_E_PARSE, "yaml");
    expect("garbage json", "{\x01\xff", ATV_E_PARSE, "json");
    expect("bad utf-8", "policies:\n  - name: \"\xc3\x28\"\n    scope: x\n", ATV_E_PARSE,
           "yaml");
    expect("utf-16 bom", "\xff\xfep\x00o\x00", ATV_E_PARSE, "yaml");
}

/* Builds a document of n policies (or one policy listing n DIDs) in memory. */
static char *many(size_t n, int dids)
{
    size_t cap = 96 + n * 64;
    char *s = malloc(cap);
    size_t len = 0;
    if (s == NULL) {
        return NULL;
    }
    int w = snprintf(s, cap, dids ? "policies:\n  - name: a\n    scope: x\n    require:\n"
                                    "      trustedDIDs:\n"
                                  : "policies:\n");
    len = (size_t)w;
    for (size_t k = 0; k < n; k++) {
        w = dids ? snprintf(s + len, cap - len, "        - did:plc:d%zu\n", k)
                 : snprintf(s + len, cap - len, "  - {name: p%zu, scope: x}\n", k);
        if (w < 0 || (size_t)w >= cap - len) {
            free(s);
            return NULL;
        }
        len += (size_t)w;
    }
    return s;
}

static void test_limits(void)
{
    struct atv_policy *p = NULL;
    struct atv_err err;
    char *s;

    s = many(ATV_POLICY_MAX_POLICIES, 0);
    CHECK(s != NULL);
    expect("max policies", s != NULL ? s : "", ATV_OK, NULL);
    free(s);
    s = many(ATV_POLICY_MAX_POLICIES + 1, 0);
    expect("too many policies", s != NULL ? s : "", ATV_E_LIMIT, "policies: 257 policies, max 256");
    free(s);
    s = many(ATV_POLICY_MAX_DIDS, 1);
    expect("max dids", s != NULL ? s : "", ATV_OK, NULL);
    free(s);
    s = many(ATV_POLICY_MAX_DIDS + 1, 1);
    expect("too many dids", s != NULL ? s : "", ATV_E_LIMIT, "more than 1024 entries");
    free(s);

    /* require items: ATV_POLICY_MAX_REQUIRE fit (17 is testdata/policy/invalid) */
    char req[2048];
    size_t rl = (size_t)snprintf(req, sizeof req, "%s    require:\n", MINI);
    for (size_t k = 0; k < ATV_POLICY_MAX_REQUIRE && rl < sizeof req; k++) {
        rl += (size_t)snprintf(req + rl, sizeof req - rl, "      - {signature: true}\n");
    }
    expect("max require items", req, ATV_OK, NULL);
    (void)snprintf(req + rl, sizeof req - rl, "      - {signature: true}\n");
    expect("too many require items", req, ATV_E_LIMIT, "17 requirements, max 16");

    /* name and scope lengths */
    char doc[4096];
    char name[ATV_POLICY_MAX_NAME + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    (void)snprintf(doc, sizeof doc, "policies:\n  - name: %s\n    scope: x\n", name);
    expect("name 129", doc, ATV_E_LIMIT, "policies[0].name: 129 bytes, max 128");
    name[ATV_POLICY_MAX_NAME] = '\0';
    (void)snprintf(doc, sizeof doc, "policies:\n  - name: %s\n    scope: x\n", name);
    expect("name 128", doc, ATV_OK, NULL);
    char scope[ATV_POLICY_MAX_SCOPE + 2];
    memset(scope, 'a', sizeof scope - 1);
    scope[sizeof scope - 1] = '\0';
    (void)snprintf(doc, sizeof doc, "policies:\n  - name: a\n    scope: %s\n", scope);
    expect("scope 1025", doc, ATV_E_LIMIT, "policies[0].scope: 1025 bytes, max 1024");
    scope[ATV_POLICY_MAX_SCOPE] = '\0';
    (void)snprintf(doc, sizeof doc, "policies:\n  - name: a\n    scope: %s\n", scope);
    expect("scope 1024", doc, ATV_OK, NULL);
    (void)snprintf(doc, sizeof doc,
                   "trustedDIDs:\n  " BOT ":\n    name: %s\npolicies:\n  - {name: a, scope: x}\n",
                   name);
    expect("did name 128", doc, ATV_OK, NULL);

    /* nesting */
    size_t pos = (size_t)snprintf(doc, sizeof doc, "policies: [{name: a, scope: x}]\nx: ");
    for (size_t k = 0; k < 40; k++) {
        doc[pos++] = '[';
    }
    doc[pos] = '\0';
    expect("deep yaml", doc, ATV_E_LIMIT, "nesting deeper than 16");
    pos = (size_t)snprintf(doc, sizeof doc, "{\"x\": ");
    for (size_t k = 0; k < 40; k++) {
        doc[pos++] = '[';
    }
    for (size_t k = 0; k < 40; k++) {
        doc[pos++] = ']';
    }
    doc[pos++] = '}';
    doc[pos] = '\0';
    expect("deep json", doc, ATV_E_LIMIT, "nesting deeper than 16");

    /* file size: one byte over the cap, in memory and on disk */
    size_t big = ATV_POLICY_MAX_FILE + 1;
    s = malloc(big + 1);
    if (s == NULL) {
        CHECK(s != NULL);
        return;
    }
    memset(s, '#', big);
    memcpy(s, MINI, strlen(MINI));
    s[strlen(MINI)] = '#';
    s[big] = '\0';
    expect("file cap + 1", s, ATV_E_LIMIT, "max 262144");
    s[big - 1] = '\0'; /* exactly the cap: a comment after a valid document */
    s[big - 2] = '\n';
    expect("file cap", s, ATV_OK, NULL);
    s[big - 1] = '#';

    char tmp[] = "/tmp/atv-policy-XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    if (fd >= 0) {
        ssize_t wr = write(fd, s, big);
        CHECK(wr == (ssize_t)big);
        (void)close(fd);
        atv_err_clear(&err);
        p = (struct atv_policy *)1;
        CHECK_STATUS(atv_policy_load_file(tmp, &p, &err), ATV_E_LIMIT, &err);
        CHECK(p == NULL && strstr(err.msg, tmp) != NULL);
        (void)unlink(tmp);
    }
    free(s);

    /* misuse */
    atv_err_clear(&err);
    struct atv_bytes nul = {NULL, 3};
    CHECK_STATUS(atv_policy_parse(nul, &p, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_policy_parse(atv_bytes_str(MINI), NULL, &err), ATV_E_USAGE, &err);
}

int main(void)
{
    test_samples();
    test_seed();
    test_evaluate();
    test_glob();
    test_first_match();
    test_semantics();
    test_time();
    test_from_dids();
    test_invalid_files();
    test_inline_invalid();
    test_limits();
    return atv_test_done();
}
