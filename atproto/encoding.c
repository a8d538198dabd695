/* atproto/encoding.c: base58btc, base32 (RFC 4648 lower case, unpadded) and
 * the two multibase prefixes atproto uses.
 *
 * Specs: multiformats multibase (prefix table: 'z' base58btc, 'b' base32);
 * draft-msporny-base58 (the Bitcoin alphabet, leading zero bytes written as
 * '1'); RFC 4648 section 6 (base32). Decoders are strict: a character outside
 * the alphabet, padding, upper case, an impossible length or non-zero
 * trailing bits is an error, never skipped or normalised.
 *
 * Every function appends to the caller's buffer; on failure the buffer is
 * left exactly as it was (its length restored), so no partial output leaks.
 */
#include "atproto/atproto.h"

#include <string.h>

/* base58 is a big-number conversion, quadratic in the input length. Keys are
 * under 100 characters; the cap keeps a hostile input from costing more
 * than about a million byte operations. */
#define B58_MAX_CHARS ((size_t)ATV_MAX_MULTIBASE * 4u)
/* Encoding: the largest input whose encoding still fits B58_MAX_CHARS
 * (each byte needs at most log(256)/log(58) < 1.37 characters), so that
 * anything we write, we can read back. */
#define B58_MAX_BYTES ((size_t)ATV_MAX_MULTIBASE * 2u)

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* The digit value of c in the Bitcoin alphabet, or -1 ('0', 'O', 'I' and 'l'
 * are left out of it on purpose; draft-msporny-base58 section 2). */
static int b58_val(char c)
{
    for (int i = 0; i < 58; i++) {
        if (b58_alphabet[i] == c) {
            return i;
        }
    }
    return -1;
}

/* The value of c in the RFC 4648 base32 alphabet, lower case only, or -1. */
static int b32_val(char c)
{
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }
    return -1;
}

enum atv_status atv_atp_base58_decode(const char *s, size_t n, struct atv_buf *out,
                                      struct atv_err *err)
{
    /* Big-endian base-256 digits of the value, filled from the end. A base58
     * digit carries log(58)/log(256) < 0.733 bytes, so n characters need at
     * most n * 733 / 1000 + 1 bytes. */
    uint8_t num[B58_MAX_CHARS * 733u / 1000u + 1u] = {0};
    size_t start = out->len;
    size_t zeros = 0;
    size_t used = 0; /* significant bytes at the end of num */
    enum atv_status rc = ATV_OK;

    if (n > B58_MAX_CHARS) {
        rc = atv_err_set(err, ATV_E_LIMIT, "base58: %zu characters exceed the cap of %zu", n,
                         B58_MAX_CHARS);
        goto out;
    }
    /* Validate every character before doing any arithmetic. */
    for (size_t i = 0; i < n; i++) {
        if (b58_val(s[i]) < 0) {
            rc = atv_err_set(err, ATV_E_PARSE, "base58: character 0x%02x at offset %zu is not in "
                             "the bitcoin alphabet", (unsigned)(unsigned char)s[i], i);
            goto out;
        }
    }
    /* Each leading '1' stands for one leading 0x00 byte. */
    while (zeros < n && s[zeros] == '1') {
        zeros++;
    }
    for (size_t i = zeros; i < n; i++) {
        unsigned carry = (unsigned)b58_val(s[i]);
        size_t j = 0;
        /* num = num * 58 + digit, over the `used` low-order bytes. */
        for (; j < used || carry != 0; j++) {
            if (j == sizeof num) {
                /* cannot happen: num is sized for B58_MAX_CHARS digits */
                rc = atv_err_set(err, ATV_E_INTERNAL, "base58: decode overflow");
                goto out;
            }
            size_t k = sizeof num - 1 - j;
            carry += 58u * num[k];
            num[k] = (uint8_t)(carry & 0xffu);
            carry >>= 8;
        }
        used = j;
    }
    size_t total = zeros + used;
    if (total > out->max - out->len) {
        rc = atv_err_set(err, ATV_E_LIMIT, "base58: %zu decoded bytes exceed the cap of %zu",
                         total, out->max);
        goto out;
    }
    for (size_t i = 0; i < zeros; i++) {
        rc = atv_buf_push(out, 0, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    if (used > 0) {
        rc = atv_buf_append(out, num + (sizeof num - used), used, err);
    }

out:
    if (rc != ATV_OK) {
        out->len = start;
    }
    return rc;
}

enum atv_status atv_atp_base58_encode(struct atv_bytes in, struct atv_buf *out,
                                      struct atv_err *err)
{
    /* Base-58 digits of the value, least significant first. One byte needs
     * at most log(256)/log(58) < 1.366 digits. */
    uint8_t dig[B58_MAX_BYTES * 1366u / 1000u + 1u] = {0};
    size_t start = out->len;
    size_t zeros = 0;
    size_t used = 0;
    enum atv_status rc = ATV_OK;

    if (in.len > B58_MAX_BYTES) {
        rc = atv_err_set(err, ATV_E_LIMIT, "base58: %zu bytes exceed the cap of %zu", in.len,
                         B58_MAX_BYTES);
        goto out;
    }
    while (zeros < in.len && in.ptr[zeros] == 0) {
        zeros++;
    }
    for (size_t i = zeros; i < in.len; i++) {
        unsigned carry = in.ptr[i];
        size_t j = 0;
        /* dig = dig * 256 + byte */
        for (; j < used || carry != 0; j++) {
            if (j == sizeof dig) {
                /* cannot happen: dig is sized for B58_MAX_BYTES bytes */
                rc = atv_err_set(err, ATV_E_INTERNAL, "base58: encode overflow");
                goto out;
            }
            carry += 256u * dig[j];
            dig[j] = (uint8_t)(carry % 58u);
            carry /= 58u;
        }
        used = j;
    }
    if (zeros + used > out->max - out->len) {
        rc = atv_err_set(err, ATV_E_LIMIT, "base58: %zu characters exceed the cap of %zu",
                         zeros + used, out->max);
        goto out;
    }
    for (size_t i = 0; i < zeros && rc == ATV_OK; i++) {
        rc = atv_buf_push(out, (uint8_t)'1', err);
    }
    for (size_t i = used; i > 0 && rc == ATV_OK; i--) {
        rc = atv_buf_push(out, (uint8_t)b58_alphabet[dig[i - 1]], err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_terminate(out, err);
    }

out:
    if (rc != ATV_OK) {
        out->len = start;
    }
    return rc;
}

enum atv_status atv_atp_base32_decode(const char *s, size_t n, struct atv_buf *out,
                                      struct atv_err *err)
{
    size_t start = out->len;
    uint32_t acc = 0;
    unsigned bits = 0;
    enum atv_status rc = ATV_OK;

    /* RFC 4648 section 6: 8 characters carry 5 bytes. A final group of 1, 3
     * or 6 characters leaves 5 or more unused bits: no encoder writes that. */
    size_t rem = n % 8;
    if (rem == 1 || rem == 3 || rem == 6) {
        rc = atv_err_set(err, ATV_E_PARSE, "base32: impossible length %zu", n);
        goto out;
    }
    size_t want = n / 8 * 5 + rem * 5 / 8;
    if (want > out->max - out->len) {
        rc = atv_err_set(err, ATV_E_LIMIT, "base32: %zu decoded bytes exceed the cap of %zu",
                         want, out->max);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int v = b32_val(s[i]);
        if (v < 0) {
            /* multibase 'b' is the lower-case, unpadded variant: upper case,
             * '=', digits outside 2-7 and whitespace are all rejected. */
            rc = atv_err_set(err, ATV_E_PARSE, "base32: character 0x%02x at offset %zu is not "
                             "in the lower-case alphabet", (unsigned)(unsigned char)s[i], i);
            goto out;
        }
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            rc = atv_buf_push(out, (uint8_t)((acc >> bits) & 0xffu), err);
            if (rc != ATV_OK) {
                goto out;
            }
        }
        acc &= (1u << bits) - 1u; /* keep only the bits not yet written */
    }
    /* RFC 4648 section 3.5: the pad bits must be zero; a decoder that
     * ignored them would accept several spellings of one byte string. */
    if (acc != 0) {
        rc = atv_err_set(err, ATV_E_PARSE, "base32: non-zero trailing bits");
        goto out;
    }

out:
    if (rc != ATV_OK) {
        out->len = start;
    }
    return rc;
}

enum atv_status atv_atp_base32_encode(struct atv_bytes in, struct atv_buf *out,
                                      struct atv_err *err)
{
    size_t start = out->len;
    uint32_t acc = 0;
    unsigned bits = 0;
    enum atv_status rc = ATV_OK;

    /* ceil(8 * len / 5) characters, computed without overflow. */
    size_t want = in.len / 5 * 8 + (in.len % 5 * 8 + 4) / 5;
    if (in.len > SIZE_MAX / 2 || want > out->max - out->len) {
        rc = atv_err_set(err, ATV_E_LIMIT, "base32: %zu bytes encode past the cap of %zu",
                         in.len, out->max);
        goto out;
    }
    for (size_t i = 0; i < in.len && rc == ATV_OK; i++) {
        acc = ((acc << 8) | in.ptr[i]) & 0xfffu; /* at most 4 + 8 live bits */
        bits += 8;
        while (bits >= 5 && rc == ATV_OK) {
            bits -= 5;
            rc = atv_buf_push(out, (uint8_t)b32_alphabet[(acc >> bits) & 31u], err);
        }
    }
    if (rc == ATV_OK && bits > 0) {
        /* the last character is padded with zero bits; no '=' (multibase) */
        rc = atv_buf_push(out, (uint8_t)b32_alphabet[(acc << (5 - bits)) & 31u], err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_terminate(out, err);
    }

out:
    if (rc != ATV_OK) {
        out->len = start;
    }
    return rc;
}

enum atv_status atv_atp_multibase_decode(const char *s, size_t n, struct atv_buf *out,
                                         struct atv_err *err)
{
    if (n == 0) {
        return atv_err_set(err, ATV_E_PARSE, "multibase: empty string");
    }
    /* multibase prefix table: 'z' base58btc, 'b' base32 (lower, unpadded).
     * atproto uses nothing else; every other prefix is refused. */
    switch (s[0]) {
    case 'z':
        return atv_atp_base58_decode(s + 1, n - 1, out, err);
    case 'b':
        return atv_atp_base32_decode(s + 1, n - 1, out, err);
    default:
        return atv_err_set(err, ATV_E_UNSUPPORTED, "multibase: prefix 0x%02x is not supported",
                           (unsigned)(unsigned char)s[0]);
    }
}
