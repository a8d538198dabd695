/* Unit tests for common/http.c against a tiny HTTP/1.1 server on loopback
 * (common/tests/loopback.h: a forked child on 127.0.0.1 and, when the kernel
 * lets us bind it, 127.0.0.2, logging what it saw). This file's respond()
 * serves a fixed table of paths. Nothing but 127.0.0.0/8 is ever contacted:
 * proxies from the environment are unset first, and the non-loopback URLs
 * used (192.0.2.1, TEST-NET-1) are refused by policy before any connection.
 */
#include "common/http.h"
#include "common/http_internal.h"
#include "common/test.h"
#include "common/tests/loopback.h"

#include <pthread.h>

#define DIGEST "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
#define OK_BODY "hello world\n"
#define SECRET "Bearer s3cr3t-t0ken"

/* ---- the server's answers (child) ---------------------------------------------- */

static void s_respond(int fd, const struct lb_request *rq)
{
    const char *method = rq->method;
    const char *path = rq->path;
    const char *ip = rq->ip;
    char head[4096];
    char body[8192];
    int head_only = strcmp(method, "HEAD") == 0;
    int n;

    if (strcmp(path, "/post") == 0) {
        /* echoes the request body */
        lb_reply(fd, rq, "200 OK", "Content-Type: text/plain\r\n", rq->body, rq->body_len);
    } else if (strcmp(path, "/post-redir") == 0) {
        lb_reply(fd, rq, "307 Temporary Redirect", "Location: /post\r\n", "", 0);
    } else if (strcmp(path, "/link") == 0) {
        lb_reply(fd, rq, "200 OK",
                 "Link: </p2?n=1>; rel=\"next\"\r\nX-Other: 1\r\nlink:  </p0>; rel=prev  \r\n",
                 "{}", 2);
    } else if (strcmp(path, "/link-long") == 0) {
        char extra[3200];
        memcpy(extra, "Link: </", 8);
        memset(extra + 8, 'a', 3000);
        (void)snprintf(extra + 3008, sizeof extra - 3008, ">; rel=next\r\nLink: </b>; rel=x\r\n");
        lb_reply(fd, rq, "200 OK", extra, "{}", 2);
    } else if (strcmp(path, "/link-redir") == 0) {
        lb_reply(fd, rq, "302 Found", "Link: </x>; rel=next\r\nLocation: /ok\r\n", "", 0);
    } else if (strcmp(path, "/ok") == 0 || strcmp(path, "/r0") == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Docker-Content-Digest: " DIGEST "\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     strlen(OK_BODY));
        lb_write_all(fd, head, (size_t)n);
        if (!head_only) {
            lb_write_all(fd, OK_BODY, strlen(OK_BODY));
        }
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/big-close") == 0) {
        memset(body, 'x', 5000);
        if (strcmp(path, "/big") == 0) {
            n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n");
        } else { /* no length: the body ends when the connection closes */
            n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        }
        lb_write_all(fd, head, (size_t)n);
        if (!head_only) {
            lb_write_all(fd, body, 5000);
        }
    } else if (strcmp(path, "/404") == 0 || strcmp(path, "/500") == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Length: 4\r\nWWW-Authenticate: Bearer "
                     "realm=\"https://auth.example/token\",service=\"reg\"\r\n"
                     "Connection: close\r\n\r\nnope",
                     strcmp(path, "/404") == 0 ? "404 Not Found" : "500 Internal Server Error");
        lb_write_all(fd, head, (size_t)n);
    } else if (strcmp(path, "/hdrs") == 0) {
        memset(body, 'a', 1500);
        body[1500] = '\0';
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\ncOnTeNt-TyPe:   application/json \t\r\n"
                     "docker-content-digest:" DIGEST "\r\n"
                     "Docker-Content-Digest: sha256:second\r\n"
                     "WWW-Authenticate: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                     body);
        lb_write_all(fd, head, (size_t)n);
    } else if (strcmp(path, "/stall") == 0) {
        lb_stall(fd, 3000);
    } else if (strcmp(path, "/drip") == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n");
        lb_write_all(fd, head, (size_t)n);
        for (int i = 0; i < 100; i++) {
            if (send(fd, "d", 1, MSG_NOSIGNAL) != 1) {
                break;
            }
            lb_sleep_ms(50);
        }
    } else if (strcmp(path, "/trunc") == 0) {
        n = snprintf(
            head, sizeof head,
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789");
        lb_write_all(fd, head, (size_t)n);
    } else if (strncmp(path, "/r", 2) == 0 && path[2] >= '1' && path[2] <= '9' && path[3] == '\0') {
        /* /rN redirects to /r(N-1); /r0 is /ok: N redirects in all */
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 302 Found\r\nLocation: /r%c\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     path[2] - 1);
        lb_write_all(fd, head, (size_t)n);
    } else {
        const char *loc = NULL;
        char abs[128];
        int code = 302;
        if (strcmp(path, "/rel") == 0) {
            loc = "ok";
        } else if (strcmp(path, "/abs") == 0) {
            (void)snprintf(abs, sizeof abs, "http://%s:%u/ok", ip,
                           strcmp(ip, "127.0.0.1") == 0 ? lb.port1 : lb.port2);
            loc = abs;
            code = 301;
        } else if (strcmp(path, "/loop") == 0) {
            loc = "/loop";
        } else if (strcmp(path, "/cross") == 0) {
            (void)snprintf(abs, sizeof abs, "http://127.0.0.2:%u/ok", lb.port2);
            loc = abs;
            code = 307;
        } else if (strcmp(path, "/ext") == 0) {
            loc = "http://192.0.2.1/x";
        } else if (strcmp(path, "/to-https") == 0) {
            (void)snprintf(abs, sizeof abs, "https://127.0.0.1:%u/ok", lb.port1);
            loc = abs;
            code = 308;
        } else if (strcmp(path, "/noloc") == 0) {
            loc = "";
        }
        if (loc != NULL) {
            n = snprintf(head, sizeof head,
                         "HTTP/1.1 %d Moved\r\n%s%s%sContent-Length: 5\r\nConnection: close\r\n"
                         "\r\nmoved",
                         code, loc[0] != '\0' ? "Location: " : "", loc,
                         loc[0] != '\0' ? "\r\n" : "");
        } else {
            n = snprintf(
                head, sizeof head,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        lb_write_all(fd, head, (size_t)n);
    }
}

/* ---- parent helpers ------------------------------------------------------------ */

static struct atv_http *session(uint32_t timeout_ms, int allow_http, int allow_loopback)
{
    return lb_session(timeout_ms, allow_http, allow_loopback);
}

static enum atv_status get(struct atv_http *h, const char *method, const char *url,
                           const char *auth, size_t max, int follow, struct atv_http_resp *resp,
                           struct atv_err *err)
{
    struct atv_http_req req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.url = url;
    req.authorization = auth;
    req.max_body = max;
    req.follow_redirects = follow;
    atv_err_clear(err);
    (void)lb_log(); /* drop what earlier cases left */
    return atv_http_do(h, &req, resp, err);
}

/* ---- cases ------------------------------------------------------------------------- */

static void test_ok_and_statuses(void)
{
    struct atv_http *h = session(5000, 0, 1);
    struct atv_http_resp r;
    struct atv_err err;
    char origin[64];

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    (void)snprintf(origin, sizeof origin, "http://127.0.0.1:%u", lb.port1);

    CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK(r.body.len == strlen(OK_BODY) && memcmp(r.body.ptr, OK_BODY, r.body.len) == 0);
    CHECK_STR(r.content_type, "text/plain");
    CHECK_STR(r.content_digest, DIGEST);
    CHECK_STR(r.final_url, lb_url1("/ok"));
    atv_http_resp_cleanup(&r);

    /* HEAD: headers, no body, even with a cap smaller than Content-Length */
    CHECK_STATUS(get(h, "HEAD", lb_url1("/ok"), NULL, 0, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK_EQ(r.body.len, 0u);
    CHECK_STR(r.content_digest, DIGEST);
    CHECK(strstr(lb_log(), "R 127.0.0.1 HEAD /ok") != NULL);
    atv_http_resp_cleanup(&r);

    /* 404 and 500 are answers, not errors */
    CHECK_STATUS(get(h, "GET", lb_url1("/404"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 404L);
    CHECK(r.body.len == 4 && memcmp(r.body.ptr, "nope", 4) == 0);
    CHECK_STR(r.www_authenticate, "Bearer realm=\"https://auth.example/token\",service=\"reg\"");
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/500"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 500L);
    atv_http_resp_cleanup(&r);

    /* header capture: names case-insensitive, values trimmed, first wins,
     * a value over its field is dropped to "" */
    CHECK_STATUS(get(h, "GET", lb_url1("/hdrs"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_STR(r.content_type, "application/json");
    CHECK_STR(r.content_digest, DIGEST);
    CHECK_STR(r.www_authenticate, "");
    atv_http_resp_cleanup(&r);

    /* body caps: by Content-Length, and for a close-delimited body */
    CHECK_STATUS(get(h, "GET", lb_url1("/big"), NULL, 100, 0, &r, &err), ATV_E_LIMIT, &err);
    CHECK(strstr(err.msg, origin) != NULL && strstr(err.msg, "100") != NULL);
    CHECK(r.body.len == 0 && r.body.ptr == NULL && r.status == 0);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/big-close"), NULL, 100, 0, &r, &err), ATV_E_LIMIT, &err);
    CHECK(r.body.len == 0 && r.body.ptr == NULL);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/big-close"), NULL, 5000, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.body.len, 5000u);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/big"), NULL, 4999, 0, &r, &err), ATV_E_LIMIT, &err);
    atv_http_resp_cleanup(&r);

    /* a body cut short (Content-Length 100, 10 bytes, close) */
    CHECK_STATUS(get(h, "GET", lb_url1("/trunc"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, origin) != NULL);
    CHECK(r.body.len == 0);
    atv_http_resp_cleanup(&r);

    atv_http_free(h);
}

static void test_transport_failures(void)
{
    struct atv_http *h = session(5000, 0, 1);
    struct atv_http_resp r;
    struct atv_err err;
    char url[128];
    char host[64];
    unsigned int port = lb_dead_port();

    CHECK(h != NULL && port != 0);
    if (h == NULL) {
        return;
    }
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/ok", port);
    (void)snprintf(host, sizeof host, "http://127.0.0.1:%u", port);
    CHECK_STATUS(get(h, "GET", url, SECRET, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK_MSG(strstr(err.msg, host) != NULL, "names the host: %s", err.msg);
    CHECK_MSG(strstr(err.msg, "refused") != NULL, "says refused: %s", err.msg);
    CHECK(strstr(err.msg, "s3cr3t") == NULL);
    atv_http_resp_cleanup(&r);

    /* https to a plain-http server: a TLS failure, never a fallback */
    (void)snprintf(url, sizeof url, "https://127.0.0.1:%u/ok", lb.port1);
    CHECK_STATUS(get(h, "GET", url, NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK_MSG(strstr(err.msg, "https://127.0.0.1") != NULL, "names the host: %s", err.msg);
    const char *log = lb_log();
    CHECK_MSG(strstr(log, "T 127.0.0.1") != NULL && strstr(log, "R ") == NULL,
              "server saw a TLS hello and no plain request: %s", log);
    atv_http_resp_cleanup(&r);
    atv_http_free(h);

    /* a server that stalls before answering: the 300 ms session deadline */
    h = session(300, 0, 1);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    uint64_t t0 = lb_now_ms();
    CHECK_STATUS(get(h, "GET", lb_url1("/stall"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    uint64_t el = lb_now_ms() - t0;
    CHECK_MSG(el < 2000, "stall gave up after %llu ms", (unsigned long long)el);
    CHECK(strstr(err.msg, "timed out") != NULL);
    atv_http_resp_cleanup(&r);
    /* the session is spent: the next request fails at once, without connecting
     * (the sleep makes sure it is spent: libcurl may give up a millisecond
     * before our deadline) */
    lb_sleep_ms(20);
    t0 = lb_now_ms();
    CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(lb_now_ms() - t0 < 100);
    CHECK(strstr(err.msg, "deadline") != NULL);
    CHECK(atv_http_remaining_ms(h) == 0);
    CHECK_STR(lb_log(), "");
    atv_http_resp_cleanup(&r);
    atv_http_free(h);

    /* a body that drips: 100 bytes at 20 per second would take 5 s */
    h = session(300, 0, 1);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    t0 = lb_now_ms();
    CHECK_STATUS(get(h, "GET", lb_url1("/drip"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    el = lb_now_ms() - t0;
    CHECK_MSG(el < 2000, "drip gave up after %llu ms", (unsigned long long)el);
    CHECK(r.body.len == 0);
    atv_http_resp_cleanup(&r);
    atv_http_free(h);
}

static void test_redirects(void)
{
    struct atv_http *h = session(5000, 0, 1);
    struct atv_http_resp r;
    struct atv_err err;
    const char *log;

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    /* relative, same host: followed, Authorization kept */
    CHECK_STATUS(get(h, "GET", lb_url1("/rel"), SECRET, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK(r.body.len == strlen(OK_BODY) && memcmp(r.body.ptr, OK_BODY, r.body.len) == 0);
    CHECK_STR(r.final_url, lb_url1("/ok"));
    log = lb_log();
    CHECK_MSG(strstr(log, "R 127.0.0.1 GET /rel auth=1") != NULL &&
                  strstr(log, "R 127.0.0.1 GET /ok auth=1") != NULL,
              "auth on both same-host hops: %s", log);
    atv_http_resp_cleanup(&r);

    /* absolute, same host */
    CHECK_STATUS(get(h, "GET", lb_url1("/abs"), SECRET, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK(strstr(lb_log(), "R 127.0.0.1 GET /ok auth=1") != NULL);
    atv_http_resp_cleanup(&r);

    /* HEAD through a redirect stays HEAD */
    CHECK_STATUS(get(h, "HEAD", lb_url1("/rel"), NULL, 0, 1, &r, &err), ATV_OK, &err);
    CHECK_STR(r.content_digest, DIGEST);
    CHECK(strstr(lb_log(), "R 127.0.0.1 HEAD /ok") != NULL);
    atv_http_resp_cleanup(&r);

    /* not following: the 3xx is the answer */
    CHECK_STATUS(get(h, "GET", lb_url1("/rel"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 302L);
    CHECK_STR(r.final_url, lb_url1("/rel"));
    atv_http_resp_cleanup(&r);

    /* a 3xx without Location is an answer too */
    CHECK_STATUS(get(h, "GET", lb_url1("/noloc"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 302L);
    atv_http_resp_cleanup(&r);

    /* exactly ATV_MAX_REDIRECTS is fine; one more is not */
    CHECK_STATUS(get(h, "GET", lb_url1("/r3"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/r4"), NULL, 1024, 1, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "too many redirects") != NULL);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/loop"), NULL, 1024, 1, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "too many redirects") != NULL);
    CHECK_EQ(lb_count(lb_log(), "GET /loop"), (size_t)ATV_MAX_REDIRECTS + 1);
    atv_http_resp_cleanup(&r);

    /* to another host (127.0.0.2, also loopback): Authorization dropped */
    if (lb.port2 != 0) {
        CHECK_STATUS(get(h, "GET", lb_url1("/cross"), SECRET, 1024, 1, &r, &err), ATV_OK, &err);
        CHECK_EQ(r.status, 200L);
        log = lb_log();
        CHECK_MSG(strstr(log, "R 127.0.0.1 GET /cross auth=1") != NULL &&
                      strstr(log, "R 127.0.0.2 GET /ok auth=0") != NULL,
                  "auth only on the first host: %s", log);
        atv_http_resp_cleanup(&r);
    } else {
        DIAG("skip: cannot bind 127.0.0.2");
    }

    /* to plain http on a non-loopback host: refused without connecting,
     * even though loopback http is allowed */
    uint64_t t0 = lb_now_ms();
    CHECK_STATUS(get(h, "GET", lb_url1("/ext"), SECRET, 1024, 1, &r, &err), ATV_E_IO, &err);
    CHECK(lb_now_ms() - t0 < 1000);
    CHECK_MSG(strstr(err.msg, "http://192.0.2.1") != NULL && strstr(err.msg, "refused") != NULL,
              "refused by policy: %s", err.msg);
    atv_http_resp_cleanup(&r);

    /* to https on the same host:port: a different origin (auth dropped); TLS fails */
    CHECK_STATUS(get(h, "GET", lb_url1("/to-https"), SECRET, 1024, 1, &r, &err), ATV_E_IO, &err);
    log = lb_log();
    CHECK_MSG(strstr(log, "T 127.0.0.1") != NULL, "https hop attempted: %s", log);
    atv_http_resp_cleanup(&r);
    atv_http_free(h);
}

static void test_policy(void)
{
    struct atv_http *h = session(5000, 0, 0);
    struct atv_http_resp r;
    struct atv_err err;
    char url[160];

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    /* neither flag: plain http refused before any connection */
    CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "plain http refused") != NULL);
    CHECK_STR(lb_log(), "");
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", "ftp://127.0.0.1/x", NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", "not a url", NULL, 1024, 0, &r, &err), ATV_E_PARSE, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "POST", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_USAGE, &err);
    atv_http_resp_cleanup(&r);
    atv_http_free(h);

    /* allow_http: any host, loopback here */
    h = session(5000, 1, 0);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    atv_http_resp_cleanup(&r);
    /* userinfo is refused; neither it nor the Authorization value is echoed */
    (void)snprintf(url, sizeof url, "http://user:pa55w0rd@127.0.0.1:%u/ok", lb.port1);
    CHECK_STATUS(get(h, "GET", url, SECRET, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "pa55w0rd") == NULL && strstr(err.msg, "s3cr3t") == NULL);
    CHECK_STR(lb_log(), "");
    atv_http_resp_cleanup(&r);
    /* header injection and credentials in the header list are misuse */
    {
        const char *bad[] = {"X-A: b\r\nEvil: 1", NULL};
        const char *cred[] = {"authorization: Basic eA==", NULL};
        const char *fine[] = {"Accept: application/json", NULL};
        struct atv_http_req q;
        memset(&q, 0, sizeof q);
        q.method = "GET";
        q.url = lb_url1("/ok");
        q.max_body = 1024;
        q.headers = bad;
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_E_USAGE, &err);
        atv_http_resp_cleanup(&r);
        q.headers = cred;
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_E_USAGE, &err);
        atv_http_resp_cleanup(&r);
        q.headers = NULL;
        q.authorization = "Bearer x\r\nEvil: 1";
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_E_USAGE, &err);
        atv_http_resp_cleanup(&r);
        q.headers = fine;
        q.authorization = NULL;
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_OK, &err);
        atv_http_resp_cleanup(&r);
    }
    atv_http_free(h);

    /* an over-long URL */
    h = session(5000, 0, 1);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    {
        static char longurl[3000];
        int n = snprintf(longurl, sizeof longurl, "http://127.0.0.1:%u/", lb.port1);
        memset(longurl + n, 'a', sizeof longurl - 1 - (size_t)n);
        longurl[sizeof longurl - 1] = '\0';
        CHECK_STATUS(get(h, "GET", longurl, NULL, 1024, 0, &r, &err), ATV_E_LIMIT, &err);
        atv_http_resp_cleanup(&r);
    }
    atv_http_free(h);
}

static void test_loopback_table(void)
{
    static const struct {
        const char *url;
        int want;
    } cases[] = {
        {"http://127.0.0.1/", 1},
        {"http://127.8.9.10:8080/x", 1},
        {"http://[::1]:5000/", 1},
        {"http://localhost/", 1},
        {"https://LOCALHOST:443/", 1},
        {"http://128.0.0.1/", 0},
        {"https://example.com/", 0},
        {"http://127.0.0.1.nip.io/", 0},
        {"http://[::2]/", 0},
        {"http://10.0.0.1/", 0},
        {"not a url", 0},
        {"http://localhost.example/", 0},
        {"http://user@127.0.0.1/", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_MSG(atv_http_host_is_loopback(cases[i].url) == cases[i].want, "loopback(%s) == %d",
                  cases[i].url, cases[i].want);
    }
    CHECK(atv_http_host_is_loopback(NULL) == 0);
}

static void test_fetcher(void)
{
    struct atv_http *h = session(5000, 0, 1);
    struct atv_fetcher f;
    struct atv_buf out;
    struct atv_err err;
    long status = -1;

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    f = atv_http_fetcher(h);
    CHECK(f.get != NULL && f.txt != NULL && f.ctx == h);

    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    (void)lb_log();
    CHECK_STATUS(f.get(f.ctx, lb_url1("/rel"), 1024, &status, &out, &err), ATV_OK, &err);
    CHECK_EQ(status, 200L);
    CHECK(out.len == strlen(OK_BODY) && memcmp(out.ptr, OK_BODY, out.len) == 0);
    CHECK(strstr(lb_log(), "auth=1") == NULL);
    atv_buf_cleanup(&out);

    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(f.get(f.ctx, lb_url1("/404"), 1024, &status, &out, &err), ATV_OK, &err);
    CHECK_EQ(status, 404L);
    atv_buf_cleanup(&out);

    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(f.get(f.ctx, lb_url1("/big"), 100, &status, &out, &err), ATV_E_LIMIT, &err);
    CHECK(status == 0 && out.len == 0);
    atv_buf_cleanup(&out);

    /* DNS: RFC 6761 .invalid names are answered negatively at once */
    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    uint64_t t0 = lb_now_ms();
    enum atv_status rc = f.txt(f.ctx, "_atproto.example.invalid", &out, &err);
    CHECK_MSG(rc == ATV_E_NOT_FOUND || rc == ATV_E_IO, "txt .invalid: %s (%s)", atv_status_name(rc),
              err.msg);
    CHECK(lb_now_ms() - t0 < 1000);
    CHECK(out.len == 0);
    atv_err_clear(&err);
    CHECK_STATUS(f.txt(f.ctx, "INVALID.", &out, &err), ATV_E_NOT_FOUND, &err);
    atv_err_clear(&err);
    CHECK_STATUS(f.txt(f.ctx, "bad name!.invalid", &out, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(f.txt(f.ctx, "a..invalid", &out, &err), ATV_E_PARSE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(f.txt(f.ctx, "", &out, &err), ATV_E_PARSE, &err);
    {
        char longname[300];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        atv_err_clear(&err);
        CHECK_STATUS(f.txt(f.ctx, longname, &out, &err), ATV_E_PARSE, &err);
    }
    atv_buf_cleanup(&out);
    atv_http_free(h);
}

static void test_session(void)
{
    struct atv_http *h = NULL;
    struct atv_err err;
    struct atv_http_opts o;

    h = session(1000, 0, 0);
    CHECK(h != NULL);
    uint32_t left = atv_http_remaining_ms(h);
    CHECK_MSG(left > 800 && left <= 1000, "remaining %u", (unsigned int)left);
    atv_http_free(h);
    h = session(0, 0, 0); /* 0 means the 2500 ms default */
    left = atv_http_remaining_ms(h);
    CHECK_MSG(left > 2300 && left <= 2500, "default remaining %u", (unsigned int)left);
    atv_http_free(h);
    atv_http_free(NULL);
    CHECK(atv_http_remaining_ms(NULL) == 0);

    memset(&o, 0, sizeof o);
    o.ca_file = "/nonexistent/ca.pem";
    atv_err_clear(&err);
    h = (struct atv_http *)&o; /* must be reset to NULL */
    CHECK_STATUS(atv_http_new(&o, &h, &err), ATV_E_IO, &err);
    CHECK(h == NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_new(NULL, &h, &err), ATV_E_USAGE, &err);
}

static enum atv_status post(struct atv_http *h, const char *url, const char *body, size_t len,
                            const char *ctype, const char *auth, int follow,
                            struct atv_http_resp *resp, struct atv_err *err)
{
    struct atv_http_req req;
    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.url = url;
    req.authorization = auth;
    req.max_body = 1024;
    req.follow_redirects = follow;
    req.body = body;
    req.body_len = len;
    req.content_type = ctype;
    atv_err_clear(err);
    (void)lb_log();
    return atv_http_do(h, &req, resp, err);
}

#define FORM "application/x-www-form-urlencoded"

static void test_post(void)
{
    struct atv_http *h = session(5000, 0, 1);
    struct atv_http_resp r;
    struct atv_err err;
    const char *log;
    static const char body[] = "grant_type=refresh_token&refresh_token=s3cr3t%2B1";

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    /* the body goes out once, with its Content-Type, and comes back */
    CHECK_STATUS(post(h, lb_url1("/post"), body, strlen(body), FORM, SECRET, 0, &r, &err), ATV_OK,
                 &err);
    CHECK_EQ(r.status, 200L);
    CHECK(r.body.len == strlen(body) && memcmp(r.body.ptr, body, r.body.len) == 0);
    log = lb_log();
    CHECK_MSG(strstr(log, "R 127.0.0.1 POST /post auth=1") != NULL &&
                  strstr(log, "B " FORM " grant_type=refresh_token&refresh_token=s3cr3t%2B1;") !=
                      NULL,
              "server saw the POST: %s", log);
    atv_http_resp_cleanup(&r);

    /* an empty body (NULL, 0) is a POST of Content-Length 0 */
    CHECK_STATUS(post(h, lb_url1("/post"), NULL, 0, FORM, NULL, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK_EQ(r.body.len, 0u);
    log = lb_log();
    CHECK_MSG(strstr(log, "POST /post auth=0") != NULL && strstr(log, "B ") == NULL, "empty: %s",
              log);
    atv_http_resp_cleanup(&r);

    /* a POST never follows a redirect, even a 307 and even when asked to:
     * the 3xx is the answer and the body went to one URL only */
    CHECK_STATUS(post(h, lb_url1("/post-redir"), body, strlen(body), FORM, NULL, 1, &r, &err),
                 ATV_OK, &err);
    CHECK_EQ(r.status, 307L);
    CHECK_STR(r.final_url, lb_url1("/post-redir"));
    log = lb_log();
    CHECK_MSG(lb_count(log, "R ") == 1 && lb_count(log, "B ") == 1, "one request: %s", log);
    atv_http_resp_cleanup(&r);

    /* misuse is refused before any connection */
    CHECK_STATUS(post(h, lb_url1("/post"), body, strlen(body), NULL, NULL, 0, &r, &err),
                 ATV_E_USAGE, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(post(h, lb_url1("/post"), body, strlen(body), "", NULL, 0, &r, &err),
                 ATV_E_USAGE, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(post(h, lb_url1("/post"), body, strlen(body), "text/plain\r\nX-Evil: 1", NULL,
                      0, &r, &err),
                 ATV_E_USAGE, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(post(h, lb_url1("/post"), NULL, 5, FORM, NULL, 0, &r, &err), ATV_E_USAGE, &err);
    atv_http_resp_cleanup(&r);
    {
        static char huge[ATV_HTTP_MAX_REQ_BODY + 1];
        memset(huge, 'a', sizeof huge);
        CHECK_STATUS(post(h, lb_url1("/post"), huge, sizeof huge, FORM, NULL, 0, &r, &err),
                     ATV_E_LIMIT, &err);
        CHECK(strstr(err.msg, "aaaa") == NULL);
        atv_http_resp_cleanup(&r);
    }
    {
        /* a body or a content type on GET/HEAD is misuse */
        struct atv_http_req q;
        memset(&q, 0, sizeof q);
        q.method = "GET";
        q.url = lb_url1("/ok");
        q.max_body = 1024;
        q.body = body;
        q.body_len = strlen(body);
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_E_USAGE, &err);
        atv_http_resp_cleanup(&r);
        q.body = NULL;
        q.body_len = 0;
        q.content_type = FORM;
        q.method = "HEAD";
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_E_USAGE, &err);
        atv_http_resp_cleanup(&r);
        q.method = "PUT";
        q.content_type = NULL;
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_do(h, &q, &r, &err), ATV_E_USAGE, &err);
        atv_http_resp_cleanup(&r);
    }
    CHECK_STR(lb_log(), "");

    /* a POST to a refused origin: no connection, no body in the message */
    CHECK_STATUS(post(h, "http://192.0.2.1/token", body, strlen(body), FORM, NULL, 0, &r, &err),
                 ATV_E_IO, &err);
    CHECK(strstr(err.msg, "s3cr3t") == NULL && strstr(err.msg, "POST") != NULL);
    atv_http_resp_cleanup(&r);
    /* a transport failure during a POST names neither body nor Authorization */
    {
        char url[96];
        (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/post", lb_dead_port());
        CHECK_STATUS(post(h, url, body, strlen(body), FORM, SECRET, 0, &r, &err), ATV_E_IO, &err);
        CHECK(strstr(err.msg, "s3cr3t") == NULL && strstr(err.msg, "refresh") == NULL);
        atv_http_resp_cleanup(&r);
    }
    /* the session stays usable for GET after a POST (libcurl state reset) */
    CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK(strstr(lb_log(), "R 127.0.0.1 GET /ok") != NULL);
    atv_http_resp_cleanup(&r);
    atv_http_free(h);
}

static void test_link(void)
{
    struct atv_http *h = session(5000, 0, 1);
    struct atv_http_resp r;
    struct atv_err err;

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    /* two Link fields, joined with ", ", values trimmed */
    CHECK_STATUS(get(h, "GET", lb_url1("/link"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_STR(r.link, "</p2?n=1>; rel=\"next\", </p0>; rel=prev");
    CHECK_EQ(r.link_dropped, 0);
    atv_http_resp_cleanup(&r);
    CHECK_STR(r.link, "");
    /* no Link: "" */
    CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_STR(r.link, "");
    CHECK_EQ(r.link_dropped, 0);
    atv_http_resp_cleanup(&r);
    /* too long: dropped whole, and flagged, even with a short one after it */
    CHECK_STATUS(get(h, "GET", lb_url1("/link-long"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_STR(r.link, "");
    CHECK_EQ(r.link_dropped, 1);
    atv_http_resp_cleanup(&r);
    CHECK_EQ(r.link_dropped, 0);
    /* a redirect's Link belongs to the redirect, not to the final answer */
    CHECK_STATUS(get(h, "GET", lb_url1("/link-redir"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK_STR(r.link, "");
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", lb_url1("/link-redir"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 302L);
    CHECK_STR(r.link, "</x>; rel=next");
    atv_http_resp_cleanup(&r);
    atv_http_free(h);
}

/* ---- DNS TXT answers (wire format, RFC 1035 section 4.1) ---------------------------- */

struct dns_rr {
    uint16_t type;     /* 16 TXT, 5 CNAME */
    uint16_t klass;    /* 1 IN, 3 CH */
    const char *rdata; /* raw RDATA */
    size_t rdlen;
};

/* A response for _atproto.example.test, IN TXT: header, one question, the
 * records (owner name a pointer to the question's), ancount as given. */
static size_t dns_msg(uint8_t *m, size_t cap, const struct dns_rr *rr, size_t n, uint16_t ancount)
{
    static const uint8_t head[] = {0x12, 0x34, 0x81, 0x80, 0, 1};
    static const uint8_t qname[] = "\x08_atproto\x07" "example\x04test";
    size_t o = 0;
    memcpy(m, head, sizeof head);
    o += sizeof head;
    m[o++] = (uint8_t)(ancount >> 8);
    m[o++] = (uint8_t)ancount;
    memset(m + o, 0, 4); /* nscount, arcount */
    o += 4;
    memcpy(m + o, qname, sizeof qname); /* with its terminating root label */
    o += sizeof qname;
    m[o++] = 0;
    m[o++] = 16; /* QTYPE TXT */
    m[o++] = 0;
    m[o++] = 1; /* QCLASS IN */
    for (size_t i = 0; i < n && o + 12 + rr[i].rdlen <= cap; i++) {
        m[o++] = 0xc0;
        m[o++] = 12; /* pointer to the question's name */
        m[o++] = (uint8_t)(rr[i].type >> 8);
        m[o++] = (uint8_t)rr[i].type;
        m[o++] = (uint8_t)(rr[i].klass >> 8);
        m[o++] = (uint8_t)rr[i].klass;
        memcpy(m + o, "\0\0\x0e\x10", 4); /* TTL 3600 */
        o += 4;
        m[o++] = (uint8_t)(rr[i].rdlen >> 8);
        m[o++] = (uint8_t)rr[i].rdlen;
        memcpy(m + o, rr[i].rdata, rr[i].rdlen);
        o += rr[i].rdlen;
    }
    return o;
}

#define TXT(s) {16, 1, s, sizeof s - 1}
#define DID1 "\x18" "did=did:plc:aaaaaaaaaaaa" /* one 24-byte character-string */

static void test_dns_parse(void)
{
    uint8_t m[1024];
    struct atv_buf out;
    struct atv_err err;
    size_t n;
    static const char *const nm = "_atproto.example.test";
    static const struct {
        const char *what;
        struct dns_rr rr[3];
        size_t n;
        enum atv_status want;
        const char *text;
    } cases[] = {
        {"one did= record", {TXT(DID1)}, 1, ATV_OK, "did=did:plc:aaaaaaaaaaaa"},
        {"two different did= records (the caller decides)",
         {TXT(DID1), TXT("\x18" "did=did:plc:bbbbbbbbbbbb")},
         2,
         ATV_OK,
         "did=did:plc:aaaaaaaaaaaa\ndid=did:plc:bbbbbbbbbbbb"},
        {"a non-did TXT", {TXT("\x0bv=spf1 -all")}, 1, ATV_OK, "v=spf1 -all"},
        {"strings of one record are joined", {TXT("\x0a" "did=did:pl" "\x0e" "c:aaaaaaaaaaaa")},
         1, ATV_OK, "did=did:plc:aaaaaaaaaaaa"},
        {"a CNAME on the way is skipped",
         {{5, 1, "\x03www\x00", 5}, TXT(DID1)}, 2, ATV_OK, "did=did:plc:aaaaaaaaaaaa"},
        {"class CH is not IN", {{16, 3, DID1, sizeof DID1 - 1}}, 1, ATV_E_NOT_FOUND, ""},
        {"no answer records", {TXT(DID1)}, 0, ATV_E_NOT_FOUND, ""},
        {"a string longer than its RDATA", {TXT("\x20" "did=did:plc:a")}, 1, ATV_E_PARSE, ""},
        {"a newline inside a string", {TXT("\x05" "did=\n")}, 1, ATV_E_PARSE, ""},
        {"a NUL inside a string", {{16, 1, "\x05" "did\0x", 6}}, 1, ATV_E_PARSE, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = dns_msg(m, sizeof m, cases[i].rr, cases[i].n, (uint16_t)cases[i].n);
        atv_buf_init(&out, 4096);
        atv_err_clear(&err);
        enum atv_status rc = atv_http_dns_txt_parse(m, n, nm, &out, &err);
        CHECK_MSG(rc == cases[i].want && out.len == strlen(cases[i].text) &&
                      (out.len == 0 || memcmp(out.ptr, cases[i].text, out.len) == 0),
                  "dns %s: %s (%s)", cases[i].what, atv_status_name(rc), err.msg);
        atv_buf_cleanup(&out);
    }

    /* truncated messages: at every length short of the whole, never a crash,
     * never ATV_OK, nothing left in out */
    static const struct dns_rr two[] = {TXT(DID1), TXT("\x0bv=spf1 -all")};
    size_t full = dns_msg(m, sizeof m, two, 2, 2);
    int all_refused = 1;
    for (size_t cut = 0; cut < full; cut++) {
        atv_buf_init(&out, 4096);
        atv_err_clear(&err);
        enum atv_status rc = atv_http_dns_txt_parse(m, cut, nm, &out, &err);
        if (rc == ATV_OK || out.len != 0) {
            all_refused = 0;
            DIAG("truncated at %zu of %zu: %s", cut, full, atv_status_name(rc));
        }
        atv_buf_cleanup(&out);
    }
    CHECK(all_refused);
    /* ancount promising more records than there are */
    n = dns_msg(m, sizeof m, two, 1, 2);
    atv_buf_init(&out, 4096);
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_dns_txt_parse(m, n, nm, &out, &err), ATV_E_PARSE, &err);
    CHECK_EQ(out.len, 0u);
    /* a compression pointer past the end of the message */
    n = dns_msg(m, sizeof m, two, 1, 1);
    /* the answer follows the header (12), the question name (23) and its
     * type and class (4): its owner-name pointer becomes 0xc0ff */
    CHECK(m[39] == 0xc0 && m[40] == 12);
    m[40] = 0xff;
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_dns_txt_parse(m, n, nm, &out, &err), ATV_E_PARSE, &err);
    atv_buf_cleanup(&out);
    /* out's cap is honoured and out is left as it was */
    n = dns_msg(m, sizeof m, two, 2, 2);
    atv_buf_init(&out, 30);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_append(&out, "x", 1, &err), ATV_OK, &err);
    CHECK_STATUS(atv_http_dns_txt_parse(m, n, nm, &out, &err), ATV_E_LIMIT, &err);
    CHECK(out.len == 1 && out.ptr[0] == 'x');
    atv_buf_cleanup(&out);
    /* misuse and an over-long message */
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_dns_txt_parse(NULL, 0, nm, &out, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_dns_txt_parse(m, 65536, nm, &out, &err), ATV_E_PARSE, &err);
}

/* ---- sub-sessions and the TXT lookup's deadline ------------------------------------ */

/* A loopback DNS server on 127.0.0.1 (port picked by the kernel) that the
 * lookups of a session are pointed at (atv_http_test_nameserver). With
 * rcode < 0 it never answers (a server that swallows queries: the socket is
 * never read); otherwise a thread answers one query with that rcode, echoing
 * the question, and with rcode 0 one IN TXT record holding DID1. */
struct dns_srv {
    int fd;
    int rcode;
    int served; /* the answering thread sent its answer */
    pthread_t tid;
    int has_thread;
    struct sockaddr_in addr;
};

static void *dns_srv_run(void *arg)
{
    struct dns_srv *d = arg;
    uint8_t q[512];
    uint8_t a[600];
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    struct pollfd pfd = {d->fd, POLLIN, 0};

    if (poll(&pfd, 1, 5000) != 1) {
        return NULL;
    }
    ssize_t n = recvfrom(d->fd, q, sizeof q, 0, (struct sockaddr *)&peer, &plen);
    if (n < 12) {
        return NULL;
    }
    size_t qn = (size_t)n;
    size_t o = 0;
    memcpy(a, q, qn); /* qn <= sizeof q < sizeof a: the header and the question */
    a[2] = 0x81; /* QR, RD (RFC 1035 section 4.1.1) */
    a[3] = (uint8_t)(0x80 | (d->rcode & 0x0f)); /* RA, RCODE */
    a[6] = 0;
    a[7] = d->rcode == 0 ? 1 : 0; /* ANCOUNT */
    memset(a + 8, 0, 4);          /* NSCOUNT, ARCOUNT (drops the query's EDNS OPT) */
    o = 12;
    while (o < qn && q[o] != 0) { /* the question's name */
        o += (size_t)q[o] + 1;
    }
    o += 5; /* root label, QTYPE, QCLASS */
    if (o > qn) {
        return NULL;
    }
    if (d->rcode == 0) {
        static const uint8_t rr[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0x0e, 0x10, 0, sizeof DID1 - 1};
        memcpy(a + o, rr, sizeof rr); /* o + 12 + 25 <= sizeof a: o <= 512 */
        o += sizeof rr;
        memcpy(a + o, DID1, sizeof DID1 - 1);
        o += sizeof DID1 - 1;
    }
    if (sendto(d->fd, a, o, 0, (struct sockaddr *)&peer, plen) == (ssize_t)o) {
        d->served = 1;
    }
    return NULL;
}

static int dns_srv_start(struct dns_srv *d, int rcode)
{
    socklen_t len = sizeof d->addr;
    memset(d, 0, sizeof *d);
    d->rcode = rcode;
    d->fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (d->fd < 0) {
        return -1;
    }
    d->addr.sin_family = AF_INET;
    d->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(d->fd, (struct sockaddr *)&d->addr, sizeof d->addr) != 0 ||
        getsockname(d->fd, (struct sockaddr *)&d->addr, &len) != 0) {
        close(d->fd);
        d->fd = -1;
        return -1;
    }
    if (rcode >= 0) {
        if (pthread_create(&d->tid, NULL, dns_srv_run, d) != 0) {
            close(d->fd);
            d->fd = -1;
            return -1;
        }
        d->has_thread = 1;
    }
    return 0;
}

static void dns_srv_stop(struct dns_srv *d)
{
    if (d->has_thread) {
        (void)pthread_join(d->tid, NULL);
        d->has_thread = 0;
    }
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
}

/* Lookup threads abandoned at a deadline finish on their own (libresolv
 * gives up after about a second); waiting for them before exiting keeps
 * valgrind and LeakSanitizer from seeing their jobs. Bounded at 10 s. */
static void dns_wait_idle(void)
{
    for (int i = 0; i < 200 && atv_http_dns_inflight() > 0; i++) {
        lb_sleep_ms(50);
    }
    CHECK_MSG(atv_http_dns_inflight() == 0, "%u lookup threads still running",
              atv_http_dns_inflight());
}

static const char *reason_of(const struct atv_err *e)
{
    return e->reason != NULL ? e->reason : "(none)";
}

static void test_dns_deadline(void)
{
    struct dns_srv mute;
    struct dns_srv ok;
    struct dns_srv nx;
    struct atv_http *h = NULL;
    struct atv_http *sub = NULL;
    struct atv_fetcher f;
    struct atv_buf out;
    struct atv_err err;
    uint64_t t0;
    uint64_t el;

    atv_buf_init(&out, 1024);
    CHECK(dns_srv_start(&mute, -1) == 0);

    /* a server that never answers: the session's 700 ms, not libresolv's
     * whole seconds (generous slack for a loaded machine) */
    h = session(700, 0, 0);
    CHECK(h != NULL);
    if (h != NULL && mute.fd >= 0) {
        atv_http_test_nameserver(h, &mute.addr);
        f = atv_http_fetcher(h);
        atv_err_clear(&err);
        t0 = lb_now_ms();
        CHECK_STATUS(f.txt(f.ctx, "_atproto.example.test", &out, &err), ATV_E_IO, &err);
        el = lb_now_ms() - t0;
        CHECK_MSG(el < 700 + 1500, "mute server: gave up after %llu ms", (unsigned long long)el);
        CHECK_MSG(el >= 500, "mute server: gave up early, after %llu ms", (unsigned long long)el);
        CHECK_MSG(strcmp(reason_of(&err), "timeout") == 0, "reason %s: %s", reason_of(&err),
                  err.msg);
        CHECK(out.len == 0);
    }
    atv_http_free(h);

    /* a sub-session: 400 ms out of a 20 s parent, which keeps its own */
    h = session(20000, 0, 1);
    CHECK(h != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_sub(h, 400, &sub, &err), ATV_OK, &err);
    if (h != NULL && sub != NULL && mute.fd >= 0) {
        uint32_t left = atv_http_remaining_ms(sub);
        CHECK_MSG(left > 200 && left <= 400, "sub remaining %u", (unsigned int)left);
        atv_http_test_nameserver(h, &mute.addr);
        atv_http_free(sub); /* made again, so that it inherits the test nameserver */
        sub = NULL;
        atv_err_clear(&err);
        CHECK_STATUS(atv_http_sub(h, 400, &sub, &err), ATV_OK, &err);
    }
    if (h != NULL && sub != NULL && mute.fd >= 0) {
        f = atv_http_fetcher(sub);
        atv_err_clear(&err);
        t0 = lb_now_ms();
        CHECK_STATUS(f.txt(f.ctx, "_atproto.example.test", &out, &err), ATV_E_IO, &err);
        el = lb_now_ms() - t0;
        CHECK_MSG(el < 400 + 1500, "sub-session: gave up after %llu ms", (unsigned long long)el);
        CHECK_MSG(strcmp(reason_of(&err), "timeout") == 0, "reason %s: %s", reason_of(&err),
                  err.msg);
        CHECK(atv_http_remaining_ms(sub) == 0);
        CHECK_MSG(atv_http_remaining_ms(h) > 15000, "parent keeps its budget: %u ms",
                  (unsigned int)atv_http_remaining_ms(h));
        /* the spent sub-session refuses HTTP at once, with the same reason */
        struct atv_http_resp r;
        atv_err_clear(&err);
        t0 = lb_now_ms();
        CHECK_STATUS(get(sub, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
        CHECK(lb_now_ms() - t0 < 100);
        CHECK_MSG(strcmp(reason_of(&err), "timeout") == 0, "http reason %s: %s",
                  reason_of(&err), err.msg);
        atv_http_resp_cleanup(&r);
        /* the parent still works */
        atv_err_clear(&err);
        CHECK_STATUS(get(h, "GET", lb_url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
        CHECK_EQ(r.status, 200L);
        atv_http_resp_cleanup(&r);
    }
    atv_http_free(sub);
    sub = NULL;
    /* a sub-session's own 300 ms bounds a stalling HTTP server too */
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_sub(h, 300, &sub, &err), ATV_OK, &err);
    if (sub != NULL) {
        struct atv_http_resp r;
        atv_err_clear(&err);
        t0 = lb_now_ms();
        CHECK_STATUS(get(sub, "GET", lb_url1("/stall"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
        el = lb_now_ms() - t0;
        CHECK_MSG(el < 300 + 1500, "stall in a sub-session: %llu ms", (unsigned long long)el);
        CHECK_MSG(strcmp(reason_of(&err), "timeout") == 0, "stall reason %s: %s",
                  reason_of(&err), err.msg);
        atv_http_resp_cleanup(&r);
    }
    atv_http_free(sub);
    sub = NULL;
    atv_http_free(h);

    /* never longer than the parent: 5000 ms asked of a 300 ms parent */
    h = session(300, 0, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_sub(h, 5000, &sub, &err), ATV_OK, &err);
    CHECK_MSG(atv_http_remaining_ms(sub) <= 300, "clamped sub remaining %u",
              (unsigned int)atv_http_remaining_ms(sub));
    atv_http_free(sub);
    sub = NULL;
    /* no budget: lookups fail at once, without a thread */
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_sub(h, 0, &sub, &err), ATV_OK, &err);
    CHECK(atv_http_remaining_ms(sub) == 0);
    if (sub != NULL) {
        f = atv_http_fetcher(sub);
        atv_err_clear(&err);
        t0 = lb_now_ms();
        CHECK_STATUS(f.txt(f.ctx, "_atproto.example.test", &out, &err), ATV_E_IO, &err);
        CHECK(lb_now_ms() - t0 < 100);
        CHECK_MSG(strcmp(reason_of(&err), "timeout") == 0, "reason %s", reason_of(&err));
    }
    atv_http_free(sub);
    sub = (struct atv_http *)&out; /* must be reset to NULL */
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_sub(NULL, 100, &sub, &err), ATV_E_USAGE, &err);
    CHECK(sub == NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_http_sub(h, 100, NULL, &err), ATV_E_USAGE, &err);
    atv_http_free(h);
    h = NULL;

    /* a server that answers: the record comes back through the thread */
    h = session(5000, 0, 0);
    CHECK(dns_srv_start(&ok, 0) == 0);
    if (h != NULL && ok.fd >= 0) {
        atv_http_test_nameserver(h, &ok.addr);
        f = atv_http_fetcher(h);
        atv_err_clear(&err);
        CHECK_STATUS(f.txt(f.ctx, "_atproto.example.test", &out, &err), ATV_OK, &err);
        CHECK_MSG(out.len == sizeof DID1 - 2 && memcmp(out.ptr, DID1 + 1, out.len) == 0,
                  "answer of %zu bytes", out.len);
        out.len = 0;
    }
    dns_srv_stop(&ok);
    CHECK(ok.served == 1);
    /* NXDOMAIN: no such name */
    CHECK(dns_srv_start(&nx, 3) == 0);
    if (h != NULL && nx.fd >= 0) {
        atv_http_test_nameserver(h, &nx.addr);
        f = atv_http_fetcher(h);
        atv_err_clear(&err);
        CHECK_STATUS(f.txt(f.ctx, "_atproto.example.test", &out, &err), ATV_E_NOT_FOUND, &err);
        CHECK(out.len == 0);
    }
    dns_srv_stop(&nx);
    atv_http_free(h);

    atv_buf_cleanup(&out);
    dns_wait_idle();
    dns_srv_stop(&mute);
}

int main(void)
{
    alarm(90); /* backstop for the whole file; each case is bounded far below */
    if (lb_start(s_respond) != 0) {
        CHECK_MSG(0, "loopback server failed to start");
        lb_stop();
        return atv_test_done();
    }
    test_session();
    test_loopback_table();
    test_ok_and_statuses();
    test_transport_failures();
    test_redirects();
    test_policy();
    test_fetcher();
    test_post();
    test_link();
    test_dns_parse();
    test_dns_deadline();
    lb_stop();
    return atv_test_done();
}
