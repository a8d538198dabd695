/* fuzz/fuzz_plc.c: did:plc audit logs as a PLC directory (or a bundle) serves
 * them, and single operations.
 *
 * Target functions: atv_atp_plc_log_verify (for the DID the input's first
 * entry names, and for a fixed other DID), atv_atp_plc_log_contains,
 * atv_atp_plc_op_cid (on the whole input, and on each entry's operation
 * through the log verifier).
 *
 * A log that verifies for its own DID fails for any other; the state names
 * that DID, holds NUL-terminated strings, a head CID that parses and that
 * contains() finds un-nullified, and no key when tombstoned. A failure sets
 * an error and leaves the state zeroed. Verifying twice gives the same
 * answer. No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

#include <jansson.h>

static const char fz_other_did[] = "did:plc:szqirm5pvtgm2gddqxtwn74o";

/* The first entry's did, when the input is that much of a log (new: free). */
static char *first_did(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, 0, &jerr);
    const char *d = json_string_value(json_object_get(json_array_get(root, 0), "did"));
    char *out = d != NULL ? strdup(d) : NULL;
    json_decref(root);
    return out;
}

static int state_zero(const struct atv_plc_state *s)
{
    return s->did[0] == '\0' && s->n_ops == 0 && s->head_cid[0] == '\0' && s->has_key == 0 &&
           s->tombstoned == 0 && s->n_aka == 0 && s->pds[0] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_plc_state *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    uint8_t *copy = fz_dup(data, size);
    struct atv_bytes json = {copy, size};
    struct atv_err err;
    struct atv_cid cid;
    char opcid[ATV_CID_STR_CAP];
    char *did = NULL;
    enum atv_status rc;

    FZ_CHECK(a != NULL && b != NULL);

    /* one operation */
    atv_err_clear(&err);
    rc = atv_atp_plc_op_cid(json, opcid, NULL, NULL, &err);
    FZ_CHECK(rc == ATV_OK ? atv_atp_cid_parse(opcid, &cid, NULL) == ATV_OK
                          : (err.code != ATV_OK && opcid[0] == '\0'));

    /* a whole log, for a DID that cannot be its own (24 characters of a-z2-7
     * after did:plc:, but not base32 of any hash the input could match by
     * chance) */
    atv_err_clear(&err);
    if (atv_atp_plc_log_verify(json, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", a, &err) != ATV_OK) {
        FZ_CHECK(err.code != ATV_OK && state_zero(a));
    }
    /* for the DID it names */
    did = first_did(copy, size);
    if (did == NULL) {
        goto out;
    }
    atv_err_clear(&err);
    rc = atv_atp_plc_log_verify(json, did, a, &err);
    FZ_CHECK(atv_atp_plc_log_verify(json, did, b, NULL) == rc);
    if (rc != ATV_OK) {
        FZ_CHECK(err.code == rc && state_zero(a));
        goto out;
    }
    FZ_CHECK(memcmp(a, b, sizeof *a) == 0);
    FZ_CHECK(memchr(a->did, 0, sizeof a->did) != NULL && strcmp(a->did, did) == 0);
    FZ_CHECK(memchr(a->pds, 0, sizeof a->pds) != NULL);
    FZ_CHECK(memchr(a->head_cid, 0, sizeof a->head_cid) != NULL);
    FZ_CHECK(memchr(a->head_created_at, 0, sizeof a->head_created_at) != NULL);
    FZ_CHECK(atv_atp_cid_parse(a->head_cid, &cid, NULL) == ATV_OK);
    FZ_CHECK(a->n_ops >= 1 && a->n_ops <= ATV_MAX_PLC_LOG_ENTRIES);
    FZ_CHECK(a->n_aka <= ATV_MAX_PLC_AKA);
    for (size_t i = 0; i < a->n_aka; i++) {
        FZ_CHECK(memchr(a->aka[i], 0, sizeof a->aka[i]) != NULL);
    }
    FZ_CHECK(!a->tombstoned || !a->has_key);
    {
        int nul = 1;
        FZ_CHECK(atv_atp_plc_log_contains(json, a->head_cid, &nul) == 1 && nul == 0);
    }
    if (strcmp(did, fz_other_did) != 0) {
        FZ_CHECK(atv_atp_plc_log_verify(json, fz_other_did, b, NULL) != ATV_OK);
    }
out:
    free(did);
    free(copy);
    free(a);
    free(b);
    return 0;
}
