/* atproto/proof.c: "this record is in this DID's repository, under a commit
 * signed by the DID's key", from a com.atproto.sync.getRecord CAR.
 *
 * The same steps as the reference verifyProofs (@atproto/repo
 * sync/consumer.js) plus the strictness of DESIGN.md: every block hash-checked
 * (car.c), one root which is the commit, commit.did == the DID asked for, the
 * signature over the unsigned commit with the DID's key, then the MST walk to
 * collection/rkey. A present record's block must be in the CAR and decode as
 * a strict DAG-CBOR map. */
#include "atproto/atproto.h"

#include <string.h>

/* Copies a text field of the record into dst when it is a string that fits. */
static void copy_field(const struct atv_cbor_doc *doc, const struct atv_dv *map, const char *key,
                       char *dst, size_t cap)
{
    const struct atv_dv *v = atv_atp_cbor_get(doc, map, key);
    dst[0] = '\0';
    if (v != NULL && v->kind == ATV_DV_TEXT && v->s.len < cap &&
        memchr(v->s.ptr, '\0', v->s.len) == NULL) {
        memcpy(dst, v->s.ptr, v->s.len); /* v->s.len < cap checked */
        dst[v->s.len] = '\0';
    }
}

static enum atv_status check_record(const struct atv_car *car, struct atv_proof *out,
                                    struct atv_err *err)
{
    struct atv_bytes block;
    struct atv_cbor_doc *doc = NULL;
    const struct atv_dv *top;
    char cs[ATV_CID_STR_CAP];
    enum atv_status rc;

    atv_atp_cid_to_str(&out->record_cid, cs);
    if (out->record_cid.codec != ATV_CODEC_DAG_CBOR) {
        return atv_err_setr(err, ATV_E_VERIFY, "malformed_record",
                            "record %s: CID codec is not dag-cbor", cs);
    }
    if (atv_atp_car_get(car, &out->record_cid, &block, NULL) != ATV_OK) {
        return atv_err_setr(err, ATV_E_VERIFY, "proof_incomplete",
                            "record %s: block is not in the proof", cs);
    }
    if (block.len > ATV_MAX_RECORD) {
        return atv_err_set(err, ATV_E_LIMIT, "record %s: %zu bytes, cap %u", cs, block.len,
                           ATV_MAX_RECORD);
    }
    rc = atv_atp_cbor_decode(block, &doc, err);
    if (rc != ATV_OK) {
        if (err != NULL && err->reason == NULL) {
            err->reason = "malformed_record";
        }
        atv_err_prefix(err, "record %s", cs);
        goto out;
    }
    top = atv_atp_cbor_root(doc);
    if (top->kind != ATV_DV_MAP) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "malformed_record", "record %s: not a map", cs);
        goto out;
    }
    copy_field(doc, top, "$type", out->record_type, sizeof out->record_type);
    copy_field(doc, top, "digest", out->digest, sizeof out->digest);
out:
    atv_atp_cbor_free(doc);
    return rc;
}

enum atv_status atv_atp_proof_verify(struct atv_bytes car_bytes, const char *did,
                                     const struct atv_pubkey *key, const char *collection,
                                     const char *rkey, struct atv_proof *out,
                                     struct atv_err *err)
{
    struct atv_car *car = NULL;
    struct atv_commit commit;
    struct atv_buf unsig, mkey;
    struct atv_bytes block;
    enum atv_status rc;

    memset(out, 0, sizeof *out);
    atv_buf_init(&unsig, ATV_MAX_BLOCK);
    atv_buf_init(&mkey, ATV_MAX_MST_KEY);
    if (atv_atp_did_check(did, strlen(did), NULL) != ATV_OK ||
        atv_atp_nsid_check(collection, strlen(collection), NULL) != ATV_OK ||
        atv_atp_rkey_check(rkey, strlen(rkey), NULL) != ATV_OK) {
        rc = atv_err_set(err, ATV_E_USAGE, "proof: did, collection or rkey is malformed");
        goto out;
    }
    rc = atv_atp_car_parse(car_bytes, &car, err);
    if (rc != ATV_OK) {
        goto out;
    }
    out->commit_cid = *atv_atp_car_root(car);
    if (out->commit_cid.codec != ATV_CODEC_DAG_CBOR ||
        atv_atp_car_get(car, &out->commit_cid, &block, NULL) != ATV_OK) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "proof_incomplete",
                          "proof: the root commit block is not in the CAR");
        goto out;
    }
    rc = atv_atp_commit_parse(block, &commit, &unsig, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (strcmp(commit.did, did) != 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "did_mismatch",
                          "proof: the commit is for another DID (%zu characters) than asked for",
                          strlen(commit.did));
        goto out;
    }
    rc = atv_atp_sig_verify(key, atv_buf_view(&unsig), (struct atv_bytes){commit.sig, 64}, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "commit signature");
        goto out;
    }
    memcpy(out->did, commit.did, sizeof out->did);
    memcpy(out->rev, commit.rev, sizeof out->rev);
    out->data = commit.data;
    /* repository spec: the MST key is "<collection>/<rkey>" */
    rc = atv_buf_append(&mkey, collection, strlen(collection), err);
    if (rc == ATV_OK) {
        rc = atv_buf_push(&mkey, '/', err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&mkey, rkey, strlen(rkey), err);
    }
    if (rc == ATV_OK) {
        rc = atv_atp_mst_lookup(car, &commit.data, atv_buf_view(&mkey), &out->present,
                                &out->record_cid, err);
    }
    if (rc == ATV_OK && out->present) {
        rc = check_record(car, out, err);
    }
out:
    if (rc != ATV_OK) {
        if (err != NULL && err->reason == NULL) {
            err->reason = rc == ATV_E_USAGE ? "usage" : "malformed_proof";
        }
        memset(out, 0, sizeof *out);
    }
    atv_buf_cleanup(&unsig);
    atv_buf_cleanup(&mkey);
    atv_atp_car_free(car);
    return rc;
}
