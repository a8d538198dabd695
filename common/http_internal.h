/* common/http_internal.h: common/http.c internals exposed for its unit tests
 * only (common/tests/test_http.c); never included from another module. */
#ifndef ATV_COMMON_HTTP_INTERNAL_H
#define ATV_COMMON_HTTP_INTERNAL_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"

struct sockaddr_in;

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

/* Makes h's DNS TXT lookups (the fetcher's txt) ask ns only, instead of the
 * servers of /etc/resolv.conf: the tests' loopback DNS servers (one that
 * answers, one that never does). NULL restores resolv.conf. Sessions made
 * from h by atv_http_sub inherit it. ns is copied. */
void atv_http_test_nameserver(struct atv_http *h, const struct sockaddr_in *ns);

/* TXT lookup threads still running: a lookup abandoned at its deadline
 * leaves its thread behind until libresolv gives up. Tests wait for 0
 * before exiting, so that valgrind and LeakSanitizer see no job left. */
unsigned int atv_http_dns_inflight(void);

#endif
