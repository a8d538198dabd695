/* verify/: reading bundles from files (atv_vfy_bundle_load, _load_dir).
 *
 * A bundle directory is as much input as a request: whoever can write to it
 * can plant a FIFO, a link out of it, a huge file or thousands of files.
 * Each must cost a warning naming the file, never a blocked run, never a
 * file from elsewhere, and never the evidence of the genuine bundles beside
 * it (issue 13, finding 2). An explicit --bundle FILE is different: anything
 * wrong with it is an error. */
#include "verify/verify.h"

#include "common/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1767225600 /* fetchedAt of the bundles written here */

static char top[] = "/tmp/atv-test-bundle-files-XXXXXX";

/* top/rel */
static const char *at(const char *rel)
{
    static char path[512];
    (void)snprintf(path, sizeof path, "%s/%s", top, rel);
    return path;
}

/* Writes a bundle holding one blob entry (key, data) fetched at `when` to top/rel. */
static int write_bundle(const char *rel, const char *key, const char *data, int64_t when)
{
    struct atv_vfy_bundle *b = NULL;
    struct atv_err err;
    int ok;

    atv_err_clear(&err);
    ok = atv_vfy_bundle_new(&b, &err) == ATV_OK &&
         atv_vfy_bundle_put(b, ATV_VFY_EV_BLOB, key, 200, atv_bytes_str(data), when, &err) ==
             ATV_OK &&
         atv_vfy_bundle_save(b, at(rel), when, &err) == ATV_OK;
    if (!ok) {
        DIAG("write_bundle %s: %s", rel, err.msg);
    }
    atv_vfy_bundle_free(b);
    return ok;
}

static int write_text(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");
    return f != NULL && fputs(text, f) >= 0 && fclose(f) == 0;
}

/* A sparse file of n bytes: its size is what counts, not its blocks. */
static int write_sparse(const char *rel, off_t n)
{
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && ftruncate(fd, n) == 0;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    return ok;
}

/* One load of top/dir, with the warnings it logged in `log`. */
struct load {
    struct atv_vfy_bundle *b;
    enum atv_status rc;
    struct atv_err err;
    char *log;
    size_t log_len;
    uint64_t ms;
};

static void load_dir(const char *rel, uint64_t deadline_ms, struct load *l)
{
    struct atv_vfy_log lg = {NULL, 0, 1};
    uint64_t t0 = atv_vfy_clock_ms();

    memset(l, 0, sizeof *l);
    lg.f = open_memstream(&l->log, &l->log_len);
    atv_err_clear(&l->err);
    l->rc = atv_vfy_bundle_load_dir(at(rel), &lg, deadline_ms, &l->b, &l->err);
    l->ms = atv_vfy_clock_ms() - t0;
    if (lg.f != NULL) {
        (void)fclose(lg.f);
    }
    DIAG("load %s: %s %s (%llu ms); log: %s", rel, atv_status_name(l->rc), l->err.msg,
         (unsigned long long)l->ms, l->log != NULL ? l->log : "");
}

static void load_free(struct load *l)
{
    atv_vfy_bundle_free(l->b);
    free(l->log);
}

/* 1 when the loaded evidence holds blob `key` with `data`. */
static int holds(const struct load *l, const char *key, const char *data)
{
    struct atv_bytes d;
    struct atv_err err;
    atv_err_clear(&err);
    return l->b != NULL &&
           atv_vfy_bundle_get(l->b, ATV_VFY_EV_BLOB, key, NULL, &d, NULL, &err) == ATV_OK &&
           atv_bytes_eq_str(d, data);
}

static int logged(const struct load *l, const char *what)
{
    return l->log != NULL && strstr(l->log, what) != NULL;
}

/* Finding 2: a FIFO named x.json beside a genuine bundle. Before the fix the
 * open(2) blocked until the plugin's watchdog answered TIMEOUT. */
static void test_fifo(void)
{
    struct load l;

    CHECK(mkdir(at("fifo"), 0700) == 0);
    CHECK(write_bundle("fifo/good.json", "sha256:good", "genuine", T0));
    CHECK(mkfifo(at("fifo/x.json"), 0600) == 0);
    load_dir("fifo", atv_vfy_clock_ms() + 2000, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(holds(&l, "sha256:good", "genuine"));
    CHECK(logged(&l, "warn: atproto: skipping bundle x.json: not a regular file (a FIFO)"));
    CHECK_MSG(l.ms < 1000, "answered in %llu ms", (unsigned long long)l.ms);
    load_free(&l);
    /* named explicitly, it is an error, at once */
    {
        struct atv_vfy_bundle *b = NULL;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK_STATUS(atv_vfy_bundle_load(at("fifo/x.json"), &b, &err), ATV_E_IO, &err);
        CHECK(b == NULL && strstr(err.msg, "not a regular file") != NULL);
    }
}

/* A Kubernetes ConfigMap or Secret volume: every name is a link into ..data,
 * itself a link to the timestamped directory the kubelet swaps atomically. */
static void test_configmap_layout(void)
{
    struct load l;

    CHECK(mkdir(at("cm"), 0700) == 0);
    CHECK(mkdir(at("cm/..2024_01_01_00_00_00.123456789"), 0700) == 0);
    CHECK(write_bundle("cm/..2024_01_01_00_00_00.123456789/app.json", "sha256:app", "from-cm",
                       T0));
    CHECK(symlink("..2024_01_01_00_00_00.123456789", at("cm/..data")) == 0);
    CHECK(symlink("..data/app.json", at("cm/app.json")) == 0);
    load_dir("cm", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(holds(&l, "sha256:app", "from-cm"));
    CHECK_EQ(atv_vfy_bundle_count(l.b), 1u);
    CHECK_MSG(l.log == NULL || l.log[0] == '\0', "no warning: %s", l.log != NULL ? l.log : "");
    load_free(&l);
}

/* A link whose target resolves outside the directory is skipped, whatever
 * way it climbs out; the bundle it points at is genuine, and still unread. */
static void test_link_outside(void)
{
    struct load l;
    char abs[600];

    CHECK(mkdir(at("out"), 0700) == 0);
    CHECK(write_bundle("elsewhere.json", "sha256:elsewhere", "outside", T0));
    CHECK(write_bundle("out/good.json", "sha256:good", "genuine", T0));
    CHECK(symlink("../elsewhere.json", at("out/rel.json")) == 0);
    (void)snprintf(abs, sizeof abs, "%s", at("elsewhere.json"));
    CHECK(symlink(abs, at("out/abs.json")) == 0);
    CHECK(symlink("/dev/zero", at("out/zero.json")) == 0);
    load_dir("out", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(holds(&l, "sha256:good", "genuine"));
    CHECK(!holds(&l, "sha256:elsewhere", "outside"));
    CHECK(logged(&l, "skipping bundle rel.json: symbolic link rel.json leads outside the "
                     "directory"));
    CHECK(logged(&l, "skipping bundle abs.json: symbolic link abs.json leads outside"));
    CHECK(logged(&l, "skipping bundle zero.json: symbolic link zero.json leads outside"));
    load_free(&l);
    /* an explicit --bundle FILE goes where its path leads */
    {
        struct atv_vfy_bundle *b = NULL;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK_STATUS(atv_vfy_bundle_load(at("out/rel.json"), &b, &err), ATV_OK, &err);
        atv_vfy_bundle_free(b);
    }
}

/* Over the per-file cap: skipped, judged by its size before any byte is read. */
static void test_oversize(void)
{
    struct load l;
    struct atv_vfy_bundle *b = NULL;
    struct atv_err err;

    CHECK(mkdir(at("big"), 0700) == 0);
    CHECK(write_bundle("big/good.json", "sha256:good", "genuine", T0));
    CHECK(write_sparse("big/huge.json", (off_t)ATV_MAX_BUNDLE_FILE + 1));
    load_dir("big", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(holds(&l, "sha256:good", "genuine"));
    CHECK(logged(&l, "skipping bundle huge.json: 16777217 bytes, at most 16777216"));
    load_free(&l);
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_load(at("big/huge.json"), &b, &err), ATV_E_LIMIT, &err);
    CHECK(b == NULL);
}

/* The directory's total: four files of exactly the per-file cap use it all,
 * so the genuine bundle that comes after them by name is not read. */
static void test_dir_total(void)
{
    struct load l;
    char rel[64];

    CHECK(mkdir(at("total"), 0700) == 0);
    for (int i = 0; i < 4; i++) {
        (void)snprintf(rel, sizeof rel, "total/a%d.json", i);
        CHECK(write_sparse(rel, (off_t)ATV_MAX_BUNDLE_FILE));
    }
    CHECK(write_bundle("total/b.json", "sha256:good", "genuine", T0));
    load_dir("total", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(!holds(&l, "sha256:good", "genuine"));
    CHECK(logged(&l, "skipping bundle a0.json: bundle: not JSON"));
    CHECK(logged(&l, "skipping bundle b.json: the directory's bundles would exceed 67108864 "
                     "bytes in all"));
    load_free(&l);
}

/* More bundles than ATV_MAX_BUNDLE_FILES: the first by name are read, the
 * same ones whatever order the file system lists them in. */
static void test_too_many(void)
{
    struct load l;
    char rel[64], key[64];
    int i;

    CHECK(mkdir(at("many"), 0700) == 0);
    for (i = (int)ATV_MAX_BUNDLE_FILES; i >= 0; i--) {
        (void)snprintf(rel, sizeof rel, "many/b%03d.json", i);
        (void)snprintf(key, sizeof key, "sha256:k%03d", i);
        CHECK(write_bundle(rel, key, "x", T0));
    }
    /* names that are not bundles do not count */
    CHECK(write_text("many/README", "not a bundle"));
    CHECK(write_text("many/.hidden.json", "not read"));
    load_dir("many", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK_EQ(atv_vfy_bundle_count(l.b), (size_t)ATV_MAX_BUNDLE_FILES);
    CHECK(holds(&l, "sha256:k000", "x") && holds(&l, "sha256:k063", "x"));
    CHECK(!holds(&l, "sha256:k064", "x"));
    CHECK(logged(&l, "bundle directory holds 65 bundles, more than 64: only the first 64 by name "
                     "are read"));
    CHECK(!logged(&l, "hidden"));
    load_free(&l);
}

/* A malformed bundle in a directory is skipped with a warning; the same file
 * named with --bundle is an error. */
static void test_malformed(void)
{
    struct load l;
    struct atv_vfy_bundle *b = NULL;
    struct atv_err err;

    CHECK(mkdir(at("bad"), 0700) == 0);
    CHECK(write_bundle("bad/good.json", "sha256:good", "genuine", T0));
    CHECK(write_text("bad/junk.json", "not a bundle"));
    CHECK(write_text("bad/other.json", "{\"format\":\"something-else\",\"version\":1}"));
    load_dir("bad", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(holds(&l, "sha256:good", "genuine"));
    CHECK(logged(&l, "skipping bundle junk.json: bundle: not JSON"));
    CHECK(logged(&l, "skipping bundle other.json: bundle: format is not atcr-verify-bundle"));
    load_free(&l);
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_load(at("bad/junk.json"), &b, &err), ATV_E_PARSE, &err);
    CHECK(b == NULL && strstr(err.msg, "junk.json") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_load(at("bad/nonexistent.json"), &b, &err), ATV_E_IO, &err);
}

/* Two bundles with evidence for one key: the one fetched later is used,
 * whichever name sorts first. */
static void test_newer_wins(void)
{
    struct load l;

    CHECK(mkdir(at("newer"), 0700) == 0);
    CHECK(write_bundle("newer/a.json", "sha256:k", "fresh", T0 + 100));
    CHECK(write_bundle("newer/b.json", "sha256:k", "old", T0));
    CHECK(write_bundle("newer/c.json", "sha256:k", "fresher", T0 + 200));
    load_dir("newer", 0, &l);
    CHECK_STATUS(l.rc, ATV_OK, &l.err);
    CHECK(holds(&l, "sha256:k", "fresher"));
    CHECK_EQ(atv_vfy_bundle_count(l.b), 1u);
    load_free(&l);
}

/* The run's deadline bounds the directory too; a missing directory is an error. */
static void test_deadline_and_missing(void)
{
    struct load l;

    load_dir("fifo", 1, &l); /* CLOCK_MONOTONIC 1 ms: long past */
    CHECK_STATUS(l.rc, ATV_E_IO, &l.err);
    CHECK(l.b == NULL && l.err.transient && l.err.reason != NULL &&
          strcmp(l.err.reason, "timeout") == 0);
    load_free(&l);
    load_dir("no-such-dir", 0, &l);
    CHECK_STATUS(l.rc, ATV_E_IO, &l.err);
    CHECK(l.b == NULL && strstr(l.err.msg, "cannot be read") != NULL);
    load_free(&l);
}

/* Merging is all or nothing: over the entry cap, nothing is added. */
static void test_merge_caps(void)
{
    struct atv_vfy_bundle *dst = NULL, *src = NULL;
    struct atv_err err;
    char key[32];
    unsigned i;

    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&dst, &err), ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_new(&src, &err), ATV_OK, &err);
    for (i = 0; i < ATV_MAX_BUNDLE_ENTRIES; i++) {
        (void)snprintf(key, sizeof key, "d%u", i);
        if (atv_vfy_bundle_put(dst, ATV_VFY_EV_BLOB, key, 200, atv_bytes_str("x"), T0, &err) !=
            ATV_OK) {
            break;
        }
    }
    CHECK_EQ(atv_vfy_bundle_count(dst), (size_t)ATV_MAX_BUNDLE_ENTRIES);
    /* one entry dst already has (newer) and one it has not */
    CHECK_STATUS(atv_vfy_bundle_put(src, ATV_VFY_EV_BLOB, "d0", 200, atv_bytes_str("y"), T0 + 1,
                                    &err),
                 ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_put(src, ATV_VFY_EV_BLOB, "new", 200, atv_bytes_str("y"), T0, &err),
                 ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_merge(dst, src, &err), ATV_E_LIMIT, &err);
    {
        struct atv_bytes d;
        struct atv_err e2;
        atv_err_clear(&e2);
        CHECK(atv_vfy_bundle_get(dst, ATV_VFY_EV_BLOB, "d0", NULL, &d, NULL, &e2) == ATV_OK &&
              atv_bytes_eq_str(d, "x"));
    }
    atv_vfy_bundle_free(src);
    atv_vfy_bundle_free(dst);
}

/* Removes what the tests made under top (names known here only). */
static void cleanup(void)
{
    static const char *const files[] = {
        "fifo/good.json", "fifo/x.json", "cm/..2024_01_01_00_00_00.123456789/app.json",
        "cm/..data", "cm/app.json", "elsewhere.json", "out/good.json", "out/rel.json",
        "out/abs.json", "out/zero.json", "big/good.json", "big/huge.json", "total/a0.json",
        "total/a1.json", "total/a2.json", "total/a3.json", "total/b.json", "many/README",
        "many/.hidden.json", "bad/good.json", "bad/junk.json", "bad/other.json", "newer/a.json",
        "newer/b.json", "newer/c.json"};
    static const char *const dirs[] = {"cm/..2024_01_01_00_00_00.123456789", "fifo", "cm", "out",
                                       "big", "total", "many", "bad", "newer"};
    char rel[64];
    size_t i;

    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        (void)unlink(at(files[i]));
    }
    for (i = 0; i <= ATV_MAX_BUNDLE_FILES; i++) {
        (void)snprintf(rel, sizeof rel, "many/b%03zu.json", i);
        (void)unlink(at(rel));
    }
    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        (void)rmdir(at(dirs[i]));
    }
    (void)rmdir(top);
}

int main(void)
{
    if (mkdtemp(top) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    test_fifo();
    test_configmap_layout();
    test_link_outside();
    test_oversize();
    test_dir_total();
    test_too_many();
    test_malformed();
    test_newer_wins();
    test_deadline_and_missing();
    test_merge_caps();
    cleanup();
    return atv_test_done();
}
