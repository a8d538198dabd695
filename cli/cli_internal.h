/* cli/cli_internal.h: the image commands (cli/image.c), dispatched by cli.c.
 * Each takes argv with argv[0] the command (or the program for IMAGE). */
#ifndef ATV_CLI_CLI_INTERNAL_H
#define ATV_CLI_CLI_INTERNAL_H

#include "cli/cli.h"

int atv_cli_image(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_discover(int argc, char **argv, FILE *out, FILE *errs);
int atv_cli_bundle(int argc, char **argv, FILE *out, FILE *errs);

#endif
