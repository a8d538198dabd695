/* verify/image.c: the image verdict, the one per-image decision (verify.h).
 *
 * One image, one verdict: its signature artifacts are verified one by one
 * (verify.c, each on its own) and the trust policy is applied once, here,
 * over the set of signers that verified. The front ends translate this
 * verdict; none of them counts signatures or waves a failure through. */
#include "verify/verify_internal.h"

#include "common/cache.h"
#include "policy/policy.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What one manifest (the image, or one platform of an index) gathered. */
struct tally {
    size_t n_sigs;                /* signature artifacts found */
    size_t n_dids;                /* distinct signers verified */
    const char *dids[ATV_VFY_MAX_SIGS];
    struct atv_policy_outcome oc; /* the policy over dids */
    int met;
    /* the first failure of each artifact reason, by reason (index: enum value) */
    int seen[ATV_VFY_STALE_EVIDENCE + 1];
    char first_msg[ATV_VFY_STALE_EVIDENCE + 1][160];
    char first_detail[ATV_VFY_STALE_EVIDENCE + 1][64];
    /* a failure a retry could change (the first one) */
    int transient;
    enum atv_vfy_reason t_reason;
    char t_detail[64];
    char t_msg[400];
    /* discovery failed (definite): reason and message */
    int disc_failed;
    enum atv_vfy_reason d_reason;
    char d_detail[64];
    char d_msg[400];
    char digest[72];
};

struct ipass {
    const struct atv_vfy_request *req; /* the caller's */
    struct atv_vfy_request base;        /* deadline, policy and evidence settled */
    struct atv_vfy_image *out;
    struct atv_policy *own_policy;
    struct atv_policy_scope scope;
    struct atv_vfy_bundle *dirb;
    struct atv_ref_image img;
    struct atv_vfy_result *res;         /* scratch for one artifact */
    struct atv_vfy_found *found;        /* scratch for one discovery */
    char resolved[72];                  /* the tag's digest, resolved for req->vcache */
};

/* The verdict is refused with reason and message (definite unless transient). */
static void refuse(struct atv_vfy_image *o, enum atv_vfy_reason reason, int transient,
                   const char *detail, const char *fmt, ...) ATV_PRINTF(5, 6);
static void refuse(struct atv_vfy_image *o, enum atv_vfy_reason reason, int transient,
                   const char *detail, const char *fmt, ...)
{
    va_list ap;
    o->allowed = 0;
    o->met = 0;
    o->reason = reason;
    o->transient = transient;
    (void)vfy_bprintf(o->detail, sizeof o->detail, "%s", detail != NULL ? detail : "");
    va_start(ap, fmt);
    (void)vsnprintf(o->message, sizeof o->message, fmt, ap);
    va_end(ap);
}

/* ---- the order of reasons (README "Reasons") ------------------------------------ */

/* After a transient failure, NO_SIGNATURE and INSUFFICIENT_SIGNATURES: the
 * first of these present names the image's failure. */
static const enum atv_vfy_reason reason_order[] = {
    ATV_VFY_SIGNATURE_INVALID, ATV_VFY_RECORD_NOT_FOUND,       ATV_VFY_DIGEST_MISMATCH,
    ATV_VFY_SUBJECT_MISMATCH,  ATV_VFY_BAD_SIGNATURE_ARTIFACT, ATV_VFY_IDENTITY_ERROR,
    ATV_VFY_UNTRUSTED_SIGNER,  ATV_VFY_PDS_ERROR,              ATV_VFY_REGISTRY_ERROR,
    ATV_VFY_POLICY_DENIED,     ATV_VFY_BAD_REQUEST,            ATV_VFY_TIMEOUT,
    ATV_VFY_STALE_EVIDENCE,
};

static void note_failure(struct tally *t, const struct atv_vfy_result *r, const char *sig)
{
    unsigned k = (unsigned)r->reason;
    if (r->transient) {
        if (!t->transient) {
            t->transient = 1;
            t->t_reason = r->reason;
            (void)vfy_bprintf(t->t_detail, sizeof t->t_detail, "%s", r->detail);
            (void)vfy_bprintf(t->t_msg, sizeof t->t_msg, "signature %.80s: %s", sig, r->message);
        }
        return;
    }
    if (k < sizeof t->seen / sizeof t->seen[0] && !t->seen[k]) {
        t->seen[k] = 1;
        (void)vfy_bprintf(t->first_msg[k], sizeof t->first_msg[k], "signature %.80s: %s", sig,
                      r->message);
        (void)vfy_bprintf(t->first_detail[k], sizeof t->first_detail[k], "%s", r->detail);
    }
}

/* The image's reason when t is not met (verify.h, 6). */
static void explain(struct atv_vfy_image *o, const struct tally *t, const char *policy)
{
    size_t i;
    if (t->transient) {
        refuse(o, t->t_reason, 1, t->t_detail, "%s (a retry may succeed)", t->t_msg);
        return;
    }
    if (t->disc_failed) {
        refuse(o, t->d_reason, 0, t->d_detail, "%s", t->d_msg);
        /* stale evidence is a refusal, not signatures that could not be listed */
        o->unlisted = t->d_reason != ATV_VFY_STALE_EVIDENCE;
        return;
    }
    if (t->n_sigs == 0) {
        refuse(o, ATV_VFY_NO_SIGNATURE, 0, "no_signature",
               "%s has no signature artifact (%s); policy %s requires a signature",
               t->digest[0] != '\0' ? t->digest : "the image", ATV_ARTIFACT_TYPE, policy);
        return;
    }
    if (t->n_dids > 0) {
        char detail[64];
        (void)vfy_bprintf(detail, sizeof detail, "have %u of %u", t->oc.have, t->oc.want);
        refuse(o, ATV_VFY_INSUFFICIENT_SIGNATURES, 0, detail, "%s",
               t->oc.message[0] != '\0' ? t->oc.message : "too few trusted signers verified");
        return;
    }
    for (i = 0; i < sizeof reason_order / sizeof reason_order[0]; i++) {
        unsigned k = (unsigned)reason_order[i];
        if (t->seen[k]) {
            refuse(o, reason_order[i], 0, t->first_detail[k], "%s", t->first_msg[k]);
            return;
        }
    }
    refuse(o, ATV_VFY_BAD_REQUEST, 0, NULL, "no signature verified and no reason was recorded");
}

/* ---- one manifest: its artifacts, verified until the policy is met ----------- */

static void add_signer(struct ipass *ps, struct tally *t, const struct atv_vfy_result *r)
{
    struct atv_vfy_image *o = ps->out;
    size_t i;
    const char *did = NULL;

    for (i = 0; i < o->n_signers; i++) {
        if (strcmp(o->signers[i].did, r->did) == 0) {
            did = o->signers[i].did;
            if (o->signers[i].handle[0] == '\0' && r->handle[0] != '\0') {
                (void)vfy_bprintf(o->signers[i].handle, sizeof o->signers[i].handle, "%s",
                              r->handle);
            }
            break;
        }
    }
    if (did == NULL && o->n_signers < ATV_VFY_MAX_SIGS) {
        struct atv_vfy_signer *s = &o->signers[o->n_signers++];
        (void)vfy_bprintf(s->did, sizeof s->did, "%s", r->did);
        (void)vfy_bprintf(s->handle, sizeof s->handle, "%s", r->handle);
        did = s->did;
    }
    if (did == NULL) {
        return;
    }
    for (i = 0; i < t->n_dids; i++) {
        if (strcmp(t->dids[i], did) == 0) {
            return;
        }
    }
    if (t->n_dids < ATV_VFY_MAX_SIGS) {
        t->dids[t->n_dids++] = did;
    }
}

static void keep_result(struct ipass *ps, const struct atv_vfy_result *r, const char *sig,
                        const char *platform)
{
    struct atv_vfy_image *o = ps->out;
    struct atv_vfy_artifact *a;
    if (r->evidence_time > 0 && (o->evidence_time == 0 || r->evidence_time < o->evidence_time)) {
        o->evidence_time = r->evidence_time;
        (void)vfy_bprintf(o->evidence_at, sizeof o->evidence_at, "%s", r->evidence_at);
    }
    if (o->n_artifacts == ATV_VFY_MAX_SIGS) {
        return;
    }
    a = &o->artifacts[o->n_artifacts++];
    (void)vfy_bprintf(a->sig_digest, sizeof a->sig_digest, "%s", sig);
    (void)vfy_bprintf(a->platform, sizeof a->platform, "%s", platform);
    a->r = *r;
}

/* Verifies one artifact into t; returns 1 when the policy is met now. */
static int one_artifact(struct ipass *ps, struct atv_vfy_request *rq, struct tally *t,
                        const char *platform)
{
    struct atv_vfy_result *r = ps->res;
    atv_vfy_run(rq, r);
    keep_result(ps, r, rq->sig_digest, platform);
    if (r->subject_digest[0] != '\0' && t->digest[0] == '\0') {
        (void)vfy_bprintf(t->digest, sizeof t->digest, "%s", r->subject_digest);
    }
    if (!r->success) {
        note_failure(t, r, rq->sig_digest);
        return 0;
    }
    add_signer(ps, t, r);
    atv_policy_evaluate(ps->base.policy, ps->img.name, t->dids, t->n_dids, rq->now, &t->oc);
    t->met = t->oc.met;
    return t->met;
}

static int is_attestation(const struct atv_ref_desc *d);
static int read_index(struct ipass *ps, const char *digest, struct atv_ref_index *ix,
                      struct atv_err *err);

/* The artifacts of subject (digest known, or NULL to resolve the tag),
 * verified until the policy is met. first: the artifact the caller named
 * (the plugin's referenceDesc), verified before any discovery; returns 0
 * right away when it fails (its reason is then the verdict's). */
static int one_manifest(struct ipass *ps, const char *subject, const char *digest,
                        const char *platform, struct tally *t, int *first_failed)
{
    struct atv_vfy_request rq = ps->base;
    struct atv_vfy_found *f = ps->found;
    enum atv_vfy_reason why;
    struct atv_err err;
    size_t i;

    rq.subject = subject;
    rq.subject_digest = digest;
    if (first_failed == NULL) {
        rq.sig_digest = NULL; /* a platform of an index: only its own artifacts */
    }
    if (digest != NULL) {
        (void)vfy_bprintf(t->digest, sizeof t->digest, "%s", digest);
    }
    if (first_failed != NULL) {
        *first_failed = 0;
    }
    if (rq.sig_digest != NULL) {
        t->n_sigs = 1;
        if (one_artifact(ps, &rq, t, platform)) {
            return 1;
        }
        if (!ps->res->success) {
            *first_failed = 1;
            return 0;
        }
        /* it verified but is not enough alone: look for the others */
        rq.subject_digest = t->digest;
    }
    atv_err_clear(&err);
    if (atv_vfy_discover(&rq, f, &why, &err) != ATV_OK) {
        int tr = why == ATV_VFY_TIMEOUT || err.transient;
        if (tr && !t->transient) {
            t->transient = 1;
            t->t_reason = why;
            (void)vfy_bprintf(t->t_msg, sizeof t->t_msg, "listing the signatures of %.200s: %s",
                          subject, err.msg);
        } else if (!tr) {
            t->disc_failed = 1;
            t->d_reason = why;
            (void)vfy_bprintf(t->d_detail, sizeof t->d_detail, "%s",
                              err.reason != NULL ? err.reason : "");
            (void)vfy_bprintf(t->d_msg, sizeof t->d_msg, "listing the signatures of %.200s: %s",
                          subject, err.msg);
        }
        return 0;
    }
    if (t->digest[0] == '\0') {
        (void)vfy_bprintf(t->digest, sizeof t->digest, "%s", f->subject_digest);
    }
    rq.subject_digest = t->digest;
    for (i = 0; i < f->n; i++) {
        if (ps->base.sig_digest != NULL && strcmp(f->sigs[i].digest, ps->base.sig_digest) == 0) {
            continue; /* the named artifact, verified above */
        }
        t->n_sigs++;
        rq.sig_digest = f->sigs[i].digest;
        rq.sig_size = f->sigs[i].size;
        rq.sig_media_type = f->sigs[i].media_type;
        /* collecting (bundle export): every artifact, met or not */
        if (one_artifact(ps, &rq, t, platform) && !ps->base.collect) {
            return 1;
        }
    }
    return ps->base.collect ? t->met : 0;
}

/* Collecting (bundle export): the evidence of every platform manifest of an
 * index too, whatever the verdict, since the reader's policy may need it. */
static void collect_platforms(struct ipass *ps, const char *digest)
{
    struct atv_ref_index ix;
    struct tally *t = calloc(1, sizeof *t);
    struct atv_err err;
    char subject[ATV_MAX_URL + 80], platform[64];
    size_t i, n = 0;

    memset(&ix, 0, sizeof ix);
    atv_err_clear(&err);
    if (t == NULL || !read_index(ps, digest, &ix, &err)) {
        free(t);
        return;
    }
    for (i = 0; i < ix.n && n < ATV_VFY_MAX_CHILDREN; i++) {
        const struct atv_ref_desc *d = &ix.manifests[i];
        if (is_attestation(d) || strcmp(d->media_type, ATV_REF_MT_OCI_INDEX) == 0 ||
            strcmp(d->media_type, ATV_REF_MT_DOCKER_LIST) == 0) {
            continue;
        }
        n++;
        memset(t, 0, sizeof *t);
        (void)vfy_bprintf(platform, sizeof platform, "%s/%s%s%s",
                          d->platform_os[0] ? d->platform_os : "?",
                          d->platform_arch[0] ? d->platform_arch : "?",
                          d->platform_variant[0] != '\0' ? "/" : "", d->platform_variant);
        (void)vfy_bprintf(subject, sizeof subject, "%s@%s", ps->img.name, d->digest);
        (void)one_manifest(ps, subject, d->digest, platform, t, NULL);
    }
    atv_ref_index_cleanup(&ix);
    free(t);
}

/* ---- image indexes: met when every platform manifest is ------------------------ */

static int is_attestation(const struct atv_ref_desc *d)
{
    /* buildx stores attestations as manifests of platform unknown/unknown */
    return strcmp(d->platform_os, "unknown") == 0 && strcmp(d->platform_arch, "unknown") == 0;
}

/* Reads the subject manifest and, when it is an index, its entries into ix.
 * Returns 1 for an index; 0 otherwise (or when it cannot be told: *why says). */
static int read_index(struct ipass *ps, const char *digest, struct atv_ref_index *ix,
                      struct atv_err *err)
{
    struct atv_vfy_request rq = ps->base;
    struct vsrc src;
    struct atv_buf body;
    char ctype[ATV_REF_MAX_MEDIA_TYPE + 1];
    int is_ix = 0;

    rq.subject_digest = digest;
    atv_buf_init(&body, ATV_REF_MAX_MANIFEST);
    if (vsrc_open(&src, &rq, err) == ATV_OK &&
        vsrc_manifest(&src, digest, -1, &body, ctype, sizeof ctype, err) == ATV_OK) {
        int typed = strcmp(ctype, ATV_REF_MT_OCI_INDEX) == 0 ||
                    strcmp(ctype, ATV_REF_MT_DOCKER_LIST) == 0;
        struct atv_err e2;
        atv_err_clear(&e2);
        /* offline there is no Content-Type: the body's own mediaType decides */
        if ((typed || ctype[0] == '\0') &&
            atv_ref_index_parse(atv_buf_view(&body), ix, &e2) == ATV_OK &&
            (typed || strcmp(ix->media_type, ATV_REF_MT_OCI_INDEX) == 0 ||
             strcmp(ix->media_type, ATV_REF_MT_DOCKER_LIST) == 0)) {
            is_ix = 1;
        } else {
            atv_ref_index_cleanup(ix);
        }
    }
    vsrc_close(&src);
    atv_buf_cleanup(&body);
    return is_ix;
}

/* Decides the index at digest by its platform manifests. Returns 1 when
 * every one meets the policy; otherwise 0 with *o refused for the first that
 * does not (or left as it is when the rule does not apply). */
static int by_platforms(struct ipass *ps, const char *digest, const struct tally *own)
{
    struct atv_vfy_image *o = ps->out;
    struct atv_ref_index ix;
    struct tally *t = NULL;
    struct atv_err err;
    char subject[ATV_MAX_URL + 80], platform[64];
    size_t i, n_plat = 0;
    int ok = 0;

    memset(&ix, 0, sizeof ix);
    atv_err_clear(&err);
    if (!read_index(ps, digest, &ix, &err)) {
        if (err.code != ATV_OK && err.transient && !own->transient) {
            refuse(o, ATV_VFY_REGISTRY_ERROR, 1, err.reason,
                   "reading manifest %s to tell whether it is an index: %s", digest, err.msg);
        }
        goto out;
    }
    o->is_index = 1;
    for (i = 0; i < ix.n; i++) {
        const struct atv_ref_desc *d = &ix.manifests[i];
        if (strcmp(d->media_type, ATV_REF_MT_OCI_INDEX) == 0 ||
            strcmp(d->media_type, ATV_REF_MT_DOCKER_LIST) == 0) {
            (void)vfy_bprintf(o->message + strlen(o->message), sizeof o->message - strlen(o->message),
                          "; index %.80s holds a nested index (%.80s): its platforms are not "
                          "checked",
                          digest, d->digest);
            goto out;
        }
        n_plat += is_attestation(d) ? 0 : 1;
    }
    if (n_plat == 0 || n_plat > ATV_VFY_MAX_CHILDREN) {
        (void)vfy_bprintf(o->message + strlen(o->message), sizeof o->message - strlen(o->message),
                      "; index %.80s lists %zu platform manifests (1..%u are checked)", digest,
                      n_plat, ATV_VFY_MAX_CHILDREN);
        goto out;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        goto out;
    }
    for (i = 0; i < ix.n; i++) {
        const struct atv_ref_desc *d = &ix.manifests[i];
        if (is_attestation(d)) {
            continue;
        }
        memset(t, 0, sizeof *t);
        (void)vfy_bprintf(platform, sizeof platform, "%s/%s%s%s", d->platform_os[0] ? d->platform_os : "?",
                      d->platform_arch[0] ? d->platform_arch : "?",
                      d->platform_variant[0] != '\0' ? "/" : "", d->platform_variant);
        (void)vfy_bprintf(subject, sizeof subject, "%s@%s", ps->img.name, d->digest);
        if (!one_manifest(ps, subject, d->digest, platform, t, NULL)) {
            char msg[sizeof o->message];
            if (own->transient) {
                explain(o, own, ps->scope.name);
                goto out;
            }
            explain(o, t, ps->scope.name);
            (void)vfy_bprintf(msg, sizeof msg, "index %.80s: platform %s (%.80s): %s", digest,
                          platform, d->digest, o->message);
            memcpy(o->message, msg, sizeof o->message);
            goto out;
        }
    }
    ok = 1;
    (void)vfy_bprintf(o->message, sizeof o->message,
                  "every platform manifest (%zu) of index %s meets policy %s", n_plat, digest,
                  ps->scope.name);
out:
    free(t);
    atv_ref_index_cleanup(&ix);
    return ok;
}

/* ---- setup ------------------------------------------------------------------------ */

static int load_bundle_dir(struct ipass *ps)
{
    struct atv_err err;
    atv_err_clear(&err);
    if (atv_vfy_bundle_load_dir(ps->base.params->bundle_dir, ps->base.log, ps->base.deadline_ms,
                                &ps->dirb, &err) != ATV_OK) {
        if (err.reason != NULL && strcmp(err.reason, "timeout") == 0) {
            refuse(ps->out, ATV_VFY_TIMEOUT, 1, err.reason, "bundleDir: %s", err.msg);
        } else {
            refuse(ps->out, ATV_VFY_BAD_REQUEST, 0, err.reason, "bundleDir: %s", err.msg);
        }
        return 0;
    }
    ps->base.offline = ps->dirb;
    return 1;
}

/* The caller's verdict cache (verify.h, struct atv_vfy_vcache): 1 when it
 * answered. A tag is resolved here first; if that fails, the pass goes on
 * uncached and meets the same failure with its proper reason. */
static int vcache_get(struct ipass *ps)
{
    const struct atv_vfy_vcache *vc = ps->base.vcache;
    const char *digest = ps->img.digest;
    struct vsrc src;
    struct atv_err err;

    if (vc == NULL || vc->get == NULL || ps->base.offline != NULL || ps->base.sig_digest != NULL ||
        ps->base.collect || ps->base.record != NULL) {
        return 0;
    }
    if (digest[0] == '\0') {
        atv_err_clear(&err);
        if (vsrc_open(&src, &ps->base, &err) == ATV_OK &&
            vsrc_tag(&src, ps->resolved, &err) != ATV_OK) {
            ps->resolved[0] = '\0';
        }
        vsrc_close(&src);
        if (ps->resolved[0] == '\0') {
            return 0;
        }
        digest = ps->resolved;
    }
    if (!vc->get(vc->ctx, ps->img.name, digest, ps->out)) {
        return 0;
    }
    ps->out->from_cache = 1;
    return 1;
}

static void vcache_put(const struct ipass *ps)
{
    const struct atv_vfy_vcache *vc = ps->base.vcache;
    const struct atv_vfy_image *o = ps->out;
    if (vc == NULL || vc->put == NULL || ps->base.offline != NULL || ps->base.sig_digest != NULL ||
        ps->base.collect || ps->base.record != NULL || o->transient || o->digest[0] == '\0' ||
        o->reason == ATV_VFY_BAD_REQUEST) {
        return;
    }
    vc->put(vc->ctx, ps->img.name, o->digest, o);
}

static int load_policy(struct ipass *ps)
{
    struct atv_err err;

    if (ps->base.policy != NULL) {
        return 1;
    }
    atv_err_clear(&err);
    if (vfy_policy_load(ps->base.params, &ps->own_policy, &err) != ATV_OK) {
        refuse(ps->out, ATV_VFY_BAD_REQUEST, 0, err.reason, "trust policy: %s", err.msg);
        return 0;
    }
    ps->base.policy = ps->own_policy;
    return 1;
}

/* The rollback guard and the DID cache live in cacheDir: say when they are off. */
static void check_cache(struct ipass *ps)
{
    const struct atv_vfy_params *p = ps->base.params;
    struct atv_err err;

    if (ps->base.offline != NULL) {
        return;
    }
    if (p->did_cache_ttl_s == 0) {
        ps->out->rollback_guard_off = 1;
        atv_vfy_logf(ps->base.log, ATV_VFY_INFO,
                     "atproto: didCacheTTL is 0: no DID cache, and the rollback guard is off");
        return;
    }
    atv_err_clear(&err);
    if (atv_cache_dir_check(p->cache_dir, 1, &err) != ATV_OK) {
        ps->out->rollback_guard_off = 1;
        atv_vfy_logf(ps->base.log, ATV_VFY_WARN,
                     "atproto: cache directory cannot be used (%s): no DID cache, and the "
                     "rollback guard is off",
                     err.msg);
    }
}

static void set_reference(struct ipass *ps, const char *digest)
{
    struct atv_vfy_image *o = ps->out;
    if (digest != NULL && digest[0] != '\0') {
        (void)vfy_bprintf(o->digest, sizeof o->digest, "%s", digest);
        (void)vfy_bprintf(o->reference, sizeof o->reference, "%s@%s", ps->img.name, digest);
    } else if (ps->img.digest[0] != '\0') {
        set_reference(ps, ps->img.digest);
    } else {
        (void)vfy_bprintf(o->reference, sizeof o->reference, "%s:%s", ps->img.name, ps->img.tag);
    }
}

/* ---- the pass ------------------------------------------------------------------------ */

static void met_message(struct ipass *ps, const struct tally *t)
{
    struct atv_vfy_image *o = ps->out;
    char who[256] = "";
    size_t i, w = 0;
    for (i = 0; i < o->n_signers && w < sizeof who; i++) {
        int n = snprintf(who + w, sizeof who - w, "%s%s", i > 0 ? ", " : "", o->signers[i].did);
        if (n < 0) {
            break;
        }
        w += (size_t)n;
    }
    (void)vfy_bprintf(o->message, sizeof o->message,
                  "policy %s met for %s: %u of %u required signer%s verified (%s)",
                  ps->scope.name, o->reference, t->oc.have, t->oc.want,
                  t->oc.want == 1 ? "" : "s", who);
}

static void decide(struct ipass *ps)
{
    struct atv_vfy_image *o = ps->out;
    struct tally *t = calloc(1, sizeof *t);
    int first_failed = 0;

    if (t == NULL) {
        refuse(o, ATV_VFY_BAD_REQUEST, 1, NULL, "out of memory");
        return;
    }
    const char *known = ps->img.digest[0] != '\0' ? ps->img.digest
                        : ps->resolved[0] != '\0' ? ps->resolved
                                                   : NULL;
    int met = one_manifest(ps, ps->base.subject, known, "", t, &first_failed);
    if (ps->base.collect && t->digest[0] != '\0') {
        collect_platforms(ps, t->digest);
    }
    if (met) {
        set_reference(ps, t->digest);
        o->n_sigs = t->n_sigs;
        o->met = 1;
        o->allowed = 1;
        o->have = t->oc.have;
        met_message(ps, t);
        goto out;
    }
    set_reference(ps, t->digest);
    o->have = t->oc.have;
    o->n_sigs = t->n_sigs;
    if (first_failed) {
        /* the plugin's own artifact failed: its reason is the verdict's */
        const struct atv_vfy_result *r = &o->artifacts[0].r;
        refuse(o, r->reason, r->transient, r->detail, "%s", r->message);
        goto out;
    }
    explain(o, t, ps->scope.name);
    if (t->digest[0] != '\0' && by_platforms(ps, t->digest, t)) {
        o->met = 1;
        o->allowed = 1;
        o->reason = ATV_VFY_OK;
        o->detail[0] = '\0';
        o->transient = 0;
    }
out:
    free(t);
}

/* audit: report, do not block. A configuration error is never waved through.
 * params->audit_only (the server's REQUIRE_SIGNATURE=false) makes every
 * refusal an audit, an image no policy covers included. */
static void apply_action(struct ipass *ps)
{
    struct atv_vfy_image *o = ps->out;
    char msg[sizeof o->message];
    int audit = ps->base.params->audit_only ||
                (ps->scope.matched && ps->scope.action == ATV_POLICY_AUDIT);
    if (o->met || !audit || o->reason == ATV_VFY_BAD_REQUEST) {
        return;
    }
    o->allowed = 1;
    o->audit = 1;
    memcpy(msg, o->message, sizeof msg);
    if (ps->scope.matched && ps->scope.action == ATV_POLICY_AUDIT) {
        (void)vfy_bprintf(o->message, sizeof o->message,
                          "audit policy %s is not met, allowed: %s: %s", ps->scope.name,
                          atv_vfy_reason_name(o->reason), msg);
    } else {
        (void)vfy_bprintf(o->message, sizeof o->message,
                          "not met, allowed (audit only: signatures are not required): %s: %s",
                          atv_vfy_reason_name(o->reason), msg);
    }
    atv_vfy_logf(ps->base.log, ATV_VFY_WARN, "atproto: %s", o->message);
}

void atv_vfy_image_run(const struct atv_vfy_request *req, struct atv_vfy_image *out)
{
    struct ipass ps;
    struct atv_err err;

    memset(out, 0, sizeof *out);
    memset(&ps, 0, sizeof ps);
    ps.out = out;
    ps.req = req;
    if (req == NULL || req->params == NULL || req->store == NULL || req->subject == NULL) {
        refuse(out, ATV_VFY_BAD_REQUEST, 0, NULL, "incomplete request");
        return;
    }
    ps.base = *req;
    if (ps.base.deadline_ms == 0) {
        ps.base.deadline_ms = atv_vfy_clock_ms() + req->params->timeout_ms;
    }
    ps.res = calloc(1, sizeof *ps.res);
    ps.found = calloc(1, sizeof *ps.found);
    if (ps.res == NULL || ps.found == NULL) {
        refuse(out, ATV_VFY_BAD_REQUEST, 1, NULL, "out of memory");
        goto out;
    }
    atv_err_clear(&err);
    if (atv_ref_image_parse(req->subject, req->store->use_http, &ps.img, &err) != ATV_OK) {
        refuse(out, ATV_VFY_BAD_REQUEST, 0, err.reason, "image reference: %s", err.msg);
        goto out;
    }
    (void)vfy_bprintf(out->name, sizeof out->name, "%s", ps.img.name);
    set_reference(&ps, NULL);
    if (!load_policy(&ps)) {
        goto out;
    }
    /* the policy is chosen before any network traffic, by the normalised name */
    atv_policy_scope_for(ps.base.policy, ps.img.name, &ps.scope);
    if (!ps.scope.matched) {
        refuse(out, ATV_VFY_POLICY_DENIED, 0, "no_policy",
               "no policy's scope matches %s: nothing is trusted for it", ps.img.name);
        apply_action(&ps);
        goto out;
    }
    (void)vfy_bprintf(out->policy, sizeof out->policy, "%s", ps.scope.name);
    out->action_audit = ps.scope.action == ATV_POLICY_AUDIT;
    out->min_signatures = ps.scope.min_signatures;
    if (!ps.scope.require_signature) {
        out->allowed = 1;
        out->met = 1;
        out->no_signature_required = 1;
        (void)vfy_bprintf(out->message, sizeof out->message, "policy %s requires no signature",
                      ps.scope.name);
        goto out;
    }
    if (ps.base.offline == NULL && ps.base.params->bundle_dir[0] != '\0' &&
        !load_bundle_dir(&ps)) {
        goto out;
    }
    check_cache(&ps);
    if (vcache_get(&ps)) {
        goto out;
    }
    decide(&ps);
    apply_action(&ps);
    vcache_put(&ps);
out:
    atv_policy_free(ps.own_policy);
    atv_vfy_bundle_free(ps.dirb);
    free(ps.res);
    free(ps.found);
}
