/* Unit tests for common/http.c against a tiny HTTP/1.1 server on loopback.
 *
 * The server is a forked child listening on 127.0.0.1 (and 127.0.0.2 when
 * the kernel lets us bind it) on ports the kernel picks. It serves a fixed
 * table of paths, one connection at a time, "Connection: close" always, and
 * writes one line per connection and per request to a pipe the parent reads:
 *     C <local ip>                          a connection was accepted
 *     R <local ip> <METHOD> <path> auth=<0|1>  a request (auth: Authorization seen)
 *     T <local ip>                          a TLS ClientHello arrived
 * The log line is written before the answer, so once a request returns the
 * parent can read what the server saw. The child has an alarm as a backstop
 * and is killed (SIGKILL) and reaped at the end. Nothing but 127.0.0.0/8 is
 * ever contacted: proxies from the environment are unset first, and the
 * non-loopback URLs used (192.0.2.1, TEST-NET-1) are refused by policy
 * before any connection.
 */
#include "common/http.h"
#include "common/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIGEST "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
#define OK_BODY "hello world\n"
#define SECRET "Bearer s3cr3t-t0ken"

static struct {
    pid_t pid;
    int log_fd;
    unsigned int port1; /* 127.0.0.1 */
    unsigned int port2; /* 127.0.0.2; 0 when unavailable */
} srv = {-1, -1, 0, 0};

/* ---- the server (child) ------------------------------------------------------ */

static void s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void s_logw(int log_fd, const char *line)
{
    size_t n = strlen(line);
    while (n > 0) {
        ssize_t w = write(log_fd, line, n);
        if (w <= 0) {
            return;
        }
        line += w;
        n -= (size_t)w;
    }
}

static void s_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reads until the end of the request head; 0 on success, 1 for a TLS hello, -1 otherwise. */
static int s_read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0) {
            return -1;
        }
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) {
            return -1;
        }
        len += (size_t)r;
        buf[len] = '\0';
        if ((unsigned char)buf[0] == 0x16) {
            return 1;
        }
        if (strstr(buf, "\r\n\r\n") != NULL) {
            return 0;
        }
    }
    return -1;
}

static int s_has_auth(const char *req)
{
    for (const char *p = strstr(req, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "authorization:", 14) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Waits up to ms for the peer to close (or send), then returns. */
static void s_stall(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    (void)poll(&p, 1, ms);
}

static void s_respond(int fd, const char *method, const char *path, const char *ip)
{
    char head[4096];
    char body[8192];
    int head_only = strcmp(method, "HEAD") == 0;
    int n;

    if (strcmp(path, "/ok") == 0 || strcmp(path, "/r0") == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Docker-Content-Digest: " DIGEST "\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     strlen(OK_BODY));
        s_write_all(fd, head, (size_t)n);
        if (!head_only) {
            s_write_all(fd, OK_BODY, strlen(OK_BODY));
        }
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/big-close") == 0) {
        memset(body, 'x', 5000);
        if (strcmp(path, "/big") == 0) {
            n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n");
        } else { /* no length: the body ends when the connection closes */
            n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        }
        s_write_all(fd, head, (size_t)n);
        if (!head_only) {
            s_write_all(fd, body, 5000);
        }
    } else if (strcmp(path, "/404") == 0 || strcmp(path, "/500") == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Length: 4\r\nWWW-Authenticate: Bearer "
                     "realm=\"https://auth.example/token\",service=\"reg\"\r\n"
                     "Connection: close\r\n\r\nnope",
                     strcmp(path, "/404") == 0 ? "404 Not Found" : "500 Internal Server Error");
        s_write_all(fd, head, (size_t)n);
    } else if (strcmp(path, "/hdrs") == 0) {
        memset(body, 'a', 1500);
        body[1500] = '\0';
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\ncOnTeNt-TyPe:   application/json \t\r\n"
                     "docker-content-digest:" DIGEST "\r\n"
                     "Docker-Content-Digest: sha256:second\r\n"
                     "WWW-Authenticate: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                     body);
        s_write_all(fd, head, (size_t)n);
    } else if (strcmp(path, "/stall") == 0) {
        s_stall(fd, 3000);
    } else if (strcmp(path, "/drip") == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n");
        s_write_all(fd, head, (size_t)n);
        for (int i = 0; i < 100; i++) {
            if (send(fd, "d", 1, MSG_NOSIGNAL) != 1) {
                break;
            }
            s_sleep_ms(50);
        }
    } else if (strcmp(path, "/trunc") == 0) {
        n = snprintf(
            head, sizeof head,
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789");
        s_write_all(fd, head, (size_t)n);
    } else if (strncmp(path, "/r", 2) == 0 && path[2] >= '1' && path[2] <= '9' && path[3] == '\0') {
        /* /rN redirects to /r(N-1); /r0 is /ok: N redirects in all */
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 302 Found\r\nLocation: /r%c\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     path[2] - 1);
        s_write_all(fd, head, (size_t)n);
    } else {
        const char *loc = NULL;
        char abs[128];
        int code = 302;
        if (strcmp(path, "/rel") == 0) {
            loc = "ok";
        } else if (strcmp(path, "/abs") == 0) {
            (void)snprintf(abs, sizeof abs, "http://%s:%u/ok", ip,
                           strcmp(ip, "127.0.0.1") == 0 ? srv.port1 : srv.port2);
            loc = abs;
            code = 301;
        } else if (strcmp(path, "/loop") == 0) {
            loc = "/loop";
        } else if (strcmp(path, "/cross") == 0) {
            (void)snprintf(abs, sizeof abs, "http://127.0.0.2:%u/ok", srv.port2);
            loc = abs;
            code = 307;
        } else if (strcmp(path, "/ext") == 0) {
            loc = "http://192.0.2.1/x";
        } else if (strcmp(path, "/to-https") == 0) {
            (void)snprintf(abs, sizeof abs, "https://127.0.0.1:%u/ok", srv.port1);
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
        s_write_all(fd, head, (size_t)n);
    }
}

static void s_serve_one(int lfd, int log_fd)
{
    char req[8192];
    char line[512];
    char method[16];
    char path[256];
    char ip[INET_ADDRSTRLEN] = "?";
    struct sockaddr_in a;
    socklen_t alen = sizeof a;

    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        return;
    }
    if (getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        (void)inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    }
    (void)snprintf(line, sizeof line, "C %s\n", ip);
    s_logw(log_fd, line);
    int r = s_read_request(fd, req, sizeof req);
    if (r == 1) {
        (void)snprintf(line, sizeof line, "T %s\n", ip);
        s_logw(log_fd, line);
    } else if (r == 0) {
        /* request line: METHOD SP path SP version */
        const char *sp1 = strchr(req, ' ');
        const char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
        if (sp1 != NULL && sp2 != NULL && (size_t)(sp1 - req) < sizeof method &&
            (size_t)(sp2 - sp1 - 1) < sizeof path) {
            memcpy(method, req, (size_t)(sp1 - req));
            method[sp1 - req] = '\0';
            memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
            path[sp2 - sp1 - 1] = '\0';
            (void)snprintf(line, sizeof line, "R %s %s %s auth=%d\n", ip, method, path,
                           s_has_auth(req));
            s_logw(log_fd, line);
            s_respond(fd, method, path, ip);
        }
    }
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void s_main(int l1, int l2, int log_fd)
{
    (void)signal(SIGPIPE, SIG_IGN);
    alarm(120); /* backstop: never outlive a crashed parent for long */
    for (;;) {
        struct pollfd p[2] = {{l1, POLLIN, 0}, {l2, POLLIN, 0}};
        int r = poll(p, l2 >= 0 ? 2 : 1, 1000);
        if (getppid() == 1) {
            _exit(0);
        }
        if (r <= 0) {
            continue;
        }
        if ((p[0].revents & POLLIN) != 0) {
            s_serve_one(l1, log_fd);
        }
        if (l2 >= 0 && (p[1].revents & POLLIN) != 0) {
            s_serve_one(l2, log_fd);
        }
    }
}

/* ---- parent helpers ------------------------------------------------------------ */

static int listen_on(const char *ip, unsigned int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = 0; /* the kernel picks */
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* A loopback port nobody listens on: bound by us, then released. */
static unsigned int dead_port(void)
{
    unsigned int port = 0;
    int fd = listen_on("127.0.0.1", &port);
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static int server_start(void)
{
    int pipefd[2];
    int l2;
    int l1 = listen_on("127.0.0.1", &srv.port1);
    if (l1 < 0 || pipe(pipefd) != 0) {
        return -1;
    }
    l2 = listen_on("127.0.0.2", &srv.port2);
    if (l2 < 0) {
        srv.port2 = 0;
    }
    fflush(stdout);
    srv.pid = fork();
    if (srv.pid < 0) {
        return -1;
    }
    if (srv.pid == 0) {
        close(pipefd[0]);
        s_main(l1, l2, pipefd[1]);
        _exit(0);
    }
    close(pipefd[1]);
    close(l1);
    if (l2 >= 0) {
        close(l2);
    }
    srv.log_fd = pipefd[0];
    if (fcntl(srv.log_fd, F_SETFL, O_NONBLOCK) != 0) {
        return -1;
    }
    return 0;
}

static void server_stop(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        while (waitpid(srv.pid, NULL, 0) < 0 && errno == EINTR) {
        }
        srv.pid = -1;
    }
    if (srv.log_fd >= 0) {
        close(srv.log_fd);
        srv.log_fd = -1;
    }
}

/* What the server logged since the last call (lines are written before
 * answers, so a finished request's lines are already in the pipe). */
static const char *server_log(void)
{
    static char log[16384];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(srv.log_fd, log + len, sizeof log - 1 - len);
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
        if (len == sizeof log - 1) {
            break;
        }
    }
    log[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (log[i] == '\n') {
            log[i] = ';'; /* one TAP line per message */
        }
    }
    return log;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static uint64_t t_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *url1(const char *path)
{
    static char u[4][256];
    static int k;
    k = (k + 1) % 4;
    (void)snprintf(u[k], sizeof u[k], "http://127.0.0.1:%u%s", srv.port1, path);
    return u[k];
}

static struct atv_http *session(uint32_t timeout_ms, int allow_http, int allow_loopback)
{
    struct atv_http_opts o;
    struct atv_http *h = NULL;
    struct atv_err err;
    memset(&o, 0, sizeof o);
    o.timeout_ms = timeout_ms;
    o.allow_http = allow_http;
    o.allow_loopback_http = allow_loopback;
    atv_err_clear(&err);
    if (atv_http_new(&o, &h, &err) != ATV_OK) {
        DIAG("atv_http_new: %s", err.msg);
        return NULL;
    }
    return h;
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
    (void)server_log(); /* drop what earlier cases left */
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
    (void)snprintf(origin, sizeof origin, "http://127.0.0.1:%u", srv.port1);

    CHECK_STATUS(get(h, "GET", url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK(r.body.len == strlen(OK_BODY) && memcmp(r.body.ptr, OK_BODY, r.body.len) == 0);
    CHECK_STR(r.content_type, "text/plain");
    CHECK_STR(r.content_digest, DIGEST);
    CHECK_STR(r.final_url, url1("/ok"));
    atv_http_resp_cleanup(&r);

    /* HEAD: headers, no body, even with a cap smaller than Content-Length */
    CHECK_STATUS(get(h, "HEAD", url1("/ok"), NULL, 0, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK_EQ(r.body.len, 0u);
    CHECK_STR(r.content_digest, DIGEST);
    CHECK(strstr(server_log(), "R 127.0.0.1 HEAD /ok") != NULL);
    atv_http_resp_cleanup(&r);

    /* 404 and 500 are answers, not errors */
    CHECK_STATUS(get(h, "GET", url1("/404"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 404L);
    CHECK(r.body.len == 4 && memcmp(r.body.ptr, "nope", 4) == 0);
    CHECK_STR(r.www_authenticate, "Bearer realm=\"https://auth.example/token\",service=\"reg\"");
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", url1("/500"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 500L);
    atv_http_resp_cleanup(&r);

    /* header capture: names case-insensitive, values trimmed, first wins,
     * a value over its field is dropped to "" */
    CHECK_STATUS(get(h, "GET", url1("/hdrs"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_STR(r.content_type, "application/json");
    CHECK_STR(r.content_digest, DIGEST);
    CHECK_STR(r.www_authenticate, "");
    atv_http_resp_cleanup(&r);

    /* body caps: by Content-Length, and for a close-delimited body */
    CHECK_STATUS(get(h, "GET", url1("/big"), NULL, 100, 0, &r, &err), ATV_E_LIMIT, &err);
    CHECK(strstr(err.msg, origin) != NULL && strstr(err.msg, "100") != NULL);
    CHECK(r.body.len == 0 && r.body.ptr == NULL && r.status == 0);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", url1("/big-close"), NULL, 100, 0, &r, &err), ATV_E_LIMIT, &err);
    CHECK(r.body.len == 0 && r.body.ptr == NULL);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", url1("/big-close"), NULL, 5000, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.body.len, 5000u);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", url1("/big"), NULL, 4999, 0, &r, &err), ATV_E_LIMIT, &err);
    atv_http_resp_cleanup(&r);

    /* a body cut short (Content-Length 100, 10 bytes, close) */
    CHECK_STATUS(get(h, "GET", url1("/trunc"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
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
    unsigned int port = dead_port();

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
    (void)snprintf(url, sizeof url, "https://127.0.0.1:%u/ok", srv.port1);
    CHECK_STATUS(get(h, "GET", url, NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK_MSG(strstr(err.msg, "https://127.0.0.1") != NULL, "names the host: %s", err.msg);
    const char *log = server_log();
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
    uint64_t t0 = t_now_ms();
    CHECK_STATUS(get(h, "GET", url1("/stall"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    uint64_t el = t_now_ms() - t0;
    CHECK_MSG(el < 2000, "stall gave up after %llu ms", (unsigned long long)el);
    CHECK(strstr(err.msg, "timed out") != NULL);
    atv_http_resp_cleanup(&r);
    /* the session is spent: the next request fails at once, without connecting */
    t0 = t_now_ms();
    CHECK_STATUS(get(h, "GET", url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(t_now_ms() - t0 < 100);
    CHECK(strstr(err.msg, "deadline") != NULL);
    CHECK(atv_http_remaining_ms(h) == 0);
    CHECK_STR(server_log(), "");
    atv_http_resp_cleanup(&r);
    atv_http_free(h);

    /* a body that drips: 100 bytes at 20 per second would take 5 s */
    h = session(300, 0, 1);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    t0 = t_now_ms();
    CHECK_STATUS(get(h, "GET", url1("/drip"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    el = t_now_ms() - t0;
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
    CHECK_STATUS(get(h, "GET", url1("/rel"), SECRET, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK(r.body.len == strlen(OK_BODY) && memcmp(r.body.ptr, OK_BODY, r.body.len) == 0);
    CHECK_STR(r.final_url, url1("/ok"));
    log = server_log();
    CHECK_MSG(strstr(log, "R 127.0.0.1 GET /rel auth=1") != NULL &&
                  strstr(log, "R 127.0.0.1 GET /ok auth=1") != NULL,
              "auth on both same-host hops: %s", log);
    atv_http_resp_cleanup(&r);

    /* absolute, same host */
    CHECK_STATUS(get(h, "GET", url1("/abs"), SECRET, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    CHECK(strstr(server_log(), "R 127.0.0.1 GET /ok auth=1") != NULL);
    atv_http_resp_cleanup(&r);

    /* HEAD through a redirect stays HEAD */
    CHECK_STATUS(get(h, "HEAD", url1("/rel"), NULL, 0, 1, &r, &err), ATV_OK, &err);
    CHECK_STR(r.content_digest, DIGEST);
    CHECK(strstr(server_log(), "R 127.0.0.1 HEAD /ok") != NULL);
    atv_http_resp_cleanup(&r);

    /* not following: the 3xx is the answer */
    CHECK_STATUS(get(h, "GET", url1("/rel"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 302L);
    CHECK_STR(r.final_url, url1("/rel"));
    atv_http_resp_cleanup(&r);

    /* a 3xx without Location is an answer too */
    CHECK_STATUS(get(h, "GET", url1("/noloc"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 302L);
    atv_http_resp_cleanup(&r);

    /* exactly ATV_MAX_REDIRECTS is fine; one more is not */
    CHECK_STATUS(get(h, "GET", url1("/r3"), NULL, 1024, 1, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", url1("/r4"), NULL, 1024, 1, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "too many redirects") != NULL);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", url1("/loop"), NULL, 1024, 1, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "too many redirects") != NULL);
    CHECK_EQ(count_of(server_log(), "GET /loop"), (size_t)ATV_MAX_REDIRECTS + 1);
    atv_http_resp_cleanup(&r);

    /* to another host (127.0.0.2, also loopback): Authorization dropped */
    if (srv.port2 != 0) {
        CHECK_STATUS(get(h, "GET", url1("/cross"), SECRET, 1024, 1, &r, &err), ATV_OK, &err);
        CHECK_EQ(r.status, 200L);
        log = server_log();
        CHECK_MSG(strstr(log, "R 127.0.0.1 GET /cross auth=1") != NULL &&
                      strstr(log, "R 127.0.0.2 GET /ok auth=0") != NULL,
                  "auth only on the first host: %s", log);
        atv_http_resp_cleanup(&r);
    } else {
        DIAG("skip: cannot bind 127.0.0.2");
    }

    /* to plain http on a non-loopback host: refused without connecting,
     * even though loopback http is allowed */
    uint64_t t0 = t_now_ms();
    CHECK_STATUS(get(h, "GET", url1("/ext"), SECRET, 1024, 1, &r, &err), ATV_E_IO, &err);
    CHECK(t_now_ms() - t0 < 1000);
    CHECK_MSG(strstr(err.msg, "http://192.0.2.1") != NULL && strstr(err.msg, "refused") != NULL,
              "refused by policy: %s", err.msg);
    atv_http_resp_cleanup(&r);

    /* to https on the same host:port: a different origin (auth dropped); TLS fails */
    CHECK_STATUS(get(h, "GET", url1("/to-https"), SECRET, 1024, 1, &r, &err), ATV_E_IO, &err);
    log = server_log();
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
    CHECK_STATUS(get(h, "GET", url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "plain http refused") != NULL);
    CHECK_STR(server_log(), "");
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", "ftp://127.0.0.1/x", NULL, 1024, 0, &r, &err), ATV_E_IO, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "GET", "not a url", NULL, 1024, 0, &r, &err), ATV_E_PARSE, &err);
    atv_http_resp_cleanup(&r);
    CHECK_STATUS(get(h, "POST", url1("/ok"), NULL, 1024, 0, &r, &err), ATV_E_USAGE, &err);
    atv_http_resp_cleanup(&r);
    atv_http_free(h);

    /* allow_http: any host, loopback here */
    h = session(5000, 1, 0);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    CHECK_STATUS(get(h, "GET", url1("/ok"), NULL, 1024, 0, &r, &err), ATV_OK, &err);
    CHECK_EQ(r.status, 200L);
    atv_http_resp_cleanup(&r);
    /* userinfo is refused; neither it nor the Authorization value is echoed */
    (void)snprintf(url, sizeof url, "http://user:pa55w0rd@127.0.0.1:%u/ok", srv.port1);
    CHECK_STATUS(get(h, "GET", url, SECRET, 1024, 0, &r, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "pa55w0rd") == NULL && strstr(err.msg, "s3cr3t") == NULL);
    CHECK_STR(server_log(), "");
    atv_http_resp_cleanup(&r);
    /* header injection and credentials in the header list are misuse */
    {
        const char *bad[] = {"X-A: b\r\nEvil: 1", NULL};
        const char *cred[] = {"authorization: Basic eA==", NULL};
        const char *fine[] = {"Accept: application/json", NULL};
        struct atv_http_req q;
        memset(&q, 0, sizeof q);
        q.method = "GET";
        q.url = url1("/ok");
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
        int n = snprintf(longurl, sizeof longurl, "http://127.0.0.1:%u/", srv.port1);
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
    (void)server_log();
    CHECK_STATUS(f.get(f.ctx, url1("/rel"), 1024, &status, &out, &err), ATV_OK, &err);
    CHECK_EQ(status, 200L);
    CHECK(out.len == strlen(OK_BODY) && memcmp(out.ptr, OK_BODY, out.len) == 0);
    CHECK(strstr(server_log(), "auth=1") == NULL);
    atv_buf_cleanup(&out);

    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(f.get(f.ctx, url1("/404"), 1024, &status, &out, &err), ATV_OK, &err);
    CHECK_EQ(status, 404L);
    atv_buf_cleanup(&out);

    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    CHECK_STATUS(f.get(f.ctx, url1("/big"), 100, &status, &out, &err), ATV_E_LIMIT, &err);
    CHECK(status == 0 && out.len == 0);
    atv_buf_cleanup(&out);

    /* DNS: RFC 6761 .invalid names are answered negatively at once */
    atv_buf_init(&out, 1024);
    atv_err_clear(&err);
    uint64_t t0 = t_now_ms();
    enum atv_status rc = f.txt(f.ctx, "_atproto.example.invalid", &out, &err);
    CHECK_MSG(rc == ATV_E_NOT_FOUND || rc == ATV_E_IO, "txt .invalid: %s (%s)", atv_status_name(rc),
              err.msg);
    CHECK(t_now_ms() - t0 < 1000);
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

int main(void)
{
    /* Only loopback may be contacted: no proxy from the environment. */
    static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++) {
        (void)unsetenv(proxies[i]);
    }
    alarm(90); /* backstop for the whole file; each case is bounded far below */
    if (server_start() != 0) {
        CHECK_MSG(0, "loopback server failed to start");
        server_stop();
        return atv_test_done();
    }
    test_session();
    test_loopback_table();
    test_ok_and_statuses();
    test_transport_failures();
    test_redirects();
    test_policy();
    test_fetcher();
    server_stop();
    return atv_test_done();
}
