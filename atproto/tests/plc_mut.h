/* atproto/tests/plc_mut.h: helpers of the PLC log tests that mutate logs
 * (test_plc.c, test_plc_gen.c): an operation's `sig` as bytes and back
 * (base64url without padding, as the log carries it), an entry's cid
 * recomputed after a mutation, and a mutated tree verified. Included by
 * test sources only, after common/test.h and atproto/atproto.h. */
#ifndef ATV_TESTS_PLC_MUT_H
#define ATV_TESTS_PLC_MUT_H

#include "common/buf.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct atv_bytes sv(const char *s)
{
    struct atv_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static char *b64url(const uint8_t *p, size_t n)
{
    struct atv_buf b;
    struct atv_bytes v = {p, n};
    char *s = NULL;
    atv_buf_init(&b, 1024);
    if (atv_base64_encode(v, &b, NULL) == ATV_OK && atv_buf_terminate(&b, NULL) == ATV_OK) {
        for (size_t i = 0; i < b.len; i++) {
            b.ptr[i] = b.ptr[i] == '+' ? '-' : b.ptr[i] == '/' ? '_' : b.ptr[i];
        }
        s = (char *)atv_buf_take(&b, NULL);
    }
    atv_buf_cleanup(&b);
    return s;
}

/* The 64 bytes of an operation's sig (base64url), or 0. */
static int sig_bytes(json_t *op, uint8_t out[64])
{
    const char *s = json_string_value(json_object_get(op, "sig"));
    char std[128];
    struct atv_buf b;
    int ok = 0;
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n >= sizeof std) {
        return 0;
    }
    for (size_t i = 0; i <= n; i++) {
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    }
    atv_buf_init(&b, 128);
    if (atv_base64_decode(std, n, &b, NULL) == ATV_OK && b.len == 64) {
        memcpy(out, b.ptr, 64);
        ok = 1;
    }
    atv_buf_cleanup(&b);
    return ok;
}

static void set_sig(json_t *op, const uint8_t *sig, size_t n)
{
    char *s = b64url(sig, n);
    if (s != NULL) {
        json_object_set_new(op, "sig", json_string(s));
    }
    free(s);
}

/* Sets the entry's cid to the CID of its (mutated) operation, so a mutation
 * reaches the rules after the CID check. */
static void fix_cid(json_t *log, size_t i)
{
    json_t *e = json_array_get(log, i);
    char *op = json_dumps(json_object_get(e, "operation"), JSON_COMPACT);
    char cid[ATV_CID_STR_CAP];
    struct atv_err err;
    atv_err_clear(&err);
    if (op == NULL || atv_atp_plc_op_cid(sv(op), cid, NULL, NULL, &err) != ATV_OK) {
        DIAG("fix_cid %zu: %s", i, err.msg);
        free(op);
        return;
    }
    free(op);
    json_object_set_new(e, "cid", json_string(cid));
}

/* Verifies a JSON tree for did; returns the status, fills *st and *err. */
static enum atv_status verify_tree(json_t *log, const char *did, struct atv_plc_state *st,
                                   struct atv_err *err)
{
    char *s = json_dumps(log, JSON_COMPACT);
    enum atv_status rc;
    atv_err_clear(err);
    if (s == NULL) {
        return ATV_E_NOMEM;
    }
    rc = atv_atp_plc_log_verify(sv(s), did, st, err);
    free(s);
    return rc;
}

#endif
