/* verify/bundle.c: evidence bundles, everything one verification fetched.
 *
 * A bundle is a flat list of (kind, key) -> bytes with the HTTP status and
 * the time each was fetched. Registry bodies are named by digest and are
 * re-hashed when used, and proofs are re-verified, so a tampered bundle
 * fails like a tampered server; the DID documents are the evidence that
 * offline use takes on trust (README.md "Offline bundles"). */
/* realpath(3) is XSI */
#define _XOPEN_SOURCE 700

#include "verify/verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
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
    size_t i, add_n = 0;
    int64_t add_bytes = 0;

    /* all or nothing: what dst would hold is counted before anything is copied */
    for (i = 0; i < src->n; i++) {
        const struct entry *e = &src->e[i], *have = find(dst, e->kind, e->key);
        if (have == NULL) {
            add_n++;
            add_bytes += (int64_t)e->len;
        } else if (e->fetched_at > have->fetched_at) {
            add_bytes += (int64_t)e->len - (int64_t)have->len;
        }
    }
    if (dst->n + add_n > ATV_MAX_BUNDLE_ENTRIES) {
        return atv_err_set(err, ATV_E_LIMIT, "bundle: over %u entries in all",
                           ATV_MAX_BUNDLE_ENTRIES);
    }
    if (add_bytes > 0 && (uint64_t)add_bytes > ATV_MAX_BUNDLE_DATA - dst->total) {
        return atv_err_set(err, ATV_E_LIMIT, "bundle: over %u bytes of evidence in all",
                           ATV_MAX_BUNDLE_DATA);
    }
    for (i = 0; i < src->n; i++) {
        const struct entry *e = &src->e[i], *have = find(dst, e->kind, e->key);
        enum atv_status rc;
        /* the newer evidence of two for one key is kept */
        if (have != NULL && have->fetched_at >= e->fetched_at) {
            continue;
        }
        rc = atv_vfy_bundle_put(dst, e->kind, e->key, e->status,
                                (struct atv_bytes){e->data, e->len}, e->fetched_at, err);
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
    if (json.len > ATV_MAX_BUNDLE_FILE) {
        return atv_err_set(err, ATV_E_LIMIT, "bundle: %zu bytes, at most %u", json.len,
                           ATV_MAX_BUNDLE_FILE);
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
    atv_buf_init(&text, ATV_MAX_BUNDLE_FILE);
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

/* The bundles of a directory to read: the first ATV_MAX_BUNDLE_FILES names
 * in byte order, whatever order readdir gives, so that which ones are read
 * never depends on the file system. */
struct pick {
    char names[ATV_MAX_BUNDLE_FILES][NAME_MAX + 1];
    size_t n;     /* names kept */
    size_t found; /* bundle names seen */
};

static void pick_add(struct pick *p, const char *name)
{
    size_t i, at = p->n;

    p->found++;
    if (strlen(name) > NAME_MAX) {
        return;
    }
    for (i = 0; i < p->n; i++) {
        if (strcmp(name, p->names[i]) < 0) {
            at = i;
            break;
        }
    }
    if (at == ATV_MAX_BUNDLE_FILES) {
        return;
    }
    if (p->n < ATV_MAX_BUNDLE_FILES) {
        p->n++;
    }
    for (i = p->n - 1; i > at; i--) {
        memcpy(p->names[i], p->names[i - 1], sizeof p->names[i]);
    }
    (void)snprintf(p->names[at], sizeof p->names[at], "%s", name);
}

static int past(uint64_t deadline_ms)
{
    return deadline_ms != 0 && atv_vfy_clock_ms() >= deadline_ms;
}

/* Reads one bundle of the directory into all; a file that cannot be used is
 * skipped with a warning (one bad file must not take the others' evidence
 * away). *read_total counts the bytes read from the directory so far. */
static void load_one(struct atv_vfy_bundle *all, int dfd, const char *root, const char *name,
                     size_t *read_total, const struct atv_vfy_log *log)
{
    size_t left = ATV_MAX_BUNDLE_DIR_BYTES - *read_total;
    struct atv_vfy_bundle *b = NULL;
    struct atv_buf text;
    struct atv_err e2;
    enum atv_status rc;

    atv_err_clear(&e2);
    atv_buf_init(&text, left < ATV_MAX_BUNDLE_FILE ? left : ATV_MAX_BUNDLE_FILE);
    rc = atv_buf_read_beneath(&text, dfd, root, name, &e2);
    if (rc == ATV_E_LIMIT && left < ATV_MAX_BUNDLE_FILE) {
        atv_err_clear(&e2);
        rc = atv_err_set(&e2, ATV_E_LIMIT,
                         "%s: the directory's bundles would exceed %u bytes in all", name,
                         ATV_MAX_BUNDLE_DIR_BYTES);
    }
    if (rc == ATV_OK) {
        *read_total += text.len;
        rc = atv_vfy_bundle_parse(atv_buf_view(&text), &b, &e2);
        if (rc == ATV_OK) {
            rc = atv_vfy_bundle_merge(all, b, &e2);
        }
        if (rc != ATV_OK) {
            atv_err_prefix(&e2, "%s", name);
        }
    }
    if (rc != ATV_OK) {
        atv_vfy_logf(log, ATV_VFY_WARN, "atproto: skipping bundle %s", e2.msg);
    }
    atv_vfy_bundle_free(b);
    atv_buf_cleanup(&text);
}

enum atv_status atv_vfy_bundle_load_dir(const char *dir, const struct atv_vfy_log *log,
                                        uint64_t deadline_ms, struct atv_vfy_bundle **out,
                                        struct atv_err *err)
{
    struct atv_vfy_bundle *all = NULL;
    struct pick *pick = NULL;
    struct dirent *de;
    char *root = NULL;
    size_t i, names = 0, read_total = 0;
    enum atv_status rc;
    DIR *d;

    *out = NULL;
    d = opendir(dir);
    if (d == NULL) {
        return atv_err_set(err, ATV_E_IO, "bundle directory %.200s cannot be read: %s", dir,
                           strerror(errno));
    }
    /* an absolute link is followed only under the directory's own path */
    root = realpath(dir, NULL);
    pick = calloc(1, sizeof *pick);
    rc = pick != NULL ? atv_vfy_bundle_new(&all, err)
                      : atv_err_set(err, ATV_E_NOMEM, "bundle directory: out of memory");
    while (rc == ATV_OK) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                rc = atv_err_set(err, ATV_E_IO, "bundle directory %.200s: %s", dir,
                                 strerror(errno));
            }
            break;
        }
        if (++names > ATV_MAX_BUNDLE_DIR_NAMES) {
            rc = atv_err_set(err, ATV_E_LIMIT, "bundle directory %.200s: over %u names", dir,
                             ATV_MAX_BUNDLE_DIR_NAMES);
        } else if (names % 1024u == 0 && past(deadline_ms)) {
            rc = atv_err_setr(err, ATV_E_IO, "timeout",
                              "bundle directory %.200s: the deadline passed while listing it",
                              dir);
            atv_err_transient(err);
        } else if (bundle_name(de->d_name)) {
            pick_add(pick, de->d_name);
        }
    }
    if (rc == ATV_OK && pick->found > ATV_MAX_BUNDLE_FILES) {
        atv_vfy_logf(log, ATV_VFY_WARN,
                     "atproto: bundle directory holds %zu bundles, more than %u: only the first "
                     "%u by name are read",
                     pick->found, ATV_MAX_BUNDLE_FILES, ATV_MAX_BUNDLE_FILES);
    }
    for (i = 0; rc == ATV_OK && i < pick->n; i++) {
        if (past(deadline_ms)) {
            rc = atv_err_setr(err, ATV_E_IO, "timeout",
                              "bundle directory %.200s: the deadline passed after %zu of %zu "
                              "bundles",
                              dir, i, pick->n);
            atv_err_transient(err);
            break;
        }
        load_one(all, dirfd(d), root, pick->names[i], &read_total, log);
    }
    (void)closedir(d);
    if (rc == ATV_OK) {
        *out = all;
        all = NULL;
    }
    atv_vfy_bundle_free(all);
    free(pick);
    free(root);
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
    if (rc == ATV_OK && strlen(*out) > ATV_MAX_BUNDLE_FILE) {
        /* never write a bundle that no verifier would read */
        rc = atv_err_set(err, ATV_E_LIMIT, "bundle: %zu bytes of JSON, at most %u", strlen(*out),
                         ATV_MAX_BUNDLE_FILE);
        free(*out);
        *out = NULL;
    }
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
