/* kube/object.c: the images of one Kubernetes object, and of a document of
 * several (List, PodList, ...). jansson stays inside kube/ (kube/kube.h).
 *
 * Shapes: Kubernetes core/v1 PodSpec, Container, EphemeralContainer, Volume,
 * ImageVolumeSource, PodStatus, ContainerStatus; apps/v1, batch/v1 and their
 * older versions for the workload kinds (reference/admission-surfaces.md 3.3). */
#include "kube/kube.h"
#include "kube/kube_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers (kube/kube_internal.h) ------------------------------ */

enum atv_status atv_kube_load(struct atv_bytes json, const char *what, json_t **root,
                              struct atv_err *err)
{
    json_error_t jerr;
    const char *text = json.ptr != NULL ? (const char *)json.ptr : "";

    *root = NULL;
    if (json.ptr == NULL && json.len > 0) {
        return atv_err_set(err, ATV_E_USAGE, "%s: NULL bytes of length %zu", what, json.len);
    }
    /* Refused before parsing: jansson would build the whole tree first. */
    if (json.len > ATV_KUBE_MAX_DOC) {
        return atv_err_set(err, ATV_E_LIMIT, "%s: %zu bytes of JSON, cap %u", what, json.len,
                           ATV_KUBE_MAX_DOC);
    }
    /* No JSON_DECODE_ANY (the top level is an object or an array), no
     * JSON_ALLOW_NUL (a string never holds \u0000, so every C copy is the
     * whole string); jansson checks UTF-8 and bounds nesting itself. */
    *root = json_loadb(text, json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        char t[sizeof jerr.text];
        /* jansson quotes the input near the error ("... near 'x'"): cut it. */
        char *near = strstr(jerr.text, " near ");
        if (near != NULL) {
            *near = '\0';
        }
        return atv_err_set(err, ATV_E_PARSE, "%s: invalid JSON at line %d column %d: %s", what,
                           jerr.line, jerr.column, atv_kube_printable(jerr.text, t, sizeof t));
    }
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return atv_err_set(err, ATV_E_PARSE, "%s: want a JSON object", what);
    }
    return ATV_OK;
}

const char *atv_kube_printable(const char *s, char *buf, size_t cap)
{
    size_t i;
    for (i = 0; s[i] != '\0' && i < 64 && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
    }
    buf[i] = '\0';
    return buf;
}

enum atv_status atv_kube_str(const json_t *obj, const char *key, int required, char *dst,
                             size_t cap, const char *at, int *present, struct atv_err *err)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (present != NULL) {
        *present = 0;
    }
    if (v == NULL) {
        if (required) {
            return atv_err_set(err, ATV_E_PARSE, "%s/%s: missing", at, key);
        }
        return ATV_OK;
    }
    if (!json_is_string(v)) {
        return atv_err_set(err, ATV_E_PARSE, "%s/%s: want a string", at, key);
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "%s/%s: %zu bytes, cap %zu", at, key, n, cap - 1);
    }
    /* Cannot happen without JSON_ALLOW_NUL; a copy must never be shorter. */
    if (strlen(s) != n) {
        return atv_err_set(err, ATV_E_PARSE, "%s/%s: contains NUL", at, key);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    if (present != NULL) {
        *present = 1;
    }
    return ATV_OK;
}

/* ---- kinds ---------------------------------------------------------------- */

/* The PodSpec's path inside each kind (core/v1 PodTemplate.template,
 * apps/v1 *Spec.template, batch/v1 CronJobSpec.jobTemplate). */
static const char *const path_pod[] = {"spec", NULL};
static const char *const path_podtemplate[] = {"template", "spec", NULL};
static const char *const path_template[] = {"spec", "template", "spec", NULL};
static const char *const path_cronjob[] = {"spec", "jobTemplate", "spec", "template", "spec", NULL};

struct kind_def {
    const char *kind;
    const char *group;           /* "" for the core group */
    const char *versions[4];     /* apiVersions with this shape, NULL-terminated */
    const char *const *path;     /* to the PodSpec */
    int pod;                     /* 1: status.*ContainerStatuses is read */
};

/* Kubernetes served apps/v1beta1 (Deployment, StatefulSet), apps/v1beta2 and
 * extensions/v1beta1 (Deployment, ReplicaSet, DaemonSet) and batch/v1beta1
 * (CronJob) with the same pod template as today's versions. */
static const struct kind_def kinds[] = {
    {"Pod", "", {"v1", NULL}, path_pod, 1},
    {"PodTemplate", "", {"v1", NULL}, path_podtemplate, 0},
    {"ReplicationController", "", {"v1", NULL}, path_template, 0},
    {"Deployment", "apps", {"apps/v1", "apps/v1beta1", "apps/v1beta2", NULL}, path_template, 0},
    {"Deployment", "extensions", {"extensions/v1beta1", NULL}, path_template, 0},
    {"ReplicaSet", "apps", {"apps/v1", "apps/v1beta2", NULL}, path_template, 0},
    {"ReplicaSet", "extensions", {"extensions/v1beta1", NULL}, path_template, 0},
    {"StatefulSet", "apps", {"apps/v1", "apps/v1beta1", "apps/v1beta2", NULL}, path_template, 0},
    {"DaemonSet", "apps", {"apps/v1", "apps/v1beta2", NULL}, path_template, 0},
    {"DaemonSet", "extensions", {"extensions/v1beta1", NULL}, path_template, 0},
    {"Job", "batch", {"batch/v1", NULL}, path_template, 0},
    {"CronJob", "batch", {"batch/v1", "batch/v1beta1", NULL}, path_cronjob, 0},
};

/* *def: the entry for (kind, api), NULL for a kind we do not read. */
static enum atv_status find_kind(const char *kind, const char *api, const char *at,
                                 const struct kind_def **def, struct atv_err *err)
{
    const char *slash = strchr(api, '/');
    size_t glen = slash != NULL ? (size_t)(slash - api) : 0;
    int named = 0;
    char t1[80], t2[80];

    *def = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const struct kind_def *k = &kinds[i];
        if (strcmp(kind, k->kind) != 0) {
            continue;
        }
        if (!named && api[0] == '\0') {
            return atv_err_set(err, ATV_E_PARSE, "%s/apiVersion: missing for kind %s", at, kind);
        }
        named = 1;
        /* apiVersion is GROUP/VERSION, or VERSION alone for the core group */
        if (strlen(k->group) != glen || strncmp(api, k->group, glen) != 0) {
            continue;
        }
        for (size_t v = 0; k->versions[v] != NULL; v++) {
            if (strcmp(api, k->versions[v]) == 0) {
                *def = k;
                return ATV_OK;
            }
        }
        return atv_err_set(err, ATV_E_UNSUPPORTED, "%s/apiVersion: %s is not a version of %s we read",
                           at, atv_kube_printable(api, t1, sizeof t1),
                           atv_kube_printable(kind, t2, sizeof t2));
    }
    return ATV_OK; /* another kind, or this name in another group (a custom resource) */
}

/* ---- pointers ------------------------------------------------------------- */

/* Appends the decimal index i as a reference token. */
static enum atv_status ptr_index(char *ptr, size_t cap, size_t i, struct atv_err *err)
{
    char num[24];
    (void)snprintf(num, sizeof num, "%zu", i);
    return atv_kube_pointer_append(ptr, cap, num, err);
}

/* ---- collecting images ---------------------------------------------------- */

struct collect {
    struct atv_kube_images *out;
    size_t cap;     /* entries allocated in out->items */
    const char *at; /* the object's pointer in the document, for messages */
};

/* One more image: ref (n bytes, a string jansson gave us), at pointer ptr. */
static enum atv_status push_image(struct collect *c, const char *ref, size_t n, const char *ptr,
                                  const char *field, const char *name, struct atv_err *err)
{
    struct atv_kube_images *o = c->out;
    if (n > ATV_KUBE_MAX_REF) {
        return atv_err_set(err, ATV_E_LIMIT, "%s%s: image of %zu bytes, cap %u", c->at, ptr, n,
                           ATV_KUBE_MAX_REF);
    }
    if (strlen(ref) != n) {
        return atv_err_set(err, ATV_E_PARSE, "%s%s: contains NUL", c->at, ptr);
    }
    if (o->n >= ATV_KUBE_MAX_IMAGES) {
        return atv_err_set(err, ATV_E_LIMIT, "%s%s: more than %u images in one object", c->at,
                           ptr, ATV_KUBE_MAX_IMAGES);
    }
    if (o->n == c->cap) {
        size_t ncap = c->cap == 0 ? 8 : c->cap * 2;
        if (ncap > ATV_KUBE_MAX_IMAGES) {
            ncap = ATV_KUBE_MAX_IMAGES;
        }
        struct atv_kube_image *p = realloc(o->items, ncap * sizeof *p);
        if (p == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "%s%s: out of memory", c->at, ptr);
        }
        o->items = p;
        c->cap = ncap;
    }
    struct atv_kube_image *im = &o->items[o->n];
    memset(im, 0, sizeof *im);
    memcpy(im->ref, ref, n);
    im->ref[n] = '\0';
    /* ptr, field and name were built within these sizes by the callers */
    (void)snprintf(im->pointer, sizeof im->pointer, "%s", ptr);
    (void)snprintf(im->field, sizeof im->field, "%s", field);
    (void)snprintf(im->name, sizeof im->name, "%s", name);
    o->n++;
    return ATV_OK;
}

/* Looks up key in obj: *v NULL when absent or null; ATV_E_PARSE when present
 * with a type other than want (JSON_OBJECT or JSON_ARRAY). */
static enum atv_status get_node(const json_t *obj, const char *key, json_type want,
                                const json_t **v, const char *at, const char *ptr,
                                struct atv_err *err)
{
    const json_t *x = json_object_get(obj, key);
    *v = NULL;
    if (x == NULL || json_is_null(x)) {
        return ATV_OK;
    }
    if (json_typeof(x) != want) {
        return atv_err_set(err, ATV_E_PARSE, "%s%s/%s: want an %s", at, ptr, key,
                           want == JSON_OBJECT ? "object" : "array");
    }
    *v = x;
    return ATV_OK;
}

/* containers, initContainers or ephemeralContainers of the PodSpec at
 * spec_ptr: each element an object; "image" absent: skipped, else a string. */
static enum atv_status read_containers(struct collect *c, const json_t *spec,
                                       const char *spec_ptr, const char *field,
                                       struct atv_err *err)
{
    const json_t *arr;
    char base[ATV_KUBE_MAX_POINTER + 1];
    enum atv_status rc = get_node(spec, field, JSON_ARRAY, &arr, c->at, spec_ptr, err);
    if (rc != ATV_OK || arr == NULL) {
        return rc;
    }
    (void)snprintf(base, sizeof base, "%s", spec_ptr);
    rc = atv_kube_pointer_append(base, sizeof base, field, err);
    for (size_t i = 0; rc == ATV_OK && i < json_array_size(arr); i++) {
        const json_t *el = json_array_get(arr, i);
        char ptr[ATV_KUBE_MAX_POINTER + 1], where[ATV_KUBE_WHERE];
        char name[254];
        (void)snprintf(ptr, sizeof ptr, "%s", base);
        rc = ptr_index(ptr, sizeof ptr, i, err);
        if (rc != ATV_OK) {
            break;
        }
        if (!json_is_object(el)) {
            rc = atv_err_set(err, ATV_E_PARSE, "%s%s: want an object", c->at, ptr);
            break;
        }
        (void)snprintf(where, sizeof where, "%s%s", c->at, ptr);
        rc = atv_kube_str(el, "name", 0, name, sizeof name, where, NULL, err);
        if (rc != ATV_OK) {
            break;
        }
        const json_t *img = json_object_get(el, "image");
        if (img == NULL) {
            continue; /* optional in templates: a controller may fill it in */
        }
        rc = atv_kube_pointer_append(ptr, sizeof ptr, "image", err);
        if (rc != ATV_OK) {
            break;
        }
        if (!json_is_string(img)) {
            rc = atv_err_set(err, ATV_E_PARSE, "%s%s: want a string", c->at, ptr);
            break;
        }
        rc = push_image(c, json_string_value(img), json_string_length(img), ptr, field, name,
                        err);
    }
    return rc;
}

/* volumes[].image.reference (core/v1 ImageVolumeSource): volumes that are not
 * image volumes, and image volumes without a reference, are skipped. */
static enum atv_status read_volumes(struct collect *c, const json_t *spec, const char *spec_ptr,
                                    struct atv_err *err)
{
    const json_t *arr;
    char base[ATV_KUBE_MAX_POINTER + 1];
    enum atv_status rc = get_node(spec, "volumes", JSON_ARRAY, &arr, c->at, spec_ptr, err);
    if (rc != ATV_OK || arr == NULL) {
        return rc;
    }
    (void)snprintf(base, sizeof base, "%s", spec_ptr);
    rc = atv_kube_pointer_append(base, sizeof base, "volumes", err);
    for (size_t i = 0; rc == ATV_OK && i < json_array_size(arr); i++) {
        const json_t *el = json_array_get(arr, i);
        const json_t *iv;
        char ptr[ATV_KUBE_MAX_POINTER + 1], where[ATV_KUBE_WHERE];
        char name[254];
        (void)snprintf(ptr, sizeof ptr, "%s", base);
        rc = ptr_index(ptr, sizeof ptr, i, err);
        if (rc != ATV_OK) {
            break;
        }
        if (!json_is_object(el)) {
            rc = atv_err_set(err, ATV_E_PARSE, "%s%s: want an object", c->at, ptr);
            break;
        }
        (void)snprintf(where, sizeof where, "%s%s", c->at, ptr);
        rc = atv_kube_str(el, "name", 0, name, sizeof name, where, NULL, err);
        if (rc == ATV_OK) {
            rc = get_node(el, "image", JSON_OBJECT, &iv, c->at, ptr, err);
        }
        if (rc != ATV_OK || iv == NULL) {
            continue;
        }
        const json_t *ref = json_object_get(iv, "reference");
        if (ref == NULL) {
            continue;
        }
        rc = atv_kube_pointer_append(ptr, sizeof ptr, "image", err);
        if (rc == ATV_OK) {
            rc = atv_kube_pointer_append(ptr, sizeof ptr, "reference", err);
        }
        if (rc != ATV_OK) {
            break;
        }
        if (!json_is_string(ref)) {
            rc = atv_err_set(err, ATV_E_PARSE, "%s%s: want a string", c->at, ptr);
            break;
        }
        rc = push_image(c, json_string_value(ref), json_string_length(ref), ptr, "volumes", name,
                        err);
    }
    return rc;
}

/* The digest an imageID names (kube.h, atv_kube_image.running), or "". */
static void running_digest(const char *id, size_t n, char out[72])
{
    static const char pre[] = "sha256:";
    const char *d = id;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (id[i] == '@') {
            d = id + i + 1;
        }
    }
    size_t dn = n - (size_t)(d - id);
    /* OCI image-spec descriptor.md: sha256 encoded is /[a-f0-9]{64}/ */
    if (dn != sizeof pre - 1 + 64 || strncmp(d, pre, sizeof pre - 1) != 0) {
        return;
    }
    for (size_t i = sizeof pre - 1; i < dn; i++) {
        char h = d[i];
        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'))) {
            return;
        }
    }
    memcpy(out, d, dn);
    out[dn] = '\0';
}

/* status.containerStatuses etc. of a Pod (core/v1 ContainerStatus: name,
 * imageID): every entry an object with string name and imageID when present;
 * then each image of the matching field takes the first entry of its name. */
static enum atv_status read_status(struct collect *c, const json_t *obj, struct atv_err *err)
{
    static const char *const lists[][2] = {
        {"containers", "containerStatuses"},
        {"initContainers", "initContainerStatuses"},
        {"ephemeralContainers", "ephemeralContainerStatuses"},
    };
    const json_t *st;
    enum atv_status rc = get_node(obj, "status", JSON_OBJECT, &st, c->at, "", err);
    if (rc != ATV_OK || st == NULL) {
        return rc;
    }
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        const json_t *arr;
        rc = get_node(st, lists[l][1], JSON_ARRAY, &arr, c->at, "/status", err);
        if (rc != ATV_OK) {
            return rc;
        }
        if (arr == NULL) {
            continue;
        }
        size_t m = json_array_size(arr);
        if (m > ATV_KUBE_MAX_IMAGES) {
            return atv_err_set(err, ATV_E_LIMIT, "%s/status/%s: %zu entries, cap %u", c->at,
                               lists[l][1], m, ATV_KUBE_MAX_IMAGES);
        }
        /* Types first, so that what an entry holds is checked whether or not
         * an image refers to it. */
        for (size_t i = 0; i < m; i++) {
            const json_t *e = json_array_get(arr, i);
            const json_t *name, *id;
            if (!json_is_object(e)) {
                return atv_err_set(err, ATV_E_PARSE, "%s/status/%s/%zu: want an object", c->at,
                                   lists[l][1], i);
            }
            name = json_object_get(e, "name");
            id = json_object_get(e, "imageID");
            if (name != NULL && !json_is_string(name)) {
                return atv_err_set(err, ATV_E_PARSE, "%s/status/%s/%zu/name: want a string",
                                   c->at, lists[l][1], i);
            }
            if (id != NULL && !json_is_string(id)) {
                return atv_err_set(err, ATV_E_PARSE, "%s/status/%s/%zu/imageID: want a string",
                                   c->at, lists[l][1], i);
            }
        }
        for (size_t j = 0; j < c->out->n; j++) {
            struct atv_kube_image *im = &c->out->items[j];
            if (strcmp(im->field, lists[l][0]) != 0 || im->name[0] == '\0') {
                continue;
            }
            for (size_t i = 0; i < m; i++) {
                const json_t *e = json_array_get(arr, i);
                const json_t *name = json_object_get(e, "name");
                const json_t *id = json_object_get(e, "imageID");
                if (name == NULL || strcmp(json_string_value(name), im->name) != 0) {
                    continue;
                }
                if (id != NULL) {
                    running_digest(json_string_value(id), json_string_length(id), im->running);
                }
                break;
            }
        }
    }
    return ATV_OK;
}

/* metadata.name and metadata.namespace; metadata absent or null: none. */
static enum atv_status read_metadata(const json_t *obj, struct atv_kube_images *out,
                                     const char *at, struct atv_err *err)
{
    const json_t *md;
    char where[ATV_KUBE_WHERE];
    enum atv_status rc = get_node(obj, "metadata", JSON_OBJECT, &md, at, "", err);
    if (rc != ATV_OK || md == NULL) {
        return rc;
    }
    (void)snprintf(where, sizeof where, "%s/metadata", at);
    rc = atv_kube_str(md, "name", 0, out->name, sizeof out->name, where, NULL, err);
    if (rc == ATV_OK) {
        rc = atv_kube_str(md, "namespace", 0, out->ns, sizeof out->ns, where, NULL, err);
    }
    return rc;
}

/* Copies a default into a field that was absent. */
static enum atv_status set_default(char *dst, size_t cap, const char *dflt, const char *at,
                                   const char *key, struct atv_err *err)
{
    if (dflt == NULL || dst[0] != '\0') {
        return ATV_OK;
    }
    size_t n = strlen(dflt);
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "%s/%s: %zu bytes, cap %zu", at, key, n, cap - 1);
    }
    memcpy(dst, dflt, n + 1);
    return ATV_OK;
}

enum atv_status atv_kube_read_object(const json_t *obj, const char *at, const char *dflt_api,
                                     const char *dflt_kind, struct atv_kube_images *out,
                                     struct atv_err *err)
{
    char api[64] = "";
    const struct kind_def *def = NULL;
    const json_t *spec = obj;
    char spec_ptr[ATV_KUBE_MAX_POINTER + 1] = "";
    struct collect c = {out, 0, at};
    int have_kind = 0, have_api = 0;
    enum atv_status rc;

    memset(out, 0, sizeof *out);
    rc = atv_kube_str(obj, "kind", 0, out->kind, sizeof out->kind, at, &have_kind, err);
    if (rc == ATV_OK) {
        rc = atv_kube_str(obj, "apiVersion", 0, api, sizeof api, at, &have_api, err);
    }
    if (rc == ATV_OK && !have_kind) {
        rc = set_default(out->kind, sizeof out->kind, dflt_kind, at, "kind", err);
    }
    if (rc == ATV_OK && !have_api) {
        rc = set_default(api, sizeof api, dflt_api, at, "apiVersion", err);
    }
    if (rc == ATV_OK) {
        rc = read_metadata(obj, out, at, err);
    }
    if (rc == ATV_OK) {
        rc = find_kind(out->kind, api, at, &def, err);
    }
    if (rc != ATV_OK || def == NULL) {
        return rc;
    }
    out->known_kind = 1;
    /* Down to the PodSpec; anything absent or null on the way: no images
     * (a Pod's status is still checked). */
    for (size_t i = 0; spec != NULL && def->path[i] != NULL; i++) {
        const json_t *next;
        rc = get_node(spec, def->path[i], JSON_OBJECT, &next, at, spec_ptr, err);
        if (rc == ATV_OK) {
            rc = atv_kube_pointer_append(spec_ptr, sizeof spec_ptr, def->path[i], err);
        }
        if (rc != ATV_OK) {
            return rc;
        }
        spec = next;
    }
    if (spec == NULL) {
        return def->pod ? read_status(&c, obj, err) : ATV_OK;
    }
    rc = read_containers(&c, spec, spec_ptr, "containers", err);
    if (rc == ATV_OK) {
        rc = read_containers(&c, spec, spec_ptr, "initContainers", err);
    }
    if (rc == ATV_OK) {
        rc = read_containers(&c, spec, spec_ptr, "ephemeralContainers", err);
    }
    if (rc == ATV_OK) {
        rc = read_volumes(&c, spec, spec_ptr, err);
    }
    if (rc == ATV_OK && def->pod) {
        rc = read_status(&c, obj, err);
    }
    return rc;
}

/* ---- public ----------------------------------------------------------------- */

void atv_kube_images_cleanup(struct atv_kube_images *x)
{
    if (x == NULL) {
        return;
    }
    free(x->items);
    memset(x, 0, sizeof *x);
}

enum atv_status atv_kube_object_images(struct atv_bytes json, struct atv_kube_images *out,
                                       struct atv_err *err)
{
    json_t *root = NULL;
    enum atv_status rc;

    if (out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "kube object: NULL output");
    }
    memset(out, 0, sizeof *out);
    rc = atv_kube_load(json, "kube object", &root, err);
    if (rc == ATV_OK) {
        rc = atv_kube_read_object(root, "", NULL, NULL, out, err);
    }
    json_decref(root);
    if (rc != ATV_OK) {
        atv_kube_images_cleanup(out);
    }
    return rc;
}

/* "List", or a kind ending in "List" ("PodList"): *item_kind is what its
 * items are when they do not say ("Pod"; "" for a plain List). */
static int is_list(const char *kind, char *item_kind, size_t cap)
{
    size_t n = strlen(kind);
    if (n < 4 || strcmp(kind + n - 4, "List") != 0) {
        return 0;
    }
    /* n - 4 < sizeof atv_kube_images.kind == cap */
    (void)snprintf(item_kind, cap, "%.*s", (int)(n - 4), kind);
    return 1;
}

enum atv_status atv_kube_doc_each(struct atv_bytes json, atv_kube_each_fn fn, void *ctx,
                                  struct atv_err *err)
{
    json_t *root = NULL;
    struct atv_kube_images imgs;
    char kind[64], api[64], item_kind[64];
    enum atv_status rc;

    memset(&imgs, 0, sizeof imgs);
    if (fn == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "kube document: NULL callback");
    }
    rc = atv_kube_load(json, "kube document", &root, err);
    if (rc == ATV_OK) {
        rc = atv_kube_str(root, "kind", 0, kind, sizeof kind, "", NULL, err);
    }
    if (rc == ATV_OK) {
        rc = atv_kube_str(root, "apiVersion", 0, api, sizeof api, "", NULL, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (!is_list(kind, item_kind, sizeof item_kind)) {
        rc = atv_kube_read_object(root, "", NULL, NULL, &imgs, err);
        if (rc == ATV_OK) {
            rc = fn(ctx, &imgs, err);
            if (rc != ATV_OK) {
                (void)atv_err_set(err, rc, "kube document: stopped by the callback");
            }
        }
        goto out;
    }
    const json_t *items;
    rc = get_node(root, "items", JSON_ARRAY, &items, "", "", err);
    for (size_t i = 0; rc == ATV_OK && items != NULL && i < json_array_size(items); i++) {
        const json_t *el = json_array_get(items, i);
        char at[32];
        (void)snprintf(at, sizeof at, "/items/%zu", i);
        if (!json_is_object(el)) {
            rc = atv_err_set(err, ATV_E_PARSE, "%s: want an object", at);
            break;
        }
        /* A typed list's items may omit kind and apiVersion (the API server's
         * own list answers do); a plain List's items must say. */
        int typed = item_kind[0] != '\0';
        rc = atv_kube_read_object(el, at, typed && api[0] != '\0' ? api : NULL,
                                  typed ? item_kind : NULL, &imgs, err);
        if (rc == ATV_OK) {
            rc = fn(ctx, &imgs, err);
            if (rc != ATV_OK) {
                (void)atv_err_set(err, rc, "%s: stopped by the callback", at);
            }
        }
        atv_kube_images_cleanup(&imgs);
    }
out:
    atv_kube_images_cleanup(&imgs);
    json_decref(root);
    return rc;
}
