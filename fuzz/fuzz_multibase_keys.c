/* fuzz/fuzz_multibase_keys.c: multibase, public keys and signatures.
 *
 * Target functions: atv_atp_multibase_decode, atv_atp_base58_decode,
 * atv_atp_base58_encode, atv_atp_base32_decode, atv_atp_base32_encode,
 * atv_atp_key_parse_multikey, atv_atp_key_parse_didkey,
 * atv_atp_key_parse_legacy (K-256 and P-256), atv_atp_key_from_point,
 * atv_atp_key_to_didkey, atv_atp_sig_verify.
 *
 * Invariants: base58btc and unpadded lower-case base32 with zero pad bits
 * are bijections, so decode-then-encode gives the input back; a key that
 * parses prints as a did:key that parses to the same key, and a multikey or
 * did:key prints back exactly as it was written. The signature check runs
 * the fixture keys of testdata/proofs/{k256,p256} over the input, split as
 * the first 64 bytes (signature) and the rest (message). No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

/* testdata/proofs/k256/fixture.json and p256/fixture.json, publicKeyCompressedHex */
static const char fz_k256_hex[] =
    "03ee70e8109ce7b707ac43176a847e6302c8909c058ad7adb5096e036ff90e92a6";
static const char fz_p256_hex[] =
    "0322fb4aaf7a069776a8f789b7f69244fa36231eabe06414d4ef5ecf99dac2947c";
#define FZ_DIDKEY_CAP (ATV_MAX_MULTIBASE + 16u)

static struct atv_pubkey fz_k256, fz_p256;
static int fz_ready;

static void fz_load_key(enum atv_key_type type, const char *hex, struct atv_pubkey *out)
{
    struct atv_buf b;
    atv_buf_init(&b, 64);
    FZ_CHECK(atv_hex_decode(hex, strlen(hex), &b, NULL) == ATV_OK);
    FZ_CHECK(atv_atp_key_from_point(type, atv_buf_view(&b), out, NULL) == ATV_OK);
    atv_buf_cleanup(&b);
}

/* A parsed key round-trips through its did:key form. */
static void fz_key_roundtrip(const struct atv_pubkey *key, const char *expect_mb)
{
    char didkey[FZ_DIDKEY_CAP];
    struct atv_pubkey back;

    FZ_CHECK(key->type == ATV_KEY_K256 || key->type == ATV_KEY_P256);
    FZ_CHECK(atv_atp_key_to_didkey(key, didkey, sizeof didkey, NULL) == ATV_OK);
    FZ_CHECK(strncmp(didkey, "did:key:z", 9) == 0);
    FZ_CHECK(atv_atp_key_parse_didkey(didkey, &back, NULL) == ATV_OK);
    FZ_CHECK(back.type == key->type && memcmp(back.point, key->point, sizeof key->point) == 0);
    if (expect_mb != NULL && strcmp(didkey + 8, expect_mb) != 0) {
        (void)fprintf(stderr, "key \"%s\" parsed, prints as \"%s\"\n", expect_mb, didkey + 8);
        abort();
    }
}

static void fz_codecs(const char *s, size_t n)
{
    struct atv_buf dec, enc;
    atv_buf_init(&dec, 4 * n + 64);
    atv_buf_init(&enc, 4 * n + 64);
    if (atv_atp_base58_decode(s, n, &dec, NULL) == ATV_OK &&
        atv_atp_base58_encode(atv_buf_view(&dec), &enc, NULL) == ATV_OK) {
        FZ_CHECK(enc.len == n && memcmp(enc.ptr, s, n) == 0);
    }
    dec.len = enc.len = 0;
    if (atv_atp_base32_decode(s, n, &dec, NULL) == ATV_OK) {
        FZ_CHECK(atv_atp_base32_encode(atv_buf_view(&dec), &enc, NULL) == ATV_OK);
        FZ_CHECK(enc.len == n && memcmp(enc.ptr, s, n) == 0);
    }
    dec.len = 0;
    if (atv_atp_multibase_decode(s, n, &dec, NULL) == ATV_OK) {
        FZ_CHECK(s[0] == 'z' || s[0] == 'b');
    }
    atv_buf_cleanup(&dec);
    atv_buf_cleanup(&enc);
}

static void fz_verify(const struct atv_pubkey *key, struct atv_bytes msg, struct atv_bytes sig)
{
    struct atv_err err;
    enum atv_status rc;
    atv_err_clear(&err);
    rc = atv_atp_sig_verify(key, msg, sig, &err);
    FZ_CHECK(rc == ATV_OK || (rc == ATV_E_VERIFY && err.reason != NULL));
    FZ_CHECK(rc != ATV_OK || sig.len == 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_pubkey key;
    struct atv_bytes msg, sig;
    char *s;
    size_t n;

    if (!fz_ready) {
        fz_load_key(ATV_KEY_K256, fz_k256_hex, &fz_k256);
        fz_load_key(ATV_KEY_P256, fz_p256_hex, &fz_p256);
        fz_ready = 1;
    }
    /* the codecs see the raw bytes, NULs included */
    fz_codecs((const char *)data, size);

    s = fz_cstr(data, size, &n);
    if (atv_atp_key_parse_multikey(s, &key, NULL) == ATV_OK) {
        fz_key_roundtrip(&key, s);
    }
    if (atv_atp_key_parse_didkey(s, &key, NULL) == ATV_OK) {
        FZ_CHECK(strncmp(s, "did:key:", 8) == 0);
        fz_key_roundtrip(&key, s + 8);
    }
    if (atv_atp_key_parse_legacy(ATV_KEY_K256, s, &key, NULL) == ATV_OK) {
        FZ_CHECK(key.type == ATV_KEY_K256);
        fz_key_roundtrip(&key, NULL);
    }
    if (atv_atp_key_parse_legacy(ATV_KEY_P256, s, &key, NULL) == ATV_OK) {
        FZ_CHECK(key.type == ATV_KEY_P256);
        fz_key_roundtrip(&key, NULL);
    }
    free(s);

    /* raw SEC1 points of either curve */
    if (atv_atp_key_from_point(ATV_KEY_K256, (struct atv_bytes){data, size}, &key, NULL) ==
        ATV_OK) {
        FZ_CHECK(size == 33 || size == 65);
        fz_key_roundtrip(&key, NULL);
    }
    if (atv_atp_key_from_point(ATV_KEY_P256, (struct atv_bytes){data, size}, &key, NULL) ==
        ATV_OK) {
        FZ_CHECK(size == 33 || size == 65);
        fz_key_roundtrip(&key, NULL);
    }

    /* signatures (the seeds hold the fixtures' signed commits, so both
     * answers occur); a refusal is always a verdict with a reason */
    sig = (struct atv_bytes){data, size < 64 ? size : 64};
    msg = (struct atv_bytes){data + sig.len, size - sig.len};
    fz_verify(&fz_k256, msg, sig);
    fz_verify(&fz_p256, msg, sig);
    return 0;
}
