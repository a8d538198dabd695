/* referrer/ref.c: digests and image references (distribution/reference grammar). */
#include "referrer/referrer.h"

#include <stdio.h>
#include <string.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

enum atv_status atv_ref_digest_check(const char *s, struct atv_err *err)
{
    if (s == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "digest: missing");
    }
    size_t n = strnlen(s, ATV_REF_DIGEST_LEN + 2);
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || colon == s) {
        return atv_err_set(err, ATV_E_PARSE, "digest: want algorithm \":\" encoded, got %zu bytes",
                           n);
    }
    size_t alg_len = (size_t)(colon - s);
    if (alg_len != 6 || memcmp(s, "sha256", 6) != 0) {
        /* image-spec descriptor.md: algorithm [a-z0-9]+ ([+._-][a-z0-9]+)*; we pin sha256 */
        for (size_t i = 0; i < alg_len; i++) {
            if (!is_lower_alnum(s[i]) && s[i] != '+' && s[i] != '.' && s[i] != '_' &&
                s[i] != '-') {
                return atv_err_set(err, ATV_E_PARSE, "digest: bad algorithm character");
            }
        }
        return atv_err_setr(err, ATV_E_UNSUPPORTED, "digest_algorithm",
                            "digest: only sha256 is accepted");
    }
    if (n != ATV_REF_DIGEST_LEN) {
        return atv_err_set(err, ATV_E_PARSE, "digest: sha256 wants 64 hex characters, got %zu",
                           n > 7 ? n - 7 : 0);
    }
    for (size_t i = 7; i < ATV_REF_DIGEST_LEN; i++) {
        /* descriptor.md: sha256 encoded portion MUST match /[a-f0-9]{64}/ */
        if (!is_lower_hex(s[i])) {
            return atv_err_set(err, ATV_E_PARSE,
                               "digest: sha256 wants lower-case hex (offset %zu)", i);
        }
    }
    return ATV_OK;
}

enum atv_status atv_ref_digest_verify(const char *digest, struct atv_bytes body,
                                      struct atv_err *err)
{
    uint8_t md[32];
    char hex[65];
    enum atv_status rc = atv_ref_digest_check(digest, err);
    if (rc != ATV_OK) {
        return rc;
    }
    atv_sha256(body, md);
    atv_hex_encode((struct atv_bytes){md, sizeof md}, hex, sizeof hex);
    if (strlen(hex) != 64 || memcmp(hex, digest + 7, 64) != 0) {
        char got[17];
        (void)snprintf(got, sizeof got, "%.16s", hex);
        return atv_err_setr(err, ATV_E_VERIFY, "digest_mismatch",
                            "content of %zu bytes hashes to sha256:%s..., not %.23s...",
                            body.len, got, digest);
    }
    return ATV_OK;
}

/* Copies n bytes of s into a fixed field of cap bytes (NUL included). */
static enum atv_status copy_field(char *dst, size_t cap, const char *s, size_t n,
                                  const char *what, struct atv_err *err)
{
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "%s: %zu characters, cap %zu", what, n, cap - 1);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return ATV_OK;
}

/* distribution/reference: domain-component ('.' domain-component)* [':' port],
 * domain-component [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9];
 * or an IPv6 literal in brackets "[...]" [':' port]. */
static int domain_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0) {
        return 0;
    }
    if (s[0] == '[') {
        size_t j = 1;
        while (j < n && s[j] != ']') {
            char c = s[j];
            if (!(is_alnum(c) || c == ':' || c == '.')) {
                return 0;
            }
            j++;
        }
        if (j >= n || j == 1) {
            return 0;
        }
        i = j + 1;
    } else {
        for (;;) {
            size_t start = i;
            while (i < n && (is_alnum(s[i]) || s[i] == '-')) {
                i++;
            }
            if (i == start || s[start] == '-' || s[i - 1] == '-') {
                return 0;
            }
            if (i < n && s[i] == '.') {
                i++;
                continue;
            }
            break;
        }
    }
    if (i < n && s[i] == ':') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start || i - start > 5) {
            return 0;
        }
    }
    return i == n;
}

/* path-component [a-z0-9]+ (separator [a-z0-9]+)*, separator [_.]|__|[-]+.
 * Returns 0 when fine, else a static reason. */
static const char *path_problem(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0) {
        return "empty repository name";
    }
    for (;;) {
        size_t start = i;
        while (i < n && s[i] != '/') {
            size_t run = i;
            while (i < n && is_lower_alnum(s[i])) {
                i++;
            }
            if (i == run) {
                if (i < n && s[i] >= 'A' && s[i] <= 'Z') {
                    return "repository name must be lowercase";
                }
                return i == start ? "empty or bad path component" : "bad separator";
            }
            if (i >= n || s[i] == '/') {
                break;
            }
            if (s[i] >= 'A' && s[i] <= 'Z') {
                return "repository name must be lowercase";
            }
            if (s[i] == '.') {
                i++;
            } else if (s[i] == '_') {
                i++;
                if (i < n && s[i] == '_') {
                    i++;
                }
            } else if (s[i] == '-') {
                while (i < n && s[i] == '-') {
                    i++;
                }
            } else {
                return "bad character in repository name";
            }
            if (i >= n || !is_lower_alnum(s[i])) {
                if (i < n && s[i] >= 'A' && s[i] <= 'Z') {
                    return "repository name must be lowercase";
                }
                return "bad separator";
            }
        }
        if (i == start) {
            return "empty path component";
        }
        if (i >= n) {
            return NULL;
        }
        i++; /* '/' */
        if (i >= n) {
            return "empty path component";
        }
    }
}

static int tag_ok(const char *s, size_t n)
{
    if (n == 0 || n > ATV_REF_MAX_TAG) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int word = is_alnum(c) || c == '_';
        if (!(word || (i > 0 && (c == '.' || c == '-')))) {
            return 0;
        }
    }
    return 1;
}

/* The length of the host part of a registry host[:port] (dl bytes of s): up
 * to ']' included for an IPv6 literal, else up to the first ':'. */
static size_t host_len(const char *s, size_t dl)
{
    const char *end = s[0] == '[' ? memchr(s, ']', dl) : memchr(s, ':', dl);
    if (end == NULL) {
        return dl;
    }
    return (size_t)(end - s) + (s[0] == '[' ? 1u : 0u);
}

/* The registry host[:port] as one spelling, so that a trust-policy scope on
 * "atcr.io/acme/..." cannot be stepped around by writing the same registry
 * another way. dl bytes of s, already accepted by domain_ok.
 *   - DNS names are case-insensitive (RFC 4343 section 2): lower-cased, and
 *     the hex of an IPv6 literal with them;
 *   - ports with a leading zero,
 *     port 0 and ports over 65535 are refused (RFC 3986 section 3.2.3: a
 *     port is a decimal number; "0443" would be 443 to a URL parser);
 *   - the scheme's default port (RFC 9110 section 4.2: 443 for https, 80 for
 *     http; plain_http says which scheme the registry is reached by) is
 *     dropped, another port is kept;
 *   - index.docker.io and registry-1.docker.io are docker.io (normalize.go,
 *     and the host Docker Hub's API answers on).
 * A host that is a registry only because of its upper case or its default
 * port ("Foo/app", "foo:443/app") is refused: lower-cased and without the
 * port it would read as a Docker Hub namespace (normalize.go
 * splitDockerDomain), so its normalised name would name another image.
 * Out: out (cap bytes). Returns ATV_OK; ATV_E_PARSE; ATV_E_LIMIT. */
static enum atv_status host_normalise(const char *s, size_t dl, int plain_http, char *out,
                                      size_t cap, struct atv_err *err)
{
    size_t host_end = host_len(s, dl);
    size_t o = 0;
    if (host_end >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "image reference: registry host of %zu characters",
                           host_end);
    }
    for (size_t i = 0; i < host_end; i++) {
        char c = s[i];
        out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[o] = '\0';
    if (host_end < dl) {
        /* domain_ok: ':' then 1..5 digits */
        const char *port = s + host_end + 1;
        size_t pl = dl - host_end - 1;
        unsigned long v = 0;
        for (size_t i = 0; i < pl; i++) {
            v = v * 10u + (unsigned long)(port[i] - '0');
        }
        if ((pl > 1 && port[0] == '0') || v == 0 || v > 65535u) {
            return atv_err_set(err, ATV_E_PARSE,
                               "image reference: registry port must be 1..65535 without a "
                               "leading zero");
        }
        if (v != (plain_http ? 80u : 443u)) {
            int w = snprintf(out + o, cap - o, ":%lu", v);
            if (w < 0 || (size_t)w >= cap - o) {
                return atv_err_set(err, ATV_E_LIMIT, "image reference: registry too long");
            }
        }
    }
    if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0) {
        (void)snprintf(out, cap, "docker.io");
    }
    if (strchr(out, '.') == NULL && strchr(out, ':') == NULL && out[0] != '[' &&
        strcmp(out, "localhost") != 0) {
        return atv_err_set(err, ATV_E_PARSE,
                           "image reference: registry host of %zu characters without '.' or a "
                           "port would, once normalised, read as a Docker Hub namespace",
                           host_end);
    }
    return ATV_OK;
}

static enum atv_status image_parse(const char *s, int plain_http, struct atv_ref_image *out,
                                   struct atv_err *err)
{
    enum atv_status rc;
    size_t n = strnlen(s, 4096);
    if (n >= 4096) {
        return atv_err_set(err, ATV_E_LIMIT, "image reference: over 4095 characters");
    }
    if (n == 0) {
        return atv_err_set(err, ATV_E_PARSE, "image reference: empty");
    }
    /* name[:tag][@digest]: the digest follows the first '@' */
    const char *at = memchr(s, '@', n);
    size_t name_tag_len = at != NULL ? (size_t)(at - s) : n;
    if (at != NULL) {
        size_t dn = n - name_tag_len - 1;
        rc = atv_ref_digest_check(at + 1, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "image reference");
            return rc;
        }
        rc = copy_field(out->digest, sizeof out->digest, at + 1, dn, "digest", err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    /* the tag follows the last ':' after the last '/' */
    size_t last_slash = 0;
    int have_slash = 0;
    for (size_t i = 0; i < name_tag_len; i++) {
        if (s[i] == '/') {
            last_slash = i;
            have_slash = 1;
        }
    }
    size_t name_len = name_tag_len;
    for (size_t i = have_slash ? last_slash + 1 : 0; i < name_tag_len; i++) {
        if (s[i] == ':') {
            name_len = i;
            break;
        }
    }
    if (name_len < name_tag_len) {
        const char *tag = s + name_len + 1;
        size_t tn = name_tag_len - name_len - 1;
        if (!tag_ok(tag, tn)) {
            return atv_err_set(err, ATV_E_PARSE, "image reference: bad tag (%zu characters)", tn);
        }
        rc = copy_field(out->tag, sizeof out->tag, tag, tn, "tag", err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    if (name_len == 0) {
        return atv_err_set(err, ATV_E_PARSE, "image reference: empty name");
    }
    if (name_len > ATV_REF_MAX_NAME) {
        return atv_err_set(err, ATV_E_LIMIT, "image reference: name of %zu characters, cap %u",
                           name_len, ATV_REF_MAX_NAME);
    }
    /* normalize.go splitDockerDomain: a first component is a domain when it
     * holds '.' or ':', is "localhost", or is not all lower case */
    const char *slash = memchr(s, '/', name_len);
    const char *path = s;
    size_t path_len = name_len;
    int hub = 1;
    if (slash != NULL) {
        size_t dl = (size_t)(slash - s);
        int is_domain = memchr(s, '.', dl) != NULL || memchr(s, ':', dl) != NULL ||
                        (dl == 9 && memcmp(s, "localhost", 9) == 0) || s[0] == '[';
        for (size_t i = 0; i < dl && !is_domain; i++) {
            if (s[i] >= 'A' && s[i] <= 'Z') {
                is_domain = 1;
            }
        }
        if (is_domain) {
            if (host_len(s, dl) > 0 && s[host_len(s, dl) - 1] == '.') {
                return atv_err_set(err, ATV_E_PARSE,
                                   "image reference: registry host ends with '.': a trailing-dot "
                                   "FQDN names the same registry under another spelling");
            }
            if (!domain_ok(s, dl)) {
                return atv_err_set(err, ATV_E_PARSE, "image reference: bad registry host");
            }
            rc = host_normalise(s, dl, plain_http, out->registry, sizeof out->registry, err);
            if (rc != ATV_OK) {
                return rc;
            }
            hub = strcmp(out->registry, "docker.io") == 0;
            path = slash + 1;
            path_len = name_len - dl - 1;
        }
    }
    if (hub) {
        (void)snprintf(out->registry, sizeof out->registry, "docker.io");
    }
    const char *why = path_problem(path, path_len);
    if (why != NULL) {
        return atv_err_set(err, ATV_E_PARSE, "image reference: %s", why);
    }
    if (hub && memchr(path, '/', path_len) == NULL) {
        int w = snprintf(out->repository, sizeof out->repository, "library/%.*s", (int)path_len,
                         path);
        if (w < 0 || (size_t)w >= sizeof out->repository) {
            return atv_err_set(err, ATV_E_LIMIT, "image reference: name too long");
        }
    } else {
        rc = copy_field(out->repository, sizeof out->repository, path, path_len, "repository",
                        err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    if (hub) {
        (void)snprintf(out->api_host, sizeof out->api_host, "registry-1.docker.io");
    } else {
        (void)snprintf(out->api_host, sizeof out->api_host, "%s", out->registry);
    }
    /* the name trust-policy scopes are matched against */
    int w = snprintf(out->name, sizeof out->name, "%s/%s", out->registry, out->repository);
    if (w < 0 || (size_t)w >= sizeof out->name) {
        return atv_err_set(err, ATV_E_LIMIT, "image reference: name too long");
    }
    if (out->tag[0] == '\0' && out->digest[0] == '\0') {
        (void)snprintf(out->tag, sizeof out->tag, "latest");
    }
    return ATV_OK;
}

enum atv_status atv_ref_image_parse(const char *s, int plain_http, struct atv_ref_image *out,
                                    struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    if (s == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "image reference: NULL");
    }
    enum atv_status rc = image_parse(s, plain_http, out, err);
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    return rc;
}
