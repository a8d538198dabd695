/* atproto/mst.c: Merkle Search Tree lookups over the blocks of a CAR.
 *
 * atproto repository spec, "Merkle Search Tree": a node is {"e": [entries],
 * "l": CID|null}; an entry is {"k": key suffix bytes, "p": prefix length
 * shared with the previous entry's key, "t": CID|null (subtree right of the
 * entry), "v": CID (the record)}. A key's layer is the number of leading zero
 * bits of SHA-256(key) divided by 2 (fanout 4). Every key lives in the node of
 * its own layer that covers it, so a lookup walks one path from the root.
 * Absence is proven only by the walk: a missing node is an error. */
#include "atproto/atproto.h"

#include <string.h>

#define REASON_MALFORMED "malformed_proof"
#define REASON_INCOMPLETE "proof_incomplete"

unsigned atv_atp_mst_height(struct atv_bytes key)
{
    uint8_t h[32];
    unsigned zeros = 0;

    atv_sha256(key, h);
    for (size_t i = 0; i < sizeof h; i++) {
        if (h[i] == 0) {
            zeros += 8;
            continue;
        }
        for (uint8_t m = 0x80; m != 0 && (h[i] & m) == 0; m = (uint8_t)(m >> 1)) {
            zeros++;
        }
        break;
    }
    return zeros / 2;
}

size_t atv_atp_mst_common_prefix(struct atv_bytes a, struct atv_bytes b)
{
    size_t n = 0;
    while (n < a.len && n < b.len && a.ptr[n] == b.ptr[n]) {
        n++;
    }
    return n;
}

/* Bytewise key order, a shorter prefix first. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* A key with its storage, for the walk's bounds and the previous entry. */
struct mkey {
    uint8_t b[ATV_MAX_MST_KEY];
    size_t len;
    int set;
};

/* What one node says about the key being looked up. */
struct scan {
    int layer;              /* -1: the node has no entries */
    int found;              /* an entry's key equals the key */
    struct atv_cid value;   /* its value */
    int has_next;           /* the pointer covering the key is a CID */
    struct atv_cid next;
    int any_tree;           /* the node has a non-null pointer */
    struct mkey lo, hi;     /* the covering gap, narrowed to this node's entries */
};

static enum atv_status bad(struct atv_err *err, const char *what, size_t i)
{
    return atv_err_setr(err, ATV_E_VERIFY, REASON_MALFORMED, "mst node: %s (entry %zu)", what, i);
}

/* Reads `name` of a map as a link or null. */
static enum atv_status opt_link(const struct atv_cbor_doc *doc, const struct atv_dv *map,
                                const char *name, int *has, struct atv_cid *cid,
                                struct atv_err *err, size_t i)
{
    const struct atv_dv *v = atv_atp_cbor_get(doc, map, name);
    *has = 0;
    if (v == NULL) {
        return bad(err, "a pointer field is missing", i);
    }
    if (v->kind == ATV_DV_NULL) {
        return ATV_OK;
    }
    if (v->kind != ATV_DV_LINK || v->cid.codec != ATV_CODEC_DAG_CBOR) {
        return bad(err, "a pointer is neither null nor a dag-cbor CID", i);
    }
    *has = 1;
    *cid = v->cid;
    return ATV_OK;
}

static enum atv_status scan_entry(const struct atv_cbor_doc *doc, const struct atv_dv *ent,
                                  size_t i, struct mkey *prev, struct atv_err *err)
{
    const struct atv_dv *k, *p;

    if (ent->kind != ATV_DV_MAP || ent->count != 4) {
        return bad(err, "an entry is not a map of k, p, t, v", i);
    }
    k = atv_atp_cbor_get(doc, ent, "k");
    p = atv_atp_cbor_get(doc, ent, "p");
    if (k == NULL || k->kind != ATV_DV_BYTES || p == NULL || p->kind != ATV_DV_INT) {
        return bad(err, "k must be bytes and p an integer", i);
    }
    /* p is the prefix shared with the previous key: 0 for the first entry,
     * never more than the previous key, and exactly the common prefix
     * (the reference encoders write it so; anything else is not canonical) */
    if (p->i < 0 || (uint64_t)p->i > prev->len || (i == 0 && p->i != 0)) {
        return bad(err, "prefix length out of range", i);
    }
    size_t plen = (size_t)p->i;
    if (k->s.len > ATV_MAX_MST_KEY - plen) {
        return atv_err_set(err, ATV_E_LIMIT, "mst node: key longer than %u bytes (entry %zu)",
                           ATV_MAX_MST_KEY, i);
    }
    struct mkey cur;
    memcpy(cur.b, prev->b, plen); /* plen <= prev->len <= sizeof cur.b */
    if (k->s.len > 0) {
        memcpy(cur.b + plen, k->s.ptr, k->s.len); /* bounded by the check above */
    }
    cur.len = plen + k->s.len;
    cur.set = 1;
    if (i > 0) {
        struct atv_bytes a = {prev->b, prev->len}, b = {cur.b, cur.len};
        if (key_cmp(prev->b, prev->len, cur.b, cur.len) >= 0) {
            return bad(err, "keys are not strictly increasing", i);
        }
        if (atv_atp_mst_common_prefix(a, b) != plen) {
            return bad(err, "prefix length is not the common prefix", i);
        }
    }
    *prev = cur;
    return ATV_OK;
}

/* Decodes one node and finds what it says about key K of height h. */
static enum atv_status scan_node(struct atv_bytes block, struct atv_bytes K, struct scan *sc,
                                 struct atv_err *err)
{
    struct atv_cbor_doc *doc = NULL;
    const struct atv_dv *top, *e;
    struct mkey prev, new_lo, new_hi;
    int has_left = 0;
    struct atv_cid left;
    enum atv_status rc;

    prev.len = 0;
    prev.set = 0;
    new_lo.set = 0;
    new_lo.len = 0;
    new_hi.set = 0;
    new_hi.len = 0;
    sc->layer = -1;
    sc->found = 0;
    sc->has_next = 0;
    sc->any_tree = 0;
    rc = atv_atp_cbor_decode(block, &doc, err);
    if (rc != ATV_OK) {
        rc = atv_err_setr(err, ATV_E_VERIFY, REASON_MALFORMED, "mst node is not DAG-CBOR");
        goto out;
    }
    top = atv_atp_cbor_root(doc);
    e = atv_atp_cbor_get(doc, top, "e");
    if (top->kind != ATV_DV_MAP || top->count != 2 || e == NULL || e->kind != ATV_DV_ARRAY) {
        rc = bad(err, "not a map of e and l", 0);
        goto out;
    }
    if (e->count > ATV_MAX_MST_ENTRIES) {
        rc = atv_err_set(err, ATV_E_LIMIT, "mst node: %zu entries, cap %u", e->count,
                         ATV_MAX_MST_ENTRIES);
        goto out;
    }
    rc = opt_link(doc, top, "l", &has_left, &left, err, 0);
    if (rc != ATV_OK) {
        goto out;
    }
    sc->any_tree = has_left;
    /* The pointer covering K: l until an entry key below K is seen. */
    sc->has_next = has_left;
    sc->next = left;
    for (size_t i = 0; i < e->count; i++) {
        const struct atv_dv *ent = atv_atp_cbor_item(doc, e, i);
        struct atv_cid tree, value;
        int has_tree = 0, has_value = 0;

        rc = scan_entry(doc, ent, i, &prev, err);
        if (rc == ATV_OK) {
            rc = opt_link(doc, ent, "t", &has_tree, &tree, err, i);
        }
        if (rc == ATV_OK) {
            rc = opt_link(doc, ent, "v", &has_value, &value, err, i);
        }
        if (rc != ATV_OK) {
            goto out;
        }
        if (!has_value) {
            rc = bad(err, "an entry has no value", i);
            goto out;
        }
        struct atv_bytes kb = {prev.b, prev.len};
        int kh = (int)atv_atp_mst_height(kb);
        if (i == 0) {
            sc->layer = kh;
        } else if (kh != sc->layer) {
            rc = bad(err, "keys of different layers in one node", i);
            goto out;
        }
        /* every key must lie inside the parent's gap */
        if ((sc->lo.set && key_cmp(prev.b, prev.len, sc->lo.b, sc->lo.len) <= 0) ||
            (sc->hi.set && key_cmp(prev.b, prev.len, sc->hi.b, sc->hi.len) >= 0)) {
            rc = bad(err, "a key lies outside its parent's range", i);
            goto out;
        }
        sc->any_tree |= has_tree;
        int c = key_cmp(prev.b, prev.len, K.ptr, K.len);
        if (c == 0) {
            sc->found = 1;
            sc->value = value;
        }
        if (c < 0) {
            sc->has_next = has_tree;
            sc->next = tree;
            new_lo = prev;
        } else if (c > 0 && !new_hi.set) {
            new_hi = prev; /* the first key above K bounds the gap from above */
        }
    }
    if (new_lo.set) {
        sc->lo = new_lo;
    }
    if (new_hi.set) {
        sc->hi = new_hi;
    }
out:
    atv_atp_cbor_free(doc);
    return rc;
}

enum atv_status atv_atp_mst_lookup(const struct atv_car *car, const struct atv_cid *root,
                                   struct atv_bytes key, int *found, struct atv_cid *value,
                                   struct atv_err *err)
{
    struct scan sc;
    struct atv_cid node = *root;
    int parent_layer = -1;
    enum atv_status rc = ATV_OK;
    int h;

    *found = 0;
    memset(value, 0, sizeof *value);
    if (key.len == 0 || key.len > ATV_MAX_MST_KEY) {
        return atv_err_set(err, ATV_E_USAGE, "mst: key of %zu bytes (1..%u)", key.len,
                           ATV_MAX_MST_KEY);
    }
    h = (int)atv_atp_mst_height(key);
    sc.lo.set = 0;
    sc.lo.len = 0;
    sc.hi.set = 0;
    sc.hi.len = 0;
    for (unsigned depth = 0; depth < ATV_MAX_MST_DEPTH; depth++) {
        struct atv_bytes block;
        char cs[ATV_CID_STR_CAP];

        if (node.codec != ATV_CODEC_DAG_CBOR) {
            return atv_err_setr(err, ATV_E_VERIFY, REASON_MALFORMED, "mst: node CID is not dag-cbor");
        }
        rc = atv_atp_car_get(car, &node, &block, NULL);
        if (rc != ATV_OK) {
            atv_atp_cid_to_str(&node, cs);
            return atv_err_setr(err, ATV_E_VERIFY, REASON_INCOMPLETE,
                                "mst: node %s at depth %u is not in the proof", cs, depth);
        }
        rc = scan_node(block, key, &sc, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "depth %u", depth);
            return rc;
        }
        int layer = sc.layer;
        if (layer < 0) {
            /* no entries: the empty tree at the root, else an interior node
             * one layer below its parent holding only a left pointer */
            if (depth == 0) {
                if (sc.has_next) {
                    return atv_err_setr(err, ATV_E_VERIFY, REASON_MALFORMED,
                                        "mst: root has no entries but a subtree");
                }
                return ATV_OK; /* empty repository: absent */
            }
            layer = parent_layer - 1;
        }
        if (depth > 0 && layer != parent_layer - 1) {
            return atv_err_setr(err, ATV_E_VERIFY, REASON_MALFORMED,
                                "mst: node at layer %d under a node at layer %d", layer,
                                parent_layer);
        }
        if (layer == 0 && sc.any_tree) {
            return atv_err_setr(err, ATV_E_VERIFY, REASON_MALFORMED,
                                "mst: a layer-0 node has subtrees");
        }
        if (h > layer) {
            return ATV_OK; /* the key would sit at or above this node: absent */
        }
        if (h == layer) {
            if (sc.found) {
                *found = 1;
                *value = sc.value;
            }
            return ATV_OK;
        }
        if (!sc.has_next) {
            return ATV_OK; /* no subtree covers the key: absent */
        }
        node = sc.next;
        parent_layer = layer;
    }
    return atv_err_setr(err, ATV_E_LIMIT, REASON_MALFORMED, "mst: deeper than %u nodes",
                        ATV_MAX_MST_DEPTH);
}
