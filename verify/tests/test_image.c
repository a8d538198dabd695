/* verify/: the image verdict (atv_vfy_image_run) over real evidence.
 *
 * The evidence is testdata/ratify/fixture (signature manifests, blobs, DID
 * documents and getRecord proofs made by the official TypeScript libraries),
 * put into an in-memory bundle and read offline, so every signature here is
 * verified for real with no network: minSignatures over several artifacts,
 * the plugin's own artifact first, the order of reasons, requirement lists,
 * audit, `signature: false`, image indexes, and the policy chosen by the
 * normalised reference. */
#include "verify/verify.h"

#include "common/test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define FX "testdata/ratify/fixture/"
#define REG "127.0.0.1:5000"
#define ALICE "did:plc:4u6icpunzhsdypzn4z7rivtb"
#define BOB "did:plc:z3ldev3mt2q55amla32s6chp"
#define MALLORY "did:plc:iryuql44lygcrbtwdur7irq3"
/* evidence time and "now": any time inside the fixture DIDs' windows */
#define NOW 1767225600 /* 2026-01-01 */

static json_t *fixture;
/* fetchedAt of the evidence put_file adds */
static int64_t evidence_at = NOW - 60;

static int put_file(struct atv_vfy_bundle *b, enum atv_vfy_ev kind, const char *key,
                    const char *rel, const char *pds_subst)
{
    struct atv_buf f;
    struct atv_err err;
    char path[512];
    int ok;

    atv_buf_init(&f, 8u << 20);
    atv_err_clear(&err);
    (void)snprintf(path, sizeof path, FX "%s", rel);
    ok = atv_buf_read_file(&f, path, &err) == ATV_OK;
    if (ok && pds_subst != NULL && atv_buf_terminate(&f, &err) == ATV_OK) {
        /* the DID documents name the server as @PDS@, filled in at serve time */
        char *at = strstr((char *)f.ptr, "@PDS@");
        char doc[16384];
        if (at != NULL) {
            (void)snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - (char *)f.ptr),
                           (const char *)f.ptr, pds_subst, at + 5);
            f.len = 0;
            ok = atv_buf_append(&f, doc, strlen(doc), &err) == ATV_OK;
        }
    }
    ok = ok &&
         atv_vfy_bundle_put(b, kind, key, 200, atv_buf_view(&f), evidence_at, &err) == ATV_OK;
    if (!ok) {
        DIAG("fixture %s: %s", rel, err.msg);
    }
    atv_buf_cleanup(&f);
    return ok;
}

static const char *img_str(const char *image, const char *field)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(fixture, "images"),
                                                             image),
                                             field));
}

static const char *acct_did(const char *name)
{
    const char *d = json_string_value(
        json_object_get(json_object_get(json_object_get(fixture, "accounts"), name), "did"));
    return d != NULL ? d : "";
}

/* Puts image NAME's evidence (as REG/atv/app) into b: each signer's
 * operation log, as a bundle carries a did:plc (doc 0), or the directory's
 * DID document instead (doc 1: the claim a forged bundle would make). */
static int add_image_as(struct atv_vfy_bundle *b, const char *name, int doc)
{
    json_t *img = json_object_get(json_object_get(fixture, "images"), name);
    json_t *sigs = json_object_get(img, "signatures"), *s;
    char key[256], rel[256];
    size_t i;
    int ok = img != NULL;

    (void)snprintf(key, sizeof key, REG "/atv/app@%s", img_str(name, "digest"));
    (void)snprintf(rel, sizeof rel, "registry/%s.index.json", name);
    ok = ok && put_file(b, ATV_VFY_EV_REFERRERS, key, rel, NULL);
    json_array_foreach(sigs, i, s) {
        const char *signer = json_string_value(json_object_get(s, "signer"));
        char did[128];
        ok = ok && put_file(b, ATV_VFY_EV_MANIFEST,
                            json_string_value(json_object_get(s, "manifestDigest")),
                            json_string_value(json_object_get(s, "manifestFile")), NULL);
        ok = ok && put_file(b, ATV_VFY_EV_BLOB, json_string_value(json_object_get(s, "blobDigest")),
                            json_string_value(json_object_get(s, "blobFile")), NULL);
        ok = ok && put_file(b, ATV_VFY_EV_RECORD, json_string_value(json_object_get(s, "recordUri")),
                            json_string_value(json_object_get(s, "car")), NULL);
        (void)snprintf(did, sizeof did, "%s", acct_did(signer));
        if (strncmp(did, "did:web:", 8) == 0) {
            doc = 1; /* a did:web has no log: its document is all a bundle can hold */
            (void)snprintf(rel, sizeof rel, "web/%s.json", did);
        } else {
            (void)snprintf(rel, sizeof rel, doc ? "plc/%s.json" : "plc/%s.log.json", did);
        }
        ok = ok && put_file(b, doc ? ATV_VFY_EV_DIDDOC : ATV_VFY_EV_PLCLOG, did, rel,
                            doc ? "https://pds.atv.test" : NULL);
    }
    return ok;
}

static int add_image(struct atv_vfy_bundle *b, const char *name)
{
    return add_image_as(b, name, 0);
}

static const char *sig_of(const char *image, size_t n)
{
    json_t *s = json_array_get(
        json_object_get(json_object_get(json_object_get(fixture, "images"), image), "signatures"),
        n);
    return json_string_value(json_object_get(s, "manifestDigest"));
}

struct run {
    struct atv_vfy_params params;
    struct atv_vfy_store store;
    struct atv_vfy_request rq;
    struct atv_vfy_image v;
    struct atv_policy *pol;
    char subject[256];
};

static struct run *run_new(struct atv_vfy_bundle *b, const char *policy_text)
{
    struct run *r = calloc(1, sizeof *r);
    struct atv_err err;
    atv_err_clear(&err);
    atv_vfy_params_init(&r->params);
    r->params.verify_handle = 0;
    r->params.did_cache_ttl_s = 0;
    atv_vfy_store_init(&r->store);
    if (atv_policy_parse(atv_bytes_str(policy_text), &r->pol, &err) != ATV_OK) {
        DIAG("policy: %s", err.msg);
    }
    r->rq.params = &r->params;
    r->rq.store = &r->store;
    r->rq.now = NOW;
    r->rq.offline = b;
    r->rq.policy = r->pol;
    return r;
}

static void run_free(struct run *r)
{
    atv_policy_free(r->pol);
    atv_vfy_params_cleanup(&r->params);
    free(r);
}

/* The image `name` as the CLI asks (no artifact named), or as the plugin
 * does (sig: the artifact Ratify names). */
static const struct atv_vfy_image *verdict(struct run *r, const char *name, const char *sig)
{
    (void)snprintf(r->subject, sizeof r->subject, REG "/atv/app@%s", img_str(name, "digest"));
    r->rq.subject = r->subject;
    r->rq.sig_digest = sig;
    r->rq.sig_size = -1;
    atv_vfy_image_run(&r->rq, &r->v);
    DIAG("%s%s%s: allowed %d met %d %s (%s): %s", name, sig != NULL ? " sig " : "",
         sig != NULL ? sig : "", r->v.allowed, r->v.met, atv_vfy_reason_name(r->v.reason),
         r->v.detail, r->v.message);
    return &r->v;
}

static const char *two_of_alice_bob = "policies:\n"
                                      "  - name: two\n"
                                      "    scope: \"" REG "/atv/**\"\n"
                                      "    require:\n"
                                      "      trustedDIDs: [" ALICE ", " BOB "]\n"
                                      "      minSignatures: 2\n";

static void test_min_signatures(struct atv_vfy_bundle *b)
{
    struct run *r = run_new(b, two_of_alice_bob);
    const struct atv_vfy_image *v;

    /* two trusted signers: met, both named, the digest and reference set */
    v = verdict(r, "multi", NULL);
    CHECK(v->allowed && v->met && !v->audit && v->reason == ATV_VFY_OK);
    CHECK_EQ(v->n_signers, 2u);
    CHECK_EQ(v->n_sigs, 2u);
    CHECK_STR(v->policy, "two");
    CHECK_STR(v->digest, img_str("multi", "digest"));
    CHECK(strncmp(v->reference, REG "/atv/app@sha256:", strlen(REG "/atv/app@sha256:")) == 0);

    /* one signer of two: INSUFFICIENT_SIGNATURES, have 1 of 2, definite */
    v = verdict(r, "good", NULL);
    CHECK(!v->allowed && !v->met && !v->transient);
    CHECK_EQ(v->reason, ATV_VFY_INSUFFICIENT_SIGNATURES);
    CHECK_STR(v->detail, "have 1 of 2");
    CHECK_EQ(v->min_signatures, 2u);

    /* the plugin: each artifact of multi answers allowed; good's does not */
    v = verdict(r, "multi", sig_of("multi", 1));
    CHECK(v->allowed && v->met);
    CHECK_STR(v->artifacts[0].sig_digest, sig_of("multi", 1));
    v = verdict(r, "good", sig_of("good", 0));
    CHECK(!v->allowed && v->reason == ATV_VFY_INSUFFICIENT_SIGNATURES);

    /* multibad: alice's is good, mallory's is signed by a key her DID does not list */
    v = verdict(r, "multibad", sig_of("multibad", 1));
    CHECK(!v->allowed && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
    run_free(r);

    r = run_new(b, "trustedDIDs:\n  " ALICE ":\n  " MALLORY ":\npolicies:\n"
                   "  - {name: am, scope: \"**\", require: {minSignatures: 2}}\n");
    /* the named artifact fails: its own reason, whatever the others say */
    v = verdict(r, "multibad", sig_of("multibad", 1));
    CHECK(!v->allowed && v->reason == ATV_VFY_SIGNATURE_INVALID);
    CHECK_EQ(v->n_artifacts, 1u);
    /* the image: one verified, one invalid: INSUFFICIENT beats SIGNATURE_INVALID */
    v = verdict(r, "multibad", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_INSUFFICIENT_SIGNATURES);
    CHECK_STR(v->detail, "have 1 of 2");
    run_free(r);

    /* only mallory trusted: nothing verified; the first failure in the order */
    r = run_new(b, "policies:\n  - {name: m, scope: \"**\", require: {trustedDIDs: [" MALLORY
                   "]}}\n");
    v = verdict(r, "multibad", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_SIGNATURE_INVALID);
    run_free(r);
}

static void test_requirement_lists(struct atv_vfy_bundle *b)
{
    /* all must hold; one signature may count for several items */
    struct run *r = run_new(b, "policies:\n  - name: both\n    scope: \"**\"\n    require:\n"
                               "      - {trustedDIDs: [" ALICE "]}\n"
                               "      - {trustedDIDs: [" BOB "]}\n"
                               "      - {trustedDIDs: [" ALICE ", " BOB "], minSignatures: 2}\n");
    const struct atv_vfy_image *v = verdict(r, "multi", NULL);
    CHECK(v->allowed && v->met);
    v = verdict(r, "good", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_INSUFFICIENT_SIGNATURES);
    /* the plugin with alice's artifact of multi: alone it meets item 0 only,
     * so the others are found and verified */
    v = verdict(r, "multi", sig_of("multi", 0));
    CHECK(v->allowed && v->met && v->n_artifacts == 2);
    run_free(r);
}

static void test_actions(struct atv_vfy_bundle *b)
{
    struct run *r = run_new(b, "trustedDIDs:\n  " BOB ":\npolicies:\n"
                               "  - {name: watch, scope: \"**\", action: audit}\n");
    const struct atv_vfy_image *v = verdict(r, "good", NULL);
    /* audit: not met, allowed, the reason kept */
    CHECK(v->allowed && !v->met && v->audit && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
    run_free(r);

    /* signature: false: allowed with nothing looked at (an empty bundle would
     * fail any lookup) */
    r = run_new(NULL, "policies:\n  - {name: free, scope: \"**\", require: {signature: false}}\n");
    struct atv_vfy_bundle *empty = NULL;
    struct atv_err err;
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&empty, &err), ATV_OK, &err);
    r->rq.offline = empty;
    v = verdict(r, "good", NULL);
    CHECK(v->allowed && v->met && v->no_signature_required && v->n_artifacts == 0);
    CHECK(strstr(v->message, "requires no signature") != NULL);
    run_free(r);

    /* no scope: POLICY_DENIED before any evidence is read */
    r = run_new(empty, "policies:\n  - {name: other, scope: \"ghcr.io/**\"}\n");
    v = verdict(r, "good", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_POLICY_DENIED && v->policy[0] == '\0');
    /* an image without signatures (empty referrers): NO_SIGNATURE */
    run_free(r);
    r = run_new(empty, "trustedDIDs:\n  " ALICE ":\npolicies:\n  - {name: all, scope: \"**\"}\n");
    {
        char key[160];
        (void)snprintf(key, sizeof key, REG "/atv/app@%s", img_str("good", "digest"));
        CHECK_STATUS(atv_vfy_bundle_put(empty, ATV_VFY_EV_REFERRERS, key, 200,
                                        atv_bytes_str("{\"schemaVersion\":2,\"mediaType\":"
                                                      "\"application/vnd.oci.image.index.v1+json\","
                                                      "\"manifests\":[]}"),
                                        NOW, &err),
                     ATV_OK, &err);
    }
    v = verdict(r, "good", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_NO_SIGNATURE && v->n_sigs == 0);
    run_free(r);
    atv_vfy_bundle_free(empty);
}

/* The policy is chosen by the normalised name: other spellings of one
 * registry pick the same scope (finding 1 of issue 11). */
static void test_normalised_scope(void)
{
    static const char *spellings[] = {"ATCR.IO/acme/app", "Atcr.io/acme/app",
                                      "atcr.io:443/acme/app", "atcr.io/acme/app"};
    static const char *hub[] = {"DOCKER.IO/library/app", "index.docker.io/library/app",
                                "docker.io/app", "app", "registry-1.docker.io/library/app"};
    struct atv_vfy_bundle *empty = NULL;
    struct atv_err err;
    char subject[256];
    size_t i;

    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&empty, &err), ATV_OK, &err);
    struct run *r = run_new(empty, "trustedDIDs:\n  " ALICE ":\npolicies:\n"
                                   "  - {name: acme-prod, scope: \"atcr.io/acme/**\"}\n"
                                   "  - {name: hub, scope: \"docker.io/library/*\"}\n"
                                   "  - {name: rest, scope: \"**\", action: audit}\n");
    r->rq.subject = subject;
    for (i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        (void)snprintf(subject, sizeof subject, "%s:v1", spellings[i]);
        atv_vfy_image_run(&r->rq, &r->v);
        CHECK_MSG(!r->v.allowed && strcmp(r->v.policy, "acme-prod") == 0 &&
                      strcmp(r->v.name, "atcr.io/acme/app") == 0,
                  "%s: policy %s, name %s, allowed %d", subject, r->v.policy, r->v.name,
                  r->v.allowed);
    }
    for (i = 0; i < sizeof hub / sizeof hub[0]; i++) {
        (void)snprintf(subject, sizeof subject, "%s:v1", hub[i]);
        atv_vfy_image_run(&r->rq, &r->v);
        CHECK_MSG(!r->v.allowed && strcmp(r->v.policy, "hub") == 0 &&
                      strcmp(r->v.name, "docker.io/library/app") == 0,
                  "%s: policy %s, name %s", subject, r->v.policy, r->v.name);
    }
    (void)snprintf(subject, sizeof subject, "ghcr.io/acme/app:v1");
    atv_vfy_image_run(&r->rq, &r->v);
    CHECK(r->v.allowed && r->v.audit && strcmp(r->v.policy, "rest") == 0);
    /* a trailing-dot host is a bad reference, not a third spelling */
    (void)snprintf(subject, sizeof subject, "atcr.io./acme/app:v1");
    atv_vfy_image_run(&r->rq, &r->v);
    CHECK(!r->v.allowed && r->v.reason == ATV_VFY_BAD_REQUEST);
    run_free(r);
    atv_vfy_bundle_free(empty);
}

/* An index: met by its own signatures, else when every platform manifest is. */
/* Puts an index (its manifest by digest, and an empty referrers list) into
 * b; digest receives its digest. */
static void put_index(struct atv_vfy_bundle *b, const char *ix, char digest[80])
{
    static const char *empty_ix = "{\"schemaVersion\":2,\"mediaType\":"
                                  "\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}";
    char key[200];
    uint8_t h[32];
    struct atv_err err;

    atv_err_clear(&err);
    atv_sha256(atv_bytes_str(ix), h);
    memcpy(digest, "sha256:", 7);
    atv_hex_encode((struct atv_bytes){h, 32}, digest + 7, 80 - 7);
    CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_MANIFEST, digest, 200, atv_bytes_str(ix), NOW,
                                    &err),
                 ATV_OK, &err);
    (void)snprintf(key, sizeof key, REG "/atv/app@%s", digest);
    CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_REFERRERS, key, 200, atv_bytes_str(empty_ix),
                                    NOW, &err),
                 ATV_OK, &err);
}

/* The verdict on the index at digest, for a policy trusting did everywhere. */
static struct run *index_verdict(struct atv_vfy_bundle *b, const char *digest, const char *did)
{
    char pol[256];
    struct run *r;
    (void)snprintf(pol, sizeof pol, "trustedDIDs:\n  %s:\npolicies:\n  - {name: all, scope: \"**\"}\n",
                   did);
    r = run_new(b, pol);
    (void)snprintf(r->subject, sizeof r->subject, REG "/atv/app@%s", digest);
    r->rq.subject = r->subject;
    atv_vfy_image_run(&r->rq, &r->v);
    DIAG("index %s, %s: %s: %s", digest, did, atv_vfy_reason_name(r->v.reason), r->v.message);
    return r;
}

static void test_index(struct atv_vfy_bundle *b)
{
    char ix[2048], digest[80], child[80];
    struct run *r;
    const struct atv_vfy_image *v;

    /* good (alice) for amd64, multi (alice, bob) for arm64, and an attestation
     * manifest (bob's image) that must be skipped */
    (void)snprintf(
        ix, sizeof ix,
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        "\"manifests\":["
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
        "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
        "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
        "\"size\":1,\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}",
        img_str("good", "digest"), img_str("multi", "digest"), img_str("bob", "digest"));
    put_index(b, ix, digest);

    r = index_verdict(b, digest, ALICE);
    v = &r->v;
    CHECK(v->allowed && v->met && v->is_index);
    CHECK(strstr(v->message, "every platform manifest (2)") != NULL);
    CHECK_STR(v->digest, digest);
    run_free(r);

    /* only bob trusted: amd64 (alice's) fails, so the index is refused and
     * the message names the platform */
    r = index_verdict(b, digest, BOB);
    v = &r->v;
    CHECK(!v->allowed && v->is_index && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
    CHECK(strstr(v->message, "linux/amd64") != NULL);
    run_free(r);

    /* a nested index is refused: the platforms rule does not apply */
    (void)snprintf(child, sizeof child, "%s", digest);
    (void)snprintf(ix, sizeof ix,
                   "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                   "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                   "\"digest\":\"%s\",\"size\":1}]}",
                   child);
    put_index(b, ix, digest);
    r = index_verdict(b, digest, ALICE);
    v = &r->v;
    CHECK(!v->allowed && v->is_index && v->reason == ATV_VFY_NO_SIGNATURE);
    CHECK(strstr(v->message, "nested index") != NULL);
    run_free(r);
}

/* With minSignatures 1 the plugin's own artifact decides: no discovery at
 * all (its bundle holds no referrers list, so a listing would fail). */
/* Finding 1 of issue 13: a bundle whose writer made up the identity. forger
 * signed a commit for victim's DID with its own key (the official libraries
 * made both, gen-ratify.mjs); the directory's document for victim names
 * forger's key. Offline, a did:plc is taken only from its log: without the
 * log the bundle proves nothing, and with victim's genuine log forger's
 * commit does not verify. victim's own commit does. */
static void test_forged_bundle(void)
{
    static const char pol[] = "policies:\n  - {name: v, scope: \"**\", require: {trustedDIDs: [\"%s\"]}}\n";
    char policy[256], rel[256], victim[128];
    struct atv_vfy_bundle *forged = NULL, *genuine = NULL;
    struct atv_err err;
    const struct atv_vfy_image *v;
    struct run *r;

    (void)snprintf(victim, sizeof victim, "%s", acct_did("victim"));
    (void)snprintf(policy, sizeof policy, pol, victim);
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&forged, &err), ATV_OK, &err);
    CHECK_STATUS(atv_vfy_bundle_new(&genuine, &err), ATV_OK, &err);
    /* the attacker's bundle: forger's commit and a document naming forger's key */
    CHECK(add_image_as(forged, "victimforged", 1));
    r = run_new(forged, policy);
    v = verdict(r, "victimforged", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_IDENTITY_ERROR);
    CHECK_STR(v->detail, "plc_log_missing");
    /* the same through the plugin's path (its artifact first) */
    v = verdict(r, "victimforged", sig_of("victimforged", 0));
    CHECK(!v->allowed && v->reason == ATV_VFY_IDENTITY_ERROR);
    run_free(r);
    /* the attacker adds victim's genuine log: the key comes from it, not forger's */
    (void)snprintf(rel, sizeof rel, "plc/%s.log.json", victim);
    CHECK(put_file(forged, ATV_VFY_EV_PLCLOG, victim, rel, NULL));
    r = run_new(forged, policy);
    v = verdict(r, "victimforged", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_SIGNATURE_INVALID);
    run_free(r);
    /* victim's own commit, with her log: verified offline */
    CHECK(add_image(genuine, "victimgood"));
    r = run_new(genuine, policy);
    v = verdict(r, "victimgood", NULL);
    CHECK(v->allowed && v->met);
    run_free(r);
    /* a log that is not the DID's: bob's log filed under victim's DID */
    (void)snprintf(rel, sizeof rel, "plc/%s.log.json", acct_did("bob"));
    CHECK(put_file(genuine, ATV_VFY_EV_PLCLOG, victim, rel, NULL));
    r = run_new(genuine, policy);
    v = verdict(r, "victimgood", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_IDENTITY_ERROR);
    CHECK_STR(v->detail, "plc_log_invalid");
    run_free(r);
    atv_vfy_bundle_free(forged);
    atv_vfy_bundle_free(genuine);
}

static void test_no_discovery(void)
{
    struct atv_vfy_bundle *b = NULL;
    struct atv_err err;
    const struct atv_vfy_image *v;
    struct run *r;
    char key[160];

    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&b, &err), ATV_OK, &err);
    CHECK(add_image(b, "good"));
    /* drop the listing: a copy without it */
    (void)snprintf(key, sizeof key, REG "/atv/app@%s", img_str("good", "digest"));
    struct atv_vfy_bundle *nolist = NULL;
    CHECK_STATUS(atv_vfy_bundle_new(&nolist, &err), ATV_OK, &err);
    static const enum atv_vfy_ev kinds[] = {ATV_VFY_EV_MANIFEST, ATV_VFY_EV_BLOB,
                                            ATV_VFY_EV_PLCLOG, ATV_VFY_EV_RECORD};
    json_t *sg = json_array_get(
        json_object_get(json_object_get(json_object_get(fixture, "images"), "good"), "signatures"),
        0);
    const char *keys[] = {json_string_value(json_object_get(sg, "manifestDigest")),
                          json_string_value(json_object_get(sg, "blobDigest")), ALICE,
                          json_string_value(json_object_get(sg, "recordUri"))};
    for (size_t i = 0; i < 4; i++) {
        struct atv_bytes data;
        long status = 0;
        CHECK_STATUS(atv_vfy_bundle_get(b, kinds[i], keys[i], &status, &data, NULL, &err), ATV_OK,
                     &err);
        CHECK_STATUS(atv_vfy_bundle_put(nolist, kinds[i], keys[i], status, data, NOW, &err),
                     ATV_OK, &err);
    }
    r = run_new(nolist, "trustedDIDs:\n  " ALICE ":\npolicies:\n  - {name: all, scope: \"**\"}\n");
    v = verdict(r, "good", sig_of("good", 0));
    CHECK(v->allowed && v->met && v->n_artifacts == 1);
    /* the control: without a named artifact the listing is needed, and missing */
    v = verdict(r, "good", NULL);
    CHECK(!v->allowed && v->unlisted);
    run_free(r);
    atv_vfy_bundle_free(nolist);
    atv_vfy_bundle_free(b);
}

/* An index of more than ATV_VFY_MAX_CHILDREN platforms is not judged by them. */
static void test_index_too_big(struct atv_vfy_bundle *b)
{
    static char ix[16384];
    char digest[80];
    size_t w;
    struct run *r;

    w = (size_t)snprintf(ix, sizeof ix, "{\"schemaVersion\":2,\"mediaType\":"
                                        "\"application/vnd.oci.image.index.v1+json\","
                                        "\"manifests\":[");
    for (unsigned i = 0; i <= ATV_VFY_MAX_CHILDREN; i++) {
        w += (size_t)snprintf(ix + w, sizeof ix - w,
                              "%s{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                              "\"digest\":\"%s\",\"size\":1,\"platform\":{\"os\":\"linux\","
                              "\"architecture\":\"a%u\"}}",
                              i > 0 ? "," : "", img_str("good", "digest"), i);
    }
    (void)snprintf(ix + w, sizeof ix - w, "]}");
    put_index(b, ix, digest);
    r = index_verdict(b, digest, ALICE);
    CHECK(!r->v.allowed && r->v.is_index && r->v.reason == ATV_VFY_NO_SIGNATURE);
    CHECK(strstr(r->v.message, "lists 65 platform manifests") != NULL);
    run_free(r);
}

/* A fixture account's field (accounts.NAME.FIELD of fixture.json), "" when absent:
 * the DIDs and keys are read, never written here, since the fixture is
 * regenerated with new DIDs. */
static const char *acct(const char *name, const char *field)
{
    const char *v = json_string_value(
        json_object_get(json_object_get(json_object_get(fixture, "accounts"), name), field));
    return v != NULL ? v : "";
}

/* A policy trusting alice and bob everywhere (minSignatures min), with
 * `keys` lists for them ("" for none), under action. */
static struct run *pinned_run(struct atv_vfy_bundle *b, const char *alice_keys,
                              const char *bob_keys, unsigned min, const char *action)
{
    char pol[2048];
    (void)snprintf(pol, sizeof pol,
                   "trustedDIDs:\n"
                   "  \"%s\":%s%s\n"
                   "  \"%s\":%s%s\n"
                   "policies:\n"
                   "  - {name: pinned, scope: \"**\", action: %s, require: {minSignatures: %u}}\n",
                   acct("alice", "did"), alice_keys[0] != '\0' ? "\n    keys: " : "", alice_keys,
                   acct("bob", "did"), bob_keys[0] != '\0' ? "\n    keys: " : "", bob_keys,
                   action, min);
    return run_new(b, pol);
}

/* Key pins (issue 13): the key identity resolution found (here: offline, from
 * the bundle's DID documents) must be one the DID's entry pins, compared as
 * keys; otherwise UNTRUSTED_SIGNER / key_not_pinned, for the CLI's path (no
 * artifact named) and the plugin's (one named) alike. */
/* did:web offline: its document in a bundle is whatever the bundle's writer
 * wrote, so it verifies only against a pinned key. */
static void test_did_web_offline(void)
{
    static const char unpinned[] =
        "trustedDIDs:\n  \"%s\": {}\npolicies:\n"
        "  - {name: w, scope: \"**\", require: {trustedDIDs: [\"%s\"]}}\n";
    static const char pinned[] =
        "trustedDIDs:\n  \"%s\":\n    keys: [\"%s\"]\npolicies:\n"
        "  - {name: w, scope: \"**\", require: {trustedDIDs: [\"%s\"]}}\n";
    char policy[1024], web[128];
    struct atv_vfy_bundle *wb = NULL;
    struct atv_err err;
    const struct atv_vfy_image *v;
    struct run *r;

    (void)snprintf(web, sizeof web, "%s", acct_did("webby"));
    CHECK(strncmp(web, "did:web:", 8) == 0);
    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&wb, &err), ATV_OK, &err);
    CHECK(add_image(wb, "webgood"));
    (void)snprintf(policy, sizeof policy, unpinned, web, web);
    r = run_new(wb, policy);
    v = verdict(r, "webgood", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_IDENTITY_ERROR);
    CHECK_STR(v->detail, "did_web_unpinned_offline");
    run_free(r);
    /* its own key pinned: verified offline */
    (void)snprintf(policy, sizeof policy, pinned, web, acct("webby", "didKey"), web);
    r = run_new(wb, policy);
    v = verdict(r, "webgood", NULL);
    CHECK(v->allowed && v->met);
    v = verdict(r, "webgood", sig_of("webgood", 0));
    CHECK(v->allowed && v->met);
    run_free(r);
    /* another key pinned (alice's): the document's key is not it */
    (void)snprintf(policy, sizeof policy, pinned, web, acct("alice", "didKey"), web);
    r = run_new(wb, policy);
    v = verdict(r, "webgood", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
    CHECK_STR(v->detail, "key_not_pinned");
    run_free(r);
    atv_vfy_bundle_free(wb);
}

static void test_key_pins(struct atv_vfy_bundle *b)
{
    char alice_key[160], bob_key[160], both[400], bare[160], mallory_signing[160];
    struct run *r;
    const struct atv_vfy_image *v;
    const struct atv_vfy_result *a;

    (void)snprintf(alice_key, sizeof alice_key, "[\"%s\"]", acct("alice", "didKey"));
    (void)snprintf(bob_key, sizeof bob_key, "[\"%s\"]", acct("bob", "didKey"));
    (void)snprintf(both, sizeof both, "[\"%s\", \"%s\"]", acct("bob", "didKey"),
                   acct("alice", "didKey"));
    /* the bare multibase, as a DID document's publicKeyMultibase */
    (void)snprintf(bare, sizeof bare, "[\"%s\"]", acct("alice", "didKey") + strlen("did:key:"));
    (void)snprintf(mallory_signing, sizeof mallory_signing, "[\"%s\"]",
                   acct("mallory", "signingDidKey"));
    CHECK(strncmp(acct("alice", "didKey"), "did:key:z", 9) == 0 &&
          strcmp(acct("alice", "didKey"), acct("bob", "didKey")) != 0);

    /* alice's key pinned (K-256): her image verifies, both ways */
    r = pinned_run(b, alice_key, "", 1, "enforce");
    v = verdict(r, "good", NULL);
    CHECK(v->allowed && v->met && v->reason == ATV_VFY_OK && v->n_signers == 1);
    v = verdict(r, "good", sig_of("good", 0));
    CHECK(v->allowed && v->met);
    run_free(r);
    /* one of several pins; the bare multibase form; bob's P-256 key */
    r = pinned_run(b, both, bob_key, 1, "enforce");
    v = verdict(r, "good", NULL);
    CHECK(v->allowed && v->met);
    v = verdict(r, "bob", sig_of("bob", 0));
    CHECK(v->allowed && v->met);
    run_free(r);
    r = pinned_run(b, bare, "", 1, "enforce");
    v = verdict(r, "good", sig_of("good", 0));
    CHECK(v->allowed && v->met);
    run_free(r);

    /* alice pinned to bob's key: her valid signature is refused, before the
     * proof is even read (no commit in the result), the message naming her
     * DID and the key her DID document names */
    r = pinned_run(b, bob_key, "", 1, "enforce");
    for (int plugin = 0; plugin < 2; plugin++) {
        v = verdict(r, "good", plugin ? sig_of("good", 0) : NULL);
        CHECK(!v->allowed && !v->met && !v->transient && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
        CHECK_STR(v->detail, "key_not_pinned");
        CHECK(v->n_signers == 0 && v->n_artifacts == 1);
        a = &v->artifacts[0].r;
        CHECK(!a->success && a->reason == ATV_VFY_UNTRUSTED_SIGNER);
        CHECK_STR(a->detail, "key_not_pinned");
        CHECK(a->commit_cid[0] == '\0' && a->record_cid[0] == '\0');
        CHECK_MSG(strstr(a->message, acct("alice", "did")) != NULL &&
                      strstr(a->message, acct("alice", "didKey")) != NULL,
                  "message names the DID and the key: %s", a->message);
        CHECK(strstr(v->message, acct("alice", "did")) != NULL);
    }
    /* bob's own image is untouched by alice's pins */
    v = verdict(r, "bob", NULL);
    CHECK(v->allowed && v->met);
    run_free(r);

    /* minSignatures 2: bob pinned to alice's key, so only alice counts */
    r = pinned_run(b, alice_key, alice_key, 2, "enforce");
    v = verdict(r, "multi", NULL);
    CHECK(!v->allowed && v->reason == ATV_VFY_INSUFFICIENT_SIGNATURES);
    CHECK_STR(v->detail, "have 1 of 2");
    int bob_refused = 0;
    for (size_t i = 0; i < v->n_artifacts; i++) {
        const struct atv_vfy_result *ar = &v->artifacts[i].r;
        bob_refused |= strcmp(ar->did, acct("bob", "did")) == 0 && !ar->success &&
                       strcmp(ar->detail, "key_not_pinned") == 0;
    }
    CHECK(bob_refused);
    /* the plugin: bob's artifact of multi fails with its own reason; alice's
     * verifies but is one of two */
    for (size_t i = 0; i < 2; i++) {
        const char *signer = json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(json_object_get(fixture, "images"),
                                                           "multi"),
                                           "signatures"),
                           i),
            "signer"));
        int is_bob = signer != NULL && strcmp(signer, "bob") == 0;
        v = verdict(r, "multi", sig_of("multi", i));
        CHECK(!v->allowed && v->reason == (is_bob ? ATV_VFY_UNTRUSTED_SIGNER
                                                  : ATV_VFY_INSUFFICIENT_SIGNATURES));
        CHECK_STR(v->detail, is_bob ? "key_not_pinned" : "have 1 of 2");
    }
    run_free(r);

    /* audit lets the mismatch through, as any failure, and keeps the reason */
    r = pinned_run(b, bob_key, "", 1, "audit");
    v = verdict(r, "good", NULL);
    CHECK(v->allowed && !v->met && v->audit && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
    CHECK_STR(v->detail, "key_not_pinned");
    run_free(r);

    /* a pin names a key, it never adds one: mallory's DID document lists
     * another key than the one her commit is signed with, so pinning the
     * signing key refuses the listed one, and pinning the listed one still
     * fails the signature */
    {
        char pol[1024];
        (void)snprintf(pol, sizeof pol,
                       "trustedDIDs:\n  \"%s\":\n  \"%s\":\n    keys: %s\n"
                       "policies:\n  - {name: m, scope: \"**\"}\n",
                       acct("alice", "did"), acct("mallory", "did"), mallory_signing);
        r = run_new(b, pol);
        v = verdict(r, "multibad", sig_of("multibad", 1));
        CHECK(!v->allowed && v->reason == ATV_VFY_UNTRUSTED_SIGNER);
        CHECK_STR(v->detail, "key_not_pinned");
        run_free(r);
        (void)snprintf(pol, sizeof pol,
                       "trustedDIDs:\n  \"%s\":\n    keys: [\"%s\"]\n"
                       "policies:\n  - {name: m, scope: \"**\"}\n",
                       acct("mallory", "did"), acct("mallory", "didKey"));
        r = run_new(b, pol);
        v = verdict(r, "multibad", sig_of("multibad", 1));
        CHECK(!v->allowed && v->reason == ATV_VFY_SIGNATURE_INVALID);
        run_free(r);
    }
}

/* ---- evidence age (issue 13, finding 3): bundleMaxAge ---------------------------- */

/* The verdict on image "good" from a bundle whose evidence was fetched at
 * `when`, judged at NOW with bundleMaxAge max_age; sig: as verdict(). */
static struct run *aged_verdict(int64_t when, uint32_t max_age, int named,
                                struct atv_vfy_bundle **bp)
{
    char pol[256];
    struct atv_err err;
    struct run *r;

    atv_err_clear(&err);
    *bp = NULL;
    evidence_at = when;
    if (atv_vfy_bundle_new(bp, &err) != ATV_OK || !add_image(*bp, "good")) {
        DIAG("bundle: %s", err.msg);
    }
    evidence_at = NOW - 60;
    (void)snprintf(pol, sizeof pol,
                   "trustedDIDs:\n  %s:\npolicies:\n  - {name: all, scope: \"**\"}\n",
                   acct_did("alice"));
    r = run_new(*bp, pol);
    r->params.bundle_max_age_s = max_age;
    (void)verdict(r, "good", named ? sig_of("good", 0) : NULL);
    return r;
}

/* 1 when evidence fetched at `when` verifies (both as the CLI and as the
 * plugin ask), 0 when both refuse it as STALE_EVIDENCE with `detail`, -1
 * for anything else. */
static int age_outcome(int64_t when, uint32_t max_age, const char *detail)
{
    int got[2];
    for (int named = 0; named < 2; named++) {
        struct atv_vfy_bundle *b = NULL;
        struct run *r = aged_verdict(when, max_age, named, &b);
        const struct atv_vfy_image *v = &r->v;
        if (v->allowed && v->met && v->evidence_time == when) {
            got[named] = 1;
        } else if (!v->allowed && v->reason == ATV_VFY_STALE_EVIDENCE && !v->transient &&
                   !v->unlisted && strcmp(v->detail, detail) == 0) {
            got[named] = 0;
        } else {
            got[named] = -1;
        }
        run_free(r);
        atv_vfy_bundle_free(b);
    }
    return got[0] == got[1] ? got[0] : -1;
}

static void test_evidence_age(void)
{
    const int64_t day = 86400, max = ATV_VFY_DEFAULT_BUNDLE_MAX_AGE_S;
    const int64_t skew = ATV_VFY_EVIDENCE_SKEW_S;
    struct atv_vfy_bundle *b = NULL;
    struct run *r;

    /* the attack: evidence 400 days old, and evidence dated a day ahead */
    CHECK_EQ(age_outcome(NOW - 400 * day, (uint32_t)max, "evidence_expired"), 0);
    CHECK_EQ(age_outcome(NOW + day, (uint32_t)max, "evidence_from_future"), 0);
    /* exactly at the limits: bundleMaxAge plus the skew is fine, a second more is not */
    CHECK_EQ(age_outcome(NOW - max - skew, (uint32_t)max, "evidence_expired"), 1);
    CHECK_EQ(age_outcome(NOW - max - skew - 1, (uint32_t)max, "evidence_expired"), 0);
    CHECK_EQ(age_outcome(NOW + skew, (uint32_t)max, "evidence_from_future"), 1);
    CHECK_EQ(age_outcome(NOW + skew + 1, (uint32_t)max, "evidence_from_future"), 0);
    /* the parameter moves the limit, at both ends of its range */
    CHECK_EQ(age_outcome(NOW - 60 - skew, 60, "evidence_expired"), 1);
    CHECK_EQ(age_outcome(NOW - 60 - skew - 1, 60, "evidence_expired"), 0);
    CHECK_EQ(age_outcome(NOW - 364 * day, ATV_VFY_MAX_BUNDLE_MAX_AGE_S, "evidence_expired"), 1);
    CHECK_EQ(age_outcome(NOW - 400 * day, ATV_VFY_MAX_BUNDLE_MAX_AGE_S, "evidence_expired"), 0);

    /* the message says what to do and names the numbers */
    r = aged_verdict(NOW - 400 * day, (uint32_t)max, 1, &b);
    CHECK(strstr(r->v.message, "34560000 s ago") != NULL &&
          strstr(r->v.message, "bundleMaxAge 604800") != NULL &&
          strstr(r->v.message, "export it again") != NULL);
    run_free(r);
    atv_vfy_bundle_free(b);
}

/* The age that counts is the oldest of the entries the verification used:
 * one old DID document fails it; an old entry it never reads does not. */
static void test_evidence_oldest_used(void)
{
    const char *alice = acct_did("alice");
    struct atv_vfy_bundle *b = NULL;
    struct atv_bytes doc;
    struct atv_err err;
    struct run *r;
    char pol[256];

    atv_err_clear(&err);
    CHECK_STATUS(atv_vfy_bundle_new(&b, &err), ATV_OK, &err);
    CHECK(add_image(b, "good"));
    /* an unrelated entry, 400 days old */
    CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_BLOB, "sha256:unused", 200, atv_bytes_str("x"),
                                    NOW - 400 * 86400, &err),
                 ATV_OK, &err);
    (void)snprintf(pol, sizeof pol,
                   "trustedDIDs:\n  %s:\npolicies:\n  - {name: all, scope: \"**\"}\n", alice);
    r = run_new(b, pol);
    CHECK(verdict(r, "good", NULL)->allowed);
    CHECK_EQ(r->v.evidence_time, NOW - 60);
    /* alice's operation log, re-dated 8 days back */
    CHECK_STATUS(atv_vfy_bundle_get(b, ATV_VFY_EV_PLCLOG, alice, NULL, &doc, NULL, &err), ATV_OK,
                 &err);
    {
        uint8_t *copy = malloc(doc.len);
        if (copy != NULL) {
            memcpy(copy, doc.ptr, doc.len);
            CHECK_STATUS(atv_vfy_bundle_put(b, ATV_VFY_EV_PLCLOG, alice, 200,
                                            (struct atv_bytes){copy, doc.len}, NOW - 8 * 86400,
                                            &err),
                         ATV_OK, &err);
        }
        free(copy);
    }
    CHECK(!verdict(r, "good", NULL)->allowed && r->v.reason == ATV_VFY_STALE_EVIDENCE &&
          strcmp(r->v.detail, "evidence_expired") == 0);
    CHECK(strstr(r->v.message, alice) != NULL);
    run_free(r);
    atv_vfy_bundle_free(b);
}

int main(void)
{
    struct atv_vfy_bundle *b = NULL;
    struct atv_err err;
    json_error_t jerr;
    static const char *names[] = {"good", "multi", "multibad", "bob"};
    size_t i;
    int ok = 1;

    atv_err_clear(&err);
    fixture = json_load_file(FX "fixture.json", 0, &jerr);
    if (fixture == NULL || atv_vfy_bundle_new(&b, &err) != ATV_OK) {
        printf("Bail out! fixture.json: %s\n", jerr.text);
        return 1;
    }
    /* the DIDs below are the generated fixture's (gen-ratify.mjs derives them from genesis
     * operations): a regeneration that changes them must change them here too */
    CHECK_STR(acct_did("alice"), ALICE);
    CHECK_STR(acct_did("bob"), BOB);
    CHECK_STR(acct_did("mallory"), MALLORY);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        ok = ok && add_image(b, names[i]);
    }
    CHECK(ok);
    test_min_signatures(b);
    test_requirement_lists(b);
    test_actions(b);
    test_normalised_scope();
    test_index(b);
    test_index_too_big(b);
    test_no_discovery();
    test_forged_bundle();
    test_key_pins(b);
    test_did_web_offline();
    test_evidence_age();
    test_evidence_oldest_used();
    atv_vfy_bundle_free(b);
    json_decref(fixture);
    return atv_test_done();
}
