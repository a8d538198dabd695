/* plugin/plugin.c: request in, verdict out.
 *
 * This build checks the protocol envelope only; verification lands with the
 * plugin issue. Until then every well-formed request gets a negative verdict
 * (fail closed), never a success. */
#include "plugin/plugin.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int protocol_error(struct atv_buf *out, enum atv_plugin_code code, const char *msg)
{
    json_t *o = json_pack("{s:i, s:s}", "code", (int)code, "msg", msg);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s == NULL || atv_buf_append(out, s, strlen(s), NULL) != ATV_OK) {
        out->len = 0;
    }
    free(s);
    json_decref(o);
    return 1;
}

int atv_plugin_run(struct atv_bytes stdin_bytes, struct atv_buf *out, FILE *log)
{
    const char *cmd = getenv("RATIFY_VERIFIER_COMMAND");
    const char *subject = getenv("RATIFY_VERIFIER_SUBJECT");
    const char *version = getenv("RATIFY_VERIFIER_VERSION");
    json_error_t jerr;
    json_t *req = NULL, *res = NULL;
    const char *name, *type;
    char *s = NULL;
    int code = 1;

    if (cmd == NULL || subject == NULL || version == NULL) {
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
    if (req == NULL || !json_is_object(json_object_get(req, "config"))) {
        code = protocol_error(out, ATV_PLUGIN_ERR_CONFIG_PARSING,
                              "stdin is not a request with a config object");
        goto out;
    }
    name = json_string_value(json_object_get(json_object_get(req, "config"), "name"));
    type = json_string_value(json_object_get(json_object_get(req, "config"), "type"));
    name = name != NULL ? name : "atproto";
    type = type != NULL ? type : name;
    res = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "isSuccess", 0, "name", name,
                    "type", type, "verifierName", name, "verifierType", type, "message",
                    "verification is not implemented in this build", "extensions", "reason",
                    "not_implemented");
    s = res != NULL ? json_dumps(res, JSON_COMPACT) : NULL;
    if (s == NULL || atv_buf_append(out, s, strlen(s), NULL) != ATV_OK) {
        code = protocol_error(out, ATV_PLUGIN_ERR_INTERNAL, "out of memory");
        goto out;
    }
    fprintf(log, "warn: atproto verifier: verification is not implemented in this build\n");
    code = 0;
out:
    free(s);
    json_decref(res);
    json_decref(req);
    return code;
}
