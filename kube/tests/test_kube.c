/* Unit tests for kube/: images out of Kubernetes objects, AdmissionReviews
 * and lists; RFC 6901 pointers; RFC 6902 replace operations. */
#include "kube/kube.h"
#include "common/buf.h"
#include "common/limits.h"
#include "common/test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D_NGINX "sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"
#define D_APP "sha256:a172cedcae47474b615c54d510a5d84a8dea3032e958587430b413538be3f333"
#define D_DEBUG "sha256:0b8e9e995d8d77f1e4770f0f79665aee6f3f70247b3735422daba73df4c3096f"

static struct atv_bytes B(const char *s)
{
    return (struct atv_bytes){(const uint8_t *)s, strlen(s)};
}

/* A whole file from testdata/kube (new: free), or NULL after a failed check. */
static char *slurp(const char *name)
{
    char path[256];
    struct atv_buf b;
    struct atv_err err;
    (void)snprintf(path, sizeof path, "testdata/kube/%s", name);
    atv_buf_init(&b, ATV_KUBE_MAX_DOC);
    atv_err_clear(&err);
    enum atv_status rc = atv_buf_read_file(&b, path, &err);
    if (rc == ATV_OK) {
        rc = atv_buf_terminate(&b, &err);
    }
    CHECK_MSG(rc == ATV_OK, "read %s: %s", path, err.msg);
    if (rc != ATV_OK) {
        atv_buf_cleanup(&b);
        return NULL;
    }
    return (char *)atv_buf_take(&b, NULL);
}

static enum atv_status obj(const char *json, struct atv_kube_images *out, struct atv_err *err)
{
    atv_err_clear(err);
    return atv_kube_object_images(B(json), out, err);
}

static enum atv_status review(const char *json, struct atv_kube_review *out, struct atv_err *err)
{
    atv_err_clear(err);
    return atv_kube_review_parse(B(json), out, err);
}

/* 1 when every byte of p[0..n) is zero. */
static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void check_image(const struct atv_kube_images *x, size_t i, const char *ref,
                        const char *pointer, const char *field, const char *name,
                        const char *running)
{
    if (i >= x->n) {
        CHECK_MSG(0, "image %zu of %zu", i, x->n);
        return;
    }
    const struct atv_kube_image *im = &x->items[i];
    CHECK_STR(im->ref, ref);
    CHECK_STR(im->pointer, pointer);
    CHECK_STR(im->field, field);
    CHECK_STR(im->name, name);
    CHECK_STR(im->running, running);
}

/* ---- every kind, every image field -------------------------------------- */

/* A PodSpec with all four image fields and a volume that is no image. */
static const char pod_spec[] =
    "{\"containers\":[{\"name\":\"app\",\"image\":\"atcr.io/acme/app:1.0\"},"
    "{\"name\":\"sidecar\",\"image\":\"ghcr.io/acme/sidecar@" D_APP "\"}],"
    "\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox:1.36\"}],"
    "\"ephemeralContainers\":[{\"name\":\"debug\",\"image\":\"docker.io/library/alpine:3.20\"}],"
    "\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"cfg\"}},"
    "{\"name\":\"models\",\"image\":{\"reference\":\"atcr.io/acme/models:v2\","
    "\"pullPolicy\":\"IfNotPresent\"}}]}";

static void check_spec_images(const struct atv_kube_images *x, const char *pre)
{
    char p[5][160];
    (void)snprintf(p[0], sizeof p[0], "%s/containers/0/image", pre);
    (void)snprintf(p[1], sizeof p[1], "%s/containers/1/image", pre);
    (void)snprintf(p[2], sizeof p[2], "%s/initContainers/0/image", pre);
    (void)snprintf(p[3], sizeof p[3], "%s/ephemeralContainers/0/image", pre);
    (void)snprintf(p[4], sizeof p[4], "%s/volumes/1/image/reference", pre);
    CHECK_MSG(x->n == 5, "%s: n = %zu", pre, x->n);
    check_image(x, 0, "atcr.io/acme/app:1.0", p[0], "containers", "app", "");
    check_image(x, 1, "ghcr.io/acme/sidecar@" D_APP, p[1], "containers", "sidecar", "");
    check_image(x, 2, "busybox:1.36", p[2], "initContainers", "init", "");
    check_image(x, 3, "docker.io/library/alpine:3.20", p[3], "ephemeralContainers", "debug", "");
    check_image(x, 4, "atcr.io/acme/models:v2", p[4], "volumes", "models", "");
}

static void test_kinds(void)
{
    static const struct {
        const char *api, *kind;
        const char *open, *close; /* around the PodSpec */
        const char *pre;          /* pointer to the PodSpec */
    } cases[] = {
        {"v1", "Pod", "\"spec\":", "", "/spec"},
        {"v1", "PodTemplate", "\"template\":{\"metadata\":{},\"spec\":", "}", "/template/spec"},
        {"v1", "ReplicationController", "\"spec\":{\"replicas\":1,\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"apps/v1", "Deployment", "\"spec\":{\"template\":{\"spec\":", "}}", "/spec/template/spec"},
        {"apps/v1beta1", "Deployment", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"apps/v1beta2", "Deployment", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"extensions/v1beta1", "Deployment", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"apps/v1", "ReplicaSet", "\"spec\":{\"template\":{\"spec\":", "}}", "/spec/template/spec"},
        {"apps/v1beta2", "ReplicaSet", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"extensions/v1beta1", "ReplicaSet", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"apps/v1", "StatefulSet",
         "\"spec\":{\"serviceName\":\"db\",\"template\":{\"metadata\":{\"labels\":{}},\"spec\":",
         "}}", "/spec/template/spec"},
        {"apps/v1beta1", "StatefulSet", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"apps/v1", "DaemonSet", "\"spec\":{\"template\":{\"spec\":", "}}", "/spec/template/spec"},
        {"extensions/v1beta1", "DaemonSet", "\"spec\":{\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"batch/v1", "Job", "\"spec\":{\"backoffLimit\":6,\"template\":{\"spec\":", "}}",
         "/spec/template/spec"},
        {"batch/v1", "CronJob",
         "\"spec\":{\"schedule\":\"* * * * *\",\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":",
         "}}}}", "/spec/jobTemplate/spec/template/spec"},
        {"batch/v1beta1", "CronJob", "\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":",
         "}}}}", "/spec/jobTemplate/spec/template/spec"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[2048];
        struct atv_kube_images x;
        struct atv_err err;
        int n = snprintf(doc, sizeof doc,
                         "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":{\"name\":\"n%zu\","
                         "\"namespace\":\"ns\"},%s%s%s}",
                         cases[i].api, cases[i].kind, i, cases[i].open, pod_spec, cases[i].close);
        CHECK(n > 0 && (size_t)n < sizeof doc);
        enum atv_status rc = obj(doc, &x, &err);
        CHECK_MSG(rc == ATV_OK, "%s %s: %s", cases[i].api, cases[i].kind, err.msg);
        CHECK(x.known_kind == 1);
        CHECK_STR(x.kind, cases[i].kind);
        char want[16];
        (void)snprintf(want, sizeof want, "n%zu", i);
        CHECK_STR(x.name, want);
        CHECK_STR(x.ns, "ns");
        check_spec_images(&x, cases[i].pre);
        atv_kube_images_cleanup(&x);
        CHECK(all_zero(&x, sizeof x));
    }
}

/* ---- realistic documents ---------------------------------------------------- */

static void test_deployment_file(void)
{
    char *doc = slurp("deployment.json");
    struct atv_kube_images x;
    struct atv_err err;
    if (doc == NULL) {
        return;
    }
    CHECK_STATUS(obj(doc, &x, &err), ATV_OK, &err);
    CHECK(x.known_kind == 1);
    CHECK_STR(x.kind, "Deployment");
    CHECK_STR(x.name, "web");
    CHECK_STR(x.ns, "shop");
    CHECK(x.n == 4);
    check_image(&x, 0, "atcr.io/acme/web:1.4.2", "/spec/template/spec/containers/0/image",
                "containers", "web", "");
    check_image(&x, 1,
                "ghcr.io/acme/envoy@sha256:"
                "6c8b4535ccc87f19061c4646189e33d78f01c8b63dc4e3cb2f630b1796ee93b6",
                "/spec/template/spec/containers/1/image", "containers", "proxy", "");
    check_image(&x, 2, "busybox:1.36", "/spec/template/spec/initContainers/0/image",
                "initContainers", "wait-for-db", "");
    check_image(&x, 3, "atcr.io/acme/models:2025-10",
                "/spec/template/spec/volumes/1/image/reference", "volumes", "models", "");
    atv_kube_images_cleanup(&x);
    free(doc);
}

static void test_cronjob_file(void)
{
    char *doc = slurp("cronjob.json");
    struct atv_kube_images x;
    struct atv_err err;
    if (doc == NULL) {
        return;
    }
    CHECK_STATUS(obj(doc, &x, &err), ATV_OK, &err);
    CHECK_STR(x.kind, "CronJob");
    CHECK_STR(x.name, "nightly-report");
    CHECK_STR(x.ns, "batch-jobs");
    CHECK(x.n == 1);
    check_image(&x, 0, "atcr.io/acme/report:2.1",
                "/spec/jobTemplate/spec/template/spec/containers/0/image", "containers", "report",
                "");
    atv_kube_images_cleanup(&x);
    free(doc);
}

/* status.*Statuses[].imageID in every spelling the runtimes write. */
static void test_pod_status_file(void)
{
    char *doc = slurp("pod.json");
    struct atv_kube_images x;
    struct atv_err err;
    if (doc == NULL) {
        return;
    }
    CHECK_STATUS(obj(doc, &x, &err), ATV_OK, &err);
    CHECK_STR(x.name, "web-7d9f8c6b5d-x2x8q"); /* generateName is not the name */
    CHECK(x.n == 7);
    /* repo@sha256: (containerd) */
    check_image(&x, 0, "nginx:1.27", "/spec/containers/0/image", "containers", "web", D_NGINX);
    /* docker-pullable:// (dockershim, cri-dockerd) */
    check_image(&x, 1, "atcr.io/acme/app:1.0", "/spec/containers/1/image", "containers", "app",
                D_APP);
    /* docker://sha256: is a local image ID, not a registry digest */
    check_image(&x, 2, "atcr.io/acme/metrics:0.3", "/spec/containers/2/image", "containers",
                "metrics", "");
    /* not pulled yet: imageID "" */
    check_image(&x, 3, "atcr.io/acme/pending:0.1", "/spec/containers/3/image", "containers",
                "pending", "");
    /* upper-case hex is not an OCI sha256 digest */
    check_image(&x, 4, "busybox:1.36", "/spec/initContainers/0/image", "initContainers", "init",
                "");
    /* bare sha256: */
    check_image(&x, 5, "docker.io/library/busybox:1.36", "/spec/ephemeralContainers/0/image",
                "ephemeralContainers", "debugger-abc12", D_DEBUG);
    /* volumes never have a running digest */
    check_image(&x, 6, "atcr.io/acme/models:2025-10", "/spec/volumes/1/image/reference",
                "volumes", "models", "");
    atv_kube_images_cleanup(&x);
    free(doc);
}

/* The matching rules of running, one at a time. */
static void test_running(void)
{
    static const struct {
        const char *status; /* the Pod's status member */
        const char *want;   /* running of container "c" */
    } cases[] = {
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"r/x@" D_APP "\"}]}", D_APP},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"" D_APP "\"}]}", D_APP},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"docker-pullable://r/x@" D_APP
         "\"}]}",
         D_APP},
        /* the last '@' */
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"a@b@" D_APP "\"}]}", D_APP},
        /* the first entry of the name wins */
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"" D_APP "\"},"
         "{\"name\":\"c\",\"imageID\":\"" D_NGINX "\"}]}",
         D_APP},
        /* another name, another list */
        {"{\"containerStatuses\":[{\"name\":\"d\",\"imageID\":\"" D_APP "\"}]}", ""},
        {"{\"initContainerStatuses\":[{\"name\":\"c\",\"imageID\":\"" D_APP "\"}]}", ""},
        /* malformed digests */
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"r/x@sha256:abc\"}]}", ""},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"r/x@sha512:"
         "5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\"}]}",
         ""},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"r/x@" D_APP "0\"}]}", ""},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"r/x@" D_APP "@\"}]}", ""},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"r/x@sha256:"
         "5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b6g\"}]}",
         ""},
        {"{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\" " D_APP "\"}]}", ""},
        {"{\"containerStatuses\":[{\"name\":\"c\"}]}", ""},
        {"{\"containerStatuses\":[{\"imageID\":\"" D_APP "\"}]}", ""},
        {"{\"containerStatuses\":null}", ""},
        {"{\"containerStatuses\":[]}", ""},
        {"{}", ""},
        {"null", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[1024];
        struct atv_kube_images x;
        struct atv_err err;
        (void)snprintf(doc, sizeof doc,
                       "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":"
                       "[{\"name\":\"c\",\"image\":\"r/x:1\"}]},\"status\":%s}",
                       cases[i].status);
        enum atv_status rc = obj(doc, &x, &err);
        CHECK_MSG(rc == ATV_OK && x.n == 1 && strcmp(x.items[0].running, cases[i].want) == 0,
                  "running[%zu]: %s, \"%s\" (%s)", i, atv_status_name(rc),
                  x.n == 1 ? x.items[0].running : "-", err.msg);
        atv_kube_images_cleanup(&x);
    }
    /* A container without a name matches nothing, even an entry without one. */
    struct atv_kube_images x;
    struct atv_err err;
    CHECK_STATUS(obj("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":"
                     "[{\"image\":\"r/x:1\"}]},\"status\":{\"containerStatuses\":"
                     "[{\"name\":\"\",\"imageID\":\"" D_APP "\"},{\"imageID\":\"" D_APP "\"}]}}",
                     &x, &err),
                 ATV_OK, &err);
    CHECK(x.n == 1 && x.items[0].running[0] == '\0' && x.items[0].name[0] == '\0');
    atv_kube_images_cleanup(&x);
    /* status is read for Pods only */
    CHECK_STATUS(obj("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"template\":"
                     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"r/x:1\"}]}}},"
                     "\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"imageID\":\"" D_APP
                     "\"}]}}",
                     &x, &err),
                 ATV_OK, &err);
    CHECK(x.n == 1 && x.items[0].running[0] == '\0');
    atv_kube_images_cleanup(&x);
}

/* ---- kinds we do not read, versions we refuse --------------------------------- */

static void test_other_kinds(void)
{
    static const char *const ok_unknown[] = {
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\","
        "\"namespace\":\"shop\"},\"data\":{\"image\":\"x\"}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":"
        "{\"ports\":[{\"port\":80}],\"containers\":[{\"image\":\"x\"}]}}",
        /* a custom resource with a familiar name, in its own group */
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Deployment\",\"spec\":{\"template\":"
        "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}",
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
        /* no kind at all */
        "{\"apiVersion\":\"v1\",\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
        "{}",
        /* kinds are case-sensitive */
        "{\"apiVersion\":\"v1\",\"kind\":\"pod\",\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
    };
    for (size_t i = 0; i < sizeof ok_unknown / sizeof ok_unknown[0]; i++) {
        struct atv_kube_images x;
        struct atv_err err;
        enum atv_status rc = obj(ok_unknown[i], &x, &err);
        CHECK_MSG(rc == ATV_OK && x.known_kind == 0 && x.n == 0 && x.items == NULL,
                  "unknown[%zu]: %s known %d n %zu (%s)", i, atv_status_name(rc), x.known_kind,
                  x.n, err.msg);
        atv_kube_images_cleanup(&x);
    }
    struct atv_kube_images x;
    struct atv_err err;
    CHECK_STATUS(obj(ok_unknown[0], &x, &err), ATV_OK, &err);
    CHECK_STR(x.kind, "ConfigMap");
    CHECK_STR(x.name, "cfg");
    CHECK_STR(x.ns, "shop");
    atv_kube_images_cleanup(&x);

    static const struct {
        const char *doc;
        enum atv_status want;
    } bad[] = {
        {"{\"apiVersion\":\"apps/v2\",\"kind\":\"Deployment\"}", ATV_E_UNSUPPORTED},
        {"{\"apiVersion\":\"batch/v2alpha1\",\"kind\":\"CronJob\"}", ATV_E_UNSUPPORTED},
        {"{\"apiVersion\":\"apps/v1beta1\",\"kind\":\"DaemonSet\"}", ATV_E_UNSUPPORTED},
        {"{\"apiVersion\":\"v2\",\"kind\":\"Pod\"}", ATV_E_UNSUPPORTED},
        {"{\"apiVersion\":\"batch/v1beta1\",\"kind\":\"Job\"}", ATV_E_UNSUPPORTED},
        {"{\"kind\":\"Deployment\",\"spec\":{}}", ATV_E_PARSE},
        {"{\"kind\":\"Pod\"}", ATV_E_PARSE},
        {"{\"apiVersion\":\"\",\"kind\":\"Pod\"}", ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum atv_status rc = obj(bad[i].doc, &x, &err);
        CHECK_MSG(rc == bad[i].want && all_zero(&x, sizeof x), "kind bad[%zu]: %s (%s)", i,
                  atv_status_name(rc), err.msg);
        CHECK(strstr(err.msg, "/apiVersion") != NULL);
    }
}

/* ---- absent, null and empty --------------------------------------------------- */

static void test_absent(void)
{
    static const char *const none[] = {
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":null}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":null,"
        "\"initContainers\":[],\"volumes\":null}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"name\":\"v\"},"
        "{\"name\":\"w\",\"image\":null},{\"name\":\"x\",\"image\":{}},"
        "{\"name\":\"y\",\"image\":{\"pullPolicy\":\"Always\"}}]}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\",\"spec\":{\"replicas\":0}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\",\"spec\":{\"template\":null}}",
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"spec\":{\"jobTemplate\":{\"spec\":{}}}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"PodTemplate\",\"metadata\":null}",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        struct atv_kube_images x;
        struct atv_err err;
        enum atv_status rc = obj(none[i], &x, &err);
        CHECK_MSG(rc == ATV_OK && x.known_kind == 1 && x.n == 0 && x.items == NULL,
                  "none[%zu]: %s n %zu (%s)", i, atv_status_name(rc), x.n, err.msg);
        atv_kube_images_cleanup(&x);
    }
    /* "" is kept as written: the caller refuses it like any bad reference */
    struct atv_kube_images x;
    struct atv_err err;
    CHECK_STATUS(obj("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":"
                     "[{\"name\":\"c\",\"image\":\"\"},{\"image\":\" nginx \"}]}}",
                     &x, &err),
                 ATV_OK, &err);
    CHECK(x.n == 2);
    check_image(&x, 0, "", "/spec/containers/0/image", "containers", "c", "");
    check_image(&x, 1, " nginx ", "/spec/containers/1/image", "containers", "", "");
    atv_kube_images_cleanup(&x);
    /* Unicode is kept byte for byte (jansson decodes \u escapes) */
    CHECK_STATUS(obj("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":"
                     "[{\"name\":\"c\",\"image\":\"r\\u00e9g/x:1\"}]}}",
                     &x, &err),
                 ATV_OK, &err);
    CHECK(x.n == 1 && strcmp(x.items[0].ref, "r\xc3\xa9g/x:1") == 0);
    atv_kube_images_cleanup(&x);
    /* cleanup takes NULL and a zeroed struct, twice */
    atv_kube_images_cleanup(NULL);
    atv_kube_images_cleanup(&x);
    atv_kube_review_cleanup(NULL);
}

/* ---- hostile input ------------------------------------------------------------ */

static void test_malformed(void)
{
    static const struct {
        const char *doc;
        enum atv_status want;
        const char *where; /* in the message */
    } bad[] = {
        {"", ATV_E_PARSE, "invalid JSON"},
        {"not json", ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":\"Pod\"", ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":\"Pod\"} x", ATV_E_PARSE, "invalid JSON"},
        {"[]", ATV_E_PARSE, "want a JSON object"},
        {"[{\"kind\":\"Pod\"}]", ATV_E_PARSE, "want a JSON object"},
        {"\"Pod\"", ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":\"Pod\",\"kind\":\"Pod\"}", ATV_E_PARSE, "invalid JSON"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":\"a\","
         "\"image\":\"b\"}]}}",
         ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":\"Pod\",\"x\":\"\\u0000\"}", ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":\"P\xff\"}", ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":\"Pod\",\"x\":\"\\ud800\"}", ATV_E_PARSE, "invalid JSON"},
        {"{\"kind\":1}", ATV_E_PARSE, "/kind: want a string"},
        {"{\"kind\":[\"Pod\"]}", ATV_E_PARSE, "/kind: want a string"},
        {"{\"kind\":\"Pod\",\"apiVersion\":1}", ATV_E_PARSE, "/apiVersion: want a string"},
        {"{\"kind\":\"ConfigMap\",\"metadata\":[]}", ATV_E_PARSE, "/metadata: want an object"},
        {"{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":[]}}", ATV_E_PARSE,
         "/metadata/name: want a string"},
        {"{\"kind\":\"ConfigMap\",\"metadata\":{\"namespace\":7}}", ATV_E_PARSE,
         "/metadata/namespace: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":\"x\"}", ATV_E_PARSE,
         "/spec: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":[]}", ATV_E_PARSE,
         "/spec: want an object"},
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"template\":1}}",
         ATV_E_PARSE, "/spec/template: want an object"},
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"template\":"
         "{\"spec\":true}}}",
         ATV_E_PARSE, "/spec/template/spec: want an object"},
        {"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"spec\":{\"jobTemplate\":\"j\"}}",
         ATV_E_PARSE, "/spec/jobTemplate: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":{}}}", ATV_E_PARSE,
         "/spec/containers: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":\"nginx\"}}",
         ATV_E_PARSE, "/spec/containers: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"initContainers\":1}}", ATV_E_PARSE,
         "/spec/initContainers: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"ephemeralContainers\":{}}}",
         ATV_E_PARSE, "/spec/ephemeralContainers: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":{}}}", ATV_E_PARSE,
         "/spec/volumes: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[\"nginx\"]}}",
         ATV_E_PARSE, "/spec/containers/0: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":\"a\"},"
         "null]}}",
         ATV_E_PARSE, "/spec/containers/1: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":1}]}}",
         ATV_E_PARSE, "/spec/containers/0/image: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":null}]}}",
         ATV_E_PARSE, "/spec/containers/0/image: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":"
         "[\"nginx\"]}]}}",
         ATV_E_PARSE, "/spec/containers/0/image: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"initContainers\":[{\"image\":{}}]}}",
         ATV_E_PARSE, "/spec/initContainers/0/image: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":[],"
         "\"image\":\"x\"}]}}",
         ATV_E_PARSE, "/spec/containers/0/name: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":null,"
         "\"image\":\"x\"}]}}",
         ATV_E_PARSE, "/spec/containers/0/name: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[7]}}", ATV_E_PARSE,
         "/spec/volumes/0: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"image\":\"x\"}]}}",
         ATV_E_PARSE, "/spec/volumes/0/image: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"name\":\"v\","
         "\"image\":{\"reference\":5}}]}}",
         ATV_E_PARSE, "/spec/volumes/0/image/reference: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"name\":\"v\","
         "\"image\":{\"reference\":null}}]}}",
         ATV_E_PARSE, "/spec/volumes/0/image/reference: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"name\":1,"
         "\"image\":{\"reference\":\"x\"}}]}}",
         ATV_E_PARSE, "/spec/volumes/0/name: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":\"Running\"}", ATV_E_PARSE,
         "/status: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"containerStatuses\":\"x\"}}",
         ATV_E_PARSE, "/status/containerStatuses: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"initContainerStatuses\":{}}}",
         ATV_E_PARSE, "/status/initContainerStatuses: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"ephemeralContainerStatuses\":"
         "[1]}}",
         ATV_E_PARSE, "/status/ephemeralContainerStatuses/0: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"containerStatuses\":"
         "[{\"name\":1}]}}",
         ATV_E_PARSE, "/status/containerStatuses/0/name: want a string"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"containerStatuses\":"
         "[{\"name\":\"c\",\"imageID\":[]}]}}",
         ATV_E_PARSE, "/status/containerStatuses/0/imageID: want a string"},
        /* 2 KiB of nesting: jansson's depth bound (2048) */
        {NULL, ATV_E_PARSE, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct atv_kube_images x;
        struct atv_err err;
        char *deep = NULL;
        const char *doc = bad[i].doc;
        if (doc == NULL) {
            size_t depth = 4096;
            deep = malloc(2 * depth + 16);
            if (deep == NULL) {
                CHECK(deep != NULL);
                continue;
            }
            size_t o = 0;
            deep[o++] = '{';
            memcpy(deep + o, "\"a\":", 4);
            o += 4;
            for (size_t d = 0; d < depth; d++) {
                deep[o++] = '[';
            }
            for (size_t d = 0; d < depth; d++) {
                deep[o++] = ']';
            }
            deep[o++] = '}';
            deep[o] = '\0';
            doc = deep;
        }
        enum atv_status rc = obj(doc, &x, &err);
        CHECK_MSG(rc == bad[i].want && strstr(err.msg, bad[i].where) != NULL &&
                      all_zero(&x, sizeof x),
                  "bad[%zu]: %s \"%s\" (want %s \"%s\")", i, atv_status_name(rc), err.msg,
                  atv_status_name(bad[i].want), bad[i].where);
        free(deep);
    }
    /* Messages never quote the input: jansson's "near '...'" is cut. */
    struct atv_kube_images x;
    struct atv_err err;
    CHECK_STATUS(obj("{\"kind\": SECRETTOKEN}", &x, &err), ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "SECRET") == NULL);
    /* A failure after images were collected frees them and zeroes out */
    CHECK_STATUS(obj("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":"
                     "[{\"image\":\"a\"},{\"image\":\"b\"}],\"volumes\":[1]}}",
                     &x, &err),
                 ATV_E_PARSE, &err);
    CHECK(all_zero(&x, sizeof x));
    /* misuse */
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_object_images((struct atv_bytes){NULL, 3}, &x, &err), ATV_E_USAGE,
                 &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_object_images(B("{}"), NULL, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_object_images((struct atv_bytes){NULL, 0}, &x, &err), ATV_E_PARSE,
                 &err);
    /* Not NUL-terminated: the view's length is the document */
    static const char unterminated[2] = {'{', '}'};
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_object_images(
                     (struct atv_bytes){(const uint8_t *)unterminated, sizeof unterminated}, &x,
                     &err),
                 ATV_OK, &err);
    atv_kube_images_cleanup(&x);
}

/* ---- limits -------------------------------------------------------------------- */

/* A Pod with n containers, each image `len` bytes. (new: free) */
static char *pod_with(size_t n, size_t len, size_t volumes)
{
    size_t cap = 128 + (n + volumes) * (len + 96);
    char *s = malloc(cap);
    size_t o = 0;
    if (s == NULL) {
        return NULL;
    }
    o += (size_t)snprintf(s + o, cap - o, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{"
                                          "\"containers\":[");
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(s + o, cap - o, "%s{\"name\":\"c%zu\",\"image\":\"", i ? "," : "",
                              i);
        memset(s + o, 'a', len);
        o += len;
        o += (size_t)snprintf(s + o, cap - o, "\"}");
    }
    o += (size_t)snprintf(s + o, cap - o, "],\"volumes\":[");
    for (size_t i = 0; i < volumes; i++) {
        o += (size_t)snprintf(s + o, cap - o,
                              "%s{\"name\":\"v%zu\",\"image\":{\"reference\":\"r/v:%zu\"}}",
                              i ? "," : "", i, i);
    }
    (void)snprintf(s + o, cap - o, "]}}");
    return s;
}

static void test_limits(void)
{
    struct atv_kube_images x;
    struct atv_err err;
    char *doc;

    /* ATV_KUBE_MAX_IMAGES exactly, then one more (in containers, or in volumes) */
    doc = pod_with(ATV_KUBE_MAX_IMAGES, 8, 0);
    if (doc != NULL) {
        CHECK_STATUS(obj(doc, &x, &err), ATV_OK, &err);
        CHECK(x.n == ATV_KUBE_MAX_IMAGES);
        CHECK(x.n == ATV_KUBE_MAX_IMAGES &&
              strcmp(x.items[1023].pointer, "/spec/containers/1023/image") == 0 &&
              strcmp(x.items[1023].name, "c1023") == 0);
        atv_kube_images_cleanup(&x);
        free(doc);
    }
    doc = pod_with(ATV_KUBE_MAX_IMAGES + 1, 8, 0);
    if (doc != NULL) {
        CHECK_STATUS(obj(doc, &x, &err), ATV_E_LIMIT, &err);
        CHECK(strstr(err.msg, "/spec/containers/1024/image") != NULL);
        CHECK(all_zero(&x, sizeof x));
        free(doc);
    }
    doc = pod_with(1000, 8, 25);
    if (doc != NULL) {
        CHECK_STATUS(obj(doc, &x, &err), ATV_E_LIMIT, &err);
        CHECK(strstr(err.msg, "/spec/volumes/24/image/reference") != NULL);
        free(doc);
    }
    /* ATV_KUBE_MAX_REF bytes exactly, then one more */
    doc = pod_with(1, ATV_KUBE_MAX_REF, 0);
    if (doc != NULL) {
        CHECK_STATUS(obj(doc, &x, &err), ATV_OK, &err);
        CHECK(x.n == 1 && strlen(x.items[0].ref) == ATV_KUBE_MAX_REF);
        atv_kube_images_cleanup(&x);
        free(doc);
    }
    doc = pod_with(1, ATV_KUBE_MAX_REF + 1, 0);
    if (doc != NULL) {
        CHECK_STATUS(obj(doc, &x, &err), ATV_E_LIMIT, &err);
        CHECK(strstr(err.msg, "/spec/containers/0/image") != NULL);
        free(doc);
    }
    /* a name of 253 bytes (a DNS subdomain's most), then 254 */
    char big[800];
    char name[260];
    memset(name, 'n', 253);
    name[253] = '\0';
    (void)snprintf(big, sizeof big,
                   "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},"
                   "\"spec\":{\"containers\":[{\"name\":\"%s\",\"image\":\"x\"}]}}",
                   name, name);
    CHECK_STATUS(obj(big, &x, &err), ATV_OK, &err);
    CHECK(strlen(x.name) == 253 && x.n == 1 && strlen(x.items[0].name) == 253);
    atv_kube_images_cleanup(&x);
    name[253] = 'n';
    name[254] = '\0';
    (void)snprintf(big, sizeof big, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"}}",
                   name);
    CHECK_STATUS(obj(big, &x, &err), ATV_E_LIMIT, &err);
    CHECK(strstr(err.msg, "/metadata/name") != NULL);
    (void)snprintf(big, sizeof big,
                   "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"name\":"
                   "\"%s\",\"image\":{\"reference\":\"x\"}}]}}",
                   name);
    CHECK_STATUS(obj(big, &x, &err), ATV_E_LIMIT, &err);
    CHECK(strstr(err.msg, "/spec/volumes/0/name") != NULL);
    /* a namespace of 64 bytes, a kind of 64 bytes */
    (void)snprintf(big, sizeof big, "{\"kind\":\"ConfigMap\",\"metadata\":{\"namespace\":\"%.64s\"}}",
                   name);
    CHECK_STATUS(obj(big, &x, &err), ATV_E_LIMIT, &err);
    (void)snprintf(big, sizeof big, "{\"kind\":\"%.64s\"}", name);
    CHECK_STATUS(obj(big, &x, &err), ATV_E_LIMIT, &err);
    (void)snprintf(big, sizeof big, "{\"kind\":\"%.63s\"}", name);
    CHECK_STATUS(obj(big, &x, &err), ATV_OK, &err);
    atv_kube_images_cleanup(&x);

    /* a status list longer than ATV_KUBE_MAX_IMAGES */
    size_t cap = 128 + 3 * (ATV_KUBE_MAX_IMAGES + 1);
    doc = malloc(cap);
    if (doc != NULL) {
        size_t o = (size_t)snprintf(doc, cap, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
                                              "\"status\":{\"containerStatuses\":[");
        for (size_t i = 0; i <= ATV_KUBE_MAX_IMAGES; i++) {
            o += (size_t)snprintf(doc + o, cap - o, "%s{}", i ? "," : "");
        }
        (void)snprintf(doc + o, cap - o, "]}}");
        CHECK_STATUS(obj(doc, &x, &err), ATV_E_LIMIT, &err);
        CHECK(strstr(err.msg, "/status/containerStatuses") != NULL);
        free(doc);
    }

    /* ATV_KUBE_MAX_DOC bytes exactly (an object padded with spaces), then one
     * more, which is refused before parsing (so even its garbage is not read) */
    doc = malloc((size_t)ATV_KUBE_MAX_DOC + 1);
    if (doc != NULL) {
        static const char head[] = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{"
                                   "\"containers\":[{\"image\":\"x\"}]}";
        memset(doc, ' ', (size_t)ATV_KUBE_MAX_DOC + 1);
        memcpy(doc, head, sizeof head - 1);
        doc[ATV_KUBE_MAX_DOC - 1] = '}';
        struct atv_bytes v = {(const uint8_t *)doc, ATV_KUBE_MAX_DOC};
        atv_err_clear(&err);
        CHECK_STATUS(atv_kube_object_images(v, &x, &err), ATV_OK, &err);
        CHECK(x.n == 1);
        atv_kube_images_cleanup(&x);
        doc[ATV_KUBE_MAX_DOC] = '}';
        doc[ATV_KUBE_MAX_DOC - 1] = ' ';
        v.len = (size_t)ATV_KUBE_MAX_DOC + 1;
        atv_err_clear(&err);
        CHECK_STATUS(atv_kube_object_images(v, &x, &err), ATV_E_LIMIT, &err);
        CHECK(all_zero(&x, sizeof x));
        struct atv_kube_review r;
        atv_err_clear(&err);
        CHECK_STATUS(atv_kube_review_parse(v, &r, &err), ATV_E_LIMIT, &err);
        CHECK(all_zero(&r, sizeof r));
        free(doc);
    }
}

/* ---- AdmissionReview ----------------------------------------------------------- */

static void test_review_files(void)
{
    struct atv_kube_review r;
    struct atv_err err;
    char *doc;

    doc = slurp("review-create-pod.json");
    if (doc != NULL) {
        CHECK_STATUS(review(doc, &r, &err), ATV_OK, &err);
        CHECK_STR(r.api_version, "admission.k8s.io/v1");
        CHECK_STR(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        CHECK_STR(r.operation, "CREATE");
        CHECK_STR(r.group, "");
        CHECK_STR(r.version, "v1");
        CHECK_STR(r.kind, "Pod");
        CHECK_STR(r.resource, "pods");
        CHECK_STR(r.subresource, "");
        CHECK_STR(r.name, "signed-app");
        CHECK_STR(r.ns, "shop");
        CHECK(r.dry_run == 0);
        CHECK(r.images.known_kind == 1);
        CHECK_STR(r.images.kind, "Pod");
        CHECK_STR(r.images.name, "signed-app");
        CHECK(r.images.n == 2);
        check_image(&r.images, 0, "atcr.io/acme/app:1.0", "/spec/containers/0/image",
                    "containers", "signed-app", "");
        check_image(&r.images, 1, "atcr.io/acme/migrate:1.0", "/spec/initContainers/0/image",
                    "initContainers", "migrate", "");
        atv_kube_review_cleanup(&r);
        CHECK(all_zero(&r, sizeof r));
        free(doc);
    }

    /* kubectl debug: UPDATE of pods/ephemeralcontainers, the whole Pod */
    doc = slurp("review-ephemeral.json");
    if (doc != NULL) {
        CHECK_STATUS(review(doc, &r, &err), ATV_OK, &err);
        CHECK_STR(r.operation, "UPDATE");
        CHECK_STR(r.subresource, "ephemeralcontainers");
        CHECK(r.images.n == 2);
        check_image(&r.images, 0, "atcr.io/acme/app:1.0", "/spec/containers/0/image",
                    "containers", "signed-app", D_APP);
        check_image(&r.images, 1, "docker.io/library/busybox:1.36",
                    "/spec/ephemeralContainers/0/image", "ephemeralContainers", "debugger-7xk2q",
                    "");
        atv_kube_review_cleanup(&r);
        free(doc);
    }

    /* DELETE: object null, oldObject never read */
    doc = slurp("review-delete.json");
    if (doc != NULL) {
        CHECK_STATUS(review(doc, &r, &err), ATV_OK, &err);
        CHECK_STR(r.operation, "DELETE");
        CHECK_STR(r.group, "apps");
        CHECK_STR(r.kind, "Deployment");
        CHECK_STR(r.resource, "deployments");
        CHECK_STR(r.name, "web");
        CHECK(r.images.n == 0 && r.images.items == NULL && r.images.known_kind == 0);
        CHECK_STR(r.images.kind, "");
        atv_kube_review_cleanup(&r);
        free(doc);
    }

    doc = slurp("review-deployment-dryrun.json");
    if (doc != NULL) {
        CHECK_STATUS(review(doc, &r, &err), ATV_OK, &err);
        CHECK(r.dry_run == 1);
        CHECK_STR(r.operation, "UPDATE");
        CHECK(r.images.n == 2);
        check_image(&r.images, 0, "atcr.io/acme/web:1.5.0",
                    "/spec/template/spec/containers/0/image", "containers", "web", "");
        check_image(&r.images, 1, "atcr.io/acme/models:2025-11",
                    "/spec/template/spec/volumes/0/image/reference", "volumes", "models", "");
        atv_kube_review_cleanup(&r);
        free(doc);
    }
}

/* A review around request members (after "request":{). */
static void make_review(char *buf, size_t cap, const char *api, const char *req)
{
    (void)snprintf(buf, cap, "{\"apiVersion\":\"%s\",\"kind\":\"AdmissionReview\",\"request\":{%s}}",
                   api, req);
}

#define RQ_POD                                                                                     \
    "\"uid\":\"u-1\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"              \
    "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
#define POD_OBJ                                                                                    \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"c\","         \
    "\"image\":\"r/x:1\"}]}}"

static void test_review_cases(void)
{
    static const struct {
        const char *api; /* the review's apiVersion */
        const char *req; /* request members */
        size_t n;        /* images */
        int dry;
    } good[] = {
        /* object null or absent on CREATE: no images, OK */
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"object\":null", 0, 0},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\"", 0, 0},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"object\":" POD_OBJ, 1, 0},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"UPDATE\",\"object\":" POD_OBJ, 1, 0},
        /* the object need not repeat kind and apiVersion: request.kind's apply */
        {"admission.k8s.io/v1",
         RQ_POD "\"operation\":\"CREATE\",\"object\":{\"spec\":{\"containers\":"
                "[{\"image\":\"r/x:1\"}]}}",
         1, 0},
        /* DELETE and CONNECT: the object is not read, whatever it is */
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"DELETE\",\"object\":" POD_OBJ, 0, 0},
        {"admission.k8s.io/v1",
         RQ_POD "\"operation\":\"CONNECT\",\"subResource\":\"exec\",\"object\":{\"kind\":"
                "\"PodExecOptions\",\"apiVersion\":\"v1\",\"command\":[\"sh\"]}",
         0, 0},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"DELETE\",\"object\":5", 0, 0},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"dryRun\":true", 0, 1},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"dryRun\":null", 0, 0},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"dryRun\":false", 0, 0},
        /* a kind we do not read (deployments/scale) */
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"group\":\"autoscaling\",\"version\":\"v1\",\"kind\":\"Scale\"},"
         "\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":\"deployments\"},"
         "\"subResource\":\"scale\",\"operation\":\"UPDATE\",\"object\":{\"kind\":\"Scale\","
         "\"apiVersion\":\"autoscaling/v1\",\"spec\":{\"replicas\":3}}",
         0, 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char doc[2048];
        struct atv_kube_review r;
        struct atv_err err;
        make_review(doc, sizeof doc, good[i].api, good[i].req);
        enum atv_status rc = review(doc, &r, &err);
        CHECK_MSG(rc == ATV_OK && r.images.n == good[i].n && r.dry_run == good[i].dry,
                  "review good[%zu]: %s n %zu dry %d (%s)", i, atv_status_name(rc), r.images.n,
                  r.dry_run, err.msg);
        atv_kube_review_cleanup(&r);
    }

    static const struct {
        const char *api;
        const char *req;
        enum atv_status want;
        const char *where;
    } bad[] = {
        {"admission.k8s.io/v1beta1", RQ_POD "\"operation\":\"CREATE\"", ATV_E_UNSUPPORTED,
         "/apiVersion"},
        {"admission.k8s.io/v2", RQ_POD "\"operation\":\"CREATE\"", ATV_E_UNSUPPORTED,
         "/apiVersion"},
        {"v1", RQ_POD "\"operation\":\"CREATE\"", ATV_E_UNSUPPORTED, "/apiVersion"},
        /* uid */
        {"admission.k8s.io/v1",
         "\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":{\"resource\":\"pods\"},"
         "\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/uid: missing"},
        {"admission.k8s.io/v1",
         "\"uid\":\"\",\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":"
         "{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/uid"},
        {"admission.k8s.io/v1",
         "\"uid\":\"a b\",\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":"
         "{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/uid"},
        {"admission.k8s.io/v1",
         "\"uid\":\"a\\nb\",\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":"
         "{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/uid"},
        {"admission.k8s.io/v1",
         "\"uid\":7,\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":"
         "{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/uid: want a string"},
        /* operation */
        {"admission.k8s.io/v1", RQ_POD "\"object\":null", ATV_E_PARSE, "/request/operation"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"create\"", ATV_E_UNSUPPORTED,
         "/request/operation"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"PATCH\"", ATV_E_UNSUPPORTED,
         "/request/operation"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATEEEEEEEEEEEEEEEEEEEEEE\"",
         ATV_E_UNSUPPORTED, "/request/operation"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":[\"CREATE\"]", ATV_E_PARSE,
         "/request/operation: want a string"},
        /* kind and resource */
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"resource\":{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/kind: missing"},
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":\"Pod\",\"resource\":{\"resource\":\"pods\"},"
         "\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/kind: want an object"},
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"group\":\"\",\"kind\":\"Pod\"},\"resource\":"
         "{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/kind/version: missing"},
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"group\":1,\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":"
         "{\"resource\":\"pods\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/kind/group: want a string"},
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/resource: missing"},
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},\"resource\":{},"
         "\"operation\":\"CREATE\"",
         ATV_E_PARSE, "/request/resource/resource: missing"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"subResource\":[]",
         ATV_E_PARSE, "/request/subResource: want a string"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"name\":{}", ATV_E_PARSE,
         "/request/name: want a string"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"namespace\":1", ATV_E_PARSE,
         "/request/namespace: want a string"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"dryRun\":\"true\"",
         ATV_E_PARSE, "/request/dryRun: want a boolean"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"dryRun\":1", ATV_E_PARSE,
         "/request/dryRun: want a boolean"},
        /* object */
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"CREATE\",\"object\":\"pod\"",
         ATV_E_PARSE, "/request/object: want an object"},
        {"admission.k8s.io/v1", RQ_POD "\"operation\":\"UPDATE\",\"object\":[]", ATV_E_PARSE,
         "/request/object: want an object"},
        {"admission.k8s.io/v1",
         RQ_POD "\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
                "\"spec\":{\"containers\":[{\"image\":5}]}}",
         ATV_E_PARSE, "/request/object/spec/containers/0/image: want a string"},
        {"admission.k8s.io/v1",
         RQ_POD "\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
                "\"spec\":{\"containers\":\"x\"}}",
         ATV_E_PARSE, "/request/object/spec/containers: want an array"},
        /* the object's kind must be request.kind's */
        {"admission.k8s.io/v1",
         RQ_POD "\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"v1\",\"kind\":"
                "\"ConfigMap\",\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
         ATV_E_PARSE, "/request/object/kind"},
        {"admission.k8s.io/v1",
         RQ_POD "\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"example.com/v1\","
                "\"kind\":\"Pod\"}",
         ATV_E_PARSE, "/request/object/apiVersion"},
        /* pods/ephemeralcontainers before Kubernetes 1.22 */
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
         "\"EphemeralContainers\"},\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":"
         "\"pods\"},\"subResource\":\"ephemeralcontainers\",\"operation\":\"UPDATE\","
         "\"object\":{\"kind\":\"EphemeralContainers\",\"apiVersion\":\"v1\","
         "\"ephemeralContainers\":[{\"name\":\"d\",\"image\":\"busybox\"}]}",
         ATV_E_UNSUPPORTED, "ephemeralcontainers"},
        /* a known kind at a version we do not read */
        {"admission.k8s.io/v1",
         "\"uid\":\"u\",\"kind\":{\"group\":\"apps\",\"version\":\"v2\",\"kind\":\"Deployment\"},"
         "\"resource\":{\"resource\":\"deployments\"},\"operation\":\"CREATE\",\"object\":{}",
         ATV_E_UNSUPPORTED, "/request/object/apiVersion"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[2048];
        struct atv_kube_review r;
        struct atv_err err;
        make_review(doc, sizeof doc, bad[i].api, bad[i].req);
        enum atv_status rc = review(doc, &r, &err);
        CHECK_MSG(rc == bad[i].want && strstr(err.msg, bad[i].where) != NULL &&
                      all_zero(&r, sizeof r),
                  "review bad[%zu]: %s \"%s\" (want %s \"%s\")", i, atv_status_name(rc), err.msg,
                  atv_status_name(bad[i].want), bad[i].where);
    }

    /* the envelope */
    static const struct {
        const char *doc;
        enum atv_status want;
    } env[] = {
        {"{\"kind\":\"AdmissionReview\",\"request\":{" RQ_POD "\"operation\":\"CREATE\"}}",
         ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{" RQ_POD
         "\"operation\":\"CREATE\"}}",
         ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReviewList\",\"request\":{"
         RQ_POD "\"operation\":\"CREATE\"}}",
         ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":null}",
         ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":[]}",
         ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":\"x\"}",
         ATV_E_PARSE},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
         RQ_POD "\"operation\":\"CREATE\"},\"request\":{}}",
         ATV_E_PARSE},
        {"{\"apiVersion\":1,\"kind\":\"AdmissionReview\"}", ATV_E_PARSE},
        {"[]", ATV_E_PARSE},
        {"", ATV_E_PARSE},
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        struct atv_kube_review r;
        struct atv_err err;
        enum atv_status rc = review(env[i].doc, &r, &err);
        CHECK_MSG(rc == env[i].want && all_zero(&r, sizeof r), "envelope[%zu]: %s (%s)", i,
                  atv_status_name(rc), err.msg);
    }
    struct atv_kube_review r;
    struct atv_err err;
    CHECK_STATUS(review("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
                        &r, &err),
                 ATV_E_PARSE, &err);
    CHECK(strstr(err.msg, "/request: missing") != NULL);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_review_parse(B("{}"), NULL, &err), ATV_E_USAGE, &err);

    /* A failure after the object's images were read leaves nothing behind */
    char doc[2048];
    make_review(doc, sizeof doc, "admission.k8s.io/v1",
                RQ_POD "\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"v1\",\"kind\":"
                       "\"Pod\",\"spec\":{\"containers\":[{\"image\":\"a\"}]},\"status\":7}");
    CHECK_STATUS(review(doc, &r, &err), ATV_E_PARSE, &err);
    CHECK(all_zero(&r, sizeof r));
    CHECK(strstr(err.msg, "/request/object/status") != NULL);
}

/* ---- documents of several objects ----------------------------------------------- */

struct seen {
    size_t calls;
    size_t stop_at; /* return ATV_E_VERIFY on this call (1-based); 0: never */
    int set_err;
    char kinds[8][64];
    size_t n[8];
    int known[8];
    char first_ptr[8][ATV_KUBE_MAX_POINTER + 1];
    char first_running[8][72];
    char names[8][254];
};

static enum atv_status each(void *ctx, const struct atv_kube_images *o, struct atv_err *err)
{
    struct seen *s = ctx;
    size_t i = s->calls++;
    if (i < 8) {
        (void)snprintf(s->kinds[i], sizeof s->kinds[i], "%s", o->kind);
        (void)snprintf(s->names[i], sizeof s->names[i], "%s", o->name);
        s->n[i] = o->n;
        s->known[i] = o->known_kind;
        (void)snprintf(s->first_ptr[i], sizeof s->first_ptr[i], "%s",
                       o->n > 0 ? o->items[0].pointer : "");
        (void)snprintf(s->first_running[i], sizeof s->first_running[i], "%s",
                       o->n > 0 ? o->items[0].running : "");
    }
    if (s->stop_at != 0 && s->calls == s->stop_at) {
        if (s->set_err) {
            return atv_err_set(err, ATV_E_VERIFY, "callback says no");
        }
        return ATV_E_VERIFY;
    }
    return ATV_OK;
}

static enum atv_status doc_each(const char *doc, struct seen *s, struct atv_err *err)
{
    atv_err_clear(err);
    return atv_kube_doc_each(B(doc), each, s, err);
}

static void test_lists(void)
{
    struct seen s;
    struct atv_err err;
    char *doc;

    doc = slurp("list-mixed.json");
    if (doc != NULL) {
        memset(&s, 0, sizeof s);
        CHECK_STATUS(doc_each(doc, &s, &err), ATV_OK, &err);
        CHECK(s.calls == 5);
        CHECK_STR(s.kinds[0], "Pod");
        CHECK(s.known[0] == 1 && s.n[0] == 1);
        CHECK_STR(s.first_ptr[0], "/spec/containers/0/image");
        CHECK_STR(s.first_running[0], D_NGINX);
        CHECK_STR(s.kinds[1], "Service");
        CHECK(s.known[1] == 0 && s.n[1] == 0);
        CHECK_STR(s.kinds[2], "Deployment");
        CHECK(s.known[2] == 1 && s.n[2] == 1);
        CHECK_STR(s.first_ptr[2], "/spec/template/spec/containers/0/image");
        CHECK_STR(s.kinds[3], "ReplicaSet");
        CHECK(s.n[3] == 2);
        CHECK_STR(s.kinds[4], "ConfigMap");
        CHECK(s.known[4] == 0 && s.n[4] == 0);
        /* the callback stops the walk, with its own message or a generic one */
        memset(&s, 0, sizeof s);
        s.stop_at = 2;
        s.set_err = 1;
        CHECK_STATUS(doc_each(doc, &s, &err), ATV_E_VERIFY, &err);
        CHECK(s.calls == 2);
        CHECK_STR(err.msg, "callback says no");
        memset(&s, 0, sizeof s);
        s.stop_at = 3;
        CHECK_STATUS(doc_each(doc, &s, &err), ATV_E_VERIFY, &err);
        CHECK(s.calls == 3);
        CHECK(strstr(err.msg, "/items/2") != NULL);
        free(doc);
    }

    /* the API server's PodList: items without kind and apiVersion */
    doc = slurp("podlist.json");
    if (doc != NULL) {
        memset(&s, 0, sizeof s);
        CHECK_STATUS(doc_each(doc, &s, &err), ATV_OK, &err);
        CHECK(s.calls == 2);
        CHECK_STR(s.kinds[0], "Pod");
        CHECK(s.known[0] == 1 && s.n[0] == 1);
        CHECK_STR(s.names[0], "web-7d9f8c6b5d-x2x8q");
        CHECK_STR(s.first_running[0], D_NGINX);
        CHECK_STR(s.kinds[1], "Pod");
        CHECK_STR(s.names[1], "coredns-5d78c9869d-8kq2w");
        CHECK(s.known[1] == 1 && s.n[1] == 1);
        free(doc);
    }

    /* one object is a document of one */
    doc = slurp("deployment.json");
    if (doc != NULL) {
        memset(&s, 0, sizeof s);
        CHECK_STATUS(doc_each(doc, &s, &err), ATV_OK, &err);
        CHECK(s.calls == 1 && s.n[0] == 4);
        CHECK_STR(s.kinds[0], "Deployment");
        memset(&s, 0, sizeof s);
        s.stop_at = 1;
        CHECK_STATUS(doc_each(doc, &s, &err), ATV_E_VERIFY, &err);
        CHECK(err.msg[0] != '\0');
        free(doc);
    }

    static const struct {
        const char *doc;
        enum atv_status want;
        size_t calls;
        const char *where; /* in the message; "" for OK */
    } cases[] = {
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[]}", ATV_OK, 0, ""},
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\"}", ATV_OK, 0, ""},
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":null}", ATV_OK, 0, ""},
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":{}}", ATV_E_PARSE, 0,
         "/items: want an array"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{},7]}", ATV_E_PARSE, 1,
         "/items/1: want an object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{},null]}", ATV_E_PARSE, 1,
         "/items/1: want an object"},
        /* an error inside an item names it from the document's root */
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\","
         "\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":\"a\"}]}},{\"apiVersion\":\"v1\","
         "\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"image\":[]}]}}]}",
         ATV_E_PARSE, 1, "/items/1/spec/containers/0/image: want a string"},
        /* a plain List gives its items no kind: an item without one is unknown */
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"spec\":{\"containers\":"
         "[{\"image\":\"a\"}]}}]}",
         ATV_OK, 1, ""},
        /* a typed list's apiVersion is its items' */
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"DeploymentList\",\"items\":[{\"spec\":"
         "{\"template\":{\"spec\":{\"containers\":[{\"image\":\"a\"}]}}}}]}",
         ATV_OK, 1, ""},
        /* an item's own kind wins over the list's */
        {"{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"items\":[{\"apiVersion\":\"v1\","
         "\"kind\":\"ConfigMap\"}]}",
         ATV_OK, 1, ""},
        /* nested lists are objects of an unknown kind */
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\","
         "\"kind\":\"PodList\",\"items\":[{\"spec\":{\"containers\":[{\"image\":\"a\"}]}}]}]}",
         ATV_OK, 1, ""},
        {"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"apps/v3\","
         "\"kind\":\"Deployment\"}]}",
         ATV_E_UNSUPPORTED, 0, "/items/0/apiVersion"},
        {"{\"kind\":7,\"items\":[]}", ATV_E_PARSE, 0, "/kind: want a string"},
        {"{\"kind\":\"PodList\",\"apiVersion\":[],\"items\":[]}", ATV_E_PARSE, 0,
         "/apiVersion: want a string"},
        {"[{\"kind\":\"Pod\"}]", ATV_E_PARSE, 0, "want a JSON object"},
        {"{\"kind\":\"List\",\"kind\":\"List\"}", ATV_E_PARSE, 0, "invalid JSON"},
        /* "List" alone and "Lis" */
        {"{\"kind\":\"Lis\",\"items\":7}", ATV_OK, 1, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&s, 0, sizeof s);
        enum atv_status rc = doc_each(cases[i].doc, &s, &err);
        CHECK_MSG(rc == cases[i].want && s.calls == cases[i].calls &&
                      strstr(err.msg, cases[i].where) != NULL,
                  "list[%zu]: %s, %zu calls, \"%s\"", i, atv_status_name(rc), s.calls, err.msg);
    }
    memset(&s, 0, sizeof s);
    (void)doc_each(cases[7].doc, &s, &err);
    CHECK(s.known[0] == 0 && s.kinds[0][0] == '\0');
    memset(&s, 0, sizeof s);
    (void)doc_each(cases[8].doc, &s, &err);
    CHECK(s.known[0] == 1 && s.n[0] == 1);
    CHECK_STR(s.kinds[0], "Deployment");
    memset(&s, 0, sizeof s);
    (void)doc_each(cases[9].doc, &s, &err);
    CHECK(s.known[0] == 0);
    CHECK_STR(s.kinds[0], "ConfigMap");
    memset(&s, 0, sizeof s);
    (void)doc_each(cases[10].doc, &s, &err);
    CHECK(s.known[0] == 0 && s.n[0] == 0);
    CHECK_STR(s.kinds[0], "PodList");

    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_doc_each(B("{}"), NULL, NULL, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_doc_each((struct atv_bytes){NULL, 1}, each, &s, &err), ATV_E_USAGE,
                 &err);
}

/* ---- RFC 6901 pointers ---------------------------------------------------------- */

static void test_pointer(void)
{
    char p[16];
    struct atv_err err;

    /* RFC 6901 section 5's keys, escaped */
    static const struct {
        const char *token, *want;
    } esc[] = {
        {"foo", "/foo"}, {"", "/"},       {"a/b", "/a~1b"}, {"m~n", "/m~0n"},
        {"~1", "/~01"},  {"/~", "/~1~0"}, {" ", "/ "},      {"c%d", "/c%d"},
    };
    for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++) {
        p[0] = '\0';
        atv_err_clear(&err);
        CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, esc[i].token, &err), ATV_OK, &err);
        CHECK_STR(p, esc[i].want);
        CHECK(atv_kube_pointer_valid(p));
    }
    /* appending to what is there */
    (void)snprintf(p, sizeof p, "/spec");
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, "a/b", &err), ATV_OK, &err);
    CHECK_STR(p, "/spec/a~1b");
    /* exactly full (15 bytes and the NUL), then one byte over: unchanged */
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, "~x", &err), ATV_OK, &err);
    CHECK_STR(p, "/spec/a~1b/~0x");
    (void)snprintf(p, sizeof p, "/spec/a~1b");
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, "~xy", &err), ATV_OK, &err);
    CHECK(strlen(p) == 15);
    (void)snprintf(p, sizeof p, "/spec/a~1b");
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, "~xyz", &err), ATV_E_LIMIT, &err);
    CHECK_STR(p, "/spec/a~1b");
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, "/~/~", &err), ATV_E_LIMIT, &err);
    CHECK_STR(p, "/spec/a~1b");
    /* misuse */
    char unterminated[4] = {'/', 'a', 'b', 'c'};
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(unterminated, sizeof unterminated, "x", &err),
                 ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(NULL, 8, "x", &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, sizeof p, NULL, &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_pointer_append(p, 0, "x", &err), ATV_E_USAGE, &err);

    static const char *const valid[] = {
        "", "/", "//", "/a~0b", "/a~1b", "/spec/containers/0/image", "/~01", "/caf\xc3\xa9",
        "/\xf0\x9f\x90\xb3",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        CHECK_MSG(atv_kube_pointer_valid(valid[i]) == 1, "valid[%zu]", i);
    }
    static const char *const invalid[] = {
        "a", "spec/containers", "/a~", "/a~2", "/~~", "/a~/b", "/\xff", "/\xc0\xaf",
        "/\xed\xa0\x80", "/\xf4\x90\x80\x80", "/\xe2\x82", "#/a",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        CHECK_MSG(atv_kube_pointer_valid(invalid[i]) == 0, "invalid[%zu]", i);
    }
    CHECK(atv_kube_pointer_valid(NULL) == 0);
}

/* ---- RFC 6902 replace ------------------------------------------------------------ */

static void test_patch(void)
{
    struct atv_buf b;
    struct atv_err err;
    json_error_t jerr;

    atv_buf_init(&b, 4096);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&b, "/spec/containers/0/image",
                                        "atcr.io/acme/app:1.0@" D_APP, &err),
                 ATV_OK, &err);
    CHECK(b.len > 0 && memcmp(b.ptr,
                              "[{\"op\":\"replace\",\"path\":\"/spec/containers/0/image\","
                              "\"value\":\"atcr.io/acme/app:1.0@" D_APP "\"}]",
                              b.len) == 0);
    size_t one = b.len;
    /* a second op; strings that need JSON escaping; a key escaped per RFC 6901 */
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&b, "/metadata/annotations/atcr.io~1verified",
                                        "q\"b\\s/\n\x01 caf\xc3\xa9", &err),
                 ATV_OK, &err);
    json_t *arr = json_loadb((const char *)b.ptr, b.len, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(arr != NULL && json_is_array(arr) && json_array_size(arr) == 2);
    if (arr != NULL && json_array_size(arr) == 2) {
        const json_t *op = json_array_get(arr, 1);
        CHECK_STR(json_string_value(json_object_get(op, "op")), "replace");
        CHECK_STR(json_string_value(json_object_get(op, "path")),
                  "/metadata/annotations/atcr.io~1verified");
        /* not CHECK_STR: a newline in a TAP line would break it */
        CHECK(strcmp(json_string_value(json_object_get(op, "value")),
                     "q\"b\\s/\n\x01 caf\xc3\xa9") == 0);
        CHECK(json_object_size(op) == 3);
    }
    json_decref(arr);

    /* refusals leave the patch as it was */
    size_t two = b.len;
    uint8_t *saved = malloc(two);
    if (saved != NULL) {
        memcpy(saved, b.ptr, two);
    }
    static const struct {
        const char *ptr, *val;
    } bad[] = {
        {"", "x"},         {"spec", "x"},  {"/a~2", "x"},  {"/a", "\xff"},
        {"/a", "\xc3"},    {"/\xff", "x"}, {"/a~", "x"},   {"/a", "\xed\xb0\x80"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atv_err_clear(&err);
        enum atv_status rc = atv_kube_patch_replace(&b, bad[i].ptr, bad[i].val, &err);
        CHECK_MSG(rc == ATV_E_USAGE && b.len == two &&
                      (saved == NULL || memcmp(b.ptr, saved, two) == 0),
                  "patch bad[%zu]: %s", i, atv_status_name(rc));
    }
    char longp[ATV_KUBE_MAX_POINTER + 2];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&b, longp, "x", &err), ATV_E_USAGE, &err);
    CHECK(b.len == two);
    struct atv_buf c;
    atv_buf_init(&c, 4096);
    longp[sizeof longp - 2] = '\0'; /* ATV_KUBE_MAX_POINTER bytes: fine */
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&c, longp, "x", &err), ATV_OK, &err);
    atv_buf_cleanup(&c);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(NULL, "/a", "x", &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&b, NULL, "x", &err), ATV_E_USAGE, &err);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&b, "/a", NULL, &err), ATV_E_USAGE, &err);
    CHECK(b.len == two);

    /* the cap: exactly full, then one byte over, unchanged */
    atv_buf_init(&c, one);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&c, "/spec/containers/0/image",
                                        "atcr.io/acme/app:1.0@" D_APP, &err),
                 ATV_OK, &err);
    CHECK(c.len == one);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&c, "/a", "b", &err), ATV_E_LIMIT, &err);
    CHECK(c.len == one && c.ptr[one - 1] == ']');
    atv_buf_cleanup(&c);
    atv_buf_init(&c, one - 1);
    atv_err_clear(&err);
    CHECK_STATUS(atv_kube_patch_replace(&c, "/spec/containers/0/image",
                                        "atcr.io/acme/app:1.0@" D_APP, &err),
                 ATV_E_LIMIT, &err);
    CHECK(c.len == 0);
    atv_buf_cleanup(&c);

    /* a buffer holding something else */
    atv_buf_init(&c, 256);
    atv_err_clear(&err);
    CHECK_STATUS(atv_buf_append(&c, "{}", 2, &err), ATV_OK, &err);
    CHECK_STATUS(atv_kube_patch_replace(&c, "/a", "b", &err), ATV_E_USAGE, &err);
    CHECK(c.len == 2);
    atv_buf_cleanup(&c);

    /* the pointers kube hands out are patch paths */
    struct atv_kube_images x;
    char *doc = slurp("deployment.json");
    if (doc != NULL) {
        CHECK_STATUS(obj(doc, &x, &err), ATV_OK, &err);
        atv_buf_cleanup(&b);
        atv_buf_init(&b, 1u << 16);
        for (size_t i = 0; i < x.n; i++) {
            atv_err_clear(&err);
            CHECK_STATUS(atv_kube_patch_replace(&b, x.items[i].pointer, x.items[i].ref, &err),
                         ATV_OK, &err);
        }
        arr = json_loadb((const char *)b.ptr, b.len, JSON_REJECT_DUPLICATES, &jerr);
        CHECK(arr != NULL && json_array_size(arr) == x.n);
        json_decref(arr);
        atv_kube_images_cleanup(&x);
        free(doc);
    }
    free(saved);
    atv_buf_cleanup(&b);
}

int main(void)
{
    test_kinds();
    test_deployment_file();
    test_cronjob_file();
    test_pod_status_file();
    test_running();
    test_other_kinds();
    test_absent();
    test_malformed();
    test_limits();
    test_review_files();
    test_review_cases();
    test_lists();
    test_pointer();
    test_patch();
    return atv_test_done();
}
