/* server/admission.c: Kubernetes admission webhooks.
 *
 * POST /k8s/validate (and /validate, the seed's path) and /k8s/mutate take an
 * admission.k8s.io/v1 AdmissionReview (kube/ reads it: the images of Pods,
 * PodTemplates and every workload kind that holds a pod template) and answer
 * HTTP 200 with the review's response, response.uid copied.
 *
 * validate: CREATE and UPDATE are verified (every image once, in parallel,
 * through the shared singleflight); DELETE, CONNECT and kinds without images
 * are allowed without work. Any definite refusal: allowed false, status.code
 * 403, status.message naming each refused image and its reason. Otherwise
 * any transient failure: allowed false, status.code 503, a "retry" message.
 * Audit passes (allowed, not met) become warnings. Never a patch.
 *
 * mutate: always allowed; a JSONPatch replaces every allowed image that does
 * not name a digest yet by IMAGE@DIGEST (the spelling Gatekeeper's mutation
 * uses); pinned, refused and undecided images are left alone (validation
 * refuses those). Its deadline is --mutate-timeout.
 *
 * A body that is not such a review is a 400 (the API server then applies the
 * webhook's failurePolicy: Fail refuses). */
#include "server/server_internal.h"

#include "common/buf.h"
#include "kube/kube.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K8S_MSG_MAX 4096u      /* status.message, bytes */
#define K8S_WARNING_MAX 120u   /* one warning (longer ones may be truncated by clients) */
#define K8S_MAX_WARNINGS 16u
#define K8S_MAX_PATCH ((size_t)2 << 20)

struct k8s_req;
struct k8s_wait {
    struct srv_wait w; /* first */
    struct k8s_req *r;
    size_t idx;        /* the first image with this text */
};

/* What one distinct image came to. */
enum k8s_outcome { K_PENDING = 0, K_ALLOWED, K_AUDIT, K_REFUSED, K_TRANSIENT };

struct k8s_req {
    struct atv_srv *s;
    srv_req *req;
    int mutate;
    enum srv_path path;
    uint64_t start_ms;
    struct atv_kube_review rv;
    size_t *first;            /* per image: the index of the first with the same ref */
    enum k8s_outcome *out;    /* per first image */
    char **why;               /* per first image: reason and message (refused, audit, transient) */
    char **digest;            /* per first image: the digest when allowed and known */
    size_t pending;
};

/* snprintf that truncates on purpose (messages for people, bounded). */
static void fmt(char *dst, size_t cap, const char *f, ...) ATV_PRINTF(3, 4);
static void fmt(char *dst, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    (void)vsnprintf(dst, cap, f, ap);
    va_end(ap);
}

static void k8s_free(struct k8s_req *r)
{
    size_t i;
    if (r == NULL) {
        return;
    }
    for (i = 0; i < r->rv.images.n; i++) {
        free(r->why != NULL ? r->why[i] : NULL);
        free(r->digest != NULL ? r->digest[i] : NULL);
    }
    free(r->first);
    free(r->out);
    free(r->why);
    free(r->digest);
    atv_kube_review_cleanup(&r->rv);
    free(r);
}

static void k8s_bad(struct atv_srv *s, srv_req *req, enum srv_path path, int code, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    srv_reply(s, req, path, code, "application/json", text != NULL ? text : "{}");
    free(text);
    json_decref(o);
}

/* Appends "sep text" to buf (cap bytes) while it fits; the end is marked. */
static void add_text(char *buf, size_t cap, const char *sep, const char *text)
{
    size_t w = strlen(buf);
    int n;
    if (w + 4 >= cap) {
        return;
    }
    n = snprintf(buf + w, cap - w, "%s%s", w > 0 ? sep : "", text);
    if (n < 0 || (size_t)n >= cap - w) {
        memcpy(buf + cap - 4, "...", 4);
    }
}

/* The review response: {apiVersion, kind, response: {uid, allowed, ...}}. */
static void k8s_answer(struct k8s_req *r)
{
    const struct atv_kube_images *im = &r->rv.images;
    char refused[K8S_MSG_MAX] = "", transient[K8S_MSG_MAX] = "", msg[K8S_MSG_MAX + 200];
    json_t *warnings = json_array();
    json_t *resp = json_pack("{s:s,s:b}", "uid", r->rv.uid, "allowed", 1);
    json_t *o;
    struct atv_buf patch;
    size_t i, n_ref = 0, n_tr = 0;
    char *text = NULL;
    int bad = warnings == NULL || resp == NULL;

    atv_buf_init(&patch, K8S_MAX_PATCH);
    for (i = 0; !bad && i < im->n; i++) {
        size_t f = r->first[i];
        char line[1600];
        if (f != i) {
            continue;
        }
        switch (r->out[f]) {
        case K_REFUSED:
            n_ref++;
            fmt(line, sizeof line, "%.1024s: %s", im->items[f].ref, r->why[f]);
            add_text(refused, sizeof refused, "; ", line);
            break;
        case K_TRANSIENT:
        case K_PENDING:
            n_tr++;
            fmt(line, sizeof line, "%.1024s: %s", im->items[f].ref,
                           r->why[f] != NULL ? r->why[f] : "no verdict");
            add_text(transient, sizeof transient, "; ", line);
            break;
        case K_AUDIT:
            if (json_array_size(warnings) < K8S_MAX_WARNINGS) {
                /* the reason first: clients may cut a warning at 120 characters */
                char wbuf[K8S_WARNING_MAX + 1];
                size_t rl = strcspn(r->why[f], ":");
                fmt(wbuf, sizeof wbuf, "atcr-verify audit, not met: %.*s: %s", (int)rl, r->why[f],
                    im->items[f].ref);
                bad |= json_array_append_new(warnings, json_string(wbuf)) != 0;
            }
            break;
        default:
            break;
        }
    }
    if (r->mutate) {
        /* every occurrence of an allowed image, each at its own place */
        for (i = 0; !bad && i < im->n; i++) {
            size_t f = r->first[i];
            struct atv_err err;
            char *pinned;
            size_t plen;
            if ((r->out[f] != K_ALLOWED && r->out[f] != K_AUDIT) || r->digest[f] == NULL ||
                strchr(im->items[i].ref, '@') != NULL) {
                continue;
            }
            plen = strlen(im->items[i].ref) + strlen(r->digest[f]) + 2;
            pinned = malloc(plen);
            if (pinned == NULL) {
                bad = 1;
                break;
            }
            fmt(pinned, plen, "%s@%s", im->items[i].ref, r->digest[f]);
            atv_err_clear(&err);
            bad |= atv_kube_patch_replace(&patch, im->items[i].pointer, pinned, &err) != ATV_OK;
            free(pinned);
        }
        if (!bad && patch.len > 0) {
            struct atv_buf b64;
            struct atv_err err;
            atv_buf_init(&b64, K8S_MAX_PATCH * 2);
            atv_err_clear(&err);
            bad |= atv_base64_encode(atv_buf_view(&patch), &b64, &err) != ATV_OK;
            /* the API server decodes response.patch ([]byte) as padded standard base64
             * (encoding/json uses base64.StdEncoding); atv_base64_encode writes no '=' */
            while (!bad && b64.len % 4 != 0) {
                bad |= atv_buf_append(&b64, "=", 1, &err) != ATV_OK;
            }
            bad |= !bad && atv_buf_terminate(&b64, &err) != ATV_OK;
            if (!bad) {
                bad |= json_object_set_new(resp, "patchType", json_string("JSONPatch")) != 0;
                bad |= json_object_set_new(resp, "patch", json_string((const char *)b64.ptr)) != 0;
            }
            atv_buf_cleanup(&b64);
        }
    } else if (n_ref > 0 || n_tr > 0) {
        int code = n_ref > 0 ? 403 : 503;
        if (n_ref > 0) {
            fmt(msg, sizeof msg, "atcr-verify: %zu image%s refused: %s%s%s", n_ref,
                           n_ref == 1 ? "" : "s", refused,
                           n_tr > 0 ? "; not decided in time (retry): " : "", transient);
        } else {
            fmt(msg, sizeof msg,
                           "atcr-verify: not decided in time, retry: %s", transient);
        }
        bad |= json_object_set_new(resp, "allowed", json_false()) != 0;
        bad |= json_object_set_new(resp, "status", json_pack("{s:i,s:s}", "code", code,
                                                             "message", msg)) != 0;
    }
    if (!bad && json_array_size(warnings) > 0) {
        bad |= json_object_set(resp, "warnings", warnings) != 0;
    }
    o = bad ? NULL
            : json_pack("{s:s,s:s,s:O}", "apiVersion", "admission.k8s.io/v1", "kind",
                        "AdmissionReview", "response", resp);
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text != NULL) {
        srv_reply(r->s, r->req, r->path, 200, "application/json", text);
    } else {
        k8s_bad(r->s, r->req, r->path, 500, "out of memory");
    }
    free(text);
    json_decref(o);
    json_decref(resp);
    json_decref(warnings);
    atv_buf_cleanup(&patch);
}

static char *why_of(const struct atv_vfy_image *v)
{
    char buf[700];
    fmt(buf, sizeof buf, "%s: %.600s", atv_vfy_reason_name(v->reason), v->message);
    return strdup(buf);
}

static void k8s_done(struct atv_srv *s, struct srv_wait *w, const struct atv_vfy_image *v,
                     const char *busy)
{
    struct k8s_wait *x = (struct k8s_wait *)(void *)w;
    struct k8s_req *r = x->r;
    size_t i = x->idx;

    free(x);
    if (v == NULL && busy == NULL) {
        if (--r->pending == 0) {
            srv_request_release(r->req);
            atomic_fetch_sub(&srv_metrics_of(s)->in_flight, 1);
            k8s_free(r);
        }
        return;
    }
    if (v == NULL) {
        r->out[i] = K_TRANSIENT;
        r->why[i] = strdup(busy);
    } else {
        uint64_t now = atv_vfy_clock_ms();
        srv_metrics_verdict(srv_metrics_of(s), v, now > r->start_ms ? now - r->start_ms : 0);
        if (v->allowed) {
            r->out[i] = v->audit ? K_AUDIT : K_ALLOWED;
            if (v->audit) {
                r->why[i] = why_of(v);
            }
            if (v->digest[0] != '\0') {
                r->digest[i] = strdup(v->digest);
            }
        } else {
            r->out[i] = v->transient ? K_TRANSIENT : K_REFUSED;
            r->why[i] = why_of(v);
        }
    }
    if (--r->pending == 0) {
        k8s_answer(r);
        atomic_fetch_sub(&srv_metrics_of(s)->in_flight, 1);
        k8s_free(r);
    }
}

/* r->first: each image's first occurrence (n <= ATV_KUBE_MAX_IMAGES: quadratic is bounded). */
static void k8s_dedupe(struct k8s_req *r)
{
    const struct atv_kube_images *im = &r->rv.images;
    size_t i, k;
    for (i = 0; i < im->n; i++) {
        r->first[i] = i;
        for (k = 0; k < i; k++) {
            if (r->first[k] == k && strcmp(im->items[k].ref, im->items[i].ref) == 0) {
                r->first[i] = k;
                break;
            }
        }
    }
}

void srv_k8s_handle(struct atv_srv *s, srv_req *req, int mutate)
{
    const struct atv_srv_config *c = srv_config(s);
    enum srv_path path = mutate ? SRV_P_K8S_MUTATE : SRV_P_K8S_VALIDATE;
    struct k8s_req *r;
    struct atv_err err;
    const unsigned char *body;
    size_t len, i, n;
    int64_t now = (int64_t)time(NULL);
    uint64_t deadline;
    char msg[200];

    if (!srv_is_post(req)) {
        k8s_bad(s, req, path, 405, "method: only POST");
        return;
    }
    if (!srv_json_request(req)) {
        k8s_bad(s, req, path, 415, "Content-Type: want application/json");
        return;
    }
    body = srv_body(req, &len);
    if (len > ATV_SRV_MAX_REVIEW_BODY) {
        k8s_bad(s, req, path, 413, "body: over 3 MiB");
        return;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        k8s_bad(s, req, path, 503, "out of memory");
        return;
    }
    r->s = s;
    r->req = req;
    r->mutate = mutate;
    r->path = path;
    r->start_ms = atv_vfy_clock_ms();
    atv_err_clear(&err);
    {
        struct atv_bytes view = {body, len};
        if (body == NULL || atv_kube_review_parse(view, &r->rv, &err) != ATV_OK) {
            if (body == NULL) {
                fmt(err.msg, sizeof err.msg, "empty body");
            }
            fmt(msg, sizeof msg, "AdmissionReview: %s", err.msg);
            k8s_bad(s, req, path, 400, msg);
            k8s_free(r);
            return;
        }
    }
    n = r->rv.images.n;
    /* DELETE, CONNECT, kinds without images: allowed without work */
    if ((strcmp(r->rv.operation, "CREATE") != 0 && strcmp(r->rv.operation, "UPDATE") != 0) ||
        n == 0) {
        k8s_answer(r);
        k8s_free(r);
        return;
    }
    r->first = calloc(n, sizeof *r->first);
    r->out = calloc(n, sizeof *r->out);
    r->why = calloc(n, sizeof *r->why);
    r->digest = calloc(n, sizeof *r->digest);
    if (r->first == NULL || r->out == NULL || r->why == NULL || r->digest == NULL) {
        k8s_bad(s, req, path, 503, "out of memory");
        k8s_free(r);
        return;
    }
    k8s_dedupe(r);
    deadline = r->start_ms + (mutate ? c->mutate_timeout_ms : c->params->timeout_ms);
    r->pending = 1; /* held until every image is submitted */
    atomic_fetch_add(&srv_metrics_of(s)->in_flight, 1);
    for (i = 0; i < n; i++) {
        struct k8s_wait *x;
        const char *ref = r->rv.images.items[i].ref;
        if (r->first[i] != i) {
            continue;
        }
        if (!srv_image_ok(s, ref, msg, sizeof msg)) {
            r->out[i] = K_REFUSED;
            r->why[i] = strdup(msg);
            continue;
        }
        x = calloc(1, sizeof *x);
        if (x != NULL) {
            x->w.done = k8s_done;
            x->r = r;
            x->idx = i;
            r->pending++;
        }
        if (x == NULL || !srv_submit(s, ref, &x->w, now, r->start_ms, deadline,
                                     mutate ? 'm' : 'v', ATV_KUBE_MAX_IMAGES)) {
            if (x != NULL) {
                r->pending--;
            }
            free(x);
            r->out[i] = K_TRANSIENT;
            r->why[i] = strdup("busy: the verification queue is full");
        }
    }
    if (--r->pending == 0) {
        k8s_answer(r);
        atomic_fetch_sub(&srv_metrics_of(s)->in_flight, 1);
        k8s_free(r);
    }
}
