/* Unit tests for atproto/plc.c over the did:plc audit logs built with the
 * official @did-plc/lib (testdata/plc, made by testdata/tsgen/gen-plc.mjs;
 * see its header). expect.json holds, per log, what the library concluded
 * and what atv_atp_plc_log_verify must give: the state (key, PDS, handle,
 * tombstone, nullified entries) or the exact refusal. Every case named below
 * must be there and every case there is run. Then mutations of the P-256 log.
 * Run from the repository root. */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>

#include "atproto/tests/plc_mut.h"

#define DIR_PLC "testdata/plc/"

/* The cases the generator must have written (a missing one is a failure). */
static const char *const want_cases[] = {
    "rotation",           "recovery-1h",           "recovery-nullifies-two",
    "recovery-72h-exact", "recovery-72h-plus-1ms", "recovery-lower-priority",
    "tombstone",          "legacy-create-head",    "legacy-create",
    "p256",               "p256-high-s",
};

/* ---- helpers ---------------------------------------------------------------- */

static const char *str_of(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *op_of(json_t *log, size_t i)
{
    return json_object_get(json_array_get(log, i), "operation");
}

/* Reads DIR_PLC name.json into *buf and, parsed, into *tree (new: json_decref). */
static int load_log(const char *name, struct atv_buf *buf, json_t **tree)
{
    char path[256];
    json_error_t jerr;
    struct atv_err err;

    atv_err_clear(&err);
    *tree = NULL;
    (void)snprintf(path, sizeof path, DIR_PLC "%s.json", name);
    if (atv_buf_read_file(buf, path, &err) != ATV_OK) {
        DIAG("cannot read %s: %s", path, err.msg);
        return 0;
    }
    *tree = json_loadb((const char *)buf->ptr, buf->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array(*tree)) {
        DIAG("%s: not a JSON array (%s)", path, jerr.text);
        json_decref(*tree);
        *tree = NULL;
        return 0;
    }
    return 1;
}

/* The first at:// handle of the head's alsoKnownAs, or "" (as the resolver takes it). */
static void head_handle(const struct atv_plc_state *st, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < st->n_aka; i++) {
        if (atv_atp_handle_from_aka(st->aka[i], out, cap)) {
            return;
        }
    }
}

/* Whether index i is in the JSON array of integers idx. */
static int listed(json_t *idx, size_t i)
{
    size_t j;
    json_t *v;
    json_array_foreach(idx, j, v)
    {
        if (json_is_integer(v) && json_integer_value(v) == (json_int_t)i) {
            return 1;
        }
    }
    return 0;
}

/* ---- the generated cases --------------------------------------------------------- */

static void check_ok(const char *name, json_t *want, json_t *log, struct atv_bytes raw,
                     struct atv_plc_state *st)
{
    json_t *last = json_array_get(log, json_array_size(log) - 1);
    const char *key = str_of(want, "atprotoKey"), *pds = str_of(want, "pds");
    const char *handle = str_of(want, "handle");
    char dk[ATV_MAX_MULTIBASE + 16] = "";
    char h[ATV_MAX_HANDLE + 1];

    CHECK_MSG(strcmp(st->head_cid, str_of(last, "cid")) == 0, "%s: head cid %s", name,
              st->head_cid);
    CHECK_MSG(strcmp(st->head_created_at, str_of(last, "createdAt")) == 0,
              "%s: head createdAt %s", name, st->head_created_at);
    CHECK_MSG(st->tombstoned == json_is_true(json_object_get(want, "tombstoned")),
              "%s: tombstoned %d", name, st->tombstoned);
    if (key != NULL) {
        CHECK_MSG(st->has_key && atv_atp_key_to_didkey(&st->key, dk, sizeof dk, NULL) == ATV_OK &&
                      strcmp(dk, key) == 0,
                  "%s: atproto key %s, want %s", name, dk, key);
    } else {
        CHECK_MSG(st->has_key == 0, "%s: no atproto key", name);
    }
    CHECK_MSG(strcmp(st->pds, pds != NULL ? pds : "") == 0, "%s: pds \"%s\"", name, st->pds);
    head_handle(st, h, sizeof h);
    CHECK_MSG(strcmp(h, handle != NULL ? handle : "") == 0, "%s: handle \"%s\"", name, h);

    /* every entry is found with the flag the library's directory gave it */
    size_t i;
    json_t *e;
    int all = 1;
    json_t *nul_idx = json_object_get(want, "nullified");
    json_array_foreach(log, i, e)
    {
        int nul = -1;
        if (!atv_atp_plc_log_contains(raw, str_of(e, "cid"), &nul) ||
            nul != listed(nul_idx, i) || nul != json_is_true(json_object_get(e, "nullified"))) {
            all = 0;
        }
    }
    CHECK_MSG(all, "%s: contains() finds every entry, nullified exactly at %zu indexes", name,
              json_array_size(nul_idx));
}

static void check_refused(const char *name, json_t *want, enum atv_status rc,
                          const struct atv_err *err, const struct atv_plc_state *st)
{
    const char *status = str_of(want, "status"), *reason = str_of(want, "reason");
    const char *msg = str_of(want, "message");
    CHECK_MSG(status != NULL && strcmp(atv_status_name(rc), status) == 0, "%s: status %s",
              name, atv_status_name(rc));
    CHECK_MSG(reason != NULL && err->reason != NULL && strcmp(err->reason, reason) == 0,
              "%s: reason %s", name, err->reason != NULL ? err->reason : "(none)");
    CHECK_MSG(msg != NULL && strcmp(err->msg, msg) == 0, "%s: message \"%s\"", name, err->msg);
    CHECK_MSG(st->did[0] == '\0' && st->n_ops == 0 && st->has_key == 0 && st->head_cid[0] == '\0',
              "%s: state zeroed", name);
}

static void check_case(const char *name, json_t *want)
{
    struct atv_buf buf;
    struct atv_err err;
    struct atv_plc_state *st = malloc(sizeof *st);
    json_t *log = NULL;
    const char *did = str_of(want, "did");
    enum atv_status rc;

    atv_buf_init(&buf, ATV_MAX_PLC_LOG_JSON);
    CHECK_MSG(st != NULL && did != NULL && load_log(name, &buf, &log), "%s: log loads", name);
    if (st == NULL || did == NULL || log == NULL) {
        goto out;
    }
    json_int_t entries = json_integer_value(json_object_get(want, "entries"));
    CHECK_MSG(entries == (json_int_t)json_array_size(log), "%s: %zu entries", name,
              json_array_size(log));
    atv_err_clear(&err);
    rc = atv_atp_plc_log_verify(atv_buf_view(&buf), did, st, &err);
    if (json_is_true(json_object_get(want, "ok"))) {
        CHECK_MSG(rc == ATV_OK, "%s: verifies (got %s: %s)", name, atv_status_name(rc), err.msg);
        CHECK_MSG(strcmp(st->did, did) == 0 && st->n_ops == json_array_size(log),
                  "%s: did %s, %zu ops", name, st->did, st->n_ops);
        if (rc == ATV_OK) {
            check_ok(name, want, log, atv_buf_view(&buf), st);
        }
    } else {
        CHECK_MSG(json_is_false(json_object_get(want, "ok")), "%s: ok is a boolean", name);
        check_refused(name, want, rc, &err, st);
    }

    /* contains(): the genesis is there and live; a CID one character off is not */
    const char *g = str_of(json_array_get(log, 0), "cid");
    char other[ATV_CID_STR_CAP];
    int nul = -1;
    CHECK_MSG(g != NULL && atv_atp_plc_log_contains(atv_buf_view(&buf), g, &nul) == 1 && nul == 0,
              "%s: contains(genesis cid), not nullified", name);
    (void)snprintf(other, sizeof other, "%s", g != NULL ? g : "");
    size_t l = strlen(other);
    if (l > 0) {
        other[l - 1] = other[l - 1] == 'a' ? 'b' : 'a';
    }
    nul = -1;
    CHECK_MSG(atv_atp_plc_log_contains(atv_buf_view(&buf), other, &nul) == 0 && nul == 0,
              "%s: contains(a CID not in the log) is 0", name);
out:
    json_decref(log);
    atv_buf_cleanup(&buf);
    free(st);
}

static void test_cases(void)
{
    json_error_t jerr;
    json_t *expect = json_load_file(DIR_PLC "expect.json", JSON_REJECT_DUPLICATES, &jerr);
    const char *name;
    json_t *want;
    size_t n = sizeof want_cases / sizeof want_cases[0];

    CHECK_MSG(json_is_object(expect), DIR_PLC "expect.json loads (%s)", jerr.text);
    if (!json_is_object(expect)) {
        json_decref(expect);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(json_object_get(expect, want_cases[i]) != NULL, "expect.json has %s",
                  want_cases[i]);
    }
    CHECK_MSG(json_object_size(expect) == n, "expect.json: %zu cases, want %zu",
              json_object_size(expect), n);
    json_object_foreach(expect, name, want)
    {
        check_case(name, want);
    }
    json_decref(expect);
}

/* ---- mutations of the P-256 log ---------------------------------------------------- */

/* Expects log refused as ATV_E_VERIFY "plc_log_invalid", the message containing why. */
static void refused(json_t *log, const char *did, const char *why, const char *what)
{
    struct atv_plc_state *st = malloc(sizeof *st);
    struct atv_err err;
    enum atv_status rc = st != NULL ? verify_tree(log, did, st, &err) : ATV_E_NOMEM;
    CHECK_MSG(rc == ATV_E_VERIFY && err.reason != NULL &&
                  strcmp(err.reason, "plc_log_invalid") == 0 && strstr(err.msg, why) != NULL,
              "%s: refused mentioning \"%s\" (got %s: %s)", what, why, atv_status_name(rc),
              rc == ATV_E_NOMEM ? "" : err.msg);
    free(st);
}

static void test_p256_mutations(void)
{
    struct atv_buf buf;
    json_t *base = NULL, *m;
    struct atv_plc_state *st = malloc(sizeof *st);
    struct atv_err err;
    uint8_t sig[64], bad[64];
    char tmp[256];

    atv_buf_init(&buf, ATV_MAX_PLC_LOG_JSON);
    CHECK(st != NULL && load_log("p256", &buf, &base));
    if (st == NULL || base == NULL) {
        goto out;
    }
    const char *did = str_of(json_array_get(base, 0), "did");
    CHECK(sig_bytes(op_of(base, 1), sig));

    /* control: the sig decoded, re-encoded and re-CID'd still verifies */
    m = json_deep_copy(base);
    set_sig(op_of(m, 1), sig, 64);
    fix_cid(m, 1);
    CHECK_STATUS(verify_tree(m, did, st, &err), ATV_OK, &err);
    CHECK(json_equal(m, base));
    json_decref(m);

    /* one byte of the update's sig flipped (r, then s): with the cid fixed the
     * signature fails; left, the cid does */
    for (size_t pos = 5; pos < 64; pos += 32) {
        memcpy(bad, sig, 64);
        bad[pos] ^= 0x01;
        m = json_deep_copy(base);
        set_sig(op_of(m, 1), bad, 64);
        (void)snprintf(tmp, sizeof tmp, "P-256 sig byte %zu flipped, cid left", pos);
        refused(m, did, "cid is not the operation's CID", tmp);
        fix_cid(m, 1);
        (void)snprintf(tmp, sizeof tmp, "P-256 sig byte %zu flipped", pos);
        refused(m, did, "no allowed rotation key verifies the signature", tmp);
        json_decref(m);
    }

    /* one byte of the genesis sig flipped: the genesis no longer hashes to the DID */
    CHECK(sig_bytes(op_of(base, 0), bad));
    bad[40] ^= 0x80;
    m = json_deep_copy(base);
    set_sig(op_of(m, 0), bad, 64);
    fix_cid(m, 0);
    refused(m, did, "genesis hashes to", "P-256 genesis sig byte flipped");
    json_decref(m);

    /* '=' and "==" padding appended to the 86 characters */
    for (int pad = 1; pad <= 2; pad++) {
        m = json_deep_copy(base);
        (void)snprintf(tmp, sizeof tmp, "%s%s", str_of(op_of(base, 1), "sig"),
                       pad == 1 ? "=" : "==");
        json_object_set_new(op_of(m, 1), "sig", json_string(tmp));
        fix_cid(m, 1);
        refused(m, did, "'=' padding", pad == 1 ? "P-256 sig with '='" : "P-256 sig with '=='");
        json_decref(m);
    }

    /* the genesis's sig on the update (a valid signature by P1, of other bytes) */
    m = json_deep_copy(base);
    json_object_set(op_of(m, 1), "sig", json_object_get(op_of(base, 0), "sig"));
    fix_cid(m, 1);
    refused(m, did, "no allowed rotation key verifies the signature", "P-256 sig of another op");
    json_decref(m);

    /* the rotation keys swapped in the update's prev (the genesis): DID changes */
    m = json_deep_copy(base);
    {
        json_t *rk = json_object_get(op_of(m, 0), "rotationKeys");
        json_t *k0 = json_incref(json_array_get(rk, 0));
        json_array_remove(rk, 0);
        json_array_append_new(rk, k0);
    }
    fix_cid(m, 0);
    refused(m, did, "genesis hashes to", "P-256 genesis rotation keys reordered");
    json_decref(m);
out:
    json_decref(base);
    atv_buf_cleanup(&buf);
    free(st);
}

int main(void)
{
    test_cases();
    test_p256_mutations();
    return atv_test_done();
}
