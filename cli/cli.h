/* cli/cli.h: the atcr-verify command line, callable from tests. */
#ifndef ATV_CLI_CLI_H
#define ATV_CLI_CLI_H

#include <stdio.h>

/* Exit codes, documented in README.md and atcr-verify --help. */
#define ATV_CLI_OK 0       /* verified */
#define ATV_CLI_REJECT 1   /* checked, and not verified */
#define ATV_CLI_USAGE 2    /* bad command line, unreadable file, malformed key */

/* Runs atcr-verify with argv. Only `out` gets results; diagnostics go to `errs`.
 * Returns the process exit code. */
int atv_cli_run(int argc, char **argv, FILE *out, FILE *errs);

#endif
