/*
 * admin_policy.c — the admin API of the policy engine (docs/api.md
 * "Policies", docs/policy.md):
 *
 *   GET  /v1/admin/policies                         the live version of every class
 *   GET  /v1/admin/policies/{class}?version=N       one version with its document (default: live)
 *   GET  /v1/admin/policies/{class}/versions        every version, newest first
 *   POST /v1/admin/policies/{class}/plan            body: a policy → what it would do (nothing changes)
 *   POST /v1/admin/policies/{class}                 body: a policy → stored and carried out (201)
 *   GET  /v1/admin/policies/{class}/devices         each device's standing (failed, stale, …)
 *   GET  /v1/admin/policies/{class}/actions?device=&limit=   the actions taken
 *   POST /v1/admin/devices/{id}/clear               {"reason"}: FAIL stays failed until this
 *   GET  /v1/admin/webhooks/deliveries?state=&limit=   the webhook queue with every attempt
 *
 * A policy that does not validate is refused with 400 and EVERY error:
 * {"error": {"code": "invalid_policy", "message": "…", "errors": [{"pointer", "message"}…]}}.
 * A version not above the live one is 409 version_conflict. Nothing is
 * changed by a refused request (admin.h A3).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "admin_internal.h"
#include "audit_server.h"
#include "policy.h"
#include "policy_engine.h"
#include "policy_store.h"

/* "operator:<CN of the client certificate>" (audit_server.h). */
static void operator_actor(ds_http_req *req, char *out, size_t cap)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1];
    ds_audit_actor_operator(req, actor);
    snprintf(out, cap, "%s", actor);
}

/* ---- bodies and errors ------------------------------------------------------------------- */

static void collect(const char *ptr, const char *msg, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:s}", "pointer", ptr, "message", msg));
}

/* 400 invalid_policy with every error of errs (consumed). */
static void refuse(ds_http_req *req, json_t *errs)
{
    size_t n = json_array_size(errs);
    json_t *first = json_array_get(errs, 0);
    char msg[600];
    snprintf(msg, sizeof msg, "%zu error%s; the first: %s: %s", n, n == 1 ? "" : "s",
             json_string_value(json_object_get(first, "pointer")),
             json_string_value(json_object_get(first, "message")));
    ds_adm_reply_json(
        req, 400,
        json_pack("{s:{s:s, s:s, s:o}}", "error", "code", "invalid_policy", "message", msg, "errors", errs));
}

/* The body as text (a policy is stored as sent); NULL after a reply. */
static char *read_text(ds_http_req *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    size_t n = evbuffer_get_length(in);
    if (n > DS_POL_MAX_JSON) {
        ds_adm_fail(req, 413, "too_large", "a policy of %zu bytes is over the %d-byte limit", n,
                    DS_POL_MAX_JSON);
        return NULL;
    }
    char *buf = malloc(n + 1);
    if (buf == NULL || evbuffer_copyout(in, buf, n) != (ev_ssize_t)n) {
        free(buf);
        ds_adm_fail(req, 500, "internal", "cannot read the body");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The policy of the body, validated against the class of the URL; NULL
 * after a reply. *doc receives the text (caller frees). */
static ds_policy *body_policy(ds_http_req *req, const char *cls, char **doc)
{
    size_t len = 0;
    *doc = read_text(req, &len);
    if (*doc == NULL)
        return NULL;
    ds_policy *p = malloc(sizeof *p);
    json_t *errs = json_array();
    if (p == NULL || errs == NULL) {
        ds_adm_fail(req, 500, "internal", "out of memory");
    } else if (ds_policy_parse(*doc, len, p, collect, errs) != 0) {
        refuse(req, errs);
        errs = NULL;
    } else if (strcmp(p->class_name, cls) != 0) {
        char m[200];
        snprintf(m, sizeof m, "\"%s\" does not match the class %s of the URL", p->class_name, cls);
        collect("/class", m, errs);
        refuse(req, errs);
        errs = NULL;
    } else {
        json_decref(errs);
        return p;
    }
    json_decref(errs);
    free(p);
    free(*doc);
    *doc = NULL;
    return NULL;
}

/* ---- plan and apply ----------------------------------------------------------------------- */

static void plan_or_apply(ds_http_req *req, ds_admin *adm, const char *cls, bool apply)
{
    ds_store *st = ds_adm_store(req, adm);
    ds_app *app = adm->app;
    char *doc = NULL, actor[DS_POL_BY_MAX + 1], err[600];
    if (app->policy == NULL) {
        ds_adm_fail(req, 409, "no_policy_engine", "this server runs without the policy engine");
        return;
    }
    ds_policy *p = body_policy(req, cls, &doc);
    if (p == NULL)
        return;
    /* The --reference values of the class, as the verifier would use them
     * without a policy: copied under the shared lock (http.h). */
    ds_reference *fallback = calloc(1, sizeof *fallback);
    bool have_fb = false;
    if (fallback != NULL) {
        ds_http_shared_lock(req->http, false);
        for (size_t i = 0; i < app->n_refs; i++) {
            if (strcmp(app->refs[i].class_name, cls) == 0) {
                *fallback = app->refs[i];
                have_fb = true;
            }
        }
        ds_http_shared_unlock(req->http);
    }
    operator_actor(req, actor, sizeof actor);
    json_t *out = NULL;
    ds_status s =
        ds_pol_plan(app->policy, st, p, doc, have_fb ? fallback : NULL, apply, actor, &out, err, sizeof err);
    if (s == DS_OK) {
        ds_adm_reply_json(req, apply ? 201 : 200, out);
    } else if (s == DS_E_CONFLICT) {
        ds_adm_fail(req, 409, "version_conflict", "%s", err);
    } else if (s == DS_E_ARG) {
        json_t *errs = json_array();
        const char *colon = strstr(err, ": ");
        char ptr[200];
        snprintf(ptr, sizeof ptr, "%.*s", colon != NULL ? (int)(colon - err) : 1, colon != NULL ? err : "/");
        collect(ptr, colon != NULL ? colon + 2 : err, errs);
        refuse(req, errs);
    } else {
        ds_adm_fail(req, 500, "internal", "%s", err);
    }
    free(fallback);
    free(p);
    free(doc);
}

/* ---- reading ------------------------------------------------------------------------------------ */

static int list_row(const ds_pol_row *r, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:I, s:I, s:s, s:I}", "class", r->class_name, "version",
                                         (json_int_t)r->version, "applied_at", (json_int_t)r->applied_at,
                                         "applied_by", r->applied_by, "versions", (json_int_t)r->versions));
    return 0;
}

static int version_row(const ds_pol_row *r, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:I, s:I, s:s}", "version", (json_int_t)r->version, "applied_at",
                                         (json_int_t)r->applied_at, "applied_by", r->applied_by));
    return 0;
}

static void policy_list(ds_http_req *req, ds_admin *adm, const char *cls)
{
    ds_store *st = ds_adm_store(req, adm);
    json_t *arr = json_array();
    ds_status s = arr == NULL ? DS_E_NOMEM : ds_pol_list(st, cls, cls != NULL ? version_row : list_row, arr);
    if (s != DS_OK) {
        json_decref(arr);
        ds_adm_fail_store(req, st, s);
    } else if (cls != NULL) {
        ds_adm_reply_json(req, 200, json_pack("{s:s, s:o}", "class", cls, "versions", arr));
    } else {
        ds_adm_reply_json(req, 200, json_pack("{s:o}", "policies", arr));
    }
}

static void policy_get(ds_http_req *req, ds_admin *adm, const char *cls, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    long v = ds_adm_query_num(req, q, "version", 0, (long)DS_POL_MAX_VERSION);
    if (v < 0)
        return;
    ds_pol_row r;
    ds_status s = ds_pol_get(st, cls, v, &r);
    if (s != DS_OK) {
        ds_adm_fail_store(req, st, s);
        return;
    }
    json_t *doc = json_loads(r.document, 0, NULL);
    ds_adm_reply_json(req, 200,
                      json_pack("{s:s, s:I, s:I, s:s, s:o}", "class", r.class_name, "version",
                                (json_int_t)r.version, "applied_at", (json_int_t)r.applied_at, "applied_by",
                                r.applied_by, "document", doc != NULL ? doc : json_string(r.document)));
    ds_pol_row_free(&r);
}

static json_t *state_json(const ds_pol_devstate *d, int64_t stale_after, int64_t now)
{
    char hx[33];
    ds_pol_hex(d->device_id, DS_DEVICE_ID_LEN, hx);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:o, s:o, s:I, s:b, s:o, s:I, s:b, s:o, s:o, s:b, s:s}", "device_id", hx,
        "class", d->class_name, "status", ds_device_status_name(d->status), "epoch", (json_int_t)d->epoch,
        "last_attest_at", ds_adm_time_json(d->last_attest_at), "last_result",
        d->last_result != DS_RESULT_NONE ? json_string(ds_result_name(d->last_result)) : json_null(),
        "key_since", (json_int_t)d->key_since, "stale", d->stale, "stale_since",
        ds_adm_time_json(d->stale ? d->stale_since : 0), "stale_episodes", (json_int_t)d->stale_episodes,
        "failed", d->failed, "failed_at", ds_adm_time_json(d->failed ? d->failed_at : 0),
        "failed_attestation_id", d->failed ? json_integer(d->failed_attestation_id) : json_null(),
        "failed_tamper", d->failed && d->failed_tamper, "failed_reasons", d->failed ? d->failed_reasons : "");
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "cleared",
                        d->cleared_at ? json_pack("{s:I, s:s, s:s}", "at", (json_int_t)d->cleared_at, "by",
                                                  d->cleared_by, "reason", d->clear_reason)
                                      : json_null());
    json_object_set_new(o, "due_at",
                        stale_after > 0 && d->last_attest_at > 0
                            ? json_integer(d->last_attest_at + stale_after)
                            : json_null());
    (void)now;
    return o;
}

typedef struct states_ctx {
    json_t *arr;
    int64_t stale_after, now;
} states_ctx;

static int state_row(const ds_pol_devstate *d, void *vctx)
{
    states_ctx *c = vctx;
    json_array_append_new(c->arr, state_json(d, c->stale_after, c->now));
    return 0;
}

static void policy_devices(ds_http_req *req, ds_admin *adm, const char *cls)
{
    ds_store *st = ds_adm_store(req, adm);
    ds_policy *p = NULL;
    ds_status s = adm->app->policy != NULL ? ds_pol_engine_live(adm->app->policy, st, cls, &p) : DS_OK;
    states_ctx c = {json_array(), ds_policy_stale_after(p), ds_store_now()};
    if (s == DS_OK)
        s = c.arr == NULL ? DS_E_NOMEM : ds_pol_device_states(st, cls, state_row, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        free(p);
        ds_adm_fail_store(req, st, s);
        return;
    }
    uint64_t iv = p != NULL && p->has_attestation ? p->interval_s : adm->app->attest_interval;
    ds_adm_reply_json(req, 200,
                      json_pack("{s:s, s:o, s:I, s:o, s:o}", "class", cls, "version",
                                p != NULL ? json_integer(p->version) : json_null(), "interval_s",
                                (json_int_t)iv, "stale_after_s",
                                c.stale_after > 0 ? json_integer(c.stale_after) : json_null(), "devices",
                                c.arr));
    free(p);
}

static int action_row(const ds_pol_action_row *a, void *ctx)
{
    char hx[33] = "";
    if (a->has_device)
        ds_pol_hex(a->device_id, DS_DEVICE_ID_LEN, hx);
    json_array_append_new(
        ctx, json_pack("{s:I, s:o, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "id",
                       (json_int_t)a->id, "device_id", a->has_device ? json_string(hx) : json_null(), "class",
                       a->class_name, "policy_version", (json_int_t)a->policy_version, "cause", a->cause,
                       "action", a->action, "target", a->target, "state", a->state, "result", a->result,
                       "attestation_id", a->attestation_id ? json_integer(a->attestation_id) : json_null(),
                       "created_at", (json_int_t)a->created_at, "updated_at", (json_int_t)a->updated_at));
    return 0;
}

static void policy_actions(ds_http_req *req, ds_admin *adm, const char *cls, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    const char *dev = evhttp_find_header(q, "device");
    uint8_t id[DS_DEVICE_ID_LEN];
    if (dev != NULL && ds_adm_unhex(dev, id, sizeof id) != 0) {
        ds_adm_fail(req, 400, "bad_request", "query parameter device: not 32 hex digits");
        return;
    }
    long limit = ds_adm_query_num(req, q, "limit", 100, 10000);
    if (limit < 0)
        return;
    json_t *arr = json_array();
    ds_status s = arr == NULL
                      ? DS_E_NOMEM
                      : ds_pol_action_list(st, cls, dev != NULL ? id : NULL, (size_t)limit, action_row, arr);
    if (s != DS_OK) {
        json_decref(arr);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200, json_pack("{s:s, s:o}", "class", cls, "actions", arr));
}

/* ---- webhook deliveries ----------------------------------------------------------------------- */

static int attempt_row(const ds_wh_attempt *a, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:I, s:I, s:o, s:s, s:I}", "attempt", (json_int_t)a->attempt, "at",
                                         (json_int_t)a->at, "http_status",
                                         a->http_status ? json_integer(a->http_status) : json_null(), "error",
                                         a->error, "duration_ms", (json_int_t)a->duration_ms));
    return 0;
}

typedef struct wh_list {
    json_t *arr;
    int64_t ids[10000];
    size_t n;
} wh_list;

static int delivery_row(const ds_wh_row *w, void *ctx)
{
    wh_list *l = ctx;
    char hx[33] = "";
    if (w->has_device)
        ds_pol_hex(w->device_id, DS_DEVICE_ID_LEN, hx);
    json_array_append_new(
        l->arr,
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:o, s:s, s:I, s:o}", "id",
                  (json_int_t)w->id, "delivery_id", w->delivery_id, "webhook", w->webhook, "class",
                  w->class_name, "policy_version", (json_int_t)w->policy_version, "url", w->url, "event",
                  w->event, "device_id", w->has_device ? json_string(hx) : json_null(), "state", w->state,
                  "attempts", (json_int_t)w->attempts, "max_attempts", (json_int_t)w->max_attempts, "next_at",
                  (json_int_t)w->next_at, "last_status",
                  w->last_status ? json_integer(w->last_status) : json_null(), "last_error", w->last_error,
                  "created_at", (json_int_t)w->created_at, "delivered_at",
                  ds_adm_time_json(w->delivered_at)));
    if (l->n < sizeof l->ids / sizeof l->ids[0])
        l->ids[l->n++] = w->id;
    return 0;
}

static void deliveries(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    static const char *const states[] = {"pending", "delivered", "failed", NULL};
    ds_store *st = ds_adm_store(req, adm);
    const char *state = evhttp_find_header(q, "state");
    bool ok = state == NULL;
    for (size_t i = 0; !ok && states[i] != NULL; i++)
        ok = strcmp(state, states[i]) == 0;
    if (!ok) {
        ds_adm_fail(req, 400, "bad_request", "query parameter state: one of pending, delivered, failed");
        return;
    }
    long limit = ds_adm_query_num(req, q, "limit", 100, 10000);
    if (limit < 0)
        return;
    wh_list *l = calloc(1, sizeof *l);
    ds_status s = l == NULL || (l->arr = json_array()) == NULL
                      ? DS_E_NOMEM
                      : ds_wh_list(st, state, (size_t)limit, delivery_row, l);
    for (size_t i = 0; s == DS_OK && i < l->n; i++) {
        json_t *att = json_array();
        s = att == NULL ? DS_E_NOMEM : ds_wh_attempts(st, l->ids[i], attempt_row, att);
        json_object_set_new(json_array_get(l->arr, i), "attempt_log", att != NULL ? att : json_null());
    }
    if (s != DS_OK) {
        if (l != NULL)
            json_decref(l->arr);
        free(l);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200, json_pack("{s:o}", "deliveries", l->arr));
    free(l);
}

/* ---- clear ------------------------------------------------------------------------------------- */

/* see admin_internal.h */
void ds_admin_policy_clear(ds_http_req *req, ds_admin *adm, const uint8_t id[16])
{
    ds_store *st = ds_adm_store(req, adm);
    json_t *b = ds_adm_read_body(req);
    char actor[DS_POL_BY_MAX + 1];
    if (b == NULL)
        return;
    const char *reason = json_string_value(json_object_get(b, "reason"));
    const char *k;
    json_t *v;
    bool unknown = false;
    if (json_is_object(b))
        json_object_foreach(b, k, v) unknown = unknown || strcmp(k, "reason") != 0;
    if (!json_is_object(b) || unknown) {
        ds_adm_fail(req, 400, "bad_request", "body must be a JSON object {\"reason\": \"…\"}");
    } else if (reason == NULL || reason[0] == '\0' || strlen(reason) > DS_REASON_MAX) {
        ds_adm_fail(req, 400, "bad_request", "/reason: required, 1..%d bytes", DS_REASON_MAX);
    } else {
        operator_actor(req, actor, sizeof actor);
        ds_pol_devstate d;
        ds_status s = ds_pol_device_state(st, id, &d);
        if (s == DS_OK)
            s = ds_pol_clear_failed(st, id, actor, reason, ds_store_now());
        if (s == DS_OK) {
            ds_pol_action_new a = {id, d.class_name, 0, "operator", "clear", NULL, "done", reason, 0, NULL};
            (void)ds_pol_action_add(st, &a, ds_store_now(), NULL);
            s = ds_pol_device_state(st, id, &d);
        }
        if (s != DS_OK)
            ds_adm_fail_store(req, st, s);
        else
            ds_adm_reply_json(req, 200, state_json(&d, 0, ds_store_now()));
    }
    json_decref(b);
}

/* ---- dispatch ----------------------------------------------------------------------------------- */

/* see admin_internal.h */
void ds_admin_policy(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    bool get = cmd == EVHTTP_REQ_GET, post = cmd == EVHTTP_REQ_POST;
    if (strcmp(segs[0], "webhooks") == 0) {
        if (n == 2 && strcmp(segs[1], "deliveries") == 0)
            get ? deliveries(req, adm, q) : ds_adm_fail(req, 405, "method_not_allowed", "use GET");
        else
            ds_adm_fail(req, 404, "not_found", "no such admin route (GET /v1/admin/webhooks/deliveries)");
        return;
    }
    if (n == 1) {
        get ? policy_list(req, adm, NULL) : ds_adm_fail(req, 405, "method_not_allowed", "use GET");
        return;
    }
    if (!ds_policy_class_ok(segs[1])) {
        ds_adm_fail(req, 400, "bad_request", "'%s' is not a class name (1..%d of [A-Za-z0-9._-])", segs[1],
                    DS_CLASS_MAX);
        return;
    }
    const char *cls = segs[1];
    if (n == 2) {
        if (get)
            policy_get(req, adm, cls, q);
        else if (post)
            plan_or_apply(req, adm, cls, true);
        else
            ds_adm_fail(req, 405, "method_not_allowed", "use GET or POST");
    } else if (n == 3 && strcmp(segs[2], "plan") == 0) {
        post ? plan_or_apply(req, adm, cls, false) : ds_adm_fail(req, 405, "method_not_allowed", "use POST");
    } else if (n == 3 && strcmp(segs[2], "versions") == 0) {
        get ? policy_list(req, adm, cls) : ds_adm_fail(req, 405, "method_not_allowed", "use GET");
    } else if (n == 3 && strcmp(segs[2], "devices") == 0) {
        get ? policy_devices(req, adm, cls) : ds_adm_fail(req, 405, "method_not_allowed", "use GET");
    } else if (n == 3 && strcmp(segs[2], "actions") == 0) {
        get ? policy_actions(req, adm, cls, q) : ds_adm_fail(req, 405, "method_not_allowed", "use GET");
    } else {
        ds_adm_fail(req, 404, "not_found", "no such admin route");
    }
}
