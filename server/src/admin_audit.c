/*
 * admin_audit.c — the admin API of the audit log (docs/api.md, docs/audit.md):
 *
 *   GET  /v1/admin/audit?after=SEQ&limit=N     entries with seq > SEQ, oldest first
 *                                              (limit 1..1000, default 500)
 *   GET  /v1/admin/audit/checkpoints?after=SEQ&limit=N
 *   POST /v1/admin/audit/checkpoint            signs the head now (no body)
 *
 * The answers carry every field exactly as stored, so that drotctl audit
 * verify recomputes the chain from them: text that is not valid UTF-8
 * (which only tampering can produce) cannot be a JSON string, and is sent
 * as "<field>": null with "<field>_hex" instead.
 *
 * Signing a checkpoint is not itself an audit entry: it would move the head
 * it has just signed. The checkpoints table is its own record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "admin_internal.h"
#include "audit_server.h"

#define AUDIT_LIST_DEFAULT 500

static void put_text(json_t *o, const char *key, const char *v)
{
    size_t n = strlen(v);
    if (ds_audit_utf8_ok(v, n)) {
        json_object_set_new(o, key, json_string(v));
        return;
    }
    char name[32];
    snprintf(name, sizeof name, "%s_hex", key);
    json_object_set_new(o, key, json_null());
    json_object_set_new(o, name, ds_adm_hex_json((const uint8_t *)v, n));
}

static int entry_cb(const ds_audit_entry *e, void *ctx)
{
    json_t *o = json_pack("{s:I, s:I, s:o, s:o}", "seq", (json_int_t)e->seq, "at", (json_int_t)e->at,
                          "prev_hash", e->hashes_ok ? ds_adm_hex_json(e->prev_hash, 32) : json_null(), "hash",
                          e->hashes_ok ? ds_adm_hex_json(e->hash, 32) : json_null());
    if (o == NULL)
        return -1;
    put_text(o, "actor", e->actor);
    put_text(o, "action", e->action);
    put_text(o, "subject", e->subject);
    put_text(o, "detail", e->detail);
    return json_array_append_new(ctx, o) == 0 ? 0 : -1;
}

static json_t *checkpoint_json(const ds_audit_checkpoint *c)
{
    return json_pack("{s:I, s:o, s:I, s:I, s:s, s:o}", "seq", (json_int_t)c->seq, "hash",
                     ds_adm_hex_json(c->hash, DS_AUDIT_HASH_LEN), "at", (json_int_t)c->at, "prev_seq",
                     (json_int_t)c->prev_seq, "key_fpr", c->key_fpr, "signature",
                     ds_adm_hex_json(c->signature, DS_AUDIT_SIG_LEN));
}

static int checkpoint_cb(const ds_audit_checkpoint *c, void *ctx)
{
    return json_array_append_new(ctx, checkpoint_json(c)) == 0 ? 0 : -1;
}

/* after and limit from the query; false after a reply. */
static bool paging(ds_http_req *req, struct evkeyvalq *q, int64_t *after, size_t *limit)
{
    long a = ds_adm_query_num(req, q, "after", 0, 1L << 62);
    if (a < 0)
        return false;
    long l = ds_adm_query_num(req, q, "limit", AUDIT_LIST_DEFAULT, DS_AUDIT_LIST_MAX);
    if (l < 0)
        return false;
    *after = a;
    *limit = l == 0 ? AUDIT_LIST_DEFAULT : (size_t)l;
    return true;
}

static void audit_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    int64_t after, head_seq;
    size_t limit;
    uint8_t head[DS_AUDIT_HASH_LEN];
    if (!paging(req, q, &after, &limit))
        return;
    json_t *arr = json_array();
    ds_status s = arr == NULL ? DS_E_NOMEM : ds_audit_head(st, &head_seq, head);
    if (s == DS_OK)
        s = ds_audit_list(st, after, limit, entry_cb, arr);
    if (s != DS_OK) {
        json_decref(arr);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200,
                      json_pack("{s:I, s:I, s:{s:I, s:o}, s:o}", "count", (json_int_t)json_array_size(arr),
                                "after", (json_int_t)after, "head", "seq", (json_int_t)head_seq, "hash",
                                ds_adm_hex_json(head, DS_AUDIT_HASH_LEN), "entries", arr));
}

static void audit_checkpoints(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    int64_t after;
    size_t limit;
    if (!paging(req, q, &after, &limit))
        return;
    json_t *arr = json_array();
    ds_status s = arr == NULL ? DS_E_NOMEM : ds_audit_checkpoint_list(st, after, limit, checkpoint_cb, arr);
    if (s != DS_OK) {
        json_decref(arr);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200,
                      json_pack("{s:I, s:I, s:o}", "count", (json_int_t)json_array_size(arr), "after",
                                (json_int_t)after, "checkpoints", arr));
}

static void audit_checkpoint_now(ds_http_req *req, ds_admin *adm)
{
    ds_store *st = ds_adm_store(req, adm);
    const ds_audit_signer *sg = ds_audit_server_signer();
    if (sg == NULL) {
        ds_adm_fail(req, 409, "no_audit_key", "this server has no audit key to sign with");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    if (evbuffer_get_length(in) > 2) { /* nothing, or "{}" */
        ds_adm_fail(req, 400, "bad_request", "POST /v1/admin/audit/checkpoint takes no body");
        return;
    }
    ds_audit_checkpoint last;
    ds_status s = ds_audit_sign_head(st, sg, &last);
    if (s == DS_E_NOT_FOUND) {
        ds_adm_fail(req, 409, "empty", "the audit log is empty: there is nothing to sign yet");
    } else if (s == DS_E_CORRUPT) {
        ds_adm_fail(req, 409, "corrupt", "not signed: %s (run drotctl audit verify)", ds_store_error(st));
    } else if (s != DS_OK) {
        ds_adm_fail(req, 500, "internal", "cannot sign a checkpoint: %s", ds_store_error(st));
    } else {
        ds_adm_reply_json(req, 200, json_pack("{s:o}", "checkpoint", checkpoint_json(&last)));
    }
}

/* see admin_internal.h */
void ds_admin_audit(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    bool get = cmd == EVHTTP_REQ_GET, post = cmd == EVHTTP_REQ_POST;
    if (n == 1 && get)
        audit_list(req, adm, q);
    else if (n == 2 && get && strcmp(segs[1], "checkpoints") == 0)
        audit_checkpoints(req, adm, q);
    else if (n == 2 && post && strcmp(segs[1], "checkpoint") == 0)
        audit_checkpoint_now(req, adm);
    else if (n == 1 ||
             (n == 2 && (strcmp(segs[1], "checkpoints") == 0 || strcmp(segs[1], "checkpoint") == 0)))
        ds_adm_fail(
            req, 405, "method_not_allowed",
            "use GET /v1/admin/audit, GET /v1/admin/audit/checkpoints or POST /v1/admin/audit/checkpoint");
    else
        ds_adm_fail(req, 404, "not_found", "no such admin route");
}
