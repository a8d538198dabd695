/* Unit tests for referrer/auth.c: WWW-Authenticate, Docker config credentials,
 * and the local ORAS cache reader (referrer/cache.c). */
#include "referrer/referrer.h"
#include "common/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_challenge(void)
{
    struct atv_ref_challenge ch;
    struct atv_err err;

    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
                                         "service=\"registry.docker.io\","
                                         "scope=\"repository:library/alpine:pull,push\"",
                                         &ch, &err),
                 ATV_OK, &err);
    CHECK(ch.scheme == ATV_REF_AUTH_BEARER);
    CHECK_STR(ch.realm, "https://auth.docker.io/token");
    CHECK_STR(ch.service, "registry.docker.io");
    CHECK_STR(ch.scope, "repository:library/alpine:pull,push"); /* comma inside quotes */

    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_challenge_parse("basic realm=\"te\\\"st\"", &ch, &err), ATV_OK, &err);
    CHECK(ch.scheme == ATV_REF_AUTH_BASIC);
    CHECK_STR(ch.realm, "te\"st");

    /* token values, OWS around ',', unknown parameters ignored, second challenge ignored */
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_challenge_parse("BEARER  error=\"invalid_token\" , realm=\"http://r/t?a=b\","
                                         "service=svc , Basic realm=\"x\"",
                                         &ch, &err),
                 ATV_OK, &err);
    CHECK_STR(ch.realm, "http://r/t?a=b");
    CHECK_STR(ch.service, "svc");
    CHECK_STR(ch.scope, "");

    static const struct {
        const char *in;
        enum atv_status want;
    } bad[] = {
        {"", ATV_E_PARSE},
        {"Bearer", ATV_E_PARSE},
        {"Bearer service=\"x\"", ATV_E_PARSE},         /* missing realm */
        {"Basic charset=\"UTF-8\"", ATV_E_PARSE},      /* missing realm */
        {"Bearer realm=\"\"", ATV_E_PARSE},
        {"Bearer realm=\"abc", ATV_E_PARSE},           /* unterminated */
        {"Bearer realm=\"a\" service=\"b\"", ATV_E_PARSE},
        {"Bearer realm=\"a\",realm=\"b\"", ATV_E_PARSE},
        {"Bearer realm=", ATV_E_PARSE},
        {"Bearer realm=\"a\x01\"", ATV_E_PARSE},
        {"Negotiate abc", ATV_E_UNSUPPORTED},
        {"Digest realm=\"a\"", ATV_E_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atv_err_clear(&err);
        enum atv_status rc = atv_ref_challenge_parse(bad[i].in, &ch, &err);
        CHECK_MSG(rc == bad[i].want, "challenge bad[%zu] -> %s (%s)", i, atv_status_name(rc),
                  err.msg);
        CHECK(ch.scheme == ATV_REF_AUTH_NONE && ch.realm[0] == '\0');
    }
    char big[ATV_REF_MAX_REALM + 40];
    int n = snprintf(big, sizeof big, "Bearer realm=\"");
    memset(big + n, 'a', ATV_REF_MAX_REALM + 1);
    (void)snprintf(big + (size_t)n + ATV_REF_MAX_REALM + 1, 3, "\"");
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_challenge_parse(big, &ch, &err), ATV_E_LIMIT, &err);
}

static enum atv_status from_json(const char *s, const char *reg, struct atv_ref_creds *c,
                                 struct atv_err *err)
{
    atv_err_clear(err);
    return atv_ref_creds_from_json((struct atv_bytes){(const uint8_t *)s, strlen(s)}, reg, c, err);
}

static void test_creds_json(void)
{
    struct atv_ref_creds c;
    struct atv_err err;
    /* "alice:s3cr:et" -> the password keeps its ':' */
    CHECK_STATUS(from_json("{\"auths\":{\"localhost:5000\":{\"auth\":\"YWxpY2U6czNjcjpldA==\"},"
                           "\"docker.io\":{\"username\":\"bob\",\"password\":\"pw\","
                           "\"identitytoken\":\"idt\"}}}",
                           "localhost:5000", &c, &err),
                 ATV_OK, &err);
    CHECK_STR(c.username, "alice");
    CHECK_STR(c.password, "s3cr:et");
    CHECK_STATUS(from_json("{\"auths\":{\"docker.io\":{\"username\":\"bob\",\"password\":\"pw\","
                           "\"identitytoken\":\"idt\"}}}",
                           "docker.io", &c, &err),
                 ATV_OK, &err);
    CHECK_STR(c.username, "bob");
    CHECK_STR(c.identity_token, "idt");
    /* auth wins over username/password (docker/cli decodeAuth) */
    CHECK_STATUS(from_json("{\"auths\":{\"r\":{\"username\":\"bob\",\"password\":\"pw\","
                           "\"auth\":\"dTpw\"}}}",
                           "r", &c, &err),
                 ATV_OK, &err);
    CHECK_STR(c.username, "u");
    CHECK_STR(c.password, "p");
    /* exact host match only: no normalisation */
    CHECK_STATUS(from_json("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\"}}}",
                           "docker.io", &c, &err),
                 ATV_OK, &err);
    CHECK_STR(c.username, "");
    /* the lookup key is the normalised registry: any spelling of the
     * reference finds the entry written under the normalised host */
    {
        static const char *const refs[] = {"Index.Docker.io:443/alpine", "DOCKER.IO/alpine",
                                           "registry-1.docker.io/library/alpine", "alpine"};
        for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
            struct atv_ref_image img;
            atv_err_clear(&err);
            CHECK_STATUS(atv_ref_image_parse(refs[i], 0, &img, &err), ATV_OK, &err);
            CHECK_STATUS(from_json("{\"auths\":{\"docker.io\":{\"auth\":\"dTpw\"}}}",
                                   img.registry, &c, &err),
                         ATV_OK, &err);
            CHECK_MSG(strcmp(c.username, "u") == 0, "ref %s: registry %s", refs[i], img.registry);
        }
        struct atv_ref_image img;
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_image_parse("ATCR.IO:443/acme/app", 0, &img, &err), ATV_OK, &err);
        CHECK_STATUS(from_json("{\"auths\":{\"atcr.io\":{\"auth\":\"dTpw\"}}}", img.registry,
                               &c, &err),
                     ATV_OK, &err);
        CHECK_STR(c.username, "u");
        /* keys themselves are not normalised */
        CHECK_STATUS(from_json("{\"auths\":{\"ATCR.IO:443\":{\"auth\":\"dTpw\"}}}",
                               img.registry, &c, &err),
                     ATV_OK, &err);
        CHECK_STR(c.username, "");
    }
    CHECK_STATUS(from_json("{\"credsStore\":\"desktop\"}", "docker.io", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "");

    static const char *const bad[] = {
        "",
        "[]",
        "{\"auths\":[]}",
        "{\"auths\":{\"r\":\"x\"}}",
        "{\"auths\":{\"r\":{\"auth\":\"dXNlcg==\"}}}",   /* "user": no ':' */
        "{\"auths\":{\"r\":{\"auth\":\"dTpw\\n\"}}}",      /* whitespace in base64 */
        "{\"auths\":{\"r\":{\"auth\":\"!!!!\"}}}",
        "{\"auths\":{\"r\":{\"auth\":5}}}",
        "{\"auths\":{\"r\":{\"username\":[]}}}",
        "{\"auths\":{\"r\":{\"auth\":\"dTpw\"},\"r\":{}}}", /* duplicate key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum atv_status rc = from_json(bad[i], "r", &c, &err);
        CHECK_MSG(rc == ATV_E_PARSE, "creds bad[%zu] -> %s (%s)", i, atv_status_name(rc), err.msg);
        CHECK(c.username[0] == '\0' && c.password[0] == '\0');
        /* the secret-bearing input never shows up in the message */
        CHECK(strstr(err.msg, "dTpw") == NULL);
    }
}

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(fputs(s, f) >= 0);
        CHECK(fclose(f) == 0);
    }
}

static void test_creds_lookup(void)
{
    char tmpl[] = "/tmp/atv-ref-auth-XXXXXX";
    char p[512];
    struct atv_ref_creds c;
    struct atv_err err;
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (dir == NULL) {
        return;
    }
    /* home/.docker/config.json says "home", dc/config.json says "dc", explicit.json "explicit" */
    (void)snprintf(p, sizeof p, "%s/home", dir);
    CHECK(mkdir(p, 0700) == 0);
    (void)snprintf(p, sizeof p, "%s/home/.docker", dir);
    CHECK(mkdir(p, 0700) == 0);
    (void)snprintf(p, sizeof p, "%s/home/.docker/config.json", dir);
    write_file(p, "{\"auths\":{\"reg:1\":{\"username\":\"home\",\"password\":\"x\"}}}");
    (void)snprintf(p, sizeof p, "%s/dc", dir);
    CHECK(mkdir(p, 0700) == 0);
    (void)snprintf(p, sizeof p, "%s/dc/config.json", dir);
    write_file(p, "{\"auths\":{\"reg:1\":{\"username\":\"dc\",\"password\":\"x\"}}}");
    (void)snprintf(p, sizeof p, "%s/explicit.json", dir);
    write_file(p, "{\"auths\":{\"reg:1\":{\"username\":\"explicit\",\"password\":\"x\"}}}");

    char home[512], dc[512], explicit_path[512], none[512];
    (void)snprintf(home, sizeof home, "%s/home", dir);
    (void)snprintf(dc, sizeof dc, "%s/dc", dir);
    (void)snprintf(explicit_path, sizeof explicit_path, "%s/explicit.json", dir);
    (void)snprintf(none, sizeof none, "%s/nothere", dir);
    CHECK(setenv("HOME", home, 1) == 0);
    CHECK(setenv("DOCKER_CONFIG", dc, 1) == 0);

    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_creds_load(NULL, explicit_path, "reg:1", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "explicit");
    CHECK_STATUS(atv_ref_creds_load("dockerConfig", NULL, "reg:1", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "dc");
    CHECK(unsetenv("DOCKER_CONFIG") == 0);
    CHECK_STATUS(atv_ref_creds_load("", NULL, "reg:1", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "home");
    CHECK(setenv("DOCKER_CONFIG", "", 1) == 0); /* empty is unset (docker/cli config.Dir) */
    CHECK_STATUS(atv_ref_creds_load(NULL, NULL, "reg:1", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "home");
    /* an explicit path that does not exist: anonymous, no error */
    CHECK_STATUS(atv_ref_creds_load(NULL, none, "reg:1", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "");
    CHECK(setenv("DOCKER_CONFIG", none, 1) == 0);
    CHECK_STATUS(atv_ref_creds_load(NULL, NULL, "reg:1", &c, &err), ATV_OK, &err);
    CHECK_STR(c.username, "");
    /* another provider: anonymous plus a warning naming it */
    CHECK_STATUS(atv_ref_creds_load("azureWorkloadIdentity", explicit_path, "reg:1", &c, &err),
                 ATV_OK, &err);
    CHECK_STR(c.username, "");
    CHECK(strstr(c.warning, "azureWorkloadIdentity") != NULL);
    /* a malformed file is an error naming the file, not a silent anonymous */
    (void)snprintf(p, sizeof p, "%s/broken.json", dir);
    write_file(p, "{\"auths\":");
    CHECK_STATUS(atv_ref_creds_load(NULL, p, "reg:1", &c, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "broken.json") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_creds_load(NULL, dir, "reg:1", &c, &err), ATV_E_IO, &err);
    atv_err_clear(&err);

    (void)unlink(p);
    (void)snprintf(p, sizeof p, "%s/explicit.json", dir);
    (void)unlink(p);
    (void)snprintf(p, sizeof p, "%s/dc/config.json", dir);
    (void)unlink(p);
    (void)snprintf(p, sizeof p, "%s/dc", dir);
    (void)rmdir(p);
    (void)snprintf(p, sizeof p, "%s/home/.docker/config.json", dir);
    (void)unlink(p);
    (void)snprintf(p, sizeof p, "%s/home/.docker", dir);
    (void)rmdir(p);
    (void)rmdir(home);
    CHECK(rmdir(dir) == 0);
}

static void test_cache(void)
{
    char tmpl[] = "/tmp/atv-ref-cache-XXXXXX";
    char p[512];
    struct atv_buf out;
    struct atv_err err;
    /* sha256("abc") */
    const char *dg = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *dg2 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (dir == NULL) {
        return;
    }
    (void)snprintf(p, sizeof p, "%s/blobs", dir);
    CHECK(mkdir(p, 0700) == 0);
    (void)snprintf(p, sizeof p, "%s/blobs/sha256", dir);
    CHECK(mkdir(p, 0700) == 0);
    (void)snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, dg + 7);
    write_file(p, "abc");
    char p2[512];
    (void)snprintf(p2, sizeof p2, "%s/blobs/sha256/%s", dir, dg2 + 7);
    write_file(p2, "abd"); /* corrupt entry */

    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_cache_read(dir, dg, 1024, &out, &err), ATV_OK, &err);
    CHECK(out.len == 3 && memcmp(out.ptr, "abc", 3) == 0);
    atv_buf_cleanup(&out);
    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_cache_read(dir, dg2, 1024, &out, &err), ATV_E_NOT_FOUND, &err);
    CHECK(out.len == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_cache_read(dir, dg, 2, &out, &err), ATV_E_NOT_FOUND, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_cache_read(dir, "sha256:00", 1024, &out, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_cache_read("/nonexistent-atv", dg, 1024, &out, &err), ATV_E_NOT_FOUND,
                 &err);
    atv_buf_cleanup(&out);
    (void)unlink(p);
    (void)unlink(p2);
    (void)snprintf(p, sizeof p, "%s/blobs/sha256", dir);
    (void)rmdir(p);
    (void)snprintf(p, sizeof p, "%s/blobs", dir);
    (void)rmdir(p);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    test_challenge();
    test_creds_json();
    test_creds_lookup();
    test_cache();
    return atv_test_done();
}
