/* atproto/sig.c: public keys (Multikey, did:key, legacy DID-document forms)
 * and ECDSA signature verification for the two atproto curves.
 *
 * The only file that includes secp256k1.h or OpenSSL's EC and ECDSA API
 * (STYLE.md 7.1.3). Spec: atproto.com/specs/cryptography:
 *   - K-256 (secp256k1) and P-256 (prime256v1), ECDSA over SHA-256 of the
 *     message, not pre-hashed by the caller;
 *   - signatures are exactly 64 bytes r||s (DER is not allowed);
 *   - low-S is required: s <= n/2 ("non-low-S signatures are invalid");
 *   - public keys are SEC1 compressed points inside a Multikey:
 *     "z" + base58btc(unsigned-varint multicodec || 33 bytes).
 * libsecp256k1 enforces low-S itself; OpenSSL accepts high-S, so the range
 * checks on r and s are ours for P-256.
 */
#include "atproto/atproto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <secp256k1.h>
#include <string.h>

#define DIDKEY_PREFIX "did:key:"
#define DIDKEY_PREFIX_LEN 8u
/* multicodec table: secp256k1-pub 0xe7, p256-pub 0x1200 */
#define CODEC_K256_PUB 0xe7u
#define CODEC_P256_PUB 0x1200u
/* varint(multicodec) (2 bytes for both) + a 33-byte compressed point */
#define MULTIKEY_BYTES 35u
#define POINT_COMPRESSED 33u
#define POINT_UNCOMPRESSED 65u
#define SIG_BYTES 64u

static const char reason_bad_key[] = "bad_key";
static const char reason_bad_sig[] = "bad_signature";

static const uint8_t zero32[32];

/* P-256 group order n and floor(n/2) (SEC 2 section 2.4.2; atproto
 * cryptography spec for the low-S rule). Big-endian, so memcmp orders them. */
static const uint8_t p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};
static const uint8_t p256_half_n[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
};

/* ---- points ---------------------------------------------------------------- */

/* Validates a SEC1 point (33 or 65 bytes, prefix already checked) on
 * secp256k1 and writes its compressed form. secp256k1_ec_pubkey_parse also
 * accepts "hybrid" 06/07 encodings, which is why callers check the prefix. */
static enum atv_status k256_point(const uint8_t *pt, size_t len, uint8_t comp[33],
                                  struct atv_err *err)
{
    secp256k1_pubkey pk;
    size_t olen = POINT_COMPRESSED;

    if (secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, pt, len) != 1) {
        return atv_err_set(err, ATV_E_PARSE, "point is not on secp256k1 (%zu bytes)", len);
    }
    if (secp256k1_ec_pubkey_serialize(secp256k1_context_static, comp, &olen, &pk,
                                      SECP256K1_EC_COMPRESSED) != 1 ||
        olen != POINT_COMPRESSED) {
        return atv_err_set(err, ATV_E_INTERNAL, "secp256k1: cannot serialize a parsed point");
    }
    return ATV_OK;
}

/* A new public EVP_PKEY for a SEC1 point on P-256 (33 or 65 bytes).
 * EVP_PKEY_fromdata decodes the point (EC_POINT_oct2point): a compressed x
 * with no square root, an uncompressed point off the curve, or a coordinate
 * not below p is refused.
 * Out: *out (new: EVP_PKEY_free), NULL on failure. */
static enum atv_status p256_pkey_new(const uint8_t *pt, size_t len, EVP_PKEY **out,
                                     struct atv_err *err)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    enum atv_status rc = ATV_OK;

    *out = NULL;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, len) != 1) {
        rc = atv_err_set(err, ATV_E_NOMEM, "openssl: cannot build key parameters");
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "openssl: cannot build key parameters");
        goto out;
    }
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "openssl: no EC key import");
        goto out;
    }
    if (EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 || pkey == NULL) {
        rc = atv_err_set(err, ATV_E_PARSE, "point is not on P-256 (%zu bytes)", len);
        goto out;
    }
    *out = pkey;
    pkey = NULL;

out:
    if (rc != ATV_OK) {
        ERR_clear_error(); /* leave no stale entries for unrelated OpenSSL users */
    }
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

/* Validates a P-256 SEC1 point and writes its compressed form. */
static enum atv_status p256_point(const uint8_t *pt, size_t len, uint8_t comp[33],
                                  struct atv_err *err)
{
    EVP_PKEY *pkey = NULL;
    enum atv_status rc = p256_pkey_new(pt, len, &pkey, err);

    if (rc != ATV_OK) {
        return rc;
    }
    EVP_PKEY_free(pkey);
    if (len == POINT_COMPRESSED) {
        memcpy(comp, pt, POINT_COMPRESSED); /* len checked */
    } else {
        /* SEC 1 section 2.3.3: compressed = (02 | parity of Y) || X */
        comp[0] = (uint8_t)(0x02u | (pt[64] & 1u));
        memcpy(comp + 1, pt + 1, 32); /* len == 65 checked by the caller */
    }
    return ATV_OK;
}

/* Key parsing, with errors recorded in a scratch err: the public wrappers
 * re-raise them with reason "bad_key". Every path leaves *out zeroed on failure. */
static enum atv_status point_parse(enum atv_key_type type, struct atv_bytes pt,
                                   struct atv_pubkey *out, struct atv_err *err)
{
    uint8_t comp[33];
    enum atv_status rc = ATV_OK;

    if (type != ATV_KEY_K256 && type != ATV_KEY_P256) {
        return atv_err_set(err, ATV_E_USAGE, "key type %d is not K-256 or P-256", (int)type);
    }
    if (pt.ptr == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "point is NULL");
    }
    /* SEC 1 section 2.3.4: 02/03 || X (compressed) or 04 || X || Y. */
    if (pt.len == POINT_COMPRESSED) {
        if (pt.ptr[0] != 0x02 && pt.ptr[0] != 0x03) {
            return atv_err_set(err, ATV_E_PARSE, "33-byte point starts with 0x%02x, not 02 or 03",
                               pt.ptr[0]);
        }
    } else if (pt.len == POINT_UNCOMPRESSED) {
        if (pt.ptr[0] != 0x04) {
            return atv_err_set(err, ATV_E_PARSE, "65-byte point starts with 0x%02x, not 04",
                               pt.ptr[0]);
        }
    } else {
        return atv_err_set(err, ATV_E_PARSE, "point: want 33 or 65 bytes, got %zu", pt.len);
    }
    if (type == ATV_KEY_K256) {
        rc = k256_point(pt.ptr, pt.len, comp, err);
    } else {
        rc = p256_point(pt.ptr, pt.len, comp, err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    out->type = type;
    memcpy(out->point, comp, sizeof out->point); /* both 33 bytes */
    return ATV_OK;
}

/* Decodes the "z" + base58btc string mb (NUL-terminated) into dec. */
static enum atv_status z_decode(const char *mb, struct atv_buf *dec, struct atv_err *err)
{
    if (mb == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "multibase string is NULL");
    }
    size_t n = strnlen(mb, ATV_MAX_MULTIBASE + 1u);
    if (n > ATV_MAX_MULTIBASE) {
        return atv_err_set(err, ATV_E_LIMIT, "longer than %u characters", ATV_MAX_MULTIBASE);
    }
    if (n == 0) {
        return atv_err_set(err, ATV_E_PARSE, "empty multibase string");
    }
    /* atproto cryptography spec: keys are multibase base58btc, prefix 'z' only. */
    if (mb[0] != 'z') {
        return atv_err_set(err, ATV_E_UNSUPPORTED, "multibase prefix 0x%02x is not 'z' (base58btc)",
                           (unsigned)(unsigned char)mb[0]);
    }
    return atv_atp_base58_decode(mb + 1, n - 1, dec, err);
}

static enum atv_status multikey_parse(const char *mb, struct atv_pubkey *out, struct atv_err *err)
{
    struct atv_buf dec;
    struct atv_reader rd;
    struct atv_bytes pt;
    uint64_t codec = 0;
    enum atv_key_type type = ATV_KEY_NONE;
    enum atv_status rc = ATV_OK;

    atv_buf_init(&dec, ATV_MAX_MULTIBASE);
    rc = z_decode(mb, &dec, err);
    if (rc != ATV_OK) {
        goto out;
    }
    atv_rd_init(&rd, atv_buf_view(&dec));
    /* multicodec prefix: an unsigned varint, minimally encoded */
    rc = atv_rd_uvarint(&rd, &codec, err);
    if (rc != ATV_OK) {
        goto out;
    }
    switch (codec) {
    case CODEC_K256_PUB:
        type = ATV_KEY_K256;
        break;
    case CODEC_P256_PUB:
        type = ATV_KEY_P256;
        break;
    default:
        rc = atv_err_set(err, ATV_E_UNSUPPORTED,
                         "multicodec 0x%llx is not secp256k1-pub (0xe7) or p256-pub (0x1200)",
                         (unsigned long long)codec);
        goto out;
    }
    /* atproto cryptography spec: the key bytes are the 33-byte compressed point. */
    if (dec.len != MULTIKEY_BYTES) {
        rc = atv_err_set(err, ATV_E_PARSE, "want %u decoded bytes, got %zu", MULTIKEY_BYTES,
                         dec.len);
        goto out;
    }
    pt = atv_rd_rest(&rd);
    if (pt.len != POINT_COMPRESSED || (pt.ptr[0] != 0x02 && pt.ptr[0] != 0x03)) {
        rc = atv_err_set(err, ATV_E_PARSE, "key is not a compressed point (first byte 0x%02x)",
                         pt.len > 0 ? pt.ptr[0] : 0u);
        goto out;
    }
    rc = point_parse(type, pt, out, err);

out:
    atv_buf_cleanup(&dec);
    return rc;
}

static enum atv_status legacy_parse(enum atv_key_type type, const char *mb, struct atv_pubkey *out,
                                    struct atv_err *err)
{
    struct atv_buf dec;
    enum atv_status rc = ATV_OK;

    atv_buf_init(&dec, ATV_MAX_MULTIBASE);
    if (type != ATV_KEY_K256 && type != ATV_KEY_P256) {
        rc = atv_err_set(err, ATV_E_USAGE, "key type %d is not K-256 or P-256", (int)type);
        goto out;
    }
    rc = z_decode(mb, &dec, err);
    if (rc != ATV_OK) {
        goto out;
    }
    /* EcdsaSecp256{k,r}1VerificationKey2019: the raw uncompressed SEC1 point
     * 04 || X || Y, no multicodec (indigo identity GetPublicKey). */
    if (dec.len != POINT_UNCOMPRESSED || dec.ptr[0] != 0x04) {
        rc = atv_err_set(err, ATV_E_PARSE,
                         "want 65 decoded bytes starting 04, got %zu starting 0x%02x", dec.len,
                         dec.len > 0 ? dec.ptr[0] : 0u);
        goto out;
    }
    rc = point_parse(type, atv_buf_view(&dec), out, err);

out:
    atv_buf_cleanup(&dec);
    return rc;
}

/* Zeroes *out on failure and re-raises the scratch error with reason "bad_key"
 * (a caller's misuse keeps no reason). */
static enum atv_status key_result(enum atv_status rc, const struct atv_err *sub, const char *what,
                                  struct atv_pubkey *out, struct atv_err *err)
{
    if (rc == ATV_OK) {
        return ATV_OK;
    }
    if (out != NULL) {
        memset(out, 0, sizeof *out);
    }
    return atv_err_setr(err, rc, rc == ATV_E_USAGE ? NULL : reason_bad_key, "%s: %s", what,
                        sub->msg);
}

enum atv_status atv_atp_key_parse_multikey(const char *mb, struct atv_pubkey *out,
                                           struct atv_err *err)
{
    struct atv_err sub;
    enum atv_status rc = ATV_OK;

    atv_err_clear(&sub);
    if (out == NULL) {
        rc = atv_err_set(&sub, ATV_E_USAGE, "out is NULL");
    } else {
        memset(out, 0, sizeof *out);
        rc = multikey_parse(mb, out, &sub);
    }
    return key_result(rc, &sub, "multikey", out, err);
}

enum atv_status atv_atp_key_parse_didkey(const char *did, struct atv_pubkey *out,
                                         struct atv_err *err)
{
    struct atv_err sub;
    enum atv_status rc = ATV_OK;

    atv_err_clear(&sub);
    if (out != NULL) {
        memset(out, 0, sizeof *out);
    }
    if (out == NULL || did == NULL) {
        rc = atv_err_set(&sub, ATV_E_USAGE, "NULL argument");
    } else if (strncmp(did, DIDKEY_PREFIX, DIDKEY_PREFIX_LEN) != 0) {
        /* did:key method spec: did-key-format := did:key:MULTIBASE(base58-btc, ...) */
        rc = atv_err_set(&sub, ATV_E_PARSE, "does not start with \"did:key:\"");
    } else {
        rc = multikey_parse(did + DIDKEY_PREFIX_LEN, out, &sub);
    }
    return key_result(rc, &sub, "did:key", out, err);
}

enum atv_status atv_atp_key_parse_legacy(enum atv_key_type type, const char *mb,
                                         struct atv_pubkey *out, struct atv_err *err)
{
    struct atv_err sub;
    enum atv_status rc = ATV_OK;

    atv_err_clear(&sub);
    if (out == NULL) {
        rc = atv_err_set(&sub, ATV_E_USAGE, "out is NULL");
    } else {
        memset(out, 0, sizeof *out);
        rc = legacy_parse(type, mb, out, &sub);
    }
    return key_result(rc, &sub, "legacy key", out, err);
}

enum atv_status atv_atp_key_from_point(enum atv_key_type type, struct atv_bytes pt,
                                       struct atv_pubkey *out, struct atv_err *err)
{
    struct atv_err sub;
    enum atv_status rc = ATV_OK;

    atv_err_clear(&sub);
    if (out == NULL) {
        rc = atv_err_set(&sub, ATV_E_USAGE, "out is NULL");
    } else {
        memset(out, 0, sizeof *out);
        rc = point_parse(type, pt, out, &sub);
    }
    return key_result(rc, &sub, "public key", out, err);
}

enum atv_status atv_atp_key_to_didkey(const struct atv_pubkey *key, char *out, size_t cap,
                                      struct atv_err *err)
{
    uint8_t raw[MULTIKEY_BYTES];
    struct atv_bytes rv = {raw, sizeof raw};
    struct atv_buf b;
    enum atv_status rc = ATV_OK;

    atv_buf_init(&b, DIDKEY_PREFIX_LEN + 1u + ATV_MAX_MULTIBASE);
    if (out != NULL && cap > 0) {
        out[0] = '\0';
    }
    if (key == NULL || out == NULL) {
        rc = atv_err_set(err, ATV_E_USAGE, "did:key: NULL argument");
        goto out;
    }
    /* multicodec varints: e7 01 (secp256k1-pub), 80 24 (p256-pub) */
    switch (key->type) {
    case ATV_KEY_K256:
        raw[0] = 0xe7;
        raw[1] = 0x01;
        break;
    case ATV_KEY_P256:
        raw[0] = 0x80;
        raw[1] = 0x24;
        break;
    default:
        rc = atv_err_set(err, ATV_E_USAGE, "did:key: key type %d is not K-256 or P-256",
                         (int)key->type);
        goto out;
    }
    if (key->point[0] != 0x02 && key->point[0] != 0x03) {
        rc = atv_err_set(err, ATV_E_USAGE, "did:key: key holds no compressed point");
        goto out;
    }
    memcpy(raw + 2, key->point, sizeof key->point); /* 2 + 33 == sizeof raw */
    rc = atv_buf_append(&b, DIDKEY_PREFIX "z", DIDKEY_PREFIX_LEN + 1u, err);
    if (rc == ATV_OK) {
        rc = atv_atp_base58_encode(rv, &b, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (b.len >= cap) {
        rc = atv_err_set(err, ATV_E_LIMIT, "did:key: needs %zu bytes, have %zu", b.len + 1, cap);
        goto out;
    }
    memcpy(out, b.ptr, b.len); /* b.len < cap */
    out[b.len] = '\0';

out:
    atv_buf_cleanup(&b);
    return rc;
}

const char *atv_atp_key_type_name(enum atv_key_type type)
{
    switch (type) {
    case ATV_KEY_K256:
        return "K-256";
    case ATV_KEY_P256:
        return "P-256";
    case ATV_KEY_NONE:
    default:
        return "none";
    }
}

int atv_atp_key_eq(const struct atv_pubkey *a, const struct atv_pubkey *b)
{
    if (a == NULL || b == NULL || (a->type != ATV_KEY_K256 && a->type != ATV_KEY_P256)) {
        return 0;
    }
    /* both points are 33-byte SEC1 compressed (struct atv_pubkey) */
    return a->type == b->type && memcmp(a->point, b->point, sizeof a->point) == 0;
}

/* ---- signatures ------------------------------------------------------------ */

static enum atv_status k256_verify(const uint8_t point[33], struct atv_bytes msg,
                                   const uint8_t sig[64], struct atv_err *err)
{
    const secp256k1_context *ctx = secp256k1_context_static;
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature es;
    uint8_t h[32];

    if (secp256k1_ec_pubkey_parse(ctx, &pk, point, POINT_COMPRESSED) != 1) {
        return atv_err_setr(err, ATV_E_PARSE, reason_bad_key, "K-256 key: not a valid point");
    }
    /* parse_compact refuses r or s >= n; it accepts zero, so that is checked next */
    if (secp256k1_ecdsa_signature_parse_compact(ctx, &es, sig) != 1) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                            "signature: r or s is not below the K-256 group order");
    }
    if (memcmp(sig, zero32, 32) == 0 || memcmp(sig + 32, zero32, 32) == 0) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig, "signature: r or s is zero");
    }
    /* atproto cryptography spec: low-S only. ecdsa_verify refuses high-S as
     * well; asking normalize first gives the reader a precise message. */
    if (secp256k1_ecdsa_signature_normalize(ctx, NULL, &es) != 0) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                            "signature: s is above n/2 (high-S is invalid in atproto)");
    }
    atv_sha256(msg, h);
    if (secp256k1_ecdsa_verify(ctx, &es, h, &pk) != 1) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                            "signature: does not verify with the K-256 key");
    }
    return ATV_OK;
}

static enum atv_status p256_verify(const uint8_t point[33], struct atv_bytes msg,
                                   const uint8_t sig[64], struct atv_err *err)
{
    static const uint8_t empty = 0;
    struct atv_err sub;
    EVP_PKEY *pkey = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    unsigned char *der = NULL;
    EVP_MD_CTX *md = NULL;
    int derlen = 0;
    enum atv_status rc = ATV_OK;

    /* ECDSA (SEC 1 section 4.1.4 step 1): 0 < r < n and 0 < s < n; atproto
     * narrows s to s <= n/2. OpenSSL checks the first but accepts high-S. */
    if (memcmp(sig, zero32, 32) == 0 || memcmp(sig + 32, zero32, 32) == 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig, "signature: r or s is zero");
        goto out;
    }
    if (memcmp(sig, p256_n, 32) >= 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                          "signature: r is not below the P-256 group order");
        goto out;
    }
    if (memcmp(sig + 32, p256_half_n, 32) > 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                          "signature: s is above n/2 (high-S is invalid in atproto)");
        goto out;
    }
    atv_err_clear(&sub);
    rc = p256_pkey_new(point, POINT_COMPRESSED, &pkey, &sub);
    if (rc != ATV_OK) {
        rc = atv_err_setr(err, rc, rc == ATV_E_PARSE ? reason_bad_key : NULL, "P-256 key: %s",
                          sub.msg);
        goto out;
    }
    /* OpenSSL verifies DER (X.690 SEQUENCE of two INTEGERs): wrap r||s. */
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "openssl: out of memory");
        goto out;
    }
    if (ECDSA_SIG_set0(es, r, s) != 1) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "openssl: ECDSA_SIG_set0 failed");
        goto out;
    }
    r = NULL; /* owned by es now */
    s = NULL;
    derlen = i2d_ECDSA_SIG(es, &der);
    if (derlen <= 0 || der == NULL) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "openssl: cannot encode the signature");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "openssl: out of memory");
        goto out;
    }
    if (EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "openssl: cannot set up ECDSA-SHA256");
        goto out;
    }
    /* Only 1 means verified: 0 is a bad signature, a negative value an error. */
    if (EVP_DigestVerify(md, der, (size_t)derlen, msg.ptr != NULL ? msg.ptr : &empty, msg.len) !=
        1) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                          "signature: does not verify with the P-256 key");
        goto out;
    }

out:
    if (rc != ATV_OK) {
        ERR_clear_error();
    }
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    EVP_PKEY_free(pkey);
    return rc;
}

enum atv_status atv_atp_sig_verify(const struct atv_pubkey *key, struct atv_bytes msg,
                                   struct atv_bytes sig, struct atv_err *err)
{
    if (key == NULL || (msg.ptr == NULL && msg.len != 0) || (sig.ptr == NULL && sig.len != 0)) {
        return atv_err_set(err, ATV_E_USAGE, "signature: NULL argument");
    }
    if (key->type != ATV_KEY_K256 && key->type != ATV_KEY_P256) {
        return atv_err_set(err, ATV_E_USAGE, "signature: key type %d is not K-256 or P-256",
                           (int)key->type);
    }
    /* atproto cryptography spec: "compact" 64-byte r||s; DER is not allowed. */
    if (sig.len != SIG_BYTES) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_bad_sig,
                            "signature: want 64 bytes (r||s), got %zu", sig.len);
    }
    switch (key->type) {
    case ATV_KEY_K256:
        return k256_verify(key->point, msg, sig.ptr, err);
    case ATV_KEY_P256:
        return p256_verify(key->point, msg, sig.ptr, err);
    default:
        return atv_err_set(err, ATV_E_USAGE, "signature: unknown key type");
    }
}
