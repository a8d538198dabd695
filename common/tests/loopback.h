/* common/tests/loopback.h: a tiny HTTP/1.1 server on loopback for the tests
 * that drive common/http.c over real sockets (tests only; never included by
 * library code).
 *
 * The server is a forked child listening on 127.0.0.1 (and 127.0.0.2 when
 * the kernel lets us bind it) on ports the kernel picks. It serves one
 * connection at a time, "Connection: close" always, reads the request head
 * and a Content-Length body (both bounded by LB_REQ_MAX), calls the test's
 * respond function, and writes one line per event to a pipe the parent reads:
 *     C <local ip>                              a connection was accepted
 *     R <local ip> <METHOD> <path> auth=<0|1>   a request (auth: Authorization seen)
 *     B <content-type> <body>                   the request had a body (\n shown as ?)
 *     T <local ip>                              a TLS ClientHello arrived
 * Lines are written before the answer, so once a request returns the parent
 * can read what the server saw. The child has an alarm as a backstop, exits
 * when its parent is gone, and is killed (SIGKILL) and reaped by lb_stop.
 * Nothing but 127.0.0.0/8 is ever contacted: lb_start unsets the proxy
 * variables first. Every wait is bounded (poll timeouts, LB_ALARM_S).
 */
#ifndef ATV_COMMON_TESTS_LOOPBACK_H
#define ATV_COMMON_TESTS_LOOPBACK_H

#include "common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Request head plus body the server reads. */
#define LB_REQ_MAX 8192u
/* How long the server waits for a request's bytes. */
#define LB_READ_WAIT_MS 2000
/* The child's backstop: it never outlives a crashed parent for long. */
#define LB_ALARM_S 120u

struct lb_request {
    const char *method;
    const char *path;
    const char *ip;        /* the local address the connection came to */
    const char *head;      /* the request head, NUL-terminated */
    const char *body;      /* NUL-terminated; "" when none */
    size_t body_len;
};
/* A test's respond function writes the answer for one request to fd; the
 * server closes fd afterwards. */

static struct {
    pid_t pid;
    int log_fd;
    unsigned int port1; /* 127.0.0.1 */
    unsigned int port2; /* 127.0.0.2; 0 when unavailable */
} lb = {-1, -1, 0, 0};

/* ---- the server (child) ------------------------------------------------------ */

__attribute__((unused)) static void lb_write_all(int fd, const char *p, size_t n)
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

/* Writes a whole answer: status line, Content-Length, Connection: close,
 * extra (full "Name: value\r\n" lines, may be ""), then the body unless HEAD. */
__attribute__((unused)) static void lb_reply(int fd, const struct lb_request *rq,
                                             const char *status, const char *extra,
                                             const char *body, size_t body_len)
{
    char head[4096];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     extra, body_len);
    if (n < 0 || (size_t)n >= sizeof head) {
        return;
    }
    lb_write_all(fd, head, (size_t)n);
    if (strcmp(rq->method, "HEAD") != 0 && body_len > 0) {
        lb_write_all(fd, body, body_len);
    }
}

static void lb_logw(int log_fd, const char *line)
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

__attribute__((unused)) static void lb_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits up to ms for the peer to close (or send), then returns. */
__attribute__((unused)) static void lb_stall(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    (void)poll(&p, 1, ms);
}

/* The value of header name in head ("" when absent), copied into out. */
static void lb_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ') {
                v++;
            }
            size_t vl = strcspn(v, "\r\n");
            (void)snprintf(out, cap, "%.*s", (int)vl, v);
            return;
        }
    }
}

/* Reads the request head and its Content-Length body into buf. Returns 0 on
 * success (*head_len set), 1 for a TLS hello, -1 otherwise. */
static int lb_read_request(int fd, char *buf, size_t cap, size_t *head_len)
{
    size_t len = 0;
    size_t want = 0;
    char cl[32];
    *head_len = 0;
    while (len + 1 < cap) {
        if (*head_len > 0 && len >= want) {
            return 0;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, LB_READ_WAIT_MS) <= 0) {
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
        const char *end = strstr(buf, "\r\n\r\n");
        if (*head_len == 0 && end != NULL) {
            *head_len = (size_t)(end - buf) + 4;
            lb_header(buf, "content-length", cl, sizeof cl);
            char *e = NULL;
            unsigned long v = cl[0] != '\0' ? strtoul(cl, &e, 10) : 0;
            if (cl[0] != '\0' && (e == NULL || *e != '\0' || v >= cap)) {
                return -1;
            }
            want = *head_len + v;
        }
    }
    return -1;
}

static void lb_serve_one(int lfd, int log_fd, void (*respond)(int fd, const struct lb_request *rq))
{
    char req[LB_REQ_MAX];
    char line[LB_REQ_MAX + 256];
    char method[16];
    char path[512];
    char ctype[128];
    char ip[INET_ADDRSTRLEN] = "?";
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    size_t head_len = 0;

    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        return;
    }
    if (getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        (void)inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    }
    (void)snprintf(line, sizeof line, "C %s\n", ip);
    lb_logw(log_fd, line);
    int r = lb_read_request(fd, req, sizeof req, &head_len);
    if (r == 1) {
        (void)snprintf(line, sizeof line, "T %s\n", ip);
        lb_logw(log_fd, line);
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
            lb_header(req, "authorization", ctype, sizeof ctype);
            (void)snprintf(line, sizeof line, "R %s %s %s auth=%d\n", ip, method, path,
                           ctype[0] != '\0');
            lb_logw(log_fd, line);
            const char *body = req + head_len;
            size_t body_len = strlen(body);
            if (body_len > 0) {
                lb_header(req, "content-type", ctype, sizeof ctype);
                int n = snprintf(line, sizeof line, "B %s %s\n", ctype, body);
                for (int i = 2; n > 0 && i < n - 1 && (size_t)i < sizeof line - 1; i++) {
                    if (line[i] == '\n') {
                        line[i] = '?';
                    }
                }
                lb_logw(log_fd, line);
            }
            req[head_len > 0 ? head_len - 2 : 0] = '\0'; /* the head alone, one CRLF kept */
            struct lb_request rq = {method, path, ip, req, body, body_len};
            respond(fd, &rq);
        }
    }
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void lb_main(int l1, int l2, int log_fd,
                    void (*respond)(int fd, const struct lb_request *rq))
{
    (void)signal(SIGPIPE, SIG_IGN);
    alarm(LB_ALARM_S);
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
            lb_serve_one(l1, log_fd, respond);
        }
        if (l2 >= 0 && (p[1].revents & POLLIN) != 0) {
            lb_serve_one(l2, log_fd, respond);
        }
    }
}

/* ---- parent helpers ------------------------------------------------------------ */

static int lb_listen_on(const char *ip, unsigned int *port)
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
__attribute__((unused)) static unsigned int lb_dead_port(void)
{
    unsigned int port = 0;
    int fd = lb_listen_on("127.0.0.1", &port);
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* Starts the server. Returns 0, or -1 (then call lb_stop anyway). */
__attribute__((unused)) static int lb_start(void (*respond)(int fd, const struct lb_request *rq))
{
    static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    int pipefd[2];
    int l2;
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++) {
        (void)unsetenv(proxies[i]);
    }
    int l1 = lb_listen_on("127.0.0.1", &lb.port1);
    if (l1 < 0 || pipe(pipefd) != 0) {
        return -1;
    }
    l2 = lb_listen_on("127.0.0.2", &lb.port2);
    if (l2 < 0) {
        lb.port2 = 0;
    }
    fflush(stdout);
    lb.pid = fork();
    if (lb.pid < 0) {
        return -1;
    }
    if (lb.pid == 0) {
        close(pipefd[0]);
        lb_main(l1, l2, pipefd[1], respond);
        _exit(0);
    }
    close(pipefd[1]);
    close(l1);
    if (l2 >= 0) {
        close(l2);
    }
    lb.log_fd = pipefd[0];
    if (fcntl(lb.log_fd, F_SETFL, O_NONBLOCK) != 0) {
        return -1;
    }
    return 0;
}

__attribute__((unused)) static void lb_stop(void)
{
    if (lb.pid > 0) {
        kill(lb.pid, SIGKILL);
        while (waitpid(lb.pid, NULL, 0) < 0 && errno == EINTR) {
        }
        lb.pid = -1;
    }
    if (lb.log_fd >= 0) {
        close(lb.log_fd);
        lb.log_fd = -1;
    }
}

/* What the server logged since the last call, lines joined by ';' (one TAP
 * line per message). Lines are written before answers, so a finished
 * request's lines are already in the pipe. */
__attribute__((unused)) static const char *lb_log(void)
{
    static char log[16384];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(lb.log_fd, log + len, sizeof log - 1 - len);
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
            log[i] = ';';
        }
    }
    return log;
}

__attribute__((unused)) static size_t lb_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

__attribute__((unused)) static uint64_t lb_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "http://127.0.0.1:PORT" + path (a ring of four buffers, so a few may be
 * live at once). */
__attribute__((unused)) static const char *lb_url1(const char *path)
{
    static char u[4][512];
    static int k;
    k = (k + 1) % 4;
    (void)snprintf(u[k], sizeof u[k], "http://127.0.0.1:%u%s", lb.port1, path);
    return u[k];
}

/* A client session for the tests against these servers (common/http.h). */
__attribute__((unused)) static struct atv_http *lb_session(uint32_t timeout_ms, int allow_http,
                                                           int allow_loopback)
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
        printf("# atv_http_new: %s\n", err.msg);
        return NULL;
    }
    return h;
}

#endif
