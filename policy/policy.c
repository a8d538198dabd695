/* policy/policy.c: loading, the implicit trustedDIDs policy, scope matching
 * and the per-DID decision (see policy.h). Parsing lives in parse.c (syntax)
 * and schema.c (the format). */
#include "atproto/atproto.h"
#include "policy/policy_internal.h"

#include <stdlib.h>
#include <string.h>

/* The implicit policy of a plain `trustedDIDs` list. "**" rather than "*":
 * the list has no notion of scope, so it covers every reference, paths with
 * '/' included. */
#define POL_IMPLICIT_NAME "trustedDIDs"
#define POL_IMPLICIT_SCOPE "**"

void atv_policy_free(struct atv_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t k = 0; k < p->ndids; k++) {
        free(p->dids[k].did);
        free(p->dids[k].name);
    }
    free(p->dids);
    for (size_t k = 0; k < p->nrules; k++) {
        struct pol_rule *r = &p->rules[k];
        for (size_t j = 0; j < r->ndids; j++) {
            free(r->dids[j]);
        }
        free(r->dids);
        free(r->scope);
    }
    free(p->rules);
    free(p);
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
    r->require_signature = 1;
    r->min_signatures = 1;
    r->own_dids = 1;
    r->scope = strdup(POL_IMPLICIT_SCOPE);
    if (r->scope == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
        goto out;
    }
    if (n > 0) {
        r->dids = calloc(n, sizeof *r->dids);
        if (r->dids == NULL) {
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
        for (size_t j = 0; j < r->ndids; j++) {
            dup |= strcmp(r->dids[j], d) == 0;
        }
        if (dup) {
            continue;
        }
        r->dids[r->ndids] = strdup(d);
        if (r->dids[r->ndids] == NULL) {
            rc = atv_err_set(err, ATV_E_NOMEM, "policy: out of memory");
            goto out;
        }
        r->ndids++;
    }
    *out = p;
    p = NULL;
out:
    atv_policy_free(p);
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

static const struct pol_rule *rule_for(const struct atv_policy *p, const char *image_ref)
{
    if (p == NULL || image_ref == NULL) {
        return NULL;
    }
    for (size_t k = 0; k < p->nrules; k++) {
        if (atv_policy_glob_match(p->rules[k].scope, image_ref)) {
            return &p->rules[k];
        }
    }
    return NULL;
}

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
    out->require_signature = r->require_signature;
    out->min_signatures = r->min_signatures;
}

void atv_policy_scope_for(const struct atv_policy *p, const char *image_ref,
                          struct atv_policy_scope *out)
{
    if (out == NULL) {
        return;
    }
    fill_scope(rule_for(p, image_ref), out);
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

enum atv_status atv_policy_check_did(const struct atv_policy *p, const char *image_ref,
                                     const char *did, int64_t now, struct atv_policy_scope *scope,
                                     struct atv_err *err)
{
    struct atv_policy_scope local;
    struct atv_policy_scope *sc = scope != NULL ? scope : &local;
    const struct pol_rule *r = rule_for(p, image_ref);
    const struct pol_did *d = NULL;
    char ds[96];
    char rs[128];

    fill_scope(r, sc);
    if (p == NULL || image_ref == NULL || did == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "atv_policy_check_did: NULL argument");
    }
    /* DIDs and references come from the artifact and the request: shown sanitised. */
    pol_sanitize(did, strlen(did), ds, sizeof ds);
    if (r == NULL) {
        pol_sanitize(image_ref, strlen(image_ref), rs, sizeof rs);
        return atv_err_setr(err, ATV_E_VERIFY, "no_policy",
                            "no policy's scope matches \"%s\" (DID %s)", rs, ds);
    }
    int listed = 0;
    if (r->own_dids) {
        for (size_t k = 0; k < r->ndids && !listed; k++) {
            listed = strcmp(r->dids[k], did) == 0;
        }
    }
    d = top_did(p, did);
    if (!r->own_dids) {
        listed = d != NULL;
    }
    if (!listed) {
        return atv_err_setr(err, ATV_E_VERIFY, "untrusted_did",
                            "policy \"%s\": DID %s is not trusted", r->name, ds);
    }
    /* Window: validFrom <= now < expiresAt (whole seconds, see pol_time_ceil). */
    if (d != NULL && d->has_from && now < pol_time_ceil(&d->from)) {
        return atv_err_setr(err, ATV_E_VERIFY, "did_not_yet_valid",
                            "policy \"%s\": DID %s is not valid before %s", r->name, ds,
                            d->from.text);
    }
    if (d != NULL && d->has_until && now >= pol_time_ceil(&d->until)) {
        return atv_err_setr(err, ATV_E_VERIFY, "did_expired",
                            "policy \"%s\": DID %s expired at %s", r->name, ds, d->until.text);
    }
    return ATV_OK;
}
