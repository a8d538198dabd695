/* common/limits.h: every cap on untrusted input, in one place.
 * A value over a cap is ATV_E_LIMIT, never silently truncated. */
#ifndef ATV_COMMON_LIMITS_H
#define ATV_COMMON_LIMITS_H

/* Plugin stdin (Ratify sends a few KiB). */
#define ATV_MAX_STDIN (1u << 20)
/* containerd-verifier's stdin: one OCI descriptor (containerd sends its
 * mediaType, digest, size and annotations: well under 1 KiB). */
#define ATV_MAX_DESCRIPTOR (64u << 10)
/* One token of containerd-verifier's argv (a reference is at most 2 KiB). */
#define ATV_MAX_ARG 8192u
/* An atcr-verify serve /verify answer read by containerd-verifier --server
 * (a verdict with ATV_VFY_MAX_SIGS artifacts is some 40 KiB). */
#define ATV_MAX_VERDICT_JSON (256u << 10)
/* Any HTTP response body. */
#define ATV_MAX_HTTP_BODY (4u << 20)
/* A whole CAR file: a getRecord proof is a few KiB; a full test repo a few hundred. */
#define ATV_MAX_CAR (8u << 20)
/* Blocks in one CAR. */
#define ATV_MAX_CAR_BLOCKS 100000u
/* One CAR section (CID + block). */
#define ATV_MAX_BLOCK (2u << 20)
/* A CAR header's DAG-CBOR. */
#define ATV_MAX_CAR_HEADER 4096u
/* Encoded varints: 9 bytes carry 63 bits (multiformats unsigned-varint spec). */
#define ATV_MAX_VARINT_BYTES 9u
/* DAG-CBOR nesting depth (maps and arrays). */
#define ATV_MAX_CBOR_DEPTH 32u
/* Data items in one DAG-CBOR document. */
#define ATV_MAX_CBOR_ITEMS 200000u
/* A record block. */
#define ATV_MAX_RECORD (1u << 20)
/* MST nodes visited on one lookup (a 4-ary tree of any realistic size is < 30 deep). */
#define ATV_MAX_MST_DEPTH 64u
/* Entries in one MST node. */
#define ATV_MAX_MST_ENTRIES 4096u
/* An MST key ("collection/rkey"): NSID <= 317, rkey <= 512. */
#define ATV_MAX_MST_KEY 1024u
/* A DID (atproto DID spec: 2 KiB at most). */
#define ATV_MAX_DID 2048u
/* A handle (253 characters, DNS). */
#define ATV_MAX_HANDLE 253u
/* An NSID (317 characters). */
#define ATV_MAX_NSID 317u
/* A record key (512 characters). */
#define ATV_MAX_RKEY 512u
/* An AT-URI (8 KiB). */
#define ATV_MAX_ATURI 8192u
/* A multibase key string. */
#define ATV_MAX_MULTIBASE 256u
/* A DID document. */
#define ATV_MAX_DIDDOC (64u << 10)
/* Verification methods / services / alsoKnownAs entries scanned in one DID document. */
#define ATV_MAX_DIDDOC_ENTRIES 64u
/* A URL we will fetch. */
#define ATV_MAX_URL 2048u
/* A signed message passed to verify-sig. */
#define ATV_MAX_MESSAGE (16u << 20)
/* Strings we copy out of records (e.g. `digest`). */
#define ATV_MAX_FIELD 512u

/* did:plc audit logs (reference/plc-audit-log.md section 8; go-didplc sizes its
 * per-DID line buffer at 10 MB, real logs hold 2-5 entries of < 1 KiB). */
/* A whole /{did}/log/audit answer. */
#define ATV_MAX_PLC_LOG_JSON (4u << 20)
/* Entries in one audit log (the directory adds at most 100 a week per DID). */
#define ATV_MAX_PLC_LOG_ENTRIES 1000u
/* The signed DAG-CBOR of one operation: the historic 7500-byte limit with
 * margin (the directory has enforced 4000 since 2023-09). */
#define ATV_MAX_PLC_OP_CBOR 8192u
/* rotationKeys of one operation, so also ECDSA verifications per operation. */
#define ATV_MAX_PLC_ROTATION_KEYS 10u
/* alsoKnownAs entries of the current operation reported to callers, and the
 * length of each (the directory allows 10 of at most 258 characters). */
#define ATV_MAX_PLC_AKA 16u
#define ATV_MAX_PLC_AKA_LEN 512u

/* Offline evidence bundles (verify/bundle.c, README "Offline bundles"). A
 * bundle of one image is a few dozen KiB; these bound what a directory that
 * anyone could write to can make a run read, hold or walk. */
/* The JSON text of one bundle file (bundle export writes no more). */
#define ATV_MAX_BUNDLE_FILE (16u << 20)
/* Evidence held in memory, decoded: one bundle, or one whole bundleDir merged. */
#define ATV_MAX_BUNDLE_DATA (32u << 20)
/* Entries of one bundle, or of one whole bundleDir merged. */
#define ATV_MAX_BUNDLE_ENTRIES 4096u
/* Bundle files (*.json) read from one bundleDir: the first by name. */
#define ATV_MAX_BUNDLE_FILES 64u
/* Bytes of bundle text read from one bundleDir, all its files together. */
#define ATV_MAX_BUNDLE_DIR_BYTES (64u << 20)
/* Names one bundleDir may hold (every name, bundles or not); more is an error. */
#define ATV_MAX_BUNDLE_DIR_NAMES 100000u
/* Symbolic links followed to reach one file beneath a directory (Linux's MAXSYMLINKS). */
#define ATV_MAX_SYMLINKS 40u
/* Directories descended to reach one file beneath a directory. */
#define ATV_MAX_BENEATH_DEPTH 16u
/* A path resolved beneath a directory, the targets of its links spliced in. */
#define ATV_MAX_BENEATH_PATH 4096u

#endif
