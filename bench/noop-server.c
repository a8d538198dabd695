/* bench/noop-server.c: the do-nothing TLS responder of `make bench` (bench/serve.mjs).
 *
 *   noop-server --cert FILE --key FILE --body FILE [--port P]
 *
 * Listens on 127.0.0.1 (port P, default 0 = any), speaks TLS 1.3 and HTTP/1.1 keep-alive on
 * the same stack as `atcr-verify serve` (libevent's evhttp over bufferevent_openssl, one event
 * loop, TCP_NODELAY), reads each request whole and answers every one with 200 and the bytes
 * of --body as application/json: no parsing, no work. It is the most a server on this stack
 * and this machine can show, the ceiling the benchmark compares `serve` with.
 *
 * Prints "listening on PORT" on stdout once ready; runs until SIGTERM or SIGINT (exit 0).
 * Never for production: it answers anything, to anyone on loopback. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NOOP_MAX_BODY ((size_t)1 << 20)

struct noop {
    SSL_CTX *ctx;
    char *body;
    size_t body_len;
};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;
    if (f == NULL) {
        return NULL;
    }
    buf = malloc(NOOP_MAX_BODY + 1);
    if (buf != NULL) {
        n = fread(buf, 1, NOOP_MAX_BODY + 1, f);
        if (ferror(f) || n > NOOP_MAX_BODY) {
            free(buf);
            buf = NULL;
        } else {
            *len = n;
        }
    }
    (void)fclose(f);
    return buf;
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
    struct noop *n = arg;
    SSL *ssl = SSL_new(n->ctx);
    if (ssl == NULL) {
        return NULL;
    }
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct noop *n = arg;
    struct evbuffer *b = evhttp_request_get_output_buffer(req);
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                            "application/json");
    (void)evbuffer_add_reference(b, n->body, n->body_len, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)event_base_loopexit(arg, NULL);
}

static int usage(void)
{
    (void)fprintf(stderr, "usage: noop-server --cert FILE --key FILE --body FILE [--port P]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *body = NULL;
    unsigned long port = 0;
    struct noop n = {0};
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    struct evhttp_bound_socket *bound = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int i, rc = 1;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cert") == 0) {
            cert = argv[i + 1];
        } else if (strcmp(argv[i], "--key") == 0) {
            key = argv[i + 1];
        } else if (strcmp(argv[i], "--body") == 0) {
            body = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            char *end = NULL;
            port = strtoul(argv[i + 1], &end, 10);
            if (end == argv[i + 1] || *end != '\0' || port > 65535) {
                return usage();
            }
        } else {
            return usage();
        }
    }
    if (i != argc || cert == NULL || key == NULL || body == NULL) {
        return usage();
    }
    n.body = read_file(body, &n.body_len);
    if (n.body == NULL) {
        (void)fprintf(stderr, "noop-server: %s: cannot read (at most 1 MiB)\n", body);
        return 1;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    n.ctx = SSL_CTX_new(TLS_server_method());
    if (n.ctx == NULL || SSL_CTX_set_min_proto_version(n.ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(n.ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(n.ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(n.ctx) != 1) {
        (void)fprintf(stderr, "noop-server: TLS setup failed\n");
        ERR_print_errors_fp(stderr);
        goto out;
    }
    base = event_base_new();
    http = base != NULL ? evhttp_new(base) : NULL;
    if (http == NULL) {
        goto out;
    }
    evhttp_set_bevcb(http, tls_bev, &n);
    evhttp_set_gencb(http, on_request, &n);
    evhttp_set_max_body_size(http, (ev_ssize_t)NOOP_MAX_BODY);
    bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (bound == NULL) {
        (void)fprintf(stderr, "noop-server: cannot listen on 127.0.0.1:%lu\n", port);
        goto out;
    }
    /* accepted sockets inherit it: without it every keep-alive answer waits for the ACK */
    (void)setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &(int){1},
                     sizeof(int));
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sa, &sl) != 0) {
        goto out;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) != 0 ||
        event_add(sigint, NULL) != 0) {
        goto out;
    }
    (void)printf("listening on %u\n", (unsigned)ntohs(sa.sin_port));
    (void)fflush(stdout);
    rc = event_base_dispatch(base) == 0 ? 0 : 1;
out:
    if (sigterm != NULL) {
        event_free(sigterm);
    }
    if (sigint != NULL) {
        event_free(sigint);
    }
    if (http != NULL) {
        evhttp_free(http);
    }
    if (base != NULL) {
        event_base_free(base);
    }
    SSL_CTX_free(n.ctx);
    free(n.body);
    return rc;
}
