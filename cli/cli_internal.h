/* cli/cli_internal.h: the image commands (cli/image.c), serve (cli/serve.c),
 * coverage (cli/coverage.c) and containerd-verifier (cli/containerd.c),
 * dispatched by cli.c.
 * Each takes argv with argv[0] the command (or the program for IMAGE). */
#ifndef ATV_CLI_CLI_INTERNAL_H
#define ATV_CLI_CLI_INTERNAL_H

#include "cli/cli.h"

#include "verify/verify.h"

#include <getopt.h>
#include <stdint.h>

#define CLI_MAX_PASSWORD 4096u

/* The options of atcr-verify IMAGE, shared by discover, bundle export and serve. */
struct image_opts {
    struct atv_vfy_params params;
    struct atv_vfy_store store;
    const char *image;
    const char *input;       /* coverage: the file to read, "-" for standard input */
    const char *bundle_path; /* --bundle (offline) or bundle export -o */
    int offline;
    uint64_t deadline_ms; /* the whole run's, from the end of option parsing */
    int json;
    int password_stdin;
    int verbose; /* -v: info lines, -vv: debug lines too */
    int collect; /* bundle export with no trust configured: collect every signer's evidence */
    char password[CLI_MAX_PASSWORD + 1];
};

void atv_cli_opts_init(struct image_opts *o);
void atv_cli_opts_cleanup(struct image_opts *o);

/* A command's own options on top of IMAGE's (serve): vals from
 * CLI_EXTRA_OPT_BASE up; apply returns 1, or 0 after printing why. */
#define CLI_EXTRA_OPT_BASE 1024
struct cli_extra {
    const struct option *opts; /* terminated by a zero entry */
    int (*apply)(void *ctx, int c, const char *arg, FILE *errs);
    void *ctx;
};
enum { CLI_MODE_IMAGE = 0, CLI_MODE_EXPORT, CLI_MODE_SERVE, CLI_MODE_COVERAGE, CLI_MODE_NODE };
/* Parses argv (cli/image.c). Returns -1 to go on, else the exit code. */
int atv_cli_parse_opts(int argc, char **argv, const char *cmd, const char *help, int mode,
                       const struct cli_extra *extra, struct image_opts *o, FILE *out,
                       FILE *errs);

/* --offline: the bundle (--bundle FILE, or every bundle of --bundle-dir, read
 * once) into *b (new: atv_vfy_bundle_free), NULL when online. Returns 1, or
 * 0 after printing why. */
int atv_cli_load_offline(struct image_opts *o, struct atv_vfy_bundle **b, FILE *errs);
/* The exit status of an image verdict: 0 allowed; 1 a definite refusal; 2 a
 * configuration error (BAD_REQUEST), signatures that could not be listed, or
 * a failure a retry could change (transient). */
int atv_cli_verdict_exit(const struct atv_vfy_image *v);

/* ---- coverage (cli/coverage.c) ----------------------------------------------------
 * Caps of `atcr-verify coverage` (over any: exit 2, naming it). */
#define CLI_COV_MAX_INPUT (64u << 20) /* bytes of input, file or standard input */
#define CLI_COV_MAX_ROWS 65536u       /* images listed (rows of the table) */
#define CLI_COV_MAX_IMAGES 4096u      /* distinct images verified */
#define CLI_COV_MAX_JOBS 32u          /* --jobs */
#define CLI_COV_DEFAULT_JOBS 4u
#define CLI_COV_MAX_DECIMALS 6u       /* digits after the point of --fail-under */

/* The five words of the table, from the image verdict alone. */
enum cli_cov_class {
    CLI_COV_MET = 0,      /* allowed, met, and a signature was required */
    CLI_COV_NOT_REQUIRED, /* the policy asks for no signature */
    CLI_COV_AUDIT,        /* not met, allowed by an audit policy */
    CLI_COV_REFUSED,      /* not met, definite (POLICY_DENIED included) */
    CLI_COV_ERROR         /* not met, and a retry could change that */
};
enum cli_cov_class atv_cli_cov_class(const struct atv_vfy_image *v);
/* "met", "not required", "audit", "refused", "error"; never NULL. */
const char *atv_cli_cov_class_name(enum cli_cov_class c);

/* One image found in the input: one row of the table. */
struct cli_cov_row {
    char *ns, *pod, *container, *image; /* new; "" when unknown (a plain list) */
    const char *field; /* static: kube's "containers", "initContainers", ...; "" */
    size_t img;        /* its distinct image */
};
struct cli_cov_tally {
    size_t distinct; /* distinct images */
    size_t required; /* of which a policy requires a signature: M */
    size_t met;      /* of which meet it: N */
};
struct cli_cov_ns {
    const char *ns; /* borrow (a row's), "" for rows without one */
    struct cli_cov_tally t;
};
/* Counts distinct images overall and per namespace (an image is counted once
 * in each namespace that runs it). In: rows (each img < n_img), cls[n_img].
 * Out: *all; *by (new: free(3); NULL when n_by is 0) sorted by namespace.
 * Returns ATV_OK, ATV_E_NOMEM, ATV_E_USAGE (an img out of range). */
ATV_MUST_USE enum atv_status atv_cli_cov_summary(const struct cli_cov_row *rows, size_t n_rows,
                                                 const enum cli_cov_class *cls, size_t n_img,
                                                 struct cli_cov_tally *all, struct cli_cov_ns **by,
                                                 size_t *n_by, struct atv_err *err);

/* A --fail-under PERCENT exactly: num / den percent, den a power of ten. */
struct cli_cov_pct {
    uint64_t num, den;
};
/* Parses "80", "99.5", "0.125", "100.0": digits, then optionally '.' and 1 to
 * CLI_COV_MAX_DECIMALS digits, at most 100. No sign, exponent, blank or
 * leading '.'. Returns 1 (out set) or 0 (out zeroed). */
int atv_cli_cov_pct_parse(const char *s, struct cli_cov_pct *out);
/* Coverage in tenths of a percent, rounded down (never more than holds);
 * required 0: 1000. */
unsigned atv_cli_cov_tenths(size_t met, size_t required);
/* 1 when met / required is strictly below p (exact; required 0 is 100%). */
int atv_cli_cov_below(size_t met, size_t required, const struct cli_cov_pct *p);

int atv_cli_coverage(int argc, char **argv, FILE *out, FILE *errs);

int atv_cli_image(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_discover(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_bundle(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_serve(int argc, char **argv, FILE *out, FILE *errs); /* cli/serve.c */
/* containerd's image-verifier protocol (cli/containerd.c) */
int atv_cli_containerd(int argc, char **argv, FILE *out, FILE *errs);

#endif
