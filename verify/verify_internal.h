/* verify/verify_internal.h: where a verification's bytes come from (source.c).
 * Live: the registry, the PLC/did:web host and the PDS over common/http, the
 * DID-document cache and Ratify's ORAS cache, optionally recording every
 * answer into a bundle. Offline: the bundle only, and no socket is opened.
 * The checks themselves stay in verify.c. Never included outside verify/. */
#ifndef ATV_VERIFY_VERIFY_INTERNAL_H
#define ATV_VERIFY_VERIFY_INTERNAL_H

#include "atproto/atproto.h"
#include "common/http.h"
#include "referrer/referrer.h"
#include "verify/verify.h"

struct vsrc {
    const struct atv_vfy_request *req;
    struct atv_ref_image img;
    struct atv_http *reg_h;        /* registry: plain http only with the store's useHttp */
    struct atv_http *id_h;         /* PLC, did:web, PDS, handles */
    struct atv_ref_client *client;
    int64_t oldest;                /* offline: fetchedAt of the oldest evidence used, 0 none */
};

/* Parses req->subject and, live, opens the HTTP sessions and the registry
 * client (credentials as Ratify's store finds them). ATV_E_PARSE: the
 * subject is not a reference. Close with vsrc_close even on failure. */
/* snprintf that may truncate on purpose (messages, bounded fields).
 * Returns 1 when everything fit. */
int vfy_bprintf(char *dst, size_t cap, const char *fmt, ...) ATV_PRINTF(3, 4);

/* The policy the parameters name: trustPolicy's file, else the trustedDIDs
 * list (none given: an empty list, which trusts nothing). Both given is
 * ATV_E_PARSE. Out: *out (new: atv_policy_free). */
ATV_MUST_USE enum atv_status vfy_policy_load(const struct atv_vfy_params *p,
                                             struct atv_policy **out, struct atv_err *err);

/* Milliseconds an HTTP session of req may use (0: the deadline has passed). */
uint32_t vsrc_budget_ms(const struct atv_vfy_request *req);
ATV_MUST_USE enum atv_status vsrc_open(struct vsrc *s, const struct atv_vfy_request *req,
                                       struct atv_err *err);
void vsrc_close(struct vsrc *s);
/* 1 when a live deadline has passed (a transport error is then a timeout). */
int vsrc_timed_out(const struct vsrc *s);

ATV_MUST_USE enum atv_status vsrc_tag(struct vsrc *s, char digest[72], struct atv_err *err);
ATV_MUST_USE enum atv_status vsrc_manifest(struct vsrc *s, const char *digest, int64_t size,
                                           struct atv_buf *body, char *ctype, size_t cap,
                                           struct atv_err *err);
ATV_MUST_USE enum atv_status vsrc_blob(struct vsrc *s, const char *digest, int64_t size,
                                       struct atv_buf *body, struct atv_err *err);
ATV_MUST_USE enum atv_status vsrc_referrers(struct vsrc *s, const char *subject_digest,
                                            struct atv_ref_index *ix, struct atv_err *err);
/* The DID document: live from the cache when fresh, else resolved (and cached). */
ATV_MUST_USE enum atv_status vsrc_diddoc(struct vsrc *s, const char *did, struct atv_diddoc *doc,
                                         struct atv_err *err);
/* The getRecord answer for uri from pds: *status and the body. */
ATV_MUST_USE enum atv_status vsrc_record(struct vsrc *s, const char *pds,
                                         const struct atv_record_uri *uri, long *status,
                                         struct atv_buf *body, struct atv_err *err);
/* Rollback guard: the highest commit rev seen for did (in the cache dir,
 * when the cache is on; live only). ATV_E_VERIFY (reason "stale_commit")
 * when rev is older than one seen before; otherwise ATV_OK, remembering rev
 * when it is newer. */
ATV_MUST_USE enum atv_status vsrc_rev_check(struct vsrc *s, const char *did, const char *rev,
                                            struct atv_err *err);
/* Bidirectional handle check; offline: ATV_E_UNSUPPORTED (reason "offline"). */
ATV_MUST_USE enum atv_status vsrc_handle(struct vsrc *s, const struct atv_diddoc *doc,
                                         struct atv_err *err);

#endif
