/* Unit tests for common/buf.c and common/err.c. */
/* realpath(3) is XSI */
#define _XOPEN_SOURCE 700

#include "common/buf.h"
#include "common/limits.h"
#include "common/test.h"
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>
#include <string.h>
#include <stdio.h>

#include <stdlib.h>

static void test_buf_caps(void)
{
    struct atv_err err;
    struct atv_buf b;

    atv_err_clear(&err);
    atv_buf_init(&b, 4);
    CHECK_STATUS(atv_buf_append(&b, "abcd", 4, &err), ATV_OK, &err);
    CHECK_EQ(b.len, 4u);
    CHECK_STATUS(atv_buf_push(&b, 'e', &err), ATV_E_LIMIT, &err);
    CHECK_EQ(b.len, 4u);
    CHECK(strstr(err.msg, "cap of 4") != NULL);
    atv_buf_cleanup(&b);
    CHECK(b.ptr == NULL && b.len == 0);
}

static void test_reader(void)
{
    static const uint8_t in[] = {0x05, 0x80, 0x01, 0x80, 0x00, 0xff, 0xff};
    struct atv_reader rd;
    struct atv_bytes v = {in, sizeof in};
    struct atv_bytes part;
    struct atv_err err;
    uint64_t x;
    uint8_t c;

    atv_err_clear(&err);
    atv_rd_init(&rd, v);
    CHECK_STATUS(atv_rd_uvarint(&rd, &x, &err), ATV_OK, &err);
    CHECK_EQ(x, 5u);
    CHECK_STATUS(atv_rd_uvarint(&rd, &x, &err), ATV_OK, &err);
    CHECK_EQ(x, 128u);
    /* 0x80 0x00 is a non-minimal zero */
    atv_err_clear(&err);
    CHECK_STATUS(atv_rd_uvarint(&rd, &x, &err), ATV_E_PARSE, &err);
    CHECK_EQ(atv_rd_left(&rd), 4u); /* not advanced */
    CHECK_STATUS(atv_rd_take(&rd, 5, &part, &err), ATV_E_PARSE, &err);
    CHECK(part.ptr == NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_rd_take(&rd, 2, &part, &err), ATV_OK, &err);
    CHECK_STATUS(atv_rd_u8(&rd, &c, &err), ATV_OK, &err);
    CHECK_EQ(c, 0xffu);
    /* truncated varint */
    CHECK_STATUS(atv_rd_uvarint(&rd, &x, &err), ATV_E_PARSE, &err);
    CHECK_EQ(atv_rd_left(&rd), 1u); /* a failed read does not advance */

    static const uint8_t ten[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    struct atv_bytes tv = {ten, sizeof ten};
    atv_err_clear(&err);
    atv_rd_init(&rd, tv);
    CHECK_STATUS(atv_rd_uvarint(&rd, &x, &err), ATV_E_LIMIT, &err);
}

static void test_base64(void)
{
    struct atv_err err;
    struct atv_buf b;
    static const struct {
        const char *in;
        const char *out; /* NULL: must fail */
    } cases[] = {
        {"", ""},          {"Zg", "f"},       {"Zg==", "f"},   {"Zm8", "fo"},
        {"Zm8=", "fo"},    {"Zm9v", "foo"},   {"Zm9vYg", "foob"}, {"Zh", NULL},
        {"Zg=", NULL},     {"Z", NULL},       {"Zm9v\n", NULL}, {"Zm9-", NULL},
        {"Zm9v====", NULL}, {" Zm9v", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        atv_err_clear(&err);
        atv_buf_init(&b, 64);
        enum atv_status rc = atv_base64_decode(cases[i].in, strlen(cases[i].in), &b, &err);
        if (cases[i].out == NULL) {
            CHECK_MSG(rc == ATV_E_PARSE, "base64 rejects \"%s\"", cases[i].in);
        } else {
            CHECK_MSG(rc == ATV_OK && b.len == strlen(cases[i].out) &&
                          memcmp(b.ptr, cases[i].out, b.len) == 0,
                      "base64 \"%s\" decodes", cases[i].in);
        }
        atv_buf_cleanup(&b);
    }
    atv_buf_init(&b, 64);
    CHECK_STATUS(atv_base64_encode(atv_bytes_str("foob"), &b, &err), ATV_OK, &err);
    CHECK_STR((char *)b.ptr, "Zm9vYg");
    atv_buf_cleanup(&b);
}

static void test_hex_and_err(void)
{
    struct atv_err err;
    struct atv_buf b;
    char out[16];

    atv_err_clear(&err);
    atv_buf_init(&b, 8);
    CHECK_STATUS(atv_hex_decode("00ff", 4, &b, &err), ATV_OK, &err);
    CHECK(b.len == 2 && b.ptr[1] == 0xff);
    CHECK_STATUS(atv_hex_decode("0", 1, &b, &err), ATV_E_PARSE, &err);
    atv_buf_cleanup(&b);
    atv_err_clear(&err);
    atv_buf_init(&b, 8);
    CHECK_STATUS(atv_hex_decode("0g", 2, &b, &err), ATV_E_PARSE, &err);
    atv_buf_cleanup(&b);
    atv_hex_prefix((const unsigned char *)"\x01\x02\x03", 3, 2, out, sizeof out);
    CHECK_STR(out, "0102...");

    atv_err_clear(&err);
    CHECK_EQ(atv_err_setr(&err, ATV_E_VERIFY, "bad_signature", "first %d", 1), ATV_E_VERIFY);
    CHECK_EQ(atv_err_set(&err, ATV_E_PARSE, "second"), ATV_E_PARSE);
    CHECK_EQ(err.code, ATV_E_VERIFY); /* the first error wins */
    atv_err_prefix(&err, "ctx");
    CHECK_STR(err.msg, "ctx: first 1");
    CHECK_STR(err.reason, "bad_signature");
}

/* A path that names a FIFO, a directory or a device answers at once: a
 * trust policy, a Docker config or a bundle planted as a FIFO without a
 * writer would otherwise block the run forever. */
static void test_read_file(void)
{
    char dir[] = "/tmp/atv-test-buf-XXXXXX", fifo[64], file[64];
    struct atv_buf b;
    struct atv_err err;
    FILE *f;

    if (mkdtemp(dir) == NULL) {
        CHECK_MSG(0, "mkdtemp");
        return;
    }
    (void)snprintf(fifo, sizeof fifo, "%s/p.json", dir);
    (void)snprintf(file, sizeof file, "%s/f.json", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    f = fopen(file, "w");
    CHECK(f != NULL && fputs("{}", f) >= 0 && fclose(f) == 0);
    atv_buf_init(&b, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_read_file(&b, fifo, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "not a regular file") != NULL && b.len == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_read_file(&b, dir, &err), ATV_E_IO, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_read_file(&b, "/dev/zero", &err), ATV_E_IO, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_read_file(&b, file, &err), ATV_OK, &err);
    CHECK(b.len == 2 && memcmp(b.ptr, "{}", 2) == 0);
    atv_buf_cleanup(&b);
    (void)unlink(fifo);
    (void)unlink(file);
    (void)rmdir(dir);
}

/* Writes text to dir/rel. */
static int put(const char *dir, const char *rel, const char *text)
{
    char path[256];
    FILE *f;
    (void)snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "w");
    return f != NULL && fputs(text, f) >= 0 && fclose(f) == 0;
}

static int link_at(const char *dir, const char *rel, const char *target)
{
    char path[256];
    (void)snprintf(path, sizeof path, "%s/%s", dir, rel);
    return symlink(target, path) == 0;
}

/* Reads rel beneath dir (root: the canonical dir); returns the status, with
 * the text in got. */
static enum atv_status beneath(const char *dir, const char *root, const char *rel, char *got,
                               size_t cap, size_t max, struct atv_err *err)
{
    struct atv_buf b;
    enum atv_status rc;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    atv_buf_init(&b, max);
    atv_err_clear(err);
    got[0] = '\0';
    rc = atv_buf_read_beneath(&b, dfd, root, rel, err);
    if (rc == ATV_OK) {
        (void)snprintf(got, cap, "%.*s", (int)b.len, (const char *)b.ptr);
    }
    atv_buf_cleanup(&b);
    if (dfd >= 0) {
        (void)close(dfd);
    }
    return rc;
}

static int reason_is(const struct atv_err *err, const char *r)
{
    return err->reason != NULL && strcmp(err->reason, r) == 0;
}

/* Symbolic links are followed only while they stay inside the directory:
 * Kubernetes ConfigMap and Secret volumes (x.json -> ..data/x.json, ..data ->
 * ..2024_01_01_xxx) work; anything that leads out does not. */
static void test_read_beneath(void)
{
    char top[] = "/tmp/atv-test-beneath-XXXXXX", dir[128], root[PATH_MAX], abs_in[PATH_MAX + 64];
    char got[64];
    struct atv_err err;

    if (mkdtemp(top) == NULL) {
        CHECK_MSG(0, "mkdtemp");
        return;
    }
    (void)snprintf(dir, sizeof dir, "%s/d", top);
    CHECK(mkdir(dir, 0700) == 0 && realpath(dir, root) != NULL);
    CHECK(put(top, "secret.json", "outside"));
    /* the ConfigMap layout */
    (void)snprintf(abs_in, sizeof abs_in, "%s/..2024_01_01_xxx", dir);
    CHECK(mkdir(abs_in, 0700) == 0);
    CHECK(put(dir, "..2024_01_01_xxx/x.json", "inside"));
    CHECK(link_at(dir, "..data", "..2024_01_01_xxx"));
    CHECK(link_at(dir, "x.json", "..data/x.json"));
    CHECK(put(dir, "plain.json", "plain"));
    /* links that lead out, in every way */
    CHECK(link_at(dir, "up.json", "../secret.json"));
    CHECK(link_at(dir, "deep.json", "..data/../../secret.json"));
    (void)snprintf(abs_in, sizeof abs_in, "%s/secret.json", top);
    CHECK(link_at(dir, "abs-out.json", abs_in));
    CHECK(link_at(dir, "etc.json", "/etc/hostname"));
    (void)snprintf(abs_in, sizeof abs_in, "%s/..data/x.json", root);
    CHECK(link_at(dir, "abs-in.json", abs_in));
    /* a prefix of root is not root */
    (void)snprintf(abs_in, sizeof abs_in, "%sx/y.json", root);
    CHECK(link_at(dir, "prefix.json", abs_in));
    CHECK(link_at(dir, "loop.json", "loop.json"));
    CHECK(link_at(dir, "dev.json", "/dev/null"));
    CHECK(link_at(dir, "dirlink.json", "..data"));
    (void)snprintf(abs_in, sizeof abs_in, "%s/p.fifo", dir);
    CHECK(mkfifo(abs_in, 0600) == 0);
    CHECK(link_at(dir, "fifo.json", "p.fifo"));

    CHECK_STATUS(beneath(dir, root, "plain.json", got, sizeof got, 64, &err), ATV_OK, &err);
    CHECK_STR(got, "plain");
    CHECK_STATUS(beneath(dir, root, "x.json", got, sizeof got, 64, &err), ATV_OK, &err);
    CHECK_STR(got, "inside");
    CHECK_STATUS(beneath(dir, root, "abs-in.json", got, sizeof got, 64, &err), ATV_OK, &err);
    CHECK_STR(got, "inside");
    /* without a root no absolute target is followed, even one inside */
    CHECK_STATUS(beneath(dir, NULL, "abs-in.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    CHECK_STATUS(beneath(dir, root, "up.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir") && strstr(err.msg, "up.json") != NULL && got[0] == '\0');
    CHECK_STATUS(beneath(dir, root, "deep.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    CHECK_STATUS(beneath(dir, root, "abs-out.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    CHECK_STATUS(beneath(dir, root, "etc.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    CHECK_STATUS(beneath(dir, root, "prefix.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    CHECK_STATUS(beneath(dir, root, "dev.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    CHECK_STATUS(beneath(dir, root, "../secret.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "outside_dir"));
    /* a loop ends at the cap; a directory, a FIFO (never opened for writing) are
     * not regular files */
    CHECK_STATUS(beneath(dir, root, "loop.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "symbolic links") != NULL);
    CHECK_STATUS(beneath(dir, root, "dirlink.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "not_regular"));
    CHECK_STATUS(beneath(dir, root, "fifo.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK(reason_is(&err, "not_regular") && strstr(err.msg, "a FIFO") != NULL);
    CHECK_STATUS(beneath(dir, root, "x.json/", got, sizeof got, 64, &err), ATV_E_IO, &err);
    CHECK_STATUS(beneath(dir, root, "missing.json", got, sizeof got, 64, &err), ATV_E_IO, &err);
    /* over the cap: judged by the size, before reading */
    CHECK_STATUS(beneath(dir, root, "x.json", got, sizeof got, 5, &err), ATV_E_LIMIT, &err);
    CHECK(strstr(err.msg, "6 bytes, at most 5") != NULL);
    /* "." and a ".." that stays inside are fine */
    CHECK_STATUS(beneath(dir, root, "./..data/../plain.json", got, sizeof got, 64, &err), ATV_OK,
                 &err);
    CHECK_STR(got, "plain");

    {
        static const char *const rm[] = {"x.json",      "..data",     "plain.json",  "up.json",
                                         "deep.json",   "abs-out.json", "etc.json", "abs-in.json",
                                         "prefix.json", "loop.json",  "dev.json",    "dirlink.json",
                                         "p.fifo",      "fifo.json",  "..2024_01_01_xxx/x.json"};
        char path[256];
        for (size_t i = 0; i < sizeof rm / sizeof rm[0]; i++) {
            (void)snprintf(path, sizeof path, "%s/%s", dir, rm[i]);
            (void)unlink(path);
        }
        (void)snprintf(path, sizeof path, "%s/..2024_01_01_xxx", dir);
        (void)rmdir(path);
        (void)rmdir(dir);
        (void)snprintf(path, sizeof path, "%s/secret.json", top);
        (void)unlink(path);
        (void)rmdir(top);
    }
}

int main(void)
{
    test_buf_caps();
    test_reader();
    test_base64();
    test_hex_and_err();
    test_read_file();
    test_read_beneath();
    return atv_test_done();
}
