/* plugin/plugin.h: the Ratify v1.x verifier-plugin protocol for `atproto`.
 * See ../shared/reference/ratify-protocol.md for the protocol facts.
 *
 * One invocation: the environment (RATIFY_VERIFIER_COMMAND, _SUBJECT,
 * _VERSION, RATIFY_LOG_LEVEL) and one JSON request on stdin
 * ({"config","storeConfig","referenceDesc"}) in; exactly one JSON line out.
 * A verification outcome of any kind is a VerifierResult and exit 0; only a
 * request that is not a plugin request at all is a protocol error
 * {"code":N,"msg":...} with exit 1. */
#ifndef ATV_PLUGIN_PLUGIN_H
#define ATV_PLUGIN_PLUGIN_H

#include <stdint.h>
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

struct atv_plugin_req; /* opaque: the typed request */

/* Checks the environment and parses stdin into *req (new: atv_plugin_req_free).
 * Returns 0 with *req set (a request whose fields are wrong still parses:
 * its verdict will be BAD_REQUEST), or 1 with a protocol error line in out
 * and *req NULL. */
int atv_plugin_parse(struct atv_bytes stdin_bytes, struct atv_plugin_req **req,
                     struct atv_buf *out);
void atv_plugin_req_free(struct atv_plugin_req *req);

/* The answer deadline of this request (its timeoutMs, default 2500). */
uint32_t atv_plugin_timeout_ms(const struct atv_plugin_req *req);
/* Writes into out the verdict to print if the deadline passes first
 * (isSuccess false, reason TIMEOUT), so a watchdog can print it without
 * allocating. Returns 0 on success. */
int atv_plugin_timeout_line(const struct atv_plugin_req *req, struct atv_buf *out);

/* Verifies and writes the VerifierResult line into out; logs to `log`.
 * Returns the exit code (0). */
int atv_plugin_verify(struct atv_plugin_req *req, struct atv_buf *out, FILE *log);

/* parse + verify: one whole invocation (tests use it). Returns the exit code. */
int atv_plugin_run(struct atv_bytes stdin_bytes, struct atv_buf *out, FILE *log);

#endif
