/* common/http.c: the project's only libcurl user (see common/http.h).
 *
 * Policy (STYLE.md rule 21, DESIGN.md "Rules that hold everywhere"):
 * - https always, with peer and host verification on; plain http only when
 *   the session allows it (allow_http) or, with allow_loopback_http, when the
 *   host is loopback. Every redirect hop is checked again: libcurl's own
 *   redirect following (CURLOPT_FOLLOWLOCATION) is never used.
 * - One deadline per session (CLOCK_MONOTONIC); every hop gets what is left
 *   as its connect and total timeout.
 * - Bodies go into a capped atv_buf; over the cap the write callback aborts.
 * - The Authorization value goes only to the scheme+host+port it was given
 *   for; once a redirect leaves that origin it is dropped for good. It never
 *   goes to a proxy (CURLHEADER_SEPARATE and a CONNECT tunnel for http too).
 * - Error messages name the method and the origin (scheme://host[:port]),
 *   never the path, the userinfo, the Authorization value, a request body
 *   or response bytes.
 * - POST (a token refresh) sends the caller's body once, to one URL: it
 *   never follows a redirect (http.h).
 */

/* _DEFAULT_SOURCE: <resolv.h> and <arpa/nameser.h> use the BSD types
 * (u_char, u_long) and <netdb.h> the h_errno codes (HOST_NOT_FOUND, NO_DATA)
 * that glibc declares only under __USE_MISC; the project builds with
 * _POSIX_C_SOURCE=200809L, which hides them. */
#define _DEFAULT_SOURCE

#include "common/http.h"
#include "common/http_internal.h"
#include "common/limits.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#ifndef ATV_VERSION
#define ATV_VERSION "unknown"
#endif

#define HTTP_DEFAULT_TIMEOUT_MS 2500u
/* Debian's bundle; the static build's libcurl may have no usable default. */
#define HTTP_CA_FALLBACK "/etc/ssl/certs/ca-certificates.crt"
/* The largest DNS message (RFC 1035 section 4.2.2: TCP length is 16 bits). */
#define DNS_ANSWER_MAX 65535
/* A domain name in text form: 253 characters (RFC 1035 section 2.3.4, 255
 * octets on the wire), plus an optional trailing dot. */
#define DNS_NAME_MAX 254u
/* Lookup threads abandoned at their deadline keep running until libresolv
 * gives up (about one second per server, fetch_txt). A DNS server that never
 * answers must not make a long-running process pile them up: past this many
 * still running, a lookup fails at once instead of starting another. */
#define DNS_MAX_INFLIGHT 32

struct atv_http {
    CURL *curl;
    uint64_t deadline_ms; /* CLOCK_MONOTONIC */
    uint32_t timeout_ms;
    int allow_http;
    int allow_loopback_http;
    char *ca_file;    /* owned; NULL: libcurl's default */
    int ca_only;      /* ca_file alone: no CA directory */
    char *user_agent; /* owned */
    int has_test_ns;  /* atv_http_test_nameserver: TXT lookups ask test_ns only */
    struct sockaddr_in test_ns;
};

/* ---- time ------------------------------------------------------------------ */

static int now_ms(uint64_t *out)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0 || ts.tv_sec < 0 || ts.tv_nsec < 0) {
        *out = 0;
        return -1;
    }
    *out = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    return 0;
}

uint32_t atv_http_remaining_ms(const struct atv_http *h)
{
    uint64_t now;
    if (h == NULL || now_ms(&now) != 0 || now >= h->deadline_ms) {
        return 0;
    }
    uint64_t left = h->deadline_ms - now;
    return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

/* ---- session ---------------------------------------------------------------- */

static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* Keeps libcurl's built-in CA bundle when it is readable; otherwise uses
 * HTTP_CA_FALLBACK when that exists (a static libcurl built without a
 * bundle path). With neither, TLS fails closed. */
static enum atv_status http_choose_ca(struct atv_http *h, const char *ca_file, struct atv_err *err)
{
    if (ca_file != NULL) {
        if (access(ca_file, R_OK) != 0) {
            return atv_err_set(err, ATV_E_IO, "http: ca file %s is not readable", ca_file);
        }
        h->ca_file = strdup(ca_file);
        return h->ca_file != NULL ? ATV_OK : atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
    }
#if LIBCURL_VERSION_NUM >= 0x075400 /* CURLINFO_CAINFO and CURLINFO_CAPATH: 7.84.0 */
    char *def = NULL;
    if (curl_easy_getinfo(h->curl, CURLINFO_CAINFO, &def) == CURLE_OK && def != NULL &&
        access(def, R_OK) == 0) {
        return ATV_OK;
    }
    def = NULL;
    if (curl_easy_getinfo(h->curl, CURLINFO_CAPATH, &def) == CURLE_OK && def != NULL &&
        access(def, R_OK | X_OK) == 0) {
        return ATV_OK;
    }
#endif
    if (access(HTTP_CA_FALLBACK, R_OK) == 0) {
        h->ca_file = strdup(HTTP_CA_FALLBACK);
        if (h->ca_file == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
        }
    }
    return ATV_OK;
}

enum atv_status atv_http_new(const struct atv_http_opts *opts, struct atv_http **out,
                             struct atv_err *err)
{
    enum atv_status rc = ATV_OK;
    struct atv_http *h = NULL;
    uint64_t now;

    if (out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_new: out is NULL");
    }
    *out = NULL;
    if (opts == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_new: opts is NULL");
    }
    if (opts->user_agent != NULL && has_crlf(opts->user_agent)) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_new: user_agent holds a line break");
    }
    /* libcurl counts init/cleanup pairs, so each session holds one reference
     * and atv_http_free releases it: no global state outlives the last session.
     * Not thread-safe before libcurl 7.84: a threaded program (the server)
     * holds a reference of its own from before its first thread
     * (atv_http_global_hold), so these pairs only count. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return atv_err_set(err, ATV_E_INTERNAL, "http: libcurl global init failed");
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        curl_global_cleanup();
        return atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
    }
    /* From here h owns the global reference: atv_http_free releases it. */
    h->timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    h->allow_http = opts->allow_http != 0;
    h->allow_loopback_http = opts->allow_loopback_http != 0;
    h->ca_only = opts->ca_only != 0 && opts->ca_file != NULL;
    h->curl = curl_easy_init();
    h->user_agent =
        strdup(opts->user_agent != NULL ? opts->user_agent : "atcr-verify/" ATV_VERSION);
    if (h->curl == NULL || h->user_agent == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
        goto out;
    }
    rc = http_choose_ca(h, opts->ca_file, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (now_ms(&now) != 0) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "http: CLOCK_MONOTONIC unavailable");
        goto out;
    }
    h->deadline_ms = now + h->timeout_ms;
    *out = h;
    h = NULL;
out:
    atv_http_free(h);
    return rc;
}

void atv_http_free(struct atv_http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->curl != NULL) {
        curl_easy_cleanup(h->curl);
    }
    free(h->ca_file);
    free(h->user_agent);
    free(h);
    curl_global_cleanup();
}

enum atv_status atv_http_sub(struct atv_http *parent, uint32_t budget_ms, struct atv_http **out,
                             struct atv_err *err)
{
    enum atv_status rc;
    struct atv_http_opts o;
    struct atv_http *h = NULL;
    uint64_t now;

    if (out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_sub: out is NULL");
    }
    *out = NULL;
    if (parent == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_sub: parent is NULL");
    }
    uint32_t left = atv_http_remaining_ms(parent);
    uint32_t budget = budget_ms < left ? budget_ms : left;
    memset(&o, 0, sizeof o);
    o.timeout_ms = budget > 0 ? budget : 1u; /* 0 would mean the default; fixed below */
    o.allow_http = parent->allow_http;
    o.allow_loopback_http = parent->allow_loopback_http;
    o.ca_file = parent->ca_file;
    o.ca_only = parent->ca_only;
    o.user_agent = parent->user_agent;
    rc = atv_http_new(&o, &h, err);
    if (rc != ATV_OK) {
        return rc;
    }
    /* Never later than the parent: the step's share comes out of the whole
     * budget, it does not extend it. */
    if (now_ms(&now) != 0) {
        atv_http_free(h);
        return atv_err_set(err, ATV_E_INTERNAL, "http: CLOCK_MONOTONIC unavailable");
    }
    h->timeout_ms = budget;
    h->deadline_ms = now + budget;
    if (h->deadline_ms > parent->deadline_ms) {
        h->deadline_ms = parent->deadline_ms;
    }
    h->has_test_ns = parent->has_test_ns;
    h->test_ns = parent->test_ns;
    *out = h;
    return ATV_OK;
}

void atv_http_test_nameserver(struct atv_http *h, const struct sockaddr_in *ns)
{
    if (h == NULL) {
        return;
    }
    h->has_test_ns = ns != NULL;
    if (ns != NULL) {
        h->test_ns = *ns;
    }
}

/* ---- URLs -------------------------------------------------------------------- */

struct url_parts {
    char scheme[16];
    char host[ATV_MAX_URL];
    long port; /* explicit or the scheme's default */
    int has_userinfo;
    char origin[ATV_MAX_URL + 32]; /* scheme://host[:port], for messages */
};

/* Copies one part of u into out (cap bytes). Returns 0, or -1 when the part
 * is absent or does not fit (out is then ""). */
static int url_part(CURLU *u, CURLUPart what, unsigned int flags, char *out, size_t cap)
{
    char *s = NULL;
    int ok = -1;

    out[0] = '\0';
    if (curl_url_get(u, what, &s, flags) == CURLUE_OK && s != NULL) {
        size_t n = strlen(s);
        if (n < cap) {
            memcpy(out, s, n + 1); /* n < cap checked above */
            ok = 0;
        }
    }
    curl_free(s);
    return ok;
}

/* Decimal port 1..65535; -1 otherwise. */
static long port_parse(const char *s)
{
    long v = 0;
    if (s[0] == '\0') {
        return -1;
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

static enum atv_status url_split(CURLU *u, struct url_parts *p, struct atv_err *err)
{
    char port[16];
    char explicit_port[16];
    char *user = NULL;
    int n;

    memset(p, 0, sizeof *p);
    if (url_part(u, CURLUPART_SCHEME, 0, p->scheme, sizeof p->scheme) != 0 ||
        url_part(u, CURLUPART_HOST, 0, p->host, sizeof p->host) != 0 || p->host[0] == '\0' ||
        url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, port, sizeof port) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "http: url lacks a scheme, host or port");
    }
    p->port = port_parse(port);
    if (p->port < 0) {
        return atv_err_set(err, ATV_E_PARSE, "http: url has a bad port");
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        p->has_userinfo = 1;
    }
    curl_free(user);
    user = NULL;
    if (curl_url_get(u, CURLUPART_PASSWORD, &user, 0) == CURLUE_OK) {
        p->has_userinfo = 1;
    }
    curl_free(user);
    if (url_part(u, CURLUPART_PORT, 0, explicit_port, sizeof explicit_port) == 0) {
        n = snprintf(p->origin, sizeof p->origin, "%s://%s:%ld", p->scheme, p->host, p->port);
    } else {
        n = snprintf(p->origin, sizeof p->origin, "%s://%s", p->scheme, p->host);
    }
    if (n < 0 || (size_t)n >= sizeof p->origin) {
        return atv_err_set(err, ATV_E_PARSE, "http: url host too long");
    }
    return ATV_OK;
}

/* host as libcurl normalises it: "localhost", dotted-quad IPv4, "[v6]". */
static int host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    char v6[INET6_ADDRSTRLEN + 1];
    size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0) {
        return 1;
    }
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127u; /* 127.0.0.0/8, RFC 1122 section 3.2.1.3 */
    }
    if (n >= 3 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof v6) {
        memcpy(v6, host + 1, n - 2); /* n - 2 < sizeof v6 checked above */
        v6[n - 2] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) == 1) {
            return IN6_IS_ADDR_LOOPBACK(&a6) ? 1 : 0;
        }
    }
    return 0;
}

int atv_http_host_is_loopback(const char *url)
{
    CURLU *u = NULL;
    char host[ATV_MAX_URL];
    int yes = 0;

    if (url == NULL) {
        return 0;
    }
    u = curl_url();
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        url_part(u, CURLUPART_HOST, 0, host, sizeof host) == 0) {
        yes = host_is_loopback(host);
    }
    curl_url_cleanup(u);
    return yes;
}

/* The scheme policy for one hop. *protocols is what libcurl may speak. */
static enum atv_status hop_allowed(const struct atv_http *h, const char *method,
                                   const struct url_parts *p, const char **protocols,
                                   struct atv_err *err)
{
    *protocols = "https";
    if (p->has_userinfo) {
        return atv_err_set(err, ATV_E_IO, "%s %s: url with userinfo refused", method, p->origin);
    }
    if (strcmp(p->scheme, "https") == 0) {
        return ATV_OK;
    }
    if (strcmp(p->scheme, "http") != 0) {
        return atv_err_set(err, ATV_E_IO, "%s %s: scheme refused (https only)", method, p->origin);
    }
    if (h->allow_http || (h->allow_loopback_http && host_is_loopback(p->host))) {
        *protocols = "http,https";
        return ATV_OK;
    }
    return atv_err_set(err, ATV_E_IO, "%s %s: plain http refused (https only%s)", method, p->origin,
                       h->allow_loopback_http ? "; http allowed for loopback hosts only" : "");
}

static int same_origin(const struct url_parts *a, const struct url_parts *b)
{
    return strcmp(a->scheme, b->scheme) == 0 && strcasecmp(a->host, b->host) == 0 &&
           a->port == b->port;
}

/* ---- one request -------------------------------------------------------------- */

enum { HDR_TYPE = 1u, HDR_DIGEST = 2u, HDR_AUTH = 4u, HDR_LOCATION = 8u };

struct xfer {
    struct atv_http_resp *resp;
    int over;  /* the body passed its cap */
    int nomem; /* the body could not grow */
    unsigned int seen;
    char location[ATV_MAX_URL];
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    struct atv_err e;

    if (size != 0 && nmemb > SIZE_MAX / size) {
        x->over = 1;
        return 0;
    }
    atv_err_clear(&e);
    enum atv_status rc = atv_buf_append(&x->resp->body, ptr, size * nmemb, &e);
    if (rc == ATV_E_LIMIT) {
        x->over = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (rc != ATV_OK) {
        x->nomem = 1;
        return 0;
    }
    return size * nmemb;
}

/* Stores value (n bytes) in out unless it is too long or holds a control
 * character other than HTAB: then out is "" (dropped, not truncated). */
static void hdr_store(char *out, size_t cap, const char *value, size_t n)
{
    out[0] = '\0';
    if (n >= cap) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return;
        }
    }
    memcpy(out, value, n); /* n < cap checked above */
    out[n] = '\0';
}

/* Appends one Link field value to r->link, joined to earlier ones with ", "
 * (RFC 9110 section 5.3). A value that does not fit, or holds a control
 * character, empties r->link and sets link_dropped for the rest of this
 * response: a partial list of links would silently lose pages. */
static void link_add(struct atv_http_resp *r, const char *value, size_t n)
{
    size_t have = strlen(r->link);
    size_t sep = have > 0 ? 2 : 0;

    if (r->link_dropped || n == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            r->link[0] = '\0';
            r->link_dropped = 1;
            return;
        }
    }
    if (n >= sizeof r->link - have - sep) {
        r->link[0] = '\0';
        r->link_dropped = 1;
        return;
    }
    if (sep > 0) {
        memcpy(r->link + have, ", ", 2); /* have + 2 + n < sizeof r->link, checked above */
    }
    memcpy(r->link + have + sep, value, n);
    r->link[have + sep + n] = '\0';
}

static int hdr_is(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

/* Captures the headers we use from one header line (RFC 9110 section 5:
 * names are case-insensitive; leading and trailing whitespace is not part
 * of the value). A status line starts a new response (a proxy's CONNECT
 * answer, an interim 1xx), so it clears what was captured. The first
 * occurrence of a header wins. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    struct atv_http_resp *r = x->resp;
    size_t n;
    size_t colon = 0;
    size_t vs;
    size_t ve;

    if (size != 0 && nmemb > SIZE_MAX / size) {
        return 0;
    }
    n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        r->content_type[0] = '\0';
        r->content_digest[0] = '\0';
        r->www_authenticate[0] = '\0';
        r->link[0] = '\0';
        r->link_dropped = 0;
        x->location[0] = '\0';
        x->seen = 0;
        return n;
    }
    while (colon < n && ptr[colon] != ':') {
        colon++;
    }
    if (colon == n || colon == 0) {
        return n;
    }
    vs = colon + 1;
    ve = n;
    while (vs < ve && (ptr[vs] == ' ' || ptr[vs] == '\t')) {
        vs++;
    }
    while (ve > vs && (ptr[ve - 1] == ' ' || ptr[ve - 1] == '\t' || ptr[ve - 1] == '\r' ||
                       ptr[ve - 1] == '\n')) {
        ve--;
    }
    if (hdr_is(ptr, colon, "content-type") && (x->seen & HDR_TYPE) == 0) {
        x->seen |= HDR_TYPE;
        hdr_store(r->content_type, sizeof r->content_type, ptr + vs, ve - vs);
    } else if (hdr_is(ptr, colon, "docker-content-digest") && (x->seen & HDR_DIGEST) == 0) {
        x->seen |= HDR_DIGEST;
        hdr_store(r->content_digest, sizeof r->content_digest, ptr + vs, ve - vs);
    } else if (hdr_is(ptr, colon, "www-authenticate") && (x->seen & HDR_AUTH) == 0) {
        x->seen |= HDR_AUTH;
        hdr_store(r->www_authenticate, sizeof r->www_authenticate, ptr + vs, ve - vs);
    } else if (hdr_is(ptr, colon, "location") && (x->seen & HDR_LOCATION) == 0) {
        x->seen |= HDR_LOCATION;
        hdr_store(x->location, sizeof x->location, ptr + vs, ve - vs);
    } else if (hdr_is(ptr, colon, "link")) {
        link_add(r, ptr + vs, ve - vs);
    }
    return n;
}

/* A lower-case phrase for a transport failure. */
static const char *curl_phrase(CURLcode cc, long os_errno)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        switch (os_errno) {
        case ECONNREFUSED:
            return "connection refused";
        case ENETUNREACH:
            return "network unreachable";
        case EHOSTUNREACH:
            return "host unreachable";
        case ETIMEDOUT:
            return "connect timed out";
        default:
            return "could not connect";
        }
    case CURLE_COULDNT_RESOLVE_HOST:
        return "host not found";
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "proxy not found";
    case CURLE_OPERATION_TIMEDOUT:
        return "timed out at the session deadline";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return "tls failure";
    case CURLE_PARTIAL_FILE:
        return "response truncated";
    case CURLE_GOT_NOTHING:
        return "empty reply";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return "connection broken";
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "protocol refused";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return "malformed reply";
    default:
        return "transfer failed";
    }
}

/* Only connect and TLS failures get libcurl's detail text: those texts are
 * built from our own host name and OpenSSL's fixed strings, never from
 * response bytes. Control bytes are replaced anyway. */
static void curl_detail(CURLcode cc, const char *errbuf, char *out, size_t cap)
{
    const char *src = curl_easy_strerror(cc);
    size_t i = 0;

    if ((cc == CURLE_COULDNT_CONNECT || cc == CURLE_SSL_CONNECT_ERROR ||
         cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) &&
        errbuf[0] != '\0') {
        src = errbuf;
    }
    for (; src[i] != '\0' && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        out[i] = (c < 0x20 || c >= 0x7f) ? '?' : src[i];
    }
    while (i > 0 && out[i - 1] == '?') {
        i--; /* a trailing newline */
    }
    out[i] = '\0';
}

static CURLcode hop_setopts(struct atv_http *h, const struct atv_http_req *req, const char *url,
                            const char *protocols, struct curl_slist *hdrs, struct xfer *x,
                            char *errbuf, uint32_t left)
{
    CURL *c = h->curl;
    long ms = left > (uint32_t)INT32_MAX ? (long)INT32_MAX : (long)left;
    int head = strcmp(req->method, "HEAD") == 0;
    int post = strcmp(req->method, "POST") == 0;
    CURLcode cc;

    cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_URL, url);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* we follow, hop by hop */
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    }
#if LIBCURL_VERSION_NUM >= 0x075700 /* CURLOPT_QUICK_EXIT: 7.87.0 */
    if (cc == CURLE_OK) {
        /* At the deadline libcurl would otherwise wait for its threaded
         * resolver's getaddrinfo (Curl_resolver_kill joins it): against a
         * DNS server that never answers, that is resolv.conf's timeout x
         * attempts x servers, seconds past our deadline. With QUICK_EXIT
         * the resolver thread is detached and cleans up after itself. */
        cc = curl_easy_setopt(c, CURLOPT_QUICK_EXIT, 1L);
    }
#endif
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (cc == CURLE_OK && h->ca_file != NULL) {
        cc = curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    }
    if (cc == CURLE_OK && h->ca_only) {
        /* NULL: no CA directory at all, only CAINFO (libcurl's CURLOPT_CAPATH) */
        cc = curl_easy_setopt(c, CURLOPT_CAPATH, (char *)NULL);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    if (cc == CURLE_OK) {
        /* Our headers (Authorization) go to the server only, never to a proxy. */
        cc = curl_easy_setopt(c, CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
    }
    if (cc == CURLE_OK) {
        /* Through an HTTP proxy even plain http is tunnelled (CONNECT), so
         * the proxy never sees the request headers. */
        cc = curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 1L);
    }
    if (cc == CURLE_OK && post) {
        /* POSTFIELDS is not copied: req->body outlives the perform. A
         * zero-length body still needs a non-NULL pointer, or libcurl would
         * read one from CURLOPT_READFUNCTION (stdin). */
        cc = curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (cc == CURLE_OK) {
            cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
        if (cc == CURLE_OK) {
            cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        }
    } else if (cc == CURLE_OK) {
        cc = head ? curl_easy_setopt(c, CURLOPT_NOBODY, 1L)
                  : curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    /* libcurl 7.88 checks MAXFILESIZE against Content-Length even for HEAD,
     * where no body follows: set it for GET only. 0 would mean "no limit". */
    if (cc == CURLE_OK && !head && req->max_body > 0 && req->max_body <= (size_t)INT64_MAX) {
        cc = curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    }
    return cc;
}

/* Builds the request headers: the caller's, then Authorization when due. */
static enum atv_status hop_headers(const struct atv_http_req *req, int send_auth,
                                   struct curl_slist **out, struct atv_err *err)
{
    struct curl_slist *list = NULL;
    struct curl_slist *next;
    char *line = NULL;
    enum atv_status rc = ATV_OK;

    *out = NULL;
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        next = curl_slist_append(list, req->headers[i]);
        if (next == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
            goto out;
        }
        list = next;
    }
    if (strcmp(req->method, "POST") == 0) {
        /* The body's type; and no "Expect: 100-continue" round trip, which
         * libcurl adds for larger bodies and some servers never answer. */
        size_t n = strlen("Content-Type: ") + strlen(req->content_type) + 1;
        line = malloc(n);
        if (line == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
            goto out;
        }
        int w = snprintf(line, n, "Content-Type: %s", req->content_type);
        if (w < 0 || (size_t)w >= n) {
            rc = atv_err_set(err, ATV_E_INTERNAL, "http: content-type header formatting");
            goto out;
        }
        next = curl_slist_append(list, line);
        if (next != NULL) {
            list = next;
            next = curl_slist_append(list, "Expect:");
        }
        if (next == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
            goto out;
        }
        list = next;
        free(line);
        line = NULL;
    }
    if (send_auth) {
        size_t n = strlen("Authorization: ") + strlen(req->authorization) + 1;
        line = malloc(n);
        if (line == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
            goto out;
        }
        int w = snprintf(line, n, "Authorization: %s", req->authorization);
        if (w < 0 || (size_t)w >= n) {
            rc = atv_err_set(err, ATV_E_INTERNAL, "http: authorization header formatting");
            goto out;
        }
        next = curl_slist_append(list, line);
        if (next == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
            goto out;
        }
        list = next;
    }
    *out = list;
    list = NULL;
out:
    if (line != NULL) {
        memset(line, 0, strlen(line));
        free(line);
    }
    curl_slist_free_all(list);
    return rc;
}

/* Failures a retry could change: the host did not answer, refused, reset
 * or cut the connection, or the deadline came first. A certificate that
 * does not verify, a URL libcurl refuses or a protocol error are definite. */
static int transport_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_AGAIN:
        return 1;
    default:
        return 0;
    }
}

/* One request to one URL, no redirect following. Fills resp->status. */
static enum atv_status hop_perform(struct atv_http *h, const struct atv_http_req *req,
                                   const char *url, const struct url_parts *p,
                                   const char *protocols, int send_auth, struct xfer *x,
                                   struct atv_err *err)
{
    enum atv_status rc = ATV_OK;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    char detail[160];
    long code = 0;
    long os_errno = 0;
    CURLcode cc;
    uint32_t left = atv_http_remaining_ms(h);

    if (left == 0) {
        rc = atv_err_setr(err, ATV_E_IO, "timeout", "%s %s: session deadline of %u ms passed",
                          req->method, p->origin, (unsigned int)h->timeout_ms);
        atv_err_transient(err);
        return rc;
    }
    rc = hop_headers(req, send_auth, &hdrs, err);
    if (rc != ATV_OK) {
        goto out;
    }
    errbuf[0] = '\0';
    curl_easy_reset(h->curl); /* keeps live connections and the DNS cache */
    cc = hop_setopts(h, req, url, protocols, hdrs, x, errbuf, left);
    if (cc != CURLE_OK) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "%s %s: libcurl refused an option: %s", req->method,
                         p->origin, curl_easy_strerror(cc));
        goto out;
    }
    cc = curl_easy_perform(h->curl);
    if (x->nomem) {
        rc = atv_err_set(err, ATV_E_NOMEM, "%s %s: out of memory for the body", req->method,
                         p->origin);
        goto out;
    }
    if (x->over || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = atv_err_set(err, ATV_E_LIMIT, "%s %s: body over the cap of %zu bytes", req->method,
                         p->origin, req->max_body);
        goto out;
    }
    if (cc != CURLE_OK) {
        if (curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK) {
            os_errno = 0;
        }
        curl_detail(cc, errbuf, detail, sizeof detail);
        /* named here, where libcurl says so: its timer may fire a moment
         * before our own clock reads the deadline as passed */
        rc = atv_err_setr(err, ATV_E_IO, cc == CURLE_OPERATION_TIMEDOUT ? "timeout" : NULL,
                          "%s %s: %s (%s)", req->method, p->origin, curl_phrase(cc, os_errno),
                          detail);
        if (transport_transient(cc)) {
            atv_err_transient(err);
        }
        goto out;
    }
    if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 100 ||
        code > 999) {
        rc = atv_err_set(err, ATV_E_IO, "%s %s: no HTTP status", req->method, p->origin);
        goto out;
    }
    x->resp->status = code;
out:
    /* Drop the pointers to our stack and to hdrs before they go away; the
     * connection cache survives the reset. */
    curl_easy_reset(h->curl);
    curl_slist_free_all(hdrs);
    return rc;
}

static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void resp_init(struct atv_http_resp *resp, size_t max_body)
{
    memset(resp, 0, sizeof *resp);
    atv_buf_init(&resp->body, max_body);
}

static enum atv_status req_check(const struct atv_http *h, const struct atv_http_req *req,
                                 struct atv_err *err)
{
    if (h == NULL || req == NULL || req->url == NULL || req->method == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_do: NULL session, request, url or method");
    }
    int post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 && !post) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_do: method must be GET, HEAD or POST");
    }
    if (!post && (req->body != NULL || req->body_len != 0 || req->content_type != NULL)) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_do: a body is for POST only");
    }
    if (post) {
        if (req->content_type == NULL || req->content_type[0] == '\0' ||
            has_crlf(req->content_type)) {
            return atv_err_set(err, ATV_E_USAGE,
                               "atv_http_do: POST needs a content type without line breaks");
        }
        if (req->body == NULL && req->body_len != 0) {
            return atv_err_set(err, ATV_E_USAGE, "atv_http_do: body is NULL, body_len is not 0");
        }
        if (req->body_len > ATV_HTTP_MAX_REQ_BODY) {
            return atv_err_set(err, ATV_E_LIMIT,
                               "http: request body of %zu bytes over the cap of %u",
                               req->body_len, (unsigned int)ATV_HTTP_MAX_REQ_BODY);
        }
    }
    if (req->authorization != NULL && has_crlf(req->authorization)) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_do: authorization holds a line break");
    }
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        const char *hd = req->headers[i];
        if (has_crlf(hd) || strchr(hd, ':') == NULL) {
            return atv_err_set(err, ATV_E_USAGE, "atv_http_do: header %zu is malformed", i);
        }
        if (strncasecmp(hd, "authorization:", 14) == 0 ||
            strncasecmp(hd, "proxy-authorization:", 20) == 0 ||
            strncasecmp(hd, "cookie:", 7) == 0) {
            return atv_err_set(err, ATV_E_USAGE,
                               "atv_http_do: credentials go in req->authorization, not headers");
        }
    }
    if (strlen(req->url) >= ATV_MAX_URL) {
        return atv_err_set(err, ATV_E_LIMIT, "http: url of %zu bytes over the cap of %u",
                           strlen(req->url), (unsigned int)ATV_MAX_URL - 1u);
    }
    return ATV_OK;
}

/* Sets cur to the URL libcurl will use and copies it into resp->final_url. */
static enum atv_status url_current(CURLU *cur, struct atv_http_resp *resp, struct atv_err *err)
{
    if (url_part(cur, CURLUPART_URL, 0, resp->final_url, sizeof resp->final_url) != 0) {
        return atv_err_set(err, ATV_E_LIMIT, "http: url over the cap of %zu bytes",
                           sizeof resp->final_url - 1);
    }
    return ATV_OK;
}

enum atv_status atv_http_do(struct atv_http *h, const struct atv_http_req *req,
                            struct atv_http_resp *resp, struct atv_err *err)
{
    enum atv_status rc = ATV_OK;
    CURLU *cur = NULL;
    struct url_parts *first = NULL;
    struct url_parts *hop = NULL;
    struct xfer *x = NULL;
    const char *protocols = "https";
    int send_auth;
    unsigned int redirects = 0;

    if (resp == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_http_do: resp is NULL");
    }
    resp_init(resp, req != NULL ? req->max_body : 0);
    rc = req_check(h, req, err);
    if (rc != ATV_OK) {
        goto out;
    }
    cur = curl_url();
    first = calloc(1, sizeof *first);
    hop = calloc(1, sizeof *hop);
    x = calloc(1, sizeof *x);
    if (cur == NULL || first == NULL || hop == NULL || x == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "http: out of memory");
        goto out;
    }
    x->resp = resp;
    if (curl_url_set(cur, CURLUPART_URL, req->url, 0) != CURLUE_OK) {
        rc = atv_err_set(err, ATV_E_PARSE, "%s: url does not parse", req->method);
        goto out;
    }
    rc = url_split(cur, first, err);
    if (rc != ATV_OK) {
        goto out;
    }
    send_auth = req->authorization != NULL;
    for (;;) {
        rc = url_current(cur, resp, err);
        if (rc == ATV_OK) {
            rc = url_split(cur, hop, err);
        }
        if (rc == ATV_OK) {
            rc = hop_allowed(h, req->method, hop, &protocols, err);
        }
        if (rc != ATV_OK) {
            goto out;
        }
        if (!same_origin(first, hop)) {
            send_auth = 0; /* dropped for good once the chain leaves the origin */
        }
        rc = hop_perform(h, req, resp->final_url, hop, protocols, send_auth, x, err);
        if (rc != ATV_OK) {
            goto out;
        }
        /* A POST is never re-sent elsewhere (http.h): its 3xx is the answer. */
        if (!req->follow_redirects || strcmp(req->method, "POST") == 0 ||
            !is_redirect(resp->status) || x->location[0] == '\0') {
            break;
        }
        if (redirects == ATV_MAX_REDIRECTS) {
            rc = atv_err_set(err, ATV_E_IO, "%s %s: too many redirects (more than %d)", req->method,
                             hop->origin, ATV_MAX_REDIRECTS);
            goto out;
        }
        redirects++;
        /* RFC 9110 section 10.2.2: Location may be relative to the request URL. */
        if (curl_url_set(cur, CURLUPART_URL, x->location, 0) != CURLUE_OK) {
            rc = atv_err_set(err, ATV_E_IO, "%s %s: redirect Location does not parse", req->method,
                             hop->origin);
            goto out;
        }
        /* The redirect's own body is not the answer. */
        atv_buf_cleanup(&resp->body);
        resp->status = 0;
    }
out:
    if (rc != ATV_OK) {
        atv_http_resp_cleanup(resp);
        resp_init(resp, req != NULL ? req->max_body : 0);
    }
    curl_url_cleanup(cur);
    free(first);
    free(hop);
    free(x);
    return rc;
}

void atv_http_resp_cleanup(struct atv_http_resp *resp)
{
    if (resp == NULL) {
        return;
    }
    atv_buf_cleanup(&resp->body);
    resp->status = 0;
    resp->content_type[0] = '\0';
    resp->content_digest[0] = '\0';
    resp->www_authenticate[0] = '\0';
    resp->final_url[0] = '\0';
    resp->link[0] = '\0';
    resp->link_dropped = 0;
}

/* ---- fetcher -------------------------------------------------------------------- */

static enum atv_status fetch_get(void *ctx, const char *url, size_t max, long *status,
                                 struct atv_buf *out, struct atv_err *err)
{
    struct atv_http *h = ctx;
    struct atv_http_req req;
    struct atv_http_resp resp;
    enum atv_status rc;

    if (status != NULL) {
        *status = 0;
    }
    if (status == NULL || out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "fetcher get: NULL status or out");
    }
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.url = url;
    req.max_body = max;
    req.follow_redirects = 1;
    rc = atv_http_do(h, &req, &resp, err);
    if (rc == ATV_OK) {
        rc = atv_buf_append(out, resp.body.ptr, resp.body.len, err);
    }
    if (rc == ATV_OK) {
        *status = resp.status;
    }
    atv_http_resp_cleanup(&resp);
    return rc;
}

/* Letters, digits, '-', '_' (service labels such as _atproto), dots between
 * labels of 1..63 characters; at most 253 characters plus a trailing dot. */
static enum atv_status dns_name_check(const char *name, struct atv_err *err)
{
    size_t n = strlen(name);
    size_t label = 0;

    if (n == 0 || n > DNS_NAME_MAX || (n == DNS_NAME_MAX && name[n - 1] != '.')) {
        return atv_err_set(err, ATV_E_PARSE, "dns txt: name of %zu characters (want 1..253)", n);
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.') {
            if (label == 0) {
                return atv_err_set(err, ATV_E_PARSE, "dns txt: empty label at offset %zu", i);
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return atv_err_set(err, ATV_E_PARSE, "dns txt: bad character at offset %zu", i);
        }
        label++;
        if (label > 63) {
            return atv_err_set(err, ATV_E_PARSE, "dns txt: label over 63 characters");
        }
    }
    return ATV_OK;
}

/* RFC 6761 section 6.4: resolver libraries SHOULD answer names under
 * "invalid." negatively at once, without asking any server. */
static int dns_name_is_invalid_tld(const char *name)
{
    size_t n = strlen(name);
    static const char tld[] = "invalid";
    size_t t = sizeof tld - 1;

    if (n > 0 && name[n - 1] == '.') {
        n--;
    }
    if (n < t || strncasecmp(name + (n - t), tld, t) != 0) {
        return 0;
    }
    return n == t || name[n - t - 1] == '.';
}

/* Walks the answer section: each IN TXT record's character-strings joined,
 * records separated by '\n' (RFC 1035 section 3.3.14: TXT RDATA is one or
 * more <character-string>s, each a length octet and that many octets). A
 * string holding '\n' or NUL would make the joined form ambiguous: rejected. */
static enum atv_status dns_txt_walk(const unsigned char *ans, int len, const char *name,
                                    struct atv_buf *out, struct atv_err *err)
{
    ns_msg msg;
    ns_rr rr;
    int found = 0;
    enum atv_status rc = ATV_OK;

    /* libresolv's ns_initparse/ns_parserr bound every name, record and RDATA
     * by the message's end, so a truncated or lying packet fails here */
    if (ns_initparse(ans, len, &msg) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "dns txt %s: malformed answer", name);
    }
    int count = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < count; i++) {
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) {
            return atv_err_set(err, ATV_E_PARSE, "dns txt %s: malformed answer record %d", name, i);
        }
        if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in) {
            continue; /* a CNAME on the way to the TXT records */
        }
        struct atv_bytes rd = {ns_rr_rdata(rr), ns_rr_rdlen(rr)};
        struct atv_reader r;
        atv_rd_init(&r, rd);
        if (found > 0) {
            rc = atv_buf_push(out, '\n', err);
            if (rc != ATV_OK) {
                return rc;
            }
        }
        found++;
        while (!atv_rd_eof(&r)) {
            uint8_t slen;
            struct atv_bytes s;
            rc = atv_rd_u8(&r, &slen, err);
            if (rc == ATV_OK) {
                rc = atv_rd_take(&r, slen, &s, err);
            }
            if (rc != ATV_OK) {
                atv_err_prefix(err, "dns txt %s: malformed TXT record", name);
                return rc;
            }
            if (s.len > 0 &&
                (memchr(s.ptr, '\n', s.len) != NULL || memchr(s.ptr, 0, s.len) != NULL)) {
                return atv_err_set(err, ATV_E_PARSE, "dns txt %s: record holds a newline or NUL",
                                   name);
            }
            rc = atv_buf_append(out, s.ptr, s.len, err);
            if (rc != ATV_OK) {
                return rc;
            }
        }
    }
    if (found == 0) {
        return atv_err_set(err, ATV_E_NOT_FOUND, "dns txt %s: no TXT records", name);
    }
    return ATV_OK;
}

enum atv_status atv_http_dns_txt_parse(const unsigned char *ans, size_t len, const char *name,
                                       struct atv_buf *out, struct atv_err *err)
{
    if (ans == NULL || name == NULL || out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "dns txt parse: NULL answer, name or out");
    }
    if (len > DNS_ANSWER_MAX) {
        return atv_err_set(err, ATV_E_PARSE, "dns txt %s: answer of %zu bytes (at most %d)", name,
                           len, DNS_ANSWER_MAX);
    }
    size_t start = out->len;
    enum atv_status rc = dns_txt_walk(ans, (int)len, name, out, err);
    if (rc != ATV_OK) {
        out->len = start; /* nothing partial is left behind */
    }
    return rc;
}

/* ---- DNS TXT: a lookup that cannot outlive its deadline ---------------------------
 *
 * res_nquery cannot be cancelled, and the resolver's own timeout (RES_TIMEOUT)
 * counts whole seconds, per server, per attempt: against a DNS server that
 * swallows queries a lookup takes seconds past any deadline under one second.
 * So the query runs on a thread of its own, and the caller waits on a
 * condition variable (CLOCK_MONOTONIC) until the session's deadline at most.
 * On timeout the caller leaves; the thread finishes later (libresolv gives up
 * after retrans seconds per server, set from the budget below) or dies with
 * the process. The job the two share holds copies of everything the thread
 * reads or writes (the name, the answer buffer, the nameserver), never a
 * pointer into the session or the caller's stack, and is freed by whichever
 * side lets go last. */

struct dns_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* 2 while both the caller and the thread hold the job; under mu */
    int done; /* the thread has filled n, h_errno_, init_failed; under mu */
    char name[DNS_NAME_MAX + 1];
    uint32_t secs; /* the budget in whole seconds */
    int has_ns;
    struct sockaddr_in ns;
    int n; /* res_nquery's result */
    int h_errno_;
    int init_failed;
    unsigned char ans[DNS_ANSWER_MAX];
};

/* Lookup threads that have not yet returned (the job freed). */
static atomic_int dns_inflight;

unsigned int atv_http_dns_inflight(void)
{
    int n = atomic_load(&dns_inflight);
    return n > 0 ? (unsigned int)n : 0u;
}

/* Drops one reference; the side that drops the last frees the job. */
static void dns_job_release(struct dns_job *j)
{
    int last;
    (void)pthread_mutex_lock(&j->mu);
    j->refs--;
    last = j->refs == 0;
    (void)pthread_mutex_unlock(&j->mu);
    if (last) {
        (void)pthread_cond_destroy(&j->cv);
        (void)pthread_mutex_destroy(&j->mu);
        free(j);
    }
}

static void *dns_job_run(void *arg)
{
    struct dns_job *j = arg;
    struct __res_state st;
    int n = -1;
    int herr = NETDB_INTERNAL;
    int init_failed = 0;

    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) {
        init_failed = 1;
    } else {
        if (j->has_ns) {
            /* the unit tests' loopback nameserver (http_internal.h);
             * glibc notices the changed list and uses it as given */
            st.nsaddr_list[0] = j->ns;
            st.nscount = 1;
        }
        /* one try per server, and about the budget split over the servers:
         * an abandoned thread stops asking soon after its caller left.
         * libresolv counts whole seconds (at least 1); at most 30. */
        uint32_t servers = st.nscount > 0 ? (uint32_t)st.nscount : 1u;
        uint32_t secs = j->secs / servers;
        st.retry = 1;
        st.retrans = secs > 0 ? (secs > 30u ? 30 : (int)secs) : 1;
        n = res_nquery(&st, j->name, ns_c_in, ns_t_txt, j->ans, DNS_ANSWER_MAX);
        herr = st.res_h_errno;
        res_nclose(&st);
    }
    (void)pthread_mutex_lock(&j->mu);
    j->n = n;
    j->h_errno_ = herr;
    j->init_failed = init_failed;
    j->done = 1;
    (void)pthread_cond_signal(&j->cv);
    (void)pthread_mutex_unlock(&j->mu);
    dns_job_release(j);
    /* last, after the free: once the count reads 0 no job memory is left */
    (void)atomic_fetch_sub(&dns_inflight, 1);
    return NULL;
}

static struct dns_job *dns_job_new(const char *name, uint32_t left, const struct atv_http *h)
{
    struct dns_job *j = calloc(1, sizeof *j);
    pthread_condattr_t ca;
    size_t n = strlen(name);

    if (j == NULL || n >= sizeof j->name) {
        free(j);
        return NULL;
    }
    if (pthread_condattr_init(&ca) != 0) {
        free(j);
        return NULL;
    }
    /* timedwait's absolute time is read on CLOCK_MONOTONIC, like the
     * session deadline: a wall-clock step neither shortens nor stretches it */
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&j->cv, &ca) != 0) {
        (void)pthread_condattr_destroy(&ca);
        free(j);
        return NULL;
    }
    (void)pthread_condattr_destroy(&ca);
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        (void)pthread_cond_destroy(&j->cv);
        free(j);
        return NULL;
    }
    memcpy(j->name, name, n + 1); /* n < sizeof j->name checked above */
    j->refs = 2;
    j->secs = left / 1000u;
    j->has_ns = h->has_test_ns;
    j->ns = h->test_ns;
    return j;
}

/* Starts j's thread with every signal blocked, so that the plugin's SIGALRM
 * watchdog and a server's signals are delivered to the threads that handle
 * them, never to a resolver. Returns 0, or an errno value. */
static int dns_job_start(struct dns_job *j, pthread_t *tid)
{
    sigset_t all;
    sigset_t old;
    pthread_attr_t attr;
    int e;

    (void)sigfillset(&all);
    e = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (e != 0) {
        return e;
    }
    e = pthread_attr_init(&attr);
    if (e == 0) {
        e = pthread_create(tid, &attr, dns_job_run, j);
        (void)pthread_attr_destroy(&attr);
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

/* Runs the query and waits until left_ms have passed at most. Returns
 * ATV_OK with *n and *herr filled (ans holds *n bytes when *n >= 0), or
 * ATV_E_IO (reason "timeout") when the deadline came first. */
static enum atv_status dns_query(const struct atv_http *h, const char *name, uint32_t left_ms,
                                 unsigned char *ans, int *n, int *herr, struct atv_err *err)
{
    struct dns_job *j = NULL;
    pthread_t tid;
    struct timespec abs;
    enum atv_status rc = ATV_OK;
    int done = 0;
    int init_failed = 0;
    int e;

    *n = -1;
    *herr = NETDB_INTERNAL;
    if (atomic_fetch_add(&dns_inflight, 1) >= DNS_MAX_INFLIGHT) {
        (void)atomic_fetch_sub(&dns_inflight, 1);
        return atv_err_set(err, ATV_E_IO,
                           "dns txt %s: %d earlier lookups still unanswered; not asking again",
                           name, DNS_MAX_INFLIGHT);
    }
    j = dns_job_new(name, left_ms, h);
    if (j == NULL) {
        (void)atomic_fetch_sub(&dns_inflight, 1);
        return atv_err_set(err, ATV_E_NOMEM, "dns txt: out of memory");
    }
    e = dns_job_start(j, &tid);
    if (e != 0) {
        (void)atomic_fetch_sub(&dns_inflight, 1);
        (void)pthread_cond_destroy(&j->cv);
        (void)pthread_mutex_destroy(&j->mu);
        free(j);
        return atv_err_set(err, ATV_E_IO, "dns txt %s: cannot start the lookup (%s)", name,
                           strerror(e));
    }
    if (clock_gettime(CLOCK_MONOTONIC, &abs) != 0) {
        abs.tv_sec = 0; /* the wait below then times out at once: fail closed */
        abs.tv_nsec = 0;
    } else {
        abs.tv_sec += (time_t)(left_ms / 1000u);
        abs.tv_nsec += (long)(left_ms % 1000u) * 1000000L;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
    }
    (void)pthread_mutex_lock(&j->mu);
    while (!j->done) {
        if (pthread_cond_timedwait(&j->cv, &j->mu, &abs) == ETIMEDOUT) {
            break;
        }
    }
    done = j->done;
    if (done) {
        *n = j->n;
        *herr = j->h_errno_;
        init_failed = j->init_failed;
        if (j->n > 0 && j->n <= DNS_ANSWER_MAX) {
            memcpy(ans, j->ans, (size_t)j->n); /* n <= DNS_ANSWER_MAX, the size of ans */
        }
    }
    (void)pthread_mutex_unlock(&j->mu);
    if (done) {
        /* it has only its release and return left: a short join, and no
         * thread outlives a lookup that answered */
        (void)pthread_join(tid, NULL);
    } else {
        (void)pthread_detach(tid);
        rc = atv_err_setr(err, ATV_E_IO, "timeout", "dns txt %s: no answer within %u ms", name,
                          (unsigned int)left_ms);
    }
    dns_job_release(j);
    if (rc == ATV_OK && init_failed) {
        rc = atv_err_set(err, ATV_E_IO, "dns txt %s: resolver initialisation failed", name);
    }
    return rc;
}

/* The lookup is bounded by the session deadline: dns_query waits that long
 * at most, whatever libresolv does. */
static enum atv_status fetch_txt(void *ctx, const char *name, struct atv_buf *out,
                                 struct atv_err *err)
{
    struct atv_http *h = ctx;
    unsigned char *ans = NULL;
    enum atv_status rc = ATV_OK;
    size_t start = out != NULL ? out->len : 0;
    int n = -1;
    int herr = 0;

    if (h == NULL || name == NULL || out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "fetcher txt: NULL session, name or out");
    }
    rc = dns_name_check(name, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (dns_name_is_invalid_tld(name)) {
        rc = atv_err_set(err, ATV_E_NOT_FOUND, "dns txt %s: the invalid TLD never resolves", name);
        goto out;
    }
    uint32_t left = atv_http_remaining_ms(h);
    if (left == 0) {
        rc = atv_err_setr(err, ATV_E_IO, "timeout", "dns txt %s: session deadline of %u ms passed",
                          name, (unsigned int)h->timeout_ms);
        goto out;
    }
    ans = malloc(DNS_ANSWER_MAX);
    if (ans == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "dns txt: out of memory");
        goto out;
    }
    rc = dns_query(h, name, left, ans, &n, &herr, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (n < 0) {
        switch (herr) {
        case HOST_NOT_FOUND: /* NXDOMAIN */
        case NO_DATA:        /* the name exists, without TXT records */
            rc = atv_err_set(err, ATV_E_NOT_FOUND, "dns txt %s: no such name or no TXT records",
                             name);
            break;
        case TRY_AGAIN:
            rc = atv_err_set(err, ATV_E_IO,
                             "dns txt %s: no answer in time (server failure or "
                             "timeout)",
                             name);
            break;
        default:
            rc = atv_err_set(err, ATV_E_IO, "dns txt %s: lookup failed", name);
            break;
        }
        goto out;
    }
    if (n > DNS_ANSWER_MAX) {
        rc = atv_err_set(err, ATV_E_IO, "dns txt %s: answer of %d bytes truncated", name, n);
        goto out;
    }
    rc = atv_http_dns_txt_parse(ans, (size_t)n, name, out, err);
out:
    if (rc != ATV_OK && out != NULL && out->len > start) {
        out->len = start; /* nothing partial is left behind */
    }
    free(ans);
    return rc;
}

struct atv_fetcher atv_http_fetcher(struct atv_http *h)
{
    struct atv_fetcher f = {fetch_get, fetch_txt, h};
    return f;
}

enum atv_status atv_http_global_hold(struct atv_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return atv_err_set(err, ATV_E_INTERNAL, "http: libcurl global init failed");
    }
    return ATV_OK;
}

void atv_http_global_release(void)
{
    curl_global_cleanup();
}
