/* fuzz/fuzz_artifact.c: the signature artifact blob a registry serves.
 *
 * Target functions: atv_atp_artifact_parse, atv_atp_digest_valid.
 *
 * What parses honours the header's promises: subject digest well-formed,
 * recordUri's DID equal to atproto.did and its parts valid, every string
 * NUL-terminated inside its field, the algorithm a known curve. No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

#define FZ_TERMINATED(field) FZ_CHECK(memchr((field), 0, sizeof(field)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_sig_artifact *a = malloc(sizeof *a);
    struct atv_err err;
    size_t n;
    char *s;

    FZ_CHECK(a != NULL);
    atv_err_clear(&err);
    if (atv_atp_artifact_parse((struct atv_bytes){data, size}, a, &err) == ATV_OK) {
        FZ_TERMINATED(a->subject_digest);
        FZ_TERMINATED(a->subject_media_type);
        FZ_TERMINATED(a->did);
        FZ_TERMINATED(a->handle);
        FZ_TERMINATED(a->pds);
        FZ_TERMINATED(a->signed_at);
        FZ_TERMINATED(a->key_id);
        FZ_TERMINATED(a->public_key_multibase);
        FZ_CHECK(atv_atp_digest_valid(a->subject_digest));
        FZ_CHECK(atv_atp_did_check(a->did, strlen(a->did), NULL) == ATV_OK);
        FZ_CHECK(strcmp(a->record.did, a->did) == 0);
        FZ_CHECK(atv_atp_nsid_check(a->record.collection, strlen(a->record.collection), NULL) ==
                 ATV_OK);
        FZ_CHECK(atv_atp_rkey_check(a->record.rkey, strlen(a->record.rkey), NULL) == ATV_OK);
        FZ_CHECK(a->algorithm == ATV_KEY_K256 || a->algorithm == ATV_KEY_P256);
    } else {
        FZ_CHECK(err.code != ATV_OK);
    }
    free(a);

    s = fz_cstr(data, size, &n);
    if (atv_atp_digest_valid(s)) {
        FZ_CHECK(n == 71 && strncmp(s, "sha256:", 7) == 0);
    }
    free(s);
    return 0;
}
