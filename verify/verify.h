/* verify/verify.h: one verification of one signature artifact (atv_vfy_*).
 *
 * The single straight pass of DESIGN.md ("Layout and data flow") that both
 * the Ratify plugin and atcr-verify call; neither holds a check of its own:
 *
 *   subject digest (from the reference, or its tag resolved)
 *   -> signature manifest (by digest, hashed; subject.digest == subject)
 *   -> signature blob (the application/vnd.atproto.signature.v1+json layer, hashed)
 *   -> artifact (strict; subject.digest; recordUri DID and collection)
 *   -> trust policy (before any identity traffic)
 *   -> DID document (cache first; key and PDS from it, never from the artifact)
 *   -> key pins (the policy file's `keys` for the DID: that key must be one)
 *   -> getRecord proof from that PDS (commit signature, MST inclusion,
 *      record $type and digest)
 *   -> handle (both ways, reported only when verified)
 *
 * Every failure is a verdict (success 0, a reason), never a crash; nothing
 * here writes stdout. Includes: verify -> policy, referrer, atproto -> common.
 */
#ifndef ATV_VERIFY_VERIFY_H
#define ATV_VERIFY_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"
#include "policy/policy.h"

/* ---- parameters (the Verifier CR's `parameters`, the CLI's --config) ------- */
#define ATV_VFY_MAX_LIST 256u          /* entries in trustedDIDs / collections */
#define ATV_VFY_MAX_PATH 1024u
#define ATV_VFY_DEFAULT_TIMEOUT_MS 2500u
#define ATV_VFY_MAX_TIMEOUT_MS 60000u
#define ATV_VFY_DEFAULT_TTL_S 300u
#define ATV_VFY_DEFAULT_COLLECTION "io.atcr.manifest"
/* plcAuditLog's default (README "did:plc from its operation log"). */
#define ATV_VFY_DEFAULT_PLC_AUDIT_LOG 1
/* bundleMaxAge (README "Offline bundles"): how old offline evidence may be,
 * in seconds, and the clock skew allowed either way on top of it. */
#define ATV_VFY_DEFAULT_BUNDLE_MAX_AGE_S 604800u /* 7 days */
#define ATV_VFY_MIN_BUNDLE_MAX_AGE_S 60u
#define ATV_VFY_MAX_BUNDLE_MAX_AGE_S 31536000u   /* 365 days */
#define ATV_VFY_EVIDENCE_SKEW_S 300u

struct atv_vfy_params {
    size_t n_trusted;
    char *trusted_dids[ATV_VFY_MAX_LIST];     /* new (params_cleanup) */
    int has_trusted;                          /* the key was given (even empty) */
    char trust_policy[ATV_VFY_MAX_PATH + 1];  /* "" when absent */
    char plc[ATV_MAX_URL + 1];                /* default ATV_DEFAULT_PLC_URL */
    char cache_dir[ATV_VFY_MAX_PATH + 1];     /* default ${TMPDIR:-/tmp}/atproto-verifier-UID */
    uint32_t did_cache_ttl_s;                 /* default 300; 0 disables the cache */
    uint32_t timeout_ms;                      /* default 2500: the whole run (every artifact,
                                               * discovery, an index's children) */
    size_t n_collections;
    char *collections[ATV_VFY_MAX_LIST];      /* new; none given: {"io.atcr.manifest"} */
    int verify_handle;                        /* default 1 */
    int plc_audit_log;                        /* 1: did:plc only from its verified operation
                                               * log; 0: the directory's document (weaker) */
    int allow_loopback_http;                  /* default 0 */
    char ca_file[ATV_VFY_MAX_PATH + 1];       /* "" : http.h's default */
    char bundle_dir[ATV_VFY_MAX_PATH + 1];    /* "" : online; else air-gapped: evidence only
                                               * from the bundles (*.json) in this directory */
    uint32_t bundle_max_age_s;                /* default 604800: offline evidence fetched
                                               * longer ago (or later than now) is refused */
    /* 1: every verdict is audit-only: a refusal becomes allowed (audit 1),
     * whatever each policy's action, a configuration error (BAD_REQUEST)
     * excepted. Not a plugin parameter: the server's REQUIRE_SIGNATURE=false
     * (the seed's deployments). Default 0. */
    int audit_only;
    /* Unknown keys, comma-separated, for one warn: line ("" when none). */
    char unknown[512];
};

void atv_vfy_params_init(struct atv_vfy_params *p); /* the defaults above */
void atv_vfy_params_cleanup(struct atv_vfy_params *p);

/* Reads parameters from a JSON object's text (the plugin's `config`, the CLI's
 * --config file). Ratify's own keys (name, type, artifactTypes,
 * nestedReferences, source, version) are skipped; other unknown keys are
 * listed in p->unknown. A known key of the wrong type or value (a timeoutMs
 * of 0 or over ATV_VFY_MAX_TIMEOUT_MS, a malformed DID, a relative
 * trustPolicy path, a plcDirectory that is not http(s)://, a bundleMaxAge
 * outside ATV_VFY_MIN/MAX_BUNDLE_MAX_AGE_S) is ATV_E_PARSE
 * naming the key. p must have been initialised; it keeps the defaults for
 * absent keys. */
ATV_MUST_USE enum atv_status atv_vfy_params_parse(struct atv_bytes json, struct atv_vfy_params *p,
                                                  struct atv_err *err);

/* ---- the store (storeConfig.store of the request) ------------------------- */
struct atv_vfy_store {
    char name[64];                              /* "oras" is the only store we speak for */
    int use_http;
    char auth_provider[64];                     /* "" : dockerConfig */
    char config_path[ATV_VFY_MAX_PATH + 1];     /* authProvider.configPath, "" */
    char local_cache_path[ATV_VFY_MAX_PATH + 1]; /* "" : none */
    /* Explicit registry credentials (atcr-verify --username/--password-stdin),
     * borrowed; NULL: the Docker config as Ratify's dockerConfig provider reads it. */
    const char *username;
    const char *password;
};
void atv_vfy_store_init(struct atv_vfy_store *s); /* name "oras", everything else off */

/* ---- logging ---------------------------------------------------------------
 * Ratify reads stderr line by line: a line holding '{' is taken for JSON, so
 * log lines never contain braces (they become parentheses), never contain a
 * newline, never exceed ATV_VFY_MAX_LOG_LINE bytes, and carry an "info: ",
 * "warn: " or "debug: " prefix. Debug lines are written only when debug is 1. */
#define ATV_VFY_MAX_LOG_LINE 4096u
enum atv_vfy_level { ATV_VFY_DEBUG = 0, ATV_VFY_INFO, ATV_VFY_WARN };
struct atv_vfy_log {
    FILE *f;   /* NULL: no logging */
    int debug;
    int quiet; /* 1: warnings only (atcr-verify without -v) */
};
void atv_vfy_logf(const struct atv_vfy_log *log, enum atv_vfy_level level, const char *fmt, ...)
    ATV_PRINTF(3, 4);

/* ---- the verdict -------------------------------------------------------------- */
enum atv_vfy_reason {
    ATV_VFY_OK = 0,
    ATV_VFY_BAD_REQUEST,
    ATV_VFY_REGISTRY_ERROR,
    ATV_VFY_BAD_SIGNATURE_ARTIFACT,
    ATV_VFY_SUBJECT_MISMATCH,
    ATV_VFY_UNTRUSTED_SIGNER,
    ATV_VFY_IDENTITY_ERROR,
    ATV_VFY_PDS_ERROR,
    ATV_VFY_RECORD_NOT_FOUND,
    ATV_VFY_SIGNATURE_INVALID,
    ATV_VFY_DIGEST_MISMATCH,
    ATV_VFY_POLICY_DENIED,
    ATV_VFY_TIMEOUT,
    /* image-level reasons (atv_vfy_image_run) */
    ATV_VFY_NO_SIGNATURE,            /* the image has no signature artifact */
    ATV_VFY_INSUFFICIENT_SIGNATURES, /* >= 1 trusted signer verified, fewer than required */
    ATV_VFY_STALE_EVIDENCE           /* offline evidence too old or from the future */
};
/* "BAD_REQUEST", ...; "OK" for ATV_VFY_OK. Never NULL. */
const char *atv_vfy_reason_name(enum atv_vfy_reason r);

struct atv_vfy_result {
    int success;                 /* 1: verified and the policy is met (or audit-only) */
    enum atv_vfy_reason reason;  /* ATV_VFY_OK on success; on an audit pass, the failure */
    int audit;                   /* 1: an audit policy let a failure through */
    int transient;               /* 1: a retry could change this (refused, reset, DNS,
                                  * deadline, HTTP 5xx/429); 0: definite */
    char detail[64];             /* the low-level reason ("bad_signature"), "" */
    char message[512];
    /* Known facts; "" when not (yet) known. handle only when verified both ways. */
    char did[ATV_MAX_DID + 1];
    char handle[ATV_MAX_HANDLE + 1];
    char pds[ATV_MAX_URL + 1];
    char record_uri[ATV_MAX_ATURI + 1];
    char record_cid[64];
    char commit_cid[64];
    char commit_rev[16];
    char key_id[ATV_MAX_DID + 16];
    char key_type[8];            /* "K-256" / "P-256" */
    char subject_digest[72];
    char signature_digest[72];   /* the signature blob's digest */
    char signed_at[64];          /* the artifact's claim */
    char policy[128];            /* the policy that decided */
    /* Claims of the artifact that differ from the verified facts ("" when equal). */
    char claimed_pds[ATV_MAX_URL + 1];
    char claimed_key[ATV_MAX_MULTIBASE + 1];
    char evidence_at[32];        /* offline: when the oldest evidence used was fetched (UTC) */
    int64_t evidence_time;       /* the same in unix seconds, 0 when not offline */
};

/* One (key, value) of the result for JSON output: values are strings, or
 * booleans when is_bool. Only known facts are listed; on failure "reason"
 * comes first. */
struct atv_vfy_field {
    const char *key;
    const char *str;
    int is_bool;
    int b;
};
#define ATV_VFY_MAX_FIELDS 24u
/* Fills out (ATV_VFY_MAX_FIELDS entries) with borrows into r; returns the count. */
size_t atv_vfy_result_fields(const struct atv_vfy_result *r,
                             struct atv_vfy_field out[ATV_VFY_MAX_FIELDS]);

/* ---- evidence bundles --------------------------------------------------------------
 * Everything a verification fetched, so it can be repeated with no network
 * (atcr-verify bundle export, --offline --bundle; the plugin's bundleDir).
 * Keys: tag "REPOSITORY:TAG" (data: the digest), referrers "REPOSITORY@DIGEST"
 * (data: an OCI index of the signature manifests), manifest and blob by
 * digest, diddoc by DID, record by AT-URI (data: the getRecord body, with
 * its HTTP status). Registry bodies are hashed and proofs verified again
 * when used, so only the DID documents are taken on the bundle's word.
 *
 * Evidence age: every entry an offline run uses must have been fetched no
 * longer than params->bundle_max_age_s before req->now, and not after it,
 * both with ATV_VFY_EVIDENCE_SKEW_S to spare; otherwise the step that
 * wanted it fails with STALE_EVIDENCE (detail "evidence_expired" or
 * "evidence_from_future"). fetchedAt is not signed: the limit stops stale
 * evidence, not someone who can write a bundle.
 *
 * The caps are common/limits.h's (ATV_MAX_BUNDLE_*); the names below are kept
 * for the code that already uses them. */
#define ATV_VFY_MAX_BUNDLE ATV_MAX_BUNDLE_DATA
#define ATV_VFY_MAX_BUNDLE_ENTRIES ATV_MAX_BUNDLE_ENTRIES
#define ATV_VFY_MAX_BUNDLE_FILES ATV_MAX_BUNDLE_FILES
enum atv_vfy_ev {
    ATV_VFY_EV_TAG = 1,
    ATV_VFY_EV_REFERRERS,
    ATV_VFY_EV_MANIFEST,
    ATV_VFY_EV_BLOB,
    ATV_VFY_EV_DIDDOC,
    ATV_VFY_EV_RECORD,
    ATV_VFY_EV_PLCLOG /* a did:plc's audit log, keyed by DID: offline, its only source */
};
struct atv_vfy_bundle; /* opaque */

ATV_MUST_USE enum atv_status atv_vfy_bundle_new(struct atv_vfy_bundle **out, struct atv_err *err);
void atv_vfy_bundle_free(struct atv_vfy_bundle *b);
/* Adds or replaces (kind, key); data is copied. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_put(struct atv_vfy_bundle *b, enum atv_vfy_ev kind,
                                                const char *key, long status,
                                                struct atv_bytes data, int64_t fetched_at,
                                                struct atv_err *err);
/* Looks (kind, key) up: ATV_OK with data borrowed from b, or ATV_E_NOT_FOUND
 * (reason "not_in_bundle"). status and fetched_at may be NULL. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_get(const struct atv_vfy_bundle *b,
                                                enum atv_vfy_ev kind, const char *key,
                                                long *status, struct atv_bytes *data,
                                                int64_t *fetched_at, struct atv_err *err);
size_t atv_vfy_bundle_count(const struct atv_vfy_bundle *b);
/* Copies every entry of src into dst; of two entries for one (kind, key), the
 * one fetched later is kept (dst's on a tie). All or nothing: ATV_E_LIMIT
 * (dst unchanged) when dst would hold over ATV_MAX_BUNDLE_ENTRIES entries or
 * ATV_MAX_BUNDLE_DATA bytes. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_merge(struct atv_vfy_bundle *dst,
                                                  const struct atv_vfy_bundle *src,
                                                  struct atv_err *err);
/* JSON {"format":"atcr-verify-bundle","version":2,"createdAt":N,"entries":[
 * {"kind","key","status","fetchedAt","data" (base64)}]}, parsed strictly;
 * at most ATV_MAX_BUNDLE_FILE bytes. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_parse(struct atv_bytes json,
                                                  struct atv_vfy_bundle **out,
                                                  struct atv_err *err);
/* One bundle file named explicitly (--offline --bundle FILE): the path is
 * followed wherever it leads, but only a regular file is read (never
 * blocking on a FIFO or device). Anything wrong with it is an error. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_load(const char *path, struct atv_vfy_bundle **out,
                                                 struct atv_err *err);
/* Every bundle of dir merged into one (bundleDir, --bundle-dir): the names
 * ending in .json and not starting with '.', the first ATV_MAX_BUNDLE_FILES
 * of them in byte order (a warning says when there are more). Each is
 * opened non-blocking and read only when fstat calls it a regular file,
 * through symbolic links only while they stay inside dir (Kubernetes
 * ConfigMap and Secret volumes: x.json -> ..data/x.json), at most
 * ATV_MAX_BUNDLE_FILE bytes each and ATV_MAX_BUNDLE_DIR_BYTES in all. A file
 * that fails any of this, or does not parse, or would take the merged
 * evidence over its caps, is skipped with a warning on log naming it; the
 * others still count. deadline_ms: CLOCK_MONOTONIC milliseconds
 * (atv_vfy_clock_ms), 0 for none; checked before each file and while listing.
 * Out: *out (new). ATV_E_IO when dir cannot be read; ATV_E_LIMIT when it
 * holds over ATV_MAX_BUNDLE_DIR_NAMES names; ATV_E_IO with reason "timeout"
 * (transient) when the deadline passes. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_load_dir(const char *dir,
                                                     const struct atv_vfy_log *log,
                                                     uint64_t deadline_ms,
                                                     struct atv_vfy_bundle **out,
                                                     struct atv_err *err);
/* Writes atomically (temporary file beside path, then rename), mode 0644. */
ATV_MUST_USE enum atv_status atv_vfy_bundle_save(const struct atv_vfy_bundle *b, const char *path,
                                                 int64_t now, struct atv_err *err);

/* ---- one verification ----------------------------------------------------------- */
struct atv_vfy_image;
/* A cache of definite image verdicts, owned by the caller (the server keys it
 * further by its policy's identity and bounds each entry's life; that bound
 * is how long a revoked signature can still pass). atv_vfy_image_run consults
 * it only live (no offline evidence), with no sig_digest, once the policy's
 * scope asks for a signature: the subject's tag is resolved first (on every
 * run: a moved tag is another digest), then get(name, digest) may answer;
 * after a miss, a verdict that is not transient is given to put. Both are
 * called on the verifying thread and must be thread-safe; get returns 1 with
 * *out filled on a hit, else 0 and leaves *out alone. */
struct atv_vfy_vcache {
    void *ctx;
    int (*get)(void *ctx, const char *name, const char *digest, struct atv_vfy_image *out);
    void (*put)(void *ctx, const char *name, const char *digest, const struct atv_vfy_image *v);
};
struct atv_vfy_request {
    const char *subject;          /* image reference with a digest or a tag */
    const char *sig_digest;       /* the signature manifest (referenceDesc.digest) */
    int64_t sig_size;             /* referenceDesc.size, -1 when unknown */
    const char *sig_media_type;   /* referenceDesc.mediaType, NULL: OCI manifest */
    const struct atv_vfy_params *params;
    const struct atv_vfy_store *store;
    int64_t now;                  /* unix seconds, for validity windows and evidence age */
    const struct atv_vfy_log *log;
    const char *subject_digest;   /* NULL, or the digest already resolved: no tag lookup */
    struct atv_vfy_bundle *record; /* NULL, or where a live run records all it fetched */
    const struct atv_vfy_bundle *offline; /* NULL, or the only evidence: no network at all */
    /* CLOCK_MONOTONIC milliseconds (atv_vfy_clock_ms) when the whole run must
     * have answered; 0: now + params->timeout_ms. Every HTTP session of the
     * run gets what is left of it. */
    uint64_t deadline_ms;
    /* borrow, or NULL: the run loads the policy from params itself */
    const struct atv_policy *policy;
    /* NULL, or a verdict cache the caller owns (the server's): see
     * struct atv_vfy_vcache below */
    const struct atv_vfy_vcache *vcache;
    /* evidence collection (bundle export with no trust configured): every
     * signer is followed as if trusted, so that a bundle holds what any
     * verifier's policy will need. An artifact's success then means only
     * "its proof verified": the verdict decides no trust. */
    int collect;
};

/* CLOCK_MONOTONIC in milliseconds (0 if the clock is unavailable). */
uint64_t atv_vfy_clock_ms(void);

/* Verifies ONE signature artifact (req->sig_digest) of req->subject, within
 * the deadline. Never fails: *out always holds a verdict (success 0 with a
 * reason for any problem at all). success means this artifact verified and
 * its signer is trusted for the image; whether that is enough for the image
 * (minSignatures, audit, requirements) is atv_vfy_image_run's decision,
 * never this function's: out->audit is always 0 here. */
void atv_vfy_run(const struct atv_vfy_request *req, struct atv_vfy_result *out);

/* ---- discovery (atcr-verify) ----------------------------------------------------------
 * The subject's digest (its tag resolved, unless req->subject_digest is set)
 * and its signature artifacts: the OCI 1.1 referrers API, else the
 * tag-schema fallback, filtered to ATV_ARTIFACT_TYPE; from req->offline
 * when set. Uses req's subject, params (timeout, allowLoopbackHTTP, caFile),
 * store, log, record and offline. */
#define ATV_VFY_MAX_SIGS 32u
struct atv_vfy_sigref {
    char digest[72];
    int64_t size;
    char media_type[128];
    char did[ATV_MAX_DID + 1]; /* the io.atcr.atproto.did annotation: a claim, "" */
};
struct atv_vfy_found {
    char subject_digest[72];
    size_t n;                  /* at most ATV_VFY_MAX_SIGS; more is ATV_E_LIMIT */
    struct atv_vfy_sigref sigs[ATV_VFY_MAX_SIGS];
};
/* Returns ATV_OK, or an error (reason as a verdict would give it in
 * *reason: REGISTRY_ERROR, TIMEOUT, BAD_REQUEST, STALE_EVIDENCE). */
ATV_MUST_USE enum atv_status atv_vfy_discover(const struct atv_vfy_request *req,
                                              struct atv_vfy_found *out,
                                              enum atv_vfy_reason *reason, struct atv_err *err);

/* ---- the image verdict: the one per-image decision -------------------------------------
 * Every front end (plugin, CLI; later the server, containerd verifier and
 * coverage) calls atv_vfy_image_run and translates its verdict; none counts
 * or decides on its own.
 *
 *   1. the reference is normalised (referrer/: host case, default port,
 *      Docker Hub spellings) and the policy is chosen by the normalised
 *      HOST[:PORT]/REPOSITORY; no scope: refused (POLICY_DENIED), no network;
 *   2. no requirement asks for a signature: allowed at once, no network;
 *   3. with req->sig_digest (the plugin: Ratify names one artifact), that
 *      artifact is verified first; if it fails, the verdict carries its own
 *      reason and nothing else is fetched; if it alone meets the policy, no
 *      discovery happens (minSignatures 1: today's single-artifact cost);
 *   4. otherwise the image's signature artifacts are discovered and verified
 *      one by one until the policy is met;
 *   5. an image index that is not met by its own signatures is met when
 *      every platform manifest it lists is (unknown/unknown attestation
 *      manifests skipped, at most ATV_VFY_MAX_CHILDREN, a nested index
 *      refused), all under the one deadline;
 *   6. not met: the reason is chosen in this fixed order: a transient failure
 *      that could change the count (its own reason, transient 1);
 *      NO_SIGNATURE; INSUFFICIENT_SIGNATURES ("have N of M"); then the first
 *      present of SIGNATURE_INVALID, RECORD_NOT_FOUND, DIGEST_MISMATCH,
 *      SUBJECT_MISMATCH, BAD_SIGNATURE_ARTIFACT, IDENTITY_ERROR,
 *      UNTRUSTED_SIGNER, then PDS_ERROR, REGISTRY_ERROR, POLICY_DENIED,
 *      BAD_REQUEST, TIMEOUT, STALE_EVIDENCE. Signatures that could not be
 *      listed (discovery failed, definite) give discovery's reason, and
 *      `unlisted` unless the reason is STALE_EVIDENCE (a refusal: the
 *      evidence is what it is).
 *
 * Two words, never mixed: `met` = the policy's requirements hold; `allowed`
 * = met, or not met under an audit policy, or nothing required. `allowed`
 * drives every gate. A policy that cannot refuse never produces an
 * operational error (a registry outage under audit is allowed, with a
 * warning). A configuration error (BAD_REQUEST) is never allowed. */
#define ATV_VFY_MAX_CHILDREN 64u
struct atv_vfy_signer {
    char did[ATV_MAX_DID + 1];
    char handle[ATV_MAX_HANDLE + 1]; /* "" unless verified both ways */
};
struct atv_vfy_artifact {
    char sig_digest[72];
    char platform[64];           /* "" for the image itself, "os/arch[/variant]" for a child */
    struct atv_vfy_result r;
};
struct atv_vfy_image {
    int allowed;
    int met;
    int audit;                   /* allowed although not met (an audit policy) */
    int transient;               /* not met, and a retry could change that */
    int no_signature_required;   /* allowed because no requirement asks for a signature */
    int unlisted;                /* the signatures could not be listed at all (definite:
                                  * e.g. not in an offline bundle, a 404 on the tag) */
    enum atv_vfy_reason reason;  /* ATV_VFY_OK when met */
    char detail[64];
    char message[512];
    char policy[128];            /* "" when no scope matched */
    int action_audit;            /* the matched policy's action */
    unsigned min_signatures;     /* the largest minSignatures of the matched policy */
    unsigned have;               /* trusted signers verified for the deciding requirement */
    size_t n_signers;            /* distinct DIDs whose signatures verified */
    struct atv_vfy_signer signers[ATV_VFY_MAX_SIGS];
    char digest[72];             /* the subject's digest, "" when unknown */
    char name[ATV_MAX_URL + 1];  /* normalised HOST[:PORT]/REPOSITORY */
    char reference[ATV_MAX_URL + 80]; /* name@digest (or name:tag while unresolved) */
    int is_index;
    size_t n_sigs;               /* signature artifacts found (the image's own) */
    size_t n_artifacts;          /* results below, in the order verified */
    struct atv_vfy_artifact artifacts[ATV_VFY_MAX_SIGS];
    int rollback_guard_off;      /* the cache could not be used (or is disabled) */
    int64_t evidence_time;       /* offline: the oldest evidence used (unix s), 0 */
    char evidence_at[32];
    int from_cache;              /* answered by req->vcache (not part of the verdict's JSON) */
};
/* Decides for req->subject (req->sig_digest optional: see 3 above). Never
 * fails: *out always holds a verdict. out is large: allocate it. */
void atv_vfy_image_run(const struct atv_vfy_request *req, struct atv_vfy_image *out);

/* The image verdict as one JSON document, the shape of `atcr-verify IMAGE -o
 * json` and of the server's /verify answer: image (as asked), reference,
 * digest, allowed, met, audit, transient, reason, message, action,
 * minSignatures, verifiedSigners, signaturesFound, policyMet, signers
 * [{did, handle?}], signatures [per artifact: signatureManifest, isSuccess,
 * message, platform?, atv_vfy_result_fields], subjectDigest, and when known
 * policy, detail, index, rollbackGuardOff, evidenceFetchedAt and
 * evidenceAgeSeconds (from now, unix seconds). indent: 1 for two-space
 * indentation, 0 for one line.
 * Returns: new (free(3)), NUL-terminated; NULL when out of memory or v or
 * image is NULL. */
char *atv_vfy_image_json(const struct atv_vfy_image *v, const char *image, int64_t now,
                         int indent);

#endif
