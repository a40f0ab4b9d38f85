/*
 * admin_revocation.c — the admin API of revocations (docs/api.md
 * "Revocations", docs/revocation.md):
 *
 *   POST /v1/admin/revocations       {"kind": "drk"|"cert"|"authority", "value", "reason"}
 *                                    → 201 {"revocation", "list", "device"}
 *   GET  /v1/admin/revocations?kind= → {"version", "revocations": [...]}
 *   GET  /v1/admin/revocations/list?version=N → the current (or given) signed list:
 *                                    {"version", "issued_at", "signer", "entries", "digest",
 *                                     "signed" (hex of the COSE_Sign1 devices take)}
 *
 * What "value" may be, by kind (hex digits, case-insensitive):
 *   drk        a device id (32 digits: that device's CURRENT root key), the
 *              key's SHA-256 (64), its instance id (66, 01…) or the key
 *              itself (130, 04…);
 *   cert       the certificate serial (1..40 digits; ':' between bytes allowed,
 *              as openssl prints it);
 *   authority  a key name in the server's key store ("authority-2"), the
 *              key's SHA-256 (64, the anchor hash) or the key itself (130).
 *
 * Every revocation publishes the next list at once, signed through key
 * custody (revocation.h ds_rev_add, ds_rev_custody_sign); the operator's
 * certificate CN is recorded as who revoked. A refusal changes nothing
 * (admin.h A3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "admin_internal.h"
#include "keys.h"
#include "revocation.h"

#define VALUE_HEX_MAX 130

/* ---- JSON ----------------------------------------------------------------------------- */

static json_t *revocation_json(const ds_revocation *r)
{
    return json_pack("{s:I, s:s, s:o, s:s, s:s, s:I, s:o, s:I}", "id", (json_int_t)r->id, "kind",
                     ds_rev_kind_name(r->kind), "value", ds_adm_hex_json(r->value, r->value_len), "reason",
                     r->reason, "revoked_by", r->revoked_by, "revoked_at", (json_int_t)r->revoked_at,
                     "device_id", r->has_device ? ds_adm_hex_json(r->device_id, 16) : json_null(),
                     "list_version", (json_int_t)r->list_version);
}

static json_t *list_json(const ds_rev_list *l, bool with_signed)
{
    json_t *j = json_pack("{s:I, s:I, s:s, s:I, s:o}", "version", (json_int_t)l->version, "issued_at",
                          (json_int_t)l->issued_at, "signer", l->signer, "entries", (json_int_t)l->entries,
                          "digest", ds_adm_hex_json(l->digest, sizeof l->digest));
    if (j != NULL && with_signed)
        json_object_set_new(j, "signed", ds_adm_hex_json(l->signed_msg, l->signed_len));
    return j;
}

/* ---- the value ---------------------------------------------------------------------------- */

/* Hex digits (':' allowed between bytes) into out[0..cap); the byte count or -1. */
static long unhex_loose(const char *s, uint8_t *out, size_t cap)
{
    char digits[2 * VALUE_HEX_MAX + 2];
    size_t n = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == ':')
            continue;
        if (n + 1 >= sizeof digits)
            return -1;
        digits[n++] = *p;
    }
    if (n == 0)
        return -1;
    /* An odd count is a serial with its leading zero left out. */
    char padded[sizeof digits + 1];
    size_t off = n % 2;
    padded[0] = '0';
    memcpy(padded + off, digits, n);
    padded[n + off] = '\0';
    size_t bytes = (n + off) / 2;
    if (bytes > cap || ds_adm_unhex(padded, out, bytes) != 0)
        return -1;
    return (long)bytes;
}

/* The hash a drk or authority value names, from a 65-byte key or the hash. */
static bool key_or_hash(const uint8_t *b, long n, uint8_t h[32])
{
    if (n == 32) {
        memcpy(h, b, 32);
        return true;
    }
    if (n == 65 && b[0] == 0x04)
        return drot_sha256(b, 65, h) == DROT_OK;
    return false;
}

/* Turns the request's value into what is stored; replies and returns false
 * on a bad one. */
static bool parse_value(ds_http_req *req, ds_admin *adm, ds_store *st, ds_rev_kind kind, const char *v,
                        uint8_t out[DS_REV_VALUE_MAX], size_t *out_len)
{
    uint8_t b[VALUE_HEX_MAX];
    long n = v == NULL || strlen(v) > 2 * VALUE_HEX_MAX + 40 ? -1 : unhex_loose(v, b, sizeof b);
    if (kind == DS_REV_AUTHORITY && v != NULL && n < 0) {
        /* A key name: its public key from custody. */
        ds_key_role role;
        unsigned k;
        drot_p256_pub pub;
        uint8_t raw[DROT_P256_PUB_LEN];
        if (ds_key_name_parse(v, &role, &k) != DS_KEYS_OK || role != DS_ROLE_AUTHORITY) {
            ds_adm_fail(req, 400, "bad_request", "/value: '%s' is neither an authority key name nor hex", v);
            return false;
        }
        ds_http_shared_lock(req->http, true);
        ds_keys_status ks = ds_keys_p256_public(adm->app->keys, v, &pub, raw);
        ds_http_shared_unlock(req->http);
        if (ks != DS_KEYS_OK) {
            ds_adm_fail(req, 404, "not_found", "/value: no key '%s' in the server's key store (%s)", v,
                        ds_keys_status_str(ks));
            return false;
        }
        *out_len = 32;
        return drot_sha256(raw, sizeof raw, out) == DROT_OK;
    }
    if (n < 0) {
        ds_adm_fail(req, 400, "bad_request",
                    "/value: required, hex digits (see docs/api.md \"Revocations\")");
        return false;
    }
    if (kind == DS_REV_CERT) {
        if (n > (long)DROT_REVOCATION_MAX_SERIAL || ds_rev_serial_norm(b, (size_t)n, out, out_len) != 0) {
            ds_adm_fail(req, 400, "bad_request",
                        "/value: a certificate serial is a non-zero number of at most %u bytes",
                        (unsigned)DROT_REVOCATION_MAX_SERIAL);
            return false;
        }
        return true;
    }
    *out_len = 32;
    if (kind == DS_REV_DRK && n == DS_DEVICE_ID_LEN) {
        ds_device d;
        ds_status s = ds_device_get(st, b, &d);
        if (s != DS_OK) {
            ds_adm_fail_store(req, st, s);
            return false;
        }
        memcpy(out, d.instance_id + 1, 32);
        return true;
    }
    if (kind == DS_REV_DRK && n == DS_INSTANCE_ID_LEN && b[0] == 0x01) {
        memcpy(out, b + 1, 32);
        return true;
    }
    if (key_or_hash(b, n, out))
        return true;
    ds_adm_fail(req, 400, "bad_request",
                kind == DS_REV_DRK
                    ? "/value: a device id (32 hex digits), a key hash (64), an instance id (66) "
                      "or a public key (130)"
                    : "/value: an authority key name, its hash (64 hex digits) or its public key "
                      "(130)");
    return false;
}

/* ---- routes ---------------------------------------------------------------------------------- */

static void revocations_add(ds_http_req *req, ds_admin *adm)
{
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    if (body == NULL)
        return;
    const char *k, *kind_s = json_string_value(json_object_get(body, "kind"));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    json_t *v;
    ds_rev_kind kind = DS_REV_ANY;
    uint8_t value[DS_REV_VALUE_MAX];
    size_t value_len = 0;
    ds_revocation r;
    ds_rev_list *list = NULL;
    if (!json_is_object(body)) {
        ds_adm_fail(req, 400, "bad_request", "body must be a JSON object");
        goto out;
    }
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "kind") != 0 && strcmp(k, "value") != 0 && strcmp(k, "reason") != 0) {
            ds_adm_fail(req, 400, "bad_request", "/%s: unknown member", k);
            goto out;
        }
    }
    if (kind_s == NULL || ds_rev_kind_parse(kind_s, &kind) != DS_OK) {
        ds_adm_fail(req, 400, "bad_request", "/kind: required, \"drk\", \"cert\" or \"authority\"");
        goto out;
    }
    if (reason == NULL || reason[0] == '\0') {
        ds_adm_fail(req, 400, "bad_request", "/reason: required, why this is revoked (it is kept)");
        goto out;
    }
    if (!parse_value(req, adm, st, kind, json_string_value(json_object_get(body, "value")), value,
                     &value_len))
        goto out;
    list = malloc(sizeof *list);
    if (list == NULL) {
        ds_adm_fail(req, 500, "internal", "out of memory");
        goto out;
    }
    ds_rev_custody c = {adm->app->keys, adm->app->authority};
    ds_rev_new nr = {kind, value, value_len, reason,
                     req->operator_cn[0] != '\0' ? req->operator_cn : "unknown"};
    ds_http_shared_lock(req->http, true); /* key custody is single-threaded */
    ds_status s = ds_rev_add(st, &nr, ds_store_now(), ds_rev_custody_sign, &c, &r, list);
    ds_http_shared_unlock(req->http);
    if (s != DS_OK) {
        ds_adm_fail_store(req, st, s);
        goto out;
    }
    json_t *dev = json_null();
    ds_device d;
    if (r.has_device && ds_device_get(st, r.device_id, &d) == DS_OK)
        dev = json_pack("{s:o, s:s}", "device_id", ds_adm_hex_json(d.device_id, 16), "status",
                        ds_device_status_name(d.status));
    ds_adm_reply_json(req, 201,
                      json_pack("{s:o, s:o, s:o}", "revocation", revocation_json(&r), "list",
                                list_json(list, false), "device", dev));
out:
    free(list);
    json_decref(body);
}

static int each_cb(const ds_revocation *r, void *ctx)
{
    return json_array_append_new(ctx, revocation_json(r)) == 0 ? 0 : 1;
}

static void revocations_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    const char *kind_s = evhttp_find_header(q, "kind");
    ds_rev_kind kind = DS_REV_ANY;
    uint64_t version = 0;
    if (kind_s != NULL && ds_rev_kind_parse(kind_s, &kind) != DS_OK) {
        ds_adm_fail(req, 400, "bad_request", "query parameter kind: drk, cert or authority");
        return;
    }
    json_t *arr = json_array();
    ds_status s = ds_rev_version(st, &version);
    if (s == DS_OK)
        s = ds_rev_each(st, kind, each_cb, arr);
    if (s != DS_OK) {
        json_decref(arr);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200, json_pack("{s:I, s:o}", "version", (json_int_t)version, "revocations", arr));
}

static void revocations_show_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    long version = ds_adm_query_num(req, q, "version", 0, 0x7FFFFFFFL);
    if (version < 0)
        return;
    ds_rev_list *l = malloc(sizeof *l);
    if (l == NULL) {
        ds_adm_fail(req, 500, "internal", "out of memory");
        return;
    }
    ds_status s = version == 0 ? ds_rev_list_current(st, l) : ds_rev_list_get(st, (uint64_t)version, l);
    if (s != DS_OK)
        ds_adm_fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 200, list_json(l, true));
    free(l);
}

/* see admin_internal.h */
void ds_admin_revocations(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    if (n == 1 && cmd == EVHTTP_REQ_POST)
        revocations_add(req, adm);
    else if (n == 1 && cmd == EVHTTP_REQ_GET)
        revocations_list(req, adm, q);
    else if (n == 2 && strcmp(segs[1], "list") == 0 && cmd == EVHTTP_REQ_GET)
        revocations_show_list(req, adm, q);
    else if (n == 1 || (n == 2 && strcmp(segs[1], "list") == 0))
        ds_adm_fail(req, 405, "method_not_allowed", "method not allowed on /v1/admin/revocations%s",
                    n == 2 ? "/list" : "");
    else
        ds_adm_fail(req, 404, "not_found", "no such admin route");
}
