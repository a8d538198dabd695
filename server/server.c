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
 * the JSON of atv_vfy_image_json; any other answer is {"error": MESSAGE}.
 *
 * Concurrent requests for one image (the same normalised reference under the
 * same policy) share one job: the first starts it, the others wait on it
 * (singleflight), so a deploy storm costs the signer's PDS one verification.
 *
 * Connections: at most max_conns open TLS connections (the listener pauses
 * at the cap, so more wait in the kernel's backlog); from accept, and from
 * the first byte of each further request, a whole request must arrive within
 * ATV_SRV_REQUEST_LIMIT_S, else the socket is shut down (slow senders,
 * stalled handshakes); between requests a keep-alive connection may idle for
 * ATV_SRV_IDLE_TIMEOUT_S (evhttp's timeout). */
#include "server/server_internal.h"

#include "common/http.h"
#include "referrer/referrer.h"

/* before event2/keyvalq_struct.h, which then uses its TAILQ */
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum phase { PH_SERVING = 0, PH_LAME_DUCK, PH_DRAINING };

#define TICK_MS 250u              /* the connection sweep and the reload poll's clock */
#define FD_RESERVE_FIXED 64u      /* descriptors kept for files, pipes, listeners, logs */
#define FD_RESERVE_PER_WORKER 3u  /* a verification's registry, PLC and PDS sockets */

/* What a file was when last loaded: a change of any of these is a reload. */
struct fsig {
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim, ctim;
};

/* One TLS connection (SSL ex_data, freed with its SSL). Loop thread only. */
struct srv_conn {
    struct atv_srv *s;
    struct bufferevent *bev;
    struct srv_conn *prev, *next;
    uint64_t deadline_ms; /* the whole-request limit; 0: none running */
    size_t req_bytes;     /* bytes received for the request in progress (s->buffered) */
    int busy;             /* a request of this connection is being answered */
    int cut;              /* shut down by us: evhttp frees it on the next read */
};

struct atv_srv {
    struct atv_srv_config cfg;
    struct event_base *base;
    SSL_CTX *ssl;                   /* for new connections; swapped by a reload */
    struct evhttp *https;
    struct evhttp *health;
    struct evhttp_bound_socket *https_sock;
    struct evhttp_bound_socket *health_sock;
    uint16_t port, health_port;
    struct event *ev_term, *ev_int, *ev_wake, *ev_lame, *ev_drain, *ev_tick;
    struct srv_policy *pol;         /* for new jobs; swapped by a reload */
    uint64_t next_gen;
    struct srv_cache *cache;        /* NULL: --verdict-ttl 0 */
    struct srv_pool *pool;
    struct srv_job *flights;        /* jobs not yet answered, through fnext (loop only) */
    struct srv_metrics m;
    enum phase phase;
    uint64_t drain_deadline_ms;
    uint64_t next_poll_ms;
    struct fsig sig_cert, sig_key, sig_ca, sig_policy;
    struct srv_conn *conns;         /* open TLS connections */
    size_t buffered;                /* bytes of requests in progress, all connections */
    long n_conns;
    unsigned max_conns;
    int listener_paused;
    int closing;                    /* atv_srv_free has begun */
    int curl_held;
};

static int conn_idx = -1; /* SSL ex_data index of struct srv_conn */

/* ---- configuration ----------------------------------------------------------------- */

void atv_srv_config_init(struct atv_srv_config *c)
{
    memset(c, 0, sizeof *c);
    c->workers = ATV_SRV_DEFAULT_WORKERS;
    c->lame_duck_ms = ATV_SRV_DEFAULT_LAME_DUCK_MS;
    c->mutate_timeout_ms = ATV_SRV_DEFAULT_MUTATE_TIMEOUT_MS;
    c->verdict_ttl_s = ATV_SRV_DEFAULT_VERDICT_TTL_S;
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
    if (strcmp(path, "/gatekeeper/verify") == 0) {
        return SRV_P_GK_VERIFY;
    }
    if (strcmp(path, "/gatekeeper/mutate") == 0) {
        return SRV_P_GK_MUTATE;
    }
    if (strcmp(path, "/k8s/validate") == 0 || strcmp(path, "/validate") == 0) {
        return SRV_P_K8S_VALIDATE;
    }
    if (strcmp(path, "/k8s/mutate") == 0) {
        return SRV_P_K8S_MUTATE;
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

/* The connection state of a request on the TLS listener; NULL on the health
 * listener, for a request whose client has gone, or for a connection that
 * is not TLS (evhttp falls back to a plain socket when the TLS setup fails). */
static struct srv_conn *conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl != NULL && conn_idx >= 0 ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

/* Starts the whole-request limit (no-op while one runs or a request is being answered). */
static void conn_arm(struct srv_conn *c)
{
    if (!c->busy && c->deadline_ms == 0) {
        c->deadline_ms = atv_vfy_clock_ms() + (uint64_t)ATV_SRV_REQUEST_LIMIT_S * 1000u;
    }
}

void srv_reply(struct atv_srv *s, struct evhttp_request *req, enum srv_path path, int code,
               const char *content_type, const char *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();
    struct srv_conn *c = conn_of(req);

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
    if (c != NULL) {
        /* the next request's clock starts with its first byte, or now if it
         * already began arriving while this one was answered */
        s->buffered -= c->req_bytes;
        c->req_bytes = 0;
        c->busy = 0;
        c->deadline_ms = 0;
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
            conn_arm(c);
        }
    }
}

static void reply_error(struct atv_srv *s, struct evhttp_request *req, enum srv_path path,
                        int code, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    srv_reply(s, req, path, code, "application/json", text != NULL ? text : "{}");
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

/* ---- jobs: singleflight over the pool ------------------------------------------------- */

static struct srv_policy *policy_ref(struct srv_policy *p)
{
    p->refs++;
    return p;
}

static void policy_unref(struct srv_policy *p)
{
    if (p != NULL && --p->refs == 0) {
        atv_policy_free(p->p);
        free(p);
    }
}

/* The singleflight key: the deadline class, the policy's generation and the
 * reference as normalised for policy scopes (one image, one spelling), its
 * digest or tag kept. A reference that does not parse keys as written (it
 * is refused anyway). */
static void flight_key(const struct atv_srv *s, const char *image, char cls, char key[SRV_KEY_MAX])
{
    struct atv_ref_image img;
    struct atv_err err;
    atv_err_clear(&err);
    if (atv_ref_image_parse(image, s->cfg.store->use_http, &img, &err) == ATV_OK) {
        if (img.digest[0] != '\0') {
            (void)snprintf(key, SRV_KEY_MAX, "%c%llu %s@%s", cls, (unsigned long long)s->pol->gen,
                           img.name, img.digest);
        } else {
            (void)snprintf(key, SRV_KEY_MAX, "%c%llu %s:%s", cls, (unsigned long long)s->pol->gen,
                           img.name, img.tag);
        }
    } else {
        (void)snprintf(key, SRV_KEY_MAX, "%c%llu ?%s", cls, (unsigned long long)s->pol->gen, image);
    }
}

int srv_image_ok(const struct atv_srv *s, const char *image, char *msg, size_t cap)
{
    struct atv_ref_image img;
    struct atv_err err;
    atv_err_clear(&err);
    if (strlen(image) > ATV_SRV_MAX_IMAGE) {
        (void)snprintf(msg, cap, "not an image reference: over %u bytes", ATV_SRV_MAX_IMAGE);
        return 0;
    }
    if (atv_ref_image_parse(image, s->cfg.store->use_http, &img, &err) != ATV_OK) {
        (void)snprintf(msg, cap, "not an image reference: %s", err.msg);
        return 0;
    }
    return 1;
}

int srv_submit(struct atv_srv *s, const char *image, struct srv_wait *w, int64_t now,
               uint64_t start_ms, uint64_t deadline_ms, char cls, size_t extra)
{
    char key[SRV_KEY_MAX];
    struct srv_job *j;

    w->next = NULL;
    if (strlen(image) > ATV_SRV_MAX_IMAGE) {
        return 0;
    }
    flight_key(s, image, cls, key);
    for (j = s->flights; j != NULL; j = j->fnext) {
        if (strcmp(j->key, key) == 0) {
            j->wlast->next = w;
            j->wlast = w;
            j->n_waiters++;
            atomic_fetch_add(&s->m.shared, 1);
            return 1;
        }
    }
    j = srv_job_new();
    if (j == NULL) {
        return 0;
    }
    memcpy(j->key, key, sizeof key);
    (void)snprintf(j->image, sizeof j->image, "%s", image);
    j->now = now;
    j->start_ms = start_ms;
    j->deadline_ms = deadline_ms;
    j->pol = policy_ref(s->pol);
    srv_job_use_cache(j, s->cache, s->pol->gen, &s->m);
    j->waiters = j->wlast = w;
    j->n_waiters = 1;
    if (!srv_pool_submit(s->pool, j, extra)) {
        atomic_fetch_add(&s->m.queue_full, 1);
        policy_unref(j->pol);
        srv_job_free(j);
        return 0;
    }
    j->fnext = s->flights;
    s->flights = j;
    return 1;
}

/* Answers (answer 0: releases) every waiter of j, then frees j. */
static void finish_job(struct atv_srv *s, struct srv_job *j, int answer)
{
    struct srv_wait *w = j->waiters;
    const char *busy = !answer                ? NULL
                       : j->expired           ? "busy: the deadline passed in the queue"
                       : j->verdict == NULL   ? "out of memory"
                                              : NULL;
    while (w != NULL) {
        struct srv_wait *next = w->next;
        w->gk_value = answer ? j->gk_value : NULL;
        w->done(s, w, answer ? j->verdict : NULL, busy);
        w = next;
    }
    policy_unref(j->pol);
    srv_job_free(j);
}

/* Unlinks j from the jobs in flight, answers its waiters, frees it. */
static void complete(struct atv_srv *s, struct srv_job *j)
{
    struct srv_job **pp = &s->flights;
    while (*pp != NULL && *pp != j) {
        pp = &(*pp)->fnext;
    }
    if (*pp == j) {
        *pp = j->fnext;
    }
    if (j->expired) {
        atomic_fetch_add(&s->m.deadline_in_queue, 1);
    }
    finish_job(s, j, 1);
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
        complete(s, j);
        j = next;
    }
}

/* ---- /verify -------------------------------------------------------------------------- */

struct verify_wait {
    struct srv_wait w; /* first: the job's list links these */
    struct evhttp_request *req;
    int64_t now;
    uint64_t start_ms;
    char image[ATV_SRV_MAX_IMAGE + 1];
};

void srv_request_release(struct evhttp_request *req)
{
    if (evhttp_request_get_connection(req) == NULL) {
        evhttp_request_free(req);
    }
}

static void verify_done(struct atv_srv *s, struct srv_wait *w, const struct atv_vfy_image *v,
                        const char *busy)
{
    struct verify_wait *x = (struct verify_wait *)(void *)w;
    if (v == NULL && busy == NULL) {
        srv_request_release(x->req);
    } else if (v == NULL) {
        reply_error(s, x->req, SRV_P_VERIFY, 503, busy);
    } else {
        char *text = atv_vfy_image_json(v, x->image, x->now, 0);
        uint64_t now = atv_vfy_clock_ms();
        srv_metrics_verdict(&s->m, v, now > x->start_ms ? now - x->start_ms : 0);
        if (text != NULL) {
            srv_reply(s, x->req, SRV_P_VERIFY, verdict_status(v), "application/json", text);
        } else {
            reply_error(s, x->req, SRV_P_VERIFY, 503, "out of memory");
        }
        free(text);
    }
    atomic_fetch_sub(&s->m.in_flight, 1);
    free(x);
}

static void handle_verify(struct atv_srv *s, struct evhttp_request *req)
{
    struct verify_wait *v;
    char msg[160];
    int code = 400, ok;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);

    msg[0] = '\0';
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
        reply_error(s, req, SRV_P_VERIFY, 405, "method: GET or POST");
        return;
    }
    v = calloc(1, sizeof *v);
    if (v == NULL) {
        reply_error(s, req, SRV_P_VERIFY, 503, "out of memory");
        return;
    }
    ok = method == EVHTTP_REQ_GET ? image_from_query(req, v->image, msg, sizeof msg)
                                  : image_from_body(req, v->image, &code, msg, sizeof msg);
    if (!ok) {
        reply_error(s, req, SRV_P_VERIFY, code, msg);
        free(v);
        return;
    }
    v->w.done = verify_done;
    v->req = req;
    v->now = (int64_t)time(NULL);
    v->start_ms = atv_vfy_clock_ms();
    if (!srv_submit(s, v->image, &v->w, v->now, v->start_ms,
                    v->start_ms + s->cfg.params->timeout_ms, 'v', 0)) {
        reply_error(s, req, SRV_P_VERIFY, 503, "busy: the verification queue is full");
        free(v);
        return;
    }
    atomic_fetch_add(&s->m.in_flight, 1);
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
    struct srv_conn *c = conn_of(req);

    if (c == NULL) {
        /* TLS could not be set up for this connection and evhttp fell back
         * to plain HTTP: never serve in clear text on the TLS port */
        atomic_fetch_add(&s->m.conns_refused_tls, 1);
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        reply_error(s, req, SRV_P_OTHER, 400, "TLS is required on this port");
        return;
    }
    /* the whole request is here: its limit stops until the answer is sent */
    c->busy = 1;
    c->deadline_ms = 0;
    switch (path_of(path)) {
    case SRV_P_VERIFY:
        handle_verify(s, req);
        return;
    case SRV_P_GK_VERIFY:
    case SRV_P_GK_MUTATE:
        srv_gk_handle(s, req, path_of(path) == SRV_P_GK_MUTATE);
        return;
    case SRV_P_K8S_VALIDATE:
    case SRV_P_K8S_MUTATE:
        srv_k8s_handle(s, req, path_of(path) == SRV_P_K8S_MUTATE);
        return;
    default:
        reply_error(s, req, SRV_P_OTHER, 404,
                    "not found: /verify, /gatekeeper/{verify,mutate}, /k8s/{validate,mutate} "
                    "and /validate are served here");
        return;
    }
}

const unsigned char *srv_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    *len = b != NULL ? evbuffer_get_length(b) : 0;
    return *len > 0 ? evbuffer_pullup(b, -1) : NULL;
}

int srv_is_post(struct evhttp_request *req)
{
    return evhttp_request_get_command(req) == EVHTTP_REQ_POST;
}

int srv_json_request(struct evhttp_request *req)
{
    return json_content_type(evhttp_find_header(evhttp_request_get_input_headers(req),
                                                "Content-Type"));
}

const char *srv_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

int srv_client_verified(struct evhttp_request *req)
{
    struct srv_conn *c = conn_of(req);
    SSL *ssl = c != NULL && c->bev != NULL ? bufferevent_openssl_get_ssl(c->bev) : NULL;
    if (ssl == NULL || c->s->cfg.client_ca == NULL) {
        return 0;
    }
    /* the verify callback lets every handshake through; this is the verdict */
    return SSL_get0_peer_certificate(ssl) != NULL && SSL_get_verify_result(ssl) == X509_V_OK;
}

const struct atv_srv_config *srv_config(const struct atv_srv *s)
{
    return &s->cfg;
}

struct srv_metrics *srv_metrics_of(struct atv_srv *s)
{
    return &s->m;
}

int srv_serving(const struct atv_srv *s)
{
    return s->phase == PH_SERVING;
}

/* ---- the health listener ----------------------------------------------------------- */

static void on_health(struct evhttp_request *req, void *arg)
{
    struct atv_srv *s = arg;
    enum srv_path p = path_of(request_path(req));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    int ready = s->phase == PH_SERVING;

    if (p == SRV_P_VERIFY || p == SRV_P_OTHER) {
        srv_reply(s, req, SRV_P_OTHER, 404, "text/plain; charset=utf-8",
              "not found: /healthz, /readyz, /metrics\n");
        return;
    }
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        srv_reply(s, req, p, 405, "text/plain; charset=utf-8", "method: GET\n");
        return;
    }
    if (p == SRV_P_HEALTHZ) {
        srv_reply(s, req, p, 200, "text/plain; charset=utf-8", "ok\n");
    } else if (p == SRV_P_READYZ) {
        srv_reply(s, req, p, ready ? 200 : 503, "text/plain; charset=utf-8",
              ready ? "ready\n" : "shutting down\n");
    } else {
        struct srv_gauges g;
        char *text;
        memset(&g, 0, sizeof g);
        g.ready = ready;
        g.connections = s->n_conns;
        g.max_connections = s->max_conns;
        g.verdict_ttl_s = s->cache != NULL ? s->cfg.verdict_ttl_s : 0;
        if (s->cache != NULL) {
            srv_cache_stats(s->cache, &g.cache_entries, &g.cache_bytes);
        }
        text = srv_metrics_render(&s->m, &g);
        if (text == NULL) {
            srv_reply(s, req, p, 503, "text/plain; charset=utf-8", "out of memory\n");
            return;
        }
        srv_reply(s, req, p, 200, "text/plain; version=0.0.4; charset=utf-8", text);
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

/* Client certificates are requested and their verification recorded, never
 * enforced here: /verify serves anyone, and the paths that require a
 * verified client certificate check SSL_get_verify_result themselves. */
static int keep_going(int preverify_ok, X509_STORE_CTX *ctx)
{
    (void)preverify_ok;
    (void)ctx;
    return 1;
}

static enum atv_status tls_new(const char *cert, const char *key, const char *client_ca,
                               SSL_CTX **out, struct atv_err *err)
{
    static const unsigned char sid_ctx[] = "atcr-verify serve";
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
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        rc = ssl_fail(err, "--tls-cert", cert);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        rc = ssl_fail(err, "--tls-key", key);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = ssl_fail(err, "--tls-key", "does not match --tls-cert");
        goto out;
    }
    if (client_ca != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
        if (names == NULL || sk_X509_NAME_num(names) == 0) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            rc = ssl_fail(err, "--client-ca", client_ca);
            goto out;
        }
        /* the CA names go in the CertificateRequest so a client picks the right certificate */
        SSL_CTX_set_client_CA_list(ctx, names);
        if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
            rc = ssl_fail(err, "--client-ca", client_ca);
            goto out;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, keep_going);
        /* resumed sessions carry the verification; they need a session id context */
        if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1) {
            rc = ssl_fail(err, "--client-ca", "session id context");
            goto out;
        }
    }
out:
    if (rc != ATV_OK) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return ATV_OK;
}

/* ---- connections ------------------------------------------------------------------------ */

static void listener_pause(struct atv_srv *s, int pause)
{
    struct evconnlistener *l;
    if (s->closing || s->https_sock == NULL || s->listener_paused == pause) {
        return;
    }
    l = evhttp_bound_socket_get_listener(s->https_sock);
    if (l != NULL && (pause ? evconnlistener_disable(l) : evconnlistener_enable(l)) == 0) {
        s->listener_paused = pause;
    }
}

/* SSL ex_data's free callback: the connection is gone (its SSL is freed with
 * its bufferevent, on the loop thread). */
static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    struct srv_conn *c = ptr;
    struct atv_srv *s;
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (c == NULL) {
        return;
    }
    s = c->s;
    s->buffered -= c->req_bytes;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
    if (s->n_conns < (long)s->max_conns && s->phase == PH_SERVING) {
        listener_pause(s, 0);
    }
    free(c);
}

/* Bytes of a request arrived (decrypted): its whole-request limit starts,
 * and they count against the memory every request in progress may hold
 * together (a body is read whole before its handler sees it). */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct srv_conn *c = arg;
    struct atv_srv *s = c->s;
    (void)buf;
    if (info->n_added == 0) {
        return;
    }
    conn_arm(c);
    c->req_bytes += info->n_added;
    s->buffered += info->n_added;
    if (s->buffered > ATV_SRV_MAX_BUFFERED && c->bev != NULL) {
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        if (fd >= 0 && !c->cut) {
            (void)shutdown(fd, SHUT_RDWR);
            c->cut = 1;
            atomic_fetch_add(&s->m.over_budget, 1);
        }
    }
}

/* evhttp's per-connection bufferevent: a TLS server side over the new socket.
 * NULL makes evhttp use a plain socket; on_https refuses every request there. */
static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
    struct atv_srv *s = arg;
    SSL *ssl = SSL_new(s->ssl);
    struct bufferevent *bev;
    struct srv_conn *c;
    if (ssl == NULL) {
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || SSL_set_ex_data(ssl, conn_idx, c) != 1) {
        free(c);
        SSL_free(ssl);
        return NULL;
    }
    c->s = s;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    /* the handshake and the first request share the first limit */
    conn_arm(c);
    if (s->n_conns >= (long)s->max_conns) {
        listener_pause(s, 1);
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl); /* frees c through conn_ex_free */
        return NULL;
    }
    c->bev = bev;
    if (evbuffer_add_cb(bufferevent_get_input(bev), on_input, c) == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    /* a client that drops the TCP connection without close_notify is common */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* Shuts down every connection whose request limit passed: evhttp then reads
 * end-of-file and frees it the usual way. */
static void sweep_conns(struct atv_srv *s, uint64_t now)
{
    struct srv_conn *c;
    for (c = s->conns; c != NULL; c = c->next) {
        if (c->deadline_ms != 0 && now >= c->deadline_ms && c->bev != NULL && !c->cut) {
            evutil_socket_t fd = bufferevent_getfd(c->bev);
            c->deadline_ms = 0;
            if (fd >= 0) {
                c->cut = 1;
                (void)shutdown(fd, SHUT_RDWR);
                atomic_fetch_add(&s->m.slow_cut, 1);
            }
        }
    }
}

/* ---- reloads ------------------------------------------------------------------------------ */

static struct fsig fsig_of(const char *path)
{
    struct fsig f;
    struct stat st;
    memset(&f, 0, sizeof f);
    if (path != NULL && stat(path, &st) == 0) {
        f.exists = 1;
        f.dev = st.st_dev;
        f.ino = st.st_ino;
        f.size = st.st_size;
        f.mtim = st.st_mtim;
        f.ctim = st.st_ctim;
    }
    return f;
}

static int fsig_same(const struct fsig *a, const struct fsig *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
           a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static enum atv_status load_policy(const struct atv_vfy_params *p, struct srv_policy **out,
                                   uint64_t gen, struct atv_err *err);

/* Reloads what changed since it was last loaded (or tried). A failure keeps
 * what is in use; the next change tries again. */
static void poll_reload(struct atv_srv *s)
{
    const struct atv_vfy_params *p = s->cfg.params;
    struct fsig c = fsig_of(s->cfg.tls_cert), k = fsig_of(s->cfg.tls_key);
    struct fsig a = fsig_of(s->cfg.client_ca);
    struct atv_err err;

    if (!fsig_same(&c, &s->sig_cert) || !fsig_same(&k, &s->sig_key) ||
        !fsig_same(&a, &s->sig_ca)) {
        SSL_CTX *ctx = NULL;
        s->sig_cert = c;
        s->sig_key = k;
        s->sig_ca = a;
        atv_err_clear(&err);
        if (tls_new(s->cfg.tls_cert, s->cfg.tls_key, s->cfg.client_ca, &ctx, &err) == ATV_OK) {
            /* connections hold their own reference to the old context */
            SSL_CTX_free(s->ssl);
            s->ssl = ctx;
            atomic_fetch_add(&s->m.reload_ok[SRV_RL_TLS], 1);
            say(s, "reloaded the certificate and key%s", s->cfg.client_ca != NULL ? " and client CA" : "");
        } else {
            atomic_fetch_add(&s->m.reload_failed[SRV_RL_TLS], 1);
            say(s, "reload failed, keeping the certificate in use: %s", err.msg);
        }
    }
    if (p->trust_policy[0] != '\0') {
        struct fsig f = fsig_of(p->trust_policy);
        if (!fsig_same(&f, &s->sig_policy)) {
            struct srv_policy *np = NULL;
            s->sig_policy = f;
            atv_err_clear(&err);
            if (load_policy(p, &np, s->next_gen, &err) == ATV_OK) {
                s->next_gen++;
                policy_unref(s->pol); /* jobs in flight keep theirs */
                s->pol = np;
                if (s->cache != NULL) {
                    srv_cache_clear(s->cache); /* keyed by generation: nothing there is reachable */
                }
                atomic_fetch_add(&s->m.reload_ok[SRV_RL_POLICY], 1);
                say(s, "reloaded the trust policy %.300s", p->trust_policy);
            } else {
                atomic_fetch_add(&s->m.reload_failed[SRV_RL_POLICY], 1);
                say(s, "reload failed, keeping the policy in use: %s", err.msg);
            }
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct atv_srv *s = arg;
    uint64_t now = atv_vfy_clock_ms();
    struct srv_job *j;
    (void)fd;
    (void)what;
    sweep_conns(s, now);
    /* queued jobs whose deadline passed are answered now, not when a worker frees */
    j = srv_pool_expire(s->pool, now);
    while (j != NULL) {
        struct srv_job *next = j->next;
        complete(s, j);
        j = next;
    }
    if (now >= s->next_poll_ms) {
        s->next_poll_ms = now + ATV_SRV_RELOAD_POLL_MS;
        poll_reload(s);
    }
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
    /* no Nagle (accepted sockets inherit it on Linux): a reply goes out as two TLS records
     * (headers, body), and the second would wait for the client's delayed ACK, 40 ms */
    (void)setsockopt(evhttp_bound_socket_get_fd(*out), IPPROTO_TCP, TCP_NODELAY, &(int){1},
                     sizeof(int));
    return ATV_OK;
}

static enum atv_status load_policy(const struct atv_vfy_params *p, struct srv_policy **out,
                                   uint64_t gen, struct atv_err *err)
{
    struct atv_policy *pol = NULL;
    enum atv_status rc;
    *out = NULL;
    if (p->trust_policy[0] != '\0') {
        if (p->has_trusted) {
            return atv_err_set(err, ATV_E_USAGE, "give --trusted-did or --policy, not both");
        }
        rc = atv_policy_load_file(p->trust_policy, &pol, err);
    } else {
        rc = atv_policy_from_dids((const char *const *)p->trusted_dids, p->n_trusted, &pol, err);
    }
    if (rc != ATV_OK) {
        /* the CLI's exit 2: a configuration that cannot be served */
        return rc == ATV_E_NOMEM ? rc : ATV_E_USAGE;
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        atv_policy_free(pol);
        return atv_err_set(err, ATV_E_NOMEM, "server: out of memory");
    }
    (*out)->p = pol;
    (*out)->gen = gen;
    (*out)->refs = 1;
    return ATV_OK;
}

/* Raises the descriptor limit for ATV_SRV_MAX_CONNECTIONS connections and
 * the workers' own sockets; with a lower hard limit, fewer connections. */
static void fit_connections(struct atv_srv *s)
{
    struct rlimit rl;
    rlim_t reserve = FD_RESERVE_FIXED + (rlim_t)FD_RESERVE_PER_WORKER * s->cfg.workers;
    rlim_t want = ATV_SRV_MAX_CONNECTIONS + reserve;

    s->max_conns = ATV_SRV_MAX_CONNECTIONS;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        struct rlimit nl = rl;
        nl.rlim_cur = to;
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) {
            rl.rlim_cur = to;
        }
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t n = rl.rlim_cur > reserve + 16 ? rl.rlim_cur - reserve : 16;
        s->max_conns = (unsigned)n;
        say(s, "RLIMIT_NOFILE is %llu (hard %llu): at most %u connections, not %u",
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, s->max_conns,
            ATV_SRV_MAX_CONNECTIONS);
    }
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
    struct timeval tick = {0, (suseconds_t)TICK_MS * 1000};
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
    if (c->mutate_timeout_ms == 0 || c->mutate_timeout_ms > 60000u) {
        return atv_err_set(err, ATV_E_USAGE, "--mutate-timeout: 1..60000 ms");
    }
    if (c->verdict_ttl_s > ATV_SRV_MAX_VERDICT_TTL_S) {
        return atv_err_set(err, ATV_E_USAGE, "--verdict-ttl: 0..%u s", ATV_SRV_MAX_VERDICT_TTL_S);
    }
    if (conn_idx < 0) {
        /* process-wide, once, before any thread of ours exists */
        conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
        if (conn_idx < 0) {
            return atv_err_set(err, ATV_E_NOMEM, "server: SSL_get_ex_new_index failed");
        }
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "server: out of memory");
    }
    s->cfg = *c;
    srv_metrics_init(&s->m);
    /* what is loaded now is what the first poll compares with */
    s->sig_cert = fsig_of(c->tls_cert);
    s->sig_key = fsig_of(c->tls_key);
    s->sig_ca = fsig_of(c->client_ca);
    s->sig_policy = fsig_of(c->params->trust_policy[0] != '\0' ? c->params->trust_policy : NULL);
    s->next_gen = 2;
    rc = load_policy(c->params, &s->pol, 1, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = tls_new(c->tls_cert, c->tls_key, c->client_ca, &s->ssl, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (c->verdict_ttl_s > 0) {
        rc = srv_cache_new(c->verdict_ttl_s, SRV_CACHE_MAX_ENTRIES, SRV_CACHE_MAX_BYTES, &s->cache,
                           err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    fit_connections(s);
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
    /* the largest body any path takes; each path checks its own, and
     * ATV_SRV_MAX_BUFFERED bounds what all requests in progress hold */
    evhttp_set_max_body_size(s->https, ATV_SRV_MAX_REVIEW_BODY);
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
    if (rc == ATV_OK) {
        rc = new_event(s, &s->ev_tick, -1, EV_PERSIST, on_tick, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    s->next_poll_ms = atv_vfy_clock_ms() + ATV_SRV_RELOAD_POLL_MS;
    if (event_add(s->ev_wake, NULL) != 0 || event_add(s->ev_term, NULL) != 0 ||
        event_add(s->ev_int, NULL) != 0 || event_add(s->ev_tick, &tick) != 0) {
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
    struct srv_job *left;
    if (s == NULL) {
        return;
    }
    s->closing = 1;
    /* workers first: they may still be finishing. Every job is then either
     * queued or finished; its waiters are released without an answer (the
     * requests they name are evhttp's and go with it below). */
    left = srv_pool_free(s->pool);
    s->flights = NULL;
    while (left != NULL) {
        struct srv_job *next = left->next;
        finish_job(s, left, 0);
        left = next;
    }
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
    if (s->ev_tick != NULL) {
        event_free(s->ev_tick);
    }
    if (s->https != NULL) {
        evhttp_free(s->https);
    }
    if (s->health != NULL) {
        evhttp_free(s->health);
    }
    /* runs the bufferevents' finalizers: every connection's SSL (and its
     * struct srv_conn) is freed here, while s is still whole */
    if (s->base != NULL) {
        event_base_free(s->base);
    }
    SSL_CTX_free(s->ssl);
    policy_unref(s->pol);
    srv_cache_free(s->cache);
    if (s->curl_held) {
        atv_http_global_release();
    }
    free(s);
}
