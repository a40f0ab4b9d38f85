/*
 * admin.c — see admin.h. docs/api.md describes every route with examples.
 */
#define _POSIX_C_SOURCE 200809L
#include "admin.h"
#include "admin_internal.h"
#include "audit_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "drot_crypto.h"

#define LIST_DEFAULT 100
#define LIST_MAX     10000
#define HIST_DEFAULT 50

/* ---- threads (http.h) ------------------------------------------------------ */

/* The database connection of the worker running this request: each worker
 * has its own ds_app (main.c) and so its own ds_store. */
static ds_store *worker_store(const ds_http_req *req, const ds_admin *adm)
{
    return req->worker_ctx != NULL ? ((ds_app *)req->worker_ctx)->store : adm->app->store;
}

/* Points every worker's ds_app at the admin's reference array. Called with
 * the shared lock held for writing. */
static void publish_refs(const ds_http_req *req, ds_admin *adm)
{
    adm->app->refs = adm->refs;
    adm->app->n_refs = adm->n_refs;
    for (unsigned i = 0; i < ds_http_threads(req->http); i++) {
        ds_app *app = ds_http_thread_ctx(req->http, i);
        if (app != NULL) {
            app->refs = adm->refs;
            app->n_refs = adm->n_refs;
        }
    }
}

/* ---- replies ---------------------------------------------------------------- */

static void reply_json(ds_http_req *req, int status, json_t *j)
{
    char *s = j == NULL ? NULL : json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (s == NULL) {
        static const char e[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        ds_http_reply(req, 500, "application/json", e, sizeof e - 1);
        return;
    }
    ds_http_reply(req, status, "application/json", s, strlen(s));
    free(s);
}

static void fail(ds_http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(ds_http_req *req, int status, const char *code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_json(req, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* A store failure as an HTTP error. */
static void fail_store(ds_http_req *req, ds_store *st, ds_status s)
{
    switch (s) {
    case DS_E_NOT_FOUND: fail(req, 404, "not_found", "%s", ds_store_error(st)); break;
    case DS_E_EXISTS: fail(req, 409, "exists", "%s", ds_store_error(st)); break;
    case DS_E_CONFLICT: fail(req, 409, "conflict", "%s", ds_store_error(st)); break;
    case DS_E_ARG: fail(req, 400, "bad_request", "%s", ds_store_error(st)); break;
    default: fail(req, 500, "internal", "storage: %s", ds_status_str(s)); break;
    }
}

/* ---- helpers ------------------------------------------------------------------ */

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char buf[2 * DS_TOKEN_MAX + 1];
    if (n > DS_TOKEN_MAX)
        return json_null();
    hex(p, n, buf);
    buf[2 * n] = '\0';
    return json_string(buf);
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (s == NULL || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

/* A class name as the store accepts it (1..64 of [A-Za-z0-9._-]), not
 * starting with a dot (it becomes a file name). */
static bool class_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DS_CLASS_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A P-256 point, uncompressed SEC1. */
static bool point_ok(const uint8_t pub[DS_DRK_PUB_LEN])
{
    if (pub[0] != 0x04)
        return false;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *pt = g == NULL ? NULL : EC_POINT_new(g);
    bool ok = pt != NULL && EC_POINT_oct2point(g, pt, pub, DS_DRK_PUB_LEN, NULL) == 1;
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return ok;
}

static json_t *time_json(int64_t t)
{
    return t == 0 ? json_null() : json_integer((json_int_t)t);
}

static json_t *device_json(const ds_device *d)
{
    char id[33];
    hex(d->device_id, DS_DEVICE_ID_LEN, id);
    const char *res = d->last_result == DS_RESULT_NONE ? NULL : ds_result_name(d->last_result);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:o, s:o, s:I, s:o}", "device_id", id,
                     "class", d->class_name, "status", ds_device_status_name(d->status), "status_reason",
                     d->status_reason, "drk_pub", hex_json(d->drk_pub, DS_DRK_PUB_LEN), "instance_id",
                     hex_json(d->instance_id, DS_INSTANCE_ID_LEN), "epoch", (json_int_t)d->epoch,
                     "registered_at", (json_int_t)d->registered_at, "updated_at", (json_int_t)d->updated_at,
                     "last_attest_at", time_json(d->last_attest_at), "last_result",
                     res == NULL ? json_null() : json_string(res), "attest_count",
                     (json_int_t)d->attest_count, "tamper_count",
                     d->has_tamper_count ? json_integer((json_int_t)d->tamper_count) : json_null());
}

static json_t *attestation_json(const ds_attestation *a)
{
    const char *action = ds_att_action_name(a->action);
    return json_pack("{s:I, s:I, s:s, s:s, s:o, s:I, s:s}", "id", (json_int_t)a->id, "at", (json_int_t)a->at,
                     "result", ds_result_name(a->result), "reasons", a->reasons != NULL ? a->reasons : "",
                     "evidence_digest", hex_json(a->evidence_digest, DS_DIGEST_LEN), "token_len",
                     (json_int_t)a->token_len, "action", action != NULL ? action : "");
}

/* The request body as JSON; replies and returns NULL on failure. */
static json_t *read_body(ds_http_req *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    size_t len = evbuffer_get_length(in);
    if (len > DS_ADMIN_MAX_BODY) {
        fail(req, 413, "too_large", "body of %zu bytes exceeds the limit of %u bytes", len,
             DS_ADMIN_MAX_BODY);
        return NULL;
    }
    char *buf = malloc(len + 1);
    if (buf == NULL || evbuffer_copyout(in, buf, len) != (ev_ssize_t)len) {
        free(buf);
        fail(req, 500, "internal", "cannot read the body");
        return NULL;
    }
    buf[len] = '\0';
    json_error_t e;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    free(buf);
    if (j == NULL)
        fail(req, 400, "bad_json", "body is not JSON: %s (line %d, column %d)", e.text, e.line, e.column);
    return j;
}

/* Query parameter as an unsigned number; -1 and a reply when malformed. */
static long query_num(ds_http_req *req, struct evkeyvalq *q, const char *name, long dflt, long max)
{
    const char *v = evhttp_find_header(q, name);
    if (v == NULL)
        return dflt;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 0 || n > max) {
        fail(req, 400, "bad_request", "query parameter %s: '%s' is not a number in 0..%ld", name, v, max);
        return -1;
    }
    return n;
}

/* ---- devices --------------------------------------------------------------- */

/* device.register: one entry per batch (docs/audit.md); its subject is the
 * device when the batch has one. */
static void audit_register(const ds_http_req *req, ds_store *st, const ds_device_new *devs, size_t n)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1], subject[33] = "";
    ds_audit_actor_operator(req, actor);
    if (n == 1)
        ds_audit_hex_id(devs[0].device_id, subject);
    json_t *d = ds_audit_device_batch(devs[0].device_id, sizeof *devs, n), *classes = json_array();
    for (size_t i = 0; d != NULL && classes != NULL && i < n && json_array_size(classes) < 20; i++) {
        size_t k = 0;
        while (k < i && strcmp(devs[k].class_name, devs[i].class_name) != 0)
            k++;
        if (k == i)
            json_array_append_new(classes, json_string(devs[i].class_name));
    }
    json_object_set_new(d, "classes", classes);
    ds_audit_record(st, actor, "device.register", subject, d);
}

static void devices_register(ds_http_req *req, ds_admin *adm)
{
    json_t *arr = read_body(req);
    if (arr == NULL)
        return;
    ds_device_new *devs = NULL;
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > 100000) {
        fail(req, 400, "bad_request", "body must be a JSON array of 1..100000 devices");
        goto out;
    }
    devs = calloc(n, sizeof *devs);
    if (devs == NULL) {
        fail(req, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i), *ep = json_object_get(o, "epoch");
        ds_device_new *d = &devs[i];
        if (!json_is_object(o)) {
            fail(req, 400, "bad_request", "/%zu: not an object", i);
            goto out;
        }
        if (unhex(json_string_value(json_object_get(o, "device_id")), d->device_id, DS_DEVICE_ID_LEN) != 0) {
            fail(req, 400, "bad_request", "/%zu/device_id: required, 32 hex digits", i);
            goto out;
        }
        if (unhex(json_string_value(json_object_get(o, "drk_pub")), d->drk_pub, DS_DRK_PUB_LEN) != 0 ||
            !point_ok(d->drk_pub)) {
            fail(req, 400, "bad_request", "/%zu/drk_pub: required, 130 hex digits of a P-256 point (04...)",
                 i);
            goto out;
        }
        d->class_name = json_string_value(json_object_get(o, "class"));
        if (d->class_name == NULL || !class_ok(d->class_name)) {
            fail(req, 400, "bad_request", "/%zu/class: required, 1..%d of [A-Za-z0-9._-]", i, DS_CLASS_MAX);
            goto out;
        }
        if (ep != NULL && (!json_is_integer(ep) || json_integer_value(ep) < 0)) {
            fail(req, 400, "bad_request", "/%zu/epoch: must be a non-negative integer", i);
            goto out;
        }
        d->epoch = ep != NULL ? (uint64_t)json_integer_value(ep) : 0;
    }
    size_t dup = 0;
    ds_status s = ds_device_register_bulk(worker_store(req, adm), devs, n, &dup);
    if (s == DS_E_EXISTS) {
        char id[33];
        hex(devs[dup].device_id, DS_DEVICE_ID_LEN, id);
        fail(req, 409, "duplicate",
             "/%zu: device %s is already registered or repeated; nothing was registered", dup, id);
    } else if (s != DS_OK) {
        fail_store(req, worker_store(req, adm), s);
    } else {
        audit_register(req, worker_store(req, adm), devs, n);
        reply_json(req, 201, json_pack("{s:I}", "registered", (json_int_t)n));
    }
out:
    free(devs);
    json_decref(arr);
}

static int list_cb(const ds_device *d, void *ctx)
{
    json_array_append_new(ctx, device_json(d));
    return 0;
}

static void devices_list(ds_http_req *req, ds_admin *adm, struct evkeyvalq *q)
{
    ds_device_filter f;
    memset(&f, 0, sizeof f);
    f.class_name = evhttp_find_header(q, "class");
    const char *status = evhttp_find_header(q, "status");
    if (f.class_name != NULL && !class_ok(f.class_name)) {
        fail(req, 400, "bad_request", "query parameter class: not a class name");
        return;
    }
    if (status != NULL && ds_device_status_parse(status, &f.status) != DS_OK) {
        fail(req, 400, "bad_request",
             "query parameter status: '%s' is not one of registered, enrolled, active, quarantined, revoked, "
             "decommissioned",
             status);
        return;
    }
    long limit = query_num(req, q, "limit", LIST_DEFAULT, LIST_MAX);
    if (limit < 0)
        return;
    long offset = query_num(req, q, "offset", 0, 1L << 30);
    if (offset < 0)
        return;
    f.limit = limit == 0 ? LIST_DEFAULT : (size_t)limit;
    f.offset = (size_t)offset;
    json_t *arr = json_array();
    ds_status s = arr == NULL ? DS_E_NOMEM : ds_device_list(worker_store(req, adm), &f, list_cb, arr);
    if (s != DS_OK) {
        json_decref(arr);
        fail_store(req, worker_store(req, adm), s);
        return;
    }
    reply_json(req, 200,
               json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)json_array_size(arr), "limit",
                         (json_int_t)f.limit, "offset", (json_int_t)f.offset, "devices", arr));
}

static int key_cb(const ds_device_key *k, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:I, s:o, s:o, s:I}", "epoch", (json_int_t)k->epoch, "drk_pub",
                                         hex_json(k->drk_pub, DS_DRK_PUB_LEN), "instance_id",
                                         hex_json(k->instance_id, DS_INSTANCE_ID_LEN), "retired_at",
                                         (json_int_t)k->retired_at));
    return 0;
}

static int att_cb(const ds_attestation *a, void *ctx)
{
    json_array_append_new(ctx, attestation_json(a));
    return 0;
}

static void device_show(ds_http_req *req, ds_admin *adm, const uint8_t id[16])
{
    ds_store *st = worker_store(req, adm);
    ds_device d;
    ds_status s = ds_device_get(st, id, &d);
    if (s != DS_OK) {
        fail_store(req, st, s);
        return;
    }
    json_t *keys = json_array(), *atts = json_array(), *dev = device_json(&d);
    s = keys == NULL || atts == NULL || dev == NULL ? DS_E_NOMEM
                                                    : ds_device_key_history(st, id, key_cb, keys);
    if (s == DS_OK)
        s = ds_attestation_list(st, id, 1, att_cb, atts);
    if (s != DS_OK) {
        json_decref(keys);
        json_decref(atts);
        json_decref(dev);
        fail_store(req, st, s);
        return;
    }
    json_t *last = json_array_get(atts, 0);
    json_object_set(dev, "last_attestation", last != NULL ? last : json_null());
    json_object_set_new(dev, "key_history", keys);
    json_decref(atts);
    reply_json(req, 200, dev);
}

static void device_status(ds_http_req *req, ds_admin *adm, const uint8_t id[16])
{
    ds_store *st = worker_store(req, adm);
    json_t *b = read_body(req);
    if (b == NULL)
        return;
    const char *to_name = json_string_value(json_object_get(b, "status"));
    const char *reason = json_string_value(json_object_get(b, "reason"));
    ds_device_status to;
    ds_device d;
    ds_status s;
    if (!json_is_object(b)) {
        fail(req, 400, "bad_request", "body must be a JSON object {\"status\", \"reason\"}");
    } else if (to_name == NULL || ds_device_status_parse(to_name, &to) != DS_OK ||
               (to != DS_DEV_ACTIVE && to != DS_DEV_QUARANTINED && to != DS_DEV_REVOKED &&
                to != DS_DEV_DECOMMISSIONED)) {
        fail(req, 400, "bad_request",
             "/status: required, one of active, quarantined, revoked, decommissioned");
    } else if (reason == NULL || reason[0] == '\0' || strlen(reason) > DS_REASON_MAX) {
        fail(req, 400, "bad_request", "/reason: required, 1..%d bytes", DS_REASON_MAX);
    } else if ((s = ds_device_get(st, id, &d)) != DS_OK) {
        fail_store(req, st, s);
    } else if (!ds_device_transition_allowed(d.status, to)) {
        char allowed[200] = "";
        for (int k = DS_DEV_REGISTERED; k <= DS_DEV_DECOMMISSIONED; k++)
            if (k != (int)d.status && ds_device_transition_allowed(d.status, (ds_device_status)k)) {
                size_t o = strlen(allowed);
                snprintf(allowed + o, sizeof allowed - o, "%s%s", o ? ", " : "",
                         ds_device_status_name((ds_device_status)k));
            }
        fail(req, 409, "illegal_transition", "illegal status transition %s -> %s: %s%s",
             ds_device_status_name(d.status), to_name,
             allowed[0] ? "allowed from this state: " : ds_device_status_name(d.status),
             allowed[0] ? allowed : " is terminal");
    } else if ((s = ds_device_set_status(st, id, to, reason)) != DS_OK) {
        fail_store(req, st, s);
    } else {
        char actor[DS_AUDIT_ACTOR_MAX + 1], subject[33];
        ds_audit_actor_operator(req, actor);
        ds_audit_hex_id(id, subject);
        ds_audit_record(st, actor, "device.status", subject,
                        json_pack("{s:s, s:s, s:s}", "from", ds_device_status_name(d.status), "to", to_name,
                                  "reason", reason));
        if ((s = ds_device_get(st, id, &d)) != DS_OK)
            fail_store(req, st, s);
        else
            reply_json(req, 200, device_json(&d));
    }
    json_decref(b);
}

static void device_history(ds_http_req *req, ds_admin *adm, const uint8_t id[16], struct evkeyvalq *q)
{
    long limit = query_num(req, q, "limit", HIST_DEFAULT, LIST_MAX);
    if (limit < 0)
        return;
    json_t *arr = json_array();
    ds_status s = arr == NULL ? DS_E_NOMEM
                              : ds_attestation_list(worker_store(req, adm), id,
                                                    limit == 0 ? HIST_DEFAULT : (size_t)limit, att_cb, arr);
    if (s != DS_OK) {
        json_decref(arr);
        fail_store(req, worker_store(req, adm), s);
        return;
    }
    char idh[33];
    hex(id, 16, idh);
    reply_json(req, 200, json_pack("{s:s, s:o}", "device_id", idh, "attestations", arr));
}

/* ---- reference values ---------------------------------------------------------- */

static int write_atomic(const char *dir, const char *cls, const char *data, size_t len, char *err, size_t cap)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s.json.tmp", dir, cls);
    snprintf(path, sizeof path, "%s/%s.json", dir, cls);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(err, cap, ".%s.json.tmp: %s", cls, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off != len || fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, cap, ".%s.json.tmp: %s", cls, strerror(errno));
        if (off != len)
            close(fd);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, cap, "%s.json: %s", cls, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static void reference_put(ds_http_req *req, ds_admin *adm, const char *cls)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    size_t len = evbuffer_get_length(in);
    if (len > DS_ADMIN_MAX_BODY) {
        fail(req, 413, "too_large", "body of %zu bytes exceeds the limit of %u bytes", len,
             DS_ADMIN_MAX_BODY);
        return;
    }
    if (adm->ref_dir == NULL) {
        fail(req, 409, "no_reference_dir", "the server was started without --reference DIR");
        return;
    }
    char *buf = malloc(len + 1);
    ds_reference *ref = calloc(1, sizeof *ref);
    char err[512] = "";
    if (buf == NULL || ref == NULL || evbuffer_copyout(in, buf, len) != (ev_ssize_t)len) {
        fail(req, 500, "internal", "cannot read the body");
        goto out;
    }
    buf[len] = '\0';
    if (ds_reference_parse(buf, len, ref, err, sizeof err) != 0) {
        fail(req, 400, "invalid_reference", "%s", err);
        goto out;
    }
    if (strcmp(ref->class_name, cls) != 0) {
        fail(req, 400, "invalid_reference", "/class: \"%s\" does not match the class %s of the URL",
             ref->class_name, cls);
        goto out;
    }
    /* Other workers verify against these values: exclusive (http.h). */
    ds_http_shared_lock(req->http, true);
    size_t i = 0;
    while (i < adm->n_refs && strcmp(adm->refs[i].class_name, cls) != 0)
        i++;
    if (i == adm->n_refs) {
        ds_reference *grown = realloc(adm->refs, (adm->n_refs + 1) * sizeof *grown);
        if (grown == NULL) {
            ds_http_shared_unlock(req->http);
            fail(req, 500, "internal", "out of memory");
            goto out;
        }
        adm->refs = grown;
    }
    if (write_atomic(adm->ref_dir, cls, buf, len, err, sizeof err) != 0) {
        publish_refs(req, adm);
        ds_http_shared_unlock(req->http);
        fail(req, 500, "internal", "cannot store the reference values: %s", err);
        goto out;
    }
    adm->refs[i] = *ref;
    if (i == adm->n_refs)
        adm->n_refs++;
    publish_refs(req, adm);
    ds_http_shared_unlock(req->http);
    fprintf(stderr, "drot-server: reference values for class %s replaced through the admin API\n", cls);
    uint8_t digest[32];
    char actor[DS_AUDIT_ACTOR_MAX + 1], dhex[65] = "";
    if (drot_sha256(buf, len, digest) == DROT_OK)
        for (size_t k = 0; k < 32; k++)
            snprintf(dhex + 2 * k, 3, "%02x", digest[k]);
    char subject[96]; /* cls is a path segment, under 80 bytes */
    snprintf(subject, sizeof subject, "class:%s", cls);
    ds_audit_actor_operator(req, actor);
    ds_audit_record(worker_store(req, adm), actor, "class.reference", subject,
                    json_pack("{s:I, s:s}", "bytes", (json_int_t)len, "sha256", dhex));
    reply_json(req, 200, json_pack("{s:s, s:b}", "class", cls, "stored", 1));
out:
    free(ref);
    free(buf);
}

static void reference_get(ds_http_req *req, ds_admin *adm, const char *cls)
{
    if (adm->ref_dir == NULL) {
        fail(req, 404, "not_found", "no reference values for class %s (no --reference DIR)", cls);
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.json", adm->ref_dir, cls);
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL) {
        fail(req, 404, "not_found", "no reference values for class %s", cls);
        return;
    }
    reply_json(req, 200, j);
}

/* ---- dispatch ------------------------------------------------------------------- */

/* see admin.h */
void ds_admin_handle(ds_http_req *req, void *ctx)
{
    ds_admin *adm = ctx;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->ev);
    const char *path = uri == NULL ? NULL : evhttp_uri_get_path(uri);
    const char *query = uri == NULL ? NULL : evhttp_uri_get_query(uri);
    struct evkeyvalq q;
    q.tqh_first = NULL;
    q.tqh_last = &q.tqh_first;
    if (path == NULL || (query != NULL && evhttp_parse_query_str(query, &q) != 0)) {
        fail(req, 400, "bad_request", "malformed URI");
        evhttp_clear_headers(&q);
        return;
    }
    /* Split what follows /v1/admin/ into at most 4 segments. */
    char segs[4][80];
    size_t n = 0;
    const char *p = path + strlen(DS_HTTP_ADMIN_PREFIX);
    bool bad = false;
    while (*p != '\0' && !bad) {
        const char *e = strchr(p, '/');
        size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
        if (n == 4 || l == 0 || l >= sizeof segs[0])
            bad = true;
        else {
            memcpy(segs[n], p, l);
            segs[n++][l] = '\0';
        }
        p += l;
        if (*p == '/')
            p++;
    }
    uint8_t id[16];
    bool get = cmd == EVHTTP_REQ_GET, post = cmd == EVHTTP_REQ_POST, put = cmd == EVHTTP_REQ_PUT;
    if (bad || n == 0) {
        fail(req, 404, "not_found", "no such admin route");
    } else if (strcmp(segs[0], "devices") == 0) {
        if (n >= 2 && unhex(segs[1], id, 16) != 0) {
            fail(req, 400, "bad_request", "device id '%s' is not 32 hex digits", segs[1]);
        } else if (n == 1 && post) {
            devices_register(req, adm);
        } else if (n == 1 && get) {
            devices_list(req, adm, &q);
        } else if (n == 2 && get) {
            device_show(req, adm, id);
        } else if (n == 3 && post && strcmp(segs[2], "status") == 0) {
            device_status(req, adm, id);
        } else if (n == 3 && get && strcmp(segs[2], "attestations") == 0) {
            device_history(req, adm, id, &q);
        } else if (n == 3 && post && strcmp(segs[2], "clear") == 0) {
            ds_admin_policy_clear(req, adm, id); /* admin_policy.c */
        } else if (n == 1 || n == 2 || strcmp(segs[2], "status") == 0 ||
                   strcmp(segs[2], "attestations") == 0 || strcmp(segs[2], "clear") == 0) {
            fail(req, 405, "method_not_allowed", "method not allowed on %s", path);
        } else {
            fail(req, 404, "not_found", "no such admin route");
        }
    } else if (strcmp(segs[0], "classes") == 0 && n == 3 && strcmp(segs[2], "reference") == 0) {
        if (!class_ok(segs[1]))
            fail(req, 400, "bad_request", "'%s' is not a class name (1..%d of [A-Za-z0-9._-])", segs[1],
                 DS_CLASS_MAX);
        else if (put)
            reference_put(req, adm, segs[1]);
        else if (get)
            reference_get(req, adm, segs[1]);
        else
            fail(req, 405, "method_not_allowed", "use GET or PUT");
    } else if (strcmp(segs[0], "rotations") == 0 || strcmp(segs[0], "campaigns") == 0 ||
               strcmp(segs[0], "anchor-rotations") == 0) {
        ds_admin_rotate(req, adm, segs, n, &q);
    } else if (strcmp(segs[0], "audit") == 0) {
        ds_admin_audit(req, adm, segs, n, &q);
    } else if (strcmp(segs[0], "revocations") == 0) {
        ds_admin_revocations(req, adm, segs, n, &q);
    } else if (strcmp(segs[0], "firmware") == 0) {
        ds_admin_firmware(req, adm, segs, n, &q); /* admin_firmware.c */
    } else if (strcmp(segs[0], "policies") == 0 || strcmp(segs[0], "webhooks") == 0) {
        ds_admin_policy(req, adm, segs, n, &q);
    } else {
        fail(req, 404, "not_found", "no such admin route");
    }
    evhttp_clear_headers(&q);
}

/* see admin.h */
int ds_admin_init(ds_admin *adm, ds_app *app, const char *ref_dir, const ds_reference *refs, size_t n)
{
    memset(adm, 0, sizeof *adm);
    adm->app = app;
    adm->ref_dir = ref_dir;
    adm->refs = calloc(n + 1, sizeof *adm->refs);
    if (adm->refs == NULL)
        return -1;
    if (n > 0)
        memcpy(adm->refs, refs, n * sizeof *refs);
    adm->n_refs = n;
    app->refs = adm->refs;
    app->n_refs = n;
    return 0;
}

/* see admin.h */
void ds_admin_free(ds_admin *adm)
{
    free(adm->refs);
    adm->refs = NULL;
    adm->n_refs = 0;
}

/* ---- for the other admin route files (admin_internal.h) ------------------------ */

void ds_adm_reply_json(ds_http_req *req, int status, json_t *j)
{
    reply_json(req, status, j);
}

void ds_adm_fail(ds_http_req *req, int status, const char *code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail(req, status, code, "%s", msg);
}

void ds_adm_fail_store(ds_http_req *req, ds_store *st, ds_status s)
{
    fail_store(req, st, s);
}

json_t *ds_adm_hex_json(const uint8_t *p, size_t n)
{
    return hex_json(p, n);
}

json_t *ds_adm_time_json(int64_t t)
{
    return time_json(t);
}

int ds_adm_unhex(const char *s, uint8_t *out, size_t n)
{
    return unhex(s, out, n);
}

json_t *ds_adm_read_body(ds_http_req *req)
{
    return read_body(req);
}

long ds_adm_query_num(ds_http_req *req, struct evkeyvalq *q, const char *name, long dflt, long max)
{
    return query_num(req, q, name, dflt, max);
}

ds_store *ds_adm_store(const ds_http_req *req, const ds_admin *adm)
{
    return worker_store(req, adm);
}

bool ds_adm_class_ok(const char *s)
{
    return class_ok(s);
}
