/* Unit tests for referrer/manifest.c: strict OCI manifest and index parsing. */
#include "referrer/referrer.h"
#include "common/test.h"

#include <stdio.h>

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define SIGT "application/vnd.atproto.signature.v1+json"

/* The signature artifact as DESIGN.md defines it. */
static const char sig_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\","
    "\"artifactType\":\"" SIGT "\","
    "\"config\":{\"mediaType\":\"" ATV_REF_MT_EMPTY "\",\"digest\":\"" D1 "\",\"size\":2},"
    "\"layers\":[{\"mediaType\":\"" SIGT "\",\"digest\":\"" D2 "\",\"size\":512}],"
    "\"subject\":{\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"digest\":\"" D3
    "\",\"size\":1234},"
    "\"annotations\":{\"io.atcr.atproto.did\":\"did:plc:abc\",\"io.atcr.atproto.pds\":"
    "\"https://pds.example\",\"io.atcr.atproto.recordUri\":\"at://did:plc:abc/io.atcr.manifest/x\","
    "\"org.opencontainers.image.created\":\"2025-10-31T12:00:00Z\"},\"unknownField\":[1,2]}";

static enum atv_status parse_m(const char *s, struct atv_ref_manifest *m, struct atv_err *err)
{
    atv_err_clear(err);
    return atv_ref_manifest_parse((struct atv_bytes){(const uint8_t *)s, strlen(s)}, m, err);
}

static enum atv_status parse_i(const char *s, struct atv_ref_index *ix, struct atv_err *err)
{
    atv_err_clear(err);
    return atv_ref_index_parse((struct atv_bytes){(const uint8_t *)s, strlen(s)}, ix, err);
}

static void test_good_manifest(void)
{
    struct atv_ref_manifest m;
    struct atv_err err;
    CHECK_STATUS(parse_m(sig_manifest, &m, &err), ATV_OK, &err);
    CHECK_STR(m.media_type, ATV_REF_MT_OCI_MANIFEST);
    CHECK_STR(atv_ref_manifest_artifact_type(&m), SIGT);
    CHECK_STR(m.config.digest, D1);
    CHECK_EQ(m.config.size, 2);
    CHECK_EQ(m.n_layers, 1u);
    CHECK_STR(m.layers[0].media_type, SIGT);
    CHECK_EQ(m.layers[0].size, 512);
    CHECK(m.has_subject == 1);
    CHECK_STR(m.subject.digest, D3);
    CHECK(m.ann_did != NULL && strcmp(m.ann_did, "did:plc:abc") == 0);
    CHECK(m.ann_pds != NULL && strcmp(m.ann_pds, "https://pds.example") == 0);
    CHECK(m.ann_record_uri != NULL &&
          strcmp(m.ann_record_uri, "at://did:plc:abc/io.atcr.manifest/x") == 0);
    atv_ref_manifest_cleanup(&m);

    /* no artifactType: the config media type; no mediaType; docker v2; zero layers */
    CHECK_STATUS(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
                         "\",\"size\":0},\"layers\":[]}",
                         &m, &err),
                 ATV_OK, &err);
    CHECK_STR(atv_ref_manifest_artifact_type(&m), "a/b");
    CHECK(m.has_subject == 0 && m.n_layers == 0 && m.ann_did == NULL);
    atv_ref_manifest_cleanup(&m);
    CHECK_STATUS(parse_m("{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_DOCKER_MANIFEST
                         "\",\"config\":{\"mediaType\":\"" ATV_REF_MT_EMPTY "\",\"digest\":\"" D1
                         "\",\"size\":2},\"layers\":[]}",
                         &m, &err),
                 ATV_OK, &err);
    CHECK_STR(atv_ref_manifest_artifact_type(&m), "");
    atv_ref_manifest_cleanup(&m);
}

struct bad {
    const char *json;
    enum atv_status want;
};

#define CFG "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":2}"
#define LAY(x) "\"layers\":[" x "]"
#define DESC(mt, dg, sz) "{\"mediaType\":" mt ",\"digest\":" dg ",\"size\":" sz "}"

static void test_bad_manifest(void)
{
    static const struct bad cases[] = {
        {"", ATV_E_PARSE},
        {"[]", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY("") "} x", ATV_E_PARSE},        /* trailing */
        {"{\"schemaVersion\":2," CFG "," LAY("") ",\"schemaVersion\":2}", ATV_E_PARSE}, /* dup */
        {"{\"schemaVersion\":2," CFG "," LAY("") ",\"annotations\":{\"k\":\"a\",\"k\":\"b\"}}",
         ATV_E_PARSE},
        {"{" CFG "," LAY("") "}", ATV_E_PARSE},                             /* no schemaVersion */
        {"{\"schemaVersion\":1," CFG "," LAY("") "}", ATV_E_PARSE},
        {"{\"schemaVersion\":\"2\"," CFG "," LAY("") "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2.0," CFG "," LAY("") "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," LAY("") "}", ATV_E_PARSE},                 /* no config */
        {"{\"schemaVersion\":2," CFG "}", ATV_E_PARSE},                     /* no layers */
        {"{\"schemaVersion\":2," CFG ",\"layers\":{}}", ATV_E_PARSE},
        {"{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_OCI_INDEX "\"," CFG "," LAY("") "}",
         ATV_E_UNSUPPORTED},
        {"{\"schemaVersion\":2,\"mediaType\":7," CFG "," LAY("") "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2,\"artifactType\":\"nope\"," CFG "," LAY("") "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "\"" D2 "\"", "-1")) "}",
         ATV_E_PARSE},                                                        /* negative size */
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "\"" D2 "\"", "1.0")) "}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "\"" D2 "\"", "\"1\"")) "}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "\"" D2 "\"", "1e3")) "}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"ab\"", "\"" D2 "\"", "1")) "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"\"", "\"" D2 "\"", "1")) "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("1", "\"" D2 "\"", "1")) "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "\"sha256:12\"", "1")) "}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG ","
         LAY(DESC("\"a/b\"", "\"sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                             "AAAAA\"", "1")) "}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "\"sha512:" "ab\"", "1")) "}",
         ATV_E_UNSUPPORTED},
        {"{\"schemaVersion\":2," CFG "," LAY(DESC("\"a/b\"", "null", "1")) "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY("{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\"}") "}",
         ATV_E_PARSE},                                                        /* no size */
        {"{\"schemaVersion\":2," CFG "," LAY("\"x\"") "}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY("") ",\"subject\":[]}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY("") ",\"annotations\":[]}", ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY("") ",\"annotations\":{\"io.atcr.atproto.did\":1}}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2," CFG "," LAY("") ",\"annotations\":{\"other\":true}}",
         ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct atv_ref_manifest m;
        struct atv_err err;
        enum atv_status rc = parse_m(cases[i].json, &m, &err);
        CHECK_MSG(rc == cases[i].want, "manifest bad[%zu] -> %s (%s)", i, atv_status_name(rc),
                  err.msg);
        CHECK(m.layers == NULL && m.n_layers == 0 && m.config.digest[0] == '\0');
    }
}

static void test_layer_cap(void)
{
    char buf[40000];
    struct atv_ref_manifest m;
    struct atv_err err;
    for (unsigned total = ATV_REF_MAX_LAYERS; total <= ATV_REF_MAX_LAYERS + 1; total++) {
        size_t o = (size_t)snprintf(buf, sizeof buf, "{\"schemaVersion\":2," CFG ",\"layers\":[");
        for (unsigned i = 0; i < total; i++) {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s" DESC("\"a/b\"", "\"" D2 "\"", "1"),
                                  i == 0 ? "" : ",");
        }
        (void)snprintf(buf + o, sizeof buf - o, "]}");
        enum atv_status want = total <= ATV_REF_MAX_LAYERS ? ATV_OK : ATV_E_LIMIT;
        CHECK_STATUS(parse_m(buf, &m, &err), want, &err);
        CHECK(want != ATV_OK || m.n_layers == ATV_REF_MAX_LAYERS);
        atv_ref_manifest_cleanup(&m);
    }
}

static void test_index(void)
{
    struct atv_ref_index ix;
    struct atv_err err;
    /* a referrers answer / tag-schema index as distribution-spec v1.1 shows it */
    const char *good =
        "{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_OCI_INDEX "\",\"manifests\":["
        "{\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":700,"
        "\"artifactType\":\"" SIGT "\",\"annotations\":{\"io.atcr.atproto.did\":\"did:plc:x\"}},"
        "{\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":10}]}";
    CHECK_STATUS(parse_i(good, &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 2u);
    CHECK_STR(ix.manifests[0].artifact_type, SIGT);
    CHECK(ix.manifests[0].ann_did != NULL && strcmp(ix.manifests[0].ann_did, "did:plc:x") == 0);
    CHECK_STR(ix.manifests[1].artifact_type, "");
    atv_ref_index_cleanup(&ix);
    CHECK_STATUS(parse_i("{\"schemaVersion\":2,\"manifests\":[]}", &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 0u);
    atv_ref_index_cleanup(&ix);

    static const struct bad cases[] = {
        {"{\"schemaVersion\":2}", ATV_E_PARSE},
        {"{\"schemaVersion\":2,\"manifests\":{}}", ATV_E_PARSE},
        {"{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}", ATV_E_PARSE},
        {"{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"manifests\":[]}",
         ATV_E_UNSUPPORTED},
        {"{\"schemaVersion\":2,\"manifests\":[" DESC("\"a/b\"", "\"" D1 "\"", "1") ","
         "{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1,\"artifactType\":5}]}",
         ATV_E_PARSE},
        {"{\"schemaVersion\":2,\"manifests\":[" DESC("\"a/b\"", "\"" D1 "\"", "-5") "]}",
         ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum atv_status rc = parse_i(cases[i].json, &ix, &err);
        CHECK_MSG(rc == cases[i].want, "index bad[%zu] -> %s (%s)", i, atv_status_name(rc),
                  err.msg);
        CHECK(ix.manifests == NULL && ix.n == 0);
    }
}

int main(void)
{
    test_good_manifest();
    test_bad_manifest();
    test_layer_cap();
    test_index();
    return atv_test_done();
}
