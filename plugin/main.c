/* atproto: the Ratify v1.x verifier plugin. Only this file writes stdout:
 * exactly one JSON line, always newline-terminated.
 *
 * A watchdog guards the deadline: Ratify SIGKILLs a plugin at its request
 * deadline (about 4.9 s with Helm defaults) and then reports a bare plugin
 * failure. Every network step already shares one deadline, but should
 * anything outlast it, SIGALRM prints a prepared TIMEOUT verdict (one
 * write(2), async-signal-safe) and exits 0. */
#include "common/limits.h"
#include "plugin/plugin.h"

#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef ATV_VERSION
#define ATV_VERSION "0.0.0"
#endif

/* after the request's timeoutMs, the watchdog's own grace */
#define WATCHDOG_GRACE_MS 200u

static const char usage[] =
    "usage: atproto   (run by Ratify: env RATIFY_VERIFIER_COMMAND=VERIFY,\n"
    "                  RATIFY_VERIFIER_SUBJECT, RATIFY_VERIFIER_VERSION; request on stdin)\n"
    "\n"
    "The Ratify v1.x verifier plugin for ATProto signatures of container images.\n"
    "Prints one JSON VerifierResult line on stdout (exit 0), or a protocol error\n"
    "{\"code\":N,\"msg\":...} (exit 1). Logs go to stderr.\n"
    "Parameters (Verifier CR spec.parameters): trustedDIDs, trustPolicy, plcDirectory,\n"
    "cacheDir, didCacheTTL, timeoutMs, collections, verifyHandle, plcAuditLog,\n"
    "allowLoopbackHTTP, caFile, bundleDir, bundleMaxAge;\n"
    "see README.md.\n"
    "\n"
    "  -h, --help     show this help\n"
    "  -V, --version  show the version\n";

static struct atv_buf timeout_line;
static volatile sig_atomic_t answered;

static void on_alarm(int sig)
{
    ssize_t w;
    (void)sig;
    if (!answered && timeout_line.len > 0) {
        answered = 1;
        w = write(STDOUT_FILENO, timeout_line.ptr, timeout_line.len);
        (void)w;
    }
    _exit(0);
}

static void arm(uint32_t ms)
{
    struct sigaction sa;
    struct itimerval it;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGALRM, &sa, NULL);
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)(ms / 1000u);
    it.it_value.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
    (void)setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    (void)setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    struct atv_plugin_req *req = NULL;
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
    (void)signal(SIGPIPE, SIG_IGN);
    atv_err_clear(&err);
    atv_buf_init(&in, ATV_MAX_STDIN);
    atv_buf_init(&out, ATV_MAX_STDIN);
    atv_buf_init(&timeout_line, ATV_MAX_STDIN);
    if (atv_buf_read_fd(&in, STDIN_FILENO, &err) != ATV_OK) {
        fprintf(stdout, "{\"code\":5,\"msg\":\"cannot read the request on stdin (at most %u "
                        "bytes)\"}\n",
                ATV_MAX_STDIN);
        atv_buf_cleanup(&in);
        return 1;
    }
    code = atv_plugin_parse(atv_buf_view(&in), &req, &out);
    if (code == 0) {
        if (atv_plugin_timeout_line(req, &timeout_line) == 0 &&
            atv_buf_push(&timeout_line, '\n', NULL) == ATV_OK) {
            arm(atv_plugin_timeout_ms(req) + WATCHDOG_GRACE_MS);
        }
        code = atv_plugin_verify(req, &out, stderr);
        disarm();
    }
    if (!answered) {
        answered = 1;
        fwrite(out.ptr != NULL ? (const void *)out.ptr : "", 1, out.len, stdout);
        fputc('\n', stdout);
        (void)fflush(stdout);
    }
    atv_plugin_req_free(req);
    atv_buf_cleanup(&in);
    atv_buf_cleanup(&out);
    atv_buf_cleanup(&timeout_line);
    return code;
}
