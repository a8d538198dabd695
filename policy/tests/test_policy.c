/* The trust policy: the committed samples (YAML and JSON must decide alike),
 * scope globs, first match, windows, the implicit trustedDIDs policy, and one
 * rejection per rule of the format (testdata/policy/invalid plus inline
 * documents). Run from the repository root. */
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

static struct decision decide(const struct atv_policy *p, const char *ref, const char *did,
                              int64_t now)
{
    struct decision d;
    struct atv_err err;
    memset(&d, 0, sizeof d);
    memset(&d.scope, 0x5a, sizeof d.scope); /* must be overwritten on every path */
    atv_err_clear(&err);
    d.rc = atv_policy_check_did(p, ref, did, now, &d.scope, &err);
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
    const char *ref, *did;
    int64_t now;
    const char *policy; /* "" for no match */
    const char *reason; /* NULL: trusted */
};

static const struct sample_case sample_cases[] = {
    /* production: the bot only, app:tag and app@digest */
    {"atcr.io/acme/app:v1", BOT, T_MID, "production", NULL},
    {"atcr.io/acme/app@sha256:0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df84",
     BOT, T_MID, "production", NULL},
    {"atcr.io/acme/app-canary:v2", BOT, T_MID, "production", NULL},
    {"atcr.io/acme/app:v1", ALICE, T_MID, "production", "untrusted_did"},
    {"atcr.io/acme/app:v1", STRANGER, T_MID, "production", "untrusted_did"},
    /* production's window is the bot's map entry */
    {"atcr.io/acme/app:v1", BOT, T_BOT_FROM - 1, "production", "did_not_yet_valid"},
    {"atcr.io/acme/app:v1", BOT, T_BOT_FROM, "production", NULL},
    {"atcr.io/acme/app:v1", BOT, T_BOT_UNTIL - 1, "production", NULL},
    {"atcr.io/acme/app:v1", BOT, T_BOT_UNTIL, "production", "did_expired"},
    {"atcr.io/acme/app:v1", BOT, T_BOT_UNTIL + 86400, "production", "did_expired"},
    /* staging: '/' below app is not '*' but is '**'; every DID of the map */
    {"atcr.io/acme/app/sub:v1", BOT, T_MID, "staging", NULL},
    {"atcr.io/acme/other:v1", ALICE, T_MID, "staging", NULL},
    {"atcr.io/acme/other:v1", CI, T_MID, "staging", NULL},
    {"atcr.io/acme/other:v1", OUTSIDER, T_MID, "staging", "untrusted_did"},
    /* Alice: +02:00 / -05:30 offsets and fractional seconds */
    {"atcr.io/acme/x:1", ALICE, T_ALICE_FROM - 1, "staging", "did_not_yet_valid"},
    {"atcr.io/acme/x:1", ALICE, T_ALICE_FROM, "staging", "did_not_yet_valid"}, /* < .5 */
    {"atcr.io/acme/x:1", ALICE, T_ALICE_FROM + 1, "staging", NULL},
    {"atcr.io/acme/x:1", ALICE, T_ALICE_UNTIL, "staging", NULL}, /* < .25 */
    {"atcr.io/acme/x:1", ALICE, T_ALICE_UNTIL + 1, "staging", "did_expired"},
    /* CI has no window at all */
    {"atcr.io/acme/x:1", CI, 0, "staging", NULL},
    {"atcr.io/acme/x:1", CI, INT64_MAX, "staging", NULL},
    /* sandbox: '?' is one character but not '/' */
    {"localhost:5000/box:v1", CI, T_MID, "sandbox", NULL},
    {"localhost:5000/fox:latest", OUTSIDER, T_MID, "sandbox", NULL}, /* listed, no window */
    {"localhost:5000/fox:latest", BOT, T_MID, "sandbox", "untrusted_did"},
    {"localhost:5000/ox:v1", CI, T_MID, "", "no_policy"},
    {"localhost:5000/x/ox:v1", CI, T_MID, "", "no_policy"},
    {"localhost:5000/box/sub:v1", CI, T_MID, "", "no_policy"},
    /* no scope matches */
    {"docker.io/library/nginx:latest", BOT, T_MID, "", "no_policy"},
    {"atcr.io/acme", BOT, T_MID, "", "no_policy"},
    {"", BOT, T_MID, "", "no_policy"},
};

static void check_sample(const struct atv_policy *p, const char *label)
{
    for (size_t k = 0; k < sizeof sample_cases / sizeof sample_cases[0]; k++) {
        const struct sample_case *c = &sample_cases[k];
        struct decision d = decide(p, c->ref, c->did, c->now);
        CHECK_MSG(reason_is(&d, c->reason) && strcmp(d.scope.name, c->policy) == 0 &&
                      d.scope.matched == (c->policy[0] != '\0'),
                  "%s case %zu: %s %s -> policy \"%s\" %s (got %s, \"%s\": %s)", label, k, c->ref,
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
        struct decision a = decide(y, c->ref, c->did, c->now);
        struct decision b = decide(j, c->ref, c->did, c->now);
        same &= a.rc == b.rc && memcmp(&a.scope, &b.scope, sizeof a.scope) == 0 &&
                strcmp(a.msg, b.msg) == 0 && (a.reason == b.reason);
    }
    CHECK_MSG(same, "yaml and json samples decide alike (status, reason, scope, message)");

    /* what each policy requires */
    atv_policy_scope_for(y, "atcr.io/acme/app:v1", &s);
    CHECK(s.matched == 1 && s.action == ATV_POLICY_ENFORCE && s.require_signature == 1 &&
          s.min_signatures == 1);
    atv_policy_scope_for(y, "atcr.io/acme/app/x:v1", &s);
    CHECK(s.matched == 1 && strcmp(s.name, "staging") == 0 && s.action == ATV_POLICY_AUDIT &&
          s.require_signature == 1 && s.min_signatures == 2);
    atv_policy_scope_for(j, "localhost:5000/box:v1", &s);
    CHECK(s.matched == 1 && strcmp(s.name, "sandbox") == 0 && s.action == ATV_POLICY_ENFORCE &&
          s.require_signature == 0 && s.min_signatures == 1);
    atv_policy_scope_for(j, "quay.io/x:v1", &s);
    CHECK(s.matched == 0 && s.name[0] == '\0');

    /* messages name the policy, the DID and the date */
    struct decision d = decide(y, "atcr.io/acme/app:v1", BOT, T_BOT_UNTIL);
    CHECK_MSG(strstr(d.msg, "production") != NULL && strstr(d.msg, BOT) != NULL &&
                  strstr(d.msg, "2027-01-01T00:00:00Z") != NULL,
              "expired message: %s", d.msg);
    d = decide(y, "atcr.io/acme/x:1", ALICE, T_ALICE_FROM);
    CHECK_MSG(strstr(d.msg, "staging") != NULL && strstr(d.msg, ALICE) != NULL &&
                  strstr(d.msg, "2025-06-01T12:00:00.5+02:00") != NULL,
              "not-yet-valid message: %s", d.msg);
    d = decide(y, "atcr.io/acme/app:v1", STRANGER, T_MID);
    CHECK_MSG(strstr(d.msg, "production") != NULL && strstr(d.msg, STRANGER) != NULL,
              "untrusted message: %s", d.msg);
    d = decide(y, "docker.io/x\n:v1", BOT, T_MID);
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
                                "    scope: \"atcr.io/acme/app:*\"\n"
                                "    require: {trustedDIDs: [" BOT "]}\n"
                                "  - name: wide\n"
                                "    scope: \"**\"\n"
                                "    require: {trustedDIDs: [" ALICE "]}\n");
    struct atv_policy *q = must("policies:\n"
                                "  - name: wide\n"
                                "    scope: \"**\"\n"
                                "    require: {trustedDIDs: [" ALICE "]}\n"
                                "  - name: narrow\n"
                                "    scope: \"atcr.io/acme/app:*\"\n"
                                "    require: {trustedDIDs: [" BOT "]}\n");
    if (p != NULL && q != NULL) {
        struct decision d = decide(p, "atcr.io/acme/app:v1", BOT, 0);
        CHECK(reason_is(&d, NULL) && strcmp(d.scope.name, "narrow") == 0);
        /* the first match decides: the wide policy is not consulted */
        d = decide(p, "atcr.io/acme/app:v1", ALICE, 0);
        CHECK(reason_is(&d, "untrusted_did") && strcmp(d.scope.name, "narrow") == 0);
        d = decide(p, "atcr.io/acme/other:v1", ALICE, 0);
        CHECK(reason_is(&d, NULL) && strcmp(d.scope.name, "wide") == 0);
        /* reversed order: the wide policy shadows the narrow one */
        d = decide(q, "atcr.io/acme/app:v1", BOT, 0);
        CHECK(reason_is(&d, "untrusted_did") && strcmp(d.scope.name, "wide") == 0);
        d = decide(q, "atcr.io/acme/app:v1", ALICE, 0);
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
        atv_policy_scope_for(p, "a/b:c", &s);
        CHECK(s.matched && s.action == ATV_POLICY_ENFORCE && s.require_signature == 1 &&
              s.min_signatures == 1);
        /* top-level map fallback: the map's DIDs are trusted, others not */
        d = decide(p, "a/b:c", BOT, 0);
        CHECK(reason_is(&d, NULL));
        d = decide(p, "a/b:c", ALICE, 0);
        CHECK(reason_is(&d, "untrusted_did"));
    }
    atv_policy_free(p);

    /* audit, signature false, explicit minSignatures, a quoted "true" name,
     * plain datetimes, JSON's {} for a DID without window */
    p = must("{\"trustedDIDs\": {\"" BOT "\": {}, \"" ALICE "\": {\"name\": \"A\"},"
             " \"" CI "\": {\"validFrom\": \"2030-01-01T00:00:00+02:00\"}},"
             " \"policies\": [{\"name\": \"true\", \"scope\": \"x/*\", \"action\": \"audit\","
             " \"require\": {\"signature\": false, \"minSignatures\": 3}}]}");
    if (p != NULL) {
        atv_policy_scope_for(p, "x/y:1", &s);
        CHECK(s.matched && strcmp(s.name, "true") == 0 && s.action == ATV_POLICY_AUDIT &&
              s.require_signature == 0 && s.min_signatures == 3);
        d = decide(p, "x/y:1", CI, 1893448800 - 1); /* 2029-12-31T22:00:00Z - 1 */
        CHECK(reason_is(&d, "did_not_yet_valid"));
        d = decide(p, "x/y:1", CI, 1893448800);
        CHECK(reason_is(&d, NULL));
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
        d = decide(p, "atcr.io/a/b:v1", BOT, T_MID);
        CHECK(reason_is(&d, "untrusted_did") && d.scope.matched &&
              strcmp(d.scope.name, "trustedDIDs") == 0);
    }
    atv_policy_free(p);

    CHECK_STATUS(atv_policy_from_dids(one, 1, &p, &err), ATV_OK, &err);
    if (p != NULL) {
        d = decide(p, "atcr.io/a/b/c@sha256:00", BOT, 0);
        CHECK(reason_is(&d, NULL) && d.scope.action == ATV_POLICY_ENFORCE &&
              d.scope.require_signature == 1 && d.scope.min_signatures == 1);
        d = decide(p, "localhost:5000/x:1", BOT, INT64_MAX);
        CHECK(reason_is(&d, NULL));
        d = decide(p, "", BOT, 0); /* "**" matches everything, the empty string too */
        CHECK(reason_is(&d, NULL));
        d = decide(p, "atcr.io/a:v1", ALICE, 0);
        CHECK(reason_is(&d, "untrusted_did") && strstr(d.msg, "trustedDIDs") != NULL);
    }
    atv_policy_free(p);

    CHECK_STATUS(atv_policy_from_dids(several, 4, &p, &err), ATV_OK, &err);
    if (p != NULL) {
        for (size_t k = 0; k < 3; k++) {
            d = decide(p, "r/x:1", several[k], 0);
            CHECK_MSG(reason_is(&d, NULL), "%s trusted", several[k]);
        }
        d = decide(p, "r/x:1", STRANGER, 0);
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
    expect("require null", MINI "    require:\n", ATV_E_PARSE, "want a mapping, got null");
    expect("require list", MINI "    require: []\n", ATV_E_PARSE, "want a mapping");
    expect("dids not list", REQ("trustedDIDs: " BOT), ATV_E_PARSE, "want a sequence");
    expect("did not string", REQ("trustedDIDs: [1]"), ATV_E_PARSE, "want a string");
    expect("top dids list", "trustedDIDs: [" BOT "]\n" MINI, ATV_E_PARSE,
           "trustedDIDs: want a mapping");
    expect("top did scalar", "trustedDIDs:\n  " BOT ": yes\n" MINI, ATV_E_PARSE,
           "want a mapping or null");
    expect("policies map", "policies: {name: a}\n", ATV_E_PARSE, "policies: want a sequence");
    expect("policy scalar", "policies: [a]\n", ATV_E_PARSE, "policies[0]: want a mapping");
    expect("version plain", "version: 1.0\n" MINI, ATV_E_PARSE, "version: want a string");
    expect("version json",
           "{\"version\": 1.0, \"policies\": [{\"name\": \"a\", \"scope\": \"*\"}]}",
           ATV_E_PARSE, "version: want a string");
    expect("version 1.1", "version: \"1.1\"\n" MINI, ATV_E_UNSUPPORTED, "only \"1.0\"");

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
