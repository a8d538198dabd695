/* cli/containerd.c: atcr-verify containerd-verifier, containerd 2.x's image-verifier hook.
 *
 * containerd's io.containerd.image-verifier.v1.bindir plugin
 * (pkg/imageverifier/bindir/bindir.go) runs every executable of its bin_dir
 * before a transfer-service pull as
 *
 *   ENTRY -name REF -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json
 *
 * with the resolved descriptor as one JSON document on stdin. Exit 0 allows
 * the pull; any other exit blocks it, with the first 32 KiB of stdout as the
 * reason; stderr is only logged at debug level; at per_verifier_timeout
 * (default 10 s) the process group is SIGKILLed and the pull fails with
 * "signal: killed", no reason given.
 *
 * So this command: parses containerd's flags itself (Go's flag package
 * accepts -x v, -x=v, --x v and --x=v, and so do we, for our own options
 * too), tolerating a flag it does not know (a future containerd flag must
 * not block every pull); reads the descriptor with a cap and a deadline;
 * asks the image verdict (verify/) for HOST/REPO@DIGEST, never the tag again;
 * optionally asks an `atcr-verify serve` first (--server), falling back to
 * verifying here within what is left of the deadline; and always answers one
 * line on stdout before the deadline: a watchdog timer answers for it if a
 * step ever overran. Every check and decision is verify/'s. */
#include "cli/cli_internal.h"

#include "common/http.h"
#include "common/limits.h"
#include "referrer/referrer.h"
#include "verify/verify.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CTRD_CMD "containerd-verifier"
#define CTRD_STDIN_MEDIA_TYPE "application/vnd.oci.descriptor.v1+json"
/* The whole run's deadline unless --timeout (or the config's timeoutMs) says
 * otherwise: under containerd's default per_verifier_timeout of 10 s. */
#define CTRD_DEFAULT_TIMEOUT_MS 8000u
/* The answer on stdout, newline included (containerd keeps 32 KiB). */
#define CTRD_MAX_LINE 4096u
/* Our own options forwarded to the image options' parser. */
#define CTRD_MAX_FWD 64u
/* How long past the deadline the watchdog waits for the run to answer. */
#define CTRD_WATCHDOG_GRACE_MS 500u

static const char usage_containerd[] =
    "usage: atcr-verify containerd-verifier [OPTIONS] -name REF -digest DIGEST\n"
    "                                       -stdin-media-type " CTRD_STDIN_MEDIA_TYPE "\n"
    "\n"
    "containerd 2.x's image verifier (bin_dir of io.containerd.image-verifier.v1.bindir):\n"
    "containerd runs it before a transfer-service pull (ctr image pull; CRI pulls from\n"
    "containerd 2.1 on) with the descriptor the reference resolved to on stdin. It\n"
    "verifies HOST/REPOSITORY@DIGEST (REF's tag is never resolved again) with the image\n"
    "verdict of `atcr-verify IMAGE`: the same policy, minSignatures, index rule and\n"
    "`signature: false` scopes. Install a one-line wrapper in bin_dir, e.g.\n"
    "  #!/bin/sh\n"
    "  exec /usr/local/bin/atcr-verify containerd-verifier \\\n"
    "      --config /etc/atcr-verify/node.json \"$@\"\n"
    "and nothing else there (containerd blocks every pull on a non-executable entry).\n"
    "\n"
    "containerd's flags (-x v, -x=v, --x v and --x=v all work, for ours too):\n"
    "  -name REF                the reference containerd resolved (its registry and\n"
    "                           repository are used; a digest in it must be DIGEST)\n"
    "  -digest DIGEST           the digest it resolved to; the descriptor's must match\n"
    "  -stdin-media-type TYPE   must be " CTRD_STDIN_MEDIA_TYPE "\n"
    "  An unknown flag is ignored with a note on stderr; it takes the next token as its\n"
    "  value unless that token starts with '-'.\n"
    "Our options:\n"
    "  --config FILE            the Ratify plugin's parameters as JSON (trustedDIDs or\n"
    "                           trustPolicy, plcDirectory, cacheDir, ...); flags win\n"
    "  --timeout MS             deadline of the whole run, 1..60000 (8000); keep it at\n"
    "                           least 1 s under containerd's per_verifier_timeout (10s)\n"
    "  --docker-config FILE     registry credentials (default $DOCKER_CONFIG/config.json,\n"
    "                           then ~/.docker/config.json of containerd's environment)\n"
    "  --insecure-http          plain HTTP to the registry; without it plain HTTP is used\n"
    "                           only for loopback registries on a port other than 443\n"
    "                           (containerd's own rule for localhost)\n"
    "  --server URL             ask an `atcr-verify serve` (GET URL/verify) first: one\n"
    "                           verification for a whole fleet. 200 allows, 403 refuses;\n"
    "                           anything else, or no answer in time, and the node\n"
    "                           verifies by itself with what is left of the deadline\n"
    "  --server-ca FILE         the only CA the server's certificate is checked against\n"
    "                           (without it: the system's CAs)\n"
    "  --server-timeout MS      the server's share of the deadline (half of it)\n"
    "  --trusted-did, --policy, --plc, --cache-dir, --did-cache-ttl, --collection,\n"
    "  --no-verify-handle, --plc-audit-log, --no-plc-audit-log, --allow-loopback-http,\n"
    "  --ca-file, --bundle-dir, --bundle-max-age, -v: as for `atcr-verify IMAGE --help`\n"
    "\n"
    "Output: one line of at most 4 KiB on stdout (containerd's reason):\n"
    "  allowed: REF@DIGEST policy P signers DID(HANDLE),...\n"
    "  refused: REASON: MESSAGE\n"
    "  error: ...\n"
    "Exit status: 0 allowed; 1 refused (NO_SIGNATURE and POLICY_DENIED included); 2 a\n"
    "usage, protocol or configuration error, or a failure a retry could change.\n";

/* ---- the line on stdout ------------------------------------------------------------------ */

struct line {
    char s[CTRD_MAX_LINE];
    size_t len; /* at most CTRD_MAX_LINE - 2: room for "\n" and the terminator */
    int truncated;
};

static void line_reset(struct line *l)
{
    l->len = 0;
    l->truncated = 0;
    l->s[0] = '\0';
}

/* Appends s, control characters replaced by '?', so that the reason stays one line. */
static void line_add(struct line *l, const char *s)
{
    const size_t room = CTRD_MAX_LINE - 2;
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (l->len >= room) {
            l->truncated = 1;
            break;
        }
        l->s[l->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    l->s[l->len] = '\0';
}

static void line_addf(struct line *l, const char *fmt, ...) ATV_PRINTF(2, 3);
static void line_addf(struct line *l, const char *fmt, ...)
{
    char buf[CTRD_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof buf) {
        l->truncated = 1;
    }
    line_add(l, buf);
}

static void line_set(struct line *l, const char *prefix, const char *msg)
{
    line_reset(l);
    line_add(l, prefix);
    line_add(l, msg);
}

/* Writes the line (ending in "..." when it was cut) and a newline. */
static void line_print(struct line *l, FILE *out)
{
    if (l->truncated && l->len >= 3) {
        memcpy(l->s + l->len - 3, "...", 3);
    }
    fprintf(out, "%s\n", l->s);
    (void)fflush(out);
}

/* ---- the watchdog --------------------------------------------------------------------------
 * containerd SIGKILLs a verifier at per_verifier_timeout and then gives no
 * reason at all. Every step below honours the deadline; should one ever
 * overrun it, this answers for the run: one line, exit 2 (write(2) and
 * _exit(2) only: async-signal-safe). */
static char wd_msg[256];
static size_t wd_len;
static int wd_fd = -1;

static void wd_fire(int sig)
{
    (void)sig;
    if (wd_fd >= 0) {
        ssize_t n = write(wd_fd, wd_msg, wd_len);
        (void)n;
    }
    _exit(ATV_CLI_USAGE);
}

static void wd_arm(FILE *out, uint32_t ms, uint32_t timeout_ms)
{
    struct itimerval it;
    struct sigaction sa;
    int n;

    wd_fd = fileno(out);
    if (wd_fd < 0) {
        return; /* not a file descriptor (a test's memory stream): no watchdog */
    }
    n = snprintf(wd_msg, sizeof wd_msg,
                 "error: TIMEOUT (transient): no verdict within the deadline of %u ms\n",
                 (unsigned)timeout_ms);
    wd_len = n > 0 && (size_t)n < sizeof wd_msg ? (size_t)n : 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wd_fire;
    (void)sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0) {
        return;
    }
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)(ms / 1000u);
    it.it_value.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
    (void)setitimer(ITIMER_REAL, &it, NULL);
}

static void wd_disarm(void)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    (void)setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- argv ----------------------------------------------------------------------------------
 * Go's flag package (what containerd's own tools use, and what its docs call
 * the specification of this interface) accepts -x v, -x=v, --x v and --x=v;
 * "--" ends the flags. Our options get the same treatment, then go to the
 * image options' parser as --x=v. */

enum flag_kind {
    F_NAME,
    F_DIGEST,
    F_MEDIA_TYPE,
    F_FWD,      /* one of atcr-verify IMAGE's options, with a value */
    F_FWD_BOOL, /* the same, without */
    F_SERVER,
    F_SERVER_CA,
    F_SERVER_TIMEOUT,
    F_VERBOSE,
    F_HELP
};

struct flag {
    const char *name;
    enum flag_kind kind;
};

static const struct flag flags[] = {
    {"name", F_NAME},
    {"digest", F_DIGEST},
    {"stdin-media-type", F_MEDIA_TYPE},
    {"config", F_FWD},
    {"timeout", F_FWD},
    {"docker-config", F_FWD},
    {"insecure-http", F_FWD_BOOL},
    {"trusted-did", F_FWD},
    {"policy", F_FWD},
    {"plc", F_FWD},
    {"cache-dir", F_FWD},
    {"did-cache-ttl", F_FWD},
    {"collection", F_FWD},
    {"no-verify-handle", F_FWD_BOOL},
    {"plc-audit-log", F_FWD_BOOL},
    {"no-plc-audit-log", F_FWD_BOOL},
    {"allow-loopback-http", F_FWD_BOOL},
    {"ca-file", F_FWD},
    {"bundle-dir", F_FWD},
    {"bundle-max-age", F_FWD},
    {"server", F_SERVER},
    {"server-ca", F_SERVER_CA},
    {"server-timeout", F_SERVER_TIMEOUT},
    {"verbose", F_VERBOSE},
    {"v", F_VERBOSE},
    {"help", F_HELP},
    {"h", F_HELP},
    {NULL, F_HELP},
};

struct ctrd_args {
    const char *name, *digest, *media_type; /* borrow argv */
    const char *server, *server_ca;
    uint32_t server_timeout_ms; /* 0: half of what is left */
    int help;
    int fwd_argc;
    char *fwd[CTRD_MAX_FWD + 2]; /* [0] the command, then "--x=v" (new), NULL-terminated */
};

static void args_cleanup(struct ctrd_args *a)
{
    int i;
    for (i = 1; i < a->fwd_argc; i++) {
        free(a->fwd[i]);
        a->fwd[i] = NULL;
    }
}

static const struct flag *flag_find(const char *name, size_t n)
{
    size_t i;
    for (i = 0; flags[i].name != NULL; i++) {
        if (strlen(flags[i].name) == n && strncmp(flags[i].name, name, n) == 0) {
            return &flags[i];
        }
    }
    return NULL;
}

/* A decimal in [lo, hi], digits only. */
static int parse_ms(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint32_t v = 0;
    size_t i;
    if (s[0] == '\0' || strlen(s) > 6) {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    if (v < lo || v > hi) {
        return 0;
    }
    *out = v;
    return 1;
}

/* Queues "--NAME" or "--NAME=VALUE" for the image options' parser. */
static int fwd_add(struct ctrd_args *a, const char *name, const char *value, struct line *msg)
{
    size_t n = strlen(name) + 3 + (value != NULL ? strlen(value) + 1 : 0);
    char *tok;
    if (a->fwd_argc >= (int)CTRD_MAX_FWD + 1) {
        line_set(msg, "error: usage: ", "too many options");
        return 0;
    }
    tok = malloc(n);
    if (tok == NULL) {
        line_set(msg, "error: ", "out of memory");
        return 0;
    }
    (void)snprintf(tok, n, "--%s%s%s", name, value != NULL ? "=" : "", value != NULL ? value : "");
    a->fwd[a->fwd_argc++] = tok;
    a->fwd[a->fwd_argc] = NULL;
    return 1;
}

/* Applies one known flag and its value (NULL for a boolean). 0 after msg. */
static int flag_apply(struct ctrd_args *a, const struct flag *f, const char *v, struct line *msg)
{
    const char **slot = NULL;
    switch (f->kind) {
    case F_NAME:
        slot = &a->name;
        break;
    case F_DIGEST:
        slot = &a->digest;
        break;
    case F_MEDIA_TYPE:
        slot = &a->media_type;
        break;
    case F_SERVER:
        a->server = v;
        return 1;
    case F_SERVER_CA:
        a->server_ca = v;
        return 1;
    case F_SERVER_TIMEOUT:
        if (!parse_ms(v, 1, ATV_VFY_MAX_TIMEOUT_MS, &a->server_timeout_ms)) {
            line_set(msg, "error: usage: ", "--server-timeout: 1..60000 ms");
            return 0;
        }
        return 1;
    case F_FWD:
    case F_FWD_BOOL:
        return fwd_add(a, f->name, v, msg);
    case F_VERBOSE:
        return fwd_add(a, "verbose", NULL, msg);
    case F_HELP:
        a->help = 1;
        return 1;
    default:
        line_set(msg, "error: ", "internal: unknown flag kind");
        return 0;
    }
    /* containerd's own flags: once each, so that no one can wonder which counted */
    if (*slot != NULL) {
        line_reset(msg);
        line_addf(msg, "error: usage: -%s given twice", f->name);
        return 0;
    }
    *slot = v;
    return 1;
}

/* Parses argv (argv[0] the command). Returns 1, or 0 with msg set. Notes on errs. */
static int args_parse(int argc, char **argv, struct ctrd_args *a, struct line *msg, FILE *errs)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *t = argv[i], *name, *eq, *v = NULL;
        const struct flag *f;
        size_t n;

        if (strlen(t) > ATV_MAX_ARG) {
            line_reset(msg);
            line_addf(msg, "error: usage: argument %d: over %u bytes", i, ATV_MAX_ARG);
            return 0;
        }
        if (strcmp(t, "--") == 0) {
            /* Go's flag: the end of the flags; containerd sends no arguments */
            if (i + 1 < argc) {
                fprintf(errs, "warn: " CTRD_CMD ": ignoring %d argument%s after --\n",
                        argc - i - 1, argc - i - 1 == 1 ? "" : "s");
            }
            return 1;
        }
        if (t[0] != '-' || t[1] == '\0') {
            fprintf(errs, "warn: " CTRD_CMD ": ignoring argument %d (%zu bytes): not a flag\n", i,
                    strlen(t));
            continue;
        }
        name = t[1] == '-' ? t + 2 : t + 1;
        eq = strchr(name, '=');
        n = eq != NULL ? (size_t)(eq - name) : strlen(name);
        if (n == 0 || name[0] == '-') {
            /* Go's flag: "bad flag syntax" */
            line_reset(msg);
            line_addf(msg, "error: usage: argument %d: bad flag syntax", i);
            return 0;
        }
        f = flag_find(name, n);
        if (f == NULL) {
            /* a flag a later containerd may send: it must not block every pull */
            int takes = eq == NULL && i + 1 < argc && argv[i + 1][0] != '-';
            fprintf(errs, "warn: " CTRD_CMD ": ignoring unknown flag -%.*s%s\n",
                    (int)(n > 64 ? 64 : n), name, takes ? " and its value" : "");
            i += takes ? 1 : 0;
            continue;
        }
        if (f->kind == F_FWD_BOOL || f->kind == F_VERBOSE || f->kind == F_HELP) {
            /* Go's boolean flags: -x or -x=true / -x=false, never the next token */
            if (eq != NULL && strcmp(eq + 1, "false") == 0) {
                continue;
            }
            if (eq != NULL && strcmp(eq + 1, "true") != 0) {
                line_reset(msg);
                line_addf(msg, "error: usage: -%s takes no value (or =true, =false)", f->name);
                return 0;
            }
        } else if (eq != NULL) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            line_reset(msg);
            line_addf(msg, "error: usage: -%s needs a value", f->name);
            return 0;
        }
        if (!flag_apply(a, f, v, msg)) {
            return 0;
        }
    }
    return 1;
}

/* Our options through atv_cli_parse_opts (CLI_MODE_NODE), its messages kept
 * for the line as well as for errs. Returns -1 to go on, else an exit code. */
static int parse_own(struct ctrd_args *a, struct image_opts *o, struct line *msg, FILE *out,
                     FILE *errs)
{
    char *text = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&text, &len);
    int code;

    if (ms == NULL) {
        line_set(msg, "error: ", "out of memory");
        return ATV_CLI_USAGE;
    }
    code = atv_cli_parse_opts(a->fwd_argc, a->fwd, CTRD_CMD, usage_containerd, CLI_MODE_NODE,
                              NULL, o, out, ms);
    (void)fclose(ms);
    if (text != NULL && len > 0) {
        fputs(text, errs);
        if (code >= 0) {
            char *nl = strchr(text, '\n');
            if (nl != NULL) {
                *nl = '\0';
            }
            line_set(msg, "error: usage: ", text);
        }
    } else if (code >= 0) {
        line_set(msg, "error: usage: ", "bad option");
    }
    free(text);
    return code;
}

/* ---- stdin: the descriptor ------------------------------------------------------------------ */

/* Reads fd to its end: at most max bytes, by deadline_ms (CLOCK_MONOTONIC ms). */
static enum atv_status read_stdin(int fd, uint64_t deadline_ms, struct atv_buf *b,
                                  struct atv_err *err)
{
    uint8_t chunk[4096];
    for (;;) {
        uint64_t now = atv_vfy_clock_ms();
        struct pollfd p;
        ssize_t n;
        int r;

        if (now >= deadline_ms) {
            (void)atv_err_setr(err, ATV_E_IO, "timeout",
                               "stdin: the descriptor did not end within the deadline (%zu "
                               "bytes read)",
                               b->len);
            atv_err_transient(err);
            return ATV_E_IO;
        }
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, deadline_ms - now > INT_MAX ? INT_MAX : (int)(deadline_ms - now));
        if (r < 0 && errno != EINTR) {
            return atv_err_set(err, ATV_E_IO, "stdin: poll: %s", strerror(errno));
        }
        if (r <= 0) {
            continue;
        }
        n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return atv_err_set(err, ATV_E_IO, "stdin: %s", strerror(errno));
        }
        if (n == 0) {
            return ATV_OK;
        }
        if (atv_buf_append(b, chunk, (size_t)n, err) != ATV_OK) {
            atv_err_clear(err);
            return atv_err_set(err, ATV_E_LIMIT, "stdin: over %zu bytes", b->max);
        }
    }
}

/* The OCI descriptor (image-spec descriptor.md) containerd writes: an object
 * with mediaType (string), digest (atv_ref_digest_check) and size (integer
 * >= 0); other members (annotations, urls, platform) are ignored. Its digest
 * must be want. */
static enum atv_status descriptor_check(struct atv_bytes body, const char *want,
                                        struct atv_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *mt, *dg, *sz;
    enum atv_status rc = ATV_E_PARSE;

    if (root == NULL) {
        (void)atv_err_set(err, ATV_E_PARSE, "descriptor: not JSON (line %d column %d)",
                          jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        (void)atv_err_set(err, ATV_E_PARSE, "descriptor: want a JSON object");
        goto out;
    }
    mt = json_object_get(root, "mediaType");
    dg = json_object_get(root, "digest");
    sz = json_object_get(root, "size");
    if (!json_is_string(mt) || json_string_length(mt) == 0 ||
        json_string_length(mt) > ATV_REF_MAX_MEDIA_TYPE) {
        (void)atv_err_set(err, ATV_E_PARSE, "descriptor.mediaType: want a media type");
        goto out;
    }
    if (!json_is_string(dg) || atv_ref_digest_check(json_string_value(dg), err) != ATV_OK) {
        atv_err_clear(err);
        (void)atv_err_set(err, ATV_E_PARSE,
                          "descriptor.digest: want sha256: and 64 lower-case hex digits");
        goto out;
    }
    if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
        (void)atv_err_set(err, ATV_E_PARSE, "descriptor.size: want an integer >= 0");
        goto out;
    }
    if (strcmp(json_string_value(dg), want) != 0) {
        (void)atv_err_set(err, ATV_E_VERIFY, "descriptor.digest %.19s... is not -digest %.19s...",
                          json_string_value(dg), want);
        goto out;
    }
    rc = ATV_OK;
out:
    json_decref(root);
    return rc;
}

/* ---- the subject --------------------------------------------------------------------------- */

/* HOST/REPOSITORY@DIGEST from -name and -digest, and whether the registry is
 * reached over plain HTTP: with --insecure-http, or (containerd's rule for
 * localhost, core/remotes/docker/config) when the host is loopback and the
 * port is not 443. Returns 1, or 0 with msg set. */
static int subject_make(const char *name, const char *digest, struct image_opts *o,
                        char *subject, size_t cap, struct line *msg)
{
    struct atv_ref_image img;
    struct atv_err err;
    char url[ATV_REF_MAX_HOST + 16];
    int n;

    atv_err_clear(&err);
    if (atv_ref_digest_check(digest, &err) != ATV_OK) {
        line_set(msg, "error: usage: -digest: ", "want sha256: and 64 lower-case hex digits");
        return 0;
    }
    if (atv_ref_image_parse(name, o->store.use_http, &img, &err) != ATV_OK) {
        line_set(msg, "error: usage: -name: ", err.msg);
        return 0;
    }
    if (img.digest[0] != '\0' && strcmp(img.digest, digest) != 0) {
        line_set(msg, "error: usage: ", "-name holds a digest other than -digest");
        return 0;
    }
    if (!o->store.use_http && strcmp(img.registry, "docker.io") != 0) {
        /* the port as written: parsing dropped a default ":443" */
        const char *slash = strchr(name, '/');
        size_t hl = slash != NULL ? (size_t)(slash - name) : 0;
        int https_port = hl > 4 && strncmp(name + hl - 4, ":443", 4) == 0;
        n = snprintf(url, sizeof url, "http://%s/", img.registry);
        if (!https_port && n > 0 && (size_t)n < sizeof url && atv_http_host_is_loopback(url)) {
            o->store.use_http = 1;
            /* parsed again: under plain HTTP the default port is 80 */
            if (atv_ref_image_parse(name, 1, &img, &err) != ATV_OK) {
                line_set(msg, "error: usage: -name: ", err.msg);
                return 0;
            }
        }
    }
    n = snprintf(subject, cap, "%s@%s", img.name, digest);
    if (n < 0 || (size_t)n >= cap) {
        line_set(msg, "error: usage: ", "-name: too long");
        return 0;
    }
    return 1;
}

/* ---- verdicts into the line ---------------------------------------------------------------- */

static void line_signer(struct line *l, size_t i, const char *did, const char *handle)
{
    line_add(l, i > 0 ? "," : "");
    line_add(l, did);
    if (handle != NULL && handle[0] != '\0') {
        line_addf(l, "(%s)", handle);
    }
}

/* The line and exit code of a local image verdict. */
static int line_from_verdict(const struct atv_vfy_image *v, const char *subject, struct line *l)
{
    int code = atv_cli_verdict_exit(v);
    size_t i;

    line_reset(l);
    if (code == ATV_CLI_OK) {
        line_addf(l, "allowed: %s policy %s signers ", subject,
                  v->policy[0] != '\0' ? v->policy : "(none)");
        for (i = 0; i < v->n_signers; i++) {
            line_signer(l, i, v->signers[i].did, v->signers[i].handle);
        }
        line_add(l, v->n_signers == 0 ? "none" : "");
        if (v->no_signature_required) {
            line_add(l, " (no signature required)");
        } else if (v->audit) {
            line_addf(l, " (audit, not met: %s: ", atv_vfy_reason_name(v->reason));
            line_add(l, v->message);
            line_add(l, ")");
        }
    } else if (code == ATV_CLI_REJECT) {
        line_addf(l, "refused: %s: ", atv_vfy_reason_name(v->reason));
        line_add(l, v->message);
    } else {
        line_addf(l, "error: %s%s: ", atv_vfy_reason_name(v->reason),
                  v->transient ? " (transient)" : "");
        line_add(l, v->message);
    }
    return code;
}

static void request_init(struct atv_vfy_request *rq, const struct image_opts *o,
                         const char *subject, const struct atv_vfy_log *lg,
                         const struct atv_vfy_bundle *offline, uint64_t deadline_ms)
{
    memset(rq, 0, sizeof *rq);
    rq->subject = subject;
    rq->params = &o->params;
    rq->store = &o->store;
    rq->now = (int64_t)time(NULL);
    rq->log = lg;
    rq->offline = offline;
    rq->deadline_ms = deadline_ms;
}

/* ---- --server ------------------------------------------------------------------------------- */

/* Percent-encodes s (RFC 3986 section 2.1; unreserved characters kept) after
 * out's len. 0 when it does not fit. */
static int pct_encode(const char *s, char *out, size_t cap, size_t *len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';
        size_t need = keep ? 1 : 3;
        if (cap - *len <= need) {
            return 0;
        }
        if (keep) {
            out[(*len)++] = (char)c;
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[c >> 4];
            out[(*len)++] = hex[c & 15];
        }
    }
    out[*len] = '\0';
    return 1;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The server's verdict (atv_vfy_image_json's shape) into the line: 200 with
 * allowed true, or 403 with allowed false and transient false, about the
 * image asked (its echo of `image`, and `digest` when it names one). Returns
 * the exit code, or -1 when the answer is not a definite verdict. */
static int line_from_server(long status, struct atv_bytes body, const char *subject,
                            const char *digest, struct line *l, FILE *errs)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *allowed, *transient, *audit, *signers, *s;
    const char *image, *dg, *reason, *message, *policy;
    int code = -1;
    size_t i, n = 0;

    if (!json_is_object(root)) {
        fprintf(errs, "warn: " CTRD_CMD ": --server answered %ld without a JSON verdict\n",
                status);
        goto out;
    }
    allowed = json_object_get(root, "allowed");
    transient = json_object_get(root, "transient");
    audit = json_object_get(root, "audit");
    signers = json_object_get(root, "signers");
    image = jstr(root, "image");
    dg = jstr(root, "digest");
    reason = jstr(root, "reason");
    message = jstr(root, "message");
    policy = jstr(root, "policy");
    if (!json_is_boolean(allowed) || !json_is_boolean(transient) || reason == NULL ||
        message == NULL || image == NULL || strcmp(image, subject) != 0 ||
        (dg != NULL && dg[0] != '\0' && strcmp(dg, digest) != 0) ||
        (signers != NULL && !json_is_array(signers))) {
        fprintf(errs, "warn: " CTRD_CMD ": --server answered %ld with a verdict that is not "
                      "about %s@%.19s... or not in the /verify shape\n",
                status, "this image", digest);
        goto out;
    }
    line_reset(l);
    if (status == 200 && json_is_true(allowed)) {
        line_addf(l, "allowed: %s policy ", subject);
        line_add(l, policy != NULL ? policy : "(none)");
        line_add(l, " signers ");
        json_array_foreach(signers, i, s)
        {
            const char *did = jstr(s, "did");
            if (did != NULL) {
                line_signer(l, n++, did, jstr(s, "handle"));
            }
        }
        line_add(l, n == 0 ? "none" : "");
        if (json_is_true(audit)) {
            line_addf(l, " (audit, not met: %s: %s)", reason, message);
        }
        code = ATV_CLI_OK;
    } else if (status == 403 && json_is_false(allowed) && json_is_false(transient)) {
        line_addf(l, "refused: %s: ", reason);
        line_add(l, message);
        code = ATV_CLI_REJECT;
    } else {
        fprintf(errs, "warn: " CTRD_CMD ": --server answered %ld with allowed %s\n", status,
                json_is_true(allowed) ? "true" : "false");
    }
out:
    json_decref(root);
    return code;
}

/* Asks `atcr-verify serve` for its verdict on subject within its share of
 * the deadline. Returns the exit code of a definite answer (line set), or -1:
 * verify here. */
static int ask_server(const struct ctrd_args *a, const char *subject, const char *digest,
                      uint64_t deadline_ms, struct line *l, FILE *errs)
{
    struct atv_http_opts ho;
    struct atv_http *h = NULL;
    struct atv_http_req rq;
    struct atv_http_resp resp;
    struct atv_err err;
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    char url[ATV_MAX_URL + 1];
    size_t len;
    uint64_t now = atv_vfy_clock_ms();
    uint32_t left = now < deadline_ms ? (uint32_t)(deadline_ms - now) : 0, budget;
    int code = -1, n;

    atv_err_clear(&err);
    memset(&resp, 0, sizeof resp);
    budget = a->server_timeout_ms != 0 && a->server_timeout_ms < left ? a->server_timeout_ms
                                                                        : left / 2;
    if (budget == 0) {
        goto out;
    }
    len = strlen(a->server);
    while (len > 0 && a->server[len - 1] == '/') {
        len--;
    }
    n = snprintf(url, sizeof url, "%.*s/verify?image=", (int)len, a->server);
    len = n > 0 ? (size_t)n : 0;
    if (n < 0 || (size_t)n >= sizeof url || !pct_encode(subject, url, sizeof url, &len)) {
        fprintf(errs, "warn: " CTRD_CMD ": --server: the URL would be over %u bytes\n",
                ATV_MAX_URL);
        goto out;
    }
    memset(&ho, 0, sizeof ho);
    ho.timeout_ms = budget;
    ho.ca_file = a->server_ca;
    ho.ca_only = a->server_ca != NULL;
    if (atv_http_new(&ho, &h, &err) != ATV_OK) {
        fprintf(errs, "warn: " CTRD_CMD ": --server: %s\n", err.msg);
        goto out;
    }
    memset(&rq, 0, sizeof rq);
    rq.method = "GET";
    rq.url = url;
    rq.headers = hdrs;
    rq.max_body = ATV_MAX_VERDICT_JSON;
    if (atv_http_do(h, &rq, &resp, &err) != ATV_OK) {
        fprintf(errs, "warn: " CTRD_CMD ": --server gave no answer (%u ms allowed): %s; "
                      "verifying here\n",
                budget, err.msg);
        goto out;
    }
    if (resp.status != 200 && resp.status != 403) {
        fprintf(errs, "warn: " CTRD_CMD ": --server answered %ld; verifying here\n", resp.status);
        goto out;
    }
    code = line_from_server(resp.status, atv_buf_view(&resp.body), subject, digest, l, errs);
    if (code >= 0) {
        fprintf(errs, "info: " CTRD_CMD ": the verdict of --server (HTTP %ld)\n", resp.status);
    }
out:
    atv_http_resp_cleanup(&resp);
    atv_http_free(h);
    return code;
}

/* With --server, an image the node's own policy asks no signature of (the
 * pause, CNI and system images under a catch-all `signature: false` scope)
 * is allowed here, with no network at all: the image verdict over an empty
 * offline bundle decides that before it would need any evidence. Returns
 * the exit code (line set) when it is so, else -1. */
static int local_no_signature(const struct image_opts *o, const char *subject,
                              const struct atv_vfy_log *lg, uint64_t deadline_ms,
                              struct line *l)
{
    struct atv_vfy_bundle *empty = NULL;
    struct atv_vfy_image *v = NULL;
    struct atv_vfy_request rq;
    struct atv_vfy_log quiet = *lg;
    struct atv_err err;
    int code = -1;

    if (!o->params.has_trusted && o->params.trust_policy[0] == '\0') {
        return -1; /* no trust here: the server's word, or an error */
    }
    atv_err_clear(&err);
    v = calloc(1, sizeof *v);
    if (v == NULL || atv_vfy_bundle_new(&empty, &err) != ATV_OK) {
        goto out;
    }
    quiet.quiet = 1;
    quiet.debug = 0;
    quiet.f = NULL;
    request_init(&rq, o, subject, &quiet, empty, deadline_ms);
    atv_vfy_image_run(&rq, v);
    if (v->allowed && v->no_signature_required) {
        code = line_from_verdict(v, subject, l);
    }
out:
    atv_vfy_bundle_free(empty);
    free(v);
    return code;
}

/* ---- the command --------------------------------------------------------------------------- */

int atv_cli_containerd(int argc, char **argv, FILE *out, FILE *errs)
{
    const uint64_t start = atv_vfy_clock_ms();
    struct ctrd_args a;
    struct image_opts o;
    struct atv_vfy_bundle *bundle = NULL;
    struct atv_vfy_image *v = NULL;
    struct atv_vfy_request rq;
    struct atv_vfy_log lg;
    struct atv_buf in;
    struct atv_err err;
    struct line *l = calloc(1, sizeof *l);
    char subject[ATV_MAX_URL + 80];
    uint64_t deadline;
    int code = ATV_CLI_USAGE, armed = 0;

    /* containerd may close its end of stdout after 32 KiB: an error, never a signal */
    (void)signal(SIGPIPE, SIG_IGN);
    memset(&a, 0, sizeof a);
    a.fwd[0] = argv[0];
    a.fwd_argc = 1;
    atv_cli_opts_init(&o);
    atv_buf_init(&in, ATV_MAX_DESCRIPTOR);
    atv_err_clear(&err);
    if (l == NULL) {
        fputs("error: out of memory\n", out);
        goto out;
    }
    line_reset(l);
    if (!args_parse(argc, argv, &a, l, errs)) {
        goto out;
    }
    if (a.help) {
        fputs(usage_containerd, out);
        code = ATV_CLI_OK;
        goto out;
    }
    /* reading --config or the policy could block (a FIFO, a hung mount):
     * the default deadline holds until the configured one is known */
    wd_arm(out, CTRD_DEFAULT_TIMEOUT_MS + CTRD_WATCHDOG_GRACE_MS, CTRD_DEFAULT_TIMEOUT_MS);
    armed = 1;
    o.params.timeout_ms = CTRD_DEFAULT_TIMEOUT_MS; /* --config's timeoutMs, then --timeout, win */
    code = parse_own(&a, &o, l, out, errs);
    if (code >= 0) {
        goto out;
    }
    code = ATV_CLI_USAGE;
    /* one deadline from the start of the process's work, for every step */
    deadline = start + o.params.timeout_ms;
    {
        uint64_t now = atv_vfy_clock_ms(), end = deadline + CTRD_WATCHDOG_GRACE_MS;
        wd_arm(out, end > now ? (uint32_t)(end - now) : 1u, o.params.timeout_ms);
    }
    if (a.name == NULL || a.digest == NULL || a.media_type == NULL) {
        line_set(l, "error: usage: ", "-name, -digest and -stdin-media-type are all required");
        goto out;
    }
    if (strcmp(a.media_type, CTRD_STDIN_MEDIA_TYPE) != 0) {
        line_set(l, "error: usage: ", "-stdin-media-type: want " CTRD_STDIN_MEDIA_TYPE);
        goto out;
    }
    if (a.server != NULL && strncmp(a.server, "https://", 8) != 0) {
        line_set(l, "error: usage: ", "--server: want an https:// URL");
        goto out;
    }
    if (a.server_ca != NULL && access(a.server_ca, R_OK) != 0) {
        line_set(l, "error: usage: --server-ca: ", "not readable");
        goto out;
    }
    if (!subject_make(a.name, a.digest, &o, subject, sizeof subject, l)) {
        goto out;
    }
    if (read_stdin(STDIN_FILENO, deadline, &in, &err) != ATV_OK ||
        descriptor_check(atv_buf_view(&in), a.digest, &err) != ATV_OK) {
        line_set(l, "error: protocol: ", err.msg);
        goto out;
    }
    lg.f = errs;
    lg.debug = o.verbose > 1;
    lg.quiet = o.verbose == 0;
    if (a.server != NULL) {
        code = local_no_signature(&o, subject, &lg, deadline, l);
        if (code < 0) {
            code = ask_server(&a, subject, a.digest, deadline, l, errs);
        }
        if (code >= 0) {
            goto out;
        }
        code = ATV_CLI_USAGE;
    }
    if (!atv_cli_load_offline(&o, &bundle, errs)) {
        line_set(l, "error: ", "--bundle-dir (bundleDir) could not be read");
        goto out;
    }
    v = calloc(1, sizeof *v);
    if (v == NULL) {
        line_set(l, "error: ", "out of memory");
        goto out;
    }
    request_init(&rq, &o, subject, &lg, bundle, deadline);
    atv_vfy_image_run(&rq, v);
    code = line_from_verdict(v, subject, l);
out:
    if (armed) {
        wd_disarm();
    }
    if (l != NULL && code != ATV_CLI_OK && l->len == 0) {
        line_set(l, "error: ", "no verdict (internal)");
    }
    if (l != NULL && l->len > 0) {
        line_print(l, out);
    }
    free(v);
    free(l);
    atv_vfy_bundle_free(bundle);
    atv_buf_cleanup(&in);
    atv_cli_opts_cleanup(&o);
    args_cleanup(&a);
    return code;
}
