/* referrer/auth.c: WWW-Authenticate challenges and Docker config credentials. */
#include "referrer/referrer.h"
#include "common/limits.h"
#include "referrer/ref_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* RFC 7230 section 3.2.6 tchar */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void skip_ows(const char *s, size_t *i)
{
    while (s[*i] == ' ' || s[*i] == '\t') {
        (*i)++;
    }
}

static int ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = lit[i];
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y - 'A' + 'a');
        }
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

/* Reads a token or quoted-string value into dst (cap bytes; dst NULL:
 * skipped); *i advances. Messages start with what. */
static enum atv_status read_value(const char *s, size_t *i, char *dst, size_t cap,
                                  const char *what, struct atv_err *err)
{
    size_t o = 0;
    if (s[*i] == '"') {
        (*i)++;
        for (;;) {
            char c = s[*i];
            if (c == '\0') {
                return atv_err_set(err, ATV_E_PARSE, "%s: unterminated quote", what);
            }
            if (c == '"') {
                (*i)++;
                break;
            }
            if (c == '\\') {
                (*i)++;
                c = s[*i];
                if (c == '\0') {
                    return atv_err_set(err, ATV_E_PARSE, "%s: bad escape", what);
                }
            }
            if ((unsigned char)c < 0x20 && c != '\t') {
                return atv_err_set(err, ATV_E_PARSE, "%s: control character", what);
            }
            if (dst != NULL) {
                if (o + 1 >= cap) {
                    return atv_err_set(err, ATV_E_LIMIT, "%s: value over %zu bytes", what,
                                       cap - 1);
                }
                dst[o++] = c;
            }
            (*i)++;
        }
    } else {
        size_t start = *i;
        while (is_tchar(s[*i])) {
            if (dst != NULL) {
                if (o + 1 >= cap) {
                    return atv_err_set(err, ATV_E_LIMIT, "%s: value over %zu bytes", what,
                                       cap - 1);
                }
                dst[o++] = s[*i];
            }
            (*i)++;
        }
        if (*i == start) {
            return atv_err_set(err, ATV_E_PARSE, "%s: empty value", what);
        }
    }
    if (dst != NULL) {
        dst[o] = '\0';
    }
    return ATV_OK;
}

static enum atv_status challenge_parse(const char *s, struct atv_ref_challenge *c,
                                       struct atv_err *err)
{
    size_t i = 0;
    enum atv_status rc;
    skip_ows(s, &i);
    size_t start = i;
    while (is_tchar(s[i])) {
        i++;
    }
    if (ieq(s + start, i - start, "basic")) {
        c->scheme = ATV_REF_AUTH_BASIC;
    } else if (ieq(s + start, i - start, "bearer")) {
        c->scheme = ATV_REF_AUTH_BEARER;
    } else if (i == start) {
        return atv_err_set(err, ATV_E_PARSE, "www-authenticate: no scheme");
    } else {
        return atv_err_set(err, ATV_E_UNSUPPORTED, "www-authenticate: scheme of %zu characters "
                           "is neither Basic nor Bearer", i - start);
    }
    if (s[i] != ' ') {
        return atv_err_set(err, ATV_E_PARSE, "www-authenticate: no parameters after the scheme");
    }
    int have_realm = 0;
    for (;;) {
        skip_ows(s, &i);
        if (s[i] == '\0') {
            break;
        }
        size_t ks = i;
        while (is_tchar(s[i])) {
            i++;
        }
        size_t kl = i - ks;
        skip_ows(s, &i);
        if (kl == 0 || s[i] != '=') {
            if (kl > 0 && have_realm) {
                break; /* the next challenge starts here; we use the first */
            }
            return atv_err_set(err, ATV_E_PARSE, "www-authenticate: want name=value");
        }
        i++;
        skip_ows(s, &i);
        char *dst = NULL;
        size_t cap = 0;
        if (ieq(s + ks, kl, "realm")) {
            if (have_realm) {
                return atv_err_set(err, ATV_E_PARSE, "www-authenticate: realm twice");
            }
            have_realm = 1;
            dst = c->realm;
            cap = sizeof c->realm;
        } else if (ieq(s + ks, kl, "service")) {
            dst = c->service;
            cap = sizeof c->service;
        } else if (ieq(s + ks, kl, "scope")) {
            dst = c->scope;
            cap = sizeof c->scope;
        }
        rc = read_value(s, &i, dst, cap, "www-authenticate", err);
        if (rc != ATV_OK) {
            return rc;
        }
        skip_ows(s, &i);
        if (s[i] == ',') {
            i++;
        } else if (s[i] != '\0') {
            return atv_err_set(err, ATV_E_PARSE, "www-authenticate: want ',' between parameters");
        }
    }
    if (!have_realm || c->realm[0] == '\0') {
        return atv_err_set(err, ATV_E_PARSE, "www-authenticate: no realm");
    }
    return ATV_OK;
}

enum atv_status atv_ref_challenge_parse(const char *value, struct atv_ref_challenge *out,
                                        struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    if (value == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "www-authenticate: missing");
    }
    enum atv_status rc = challenge_parse(value, out, err);
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* ---- Link (RFC 8288) ------------------------------------------------------------ */

/* 1 when the rel value (a space-separated list of relation types, RFC 8288
 * section 3.3, compared case-insensitively) holds "next". */
static int rel_has_next(const char *rel)
{
    size_t i = 0;
    while (rel[i] != '\0') {
        while (rel[i] == ' ' || rel[i] == '\t') {
            i++;
        }
        size_t st = i;
        while (rel[i] != '\0' && rel[i] != ' ' && rel[i] != '\t') {
            i++;
        }
        if (ieq(rel + st, i - st, "next")) {
            return 1;
        }
    }
    return 0;
}

/* RFC 8288 section 3:
 *   Link       = #link-value
 *   link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
 *   link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
 * Only the first rel of a link-value counts (section 3.3: later ones MUST be
 * ignored). Two different rel="next" targets are ambiguous: ATV_E_PARSE. */
static enum atv_status link_next(const char *s, char *out, size_t cap, struct atv_err *err)
{
    char rel[ATV_HTTP_MAX_LINK];
    size_t i = 0;
    int found = 0;
    enum atv_status rc;

    for (;;) {
        while (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
            i++; /* RFC 9110 section 5.6.1: empty list elements are allowed */
        }
        if (s[i] == '\0') {
            break;
        }
        if (s[i] != '<') {
            return atv_err_set(err, ATV_E_PARSE, "link: want '<' at offset %zu", i);
        }
        size_t us = ++i;
        while (s[i] != '\0' && s[i] != '>') {
            unsigned char c = (unsigned char)s[i];
            if (c <= 0x20 || c >= 0x7f || c == '<') {
                return atv_err_set(err, ATV_E_PARSE, "link: byte 0x%02x in a URI reference",
                                   (unsigned)c);
            }
            i++;
        }
        if (s[i] != '>') {
            return atv_err_set(err, ATV_E_PARSE, "link: unterminated '<'");
        }
        size_t ul = i - us;
        i++;
        int have_rel = 0;
        int next = 0;
        for (;;) {
            skip_ows(s, &i);
            if (s[i] != ';') {
                break;
            }
            i++;
            skip_ows(s, &i);
            size_t ks = i;
            while (is_tchar(s[i])) {
                i++;
            }
            size_t kl = i - ks;
            if (kl == 0) {
                return atv_err_set(err, ATV_E_PARSE, "link: empty parameter name");
            }
            skip_ows(s, &i);
            int is_rel = ieq(s + ks, kl, "rel") && !have_rel;
            if (s[i] == '=') {
                i++;
                skip_ows(s, &i);
                rc = read_value(s, &i, is_rel ? rel : NULL, sizeof rel, "link", err);
                if (rc != ATV_OK) {
                    return rc;
                }
                if (is_rel) {
                    have_rel = 1;
                    next = rel_has_next(rel);
                }
            }
        }
        if (s[i] != ',' && s[i] != '\0') {
            return atv_err_set(err, ATV_E_PARSE, "link: want ',' or ';' at offset %zu", i);
        }
        if (!next) {
            continue;
        }
        if (found && (strlen(out) != ul || strncmp(out, s + us, ul) != 0)) {
            return atv_err_set(err, ATV_E_PARSE, "link: two different rel=\"next\" targets");
        }
        if (ul == 0 || ul >= cap) {
            return atv_err_set(err, ATV_E_LIMIT, "link: next target of %zu bytes (1..%zu)", ul,
                               cap - 1);
        }
        memcpy(out, s + us, ul); /* ul < cap checked above */
        out[ul] = '\0';
        found = 1;
    }
    return found ? ATV_OK : ATV_E_NOT_FOUND;
}

enum atv_status atv_ref_link_next(const char *value, char *out, size_t cap, struct atv_err *err)
{
    if (out == NULL || cap == 0) {
        return atv_err_set(err, ATV_E_USAGE, "link: no output");
    }
    out[0] = '\0';
    if (value == NULL) {
        return ATV_E_NOT_FOUND;
    }
    enum atv_status rc = link_next(value, out, cap, err);
    if (rc != ATV_OK) {
        out[0] = '\0';
    }
    return rc;
}

/* ---- Docker config ------------------------------------------------------------ */

static enum atv_status cred_str(const json_t *entry, const char *key, char *dst, size_t cap,
                                struct atv_err *err)
{
    const json_t *v = json_object_get(entry, key);
    dst[0] = '\0';
    if (v == NULL) {
        return ATV_OK;
    }
    if (!json_is_string(v)) {
        return atv_err_set(err, ATV_E_PARSE, "docker config: auths entry .%s: want a string", key);
    }
    size_t n = json_string_length(v);
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "docker config: .%s of %zu bytes, cap %zu", key, n,
                           cap - 1);
    }
    if (strlen(json_string_value(v)) != n) {
        return atv_err_set(err, ATV_E_PARSE, "docker config: .%s contains NUL", key);
    }
    memcpy(dst, json_string_value(v), n + 1);
    return ATV_OK;
}

/* "auth": base64(username ":" password), docker/cli configfile decodeAuth. */
static enum atv_status decode_auth(const char *b64, struct atv_ref_creds *out, struct atv_err *err)
{
    struct atv_buf raw;
    enum atv_status rc;
    atv_buf_init(&raw, 2 * ATV_REF_MAX_CRED + 1);
    rc = atv_base64_decode(b64, strlen(b64), &raw, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "docker config: auths entry .auth");
        goto out;
    }
    const uint8_t *colon = raw.len > 0 ? memchr(raw.ptr, ':', raw.len) : NULL;
    if (colon == NULL) {
        rc = atv_err_set(err, ATV_E_PARSE, "docker config: .auth does not decode to user:password");
        goto out;
    }
    size_t ul = (size_t)(colon - raw.ptr);
    size_t pl = raw.len - ul - 1;
    if (ul > ATV_REF_MAX_CRED || pl > ATV_REF_MAX_CRED || memchr(raw.ptr, '\0', raw.len) != NULL) {
        rc = atv_err_set(err, ATV_E_PARSE, "docker config: .auth: bad user or password length");
        goto out;
    }
    memcpy(out->username, raw.ptr, ul);
    out->username[ul] = '\0';
    memcpy(out->password, colon + 1, pl);
    out->password[pl] = '\0';
out:
    if (raw.ptr != NULL) {
        memset(raw.ptr, 0, raw.cap);
    }
    atv_buf_cleanup(&raw);
    return rc;
}

static enum atv_status creds_from_json(struct atv_bytes config, const char *registry,
                                       struct atv_ref_creds *out, struct atv_err *err)
{
    json_error_t jerr;
    enum atv_status rc = ATV_OK;
    char auth[2 * ATV_REF_MAX_CRED + 8];
    auth[0] = '\0';
    json_t *root = json_loadb((const char *)config.ptr, config.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jerr.text may quote the file; the file holds secrets, so give only the place */
        rc = atv_err_set(err, ATV_E_PARSE, "docker config: invalid JSON at line %d column %d",
                         jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = atv_err_set(err, ATV_E_PARSE, "docker config: want a JSON object");
        goto out;
    }
    const json_t *auths = json_object_get(root, "auths");
    if (auths == NULL) {
        goto out;
    }
    if (!json_is_object(auths)) {
        rc = atv_err_set(err, ATV_E_PARSE, "docker config: .auths: want an object");
        goto out;
    }
    const json_t *entry = json_object_get(auths, registry);
    if (entry == NULL) {
        goto out;
    }
    if (!json_is_object(entry)) {
        rc = atv_err_set(err, ATV_E_PARSE, "docker config: .auths[%s]: want an object", registry);
        goto out;
    }
    rc = cred_str(entry, "username", out->username, sizeof out->username, err);
    if (rc == ATV_OK) {
        rc = cred_str(entry, "password", out->password, sizeof out->password, err);
    }
    if (rc == ATV_OK) {
        rc = cred_str(entry, "identitytoken", out->identity_token, sizeof out->identity_token,
                      err);
    }
    if (rc == ATV_OK) {
        rc = cred_str(entry, "auth", auth, sizeof auth, err);
    }
    if (rc == ATV_OK && auth[0] != '\0') {
        rc = decode_auth(auth, out, err);
    }
out:
    memset(auth, 0, sizeof auth);
    json_decref(root);
    return rc;
}

enum atv_status atv_ref_creds_from_json(struct atv_bytes config, const char *registry,
                                        struct atv_ref_creds *out, struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    if (registry == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "docker config: no registry");
    }
    enum atv_status rc = creds_from_json(config, registry, out, err);
    if (rc != ATV_OK) {
        atv_ref_creds_wipe(out);
    }
    return rc;
}

void atv_ref_creds_wipe(struct atv_ref_creds *c)
{
    if (c != NULL) {
        volatile unsigned char *p = (volatile unsigned char *)c;
        for (size_t i = 0; i < sizeof *c; i++) {
            p[i] = 0;
        }
    }
}

/* The file Ratify's dockerConfig provider reads (docker/cli config.Dir()). */
static enum atv_status config_file(const char *config_path, char *path, size_t cap,
                                   struct atv_err *err)
{
    int n;
    const char *dc = getenv("DOCKER_CONFIG");
    const char *home = getenv("HOME");
    if (config_path != NULL && config_path[0] != '\0') {
        n = snprintf(path, cap, "%s", config_path);
    } else if (dc != NULL && dc[0] != '\0') {
        n = snprintf(path, cap, "%s/config.json", dc);
    } else if (home != NULL && home[0] != '\0') {
        n = snprintf(path, cap, "%s/.docker/config.json", home);
    } else {
        path[0] = '\0';
        return ATV_OK;
    }
    if (n < 0 || (size_t)n >= cap) {
        path[0] = '\0';
        return atv_err_set(err, ATV_E_LIMIT, "docker config: path over %zu bytes", cap - 1);
    }
    return ATV_OK;
}

enum atv_status atv_ref_creds_load(const char *auth_provider, const char *config_path,
                                   const char *registry, struct atv_ref_creds *out,
                                   struct atv_err *err)
{
    char path[4096];
    struct atv_buf file;
    struct stat st;
    enum atv_status rc;
    memset(out, 0, sizeof *out);
    atv_buf_init(&file, ATV_REF_MAX_DOCKER_CONFIG);
    if (auth_provider != NULL && auth_provider[0] != '\0' &&
        strcmp(auth_provider, "dockerConfig") != 0) {
        /* Ratify goes anonymous when a provider fails; we do not implement this one */
        (void)snprintf(out->warning, sizeof out->warning,
                       "auth provider \"%.64s\" is not supported: fetching anonymously",
                       auth_provider);
        return ATV_OK;
    }
    rc = config_file(config_path, path, sizeof path, err);
    if (rc != ATV_OK || path[0] == '\0') {
        goto out;
    }
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = ATV_OK; /* no file: anonymous, as docker/cli config.Load */
            goto out;
        }
        rc = atv_err_set(err, ATV_E_IO, "docker config %s: %s", path, strerror(errno));
        goto out;
    }
    rc = atv_buf_read_file(&file, path, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = atv_ref_creds_from_json(atv_buf_view(&file), registry, out, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "%s", path);
    }
out:
    if (file.ptr != NULL) {
        memset(file.ptr, 0, file.cap);
    }
    atv_buf_cleanup(&file);
    return rc;
}
