/* verify/bundle.c: evidence bundles, everything one verification fetched.
 *
 * A bundle is a flat list of (kind, key) -> bytes with the HTTP status and
 * the time each was fetched. Registry bodies are named by digest and are
 * re-hashed when used, and proofs are re-verified, so a tampered bundle
 * fails like a tampered server; the DID documents are the evidence that
 * offline use takes on trust (README.md "Offline bundles"). */
#include "verify/verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLE_FORMAT "atcr-verify-bundle"
#define BUNDLE_VERSION 2 /* 2: did:plc travels as its operation log (kind "plclog") */
#define BUNDLE_MAX_KEY 8192u

struct entry {
    enum atv_vfy_ev kind;
    char *key;
    long status;
    int64_t fetched_at;
    uint8_t *data;
    size_t len;
};

struct atv_vfy_bundle {
    size_t n, cap;
    struct entry *e;
    size_t total; /* bytes of data held, capped by ATV_VFY_MAX_BUNDLE */
};

static const char *const kind_names[] = {"", "tag", "referrers", "manifest", "blob", "diddoc",
                                         "record", "plclog"};

static int kind_from_name(const char *s, enum atv_vfy_ev *out)
{
    size_t i;
    for (i = 1; i < sizeof kind_names / sizeof kind_names[0]; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum atv_vfy_ev)i;
            return 1;
        }
    }
    return 0;
}

enum atv_status atv_vfy_bundle_new(struct atv_vfy_bundle **out, struct atv_err *err)
{
    *out = calloc(1, sizeof **out);
    return *out != NULL ? ATV_OK : atv_err_set(err, ATV_E_NOMEM, "bundle: out of memory");
}

void atv_vfy_bundle_free(struct atv_vfy_bundle *b)
{
    size_t i;
    if (b == NULL) {
        return;
    }
    for (i = 0; i < b->n; i++) {
        free(b->e[i].key);
        free(b->e[i].data);
    }
    free(b->e);
    free(b);
}

static struct entry *find(const struct atv_vfy_bundle *b, enum atv_vfy_ev kind, const char *key)
{
    size_t i;
    for (i = 0; i < b->n; i++) {
        if (b->e[i].kind == kind && strcmp(b->e[i].key, key) == 0) {
            return &b->e[i];
        }
    }
    return NULL;
}

enum atv_status atv_vfy_bundle_put(struct atv_vfy_bundle *b, enum atv_vfy_ev kind,
                                   const char *key, long status, struct atv_bytes data,
                                   int64_t fetched_at, struct atv_err *err)
{
    struct entry *e;
    uint8_t *copy;
    size_t klen = strlen(key);

    if (kind < ATV_VFY_EV_TAG || kind > ATV_VFY_EV_PLCLOG || klen == 0 || klen > BUNDLE_MAX_KEY) {
        return atv_err_set(err, ATV_E_USAGE, "bundle: bad entry kind or key");
    }
    e = find(b, kind, key);
    if (data.len > ATV_VFY_MAX_BUNDLE - (b->total - (e != NULL ? e->len : 0))) {
        return atv_err_set(err, ATV_E_LIMIT, "bundle: over %u bytes", ATV_VFY_MAX_BUNDLE);
    }
    copy = malloc(data.len > 0 ? data.len : 1);
    if (copy == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "bundle: out of memory");
    }
    if (data.len > 0) {
        memcpy(copy, data.ptr, data.len);
    }
    if (e == NULL) {
        if (b->n >= ATV_VFY_MAX_BUNDLE_ENTRIES) {
            free(copy);
            return atv_err_set(err, ATV_E_LIMIT, "bundle: over %u entries",
                               ATV_VFY_MAX_BUNDLE_ENTRIES);
        }
        if (b->n == b->cap) {
            size_t nc = b->cap == 0 ? 16 : b->cap * 2;
            struct entry *ne = realloc(b->e, nc * sizeof *ne);
            if (ne == NULL) {
                free(copy);
                return atv_err_set(err, ATV_E_NOMEM, "bundle: out of memory");
            }
            b->e = ne;
            b->cap = nc;
        }
        e = &b->e[b->n];
        memset(e, 0, sizeof *e);
        e->key = strdup(key);
        if (e->key == NULL) {
            free(copy);
            return atv_err_set(err, ATV_E_NOMEM, "bundle: out of memory");
        }
        e->kind = kind;
        b->n++;
    } else {
        b->total -= e->len;
        free(e->data);
    }
    e->data = copy;
    e->len = data.len;
    e->status = status;
    e->fetched_at = fetched_at;
    b->total += data.len;
    return ATV_OK;
}

enum atv_status atv_vfy_bundle_get(const struct atv_vfy_bundle *b, enum atv_vfy_ev kind,
                                   const char *key, long *status, struct atv_bytes *data,
                                   int64_t *fetched_at, struct atv_err *err)
{
    const struct entry *e = b != NULL ? find(b, kind, key) : NULL;
    data->ptr = NULL;
    data->len = 0;
    if (e == NULL) {
        return atv_err_setr(err, ATV_E_NOT_FOUND, "not_in_bundle", "the bundle holds no %s for %.200s",
                            kind >= ATV_VFY_EV_TAG && kind <= ATV_VFY_EV_PLCLOG ? kind_names[kind]
                                                                               : "entry",
                            key);
    }
    data->ptr = e->data;
    data->len = e->len;
    if (status != NULL) {
        *status = e->status;
    }
    if (fetched_at != NULL) {
        *fetched_at = e->fetched_at;
    }
    return ATV_OK;
}

size_t atv_vfy_bundle_count(const struct atv_vfy_bundle *b)
{
    return b != NULL ? b->n : 0;
}

enum atv_status atv_vfy_bundle_merge(struct atv_vfy_bundle *dst, const struct atv_vfy_bundle *src,
                                     struct atv_err *err)
{
    size_t i;
    for (i = 0; i < src->n; i++) {
        const struct entry *e = &src->e[i];
        enum atv_status rc = atv_vfy_bundle_put(dst, e->kind, e->key, e->status,
                                                (struct atv_bytes){e->data, e->len},
                                                e->fetched_at, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

/* ---- on disk ------------------------------------------------------------------ */

enum atv_status atv_vfy_bundle_parse(struct atv_bytes json, struct atv_vfy_bundle **out,
                                     struct atv_err *err)
{
    json_error_t jerr;
    json_t *root = NULL, *entries, *item;
    struct atv_vfy_bundle *b = NULL;
    struct atv_buf data;
    enum atv_status rc;
    size_t i;

    *out = NULL;
    atv_buf_init(&data, ATV_VFY_MAX_BUNDLE);
    if (json.len > ATV_VFY_MAX_BUNDLE * 2u) {
        return atv_err_set(err, ATV_E_LIMIT, "bundle: %zu bytes, at most %u", json.len,
                           ATV_VFY_MAX_BUNDLE * 2u);
    }
    root = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "bundle: not JSON (line %d column %d)", jerr.line,
                           jerr.column);
    }
    entries = json_object_get(root, "entries");
    if (!json_is_object(root) ||
        strcmp(json_string_value(json_object_get(root, "format")) != NULL
                   ? json_string_value(json_object_get(root, "format"))
                   : "",
               BUNDLE_FORMAT) != 0) {
        rc = atv_err_set(err, ATV_E_PARSE, "bundle: format is not %s", BUNDLE_FORMAT);
        goto out;
    }
    if (json_is_integer(json_object_get(root, "version")) &&
        json_integer_value(json_object_get(root, "version")) == 1) {
        /* version 1 carried DID documents, which a bundle's writer could make up */
        rc = atv_err_setr(err, ATV_E_UNSUPPORTED, "bundle_v1",
                          "bundle: version 1 carries DID documents, not did:plc operation logs, "
                          "and is no longer read: export it again with this version");
        goto out;
    }
    if (json_integer_value(json_object_get(root, "version")) != BUNDLE_VERSION ||
        !json_is_integer(json_object_get(root, "version"))) {
        rc = atv_err_set(err, ATV_E_UNSUPPORTED, "bundle: version, want %d", BUNDLE_VERSION);
        goto out;
    }
    if (!json_is_array(entries) || json_array_size(entries) > ATV_VFY_MAX_BUNDLE_ENTRIES) {
        rc = atv_err_set(err, ATV_E_PARSE, "bundle: entries: want an array of at most %u",
                         ATV_VFY_MAX_BUNDLE_ENTRIES);
        goto out;
    }
    rc = atv_vfy_bundle_new(&b, err);
    if (rc != ATV_OK) {
        goto out;
    }
    json_array_foreach(entries, i, item)
    {
        const char *kind = json_string_value(json_object_get(item, "kind"));
        const char *key = json_string_value(json_object_get(item, "key"));
        const char *d64 = json_string_value(json_object_get(item, "data"));
        json_t *st = json_object_get(item, "status"), *at = json_object_get(item, "fetchedAt");
        enum atv_vfy_ev k;

        if (!json_is_object(item) || json_object_size(item) != 5 || kind == NULL ||
            !kind_from_name(kind, &k) || key == NULL || d64 == NULL || !json_is_integer(st) ||
            !json_is_integer(at) || json_integer_value(st) < 0 ||
            json_integer_value(st) > 999 || json_integer_value(at) < 0) {
            rc = atv_err_set(err, ATV_E_PARSE,
                             "bundle: entries[%zu]: want kind, key, status, fetchedAt, data", i);
            goto out;
        }
        if (find(b, k, key) != NULL) {
            rc = atv_err_set(err, ATV_E_PARSE, "bundle: entries[%zu]: duplicate %s %.100s", i,
                             kind, key);
            goto out;
        }
        data.len = 0;
        rc = atv_base64_decode(d64, strlen(d64), &data, err);
        if (rc == ATV_OK) {
            rc = atv_vfy_bundle_put(b, k, key, (long)json_integer_value(st), atv_buf_view(&data),
                                    (int64_t)json_integer_value(at), err);
        }
        if (rc != ATV_OK) {
            atv_err_prefix(err, "bundle: entries[%zu]", i);
            goto out;
        }
    }
    *out = b;
    b = NULL;
out:
    atv_vfy_bundle_free(b);
    atv_buf_cleanup(&data);
    json_decref(root);
    return rc;
}

enum atv_status atv_vfy_bundle_load(const char *path, struct atv_vfy_bundle **out,
                                    struct atv_err *err)
{
    struct atv_buf text;
    enum atv_status rc;
    atv_buf_init(&text, ATV_VFY_MAX_BUNDLE * 2u);
    *out = NULL;
    rc = atv_buf_read_file(&text, path, err);
    if (rc == ATV_OK) {
        rc = atv_vfy_bundle_parse(atv_buf_view(&text), out, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "%s", path);
        }
    }
    atv_buf_cleanup(&text);
    return rc;
}

static int bundle_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0 && name[0] != '.';
}

enum atv_status atv_vfy_bundle_load_dir(const char *dir, const struct atv_vfy_log *log,
                                        struct atv_vfy_bundle **out, struct atv_err *err)
{
    struct atv_vfy_bundle *all = NULL, *b = NULL;
    char path[ATV_VFY_MAX_PATH + 300];
    struct dirent *de;
    unsigned n = 0;
    enum atv_status rc;
    DIR *d;

    *out = NULL;
    d = opendir(dir);
    if (d == NULL) {
        return atv_err_set(err, ATV_E_IO, "bundle directory %.200s cannot be read", dir);
    }
    rc = atv_vfy_bundle_new(&all, err);
    while (rc == ATV_OK && (de = readdir(d)) != NULL) {
        struct atv_err e2;
        int w;
        if (!bundle_name(de->d_name)) {
            continue;
        }
        if (++n > ATV_VFY_MAX_BUNDLE_FILES) {
            atv_vfy_logf(log, ATV_VFY_WARN,
                         "atproto: bundle directory holds more than %u bundles; the rest are "
                         "ignored",
                         ATV_VFY_MAX_BUNDLE_FILES);
            break;
        }
        atv_err_clear(&e2);
        w = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (w < 0 || (size_t)w >= sizeof path || atv_vfy_bundle_load(path, &b, &e2) != ATV_OK ||
            atv_vfy_bundle_merge(all, b, &e2) != ATV_OK) {
            /* one bad file must not take the others' evidence away */
            atv_vfy_logf(log, ATV_VFY_WARN, "atproto: skipping bundle %s: %s", de->d_name,
                         e2.msg[0] != '\0' ? e2.msg : "path too long");
        }
        atv_vfy_bundle_free(b);
        b = NULL;
    }
    (void)closedir(d);
    if (rc == ATV_OK) {
        *out = all;
        all = NULL;
    }
    atv_vfy_bundle_free(all);
    return rc;
}

static enum atv_status to_json(const struct atv_vfy_bundle *b, int64_t now, char **out,
                               struct atv_err *err)
{
    json_t *root = json_object(), *arr = json_array();
    struct atv_buf b64;
    enum atv_status rc = ATV_E_NOMEM;
    size_t i;

    *out = NULL;
    atv_buf_init(&b64, ATV_VFY_MAX_BUNDLE * 2u);
    if (root == NULL || arr == NULL || json_object_set_new(root, "format", json_string(BUNDLE_FORMAT)) ||
        json_object_set_new(root, "version", json_integer(BUNDLE_VERSION)) ||
        json_object_set_new(root, "createdAt", json_integer((json_int_t)now))) {
        goto out;
    }
    for (i = 0; i < b->n; i++) {
        const struct entry *e = &b->e[i];
        json_t *o;
        b64.len = 0;
        /* padded (RFC 4648 section 4), so that base64 -d and jq's @base64d read it */
        if (atv_base64_encode((struct atv_bytes){e->data, e->len}, &b64, err) != ATV_OK ||
            (b64.len % 4 != 0 && atv_buf_append(&b64, "==", 4 - b64.len % 4, err) != ATV_OK) ||
            atv_buf_terminate(&b64, err) != ATV_OK) {
            rc = ATV_E_LIMIT;
            goto out;
        }
        o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "kind", kind_names[e->kind], "key", e->key,
                      "status", (json_int_t)e->status, "fetchedAt", (json_int_t)e->fetched_at,
                      "data", (const char *)b64.ptr);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            goto out;
        }
    }
    if (json_object_set(root, "entries", arr) != 0) {
        goto out;
    }
    *out = json_dumps(root, JSON_INDENT(1));
    rc = *out != NULL ? ATV_OK : ATV_E_NOMEM;
out:
    if (rc == ATV_E_NOMEM) {
        (void)atv_err_set(err, ATV_E_NOMEM, "bundle: out of memory");
    }
    atv_buf_cleanup(&b64);
    json_decref(arr);
    json_decref(root);
    return rc;
}

enum atv_status atv_vfy_bundle_save(const struct atv_vfy_bundle *b, const char *path, int64_t now,
                                    struct atv_err *err)
{
    char tmp[ATV_VFY_MAX_PATH + 16];
    char *text = NULL;
    enum atv_status rc;
    size_t len, off = 0;
    int fd = -1;

    rc = to_json(b, now, &text, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        free(text);
        return atv_err_set(err, ATV_E_USAGE, "bundle: path too long");
    }
    /* a temporary file beside the target, then rename: never a half-written bundle */
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = atv_err_set(err, ATV_E_IO, "bundle: cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    len = strlen(text);
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) {
            rc = atv_err_set(err, ATV_E_IO, "bundle: writing %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = atv_err_set(err, ATV_E_IO, "bundle: writing %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = atv_err_set(err, ATV_E_IO, "bundle: rename to %s: %s", path, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    if (rc != ATV_OK && tmp[0] != '\0') {
        (void)unlink(tmp);
    }
    free(text);
    return rc;
}
