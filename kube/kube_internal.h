/* kube/kube_internal.h: what the kube/ sources share; never included from another
 * directory. jansson types appear here and only here, inside the module. */
#ifndef ATV_KUBE_KUBE_INTERNAL_H
#define ATV_KUBE_KUBE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "kube/kube.h"

/* Room for a message's pointer: a prefix in the document ("/request/object",
 * "/items/12345") and a pointer inside the object. */
#define ATV_KUBE_WHERE (ATV_KUBE_MAX_POINTER + 64u)

/* Checks json against ATV_KUBE_MAX_DOC, parses it strictly and checks that it
 * is an object. what names the document in messages ("admission review").
 * Returns ATV_OK with *root new (json_decref), else *root NULL. */
enum atv_status atv_kube_load(struct atv_bytes json, const char *what, json_t **root,
                              struct atv_err *err);

/* Copies the string member key of obj into dst (cap bytes, NUL included);
 * dst "" when absent (ATV_E_PARSE when required) or null (only when
 * null_ok; else ATV_E_PARSE). Not a string: ATV_E_PARSE; too long:
 * ATV_E_LIMIT. Messages name "<at>/<key>" (at: obj's pointer in the
 * document; key must need no escaping). *present (may be NULL) is set to 1
 * when a string was there. */
enum atv_status atv_kube_str(const json_t *obj, const char *key, int required, char *dst,
                             size_t cap, const char *at, int *present, struct atv_err *err);

/* s for a message when it is short and printable ASCII, else with every other
 * byte as '?' and cut at 64 bytes, in buf (cap >= 2). */
const char *atv_kube_printable(const char *s, char *buf, size_t cap);

/* The images of the object obj (atv_kube_object_images' rules), out zeroed
 * first and left owning whatever it holds on failure (the caller cleans up).
 * at: obj's pointer in the document, for messages ("" for the root).
 * dflt_api, dflt_kind: used when obj has no apiVersion / kind (NULL: none). */
enum atv_status atv_kube_read_object(const json_t *obj, const char *at, const char *dflt_api,
                                     const char *dflt_kind, struct atv_kube_images *out,
                                     struct atv_err *err);

#endif
