/*
 * admin_firmware.c — the admin API of the firmware repository and rollouts
 * (docs/api.md "Firmware"; firmware.h for the state machines):
 *
 *   PUT  /v1/admin/firmware/images/{sha256}          {"size", "offset", "data": base64}: one chunk
 *   GET  /v1/admin/firmware/images/{sha256}          IMAGE (which chunks it has)
 *   POST /v1/admin/firmware/images/{sha256}/discard  drops an unfinished upload
 *   POST /v1/admin/firmware/releases                 {"manifest": hex} → 201 RELEASE (200 if the same)
 *   GET  /v1/admin/firmware/releases?component=&limit=
 *   GET  /v1/admin/firmware/releases/{id}
 *   POST /v1/admin/firmware/rollouts                 {"class", "component", "version", "max_in_flight",
 *                                                     "max_attempts", "job_timeout"} → 201 / 200
 *   GET  /v1/admin/firmware/rollouts?class=&state=&limit=
 *   GET  /v1/admin/firmware/rollouts/{id}            ROLLOUT with its jobs
 *   POST /v1/admin/firmware/rollouts/{id}/state      {"state": "paused"|"running"|"cancelled", "reason"}
 *   GET  /v1/admin/firmware/jobs?device=&rollout=&state=&limit=
 *   GET  /v1/admin/firmware/plan?class=&component=&version=
 *
 * The manifest is verified against the SHA-256 of every authority key in the
 * server's key store (the anchors a device may hold). Every operation that
 * writes names its operator ("operator:<certificate CN>") in the rows it
 * writes. Every refusal changes nothing (admin.h A3).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "admin_internal.h"
#include "audit_server.h"
#include "firmware.h"
#include "keys.h"

#define LIST_DEFAULT  100
#define MAX_AUTHORITY 16

/* ---- helpers ------------------------------------------------------------------------------ */

/* "operator:<CN of the client certificate>" (audit_server.h). */
static void operator_actor(const ds_http_req *req, char *out, size_t cap)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1];
    ds_audit_actor_operator(req, actor);
    snprintf(out, cap, "%s", actor);
}

static bool body_keys(ds_http_req *req, json_t *body, const char *const *keys)
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

/* An integer member in lo..hi (dflt when absent and dflt >= 0); false after a reply. */
static bool int_member(ds_http_req *req, json_t *body, const char *name, long long dflt, long long lo,
                       long long hi, long long *out)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL && dflt >= 0) {
        *out = dflt;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        ds_adm_fail(req, 400, "bad_request", "/%s: %s an integer in %lld..%lld", name,
                    v == NULL ? "required," : "must be", lo, hi);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static const char *str_member(ds_http_req *req, json_t *body, const char *name, size_t max)
{
    const char *s = json_string_value(json_object_get(body, name));
    if (s == NULL || s[0] == '\0' || strlen(s) > max) {
        ds_adm_fail(req, 400, "bad_request", "/%s: required, a string of 1..%zu bytes", name, max);
        return NULL;
    }
    return s;
}

/* A store failure; BUSY is 503 (retry), the rest as admin.c maps them. */
static void fail_store(ds_http_req *req, ds_store *st, ds_status s)
{
    if (s == DS_E_BUSY)
        ds_adm_fail(req, 503, "busy", "the database is busy: %s (retry)", ds_store_error(st));
    else if (s == DS_E_NOMEM)
        ds_adm_fail(req, 500, "internal", "out of memory");
    else
        ds_adm_fail_store(req, st, s);
}

static json_t *time_or_null(int64_t t)
{
    return ds_adm_time_json(t);
}

/* ---- JSON shapes ---------------------------------------------------------------------------- */

static json_t *image_json(const fw_image *im)
{
    char d[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(d + 2 * i, 3, "%02x", im->digest[i]);
    json_t *missing = json_array();
    for (uint32_t i = 0; i < im->n_chunks && i < FW_CHUNKS_MAX; i++)
        if (!(im->have_mask[i / 8] & (1u << (i % 8))))
            json_array_append_new(missing, json_integer(i));
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:b, s:I, s:o, s:s}", "digest", d, "size",
                     (json_int_t)im->size, "chunk_size", (json_int_t)im->chunk_size, "chunks",
                     (json_int_t)im->n_chunks, "have", (json_int_t)im->have, "missing", missing, "complete",
                     im->complete, "created_at", (json_int_t)im->created_at, "completed_at",
                     time_or_null(im->completed_at), "created_by", im->created_by);
}

static json_t *release_json(const fw_release *r, const char *signer_name)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:o, s:I, s:o, s:o, s:I, s:s, s:o}", "id", (json_int_t)r->id,
                     "component", r->component, "version", r->version, "svn", (json_int_t)r->svn,
                     "image_digest", ds_adm_hex_json(r->image_digest, 32), "size", (json_int_t)r->size,
                     "signer", ds_adm_hex_json(r->signer, 32), "signer_key",
                     signer_name != NULL ? json_string(signer_name) : json_null(), "published_at",
                     (json_int_t)r->published_at, "published_by", r->published_by, "manifest",
                     ds_adm_hex_json(r->manifest, r->manifest_len));
}

static json_t *rollout_json(const fw_rollout *r)
{
    json_t *jobs = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "pending", (json_int_t)r->n_pending, "offered",
                             (json_int_t)r->n_offered, "installed", (json_int_t)r->n_installed, "confirmed",
                             (json_int_t)r->n_confirmed, "failed", (json_int_t)r->n_failed, "cancelled",
                             (json_int_t)r->n_cancelled);
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:o, s:I}", "id",
                     (json_int_t)r->id, "class", r->class_name, "component", r->component, "version",
                     r->version, "release_id", (json_int_t)r->release_id, "max_in_flight",
                     (json_int_t)r->max_in_flight, "max_attempts", (json_int_t)r->max_attempts, "job_timeout",
                     (json_int_t)r->job_timeout, "state", fw_rollout_state_name(r->state), "state_reason",
                     r->state_reason, "created_by", r->created_by, "created_at", (json_int_t)r->created_at,
                     "updated_at", (json_int_t)r->updated_at, "jobs", jobs, "in_flight",
                     (json_int_t)(r->n_offered + r->n_installed));
}

static json_t *job_json(const fw_job *j)
{
    return json_pack(
        "{s:I, s:o, s:I, s:I, s:s, s:I, s:I, s:o, s:o, s:o, s:s, s:I, s:I}", "id", (json_int_t)j->id,
        "device_id", ds_adm_hex_json(j->device_id, 16), "rollout_id", (json_int_t)j->rollout_id, "release_id",
        (json_int_t)j->release_id, "state", fw_job_state_name(j->state), "attempts", (json_int_t)j->attempts,
        "max_attempts", (json_int_t)j->max_attempts, "deadline", time_or_null(j->deadline), "offered_at",
        time_or_null(j->offered_at), "installed_at", time_or_null(j->installed_at), "error", j->error,
        "created_at", (json_int_t)j->created_at, "updated_at", (json_int_t)j->updated_at);
}

/* ---- the server's authority anchors -------------------------------------------------------------- */

typedef struct anchors {
    uint8_t hash[MAX_AUTHORITY][32];
    char name[MAX_AUTHORITY][DS_KEY_NAME_MAX];
    size_t n;
} anchors;

/* SHA-256 of every authority public key in the key store. The key store is
 * not thread-safe: exclusive lock (http.h). */
static bool load_anchors(ds_http_req *req, ds_admin *adm, anchors *a)
{
    memset(a, 0, sizeof *a);
    ds_key_info info[32];
    size_t count = 0;
    ds_http_shared_lock(req->http, true);
    ds_keys_status ks = ds_keys_list(adm->app->keys, info, sizeof info / sizeof info[0], &count);
    for (size_t i = 0; ks == DS_KEYS_OK && i < count && a->n < MAX_AUTHORITY; i++) {
        if (info[i].role != DS_ROLE_AUTHORITY)
            continue;
        drot_p256_pub pub;
        uint8_t raw[DROT_P256_PUB_LEN];
        if (ds_keys_p256_public(adm->app->keys, info[i].name, &pub, raw) != DS_KEYS_OK ||
            drot_sha256(raw, sizeof raw, a->hash[a->n]) != DROT_OK)
            continue;
        memcpy(a->name[a->n], info[i].name, sizeof a->name[0]); /* both DS_KEY_NAME_MAX */
        a->name[a->n][sizeof a->name[0] - 1] = '\0';
        a->n++;
    }
    ds_http_shared_unlock(req->http);
    if (ks != DS_KEYS_OK || a->n == 0) {
        ds_adm_fail(req, 500, "internal", "cannot read the server's authority keys: %s",
                    ks != DS_KEYS_OK ? ds_keys_status_str(ks) : "none in the key store");
        return false;
    }
    return true;
}

static const char *anchor_name(const anchors *a, const uint8_t hash[32])
{
    for (size_t i = 0; a != NULL && i < a->n; i++)
        if (memcmp(a->hash[i], hash, 32) == 0)
            return a->name[i];
    return NULL;
}

/* ---- images -------------------------------------------------------------------------------------- */

static void image_put(ds_http_req *req, ds_admin *adm, const uint8_t digest[32])
{
    static const char *const keys[] = {"size", "offset", "data", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    uint8_t *data = NULL;
    long long size, offset;
    if (body == NULL)
        return;
    if (!body_keys(req, body, keys) || !int_member(req, body, "size", -1, 1, FW_IMAGE_MAX, &size) ||
        !int_member(req, body, "offset", -1, 0, FW_IMAGE_MAX - 1, &offset))
        goto out;
    const char *b64 = json_string_value(json_object_get(body, "data"));
    size_t blen = b64 != NULL ? strlen(b64) : 0;
    if (blen == 0 || blen % 4 != 0 || blen / 4 * 3 > FW_CHUNK_SIZE + 3) {
        ds_adm_fail(req, 400, "bad_request", "/data: required, base64 of 1..%u bytes", FW_CHUNK_SIZE);
        goto out;
    }
    if (offset % FW_CHUNK_SIZE != 0) {
        ds_adm_fail(req, 400, "bad_request", "/offset: must be a multiple of the chunk size %u",
                    FW_CHUNK_SIZE);
        goto out;
    }
    data = malloc(blen / 4 * 3 + 1);
    int n = data == NULL ? -1 : EVP_DecodeBlock(data, (const unsigned char *)b64, (int)blen);
    if (n < 0) {
        ds_adm_fail(req, 400, "bad_request", "/data: not base64");
        goto out;
    }
    n -= (b64[blen - 1] == '=') + (b64[blen - 2] == '='); /* EVP_DecodeBlock counts the padding */
    char actor[FW_ACTOR_MAX + 1];
    operator_actor(req, actor, sizeof actor);
    fw_image im;
    ds_status s = fw_image_put_chunk(st, digest, (uint32_t)size, (uint32_t)(offset / FW_CHUNK_SIZE), data,
                                     (size_t)n, actor, ds_store_now(), &im);
    if (s != DS_OK)
        fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 200, image_json(&im));
out:
    free(data);
    json_decref(body);
}

static void image_get(ds_http_req *req, ds_admin *adm, const uint8_t digest[32])
{
    ds_store *st = ds_adm_store(req, adm);
    fw_image im;
    ds_status s = fw_image_get(st, digest, &im);
    if (s != DS_OK)
        fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 200, image_json(&im));
}

static void image_discard(ds_http_req *req, ds_admin *adm, const uint8_t digest[32])
{
    ds_store *st = ds_adm_store(req, adm);
    char actor[FW_ACTOR_MAX + 1];
    operator_actor(req, actor, sizeof actor);
    ds_status s = fw_image_discard(st, digest, actor);
    if (s != DS_OK)
        fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 200, json_pack("{s:b}", "discarded", 1));
}

/* ---- releases ------------------------------------------------------------------------------------ */

static void release_publish(ds_http_req *req, ds_admin *adm)
{
    static const char *const keys[] = {"manifest", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    if (body == NULL)
        return;
    anchors a;
    const char *hex = NULL;
    if (!body_keys(req, body, keys) || (hex = str_member(req, body, "manifest", 2 * FW_MANIFEST_MAX)) == NULL)
        goto out;
    size_t hl = strlen(hex);
    uint8_t m[FW_MANIFEST_MAX];
    if (hl % 2 != 0 || ds_adm_unhex(hex, m, hl / 2) != 0) {
        ds_adm_fail(req, 400, "bad_request", "/manifest: not hex (the signed manifest file, hex-encoded)");
        goto out;
    }
    if (!load_anchors(req, adm, &a))
        goto out;
    char actor[FW_ACTOR_MAX + 1];
    operator_actor(req, actor, sizeof actor);
    fw_release r;
    bool created = false;
    ds_status s = fw_release_publish(st, m, hl / 2, (const uint8_t(*)[32])a.hash, a.n, actor, ds_store_now(),
                                     &r, &created);
    if (s != DS_OK) {
        fail_store(req, st, s);
        goto out;
    }
    json_t *j = release_json(&r, anchor_name(&a, r.signer));
    json_object_set_new(j, "created", json_boolean(created));
    ds_adm_reply_json(req, created ? 201 : 200, j);
out:
    json_decref(body);
}

typedef struct list_ctx {
    json_t *arr;
} list_ctx;

static int release_cb(const fw_release *r, void *ctx)
{
    return json_array_append_new(((list_ctx *)ctx)->arr, release_json(r, NULL)) == 0 ? 0 : 1;
}

static void release_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    long limit = ds_adm_query_num(req, q, "limit", LIST_DEFAULT, FW_LIST_MAX);
    if (limit < 0)
        return;
    const char *comp = evhttp_find_header(q, "component");
    list_ctx c = {json_array()};
    ds_status s = fw_release_list(st, comp, (size_t)limit, release_cb, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(
        req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(c.arr), "releases", c.arr));
}

static long long parse_id(ds_http_req *req, const char *seg, const char *what)
{
    char *end;
    long long v = strtoll(seg, &end, 10);
    if (*seg == '\0' || *end != '\0' || v <= 0) {
        ds_adm_fail(req, 400, "bad_request", "'%s' is not a %s id", seg, what);
        return -1;
    }
    return v;
}

static void release_show(ds_http_req *req, ds_admin *adm, long long id)
{
    ds_store *st = ds_adm_store(req, adm);
    fw_release r;
    ds_status s = fw_release_get(st, id, &r);
    if (s != DS_OK)
        fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 200, release_json(&r, NULL));
}

/* ---- rollouts ------------------------------------------------------------------------------------ */

static void rollout_create(ds_http_req *req, ds_admin *adm)
{
    static const char *const keys[] = {"class",        "component",   "version", "max_in_flight",
                                       "max_attempts", "job_timeout", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    if (body == NULL)
        return;
    fw_rollout_params p;
    long long mif, att, tmo;
    memset(&p, 0, sizeof p);
    if (!body_keys(req, body, keys) ||
        (p.class_name = str_member(req, body, "class", DS_CLASS_MAX)) == NULL ||
        (p.component = str_member(req, body, "component", DROT_MANIFEST_MAX_COMPONENT)) == NULL ||
        (p.version = str_member(req, body, "version", DROT_MANIFEST_MAX_VERSION)) == NULL ||
        !int_member(req, body, "max_in_flight", -1, 1, FW_IN_FLIGHT_MAX, &mif) ||
        !int_member(req, body, "max_attempts", 3, 1, FW_ATTEMPTS_MAX, &att) ||
        !int_member(req, body, "job_timeout", 3600, FW_TIMEOUT_MIN, FW_TIMEOUT_MAX, &tmo))
        goto out;
    if (!ds_adm_class_ok(p.class_name)) {
        ds_adm_fail(req, 400, "bad_request", "/class: '%s' is not a class name (1..%d of [A-Za-z0-9._-])",
                    p.class_name, DS_CLASS_MAX);
        goto out;
    }
    p.max_in_flight = (uint32_t)mif;
    p.max_attempts = (uint32_t)att;
    p.job_timeout = (uint32_t)tmo;
    char actor[FW_ACTOR_MAX + 1];
    operator_actor(req, actor, sizeof actor);
    fw_rollout_result res;
    fw_rollout r;
    ds_status s = fw_rollout_start(st, &p, actor, ds_store_now(), &res);
    if (s == DS_OK && res.rollout_id != 0)
        s = fw_rollout_get(st, res.rollout_id, &r);
    if (s != DS_OK) {
        fail_store(req, st, s);
        goto out;
    }
    json_t *j =
        json_pack("{s:o, s:b, s:I, s:o}", "rollout", res.rollout_id != 0 ? rollout_json(&r) : json_null(),
                  "created", res.created, "jobs_created", (json_int_t)res.jobs_created, "superseded",
                  res.superseded != 0 ? json_integer(res.superseded) : json_null());
    if (res.rollout_id == 0)
        json_object_set_new(j, "message",
                            json_string("every enrolled and active device of the class already "
                                        "runs this release: no rollout was started"));
    ds_adm_reply_json(req, res.created ? 201 : 200, j);
out:
    json_decref(body);
}

static int rollout_cb(const fw_rollout *r, void *ctx)
{
    return json_array_append_new(((list_ctx *)ctx)->arr, rollout_json(r)) == 0 ? 0 : 1;
}

static void rollout_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    long limit = ds_adm_query_num(req, q, "limit", LIST_DEFAULT, FW_LIST_MAX);
    if (limit < 0)
        return;
    const char *cls = evhttp_find_header(q, "class");
    const char *state = evhttp_find_header(q, "state");
    fw_rollout_state rs = FW_ROLLOUT_ANY;
    if (state != NULL && fw_rollout_state_parse(state, &rs) != DS_OK) {
        ds_adm_fail(req, 400, "bad_request",
                    "query parameter state: '%s' is not one of running, paused, done, cancelled", state);
        return;
    }
    list_ctx c = {json_array()};
    ds_status s = fw_rollout_list(st, cls, rs, (size_t)limit, rollout_cb, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(
        req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(c.arr), "rollouts", c.arr));
}

static int job_cb(const fw_job *j, void *ctx)
{
    return json_array_append_new(((list_ctx *)ctx)->arr, job_json(j)) == 0 ? 0 : 1;
}

static void rollout_show(ds_http_req *req, ds_admin *adm, long long id)
{
    ds_store *st = ds_adm_store(req, adm);
    fw_rollout r;
    ds_status s = fw_rollout_get(st, id, &r);
    list_ctx c = {json_array()};
    fw_job_filter f = {NULL, id, FW_JOB_ANY, 0};
    if (s == DS_OK)
        s = fw_job_list(st, &f, job_cb, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        fail_store(req, st, s);
        return;
    }
    json_t *j = rollout_json(&r);
    json_object_set_new(j, "device_jobs", c.arr);
    ds_adm_reply_json(req, 200, j);
}

static void rollout_state(ds_http_req *req, ds_admin *adm, long long id)
{
    static const char *const keys[] = {"state", "reason", NULL};
    ds_store *st = ds_adm_store(req, adm);
    json_t *body = ds_adm_read_body(req);
    if (body == NULL)
        return;
    const char *to = NULL, *reason = json_string_value(json_object_get(body, "reason"));
    fw_rollout_state rs;
    if (!body_keys(req, body, keys) || (to = str_member(req, body, "state", 16)) == NULL)
        goto out;
    if (fw_rollout_state_parse(to, &rs) != DS_OK || rs == FW_ROLLOUT_DONE) {
        ds_adm_fail(req, 400, "bad_request", "/state: '%s' is not one of paused, running, cancelled", to);
        goto out;
    }
    if (json_object_get(body, "reason") != NULL && (reason == NULL || strlen(reason) > FW_REASON_MAX)) {
        ds_adm_fail(req, 400, "bad_request", "/reason: a string of at most %d bytes", FW_REASON_MAX);
        goto out;
    }
    char actor[FW_ACTOR_MAX + 1];
    operator_actor(req, actor, sizeof actor);
    fw_rollout r;
    ds_status s = fw_rollout_set_state(st, id, rs, reason != NULL && reason[0] != '\0' ? reason : to, actor,
                                       ds_store_now(), &r);
    if (s != DS_OK)
        fail_store(req, st, s);
    else
        ds_adm_reply_json(req, 200, rollout_json(&r));
out:
    json_decref(body);
}

/* ---- jobs and plan --------------------------------------------------------------------------------- */

static void job_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    fw_job_filter f = {NULL, 0, FW_JOB_ANY, 0};
    uint8_t id[16];
    const char *dev = evhttp_find_header(q, "device"), *state = evhttp_find_header(q, "state");
    if (dev != NULL && ds_adm_unhex(dev, id, 16) != 0) {
        ds_adm_fail(req, 400, "bad_request", "query parameter device: '%s' is not 32 hex digits", dev);
        return;
    }
    f.device_id = dev != NULL ? id : NULL;
    if (state != NULL && fw_job_state_parse(state, &f.state) != DS_OK) {
        ds_adm_fail(req, 400, "bad_request",
                    "query parameter state: '%s' is not one of pending, offered, installed, confirmed, "
                    "failed, cancelled",
                    state);
        return;
    }
    long rollout = ds_adm_query_num(req, q, "rollout", 0, INT32_MAX);
    long limit = rollout < 0 ? -1 : ds_adm_query_num(req, q, "limit", LIST_DEFAULT, FW_LIST_MAX);
    if (limit < 0)
        return;
    f.rollout_id = rollout;
    f.limit = (size_t)limit;
    list_ctx c = {json_array()};
    ds_status s = fw_job_list(st, &f, job_cb, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200,
                      json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(c.arr), "jobs", c.arr));
}

static void plan_cb(const uint8_t device_id[16], const char *current, void *ctx)
{
    json_array_append_new(((list_ctx *)ctx)->arr,
                          json_pack("{s:o, s:o}", "device_id", ds_adm_hex_json(device_id, 16),
                                    "current_version", current[0] ? json_string(current) : json_null()));
}

static void plan(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_store *st = ds_adm_store(req, adm);
    const char *cls = evhttp_find_header(q, "class"), *comp = evhttp_find_header(q, "component"),
               *ver = evhttp_find_header(q, "version");
    if (cls == NULL || comp == NULL || ver == NULL) {
        ds_adm_fail(req, 400, "bad_request", "query parameters class, component and version are required");
        return;
    }
    list_ctx c = {json_array()};
    ds_status s = fw_rollout_plan(st, cls, comp, ver, plan_cb, &c);
    if (s != DS_OK) {
        json_decref(c.arr);
        fail_store(req, st, s);
        return;
    }
    ds_adm_reply_json(req, 200,
                      json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(c.arr), "devices", c.arr));
}

/* ---- dispatch ------------------------------------------------------------------------------------ */

/* see admin_internal.h */
void ds_admin_firmware(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    bool get = cmd == EVHTTP_REQ_GET, post = cmd == EVHTTP_REQ_POST, put = cmd == EVHTTP_REQ_PUT;
    const char *what = n >= 2 ? segs[1] : "";
    if (strcmp(what, "images") == 0 && n >= 3) {
        uint8_t d[32];
        if (ds_adm_unhex(segs[2], d, 32) != 0) {
            ds_adm_fail(req, 400, "bad_request", "'%s' is not a SHA-256 (64 hex digits)", segs[2]);
        } else if (n == 3 && put) {
            image_put(req, adm, d);
        } else if (n == 3 && get) {
            image_get(req, adm, d);
        } else if (n == 4 && post && strcmp(segs[3], "discard") == 0) {
            image_discard(req, adm, d);
        } else {
            ds_adm_fail(req, n <= 4 ? 405 : 404, n <= 4 ? "method_not_allowed" : "not_found",
                        "use PUT or GET on images/{sha256}, POST on images/{sha256}/discard");
        }
        return;
    }
    long long id = 0;
    if (strcmp(what, "releases") == 0) {
        if (n == 2 && post)
            release_publish(req, adm);
        else if (n == 2 && get)
            release_list(req, adm, q);
        else if (n == 3 && get && (id = parse_id(req, segs[2], "release")) > 0)
            release_show(req, adm, id);
        else if (id == 0)
            ds_adm_fail(req, 405, "method_not_allowed", "use POST or GET on releases, GET on releases/{id}");
    } else if (strcmp(what, "rollouts") == 0) {
        if (n == 2 && post)
            rollout_create(req, adm);
        else if (n == 2 && get)
            rollout_list(req, adm, q);
        else if (n == 3 && get && (id = parse_id(req, segs[2], "rollout")) > 0)
            rollout_show(req, adm, id);
        else if (n == 4 && post && strcmp(segs[3], "state") == 0 &&
                 (id = parse_id(req, segs[2], "rollout")) > 0)
            rollout_state(req, adm, id);
        else if (id == 0)
            ds_adm_fail(req, 405, "method_not_allowed",
                        "use POST or GET on rollouts, GET on rollouts/{id}, POST on rollouts/{id}/state");
    } else if (strcmp(what, "jobs") == 0 && n == 2 && get) {
        job_list(req, adm, q);
    } else if (strcmp(what, "plan") == 0 && n == 2 && get) {
        plan(req, adm, q);
    } else {
        ds_adm_fail(req, 404, "not_found", "no such firmware route (images, releases, rollouts, jobs, plan)");
    }
}
