/* referrer/ref_internal.h: helpers shared by the referrer module only (never included elsewhere). */
#ifndef ATV_REFERRER_REF_INTERNAL_H
#define ATV_REFERRER_REF_INTERNAL_H

#include "referrer/referrer.h"

/* Frees a descriptor's annotation strings and zeroes it. */
void atv_ref_desc_cleanup(struct atv_ref_desc *d);

#endif
