/* policy/policy.h: the trust policy (atv_policy_*).
 *
 * Who may sign which image, and what happens when the answer is no. A policy
 * comes from one of two places, never both merged silently:
 *   - the plugin's `trustedDIDs` parameter (a plain list): one implicit
 *     policy named "trustedDIDs", scope "**" (every reference, '/' included),
 *     enforce, signature required, minSignatures 1, those DIDs, no windows;
 *   - a trust-policy file (`trustPolicy` parameter, `--policy` flag) in YAML
 *     (libyaml) or JSON (jansson; a file whose first non-blank byte is '{'),
 *     in this format:
 *
 *       version: "1.0"                  # optional; "1.0" is the only version
 *       trustedDIDs:                    # optional: DIDs with validity windows
 *         did:plc:abc...:
 *           name: "Release bot"         # optional, reported
 *           validFrom: "2025-01-01T00:00:00Z"   # optional RFC 3339 (lexicon datetime)
 *           expiresAt: "2027-01-01T00:00:00Z"   # optional
 *       policies:                       # required, 1..ATV_POLICY_MAX_POLICIES entries
 *         - name: production            # required, unique
 *           scope: "atcr.io/acme/app*"  # required glob over the image reference
 *           require:
 *             signature: true           # optional, default true
 *             trustedDIDs: [did:plc:abc...]   # DIDs allowed for this scope;
 *                                       # absent: every DID of the top-level map
 *             minSignatures: 1          # optional, default 1 (the CLI counts
 *                                       # distinct trusted DIDs)
 *           action: enforce             # enforce (default) or audit
 *
 * Scope glob (fnmatch-like, over the reference as given, e.g.
 * "atcr.io/alice/app@sha256:..." or "localhost:5000/app:v1"): '*' matches any
 * run of characters except '/', '**' any run including '/', '?' one character
 * other than '/'; everything else literally. The reference's tag or digest is
 * part of the string: "atcr.io/acme/app*" matches "atcr.io/acme/app:v1" and
 * "atcr.io/acme/app@sha256:..." but not "atcr.io/acme/app/sub:v1" ("atcr.io/acme/app**" does).
 * The first policy in file order whose scope matches applies; no match means
 * nothing is trusted (POLICY_DENIED, enforced).
 *
 * A DID named in a policy's require.trustedDIDs that also has an entry in the
 * top-level map takes that entry's window; one without an entry has no window.
 * A window is validFrom <= now < expiresAt; `now` is whole seconds, so a
 * bound with a fraction acts as the next whole second. validFrom equal to
 * expiresAt is an empty window (never trusted), not an error.
 * Parsing is strict: unknown keys, duplicate keys, wrong types, bad DIDs,
 * bad datetimes, validFrom after expiresAt, and anchors/aliases/tags in YAML
 * are ATV_E_PARSE with a message naming the field (and the line for YAML),
 * e.g. "policies[2].require.minSignature: unknown key at line 14". Also
 * ATV_E_PARSE: a YAML stream that is not exactly one document (empty, or a
 * second "---"), %YAML/%TAG directives, a NUL inside a string, an empty
 * policies list, a duplicate policy name, a DID listed twice in one
 * require.trustedDIDs, an explicit minSignatures above the number of DIDs the
 * policy can trust, a name with control characters, a scope with bytes
 * outside printable ASCII or a space. A version other than "1.0" is
 * ATV_E_UNSUPPORTED. Sizes and counts over the caps below are ATV_E_LIMIT.
 *
 * Types, the same in YAML and JSON: booleans are exactly true/false,
 * integers plain decimal (no sign but '-', no leading zero, no 1.0), strings
 * plain or quoted. A quoted YAML scalar is always a string ("true" is not a
 * boolean); a plain one that some YAML resolver would read as something else
 * (True, yes, off, ~, 1.0, 0x10, ...) is refused where a string is expected:
 * quote it. A top-level trustedDIDs entry may be null (YAML "did:...:" with
 * nothing after it, JSON null) or {}: trusted where listed, no name, no window.
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

struct atv_policy; /* opaque */

/* Parses a trust-policy document (YAML or JSON, see above).
 * Out: *out (new: atv_policy_free), NULL on failure. */
ATV_MUST_USE enum atv_status atv_policy_parse(struct atv_bytes text, struct atv_policy **out,
                                              struct atv_err *err);
/* Reads (capped at ATV_POLICY_MAX_FILE) and parses a file; errors name the path. */
ATV_MUST_USE enum atv_status atv_policy_load_file(const char *path, struct atv_policy **out,
                                                  struct atv_err *err);
/* The implicit policy of a `trustedDIDs` list (each DID checked with
 * atv_atp_did_check; n may be 0, which trusts nothing). Strings are copied. */
ATV_MUST_USE enum atv_status atv_policy_from_dids(const char *const *dids, size_t n,
                                                  struct atv_policy **out, struct atv_err *err);
void atv_policy_free(struct atv_policy *p);

enum atv_policy_action { ATV_POLICY_ENFORCE = 0, ATV_POLICY_AUDIT = 1 };

/* Which policy governs an image, before any signature is looked at. */
struct atv_policy_scope {
    int matched;                       /* 0: no policy's scope matches (deny) */
    char name[ATV_POLICY_MAX_NAME + 1]; /* the policy's name, "" when none matched */
    enum atv_policy_action action;
    int require_signature;             /* 0: the image may go without a signature */
    unsigned min_signatures;           /* >= 1 */
};

/* Finds the policy for image_ref. Always fills *out (matched 0 when none). */
void atv_policy_scope_for(const struct atv_policy *p, const char *image_ref,
                          struct atv_policy_scope *out);

/* Is did trusted for image_ref at time now (unix seconds)?
 * Returns ATV_OK when it is; ATV_E_VERIFY with err->reason set otherwise:
 *   "no_policy"       no policy's scope matches image_ref;
 *   "untrusted_did"   the policy does not list did;
 *   "did_not_yet_valid" / "did_expired"  outside the DID's validity window.
 * The message names the policy, the DID and, for windows, the date.
 * scope (may be NULL) receives atv_policy_scope_for's answer. */
ATV_MUST_USE enum atv_status atv_policy_check_did(const struct atv_policy *p,
                                                  const char *image_ref, const char *did,
                                                  int64_t now, struct atv_policy_scope *scope,
                                                  struct atv_err *err);

/* 1 when glob matches s under the scope rules above (a run of '*' longer
 * than two is "**"). Time O(strlen(glob) * strlen(s)), no recursion; 0 when
 * either is NULL or memory runs out (fail closed: no policy applies). */
int atv_policy_glob_match(const char *glob, const char *s);

#endif
