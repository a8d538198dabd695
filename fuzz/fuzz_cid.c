/* fuzz/fuzz_cid.c: CIDs in binary and in string form.
 *
 * Target functions: atv_atp_cid_from_bin, atv_atp_cid_read, atv_atp_cid_parse,
 * atv_atp_cid_to_bin, atv_atp_cid_to_str, atv_atp_cid_eq.
 *
 * Both forms are canonical for the CIDs we accept (minimal varints, base32
 * lower case without padding and with zero trailing bits), so what parses
 * must print back to the same bytes, and to_str/parse must agree. No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

static void fz_check_roundtrip(const struct atv_cid *cid)
{
    char s[ATV_CID_STR_CAP];
    uint8_t bin[ATV_CID_BIN_LEN];
    struct atv_cid back;
    struct atv_err err;

    FZ_CHECK(cid->codec == ATV_CODEC_DAG_CBOR || cid->codec == ATV_CODEC_RAW);
    atv_err_clear(&err);
    atv_atp_cid_to_str(cid, s);
    FZ_CHECK(s[0] == 'b' && strlen(s) == 59);
    FZ_CHECK(atv_atp_cid_parse(s, &back, &err) == ATV_OK);
    FZ_CHECK(atv_atp_cid_eq(cid, &back));
    atv_atp_cid_to_bin(cid, bin);
    FZ_CHECK(atv_atp_cid_from_bin((struct atv_bytes){bin, sizeof bin}, &back, &err) == ATV_OK);
    FZ_CHECK(atv_atp_cid_eq(cid, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_cid cid;
    struct atv_err err;
    struct atv_reader rd;
    uint8_t bin[ATV_CID_BIN_LEN];
    size_t n;
    char *s;

    /* binary: exactly one CID */
    atv_err_clear(&err);
    if (atv_atp_cid_from_bin((struct atv_bytes){data, size}, &cid, &err) == ATV_OK) {
        atv_atp_cid_to_bin(&cid, bin);
        FZ_CHECK(size == ATV_CID_BIN_LEN && memcmp(bin, data, size) == 0);
        fz_check_roundtrip(&cid);
    } else {
        FZ_CHECK(err.code != ATV_OK);
    }

    /* binary: a CID at the front of more bytes (CAR sections) */
    atv_rd_init(&rd, (struct atv_bytes){data, size});
    if (atv_atp_cid_read(&rd, &cid, NULL) == ATV_OK) {
        FZ_CHECK(atv_rd_left(&rd) == size - ATV_CID_BIN_LEN);
        fz_check_roundtrip(&cid);
    } else {
        FZ_CHECK(atv_rd_left(&rd) == size);
    }

    /* string form */
    s = fz_cstr(data, size, &n);
    atv_err_clear(&err);
    if (atv_atp_cid_parse(s, &cid, &err) == ATV_OK) {
        char back[ATV_CID_STR_CAP];
        atv_atp_cid_to_str(&cid, back);
        if (strcmp(back, s) != 0) {
            (void)fprintf(stderr, "cid: \"%s\" parsed, prints as \"%s\"\n", s, back);
            abort();
        }
        fz_check_roundtrip(&cid);
    } else {
        FZ_CHECK(err.code != ATV_OK);
    }
    free(s);
    return 0;
}
