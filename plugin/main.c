/* atproto: the Ratify v1.x verifier plugin. Only this file writes stdout:
 * exactly one JSON line, always newline-terminated. */
#include "common/limits.h"
#include "plugin/plugin.h"

#include <string.h>
#include <unistd.h>

#ifndef ATV_VERSION
#define ATV_VERSION "0.0.0"
#endif

static const char usage[] =
    "usage: atproto   (run by Ratify: env RATIFY_VERIFIER_COMMAND=VERIFY,\n"
    "                  RATIFY_VERIFIER_SUBJECT, RATIFY_VERIFIER_VERSION; request on stdin)\n"
    "\n"
    "The Ratify v1.x verifier plugin for ATProto signatures of container images.\n"
    "Prints one JSON VerifierResult line on stdout (exit 0), or a protocol error\n"
    "{\"code\":N,\"msg\":...} (exit 1). Logs go to stderr.\n"
    "\n"
    "  -h, --help     show this help\n"
    "  -V, --version  show the version\n";

int main(int argc, char **argv)
{
    struct atv_buf in, out;
    struct atv_err err;
    int code;

    if (argc > 1) {
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
            printf("atproto %s\n", ATV_VERSION);
            return 0;
        }
        fputs(usage, stderr);
        return 2;
    }
    atv_err_clear(&err);
    atv_buf_init(&in, ATV_MAX_STDIN);
    atv_buf_init(&out, ATV_MAX_STDIN);
    if (atv_buf_read_fd(&in, STDIN_FILENO, &err) != ATV_OK) {
        fprintf(stdout, "{\"code\":5,\"msg\":\"cannot read the request on stdin\"}\n");
        atv_buf_cleanup(&in);
        return 1;
    }
    code = atv_plugin_run(atv_buf_view(&in), &out, stderr);
    fwrite(out.ptr != NULL ? (const void *)out.ptr : "", 1, out.len, stdout);
    fputc('\n', stdout);
    atv_buf_cleanup(&in);
    atv_buf_cleanup(&out);
    return code;
}
