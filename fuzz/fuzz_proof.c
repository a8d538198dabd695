/* fuzz/fuzz_proof.c: a getRecord proof CAR, verified end to end.
 *
 * Target functions: atv_atp_proof_verify (and through it the CAR reader,
 * commit parsing, the signature check, the MST walk and the record checks).
 *
 * The input is the CAR a PDS answers; DID, key, collection and rkey are the
 * fixed ones of testdata/proofs/k256/fixture.json. The p256 fixture has the
 * same DID and record key, so an input the K-256 key rejects for its
 * signature is also tried with the P-256 key, which keeps the p256 seeds on
 * the full path. Every refusal carries a reason; a proof that verifies
 * reports the commit's DID. No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

static const char fz_did[] = "did:plc:ywcuk4xmsixysawbbr4i5zkv";
static const char fz_collection[] = "io.atcr.manifest";
static const char fz_rkey[] = "0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df84";
static const char fz_k256_mb[] = "zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7";
static const char fz_p256_mb[] = "zDnaek1qXF1Mi1z9rqSV4Fsw9sZoWSuoMKPfVac41KM5bVUWX";

static struct atv_pubkey fz_k256, fz_p256;
static int fz_ready;

static enum atv_status fz_verify(struct atv_bytes car, const struct atv_pubkey *key,
                                 struct atv_err *err)
{
    struct atv_proof *p = malloc(sizeof *p);
    enum atv_status rc;

    FZ_CHECK(p != NULL);
    atv_err_clear(err);
    rc = atv_atp_proof_verify(car, fz_did, key, fz_collection, fz_rkey, p, err);
    if (rc == ATV_OK) {
        FZ_CHECK(strcmp(p->did, fz_did) == 0);
        FZ_CHECK(p->present == 0 || p->present == 1);
        FZ_CHECK(memchr(p->record_type, 0, sizeof p->record_type) != NULL);
        FZ_CHECK(memchr(p->digest, 0, sizeof p->digest) != NULL);
        FZ_CHECK(memchr(p->rev, 0, sizeof p->rev) != NULL);
    } else {
        FZ_CHECK(err->code == rc && err->reason != NULL);
        FZ_CHECK(p->did[0] == '\0' && p->present == 0);
    }
    free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_bytes car = {data, size};
    struct atv_err err;

    if (!fz_ready) {
        FZ_CHECK(atv_atp_key_parse_multikey(fz_k256_mb, &fz_k256, NULL) == ATV_OK);
        FZ_CHECK(atv_atp_key_parse_multikey(fz_p256_mb, &fz_p256, NULL) == ATV_OK);
        fz_ready = 1;
    }
    if (fz_verify(car, &fz_k256, &err) == ATV_E_VERIFY && err.reason != NULL &&
        strcmp(err.reason, "bad_signature") == 0) {
        if (fz_verify(car, &fz_p256, &err) == ATV_OK) {
            FZ_CHECK(err.code == ATV_OK);
        }
    }
    return 0;
}
