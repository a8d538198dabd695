/* fuzz/fuzz_syntax.c: the atproto identifier grammars.
 *
 * Target functions: atv_atp_did_check, atv_atp_handle_check,
 * atv_atp_nsid_check, atv_atp_rkey_check, atv_atp_tid_check,
 * atv_atp_atid_check, atv_atp_aturi_check, atv_atp_datetime_check,
 * atv_atp_record_uri_parse.
 *
 * The checks get the input as (pointer, length) in a buffer of exactly that
 * size, with no NUL after it, so a read past the length is caught. The
 * grammars nest (atproto specs): a TID is a record key, a DID or a handle is
 * an at-identifier and nothing else is, no identifier holds a NUL byte, and
 * a parsed record URI is an AT-URI whose parts pass their own checks and
 * print back to the input. No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

static void fz_record_uri(const uint8_t *data, size_t size)
{
    struct atv_record_uri *u = malloc(sizeof *u);
    struct atv_err err;
    size_t n;
    char *s = fz_cstr(data, size, &n);

    FZ_CHECK(u != NULL);
    atv_err_clear(&err);
    if (atv_atp_record_uri_parse(s, u, &err) == ATV_OK) {
        size_t cap = n + 1;
        char *back = malloc(cap);
        int len;
        FZ_CHECK(back != NULL);
        FZ_CHECK(atv_atp_aturi_check(s, n, NULL) == ATV_OK);
        FZ_CHECK(atv_atp_did_check(u->did, strlen(u->did), NULL) == ATV_OK);
        FZ_CHECK(atv_atp_nsid_check(u->collection, strlen(u->collection), NULL) == ATV_OK);
        FZ_CHECK(atv_atp_rkey_check(u->rkey, strlen(u->rkey), NULL) == ATV_OK);
        len = snprintf(back, cap, "at://%s/%s/%s", u->did, u->collection, u->rkey);
        FZ_CHECK(len >= 0 && (size_t)len == n && strcmp(back, s) == 0);
        free(back);
    } else {
        FZ_CHECK(err.code != ATV_OK);
    }
    free(u);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = (char *)fz_dup(data, size);
    int has_nul = size > 0 && memchr(data, 0, size) != NULL;
    int did = atv_atp_did_check(s, size, NULL) == ATV_OK;
    int handle = atv_atp_handle_check(s, size, NULL) == ATV_OK;
    int atid = atv_atp_atid_check(s, size, NULL) == ATV_OK;
    int nsid = atv_atp_nsid_check(s, size, NULL) == ATV_OK;
    int rkey = atv_atp_rkey_check(s, size, NULL) == ATV_OK;
    int tid = atv_atp_tid_check(s, size, NULL) == ATV_OK;
    int aturi = atv_atp_aturi_check(s, size, NULL) == ATV_OK;
    int dt = atv_atp_datetime_check(s, size, NULL) == ATV_OK;

    FZ_CHECK(!tid || rkey);
    FZ_CHECK(atid == (did || handle));
    FZ_CHECK(!(did && handle));
    FZ_CHECK(!has_nul || !(did || handle || nsid || rkey || tid || aturi || dt));
    FZ_CHECK(!did || size <= ATV_MAX_DID);
    FZ_CHECK(!handle || size <= ATV_MAX_HANDLE);
    FZ_CHECK(!nsid || size <= ATV_MAX_NSID);
    FZ_CHECK(!rkey || size <= ATV_MAX_RKEY);
    FZ_CHECK(!aturi || size <= ATV_MAX_ATURI);
    free(s);
    fz_record_uri(data, size);
    return 0;
}
