/* verify/source.c: the bytes of a verification, live or from a bundle.
 *
 * Live answers are recorded into req->record when it is set, under the keys
 * verify.h documents, so an exported bundle replays exactly this pass.
 * Offline, nothing here opens a socket: the HTTP sessions are never created. */
#include "verify/verify_internal.h"

#include "common/cache.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Time kept back from the HTTP deadline for the work after the last byte
 * (proof check, output), so the verdict still arrives inside timeoutMs. */
#define VSRC_DEADLINE_MARGIN_MS 100u

static int offline(const struct vsrc *s)
{
    return s->req->offline != NULL;
}

static void note_age(struct vsrc *s, int64_t at)
{
    if (s->oldest == 0 || at < s->oldest) {
        s->oldest = at;
    }
}

/* Records a live answer; a failure to record is logged, never fatal to the verdict. */
static void keep(struct vsrc *s, enum atv_vfy_ev kind, const char *key, long status,
                 struct atv_bytes data)
{
    struct atv_err err;
    if (s->req->record == NULL) {
        return;
    }
    atv_err_clear(&err);
    if (atv_vfy_bundle_put(s->req->record, kind, key, status, data, s->req->now, &err) != ATV_OK) {
        atv_vfy_logf(s->req->log, ATV_VFY_WARN, "atproto: bundle: %s", err.msg);
    }
}

/* Evidence fetched at `at` may be used at s->req->now: no longer than
 * bundleMaxAge ago and not in the future, each with ATV_VFY_EVIDENCE_SKEW_S
 * to spare (verify.h "evidence bundles"). Checking every entry as it is used
 * is checking the oldest and the newest of those used. */
static enum atv_status evidence_age_check(const struct vsrc *s, const char *key, int64_t at,
                                          struct atv_err *err)
{
    const int64_t now = s->req->now;
    const uint64_t max_age = s->req->params->bundle_max_age_s;
    const uint64_t skew = ATV_VFY_EVIDENCE_SKEW_S;
    /* for a > b, (uint64_t)a - (uint64_t)b is the exact difference, never an overflow */
    const uint64_t ahead = at > now ? (uint64_t)at - (uint64_t)now : 0;
    const uint64_t ago = at < now ? (uint64_t)now - (uint64_t)at : 0;

    if (ahead > skew) {
        return atv_err_setr(err, ATV_E_VERIFY, "evidence_from_future",
                            "the bundle's evidence for %.200s was fetched %llu s in the future "
                            "(more than the %llu s of clock skew allowed)",
                            key, (unsigned long long)ahead, (unsigned long long)skew);
    }
    if (ago > max_age + skew) {
        return atv_err_setr(err, ATV_E_VERIFY, "evidence_expired",
                            "the bundle's evidence for %.200s was fetched %llu s ago, over "
                            "bundleMaxAge %llu s (+%llu s of clock skew): export it again",
                            key, (unsigned long long)ago, (unsigned long long)max_age,
                            (unsigned long long)skew);
    }
    return ATV_OK;
}

/* From the bundle into body, which must be empty; an entry must exist, and
 * be young enough. */
static enum atv_status from_bundle(struct vsrc *s, enum atv_vfy_ev kind, const char *key,
                                   long *status, struct atv_buf *body, struct atv_err *err)
{
    struct atv_bytes data;
    int64_t at = 0;
    enum atv_status rc = atv_vfy_bundle_get(s->req->offline, kind, key, status, &data, &at, err);
    if (rc == ATV_OK) {
        rc = evidence_age_check(s, key, at, err);
    }
    if (rc == ATV_OK) {
        note_age(s, at);
        rc = atv_buf_append(body, data.ptr, data.len, err);
    }
    return rc;
}

uint64_t atv_vfy_clock_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0 || ts.tv_sec < 0 || ts.tv_nsec < 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What an HTTP session of this run may spend: the time left before the run's
 * deadline (or the whole timeoutMs), less a margin kept for the work after
 * the last byte (proof check, output), so the verdict still arrives inside
 * timeoutMs. 0 when nothing is left. */
uint32_t vsrc_budget_ms(const struct atv_vfy_request *req)
{
    uint64_t now = atv_vfy_clock_ms(), left;
    uint32_t total = req->params->timeout_ms;
    if (req->deadline_ms == 0) {
        left = total;
    } else {
        left = req->deadline_ms > now ? req->deadline_ms - now : 0;
    }
    if (left > total) {
        left = total;
    }
    if (total > 2 * VSRC_DEADLINE_MARGIN_MS) {
        left = left > VSRC_DEADLINE_MARGIN_MS ? left - VSRC_DEADLINE_MARGIN_MS : 0;
    }
    return (uint32_t)left;
}

enum atv_status vsrc_open(struct vsrc *s, const struct atv_vfy_request *req, struct atv_err *err)
{
    const struct atv_vfy_params *p = req->params;
    struct atv_http_opts o;
    struct atv_ref_creds creds;
    enum atv_status rc;
    uint32_t t = vsrc_budget_ms(req);

    memset(s, 0, sizeof *s);
    s->req = req;
    rc = atv_ref_image_parse(req->subject, req->store->use_http, &s->img, err);
    if (rc != ATV_OK) {
        atv_err_prefix(err, "subject reference");
        return ATV_E_PARSE;
    }
    if (offline(s)) {
        return ATV_OK;
    }
    if (t == 0) {
        /* the run's deadline, not the server: a retry with time left may verify */
        (void)atv_err_setr(err, ATV_E_IO, "timeout",
                           "the deadline of timeoutMs %u passed before this step",
                           (unsigned int)p->timeout_ms);
        atv_err_transient(err);
        return ATV_E_IO;
    }
    memset(&o, 0, sizeof o);
    o.timeout_ms = t;
    o.ca_file = p->ca_file[0] != '\0' ? p->ca_file : NULL;
    o.allow_http = req->store->use_http;
    o.allow_loopback_http = p->allow_loopback_http;
    rc = atv_http_new(&o, &s->reg_h, err);
    if (rc != ATV_OK) {
        return rc;
    }
    o.allow_http = 0; /* useHttp is the registry's, never the PLC's or the PDS's */
    rc = atv_http_new(&o, &s->id_h, err);
    if (rc != ATV_OK) {
        return rc;
    }
    memset(&creds, 0, sizeof creds);
    if (req->store->username != NULL) {
        if (strlen(req->store->username) > ATV_REF_MAX_CRED ||
            (req->store->password != NULL && strlen(req->store->password) > ATV_REF_MAX_CRED)) {
            return atv_err_set(err, ATV_E_LIMIT, "registry credentials: over %u bytes",
                               ATV_REF_MAX_CRED);
        }
        (void)snprintf(creds.username, sizeof creds.username, "%s", req->store->username);
        (void)snprintf(creds.password, sizeof creds.password, "%s",
                       req->store->password != NULL ? req->store->password : "");
    } else if (atv_ref_creds_load(req->store->auth_provider, req->store->config_path, s->img.registry,
                           &creds, err) != ATV_OK) {
        /* Ratify logs a provider error and goes on anonymously; so do we */
        atv_vfy_logf(req->log, ATV_VFY_WARN,
                     "atproto: registry credentials: %s; using anonymous access", err->msg);
        atv_ref_creds_wipe(&creds);
        memset(&creds, 0, sizeof creds);
        atv_err_clear(err);
    }
    if (creds.warning[0] != '\0') {
        atv_vfy_logf(req->log, ATV_VFY_WARN, "atproto: %s", creds.warning);
    }
    rc = atv_ref_client_new(atv_ref_transport_http(s->reg_h), &s->img, req->store->use_http,
                            &creds, &s->client, err);
    atv_ref_creds_wipe(&creds);
    return rc;
}

void vsrc_close(struct vsrc *s)
{
    atv_ref_client_free(s->client);
    atv_http_free(s->reg_h);
    atv_http_free(s->id_h);
    s->client = NULL;
    s->reg_h = NULL;
    s->id_h = NULL;
}

int vsrc_timed_out(const struct vsrc *s)
{
    return (s->reg_h != NULL && atv_http_remaining_ms(s->reg_h) == 0) ||
           (s->id_h != NULL && atv_http_remaining_ms(s->id_h) == 0);
}

/* ---- registry ---------------------------------------------------------------------- */

enum atv_status vsrc_tag(struct vsrc *s, char digest[72], struct atv_err *err)
{
    char key[ATV_REF_MAX_HOST + ATV_REF_MAX_NAME + ATV_REF_MAX_TAG + 4];
    enum atv_status rc;

    (void)snprintf(key, sizeof key, "%s/%s:%s", s->img.registry, s->img.repository, s->img.tag);
    digest[0] = '\0';
    if (offline(s)) {
        struct atv_buf b;
        atv_buf_init(&b, 71);
        rc = from_bundle(s, ATV_VFY_EV_TAG, key, NULL, &b, err);
        if (rc == ATV_OK) {
            rc = atv_buf_terminate(&b, err);
        }
        if (rc == ATV_OK) {
            rc = atv_ref_digest_check((const char *)b.ptr, err);
        }
        if (rc == ATV_OK) {
            memcpy(digest, b.ptr, b.len + 1);
        }
        atv_buf_cleanup(&b);
        return rc;
    }
    rc = atv_ref_tag_resolve(s->client, s->img.tag, digest, err);
    if (rc == ATV_OK) {
        keep(s, ATV_VFY_EV_TAG, key, 200, atv_bytes_str(digest));
    }
    return rc;
}

/* Ratify's local ORAS cache (read only; every entry re-hashed by the reader). */
static int oras_cache(struct vsrc *s, const char *digest, int64_t size, struct atv_buf *body)
{
    const struct atv_vfy_store *st = s->req->store;
    char dflt[ATV_VFY_MAX_PATH + 1];
    const char *dir = st->local_cache_path;
    const char *home = getenv("HOME");
    struct atv_err e2;
    int w;

    if (dir[0] == '\0' && home != NULL && home[0] == '/') {
        /* Ratify's default localCachePath (ratify-protocol.md section 3.3) */
        w = snprintf(dflt, sizeof dflt, "%s/.ratify/local_oras_cache", home);
        dir = (w > 0 && (size_t)w < sizeof dflt) ? dflt : "";
    }
    if (dir[0] == '\0') {
        return 0;
    }
    atv_err_clear(&e2);
    if (atv_ref_cache_read(dir, digest, body->max, body, &e2) == ATV_OK &&
        (size < 0 || (uint64_t)size == body->len)) {
        atv_vfy_logf(s->req->log, ATV_VFY_DEBUG, "atproto: %s read from the local cache", digest);
        return 1;
    }
    body->len = 0;
    return 0;
}

static enum atv_status by_digest(struct vsrc *s, enum atv_vfy_ev kind, const char *digest,
                                 int64_t size, struct atv_buf *body, char *ctype, size_t cap,
                                 struct atv_err *err)
{
    enum atv_status rc;

    if (ctype != NULL && cap > 0) {
        ctype[0] = '\0';
    }
    if (offline(s)) {
        rc = atv_ref_digest_check(digest, err);
        if (rc == ATV_OK) {
            rc = from_bundle(s, kind, digest, NULL, body, err);
        }
        /* the bundle's word is not enough: hash it as if a registry had sent it */
        if (rc == ATV_OK) {
            rc = atv_ref_digest_verify(digest, atv_buf_view(body), err);
        }
        if (rc == ATV_OK && size >= 0 && (uint64_t)size != body->len) {
            rc = atv_err_setr(err, ATV_E_VERIFY, "digest_mismatch",
                              "%s: %zu bytes, the descriptor says %lld", digest, body->len,
                              (long long)size);
        }
        if (rc != ATV_OK) {
            body->len = 0;
        }
        return rc;
    }
    if (oras_cache(s, digest, size, body)) {
        rc = ATV_OK;
    } else if (kind == ATV_VFY_EV_MANIFEST) {
        rc = atv_ref_manifest_get(s->client, digest, size, body, ctype, cap, err);
    } else {
        rc = atv_ref_blob_get(s->client, digest, size, body, err);
    }
    if (rc == ATV_OK) {
        keep(s, kind, digest, 200, atv_buf_view(body));
    }
    return rc;
}

enum atv_status vsrc_manifest(struct vsrc *s, const char *digest, int64_t size,
                              struct atv_buf *body, char *ctype, size_t cap, struct atv_err *err)
{
    return by_digest(s, ATV_VFY_EV_MANIFEST, digest, size, body, ctype, cap, err);
}

enum atv_status vsrc_blob(struct vsrc *s, const char *digest, int64_t size, struct atv_buf *body,
                          struct atv_err *err)
{
    return by_digest(s, ATV_VFY_EV_BLOB, digest, size, body, NULL, 0, err);
}

/* The listing as an OCI index, for the bundle (our own bytes: the answer
 * may have come from the referrers API or from the tag schema). */
static void keep_referrers(struct vsrc *s, const char *key, const struct atv_ref_index *ix)
{
    json_t *root = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                             ATV_REF_MT_OCI_INDEX, "manifests");
    json_t *arr = json_object_get(root, "manifests");
    char *text = NULL;
    size_t i;

    for (i = 0; root != NULL && i < ix->n; i++) {
        const struct atv_ref_desc *d = &ix->manifests[i];
        json_t *o = json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type, "digest", d->digest,
                              "size", (json_int_t)d->size);
        if (o != NULL && d->artifact_type[0] != '\0') {
            (void)json_object_set_new(o, "artifactType", json_string(d->artifact_type));
        }
        if (o != NULL && d->ann_did != NULL) {
            (void)json_object_set_new(o, "annotations",
                                      json_pack("{s:s}", ATV_REF_ANN_DID, d->ann_did));
        }
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(root);
            root = NULL;
        }
    }
    text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    if (text != NULL) {
        keep(s, ATV_VFY_EV_REFERRERS, key, 200, atv_bytes_str(text));
    }
    free(text);
    json_decref(root);
}

enum atv_status vsrc_referrers(struct vsrc *s, const char *subject_digest,
                               struct atv_ref_index *ix, struct atv_err *err)
{
    char key[ATV_REF_MAX_HOST + ATV_REF_MAX_NAME + 80];
    enum atv_status rc;

    (void)snprintf(key, sizeof key, "%s/%s@%s", s->img.registry, s->img.repository,
                   subject_digest);
    memset(ix, 0, sizeof *ix);
    if (offline(s)) {
        struct atv_buf b;
        atv_buf_init(&b, ATV_REF_MAX_MANIFEST);
        rc = from_bundle(s, ATV_VFY_EV_REFERRERS, key, NULL, &b, err);
        if (rc == ATV_OK) {
            rc = atv_ref_index_parse(atv_buf_view(&b), ix, err);
        }
        atv_buf_cleanup(&b);
        return rc;
    }
    rc = atv_ref_referrers_list(s->client, subject_digest, ATV_ARTIFACT_TYPE, ix, err);
    if (rc == ATV_OK) {
        keep_referrers(s, key, ix);
    }
    return rc;
}

/* ---- identity ------------------------------------------------------------------------- */

/* ---- did:plc from its verified operation log (plcAuditLog) ----------------------- */

/* The head of each DID's verified log is kept a year whatever didCacheTTL
 * says: longer than any rollback a directory could try to hide. */
#define VSRC_PLC_HEAD_TTL_S (366u * 86400u)
#define VSRC_PLC_HEAD_TRIES 4

static int plc_by_log(const struct atv_vfy_params *p, const char *did)
{
    return p->plc_audit_log && strncmp(did, "did:plc:", 8) == 0;
}

/* Rollback guard of the log: a log that does not contain the head seen
 * before (nullified or not) is refused; a log that does moves the head
 * forward (write), compare-and-set, since other processes may be doing the
 * same. Offline, heads are read and never written: a bundle is no view of
 * the directory newer than the one this cache saw. */
static enum atv_status plc_head_check(struct vsrc *s, const char *did, struct atv_bytes log,
                                      const char *head, int write, struct atv_err *err)
{
    const struct atv_vfy_params *p = s->req->params;
    char key[ATV_MAX_DID + 16], seen[ATV_CID_STR_CAP];
    struct atv_buf b, cur;
    struct atv_err e2;
    enum atv_status rc = ATV_OK;

    (void)snprintf(key, sizeof key, "plchead %s", did);
    atv_buf_init(&b, ATV_CID_STR_CAP - 1);
    atv_buf_init(&cur, ATV_CID_STR_CAP - 1);
    for (int i = 0; i < VSRC_PLC_HEAD_TRIES; i++) {
        seen[0] = '\0';
        b.len = 0;
        atv_err_clear(&e2);
        if (atv_cache_get(p->cache_dir, key, VSRC_PLC_HEAD_TTL_S, &b, NULL, &e2) == ATV_OK) {
            (void)snprintf(seen, sizeof seen, "%.*s", (int)b.len, (const char *)b.ptr);
        }
        if (seen[0] != '\0' && !atv_atp_plc_log_contains(log, seen, NULL)) {
            rc = atv_err_setr(err, ATV_E_VERIFY, "plc_log_rollback",
                              "the PLC log of %s does not contain operation %s seen before: a "
                              "rolled-back or substituted log",
                              did, seen);
            goto out;
        }
        if (strcmp(seen, head) == 0 || !write) {
            goto out;
        }
        atv_err_clear(&e2);
        if (atv_cache_cas(p->cache_dir, key, VSRC_PLC_HEAD_TTL_S, atv_bytes_str(seen),
                          atv_bytes_str(head), &cur, &e2) == ATV_OK) {
            goto out;
        }
        if (e2.reason == NULL || strcmp(e2.reason, "cache_conflict") != 0) {
            /* the guard could not write: the verdict stands, and says so */
            atv_vfy_logf(s->req->log, ATV_VFY_WARN, "atproto: PLC log head of %s not kept: %s",
                         did, e2.msg);
            goto out;
        }
        /* another process moved the head: decide again from what it wrote */
    }
    atv_vfy_logf(s->req->log, ATV_VFY_WARN,
                 "atproto: PLC log head of %s not kept: it kept changing", did);
out:
    atv_buf_cleanup(&b);
    atv_buf_cleanup(&cur);
    return rc;
}

/* A did:plc's key, PDS and handle from its log's bytes, however they came
 * (the directory, the cache, a bundle): the whole log verified, the rollback
 * guard (write: moves the head; 0: only reads it), then usable. */
static enum atv_status plc_accept(struct vsrc *s, const char *did, struct atv_bytes log, int write,
                                  struct atv_diddoc *doc, struct atv_err *err)
{
    struct atv_plc_state *st = calloc(1, sizeof *st);
    enum atv_status rc;

    if (st == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "plc log: out of memory");
    }
    rc = atv_atp_plc_from_log(log, did, st, doc, err);
    if (rc == ATV_OK) {
        atv_vfy_logf(s->req->log, ATV_VFY_DEBUG,
                     "atproto: %s from its verified PLC log (%zu operations, head %s)", did,
                     st->n_ops, st->head_cid);
        rc = plc_head_check(s, did, log, st->head_cid, write, err);
    }
    if (rc == ATV_OK) {
        rc = atv_atp_plc_usable(st, err);
    }
    if (rc != ATV_OK) {
        memset(doc, 0, sizeof *doc);
    }
    free(st);
    return rc;
}

/* did:plc from the directory's log; log receives its bytes, which the cache
 * and a bundle keep: proof, not a claim. */
static enum atv_status plc_from_log(struct vsrc *s, const char *did, struct atv_buf *log,
                                    struct atv_diddoc *doc, struct atv_err *err)
{
    const struct atv_vfy_params *p = s->req->params;
    struct atv_plc_state *st = calloc(1, sizeof *st);
    struct atv_fetcher f = atv_http_fetcher(s->id_h);
    enum atv_status rc;

    if (st == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "plc log: out of memory");
    }
    rc = atv_atp_plc_resolve(&f, p->plc, did, log, st, doc, err);
    free(st);
    if (rc == ATV_OK) {
        /* verified twice (resolve, then accept): the second is the one the
         * cache and bundles get, and it costs microseconds */
        rc = plc_accept(s, did, atv_buf_view(log), 1, doc, err);
    }
    return rc;
}

/* Offline: a did:plc only from the log in the bundle, whatever plcAuditLog
 * says; anything else is a claim whoever wrote the bundle could make. */
static enum atv_status plc_offline(struct vsrc *s, const char *did, struct atv_buf *log,
                                   struct atv_diddoc *doc, struct atv_err *err)
{
    enum atv_status rc = from_bundle(s, ATV_VFY_EV_PLCLOG, did, NULL, log, err);
    if (rc == ATV_E_NOT_FOUND) {
        atv_err_clear(err); /* the first error is kept: this one says more */
        return atv_err_setr(err, ATV_E_NOT_FOUND, "plc_log_missing",
                            "the bundle holds no operation log of %s: offline, a did:plc is "
                            "taken only from its log (export the bundle again)",
                            did);
    }
    return rc == ATV_OK ? plc_accept(s, did, atv_buf_view(log), 0, doc, err) : rc;
}

enum atv_status vsrc_diddoc(struct vsrc *s, const char *did, struct atv_diddoc *doc,
                            struct atv_err *err)
{
    const struct atv_vfy_params *p = s->req->params;
    const int by_log = plc_by_log(p, did);
    struct atv_fetcher f;
    struct atv_buf text;
    char key[ATV_MAX_URL + ATV_MAX_DID + 16];
    enum atv_status rc = ATV_E_NOT_FOUND;
    int have = 0;

    atv_buf_init(&text, ATV_MAX_PLC_LOG_JSON);
    if (offline(s)) {
        if (strncmp(did, "did:plc:", 8) == 0) {
            rc = plc_offline(s, did, &text, doc, err);
            goto out;
        }
        rc = from_bundle(s, ATV_VFY_EV_DIDDOC, did, NULL, &text, err);
        if (rc == ATV_OK) {
            rc = atv_atp_diddoc_parse(atv_buf_view(&text), did, doc, err);
        }
        goto out;
    }
    /* the directory is part of the key: two directories may disagree; so is
     * the mode: a log entry holds the log itself (proof, verified again on
     * every read), a document entry what the directory said */
    (void)snprintf(key, sizeof key, "%s%s %s", by_log ? "plcaudit " : "", p->plc, did);
    if (p->did_cache_ttl_s > 0 &&
        atv_cache_get(p->cache_dir, key, p->did_cache_ttl_s, &text, NULL, err) == ATV_OK) {
        struct atv_err e2;
        atv_err_clear(&e2);
        if ((by_log ? plc_accept(s, did, atv_buf_view(&text), 0, doc, &e2)
                    : atv_atp_diddoc_parse(atv_buf_view(&text), did, doc, &e2)) == ATV_OK) {
            have = 1;
            atv_vfy_logf(s->req->log, ATV_VFY_DEBUG, "atproto: %s from the DID cache", did);
        } else {
            atv_vfy_logf(s->req->log, ATV_VFY_WARN,
                         "atproto: ignoring a bad DID cache entry for %s: %s", did, e2.msg);
            text.len = 0;
        }
    }
    atv_err_clear(err);
    if (!have) {
        text.len = 0;
        f = atv_http_fetcher(s->id_h);
        rc = by_log ? plc_from_log(s, did, &text, doc, err)
                    : atv_atp_did_resolve(&f, p->plc, did, &text, doc, err);
        if (rc != ATV_OK) {
            goto out;
        }
        if (p->did_cache_ttl_s > 0) {
            struct atv_err e2;
            atv_err_clear(&e2);
            if (atv_cache_put(p->cache_dir, key, atv_buf_view(&text), &e2) != ATV_OK) {
                atv_vfy_logf(s->req->log, ATV_VFY_WARN, "atproto: DID cache: %s", e2.msg);
            }
        }
    }
    rc = ATV_OK;
    keep(s, by_log ? ATV_VFY_EV_PLCLOG : ATV_VFY_EV_DIDDOC, did, 200, atv_buf_view(&text));
out:
    atv_buf_cleanup(&text);
    return rc;
}

enum atv_status vsrc_record(struct vsrc *s, const char *pds, const struct atv_record_uri *uri,
                            long *status, struct atv_buf *body, struct atv_err *err)
{
    char key[ATV_MAX_ATURI + 1], url[ATV_MAX_URL + 1];
    struct atv_fetcher f;
    enum atv_status rc;

    (void)snprintf(key, sizeof key, "at://%s/%s/%s", uri->did, uri->collection, uri->rkey);
    *status = 0;
    if (offline(s)) {
        return from_bundle(s, ATV_VFY_EV_RECORD, key, status, body, err);
    }
    rc = atv_atp_getrecord_url(pds, uri->did, uri->collection, uri->rkey, url, sizeof url, err);
    if (rc != ATV_OK) {
        return rc;
    }
    f = atv_http_fetcher(s->id_h);
    rc = f.get(f.ctx, url, ATV_MAX_CAR, status, body, err);
    if (rc == ATV_OK) {
        keep(s, ATV_VFY_EV_RECORD, key, *status, atv_buf_view(body));
    }
    return rc;
}

/* Revs are TIDs: 13 base32-sortable characters, so text order is time order
 * (atproto repository spec, "rev"). Kept for a year: longer than any key
 * rotation a stale PDS could hide behind. */
#define VSRC_REV_TTL_S (366u * 86400u)

enum atv_status vsrc_rev_check(struct vsrc *s, const char *did, const char *rev,
                               struct atv_err *err)
{
    const struct atv_vfy_params *p = s->req->params;
    char key[ATV_MAX_DID + 8], seen[16];
    struct atv_buf b;
    struct atv_err e2;
    enum atv_status rc = ATV_OK;

    if (offline(s) || p->did_cache_ttl_s == 0 || strlen(rev) != 13) {
        return ATV_OK;
    }
    (void)snprintf(key, sizeof key, "rev %s", did);
    atv_buf_init(&b, 13);
    atv_err_clear(&e2);
    seen[0] = '\0';
    if (atv_cache_get(p->cache_dir, key, VSRC_REV_TTL_S, &b, NULL, &e2) == ATV_OK && b.len == 13) {
        memcpy(seen, b.ptr, 13);
        seen[13] = '\0';
    }
    atv_buf_cleanup(&b);
    if (seen[0] != '\0' && strcmp(rev, seen) < 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "stale_commit",
                          "the PDS served commit rev %s of %s, older than rev %s seen before: "
                          "a rolled-back or stale repository",
                          rev, did, seen);
    } else if (seen[0] == '\0' || strcmp(rev, seen) > 0) {
        atv_err_clear(&e2);
        if (atv_cache_put(p->cache_dir, key, atv_bytes_str(rev), &e2) != ATV_OK) {
            atv_vfy_logf(s->req->log, ATV_VFY_WARN, "atproto: rev cache: %s", e2.msg);
        }
    }
    return rc;
}

/* The handle is optional (DESIGN.md: reported only when proven both ways),
 * and its check asks servers the verdict does not depend on: DNS for
 * _atproto.HANDLE, then https://HANDLE (whose name libcurl resolves through
 * DNS too). Against a DNS server that swallows queries (blocked egress,
 * broken cluster DNS) it would spend the whole budget, and a correctly
 * signed image would come back TIMEOUT. So it runs on a session of its own
 * with a bounded share: min(timeoutMs / 4, 1000 ms, what is left), after
 * which both lookups are abandoned (common/http.h atv_http_sub); the caller
 * then reports no handle and warns, and the verdict stands. */
enum atv_status vsrc_handle(struct vsrc *s, const struct atv_diddoc *doc, struct atv_err *err)
{
    const uint32_t share_max_ms = 1000u;
    struct atv_http *hh = NULL;
    struct atv_fetcher f;
    struct atv_err local;
    enum atv_status rc;
    uint32_t budget;

    if (offline(s)) {
        return atv_err_setr(err, ATV_E_UNSUPPORTED, "offline",
                            "offline: a handle cannot be confirmed without the network");
    }
    budget = s->req->params->timeout_ms / 4u;
    if (budget > share_max_ms) {
        budget = share_max_ms;
    }
    rc = atv_http_sub(s->id_h, budget, &hh, err); /* clamps to what id_h has left */
    if (rc != ATV_OK) {
        goto out;
    }
    atv_err_clear(&local);
    f = atv_http_fetcher(hh);
    rc = atv_atp_handle_verify(&f, doc, &local);
    if (rc == ATV_OK) {
        goto out;
    }
    /* Out of time is not "the handle does not resolve back": name it, so
     * the warning says the check was cut short rather than failed. */
    if (rc != ATV_E_NOMEM && rc != ATV_E_INTERNAL && rc != ATV_E_USAGE &&
        atv_http_remaining_ms(hh) == 0) {
        rc = atv_err_setr(err, ATV_E_IO, "timeout",
                          "handle check abandoned after its share of %u ms: %s",
                          (unsigned int)budget, local.msg);
        atv_err_transient(err);
    } else {
        rc = atv_err_setr(err, local.code, local.reason, "%s", local.msg);
        if (local.transient) {
            atv_err_transient(err);
        }
    }
out:
    atv_http_free(hh);
    return rc;
}
