/* The signature artifact parser: the sample, then one broken field at a time. */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>
#include <stdlib.h>

static json_t *sample(void)
{
    json_error_t jerr;
    return json_load_file("testdata/artifacts/signature.json", 0, &jerr);
}

static enum atv_status parse_json(json_t *j, struct atv_sig_artifact *a, struct atv_err *err)
{
    char *s = json_dumps(j, JSON_COMPACT);
    atv_err_clear(err);
    enum atv_status rc = atv_atp_artifact_parse(atv_bytes_str(s), a, err);
    free(s);
    return rc;
}

/* Sets path "obj.key" (or "key" at the root) to v (stolen); v NULL deletes. */
static void set(json_t *root, const char *obj, const char *key, json_t *v)
{
    json_t *o = obj != NULL ? json_object_get(root, obj) : root;
    if (v == NULL) {
        (void)json_object_del(o, key);
    } else {
        (void)json_object_set_new(o, key, v);
    }
}

static void test_sample(void)
{
    struct atv_sig_artifact a;
    struct atv_err err;
    json_t *j = sample();
    char cs[ATV_CID_STR_CAP];

    CHECK(j != NULL);
    CHECK_STATUS(parse_json(j, &a, &err), ATV_OK, &err);
    CHECK_STR(a.did, "did:plc:ywcuk4xmsixysawbbr4i5zkv");
    CHECK_STR(a.record.collection, "io.atcr.manifest");
    CHECK_STR(a.subject_digest,
              "sha256:0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df84");
    CHECK_STR(a.handle, "fixture.example.com");
    CHECK_STR(a.pds, "https://pds.example.com");
    CHECK(a.has_commit);
    atv_atp_cid_to_str(&a.commit, cs);
    CHECK_STR(cs, "bafyreici3iauj5lys34yo3b4jfu7iltyotgktx53rwkpksfqriiivahmbe");
    CHECK(a.algorithm == ATV_KEY_K256);

    /* optional claims may be absent; unknown fields are ignored */
    set(j, "atproto", "handle", NULL);
    set(j, "atproto", "pdsEndpoint", NULL);
    set(j, "atproto", "commitCid", NULL);
    set(j, "signature", "keyId", NULL);
    set(j, NULL, "x-future", json_string("ignored"));
    CHECK_STATUS(parse_json(j, &a, &err), ATV_OK, &err);
    CHECK(a.handle[0] == '\0' && a.pds[0] == '\0' && !a.has_commit);
    json_decref(j);
}

struct bad {
    const char *name;
    const char *obj, *key;
    const char *value; /* JSON text, NULL deletes */
};

static const struct bad bads[] = {
    {"wrong $type", NULL, "$type", "\"io.atcr.manifest\""},
    {"missing $type", NULL, "$type", NULL},
    {"version 2.0", NULL, "version", "\"2.0\""},
    {"version as a number", NULL, "version", "1.0"},
    {"subject not an object", NULL, "subject", "\"sha256:00\""},
    {"missing atproto", NULL, "atproto", NULL},
    {"missing signature", NULL, "signature", NULL},
    {"upper-case digest", "subject", "digest",
     "\"sha256:0BA379303B81C513BD8D6A827BF93A3318DE4E3FE3F0A678C0E0C6F72722DF84\""},
    {"sha512 digest", "subject", "digest", "\"sha512:00\""},
    {"short digest", "subject", "digest", "\"sha256:0ba3\""},
    {"digest as a number", "subject", "digest", "5"},
    {"missing did", "atproto", "did", NULL},
    {"did not a DID", "atproto", "did", "\"alice\""},
    {"recordUri for another DID", "atproto", "recordUri",
     "\"at://did:plc:szqirm5pvtgm2gddqxtwn74o/io.atcr.manifest/abc\""},
    {"recordUri with a handle", "atproto", "recordUri",
     "\"at://fixture.example.com/io.atcr.manifest/abc\""},
    {"recordUri without rkey", "atproto", "recordUri",
     "\"at://did:plc:ywcuk4xmsixysawbbr4i5zkv/io.atcr.manifest\""},
    {"missing recordUri", "atproto", "recordUri", NULL},
    {"handle not a handle", "atproto", "handle", "\"not a handle\""},
    {"pds not a URL", "atproto", "pdsEndpoint", "\"ftp://pds.example.com\""},
    {"commitCid not a CID", "atproto", "commitCid", "\"bafy\""},
    {"signedAt not a datetime", "atproto", "signedAt", "\"yesterday\""},
    {"unknown algorithm", "signature", "algorithm", "\"EdDSA\""},
    {"missing algorithm", "signature", "algorithm", NULL},
    {"keyId as an array", "signature", "keyId", "[]"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        struct atv_sig_artifact a;
        struct atv_err err;
        json_error_t jerr;
        json_t *j = sample();
        json_t *v = bads[i].value != NULL
                        ? json_loads(bads[i].value, JSON_DECODE_ANY, &jerr)
                        : NULL;
        set(j, bads[i].obj, bads[i].key, v);
        enum atv_status rc = parse_json(j, &a, &err);
        CHECK_MSG(rc != ATV_OK && a.did[0] == '\0' && err.reason != NULL,
                  "refuses %s (%s, %s: %s)", bads[i].name, atv_status_name(rc),
                  err.reason != NULL ? err.reason : "-", err.msg);
        json_decref(j);
    }
}

static void test_raw(void)
{
    static const char *const raws[] = {
        "", "[]", "null", "{\"$type\":\"io.atcr.atproto.signature\",\"$type\":\"x\"}",
        "{\"$type\":\"io.atcr.atproto.signature\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
        struct atv_sig_artifact a;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK_MSG(atv_atp_artifact_parse(atv_bytes_str(raws[i]), &a, &err) == ATV_E_PARSE,
                  "refuses raw input %zu (%s)", i, err.msg);
    }
    CHECK(atv_atp_digest_valid(
        "sha256:0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df84"));
    CHECK(!atv_atp_digest_valid(
        "sha256:0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df8"));
    CHECK(!atv_atp_digest_valid(
        "sha256:0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df84a"));
    CHECK(!atv_atp_digest_valid(NULL));
}

int main(void)
{
    test_sample();
    test_bad();
    test_raw();
    return atv_test_done();
}
