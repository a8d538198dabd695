/* common/buf.h: borrowed byte views, owned capped buffers, and bounded readers.
 *
 * struct atv_bytes is a borrowed view: the pointer is valid while its owner lives.
 * struct atv_buf owns its memory and never grows past `max` (ATV_E_LIMIT).
 * struct atv_reader walks untrusted bytes: every read checks what remains
 * before it advances, and advances only on success. Only reader functions do
 * pointer arithmetic on input.
 */
#ifndef ATV_COMMON_BUF_H
#define ATV_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct atv_bytes {
    const uint8_t *ptr;
    size_t len;
};

struct atv_buf {
    uint8_t *ptr;
    size_t len, cap, max;
};

struct atv_reader {
    const uint8_t *p, *end;
};

/* A view of a NUL-terminated string (borrow). s may be NULL (empty view). */
struct atv_bytes atv_bytes_str(const char *s);
/* 1 when a and b hold the same bytes, else 0. */
int atv_bytes_eq(struct atv_bytes a, struct atv_bytes b);
/* 1 when the view equals the NUL-terminated s, else 0. */
int atv_bytes_eq_str(struct atv_bytes a, const char *s);

/* Initializes an empty buffer that may hold at most max bytes. */
void atv_buf_init(struct atv_buf *b, size_t max);
/* Frees the memory and empties the buffer; b may be NULL. */
void atv_buf_cleanup(struct atv_buf *b);
/* Appends n bytes. Returns ATV_E_LIMIT past max (b unchanged), ATV_E_NOMEM. */
ATV_MUST_USE enum atv_status atv_buf_append(struct atv_buf *b, const void *p, size_t n,
                                            struct atv_err *err);
/* Appends one byte. */
ATV_MUST_USE enum atv_status atv_buf_push(struct atv_buf *b, uint8_t c, struct atv_err *err);
/* Appends a NUL byte without counting it in len, so ptr is a C string. */
ATV_MUST_USE enum atv_status atv_buf_terminate(struct atv_buf *b, struct atv_err *err);
/* The buffer's contents as a view (borrow: valid until the buffer changes). */
struct atv_bytes atv_buf_view(const struct atv_buf *b);
/* Transfers ownership of the memory to the caller (new: free()); b is left empty. */
uint8_t *atv_buf_take(struct atv_buf *b, size_t *len);

/* Reads a whole regular file into b (capped by b->max). A FIFO, device,
 * socket or directory is ATV_E_IO without blocking: nothing a path names can
 * hang a run. ATV_E_IO names the path. */
ATV_MUST_USE enum atv_status atv_buf_read_file(struct atv_buf *b, const char *path,
                                               struct atv_err *err);
/* Reads the file `name` found beneath the directory open as dirfd into b
 * (capped by b->max), as atv_buf_read_file judges it, following symbolic
 * links only while every step stays inside that directory: a relative target
 * that never climbs above it with "..", or an absolute target under root
 * (that directory's canonical path; NULL: no absolute target is followed).
 * Kubernetes ConfigMap and Secret volumes are such links (x.json ->
 * ..data/x.json, ..data -> ..2024_01_01_xxx). It is openat2's RESOLVE_BENEATH
 * done one component at a time with O_NOFOLLOW, so a link swapped in mid-way
 * fails rather than escapes. At most ATV_MAX_SYMLINKS links,
 * ATV_MAX_BENEATH_DEPTH directories, ATV_MAX_BENEATH_PATH bytes of path.
 * Returns ATV_OK; ATV_E_IO with reason "outside_dir" (a link leads out),
 * "not_regular" (FIFO, device, socket, directory: never blocks) or none
 * (missing, unreadable, too many links); ATV_E_LIMIT over b->max (judged
 * from the size before reading). Messages name `name`. */
ATV_MUST_USE enum atv_status atv_buf_read_beneath(struct atv_buf *b, int dirfd, const char *root,
                                                  const char *name, struct atv_err *err);
/* Reads a whole stream (e.g. stdin) into b. */
ATV_MUST_USE enum atv_status atv_buf_read_fd(struct atv_buf *b, int fd, struct atv_err *err);

/* Reader over a view. */
void atv_rd_init(struct atv_reader *rd, struct atv_bytes b);
size_t atv_rd_left(const struct atv_reader *rd);
int atv_rd_eof(const struct atv_reader *rd);
ATV_MUST_USE enum atv_status atv_rd_u8(struct atv_reader *rd, uint8_t *out, struct atv_err *err);
ATV_MUST_USE enum atv_status atv_rd_take(struct atv_reader *rd, size_t n, struct atv_bytes *out,
                                         struct atv_err *err);
/* Unsigned LEB128 varint (multiformats unsigned-varint): at most
 * ATV_MAX_VARINT_BYTES bytes, minimal encoding only (no trailing 0x80 0x00). */
ATV_MUST_USE enum atv_status atv_rd_uvarint(struct atv_reader *rd, uint64_t *out,
                                            struct atv_err *err);
/* The remaining bytes, as a view. */
struct atv_bytes atv_rd_rest(const struct atv_reader *rd);

/* SHA-256 of a view (OpenSSL). out holds 32 bytes. */
void atv_sha256(struct atv_bytes in, uint8_t out[32]);

/* Base64 (RFC 4648 section 4, standard alphabet). Decoding accepts input with
 * or without '=' padding, rejects any other character, whitespace included,
 * and non-zero trailing bits. Encoding writes no padding. */
ATV_MUST_USE enum atv_status atv_base64_decode(const char *s, size_t n, struct atv_buf *out,
                                               struct atv_err *err);
ATV_MUST_USE enum atv_status atv_base64_encode(struct atv_bytes in, struct atv_buf *out,
                                               struct atv_err *err);
/* Lower-case hex; decode rejects odd lengths and non-hex characters. */
ATV_MUST_USE enum atv_status atv_hex_decode(const char *s, size_t n, struct atv_buf *out,
                                            struct atv_err *err);
void atv_hex_encode(struct atv_bytes in, char *out, size_t cap);

#endif
