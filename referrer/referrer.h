/* referrer/referrer.h: the OCI referrer store client (atv_ref_*).
 *
 * What is here:
 *   - image references parsed the way Docker (distribution/reference) and
 *     Ratify parse them;
 *   - strict OCI / Docker v2 manifest and index parsing into plain structs
 *     (no jansson object leaves this module);
 *   - the registry's WWW-Authenticate challenge and the Docker config file
 *     lookup Ratify's `dockerConfig` auth provider does;
 *   - a registry client (manifests, blobs, tag resolution, referrers
 *     discovery with the OCI 1.1 tag-schema fallback) over a transport,
 *     normally common/http (atv_ref_transport_http), a fake in unit tests;
 *   - a read-only look into Ratify's local ORAS cache (OCI image layout).
 *
 * Every body fetched by digest is hashed and compared with that digest; a
 * mismatch is ATV_E_VERIFY (reason "digest_mismatch"), never a silent pass.
 * Specs cited: OCI distribution-spec v1.1 ("pull", "listing referrers",
 * "referrers tag schema"), OCI image-spec v1.1 (descriptor, manifest, index),
 * RFC 7235 / RFC 7617 / RFC 6750 (challenges), distribution token auth spec.
 */
#ifndef ATV_REFERRER_REFERRER_H
#define ATV_REFERRER_REFERRER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"

/* ---- caps (ATV_E_LIMIT past them) ----------------------------------------- */
/* A registry host[:port] (DNS name 253 + ":65535"). */
#define ATV_REF_MAX_HOST 260u
/* A repository name (distribution/reference NameTotalLengthMax, domain included). */
#define ATV_REF_MAX_NAME 255u
/* A tag (distribution/reference: [\w][\w.-]{0,127}). */
#define ATV_REF_MAX_TAG 128u
/* "sha256:" + 64 lower-case hex. */
#define ATV_REF_DIGEST_LEN 71u
/* A media type (RFC 6838 section 4.2: 127 + "/" + 127). */
#define ATV_REF_MAX_MEDIA_TYPE 255u
/* A platform's os, architecture or variant (GOOS/GOARCH names are short). */
#define ATV_REF_MAX_PLATFORM 32u
/* A manifest or an index body (oras-go's default metadata limit). */
#define ATV_REF_MAX_MANIFEST (4u << 20)
/* A blob fetched through atv_ref_blob_get (signature blobs are a few KiB). */
#define ATV_REF_MAX_BLOB (4u << 20)
/* Layers in one manifest. */
#define ATV_REF_MAX_LAYERS 64u
/* Entries in one index / referrers response. */
#define ATV_REF_MAX_INDEX_ENTRIES 1024u
/* One annotation value we copy out (did, pds, recordUri). */
#define ATV_REF_MAX_ANNOTATION 8192u
/* A Docker config file. */
#define ATV_REF_MAX_DOCKER_CONFIG (1u << 20)
/* username, password or identity token from a Docker config. */
#define ATV_REF_MAX_CRED 4096u
/* A token server's answer, and the token in it. */
#define ATV_REF_MAX_TOKEN_BODY (64u << 10)
#define ATV_REF_MAX_TOKEN 8192u
/* WWW-Authenticate parameters we keep. */
#define ATV_REF_MAX_REALM 2048u
#define ATV_REF_MAX_SERVICE 512u
#define ATV_REF_MAX_SCOPE 1024u
/* Pages of one referrers answer followed through Link rel="next". */
#define ATV_REF_MAX_REFERRER_PAGES 16u
/* The client_id of an OAuth2 refresh-token grant (oras-go sends its own name). */
#define ATV_REF_CLIENT_ID "atcr-verify"

/* Media types. */
#define ATV_REF_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define ATV_REF_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define ATV_REF_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ATV_REF_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ATV_REF_MT_EMPTY "application/vnd.oci.empty.v1+json"
/* Annotations of the atproto signature artifact. */
#define ATV_REF_ANN_DID "io.atcr.atproto.did"
#define ATV_REF_ANN_PDS "io.atcr.atproto.pds"
#define ATV_REF_ANN_RECORD_URI "io.atcr.atproto.recordUri"

/* ---- digests ---------------------------------------------------------------- */
/* Returns: ATV_OK when s is exactly "sha256:" + 64 lower-case hex characters;
 * ATV_E_UNSUPPORTED for another well-formed algorithm ("sha512:..."); else
 * ATV_E_PARSE. Upper-case hex is rejected (OCI image-spec descriptor.md:
 * the encoded portion of sha256 MUST match /[a-f0-9]{64}/). s may be NULL. */
ATV_MUST_USE enum atv_status atv_ref_digest_check(const char *s, struct atv_err *err);

/* Returns: ATV_OK when sha256(body) equals digest (already checked by
 * atv_ref_digest_check); ATV_E_VERIFY (reason "digest_mismatch") otherwise. */
ATV_MUST_USE enum atv_status atv_ref_digest_verify(const char *digest, struct atv_bytes body,
                                                   struct atv_err *err);

/* ---- image references ------------------------------------------------------ */
struct atv_ref_image {
    char registry[ATV_REF_MAX_HOST + 1]; /* normalised host[:port], "docker.io" for Hub: the
                                          * key looked up in a Docker config's auths */
    char api_host[ATV_REF_MAX_HOST + 1]; /* where HTTP goes: registry-1.docker.io for Hub */
    char repository[ATV_REF_MAX_NAME + 1]; /* "library/alpine", "team/app" */
    char tag[ATV_REF_MAX_TAG + 1];         /* "" when none */
    char digest[ATV_REF_DIGEST_LEN + 1];   /* "" when none */
    /* registry "/" repository, both normalised: "atcr.io/acme/app",
     * "localhost:5000/atv/app", "docker.io/library/alpine", "[::1]:5000/x".
     * One image has one name, whatever the spelling of the reference: this
     * is what trust-policy scopes are matched against. */
    char name[ATV_REF_MAX_HOST + 1 + ATV_REF_MAX_NAME + 1];
};

/* Parses a reference such as "alpine", "alpine:3.19", "localhost:5000/a/b@sha256:...",
 * "ghcr.io/o/r:v1@sha256:..." (the digest is kept and wins; the tag is kept too).
 * Rules (distribution/reference grammar, normalize.go):
 *   - the first component is a registry when it holds '.' or ':' or is
 *     "localhost" (or is a bracketed IPv6 literal, or holds upper case);
 *     otherwise the registry is docker.io;
 *   - path components: [a-z0-9]+ joined by '.', '_', '__' or runs of '-';
 *     upper case is rejected ("repository name must be lowercase"), as are
 *     empty components; the name (registry included) is at most 255 characters;
 *   - tag [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digest: atv_ref_digest_check.
 * The registry is normalised, so that one registry has one spelling before
 * any policy decision ("ATCR.IO", "Atcr.io" and "atcr.io:443" are atcr.io):
 *   - the host is lower-cased (IPv6 literal included);
 *   - the scheme's default port is removed: ":443" when plain_http is 0,
 *     ":80" when plain_http is 1 (plain_http: the registry is reached over
 *     http://, a store's useHttp); any other port is kept ("host:443" under
 *     plain HTTP, "host:80" over HTTPS);
 *   - docker.io, index.docker.io and registry-1.docker.io (any case, default
 *     port or not) are registry "docker.io", api_host "registry-1.docker.io",
 *     and a one-component repository there gets "library/";
 *   - refused (ATV_E_PARSE), because they would name a registry under a
 *     second spelling: a host ending in '.' (trailing-dot FQDN, "atcr.io."),
 *     a port with a leading zero, port 0 or over 65535, and a host that is a
 *     registry only through its upper case or its default port ("Foo/app",
 *     "foo:443/app": once normalised they would read as Docker Hub's foo/app).
 *   Not normalised: other IPv4/IPv6 spellings of one address ("[0::1]").
 * Neither tag nor digest given: the tag is "latest" (Docker's default).
 * Returns: ATV_OK; ATV_E_PARSE, ATV_E_LIMIT or ATV_E_UNSUPPORTED (non-sha256
 * digest); ATV_E_USAGE for s NULL. Out: *out filled on success, zeroed on failure. */
ATV_MUST_USE enum atv_status atv_ref_image_parse(const char *s, int plain_http,
                                                 struct atv_ref_image *out, struct atv_err *err);

/* ---- manifests and indexes --------------------------------------------------- */
/* An OCI descriptor (image-spec descriptor.md) with the fields we use.
 * The annotation strings are new (freed by the owning manifest/index cleanup),
 * NULL when absent. */
struct atv_ref_desc {
    char media_type[ATV_REF_MAX_MEDIA_TYPE + 1];
    char digest[ATV_REF_DIGEST_LEN + 1];
    int64_t size;                                  /* >= 0 */
    char artifact_type[ATV_REF_MAX_MEDIA_TYPE + 1]; /* "" when absent */
    /* an index entry's platform (image-index.md), "" when absent */
    char platform_os[ATV_REF_MAX_PLATFORM + 1];
    char platform_arch[ATV_REF_MAX_PLATFORM + 1];
    char platform_variant[ATV_REF_MAX_PLATFORM + 1];
    char *ann_did;
    char *ann_pds;
    char *ann_record_uri;
};

struct atv_ref_manifest {
    char media_type[ATV_REF_MAX_MEDIA_TYPE + 1];    /* the field; "" when absent (OCI: SHOULD) */
    char artifact_type[ATV_REF_MAX_MEDIA_TYPE + 1]; /* the field; "" when absent */
    struct atv_ref_desc config;
    size_t n_layers;
    struct atv_ref_desc *layers; /* new; n_layers entries (may be 0) */
    int has_subject;
    struct atv_ref_desc subject; /* valid when has_subject */
    char *ann_did;               /* manifest annotations we need; new, NULL when absent */
    char *ann_pds;
    char *ann_record_uri;
};

struct atv_ref_index {
    char media_type[ATV_REF_MAX_MEDIA_TYPE + 1]; /* "" when absent */
    size_t n;
    struct atv_ref_desc *manifests; /* new; n entries */
};

/* Parses an OCI image manifest (or a Docker v2 schema 2 manifest, same shape).
 * Strict: the body is one JSON object without duplicate keys; schemaVersion is
 * the integer 2; mediaType, when present, is one of the two manifest types;
 * config is a descriptor; layers is an array of at most ATV_REF_MAX_LAYERS
 * descriptors; subject, when present, is a descriptor; annotations, when
 * present, map strings to strings. A descriptor has mediaType (a non-empty
 * type/subtype string), digest (atv_ref_digest_check) and size (a JSON integer
 * >= 0); artifactType and annotations are optional with the same types.
 * Unknown fields are ignored (image-spec: "implementations MUST NOT generate an
 * error if they encounter an unknown property").
 * Returns: ATV_OK; ATV_E_PARSE (syntax, types, values), ATV_E_LIMIT (counts,
 * lengths), ATV_E_UNSUPPORTED (non-sha256 digest, other media type), ATV_E_NOMEM.
 * Out: *out (atv_ref_manifest_cleanup), zeroed on failure. */
ATV_MUST_USE enum atv_status atv_ref_manifest_parse(struct atv_bytes body,
                                                    struct atv_ref_manifest *out,
                                                    struct atv_err *err);
void atv_ref_manifest_cleanup(struct atv_ref_manifest *m);

/* The artifact type as the referrers API reports it (distribution-spec,
 * "listing referrers"): artifactType when set, else config.mediaType unless it
 * is the empty descriptor type, else "". Borrow: valid while m lives. */
const char *atv_ref_manifest_artifact_type(const struct atv_ref_manifest *m);

/* Parses an OCI image index (also a referrers API answer and a tag-schema
 * index) or a Docker manifest list. Same strictness as the manifest parser:
 * schemaVersion 2, manifests an array of at most ATV_REF_MAX_INDEX_ENTRIES
 * descriptors. Out: *out (atv_ref_index_cleanup), zeroed on failure. */
ATV_MUST_USE enum atv_status atv_ref_index_parse(struct atv_bytes body, struct atv_ref_index *out,
                                                 struct atv_err *err);
void atv_ref_index_cleanup(struct atv_ref_index *ix);

/* ---- auth ------------------------------------------------------------------------ */
enum atv_ref_scheme { ATV_REF_AUTH_NONE = 0, ATV_REF_AUTH_BASIC, ATV_REF_AUTH_BEARER };

struct atv_ref_challenge {
    enum atv_ref_scheme scheme;
    char realm[ATV_REF_MAX_REALM + 1];
    char service[ATV_REF_MAX_SERVICE + 1]; /* "" when absent */
    char scope[ATV_REF_MAX_SCOPE + 1];     /* "" when absent */
};

/* Parses the first challenge of a WWW-Authenticate value (RFC 7235 section
 * 4.1: auth-scheme 1*SP auth-param *( OWS "," OWS auth-param ), values a token
 * or a quoted-string with backslash escapes). Schemes are case-insensitive;
 * Basic and Bearer are known, others are ATV_E_UNSUPPORTED. realm is required
 * for both (RFC 7617 section 2, RFC 6750 section 3 / distribution token spec).
 * Returns: ATV_OK; ATV_E_PARSE; ATV_E_LIMIT; ATV_E_UNSUPPORTED. Out: zeroed on failure. */
ATV_MUST_USE enum atv_status atv_ref_challenge_parse(const char *value,
                                                     struct atv_ref_challenge *out,
                                                     struct atv_err *err);

/* Credentials for one registry host. Strings are "" when absent. */
struct atv_ref_creds {
    char username[ATV_REF_MAX_CRED + 1];
    char password[ATV_REF_MAX_CRED + 1];
    char identity_token[ATV_REF_MAX_CRED + 1];
    char warning[256]; /* non-empty when the caller should log something (no secrets in it) */
};

/* What Ratify's auth providers do, for the providers we implement.
 * auth_provider: the store's authProvider.name (NULL or "" or "dockerConfig":
 * the Docker config file; any other name: anonymous, and creds->warning names
 * the provider). config_path: authProvider.configPath or NULL.
 * The Docker config file is, in this order (Ratify dockerConfig provider /
 * docker/cli config.Dir()): config_path; $DOCKER_CONFIG/config.json;
 * $HOME/.docker/config.json. A missing file means anonymous (no warning).
 * The entry is auths[registry], registry being atv_ref_image.registry (the
 * normalised host[:port], "docker.io" for Hub), matched exactly: keys are not
 * normalised ("ATCR.IO" or "atcr.io:443" are not found for atcr.io), and
 * credential helpers are not consulted, as in Ratify. "auth"
 * is base64(user ":" password) and, when present, wins over
 * username/password; "identitytoken" is kept.
 * Returns: ATV_OK (possibly anonymous); ATV_E_PARSE for a file that is not a
 * valid Docker config (bad JSON, wrong types, bad base64, no ':' in auth);
 * ATV_E_LIMIT; ATV_E_IO for a file that exists but cannot be read.
 * Out: *out zeroed first, then filled. The secrets are never put in err. */
ATV_MUST_USE enum atv_status atv_ref_creds_load(const char *auth_provider,
                                                const char *config_path, const char *registry,
                                                struct atv_ref_creds *out, struct atv_err *err);

/* The same from a Docker config's bytes (for tests and for callers that have it). */
ATV_MUST_USE enum atv_status atv_ref_creds_from_json(struct atv_bytes config,
                                                     const char *registry,
                                                     struct atv_ref_creds *out,
                                                     struct atv_err *err);

/* Overwrites the secrets with zeros. */
void atv_ref_creds_wipe(struct atv_ref_creds *c);

/* ---- transport ---------------------------------------------------------------------- */
/* How the client performs requests: atv_ref_transport_http in production; a
 * fake in unit tests. `perform` has atv_http_do's contract; `cleanup` frees
 * what perform put in resp (atv_http_resp_cleanup). */
struct atv_ref_transport {
    enum atv_status (*perform)(void *ctx, const struct atv_http_req *req,
                               struct atv_http_resp *resp, struct atv_err *err);
    void (*cleanup)(struct atv_http_resp *resp);
    void *ctx;
};

/* A transport over an HTTP session (borrow: h must outlive it). */
struct atv_ref_transport atv_ref_transport_http(struct atv_http *h);

/* ---- registry client ------------------------------------------------------------------ */
struct atv_ref_client; /* opaque: transport, base URL, repository, credentials, cached auth */

/* Creates a client for img's registry and repository. use_http: plain http://
 * (a store's useHttp; the HTTP session must allow it too). creds may be NULL
 * (anonymous); they are copied. Out: *out (new: atv_ref_client_free), NULL on failure. */
ATV_MUST_USE enum atv_status atv_ref_client_new(struct atv_ref_transport tr,
                                                const struct atv_ref_image *img, int use_http,
                                                const struct atv_ref_creds *creds,
                                                struct atv_ref_client **out, struct atv_err *err);
/* Frees the client and wipes its secrets; c may be NULL. */
void atv_ref_client_free(struct atv_ref_client *c);

/* Every request below is sent anonymously, or with the authorization an
 * earlier challenge produced; on 401 the challenge is answered once (Basic:
 * the credentials; Bearer: one GET to the realm with service and
 * scope=repository:NAME:pull, Basic credentials if any, reading "token" or
 * "access_token"; Bearer with an identity token (it wins over a username and
 * password, as in oras-go): one POST to the realm, no redirect followed, of
 * the application/x-www-form-urlencoded form grant_type=refresh_token,
 * refresh_token, service (when the challenge names one), scope and
 * client_id=ATV_REF_CLIENT_ID, reading "access_token" only) and the request
 * is retried once. Credentials never go to another host, except the
 * registry's token realm over HTTPS: Basic credentials or an identity token
 * go to a Bearer realm only when it is https://, or http:// on a loopback
 * host (127.0.0.0/8, [::1], localhost) for a client made with use_http;
 * otherwise nothing is sent to the realm and the call fails with ATV_E_IO,
 * reason "insecure_token_realm". An anonymous token GET is not judged by
 * this rule (the HTTP session's scheme policy applies). Never more than one
 * token fetch per request; a token
 * server answering other than 200 is ATV_E_IO (reason
 * "registry_unauthorized"); no message holds a credential or token.
 * Statuses: 404 is ATV_E_NOT_FOUND (reason
 * "registry_not_found"); 401/403 after that is ATV_E_IO (reason
 * "registry_unauthorized"); other non-200 is ATV_E_IO naming the status. */

/* GETs /v2/NAME/manifests/DIGEST accepting the OCI manifest, OCI index and
 * Docker v2 types. size: the descriptor's size, or -1 when unknown.
 * Returns: ATV_OK with the body appended to out (caller-initialised; both its
 * own max and ATV_REF_MAX_MANIFEST apply) and the response's Content-Type in
 * content_type (cap bytes; may be NULL; the caller compares it with the
 * descriptor's mediaType as oras does); ATV_E_VERIFY (reason
 * "digest_mismatch") when sha256(body) != digest, the size differs from a
 * known size, or Docker-Content-Digest names another digest; ATV_E_LIMIT (size
 * over the cap, checked before any request); statuses above. out is unchanged
 * on failure. */
ATV_MUST_USE enum atv_status atv_ref_manifest_get(struct atv_ref_client *c, const char *digest,
                                                  int64_t size, struct atv_buf *out,
                                                  char *content_type, size_t cap,
                                                  struct atv_err *err);

/* GETs /v2/NAME/blobs/DIGEST, following redirects (credentials are not
 * forwarded to another host). Checks as atv_ref_manifest_get, cap ATV_REF_MAX_BLOB. */
ATV_MUST_USE enum atv_status atv_ref_blob_get(struct atv_ref_client *c, const char *digest,
                                              int64_t size, struct atv_buf *out,
                                              struct atv_err *err);

/* Resolves a tag with HEAD /v2/NAME/manifests/TAG and its Docker-Content-Digest
 * (checked by atv_ref_digest_check; the body is hashed when it is fetched by
 * that digest). Out: digest (ATV_REF_DIGEST_LEN + 1 bytes), "" on failure. */
ATV_MUST_USE enum atv_status atv_ref_tag_resolve(struct atv_ref_client *c, const char *tag,
                                                 char digest[ATV_REF_DIGEST_LEN + 1],
                                                 struct atv_err *err);

/* Lists the referrers of subject_digest whose artifact type is artifact_type
 * (NULL: all). GET /v2/NAME/referrers/DIGEST?artifactType=... (distribution-spec
 * v1.1); on 404, the referrers tag schema: GET manifests/sha256-HEX as an
 * index (a 404 there means no referrers: ATV_OK with n == 0). Filtering is
 * always re-done here, on every page (a registry may ignore the filter).
 * Pagination (distribution-spec "listing referrers": a Link header with
 * rel="next", RFC 8288): the next page is fetched with the same Accept and
 * authorization and merged, in order. The next URL is resolved against the
 * page's URL (absolute, "//host...", "/path", "?query" or a relative path
 * without dot segments) and must stay on the registry's scheme, host and
 * port, else ATV_E_IO (reason "registry_error", "another origin"). At most
 * ATV_REF_MAX_REFERRER_PAGES pages (a further next is ATV_E_LIMIT) and
 * ATV_REF_MAX_INDEX_ENTRIES entries kept after filtering (ATV_E_LIMIT); a
 * next link naming the page itself, or a page already fetched, is ATV_E_IO
 * ("loops"); a Link value that does not parse is ATV_E_PARSE, one dropped
 * for length (atv_http_resp.link_dropped) ATV_E_LIMIT; a page other than
 * 200 fails as any request. The tag-schema index is one document, never paged.
 * Out: *out (atv_ref_index_cleanup), empty on failure. */
ATV_MUST_USE enum atv_status atv_ref_referrers_list(struct atv_ref_client *c,
                                                    const char *subject_digest,
                                                    const char *artifact_type,
                                                    struct atv_ref_index *out,
                                                    struct atv_err *err);

/* ---- Ratify's local ORAS cache (read only) ---------------------------------------------- */
/* Reads cache_dir/blobs/sha256/HEX when it is a regular file no bigger than
 * max, and checks its hash. Never writes there.
 * Returns: ATV_OK with the bytes appended to out; ATV_E_NOT_FOUND for a miss
 * (absent, not a regular file, too big, or hash mismatch: a bad entry is
 * treated as absent, the message says which); ATV_E_PARSE for a bad digest. */
ATV_MUST_USE enum atv_status atv_ref_cache_read(const char *cache_dir, const char *digest,
                                                size_t max, struct atv_buf *out,
                                                struct atv_err *err);

#endif
