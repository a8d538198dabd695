/* Unit tests for referrer/ref.c: digests and image references. */
#include "referrer/referrer.h"
#include "common/test.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG "sha256:" D64

struct good_case {
    const char *in;
    int plain_http;
    const char *registry, *api_host, *repo, *tag, *digest, *name;
};

#define HUB "docker.io", "registry-1.docker.io"

static void test_good(void)
{
    static const struct good_case cases[] = {
        {"alpine", 0, HUB, "library/alpine", "latest", "", "docker.io/library/alpine"},
        {"alpine:3.19", 0, HUB, "library/alpine", "3.19", "", "docker.io/library/alpine"},
        {"docker.io/alpine", 0, HUB, "library/alpine", "latest", "", "docker.io/library/alpine"},
        {"index.docker.io/alpine", 0, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"docker.io/library/alpine:edge", 0, HUB, "library/alpine", "edge", "",
         "docker.io/library/alpine"},
        {"user/app", 0, HUB, "user/app", "latest", "", "docker.io/user/app"},
        {"localhost/app", 0, "localhost", "localhost", "app", "latest", "", "localhost/app"},
        {"localhost:5000/a/b/c:v1", 0, "localhost:5000", "localhost:5000", "a/b/c", "v1", "",
         "localhost:5000/a/b/c"},
        {"127.0.0.1:5055/sig/app@" DIG, 0, "127.0.0.1:5055", "127.0.0.1:5055", "sig/app", "", DIG,
         "127.0.0.1:5055/sig/app"},
        {"ghcr.io/o/r:v1@" DIG, 0, "ghcr.io", "ghcr.io", "o/r", "v1", DIG, "ghcr.io/o/r"},
        {"[::1]:5000/app:x", 0, "[::1]:5000", "[::1]:5000", "app", "x", "", "[::1]:5000/app"},
        {"reg.example.com/a.b_c__d---e/f:_T.-9", 0, "reg.example.com", "reg.example.com",
         "a.b_c__d---e/f", "_T.-9", "", "reg.example.com/a.b_c__d---e/f"},
        {"Registry.Example.com/app", 0, "registry.example.com", "registry.example.com", "app",
         "latest", "", "registry.example.com/app"},
        {"alpine@" DIG, 0, HUB, "library/alpine", "", DIG, "docker.io/library/alpine"},
        /* one registry, one spelling: host case and the default port */
        {"atcr.io/acme/app@" DIG, 0, "atcr.io", "atcr.io", "acme/app", "", DIG, "atcr.io/acme/app"},
        {"ATCR.IO/acme/app@" DIG, 0, "atcr.io", "atcr.io", "acme/app", "", DIG, "atcr.io/acme/app"},
        {"Atcr.io/acme/app@" DIG, 0, "atcr.io", "atcr.io", "acme/app", "", DIG, "atcr.io/acme/app"},
        {"atcr.io:443/acme/app@" DIG, 0, "atcr.io", "atcr.io", "acme/app", "", DIG,
         "atcr.io/acme/app"},
        {"ATCR.io:443/acme/app:v1", 0, "atcr.io", "atcr.io", "acme/app", "v1", "",
         "atcr.io/acme/app"},
        /* the default port of the scheme in use only */
        {"atcr.io:443/acme/app", 1, "atcr.io:443", "atcr.io:443", "acme/app", "latest", "",
         "atcr.io:443/acme/app"},
        {"atcr.io:80/acme/app", 0, "atcr.io:80", "atcr.io:80", "acme/app", "latest", "",
         "atcr.io:80/acme/app"},
        {"atcr.io:80/acme/app", 1, "atcr.io", "atcr.io", "acme/app", "latest", "",
         "atcr.io/acme/app"},
        {"LocalHost:5000/atv/app", 1, "localhost:5000", "localhost:5000", "atv/app", "latest", "",
         "localhost:5000/atv/app"},
        {"localhost:443/x", 0, "localhost", "localhost", "x", "latest", "", "localhost/x"},
        {"[::1]:443/x", 0, "[::1]", "[::1]", "x", "latest", "", "[::1]/x"},
        {"[::1]:5000/x", 0, "[::1]:5000", "[::1]:5000", "x", "latest", "", "[::1]:5000/x"},
        {"[::1]:443/x", 1, "[::1]:443", "[::1]:443", "x", "latest", "", "[::1]:443/x"},
        {"[FE80::A]:80/x", 1, "[fe80::a]", "[fe80::a]", "x", "latest", "", "[fe80::a]/x"},
        {"reg.io:65535/x", 0, "reg.io:65535", "reg.io:65535", "x", "latest", "", "reg.io:65535/x"},
        /* every Docker Hub spelling is docker.io, with "library/" */
        {"DOCKER.IO/alpine", 0, HUB, "library/alpine", "latest", "", "docker.io/library/alpine"},
        {"Docker.Io/library/alpine", 0, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"docker.io:443/alpine", 0, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"index.docker.io:443/library/alpine", 0, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"INDEX.DOCKER.IO/alpine", 0, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"registry-1.docker.io/alpine", 0, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"Registry-1.Docker.IO:443/user/app", 0, HUB, "user/app", "latest", "",
         "docker.io/user/app"},
        {"docker.io:80/alpine", 1, HUB, "library/alpine", "latest", "",
         "docker.io/library/alpine"},
        {"docker.io/user/app", 0, HUB, "user/app", "latest", "", "docker.io/user/app"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct atv_ref_image img, again;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK_MSG(atv_ref_image_parse(cases[i].in, cases[i].plain_http, &img, &err) == ATV_OK,
                  "good[%zu] %s: %s", i, cases[i].in, err.msg);
        CHECK_STR(img.registry, cases[i].registry);
        CHECK_STR(img.api_host, cases[i].api_host);
        CHECK_STR(img.repository, cases[i].repo);
        CHECK_STR(img.tag, cases[i].tag);
        CHECK_STR(img.digest, cases[i].digest);
        CHECK_STR(img.name, cases[i].name);
        /* the name is a fixed point: parsed again it names the same image */
        atv_err_clear(&err);
        CHECK_MSG(atv_ref_image_parse(img.name, cases[i].plain_http, &again, &err) == ATV_OK &&
                      strcmp(again.name, img.name) == 0 &&
                      strcmp(again.registry, img.registry) == 0 &&
                      strcmp(again.api_host, img.api_host) == 0,
                  "good[%zu] name %s does not parse back to itself (%s)", i, img.name, err.msg);
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
        /* spellings that would name a registry twice are refused */
        {"atcr.io./acme/app", ATV_E_PARSE},      /* trailing-dot FQDN */
        {"ATCR.IO./acme/app", ATV_E_PARSE},
        {"atcr.io.:443/acme/app", ATV_E_PARSE},
        {"docker.io./alpine", ATV_E_PARSE},
        {"atcr.io:0443/acme/app", ATV_E_PARSE},  /* leading zero: 443 to a URL parser */
        {"atcr.io:0/acme/app", ATV_E_PARSE},
        {"atcr.io:65536/acme/app", ATV_E_PARSE},
        {"atcr.io:99999/acme/app", ATV_E_PARSE},
        {"Foo/app", ATV_E_PARSE},                /* would read as Hub's foo/app */
        {"foo:443/app", ATV_E_PARSE},
        {"ATCR.IO/Acme/app", ATV_E_PARSE},       /* the path stays strictly lower case */
        {"atcr.io:443/acme/App", ATV_E_PARSE},
        {"DOCKER.IO/Alpine", ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct atv_ref_image img;
        struct atv_err err;
        atv_err_clear(&err);
        enum atv_status rc = atv_ref_image_parse(cases[i].in, 0, &img, &err);
        CHECK_MSG(rc == cases[i].want, "bad[%zu] %.40s -> %s (%s)", i, cases[i].in,
                  atv_status_name(rc), err.msg);
        CHECK(img.repository[0] == '\0' && img.registry[0] == '\0' && img.name[0] == '\0');
    }
    /* the trailing-dot refusal says why */
    {
        struct atv_ref_image img;
        struct atv_err err;
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_image_parse("atcr.io./acme/app", 1, &img, &err), ATV_E_PARSE, &err);
        CHECK(strstr(err.msg, "trailing-dot") != NULL && strstr(err.msg, "same registry") != NULL);
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_image_parse("foo:80/app", 1, &img, &err), ATV_E_PARSE, &err);
        /* over HTTPS the same spelling keeps its port and is fine */
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_image_parse("foo:80/app", 0, &img, &err), ATV_OK, &err);
        CHECK_STR(img.name, "foo:80/app");
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_image_parse(NULL, 0, &img, &err), ATV_E_USAGE, &err);
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
