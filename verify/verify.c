/* verify/verify.c: the one verification pass (DESIGN.md "The chain of trust").
 *
 * Each step either fills the result with what it proved or ends the pass
 * with a reason. The artifact's pdsEndpoint, key and commit are claims: the
 * key and the PDS come from the DID document, the commit from the proof. */
#include "verify/verify_internal.h"

#include "policy/policy.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void atv_vfy_store_init(struct atv_vfy_store *s)
{
    memset(s, 0, sizeof *s);
    (void)snprintf(s->name, sizeof s->name, "oras");
}

struct pass {
    const struct atv_vfy_request *req;
    struct atv_vfy_result *out;
    struct vsrc src;
    struct atv_policy *policy;             /* owned, when loaded here */
    const struct atv_policy *policy_view;  /* the one in use */
    struct atv_policy_scope scope;
    struct atv_sig_artifact art;
    struct atv_diddoc doc;
    int verified; /* set only once every step has passed */
};

/* Ends the pass: reason, the low-level reason of err (if any), and a message
 * made of the caller's context and err's message. */
static void fail(struct pass *ps, enum atv_vfy_reason reason, const struct atv_err *err,
                 const char *fmt, ...) ATV_PRINTF(4, 5);
static void fail(struct pass *ps, enum atv_vfy_reason reason, const struct atv_err *err,
                 const char *fmt, ...)
{
    struct atv_vfy_result *r = ps->out;
    char ctx[256];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    r->success = 0;
    r->reason = reason;
    r->transient = reason == ATV_VFY_TIMEOUT || (err != NULL && err->transient);
    if (err != NULL && err->reason != NULL) {
        (void)vfy_bprintf(r->detail, sizeof r->detail, "%s", err->reason);
    }
    if (err != NULL && err->msg[0] != '\0') {
        (void)vfy_bprintf(r->message, sizeof r->message, "%s: %s", ctx, err->msg);
    } else {
        (void)vfy_bprintf(r->message, sizeof r->message, "%s", ctx);
    }
}

/* 1 when err is offline evidence refused for its age (source.c). */
static int stale(const struct atv_err *err)
{
    return err->reason != NULL && (strcmp(err->reason, "evidence_expired") == 0 ||
                                   strcmp(err->reason, "evidence_from_future") == 0);
}

/* Evidence refused for its age is STALE_EVIDENCE, whatever step wanted it.
 * A transport failure at the shared deadline is a timeout: the HTTP layer
 * names it (reason "timeout"), and a clock already past it counts too. */
static enum atv_vfy_reason io_reason(const struct pass *ps, const struct atv_err *err,
                                     enum atv_vfy_reason otherwise)
{
    int named = err->reason != NULL && strcmp(err->reason, "timeout") == 0;
    if (stale(err)) {
        return ATV_VFY_STALE_EVIDENCE;
    }
    return (named || vsrc_timed_out(&ps->src)) ? ATV_VFY_TIMEOUT : otherwise;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    return vfy_bprintf(dst, cap, "%s", src);
}

/* ---- setup: sessions, policy ---------------------------------------------- */

static int open_source(struct pass *ps)
{
    struct atv_err err;
    enum atv_status rc;
    atv_err_clear(&err);
    rc = vsrc_open(&ps->src, ps->req, &err);
    if (rc == ATV_E_PARSE) {
        fail(ps, ATV_VFY_BAD_REQUEST, &err, "request");
        return 0;
    }
    if (rc != ATV_OK) {
        fail(ps, io_reason(ps, &err, ATV_VFY_REGISTRY_ERROR), &err, "registry client for %s",
             ps->src.img.registry);
        return 0;
    }
    return 1;
}

static int load_policy(struct pass *ps)
{
    struct atv_err err;

    atv_err_clear(&err);
    if (ps->req->policy != NULL) {
        ps->policy_view = ps->req->policy;
    } else if (vfy_policy_load(ps->req->params, &ps->policy, &err) != ATV_OK) {
        fail(ps, ATV_VFY_BAD_REQUEST, &err, "trust policy");
        return 0;
    } else {
        ps->policy_view = ps->policy;
    }
    /* scopes see the normalised HOST[:PORT]/REPOSITORY only */
    atv_policy_scope_for(ps->policy_view, ps->src.img.name, &ps->scope);
    if (ps->scope.matched) {
        (void)copy_str(ps->out->policy, sizeof ps->out->policy, ps->scope.name);
    }
    return 1;
}

/* ---- registry: subject, signature manifest, blob ---------------------------- */

static int registry_step(struct pass *ps, struct atv_buf *blob)
{
    const struct atv_vfy_request *rq = ps->req;
    struct atv_vfy_result *r = ps->out;
    const struct atv_ref_image *img = &ps->src.img;
    struct atv_ref_manifest m;
    struct atv_buf body;
    struct atv_err err;
    char ctype[ATV_REF_MAX_MEDIA_TYPE + 1];
    const char *want_mt = rq->sig_media_type != NULL ? rq->sig_media_type : ATV_REF_MT_OCI_MANIFEST;
    const struct atv_ref_desc *layer = NULL;
    size_t i, n_sig = 0;
    int ok = 0;

    memset(&m, 0, sizeof m);
    atv_buf_init(&body, ATV_REF_MAX_MANIFEST);
    atv_err_clear(&err);

    if (strcmp(rq->store->name, "oras") != 0) {
        fail(ps, ATV_VFY_REGISTRY_ERROR, NULL,
             "store %.64s is not supported (only the built-in oras store)", rq->store->name);
        goto out;
    }
    if (atv_ref_digest_check(rq->sig_digest, &err) != ATV_OK) {
        fail(ps, ATV_VFY_BAD_REQUEST, &err, "referenceDesc.digest");
        goto out;
    }
    if (strcmp(want_mt, ATV_REF_MT_OCI_MANIFEST) != 0) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, NULL,
             "referenceDesc.mediaType %.128s: want %s", want_mt, ATV_REF_MT_OCI_MANIFEST);
        goto out;
    }

    /* 1. the subject digest */
    if (rq->subject_digest != NULL) {
        if (atv_ref_digest_check(rq->subject_digest, &err) != ATV_OK ||
            (img->digest[0] != '\0' && strcmp(img->digest, rq->subject_digest) != 0)) {
            fail(ps, ATV_VFY_BAD_REQUEST, &err, "subject digest %.80s", rq->subject_digest);
            goto out;
        }
        (void)copy_str(r->subject_digest, sizeof r->subject_digest, rq->subject_digest);
    } else if (img->digest[0] != '\0') {
        (void)copy_str(r->subject_digest, sizeof r->subject_digest, img->digest);
    } else if (vsrc_tag(&ps->src, r->subject_digest, &err) != ATV_OK) {
        fail(ps, io_reason(ps, &err, ATV_VFY_REGISTRY_ERROR), &err, "resolving tag %s of %s/%s",
             img->tag, img->registry, img->repository);
        goto out;
    }

    /* 2. the signature manifest, hashed against referenceDesc.digest */
    if (vsrc_manifest(&ps->src, rq->sig_digest, rq->sig_size, &body, ctype, sizeof ctype, &err) !=
        ATV_OK) {
        enum atv_vfy_reason why = err.code == ATV_E_VERIFY ? ATV_VFY_DIGEST_MISMATCH
                                                           : ATV_VFY_REGISTRY_ERROR;
        fail(ps, io_reason(ps, &err, why), &err, "signature manifest %s", rq->sig_digest);
        goto out;
    }
    if (ctype[0] != '\0' && strcmp(ctype, want_mt) != 0) {
        /* oras-go requires Content-Type == the descriptor's mediaType */
        fail(ps, ATV_VFY_REGISTRY_ERROR, NULL,
             "signature manifest %s: Content-Type %.128s, want %s", rq->sig_digest, ctype, want_mt);
        goto out;
    }
    if (atv_ref_manifest_parse(atv_buf_view(&body), &m, &err) != ATV_OK) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, &err, "signature manifest %s", rq->sig_digest);
        goto out;
    }
    if (strcmp(atv_ref_manifest_artifact_type(&m), ATV_ARTIFACT_TYPE) != 0) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, NULL,
             "signature manifest %s: artifact type %.128s, want %s", rq->sig_digest,
             atv_ref_manifest_artifact_type(&m), ATV_ARTIFACT_TYPE);
        goto out;
    }
    if (!m.has_subject || strcmp(m.subject.digest, r->subject_digest) != 0) {
        fail(ps, ATV_VFY_SUBJECT_MISMATCH, NULL,
             "signature manifest %s: subject is %s, the image is %s", rq->sig_digest,
             m.has_subject ? m.subject.digest : "absent", r->subject_digest);
        goto out;
    }
    for (i = 0; i < m.n_layers; i++) {
        if (strcmp(m.layers[i].media_type, ATV_ARTIFACT_TYPE) == 0) {
            layer = &m.layers[i];
            n_sig++;
        }
    }
    if (n_sig != 1) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, NULL,
             "signature manifest %s: %zu layers of type %s, want exactly 1", rq->sig_digest,
             n_sig, ATV_ARTIFACT_TYPE);
        goto out;
    }

    /* 3. the signature blob, hashed against its descriptor */
    (void)copy_str(r->signature_digest, sizeof r->signature_digest, layer->digest);
    if (layer->size > (int64_t)ATV_MAX_ARTIFACT) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, NULL,
             "signature blob %s: %lld bytes, at most %u", layer->digest, (long long)layer->size,
             ATV_MAX_ARTIFACT);
        goto out;
    }
    if (vsrc_blob(&ps->src, layer->digest, layer->size, blob, &err) != ATV_OK) {
        enum atv_vfy_reason why = err.code == ATV_E_VERIFY ? ATV_VFY_DIGEST_MISMATCH
                                                           : ATV_VFY_REGISTRY_ERROR;
        fail(ps, io_reason(ps, &err, why), &err, "signature blob %s", layer->digest);
        goto out;
    }
    atv_vfy_logf(rq->log, ATV_VFY_INFO, "atproto: fetched signature blob %s (%zu bytes)",
                 layer->digest, blob->len);
    ok = 1;
out:
    atv_ref_manifest_cleanup(&m);
    atv_buf_cleanup(&body);
    return ok;
}

/* ---- the artifact and the trust decision ------------------------------------ */

static int collection_allowed(const struct atv_vfy_params *p, const char *c)
{
    size_t i;
    if (p->n_collections == 0) {
        return strcmp(c, ATV_VFY_DEFAULT_COLLECTION) == 0;
    }
    for (i = 0; i < p->n_collections; i++) {
        if (strcmp(c, p->collections[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int artifact_step(struct pass *ps, const struct atv_buf *blob)
{
    struct atv_vfy_result *r = ps->out;
    struct atv_sig_artifact *a = &ps->art;
    struct atv_err err;

    atv_err_clear(&err);
    if (atv_atp_artifact_parse(atv_buf_view(blob), a, &err) != ATV_OK) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, &err, "signature artifact %s",
             r->signature_digest);
        return 0;
    }
    (void)copy_str(r->did, sizeof r->did, a->did);
    (void)copy_str(r->signed_at, sizeof r->signed_at, a->signed_at);
    (void)vfy_bprintf(r->record_uri, sizeof r->record_uri, "at://%s/%s/%s", a->record.did,
                   a->record.collection, a->record.rkey);
    if (strcmp(a->subject_digest, r->subject_digest) != 0) {
        fail(ps, ATV_VFY_SUBJECT_MISMATCH, NULL,
             "signature artifact: subject.digest is %s, the image is %s", a->subject_digest,
             r->subject_digest);
        return 0;
    }
    if (!collection_allowed(ps->req->params, a->record.collection)) {
        fail(ps, ATV_VFY_BAD_SIGNATURE_ARTIFACT, NULL,
             "signature artifact: record collection %s is not allowed (parameter collections)",
             a->record.collection);
        return 0;
    }
    return 1;
}

static int trust_step(struct pass *ps)
{
    struct atv_err err;
    if (ps->req->collect) {
        return 1; /* bundle export: the verifier that reads the bundle decides */
    }
    atv_err_clear(&err);
    if (atv_policy_check_did(ps->policy_view, ps->src.img.name, ps->art.did, ps->req->now, NULL,
                             &err) == ATV_OK) {
        return 1;
    }
    if (err.reason != NULL && strcmp(err.reason, "no_policy") == 0) {
        fail(ps, ATV_VFY_POLICY_DENIED, &err, "trust policy");
    } else if (ps->req->policy == NULL && !ps->req->params->has_trusted &&
               ps->req->params->trust_policy[0] == '\0') {
        fail(ps, ATV_VFY_UNTRUSTED_SIGNER, &err,
             "signer %s is not trusted: neither trustedDIDs nor trustPolicy is configured, so "
             "nothing is",
             ps->art.did);
    } else {
        fail(ps, ATV_VFY_UNTRUSTED_SIGNER, &err, "signer %s is not trusted", ps->art.did);
    }
    return 0;
}

/* ---- identity: the DID document, through the cache ---------------------------- */

/* 1 when the claimed multibase key is the document's key, in either form a
 * DID document may use: Multikey (with multicodec) or the legacy 65-byte
 * point (PLC servers still publish it). */
static int same_key(const struct atv_pubkey *key, const char *claim)
{
    struct atv_pubkey k;
    struct atv_err err;
    atv_err_clear(&err);
    if (atv_atp_key_parse_multikey(claim, &k, &err) != ATV_OK) {
        atv_err_clear(&err);
        if (atv_atp_key_parse_legacy(key->type, claim, &k, &err) != ATV_OK) {
            return 0;
        }
    }
    return atv_atp_key_eq(&k, key);
}

static int identity_step(struct pass *ps)
{
    struct atv_vfy_result *r = ps->out;
    struct atv_err err;

    atv_err_clear(&err);
    if (vsrc_diddoc(&ps->src, ps->art.did, &ps->doc, &err) != ATV_OK) {
        fail(ps, io_reason(ps, &err, ATV_VFY_IDENTITY_ERROR), &err, "resolving %s", ps->art.did);
        return 0;
    }
    (void)copy_str(r->key_type, sizeof r->key_type, atv_atp_key_type_name(ps->doc.key.type));
    (void)vfy_bprintf(r->key_id, sizeof r->key_id, "%s#atproto", ps->doc.did);
    if (ps->doc.pds[0] == '\0') {
        fail(ps, ATV_VFY_IDENTITY_ERROR, NULL,
             "DID document of %s names no #atproto_pds service", ps->art.did);
        return 0;
    }
    (void)copy_str(r->pds, sizeof r->pds, ps->doc.pds);
    /* claims that differ from the verified facts are reported, never used */
    if (ps->art.pds[0] != '\0' && strcmp(ps->art.pds, ps->doc.pds) != 0) {
        (void)copy_str(r->claimed_pds, sizeof r->claimed_pds, ps->art.pds);
        atv_vfy_logf(ps->req->log, ATV_VFY_WARN,
                     "atproto: the artifact claims PDS %s; the DID document names %s",
                     ps->art.pds, ps->doc.pds);
    }
    if (ps->art.public_key_multibase[0] != '\0' &&
        !same_key(&ps->doc.key, ps->art.public_key_multibase)) {
        (void)copy_str(r->claimed_key, sizeof r->claimed_key, ps->art.public_key_multibase);
        atv_vfy_logf(ps->req->log, ATV_VFY_WARN,
                     "atproto: the artifact claims a public key other than the DID document's");
    }
    return 1;
}

/* ---- key pins: the resolved key must be one the policy pins --------------------------- */

/* The key identity resolution found (live, from the cache or from a bundle)
 * is the one the proof step verifies the commit with, so pinning it here pins
 * the signer. Checked before the proof is fetched: an unpinned key costs no
 * PDS request, never advances the rollback guard, and its artifact never
 * reaches `verified`, so no verdict built on it can be positive (an audit
 * policy still only lets the failure through, as for any other). */
static int pin_step(struct pass *ps)
{
    struct atv_err err;
    enum atv_status rc;

    /* offline, a did:web document is whatever the bundle's writer wrote: only
     * a pinned key makes it evidence (did:plc carries its own proof, its log) */
    if (ps->req->offline != NULL && strncmp(ps->art.did, "did:web:", 8) == 0 &&
        !atv_policy_has_pins(ps->policy_view, ps->art.did)) {
        atv_err_clear(&err);
        (void)atv_err_setr(&err, ATV_E_VERIFY, "did_web_unpinned_offline",
                           "%s: offline, a did:web verifies only when the trust policy pins its "
                           "key (trustedDIDs entry `keys`)",
                           ps->art.did);
        fail(ps, ATV_VFY_IDENTITY_ERROR, &err, "identity");
        return 0;
    }
    atv_err_clear(&err);
    rc = atv_policy_check_key(ps->policy_view, ps->art.did, &ps->doc.key, &err);
    if (rc == ATV_OK) {
        return 1;
    }
    fail(ps, rc == ATV_E_VERIFY ? ATV_VFY_UNTRUSTED_SIGNER : ATV_VFY_BAD_REQUEST, &err,
         "key pin");
    return 0;
}

/* ---- the proof from the PDS -------------------------------------------------------- */

/* An XRPC error body {"error":"Name",...}: the name, or "" (static buffer-free copy). */
static void xrpc_error_name(const struct atv_buf *body, char *out, size_t cap)
{
    json_t *root = json_loadb((const char *)body->ptr, body->len, JSON_REJECT_DUPLICATES, NULL);
    const char *s = json_string_value(json_object_get(root, "error"));
    size_t i;
    out[0] = '\0';
    if (s != NULL && strlen(s) < cap) {
        for (i = 0; s[i] != '\0'; i++) {
            char c = s[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                break;
            }
        }
        if (s[i] == '\0') {
            (void)copy_str(out, cap, s);
        }
    }
    json_decref(root);
}

static enum atv_vfy_reason proof_reason(const struct atv_err *err)
{
    const char *why = err->reason != NULL ? err->reason : "";
    if (strcmp(why, "bad_signature") == 0 || strcmp(why, "did_mismatch") == 0) {
        return ATV_VFY_SIGNATURE_INVALID;
    }
    /* a CAR that does not hash, parse or walk is a bad answer from the PDS */
    return ATV_VFY_PDS_ERROR;
}

static int proof_step(struct pass *ps)
{
    struct atv_vfy_result *r = ps->out;
    const struct atv_record_uri *u = &ps->art.record;
    struct atv_proof proof;
    struct atv_buf car;
    struct atv_err err;
    char xerr[64];
    long status = 0;
    int ok = 0;

    atv_buf_init(&car, ATV_MAX_CAR);
    atv_err_clear(&err);
    if (vsrc_record(&ps->src, ps->doc.pds, u, &status, &car, &err) != ATV_OK) {
        fail(ps, io_reason(ps, &err, ATV_VFY_PDS_ERROR), &err, "getRecord from %s", ps->doc.pds);
        goto out;
    }
    if (status != 200) {
        xrpc_error_name(&car, xerr, sizeof xerr);
        /* RecordNotFound is a deleted record; the Repo* errors are a taken-down,
         * deactivated or suspended account: either way the signature is gone */
        if ((status == 400 || status == 404) &&
            (strcmp(xerr, "RecordNotFound") == 0 || strncmp(xerr, "Repo", 4) == 0)) {
            fail(ps, ATV_VFY_RECORD_NOT_FOUND, NULL,
                 "record %s: the PDS %s answers %s (HTTP %ld): the signature is revoked",
                 r->record_uri, ps->doc.pds, xerr, status);
        } else {
            fail(ps, ATV_VFY_PDS_ERROR, NULL, "getRecord from %s: HTTP %ld%s%s", ps->doc.pds,
                 status, xerr[0] != '\0' ? " " : "", xerr);
            /* an overloaded or restarting PDS: a retry may succeed */
            r->transient = status >= 500 || status == 429;
        }
        goto out;
    }
    if (atv_atp_proof_verify(atv_buf_view(&car), u->did, &ps->doc.key, u->collection, u->rkey,
                             &proof, &err) != ATV_OK) {
        fail(ps, proof_reason(&err), &err, "proof for %s", r->record_uri);
        goto out;
    }
    atv_atp_cid_to_str(&proof.commit_cid, r->commit_cid);
    (void)copy_str(r->commit_rev, sizeof r->commit_rev, proof.rev);
    /* a validly signed but older commit than one seen before: refuse it, since
     * it may predate the record's deletion */
    if (vsrc_rev_check(&ps->src, u->did, proof.rev, &err) != ATV_OK) {
        fail(ps, ATV_VFY_PDS_ERROR, &err, "proof for %s", r->record_uri);
        goto out;
    }
    if (!proof.present) {
        fail(ps, ATV_VFY_RECORD_NOT_FOUND, NULL,
             "record %s is absent at commit %s (rev %s): revoked",
             r->record_uri, r->commit_cid, r->commit_rev);
        goto out;
    }
    atv_atp_cid_to_str(&proof.record_cid, r->record_cid);
    if (strcmp(proof.record_type, ATV_VFY_DEFAULT_COLLECTION) != 0) {
        fail(ps, ATV_VFY_DIGEST_MISMATCH, NULL, "record %s: $type is %.64s, want %s",
             r->record_uri, proof.record_type[0] != '\0' ? proof.record_type : "absent",
             ATV_VFY_DEFAULT_COLLECTION);
        goto out;
    }
    if (strcmp(proof.digest, r->subject_digest) != 0) {
        fail(ps, ATV_VFY_DIGEST_MISMATCH, NULL, "record %s is for %.80s, the image is %s",
             r->record_uri, proof.digest[0] != '\0' ? proof.digest : "no digest",
             r->subject_digest);
        goto out;
    }
    ok = 1;
out:
    atv_buf_cleanup(&car);
    return ok;
}

/* ---- the handle: reported only when it resolves back to the DID ----------------- */

static void handle_step(struct pass *ps)
{
    struct atv_err err;

    if (!ps->req->params->verify_handle || ps->doc.handle[0] == '\0') {
        return;
    }
    atv_err_clear(&err);
    if (vsrc_handle(&ps->src, &ps->doc, &err) == ATV_OK) {
        (void)copy_str(ps->out->handle, sizeof ps->out->handle, ps->doc.handle);
    } else {
        atv_vfy_logf(ps->req->log, ATV_VFY_WARN, "atproto: handle %s not verified: %s",
                     ps->doc.handle, err.msg);
    }
}

/* ---- air-gapped: the bundle of bundleDir that holds this signature ----------------- */

/* The bundles of bundleDir, merged; the signature manifest must be among them. */
static int find_bundle(struct pass *ps, struct atv_vfy_bundle **out)
{
    struct atv_bytes data;
    struct atv_err err;
    uint64_t deadline = ps->req->deadline_ms;

    if (deadline == 0) {
        deadline = atv_vfy_clock_ms() + ps->req->params->timeout_ms;
    }
    atv_err_clear(&err);
    if (atv_vfy_bundle_load_dir(ps->req->params->bundle_dir, ps->req->log, deadline, out, &err) !=
        ATV_OK) {
        int late = err.reason != NULL && strcmp(err.reason, "timeout") == 0;
        fail(ps, late ? ATV_VFY_TIMEOUT : ATV_VFY_BAD_REQUEST, &err, "bundleDir");
        return 0;
    }
    if (atv_vfy_bundle_get(*out, ATV_VFY_EV_MANIFEST, ps->req->sig_digest, NULL, &data, NULL,
                           &err) != ATV_OK) {
        fail(ps, ATV_VFY_REGISTRY_ERROR, NULL,
             "air-gapped (bundleDir): no bundle holds signature manifest %.80s",
             ps->req->sig_digest);
        return 0;
    }
    return 1;
}

/* ---- the pass ---------------------------------------------------------------------- */

static void finish(struct pass *ps)
{
    struct atv_vfy_result *r = ps->out;

    if (r->reason == ATV_VFY_OK && !ps->verified) {
        /* a step stopped without saying why: never read that as success */
        fail(ps, ATV_VFY_BAD_REQUEST, NULL, "verification stopped without a verdict");
    }
    if (r->reason == ATV_VFY_OK) {
        r->success = 1;
        (void)vfy_bprintf(r->message, sizeof r->message,
                       "ATProto signature verified: %s signed by %s%s%s%s (policy %s)",
                       r->subject_digest, r->did, r->handle[0] != '\0' ? " (" : "", r->handle,
                       r->handle[0] != '\0' ? ")" : "", r->policy);
    }
    /* whether a failure is let through (audit, nothing required) is the
     * image verdict's decision (image.c), never one artifact's */
}

void atv_vfy_run(const struct atv_vfy_request *req, struct atv_vfy_result *out)
{
    struct pass ps;
    struct atv_buf blob;
    struct atv_vfy_bundle *dirb = NULL;
    struct atv_vfy_request local;

    memset(out, 0, sizeof *out);
    memset(&ps, 0, sizeof ps);
    ps.req = req;
    ps.out = out;
    atv_buf_init(&blob, ATV_MAX_ARTIFACT);
    if (req == NULL || req->params == NULL || req->store == NULL || req->subject == NULL ||
        req->sig_digest == NULL) {
        fail(&ps, ATV_VFY_BAD_REQUEST, NULL, "incomplete request");
        goto out;
    }
    if (req->offline == NULL && req->params->bundle_dir[0] != '\0' && req->sig_digest != NULL) {
        if (!find_bundle(&ps, &dirb)) {
            goto out;
        }
        local = *req;
        local.offline = dirb;
        ps.req = &local;
    }
    if (open_source(&ps) && load_policy(&ps) && registry_step(&ps, &blob) &&
        artifact_step(&ps, &blob) && trust_step(&ps) && identity_step(&ps) && pin_step(&ps) &&
        proof_step(&ps)) {
        ps.verified = 1;
        handle_step(&ps);
    }
out:
    if (req != NULL) {
        finish(&ps);
    }
    if (ps.src.oldest > 0) {
        struct tm tm;
        out->evidence_time = ps.src.oldest;
        time_t t = (time_t)ps.src.oldest;
        if (gmtime_r(&t, &tm) != NULL &&
            strftime(out->evidence_at, sizeof out->evidence_at, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
            out->evidence_at[0] = '\0';
        }
    }
    vsrc_close(&ps.src);
    atv_policy_free(ps.policy);
    atv_vfy_bundle_free(dirb);
    atv_buf_cleanup(&blob);
}

/* ---- discovery ---------------------------------------------------------------------- */

enum atv_status atv_vfy_discover(const struct atv_vfy_request *req, struct atv_vfy_found *out,
                                 enum atv_vfy_reason *reason, struct atv_err *err)
{
    struct vsrc src;
    struct atv_ref_index ix;
    enum atv_status rc;
    size_t i;

    memset(out, 0, sizeof *out);
    memset(&ix, 0, sizeof ix);
    *reason = ATV_VFY_OK;
    rc = vsrc_open(&src, req, err);
    if (rc != ATV_OK) {
        *reason = rc == ATV_E_PARSE                                            ? ATV_VFY_BAD_REQUEST
                  : err->reason != NULL && strcmp(err->reason, "timeout") == 0 ? ATV_VFY_TIMEOUT
                                                                               : ATV_VFY_REGISTRY_ERROR;
        goto out;
    }
    if (req->subject_digest != NULL) {
        rc = atv_ref_digest_check(req->subject_digest, err);
        if (rc == ATV_OK) {
            (void)copy_str(out->subject_digest, sizeof out->subject_digest, req->subject_digest);
        }
    } else if (src.img.digest[0] != '\0') {
        (void)copy_str(out->subject_digest, sizeof out->subject_digest, src.img.digest);
    } else {
        rc = vsrc_tag(&src, out->subject_digest, err);
    }
    if (rc == ATV_OK) {
        rc = vsrc_referrers(&src, out->subject_digest, &ix, err);
    }
    if (rc != ATV_OK) {
        int timed_out = vsrc_timed_out(&src) ||
                        (err->reason != NULL && strcmp(err->reason, "timeout") == 0);
        *reason = stale(err)   ? ATV_VFY_STALE_EVIDENCE
                  : timed_out ? ATV_VFY_TIMEOUT
                              : ATV_VFY_REGISTRY_ERROR;
        goto out;
    }
    for (i = 0; i < ix.n; i++) {
        const struct atv_ref_desc *d = &ix.manifests[i];
        struct atv_vfy_sigref *s;
        /* the listing was filtered already; an entry of another type is skipped */
        if (strcmp(d->artifact_type, ATV_ARTIFACT_TYPE) != 0) {
            continue;
        }
        if (out->n == ATV_VFY_MAX_SIGS) {
            rc = atv_err_set(err, ATV_E_LIMIT, "more than %u signature artifacts on %s",
                             ATV_VFY_MAX_SIGS, out->subject_digest);
            *reason = ATV_VFY_REGISTRY_ERROR;
            goto out;
        }
        s = &out->sigs[out->n++];
        (void)copy_str(s->digest, sizeof s->digest, d->digest);
        s->size = d->size;
        (void)copy_str(s->media_type, sizeof s->media_type, d->media_type);
        if (d->ann_did != NULL) {
            (void)copy_str(s->did, sizeof s->did, d->ann_did);
        }
    }
out:
    if (rc != ATV_OK) {
        out->n = 0;
    }
    atv_ref_index_cleanup(&ix);
    vsrc_close(&src);
    return rc;
}
