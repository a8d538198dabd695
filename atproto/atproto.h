/* atproto/atproto.h: ATProto data, identity documents and proofs. No I/O.
 *
 * Everything here takes bytes and returns structs or a verdict. Network
 * fetches reach this module only through its callers (DESIGN.md "Layout").
 * Specs cited below: atproto.com/specs/{did,handle,nsid,record-key,tid,at-uri,
 * lexicon#datetime,cryptography,data-model,repository}; multiformats
 * (multibase, multicodec, unsigned-varint, CIDv1); ipld.io carv1.
 *
 * Conventions: fallible functions return enum atv_status and set *err; on
 * failure every out-parameter is zeroed or emptied. A failed check of a proof
 * or a signature is ATV_E_VERIFY with err->reason set; malformed input is
 * ATV_E_PARSE; an input over a cap (common/limits.h) is ATV_E_LIMIT.
 */
#ifndef ATV_ATPROTO_ATPROTO_H
#define ATV_ATPROTO_ATPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"
#include "common/limits.h"

/* ==== syntax =================================================================
 * Each returns ATV_OK when s[0..n) is valid, else ATV_E_PARSE with a message
 * naming the rule. Input is taken as bytes: no trimming, no normalising. */
ATV_MUST_USE enum atv_status atv_atp_did_check(const char *s, size_t n, struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_handle_check(const char *s, size_t n, struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_nsid_check(const char *s, size_t n, struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_rkey_check(const char *s, size_t n, struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_tid_check(const char *s, size_t n, struct atv_err *err);
/* A DID or a handle. */
ATV_MUST_USE enum atv_status atv_atp_atid_check(const char *s, size_t n, struct atv_err *err);
/* The general AT-URI syntax (authority, optional collection and rkey, query, fragment). */
ATV_MUST_USE enum atv_status atv_atp_aturi_check(const char *s, size_t n, struct atv_err *err);
/* Lexicon datetime (RFC 3339 subset, upper-case T and Z, mandatory timezone). */
ATV_MUST_USE enum atv_status atv_atp_datetime_check(const char *s, size_t n, struct atv_err *err);

/* A record AT-URI with all three parts: at://DID/COLLECTION/RKEY, the
 * authority a DID (not a handle), no query or fragment. NUL-terminated. */
struct atv_record_uri {
    char did[ATV_MAX_DID + 1];
    char collection[ATV_MAX_NSID + 1];
    char rkey[ATV_MAX_RKEY + 1];
};
ATV_MUST_USE enum atv_status atv_atp_record_uri_parse(const char *s, struct atv_record_uri *out,
                                                      struct atv_err *err);

/* ==== base encodings and multibase ==========================================
 * base58btc (Bitcoin alphabet) and base32 (RFC 4648 lower case, no padding),
 * as multibase uses them. Decoders reject characters outside the alphabet,
 * and base32 rejects non-zero trailing bits. */
ATV_MUST_USE enum atv_status atv_atp_base58_decode(const char *s, size_t n, struct atv_buf *out,
                                                   struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_base58_encode(struct atv_bytes in, struct atv_buf *out,
                                                   struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_base32_decode(const char *s, size_t n, struct atv_buf *out,
                                                   struct atv_err *err);
ATV_MUST_USE enum atv_status atv_atp_base32_encode(struct atv_bytes in, struct atv_buf *out,
                                                   struct atv_err *err);
/* Multibase: 'z' (base58btc) or 'b' (base32 lower); any other prefix is ATV_E_UNSUPPORTED. */
ATV_MUST_USE enum atv_status atv_atp_multibase_decode(const char *s, size_t n, struct atv_buf *out,
                                                      struct atv_err *err);

/* ==== CID ===================================================================
 * Only what atproto repositories use: CIDv1, multihash sha2-256 (0x12, 32
 * bytes), codec dag-cbor (0x71) or raw (0x55). Binary form is 36 bytes. */
#define ATV_CODEC_DAG_CBOR 0x71u
#define ATV_CODEC_RAW 0x55u
#define ATV_CID_BIN_LEN 36u
/* "b" + base32(36 bytes) = 59 characters, plus NUL. */
#define ATV_CID_STR_CAP 64u

struct atv_cid {
    uint64_t codec;
    uint8_t digest[32];
};

/* Reads one binary CID from rd (as in CAR sections). Advances only on success. */
ATV_MUST_USE enum atv_status atv_atp_cid_read(struct atv_reader *rd, struct atv_cid *out,
                                              struct atv_err *err);
/* Parses exactly one binary CID; trailing bytes are an error. */
ATV_MUST_USE enum atv_status atv_atp_cid_from_bin(struct atv_bytes b, struct atv_cid *out,
                                                  struct atv_err *err);
/* Parses the string form "b" + base32 lower. */
ATV_MUST_USE enum atv_status atv_atp_cid_parse(const char *s, struct atv_cid *out,
                                               struct atv_err *err);
/* Writes the 36-byte binary form. */
void atv_atp_cid_to_bin(const struct atv_cid *cid, uint8_t out[ATV_CID_BIN_LEN]);
/* Writes the string form into out (NUL-terminated). */
void atv_atp_cid_to_str(const struct atv_cid *cid, char out[ATV_CID_STR_CAP]);
/* The CID of a block: sha2-256 of data, with the given codec. */
void atv_atp_cid_of(uint64_t codec, struct atv_bytes data, struct atv_cid *out);
int atv_atp_cid_eq(const struct atv_cid *a, const struct atv_cid *b);

/* ==== keys and signatures ==================================================
 * atproto cryptography spec: K-256 (secp256k1) and P-256, ECDSA over SHA-256,
 * 64-byte compact r||s signatures, low-S required, compressed public keys. */
enum atv_key_type { ATV_KEY_NONE = 0, ATV_KEY_K256 = 1, ATV_KEY_P256 = 2 };

struct atv_pubkey {
    enum atv_key_type type;
    uint8_t point[33]; /* SEC1 compressed, validated on the curve */
};

/* Multikey: "z" + base58btc(varint multicodec || 33-byte compressed point),
 * multicodec 0xe7 (secp256k1-pub, bytes e7 01) or 0x1200 (p256-pub, 80 24). */
ATV_MUST_USE enum atv_status atv_atp_key_parse_multikey(const char *mb, struct atv_pubkey *out,
                                                        struct atv_err *err);
/* did:key:<multikey>. */
ATV_MUST_USE enum atv_status atv_atp_key_parse_didkey(const char *did, struct atv_pubkey *out,
                                                      struct atv_err *err);
/* Legacy DID-document forms: "z" + base58btc(65-byte uncompressed 04||X||Y),
 * no multicodec; type chosen by the verification method's `type`. */
ATV_MUST_USE enum atv_status atv_atp_key_parse_legacy(enum atv_key_type type, const char *mb,
                                                      struct atv_pubkey *out, struct atv_err *err);
/* A raw SEC1 point (33 compressed or 65 uncompressed bytes) of the given curve. */
ATV_MUST_USE enum atv_status atv_atp_key_from_point(enum atv_key_type type, struct atv_bytes pt,
                                                    struct atv_pubkey *out, struct atv_err *err);
/* Writes "did:key:z..." (NUL-terminated) into out. */
ATV_MUST_USE enum atv_status atv_atp_key_to_didkey(const struct atv_pubkey *key, char *out,
                                                   size_t cap, struct atv_err *err);
const char *atv_atp_key_type_name(enum atv_key_type type); /* "K-256", "P-256" */
/* 1 when a and b are the same key: the same curve and the same point. Every
 * parser above keeps the compressed point, so a key read as Multikey, did:key
 * or the legacy uncompressed form is the same key in all three; this is the
 * one comparison of keys (never compare their strings). 0 when either is
 * NULL or of no known type. */
int atv_atp_key_eq(const struct atv_pubkey *a, const struct atv_pubkey *b);

/* Verifies a 64-byte r||s signature over SHA-256(msg), hashing inside.
 * Returns: ATV_OK only when the curve library says verified and S <= n/2;
 * ATV_E_VERIFY (reason "bad_signature") for a wrong, high-S, zero or
 * non-64-byte (DER) signature; ATV_E_USAGE for a key of no known type. */
ATV_MUST_USE enum atv_status atv_atp_sig_verify(const struct atv_pubkey *key, struct atv_bytes msg,
                                                struct atv_bytes sig, struct atv_err *err);

/* ==== DAG-CBOR ==============================================================
 * Strict decoding of the atproto data model on top of libcbor's streaming
 * decoder: definite lengths only, shortest integer and length headers, map
 * keys text, unique, in length-then-bytewise order, no floats, no tags but 42
 * (CID, with the 0x00 identity-multibase prefix), simple values false, true
 * and null only, valid UTF-8 text, depth and item count capped, no trailing
 * bytes. A decoded document is an arena of nodes; text and byte strings
 * borrow from the input, which must outlive the document. */
enum atv_dv_kind {
    ATV_DV_NULL = 1,
    ATV_DV_BOOL,
    ATV_DV_INT,
    ATV_DV_BYTES,
    ATV_DV_TEXT,
    ATV_DV_LINK,
    ATV_DV_ARRAY,
    ATV_DV_MAP
};

struct atv_dv {
    enum atv_dv_kind kind;
    int64_t i;          /* INT value; BOOL 0 or 1 */
    struct atv_bytes s; /* BYTES and TEXT (borrow from the input) */
    struct atv_cid cid; /* LINK */
    size_t count;       /* ARRAY items; MAP pairs */
    size_t kids;        /* index of the first child in the document's child table */
};

struct atv_cbor_doc; /* opaque */

/* Decodes exactly one data item spanning all of in.
 * Out: *out (new: atv_atp_cbor_free), NULL on failure. */
ATV_MUST_USE enum atv_status atv_atp_cbor_decode(struct atv_bytes in, struct atv_cbor_doc **out,
                                                 struct atv_err *err);
void atv_atp_cbor_free(struct atv_cbor_doc *doc);
/* The top item (borrow, valid while doc lives). */
const struct atv_dv *atv_atp_cbor_root(const struct atv_cbor_doc *doc);
/* Child i of an array (i < count), or NULL. */
const struct atv_dv *atv_atp_cbor_item(const struct atv_cbor_doc *doc, const struct atv_dv *arr,
                                       size_t i);
/* Pair i of a map: key (TEXT) and value. Returns 0 when out of range. */
int atv_atp_cbor_pair(const struct atv_cbor_doc *doc, const struct atv_dv *map, size_t i,
                      const struct atv_dv **key, const struct atv_dv **val);
/* Value for a key in a map, or NULL when absent (or map is not a MAP). */
const struct atv_dv *atv_atp_cbor_get(const struct atv_cbor_doc *doc, const struct atv_dv *map,
                                      const char *key);
/* Canonical DAG-CBOR encoding of node v, leaving out the map key `skip` at
 * the top level when v is a map and skip is not NULL (the unsigned commit). */
ATV_MUST_USE enum atv_status atv_atp_cbor_encode(const struct atv_cbor_doc *doc,
                                                 const struct atv_dv *v, const char *skip,
                                                 struct atv_buf *out, struct atv_err *err);
/* Appends the shortest head (RFC 8949 section 4.2.1) of a text string, an
 * array or a map of n entries, for callers that build DAG-CBOR from their
 * own trees (the PLC operations, atproto/plc.c); libcbor writes it. */
enum atv_cbor_head { ATV_CBOR_TEXT = 3, ATV_CBOR_ARRAY = 4, ATV_CBOR_MAP = 5 };
ATV_MUST_USE enum atv_status atv_atp_cbor_put_head(struct atv_buf *out, enum atv_cbor_head kind,
                                                   size_t n, struct atv_err *err);
/* Renders node v as atproto JSON ($link, $bytes) into out, NUL-terminated. */
ATV_MUST_USE enum atv_status atv_atp_cbor_to_json(const struct atv_cbor_doc *doc,
                                                  const struct atv_dv *v, struct atv_buf *out,
                                                  struct atv_err *err);

/* ==== CAR v1 ================================================================
 * Header: varint length + DAG-CBOR {"roots":[link],"version":1}, exactly one
 * root. Sections: varint length + binary CID + block. Every block's SHA-256
 * is checked against its CID while parsing; a mismatch is ATV_E_VERIFY
 * (reason "block_hash_mismatch"). Blocks borrow from the input. */
struct atv_car; /* opaque */

ATV_MUST_USE enum atv_status atv_atp_car_parse(struct atv_bytes in, struct atv_car **out,
                                               struct atv_err *err);
void atv_atp_car_free(struct atv_car *car);
const struct atv_cid *atv_atp_car_root(const struct atv_car *car);
size_t atv_atp_car_count(const struct atv_car *car);
/* Block for cid. Returns ATV_OK, or ATV_E_NOT_FOUND with *out empty. */
ATV_MUST_USE enum atv_status atv_atp_car_get(const struct atv_car *car, const struct atv_cid *cid,
                                             struct atv_bytes *out, struct atv_err *err);

/* ==== MST ===================================================================
 * Repository spec, Merkle Search Tree: key height = leading zero bits of
 * SHA-256(key) / 2. */
unsigned atv_atp_mst_height(struct atv_bytes key);
size_t atv_atp_mst_common_prefix(struct atv_bytes a, struct atv_bytes b);
/* Looks key up in the tree rooted at root, reading nodes from car.
 * Out: *found 1 with *value the record CID, or 0 (absence proven).
 * A node needed for the walk and missing from the CAR is ATV_E_VERIFY
 * (reason "proof_incomplete"), never "absent"; a malformed tree is
 * ATV_E_VERIFY (reason "malformed_proof"). */
ATV_MUST_USE enum atv_status atv_atp_mst_lookup(const struct atv_car *car,
                                                const struct atv_cid *root, struct atv_bytes key,
                                                int *found, struct atv_cid *value,
                                                struct atv_err *err);

/* ==== commits ===============================================================
 * Repository spec v3: exactly the keys did, version (3), data, rev (TID),
 * prev (link or null), sig (64 bytes). */
struct atv_commit {
    char did[ATV_MAX_DID + 1];
    char rev[16];
    struct atv_cid data;
    int has_prev;
    struct atv_cid prev;
    uint8_t sig[64];
};

/* Parses a commit block. unsigned_out (may be NULL) receives the canonical
 * DAG-CBOR of the commit without `sig`: the bytes the signature covers. */
ATV_MUST_USE enum atv_status atv_atp_commit_parse(struct atv_bytes block, struct atv_commit *out,
                                                  struct atv_buf *unsigned_out,
                                                  struct atv_err *err);

/* ==== DID documents =========================================================
 * did spec: `id` equals the DID; the signing key is the verification method
 * whose id is "#atproto" or "<did>#atproto" with controller == DID (first
 * match wins), of type Multikey or a legacy EcdsaSecp256{k,r}1VerificationKey2019;
 * the PDS is the service "#atproto_pds" of type AtprotoPersonalDataServer;
 * the declared handle is the first alsoKnownAs "at://..." entry (lower-cased,
 * unverified). */
struct atv_diddoc {
    char did[ATV_MAX_DID + 1];
    struct atv_pubkey key;
    char pds[ATV_MAX_URL + 1];    /* "" when the document names none */
    char handle[ATV_MAX_HANDLE + 1]; /* "" when none is declared */
};

/* Parses a DID document (JSON). expect_did may be NULL to skip the id check.
 * A document without a usable #atproto key is ATV_E_NOT_FOUND (reason "no_signing_key"). */
ATV_MUST_USE enum atv_status atv_atp_diddoc_parse(struct atv_bytes json, const char *expect_did,
                                                  struct atv_diddoc *out, struct atv_err *err);

/* The handle of one alsoKnownAs entry: returns 1 when aka is an "at://"
 * entry (the first such entry is the claimed handle) and writes the handle,
 * lower-cased, into out when its syntax is valid and it fits (else "");
 * returns 0 for any other entry. */
int atv_atp_handle_from_aka(const char *aka, char *out, size_t cap);

/* ==== proofs ================================================================
 * Verifies a com.atproto.sync.getRecord CAR for (did, collection, rkey)
 * against key, as the reference verifyProofs does: CAR blocks hash-checked,
 * one root, commit v3 for `did` signed by key, MST walk to the record.
 * Returns ATV_OK when the proof is valid, whether the record is present
 * (out->present 1, record fields filled) or proven absent (present 0).
 * Any failure is an error with a reason: bad_signature, did_mismatch,
 * proof_incomplete, malformed_proof, block_hash_mismatch, ... */
struct atv_proof {
    char did[ATV_MAX_DID + 1];
    char rev[16];
    struct atv_cid commit_cid;
    struct atv_cid data;
    int present;
    struct atv_cid record_cid;
    char record_type[ATV_MAX_NSID + 1]; /* the record's $type, "" if absent */
    char digest[ATV_MAX_FIELD + 1];     /* the record's `digest` text, "" if absent */
};

ATV_MUST_USE enum atv_status atv_atp_proof_verify(struct atv_bytes car, const char *did,
                                                  const struct atv_pubkey *key,
                                                  const char *collection, const char *rkey,
                                                  struct atv_proof *out, struct atv_err *err);

/* ==== identity resolution (through a fetcher; no I/O here) ===================
 * atproto DID spec "DID Methods" and handle spec "Handle Resolution".
 * plc_url NULL means ATV_DEFAULT_PLC_URL. */
#define ATV_DEFAULT_PLC_URL "https://plc.directory"

/* The URL of DID's document: did:plc -> {plc_url}/{did}; did:web:HOST ->
 * https://HOST/.well-known/did.json (hostname-only did:web; a %3A-encoded
 * port is accepted only for loopback hosts, as local development uses it).
 * Other methods are ATV_E_UNSUPPORTED. */
ATV_MUST_USE enum atv_status atv_atp_did_doc_url(const char *plc_url, const char *did, char *out,
                                                 size_t cap, struct atv_err *err);
/* Fetches and parses DID's document. doc_json (may be NULL) receives the raw
 * document for caching. HTTP 404 is ATV_E_NOT_FOUND (reason "did_not_found"),
 * 410 ATV_E_NOT_FOUND (reason "did_deactivated"), other non-200 ATV_E_IO. */
ATV_MUST_USE enum atv_status atv_atp_did_resolve(const struct atv_fetcher *f, const char *plc_url,
                                                 const char *did, struct atv_buf *doc_json,
                                                 struct atv_diddoc *out, struct atv_err *err);
/* Handle -> DID: DNS TXT _atproto.HANDLE with exactly one "did=" record, else
 * https://HANDLE/.well-known/atproto-did (first line, trimmed, <= 2 KiB).
 * out receives the DID (NUL-terminated, cap bytes). */
ATV_MUST_USE enum atv_status atv_atp_handle_resolve(const struct atv_fetcher *f,
                                                    const char *handle, char *out, size_t cap,
                                                    struct atv_err *err);
/* Bidirectional check: doc->handle must resolve back to doc->did.
 * ATV_OK when it does; ATV_E_VERIFY (reason "handle_mismatch") when it
 * resolves elsewhere or not at all; ATV_E_NOT_FOUND when doc declares none. */
ATV_MUST_USE enum atv_status atv_atp_handle_verify(const struct atv_fetcher *f,
                                                   const struct atv_diddoc *doc,
                                                   struct atv_err *err);
/* {pds}/xrpc/com.atproto.sync.getRecord?did=&collection=&rkey= with the
 * parameters percent-encoded. */
ATV_MUST_USE enum atv_status atv_atp_getrecord_url(const char *pds, const char *did,
                                                   const char *collection, const char *rkey,
                                                   char *out, size_t cap, struct atv_err *err);

/* ==== did:plc operation logs ================================================
 * did:plc spec v0.3 (did-method-plc website/spec/v0.1/did-plc.md) as
 * go-didplc VerifyOpLog replays it (reference/plc-audit-log.md, "Algorithm
 * for a C verifier"). The log is the body of GET {plc}/{did}/log/audit: a
 * JSON array of {did, operation, cid, nullified, createdAt}, every operation,
 * nullified ones included, createdAt ascending. Verification starts from the
 * genesis hash (the DID is "did:plc:" + the first 24 characters of
 * base32(sha256(DAG-CBOR of the signed genesis operation))), so neither a
 * directory nor a bundle can substitute a key. It does NOT prove freshness:
 * a valid prefix of a log verifies too (reference section 10). */

/* Forks may nullify operations at most this old (72 h, exactly 72 h allowed). */
#define ATV_PLC_NULLIFY_WINDOW_MS (72LL * 3600LL * 1000LL)
/* "YYYY-MM-DDTHH:MM:SS.sssZ" plus NUL. */
#define ATV_PLC_TIME_CAP 25u

/* What the last entry of a verified log (its head operation) says.
 * Strings are NUL-terminated, "" when absent. */
struct atv_plc_state {
    char did[ATV_MAX_DID + 1];
    size_t n_ops;                       /* entries in the log, nullified ones included */
    char head_cid[ATV_CID_STR_CAP];     /* CID of the head op: "bafyrei..." */
    char head_created_at[ATV_PLC_TIME_CAP];
    int64_t head_time_ms;               /* head_created_at, ms since the Unix epoch */
    int tombstoned;                     /* the head is a plc_tombstone: DID deactivated */
    int has_key;                        /* verificationMethods.atproto is a K-256/P-256 did:key */
    struct atv_pubkey key;              /* valid when has_key */
    /* services.atproto_pds.endpoint when its type is AtprotoPersonalDataServer and
     * it starts with https:// or http://; otherwise "". */
    char pds[ATV_MAX_URL + 1];
    size_t n_aka;                       /* alsoKnownAs, in order */
    char aka[ATV_MAX_PLC_AKA][ATV_MAX_PLC_AKA_LEN + 1];
};

/* Verifies a whole audit log for did.
 * In:  json  the audit log (borrow); at most ATV_MAX_PLC_LOG_JSON bytes and
 *            ATV_MAX_PLC_LOG_ENTRIES entries, each operation at most
 *            ATV_MAX_PLC_OP_CBOR bytes of DAG-CBOR and ATV_MAX_PLC_ROTATION_KEYS
 *            rotation keys (all checked before any signature is).
 *      did   the DID asked for: "did:plc:" + 24 characters of [a-z2-7].
 * Out: *out filled on ATV_OK; zeroed on any failure. A legacy `create` head
 *      is normalised as the directory does (key = signingKey, alsoKnownAs =
 *      at://handle, pds = service with https:// added when it has no scheme).
 *      The head's alsoKnownAs over ATV_MAX_PLC_AKA entries or
 *      ATV_MAX_PLC_AKA_LEN characters, or a PDS endpoint over ATV_MAX_URL, is
 *      ATV_E_LIMIT. A head whose atproto key is absent or not K-256/P-256
 *      verifies with has_key 0 (the caller decides).
 * Returns: ATV_OK for a valid log (a tombstoned one included: tombstoned 1);
 *      ATV_E_VERIFY, reason "plc_log_invalid", when a rule of the log is broken
 *      (DID, CID, prev chain, signature and its encoding, createdAt order, the
 *      72 h window, nullified flags), the message naming the entry index;
 *      ATV_E_PARSE, reason "plc_log_malformed", for bad JSON, a non-array root,
 *      an empty log, a missing, extra or mistyped field, a malformed createdAt
 *      or did argument; ATV_E_LIMIT over a cap; ATV_E_NOMEM. */
ATV_MUST_USE enum atv_status atv_atp_plc_log_verify(struct atv_bytes json, const char *did,
                                                    struct atv_plc_state *out,
                                                    struct atv_err *err);

/* A did:plc's verified state from its log's bytes, wherever they came from
 * (the directory, the cache, an offline bundle): atv_atp_plc_log_verify,
 * then the key, the PDS and the handle as atv_atp_plc_resolve gives them.
 * Out: *state and *out on ATV_OK (zeroed otherwise); as there, a tombstoned
 *      or keyless state is ATV_OK: check it with atv_atp_plc_usable.
 * Returns: ATV_OK or the log verifier's errors. */
ATV_MUST_USE enum atv_status atv_atp_plc_from_log(struct atv_bytes json, const char *did,
                                                  struct atv_plc_state *state,
                                                  struct atv_diddoc *out, struct atv_err *err);

/* did:plc from its operation log, trusting nothing the directory says:
 * GET {plc_url}/{did}/log/audit (plc_url NULL: ATV_DEFAULT_PLC_URL), then
 * atv_atp_plc_log_verify. The key, the PDS and the handle (the first
 * at:// alsoKnownAs of valid handle syntax, lower-cased) come from the last
 * valid operation.
 * Out: *out and *state filled on ATV_OK (zeroed otherwise); log_json (may
 *      be NULL) receives the log's bytes, for the rollback check. A verified
 *      log that ends in a tombstone or names no usable key is still ATV_OK
 *      (state says so, out->key is then empty): the caller runs the rollback
 *      check on it, then atv_atp_plc_usable.
 * Returns: ATV_OK; ATV_E_NOT_FOUND reason "did_not_found" (HTTP 404),
 *      "did_deactivated" (410); the log verifier's errors ("plc_log_invalid",
 *      "plc_log_malformed", limits); ATV_E_IO for transport failures and
 *      other statuses (5xx and 429 transient); ATV_E_USAGE for a bad plc_url. */
ATV_MUST_USE enum atv_status atv_atp_plc_resolve(const struct atv_fetcher *f, const char *plc_url,
                                                 const char *did, struct atv_buf *log_json,
                                                 struct atv_plc_state *state,
                                                 struct atv_diddoc *out, struct atv_err *err);

/* Whether a verified state can sign: ATV_OK; ATV_E_NOT_FOUND reason
 * "did_tombstoned" (deactivated) or "no_signing_key". */
ATV_MUST_USE enum atv_status atv_atp_plc_usable(const struct atv_plc_state *st,
                                                struct atv_err *err);

/* 1 when the log contains an entry whose cid is exactly cid (nullified or
 * not), else 0 (also for JSON that is not an array). *nullified (may be NULL)
 * receives that entry's flag. It only reads the JSON: json must be a log that
 * atv_atp_plc_log_verify accepted, whose flags and CIDs it then vouches for. */
int atv_atp_plc_log_contains(struct atv_bytes json, const char *cid, int *nullified);

/* One operation (a JSON object: plc_operation, plc_tombstone or legacy
 * create), schema-checked as the log verifier does (no placement rules, no
 * signature check), then encoded.
 * Out: cid receives its CID string (NUL-terminated; "" on failure);
 *      signed_cbor / unsigned_cbor (each may be NULL; initialised by the
 *      caller, appended to) receive the DAG-CBOR with and without `sig`.
 * Returns: ATV_OK; ATV_E_PARSE for a schema violation; ATV_E_LIMIT over
 *      ATV_MAX_PLC_OP_CBOR or ATV_MAX_PLC_ROTATION_KEYS (or a buffer's max). */
ATV_MUST_USE enum atv_status atv_atp_plc_op_cid(struct atv_bytes op_json,
                                                char cid[ATV_CID_STR_CAP],
                                                struct atv_buf *signed_cbor,
                                                struct atv_buf *unsigned_cbor,
                                                struct atv_err *err);

/* ==== the signature artifact (DESIGN.md "The signature artifact") ===========
 * The JSON blob of the referrer layer application/vnd.atproto.signature.v1+json.
 * Parsed strictly: duplicate keys, wrong types, a missing required field or
 * a malformed value are ATV_E_PARSE (reason "bad_artifact"); fields we do not
 * know are ignored, so ATCR may add some. Everything except subject and
 * atproto.did/recordUri is a claim: reported, never used to decide. */
#define ATV_ARTIFACT_TYPE "application/vnd.atproto.signature.v1+json"
#define ATV_MAX_ARTIFACT (64u << 10)

struct atv_sig_artifact {
    char subject_digest[72];        /* sha256:<64 hex> */
    char subject_media_type[128];   /* "" when absent */
    char did[ATV_MAX_DID + 1];
    struct atv_record_uri record;   /* from atproto.recordUri; record.did == did */
    char handle[ATV_MAX_HANDLE + 1];    /* claim, "" when absent */
    char pds[ATV_MAX_URL + 1];          /* claim, "" when absent */
    int has_commit;
    struct atv_cid commit;              /* claim */
    char signed_at[64];                 /* claim, "" when absent */
    enum atv_key_type algorithm;        /* from signature.algorithm */
    char key_id[ATV_MAX_DID + 16];      /* claim, "" when absent */
    char public_key_multibase[ATV_MAX_MULTIBASE + 1]; /* claim, "" when absent */
};

ATV_MUST_USE enum atv_status atv_atp_artifact_parse(struct atv_bytes json,
                                                    struct atv_sig_artifact *out,
                                                    struct atv_err *err);
/* 1 when s is "sha256:" followed by exactly 64 lower-case hex digits. */
int atv_atp_digest_valid(const char *s);

#endif
