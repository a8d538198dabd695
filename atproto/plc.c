/* atproto/plc.c: did:plc audit-log verification, as go-didplc VerifyOpLog
 * (didplc/log.go, didplc/opstore.go) does it. No I/O.
 *
 * did:plc spec v0.3 ("did-plc.md" below) and reference/plc-audit-log.md:
 *   - every operation is DAG-CBOR encoded (maps with keys in length-then-
 *     bytewise order, `prev` a text string, not a link); its CID is CIDv1
 *     dag-cbor sha2-256 of the signed bytes, as the base32 "b..." string;
 *   - the signature covers the encoding without the `sig` key, is 64-byte
 *     r||s, low-S, written base64url without padding;
 *   - the DID is "did:plc:" + base32(sha256(signed genesis))[0:24];
 *   - an operation is signed by a rotation key its parent (`prev`) still
 *     allows; a fork from an earlier operation nullifies the later ones when
 *     made within 72 h by a key of higher priority than the one that signed
 *     the operation it replaces (opstore.go: allowedKeys = allowedKeys[:k]).
 * The served `nullified` flags and `cid` strings are only checked against
 * what the replay computes, never trusted. jansson objects stay in this file. */
#include "atproto/atproto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define NO_NODE ((size_t)-1)
/* 64 signature bytes as unpadded base64url: ceil(512 / 6). */
#define SIG_B64_LEN 86u

static const char reason_invalid[] = "plc_log_invalid";
static const char reason_malformed[] = "plc_log_malformed";

/* What the replay keeps per entry (opstore.go's OpEntry). */
struct plc_node {
    char cid[ATV_CID_STR_CAP];
    int64_t t;
    int nullified;
    size_t last_child;                            /* NO_NODE when none */
    size_t n_keys;                                /* allowed keys: keys[0..n_keys) */
    const char *keys[ATV_MAX_PLC_ROTATION_KEYS];  /* borrow from the JSON tree */
};

enum op_kind { OP_REGULAR = 1, OP_TOMBSTONE, OP_CREATE };

/* One schema-checked operation; the strings borrow from the JSON tree. */
struct plc_op {
    enum op_kind kind;
    json_t *obj;
    const char *prev;   /* NULL for genesis (JSON null) */
    const char *sig;
    size_t sig_len;
    size_t n_keys;
    const char *keys[ATV_MAX_PLC_ROTATION_KEYS];
};

/* ---- small checks ------------------------------------------------------------ */

/* did-plc.md "Identifier Syntax": did:plc: and 24 characters of base32 lower. */
static int plc_did_valid(const char *did)
{
    static const char prefix[] = "did:plc:";
    size_t n = strlen(did);

    if (n != sizeof prefix - 1 + 24 || strncmp(did, prefix, sizeof prefix - 1) != 0) {
        return 0;
    }
    for (size_t i = sizeof prefix - 1; i < n; i++) {
        char c = did[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) {
            return 0;
        }
    }
    return 1;
}

/* obj has exactly the n keys of want (duplicates were refused at load). */
static int has_exact_keys(json_t *obj, const char *const *want, size_t n)
{
    if (json_object_size(obj) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(obj, want[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2 ? 1 : 0);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (int64_t)m + (m > 2 ? -3 : 9);
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* createdAt as the directory writes it (JS toISOString, routes.ts):
 * exactly "YYYY-MM-DDTHH:MM:SS.sssZ". Returns 1 and *ms on success. */
static int parse_time(const char *s, int64_t *ms)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, fr;

    if (strlen(s) != ATV_PLC_TIME_CAP - 1 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
        return 0;
    }
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) ||
        !digits(s + 20, 3, &fr)) {
        return 0;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) {
        return 0;
    }
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 0;
    }
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)se * 1000 + fr;
    return 1;
}

/* ---- operation schema (did-method-plc packages/lib/src/types.ts, .strict()) --- */

static enum atv_status bad_op(struct atv_err *err, const char *what)
{
    return atv_err_setr(err, ATV_E_PARSE, reason_malformed, "operation: %s", what);
}

static int all_strings(json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            return 0;
        }
    }
    return 1;
}

static enum atv_status check_regular(json_t *o, struct plc_op *op, struct atv_err *err)
{
    static const char *const keys[] = {"sig",         "prev",         "type",
                                       "services",    "alsoKnownAs",  "rotationKeys",
                                       "verificationMethods"};
    static const char *const svc_keys[] = {"type", "endpoint"};
    json_t *rk = json_object_get(o, "rotationKeys");
    json_t *vm = json_object_get(o, "verificationMethods");
    json_t *aka = json_object_get(o, "alsoKnownAs");
    json_t *svcs = json_object_get(o, "services");
    const char *k;
    json_t *v;

    if (!has_exact_keys(o, keys, sizeof keys / sizeof keys[0])) {
        return bad_op(err, "plc_operation needs exactly sig, prev, type, services, "
                           "alsoKnownAs, rotationKeys, verificationMethods");
    }
    if (!json_is_array(rk) || !all_strings(rk)) {
        return bad_op(err, "rotationKeys is not an array of strings");
    }
    if (json_array_size(rk) > ATV_MAX_PLC_ROTATION_KEYS) {
        return atv_err_set(err, ATV_E_LIMIT, "operation: %zu rotation keys, cap %u",
                           json_array_size(rk), ATV_MAX_PLC_ROTATION_KEYS);
    }
    if (!json_is_array(aka) || !all_strings(aka)) {
        return bad_op(err, "alsoKnownAs is not an array of strings");
    }
    if (!json_is_object(vm)) {
        return bad_op(err, "verificationMethods is not an object");
    }
    json_object_foreach(vm, k, v)
    {
        if (!json_is_string(v)) {
            return bad_op(err, "a verificationMethods value is not a string");
        }
    }
    if (!json_is_object(svcs)) {
        return bad_op(err, "services is not an object");
    }
    json_object_foreach(svcs, k, v)
    {
        if (!json_is_object(v) || !has_exact_keys(v, svc_keys, 2) ||
            !json_is_string(json_object_get(v, "type")) ||
            !json_is_string(json_object_get(v, "endpoint"))) {
            return bad_op(err, "a service is not exactly {type, endpoint} strings");
        }
    }
    op->kind = OP_REGULAR;
    op->n_keys = json_array_size(rk);
    for (size_t i = 0; i < op->n_keys; i++) {
        op->keys[i] = json_string_value(json_array_get(rk, i));
    }
    return ATV_OK;
}

static enum atv_status check_create(json_t *o, struct plc_op *op, struct atv_err *err)
{
    static const char *const keys[] = {"sig",     "prev",       "type",       "handle",
                                       "service", "signingKey", "recoveryKey"};
    static const char *const strs[] = {"handle", "service", "signingKey", "recoveryKey"};

    if (!has_exact_keys(o, keys, sizeof keys / sizeof keys[0])) {
        return bad_op(err, "create needs exactly sig, prev, type, handle, service, signingKey, "
                           "recoveryKey");
    }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (!json_is_string(json_object_get(o, strs[i]))) {
            return bad_op(err, "a create field is not a string");
        }
    }
    if (!json_is_null(json_object_get(o, "prev"))) {
        return bad_op(err, "create with a non-null prev (create is genesis only)");
    }
    /* did-plc.md "Legacy Operations"; operations.ts normalizeOp: rotation keys
     * are [recoveryKey, signingKey], in that priority order. */
    op->kind = OP_CREATE;
    op->n_keys = 2;
    op->keys[0] = json_string_value(json_object_get(o, "recoveryKey"));
    op->keys[1] = json_string_value(json_object_get(o, "signingKey"));
    return ATV_OK;
}

/* Schema of one operation object, by type; fills *op (borrowing from o). */
static enum atv_status check_op(json_t *o, struct plc_op *op, struct atv_err *err)
{
    static const char *const tomb_keys[] = {"sig", "prev", "type"};
    const char *type;
    json_t *prev, *sig;
    enum atv_status rc;

    memset(op, 0, sizeof *op);
    if (!json_is_object(o)) {
        return bad_op(err, "not an object");
    }
    type = json_string_value(json_object_get(o, "type"));
    prev = json_object_get(o, "prev");
    sig = json_object_get(o, "sig");
    if (type == NULL) {
        return bad_op(err, "type is missing or not a string");
    }
    /* did-plc.md: `prev` is required, null for genesis, else a CID string */
    if (prev == NULL || !(json_is_null(prev) || json_is_string(prev))) {
        return bad_op(err, "prev is missing or neither null nor a string");
    }
    if (!json_is_string(sig)) {
        return bad_op(err, "sig is missing or not a string");
    }
    if (strcmp(type, "plc_operation") == 0) {
        rc = check_regular(o, op, err);
    } else if (strcmp(type, "create") == 0) {
        rc = check_create(o, op, err);
    } else if (strcmp(type, "plc_tombstone") == 0) {
        rc = has_exact_keys(o, tomb_keys, 3) ? ATV_OK
                                             : bad_op(err, "plc_tombstone needs exactly sig, "
                                                           "prev, type");
        if (rc == ATV_OK && !json_is_string(prev)) {
            rc = bad_op(err, "plc_tombstone with a null prev");
        }
        op->kind = OP_TOMBSTONE; /* allows no keys */
    } else {
        rc = bad_op(err, "type is not plc_operation, plc_tombstone or create");
    }
    if (rc != ATV_OK) {
        memset(op, 0, sizeof *op);
        return rc;
    }
    op->obj = o;
    op->prev = json_string_value(prev); /* NULL for JSON null */
    op->sig = json_string_value(sig);
    op->sig_len = json_string_length(sig);
    return ATV_OK;
}

/* ---- DAG-CBOR of a schema-checked operation ------------------------------------ */

static enum atv_status cbor_text(struct atv_buf *out, const char *s, size_t n,
                                 struct atv_err *err)
{
    enum atv_status rc = atv_atp_cbor_put_head(out, ATV_CBOR_TEXT, n, err);
    return rc != ATV_OK ? rc : atv_buf_append(out, s, n, err);
}

/* DAG-CBOR map key order: shorter first, then bytewise. */
static int key_order(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t xl = strlen(x), yl = strlen(y);
    if (xl != yl) {
        return xl < yl ? -1 : 1;
    }
    return memcmp(x, y, xl); /* equal lengths, both NUL-terminated */
}

/* Encodes a JSON value already limited by the schema to objects, arrays,
 * strings and null (depth <= 3: operation, services, service). */
static enum atv_status cbor_json(struct atv_buf *out, json_t *v, unsigned depth,
                                 struct atv_err *err)
{
    enum atv_status rc = ATV_OK;

    if (depth > 4) {
        return atv_err_set(err, ATV_E_INTERNAL, "operation: encoder nested too deep");
    }
    if (json_is_null(v)) {
        uint8_t nul = 0xf6;
        return atv_buf_append(out, &nul, 1, err);
    }
    if (json_is_string(v)) {
        return cbor_text(out, json_string_value(v), json_string_length(v), err);
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        rc = atv_atp_cbor_put_head(out, ATV_CBOR_ARRAY, json_array_size(v), err);
        json_array_foreach(v, i, item)
        {
            if (rc == ATV_OK) {
                rc = cbor_json(out, item, depth + 1, err);
            }
        }
        return rc;
    }
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = calloc(n > 0 ? n : 1, sizeof *keys);
        const char *k;
        json_t *item;
        if (keys == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "operation: out of memory");
        }
        json_object_foreach(v, k, item)
        {
            if (i < n) {
                keys[i++] = k;
            }
        }
        qsort(keys, i, sizeof *keys, key_order);
        rc = atv_atp_cbor_put_head(out, ATV_CBOR_MAP, i, err);
        for (size_t j = 0; j < i && rc == ATV_OK; j++) {
            rc = cbor_text(out, keys[j], strlen(keys[j]), err);
            if (rc == ATV_OK) {
                rc = cbor_json(out, json_object_get(v, keys[j]), depth + 1, err);
            }
        }
        free(keys);
        return rc;
    }
    return atv_err_set(err, ATV_E_INTERNAL, "operation: unexpected JSON type");
}

/* Signed and unsigned DAG-CBOR of op and its CID. The unsigned form comes
 * from cbor.c's strict decoder and canonical encoder: decoding our own output
 * also proves it canonical (key order, shortest heads, valid UTF-8). */
static enum atv_status encode_op(json_t *o, struct atv_buf *sgn, struct atv_buf *uns,
                                 struct atv_cid *cid, struct atv_err *err)
{
    struct atv_cbor_doc *doc = NULL;
    enum atv_status rc = cbor_json(sgn, o, 0, err);

    if (rc == ATV_E_LIMIT) {
        atv_err_prefix(err, "operation: DAG-CBOR over the cap of %u bytes", ATV_MAX_PLC_OP_CBOR);
    }
    if (rc == ATV_OK) {
        rc = atv_atp_cbor_decode(atv_buf_view(sgn), &doc, err);
    }
    if (rc == ATV_OK) {
        rc = atv_atp_cbor_encode(doc, atv_atp_cbor_root(doc), "sig", uns, err);
    }
    if (rc == ATV_OK) {
        atv_atp_cid_of(ATV_CODEC_DAG_CBOR, atv_buf_view(sgn), cid);
    }
    atv_atp_cbor_free(doc);
    return rc;
}

/* ---- signatures ----------------------------------------------------------------- */

static enum atv_status bad_sig(struct atv_err *err, size_t idx, const char *what)
{
    return atv_err_setr(err, ATV_E_VERIFY, reason_invalid, "plc log entry %zu: sig: %s", idx,
                        what);
}

/* did-plc.md "Operation Serialization, Signing, and Validation": base64url
 * (RFC 4648 section 5) without '=' and with zero pad bits, of exactly 64
 * bytes. go-didplc verifySigOp refuses CR/LF first, then RawURLEncoding.Strict(). */
static enum atv_status sig_decode(const struct plc_op *op, size_t idx, uint8_t out[64],
                                  struct atv_err *err)
{
    char std[SIG_B64_LEN];
    struct atv_buf raw;
    enum atv_status rc;

    for (size_t i = 0; i < op->sig_len; i++) {
        char c = op->sig[i];
        if (c == '\n' || c == '\r') {
            return bad_sig(err, idx, "contains a newline (CR or LF)");
        }
        if (c == '=') {
            return bad_sig(err, idx, "has '=' padding (base64url without padding required)");
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return bad_sig(err, idx, "a character outside the base64url alphabet");
        }
    }
    if (op->sig_len != SIG_B64_LEN) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                            "plc log entry %zu: sig: %zu base64url characters, want %u "
                            "(64-byte r||s; DER is not allowed)",
                            idx, op->sig_len, SIG_B64_LEN);
    }
    for (size_t i = 0; i < SIG_B64_LEN; i++) {
        char c = op->sig[i];
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    atv_buf_init(&raw, 66); /* the decoder reserves whole 3-byte groups */
    rc = atv_base64_decode(std, sizeof std, &raw, NULL);
    if (rc == ATV_OK && raw.len != 64) {
        rc = ATV_E_PARSE;
    }
    if (rc == ATV_OK) {
        memcpy(out, raw.ptr, 64); /* raw.len == 64 checked above */
    }
    atv_buf_cleanup(&raw);
    if (rc != ATV_OK) {
        return bad_sig(err, idx, "not canonical base64url (non-zero trailing bits)");
    }
    return ATV_OK;
}

/* Tries keys in priority order; *signer receives the index of the first that
 * verifies (did-plc.md; opstore.go VerifySignatureAny). A key that does not
 * parse when reached is fatal, as in go-didplc and the TS lib. */
static enum atv_status verify_sig(const char *const *keys, size_t n, struct atv_bytes msg,
                                  const uint8_t sig[64], size_t idx, size_t *signer,
                                  struct atv_err *err)
{
    struct atv_bytes sb = {sig, 64};

    if (n == 0) {
        return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                            "plc log entry %zu: no keys to verify against (prev is a tombstone, "
                            "has no rotation keys, or was already forked by them)",
                            idx);
    }
    for (size_t i = 0; i < n; i++) {
        struct atv_pubkey key;
        struct atv_err sub;
        enum atv_status rc;

        atv_err_clear(&sub);
        if (atv_atp_key_parse_didkey(keys[i], &key, &sub) != ATV_OK) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry %zu: rotation key %zu is not a K-256/P-256 "
                                "did:key (%s)",
                                idx, i, sub.msg);
        }
        rc = atv_atp_sig_verify(&key, msg, sb, &sub);
        if (rc == ATV_OK) {
            *signer = i;
            return ATV_OK;
        }
        if (rc != ATV_E_VERIFY) {
            return atv_err_set(err, rc, "plc log entry %zu: %s", idx, sub.msg);
        }
    }
    return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                        "plc log entry %zu: no allowed rotation key verifies the signature "
                        "(%zu tried; wrong key, high-S or not r||s)",
                        idx, n);
}

/* ---- the replay ------------------------------------------------------------------- */

struct plc_ctx {
    const char *did;
    struct plc_node *nodes;
    size_t n;    /* entries committed */
    size_t head; /* NO_NODE before genesis */
};

static enum atv_status bad_entry(struct atv_err *err, size_t idx, const char *what)
{
    return atv_err_setr(err, ATV_E_PARSE, reason_malformed, "plc log entry %zu: %s", idx, what);
}

/* Entry shape (OpenAPI LogEntry): exactly did, operation, cid, nullified, createdAt. */
static enum atv_status check_entry(json_t *e, size_t idx, int64_t *t, struct atv_err *err)
{
    static const char *const keys[] = {"did", "operation", "cid", "nullified", "createdAt"};
    const char *created;

    if (!json_is_object(e) || !has_exact_keys(e, keys, 5)) {
        return bad_entry(err, idx, "not exactly {did, operation, cid, nullified, createdAt}");
    }
    if (!json_is_string(json_object_get(e, "did")) ||
        !json_is_string(json_object_get(e, "cid")) ||
        !json_is_boolean(json_object_get(e, "nullified"))) {
        return bad_entry(err, idx, "did or cid not a string, or nullified not a boolean");
    }
    created = json_string_value(json_object_get(e, "createdAt"));
    if (created == NULL || !parse_time(created, t)) {
        return bad_entry(err, idx, "createdAt is not YYYY-MM-DDTHH:MM:SS.sssZ");
    }
    return ATV_OK;
}

static size_t find_node(const struct plc_ctx *cx, const char *cid)
{
    for (size_t i = 0; i < cx->n; i++) {
        if (strcmp(cx->nodes[i].cid, cid) == 0) {
            return i;
        }
    }
    return NO_NODE;
}

/* The genesis DID: "did:plc:" + base32(sha256(signed genesis))[0:24]
 * (did-plc.md "DID Creation"; operations.ts didForCreateOp). */
static enum atv_status check_genesis_did(const struct plc_ctx *cx, const struct atv_cid *cid,
                                         struct atv_err *err)
{
    struct atv_buf b32;
    struct atv_bytes dg = {cid->digest, sizeof cid->digest};
    char did[8 + 24 + 1] = "did:plc:";
    enum atv_status rc;

    atv_buf_init(&b32, 64);
    rc = atv_atp_base32_encode(dg, &b32, err);
    if (rc == ATV_OK && b32.len < 24) {
        rc = atv_err_set(err, ATV_E_INTERNAL, "plc: short base32 digest");
    }
    if (rc == ATV_OK) {
        memcpy(did + 8, b32.ptr, 24); /* b32.len >= 24, did holds 8 + 24 + NUL */
        did[32] = '\0';
        if (strcmp(did, cx->did) != 0) {
            rc = atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                              "plc log entry 0: genesis hashes to %s, not the DID asked for", did);
        }
    }
    atv_buf_cleanup(&b32);
    return rc;
}

/* Steps 8-12 of the reference algorithm for entry idx (opstore.go
 * VerifyOperation then CommitOperations). */
static enum atv_status replay_op(struct plc_ctx *cx, size_t idx, const struct plc_op *op,
                                 const struct atv_cid *cid, struct atv_bytes uns, int64_t t,
                                 struct atv_err *err)
{
    struct plc_node *me = &cx->nodes[idx];
    struct plc_node *p = NULL;
    const char *const *signers;
    size_t n_signers, k = 0, pi = NO_NODE;
    uint8_t sig[64];
    enum atv_status rc;

    if (op->prev == NULL) {
        if (idx != 0) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry %zu: a genesis operation (prev null) after the "
                                "first entry",
                                idx);
        }
        rc = check_genesis_did(cx, cid, err);
        if (rc != ATV_OK) {
            return rc;
        }
        signers = op->keys; /* genesis: its own rotation keys */
        n_signers = op->n_keys;
    } else {
        if (idx == 0) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry 0: not a genesis operation (prev is not null)");
        }
        /* go-didplc compares prev with stored CIDs as exact strings */
        pi = find_node(cx, op->prev);
        if (pi == NO_NODE) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry %zu: prev names no earlier operation", idx);
        }
        p = &cx->nodes[pi];
        if (p->nullified) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry %zu: prev is nullified (entry %zu)", idx, pi);
        }
        signers = p->keys;
        n_signers = p->n_keys;
    }
    rc = sig_decode(op, idx, sig, err);
    if (rc == ATV_OK) {
        rc = verify_sig(signers, n_signers, uns, sig, idx, &k, err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    if (p != NULL && p->last_child == NO_NODE) {
        /* a plain append to the head */
        if (t <= p->t) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry %zu: createdAt not after its prev's", idx);
        }
    } else if (p != NULL) {
        /* a fork: nullifies P's later descendants, each within 72 h */
        if (t <= cx->nodes[cx->head].t) {
            return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                "plc log entry %zu: createdAt not after the head's", idx);
        }
        for (size_t c = p->last_child; c != NO_NODE; c = cx->nodes[c].last_child) {
            if (t - cx->nodes[c].t > ATV_PLC_NULLIFY_WINDOW_MS) {
                return atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                                    "plc log entry %zu: cannot nullify entry %zu after 72 h",
                                    idx, c);
            }
            cx->nodes[c].nullified = 1;
        }
    }
    /* commit: only keys of strictly higher priority than the signer may fork
     * from P again */
    if (p != NULL) {
        p->n_keys = k;
        p->last_child = idx;
    }
    atv_atp_cid_to_str(cid, me->cid);
    me->t = t;
    me->nullified = 0;
    me->last_child = NO_NODE;
    me->n_keys = op->kind == OP_TOMBSTONE ? 0 : op->n_keys;
    for (size_t i = 0; i < me->n_keys; i++) {
        me->keys[i] = op->keys[i];
    }
    cx->head = idx;
    cx->n = idx + 1;
    return ATV_OK;
}

/* Steps 2-12 for one entry. */
static enum atv_status verify_entry(struct plc_ctx *cx, size_t idx, json_t *e,
                                    struct plc_op *op, struct atv_err *err)
{
    struct atv_buf sgn, uns;
    struct atv_cid cid;
    char cid_str[ATV_CID_STR_CAP];
    int64_t t = 0, prev_t;
    enum atv_status rc;

    atv_buf_init(&sgn, ATV_MAX_PLC_OP_CBOR);
    atv_buf_init(&uns, ATV_MAX_PLC_OP_CBOR);
    rc = check_entry(e, idx, &t, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (strcmp(json_string_value(json_object_get(e, "did")), cx->did) != 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                          "plc log entry %zu: did is not the DID asked for", idx);
        goto out;
    }
    rc = check_op(json_object_get(e, "operation"), op, err);
    if (rc == ATV_OK && op->kind == OP_CREATE && idx != 0) {
        rc = bad_op(err, "create after the first entry (create is genesis only)");
    }
    if (rc == ATV_OK && op->kind == OP_TOMBSTONE && idx == 0) {
        rc = bad_op(err, "plc_tombstone as the first entry");
    }
    if (rc == ATV_OK) {
        rc = encode_op(op->obj, &sgn, &uns, &cid, err);
    }
    if (rc != ATV_OK) {
        atv_err_prefix(err, "plc log entry %zu", idx);
        goto out;
    }
    atv_atp_cid_to_str(&cid, cid_str);
    if (strcmp(cid_str, json_string_value(json_object_get(e, "cid"))) != 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                          "plc log entry %zu: cid is not the operation's CID (%s)", idx, cid_str);
        goto out;
    }
    if (find_node(cx, cid_str) != NO_NODE) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                          "plc log entry %zu: duplicate operation (same CID as an earlier one)",
                          idx);
        goto out;
    }
    prev_t = idx > 0 ? cx->nodes[idx - 1].t : 0;
    rc = replay_op(cx, idx, op, &cid, atv_buf_view(&uns), t, err);
    /* createdAt strictly increases over the whole array (reference step 3).
     * replay_op's own time rules imply it; checked after them so that a
     * broken chain is reported as such (go-didplc's order). */
    if (rc == ATV_OK && idx > 0 && t <= prev_t) {
        rc = atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                          "plc log entry %zu: createdAt not after entry %zu's", idx, idx - 1);
    }
out:
    atv_buf_cleanup(&sgn);
    atv_buf_cleanup(&uns);
    return rc;
}

/* ---- the result ------------------------------------------------------------------- */

static enum atv_status copy_str(char *dst, size_t cap, const char *src, const char *what,
                                struct atv_err *err)
{
    size_t n = strlen(src);
    if (n >= cap) {
        return atv_err_set(err, ATV_E_LIMIT, "plc head: %s of %zu characters, cap %zu", what, n,
                           cap - 1);
    }
    memcpy(dst, src, n + 1); /* n < cap */
    return ATV_OK;
}

static void set_key(struct atv_plc_state *out, const char *didkey)
{
    /* verificationMethods may hold any did:key (did-plc.md v0.2); only a
     * K-256/P-256 one is an atproto signing key */
    if (didkey != NULL && atv_atp_key_parse_didkey(didkey, &out->key, NULL) == ATV_OK) {
        out->has_key = 1;
    } else {
        memset(&out->key, 0, sizeof out->key);
        out->has_key = 0;
    }
}

static int http_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* Legacy create, as operations.ts normalizeOp presents it: verificationMethods
 * {atproto: signingKey}, alsoKnownAs [ensureAtprotoPrefix(handle)], the PDS
 * ensureHttpPrefix(service). */
static enum atv_status fill_create(json_t *o, struct atv_plc_state *out, struct atv_err *err)
{
    const char *handle = json_string_value(json_object_get(o, "handle"));
    const char *svc = json_string_value(json_object_get(o, "service"));
    char tmp[ATV_MAX_PLC_AKA_LEN + 1];
    int n;

    set_key(out, json_string_value(json_object_get(o, "signingKey")));
    if (strncmp(handle, "at://", 5) == 0) {
        n = snprintf(tmp, sizeof tmp, "%s", handle);
    } else {
        const char *h = strncmp(handle, "https://", 8) == 0  ? handle + 8
                        : strncmp(handle, "http://", 7) == 0 ? handle + 7
                                                             : handle;
        n = snprintf(tmp, sizeof tmp, "at://%s", h);
    }
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return atv_err_set(err, ATV_E_LIMIT, "plc head: handle over %u characters",
                           ATV_MAX_PLC_AKA_LEN);
    }
    memcpy(out->aka[0], tmp, (size_t)n + 1); /* n < sizeof tmp == sizeof out->aka[0] */
    out->n_aka = 1;
    n = snprintf(out->pds, sizeof out->pds, "%s%s", http_url(svc) ? "" : "https://", svc);
    if (n < 0 || (size_t)n >= sizeof out->pds) {
        out->pds[0] = '\0';
        return atv_err_set(err, ATV_E_LIMIT, "plc head: service over %u characters",
                           ATV_MAX_URL);
    }
    return ATV_OK;
}

static enum atv_status fill_regular(json_t *o, struct atv_plc_state *out, struct atv_err *err)
{
    json_t *aka = json_object_get(o, "alsoKnownAs");
    json_t *pds = json_object_get(json_object_get(o, "services"), "atproto_pds");
    const char *type = json_string_value(json_object_get(pds, "type"));
    const char *ep = json_string_value(json_object_get(pds, "endpoint"));
    enum atv_status rc = ATV_OK;

    set_key(out, json_string_value(json_object_get(json_object_get(o, "verificationMethods"),
                                                   "atproto")));
    if (json_array_size(aka) > ATV_MAX_PLC_AKA) {
        return atv_err_set(err, ATV_E_LIMIT, "plc head: %zu alsoKnownAs entries, cap %u",
                           json_array_size(aka), ATV_MAX_PLC_AKA);
    }
    for (size_t i = 0; i < json_array_size(aka) && rc == ATV_OK; i++) {
        rc = copy_str(out->aka[i], sizeof out->aka[i], json_string_value(json_array_get(aka, i)),
                      "alsoKnownAs entry", err);
        out->n_aka = i + 1;
    }
    if (rc == ATV_OK && type != NULL && ep != NULL &&
        strcmp(type, "AtprotoPersonalDataServer") == 0 && http_url(ep)) {
        rc = copy_str(out->pds, sizeof out->pds, ep, "PDS endpoint", err);
    }
    return rc;
}

static enum atv_status fill_state(const struct plc_ctx *cx, json_t *last,
                                  const struct plc_op *op, struct atv_plc_state *out,
                                  struct atv_err *err)
{
    const struct plc_node *h = &cx->nodes[cx->head];
    enum atv_status rc;

    rc = copy_str(out->did, sizeof out->did, cx->did, "did", err);
    if (rc == ATV_OK) {
        rc = copy_str(out->head_created_at, sizeof out->head_created_at,
                      json_string_value(json_object_get(last, "createdAt")), "createdAt", err);
    }
    if (rc != ATV_OK) {
        return rc;
    }
    out->n_ops = cx->n;
    memcpy(out->head_cid, h->cid, sizeof out->head_cid); /* same array size */
    out->head_time_ms = h->t;
    switch (op->kind) {
    case OP_TOMBSTONE:
        out->tombstoned = 1; /* did-plc.md: a tombstone deactivates the DID */
        return ATV_OK;
    case OP_CREATE:
        return fill_create(op->obj, out, err);
    case OP_REGULAR:
        return fill_regular(op->obj, out, err);
    default:
        return atv_err_set(err, ATV_E_INTERNAL, "plc: unknown operation kind");
    }
}

/* ---- public ------------------------------------------------------------------------ */

/* Parses JSON, refusing duplicate keys at every level (reference step 2).
 * Out: *root (new: json_decref), NULL on failure. */
static enum atv_status load(struct atv_bytes json, json_t **root, struct atv_err *err)
{
    json_error_t jerr;

    *root = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        return atv_err_setr(err, ATV_E_PARSE, reason_malformed,
                            "plc log: not JSON (line %d column %d)", jerr.line, jerr.column);
    }
    return ATV_OK;
}

enum atv_status atv_atp_plc_log_verify(struct atv_bytes json, const char *did,
                                       struct atv_plc_state *out, struct atv_err *err)
{
    struct plc_ctx cx = {did, NULL, 0, NO_NODE};
    struct plc_op op;
    json_t *root = NULL;
    size_t n = 0;
    enum atv_status rc = ATV_OK;

    if (out == NULL || did == NULL || (json.ptr == NULL && json.len != 0)) {
        return atv_err_set(err, ATV_E_USAGE, "plc log: NULL argument");
    }
    memset(out, 0, sizeof *out);
    memset(&op, 0, sizeof op);
    if (!plc_did_valid(did)) {
        rc = atv_err_setr(err, ATV_E_PARSE, reason_malformed,
                          "plc log: the DID asked for is not did:plc: + 24 base32 characters");
        goto out;
    }
    if (json.len > ATV_MAX_PLC_LOG_JSON) {
        rc = atv_err_set(err, ATV_E_LIMIT, "plc log: %zu bytes, cap %u", json.len,
                         ATV_MAX_PLC_LOG_JSON);
        goto out;
    }
    rc = load(json, &root, err);
    if (rc != ATV_OK) {
        goto out;
    }
    if (!json_is_array(root) || json_array_size(root) == 0) {
        rc = atv_err_setr(err, ATV_E_PARSE, reason_malformed, "plc log: not a non-empty array");
        goto out;
    }
    n = json_array_size(root);
    if (n > ATV_MAX_PLC_LOG_ENTRIES) {
        rc = atv_err_set(err, ATV_E_LIMIT, "plc log: %zu entries, cap %u", n,
                         ATV_MAX_PLC_LOG_ENTRIES);
        goto out;
    }
    cx.nodes = calloc(n, sizeof *cx.nodes);
    if (cx.nodes == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "plc log: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == ATV_OK; i++) {
        rc = verify_entry(&cx, i, json_array_get(root, i), &op, err);
    }
    /* log.go VerifyOpLog: every served flag equals the replay's (so the
     * genesis is never nullified) */
    for (size_t i = 0; i < n && rc == ATV_OK; i++) {
        int served = json_is_true(json_object_get(json_array_get(root, i), "nullified"));
        if (served != cx.nodes[i].nullified) {
            rc = atv_err_setr(err, ATV_E_VERIFY, reason_invalid,
                              "plc log entry %zu: nullified is %s, the replay says %s", i,
                              served ? "true" : "false", cx.nodes[i].nullified ? "true" : "false");
        }
    }
    /* the last entry is the head (op still describes it) */
    if (rc == ATV_OK) {
        rc = fill_state(&cx, json_array_get(root, n - 1), &op, out, err);
    }
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    free(cx.nodes);
    json_decref(root);
    return rc;
}

int atv_atp_plc_log_contains(struct atv_bytes json, const char *cid, int *nullified)
{
    json_t *root = NULL;
    size_t i;
    json_t *e;
    int found = 0;

    if (nullified != NULL) {
        *nullified = 0;
    }
    if (cid == NULL || json.ptr == NULL || json.len > ATV_MAX_PLC_LOG_JSON) {
        return 0;
    }
    if (load(json, &root, NULL) != ATV_OK) {
        return 0;
    }
    json_array_foreach(root, i, e)
    {
        const char *c = json_string_value(json_object_get(e, "cid"));
        if (c != NULL && strcmp(c, cid) == 0) {
            found = 1;
            if (nullified != NULL) {
                *nullified = json_is_true(json_object_get(e, "nullified"));
            }
            break;
        }
    }
    json_decref(root);
    return found;
}

enum atv_status atv_atp_plc_op_cid(struct atv_bytes op_json, char cid[ATV_CID_STR_CAP],
                                   struct atv_buf *signed_cbor, struct atv_buf *unsigned_cbor,
                                   struct atv_err *err)
{
    struct atv_buf sgn, uns;
    struct atv_cid c;
    struct plc_op op;
    json_t *root = NULL;
    enum atv_status rc = ATV_OK;

    if (cid == NULL || (op_json.ptr == NULL && op_json.len != 0)) {
        return atv_err_set(err, ATV_E_USAGE, "plc operation: NULL argument");
    }
    cid[0] = '\0';
    atv_buf_init(&sgn, ATV_MAX_PLC_OP_CBOR);
    atv_buf_init(&uns, ATV_MAX_PLC_OP_CBOR);
    if (op_json.len > ATV_MAX_PLC_LOG_JSON) {
        rc = atv_err_set(err, ATV_E_LIMIT, "plc operation: %zu bytes, cap %u", op_json.len,
                         ATV_MAX_PLC_LOG_JSON);
        goto out;
    }
    rc = load(op_json, &root, err);
    if (rc == ATV_OK) {
        rc = check_op(root, &op, err);
    }
    if (rc == ATV_OK) {
        rc = encode_op(root, &sgn, &uns, &c, err);
    }
    if (rc == ATV_OK && signed_cbor != NULL) {
        rc = atv_buf_append(signed_cbor, sgn.ptr, sgn.len, err);
    }
    if (rc == ATV_OK && unsigned_cbor != NULL) {
        rc = atv_buf_append(unsigned_cbor, uns.ptr, uns.len, err);
    }
    if (rc == ATV_OK) {
        atv_atp_cid_to_str(&c, cid);
    }
out:
    atv_buf_cleanup(&sgn);
    atv_buf_cleanup(&uns);
    json_decref(root);
    return rc;
}
