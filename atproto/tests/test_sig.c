/* Unit tests for atproto/sig.c: Multikey, did:key and legacy keys, and
 * ECDSA verification on K-256 and P-256.
 *
 * Known answers: the atproto interop fixtures in
 * $ATV_SHARED/vectors/atproto-interop/crypto/ (default ../shared), which must
 * be present: a missing file is a failure, not a skip. Test code may call
 * libsecp256k1 and OpenSSL directly (to derive keys, decompress points and
 * make signatures of our own); production code does so only in sig.c.
 */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <secp256k1.h>
#include <stdlib.h>

/* Group orders (SEC 2 sections 2.4.1 and 2.4.2), big-endian. */
static const uint8_t k256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
};
static const uint8_t p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* What the fixtures give us for later negative tests. */
struct sample {
    int have;
    struct atv_pubkey key;
    uint8_t msg[64];
    size_t msg_len;
    uint8_t sig[64];
};

static struct sample good_k256, good_p256, high_k256, high_p256;
static struct atv_pubkey other_k256, other_p256; /* valid keys that did not sign */

/* ---- helpers ---------------------------------------------------------------- */

static struct atv_bytes bv(const uint8_t *p, size_t n)
{
    struct atv_bytes b = {p, n};
    return b;
}

/* out = a - b (32-byte big-endian, a >= b). */
static void be_sub(const uint8_t a[32], const uint8_t b[32], uint8_t out[32])
{
    int borrow = 0;
    for (size_t i = 32; i > 0; i--) {
        int d = (int)a[i - 1] - (int)b[i - 1] - borrow;
        borrow = d < 0 ? 1 : 0;
        out[i - 1] = (uint8_t)(d + (borrow != 0 ? 256 : 0));
    }
}

/* out = a >> 1 (32-byte big-endian). */
static void be_half(const uint8_t a[32], uint8_t out[32])
{
    unsigned carry = 0;
    for (size_t i = 0; i < 32; i++) {
        out[i] = (uint8_t)((a[i] >> 1) | (carry << 7));
        carry = a[i] & 1u;
    }
}

/* out = a + 1 (32-byte big-endian, no overflow in our uses). */
static void be_inc(const uint8_t a[32], uint8_t out[32])
{
    unsigned carry = 1;
    for (size_t i = 32; i > 0; i--) {
        unsigned v = a[i - 1] + carry;
        out[i - 1] = (uint8_t)v;
        carry = v >> 8;
    }
}

/* prefix + "z" + base58btc(p), NUL-terminated, into out. Returns 1 on success. */
static int z_string(const char *prefix, const uint8_t *p, size_t n, char *out, size_t cap)
{
    struct atv_err err;
    struct atv_buf b;
    int ok = 0;

    atv_err_clear(&err);
    atv_buf_init(&b, cap - 1);
    if (atv_buf_append(&b, prefix, strlen(prefix), &err) == ATV_OK &&
        atv_buf_push(&b, 'z', &err) == ATV_OK &&
        atv_atp_base58_encode(bv(p, n), &b, &err) == ATV_OK) {
        memcpy(out, b.ptr, b.len + 1); /* terminated; b.len < cap */
        ok = 1;
    } else {
        out[0] = '\0';
    }
    atv_buf_cleanup(&b);
    return ok;
}

/* Decodes standard unpadded base64 into out (at most cap bytes). */
static int b64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    struct atv_err err;
    struct atv_buf b;
    int ok = 0;

    atv_err_clear(&err);
    atv_buf_init(&b, cap);
    *len = 0;
    if (s != NULL && atv_base64_decode(s, strlen(s), &b, &err) == ATV_OK) {
        if (b.len > 0) {
            memcpy(out, b.ptr, b.len); /* b.len <= cap */
        }
        *len = b.len;
        ok = 1;
    }
    atv_buf_cleanup(&b);
    return ok;
}

static json_t *load_fixture(const char *name)
{
    const char *shared = getenv("ATV_SHARED");
    char path[1024];
    json_error_t jerr;

    if (shared == NULL || shared[0] == '\0') {
        shared = "../shared";
    }
    int n = snprintf(path, sizeof path, "%s/vectors/atproto-interop/crypto/%s", shared, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        CHECK_MSG(0, "fixture path for %s fits", name);
        return NULL;
    }
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    CHECK_MSG(root != NULL && json_is_array(root), "fixture %s loads (%s)", path,
              root == NULL ? jerr.text : "ok");
    if (root != NULL && !json_is_array(root)) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

static const char *jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The uncompressed 04||X||Y form of a compressed K-256 point, via libsecp256k1. */
static int k256_uncompress(const uint8_t comp[33], uint8_t out[65])
{
    secp256k1_pubkey pk;
    size_t len = 65;
    return secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, comp, 33) == 1 &&
           secp256k1_ec_pubkey_serialize(secp256k1_context_static, out, &len, &pk,
                                         SECP256K1_EC_UNCOMPRESSED) == 1 &&
           len == 65;
}

/* The uncompressed form of a compressed P-256 point, via OpenSSL. */
static int p256_uncompress(const uint8_t comp[33], uint8_t out[65])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *pt = g != NULL ? EC_POINT_new(g) : NULL;
    int ok = pt != NULL && EC_POINT_oct2point(g, pt, comp, 33, NULL) == 1 &&
             EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, out, 65, NULL) == 65;
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return ok;
}

/* Verifies and returns the status; on failure also checks the reason. */
static enum atv_status verify(const struct atv_pubkey *key, const uint8_t *msg, size_t msg_len,
                              const uint8_t *sig, size_t sig_len, struct atv_err *err)
{
    atv_err_clear(err);
    enum atv_status rc = atv_atp_sig_verify(key, bv(msg, msg_len), bv(sig, sig_len), err);
    if (rc == ATV_E_VERIFY && (err->reason == NULL || strcmp(err->reason, "bad_signature") != 0)) {
        CHECK_MSG(0, "a failed verification has reason bad_signature (got %s)",
                  err->reason != NULL ? err->reason : "none");
    }
    return rc;
}

/* ---- interop fixtures ------------------------------------------------------- */

static void fixture_case(const json_t *c, size_t idx)
{
    const char *comment = jstr(c, "comment");
    const char *alg = jstr(c, "algorithm");
    const char *did = jstr(c, "publicKeyDid");
    const char *mb = jstr(c, "publicKeyMultibase");
    const json_t *valid = json_object_get(c, "validSignature");
    const json_t *tags = json_object_get(c, "tags");
    uint8_t msg[64], sig[128];
    size_t msg_len = 0, sig_len = 0;
    struct atv_pubkey key;
    struct atv_err err;
    struct atv_buf raw;
    char back[128];

    if (comment == NULL || alg == NULL || did == NULL || mb == NULL || !json_is_boolean(valid)) {
        CHECK_MSG(0, "signature fixture %zu has every field", idx);
        return;
    }
    enum atv_key_type want = strcmp(alg, "ES256K") == 0  ? ATV_KEY_K256
                             : strcmp(alg, "ES256") == 0 ? ATV_KEY_P256
                                                         : ATV_KEY_NONE;
    CHECK_MSG(want != ATV_KEY_NONE, "fixture %zu: algorithm %s is known", idx, alg);

    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_didkey(did, &key, &err), ATV_OK, &err);
    CHECK_MSG(key.type == want, "fixture %zu: %s parses as %s", idx, did,
              atv_atp_key_type_name(want));

    /* publicKeyMultibase is "z" + base58btc of the bare 33-byte point */
    atv_err_clear(&err);
    atv_buf_init(&raw, 64);
    CHECK_STATUS(atv_atp_multibase_decode(mb, strlen(mb), &raw, &err), ATV_OK, &err);
    CHECK_MSG(raw.len == 33 && memcmp(raw.ptr, key.point, 33) == 0,
              "fixture %zu: publicKeyMultibase is the did:key point", idx);
    atv_buf_cleanup(&raw);
    /* ... which is not a Multikey (no multicodec): 02/03 read as codec 2 or 3 */
    struct atv_pubkey junk;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_multikey(mb, &junk, &err), ATV_E_UNSUPPORTED, &err);
    CHECK(junk.type == ATV_KEY_NONE);

    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&key, back, sizeof back, &err), ATV_OK, &err);
    CHECK_STR(back, did);

    int ok_b64 = b64(jstr(c, "messageBase64"), msg, sizeof msg, &msg_len) &&
                 b64(jstr(c, "signatureBase64"), sig, sizeof sig, &sig_len);
    CHECK_MSG(ok_b64, "fixture %zu: base64 fields decode", idx);
    enum atv_status rc = verify(&key, msg, msg_len, sig, sig_len, &err);
    int want_ok = json_is_true(valid);
    CHECK_MSG((rc == ATV_OK) == want_ok && (want_ok || rc == ATV_E_VERIFY),
              "fixture %zu (%s): verify -> %s, validSignature %s (%s)", idx, comment,
              atv_status_name(rc), want_ok ? "true" : "false", err.msg);

    const char *tag = json_string_value(json_array_get(tags, 0));
    struct sample *keep = NULL;
    if (want_ok && want == ATV_KEY_K256) {
        keep = &good_k256;
    } else if (want_ok && want == ATV_KEY_P256) {
        keep = &good_p256;
    } else if (tag != NULL && strcmp(tag, "high-s") == 0) {
        keep = want == ATV_KEY_K256 ? &high_k256 : &high_p256;
        CHECK_MSG(strstr(err.msg, "high-S") != NULL, "fixture %zu: rejected as high-S (%s)", idx,
                  err.msg);
    } else if (tag != NULL && strcmp(tag, "der-encoded") == 0) {
        CHECK_MSG(sig_len != 64 && strstr(err.msg, "want 64 bytes") != NULL,
                  "fixture %zu: DER (%zu bytes) fails the length check", idx, sig_len);
        if (want == ATV_KEY_K256) {
            other_k256 = key;
        } else {
            other_p256 = key;
        }
    }
    if (keep != NULL && sig_len == 64 && msg_len <= sizeof keep->msg) {
        keep->have = 1;
        keep->key = key;
        memcpy(keep->msg, msg, msg_len); /* msg_len checked */
        keep->msg_len = msg_len;
        memcpy(keep->sig, sig, 64);
    }
}

static void test_signature_fixtures(void)
{
    json_t *root = load_fixture("signature-fixtures.json");
    if (root == NULL) {
        return;
    }
    CHECK_MSG(json_array_size(root) == 6, "signature-fixtures.json has 6 cases (%zu)",
              json_array_size(root));
    for (size_t i = 0; i < json_array_size(root); i++) {
        fixture_case(json_array_get(root, i), i);
    }
    json_decref(root);
    CHECK_MSG(good_k256.have && good_p256.have && high_k256.have && high_p256.have &&
                  other_k256.type == ATV_KEY_K256 && other_p256.type == ATV_KEY_P256,
              "fixtures gave a valid and a high-S sample, and a second key, for both curves");
}

static void test_w3c_k256(void)
{
    json_t *root = load_fixture("w3c_didkey_K256.json");
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    struct atv_err err;

    CHECK(ctx != NULL);
    if (root == NULL || ctx == NULL) {
        json_decref(root);
        secp256k1_context_destroy(ctx);
        return;
    }
    CHECK_MSG(json_array_size(root) == 5, "w3c_didkey_K256.json has 5 cases");
    for (size_t i = 0; i < json_array_size(root); i++) {
        const json_t *c = json_array_get(root, i);
        const char *hex = jstr(c, "privateKeyBytesHex");
        const char *did = jstr(c, "publicDidKey");
        struct atv_buf priv;
        struct atv_pubkey key, parsed;
        secp256k1_pubkey pk;
        uint8_t comp[33];
        size_t clen = sizeof comp;
        char out[128];

        if (hex == NULL || did == NULL) {
            CHECK_MSG(0, "K-256 case %zu has its fields", i);
            continue;
        }
        atv_err_clear(&err);
        atv_buf_init(&priv, 32);
        CHECK_STATUS(atv_hex_decode(hex, strlen(hex), &priv, &err), ATV_OK, &err);
        int derived = priv.len == 32 && secp256k1_ec_pubkey_create(ctx, &pk, priv.ptr) == 1 &&
                      secp256k1_ec_pubkey_serialize(ctx, comp, &clen, &pk,
                                                    SECP256K1_EC_COMPRESSED) == 1;
        CHECK_MSG(derived, "K-256 case %zu: public key derived", i);
        atv_buf_cleanup(&priv);
        if (!derived) {
            continue;
        }
        CHECK_STATUS(atv_atp_key_from_point(ATV_KEY_K256, bv(comp, 33), &key, &err), ATV_OK,
                     &err);
        CHECK_STATUS(atv_atp_key_to_didkey(&key, out, sizeof out, &err), ATV_OK, &err);
        CHECK_STR(out, did);
        /* parse -> same point -> identical re-encoding */
        CHECK_STATUS(atv_atp_key_parse_didkey(did, &parsed, &err), ATV_OK, &err);
        CHECK(parsed.type == ATV_KEY_K256 && memcmp(parsed.point, comp, 33) == 0);
        CHECK_STATUS(atv_atp_key_to_didkey(&parsed, out, sizeof out, &err), ATV_OK, &err);
        CHECK_STR(out, did);
    }
    json_decref(root);
    secp256k1_context_destroy(ctx);
}

/* The compressed P-256 public point of a 32-byte private scalar (EC_POINT_mul). */
static int p256_derive(const uint8_t priv[32], uint8_t comp[33])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *pt = g != NULL ? EC_POINT_new(g) : NULL;
    BIGNUM *d = BN_bin2bn(priv, 32, NULL);
    int ok = pt != NULL && d != NULL && EC_POINT_mul(g, pt, d, NULL, NULL, NULL) == 1 &&
             EC_POINT_point2oct(g, pt, POINT_CONVERSION_COMPRESSED, comp, 33, NULL) == 33;
    BN_free(d);
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return ok;
}

static uint8_t p256_priv[32];
static int have_p256_priv;

static void test_w3c_p256(void)
{
    json_t *root = load_fixture("w3c_didkey_P256.json");
    struct atv_err err;

    if (root == NULL) {
        return;
    }
    CHECK_MSG(json_array_size(root) == 1, "w3c_didkey_P256.json has 1 case");
    for (size_t i = 0; i < json_array_size(root); i++) {
        const json_t *c = json_array_get(root, i);
        const char *b58 = jstr(c, "privateKeyBytesBase58");
        const char *did = jstr(c, "publicDidKey");
        struct atv_buf priv;
        struct atv_pubkey key, parsed;
        uint8_t comp[33];
        char out[128];

        if (b58 == NULL || did == NULL) {
            CHECK_MSG(0, "P-256 case %zu has its fields", i);
            continue;
        }
        /* parse -> identical re-encoding */
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_key_parse_didkey(did, &parsed, &err), ATV_OK, &err);
        CHECK(parsed.type == ATV_KEY_P256);
        CHECK_STATUS(atv_atp_key_to_didkey(&parsed, out, sizeof out, &err), ATV_OK, &err);
        CHECK_STR(out, did);
        /* the private key is bare base58btc (no multibase prefix) */
        atv_buf_init(&priv, 32);
        CHECK_STATUS(atv_atp_base58_decode(b58, strlen(b58), &priv, &err), ATV_OK, &err);
        int derived = priv.len == 32 && p256_derive(priv.ptr, comp);
        CHECK_MSG(derived, "P-256 case %zu: public key derived", i);
        if (derived) {
            memcpy(p256_priv, priv.ptr, 32); /* priv.len == 32 */
            have_p256_priv = 1;
            CHECK_STATUS(atv_atp_key_from_point(ATV_KEY_P256, bv(comp, 33), &key, &err), ATV_OK,
                         &err);
            CHECK_STATUS(atv_atp_key_to_didkey(&key, out, sizeof out, &err), ATV_OK, &err);
            CHECK_STR(out, did);
            CHECK(memcmp(parsed.point, comp, 33) == 0);
        }
        atv_buf_cleanup(&priv);
    }
    json_decref(root);
}

/* ---- signature negatives ------------------------------------------------------ */

static void sig_negatives(const struct sample *s, const uint8_t n[32], const char *curve)
{
    struct atv_err err;
    uint8_t sig[65], msg[64], half[32], t[32];

    if (!s->have) {
        CHECK_MSG(0, "%s: no valid fixture sample to mutate", curve);
        return;
    }
    /* the fixture itself verifies */
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, s->sig, 64, &err) == ATV_OK,
              "%s: valid fixture verifies (%s)", curve, err.msg);

    /* every single flipped signature byte fails (one bit, then all bits) */
    int all = 1;
    for (size_t i = 0; i < 64; i++) {
        for (unsigned mask = 1; mask <= 0xff; mask = mask == 1 ? 0xff : 0x100) {
            memcpy(sig, s->sig, 64);
            sig[i] ^= (uint8_t)mask;
            if (verify(&s->key, s->msg, s->msg_len, sig, 64, &err) != ATV_E_VERIFY) {
                all = 0;
                DIAG("%s: flipped signature byte %zu mask %02x passed", curve, i, mask);
            }
        }
    }
    CHECK_MSG(all, "%s: each flipped signature byte is rejected", curve);

    /* every flipped message byte fails, as do a truncated and an empty message */
    all = 1;
    for (size_t i = 0; i < s->msg_len; i++) {
        memcpy(msg, s->msg, s->msg_len);
        msg[i] ^= 0x01;
        if (verify(&s->key, msg, s->msg_len, s->sig, 64, &err) != ATV_E_VERIFY) {
            all = 0;
        }
    }
    CHECK_MSG(all, "%s: each flipped message byte is rejected", curve);
    CHECK(verify(&s->key, s->msg, s->msg_len - 1, s->sig, 64, &err) == ATV_E_VERIFY);
    CHECK(verify(&s->key, NULL, 0, s->sig, 64, &err) == ATV_E_VERIFY);

    /* lengths: 63 and 65 bytes (and 0) are refused before any curve math */
    memcpy(sig, s->sig, 64);
    sig[64] = 0;
    CHECK(verify(&s->key, s->msg, s->msg_len, sig, 63, &err) == ATV_E_VERIFY);
    CHECK(strstr(err.msg, "want 64 bytes (r||s), got 63") != NULL);
    CHECK(verify(&s->key, s->msg, s->msg_len, sig, 65, &err) == ATV_E_VERIFY);
    CHECK(strstr(err.msg, "got 65") != NULL);
    CHECK(verify(&s->key, s->msg, s->msg_len, NULL, 0, &err) == ATV_E_VERIFY);

    /* r = 0, s = 0, r = n, s = n, r = s = 0xff..ff */
    memcpy(sig, s->sig, 64);
    memset(sig, 0, 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY,
              "%s: r = 0 rejected (%s)", curve, err.msg);
    memcpy(sig, s->sig, 64);
    memset(sig + 32, 0, 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY,
              "%s: s = 0 rejected (%s)", curve, err.msg);
    memset(sig, 0, 64);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY,
              "%s: r = s = 0 rejected (%s)", curve, err.msg);
    memcpy(sig, s->sig, 64);
    memcpy(sig, n, 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY &&
                  strstr(err.msg, "group order") != NULL,
              "%s: r = n rejected by the range check (%s)", curve, err.msg);
    memcpy(sig, s->sig, 64);
    memcpy(sig + 32, n, 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY,
              "%s: s = n rejected (%s)", curve, err.msg);
    memset(sig, 0xff, 64);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY,
              "%s: r = s = 2^256-1 rejected (%s)", curve, err.msg);

    /* high-S: (r, n - s) is the same signature in ECDSA, refused by atproto */
    memcpy(sig, s->sig, 64);
    be_sub(n, s->sig + 32, sig + 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY &&
                  strstr(err.msg, "high-S") != NULL,
              "%s: (r, n-s) is rejected as high-S (%s)", curve, err.msg);

    /* the boundary: s = n/2 is not high (it just does not verify), n/2 + 1 is */
    be_half(n, half);
    memcpy(sig, s->sig, 32);
    memcpy(sig + 32, half, 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY &&
                  strstr(err.msg, "high-S") == NULL,
              "%s: s = n/2 is in range (%s)", curve, err.msg);
    be_inc(half, t);
    memcpy(sig + 32, t, 32);
    CHECK_MSG(verify(&s->key, s->msg, s->msg_len, sig, 64, &err) == ATV_E_VERIFY &&
                  strstr(err.msg, "high-S") != NULL,
              "%s: s = n/2 + 1 is high-S (%s)", curve, err.msg);
}

static void test_sig_negatives(void)
{
    struct atv_err err;
    struct atv_pubkey k;

    sig_negatives(&good_k256, k256_n, "K-256");
    sig_negatives(&good_p256, p256_n, "P-256");

    /* the interop high-S cases are (r, n - s) of the valid ones: lowering them passes */
    const struct sample *hi[2] = {&high_k256, &high_p256};
    const struct sample *lo[2] = {&good_k256, &good_p256};
    const uint8_t *ns[2] = {k256_n, p256_n};
    for (size_t i = 0; i < 2; i++) {
        uint8_t sig[64];
        if (!hi[i]->have || !lo[i]->have) {
            CHECK_MSG(0, "high-S sample %zu present", i);
            continue;
        }
        CHECK(verify(&hi[i]->key, hi[i]->msg, hi[i]->msg_len, hi[i]->sig, 64, &err) ==
              ATV_E_VERIFY);
        memcpy(sig, hi[i]->sig, 32);
        be_sub(ns[i], hi[i]->sig + 32, sig + 32);
        CHECK_MSG(memcmp(sig, lo[i]->sig, 64) == 0, "%s: low-S form of the high-S fixture is the "
                  "valid fixture", i == 0 ? "K-256" : "P-256");
        CHECK_MSG(verify(&hi[i]->key, hi[i]->msg, hi[i]->msg_len, sig, 64, &err) == ATV_OK,
                  "%s: low-S form of the high-S fixture verifies (%s)",
                  i == 0 ? "K-256" : "P-256", err.msg);
    }

    /* the wrong key: a valid signature checked against another valid key */
    if (good_k256.have && other_k256.type == ATV_KEY_K256) {
        CHECK(verify(&other_k256, good_k256.msg, good_k256.msg_len, good_k256.sig, 64, &err) ==
              ATV_E_VERIFY);
    }
    if (good_p256.have && other_p256.type == ATV_KEY_P256) {
        CHECK(verify(&other_p256, good_p256.msg, good_p256.msg_len, good_p256.sig, 64, &err) ==
              ATV_E_VERIFY);
    }
    /* the wrong curve: the same 64 bytes, judged with the other curve's key */
    CHECK(verify(&good_p256.key, good_k256.msg, good_k256.msg_len, good_k256.sig, 64, &err) ==
          ATV_E_VERIFY);
    CHECK(verify(&good_k256.key, good_p256.msg, good_p256.msg_len, good_p256.sig, 64, &err) ==
          ATV_E_VERIFY);

    /* misuse: no key, no type, NULL pointers with lengths */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(NULL, bv(good_k256.msg, good_k256.msg_len),
                                    bv(good_k256.sig, 64), &err),
                 ATV_E_USAGE, &err);
    k = good_k256.key;
    k.type = ATV_KEY_NONE;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(&k, bv(good_k256.msg, good_k256.msg_len),
                                    bv(good_k256.sig, 64), &err),
                 ATV_E_USAGE, &err);
    k.type = (enum atv_key_type)7;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(&k, bv(good_k256.msg, good_k256.msg_len),
                                    bv(good_k256.sig, 64), &err),
                 ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(&good_k256.key, bv(NULL, 3), bv(good_k256.sig, 64), &err),
                 ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(&good_k256.key, bv(good_k256.msg, 3), bv(NULL, 64), &err),
                 ATV_E_USAGE, &err);

    /* a hand-made key struct holding no valid point is bad_key, not a verdict */
    static const uint8_t x5[33] = {0x02, [32] = 0x05}; /* x = 5: not on secp256k1 */
    static const uint8_t x1[33] = {0x02, [32] = 0x01}; /* x = 1: not on P-256 */
    k.type = ATV_KEY_K256;
    memcpy(k.point, x5, 33);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(&k, bv(good_k256.msg, good_k256.msg_len),
                                    bv(good_k256.sig, 64), &err),
                 ATV_E_PARSE, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "bad_key") == 0);
    k.type = ATV_KEY_P256;
    memcpy(k.point, x1, 33);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_sig_verify(&k, bv(good_p256.msg, good_p256.msg_len),
                                    bv(good_p256.sig, 64), &err),
                 ATV_E_PARSE, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "bad_key") == 0);
}

/* ---- signatures of our own -------------------------------------------------- */

/* Signs SHA-256(msg) with libsecp256k1 (always low-S), checks it verifies,
 * and that its high-S twin does not. */
static void own_k256(void)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    static const uint8_t seckey[32] = {0x90, 0x85, 0xd2, 0xbe, 0xf6, 0x92, 0x86, 0xa6,
                                       0xcb, 0xb5, 0x16, 0x23, 0xc8, 0xfa, 0x25, 0x86,
                                       0x29, 0x94, 0x5c, 0xd5, 0x5c, 0xa7, 0x05, 0xcc,
                                       0x4e, 0x66, 0x70, 0x03, 0x96, 0x89, 0x4e, 0x0c};
    uint8_t msg[300], h[32], comp[33], sig[64];
    size_t clen = sizeof comp;
    secp256k1_pubkey pk;
    struct atv_pubkey key;
    struct atv_err err;
    int all = 1;

    CHECK(ctx != NULL);
    if (ctx == NULL) {
        return;
    }
    int made = secp256k1_ec_pubkey_create(ctx, &pk, seckey) == 1 &&
               secp256k1_ec_pubkey_serialize(ctx, comp, &clen, &pk, SECP256K1_EC_COMPRESSED) == 1;
    CHECK(made);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(ATV_KEY_K256, bv(comp, 33), &key, &err), ATV_OK, &err);
    for (size_t len = 0; len < sizeof msg && made; len += 37) {
        secp256k1_ecdsa_signature es;
        for (size_t i = 0; i < len; i++) {
            msg[i] = (uint8_t)(i * 7 + len);
        }
        atv_sha256(bv(msg, len), h);
        if (secp256k1_ecdsa_sign(ctx, &es, h, seckey, NULL, NULL) != 1 ||
            secp256k1_ecdsa_signature_serialize_compact(ctx, sig, &es) != 1) {
            all = 0;
            continue;
        }
        if (verify(&key, len > 0 ? msg : NULL, len, sig, 64, &err) != ATV_OK) {
            all = 0;
            DIAG("K-256 own signature over %zu bytes: %s", len, err.msg);
        }
        be_sub(k256_n, sig + 32, sig + 32);
        if (verify(&key, len > 0 ? msg : NULL, len, sig, 64, &err) != ATV_E_VERIFY) {
            all = 0;
            DIAG("K-256 own high-S signature over %zu bytes passed", len);
        }
    }
    CHECK_MSG(all, "K-256: own signatures (0..296-byte messages) verify, their high-S twins fail");
    secp256k1_context_destroy(ctx);
}

/* A P-256 key pair from the w3c fixture's private scalar (OpenSSL import). */
static EVP_PKEY *p256_keypair(const uint8_t priv[32], const uint8_t comp[33])
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *d = BN_bin2bn(priv, 32, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (bld != NULL && d != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, comp, 33) == 1) {
        params = OSSL_PARAM_BLD_to_param(bld);
    }
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params != NULL && pctx != NULL && EVP_PKEY_fromdata_init(pctx) == 1 &&
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(d);
    return pkey;
}

/* Signs with OpenSSL (S is high about half the time), normalises to low-S,
 * and checks both forms. */
static void own_p256(void)
{
    uint8_t comp[33], msg[300], sig[64], half[32];
    struct atv_pubkey key;
    struct atv_err err;
    int all = 1, seen_high = 0;

    if (!have_p256_priv || !p256_derive(p256_priv, comp)) {
        CHECK_MSG(0, "P-256 private key from the w3c fixture is available");
        return;
    }
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(ATV_KEY_P256, bv(comp, 33), &key, &err), ATV_OK, &err);
    EVP_PKEY *pkey = p256_keypair(p256_priv, comp);
    CHECK(pkey != NULL);
    if (pkey == NULL) {
        return;
    }
    be_half(p256_n, half);
    for (size_t len = 0; len < sizeof msg; len += 37) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char der[80];
        size_t dlen = sizeof der;
        const unsigned char *dp = der;
        ECDSA_SIG *es = NULL;
        const BIGNUM *r = NULL, *s = NULL;

        for (size_t i = 0; i < len; i++) {
            msg[i] = (uint8_t)(i * 11 + len);
        }
        int ok = md != NULL &&
                 EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL) == 1 &&
                 EVP_DigestSign(md, der, &dlen, msg, len) == 1;
        if (ok) {
            es = d2i_ECDSA_SIG(NULL, &dp, (long)dlen);
            ok = es != NULL;
        }
        if (ok) {
            ECDSA_SIG_get0(es, &r, &s);
            ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
        }
        EVP_MD_CTX_free(md);
        ECDSA_SIG_free(es);
        if (!ok) {
            all = 0;
            DIAG("P-256 signing failed at %zu bytes", len);
            continue;
        }
        if (memcmp(sig + 32, half, 32) > 0) {
            /* OpenSSL gave high-S: atproto refuses it, its low-S twin passes */
            seen_high = 1;
            if (verify(&key, len > 0 ? msg : NULL, len, sig, 64, &err) != ATV_E_VERIFY) {
                all = 0;
                DIAG("P-256 OpenSSL high-S signature over %zu bytes passed", len);
            }
            be_sub(p256_n, sig + 32, sig + 32);
        }
        if (verify(&key, len > 0 ? msg : NULL, len, sig, 64, &err) != ATV_OK) {
            all = 0;
            DIAG("P-256 own signature over %zu bytes: %s", len, err.msg);
        }
        be_sub(p256_n, sig + 32, sig + 32);
        if (verify(&key, len > 0 ? msg : NULL, len, sig, 64, &err) != ATV_E_VERIFY) {
            all = 0;
            DIAG("P-256 own high-S signature over %zu bytes passed", len);
        }
    }
    CHECK_MSG(all, "P-256: own signatures (0..296-byte messages) verify, high-S twins fail");
    DIAG("OpenSSL produced a high-S signature in this run: %s", seen_high ? "yes" : "no");
    EVP_PKEY_free(pkey);
}

/* ---- key parsing negatives --------------------------------------------------- */

static int is_zero_key(const struct atv_pubkey *k)
{
    static const uint8_t z[33];
    return k->type == ATV_KEY_NONE && memcmp(k->point, z, 33) == 0;
}

/* Builds "did:key:z" + base58(codec bytes || body) and expects status want. */
static void didkey_expect(const uint8_t *codec, size_t clen, const uint8_t *body, size_t blen,
                          enum atv_status want, const char *what)
{
    uint8_t raw[128];
    char s[256];
    struct atv_pubkey k;
    struct atv_err err;

    if (clen + blen > sizeof raw) {
        CHECK_MSG(0, "%s: test input fits", what);
        return;
    }
    if (clen > 0) {
        memcpy(raw, codec, clen); /* clen <= sizeof raw */
    }
    if (blen > 0) {
        memcpy(raw + clen, body, blen); /* clen + blen <= sizeof raw */
    }
    CHECK(z_string("did:key:", raw, clen + blen, s, sizeof s));
    memset(&k, 0xa5, sizeof k);
    atv_err_clear(&err);
    enum atv_status rc = atv_atp_key_parse_didkey(s, &k, &err);
    /* failure: key zeroed, reason bad_key; success: a typed key, no reason */
    int shape = want == ATV_OK ? (k.type != ATV_KEY_NONE && err.reason == NULL)
                               : (is_zero_key(&k) && err.reason != NULL &&
                                  strcmp(err.reason, "bad_key") == 0);
    CHECK_MSG(rc == want && shape, "did:key %s -> %s (got %s: %s)", what, atv_status_name(want),
              atv_status_name(rc), err.msg);
    /* the same payload without "did:key:" through the Multikey parser */
    memset(&k, 0xa5, sizeof k);
    atv_err_clear(&err);
    rc = atv_atp_key_parse_multikey(s + 8, &k, &err);
    shape = want == ATV_OK ? k.type != ATV_KEY_NONE : is_zero_key(&k);
    CHECK_MSG(rc == want && shape, "multikey %s -> %s (got %s)", what, atv_status_name(want),
              atv_status_name(rc));
}

static void test_key_negatives(void)
{
    static const uint8_t c_k256[2] = {0xe7, 0x01};
    static const uint8_t c_p256[2] = {0x80, 0x24};
    static const uint8_t c_ed25519[2] = {0xed, 0x01};
    static const uint8_t c_p384[2] = {0x81, 0x24};
    static const uint8_t c_k256_priv[2] = {0x81, 0x26};
    static const uint8_t c_k256_long[3] = {0xe7, 0x81, 0x00}; /* non-minimal varint */
    uint8_t body[40];
    struct atv_pubkey k;
    struct atv_err err;
    char s[600];

    if (!good_k256.have || !good_p256.have) {
        CHECK_MSG(0, "fixture keys available for key negatives");
        return;
    }
    const uint8_t *kp = good_k256.key.point;
    const uint8_t *pp = good_p256.key.point;

    /* sanity: the fixture points in our own Multikey encoding parse */
    didkey_expect(c_k256, 2, kp, 33, ATV_OK, "K-256 fixture point");
    didkey_expect(c_p256, 2, pp, 33, ATV_OK, "P-256 fixture point");

    /* unknown or private-key multicodecs */
    didkey_expect(c_ed25519, 2, kp + 1, 32, ATV_E_UNSUPPORTED, "ed25519-pub, 32 bytes");
    didkey_expect(c_ed25519, 2, kp, 33, ATV_E_UNSUPPORTED, "ed25519-pub, 33 bytes");
    didkey_expect(c_p384, 2, pp, 33, ATV_E_UNSUPPORTED, "p384-pub");
    didkey_expect(c_k256_priv, 2, kp + 1, 32, ATV_E_UNSUPPORTED, "secp256k1-priv");
    didkey_expect(c_k256_long, 3, kp, 33, ATV_E_PARSE, "non-minimal varint for 0xe7");
    didkey_expect(NULL, 0, NULL, 0, ATV_E_PARSE, "empty payload");
    didkey_expect(c_k256, 1, NULL, 0, ATV_E_PARSE, "truncated varint");
    didkey_expect(c_k256, 2, NULL, 0, ATV_E_PARSE, "no key bytes");

    /* 34- and 36-byte payloads */
    didkey_expect(c_k256, 2, kp, 32, ATV_E_PARSE, "K-256, 34 bytes");
    memcpy(body, kp, 33);
    body[33] = 0x00;
    didkey_expect(c_k256, 2, body, 34, ATV_E_PARSE, "K-256, 36 bytes");
    didkey_expect(c_p256, 2, pp, 32, ATV_E_PARSE, "P-256, 34 bytes");
    memcpy(body, pp, 33);
    body[33] = 0x01;
    didkey_expect(c_p256, 2, body, 34, ATV_E_PARSE, "P-256, 36 bytes");

    /* the uncompressed form is not a Multikey: 04 prefix with 33 and 65 bytes */
    uint8_t un[65];
    CHECK(k256_uncompress(kp, un));
    didkey_expect(c_k256, 2, un, 33, ATV_E_PARSE, "K-256, 04 prefix, 35 bytes");
    didkey_expect(c_k256, 2, un, 65, ATV_E_PARSE, "K-256, uncompressed 65-byte point");
    CHECK(p256_uncompress(pp, un));
    didkey_expect(c_p256, 2, un, 33, ATV_E_PARSE, "P-256, 04 prefix, 35 bytes");
    didkey_expect(c_p256, 2, un, 65, ATV_E_PARSE, "P-256, uncompressed 65-byte point");
    static const uint8_t bad_prefix[] = {0x00, 0x01, 0x05, 0x06, 0x07, 0xff};
    for (size_t i = 0; i < sizeof bad_prefix; i++) {
        memcpy(body, kp, 33);
        body[0] = bad_prefix[i];
        didkey_expect(c_k256, 2, body, 33, ATV_E_PARSE, "K-256, bad point prefix");
        memcpy(body, pp, 33);
        body[0] = bad_prefix[i];
        didkey_expect(c_p256, 2, body, 33, ATV_E_PARSE, "P-256, bad point prefix");
    }

    /* points not on the curve: x^3 + 7 (K-256) and x^3 - 3x + b (P-256) have
     * no square root for x = 5 and x = 1 respectively; x = 2^256 - 1 is not
     * a field element on either curve. */
    memset(body, 0, 33);
    body[0] = 0x02;
    body[32] = 0x05;
    didkey_expect(c_k256, 2, body, 33, ATV_E_PARSE, "K-256, x = 5 off the curve");
    body[0] = 0x03;
    didkey_expect(c_k256, 2, body, 33, ATV_E_PARSE, "K-256, x = 5 off the curve (03)");
    body[32] = 0x01;
    didkey_expect(c_p256, 2, body, 33, ATV_E_PARSE, "P-256, x = 1 off the curve");
    memset(body + 1, 0xff, 32);
    didkey_expect(c_k256, 2, body, 33, ATV_E_PARSE, "K-256, x >= p");
    didkey_expect(c_p256, 2, body, 33, ATV_E_PARSE, "P-256, x >= p");
    /* x = 5 is on P-256 and x = 1 on K-256: the curve is the codec's */
    body[0] = 0x02;
    memset(body + 1, 0, 32);
    body[32] = 0x05;
    didkey_expect(c_p256, 2, body, 33, ATV_OK, "P-256, x = 5 on the curve");
    body[32] = 0x01;
    didkey_expect(c_k256, 2, body, 33, ATV_OK, "K-256, x = 1 on the curve");

    /* string-level: prefix, multibase, characters, length */
    static const struct {
        const char *s;
        enum atv_status want;
    } strs[] = {
        {"", ATV_E_PARSE},
        {"did:key", ATV_E_PARSE},
        {"did:key:", ATV_E_PARSE},
        {"did:key:z", ATV_E_PARSE},
        {"DID:KEY:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc", ATV_E_PARSE},
        {"did:web:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc", ATV_E_PARSE},
        {" did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc", ATV_E_PARSE},
        {"did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc ", ATV_E_PARSE},
        /* a trailing '1' multiplies the value by 58: the leading bytes, and so
         * the multicodec, change (here to 0x34) */
        {"did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc1", ATV_E_UNSUPPORTED},
        {"did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJw0", ATV_E_PARSE},
        {"did:key:Q3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc", ATV_E_UNSUPPORTED},
        {"did:key:Zq3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc", ATV_E_UNSUPPORTED},
        {"did:key:bpzbhg", ATV_E_UNSUPPORTED},
        {"did:key:mqJzBHg", ATV_E_UNSUPPORTED},
        {"did:key:f0e7012", ATV_E_UNSUPPORTED},
        /* an ed25519 did:key from the did:key spec */
        {"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", ATV_E_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        memset(&k, 0xa5, sizeof k);
        atv_err_clear(&err);
        enum atv_status rc = atv_atp_key_parse_didkey(strs[i].s, &k, &err);
        CHECK_MSG(rc == strs[i].want && is_zero_key(&k), "did:key string #%zu -> %s (got %s: %s)",
                  i, atv_status_name(strs[i].want), atv_status_name(rc), err.msg);
    }
    /* over the multibase cap: LIMIT, before any decoding */
    memcpy(s, "did:key:z", 9);
    memset(s + 9, '2', sizeof s - 10);
    s[sizeof s - 1] = '\0';
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_didkey(s, &k, &err), ATV_E_LIMIT, &err);
    CHECK(is_zero_key(&k));
    /* exactly at the cap (256 characters): decoded, then refused for its
     * content (codec or length), not for the cap; one more is the cap */
    s[8 + ATV_MAX_MULTIBASE] = '\0';
    atv_err_clear(&err);
    enum atv_status at_cap = atv_atp_key_parse_didkey(s, &k, &err);
    CHECK_MSG(at_cap != ATV_OK && at_cap != ATV_E_LIMIT, "did:key at the cap decodes (%s)",
              err.msg);
    s[8 + ATV_MAX_MULTIBASE] = '2';
    s[8 + ATV_MAX_MULTIBASE + 1] = '\0';
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_didkey(s, &k, &err), ATV_E_LIMIT, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_multikey(s + 8, &k, &err), ATV_E_LIMIT, &err);

    /* misuse */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_didkey(NULL, &k, &err), ATV_E_USAGE, &err);
    CHECK(is_zero_key(&k));
    atv_err_clear(&err);
    static const char k256_did[] = "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
    CHECK_STATUS(atv_atp_key_parse_didkey(k256_did, NULL, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_multikey(NULL, &k, &err), ATV_E_USAGE, &err);
    /* err may be NULL */
    CHECK(atv_atp_key_parse_didkey("did:key:x", &k, NULL) == ATV_E_UNSUPPORTED);
    /* the first error wins: a later failure does not overwrite it */
    atv_err_clear(&err);
    CHECK(atv_atp_key_parse_didkey("nope", &k, &err) == ATV_E_PARSE);
    CHECK(atv_atp_key_parse_didkey("did:key:x", &k, &err) == ATV_E_UNSUPPORTED);
    CHECK(err.code == ATV_E_PARSE);
}

/* ---- legacy keys and raw points ---------------------------------------------- */

static void legacy_expect(enum atv_key_type type, const uint8_t *p, size_t n, enum atv_status want,
                          const char *what)
{
    char s[256];
    struct atv_pubkey k;
    struct atv_err err;

    CHECK(z_string("", p, n, s, sizeof s));
    memset(&k, 0xa5, sizeof k);
    atv_err_clear(&err);
    enum atv_status rc = atv_atp_key_parse_legacy(type, s, &k, &err);
    CHECK_MSG(rc == want && is_zero_key(&k) &&
                  (want == ATV_E_USAGE ||
                   (err.reason != NULL && strcmp(err.reason, "bad_key") == 0)),
              "legacy %s -> %s (got %s: %s)", what, atv_status_name(want), atv_status_name(rc),
              err.msg);
}

static void legacy_curve(enum atv_key_type type, const struct sample *smp)
{
    const char *name = atv_atp_key_type_name(type);
    uint8_t un[65], bad[65];
    char s[256];
    struct atv_pubkey k;
    struct atv_err err;

    int ok = type == ATV_KEY_K256 ? k256_uncompress(smp->key.point, un)
                                  : p256_uncompress(smp->key.point, un);
    CHECK_MSG(ok && un[0] == 0x04, "%s: fixture point decompressed in test code", name);
    if (!ok) {
        return;
    }
    /* the legacy form parses to the same compressed point, and verifies */
    CHECK(z_string("", un, 65, s, sizeof s));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_legacy(type, s, &k, &err), ATV_OK, &err);
    CHECK_MSG(k.type == type && memcmp(k.point, smp->key.point, 33) == 0,
              "%s: legacy key is the fixture key", name);
    CHECK(verify(&k, smp->msg, smp->msg_len, smp->sig, 64, &err) == ATV_OK);
    /* atv_atp_key_eq: the legacy and the Multikey forms are one key; the same
     * bytes on the other curve, a changed byte, no type or NULL are not */
    {
        struct atv_pubkey other = k;
        CHECK(atv_atp_key_eq(&k, &smp->key) && atv_atp_key_eq(&smp->key, &k));
        other.type = type == ATV_KEY_K256 ? ATV_KEY_P256 : ATV_KEY_K256;
        CHECK(!atv_atp_key_eq(&k, &other) && !atv_atp_key_eq(&other, &k));
        other = k;
        other.point[32] ^= 0x01;
        CHECK(!atv_atp_key_eq(&k, &other));
        other = k;
        other.type = ATV_KEY_NONE;
        CHECK(!atv_atp_key_eq(&other, &other) && !atv_atp_key_eq(&k, &other));
        CHECK(!atv_atp_key_eq(&k, NULL) && !atv_atp_key_eq(NULL, &k) &&
              !atv_atp_key_eq(NULL, NULL));
    }
    /* the raw 65-byte point, too */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(type, bv(un, 65), &k, &err), ATV_OK, &err);
    CHECK(k.type == type && memcmp(k.point, smp->key.point, 33) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(type, bv(smp->key.point, 33), &k, &err), ATV_OK, &err);
    CHECK(k.type == type && memcmp(k.point, smp->key.point, 33) == 0);

    /* negatives: compressed (33 bytes), 64 and 66 bytes, 05/06/07/02 prefixes,
     * Y changed (off the curve), Y with the other parity (off the curve),
     * the other curve, a Multikey, no type, another multibase */
    legacy_expect(type, smp->key.point, 33, ATV_E_PARSE, "33-byte compressed point");
    legacy_expect(type, un, 64, ATV_E_PARSE, "64 bytes");
    memcpy(bad, un, 65);
    uint8_t big[66];
    memcpy(big, un, 65);
    big[65] = 0;
    legacy_expect(type, big, 66, ATV_E_PARSE, "66 bytes");
    static const uint8_t prefixes[] = {0x05, 0x06, 0x07, 0x02, 0x00};
    for (size_t i = 0; i < sizeof prefixes; i++) {
        memcpy(bad, un, 65);
        bad[0] = prefixes[i];
        legacy_expect(type, bad, 65, ATV_E_PARSE, "65 bytes, wrong prefix");
    }
    /* 06/07 are "hybrid" encodings libsecp256k1 would accept if asked */
    memcpy(bad, un, 65);
    bad[0] = (uint8_t)(0x06 | (un[64] & 1));
    legacy_expect(type, bad, 65, ATV_E_PARSE, "hybrid encoding with the right parity");
    memcpy(bad, un, 65);
    bad[64] ^= 0x01;
    legacy_expect(type, bad, 65, ATV_E_PARSE, "off the curve (Y changed)");
    memcpy(bad, un, 65);
    memset(bad + 33, 0xff, 32);
    legacy_expect(type, bad, 65, ATV_E_PARSE, "Y >= p");
    legacy_expect(type == ATV_KEY_K256 ? ATV_KEY_P256 : ATV_KEY_K256, un, 65, ATV_E_PARSE,
                  "point of the other curve");
    legacy_expect(ATV_KEY_NONE, un, 65, ATV_E_USAGE, "no key type");
    atv_err_clear(&err);
    memset(&k, 0xa5, sizeof k);
    CHECK_STATUS(atv_atp_key_parse_legacy(type, "mBGE", &k, &err), ATV_E_UNSUPPORTED, &err);
    CHECK(is_zero_key(&k));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_legacy(type, "", &k, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_legacy(type, "z0", &k, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_legacy(type, NULL, &k, &err), ATV_E_USAGE, &err);
    /* a Multikey string is not a legacy key (35 bytes) */
    char did[128];
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&smp->key, did, sizeof did, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_parse_legacy(type, did + 8, &k, &err), ATV_E_PARSE, &err);

    /* raw-point negatives */
    static const size_t lens[] = {0, 1, 32, 34, 64, 66};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(&k, 0xa5, sizeof k);
        atv_err_clear(&err);
        enum atv_status rc = atv_atp_key_from_point(type, bv(un, lens[i]), &k, &err);
        CHECK_MSG(rc == ATV_E_PARSE && is_zero_key(&k), "%s: %zu-byte point rejected (%s)", name,
                  lens[i], err.msg);
    }
    /* hybrid 06/07 with the right parity: both libraries would accept it */
    memcpy(bad, un, 65);
    bad[0] = (uint8_t)(0x06 | (un[64] & 1));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(type, bv(bad, 65), &k, &err), ATV_E_PARSE, &err);
    memcpy(bad, smp->key.point, 33);
    bad[0] = 0x04;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(type, bv(bad, 33), &k, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(type, bv(NULL, 33), &k, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_from_point(ATV_KEY_NONE, bv(un, 65), &k, &err), ATV_E_USAGE, &err);
    CHECK(is_zero_key(&k));
}

static void test_legacy_and_points(void)
{
    if (!good_k256.have || !good_p256.have) {
        CHECK_MSG(0, "fixture samples available for legacy keys");
        return;
    }
    legacy_curve(ATV_KEY_K256, &good_k256);
    legacy_curve(ATV_KEY_P256, &good_p256);
}

static void test_to_didkey(void)
{
    struct atv_err err;
    struct atv_pubkey k;
    char out[128];

    CHECK_STR(atv_atp_key_type_name(ATV_KEY_K256), "K-256");
    CHECK_STR(atv_atp_key_type_name(ATV_KEY_P256), "P-256");
    CHECK_STR(atv_atp_key_type_name(ATV_KEY_NONE), "none");
    CHECK_STR(atv_atp_key_type_name((enum atv_key_type)9), "none");
    if (!good_k256.have) {
        CHECK_MSG(0, "fixture key available for did:key encoding");
        return;
    }
    /* "did:key:" + "z" + 48 characters for both curves, plus the NUL */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&good_k256.key, out, sizeof out, &err), ATV_OK, &err);
    size_t len = strlen(out);
    char exact[128];
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&good_k256.key, exact, len + 1, &err), ATV_OK, &err);
    CHECK_STR(exact, out);
    atv_err_clear(&err);
    memset(exact, 'x', sizeof exact);
    CHECK_STATUS(atv_atp_key_to_didkey(&good_k256.key, exact, len, &err), ATV_E_LIMIT, &err);
    CHECK(exact[0] == '\0');
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&good_k256.key, exact, 0, &err), ATV_E_LIMIT, &err);
    k = good_k256.key;
    k.type = ATV_KEY_NONE;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&k, out, sizeof out, &err), ATV_E_USAGE, &err);
    CHECK(out[0] == '\0');
    memset(&k, 0, sizeof k);
    k.type = ATV_KEY_K256;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(&k, out, sizeof out, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_key_to_didkey(NULL, out, sizeof out, &err), ATV_E_USAGE, &err);
}

int main(void)
{
    test_signature_fixtures();
    test_w3c_k256();
    test_w3c_p256();
    test_sig_negatives();
    own_k256();
    own_p256();
    test_key_negatives();
    test_legacy_and_points();
    test_to_didkey();
    return atv_test_done();
}
