/* bench/loadgen.c: a TLS load generator and a slow-client holder for `atcr-verify serve`.
 *
 *   loadgen run  --port P --ca FILE --mix FILE [--host ADDR] [--servername NAME]
 *                [--requests N] [--connections C] [--max-seconds S] [--timeout-ms T]
 *                [--deadline-ms D] [--new-connection-every K] [--sync-start] [--out FILE]
 *   loadgen hold --port P --seconds S [--host ADDR] [--idle N] [--half-open N] [--slow N]
 *                [--no-reconnect] [--out FILE]
 *
 * run: C keep-alive TLS 1.3 connections (one thread each; the CA file is the only root, the
 * certificate must name --servername, or --host as an IP address) share at most N requests
 * taken in turn from the mix file, for at most S seconds; each answer is checked (status,
 * Content-Length framing, the mix line's expectations). --timeout-ms bounds each request (a
 * request that does not finish in time is an error); --deadline-ms counts answers slower
 * than it as late. --new-connection-every K closes a connection after K requests and opens
 * a new one (the certificate each new connection was given is recorded: rotation).
 * --sync-start opens every connection first and sends the first requests together (a
 * deploy storm).
 *
 * The mix file: one request per line, blank lines and lines starting with # skipped:
 *   NAME METHOD TARGET BODY EXPECT...
 * BODY is a file sent as the body (application/json) or "-" for none. EXPECT is one or
 * more alternatives, each a three-digit status followed by checks: +TEXT (the body must
 * contain TEXT) or !TEXT (it must not); TEXT is %XX-decoded (%20 a space). An answer is
 * right when one alternative matches whole. Request i (from 0) is line i modulo the lines.
 *   good GET /verify?image=127.0.0.1:5000/atv/app:good - 200 +"allowed":true
 *   flap GET /verify?image=127.0.0.1:5000/atv/app:bob - 200 +"allowed":true 503 +"transient":true
 *
 * hold: keeps N idle TCP connections (nothing sent), N half-open TLS handshakes (half a
 * ClientHello, then nothing) and N slow senders (a TLS handshake, then one byte of a request
 * every second) open for S seconds; a connection the server closes is counted (with its
 * lifetime) and opened again unless --no-reconnect.
 *
 * Both print one JSON document (stdout, or --out FILE). Exit: 0 (run: every answer right,
 * none late, no error, all done within the bounds), 1 otherwise, 2 usage, 3 setup failure.
 * Every wait is bounded: connects and handshakes by 5 s, requests by --timeout-ms, the run
 * by --max-seconds plus one connect, one --timeout-ms and 5 s (past that it reports what it
 * has, "complete": false, and exits 1). The descriptor limit is raised towards the hard
 * limit when the connections need it. */
#define _GNU_SOURCE /* memmem, POLLRDHUP */

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_LINES 256u
#define LG_MAX_ALTS 4u
#define LG_MAX_CHECKS 8u
#define LG_MAX_CHECK_LEN 512u
#define LG_MAX_NAME 64u
#define LG_MAX_TARGET 4096u
#define LG_MAX_MIX_LINE 8192u
#define LG_MAX_BODY ((size_t)4 << 20)     /* a request body file */
#define LG_MAX_HEADERS 16384u             /* a response's status line and headers */
#define LG_MAX_RESPONSE ((size_t)4 << 20) /* a response body */
#define LG_BODY_START ((size_t)64 << 10)  /* room for a body before the buffer grows */
#define LG_MAX_REQUESTS 10000000u
#define LG_MAX_CONNECTIONS 4096u
#define LG_MAX_SECONDS 3600u
#define LG_MAX_TIMEOUT_MS 600000u
#define LG_MAX_FPS 16u
#define LG_MAX_SAMPLES 8u
#define LG_SAMPLE_BODY 300u
#define LG_MAX_STATUSES 8u
#define LG_CONNECT_MS 5000u   /* TCP connect plus TLS handshake */
#define LG_STACK ((size_t)512 << 10)
#define LG_MAX_HOLD 20000u    /* hold: connections of each kind */
#define LG_HOLD_TICK_MS 1000u /* hold: a slow sender's byte interval */

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t now_ms(void)
{
    return now_us() / 1000u;
}

/* A decimal number in [lo, hi] into *out; 0 when s is not one. */
static int parse_num(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    unsigned long v = 0;
    size_t i, n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 9) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10u + (unsigned long)(s[i] - '0');
    }
    if (v < lo || v > hi) {
        return 0;
    }
    *out = v;
    return 1;
}

/* Reads a whole file of at most max bytes: a new buffer (NUL-terminated), or NULL. */
static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *len = 0;
    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            size_t ncap = cap == 0 ? 4096 : cap * 2;
            char *nb;
            if (cap > max) {
                goto fail;
            }
            nb = realloc(buf, ncap + 1);
            if (nb == NULL) {
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f) || n > max) {
        goto fail;
    }
    (void)fclose(f);
    if (buf == NULL) {
        buf = malloc(1);
        if (buf == NULL) {
            return NULL;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    (void)fclose(f);
    free(buf);
    return NULL;
}

/* JSON string contents of p[0..n) (quotes not included). */
static void json_str(FILE *o, const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            (void)fprintf(o, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            (void)fprintf(o, "\\u%04x", c);
        } else {
            (void)fputc(c, o);
        }
    }
}

/* Raises RLIMIT_NOFILE's soft limit towards the hard one when want descriptors do not fit. */
static void fit_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* ---- sockets with deadlines (non-blocking, poll) ------------------------------------------ */

/* Waits until fd is readable (or writable); 0, or -1 at the deadline (ms, monotonic). */
static int wait_fd(int fd, int write, uint64_t deadline_ms)
{
    for (;;) {
        struct pollfd p;
        uint64_t now = now_ms();
        int r;
        if (now >= deadline_ms) {
            return -1;
        }
        p.fd = fd;
        p.events = (short)(write ? POLLOUT : POLLIN);
        p.revents = 0;
        r = poll(&p, 1, (int)(deadline_ms - now > 1000 ? 1000 : deadline_ms - now));
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/* A non-blocking TCP connection to addr; -1 (msg set) on failure or at the deadline. */
static int tcp_connect(const struct sockaddr_in *addr, uint64_t deadline_ms, char *msg,
                       size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, soerr = 0;
    socklen_t sl = sizeof soerr;
    if (fd < 0) {
        (void)snprintf(msg, cap, "socket: %s", strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
        if (errno != EINPROGRESS) {
            (void)snprintf(msg, cap, "connect: %s", strerror(errno));
            (void)close(fd);
            return -1;
        }
        if (wait_fd(fd, 1, deadline_ms) != 0) {
            (void)snprintf(msg, cap, "connect: timed out");
            (void)close(fd);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            (void)snprintf(msg, cap, "connect: %s", strerror(soerr != 0 ? soerr : errno));
            (void)close(fd);
            return -1;
        }
    }
    return fd;
}

/* The text of OpenSSL's last error (or of errno / what), into msg. */
static void ssl_msg(char *msg, size_t cap, const char *what, SSL *ssl, int r)
{
    unsigned long e = ERR_get_error();
    int code = ssl != NULL ? SSL_get_error(ssl, r) : 0;
    if (e != 0) {
        char b[256];
        ERR_error_string_n(e, b, sizeof b);
        (void)snprintf(msg, cap, "%s: %s", what, b);
    } else if (code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && errno == 0)) {
        (void)snprintf(msg, cap, "%s: connection closed by the server", what);
    } else if (code == SSL_ERROR_SYSCALL) {
        (void)snprintf(msg, cap, "%s: %s", what, strerror(errno));
    } else {
        (void)snprintf(msg, cap, "%s: SSL error %d", what, code);
    }
    ERR_clear_error();
}

/* Drives a TLS operation on a non-blocking socket to completion: op returns SSL_connect /
 * SSL_read / SSL_write's result. Returns op's positive result, or <= 0 (msg set). */
enum tls_op { OP_CONNECT, OP_READ, OP_WRITE };
static int tls_do(SSL *ssl, int fd, enum tls_op op, void *buf, int len, uint64_t deadline_ms,
                  char *msg, size_t cap)
{
    static const char *const what[] = {"handshake", "read", "write"};
    for (;;) {
        int r, e;
        errno = 0;
        ERR_clear_error();
        r = op == OP_CONNECT ? SSL_connect(ssl)
            : op == OP_READ  ? SSL_read(ssl, buf, len)
                             : SSL_write(ssl, buf, len);
        if (r > 0) {
            return r;
        }
        e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(fd, e == SSL_ERROR_WANT_WRITE, deadline_ms) != 0) {
                (void)snprintf(msg, cap, "%s: timed out", what[op]);
                return -1;
            }
            continue;
        }
        ssl_msg(msg, cap, what[op], ssl, r);
        return r < 0 ? r : -1;
    }
}

/* The SHA-256 fingerprint of the peer's certificate, "AB:CD:...", into out (96 bytes). */
static void peer_fingerprint(SSL *ssl, char out[96])
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    size_t w = 0;
    out[0] = '\0';
    if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &n) != 1) {
        X509_free(cert);
        (void)snprintf(out, 96, "none");
        return;
    }
    for (i = 0; i < n && w + 4 <= 96; i++) {
        (void)snprintf(out + w, 96 - w, "%s%02X", i > 0 ? ":" : "", md[i]);
        w += i > 0 ? 3 : 2;
    }
    X509_free(cert);
}

/* ---- the mix ------------------------------------------------------------------------------- */

struct check {
    int must; /* 1: +TEXT, 0: !TEXT */
    size_t len;
    char text[LG_MAX_CHECK_LEN];
};
struct alt {
    int status;
    size_t n_checks;
    struct check checks[LG_MAX_CHECKS];
};
struct line {
    char name[LG_MAX_NAME + 1];
    char *req; /* the whole request, headers and body */
    size_t req_len;
    size_t n_alts;
    struct alt alts[LG_MAX_ALTS];
};
struct mix {
    struct line *lines;
    size_t n;
};

static void mix_free(struct mix *m)
{
    size_t i;
    for (i = 0; m->lines != NULL && i < m->n; i++) {
        free(m->lines[i].req);
    }
    free(m->lines);
    m->lines = NULL;
    m->n = 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                               : -1;
}

/* %XX-decodes tok into c; 0 when malformed or too long. */
static int take_check(const char *tok, struct check *c)
{
    size_t n = 0;
    c->must = tok[0] == '+';
    tok++;
    while (*tok != '\0') {
        char ch = *tok;
        if (ch == '%') {
            int hi = hexval(tok[1]), lo = hi >= 0 ? hexval(tok[2]) : -1;
            if (hi < 0 || lo < 0) {
                return 0;
            }
            ch = (char)(hi * 16 + lo);
            tok += 3;
        } else {
            tok++;
        }
        if (n + 1 >= sizeof c->text) {
            return 0;
        }
        c->text[n++] = ch;
    }
    c->text[n] = '\0';
    c->len = n;
    return n > 0;
}

/* One mix line into l (the request built for host_hdr); 0 with msg set when malformed. */
static int parse_line(char *text, const char *host_hdr, struct line *l, char *msg, size_t cap)
{
    char *tok[4 + LG_MAX_ALTS * (1 + LG_MAX_CHECKS)];
    size_t nt = 0, i, body_len = 0;
    char *t = text, *body = NULL;
    int n;

    memset(l, 0, sizeof *l);
    /* fields are separated by blanks; the line is cut in place */
    for (;;) {
        t += strspn(t, " \t\r\n");
        if (*t == '\0') {
            break;
        }
        if (nt == sizeof tok / sizeof tok[0]) {
            (void)snprintf(msg, cap, "too many fields");
            return 0;
        }
        tok[nt++] = t;
        t += strcspn(t, " \t\r\n");
        if (*t != '\0') {
            *t++ = '\0';
        }
    }
    if (nt < 5) {
        (void)snprintf(msg, cap, "want NAME METHOD TARGET BODY EXPECT...");
        return 0;
    }
    if (strlen(tok[0]) > LG_MAX_NAME || strspn(tok[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
                                            strlen(tok[1]) || tok[2][0] != '/' ||
        strlen(tok[2]) > LG_MAX_TARGET) {
        (void)snprintf(msg, cap, "bad NAME (64 bytes), METHOD (A-Z) or TARGET (/...)");
        return 0;
    }
    (void)snprintf(l->name, sizeof l->name, "%s", tok[0]);
    for (i = 4; i < nt; i++) {
        struct alt *a;
        unsigned long st;
        if (parse_num(tok[i], 100, 599, &st) && strlen(tok[i]) == 3) {
            if (l->n_alts == LG_MAX_ALTS) {
                (void)snprintf(msg, cap, "more than %u alternatives", LG_MAX_ALTS);
                return 0;
            }
            l->alts[l->n_alts].status = (int)st;
            l->alts[l->n_alts].n_checks = 0;
            l->n_alts++;
            continue;
        }
        if ((tok[i][0] != '+' && tok[i][0] != '!') || l->n_alts == 0) {
            (void)snprintf(msg, cap, "field %zu: want a status, +TEXT or !TEXT after a status",
                           i + 1);
            return 0;
        }
        a = &l->alts[l->n_alts - 1];
        if (a->n_checks == LG_MAX_CHECKS || !take_check(tok[i], &a->checks[a->n_checks])) {
            (void)snprintf(msg, cap, "field %zu: a bad check (at most %u, %u bytes each)", i + 1,
                           LG_MAX_CHECKS, LG_MAX_CHECK_LEN - 1);
            return 0;
        }
        a->n_checks++;
    }
    if (l->n_alts == 0) {
        (void)snprintf(msg, cap, "no expected status");
        return 0;
    }
    if (strcmp(tok[3], "-") != 0) {
        body = read_file(tok[3], LG_MAX_BODY, &body_len);
        if (body == NULL) {
            (void)snprintf(msg, cap, "body %s: cannot read (or over %zu bytes)", tok[3],
                           LG_MAX_BODY);
            return 0;
        }
    }
    l->req = malloc(LG_MAX_TARGET + 512 + body_len);
    if (l->req == NULL) {
        free(body);
        (void)snprintf(msg, cap, "out of memory");
        return 0;
    }
    if (body != NULL) {
        n = snprintf(l->req, LG_MAX_TARGET + 512,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: atv-loadgen\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     tok[1], tok[2], host_hdr, body_len);
    } else {
        n = snprintf(l->req, LG_MAX_TARGET + 512,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: atv-loadgen\r\n\r\n", tok[1],
                     tok[2], host_hdr);
    }
    if (n < 0 || (size_t)n >= LG_MAX_TARGET + 512) {
        free(body);
        (void)snprintf(msg, cap, "request too long");
        return 0;
    }
    l->req_len = (size_t)n;
    if (body != NULL) {
        /* the buffer holds LG_MAX_TARGET + 512 + body_len bytes: n < LG_MAX_TARGET + 512 */
        memcpy(l->req + l->req_len, body, body_len);
        l->req_len += body_len;
        free(body);
    }
    return 1;
}

static int mix_load(const char *path, const char *host_hdr, struct mix *m)
{
    FILE *f = fopen(path, "r");
    char buf[LG_MAX_MIX_LINE];
    unsigned lineno = 0;
    int ok = 1;

    memset(m, 0, sizeof *m);
    if (f == NULL) {
        (void)fprintf(stderr, "loadgen: --mix %s: %s\n", path, strerror(errno));
        return 0;
    }
    m->lines = calloc(LG_MAX_LINES, sizeof *m->lines);
    if (m->lines == NULL) {
        (void)fclose(f);
        return 0;
    }
    while (ok && fgets(buf, sizeof buf, f) != NULL) {
        char msg[200];
        size_t k = strspn(buf, " \t");
        lineno++;
        if (strchr(buf, '\n') == NULL && !feof(f)) {
            (void)fprintf(stderr, "loadgen: %s:%u: over %u bytes\n", path, lineno,
                          LG_MAX_MIX_LINE - 2);
            ok = 0;
            break;
        }
        if (buf[k] == '#' || buf[k] == '\n' || buf[k] == '\r' || buf[k] == '\0') {
            continue;
        }
        if (m->n == LG_MAX_LINES) {
            (void)fprintf(stderr, "loadgen: %s: over %u requests\n", path, LG_MAX_LINES);
            ok = 0;
            break;
        }
        if (!parse_line(buf, host_hdr, &m->lines[m->n], msg, sizeof msg)) {
            (void)fprintf(stderr, "loadgen: %s:%u: %s\n", path, lineno, msg);
            ok = 0;
            break;
        }
        m->n++;
    }
    (void)fclose(f);
    if (ok && m->n == 0) {
        (void)fprintf(stderr, "loadgen: %s: no requests\n", path);
        ok = 0;
    }
    if (!ok) {
        mix_free(m);
    }
    return ok;
}

/* ---- run: the shared state and each connection's thread -------------------------------- */

struct line_stats {
    unsigned long requests, ok, wrong, errors, late;
    int codes[LG_MAX_STATUSES];
    unsigned long code_n[LG_MAX_STATUSES];
};
struct fp {
    char hex[96];
    unsigned long n;
    uint64_t first_ms, last_ms;
};
struct sample {
    char line[LG_MAX_NAME + 1];
    int status;
    uint64_t at_ms;
    char text[LG_SAMPLE_BODY + 1];
};

struct run {
    /* set up before the threads start, then read-only */
    struct mix mix;
    struct sockaddr_in addr;
    const char *servername; /* NULL: verify --host as an IP address */
    const char *host;
    unsigned long requests, connections, max_seconds, timeout_ms, deadline_ms, every;
    int sync_start;
    uint64_t t0_ms, stop_ms;
    pthread_barrier_t barrier;
    /* shared */
    atomic_ulong next;      /* the next request's index */
    atomic_ulong finished;  /* threads that have finished */
    pthread_mutex_t mu;     /* fps and samples */
    struct fp fps[LG_MAX_FPS];
    size_t n_fps;
    unsigned long fps_other;
    struct sample wrong_s[LG_MAX_SAMPLES], err_s[LG_MAX_SAMPLES];
    size_t n_wrong_s, n_err_s;
};

struct worker {
    struct run *r;
    pthread_t th;
    int started;
    /* this thread's own counts; read by main after the join */
    struct line_stats *ls;    /* per mix line */
    uint32_t *lat;            /* microseconds, one per answer */
    size_t n_lat, cap_lat;
    unsigned long opened, closed_by_server, connect_failed, sync_failed;
    /* the connection; each thread has its own context: OpenSSL 3.0 updates a shared
     * X509_STORE's objects during verification without the lock its readers take, which
     * ThreadSanitizer reports (a shared context is what OpenSSL documents, but this tool is
     * checked under TSan too) */
    SSL_CTX *ctx;
    int fd;
    SSL *ssl;
    unsigned long on_conn;    /* requests on this connection */
    char *buf;                /* the response being read, buf_cap bytes, grown to what it needs */
    size_t buf_cap;
};

static void add_sample(struct run *r, int wrong, const char *line, int status, const char *text,
                       size_t len)
{
    struct sample *s;
    (void)pthread_mutex_lock(&r->mu);
    if (wrong ? r->n_wrong_s < LG_MAX_SAMPLES : r->n_err_s < LG_MAX_SAMPLES) {
        s = wrong ? &r->wrong_s[r->n_wrong_s++] : &r->err_s[r->n_err_s++];
        (void)snprintf(s->line, sizeof s->line, "%s", line);
        s->status = status;
        s->at_ms = now_ms() - r->t0_ms;
        if (len > LG_SAMPLE_BODY) {
            len = LG_SAMPLE_BODY;
        }
        memcpy(s->text, text, len);
        s->text[len] = '\0';
    }
    (void)pthread_mutex_unlock(&r->mu);
}

static void add_fp(struct run *r, const char *hex)
{
    size_t i;
    uint64_t t = now_ms() - r->t0_ms;
    (void)pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n_fps; i++) {
        if (strcmp(r->fps[i].hex, hex) == 0) {
            break;
        }
    }
    if (i == r->n_fps && r->n_fps < LG_MAX_FPS) {
        (void)snprintf(r->fps[i].hex, sizeof r->fps[i].hex, "%s", hex);
        r->fps[i].first_ms = t;
        r->n_fps++;
    }
    if (i < r->n_fps) {
        r->fps[i].n++;
        r->fps[i].last_ms = t;
    } else {
        r->fps_other++;
    }
    (void)pthread_mutex_unlock(&r->mu);
}

static void conn_close(struct worker *w)
{
    if (w->ssl != NULL) {
        /* a close_notify, best effort: the socket is non-blocking */
        (void)SSL_shutdown(w->ssl);
        SSL_free(w->ssl);
        w->ssl = NULL;
    }
    if (w->fd >= 0) {
        (void)close(w->fd);
        w->fd = -1;
    }
    w->on_conn = 0;
}

/* Opens a TLS connection for w; 0 with msg set on failure. */
static int conn_open(struct worker *w, char *msg, size_t cap)
{
    struct run *r = w->r;
    uint64_t deadline = now_ms() + LG_CONNECT_MS;
    char hex[96];
    X509_VERIFY_PARAM *vp;

    w->fd = tcp_connect(&r->addr, deadline, msg, cap);
    if (w->fd < 0) {
        return 0;
    }
    w->ssl = SSL_new(w->ctx);
    if (w->ssl == NULL || SSL_set_fd(w->ssl, w->fd) != 1) {
        (void)snprintf(msg, cap, "SSL_new failed");
        conn_close(w);
        return 0;
    }
    vp = SSL_get0_param(w->ssl);
    if (r->servername != NULL) {
        if (SSL_set_tlsext_host_name(w->ssl, r->servername) != 1 ||
            X509_VERIFY_PARAM_set1_host(vp, r->servername, 0) != 1) {
            (void)snprintf(msg, cap, "--servername: cannot be set");
            conn_close(w);
            return 0;
        }
    } else if (X509_VERIFY_PARAM_set1_ip_asc(vp, r->host) != 1) {
        (void)snprintf(msg, cap, "--host: not an IP address (give --servername)");
        conn_close(w);
        return 0;
    }
    if (tls_do(w->ssl, w->fd, OP_CONNECT, NULL, 0, deadline, msg, cap) <= 0) {
        long v = SSL_get_verify_result(w->ssl);
        if (v != X509_V_OK) {
            (void)snprintf(msg, cap, "handshake: certificate: %s",
                           X509_verify_cert_error_string(v));
        }
        conn_close(w);
        return 0;
    }
    peer_fingerprint(w->ssl, hex);
    add_fp(r, hex);
    w->opened++;
    return 1;
}

/* The first header named name (case-insensitive) in the header block h[0..n): its value's
 * start and length, or NULL. */
static const char *find_header(const char *h, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memmem(h, n, "\r\n", 2), *end = h + n;
    while (p != NULL && p + 2 < end) {
        const char *ls = p + 2, *le = memmem(ls, (size_t)(end - ls), "\r\n", 2);
        if (le == NULL) {
            le = end;
        }
        if ((size_t)(le - ls) > nl && strncasecmp(ls, name, nl) == 0 && ls[nl] == ':') {
            const char *v = ls + nl + 1;
            while (v < le && (*v == ' ' || *v == '\t')) {
                v++;
            }
            *vlen = (size_t)(le - v);
            while (*vlen > 0 && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t')) {
                (*vlen)--;
            }
            return v;
        }
        p = le < end ? le : NULL;
    }
    return NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The outcome of one request. */
enum outcome { O_OK = 0, O_WRONG, O_ERROR };

static int alt_matches(const struct alt *a, int status, const char *body, size_t len)
{
    size_t i;
    if (a->status != status) {
        return 0;
    }
    for (i = 0; i < a->n_checks; i++) {
        const struct check *c = &a->checks[i];
        int has = memmem(body, len, c->text, c->len) != NULL;
        if (has != c->must) {
            return 0;
        }
    }
    return 1;
}

/* Sends line l's request and reads its answer. *status is the answer's (0: none). *keep is
 * 0 when the connection cannot be used again. msg says what went wrong. */
static enum outcome exchange(struct worker *w, const struct line *l, int *status, int *keep,
                             char *msg, size_t cap)
{
    struct run *r = w->r;
    uint64_t deadline = now_ms() + r->timeout_ms;
    size_t have = 0, hdr_len = 0, body_len = 0, need = 0, vlen;
    const char *v, *eoh = NULL, *body;
    size_t i;

    *status = 0;
    *keep = 0;
    if (tls_do(w->ssl, w->fd, OP_WRITE, l->req, (int)l->req_len, deadline, msg, cap) <= 0) {
        return O_ERROR;
    }
    /* the status line and headers */
    while (eoh == NULL) {
        int n;
        if (have == LG_MAX_HEADERS) {
            (void)snprintf(msg, cap, "framing: headers over %u bytes", LG_MAX_HEADERS);
            return O_ERROR;
        }
        n = tls_do(w->ssl, w->fd, OP_READ, w->buf + have, (int)(LG_MAX_HEADERS - have),
                   deadline, msg, cap);
        if (n <= 0) {
            return O_ERROR;
        }
        have += (size_t)n;
        eoh = memmem(w->buf, have, "\r\n\r\n", 4);
    }
    hdr_len = (size_t)(eoh - w->buf) + 4;
    if (hdr_len < 13 || memcmp(w->buf, "HTTP/1.1 ", 9) != 0 || !is_digit(w->buf[9]) ||
        !is_digit(w->buf[10]) || !is_digit(w->buf[11]) || w->buf[12] != ' ') {
        (void)snprintf(msg, cap, "framing: not an HTTP/1.1 status line");
        return O_ERROR;
    }
    *status = (w->buf[9] - '0') * 100 + (w->buf[10] - '0') * 10 + (w->buf[11] - '0');
    if (find_header(w->buf, hdr_len - 2, "Transfer-Encoding", &vlen) != NULL) {
        (void)snprintf(msg, cap, "framing: Transfer-Encoding, want Content-Length");
        return O_ERROR;
    }
    v = find_header(w->buf, hdr_len - 2, "Content-Length", &vlen);
    if (v == NULL || vlen == 0 || vlen > 8) {
        (void)snprintf(msg, cap, "framing: no (or a bad) Content-Length");
        return O_ERROR;
    }
    for (i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9') {
            (void)snprintf(msg, cap, "framing: Content-Length not a number");
            return O_ERROR;
        }
        body_len = body_len * 10u + (size_t)(v[i] - '0');
    }
    if (body_len > LG_MAX_RESPONSE) {
        (void)snprintf(msg, cap, "framing: Content-Length %zu over %zu", body_len,
                       LG_MAX_RESPONSE);
        return O_ERROR;
    }
    need = hdr_len + body_len;
    if (need > w->buf_cap) {
        char *nb = realloc(w->buf, need);
        if (nb == NULL) {
            (void)snprintf(msg, cap, "out of memory for a %zu-byte body", body_len);
            return O_ERROR;
        }
        w->buf = nb;
        w->buf_cap = need;
    }
    while (have < need) {
        int n = tls_do(w->ssl, w->fd, OP_READ, w->buf + have, (int)(need - have), deadline, msg,
                       cap);
        if (n <= 0) {
            (void)snprintf(msg, cap, "framing: the body ended after %zu of %zu bytes",
                           have - hdr_len, body_len);
            return O_ERROR;
        }
        have += (size_t)n;
    }
    /* nothing may follow the body: we never pipeline */
    if (have > need || SSL_pending(w->ssl) > 0) {
        (void)snprintf(msg, cap, "framing: bytes after the body (Content-Length %zu)", body_len);
        return O_ERROR;
    }
    v = find_header(w->buf, hdr_len - 2, "Connection", &vlen);
    *keep = !(v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0);
    body = w->buf + hdr_len;
    for (i = 0; i < l->n_alts; i++) {
        if (alt_matches(&l->alts[i], *status, body, body_len)) {
            return O_OK;
        }
    }
    (void)snprintf(msg, cap, "%.*s", (int)(body_len < cap - 1 ? body_len : cap - 1), body);
    return O_WRONG;
}

/* Counts n answers of this status (the first LG_MAX_STATUSES distinct ones are kept). */
static void count_status(struct line_stats *s, int status, unsigned long n)
{
    size_t i;
    for (i = 0; i < LG_MAX_STATUSES; i++) {
        if (s->codes[i] == status || s->codes[i] == 0) {
            s->codes[i] = status;
            s->code_n[i] += n;
            return;
        }
    }
}

static int lat_add(struct worker *w, uint64_t us)
{
    if (w->n_lat == w->cap_lat) {
        size_t ncap = w->cap_lat == 0 ? 1024 : w->cap_lat * 2;
        uint32_t *n = realloc(w->lat, ncap * sizeof *n);
        if (n == NULL) {
            return 0;
        }
        w->lat = n;
        w->cap_lat = ncap;
    }
    w->lat[w->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return 1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->r;
    char msg[LG_SAMPLE_BODY + 1];

    if (r->sync_start) {
        /* every connection first, then the first requests together */
        if (!conn_open(w, msg, sizeof msg)) {
            w->connect_failed++;
            w->sync_failed++;
            add_sample(r, 0, "(connect)", 0, msg, strlen(msg));
        }
        (void)pthread_barrier_wait(&r->barrier);
    }
    for (;;) {
        unsigned long i;
        const struct line *l;
        struct line_stats *s;
        uint64_t t0;
        int status, keep;
        enum outcome o;

        if (now_ms() >= r->stop_ms) {
            break;
        }
        i = atomic_fetch_add(&r->next, 1);
        if (i >= r->requests) {
            break;
        }
        l = &r->mix.lines[i % r->mix.n];
        s = &w->ls[i % r->mix.n];
        s->requests++;
        if (w->ssl == NULL && !conn_open(w, msg, sizeof msg)) {
            w->connect_failed++;
            s->errors++;
            add_sample(r, 0, l->name, 0, msg, strlen(msg));
            /* do not spin on a refused port */
            (void)nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
            continue;
        }
        t0 = now_us();
        o = exchange(w, l, &status, &keep, msg, sizeof msg);
        if (o == O_ERROR) {
            s->errors++;
            add_sample(r, 0, l->name, status, msg, strlen(msg));
            conn_close(w);
            continue;
        }
        {
            uint64_t us = now_us() - t0;
            if (!lat_add(w, us)) {
                s->errors++;
                add_sample(r, 0, l->name, status, "out of memory", 13);
                conn_close(w);
                continue;
            }
            if (r->deadline_ms > 0 && us > r->deadline_ms * 1000u) {
                s->late++;
            }
        }
        count_status(s, status, 1);
        if (o == O_WRONG) {
            s->wrong++;
            add_sample(r, 1, l->name, status, msg, strlen(msg));
        } else {
            s->ok++;
        }
        w->on_conn++;
        if (!keep) {
            w->closed_by_server++;
            conn_close(w);
        } else if (r->every > 0 && w->on_conn >= r->every) {
            conn_close(w);
        }
    }
    conn_close(w);
    atomic_fetch_add(&r->finished, 1);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of sorted v[0..n), in milliseconds. */
static double pct(const uint32_t *v, size_t n, unsigned p)
{
    size_t k;
    if (n == 0) {
        return 0;
    }
    k = (n * p + 99) / 100;
    return (double)v[k > 0 ? k - 1 : 0] / 1000.0;
}

static void print_run(FILE *o, struct run *r, struct worker *ws, size_t nw, int complete,
                      uint64_t elapsed_ms, unsigned long *bad)
{
    struct line_stats *tot = calloc(r->mix.n, sizeof *tot);
    unsigned long req = 0, ok = 0, wrong = 0, errors = 0, late = 0, opened = 0, closed = 0,
                  cfail = 0;
    size_t i, j, k, n_lat = 0;
    uint32_t *all = NULL;
    struct rusage ru;

    for (i = 0; i < nw; i++) {
        n_lat += ws[i].n_lat;
    }
    all = malloc((n_lat > 0 ? n_lat : 1) * sizeof *all);
    if (tot == NULL || all == NULL) {
        (void)fprintf(stderr, "loadgen: out of memory\n");
        free(tot);
        free(all);
        *bad = 1;
        return;
    }
    n_lat = 0;
    for (i = 0; i < nw; i++) {
        /* ws[i].lat holds ws[i].n_lat entries; all was sized for the sum */
        if (ws[i].n_lat > 0) {
            memcpy(all + n_lat, ws[i].lat, ws[i].n_lat * sizeof *all);
        }
        n_lat += ws[i].n_lat;
        opened += ws[i].opened;
        closed += ws[i].closed_by_server;
        cfail += ws[i].connect_failed;
        for (j = 0; j < r->mix.n; j++) {
            const struct line_stats *s = &ws[i].ls[j];
            tot[j].requests += s->requests;
            tot[j].ok += s->ok;
            tot[j].wrong += s->wrong;
            tot[j].errors += s->errors;
            tot[j].late += s->late;
            for (k = 0; k < LG_MAX_STATUSES && s->codes[k] != 0; k++) {
                count_status(&tot[j], s->codes[k], s->code_n[k]);
            }
        }
    }
    for (j = 0; j < r->mix.n; j++) {
        req += tot[j].requests;
        ok += tot[j].ok;
        wrong += tot[j].wrong;
        errors += tot[j].errors;
        late += tot[j].late;
    }
    /* a connection of --sync-start that could not be opened is an error too */
    for (i = 0; i < nw; i++) {
        errors += ws[i].sync_failed;
    }
    qsort(all, n_lat, sizeof *all, cmp_u32);
    (void)fprintf(o, "{\"mode\":\"run\",\"complete\":%s,\"requests\":%lu,\"ok\":%lu,"
                     "\"wrong\":%lu,\"errors\":%lu,\"late\":%lu,\"connections\":%lu,"
                     "\"connections_opened\":%lu,\"connect_failed\":%lu,"
                     "\"closed_by_server\":%lu,",
                  complete ? "true" : "false", req, ok, wrong, errors, late, r->connections,
                  opened, cfail, closed);
    (void)fprintf(o, "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
                  pct(all, n_lat, 50), pct(all, n_lat, 90), pct(all, n_lat, 99),
                  n_lat > 0 ? (double)all[n_lat - 1] / 1000.0 : 0.0);
    (void)fprintf(o, "\"elapsed_s\":%.3f,\"rps\":%.1f,", (double)elapsed_ms / 1000.0,
                  elapsed_ms > 0 ? (double)(ok + wrong) * 1000.0 / (double)elapsed_ms : 0.0);
    /* the load generator's own CPU (make bench reports it: on 2 cores it competes with the
     * server it measures) */
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        (void)fprintf(o, "\"cpu_s\":{\"user\":%.3f,\"sys\":%.3f},",
                      (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    }
    (void)fprintf(o, "\"lines\":[");
    for (j = 0; j < r->mix.n; j++) {
        (void)fprintf(o, "%s{\"name\":\"", j > 0 ? "," : "");
        json_str(o, r->mix.lines[j].name, strlen(r->mix.lines[j].name));
        (void)fprintf(o, "\",\"requests\":%lu,\"ok\":%lu,\"wrong\":%lu,\"errors\":%lu,"
                         "\"late\":%lu,\"status\":{",
                      tot[j].requests, tot[j].ok, tot[j].wrong, tot[j].errors, tot[j].late);
        for (k = 0; k < LG_MAX_STATUSES && tot[j].codes[k] != 0; k++) {
            (void)fprintf(o, "%s\"%d\":%lu", k > 0 ? "," : "", tot[j].codes[k],
                          tot[j].code_n[k]);
        }
        (void)fprintf(o, "}}");
    }
    (void)fprintf(o, "],\"fingerprints\":[");
    for (i = 0; i < r->n_fps; i++) {
        (void)fprintf(o, "%s{\"sha256\":\"%s\",\"connections\":%lu,\"first_ms\":%llu,"
                         "\"last_ms\":%llu}",
                      i > 0 ? "," : "", r->fps[i].hex, r->fps[i].n,
                      (unsigned long long)r->fps[i].first_ms,
                      (unsigned long long)r->fps[i].last_ms);
    }
    (void)fprintf(o, "],\"fingerprints_other\":%lu,\"samples\":{\"wrong\":[", r->fps_other);
    for (i = 0; i < r->n_wrong_s; i++) {
        (void)fprintf(o, "%s{\"line\":\"", i > 0 ? "," : "");
        json_str(o, r->wrong_s[i].line, strlen(r->wrong_s[i].line));
        (void)fprintf(o, "\",\"status\":%d,\"at_ms\":%llu,\"body\":\"", r->wrong_s[i].status,
                      (unsigned long long)r->wrong_s[i].at_ms);
        json_str(o, r->wrong_s[i].text, strlen(r->wrong_s[i].text));
        (void)fprintf(o, "\"}");
    }
    (void)fprintf(o, "],\"errors\":[");
    for (i = 0; i < r->n_err_s; i++) {
        (void)fprintf(o, "%s{\"line\":\"", i > 0 ? "," : "");
        json_str(o, r->err_s[i].line, strlen(r->err_s[i].line));
        (void)fprintf(o, "\",\"status\":%d,\"at_ms\":%llu,\"error\":\"", r->err_s[i].status,
                      (unsigned long long)r->err_s[i].at_ms);
        json_str(o, r->err_s[i].text, strlen(r->err_s[i].text));
        (void)fprintf(o, "\"}");
    }
    (void)fprintf(o, "]}}\n");
    *bad = !complete || wrong > 0 || errors > 0 || late > 0 || req == 0;
    free(tot);
    free(all);
}

/* ---- hold: idle, half-open and slow connections --------------------------------------------- */

enum hkind { HK_IDLE = 0, HK_HALF, HK_SLOW, HK_COUNT };
static const char *const hk_name[HK_COUNT] = {"idle", "half_open", "slow"};

struct hconn {
    int fd;
    SSL *ssl;
    enum hkind kind;
    uint64_t opened_ms;
    size_t sent; /* slow: bytes of the request sent */
};

struct hold {
    struct sockaddr_in addr;
    SSL_CTX *ctx;
    unsigned char hello[4096]; /* a ClientHello record, for the half-open ones */
    size_t hello_len;
    char req[512];             /* what the slow senders send, one byte a second */
    size_t req_len;
    unsigned long opened[HK_COUNT], cut[HK_COUNT], failed[HK_COUNT];
    uint64_t cut_min_ms[HK_COUNT], cut_max_ms[HK_COUNT];
    size_t open_now, max_open;
    char last_err[300];
};

/* A ClientHello as a client would send it first (through memory BIOs, never on a socket). */
static int make_hello(struct hold *h)
{
    SSL *ssl = SSL_new(h->ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    int ok = 0, n;
    if (ssl == NULL || rb == NULL || wb == NULL) {
        BIO_free(rb);
        BIO_free(wb);
        SSL_free(ssl);
        return 0;
    }
    SSL_set_bio(ssl, rb, wb); /* ssl owns both */
    SSL_set_connect_state(ssl);
    (void)SSL_do_handshake(ssl); /* wants to read the ServerHello: the hello is in wb */
    n = BIO_read(wb, h->hello, (int)sizeof h->hello);
    if (n > 10) {
        h->hello_len = (size_t)n;
        ok = 1;
    }
    SSL_free(ssl);
    ERR_clear_error();
    return ok;
}

static void hconn_close(struct hold *h, struct hconn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        (void)close(c->fd);
        c->fd = -1;
        h->open_now--;
    }
}

/* Opens c (of its kind); 0 on failure (counted, c->fd -1). */
static int hconn_open(struct hold *h, struct hconn *c)
{
    uint64_t deadline = now_ms() + LG_CONNECT_MS;
    char msg[200];
    c->ssl = NULL;
    c->sent = 0;
    c->fd = tcp_connect(&h->addr, deadline, msg, sizeof msg);
    if (c->fd < 0) {
        goto fail;
    }
    h->open_now++;
    if (c->kind == HK_HALF) {
        /* half the ClientHello: the server's handshake waits for the rest */
        size_t half = h->hello_len / 2;
        if (send(c->fd, h->hello, half, MSG_NOSIGNAL) != (ssize_t)half) {
            (void)snprintf(msg, sizeof msg, "send: %s", strerror(errno));
            hconn_close(h, c);
            goto fail;
        }
    } else if (c->kind == HK_SLOW) {
        c->ssl = SSL_new(h->ctx);
        if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
            tls_do(c->ssl, c->fd, OP_CONNECT, NULL, 0, deadline, msg, sizeof msg) <= 0) {
            hconn_close(h, c);
            goto fail;
        }
    }
    c->opened_ms = now_ms();
    h->opened[c->kind]++;
    if (h->open_now > h->max_open) {
        h->max_open = h->open_now;
    }
    return 1;
fail:
    h->failed[c->kind]++;
    (void)snprintf(h->last_err, sizeof h->last_err, "%s: %.200s", hk_name[c->kind], msg);
    return 0;
}

/* 1 when the server has closed c (its data, if any, is drained and dropped). */
static int hconn_closed(struct hconn *c, short revents)
{
    unsigned char scratch[4096];
    if (revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) {
        return 1;
    }
    if (!(revents & POLLIN)) {
        return 0;
    }
    if (c->ssl != NULL) {
        /* session tickets, or an alert */
        for (;;) {
            int r = SSL_read(c->ssl, scratch, (int)sizeof scratch);
            if (r > 0) {
                continue;
            }
            r = SSL_get_error(c->ssl, r);
            ERR_clear_error();
            return !(r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE);
        }
    }
    for (;;) {
        ssize_t r = recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (r > 0) {
            continue;
        }
        return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
}

static int run_hold(struct hold *h, const unsigned long n[HK_COUNT], unsigned long seconds,
                    int reconnect, FILE *o)
{
    size_t total = n[HK_IDLE] + n[HK_HALF] + n[HK_SLOW], i;
    struct hconn *cs = calloc(total > 0 ? total : 1, sizeof *cs);
    struct pollfd *pf = calloc(total > 0 ? total : 1, sizeof *pf);
    uint64_t t0 = now_ms(), end = t0 + seconds * 1000u, next_tick = t0 + LG_HOLD_TICK_MS;
    int k;

    if (cs == NULL || pf == NULL) {
        free(cs);
        free(pf);
        return 3;
    }
    for (i = 0; i < total; i++) {
        cs[i].fd = -1;
        cs[i].kind = i < n[HK_IDLE] ? HK_IDLE : i < n[HK_IDLE] + n[HK_HALF] ? HK_HALF : HK_SLOW;
    }
    for (k = 0; k < HK_COUNT; k++) {
        h->cut_min_ms[k] = UINT64_MAX;
    }
    for (i = 0; i < total && now_ms() < end; i++) {
        (void)hconn_open(h, &cs[i]);
    }
    while (now_ms() < end) {
        uint64_t now = now_ms();
        uint64_t wake = next_tick < end ? next_tick : end;
        int r;
        for (i = 0; i < total; i++) {
            pf[i].fd = cs[i].fd; /* -1: ignored by poll */
            pf[i].events = POLLIN | POLLRDHUP;
            pf[i].revents = 0;
        }
        r = poll(pf, (nfds_t)total, wake > now ? (int)(wake - now) : 0);
        if (r < 0 && errno != EINTR) {
            break;
        }
        now = now_ms();
        for (i = 0; r > 0 && i < total; i++) {
            if (cs[i].fd >= 0 && pf[i].revents != 0 && hconn_closed(&cs[i], pf[i].revents)) {
                uint64_t life = now - cs[i].opened_ms;
                enum hkind kd = cs[i].kind;
                h->cut[kd]++;
                h->cut_min_ms[kd] = life < h->cut_min_ms[kd] ? life : h->cut_min_ms[kd];
                h->cut_max_ms[kd] = life > h->cut_max_ms[kd] ? life : h->cut_max_ms[kd];
                hconn_close(h, &cs[i]);
            }
        }
        if (now >= next_tick) {
            next_tick += LG_HOLD_TICK_MS;
            for (i = 0; i < total; i++) {
                struct hconn *c = &cs[i];
                if (c->kind == HK_SLOW && c->ssl != NULL && c->sent < h->req_len) {
                    /* one byte; a failure shows up as the server's close */
                    ERR_clear_error();
                    if (SSL_write(c->ssl, h->req + c->sent, 1) == 1) {
                        c->sent++;
                    }
                    ERR_clear_error();
                }
            }
        }
        if (reconnect) {
            for (i = 0; i < total && now_ms() < end; i++) {
                if (cs[i].fd < 0) {
                    (void)hconn_open(h, &cs[i]);
                }
            }
        }
    }
    (void)fprintf(o, "{\"mode\":\"hold\",\"seconds\":%.3f,\"max_open\":%zu,\"open_at_end\":%zu,",
                  (double)(now_ms() - t0) / 1000.0, h->max_open, h->open_now);
    for (k = 0; k < HK_COUNT; k++) {
        (void)fprintf(o, "\"%s\":{\"wanted\":%lu,\"opened\":%lu,\"failed\":%lu,\"cut\":%lu,"
                         "\"cut_after_ms\":{\"min\":%llu,\"max\":%llu}},",
                      hk_name[k], n[k], h->opened[k], h->failed[k], h->cut[k],
                      (unsigned long long)(h->cut[k] > 0 ? h->cut_min_ms[k] : 0),
                      (unsigned long long)h->cut_max_ms[k]);
    }
    (void)fprintf(o, "\"last_error\":\"");
    json_str(o, h->last_err, strlen(h->last_err));
    (void)fprintf(o, "\"}\n");
    for (i = 0; i < total; i++) {
        hconn_close(h, &cs[i]);
    }
    free(cs);
    free(pf);
    return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(void)
{
    (void)fprintf(stderr,
                  "usage: loadgen run --port P --ca FILE --mix FILE [--host ADDR] "
                  "[--servername NAME]\n"
                  "                   [--requests N] [--connections C] [--max-seconds S] "
                  "[--timeout-ms T]\n"
                  "                   [--deadline-ms D] [--new-connection-every K] "
                  "[--sync-start] [--out FILE]\n"
                  "       loadgen hold --port P --seconds S [--host ADDR] [--idle N] "
                  "[--half-open N] [--slow N]\n"
                  "                   [--no-reconnect] [--out FILE]\n");
}

struct opts {
    const char *host, *servername, *ca, *mix, *out;
    unsigned long port, requests, connections, max_seconds, timeout_ms, deadline_ms, every;
    unsigned long seconds, hold_n[HK_COUNT];
    int sync_start, reconnect;
};

static int parse_opts(int argc, char **argv, int hold, struct opts *op)
{
    int i;
    memset(op, 0, sizeof *op);
    op->host = "127.0.0.1";
    op->requests = 1000;
    op->connections = 8;
    op->max_seconds = 60;
    op->timeout_ms = 10000;
    op->reconnect = 1;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, takes = 1;
        if (strcmp(a, "--sync-start") == 0 && !hold) {
            op->sync_start = 1;
            takes = 0;
        } else if (strcmp(a, "--no-reconnect") == 0 && hold) {
            op->reconnect = 0;
            takes = 0;
        } else if (v == NULL) {
            ok = 0;
        } else if (strcmp(a, "--host") == 0) {
            op->host = v;
        } else if (strcmp(a, "--port") == 0) {
            ok = parse_num(v, 1, 65535, &op->port);
        } else if (strcmp(a, "--out") == 0) {
            op->out = v;
        } else if (!hold && strcmp(a, "--servername") == 0) {
            op->servername = v;
        } else if (!hold && strcmp(a, "--ca") == 0) {
            op->ca = v;
        } else if (!hold && strcmp(a, "--mix") == 0) {
            op->mix = v;
        } else if (!hold && strcmp(a, "--requests") == 0) {
            ok = parse_num(v, 1, LG_MAX_REQUESTS, &op->requests);
        } else if (!hold && strcmp(a, "--connections") == 0) {
            ok = parse_num(v, 1, LG_MAX_CONNECTIONS, &op->connections);
        } else if (!hold && strcmp(a, "--max-seconds") == 0) {
            ok = parse_num(v, 1, LG_MAX_SECONDS, &op->max_seconds);
        } else if (!hold && strcmp(a, "--timeout-ms") == 0) {
            ok = parse_num(v, 1, LG_MAX_TIMEOUT_MS, &op->timeout_ms);
        } else if (!hold && strcmp(a, "--deadline-ms") == 0) {
            ok = parse_num(v, 1, LG_MAX_TIMEOUT_MS, &op->deadline_ms);
        } else if (!hold && strcmp(a, "--new-connection-every") == 0) {
            ok = parse_num(v, 1, LG_MAX_REQUESTS, &op->every);
        } else if (hold && strcmp(a, "--seconds") == 0) {
            ok = parse_num(v, 1, LG_MAX_SECONDS, &op->seconds);
        } else if (hold && strcmp(a, "--idle") == 0) {
            ok = parse_num(v, 0, LG_MAX_HOLD, &op->hold_n[HK_IDLE]);
        } else if (hold && strcmp(a, "--half-open") == 0) {
            ok = parse_num(v, 0, LG_MAX_HOLD, &op->hold_n[HK_HALF]);
        } else if (hold && strcmp(a, "--slow") == 0) {
            ok = parse_num(v, 0, LG_MAX_HOLD, &op->hold_n[HK_SLOW]);
        } else {
            ok = 0;
        }
        if (!ok) {
            (void)fprintf(stderr, "loadgen: %s%s%s: bad or unknown option\n", a,
                          v != NULL && takes ? " " : "", v != NULL && takes ? v : "");
            return 0;
        }
        i += takes;
    }
    if (op->port == 0 || (!hold && (op->ca == NULL || op->mix == NULL)) ||
        (hold && op->seconds == 0)) {
        (void)fprintf(stderr, "loadgen: %s required\n",
                      hold ? "--port and --seconds" : "--port, --ca and --mix");
        return 0;
    }
    return 1;
}

static SSL_CTX *client_ctx(const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (ca != NULL) {
        /* the CA file is the only root: no default paths */
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            (void)fprintf(stderr, "loadgen: --ca %s: cannot be loaded\n", ca);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    /* a full handshake on every connection, so every one shows the certificate in use */
    (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    (void)SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

static int do_run(const struct opts *op, FILE *o)
{
    struct run *r = calloc(1, sizeof *r);
    struct worker *ws = NULL;
    pthread_attr_t attr;
    char host_hdr[300];
    size_t i, nw;
    int rc = 3, complete = 1, attr_ok = 0, barrier_ok = 0, mu_ok = 0;
    unsigned long bad = 1;
    uint64_t hard_stop;

    if (r == NULL) {
        return 3;
    }
    (void)snprintf(host_hdr, sizeof host_hdr, "%s:%lu",
                   op->servername != NULL ? op->servername : op->host, op->port);
    r->host = op->host;
    r->servername = op->servername;
    r->requests = op->requests;
    r->connections = op->connections;
    r->max_seconds = op->max_seconds;
    r->timeout_ms = op->timeout_ms;
    r->deadline_ms = op->deadline_ms;
    r->every = op->every;
    r->sync_start = op->sync_start;
    r->addr.sin_family = AF_INET;
    r->addr.sin_port = htons((uint16_t)op->port);
    if (inet_pton(AF_INET, op->host, &r->addr.sin_addr) != 1) {
        (void)fprintf(stderr, "loadgen: --host %s: want an IPv4 address\n", op->host);
        goto out;
    }
    if (!mix_load(op->mix, host_hdr, &r->mix)) {
        goto out;
    }
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        goto out;
    }
    mu_ok = 1;
    nw = (size_t)op->connections;
    ws = calloc(nw, sizeof *ws);
    if (ws == NULL) {
        goto out;
    }
    for (i = 0; i < nw; i++) {
        ws[i].r = r;
        ws[i].fd = -1;
        ws[i].ls = calloc(r->mix.n, sizeof *ws[i].ls);
        ws[i].buf_cap = LG_MAX_HEADERS + LG_BODY_START;
        ws[i].buf = malloc(ws[i].buf_cap);
        ws[i].ctx = client_ctx(op->ca);
        if (ws[i].ls == NULL || ws[i].buf == NULL || ws[i].ctx == NULL) {
            goto out;
        }
    }
    fit_nofile((rlim_t)nw + 64);
    if (op->sync_start) {
        if (pthread_barrier_init(&r->barrier, NULL, (unsigned)nw) != 0) {
            goto out;
        }
        barrier_ok = 1;
    }
    if (pthread_attr_init(&attr) != 0) {
        goto out;
    }
    attr_ok = 1;
    (void)pthread_attr_setstacksize(&attr, LG_STACK);
    atomic_init(&r->next, 0);
    atomic_init(&r->finished, 0);
    r->t0_ms = now_ms();
    r->stop_ms = r->t0_ms + op->max_seconds * 1000u;
    for (i = 0; i < nw; i++) {
        if (pthread_create(&ws[i].th, &attr, worker_main, &ws[i]) != 0) {
            (void)fprintf(stderr, "loadgen: thread %zu: cannot start\n", i);
            /* with --sync-start the others wait for it at the barrier: stop here */
            (void)fflush(stderr);
            _exit(3);
        }
        ws[i].started = 1;
    }
    /* the threads stop by themselves; this is the bound on the whole run */
    hard_stop = r->stop_ms + LG_CONNECT_MS + op->timeout_ms + 5000u;
    while (atomic_load(&r->finished) < nw) {
        if (now_ms() >= hard_stop) {
            complete = 0;
            break;
        }
        (void)nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (!complete) {
        /* threads still blocked: report what is known (their counts may be mid-update) and
         * leave without joining them */
        (void)fprintf(stderr, "loadgen: threads still running after the hard stop\n");
        (void)fprintf(o, "{\"mode\":\"run\",\"complete\":false,\"requests\":%lu}\n",
                      (unsigned long)atomic_load(&r->next));
        (void)fflush(o);
        _exit(1);
    }
    for (i = 0; i < nw; i++) {
        (void)pthread_join(ws[i].th, NULL);
        ws[i].started = 0;
    }
    print_run(o, r, ws, nw, complete, now_ms() - r->t0_ms, &bad);
    rc = bad ? 1 : 0;
out:
    if (attr_ok) {
        (void)pthread_attr_destroy(&attr);
    }
    if (barrier_ok) {
        (void)pthread_barrier_destroy(&r->barrier);
    }
    if (mu_ok) {
        (void)pthread_mutex_destroy(&r->mu);
    }
    for (i = 0; ws != NULL && i < (size_t)op->connections; i++) {
        free(ws[i].ls);
        free(ws[i].buf);
        free(ws[i].lat);
        SSL_CTX_free(ws[i].ctx);
    }
    free(ws);
    mix_free(&r->mix);
    free(r);
    return rc;
}

static int do_hold(const struct opts *op, FILE *o)
{
    struct hold *h = calloc(1, sizeof *h);
    int rc = 3, n;
    if (h == NULL) {
        return 3;
    }
    h->addr.sin_family = AF_INET;
    h->addr.sin_port = htons((uint16_t)op->port);
    if (inet_pton(AF_INET, op->host, &h->addr.sin_addr) != 1) {
        (void)fprintf(stderr, "loadgen: --host %s: want an IPv4 address\n", op->host);
        goto out;
    }
    h->ctx = client_ctx(NULL);
    if (h->ctx == NULL || !make_hello(h)) {
        (void)fprintf(stderr, "loadgen: TLS setup failed\n");
        goto out;
    }
    /* longer than the 10 s a whole request may take: never complete */
    n = snprintf(h->req, sizeof h->req,
                 "GET /verify?image=slowloris.invalid/a/b:c HTTP/1.1\r\nHost: %s:%lu\r\n"
                 "User-Agent: atv-loadgen-slow\r\nX-Pad: %0200d\r\n\r\n",
                 op->host, op->port, 0);
    if (n < 0 || (size_t)n >= sizeof h->req) {
        goto out;
    }
    h->req_len = (size_t)n;
    fit_nofile((rlim_t)(op->hold_n[HK_IDLE] + op->hold_n[HK_HALF] + op->hold_n[HK_SLOW]) + 64);
    rc = run_hold(h, op->hold_n, op->seconds, op->reconnect, o);
out:
    SSL_CTX_free(h->ctx);
    free(h);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts op;
    FILE *o = stdout;
    int rc, hold;

    if (argc < 2 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "hold") != 0)) {
        usage();
        return 2;
    }
    hold = strcmp(argv[1], "hold") == 0;
    if (!parse_opts(argc, argv, hold, &op)) {
        usage();
        return 2;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    if (op.out != NULL) {
        o = fopen(op.out, "w");
        if (o == NULL) {
            (void)fprintf(stderr, "loadgen: --out %s: %s\n", op.out, strerror(errno));
            return 3;
        }
    }
    rc = hold ? do_hold(&op, o) : do_run(&op, o);
    if (o != stdout && fclose(o) != 0) {
        rc = 3;
    }
    return rc;
}
