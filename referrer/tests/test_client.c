/* Unit tests for referrer/client.c over a scripted fake transport: requests
 * made (URL, method, Accept, Authorization, redirects, POST bodies), digest
 * and size checks, the Basic and Bearer challenge flows, the identitytoken
 * refresh (OAuth2 POST), referrers discovery with the tag-schema fallback and
 * Link rel="next" pagination, and the Link parser. The real registry is
 * exercised by test_registry. */
#include "referrer/referrer.h"
#include "common/test.h"
#include "referrer/ref_internal.h"

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

#define FAKE_MAX 24

struct seen {
    char method[8];
    char url[512];
    char authz[256];
    char accept[512];
    char body[1024];
    char content_type[128];
    size_t max_body;
    int follow;
};

struct fake {
    const struct canned *script;
    size_t n, next;
    const char *link[FAKE_MAX];   /* Link header of answer i, NULL: none */
    int link_dropped[FAKE_MAX];
    struct seen seen[FAKE_MAX];
};

static enum atv_status fake_perform(void *ctx, const struct atv_http_req *req,
                                    struct atv_http_resp *resp, struct atv_err *err)
{
    struct fake *f = ctx;
    memset(resp, 0, sizeof *resp);
    atv_buf_init(&resp->body, req->max_body);
    if (f->next >= f->n || f->next >= FAKE_MAX) {
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
    (void)snprintf(s->body, sizeof s->body, "%.*s", (int)req->body_len,
                   req->body != NULL ? (const char *)req->body : "");
    (void)snprintf(s->content_type, sizeof s->content_type, "%s",
                   req->content_type != NULL ? req->content_type : "");
    (void)snprintf(resp->link, sizeof resp->link, "%s",
                   f->link[f->next - 1] != NULL ? f->link[f->next - 1] : "");
    resp->link_dropped = f->link_dropped[f->next - 1];
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

static struct atv_ref_client *client_http(struct fake *f, const struct canned *script,
                                          size_t n, const struct atv_ref_creds *creds,
                                          int use_http)
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
    CHECK_STATUS(atv_ref_image_parse("127.0.0.1:5055/team/app:v1", 1, &img, &err), ATV_OK, &err);
    CHECK_STATUS(atv_ref_client_new(tr, &img, use_http, creds, &c, &err), ATV_OK, &err);
    return c;
}

/* The registry at http://127.0.0.1:5055 (a store with useHttp). */
static struct atv_ref_client *client(struct fake *f, const struct canned *script, size_t n,
                                     const struct atv_ref_creds *creds)
{
    return client_http(f, script, n, creds, 1);
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
    /* token server says no; realm not http(s) */
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

#define REFRESH_SECRET "r3fresh tok/+=&"
#define REALM "Bearer realm=\"http://127.0.0.1:5058/token\",service=\"test registry\""

static void refresh_creds(struct atv_ref_creds *cr)
{
    memset(cr, 0, sizeof *cr);
    (void)snprintf(cr->identity_token, sizeof cr->identity_token, "%s", REFRESH_SECRET);
}

/* The identitytoken of a Docker config: an OAuth2 refresh_token grant. */
static void test_identity_token(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_buf out;
    struct atv_ref_creds cr;
    refresh_creds(&cr);
    atv_buf_init(&out, 100);
    static const struct canned ok[] = {{401, "", NULL, REALM},
                                       {200, "{\"access_token\":\"acc.tok-1\",\"expires_in\":60}",
                                        NULL, NULL},
                                       {200, "abc", NULL, NULL}};
    struct atv_ref_client *c = client(&f, ok, N(ok), &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_OK, &err);
    CHECK_EQ(f.next, 3u);
    CHECK_STR(f.seen[1].method, "POST");
    CHECK_STR(f.seen[1].url, "http://127.0.0.1:5058/token");
    CHECK_STR(f.seen[1].content_type, "application/x-www-form-urlencoded");
    /* every value form-encoded: space '+', '/' '+' '=' '&' ':' as %XX */
    CHECK_STR(f.seen[1].body, "grant_type=refresh_token&refresh_token=r3fresh+tok%2F%2B%3D%26"
                              "&service=test+registry&scope=repository%3Ateam%2Fapp%3Apull"
                              "&client_id=atcr-verify");
    CHECK_STR(f.seen[1].authz, ""); /* the secret is in the body, not a Basic header */
    CHECK_EQ(f.seen[1].follow, 0);
    CHECK_STR(f.seen[2].authz, "Bearer acc.tok-1");
    CHECK(out.len == 3);
    atv_buf_cleanup(&out);
    atv_ref_client_free(c);

    /* the identity token wins over a username and password (oras-go); no
     * service in the challenge: no service field */
    (void)snprintf(cr.username, sizeof cr.username, "alice");
    (void)snprintf(cr.password, sizeof cr.password, "s3cret");
    static const struct canned nosvc[] = {{401, "", NULL, "Bearer realm=\"https://a.example/t\""},
                                          {200, "{\"access_token\":\"A\"}", NULL, NULL},
                                          {200, "abc", NULL, NULL}};
    c = client(&f, nosvc, N(nosvc), &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_OK, &err);
    CHECK_STR(f.seen[1].method, "POST");
    CHECK_STR(f.seen[1].body, "grant_type=refresh_token&refresh_token=r3fresh+tok%2F%2B%3D%26"
                              "&scope=repository%3Ateam%2Fapp%3Apull&client_id=atcr-verify");
    CHECK_STR(f.seen[1].authz, "");
    atv_buf_cleanup(&out);
    atv_ref_client_free(c);
    refresh_creds(&cr);

    /* a wrong refresh token: the token server refuses (401, or OAuth2's 400
     * invalid_grant): registry_unauthorized, one POST, no secret in the message */
    static const long refusals[] = {401, 400, 403, 500};
    for (size_t i = 0; i < N(refusals); i++) {
        struct canned s[2] = {{401, "", NULL, REALM},
                              {refusals[i], "{\"error\":\"invalid_grant\"}", NULL, NULL}};
        c = client(&f, s, 2, &cr);
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
        CHECK(err.reason != NULL && strcmp(err.reason, "registry_unauthorized") == 0);
        CHECK_MSG(strstr(err.msg, "r3fresh") == NULL && strstr(err.msg, "refresh_token=") == NULL,
                  "no secret in: %s", err.msg);
        CHECK_EQ(f.next, 2u);
        atv_ref_client_free(c);
    }

    /* the access token is refused by the registry: one retry, no second POST */
    static const struct canned again[] = {
        {401, "", NULL, REALM},
        {200, "{\"access_token\":\"A\"}", NULL, NULL},
        {401, "", NULL, REALM}};
    c = client(&f, again, N(again), &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "registry_unauthorized") == 0);
    CHECK_EQ(f.next, 3u);
    CHECK(strstr(err.msg, "r3fresh") == NULL);
    atv_ref_client_free(c);

    /* OAuth2 answers carry access_token only: "token" alone is not one;
     * bad values are refused as for the GET flow */
    static const char *const bad[] = {"{\"token\":\"T\"}", "{\"access_token\":\"a b\"}",
                                      "{\"access_token\":7}", "{\"access_token\":\"\"}", "nope",
                                      "{\"access_token\":\"a\",\"access_token\":\"b\"}"};
    for (size_t i = 0; i < N(bad); i++) {
        struct canned s[2] = {{401, "", NULL, REALM}, {200, bad[i], NULL, NULL}};
        c = client(&f, s, 2, &cr);
        atv_err_clear(&err);
        enum atv_status rc = atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err);
        CHECK_MSG((rc == ATV_E_PARSE || rc == ATV_E_LIMIT) && strstr(err.msg, "r3fresh") == NULL,
                  "refresh answer[%zu] -> %s (%s)", i, atv_status_name(rc), err.msg);
        atv_ref_client_free(c);
    }

    /* the transport fails during the POST: IO, the message names no secret */
    static const struct canned cut[] = {{401, "", NULL, REALM}};
    c = client(&f, cut, N(cut), &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "identitytoken refresh") != NULL && strstr(err.msg, "r3fresh") == NULL);
    atv_ref_client_free(c);

    /* Basic challenge with only an identity token: nothing to send */
    static const struct canned basic[] = {{401, "", NULL, "Basic realm=\"r\""}};
    c = client(&f, basic, N(basic), &cr);
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, &err), ATV_E_IO, &err);
    CHECK_EQ(f.next, 1u);
    atv_ref_client_free(c);
    atv_buf_cleanup(&out);
    atv_ref_creds_wipe(&cr);
}

/* ---- the token realm: credentials never cross a network in clear ---------- */

/* Runs one manifest fetch whose 401 names realm; script answers: 401, then
 * (when the token request is expected) a token, then the manifest. */
static enum atv_status realm_run(const char *realm, const struct atv_ref_creds *cr, int use_http,
                                 struct fake *f, struct atv_err *err)
{
    char www[256];
    struct atv_buf out;
    (void)snprintf(www, sizeof www, "Bearer realm=\"%s\",service=\"reg\"", realm);
    struct canned s[3] = {{401, "", NULL, NULL},
                          {200, "{\"token\":\"T\",\"access_token\":\"T\"}", NULL, NULL},
                          {200, "abc", NULL, NULL}};
    s[0].www = www;
    struct atv_ref_client *c = client_http(f, s, 3, cr, use_http);
    atv_buf_init(&out, 100);
    atv_err_clear(err);
    enum atv_status rc = atv_ref_manifest_get(c, ABC, 3, &out, NULL, 0, err);
    atv_buf_cleanup(&out);
    atv_ref_client_free(c);
    return rc;
}

/* 1 when no request of f went to a URL containing host. */
static int none_to(const struct fake *f, const char *host)
{
    for (size_t i = 0; i < f->next && i < FAKE_MAX; i++) {
        if (strstr(f->seen[i].url, host) != NULL) {
            return 0;
        }
    }
    return 1;
}

static int insecure(enum atv_status rc, const struct fake *f, const struct atv_err *err)
{
    int ok = rc == ATV_E_IO && err->reason != NULL &&
             strcmp(err->reason, "insecure_token_realm") == 0 && f->next == 1 &&
             strstr(err->msg, "s3cret") == NULL && strstr(err->msg, "r3fresh") == NULL;
    if (!ok) {
        DIAG("want insecure_token_realm after 1 request, got %s (%s) after %zu: %s",
             atv_status_name(rc), err->reason != NULL ? err->reason : "-", f->next, err->msg);
    }
    return ok;
}

static void test_token_realm(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_ref_creds basic, refresh;
    memset(&basic, 0, sizeof basic);
    (void)snprintf(basic.username, sizeof basic.username, "alice");
    (void)snprintf(basic.password, sizeof basic.password, "s3cret");
    refresh_creds(&refresh);

    /* the attack: a useHttp registry on loopback names a plain-http realm on
     * another host; Basic credentials configured. Refused, nothing sent there. */
    CHECK(insecure(realm_run("http://evil.example/token", &basic, 1, &f, &err), &f, &err));
    CHECK(none_to(&f, "evil.example"));
    CHECK_STR(f.seen[0].url, "http://127.0.0.1:5055/v2/team/app/manifests/" ABC);
    CHECK_STR(f.seen[0].authz, "");
    /* the same with an identity token: no refresh POST either */
    CHECK(insecure(realm_run("http://evil.example/token", &refresh, 1, &f, &err), &f, &err));
    CHECK(none_to(&f, "evil.example"));
    /* spellings that only look loopback */
    static const char *const fake_loop[] = {
        "http://127.0.0.1@evil.example/token", "http://127.0.0.1.evil.example/token",
        "http://localhost.evil.example/token", "http://evil.example/127.0.0.1/token",
        "http://10.0.0.1/token",              "http://[::2]/token",
        "http://0.0.0.0:5001/token"};
    for (size_t i = 0; i < N(fake_loop); i++) {
        enum atv_status rc = realm_run(fake_loop[i], &basic, 1, &f, &err);
        CHECK_MSG(insecure(rc, &f, &err), "realm[%zu] %s", i, fake_loop[i]);
    }

    /* a loopback realm over plain http, registry with useHttp: allowed */
    static const char *const loop[] = {"http://127.0.0.1:5001/token", "http://127.9.8.7/t",
                                       "http://localhost:5001/token", "http://[::1]:5001/token"};
    for (size_t i = 0; i < N(loop); i++) {
        CHECK_STATUS(realm_run(loop[i], &basic, 1, &f, &err), ATV_OK, &err);
        CHECK_EQ(f.next, 3u);
        CHECK(strncmp(f.seen[1].url, loop[i], strlen(loop[i])) == 0);
        CHECK_STR(f.seen[1].authz, "Basic YWxpY2U6czNjcmV0");
    }
    CHECK_STATUS(realm_run("http://127.0.0.1:5001/token", &refresh, 1, &f, &err), ATV_OK, &err);
    CHECK_STR(f.seen[1].method, "POST");

    /* an https realm on another host (Docker Hub's auth.docker.io): allowed
     * with credentials, whether the registry itself is http or https */
    for (int use_http = 0; use_http <= 1; use_http++) {
        CHECK_STATUS(realm_run("https://auth.other.example/token", &basic, use_http, &f, &err),
                     ATV_OK, &err);
        CHECK(strncmp(f.seen[1].url, "https://auth.other.example/token?", 33) == 0);
        CHECK_STR(f.seen[1].authz, "Basic YWxpY2U6czNjcmV0");
        CHECK_STATUS(realm_run("https://auth.other.example/token", &refresh, use_http, &f, &err),
                     ATV_OK, &err);
        CHECK_STR(f.seen[1].method, "POST");
        CHECK_STR(f.seen[1].url, "https://auth.other.example/token");
    }

    /* a loopback realm over plain http, but the registry is https: refused */
    CHECK(insecure(realm_run("http://127.0.0.1:5001/token", &basic, 0, &f, &err), &f, &err));
    CHECK_STR(f.seen[0].url, "https://127.0.0.1:5055/v2/team/app/manifests/" ABC);
    CHECK(insecure(realm_run("http://127.0.0.1:5001/token", &refresh, 0, &f, &err), &f, &err));
    CHECK(insecure(realm_run("http://evil.example/token", &basic, 0, &f, &err), &f, &err));

    /* no credentials: an anonymous token request to an http realm is not
     * judged here (common/http's scheme policy applies, as to any request) */
    CHECK_STATUS(realm_run("http://evil.example/token", NULL, 1, &f, &err), ATV_OK, &err);
    CHECK_EQ(f.next, 3u);
    CHECK_STR(f.seen[1].authz, "");
    CHECK(strncmp(f.seen[1].url, "http://evil.example/token?", 26) == 0);
    atv_ref_creds_wipe(&basic);
    atv_ref_creds_wipe(&refresh);
}

/* ---- referrers pagination --------------------------------------------------- */

#define DESC(d, at)                                                                                \
    "{\"mediaType\":\"" ATV_REF_MT_OCI_MANIFEST "\",\"digest\":\"" d "\",\"size\":1,"              \
    "\"artifactType\":\"" at "\"}"
#define INDEX(list)                                                                                \
    "{\"schemaVersion\":2,\"mediaType\":\"" ATV_REF_MT_OCI_INDEX "\",\"manifests\":[" list "]}"
#define D3 "sha256:4444444444444444444444444444444444444444444444444444444444444444"
#define D4 "sha256:5555555555555555555555555555555555555555555555555555555555555555"
#define BASE "http://127.0.0.1:5055"
#define REFS "/v2/team/app/referrers/" SUBJ

static const char page1[] = INDEX(DESC(D1, "application/other") "," DESC(D2, SIGT));
static const char page2[] = INDEX(DESC(D3, SIGT) "," DESC(D4, "application/other"));
static const char empty_page[] = INDEX("");

/* Lists SUBJ's SIGT referrers over script, with links[i] on answer i. */
static enum atv_status list_pages(struct fake *f, const struct canned *script, size_t n,
                                  const char *const *links, struct atv_ref_index *ix,
                                  struct atv_err *err)
{
    struct atv_ref_client *c = client(f, script, n, NULL);
    for (size_t i = 0; i < n && i < FAKE_MAX; i++) {
        f->link[i] = links[i];
    }
    atv_err_clear(err);
    enum atv_status rc = atv_ref_referrers_list(c, SUBJ, SIGT, ix, err);
    atv_ref_client_free(c);
    return rc;
}

static void test_pagination(void)
{
    struct fake f;
    struct atv_err err;
    struct atv_ref_index ix;
    const struct canned two[] = {{200, page1, NULL, NULL}, {200, page2, NULL, NULL}};

    /* two pages, merged in order, the filter applied on each page */
    static const char *const rel_abs[] = {"<" REFS "?artifactType=x&last=abc>; rel=\"next\"", NULL};
    CHECK_STATUS(list_pages(&f, two, 2, rel_abs, &ix, &err), ATV_OK, &err);
    CHECK_EQ(ix.n, 2u);
    if (ix.n == 2) {
        CHECK_STR(ix.manifests[0].digest, D2);
        CHECK_STR(ix.manifests[1].digest, D3);
    }
    CHECK_STR(ix.media_type, ATV_REF_MT_OCI_INDEX);
    CHECK_EQ(f.next, 2u);
    CHECK_STR(f.seen[1].url, BASE REFS "?artifactType=x&last=abc");
    CHECK_STR(f.seen[1].method, "GET");
    CHECK(strstr(f.seen[1].accept, ATV_REF_MT_OCI_INDEX) != NULL);
    atv_ref_index_cleanup(&ix);

    /* the other reference forms: absolute same origin (host case-insensitive),
     * network-path, query-only, relative path; a fragment is dropped */
    static const struct {
        const char *link;
        const char *want;
    } forms[] = {
        {"<http://127.0.0.1:5055/v2/team/app/referrers/x?n=2>; rel=next",
         BASE "/v2/team/app/referrers/x?n=2"},
        {"<HTTP://127.0.0.1:5055/p2>; rel=\"next\"", BASE "/p2"},
        {"<//127.0.0.1:5055/p3>;rel=next", BASE "/p3"},
        {"<?n=2&last=z>; rel=\"next\"", BASE REFS "?n=2&last=z"},
        {"<page2?x=1>; rel=\"next\"", BASE "/v2/team/app/referrers/page2?x=1"},
        {"</p4#frag>; rel=\"next\"", BASE "/p4"},
        {"<https://other.example/p>; rel=\"prev\", </p5>; rel=\"NEXT last\"", BASE "/p5"},
        {"</p6>; title=\"a, b; rel=next\"; rel=next", BASE "/p6"},
    };
    for (size_t i = 0; i < N(forms); i++) {
        const char *links[2] = {forms[i].link, NULL};
        enum atv_status rc = list_pages(&f, two, 2, links, &ix, &err);
        CHECK_MSG(rc == ATV_OK && f.next == 2 && strcmp(f.seen[1].url, forms[i].want) == 0,
                  "link form %zu: %s -> %s (%s)", i, atv_status_name(rc), f.seen[1].url, err.msg);
        atv_ref_index_cleanup(&ix);
    }

    /* Authorization earned on page 1 goes with page 2 */
    {
        struct atv_ref_creds cr;
        memset(&cr, 0, sizeof cr);
        (void)snprintf(cr.username, sizeof cr.username, "alice");
        (void)snprintf(cr.password, sizeof cr.password, "s3cret");
        const struct canned s[] = {{401, "", NULL, "Basic realm=\"r\""},
                                   {200, page1, NULL, NULL},
                                   {200, page2, NULL, NULL}};
        struct atv_ref_client *c = client(&f, s, N(s), &cr);
        f.link[1] = "</p2>; rel=next";
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, NULL, &ix, &err), ATV_OK, &err);
        CHECK_EQ(ix.n, 4u); /* no filter */
        CHECK_STR(f.seen[2].url, BASE "/p2");
        CHECK_STR(f.seen[2].authz, "Basic YWxpY2U6czNjcmV0");
        atv_ref_index_cleanup(&ix);
        atv_ref_client_free(c);
        atv_ref_creds_wipe(&cr);
    }

    /* a next page on another origin: refused before any request to it */
    static const char *const cross[] = {
        "<http://evil.example/v2/team/app/referrers/x>; rel=\"next\"",
        "<https://127.0.0.1:5055/p>; rel=\"next\"", /* other scheme */
        "<http://127.0.0.1:5056/p>; rel=\"next\"",  /* other port */
        "<http://127.0.0.1:5055.evil.example/p>; rel=\"next\"",
        "<http://127.0.0.1:5055@evil.example/p>; rel=\"next\"",
        "<//evil.example/p>; rel=\"next\"",
        "<ftp://127.0.0.1:5055/p>; rel=\"next\"",
    };
    for (size_t i = 0; i < N(cross); i++) {
        const char *links[2] = {cross[i], NULL};
        enum atv_status rc = list_pages(&f, two, 2, links, &ix, &err);
        CHECK_MSG(rc == ATV_E_IO && f.next == 1 && ix.n == 0 && ix.manifests == NULL &&
                      err.reason != NULL && strcmp(err.reason, "registry_error") == 0 &&
                      strstr(err.msg, "another origin") != NULL,
                  "cross %zu: %s after %zu requests (%s)", i, atv_status_name(rc), f.next, err.msg);
    }

    /* loops: a page naming itself, and page 2 naming page 1 */
    static const char *const self[] = {"<" REFS "?artifactType=application%2Fvnd.atproto."
                                       "signature.v1%2Bjson>; rel=next",
                                       NULL};
    CHECK_STATUS(list_pages(&f, two, 2, self, &ix, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "loops") != NULL);
    CHECK_EQ(f.next, 1u);
    static const char *const back[] = {"</p2>; rel=next", "</p2>; rel=next"};
    CHECK_STATUS(list_pages(&f, two, 2, back, &ix, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "loops") != NULL);
    CHECK_EQ(f.next, 2u);

    /* the page cap: exactly ATV_REF_MAX_REFERRER_PAGES pages is fine, a
     * further next is ATV_E_LIMIT without fetching it */
    {
        struct canned many[ATV_REF_MAX_REFERRER_PAGES];
        static char lk[ATV_REF_MAX_REFERRER_PAGES][64];
        const char *links[ATV_REF_MAX_REFERRER_PAGES];
        for (size_t i = 0; i < ATV_REF_MAX_REFERRER_PAGES; i++) {
            many[i].status = 200;
            many[i].body = i == 3 ? page2 : empty_page;
            many[i].content_digest = NULL;
            many[i].www = NULL;
            (void)snprintf(lk[i], sizeof lk[i], "</page?n=%zu>; rel=next", i + 2);
            links[i] = lk[i];
        }
        CHECK_STATUS(list_pages(&f, many, N(many), links, &ix, &err), ATV_E_LIMIT, &err);
        CHECK_EQ(f.next, (size_t)ATV_REF_MAX_REFERRER_PAGES);
        CHECK(ix.n == 0 && ix.manifests == NULL);
        CHECK(strstr(err.msg, "pages") != NULL);
        links[ATV_REF_MAX_REFERRER_PAGES - 1] = NULL;
        CHECK_STATUS(list_pages(&f, many, N(many), links, &ix, &err), ATV_OK, &err);
        CHECK_EQ(f.next, (size_t)ATV_REF_MAX_REFERRER_PAGES);
        CHECK_EQ(ix.n, 1u);
        CHECK_STR(f.seen[ATV_REF_MAX_REFERRER_PAGES - 1].url, BASE "/page?n=16");
        atv_ref_index_cleanup(&ix);
    }

    /* the entry cap over all pages (after filtering): 1024 + 1 */
    {
        size_t per = strlen(DESC(D2, SIGT)) + 1;
        size_t cap = 64 + per * ATV_REF_MAX_INDEX_ENTRIES;
        char *big = malloc(cap);
        CHECK(big != NULL);
        if (big != NULL) {
            size_t len = (size_t)snprintf(big, cap, "{\"schemaVersion\":2,\"manifests\":[");
            for (size_t i = 0; i < ATV_REF_MAX_INDEX_ENTRIES; i++) {
                len += (size_t)snprintf(big + len, cap - len, "%s" DESC(D2, SIGT),
                                        i > 0 ? "," : "");
            }
            (void)snprintf(big + len, cap - len, "]}");
            const struct canned s[] = {{200, big, NULL, NULL}, {200, page2, NULL, NULL}};
            static const char *const l[] = {"</p2>; rel=next", NULL};
            CHECK_STATUS(list_pages(&f, s, 2, l, &ix, &err), ATV_E_LIMIT, &err);
            CHECK(ix.n == 0 && ix.manifests == NULL);
            CHECK(strstr(err.msg, "1024") != NULL);
            /* the same 1024 alone are fine */
            CHECK_STATUS(list_pages(&f, s, 1, l + 1, &ix, &err), ATV_OK, &err);
            CHECK_EQ(ix.n, (size_t)ATV_REF_MAX_INDEX_ENTRIES);
            atv_ref_index_cleanup(&ix);
            free(big);
        }
    }

    /* a next page that is not there, or is malformed: the whole list fails */
    {
        const struct canned s[] = {{200, page1, NULL, NULL}, {404, "", NULL, NULL}};
        static const char *const l[] = {"</p2>; rel=next", NULL};
        CHECK_STATUS(list_pages(&f, s, 2, l, &ix, &err), ATV_E_NOT_FOUND, &err);
        CHECK(ix.n == 0 && ix.manifests == NULL);
        const struct canned j[] = {{200, page1, NULL, NULL}, {200, "{}", NULL, NULL}};
        CHECK_STATUS(list_pages(&f, j, 2, l, &ix, &err), ATV_E_PARSE, &err);
        CHECK(ix.n == 0 && ix.manifests == NULL);
    }

    /* Link headers that do not parse, or were dropped for length */
    static const char *const badlinks[] = {"</p2; rel=next", "p2; rel=next", "</p 2>; rel=next",
                                           "</p2>; rel=\"next", "</p2>; =next", "</p2> rel=next",
                                           "</a>; rel=next, </b>; rel=next",
                                           "<>; rel=next",
                                           "<../x>; rel=next", "<a/./b>; rel=next"};
    for (size_t i = 0; i < N(badlinks); i++) {
        const char *links[2] = {badlinks[i], NULL};
        enum atv_status rc = list_pages(&f, two, 2, links, &ix, &err);
        CHECK_MSG((rc == ATV_E_PARSE || rc == ATV_E_LIMIT) && f.next == 1 && ix.n == 0,
                  "bad link %zu: %s (%s)", i, atv_status_name(rc), err.msg);
    }
    {
        struct atv_ref_client *c = client(&f, two, 2, NULL);
        f.link_dropped[0] = 1;
        atv_err_clear(&err);
        CHECK_STATUS(atv_ref_referrers_list(c, SUBJ, SIGT, &ix, &err), ATV_E_LIMIT, &err);
        CHECK_EQ(f.next, 1u);
        atv_ref_client_free(c);
    }
    /* a Link without rel=next ends the list */
    static const char *const prev_only[] = {"</p0>; rel=\"prev\", </p9>; rel=last", NULL};
    CHECK_STATUS(list_pages(&f, two, 2, prev_only, &ix, &err), ATV_OK, &err);
    CHECK_EQ(f.next, 1u);
    CHECK_EQ(ix.n, 1u);
    atv_ref_index_cleanup(&ix);

    /* the tag-schema index is one document: a Link on it is not followed */
    const struct canned fb[] = {{404, "", NULL, NULL}, {200, page1, NULL, NULL}};
    static const char *const fbl[] = {NULL, "</p2>; rel=next"};
    CHECK_STATUS(list_pages(&f, fb, 2, fbl, &ix, &err), ATV_OK, &err);
    CHECK_EQ(f.next, 2u);
    CHECK_EQ(ix.n, 1u);
    atv_ref_index_cleanup(&ix);
}

/* The Link parser alone (RFC 8288 section 3). */
static void test_link_parse(void)
{
    static const struct {
        const char *in;
        enum atv_status want;
        const char *target;
    } cases[] = {
        {"</a>; rel=\"next\"", ATV_OK, "/a"},
        {"</a>;rel=next", ATV_OK, "/a"},
        {"  </a> ; rel = next  ", ATV_OK, "/a"},
        {"</a>; rel=\"prev next\"", ATV_OK, "/a"},
        {"</x>; rel=prev, </y>; rel=next", ATV_OK, "/y"},
        {"</x>; rel=prev,, </y>; rel=NeXt", ATV_OK, "/y"},
        {"</a>; rel=next, </a>; rel=\"next\"", ATV_OK, "/a"}, /* the same target twice */
        {"</a>; rel=next; rel=prev", ATV_OK, "/a"},          /* the first rel counts */
        {"</a>; rel=prev; rel=next", ATV_E_NOT_FOUND, ""},   /* later ones are ignored */
        {"</a,b>; rel=next", ATV_OK, "/a,b"},
        {"</a>; title=\"x\\\"y\"; rel=next", ATV_OK, "/a"},
        {"</a>; rel=\"nextpage\"", ATV_E_NOT_FOUND, ""},
        {"</a>", ATV_E_NOT_FOUND, ""},
        {"", ATV_E_NOT_FOUND, ""},
        {"</a>; rel=next, </b>; rel=next", ATV_E_PARSE, ""},
        {"</a; rel=next", ATV_E_PARSE, ""},
        {"/a; rel=next", ATV_E_PARSE, ""},
        {"</a>; rel=next junk", ATV_E_PARSE, ""},
        {"</a>; rel=", ATV_E_PARSE, ""},
        {"</a>; ;rel=next", ATV_E_PARSE, ""},
        {"</a>; rel=\"next", ATV_E_PARSE, ""},
        {"</a\x01>; rel=next", ATV_E_PARSE, ""},
        {"<>; rel=next", ATV_E_LIMIT, ""},
    };
    char out[64];
    struct atv_err err;
    for (size_t i = 0; i < N(cases); i++) {
        atv_err_clear(&err);
        enum atv_status rc = atv_ref_link_next(cases[i].in, out, sizeof out, &err);
        CHECK_MSG(rc == cases[i].want && strcmp(out, cases[i].target) == 0,
                  "link[%zu] -> %s \"%s\" (%s)", i, atv_status_name(rc), out, err.msg);
    }
    /* a target that does not fit the caller's array */
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_link_next("</0123456789>; rel=next", out, 8, &err), ATV_E_LIMIT, &err);
    CHECK_STR(out, "");
    atv_err_clear(&err);
    CHECK_STATUS(atv_ref_link_next(NULL, out, sizeof out, &err), ATV_E_NOT_FOUND, &err);
    CHECK_STATUS(atv_ref_link_next("</a>; rel=next", NULL, 0, &err), ATV_E_USAGE, &err);
}

int main(void)
{
    test_manifest_and_blob();
    test_basic();
    test_bearer();
    test_tag_and_referrers();
    test_identity_token();
    test_token_realm();
    test_pagination();
    test_link_parse();
    return atv_test_done();
}
