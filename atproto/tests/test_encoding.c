/* Unit tests for atproto/encoding.c: base58btc, base32 and multibase. */
#include "atproto/atproto.h"
#include "common/test.h"

#include <stdlib.h>

/* Known answers, hex <-> base58btc. From Bitcoin Core's
 * src/test/data/base58_encode_decode.json, plus leading-zero cases. */
static const struct {
    const char *hex;
    const char *b58;
} b58_kats[] = {
    {"", ""},
    {"00", "1"},
    {"0000", "11"},
    {"00000001", "1112"},
    {"61", "2g"},
    {"626262", "a3gV"},
    {"636363", "aPEr"},
    {"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
    {"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    {"516b6fcd0f", "ABnLTmg"},
    {"bf4f89001e670274dd", "3SEo3LWLoPntC"},
    {"572e4794", "3EFU7m"},
    {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
    {"10c8511e", "Rt5zm"},
    {"00000000000000000000", "1111111111"},
    {"000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
     "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"},
};

/* RFC 4648 section 10 test vectors, lower case, padding removed. */
static const struct {
    const char *raw;
    const char *b32;
} b32_kats[] = {
    {"", ""},           {"f", "my"},          {"fo", "mzxq"},          {"foo", "mzxw6"},
    {"foob", "mzxw6yq"}, {"fooba", "mzxw6ytb"}, {"foobar", "mzxw6ytboi"},
};

static struct atv_bytes view(const struct atv_buf *b)
{
    return atv_buf_view(b);
}

static void test_base58_kats(void)
{
    struct atv_err err;
    struct atv_buf raw, enc, dec;

    for (size_t i = 0; i < sizeof b58_kats / sizeof b58_kats[0]; i++) {
        const char *h = b58_kats[i].hex;
        const char *z = b58_kats[i].b58;
        atv_err_clear(&err);
        atv_buf_init(&raw, 1024);
        atv_buf_init(&enc, 1024);
        atv_buf_init(&dec, 1024);
        CHECK_STATUS(atv_hex_decode(h, strlen(h), &raw, &err), ATV_OK, &err);
        CHECK_STATUS(atv_atp_base58_encode(view(&raw), &enc, &err), ATV_OK, &err);
        CHECK_MSG(enc.len == strlen(z) && (enc.len == 0 || memcmp(enc.ptr, z, enc.len) == 0),
                  "base58 encode %s -> \"%s\"", h, z);
        CHECK_STATUS(atv_atp_base58_decode(z, strlen(z), &dec, &err), ATV_OK, &err);
        CHECK_MSG(atv_bytes_eq(view(&dec), view(&raw)), "base58 decode \"%s\" -> %s", z, h);
        atv_buf_cleanup(&raw);
        atv_buf_cleanup(&enc);
        atv_buf_cleanup(&dec);
    }
}

static void test_base58_negatives(void)
{
    static const char *bad[] = {"0", "O", "I", "l", "2g0", "1O", "abI", "l1", " 2g", "2g ",
                                "2g\n", "+", "z-", "\xff", "2\xc3\xa9"};
    struct atv_err err;
    struct atv_buf b;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atv_err_clear(&err);
        atv_buf_init(&b, 64);
        enum atv_status rc = atv_atp_base58_decode(bad[i], strlen(bad[i]), &b, &err);
        CHECK_MSG(rc == ATV_E_PARSE && b.len == 0, "base58 rejects bad string #%zu (%s)", i,
                  err.msg);
        atv_buf_cleanup(&b);
    }
    /* an embedded NUL counts as a character, and is not in the alphabet */
    atv_err_clear(&err);
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_base58_decode("2g\0", 3, &b, &err), ATV_E_PARSE, &err);
    atv_buf_cleanup(&b);

    /* the work cap: ATV_MAX_MULTIBASE * 4 characters pass, one more is a limit */
    size_t cap = (size_t)ATV_MAX_MULTIBASE * 4u;
    char *ones = malloc(cap + 2);
    CHECK(ones != NULL);
    if (ones == NULL) {
        return;
    }
    memset(ones, '1', cap + 1);
    ones[cap + 1] = '\0';
    atv_err_clear(&err);
    atv_buf_init(&b, 4096);
    CHECK_STATUS(atv_atp_base58_decode(ones, cap, &b, &err), ATV_OK, &err);
    CHECK_EQ(b.len, cap);
    atv_buf_cleanup(&b);
    atv_err_clear(&err);
    atv_buf_init(&b, 4096);
    CHECK_STATUS(atv_atp_base58_decode(ones, cap + 1, &b, &err), ATV_E_LIMIT, &err);
    CHECK_EQ(b.len, 0u);
    atv_buf_cleanup(&b);
    /* a maximal-value input at the cap ('z' is digit 57) still decodes */
    memset(ones, 'z', cap);
    atv_err_clear(&err);
    atv_buf_init(&b, 4096);
    CHECK_STATUS(atv_atp_base58_decode(ones, cap, &b, &err), ATV_OK, &err);
    CHECK(b.len > 700 && b.len <= 751 && b.ptr[0] != 0);
    atv_buf_cleanup(&b);
    free(ones);

    /* the output buffer's max is honoured, and a failed decode appends nothing */
    atv_err_clear(&err);
    atv_buf_init(&b, 4);
    CHECK_STATUS(atv_buf_append(&b, "ab", 2, &err), ATV_OK, &err);
    CHECK_STATUS(atv_atp_base58_decode("a3gV", 4, &b, &err), ATV_E_LIMIT, &err); /* 3 bytes */
    CHECK(b.len == 2 && memcmp(b.ptr, "ab", 2) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_base58_decode("a3g0", 4, &b, &err), ATV_E_PARSE, &err);
    CHECK(b.len == 2);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_base58_decode("11", 2, &b, &err), ATV_OK, &err); /* appends */
    CHECK(b.len == 4 && memcmp(b.ptr, "ab\0\0", 4) == 0);
    atv_buf_cleanup(&b);
    atv_err_clear(&err);
    atv_buf_init(&b, 3);
    CHECK_STATUS(atv_atp_base58_decode("1112", 4, &b, &err), ATV_E_LIMIT, &err);
    CHECK_EQ(b.len, 0u);
    atv_buf_cleanup(&b);
}

/* A small deterministic generator, so failures reproduce. */
static uint32_t rng_next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_base58_roundtrip(void)
{
    struct atv_err err;
    struct atv_buf enc, dec;
    uint8_t data[512];
    uint32_t seed = 42;
    int all_ok = 1;

    for (size_t len = 0; len <= 80; len++) {
        for (size_t zeros = 0; zeros <= 3 && zeros <= len; zeros++) {
            for (size_t i = 0; i < len; i++) {
                data[i] = i < zeros ? 0 : (uint8_t)rng_next(&seed);
            }
            struct atv_bytes in = {data, len};
            atv_err_clear(&err);
            atv_buf_init(&enc, 2048);
            atv_buf_init(&dec, 2048);
            if (atv_atp_base58_encode(in, &enc, &err) != ATV_OK ||
                atv_atp_base58_decode((const char *)enc.ptr, enc.len, &dec, &err) != ATV_OK ||
                !atv_bytes_eq(view(&dec), in)) {
                all_ok = 0;
                DIAG("base58 round trip failed at len %zu zeros %zu: %s", len, zeros, err.msg);
            }
            atv_buf_cleanup(&enc);
            atv_buf_cleanup(&dec);
        }
    }
    CHECK_MSG(all_ok, "base58 round trips for lengths 0..80 with 0..3 leading zeros");

    /* the encoder's cap: 512 bytes of 0xff encode within the decoder's cap */
    memset(data, 0xff, sizeof data);
    struct atv_bytes big = {data, sizeof data};
    atv_err_clear(&err);
    atv_buf_init(&enc, 4096);
    atv_buf_init(&dec, 4096);
    CHECK_STATUS(atv_atp_base58_encode(big, &enc, &err), ATV_OK, &err);
    CHECK(enc.len <= (size_t)ATV_MAX_MULTIBASE * 4u);
    CHECK_STATUS(atv_atp_base58_decode((const char *)enc.ptr, enc.len, &dec, &err), ATV_OK, &err);
    CHECK(atv_bytes_eq(view(&dec), big));
    atv_buf_cleanup(&enc);
    atv_buf_cleanup(&dec);

    uint8_t *over = calloc(ATV_MAX_MULTIBASE * 2u + 1u, 1);
    CHECK(over != NULL);
    if (over != NULL) {
        struct atv_bytes ov = {over, ATV_MAX_MULTIBASE * 2u + 1u};
        atv_err_clear(&err);
        atv_buf_init(&enc, 1u << 16);
        CHECK_STATUS(atv_atp_base58_encode(ov, &enc, &err), ATV_E_LIMIT, &err);
        CHECK_EQ(enc.len, 0u);
        atv_buf_cleanup(&enc);
        free(over);
    }

    /* the output max is honoured when encoding */
    static const uint8_t two[] = {0x00, 0x61};
    struct atv_bytes tv = {two, sizeof two};
    atv_err_clear(&err);
    atv_buf_init(&enc, 2);
    CHECK_STATUS(atv_atp_base58_encode(tv, &enc, &err), ATV_E_LIMIT, &err); /* "12g" */
    CHECK_EQ(enc.len, 0u);
    atv_buf_cleanup(&enc);
    atv_err_clear(&err);
    atv_buf_init(&enc, 3);
    CHECK_STATUS(atv_atp_base58_encode(tv, &enc, &err), ATV_OK, &err);
    CHECK(enc.len == 3 && strcmp((const char *)enc.ptr, "12g") == 0); /* NUL-terminated */
    atv_buf_cleanup(&enc);
}

static void test_base32_kats(void)
{
    struct atv_err err;
    struct atv_buf enc, dec;

    for (size_t i = 0; i < sizeof b32_kats / sizeof b32_kats[0]; i++) {
        const char *r = b32_kats[i].raw;
        const char *z = b32_kats[i].b32;
        struct atv_bytes in = atv_bytes_str(r);
        atv_err_clear(&err);
        atv_buf_init(&enc, 64);
        atv_buf_init(&dec, 64);
        CHECK_STATUS(atv_atp_base32_encode(in, &enc, &err), ATV_OK, &err);
        CHECK_MSG(enc.len == strlen(z) && (enc.len == 0 || memcmp(enc.ptr, z, enc.len) == 0),
                  "base32 encode \"%s\" -> \"%s\"", r, z);
        CHECK_STATUS(atv_atp_base32_decode(z, strlen(z), &dec, &err), ATV_OK, &err);
        CHECK_MSG(atv_bytes_eq(view(&dec), in), "base32 decode \"%s\" -> \"%s\"", z, r);
        atv_buf_cleanup(&enc);
        atv_buf_cleanup(&dec);
    }
}

static void test_base32_negatives(void)
{
    static const char *bad[] = {
        "MY",       "mY",        "MZXW6YTBOI", /* upper case */
        "m1",       "m0",        "m8",  "m9", /* digits outside 2-7 */
        "my=",      "my======",  "mzxw6ytboi==", /* padding */
        "my ",      " my",       "m\ny",  "m-",  "\xff\xff",
        "m",        "mzx",       "mzxw6y",   /* impossible lengths: 1, 3, 6 mod 8 */
        "a",        "aaa",       "aaaaaa",   /* ... even when every bit is zero */
        "aaaaaaaaa",
        "mzxw6ytbo", "mzxw6ytboiq",          /* 9 and 11 characters */
        "mz",       "mzxr",      "mzxw7",  "mzxw6yr",  /* non-zero trailing bits (2,4,1,3) */
        "mzxw6ytboj",
    };
    struct atv_err err;
    struct atv_buf b;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atv_err_clear(&err);
        atv_buf_init(&b, 64);
        enum atv_status rc = atv_atp_base32_decode(bad[i], strlen(bad[i]), &b, &err);
        /* by index: some cases hold control characters that would break a TAP line */
        CHECK_MSG(rc == ATV_E_PARSE && b.len == 0, "base32 rejects bad string #%zu (%s)", i,
                  err.msg);
        atv_buf_cleanup(&b);
    }
    /* the message names trailing bits, so the rule is the one that fired */
    atv_err_clear(&err);
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_base32_decode("mz", 2, &b, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "trailing bits") != NULL);
    atv_buf_cleanup(&b);

    /* the output max is honoured; a failure appends nothing */
    atv_err_clear(&err);
    atv_buf_init(&b, 5);
    CHECK_STATUS(atv_atp_base32_decode("mzxw6ytboi", 10, &b, &err), ATV_E_LIMIT, &err);
    CHECK_EQ(b.len, 0u);
    CHECK_STATUS(atv_buf_append(&b, "xy", 2, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_base32_decode("mzxw6", 5, &b, &err), ATV_OK, &err);
    CHECK(b.len == 5 && memcmp(b.ptr, "xyfoo", 5) == 0);
    atv_buf_cleanup(&b);
    atv_err_clear(&err);
    atv_buf_init(&b, 9);
    CHECK_STATUS(atv_atp_base32_encode(atv_bytes_str("foobar"), &b, &err), ATV_E_LIMIT, &err);
    CHECK_EQ(b.len, 0u);
    atv_buf_cleanup(&b);
}

static void test_base32_roundtrip(void)
{
    struct atv_err err;
    struct atv_buf enc, dec;
    uint8_t data[64];
    uint32_t seed = 7;
    int all_ok = 1;

    for (size_t len = 0; len <= sizeof data; len++) {
        for (size_t i = 0; i < len; i++) {
            data[i] = (uint8_t)rng_next(&seed);
        }
        struct atv_bytes in = {data, len};
        atv_err_clear(&err);
        atv_buf_init(&enc, 256);
        atv_buf_init(&dec, 256);
        if (atv_atp_base32_encode(in, &enc, &err) != ATV_OK ||
            enc.len != (len * 8 + 4) / 5 ||
            atv_atp_base32_decode((const char *)enc.ptr, enc.len, &dec, &err) != ATV_OK ||
            !atv_bytes_eq(view(&dec), in)) {
            all_ok = 0;
            DIAG("base32 round trip failed at len %zu: %s", len, err.msg);
        }
        atv_buf_cleanup(&enc);
        atv_buf_cleanup(&dec);
    }
    CHECK_MSG(all_ok, "base32 round trips for lengths 0..64");
}

static void test_multibase(void)
{
    struct atv_err err;
    struct atv_buf b;

    atv_err_clear(&err);
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_multibase_decode("z2g", 3, &b, &err), ATV_OK, &err);
    CHECK(b.len == 1 && b.ptr[0] == 'a');
    atv_buf_cleanup(&b);

    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_multibase_decode("bmzxw6ytboi", 11, &b, &err), ATV_OK, &err);
    CHECK(b.len == 6 && memcmp(b.ptr, "foobar", 6) == 0);
    atv_buf_cleanup(&b);

    /* a bare prefix is the empty byte string */
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_multibase_decode("z", 1, &b, &err), ATV_OK, &err);
    CHECK_EQ(b.len, 0u);
    CHECK_STATUS(atv_atp_multibase_decode("b", 1, &b, &err), ATV_OK, &err);
    CHECK_EQ(b.len, 0u);
    atv_buf_cleanup(&b);

    /* n counts, not the NUL: "z2g" cut to "z2" */
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_multibase_decode("z2g", 2, &b, &err), ATV_OK, &err);
    CHECK(b.len == 1 && b.ptr[0] == 1);
    atv_buf_cleanup(&b);

    /* other multibase prefixes: base64 'm', hex 'f', base58flickr 'Z', BASE32 'B',
     * base32hex 'v', identity 0x00 */
    static const char *unsupported[] = {"mZm9v", "f666f6f", "Z2g", "BMZXW6", "vcpnmu", "u", "1"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        atv_err_clear(&err);
        atv_buf_init(&b, 64);
        enum atv_status rc =
            atv_atp_multibase_decode(unsupported[i], strlen(unsupported[i]), &b, &err);
        CHECK_MSG(rc == ATV_E_UNSUPPORTED && b.len == 0, "multibase refuses \"%s\" (%s)",
                  unsupported[i], err.msg);
        atv_buf_cleanup(&b);
    }
    atv_err_clear(&err);
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_atp_multibase_decode("\0z2g", 4, &b, &err), ATV_E_UNSUPPORTED, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_multibase_decode("", 0, &b, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_multibase_decode(NULL, 0, &b, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_multibase_decode("z0", 2, &b, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_multibase_decode("bMY", 3, &b, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_multibase_decode("bmz", 3, &b, &err), ATV_E_PARSE, &err);
    CHECK_EQ(b.len, 0u);
    atv_buf_cleanup(&b);
}

int main(void)
{
    test_base58_kats();
    test_base58_negatives();
    test_base58_roundtrip();
    test_base32_kats();
    test_base32_negatives();
    test_base32_roundtrip();
    test_multibase();
    return atv_test_done();
}
