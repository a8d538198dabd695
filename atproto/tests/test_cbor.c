/* DAG-CBOR: the official data-model fixtures, then hand-made negatives for
 * every strictness rule in atproto/cbor.c. */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>

static int decode_hex(const char *hex, struct atv_buf *b)
{
    atv_buf_init(b, 1 << 16);
    return atv_hex_decode(hex, strlen(hex), b, NULL) == ATV_OK;
}

static void test_fixtures(void)
{
    json_error_t jerr;
    json_t *all = json_load_file(atv_test_shared("vectors/atproto-interop/data-model/"
                                                 "data-model-fixtures.json"),
                                 0, &jerr);
    size_t i, n = json_array_size(all);
    json_t *c;

    CHECK_MSG(all != NULL && n >= 3, "data-model fixtures load (%zu cases)", n);
    json_array_foreach(all, i, c)
    {
        const char *b64 = json_string_value(json_object_get(c, "cbor_base64"));
        const char *cid = json_string_value(json_object_get(c, "cid"));
        struct atv_buf bin, re, js;
        struct atv_cbor_doc *doc = NULL;
        struct atv_err err;
        struct atv_cid got;
        char gots[ATV_CID_STR_CAP];
        json_t *mine = NULL;

        atv_err_clear(&err);
        atv_buf_init(&bin, 1 << 20);
        atv_buf_init(&re, 1 << 20);
        atv_buf_init(&js, 1 << 20);
        CHECK_STATUS(atv_base64_decode(b64, strlen(b64), &bin, &err), ATV_OK, &err);
        CHECK_STATUS(atv_atp_cbor_decode(atv_buf_view(&bin), &doc, &err), ATV_OK, &err);
        if (doc != NULL) {
            CHECK_STATUS(atv_atp_cbor_encode(doc, atv_atp_cbor_root(doc), NULL, &re, &err), ATV_OK,
                         &err);
            CHECK_MSG(atv_bytes_eq(atv_buf_view(&re), atv_buf_view(&bin)),
                      "fixture %zu re-encodes byte for byte", i);
            CHECK_STATUS(atv_atp_cbor_to_json(doc, atv_atp_cbor_root(doc), &js, &err), ATV_OK,
                         &err);
            mine = json_loadb((const char *)js.ptr, js.len, 0, &jerr);
            CHECK_MSG(json_equal(mine, json_object_get(c, "json")),
                      "fixture %zu renders the fixture's JSON", i);
        }
        atv_atp_cid_of(ATV_CODEC_DAG_CBOR, atv_buf_view(&bin), &got);
        atv_atp_cid_to_str(&got, gots);
        CHECK_STR(gots, cid);
        json_decref(mine);
        atv_atp_cbor_free(doc);
        atv_buf_cleanup(&bin);
        atv_buf_cleanup(&re);
        atv_buf_cleanup(&js);
    }
    json_decref(all);
}

/* Each must be rejected with the given status. */
static const struct {
    const char *name;
    const char *hex;
    enum atv_status want;
} bad_cases[] = {
    {"empty input", "", ATV_E_PARSE},
    {"non-minimal uint 5 in one extra byte", "1805", ATV_E_PARSE},
    {"non-minimal uint 255 in two bytes", "1900ff", ATV_E_PARSE},
    {"non-minimal uint in eight bytes", "1b00000000ffffffff", ATV_E_PARSE},
    {"non-minimal negint", "3800", ATV_E_PARSE},
    {"non-minimal text length", "780161", ATV_E_PARSE},
    {"non-minimal bytes length", "580101", ATV_E_PARSE},
    {"non-minimal array count", "980100", ATV_E_PARSE},
    {"non-minimal map count", "b80161610100", ATV_E_PARSE},
    {"uint above int64", "1bffffffffffffffff", ATV_E_PARSE},
    {"negint below int64", "3bffffffffffffffff", ATV_E_PARSE},
    {"indefinite bytes", "5f4101ff", ATV_E_PARSE},
    {"indefinite text", "7f6161ff", ATV_E_PARSE},
    {"indefinite array", "9f01ff", ATV_E_PARSE},
    {"indefinite map", "bf616101ff", ATV_E_PARSE},
    {"lone break", "ff", ATV_E_PARSE},
    {"half float", "f93c00", ATV_E_PARSE},
    {"single float", "fa3f800000", ATV_E_PARSE},
    {"double float", "fb3ff0000000000000", ATV_E_PARSE},
    {"integer-valued double", "fb4028000000000000", ATV_E_PARSE},
    {"undefined", "f7", ATV_E_PARSE},
    {"simple value 16", "f0", ATV_E_PARSE},
    {"simple value in one byte", "f820", ATV_E_PARSE},
    {"tag 0 (date)", "c074323031332d30332d32315432303a30343a30305a", ATV_E_PARSE},
    {"tag 43", "d82b4100", ATV_E_PARSE},
    {"tag 42 over text", "d82a6161", ATV_E_PARSE},
    {"tag 42 without the 0x00 prefix",
     "d82a5824017112200000000000000000000000000000000000000000000000000000000000000000",
     ATV_E_PARSE},
    {"tag 42 over a CIDv0 multihash",
     "d82a58230012200000000000000000000000000000000000000000000000000000000000000000",
     ATV_E_UNSUPPORTED},
    {"tag 42 with a truncated CID", "d82a580400017112", ATV_E_PARSE},
    {"tag 42 with sha-512 multihash",
     "d82a58260001711340000000000000000000000000000000000000000000000000000000000000000000",
     ATV_E_UNSUPPORTED},
    {"keys out of order", "a2616202616101", ATV_E_PARSE},
    {"longer key before shorter", "a262616101617a02", ATV_E_PARSE},
    {"duplicate key", "a2616101616102", ATV_E_PARSE},
    {"integer key", "a10102", ATV_E_PARSE},
    {"bytes key", "a1416101", ATV_E_PARSE},
    {"invalid utf-8", "62c328", ATV_E_PARSE},
    {"overlong utf-8", "62c0af", ATV_E_PARSE},
    {"utf-16 surrogate in utf-8", "63eda080", ATV_E_PARSE},
    {"trailing byte", "0000", ATV_E_PARSE},
    {"truncated text", "6361", ATV_E_PARSE},
    {"truncated map", "a26161", ATV_E_PARSE},
    {"array count beyond the input", "9b000000010000000000", ATV_E_PARSE},
    {"map count beyond the input", "bb0000000100000000", ATV_E_PARSE},
    {"reserved additional info", "1c", ATV_E_PARSE},
};

static void test_negatives(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct atv_buf b;
        struct atv_cbor_doc *doc = NULL;
        struct atv_err err;
        atv_err_clear(&err);
        int hexok = decode_hex(bad_cases[i].hex, &b);
        enum atv_status rc = atv_atp_cbor_decode(atv_buf_view(&b), &doc, &err);
        CHECK_MSG(hexok && rc == bad_cases[i].want && doc == NULL, "rejects %s (%s: %s)",
                  bad_cases[i].name, atv_status_name(rc), err.msg);
        atv_atp_cbor_free(doc);
        atv_buf_cleanup(&b);
    }
}

static void test_depth_and_order(void)
{
    struct atv_buf b;
    struct atv_cbor_doc *doc = NULL;
    struct atv_err err;
    uint8_t deep[64];

    /* length-first key order: "z" sorts before "aa" */
    atv_err_clear(&err);
    CHECK(decode_hex("a2617a0162616102", &b));
    CHECK_STATUS(atv_atp_cbor_decode(atv_buf_view(&b), &doc, &err), ATV_OK, &err);
    const struct atv_dv *v = atv_atp_cbor_get(doc, atv_atp_cbor_root(doc), "aa");
    CHECK(v != NULL && v->kind == ATV_DV_INT && v->i == 2);
    struct atv_buf re;
    atv_buf_init(&re, 64);
    CHECK_STATUS(atv_atp_cbor_encode(doc, atv_atp_cbor_root(doc), "z", &re, &err), ATV_OK, &err);
    CHECK(re.len == 5 && memcmp(re.ptr, "\xa1\x62\x61\x61\x02", 5) == 0);
    atv_buf_cleanup(&re);
    atv_atp_cbor_free(doc);
    doc = NULL;
    atv_buf_cleanup(&b);

    /* the deepest allowed nesting decodes; one more level is a limit */
    for (size_t d = ATV_MAX_CBOR_DEPTH; d <= ATV_MAX_CBOR_DEPTH + 1; d++) {
        struct atv_bytes in = {deep, d + 1};
        memset(deep, 0x81, d); /* d arrays of one item */
        deep[d] = 0x00;
        atv_err_clear(&err);
        enum atv_status rc = atv_atp_cbor_decode(in, &doc, &err);
        CHECK_MSG(rc == (d == ATV_MAX_CBOR_DEPTH ? ATV_OK : ATV_E_LIMIT),
                  "nesting %zu gives %s (%s)", d, atv_status_name(rc), err.msg);
        atv_atp_cbor_free(doc);
        doc = NULL;
    }

    /* negative integers and booleans round-trip */
    atv_err_clear(&err);
    CHECK(decode_hex("8520383f3b7ffffffffffffffef5f6", &b));
    b.len = 15;
    CHECK_STATUS(atv_atp_cbor_decode(atv_buf_view(&b), &doc, &err), ATV_OK, &err);
    if (doc != NULL) {
        const struct atv_dv *r = atv_atp_cbor_root(doc);
        CHECK(atv_atp_cbor_item(doc, r, 0)->i == -1);
        CHECK(atv_atp_cbor_item(doc, r, 1)->i == -64);
        CHECK(atv_atp_cbor_item(doc, r, 2)->i == INT64_MIN + 1);
        CHECK(atv_atp_cbor_item(doc, r, 5) == NULL);
        atv_buf_init(&re, 64);
        CHECK_STATUS(atv_atp_cbor_encode(doc, r, NULL, &re, &err), ATV_OK, &err);
        CHECK(atv_bytes_eq(atv_buf_view(&re), atv_buf_view(&b)));
        atv_buf_cleanup(&re);
    }
    atv_atp_cbor_free(doc);
    atv_buf_cleanup(&b);
}

int main(void)
{
    test_fixtures();
    test_negatives();
    test_depth_and_order();
    return atv_test_done();
}
