/* cli/cli_internal.h: the image commands (cli/image.c) and serve (cli/serve.c),
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
enum { CLI_MODE_IMAGE = 0, CLI_MODE_EXPORT, CLI_MODE_SERVE, CLI_MODE_COVERAGE };
/* Parses argv (cli/image.c). Returns -1 to go on, else the exit code. */
int atv_cli_parse_opts(int argc, char **argv, const char *cmd, const char *help, int mode,
                       const struct cli_extra *extra, struct image_opts *o, FILE *out,
                       FILE *errs);

/* --offline: the bundle (--bundle FILE, or every bundle of --bundle-dir, read
 * once) into *b (new: atv_vfy_bundle_free), NULL when online. Returns 1, or
 * 0 after printing why. */
int atv_cli_load_offline(struct image_opts *o, struct atv_vfy_bundle **b, FILE *errs);

int atv_cli_image(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_discover(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_bundle(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_serve(int argc, char **argv, FILE *out, FILE *errs); /* cli/serve.c */

#endif
