/* referrer/manifest.c: strict OCI manifest / index parsing (jansson stays here).
 * Specs: OCI image-spec v1.1 descriptor.md, manifest.md, image-index.md. */
#include "referrer/referrer.h"
#include "referrer/ref_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Copies a JSON string member into a fixed field. required: absence is an error. */
static enum atv_status get_str(const json_t *obj, const char *key, int required, char *dst,
                               size_t cap, const char *ctx, struct atv_err *err)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (v == NULL) {
        if (required) {
            return atv_err_set(err, ATV_E_PARSE, "%s.%s: missing", ctx, key);
        }
        return ATV_OK;
    }
    if (!json_is_string(v)) {
        return atv_err_set(err, ATV_E_PARSE, "%s.%s: want a string", ctx, key);
    }
    size_t n = json_string_length(v);
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "%s.%s: %zu bytes, cap %zu", ctx, key, n, cap - 1);
    }
    const char *s = json_string_value(v);
    if (strlen(s) != n) {
        return atv_err_set(err, ATV_E_PARSE, "%s.%s: contains NUL", ctx, key);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return ATV_OK;
}

/* platform (image-spec image-index.md): optional object whose os and
 * architecture are strings; variant optional. Only what the image verdict
 * needs to tell platforms apart and skip attestations is kept. */
static enum atv_status get_platform(const json_t *o, struct atv_ref_desc *d, const char *ctx,
                                    struct atv_err *err)
{
    const json_t *p = json_object_get(o, "platform");
    char where[96];
    enum atv_status rc;
    if (p == NULL) {
        return ATV_OK;
    }
    (void)snprintf(where, sizeof where, "%s.platform", ctx);
    if (!json_is_object(p)) {
        return atv_err_set(err, ATV_E_PARSE, "%s: want an object", where);
    }
    rc = get_str(p, "os", 1, d->platform_os, sizeof d->platform_os, where, err);
    if (rc == ATV_OK) {
        rc = get_str(p, "architecture", 1, d->platform_arch, sizeof d->platform_arch, where, err);
    }
    if (rc == ATV_OK) {
        rc = get_str(p, "variant", 0, d->platform_variant, sizeof d->platform_variant, where,
                     err);
    }
    return rc;
}

/* RFC 6838 section 4.2 restricted-name "/" restricted-name (parameters are not
 * allowed in a descriptor's mediaType). */
static int media_type_ok(const char *s)
{
    size_t slash = 0, n = strlen(s);
    int have = 0;
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == '/') {
            if (have) {
                return 0;
            }
            have = 1;
            slash = i;
            continue;
        }
        if (!alnum && strchr("!#$&-^_.+", c) == NULL) {
            return 0;
        }
    }
    return have && slash > 0 && slash + 1 < n;
}

static enum atv_status dup_annotation(const json_t *v, char **dst, const char *ctx,
                                      const char *key, struct atv_err *err)
{
    size_t n = json_string_length(v);
    if (n > ATV_REF_MAX_ANNOTATION) {
        return atv_err_set(err, ATV_E_LIMIT, "%s.annotations[%s]: %zu bytes, cap %u", ctx, key, n,
                           ATV_REF_MAX_ANNOTATION);
    }
    if (strlen(json_string_value(v)) != n) {
        return atv_err_set(err, ATV_E_PARSE, "%s.annotations[%s]: contains NUL", ctx, key);
    }
    char *p = malloc(n + 1);
    if (p == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "%s.annotations: out of memory", ctx);
    }
    memcpy(p, json_string_value(v), n + 1);
    *dst = p;
    return ATV_OK;
}

/* annotations: optional map of string to string (descriptor.md, annotations.md). */
static enum atv_status get_annotations(const json_t *obj, char **did, char **pds, char **uri,
                                       const char *ctx, struct atv_err *err)
{
    const json_t *a = json_object_get(obj, "annotations");
    const char *key;
    const json_t *v;
    enum atv_status rc = ATV_OK;
    if (a == NULL) {
        return ATV_OK;
    }
    if (!json_is_object(a)) {
        return atv_err_set(err, ATV_E_PARSE, "%s.annotations: want an object", ctx);
    }
    json_object_foreach((json_t *)a, key, v) {
        if (!json_is_string(v)) {
            return atv_err_set(err, ATV_E_PARSE, "%s.annotations: every value must be a string",
                               ctx);
        }
        if (strcmp(key, ATV_REF_ANN_DID) == 0) {
            rc = dup_annotation(v, did, ctx, key, err);
        } else if (strcmp(key, ATV_REF_ANN_PDS) == 0) {
            rc = dup_annotation(v, pds, ctx, key, err);
        } else if (strcmp(key, ATV_REF_ANN_RECORD_URI) == 0) {
            rc = dup_annotation(v, uri, ctx, key, err);
        }
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

void atv_ref_desc_cleanup(struct atv_ref_desc *d)
{
    free(d->ann_did);
    free(d->ann_pds);
    free(d->ann_record_uri);
    memset(d, 0, sizeof *d);
}

/* descriptor.md: mediaType (string, REQUIRED), digest (REQUIRED), size (int64, REQUIRED). */
static enum atv_status parse_desc(const json_t *o, struct atv_ref_desc *d, const char *ctx,
                                  struct atv_err *err)
{
    enum atv_status rc;
    memset(d, 0, sizeof *d);
    if (!json_is_object(o)) {
        return atv_err_set(err, ATV_E_PARSE, "%s: want an object", ctx);
    }
    rc = get_str(o, "mediaType", 1, d->media_type, sizeof d->media_type, ctx, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (!media_type_ok(d->media_type)) {
        return atv_err_set(err, ATV_E_PARSE, "%s.mediaType: not a type/subtype", ctx);
    }
    rc = get_str(o, "digest", 1, d->digest, sizeof d->digest, ctx, err);
    if (rc == ATV_E_LIMIT) {
        atv_err_clear(err);
        return atv_err_set(err, ATV_E_PARSE, "%s.digest: too long for a sha256 digest", ctx);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    rc = atv_ref_digest_check(d->digest, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "%s", ctx);
        return rc;
    }
    const json_t *size = json_object_get(o, "size");
    if (size == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "%s.size: missing", ctx);
    }
    /* jansson gives integers only for JSON numbers without fraction or
     * exponent; 1.0 is a real and rejected here */
    if (!json_is_integer(size)) {
        return atv_err_set(err, ATV_E_PARSE, "%s.size: want an integer", ctx);
    }
    json_int_t sz = json_integer_value(size);
    if (sz < 0) {
        return atv_err_set(err, ATV_E_PARSE, "%s.size: negative", ctx);
    }
    d->size = (int64_t)sz;
    rc = get_str(o, "artifactType", 0, d->artifact_type, sizeof d->artifact_type, ctx, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (d->artifact_type[0] != '\0' && !media_type_ok(d->artifact_type)) {
        return atv_err_set(err, ATV_E_PARSE, "%s.artifactType: not a type/subtype", ctx);
    }
    rc = get_platform(o, d, ctx, err);
    if (rc != ATV_OK) {
        return rc;
    }
    return get_annotations(o, &d->ann_did, &d->ann_pds, &d->ann_record_uri, ctx, err);
}

static enum atv_status load(struct atv_bytes body, json_t **root, struct atv_err *err)
{
    json_error_t jerr;
    *root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "manifest: invalid JSON at offset %d: %.80s",
                           jerr.position, jerr.text);
    }
    if (!json_is_object(*root)) {
        return atv_err_set(err, ATV_E_PARSE, "manifest: want a JSON object");
    }
    const json_t *sv = json_object_get(*root, "schemaVersion");
    /* manifest.md / image-index.md: schemaVersion MUST be 2 */
    if (sv == NULL || !json_is_integer(sv) || json_integer_value(sv) != 2) {
        return atv_err_set(err, ATV_E_PARSE, "manifest.schemaVersion: want the integer 2");
    }
    return ATV_OK;
}

static enum atv_status manifest_parse(struct atv_bytes body, struct atv_ref_manifest *m,
                                      struct atv_err *err)
{
    json_t *root = NULL;
    enum atv_status rc = load(body, &root, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = get_str(root, "mediaType", 0, m->media_type, sizeof m->media_type, "manifest", err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (m->media_type[0] != '\0' && strcmp(m->media_type, ATV_REF_MT_OCI_MANIFEST) != 0 &&
        strcmp(m->media_type, ATV_REF_MT_DOCKER_MANIFEST) != 0) {
        rc = atv_err_set(err, ATV_E_UNSUPPORTED, "manifest.mediaType: not an image manifest");
        goto out;
    }
    rc = get_str(root, "artifactType", 0, m->artifact_type, sizeof m->artifact_type, "manifest",
                 err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (m->artifact_type[0] != '\0' && !media_type_ok(m->artifact_type)) {
        rc = atv_err_set(err, ATV_E_PARSE, "manifest.artifactType: not a type/subtype");
        goto out;
    }
    const json_t *cfg = json_object_get(root, "config");
    if (cfg == NULL) {
        rc = atv_err_set(err, ATV_E_PARSE, "manifest.config: missing");
        goto out;
    }
    rc = parse_desc(cfg, &m->config, "manifest.config", err);
    if (rc != ATV_OK) {
        goto out;
    }
    const json_t *layers = json_object_get(root, "layers");
    if (layers == NULL || !json_is_array(layers)) {
        rc = atv_err_set(err, ATV_E_PARSE, "manifest.layers: want an array");
        goto out;
    }
    size_t n = json_array_size(layers);
    if (n > ATV_REF_MAX_LAYERS) {
        rc = atv_err_set(err, ATV_E_LIMIT, "manifest.layers: %zu entries, cap %u", n,
                         ATV_REF_MAX_LAYERS);
        goto out;
    }
    if (n > 0) {
        m->layers = calloc(n, sizeof *m->layers);
        if (m->layers == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "manifest.layers: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char ctx[40];
        (void)snprintf(ctx, sizeof ctx, "manifest.layers[%zu]", i);
        m->n_layers = i + 1; /* so cleanup frees a partly filled entry */
        rc = parse_desc(json_array_get(layers, i), &m->layers[i], ctx, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    const json_t *subject = json_object_get(root, "subject");
    if (subject != NULL) {
        m->has_subject = 1;
        rc = parse_desc(subject, &m->subject, "manifest.subject", err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    rc = get_annotations(root, &m->ann_did, &m->ann_pds, &m->ann_record_uri, "manifest", err);
out:
    json_decref(root);
    return rc;
}

enum atv_status atv_ref_manifest_parse(struct atv_bytes body, struct atv_ref_manifest *out,
                                       struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    enum atv_status rc = manifest_parse(body, out, err);
    if (rc != ATV_OK) {
        atv_ref_manifest_cleanup(out);
    }
    return rc;
}

void atv_ref_manifest_cleanup(struct atv_ref_manifest *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n_layers && m->layers != NULL; i++) {
        atv_ref_desc_cleanup(&m->layers[i]);
    }
    free(m->layers);
    atv_ref_desc_cleanup(&m->config);
    atv_ref_desc_cleanup(&m->subject);
    free(m->ann_did);
    free(m->ann_pds);
    free(m->ann_record_uri);
    memset(m, 0, sizeof *m);
}

const char *atv_ref_manifest_artifact_type(const struct atv_ref_manifest *m)
{
    if (m->artifact_type[0] != '\0') {
        return m->artifact_type;
    }
    if (strcmp(m->config.media_type, ATV_REF_MT_EMPTY) != 0) {
        return m->config.media_type;
    }
    return "";
}

static enum atv_status index_parse(struct atv_bytes body, struct atv_ref_index *ix,
                                   struct atv_err *err)
{
    json_t *root = NULL;
    enum atv_status rc = load(body, &root, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = get_str(root, "mediaType", 0, ix->media_type, sizeof ix->media_type, "index", err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (ix->media_type[0] != '\0' && strcmp(ix->media_type, ATV_REF_MT_OCI_INDEX) != 0 &&
        strcmp(ix->media_type, ATV_REF_MT_DOCKER_LIST) != 0) {
        rc = atv_err_set(err, ATV_E_UNSUPPORTED, "index.mediaType: not an image index");
        goto out;
    }
    const json_t *arr = json_object_get(root, "manifests");
    if (arr == NULL || !json_is_array(arr)) {
        rc = atv_err_set(err, ATV_E_PARSE, "index.manifests: want an array");
        goto out;
    }
    size_t n = json_array_size(arr);
    if (n > ATV_REF_MAX_INDEX_ENTRIES) {
        rc = atv_err_set(err, ATV_E_LIMIT, "index.manifests: %zu entries, cap %u", n,
                         ATV_REF_MAX_INDEX_ENTRIES);
        goto out;
    }
    if (n > 0) {
        ix->manifests = calloc(n, sizeof *ix->manifests);
        if (ix->manifests == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "index.manifests: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char ctx[40];
        (void)snprintf(ctx, sizeof ctx, "index.manifests[%zu]", i);
        ix->n = i + 1;
        rc = parse_desc(json_array_get(arr, i), &ix->manifests[i], ctx, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

enum atv_status atv_ref_index_parse(struct atv_bytes body, struct atv_ref_index *out,
                                    struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    enum atv_status rc = index_parse(body, out, err);
    if (rc != ATV_OK) {
        atv_ref_index_cleanup(out);
    }
    return rc;
}

void atv_ref_index_cleanup(struct atv_ref_index *ix)
{
    if (ix == NULL) {
        return;
    }
    for (size_t i = 0; i < ix->n && ix->manifests != NULL; i++) {
        atv_ref_desc_cleanup(&ix->manifests[i]);
    }
    free(ix->manifests);
    memset(ix, 0, sizeof *ix);
}
