/* referrer/ref_internal.h: helpers shared by the referrer module only (never included elsewhere). */
#ifndef ATV_REFERRER_REF_INTERNAL_H
#define ATV_REFERRER_REF_INTERNAL_H

#include "referrer/referrer.h"

/* Frees a descriptor's annotation strings and zeroes it. */
void atv_ref_desc_cleanup(struct atv_ref_desc *d);

/* The target of the rel="next" link in a Link header value (RFC 8288
 * section 3), as written (a URI reference, not resolved). Returns: ATV_OK
 * with out set (cap bytes); ATV_E_NOT_FOUND (err untouched) when value is
 * NULL or holds no rel="next"; ATV_E_PARSE for a value that does not parse
 * or names two different next targets; ATV_E_LIMIT for a target that does
 * not fit. out is "" unless ATV_OK. */
ATV_MUST_USE enum atv_status atv_ref_link_next(const char *value, char *out, size_t cap,
                                               struct atv_err *err);

#endif
