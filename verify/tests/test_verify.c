/* verify/: parameters, log lines, result fields, and the verdicts a pass
 * reaches without any server (configuration errors, refused connections).
 * The full chain against loopback servers is in integration/plugin-samples.bats. */
#include "verify/verify.h"

#include "common/test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum atv_status parse(const char *json, struct atv_vfy_params *p, struct atv_err *err)
{
    atv_vfy_params_cleanup(p);
    atv_vfy_params_init(p);
    atv_err_clear(err);
    return atv_vfy_params_parse(atv_bytes_str(json), p, err);
}

static void test_params_defaults(void)
{
    struct atv_vfy_params p;
    struct atv_err err;
    char want[64];

    atv_vfy_params_init(&p);
    CHECK_STATUS(parse("{}", &p, &err), ATV_OK, &err);
    CHECK_STR(p.plc, "https://plc.directory");
    CHECK_EQ(p.timeout_ms, 2500u);
    CHECK_EQ(p.did_cache_ttl_s, 300u);
    CHECK_EQ(p.verify_handle, 1);
    CHECK_EQ(p.plc_audit_log, 1); /* did:plc only from its verified log, by default */
    CHECK_EQ(p.allow_loopback_http, 0);
    CHECK_EQ(p.n_trusted, 0u);
    CHECK_EQ(p.has_trusted, 0);
    CHECK_EQ(p.n_collections, 0u);
    CHECK_STR(p.trust_policy, "");
    CHECK_EQ(p.bundle_max_age_s, 604800u); /* 7 days */
    (void)snprintf(want, sizeof want, "-%lu", (unsigned long)getuid());
    CHECK_MSG(strstr(p.cache_dir, "/atproto-verifier-") != NULL &&
                  strcmp(p.cache_dir + strlen(p.cache_dir) - strlen(want), want) == 0,
              "default cache dir is per user: %s", p.cache_dir);
    atv_vfy_params_cleanup(&p);
}

static void test_params_all(void)
{
    struct atv_vfy_params p;
    struct atv_err err;

    atv_vfy_params_init(&p);
    const char *all = "{\"name\":\"verifier-atproto\",\"type\":\"atproto\","
                       "\"artifactTypes\":\"application/vnd.atproto.signature.v1+json\","
                       "\"trustedDIDs\":[\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\","
                       "\"did:web:builds.example.com\"],"
                       "\"plcDirectory\":\"http://127.0.0.1:2582/\",\"cacheDir\":\"/tmp/x\","
                       "\"didCacheTTL\":0,\"timeoutMs\":900,"
                       "\"collections\":[\"io.atcr.manifest\",\"com.example.sig\"],"
                       "\"verifyHandle\":false,\"allowLoopbackHTTP\":true,"
                       "\"caFile\":\"/etc/ssl/certs/ca-certificates.crt\"}";
    CHECK_STATUS(parse(all, &p, &err), ATV_OK, &err);
    CHECK_EQ(p.n_trusted, 2u);
    CHECK_EQ(p.has_trusted, 1);
    CHECK_STR(p.trusted_dids[1], "did:web:builds.example.com");
    CHECK_STR(p.plc, "http://127.0.0.1:2582");
    CHECK_STR(p.cache_dir, "/tmp/x");
    CHECK_EQ(p.did_cache_ttl_s, 0u);
    CHECK_EQ(p.timeout_ms, 900u);
    CHECK_EQ(p.n_collections, 2u);
    CHECK_STR(p.collections[1], "com.example.sig");
    CHECK_EQ(p.verify_handle, 0);
    CHECK_EQ(p.allow_loopback_http, 1);
    CHECK_STR(p.ca_file, "/etc/ssl/certs/ca-certificates.crt");
    CHECK_STR(p.unknown, "");

    /* an empty list is given (has_trusted) but trusts nothing */
    CHECK_STATUS(parse("{\"plcAuditLog\":false}", &p, &err), ATV_OK, &err);
    CHECK_EQ(p.plc_audit_log, 0);
    CHECK_STATUS(parse("{\"plcAuditLog\":\"false\"}", &p, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "plcAuditLog") != NULL);
    CHECK_STATUS(parse("{\"trustedDIDs\":[]}", &p, &err), ATV_OK, &err);
    CHECK_EQ(p.has_trusted, 1);
    CHECK_EQ(p.n_trusted, 0u);

    /* unknown keys are listed for a warning, Ratify's own keys are not */
    const char *unk = "{\"trustedDID\":[],\"nestedReferences\":[],\"version\":\"1.0.0\","
                      "\"extra\":1}";
    CHECK_STATUS(parse(unk, &p, &err), ATV_OK, &err);
    CHECK_STR(p.unknown, "trustedDID, extra");
    atv_vfy_params_cleanup(&p);
}

static void test_params_bad(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"a\":1,\"a\":2}",
        "{\"trustedDIDs\":\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\"}",
        "{\"trustedDIDs\":[42]}",
        "{\"trustedDIDs\":[\"did:plc:\"]}",
        "{\"trustedDIDs\":[\"alice.bsky.social\"]}",
        "{\"trustPolicy\":\"relative/policy.yaml\"}",
        "{\"trustPolicy\":7}",
        "{\"cacheDir\":\"tmp\"}",
        "{\"plcDirectory\":\"ftp://plc.example\"}",
        "{\"plcDirectory\":true}",
        "{\"didCacheTTL\":\"300\"}",
        "{\"didCacheTTL\":-1}",
        "{\"didCacheTTL\":300.5}",
        "{\"didCacheTTL\":604801}",
        "{\"timeoutMs\":\"fast\"}",
        "{\"timeoutMs\":0}",
        "{\"timeoutMs\":60001}",
        "{\"collections\":[]}",
        "{\"collections\":[\"not an nsid\"]}",
        "{\"verifyHandle\":\"false\"}",
        "{\"allowLoopbackHTTP\":1}",
        "{\"bundleMaxAge\":59}",
        "{\"bundleMaxAge\":31536001}",
        "{\"bundleMaxAge\":0}",
        "{\"bundleMaxAge\":-604800}",
        "{\"bundleMaxAge\":\"7d\"}",
        "{\"bundleMaxAge\":604800.5}",
        "{\"bundleMaxAge\":null}",
        "{\"trustedDIDs\":[\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\\u0000x\"]}",
    };
    struct atv_vfy_params p;
    struct atv_err err;
    size_t i;

    atv_vfy_params_init(&p);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum atv_status rc = parse(bad[i], &p, &err);
        CHECK_MSG(rc == ATV_E_PARSE && err.msg[0] != '\0', "bad params %zu rejected: %s", i,
                  err.msg);
    }
    /* the message names the key */
    (void)parse("{\"timeoutMs\":\"fast\"}", &p, &err);
    CHECK(strstr(err.msg, "timeoutMs") != NULL);
    (void)parse("{\"bundleMaxAge\":59}", &p, &err);
    CHECK(strstr(err.msg, "bundleMaxAge") != NULL && strstr(err.msg, "60..31536000") != NULL);
    atv_vfy_params_cleanup(&p);

    /* bundleMaxAge: both ends of its range are allowed */
    atv_vfy_params_init(&p);
    CHECK_STATUS(parse("{\"bundleMaxAge\":60}", &p, &err), ATV_OK, &err);
    CHECK_EQ(p.bundle_max_age_s, 60u);
    CHECK_STATUS(parse("{\"bundleMaxAge\":31536000}", &p, &err), ATV_OK, &err);
    CHECK_EQ(p.bundle_max_age_s, 31536000u);
    atv_vfy_params_cleanup(&p);

    /* a list over the cap */
    {
        char *big = malloc(40 * (ATV_VFY_MAX_LIST + 1) + 32);
        size_t i2, off = 0;
        off += (size_t)snprintf(big, 32, "{\"collections\":[");
        for (i2 = 0; i2 <= ATV_VFY_MAX_LIST; i2++) {
            off += (size_t)snprintf(big + off, 40, "%s\"io.atcr.manifest\"", i2 ? "," : "");
        }
        (void)snprintf(big + off, 8, "]}");
        atv_vfy_params_init(&p);
        CHECK_STATUS(parse(big, &p, &err), ATV_E_PARSE, &err);
        atv_vfy_params_cleanup(&p);
        free(big);
    }
}

static void test_log(void)
{
    char buf[2 * ATV_VFY_MAX_LOG_LINE];
    char longarg[3 * ATV_VFY_MAX_LOG_LINE];
    FILE *f = tmpfile();
    struct atv_vfy_log lg = {f, 0, 0};
    size_t n;

    atv_vfy_logf(&lg, ATV_VFY_INFO, "fetched {x} %s", "a\nb\r}");
    atv_vfy_logf(&lg, ATV_VFY_DEBUG, "hidden");
    atv_vfy_logf(&lg, ATV_VFY_WARN, "w");
    lg.debug = 1;
    atv_vfy_logf(&lg, ATV_VFY_DEBUG, "shown");
    memset(longarg, 'x', sizeof longarg - 1);
    longarg[sizeof longarg - 1] = '\0';
    atv_vfy_logf(&lg, ATV_VFY_INFO, "%s", longarg);
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    {
        static const char want[] = "info: fetched (x) a b )\nwarn: w\ndebug: shown\ninfo: xxx";
        CHECK_MSG(strncmp(buf, want, sizeof want - 1) == 0, "log lines prefixed, braces replaced");
    }
    CHECK(strstr(buf, "hidden") == NULL);
    CHECK(strchr(buf, '{') == NULL && strchr(buf, '}') == NULL);
    /* the long line is cut to the cap, newline included */
    {
        const char *last = strstr(buf, "\ninfo: xxx") + 1;
        CHECK_MSG(strlen(last) <= ATV_VFY_MAX_LOG_LINE && last[strlen(last) - 1] == '\n',
                  "long line cut to %zu bytes", strlen(last));
    }
    (void)fclose(f);
    /* no file, no crash */
    lg.f = NULL;
    atv_vfy_logf(&lg, ATV_VFY_WARN, "nowhere");
    atv_vfy_logf(NULL, ATV_VFY_WARN, "nowhere");
}

static void test_fields(void)
{
    struct atv_vfy_result r;
    struct atv_vfy_field f[ATV_VFY_MAX_FIELDS];
    size_t n, i;
    int has_handle = 0;

    memset(&r, 0, sizeof r);
    r.reason = ATV_VFY_UNTRUSTED_SIGNER;
    (void)snprintf(r.did, sizeof r.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    (void)snprintf(r.detail, sizeof r.detail, "untrusted_did");
    n = atv_vfy_result_fields(&r, f);
    CHECK_EQ(n, 3u);
    CHECK_STR(f[0].key, "reason");
    CHECK_STR(f[0].str, "UNTRUSTED_SIGNER");
    CHECK_STR(f[1].key, "detail");
    CHECK_STR(f[2].key, "did");
    for (i = 0; i < n; i++) {
        has_handle |= strcmp(f[i].key, "handle") == 0;
    }
    CHECK(!has_handle);

    memset(&r, 0, sizeof r);
    r.success = 1;
    r.audit = 1;
    r.reason = ATV_VFY_RECORD_NOT_FOUND;
    n = atv_vfy_result_fields(&r, f);
    CHECK(n == 2 && f[1].is_bool && f[1].b == 1 && strcmp(f[1].key, "audit") == 0);

    memset(&r, 0, sizeof r);
    n = atv_vfy_result_fields(&r, f);
    CHECK_EQ(n, 0u);

    CHECK_STR(atv_vfy_reason_name(ATV_VFY_OK), "OK");
    CHECK_STR(atv_vfy_reason_name(ATV_VFY_TIMEOUT), "TIMEOUT");
    CHECK_STR(atv_vfy_reason_name(ATV_VFY_DIGEST_MISMATCH), "DIGEST_MISMATCH");
    CHECK_STR(atv_vfy_reason_name((enum atv_vfy_reason)99), "BAD_REQUEST");
}

/* Runs a pass with params from JSON against a subject; returns the reason. */
static enum atv_vfy_reason run(const char *params, const char *store_name, int use_http,
                               const char *subject, struct atv_vfy_result *res)
{
    struct atv_vfy_params p;
    struct atv_vfy_store st;
    struct atv_vfy_request rq;
    struct atv_err err;
    FILE *f = tmpfile();
    struct atv_vfy_log lg = {f, 1, 0};

    atv_vfy_params_init(&p);
    atv_err_clear(&err);
    if (atv_vfy_params_parse(atv_bytes_str(params), &p, &err) != ATV_OK) {
        DIAG("params: %s", err.msg);
    }
    atv_vfy_store_init(&st);
    (void)snprintf(st.name, sizeof st.name, "%s", store_name);
    st.use_http = use_http;
    memset(&rq, 0, sizeof rq);
    rq.subject = subject;
    rq.sig_digest = "sha256:41f57327e01a930da2cb37e4019801e0a4d7f806c37c0edd2d63c5790ced096b";
    rq.sig_size = 734;
    rq.params = &p;
    rq.store = &st;
    rq.now = 1767225600;
    rq.log = &lg;
    atv_vfy_run(&rq, res);
    atv_vfy_params_cleanup(&p);
    (void)fclose(f);
    return res->reason;
}

static void test_run_offline_verdicts(void)
{
    struct atv_vfy_result r;
    const char *subj =
        "127.0.0.1:1/atv/app@sha256:a33953238ff0c338ef47f101891e5ccef7cd448a60f9c714d36ebc7ed3a0e381";
    const char *trust = "{\"trustedDIDs\":[\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\"],"
                        "\"cacheDir\":\"/tmp/atv-test-verify-cache\",\"timeoutMs\":1500}";

    CHECK_EQ(run(trust, "other-store", 1, subj, &r), ATV_VFY_REGISTRY_ERROR);
    CHECK(!r.success && strstr(r.message, "other-store") != NULL);

    CHECK_EQ(run(trust, "oras", 1, "NOT A REFERENCE", &r), ATV_VFY_BAD_REQUEST);
    CHECK(!r.success);

    /* a port nobody listens on: refused, reported as a registry error */
    CHECK_EQ(run(trust, "oras", 1, subj, &r), ATV_VFY_REGISTRY_ERROR);
    CHECK_MSG(!r.success && strstr(r.message, "127.0.0.1") != NULL, "names the host: %s",
              r.message);
    CHECK_STR(r.subject_digest,
              "sha256:a33953238ff0c338ef47f101891e5ccef7cd448a60f9c714d36ebc7ed3a0e381");

    /* https is the default: a plain-http registry is refused before any byte */
    CHECK_EQ(run(trust, "oras", 0, subj, &r), ATV_VFY_REGISTRY_ERROR);

    /* both ways of trusting at once is a configuration error */
    CHECK_EQ(run("{\"trustedDIDs\":[],\"trustPolicy\":\"/nonexistent/policy.yaml\"}", "oras", 1,
                 subj, &r),
             ATV_VFY_BAD_REQUEST);
    /* an unreadable trust-policy file is a configuration error, never "allow" */
    CHECK_EQ(run("{\"trustPolicy\":\"/nonexistent/policy.yaml\"}", "oras", 1, subj, &r),
             ATV_VFY_BAD_REQUEST);
    CHECK(!r.success && !r.audit);

    /* a NULL request still yields a verdict */
    atv_vfy_run(NULL, &r);
    CHECK(!r.success && r.reason == ATV_VFY_BAD_REQUEST);
}

static void test_bundle(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"format\":\"other\",\"version\":2,\"entries\":[]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":3,\"entries\":[]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":\"1\",\"entries\":[]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":{}}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"blob\"}]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"nope\","
        "\"key\":\"k\",\"status\":200,\"fetchedAt\":1,\"data\":\"\"}]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"blob\","
        "\"key\":\"k\",\"status\":200,\"fetchedAt\":1,\"data\":\"!!\"}]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"blob\","
        "\"key\":\"k\",\"status\":-1,\"fetchedAt\":1,\"data\":\"\"}]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"blob\","
        "\"key\":\"k\",\"status\":200,\"fetchedAt\":1,\"data\":\"\",\"x\":1}]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"blob\","
        "\"key\":\"k\",\"status\":200,\"fetchedAt\":1,\"data\":\"\"},{\"kind\":\"blob\","
        "\"key\":\"k\",\"status\":200,\"fetchedAt\":1,\"data\":\"\"}]}",
        "{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[{\"kind\":\"blob\","
        "\"key\":\"\",\"status\":200,\"fetchedAt\":1,\"data\":\"\"}]}",
    };
    struct atv_vfy_bundle *b = NULL, *c = NULL;
    struct atv_bytes d;
    struct atv_err err;
    long st = 0;
    int64_t at = 0;
    char path[] = "/tmp/atv-test-bundle-XXXXXX";
    size_t i;
    int fd;

    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&b, &err), ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_BLOB, "sha256:ab", 200, atv_bytes_str("hello"),
                                    1700000000, &err),
                 ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_RECORD, "at://x/y/z", 400,
                                    atv_bytes_str("{\"error\":\"RecordNotFound\"}"), 1700000001,
                                    &err),
                 ATV_OK, &err);
    /* replacing keeps one entry */
    CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_BLOB, "sha256:ab", 200, atv_bytes_str("bye"),
                                    1700000002, &err),
                 ATV_OK, &err);
    CHECK_EQ(atv_vfy_bundle_count(b), 2u);
    CHECK_STATUS(atv_vfy_bundle_put(b, (enum atv_vfy_ev)9, "k", 200, atv_bytes_str(""), 1, &err),
                 ATV_E_USAGE, &err);
    atv_err_clear(&err);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    (void)close(fd);
    CHECK_STATUS(atv_vfy_bundle_save(b, path, 1700000003, &err), ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_load(path, &c, &err), ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_get(c, ATV_VFY_EV_BLOB, "sha256:ab", &st, &d, &at, &err), ATV_OK,
                 &err);
    CHECK(st == 200 && at == 1700000002 && d.len == 3 && memcmp(d.ptr, "bye", 3) == 0);
    CHECK_STATUS(atv_vfy_bundle_get(c, ATV_VFY_EV_RECORD, "at://x/y/z", &st, &d, NULL, &err),
                 ATV_OK, &err);
    CHECK_EQ(st, 400);
    CHECK_STATUS(atv_vfy_bundle_get(c, ATV_VFY_EV_MANIFEST, "sha256:ab", NULL, &d, NULL, &err),
                 ATV_E_NOT_FOUND, &err);
    CHECK(d.ptr == NULL && d.len == 0 && err.reason != NULL &&
          strcmp(err.reason, "not_in_bundle") == 0);
    (void)unlink(path);
    atv_vfy_bundle_free(b);
    atv_vfy_bundle_free(c);
    /* a missing file, and no temporary file left by a failed save */
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_load("/nonexistent/b.json", &c, &err), ATV_E_IO, &err);
    CHECK(c == NULL);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum atv_status rc;
        atv_err_clear(&err);
        rc = atv_vfy_bundle_parse(atv_bytes_str(bad[i]), &c, &err);
        CHECK_MSG(rc != ATV_OK && c == NULL, "bad bundle %zu rejected: %s", i, err.msg);
    }
    /* version 1 carried DID documents anyone could write: refused, with the way out */
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_parse(
                     atv_bytes_str("{\"format\":\"atcr-verify-bundle\",\"version\":1,\"entries\":[]}"),
                     &c, &err),
                 ATV_E_UNSUPPORTED, &err);
    CHECK(c == NULL && err.reason != NULL && strcmp(err.reason, "bundle_v1") == 0 &&
          strstr(err.msg, "export it again") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_parse(
                     atv_bytes_str("{\"format\":\"atcr-verify-bundle\",\"version\":2,\"entries\":[]}"),
                     &c, &err),
                 ATV_OK, &err);
    atv_vfy_bundle_free(c);
    c = NULL;
}

int main(void)
{
    test_params_defaults();
    test_params_all();
    test_params_bad();
    test_log();
    test_fields();
    test_run_offline_verdicts();
    test_bundle();
    return atv_test_done();
}
