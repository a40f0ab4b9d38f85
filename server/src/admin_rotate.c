/*
 * admin_rotate.c — the admin API of DRoT rotations (docs/api.md):
 *
 *   POST /v1/admin/rotations              {"device_id", "mode", "max_attempts"} → 201 JOB
 *   GET  /v1/admin/rotations?device=&state=&campaign=&limit=&offset=
 *   GET  /v1/admin/rotations/{id}
 *   POST /v1/admin/rotations/{id}/cancel  {"reason"}
 *   POST /v1/admin/anchor-rotations       {"new_authority", "class" | "device_id", "max_attempts"}:
 *                                         a trust-anchor rotation job per active device (of the
 *                                         class), or for one device → 201
 *   POST /v1/admin/campaigns              {"class", "mode", "max_parallel",
 *                                          "fail_threshold", "max_attempts"} → 201
 *   GET  /v1/admin/campaigns?class=&state=
 *   GET  /v1/admin/campaigns/{id}         with its jobs counted by state
 *   POST /v1/admin/campaigns/{id}/state   {"state": "stopped"|"running"|"cancelled"|"done", "reason"}
 *
 * A job only records the operator's request: the device carries it out
 * when it next attests (routes_rotate.c). Every refusal changes nothing
 * (admin.h A3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "audit_server.h"
#include "keys.h"
#include "revocation.h"

#define JOBS_DEFAULT     100
#define JOBS_MAX         10000
#define ATTEMPTS_DEFAULT 3
#define ATTEMPTS_MAX     20

/* An audit entry by the operator of req about "<what>:<id>" (docs/audit.md). */
static void audit_op(const ds_http_req *req, ds_store *st, const char *action, const char *what, int64_t id,
                     json_t *detail)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1], subject[48];
    ds_audit_actor_operator(req, actor);
    snprintf(subject, sizeof subject, "%s:%lld", what, (long long)id);
    ds_audit_record(st, actor, action, subject, detail);
}

static const char *mode_name(ds_job_mode m)
{
    return m == DS_JOB_MODE_DEVICE ? "device" : "server";
}

static json_t *job_json(const ds_job *j)
{
    char id[33];
    for (size_t i = 0; i < 16; i++)
        snprintf(id + 2 * i, 3, "%02x", j->device_id[i]);
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", (json_int_t)j->id, "device_id", id,
        "kind", j->kind == DS_JOB_ROTATE_ROOT ? "rotate-root" : "rotate-anchor", "mode", mode_name(j->mode),
        "state", ds_job_state_name(j->state), "attempts", (json_int_t)j->attempts, "max_attempts",
        (json_int_t)j->max_attempts, "from_epoch", (json_int_t)j->from_epoch, "created_at",
        (json_int_t)j->created_at, "updated_at", (json_int_t)j->updated_at);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "new_drk_pub",
                        j->has_new_key ? ds_adm_hex_json(j->new_pub, DS_DRK_PUB_LEN) : json_null());
    if (j->has_new_key) {
        uint8_t inst[DS_INSTANCE_ID_LEN];
        json_object_set_new(o, "new_instance_id",
                            ds_instance_id(j->new_pub, inst) == DS_OK ? ds_adm_hex_json(inst, sizeof inst)
                                                                      : json_null());
    } else {
        json_object_set_new(o, "new_instance_id", json_null());
    }
    json_object_set_new(o, "campaign_id", j->campaign_id != 0 ? json_integer(j->campaign_id) : json_null());
    json_object_set_new(o, "lease_owner", j->lease_owner[0] ? json_string(j->lease_owner) : json_null());
    json_object_set_new(o, "lease_until", ds_adm_time_json(j->lease_until));
    json_object_set_new(o, "error", json_string(j->error));
    return o;
}

static bool parse_mode(ds_http_req *req, json_t *body, ds_job_mode *mode)
{
    json_t *m = json_object_get(body, "mode");
    *mode = DS_JOB_MODE_SERVER;
    if (m == NULL)
        return true;
    const char *s = json_string_value(m);
    if (s != NULL && strcmp(s, "server") == 0)
        return true;
    if (s != NULL && strcmp(s, "device") == 0) {
        *mode = DS_JOB_MODE_DEVICE;
        return true;
    }
    ds_adm_fail(req, 400, "bad_request",
                "/mode: must be \"server\" (the server generates the new key) or "
                "\"device\" (the APM does)");
    return false;
}

/* A positive integer member in 1..max, dflt when absent; false after a reply. */
static bool parse_count(ds_http_req *req, json_t *body, const char *name, long dflt, long max, uint32_t *out)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL) {
        *out = (uint32_t)dflt;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
        ds_adm_fail(req, 400, "bad_request", "/%s: must be an integer in 1..%ld", name, max);
        return false;
    }
    *out = (uint32_t)json_integer_value(v);
    return true;
}

static bool only_keys(ds_http_req *req, json_t *body, const char *const *keys)
{
    const char *k;
    json_t *v;
    if (!json_is_object(body)) {
        ds_adm_fail(req, 400, "bad_request", "body must be a JSON object");
        return false;
    }
    json_object_foreach(body, k, v)
    {
        bool known = false;
        for (size_t i = 0; keys[i] != NULL; i++)
            known = known || strcmp(k, keys[i]) == 0;
        if (!known) {
            ds_adm_fail(req, 400, "bad_request", "/%s: unknown member", k);
            return false;
        }
    }
    return true;
}

static void rotation_create(ds_http_req *req, ds_admin *adm)
{
    static const char *const keys[] = {"device_id", "mode", "max_attempts", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    uint8_t id[16];
    ds_job_mode mode;
    uint32_t attempts;
    if (body == NULL)
        return;
    if (!only_keys(req, body, keys) || !parse_mode(req, body, &mode) ||
        !parse_count(req, body, "max_attempts", ATTEMPTS_DEFAULT, ATTEMPTS_MAX, &attempts))
        goto out;
    if (ds_adm_unhex(json_string_value(json_object_get(body, "device_id")), id, 16) != 0) {
        ds_adm_fail(req, 400, "bad_request", "/device_id: required, 32 hex digits");
        goto out;
    }
    int64_t job_id = 0;
    ds_status s = ds_job_create(st, id, DS_JOB_ROTATE_ROOT, mode, attempts, 0, ds_store_now(), &job_id);
    ds_job j;
    if (s == DS_OK) {
        char dev[33];
        ds_audit_hex_id(id, dev);
        audit_op(req, st, "rotation.create", "job", job_id,
                 json_pack("{s:s, s:s, s:s, s:I}", "device_id", dev, "kind",
                           ds_job_kind_name(DS_JOB_ROTATE_ROOT), "mode", mode_name(mode), "max_attempts",
                           (json_int_t)attempts));
        s = ds_job_get(st, job_id, &j);
    }
    if (s != DS_OK)
        ds_adm_fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 201, job_json(&j));
out:
    json_decref(body);
}

typedef struct list_ctx {
    json_t *arr;
} list_ctx;

static int job_cb(const ds_job *j, void *ctx)
{
    list_ctx *c = ctx;
    return json_array_append_new(c->arr, job_json(j)) == 0 ? 0 : -1;
}

static void rotation_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    ds_job_filter f;
    uint8_t id[16];
    memset(&f, 0, sizeof f);
    const char *dev = evhttp_find_header(q, "device");
    if (dev != NULL) {
        if (ds_adm_unhex(dev, id, 16) != 0) {
            ds_adm_fail(req, 400, "bad_request", "query parameter device: '%s' is not 32 hex digits", dev);
            return;
        }
        f.device_id = id;
    }
    const char *state = evhttp_find_header(q, "state");
    if (state != NULL) {
        ds_job_state js;
        if (ds_job_state_parse(state, &js) != DS_OK) {
            ds_adm_fail(
                req, 400, "bad_request",
                "query parameter state: '%s' is not one of pending, issued, completed, failed, cancelled",
                state);
            return;
        }
        f.state = js;
    }
    long campaign = ds_adm_query_num(req, q, "campaign", 0, INT32_MAX);
    long limit = campaign < 0 ? -1 : ds_adm_query_num(req, q, "limit", JOBS_DEFAULT, JOBS_MAX);
    long offset = limit < 0 ? -1 : ds_adm_query_num(req, q, "offset", 0, INT32_MAX);
    if (offset < 0)
        return;
    f.campaign_id = campaign;
    f.limit = (size_t)limit;
    f.offset = (size_t)offset;
    list_ctx c = {json_array()};
    ds_status s = ds_job_list(st, &f, job_cb, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(
        req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(c.arr), "rotations", c.arr));
}

static void rotation_cancel(ds_http_req *req, ds_admin *adm, int64_t id)
{
    static const char *const keys[] = {"reason", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    if (body == NULL)
        return;
    const char *why = json_string_value(json_object_get(body, "reason"));
    if (only_keys(req, body, keys)) {
        if (why == NULL || why[0] == '\0' || strlen(why) > 200) {
            ds_adm_fail(req, 400, "bad_request", "/reason: required, 1..200 bytes");
        } else {
            ds_job j;
            ds_status s = ds_job_cancel(st, id, why, ds_store_now());
            if (s == DS_OK)
                s = ds_job_get(st, id, &j);
            if (s == DS_OK) {
                char dev[33];
                ds_audit_hex_id(j.device_id, dev);
                audit_op(req, st, "rotation.cancel", "job", id,
                         json_pack("{s:s, s:s}", "device_id", dev, "reason", why));
            }
            if (s != DS_OK)
                ds_adm_fail_store(req, st, s);
            else
                ds_adm_reply_json(req, 200, job_json(&j));
        }
    }
    json_decref(body);
}

static json_t *campaign_obj(const ds_campaign *c)
{
    const char *state = ds_campaign_state_name(c->state);
    return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "id",
                     (json_int_t)c->id, "class", c->class_name, "mode", mode_name(c->mode), "max_parallel",
                     (json_int_t)c->max_parallel, "fail_threshold", (json_int_t)c->fail_threshold,
                     "max_attempts", (json_int_t)c->max_attempts, "state", state != NULL ? state : "?",
                     "stop_reason", c->stop_reason, "created_at", (json_int_t)c->created_at, "updated_at",
                     (json_int_t)c->updated_at, "jobs", "pending", (json_int_t)c->n_pending, "issued",
                     (json_int_t)c->n_issued, "completed", (json_int_t)c->n_completed, "failed",
                     (json_int_t)c->n_failed, "cancelled", (json_int_t)c->n_cancelled);
}

static json_t *campaign_json(ds_store *st, int64_t id, ds_status *s)
{
    ds_campaign c;
    *s = ds_campaign_get(st, id, &c);
    return *s == DS_OK ? campaign_obj(&c) : NULL;
}

static int campaign_cb(const ds_campaign *c, void *ctx)
{
    list_ctx *l = ctx;
    return json_array_append_new(l->arr, campaign_obj(c)) == 0 ? 0 : -1;
}

static void campaign_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    ds_campaign_filter f;
    memset(&f, 0, sizeof f);
    f.class_name = evhttp_find_header(q, "class");
    const char *state = evhttp_find_header(q, "state");
    if (state != NULL && (ds_campaign_state_parse(state, &f.state) != DS_OK || f.state == DS_CAMPAIGN_ANY)) {
        ds_adm_fail(req, 400, "bad_request",
                    "query parameter state: '%s' is not one of running, stopped, done, cancelled", state);
        return;
    }
    list_ctx l = {json_array()};
    ds_status s = ds_campaign_list(st, &f, campaign_cb, &l);
    if (s != DS_OK) {
        json_decref(l.arr);
        ds_adm_fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(
        req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(l.arr), "campaigns", l.arr));
}

/* POST /v1/admin/campaigns/{id}/state {"state", "reason"}: stop, resume,
 * cancel (its pending jobs with it) or close a campaign (store.h). */
static void campaign_set_state(ds_http_req *req, ds_admin *adm, int64_t id)
{
    static const char *const keys[] = {"state", "reason", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    if (body == NULL)
        return;
    if (only_keys(req, body, keys)) {
        const char *to = json_string_value(json_object_get(body, "state"));
        const char *why = json_string_value(json_object_get(body, "reason"));
        ds_campaign_state cs;
        if (to == NULL || ds_campaign_state_parse(to, &cs) != DS_OK || cs == DS_CAMPAIGN_ANY) {
            ds_adm_fail(req, 400, "bad_request",
                        "/state: required, one of running, stopped, done, cancelled");
        } else if (why == NULL || why[0] == '\0' || strlen(why) > 200) {
            ds_adm_fail(req, 400, "bad_request", "/reason: required, 1..200 bytes");
        } else {
            ds_campaign before;
            ds_status s = ds_campaign_get(st, id, &before);
            if (s == DS_OK)
                s = ds_campaign_set_state(st, id, cs, why, ds_store_now());
            if (s == DS_OK)
                audit_op(req, st, "campaign.state", "campaign", id,
                         json_pack("{s:s, s:s, s:s}", "from", ds_campaign_state_name(before.state), "to", to,
                                   "reason", why));
            json_t *c = s == DS_OK ? campaign_json(st, id, &s) : NULL;
            if (c == NULL)
                ds_adm_fail_store(req, st, s);
            else
                ds_adm_reply_json(req, 200, c);
        }
    }
    json_decref(body);
}

static void campaign_create(ds_http_req *req, ds_admin *adm)
{
    static const char *const keys[] = {"class",          "mode",         "max_parallel",
                                       "fail_threshold", "max_attempts", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    ds_job_mode mode;
    uint32_t par, thr, attempts;
    if (body == NULL)
        return;
    const char *cls = json_string_value(json_object_get(body, "class"));
    if (!only_keys(req, body, keys) || !parse_mode(req, body, &mode) ||
        !parse_count(req, body, "max_parallel", 1, 10000, &par) ||
        !parse_count(req, body, "fail_threshold", 1, 1000000, &thr) ||
        !parse_count(req, body, "max_attempts", ATTEMPTS_DEFAULT, ATTEMPTS_MAX, &attempts))
        goto out;
    if (cls == NULL || !ds_adm_class_ok(cls)) {
        ds_adm_fail(req, 400, "bad_request", "/class: required, a class name (1..%d of [A-Za-z0-9._-])",
                    DS_CLASS_MAX);
        goto out;
    }
    int64_t id = 0;
    size_t n_jobs = 0;
    ds_status s = ds_campaign_create(st, cls, DS_JOB_ROTATE_ROOT, mode, par, thr, attempts, ds_store_now(),
                                     &id, &n_jobs);
    if (s == DS_OK)
        audit_op(req, st, "campaign.create", "campaign", id,
                 json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "class", cls, "kind",
                           ds_job_kind_name(DS_JOB_ROTATE_ROOT), "mode", mode_name(mode), "max_parallel",
                           (json_int_t)par, "fail_threshold", (json_int_t)thr, "max_attempts",
                           (json_int_t)attempts, "jobs_created", (json_int_t)n_jobs));
    json_t *c = s == DS_OK ? campaign_json(st, id, &s) : NULL;
    if (s != DS_OK)
        ds_adm_fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 201,
                          json_pack("{s:o, s:I}", "campaign", c, "jobs_created", (json_int_t)n_jobs));
out:
    json_decref(body);
}

/* A positive decimal id from a path segment; 0 if it is not one. */
static int64_t seg_id(const char *s)
{
    int64_t v = 0;
    if (*s == '\0' || strlen(s) > 18)
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* The active devices of a class (or all), collected first: the jobs are
 * created after the listing's statement has finished. */
typedef struct anchor_ctx {
    const char *cls;
    uint8_t (*ids)[DS_DEVICE_ID_LEN];
    size_t n, cap;
    bool oom;
} anchor_ctx;

static int anchor_cb(const ds_device *d, void *ctx)
{
    anchor_ctx *a = ctx;
    if (a->cls != NULL && strcmp(a->cls, d->class_name) != 0)
        return 0;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void *p = realloc(a->ids, cap * sizeof *a->ids);
        if (p == NULL) {
            a->oom = true;
            return -1;
        }
        a->ids = p;
        a->cap = cap;
    }
    memcpy(a->ids[a->n++], d->device_id, DS_DEVICE_ID_LEN);
    return 0;
}

/* POST /v1/admin/anchor-rotations: the new authority key must be in the
 * server's key store (drotctl authority rotate puts it there); a job per
 * active device, each carried out at the device's next attestation. */
static void anchor_rotations_create(ds_http_req *req, ds_admin *adm)
{
    static const char *const keys[] = {"new_authority", "class", "device_id", "max_attempts", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    uint32_t attempts;
    if (body == NULL)
        return;
    const char *name = json_string_value(json_object_get(body, "new_authority"));
    const char *cls = json_string_value(json_object_get(body, "class"));
    ds_key_role role;
    unsigned n;
    drot_p256_pub pub;
    uint8_t raw[DS_DRK_PUB_LEN];
    if (!only_keys(req, body, keys) ||
        !parse_count(req, body, "max_attempts", ATTEMPTS_DEFAULT, ATTEMPTS_MAX, &attempts))
        goto out;
    if (name == NULL || ds_key_name_parse(name, &role, &n) != DS_KEYS_OK || role != DS_ROLE_AUTHORITY) {
        ds_adm_fail(req, 400, "bad_request",
                    "/new_authority: required, an authority key name (\"authority-2\")");
        goto out;
    }
    if (json_object_get(body, "class") != NULL && (cls == NULL || !ds_adm_class_ok(cls))) {
        ds_adm_fail(req, 400, "bad_request", "/class: a class name (1..%d of [A-Za-z0-9._-])", DS_CLASS_MAX);
        goto out;
    }
    ds_http_shared_lock(req->http, true);
    ds_keys_status ks = ds_keys_p256_public(adm->app->keys, name, &pub, raw);
    ds_http_shared_unlock(req->http);
    if (ks != DS_KEYS_OK) {
        ds_adm_fail(req, 404, "not_found", "/new_authority: no key '%s' in the server's key store (%s)", name,
                    ds_keys_status_str(ks));
        goto out;
    }
    bool revoked = true;
    if (ds_rev_authority_revoked(st, raw, &revoked) != DS_OK || revoked) {
        ds_adm_fail(req, 409, "revoked",
                    revoked ? "/new_authority: key '%s' is revoked: devices would refuse it (make a new one)"
                            : "/new_authority: cannot read the revocations for key '%s'",
                    name);
        goto out;
    }
    anchor_ctx a = {cls, NULL, 0, 0, false};
    ds_status s;
    json_t *dev = json_object_get(body, "device_id");
    if (dev != NULL) {
        /* One device (it need not be active: ds_job_create_anchor says
         * which states may rotate). */
        ds_device d;
        uint8_t id[DS_DEVICE_ID_LEN];
        if (ds_adm_unhex(json_string_value(dev), id, sizeof id) != 0 || cls != NULL) {
            ds_adm_fail(req, 400, "bad_request", "/device_id: 32 hex digits, and not together with /class");
            goto out;
        }
        s = ds_device_get(st, id, &d);
        if (s == DS_OK)
            s = anchor_cb(&d, &a) == 0 ? DS_OK : DS_E_ARG;
    } else {
        ds_device_filter f;
        memset(&f, 0, sizeof f);
        f.status = DS_DEV_ACTIVE;
        s = ds_device_list(st, &f, anchor_cb, &a);
    }
    if (s != DS_OK || a.oom) {
        free(a.ids);
        if (a.oom)
            ds_adm_fail(req, 500, "internal", "out of memory");
        else
            ds_adm_fail_store(req, st, s);
        goto out;
    }
    json_t *created = json_array(), *skipped = json_array();
    size_t n_created = 0; /* a.ids[0..n_created) end up holding the devices that got a job */
    for (size_t i = 0; i < a.n; i++) {
        char id[33];
        for (size_t k = 0; k < DS_DEVICE_ID_LEN; k++)
            snprintf(id + 2 * k, 3, "%02x", a.ids[i][k]);
        int64_t job = 0;
        s = ds_job_create_anchor(st, a.ids[i], raw, attempts, 0, ds_store_now(), &job);
        if (s == DS_OK) {
            json_array_append_new(created, json_pack("{s:s, s:I}", "device_id", id, "job", (json_int_t)job));
            memmove(a.ids[n_created++], a.ids[i], DS_DEVICE_ID_LEN);
        } else
            json_array_append_new(
                skipped, json_pack("{s:s, s:s}", "device_id", id, "reason",
                                   s == DS_E_EXISTS ? "it has an open rotation job" : ds_status_str(s)));
    }
    /* one entry for the request (a class may have many devices) */
    char actor[DS_AUDIT_ACTOR_MAX + 1], subject[DS_CLASS_MAX + 8] = "";
    ds_audit_actor_operator(req, actor);
    if (cls != NULL)
        snprintf(subject, sizeof subject, "class:%s", cls);
    else if (n_created == 1)
        ds_audit_hex_id(a.ids[0], subject);
    if (n_created > 0) {
        json_t *d = ds_audit_device_batch(a.ids[0], sizeof a.ids[0], n_created);
        json_object_set_new(d, "new_authority", json_string(name));
        json_object_set_new(d, "max_attempts", json_integer((json_int_t)attempts));
        json_object_set_new(d, "skipped", json_integer((json_int_t)(a.n - n_created)));
        ds_audit_record(st, actor, "anchor_rotation.create", subject, d);
    }
    free(a.ids);
    ds_adm_reply_json(req, 201,
                      json_pack("{s:s, s:I, s:o, s:o}", "new_authority", name, "jobs_created",
                                (json_int_t)json_array_size(created), "jobs", created, "skipped", skipped));
out:
    json_decref(body);
}

/* see admin_internal.h */
void ds_admin_rotate(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    bool get = cmd == EVHTTP_REQ_GET, post = cmd == EVHTTP_REQ_POST;
    if (strcmp(segs[0], "anchor-rotations") == 0) {
        if (n == 1 && post)
            anchor_rotations_create(req, adm);
        else
            ds_adm_fail(req, n == 1 ? 405 : 404, n == 1 ? "method_not_allowed" : "not_found",
                        "POST /v1/admin/anchor-rotations only (list them with GET /v1/admin/rotations)");
        return;
    }
    bool rot = strcmp(segs[0], "rotations") == 0;
    int64_t id = n >= 2 ? seg_id(segs[1]) : 0;
    if (n >= 2 && id == 0) {
        ds_adm_fail(req, 400, "bad_request", "'%s' is not a %s id (a positive decimal number)", segs[1],
                    rot ? "rotation" : "campaign");
    } else if (rot && n == 1 && post) {
        rotation_create(req, adm);
    } else if (rot && n == 1 && get) {
        rotation_list(req, adm, q);
    } else if (rot && n == 2 && get) {
        ds_store *st = ds_adm_store(req, adm);
        ds_job j;
        ds_status s = ds_job_get(st, id, &j);
        if (s != DS_OK)
            ds_adm_fail_store(req, st, s);
        else
            ds_adm_reply_json(req, 200, job_json(&j));
    } else if (rot && n == 3 && post && strcmp(segs[2], "cancel") == 0) {
        rotation_cancel(req, adm, id);
    } else if (!rot && n == 1 && post) {
        campaign_create(req, adm);
    } else if (!rot && n == 1 && get) {
        campaign_list(req, adm, q);
    } else if (!rot && n == 3 && post && strcmp(segs[2], "state") == 0) {
        campaign_set_state(req, adm, id);
    } else if (!rot && n == 2 && get) {
        ds_status s;
        json_t *c = campaign_json(ds_adm_store(req, adm), id, &s);
        if (c == NULL)
            ds_adm_fail_store(req, ds_adm_store(req, adm), s);
        else
            ds_adm_reply_json(req, 200, c);
    } else if (n <= 2 || (rot && n == 3 && strcmp(segs[2], "cancel") == 0) ||
               (!rot && n == 3 && strcmp(segs[2], "state") == 0)) {
        ds_adm_fail(req, 405, "method_not_allowed", "method not allowed here");
    } else {
        ds_adm_fail(req, 404, "not_found", "no such admin route");
    }
}
