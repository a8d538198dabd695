/* Unit tests for referrer/ref.c: digests and image references. */
#include "referrer/referrer.h"
#include "common/test.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG "sha256:" D64

struct good_case {
    const char *in, *registry, *api_host, *repo, *tag, *digest;
};

static void test_good(void)
{
    static const struct good_case cases[] = {
        {"alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", ""},
        {"alpine:3.19", "docker.io", "registry-1.docker.io", "library/alpine", "3.19", ""},
        {"docker.io/alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", ""},
        {"index.docker.io/alpine", "docker.io", "registry-1.docker.io", "library/alpine",
         "latest", ""},
        {"docker.io/library/alpine:edge", "docker.io", "registry-1.docker.io", "library/alpine",
         "edge", ""},
        {"user/app", "docker.io", "registry-1.docker.io", "user/app", "latest", ""},
        {"localhost/app", "localhost", "localhost", "app", "latest", ""},
        {"localhost:5000/a/b/c:v1", "localhost:5000", "localhost:5000", "a/b/c", "v1", ""},
        {"127.0.0.1:5055/sig/app@" DIG, "127.0.0.1:5055", "127.0.0.1:5055", "sig/app", "", DIG},
        {"ghcr.io/o/r:v1@" DIG, "ghcr.io", "ghcr.io", "o/r", "v1", DIG},
        {"[::1]:5000/app:x", "[::1]:5000", "[::1]:5000", "app", "x", ""},
        {"reg.example.com/a.b_c__d---e/f:_T.-9", "reg.example.com", "reg.example.com",
         "a.b_c__d---e/f", "_T.-9", ""},
        {"Registry.Example.com/app", "Registry.Example.com", "Registry.Example.com", "app",
         "latest", ""},
        {"alpine@" DIG, "docker.io", "registry-1.docker.io", "library/alpine", "", DIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct atv_ref_image img;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_image_parse(cases[i].in, &img, &err), ATV_OK, &err);
        CHECK_STR(img.registry, cases[i].registry);
        CHECK_STR(img.api_host, cases[i].api_host);
        CHECK_STR(img.repository, cases[i].repo);
        CHECK_STR(img.tag, cases[i].tag);
        CHECK_STR(img.digest, cases[i].digest);
    }
}

struct bad_case {
    const char *in;
    enum atv_status want;
};

static void test_bad(void)
{
    char longname[300];
    char longtag[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    memcpy(longtag, "app:", 4);
    memset(longtag + 4, 't', 129);
    longtag[133] = '\0';
    const struct bad_case cases[] = {
        {"", ATV_E_PARSE},
        {"Alpine", ATV_E_PARSE},                 /* upper case repository */
        {"docker.io/Library/alpine", ATV_E_PARSE},
        {"reg.io/app/Sub", ATV_E_PARSE},
        {"reg.io//app", ATV_E_PARSE},            /* empty component */
        {"reg.io/app/", ATV_E_PARSE},
        {"/app", ATV_E_PARSE},
        {"reg.io/", ATV_E_PARSE},
        {"app:", ATV_E_PARSE},                   /* empty tag */
        {"app:-x", ATV_E_PARSE},                 /* tag must start with a word char */
        {"app:a+b", ATV_E_PARSE},
        {longtag, ATV_E_PARSE},                  /* 129-character tag */
        {"app@sha256:" "0123", ATV_E_PARSE},
        {"app@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         ATV_E_PARSE},                           /* upper-case hex */
        {"app@sha512:" D64 D64, ATV_E_UNSUPPORTED},
        {"app@" D64, ATV_E_PARSE},
        {"app@" DIG "x", ATV_E_PARSE},
        {"a..b", ATV_E_PARSE},
        {"reg.io/a/../b", ATV_E_PARSE},          /* no dot-dot component */
        {"reg.io/a/./b", ATV_E_PARSE},
        {"app:v1@sha256:12", ATV_E_PARSE},
        {"app:v 1", ATV_E_PARSE},
        {"a.-b", ATV_E_PARSE},
        {"a___b", ATV_E_PARSE},
        {"_a", ATV_E_PARSE},
        {"a_", ATV_E_PARSE},
        {"re g.io/app", ATV_E_PARSE},
        {"-reg.io/app", ATV_E_PARSE},
        {"reg.io:/app", ATV_E_PARSE},
        {"reg.io:123456/app", ATV_E_PARSE},
        {"[]/app", ATV_E_PARSE},
        {longname, ATV_E_LIMIT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct atv_ref_image img;
        struct atv_err err;
        atv_err_clear(&err);
        enum atv_status rc = atv_ref_image_parse(cases[i].in, &img, &err);
        CHECK_MSG(rc == cases[i].want, "bad[%zu] %.40s -> %s (%s)", i, cases[i].in,
                  atv_status_name(rc), err.msg);
        CHECK(img.repository[0] == '\0' && img.registry[0] == '\0');
    }
}

static void test_digest(void)
{
    struct atv_err err;
    static const char abc[] = "abc";
    /* sha256("abc"), FIPS 180-2 appendix B.1 */
    const char *good = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *bad = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae";
    struct atv_bytes v = {(const uint8_t *)abc, 3};
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_verify(good, v, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_verify(bad, v, &err), ATV_E_VERIFY, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "digest_mismatch") == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check(NULL, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check("sha256:", &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check(":" D64, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check("SHA256:" D64, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check("sha384:" D64, &err), ATV_E_UNSUPPORTED, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check(DIG "0", &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_digest_check(DIG, &err), ATV_OK, &err);
}

int main(void)
{
    test_good();
    test_bad();
    test_digest();
    return atv_test_done();
}
