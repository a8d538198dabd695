/* kube/review.c: an admission.k8s.io/v1 AdmissionReview request, as the API
 * server posts it to a webhook (k8s.io/api admission/v1 types.go;
 * reference/admission-surfaces.md 3.1). */
#include "kube/kube.h"
#include "kube/kube_internal.h"

#include <stdio.h>
#include <string.h>

#define REVIEW_V1 "admission.k8s.io/v1"
#define REVIEW_V1BETA1 "admission.k8s.io/v1beta1"

/* request.uid is copied into the response and into logs: Kubernetes sends a
 * UUID (types.UID); anything outside printable ASCII is refused. */
static int uid_ok(const char *s)
{
    if (s[0] == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* A required member that must be an object. */
static enum atv_status get_obj(const json_t *obj, const char *key, const char *at,
                               const json_t **v, struct atv_err *err)
{
    *v = json_object_get(obj, key);
    if (*v == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "%s/%s: missing", at, key);
    }
    if (!json_is_object(*v)) {
        *v = NULL;
        return atv_err_set(err, ATV_E_PARSE, "%s/%s: want an object", at, key);
    }
    return ATV_OK;
}

/* apiVersion and kind of the review itself. */
static enum atv_status read_envelope(const json_t *root, struct atv_kube_review *r,
                                     struct atv_err *err)
{
    char kind[32], t[80];
    enum atv_status rc =
        atv_kube_str(root, "apiVersion", 1, r->api_version, sizeof r->api_version, "", NULL, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (strcmp(r->api_version, REVIEW_V1BETA1) == 0) {
        return atv_err_set(err, ATV_E_UNSUPPORTED,
                           "/apiVersion: %s is not served; list only v1 in the webhook's "
                           "admissionReviewVersions",
                           REVIEW_V1BETA1);
    }
    if (strcmp(r->api_version, REVIEW_V1) != 0) {
        return atv_err_set(err, ATV_E_UNSUPPORTED, "/apiVersion: %s, want %s",
                           atv_kube_printable(r->api_version, t, sizeof t), REVIEW_V1);
    }
    rc = atv_kube_str(root, "kind", 1, kind, sizeof kind, "", NULL, err);
    if (rc == ATV_E_LIMIT || (rc == ATV_OK && strcmp(kind, "AdmissionReview") != 0)) {
        atv_err_clear(err);
        return atv_err_set(err, ATV_E_PARSE, "/kind: want AdmissionReview");
    }
    return rc;
}

/* request.kind (GroupVersionKind) and request.resource (GroupVersionResource). */
static enum atv_status read_gvk(const json_t *req, struct atv_kube_review *r,
                                struct atv_err *err)
{
    const json_t *k, *res;
    enum atv_status rc = get_obj(req, "kind", "/request", &k, err);
    if (rc == ATV_OK) {
        rc = atv_kube_str(k, "group", 0, r->group, sizeof r->group, "/request/kind", NULL, err);
    }
    if (rc == ATV_OK) {
        rc = atv_kube_str(k, "version", 1, r->version, sizeof r->version, "/request/kind", NULL,
                          err);
    }
    if (rc == ATV_OK) {
        rc = atv_kube_str(k, "kind", 1, r->kind, sizeof r->kind, "/request/kind", NULL, err);
    }
    if (rc == ATV_OK) {
        rc = get_obj(req, "resource", "/request", &res, err);
    }
    if (rc == ATV_OK) {
        rc = atv_kube_str(res, "resource", 1, r->resource, sizeof r->resource,
                          "/request/resource", NULL, err);
    }
    if (rc == ATV_OK) {
        rc = atv_kube_str(req, "subResource", 0, r->subresource, sizeof r->subresource,
                          "/request", NULL, err);
    }
    return rc;
}

/* uid, operation, name, namespace, dryRun. */
static enum atv_status read_request_fields(const json_t *req, struct atv_kube_review *r,
                                           struct atv_err *err)
{
    static const char *const ops[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
    char t[80];
    enum atv_status rc = atv_kube_str(req, "uid", 1, r->uid, sizeof r->uid, "/request", NULL, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (!uid_ok(r->uid)) {
        return atv_err_set(err, ATV_E_PARSE,
                           "/request/uid: want a non-empty string of printable ASCII");
    }
    rc = atv_kube_str(req, "operation", 1, r->operation, sizeof r->operation, "/request", NULL,
                      err);
    if (rc == ATV_E_LIMIT) {
        atv_err_clear(err);
        return atv_err_set(err, ATV_E_UNSUPPORTED, "/request/operation: not one of CREATE, "
                                                   "UPDATE, DELETE, CONNECT");
    }
    if (rc != ATV_OK) {
        return rc;
    }
    size_t i;
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(r->operation, ops[i]) == 0) {
            break;
        }
    }
    if (i == sizeof ops / sizeof ops[0]) {
        return atv_err_set(err, ATV_E_UNSUPPORTED, "/request/operation: %s, want CREATE, UPDATE, "
                                                   "DELETE or CONNECT",
                           atv_kube_printable(r->operation, t, sizeof t));
    }
    rc = atv_kube_str(req, "name", 0, r->name, sizeof r->name, "/request", NULL, err);
    if (rc == ATV_OK) {
        rc = atv_kube_str(req, "namespace", 0, r->ns, sizeof r->ns, "/request", NULL, err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    const json_t *dry = json_object_get(req, "dryRun");
    if (dry != NULL && !json_is_null(dry) && !json_is_boolean(dry)) {
        return atv_err_set(err, ATV_E_PARSE, "/request/dryRun: want a boolean");
    }
    r->dry_run = dry != NULL && json_is_true(dry) ? 1 : 0;
    return ATV_OK;
}

/* request.object for CREATE and UPDATE: its stated kind and apiVersion, when
 * stated, are request.kind's. */
static enum atv_status read_object(const json_t *req, struct atv_kube_review *r,
                                   struct atv_err *err)
{
    char api[128], kind[64], t1[80], t2[80];
    int have;
    enum atv_status rc;

    if (strcmp(r->operation, "CREATE") != 0 && strcmp(r->operation, "UPDATE") != 0) {
        return ATV_OK; /* DELETE: object is null; CONNECT: an options object */
    }
    const json_t *obj = json_object_get(req, "object");
    if (obj == NULL || json_is_null(obj)) {
        return ATV_OK;
    }
    if (!json_is_object(obj)) {
        return atv_err_set(err, ATV_E_PARSE, "/request/object: want an object");
    }
    if (r->group[0] != '\0') {
        (void)snprintf(api, sizeof api, "%s/%s", r->group, r->version);
    } else {
        (void)snprintf(api, sizeof api, "%s", r->version);
    }
    /* Kubernetes >= 1.22 posts the whole Pod for pods/ephemeralcontainers;
     * 1.16-1.21 posted an EphemeralContainers object of another shape. */
    if (strcmp(r->resource, "pods") == 0 && strcmp(r->subresource, "ephemeralcontainers") == 0 &&
        (r->group[0] != '\0' || strcmp(r->version, "v1") != 0 || strcmp(r->kind, "Pod") != 0)) {
        return atv_err_set(err, ATV_E_UNSUPPORTED,
                           "/request/kind: pods/ephemeralcontainers as %s %s, want v1 Pod "
                           "(Kubernetes >= 1.22)",
                           atv_kube_printable(api, t1, sizeof t1),
                           atv_kube_printable(r->kind, t2, sizeof t2));
    }
    /* The API server converts the object to request.kind's version
     * (matchPolicy Equivalent), so they agree; a disagreement is refused
     * rather than letting the object's word pick the kind we read. */
    rc = atv_kube_str(obj, "kind", 0, kind, sizeof kind, "/request/object", &have, err);
    if (rc == ATV_OK && have && strcmp(kind, r->kind) != 0) {
        rc = atv_err_set(err, ATV_E_PARSE, "/request/object/kind: %s, but request.kind is %s",
                         atv_kube_printable(kind, t1, sizeof t1),
                         atv_kube_printable(r->kind, t2, sizeof t2));
    }
    if (rc == ATV_OK) {
        char oapi[128];
        rc = atv_kube_str(obj, "apiVersion", 0, oapi, sizeof oapi, "/request/object", &have, err);
        if (rc == ATV_OK && have && strcmp(oapi, api) != 0) {
            rc = atv_err_set(err, ATV_E_PARSE,
                             "/request/object/apiVersion: %s, but request.kind is %s",
                             atv_kube_printable(oapi, t1, sizeof t1),
                             atv_kube_printable(api, t2, sizeof t2));
        }
    }
    if (rc == ATV_OK) {
        rc = atv_kube_read_object(obj, "/request/object", api, r->kind, &r->images, err);
    }
    return rc;
}

void atv_kube_review_cleanup(struct atv_kube_review *r)
{
    if (r == NULL) {
        return;
    }
    atv_kube_images_cleanup(&r->images);
    memset(r, 0, sizeof *r);
}

enum atv_status atv_kube_review_parse(struct atv_bytes json, struct atv_kube_review *out,
                                      struct atv_err *err)
{
    json_t *root = NULL;
    const json_t *req;
    enum atv_status rc;

    if (out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "admission review: NULL output");
    }
    memset(out, 0, sizeof *out);
    rc = atv_kube_load(json, "admission review", &root, err);
    if (rc == ATV_OK) {
        rc = read_envelope(root, out, err);
    }
    if (rc == ATV_OK) {
        rc = get_obj(root, "request", "", &req, err);
    }
    if (rc == ATV_OK) {
        rc = read_request_fields(req, out, err);
    }
    if (rc == ATV_OK) {
        rc = read_gvk(req, out, err);
    }
    if (rc == ATV_OK) {
        rc = read_object(req, out, err);
    }
    json_decref(root);
    if (rc != ATV_OK) {
        atv_kube_review_cleanup(out);
    }
    return rc;
}
