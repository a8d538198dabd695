/* common/cache.h: a small on-disk cache of fetched documents (DID documents).
 *
 * Safe with many plugin processes at once: writes go to a temporary file in
 * the same directory, then rename(2). The directory is created 0700, files
 * are 0600. A file that is corrupt, truncated, too old, too big, not ours
 * (owner uid differs) or not a regular file is ignored (a miss), never
 * trusted. Keys are hashed into file names, so any string is a valid key.
 */
#ifndef ATV_COMMON_CACHE_H
#define ATV_COMMON_CACHE_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Reads the entry for key if it is at most max_age_s seconds old.
 * Returns ATV_OK with the bytes appended to out and *stored_at (unix seconds,
 * may be NULL) set; ATV_E_NOT_FOUND for a miss (absent, stale or unusable). */
ATV_MUST_USE enum atv_status atv_cache_get(const char *dir, const char *key, uint32_t max_age_s,
                                           struct atv_buf *out, int64_t *stored_at,
                                           struct atv_err *err);
/* Stores bytes under key, atomically. Creates dir (0700) if needed. */
ATV_MUST_USE enum atv_status atv_cache_put(const char *dir, const char *key, struct atv_bytes bytes,
                                           struct atv_err *err);

#endif
