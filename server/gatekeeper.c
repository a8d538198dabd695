/* server/gatekeeper.c: OPA Gatekeeper's external data provider protocol.
 *
 * POST /gatekeeper/verify and /gatekeeper/mutate take a ProviderRequest
 * ({"apiVersion": "externaldata.gatekeeper.sh/v1beta1" or v1alpha1, "kind":
 * "ProviderRequest", "request": {"keys": [...]}}) and always answer HTTP 200
 * with a ProviderResponse (open-policy-agent/frameworks
 * constraint/pkg/externaldata/response.go): "idempotent": true (mutation
 * rejects a response without it) and one item per key, in order, duplicates
 * included, except for keys whose verdict is transient: those get no item
 * and are named in "systemError". Gatekeeper caches every item, errors
 * included, for 3 minutes and never caches systemError, so a transient
 * failure must never become an item.
 *
 * verify: {"key": K, "value": {allowed, verified (= met), audit, reference,
 * digest, policy (when a scope matched), signers [{did, handle (when
 * proven)}], reason and detail (when not met), message}}; a key that is not an
 * image reference: {"key": K, "error": TEXT}.
 * mutate: the value is K pinned: K itself when it already names a digest
 * (byte for byte, so mutation converges), else K + "@" + DIGEST; an allowed
 * image whose digest was never resolved (a scope that asks no signature) is
 * K unchanged; a refused image is an item error. Its deadline is
 * --mutate-timeout (Gatekeeper's mutating webhook defaults to 1 s).
 *
 * With --client-ca, both paths require a client certificate that verifies
 * against it (Gatekeeper presents its webhook certificate); without one the
 * answer is 403 with a systemError. */
#include "server/server_internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GK_API "externaldata.gatekeeper.sh/v1beta1"
#define GK_SYSERR_MAX 4096u /* systemError text, bytes */
#define GK_SLOTS 2048u      /* the duplicate finder's table: > 2 x SRV_GK_MAX_KEYS / 2 */
/* an answer: at most SRV_GK_MAX_KEYS items; the largest verify value names
 * ATV_VFY_MAX_SIGS signers of ATV_MAX_DID + ATV_MAX_HANDLE bytes (about 74 KiB)
 * beside a reference and a message of a few KiB, so 1024 distinct worst-case
 * keys stay under 80 MiB; the bound only stops a runaway, never a real answer */
#define GK_MAX_ANSWER ((size_t)128 << 20)

struct gk_req;
struct gk_wait {
    struct srv_wait w; /* first: the job's list links these */
    struct gk_req *r;
    size_t idx;        /* the first key with this text */
};

struct gk_req {
    struct atv_srv *s;
    srv_req *req;
    int mutate;
    enum srv_path path;
    int64_t now;
    uint64_t start_ms;
    size_t n;
    char **keys;       /* n, own copies */
    size_t *first;     /* the index of the first key with the same text */
    char **value;      /* per first key: the item's value as JSON text (or NULL) */
    char **error;      /* per first key: the item's error text (or NULL) */
    char **transient;  /* per first key: why no item (or NULL) */
    size_t pending;    /* first keys still waiting for a verdict */
};

static void gk_free(struct gk_req *r)
{
    size_t i;
    if (r == NULL) {
        return;
    }
    for (i = 0; i < r->n; i++) {
        free(r->keys != NULL ? r->keys[i] : NULL);
        free(r->value != NULL ? r->value[i] : NULL);
        free(r->error != NULL ? r->error[i] : NULL);
        free(r->transient != NULL ? r->transient[i] : NULL);
    }
    free(r->keys);
    free(r->first);
    free(r->value);
    free(r->error);
    free(r->transient);
    free(r);
}

/* An answer with no items: the whole request failed (systemError only). */
static void gk_fail(struct atv_srv *s, srv_req *req, enum srv_path path, int code, const char *msg)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:b,s:s}}", "apiVersion", GK_API, "kind", "ProviderResponse",
                          "response", "idempotent", 1, "systemError", msg);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    srv_reply(s, req, path, code, "application/json",
              text != NULL ? text : "{\"kind\":\"ProviderResponse\"}");
    free(text);
    json_decref(o);
}

/* The verify item's value: the verdict, translated. */
static json_t *verify_value(const struct atv_vfy_image *v)
{
    json_t *o = json_object();
    json_t *signers = json_array();
    size_t i;
    int bad = o == NULL || signers == NULL;

    for (i = 0; !bad && i < v->n_signers && i < ATV_VFY_MAX_SIGS; i++) {
        json_t *sg = json_pack("{s:s}", "did", v->signers[i].did);
        bad |= sg == NULL;
        if (sg != NULL && v->signers[i].handle[0] != '\0') {
            bad |= json_object_set_new(sg, "handle", json_string(v->signers[i].handle)) != 0;
        }
        bad |= sg == NULL || json_array_append_new(signers, sg) != 0;
    }
    if (!bad) {
        bad |= json_object_set_new(o, "allowed", json_boolean(v->allowed)) != 0;
        bad |= json_object_set_new(o, "verified", json_boolean(v->met)) != 0;
        bad |= json_object_set_new(o, "audit", json_boolean(v->audit)) != 0;
        bad |= json_object_set_new(o, "reference", json_string(v->reference)) != 0;
        if (v->digest[0] != '\0') {
            bad |= json_object_set_new(o, "digest", json_string(v->digest)) != 0;
        }
        if (v->policy[0] != '\0') {
            bad |= json_object_set_new(o, "policy", json_string(v->policy)) != 0;
        }
        bad |= json_object_set(o, "signers", signers) != 0;
        if (!v->met) {
            bad |= json_object_set_new(o, "reason",
                                       json_string(atv_vfy_reason_name(v->reason))) != 0;
            if (v->detail[0] != '\0') {
                bad |= json_object_set_new(o, "detail", json_string(v->detail)) != 0;
            }
        }
        bad |= json_object_set_new(o, "message", json_string(v->message)) != 0;
    }
    json_decref(signers);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *srv_gk_value_text(const struct atv_vfy_image *v)
{
    json_t *o = verify_value(v);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* s as a JSON string literal (new: free()), NULL when out of memory. */
static char *json_text_of(const char *s)
{
    json_t *j = json_string(s);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return text;
}

/* 1 when the reference names a digest ("...@sha256:..."). */
static int pinned(const char *key)
{
    return strchr(key, '@') != NULL;
}

static char *dup_printf(const char *fmt, ...) ATV_PRINTF(1, 2);
static char *dup_printf(const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* Records key idx's outcome from its verdict (or its absence); rendered: the
 * verify value the worker made of v, or NULL. */
static void gk_record(struct gk_req *r, size_t i, const struct atv_vfy_image *v, const char *busy,
                      const char *rendered)
{
    const char *key = r->keys[i];
    if (v == NULL) {
        r->transient[i] = dup_printf("%.300s: %s", key, busy != NULL ? busy : "no verdict");
        return;
    }
    if (v->transient && !v->allowed) {
        r->transient[i] = dup_printf("%.300s: %s: %.300s", key, atv_vfy_reason_name(v->reason),
                                     v->message);
        return;
    }
    if (!r->mutate) {
        r->value[i] = rendered != NULL ? strdup(rendered) : srv_gk_value_text(v);
        if (r->value[i] == NULL) {
            r->transient[i] = dup_printf("%.300s: out of memory", key);
        }
        return;
    }
    if (!v->allowed) {
        r->error[i] = dup_printf("refused: %s: %.400s", atv_vfy_reason_name(v->reason), v->message);
    } else if (pinned(key) || v->digest[0] == '\0') {
        r->value[i] = json_text_of(key);
    } else {
        char *p = dup_printf("%s@%s", key, v->digest);
        r->value[i] = p != NULL ? json_text_of(p) : NULL;
        free(p);
    }
    if (r->value[i] == NULL && r->error[i] == NULL) {
        r->transient[i] = dup_printf("%.300s: out of memory", key);
    }
}

/* Appends the NUL-terminated s; 0 when the buffer is full or out of memory. */
static int put(struct atv_buf *b, const char *s)
{
    struct atv_err err;
    return atv_buf_append(b, s, strlen(s), &err) == ATV_OK;
}

/* Appends s as a JSON string literal (jansson encodes it). */
static int put_str(struct atv_buf *b, const char *s)
{
    char *t = json_text_of(s);
    int ok = t != NULL && put(b, t);
    free(t);
    return ok;
}

/* The ProviderResponse, written out of pieces jansson encoded (the values,
 * already JSON text; the keys and messages as string literals), in the
 * members' order jansson itself would write: the verify values come from the
 * workers, and a tree of json_t per answer made jansson's dump the largest
 * single cost of the loop thread (make bench's profile). */
static void gk_answer(struct gk_req *r)
{
    struct atv_buf b;
    struct atv_err err;
    char syserr[GK_SYSERR_MAX];
    size_t i, w = 0, n_transient = 0, n_items = 0;
    int ok;

    atv_buf_init(&b, GK_MAX_ANSWER);
    syserr[0] = '\0';
    ok = put(&b, "{\"apiVersion\":\"" GK_API "\",\"kind\":\"ProviderResponse\","
                 "\"response\":{\"idempotent\":true,\"items\":[");
    for (i = 0; ok && i < r->n; i++) {
        size_t f = r->first[i];
        if (r->transient[f] != NULL) {
            n_transient++;
            if (f == i && w < sizeof syserr) {
                int k = snprintf(syserr + w, sizeof syserr - w, "%s%s", w > 0 ? "; " : "",
                                 r->transient[f]);
                w = k > 0 ? w + (size_t)k : w;
            }
            continue;
        }
        ok = put(&b, n_items++ > 0 ? ",{\"key\":" : "{\"key\":") && put_str(&b, r->keys[i]);
        if (ok && r->error[f] != NULL) {
            ok = put(&b, ",\"error\":") && put_str(&b, r->error[f]);
        } else if (ok) {
            ok = put(&b, ",\"value\":") && put(&b, r->value[f]);
        }
        ok = ok && put(&b, "}");
    }
    if (w >= sizeof syserr) {
        memcpy(syserr + sizeof syserr - 5, "...", 4);
    }
    ok = ok && put(&b, "]");
    if (ok && n_transient > 0) {
        char *full = dup_printf("transient failure for %zu key%s (retry; never cached): %s",
                                n_transient, n_transient == 1 ? "" : "s", syserr);
        ok = full != NULL && put(&b, ",\"systemError\":") && put_str(&b, full);
        free(full);
    }
    ok = ok && put(&b, "}}") && atv_buf_terminate(&b, &err) == ATV_OK;
    if (ok) {
        srv_reply(r->s, r->req, r->path, 200, "application/json", (const char *)b.ptr);
    } else {
        gk_fail(r->s, r->req, r->path, 200, "the answer does not fit: out of memory");
    }
    atv_buf_cleanup(&b);
}

static void gk_done(struct atv_srv *s, struct srv_wait *w, const struct atv_vfy_image *v,
                    const char *busy)
{
    struct gk_wait *x = (struct gk_wait *)(void *)w;
    struct gk_req *r = x->r;
    if (v == NULL && busy == NULL) {
        /* the server is going away: the last waiter releases the request */
        if (--r->pending == 0) {
            srv_request_release(r->req);
            atomic_fetch_sub(&srv_metrics_of(s)->in_flight, 1);
            gk_free(r);
        }
        free(x);
        return;
    }
    if (v != NULL) {
        uint64_t now = atv_vfy_clock_ms();
        srv_metrics_verdict(srv_metrics_of(s), v, now > r->start_ms ? now - r->start_ms : 0);
    }
    gk_record(r, x->idx, v, busy, w->gk_value);
    free(x);
    if (--r->pending == 0) {
        gk_answer(r);
        atomic_fetch_sub(&srv_metrics_of(s)->in_flight, 1);
        gk_free(r);
    }
}

/* Parses the ProviderRequest into r->keys; 0 with msg on a malformed one. */
static int gk_parse(struct gk_req *r, const unsigned char *body, size_t len, char *msg, size_t cap)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *api, *kind, *rq, *keys, *k;
    size_t i;
    int ok = 0;

    if (root == NULL) {
        (void)snprintf(msg, cap, "request: not JSON (line %d column %d)", jerr.line, jerr.column);
        return 0;
    }
    api = json_object_get(root, "apiVersion");
    kind = json_object_get(root, "kind");
    rq = json_object_get(root, "request");
    keys = rq != NULL ? json_object_get(rq, "keys") : NULL;
    if (!json_is_object(root) || !json_is_string(api) ||
        (strcmp(json_string_value(api), "externaldata.gatekeeper.sh/v1beta1") != 0 &&
         strcmp(json_string_value(api), "externaldata.gatekeeper.sh/v1alpha1") != 0)) {
        (void)snprintf(msg, cap, "request: apiVersion: want externaldata.gatekeeper.sh/v1beta1 "
                                 "or v1alpha1");
        goto out;
    }
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "ProviderRequest") != 0) {
        (void)snprintf(msg, cap, "request: kind: want ProviderRequest");
        goto out;
    }
    if (!json_is_object(rq) || !json_is_array(keys)) {
        (void)snprintf(msg, cap, "request: request.keys: want an array of strings");
        goto out;
    }
    r->n = json_array_size(keys);
    if (r->n > SRV_GK_MAX_KEYS) {
        (void)snprintf(msg, cap, "request: %zu keys, at most %u", r->n, SRV_GK_MAX_KEYS);
        r->n = 0;
        goto out;
    }
    if (r->n > 0) {
        r->keys = calloc(r->n, sizeof *r->keys);
        r->first = calloc(r->n, sizeof *r->first);
        r->value = calloc(r->n, sizeof *r->value);
        r->error = calloc(r->n, sizeof *r->error);
        r->transient = calloc(r->n, sizeof *r->transient);
        if (r->keys == NULL || r->first == NULL || r->value == NULL || r->error == NULL ||
            r->transient == NULL) {
            (void)snprintf(msg, cap, "out of memory");
            goto out;
        }
    }
    json_array_foreach(keys, i, k)
    {
        if (!json_is_string(k)) {
            (void)snprintf(msg, cap, "request: request.keys[%zu]: want a string", i);
            goto out;
        }
        r->keys[i] = strdup(json_string_value(k));
        if (r->keys[i] == NULL) {
            (void)snprintf(msg, cap, "out of memory");
            goto out;
        }
    }
    ok = 1;
out:
    json_decref(root);
    return ok;
}

/* r->first: each key's first occurrence (a small open-addressing table). */
static void gk_dedupe(struct gk_req *r)
{
    static const size_t none = (size_t)-1;
    size_t slot[GK_SLOTS];
    size_t i;
    for (i = 0; i < GK_SLOTS; i++) {
        slot[i] = none;
    }
    for (i = 0; i < r->n; i++) {
        uint64_t h = 14695981039346656037ull;
        const unsigned char *p;
        size_t at;
        for (p = (const unsigned char *)r->keys[i]; *p != '\0'; p++) {
            h = (h ^ *p) * 1099511628211ull;
        }
        at = (size_t)(h % GK_SLOTS);
        while (slot[at] != none && strcmp(r->keys[slot[at]], r->keys[i]) != 0) {
            at = (at + 1) % GK_SLOTS;
        }
        if (slot[at] == none) {
            slot[at] = i;
        }
        r->first[i] = slot[at];
    }
}

void srv_gk_handle(struct atv_srv *s, srv_req *req, int mutate)
{
    const struct atv_srv_config *c = srv_config(s);
    enum srv_path path = mutate ? SRV_P_GK_MUTATE : SRV_P_GK_VERIFY;
    struct gk_req *r;
    const unsigned char *body;
    size_t len, i, n_first = 0;
    char msg[200];
    uint64_t deadline;

    if (c->client_ca != NULL && !srv_client_verified(req)) {
        atomic_fetch_add(&srv_metrics_of(s)->client_cert_refused, 1);
        gk_fail(s, req, path, 403,
                "a client certificate that verifies against --client-ca is required");
        return;
    }
    if (!srv_is_post(req)) {
        gk_fail(s, req, path, 405, "method: only POST");
        return;
    }
    if (!srv_json_request(req)) {
        gk_fail(s, req, path, 415, "Content-Type: want application/json");
        return;
    }
    body = srv_body(req, &len);
    if (len > SRV_GK_MAX_BODY) {
        gk_fail(s, req, path, 413, "request: body over 1 MiB");
        return;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        gk_fail(s, req, path, 200, "out of memory");
        return;
    }
    r->s = s;
    r->req = req;
    r->mutate = mutate;
    r->path = path;
    r->now = (int64_t)time(NULL);
    r->start_ms = atv_vfy_clock_ms();
    if (body == NULL || !gk_parse(r, body, len, msg, sizeof msg)) {
        gk_fail(s, req, path, 200, body == NULL ? "request: empty body" : msg);
        gk_free(r);
        return;
    }
    gk_dedupe(r);
    deadline = r->start_ms + (mutate ? c->mutate_timeout_ms : c->params->timeout_ms);
    /* first keys that are not references are answered now; the rest wait */
    for (i = 0; i < r->n; i++) {
        if (r->first[i] != i) {
            continue;
        }
        if (!srv_image_ok(s, r->keys[i], msg, sizeof msg)) {
            r->error[i] = strdup(msg);
            if (r->error[i] == NULL) {
                r->transient[i] = strdup("out of memory");
            }
            continue;
        }
        n_first++;
    }
    r->pending = n_first + 1; /* held until every job is submitted */
    atomic_fetch_add(&srv_metrics_of(s)->in_flight, 1);
    for (i = 0; i < r->n; i++) {
        struct gk_wait *x;
        if (r->first[i] != i || r->error[i] != NULL || r->transient[i] != NULL) {
            continue;
        }
        x = calloc(1, sizeof *x);
        if (x != NULL) {
            x->w.done = gk_done;
            x->r = r;
            x->idx = i;
        }
        if (x == NULL || !srv_submit(s, r->keys[i], &x->w, r->now, r->start_ms, deadline,
                                     mutate ? 'm' : 'v', SRV_GK_MAX_KEYS)) {
            free(x);
            r->transient[i] = dup_printf("%.300s: busy: the verification queue is full", r->keys[i]);
            r->pending--;
        }
    }
    if (--r->pending == 0) {
        gk_answer(r);
        atomic_fetch_sub(&srv_metrics_of(s)->in_flight, 1);
        gk_free(r);
    }
}
