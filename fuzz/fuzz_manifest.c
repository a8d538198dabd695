/* fuzz/fuzz_manifest.c: what a registry answers, and what an operator writes.
 *
 * Target functions: atv_ref_manifest_parse, atv_ref_manifest_artifact_type,
 * atv_ref_manifest_cleanup, atv_ref_index_parse, atv_ref_index_cleanup,
 * atv_ref_image_parse, atv_ref_challenge_parse, atv_ref_creds_from_json,
 * atv_ref_creds_wipe, atv_ref_digest_check.
 *
 * Every parser sees every input: manifests, indexes (referrers answers) and
 * Docker config files as bytes; image references, WWW-Authenticate values
 * and digests as the C string up to the first NUL. What parses keeps its
 * documented shape (digests checked, counts within the caps, strings
 * terminated). No I/O: atv_ref_creds_from_json reads the bytes given. */
#include "fuzz/fuzz.h"

#include "referrer/referrer.h"

#define FZ_TERMINATED(field) FZ_CHECK(memchr((field), 0, sizeof(field)) != NULL)

static const char *const fz_registries[] = {"docker.io", "localhost:5000", "ghcr.io"};

static void fz_desc(const struct atv_ref_desc *d)
{
    FZ_TERMINATED(d->media_type);
    FZ_TERMINATED(d->artifact_type);
    FZ_CHECK(atv_ref_digest_check(d->digest, NULL) == ATV_OK);
    FZ_CHECK(d->size >= 0);
}

static void fz_manifest(struct atv_bytes body)
{
    struct atv_ref_manifest *m = malloc(sizeof *m);
    struct atv_err err;
    size_t i;

    FZ_CHECK(m != NULL);
    atv_err_clear(&err);
    if (atv_ref_manifest_parse(body, m, &err) == ATV_OK) {
        const char *at = atv_ref_manifest_artifact_type(m);
        FZ_CHECK(at != NULL);
        FZ_TERMINATED(m->media_type);
        FZ_TERMINATED(m->artifact_type);
        fz_desc(&m->config);
        FZ_CHECK(m->n_layers <= ATV_REF_MAX_LAYERS);
        FZ_CHECK(m->n_layers == 0 || m->layers != NULL);
        for (i = 0; i < m->n_layers; i++) {
            fz_desc(&m->layers[i]);
        }
        if (m->has_subject) {
            fz_desc(&m->subject);
        }
        atv_ref_manifest_cleanup(m);
    } else {
        FZ_CHECK(err.code != ATV_OK);
        FZ_CHECK(m->layers == NULL && m->ann_did == NULL);
    }
    free(m);
}

static void fz_index(struct atv_bytes body)
{
    struct atv_ref_index *ix = malloc(sizeof *ix);
    struct atv_err err;
    size_t i;

    FZ_CHECK(ix != NULL);
    atv_err_clear(&err);
    if (atv_ref_index_parse(body, ix, &err) == ATV_OK) {
        FZ_TERMINATED(ix->media_type);
        FZ_CHECK(ix->n <= ATV_REF_MAX_INDEX_ENTRIES);
        for (i = 0; i < ix->n; i++) {
            fz_desc(&ix->manifests[i]);
        }
        atv_ref_index_cleanup(ix);
    } else {
        FZ_CHECK(err.code != ATV_OK);
        FZ_CHECK(ix->manifests == NULL && ix->n == 0);
    }
    free(ix);
}

static void fz_strings(const char *s)
{
    struct atv_ref_image *img = malloc(sizeof *img);
    struct atv_ref_challenge *ch = malloc(sizeof *ch);
    struct atv_err err;

    FZ_CHECK(img != NULL && ch != NULL);
    atv_err_clear(&err);
    if (atv_ref_image_parse(s, 0, img, &err) == ATV_OK) {
        FZ_TERMINATED(img->registry);
        FZ_TERMINATED(img->api_host);
        FZ_TERMINATED(img->repository);
        FZ_TERMINATED(img->tag);
        FZ_TERMINATED(img->digest);
        FZ_CHECK(img->registry[0] != '\0' && img->api_host[0] != '\0' &&
                 img->repository[0] != '\0');
        FZ_CHECK(img->tag[0] != '\0' || img->digest[0] != '\0');
        FZ_CHECK(img->digest[0] == '\0' || atv_ref_digest_check(img->digest, NULL) == ATV_OK);
    }
    atv_err_clear(&err);
    if (atv_ref_challenge_parse(s, ch, &err) == ATV_OK) {
        FZ_CHECK(ch->scheme == ATV_REF_AUTH_BASIC || ch->scheme == ATV_REF_AUTH_BEARER);
        FZ_TERMINATED(ch->realm);
        FZ_TERMINATED(ch->service);
        FZ_TERMINATED(ch->scope);
        FZ_CHECK(ch->realm[0] != '\0');
    }
    atv_err_clear(&err);
    if (atv_ref_digest_check(s, &err) == ATV_OK) {
        FZ_CHECK(strlen(s) == ATV_REF_DIGEST_LEN);
    }
    free(img);
    free(ch);
}

static void fz_creds(struct atv_bytes body)
{
    struct atv_ref_creds *c = malloc(sizeof *c);
    struct atv_err err;
    size_t i;

    FZ_CHECK(c != NULL);
    for (i = 0; i < sizeof fz_registries / sizeof fz_registries[0]; i++) {
        atv_err_clear(&err);
        if (atv_ref_creds_from_json(body, fz_registries[i], c, &err) == ATV_OK) {
            FZ_TERMINATED(c->username);
            FZ_TERMINATED(c->password);
            FZ_TERMINATED(c->identity_token);
            FZ_TERMINATED(c->warning);
        }
        atv_ref_creds_wipe(c);
    }
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct atv_bytes body = {data, size};
    char *s = fz_cstr(data, size, NULL);

    fz_manifest(body);
    fz_index(body);
    fz_creds(body);
    fz_strings(s);
    free(s);
    return 0;
}
