/* plugin/plugin.h: the Ratify v1.x verifier-plugin protocol for `atproto`.
 * See ../shared/reference/ratify-protocol.md for the protocol facts. */
#ifndef ATV_PLUGIN_PLUGIN_H
#define ATV_PLUGIN_PLUGIN_H

#include <stdio.h>

#include "common/buf.h"

/* Ratify's plugin error codes (pkg/common/plugin/types.go, iota order). */
enum atv_plugin_code {
    ATV_PLUGIN_ERR_UNKNOWN = 0,
    ATV_PLUGIN_ERR_CONFIG_PARSING = 1,
    ATV_PLUGIN_ERR_INVALID_CONFIG = 2,
    ATV_PLUGIN_ERR_UNKNOWN_COMMAND = 3,
    ATV_PLUGIN_ERR_MISSING_ENV = 4,
    ATV_PLUGIN_ERR_IO = 5,
    ATV_PLUGIN_ERR_VERSION = 6,
    ATV_PLUGIN_ERR_INTERNAL = 999
};

/* Runs one plugin invocation: env is read with getenv, stdin is the request
 * bytes. Writes exactly one single-line JSON document into *out (new: caller
 * cleans up) and log lines to `log`. Returns the process exit code: 0 with a
 * VerifierResult, 1 with a protocol error {"code","msg"}. */
int atv_plugin_run(struct atv_bytes stdin_bytes, struct atv_buf *out, FILE *log);

#endif
