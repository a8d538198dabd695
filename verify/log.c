/* verify/log.c: log lines Ratify can read.
 *
 * Ratify v1.4 (pkg/common/plugin/exec.go) scans stderr+stdout line by line:
 * a line holding '{' is decoded as JSON, so one stray brace in a log line
 * can corrupt or drop the verdict; an unterminated last line merges with
 * the JSON. Every line therefore gets a level prefix, braces become
 * parentheses, control bytes become spaces, and a newline ends it. */
#include "verify/verify_internal.h"

#include <stdarg.h>
#include <string.h>

void atv_vfy_logf(const struct atv_vfy_log *log, enum atv_vfy_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"debug: ", "info: ", "warn: "};
    char line[ATV_VFY_MAX_LOG_LINE];
    size_t plen, i, n;
    va_list ap;
    int w;

    if (log == NULL || log->f == NULL || (level == ATV_VFY_DEBUG && !log->debug) ||
        (level == ATV_VFY_INFO && log->quiet)) {
        return;
    }
    if ((unsigned)level > (unsigned)ATV_VFY_WARN) {
        level = ATV_VFY_WARN;
    }
    plen = strlen(prefix[level]);
    memcpy(line, prefix[level], plen);
    va_start(ap, fmt);
    /* room for the prefix, the newline and the NUL */
    w = vsnprintf(line + plen, sizeof line - plen - 1, fmt, ap);
    va_end(ap);
    if (w < 0) {
        return;
    }
    n = plen + strlen(line + plen);
    for (i = plen; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '{') {
            line[i] = '(';
        } else if (c == '}') {
            line[i] = ')';
        } else if (c < 0x20 || c == 0x7f) {
            line[i] = ' ';
        }
    }
    line[n] = '\n';
    (void)fwrite(line, 1, n + 1, log->f);
    (void)fflush(log->f);
}

int vfy_bprintf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int w;
    va_start(ap, fmt);
    w = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    return w >= 0 && (size_t)w < cap;
}

enum atv_status vfy_policy_load(const struct atv_vfy_params *p, struct atv_policy **out,
                                struct atv_err *err)
{
    *out = NULL;
    if (p->trust_policy[0] != '\0' && p->has_trusted) {
        return atv_err_set(err, ATV_E_PARSE,
                           "parameters trustedDIDs and trustPolicy are both set; give one of "
                           "them");
    }
    if (p->trust_policy[0] != '\0') {
        return atv_policy_load_file(p->trust_policy, out, err);
    }
    return atv_policy_from_dids((const char *const *)p->trusted_dids, p->n_trusted, out, err);
}
