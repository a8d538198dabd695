/* verify/params.c: the plugin's parameters, from the Verifier CR's
 * `parameters` (they arrive inside the request's `config`) or from
 * atcr-verify's --config file. One reader for both, so one configuration
 * means the same thing everywhere. */
#include "verify/verify.h"

#include "atproto/atproto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void atv_vfy_params_init(struct atv_vfy_params *p)
{
    const char *tmp = getenv("TMPDIR");
    memset(p, 0, sizeof *p);
    (void)snprintf(p->plc, sizeof p->plc, "%s", ATV_DEFAULT_PLC_URL);
    if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 512) {
        tmp = "/tmp";
    }
    /* per user: the cache refuses files another uid owns anyway, and a
     * shared name would let one user's directory block another's cache */
    (void)snprintf(p->cache_dir, sizeof p->cache_dir, "%s/atproto-verifier-%lu", tmp,
                   (unsigned long)getuid());
    p->did_cache_ttl_s = ATV_VFY_DEFAULT_TTL_S;
    p->timeout_ms = ATV_VFY_DEFAULT_TIMEOUT_MS;
    p->verify_handle = 1;
    p->plc_audit_log = ATV_VFY_DEFAULT_PLC_AUDIT_LOG;
    p->bundle_max_age_s = ATV_VFY_DEFAULT_BUNDLE_MAX_AGE_S;
}

static void free_list(char **v, size_t *n)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        free(v[i]);
        v[i] = NULL;
    }
    *n = 0;
}

void atv_vfy_params_cleanup(struct atv_vfy_params *p)
{
    if (p == NULL) {
        return;
    }
    free_list(p->trusted_dids, &p->n_trusted);
    free_list(p->collections, &p->n_collections);
}

typedef enum atv_status (*item_check)(const char *s, size_t n, struct atv_err *err);

static enum atv_status read_list(const char *key, json_t *v, item_check check, char **list,
                                 size_t *n, struct atv_err *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v)) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: want an array of strings", key);
    }
    if (json_array_size(v) > ATV_VFY_MAX_LIST) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: %zu entries, at most %u", key,
                           json_array_size(v), ATV_VFY_MAX_LIST);
    }
    free_list(list, n);
    json_array_foreach(v, i, item)
    {
        const char *s = json_string_value(item);
        struct atv_err e2;
        if (s == NULL) {
            return atv_err_set(err, ATV_E_PARSE, "parameter %s[%zu]: want a string", key, i);
        }
        atv_err_clear(&e2);
        if (check(s, json_string_length(item), &e2) != ATV_OK ||
            strlen(s) != json_string_length(item)) {
            return atv_err_set(err, ATV_E_PARSE, "parameter %s[%zu]: %s", key, i,
                               e2.msg[0] != '\0' ? e2.msg : "embedded NUL");
        }
        list[*n] = strdup(s);
        if (list[*n] == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "parameter %s: out of memory", key);
        }
        (*n)++;
    }
    return ATV_OK;
}

static enum atv_status read_path(const char *key, json_t *v, char *out, size_t cap,
                                 struct atv_err *err)
{
    const char *s = json_string_value(v);
    if (s == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: want a string", key);
    }
    if (s[0] != '/' || strlen(s) != json_string_length(v)) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: want an absolute path", key);
    }
    if (strlen(s) >= cap) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: %zu bytes, at most %zu", key,
                           strlen(s), cap - 1);
    }
    (void)snprintf(out, cap, "%s", s);
    return ATV_OK;
}

static enum atv_status read_uint(const char *key, json_t *v, json_int_t lo, json_int_t hi,
                                 uint32_t *out, struct atv_err *err)
{
    json_int_t x;
    if (!json_is_integer(v)) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: want an integer", key);
    }
    x = json_integer_value(v);
    if (x < lo || x > hi) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: %lld is outside %lld..%lld", key,
                           (long long)x, (long long)lo, (long long)hi);
    }
    *out = (uint32_t)x;
    return ATV_OK;
}

static enum atv_status read_bool(const char *key, json_t *v, int *out, struct atv_err *err)
{
    if (!json_is_boolean(v)) {
        return atv_err_set(err, ATV_E_PARSE, "parameter %s: want true or false", key);
    }
    *out = json_is_true(v) ? 1 : 0;
    return ATV_OK;
}

static enum atv_status read_plc(json_t *v, char *out, size_t cap, struct atv_err *err)
{
    const char *s = json_string_value(v);
    size_t n;
    if (s == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "parameter plcDirectory: want a string");
    }
    n = strlen(s);
    if (n != json_string_length(v) ||
        (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)) {
        return atv_err_set(err, ATV_E_PARSE,
                           "parameter plcDirectory: want an https:// (or loopback http://) URL");
    }
    /* {plcDirectory}/{did}: one trailing slash is a common way to write a base URL */
    while (n > 0 && s[n - 1] == '/') {
        n--;
    }
    if (n >= cap || n > ATV_MAX_URL - ATV_MAX_DID - 1) {
        return atv_err_set(err, ATV_E_PARSE, "parameter plcDirectory: %zu bytes is too long", n);
    }
    (void)snprintf(out, cap, "%.*s", (int)n, s);
    return ATV_OK;
}

static void note_unknown(struct atv_vfy_params *p, const char *key)
{
    size_t used = strlen(p->unknown);
    size_t need = strlen(key) + (used > 0 ? 2 : 0);
    if (used + need + 4 >= sizeof p->unknown) {
        if (used + 4 < sizeof p->unknown && strstr(p->unknown, "...") == NULL) {
            (void)snprintf(p->unknown + used, sizeof p->unknown - used, "...");
        }
        return;
    }
    (void)snprintf(p->unknown + used, sizeof p->unknown - used, "%s%s", used > 0 ? ", " : "",
                   key);
}

static int ratify_key(const char *k)
{
    /* keys Ratify itself sets or interprets in a verifier config
     * (ratify-protocol.md section 1.3) */
    static const char *const keys[] = {"name", "type", "artifactTypes", "nestedReferences",
                                       "source", "version"};
    size_t i;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(k, keys[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static enum atv_status nsid_check(const char *s, size_t n, struct atv_err *err)
{
    return atv_atp_nsid_check(s, n, err);
}

static enum atv_status did_check(const char *s, size_t n, struct atv_err *err)
{
    return atv_atp_did_check(s, n, err);
}

static enum atv_status read_key(struct atv_vfy_params *p, const char *k, json_t *v,
                                struct atv_err *err)
{
    if (strcmp(k, "trustedDIDs") == 0) {
        p->has_trusted = 1;
        return read_list(k, v, did_check, p->trusted_dids, &p->n_trusted, err);
    }
    if (strcmp(k, "collections") == 0) {
        enum atv_status rc = read_list(k, v, nsid_check, p->collections, &p->n_collections, err);
        if (rc == ATV_OK && p->n_collections == 0) {
            rc = atv_err_set(err, ATV_E_PARSE, "parameter collections: must not be empty");
        }
        return rc;
    }
    if (strcmp(k, "trustPolicy") == 0) {
        return read_path(k, v, p->trust_policy, sizeof p->trust_policy, err);
    }
    if (strcmp(k, "cacheDir") == 0) {
        return read_path(k, v, p->cache_dir, sizeof p->cache_dir, err);
    }
    if (strcmp(k, "bundleDir") == 0) {
        return read_path(k, v, p->bundle_dir, sizeof p->bundle_dir, err);
    }
    if (strcmp(k, "caFile") == 0) {
        return read_path(k, v, p->ca_file, sizeof p->ca_file, err);
    }
    if (strcmp(k, "plcDirectory") == 0) {
        return read_plc(v, p->plc, sizeof p->plc, err);
    }
    if (strcmp(k, "didCacheTTL") == 0) {
        return read_uint(k, v, 0, 7 * 86400, &p->did_cache_ttl_s, err);
    }
    if (strcmp(k, "bundleMaxAge") == 0) {
        return read_uint(k, v, ATV_VFY_MIN_BUNDLE_MAX_AGE_S, ATV_VFY_MAX_BUNDLE_MAX_AGE_S,
                         &p->bundle_max_age_s, err);
    }
    if (strcmp(k, "timeoutMs") == 0) {
        return read_uint(k, v, 1, ATV_VFY_MAX_TIMEOUT_MS, &p->timeout_ms, err);
    }
    if (strcmp(k, "verifyHandle") == 0) {
        return read_bool(k, v, &p->verify_handle, err);
    }
    if (strcmp(k, "allowLoopbackHTTP") == 0) {
        return read_bool(k, v, &p->allow_loopback_http, err);
    }
    if (strcmp(k, "plcAuditLog") == 0) {
        return read_bool(k, v, &p->plc_audit_log, err);
    }
    if (!ratify_key(k)) {
        note_unknown(p, k);
    }
    return ATV_OK;
}

enum atv_status atv_vfy_params_parse(struct atv_bytes json, struct atv_vfy_params *p,
                                     struct atv_err *err)
{
    json_error_t jerr;
    json_t *root = NULL, *v;
    const char *k;
    enum atv_status rc = ATV_OK;

    root = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "parameters: not JSON (line %d column %d)",
                           jerr.line, jerr.column);
    }
    if (!json_is_object(root)) {
        rc = atv_err_set(err, ATV_E_PARSE, "parameters: want a JSON object");
        goto out;
    }
    json_object_foreach(root, k, v)
    {
        rc = read_key(p, k, v, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}
