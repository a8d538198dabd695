/* fuzz/fuzz_cbor.c: strict DAG-CBOR decoding, as a round trip.
 *
 * Target functions: atv_atp_cbor_decode, atv_atp_cbor_root,
 * atv_atp_cbor_item, atv_atp_cbor_pair, atv_atp_cbor_get,
 * atv_atp_cbor_encode, atv_atp_cbor_to_json, atv_atp_cbor_free.
 *
 * DAG-CBOR is canonical (ipld.io/specs/codecs/dag-cbor/spec, "Strictness"):
 * a document the strict decoder accepts has exactly one encoding, so
 * re-encoding its root must give back the input byte for byte. A mismatch
 * means the decoder let a non-canonical form through (or the encoder is
 * wrong) and aborts. Each top-level map is also re-encoded with its first
 * key skipped, as commit.c does to get the unsigned commit. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

/* The JSON form of a record is capped by the library; this only bounds the buffer. */
#define FZ_JSON_MAX (8u << 20)

/* Walks the tree through the accessors, so every node is read once. */
static void walk(const struct atv_cbor_doc *doc, const struct atv_dv *v, unsigned depth)
{
    size_t i;
    FZ_CHECK(depth <= ATV_MAX_CBOR_DEPTH + 1u);
    if (v->kind == ATV_DV_ARRAY) {
        for (i = 0; i < v->count; i++) {
            const struct atv_dv *it = atv_atp_cbor_item(doc, v, i);
            FZ_CHECK(it != NULL);
            walk(doc, it, depth + 1);
        }
        FZ_CHECK(atv_atp_cbor_item(doc, v, v->count) == NULL);
    } else if (v->kind == ATV_DV_MAP) {
        for (i = 0; i < v->count; i++) {
            const struct atv_dv *k = NULL, *val = NULL;
            char key[64];
            FZ_CHECK(atv_atp_cbor_pair(doc, v, i, &k, &val) == 1);
            FZ_CHECK(k != NULL && val != NULL && k->kind == ATV_DV_TEXT);
            /* a lookup by a key without NUL finds this very value (keys are unique) */
            if (k->s.len < sizeof key && memchr(k->s.ptr, 0, k->s.len) == NULL) {
                memcpy(key, k->s.ptr, k->s.len);
                key[k->s.len] = '\0';
                FZ_CHECK(atv_atp_cbor_get(doc, v, key) == val);
            }
            walk(doc, val, depth + 1);
        }
        {
            const struct atv_dv *k = NULL, *val = NULL;
            FZ_CHECK(atv_atp_cbor_pair(doc, v, v->count, &k, &val) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_cbor_doc *doc = NULL;
    struct atv_err err;
    struct atv_buf enc, json;
    const struct atv_dv *root;
    enum atv_status rc;

    atv_err_clear(&err);
    atv_buf_init(&enc, 2 * size + 64);
    atv_buf_init(&json, FZ_JSON_MAX);
    rc = atv_atp_cbor_decode((struct atv_bytes){data, size}, &doc, &err);
    if (rc != ATV_OK) {
        FZ_CHECK(doc == NULL);
        FZ_CHECK(err.code == rc);
        goto out;
    }
    root = atv_atp_cbor_root(doc);
    FZ_CHECK(root != NULL);
    walk(doc, root, 0);

    rc = atv_atp_cbor_encode(doc, root, NULL, &enc, &err);
    if (rc != ATV_OK || enc.len != size || memcmp(enc.ptr, data, size) != 0) {
        (void)fprintf(stderr, "cbor round trip: rc %d (%s), %zu bytes in, %zu out\n", (int)rc,
                      err.msg, size, enc.len);
        abort();
    }
    if (root->kind == ATV_DV_MAP && root->count > 0) {
        const struct atv_dv *k = NULL, *v = NULL;
        char key[64];
        FZ_CHECK(atv_atp_cbor_pair(doc, root, 0, &k, &v) == 1);
        if (k->s.len < sizeof key && memchr(k->s.ptr, 0, k->s.len) == NULL) {
            memcpy(key, k->s.ptr, k->s.len);
            key[k->s.len] = '\0';
            enc.len = 0;
            atv_err_clear(&err);
            rc = atv_atp_cbor_encode(doc, root, key, &enc, &err);
            /* leaving out one pair makes it strictly shorter */
            FZ_CHECK(rc == ATV_OK && enc.len < size);
        }
    }
    atv_err_clear(&err);
    if (atv_atp_cbor_to_json(doc, root, &json, &err) == ATV_OK) {
        FZ_CHECK(json.ptr != NULL && json.ptr[json.len] == '\0');
    }
out:
    atv_atp_cbor_free(doc);
    atv_buf_cleanup(&enc);
    atv_buf_cleanup(&json);
    return 0;
}
