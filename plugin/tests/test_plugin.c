/* plugin/: the Ratify envelope. Protocol errors and their codes, the echo of
 * name and type, BAD_REQUEST for wrongly typed fields, one line of JSON with
 * string/boolean extensions, and the prepared TIMEOUT line. No servers: the
 * registry named in the subject refuses connections. */
#include "plugin/plugin.h"

#include "common/test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SUBJ "127.0.0.1:1/atv/app@sha256:a33953238ff0c338ef47f101891e5ccef7cd448a60f9c714d36ebc7ed3a0e381"
#define DESC                                                                                       \
    "\"referenceDesc\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","            \
    "\"digest\":\"sha256:41f57327e01a930da2cb37e4019801e0a4d7f806c37c0edd2d63c5790ced096b\","     \
    "\"size\":734,\"artifactType\":\"application/vnd.atproto.signature.v1+json\"}"
#define STORE "\"storeConfig\":{\"version\":\"1.0.0\",\"pluginBinDirs\":null,"                  \
              "\"store\":{\"name\":\"oras\",\"useHttp\":true}}"

static void env(const char *cmd, const char *subject, const char *version)
{
    (void)unsetenv("RATIFY_VERIFIER_COMMAND");
    (void)unsetenv("RATIFY_VERIFIER_SUBJECT");
    (void)unsetenv("RATIFY_VERIFIER_VERSION");
    if (cmd != NULL) {
        (void)setenv("RATIFY_VERIFIER_COMMAND", cmd, 1);
    }
    if (subject != NULL) {
        (void)setenv("RATIFY_VERIFIER_SUBJECT", subject, 1);
    }
    if (version != NULL) {
        (void)setenv("RATIFY_VERIFIER_VERSION", version, 1);
    }
}

/* Runs one invocation; returns the exit code and the parsed output line. */
static int invoke(const char *in, json_t **outj, char **logs)
{
    struct atv_buf out;
    FILE *log = tmpfile();
    json_error_t jerr;
    long n;
    int code;

    atv_buf_init(&out, 1u << 20);
    code = atv_plugin_run(atv_bytes_str(in), &out, log);
    *outj = json_loadb((const char *)out.ptr, out.len, JSON_REJECT_DUPLICATES, &jerr);
    /* exactly one line: no newline inside the document */
    CHECK(out.len > 0 && memchr(out.ptr, '\n', out.len) == NULL);
    n = ftell(log);
    *logs = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(log);
    if (n > 0 && *logs != NULL && fread(*logs, 1, (size_t)n, log) != (size_t)n) {
        (*logs)[0] = '\0';
    }
    (void)fclose(log);
    atv_buf_cleanup(&out);
    return code;
}

static void check_protocol_error(const char *in, int want_code)
{
    json_t *o = NULL;
    char *logs = NULL;
    int code = invoke(in, &o, &logs);
    CHECK_EQ(code, 1);
    CHECK_MSG(json_integer_value(json_object_get(o, "code")) == want_code &&
                  json_is_string(json_object_get(o, "msg")),
              "protocol error code %d", want_code);
    json_decref(o);
    free(logs);
}

static void test_protocol_errors(void)
{
    const char *req = "{\"config\":{\"name\":\"atproto\"}," STORE "," DESC "}";

    env(NULL, SUBJ, "1.0.0");
    check_protocol_error(req, 4);
    env("VERIFY", NULL, "1.0.0");
    check_protocol_error(req, 4);
    env("VERIFY", SUBJ, NULL);
    check_protocol_error(req, 4);
    env("VERIFY", "", "1.0.0");
    check_protocol_error(req, 4);
    env("LIST", SUBJ, "1.0.0");
    check_protocol_error(req, 3);
    env("VERIFY", SUBJ, "3.0.0");
    check_protocol_error(req, 6);
    env("VERIFY", SUBJ, "1.0.0");
    check_protocol_error("", 1);
    check_protocol_error("not json", 1);
    check_protocol_error("[]", 1);
    check_protocol_error("{\"config\":[]}", 1);
    check_protocol_error("{\"config\":{},\"config\":{}}", 1);
    check_protocol_error("{\"storeConfig\":{}}", 1);
}

/* Checks the VerifierResult shape; returns extensions.reason (borrowed from o). */
static const char *check_result(json_t *o, const char *name, const char *type)
{
    json_t *ext = json_object_get(o, "extensions");
    const char *k;
    json_t *v;
    int scalar = 1;

    CHECK(json_is_false(json_object_get(o, "isSuccess")));
    CHECK_STR(json_string_value(json_object_get(o, "name")) ? json_string_value(json_object_get(o, "name")) : "", name);
    CHECK_STR(json_string_value(json_object_get(o, "type")) ? json_string_value(json_object_get(o, "type")) : "", type);
    CHECK(json_is_string(json_object_get(o, "verifierName")));
    CHECK(json_is_string(json_object_get(o, "message")));
    CHECK(json_is_object(ext));
    json_object_foreach(ext, k, v)
    {
        scalar &= json_is_string(v) || json_is_boolean(v);
    }
    CHECK_MSG(scalar, "extensions hold strings and booleans only");
    return json_string_value(json_object_get(ext, "reason"));
}

static void test_verdicts(void)
{
    json_t *o = NULL;
    char *logs = NULL;
    const char *reason;

    env("VERIFY", SUBJ, "1.0.0");
    /* K8s mode: name and type given */
    CHECK_EQ(invoke("{\"config\":{\"name\":\"verifier-atproto\",\"type\":\"atproto\","
                    "\"trustedDIDs\":[\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\"],\"timeoutMs\":800,"
                    "\"cacheDir\":\"/tmp/atv-test-plugin-cache\",\"bogus\":1}," STORE "," DESC
                    "}",
                    &o, &logs),
             0);
    reason = check_result(o, "verifier-atproto", "atproto");
    CHECK_STR(reason != NULL ? reason : "", "REGISTRY_ERROR");
    CHECK_MSG(strstr(logs, "warn: atproto: unknown parameters ignored: bogus\n") != NULL,
              "unknown parameter warned about");
    CHECK(strchr(logs, '{') == NULL);
    json_decref(o);
    free(logs);

    /* CLI mode: no type, so the name is the type; version 0.1.0 */
    env("VERIFY", SUBJ, "0.1.0");
    CHECK_EQ(invoke("{\"config\":{\"name\":\"atproto\"}," STORE "," DESC "}", &o, &logs), 0);
    (void)check_result(o, "atproto", "atproto");
    json_decref(o);
    free(logs);

    /* wrongly typed fields: a clear BAD_REQUEST naming the field */
    static const char *const bad[] = {
        "{\"config\":{\"name\":\"a\",\"timeoutMs\":\"fast\"}," STORE "," DESC "}",
        "{\"config\":{\"name\":\"a\",\"trustedDIDs\":\"did:plc:x\"}," STORE "," DESC "}",
        "{\"config\":{\"name\":\"a\"}," DESC "}",
        "{\"config\":{\"name\":\"a\"}," STORE "}",
        "{\"config\":{\"name\":\"a\"},\"storeConfig\":{\"store\":{\"name\":\"oras\","
        "\"useHttp\":\"yes\"}}," DESC "}",
        "{\"config\":{\"name\":\"a\"}," STORE ",\"referenceDesc\":{\"digest\":7}}",
        "{\"config\":{\"name\":\"a\"}," STORE ",\"referenceDesc\":{\"digest\":\"sha256:00\","
        "\"size\":1}}",
        "{\"config\":{\"name\":\"a\"}," STORE ",\"referenceDesc\":{\"digest\":\"sha256:"
        "41f57327e01a930da2cb37e4019801e0a4d7f806c37c0edd2d63c5790ced096b\",\"size\":-1}}",
        "{\"config\":{\"name\":7}," STORE "," DESC "}",
    };
    size_t i;
    env("VERIFY", SUBJ, "1.0.0");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(invoke(bad[i], &o, &logs), 0);
        reason = json_string_value(
            json_object_get(json_object_get(o, "extensions"), "reason"));
        CHECK_MSG(reason != NULL && strcmp(reason, "BAD_REQUEST") == 0 &&
                      json_is_false(json_object_get(o, "isSuccess")),
                  "bad request %zu: %s", i, reason != NULL ? reason : "(none)");
        json_decref(o);
        free(logs);
    }

    /* braces in what we echo never reach a log line */
    env("VERIFY", "127.0.0.1:1/a{b}/app:v1", "1.0.0");
    CHECK_EQ(invoke("{\"config\":{\"name\":\"n{}\"}," STORE "," DESC "}", &o, &logs), 0);
    CHECK(json_is_false(json_object_get(o, "isSuccess")));
    CHECK_MSG(strchr(logs, '{') == NULL && strchr(logs, '}') == NULL, "logs: %.200s", logs);
    json_decref(o);
    free(logs);
}

static void test_timeout_line(void)
{
    struct atv_plugin_req *req = NULL;
    struct atv_buf out, line;
    json_t *o;

    env("VERIFY", SUBJ, "1.0.0");
    atv_buf_init(&out, 4096);
    atv_buf_init(&line, 4096);
    CHECK_EQ(atv_plugin_parse(atv_bytes_str("{\"config\":{\"name\":\"v\",\"type\":\"atproto\","
                                            "\"timeoutMs\":1234}," STORE "," DESC "}"),
                              &req, &out),
             0);
    CHECK(req != NULL && atv_plugin_timeout_ms(req) == 1234u);
    CHECK_EQ(atv_plugin_timeout_line(req, &line), 0);
    o = json_loadb((const char *)line.ptr, line.len, 0, NULL);
    CHECK(json_is_false(json_object_get(o, "isSuccess")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(o, "extensions"), "reason")),
              "TIMEOUT");
    CHECK_STR(json_string_value(json_object_get(o, "name")), "v");
    json_decref(o);
    atv_plugin_req_free(req);
    atv_buf_cleanup(&out);
    atv_buf_cleanup(&line);
}

int main(void)
{
    test_protocol_errors();
    test_verdicts();
    test_timeout_line();
    return atv_test_done();
}
