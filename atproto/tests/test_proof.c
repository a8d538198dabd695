/* Proof verification against fixtures produced by the official TypeScript
 * implementation (testdata/proofs, made by testdata/tsgen/gen-proof.mjs):
 * every case must match what @atproto/repo's verifyProofs decided. Then the
 * adversarial sweeps: every single flipped byte and every truncation of a
 * valid proof must fail, and every key of the full repository is found. */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>

static const char *const curves[] = {"k256", "p256"};

static int load(const char *curve, const char *file, struct atv_buf *b)
{
    char path[512];
    struct atv_err err;
    atv_err_clear(&err);
    atv_buf_init(b, ATV_MAX_CAR);
    (void)snprintf(path, sizeof path, "testdata/proofs/%s/%s", curve, file);
    if (atv_buf_read_file(b, path, &err) != ATV_OK) {
        DIAG("%s", err.msg);
        return 0;
    }
    return 1;
}

static json_t *load_fixture(const char *curve)
{
    char path[512];
    json_error_t jerr;
    (void)snprintf(path, sizeof path, "testdata/proofs/%s/fixture.json", curve);
    return json_load_file(path, 0, &jerr);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* Expected reason for each negative case: what a user sees. */
static const char *want_reason(const char *name)
{
    static const struct {
        const char *name, *reason;
    } map[] = {
        {"bad-wrong-key", "bad_signature"},
        {"bad-high-s", "bad_signature"},
        {"bad-did-mismatch", "did_mismatch"},
        {"bad-record-tampered", "block_hash_mismatch"},
        {"bad-record-missing", "proof_incomplete"},
        {"bad-mst-node-missing", "proof_incomplete"},
        {"bad-absent-mst-node-missing", "proof_incomplete"},
        {"bad-commit-v2", "unsupported_commit_version"},
        {"present-wrong-didkey", "bad_signature"},
        {"present-cross-curve-didkey", "bad_signature"},
        {"present-wrong-did", "did_mismatch"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].name, name) == 0) {
            return map[i].reason;
        }
    }
    return NULL;
}

static void run_cases(const char *curve, json_t *fx)
{
    json_t *cases = json_object_get(fx, "cases");
    size_t i, n = json_array_size(cases);
    json_t *c;

    CHECK_MSG(n >= 12, "%s: %zu official cases", curve, n);
    json_array_foreach(cases, i, c)
    {
        const char *name = jstr(c, "name");
        struct atv_buf car;
        struct atv_pubkey key;
        struct atv_proof pr;
        struct atv_err err;
        enum atv_status rc;
        char rcid[ATV_CID_STR_CAP] = "";

        atv_err_clear(&err);
        if (!load(curve, jstr(c, "car"), &car)) {
            CHECK_MSG(0, "%s/%s: CAR readable", curve, name);
            continue;
        }
        rc = atv_atp_key_parse_didkey(jstr(c, "didKey"), &key, &err);
        if (rc == ATV_OK) {
            rc = atv_atp_proof_verify(atv_buf_view(&car), jstr(c, "did"), &key,
                                      jstr(c, "collection"), jstr(c, "rkey"), &pr, &err);
        }
        int valid = rc == ATV_OK;
        int expect_valid = json_is_true(json_object_get(c, "expectValid"));
        if (valid && pr.present) {
            atv_atp_cid_to_str(&pr.record_cid, rcid);
        }
        if (expect_valid) {
            int want_present = json_is_true(json_object_get(c, "expectPresent"));
            const char *want_cid = json_string_value(json_object_get(c, "expectRecordCid"));
            CHECK_MSG(valid && pr.present == want_present &&
                          strcmp(rcid, want_cid != NULL ? want_cid : "") == 0,
                      "%s/%s: valid, present=%d record %s (official: %s) [%s]", curve, name,
                      want_present, rcid, jstr(c, "officialResult"), err.msg);
        } else {
            const char *wr = want_reason(name);
            CHECK_MSG(!valid && (wr == NULL || (err.reason != NULL && strcmp(err.reason, wr) == 0)),
                      "%s/%s: rejected with %s (got %s: %s; official: %s)", curve, name,
                      wr != NULL ? wr : "any reason", err.reason != NULL ? err.reason : "-",
                      err.msg, jstr(c, "officialResult"));
        }
        atv_buf_cleanup(&car);
    }
}

static void check_commit(const char *curve, json_t *fx)
{
    json_t *cm = json_object_get(fx, "commit");
    const char *bh = jstr(cm, "blockHex"), *uh = jstr(cm, "unsignedHex");
    struct atv_buf block, want_unsigned, got_unsigned;
    struct atv_commit commit;
    struct atv_err err;
    struct atv_cid cid;
    char cs[ATV_CID_STR_CAP], sighex[129];

    atv_err_clear(&err);
    atv_buf_init(&block, 4096);
    atv_buf_init(&want_unsigned, 4096);
    atv_buf_init(&got_unsigned, 4096);
    CHECK(atv_hex_decode(bh, strlen(bh), &block, &err) == ATV_OK);
    CHECK(atv_hex_decode(uh, strlen(uh), &want_unsigned, &err) == ATV_OK);
    CHECK_STATUS(atv_atp_commit_parse(atv_buf_view(&block), &commit, &got_unsigned, &err), ATV_OK,
                 &err);
    CHECK_MSG(atv_bytes_eq(atv_buf_view(&got_unsigned), atv_buf_view(&want_unsigned)),
              "%s: unsigned commit bytes equal what the TS library signed", curve);
    atv_atp_cid_of(ATV_CODEC_DAG_CBOR, atv_buf_view(&block), &cid);
    atv_atp_cid_to_str(&cid, cs);
    CHECK_STR(cs, jstr(cm, "cid"));
    CHECK_STR(commit.rev, jstr(cm, "rev"));
    CHECK_STR(commit.did, jstr(fx, "did"));
    atv_atp_cid_to_str(&commit.data, cs);
    CHECK_STR(cs, jstr(cm, "data"));
    atv_hex_encode((struct atv_bytes){commit.sig, 64}, sighex, sizeof sighex);
    CHECK_STR(sighex, jstr(cm, "sigHex"));
    CHECK(commit.has_prev == 0);
    atv_buf_cleanup(&block);
    atv_buf_cleanup(&want_unsigned);
    atv_buf_cleanup(&got_unsigned);
}

static void check_record(const char *curve, json_t *fx)
{
    json_t *rec = json_object_get(fx, "record");
    struct atv_buf car;
    struct atv_pubkey key;
    struct atv_proof pr;
    struct atv_err err;

    atv_err_clear(&err);
    CHECK(load(curve, "record-proof.car", &car));
    CHECK_STATUS(atv_atp_key_parse_didkey(jstr(fx, "didKey"), &key, &err), ATV_OK, &err);
    CHECK_STATUS(atv_atp_proof_verify(atv_buf_view(&car), jstr(fx, "did"), &key,
                                      jstr(rec, "collection"), jstr(rec, "rkey"), &pr, &err),
                 ATV_OK, &err);
    CHECK_STR(pr.digest, jstr(rec, "digest"));
    CHECK_STR(pr.record_type, "io.atcr.manifest");
    CHECK_STR(pr.rev, jstr(json_object_get(fx, "commit"), "rev"));

    /* every flipped byte must fail: every byte is hash-bound to the signed root */
    size_t flips_ok = 0;
    for (size_t i = 0; i < car.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            car.ptr[i] ^= (uint8_t)(1u << bit);
            atv_err_clear(&err);
            enum atv_status rc = atv_atp_proof_verify(atv_buf_view(&car), jstr(fx, "did"), &key,
                                                      jstr(rec, "collection"), jstr(rec, "rkey"),
                                                      &pr, &err);
            car.ptr[i] ^= (uint8_t)(1u << bit);
            if (rc != ATV_OK && err.reason != NULL) {
                flips_ok++;
            } else {
                DIAG("%s: flipping bit %u of byte %zu still verifies (%s)", curve, bit, i,
                     atv_status_name(rc));
            }
        }
    }
    CHECK_MSG(flips_ok == car.len * 2, "%s: all %zu single-bit flips of the proof fail with a reason",
              curve, car.len * 2);

    size_t cuts_ok = 0;
    for (size_t n = 0; n < car.len; n++) {
        struct atv_bytes cut = {car.ptr, n};
        atv_err_clear(&err);
        if (atv_atp_proof_verify(cut, jstr(fx, "did"), &key, jstr(rec, "collection"),
                                 jstr(rec, "rkey"), &pr, &err) != ATV_OK) {
            cuts_ok++;
        }
    }
    CHECK_MSG(cuts_ok == car.len, "%s: all %zu truncations fail", curve, car.len);
    atv_buf_cleanup(&car);
}

/* The full repository CAR proves every key present, and nearby keys absent. */
static void check_full_repo(const char *curve, json_t *fx)
{
    json_t *keys = json_object_get(fx, "allKeys");
    struct atv_buf car;
    struct atv_car *parsed = NULL;
    struct atv_err err;
    size_t i, found = 0, absent = 0;
    json_t *k;

    atv_err_clear(&err);
    CHECK(load(curve, "full-repo.car", &car));
    CHECK_STATUS(atv_atp_car_parse(atv_buf_view(&car), &parsed, &err), ATV_OK, &err);
    if (parsed == NULL) {
        atv_buf_cleanup(&car);
        return;
    }
    struct atv_cid data;
    struct atv_bytes cb;
    struct atv_commit commit;
    CHECK(atv_atp_car_get(parsed, atv_atp_car_root(parsed), &cb, &err) == ATV_OK);
    CHECK(atv_atp_commit_parse(cb, &commit, NULL, &err) == ATV_OK);
    data = commit.data;
    json_array_foreach(keys, i, k)
    {
        const char *s = json_string_value(k);
        char other[600];
        int f = 0;
        struct atv_cid v;
        if (atv_atp_mst_lookup(parsed, &data, atv_bytes_str(s), &f, &v, &err) == ATV_OK && f) {
            found++;
        }
        /* a key one character longer sorts right after this one and is absent */
        (void)snprintf(other, sizeof other, "%s0", s);
        if (atv_atp_mst_lookup(parsed, &data, atv_bytes_str(other), &f, &v, &err) == ATV_OK && !f) {
            absent++;
        }
    }
    CHECK_MSG(found == json_array_size(keys) && found >= 40, "%s: %zu/%zu keys found", curve,
              found, json_array_size(keys));
    CHECK_MSG(absent == json_array_size(keys), "%s: %zu/%zu neighbour keys proven absent", curve,
              absent, json_array_size(keys));
    atv_atp_car_free(parsed);
    atv_buf_cleanup(&car);
}

static void check_diddocs(const char *curve, json_t *fx)
{
    static const char *const docs[] = {"did-doc.json", "did-doc-legacy.json"};
    for (size_t d = 0; d < 2; d++) {
        struct atv_buf b;
        struct atv_diddoc doc;
        struct atv_pubkey want;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK(load(curve, docs[d], &b));
        CHECK_STATUS(atv_atp_diddoc_parse(atv_buf_view(&b), jstr(fx, "did"), &doc, &err), ATV_OK,
                     &err);
        CHECK(atv_atp_key_parse_didkey(jstr(fx, "didKey"), &want, &err) == ATV_OK);
        CHECK_MSG(doc.key.type == want.type && memcmp(doc.key.point, want.point, 33) == 0,
                  "%s/%s: the #atproto key is the signing key", curve, docs[d]);
        CHECK_STR(doc.pds, "https://pds.example.com");
        CHECK_STR(doc.handle, "fixture.example.com");
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_diddoc_parse(atv_buf_view(&b), jstr(fx, "otherDid"), &doc, &err),
                     ATV_E_VERIFY, &err);
        atv_buf_cleanup(&b);
    }
}

/* Expands a template: @D becomes the DID, @K the Multikey. */
static void expand(const char *t, const char *did, const char *key, char *out, size_t cap)
{
    size_t o = 0;
    for (; *t != '\0' && o + 1 < cap; t++) {
        const char *ins = NULL;
        if (t[0] == '@' && (t[1] == 'D' || t[1] == 'K')) {
            ins = t[1] == 'D' ? did : key;
            t++;
        }
        if (ins == NULL) {
            out[o++] = *t;
            continue;
        }
        for (; *ins != '\0' && o + 1 < cap; ins++) {
            out[o++] = *ins;
        }
    }
    out[o] = '\0';
}

/* DID documents we must refuse, each named. */
static void diddoc_negatives(void)
{
    static const char *const did = "did:plc:ywcuk4xmsixysawbbr4i5zkv";
    static const char *const key = "zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7";
    static const struct {
        const char *name;
        const char *tmpl;
        enum atv_status want;
    } cases[] = {
        {"not JSON", "{", ATV_E_PARSE},
        {"an array", "[]", ATV_E_PARSE},
        {"no id", "{\"verificationMethod\":[]}", ATV_E_PARSE},
        {"duplicate id key", "{\"id\":\"@D\",\"id\":\"@D\"}", ATV_E_PARSE},
        {"no verification method", "{\"id\":\"@D\"}", ATV_E_NOT_FOUND},
        {"controller differs",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"#atproto\",\"type\":\"Multikey\","
         "\"controller\":\"did:plc:zzzzzzzzzzzzzzzzzzzzzzzz\",\"publicKeyMultibase\":\"@K\"}]}",
         ATV_E_VERIFY},
        {"no controller",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"#atproto\",\"type\":\"Multikey\","
         "\"publicKeyMultibase\":\"@K\"}]}",
         ATV_E_VERIFY},
        {"unknown key type",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"@D#atproto\",\"type\":\"JsonWebKey2020\","
         "\"controller\":\"@D\",\"publicKeyMultibase\":\"@K\"}]}",
         ATV_E_UNSUPPORTED},
        {"other fragment only",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"@D#other\",\"type\":\"Multikey\","
         "\"controller\":\"@D\",\"publicKeyMultibase\":\"@K\"}]}",
         ATV_E_NOT_FOUND},
        {"another DID's fragment",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"did:plc:zzzzzzzzzzzzzzzzzzzzzzzz#atproto\","
         "\"type\":\"Multikey\",\"controller\":\"@D\",\"publicKeyMultibase\":\"@K\"}]}",
         ATV_E_NOT_FOUND},
        {"legacy type with a Multikey value",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"@D#atproto\",\"type\":"
         "\"EcdsaSecp256k1VerificationKey2019\",\"controller\":\"@D\",\"publicKeyMultibase\":\"@K\"}]}",
         ATV_E_PARSE},
        {"Multikey with a truncated value",
         "{\"id\":\"@D\",\"verificationMethod\":[{\"id\":\"@D#atproto\",\"type\":\"Multikey\","
         "\"controller\":\"@D\",\"publicKeyMultibase\":\"zQ3shvgt1ntaeAoEyHzAvevjG22St\"}]}",
         ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024];
        struct atv_diddoc doc;
        struct atv_err err;
        expand(cases[i].tmpl, did, key, json, sizeof json);
        atv_err_clear(&err);
        enum atv_status rc = atv_atp_diddoc_parse(atv_bytes_str(json), did, &doc, &err);
        /* parse-class failures may come back as parse, limit or unsupported */
        CHECK_MSG(rc != ATV_OK && doc.did[0] == '\0' &&
                      (rc == cases[i].want || cases[i].want == ATV_E_PARSE),
                  "did document refused: %s (%s: %s)", cases[i].name, atv_status_name(rc),
                  err.msg);
    }
}

int main(void)
{
    for (size_t c = 0; c < 2; c++) {
        json_t *fx = load_fixture(curves[c]);
        CHECK_MSG(fx != NULL, "%s: fixture.json loads", curves[c]);
        if (fx == NULL) {
            continue;
        }
        run_cases(curves[c], fx);
        check_commit(curves[c], fx);
        check_record(curves[c], fx);
        check_full_repo(curves[c], fx);
        check_diddocs(curves[c], fx);
        json_decref(fx);
    }
    diddoc_negatives();
    return atv_test_done();
}
