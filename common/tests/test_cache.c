/* Unit tests for common/cache.c, in a mkdtemp(3) directory under /tmp that is
 * removed at the end: round trip, freshness, every kind of damaged entry
 * (each must be a miss, never an error and never trusted), hostile paths
 * (symlink, directory, non-directory), modes, a cache directory that is not
 * ours (another owner, group/world-writable, a symlink, a file: never read),
 * and 20 processes hammering one key. */
#include "common/cache.h"
#include "common/limits.h"
#include "common/test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY "https://plc.directory/did:plc:ywcuk4xmsixysawbbr4i5zkv"
#define CHILDREN 20
#define ROUNDS 50

static char root[64];  /* the mkdtemp directory */
static char cdir[128]; /* the cache directory inside it */

static void entry_path(const char *dir, const char *key, char *out, size_t cap)
{
    uint8_t h[32];
    char hex[65];
    struct atv_bytes hb = {h, sizeof h};
    atv_sha256(atv_bytes_str(key), h);
    atv_hex_encode(hb, hex, sizeof hex);
    (void)snprintf(out, cap, "%s/%s.json", dir, hex);
}

static int write_raw(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t w;
    if (fd < 0) {
        return 0;
    }
    w = write(fd, p, n);
    (void)close(fd);
    return w >= 0 && (size_t)w == n;
}

/* Writes an entry by hand: header fields given, so tests can lie in them. */
static int write_entry(const char *path, const char *magic, long long stored, const char *hash,
                       const char *len_field, const char *body, size_t body_len)
{
    char buf[1024];
    char hex[65];
    char lenbuf[32];
    uint8_t h[32];
    struct atv_bytes hb = {h, sizeof h};
    struct atv_bytes bb = {(const uint8_t *)body, body_len};
    int n;

    atv_sha256(bb, h);
    atv_hex_encode(hb, hex, sizeof hex);
    (void)snprintf(lenbuf, sizeof lenbuf, "%zu", body_len);
    n = snprintf(buf, sizeof buf, "%s %lld %s %s\n", magic, stored, hash != NULL ? hash : hex,
                 len_field != NULL ? len_field : lenbuf);
    if (n < 0 || (size_t)n + body_len > sizeof buf) {
        return 0;
    }
    memcpy(buf + n, body, body_len);
    return write_raw(path, buf, (size_t)n + body_len);
}

static enum atv_status get(const char *key, uint32_t max_age, struct atv_buf *out,
                           struct atv_err *err)
{
    atv_err_clear(err);
    atv_buf_init(out, ATV_MAX_DIDDOC);
    return atv_cache_get(cdir, key, max_age, out, NULL, err);
}

static int is_miss(const char *key, uint32_t max_age)
{
    struct atv_buf out;
    struct atv_err err;
    enum atv_status rc = get(key, max_age, &out, &err);
    int ok = rc == ATV_E_NOT_FOUND && out.len == 0;
    atv_buf_cleanup(&out);
    return ok;
}

static int is_hit(const char *key, uint32_t max_age, const char *want)
{
    struct atv_buf out;
    struct atv_err err;
    enum atv_status rc = get(key, max_age, &out, &err);
    int ok = rc == ATV_OK && atv_bytes_eq_str(atv_buf_view(&out), want);
    if (!ok) {
        DIAG("get: %s: %s", atv_status_name(rc), err.msg);
    }
    atv_buf_cleanup(&out);
    return ok;
}

/* A hit on KEY in dir with body want. */
static int is_hit_in(const char *dir, const char *want)
{
    struct atv_buf out;
    struct atv_err err;
    atv_err_clear(&err);
    atv_buf_init(&out, ATV_MAX_DIDDOC);
    enum atv_status rc = atv_cache_get(dir, KEY, 3600, &out, NULL, &err);
    int ok = rc == ATV_OK && atv_bytes_eq_str(atv_buf_view(&out), want);
    if (!ok) {
        DIAG("get %s: %s: %s", dir, atv_status_name(rc), err.msg);
    }
    atv_buf_cleanup(&out);
    return ok;
}

static enum atv_status put(const char *dir, const char *key, const char *body,
                           struct atv_err *err)
{
    atv_err_clear(err);
    return atv_cache_put(dir, key, atv_bytes_str(body), err);
}

/* Number of entries in dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    (void)closedir(d);
    return n;
}

static void rm_rf(const char *path, int depth)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (depth > 4 || lstat(path, &st) != 0) {
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        (void)unlink(path);
        return;
    }
    d = opendir(path);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            char sub[512];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub) {
                rm_rf(sub, depth + 1);
            }
        }
        (void)closedir(d);
    }
    (void)rmdir(path);
}

static void test_round_trip(void)
{
    char path[512];
    struct stat st;
    struct atv_buf out;
    struct atv_err err;
    int64_t stored = -1;
    time_t t0 = time(NULL);

    /* no directory yet: a miss, never an error */
    CHECK(is_miss(KEY, 3600));
    CHECK_STATUS(put(cdir, KEY, "{\"id\":\"x\"}", &err), ATV_OK, &err);
    /* created 0700, the entry 0600 */
    CHECK(lstat(cdir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    entry_path(cdir, KEY, path, sizeof path);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    CHECK(st.st_uid == geteuid());
    CHECK(is_hit(KEY, 3600, "{\"id\":\"x\"}"));

    /* stored_at, and appending after what out already holds */
    atv_buf_init(&out, 64);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_append(&out, "pre:", 4, &err), ATV_OK, &err);
    CHECK_STATUS(atv_cache_get(cdir, KEY, 3600, &out, &stored, &err), ATV_OK, &err);
    CHECK(atv_bytes_eq_str(atv_buf_view(&out), "pre:{\"id\":\"x\"}"));
    CHECK(out.ptr[out.len] == '\0');
    CHECK(stored >= (int64_t)t0 && stored <= (int64_t)time(NULL));
    atv_buf_cleanup(&out);
    /* a body over what out may still hold is a miss, and out is untouched */
    atv_buf_init(&out, 8);
    atv_err_clear(&err);
    stored = -1;
    CHECK_STATUS(atv_cache_get(cdir, KEY, 3600, &out, &stored, &err), ATV_E_NOT_FOUND, &err);
    CHECK(out.len == 0 && stored == 0);
    atv_buf_cleanup(&out);

    /* overwrite; other keys are other files; any string is a key */
    CHECK_STATUS(put(cdir, KEY, "second", &err), ATV_OK, &err);
    CHECK(is_hit(KEY, 3600, "second"));
    CHECK(is_miss("other", 3600));
    CHECK_STATUS(put(cdir, "../../etc/passwd", "p", &err), ATV_OK, &err);
    CHECK(is_hit("../../etc/passwd", 3600, "p"));
    CHECK_STATUS(put(cdir, "", "", &err), ATV_OK, &err);
    CHECK(is_hit("", 3600, ""));
    CHECK_EQ(count_prefix(cdir, ".tmp-"), 0);

    /* limits and misuse */
    {
        size_t n = (size_t)ATV_MAX_HTTP_BODY + 1;
        uint8_t *big = calloc(n, 1);
        struct atv_bytes b = {big, n};
        atv_err_clear(&err);
        CHECK_STATUS(atv_cache_put(cdir, "big", b, &err), big != NULL ? ATV_E_LIMIT : ATV_E_USAGE,
                     &err);
        free(big);
    }
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_put(NULL, KEY, atv_bytes_str("x"), &err), ATV_E_USAGE, &err);
    atv_buf_init(&out, 64);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_get(cdir, NULL, 1, &out, NULL, &err), ATV_E_USAGE, &err);
    atv_buf_cleanup(&out);
}

static void test_freshness(void)
{
    char path[512];
    long long now = (long long)time(NULL);

    entry_path(cdir, "fresh", path, sizeof path);
    CHECK(write_entry(path, "atv-cache-v1", now - 100, NULL, NULL, "body", 4));
    CHECK(is_hit("fresh", 150, "body"));
    CHECK(is_miss("fresh", 50));
    CHECK(is_miss("fresh", 0));
    /* max_age 0: only an entry stored this very second would do */
    CHECK(write_entry(path, "atv-cache-v1", now - 1, NULL, NULL, "body", 4));
    CHECK(is_miss("fresh", 0));
    /* a timestamp in the future is a miss, whatever max_age says */
    CHECK(write_entry(path, "atv-cache-v1", now + 1000, NULL, NULL, "body", 4));
    CHECK(is_miss("fresh", UINT32_MAX));
    CHECK(write_entry(path, "atv-cache-v1", 0, NULL, NULL, "body", 4));
    CHECK(is_hit("fresh", UINT32_MAX, "body"));
}

static void test_damaged(void)
{
    static const char zero_hash[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    char path[512];
    char good[65];
    char upper[65];
    long long now = (long long)time(NULL);
    uint8_t h[32];
    struct atv_bytes hb = {h, sizeof h};
    struct atv_bytes bb = {(const uint8_t *)"body", 4};
    char raw[256];
    int n;

    atv_sha256(bb, h);
    atv_hex_encode(hb, good, sizeof good);
    for (size_t i = 0; i < 64; i++) {
        upper[i] = (char)(good[i] >= 'a' && good[i] <= 'f' ? good[i] - 'a' + 'A' : good[i]);
    }
    upper[64] = '\0';
    entry_path(cdir, "bad", path, sizeof path);

    /* the control: the hand-written form is what atv_cache_put writes */
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, NULL, "body", 4));
    CHECK(is_hit("bad", 60, "body"));

    /* header */
    CHECK(write_entry(path, "atv-cache-v2", now, NULL, NULL, "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, upper, NULL, "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "04", "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "+4", "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "4 ", "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "4\r", "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "", "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "18446744073709551620", "body", 4));
    CHECK(is_miss("bad", 60));
    CHECK(write_entry(path, "atv-cache-v1", -5, NULL, NULL, "body", 4));
    CHECK(is_miss("bad", UINT32_MAX));
    CHECK(write_entry(path, " atv-cache-v1", now, NULL, NULL, "body", 4));
    CHECK(is_miss("bad", 60));
    n = snprintf(raw, sizeof raw, "atv-cache-v1 0%lld %s 4\nbody", now, good);
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", 60));
    n = snprintf(raw, sizeof raw, "atv-cache-v1  %lld %s 4\nbody", now, good);
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", 60));
    n = snprintf(raw, sizeof raw, "atv-cache-v1 99999999999999999999 %s 4\nbody", good);
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", UINT32_MAX));
    n = snprintf(raw, sizeof raw, "atv-cache-v1 %lld %.63s 4\nbody", now, good);
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", 60));
    n = snprintf(raw, sizeof raw, "atv-cache-v1 %lld %s 4", now, good); /* no newline */
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", 60));
    CHECK(write_raw(path, "", 0));
    CHECK(is_miss("bad", 60));

    /* hash and length */
    CHECK(write_entry(path, "atv-cache-v1", now, zero_hash, NULL, "body", 4));
    CHECK(is_miss("bad", 60));
    good[10] = good[10] == '0' ? '1' : '0';
    CHECK(write_entry(path, "atv-cache-v1", now, good, NULL, "body", 4));
    CHECK(is_miss("bad", 60));
    good[10] = good[10] == '0' ? '1' : '0';
    /* truncated body: the header promises 5 bytes */
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, "5", "body", 4));
    CHECK(is_miss("bad", 60));
    /* trailing bytes after the stated length (the hash covers only 4) */
    n = snprintf(raw, sizeof raw, "atv-cache-v1 %lld %s 4\nbodyX", now, good);
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", 60));
    /* a flipped body byte */
    n = snprintf(raw, sizeof raw, "atv-cache-v1 %lld %s 4\nbodz", now, good);
    CHECK(n > 0 && write_raw(path, raw, (size_t)n));
    CHECK(is_miss("bad", 60));

    /* writable by group or others: not trusted; 0644 is fine */
    CHECK(write_entry(path, "atv-cache-v1", now, NULL, NULL, "body", 4));
    CHECK(chmod(path, 0644) == 0);
    CHECK(is_hit("bad", 60, "body"));
    CHECK(chmod(path, 0666) == 0);
    CHECK(is_miss("bad", 60));
    CHECK(chmod(path, 0620) == 0);
    CHECK(is_miss("bad", 60));
    CHECK(unlink(path) == 0);
}

static void test_hostile_paths(void)
{
    char path[512];
    char target[512];
    char notdir[512];
    char linkdir[512];
    char gwdir[512];
    struct stat st;
    struct atv_err err;
    off_t planted_size;
    time_t planted_mtime;
    long long now = (long long)time(NULL);

    /* a symlink at the entry path, to a perfectly valid entry: a miss */
    entry_path(cdir, "link", path, sizeof path);
    (void)snprintf(target, sizeof target, "%s/target", root);
    CHECK(write_entry(target, "atv-cache-v1", now, NULL, NULL, "planted", 7));
    CHECK(lstat(target, &st) == 0);
    planted_size = st.st_size;
    planted_mtime = st.st_mtime;
    CHECK(symlink(target, path) == 0);
    CHECK(is_miss("link", 60));
    /* put replaces the link itself and never writes through it */
    CHECK_STATUS(put(cdir, "link", "mine", &err), ATV_OK, &err);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(is_hit("link", 60, "mine"));
    CHECK(lstat(target, &st) == 0 && st.st_size == planted_size && st.st_mtime == planted_mtime);
    /* a dangling symlink */
    CHECK(unlink(path) == 0);
    CHECK(symlink("/nonexistent/atv", path) == 0);
    CHECK(is_miss("link", 60));
    CHECK(unlink(path) == 0);
    /* a FIFO at the entry path: a miss, without blocking */
    CHECK(mkfifo(path, 0600) == 0);
    CHECK(is_miss("link", 60));
    CHECK(unlink(path) == 0);

    /* a directory at the entry path: a miss; put fails and leaves no temp file */
    CHECK(mkdir(path, 0700) == 0);
    CHECK(is_miss("link", 60));
    CHECK_STATUS(put(cdir, "link", "x", &err), ATV_E_IO, &err);
    CHECK_EQ(count_prefix(cdir, ".tmp-"), 0);
    CHECK(rmdir(path) == 0);

    /* the cache directory path names a regular file: put fails, get misses */
    (void)snprintf(notdir, sizeof notdir, "%s/notdir", root);
    CHECK(write_raw(notdir, "x", 1));
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_put(notdir, KEY, atv_bytes_str("x"), &err), ATV_E_IO, &err);
    {
        struct atv_buf out;
        atv_buf_init(&out, 64);
        atv_err_clear(&err);
        CHECK_STATUS(atv_cache_get(notdir, KEY, 60, &out, NULL, &err), ATV_E_IO, &err);
        CHECK(err.reason != NULL && strcmp(err.reason, "cache_unusable") == 0);
        atv_buf_cleanup(&out);
    }
    /* a symlink to a directory, and a group-writable directory: refused */
    (void)snprintf(linkdir, sizeof linkdir, "%s/linkdir", root);
    CHECK(symlink(cdir, linkdir) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_put(linkdir, KEY, atv_bytes_str("x"), &err), ATV_E_IO, &err);
    (void)snprintf(gwdir, sizeof gwdir, "%s/gw", root);
    CHECK(mkdir(gwdir, 0700) == 0 && chmod(gwdir, 0770) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_put(gwdir, KEY, atv_bytes_str("x"), &err), ATV_E_IO, &err);
    /* a missing parent: mkdir fails, put reports it */
    {
        char deep[512];
        (void)snprintf(deep, sizeof deep, "%s/no/such", root);
        atv_err_clear(&err);
        CHECK_STATUS(atv_cache_put(deep, KEY, atv_bytes_str("x"), &err), ATV_E_IO, &err);
    }
}

/* 1 when err is ATV_E_IO "cache_unusable" and its message holds want. */
static int unusable(enum atv_status rc, const struct atv_err *err, const char *want)
{
    int ok = rc == ATV_E_IO && err->reason != NULL &&
             strcmp(err->reason, "cache_unusable") == 0 && strstr(err->msg, want) != NULL;
    if (!ok) {
        DIAG("want cache_unusable \"%s\", got %s (%s): %s", want, atv_status_name(rc),
             err->reason != NULL ? err->reason : "-", err->msg);
    }
    return ok;
}

/* Reads KEY from dir: 1 when refused as unusable (want in the message) and
 * nothing was appended. */
static int get_refused(const char *dir, const char *want)
{
    struct atv_buf out;
    struct atv_err err;
    int64_t stored = 99;
    atv_err_clear(&err);
    atv_buf_init(&out, ATV_MAX_DIDDOC);
    enum atv_status rc = atv_cache_get(dir, KEY, 3600, &out, &stored, &err);
    int ok = unusable(rc, &err, want) && out.len == 0 && stored == 0;
    atv_buf_cleanup(&out);
    return ok;
}

static int check_refused(const char *dir, int create, const char *want)
{
    struct atv_err err;
    atv_err_clear(&err);
    return unusable(atv_cache_dir_check(dir, create, &err), &err, want);
}

/* A cache directory someone else could have filled is never read: a valid
 * entry planted in it (here, written by put while the directory was still
 * fine) must not come back once the directory is not ours. */
static void test_dir_not_ours(void)
{
    char d[512];
    char link[512];
    char file[512];
    char want[128];
    struct atv_err err;
    struct stat st;

    (void)snprintf(d, sizeof d, "%s/owned", root);
    atv_err_clear(&err);
    /* create=1 makes it 0700; create=0 on an absent one is cache_absent */
    CHECK_STATUS(atv_cache_dir_check(d, 0, &err), ATV_E_NOT_FOUND, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "cache_absent") == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_dir_check(d, 1, &err), ATV_OK, &err);
    CHECK(lstat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_dir_check(d, 0, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_dir_check(NULL, 1, &err), ATV_E_USAGE, &err);
    /* an absent directory is a plain miss for get */
    {
        char none[512];
        struct atv_buf out;
        (void)snprintf(none, sizeof none, "%s/absent", root);
        atv_err_clear(&err);
        atv_buf_init(&out, 64);
        CHECK_STATUS(atv_cache_get(none, KEY, 60, &out, NULL, &err), ATV_E_NOT_FOUND, &err);
        atv_buf_cleanup(&out);
    }

    /* the good case: a planted-to-be entry is readable while the dir is ours */
    CHECK_STATUS(put(d, KEY, "planted rev", &err), ATV_OK, &err);
    {
        struct atv_buf out;
        atv_err_clear(&err);
        atv_buf_init(&out, 64);
        CHECK_STATUS(atv_cache_get(d, KEY, 3600, &out, NULL, &err), ATV_OK, &err);
        CHECK(atv_bytes_eq_str(atv_buf_view(&out), "planted rev"));
        atv_buf_cleanup(&out);
    }

    /* owned by another uid (nobody, 65534): refused for get, put and check */
    if (geteuid() == 0) {
        CHECK(chown(d, 65534, 65534) == 0);
        (void)snprintf(want, sizeof want, "is owned by uid 65534, not %lu",
                       (unsigned long)geteuid());
        CHECK(get_refused(d, want));
        CHECK(check_refused(d, 0, want));
        CHECK(check_refused(d, 1, want));
        atv_err_clear(&err);
        CHECK(unusable(atv_cache_put(d, "other", atv_bytes_str("x"), &err), &err, want));
        CHECK(chown(d, 0, 0) == 0);
    } else {
        DIAG("not root: the foreign-owner case is skipped");
    }
    CHECK(is_hit_in(d, "planted rev"));

    /* group-writable, then world-writable */
    CHECK(chmod(d, 0770) == 0);
    CHECK(get_refused(d, "writable by group or others (mode 0770"));
    CHECK(check_refused(d, 0, "mode 0770"));
    CHECK(chmod(d, 0703) == 0);
    CHECK(get_refused(d, "mode 0703"));
    CHECK(check_refused(d, 1, "mode 0703"));
    /* read bits alone are not a planting risk */
    CHECK(chmod(d, 0755) == 0);
    CHECK(is_hit_in(d, "planted rev"));
    CHECK(chmod(d, 0700) == 0);

    /* a symlink to this good directory */
    (void)snprintf(link, sizeof link, "%s/owned-link", root);
    CHECK(symlink(d, link) == 0);
    CHECK(get_refused(link, "is a symbolic link"));
    CHECK(check_refused(link, 0, "is a symbolic link"));
    CHECK(check_refused(link, 1, "is a symbolic link"));
    /* a symlink to a directory that does not exist: not created through */
    CHECK(unlink(link) == 0);
    {
        char gone[512];
        (void)snprintf(gone, sizeof gone, "%s/gone", root);
        CHECK(symlink(gone, link) == 0);
        CHECK(check_refused(link, 1, "is a symbolic link"));
        CHECK(access(gone, F_OK) != 0);
        CHECK(unlink(link) == 0);
    }

    /* a regular file */
    (void)snprintf(file, sizeof file, "%s/plainfile", root);
    CHECK(write_raw(file, "x", 1));
    CHECK(get_refused(file, "is not a directory"));
    CHECK(check_refused(file, 1, "is not a directory"));
    CHECK(unlink(file) == 0);
}

/* The body child c writes in round r: self-describing, so a reader can
 * check it is whole. */
static size_t make_body(int c, int r, char *out, size_t cap)
{
    size_t len = 200 + (size_t)((c * ROUNDS + r) * 37 % 3000);
    if (len + 1 > cap) {
        len = cap - 1;
    }
    out[0] = (char)('A' + c);
    out[1] = (char)('A' + r);
    for (size_t i = 2; i < len; i++) {
        out[i] = (char)('a' + (size_t)(c + r + (int)i) % 26);
    }
    out[len] = '\0';
    return len;
}

static int body_valid(struct atv_bytes b)
{
    char want[4096];
    int c;
    int r;
    if (b.len < 2) {
        return 0;
    }
    c = b.ptr[0] - 'A';
    r = b.ptr[1] - 'A';
    if (c < 0 || c >= CHILDREN || r < 0 || r >= ROUNDS) {
        return 0;
    }
    return make_body(c, r, want, sizeof want) == b.len && memcmp(want, b.ptr, b.len) == 0;
}

static int child(int c)
{
    char body[4096];
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct atv_buf out;
        struct atv_err err;
        size_t n = make_body(c, r, body, sizeof body);
        struct atv_bytes b = {(const uint8_t *)body, n};
        atv_err_clear(&err);
        if (atv_cache_put(cdir, "shared", b, &err) != ATV_OK) {
            bad++;
        }
        atv_buf_init(&out, ATV_MAX_DIDDOC);
        atv_err_clear(&err);
        /* after our own put the entry always exists: a miss means a reader
         * saw a partial or mixed file */
        if (atv_cache_get(cdir, "shared", 3600, &out, NULL, &err) != ATV_OK ||
            !body_valid(atv_buf_view(&out))) {
            bad++;
        }
        atv_buf_cleanup(&out);
    }
    return bad == 0 ? 0 : 1;
}

static void test_concurrent(void)
{
    pid_t pids[CHILDREN];
    int started = 0;
    int clean = 0;
    struct atv_buf out;
    struct atv_err err;

    (void)fflush(stdout);
    for (int c = 0; c < CHILDREN; c++) {
        pid_t p = fork();
        if (p == 0) {
            /* exit, not _exit: OpenSSL's atexit cleanup must run, or
             * valgrind counts its reachable blocks as errors; stdout was
             * flushed above, so nothing is printed twice */
            exit(child(c));
        }
        if (p < 0) {
            break;
        }
        pids[started++] = p;
    }
    CHECK_EQ(started, CHILDREN);
    for (int i = 0; i < started; i++) {
        int status = 0;
        pid_t w;
        do {
            w = waitpid(pids[i], &status, 0);
        } while (w < 0 && errno == EINTR);
        if (w == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            clean++;
        }
    }
    CHECK_MSG(clean == CHILDREN, "%d of %d writers/readers saw only whole entries", clean,
              CHILDREN);
    CHECK(get("shared", 3600, &out, &err) == ATV_OK && body_valid(atv_buf_view(&out)));
    atv_buf_cleanup(&out);
    CHECK_EQ(count_prefix(cdir, ".tmp-"), 0);
}

/* Compare and set: a value that may only move forward (the PLC log head). */
static void test_cas(void)
{
    struct atv_buf cur, got;
    struct atv_err err;
    char other[160];

    atv_buf_init(&cur, 64);
    atv_buf_init(&got, 64);
    atv_err_clear(&err);
    /* absent: only an empty expectation stores */
    CHECK_STATUS(atv_cache_cas(cdir, "head", 3600, atv_bytes_str("x"), atv_bytes_str("h1"), &cur,
                               &err),
                 ATV_E_VERIFY, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "cache_conflict") == 0 && cur.len == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_cas(cdir, "head", 3600, atv_bytes_str(""), atv_bytes_str("h1"), &cur,
                               &err),
                 ATV_OK, &err);
    CHECK_STATUS(atv_cache_get(cdir, "head", 3600, &got, NULL, &err), ATV_OK, &err);
    CHECK(got.len == 2 && memcmp(got.ptr, "h1", 2) == 0);
    /* a stale expectation loses, and is told what is there */
    CHECK_STATUS(atv_cache_cas(cdir, "head", 3600, atv_bytes_str("h0"), atv_bytes_str("h2"), &cur,
                               &err),
                 ATV_E_VERIFY, &err);
    CHECK(cur.len == 2 && memcmp(cur.ptr, "h1", 2) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_cas(cdir, "head", 3600, atv_bytes_str("h1"), atv_bytes_str("h2"), &cur,
                               &err),
                 ATV_OK, &err);
    got.len = 0;
    CHECK_STATUS(atv_cache_get(cdir, "head", 3600, &got, NULL, &err), ATV_OK, &err);
    CHECK(got.len == 2 && memcmp(got.ptr, "h2", 2) == 0);
    /* a directory that is not ours is neither read nor written */
    (void)snprintf(other, sizeof other, "%s/foreign", root);
    CHECK(mkdir(other, 0700) == 0 && chown(other, 65534, 65534) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_cache_cas(other, "head", 3600, atv_bytes_str(""), atv_bytes_str("h1"), &cur,
                               &err),
                 ATV_E_IO, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "cache_unusable") == 0);
    atv_buf_cleanup(&cur);
    atv_buf_cleanup(&got);
}

int main(void)
{
    (void)snprintf(root, sizeof root, "/tmp/atv-test-cache-XXXXXX");
    if (mkdtemp(root) == NULL) {
        CHECK_MSG(0, "mkdtemp: %s", strerror(errno));
        return atv_test_done();
    }
    (void)snprintf(cdir, sizeof cdir, "%s/cache", root);
    test_round_trip();
    test_freshness();
    test_damaged();
    test_hostile_paths();
    test_dir_not_ours();
    test_concurrent();
    test_cas();
    rm_rf(root, 0);
    CHECK(access(root, F_OK) != 0);
    return atv_test_done();
}
