/* Unit tests for referrer/client.c over a scripted fake transport: requests
 * made (URL, method, Accept, Authorization, redirects), digest and size
 * checks, the Basic and Bearer challenge flows, referrers discovery with the
 * tag-schema fallback. The real registry is exercised by test_registry. */
#include "referrer/referrer.h"
#include "common/test.h"

#include <stdio.h>
#include <stdlib.h>

#define SIGT "application/vnd.atproto.signature.v1+json"
/* sha256("abc"), FIPS 180-2 B.1 */
#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SUBJ "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

struct canned {
    long status;
    const char *body;
    const char *content_digest;
    const char *www;
};

struct seen {
    char method[8];
    char url[512];
    char authz[256];
    char accept[512];
    size_t max_body;
    int follow;
};

struct fake {
    const struct canned *script;
    size_t n, next;
    struct seen seen[8];
};

static enum atv_status fake_perform(void *ctx, const struct atv_http_req *req,
                                    struct atv_http_resp *resp, struct atv_err *err)
{
    struct fake *f = ctx;
    memset(resp, 0, sizeof *resp);
    atv_buf_init(&resp->body, req->max_body);
    if (f->next >= f->n || f->next >= 8) {
        return atv_err_set(err, ATV_E_IO, "fake: unexpected request %s", req->url);
    }
    struct seen *s = &f->seen[f->next];
    const struct canned *c = &f->script[f->next++];
    (void)snprintf(s->method, sizeof s->method, "%s", req->method);
    (void)snprintf(s->url, sizeof s->url, "%s", req->url);
    (void)snprintf(s->authz, sizeof s->authz, "%s",
                   req->authorization != NULL ? req->authorization : "");
    s->accept[0] = '\0';
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        (void)snprintf(s->accept, sizeof s->accept, "%s", req->headers[i]);
    }
    s->max_body = req->max_body;
    s->follow = req->follow_redirects;
    resp->status = c->status;
    (void)snprintf(resp->content_digest, sizeof resp->content_digest, "%s",
                   c->content_digest != NULL ? c->content_digest : "");
    (void)snprintf(resp->www_authenticate, sizeof resp->www_authenticate, "%s",
                   c->www != NULL ? c->www : "");
    if (c->body != NULL && strcmp(req->method, "HEAD") != 0) {
        return atv_buf_append(&resp->body, c->body, strlen(c->body), err);
    }
    return ATV_OK;
}

static void fake_cleanup(struct atv_http_resp *resp)
{
    atv_buf_cleanup(&resp->body);
}

static struct atv_ref_client *client(struct fake *f, const struct canned *script, size_t n,
                                     const struct atv_ref_creds *creds)
{
    struct atv_ref_image img;
    struct atv_ref_client *c = NULL;
    struct atv_err err;
    struct atv_ref_transport tr;
    memset(f, 0, sizeof *f);
    tr.perform = fake_perform;
    tr.cleanup = fake_cleanup;
    tr.ctx = f;
    f->script = script;
    f->n = n;
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_image_parse("127.0.0.1:5055/team/app:v1", &img, &err), ATV_OK, &err);
    CHECK_STATUS(atv_ref_client_new(tr, &img, 1, creds, &c, &err), ATV_OK, &err);
    return c;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_manifest_and_blob(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_buf out;
    char ct[64];
    static const struct canned ok[] = {{200, "abc", ABC, NULL}};
    struct atv_ref_client *c = client(&f, ok, N(ok), NULL);
    atv_buf_init(&out, 100);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, ct, sizeof ct, &err), ATV_OK, &err);
    CHECK(out.len == 3 && memcmp(out.ptr, "abc", 3) == 0);
    CHECK_STR(f.seen[0].url, "http://127.0.0.1:5055/v2/team/app/manifests/" ABC);
    CHECK_STR(f.seen[0].method, "GET");
    CHECK(strstr(f.seen[0].accept, ATV_REF_MT_OCI_MANIFEST) != NULL);
    CHECK(strstr(f.seen[0].accept, ATV_REF_MT_OCI_INDEX) != NULL);
    CHECK(strstr(f.seen[0].accept, ATV_REF_MT_DOCKER_MANIFEST) != NULL);
    CHECK_STR(f.seen[0].authz, "");
    CHECK_EQ(f.seen[0].follow, 0);
    atv_buf_cleanup(&out);
    atv_ref_client_free(c);

    /* blob: redirects followed; unknown size capped at ATV_REF_MAX_BLOB */
    c = client(&f, ok, N(ok), NULL);
    atv_buf_init(&out, 100);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, -1, &out, &err), ATV_OK, &err);
    CHECK_STR(f.seen[0].url, "http://127.0.0.1:5055/v2/team/app/blobs/" ABC);
    CHECK_EQ(f.seen[0].follow, 1);
    CHECK_EQ(f.seen[0].max_body, (size_t)ATV_REF_MAX_BLOB);
    atv_buf_cleanup(&out);
    atv_ref_client_free(c);

    /* one flipped byte */
    static const struct canned tampered[] = {{200, "abd", NULL, NULL}};
    c = client(&f, tampered, N(tampered), NULL);
    atv_buf_init(&out, 100);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 3, &out, &err), ATV_E_VERIFY, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "digest_mismatch") == 0);
    CHECK(out.len == 0);
    atv_ref_client_free(c);

    /* size other than the descriptor's: shorter, and longer (cut at size + 1) */
    c = client(&f, ok, N(ok), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 4, &out, &err), ATV_E_VERIFY, &err);
    atv_ref_client_free(c);
    c = client(&f, ok, N(ok), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 2, &out, &err), ATV_E_VERIFY, &err);
    CHECK_EQ(f.seen[0].max_body, 16384u); /* room for an error document */
    atv_ref_client_free(c);

    /* Docker-Content-Digest naming another digest */
    static const struct canned otherdcd[] = {{200, "abc", D1, NULL}};
    c = client(&f, otherdcd, N(otherdcd), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, -1, &out, NULL, 0, &err), ATV_E_VERIFY, &err);
    atv_ref_client_free(c);

    /* 404, 500, bad digest, over-cap size: no request for the last two */
    static const struct canned nf[] = {{404, "{}", NULL, NULL}};
    c = client(&f, nf, N(nf), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, -1, &out, NULL, 0, &err), ATV_E_NOT_FOUND, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "registry_not_found") == 0);
    atv_ref_client_free(c);
    static const struct canned e500[] = {{500, "", NULL, NULL}};
    c = client(&f, e500, N(e500), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, -1, &out, NULL, 0, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "500") != NULL);
    atv_ref_client_free(c);
    c = client(&f, NULL, 0, NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, "sha256:abc", -1, &out, NULL, 0, &err), ATV_E_PARSE,
                 &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, (int64_t)ATV_REF_MAX_MANIFEST + 1, &out, NULL, 0,
                                      &err),
                 ATV_E_LIMIT, &err);
    CHECK_EQ(f.next, 0u);
    atv_ref_client_free(c);
    atv_buf_cleanup(&out);
}

static void test_basic(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_buf out;
    struct atv_ref_creds cr;
    memset(&cr, 0, sizeof cr);
    (void)snprintf(cr.username, sizeof cr.username, "alice");
    (void)snprintf(cr.password, sizeof cr.password, "s3cret");
    static const struct canned script[] = {{401, "", NULL, "Basic realm=\"test\""},
                                           {200, "abc", NULL, NULL},
                                           {200, "abc", NULL, NULL}};
    struct atv_ref_client *c = client(&f, script, N(script), &cr);
    atv_buf_init(&out, 100);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 3, &out, &err), ATV_OK, &err);
    CHECK_STR(f.seen[0].authz, "");
    CHECK_STR(f.seen[1].authz, "Basic YWxpY2U6czNjcmV0"); /* base64("alice:s3cret") */
    /* the answer is reused: no second anonymous round trip */
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 3, &out, &err), ATV_OK, &err);
    CHECK_STR(f.seen[2].authz, "Basic YWxpY2U6czNjcmV0");
    atv_ref_client_free(c);

    /* padding: "ab:c" is 4 bytes -> "YWI6Yw==" */
    (void)snprintf(cr.username, sizeof cr.username, "ab");
    (void)snprintf(cr.password, sizeof cr.password, "c");
    c = client(&f, script, 2, &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 3, &out, &err), ATV_OK, &err);
    CHECK_STR(f.seen[1].authz, "Basic YWI6Yw==");
    atv_ref_client_free(c);

    /* no credentials: a clear error, one request */
    c = client(&f, script, 1, NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 3, &out, &err), ATV_E_IO, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "registry_unauthorized") == 0);
    atv_ref_client_free(c);

    /* wrong password: 401 again, no loop */
    static const struct canned twice[] = {{401, "", NULL, "Basic realm=\"test\""},
                                          {401, "", NULL, "Basic realm=\"test\""}};
    c = client(&f, twice, N(twice), &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_blob_get(c, ABC, 3, &out, &err), ATV_E_IO, &err);
    CHECK_EQ(f.next, 2u);
    atv_ref_client_free(c);
    atv_buf_cleanup(&out);
}

static void test_bearer(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_buf out;
    struct atv_ref_creds cr;
    memset(&cr, 0, sizeof cr);
    (void)snprintf(cr.username, sizeof cr.username, "alice");
    (void)snprintf(cr.password, sizeof cr.password, "s3cret");
    static const struct canned script[] = {
        {401, "", NULL, "Bearer realm=\"http://127.0.0.1:5058/token\",service=\"test registry\""},
        {200, "{\"access_token\":\"tok.en-1\"}", NULL, NULL},
        {200, "abc", NULL, NULL}};
    struct atv_ref_client *c = client(&f, script, N(script), &cr);
    atv_buf_init(&out, 100);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_OK, &err);
    CHECK_STR(f.seen[1].url, "http://127.0.0.1:5058/token?service=test%20registry"
                             "&scope=repository%3Ateam%2Fapp%3Apull");
    CHECK_STR(f.seen[1].authz, "Basic YWxpY2U6czNjcmV0");
    CHECK_STR(f.seen[2].authz, "Bearer tok.en-1");
    atv_ref_client_free(c);

    /* anonymous token, "token" preferred, realm with a query already */
    static const struct canned anon[] = {
        {401, "", NULL, "Bearer realm=\"https://auth.example/t?x=1\""},
        {200, "{\"token\":\"T\",\"access_token\":\"A\"}", NULL, NULL},
        {200, "abc", NULL, NULL}};
    c = client(&f, anon, N(anon), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_OK, &err);
    CHECK_STR(f.seen[1].url, "https://auth.example/t?x=1&scope=repository%3Ateam%2Fapp%3Apull");
    CHECK_STR(f.seen[1].authz, "");
    CHECK_STR(f.seen[2].authz, "Bearer T");
    atv_ref_client_free(c);

    /* the token is refused: exactly one token fetch, then an error */
    static const struct canned refused[] = {{401, "", NULL, "Bearer realm=\"http://a/t\""},
                                            {200, "{\"token\":\"T\"}", NULL, NULL},
                                            {401, "", NULL, "Bearer realm=\"http://a/t\""}};
    c = client(&f, refused, N(refused), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
    CHECK_EQ(f.next, 3u);
    atv_ref_client_free(c);

    /* bad token answers */
    static const char *const bad_bodies[] = {"{\"token\":\"a b\"}", "{\"token\":\"a\\r\\nX: y\"}",
                                             "{\"token\":5}", "{}", "[]", "{\"token\":\"\"}",
                                             "{\"token\":\"a\",\"token\":\"b\"}"};
    for (size_t i = 0; i < N(bad_bodies); i++) {
        struct canned s[2] = {{401, "", NULL, "Bearer realm=\"http://a/t\""},
                              {200, bad_bodies[i], NULL, NULL}};
        c = client(&f, s, 2, NULL);
        atv_err_clear(&err);
        enum atv_status rc = atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err);
        CHECK_MSG(rc == ATV_E_PARSE || rc == ATV_E_LIMIT, "token body[%zu] -> %s (%s)", i,
                  atv_status_name(rc), err.msg);
        atv_ref_client_free(c);
    }
    /* token server says no; realm not http(s); identitytoken-only needs POST */
    static const struct canned denied[] = {{401, "", NULL, "Bearer realm=\"http://a/t\""},
                                           {401, "", NULL, NULL}};
    c = client(&f, denied, N(denied), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
    atv_ref_client_free(c);
    static const struct canned ftp[] = {{401, "", NULL, "Bearer realm=\"ftp://a/t\""}};
    c = client(&f, ftp, N(ftp), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_PARSE, &err);
    atv_ref_client_free(c);
    struct atv_ref_creds idt;
    memset(&idt, 0, sizeof idt);
    (void)snprintf(idt.identity_token, sizeof idt.identity_token, "refresh");
    static const struct canned one[] = {{401, "", NULL, "Bearer realm=\"http://a/t\""}};
    c = client(&f, one, N(one), &idt);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_UNSUPPORTED, &err);
    atv_ref_client_free(c);
    /* 401 without any challenge */
    static const struct canned bare[] = {{401, "", NULL, NULL}};
    c = client(&f, bare, N(bare), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
    CHECK_EQ(f.next, 1u);
    atv_ref_client_free(c);
    /* a malformed challenge */
    static const struct canned noreal[] = {{401, "", NULL, "Bearer service=\"x\""}};
    c = client(&f, noreal, N(noreal), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_PARSE, &err);
    atv_ref_client_free(c);
    atv_buf_cleanup(&out);
}

static void test_tag_and_referrers(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_ref_index ix;
    char dg[ATV_REF_DIGEST_LEN + 1];
    static const struct canned head[] = {{200, NULL, SUBJ, NULL}};
    struct atv_ref_client *c = client(&f, head, N(head), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_tag_resolve(c, "v1", dg, &err), ATV_OK, &err);
    CHECK_STR(dg, SUBJ);
    CHECK_STR(f.seen[0].method, "HEAD");
    CHECK_STR(f.seen[0].url, "http://127.0.0.1:5055/v2/team/app/manifests/v1");
    CHECK(strstr(f.seen[0].accept, ATV_REF_MT_OCI_MANIFEST) != NULL);
    atv_ref_client_free(c);
    static const struct canned head_bad[] = {{200, NULL, "sha256:XYZ", NULL}};
    c = client(&f, head_bad, N(head_bad), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_tag_resolve(c, "v1", dg, &err), ATV_E_PARSE, &err);
    CHECK_STR(dg, "");
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_tag_resolve(c, "../x", dg, &err), ATV_E_PARSE, &err);
    atv_ref_client_free(c);

    static const char idx[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_OCI_INDEX "\",\"manifests\":["
        "{\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
        "\"artifactType\":\"application/other\"},"
        "{\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":2,"
        "\"artifactType\":\"" SIGT "\",\"annotations\":{\"io.atcr.atproto.did\":\"did:plc:z\"}}]}";
    /* referrers API answers, ignoring the filter: we filter */
    const struct canned api[] = {{200, idx, NULL, NULL}};
    c = client(&f, api, N(api), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, SIGT, &ix, &err), ATV_OK, &err);
    CHECK_STR(f.seen[0].url, "http://127.0.0.1:5055/v2/team/app/referrers/" SUBJ
                             "?artifactType=application%2Fvnd.atproto.signature.v1%2Bjson");
    CHECK(strstr(f.seen[0].accept, ATV_REF_MT_OCI_INDEX) != NULL);
    CHECK_EQ(ix.n, 1u);
    CHECK_STR(ix.manifests[0].digest, D2);
    CHECK(ix.manifests[0].ann_did != NULL && strcmp(ix.manifests[0].ann_did, "did:plc:z") == 0);
    atv_ref_index_cleanup(&ix);
    atv_ref_client_free(c);

    /* 404 (distribution 2.8): the tag schema fallback */
    const struct canned fb[] = {{404, "404 page not found", NULL, NULL}, {200, idx, NULL, NULL}};
    c = client(&f, fb, N(fb), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, NULL, &ix, &err), ATV_OK, &err);
    CHECK_STR(f.seen[0].url, "http://127.0.0.1:5055/v2/team/app/referrers/" SUBJ);
    CHECK_STR(f.seen[1].url, "http://127.0.0.1:5055/v2/team/app/manifests/sha256-"
                             "3333333333333333333333333333333333333333333333333333333333333333");
    CHECK_EQ(ix.n, 2u);
    atv_ref_index_cleanup(&ix);
    atv_ref_client_free(c);

    /* fallback index whose Docker-Content-Digest does not match: refused */
    const struct canned fbbad[] = {{404, "", NULL, NULL}, {200, idx, D1, NULL}};
    c = client(&f, fbbad, N(fbbad), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, SIGT, &ix, &err), ATV_E_VERIFY, &err);
    CHECK(ix.n == 0 && ix.manifests == NULL);
    atv_ref_client_free(c);

    /* no referrers at all */
    static const struct canned none[] = {{404, "", NULL, NULL}, {404, "", NULL, NULL}};
    c = client(&f, none, N(none), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, SIGT, &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 0u);
    atv_ref_index_cleanup(&ix);
    atv_ref_client_free(c);

    /* malformed answer */
    static const struct canned junk[] = {{200, "{\"schemaVersion\":2}", NULL, NULL}};
    c = client(&f, junk, N(junk), NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, SIGT, &ix, &err), ATV_E_PARSE, &err);
    atv_ref_client_free(c);
}

int main(void)
{
    test_manifest_and_blob();
    test_basic();
    test_bearer();
    test_tag_and_referrers();
    return atv_test_done();
}
