/* cli/image.c: atcr-verify IMAGE, discover, bundle export.
 *
 * Every check and every decision is verify/'s: this file turns flags into
 * the plugin's parameters, asks atv_vfy_image_run for the image verdict and
 * prints it (text or JSON) with its exit status. */
/* realpath(3) is XSI */
#define _XOPEN_SOURCE 700

#include "cli/cli_internal.h"

#include "atproto/atproto.h"
#include "common/limits.h"
#include "verify/verify.h"

#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_image[] =
    "usage: atcr-verify IMAGE [OPTIONS]\n"
    "       atcr-verify IMAGE --offline --bundle FILE [OPTIONS]\n"
    "\n"
    "Finds the ATProto signatures of IMAGE (OCI referrers API, else the tag-schema\n"
    "fallback), verifies them exactly as the Ratify plugin does until the trust policy\n"
    "is met (minSignatures distinct trusted DIDs, every requirement), and prints the\n"
    "image verdict: `met` (the policy holds) and `allowed` (met, or an audit policy,\n"
    "or no signature required). An image index is met by its own signatures, else\n"
    "when every platform manifest it lists is.\n"
    "\n"
    "Trust (one of):\n"
    "  --trusted-did DID        trust DID for every image (repeatable)   [trustedDIDs]\n"
    "  --policy FILE            a trust-policy file, YAML or JSON         [trustPolicy]\n"
    "Identity and network:\n"
    "  --plc URL                did:plc directory (https://plc.directory) [plcDirectory]\n"
    "  --cache-dir DIR          DID-document cache directory              [cacheDir]\n"
    "  --did-cache-ttl SECONDS  cache lifetime, 0 disables (300)          [didCacheTTL]\n"
    "  --timeout MS             deadline of the whole run (2500)          [timeoutMs]\n"
    "  --collection NSID        allowed record collection (repeatable)    [collections]\n"
    "  --no-verify-handle       do not confirm handles                    [verifyHandle]\n"
    "  --plc-audit-log          did:plc from its verified operation log   [plcAuditLog]\n"
    "  --no-plc-audit-log       did:plc from the directory's document (weaker)\n"
    "  --allow-loopback-http    plain HTTP to loopback PLC/PDS            [allowLoopbackHTTP]\n"
    "  --ca-file FILE           CA bundle for HTTPS                       [caFile]\n"
    "  --config FILE            the plugin's parameters as JSON; flags given as well win\n"
    "Registry:\n"
    "  --insecure-http          plain HTTP to the registry (a local one)\n"
    "  --docker-config FILE     credentials file (default $DOCKER_CONFIG/config.json,\n"
    "                           then ~/.docker/config.json)\n"
    "  --username USER          with --password-stdin: explicit credentials\n"
    "  --password-stdin         read the password from standard input\n"
    "Offline:\n"
    "  --offline --bundle FILE  verify from a bundle only (atcr-verify bundle export);\n"
    "                           no network traffic at all\n"
    "  --bundle-dir DIR         the same from every bundle (*.json) in DIR     [bundleDir]\n"
    "  --bundle-max-age SECONDS refuse evidence fetched longer ago, 60..31536000\n"
    "                           (604800: 7 days; 300 s of clock skew allowed) [bundleMaxAge]\n"
    "Output:\n"
    "  -o, --output text|json   a line per signature (default) or one JSON document\n"
    "  -v, --verbose            progress lines on stderr (-vv: debug lines too)\n"
    "\n"
    "Exit status: 0 allowed; 1 refused; 2 usage or configuration error, signatures\n"
    "that could not be listed, or a failure a retry could change (refused connection,\n"
    "DNS, deadline, HTTP 5xx or 429).\n";

static const char usage_discover[] =
    "usage: atcr-verify discover IMAGE [-o text|json] [registry and network options]\n"
    "\n"
    "Lists the signature artifacts (artifactType application/vnd.atproto.signature.v1+json)\n"
    "of IMAGE, like `oras discover --artifact-type ...`. Accepts the registry options of\n"
    "`atcr-verify IMAGE` (--insecure-http, --docker-config, --username, --password-stdin,\n"
    "--timeout, --ca-file, --offline --bundle, --bundle-dir, --bundle-max-age).\n"
    "\n"
    "Exit status: 0 listed (possibly none); 2 usage or operational error.\n";

static const char usage_bundle[] =
    "usage: atcr-verify bundle export IMAGE -o FILE [OPTIONS of atcr-verify IMAGE]\n"
    "\n"
    "Fetches everything a verification of IMAGE needs (the signature manifests and\n"
    "blobs, each did:plc signer's operation log, a did:web signer's DID document, the\n"
    "getRecord proofs, when each was fetched) into FILE (bundle format version 2),\n"
    "for `atcr-verify IMAGE --offline --bundle FILE` and the plugin's bundleDir.\n"
    "It collects the evidence of every signature artifact whatever the local trust;\n"
    "with --trusted-did or --policy it also prints that verdict.\n"
    "\n"
    "Exit status: 0 written and complete; 1 written but incomplete (what is missing\n"
    "is listed); 2 usage or operational error (nothing written).\n";


static int usage(FILE *errs, const char *cmd, const char *msg)
{
    fprintf(errs, "atcr-verify%s%s: %s\n", cmd[0] != '\0' ? " " : "", cmd, msg);
    fprintf(errs, "Try 'atcr-verify%s%s --help'.\n", cmd[0] != '\0' ? " " : "", cmd);
    return ATV_CLI_USAGE;
}

/* Feeds one parameter to the plugin's own parser, so flag and parameter
 * mean the same thing; value_json is the JSON text of the value. */
static int set_param(struct image_opts *o, const char *key, const char *value_json, FILE *errs,
                     const char *cmd)
{
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    json_t *obj = json_object();
    char *text = NULL;
    struct atv_err err;
    int ok = 0;

    atv_err_clear(&err);
    if (v != NULL && obj != NULL && json_object_set_new(obj, key, v) == 0) {
        v = NULL;
        text = json_dumps(obj, JSON_COMPACT);
        ok = text != NULL &&
             atv_vfy_params_parse(atv_bytes_str(text), &o->params, &err) == ATV_OK;
    }
    json_decref(v);
    json_decref(obj);
    free(text);
    if (!ok) {
        fprintf(errs, "atcr-verify%s%s: %s\n", cmd[0] != '\0' ? " " : "", cmd,
                err.msg[0] != '\0' ? err.msg : "bad option value");
    }
    return ok;
}

static int set_str(struct image_opts *o, const char *key, const char *s, FILE *errs,
                   const char *cmd)
{
    json_t *j = json_string(s);
    char *text = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    int ok = text != NULL && set_param(o, key, text, errs, cmd);
    free(text);
    json_decref(j);
    return ok;
}

/* Adds one entry to a list parameter (trustedDIDs, collections). */
static int add_list(struct image_opts *o, const char *key, const char *s, FILE *errs,
                    const char *cmd)
{
    json_t *arr = json_array();
    char *text = NULL;
    size_t i, n = strcmp(key, "trustedDIDs") == 0 ? o->params.n_trusted : o->params.n_collections;
    char **cur = strcmp(key, "trustedDIDs") == 0 ? o->params.trusted_dids : o->params.collections;
    int ok;

    for (i = 0; arr != NULL && i < n; i++) {
        (void)json_array_append_new(arr, json_string(cur[i]));
    }
    if (arr != NULL) {
        (void)json_array_append_new(arr, json_string(s));
    }
    text = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    ok = text != NULL && set_param(o, key, text, errs, cmd);
    free(text);
    json_decref(arr);
    return ok;
}

/* Makes a file path absolute (the parameter requires one); the file must exist. */
static int abs_path(const char *in, char *out, size_t cap)
{
    char buf[PATH_MAX];
    if (realpath(in, buf) == NULL || strlen(buf) >= cap) {
        return 0;
    }
    memcpy(out, buf, strlen(buf) + 1);
    return 1;
}

static int read_config(struct image_opts *o, const char *path, FILE *errs, const char *cmd)
{
    struct atv_buf b;
    struct atv_err err;
    int ok;
    atv_buf_init(&b, 1u << 20);
    atv_err_clear(&err);
    ok = atv_buf_read_file(&b, path, &err) == ATV_OK &&
         atv_vfy_params_parse(atv_buf_view(&b), &o->params, &err) == ATV_OK;
    if (!ok) {
        fprintf(errs, "atcr-verify%s%s: --config %s: %s\n", cmd[0] != '\0' ? " " : "", cmd, path,
                err.msg);
    }
    atv_buf_cleanup(&b);
    return ok;
}

static int read_password(struct image_opts *o, FILE *errs)
{
    size_t n = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (n == CLI_MAX_PASSWORD) {
            fprintf(errs, "atcr-verify: --password-stdin: over %u bytes\n", CLI_MAX_PASSWORD);
            return 0;
        }
        o->password[n++] = (char)c;
    }
    if (n > 0 && o->password[n - 1] == '\r') {
        n--;
    }
    o->password[n] = '\0';
    return 1;
}

enum {
    OPT_TRUSTED = 256,
    OPT_POLICY,
    OPT_PLC,
    OPT_CACHE,
    OPT_TTL,
    OPT_TIMEOUT,
    OPT_COLLECTION,
    OPT_NO_HANDLE,
    OPT_PLC_LOG,
    OPT_NO_PLC_LOG,
    OPT_LOOPBACK,
    OPT_CA,
    OPT_CONFIG,
    OPT_INSECURE,
    OPT_DOCKER,
    OPT_USER,
    OPT_PWSTDIN,
    OPT_OFFLINE,
    OPT_BUNDLE,
    OPT_BUNDLE_DIR,
    OPT_MAX_AGE,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"trusted-did", required_argument, NULL, OPT_TRUSTED},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"plc", required_argument, NULL, OPT_PLC},
    {"cache-dir", required_argument, NULL, OPT_CACHE},
    {"did-cache-ttl", required_argument, NULL, OPT_TTL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"collection", required_argument, NULL, OPT_COLLECTION},
    {"no-verify-handle", no_argument, NULL, OPT_NO_HANDLE},
    {"plc-audit-log", no_argument, NULL, OPT_PLC_LOG},
    {"no-plc-audit-log", no_argument, NULL, OPT_NO_PLC_LOG},
    {"allow-loopback-http", no_argument, NULL, OPT_LOOPBACK},
    {"ca-file", required_argument, NULL, OPT_CA},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"insecure-http", no_argument, NULL, OPT_INSECURE},
    {"docker-config", required_argument, NULL, OPT_DOCKER},
    {"username", required_argument, NULL, OPT_USER},
    {"password-stdin", no_argument, NULL, OPT_PWSTDIN},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"bundle", required_argument, NULL, OPT_BUNDLE},
    {"bundle-dir", required_argument, NULL, OPT_BUNDLE_DIR},
    {"bundle-max-age", required_argument, NULL, OPT_MAX_AGE},
    {"output", required_argument, NULL, 'o'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* An integer flag given as text becomes a JSON integer, else stays a
 * string so that the parameter parser names the wrong type. */
static const char *num_json(const char *s)
{
    size_t i;
    if (s[0] == '\0' || strlen(s) > 10) {
        return NULL;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NULL;
        }
    }
    return s;
}

/* The trust the seed's deployments set in the environment, taken when no
 * flag gave one (flags win): ATCR_POLICY_FILE (= --policy), TRUSTED_DIDS
 * (comma-separated DIDs). For serve and coverage. Returns -1 to go on, else
 * an exit code. */
static int env_trust(struct image_opts *o, const char *cmd, FILE *errs)
{
    const char *pf = getenv("ATCR_POLICY_FILE");
    const char *td = getenv("TRUSTED_DIDS");
    char path[ATV_VFY_MAX_PATH + 1];

    pf = pf != NULL && pf[0] != '\0' ? pf : NULL;
    td = td != NULL && td[0] != '\0' ? td : NULL;
    if (o->params.has_trusted || o->params.trust_policy[0] != '\0') {
        return -1;
    }
    if (pf != NULL && td != NULL) {
        return usage(errs, cmd, "ATCR_POLICY_FILE and TRUSTED_DIDS: set one, not both");
    }
    if (pf != NULL) {
        if (!abs_path(pf, path, sizeof path)) {
            fprintf(errs, "atcr-verify %s: ATCR_POLICY_FILE %s: no such file\n", cmd, pf);
            return ATV_CLI_USAGE;
        }
        if (!set_str(o, "trustPolicy", path, errs, cmd)) {
            return ATV_CLI_USAGE;
        }
    }
    while (td != NULL && *td != '\0') {
        char did[ATV_MAX_DID + 1];
        const char *end = strchr(td, ',');
        size_t n = end != NULL ? (size_t)(end - td) : strlen(td);
        while (n > 0 && (*td == ' ' || *td == '\t')) {
            td++;
            n--;
        }
        while (n > 0 && (td[n - 1] == ' ' || td[n - 1] == '\t')) {
            n--;
        }
        if (n > ATV_MAX_DID) {
            fprintf(errs, "atcr-verify %s: TRUSTED_DIDS: an entry of %zu bytes\n", cmd, n);
            return ATV_CLI_USAGE;
        }
        if (n > 0) {
            memcpy(did, td, n);
            did[n] = '\0';
            if (!add_list(o, "trustedDIDs", did, errs, cmd)) {
                return ATV_CLI_USAGE;
            }
        }
        td = end != NULL ? end + 1 : NULL;
    }
    return -1;
}

/* atcr-verify serve: no IMAGE, no one-shot options; the trust from the
 * environment (env_trust) and REQUIRE_SIGNATURE ("true", the default, or
 * "false": every verdict audit-only). Returns -1 to go on, else an exit
 * code. */
static int serve_checks(struct image_opts *o, int argc, char **argv, const char *cmd, FILE *errs)
{
    const char *rs = getenv("REQUIRE_SIGNATURE");
    int code;

    (void)argv;
    if (optind != argc) {
        return usage(errs, cmd, "no IMAGE: images come in requests");
    }
    /* --bundle-dir (bundleDir) is the server's offline mode */
    if (o->offline || o->bundle_path != NULL || o->json || o->password_stdin ||
        o->store.username != NULL) {
        return usage(errs, cmd,
                     "-o, --offline, --bundle, --username and --password-stdin are not for "
                     "serve (--bundle-dir is)");
    }
    code = env_trust(o, cmd, errs);
    if (code >= 0) {
        return code;
    }
    if (rs != NULL && strcmp(rs, "false") == 0) {
        o->params.audit_only = 1;
    } else if (rs != NULL && rs[0] != '\0' && strcmp(rs, "true") != 0) {
        return usage(errs, cmd, "REQUIRE_SIGNATURE: true or false");
    }
    if (o->params.trust_policy[0] != '\0' && o->params.has_trusted) {
        return usage(errs, cmd, "give --trusted-did or --policy, not both");
    }
    return -1;
}

#define CLI_MAX_OPTS 64u

/* long_opts then extra's, into all (CLI_MAX_OPTS entries); 0 when too many. */
static int all_opts(const struct cli_extra *extra, struct option *all)
{
    size_t n = 0, i;
    for (i = 0; long_opts[i].name != NULL; i++) {
        all[n++] = long_opts[i];
    }
    for (i = 0; extra != NULL && extra->opts[i].name != NULL; i++) {
        if (n + 1 >= CLI_MAX_OPTS) {
            return 0;
        }
        all[n++] = extra->opts[i];
    }
    memset(&all[n], 0, sizeof all[n]);
    return 1;
}

/* Parses argv. mode: CLI_MODE_IMAGE (one IMAGE), CLI_MODE_EXPORT (-o names the
 * bundle file), CLI_MODE_SERVE (no IMAGE; extra's options too),
 * CLI_MODE_COVERAGE (one INPUT, extra's options, the environment's trust),
 * CLI_MODE_NODE (no IMAGE, no environment: containerd-verifier).
 * Returns -1 to go on, else an exit code. */
int atv_cli_parse_opts(int argc, char **argv, const char *cmd, const char *help, int mode,
                       const struct cli_extra *extra, struct image_opts *o, FILE *out, FILE *errs)
{
    char path[ATV_VFY_MAX_PATH + 1], cwd[ATV_VFY_MAX_PATH + 1];
    struct option opts[CLI_MAX_OPTS];
    const char *config = NULL;
    int c, ok = 1, export_mode = mode == CLI_MODE_EXPORT;

    if (!all_opts(extra, opts)) {
        return usage(errs, cmd, "too many options (internal)");
    }
    optind = 1;
    /* --config first, so that flags override it wherever they stand */
    while ((c = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
        if (c == OPT_CONFIG) {
            config = optarg;
        } else if (c == OPT_HELP) {
            fputs(help, out);
            return ATV_CLI_OK;
        } else if (c == '?') {
            return usage(errs, cmd, "unknown option");
        }
    }
    if (config != NULL && !read_config(o, config, errs, cmd)) {
        return ATV_CLI_USAGE;
    }
    optind = 1;
    while (ok && (c = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
        switch (c) {
        case OPT_TRUSTED:
            ok = add_list(o, "trustedDIDs", optarg, errs, cmd);
            break;
        case OPT_COLLECTION:
            ok = add_list(o, "collections", optarg, errs, cmd);
            break;
        case OPT_POLICY:
            if (!abs_path(optarg, path, sizeof path)) {
                fprintf(errs, "atcr-verify: --policy %s: no such file\n", optarg);
                return ATV_CLI_USAGE;
            }
            ok = set_str(o, "trustPolicy", path, errs, cmd);
            break;
        case OPT_CA:
            if (!abs_path(optarg, path, sizeof path)) {
                fprintf(errs, "atcr-verify: --ca-file %s: no such file\n", optarg);
                return ATV_CLI_USAGE;
            }
            ok = set_str(o, "caFile", path, errs, cmd);
            break;
        case OPT_PLC:
            ok = set_str(o, "plcDirectory", optarg, errs, cmd);
            break;
        case OPT_CACHE:
            if (optarg[0] == '/') {
                ok = set_str(o, "cacheDir", optarg, errs, cmd);
            } else if (getcwd(cwd, sizeof cwd) != NULL &&
                       snprintf(path, sizeof path, "%s/%s", cwd, optarg) < (int)sizeof path) {
                ok = set_str(o, "cacheDir", path, errs, cmd);
            } else {
                ok = 0;
            }
            break;
        case OPT_TTL:
            ok = num_json(optarg) != NULL ? set_param(o, "didCacheTTL", optarg, errs, cmd)
                                          : set_str(o, "didCacheTTL", optarg, errs, cmd);
            break;
        case OPT_TIMEOUT:
            ok = num_json(optarg) != NULL ? set_param(o, "timeoutMs", optarg, errs, cmd)
                                          : set_str(o, "timeoutMs", optarg, errs, cmd);
            break;
        case OPT_NO_HANDLE:
            ok = set_param(o, "verifyHandle", "false", errs, cmd);
            break;
        case OPT_PLC_LOG:
            ok = set_param(o, "plcAuditLog", "true", errs, cmd);
            break;
        case OPT_NO_PLC_LOG:
            ok = set_param(o, "plcAuditLog", "false", errs, cmd);
            break;
        case OPT_LOOPBACK:
            ok = set_param(o, "allowLoopbackHTTP", "true", errs, cmd);
            break;
        case OPT_INSECURE:
            o->store.use_http = 1;
            break;
        case OPT_DOCKER:
            (void)snprintf(o->store.config_path, sizeof o->store.config_path, "%s", optarg);
            break;
        case OPT_USER:
            o->store.username = optarg;
            break;
        case OPT_PWSTDIN:
            o->password_stdin = 1;
            break;
        case OPT_OFFLINE:
            o->offline = 1;
            break;
        case OPT_BUNDLE:
            o->bundle_path = optarg;
            break;
        case OPT_BUNDLE_DIR:
            if (!abs_path(optarg, path, sizeof path)) {
                fprintf(errs, "atcr-verify: --bundle-dir %s: no such directory\n", optarg);
                return ATV_CLI_USAGE;
            }
            ok = set_str(o, "bundleDir", path, errs, cmd);
            break;
        case OPT_MAX_AGE:
            ok = num_json(optarg) != NULL ? set_param(o, "bundleMaxAge", optarg, errs, cmd)
                                          : set_str(o, "bundleMaxAge", optarg, errs, cmd);
            break;
        case 'o':
            if (export_mode) {
                o->bundle_path = optarg;
            } else if (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0) {
                o->json = strcmp(optarg, "json") == 0;
            } else {
                return usage(errs, cmd, "-o takes text or json");
            }
            break;
        case 'v':
            o->verbose++;
            break;
        case OPT_CONFIG:
            break;
        default:
            if (extra != NULL && c >= CLI_EXTRA_OPT_BASE) {
                ok = extra->apply(extra->ctx, c, optarg, errs);
                break;
            }
            return usage(errs, cmd, "unknown option");
        }
    }
    if (!ok) {
        return ATV_CLI_USAGE;
    }
    if (mode == CLI_MODE_SERVE) {
        return serve_checks(o, argc, argv, cmd, errs);
    }
    if (mode == CLI_MODE_NODE) {
        /* containerd-verifier: the image comes from containerd's own flags,
         * stdin holds its descriptor, and nothing is read from the
         * environment containerd's daemon happens to have */
        if (optind != argc) {
            return usage(errs, cmd, "unexpected argument");
        }
        if (o->offline || o->bundle_path != NULL || o->json || o->password_stdin ||
            o->store.username != NULL) {
            return usage(errs, cmd,
                         "-o, --offline, --bundle, --username and --password-stdin are not for "
                         "containerd-verifier (--bundle-dir is)");
        }
        o->offline = o->params.bundle_dir[0] != '\0';
        o->deadline_ms = atv_vfy_clock_ms() + o->params.timeout_ms;
        return -1;
    }
    if (mode == CLI_MODE_COVERAGE) {
        /* coverage: one INPUT (a file, or - for standard input) instead of IMAGE */
        if (optind != argc - 1) {
            return usage(errs, cmd,
                         optind >= argc ? "FILE is required (- for standard input)"
                                        : "one FILE only");
        }
        o->input = argv[optind];
        if (strcmp(o->input, "-") == 0 && o->password_stdin) {
            return usage(errs, cmd, "--password-stdin and - both want standard input");
        }
        c = env_trust(o, cmd, errs);
        if (c >= 0) {
            return c;
        }
        if (o->params.trust_policy[0] != '\0' && o->params.has_trusted) {
            return usage(errs, cmd, "give --trusted-did or --policy, not both");
        }
    } else if (optind != argc - 1) {
        return usage(errs, cmd, optind >= argc ? "IMAGE is required" : "one IMAGE only");
    } else {
        o->image = argv[optind];
    }
    if (o->params.bundle_dir[0] != '\0') {
        if (o->bundle_path != NULL || export_mode) {
            return usage(errs, cmd, "--bundle-dir (bundleDir) does not go with --bundle or export");
        }
        o->offline = 1;
    }
    if (o->offline && o->params.bundle_dir[0] == '\0' && (o->bundle_path == NULL || export_mode)) {
        return usage(errs, cmd, "--offline needs --bundle FILE");
    }
    if (!o->offline && o->bundle_path != NULL && !export_mode) {
        return usage(errs, cmd, "--bundle is for --offline (or bundle export -o)");
    }
    if (export_mode && o->bundle_path == NULL) {
        return usage(errs, cmd, "-o FILE is required");
    }
    if ((o->store.username != NULL) != (o->password_stdin != 0)) {
        return usage(errs, cmd, "--username and --password-stdin go together");
    }
    if (o->password_stdin) {
        if (!read_password(o, errs)) {
            return ATV_CLI_USAGE;
        }
        o->store.password = o->password;
    }
    /* one deadline for the whole run: reading a bundle directory, then the verification */
    o->deadline_ms = atv_vfy_clock_ms() + o->params.timeout_ms;
    return -1;
}

void atv_cli_opts_init(struct image_opts *o)
{
    memset(o, 0, sizeof *o);
    atv_vfy_params_init(&o->params);
    atv_vfy_store_init(&o->store);
}

void atv_cli_opts_cleanup(struct image_opts *o)
{
    atv_vfy_params_cleanup(&o->params);
    /* the password was only ever needed for the registry client */
    memset(o->password, 0, sizeof o->password);
}

static void base_request(struct image_opts *o, struct atv_vfy_request *rq,
                         const struct atv_vfy_log *lg, const struct atv_vfy_bundle *offline,
                         struct atv_vfy_bundle *record)
{
    memset(rq, 0, sizeof *rq);
    rq->subject = o->image;
    rq->params = &o->params;
    rq->store = &o->store;
    rq->now = (int64_t)time(NULL);
    rq->log = lg;
    rq->offline = offline;
    rq->record = record;
    rq->collect = o->collect;
    rq->deadline_ms = o->deadline_ms;
}

/* ---- discover ------------------------------------------------------------------------ */

static int print_found(const struct atv_vfy_found *f, int json, FILE *out)
{
    size_t i;
    if (json) {
        json_t *arr = json_array();
        json_t *root = json_pack("{s:s, s:o}", "subject", f->subject_digest, "referrers", arr);
        char *s;
        for (i = 0; root != NULL && i < f->n; i++) {
            json_t *d = json_pack("{s:s, s:s, s:I, s:s}", "digest", f->sigs[i].digest,
                                  "mediaType", f->sigs[i].media_type, "size",
                                  (json_int_t)f->sigs[i].size, "artifactType", ATV_ARTIFACT_TYPE);
            if (d != NULL && f->sigs[i].did[0] != '\0') {
                (void)json_object_set_new(d, "annotations",
                                          json_pack("{s:s}", "io.atcr.atproto.did",
                                                    f->sigs[i].did));
            }
            (void)json_array_append_new(arr, d);
        }
        s = root != NULL ? json_dumps(root, JSON_INDENT(2)) : NULL;
        if (s != NULL) {
            fprintf(out, "%s\n", s);
        }
        free(s);
        json_decref(root);
        return ATV_CLI_OK;
    }
    fprintf(out, "%s\n", f->subject_digest);
    for (i = 0; i < f->n; i++) {
        fprintf(out, "%s %s (%lld bytes)%s%s\n", i + 1 == f->n ? "└──" : "├──", f->sigs[i].digest,
                (long long)f->sigs[i].size, f->sigs[i].did[0] != '\0' ? " signer claims " : "",
                f->sigs[i].did);
    }
    if (f->n == 0) {
        fprintf(out, "(no %s referrers)\n", ATV_ARTIFACT_TYPE);
    }
    return ATV_CLI_OK;
}

int atv_cli_load_offline(struct image_opts *o, struct atv_vfy_bundle **b, FILE *errs)
{
    struct atv_err err;
    atv_err_clear(&err);
    *b = NULL;
    if (!o->offline) {
        return 1;
    }
    if (o->params.bundle_dir[0] != '\0') {
        /* the whole directory, read once: the bundles are the only evidence */
        const struct atv_vfy_log lg = {errs, 0, 1};
        if (atv_vfy_bundle_load_dir(o->params.bundle_dir, &lg, o->deadline_ms, b, &err) !=
            ATV_OK) {
            fprintf(errs, "atcr-verify: --bundle-dir: %s\n", err.msg);
            return 0;
        }
        return 1;
    }
    if (atv_vfy_bundle_load(o->bundle_path, b, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify: --bundle: %s\n", err.msg);
        return 0;
    }
    return 1;
}

int atv_cli_discover(int argc, char **argv, FILE *out, FILE *errs)
{
    struct image_opts o;
    struct atv_vfy_request rq;
    struct atv_vfy_found *found = calloc(1, sizeof *found);
    struct atv_vfy_bundle *bundle = NULL;
    struct atv_vfy_log lg;
    enum atv_vfy_reason reason;
    struct atv_err err;
    int code;

    atv_cli_opts_init(&o);
    if (found == NULL) {
        return ATV_CLI_USAGE;
    }
    code = atv_cli_parse_opts(argc, argv, "discover", usage_discover, CLI_MODE_IMAGE, NULL, &o,
                              out, errs);
    if (code >= 0 || !atv_cli_load_offline(&o, &bundle, errs)) {
        code = code >= 0 ? code : ATV_CLI_USAGE;
        goto out;
    }
    lg.f = errs;
    lg.debug = o.verbose > 1;
    lg.quiet = o.verbose == 0;
    base_request(&o, &rq, &lg, bundle, NULL);
    atv_err_clear(&err);
    if (atv_vfy_discover(&rq, found, &reason, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify discover: %s: %s: %s\n", o.image, atv_vfy_reason_name(reason),
                err.msg);
        code = ATV_CLI_USAGE;
        goto out;
    }
    code = print_found(found, o.json, out);
out:
    atv_vfy_bundle_free(bundle);
    atv_cli_opts_cleanup(&o);
    free(found);
    return code;
}

/* ---- verify ----------------------------------------------------------------------------- */

static int use_colour(FILE *out)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(fileno(out)) && (nc == NULL || nc[0] == '\0');
}

static void print_line(FILE *out, const struct atv_vfy_artifact *a, int colour)
{
    const struct atv_vfy_result *r = &a->r;
    const char *verdict = r->success ? "PASS" : "FAIL";
    const char *on = !colour ? "" : r->success ? "\033[32m" : "\033[31m";
    const char *off = colour ? "\033[0m" : "";

    fprintf(out, "%s%-5s%s %s%s%s %s%s%s%s signed %s", on, verdict, off, a->platform,
            a->platform[0] != '\0' ? " " : "", a->sig_digest,
            r->did[0] != '\0' ? r->did : "(unknown signer)", r->handle[0] != '\0' ? " (" : "",
            r->handle, r->handle[0] != '\0' ? ")" : "",
            r->signed_at[0] != '\0' ? r->signed_at : "(unknown)");
    if (!r->success) {
        fprintf(out, ": %s: %s", atv_vfy_reason_name(r->reason), r->message);
    }
    fputc('\n', out);
}

static void verdict_text(const struct image_opts *o, const struct atv_vfy_image *v, int64_t now,
                         FILE *out, int colour)
{
    const char *word = v->met ? "met" : v->allowed ? "NOT met, allowed" : "NOT met";
    size_t i;

    fprintf(out, "%s\n  %s, %zu signature%s found%s\n", o->image,
            v->reference[0] != '\0' ? v->reference : "(reference unknown)", v->n_sigs,
            v->n_sigs == 1 ? "" : "s", v->is_index ? " (an image index)" : "");
    for (i = 0; i < v->n_artifacts; i++) {
        fputs("  ", out);
        print_line(out, &v->artifacts[i], colour);
    }
    if (v->policy[0] == '\0') {
        fprintf(out, "  no policy applies: %s: %s\n", atv_vfy_reason_name(v->reason), v->message);
    } else if (v->no_signature_required) {
        fprintf(out, "  %s: allowed\n", v->message);
    } else {
        fprintf(out, "  policy %s (%s): %u of %u required signer%s: %s\n", v->policy,
                v->action_audit ? "audit" : "enforce", v->have, v->min_signatures,
                v->min_signatures == 1 ? "" : "s", word);
        if (!v->met) {
            fprintf(out, "  %s%s%s: %s\n", atv_vfy_reason_name(v->reason),
                    v->transient ? " (transient)" : "", v->audit ? " (audit)" : "", v->message);
        }
    }
    if (v->evidence_at[0] != '\0') {
        long long age = (long long)(now - v->evidence_time);
        fprintf(out, "  offline: evidence fetched at %s (%lld minute%s ago)\n", v->evidence_at,
                age / 60, age / 60 == 1 ? "" : "s");
    }
}

/* Exit status from the verdict: allowed 0; a definite refusal 1; a
 * configuration error, signatures that could not even be listed, or a
 * failure a retry could change 2. */
int atv_cli_verdict_exit(const struct atv_vfy_image *v)
{
    if (v->allowed) {
        return ATV_CLI_OK;
    }
    if (v->reason == ATV_VFY_BAD_REQUEST || v->transient || v->unlisted) {
        return ATV_CLI_USAGE;
    }
    return ATV_CLI_REJECT;
}

/* An artifact whose evidence could not all be fetched: the bundle would not
 * let a verifier reach the verdict this run reached. */
static int incomplete(const struct atv_vfy_result *r)
{
    return r->transient || r->reason == ATV_VFY_REGISTRY_ERROR ||
           r->reason == ATV_VFY_IDENTITY_ERROR || r->reason == ATV_VFY_PDS_ERROR ||
           r->reason == ATV_VFY_TIMEOUT;
}

/* bundle export: what was collected. 0 when every signature's evidence is
 * in the bundle, 1 when some is missing (each named), 2 when nothing can be
 * written (a bad request, or the signatures could not be listed). */
static int collected(const struct atv_vfy_image *v, FILE *errs)
{
    size_t i, missing = 0, good = 0;
    if (v->reason == ATV_VFY_BAD_REQUEST || v->unlisted || v->n_artifacts == 0) {
        fprintf(errs, "atcr-verify bundle export: nothing to write: %s: %s\n",
                atv_vfy_reason_name(v->reason), v->message);
        return ATV_CLI_USAGE;
    }
    for (i = 0; i < v->n_artifacts; i++) {
        const struct atv_vfy_artifact *a = &v->artifacts[i];
        good += a->r.success ? 1 : 0;
        if (incomplete(&a->r)) {
            missing++;
            fprintf(errs, "warn: missing from the bundle: the evidence of %s%s%s: %s (%s): %s\n",
                    a->sig_digest, a->platform[0] ? " " : "", a->platform,
                    atv_vfy_reason_name(a->r.reason), a->r.detail, a->r.message);
        } else if (!a->r.success) {
            fprintf(errs, "info: %s%s%s does not verify (the bundle shows why): %s: %s\n",
                    a->sig_digest, a->platform[0] ? " " : "", a->platform,
                    atv_vfy_reason_name(a->r.reason), a->r.message);
        }
    }
    fprintf(errs,
            "info: collected the evidence of %zu signature artifact%s of %s (%zu with a proof "
            "that verifies, %zu incomplete); whoever reads the bundle decides whom to trust\n",
            v->n_artifacts, v->n_artifacts == 1 ? "" : "s", v->reference, good, missing);
    return missing == 0 ? ATV_CLI_OK : ATV_CLI_REJECT;
}

/* The verification shared by IMAGE and bundle export. Returns the exit code. */
static int verify_image(struct image_opts *o, const struct atv_vfy_bundle *offline,
                        struct atv_vfy_bundle *record, FILE *out, FILE *errs)
{
    struct atv_vfy_request rq;
    struct atv_vfy_image *v = calloc(1, sizeof *v);
    struct atv_vfy_log lg = {errs, o->verbose > 1, o->verbose == 0};
    int code = ATV_CLI_USAGE;

    if (v == NULL) {
        fprintf(errs, "atcr-verify: out of memory\n");
        goto out;
    }
    if (o->params.trust_policy[0] != '\0' && o->params.has_trusted) {
        usage(errs, "", "give --trusted-did or --policy, not both");
        goto out;
    }
    base_request(o, &rq, &lg, offline, record);
    atv_vfy_image_run(&rq, v);
    if (o->collect) {
        code = collected(v, errs);
        if ((!o->params.has_trusted && o->params.trust_policy[0] == '\0') ||
            code == ATV_CLI_USAGE) {
            goto out; /* no trust configured: no verdict to print */
        }
        /* the verdict this bundle gives under the configured trust: the
         * reader's offline run, on what was just collected */
        base_request(o, &rq, &lg, record, NULL);
        atv_vfy_image_run(&rq, v);
    }
    if (v->reason == ATV_VFY_BAD_REQUEST && !v->allowed) {
        fprintf(errs, "atcr-verify: %s\n", v->message);
    } else if (!v->allowed && v->transient) {
        fprintf(errs, "atcr-verify: %s: %s (transient): %s\n", o->image,
                atv_vfy_reason_name(v->reason), v->message);
    }
    if (!o->collect) {
        code = atv_cli_verdict_exit(v);
    }
    if (o->json) {
        char *s = atv_vfy_image_json(v, o->image, rq.now, 1);
        if (s != NULL) {
            fprintf(out, "%s\n", s);
        } else {
            fprintf(errs, "atcr-verify: out of memory\n");
            code = ATV_CLI_USAGE;
        }
        free(s);
    } else {
        verdict_text(o, v, rq.now, out, use_colour(out));
    }
out:
    free(v);
    return code;
}

int atv_cli_image(int argc, char **argv, FILE *out, FILE *errs)
{
    struct image_opts o;
    struct atv_vfy_bundle *bundle = NULL;
    int code;

    atv_cli_opts_init(&o);
    code = atv_cli_parse_opts(argc, argv, "", usage_image, CLI_MODE_IMAGE, NULL, &o, out, errs);
    if (code < 0) {
        code = atv_cli_load_offline(&o, &bundle, errs) ? verify_image(&o, bundle, NULL, out, errs)
                                               : ATV_CLI_USAGE;
    }
    atv_vfy_bundle_free(bundle);
    atv_cli_opts_cleanup(&o);
    return code;
}

int atv_cli_bundle(int argc, char **argv, FILE *out, FILE *errs)
{
    struct image_opts o;
    struct atv_vfy_bundle *bundle = NULL;
    struct atv_err err;
    int code;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_bundle, argc < 2 ? errs : out);
        return argc < 2 ? ATV_CLI_USAGE : ATV_CLI_OK;
    }
    if (strcmp(argv[1], "export") != 0) {
        return usage(errs, "bundle", "the only subcommand is export");
    }
    atv_cli_opts_init(&o);
    atv_err_clear(&err);
    code = atv_cli_parse_opts(argc - 1, argv + 1, "bundle export", usage_bundle, CLI_MODE_EXPORT,
                              NULL, &o, out, errs);
    if (code >= 0) {
        goto out;
    }
    if (atv_vfy_bundle_new(&bundle, &err) != ATV_OK) {
        code = ATV_CLI_USAGE;
        goto out;
    }
    /* a bundle carries proof: each did:plc as its operation log, whatever
     * --no-plc-audit-log says (offline, nothing else is read) */
    o.params.plc_audit_log = 1;
    /* the seed's export takes only the image: it collects every signer's
     * evidence whatever the local trust, and prints a verdict only when
     * given one */
    o.collect = 1;
    code = verify_image(&o, NULL, bundle, out, errs);
    if (code == ATV_CLI_USAGE) {
        goto out;
    }
    if (atv_vfy_bundle_save(bundle, o.bundle_path, (int64_t)time(NULL), &err) != ATV_OK) {
        fprintf(errs, "atcr-verify bundle export: %s\n", err.msg);
        code = ATV_CLI_USAGE;
        goto out;
    }
    fprintf(errs, "info: wrote %s (%zu entries)\n", o.bundle_path, atv_vfy_bundle_count(bundle));
out:
    atv_vfy_bundle_free(bundle);
    atv_cli_opts_cleanup(&o);
    return code;
}
