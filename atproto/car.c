/* atproto/car.c: CAR v1 reader (ipld.io/specs/transport/car/carv1).
 *
 * Layout: uvarint(header length) || DAG-CBOR header {"roots":[CID],
 * "version":1} || sections of uvarint(length) || binary CID || block.
 * atproto repository spec, "CAR File Serialization": exactly one root, the
 * commit. Each block is hashed while reading and must match its CID; order
 * is not meaningful, so blocks go into a table looked up by CID. */
#include "atproto/atproto.h"

#include <stdlib.h>
#include <string.h>

struct car_block {
    struct atv_cid cid;
    struct atv_bytes data;
};

struct atv_car {
    struct atv_cid root;
    struct car_block *blocks; /* sorted by CID bytes for lookup */
    size_t n, cap;
};

static int block_cmp(const void *a, const void *b)
{
    const struct car_block *x = a, *y = b;
    if (x->cid.codec != y->cid.codec) {
        return x->cid.codec < y->cid.codec ? -1 : 1;
    }
    return memcmp(x->cid.digest, y->cid.digest, 32);
}

void atv_atp_car_free(struct atv_car *car)
{
    if (car == NULL) {
        return;
    }
    free(car->blocks);
    free(car);
}

static enum atv_status parse_header(struct atv_bytes hdr, struct atv_cid *root, struct atv_err *err)
{
    struct atv_cbor_doc *doc = NULL;
    enum atv_status rc = atv_atp_cbor_decode(hdr, &doc, err);
    const struct atv_dv *top, *roots, *version, *r0;

    memset(root, 0, sizeof *root);
    if (rc != ATV_OK) {
        goto out;
    }
    top = atv_atp_cbor_root(doc);
    if (top->kind != ATV_DV_MAP || top->count != 2) {
        rc = atv_err_set(err, ATV_E_PARSE, "car header: want a map of roots and version");
        goto out;
    }
    roots = atv_atp_cbor_get(doc, top, "roots");
    version = atv_atp_cbor_get(doc, top, "version");
    if (version == NULL || version->kind != ATV_DV_INT || version->i != 1) {
        rc = atv_err_set(err, ATV_E_UNSUPPORTED, "car header: version must be 1");
        goto out;
    }
    if (roots == NULL || roots->kind != ATV_DV_ARRAY || roots->count != 1) {
        rc = atv_err_set(err, ATV_E_PARSE, "car header: want exactly 1 root, got %zu",
                         roots != NULL && roots->kind == ATV_DV_ARRAY ? roots->count : 0);
        goto out;
    }
    r0 = atv_atp_cbor_item(doc, roots, 0);
    if (r0->kind != ATV_DV_LINK) {
        rc = atv_err_set(err, ATV_E_PARSE, "car header: root is not a CID link");
        goto out;
    }
    *root = r0->cid;
out:
    atv_atp_cbor_free(doc);
    return rc;
}

static enum atv_status read_section(struct atv_reader *rd, struct atv_car *car, struct atv_err *err)
{
    uint64_t len = 0;
    struct atv_bytes sec;
    struct atv_reader srd;
    struct car_block blk;
    struct atv_cid got;
    enum atv_status rc;

    rc = atv_rd_uvarint(rd, &len, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (len > ATV_MAX_BLOCK) {
        return atv_err_set(err, ATV_E_LIMIT, "car: section of %llu bytes, cap %u",
                           (unsigned long long)len, ATV_MAX_BLOCK);
    }
    rc = atv_rd_take(rd, (size_t)len, &sec, err);
    if (rc != ATV_OK) {
        return rc;
    }
    atv_rd_init(&srd, sec);
    rc = atv_atp_cid_read(&srd, &blk.cid, err);
    if (rc != ATV_OK) {
        return rc;
    }
    blk.data = atv_rd_rest(&srd);
    atv_atp_cid_of(blk.cid.codec, blk.data, &got);
    if (!atv_atp_cid_eq(&got, &blk.cid)) {
        char want[ATV_CID_STR_CAP];
        atv_atp_cid_to_str(&blk.cid, want);
        return atv_err_setr(err, ATV_E_VERIFY, "block_hash_mismatch",
                            "car: block %s (%zu bytes) does not hash to its CID", want,
                            blk.data.len);
    }
    if (car->n >= ATV_MAX_CAR_BLOCKS) {
        return atv_err_set(err, ATV_E_LIMIT, "car: more than %u blocks", ATV_MAX_CAR_BLOCKS);
    }
    if (car->n == car->cap) {
        size_t ncap = car->cap != 0 ? car->cap * 2 : 16;
        struct car_block *nb = realloc(car->blocks, ncap * sizeof *nb);
        if (nb == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "car: out of memory");
        }
        car->blocks = nb;
        car->cap = ncap;
    }
    car->blocks[car->n] = blk;
    car->n++;
    return ATV_OK;
}

enum atv_status atv_atp_car_parse(struct atv_bytes in, struct atv_car **out, struct atv_err *err)
{
    struct atv_car *car = NULL;
    struct atv_reader rd;
    struct atv_bytes hdr;
    uint64_t hlen = 0;
    enum atv_status rc;

    *out = NULL;
    if (in.len > ATV_MAX_CAR) {
        return atv_err_set(err, ATV_E_LIMIT, "car: %zu bytes, cap %u", in.len, ATV_MAX_CAR);
    }
    car = calloc(1, sizeof *car);
    if (car == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "car: out of memory");
    }
    atv_rd_init(&rd, in);
    rc = atv_rd_uvarint(&rd, &hlen, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (hlen == 0 || hlen > ATV_MAX_CAR_HEADER) {
        rc = atv_err_set(err, ATV_E_PARSE, "car: header of %llu bytes (1..%u)",
                         (unsigned long long)hlen, ATV_MAX_CAR_HEADER);
        goto out;
    }
    rc = atv_rd_take(&rd, (size_t)hlen, &hdr, err);
    if (rc == ATV_OK) {
        rc = parse_header(hdr, &car->root, err);
    }
    while (rc == ATV_OK && !atv_rd_eof(&rd)) {
        rc = read_section(&rd, car, err);
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (car->n > 1) {
        qsort(car->blocks, car->n, sizeof *car->blocks, block_cmp);
    }
    /* The same CID twice carries the same bytes (both were hash-checked);
     * lookup returns either copy, so duplicates are harmless and kept. */
    *out = car;
    car = NULL;
out:
    atv_atp_car_free(car);
    return rc;
}

const struct atv_cid *atv_atp_car_root(const struct atv_car *car)
{
    return &car->root;
}

size_t atv_atp_car_count(const struct atv_car *car)
{
    return car->n;
}

enum atv_status atv_atp_car_get(const struct atv_car *car, const struct atv_cid *cid,
                                struct atv_bytes *out, struct atv_err *err)
{
    struct car_block key;
    const struct car_block *hit;

    out->ptr = NULL;
    out->len = 0;
    key.cid = *cid;
    hit = car->n > 0 ? bsearch(&key, car->blocks, car->n, sizeof *car->blocks, block_cmp) : NULL;
    if (hit == NULL) {
        char s[ATV_CID_STR_CAP];
        atv_atp_cid_to_str(cid, s);
        return atv_err_set(err, ATV_E_NOT_FOUND, "block %s is not in the CAR", s);
    }
    *out = hit->data;
    return ATV_OK;
}
