/* common/buf.c: views, capped buffers, bounded readers, and the small
 * encodings every module needs (SHA-256, base64, hex). */
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 but call the
 * implementation directly; the one-shot SHA256() goes through EVP_Q_digest
 * and fetches the algorithm on every call, about a third of the hashing cost
 * of a proof check (bench/README.md). They remain in every 3.x release. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "common/buf.h"
#include "common/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct atv_bytes atv_bytes_str(const char *s)
{
    struct atv_bytes b = {(const uint8_t *)s, s != NULL ? strlen(s) : 0};
    return b;
}

int atv_bytes_eq(struct atv_bytes a, struct atv_bytes b)
{
    if (a.len != b.len) {
        return 0;
    }
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

int atv_bytes_eq_str(struct atv_bytes a, const char *s)
{
    return atv_bytes_eq(a, atv_bytes_str(s));
}

void atv_buf_init(struct atv_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void atv_buf_cleanup(struct atv_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Makes room for n more bytes plus a terminating NUL. */
static enum atv_status buf_reserve(struct atv_buf *b, size_t n, struct atv_err *err)
{
    if (n > b->max - b->len) {
        return atv_err_set(err, ATV_E_LIMIT, "buffer: %zu + %zu bytes exceeds the cap of %zu",
                           b->len, n, b->max);
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return ATV_OK;
    }
    size_t cap = b->cap != 0 ? b->cap : 64;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    uint8_t *p = realloc(b->ptr, cap);
    if (p == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "buffer: out of memory for %zu bytes", cap);
    }
    b->ptr = p;
    b->cap = cap;
    return ATV_OK;
}

enum atv_status atv_buf_append(struct atv_buf *b, const void *p, size_t n, struct atv_err *err)
{
    enum atv_status rc = buf_reserve(b, n, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->ptr + b->len, p, n); /* reserved above */
    }
    b->len += n;
    return ATV_OK;
}

enum atv_status atv_buf_push(struct atv_buf *b, uint8_t c, struct atv_err *err)
{
    return atv_buf_append(b, &c, 1, err);
}

enum atv_status atv_buf_terminate(struct atv_buf *b, struct atv_err *err)
{
    enum atv_status rc = buf_reserve(b, 0, err);
    if (rc != ATV_OK) {
        return rc;
    }
    b->ptr[b->len] = '\0';
    return ATV_OK;
}

struct atv_bytes atv_buf_view(const struct atv_buf *b)
{
    struct atv_bytes v = {b->ptr, b->len};
    return v;
}

uint8_t *atv_buf_take(struct atv_buf *b, size_t *len)
{
    uint8_t *p = b->ptr;
    if (len != NULL) {
        *len = b->len;
    }
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

enum atv_status atv_buf_read_fd(struct atv_buf *b, int fd, struct atv_err *err)
{
    uint8_t chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return atv_err_set(err, ATV_E_IO, "read: %s", strerror(errno));
        }
        if (n == 0) {
            return atv_buf_terminate(b, err);
        }
        enum atv_status rc = atv_buf_append(b, chunk, (size_t)n, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
}

/* What a file that is not regular is, for messages. */
static const char *file_kind(mode_t m)
{
    if (S_ISFIFO(m)) {
        return "a FIFO";
    }
    if (S_ISSOCK(m)) {
        return "a socket";
    }
    if (S_ISCHR(m)) {
        return "a character device";
    }
    if (S_ISBLK(m)) {
        return "a block device";
    }
    if (S_ISDIR(m)) {
        return "a directory";
    }
    return "not a file";
}

/* Reads fd (opened O_NONBLOCK, closed here) when fstat calls it a regular
 * file no larger than what b may still take; what is opened is judged, never
 * the path. name is for messages. */
static enum atv_status read_opened(struct atv_buf *b, int fd, const char *name,
                                   struct atv_err *err)
{
    struct stat st;
    enum atv_status rc;
    int flags;

    if (fstat(fd, &st) != 0) {
        rc = atv_err_set(err, ATV_E_IO, "%s: %s", name, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = atv_err_setr(err, ATV_E_IO, "not_regular", "%s: not a regular file (%s)", name,
                          file_kind(st.st_mode));
        goto out;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > b->max - b->len) {
        rc = atv_err_set(err, ATV_E_LIMIT, "%s: %lld bytes, at most %zu", name,
                         (long long)st.st_size, b->max - b->len);
        goto out;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        rc = atv_err_set(err, ATV_E_IO, "%s: %s", name, strerror(errno));
        goto out;
    }
    /* the size is checked again while reading: the file may grow */
    rc = atv_buf_read_fd(b, fd, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "%s", name);
    }
out:
    (void)close(fd);
    return rc;
}

enum atv_status atv_buf_read_file(struct atv_buf *b, const char *path, struct atv_err *err)
{
    /* O_NONBLOCK: opening a FIFO without a writer (or a device) must not
     * block; what was opened is then judged by fstat, never by the path */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return atv_err_set(err, ATV_E_IO, "%s: %s", path, strerror(errno));
    }
    return read_opened(b, fd, path, err);
}

/* ---- a file beneath a directory ------------------------------------------------ */

struct beneath {
    int base;                          /* the directory (the caller's fd) */
    int fds[ATV_MAX_BENEATH_DEPTH];    /* directories descended into, owned */
    size_t depth;
    char rest[ATV_MAX_BENEATH_PATH];   /* what is left to resolve */
};

static int beneath_cur(const struct beneath *w)
{
    return w->depth > 0 ? w->fds[w->depth - 1] : w->base;
}

static void beneath_reset(struct beneath *w)
{
    while (w->depth > 0) {
        (void)close(w->fds[--w->depth]);
    }
}

/* rest = head + tail, where tail may point into rest. 0 when it does not fit. */
static int beneath_splice(struct beneath *w, const char *head, const char *tail)
{
    char tmp[ATV_MAX_BENEATH_PATH];
    int n = snprintf(tmp, sizeof tmp, "%s%s", head, tail);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return 0;
    }
    memcpy(w->rest, tmp, (size_t)n + 1);
    return 1;
}

/* A link's target: relative ones continue from where the link is; absolute
 * ones only under root, and then from the directory itself. */
static enum atv_status beneath_link(struct beneath *w, const char *name, const char *comp,
                                    const char *tail, const char *root, struct atv_err *err)
{
    char target[ATV_MAX_BENEATH_PATH];
    size_t rl = root != NULL ? strlen(root) : 0;
    ssize_t n = readlinkat(beneath_cur(w), comp, target, sizeof target - 1);

    if (n < 0 || (size_t)n >= sizeof target - 1) {
        return atv_err_set(err, ATV_E_IO, "%s: link %s cannot be read", name, comp);
    }
    target[n] = '\0';
    if (target[0] == '/') {
        /* root is canonical and has no trailing slash (but "/" itself has one) */
        while (rl > 1 && root[rl - 1] == '/') {
            rl--;
        }
        if (rl == 0 || strncmp(target, root, rl) != 0 ||
            (target[rl] != '/' && target[rl] != '\0' && !(rl == 1 && root[0] == '/'))) {
            return atv_err_setr(err, ATV_E_IO, "outside_dir",
                                "%s: symbolic link %s leads outside the directory", name, comp);
        }
        beneath_reset(w);
        if (!beneath_splice(w, target + rl, tail)) {
            return atv_err_set(err, ATV_E_IO, "%s: path over %u bytes", name,
                               ATV_MAX_BENEATH_PATH);
        }
        return ATV_OK;
    }
    if (!beneath_splice(w, target, tail)) {
        return atv_err_set(err, ATV_E_IO, "%s: path over %u bytes", name, ATV_MAX_BENEATH_PATH);
    }
    return ATV_OK;
}

/* Opens name beneath w->base (see atv_buf_read_beneath). Out: *fd (owned). */
static enum atv_status beneath_open(struct beneath *w, const char *root, const char *name,
                                    int *fd, struct atv_err *err)
{
    char last_link[65] = "";
    unsigned links = 0;
    struct stat st;

    *fd = -1;
    if (!beneath_splice(w, name, "")) {
        return atv_err_set(err, ATV_E_IO, "%s: path over %u bytes", name, ATV_MAX_BENEATH_PATH);
    }
    for (;;) {
        char comp[ATV_MAX_BENEATH_PATH];
        const char *p = w->rest, *tail;
        size_t len;
        int last;

        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            /* the path ends at a directory (the base itself, or "x/") */
            return atv_err_setr(err, ATV_E_IO, "not_regular",
                                "%s: not a regular file (a directory)", name);
        }
        tail = strchr(p, '/');
        len = tail != NULL ? (size_t)(tail - p) : strlen(p);
        tail = p + len;
        if (len >= sizeof comp) { /* cannot happen: rest is no longer than comp */
            return atv_err_set(err, ATV_E_INTERNAL, "%s: path component too long", name);
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        last = *tail == '\0'; /* "x/" must be a directory */
        if (strcmp(comp, ".") == 0) {
            (void)beneath_splice(w, "", tail);
            continue;
        }
        if (strcmp(comp, "..") == 0) {
            if (w->depth == 0 && links > 0) {
                return atv_err_setr(err, ATV_E_IO, "outside_dir",
                                    "%s: symbolic link %s leads outside the directory", name,
                                    last_link);
            }
            if (w->depth == 0) {
                return atv_err_setr(err, ATV_E_IO, "outside_dir",
                                    "%s: \"..\" leads outside the directory", name);
            }
            (void)close(w->fds[--w->depth]);
            (void)beneath_splice(w, "", tail);
            continue;
        }
        if (fstatat(beneath_cur(w), comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            return atv_err_set(err, ATV_E_IO, "%s: %s: %s", name, comp, strerror(errno));
        }
        if (S_ISLNK(st.st_mode)) {
            enum atv_status rc;
            if (++links > ATV_MAX_SYMLINKS) {
                return atv_err_set(err, ATV_E_IO, "%s: more than %u symbolic links", name,
                                   ATV_MAX_SYMLINKS);
            }
            (void)snprintf(last_link, sizeof last_link, "%.64s", comp);
            rc = beneath_link(w, name, comp, tail, root, err);
            if (rc != ATV_OK) {
                return rc;
            }
            continue;
        }
        if (last) {
            /* O_NOFOLLOW: a link swapped in since fstatat fails (ELOOP); O_NONBLOCK:
             * a FIFO swapped in does not block, and read_opened refuses it */
            *fd = openat(beneath_cur(w), comp,
                         O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
            if (*fd < 0) {
                return atv_err_set(err, ATV_E_IO, "%s: %s: %s", name, comp, strerror(errno));
            }
            return ATV_OK;
        }
        if (!S_ISDIR(st.st_mode)) {
            return atv_err_set(err, ATV_E_IO, "%s: %s is not a directory", name, comp);
        }
        if (w->depth == ATV_MAX_BENEATH_DEPTH) {
            return atv_err_set(err, ATV_E_IO, "%s: more than %u directories deep", name,
                               ATV_MAX_BENEATH_DEPTH);
        }
        w->fds[w->depth] = openat(beneath_cur(w), comp,
                                  O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW);
        if (w->fds[w->depth] < 0) {
            return atv_err_set(err, ATV_E_IO, "%s: %s: %s", name, comp, strerror(errno));
        }
        w->depth++;
        (void)beneath_splice(w, "", tail);
    }
}

enum atv_status atv_buf_read_beneath(struct atv_buf *b, int dirfd, const char *root,
                                     const char *name, struct atv_err *err)
{
    struct beneath *w = calloc(1, sizeof *w);
    enum atv_status rc;
    int fd = -1;

    if (w == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "%s: out of memory", name);
    }
    w->base = dirfd;
    rc = beneath_open(w, root, name, &fd, err);
    beneath_reset(w);
    free(w);
    if (rc != ATV_OK) {
        return rc;
    }
    return read_opened(b, fd, name, err);
}

void atv_rd_init(struct atv_reader *rd, struct atv_bytes b)
{
    rd->p = b.ptr;
    rd->end = b.ptr != NULL ? b.ptr + b.len : NULL;
}

size_t atv_rd_left(const struct atv_reader *rd)
{
    return (size_t)(rd->end - rd->p);
}

int atv_rd_eof(const struct atv_reader *rd)
{
    return rd->p == rd->end;
}

enum atv_status atv_rd_u8(struct atv_reader *rd, uint8_t *out, struct atv_err *err)
{
    *out = 0;
    if (atv_rd_left(rd) < 1) {
        return atv_err_set(err, ATV_E_PARSE, "truncated: want 1 byte, 0 left");
    }
    *out = *rd->p;
    rd->p++;
    return ATV_OK;
}

enum atv_status atv_rd_take(struct atv_reader *rd, size_t n, struct atv_bytes *out,
                            struct atv_err *err)
{
    out->ptr = NULL;
    out->len = 0;
    if (n > atv_rd_left(rd)) {
        return atv_err_set(err, ATV_E_PARSE, "truncated: want %zu bytes, %zu left", n,
                           atv_rd_left(rd));
    }
    out->ptr = rd->p;
    out->len = n;
    rd->p += n;
    return ATV_OK;
}

enum atv_status atv_rd_uvarint(struct atv_reader *rd, uint64_t *out, struct atv_err *err)
{
    uint64_t v = 0;
    const uint8_t *p = rd->p;

    *out = 0;
    for (unsigned i = 0; i < ATV_MAX_VARINT_BYTES; i++) {
        if (p == rd->end) {
            return atv_err_set(err, ATV_E_PARSE, "varint: truncated after %u bytes", i);
        }
        uint8_t c = *p;
        p++;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if ((c & 0x80) == 0) {
            /* unsigned-varint spec: the encoding must be minimal */
            if (c == 0 && i > 0) {
                return atv_err_set(err, ATV_E_PARSE, "varint: not minimally encoded");
            }
            rd->p = p;
            *out = v;
            return ATV_OK;
        }
    }
    return atv_err_set(err, ATV_E_LIMIT, "varint: longer than %u bytes",
                       ATV_MAX_VARINT_BYTES);
}

struct atv_bytes atv_rd_rest(const struct atv_reader *rd)
{
    struct atv_bytes b = {rd->p, atv_rd_left(rd)};
    return b;
}

void atv_sha256(struct atv_bytes in, uint8_t out[32])
{
    static const uint8_t empty = 0;
    SHA256_CTX c;
    /* these return 1 on success and cannot fail for SHA-256 on a valid context */
    (void)SHA256_Init(&c);
    (void)SHA256_Update(&c, in.ptr != NULL ? in.ptr : &empty, in.len);
    (void)SHA256_Final(out, &c);
    memset(&c, 0, sizeof c);
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

enum atv_status atv_base64_decode(const char *s, size_t n, struct atv_buf *out,
                                  struct atv_err *err)
{
    /* RFC 4648 section 4. We validate strictly ourselves (OpenSSL's decoder
     * skips whitespace), then let OpenSSL decode the padded form. */
    size_t body = n;
    while (body > 0 && n - body < 2 && s[body - 1] == '=') {
        body--;
    }
    if (n != body && n % 4 != 0) {
        return atv_err_set(err, ATV_E_PARSE, "base64: padding on a length of %zu", n);
    }
    if (body % 4 == 1) {
        return atv_err_set(err, ATV_E_PARSE, "base64: impossible length %zu", body);
    }
    for (size_t i = 0; i < body; i++) {
        if (b64_val(s[i]) < 0) {
            return atv_err_set(err, ATV_E_PARSE, "base64: bad character at offset %zu", i);
        }
    }
    size_t rem = body % 4;
    /* the unused low bits of the last character must be zero (strict) */
    if (rem == 2 && (b64_val(s[body - 1]) & 0x0f) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "base64: non-zero trailing bits");
    }
    if (rem == 3 && (b64_val(s[body - 1]) & 0x03) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "base64: non-zero trailing bits");
    }
    size_t padded = body + (rem != 0 ? 4 - rem : 0);
    size_t want = body / 4 * 3 + (rem == 2 ? 1 : rem == 3 ? 2 : 0);
    if (padded / 4 * 3 > out->max - out->len || padded > (size_t)INT32_MAX) {
        return atv_err_set(err, ATV_E_LIMIT, "base64: %zu characters exceed the cap", n);
    }
    char *tmp = malloc(padded + 1);
    enum atv_status rc = ATV_OK;
    if (tmp == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "base64: out of memory");
    }
    if (body > 0) {
        memcpy(tmp, s, body); /* body <= padded */
    }
    memset(tmp + body, '=', padded - body);
    tmp[padded] = '\0';
    size_t start = out->len;
    rc = atv_buf_append(out, NULL, 0, err);
    if (rc == ATV_OK) {
        rc = buf_reserve(out, padded / 4 * 3, err);
    }
    if (rc == ATV_OK) {
        int got = EVP_DecodeBlock(out->ptr + start, (const unsigned char *)tmp, (int)padded);
        if (got < 0 || (size_t)got < want) {
            rc = atv_err_set(err, ATV_E_PARSE, "base64: decoder rejected the input");
        } else {
            out->len = start + want;
        }
    }
    free(tmp);
    return rc;
}

enum atv_status atv_base64_encode(struct atv_bytes in, struct atv_buf *out, struct atv_err *err)
{
    if (in.len > (size_t)INT32_MAX / 2) {
        return atv_err_set(err, ATV_E_LIMIT, "base64: %zu bytes exceed the cap", in.len);
    }
    size_t enc = (in.len + 2) / 3 * 4;
    enum atv_status rc = buf_reserve(out, enc, err);
    if (rc != ATV_OK) {
        return rc;
    }
    int got = EVP_EncodeBlock(out->ptr + out->len, in.ptr, (int)in.len);
    if (got < 0) {
        return atv_err_set(err, ATV_E_INTERNAL, "base64: encoder failed");
    }
    size_t n = (size_t)got;
    while (n > 0 && out->ptr[out->len + n - 1] == '=') {
        n--; /* atproto writes base64 without padding */
    }
    out->len += n;
    out->ptr[out->len] = '\0';
    return ATV_OK;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

enum atv_status atv_hex_decode(const char *s, size_t n, struct atv_buf *out, struct atv_err *err)
{
    if (n % 2 != 0) {
        return atv_err_set(err, ATV_E_PARSE, "hex: odd length %zu", n);
    }
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_val(s[i]);
        int lo = hex_val(s[i + 1]);
        if (hi < 0 || lo < 0) {
            return atv_err_set(err, ATV_E_PARSE, "hex: bad character at offset %zu", i);
        }
        enum atv_status rc = atv_buf_push(out, (uint8_t)(hi * 16 + lo), err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

void atv_hex_encode(struct atv_bytes in, char *out, size_t cap)
{
    atv_hex_prefix(in.ptr, in.len, in.len, out, cap);
}
