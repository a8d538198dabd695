/* atproto/syntax.c: hand-written checkers for the atproto identifier syntaxes.
 *
 * Specs: atproto.com/specs/did, /handle, /nsid, /record-key, /tid,
 * /at-uri-scheme and /lexicon#datetime (RFC 3339 subset). Where a spec and
 * the official interop fixtures (bluesky-social/atproto-interop-tests,
 * syntax/) disagree, the comment says which one we follow and why.
 *
 * Every checker takes s[0..n) as bytes: no trimming, no normalising, no
 * locale (ASCII classes are spelled out below, never <ctype.h>). A string
 * over its cap in common/limits.h is ATV_E_LIMIT; any other defect is
 * ATV_E_PARSE. Messages name the field, the offset and the byte value in hex,
 * never the input itself.
 */
#include "atproto/atproto.h"

#include <string.h>

/* Lexicon datetime: the reference implementation (@atproto/syntax
 * ensureValidDatetime) rejects strings over 64 characters. Belongs in
 * common/limits.h as ATV_MAX_DATETIME; kept here until that header grows it. */
#define SYNTAX_MAX_DATETIME 64u

/* DNS labels, handle labels and NSID segments: 63 characters (RFC 1035 2.3.4). */
#define SYNTAX_MAX_LABEL 63u

/* ---- ASCII classes ------------------------------------------------------ */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_alpha(unsigned char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static int is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned char byte_at(const char *s, size_t i)
{
    return (unsigned char)s[i];
}

/* First index of c in s[from..n), or n when absent. */
static size_t find_byte(const char *s, size_t from, size_t n, char c)
{
    size_t i = from;
    while (i < n && s[i] != c) {
        i++;
    }
    return i;
}

static enum atv_status bad_byte(struct atv_err *err, const char *field, const char *s, size_t i)
{
    return atv_err_set(err, ATV_E_PARSE, "%s: disallowed byte 0x%02x at offset %zu", field,
                       (unsigned)byte_at(s, i), i);
}

static enum atv_status null_input(struct atv_err *err, const char *field)
{
    return atv_err_set(err, ATV_E_USAGE, "%s: NULL input with a non-zero length", field);
}

/* ---- DID ---------------------------------------------------------------- */

/* did spec: "did:" + method (lower-case ASCII letters, at least one) + ":" +
 * method-specific identifier of [A-Za-z0-9._:%-], at least one character,
 * not ending in ':' or '%'; at most 2 KiB in total. The spec leaves
 * percent-encoding unvalidated at the syntax level, and so do we
 * (reference regex: did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]). */
enum atv_status atv_atp_did_check(const char *s, size_t n, struct atv_err *err)
{
    static const char prefix[] = "did:";
    const size_t plen = sizeof prefix - 1;
    size_t i;

    if (s == NULL && n > 0) {
        return null_input(err, "did");
    }
    if (n > ATV_MAX_DID) {
        return atv_err_set(err, ATV_E_LIMIT, "did: %zu bytes, max %u", n, ATV_MAX_DID);
    }
    /* The scheme is lower-case "did:" exactly: "DID:" is not a DID. */
    if (n < plen || memcmp(s, prefix, plen) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "did: must start with \"did:\" (%zu bytes)", n);
    }
    /* Method: lower-case letters only, no digits ("did:m123:x" is invalid). */
    i = plen;
    while (i < n && is_lower(byte_at(s, i))) {
        i++;
    }
    if (i == plen) {
        return atv_err_set(err, ATV_E_PARSE, "did: empty or non-lower-case method at offset %zu",
                           plen);
    }
    if (i == n) {
        return atv_err_set(err, ATV_E_PARSE, "did: no ':' after the method (%zu bytes)", n);
    }
    if (s[i] != ':') {
        return bad_byte(err, "did method", s, i);
    }
    i++;
    if (i == n) {
        return atv_err_set(err, ATV_E_PARSE, "did: empty method-specific identifier");
    }
    for (size_t j = i; j < n; j++) {
        unsigned char c = byte_at(s, j);
        if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '%' && c != '-') {
            return bad_byte(err, "did identifier", s, j);
        }
    }
    /* "The DID can not end in a colon character" nor a bare '%'. */
    if (s[n - 1] == ':' || s[n - 1] == '%') {
        return atv_err_set(err, ATV_E_PARSE, "did: must not end with byte 0x%02x",
                           (unsigned)byte_at(s, n - 1));
    }
    return ATV_OK;
}

/* ---- handle ------------------------------------------------------------- */

/* One DNS label s[off..off+len) (handle spec, RFC 1035/1123): 1 to 63
 * characters of [A-Za-z0-9-], not starting or ending with '-'. Offsets in
 * messages are relative to s. */
static enum atv_status label_check(const char *field, const char *s, size_t off, size_t len,
                                   struct atv_err *err)
{
    if (len == 0) {
        return atv_err_set(err, ATV_E_PARSE, "%s: empty segment at offset %zu", field, off);
    }
    if (len > SYNTAX_MAX_LABEL) {
        return atv_err_set(err, ATV_E_PARSE, "%s: segment at offset %zu is %zu characters, max %u",
                           field, off, len, SYNTAX_MAX_LABEL);
    }
    for (size_t i = off; i < off + len; i++) {
        unsigned char c = byte_at(s, i);
        if (!is_alnum(c) && c != '-') {
            return bad_byte(err, field, s, i);
        }
    }
    if (s[off] == '-' || s[off + len - 1] == '-') {
        return atv_err_set(err, ATV_E_PARSE, "%s: segment at offset %zu starts or ends with '-'",
                           field, off);
    }
    return ATV_OK;
}

/* handle spec: labels joined by '.', at least two, 253 characters at most;
 * the last label (TLD) must not start with a digit (so no IPv4 addresses). */
enum atv_status atv_atp_handle_check(const char *s, size_t n, struct atv_err *err)
{
    size_t start = 0;
    size_t labels = 0;

    if (s == NULL && n > 0) {
        return null_input(err, "handle");
    }
    if (n > ATV_MAX_HANDLE) {
        return atv_err_set(err, ATV_E_LIMIT, "handle: %zu bytes, max %u", n, ATV_MAX_HANDLE);
    }
    if (n == 0) {
        return atv_err_set(err, ATV_E_PARSE, "handle: empty");
    }
    for (;;) {
        size_t end = find_byte(s, start, n, '.');
        enum atv_status rc = label_check("handle", s, start, end - start, err);
        if (rc != ATV_OK) {
            return rc;
        }
        labels++;
        if (end == n) {
            /* handle spec: "The last segment (the top level domain) can not
             * start with a numeric digit." */
            if (is_digit(byte_at(s, start))) {
                return atv_err_set(err, ATV_E_PARSE,
                                   "handle: top-level label at offset %zu starts with a digit",
                                   start);
            }
            break;
        }
        start = end + 1;
    }
    if (labels < 2) {
        return atv_err_set(err, ATV_E_PARSE, "handle: %zu label, at least 2 required", labels);
    }
    return ATV_OK;
}

/* ---- NSID --------------------------------------------------------------- */

/* nsid spec: domain authority (reversed domain name, at least 2 segments
 * that follow the handle label rules, the first not starting with a digit)
 * + "." + name (1-63 characters, a letter then letters and digits, no
 * hyphens); at least 3 segments, 317 characters at most.
 *
 * The spec also caps the authority at 253 characters; we do not, because the
 * interop fixture nsid_syntax_valid.txt holds a 287-character NSID whose
 * authority is 283 characters and the reference implementations (TypeScript
 * and Go) accept it: only the overall 317 cap is enforced. */
enum atv_status atv_atp_nsid_check(const char *s, size_t n, struct atv_err *err)
{
    size_t start = 0;
    size_t segs = 0;

    if (s == NULL && n > 0) {
        return null_input(err, "nsid");
    }
    if (n > ATV_MAX_NSID) {
        return atv_err_set(err, ATV_E_LIMIT, "nsid: %zu bytes, max %u", n, ATV_MAX_NSID);
    }
    if (n == 0) {
        return atv_err_set(err, ATV_E_PARSE, "nsid: empty");
    }
    for (;;) {
        size_t end = find_byte(s, start, n, '.');
        size_t len = end - start;
        if (end < n) {
            /* A domain-authority segment. */
            enum atv_status rc = label_check("nsid", s, start, len, err);
            if (rc != ATV_OK) {
                return rc;
            }
            if (segs == 0 && is_digit(byte_at(s, start))) {
                return atv_err_set(err, ATV_E_PARSE, "nsid: first segment starts with a digit");
            }
            segs++;
            start = end + 1;
            continue;
        }
        /* The name segment. */
        segs++;
        if (len == 0 || len > SYNTAX_MAX_LABEL) {
            return atv_err_set(err, ATV_E_PARSE,
                               "nsid: name at offset %zu is %zu characters, want 1 to %u", start,
                               len, SYNTAX_MAX_LABEL);
        }
        if (!is_alpha(byte_at(s, start))) {
            return atv_err_set(err, ATV_E_PARSE,
                               "nsid: name at offset %zu must start with a letter", start);
        }
        for (size_t i = start + 1; i < n; i++) {
            if (!is_alnum(byte_at(s, i))) {
                return bad_byte(err, "nsid name", s, i);
            }
        }
        break;
    }
    if (segs < 3) {
        return atv_err_set(err, ATV_E_PARSE, "nsid: %zu segments, at least 3 required", segs);
    }
    return ATV_OK;
}

/* ---- record key --------------------------------------------------------- */

/* record-key spec: 1 to 512 characters of [A-Za-z0-9._:~-]; "." and ".."
 * are not allowed (they are path navigation in URIs). */
enum atv_status atv_atp_rkey_check(const char *s, size_t n, struct atv_err *err)
{
    if (s == NULL && n > 0) {
        return null_input(err, "rkey");
    }
    if (n > ATV_MAX_RKEY) {
        return atv_err_set(err, ATV_E_LIMIT, "rkey: %zu bytes, max %u", n, ATV_MAX_RKEY);
    }
    if (n == 0) {
        return atv_err_set(err, ATV_E_PARSE, "rkey: empty");
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = byte_at(s, i);
        if (!is_alnum(c) && c != '.' && c != '-' && c != '_' && c != ':' && c != '~') {
            return bad_byte(err, "rkey", s, i);
        }
    }
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
        return atv_err_set(err, ATV_E_PARSE, "rkey: \".\" and \"..\" are not allowed");
    }
    return ATV_OK;
}

/* ---- TID ---------------------------------------------------------------- */

/* tid spec: exactly 13 characters of base32-sortable (234567a-z); the top
 * bit of the 64-bit value is always 0, so the first character is one of
 * 234567abcdefghij. Upper case is not allowed. */
enum atv_status atv_atp_tid_check(const char *s, size_t n, struct atv_err *err)
{
    if (s == NULL && n > 0) {
        return null_input(err, "tid");
    }
    if (n != 13) {
        return atv_err_set(err, ATV_E_PARSE, "tid: want 13 characters, got %zu", n);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = byte_at(s, i);
        int ok = (c >= '2' && c <= '7') || is_lower(c);
        if (i == 0) {
            ok = (c >= '2' && c <= '7') || (c >= 'a' && c <= 'j');
        }
        if (!ok) {
            return bad_byte(err, "tid", s, i);
        }
    }
    return ATV_OK;
}

/* ---- at-identifier ------------------------------------------------------ */

/* lexicon at-identifier: a DID or a handle. A string starting "did:" is
 * judged as a DID only (as the reference implementations do), so the error
 * names the rule that applies. */
enum atv_status atv_atp_atid_check(const char *s, size_t n, struct atv_err *err)
{
    if (s == NULL && n > 0) {
        return null_input(err, "at-identifier");
    }
    if (n >= 4 && memcmp(s, "did:", 4) == 0) {
        return atv_atp_did_check(s, n, err);
    }
    return atv_atp_handle_check(s, n, err);
}

/* ---- AT-URI ------------------------------------------------------------- */

/* RFC 3986 3.3 pchar without pct-encoded: unreserved / sub-delims / ":" / "@". */
static int is_pchar_plain(unsigned char c)
{
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
        return 1;
    default:
        return is_alnum(c);
    }
}

/* RFC 3986 3.4 query / 3.5 fragment: *( pchar / "/" / "?" ), where a '%'
 * must start a pct-encoded triplet. Checks s[off..end). */
static enum atv_status uri_part_check(const char *field, const char *s, size_t off, size_t end,
                                      struct atv_err *err)
{
    size_t i = off;
    while (i < end) {
        unsigned char c = byte_at(s, i);
        if (c == '%') {
            if (end - i < 3 || !is_hex(byte_at(s, i + 1)) || !is_hex(byte_at(s, i + 2))) {
                return atv_err_set(err, ATV_E_PARSE, "%s: bad percent-encoding at offset %zu",
                                   field, i);
            }
            i += 3;
            continue;
        }
        if (!is_pchar_plain(c) && c != '/' && c != '?') {
            return bad_byte(err, field, s, i);
        }
        i++;
    }
    return ATV_OK;
}

/* at-uri-scheme spec, general form:
 *     "at://" AUTHORITY [ "/" COLLECTION [ "/" RKEY ] ] [ "?" QUERY ] [ "#" FRAGMENT ]
 * AUTHORITY is a DID or a handle, COLLECTION an NSID, RKEY a record key; an
 * empty segment (so any trailing slash) and a third path segment are errors;
 * at most 8 KiB. The fragment, when present, is a JSON pointer: non-empty and
 * starting with '/' (reference ensureValidAtUri); an empty query is an error
 * too. A message names the failing part and its offset in the URI; offsets
 * inside a part's own message are relative to that part. */
enum atv_status atv_atp_aturi_check(const char *s, size_t n, struct atv_err *err)
{
    static const char scheme[] = "at://";
    const size_t slen = sizeof scheme - 1;
    enum atv_status rc = ATV_OK;

    if (s == NULL && n > 0) {
        return null_input(err, "at-uri");
    }
    if (n > ATV_MAX_ATURI) {
        return atv_err_set(err, ATV_E_LIMIT, "at-uri: %zu bytes, max %u", n, ATV_MAX_ATURI);
    }
    /* The scheme is lower-case "at" and the authority follows "//". */
    if (n < slen || memcmp(s, scheme, slen) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "at-uri: must start with \"at://\" (%zu bytes)", n);
    }
    size_t frag = find_byte(s, slen, n, '#');
    size_t query = find_byte(s, slen, frag, '?');
    /* Path part: s[slen..query). */
    size_t a_end = find_byte(s, slen, query, '/');
    rc = atv_atp_atid_check(s + slen, a_end - slen, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "at-uri authority at offset %zu", slen);
        return rc;
    }
    if (a_end < query) {
        size_t c_start = a_end + 1;
        size_t c_end = find_byte(s, c_start, query, '/');
        if (c_end == c_start) {
            return atv_err_set(err, ATV_E_PARSE, "at-uri: empty collection at offset %zu", c_start);
        }
        rc = atv_atp_nsid_check(s + c_start, c_end - c_start, err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "at-uri collection at offset %zu", c_start);
            return rc;
        }
        if (c_end < query) {
            size_t r_start = c_end + 1;
            size_t r_end = find_byte(s, r_start, query, '/');
            if (r_end == r_start) {
                return atv_err_set(err, ATV_E_PARSE, "at-uri: empty record key at offset %zu",
                                   r_start);
            }
            if (r_end < query) {
                return atv_err_set(err, ATV_E_PARSE,
                                   "at-uri: path has more than two segments (offset %zu)", r_end);
            }
            rc = atv_atp_rkey_check(s + r_start, r_end - r_start, err);
            if (rc != ATV_OK) {
                atv_err_prefix(err, "at-uri record key at offset %zu", r_start);
                return rc;
            }
        }
    }
    if (query < frag) {
        if (query + 1 == frag) {
            return atv_err_set(err, ATV_E_PARSE, "at-uri: empty query at offset %zu", query);
        }
        rc = uri_part_check("at-uri query", s, query + 1, frag, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    if (frag < n) {
        if (frag + 1 == n || s[frag + 1] != '/') {
            return atv_err_set(
                err, ATV_E_PARSE,
                "at-uri: fragment at offset %zu must be non-empty and start with '/'", frag);
        }
        rc = uri_part_check("at-uri fragment", s, frag + 1, n, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

/* ---- datetime ----------------------------------------------------------- */

/* Reads `count` decimal digits at s[off..]; the caller has checked the length. */
static int read_digits(const char *s, size_t off, size_t count, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = off; i < off + count; i++) {
        unsigned char c = byte_at(s, i);
        if (!is_digit(c)) {
            return 0;
        }
        v = v * 10u + (unsigned)(c - '0');
    }
    *out = v;
    return 1;
}

static unsigned days_in_month(unsigned year, unsigned month)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* Proleptic Gregorian calendar (ISO 8601): year 0000 is a leap year. */
    int leap = (year % 4u == 0 && year % 100u != 0) || year % 400u == 0;
    if (month == 2 && leap) {
        return 29;
    }
    return days[month - 1];
}

/* Minutes from the start of the (local) year to the given date and time. */
static unsigned long minutes_into_year(unsigned year, unsigned month, unsigned day, unsigned hour,
                                       unsigned minute)
{
    unsigned long days = day - 1u;
    for (unsigned m = 1; m < month; m++) {
        days += days_in_month(year, m);
    }
    return (days * 24ul + hour) * 60ul + minute;
}

/* The fixed-width "YYYY-MM-DDTHH:MM:SS" head (RFC 3339 5.6 full-date "T"
 * partial-time, with the four-digit year and upper-case 'T' the lexicon
 * datetime spec requires). Fills f[0..5] with year, month, day, hour, minute,
 * second. */
static enum atv_status datetime_head(const char *s, unsigned f[6], struct atv_err *err)
{
    static const struct {
        unsigned char off, width;
        char sep; /* the byte after the field, 0 for none */
    } layout[6] = {{0, 4, '-'}, {5, 2, '-'}, {8, 2, 'T'}, {11, 2, ':'}, {14, 2, ':'}, {17, 2, 0}};

    for (size_t k = 0; k < 6; k++) {
        size_t off = layout[k].off;
        size_t end = off + layout[k].width;
        if (!read_digits(s, off, layout[k].width, &f[k])) {
            return atv_err_set(err, ATV_E_PARSE,
                               "datetime: want %u digits at offset %zu (YYYY-MM-DDTHH:MM:SS)",
                               (unsigned)layout[k].width, off);
        }
        if (layout[k].sep != 0 && s[end] != layout[k].sep) {
            return atv_err_set(err, ATV_E_PARSE, "datetime: want '%c' at offset %zu, got 0x%02x",
                               layout[k].sep, end, (unsigned)byte_at(s, end));
        }
    }
    return ATV_OK;
}

/* lexicon datetime: RFC 3339 with ISO 8601 restrictions. Whole seconds are
 * required, fractional seconds optional (at least one digit after '.'),
 * upper-case 'T' and 'Z', a timezone is mandatory: 'Z' or +hh:mm / -hh:mm,
 * but not "-00:00" (RFC 3339 4.3 "unknown local offset"). The fields must
 * name a real instant: month 01-12, day within the month, hour 00-23, minute
 * and second 00-59 (leap second 60 is refused, as the reference parsers
 * refuse it), offset hour 00-23 and minute 00-59; and the instant must not
 * normalise to before 0000-01-01T00:00:00Z (fixture datetime_parse_invalid). */
enum atv_status atv_atp_datetime_check(const char *s, size_t n, struct atv_err *err)
{
    static const size_t head_len = 19; /* "YYYY-MM-DDTHH:MM:SS" */
    unsigned f[6] = {0};
    unsigned oh = 0;
    unsigned om = 0;
    int east = 0;
    enum atv_status rc;

    if (s == NULL && n > 0) {
        return null_input(err, "datetime");
    }
    if (n > SYNTAX_MAX_DATETIME) {
        return atv_err_set(err, ATV_E_LIMIT, "datetime: %zu bytes, max %u", n, SYNTAX_MAX_DATETIME);
    }
    if (n < head_len + 1) {
        return atv_err_set(err, ATV_E_PARSE, "datetime: %zu bytes, at least %zu required", n,
                           head_len + 1);
    }
    rc = datetime_head(s, f, err);
    if (rc != ATV_OK) {
        return rc;
    }
    size_t i = head_len;
    if (s[i] == '.') {
        size_t digits_start = ++i;
        while (i < n && is_digit(byte_at(s, i))) {
            i++;
        }
        if (i == digits_start) {
            return atv_err_set(err, ATV_E_PARSE,
                               "datetime: no digit after the decimal point at offset %zu", i - 1);
        }
    }
    /* time-offset = "Z" / time-numoffset (RFC 3339 5.6). */
    if (n - i == 1 && s[i] == 'Z') {
        /* UTC */
    } else if (n - i == 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
               read_digits(s, i + 1, 2, &oh) && read_digits(s, i + 4, 2, &om)) {
        east = s[i] == '+';
        if (!east && oh == 0 && om == 0) {
            return atv_err_set(err, ATV_E_PARSE, "datetime: offset -00:00 is not allowed");
        }
        if (oh > 23 || om > 59) {
            return atv_err_set(err, ATV_E_PARSE, "datetime: offset %02u:%02u out of range", oh, om);
        }
    } else {
        return atv_err_set(err, ATV_E_PARSE,
                           "datetime: want timezone 'Z' or +hh:mm/-hh:mm at offset %zu", i);
    }
    if (f[1] < 1 || f[1] > 12) {
        return atv_err_set(err, ATV_E_PARSE, "datetime: month %u out of range 1-12", f[1]);
    }
    if (f[2] < 1 || f[2] > days_in_month(f[0], f[1])) {
        return atv_err_set(err, ATV_E_PARSE, "datetime: day %u out of range for month %u of %04u",
                           f[2], f[1], f[0]);
    }
    if (f[3] > 23 || f[4] > 59 || f[5] > 59) {
        return atv_err_set(err, ATV_E_PARSE, "datetime: time %02u:%02u:%02u out of range", f[3],
                           f[4], f[5]);
    }
    /* Year 0000 with an eastern offset can fall before year 0 in UTC. */
    if (f[0] == 0 && east && minutes_into_year(f[0], f[1], f[2], f[3], f[4]) < oh * 60ul + om) {
        return atv_err_set(err, ATV_E_PARSE, "datetime: normalises to before year 0000");
    }
    return ATV_OK;
}

/* ---- record AT-URI ------------------------------------------------------ */

/* Copies s[off..off+len) into dst (cap bytes) with a NUL. len < cap follows
 * from the syntax checks against the same caps; a failure here is a bug. */
static enum atv_status copy_part(char *dst, size_t cap, const char *s, size_t off, size_t len,
                                 struct atv_err *err)
{
    if (len >= cap) {
        return atv_err_set(err, ATV_E_INTERNAL, "record uri: part of %zu bytes, cap %zu", len, cap);
    }
    memcpy(dst, s + off, len);
    dst[len] = '\0';
    return ATV_OK;
}

static enum atv_status record_uri_split(const char *s, size_t n, size_t *d_end, size_t *c_end,
                                        struct atv_err *err)
{
    static const char prefix[] = "at://did:";
    const size_t plen = sizeof prefix - 1;
    const size_t slen = 5; /* "at://" */

    /* at-uri-scheme spec: "In current atproto Lexicon use, the query and
     * fragment parts are not yet supported". */
    size_t extra = find_byte(s, 0, find_byte(s, 0, n, '#'), '?');
    if (extra < n) {
        return atv_err_set(err, ATV_E_PARSE,
                           "record uri: query or fragment not allowed (offset %zu)", extra);
    }
    if (n < slen || memcmp(s, prefix, slen) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "record uri: must start with \"at://\"");
    }
    /* The repository must be named by its DID: a handle is mutable, and a
     * proof binds a record to a DID. */
    if (n < plen || memcmp(s, prefix, plen) != 0) {
        return atv_err_set(err, ATV_E_PARSE, "record uri: authority must be a DID, not a handle");
    }
    *d_end = find_byte(s, slen, n, '/');
    if (*d_end == n) {
        return atv_err_set(err, ATV_E_PARSE, "record uri: missing collection and record key");
    }
    *c_end = find_byte(s, *d_end + 1, n, '/');
    if (*c_end == n) {
        return atv_err_set(err, ATV_E_PARSE, "record uri: missing record key");
    }
    size_t more = find_byte(s, *c_end + 1, n, '/');
    if (more < n) {
        return atv_err_set(err, ATV_E_PARSE,
                           "record uri: path has more than two segments (offset %zu)", more);
    }
    return ATV_OK;
}

/* at-uri-scheme spec, restricted form "at://" DID "/" NSID "/" RKEY. */
enum atv_status atv_atp_record_uri_parse(const char *s, struct atv_record_uri *out,
                                         struct atv_err *err)
{
    const size_t slen = 5; /* "at://" */
    size_t n;
    size_t d_end = 0;
    size_t c_end = 0;
    enum atv_status rc = ATV_OK;

    if (out != NULL) {
        memset(out, 0, sizeof *out);
    }
    if (s == NULL || out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "record uri: NULL argument");
    }
    n = strnlen(s, (size_t)ATV_MAX_ATURI + 1);
    if (n > ATV_MAX_ATURI) {
        return atv_err_set(err, ATV_E_LIMIT, "record uri: longer than %u bytes", ATV_MAX_ATURI);
    }
    rc = record_uri_split(s, n, &d_end, &c_end, err);
    if (rc != ATV_OK) {
        goto out;
    }
    /* The general checker validates the DID, the NSID and the record key. */
    rc = atv_atp_aturi_check(s, n, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = copy_part(out->did, sizeof out->did, s, slen, d_end - slen, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = copy_part(out->collection, sizeof out->collection, s, d_end + 1, c_end - d_end - 1, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = copy_part(out->rkey, sizeof out->rkey, s, c_end + 1, n - c_end - 1, err);
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    return rc;
}
