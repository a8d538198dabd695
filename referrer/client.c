/* referrer/client.c: the registry client (OCI distribution-spec v1.1 pull and
 * referrers, Docker token auth), over a transport. */
#include "referrer/referrer.h"
#include "common/limits.h"
#include "referrer/ref_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for an error document (401, 404) when the expected body is tiny. */
#define ERROR_BODY_MIN 16384u

struct atv_ref_client {
    struct atv_ref_transport tr;
    char base[ATV_REF_MAX_HOST + 16]; /* "https://host[:port]" */
    char repo[ATV_REF_MAX_NAME + 1];
    char host[ATV_REF_MAX_HOST + 1];
    int use_http; /* the registry is reached over plain http (a store's useHttp) */
    struct atv_ref_creds creds;
    char *authz; /* Authorization value earned by the last challenge; NULL: anonymous */
    int body_over; /* the last request() failed because its own body passed max_body
                    * (not a token answer: that ATV_E_LIMIT is not a size mismatch) */
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
    c->use_http = use_http != 0;
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

/* Reads {"token": ...} or {"access_token": ...} (distribution token spec);
 * oauth2: only "access_token" (distribution "OAuth2 Token Authentication"
 * answer, as oras-go reads it). new: *out, "Bearer TOKEN" (wipe_free). */
static enum atv_status token_from_body(struct atv_bytes body, int oauth2, char **out,
                                       struct atv_err *err)
{
    json_error_t jerr;
    enum atv_status rc = ATV_OK;
    json_t *root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    *out = NULL;
    if (root == NULL || !json_is_object(root)) {
        rc = atv_err_set(err, ATV_E_PARSE, "token server: answer is not a JSON object");
        goto out;
    }
    const json_t *t = oauth2 ? NULL : json_object_get(root, "token");
    if (t == NULL || (json_is_string(t) && json_string_length(t) == 0)) {
        t = json_object_get(root, "access_token");
    }
    if (t == NULL || !json_is_string(t)) {
        rc = atv_err_set(err, ATV_E_PARSE, "token server: no string %s",
                         oauth2 ? "access_token" : "token or access_token");
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

/* Where a token request carrying a secret (Basic credentials, or an identity
 * token in a refresh POST) may go. The realm is named by the registry's 401,
 * so it is the registry's word, and it may be any host: Docker Hub's is
 * auth.docker.io. The secret must never cross a network in clear, so it goes
 * to a realm over https (certificate checked by common/http), or over plain
 * http only to a loopback realm (127.0.0.0/8, [::1], localhost, judged by
 * the same URL parser the request will use) and only when this registry is
 * itself reached over plain http (useHttp: the operator already accepted
 * clear text on this machine). Anything else is refused before any request
 * is made: ATV_E_IO, reason "insecure_token_realm". The realm is not echoed
 * (it is the registry's bytes). A request without a secret is not judged
 * here: common/http's scheme policy applies to it as to any other. */
static enum atv_status realm_check(const struct atv_ref_client *c, const char *realm,
                                   struct atv_err *err)
{
    if (strncmp(realm, "https://", 8) == 0) {
        return ATV_OK;
    }
    if (c->use_http && atv_http_host_is_loopback(realm)) {
        return ATV_OK;
    }
    return atv_err_setr(err, ATV_E_IO, "insecure_token_realm",
                        "registry %s: token realm is plain http %s: credentials are sent to a "
                        "token realm only over https (or over http to a loopback realm for a "
                        "registry with useHttp); nothing was sent",
                        c->host,
                        c->use_http ? "on a non-loopback host" : "and the registry is not useHttp");
}

/* The refresh form: every value percent-encoded at worst (3 bytes a byte),
 * plus the names and separators. */
#define REFRESH_FORM_MAX                                                                           \
    (3u * (ATV_REF_MAX_CRED + ATV_REF_MAX_SERVICE + ATV_REF_MAX_NAME + 32u) + 128u)

/* A bounded builder over one fixed allocation: never realloc'd, so no copy
 * of the secret is left behind in freed memory. */
struct form {
    char *p;
    size_t len;
    int over;
};

/* application/x-www-form-urlencoded (WHATWG URL "urlencoded serializer", as
 * Go's url.QueryEscape writes it): [A-Za-z0-9-._~] kept, space as '+',
 * every other byte %XX. Appends name=value (with a leading '&' unless first). */
static void form_add(struct form *f, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t nl = strlen(name);
    if (f->over || nl + 2 >= REFRESH_FORM_MAX - f->len) {
        f->over = 1;
        return;
    }
    if (f->len > 0) {
        f->p[f->len++] = '&';
    }
    memcpy(f->p + f->len, name, nl); /* nl + 2 < REFRESH_FORM_MAX - len, checked above */
    f->len += nl;
    f->p[f->len++] = '=';
    for (size_t i = 0; value[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)value[i];
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (3 >= REFRESH_FORM_MAX - f->len) {
            f->over = 1;
            return;
        }
        if (keep) {
            f->p[f->len++] = (char)ch;
        } else if (ch == ' ') {
            f->p[f->len++] = '+';
        } else {
            f->p[f->len++] = '%';
            f->p[f->len++] = hex[ch >> 4];
            f->p[f->len++] = hex[ch & 15];
        }
    }
}

/* The identity token of a Docker config is an OAuth2 refresh token: as
 * oras-go (registry/remote/auth fetchOAuth2Token) and the distribution
 * "OAuth2 Token Authentication" spec do, POST realm with the form
 * grant_type=refresh_token&refresh_token=T&service=S&scope=P&client_id=atcr-verify
 * and read access_token. The form holds the secret, so it is wiped, the
 * POST follows no redirect (common/http), and no message names it. */
static enum atv_status fetch_token_refresh(struct atv_ref_client *c,
                                           const struct atv_ref_challenge *ch, const char *scope,
                                           char **out, struct atv_err *err)
{
    struct form f = {NULL, 0, 0};
    struct atv_http_resp resp;
    int have_resp = 0;
    enum atv_status rc = realm_check(c, ch->realm, err); /* fetch_token checked; kept local */
    if (rc != ATV_OK) {
        return rc;
    }
    f.p = malloc(REFRESH_FORM_MAX);
    if (f.p == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "token refresh: out of memory");
    }
    form_add(&f, "grant_type", "refresh_token");
    form_add(&f, "refresh_token", c->creds.identity_token);
    if (ch->service[0] != '\0') {
        form_add(&f, "service", ch->service);
    }
    form_add(&f, "scope", scope);
    form_add(&f, "client_id", ATV_REF_CLIENT_ID);
    if (f.over) {
        /* cannot happen: every value is capped well under REFRESH_FORM_MAX */
        rc = atv_err_set(err, ATV_E_LIMIT, "registry %s: token refresh form over %u bytes",
                         c->host, (unsigned int)REFRESH_FORM_MAX);
        goto out;
    }
    struct atv_http_req req = {.method = "POST",
                               .url = ch->realm,
                               .max_body = ATV_REF_MAX_TOKEN_BODY,
                               .body = f.p,
                               .body_len = f.len,
                               .content_type = "application/x-www-form-urlencoded"};
    rc = c->tr.perform(c->tr.ctx, &req, &resp, err);
    have_resp = 1;
    if (rc != ATV_OK) {
        atv_err_prefix(err, "token server (identitytoken refresh)");
        goto out;
    }
    if (resp.status != 200) {
        rc = atv_err_setr(err, ATV_E_IO, "registry_unauthorized",
                          "token server for %s: HTTP %ld to the identitytoken refresh", c->host,
                          resp.status);
        goto out;
    }
    rc = token_from_body(atv_buf_view(&resp.body), 1, out, err);
out:
    if (have_resp) {
        c->tr.cleanup(&resp);
    }
    volatile char *v = f.p;
    for (size_t i = 0; i < REFRESH_FORM_MAX; i++) {
        v[i] = '\0';
    }
    free(f.p);
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
    if (c->creds.identity_token[0] != '\0' || c->creds.username[0] != '\0') {
        /* a secret would go with this request (refresh form or Basic header) */
        rc = realm_check(c, ch->realm, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    (void)snprintf(scope_raw, sizeof scope_raw, "repository:%s:pull", c->repo);
    if (c->creds.identity_token[0] != '\0') {
        /* oras-go auth.Client: a refresh token wins over username/password */
        return fetch_token_refresh(c, ch, scope_raw, out, err);
    }
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
    struct atv_http_req req = {.method = "GET",
                               .url = url,
                               .authorization = basic,
                               .max_body = ATV_REF_MAX_TOKEN_BODY,
                               .follow_redirects = 1};
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
    rc = token_from_body(atv_buf_view(&resp.body), 0, out, err);
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
    c->body_over = 0;
    for (int attempt = 0;; attempt++) {
        struct atv_http_req req = {.method = method,
                                   .url = url,
                                   .headers = headers,
                                   .authorization = c->authz,
                                   .max_body = max_body,
                                   .follow_redirects = follow};
        enum atv_status rc = c->tr.perform(c->tr.ctx, &req, resp, err);
        if (rc != ATV_OK) {
            c->body_over = rc == ATV_E_LIMIT;
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
    enum atv_status rc = atv_err_setr(err, ATV_E_IO, "registry_error",
                                      "registry %s: %s: HTTP %ld", c->host, what, status);
    if (status >= 500 || status == 429) {
        /* overloaded or restarting: a retry may succeed */
        atv_err_transient(err);
    }
    return rc;
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
    if (rc == ATV_E_LIMIT && size >= 0 && c->body_over) {
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

/* Moves page's entries to the end of out (page is left empty). The total is
 * capped at ATV_REF_MAX_INDEX_ENTRIES, counted after filtering. */
static enum atv_status index_merge(struct atv_ref_index *out, struct atv_ref_index *page,
                                   struct atv_err *err)
{
    if (page->n == 0) {
        atv_ref_index_cleanup(page);
        return ATV_OK;
    }
    if (page->n > ATV_REF_MAX_INDEX_ENTRIES - out->n) {
        return atv_err_set(err, ATV_E_LIMIT, "referrers: more than %u entries over all pages",
                           ATV_REF_MAX_INDEX_ENTRIES);
    }
    struct atv_ref_desc *m = realloc(out->manifests, (out->n + page->n) * sizeof *m);
    if (m == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "referrers: out of memory");
    }
    /* n + page->n <= ATV_REF_MAX_INDEX_ENTRIES entries allocated just above */
    memcpy(m + out->n, page->manifests, page->n * sizeof *m);
    out->manifests = m;
    out->n += page->n;
    free(page->manifests);
    page->manifests = NULL;
    page->n = 0;
    return ATV_OK;
}

/* RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
static int has_scheme(const char *r)
{
    size_t i = 0;
    if (!((r[0] >= 'a' && r[0] <= 'z') || (r[0] >= 'A' && r[0] <= 'Z'))) {
        return 0;
    }
    while ((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') ||
           (r[i] >= '0' && r[i] <= '9') || r[i] == '+' || r[i] == '-' || r[i] == '.') {
        i++;
    }
    return r[i] == ':';
}

/* 1 when the path part of a relative reference has a "." or ".." segment. */
static int has_dot_segment(const char *r)
{
    size_t i = 0;
    while (r[i] != '\0' && r[i] != '?') {
        size_t st = i;
        while (r[i] != '\0' && r[i] != '?' && r[i] != '/') {
            i++;
        }
        if ((i - st == 1 && r[st] == '.') || (i - st == 2 && r[st] == '.' && r[st + 1] == '.')) {
            return 1;
        }
        if (r[i] == '/') {
            i++;
        }
    }
    return 0;
}

/* Resolves a next-page reference (RFC 3986 section 5.2, for the forms a
 * registry uses) against the current page's URL cur, and keeps it on the
 * registry's origin c->base: a page elsewhere could feed us referrers the
 * registry never listed, and would receive our Authorization. */
static enum atv_status next_url(const struct atv_ref_client *c, const char *cur, const char *ref,
                                char *out, size_t cap, struct atv_err *err)
{
    char r[ATV_MAX_URL + 1];
    size_t bl = strlen(c->base);
    size_t sl = (size_t)(strchr(c->base, ':') - c->base); /* c->base is "scheme://host" */
    int n;

    out[0] = '\0';
    (void)snprintf(r, sizeof r, "%.*s", (int)strcspn(ref, "#"), ref); /* no fragment */
    if (has_scheme(r) || strncmp(r, "//", 2) == 0) {
        const char *want = has_scheme(r) ? c->base : c->base + sl + 1;
        size_t wl = has_scheme(r) ? bl : bl - sl - 1;
        if (strncasecmp(r, want, wl) != 0 || r[wl] != '/') {
            return atv_err_setr(err, ATV_E_IO, "registry_error",
                                "registry %s: referrers next page on another origin refused "
                                "(want %s)",
                                c->host, c->base);
        }
        n = snprintf(out, cap, "%s%s", c->base, r + wl);
    } else if (r[0] == '/') {
        n = snprintf(out, cap, "%s%s", c->base, r);
    } else if (r[0] == '?') {
        n = snprintf(out, cap, "%.*s%s", (int)strcspn(cur, "?"), cur, r);
    } else if (r[0] == '\0' || has_dot_segment(r)) {
        return atv_err_set(err, ATV_E_PARSE,
                           "registry %s: referrers next link: empty or with dot segments", c->host);
    } else {
        size_t q = strcspn(cur, "?");
        size_t dir = q;
        while (dir > bl && cur[dir - 1] != '/') {
            dir--;
        }
        n = snprintf(out, cap, "%.*s%s", (int)dir, cur, r);
    }
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return atv_err_set(err, ATV_E_LIMIT, "registry %s: referrers next URL over %zu bytes",
                           c->host, cap - 1);
    }
    return ATV_OK;
}

/* Parses one referrers page, filters it, merges it into out. */
static enum atv_status page_take(struct atv_ref_client *c, const struct atv_http_resp *resp,
                                 const char *artifact_type, struct atv_ref_index *out,
                                 struct atv_err *err)
{
    struct atv_ref_index page;
    enum atv_status rc = atv_ref_index_parse(atv_buf_view(&resp->body), &page, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "registry %s: referrers", c->host);
        return rc;
    }
    filter_index(&page, artifact_type);
    if (out->manifests == NULL && out->n == 0 && out->media_type[0] == '\0') {
        (void)snprintf(out->media_type, sizeof out->media_type, "%s", page.media_type);
    }
    rc = index_merge(out, &page, err);
    atv_ref_index_cleanup(&page);
    return rc;
}

/* The referrers API answer, page after page (Link rel="next"). resp holds
 * the first page (status 200); the caller cleans up what is left in it. */
static enum atv_status referrers_pages(struct atv_ref_client *c, const char *first_url,
                                       const char *artifact_type, struct atv_http_resp *resp,
                                       int *have_resp, struct atv_ref_index *out,
                                       struct atv_err *err)
{
    char (*seen)[ATV_MAX_URL + 1] = calloc(ATV_REF_MAX_REFERRER_PAGES, sizeof *seen);
    char ref[ATV_MAX_URL + 1];
    char next[ATV_MAX_URL + 1];
    enum atv_status rc;

    if (seen == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "referrers: out of memory");
    }
    (void)snprintf(seen[0], sizeof seen[0], "%s", first_url);
    for (unsigned int pages = 1;; pages++) {
        rc = page_take(c, resp, artifact_type, out, err);
        if (rc != ATV_OK) {
            goto out;
        }
        if (resp->link_dropped) {
            rc = atv_err_set(err, ATV_E_LIMIT,
                             "registry %s: referrers page %u: Link header over %u bytes", c->host,
                             pages, ATV_HTTP_MAX_LINK - 1);
            goto out;
        }
        rc = atv_ref_link_next(resp->link, ref, sizeof ref, err);
        if (rc == ATV_E_NOT_FOUND) {
            rc = ATV_OK; /* the last page */
            goto out;
        }
        if (rc != ATV_OK) {
            atv_err_prefix(err, "registry %s: referrers page %u", c->host, pages);
            goto out;
        }
        if (pages == ATV_REF_MAX_REFERRER_PAGES) {
            rc = atv_err_set(err, ATV_E_LIMIT, "registry %s: referrers over more than %u pages",
                             c->host, ATV_REF_MAX_REFERRER_PAGES);
            goto out;
        }
        rc = next_url(c, seen[pages - 1], ref, next, sizeof next, err);
        if (rc != ATV_OK) {
            goto out;
        }
        for (unsigned int k = 0; k < pages; k++) {
            if (strcmp(seen[k], next) == 0) {
                rc = atv_err_setr(err, ATV_E_IO, "registry_error",
                                  "registry %s: referrers next link loops back to page %u",
                                  c->host, k + 1);
                goto out;
            }
        }
        (void)snprintf(seen[pages], sizeof seen[pages], "%s", next);
        c->tr.cleanup(resp);
        *have_resp = 0;
        rc = request(c, "GET", next, accept_index, ATV_REF_MAX_MANIFEST, 0, resp, err);
        if (rc != ATV_OK) {
            goto out;
        }
        *have_resp = 1;
        rc = status_check(c, resp->status, "referrers next page", err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
out:
    free(seen);
    return rc;
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
    if (resp.status != 404) {
        rc = status_check(c, resp.status, "referrers", err);
        if (rc == ATV_OK) {
            rc = referrers_pages(c, url, artifact_type, &resp, &have_resp, out, err);
        }
        goto out;
    }
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
    rc = page_take(c, &resp, artifact_type, out, err);
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
