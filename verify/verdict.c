/* verify/verdict.c: the image verdict as one JSON document.
 *
 * One shape for every front end that prints a verdict as JSON: atcr-verify
 * IMAGE -o json and the server's /verify answer the same document, so a
 * script written against one reads the other. */
#include "verify/verify.h"

#include <jansson.h>
#include <stdlib.h>

static json_t *result_json(const struct atv_vfy_artifact *a)
{
    struct atv_vfy_field f[ATV_VFY_MAX_FIELDS];
    size_t n = atv_vfy_result_fields(&a->r, f), i;
    json_t *o = json_pack("{s:s, s:b, s:s}", "signatureManifest", a->sig_digest, "isSuccess",
                          a->r.success, "message", a->r.message);
    if (o != NULL && a->platform[0] != '\0') {
        (void)json_object_set_new(o, "platform", json_string(a->platform));
    }
    for (i = 0; o != NULL && i < n; i++) {
        (void)json_object_set_new(o, f[i].key,
                                  f[i].is_bool ? json_boolean(f[i].b) : json_string(f[i].str));
    }
    return o;
}

static json_t *verdict_json(const struct atv_vfy_image *v, const char *image, int64_t now)
{
    json_t *sigs = json_array(), *signers = json_array(), *root;
    size_t i;

    for (i = 0; sigs != NULL && i < v->n_artifacts; i++) {
        (void)json_array_append_new(sigs, result_json(&v->artifacts[i]));
    }
    for (i = 0; signers != NULL && i < v->n_signers; i++) {
        json_t *s = json_pack("{s:s}", "did", v->signers[i].did);
        if (s != NULL && v->signers[i].handle[0] != '\0') {
            (void)json_object_set_new(s, "handle", json_string(v->signers[i].handle));
        }
        (void)json_array_append_new(signers, s);
    }
    /* s:o steals sigs and signers, even when the pack fails */
    root = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:s, s:s, s:s, s:i, s:i, s:i, s:b, "
                     "s:o, s:o}",
                     "image", image, "reference", v->reference, "digest", v->digest, "allowed",
                     v->allowed, "met", v->met, "audit", v->audit, "transient", v->transient,
                     "reason", atv_vfy_reason_name(v->reason), "message", v->message, "action",
                     v->action_audit ? "audit" : "enforce", "minSignatures",
                     (int)v->min_signatures, "verifiedSigners", (int)v->n_signers,
                     "signaturesFound", (int)v->n_sigs, "policyMet", v->met, "signers", signers,
                     "signatures", sigs);
    if (root == NULL) {
        return NULL;
    }
    /* kept for scripts written against earlier versions: the digest again */
    (void)json_object_set_new(root, "subjectDigest", json_string(v->digest));
    if (v->policy[0] != '\0') {
        (void)json_object_set_new(root, "policy", json_string(v->policy));
    }
    if (v->detail[0] != '\0') {
        (void)json_object_set_new(root, "detail", json_string(v->detail));
    }
    if (v->is_index) {
        (void)json_object_set_new(root, "index", json_true());
    }
    if (v->rollback_guard_off) {
        (void)json_object_set_new(root, "rollbackGuardOff", json_true());
    }
    if (v->evidence_at[0] != '\0') {
        (void)json_object_set_new(root, "evidenceFetchedAt", json_string(v->evidence_at));
        (void)json_object_set_new(root, "evidenceAgeSeconds",
                                  json_integer((json_int_t)(now - v->evidence_time)));
    }
    return root;
}

char *atv_vfy_image_json(const struct atv_vfy_image *v, const char *image, int64_t now,
                         int indent)
{
    json_t *root;
    char *s;

    if (v == NULL || image == NULL) {
        return NULL;
    }
    root = verdict_json(v, image, now);
    s = root != NULL ? json_dumps(root, indent ? JSON_INDENT(2) : JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}
