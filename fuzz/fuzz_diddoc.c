/* fuzz/fuzz_diddoc.c: DID documents as a PLC directory or a did:web host
 * serves them.
 *
 * Target functions: atv_atp_diddoc_parse (with expect_did NULL, with the
 * document's own id, and with a fixed other DID), atv_atp_key_to_didkey.
 *
 * A document that parses without an expected DID parses the same with its
 * own id expected, and fails with another DID expected. Its key is a usable
 * compressed key; its strings are NUL-terminated within their fields. No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

static const char fz_other_did[] = "did:plc:szqirm5pvtgm2gddqxtwn74o";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_diddoc *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    struct atv_bytes json = {data, size};
    struct atv_err err;
    char didkey[ATV_MAX_MULTIBASE + 16];

    FZ_CHECK(a != NULL && b != NULL);
    atv_err_clear(&err);
    if (atv_atp_diddoc_parse(json, NULL, a, &err) != ATV_OK) {
        FZ_CHECK(err.code != ATV_OK);
        /* expecting a DID never rescues a document */
        FZ_CHECK(atv_atp_diddoc_parse(json, fz_other_did, b, NULL) != ATV_OK);
        goto out;
    }
    FZ_CHECK(memchr(a->did, 0, sizeof a->did) != NULL);
    FZ_CHECK(memchr(a->pds, 0, sizeof a->pds) != NULL);
    FZ_CHECK(memchr(a->handle, 0, sizeof a->handle) != NULL);
    FZ_CHECK(atv_atp_did_check(a->did, strlen(a->did), NULL) == ATV_OK);
    FZ_CHECK(atv_atp_key_to_didkey(&a->key, didkey, sizeof didkey, NULL) == ATV_OK);
    FZ_CHECK(a->handle[0] == '\0' ||
             atv_atp_handle_check(a->handle, strlen(a->handle), NULL) == ATV_OK);

    atv_err_clear(&err);
    FZ_CHECK(atv_atp_diddoc_parse(json, a->did, b, &err) == ATV_OK);
    FZ_CHECK(strcmp(a->did, b->did) == 0 && strcmp(a->pds, b->pds) == 0 &&
             strcmp(a->handle, b->handle) == 0 && a->key.type == b->key.type &&
             memcmp(a->key.point, b->key.point, sizeof a->key.point) == 0);
    if (strcmp(a->did, fz_other_did) != 0) {
        FZ_CHECK(atv_atp_diddoc_parse(json, fz_other_did, b, NULL) != ATV_OK);
    }
out:
    free(a);
    free(b);
    return 0;
}
