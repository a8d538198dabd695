/* server/server.c: the listeners, TLS, the request handlers and shutdown.
 *
 * libevent 2.1's evhttp parses HTTP (we write no HTTP parser); TLS is
 * OpenSSL through bufferevent_openssl, TLS 1.2 at least, 1.3 offered. One
 * thread runs the event loop and owns every libevent object; verifications
 * run on the pool (pool.c) and come back through its pipe.
 *
 * /verify answers:  200 allowed, 403 refused, 400 a bad reference (the
 * verdict's BAD_REQUEST) or a malformed request, 503 a transient failure
 * (the verdict's transient, a full queue, a deadline passed in the queue),
 * 413 a body over ATV_SRV_MAX_VERIFY_BODY (evhttp checks Content-Length
 * before reading), 415 a Content-Type other than application/json (none at
 * all is accepted), 404 any other path, 405 any other method. A verdict is
 * the JSON of atv_vfy_image_json; any other answer is {"error": MESSAGE}. */
#include "server/server_internal.h"

#include "common/http.h"

/* before event2/keyvalq_struct.h, which then uses its TAILQ */
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

enum phase { PH_SERVING = 0, PH_LAME_DUCK, PH_DRAINING };

struct atv_srv {
    struct atv_srv_config cfg;
    struct event_base *base;
    SSL_CTX *ssl;
    struct evhttp *https;
    struct evhttp *health;
    struct evhttp_bound_socket *https_sock;
    struct evhttp_bound_socket *health_sock;
    uint16_t port, health_port;
    struct event *ev_term, *ev_int, *ev_wake, *ev_lame, *ev_drain;
    struct atv_policy *policy;
    struct srv_pool *pool;
    struct srv_metrics m;
    enum phase phase;
    uint64_t drain_deadline_ms;
    int curl_held;
    int loop_failed;
};

/* ---- configuration ----------------------------------------------------------------- */

void atv_srv_config_init(struct atv_srv_config *c)
{
    memset(c, 0, sizeof *c);
    c->workers = ATV_SRV_DEFAULT_WORKERS;
    c->lame_duck_ms = ATV_SRV_DEFAULT_LAME_DUCK_MS;
}

enum atv_status atv_srv_addr_parse(const char *s, struct atv_srv_addr *out, struct atv_err *err)
{
    const char *colon, *host, *p;
    size_t hlen;
    unsigned long port = 0;

    memset(out, 0, sizeof *out);
    if (s == NULL) {
        return atv_err_set(err, ATV_E_PARSE, "address: missing");
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            return atv_err_set(err, ATV_E_PARSE, "address: want [IPV6]:PORT");
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            return atv_err_set(err, ATV_E_PARSE, "address: want ADDR:PORT");
        }
        host = s;
        hlen = (size_t)(colon - s);
        if (memchr(host, ':', hlen) != NULL) {
            return atv_err_set(err, ATV_E_PARSE, "address: an IPv6 address goes in brackets");
        }
    }
    if (hlen > ATV_SRV_MAX_HOST) {
        return atv_err_set(err, ATV_E_PARSE, "address: host over %u bytes", ATV_SRV_MAX_HOST);
    }
    p = colon + 1;
    if (*p == '\0' || strlen(p) > 5) {
        return atv_err_set(err, ATV_E_PARSE, "address: PORT is 0..65535");
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return atv_err_set(err, ATV_E_PARSE, "address: PORT is 0..65535");
        }
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535) {
        return atv_err_set(err, ATV_E_PARSE, "address: PORT is 0..65535, got %lu", port);
    }
    /* hlen <= ATV_SRV_MAX_HOST < sizeof out->host */
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (uint16_t)port;
    return ATV_OK;
}

/* ---- replies ------------------------------------------------------------------------ */

static enum srv_path path_of(const char *path)
{
    if (path == NULL) {
        return SRV_P_OTHER;
    }
    if (strcmp(path, "/verify") == 0) {
        return SRV_P_VERIFY;
    }
    if (strcmp(path, "/healthz") == 0) {
        return SRV_P_HEALTHZ;
    }
    if (strcmp(path, "/readyz") == 0) {
        return SRV_P_READYZ;
    }
    if (strcmp(path, "/metrics") == 0) {
        return SRV_P_METRICS;
    }
    return SRV_P_OTHER;
}

static const char *reason_phrase(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* Sends body (may be NULL: empty) with content_type, counts it. */
static void reply(struct atv_srv *s, struct evhttp_request *req, enum srv_path path, int code,
                  const char *content_type, const char *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();

    (void)evhttp_add_header(h, "Content-Type", content_type);
    (void)evhttp_add_header(h, "Cache-Control", "no-store");
    (void)evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (s->phase != PH_SERVING) {
        /* shutting down: let clients move to another replica */
        (void)evhttp_add_header(h, "Connection", "close");
    }
    if (b != NULL && body != NULL) {
        (void)evbuffer_add(b, body, strlen(body));
    }
    srv_metrics_request(&s->m, path, code);
    evhttp_send_reply(req, code, reason_phrase(code), b);
    evbuffer_free(b);
}

static void reply_error(struct atv_srv *s, struct evhttp_request *req, enum srv_path path,
                        int code, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    reply(s, req, path, code, "application/json", text != NULL ? text : "{}");
    free(text);
    json_decref(o);
}

/* ---- /verify -------------------------------------------------------------------------- */

/* The HTTP status of a verdict: the verdict decides, this only translates. */
static int verdict_status(const struct atv_vfy_image *v)
{
    if (v->allowed) {
        return 200;
    }
    if (v->transient) {
        return 503;
    }
    if (v->reason == ATV_VFY_BAD_REQUEST) {
        return 400;
    }
    return 403;
}

/* application/json, with parameters (charset) allowed; none at all too
 * (Kyverno's apiCall and curl -d send various). 1 when acceptable. */
static int json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof want - 1;
    if (ct == NULL) {
        return 1;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (strlen(ct) < n || strncasecmp(ct, want, n) != 0) {
        return 0;
    }
    ct += n;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

/* Copies a well-formed image reference argument into image; 0 with msg set
 * when it is missing, empty, too long or holds control bytes. */
static int take_image(const char *in, size_t len, char image[ATV_SRV_MAX_IMAGE + 1], char *msg,
                      size_t msg_cap)
{
    size_t i;
    if (in == NULL || len == 0) {
        (void)snprintf(msg, msg_cap, "image: missing");
        return 0;
    }
    if (len > ATV_SRV_MAX_IMAGE) {
        (void)snprintf(msg, msg_cap, "image: %zu bytes, at most %u", len, ATV_SRV_MAX_IMAGE);
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c >= 0x7f) {
            (void)snprintf(msg, msg_cap, "image: byte %zu is not printable ASCII", i);
            return 0;
        }
    }
    memcpy(image, in, len);
    image[len] = '\0';
    return 1;
}

/* GET /verify?image=REF: exactly one image parameter, nothing else. */
static int image_from_query(struct evhttp_request *req, char image[ATV_SRV_MAX_IMAGE + 1],
                            char *msg, size_t msg_cap)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq params;
    struct evkeyval *kv;
    const char *val = NULL;
    int ok = 0, n = 0;

    TAILQ_INIT(&params);
    if (q == NULL) {
        (void)snprintf(msg, msg_cap, "image: missing (GET /verify?image=REF)");
        return 0;
    }
    if (evhttp_parse_query_str(q, &params) != 0) {
        (void)snprintf(msg, msg_cap, "query: malformed");
        goto out;
    }
    TAILQ_FOREACH(kv, &params, next)
    {
        if (strcmp(kv->key, "image") != 0) {
            (void)snprintf(msg, msg_cap, "query: unknown parameter (only image)");
            goto out;
        }
        val = kv->value;
        n++;
    }
    if (n > 1) {
        (void)snprintf(msg, msg_cap, "query: image given %d times", n);
        goto out;
    }
    ok = take_image(val, val != NULL ? strlen(val) : 0, image, msg, msg_cap);
out:
    evhttp_clear_headers(&params);
    return ok;
}

/* POST /verify {"image": REF}: an object with exactly that string member.
 * Returns 0 (answered: *code and msg) or 1. */
static int image_from_body(struct evhttp_request *req, char image[ATV_SRV_MAX_IMAGE + 1],
                           int *code, char *msg, size_t msg_cap)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    json_t *root = NULL, *v;
    json_error_t jerr;
    const char *key;
    int ok = 0;

    *code = 400;
    if (!json_content_type(evhttp_find_header(in, "Content-Type"))) {
        *code = 415;
        (void)snprintf(msg, msg_cap, "Content-Type: want application/json");
        return 0;
    }
    if (len > ATV_SRV_MAX_VERIFY_BODY) {
        /* evhttp's max body size stops this first; kept for a chunked body */
        *code = 413;
        (void)snprintf(msg, msg_cap, "body: %zu bytes, at most %u", len, ATV_SRV_MAX_VERIFY_BODY);
        return 0;
    }
    {
        const unsigned char *p = evbuffer_pullup(body, -1);
        root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (root == NULL) {
        (void)snprintf(msg, msg_cap, "body: not JSON (line %d column %d)", jerr.line,
                       jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        (void)snprintf(msg, msg_cap, "body: want an object {\"image\": REF}");
        goto out;
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "image") != 0) {
            (void)snprintf(msg, msg_cap, "body: unknown member (only image)");
            goto out;
        }
    }
    v = json_object_get(root, "image");
    if (v == NULL || !json_is_string(v)) {
        (void)snprintf(msg, msg_cap, "body: image: want a string");
        goto out;
    }
    ok = take_image(json_string_value(v), json_string_length(v), image, msg, msg_cap);
out:
    json_decref(root);
    return ok;
}

static void handle_verify(struct atv_srv *s, struct evhttp_request *req)
{
    struct srv_job *j = NULL;
    char msg[160];
    int code = 400, ok;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);

    msg[0] = '\0';
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
        reply_error(s, req, SRV_P_VERIFY, 405, "method: GET or POST");
        return;
    }
    j = srv_job_new();
    if (j == NULL) {
        reply_error(s, req, SRV_P_VERIFY, 503, "out of memory");
        return;
    }
    ok = method == EVHTTP_REQ_GET ? image_from_query(req, j->image, msg, sizeof msg)
                                  : image_from_body(req, j->image, &code, msg, sizeof msg);
    if (!ok) {
        reply_error(s, req, SRV_P_VERIFY, code, msg);
        srv_job_free(j);
        return;
    }
    j->ctx = req;
    j->now = (int64_t)time(NULL);
    j->start_ms = atv_vfy_clock_ms();
    j->deadline_ms = j->start_ms + s->cfg.params->timeout_ms;
    if (!srv_pool_submit(s->pool, j)) {
        atomic_fetch_add(&s->m.queue_full, 1);
        reply_error(s, req, SRV_P_VERIFY, 503, "busy: the verification queue is full");
        srv_job_free(j);
        return;
    }
    atomic_fetch_add(&s->m.in_flight, 1);
}

/* The loop's side of the pool: answers every finished job. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct atv_srv *s = arg;
    struct srv_job *j = srv_pool_take_done(s->pool);
    (void)fd;
    (void)what;
    while (j != NULL) {
        struct srv_job *next = j->next;
        struct evhttp_request *req = j->ctx;
        if (j->expired) {
            atomic_fetch_add(&s->m.deadline_in_queue, 1);
            reply_error(s, req, SRV_P_VERIFY, 503, "busy: the deadline passed in the queue");
        } else {
            char *text = atv_vfy_image_json(j->verdict, j->image, j->now, 0);
            uint64_t now = atv_vfy_clock_ms();
            srv_metrics_verdict(&s->m, j->verdict, now > j->start_ms ? now - j->start_ms : 0);
            if (text != NULL) {
                reply(s, req, SRV_P_VERIFY, verdict_status(j->verdict), "application/json",
                      text);
            } else {
                reply_error(s, req, SRV_P_VERIFY, 503, "out of memory");
            }
            free(text);
        }
        atomic_fetch_sub(&s->m.in_flight, 1);
        srv_job_free(j);
        j = next;
    }
}

static const char *request_path(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    return uri != NULL ? evhttp_uri_get_path(uri) : NULL;
}

static void on_https(struct evhttp_request *req, void *arg)
{
    struct atv_srv *s = arg;
    const char *path = request_path(req);
    if (path != NULL && strcmp(path, "/verify") == 0) {
        handle_verify(s, req);
        return;
    }
    reply_error(s, req, SRV_P_OTHER, 404, "not found: /verify is served here");
}

/* ---- the health listener ----------------------------------------------------------- */

static void on_health(struct evhttp_request *req, void *arg)
{
    struct atv_srv *s = arg;
    enum srv_path p = path_of(request_path(req));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    int ready = s->phase == PH_SERVING;

    if (p == SRV_P_VERIFY || p == SRV_P_OTHER) {
        reply(s, req, SRV_P_OTHER, 404, "text/plain; charset=utf-8",
              "not found: /healthz, /readyz, /metrics\n");
        return;
    }
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply(s, req, p, 405, "text/plain; charset=utf-8", "method: GET\n");
        return;
    }
    if (p == SRV_P_HEALTHZ) {
        reply(s, req, p, 200, "text/plain; charset=utf-8", "ok\n");
    } else if (p == SRV_P_READYZ) {
        reply(s, req, p, ready ? 200 : 503, "text/plain; charset=utf-8",
              ready ? "ready\n" : "shutting down\n");
    } else {
        char *text = srv_metrics_render(&s->m, ready);
        if (text == NULL) {
            reply(s, req, p, 503, "text/plain; charset=utf-8", "out of memory\n");
            return;
        }
        reply(s, req, p, 200, "text/plain; version=0.0.4; charset=utf-8", text);
        free(text);
    }
}

/* ---- shutdown ------------------------------------------------------------------------- */

static void say(const struct atv_srv *s, const char *fmt, ...) ATV_PRINTF(2, 3);
static void say(const struct atv_srv *s, const char *fmt, ...)
{
    va_list ap;
    if (s->cfg.errs == NULL) {
        return;
    }
    va_start(ap, fmt);
    (void)fputs("atcr-verify serve: ", s->cfg.errs);
    (void)vfprintf(s->cfg.errs, fmt, ap);
    (void)fputc('\n', s->cfg.errs);
    (void)fflush(s->cfg.errs);
    va_end(ap);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct atv_srv *s = arg;
    long n = atomic_load(&s->m.in_flight);
    (void)fd;
    (void)what;
    if (n <= 0 || atv_vfy_clock_ms() >= s->drain_deadline_ms) {
        if (n > 0) {
            say(s, "drain: %ld request%s still in flight after %u ms, stopping", n,
                n == 1 ? "" : "s", ATV_SRV_DRAIN_MS);
        }
        (void)event_base_loopexit(s->base, NULL);
    }
}

static void on_lame_duck_over(evutil_socket_t fd, short what, void *arg)
{
    struct atv_srv *s = arg;
    struct timeval tick = {0, 20 * 1000};
    (void)fd;
    (void)what;
    s->phase = PH_DRAINING;
    if (s->https_sock != NULL) {
        evhttp_del_accept_socket(s->https, s->https_sock);
        s->https_sock = NULL;
    }
    s->drain_deadline_ms = atv_vfy_clock_ms() + ATV_SRV_DRAIN_MS;
    say(s, "draining %ld request%s in flight", (long)atomic_load(&s->m.in_flight),
        atomic_load(&s->m.in_flight) == 1 ? "" : "s");
    if (s->ev_drain == NULL || event_add(s->ev_drain, &tick) != 0) {
        (void)event_base_loopexit(s->base, NULL);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct atv_srv *s = arg;
    struct timeval lame = {(time_t)(s->cfg.lame_duck_ms / 1000u),
                           (suseconds_t)(s->cfg.lame_duck_ms % 1000u) * 1000};
    (void)what;
    if (s->phase != PH_SERVING) {
        return; /* already on the way out */
    }
    s->phase = PH_LAME_DUCK;
    say(s, "%s: not ready; serving %u ms more, then draining", sig == SIGINT ? "SIGINT" : "SIGTERM",
        s->cfg.lame_duck_ms);
    if (s->ev_lame == NULL || event_add(s->ev_lame, &lame) != 0) {
        on_lame_duck_over(-1, 0, s);
    }
}

/* ---- TLS --------------------------------------------------------------------------------- */

static enum atv_status ssl_fail(struct atv_err *err, const char *what, const char *path)
{
    char buf[200];
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
    } else {
        (void)snprintf(buf, sizeof buf, "unknown error");
    }
    ERR_clear_error();
    return atv_err_set(err, ATV_E_USAGE, "%s %.300s: %s", what, path, buf);
}

static enum atv_status tls_new(const struct atv_srv_config *c, SSL_CTX **out, struct atv_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    enum atv_status rc = ATV_OK;

    *out = NULL;
    ERR_clear_error();
    if (ctx == NULL) {
        return ssl_fail(err, "TLS", "context");
    }
    /* TLS 1.2 at least (RFC 8996 deprecates 1.0 and 1.1); 1.3 offered */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        rc = ssl_fail(err, "TLS", "minimum version");
        goto out;
    }
    (void)SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                       SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
        rc = ssl_fail(err, "--tls-cert", c->tls_cert);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1) {
        rc = ssl_fail(err, "--tls-key", c->tls_key);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = ssl_fail(err, "--tls-key", "does not match --tls-cert");
        goto out;
    }
out:
    if (rc != ATV_OK) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return ATV_OK;
}

/* evhttp's per-connection bufferevent: a TLS server side over the new socket. */
static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
    struct atv_srv *s = arg;
    SSL *ssl = SSL_new(s->ssl);
    struct bufferevent *bev;
    if (ssl == NULL) {
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* a client that drops the TCP connection without close_notify is common */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* ---- setup ------------------------------------------------------------------------------- */

static uint16_t bound_port(struct evhttp_bound_socket *b)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(b);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return 0;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

static enum atv_status listen_on(struct evhttp *http, const struct atv_srv_addr *a,
                                 const char *what, struct evhttp_bound_socket **out,
                                 uint16_t *port, struct atv_err *err)
{
    const char *host = a->host[0] != '\0' ? a->host : "0.0.0.0";
    *out = evhttp_bind_socket_with_handle(http, host, a->port);
    if (*out == NULL) {
        return atv_err_set(err, ATV_E_IO, "%s %.255s:%u: cannot bind (%s)", what, host,
                           (unsigned)a->port, strerror(errno));
    }
    *port = bound_port(*out);
    return ATV_OK;
}

static enum atv_status load_policy(const struct atv_vfy_params *p, struct atv_policy **out,
                                   struct atv_err *err)
{
    enum atv_status rc;
    if (p->trust_policy[0] != '\0') {
        if (p->has_trusted) {
            return atv_err_set(err, ATV_E_USAGE, "give --trusted-did or --policy, not both");
        }
        rc = atv_policy_load_file(p->trust_policy, out, err);
    } else {
        rc = atv_policy_from_dids((const char *const *)p->trusted_dids, p->n_trusted, out, err);
    }
    /* the CLI's exit 2: a configuration that cannot be served */
    return rc == ATV_OK || rc == ATV_E_NOMEM ? rc : ATV_E_USAGE;
}

static enum atv_status new_event(struct atv_srv *s, struct event **ev, evutil_socket_t fd,
                                 short what, event_callback_fn cb, struct atv_err *err)
{
    *ev = event_new(s->base, fd, what, cb, s);
    if (*ev == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "server: event_new failed");
    }
    return ATV_OK;
}

enum atv_status atv_srv_new(const struct atv_srv_config *c, struct atv_srv **out,
                            struct atv_err *err)
{
    struct atv_srv *s = NULL;
    struct srv_pool_cfg pc;
    enum atv_status rc;

    *out = NULL;
    if (c == NULL || c->params == NULL || c->store == NULL || c->tls_cert == NULL ||
        c->tls_key == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_srv_new: incomplete configuration");
    }
    if (c->workers == 0 || c->workers > ATV_SRV_MAX_WORKERS) {
        return atv_err_set(err, ATV_E_USAGE, "--workers: 1..%u, got %u", ATV_SRV_MAX_WORKERS,
                           c->workers);
    }
    if (c->lame_duck_ms > ATV_SRV_MAX_LAME_DUCK_MS) {
        return atv_err_set(err, ATV_E_USAGE, "--lame-duck: 0..%u ms", ATV_SRV_MAX_LAME_DUCK_MS);
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "server: out of memory");
    }
    s->cfg = *c;
    srv_metrics_init(&s->m);
    rc = load_policy(c->params, &s->policy, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = tls_new(c, &s->ssl, err);
    if (rc != ATV_OK) {
        goto out;
    }
    /* before any thread: libcurl's global state belongs to this thread */
    rc = atv_http_global_hold(err);
    if (rc != ATV_OK) {
        goto out;
    }
    s->curl_held = 1;
    s->base = event_base_new();
    s->https = s->base != NULL ? evhttp_new(s->base) : NULL;
    s->health = s->base != NULL && c->has_health ? evhttp_new(s->base) : NULL;
    if (s->base == NULL || s->https == NULL || (c->has_health && s->health == NULL)) {
        rc = atv_err_set(err, ATV_E_NOMEM, "server: libevent setup failed");
        goto out;
    }
    evhttp_set_bevcb(s->https, tls_bev, s);
    evhttp_set_gencb(s->https, on_https, s);
    evhttp_set_max_body_size(s->https, ATV_SRV_MAX_VERIFY_BODY);
    evhttp_set_max_headers_size(s->https, ATV_SRV_MAX_HEADERS);
    evhttp_set_timeout(s->https, ATV_SRV_IDLE_TIMEOUT_S);
    /* evhttp answers a method outside this mask with 501; these reach us (405) */
    evhttp_set_allowed_methods(s->https, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
    rc = listen_on(s->https, &c->listen, "--listen", &s->https_sock, &s->port, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (s->health != NULL) {
        evhttp_set_gencb(s->health, on_health, s);
        evhttp_set_max_body_size(s->health, 0);
        evhttp_set_max_headers_size(s->health, ATV_SRV_MAX_HEADERS);
        evhttp_set_timeout(s->health, ATV_SRV_IDLE_TIMEOUT_S);
        evhttp_set_allowed_methods(s->health, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
        rc = listen_on(s->health, &c->health, "--health-listen", &s->health_sock,
                       &s->health_port, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    memset(&pc, 0, sizeof pc);
    pc.workers = c->workers;
    pc.queue_cap = (size_t)c->workers * ATV_SRV_QUEUE_PER_WORKER;
    pc.params = c->params;
    pc.store = c->store;
    pc.policy = s->policy;
    pc.log = c->log;
    rc = srv_pool_new(&pc, &s->pool, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = new_event(s, &s->ev_wake, srv_pool_fd(s->pool), EV_READ | EV_PERSIST, on_wake, err);
    if (rc == ATV_OK) {
        rc = new_event(s, &s->ev_term, SIGTERM, EV_SIGNAL | EV_PERSIST, on_signal, err);
    }
    if (rc == ATV_OK) {
        rc = new_event(s, &s->ev_int, SIGINT, EV_SIGNAL | EV_PERSIST, on_signal, err);
    }
    if (rc == ATV_OK) {
        rc = new_event(s, &s->ev_lame, -1, 0, on_lame_duck_over, err);
    }
    if (rc == ATV_OK) {
        rc = new_event(s, &s->ev_drain, -1, EV_PERSIST, on_drain_tick, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (event_add(s->ev_wake, NULL) != 0 || event_add(s->ev_term, NULL) != 0 ||
        event_add(s->ev_int, NULL) != 0) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "server: event_add failed");
        goto out;
    }
out:
    if (rc != ATV_OK) {
        atv_srv_free(s);
        return rc;
    }
    *out = s;
    return ATV_OK;
}

uint16_t atv_srv_port(const struct atv_srv *s)
{
    return s != NULL ? s->port : 0;
}

uint16_t atv_srv_health_port(const struct atv_srv *s)
{
    return s != NULL && s->health_sock != NULL ? s->health_port : 0;
}

enum atv_status atv_srv_run(struct atv_srv *s, struct atv_err *err)
{
    if (s == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_srv_run: s is NULL");
    }
    (void)signal(SIGPIPE, SIG_IGN);
    /* tests and operators read the ports from this line (port 0: any free one) */
    if (s->health_sock != NULL) {
        say(s, "listening on https://%s:%u, health on http://%s:%u, %u workers",
            s->cfg.listen.host[0] != '\0' ? s->cfg.listen.host : "0.0.0.0", (unsigned)s->port,
            s->cfg.health.host[0] != '\0' ? s->cfg.health.host : "0.0.0.0",
            (unsigned)s->health_port, s->cfg.workers);
    } else {
        say(s, "listening on https://%s:%u, %u workers",
            s->cfg.listen.host[0] != '\0' ? s->cfg.listen.host : "0.0.0.0", (unsigned)s->port,
            s->cfg.workers);
    }
    if (event_base_dispatch(s->base) < 0) {
        return atv_err_set(err, ATV_E_INTERNAL, "server: event loop failed");
    }
    say(s, "stopped");
    return ATV_OK;
}

void atv_srv_free(struct atv_srv *s)
{
    if (s == NULL) {
        return;
    }
    /* workers first: they may still be finishing; their jobs are freed, the
     * requests they name are evhttp's and go with it below */
    srv_pool_free(s->pool);
    if (s->ev_wake != NULL) {
        event_free(s->ev_wake);
    }
    if (s->ev_term != NULL) {
        event_free(s->ev_term);
    }
    if (s->ev_int != NULL) {
        event_free(s->ev_int);
    }
    if (s->ev_lame != NULL) {
        event_free(s->ev_lame);
    }
    if (s->ev_drain != NULL) {
        event_free(s->ev_drain);
    }
    if (s->https != NULL) {
        evhttp_free(s->https);
    }
    if (s->health != NULL) {
        evhttp_free(s->health);
    }
    if (s->base != NULL) {
        event_base_free(s->base);
    }
    SSL_CTX_free(s->ssl);
    atv_policy_free(s->policy);
    if (s->curl_held) {
        atv_http_global_release();
    }
    free(s);
}
