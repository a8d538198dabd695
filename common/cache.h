/* common/cache.h: a small on-disk cache of fetched documents (DID documents).
 *
 * Safe with many plugin processes at once: writes go to a temporary file in
 * the same directory, then rename(2). The directory is created 0700, files
 * are 0600. A directory that is not ours is never read nor written. A file
 * that is corrupt, truncated, too old, too big, not ours (owner uid differs)
 * or not a regular file is ignored (a miss), never trusted. Keys are hashed into file names, so any string is a valid key.
 */
#ifndef ATV_COMMON_CACHE_H
#define ATV_COMMON_CACHE_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Judges a cache directory: usable when it is a real directory (lstat(2): a
 * symlink is refused), owned by geteuid(), with no group or other write bit
 * (0700 is what we create). A directory another local user made or can write
 * (a pre-created /tmp/atproto-verifier-0, say) could hold planted entries:
 * DID documents, or the "rev" entries the rollback guard compares against.
 * create: 1 to create an absent dir (0700; its parent must exist).
 * Returns: ATV_OK when usable; ATV_E_NOT_FOUND (reason "cache_absent") when
 * dir does not exist and create is 0; ATV_E_IO (reason "cache_unusable")
 * otherwise, the message naming the problem ("cache directory /tmp/x is owned
 * by uid 1000, not 0"); ATV_E_USAGE for a NULL or empty dir. */
ATV_MUST_USE enum atv_status atv_cache_dir_check(const char *dir, int create, struct atv_err *err);

/* Reads the entry for key if it is at most max_age_s seconds old. dir is
 * judged as atv_cache_dir_check does (on the descriptor the entry is then
 * opened from) before anything in it is read.
 * Returns ATV_OK with the bytes appended to out and *stored_at (unix seconds,
 * may be NULL) set; ATV_E_NOT_FOUND for a miss (dir or entry absent, entry
 * stale or unusable); ATV_E_IO (reason "cache_unusable") when dir exists but
 * is not ours (see atv_cache_dir_check): nothing in it was read. */
ATV_MUST_USE enum atv_status atv_cache_get(const char *dir, const char *key, uint32_t max_age_s,
                                           struct atv_buf *out, int64_t *stored_at,
                                           struct atv_err *err);
/* Stores bytes under key, atomically. Creates dir (0700) if needed; refuses
 * (ATV_E_IO, reason "cache_unusable") a dir atv_cache_dir_check refuses. */
ATV_MUST_USE enum atv_status atv_cache_put(const char *dir, const char *key, struct atv_bytes bytes,
                                           struct atv_err *err);

/* Compare and set, for values that may only move forward (the PLC log head
 * of a DID), with concurrent processes: under a lock on the directory,
 * stores next under key only if the current value (at most max_age_s old)
 * equals expect (expect.len 0: only if there is none).
 * Returns: ATV_OK stored; ATV_E_VERIFY (reason "cache_conflict") when the
 * current value differs, which is then in *current (empty: none);
 * ATV_E_IO ("cache_unusable", "cache_busy" when the lock is not taken
 * within about 250 ms). current is caller-initialised (its max applies). */
ATV_MUST_USE enum atv_status atv_cache_cas(const char *dir, const char *key, uint32_t max_age_s,
                                           struct atv_bytes expect, struct atv_bytes next,
                                           struct atv_buf *current, struct atv_err *err);

#endif
