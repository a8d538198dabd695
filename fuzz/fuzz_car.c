/* fuzz/fuzz_car.c: CAR v1 files, and the repository walk behind a proof.
 *
 * Target functions: atv_atp_car_parse, atv_atp_car_root, atv_atp_car_count,
 * atv_atp_car_get, atv_atp_car_free, and on the root block
 * atv_atp_cbor_decode, atv_atp_commit_parse, atv_atp_mst_lookup.
 *
 * Two passes per input:
 *   1. the bytes as they are: header, sections, CID reads, hash checks;
 *   2. a copy whose CIDs the harness recomputes ("re-hashing"): from the last
 *      section to the first, each block is hashed, and where its CID was
 *      stale the new CID replaces the old one in the section and everywhere
 *      before it (the header's root, links in earlier blocks). A mutated MST
 *      node or commit thus still hashes to the link that names it, so the
 *      fuzzer reaches commit parsing and the MST walk (everything a proof
 *      checks except the signature, which it cannot forge).
 * No I/O. */
#include "fuzz/fuzz.h"

#include "atproto/atproto.h"

/* The canonical binary CID: 01 <codec> 12 20 <32-byte digest>. */
#define FZ_CID_LEN 36u
/* Sections re-hashed: bounds the quadratic replacement. */
#define FZ_MAX_FIX_SECTIONS 512u
/* MST keys looked up on every tree: the proof fixtures' record, keys before
 * and after every other, and one in another collection. */
static const char *const fz_keys[] = {
    "io.atcr.manifest/0ba379303b81c513bd8d6a827bf93a3318de4e3fe3f0a678c0e0c6f72722df84",
    "io.atcr.manifest/19623736457bd83d5664cc8156b75b66711131f4fbdefe80a41639538afb26dc",
    "a/a",
    "zzzzzzzz/zzzz",
    "app.bsky.feed.post/3jzfcijpj2z2a",
};

struct fz_section {
    size_t cid;   /* offset of the CID */
    size_t block; /* offset of the block */
    size_t len;   /* block length */
};

/* Harness-side uvarint (no minimality check: the parser does that). */
static int fz_uvarint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (*pos < n && shift < 63) {
        uint8_t b = p[*pos];
        (*pos)++;
        v |= (uint64_t)(b & 0x7fu) << shift;
        if ((b & 0x80u) == 0) {
            *out = v;
            return 1;
        }
        shift += 7;
    }
    return 0;
}

static void fz_replace(uint8_t *p, size_t end, const uint8_t *old, const uint8_t *new_cid)
{
    size_t i;
    if (end < FZ_CID_LEN) {
        return;
    }
    for (i = 0; i + FZ_CID_LEN <= end; i++) {
        if (p[i] == old[0] && memcmp(p + i, old, FZ_CID_LEN) == 0) {
            memcpy(p + i, new_cid, FZ_CID_LEN);
            i += FZ_CID_LEN - 1;
        }
    }
}

/* Re-hashes p in place (see the header comment). Stops at the first section
 * it cannot read; those bytes stay as they are for the parser to reject. */
static void fz_rehash(uint8_t *p, size_t n)
{
    struct fz_section sec[FZ_MAX_FIX_SECTIONS];
    size_t pos = 0, ns = 0, i;
    uint64_t len;

    if (!fz_uvarint(p, n, &pos, &len) || len > n - pos) {
        return;
    }
    pos += (size_t)len;
    while (pos < n && ns < FZ_MAX_FIX_SECTIONS) {
        if (!fz_uvarint(p, n, &pos, &len) || len > n - pos || len < FZ_CID_LEN) {
            break;
        }
        if (p[pos] == 0x01 && (p[pos + 1] == 0x71 || p[pos + 1] == 0x55) && p[pos + 2] == 0x12 &&
            p[pos + 3] == 0x20) {
            sec[ns].cid = pos;
            sec[ns].block = pos + FZ_CID_LEN;
            sec[ns].len = (size_t)len - FZ_CID_LEN;
            ns++;
        }
        pos += (size_t)len;
    }
    for (i = ns; i-- > 0;) {
        uint8_t digest[32], old[FZ_CID_LEN], fresh[FZ_CID_LEN];
        atv_sha256((struct atv_bytes){p + sec[i].block, sec[i].len}, digest);
        if (memcmp(p + sec[i].cid + 4, digest, 32) == 0) {
            continue;
        }
        memcpy(old, p + sec[i].cid, FZ_CID_LEN);
        memcpy(fresh, old, 4);
        memcpy(fresh + 4, digest, 32);
        fz_replace(p, sec[i].cid, old, fresh);
        memcpy(p + sec[i].cid, fresh, FZ_CID_LEN);
    }
}

/* What a proof does after the signature: commit, MST walk, record. */
static void fz_walk(const struct atv_car *car)
{
    const struct atv_cid *root = atv_atp_car_root(car);
    struct atv_bytes block, rec;
    struct atv_commit commit;
    struct atv_buf unsig;
    struct atv_err err;
    struct atv_cbor_doc *doc = NULL;
    size_t i;

    atv_buf_init(&unsig, ATV_MAX_BLOCK);
    atv_err_clear(&err);
    if (atv_atp_car_get(car, root, &block, &err) != ATV_OK) {
        FZ_CHECK(block.ptr == NULL && block.len == 0);
        goto out;
    }
    if (atv_atp_cbor_decode(block, &doc, &err) == ATV_OK) {
        atv_atp_cbor_free(doc);
        doc = NULL;
    }
    atv_err_clear(&err);
    if (atv_atp_commit_parse(block, &commit, &unsig, &err) != ATV_OK) {
        goto out;
    }
    /* the unsigned commit is the signed one minus one pair */
    FZ_CHECK(unsig.len > 0 && unsig.len < block.len);
    for (i = 0; i < sizeof fz_keys / sizeof fz_keys[0]; i++) {
        int found = -1;
        struct atv_cid value;
        atv_err_clear(&err);
        if (atv_atp_mst_lookup(car, &commit.data, atv_bytes_str(fz_keys[i]), &found, &value,
                               &err) != ATV_OK) {
            FZ_CHECK(err.code != ATV_OK);
            continue;
        }
        FZ_CHECK(found == 0 || found == 1);
        if (found && atv_atp_car_get(car, &value, &rec, NULL) == ATV_OK &&
            atv_atp_cbor_decode(rec, &doc, NULL) == ATV_OK) {
            atv_atp_cbor_free(doc);
            doc = NULL;
        }
    }
out:
    atv_buf_cleanup(&unsig);
}

static void fz_parse(const uint8_t *data, size_t size, int walk)
{
    struct atv_car *car = NULL;
    struct atv_err err;
    struct atv_bytes b;
    enum atv_status rc;

    atv_err_clear(&err);
    rc = atv_atp_car_parse((struct atv_bytes){data, size}, &car, &err);
    if (rc != ATV_OK) {
        FZ_CHECK(car == NULL && err.code == rc);
        return;
    }
    /* the root need not be in the CAR, but looking it up must be safe */
    if (atv_atp_car_get(car, atv_atp_car_root(car), &b, NULL) == ATV_OK) {
        FZ_CHECK(atv_atp_car_count(car) > 0);
    }
    if (walk) {
        fz_walk(car);
    }
    atv_atp_car_free(car);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fz_dup(data, size);

    fz_parse(copy, size, 0);
    fz_rehash(copy, size);
    fz_parse(copy, size, 1);
    free(copy);
    return 0;
}
