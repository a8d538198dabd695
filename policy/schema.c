/* policy/schema.c: the trust-policy format (policy.h), checked once over the
 * pol_node tree that both YAML and JSON produce, and the owner of the built
 * struct atv_policy (pol_build, pol_policy_free) and of its datetimes.
 *
 * Dependency direction: policy.c -> schema.c -> parse.c (messages). Nothing
 * here calls into policy.c, so the format can be read without the decisions.
 *
 * Order of checks for each field: presence, type, length or range, syntax
 * (atv_atp_did_check, atv_atp_datetime_check), then relations between fields
 * (validFrom <= expiresAt, unique names, unique DIDs, minSignatures reachable).
 * Every failure names the field's path; YAML adds the line.
 */
#include "atproto/atproto.h"
#include "policy/policy_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(enum pol_kind k)
{
    switch (k) {
    case POL_MAP:
        return "a mapping";
    case POL_SEQ:
        return "a sequence";
    case POL_STR:
        return "a string";
    case POL_BOOL:
        return "a boolean";
    case POL_INT:
        return "an integer";
    case POL_NULL:
        return "null";
    case POL_NUM:
        return "a non-integer number";
    case POL_OTHER:
        return "an ambiguous plain scalar (quote strings)";
    default:
        return "an unknown value";
    }
}

static enum atv_status want(struct atv_err *err, const struct pol_node *n, enum pol_kind k)
{
    if (n->kind == k) {
        return ATV_OK;
    }
    return pol_fail(err, ATV_E_PARSE, n, "want %s, got %s", kind_name(k), kind_name(n->kind));
}

/* A string field of 1..max bytes without control characters (names are
 * reported back in verdicts and logs). Over max is ATV_E_LIMIT (policy.h caps). */
static enum atv_status want_text(struct atv_err *err, const struct pol_node *n, size_t max)
{
    enum atv_status rc = want(err, n, POL_STR);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n->len == 0) {
        return pol_fail(err, ATV_E_PARSE, n, "empty string");
    }
    if (n->len > max) {
        return pol_fail(err, ATV_E_LIMIT, n, "%zu bytes, max %zu", n->len, max);
    }
    for (size_t k = 0; k < n->len; k++) {
        unsigned char c = (unsigned char)n->text[k];
        if (c < 0x20 || c == 0x7f) {
            return pol_fail(err, ATV_E_PARSE, n, "control character 0x%02x at offset %zu", c, k);
        }
    }
    return ATV_OK;
}

static enum atv_status want_did(struct atv_err *err, const struct pol_node *at, const char *s)
{
    struct atv_err sub;

    atv_err_clear(&sub);
    enum atv_status rc = atv_atp_did_check(s, strlen(s), &sub);
    if (rc != ATV_OK) {
        return pol_fail(err, rc == ATV_E_LIMIT ? ATV_E_LIMIT : ATV_E_PARSE, at, "bad DID: %s",
                        sub.msg);
    }
    return ATV_OK;
}

static enum atv_status unknown_key(struct atv_err *err, const struct pol_node *val)
{
    return pol_fail_key(err, ATV_E_PARSE, val, "unknown key");
}

static enum atv_status missing_key(struct atv_err *err, const struct pol_node *map,
                                   const char *key)
{
    return pol_fail(err, ATV_E_PARSE, map, "missing required key \"%s\"", key);
}

/* ---- the built struct -------------------------------------------------------- */

static void item_free(struct pol_item *it)
{
    for (size_t j = 0; j < it->ndids; j++) {
        free(it->dids[j]);
    }
    free(it->dids);
}

void pol_policy_free(struct atv_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t k = 0; k < p->ndids; k++) {
        free(p->dids[k].did);
        free(p->dids[k].name);
        free(p->dids[k].keys);
    }
    free(p->dids);
    for (size_t k = 0; k < p->nrules; k++) {
        struct pol_rule *r = &p->rules[k];
        for (size_t j = 0; j < r->nitems; j++) {
            item_free(&r->items[j]);
        }
        free(r->items);
        free(r->scope);
    }
    free(p->rules);
    free(p);
}

/* ---- datetimes --------------------------------------------------------------- */

static unsigned digits_at(const char *s, size_t off, size_t w)
{
    unsigned v = 0;
    for (size_t k = 0; k < w; k++) {
        v = v * 10u + (unsigned)(s[off + k] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): shift the year to start in March so the leap day is last,
 * then count 400-year eras of 146097 days. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2 ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9;
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

enum atv_status pol_time_parse(const char *s, size_t n, struct pol_time *out, struct atv_err *err)
{
    memset(out, 0, sizeof *out);
    enum atv_status rc = atv_atp_datetime_check(s, n, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n > POL_MAX_DATETIME) {
        return atv_err_set(err, ATV_E_LIMIT, "datetime: %zu bytes, max %u", n, POL_MAX_DATETIME);
    }
    /* The check above fixed the layout: YYYY-MM-DDTHH:MM:SS[.fff...](Z|+hh:mm|-hh:mm). */
    int64_t days = days_from_civil((int64_t)digits_at(s, 0, 4), digits_at(s, 5, 2),
                                   digits_at(s, 8, 2));
    int64_t secs = days * 86400 + (int64_t)digits_at(s, 11, 2) * 3600 +
                   (int64_t)digits_at(s, 14, 2) * 60 + (int64_t)digits_at(s, 17, 2);
    size_t i = 19;
    if (s[i] == '.') {
        uint32_t scale = 100000000u;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            uint32_t d = (uint32_t)(s[i] - '0');
            if (scale > 0) {
                out->nsec += d * scale;
                scale /= 10u;
            } else if (d != 0) {
                out->more = 1;
            }
        }
    }
    if (s[i] != 'Z') {
        /* RFC 3339 5.6: local time = UTC + offset, so UTC = local - offset. */
        int64_t off = (int64_t)digits_at(s, i + 1, 2) * 3600 + (int64_t)digits_at(s, i + 4, 2) * 60;
        secs -= s[i] == '+' ? off : -off;
    }
    out->sec = secs;
    memcpy(out->text, s, n);
    out->text[n] = '\0';
    return ATV_OK;
}

int pol_time_cmp(const struct pol_time *a, const struct pol_time *b)
{
    if (a->sec != b->sec) {
        return a->sec < b->sec ? -1 : 1;
    }
    if (a->nsec != b->nsec) {
        return a->nsec < b->nsec ? -1 : 1;
    }
    return a->more - b->more;
}

int64_t pol_time_ceil(const struct pol_time *t)
{
    return t->sec + ((t->nsec > 0 || t->more) ? 1 : 0);
}

static enum atv_status want_time(struct atv_err *err, const struct pol_node *n,
                                 struct pol_time *t)
{
    struct atv_err sub;
    enum atv_status rc = want(err, n, POL_STR);
    if (rc != ATV_OK) {
        return rc;
    }
    atv_err_clear(&sub);
    rc = pol_time_parse(n->text, n->len, t, &sub);
    if (rc != ATV_OK) {
        return pol_fail(err, rc == ATV_E_LIMIT ? ATV_E_LIMIT : ATV_E_PARSE, n, "bad %s",
                        sub.msg);
    }
    return ATV_OK;
}

/* ---- top-level trustedDIDs ------------------------------------------------------ */

/* One pinned key, as written: "did:key:z..." (did:key method spec), or the
 * bare multibase a DID document's publicKeyMultibase holds: Multikey
 * ("z" + base58btc(multicodec || compressed point)), or the legacy form
 * ("z" + base58btc(04 || X || Y), no multicodec), whose curve is the one the
 * point lies on. Only K-256 and P-256 (atproto cryptography spec). Every
 * failure is the caller's ATV_E_PARSE: a string that is no key cannot pin one. */
static enum atv_status parse_pin(const char *s, struct atv_pubkey *out, struct atv_err *err)
{
    struct atv_pubkey k256, p256;
    struct atv_err sub, e2;
    enum atv_status rc;

    if (strncmp(s, "did:key:", 8) == 0) {
        return atv_atp_key_parse_didkey(s, out, err);
    }
    atv_err_clear(&sub);
    rc = atv_atp_key_parse_multikey(s, out, &sub);
    if (rc == ATV_OK) {
        return ATV_OK;
    }
    atv_err_clear(&e2);
    int on_k256 = atv_atp_key_parse_legacy(ATV_KEY_K256, s, &k256, &e2) == ATV_OK;
    atv_err_clear(&e2);
    int on_p256 = atv_atp_key_parse_legacy(ATV_KEY_P256, s, &p256, &e2) == ATV_OK;
    if (on_k256 && on_p256) {
        /* a point on both curves: no way to tell which key is meant */
        return atv_err_set(err, ATV_E_PARSE, "legacy key: the point is on both K-256 and P-256");
    }
    if (on_k256 || on_p256) {
        *out = on_k256 ? k256 : p256;
        return ATV_OK;
    }
    /* the Multikey reason: the form a key is written in today */
    return atv_err_set(err, rc, "%s (nor a legacy uncompressed K-256 or P-256 point)", sub.msg);
}

/* `keys`: a sequence of 1..ATV_POLICY_MAX_KEYS distinct keys (compared as
 * keys, so one point written twice in two encodings is a duplicate). */
static enum atv_status build_keys(const struct pol_node *n, struct pol_did *d, struct atv_err *err)
{
    enum atv_status rc = want(err, n, POL_SEQ);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n->n == 0) {
        return pol_fail(err, ATV_E_PARSE, n,
                        "empty list: pin at least one key, or leave keys out (any key)");
    }
    if (n->n > ATV_POLICY_MAX_KEYS) {
        return pol_fail(err, ATV_E_LIMIT, n, "%zu keys, max %u", n->n, ATV_POLICY_MAX_KEYS);
    }
    d->keys = calloc(n->n, sizeof *d->keys);
    if (d->keys == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    for (size_t k = 0; k < n->n; k++) {
        const struct pol_node *v = n->items[k].val;
        struct atv_err sub;
        rc = want(err, v, POL_STR);
        if (rc != ATV_OK) {
            return rc;
        }
        atv_err_clear(&sub);
        if (parse_pin(v->text, &d->keys[d->nkeys], &sub) != ATV_OK) {
            return pol_fail(err, ATV_E_PARSE, v,
                            "bad key (want did:key:z... or a publicKeyMultibase z...): %s",
                            sub.msg);
        }
        for (size_t j = 0; j < d->nkeys; j++) {
            if (atv_atp_key_eq(&d->keys[j], &d->keys[d->nkeys])) {
                return pol_fail(err, ATV_E_PARSE, v, "duplicate key (the same key as keys[%zu])",
                                j);
            }
        }
        d->nkeys++;
    }
    return ATV_OK;
}

static enum atv_status build_did(const struct pol_node *val, const char *key, struct pol_did *d,
                                 struct atv_err *err)
{
    enum atv_status rc = want_did(err, val, key);
    if (rc != ATV_OK) {
        return rc;
    }
    d->did = strdup(key);
    if (d->did == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    /* "did:plc:abc:" with nothing after it: trusted, no name, no window. */
    if (val->kind == POL_NULL) {
        return ATV_OK;
    }
    if (val->kind != POL_MAP) {
        return pol_fail(err, ATV_E_PARSE, val, "want a mapping or null, got %s",
                        kind_name(val->kind));
    }
    for (size_t k = 0; k < val->n; k++) {
        const struct pol_node *v = val->items[k].val;
        const char *f = val->items[k].key;
        if (strcmp(f, "name") == 0) {
            rc = want_text(err, v, ATV_POLICY_MAX_NAME);
            if (rc == ATV_OK) {
                d->name = strdup(v->text);
                rc = d->name == NULL ? atv_err_set(err, ATV_E_NOMEM, "policy: out of memory")
                                     : ATV_OK;
            }
        } else if (strcmp(f, "validFrom") == 0) {
            /* null (YAML null, ~, nothing; JSON null): no bound, as if absent */
            if (v->kind != POL_NULL) {
                rc = want_time(err, v, &d->from);
                d->has_from = rc == ATV_OK;
            }
        } else if (strcmp(f, "expiresAt") == 0) {
            if (v->kind != POL_NULL) {
                rc = want_time(err, v, &d->until);
                d->has_until = rc == ATV_OK;
            }
        } else if (strcmp(f, "keys") == 0) {
            rc = build_keys(v, d, err);
        } else {
            rc = unknown_key(err, v);
        }
        if (rc != ATV_OK) {
            return rc;
        }
    }
    if (d->has_from && d->has_until && pol_time_cmp(&d->from, &d->until) > 0) {
        return pol_fail(err, ATV_E_PARSE, val, "validFrom %s is after expiresAt %s",
                        d->from.text, d->until.text);
    }
    return ATV_OK;
}

static enum atv_status build_top_dids(const struct pol_node *n, struct atv_policy *p,
                                      struct atv_err *err)
{
    enum atv_status rc = want(err, n, POL_MAP);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n->n > ATV_POLICY_MAX_DIDS) {
        return pol_fail(err, ATV_E_LIMIT, n, "%zu DIDs, max %u", n->n, ATV_POLICY_MAX_DIDS);
    }
    if (n->n == 0) {
        return ATV_OK;
    }
    p->dids = calloc(n->n, sizeof *p->dids);
    if (p->dids == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    for (size_t k = 0; k < n->n; k++) {
        /* counted before building, so pol_policy_free sees a partial entry */
        p->ndids++;
        rc = build_did(n->items[k].val, n->items[k].key, &p->dids[k], err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

/* ---- policies ------------------------------------------------------------------ */

static enum atv_status build_did_list(const struct pol_node *n, struct pol_item *it,
                                      struct atv_err *err)
{
    enum atv_status rc = want(err, n, POL_SEQ);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n->n > ATV_POLICY_MAX_DIDS) {
        return pol_fail(err, ATV_E_LIMIT, n, "%zu DIDs, max %u", n->n, ATV_POLICY_MAX_DIDS);
    }
    it->own_dids = 1;
    if (n->n == 0) {
        return ATV_OK; /* an empty list trusts no one for this item */
    }
    it->dids = calloc(n->n, sizeof *it->dids);
    if (it->dids == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    for (size_t k = 0; k < n->n; k++) {
        const struct pol_node *v = n->items[k].val;
        rc = want(err, v, POL_STR);
        if (rc == ATV_OK) {
            rc = want_did(err, v, v->text);
        }
        if (rc != ATV_OK) {
            return rc;
        }
        for (size_t j = 0; j < it->ndids; j++) {
            if (strcmp(it->dids[j], v->text) == 0) {
                return pol_fail(err, ATV_E_PARSE, v, "duplicate DID (also item %zu)", j);
            }
        }
        it->dids[it->ndids] = strdup(v->text);
        if (it->dids[it->ndids] == NULL) {
            return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        }
        it->ndids++;
    }
    return ATV_OK;
}

/* One requirement: a mapping of signature, trustedDIDs, minSignatures. */
static enum atv_status build_item(const struct pol_node *n, const struct atv_policy *p,
                                  struct pol_item *it, struct atv_err *err)
{
    const struct pol_node *min = NULL;
    enum atv_status rc = want(err, n, POL_MAP);
    if (rc != ATV_OK) {
        return rc;
    }
    for (size_t k = 0; k < n->n; k++) {
        const struct pol_node *v = n->items[k].val;
        const char *f = n->items[k].key;
        if (strcmp(f, "signature") == 0) {
            rc = want(err, v, POL_BOOL);
            it->require_signature = v->b;
        } else if (strcmp(f, "trustedDIDs") == 0) {
            rc = build_did_list(v, it, err);
        } else if (strcmp(f, "minSignatures") == 0) {
            rc = want(err, v, POL_INT);
            if (rc == ATV_OK && (v->i < 1 || v->i > (int64_t)ATV_POLICY_MAX_DIDS)) {
                rc = pol_fail(err, ATV_E_PARSE, v, "%lld out of range 1..%u", (long long)v->i,
                              ATV_POLICY_MAX_DIDS);
            }
            min = v;
        } else {
            rc = unknown_key(err, v);
        }
        if (rc != ATV_OK) {
            return rc;
        }
    }
    if (min != NULL) {
        /* A count no set of signatures can reach is a configuration mistake,
         * better reported now than as a denial of every image later. */
        size_t have = it->own_dids ? it->ndids : p->ndids;
        it->min_signatures = (unsigned)min->i;
        if ((size_t)min->i > have) {
            return pol_fail(err, ATV_E_PARSE, min, "%lld but only %zu trusted DIDs",
                            (long long)min->i, have);
        }
    }
    return ATV_OK;
}

/* `require`: absent (one default item), a mapping (one item) or a list of
 * mappings (1..ATV_POLICY_MAX_REQUIRE items, all must hold). */
static enum atv_status build_require(const struct pol_node *n, const struct atv_policy *p,
                                     struct pol_rule *r, struct atv_err *err)
{
    size_t count = 1;
    enum atv_status rc;

    if (n != NULL && n->kind == POL_SEQ) {
        if (n->n == 0) {
            return pol_fail(err, ATV_E_PARSE, n,
                            "empty list: give at least one requirement, or leave require out");
        }
        if (n->n > ATV_POLICY_MAX_REQUIRE) {
            return pol_fail(err, ATV_E_LIMIT, n, "%zu requirements, max %u", n->n,
                            ATV_POLICY_MAX_REQUIRE);
        }
        count = n->n;
    } else if (n != NULL && n->kind != POL_MAP) {
        return pol_fail(err, ATV_E_PARSE, n, "want a mapping or a sequence of mappings, got %s",
                        kind_name(n->kind));
    }
    r->items = calloc(count, sizeof *r->items);
    if (r->items == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    for (size_t k = 0; k < count; k++) {
        struct pol_item *it = &r->items[k];
        /* counted before building, so pol_policy_free sees a partial item */
        r->nitems++;
        it->require_signature = 1;
        it->min_signatures = 1;
        if (n == NULL) {
            continue; /* the default: signature, the top-level map, one signer */
        }
        rc = build_item(n->kind == POL_SEQ ? n->items[k].val : n, p, it, err);
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

/* The caller matches scopes against a normalised name HOST[:PORT]/REPOSITORY
 * (policy.h), never a tag or digest, so a scope with '@', or with ':' after
 * its first '/', could match nothing: refused, with the scope it likely meant.
 * A ':' with no '/' after it ("**:latest") cannot be a port either (a name
 * always has a '/' after its host), so it is refused the same way. */
static enum atv_status check_scope_shape(const struct pol_node *scope, struct atv_err *err)
{
    const char *s = scope->text;
    const char *slash = strchr(s, '/');
    const char *last_slash = strrchr(s, '/');
    const char *at = strchr(s, '@');
    const char *colon = slash != NULL ? strchr(slash, ':') : NULL;
    const char *cut = at;

    if (colon == NULL) {
        colon = strchr(last_slash != NULL ? last_slash : s, ':');
    }
    char shown[72];
    char meant[72];

    if (colon != NULL && (cut == NULL || colon < cut)) {
        cut = colon;
    }
    if (cut == NULL) {
        return ATV_OK;
    }
    pol_sanitize(s, scope->len, shown, sizeof shown);
    pol_sanitize(s, (size_t)(cut - s), meant, sizeof meant);
    return pol_fail(err, ATV_E_PARSE, scope,
                    "\"%s\" has a tag or digest part; a scope matches HOST[:PORT]/REPOSITORY "
                    "only (write \"%s\")",
                    shown, meant);
}

static enum atv_status build_rule(const struct pol_node *n, struct atv_policy *p,
                                  struct pol_rule *r, struct atv_err *err)
{
    const struct pol_node *name = NULL;
    const struct pol_node *scope = NULL;
    const struct pol_node *require = NULL;
    const struct pol_node *action = NULL;
    enum atv_status rc = want(err, n, POL_MAP);
    if (rc != ATV_OK) {
        return rc;
    }
    r->action = ATV_POLICY_ENFORCE;
    for (size_t k = 0; k < n->n; k++) {
        const struct pol_node *v = n->items[k].val;
        const char *f = n->items[k].key;
        if (strcmp(f, "name") == 0) {
            name = v;
        } else if (strcmp(f, "scope") == 0) {
            scope = v;
        } else if (strcmp(f, "require") == 0) {
            require = v;
        } else if (strcmp(f, "action") == 0) {
            action = v;
        } else {
            return unknown_key(err, v);
        }
    }
    if (name == NULL) {
        return missing_key(err, n, "name");
    }
    rc = want_text(err, name, ATV_POLICY_MAX_NAME);
    if (rc != ATV_OK) {
        return rc;
    }
    for (size_t k = 0; k < p->nrules; k++) {
        if (strcmp(p->rules[k].name, name->text) == 0) {
            return pol_fail(err, ATV_E_PARSE, name, "duplicate policy name (also policies[%zu])",
                            k);
        }
    }
    if (name->len >= sizeof r->name) {
        return atv_err_set(err, ATV_E_INTERNAL, "policy: name length not checked");
    }
    memcpy(r->name, name->text, name->len + 1);
    if (scope == NULL) {
        return missing_key(err, n, "scope");
    }
    rc = want_text(err, scope, ATV_POLICY_MAX_SCOPE);
    if (rc != ATV_OK) {
        return rc;
    }
    /* Image references are printable ASCII without spaces (OCI distribution
     * spec grammar), so a glob with anything else can only be a mistake. */
    for (size_t k = 0; k < scope->len; k++) {
        unsigned char c = (unsigned char)scope->text[k];
        if (c <= 0x20 || c >= 0x7f) {
            return pol_fail(err, ATV_E_PARSE, scope, "byte 0x%02x at offset %zu is not allowed",
                            c, k);
        }
    }
    rc = check_scope_shape(scope, err);
    if (rc != ATV_OK) {
        return rc;
    }
    r->scope = strdup(scope->text);
    if (r->scope == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    if (action != NULL) {
        rc = want(err, action, POL_STR);
        if (rc != ATV_OK) {
            return rc;
        }
        if (strcmp(action->text, "enforce") == 0) {
            r->action = ATV_POLICY_ENFORCE;
        } else if (strcmp(action->text, "audit") == 0) {
            r->action = ATV_POLICY_AUDIT;
        } else {
            return pol_fail(err, ATV_E_PARSE, action, "want \"enforce\" or \"audit\"");
        }
    }
    return build_require(require, p, r, err);
}

static enum atv_status build_rules(const struct pol_node *n, struct atv_policy *p,
                                   struct atv_err *err)
{
    enum atv_status rc = want(err, n, POL_SEQ);
    if (rc != ATV_OK) {
        return rc;
    }
    if (n->n == 0) {
        return pol_fail(err, ATV_E_PARSE, n, "empty: at least one policy is required");
    }
    if (n->n > ATV_POLICY_MAX_POLICIES) {
        return pol_fail(err, ATV_E_LIMIT, n, "%zu policies, max %u", n->n,
                        ATV_POLICY_MAX_POLICIES);
    }
    p->rules = calloc(n->n, sizeof *p->rules);
    if (p->rules == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
    }
    for (size_t k = 0; k < n->n; k++) {
        rc = build_rule(n->items[k].val, p, &p->rules[k], err);
        /* counted after the name check compared against earlier rules only,
         * but before returning, so pol_policy_free sees a partial rule */
        p->nrules++;
        if (rc != ATV_OK) {
            return rc;
        }
    }
    return ATV_OK;
}

/* version: 1, 1.0, "1" or "1.0" (the seed writes a plain 1.0, which YAML
 * reads as a number). Other values of those types are a version we do not
 * know (ATV_E_UNSUPPORTED); other types are a mistake (ATV_E_PARSE). */
static enum atv_status check_version(const struct pol_node *v, struct atv_err *err)
{
    char t[24];

    if (v->kind == POL_INT) {
        if (v->i == 1) {
            return ATV_OK;
        }
        (void)snprintf(t, sizeof t, "%lld", (long long)v->i);
    } else if (v->kind == POL_NUM && v->has_real) {
        /* JSON keeps no text: 1.0 and 1.00 are the same real, nothing else is 1 */
        if (v->real == 1.0) {
            return ATV_OK;
        }
        (void)snprintf(t, sizeof t, "%g", v->real);
    } else if (v->kind == POL_NUM || v->kind == POL_STR) {
        if (strcmp(v->text, "1") == 0 || strcmp(v->text, "1.0") == 0) {
            return ATV_OK;
        }
        pol_sanitize(v->text, v->len, t, sizeof t);
    } else {
        return pol_fail(err, ATV_E_PARSE, v, "want a number or a string, got %s",
                        kind_name(v->kind));
    }
    return pol_fail(err, ATV_E_UNSUPPORTED, v,
                    "\"%s\": only \"1.0\" (or 1, 1.0, \"1\") is supported", t);
}

enum atv_status pol_build(const struct pol_node *root, struct atv_policy **out,
                          struct atv_err *err)
{
    const struct pol_node *dids = NULL;
    const struct pol_node *rules = NULL;
    struct atv_policy *p = NULL;
    enum atv_status rc;

    *out = NULL;
    rc = want(err, root, POL_MAP);
    if (rc != ATV_OK) {
        goto out;
    }
    for (size_t k = 0; k < root->n; k++) {
        const struct pol_node *v = root->items[k].val;
        const char *f = root->items[k].key;
        if (strcmp(f, "version") == 0) {
            rc = check_version(v, err);
        } else if (strcmp(f, "trustedDIDs") == 0) {
            dids = v;
        } else if (strcmp(f, "policies") == 0) {
            rules = v;
        } else {
            rc = unknown_key(err, v);
        }
        if (rc != ATV_OK) {
            goto out;
        }
    }
    if (rules == NULL) {
        rc = missing_key(err, root, "policies");
        goto out;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        goto out;
    }
    /* The map first: policies refer to it (fallback list, minSignatures). */
    if (dids != NULL) {
        rc = build_top_dids(dids, p, err);
        if (rc != ATV_OK) {
            goto out;
        }
    }
    rc = build_rules(rules, p, err);
    if (rc != ATV_OK) {
        goto out;
    }
    *out = p;
    p = NULL;
out:
    pol_policy_free(p);
    return rc;
}
