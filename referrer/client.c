/* referrer/client.c: the registry client (OCI distribution-spec v1.1 pull and
 * referrers, Docker token auth), over a transport. */
#include "referrer/referrer.h"
#include "common/limits.h"
#include "referrer/ref_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for an error document (401, 404) when the expected body is tiny. */
#define ERROR_BODY_MIN 16384u

struct atv_ref_client {
    struct atv_ref_transport tr;
    char base[ATV_REF_MAX_HOST + 16]; /* "https://host[:port]" */
    char repo[ATV_REF_MAX_NAME + 1];
    char host[ATV_REF_MAX_HOST + 1];
    struct atv_ref_creds creds;
    char *authz; /* Authorization value earned by the last challenge; NULL: anonymous */
};

/* distribution 2.8 answers 404 to an OCI manifest unless the OCI type is accepted */
static const char *const accept_manifest[] = {
    "Accept: " ATV_REF_MT_OCI_MANIFEST ", " ATV_REF_MT_OCI_INDEX ", " ATV_REF_MT_DOCKER_MANIFEST
    ", " ATV_REF_MT_DOCKER_LIST,
    NULL};
static const char *const accept_index[] = {
    "Accept: " ATV_REF_MT_OCI_INDEX ", " ATV_REF_MT_DOCKER_LIST, NULL};

static void wipe_free(char *p)
{
    if (p != NULL) {
        volatile char *v = p;
        while (*v != '\0') {
            *v++ = '\0';
        }
        free(p);
    }
}

enum atv_status atv_ref_client_new(struct atv_ref_transport tr, const struct atv_ref_image *img,
                                   int use_http, const struct atv_ref_creds *creds,
                                   struct atv_ref_client **out, struct atv_err *err)
{
    *out = NULL;
    if (img == NULL || tr.perform == NULL || tr.cleanup == NULL || img->api_host[0] == '\0' ||
        img->repository[0] == '\0') {
        return atv_err_set(err, ATV_E_USAGE, "registry client: missing image or transport");
    }
    struct atv_ref_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "registry client: out of memory");
    }
    c->tr = tr;
    int n = snprintf(c->base, sizeof c->base, "%s://%s", use_http ? "http" : "https",
                     img->api_host);
    if (n < 0 || (size_t)n >= sizeof c->base) {
        free(c);
        return atv_err_set(err, ATV_E_LIMIT, "registry client: host too long");
    }
    (void)snprintf(c->repo, sizeof c->repo, "%s", img->repository);
    (void)snprintf(c->host, sizeof c->host, "%s", img->api_host);
    if (creds != NULL) {
        c->creds = *creds;
    }
    *out = c;
    return ATV_OK;
}

void atv_ref_client_free(struct atv_ref_client *c)
{
    if (c == NULL) {
        return;
    }
    wipe_free(c->authz);
    atv_ref_creds_wipe(&c->creds);
    free(c);
}

/* RFC 3986 section 2.3: keep unreserved, percent-encode the rest. */
static enum atv_status url_escape(const char *s, char *dst, size_t cap, struct atv_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';
        if (o + (keep ? 1u : 3u) >= cap) {
            return atv_err_set(err, ATV_E_LIMIT, "url: query value too long");
        }
        if (keep) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return ATV_OK;
}

/* "Basic " base64(user ":" pass) with padding (RFC 7617 section 2; Go's
 * server decodes with padded StdEncoding). new: wipe_free. */
static enum atv_status basic_value(const struct atv_ref_creds *cr, char **out,
                                   struct atv_err *err)
{
    struct atv_buf plain, b64;
    enum atv_status rc;
    *out = NULL;
    atv_buf_init(&plain, 2 * ATV_REF_MAX_CRED + 2);
    atv_buf_init(&b64, 4 * ATV_REF_MAX_CRED + 16);
    rc = atv_buf_append(&plain, cr->username, strlen(cr->username), err);
    if (rc == ATV_OK) {
        rc = atv_buf_push(&plain, ':', err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&plain, cr->password, strlen(cr->password), err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_append(&b64, "Basic ", 6, err);
    }
    if (rc == ATV_OK) {
        rc = atv_base64_encode(atv_buf_view(&plain), &b64, err);
    }
    while (rc == ATV_OK && (b64.len - 6) % 4 != 0) {
        rc = atv_buf_push(&b64, '=', err);
    }
    if (rc == ATV_OK) {
        rc = atv_buf_terminate(&b64, err);
    }
    if (rc == ATV_OK) {
        size_t n;
        *out = (char *)atv_buf_take(&b64, &n);
    }
    if (plain.ptr != NULL) {
        memset(plain.ptr, 0, plain.cap);
    }
    if (b64.ptr != NULL) {
        memset(b64.ptr, 0, b64.cap);
    }
    atv_buf_cleanup(&plain);
    atv_buf_cleanup(&b64);
    return rc;
}

/* Reads {"token": ...} or {"access_token": ...} (distribution token spec). */
static enum atv_status token_from_body(struct atv_bytes body, char **out, struct atv_err *err)
{
    json_error_t jerr;
    enum atv_status rc = ATV_OK;
    json_t *root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    *out = NULL;
    if (root == NULL || !json_is_object(root)) {
        rc = atv_err_set(err, ATV_E_PARSE, "token server: answer is not a JSON object");
        goto out;
    }
    const json_t *t = json_object_get(root, "token");
    if (t == NULL || (json_is_string(t) && json_string_length(t) == 0)) {
        t = json_object_get(root, "access_token");
    }
    if (t == NULL || !json_is_string(t)) {
        rc = atv_err_set(err, ATV_E_PARSE, "token server: no string token or access_token");
        goto out;
    }
    size_t n = json_string_length(t);
    const char *s = json_string_value(t);
    if (n == 0 || n > ATV_REF_MAX_TOKEN) {
        rc = atv_err_set(err, ATV_E_LIMIT, "token server: token of %zu bytes (1..%u)", n,
                         ATV_REF_MAX_TOKEN);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        /* it goes into a header: visible ASCII only (RFC 6750 b64token is narrower) */
        if (s[i] < 0x21 || s[i] > 0x7e) {
            rc = atv_err_set(err, ATV_E_PARSE, "token server: token has a byte outside 0x21..0x7e");
            goto out;
        }
    }
    size_t cap = n + 8;
    char *v = malloc(cap);
    if (v == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "token: out of memory");
        goto out;
    }
    (void)snprintf(v, cap, "Bearer %s", s);
    *out = v;
out:
    json_decref(root);
    return rc;
}

/* Distribution token auth: GET realm?service=...&scope=repository:NAME:pull. */
static enum atv_status fetch_token(struct atv_ref_client *c, const struct atv_ref_challenge *ch,
                                   char **out, struct atv_err *err)
{
    char svc[3 * ATV_REF_MAX_SERVICE + 1];
    char scope_raw[ATV_REF_MAX_NAME + 32];
    char scope[3 * sizeof scope_raw];
    char url[ATV_MAX_URL + 1];
    char *basic = NULL;
    struct atv_http_resp resp;
    enum atv_status rc;
    int have_resp = 0;
    *out = NULL;
    if (strncmp(ch->realm, "https://", 8) != 0 && strncmp(ch->realm, "http://", 7) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "registry %s: token realm is not an http(s) URL",
                           c->host);
    }
    if (c->creds.username[0] == '\0' && c->creds.identity_token[0] != '\0') {
        /* oras-go POSTs grant_type=refresh_token; common/http has no POST yet */
        return atv_err_setr(err, ATV_E_UNSUPPORTED, "registry_unauthorized",
                            "registry %s: identitytoken refresh (POST) is not supported", c->host);
    }
    (void)snprintf(scope_raw, sizeof scope_raw, "repository:%s:pull", c->repo);
    rc = url_escape(ch->service, svc, sizeof svc, err);
    if (rc == ATV_OK) {
        rc = url_escape(scope_raw, scope, sizeof scope, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    int n = snprintf(url, sizeof url, "%s%c%s%s%sscope=%s", ch->realm,
                     strchr(ch->realm, '?') != NULL ? '&' : '?', svc[0] != '\0' ? "service=" : "",
                     svc, svc[0] != '\0' ? "&" : "", scope);
    if (n < 0 || (size_t)n >= sizeof url) {
        rc = atv_err_set(err, ATV_E_LIMIT, "registry %s: token URL over %u bytes", c->host,
                         ATV_MAX_URL);
        goto out;
    }
    if (c->creds.username[0] != '\0') {
        rc = basic_value(&c->creds, &basic, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    struct atv_http_req req = {"GET", url, NULL, basic, ATV_REF_MAX_TOKEN_BODY, 1};
    rc = c->tr.perform(c->tr.ctx, &req, &resp, err);
    have_resp = 1;
    if (rc != ATV_OK) {
        atv_err_prefix(err, "token server");
        goto out;
    }
    if (resp.status != 200) {
        rc = atv_err_setr(err, ATV_E_IO, "registry_unauthorized",
                          "token server for %s: HTTP %ld", c->host, resp.status);
        goto out;
    }
    rc = token_from_body(atv_buf_view(&resp.body), out, err);
out:
    if (have_resp) {
        c->tr.cleanup(&resp);
    }
    wipe_free(basic);
    return rc;
}

/* Answers a 401 challenge by setting c->authz. */
static enum atv_status answer_challenge(struct atv_ref_client *c, const char *www,
                                        struct atv_err *err)
{
    struct atv_ref_challenge ch;
    char *v = NULL;
    if (www[0] == '\0') {
        return atv_err_setr(err, ATV_E_IO, "registry_unauthorized",
                            "registry %s: HTTP 401 without a WWW-Authenticate challenge", c->host);
    }
    enum atv_status rc = atv_ref_challenge_parse(www, &ch, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "registry %s: 401", c->host);
        return rc;
    }
    if (ch.scheme == ATV_REF_AUTH_BASIC) {
        if (c->creds.username[0] == '\0') {
            return atv_err_setr(err, ATV_E_IO, "registry_unauthorized",
                                "registry %s: asks for Basic credentials and none are configured",
                                c->host);
        }
        rc = basic_value(&c->creds, &v, err);
    } else {
        rc = fetch_token(c, &ch, &v, err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    wipe_free(c->authz);
    c->authz = v;
    return ATV_OK;
}

/* One request with the auth dance: at most one challenge answered, one retry. */
static enum atv_status request(struct atv_ref_client *c, const char *method, const char *url,
                               const char *const *headers, size_t max_body, int follow,
                               struct atv_http_resp *resp, struct atv_err *err)
{
    for (int attempt = 0;; attempt++) {
        struct atv_http_req req = {method, url, headers, c->authz, max_body, follow};
        enum atv_status rc = c->tr.perform(c->tr.ctx, &req, resp, err);
        if (rc != ATV_OK) {
            c->tr.cleanup(resp);
            return rc;
        }
        if (resp->status != 401 || attempt > 0) {
            return ATV_OK;
        }
        char www[sizeof resp->www_authenticate];
        (void)snprintf(www, sizeof www, "%s", resp->www_authenticate);
        c->tr.cleanup(resp);
        rc = answer_challenge(c, www, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
}

static enum atv_status status_check(const struct atv_ref_client *c, long status, const char *what,
                                    struct atv_err *err)
{
    if (status == 200) {
        return ATV_OK;
    }
    if (status == 404) {
        return atv_err_setr(err, ATV_E_NOT_FOUND, "registry_not_found",
                            "registry %s: %s not found (HTTP 404)", c->host, what);
    }
    if (status == 401 || status == 403) {
        return atv_err_setr(err, ATV_E_IO, "registry_unauthorized",
                            "registry %s: %s: access denied (HTTP %ld)", c->host, what, status);
    }
    return atv_err_setr(err, ATV_E_IO, "registry_error", "registry %s: %s: HTTP %ld", c->host,
                        what, status);
}

static enum atv_status make_url(const struct atv_ref_client *c, char *url, size_t cap,
                                const char *kind, const char *ref, const char *query,
                                struct atv_err *err)
{
    int n = snprintf(url, cap, "%s/v2/%s/%s/%s%s", c->base, c->repo, kind, ref,
                     query != NULL ? query : "");
    if (n < 0 || (size_t)n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "registry %s: URL over %zu bytes", c->host, cap - 1);
    }
    return ATV_OK;
}

static enum atv_status get_by_digest(struct atv_ref_client *c, const char *kind,
                                     const char *digest, int64_t size, size_t cap,
                                     const char *const *headers, int follow, struct atv_buf *out,
                                     char *content_type, size_t ct_cap, struct atv_err *err)
{
    char url[ATV_MAX_URL + 1];
    struct atv_http_resp resp;
    int have_resp = 0;
    enum atv_status rc = atv_ref_digest_check(digest, err);
    if (content_type != NULL && ct_cap > 0) {
        content_type[0] = '\0';
    }
    if (rc != ATV_OK) {
        return rc;
    }
    if (size < -1) {
        return atv_err_set(err, ATV_E_USAGE, "%s: size %lld", kind, (long long)size);
    }
    if (size >= 0 && (uint64_t)size > cap) {
        return atv_err_set(err, ATV_E_LIMIT, "%s %.23s...: size %lld over the cap of %zu", kind,
                           digest, (long long)size, cap);
    }
    rc = make_url(c, url, sizeof url, kind, digest, NULL, err);
    if (rc != ATV_OK) {
        return rc;
    }
    /* one byte more than the descriptor says, to tell "too big" from a cap;
     * never under ERROR_BODY_MIN, so that a 401's error document still fits */
    size_t max_body = size >= 0 ? (size_t)size + 1 : cap;
    if (max_body < ERROR_BODY_MIN) {
        max_body = ERROR_BODY_MIN;
    }
    rc = request(c, "GET", url, headers, max_body, follow, &resp, err);
    if (rc == ATV_E_LIMIT && size >= 0) {
        atv_err_clear(err);
        return atv_err_setr(err, ATV_E_VERIFY, "digest_mismatch",
                            "%s %.23s...: body longer than the descriptor's %lld bytes", kind,
                            digest, (long long)size);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    have_resp = 1;
    rc = status_check(c, resp.status, kind[0] == 'm' ? "manifest" : "blob", err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (size >= 0 && resp.body.len != (size_t)size) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "digest_mismatch",
                          "%s %.23s...: %zu bytes, the descriptor says %lld", kind, digest,
                          resp.body.len, (long long)size);
        goto out;
    }
    if (resp.content_digest[0] != '\0' && strcmp(resp.content_digest, digest) != 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "digest_mismatch",
                          "%s %.23s...: Docker-Content-Digest names another digest", kind,
                          digest);
        goto out;
    }
    /* distribution-spec "pull": clients SHOULD verify the content against the digest */
    rc = atv_ref_digest_verify(digest, atv_buf_view(&resp.body), err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "registry %s: %s", c->host, kind[0] == 'm' ? "manifest" : "blob");
        goto out;
    }
    if (content_type != NULL && ct_cap > 0) {
        (void)snprintf(content_type, ct_cap, "%s", resp.content_type);
    }
    rc = atv_buf_append(out, resp.body.ptr, resp.body.len, err);
out:
    if (have_resp) {
        c->tr.cleanup(&resp);
    }
    return rc;
}

enum atv_status atv_ref_manifest_get(struct atv_ref_client *c, const char *digest, int64_t size,
                                     struct atv_buf *out, char *content_type, size_t cap,
                                     struct atv_err *err)
{
    return get_by_digest(c, "manifests", digest, size, ATV_REF_MAX_MANIFEST, accept_manifest, 0,
                         out, content_type, cap, err);
}

enum atv_status atv_ref_blob_get(struct atv_ref_client *c, const char *digest, int64_t size,
                                 struct atv_buf *out, struct atv_err *err)
{
    /* blobs are often redirected to object storage; common/http drops the
     * Authorization header on a redirect to another host */
    return get_by_digest(c, "blobs", digest, size, ATV_REF_MAX_BLOB, NULL, 1, out, NULL, 0, err);
}

enum atv_status atv_ref_tag_resolve(struct atv_ref_client *c, const char *tag,
                                    char digest[ATV_REF_DIGEST_LEN + 1], struct atv_err *err)
{
    char url[ATV_MAX_URL + 1];
    struct atv_http_resp resp;
    enum atv_status rc;
    digest[0] = '\0';
    /* the tag grammar keeps the path safe; reuse the reference parser's rule */
    size_t n = tag != NULL ? strnlen(tag, ATV_REF_MAX_TAG + 1) : 0;
    int ok = n > 0 && n <= ATV_REF_MAX_TAG;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = tag[i];
        int word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_';
        ok = word || (i > 0 && (ch == '.' || ch == '-'));
    }
    if (!ok) {
        return atv_err_set(err, ATV_E_PARSE, "tag: not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    rc = make_url(c, url, sizeof url, "manifests", tag, NULL, err);
    if (rc != ATV_OK) {
        return rc;
    }
    rc = request(c, "HEAD", url, accept_manifest, 0, 0, &resp, err);
    if (rc != ATV_OK) {
        return rc;
    }
    rc = status_check(c, resp.status, "tag", err);
    if (rc == ATV_OK) {
        rc = atv_ref_digest_check(resp.content_digest, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "registry %s: Docker-Content-Digest", c->host);
        }
    }
    if (rc == ATV_OK) {
        /* atv_ref_digest_check: exactly ATV_REF_DIGEST_LEN bytes */
        memcpy(digest, resp.content_digest, ATV_REF_DIGEST_LEN);
        digest[ATV_REF_DIGEST_LEN] = '\0';
    }
    c->tr.cleanup(&resp);
    return rc;
}

/* Keeps the entries whose artifactType equals want (want NULL: all). */
static void filter_index(struct atv_ref_index *ix, const char *want)
{
    size_t k = 0;
    if (want == NULL) {
        return;
    }
    for (size_t i = 0; i < ix->n; i++) {
        if (strcmp(ix->manifests[i].artifact_type, want) == 0) {
            if (k != i) {
                ix->manifests[k] = ix->manifests[i];
                memset(&ix->manifests[i], 0, sizeof ix->manifests[i]);
            }
            k++;
        } else {
            atv_ref_desc_cleanup(&ix->manifests[i]);
        }
    }
    ix->n = k;
}

static enum atv_status referrers(struct atv_ref_client *c, const char *subject,
                                 const char *artifact_type, struct atv_ref_index *out,
                                 struct atv_err *err)
{
    char url[ATV_MAX_URL + 1];
    char query[3 * (ATV_REF_MAX_MEDIA_TYPE + 1) + 16];
    char at_enc[3 * (ATV_REF_MAX_MEDIA_TYPE + 1)];
    struct atv_http_resp resp;
    int have_resp = 0;
    enum atv_status rc = atv_ref_digest_check(subject, err);
    if (rc != ATV_OK) {
        return rc;
    }
    query[0] = '\0';
    if (artifact_type != NULL) {
        if (strlen(artifact_type) > ATV_REF_MAX_MEDIA_TYPE) {
            return atv_err_set(err, ATV_E_LIMIT, "artifactType over %u bytes",
                               ATV_REF_MAX_MEDIA_TYPE);
        }
        rc = url_escape(artifact_type, at_enc, sizeof at_enc, err);
        if (rc != ATV_OK) {
            return rc;
        }
        (void)snprintf(query, sizeof query, "?artifactType=%s", at_enc);
    }
    rc = make_url(c, url, sizeof url, "referrers", subject, query, err);
    if (rc != ATV_OK) {
        return rc;
    }
    rc = request(c, "GET", url, accept_index, ATV_REF_MAX_MANIFEST, 0, &resp, err);
    if (rc != ATV_OK) {
        return rc;
    }
    have_resp = 1;
    if (resp.status == 404) {
        /* distribution-spec "referrers tag schema": no referrers API, read the
         * index tagged <alg>-<ref> */
        char tag[ATV_REF_DIGEST_LEN + 1];
        (void)snprintf(tag, sizeof tag, "sha256-%s", subject + 7);
        c->tr.cleanup(&resp);
        have_resp = 0;
        rc = make_url(c, url, sizeof url, "manifests", tag, NULL, err);
        if (rc != ATV_OK) {
            goto out;
        }
        rc = request(c, "GET", url, accept_index, ATV_REF_MAX_MANIFEST, 0, &resp, err);
        if (rc != ATV_OK) {
            goto out;
        }
        have_resp = 1;
        if (resp.status == 404) {
            rc = ATV_OK; /* no referrers */
            goto out;
        }
        rc = status_check(c, resp.status, "referrers tag index", err);
        if (rc != ATV_OK) {
            goto out;
        }
        if (resp.content_digest[0] != '\0') {
            rc = atv_ref_digest_verify(resp.content_digest, atv_buf_view(&resp.body), err);
            if (rc != ATV_OK) {
                atv_err_prefix(err, "registry %s: referrers tag index", c->host);
                goto out;
            }
        }
    } else {
        rc = status_check(c, resp.status, "referrers", err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    rc = atv_ref_index_parse(atv_buf_view(&resp.body), out, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "registry %s: referrers", c->host);
        goto out;
    }
    filter_index(out, artifact_type);
out:
    if (have_resp) {
        c->tr.cleanup(&resp);
    }
    return rc;
}

enum atv_status atv_ref_referrers_list(struct atv_ref_client *c, const char *subject_digest,
                                       const char *artifact_type, struct atv_ref_index *out,
                                       struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    enum atv_status rc = referrers(c, subject_digest, artifact_type, out, err);
    if (rc != ATV_OK) {
        atv_ref_index_cleanup(out);
    }
    return rc;
}
