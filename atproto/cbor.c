/* atproto/cbor.c: strict DAG-CBOR (atproto data model) on libcbor.
 *
 * libcbor's streaming decoder reports one item header (or one whole definite
 * string) per call, with the number of bytes it consumed. We build our own
 * node arena from those events and enforce what DAG-CBOR and the atproto data
 * model require and libcbor does not (ipld.io/specs/codecs/dag-cbor/spec,
 * "Strictness"; atproto.com/specs/data-model):
 *   - definite lengths only; no break
 *   - integers and length/count headers in their shortest form
 *   - map keys are text, unique, sorted length-first then bytewise
 *   - the only tag is 42, on a byte string 0x00 || binary CID
 *   - no floats (atproto forbids them), simple values false/true/null only
 *   - integers fit a signed 64-bit value; text is valid UTF-8
 *   - nesting depth and item count capped; no bytes after the top item
 * This file is the only user of cbor.h (STYLE.md 7.1.3); jansson is used to
 * render the atproto JSON form. */
#include "atproto/atproto.h"

#include <cbor.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct atv_cbor_doc {
    struct atv_dv *nodes;
    size_t n, cap;
    size_t *kids; /* children: arrays item by item; maps key, value, key, value... */
    size_t nk, capk;
};

enum ev_kind { EV_NONE, EV_UINT, EV_NEGINT, EV_BYTES, EV_TEXT, EV_ARRAY, EV_MAP, EV_TAG,
               EV_BOOL, EV_NULL, EV_BAD };

struct ev {
    enum ev_kind kind;
    uint64_t v;
    const uint8_t *data;
    size_t len;
    const char *bad; /* what was rejected, for EV_BAD */
};

struct frame {
    size_t node;
    size_t want; /* child slots: items, or 2 * pairs */
    size_t have;
};

struct dec {
    struct atv_cbor_doc *doc;
    struct ev ev;
    struct frame stack[ATV_MAX_CBOR_DEPTH];
    size_t depth;
    int tag_pending;
    int root_done;
    size_t root;
};

/* ---- libcbor callbacks: record the event, decide after the call ---------- */

static void on_u8(void *c, uint8_t v)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_UINT;
    e->v = v;
}
static void on_u16(void *c, uint16_t v)
{
    on_u8(c, 0);
    ((struct dec *)c)->ev.v = v;
}
static void on_u32(void *c, uint32_t v)
{
    on_u8(c, 0);
    ((struct dec *)c)->ev.v = v;
}
static void on_u64(void *c, uint64_t v)
{
    on_u8(c, 0);
    ((struct dec *)c)->ev.v = v;
}
static void on_n8(void *c, uint8_t v)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_NEGINT;
    e->v = v;
}
static void on_n16(void *c, uint16_t v)
{
    on_n8(c, 0);
    ((struct dec *)c)->ev.v = v;
}
static void on_n32(void *c, uint32_t v)
{
    on_n8(c, 0);
    ((struct dec *)c)->ev.v = v;
}
static void on_n64(void *c, uint64_t v)
{
    on_n8(c, 0);
    ((struct dec *)c)->ev.v = v;
}
static void on_bytes(void *c, cbor_data d, size_t n)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_BYTES;
    e->data = d;
    e->len = n;
    e->v = n;
}
static void on_text(void *c, cbor_data d, size_t n)
{
    on_bytes(c, d, n);
    ((struct dec *)c)->ev.kind = EV_TEXT;
}
static void on_array(void *c, size_t n)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_ARRAY;
    e->v = n;
}
static void on_map(void *c, size_t n)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_MAP;
    e->v = n;
}
static void on_tag(void *c, uint64_t v)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_TAG;
    e->v = v;
}
static void on_bool(void *c, bool b)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_BOOL;
    e->v = b ? 1 : 0;
}
static void on_null(void *c)
{
    ((struct dec *)c)->ev.kind = EV_NULL;
}
static void bad(void *c, const char *what)
{
    struct ev *e = &((struct dec *)c)->ev;
    e->kind = EV_BAD;
    e->bad = what;
}
static void on_float(void *c, float f)
{
    (void)f;
    bad(c, "floats are not allowed in the atproto data model");
}
static void on_double(void *c, double f)
{
    (void)f;
    bad(c, "floats are not allowed in the atproto data model");
}
static void on_undef(void *c)
{
    bad(c, "undefined is not a DAG-CBOR value");
}
static void on_indef(void *c)
{
    bad(c, "indefinite lengths are not allowed in DAG-CBOR");
}

static const struct cbor_callbacks strict_callbacks = {
    .uint8 = on_u8,
    .uint16 = on_u16,
    .uint32 = on_u32,
    .uint64 = on_u64,
    .negint8 = on_n8,
    .negint16 = on_n16,
    .negint32 = on_n32,
    .negint64 = on_n64,
    .byte_string_start = on_indef,
    .byte_string = on_bytes,
    .string = on_text,
    .string_start = on_indef,
    .indef_array_start = on_indef,
    .array_start = on_array,
    .indef_map_start = on_indef,
    .map_start = on_map,
    .tag = on_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_undef,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_indef,
};

/* ---- node arena ----------------------------------------------------------- */

static enum atv_status grow(void **p, size_t *cap, size_t need, size_t elem, struct atv_err *err)
{
    if (need <= *cap) {
        return ATV_OK;
    }
    size_t ncap = *cap != 0 ? *cap : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *np = realloc(*p, ncap * elem);
    if (np == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "dag-cbor: out of memory");
    }
    *p = np;
    *cap = ncap;
    return ATV_OK;
}

static enum atv_status new_node(struct atv_cbor_doc *d, enum atv_dv_kind kind, size_t *idx,
                                struct atv_err *err)
{
    if (d->n >= ATV_MAX_CBOR_ITEMS) {
        return atv_err_set(err, ATV_E_LIMIT, "dag-cbor: more than %u items", ATV_MAX_CBOR_ITEMS);
    }
    enum atv_status rc = grow((void **)&d->nodes, &d->cap, d->n + 1, sizeof *d->nodes, err);
    if (rc != ATV_OK) {
        return rc;
    }
    memset(&d->nodes[d->n], 0, sizeof d->nodes[d->n]);
    d->nodes[d->n].kind = kind;
    *idx = d->n;
    d->n++;
    return ATV_OK;
}

/* ---- checks --------------------------------------------------------------- */

/* Bytes the shortest CBOR head for argument v takes (RFC 8949 section 3). */
static size_t min_head(uint64_t v)
{
    if (v < 24) {
        return 1;
    }
    if (v <= 0xff) {
        return 2;
    }
    if (v <= 0xffff) {
        return 3;
    }
    if (v <= 0xffffffffu) {
        return 5;
    }
    return 9;
}

/* RFC 3629 section 4: shortest forms only, no surrogates, at most U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (k > n - i - 1) {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}

/* DAG-CBOR map key order: shorter first, then bytewise (RFC 7049 canonical). */
static int key_cmp(struct atv_bytes a, struct atv_bytes b)
{
    if (a.len != b.len) {
        return a.len < b.len ? -1 : 1;
    }
    return a.len == 0 ? 0 : memcmp(a.ptr, b.ptr, a.len);
}

/* ---- building --------------------------------------------------------------- */

/* Attaches finished node idx to the open container, closing containers that
 * become full. Map keys are checked here: text, in order, unique. */
static enum atv_status attach(struct dec *st, size_t idx, struct atv_err *err)
{
    struct atv_cbor_doc *d = st->doc;
    for (;;) {
        if (st->depth == 0) {
            st->root = idx;
            st->root_done = 1;
            return ATV_OK;
        }
        struct frame *f = &st->stack[st->depth - 1];
        struct atv_dv *parent = &d->nodes[f->node];
        if (parent->kind == ATV_DV_MAP && f->have % 2 == 0) {
            const struct atv_dv *key = &d->nodes[idx];
            if (key->kind != ATV_DV_TEXT) {
                return atv_err_set(err, ATV_E_PARSE, "dag-cbor: map key %zu is not a text string",
                                   f->have / 2);
            }
            if (f->have > 0) {
                const struct atv_dv *prev = &d->nodes[d->kids[parent->kids + f->have - 2]];
                int c = key_cmp(prev->s, key->s);
                if (c == 0) {
                    return atv_err_set(err, ATV_E_PARSE, "dag-cbor: duplicate map key (%zu bytes)",
                                       key->s.len);
                }
                if (c > 0) {
                    return atv_err_set(err, ATV_E_PARSE,
                                       "dag-cbor: map keys out of canonical order at pair %zu",
                                       f->have / 2);
                }
            }
        }
        d->kids[parent->kids + f->have] = idx;
        f->have++;
        if (f->have < f->want) {
            return ATV_OK;
        }
        idx = f->node; /* the container is complete: attach it in turn */
        st->depth--;
    }
}

static enum atv_status open_container(struct dec *st, enum atv_dv_kind kind, uint64_t count,
                                      size_t left, struct atv_err *err)
{
    struct atv_cbor_doc *d = st->doc;
    size_t idx;
    enum atv_status rc;

    /* every child takes at least one byte: a larger count cannot be honest */
    uint64_t slots = kind == ATV_DV_MAP ? count * 2 : count;
    if (count > left || slots > left) {
        return atv_err_set(err, ATV_E_PARSE,
                           "dag-cbor: %s of %llu entries with %zu bytes left",
                           kind == ATV_DV_MAP ? "map" : "array", (unsigned long long)count, left);
    }
    if (slots > ATV_MAX_CBOR_ITEMS * 2u - d->nk) {
        return atv_err_set(err, ATV_E_LIMIT, "dag-cbor: more than %u items", ATV_MAX_CBOR_ITEMS);
    }
    rc = new_node(d, kind, &idx, err);
    if (rc != ATV_OK) {
        return rc;
    }
    rc = grow((void **)&d->kids, &d->capk, d->nk + (size_t)slots, sizeof *d->kids, err);
    if (rc != ATV_OK) {
        return rc;
    }
    d->nodes[idx].count = (size_t)count;
    d->nodes[idx].kids = d->nk;
    d->nk += (size_t)slots;
    if (count == 0) {
        return attach(st, idx, err);
    }
    if (st->depth >= ATV_MAX_CBOR_DEPTH) {
        return atv_err_set(err, ATV_E_LIMIT, "dag-cbor: nesting deeper than %u",
                           ATV_MAX_CBOR_DEPTH);
    }
    st->stack[st->depth].node = idx;
    st->stack[st->depth].want = (size_t)slots;
    st->stack[st->depth].have = 0;
    st->depth++;
    return ATV_OK;
}

/* Handles one event whose encoding took `used` bytes, with `left` bytes after it. */
static enum atv_status on_event(struct dec *st, size_t used, size_t left, struct atv_err *err)
{
    struct ev *e = &st->ev;
    struct atv_cbor_doc *d = st->doc;
    size_t idx;
    enum atv_status rc;

    if (e->kind == EV_BAD) {
        return atv_err_set(err, ATV_E_PARSE, "dag-cbor: %s", e->bad);
    }
    size_t head = (e->kind == EV_BYTES || e->kind == EV_TEXT) ? used - e->len : used;
    if (e->kind != EV_BOOL && e->kind != EV_NULL && head != min_head(e->v)) {
        return atv_err_set(err, ATV_E_PARSE,
                           "dag-cbor: argument %llu encoded in %zu bytes, shortest is %zu",
                           (unsigned long long)e->v, head, min_head(e->v));
    }
    if (st->tag_pending && e->kind != EV_BYTES) {
        return atv_err_set(err, ATV_E_PARSE, "dag-cbor: tag 42 must wrap a byte string");
    }
    switch (e->kind) {
    case EV_TAG:
        /* DAG-CBOR: tag 42 is the only tag */
        if (e->v != 42) {
            return atv_err_set(err, ATV_E_PARSE, "dag-cbor: tag %llu, only 42 is allowed",
                               (unsigned long long)e->v);
        }
        st->tag_pending = 1;
        return ATV_OK;
    case EV_UINT:
    case EV_NEGINT:
        if (e->v > (uint64_t)INT64_MAX) {
            return atv_err_set(err, ATV_E_PARSE, "dag-cbor: integer outside the signed 64-bit range");
        }
        rc = new_node(d, ATV_DV_INT, &idx, err);
        if (rc != ATV_OK) {
            return rc;
        }
        d->nodes[idx].i = e->kind == EV_UINT ? (int64_t)e->v : -1 - (int64_t)e->v;
        return attach(st, idx, err);
    case EV_BYTES:
    case EV_TEXT:
        if (e->kind == EV_TEXT && !utf8_valid(e->data, e->len)) {
            return atv_err_set(err, ATV_E_PARSE, "dag-cbor: text of %zu bytes is not valid UTF-8",
                               e->len);
        }
        if (st->tag_pending) {
            struct atv_bytes b = {e->data, e->len};
            st->tag_pending = 0;
            /* DAG-CBOR links: tag 42 over 0x00 (identity multibase) + binary CID */
            if (b.len < 1 || b.ptr[0] != 0x00) {
                return atv_err_set(err, ATV_E_PARSE, "dag-cbor: CID link lacks the 0x00 prefix");
            }
            rc = new_node(d, ATV_DV_LINK, &idx, err);
            if (rc != ATV_OK) {
                return rc;
            }
            b.ptr++;
            b.len--;
            rc = atv_atp_cid_from_bin(b, &d->nodes[idx].cid, err);
            if (rc != ATV_OK) {
                atv_err_prefix(err, "dag-cbor link");
                return rc;
            }
            return attach(st, idx, err);
        }
        rc = new_node(d, e->kind == EV_TEXT ? ATV_DV_TEXT : ATV_DV_BYTES, &idx, err);
        if (rc != ATV_OK) {
            return rc;
        }
        d->nodes[idx].s.ptr = e->data;
        d->nodes[idx].s.len = e->len;
        return attach(st, idx, err);
    case EV_ARRAY:
        return open_container(st, ATV_DV_ARRAY, e->v, left, err);
    case EV_MAP:
        return open_container(st, ATV_DV_MAP, e->v, left, err);
    case EV_BOOL:
    case EV_NULL:
        rc = new_node(d, e->kind == EV_BOOL ? ATV_DV_BOOL : ATV_DV_NULL, &idx, err);
        if (rc != ATV_OK) {
            return rc;
        }
        d->nodes[idx].i = (int64_t)e->v;
        return attach(st, idx, err);
    case EV_NONE:
    case EV_BAD:
    default:
        return atv_err_set(err, ATV_E_PARSE, "dag-cbor: unsupported item");
    }
}

void atv_atp_cbor_free(struct atv_cbor_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    free(doc->nodes);
    free(doc->kids);
    free(doc);
}

enum atv_status atv_atp_cbor_decode(struct atv_bytes in, struct atv_cbor_doc **out,
                                    struct atv_err *err)
{
    struct dec st;
    struct atv_reader rd;
    enum atv_status rc = ATV_OK;

    *out = NULL;
    memset(&st, 0, sizeof st);
    st.doc = calloc(1, sizeof *st.doc);
    if (st.doc == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "dag-cbor: out of memory");
    }
    atv_rd_init(&rd, in);
    while (!st.root_done) {
        struct atv_bytes rest = atv_rd_rest(&rd);
        struct atv_bytes used;
        if (rest.len == 0) {
            rc = atv_err_set(err, ATV_E_PARSE, "dag-cbor: truncated at offset %zu", in.len);
            goto out;
        }
        memset(&st.ev, 0, sizeof st.ev);
        struct cbor_decoder_result r = cbor_stream_decode(rest.ptr, rest.len, &strict_callbacks,
                                                          &st);
        if (r.status == CBOR_DECODER_NEDATA) {
            rc = atv_err_set(err, ATV_E_PARSE, "dag-cbor: truncated at offset %zu (need %zu bytes)",
                             in.len - rest.len, r.required);
            goto out;
        }
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > rest.len) {
            rc = atv_err_set(err, ATV_E_PARSE, "dag-cbor: malformed item at offset %zu (0x%02x)",
                             in.len - rest.len, rest.ptr[0]);
            goto out;
        }
        rc = atv_rd_take(&rd, r.read, &used, err);
        if (rc == ATV_OK) {
            rc = on_event(&st, r.read, atv_rd_left(&rd), err);
        }
        if (rc != ATV_OK) {
            atv_err_prefix(err, "offset %zu", in.len - rest.len);
            goto out;
        }
    }
    if (!atv_rd_eof(&rd)) {
        rc = atv_err_set(err, ATV_E_PARSE, "dag-cbor: %zu trailing bytes after the item",
                         atv_rd_left(&rd));
        goto out;
    }
    if (st.root != 0) {
        /* the root is always the first node created */
        rc = atv_err_set(err, ATV_E_INTERNAL, "dag-cbor: root is node %zu", st.root);
        goto out;
    }
    *out = st.doc;
    st.doc = NULL;
out:
    atv_atp_cbor_free(st.doc);
    return rc;
}

const struct atv_dv *atv_atp_cbor_root(const struct atv_cbor_doc *doc)
{
    return doc != NULL && doc->n > 0 ? &doc->nodes[0] : NULL;
}

const struct atv_dv *atv_atp_cbor_item(const struct atv_cbor_doc *doc, const struct atv_dv *arr,
                                       size_t i)
{
    if (arr == NULL || arr->kind != ATV_DV_ARRAY || i >= arr->count) {
        return NULL;
    }
    return &doc->nodes[doc->kids[arr->kids + i]];
}

int atv_atp_cbor_pair(const struct atv_cbor_doc *doc, const struct atv_dv *map, size_t i,
                      const struct atv_dv **key, const struct atv_dv **val)
{
    *key = NULL;
    *val = NULL;
    if (map == NULL || map->kind != ATV_DV_MAP || i >= map->count) {
        return 0;
    }
    *key = &doc->nodes[doc->kids[map->kids + 2 * i]];
    *val = &doc->nodes[doc->kids[map->kids + 2 * i + 1]];
    return 1;
}

const struct atv_dv *atv_atp_cbor_get(const struct atv_cbor_doc *doc, const struct atv_dv *map,
                                      const char *key)
{
    const struct atv_dv *k, *v;
    for (size_t i = 0; atv_atp_cbor_pair(doc, map, i, &k, &v); i++) {
        if (atv_bytes_eq_str(k->s, key)) {
            return v;
        }
    }
    return NULL;
}

/* ---- encoding ---------------------------------------------------------------- */

static enum atv_status put_head(struct atv_buf *out, size_t n, const unsigned char *tmp,
                                struct atv_err *err)
{
    if (n == 0) {
        return atv_err_set(err, ATV_E_INTERNAL, "dag-cbor: encoder wrote nothing");
    }
    return atv_buf_append(out, tmp, n, err);
}

enum atv_status atv_atp_cbor_put_head(struct atv_buf *out, enum atv_cbor_head kind, size_t n,
                                      struct atv_err *err)
{
    unsigned char tmp[9];
    switch (kind) {
    case ATV_CBOR_TEXT:
        return put_head(out, cbor_encode_string_start(n, tmp, sizeof tmp), tmp, err);
    case ATV_CBOR_ARRAY:
        return put_head(out, cbor_encode_array_start(n, tmp, sizeof tmp), tmp, err);
    case ATV_CBOR_MAP:
        return put_head(out, cbor_encode_map_start(n, tmp, sizeof tmp), tmp, err);
    default:
        return atv_err_set(err, ATV_E_USAGE, "dag-cbor: head of unknown kind %d", (int)kind);
    }
}

static enum atv_status encode_node(const struct atv_cbor_doc *doc, const struct atv_dv *v,
                                   const char *skip, struct atv_buf *out, struct atv_err *err)
{
    unsigned char tmp[16];
    enum atv_status rc;
    uint8_t cid[ATV_CID_BIN_LEN + 1];

    switch (v->kind) {
    case ATV_DV_NULL:
        return put_head(out, cbor_encode_null(tmp, sizeof tmp), tmp, err);
    case ATV_DV_BOOL:
        return put_head(out, cbor_encode_bool(v->i != 0, tmp, sizeof tmp), tmp, err);
    case ATV_DV_INT:
        if (v->i >= 0) {
            return put_head(out, cbor_encode_uint((uint64_t)v->i, tmp, sizeof tmp), tmp, err);
        }
        return put_head(out, cbor_encode_negint((uint64_t)(-1 - v->i), tmp, sizeof tmp), tmp, err);
    case ATV_DV_BYTES:
    case ATV_DV_TEXT:
        rc = put_head(out,
                      v->kind == ATV_DV_TEXT ? cbor_encode_string_start(v->s.len, tmp, sizeof tmp)
                                             : cbor_encode_bytestring_start(v->s.len, tmp,
                                                                            sizeof tmp),
                      tmp, err);
        return rc != ATV_OK ? rc : atv_buf_append(out, v->s.ptr, v->s.len, err);
    case ATV_DV_LINK:
        rc = put_head(out, cbor_encode_tag(42, tmp, sizeof tmp), tmp, err);
        if (rc == ATV_OK) {
            rc = put_head(out, cbor_encode_bytestring_start(sizeof cid, tmp, sizeof tmp), tmp, err);
        }
        cid[0] = 0x00;
        atv_atp_cid_to_bin(&v->cid, cid + 1);
        return rc != ATV_OK ? rc : atv_buf_append(out, cid, sizeof cid, err);
    case ATV_DV_ARRAY:
        rc = put_head(out, cbor_encode_array_start(v->count, tmp, sizeof tmp), tmp, err);
        for (size_t i = 0; rc == ATV_OK && i < v->count; i++) {
            rc = encode_node(doc, atv_atp_cbor_item(doc, v, i), NULL, out, err);
        }
        return rc;
    case ATV_DV_MAP: {
        const struct atv_dv *k, *val;
        size_t n = v->count;
        if (skip != NULL && atv_atp_cbor_get(doc, v, skip) != NULL) {
            n--;
        }
        rc = put_head(out, cbor_encode_map_start(n, tmp, sizeof tmp), tmp, err);
        /* keys were verified canonical when decoding, so order is kept */
        for (size_t i = 0; rc == ATV_OK && atv_atp_cbor_pair(doc, v, i, &k, &val); i++) {
            if (skip != NULL && atv_bytes_eq_str(k->s, skip)) {
                continue;
            }
            rc = encode_node(doc, k, NULL, out, err);
            if (rc == ATV_OK) {
                rc = encode_node(doc, val, NULL, out, err);
            }
        }
        return rc;
    }
    default:
        return atv_err_set(err, ATV_E_INTERNAL, "dag-cbor: unknown node kind %d", (int)v->kind);
    }
}

enum atv_status atv_atp_cbor_encode(const struct atv_cbor_doc *doc, const struct atv_dv *v,
                                    const char *skip, struct atv_buf *out, struct atv_err *err)
{
    if (doc == NULL || v == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "dag-cbor: nothing to encode");
    }
    size_t start = out->len;
    enum atv_status rc = encode_node(doc, v, skip, out, err);
    if (rc != ATV_OK) {
        out->len = start;
    }
    return rc;
}

/* ---- JSON rendering (atproto data model "JSON representation") -------------- */

static json_t *to_json(const struct atv_cbor_doc *doc, const struct atv_dv *v)
{
    json_t *o = NULL;
    char cid[ATV_CID_STR_CAP];
    struct atv_buf b64;
    const struct atv_dv *k, *val;

    switch (v->kind) {
    case ATV_DV_NULL:
        return json_null();
    case ATV_DV_BOOL:
        return json_boolean(v->i != 0);
    case ATV_DV_INT:
        return json_integer((json_int_t)v->i);
    case ATV_DV_TEXT:
        return json_stringn((const char *)v->s.ptr, v->s.len);
    case ATV_DV_BYTES:
        atv_buf_init(&b64, ATV_MAX_RECORD * 2);
        if (atv_base64_encode(v->s, &b64, NULL) == ATV_OK) {
            o = json_pack("{s:s%}", "$bytes", b64.ptr != NULL ? (char *)b64.ptr : "", b64.len);
        }
        atv_buf_cleanup(&b64);
        return o;
    case ATV_DV_LINK:
        atv_atp_cid_to_str(&v->cid, cid);
        return json_pack("{s:s}", "$link", cid);
    case ATV_DV_ARRAY:
        o = json_array();
        for (size_t i = 0; o != NULL && i < v->count; i++) {
            if (json_array_append_new(o, to_json(doc, atv_atp_cbor_item(doc, v, i))) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        return o;
    case ATV_DV_MAP:
        o = json_object();
        for (size_t i = 0; o != NULL && atv_atp_cbor_pair(doc, v, i, &k, &val); i++) {
            if (json_object_setn_new_nocheck(o, (const char *)k->s.ptr, k->s.len,
                                             to_json(doc, val)) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        return o;
    default:
        return NULL;
    }
}

enum atv_status atv_atp_cbor_to_json(const struct atv_cbor_doc *doc, const struct atv_dv *v,
                                     struct atv_buf *out, struct atv_err *err)
{
    if (doc == NULL || v == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "dag-cbor: nothing to render");
    }
    json_t *j = to_json(doc, v);
    char *s = NULL;
    enum atv_status rc;
    if (j != NULL) {
        s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    if (s == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "dag-cbor: could not render JSON");
    } else {
        rc = atv_buf_append(out, s, strlen(s), err);
        if (rc == ATV_OK) {
            rc = atv_buf_terminate(out, err);
        }
    }
    free(s);
    json_decref(j);
    return rc;
}
