/* Integration test: the registry client against a real Debian docker-registry
 * (distribution 2.8.2) on 127.0.0.1, started and stopped by
 * integration/registry/up.sh and down.sh (run from the repository root, or
 * set ATV_REF_SCRIPTS to that folder). Content is pushed with curl by up.sh.
 *
 * A missing docker-registry is a failing TAP point ("not ok"), never a
 * silent pass: `make deps` installs it (scripts/install-deps.sh). */
#include "common/http.h"
#include "referrer/referrer.h"
#include "common/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIGT "application/vnd.atproto.signature.v1+json"

struct env {
    char hostport[64];
    char img[80], sig[80], sigblob[80], tamper[80];
    int64_t img_size, sig_size, sigblob_size, tamper_size;
};

static const char *scripts(void)
{
    const char *s = getenv("ATV_REF_SCRIPTS");
    return s != NULL ? s : "integration/registry";
}

static int64_t to_i64(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || v < 0) {
        return -2;
    }
    return (int64_t)v;
}

static int read_env(const char *dir, struct env *e)
{
    char path[512], line[256];
    memset(e, 0, sizeof *e);
    (void)snprintf(path, sizeof path, "%s/env", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "HOSTPORT") == 0) {
            (void)snprintf(e->hostport, sizeof e->hostport, "%s", v);
        } else if (strcmp(line, "IMG_DIGEST") == 0) {
            (void)snprintf(e->img, sizeof e->img, "%s", v);
        } else if (strcmp(line, "SIG_DIGEST") == 0) {
            (void)snprintf(e->sig, sizeof e->sig, "%s", v);
        } else if (strcmp(line, "SIGBLOB_DIGEST") == 0) {
            (void)snprintf(e->sigblob, sizeof e->sigblob, "%s", v);
        } else if (strcmp(line, "TAMPER_DIGEST") == 0) {
            (void)snprintf(e->tamper, sizeof e->tamper, "%s", v);
        } else if (strcmp(line, "IMG_SIZE") == 0) {
            e->img_size = to_i64(v);
        } else if (strcmp(line, "SIG_SIZE") == 0) {
            e->sig_size = to_i64(v);
        } else if (strcmp(line, "SIGBLOB_SIZE") == 0) {
            e->sigblob_size = to_i64(v);
        } else if (strcmp(line, "TAMPER_SIZE") == 0) {
            e->tamper_size = to_i64(v);
        }
    }
    (void)fclose(f);
    return e->hostport[0] != '\0' && e->sig[0] != '\0' && e->tamper_size > 0;
}

static int up(char *dir, const char *mode, struct env *e)
{
    char cmd[1024];
    if (mkdtemp(dir) == NULL) {
        return 0;
    }
    (void)snprintf(cmd, sizeof cmd, "sh %s/up.sh %s %s", scripts(), dir, mode);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "up.sh %s: exit %d", mode, rc);
    return rc == 0 && read_env(dir, e);
}

static void down(const char *dir)
{
    char cmd[1024];
    (void)snprintf(cmd, sizeof cmd, "sh %s/down.sh %s", scripts(), dir);
    CHECK(system(cmd) == 0);
}

static struct atv_ref_client *client_for(struct atv_http *h, const struct env *e,
                                         const struct atv_ref_creds *creds)
{
    char ref[128];
    struct atv_ref_image img;
    struct atv_ref_client *c = NULL;
    struct atv_err err;
    atv_err_clear(&err);
    (void)snprintf(ref, sizeof ref, "%s/sig/app:v1", e->hostport);
    CHECK_STATUS(atv_ref_image_parse(ref, 1, &img, &err), ATV_OK, &err);
    CHECK_STATUS(atv_ref_client_new(atv_ref_transport_http(h), &img, 1, creds, &c, &err), ATV_OK,
                 &err);
    return c;
}

static void anonymous_suite(struct atv_http *h, const struct env *e)
{
    struct atv_err err;
    struct atv_buf body;
    struct atv_ref_manifest m;
    struct atv_ref_index ix;
    char dg[ATV_REF_DIGEST_LEN + 1];
    char ct[128];
    struct atv_ref_client *c = client_for(h, e, NULL);
    if (c == NULL) {
        return;
    }
    /* tag -> digest (HEAD, Docker-Content-Digest) */
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_tag_resolve(c, "v1", dg, &err), ATV_OK, &err);
    CHECK_STR(dg, e->img);
    /* the image manifest, hashed */
    atv_buf_init(&body, ATV_REF_MAX_MANIFEST);
    CHECK_STATUS(atv_ref_manifest_get(c, dg, e->img_size, &body, ct, sizeof ct, &err), ATV_OK,
                 &err);
    CHECK_STR(ct, ATV_REF_MT_OCI_MANIFEST);
    CHECK_STATUS(atv_ref_manifest_parse(atv_buf_view(&body), &m, &err), ATV_OK, &err);
    CHECK_EQ(m.n_layers, 1u);
    atv_ref_manifest_cleanup(&m);
    atv_buf_cleanup(&body);
    /* referrers: 2.8 has no API (404), so the tag schema fallback */
    CHECK_STATUS(atv_ref_referrers_list(c, e->img, SIGT, &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 1u);
    if (ix.n == 1) {
        CHECK_STR(ix.manifests[0].digest, e->sig);
        CHECK_EQ(ix.manifests[0].size, e->sig_size);
    }
    atv_ref_index_cleanup(&ix);
    CHECK_STATUS(atv_ref_referrers_list(c, e->img, "application/other", &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 0u);
    atv_ref_index_cleanup(&ix);
    /* the signature manifest, then its layer blob */
    atv_buf_init(&body, ATV_REF_MAX_MANIFEST);
    CHECK_STATUS(atv_ref_manifest_get(c, e->sig, e->sig_size, &body, NULL, 0, &err), ATV_OK, &err);
    CHECK_STATUS(atv_ref_manifest_parse(atv_buf_view(&body), &m, &err), ATV_OK, &err);
    atv_buf_cleanup(&body);
    CHECK_STR(atv_ref_manifest_artifact_type(&m), SIGT);
    CHECK(m.has_subject && strcmp(m.subject.digest, e->img) == 0);
    CHECK(m.ann_did != NULL && strcmp(m.ann_did, "did:plc:testtesttesttesttesttest") == 0);
    CHECK_EQ(m.n_layers, 1u);
    if (m.n_layers == 1) {
        atv_buf_init(&body, ATV_REF_MAX_BLOB);
        CHECK_STATUS(atv_ref_blob_get(c, m.layers[0].digest, m.layers[0].size, &body, &err),
                     ATV_OK, &err);
        CHECK_EQ((int64_t)body.len, e->sigblob_size);
        CHECK(body.len > 10 && memcmp(body.ptr, "{\"$type\":", 9) == 0);
        atv_buf_cleanup(&body);
    }
    atv_ref_manifest_cleanup(&m);
    /* wrong size claimed for a good manifest */
    atv_buf_init(&body, ATV_REF_MAX_MANIFEST);
    CHECK_STATUS(atv_ref_manifest_get(c, e->sig, e->sig_size - 1, &body, NULL, 0, &err),
                 ATV_E_VERIFY, &err);
    atv_err_clear(&err);
    /* a blob altered on disk: the registry serves it, the hash refuses it */
    CHECK_STATUS(atv_ref_blob_get(c, e->tamper, e->tamper_size, &body, &err), ATV_E_VERIFY, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "digest_mismatch") == 0);
    CHECK_EQ(body.len, 0u);
    atv_err_clear(&err);
    /* absent things */
    const char *nope = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    CHECK_STATUS(atv_ref_manifest_get(c, nope, -1, &body, NULL, 0, &err), ATV_E_NOT_FOUND, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, nope, -1, &body, &err), ATV_E_NOT_FOUND, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_tag_resolve(c, "nosuchtag", dg, &err), ATV_E_NOT_FOUND, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_referrers_list(c, nope, SIGT, &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 0u);
    atv_ref_index_cleanup(&ix);
    atv_buf_cleanup(&body);
    atv_ref_client_free(c);
}

static void auth_suite(struct atv_http *h, const struct env *e, const char *dir)
{
    struct atv_err err;
    struct atv_buf body;
    struct atv_ref_creds cr;
    char path[512];
    (void)snprintf(path, sizeof path, "%s/docker-config.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    /* base64("alice:s3cret") */
    CHECK(fprintf(f, "{\"auths\":{\"%s\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}", e->hostport) > 0);
    CHECK(fclose(f) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_creds_load(NULL, path, e->hostport, &cr, &err), ATV_OK, &err);
    CHECK_STR(cr.username, "alice");

    struct atv_ref_client *c = client_for(h, e, &cr);
    atv_buf_init(&body, ATV_REF_MAX_BLOB);
    CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_OK, &err);
    CHECK_EQ((int64_t)body.len, e->sigblob_size);
    atv_buf_cleanup(&body);
    char dg[ATV_REF_DIGEST_LEN + 1];
    CHECK_STATUS(atv_ref_tag_resolve(c, "v1", dg, &err), ATV_OK, &err);
    CHECK_STR(dg, e->img);
    atv_ref_client_free(c);

    /* anonymous: 401 Basic, no credentials */
    c = client_for(h, e, NULL);
    atv_buf_init(&body, ATV_REF_MAX_BLOB);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_E_IO, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "registry_unauthorized") == 0);
    atv_ref_client_free(c);
    /* wrong password: one retry, then refused */
    (void)snprintf(cr.password, sizeof cr.password, "wrong");
    c = client_for(h, e, &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "401") != NULL);
    atv_ref_client_free(c);
    atv_buf_cleanup(&body);
    atv_ref_creds_wipe(&cr);
    (void)unlink(path);
}

static int count_lines(const char *path, const char *needle)
{
    char line[1024];
    int n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (needle == NULL || strstr(line, needle) != NULL) {
            n++;
        }
    }
    (void)fclose(f);
    return n;
}

/* A Docker config holding only an "identitytoken" (what `docker login` keeps
 * for OAuth2 registries): the client POSTs the refresh-token grant to the
 * realm and uses the access_token (token-server.js knows STATE/refresh.token). */
static void identity_token_suite(struct atv_http *h, const struct env *e, const char *dir)
{
    struct atv_err err;
    struct atv_buf body;
    struct atv_ref_creds cr;
    char path[512], log[512], tokfile[512], tok[256], dg[ATV_REF_DIGEST_LEN + 1];
    (void)snprintf(path, sizeof path, "%s/docker-config-idt.json", dir);
    (void)snprintf(log, sizeof log, "%s/token.log", dir);
    (void)snprintf(tokfile, sizeof tokfile, "%s/refresh.token", dir);
    FILE *f = fopen(tokfile, "r");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    CHECK(fgets(tok, sizeof tok, f) != NULL);
    (void)fclose(f);
    tok[strcspn(tok, "\n")] = '\0';
    CHECK(strlen(tok) > 10);
    for (int round = 0; round < 2; round++) {
        /* round 0: the known token; round 1: a wrong one */
        f = fopen(path, "w");
        CHECK(f != NULL);
        if (f == NULL) {
            return;
        }
        CHECK(fprintf(f, "{\"auths\":{\"%s\":{\"identitytoken\":\"%s%s\"}}}", e->hostport, tok,
                      round == 1 ? "-wrong" : "") > 0);
        CHECK(fclose(f) == 0);
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_creds_load(NULL, path, e->hostport, &cr, &err), ATV_OK, &err);
        CHECK(cr.username[0] == '\0' && strncmp(cr.identity_token, tok, strlen(tok)) == 0);
        int posts = count_lines(log, "POST ");
        struct atv_ref_client *c = client_for(h, e, &cr);
        atv_buf_init(&body, ATV_REF_MAX_BLOB);
        atv_err_clear(&err);
        if (round == 0) {
            CHECK_STATUS(atv_ref_tag_resolve(c, "v1", dg, &err), ATV_OK, &err);
            CHECK_STR(dg, e->img);
            CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_OK,
                         &err);
            CHECK_EQ((int64_t)body.len, e->sigblob_size);
            /* one refresh for the session, with the form fields the server checks */
            CHECK_EQ(count_lines(log, "POST "), posts + 1);
            CHECK_EQ(count_lines(log, "POST grant=refresh_token service=test-registry "
                                      "scope=repository:sig/app:pull client_id=atcr-verify ok"),
                     1);
        } else {
            CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_E_IO,
                         &err);
            CHECK(err.reason != NULL && strcmp(err.reason, "registry_unauthorized") == 0);
            CHECK_MSG(strstr(err.msg, "400") != NULL && strstr(err.msg, tok) == NULL &&
                          strstr(err.msg, "rt-") == NULL,
                      "refused, names the status and no token: %s", err.msg);
            CHECK_EQ(count_lines(log, "POST "), posts + 1);
            CHECK_EQ(count_lines(log, " refused"), 1);
        }
        atv_buf_cleanup(&body);
        atv_ref_client_free(c);
        atv_ref_creds_wipe(&cr);
    }
    memset(tok, 0, sizeof tok);
    (void)unlink(path);
}

/* Bearer: the registry sends us to the token server (integration/registry/token-server.js). */
static void token_suite(struct atv_http *h, const struct env *e, const char *dir)
{
    struct atv_err err;
    struct atv_buf body;
    struct atv_ref_creds cr;
    struct atv_ref_index ix;
    char log[512], dg[ATV_REF_DIGEST_LEN + 1];
    (void)snprintf(log, sizeof log, "%s/token.log", dir);
    int before = count_lines(log, NULL); /* up.sh fetched one push token */

    memset(&cr, 0, sizeof cr);
    (void)snprintf(cr.username, sizeof cr.username, "alice");
    (void)snprintf(cr.password, sizeof cr.password, "s3cret");
    struct atv_ref_client *c = client_for(h, e, &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_tag_resolve(c, "v1", dg, &err), ATV_OK, &err);
    CHECK_STR(dg, e->img);
    CHECK_STATUS(atv_ref_referrers_list(c, e->img, SIGT, &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 1u);
    atv_ref_index_cleanup(&ix);
    atv_buf_init(&body, ATV_REF_MAX_MANIFEST);
    CHECK_STATUS(atv_ref_manifest_get(c, e->sig, e->sig_size, &body, NULL, 0, &err), ATV_OK, &err);
    atv_buf_cleanup(&body);
    atv_buf_init(&body, ATV_REF_MAX_BLOB);
    CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_OK, &err);
    CHECK_EQ((int64_t)body.len, e->sigblob_size);
    atv_ref_client_free(c);
    /* one token for the whole session, asked with service, scope and Basic credentials */
    CHECK_EQ(count_lines(log, NULL), before + 1);
    CHECK_EQ(count_lines(log, "?service=test-registry&scope=repository%3Asig%2Fapp%3Apull basic"),
             1);

    /* anonymous: the token grants nothing, the retry gets 401, no second token fetch */
    c = client_for(h, e, NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_E_IO, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "registry_unauthorized") == 0);
    CHECK_EQ(count_lines(log, NULL), before + 2);
    atv_ref_client_free(c);
    /* wrong password: the token server refuses */
    (void)snprintf(cr.password, sizeof cr.password, "wrong");
    c = client_for(h, e, &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, e->sigblob, e->sigblob_size, &body, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "token server") != NULL);
    atv_ref_client_free(c);
    atv_buf_cleanup(&body);
    atv_ref_creds_wipe(&cr);
    identity_token_suite(h, e, dir);
}

int main(void)
{
    const char *reg = getenv("ATV_DOCKER_REGISTRY");
    struct atv_http *h = NULL;
    struct atv_http_opts opts;
    struct atv_err err;
    struct env e;
    char d1[] = "/tmp/atv-reg-anon-XXXXXX";
    char d2[] = "/tmp/atv-reg-auth-XXXXXX";
    char d3[] = "/tmp/atv-reg-token-XXXXXX";

    if (access(reg != NULL ? reg : "/usr/bin/docker-registry", X_OK) != 0) {
        CHECK_MSG(0, "docker-registry is not installed (apt package docker-registry, "
                     "make deps): the registry integration tests did not run");
        return atv_test_done();
    }
    memset(&opts, 0, sizeof opts);
    opts.timeout_ms = 20000;
    opts.allow_loopback_http = 1;
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_new(&opts, &h, &err), ATV_OK, &err);
    if (h == NULL) {
        return atv_test_done();
    }
    if (up(d1, "anon", &e)) {
        anonymous_suite(h, &e);
    } else {
        CHECK_MSG(0, "registry (anonymous) did not come up");
    }
    down(d1);
    if (up(d2, "htpasswd", &e)) {
        auth_suite(h, &e, d2);
    } else {
        CHECK_MSG(0, "registry (htpasswd) did not come up");
    }
    down(d2);
    if (access("/usr/bin/node", X_OK) != 0 && access("/usr/local/bin/node", X_OK) != 0) {
        CHECK_MSG(0, "node is not installed: the token-auth registry test did not run");
    } else if (up(d3, "token", &e)) {
        token_suite(h, &e, d3);
    } else {
        CHECK_MSG(0, "registry (token) did not come up");
    }
    down(d3);
    atv_http_free(h);
    return atv_test_done();
}
