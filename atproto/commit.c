/* atproto/commit.c: repository commit objects, version 3.
 *
 * atproto repository spec, "Commit Objects": did (text), version (3), data
 * (link to the MST root), rev (TID), prev (link or null; the key is always
 * present), sig (bytes). The signature covers the DAG-CBOR encoding of the
 * same map without `sig`. We accept exactly these six keys: the reference
 * implementations disagree on unknown fields (TS signs them, indigo drops
 * them), so a commit carrying any is refused rather than read two ways. */
#include "atproto/atproto.h"

#include <string.h>

static enum atv_status field_err(struct atv_err *err, const char *field, const char *want)
{
    return atv_err_setr(err, ATV_E_VERIFY, "malformed_commit", "commit.%s: want %s", field, want);
}

static enum atv_status copy_text(const struct atv_dv *v, char *dst, size_t cap, const char *field,
                                 struct atv_err *err)
{
    if (v == NULL || v->kind != ATV_DV_TEXT) {
        return field_err(err, field, "a text string");
    }
    if (v->s.len >= cap || memchr(v->s.ptr, '\0', v->s.len) != NULL) {
        return atv_err_setr(err, ATV_E_VERIFY, "malformed_commit",
                            "commit.%s: %zu bytes, at most %zu without NUL", field, v->s.len,
                            cap - 1);
    }
    memcpy(dst, v->s.ptr, v->s.len); /* v->s.len < cap checked above */
    dst[v->s.len] = '\0';
    return ATV_OK;
}

enum atv_status atv_atp_commit_parse(struct atv_bytes block, struct atv_commit *out,
                                     struct atv_buf *unsigned_out, struct atv_err *err)
{
    struct atv_cbor_doc *doc = NULL;
    const struct atv_dv *top, *v;
    enum atv_status rc;

    memset(out, 0, sizeof *out);
    rc = atv_atp_cbor_decode(block, &doc, err);
    if (rc != ATV_OK) {
        if (err != NULL && err->reason == NULL) {
            err->reason = "malformed_commit";
        }
        atv_err_prefix(err, "commit");
        goto out;
    }
    top = atv_atp_cbor_root(doc);
    if (top->kind != ATV_DV_MAP) {
        rc = field_err(err, "(root)", "a map");
        goto out;
    }
    v = atv_atp_cbor_get(doc, top, "version");
    if (v == NULL || v->kind != ATV_DV_INT) {
        rc = field_err(err, "version", "an integer");
        goto out;
    }
    if (v->i != 3) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "unsupported_commit_version",
                          "commit.version: %lld, only 3 is supported", (long long)v->i);
        goto out;
    }
    if (top->count != 6) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "malformed_commit",
                          "commit: %zu fields, want exactly did, version, data, rev, prev, sig",
                          top->count);
        goto out;
    }
    rc = copy_text(atv_atp_cbor_get(doc, top, "did"), out->did, sizeof out->did, "did", err);
    if (rc == ATV_OK) {
        rc = copy_text(atv_atp_cbor_get(doc, top, "rev"), out->rev, sizeof out->rev, "rev", err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (atv_atp_did_check(out->did, strlen(out->did), NULL) != ATV_OK) {
        rc = field_err(err, "did", "a valid DID");
        goto out;
    }
    if (atv_atp_tid_check(out->rev, strlen(out->rev), NULL) != ATV_OK) {
        rc = field_err(err, "rev", "a TID");
        goto out;
    }
    v = atv_atp_cbor_get(doc, top, "data");
    if (v == NULL || v->kind != ATV_DV_LINK || v->cid.codec != ATV_CODEC_DAG_CBOR) {
        rc = field_err(err, "data", "a dag-cbor CID link");
        goto out;
    }
    out->data = v->cid;
    v = atv_atp_cbor_get(doc, top, "prev");
    if (v == NULL || (v->kind != ATV_DV_NULL && v->kind != ATV_DV_LINK)) {
        rc = field_err(err, "prev", "a CID link or null");
        goto out;
    }
    if (v->kind == ATV_DV_LINK) {
        out->has_prev = 1;
        out->prev = v->cid;
    }
    v = atv_atp_cbor_get(doc, top, "sig");
    if (v == NULL || v->kind != ATV_DV_BYTES) {
        rc = field_err(err, "sig", "a byte string");
        goto out;
    }
    if (v->s.len != sizeof out->sig) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "bad_signature",
                          "commit.sig: want 64 bytes, got %zu", v->s.len);
        goto out;
    }
    memcpy(out->sig, v->s.ptr, sizeof out->sig); /* length checked above */
    if (unsigned_out != NULL) {
        rc = atv_atp_cbor_encode(doc, top, "sig", unsigned_out, err);
    }
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    atv_atp_cbor_free(doc);
    return rc;
}
