/* atproto/artifact.c: the ATCR signature artifact (the referrer layer blob).
 *
 * Shape (DESIGN.md "The signature artifact"): {"$type":"io.atcr.atproto.signature",
 * "version":"1.0", "subject":{digest, mediaType}, "atproto":{did, handle,
 * pdsEndpoint, recordUri, commitCid, signedAt}, "signature":{algorithm,
 * keyId, publicKeyMultibase}}. Only subject.digest, atproto.did and
 * atproto.recordUri steer the verification; the rest are claims that the
 * verifier reports next to what it proved. */
#include "atproto/atproto.h"

#include <jansson.h>
#include <string.h>

#define BAD "bad_artifact"

int atv_atp_digest_valid(const char *s)
{
    /* OCI image-spec descriptor digests: algorithm ":" encoded; sha256 is
     * 64 lower-case hex digits. We accept sha256 only. */
    if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71) {
        return 0;
    }
    for (size_t i = 7; i < 71; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Copies an optional (required when `need`) string member into dst. */
static enum atv_status str_field(json_t *obj, const char *parent, const char *key, int need,
                                 char *dst, size_t cap, struct atv_err *err)
{
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (v == NULL) {
        if (need) {
            return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: %s.%s is missing", parent, key);
        }
        return ATV_OK;
    }
    if (!json_is_string(v)) {
        return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: %s.%s is not a string", parent,
                            key);
    }
    size_t n = json_string_length(v);
    if (n >= cap) {
        return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: %s.%s has %zu bytes, at most %zu",
                            parent, key, n, cap - 1);
    }
    memcpy(dst, json_string_value(v), n + 1); /* n < cap; jansson strings end in NUL */
    return ATV_OK;
}

static json_t *obj_field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_object(v) ? v : NULL;
}

static enum atv_status parse_atproto(json_t *a, struct atv_sig_artifact *out, struct atv_err *err)
{
    char uri[ATV_MAX_ATURI + 1];
    char cid[ATV_CID_STR_CAP + 1];
    enum atv_status rc;

    rc = str_field(a, "atproto", "did", 1, out->did, sizeof out->did, err);
    if (rc == ATV_OK) {
        rc = str_field(a, "atproto", "recordUri", 1, uri, sizeof uri, err);
    }
    if (rc == ATV_OK) {
        rc = str_field(a, "atproto", "handle", 0, out->handle, sizeof out->handle, err);
    }
    if (rc == ATV_OK) {
        rc = str_field(a, "atproto", "pdsEndpoint", 0, out->pds, sizeof out->pds, err);
    }
    if (rc == ATV_OK) {
        rc = str_field(a, "atproto", "commitCid", 0, cid, sizeof cid, err);
    }
    if (rc == ATV_OK) {
        rc = str_field(a, "atproto", "signedAt", 0, out->signed_at, sizeof out->signed_at, err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    if (atv_atp_did_check(out->did, strlen(out->did), NULL) != ATV_OK) {
        return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: atproto.did is not a DID");
    }
    if (atv_atp_record_uri_parse(uri, &out->record, NULL) != ATV_OK) {
        return atv_err_setr(err, ATV_E_PARSE, BAD,
                            "artifact: atproto.recordUri is not at://DID/COLLECTION/RKEY");
    }
    if (strcmp(out->record.did, out->did) != 0) {
        return atv_err_setr(err, ATV_E_VERIFY, "did_mismatch",
                            "artifact: atproto.recordUri names another DID than atproto.did");
    }
    if (out->handle[0] != '\0' &&
        atv_atp_handle_check(out->handle, strlen(out->handle), NULL) != ATV_OK) {
        return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: atproto.handle is not a handle");
    }
    if (out->pds[0] != '\0' && strncmp(out->pds, "https://", 8) != 0 &&
        strncmp(out->pds, "http://", 7) != 0) {
        return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: atproto.pdsEndpoint is not a URL");
    }
    if (cid[0] != '\0') {
        if (atv_atp_cid_parse(cid, &out->commit, NULL) != ATV_OK) {
            return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: atproto.commitCid is not a CID");
        }
        out->has_commit = 1;
    }
    if (out->signed_at[0] != '\0' &&
        atv_atp_datetime_check(out->signed_at, strlen(out->signed_at), NULL) != ATV_OK) {
        return atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: atproto.signedAt is not a datetime");
    }
    return ATV_OK;
}

static enum atv_status parse_signature(json_t *s, struct atv_sig_artifact *out,
                                       struct atv_err *err)
{
    char alg[32];
    enum atv_status rc = str_field(s, "signature", "algorithm", 1, alg, sizeof alg, err);
    if (rc == ATV_OK) {
        rc = str_field(s, "signature", "keyId", 0, out->key_id, sizeof out->key_id, err);
    }
    if (rc == ATV_OK) {
        rc = str_field(s, "signature", "publicKeyMultibase", 0, out->public_key_multibase,
                       sizeof out->public_key_multibase, err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    /* whitelisted by identifier (STYLE.md 20): the two atproto curves */
    if (strcmp(alg, "ECDSA-K256-SHA256") == 0) {
        out->algorithm = ATV_KEY_K256;
    } else if (strcmp(alg, "ECDSA-P256-SHA256") == 0) {
        out->algorithm = ATV_KEY_P256;
    } else {
        return atv_err_setr(err, ATV_E_UNSUPPORTED, BAD,
                            "artifact: signature.algorithm is not ECDSA-K256-SHA256 or "
                            "ECDSA-P256-SHA256");
    }
    return ATV_OK;
}

enum atv_status atv_atp_artifact_parse(struct atv_bytes json, struct atv_sig_artifact *out,
                                       struct atv_err *err)
{
    json_error_t jerr;
    json_t *root = NULL, *subject, *atp, *sig;
    char type[64], version[16];
    enum atv_status rc;

    memset(out, 0, sizeof *out);
    if (json.len > ATV_MAX_ARTIFACT) {
        return atv_err_setr(err, ATV_E_LIMIT, BAD, "artifact: %zu bytes, cap %u", json.len,
                            ATV_MAX_ARTIFACT);
    }
    root = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        rc = atv_err_setr(err, ATV_E_PARSE, BAD,
                          "artifact: not a JSON object (line %d column %d)", jerr.line,
                          jerr.column);
        goto out;
    }
    rc = str_field(root, "(root)", "$type", 1, type, sizeof type, err);
    if (rc == ATV_OK) {
        rc = str_field(root, "(root)", "version", 1, version, sizeof version, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (strcmp(type, "io.atcr.atproto.signature") != 0) {
        rc = atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: $type is not io.atcr.atproto.signature");
        goto out;
    }
    if (strcmp(version, "1.0") != 0) {
        rc = atv_err_setr(err, ATV_E_UNSUPPORTED, BAD, "artifact: version is not 1.0");
        goto out;
    }
    subject = obj_field(root, "subject");
    atp = obj_field(root, "atproto");
    sig = obj_field(root, "signature");
    if (subject == NULL || atp == NULL || sig == NULL) {
        rc = atv_err_setr(err, ATV_E_PARSE, BAD,
                          "artifact: subject, atproto and signature must be objects");
        goto out;
    }
    rc = str_field(subject, "subject", "digest", 1, out->subject_digest,
                   sizeof out->subject_digest, err);
    if (rc == ATV_OK) {
        rc = str_field(subject, "subject", "mediaType", 0, out->subject_media_type,
                       sizeof out->subject_media_type, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (!atv_atp_digest_valid(out->subject_digest)) {
        rc = atv_err_setr(err, ATV_E_PARSE, BAD, "artifact: subject.digest is not sha256:<64 hex>");
        goto out;
    }
    rc = parse_atproto(atp, out, err);
    if (rc == ATV_OK) {
        rc = parse_signature(sig, out, err);
    }
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    json_decref(root);
    return rc;
}
