/* referrer/transport.c: the production transport, over common/http.
 * Kept in its own file so that unit tests with a fake transport do not link
 * common/http (a static library pulls this object in only when it is used). */
#include "referrer/referrer.h"

static enum atv_status http_perform(void *ctx, const struct atv_http_req *req,
                                    struct atv_http_resp *resp, struct atv_err *err)
{
    return atv_http_do((struct atv_http *)ctx, req, resp, err);
}

struct atv_ref_transport atv_ref_transport_http(struct atv_http *h)
{
    struct atv_ref_transport t = {http_perform, atv_http_resp_cleanup, h};
    return t;
}
