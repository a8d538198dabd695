/* common/cache.c: the on-disk cache of fetched documents (see common/cache.h).
 *
 * One file per key: DIR/hex(sha256(key)).json holding
 *     "atv-cache-v1 <stored unix seconds> <hex sha256 of body> <body length>\n" body
 * Writers never touch a live entry: they write a mkstemp(3) file in DIR and
 * rename(2) it over the entry, which POSIX makes atomic, so a concurrent
 * reader sees the old entry or the new one, never a mix. Readers trust
 * nothing: the directory must be a real directory of ours that nobody else
 * may write (checked on every read, through the descriptor the entry is
 * opened from), the file must be a regular file of ours that nobody else may
 * write, the header must parse exactly, and the body must have the length
 * and the SHA-256 the header states. Anything else is a miss. No fsync: an
 * entry torn by a crash fails the length or hash check and is a miss.
 * POSIX file I/O only.
 */
#include "common/cache.h"
#include "common/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_MAGIC "atv-cache-v1 "
#define CACHE_MAGIC_LEN (sizeof CACHE_MAGIC - 1)
/* Nothing larger than an HTTP body is ever fetched, so nothing larger is
 * cached (common/limits.h ATV_MAX_HTTP_BODY). */
#define CACHE_MAX_BODY ATV_MAX_HTTP_BODY
/* magic 13 + stored <= 19 digits + 1 + 64 hex + 1 + length <= 19 digits + 1 */
#define CACHE_MAX_HEADER 128u
/* A path we build: DIR + "/" + 64 hex + ".json". */
#define CACHE_MAX_PATH 4096u

struct cache_hdr {
    int64_t stored;
    char hash[64]; /* lower-case hex, as written */
    uint64_t len;
    size_t size; /* bytes the header takes, newline included */
};

/* The file name of key's entry: hex(sha256(key)) ".json" (69 bytes with NUL);
 * hashing the key makes any string a safe file name. */
static void entry_name(const char *key, char out[70])
{
    uint8_t h[32];
    char hex[65];
    struct atv_bytes hb = {h, sizeof h};

    atv_sha256(atv_bytes_str(key), h);
    atv_hex_encode(hb, hex, sizeof hex);
    (void)snprintf(out, 70, "%s.json", hex);
}

static enum atv_status entry_path(const char *dir, const char *key, char *out, size_t cap,
                                  struct atv_err *err)
{
    char name[70];
    int n;

    entry_name(key, name);
    n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return atv_err_set(err, ATV_E_LIMIT, "cache: directory path of %zu bytes is too long",
                           strlen(dir));
    }
    return ATV_OK;
}

/* A decimal number at p[*i..n): 1 to 19 digits, no leading zero (other than
 * "0" itself), value <= max. Advances *i only on success. */
static int parse_dec(const uint8_t *p, size_t n, size_t *i, uint64_t max, uint64_t *v)
{
    size_t j = *i;
    uint64_t acc = 0;

    while (j < n && p[j] >= '0' && p[j] <= '9') {
        uint64_t d = (uint64_t)(p[j] - '0');
        if (j - *i >= 19 || acc > (max - d) / 10) {
            return 0;
        }
        acc = acc * 10 + d;
        j++;
    }
    if (j == *i || (p[*i] == '0' && j - *i > 1)) {
        return 0;
    }
    *v = acc;
    *i = j;
    return 1;
}

/* Parses the header line strictly; 0 on any deviation from the format. */
static int parse_header(const uint8_t *p, size_t n, struct cache_hdr *h)
{
    size_t i = CACHE_MAGIC_LEN;
    uint64_t stored = 0;

    memset(h, 0, sizeof *h);
    if (n < CACHE_MAGIC_LEN || memcmp(p, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0) {
        return 0;
    }
    if (!parse_dec(p, n, &i, (uint64_t)INT64_MAX, &stored) || i >= n || p[i] != ' ') {
        return 0;
    }
    i++;
    if (n - i < 64) {
        return 0;
    }
    for (size_t k = 0; k < 64; k++) {
        uint8_t c = p[i + k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
        h->hash[k] = (char)c;
    }
    i += 64;
    if (i >= n || p[i] != ' ') {
        return 0;
    }
    i++;
    if (!parse_dec(p, n, &i, CACHE_MAX_BODY, &h->len) || i >= n || p[i] != '\n') {
        return 0;
    }
    h->stored = (int64_t)stored;
    h->size = i + 1;
    return 1;
}

/* Reads exactly want bytes from fd into p; one more byte available means the
 * file grew, which is as bad as fewer. Returns 1 when exactly want were read. */
static int read_exact(int fd, uint8_t *p, size_t want)
{
    size_t got = 0;
    uint8_t extra;

    while (got < want) {
        ssize_t r = read(fd, p + got, want - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return 0;
        }
        got += (size_t)r;
    }
    for (;;) {
        ssize_t r = read(fd, &extra, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return r == 0;
    }
}

/* Why a cache directory is not ours to trust, from its lstat(2) or fstat(2):
 * anything another local user could have planted there (the DID cache, the
 * "rev" rollback-guard entries) must never be read, and nothing of ours may be
 * written where they could read or swap it. A real directory (not a symlink),
 * owned by geteuid(), with no group or other write bit (0700 is what we make).
 * Returns: ATV_OK; else ATV_E_IO, reason "cache_unusable", naming the problem. */
static enum atv_status dir_judge(const char *dir, const struct stat *st, struct atv_err *err)
{
    if (S_ISLNK(st->st_mode)) {
        return atv_err_setr(err, ATV_E_IO, "cache_unusable",
                            "cache directory %.200s is a symbolic link", dir);
    }
    if (!S_ISDIR(st->st_mode)) {
        return atv_err_setr(err, ATV_E_IO, "cache_unusable",
                            "cache directory %.200s is not a directory", dir);
    }
    if (st->st_uid != geteuid()) {
        return atv_err_setr(err, ATV_E_IO, "cache_unusable",
                            "cache directory %.200s is owned by uid %lu, not %lu", dir,
                            (unsigned long)st->st_uid, (unsigned long)geteuid());
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        return atv_err_setr(err, ATV_E_IO, "cache_unusable",
                            "cache directory %.200s is writable by group or others (mode %04o, "
                            "want 0700)",
                            dir, (unsigned int)(st->st_mode & 07777));
    }
    return ATV_OK;
}

/* lstat(2)s dir and judges it; absent: created 0700 when create, else
 * ATV_E_NOT_FOUND (reason "cache_absent"). */
static enum atv_status dir_ready(const char *dir, int create, struct atv_err *err)
{
    struct stat st;

    if (lstat(dir, &st) != 0) {
        if (errno != ENOENT) {
            return atv_err_setr(err, ATV_E_IO, "cache_unusable", "cache directory %.200s: %s",
                                dir, strerror(errno));
        }
        if (!create) {
            return atv_err_setr(err, ATV_E_NOT_FOUND, "cache_absent",
                                "cache directory %.200s does not exist", dir);
        }
        /* EEXIST: another process made it meanwhile; it is judged below all the same */
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            return atv_err_setr(err, ATV_E_IO, "cache_unusable",
                                "cache directory %.200s: mkdir: %s", dir, strerror(errno));
        }
        if (lstat(dir, &st) != 0) {
            return atv_err_setr(err, ATV_E_IO, "cache_unusable", "cache directory %.200s: %s",
                                dir, strerror(errno));
        }
    }
    return dir_judge(dir, &st, err);
}

enum atv_status atv_cache_dir_check(const char *dir, int create, struct atv_err *err)
{
    if (dir == NULL || dir[0] == '\0') {
        return atv_err_set(err, ATV_E_USAGE, "cache dir check: no directory");
    }
    return dir_ready(dir, create != 0, err);
}

/* Opens dir for reading entries through the descriptor (openat), after
 * judging the directory actually opened (fstat), so that no swap of the path
 * between the check and the reads can matter. Returns: ATV_OK with *dfd;
 * ATV_E_NOT_FOUND when dir does not exist (a miss); ATV_E_IO "cache_unusable". */
static enum atv_status dir_open(const char *dir, int *dfd, struct atv_err *err)
{
    struct stat st;
    int fd;
    enum atv_status rc;

    *dfd = -1;
    /* O_NOFOLLOW: a symlink fails with ELOOP (or ENOTDIR with O_DIRECTORY on
     * some systems), which lstat then names */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            /* nothing was ever cached: a plain miss */
            return atv_err_set(err, ATV_E_NOT_FOUND, "cache directory %.200s does not exist",
                               dir);
        }
        if (lstat(dir, &st) == 0) {
            rc = dir_judge(dir, &st, err);
            if (rc != ATV_OK) {
                return rc;
            }
        }
        return atv_err_setr(err, ATV_E_IO, "cache_unusable", "cache directory %.200s: %s", dir,
                            strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        rc = atv_err_setr(err, ATV_E_IO, "cache_unusable", "cache directory %.200s: fstat: %s",
                          dir, strerror(errno));
        (void)close(fd);
        return rc;
    }
    rc = dir_judge(dir, &st, err);
    if (rc != ATV_OK) {
        (void)close(fd);
        return rc;
    }
    *dfd = fd;
    return ATV_OK;
}

enum atv_status atv_cache_get(const char *dir, const char *key, uint32_t max_age_s,
                              struct atv_buf *out, int64_t *stored_at, struct atv_err *err)
{
    char name[70];
    char hex[65];
    uint8_t digest[32];
    struct stat ls;
    struct stat fs;
    struct cache_hdr hdr;
    uint8_t *data = NULL;
    size_t body_cap;
    size_t size;
    time_t now;
    int fd = -1;
    int dfd = -1;
    enum atv_status rc = ATV_E_NOT_FOUND;

    if (stored_at != NULL) {
        *stored_at = 0;
    }
    if (dir == NULL || key == NULL || out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "cache get: NULL argument");
    }
    /* the directory first, on every read: a directory another user made or
     * can write is theirs to fill, so nothing in it is read */
    rc = dir_open(dir, &dfd, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = ATV_E_NOT_FOUND;
    entry_name(key, name);
    /* lstat first: never open a symlink, a FIFO or a device */
    if (fstatat(dfd, name, &ls, AT_SYMLINK_NOFOLLOW) != 0) {
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: no entry (%s)", strerror(errno));
        goto out;
    }
    if (!S_ISREG(ls.st_mode)) {
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: entry is not a regular file");
        goto out;
    }
    /* O_NOFOLLOW and O_NONBLOCK cover a swap between lstat and open; fstat
     * then judges the file actually opened */
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &fs) != 0) {
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: cannot open the entry (%s)", strerror(errno));
        goto out;
    }
    if (!S_ISREG(fs.st_mode) || fs.st_uid != geteuid() ||
        (fs.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        atv_err_set(err, ATV_E_NOT_FOUND,
                    "cache: entry is not a regular file of ours writable by us alone");
        goto out;
    }
    body_cap = out->max - out->len;
    if (body_cap > CACHE_MAX_BODY) {
        body_cap = CACHE_MAX_BODY;
    }
    if (fs.st_size < 0 || (uint64_t)fs.st_size > (uint64_t)CACHE_MAX_HEADER + body_cap) {
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: entry of %lld bytes is too big",
                    (long long)fs.st_size);
        goto out;
    }
    size = (size_t)fs.st_size;
    data = malloc(size + 1);
    if (data == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "cache: out of memory for %zu bytes", size);
        goto out;
    }
    if (!read_exact(fd, data, size) || !parse_header(data, size, &hdr)) {
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: entry is unreadable or its header is bad");
        goto out;
    }
    if (hdr.len != size - hdr.size || hdr.len > body_cap) {
        atv_err_set(err, ATV_E_NOT_FOUND,
                    "cache: header says %llu body bytes, the file holds %zu (cap %zu)",
                    (unsigned long long)hdr.len, size - hdr.size, body_cap);
        goto out;
    }
    {
        struct atv_bytes body = {data + hdr.size, size - hdr.size};
        struct atv_bytes db = {digest, sizeof digest};
        atv_sha256(body, digest);
        atv_hex_encode(db, hex, sizeof hex);
    }
    if (memcmp(hex, hdr.hash, 64) != 0) { /* both are 64 bytes */
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: body does not match its sha-256");
        goto out;
    }
    now = time(NULL);
    /* a future timestamp is a miss: clocks move, and we never trust an entry
     * whose age we cannot know */
    if (now < 0 || hdr.stored > (int64_t)now || (int64_t)now - hdr.stored > (int64_t)max_age_s) {
        atv_err_set(err, ATV_E_NOT_FOUND, "cache: entry is stale (%lld seconds old, max %u)",
                    (long long)((int64_t)now - hdr.stored), max_age_s);
        goto out;
    }
    rc = atv_buf_append(out, data + hdr.size, size - hdr.size, err);
    if (rc == ATV_OK) {
        rc = atv_buf_terminate(out, err);
    }
    if (rc == ATV_OK && stored_at != NULL) {
        *stored_at = hdr.stored;
    }
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    if (dfd >= 0) {
        (void)close(dfd);
    }
    free(data);
    return rc;
}

static enum atv_status write_all(int fd, const void *p, size_t n, struct atv_err *err)
{
    const uint8_t *b = p;
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(fd, b + done, n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return atv_err_set(err, ATV_E_IO, "cache: write: %s",
                               w < 0 ? strerror(errno) : "no progress");
        }
        done += (size_t)w;
    }
    return ATV_OK;
}

enum atv_status atv_cache_put(const char *dir, const char *key, struct atv_bytes bytes,
                              struct atv_err *err)
{
    char path[CACHE_MAX_PATH];
    char tmp[CACHE_MAX_PATH];
    char hdr[CACHE_MAX_HEADER];
    char hex[65];
    uint8_t digest[32];
    struct atv_bytes db = {digest, sizeof digest};
    time_t now;
    int fd = -1;
    int have_tmp = 0;
    int n;
    enum atv_status rc;

    if (dir == NULL || key == NULL || (bytes.ptr == NULL && bytes.len > 0)) {
        return atv_err_set(err, ATV_E_USAGE, "cache put: NULL argument");
    }
    if (bytes.len > CACHE_MAX_BODY) {
        return atv_err_set(err, ATV_E_LIMIT, "cache put: %zu bytes, cap %u", bytes.len,
                           CACHE_MAX_BODY);
    }
    rc = entry_path(dir, key, path, sizeof path, err);
    if (rc != ATV_OK) {
        goto out;
    }
    n = snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        rc = atv_err_set(err, ATV_E_LIMIT, "cache: directory path too long");
        goto out;
    }
    rc = dir_ready(dir, 1, err);
    if (rc != ATV_OK) {
        goto out;
    }
    now = time(NULL);
    if (now < 0) {
        rc = atv_err_set(err, ATV_E_IO, "cache: no clock");
        goto out;
    }
    atv_sha256(bytes, digest);
    atv_hex_encode(db, hex, sizeof hex);
    n = snprintf(hdr, sizeof hdr, CACHE_MAGIC "%lld %s %zu\n", (long long)now, hex, bytes.len);
    if (n < 0 || (size_t)n >= sizeof hdr) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "cache: header does not fit");
        goto out;
    }
    /* mkstemp creates the file O_EXCL with mode 0600 */
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = atv_err_set(err, ATV_E_IO, "cache: mkstemp: %s", strerror(errno));
        goto out;
    }
    have_tmp = 1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(fd, 0600) != 0) {
        rc = atv_err_set(err, ATV_E_IO, "cache: temp file setup: %s", strerror(errno));
        goto out;
    }
    rc = write_all(fd, hdr, (size_t)n, err);
    if (rc == ATV_OK) {
        rc = write_all(fd, bytes.ptr, bytes.len, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = atv_err_set(err, ATV_E_IO, "cache: close: %s", strerror(errno));
        goto out;
    }
    fd = -1;
    /* rename(2) replaces whatever is at path (a symlink is replaced, not
     * followed) atomically; it fails on a directory */
    if (rename(tmp, path) != 0) {
        rc = atv_err_set(err, ATV_E_IO, "cache: rename: %s", strerror(errno));
        goto out;
    }
    have_tmp = 0;
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    if (have_tmp) {
        (void)unlink(tmp);
    }
    return rc;
}

/* A POSIX record lock on DIR/.lock, taken within about 250 ms or not at all:
 * holders keep it only for one read and one write. Per process (fcntl
 * locks), which is what concurrent plugin runs are. */
#define CACHE_LOCK_TRIES 50
#define CACHE_LOCK_WAIT_NS 5000000L

static enum atv_status lock_dir(int dfd, const char *dir, int *lfd, struct atv_err *err)
{
    struct flock fl;
    struct timespec ts = {0, CACHE_LOCK_WAIT_NS};
    int fd = openat(dfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

    *lfd = -1;
    if (fd < 0) {
        return atv_err_setr(err, ATV_E_IO, "cache_unusable", "cache directory %.200s: lock: %s",
                            dir, strerror(errno));
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    for (int i = 0; i < CACHE_LOCK_TRIES; i++) {
        if (fcntl(fd, F_SETLK, &fl) == 0) {
            *lfd = fd;
            return ATV_OK;
        }
        if (errno != EACCES && errno != EAGAIN) {
            break;
        }
        (void)nanosleep(&ts, NULL);
    }
    (void)close(fd);
    return atv_err_setr(err, ATV_E_IO, "cache_busy", "cache directory %.200s: lock not taken",
                        dir);
}

enum atv_status atv_cache_cas(const char *dir, const char *key, uint32_t max_age_s,
                              struct atv_bytes expect, struct atv_bytes next,
                              struct atv_buf *current, struct atv_err *err)
{
    struct atv_buf cur;
    struct atv_err e2;
    int dfd = -1, lfd = -1, have;
    enum atv_status rc;

    if (dir == NULL || key == NULL || current == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "cache cas: NULL argument");
    }
    current->len = 0;
    atv_buf_init(&cur, current->max);
    rc = dir_ready(dir, 1, err);
    if (rc == ATV_OK) {
        rc = dir_open(dir, &dfd, err);
    }
    if (rc == ATV_OK) {
        rc = lock_dir(dfd, dir, &lfd, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    atv_err_clear(&e2);
    have = atv_cache_get(dir, key, max_age_s, &cur, NULL, &e2) == ATV_OK;
    if (have != (expect.len > 0) ||
        (have && (cur.len != expect.len || memcmp(cur.ptr, expect.ptr, cur.len) != 0))) {
        /* someone else moved it: the caller decides again from what is there */
        rc = atv_buf_append(current, cur.ptr, cur.len, err);
        if (rc == ATV_OK) {
            rc = atv_err_setr(err, ATV_E_VERIFY, "cache_conflict",
                              "cache entry changed since it was read");
        }
        goto out;
    }
    rc = atv_cache_put(dir, key, next, err);
out:
    if (lfd >= 0) {
        (void)close(lfd); /* releases the lock */
    }
    if (dfd >= 0) {
        (void)close(dfd);
    }
    atv_buf_cleanup(&cur);
    return rc;
}
