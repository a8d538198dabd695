/* kube/patch.c: RFC 6901 JSON pointers and RFC 6902 "replace" operations for
 * a mutating webhook's response.patch. */
#include "kube/kube.h"
#include "kube/kube_internal.h"

#include <stdlib.h>
#include <string.h>

/* RFC 3629 section 4: well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return 0;
        }
        if (k > n - i - 1) {
            return 0;
        }
        /* only the first continuation byte has the narrowed range */
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t j = 2; j <= k; j++) {
            if (s[i + j] < 0x80 || s[i + j] > 0xbf) {
                return 0;
            }
        }
        i += k + 1;
    }
    return 1;
}

int atv_kube_pointer_valid(const char *p)
{
    if (p == NULL) {
        return 0;
    }
    size_t n = strlen(p);
    /* RFC 6901 section 3: json-pointer = *( "/" reference-token ) */
    if (n > 0 && p[0] != '/') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        /* escaped = "~" ( "0" / "1" ) */
        if (p[i] == '~' && (i + 1 == n || (p[i + 1] != '0' && p[i + 1] != '1'))) {
            return 0;
        }
    }
    return utf8_ok((const unsigned char *)p, n);
}

enum atv_status atv_kube_pointer_append(char *ptr, size_t cap, const char *token,
                                        struct atv_err *err)
{
    if (ptr == NULL || token == NULL || cap == 0) {
        return atv_err_set(err, ATV_E_USAGE, "json pointer: NULL argument");
    }
    size_t len = strnlen(ptr, cap);
    if (len == cap) {
        return atv_err_set(err, ATV_E_USAGE, "json pointer: not terminated within %zu bytes",
                           cap);
    }
    size_t tn = strlen(token), need = 1 + tn;
    for (size_t i = 0; i < tn; i++) {
        if (token[i] == '~' || token[i] == '/') {
            need++;
        }
    }
    /* len < cap, so cap - len - 1 cannot wrap; the NUL needs the last byte */
    if (need > cap - len - 1) {
        return atv_err_set(err, ATV_E_LIMIT, "json pointer: %zu + %zu bytes, cap %zu", len, need,
                           cap - 1);
    }
    /* RFC 6901 section 4 reads "~1" as '/' then "~0" as '~'; writing is
     * the other way round, each character once. */
    size_t o = len;
    ptr[o++] = '/';
    for (size_t i = 0; i < tn; i++) {
        if (token[i] == '~') {
            ptr[o++] = '~';
            ptr[o++] = '0';
        } else if (token[i] == '/') {
            ptr[o++] = '~';
            ptr[o++] = '1';
        } else {
            ptr[o++] = token[i];
        }
    }
    ptr[o] = '\0';
    return ATV_OK;
}

/* A JSON string literal for s (new: free). NULL only when memory ran out. */
static char *json_lit(const char *s)
{
    json_t *v = json_string(s);
    char *out = NULL;
    if (v != NULL) {
        out = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    }
    json_decref(v);
    return out;
}

enum atv_status atv_kube_patch_replace(struct atv_buf *patch, const char *pointer,
                                       const char *value, struct atv_err *err)
{
    static const char op_head[] = "{\"op\":\"replace\",\"path\":";
    static const char op_mid[] = ",\"value\":";
    char *path = NULL, *val = NULL;
    struct atv_buf op;
    enum atv_status rc;

    atv_buf_init(&op, patch != NULL ? patch->max : 0);
    if (patch == NULL || pointer == NULL || value == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "json patch: NULL argument");
    }
    if (patch->len != 0 &&
        (patch->ptr == NULL || patch->ptr[0] != '[' || patch->ptr[patch->len - 1] != ']')) {
        return atv_err_set(err, ATV_E_USAGE, "json patch: the buffer holds no patch array");
    }
    size_t plen = strlen(pointer);
    if (plen == 0 || plen > ATV_KUBE_MAX_POINTER || !atv_kube_pointer_valid(pointer)) {
        return atv_err_set(err, ATV_E_USAGE,
                           "json patch: path (%zu bytes) is not a non-empty JSON pointer of at "
                           "most %u bytes",
                           plen, ATV_KUBE_MAX_POINTER);
    }
    if (!utf8_ok((const unsigned char *)value, strlen(value))) {
        return atv_err_set(err, ATV_E_USAGE, "json patch: value (%zu bytes) is not UTF-8",
                           strlen(value));
    }
    /* Both are valid UTF-8 without NUL, so jansson fails only for memory. */
    path = json_lit(pointer);
    val = json_lit(value);
    if (path == NULL || val == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "json patch: out of memory");
        goto out;
    }
    /* The operation alone first, then one append: patch is untouched unless
     * the whole of it fits. */
    rc = atv_buf_push(&op, patch->len == 0 ? '[' : ',', err);
    if (rc == ATV_OK) {
        rc = atv_buf_append(&op, op_head, sizeof op_head - 1, err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&op, path, strlen(path), err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&op, op_mid, sizeof op_mid - 1, err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&op, val, strlen(val), err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&op, "}]", 2, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    /* Over the closing ']' of a patch already there. */
    size_t keep = patch->len == 0 ? 0 : patch->len - 1;
    if (op.len > patch->max - keep) {
        rc = atv_err_set(err, ATV_E_LIMIT, "json patch: %zu + %zu bytes, cap %zu", keep, op.len,
                         patch->max);
        goto out;
    }
    size_t old = patch->len;
    patch->len = keep;
    rc = atv_buf_append(patch, op.ptr, op.len, err);
    if (rc != ATV_OK) {
        patch->len = old; /* the ']' was never overwritten */
    }
out:
    free(path);
    free(val);
    atv_buf_cleanup(&op);
    return rc;
}
