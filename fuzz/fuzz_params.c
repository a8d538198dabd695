/* fuzz/fuzz_params.c: the verifier parameters (the Verifier CR's
 * `parameters`, atcr-verify's --config file).
 *
 * Target functions: atv_vfy_params_init, atv_vfy_params_parse,
 * atv_vfy_params_cleanup.
 *
 * Parsed parameters stay within their caps and documented ranges, and their
 * strings are terminated; a failed parse leaks nothing. No I/O (init reads
 * TMPDIR and the uid only). */
#include "fuzz/fuzz.h"

#include "verify/verify.h"

#define FZ_TERMINATED(field) FZ_CHECK(memchr((field), 0, sizeof(field)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_vfy_params *p = malloc(sizeof *p);
    struct atv_err err;
    size_t i;

    FZ_CHECK(p != NULL);
    atv_vfy_params_init(p);
    atv_err_clear(&err);
    if (atv_vfy_params_parse((struct atv_bytes){data, size}, p, &err) == ATV_OK) {
        FZ_CHECK(p->n_trusted <= ATV_VFY_MAX_LIST && p->n_collections <= ATV_VFY_MAX_LIST);
        FZ_CHECK(p->timeout_ms > 0 && p->timeout_ms <= ATV_VFY_MAX_TIMEOUT_MS);
        for (i = 0; i < p->n_trusted; i++) {
            FZ_CHECK(p->trusted_dids[i] != NULL);
        }
        for (i = 0; i < p->n_collections; i++) {
            FZ_CHECK(p->collections[i] != NULL);
        }
        FZ_TERMINATED(p->trust_policy);
        FZ_TERMINATED(p->plc);
        FZ_TERMINATED(p->cache_dir);
        FZ_TERMINATED(p->ca_file);
        FZ_TERMINATED(p->unknown);
        FZ_CHECK(p->trust_policy[0] == '\0' || p->trust_policy[0] == '/');
    } else {
        FZ_CHECK(err.code != ATV_OK);
    }
    atv_vfy_params_cleanup(p);
    free(p);
    return 0;
}
