/* fuzz/fuzz_plugin_request.c: the Ratify plugin request on stdin.
 *
 * Target functions: atv_plugin_parse, atv_plugin_timeout_ms,
 * atv_plugin_timeout_line, atv_plugin_req_free.
 *
 * The environment Ratify sets (RATIFY_VERIFIER_COMMAND, _SUBJECT, _VERSION)
 * is set once in LLVMFuzzerInitialize; the input is the stdin JSON. A
 * request either parses (exit code 0) or yields one protocol-error line
 * (exit code 1, no request). atv_plugin_verify is NOT called: it performs
 * network I/O. No I/O. */
#include "fuzz/fuzz.h"

#include "plugin/plugin.h"

#include <stdlib.h>

#define FZ_OUT_MAX (64u << 10)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FZ_CHECK(setenv("RATIFY_VERIFIER_COMMAND", "VERIFY", 1) == 0);
    FZ_CHECK(setenv("RATIFY_VERIFIER_SUBJECT",
                    "localhost:5000/atv/app@sha256:"
                    "289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28",
                    1) == 0);
    FZ_CHECK(setenv("RATIFY_VERIFIER_VERSION", "1.0.0", 1) == 0);
    FZ_CHECK(setenv("RATIFY_LOG_LEVEL", "debug", 1) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_plugin_req *req = NULL;
    struct atv_buf out, line;
    int code;

    atv_buf_init(&out, FZ_OUT_MAX);
    atv_buf_init(&line, FZ_OUT_MAX);
    code = atv_plugin_parse((struct atv_bytes){data, size}, &req, &out);
    if (code == 0) {
        uint32_t ms;
        FZ_CHECK(req != NULL);
        ms = atv_plugin_timeout_ms(req);
        FZ_CHECK(ms > 0 && ms <= 60000u);
        FZ_CHECK(atv_plugin_timeout_line(req, &line) == 0);
        FZ_CHECK(line.len > 0 && line.ptr[0] == '{');
        FZ_CHECK(memchr(line.ptr, '\n', line.len) == NULL ||
                 memchr(line.ptr, '\n', line.len) == line.ptr + line.len - 1);
    } else {
        FZ_CHECK(code == 1 && req == NULL);
        FZ_CHECK(out.len > 0 && out.ptr[0] == '{');
    }
    atv_plugin_req_free(req);
    atv_buf_cleanup(&out);
    atv_buf_cleanup(&line);
    return 0;
}
