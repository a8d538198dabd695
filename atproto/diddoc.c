/* atproto/diddoc.c: the parts of a DID document atproto uses.
 *
 * atproto DID spec, "DID Documents": the signing key is the verification
 * method with id fragment "#atproto" (written relative, "#atproto", or
 * absolute, "<did>#atproto"); the PDS is the service "#atproto_pds" of type
 * AtprotoPersonalDataServer; the handle is the first alsoKnownAs "at://"
 * URI. We also require controller == DID for the key (indigo
 * atproto/identity/identity.go does), and accept the legacy key types that
 * PLC servers still emit (reference/realstack.md). The first #atproto method
 * decides: a broken one is an error, never skipped for a later one. */
#include "atproto/atproto.h"

#include <jansson.h>
#include <string.h>

static int frag_is(const char *id, const char *did, const char *frag)
{
    size_t dl = strlen(did);
    if (id[0] == '#') {
        return strcmp(id + 1, frag) == 0;
    }
    return strncmp(id, did, dl) == 0 && id[dl] == '#' && strcmp(id + dl + 1, frag) == 0;
}

static enum atv_status parse_key(json_t *vm, const char *did, struct atv_pubkey *key,
                                 struct atv_err *err)
{
    const char *type = json_string_value(json_object_get(vm, "type"));
    const char *ctrl = json_string_value(json_object_get(vm, "controller"));
    const char *mb = json_string_value(json_object_get(vm, "publicKeyMultibase"));

    if (ctrl == NULL || strcmp(ctrl, did) != 0) {
        return atv_err_setr(err, ATV_E_VERIFY, "bad_did_doc",
                            "did document: #atproto key's controller is not the DID");
    }
    if (type == NULL || mb == NULL) {
        return atv_err_setr(err, ATV_E_VERIFY, "bad_did_doc",
                            "did document: #atproto key lacks type or publicKeyMultibase");
    }
    if (strlen(mb) > ATV_MAX_MULTIBASE) {
        return atv_err_setr(err, ATV_E_VERIFY, "bad_did_doc",
                            "did document: publicKeyMultibase of %zu characters, at most %u",
                            strlen(mb), ATV_MAX_MULTIBASE);
    }
    if (strcmp(type, "Multikey") == 0) {
        return atv_atp_key_parse_multikey(mb, key, err);
    }
    if (strcmp(type, "EcdsaSecp256k1VerificationKey2019") == 0) {
        return atv_atp_key_parse_legacy(ATV_KEY_K256, mb, key, err);
    }
    if (strcmp(type, "EcdsaSecp256r1VerificationKey2019") == 0) {
        return atv_atp_key_parse_legacy(ATV_KEY_P256, mb, key, err);
    }
    return atv_err_setr(err, ATV_E_UNSUPPORTED, "unsupported_key",
                        "did document: #atproto key type is not Multikey or a known legacy type");
}

static enum atv_status find_key(json_t *doc, const char *did, struct atv_pubkey *key,
                                struct atv_err *err)
{
    json_t *vms = json_object_get(doc, "verificationMethod");
    size_t n = json_is_array(vms) ? json_array_size(vms) : 0;

    if (vms != NULL && !json_is_array(vms)) {
        return atv_err_setr(err, ATV_E_PARSE, "bad_did_doc",
                            "did document: verificationMethod is not an array");
    }
    if (n > ATV_MAX_DIDDOC_ENTRIES) {
        return atv_err_set(err, ATV_E_LIMIT, "did document: %zu verification methods, cap %u", n,
                           ATV_MAX_DIDDOC_ENTRIES);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *vm = json_array_get(vms, i);
        const char *id = json_string_value(json_object_get(vm, "id"));
        if (id != NULL && frag_is(id, did, "atproto")) {
            enum atv_status rc = parse_key(vm, did, key, err);
            if (rc != ATV_OK) {
                atv_err_prefix(err, "verificationMethod[%zu]", i);
            }
            return rc;
        }
    }
    return atv_err_setr(err, ATV_E_NOT_FOUND, "no_signing_key",
                        "did document: no #atproto verification method");
}

static void find_pds(json_t *doc, const char *did, char *out, size_t cap)
{
    json_t *svcs = json_object_get(doc, "service");
    size_t n = json_is_array(svcs) ? json_array_size(svcs) : 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && i < ATV_MAX_DIDDOC_ENTRIES; i++) {
        json_t *s = json_array_get(svcs, i);
        const char *id = json_string_value(json_object_get(s, "id"));
        const char *type = json_string_value(json_object_get(s, "type"));
        const char *ep = json_string_value(json_object_get(s, "serviceEndpoint"));
        if (id == NULL || !frag_is(id, did, "atproto_pds")) {
            continue;
        }
        /* the first #atproto_pds decides; a wrong type or URL means "no PDS" */
        if (type != NULL && strcmp(type, "AtprotoPersonalDataServer") == 0 && ep != NULL &&
            strlen(ep) < cap &&
            (strncmp(ep, "https://", 8) == 0 || strncmp(ep, "http://", 7) == 0)) {
            memcpy(out, ep, strlen(ep) + 1); /* length checked against cap */
        }
        return;
    }
}

int atv_atp_handle_from_aka(const char *aka, char *out, size_t cap)
{
    const char *h;
    size_t hl;

    if (cap > 0) {
        out[0] = '\0';
    }
    if (aka == NULL || strncmp(aka, "at://", 5) != 0) {
        return 0;
    }
    h = aka + 5;
    hl = strlen(h);
    /* unusable syntax means no handle, never a guess */
    if (hl < cap && atv_atp_handle_check(h, hl, NULL) == ATV_OK) {
        for (size_t j = 0; j < hl; j++) {
            char c = h[j];
            out[j] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        out[hl] = '\0';
    }
    return 1;
}

static void find_handle(json_t *doc, char *out, size_t cap)
{
    json_t *aka = json_object_get(doc, "alsoKnownAs");
    size_t n = json_is_array(aka) ? json_array_size(aka) : 0;

    out[0] = '\0';
    /* the first at:// entry is the claimed handle */
    for (size_t i = 0; i < n && i < ATV_MAX_DIDDOC_ENTRIES; i++) {
        if (atv_atp_handle_from_aka(json_string_value(json_array_get(aka, i)), out, cap)) {
            return;
        }
    }
}

enum atv_status atv_atp_diddoc_parse(struct atv_bytes json, const char *expect_did,
                                     struct atv_diddoc *out, struct atv_err *err)
{
    json_error_t jerr;
    json_t *doc = NULL;
    const char *id;
    enum atv_status rc = ATV_OK;

    memset(out, 0, sizeof *out);
    if (json.len > ATV_MAX_DIDDOC) {
        return atv_err_set(err, ATV_E_LIMIT, "did document: %zu bytes, cap %u", json.len,
                           ATV_MAX_DIDDOC);
    }
    doc = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        rc = atv_err_setr(err, ATV_E_PARSE, "bad_did_doc",
                          "did document: not a JSON object (line %d column %d)", jerr.line,
                          jerr.column);
        goto out;
    }
    id = json_string_value(json_object_get(doc, "id"));
    if (id == NULL || atv_atp_did_check(id, strlen(id), NULL) != ATV_OK) {
        rc = atv_err_setr(err, ATV_E_PARSE, "bad_did_doc", "did document: id is not a DID");
        goto out;
    }
    if (expect_did != NULL && strcmp(id, expect_did) != 0) {
        rc = atv_err_setr(err, ATV_E_VERIFY, "did_mismatch",
                          "did document: id is not the DID asked for");
        goto out;
    }
    memcpy(out->did, id, strlen(id) + 1); /* did_check capped it at ATV_MAX_DID */
    rc = find_key(doc, id, &out->key, err);
    if (rc != ATV_OK) {
        goto out;
    }
    find_pds(doc, id, out->pds, sizeof out->pds);
    find_handle(doc, out->handle, sizeof out->handle);
out:
    if (rc != ATV_OK) {
        memset(out, 0, sizeof *out);
    }
    json_decref(doc);
    return rc;
}
