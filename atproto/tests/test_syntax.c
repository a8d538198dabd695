/* Unit tests for atproto/syntax.c.
 *
 * The official interop fixtures (bluesky-social/atproto-interop-tests,
 * syntax/) are read straight from $ATV_SHARED/vectors/atproto-interop/syntax/
 * (ATV_SHARED defaults to "../shared"). Each file is read line by line as the
 * official runners do: empty lines and lines starting with '#' are skipped
 * (recordkey_syntax_invalid.txt holds "#extra", which they skip too), and
 * nothing is trimmed but the final '\n'. A missing or short file fails.
 */
#include "atproto/atproto.h"
#include "common/test.h"

#include <stdlib.h>
#include <string.h>

typedef enum atv_status (*check_fn)(const char *s, size_t n, struct atv_err *err);

struct fixture {
    const char *file;
    check_fn fn;
    int valid;        /* 1: every line must pass; 0: every line must fail */
    size_t min_lines; /* the count in the pinned fixture set (SOURCE: 056e5741bb33) */
};

static const struct fixture fixtures[] = {
    {"did_syntax_valid.txt", atv_atp_did_check, 1, 24},
    {"did_syntax_invalid.txt", atv_atp_did_check, 0, 18},
    {"handle_syntax_valid.txt", atv_atp_handle_check, 1, 71},
    {"handle_syntax_invalid.txt", atv_atp_handle_check, 0, 48},
    {"nsid_syntax_valid.txt", atv_atp_nsid_check, 1, 25},
    {"nsid_syntax_invalid.txt", atv_atp_nsid_check, 0, 27},
    {"recordkey_syntax_valid.txt", atv_atp_rkey_check, 1, 16},
    {"recordkey_syntax_invalid.txt", atv_atp_rkey_check, 0, 11},
    {"tid_syntax_valid.txt", atv_atp_tid_check, 1, 4},
    {"tid_syntax_invalid.txt", atv_atp_tid_check, 0, 9},
    {"aturi_syntax_valid.txt", atv_atp_aturi_check, 1, 23},
    {"aturi_syntax_invalid.txt", atv_atp_aturi_check, 0, 72},
    {"atidentifier_syntax_valid.txt", atv_atp_atid_check, 1, 11},
    {"atidentifier_syntax_invalid.txt", atv_atp_atid_check, 0, 22},
    {"datetime_syntax_valid.txt", atv_atp_datetime_check, 1, 35},
    {"datetime_syntax_invalid.txt", atv_atp_datetime_check, 0, 45},
    /* "superficial syntax parses ok, but are not valid datetimes for semantic
     * reasons": we check calendar ranges, so these must be rejected too. */
    {"datetime_parse_invalid.txt", atv_atp_datetime_check, 0, 7},
};

static const char *shared_dir(void)
{
    const char *d = getenv("ATV_SHARED");
    return d != NULL && d[0] != '\0' ? d : "../shared";
}

static void run_fixture(const struct fixture *fx)
{
    char path[4096];
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t lineno = 0;
    size_t used = 0;
    size_t wrong = 0;
    size_t first_bad = 0; /* line number of the first wrong verdict */
    char first_msg[192] = "";
    FILE *f = NULL;

    int pn =
        snprintf(path, sizeof path, "%s/vectors/atproto-interop/syntax/%s", shared_dir(), fx->file);
    if (pn < 0 || (size_t)pn >= sizeof path) {
        CHECK_MSG(0, "%s: fixture path too long", fx->file);
        return;
    }
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s: open %.300s", fx->file, path);
    if (f == NULL) {
        CHECK_MSG(0, "%s: at least %zu lines read (file missing)", fx->file, fx->min_lines);
        return;
    }
    while ((got = getline(&line, &cap, f)) != -1) {
        size_t n = (size_t)got;
        lineno++;
        if (n > 0 && line[n - 1] == '\n') {
            n--;
        }
        if (n == 0 || line[0] == '#') {
            continue;
        }
        used++;
        struct atv_err err;
        atv_err_clear(&err);
        enum atv_status rc = fx->fn(line, n, &err);
        int ok;
        if (fx->valid) {
            ok = rc == ATV_OK && err.code == ATV_OK;
        } else {
            /* A rejection is a parse error or a cap, always with a message. */
            ok = (rc == ATV_E_PARSE || rc == ATV_E_LIMIT) && err.code == rc && err.msg[0] != '\0';
        }
        if (!ok) {
            wrong++;
            if (first_bad == 0) {
                first_bad = lineno;
                /* Truncation is fine: this is a diagnostic. */
                (void)snprintf(first_msg, sizeof first_msg, ", first at line %zu (%s: %.100s)",
                               lineno, atv_status_name(rc), err.msg);
            }
        }
    }
    int read_failed = ferror(f);
    free(line);
    (void)fclose(f);
    CHECK_MSG(read_failed == 0, "%s: read without error", fx->file);
    CHECK_MSG(used >= fx->min_lines, "%s: %zu lines read, at least %zu expected", fx->file, used,
              fx->min_lines);
    CHECK_MSG(wrong == 0, "%s: %zu lines, all must be %s: %zu wrong%s", fx->file, used,
              fx->valid ? "accepted" : "rejected", wrong, first_msg);
}

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL) {
        return NULL;
    }
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static enum atv_status status_of(check_fn fn, const char *s, size_t n, struct atv_err *err)
{
    atv_err_clear(err);
    return fn(s, n, err);
}

/* One byte under, at and over every cap. */
static void test_length_caps(void)
{
    struct atv_err err;
    char buf[ATV_MAX_ATURI + 16];

    /* DID: "did:plc:" + identifier, 2048 bytes in all. */
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "did:plc:", 8);
    CHECK_STATUS(status_of(atv_atp_did_check, buf, ATV_MAX_DID, &err), ATV_OK, &err);
    CHECK_STATUS(status_of(atv_atp_did_check, buf, ATV_MAX_DID + 1, &err), ATV_E_LIMIT, &err);
    CHECK(strstr(err.msg, "2049") != NULL && strstr(err.msg, "2048") != NULL);

    /* Handle: 63.63.63.61 = 253 bytes; a 62-byte last label makes 254. */
    memset(buf, 'a', sizeof buf);
    buf[63] = '.';
    buf[127] = '.';
    buf[191] = '.';
    CHECK_STATUS(status_of(atv_atp_handle_check, buf, ATV_MAX_HANDLE, &err), ATV_OK, &err);
    CHECK_STATUS(status_of(atv_atp_handle_check, buf, ATV_MAX_HANDLE + 1, &err), ATV_E_LIMIT, &err);
    /* A 64-byte label is over the DNS label limit even in a short handle. */
    memset(buf, 'a', sizeof buf);
    buf[64] = '.';
    CHECK_STATUS(status_of(atv_atp_handle_check, buf, 69, &err), ATV_E_PARSE, &err);
    CHECK_STATUS(status_of(atv_atp_handle_check, buf + 1, 68, &err), ATV_OK, &err);

    /* NSID: four 63-byte domain segments + '.' each (256) + 61-byte name = 317. */
    memset(buf, 'a', sizeof buf);
    buf[63] = '.';
    buf[127] = '.';
    buf[191] = '.';
    buf[255] = '.';
    CHECK_STATUS(status_of(atv_atp_nsid_check, buf, ATV_MAX_NSID, &err), ATV_OK, &err);
    CHECK_STATUS(status_of(atv_atp_nsid_check, buf, ATV_MAX_NSID + 1, &err), ATV_E_LIMIT, &err);
    /* A 64-byte name segment. */
    CHECK_STATUS(status_of(atv_atp_nsid_check, buf + 128, 128 + 64, &err), ATV_E_PARSE, &err);
    CHECK_STATUS(status_of(atv_atp_nsid_check, buf + 128, 128 + 63, &err), ATV_OK, &err);

    /* Record key: 512 and 513 bytes. */
    memset(buf, 'k', sizeof buf);
    CHECK_STATUS(status_of(atv_atp_rkey_check, buf, ATV_MAX_RKEY, &err), ATV_OK, &err);
    CHECK_STATUS(status_of(atv_atp_rkey_check, buf, ATV_MAX_RKEY + 1, &err), ATV_E_LIMIT, &err);
    CHECK_STATUS(status_of(atv_atp_rkey_check, buf, 0, &err), ATV_E_PARSE, &err);

    /* TID: exactly 13. */
    memset(buf, '2', sizeof buf);
    CHECK_STATUS(status_of(atv_atp_tid_check, buf, 13, &err), ATV_OK, &err);
    CHECK_STATUS(status_of(atv_atp_tid_check, buf, 14, &err), ATV_E_PARSE, &err);
    CHECK_STATUS(status_of(atv_atp_tid_check, buf, 12, &err), ATV_E_PARSE, &err);

    /* AT-URI: components at their own caps cannot reach 8 KiB, so pad with a query. */
    static const char head[] = "at://did:plc:abc/com.example.foo/rk?";
    memset(buf, 'q', sizeof buf);
    memcpy(buf, head, sizeof head - 1);
    CHECK_STATUS(status_of(atv_atp_aturi_check, buf, ATV_MAX_ATURI, &err), ATV_OK, &err);
    CHECK_STATUS(status_of(atv_atp_aturi_check, buf, ATV_MAX_ATURI + 1, &err), ATV_E_LIMIT, &err);

    /* Datetime: 64 characters ("...50." + 43 digits + "Z") and 65. */
    static const char dt[] = "1985-04-12T23:20:50.";
    memset(buf, '1', sizeof buf);
    memcpy(buf, dt, sizeof dt - 1);
    buf[63] = 'Z';
    CHECK_STATUS(status_of(atv_atp_datetime_check, buf, 64, &err), ATV_OK, &err);
    buf[63] = '1';
    buf[64] = 'Z';
    CHECK_STATUS(status_of(atv_atp_datetime_check, buf, 65, &err), ATV_E_LIMIT, &err);
}

/* Cases the fixtures do not cover. */
static void test_edges(void)
{
    struct atv_err err;
    static const struct {
        check_fn fn;
        const char *s;
        enum atv_status want;
    } cases[] = {
        /* datetime calendar ranges */
        {atv_atp_datetime_check, "2024-02-29T00:00:00Z", ATV_OK},
        {atv_atp_datetime_check, "2023-02-29T00:00:00Z", ATV_E_PARSE},
        {atv_atp_datetime_check, "2000-02-29T00:00:00Z", ATV_OK},
        {atv_atp_datetime_check, "1900-02-29T00:00:00Z", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-04-31T00:00:00Z", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-04-30T24:00:00Z", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-04-30T23:60:00Z", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-12-31T23:59:60Z", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-04-12T23:20:50+24:00", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-04-12T23:20:50+23:60", ATV_E_PARSE},
        {atv_atp_datetime_check, "1985-04-12T23:20:50+23:59", ATV_OK},
        {atv_atp_datetime_check, "0000-01-01T01:00:00+01:00", ATV_OK},
        {atv_atp_datetime_check, "0000-01-01T00:59:00+01:00", ATV_E_PARSE},
        {atv_atp_datetime_check, "0000-01-01T00:00:00-01:00", ATV_OK},
        {atv_atp_datetime_check, "1985-04-12T23:20:50.5Zx", ATV_E_PARSE},
        {atv_atp_datetime_check, "", ATV_E_PARSE},
        /* DIDs */
        {atv_atp_did_check, "did:plc:", ATV_E_PARSE},
        {atv_atp_did_check, "did::abc", ATV_E_PARSE},
        {atv_atp_did_check, "did:web:example.com%3A8080", ATV_OK},
        {atv_atp_did_check, "", ATV_E_PARSE},
        /* handles */
        {atv_atp_handle_check, "", ATV_E_PARSE},
        {atv_atp_handle_check, "a.b", ATV_OK},
        {atv_atp_handle_check, "a.b-", ATV_E_PARSE},
        /* NSIDs */
        {atv_atp_nsid_check, "com.example.foo-bar", ATV_E_PARSE},
        {atv_atp_nsid_check, "com.example.", ATV_E_PARSE},
        {atv_atp_nsid_check, "", ATV_E_PARSE},
        /* TIDs */
        {atv_atp_tid_check, "k222222222222", ATV_E_PARSE},
        {atv_atp_tid_check, "j222222222222", ATV_OK},
        {atv_atp_tid_check, "2222222222221", ATV_E_PARSE},
        /* AT-URI query and fragment */
        {atv_atp_aturi_check, "at://did:plc:abc/com.example.foo/rk?a=b&c=%20", ATV_OK},
        {atv_atp_aturi_check, "at://did:plc:abc?", ATV_E_PARSE},
        {atv_atp_aturi_check, "at://did:plc:abc?a=%2", ATV_E_PARSE},
        {atv_atp_aturi_check, "at://did:plc:abc#/a/b", ATV_OK},
        {atv_atp_aturi_check, "at://did:plc:abc?q#/a", ATV_OK},
        {atv_atp_aturi_check, "at://did:plc:abc/?q", ATV_E_PARSE},
        {atv_atp_aturi_check, "at://", ATV_E_PARSE},
        {atv_atp_aturi_check, "at://did:plc:abc/com.example.foo/rk#/a#/b", ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        atv_err_clear(&err);
        enum atv_status rc = cases[i].fn(cases[i].s, strlen(cases[i].s), &err);
        CHECK_MSG(rc == cases[i].want, "edge \"%s\": want %s, got %s (%s)", cases[i].s,
                  atv_status_name(cases[i].want), atv_status_name(rc), err.msg);
    }

    /* Bytes, not C strings: an embedded NUL is a disallowed byte. */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_rkey_check("ab\0cd", 5, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "0x00") != NULL && strstr(err.msg, "offset 2") != NULL);
    /* Only n bytes are read: a valid prefix of a longer buffer is valid. */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_tid_check("3jzfcijpj2z2a!!!", 13, &err), ATV_OK, &err);
    /* NULL with a length is misuse, NULL and 0 is merely empty. */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_did_check(NULL, 3, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_check(NULL, 0, &err), ATV_E_PARSE, &err);
    /* Messages never echo the input. */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_handle_check("secretvalue.x_y", 15, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "secretvalue") == NULL && strstr(err.msg, "handle") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_aturi_check("at://did:plc:secretvalue/x", 26, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "secretvalue") == NULL && strstr(err.msg, "offset") != NULL);
}

static int all_zero(const struct atv_record_uri *u)
{
    const unsigned char *p = (const unsigned char *)u;
    for (size_t i = 0; i < sizeof *u; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void test_record_uri(void)
{
    struct atv_err err;
    struct atv_record_uri u;

    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_record_uri_parse("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/"
                                          "io.atcr.signature/3jzfcijpj2z2a",
                                          &u, &err),
                 ATV_OK, &err);
    CHECK(strcmp(u.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz") == 0);
    CHECK(strcmp(u.collection, "io.atcr.signature") == 0);
    CHECK(strcmp(u.rkey, "3jzfcijpj2z2a") == 0);

    static const struct {
        const char *s;
        const char *why; /* a word the message must contain */
    } bad[] = {
        {"at://alice.bsky.social/io.atcr.signature/3jzfcijpj2z2a", "handle"},
        {"at://did:plc:abc/io.atcr.signature", "record key"},
        {"at://did:plc:abc/io.atcr.signature/", "record key"},
        {"at://did:plc:abc", "collection"},
        {"at://did:plc:abc/", "missing"},
        {"at://did:plc:abc/io.atcr.signature/rk/extra", "segments"},
        {"at://did:plc:abc/io.atcr.signature/rk/", "segments"},
        {"at://did:plc:abc/io.atcr.signature/rk?x=1", "query"},
        {"at://did:plc:abc/io.atcr.signature/rk#/a", "fragment"},
        {"at://did:plc:abc/io.atcr/rk", "nsid"},
        {"at://did:plc:abc/io.atcr.sig-nature/rk", "nsid"},
        {"at://did:plc:abc/io.atcr.signature/..", "rkey"},
        {"at://did:plc:abc/io.atcr.signature/r k", "rkey"},
        {"at://did:plc:/io.atcr.signature/rk", "did"},
        {"at://DID:plc:abc/io.atcr.signature/rk", "DID"},
        {"AT://did:plc:abc/io.atcr.signature/rk", "at://"},
        {" at://did:plc:abc/io.atcr.signature/rk", "at://"},
        {"at://did:plc:abc/io.atcr.signature/rk ", "rkey"},
        {"", "at://"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&u, 'x', sizeof u);
        atv_err_clear(&err);
        enum atv_status rc = atv_atp_record_uri_parse(bad[i].s, &u, &err);
        CHECK_MSG(rc == ATV_E_PARSE && all_zero(&u) && strstr(err.msg, bad[i].why) != NULL,
                  "record uri \"%s\" rejected (%s: %s), out zeroed", bad[i].s, atv_status_name(rc),
                  err.msg);
    }

    /* Too long: 8193 bytes (a long DID); and a DID over its own 2 KiB cap. */
    char *s = repeat('a', ATV_MAX_ATURI + 1);
    CHECK(s != NULL);
    if (s != NULL) {
        memcpy(s, "at://did:plc:", 13);
        memset(&u, 'x', sizeof u);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_record_uri_parse(s, &u, &err), ATV_E_LIMIT, &err);
        CHECK(all_zero(&u));
        /* 5 + 2049 bytes of DID, then a valid path. */
        memcpy(s + 5 + ATV_MAX_DID + 1, "/a.b.c/rk", 10);
        memset(&u, 'x', sizeof u);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_record_uri_parse(s, &u, &err), ATV_E_LIMIT, &err);
        CHECK(all_zero(&u));
        /* Exactly 2048 bytes of DID is fine and fills the field to its cap. */
        memcpy(s + 5 + ATV_MAX_DID, "/a.b.c/rk", 10);
        atv_err_clear(&err);
        CHECK_STATUS(atv_atp_record_uri_parse(s, &u, &err), ATV_OK, &err);
        CHECK(strlen(u.did) == ATV_MAX_DID && strcmp(u.rkey, "rk") == 0);
        free(s);
    }

    /* Misuse. */
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_record_uri_parse(NULL, &u, &err), ATV_E_USAGE, &err);
    CHECK(all_zero(&u));
    atv_err_clear(&err);
    CHECK_STATUS(atv_atp_record_uri_parse("at://did:plc:abc/a.b.c/rk", NULL, &err), ATV_E_USAGE,
                 &err);
}

int main(void)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        run_fixture(&fixtures[i]);
    }
    test_length_caps();
    test_edges();
    test_record_uri();
    return atv_test_done();
}
