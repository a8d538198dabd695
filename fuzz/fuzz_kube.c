/* fuzz/fuzz_kube.c: what the API server posts to a webhook, and what
 * `kubectl get -o json` prints for coverage.
 *
 * Target functions: atv_kube_object_images, atv_kube_images_cleanup,
 * atv_kube_review_parse, atv_kube_review_cleanup, atv_kube_doc_each,
 * atv_kube_pointer_append, atv_kube_pointer_valid, atv_kube_patch_replace.
 *
 * Every input goes to all three parsers. What parses keeps its documented
 * shape: counts within the caps, items NULL exactly when n is 0, strings
 * terminated, field one of the four, running "" or a sha256 digest, every
 * pointer valid and, resolved in the input itself (jansson), naming a string
 * equal to ref; every (pointer, ref) pair makes a replace operation that
 * jansson reads back. What fails leaves its output zeroed. The input as a C
 * string is also a pointer token: escaping and unescaping give it back. */
#include "fuzz/fuzz.h"

#include <jansson.h>

#include "kube/kube.h"

#define FZ_TERMINATED(field) FZ_CHECK(memchr((field), 0, sizeof(field)) != NULL)

static int fz_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* RFC 6901 section 4: the value a pointer names in doc, or NULL. */
static const json_t *fz_resolve(const json_t *doc, const char *p)
{
    char tok[ATV_KUBE_MAX_POINTER + 1];
    while (doc != NULL && *p != '\0') {
        size_t n = 0;
        FZ_CHECK(*p == '/');
        p++;
        while (*p != '\0' && *p != '/') {
            if (*p == '~') {
                tok[n++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                tok[n++] = *p++;
            }
        }
        tok[n] = '\0';
        if (json_is_object(doc)) {
            doc = json_object_get(doc, tok);
        } else if (json_is_array(doc)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            doc = (n > 0 && *end == '\0') ? json_array_get(doc, (size_t)i) : NULL;
        } else {
            doc = NULL;
        }
    }
    return doc;
}

/* The documented shape of a result; base: the object in the input (NULL:
 * not resolved). */
static void fz_images(const struct atv_kube_images *x, const json_t *base)
{
    struct atv_buf patch;
    struct atv_err err;

    FZ_TERMINATED(x->kind);
    FZ_TERMINATED(x->name);
    FZ_TERMINATED(x->ns);
    FZ_CHECK(x->n <= ATV_KUBE_MAX_IMAGES);
    FZ_CHECK((x->n == 0) == (x->items == NULL));
    FZ_CHECK(x->known_kind == 1 || x->n == 0);
    atv_buf_init(&patch, 8u << 20);
    for (size_t i = 0; i < x->n; i++) {
        const struct atv_kube_image *im = &x->items[i];
        FZ_TERMINATED(im->ref);
        FZ_TERMINATED(im->pointer);
        FZ_TERMINATED(im->field);
        FZ_TERMINATED(im->name);
        FZ_TERMINATED(im->running);
        FZ_CHECK(strcmp(im->field, "containers") == 0 ||
                 strcmp(im->field, "initContainers") == 0 ||
                 strcmp(im->field, "ephemeralContainers") == 0 ||
                 strcmp(im->field, "volumes") == 0);
        FZ_CHECK(im->running[0] == '\0' ||
                 (strlen(im->running) == 71 && strncmp(im->running, "sha256:", 7) == 0));
        FZ_CHECK(strcmp(im->field, "volumes") != 0 || im->running[0] == '\0');
        FZ_CHECK(im->pointer[0] == '/' && atv_kube_pointer_valid(im->pointer));
        if (base != NULL) {
            const json_t *v = fz_resolve(base, im->pointer);
            FZ_CHECK(v != NULL && json_is_string(v));
            FZ_CHECK(strcmp(json_string_value(v), im->ref) == 0);
        }
        atv_err_clear(&err);
        FZ_CHECK(atv_kube_patch_replace(&patch, im->pointer, im->ref, &err) == ATV_OK);
    }
    if (patch.len > 0) {
        json_t *arr = json_loadb((const char *)patch.ptr, patch.len, JSON_REJECT_DUPLICATES, NULL);
        FZ_CHECK(arr != NULL && json_array_size(arr) == x->n);
        json_decref(arr);
    }
    atv_buf_cleanup(&patch);
}

static void fz_object(struct atv_bytes in, const json_t *doc)
{
    struct atv_kube_images *x = malloc(sizeof *x);
    struct atv_err err;

    FZ_CHECK(x != NULL);
    atv_err_clear(&err);
    if (atv_kube_object_images(in, x, &err) == ATV_OK) {
        FZ_CHECK(doc != NULL);
        fz_images(x, doc);
        atv_kube_images_cleanup(x);
    } else {
        FZ_CHECK(err.code != ATV_OK && err.msg[0] != '\0');
        FZ_CHECK(fz_zero(x, sizeof *x));
    }
    free(x);
}

static void fz_review(struct atv_bytes in, const json_t *doc)
{
    struct atv_kube_review *r = malloc(sizeof *r);
    struct atv_err err;

    FZ_CHECK(r != NULL);
    atv_err_clear(&err);
    if (atv_kube_review_parse(in, r, &err) == ATV_OK) {
        FZ_TERMINATED(r->api_version);
        FZ_TERMINATED(r->uid);
        FZ_TERMINATED(r->operation);
        FZ_TERMINATED(r->group);
        FZ_TERMINATED(r->version);
        FZ_TERMINATED(r->kind);
        FZ_TERMINATED(r->resource);
        FZ_TERMINATED(r->subresource);
        FZ_TERMINATED(r->name);
        FZ_TERMINATED(r->ns);
        FZ_CHECK(strcmp(r->api_version, "admission.k8s.io/v1") == 0);
        FZ_CHECK(r->uid[0] != '\0');
        FZ_CHECK(r->dry_run == 0 || r->dry_run == 1);
        if (strcmp(r->operation, "CREATE") != 0 && strcmp(r->operation, "UPDATE") != 0) {
            FZ_CHECK(fz_zero(&r->images, sizeof r->images));
        }
        fz_images(&r->images, fz_resolve(doc, "/request/object"));
        atv_kube_review_cleanup(r);
    } else {
        FZ_CHECK(err.code != ATV_OK && err.msg[0] != '\0');
        FZ_CHECK(fz_zero(r, sizeof *r));
    }
    free(r);
}

struct fz_each {
    size_t calls;
};

static enum atv_status fz_each_cb(void *ctx, const struct atv_kube_images *obj,
                                  struct atv_err *err)
{
    struct fz_each *s = ctx;
    (void)err;
    s->calls++;
    fz_images(obj, NULL);
    /* stop after a few, so that the stopping path runs too */
    return s->calls == 7 ? ATV_E_VERIFY : ATV_OK;
}

static void fz_doc(struct atv_bytes in)
{
    struct fz_each s = {0};
    struct atv_err err;
    atv_err_clear(&err);
    enum atv_status rc = atv_kube_doc_each(in, fz_each_cb, &s, &err);
    FZ_CHECK(rc == ATV_OK || (err.code == rc && err.msg[0] != '\0'));
    FZ_CHECK(rc != ATV_E_VERIFY || s.calls == 7);
}

/* escaping then unescaping a token gives it back */
static void fz_token(const char *tok, size_t n)
{
    size_t cap = 2 * n + 2;
    char *p = malloc(cap);
    struct atv_err err;
    FZ_CHECK(p != NULL);
    p[0] = '\0';
    atv_err_clear(&err);
    FZ_CHECK(atv_kube_pointer_append(p, cap, tok, &err) == ATV_OK);
    FZ_CHECK(p[0] == '/');
    size_t o = 0;
    for (size_t i = 1; p[i] != '\0'; i++) {
        char c = p[i];
        FZ_CHECK(c != '/');
        if (c == '~') {
            FZ_CHECK(p[i + 1] == '0' || p[i + 1] == '1');
            c = p[i + 1] == '0' ? '~' : '/';
            i++;
        }
        FZ_CHECK(o < n && tok[o] == c);
        o++;
    }
    FZ_CHECK(o == n);
    /* one byte short of room: refused, unchanged */
    if (cap > 2) {
        char *q = malloc(cap);
        FZ_CHECK(q != NULL);
        size_t need = strlen(p) + 1;
        q[0] = '\0';
        atv_err_clear(&err);
        FZ_CHECK(atv_kube_pointer_append(q, need - 1, tok, &err) == ATV_E_LIMIT);
        FZ_CHECK(q[0] == '\0');
        free(q);
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fz_dup(data, size);
    struct atv_bytes in = {copy, size};
    size_t n;
    char *s = fz_cstr(data, size, &n);
    json_t *doc = json_loadb((const char *)copy, size, JSON_REJECT_DUPLICATES, NULL);

    fz_object(in, doc);
    fz_review(in, doc);
    fz_doc(in);
    fz_token(s, n);
    (void)atv_kube_pointer_valid(s);
    json_decref(doc);
    free(s);
    free(copy);
    return 0;
}
