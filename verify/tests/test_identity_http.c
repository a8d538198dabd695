/* Identity resolution (atproto/identity.c) over real HTTP: the fetcher is
 * atv_http_fetcher(h) from common/http.c, the server the loopback one of
 * common/tests/loopback.h, playing a PLC directory at http://127.0.0.1:PORT
 * (allow_loopback_http = 1).
 *
 * did:web and handle .well-known documents are https-only (identity.c builds
 * https:// URLs), and a test never reaches the network. So:
 *   - did:web: the URL construction is checked, and resolving a loopback
 *     did:web through the real fetcher must speak TLS to our plain server
 *     (the server sees a ClientHello, never a plain request): no downgrade;
 *   - handles: a thin wrapper fetcher stands in for DNS and TLS only. Its get
 *     rewrites https://HANDLE/... to http://127.0.0.1:PORT/h/HANDLE/... and
 *     hands that to atv_http_fetcher(h).get, so bodies, statuses, caps and
 *     the deadline all come from real HTTP; its txt is NULL (no DNS here).
 * Redirects: http.h follows them for a fetcher GET, each hop re-checked by
 * the same policy, so a redirect to another loopback host (127.0.0.2) is
 * followed and one to a non-loopback http host is refused without contact.
 */
#include "atproto/atproto.h"
#include "common/http.h"
#include "common/limits.h"
#include "common/test.h"
#include "common/tests/loopback.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define PLC_ID(c) c c c c c c c c c c c c c c c c c c c c c c c c /* 24 base32 characters */
#define DID_OK "did:plc:" PLC_ID("a")
#define DID_404 "did:plc:" PLC_ID("b")
#define DID_410 "did:plc:" PLC_ID("c")
#define DID_500 "did:plc:" PLC_ID("d")
#define DID_OTHER_ID "did:plc:" PLC_ID("e")
#define DID_BIG "did:plc:" PLC_ID("f")
#define DID_STALL "did:plc:" PLC_ID("g")
#define DID_HOP "did:plc:" PLC_ID("h")
#define DID_EXT "did:plc:" PLC_ID("i")
#define DID_BOB "did:plc:" PLC_ID("j")
#define MULTIKEY "zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7"

/* A DID document for did, declaring handle. */
#define DOC(did, handle)                                                                           \
    "{\"id\":\"" did "\",\"alsoKnownAs\":[\"at://" handle "\"],"                                   \
    "\"verificationMethod\":[{\"id\":\"" did "#atproto\",\"type\":\"Multikey\","                   \
    "\"controller\":\"" did "\",\"publicKeyMultibase\":\"" MULTIKEY "\"}],"                        \
    "\"service\":[{\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","                \
    "\"serviceEndpoint\":\"https://pds.example.com\"}]}"

static const char doc_ok[] = DOC(DID_OK, "alice.test");
static const char doc_hop[] = DOC(DID_HOP, "hop.test");
static const char doc_bob[] = DOC(DID_BOB, "bob.test");

/* ---- the server's answers (child) ------------------------------------------------ */

static void respond_big(int fd, const struct lb_request *rq)
{
    /* one byte over ATV_MAX_DIDDOC, announced by Content-Length */
    char *big = malloc(ATV_MAX_DIDDOC + 1);
    if (big == NULL) {
        lb_reply(fd, rq, "500 Internal Server Error", "", "", 0);
        return;
    }
    memset(big, ' ', ATV_MAX_DIDDOC + 1);
    memcpy(big, doc_ok, sizeof doc_ok - 1); /* a valid document padded with spaces */
    lb_reply(fd, rq, "200 OK", "Content-Type: application/json\r\n", big, ATV_MAX_DIDDOC + 1);
    free(big);
}

static void respond_redirect(int fd, const struct lb_request *rq, const char *location)
{
    char extra[600];
    (void)snprintf(extra, sizeof extra, "Location: %s\r\n", location);
    lb_reply(fd, rq, "302 Found", extra, "", 0);
}

static void respond(int fd, const struct lb_request *rq)
{
    static const char json[] = "Content-Type: application/json\r\n";
    static const char text[] = "Content-Type: text/plain\r\n";
    const char *p = rq->path;
    char loc[512];

    if (strcmp(p, "/" DID_OK) == 0) {
        lb_reply(fd, rq, "200 OK", json, doc_ok, sizeof doc_ok - 1);
    } else if (strcmp(p, "/" DID_410) == 0) {
        lb_reply(fd, rq, "410 Gone", json, "{\"message\":\"DID not available\"}", 31);
    } else if (strcmp(p, "/" DID_500) == 0) {
        lb_reply(fd, rq, "500 Internal Server Error", text, "oops", 4);
    } else if (strcmp(p, "/" DID_OTHER_ID) == 0) {
        lb_reply(fd, rq, "200 OK", json, doc_ok, sizeof doc_ok - 1); /* id is DID_OK */
    } else if (strcmp(p, "/" DID_BIG) == 0) {
        respond_big(fd, rq);
    } else if (strcmp(p, "/" DID_STALL) == 0) {
        lb_stall(fd, 3000);
    } else if (strcmp(p, "/" DID_HOP) == 0 && strcmp(rq->ip, "127.0.0.1") == 0) {
        (void)snprintf(loc, sizeof loc, "http://127.0.0.2:%u/%s", lb.port2, DID_HOP);
        respond_redirect(fd, rq, loc);
    } else if (strcmp(p, "/" DID_HOP) == 0) {
        lb_reply(fd, rq, "200 OK", json, doc_hop, sizeof doc_hop - 1);
    } else if (strcmp(p, "/" DID_EXT) == 0) {
        respond_redirect(fd, rq, "http://192.0.2.1/" DID_EXT); /* TEST-NET-1: refused */
    } else if (strcmp(p, "/" DID_BOB) == 0) {
        lb_reply(fd, rq, "200 OK", json, doc_bob, sizeof doc_bob - 1);
    } else if (strcmp(p, "/h/alice.test/.well-known/atproto-did") == 0) {
        lb_reply(fd, rq, "200 OK", text, DID_OK "\n", sizeof DID_OK);
    } else if (strcmp(p, "/h/spaces.test/.well-known/atproto-did") == 0) {
        static const char b[] = "  \t" DID_OK " \r\nsecond line\n";
        lb_reply(fd, rq, "200 OK", text, b, sizeof b - 1);
    } else if (strcmp(p, "/h/bob.test/.well-known/atproto-did") == 0) {
        lb_reply(fd, rq, "200 OK", text, DID_OK, sizeof DID_OK - 1); /* not bob's DID */
    } else if (strcmp(p, "/h/junk.test/.well-known/atproto-did") == 0) {
        lb_reply(fd, rq, "200 OK", text, "<html>hello</html>", 18);
    } else if (strcmp(p, "/h/big.test/.well-known/atproto-did") == 0) {
        char b[3000];
        memset(b, ' ', sizeof b);
        memcpy(b, DID_OK, sizeof DID_OK - 1);
        lb_reply(fd, rq, "200 OK", text, b, sizeof b);
    } else {
        lb_reply(fd, rq, "404 Not Found", text, "not found", 9); /* DID_404 and the rest */
    }
}

/* ---- parent helpers ---------------------------------------------------------------- */

static char plc_url[64];

static struct atv_http *session(uint32_t timeout_ms, int allow_loopback)
{
    return lb_session(timeout_ms, 0, allow_loopback);
}

static enum atv_status resolve(struct atv_http *h, const char *did, struct atv_diddoc *dd,
                               struct atv_buf *copy, struct atv_err *err)
{
    struct atv_fetcher f = atv_http_fetcher(h);
    atv_err_clear(err);
    (void)lb_log();
    return atv_atp_did_resolve(&f, plc_url, did, copy, dd, err);
}

/* The handle wrapper: https://HANDLE/PATH -> http://127.0.0.1:PORT/h/HANDLE/PATH,
 * then the real fetcher. Anything else is refused (a test bug). */
struct handle_ctx {
    struct atv_fetcher real;
    int calls;
};

static enum atv_status handle_get(void *ctx, const char *url, size_t max, long *status,
                                  struct atv_buf *out, struct atv_err *err)
{
    struct handle_ctx *hc = ctx;
    char local[ATV_MAX_URL];
    hc->calls++;
    if (strncmp(url, "https://", 8) != 0) {
        return atv_err_set(err, ATV_E_USAGE, "handle wrapper: not an https URL");
    }
    int n = snprintf(local, sizeof local, "http://127.0.0.1:%u/h/%s", lb.port1, url + 8);
    if (n < 0 || (size_t)n >= sizeof local) {
        return atv_err_set(err, ATV_E_LIMIT, "handle wrapper: url too long");
    }
    return hc->real.get(hc->real.ctx, local, max, status, out, err);
}

static struct atv_fetcher handle_fetcher(struct handle_ctx *hc, struct atv_http *h)
{
    struct atv_fetcher f = {handle_get, NULL, hc};
    hc->real = atv_http_fetcher(h);
    hc->calls = 0;
    return f;
}

/* ---- cases -------------------------------------------------------------------------- */

static void test_did_plc(void)
{
    struct atv_http *h = session(5000, 1);
    struct atv_diddoc dd;
    struct atv_buf copy;
    struct atv_err err;
    const char *log;

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    /* 200: a valid document, and its raw bytes for the cache */
    atv_buf_init(&copy, ATV_MAX_DIDDOC + 1);
    CHECK_STATUS(resolve(h, DID_OK, &dd, &copy, &err), ATV_OK, &err);
    CHECK_STR(dd.did, DID_OK);
    CHECK_STR(dd.handle, "alice.test");
    CHECK_STR(dd.pds, "https://pds.example.com");
    CHECK(copy.len == sizeof doc_ok - 1 && memcmp(copy.ptr, doc_ok, copy.len) == 0);
    log = lb_log();
    CHECK_MSG(strstr(log, "R 127.0.0.1 GET /" DID_OK " auth=0") != NULL, "plc GET: %s", log);
    atv_buf_cleanup(&copy);

    /* 404 and 410: not found, with the reasons the verdict reports */
    CHECK_STATUS(resolve(h, DID_404, &dd, NULL, &err), ATV_E_NOT_FOUND, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "did_not_found") == 0);
    CHECK_STR(dd.did, "");
    CHECK_STATUS(resolve(h, DID_410, &dd, NULL, &err), ATV_E_NOT_FOUND, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "did_deactivated") == 0);
    /* 500: IO naming the status, never the body */
    CHECK_STATUS(resolve(h, DID_500, &dd, NULL, &err), ATV_E_IO, &err);
    CHECK_MSG(strstr(err.msg, "500") != NULL && strstr(err.msg, "oops") == NULL, "500: %s",
              err.msg);
    /* a document for another DID */
    atv_buf_init(&copy, ATV_MAX_DIDDOC + 1);
    CHECK_STATUS(resolve(h, DID_OTHER_ID, &dd, &copy, &err), ATV_E_VERIFY, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "did_mismatch") == 0);
    CHECK(copy.len == 0 && dd.did[0] == '\0');
    /* one byte over ATV_MAX_DIDDOC: refused by the cap, nothing kept */
    CHECK_STATUS(resolve(h, DID_BIG, &dd, &copy, &err), ATV_E_LIMIT, &err);
    CHECK(copy.len == 0 && dd.did[0] == '\0');
    atv_buf_cleanup(&copy);

    /* a redirect to another loopback host: followed (each hop re-checked) */
    if (lb.port2 != 0) {
        CHECK_STATUS(resolve(h, DID_HOP, &dd, NULL, &err), ATV_OK, &err);
        CHECK_STR(dd.did, DID_HOP);
        log = lb_log();
        CHECK_MSG(strstr(log, "R 127.0.0.1 GET /" DID_HOP) != NULL &&
                      strstr(log, "R 127.0.0.2 GET /" DID_HOP) != NULL,
                  "two hops: %s", log);
    } else {
        DIAG("skip: cannot bind 127.0.0.2");
    }
    /* a redirect to plain http on a non-loopback host: refused, never contacted */
    CHECK_STATUS(resolve(h, DID_EXT, &dd, NULL, &err), ATV_E_IO, &err);
    CHECK_MSG(strstr(err.msg, "192.0.2.1") != NULL && strstr(err.msg, "refused") != NULL,
              "refused by policy: %s", err.msg);
    CHECK_EQ(lb_count(lb_log(), "R "), 1u);
    atv_http_free(h);
}

static void test_deadline_and_policy(void)
{
    struct atv_diddoc dd;
    struct atv_err err;

    /* a server that stalls past the session's deadline: IO, soon after it */
    struct atv_http *h = session(300, 1);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    uint64_t t0 = lb_now_ms();
    CHECK_STATUS(resolve(h, DID_STALL, &dd, NULL, &err), ATV_E_IO, &err);
    uint64_t el = lb_now_ms() - t0;
    CHECK_MSG(el < 2300, "stall answered after %llu ms (deadline 300)", (unsigned long long)el);
    CHECK_MSG(strstr(err.msg, "timed out") != NULL || strstr(err.msg, "deadline") != NULL,
              "names the deadline: %s", err.msg);
    /* the spent session refuses at once (the sleep makes sure it is spent:
     * libcurl may give up a millisecond before our deadline) */
    lb_sleep_ms(20);
    CHECK_STATUS(resolve(h, DID_OK, &dd, NULL, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "deadline") != NULL);
    atv_http_free(h);

    /* allow_loopback_http = 0: plain http refused without any connection */
    h = session(5000, 0);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    CHECK_STATUS(resolve(h, DID_OK, &dd, NULL, &err), ATV_E_IO, &err);
    CHECK(strstr(err.msg, "plain http refused") != NULL);
    CHECK_STR(lb_log(), "");
    CHECK_STR(dd.did, "");
    atv_http_free(h);
}

static void test_did_web(void)
{
    struct atv_http *h = session(5000, 1);
    struct atv_diddoc dd;
    struct atv_err err;
    struct atv_fetcher f;
    char did[96], url[ATV_MAX_URL + 1], want[128];
    const char *log;

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    f = atv_http_fetcher(h);
    /* did:web is https-only, also for loopback hosts with a %3A port */
    (void)snprintf(did, sizeof did, "did:web:127.0.0.1%%3A%u", lb.port1);
    (void)snprintf(want, sizeof want, "https://127.0.0.1:%u/.well-known/did.json", lb.port1);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(NULL, did, url, sizeof url, &err), ATV_OK, &err);
    CHECK_STR(url, want);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(NULL, "did:web:example.com", url, sizeof url, &err), ATV_OK,
                 &err);
    CHECK_STR(url, "https://example.com/.well-known/did.json");
    /* resolving it speaks TLS to our plain-http server: no fallback to http */
    (void)lb_log();
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, did, NULL, &dd, &err), ATV_E_IO, &err);
    log = lb_log();
    CHECK_MSG(strstr(log, "T 127.0.0.1") != NULL && strstr(log, "R ") == NULL,
              "a TLS hello, no plain request: %s", log);
    CHECK_MSG(strstr(err.msg, "https://127.0.0.1") != NULL, "names the origin: %s", err.msg);
    /* the same for localhost */
    (void)snprintf(did, sizeof did, "did:web:localhost%%3A%u", lb.port1);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, did, NULL, &dd, &err), ATV_E_IO, &err);
    CHECK(strstr(lb_log(), "R ") == NULL);
    /* a port on a public host is refused before any request */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, "did:web:example.com%3A8443", NULL, &dd, &err),
                 ATV_E_UNSUPPORTED, &err);
    CHECK_STR(lb_log(), "");
    atv_http_free(h);
}

static void test_handles(void)
{
    struct atv_http *h = session(5000, 1);
    struct handle_ctx hc;
    struct atv_fetcher f;
    struct atv_diddoc dd;
    struct atv_err err;
    char got[ATV_MAX_DID + 1];

    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    f = handle_fetcher(&hc, h);
    static const struct {
        const char *handle;
        enum atv_status want;
        const char *did;
    } cases[] = {
        {"alice.test", ATV_OK, DID_OK},
        {"ALICE.Test", ATV_OK, DID_OK}, /* handles are case-insensitive */
        {"spaces.test", ATV_OK, DID_OK}, /* first line, trimmed */
        {"junk.test", ATV_E_NOT_FOUND, ""},
        {"big.test", ATV_E_NOT_FOUND, ""}, /* over the 2 KiB cap */
        {"gone.test", ATV_E_NOT_FOUND, ""}, /* 404 */
    };
    for (size_t i = 0; i < N(cases); i++) {
        atv_err_clear(&err);
        (void)lb_log();
        enum atv_status rc = atv_atp_handle_resolve(&f, cases[i].handle, got, sizeof got, &err);
        CHECK_MSG(rc == cases[i].want && strcmp(got, cases[i].did) == 0,
                  "handle %s -> %s \"%s\" (%s)", cases[i].handle, atv_status_name(rc), got,
                  err.msg);
    }
    CHECK_EQ(hc.calls, (int)N(cases)); /* no DNS: one .well-known GET each */

    /* both ways: DID_OK's document says alice.test, which resolves back */
    CHECK_STATUS(resolve(h, DID_OK, &dd, NULL, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_OK, &err);
    /* bob.test's document names DID_BOB, but the handle says DID_OK */
    CHECK_STATUS(resolve(h, DID_BOB, &dd, NULL, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_E_VERIFY, &err);
    CHECK(err.reason != NULL && strcmp(err.reason, "handle_mismatch") == 0);
    /* a handle that does not resolve at all is as unverified */
    CHECK_STATUS(resolve(h, DID_HOP, &dd, NULL, &err), lb.port2 != 0 ? ATV_OK : ATV_E_IO, &err);
    if (lb.port2 != 0) {
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_E_VERIFY, &err);
    }
    atv_http_free(h);

    /* the handle's deadline is the session's: a spent session resolves nothing */
    h = session(1, 1);
    CHECK(h != NULL);
    if (h == NULL) {
        return;
    }
    f = handle_fetcher(&hc, h);
    lb_sleep_ms(5);
    (void)lb_log(); /* drop what the cases above left */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "alice.test", got, sizeof got, &err), ATV_E_NOT_FOUND,
                 &err);
    CHECK(strstr(err.msg, "deadline") != NULL);
    CHECK_STR(lb_log(), "");
    atv_http_free(h);
}

int main(void)
{
    alarm(90); /* backstop for the whole file; each case is bounded far below */
    if (lb_start(respond) != 0) {
        CHECK_MSG(0, "loopback server failed to start");
        lb_stop();
        return atv_test_done();
    }
    (void)snprintf(plc_url, sizeof plc_url, "http://127.0.0.1:%u", lb.port1);
    test_did_plc();
    test_deadline_and_policy();
    test_did_web();
    test_handles();
    lb_stop();
    return atv_test_done();
}
