/* atproto/cid.c: CIDv1 as atproto repositories use it.
 *
 * Binary form (multiformats CID spec): uvarint(version=1) uvarint(codec)
 * uvarint(multihash code) uvarint(digest length) digest. atproto data model
 * spec, "Link and CID Formats": CIDv1, sha2-256 (0x12, 32 bytes), codec
 * dag-cbor (0x71) for repository objects or raw (0x55) for blobs. Anything
 * else is rejected rather than carried along. */
#include "atproto/atproto.h"

#include <string.h>

#define MH_SHA2_256 0x12u

enum atv_status atv_atp_cid_read(struct atv_reader *rd, struct atv_cid *out, struct atv_err *err)
{
    struct atv_reader r = *rd;
    uint64_t version = 0, codec = 0, mh = 0, mhlen = 0;
    struct atv_bytes digest;
    enum atv_status rc;

    memset(out, 0, sizeof *out);
    rc = atv_rd_uvarint(&r, &version, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (version != 1) {
        /* a CIDv0 (a bare multihash, starting 0x12 0x20) lands here too */
        rc = atv_err_set(err, ATV_E_UNSUPPORTED, "cid: version %llu, want 1",
                         (unsigned long long)version);
        goto out;
    }
    rc = atv_rd_uvarint(&r, &codec, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (codec != ATV_CODEC_DAG_CBOR && codec != ATV_CODEC_RAW) {
        rc = atv_err_set(err, ATV_E_UNSUPPORTED, "cid: codec 0x%llx, want 0x71 or 0x55",
                         (unsigned long long)codec);
        goto out;
    }
    rc = atv_rd_uvarint(&r, &mh, err);
    if (rc == ATV_OK) {
        rc = atv_rd_uvarint(&r, &mhlen, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (mh != MH_SHA2_256 || mhlen != 32) {
        rc = atv_err_set(err, ATV_E_UNSUPPORTED,
                         "cid: multihash 0x%llx of %llu bytes, want sha2-256 (0x12) of 32",
                         (unsigned long long)mh, (unsigned long long)mhlen);
        goto out;
    }
    rc = atv_rd_take(&r, 32, &digest, err);
    if (rc != ATV_OK) {
        goto out;
    }
    out->codec = codec;
    memcpy(out->digest, digest.ptr, 32); /* atv_rd_take returned exactly 32 bytes */
    *rd = r;
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    return rc;
}

enum atv_status atv_atp_cid_from_bin(struct atv_bytes b, struct atv_cid *out, struct atv_err *err)
{
    struct atv_reader rd;
    atv_rd_init(&rd, b);
    enum atv_status rc = atv_atp_cid_read(&rd, out, err);
    if (rc == ATV_OK && !atv_rd_eof(&rd)) {
        memset(out, 0, sizeof *out);
        rc = atv_err_set(err, ATV_E_PARSE, "cid: %zu trailing bytes", atv_rd_left(&rd));
    }
    return rc;
}

enum atv_status atv_atp_cid_parse(const char *s, struct atv_cid *out, struct atv_err *err)
{
    struct atv_buf bin;
    enum atv_status rc;
    size_t n = strlen(s);

    memset(out, 0, sizeof *out);
    atv_buf_init(&bin, 64);
    /* atproto writes CIDs as multibase base32 lower ("b"); other bases are
     * legal CIDs elsewhere but never appear in atproto data. */
    if (n == 0 || s[0] != 'b') {
        rc = atv_err_set(err, ATV_E_PARSE, "cid: want a base32 'b' multibase string");
        goto out;
    }
    if (n > ATV_CID_STR_CAP) {
        rc = atv_err_set(err, ATV_E_PARSE, "cid: %zu characters, at most %u", n, ATV_CID_STR_CAP);
        goto out;
    }
    rc = atv_atp_base32_decode(s + 1, n - 1, &bin, err);
    if (rc == ATV_OK) {
        rc = atv_atp_cid_from_bin(atv_buf_view(&bin), out, err);
    }
out:
    atv_buf_cleanup(&bin);
    return rc;
}

void atv_atp_cid_to_bin(const struct atv_cid *cid, uint8_t out[ATV_CID_BIN_LEN])
{
    out[0] = 0x01;
    out[1] = (uint8_t)cid->codec; /* both allowed codecs fit one varint byte */
    out[2] = MH_SHA2_256;
    out[3] = 32;
    memcpy(out + 4, cid->digest, 32);
}

void atv_atp_cid_to_str(const struct atv_cid *cid, char out[ATV_CID_STR_CAP])
{
    uint8_t bin[ATV_CID_BIN_LEN];
    struct atv_bytes v = {bin, sizeof bin};
    struct atv_buf s;

    atv_atp_cid_to_bin(cid, bin);
    atv_buf_init(&s, ATV_CID_STR_CAP - 2);
    out[0] = '\0';
    if (atv_atp_base32_encode(v, &s, NULL) == ATV_OK && s.len + 2 <= ATV_CID_STR_CAP) {
        out[0] = 'b';
        memcpy(out + 1, s.ptr, s.len); /* s.len + 2 <= cap checked */
        out[s.len + 1] = '\0';
    }
    atv_buf_cleanup(&s);
}

void atv_atp_cid_of(uint64_t codec, struct atv_bytes data, struct atv_cid *out)
{
    out->codec = codec;
    atv_sha256(data, out->digest);
}

int atv_atp_cid_eq(const struct atv_cid *a, const struct atv_cid *b)
{
    return a->codec == b->codec && memcmp(a->digest, b->digest, 32) == 0;
}
