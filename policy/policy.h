/* policy/policy.h: the trust policy (atv_policy_*).
 *
 * Who may sign which image, and what happens when the answer is no. A policy
 * comes from one of two places, never both merged silently:
 *   - the plugin's `trustedDIDs` parameter (a plain list): one implicit
 *     policy named "trustedDIDs", scope "**" (every name, '/' included),
 *     enforce, signature required, minSignatures 1, those DIDs, no windows;
 *   - a trust-policy file (`trustPolicy` parameter, `--policy` flag) in YAML
 *     (libyaml) or JSON (jansson; a file whose first non-blank byte is '{'),
 *     in this format (the seed's example, testdata/policy/seed-example.yaml,
 *     is one):
 *
 *       version: 1.0                    # optional; 1, 1.0, "1" or "1.0"
 *       trustedDIDs:                    # optional: DIDs with validity windows
 *         did:plc:abc...:
 *           name: "Release bot"         # optional, reported
 *           validFrom: "2025-01-01T00:00:00Z"   # optional RFC 3339 (lexicon datetime);
 *           expiresAt: null                     # null/~/empty: no bound, as if absent
 *           keys: ["did:key:zQ3sh...", "zDnae..."]  # optional key pins (below)
 *       policies:                       # required, 1..ATV_POLICY_MAX_POLICIES entries
 *         - name: production            # required, unique
 *           scope: "atcr.io/acme/app*"  # required glob over the normalised name
 *           require:                    # a mapping (one requirement) or a list of
 *             - signature: true         # 1..ATV_POLICY_MAX_REQUIRE mappings, all must
 *                                       # hold; each: signature optional, default true
 *               trustedDIDs: [did:plc:abc...]   # DIDs this item trusts;
 *                                       # absent: every DID of the top-level map
 *               minSignatures: 1        # optional, default 1: distinct trusted DIDs
 *                                       # whose signatures verified
 *           action: enforce             # enforce (default) or audit
 *
 * `require` absent is one item: signature true, the top-level DIDs, minSignatures 1.
 * An item with signature: false always holds; a policy none of whose items
 * requires a signature lets the image go unsigned (nothing to verify).
 *
 * Scopes match the image's NORMALISED NAME, HOST[:PORT]/REPOSITORY (e.g.
 * "atcr.io/acme/app", "localhost:5000/atv/app", "docker.io/library/alpine"),
 * never a tag or digest: callers pass that name to every function below. So
 * a scope with '@', or with ':' after its first '/', could match nothing and
 * is ATV_E_PARSE, with a hint (write "atcr.io/acme/app", not
 * "atcr.io/acme/app:*"); a ':' before the first '/' is a port and is fine.
 * Scope glob (fnmatch-like): '*' matches any run of characters except '/',
 * '**' any run including '/', '?' one character other than '/'; everything
 * else literally. "atcr.io/acme/app*" matches "atcr.io/acme/app" and
 * "atcr.io/acme/app-canary" but not "atcr.io/acme/app/sub" ("atcr.io/acme/app**" does).
 * The first policy in file order whose scope matches applies; no match means
 * nothing is trusted (POLICY_DENIED, enforced).
 *
 * A DID named in a require item's trustedDIDs that also has an entry in the
 * top-level map takes that entry's window; one without an entry has no window.
 * Key pins: an entry's `keys`, when present, is a list of 1..ATV_POLICY_MAX_KEYS
 * K-256 or P-256 keys, each a did:key ("did:key:z...") or a bare multibase as
 * a DID document's publicKeyMultibase holds it (Multikey "z...", or the legacy
 * uncompressed point, whose curve is the one it lies on). The DID's current
 * #atproto key must then be one of them (atv_policy_check_key): the pass
 * refuses any other key with UNTRUSTED_SIGNER, detail key_not_pinned. An
 * empty list, a duplicate (the same key, in any encoding), a non-string and
 * a string that is no such key are ATV_E_PARSE naming the entry
 * (trustedDIDs["did:plc:..."].keys[1]); more than ATV_POLICY_MAX_KEYS is
 * ATV_E_LIMIT. The plain trustedDIDs list pins nothing.
 * A window is validFrom <= now < expiresAt; `now` is whole seconds, so a
 * bound with a fraction acts as the next whole second. validFrom equal to
 * expiresAt is an empty window (never trusted), not an error.
 * Parsing is strict: unknown keys, duplicate keys, wrong types, bad DIDs,
 * bad datetimes, validFrom after expiresAt, and anchors/aliases/tags in YAML
 * are ATV_E_PARSE with a message naming the field (and the line for YAML),
 * e.g. "policies[2].require[0].minSignature: unknown key at line 14". Also
 * ATV_E_PARSE: a YAML stream that is not exactly one document (empty, or a
 * second "---"), %YAML/%TAG directives, a NUL inside a string, an empty
 * policies list, an empty require list, a require item that is not a
 * mapping, a duplicate policy name, a DID listed twice in one item's
 * trustedDIDs, an explicit minSignatures above the number of DIDs the item
 * can trust, a name with control characters, a scope with bytes outside
 * printable ASCII or a space, a scope with a tag or digest part (above), a
 * version that is not a number or a string. Another version number or string
 * is ATV_E_UNSUPPORTED. Sizes and counts over the caps below are ATV_E_LIMIT.
 *
 * Types, the same in YAML and JSON: booleans are exactly true/false,
 * integers plain decimal (no sign but '-', no leading zero, no 1.0), strings
 * plain or quoted. A quoted YAML scalar is always a string ("true" is not a
 * boolean); a plain one that some YAML resolver would read as something else
 * (True, yes, off, ~, 1.0, 0x10, ...) is refused where a string is expected:
 * quote it (version is the exception: a number is fine there). A top-level
 * trustedDIDs entry may be null (YAML "did:...:" with nothing after it, JSON
 * null) or {}: trusted where listed, no name, no window.
 */
#ifndef ATV_POLICY_POLICY_H
#define ATV_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Caps (ATV_E_LIMIT past them). */
#define ATV_POLICY_MAX_FILE (256u << 10)
#define ATV_POLICY_MAX_POLICIES 256u
#define ATV_POLICY_MAX_DIDS 1024u
#define ATV_POLICY_MAX_NAME 128u
#define ATV_POLICY_MAX_SCOPE 1024u
#define ATV_POLICY_MAX_REQUIRE 16u /* items of one policy's require list */
#define ATV_POLICY_MAX_KEYS 16u    /* keys one trustedDIDs entry pins */

struct atv_pubkey; /* atproto/atproto.h */

struct atv_policy; /* opaque */

/* Parses a trust-policy document (YAML or JSON, see above).
 * Args: text  the document (ptr may be NULL only when len is 0); not retained.
 *       out   non-NULL; receives the policy.
 * Returns ATV_OK; ATV_E_PARSE, ATV_E_UNSUPPORTED, ATV_E_LIMIT (see above),
 * ATV_E_NOMEM; ATV_E_USAGE on a NULL out or text.ptr with len > 0.
 * Out: *out (new: atv_policy_free), NULL on failure. */
ATV_MUST_USE enum atv_status atv_policy_parse(struct atv_bytes text, struct atv_policy **out,
                                              struct atv_err *err);
/* Reads (capped at ATV_POLICY_MAX_FILE) and parses a file; errors name the path.
 * As atv_policy_parse, plus ATV_E_IO; ATV_E_USAGE on a NULL path or out. */
ATV_MUST_USE enum atv_status atv_policy_load_file(const char *path, struct atv_policy **out,
                                                  struct atv_err *err);
/* The implicit policy of a `trustedDIDs` list: one policy "trustedDIDs",
 * scope "**", enforce, one require item (signature, those DIDs, minSignatures
 * 1, no windows). Each DID is checked with atv_atp_did_check; repeats are
 * dropped; n may be 0, which trusts nothing. Strings are copied.
 * Returns ATV_OK; ATV_E_PARSE (a bad DID), ATV_E_LIMIT (n > ATV_POLICY_MAX_DIDS),
 * ATV_E_NOMEM; ATV_E_USAGE on a NULL out, dids NULL with n > 0, or a NULL DID.
 * Out: *out (new: atv_policy_free), NULL on failure. */
ATV_MUST_USE enum atv_status atv_policy_from_dids(const char *const *dids, size_t n,
                                                  struct atv_policy **out, struct atv_err *err);
/* Frees p; NULL is a no-op. */
void atv_policy_free(struct atv_policy *p);

enum atv_policy_action { ATV_POLICY_ENFORCE = 0, ATV_POLICY_AUDIT = 1 };

/* Which policy governs an image, before any signature is looked at. */
struct atv_policy_scope {
    int matched;                        /* 0: no policy's scope matches (deny) */
    char name[ATV_POLICY_MAX_NAME + 1]; /* the policy's name, "" when none matched */
    enum atv_policy_action action;      /* ENFORCE when none matched */
    int require_signature;              /* 1 when at least one require item has signature: true;
                                         * 0: the image needs no signature at all (no
                                         * verification, no network). 1 when none matched. */
    unsigned min_signatures;            /* the largest minSignatures over the items that require
                                         * a signature; 0 when none does; 1 when none matched */
    size_t n_items;                     /* require items; 0 when none matched */
};

/* Finds the policy for the image whose normalised name (HOST[:PORT]/REPOSITORY,
 * no tag or digest) is name.
 * Args: p, name  may be NULL (then nothing matches); out  may be NULL (then
 *       nothing happens).
 * Out: *out, always filled (matched 0 when no scope matches). */
void atv_policy_scope_for(const struct atv_policy *p, const char *name,
                          struct atv_policy_scope *out);

/* Is did trusted for the image name (normalised, as above) at time now (unix
 * seconds), by at least one require item that requires a signature?
 * Args: p, name, did  non-NULL; scope  may be NULL; err  receives the reason.
 * Returns ATV_OK when it is; ATV_E_VERIFY with err->reason set otherwise:
 *   "no_policy"       no policy's scope matches name;
 *   "untrusted_did"   no item requiring a signature lists did (a policy
 *                     whose items all have signature: false trusts no DID);
 *   "did_not_yet_valid" / "did_expired"  listed, but outside the DID's validity
 *                     window (the window belongs to the DID, so it is the same
 *                     for every item: a window reason beats untrusted_did).
 * The message names the policy, the DID and, for windows, the date.
 * ATV_E_USAGE when p, name or did is NULL.
 * Out: *scope (when not NULL) receives atv_policy_scope_for's answer, on
 * every path. */
ATV_MUST_USE enum atv_status atv_policy_check_did(const struct atv_policy *p, const char *name,
                                                  const char *did, int64_t now,
                                                  struct atv_policy_scope *scope,
                                                  struct atv_err *err);

/* Key pins: may did sign with key, its current #atproto key as identity
 * resolution found it (live, cached or from a bundle)? The pins are the
 * `keys` of did's entry in the top-level trustedDIDs map, wherever the DID is
 * trusted from (like its window); they do not depend on the image.
 * Args: p, did, key  non-NULL; key borrowed.
 * Returns ATV_OK when did has no entry, or its entry has no `keys` (nothing
 * pinned: the DID's identity names the key), or key is one of them compared
 * as keys (atv_atp_key_eq: the same curve and point, whatever encoding each
 * was written in); ATV_E_VERIFY with err->reason "key_not_pinned" otherwise,
 * the message naming the DID, the key (as did:key) and how many are pinned;
 * ATV_E_USAGE when p, did or key is NULL.
 * A policy from atv_policy_from_dids pins nothing. */
ATV_MUST_USE enum atv_status atv_policy_check_key(const struct atv_policy *p, const char *did,
                                                  const struct atv_pubkey *key,
                                                  struct atv_err *err);

/* Whether did's entry in the top-level trustedDIDs map pins keys: 1 or 0
 * (also for NULL arguments). Offline, a did:web is taken only when it does:
 * it has no self-certifying form, so the pin is the only proof a bundle can
 * be checked against. */
int atv_policy_has_pins(const struct atv_policy *p, const char *did);

/* What the policy decides for a whole image. */
struct atv_policy_outcome {
    int matched;       /* a scope matched */
    int met;           /* every require item holds */
    size_t item;       /* the first item that does not hold (0 when met) */
    unsigned have;     /* for that item (when met: for the item with the largest
                        * minSignatures): distinct DIDs of the given set it trusts
                        * and that are valid at now */
    unsigned want;     /* that item's minSignatures (0 for a signature: false item) */
    char message[256]; /* when not met, e.g. "policy production-images: require[0] needs
                        * 2 signers among its trusted DIDs, 1 verified", or "no policy's
                        * scope matches ..."; "" when met */
};

/* Decides for the image name (normalised, as above), given the DIDs whose
 * signatures verified for it.
 * Args: p, name  may be NULL (nothing matches); dids  n_dids strings, NULL
 *       entries skipped (dids NULL counts as none); duplicates are counted
 *       once; a DID the item does not list, or outside its window at now,
 *       does not count for that item; one DID may count for several items.
 *       out  may be NULL (then nothing happens).
 * An item with signature: false always holds. No scope: matched 0, met 0.
 * Out: *out, always filled. Time O(items * n_dids * (n_dids + DIDs listed)). */
void atv_policy_evaluate(const struct atv_policy *p, const char *name, const char *const *dids,
                         size_t n_dids, int64_t now, struct atv_policy_outcome *out);

/* 1 when glob matches s under the scope rules above (a run of '*' longer
 * than two is "**"). Time O(strlen(glob) * strlen(s)), no recursion; 0 when
 * either is NULL or memory runs out (fail closed: no policy applies). */
int atv_policy_glob_match(const char *glob, const char *s);

#endif
