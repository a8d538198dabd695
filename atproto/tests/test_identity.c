/* Identity resolution (atproto/identity.c) through a fake fetcher: a table
 * of URL -> (status, body) and DNS name -> TXT answer, with call counters.
 * No network. DID documents are the committed fixtures in testdata/proofs
 * (made by testdata/tsgen/gen-proof.mjs with the official TypeScript
 * implementation). */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>

#define FX_DID "did:plc:ywcuk4xmsixysawbbr4i5zkv"
#define OTHER_DID "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
#define FX_PLC_URL "https://plc.directory/" FX_DID
#define DIDKEY "did:key:zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7"

/* ---- the fake fetcher ---------------------------------------------------- */

struct route {
    const char *url;        /* a URL for get, a DNS name for txt */
    enum atv_status rc;     /* != ATV_OK: fail with this status (transport failure) */
    long status;            /* get only */
    const char *body;       /* get body or TXT answer */
    size_t len;             /* bytes of body; 0 with body != NULL means strlen */
};

struct fake {
    const struct route *get_routes;
    size_t n_get;
    const struct route *txt_routes;
    size_t n_txt;
    int ignore_max; /* a fetcher that does not honour max: the caller's buffer must */
    int get_calls;
    int txt_calls;
    char last_url[4096];
    char last_name[512];
};

static const struct route *find_route(const struct route *r, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(r[i].url, key) == 0) {
            return &r[i];
        }
    }
    return NULL;
}

static size_t body_len(const struct route *r)
{
    if (r->body == NULL) {
        return 0;
    }
    return r->len != 0 ? r->len : strlen(r->body);
}

static enum atv_status fake_get(void *ctx, const char *url, size_t max, long *status,
                                struct atv_buf *out, struct atv_err *err)
{
    struct fake *fk = ctx;
    const struct route *r = find_route(fk->get_routes, fk->n_get, url);

    fk->get_calls++;
    (void)snprintf(fk->last_url, sizeof fk->last_url, "%s", url);
    *status = 0;
    if (r == NULL) {
        return atv_err_set(err, ATV_E_IO, "fake: could not connect");
    }
    if (r->rc != ATV_OK) {
        return atv_err_set(err, r->rc, "fake: scripted failure");
    }
    if (!fk->ignore_max && body_len(r) > max) {
        return atv_err_set(err, ATV_E_LIMIT, "fake: body of %zu bytes over %zu", body_len(r),
                           max);
    }
    *status = r->status;
    return atv_buf_append(out, r->body, body_len(r), err);
}

static enum atv_status fake_txt(void *ctx, const char *name, struct atv_buf *out,
                                struct atv_err *err)
{
    struct fake *fk = ctx;
    const struct route *r = find_route(fk->txt_routes, fk->n_txt, name);

    fk->txt_calls++;
    (void)snprintf(fk->last_name, sizeof fk->last_name, "%s", name);
    if (r == NULL) {
        return atv_err_set(err, ATV_E_NOT_FOUND, "fake: NXDOMAIN");
    }
    if (r->rc != ATV_OK) {
        return atv_err_set(err, r->rc, "fake: scripted failure");
    }
    return atv_buf_append(out, r->body, body_len(r), err);
}

static struct atv_fetcher fetcher(struct fake *fk, const struct route *g, size_t ng,
                                  const struct route *t, size_t nt)
{
    struct atv_fetcher f = {fake_get, fake_txt, NULL};
    memset(fk, 0, sizeof *fk);
    f.ctx = fk;
    fk->get_routes = g;
    fk->n_get = ng;
    fk->txt_routes = t;
    fk->n_txt = nt;
    return f;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int load(const char *path, struct atv_buf *b)
{
    struct atv_err err;
    atv_err_clear(&err);
    atv_buf_init(b, ATV_MAX_DIDDOC);
    if (atv_buf_read_file(b, path, &err) != ATV_OK) {
        DIAG("%s", err.msg);
        return 0;
    }
    return 1;
}

static int reason_is(const struct atv_err *err, const char *want)
{
    return err->reason != NULL && strcmp(err->reason, want) == 0;
}

/* ---- atv_atp_did_doc_url ------------------------------------------------- */

static void url_ok(const char *plc, const char *did, const char *want)
{
    char out[512];
    struct atv_err err;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(plc, did, out, sizeof out, &err), ATV_OK, &err);
    CHECK_STR(out, want);
}

static void url_bad(const char *plc, const char *did, enum atv_status want)
{
    char out[512];
    struct atv_err err;
    atv_err_clear(&err);
    memset(out, 'x', sizeof out);
    CHECK_STATUS(atv_atp_did_doc_url(plc, did, out, sizeof out, &err), want, &err);
    CHECK_MSG(out[0] == '\0', "output emptied after failure for %s", did);
}

static void test_did_doc_url(void)
{
    char out[512];
    struct atv_err err;
    size_t want_len;

    /* did:plc: default directory, custom directory, one trailing '/' dropped */
    url_ok(NULL, FX_DID, FX_PLC_URL);
    url_ok("http://127.0.0.1:2582", FX_DID, "http://127.0.0.1:2582/" FX_DID);
    url_ok("https://plc.example.com/", FX_DID, "https://plc.example.com/" FX_DID);
    url_ok("https://plc.example.com/prefix", FX_DID, "https://plc.example.com/prefix/" FX_DID);
    url_bad("https://plc.example.com//", FX_DID, ATV_E_USAGE);
    url_bad("ftp://plc.example.com", FX_DID, ATV_E_USAGE);
    url_bad("plc.example.com", FX_DID, ATV_E_USAGE);
    url_bad("https://", FX_DID, ATV_E_USAGE);
    url_bad("https:///x", FX_DID, ATV_E_USAGE);
    url_bad("https://plc.example.com?x=1", FX_DID, ATV_E_USAGE);
    url_bad("https://plc.example.com#f", FX_DID, ATV_E_USAGE);
    url_bad("https://plc example.com", FX_DID, ATV_E_USAGE);

    /* PLC spec: 24 characters of base32 lower */
    url_bad(NULL, "did:plc:atcrfixturerepoaaaaaaaa", ATV_E_PARSE);   /* 23 */
    url_bad(NULL, "did:plc:atcrfixturerepoaaaaaaaaaa", ATV_E_PARSE); /* 25 */
    url_bad(NULL, "did:plc:Atcrfixturerepoaaaaaaaaa", ATV_E_PARSE);  /* upper case */
    url_bad(NULL, "did:plc:atcrfixturerepoaaaaaaaa1", ATV_E_PARSE);  /* '1' not base32 */
    url_bad(NULL, "did:plc:atcrfixturerepoaaaaaaaa8", ATV_E_PARSE);  /* '8' not base32 */
    url_bad(NULL, "did:plc:atcrfixture.repoaaaaaaaa", ATV_E_PARSE);

    /* did:web: hostname only */
    url_ok(NULL, "did:web:example.com", "https://example.com/.well-known/did.json");
    url_ok(NULL, "did:web:pds.Example.com", "https://pds.Example.com/.well-known/did.json");
    url_bad(NULL, "did:web:example.com:user:alice", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:example.com:alice", ATV_E_UNSUPPORTED);
    /* %3A port only for loopback hosts, and the URL stays https */
    url_ok(NULL, "did:web:localhost%3A8080", "https://localhost:8080/.well-known/did.json");
    url_ok(NULL, "did:web:127.0.0.1%3a2583", "https://127.0.0.1:2583/.well-known/did.json");
    url_ok(NULL, "did:web:localhost", "https://localhost/.well-known/did.json");
    url_ok(NULL, "did:web:localhost%3A65535", "https://localhost:65535/.well-known/did.json");
    url_bad(NULL, "did:web:example.com%3A8080", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:127.0.0.2%3A8080", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:localhost%3A0", ATV_E_PARSE);
    url_bad(NULL, "did:web:localhost%3A08080", ATV_E_PARSE);
    url_bad(NULL, "did:web:localhost%3A65536", ATV_E_PARSE);
    url_bad(NULL, "did:web:localhost%3A123456", ATV_E_PARSE);
    url_bad(NULL, "did:web:localhost%3A80a", ATV_E_PARSE);
    url_bad(NULL, "did:web:localhost%2F80", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:localhost%3A", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:exa%41mple.com", ATV_E_UNSUPPORTED);
    /* the host must be a handle-syntax hostname with a public TLD */
    url_bad(NULL, "did:web:example", ATV_E_PARSE);
    url_bad(NULL, "did:web:exa_mple.com", ATV_E_PARSE);
    url_bad(NULL, "did:web:-example.com", ATV_E_PARSE);
    url_bad(NULL, "did:web:example.123", ATV_E_PARSE);
    url_bad(NULL, "did:web:pds.local", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:host.onion", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:web:example.INVALID", ATV_E_UNSUPPORTED);

    /* only did:plc and did:web */
    url_bad(NULL, DIDKEY, ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:example:123456789abcdefghi", ATV_E_UNSUPPORTED);
    url_bad(NULL, "did:plcx:atcrfixturerepoaaaaaaaaa", ATV_E_UNSUPPORTED);

    /* malformed DIDs */
    url_bad(NULL, "", ATV_E_PARSE);
    url_bad(NULL, "did:", ATV_E_PARSE);
    url_bad(NULL, "did:plc:", ATV_E_PARSE);
    url_bad(NULL, "DID:plc:atcrfixturerepoaaaaaaaaa", ATV_E_PARSE);
    url_bad(NULL, "did:PLC:atcrfixturerepoaaaaaaaaa", ATV_E_PARSE);
    url_bad(NULL, "did:plc:ywcuk4xmsixysawbbr4i5zkv:", ATV_E_PARSE);
    url_bad(NULL, "did:plc:atcrfixture repoaaaaaaaaa", ATV_E_PARSE);
    url_bad(NULL, " did:plc:ywcuk4xmsixysawbbr4i5zkv", ATV_E_PARSE);
    url_bad(NULL, "did:web:example.com/", ATV_E_PARSE);
    url_bad(NULL, "plc:atcrfixturerepoaaaaaaaaa", ATV_E_PARSE);

    /* cap: the exact size fits, one byte less is ATV_E_LIMIT with "" */
    want_len = strlen(FX_PLC_URL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(NULL, FX_DID, out, want_len + 1, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(NULL, FX_DID, out, want_len, &err), ATV_E_LIMIT, &err);
    CHECK(out[0] == '\0');
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(NULL, NULL, out, sizeof out, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_doc_url(NULL, FX_DID, NULL, 0, &err), ATV_E_USAGE, &err);
}

/* ---- atv_atp_did_resolve ------------------------------------------------- */

static void test_did_resolve_ok(void)
{
    static const char *const files[] = {
        "testdata/proofs/k256/did-doc.json", "testdata/proofs/k256/did-doc-legacy.json",
        "testdata/proofs/p256/did-doc.json", "testdata/proofs/p256/did-doc-legacy.json"};
    struct atv_pubkey first_key[2];

    for (size_t i = 0; i < N(files); i++) {
        struct atv_buf doc;
        struct atv_buf copy;
        struct atv_diddoc dd;
        struct atv_err err;
        struct fake fk;
        struct route g[1] = {{FX_PLC_URL, ATV_OK, 200, NULL, 0}};
        struct atv_fetcher f;

        if (!load(files[i], &doc)) {
            CHECK_MSG(0, "load %s", files[i]);
            continue;
        }
        g[0].body = (const char *)doc.ptr;
        g[0].len = doc.len;
        f = fetcher(&fk, g, 1, NULL, 0);
        atv_buf_init(&copy, ATV_MAX_DIDDOC);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, &copy, &dd, &err), ATV_OK, &err);
        CHECK_STR(dd.did, FX_DID);
        CHECK_STR(dd.pds, "https://pds.example.com");
        CHECK_STR(dd.handle, "fixture.example.com");
        CHECK_EQ(dd.key.type, i < 2 ? ATV_KEY_K256 : ATV_KEY_P256);
        CHECK_EQ(fk.get_calls, 1);
        CHECK_EQ(fk.txt_calls, 0);
        CHECK_STR(fk.last_url, FX_PLC_URL);
        /* doc_json receives the raw document, NUL-terminated */
        CHECK(copy.len == doc.len && memcmp(copy.ptr, doc.ptr, doc.len) == 0);
        CHECK(copy.ptr != NULL && copy.ptr[copy.len] == '\0');
        /* the legacy form decodes to the same key as the Multikey form */
        if (i % 2 == 0) {
            first_key[i / 2] = dd.key;
        } else {
            CHECK(memcmp(first_key[i / 2].point, dd.key.point, 33) == 0);
        }
        /* doc_json may be NULL */
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, NULL, &dd, &err), ATV_OK, &err);
        /* a doc_json too small for the document fails the whole call */
        atv_buf_cleanup(&copy);
        atv_buf_init(&copy, 16);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, &copy, &dd, &err), ATV_E_LIMIT, &err);
        CHECK(dd.did[0] == '\0' && dd.key.type == ATV_KEY_NONE && copy.len == 0);
        atv_buf_cleanup(&copy);
        atv_buf_cleanup(&doc);
    }
}

/* A did:web document built from the fixture's key: id, controller and the
 * key id all name the did:web DID. */
static void test_did_resolve_web(void)
{
    static const char doc[] =
        "{\"id\":\"did:web:example.com\",\"alsoKnownAs\":[\"at://Example.com\"],"
        "\"verificationMethod\":[{\"id\":\"#atproto\",\"type\":\"Multikey\","
        "\"controller\":\"did:web:example.com\","
        "\"publicKeyMultibase\":\"zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7\"}],"
        "\"service\":[{\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
        "\"serviceEndpoint\":\"https://pds.example.com\"}]}";
    const struct route g[] = {
        {"https://example.com/.well-known/did.json", ATV_OK, 200, doc, 0},
        {"https://localhost:2583/.well-known/did.json", ATV_OK, 200, doc, 0},
    };
    struct fake fk;
    struct atv_fetcher f = fetcher(&fk, g, N(g), NULL, 0);
    struct atv_diddoc dd;
    struct atv_err err;

    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, "did:web:example.com", NULL, &dd, &err), ATV_OK,
                 &err);
    CHECK_STR(dd.did, "did:web:example.com");
    CHECK_STR(dd.handle, "example.com");
    /* the same document served for another did:web: id differs, rejected */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, "did:web:localhost%3A2583", NULL, &dd, &err),
                 ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "did_mismatch"));
    CHECK(dd.did[0] == '\0');
}

static void resolve_status(long status, enum atv_status want, const char *reason)
{
    const struct route g[] = {{FX_PLC_URL, ATV_OK, status, "{\"error\":\"x\"}", 0}};
    struct fake fk;
    struct atv_fetcher f = fetcher(&fk, g, N(g), NULL, 0);
    struct atv_diddoc dd;
    struct atv_buf copy;
    struct atv_err err;

    atv_buf_init(&copy, ATV_MAX_DIDDOC);
    atv_err_clear(&err);
    memset(&dd, 0xa5, sizeof dd);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, &copy, &dd, &err), want, &err);
    CHECK_MSG(reason == NULL ? err.reason == NULL : reason_is(&err, reason), "HTTP %ld reason %s",
              status, err.reason != NULL ? err.reason : "(none)");
    CHECK(dd.did[0] == '\0' && dd.pds[0] == '\0' && dd.key.type == ATV_KEY_NONE);
    CHECK(copy.len == 0);
    atv_buf_cleanup(&copy);
}

static void test_did_resolve_errors(void)
{
    struct atv_buf doc;
    struct atv_buf big;
    struct atv_diddoc dd;
    struct atv_err err;
    struct fake fk;
    struct atv_fetcher f;
    struct route g[1] = {{"https://plc.directory/" OTHER_DID, ATV_OK, 200, NULL, 0}};

    resolve_status(404, ATV_E_NOT_FOUND, "did_not_found");
    resolve_status(410, ATV_E_NOT_FOUND, "did_deactivated");
    resolve_status(500, ATV_E_IO, NULL);
    resolve_status(301, ATV_E_IO, NULL);
    resolve_status(0, ATV_E_IO, NULL);

    /* the message names the status */
    {
        const struct route g5[] = {{FX_PLC_URL, ATV_OK, 503, "", 0}};
        struct atv_fetcher f5 = fetcher(&fk, g5, N(g5), NULL, 0);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_did_resolve(&f5, NULL, FX_DID, NULL, &dd, &err), ATV_E_IO, &err);
        CHECK(strstr(err.msg, "503") != NULL);
    }

    /* a document whose id is another DID */
    if (load("testdata/proofs/k256/did-doc.json", &doc)) {
        g[0].body = (const char *)doc.ptr;
        g[0].len = doc.len;
        f = fetcher(&fk, g, 1, NULL, 0);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_did_resolve(&f, NULL, OTHER_DID, NULL, &dd, &err), ATV_E_VERIFY,
                     &err);
        CHECK(reason_is(&err, "did_mismatch"));
        CHECK(dd.did[0] == '\0');
        atv_buf_cleanup(&doc);
    } else {
        CHECK_MSG(0, "load did-doc.json");
    }

    /* 200 with something that is not a DID document */
    {
        const struct route gj[] = {{FX_PLC_URL, ATV_OK, 200, "not json", 0}};
        struct atv_fetcher fj = fetcher(&fk, gj, N(gj), NULL, 0);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_did_resolve(&fj, NULL, FX_DID, NULL, &dd, &err), ATV_E_PARSE, &err);
    }

    /* an oversized body: refused by an honest fetcher (max = ATV_MAX_DIDDOC)
     * and by our buffer when the fetcher ignores max */
    atv_buf_init(&big, ATV_MAX_DIDDOC + 2);
    for (size_t i = 0; i < ATV_MAX_DIDDOC + 1; i++) {
        if (atv_buf_push(&big, ' ', NULL) != ATV_OK) {
            break;
        }
    }
    CHECK_EQ(big.len, (size_t)ATV_MAX_DIDDOC + 1);
    g[0].url = FX_PLC_URL;
    g[0].body = (const char *)big.ptr;
    g[0].len = big.len;
    f = fetcher(&fk, g, 1, NULL, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, NULL, &dd, &err), ATV_E_LIMIT, &err);
    fk.ignore_max = 1;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, NULL, &dd, &err), ATV_E_LIMIT, &err);
    CHECK(dd.did[0] == '\0');
    atv_buf_cleanup(&big);

    /* transport failure */
    f = fetcher(&fk, NULL, 0, NULL, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, NULL, &dd, &err), ATV_E_IO, &err);
    CHECK_EQ(fk.get_calls, 1);

    /* offline: no get, or no fetcher at all */
    f = fetcher(&fk, NULL, 0, NULL, 0);
    f.get = NULL;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, FX_DID, NULL, &dd, &err), ATV_E_USAGE, &err);
    CHECK(reason_is(&err, "offline"));
    CHECK_EQ(fk.get_calls, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(NULL, NULL, FX_DID, NULL, &dd, &err), ATV_E_USAGE, &err);

    /* unsupported and malformed DIDs never reach the network */
    f = fetcher(&fk, NULL, 0, NULL, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, DIDKEY, NULL, &dd, &err), ATV_E_UNSUPPORTED, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, NULL, "did:plc:short", NULL, &dd, &err), ATV_E_PARSE,
                 &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_resolve(&f, "ftp://plc", FX_DID, NULL, &dd, &err), ATV_E_USAGE,
                 &err);
    CHECK_EQ(fk.get_calls, 0);
}

/* ---- atv_atp_handle_resolve ---------------------------------------------- */

static void handle_ok(const struct route *g, size_t ng, const struct route *t, size_t nt,
                      const char *handle, const char *want_did, int want_get_calls)
{
    struct fake fk;
    struct atv_fetcher f = fetcher(&fk, g, ng, t, nt);
    char out[ATV_MAX_DID + 1];
    struct atv_err err;

    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, handle, out, sizeof out, &err), ATV_OK, &err);
    CHECK_STR(out, want_did);
    CHECK_MSG(fk.get_calls == want_get_calls, "%s: %d HTTPS fetches, want %d", handle, fk.get_calls,
              want_get_calls);
}

static void handle_bad(const struct route *g, size_t ng, const struct route *t, size_t nt,
                       const char *handle, enum atv_status want, const char *reason)
{
    struct fake fk;
    struct atv_fetcher f = fetcher(&fk, g, ng, t, nt);
    char out[ATV_MAX_DID + 1];
    struct atv_err err;

    atv_err_clear(&err);
    memset(out, 'x', sizeof out);
    CHECK_STATUS(atv_atp_handle_resolve(&f, handle, out, sizeof out, &err), want, &err);
    CHECK_MSG(reason == NULL || reason_is(&err, reason), "%s: reason %s, want %s", handle,
              err.reason != NULL ? err.reason : "(none)", reason != NULL ? reason : "(none)");
    CHECK(out[0] == '\0');
}

static void test_handle_resolve(void)
{
    const struct route txt[] = {
        {"_atproto.alice.test", ATV_OK, 0, "did=" FX_DID, 0},
        {"_atproto.spf.test", ATV_OK, 0, "v=spf1 -all\ndid=" FX_DID "\nsomething else", 0},
        {"_atproto.twice.test", ATV_OK, 0, "did=" FX_DID "\ndid=" FX_DID, 0},
        {"_atproto.two.test", ATV_OK, 0, "did=" FX_DID "\ndid=" OTHER_DID, 0},
        {"_atproto.bogus.test", ATV_OK, 0, "did=not a did", 0},
        {"_atproto.nodid.test", ATV_OK, 0, "v=spf1 -all", 0},
        {"_atproto.servfail.test", ATV_E_IO, 0, NULL, 0},
        {"_atproto.space.test", ATV_OK, 0, "did= " FX_DID, 0},
    };
    const struct route get[] = {
        {"https://bob.test/.well-known/atproto-did", ATV_OK, 200, FX_DID, 0},
        {"https://trail.test/.well-known/atproto-did", ATV_OK, 200, "  " FX_DID " \t\r\n", 0},
        {"https://lines.test/.well-known/atproto-did", ATV_OK, 200,
         FX_DID "\nsecond line ignored", 0},
        {"https://bogus.test/.well-known/atproto-did", ATV_OK, 200, FX_DID, 0},
        {"https://nodid.test/.well-known/atproto-did", ATV_OK, 200, FX_DID, 0},
        {"https://servfail.test/.well-known/atproto-did", ATV_OK, 200, FX_DID, 0},
        {"https://notdid.test/.well-known/atproto-did", ATV_OK, 200, "hello world\n", 0},
        {"https://empty.test/.well-known/atproto-did", ATV_OK, 200, "", 0},
        {"https://blank.test/.well-known/atproto-did", ATV_OK, 200, " \n" FX_DID, 0},
        {"https://gone.test/.well-known/atproto-did", ATV_OK, 404, FX_DID, 0},
        {"https://html.test/.well-known/atproto-did", ATV_OK, 200, "<html>" FX_DID, 0},
        {"https://nul.test/.well-known/atproto-did", ATV_OK, 200, FX_DID "\0x", sizeof FX_DID + 1},
        {"https://two.test/.well-known/atproto-did", ATV_OK, 200, FX_DID, 0},
    };
    struct fake fk;
    struct atv_fetcher f;
    char out[ATV_MAX_DID + 1];
    char big[4096];
    struct route gbig[1];
    struct atv_err err;

    /* DNS: one did= record, among others or repeated */
    handle_ok(get, N(get), txt, N(txt), "alice.test", FX_DID, 0);
    handle_ok(get, N(get), txt, N(txt), "Alice.TEST", FX_DID, 0); /* normalised to lower case */
    handle_ok(get, N(get), txt, N(txt), "spf.test", FX_DID, 0);
    handle_ok(get, N(get), txt, N(txt), "twice.test", FX_DID, 0);
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "ALICE.test", out, sizeof out, &err), ATV_OK, &err);
    CHECK_STR(fk.last_name, "_atproto.alice.test");
    /* two different did= records: a verdict, and no HTTPS fallback */
    handle_bad(get, N(get), txt, N(txt), "two.test", ATV_E_VERIFY, "handle_ambiguous");
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "two.test", out, sizeof out, &err), ATV_E_VERIFY,
                 &err);
    CHECK_EQ(fk.get_calls, 0);

    /* HTTPS fallback: no TXT, a TXT without did=, an unusable did=, a DNS failure */
    handle_ok(get, N(get), txt, N(txt), "bob.test", FX_DID, 1);
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "Bob.test", out, sizeof out, &err), ATV_OK, &err);
    CHECK_STR(fk.last_url, "https://bob.test/.well-known/atproto-did");
    CHECK_EQ(fk.txt_calls, 1);
    handle_ok(get, N(get), txt, N(txt), "nodid.test", FX_DID, 1);
    handle_ok(get, N(get), txt, N(txt), "bogus.test", FX_DID, 1);
    handle_ok(get, N(get), txt, N(txt), "servfail.test", FX_DID, 1);
    handle_bad(get, N(get), txt, N(txt), "space.test", ATV_E_NOT_FOUND, "handle_unresolved");
    /* the body: first line, ASCII whitespace trimmed */
    handle_ok(get, N(get), txt, N(txt), "trail.test", FX_DID, 1);
    handle_ok(get, N(get), txt, N(txt), "lines.test", FX_DID, 1);
    handle_bad(get, N(get), txt, N(txt), "blank.test", ATV_E_NOT_FOUND, "handle_unresolved");
    handle_bad(get, N(get), txt, N(txt), "notdid.test", ATV_E_NOT_FOUND, "handle_unresolved");
    handle_bad(get, N(get), txt, N(txt), "empty.test", ATV_E_NOT_FOUND, "handle_unresolved");
    handle_bad(get, N(get), txt, N(txt), "html.test", ATV_E_NOT_FOUND, "handle_unresolved");
    handle_bad(get, N(get), txt, N(txt), "nul.test", ATV_E_NOT_FOUND, "handle_unresolved");
    handle_bad(get, N(get), txt, N(txt), "gone.test", ATV_E_NOT_FOUND, "handle_unresolved");
    /* both fail: no TXT and no HTTPS answer */
    handle_bad(get, N(get), txt, N(txt), "nobody.test", ATV_E_NOT_FOUND, "handle_unresolved");
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "nobody.test", out, sizeof out, &err),
                 ATV_E_NOT_FOUND, &err);
    CHECK(fk.txt_calls == 1 && fk.get_calls == 1);
    /* a body over 2048 bytes, honest fetcher or not */
    memset(big, ' ', sizeof big);
    memcpy(big, FX_DID, strlen(FX_DID));
    gbig[0].url = "https://big.test/.well-known/atproto-did";
    gbig[0].rc = ATV_OK;
    gbig[0].status = 200;
    gbig[0].body = big;
    gbig[0].len = 2049;
    handle_bad(gbig, 1, NULL, 0, "big.test", ATV_E_NOT_FOUND, "handle_unresolved");
    gbig[0].len = 2048;
    handle_ok(gbig, 1, NULL, 0, "big.test", FX_DID, 1);
    gbig[0].len = 2049;
    f = fetcher(&fk, gbig, 1, NULL, 0);
    fk.ignore_max = 1;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "big.test", out, sizeof out, &err), ATV_E_NOT_FOUND,
                 &err);

    /* DNS-only and HTTPS-only fetchers */
    f = fetcher(&fk, get, N(get), txt, N(txt));
    f.get = NULL;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "alice.test", out, sizeof out, &err), ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "bob.test", out, sizeof out, &err), ATV_E_NOT_FOUND,
                 &err);
    f = fetcher(&fk, get, N(get), txt, N(txt));
    f.txt = NULL;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "bob.test", out, sizeof out, &err), ATV_OK, &err);
    CHECK_EQ(fk.txt_calls, 0);
    f.get = NULL;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "bob.test", out, sizeof out, &err), ATV_E_USAGE,
                 &err);
    CHECK(reason_is(&err, "offline"));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(NULL, "bob.test", out, sizeof out, &err), ATV_E_USAGE,
                 &err);

    /* syntax and reserved TLDs: rejected before any lookup */
    handle_bad(get, N(get), txt, N(txt), "alice.local", ATV_E_UNSUPPORTED, "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "handle.invalid", ATV_E_UNSUPPORTED,
               "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "x.onion", ATV_E_UNSUPPORTED, "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "x.Localhost", ATV_E_UNSUPPORTED,
               "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "x.example", ATV_E_UNSUPPORTED, "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "x.arpa", ATV_E_UNSUPPORTED, "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "x.internal", ATV_E_UNSUPPORTED, "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "x.alt", ATV_E_UNSUPPORTED, "handle_reserved_tld");
    handle_bad(get, N(get), txt, N(txt), "alice", ATV_E_PARSE, NULL);
    handle_bad(get, N(get), txt, N(txt), "alice.test.", ATV_E_PARSE, NULL);
    handle_bad(get, N(get), txt, N(txt), "al ice.test", ATV_E_PARSE, NULL);
    handle_bad(get, N(get), txt, N(txt), "", ATV_E_PARSE, NULL);
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "alice.local", out, sizeof out, &err),
                 ATV_E_UNSUPPORTED, &err);
    CHECK(fk.get_calls == 0 && fk.txt_calls == 0);

    /* out cap: exact fit, then one byte short */
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "alice.test", out, sizeof FX_DID, &err), ATV_OK,
                 &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "alice.test", out, sizeof FX_DID - 1, &err),
                 ATV_E_LIMIT, &err);
    CHECK(out[0] == '\0');
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, "bob.test", out, sizeof FX_DID - 1, &err),
                 ATV_E_LIMIT, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_resolve(&f, NULL, out, sizeof out, &err), ATV_E_USAGE, &err);
}

/* ---- atv_atp_handle_verify ----------------------------------------------- */

static void test_handle_verify(void)
{
    const struct route txt[] = {
        {"_atproto.fixture.example.com", ATV_OK, 0, "did=" FX_DID, 0},
    };
    const struct route txt_other[] = {
        {"_atproto.fixture.example.com", ATV_OK, 0, "did=" OTHER_DID, 0},
    };
    const struct route txt_two[] = {
        {"_atproto.fixture.example.com", ATV_OK, 0, "did=" FX_DID "\ndid=" OTHER_DID, 0},
    };
    const struct route get[] = {
        {"https://fixture.example.com/.well-known/atproto-did", ATV_OK, 200, FX_DID "\n", 0},
    };
    struct atv_buf doc;
    struct atv_diddoc dd;
    struct atv_diddoc none;
    struct atv_err err;
    struct fake fk;
    struct atv_fetcher f;

    if (!load("testdata/proofs/k256/did-doc.json", &doc)) {
        CHECK_MSG(0, "load did-doc.json");
        return;
    }
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_diddoc_parse(atv_buf_view(&doc), FX_DID, &dd, &err), ATV_OK, &err);
    atv_buf_cleanup(&doc);

    f = fetcher(&fk, NULL, 0, txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_OK, &err);
    f = fetcher(&fk, get, N(get), NULL, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_OK, &err);

    /* resolves to another DID: the message gives lengths, not the DIDs */
    f = fetcher(&fk, NULL, 0, txt_other, N(txt_other));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "handle_mismatch"));
    CHECK(strstr(err.msg, "did:") == NULL);
    /* resolves nowhere, or ambiguously */
    f = fetcher(&fk, NULL, 0, NULL, 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "handle_mismatch"));
    f = fetcher(&fk, get, N(get), txt_two, N(txt_two));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &dd, &err), ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "handle_mismatch"));
    /* offline is not a verdict */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(NULL, &dd, &err), ATV_E_USAGE, &err);

    /* none declared */
    none = dd;
    none.handle[0] = '\0';
    f = fetcher(&fk, get, N(get), txt, N(txt));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, &none, &err), ATV_E_NOT_FOUND, &err);
    CHECK(fk.get_calls == 0 && fk.txt_calls == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_verify(&f, NULL, &err), ATV_E_USAGE, &err);
}

/* ---- atv_atp_getrecord_url ----------------------------------------------- */

static void rec_ok(const char *pds, const char *did, const char *coll, const char *rkey,
                   const char *want)
{
    char out[1024];
    struct atv_err err;
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_getrecord_url(pds, did, coll, rkey, out, sizeof out, &err), ATV_OK,
                 &err);
    CHECK_STR(out, want);
}

static void rec_bad(const char *pds, const char *did, const char *coll, const char *rkey,
                    enum atv_status want)
{
    char out[1024];
    struct atv_err err;
    atv_err_clear(&err);
    memset(out, 'x', sizeof out);
    CHECK_STATUS(atv_atp_getrecord_url(pds, did, coll, rkey, out, sizeof out, &err), want, &err);
    CHECK(out[0] == '\0');
}

#define GR "/xrpc/com.atproto.sync.getRecord?did="
#define FX_DID_ENC "did%3Aplc%3Aywcuk4xmsixysawbbr4i5zkv"

static void test_getrecord_url(void)
{
    char out[1024];
    struct atv_err err;
    size_t want;

    /* RFC 3986 2.3: unreserved = ALPHA DIGIT - . _ ~ pass through; ':' is a
     * gen-delim (2.2), so it is encoded, as %3A (2.1: upper-case hex) */
    rec_ok("https://pds.example.com", FX_DID, "io.atcr.manifest", "3l2abcdefgh22",
           "https://pds.example.com" GR FX_DID_ENC
           "&collection=io.atcr.manifest&rkey=3l2abcdefgh22");
    rec_ok("https://pds.example.com/", FX_DID, "io.atcr.manifest", "a:b~c.d_e-f",
           "https://pds.example.com" GR FX_DID_ENC
           "&collection=io.atcr.manifest&rkey=a%3Ab~c.d_e-f");
    rec_ok("http://localhost:2583", FX_DID, "app.bsky.feed.post", "self",
           "http://localhost:2583" GR FX_DID_ENC "&collection=app.bsky.feed.post&rkey=self");
    rec_ok("https://pds.example.com/base", "did:web:localhost%3A2583", "io.atcr.manifest", "x",
           "https://pds.example.com/base" GR "did%3Aweb%3Alocalhost%253A2583"
           "&collection=io.atcr.manifest&rkey=x");

    /* the PDS URL */
    rec_bad("ftp://pds.example.com", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com?x=1", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com/#frag", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com//", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com/a b", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("", FX_DID, "io.atcr.manifest", "x", ATV_E_PARSE);
    /* the parameters are validated before encoding */
    rec_bad("https://pds.example.com", "did:plc:", "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com", "at://x", "io.atcr.manifest", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr.manifest&x=1", "x", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr.manifest", ".", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr.manifest", "..", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr.manifest", "a/b", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr.manifest", "a&rkey=b", ATV_E_PARSE);
    rec_bad("https://pds.example.com", FX_DID, "io.atcr.manifest", "", ATV_E_PARSE);

    /* cap: exact fit, then one byte short */
    want = strlen("https://pds.example.com" GR FX_DID_ENC "&collection=io.atcr.manifest&rkey=x");
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_getrecord_url("https://pds.example.com", FX_DID, "io.atcr.manifest", "x",
                                       out, want + 1, &err),
                 ATV_OK, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_getrecord_url("https://pds.example.com", FX_DID, "io.atcr.manifest", "x",
                                       out, want, &err),
                 ATV_E_LIMIT, &err);
    CHECK(out[0] == '\0');
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_getrecord_url(NULL, FX_DID, "io.atcr.manifest", "x", out, sizeof out,
                                       &err),
                 ATV_E_USAGE, &err);
}

/* ---- did:plc from its verified operation log ----------------------------- */

static int load_vector(const char *rel, struct atv_buf *b)
{
    const char *path = atv_test_shared(rel);
    struct atv_err err;
    atv_err_clear(&err);
    atv_buf_init(b, ATV_MAX_PLC_LOG_JSON);
    if (path == NULL || atv_buf_read_file(b, path, &err) != ATV_OK) {
        DIAG("%s: %s", rel, err.msg);
        return 0;
    }
    return 1;
}

#define BSKY_DID "did:plc:z72i7hdynmk6r22z27h6tvur"
#define BSKY_LOG "https://plc.example.com/" BSKY_DID "/log/audit"

/* Resolves the DID of vector file rel, served as its own log. */
static enum atv_status resolve_vector(const char *rel, struct atv_plc_state *st,
                                      struct atv_diddoc *dd, struct atv_err *err)
{
    struct atv_buf log;
    struct fake fk;
    struct atv_fetcher f;
    char url[256], did[64] = "";
    enum atv_status rc;

    if (!load_vector(rel, &log)) {
        return atv_err_set(err, ATV_E_IO, "cannot read %s", rel);
    }
    json_t *arr = json_loadb((const char *)log.ptr, log.len, 0, NULL);
    const char *d = json_string_value(json_object_get(json_array_get(arr, 0), "did"));
    (void)snprintf(did, sizeof did, "%s", d != NULL ? d : "");
    json_decref(arr);
    (void)snprintf(url, sizeof url, "https://plc.example.com/%s/log/audit", did);
    struct route t[1] = {{url, ATV_OK, 200, (const char *)log.ptr, log.len}};
    f = fetcher(&fk, t, 1, NULL, 0);
    rc = atv_atp_plc_resolve(&f, "https://plc.example.com", did, NULL, st, dd, err);
    atv_buf_cleanup(&log);
    return rc;
}

static void test_plc_resolve(void)
{
    struct atv_buf log, copy;
    struct atv_plc_state *st = calloc(1, sizeof *st);
    struct atv_diddoc dd;
    struct atv_err err;
    struct fake fk;
    struct atv_fetcher f;

    if (st == NULL || !load_vector("vectors/plc-audit/valid/log_bskyapp.json", &log)) {
        CHECK_MSG(0, "plc vectors");
        free(st);
        return;
    }
    struct route g[1] = {{BSKY_LOG, ATV_OK, 200, (const char *)log.ptr, log.len}};
    f = fetcher(&fk, g, 1, NULL, 0);
    atv_buf_init(&copy, ATV_MAX_PLC_LOG_JSON);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_plc_resolve(&f, "https://plc.example.com", BSKY_DID, &copy, st, &dd,
                                     &err),
                 ATV_OK, &err);
    CHECK_STR(fk.last_url, BSKY_LOG);
    CHECK_STR(dd.did, BSKY_DID);
    CHECK_STR(dd.pds, "https://bsky.social");
    CHECK_STR(dd.handle, "bsky.app");
    CHECK(dd.key.type == ATV_KEY_K256 && st->has_key && !st->tombstoned);
    CHECK(copy.len == log.len);

    /* the log of another DID is not this DID's */
    atv_err_clear(&err);
    g[0].url = "https://plc.example.com/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/log/audit";
    CHECK(atv_atp_plc_resolve(&f, "https://plc.example.com", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
                              NULL, st, &dd, &err) != ATV_OK);
    CHECK(dd.did[0] == '\0' && st->n_ops == 0);
    g[0].url = BSKY_LOG;

    /* statuses: 404 unknown, 410 gone, 503 transient, and no network at all */
    static const struct {
        long status;
        enum atv_status rc;
        const char *reason;
        int transient;
    } st_cases[] = {{404, ATV_E_NOT_FOUND, "did_not_found", 0},
                    {410, ATV_E_NOT_FOUND, "did_deactivated", 0},
                    {503, ATV_E_IO, NULL, 1},
                    {429, ATV_E_IO, NULL, 1},
                    {302, ATV_E_IO, NULL, 0}};
    for (size_t i = 0; i < N(st_cases); i++) {
        g[0].status = st_cases[i].status;
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_resolve(&f, "https://plc.example.com", BSKY_DID, NULL, st, &dd,
                                         &err),
                     st_cases[i].rc, &err);
        CHECK(st_cases[i].reason == NULL || reason_is(&err, st_cases[i].reason));
        CHECK_EQ(err.transient, st_cases[i].transient);
    }
    g[0].status = 200;
    atv_buf_cleanup(&log);

    /* a verified tombstone: deactivated (the log verifies; the state cannot sign) */
    atv_err_clear(&err);
    CHECK_STATUS(resolve_vector("vectors/plc-audit/valid/log_tombstone.json", st, &dd, &err),
                 ATV_OK, &err);
    CHECK(st->tombstoned);
    CHECK_STATUS(atv_atp_plc_usable(st, &err), ATV_E_NOT_FOUND, &err);
    CHECK(reason_is(&err, "did_tombstoned"));
    /* an invalid log (a DER signature): plc_log_invalid */
    atv_err_clear(&err);
    CHECK_STATUS(resolve_vector("vectors/plc-audit/invalid/log_invalid_sig_der.json", st, &dd,
                                &err),
                 ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "plc_log_invalid"));
    /* not a did:plc */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_plc_resolve(&f, NULL, "did:web:example.com", NULL, st, &dd, &err),
                 ATV_E_UNSUPPORTED, &err);
    atv_buf_cleanup(&copy);
    free(st);
}

int main(void)
{
    test_did_doc_url();
    test_did_resolve_ok();
    test_did_resolve_web();
    test_did_resolve_errors();
    test_handle_resolve();
    test_handle_verify();
    test_getrecord_url();
    test_plc_resolve();
    return atv_test_done();
}
