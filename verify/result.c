/* verify/result.c: reason names and the result as output fields. */
#include "verify/verify.h"

#include <string.h>

const char *atv_vfy_reason_name(enum atv_vfy_reason r)
{
    switch (r) {
    case ATV_VFY_OK:
        return "OK";
    case ATV_VFY_BAD_REQUEST:
        return "BAD_REQUEST";
    case ATV_VFY_REGISTRY_ERROR:
        return "REGISTRY_ERROR";
    case ATV_VFY_BAD_SIGNATURE_ARTIFACT:
        return "BAD_SIGNATURE_ARTIFACT";
    case ATV_VFY_SUBJECT_MISMATCH:
        return "SUBJECT_MISMATCH";
    case ATV_VFY_UNTRUSTED_SIGNER:
        return "UNTRUSTED_SIGNER";
    case ATV_VFY_IDENTITY_ERROR:
        return "IDENTITY_ERROR";
    case ATV_VFY_PDS_ERROR:
        return "PDS_ERROR";
    case ATV_VFY_RECORD_NOT_FOUND:
        return "RECORD_NOT_FOUND";
    case ATV_VFY_SIGNATURE_INVALID:
        return "SIGNATURE_INVALID";
    case ATV_VFY_DIGEST_MISMATCH:
        return "DIGEST_MISMATCH";
    case ATV_VFY_POLICY_DENIED:
        return "POLICY_DENIED";
    case ATV_VFY_TIMEOUT:
        return "TIMEOUT";
    case ATV_VFY_NO_SIGNATURE:
        return "NO_SIGNATURE";
    case ATV_VFY_INSUFFICIENT_SIGNATURES:
        return "INSUFFICIENT_SIGNATURES";
    case ATV_VFY_STALE_EVIDENCE:
        return "STALE_EVIDENCE";
    default:
        /* fail closed: an unknown value is never "OK" */
        return "BAD_REQUEST";
    }
}

static void add_str(struct atv_vfy_field *out, size_t *n, const char *key, const char *v)
{
    if (v[0] != '\0' && *n < ATV_VFY_MAX_FIELDS) {
        out[*n].key = key;
        out[*n].str = v;
        out[*n].is_bool = 0;
        out[*n].b = 0;
        (*n)++;
    }
}

size_t atv_vfy_result_fields(const struct atv_vfy_result *r,
                             struct atv_vfy_field out[ATV_VFY_MAX_FIELDS])
{
    size_t n = 0;

    memset(out, 0, sizeof(struct atv_vfy_field) * ATV_VFY_MAX_FIELDS);
    if (r->reason != ATV_VFY_OK) {
        add_str(out, &n, "reason", atv_vfy_reason_name(r->reason));
        add_str(out, &n, "detail", r->detail);
    }
    if (r->audit) {
        out[n].key = "audit";
        out[n].is_bool = 1;
        out[n].b = 1;
        n++;
    }
    if (r->transient) {
        out[n].key = "transient";
        out[n].is_bool = 1;
        out[n].b = 1;
        n++;
    }
    add_str(out, &n, "did", r->did);
    add_str(out, &n, "handle", r->handle);
    add_str(out, &n, "pds", r->pds);
    add_str(out, &n, "recordUri", r->record_uri);
    add_str(out, &n, "recordCid", r->record_cid);
    add_str(out, &n, "commitCid", r->commit_cid);
    add_str(out, &n, "commitRev", r->commit_rev);
    add_str(out, &n, "keyId", r->key_id);
    add_str(out, &n, "keyType", r->key_type);
    add_str(out, &n, "subjectDigest", r->subject_digest);
    add_str(out, &n, "signatureDigest", r->signature_digest);
    add_str(out, &n, "signedAt", r->signed_at);
    add_str(out, &n, "policy", r->policy);
    add_str(out, &n, "claimedPds", r->claimed_pds);
    add_str(out, &n, "claimedPublicKey", r->claimed_key);
    add_str(out, &n, "evidenceFetchedAt", r->evidence_at);
    return n;
}
