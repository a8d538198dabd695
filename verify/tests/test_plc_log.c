/* verify/: did:plc resolved from its verified operation log (plcAuditLog),
 * through the real HTTP client, against a loopback PLC directory
 * (common/tests/loopback.h) serving the official PLC interop logs
 * (../shared/vectors/plc-audit) or versions of them an attacker would serve:
 *   - the genuine log gives the key, the PDS and the handle; the directory's
 *     own document (a forged one here) is never asked for;
 *   - a log with one byte changed is IDENTITY_ERROR-worthy: plc_log_invalid;
 *   - a log rolled back to before the head seen earlier: plc_log_rollback,
 *     while a first sight of the same short log (another cache) passes;
 *   - a log whose earlier head was nullified by a valid recovery passes;
 *   - plcAuditLog false asks for the document instead (the weaker mode). */
#include "verify/verify_internal.h"

#include "common/test.h"
#include "common/tests/loopback.h"

#include <jansson.h>

#define BSKY "did:plc:z72i7hdynmk6r22z27h6tvur"

static char *full_log, *short_log, *forged_log, *null_pre, *null_all;
static char null_did[64];

static const char forged_doc[] =
    "{\"id\":\"" BSKY "\",\"alsoKnownAs\":[\"at://evil.test\"],\"verificationMethod\":[{\"id\":\"" BSKY
    "#atproto\",\"type\":\"Multikey\",\"controller\":\"" BSKY
    "\",\"publicKeyMultibase\":\"zQ3shvgt1ntaeAoEyHzAvevjG22Stbaiwo1MLUKaUU8MBuDR7\"}],"
    "\"service\":[{\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
    "\"serviceEndpoint\":\"https://evil.example\"}]}";

static void serve(int fd, const struct lb_request *rq, const char *body)
{
    lb_reply(fd, rq, "200 OK", "Content-Type: application/json\r\n", body, strlen(body));
}

static void respond(int fd, const struct lb_request *rq)
{
    char p[256];
    const char *routes[][2] = {{"/full/" BSKY "/log/audit", full_log},
                               {"/short/" BSKY "/log/audit", short_log},
                               {"/forged/" BSKY "/log/audit", forged_log},
                               {"/full/" BSKY, forged_doc}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(rq->path, routes[i][0]) == 0) {
            serve(fd, rq, routes[i][1]);
            return;
        }
    }
    (void)snprintf(p, sizeof p, "/pre/%s/log/audit", null_did);
    if (strcmp(rq->path, p) == 0) {
        serve(fd, rq, null_pre);
        return;
    }
    (void)snprintf(p, sizeof p, "/all/%s/log/audit", null_did);
    if (strcmp(rq->path, p) == 0) {
        serve(fd, rq, null_all);
        return;
    }
    lb_reply(fd, rq, "404 Not Found", "", "", 0);
}

static char *dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    return s;
}

/* Loads the vectors and derives the attacker's versions of them. */
static int load_logs(void)
{
    json_error_t jerr;
    const char *p1 = atv_test_shared("vectors/plc-audit/valid/log_bskyapp.json");
    json_t *full = p1 != NULL ? json_load_file(p1, JSON_PRESERVE_ORDER, &jerr) : NULL;
    const char *p2 = atv_test_shared("vectors/plc-audit/valid/log_nullification.json");
    json_t *nul = p2 != NULL ? json_load_file(p2, JSON_PRESERVE_ORDER, &jerr) : NULL;
    json_t *sh, *fg, *pre;
    char *sig;

    if (full == NULL || nul == NULL || json_array_size(full) < 2 || json_array_size(nul) != 3) {
        json_decref(full);
        json_decref(nul);
        return 0;
    }
    full_log = json_dumps(full, JSON_COMPACT | JSON_PRESERVE_ORDER);
    /* the genesis alone: what a directory rolling the DID back would serve */
    sh = json_array();
    (void)json_array_append(sh, json_array_get(full, 0));
    short_log = dump(sh);
    /* one character of the last signature changed */
    fg = json_deep_copy(full);
    json_t *op = json_object_get(json_array_get(fg, json_array_size(fg) - 1), "operation");
    sig = strdup(json_string_value(json_object_get(op, "sig")));
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    (void)json_object_set_new(op, "sig", json_string(sig));
    free(sig);
    forged_log = dump(fg);
    /* the nullification log before its recovery: entry 1 is the head, not yet nullified */
    (void)snprintf(null_did, sizeof null_did, "%s",
                   json_string_value(json_object_get(json_array_get(nul, 0), "did")));
    pre = json_array();
    (void)json_array_append_new(pre, json_deep_copy(json_array_get(nul, 0)));
    (void)json_array_append_new(pre, json_deep_copy(json_array_get(nul, 1)));
    (void)json_object_set_new(json_array_get(pre, 1), "nullified", json_false());
    null_pre = dump(pre);
    null_all = dump(nul);
    json_decref(full);
    return full_log != NULL && short_log != NULL && forged_log != NULL && null_pre != NULL &&
           null_all != NULL;
}

struct ctx {
    struct atv_vfy_params params;
    struct atv_vfy_store store;
    struct atv_vfy_request rq;
};

/* Resolves did through the directory at PATH with the cache in dir. */
static enum atv_status resolve(struct ctx *c, const char *path, const char *did, const char *dir,
                               int by_log, struct atv_diddoc *doc, struct atv_err *err)
{
    struct vsrc s;
    enum atv_status rc;

    atv_vfy_params_init(&c->params);
    atv_vfy_store_init(&c->store);
    (void)snprintf(c->params.plc, sizeof c->params.plc, "%s", lb_url1(path));
    (void)snprintf(c->params.cache_dir, sizeof c->params.cache_dir, "%s", dir);
    c->params.allow_loopback_http = 1;
    c->params.did_cache_ttl_s = 0; /* no document cache: every call asks the directory */
    c->params.plc_audit_log = by_log;
    memset(&c->rq, 0, sizeof c->rq);
    c->rq.subject = "127.0.0.1:1/x/y:v1";
    c->rq.params = &c->params;
    c->rq.store = &c->store;
    atv_err_clear(err);
    rc = vsrc_open(&s, &c->rq, err);
    if (rc == ATV_OK) {
        rc = vsrc_diddoc(&s, did, doc, err);
    }
    vsrc_close(&s);
    atv_vfy_params_cleanup(&c->params);
    return rc;
}

static int reason_is(const struct atv_err *err, const char *r)
{
    return err->reason != NULL && strcmp(err->reason, r) == 0;
}

static void test_log(const char *dir1, const char *dir2)
{
    struct ctx c;
    struct atv_diddoc doc;
    struct atv_err err;
    const char *seen;

    (void)lb_log();
    /* the genuine log: its key and PDS, and the document is never asked for */
    CHECK_STATUS(resolve(&c, "/full", BSKY, dir1, 1, &doc, &err), ATV_OK, &err);
    CHECK_STR(doc.pds, "https://bsky.social");
    CHECK_STR(doc.handle, "bsky.app");
    seen = lb_log();
    CHECK_MSG(lb_count(seen, "/log/audit") == 1 && lb_count(seen, BSKY " ") == 0,
              "only the log was asked for: %s", seen);

    /* the weaker mode takes the directory's (here forged) document */
    CHECK_STATUS(resolve(&c, "/full", BSKY, dir2, 0, &doc, &err), ATV_OK, &err);
    CHECK_STR(doc.pds, "https://evil.example");

    /* one changed signature byte: refused */
    CHECK_STATUS(resolve(&c, "/forged", BSKY, dir1, 1, &doc, &err), ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "plc_log_invalid") && doc.did[0] == '\0');

    /* rolled back to the genesis after the full log was seen: refused */
    CHECK_STATUS(resolve(&c, "/short", BSKY, dir1, 1, &doc, &err), ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "plc_log_rollback"));
    CHECK(strstr(err.msg, "does not contain") != NULL);
    /* the same short log seen first by another cache passes: a first sight
     * cannot tell (the README says so) */
    CHECK_STATUS(resolve(&c, "/short", BSKY, dir2, 1, &doc, &err), ATV_OK, &err);
    /* ... and then the full log extends it: passes, and the head moves on */
    CHECK_STATUS(resolve(&c, "/full", BSKY, dir2, 1, &doc, &err), ATV_OK, &err);
    CHECK_STATUS(resolve(&c, "/short", BSKY, dir2, 1, &doc, &err), ATV_E_VERIFY, &err);

    /* a head later nullified by a valid recovery: the log still contains it.
     * (This vector's operations name no atproto key: past the rollback guard,
     * the answer is no_signing_key, which is what shows the guard let it by.) */
    CHECK_STATUS(resolve(&c, "/pre", null_did, dir1, 1, &doc, &err), ATV_E_NOT_FOUND, &err);
    CHECK(reason_is(&err, "no_signing_key"));
    CHECK_STATUS(resolve(&c, "/all", null_did, dir1, 1, &doc, &err), ATV_E_NOT_FOUND, &err);
    CHECK(reason_is(&err, "no_signing_key"));
    /* and after the recovery, the pre-recovery log lacks the new head: refused */
    CHECK_STATUS(resolve(&c, "/pre", null_did, dir1, 1, &doc, &err), ATV_E_VERIFY, &err);
    CHECK(reason_is(&err, "plc_log_rollback"));

    /* a directory that does not know the DID */
    CHECK_STATUS(resolve(&c, "/nowhere", BSKY, dir1, 1, &doc, &err), ATV_E_NOT_FOUND, &err);
    CHECK(reason_is(&err, "did_not_found"));
}

int main(void)
{
    char d1[] = "/tmp/atv-plc-log-XXXXXX", d2[] = "/tmp/atv-plc-log-XXXXXX";
    char cmd[128];

    alarm(60); /* backstop; every request is bounded far below */
    if (!load_logs()) {
        printf("Bail out! cannot read the PLC vectors under %s\n",
               atv_test_shared("vectors/plc-audit"));
        return 1;
    }
    if (mkdtemp(d1) == NULL || mkdtemp(d2) == NULL || lb_start(respond) != 0) {
        CHECK_MSG(0, "setup: temporary directories or the loopback server");
        lb_stop();
        return atv_test_done();
    }
    test_log(d1, d2);
    lb_stop();
    (void)snprintf(cmd, sizeof cmd, "rm -rf %s %s", d1, d2);
    if (system(cmd) != 0) {
        DIAG("could not remove %s %s", d1, d2);
    }
    free(full_log);
    free(short_log);
    free(forged_log);
    free(null_pre);
    free(null_all);
    return atv_test_done();
}
