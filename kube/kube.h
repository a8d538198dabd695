/* kube/kube.h: container image references in Kubernetes JSON (atv_kube_*).
 *
 * Reads the images a Kubernetes object would run out of its JSON: one object
 * (a Pod or a workload that carries a pod template), an admission.k8s.io/v1
 * AdmissionReview as the API server posts it to a webhook, or a document of
 * several objects (a List, a PodList, ...) for `atcr-verify coverage`. Plus the
 * two small writers the mutating webhook needs: RFC 6901 pointer escaping and
 * RFC 6902 "replace" operations.
 *
 * Where images sit (Kubernetes core/v1 PodSpec; reference/admission-surfaces.md
 * section 3.3): containers[].image, initContainers[].image,
 * ephemeralContainers[].image and volumes[].image.reference (image volumes), in
 * the PodSpec found at
 *     Pod                                          /spec
 *     PodTemplate                                  /template/spec
 *     Deployment, ReplicaSet, StatefulSet,
 *     DaemonSet, Job, ReplicationController        /spec/template/spec
 *     CronJob                                      /spec/jobTemplate/spec/template/spec
 * A kind is known only in its own API group, at the versions Kubernetes served
 * it with that shape:
 *     Pod, PodTemplate, ReplicationController      v1
 *     Deployment                                   apps/v1, apps/v1beta1, apps/v1beta2,
 *                                                  extensions/v1beta1
 *     ReplicaSet, DaemonSet                        apps/v1, apps/v1beta2, extensions/v1beta1
 *     StatefulSet                                  apps/v1, apps/v1beta1, apps/v1beta2
 *     Job                                          batch/v1
 *     CronJob                                      batch/v1, batch/v1beta1
 * The same kind name in another group (a custom resource "example.com/v1
 * Deployment") is not a kind we read: ATV_OK with known_kind 0. A known kind in
 * its own group at any other version ("apps/v2 Deployment", "batch/v2alpha1
 * CronJob") is ATV_E_UNSUPPORTED: it may carry pods we cannot find, so it is
 * not passed over in silence.
 *
 * Parsing (STYLE.md 18, 19): strict JSON (jansson, duplicate keys refused,
 * \u0000 refused, UTF-8 only, nesting bounded by jansson's parser), at most
 * ATV_KUBE_MAX_DOC bytes, refused before parsing. The document must be a JSON
 * object. Unknown members are ignored everywhere (Kubernetes objects carry
 * many). JSON null stands for "absent" where Kubernetes' Go structs write it
 * so (a nil slice, pointer or struct: spec, template, containers, volumes,
 * volumes[].image, status and its lists, metadata); everywhere else a member of
 * the wrong type is ATV_E_PARSE naming the RFC 6901 pointer of the member in
 * the document ("/request/object/spec/containers/2/image: want a string"). No
 * JSON value is ever echoed in a message except short identifier-like
 * strings (kinds, versions), with any byte outside printable ASCII shown as '?'.
 *
 * Limits: ATV_KUBE_MAX_IMAGES images per object, ATV_KUBE_MAX_REF bytes per
 * image string, ATV_KUBE_MAX_DOC bytes of JSON; strings copied into the
 * fixed-size fields below that do not fit (kind > 63 bytes, a name > 253, a
 * namespace > 63, ...) are ATV_E_LIMIT, never truncated.
 *
 * Nothing here does I/O or keeps state; every function is safe to call from
 * several threads on different outputs.
 */
#ifndef ATV_KUBE_KUBE_H
#define ATV_KUBE_KUBE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* Images in one object (one review); one more is ATV_E_LIMIT. */
#define ATV_KUBE_MAX_IMAGES 1024u
/* Bytes of one image string as written; longer is ATV_E_LIMIT. */
#define ATV_KUBE_MAX_REF 1024u
/* Bytes of an RFC 6901 pointer to an image string (ours are < 80). */
#define ATV_KUBE_MAX_POINTER 512u
/* Bytes of JSON accepted by every parser here (the API server's own request
 * limit is 3 MiB, so no real AdmissionReview is refused). */
#define ATV_KUBE_MAX_DOC (3u << 20)

/* One image reference found in an object. Every string is NUL-terminated. */
struct atv_kube_image {
    /* The image string exactly as written: no normalisation, no check that it
     * is a valid reference, "" when written as "" (a caller verifying it must
     * refuse it like any unparseable reference). */
    char ref[ATV_KUBE_MAX_REF + 1];
    /* RFC 6901 pointer to that string inside the object (not the enclosing
     * review or list): "/spec/template/spec/containers/0/image",
     * "/spec/volumes/2/image/reference". Usable as the path of a JSON Patch
     * operation on the object (atv_kube_patch_replace). */
    char pointer[ATV_KUBE_MAX_POINTER + 1];
    /* "containers", "initContainers", "ephemeralContainers" or "volumes". */
    char field[24];
    /* The container's or volume's name, "" if absent. */
    char name[254];
    /* Pods only: the digest "sha256:<64 lower-case hex>" the kubelet reports
     * for the container, from the entry of status.containerStatuses,
     * .initContainerStatuses or .ephemeralContainerStatuses (matching
     * `field`) whose name equals `name` (the first such entry). Its imageID is
     * read as: the text after the last '@' when there is one
     * ("docker.io/library/nginx@sha256:...", "docker-pullable://nginx@sha256:..."),
     * else the whole string ("sha256:...", which some runtimes report: then it
     * may be the image's config digest, not its manifest digest). "" when
     * there is no such entry, the image is a volume, `name` is "", or that
     * text is not exactly "sha256:" followed by 64 lower-case hex digits
     * (e.g. "docker://sha256:...", upper-case hex, a short digest). A report of
     * what runs, never an input to a decision about what may run. */
    char running[72];
};

/* The images of one object. */
struct atv_kube_images {
    /* 1: a kind we read images from (the table above); 0: any other kind,
     * and then n is 0. */
    int known_kind;
    /* The object's kind as written, "" if absent; for an item of a typed list
     * written without one (a PodList's items, as the API server sends them),
     * the kind the list names ("Pod"). */
    char kind[64];
    /* metadata.name, "" if absent (metadata.generateName is not a name). */
    char name[254];
    /* metadata.namespace, "" if absent. */
    char ns[64];
    /* The images, in this order: containers, initContainers,
     * ephemeralContainers, volumes, each in array order. Entries without an
     * image (a container with no "image" member, a volume that is not an
     * image volume or has no "reference") are skipped. */
    size_t n;
    struct atv_kube_image *items; /* new: n entries, freed by atv_kube_images_cleanup;
                                     NULL when n == 0 */
};

/* The images of one Kubernetes object (its JSON as `kubectl get -o json`
 * prints it or the API server stores it).
 *
 * Returns: ATV_OK (known_kind 0 and n 0 for a kind we do not read, including
 * an object with no kind at all); ATV_E_PARSE (not JSON, not an object,
 * duplicate keys, a member of the wrong type, a known kind without
 * apiVersion); ATV_E_LIMIT (over ATV_KUBE_MAX_DOC, more than
 * ATV_KUBE_MAX_IMAGES images, an image over ATV_KUBE_MAX_REF bytes, a status
 * list with more than ATV_KUBE_MAX_IMAGES entries, a string too long for its
 * field); ATV_E_UNSUPPORTED (a known kind at a version not in the table);
 * ATV_E_NOMEM; ATV_E_USAGE (out NULL, json.ptr NULL with json.len > 0).
 * In: json (borrow; need not be NUL-terminated). An absent or null PodSpec
 * (or anything on the way to it) means no images; a present one of the wrong
 * type is ATV_E_PARSE. A container or image volume with an image of any type
 * other than string (null included) is ATV_E_PARSE.
 * Out: *out, owning its items (atv_kube_images_cleanup); all zero on failure. */
ATV_MUST_USE enum atv_status atv_kube_object_images(struct atv_bytes json,
                                                    struct atv_kube_images *out,
                                                    struct atv_err *err);

/* Frees x's items and zeroes *x. x may be NULL; a zeroed x is fine. */
void atv_kube_images_cleanup(struct atv_kube_images *x);

/* An admission.k8s.io/v1 AdmissionReview request, as the API server posts it
 * to a validating or mutating webhook (reference/admission-surfaces.md 3.1). */
struct atv_kube_review {
    char api_version[64]; /* "admission.k8s.io/v1" */
    char uid[128];        /* request.uid: to be copied into the response */
    char operation[16];   /* "CREATE", "UPDATE", "DELETE" or "CONNECT" */
    /* request.kind: the object's group ("" for the core group), version, kind */
    char group[64], version[32], kind[64];
    /* request.resource.resource ("pods"), request.subResource ("" if absent) */
    char resource[64], subresource[64];
    /* request.name, request.namespace ("" if absent; a CREATE with
     * generateName has no name yet) */
    char name[254], ns[64];
    int dry_run; /* request.dryRun: 1 true, 0 false or absent */
    /* The images of request.object for CREATE and UPDATE, read as
     * atv_kube_object_images reads an object (its own kind and apiVersion, or
     * request.kind's where the object omits them). Empty (all zero) for
     * DELETE and CONNECT, whose object is null or an options object
     * (request.oldObject is never read), and when object is absent or null. */
    struct atv_kube_images images;
};

/* Parses an AdmissionReview request.
 *
 * Checked: apiVersion "admission.k8s.io/v1" (admission.k8s.io/v1beta1 or any
 * other: ATV_E_UNSUPPORTED; absent: ATV_E_PARSE), kind "AdmissionReview",
 * request an object; request.uid a non-empty string of printable ASCII
 * (0x21-0x7e; Kubernetes sends a UUID); request.kind an object with string
 * version and kind (group optional); request.resource an object with a string
 * resource; request.operation one of the four (another string:
 * ATV_E_UNSUPPORTED); request.dryRun a boolean or null when present; name,
 * namespace and subResource strings when present. The object, when it states
 * kind or apiVersion, must state request.kind's (ATV_E_PARSE otherwise: the
 * API server converts the object to the version it names). For the
 * pods/ephemeralcontainers subresource the object is the whole Pod (Kubernetes
 * >= 1.22) and is read as one; request.kind other than v1 Pod there (the old
 * EphemeralContainers kind) is ATV_E_UNSUPPORTED. Errors in the object are
 * those of atv_kube_object_images, with pointers from the document's root
 * ("/request/object/spec/...").
 * Returns: ATV_OK, ATV_E_PARSE, ATV_E_LIMIT, ATV_E_UNSUPPORTED, ATV_E_NOMEM,
 * ATV_E_USAGE (out NULL, json.ptr NULL with json.len > 0).
 * In: json (borrow). Out: *out, owning out->images (atv_kube_review_cleanup);
 * all zero on failure. */
ATV_MUST_USE enum atv_status atv_kube_review_parse(struct atv_bytes json,
                                                   struct atv_kube_review *out,
                                                   struct atv_err *err);

/* Frees r->images and zeroes *r. r may be NULL. */
void atv_kube_review_cleanup(struct atv_kube_review *r);

/* Called once per object by atv_kube_doc_each. obj is borrowed: valid only
 * during the call (copy what must outlive it). Return ATV_OK to go on; any
 * other status stops the walk and is returned by atv_kube_doc_each (set err
 * to explain it; if the callback leaves err unset, a generic message naming
 * the item is set). */
typedef enum atv_status (*atv_kube_each_fn)(void *ctx, const struct atv_kube_images *obj,
                                            struct atv_err *err);

/* Every object of one JSON document, for `coverage`.
 *
 * A document whose kind is "List" or ends in "List" ("PodList",
 * "DeploymentList", what `kubectl get -o json` prints) is a list: fn is called
 * once per element of its "items" array (absent or null: none), in order, with
 * that element's images and pointers relative to the element. An element
 * without kind or apiVersion takes them from a typed list (a "PodList" of
 * apiVersion "v1" gives "Pod", "v1"); a plain "List" gives none. Elements must
 * be objects (ATV_E_PARSE naming "/items/N"); an element that is itself a list
 * is an object of an unknown kind (lists are not walked recursively). Any
 * other document is one object: fn is called once.
 * Errors are those of atv_kube_object_images (pointers from the document's
 * root, "/items/3/spec/..."); an error in one element stops the walk before
 * that element's call, after the calls for the elements before it.
 * Returns: ATV_OK, fn's first non-OK status, or a parse error as above;
 * ATV_E_USAGE when fn is NULL or json.ptr NULL with json.len > 0.
 * In: json (borrow), fn, ctx (passed through). */
ATV_MUST_USE enum atv_status atv_kube_doc_each(struct atv_bytes json, atv_kube_each_fn fn,
                                               void *ctx, struct atv_err *err);

/* 1 when p is a JSON pointer (RFC 6901 section 3): "" or a sequence of '/'
 * followed by a reference token, every '~' being "~0" or "~1", all of it
 * valid UTF-8 (RFC 3629); else 0. p NULL: 0. */
int atv_kube_pointer_valid(const char *p);

/* Appends one reference token to the pointer held in ptr: '/' then token with
 * '~' written "~0" and '/' written "~1" (RFC 6901 section 4, escaping the
 * other way round). "" + "a/b~c" gives "/a~1b~0c".
 * Returns: ATV_OK; ATV_E_LIMIT when the result and its NUL would not fit in
 * cap bytes (ptr unchanged); ATV_E_USAGE when ptr or token is NULL or ptr
 * holds no NUL within cap. In: token (any bytes up to its NUL; its UTF-8 is
 * not checked here). In/Out: ptr, a NUL-terminated string in cap bytes. */
ATV_MUST_USE enum atv_status atv_kube_pointer_append(char *ptr, size_t cap, const char *token,
                                                     struct atv_err *err);

/* Appends the RFC 6902 operation {"op":"replace","path":pointer,"value":value}
 * to the JSON Patch array held in patch, for a mutating webhook's
 * response.patch (which the server then base64-encodes). An empty patch
 * (len 0) becomes "[op]"; a patch holding "[...]" becomes "[...,op]". So after
 * any successful call patch holds one complete JSON array (not NUL-terminated:
 * atv_buf_terminate). With no call at all it is empty, meaning "no patch"
 * (send none rather than "[]").
 * RFC 6902 section 4.3: the target must exist in the object; pass a pointer
 * from atv_kube_image.pointer of the same object.
 * Returns: ATV_OK; ATV_E_LIMIT past patch->max; ATV_E_NOMEM; ATV_E_USAGE when
 * pointer is not a valid, non-empty JSON pointer (atv_kube_pointer_valid) or
 * longer than ATV_KUBE_MAX_POINTER, value is not valid UTF-8, an argument is
 * NULL, or patch is neither empty nor a text these calls wrote (it must start
 * with '[' and end with ']'). On any failure patch is unchanged.
 * In: pointer, value (borrow, NUL-terminated). In/Out: patch (atv_buf_init'd
 * by the caller, who chooses max and frees it). */
ATV_MUST_USE enum atv_status atv_kube_patch_replace(struct atv_buf *patch, const char *pointer,
                                                    const char *value, struct atv_err *err);

#endif
