/* Unit tests for atproto/plc.c: did:plc audit-log verification.
 *
 * Vectors: $ATV_SHARED/vectors/plc-audit/{valid,invalid}/ (default
 * ../shared), the go-didplc interop logs (SOURCE there), which must be
 * present: a missing file is a failure, not a skip. Every file of each
 * directory is run; the tables below say what each one must give, and a file
 * the table does not know is a failure too. Then mutations of valid logs,
 * each of which must be refused. Test code may use OpenSSL (BN for n - s). */
#include "atproto/atproto.h"
#include "common/test.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/bn.h>

#include "atproto/tests/plc_mut.h"

#define VEC "vectors/plc-audit/"

/* What each valid vector gives: the head's atproto key (NULL: none) and
 * whether the head is a tombstone (the vectors' own contents; go-didplc
 * didplc/operation_test.go lists them all as valid). */
static const struct {
    const char *file;
    int tombstoned;
    const char *key;
} valid_want[] = {
    {"log_bnewbold_robocracy.json", 0, "did:key:zQ3shazA2airLo8gNJvxGMFZWPJDRkLGNR6mn9Txsc8YYndwy"},
    {"log_bskyapp.json", 0, "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"},
    {"log_duplicate_rotation_keys.json", 0, NULL},
    {"log_empty_rotation_keys.json", 0, NULL},
    {"log_legacy_dholms.json", 0, "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"},
    {"log_nullification.json", 0, NULL},
    {"log_nullification_at_exactly_72h.json", 0, NULL},
    {"log_nullification_nontrivial.json", 0, NULL},
    /* the tombstone is nullified; the head is a plc_operation whose
     * verificationMethods is {} in this vector, so no key */
    {"log_nullified_tombstone.json", 0, NULL},
    {"log_tombstone.json", 1, NULL},
};

/* Why each invalid vector fails (go-didplc TestAuditLogInvalid*: "illegal
 * base64", "CRLF", "cryptographic signature invalid", "cannot nullify op
 * after 72h", "prev CID is nullified", "no keys to verify against"). */
static const struct {
    const char *file;
    const char *why;
} invalid_want[] = {
    {"log_invalid_nullification_reused_key.json", "verifies the signature"},
    {"log_invalid_nullification_too_slow.json", "after 72 h"},
    {"log_invalid_sig_b64_newline.json", "newline"},
    {"log_invalid_sig_b64_padding_bits.json", "trailing bits"},
    {"log_invalid_sig_b64_padding_chars.json", "padding"},
    {"log_invalid_sig_der.json", "verifies the signature"},
    {"log_invalid_sig_k256_high_s.json", "verifies the signature"},
    {"log_invalid_sig_p256_high_s.json", "verifies the signature"},
    {"log_invalid_update_nullified.json", "prev is nullified"},
    {"log_invalid_update_tombstoned.json", "no keys to verify against"},
};

/* K-256 group order (SEC 2 section 2.4.1), big-endian hex. */
static const char k256_n_hex[] =
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

/* ---- helpers ---------------------------------------------------------------- */

static json_t *load_json(const char *rel)
{
    json_error_t jerr;
    json_t *j = json_load_file(atv_test_shared(rel), JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        DIAG("cannot load %s: %s", rel, jerr.text);
    }
    return j;
}

static const char *did_of(json_t *log)
{
    return json_string_value(json_object_get(json_array_get(log, 0), "did"));
}

static json_t *op_of(json_t *log, size_t i)
{
    return json_object_get(json_array_get(log, i), "operation");
}

/* Replaces character pos of string field key of obj by a different one of
 * the same class, keeping base32/base58/base64url/digit syntax. */
static void flip_char(json_t *obj, const char *key, size_t pos)
{
    char buf[4096];
    const char *s = json_string_value(json_object_get(obj, key));
    size_t n = s != NULL ? strlen(s) : 0;
    if (s == NULL || pos >= n || n >= sizeof buf) {
        DIAG("flip_char: no %s[%zu]", key, pos);
        return;
    }
    memcpy(buf, s, n + 1);
    char c = buf[pos];
    buf[pos] = (char)(c >= '0' && c <= '8' ? c + 1 : c == '9' ? '0' : c == 'z' ? 'y' : c + 1);
    if (buf[pos] == '8' && c == '7') {
        buf[pos] = '6'; /* stay inside base32's 2-7 */
    }
    json_object_set_new(obj, key, json_string(buf));
}

/* base64url without padding of n bytes, or NULL. (new: free) */
/* s' = n - s (K-256), with OpenSSL BN. */
static int high_s(uint8_t sig[64])
{
    BIGNUM *n = NULL, *s = BN_bin2bn(sig + 32, 32, NULL);
    int ok = s != NULL && BN_hex2bn(&n, k256_n_hex) != 0 && BN_sub(s, n, s) == 1 &&
             BN_bn2binpad(s, sig + 32, 32) == 32;
    BN_free(n);
    BN_free(s);
    return ok;
}

/* DER (X.690) SEQUENCE of INTEGER r, INTEGER s from r||s; returns its length. */
static size_t der_of(const uint8_t rs[64], uint8_t out[80])
{
    size_t len = 2;
    for (size_t h = 0; h < 2; h++) {
        const uint8_t *v = rs + 32 * h;
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0 && (v[skip + 1] & 0x80) == 0) {
            skip++;
        }
        int pad = (v[skip] & 0x80) != 0;
        out[len++] = 0x02;
        out[len++] = (uint8_t)(32 - skip + (size_t)pad);
        if (pad) {
            out[len++] = 0x00;
        }
        memcpy(out + len, v + skip, 32 - skip);
        len += 32 - skip;
    }
    out[0] = 0x30;
    out[1] = (uint8_t)(len - 2);
    return len;
}

/* Expects log (for did) refused with want, the message containing why (or NULL). */
static void refused(json_t *log, const char *did, enum atv_status want, const char *why,
                    const char *what)
{
    struct atv_plc_state *st = malloc(sizeof *st);
    struct atv_err err;
    enum atv_status rc = verify_tree(log, did, st, &err);
    CHECK_MSG(rc == want && (why == NULL || strstr(err.msg, why) != NULL),
              "%s: refused as %s mentioning \"%s\" (got %s: %s)", what, atv_status_name(want),
              why != NULL ? why : "", atv_status_name(rc), err.msg);
    CHECK_MSG(st->did[0] == '\0' && st->n_ops == 0 && st->has_key == 0, "%s: state zeroed",
              what);
    free(st);
}

/* ---- the vectors ------------------------------------------------------------ */

static void check_valid(const char *file)
{
    char rel[256];
    size_t w = sizeof valid_want / sizeof valid_want[0], i;
    struct atv_buf buf;
    struct atv_err err;
    struct atv_plc_state *st = malloc(sizeof *st);
    json_t *log;

    for (i = 0; i < w && strcmp(valid_want[i].file, file) != 0; i++) {
    }
    CHECK_MSG(i < w, "valid/%s is in the table", file);
    (void)snprintf(rel, sizeof rel, VEC "valid/%s", file);
    log = load_json(rel);
    atv_buf_init(&buf, ATV_MAX_PLC_LOG_JSON);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_read_file(&buf, atv_test_shared(rel), &err), ATV_OK, &err);
    if (i >= w || log == NULL || st == NULL) {
        goto out;
    }
    const char *did = did_of(log);
    json_t *last = json_array_get(log, json_array_size(log) - 1);
    CHECK_STATUS(atv_atp_plc_log_verify(atv_buf_view(&buf), did, st, &err), ATV_OK, &err);
    CHECK_MSG(strcmp(st->did, did) == 0, "%s: did %s", file, st->did);
    CHECK_MSG(st->n_ops == json_array_size(log), "%s: %zu ops", file, st->n_ops);
    CHECK_MSG(strcmp(st->head_cid, json_string_value(json_object_get(last, "cid"))) == 0,
              "%s: head cid %s", file, st->head_cid);
    CHECK_MSG(strcmp(st->head_created_at,
                     json_string_value(json_object_get(last, "createdAt"))) == 0,
              "%s: head createdAt %s", file, st->head_created_at);
    CHECK_MSG(st->tombstoned == valid_want[i].tombstoned, "%s: tombstoned %d", file,
              st->tombstoned);
    if (valid_want[i].key != NULL) {
        char dk[ATV_MAX_MULTIBASE + 16] = "";
        CHECK_MSG(st->has_key && atv_atp_key_to_didkey(&st->key, dk, sizeof dk, NULL) == ATV_OK &&
                      strcmp(dk, valid_want[i].key) == 0,
                  "%s: key %s", file, dk);
    } else {
        CHECK_MSG(st->has_key == 0, "%s: no atproto key", file);
    }
    /* every entry's CID is in the log, and its flag is reported */
    size_t j;
    json_t *e;
    int all = 1;
    json_array_foreach(log, j, e)
    {
        int nul = -1;
        if (!atv_atp_plc_log_contains(atv_buf_view(&buf),
                                      json_string_value(json_object_get(e, "cid")), &nul) ||
            nul != json_is_true(json_object_get(e, "nullified"))) {
            all = 0;
        }
    }
    CHECK_MSG(all, "%s: contains() finds every entry with its flag", file);
    /* another DID is refused */
    refused(log, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", ATV_E_VERIFY, "did", file);
out:
    atv_buf_cleanup(&buf);
    json_decref(log);
    free(st);
}

static void check_invalid(const char *file)
{
    char rel[256];
    size_t w = sizeof invalid_want / sizeof invalid_want[0], i;
    json_t *log;

    for (i = 0; i < w && strcmp(invalid_want[i].file, file) != 0; i++) {
    }
    CHECK_MSG(i < w, "invalid/%s is in the table", file);
    (void)snprintf(rel, sizeof rel, VEC "invalid/%s", file);
    log = load_json(rel);
    CHECK_MSG(log != NULL, "%s loads", file);
    if (i < w && log != NULL) {
        refused(log, did_of(log), ATV_E_VERIFY, invalid_want[i].why, file);
    }
    json_decref(log);
}

static void test_vectors(const char *sub, void (*fn)(const char *), size_t want)
{
    char rel[64];
    struct dirent **names = NULL;
    size_t seen = 0;
    (void)snprintf(rel, sizeof rel, VEC "%s", sub);
    int n = scandir(atv_test_shared(rel), &names, NULL, alphasort);
    CHECK_MSG(n > 0, "%s: vectors present", rel);
    for (int i = 0; i < n; i++) {
        const char *f = names[i]->d_name;
        size_t l = strlen(f);
        if (l > 5 && strcmp(f + l - 5, ".json") == 0) {
            fn(f);
            seen++;
        }
        free(names[i]);
    }
    free(names);
    CHECK_MSG(seen == want, "%s: %zu files, want %zu", rel, seen, want);
}

/* ---- known answers (reference section 3) ------------------------------------ */

static void test_known_answers(void)
{
    json_t *bsky = load_json(VEC "valid/log_bskyapp.json");
    json_t *dholms = load_json(VEC "valid/log_legacy_dholms.json");
    struct atv_buf sgn, uns;
    struct atv_err err;
    char cid[ATV_CID_STR_CAP];
    char *op;

    CHECK(bsky != NULL && dholms != NULL);
    if (bsky == NULL || dholms == NULL) {
        goto out;
    }
    atv_buf_init(&sgn, 1u << 16);
    atv_buf_init(&uns, 1u << 16);
    atv_err_clear(&err);
    op = json_dumps(op_of(bsky, 0), 0);
    CHECK_STATUS(atv_atp_plc_op_cid(sv(op), cid, &sgn, &uns, &err), ATV_OK, &err);
    free(op);
    CHECK_STR(cid, "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6zm");
    CHECK_MSG(sgn.len == 466 && uns.len == 374, "bskyapp genesis: %zu signed, %zu unsigned",
              sgn.len, uns.len);
    CHECK(uns.len > 4 && memcmp(uns.ptr, "\xa6\x64prev\xf6", 7) == 0);
    CHECK(sgn.len > 4 && memcmp(sgn.ptr, "\xa7\x63sig\x78\x56", 6) == 0);

    sgn.len = 0;
    op = json_dumps(op_of(dholms, 0), 0);
    CHECK_STATUS(atv_atp_plc_op_cid(sv(op), cid, &sgn, NULL, &err), ATV_OK, &err);
    free(op);
    CHECK_STR(cid, "bafyreigcxay6ucqlwowfpu35alyxqtv3c4vsj7gmdtmnidsnqs6nblyarq");
    CHECK_MSG(sgn.len == 303, "dholms genesis: %zu signed bytes", sgn.len);

    /* a prefix of a log verifies and gives the older state (reference 10.1):
     * the legacy create, normalised */
    struct atv_plc_state *st = malloc(sizeof *st);
    while (json_array_size(dholms) > 1) {
        json_array_remove(dholms, json_array_size(dholms) - 1);
    }
    CHECK_STATUS(verify_tree(dholms, "did:plc:yk4dd2qkboz2yv6tpubpc6co", st, &err), ATV_OK, &err);
    char dk[ATV_MAX_MULTIBASE + 16] = "";
    CHECK(st->has_key && atv_atp_key_to_didkey(&st->key, dk, sizeof dk, NULL) == ATV_OK);
    CHECK_STR(dk, "did:key:zQ3shP5TBe1sQfSttXty15FAEHV1DZgcxRZNxvEWnPfLFwLxJ");
    CHECK(st->n_aka == 1);
    CHECK_STR(st->aka[0], "at://dan.bsky.social");
    CHECK_STR(st->pds, "https://bsky.social");
    CHECK_STR(st->head_cid, "bafyreigcxay6ucqlwowfpu35alyxqtv3c4vsj7gmdtmnidsnqs6nblyarq");
    CHECK(st->head_time_ms == 1668647233996LL); /* 2022-11-17T01:07:13.996Z */

    /* the full bskyapp log: PDS and handle from a plc_operation */
    CHECK_STATUS(verify_tree(bsky, did_of(bsky), st, &err), ATV_OK, &err);
    CHECK_STR(st->pds, "https://bsky.social");
    CHECK(st->n_aka == 1 && strcmp(st->aka[0], "at://bsky.app") == 0);
    free(st);

    /* a non-op is refused by op_cid */
    CHECK_STATUS(atv_atp_plc_op_cid(sv("{\"type\":\"x\",\"prev\":null,\"sig\":\"\"}"), cid, NULL,
                                    NULL, &err),
                 ATV_E_PARSE, &err);
    CHECK(cid[0] == '\0');
    atv_buf_cleanup(&sgn);
    atv_buf_cleanup(&uns);
out:
    json_decref(bsky);
    json_decref(dholms);
}

/* ---- mutations of a valid log ---------------------------------------------------- */

static json_t *bsky(void)
{
    return load_json(VEC "valid/log_bskyapp.json");
}

static void test_mutations(void)
{
    json_t *base = bsky(), *m;
    const char *did;
    uint8_t sig[64];

    CHECK(base != NULL);
    if (base == NULL) {
        return;
    }
    did = "did:plc:z72i7hdynmk6r22z27h6tvur";

    /* sig: a flipped character; with the cid left, and with the cid fixed */
    m = json_deep_copy(base);
    flip_char(op_of(m, 1), "sig", 40);
    refused(m, did, ATV_E_VERIFY, "cid is not", "flipped sig");
    fix_cid(m, 1);
    refused(m, did, ATV_E_VERIFY, "verifies the signature", "flipped sig, cid fixed");
    json_decref(m);

    /* prev: a flipped character */
    m = json_deep_copy(base);
    flip_char(op_of(m, 1), "prev", 30);
    fix_cid(m, 1);
    refused(m, did, ATV_E_VERIFY, "prev names no earlier", "flipped prev");
    json_decref(m);

    /* a rotation key: in the genesis (changes the DID), in the update (signature) */
    m = json_deep_copy(base);
    {
        json_t *rk = json_object_get(op_of(m, 0), "rotationKeys");
        char k[128];
        (void)snprintf(k, sizeof k, "%s", json_string_value(json_array_get(rk, 1)));
        k[20] = k[20] == 'a' ? 'b' : 'a';
        json_array_set_new(rk, 1, json_string(k));
    }
    fix_cid(m, 0);
    refused(m, did, ATV_E_VERIFY, "genesis hashes to", "flipped genesis rotation key");
    json_decref(m);
    m = json_deep_copy(base);
    {
        json_t *rk = json_object_get(op_of(m, 1), "rotationKeys");
        char k[128];
        (void)snprintf(k, sizeof k, "%s", json_string_value(json_array_get(rk, 0)));
        k[20] = k[20] == 'a' ? 'b' : 'a';
        json_array_set_new(rk, 0, json_string(k));
    }
    fix_cid(m, 1);
    refused(m, did, ATV_E_VERIFY, "verifies the signature", "flipped update rotation key");
    json_decref(m);

    /* createdAt: a flipped digit (the genesis in 2033: after the update) and
     * a malformed one */
    m = json_deep_copy(base);
    flip_char(json_array_get(m, 0), "createdAt", 2);
    refused(m, did, ATV_E_VERIFY, "createdAt", "flipped createdAt");
    json_decref(m);
    m = json_deep_copy(base);
    json_object_set_new(json_array_get(m, 1), "createdAt", json_string("2023-04-12 04:53:57Z"));
    refused(m, did, ATV_E_PARSE, "createdAt", "malformed createdAt");
    json_decref(m);

    /* an extra key: in an operation, in a service, in an entry */
    m = json_deep_copy(base);
    json_object_set_new(op_of(m, 1), "extra", json_string("x"));
    refused(m, did, ATV_E_PARSE, "needs exactly", "extra key in an operation");
    json_decref(m);
    m = json_deep_copy(base);
    json_object_set_new(json_object_get(json_object_get(op_of(m, 1), "services"), "atproto_pds"),
                        "extra", json_string("x"));
    refused(m, did, ATV_E_PARSE, "service", "extra key in a service");
    json_decref(m);
    m = json_deep_copy(base);
    json_object_set_new(json_array_get(m, 1), "extra", json_true());
    refused(m, did, ATV_E_PARSE, "not exactly", "extra key in an entry");
    json_decref(m);
    m = json_deep_copy(base);
    json_object_set_new(op_of(m, 1), "prev", json_integer(1));
    refused(m, did, ATV_E_PARSE, "prev", "prev a number");
    json_decref(m);

    /* sig encodings: '=' appended, a newline, a DER signature, high-S */
    const char *sig1 = json_string_value(json_object_get(op_of(base, 1), "sig"));
    char tmp[256];
    m = json_deep_copy(base);
    (void)snprintf(tmp, sizeof tmp, "%s=", sig1);
    json_object_set_new(op_of(m, 1), "sig", json_string(tmp));
    fix_cid(m, 1);
    refused(m, did, ATV_E_VERIFY, "padding", "'=' appended to sig");
    json_decref(m);
    m = json_deep_copy(base);
    (void)snprintf(tmp, sizeof tmp, "%s\n", sig1);
    json_object_set_new(op_of(m, 1), "sig", json_string(tmp));
    fix_cid(m, 1);
    refused(m, did, ATV_E_VERIFY, "newline", "newline in sig");
    json_decref(m);
    m = json_deep_copy(base);
    (void)snprintf(tmp, sizeof tmp, "%.40s\r\n%s", sig1, sig1 + 40);
    json_object_set_new(op_of(m, 1), "sig", json_string(tmp));
    fix_cid(m, 1);
    refused(m, did, ATV_E_VERIFY, "newline", "CRLF inside sig");
    json_decref(m);

    CHECK(sig_bytes(op_of(base, 1), sig));
    {
        uint8_t der[80];
        size_t dl = der_of(sig, der);
        m = json_deep_copy(base);
        set_sig(op_of(m, 1), der, dl);
        fix_cid(m, 1);
        refused(m, did, ATV_E_VERIFY, "DER is not allowed", "DER signature");
        json_decref(m);
    }
    {
        uint8_t hs[64];
        memcpy(hs, sig, 64);
        CHECK(high_s(hs));
        m = json_deep_copy(base);
        set_sig(op_of(m, 1), hs, 64);
        fix_cid(m, 1);
        refused(m, did, ATV_E_VERIFY, "verifies the signature", "high-S signature");
        json_decref(m);
        /* control: the unmodified sig re-encoded and re-CID'd still verifies */
        m = json_deep_copy(base);
        set_sig(op_of(m, 1), sig, 64);
        fix_cid(m, 1);
        struct atv_plc_state *st = malloc(sizeof *st);
        struct atv_err err;
        CHECK_STATUS(verify_tree(m, did, st, &err), ATV_OK, &err);
        free(st);
        json_decref(m);
    }

    /* entries reordered; genesis dropped; an entry repeated */
    m = json_deep_copy(base);
    {
        json_t *e0 = json_incref(json_array_get(m, 0));
        json_array_remove(m, 0);
        json_array_append_new(m, e0);
    }
    refused(m, did, ATV_E_VERIFY, NULL, "entries reordered");
    json_decref(m);
    m = json_deep_copy(base);
    json_array_remove(m, 0);
    refused(m, did, ATV_E_VERIFY, "not a genesis", "genesis dropped");
    json_decref(m);
    m = json_deep_copy(base);
    json_array_append_new(m, json_deep_copy(json_array_get(m, 1)));
    json_object_set_new(json_array_get(m, 2), "createdAt",
                        json_string("2030-01-01T00:00:00.000Z"));
    refused(m, did, ATV_E_VERIFY, "duplicate", "an entry repeated");
    json_decref(m);

    /* wrong nullified flag; wrong entry cid; entry did of another DID */
    m = json_deep_copy(base);
    json_object_set_new(json_array_get(m, 1), "nullified", json_true());
    refused(m, did, ATV_E_VERIFY, "nullified is true", "wrong nullified flag");
    json_decref(m);
    m = json_deep_copy(base);
    json_object_set_new(json_array_get(m, 1), "nullified", json_string("false"));
    refused(m, did, ATV_E_PARSE, "boolean", "nullified a string");
    json_decref(m);
    m = json_deep_copy(base);
    flip_char(json_array_get(m, 1), "cid", 30);
    refused(m, did, ATV_E_VERIFY, "cid is not", "wrong entry cid");
    json_decref(m);
    m = json_deep_copy(base);
    json_object_set_new(json_array_get(m, 1), "did",
                        json_string("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"));
    refused(m, did, ATV_E_VERIFY, "did is not", "entry did of another DID");
    json_decref(m);

    /* the DID argument: malformed; its last character changed */
    refused(base, "did:plc:z72i7hdynmk6r22z27h6tvu", ATV_E_PARSE, "DID asked for",
            "short DID argument");
    refused(base, "did:web:example.com", ATV_E_PARSE, "DID asked for", "did:web argument");
    refused(base, "did:plc:z72i7hdynmk6r22z27h6tvua", ATV_E_VERIFY, NULL,
            "DID argument, last character changed");

    /* caps: entries, rotation keys, op size, JSON size */
    m = json_array();
    for (size_t i = 0; i < ATV_MAX_PLC_LOG_ENTRIES + 1; i++) {
        json_array_append(m, json_array_get(base, i % 2));
    }
    refused(m, did, ATV_E_LIMIT, "entries", "one entry over the cap");
    json_decref(m);
    m = json_deep_copy(base);
    {
        json_t *rk = json_object_get(op_of(m, 1), "rotationKeys");
        while (json_array_size(rk) < ATV_MAX_PLC_ROTATION_KEYS + 1) {
            json_array_append(rk, json_array_get(rk, 0));
        }
    }
    refused(m, did, ATV_E_LIMIT, "rotation keys", "one rotation key over the cap");
    json_decref(m);
    m = json_deep_copy(base);
    {
        char big[ATV_MAX_PLC_OP_CBOR];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        json_array_append_new(json_object_get(op_of(m, 1), "alsoKnownAs"), json_string(big));
    }
    refused(m, did, ATV_E_LIMIT, "DAG-CBOR", "operation over the DAG-CBOR cap");
    json_decref(m);
    {
        size_t n = ATV_MAX_PLC_LOG_JSON + 1;
        char *big = malloc(n);
        struct atv_plc_state *st = malloc(sizeof *st);
        struct atv_err err;
        struct atv_bytes b = {(const uint8_t *)big, n};
        if (big != NULL && st != NULL) {
            memset(big, ' ', n);
            big[0] = '[';
            big[n - 1] = ']';
            atv_err_clear(&err);
            CHECK_STATUS(atv_atp_plc_log_verify(b, did, st, &err), ATV_E_LIMIT, &err);
        }
        free(big);
        free(st);
    }

    /* malformed JSON: truncated, non-array root, empty array, duplicate keys */
    {
        char *s = json_dumps(base, JSON_COMPACT);
        struct atv_plc_state *st = malloc(sizeof *st);
        struct atv_err err;
        struct atv_bytes b = sv(s);
        b.len /= 2;
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_log_verify(b, did, st, &err), ATV_E_PARSE, &err);
        CHECK(st->did[0] == '\0');
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_log_verify(sv("{\"did\":\"x\"}"), did, st, &err), ATV_E_PARSE,
                     &err);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_log_verify(sv("[]"), did, st, &err), ATV_E_PARSE, &err);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_log_verify(sv("[{\"did\":\"a\",\"did\":\"b\"}]"), did, st, &err),
                     ATV_E_PARSE, &err);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_log_verify(sv("[\"\\ud800\"]"), did, st, &err), ATV_E_PARSE,
                     &err);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_plc_log_verify(sv("[1]"), did, st, &err), ATV_E_PARSE, &err);
        CHECK(atv_atp_plc_log_contains(sv(s), "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6zm", NULL) == 1);
        CHECK(atv_atp_plc_log_contains(sv(s), "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6za", NULL) == 0);
        CHECK(atv_atp_plc_log_contains(b, "x", NULL) == 0);
        free(st);
        free(s);
    }
    json_decref(base);
}

/* Nullification: one millisecond past the 72 h window; a fork by the same
 * key (reused) is what the invalid vector shows; prev at a tombstone. */
static void test_nullification(void)
{
    json_t *base = load_json(VEC "valid/log_nullification_at_exactly_72h.json"), *m;
    CHECK(base != NULL);
    if (base == NULL) {
        return;
    }
    const char *did = did_of(base);
    struct atv_plc_state *st = malloc(sizeof *st);
    struct atv_err err;
    CHECK_STATUS(verify_tree(base, did, st, &err), ATV_OK, &err);
    free(st);

    /* entry 3 forks at exactly 72 h after entry 2: 1 ms more is too late */
    m = json_deep_copy(base);
    {
        const char *t = json_string_value(json_object_get(json_array_get(m, 3), "createdAt"));
        char buf[32];
        (void)snprintf(buf, sizeof buf, "%s", t);
        /* the vector's fork time ends in ".xyzZ": add one millisecond */
        size_t l = strlen(buf);
        CHECK(l == 24 && buf[l - 2] != '9');
        buf[l - 2] = (char)(buf[l - 2] + 1);
        json_object_set_new(json_array_get(m, 3), "createdAt", json_string(buf));
    }
    refused(m, did, ATV_E_VERIFY, "after 72 h", "nullification 72 h + 1 ms");
    json_decref(m);

    /* the nullified flag of the nullified entry cleared */
    m = json_deep_copy(base);
    json_object_set_new(json_array_get(m, 2), "nullified", json_false());
    refused(m, did, ATV_E_VERIFY, "the replay says true", "nullified flag cleared");
    json_decref(m);

    /* the fork dropped: entry 2 is then live and flagged nullified */
    m = json_deep_copy(base);
    json_array_remove(m, 3);
    refused(m, did, ATV_E_VERIFY, "nullified is true", "fork dropped");
    json_decref(m);
    json_decref(base);
}

/* The proof fixtures' DID is a real did:plc: each curve's did-log.json
 * verifies for it and names the key of that curve's did-doc.json (k256 at
 * the genesis, p256 after a rotation). */
static void test_proof_fixture_logs(void)
{
    static const char *const curves[] = {"k256", "p256"};
    for (size_t i = 0; i < 2; i++) {
        char path[128], did[64];
        struct atv_buf log, doc;
        struct atv_plc_state *st = calloc(1, sizeof *st);
        struct atv_diddoc from_log, from_doc;
        struct atv_err err;
        json_t *fx;

        (void)snprintf(path, sizeof path, "testdata/proofs/%s/fixture.json", curves[i]);
        fx = json_load_file(path, 0, NULL);
        const char *d = json_string_value(json_object_get(fx, "did"));
        (void)snprintf(did, sizeof did, "%s", d != NULL ? d : "");
        json_decref(fx);
        atv_buf_init(&log, ATV_MAX_PLC_LOG_JSON);
        atv_buf_init(&doc, ATV_MAX_DIDDOC);
        atv_err_clear(&err);
        (void)snprintf(path, sizeof path, "testdata/proofs/%s/did-log.json", curves[i]);
        CHECK_STATUS(atv_buf_read_file(&log, path, &err), ATV_OK, &err);
        (void)snprintf(path, sizeof path, "testdata/proofs/%s/did-doc.json", curves[i]);
        CHECK_STATUS(atv_buf_read_file(&doc, path, &err), ATV_OK, &err);
        CHECK(st != NULL && strncmp(did, "did:plc:", 8) == 0);
        if (st != NULL) {
            CHECK_STATUS(atv_atp_plc_from_log(atv_buf_view(&log), did, st, &from_log, &err), ATV_OK,
                         &err);
            CHECK_STATUS(atv_atp_diddoc_parse(atv_buf_view(&doc), did, &from_doc, &err), ATV_OK,
                         &err);
            CHECK_MSG(atv_atp_key_eq(&from_log.key, &from_doc.key),
                      "%s: the log's key is the document's", curves[i]);
            CHECK_STR(from_log.pds, from_doc.pds);
            CHECK_EQ(st->n_ops, i + 1);
        }
        free(st);
        atv_buf_cleanup(&log);
        atv_buf_cleanup(&doc);
    }
}

int main(void)
{
    test_vectors("valid", check_valid, 10);
    test_vectors("invalid", check_invalid, 10);
    test_known_answers();
    test_mutations();
    test_nullification();
    test_proof_fixture_logs();
    return atv_test_done();
}
