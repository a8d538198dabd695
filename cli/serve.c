/* cli/serve.c: atcr-verify serve, the long-running HTTPS verifier.
 *
 * Flags and environment become the same parameters atcr-verify IMAGE uses
 * (cli/image.c parses both); server/ does the serving, verify/ the deciding. */
#include "cli/cli_internal.h"

#include "server/server.h"

#include <stdlib.h>
#include <string.h>

static const char usage_serve[] =
    "usage: atcr-verify serve --listen ADDR:PORT --tls-cert FILE --tls-key FILE\n"
    "                         [--client-ca FILE] [--health-listen ADDR:PORT]\n"
    "                         [--verdict-ttl SECONDS] [--workers N] [--timeout MS]\n"
    "                         [--mutate-timeout MS] [--lame-duck MS]\n"
    "                         [--policy FILE | --trusted-did DID...]\n"
    "                         [the identity and registry options of atcr-verify IMAGE]\n"
    "\n"
    "Serves the image verdict over HTTPS for Kyverno (context.apiCall.service), OPA\n"
    "(http.send) and anything else that can call a URL:\n"
    "  GET /verify?image=REF, POST /verify {\"image\":REF} (at most 16 KiB; Content-Type\n"
    "  application/json or none): the verdict as `atcr-verify IMAGE -o json` prints it;\n"
    "  HTTP 200 allowed, 403 refused, 400 bad reference or request, 503 transient\n"
    "  (retry), 413 body too large.\n"
    "  POST /gatekeeper/verify, POST /gatekeeper/mutate: OPA Gatekeeper's external data\n"
    "  provider (ProviderRequest -> ProviderResponse, at most 1024 keys, 1 MiB; transient\n"
    "  keys are named in systemError, never answered as items; mutate pins to digests).\n"
    "Health (plain HTTP, --health-listen): /healthz, /readyz (503 while shutting down),\n"
    "/metrics (Prometheus text format 0.0.4).\n"
    "Certificate, key, client CA and policy files are checked every second and\n"
    "reloaded when they change (a Kubernetes volume's ..data swap included); a bad\n"
    "one is logged and the one in use kept. At most 4096 TLS connections; a request\n"
    "must arrive whole within 10 s; idle keep-alive connections close after 120 s.\n"
    "\n"
    "  --listen ADDR:PORT        the HTTPS listener (port 0: any free port, printed)\n"
    "  --tls-cert FILE           PEM certificate chain\n"
    "  --tls-key FILE            PEM private key\n"
    "  --client-ca FILE          PEM CA certificates: ask every client for a certificate;\n"
    "                            required on /gatekeeper/*, never on /verify\n"
    "  --verdict-ttl SECONDS     reuse a definite verdict for this long, 0..3600 (60);\n"
    "                            0 turns the cache off. A revoked signature can pass for\n"
    "                            this long; tags are resolved on every request\n"
    "  --health-listen ADDR:PORT the plain-HTTP health and metrics listener\n"
    "  --workers N               verifications at once, 1..256 (16); at most 4 x N\n"
    "                            more wait, past that the answer is 503 at once\n"
    "  --timeout MS              every request's deadline, 1..60000 (2500)\n"
    "  --mutate-timeout MS       the mutation paths' deadline, 1..60000 (900)\n"
    "  --lame-duck MS            after SIGTERM: keep serving this long while endpoints\n"
    "                            drop us, 0..60000 (5000); then drain (10 s at most), exit 0\n"
    "Trust, identity, network and registry options: those of `atcr-verify IMAGE --help`\n"
    "(--trusted-did, --policy, --plc, --cache-dir, --did-cache-ttl, --collection,\n"
    "--no-verify-handle, --plc-audit-log, --no-plc-audit-log, --allow-loopback-http,\n"
    "--ca-file, --config, --insecure-http, --docker-config, --bundle-dir,\n"
    "--bundle-max-age, -v).\n"
    "Environment (flags win): ATCR_POLICY_FILE (= --policy), TRUSTED_DIDS (DIDs,\n"
    "comma-separated), REQUIRE_SIGNATURE (true; false makes every verdict audit-only).\n"
    "\n"
    "Exit status: 0 after a SIGTERM or SIGINT shutdown; 2 usage or configuration error\n"
    "(a bad certificate, key or policy; an address that cannot be bound).\n";

enum { OPT_LISTEN = CLI_EXTRA_OPT_BASE, OPT_CERT, OPT_KEY, OPT_HEALTH, OPT_WORKERS, OPT_LAME,
       OPT_CA, OPT_TTL, OPT_MUTATE_TIMEOUT };

static const struct option serve_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"tls-cert", required_argument, NULL, OPT_CERT},
    {"tls-key", required_argument, NULL, OPT_KEY},
    {"health-listen", required_argument, NULL, OPT_HEALTH},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"lame-duck", required_argument, NULL, OPT_LAME},
    {"client-ca", required_argument, NULL, OPT_CA},
    {"verdict-ttl", required_argument, NULL, OPT_TTL},
    {"mutate-timeout", required_argument, NULL, OPT_MUTATE_TIMEOUT},
    {NULL, 0, NULL, 0},
};

struct serve_args {
    struct atv_srv_config cfg;
    int has_listen;
};

/* A decimal in [lo, hi], digits only. */
static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    unsigned long v = 0;
    size_t i;
    if (s[0] == '\0' || strlen(s) > 6) {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < lo || v > hi) {
        return 0;
    }
    *out = (unsigned)v;
    return 1;
}

static int apply(void *ctx, int c, const char *arg, FILE *errs)
{
    struct serve_args *a = ctx;
    struct atv_err err;
    atv_err_clear(&err);
    switch (c) {
    case OPT_LISTEN:
    case OPT_HEALTH:
        if (atv_srv_addr_parse(arg, c == OPT_LISTEN ? &a->cfg.listen : &a->cfg.health, &err) !=
            ATV_OK) {
            fprintf(errs, "atcr-verify serve: --%s %s: %s\n",
                    c == OPT_LISTEN ? "listen" : "health-listen", arg, err.msg);
            return 0;
        }
        if (c == OPT_LISTEN) {
            a->has_listen = 1;
        } else {
            a->cfg.has_health = 1;
        }
        return 1;
    case OPT_CERT:
        a->cfg.tls_cert = arg;
        return 1;
    case OPT_KEY:
        a->cfg.tls_key = arg;
        return 1;
    case OPT_CA:
        a->cfg.client_ca = arg;
        return 1;
    case OPT_MUTATE_TIMEOUT:
        if (!parse_uint(arg, 1, 60000, &a->cfg.mutate_timeout_ms)) {
            fprintf(errs, "atcr-verify serve: --mutate-timeout: 1..60000 ms, got %s\n", arg);
            return 0;
        }
        return 1;
    case OPT_TTL:
        if (!parse_uint(arg, 0, ATV_SRV_MAX_VERDICT_TTL_S, &a->cfg.verdict_ttl_s)) {
            fprintf(errs, "atcr-verify serve: --verdict-ttl: 0..%u seconds, got %s\n",
                    ATV_SRV_MAX_VERDICT_TTL_S, arg);
            return 0;
        }
        return 1;
    case OPT_WORKERS:
        if (!parse_uint(arg, 1, ATV_SRV_MAX_WORKERS, &a->cfg.workers)) {
            fprintf(errs, "atcr-verify serve: --workers: 1..%u, got %s\n", ATV_SRV_MAX_WORKERS,
                    arg);
            return 0;
        }
        return 1;
    case OPT_LAME:
        if (!parse_uint(arg, 0, ATV_SRV_MAX_LAME_DUCK_MS, &a->cfg.lame_duck_ms)) {
            fprintf(errs, "atcr-verify serve: --lame-duck: 0..%u ms, got %s\n",
                    ATV_SRV_MAX_LAME_DUCK_MS, arg);
            return 0;
        }
        return 1;
    default:
        fprintf(errs, "atcr-verify serve: unknown option\n");
        return 0;
    }
}

int atv_cli_serve(int argc, char **argv, FILE *out, FILE *errs)
{
    struct image_opts o;
    struct serve_args a;
    struct cli_extra extra = {serve_opts, apply, &a};
    struct atv_vfy_log lg;
    struct atv_srv *srv = NULL;
    struct atv_err err;
    int code;

    atv_cli_opts_init(&o);
    memset(&a, 0, sizeof a);
    atv_srv_config_init(&a.cfg);
    atv_err_clear(&err);
    code = atv_cli_parse_opts(argc, argv, "serve", usage_serve, CLI_MODE_SERVE, &extra, &o, out,
                              errs);
    if (code >= 0) {
        goto out;
    }
    code = ATV_CLI_USAGE;
    if (!a.has_listen || a.cfg.tls_cert == NULL || a.cfg.tls_key == NULL) {
        fprintf(errs, "atcr-verify serve: --listen, --tls-cert and --tls-key are required\n"
                      "Try 'atcr-verify serve --help'.\n");
        goto out;
    }
    lg.f = errs;
    lg.debug = o.verbose > 1;
    lg.quiet = o.verbose == 0;
    a.cfg.params = &o.params;
    a.cfg.store = &o.store;
    a.cfg.log = &lg;
    a.cfg.errs = errs;
    if (atv_srv_new(&a.cfg, &srv, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify serve: %s\n", err.msg);
        goto out;
    }
    if (atv_srv_run(srv, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify serve: %s\n", err.msg);
        goto out;
    }
    code = ATV_CLI_OK;
out:
    atv_srv_free(srv);
    atv_cli_opts_cleanup(&o);
    return code;
}
