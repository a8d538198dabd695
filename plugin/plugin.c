/* plugin/plugin.c: request in, verdict out.
 *
 * The request is converted once into a typed struct (STYLE.md 18): nothing
 * past this file sees jansson. Every field error that still leaves us a name
 * and a type to answer with is a BAD_REQUEST verdict (exit 0), because
 * Ratify shows a verdict to the operator and buries a protocol error in an
 * errorReason string. */
#include "plugin/plugin.h"

#include "common/limits.h"
#include "verify/verify.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PLUGIN_MAX_NAME 253u

struct atv_plugin_req {
    char name[PLUGIN_MAX_NAME + 1];
    char type[PLUGIN_MAX_NAME + 1];
    char subject[1024];
    char sig_digest[80];
    char sig_media_type[256];
    int64_t sig_size;
    struct atv_vfy_params params;
    struct atv_vfy_store store;
    int debug;
    /* a field error found while parsing: answered as BAD_REQUEST */
    char bad[256];
};

static int protocol_error(struct atv_buf *out, enum atv_plugin_code code, const char *msg)
{
    json_t *o = json_pack("{s:i, s:s}", "code", (int)code, "msg", msg);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    out->len = 0;
    if (s == NULL || atv_buf_append(out, s, strlen(s), NULL) != ATV_OK) {
        out->len = 0;
    }
    free(s);
    json_decref(o);
    return 1;
}

/* ---- request fields --------------------------------------------------------- */

static void set_bad(struct atv_plugin_req *r, const char *msg)
{
    if (r->bad[0] == '\0') {
        (void)snprintf(r->bad, sizeof r->bad, "%s", msg);
    }
}

/* Copies an optional string field; a wrong type or an over-long value is a
 * field error. Returns 1 when present and copied. */
static int get_str(struct atv_plugin_req *r, json_t *obj, const char *key, const char *where,
                   char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    char msg[160];
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        (void)snprintf(msg, sizeof msg, "%s.%s: want a string of at most %zu bytes", where, key,
                       cap - 1);
        set_bad(r, msg);
        return 0;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

static void parse_store(struct atv_plugin_req *r, json_t *sc)
{
    json_t *store, *v, *ap;

    atv_vfy_store_init(&r->store);
    if (sc == NULL) {
        set_bad(r, "storeConfig: missing");
        return;
    }
    store = json_object_get(sc, "store");
    if (!json_is_object(sc) || !json_is_object(store)) {
        set_bad(r, "storeConfig.store: want an object");
        return;
    }
    r->store.name[0] = '\0';
    if (!get_str(r, store, "name", "storeConfig.store", r->store.name, sizeof r->store.name)) {
        set_bad(r, "storeConfig.store.name: missing");
    }
    v = json_object_get(store, "useHttp");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            set_bad(r, "storeConfig.store.useHttp: want true or false");
        }
        r->store.use_http = json_is_true(v) ? 1 : 0;
    }
    (void)get_str(r, store, "localCachePath", "storeConfig.store", r->store.local_cache_path,
                  sizeof r->store.local_cache_path);
    ap = json_object_get(store, "authProvider");
    if (ap != NULL && !json_is_null(ap)) {
        if (!json_is_object(ap)) {
            set_bad(r, "storeConfig.store.authProvider: want an object");
            return;
        }
        (void)get_str(r, ap, "name", "authProvider", r->store.auth_provider,
                      sizeof r->store.auth_provider);
        (void)get_str(r, ap, "configPath", "authProvider", r->store.config_path,
                      sizeof r->store.config_path);
    }
}

static void parse_desc(struct atv_plugin_req *r, json_t *d)
{
    json_t *size;
    if (!json_is_object(d)) {
        set_bad(r, "referenceDesc: want an object");
        return;
    }
    if (!get_str(r, d, "digest", "referenceDesc", r->sig_digest, sizeof r->sig_digest)) {
        set_bad(r, "referenceDesc.digest: missing");
    }
    (void)get_str(r, d, "mediaType", "referenceDesc", r->sig_media_type,
                  sizeof r->sig_media_type);
    size = json_object_get(d, "size");
    r->sig_size = -1;
    if (size != NULL) {
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            set_bad(r, "referenceDesc.size: want a non-negative integer");
        } else {
            r->sig_size = (int64_t)json_integer_value(size);
        }
    }
}

static void parse_params(struct atv_plugin_req *r, json_t *config)
{
    struct atv_err err;
    char *text = json_dumps(config, JSON_COMPACT);
    char msg[sizeof r->bad];

    atv_err_clear(&err);
    if (text == NULL) {
        set_bad(r, "config: out of memory");
        return;
    }
    if (atv_vfy_params_parse(atv_bytes_str(text), &r->params, &err) != ATV_OK) {
        (void)snprintf(msg, sizeof msg, "%.200s", err.msg);
        set_bad(r, msg);
    }
    free(text);
}

int atv_plugin_parse(struct atv_bytes stdin_bytes, struct atv_plugin_req **reqp,
                     struct atv_buf *out)
{
    const char *cmd = getenv("RATIFY_VERIFIER_COMMAND");
    const char *subject = getenv("RATIFY_VERIFIER_SUBJECT");
    const char *version = getenv("RATIFY_VERIFIER_VERSION");
    const char *level = getenv("RATIFY_LOG_LEVEL");
    struct atv_plugin_req *r = NULL;
    json_error_t jerr;
    json_t *req = NULL, *config;
    int code = 1;

    *reqp = NULL;
    if (cmd == NULL || cmd[0] == '\0' || subject == NULL || subject[0] == '\0' ||
        version == NULL || version[0] == '\0') {
        return protocol_error(out, ATV_PLUGIN_ERR_MISSING_ENV,
                              "missing RATIFY_VERIFIER_COMMAND, _SUBJECT or _VERSION");
    }
    if (strcmp(cmd, "VERIFY") != 0) {
        return protocol_error(out, ATV_PLUGIN_ERR_UNKNOWN_COMMAND, "unknown command, want VERIFY");
    }
    if (strcmp(version, "1.0.0") != 0 && strcmp(version, "0.1.0") != 0) {
        return protocol_error(out, ATV_PLUGIN_ERR_VERSION,
                              "unsupported plugin version, want 1.0.0 or 0.1.0");
    }
    req = json_loadb((const char *)stdin_bytes.ptr, stdin_bytes.len, JSON_REJECT_DUPLICATES,
                     &jerr);
    config = json_object_get(req, "config");
    if (req == NULL || !json_is_object(req) || !json_is_object(config)) {
        code = protocol_error(out, ATV_PLUGIN_ERR_CONFIG_PARSING,
                              "stdin is not a request with a config object");
        goto out;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        code = protocol_error(out, ATV_PLUGIN_ERR_INTERNAL, "out of memory");
        goto out;
    }
    atv_vfy_params_init(&r->params);
    r->debug = level != NULL && strcmp(level, "debug") == 0;
    if (!get_str(r, config, "name", "config", r->name, sizeof r->name)) {
        (void)snprintf(r->name, sizeof r->name, "atproto");
    }
    /* Ratify's CLI mode sends no type; its report then keys on the name */
    if (!get_str(r, config, "type", "config", r->type, sizeof r->type)) {
        memcpy(r->type, r->name, sizeof r->type);
    }
    if (strlen(subject) >= sizeof r->subject) {
        set_bad(r, "RATIFY_VERIFIER_SUBJECT: too long");
    } else {
        memcpy(r->subject, subject, strlen(subject) + 1);
    }
    parse_params(r, config);
    parse_store(r, json_object_get(req, "storeConfig"));
    parse_desc(r, json_object_get(req, "referenceDesc"));
    *reqp = r;
    r = NULL;
    code = 0;
out:
    atv_plugin_req_free(r);
    json_decref(req);
    return code;
}

void atv_plugin_req_free(struct atv_plugin_req *req)
{
    if (req != NULL) {
        atv_vfy_params_cleanup(&req->params);
        free(req);
    }
}

uint32_t atv_plugin_timeout_ms(const struct atv_plugin_req *req)
{
    return req->params.timeout_ms;
}

/* ---- the answer ----------------------------------------------------------------- */

/* The image's signers, comma-separated (Ratify extensions hold strings). */
static void signers_text(const struct atv_vfy_image *img, char *out, size_t cap)
{
    size_t i, w = 0;
    out[0] = '\0';
    for (i = 0; img != NULL && i < img->n_signers; i++) {
        int n = snprintf(out + w, cap - w, "%s%s", i > 0 ? "," : "", img->signers[i].did);
        if (n < 0 || (size_t)n >= cap - w) {
            out[w] = '\0';
            break;
        }
        w += (size_t)n;
    }
}

static int emit(const struct atv_plugin_req *r, const struct atv_vfy_result *res,
                const struct atv_vfy_image *img, struct atv_buf *out)
{
    struct atv_vfy_field f[ATV_VFY_MAX_FIELDS];
    size_t n = atv_vfy_result_fields(res, f), i;
    json_t *ext = json_object(), *o = NULL;
    char *s = NULL, signers[1024], min[16];
    int rc = -1;

    if (ext == NULL) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        /* strings and booleans only: Ratify turns numbers into floats */
        json_t *v = f[i].is_bool ? json_boolean(f[i].b) : json_string(f[i].str);
        if (v == NULL || json_object_set_new(ext, f[i].key, v) != 0) {
            goto out;
        }
    }
    signers_text(img, signers, sizeof signers);
    if (signers[0] != '\0' && json_object_set_new(ext, "signers", json_string(signers)) != 0) {
        goto out;
    }
    if (img != NULL && img->min_signatures > 0) {
        (void)snprintf(min, sizeof min, "%u", img->min_signatures);
        if (json_object_set_new(ext, "minSignatures", json_string(min)) != 0) {
            goto out;
        }
    }
    o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:O}", "isSuccess", res->success, "name",
                  r->name, "type", r->type, "verifierName", r->name, "verifierType", r->type,
                  "message", res->message, "extensions", ext);
    s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    out->len = 0;
    if (s == NULL || atv_buf_append(out, s, strlen(s), NULL) != ATV_OK) {
        goto out;
    }
    rc = 0;
out:
    free(s);
    json_decref(o);
    json_decref(ext);
    return rc;
}

int atv_plugin_timeout_line(const struct atv_plugin_req *req, struct atv_buf *out)
{
    struct atv_vfy_result res;
    memset(&res, 0, sizeof res);
    res.reason = ATV_VFY_TIMEOUT;
    res.transient = 1;
    (void)snprintf(res.message, sizeof res.message,
                   "no verdict within timeoutMs %u: failing closed", req->params.timeout_ms);
    return emit(req, &res, NULL, out);
}

/* Ratify's answer for this artifact from the image verdict: isSuccess is the
 * image's `allowed` (this artifact verified and the image is allowed, or an
 * audit policy, or nothing required); the facts are this artifact's, the
 * reason the verdict's (this artifact's own when it failed). */
static void to_result(const struct atv_vfy_image *img, struct atv_vfy_result *res)
{
    memset(res, 0, sizeof *res);
    if (img->n_artifacts > 0) {
        *res = img->artifacts[0].r;
    }
    res->success = img->allowed;
    res->reason = img->reason;
    res->audit = img->audit;
    res->transient = img->transient;
    (void)snprintf(res->detail, sizeof res->detail, "%s", img->detail);
    (void)snprintf(res->policy, sizeof res->policy, "%s", img->policy);
    /* the artifact's own words when it alone decided; the image's otherwise */
    if (!(img->met && img->n_artifacts > 0 && img->min_signatures <= 1 &&
          img->artifacts[0].r.success)) {
        (void)snprintf(res->message, sizeof res->message, "%s", img->message);
    }
}

int atv_plugin_verify(struct atv_plugin_req *r, struct atv_buf *out, FILE *log)
{
    struct atv_vfy_log lg = {log, r->debug, 0};
    struct atv_vfy_result *res = calloc(1, sizeof *res);
    struct atv_vfy_image *img = calloc(1, sizeof *img);
    struct atv_vfy_request vr;
    int code = 0;

    if (res == NULL || img == NULL) {
        free(res);
        free(img);
        return protocol_error(out, ATV_PLUGIN_ERR_INTERNAL, "out of memory");
    }
    if (r->params.unknown[0] != '\0') {
        atv_vfy_logf(&lg, ATV_VFY_WARN, "atproto: unknown parameters ignored: %s",
                     r->params.unknown);
    }
    if (r->bad[0] != '\0') {
        res->reason = ATV_VFY_BAD_REQUEST;
        (void)snprintf(res->message, sizeof res->message, "bad request: %s", r->bad);
    } else {
        memset(&vr, 0, sizeof vr);
        vr.subject = r->subject;
        vr.sig_digest = r->sig_digest;
        vr.sig_size = r->sig_size;
        vr.sig_media_type = r->sig_media_type[0] != '\0' ? r->sig_media_type : NULL;
        vr.params = &r->params;
        vr.store = &r->store;
        vr.now = (int64_t)time(NULL);
        vr.log = &lg;
        atv_vfy_image_run(&vr, img);
        to_result(img, res);
    }
    atv_vfy_logf(&lg, res->success ? ATV_VFY_INFO : ATV_VFY_WARN, "atproto: %s%s%s",
                 res->success ? "" : atv_vfy_reason_name(res->reason), res->success ? "" : ": ",
                 res->message);
    if (emit(r, res, r->bad[0] != '\0' ? NULL : img, out) != 0) {
        code = protocol_error(out, ATV_PLUGIN_ERR_INTERNAL, "cannot build the result");
    }
    free(res);
    free(img);
    return code;
}

int atv_plugin_run(struct atv_bytes stdin_bytes, struct atv_buf *out, FILE *log)
{
    struct atv_plugin_req *req = NULL;
    int code = atv_plugin_parse(stdin_bytes, &req, out);
    if (code == 0) {
        code = atv_plugin_verify(req, out, log);
    }
    atv_plugin_req_free(req);
    return code;
}
