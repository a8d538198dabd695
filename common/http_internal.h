/* common/http_internal.h: common/http.c internals exposed for its unit tests
 * only (common/tests/test_http.c); never included from another module. */
#ifndef ATV_COMMON_HTTP_INTERNAL_H
#define ATV_COMMON_HTTP_INTERNAL_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* Parses a DNS answer message (RFC 1035 section 4.1, wire format, as
 * res_nquery returns it) for name's TXT records: each IN TXT record's
 * character-strings (RFC 1035 section 3.3.14) joined, records separated by
 * '\n', appended to out; other types (a CNAME on the way) and classes are
 * skipped. A string holding '\n' or NUL would make the joined form
 * ambiguous: ATV_E_PARSE. name is for messages only.
 * Returns: ATV_OK; ATV_E_NOT_FOUND when no IN TXT record is there;
 * ATV_E_PARSE for a malformed, truncated or over-long (> 65535 bytes)
 * message; ATV_E_LIMIT when out's max is reached. On failure out is as it
 * was. */
ATV_MUST_USE enum atv_status atv_http_dns_txt_parse(const unsigned char *ans, size_t len,
                                                    const char *name, struct atv_buf *out,
                                                    struct atv_err *err);

#endif
