/* atproto/identity.c: where a DID's document lives, DID resolution, handle
 * resolution, the bidirectional handle check, and the getRecord URL.
 *
 * No I/O here (DESIGN.md "Layout"): every byte from the network arrives
 * through the struct atv_fetcher the caller passes in (common/http.h).
 * Specs: atproto.com/specs/did ("DID Methods"), /handle ("Handle
 * Resolution"), the PLC spec (did:plc identifiers), RFC 3986 (URLs);
 * behaviour follows indigo atproto/identity where the specs are silent
 * (reference/atproto-verification.md section 2).
 */
#include "atproto/atproto.h"

#include <string.h>

/* indigo (identity/handle.go) caps a .well-known/atproto-did body at 2048
 * bytes. Belongs in common/limits.h as ATV_MAX_HANDLE_DID_BODY. */
#define IDENTITY_MAX_WELLKNOWN 2048u
/* A DNS message is at most 65535 bytes (RFC 1035 4.2.2), so the TXT strings
 * of one answer are fewer. Belongs in common/limits.h as ATV_MAX_DNS_TXT. */
#define IDENTITY_MAX_TXT 65535u
/* "_atproto." + a handle. */
#define IDENTITY_TXT_PREFIX "_atproto."

/* ---- small helpers ------------------------------------------------------ */

static char ascii_lower(char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static int ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Case-insensitive comparison of s[0..n) with the lower-case NUL-terminated w. */
static int eq_nocase(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n != wl) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower(s[i]) != w[i]) {
            return 0;
        }
    }
    return 1;
}

/* 1 when the last label of host[0..n) is a TLD that can never resolve
 * publicly: indigo atproto/syntax/handle.go AllowedTLD (and the handle spec,
 * "Additional Non-Syntax Restrictions"). ".test" stays allowed: the spec
 * reserves it for testing and local development uses it. */
static int tld_disallowed(const char *host, size_t n)
{
    static const char *const bad[] = {"local",    "arpa",    "invalid", "localhost",
                                      "internal", "example", "onion",   "alt"};
    size_t start = n;
    while (start > 0 && host[start - 1] != '.') {
        start--;
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (eq_nocase(host + start, n - start, bad[i])) {
            return 1;
        }
    }
    return 0;
}

/* A bounded string builder over the caller's array: len < cap always, the
 * array stays NUL-terminated, and an append that does not fit sets `over`. */
struct sb {
    char *p;
    size_t cap;
    size_t len;
    int over;
};

static void sb_init(struct sb *b, char *out, size_t cap)
{
    b->p = out;
    b->cap = cap;
    b->len = 0;
    b->over = cap == 0;
    if (cap > 0) {
        out[0] = '\0';
    }
}

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->over || n >= b->cap - b->len) {
        b->over = 1;
        return;
    }
    if (n > 0) {
        memcpy(b->p + b->len, s, n); /* n < cap - len, checked above */
    }
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* RFC 3986 2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s[0..n) percent-encoded: every byte outside the unreserved set
 * becomes "%XX" with upper-case hex (RFC 3986 2.1 "should use uppercase"). */
static void sb_pct(struct sb *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            sb_add(b, s + i, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 0x0f]};
            sb_add(b, e, sizeof e);
        }
    }
}

/* Finishes a build: ATV_E_LIMIT (output emptied) when it did not fit. */
static enum atv_status sb_done(struct sb *b, const char *what, struct atv_err *err)
{
    if (b->over) {
        if (b->cap > 0) {
            b->p[0] = '\0';
        }
        return atv_err_set(err, ATV_E_LIMIT, "%s: the URL does not fit in %zu bytes", what,
                           b->cap);
    }
    return ATV_OK;
}

/* Copies s[0..n) into out as a C string. */
static enum atv_status copy_out(char *out, size_t cap, const char *s, size_t n, const char *what,
                                struct atv_err *err)
{
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "%s: %zu bytes do not fit in %zu", what, n, cap);
    }
    memcpy(out, s, n); /* n < cap, checked above */
    out[n] = '\0';
    return ATV_OK;
}

/* Statuses that mean "this attempt could not be made", as opposed to "this
 * attempt found nothing usable": they end a resolution instead of falling
 * back to the next method. */
static int is_hard(enum atv_status rc)
{
    return rc == ATV_E_NOMEM || rc == ATV_E_INTERNAL || rc == ATV_E_USAGE;
}

/* Moves a local error into the caller's record. */
static enum atv_status pass_err(struct atv_err *err, const struct atv_err *local)
{
    enum atv_status rc = atv_err_setr(err, local->code, local->reason, "%s", local->msg);
    if (local->transient) {
        atv_err_transient(err);
    }
    return rc;
}

/* Checks an http(s) base URL (the PLC directory, a PDS endpoint): scheme
 * "https://" or "http://" (plain http is a transport policy decided in
 * common/http.c), a non-empty authority, printable ASCII without spaces, no
 * query or fragment (RFC 3986 3: the URL is a prefix we append a path to).
 * *len receives the length without one trailing '/'. */
static enum atv_status base_url_check(const char *u, const char *what, enum atv_status code,
                                      size_t *len, struct atv_err *err)
{
    size_t n = strnlen(u, ATV_MAX_URL + 1);
    size_t scheme;

    *len = 0;
    if (n > ATV_MAX_URL) {
        return atv_err_set(err, ATV_E_LIMIT, "%s: URL longer than %u bytes", what, ATV_MAX_URL);
    }
    if (n >= 8 && memcmp(u, "https://", 8) == 0) {
        scheme = 8;
    } else if (n >= 7 && memcmp(u, "http://", 7) == 0) {
        scheme = 7;
    } else {
        return atv_err_set(err, code, "%s: URL must start with https:// or http://", what);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
            return atv_err_set(err, code, "%s: URL byte 0x%02x at offset %zu not allowed", what,
                               (unsigned)c, i);
        }
    }
    if (scheme == n || u[scheme] == '/') {
        return atv_err_set(err, code, "%s: URL has no host", what);
    }
    if (u[n - 1] == '/') {
        n--;
    }
    if (u[n - 1] == '/') {
        return atv_err_set(err, code, "%s: URL ends with more than one '/'", what);
    }
    *len = n;
    return ATV_OK;
}

/* ---- DID -> document URL ------------------------------------------------ */

/* PLC spec: the identifier is 24 characters of base32 lower [a-z2-7]
 * (the truncated hash of the genesis operation). */
static enum atv_status plc_url(const char *base, const char *did, size_t n, struct sb *b,
                               struct atv_err *err)
{
    const char *id = did + 8;
    size_t idl = n - 8;
    size_t bl;
    enum atv_status rc;

    if (idl != 24) {
        return atv_err_set(err, ATV_E_PARSE, "did:plc: identifier of %zu characters, want 24", idl);
    }
    for (size_t i = 0; i < idl; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) {
            return atv_err_set(err, ATV_E_PARSE,
                               "did:plc: identifier byte 0x%02x at offset %zu is not base32",
                               (unsigned)(unsigned char)c, i);
        }
    }
    if (base == NULL) {
        base = ATV_DEFAULT_PLC_URL;
    }
    /* the PLC URL is operator configuration: a bad one is a usage error */
    rc = base_url_check(base, "plc url", ATV_E_USAGE, &bl, err);
    if (rc != ATV_OK) {
        return rc;
    }
    sb_add(b, base, bl);
    sb_str(b, "/");
    sb_add(b, did, n);
    return ATV_OK;
}

/* A did:web port: "%3A" (either hex case, RFC 3986 2.1) then 1 to 65535
 * written without leading zeros. *port receives the digits. */
static enum atv_status web_port(const char *s, size_t n, const char **port, size_t *pl,
                                struct atv_err *err)
{
    unsigned long v = 0;

    *port = NULL;
    *pl = 0;
    if (n < 4 || s[0] != '%' || s[1] != '3' || (s[2] != 'A' && s[2] != 'a')) {
        return atv_err_set(err, ATV_E_UNSUPPORTED,
                           "did:web: percent-encoding other than a %%3A port is not supported");
    }
    if (n - 3 > 5 || s[3] == '0') {
        return atv_err_set(err, ATV_E_PARSE, "did:web: port of %zu digits", n - 3);
    }
    for (size_t i = 3; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return atv_err_set(err, ATV_E_PARSE, "did:web: port byte 0x%02x at offset %zu",
                               (unsigned)(unsigned char)s[i], i);
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535) {
        return atv_err_set(err, ATV_E_PARSE, "did:web: port %lu out of range", v);
    }
    *port = s + 3;
    *pl = n - 3;
    return ATV_OK;
}

/* did:web spec as atproto profiles it (did spec "did:web"): hostname only,
 * no path (a ':' after the host is a path separator), resolved at
 * https://HOST/.well-known/did.json. A %3A-encoded port is for local
 * development, so only loopback hosts may carry one; "localhost" and
 * "127.0.0.1" are taken as they are (they fail handle syntax and the TLD
 * list on purpose elsewhere). Whether plain http may reach them is the
 * transport's policy (common/http.c allow_loopback_http), not ours. */
static enum atv_status web_url(const char *did, size_t n, struct sb *b, struct atv_err *err)
{
    const char *host = did + 8;
    size_t hl = n - 8;
    size_t pct = 0;
    const char *port = NULL;
    size_t pl = 0;
    int loopback;
    enum atv_status rc;

    if (memchr(host, ':', hl) != NULL) {
        return atv_err_setr(err, ATV_E_UNSUPPORTED, "unsupported_did",
                            "did:web: path segments are not supported (hostname only)");
    }
    while (pct < hl && host[pct] != '%') {
        pct++;
    }
    loopback = eq_nocase(host, pct, "localhost") || (pct == 9 && memcmp(host, "127.0.0.1", 9) == 0);
    if (pct < hl) {
        rc = web_port(host + pct, hl - pct, &port, &pl, err);
        if (rc != ATV_OK) {
            return rc;
        }
        if (!loopback) {
            return atv_err_setr(err, ATV_E_UNSUPPORTED, "unsupported_did",
                                "did:web: a port is accepted only for localhost or 127.0.0.1");
        }
    }
    if (!loopback) {
        rc = atv_atp_handle_check(host, hl, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "did:web host");
            return rc;
        }
        if (tld_disallowed(host, hl)) {
            return atv_err_setr(err, ATV_E_UNSUPPORTED, "unsupported_did",
                                "did:web: the host's top-level domain is reserved");
        }
    }
    sb_str(b, "https://");
    sb_add(b, host, pct);
    if (port != NULL) {
        sb_str(b, ":");
        sb_add(b, port, pl);
    }
    sb_str(b, "/.well-known/did.json");
    return ATV_OK;
}

enum atv_status atv_atp_did_doc_url(const char *plc_url_base, const char *did, char *out,
                                    size_t cap, struct atv_err *err)
{
    struct sb b;
    size_t n;
    enum atv_status rc;

    if (out == NULL || cap == 0 || did == NULL) {
        if (out != NULL && cap > 0) {
            out[0] = '\0';
        }
        return atv_err_set(err, ATV_E_USAGE, "did document url: NULL argument or zero cap");
    }
    sb_init(&b, out, cap);
    n = strnlen(did, ATV_MAX_DID + 1);
    rc = atv_atp_did_check(did, n, err);
    if (rc != ATV_OK) {
        goto out;
    }
    /* did spec "DID Methods": atproto supports did:plc and did:web only */
    if (n > 8 && memcmp(did, "did:plc:", 8) == 0) {
        rc = plc_url(plc_url_base, did, n, &b, err);
    } else if (n > 8 && memcmp(did, "did:web:", 8) == 0) {
        rc = web_url(did, n, &b, err);
    } else {
        rc = atv_err_setr(err, ATV_E_UNSUPPORTED, "unsupported_did",
                          "did: only did:plc and did:web are supported");
    }
    if (rc == ATV_OK) {
        rc = sb_done(&b, "did document url", err);
    }
out:
    if (rc != ATV_OK) {
        out[0] = '\0';
    }
    return rc;
}

/* ---- DID resolution ----------------------------------------------------- */

enum atv_status atv_atp_did_resolve(const struct atv_fetcher *f, const char *plc_url_base,
                                    const char *did, struct atv_buf *doc_json,
                                    struct atv_diddoc *out, struct atv_err *err)
{
    char url[ATV_MAX_URL + 1];
    struct atv_buf body;
    long status = 0;
    enum atv_status rc;

    atv_buf_init(&body, ATV_MAX_DIDDOC);
    if (out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "did resolve: NULL output");
    }
    memset(out, 0, sizeof *out);
    if (f == NULL || f->get == NULL) {
        rc = atv_err_setr(err, ATV_E_USAGE, "offline",
                          "did resolve: no network access (offline)");
        goto out;
    }
    rc = atv_atp_did_doc_url(plc_url_base, did, url, sizeof url, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = f->get(f->ctx, url, ATV_MAX_DIDDOC, &status, &body, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "did document");
        goto out;
    }
    switch (status) {
    case 200:
        /* did spec: the document's id must be the DID asked for (checked in
         * atv_atp_diddoc_parse); indigo ResolveDID does the same */
        rc = atv_atp_diddoc_parse(atv_buf_view(&body), did, out, err);
        break;
    case 404:
        rc = atv_err_setr(err, ATV_E_NOT_FOUND, "did_not_found",
                          "did document: HTTP 404, the DID is unknown");
        break;
    case 410:
        /* plc.directory answers 410 Gone for a tombstoned DID */
        rc = atv_err_setr(err, ATV_E_NOT_FOUND, "did_deactivated",
                          "did document: HTTP 410, the DID is deactivated");
        break;
    default:
        rc = atv_err_set(err, ATV_E_IO, "did document: HTTP status %ld", status);
        if (status >= 500 || status == 429) {
            /* the directory is overloaded or down: a retry may succeed */
            atv_err_transient(err);
        }
        break;
    }
    if (rc == ATV_OK && doc_json != NULL) {
        /* atv_buf_append leaves doc_json unchanged when it fails */
        rc = atv_buf_append(doc_json, body.ptr, body.len, err);
        if (rc == ATV_OK) {
            rc = atv_buf_terminate(doc_json, err);
        }
        if (rc != ATV_OK) {
            atv_err_prefix(err, "did document copy");
        }
    }
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    atv_buf_cleanup(&body);
    return rc;
}

/* ---- did:plc from its verified operation log ---------------------------- */

static enum atv_status plc_log_url(const char *base, const char *did, char *out, size_t cap,
                                   struct atv_err *err)
{
    struct sb b;
    size_t n = strnlen(did, ATV_MAX_DID + 1);
    enum atv_status rc;

    sb_init(&b, out, cap);
    if (n <= 8 || memcmp(did, "did:plc:", 8) != 0) {
        return atv_err_setr(err, ATV_E_UNSUPPORTED, "unsupported_did",
                            "plc log: not a did:plc");
    }
    rc = plc_url(base, did, n, &b, err);
    if (rc == ATV_OK) {
        sb_str(&b, "/log/audit");
        rc = sb_done(&b, "plc log url", err);
    }
    return rc;
}

/* The handle of a verified log: its first at:// entry, when it is one. */
static void plc_handle(const struct atv_plc_state *st, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < st->n_aka; i++) {
        if (atv_atp_handle_from_aka(st->aka[i], out, cap)) {
            return;
        }
    }
}

enum atv_status atv_atp_plc_usable(const struct atv_plc_state *st, struct atv_err *err)
{
    if (st->tombstoned) {
        return atv_err_setr(err, ATV_E_NOT_FOUND, "did_tombstoned",
                            "plc log: the verified log of %s ends in a tombstone: deactivated",
                            st->did);
    }
    if (!st->has_key) {
        return atv_err_setr(err, ATV_E_NOT_FOUND, "no_signing_key",
                            "plc log: the last operation of %s names no K-256 or P-256 atproto "
                            "key",
                            st->did);
    }
    return ATV_OK;
}

enum atv_status atv_atp_plc_from_log(struct atv_bytes json, const char *did,
                                     struct atv_plc_state *state, struct atv_diddoc *out,
                                     struct atv_err *err)
{
    enum atv_status rc;

    if (out == NULL || state == NULL || did == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "plc log: NULL argument");
    }
    memset(out, 0, sizeof *out);
    rc = atv_atp_plc_log_verify(json, did, state, err);
    if (rc != ATV_OK) {
        memset(state, 0, sizeof *state);
        return rc;
    }
    memcpy(out->did, state->did, sizeof out->did);
    out->key = state->key;
    memcpy(out->pds, state->pds, sizeof out->pds);
    plc_handle(state, out->handle, sizeof out->handle);
    return ATV_OK;
}

enum atv_status atv_atp_plc_resolve(const struct atv_fetcher *f, const char *plc_url_base,
                                    const char *did, struct atv_buf *log_json,
                                    struct atv_plc_state *state, struct atv_diddoc *out,
                                    struct atv_err *err)
{
    char url[ATV_MAX_URL + 1];
    struct atv_buf body;
    long status = 0;
    enum atv_status rc;

    if (out == NULL || state == NULL || did == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "plc resolve: NULL argument");
    }
    memset(out, 0, sizeof *out);
    memset(state, 0, sizeof *state);
    if (f == NULL || f->get == NULL) {
        return atv_err_setr(err, ATV_E_USAGE, "offline", "plc resolve: no network access");
    }
    atv_buf_init(&body, ATV_MAX_PLC_LOG_JSON);
    rc = plc_log_url(plc_url_base, did, url, sizeof url, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = f->get(f->ctx, url, ATV_MAX_PLC_LOG_JSON, &status, &body, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "plc log");
        goto out;
    }
    switch (status) {
    case 200:
        rc = atv_atp_plc_from_log(atv_buf_view(&body), did, state, out, err);
        break;
    case 404:
        rc = atv_err_setr(err, ATV_E_NOT_FOUND, "did_not_found",
                          "plc log: HTTP 404, the DID is unknown");
        break;
    case 410:
        rc = atv_err_setr(err, ATV_E_NOT_FOUND, "did_deactivated",
                          "plc log: HTTP 410, the DID is deactivated");
        break;
    default:
        rc = atv_err_set(err, ATV_E_IO, "plc log: HTTP status %ld", status);
        if (status >= 500 || status == 429) {
            atv_err_transient(err);
        }
        break;
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (log_json != NULL) {
        rc = atv_buf_append(log_json, body.ptr, body.len, err);
    }
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
        memset(state, 0, sizeof *state);
    }
    atv_buf_cleanup(&body);
    return rc;
}

/* ---- handle resolution -------------------------------------------------- */

/* DNS method (handle spec "Handle Resolution"): TXT records at
 * _atproto.HANDLE, each "did=<DID>". As the TypeScript resolver does
 * (@atproto/identity parseDnsResult), exactly one DID must be named; we
 * count distinct values, so a repeated identical record is fine, and two
 * different ones are a verdict (handle_ambiguous), not a fall back to HTTPS.
 * Returns ATV_OK with out set; ATV_E_VERIFY for ambiguity; a hard error; or
 * ATV_E_NOT_FOUND (message in *local) when DNS gave nothing usable. */
static enum atv_status resolve_dns(const struct atv_fetcher *f, const char *h, size_t hl,
                                   char *out, size_t cap, struct atv_err *local,
                                   struct atv_err *err)
{
    char name[sizeof IDENTITY_TXT_PREFIX + ATV_MAX_HANDLE];
    struct atv_buf txt;
    struct sb b;
    const char *s;
    const char *first = NULL;
    size_t first_len = 0;
    size_t distinct = 0;
    size_t i = 0;
    enum atv_status rc;

    atv_buf_init(&txt, IDENTITY_MAX_TXT);
    if (f->txt == NULL) {
        return atv_err_set(local, ATV_E_NOT_FOUND, "no DNS access");
    }
    sb_init(&b, name, sizeof name);
    sb_str(&b, IDENTITY_TXT_PREFIX);
    sb_add(&b, h, hl);
    rc = sb_done(&b, "dns name", err); /* cannot happen: sized for the longest handle */
    if (rc != ATV_OK) {
        goto out;
    }
    rc = f->txt(f->ctx, name, &txt, local);
    if (rc != ATV_OK) {
        if (is_hard(rc)) {
            rc = pass_err(err, local);
        } else {
            rc = ATV_E_NOT_FOUND;
        }
        goto out;
    }
    s = (const char *)txt.ptr;
    while (i < txt.len) {
        size_t e = i;
        while (e < txt.len && s[e] != '\n') {
            e++;
        }
        if (e - i >= 4 && memcmp(s + i, "did=", 4) == 0) {
            const char *v = s + i + 4;
            size_t vl = e - i - 4;
            if (distinct == 0) {
                first = v;
                first_len = vl;
                distinct = 1;
            } else if (vl != first_len || memcmp(v, first, vl) != 0) {
                distinct++;
            }
        }
        i = e + 1;
    }
    if (distinct > 1) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "handle_ambiguous",
                          "handle: DNS TXT _atproto names more than one DID");
        goto out;
    }
    if (distinct == 0) {
        rc = atv_err_set(local, ATV_E_NOT_FOUND, "no did= TXT record");
        goto out;
    }
    if (atv_atp_did_check(first, first_len, NULL) != ATV_OK) {
        rc = atv_err_set(local, ATV_E_NOT_FOUND, "the did= TXT value (%zu bytes) is not a DID",
                         first_len);
        goto out;
    }
    rc = copy_out(out, cap, first, first_len, "handle: DID", err);
out:
    atv_buf_cleanup(&txt);
    return rc;
}

/* HTTPS method: GET https://HANDLE/.well-known/atproto-did, status 200, the
 * body's first line with ASCII whitespace trimmed must be a DID (TypeScript
 * resolver: first line, trimmed; indigo: 2048-byte cap). Same returns as
 * resolve_dns, less the ambiguity. */
static enum atv_status resolve_https(const struct atv_fetcher *f, const char *h, size_t hl,
                                     char *out, size_t cap, struct atv_err *local,
                                     struct atv_err *err)
{
    char url[ATV_MAX_HANDLE + 64];
    struct atv_buf body;
    struct sb b;
    const char *s;
    size_t start = 0;
    size_t end = 0;
    long status = 0;
    enum atv_status rc;

    atv_buf_init(&body, IDENTITY_MAX_WELLKNOWN);
    if (f->get == NULL) {
        return atv_err_set(local, ATV_E_NOT_FOUND, "no HTTP access");
    }
    sb_init(&b, url, sizeof url);
    sb_str(&b, "https://");
    sb_add(&b, h, hl);
    sb_str(&b, "/.well-known/atproto-did");
    rc = sb_done(&b, "handle url", err); /* cannot happen: sized for the longest handle */
    if (rc != ATV_OK) {
        goto out;
    }
    rc = f->get(f->ctx, url, IDENTITY_MAX_WELLKNOWN, &status, &body, local);
    if (rc != ATV_OK) {
        /* a transport failure or an oversized body: this method found nothing */
        rc = is_hard(rc) ? pass_err(err, local) : ATV_E_NOT_FOUND;
        goto out;
    }
    if (status != 200) {
        rc = atv_err_set(local, ATV_E_NOT_FOUND, "HTTP status %ld", status);
        goto out;
    }
    s = (const char *)body.ptr;
    while (end < body.len && s[end] != '\n') {
        end++;
    }
    while (start < end && ascii_space(s[start])) {
        start++;
    }
    while (end > start && ascii_space(s[end - 1])) {
        end--;
    }
    if (end == start || atv_atp_did_check(s + start, end - start, NULL) != ATV_OK) {
        rc = atv_err_set(local, ATV_E_NOT_FOUND, "the first line (%zu bytes) is not a DID",
                         end - start);
        goto out;
    }
    rc = copy_out(out, cap, s + start, end - start, "handle: DID", err);
out:
    atv_buf_cleanup(&body);
    return rc;
}

enum atv_status atv_atp_handle_resolve(const struct atv_fetcher *f, const char *handle, char *out,
                                       size_t cap, struct atv_err *err)
{
    char h[ATV_MAX_HANDLE + 1];
    struct atv_err dns_err;
    struct atv_err http_err;
    size_t n;
    enum atv_status rc;

    atv_err_clear(&dns_err);
    atv_err_clear(&http_err);
    if (out == NULL || cap == 0 || handle == NULL) {
        if (out != NULL && cap > 0) {
            out[0] = '\0';
        }
        return atv_err_set(err, ATV_E_USAGE, "handle resolve: NULL argument or zero cap");
    }
    out[0] = '\0';
    n = strnlen(handle, ATV_MAX_HANDLE + 1);
    rc = atv_atp_handle_check(handle, n, err);
    if (rc != ATV_OK) {
        return rc;
    }
    /* handle spec: handles are case-insensitive and normalised to lower case */
    for (size_t i = 0; i < n; i++) {
        h[i] = ascii_lower(handle[i]);
    }
    h[n] = '\0';
    if (tld_disallowed(h, n)) {
        return atv_err_setr(err, ATV_E_UNSUPPORTED, "handle_reserved_tld",
                            "handle: the top-level domain is reserved and never resolves");
    }
    if (f == NULL || (f->get == NULL && f->txt == NULL)) {
        return atv_err_setr(err, ATV_E_USAGE, "offline",
                            "handle resolve: no network access (offline)");
    }
    /* DNS first, then HTTPS (indigo ResolveHandle; the TypeScript resolver
     * races them but prefers DNS) */
    rc = resolve_dns(f, h, n, out, cap, &dns_err, err);
    if (rc != ATV_E_NOT_FOUND) {
        goto out;
    }
    rc = resolve_https(f, h, n, out, cap, &http_err, err);
    if (rc != ATV_E_NOT_FOUND) {
        goto out;
    }
    rc = atv_err_setr(err, ATV_E_NOT_FOUND, "handle_unresolved",
                      "handle (%zu bytes) does not resolve: dns: %s; https: %s", n, dns_err.msg,
                      http_err.msg);
out:
    if (rc != ATV_OK) {
        out[0] = '\0';
    }
    return rc;
}

enum atv_status atv_atp_handle_verify(const struct atv_fetcher *f, const struct atv_diddoc *doc,
                                      struct atv_err *err)
{
    char got[ATV_MAX_DID + 1];
    struct atv_err local;
    enum atv_status rc;

    atv_err_clear(&local);
    if (doc == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "handle verify: NULL document");
    }
    if (doc->handle[0] == '\0') {
        return atv_err_setr(err, ATV_E_NOT_FOUND, "no_handle",
                            "did document declares no handle");
    }
    rc = atv_atp_handle_resolve(f, doc->handle, got, sizeof got, &local);
    if (rc != ATV_OK) {
        if (is_hard(rc)) {
            return pass_err(err, &local);
        }
        /* did spec "bidirectional verification": a handle that does not
         * resolve back is as unverified as one that resolves elsewhere */
        return atv_err_setr(err, ATV_E_VERIFY, "handle_mismatch",
                            "handle does not resolve back to the DID: %s", local.msg);
    }
    if (strcmp(got, doc->did) != 0) {
        return atv_err_setr(err, ATV_E_VERIFY, "handle_mismatch",
                            "handle resolves to another DID (%zu bytes), not the document's "
                            "DID (%zu bytes)",
                            strlen(got), strlen(doc->did));
    }
    return ATV_OK;
}

/* ---- getRecord URL ------------------------------------------------------ */

enum atv_status atv_atp_getrecord_url(const char *pds, const char *did, const char *collection,
                                      const char *rkey, char *out, size_t cap,
                                      struct atv_err *err)
{
    struct sb b;
    size_t pl = 0;
    size_t dl;
    size_t cl;
    size_t rl;
    enum atv_status rc;

    if (out == NULL || cap == 0 || pds == NULL || did == NULL || collection == NULL ||
        rkey == NULL) {
        if (out != NULL && cap > 0) {
            out[0] = '\0';
        }
        return atv_err_set(err, ATV_E_USAGE, "getRecord url: NULL argument or zero cap");
    }
    sb_init(&b, out, cap);
    dl = strnlen(did, ATV_MAX_DID + 1);
    cl = strnlen(collection, ATV_MAX_NSID + 1);
    rl = strnlen(rkey, ATV_MAX_RKEY + 1);
    /* the PDS endpoint comes from a DID document: bad input, not misuse */
    rc = base_url_check(pds, "pds", ATV_E_PARSE, &pl, err);
    if (rc == ATV_OK) {
        rc = atv_atp_did_check(did, dl, err);
    }
    if (rc == ATV_OK) {
        rc = atv_atp_nsid_check(collection, cl, err);
    }
    if (rc == ATV_OK) {
        rc = atv_atp_rkey_check(rkey, rl, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    /* XRPC spec: GET {host}/xrpc/{nsid}?{params}; every parameter value is
     * percent-encoded outside RFC 3986 2.3's unreserved set, so the ':' of a
     * DID becomes %3A and an rkey's '~' stays as it is */
    sb_add(&b, pds, pl);
    sb_str(&b, "/xrpc/com.atproto.sync.getRecord?did=");
    sb_pct(&b, did, dl);
    sb_str(&b, "&collection=");
    sb_pct(&b, collection, cl);
    sb_str(&b, "&rkey=");
    sb_pct(&b, rkey, rl);
    rc = sb_done(&b, "getRecord url", err);
out:
    if (rc != ATV_OK) {
        out[0] = '\0';
    }
    return rc;
}
