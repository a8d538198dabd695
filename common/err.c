/* common/err.c: the error record (see common/err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void atv_err_clear(struct atv_err *err)
{
    if (err == NULL) {
        return;
    }
    err->code = ATV_OK;
    err->reason = NULL;
    err->transient = 0;
    err->msg[0] = '\0';
}

void atv_err_transient(struct atv_err *err)
{
    if (err != NULL && err->code != ATV_OK) {
        err->transient = 1;
    }
}

static enum atv_status err_vset(struct atv_err *err, enum atv_status code, const char *reason,
                                const char *fmt, va_list ap) ATV_PRINTF(4, 0);

static enum atv_status err_vset(struct atv_err *err, enum atv_status code, const char *reason,
                                const char *fmt, va_list ap)
{
    if (err == NULL || err->code != ATV_OK) {
        return code;
    }
    err->code = code;
    if (err->reason == NULL) {
        err->reason = reason;
    }
    /* A truncated message is still a useful message. */
    (void)vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

enum atv_status atv_err_set(struct atv_err *err, enum atv_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum atv_status rc = err_vset(err, code, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

enum atv_status atv_err_setr(struct atv_err *err, enum atv_status code, const char *reason,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum atv_status rc = err_vset(err, code, reason, fmt, ap);
    va_end(ap);
    return rc;
}

void atv_err_prefix(struct atv_err *err, const char *fmt, ...)
{
    char pre[128];
    va_list ap;

    if (err == NULL || err->code == ATV_OK) {
        return;
    }
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t plen = strlen(pre);
    pre[plen++] = ':';
    pre[plen++] = ' ';
    size_t cap = sizeof err->msg;
    size_t mlen = strlen(err->msg);
    if (plen >= cap) {
        return;
    }
    if (mlen > cap - 1 - plen) {
        mlen = cap - 1 - plen; /* keep the start of the old message */
    }
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, pre, plen); /* plen < cap checked above */
    err->msg[plen + mlen] = '\0';
}

const char *atv_status_name(enum atv_status code)
{
    switch (code) {
    case ATV_OK:
        return "ok";
    case ATV_E_NOMEM:
        return "nomem";
    case ATV_E_IO:
        return "io";
    case ATV_E_LIMIT:
        return "limit";
    case ATV_E_PARSE:
        return "parse";
    case ATV_E_UNSUPPORTED:
        return "unsupported";
    case ATV_E_NOT_FOUND:
        return "not_found";
    case ATV_E_VERIFY:
        return "verify";
    case ATV_E_USAGE:
        return "usage";
    case ATV_E_INTERNAL:
        return "internal";
    default:
        return "unknown";
    }
}

void atv_hex_prefix(const unsigned char *p, size_t n, size_t max, char *out, size_t cap)
{
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;

    if (cap == 0) {
        return;
    }
    for (size_t i = 0; i < n && i < max && o + 2 < cap; i++) {
        out[o++] = hx[p[i] >> 4];
        out[o++] = hx[p[i] & 15];
    }
    if (n > max && o + 3 < cap) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
}
