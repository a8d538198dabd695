/* referrer/cache.c: read-only look into Ratify's local ORAS cache, an OCI
 * image layout (image-spec image-layout.md: blobs/<alg>/<encoded>). */
#include "referrer/referrer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum atv_status atv_ref_cache_read(const char *cache_dir, const char *digest, size_t max,
                                   struct atv_buf *out, struct atv_err *err)
{
    char path[4096];
    struct stat st;
    struct atv_buf tmp;
    enum atv_status rc = atv_ref_digest_check(digest, err);
    if (rc != ATV_OK) {
        return rc;
    }
    if (cache_dir == NULL || cache_dir[0] == '\0') {
        return atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: no directory");
    }
    int n = snprintf(path, sizeof path, "%s/blobs/sha256/%s", cache_dir, digest + 7);
    if (n < 0 || (size_t)n >= sizeof path) {
        return atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: path too long");
    }
    if (stat(path, &st) != 0) {
        return atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: no entry (%s)", strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: entry is not a regular file");
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        return atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: entry of %lld bytes over %zu",
                           (long long)st.st_size, max);
    }
    atv_buf_init(&tmp, max);
    rc = atv_buf_read_file(&tmp, path, err);
    if (rc != ATV_OK) {
        atv_err_clear(err);
        rc = atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: entry unreadable");
        goto out;
    }
    rc = atv_ref_digest_verify(digest, atv_buf_view(&tmp), err);
    if (rc != ATV_OK) {
        /* a corrupt entry is a miss: the caller fetches from the registry */
        atv_err_clear(err);
        rc = atv_err_set(err, ATV_E_NOT_FOUND, "oras cache: entry does not match its digest");
        goto out;
    }
    rc = atv_buf_append(out, tmp.ptr, tmp.len, err);
out:
    atv_buf_cleanup(&tmp);
    return rc;
}
