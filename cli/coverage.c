/* cli/coverage.c: atcr-verify coverage, how much of a fleet a trusted DID signed.
 *
 * Reads the images a cluster runs (Kubernetes JSON through kube/, or plain
 * references one per line), verifies each distinct image once on a small
 * pool of threads with one policy and one DID cache, and reports per row and
 * in sum how many of the images whose policy asks for a signature meet it.
 * Every verdict is atv_vfy_image_run's: this file only sorts verdicts into
 * the five words of the table (atv_cli_cov_class) and counts them. It
 * replaces the seed's `kubectl ... | while read image; do oras discover ...`
 * loop, which could only say "has a signature". */
#include "cli/cli_internal.h"

#include "common/http.h"
#include "common/limits.h"
#include "kube/kube.h"
#include "policy/policy.h"
#include "referrer/referrer.h"
#include "verify/verify.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_coverage[] =
    "usage: atcr-verify coverage FILE|- [--fail-under PERCENT] [--jobs N] [-o json]\n"
    "       [--policy FILE | --trusted-did DID...] [the options of atcr-verify IMAGE]\n"
    "\n"
    "How much of a fleet is verified by a trusted DID (not just \"has a signature\").\n"
    "Input, from FILE or - (standard input), at most 64 MiB:\n"
    "  Kubernetes JSON: `kubectl get pods -A -o json`, any List, or one object (Pod,\n"
    "  Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, PodTemplate,\n"
    "  ReplicationController); containers, init and ephemeral containers and image\n"
    "  volumes all count. Where a pod's status reports the digest a container runs\n"
    "  (containerStatuses[].imageID), that digest is what is verified.\n"
    "  Or image references, one per line (blank lines and # comments skipped).\n"
    "  A first non-blank character { means JSON.\n"
    "Each distinct image (normalised name and digest, or tag) is verified once,\n"
    "exactly as `atcr-verify IMAGE` would, N at a time, under one policy and one DID\n"
    "cache; a tag and the digest it resolves to count as one image. Then a table\n"
    "(namespace, pod, container, image, verdict, signers or reason) and a summary,\n"
    "overall and by namespace. Verdicts:\n"
    "  met           the policy requires a signature and it holds\n"
    "  not required  the policy asks for no signature (signature: false)\n"
    "  audit         not met; an audit policy lets it run\n"
    "  refused       not met (also: no policy scope covers the image)\n"
    "  error         not met; a retry could change that (network, deadline)\n"
    "Coverage: met images over the distinct images whose policy requires a\n"
    "signature (all but `not required`), rounded down to one decimal; none: 100%.\n"
    "\n"
    "  --fail-under PERCENT      a CI gate: exit 1 when coverage is below PERCENT\n"
    "                            (decimal, 0..100)\n"
    "  --jobs N                  verifications at once, 1..32 (4)\n"
    "  --timeout MS              each image's deadline (2500)\n"
    "  -o, --output text|json    the table and summary (default), or one JSON\n"
    "                            document:\n"
    "                            {rows: [{namespace, pod, container, field, image,\n"
    "                            digest, verdict, signers: [{did, handle?}], reason,\n"
    "                            message}], summary: {distinct, required, met,\n"
    "                            notRequired, coverage, byNamespace: {NS: {...}}}}\n"
    "Trust, identity, network, registry and offline options: those of\n"
    "`atcr-verify IMAGE --help` (--trusted-did, --policy, --plc, --cache-dir,\n"
    "--no-verify-handle, --allow-loopback-http, --insecure-http, --config, --offline\n"
    "--bundle FILE, --bundle-dir, ...).\n"
    "Environment (flags win): ATCR_POLICY_FILE (= --policy), TRUSTED_DIDS (DIDs,\n"
    "comma-separated).\n"
    "Limits: 65536 images listed, 4096 distinct images.\n"
    "\n"
    "Exit status: 0 reported (and coverage is at least --fail-under); 1 coverage is\n"
    "below --fail-under; 2 usage or operational error (unreadable, empty or malformed\n"
    "input, a limit, a bad policy). A verdict is never an operational error.\n";

/* ---- pure parts (unit-tested in cli/tests/test_coverage.c) ------------------------ */

enum cli_cov_class atv_cli_cov_class(const struct atv_vfy_image *v)
{
    /* no_signature_required comes with allowed and met: it goes first */
    if (v->no_signature_required) {
        return CLI_COV_NOT_REQUIRED;
    }
    if (v->allowed && v->met) {
        return CLI_COV_MET;
    }
    if (v->allowed) {
        return CLI_COV_AUDIT;
    }
    return v->transient ? CLI_COV_ERROR : CLI_COV_REFUSED;
}

const char *atv_cli_cov_class_name(enum cli_cov_class c)
{
    switch (c) {
    case CLI_COV_MET:
        return "met";
    case CLI_COV_NOT_REQUIRED:
        return "not required";
    case CLI_COV_AUDIT:
        return "audit";
    case CLI_COV_REFUSED:
        return "refused";
    case CLI_COV_ERROR:
        return "error";
    default:
        return "error";
    }
}

int atv_cli_cov_pct_parse(const char *s, struct cli_cov_pct *out)
{
    uint64_t num = 0, den = 1;
    size_t i = 0, ip = 0, fp = 0;

    out->num = 0;
    out->den = 1;
    if (s == NULL) {
        return 0;
    }
    for (; s[i] >= '0' && s[i] <= '9'; i++, ip++) {
        if (ip == 6) {
            return 0; /* 1000000 and up is over 100 anyway */
        }
        num = num * 10 + (uint64_t)(s[i] - '0');
    }
    if (ip == 0) {
        return 0;
    }
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++, fp++) {
            if (fp == CLI_COV_MAX_DECIMALS) {
                return 0;
            }
            num = num * 10 + (uint64_t)(s[i] - '0');
            den *= 10;
        }
        if (fp == 0) {
            return 0;
        }
    }
    if (s[i] != '\0' || num > 100 * den) {
        return 0;
    }
    out->num = num;
    out->den = den;
    return 1;
}

unsigned atv_cli_cov_tenths(size_t met, size_t required)
{
    if (required == 0 || met >= required) {
        return 1000;
    }
    return (unsigned)(((uint64_t)met * 1000u) / (uint64_t)required);
}

int atv_cli_cov_below(size_t met, size_t required, const struct cli_cov_pct *p)
{
    if (required == 0) {
        return 0; /* 100%, and no PERCENT exceeds 100 */
    }
    /* met / required * 100 < num / den, without rounding: both sides stay
     * far below 2^64 (met, required <= 4096; num <= 10^8; den <= 10^6) */
    return (uint64_t)met * 100u * p->den < p->num * (uint64_t)required;
}

struct ns_pair {
    const char *ns;
    size_t img;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct ns_pair *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    if (c != 0) {
        return c;
    }
    return x->img < y->img ? -1 : x->img > y->img ? 1 : 0;
}

static void tally_add(struct cli_cov_tally *t, enum cli_cov_class c)
{
    t->distinct++;
    if (c != CLI_COV_NOT_REQUIRED) {
        t->required++;
    }
    if (c == CLI_COV_MET) {
        t->met++;
    }
}

enum atv_status atv_cli_cov_summary(const struct cli_cov_row *rows, size_t n_rows,
                                    const enum cli_cov_class *cls, size_t n_img,
                                    struct cli_cov_tally *all, struct cli_cov_ns **by,
                                    size_t *n_by, struct atv_err *err)
{
    struct ns_pair *pairs = NULL;
    unsigned char *seen = NULL;
    enum atv_status rc = ATV_OK;
    size_t i, n = 0;

    memset(all, 0, sizeof *all);
    *by = NULL;
    *n_by = 0;
    for (i = 0; i < n_rows; i++) {
        if (rows[i].img >= n_img) {
            return atv_err_set(err, ATV_E_USAGE, "coverage: row %zu names image %zu of %zu", i,
                               rows[i].img, n_img);
        }
    }
    if (n_rows == 0) {
        return ATV_OK;
    }
    pairs = calloc(n_rows, sizeof *pairs);
    seen = calloc(n_img, 1);
    if (pairs == NULL || seen == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
        goto out;
    }
    for (i = 0; i < n_rows; i++) {
        if (!seen[rows[i].img]) {
            seen[rows[i].img] = 1;
            tally_add(all, cls[rows[i].img]);
        }
        pairs[i].ns = rows[i].ns != NULL ? rows[i].ns : "";
        pairs[i].img = rows[i].img;
    }
    qsort(pairs, n_rows, sizeof *pairs, pair_cmp);
    /* at most one namespace per row */
    *by = calloc(n_rows, sizeof **by);
    if (*by == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
        goto out;
    }
    for (i = 0; i < n_rows; i++) {
        if (i == 0 || strcmp(pairs[i].ns, pairs[i - 1].ns) != 0) {
            (*by)[n].ns = pairs[i].ns;
            n++;
        } else if (pairs[i].img == pairs[i - 1].img) {
            continue; /* the same image again in the same namespace */
        }
        tally_add(&(*by)[n - 1].t, cls[pairs[i].img]);
    }
    *n_by = n;
out:
    if (rc != ATV_OK) {
        free(*by);
        *by = NULL;
        memset(all, 0, sizeof *all);
    }
    free(pairs);
    free(seen);
    return rc;
}

/* ---- the run's state ------------------------------------------------------------------ */

struct cov_signer {
    char *did;    /* new */
    char *handle; /* new, NULL unless verified both ways */
};

/* One distinct image and, once verified, what its verdict says. */
struct cov_image {
    char *key;     /* new: normalised name@digest, name:tag, or "!" + an unparseable ref */
    char *subject; /* new: the reference verified */
    enum cli_cov_class cls;
    enum atv_vfy_reason reason;
    char *message; /* new */
    /* new: name@digest as verified (the tag resolved), else key: what the
     * summary counts, so that a tag and the digest it names are one image */
    char *ident;
    char digest[72];
    size_t n_signers;
    struct cov_signer *signers; /* new */
};

#define COV_SLOTS (2u * CLI_COV_MAX_IMAGES) /* a power of two over twice the cap */

struct cov {
    struct cli_cov_row *rows;
    size_t n_rows, cap_rows;
    struct cov_image *imgs; /* CLI_COV_MAX_IMAGES entries */
    size_t n_imgs;
    size_t slots[COV_SLOTS]; /* 0: empty; else index + 1 into imgs */
    size_t skipped;          /* objects of kinds with no pods */
    int use_http;
    int kube; /* the input was Kubernetes JSON */
};

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

/* "a" "sep" "b" into a new string. */
static char *join3(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *d = malloc(n);
    if (d != NULL && snprintf(d, n, "%s%s%s", a, sep, b) != (int)(n - 1)) {
        free(d);
        d = NULL;
    }
    return d;
}

/* The distinct image of ref (as written) running digest running ("" when
 * unknown): found or added. */
static enum atv_status image_of(struct cov *c, const char *ref, const char *running, size_t *idx,
                                struct atv_err *err)
{
    struct atv_ref_image ri;
    struct atv_err perr;
    char *key = NULL, *subject = NULL;
    uint32_t h;
    size_t s;

    atv_err_clear(&perr);
    if (atv_ref_image_parse(ref, c->use_http, &ri, &perr) == ATV_OK) {
        /* what runs is what is verified: the kubelet's digest wins over the
         * tag, and over a digest the spec names (they agree when the kubelet
         * pulled by digest) */
        const char *digest = running[0] != '\0' ? running : ri.digest;
        key = digest[0] != '\0' ? join3(ri.name, "@", digest) : join3(ri.name, ":", ri.tag);
        subject = key != NULL ? dup_str(key) : NULL;
    } else {
        /* verified as written, so that the verdict says why it is not a reference */
        key = join3("!", "", ref);
        subject = dup_str(ref);
    }
    if (key == NULL || subject == NULL) {
        free(key);
        free(subject);
        return atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
    }
    h = fnv1a(key);
    for (s = h & (COV_SLOTS - 1); c->slots[s] != 0; s = (s + 1) & (COV_SLOTS - 1)) {
        if (strcmp(c->imgs[c->slots[s] - 1].key, key) == 0) {
            *idx = c->slots[s] - 1;
            free(key);
            free(subject);
            return ATV_OK;
        }
    }
    if (c->n_imgs == CLI_COV_MAX_IMAGES) {
        free(key);
        free(subject);
        return atv_err_set(err, ATV_E_LIMIT, "over %u distinct images", CLI_COV_MAX_IMAGES);
    }
    c->imgs[c->n_imgs].key = key;
    c->imgs[c->n_imgs].subject = subject;
    c->slots[s] = c->n_imgs + 1;
    *idx = c->n_imgs++;
    return ATV_OK;
}

static enum atv_status add_row(struct cov *c, const char *ns, const char *pod,
                               const char *container, const char *field, const char *ref,
                               const char *running, struct atv_err *err)
{
    struct cli_cov_row *r;
    enum atv_status rc;

    if (c->n_rows == CLI_COV_MAX_ROWS) {
        return atv_err_set(err, ATV_E_LIMIT, "over %u images listed", CLI_COV_MAX_ROWS);
    }
    if (c->n_rows == c->cap_rows) {
        size_t cap = c->cap_rows == 0 ? 64 : c->cap_rows * 2;
        struct cli_cov_row *nr = realloc(c->rows, cap * sizeof *nr);
        if (nr == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
        }
        c->rows = nr;
        c->cap_rows = cap;
    }
    r = &c->rows[c->n_rows];
    memset(r, 0, sizeof *r);
    rc = image_of(c, ref, running, &r->img, err);
    if (rc != ATV_OK) {
        return rc;
    }
    r->ns = dup_str(ns);
    r->pod = dup_str(pod);
    r->container = dup_str(container);
    r->image = dup_str(ref);
    r->field = field;
    c->n_rows++; /* counted now, so that cleanup frees whatever was copied */
    if (r->ns == NULL || r->pod == NULL || r->container == NULL || r->image == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
    }
    return ATV_OK;
}

static void cov_cleanup(struct cov *c)
{
    size_t i, j;
    for (i = 0; i < c->n_rows; i++) {
        free(c->rows[i].ns);
        free(c->rows[i].pod);
        free(c->rows[i].container);
        free(c->rows[i].image);
    }
    free(c->rows);
    for (i = 0; c->imgs != NULL && i < c->n_imgs; i++) {
        struct cov_image *m = &c->imgs[i];
        free(m->key);
        free(m->subject);
        free(m->message);
        free(m->ident);
        for (j = 0; j < m->n_signers; j++) {
            free(m->signers[j].did);
            free(m->signers[j].handle);
        }
        free(m->signers);
    }
    free(c->imgs);
}

/* ---- reading the input ---------------------------------------------------------------- */

/* kube's field names, as static strings for the rows */
static const char *field_of(const char *f)
{
    static const char *const known[] = {"containers", "initContainers", "ephemeralContainers",
                                        "volumes"};
    size_t i;
    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(f, known[i]) == 0) {
            return known[i];
        }
    }
    return "";
}

static enum atv_status on_object(void *ctx, const struct atv_kube_images *obj,
                                 struct atv_err *err)
{
    struct cov *c = ctx;
    enum atv_status rc = ATV_OK;
    char *pod;
    size_t i;

    if (!obj->known_kind) {
        c->skipped++;
        return ATV_OK;
    }
    /* a pod by its name, anything else as Kind/name (kubectl's spelling) */
    pod = strcmp(obj->kind, "Pod") == 0 ? dup_str(obj->name) : join3(obj->kind, "/", obj->name);
    if (pod == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
    }
    for (i = 0; rc == ATV_OK && i < obj->n; i++) {
        const struct atv_kube_image *it = &obj->items[i];
        rc = add_row(c, obj->ns, pod, it->name, field_of(it->field), it->ref, it->running, err);
    }
    free(pod);
    return rc;
}

/* A document over kube's cap (a large cluster's `kubectl get pods -A -o
 * json`) must be a list: each item is read on its own as a one-item list of
 * the same kind and apiVersion, so that kube/ still decides everything about
 * it (typed lists' items, kinds, versions, images, statuses). */
static enum atv_status kube_split(struct atv_bytes doc, struct cov *c, struct atv_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)doc.ptr, doc.len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *kind, *api, *items;
    enum atv_status rc = ATV_OK;
    size_t i, n, kl;

    if (root == NULL) {
        /* jansson quotes the input near the error ("... near 'x'"): not echoed */
        return atv_err_set(err, ATV_E_PARSE, "kube document: invalid JSON at line %d column %d",
                           jerr.line, jerr.column);
    }
    kind = json_object_get(root, "kind");
    api = json_object_get(root, "apiVersion");
    items = json_object_get(root, "items");
    kl = json_is_string(kind) ? strlen(json_string_value(kind)) : 0;
    if (!json_is_object(root) || kl < 4 || strcmp(json_string_value(kind) + kl - 4, "List") != 0) {
        rc = atv_err_set(err, ATV_E_LIMIT,
                         "kube document: %zu bytes of JSON that is not a List, cap %u", doc.len,
                         ATV_KUBE_MAX_DOC);
        goto out;
    }
    if (items != NULL && !json_is_null(items) && !json_is_array(items)) {
        rc = atv_err_set(err, ATV_E_PARSE, "/items: want an array");
        goto out;
    }
    n = json_is_array(items) ? json_array_size(items) : 0;
    for (i = 0; rc == ATV_OK && i < n; i++) {
        json_t *one = json_object(), *arr = json_array();
        char *text = NULL;
        int bad = one == NULL || arr == NULL;
        bad = bad || json_object_set(one, "kind", kind) != 0;
        bad = bad || (api != NULL && json_object_set(one, "apiVersion", api) != 0);
        bad = bad || json_array_append(arr, json_array_get(items, i)) != 0;
        bad = bad || json_object_set(one, "items", arr) != 0;
        text = bad ? NULL : json_dumps(one, JSON_COMPACT);
        json_decref(arr);
        json_decref(one);
        if (text == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
            break;
        }
        rc = atv_kube_doc_each(atv_bytes_str(text), on_object, c, err);
        free(text);
        if (rc != ATV_OK && strncmp(err->msg, "/items/0", 8) == 0 &&
            (err->msg[8] == '/' || err->msg[8] == ':')) {
            /* name the item as the whole document numbers it */
            char m[sizeof err->msg];
            (void)snprintf(m, sizeof m, "/items/%zu%s", i, err->msg + 8);
            (void)snprintf(err->msg, sizeof err->msg, "%s", m);
        }
    }
out:
    json_decref(root);
    return rc;
}

/* Plain references, one per line; blank lines and # comments skipped;
 * spaces, tabs and a CR around a reference ignored. */
static enum atv_status read_lines(struct atv_bytes in, struct cov *c, struct atv_err *err)
{
    char line[ATV_KUBE_MAX_REF + 1];
    size_t pos = 0, no = 0;
    enum atv_status rc = ATV_OK;

    while (rc == ATV_OK && pos < in.len) {
        size_t start = pos, end, len;
        while (pos < in.len && in.ptr[pos] != '\n') {
            pos++;
        }
        end = pos;
        pos = pos < in.len ? pos + 1 : pos;
        no++;
        while (start < end && (in.ptr[start] == ' ' || in.ptr[start] == '\t')) {
            start++;
        }
        while (end > start &&
               (in.ptr[end - 1] == ' ' || in.ptr[end - 1] == '\t' || in.ptr[end - 1] == '\r')) {
            end--;
        }
        len = end - start;
        if (len == 0 || in.ptr[start] == '#') {
            continue;
        }
        if (len > ATV_KUBE_MAX_REF) {
            return atv_err_set(err, ATV_E_LIMIT, "line %zu: %zu bytes, a reference is at most %u",
                               no, len, ATV_KUBE_MAX_REF);
        }
        if (memchr(in.ptr + start, '\0', len) != NULL) {
            return atv_err_set(err, ATV_E_PARSE, "line %zu: a NUL byte: not text", no);
        }
        memcpy(line, in.ptr + start, len);
        line[len] = '\0';
        rc = add_row(c, "", "", "", "", line, "", err);
    }
    return rc;
}

static enum atv_status read_input(const char *path, struct cov *c, struct atv_err *err)
{
    struct atv_buf b;
    enum atv_status rc;
    size_t i = 0;

    atv_buf_init(&b, CLI_COV_MAX_INPUT);
    if (strcmp(path, "-") == 0) {
        rc = atv_buf_read_fd(&b, STDIN_FILENO, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "standard input");
        }
    } else {
        rc = atv_buf_read_file(&b, path, err);
        if (rc == ATV_E_IO && err->reason != NULL && strcmp(err->reason, "not_regular") == 0) {
            /* `coverage <(kubectl ...)`: the pipe has a way in that never blocks */
            size_t n = strlen(err->msg);
            (void)snprintf(err->msg + n, sizeof err->msg - n, "; give - and pipe it");
        }
    }
    if (rc != ATV_OK) {
        goto out;
    }
    /* a UTF-8 byte order mark, then blanks */
    if (b.len >= 3 && memcmp(b.ptr, "\xef\xbb\xbf", 3) == 0) {
        i = 3;
    }
    while (i < b.len && (b.ptr[i] == ' ' || b.ptr[i] == '\t' || b.ptr[i] == '\r' ||
                         b.ptr[i] == '\n')) {
        i++;
    }
    if (i == b.len) {
        /* what a failed `kubectl ... |` leaves: never a 100% coverage */
        rc = atv_err_set(err, ATV_E_PARSE, "%s: empty input",
                         strcmp(path, "-") == 0 ? "standard input" : path);
    } else if (b.ptr[i] == '[') {
        rc = atv_err_set(err, ATV_E_PARSE,
                         "a JSON array: give a Kubernetes object or List, or one reference a line");
    } else if (b.ptr[i] == '{') {
        c->kube = 1;
        rc = b.len <= ATV_KUBE_MAX_DOC ? atv_kube_doc_each(atv_buf_view(&b), on_object, c, err)
                                       : kube_split(atv_buf_view(&b), c, err);
    } else {
        rc = read_lines(atv_buf_view(&b), c, err);
    }
out:
    atv_buf_cleanup(&b);
    return rc;
}

/* ---- verifying, N at a time ------------------------------------------------------------ */

struct pool {
    struct cov *c;
    const struct image_opts *o;
    const struct atv_policy *policy;
    const struct atv_vfy_bundle *offline;
    const struct atv_vfy_log *log;
    int64_t now;
    atomic_size_t next;
    atomic_int nomem;
};

struct worker {
    struct pool *p;
    struct atv_vfy_image *v; /* scratch, ~660 KB: one per thread */
    pthread_t t;
};

/* What the table needs of a verdict. Returns 0 when out of memory. */
static int keep(struct cov_image *m, const struct atv_vfy_image *v)
{
    size_t i;
    m->cls = atv_cli_cov_class(v);
    m->reason = v->reason;
    (void)snprintf(m->digest, sizeof m->digest, "%s", v->digest);
    m->message = dup_str(v->message);
    m->ident = v->digest[0] != '\0' && v->name[0] != '\0' ? join3(v->name, "@", v->digest)
                                                          : dup_str(m->key);
    if (m->message == NULL || m->ident == NULL) {
        return 0;
    }
    if (v->n_signers == 0) {
        return 1;
    }
    m->signers = calloc(v->n_signers, sizeof *m->signers);
    if (m->signers == NULL) {
        return 0;
    }
    for (i = 0; i < v->n_signers && i < ATV_VFY_MAX_SIGS; i++) {
        m->signers[i].did = dup_str(v->signers[i].did);
        m->signers[i].handle =
            v->signers[i].handle[0] != '\0' ? dup_str(v->signers[i].handle) : NULL;
        m->n_signers++;
        if (m->signers[i].did == NULL ||
            (v->signers[i].handle[0] != '\0' && m->signers[i].handle == NULL)) {
            return 0;
        }
    }
    return 1;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->p;

    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        struct atv_vfy_request rq;
        if (i >= p->c->n_imgs) {
            break;
        }
        memset(&rq, 0, sizeof rq);
        rq.subject = p->c->imgs[i].subject;
        rq.params = &p->o->params;
        rq.store = &p->o->store;
        rq.now = p->now;
        rq.log = p->log;
        rq.offline = p->offline;
        rq.policy = p->policy;
        /* each image its own deadline, from when its turn comes */
        rq.deadline_ms = atv_vfy_clock_ms() + p->o->params.timeout_ms;
        atv_vfy_image_run(&rq, w->v);
        if (!keep(&p->c->imgs[i], w->v)) {
            atomic_store(&p->nomem, 1);
        }
    }
    return NULL;
}

/* Verifies every distinct image on jobs threads (fewer when there are fewer
 * images); the calling thread waits. */
static enum atv_status verify_all(struct pool *p, unsigned jobs, struct atv_err *err)
{
    struct worker *w = NULL;
    size_t n = p->c->n_imgs < jobs ? p->c->n_imgs : jobs, i, started = 0;
    enum atv_status rc = ATV_OK;
    int held = 0;

    if (n == 0) {
        return ATV_OK;
    }
    w = calloc(n, sizeof *w);
    if (w == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
    }
    for (i = 0; i < n; i++) {
        w[i].p = p;
        w[i].v = malloc(sizeof *w[i].v); /* atv_vfy_image_run fills all of it */
        if (w[i].v == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
            goto out;
        }
    }
    /* libcurl is set up once, before any thread, and torn down after the last */
    rc = atv_http_global_hold(err);
    if (rc != ATV_OK) {
        goto out;
    }
    held = 1;
    for (i = 0; i < n; i++) {
        if (pthread_create(&w[i].t, NULL, work, &w[i]) != 0) {
            break; /* fewer threads: the ones running take every image */
        }
        started++;
    }
    if (started == 0) {
        (void)work(&w[0]);
    }
    for (i = 0; i < started; i++) {
        (void)pthread_join(w[i].t, NULL);
    }
    if (atomic_load(&p->nomem)) {
        rc = atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory keeping a verdict");
    }
out:
    if (held) {
        atv_http_global_release();
    }
    for (i = 0; i < n; i++) {
        free(w[i].v);
    }
    free(w);
    return rc;
}

/* ---- counting ---------------------------------------------------------------------------- */

/* The summary over images as verified: spellings that turned out to name one
 * digest (a pending pod's tag, a running pod's digest) are one image, met when
 * any of them was (the classes' order: met, not required, audit, refused,
 * error; one name has one policy, so only timing can make them differ). */
static enum atv_status count(const struct cov *c, struct cli_cov_tally *all,
                             struct cli_cov_ns **by, size_t *n_by, struct atv_err *err)
{
    size_t *slots = calloc(COV_SLOTS, sizeof *slots);
    size_t *id = calloc(c->n_imgs > 0 ? c->n_imgs : 1, sizeof *id);
    enum cli_cov_class *cls = calloc(c->n_imgs > 0 ? c->n_imgs : 1, sizeof *cls);
    struct cli_cov_row *rows = calloc(c->n_rows > 0 ? c->n_rows : 1, sizeof *rows);
    size_t i, s, n_id = 0;
    enum atv_status rc = ATV_E_NOMEM;

    *by = NULL;
    *n_by = 0;
    memset(all, 0, sizeof *all);
    if (slots == NULL || id == NULL || cls == NULL || rows == NULL) {
        (void)atv_err_set(err, ATV_E_NOMEM, "coverage: out of memory");
        goto out;
    }
    for (i = 0; i < c->n_imgs; i++) {
        const char *k = c->imgs[i].ident;
        for (s = fnv1a(k) & (COV_SLOTS - 1); slots[s] != 0; s = (s + 1) & (COV_SLOTS - 1)) {
            if (strcmp(c->imgs[slots[s] - 1].ident, k) == 0) {
                break;
            }
        }
        if (slots[s] == 0) {
            slots[s] = i + 1;
            cls[n_id] = c->imgs[i].cls;
            id[i] = n_id++;
        } else {
            id[i] = id[slots[s] - 1];
            cls[id[i]] = c->imgs[i].cls < cls[id[i]] ? c->imgs[i].cls : cls[id[i]];
        }
    }
    for (i = 0; i < c->n_rows; i++) {
        rows[i] = c->rows[i];
        rows[i].img = id[c->rows[i].img];
    }
    rc = atv_cli_cov_summary(rows, c->n_rows, cls, n_id, all, by, n_by, err);
out:
    free(slots);
    free(id);
    free(cls);
    free(rows);
    return rc;
}

/* ---- output --------------------------------------------------------------------------- */

#define COV_MAX_COL 100u /* columns are aligned up to this width; longer values push on */

/* s with every byte outside printable ASCII shown as '?' (never raw input
 * bytes on a terminal). Returns the bytes written. */
static size_t put_clean(FILE *out, const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char ch = (unsigned char)s[n];
        fputc(ch >= 0x20 && ch < 0x7f ? ch : '?', out);
    }
    return n;
}

/* One column: s then sfx, padded to width, then a gap of two spaces that
 * even a value wider than its column keeps. */
static void cell(FILE *out, const char *s, const char *sfx, size_t width)
{
    size_t n = put_clean(out, s) + put_clean(out, sfx);
    for (; n < width; n++) {
        fputc(' ', out);
    }
    fputs("  ", out);
}

static const char *dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

static const char *container_suffix(const char *field)
{
    if (strcmp(field, "initContainers") == 0) {
        return " (init)";
    }
    if (strcmp(field, "ephemeralContainers") == 0) {
        return " (ephemeral)";
    }
    if (strcmp(field, "volumes") == 0) {
        return " (volume)";
    }
    return "";
}

static size_t cap_col(size_t have, size_t n)
{
    n = n < COV_MAX_COL ? n : COV_MAX_COL;
    return n > have ? n : have;
}

static void last_column(FILE *out, const struct cov_image *m)
{
    size_t i;
    switch (m->cls) {
    case CLI_COV_MET:
        for (i = 0; i < m->n_signers; i++) {
            (void)put_clean(out, i > 0 ? ", " : "");
            (void)put_clean(out, m->signers[i].did);
            if (m->signers[i].handle != NULL) {
                (void)put_clean(out, " (");
                (void)put_clean(out, m->signers[i].handle);
                (void)put_clean(out, ")");
            }
        }
        break;
    case CLI_COV_NOT_REQUIRED:
        (void)put_clean(out, m->message);
        break;
    case CLI_COV_ERROR:
        fprintf(out, "%s (transient): ", atv_vfy_reason_name(m->reason));
        (void)put_clean(out, m->message);
        break;
    case CLI_COV_AUDIT:
    case CLI_COV_REFUSED:
    default:
        fprintf(out, "%s: ", atv_vfy_reason_name(m->reason));
        (void)put_clean(out, m->message);
        break;
    }
}

static void pct_text(char *buf, size_t cap, size_t met, size_t required)
{
    unsigned t = atv_cli_cov_tenths(met, required);
    (void)snprintf(buf, cap, "%u.%u%%", t / 10, t % 10);
}

static void print_text(FILE *out, const struct cov *c, const struct cli_cov_tally *all,
                       const struct cli_cov_ns *by, size_t n_by)
{
    size_t wn = strlen("NAMESPACE"), wp = strlen("POD"), wc = strlen("CONTAINER");
    size_t wi = strlen("IMAGE"), wv = strlen("not required"), i;
    char pct[16];

    for (i = 0; i < c->n_rows; i++) {
        const struct cli_cov_row *r = &c->rows[i];
        wn = cap_col(wn, strlen(dash(r->ns)));
        wp = cap_col(wp, strlen(dash(r->pod)));
        wc = cap_col(wc, strlen(dash(r->container)) + strlen(container_suffix(r->field)));
        wi = cap_col(wi, strlen(r->image));
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)wn, "NAMESPACE", (int)wp, "POD",
            (int)wc, "CONTAINER", (int)wi, "IMAGE", (int)wv, "VERDICT", "SIGNERS OR REASON");
    for (i = 0; i < c->n_rows; i++) {
        const struct cli_cov_row *r = &c->rows[i];
        const struct cov_image *m = &c->imgs[r->img];
        cell(out, dash(r->ns), "", wn);
        cell(out, dash(r->pod), "", wp);
        cell(out, dash(r->container), container_suffix(r->field), wc);
        cell(out, r->image[0] != '\0' ? r->image : "\"\"", "", wi);
        cell(out, atv_cli_cov_class_name(m->cls), "", wv);
        last_column(out, m);
        fputc('\n', out);
    }
    pct_text(pct, sizeof pct, all->met, all->required);
    fprintf(out, "\ncoverage: %zu of %zu distinct image%s meet%s the policy (%s)", all->met,
            all->required, all->required == 1 ? "" : "s", all->met == 1 ? "s" : "", pct);
    if (all->distinct > all->required) {
        fprintf(out, "; %zu more not required", all->distinct - all->required);
    }
    fputc('\n', out);
    if (!c->kube) {
        return;
    }
    for (i = 0; i < n_by; i++) {
        const struct cli_cov_tally *t = &by[i].t;
        pct_text(pct, sizeof pct, t->met, t->required);
        fputs("  ", out);
        cell(out, dash(by[i].ns), "", wn);
        fprintf(out, "%zu of %zu (%s)", t->met, t->required, pct);
        if (t->distinct > t->required) {
            fprintf(out, "; %zu more not required", t->distinct - t->required);
        }
        fputc('\n', out);
    }
}

/* s as a JSON string; bytes that are not UTF-8 (a plain list may hold any)
 * shown as '?'. NULL when out of memory. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    char *d;
    size_t i;
    if (j != NULL) {
        return j;
    }
    d = dup_str(s);
    if (d == NULL) {
        return NULL;
    }
    for (i = 0; d[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)d[i];
        d[i] = ch >= 0x20 && ch < 0x7f ? d[i] : '?';
    }
    j = json_string(d);
    free(d);
    return j;
}

static json_t *jstr_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? jstr(s) : json_null();
}

static json_t *tally_json(const struct cli_cov_tally *t)
{
    unsigned tenths = atv_cli_cov_tenths(t->met, t->required);
    return json_pack("{s:I, s:I, s:I, s:I, s:f}", "distinct", (json_int_t)t->distinct,
                     "required", (json_int_t)t->required, "met", (json_int_t)t->met,
                     "notRequired", (json_int_t)(t->distinct - t->required), "coverage",
                     (double)tenths / 10.0);
}

static json_t *row_json(const struct cli_cov_row *r, const struct cov_image *m)
{
    json_t *signers = json_array(), *o;
    size_t i;
    int not_met = m->cls != CLI_COV_MET && m->cls != CLI_COV_NOT_REQUIRED;

    for (i = 0; signers != NULL && i < m->n_signers; i++) {
        json_t *s = json_pack("{s:o}", "did", jstr(m->signers[i].did));
        if (s != NULL && m->signers[i].handle != NULL) {
            (void)json_object_set_new(s, "handle", jstr(m->signers[i].handle));
        }
        if (s == NULL || json_array_append_new(signers, s) != 0) {
            json_decref(signers);
            return NULL;
        }
    }
    o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "namespace",
                  jstr_or_null(r->ns), "pod", jstr_or_null(r->pod), "container",
                  jstr_or_null(r->container), "field", jstr_or_null(r->field), "image",
                  jstr(r->image), "digest", jstr_or_null(m->digest), "verdict",
                  atv_cli_cov_class_name(m->cls), "signers", signers, "reason",
                  not_met ? json_string(atv_vfy_reason_name(m->reason)) : json_null(),
                  "message", jstr(m->message));
    return o;
}

static int print_json(FILE *out, const struct cov *c, const struct cli_cov_tally *all,
                      const struct cli_cov_ns *by, size_t n_by, const struct cli_cov_pct *fu)
{
    json_t *rows = json_array(), *byns = json_object(), *summary, *root = NULL;
    size_t i;
    int ok = rows != NULL && byns != NULL;

    for (i = 0; ok && i < c->n_rows; i++) {
        ok = json_array_append_new(rows, row_json(&c->rows[i], &c->imgs[c->rows[i].img])) == 0;
    }
    for (i = 0; ok && i < n_by; i++) {
        /* rows without a namespace (a plain list, a bare object) under "-",
         * which no Kubernetes namespace can be called */
        ok = json_object_set_new(byns, dash(by[i].ns), tally_json(&by[i].t)) == 0;
    }
    summary = ok ? tally_json(all) : NULL;
    ok = summary != NULL;
    if (ok) {
        ok = json_object_set_new(summary, "byNamespace", byns) == 0; /* steals byns */
        byns = NULL;
    }
    if (ok && fu != NULL) {
        ok = json_object_set_new(summary, "failUnder",
                                 json_real((double)fu->num / (double)fu->den)) == 0 &&
             json_object_set_new(summary, "pass",
                                 json_boolean(!atv_cli_cov_below(all->met, all->required,
                                                                 fu))) == 0;
    }
    root = ok ? json_pack("{s:o, s:o}", "rows", rows, "summary", summary) : NULL;
    rows = summary = NULL;
    if (root != NULL) {
        ok = json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0;
        fputc('\n', out);
    } else {
        ok = 0;
    }
    json_decref(root);
    json_decref(rows);
    json_decref(byns);
    json_decref(summary);
    return ok;
}

/* ---- the command ------------------------------------------------------------------------ */

enum { OPT_FAIL_UNDER = CLI_EXTRA_OPT_BASE, OPT_JOBS };

static const struct option coverage_opts[] = {
    {"fail-under", required_argument, NULL, OPT_FAIL_UNDER},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {NULL, 0, NULL, 0},
};

struct cov_args {
    int has_fail_under;
    struct cli_cov_pct fail_under;
    unsigned jobs;
};

static int apply(void *ctx, int c, const char *arg, FILE *errs)
{
    struct cov_args *a = ctx;
    size_t i;
    unsigned v = 0;

    switch (c) {
    case OPT_FAIL_UNDER:
        if (!atv_cli_cov_pct_parse(arg, &a->fail_under)) {
            fprintf(errs,
                    "atcr-verify coverage: --fail-under: a percentage, 0..100 with at most %u "
                    "decimals\n",
                    CLI_COV_MAX_DECIMALS);
            return 0;
        }
        a->has_fail_under = 1;
        return 1;
    case OPT_JOBS:
        for (i = 0; arg[i] >= '0' && arg[i] <= '9' && i < 3; i++) {
            v = v * 10 + (unsigned)(arg[i] - '0');
        }
        if (i == 0 || arg[i] != '\0' || v < 1 || v > CLI_COV_MAX_JOBS) {
            fprintf(errs, "atcr-verify coverage: --jobs: 1..%u\n", CLI_COV_MAX_JOBS);
            return 0;
        }
        a->jobs = v;
        return 1;
    default:
        fprintf(errs, "atcr-verify coverage: unknown option\n");
        return 0;
    }
}

static enum atv_status load_policy(const struct atv_vfy_params *p, struct atv_policy **out,
                                   struct atv_err *err)
{
    enum atv_status rc;
    if (p->trust_policy[0] != '\0') {
        rc = atv_policy_load_file(p->trust_policy, out, err);
    } else {
        rc = atv_policy_from_dids((const char *const *)p->trusted_dids, p->n_trusted, out, err);
    }
    if (rc != ATV_OK) {
        atv_err_prefix(err, "trust policy");
    }
    return rc;
}

int atv_cli_coverage(int argc, char **argv, FILE *out, FILE *errs)
{
    struct image_opts o;
    struct cov_args a;
    struct cli_extra extra = {coverage_opts, apply, &a};
    struct cov *c = NULL;
    struct atv_policy *policy = NULL;
    struct atv_vfy_bundle *bundle = NULL;
    struct atv_vfy_log lg;
    struct pool p;
    struct cli_cov_tally all;
    struct cli_cov_ns *by = NULL;
    size_t n_by = 0;
    struct atv_err err;
    int code;

    atv_cli_opts_init(&o);
    memset(&a, 0, sizeof a);
    a.jobs = CLI_COV_DEFAULT_JOBS;
    atv_err_clear(&err);
    code = atv_cli_parse_opts(argc, argv, "coverage", usage_coverage, CLI_MODE_COVERAGE, &extra,
                              &o, out, errs);
    if (code >= 0) {
        goto out;
    }
    code = ATV_CLI_USAGE;
    if (!o.params.has_trusted && o.params.trust_policy[0] == '\0') {
        fprintf(errs, "atcr-verify coverage: no trust configured: give --trusted-did or "
                      "--policy (or TRUSTED_DIDS, ATCR_POLICY_FILE)\n"
                      "Try 'atcr-verify coverage --help'.\n");
        goto out;
    }
    /* the policy first: a bad one is a configuration error, before any input is read */
    if (load_policy(&o.params, &policy, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify coverage: %s\n", err.msg);
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (c != NULL) {
        c->imgs = calloc(CLI_COV_MAX_IMAGES, sizeof *c->imgs);
    }
    if (c == NULL || c->imgs == NULL) {
        fprintf(errs, "atcr-verify coverage: out of memory\n");
        goto out;
    }
    c->use_http = o.store.use_http;
    if (read_input(o.input, c, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify coverage: %s\n", err.msg);
        goto out;
    }
    if (c->skipped > 0) {
        fprintf(errs, "info: %zu object%s of other kinds (no pod templates) skipped\n",
                c->skipped, c->skipped == 1 ? "" : "s");
    }
    if (c->n_rows == 0) {
        fprintf(errs, "warn: no images in the input: nothing to cover\n");
    }
    if (!atv_cli_load_offline(&o, &bundle, errs)) {
        goto out;
    }
    lg.f = errs;
    lg.debug = o.verbose > 1;
    lg.quiet = o.verbose == 0;
    atv_vfy_logf(&lg, ATV_VFY_INFO, "coverage: %zu images listed, %zu distinct, %u at a time",
                 c->n_rows, c->n_imgs, a.jobs);
    memset(&p, 0, sizeof p);
    p.c = c;
    p.o = &o;
    p.policy = policy;
    p.offline = bundle;
    p.log = &lg;
    p.now = (int64_t)time(NULL);
    atomic_init(&p.next, 0);
    atomic_init(&p.nomem, 0);
    if (verify_all(&p, a.jobs, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify coverage: %s\n", err.msg);
        goto out;
    }
    if (count(c, &all, &by, &n_by, &err) != ATV_OK) {
        fprintf(errs, "atcr-verify coverage: %s\n", err.msg);
        goto out;
    }
    if (o.json) {
        if (!print_json(out, c, &all, by, n_by, a.has_fail_under ? &a.fail_under : NULL)) {
            fprintf(errs, "atcr-verify coverage: out of memory\n");
            goto out;
        }
    } else {
        print_text(out, c, &all, by, n_by);
    }
    code = ATV_CLI_OK;
    if (a.has_fail_under && atv_cli_cov_below(all.met, all.required, &a.fail_under)) {
        char pct[16];
        pct_text(pct, sizeof pct, all.met, all.required);
        fprintf(errs, "atcr-verify coverage: %s (%zu of %zu) is below --fail-under %.10g\n", pct,
                all.met, all.required, (double)a.fail_under.num / (double)a.fail_under.den);
        code = ATV_CLI_REJECT;
    }
out:
    if (c != NULL) {
        cov_cleanup(c);
        free(c);
    }
    free(by);
    atv_policy_free(policy);
    atv_vfy_bundle_free(bundle);
    atv_cli_opts_cleanup(&o);
    return code;
}
