/* cli/cli.c: atcr-verify subcommands.
 *
 * verify-sig and verify-proof are the low-level checks other tools script
 * against; their flags and exit codes are a stable interface (README.md). */
#include "cli/cli_internal.h"

#include "atproto/atproto.h"
#include "common/buf.h"
#include "common/limits.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#ifndef ATV_VERSION
#define ATV_VERSION "0.0.0"
#endif

static const char usage_main[] =
    "usage: atcr-verify IMAGE [OPTIONS]        verify IMAGE's signatures against a trust policy\n"
    "       atcr-verify COMMAND [OPTIONS]\n"
    "\n"
    "Verify ATProto signatures of container images (ATCR).\n"
    "\n"
    "Commands:\n"
    "  IMAGE          discover, verify and apply the policy (atcr-verify IMAGE --help)\n"
    "  discover       list IMAGE's signature artifacts\n"
    "  bundle export  write everything a verification needs into one file, for --offline\n"
    "  serve          a long-running HTTPS verifier: /verify, health and metrics\n"
    "  coverage       how much of a fleet trusted DIDs signed, from kubectl JSON\n"
    "  containerd-verifier  containerd 2.x's image verifier: allow or block each pull\n"
    "  verify-sig     check one ECDSA signature against a did:key\n"
    "  verify-proof   check a com.atproto.sync.getRecord proof (CAR) against a DID document\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help (COMMAND --help for a command's own)\n"
    "  -V, --version  show the version\n"
    "\n"
    "Exit status: 0 verified (the policy is met), 1 not verified, 2 usage error or\n"
    "operational error (unreadable input, registry unreachable).\n";

static const char usage_sig[] =
    "usage: atcr-verify verify-sig --key DIDKEY --message-b64 B64 --signature-b64 B64\n"
    "\n"
    "Checks a 64-byte r||s ECDSA signature (K-256 or P-256, SHA-256, low-S) over a message.\n"
    "\n"
    "  --key DIDKEY          the public key as did:key:z... (secp256k1 or P-256)\n"
    "  --message-b64 B64     the signed bytes, base64 (standard alphabet, padding optional;\n"
    "                        an empty message is allowed)\n"
    "  --signature-b64 B64   the signature, base64 of exactly 64 bytes\n"
    "\n"
    "Exit status: 0 valid, 1 invalid, 2 usage error or malformed key.\n";

static const char usage_proof[] =
    "usage: atcr-verify verify-proof --car FILE --did-doc FILE --uri at://DID/COLLECTION/RKEY\n"
    "                                [--expect-digest sha256:HEX] [-o text|json]\n"
    "\n"
    "Checks that the CAR (a com.atproto.sync.getRecord response) proves the record exists\n"
    "under a version-3 commit for DID, signed by the #atproto key of the DID document.\n"
    "\n"
    "  --car FILE              the proof, a CAR v1 file\n"
    "  --did-doc FILE          the DID document of DID (JSON)\n"
    "  --uri AT-URI            the record: at://DID/COLLECTION/RKEY\n"
    "  --expect-digest DIGEST  also require the record's `digest` field to equal DIGEST\n"
    "  -o, --output FORMAT     text (one line, default) or json (one object)\n"
    "\n"
    "Exit status: 0 verified; 1 any other verdict (bad signature, absent record, incomplete\n"
    "or malformed proof, wrong DID, digest mismatch); 2 usage error or unreadable file.\n";

static int usage_error(FILE *errs, const char *cmd, const char *msg)
{
    fprintf(errs, "atcr-verify%s%s: %s\n", cmd != NULL ? " " : "", cmd != NULL ? cmd : "", msg);
    fprintf(errs, "Try 'atcr-verify%s%s --help'.\n", cmd != NULL ? " " : "",
            cmd != NULL ? cmd : "");
    return ATV_CLI_USAGE;
}

/* ---- verify-sig ------------------------------------------------------------ */

static int cmd_verify_sig(int argc, char **argv, FILE *out, FILE *errs)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"message-b64", required_argument, NULL, 'm'},
        {"signature-b64", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *msg = NULL, *sig = NULL;
    struct atv_buf mbuf, sbuf;
    struct atv_pubkey pk;
    struct atv_err err;
    int c, code = ATV_CLI_USAGE;

    atv_err_clear(&err);
    atv_buf_init(&mbuf, ATV_MAX_MESSAGE);
    atv_buf_init(&sbuf, 1024);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'm':
            msg = optarg;
            break;
        case 's':
            sig = optarg;
            break;
        case 'h':
            fputs(usage_sig, out);
            code = ATV_CLI_OK;
            goto out;
        default:
            code = usage_error(errs, "verify-sig", "unknown option");
            goto out;
        }
    }
    if (optind != argc) {
        code = usage_error(errs, "verify-sig", "unexpected argument");
        goto out;
    }
    if (key == NULL || msg == NULL || sig == NULL) {
        code = usage_error(errs, "verify-sig",
                           "--key, --message-b64 and --signature-b64 are all required");
        goto out;
    }
    if (atv_atp_key_parse_didkey(key, &pk, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify verify-sig: --key: %s\n", err.msg);
        goto out;
    }
    if (atv_base64_decode(msg, strlen(msg), &mbuf, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify verify-sig: --message-b64: %s\n", err.msg);
        goto out;
    }
    if (atv_base64_decode(sig, strlen(sig), &sbuf, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify verify-sig: --signature-b64: %s\n", err.msg);
        goto out;
    }
    if (atv_atp_sig_verify(&pk, atv_buf_view(&mbuf), atv_buf_view(&sbuf), &err) == ATV_OK) {
        fprintf(out, "valid: %s signature over %zu bytes\n", atv_atp_key_type_name(pk.type),
                mbuf.len);
        code = ATV_CLI_OK;
    } else {
        fprintf(out, "invalid: %s\n", err.msg);
        code = ATV_CLI_REJECT;
    }
out:
    atv_buf_cleanup(&mbuf);
    atv_buf_cleanup(&sbuf);
    return code;
}

/* ---- verify-proof ---------------------------------------------------------- */

struct proof_args {
    const char *car, *doc, *uri, *digest;
    int json;
};

static void report(FILE *out, int json, int verified, const char *reason, const char *message,
                   const struct atv_proof *pr, const char *uri)
{
    char commit[ATV_CID_STR_CAP] = "", record[ATV_CID_STR_CAP] = "";
    if (pr != NULL && pr->did[0] != '\0') {
        atv_atp_cid_to_str(&pr->commit_cid, commit);
        if (pr->present) {
            atv_atp_cid_to_str(&pr->record_cid, record);
        }
    }
    if (!json) {
        if (verified) {
            fprintf(out, "verified: %s is in the repository at rev %s (commit %s, record %s)\n",
                    uri, pr->rev, commit, record);
        } else {
            fprintf(out, "not verified (%s): %s\n", reason, message);
        }
        return;
    }
    json_t *o = json_pack("{s:b, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s}", "verified", verified,
                          "reason", reason, "message", message, "did",
                          pr != NULL && pr->did[0] != '\0' ? pr->did : NULL, "commitCid",
                          commit[0] != '\0' ? commit : NULL, "rev",
                          pr != NULL && pr->rev[0] != '\0' ? pr->rev : NULL, "recordCid",
                          record[0] != '\0' ? record : NULL, "uri", uri);
    if (o != NULL && pr != NULL && pr->present) {
        (void)json_object_set_new(o, "recordType", json_string(pr->record_type));
        (void)json_object_set_new(o, "digest", json_string(pr->digest));
    }
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL) {
        fprintf(out, "%s\n", s);
    }
    free(s);
    json_decref(o);
}

static int run_proof(const struct proof_args *a, FILE *out, FILE *errs)
{
    struct atv_record_uri uri;
    struct atv_buf car, doc;
    struct atv_diddoc dd;
    struct atv_proof pr;
    struct atv_err err;
    int code = ATV_CLI_USAGE;

    atv_err_clear(&err);
    atv_buf_init(&car, ATV_MAX_CAR);
    atv_buf_init(&doc, ATV_MAX_DIDDOC);
    memset(&pr, 0, sizeof pr);
    if (atv_atp_record_uri_parse(a->uri, &uri, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify verify-proof: --uri: %s\n", err.msg);
        goto out;
    }
    if (a->digest != NULL && !atv_atp_digest_valid(a->digest)) {
        fprintf(errs, "atcr-verify verify-proof: --expect-digest: want sha256: and 64 "
                      "lower-case hex digits\n");
        goto out;
    }
    if (atv_buf_read_file(&car, a->car, &err) != ATV_OK ||
        atv_buf_read_file(&doc, a->doc, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify verify-proof: %s\n", err.msg);
        goto out;
    }
    code = ATV_CLI_REJECT;
    if (atv_atp_diddoc_parse(atv_buf_view(&doc), uri.did, &dd, &err) != ATV_OK) {
        atv_err_prefix(&err, "%s", a->doc);
        report(out, a->json, 0, err.reason != NULL ? err.reason : "bad_did_doc", err.msg, NULL,
               a->uri);
        goto out;
    }
    if (atv_atp_proof_verify(atv_buf_view(&car), uri.did, &dd.key, uri.collection, uri.rkey, &pr,
                             &err) != ATV_OK) {
        report(out, a->json, 0, err.reason != NULL ? err.reason : "malformed_proof", err.msg, NULL,
               a->uri);
        goto out;
    }
    if (!pr.present) {
        report(out, a->json, 0, "record_absent",
               "the signed commit proves the record is not in the repository", &pr, a->uri);
        goto out;
    }
    if (a->digest != NULL && strcmp(pr.digest, a->digest) != 0) {
        report(out, a->json, 0, "digest_mismatch",
               pr.digest[0] == '\0' ? "the record has no digest field"
                                    : "the record's digest differs from --expect-digest",
               &pr, a->uri);
        goto out;
    }
    report(out, a->json, 1, "verified", "the record is in the repository under a signed commit",
           &pr, a->uri);
    code = ATV_CLI_OK;
out:
    atv_buf_cleanup(&car);
    atv_buf_cleanup(&doc);
    return code;
}

static int cmd_verify_proof(int argc, char **argv, FILE *out, FILE *errs)
{
    static const struct option opts[] = {
        {"car", required_argument, NULL, 'c'},
        {"did-doc", required_argument, NULL, 'd'},
        {"uri", required_argument, NULL, 'u'},
        {"expect-digest", required_argument, NULL, 'e'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct proof_args a = {NULL, NULL, NULL, NULL, 0};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a.car = optarg;
            break;
        case 'd':
            a.doc = optarg;
            break;
        case 'u':
            a.uri = optarg;
            break;
        case 'e':
            a.digest = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "json") == 0) {
                a.json = 1;
            } else if (strcmp(optarg, "text") == 0) {
                a.json = 0;
            } else {
                return usage_error(errs, "verify-proof", "-o takes text or json");
            }
            break;
        case 'h':
            fputs(usage_proof, out);
            return ATV_CLI_OK;
        default:
            return usage_error(errs, "verify-proof", "unknown option");
        }
    }
    if (optind != argc) {
        return usage_error(errs, "verify-proof", "unexpected argument");
    }
    if (a.car == NULL || a.doc == NULL || a.uri == NULL) {
        return usage_error(errs, "verify-proof", "--car, --did-doc and --uri are all required");
    }
    return run_proof(&a, out, errs);
}

int atv_cli_run(int argc, char **argv, FILE *out, FILE *errs)
{
    opterr = 1;
    if (argc < 2) {
        fputs(usage_main, errs);
        return ATV_CLI_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, out);
        return ATV_CLI_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        fprintf(out, "atcr-verify %s\n", ATV_VERSION);
        return ATV_CLI_OK;
    }
    if (strcmp(argv[1], "verify-sig") == 0) {
        return cmd_verify_sig(argc - 1, argv + 1, out, errs);
    }
    if (strcmp(argv[1], "verify-proof") == 0) {
        return cmd_verify_proof(argc - 1, argv + 1, out, errs);
    }
    if (strcmp(argv[1], "discover") == 0) {
        return atv_cli_discover(argc - 1, argv + 1, out, errs);
    }
    if (strcmp(argv[1], "bundle") == 0) {
        return atv_cli_bundle(argc - 1, argv + 1, out, errs);
    }
    if (strcmp(argv[1], "serve") == 0) {
        return atv_cli_serve(argc - 1, argv + 1, out, errs);
    }
    if (strcmp(argv[1], "coverage") == 0) {
        return atv_cli_coverage(argc - 1, argv + 1, out, errs);
    }
    if (strcmp(argv[1], "containerd-verifier") == 0) {
        return atv_cli_containerd(argc - 1, argv + 1, out, errs);
    }
    if (argv[1][0] == '-') {
        return usage_error(errs, NULL, "unknown option");
    }
    /* anything else is an image reference */
    return atv_cli_image(argc, argv, out, errs);
}
