/* policy/policy.c: loading, the implicit trustedDIDs policy, scope matching
 * and the decisions (see policy.h).
 *
 * Dependency direction: policy.c -> schema.c (pol_build, pol_policy_free,
 * the datetimes) -> parse.c (the tree, messages). schema.c never calls back
 * here: it builds and frees the struct, this file only reads it. */
#include "atproto/atproto.h"
#include "policy/policy_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The implicit policy of a plain `trustedDIDs` list. "**" rather than "*":
 * the list has no notion of scope, so it covers every name, paths with '/'
 * included. */
#define POL_IMPLICIT_NAME "trustedDIDs"
#define POL_IMPLICIT_SCOPE "**"

void atv_policy_free(struct atv_policy *p)
{
    pol_policy_free(p);
}

enum atv_status atv_policy_parse(struct atv_bytes text, struct atv_policy **out,
                                 struct atv_err *err)
{
    struct pol_node *root = NULL;
    enum atv_status rc;

    if (out == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_parse: out is NULL");
    }
    *out = NULL;
    if (text.ptr == NULL && text.len > 0) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_parse: NULL text of %zu bytes",
                           text.len);
    }
    rc = pol_tree_parse(text, &root, err);
    if (rc == ATV_OK) {
        rc = pol_build(root, out, err);
    }
    pol_tree_free(root);
    return rc;
}

enum atv_status atv_policy_load_file(const char *path, struct atv_policy **out,
                                     struct atv_err *err)
{
    struct atv_buf b;
    enum atv_status rc;

    if (out == NULL || path == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_load_file: NULL argument");
    }
    *out = NULL;
    atv_buf_init(&b, ATV_POLICY_MAX_FILE);
    rc = atv_buf_read_file(&b, path, err); /* names the path itself */
    if (rc != ATV_OK) {
        goto out;
    }
    rc = atv_policy_parse(atv_buf_view(&b), out, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "%s", path);
    }
out:
    atv_buf_cleanup(&b);
    return rc;
}

enum atv_status atv_policy_from_dids(const char *const *dids, size_t n, struct atv_policy **out,
                                     struct atv_err *err)
{
    struct atv_policy *p = NULL;
    struct pol_rule *r;
    struct pol_item *it;
    enum atv_status rc = ATV_OK;

    if (out == NULL || (dids == NULL && n > 0)) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_from_dids: NULL argument");
    }
    *out = NULL;
    if (n > ATV_POLICY_MAX_DIDS) {
        return atv_err_set(err, ATV_E_LIMIT, "trustedDIDs: %zu DIDs, max %u", n,
                           ATV_POLICY_MAX_DIDS);
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        goto out;
    }
    p->rules = calloc(1, sizeof *p->rules);
    if (p->rules == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        goto out;
    }
    p->nrules = 1;
    r = &p->rules[0];
    memcpy(r->name, POL_IMPLICIT_NAME, sizeof POL_IMPLICIT_NAME);
    r->action = ATV_POLICY_ENFORCE;
    r->scope = strdup(POL_IMPLICIT_SCOPE);
    if (r->scope == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        goto out;
    }
    r->items = calloc(1, sizeof *r->items);
    if (r->items == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        goto out;
    }
    r->nitems = 1;
    it = &r->items[0];
    it->require_signature = 1;
    it->min_signatures = 1;
    it->own_dids = 1;
    if (n > 0) {
        it->dids = calloc(n, sizeof *it->dids);
        if (it->dids == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
            goto out;
        }
    }
    for (size_t k = 0; k < n; k++) {
        const char *d = dids[k];
        if (d == NULL) {
            rc = atv_err_set(err, ATV_E_USAGE, "trustedDIDs[%zu]: NULL", k);
            goto out;
        }
        rc = atv_atp_did_check(d, strlen(d), err);
        if (rc != ATV_OK) {
            atv_err_prefix(err, "trustedDIDs[%zu]", k);
            goto out;
        }
        /* A repeated DID changes nothing, and the CLI counts distinct DIDs anyway. */
        int dup = 0;
        for (size_t j = 0; j < it->ndids; j++) {
            dup |= strcmp(it->dids[j], d) == 0;
        }
        if (dup) {
            continue;
        }
        it->dids[it->ndids] = strdup(d);
        if (it->dids[it->ndids] == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
            goto out;
        }
        it->ndids++;
    }
    *out = p;
    p = NULL;
out:
    pol_policy_free(p);
    return rc;
}

/* ---- glob ----------------------------------------------------------------------- */

/* Dynamic programming over (glob position, string position): m[j] says the
 * glob read so far matches the first j bytes of s. Each glob token updates
 * the row in one pass, so the cost is O(|glob| * |s|) whatever the pattern
 * ("********a" against a long string included), with no recursion.
 * A run of two or more '*' is one "**". Allocation failure means no match
 * (fail closed: no policy applies, nothing is trusted). */
int atv_policy_glob_match(const char *glob, const char *s)
{
    if (glob == NULL || s == NULL) {
        return 0;
    }
    size_t n = strlen(s);
    unsigned char *m = malloc(n + 1);
    if (m == NULL) {
        return 0;
    }
    memset(m, 0, n + 1);
    m[0] = 1;
    for (size_t g = 0; glob[g] != '\0'; g++) {
        char c = glob[g];
        if (c == '*') {
            int dstar = glob[g + 1] == '*';
            while (glob[g + 1] == '*') {
                g++;
            }
            /* m'[j] = m[j] or (m'[j-1] and s[j-1] may be absorbed) */
            for (size_t j = 1; j <= n; j++) {
                if (m[j] == 0 && m[j - 1] != 0 && (dstar || s[j - 1] != '/')) {
                    m[j] = 1;
                }
            }
        } else {
            /* m'[j] = m[j-1] and s[j-1] matches c; right to left so that
             * m[j-1] is still the previous row when it is read. */
            for (size_t j = n; j >= 1; j--) {
                int ok = c == '?' ? s[j - 1] != '/' : s[j - 1] == c;
                m[j] = (unsigned char)(m[j - 1] != 0 && ok);
            }
            m[0] = 0;
        }
    }
    int r = m[n] != 0;
    free(m);
    return r;
}

/* ---- decisions ------------------------------------------------------------------- */

static const struct pol_rule *rule_for(const struct atv_policy *p, const char *name)
{
    if (p == NULL || name == NULL) {
        return NULL;
    }
    for (size_t k = 0; k < p->nrules; k++) {
        if (atv_policy_glob_match(p->rules[k].scope, name)) {
            return &p->rules[k];
        }
    }
    return NULL;
}

/* With no match the fields say what a denial needs (enforce, a signature),
 * so a caller that forgets to look at `matched` still fails closed. */
static void fill_scope(const struct pol_rule *r, struct atv_policy_scope *out)
{
    memset(out, 0, sizeof *out);
    out->action = ATV_POLICY_ENFORCE;
    out->require_signature = 1;
    out->min_signatures = 1;
    if (r == NULL) {
        return;
    }
    out->matched = 1;
    memcpy(out->name, r->name, sizeof out->name);
    out->action = r->action;
    out->require_signature = 0;
    out->min_signatures = 0;
    out->n_items = r->nitems;
    for (size_t k = 0; k < r->nitems; k++) {
        const struct pol_item *it = &r->items[k];
        if (!it->require_signature) {
            continue;
        }
        out->require_signature = 1;
        if (it->min_signatures > out->min_signatures) {
            out->min_signatures = it->min_signatures;
        }
    }
}

void atv_policy_scope_for(const struct atv_policy *p, const char *name,
                          struct atv_policy_scope *out)
{
    if (out == NULL) {
        return;
    }
    fill_scope(rule_for(p, name), out);
}

static const struct pol_did *top_did(const struct atv_policy *p, const char *did)
{
    for (size_t k = 0; k < p->ndids; k++) {
        if (strcmp(p->dids[k].did, did) == 0) {
            return &p->dids[k];
        }
    }
    return NULL;
}

/* Does the item list did (its own list, or the top-level map)? */
static int item_lists(const struct atv_policy *p, const struct pol_item *it, const char *did)
{
    if (!it->own_dids) {
        return top_did(p, did) != NULL;
    }
    for (size_t k = 0; k < it->ndids; k++) {
        if (strcmp(it->dids[k], did) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Window of a DID at now: 0 inside, -1 before validFrom, 1 at or after
 * expiresAt. validFrom <= now < expiresAt in whole seconds (pol_time_ceil);
 * a DID without a map entry has no window. */
static int window_at(const struct pol_did *d, int64_t now)
{
    if (d != NULL && d->has_from && now < pol_time_ceil(&d->from)) {
        return -1;
    }
    if (d != NULL && d->has_until && now >= pol_time_ceil(&d->until)) {
        return 1;
    }
    return 0;
}

enum atv_status atv_policy_check_did(const struct atv_policy *p, const char *name,
                                     const char *did, int64_t now, struct atv_policy_scope *scope,
                                     struct atv_err *err)
{
    struct atv_policy_scope local;
    struct atv_policy_scope *sc = scope != NULL ? scope : &local;
    const struct pol_rule *r = rule_for(p, name);
    const struct pol_did *d = NULL;
    char ds[96];
    char rs[128];

    fill_scope(r, sc);
    if (p == NULL || name == NULL || did == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_check_did: NULL argument");
    }
    /* DIDs and names come from the artifact and the request: shown sanitised. */
    pol_sanitize(did, strlen(did), ds, sizeof ds);
    if (r == NULL) {
        pol_sanitize(name, strlen(name), rs, sizeof rs);
        return atv_err_setr(err, ATV_E_VERIFY, "no_policy",
                            "no policy's scope matches \"%s\" (DID %s)", rs, ds);
    }
    /* The window belongs to the DID (the top-level map), not to the item, so
     * it is the same for every item that lists the DID: one listing suffices. */
    int listed = 0;
    for (size_t k = 0; k < r->nitems && !listed; k++) {
        listed = r->items[k].require_signature && item_lists(p, &r->items[k], did);
    }
    if (!listed) {
        return atv_err_setr(err, ATV_E_VERIFY, "untrusted_did",
                            "policy \"%s\": DID %s is not trusted", r->name, ds);
    }
    d = top_did(p, did);
    int w = window_at(d, now);
    if (w < 0) {
        return atv_err_setr(err, ATV_E_VERIFY, "did_not_yet_valid",
                            "policy \"%s\": DID %s is not valid before %s", r->name, ds,
                            d->from.text);
    }
    if (w > 0) {
        return atv_err_setr(err, ATV_E_VERIFY, "did_expired",
                            "policy \"%s\": DID %s expired at %s", r->name, ds, d->until.text);
    }
    return ATV_OK;
}

int atv_policy_has_pins(const struct atv_policy *p, const char *did)
{
    const struct pol_did *d = p != NULL && did != NULL ? top_did(p, did) : NULL;
    return d != NULL && d->nkeys > 0;
}

enum atv_status atv_policy_check_key(const struct atv_policy *p, const char *did,
                                     const struct atv_pubkey *key, struct atv_err *err)
{
    const struct pol_did *d;
    char ds[96];
    char ks[ATV_MAX_MULTIBASE + 16];
    struct atv_err sub;

    if (p == NULL || did == NULL || key == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_check_key: NULL argument");
    }
    d = top_did(p, did);
    if (d == NULL || d->nkeys == 0) {
        return ATV_OK; /* no pins: the key the DID's identity names */
    }
    for (size_t k = 0; k < d->nkeys; k++) {
        if (atv_atp_key_eq(&d->keys[k], key)) {
            return ATV_OK;
        }
    }
    pol_sanitize(did, strlen(did), ds, sizeof ds);
    atv_err_clear(&sub);
    if (atv_atp_key_to_didkey(key, ks, sizeof ks, &sub) != ATV_OK) {
        (void)snprintf(ks, sizeof ks, "(a %s key)", atv_atp_key_type_name(key->type));
    }
    if (d->nkeys == 1) {
        return atv_err_setr(err, ATV_E_VERIFY, "key_not_pinned",
                            "DID %s: its #atproto key %s is not the key its trustedDIDs entry "
                            "pins",
                            ds, ks);
    }
    return atv_err_setr(err, ATV_E_VERIFY, "key_not_pinned",
                        "DID %s: its #atproto key %s is not one of the %zu keys its trustedDIDs "
                        "entry pins",
                        ds, ks, d->nkeys);
}

/* Is did among the first n of dids? (so a repeated DID counts once) */
static int seen_before(const char *const *dids, size_t n, const char *did)
{
    for (size_t k = 0; k < n; k++) {
        if (dids[k] != NULL && strcmp(dids[k], did) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Distinct DIDs of the given set that the item lists and that are inside
 * their window at now (at most the item's own distinct DIDs, or the map's:
 * <= ATV_POLICY_MAX_DIDS, so no overflow). */
static unsigned item_have(const struct atv_policy *p, const struct pol_item *it,
                          const char *const *dids, size_t n_dids, int64_t now)
{
    unsigned have = 0;
    for (size_t k = 0; k < n_dids; k++) {
        const char *did = dids[k];
        if (did == NULL || seen_before(dids, k, did) || !item_lists(p, it, did)) {
            continue;
        }
        if (window_at(top_did(p, did), now) == 0) {
            have++;
        }
    }
    return have;
}

void atv_policy_evaluate(const struct atv_policy *p, const char *name, const char *const *dids,
                         size_t n_dids, int64_t now, struct atv_policy_outcome *out)
{
    const struct pol_rule *r;
    size_t best = 0;
    unsigned best_want = 0;

    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof *out);
    if (dids == NULL) {
        n_dids = 0; /* misuse: nothing verified */
    }
    r = rule_for(p, name);
    if (r == NULL) {
        char rs[128];
        pol_sanitize(name, name != NULL ? strlen(name) : 0, rs, sizeof rs);
        (void)snprintf(out->message, sizeof out->message, "no policy's scope matches \"%s\"",
                       rs);
        return;
    }
    out->matched = 1;
    for (size_t k = 0; k < r->nitems; k++) {
        const struct pol_item *it = &r->items[k];
        unsigned want = it->require_signature ? it->min_signatures : 0;
        unsigned have = it->require_signature ? item_have(p, it, dids, n_dids, now) : 0;
        if (have < want) {
            out->item = k;
            out->have = have;
            out->want = want;
            (void)snprintf(out->message, sizeof out->message,
                           "policy %s: require[%zu] needs %u signer%s among its trusted DIDs, "
                           "%u verified",
                           r->name, k, want, want == 1 ? "" : "s", have);
            return;
        }
        if (k == 0 || want > best_want) {
            best = k;
            best_want = want;
        }
    }
    out->met = 1;
    out->want = best_want;
    out->have = best_want > 0 ? item_have(p, &r->items[best], dids, n_dids, now) : 0;
}
