/*
 * policy_engine.c — the engine's cache of live policies and its background
 * worker (see policy_engine.h).
 *
 * The worker is one thread with its own database connection (store.h: one
 * connection per thread). It is not a timer on an HTTP worker's event base
 * because a webhook attempt blocks for up to DS_WH_TIMEOUT_MS, which would
 * stall every request of that worker; the thread's timed wait is the timer.
 * Whatever it does is claimed in the database first (policy_store.h P2, P4),
 * so several servers on one database each run a worker without doing any
 * step twice.
 */
#define _POSIX_C_SOURCE 200809L
#include "policy_engine.h"
#include "policy_engine_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "firmware.h"
#include "policy_store.h"
#include "sql.h"
#include "store_internal.h"
#include "webhook.h"

#define CACHE_MAX        64 /* classes whose parsed live policy is kept */
#define ACTIONS_PER_TICK 200
#define SENDS_PER_TICK   50

typedef struct cache_entry {
    char class_name[DS_CLASS_MAX + 1];
    int64_t version;
    ds_policy *p;
} cache_entry;

struct ds_pol_engine {
    char *db_url;
    char owner[DS_JOB_OWNER_MAX + 1];
    uint64_t default_interval;
    pthread_mutex_t mu; /* the cache and the worker's flags */
    pthread_cond_t cv;
    cache_entry cache[CACHE_MAX];
    size_t n_cache, next_evict;
    bool running, stop, kicked;
    unsigned tick_ms;
    pthread_t thread;
};

void ds_pol_hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void ds_pol_actor(const char *cls, int64_t version, char out[160])
{
    if (version > 0)
        snprintf(out, 160, "policy:%s@%lld", cls, (long long)version);
    else
        snprintf(out, 160, "server");
}

ds_pol_engine *ds_pol_engine_new(const char *db_url, const char *owner, uint64_t default_interval)
{
    ds_pol_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->db_url = strdup(db_url != NULL ? db_url : "");
    snprintf(e->owner, sizeof e->owner, "%s", owner != NULL && owner[0] != '\0' ? owner : "drot-server");
    e->default_interval = default_interval > 0 ? default_interval : 3600;
    if (e->db_url == NULL || pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e->db_url);
        free(e);
        return NULL;
    }
    pthread_cond_init(&e->cv, NULL);
    return e;
}

void ds_pol_engine_free(ds_pol_engine *e)
{
    if (e == NULL)
        return;
    ds_pol_engine_stop(e);
    for (size_t i = 0; i < e->n_cache; i++)
        free(e->cache[i].p);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e->db_url);
    free(e);
}

const char *ds_pol_engine_owner(const ds_pol_engine *e)
{
    return e->owner;
}

uint64_t ds_pol_engine_default_interval(const ds_pol_engine *e)
{
    return e->default_interval;
}

/* ---- the live policy, cached by version (E1) ------------------------------------------ */

typedef struct parse_err {
    char *buf;
    size_t cap;
    size_t n;
} parse_err;

static void first_error(const char *ptr, const char *msg, void *ctx)
{
    parse_err *pe = ctx;
    if (pe->n++ == 0)
        snprintf(pe->buf, pe->cap, "%s: %s", ptr, msg);
}

ds_status ds_pol_load_version(ds_store *s, const char *cls, int64_t version, ds_policy **out, char *err,
                              size_t errlen)
{
    ds_pol_row row;
    *out = NULL;
    ds_status st = ds_pol_get(s, cls, version, &row);
    if (st != DS_OK) {
        snprintf(err, errlen, "%s", ds_store_error(s));
        return st;
    }
    ds_policy *p = malloc(sizeof *p);
    char first[200] = "";
    parse_err pe = {first, sizeof first, 0};
    if (p == NULL) {
        ds_pol_row_free(&row);
        snprintf(err, errlen, "out of memory");
        return DS_E_NOMEM;
    }
    if (ds_policy_parse(row.document, strlen(row.document), p, first_error, &pe) != 0) {
        snprintf(err, errlen, "stored policy %s@%lld does not parse: %s", cls, (long long)row.version, first);
        ds_pol_row_free(&row);
        free(p);
        return DS_E_CORRUPT;
    }
    ds_pol_row_free(&row);
    *out = p;
    return DS_OK;
}

ds_status ds_pol_engine_live(ds_pol_engine *e, ds_store *s, const char *cls, ds_policy **out)
{
    int64_t v = 0;
    char err[200];
    *out = NULL;
    ds_status st = ds_pol_live_version(s, cls, &v);
    if (st != DS_OK || v == 0)
        return st;
    ds_policy *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return DS_E_NOMEM;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n_cache; i++) {
        if (e->cache[i].version == v && strcmp(e->cache[i].class_name, cls) == 0) {
            *copy = *e->cache[i].p;
            pthread_mutex_unlock(&e->mu);
            *out = copy;
            return DS_OK;
        }
    }
    pthread_mutex_unlock(&e->mu);
    ds_policy *p = NULL;
    st = ds_pol_load_version(s, cls, v, &p, err, sizeof err);
    if (st != DS_OK) {
        free(copy);
        return st == DS_E_CORRUPT ? ds_store_fail(s, st, "%s", err) : st;
    }
    *copy = *p;
    pthread_mutex_lock(&e->mu);
    size_t slot = e->n_cache;
    for (size_t i = 0; i < e->n_cache; i++)
        if (strcmp(e->cache[i].class_name, cls) == 0)
            slot = i; /* an older version of the class: replaced */
    if (slot == CACHE_MAX) {
        slot = e->next_evict;
        e->next_evict = (e->next_evict + 1) % CACHE_MAX;
    }
    if (slot == e->n_cache)
        e->n_cache++;
    else
        free(e->cache[slot].p);
    snprintf(e->cache[slot].class_name, sizeof e->cache[slot].class_name, "%s", cls);
    e->cache[slot].version = v;
    e->cache[slot].p = p;
    pthread_mutex_unlock(&e->mu);
    *out = copy;
    return DS_OK;
}

uint64_t ds_pol_next_due(ds_pol_engine *e, ds_store *s, const char *cls)
{
    ds_policy *p = NULL;
    if (e == NULL)
        return 3600;
    uint64_t v = e->default_interval;
    if (ds_pol_engine_live(e, s, cls, &p) == DS_OK && p != NULL && p->has_attestation)
        v = p->interval_s;
    free(p);
    return v;
}

/* ---- notifications ----------------------------------------------------------------------- */

ds_status ds_pol_notify(ds_store *s, const ds_policy *p, const char *name, const char *event,
                        const uint8_t *device_id, const char *reasons, int64_t at, json_t *extra,
                        char *result, size_t cap)
{
    const ds_pol_webhook *w = ds_policy_webhook(p, name);
    char id[33], dev[2 * DS_DEVICE_ID_LEN + 1] = "";
    if (w == NULL) {
        snprintf(result, cap, "no webhook \"%s\" in policy %s@%lld", name, p->class_name,
                 (long long)p->version);
        return DS_OK;
    }
    if (ds_wh_new_id(id) != 0) {
        snprintf(result, cap, "random generator failed");
        return DS_E_DB;
    }
    json_t *list = json_array();
    for (const char *r = reasons != NULL ? reasons : ""; list != NULL && *r != '\0';) {
        const char *sep = strstr(r, "; ");
        size_t n = sep != NULL ? (size_t)(sep - r) : strlen(r);
        json_array_append_new(list, json_stringn(r, n));
        r += n + (sep != NULL ? 2 : 0);
    }
    if (device_id != NULL)
        ds_pol_hex(device_id, DS_DEVICE_ID_LEN, dev);
    json_t *body = json_pack("{s:s, s:s, s:o, s:s, s:I, s:o, s:I}", "event", event, "delivery_id", id,
                             "device_id", device_id != NULL ? json_string(dev) : json_null(), "class",
                             p->class_name, "policy_version", (json_int_t)p->version, "reasons",
                             list != NULL ? list : json_array(), "at", (json_int_t)at);
    if (body != NULL && extra != NULL)
        json_object_update(body, extra);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (text == NULL) {
        snprintf(result, cap, "out of memory");
        return DS_E_NOMEM;
    }
    ds_wh_new n = {id,    w->name,   p->class_name, p->version,      w->url,      w->secret_file,
                   event, device_id, text,          w->max_attempts, w->backoff_s};
    int64_t row = 0;
    ds_status st = ds_wh_enqueue(s, &n, ds_store_now(), &row);
    free(text);
    if (st == DS_OK)
        snprintf(result, cap, "webhook %s: delivery %s queued", w->name, id);
    else
        snprintf(result, cap, "webhook %s: cannot queue: %s", w->name, ds_store_error(s));
    return st;
}

/* ---- the worker ------------------------------------------------------------------------------ */

typedef struct names {
    char (*v)[DS_CLASS_MAX + 1];
    size_t n, cap;
} names;

static int name_row(const ds_pol_row *r, void *ctx)
{
    names *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        void *g = realloc(c->v, cap * sizeof *c->v);
        if (g == NULL)
            return 1;
        c->v = g;
        c->cap = cap;
    }
    snprintf(c->v[c->n++], sizeof c->v[0], "%s", r->class_name);
    return 0;
}

typedef struct missed_ctx {
    const ds_policy *p;
    int64_t now;
} missed_ctx;

/* Inside the transaction that marked the device stale (P2): the episode's
 * on_missed actions, each unique for (device, episode, action, target). */
static ds_status write_missed(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], int64_t episode, void *vctx)
{
    missed_ctx *c = vctx;
    char hx[2 * DS_DEVICE_ID_LEN + 1], key[200];
    ds_pol_hex(id, DS_DEVICE_ID_LEN, hx);
    fprintf(stderr,
            "drot-server: policy %s@%lld: device %s is stale (episode %lld): %zu on_missed action(s)\n",
            c->p->class_name, (long long)c->p->version, hx, (long long)episode,
            c->p->n_actions[DS_POL_ON_MISSED]);
    char actor[160];
    ds_pol_actor(c->p->class_name, c->p->version, actor);
    ds_status ast = ds_pol_audit(s, actor, "policy.stale", hx,
                                 json_pack("{s:I, s:I}", "episode", (json_int_t)episode, "on_missed",
                                           (json_int_t)c->p->n_actions[DS_POL_ON_MISSED]));
    if (ast != DS_OK)
        return ast;
    for (size_t i = 0; i < c->p->n_actions[DS_POL_ON_MISSED]; i++) {
        const ds_pol_action *a = &c->p->actions[DS_POL_ON_MISSED][i];
        snprintf(key, sizeof key, "missed:%s:%lld:%s:%s", hx, (long long)episode, ds_pol_action_name(a->kind),
                 a->webhook);
        ds_pol_action_new n = {
            id,         c->p->class_name, c->p->version, "on_missed", ds_pol_action_name(a->kind),
            a->webhook, "pending",        NULL,          0,           key};
        ds_status st = ds_pol_action_add(s, &n, c->now, NULL);
        if (st != DS_OK)
            return st;
    }
    return DS_OK;
}

static void sweep_class(ds_pol_engine *e, ds_store *s, const char *cls, int64_t now)
{
    ds_policy *p = NULL;
    if (ds_pol_engine_live(e, s, cls, &p) != DS_OK || p == NULL) {
        free(p);
        return;
    }
    if (p->has_attestation) {
        missed_ctx c = {p, now};
        size_t marked = 0;
        ds_status st =
            ds_pol_mark_stale(s, cls, now - ds_policy_stale_after(p), now, write_missed, &c, &marked);
        if (st != DS_OK && st != DS_E_BUSY)
            fprintf(stderr, "drot-server: policy %s: stale sweep: %s\n", cls, ds_store_error(s));
    }
    if (p->has_keys) {
        json_t *acts = json_array();
        size_t n = 0;
        ds_status st = acts != NULL ? ds_pol_key_rotations(s, p, true, "key_age", now, acts, &n) : DS_E_NOMEM;
        if (st != DS_OK && st != DS_E_BUSY)
            fprintf(stderr, "drot-server: policy %s: key-age rotations: %s\n", cls, ds_store_error(s));
        else if (n > 0)
            fprintf(stderr, "drot-server: policy %s@%lld: %zu rotation(s) by key age\n", cls,
                    (long long)p->version, n);
        json_decref(acts);
    }
    free(p);
}

/* A device's status by policy action; *result says what happened. */
static void act_status(ds_store *s, const ds_pol_action_row *a, ds_device_status to, char *result, size_t cap,
                       bool *ok)
{
    ds_device d;
    char reason[DS_REASON_MAX + 1];
    *ok = false;
    if (ds_device_get(s, a->device_id, &d) != DS_OK) {
        snprintf(result, cap, "device: %s", ds_store_error(s));
        return;
    }
    if (d.status == to) {
        snprintf(result, cap, "already %s", ds_device_status_name(to));
        *ok = true;
        return;
    }
    if (!ds_device_transition_allowed(d.status, to)) {
        snprintf(result, cap, "not allowed from %s", ds_device_status_name(d.status));
        return;
    }
    snprintf(reason, sizeof reason, "automatic %s (policy %s@%lld, %s)",
             to == DS_DEV_REVOKED ? "revocation" : "quarantine", a->class_name, (long long)a->policy_version,
             a->cause);
    if (ds_device_set_status(s, a->device_id, to, reason) != DS_OK) {
        snprintf(result, cap, "%s", ds_store_error(s));
        return;
    }
    snprintf(result, cap, "%s", ds_device_status_name(to));
    *ok = true;
    char actor[160], hx[2 * DS_DEVICE_ID_LEN + 1];
    ds_pol_actor(a->class_name, a->policy_version, actor);
    ds_pol_hex(a->device_id, DS_DEVICE_ID_LEN, hx);
    (void)ds_pol_audit(s, actor, "device.status", hx,
                       json_pack("{s:s, s:s, s:s, s:s}", "from", ds_device_status_name(d.status), "to",
                                 ds_device_status_name(to), "reason", reason, "cause", a->cause));
}

typedef struct notify_tx {
    const ds_pol_engine *e;
    const ds_pol_action_row *a;
    const ds_policy *p;
    char result[DS_POL_RESULT_MAX + 1];
} notify_tx;

/* The event and the action's end in one transaction: queued exactly once. */
static ds_status notify_in_tx(ds_store *s, void *vctx)
{
    notify_tx *c = vctx;
    char reasons[200];
    snprintf(reasons, sizeof reasons,
             "missed-attestations: no attestation for over %lld s (%u x %u s and grace)",
             (long long)ds_policy_stale_after(c->p), c->p->missed_limit, c->p->interval_s);
    const char *event = strcmp(c->a->cause, "on_missed") == 0   ? "device.stale"
                        : strcmp(c->a->cause, "on_tamper") == 0 ? "device.tamper"
                                                                : "device.failed";
    ds_status st = ds_pol_notify(s, c->p, c->a->target, event, c->a->has_device ? c->a->device_id : NULL,
                                 reasons, ds_store_now(), NULL, c->result, sizeof c->result);
    char actor[160], hx[2 * DS_DEVICE_ID_LEN + 1] = "";
    ds_pol_actor(c->a->class_name, c->a->policy_version, actor);
    if (c->a->has_device)
        ds_pol_hex(c->a->device_id, DS_DEVICE_ID_LEN, hx);
    if (st == DS_OK)
        st = ds_pol_audit(s, actor, "webhook.queue", hx,
                          json_pack("{s:s, s:s, s:s, s:s}", "webhook", c->a->target, "event", event, "cause",
                                    c->a->cause, "result", c->result));
    if (st == DS_OK)
        st = ds_pol_action_finish(s, c->a->id, c->e->owner, "done", c->result, ds_store_now());
    return st;
}

/* update: the staged rollout of each component of the policy's /firmware
 * (firmware.h fw_rollout_ensure: an open rollout of the release is kept). */
static void run_update(ds_store *s, const ds_pol_action_row *a, const ds_policy *p, char *result, size_t cap,
                       bool *ok)
{
    char actor[160], err[300];
    size_t o = 0;
    ds_pol_actor(a->class_name, a->policy_version, actor);
    *ok = true;
    result[0] = '\0';
    for (size_t i = 0; i < p->n_firmware && o < cap; i++) {
        const ds_pol_firmware *f = &p->firmware[i];
        int64_t rollout = 0;
        ds_status st = fw_rollout_ensure(s, a->class_name, f->component, f->version, f->max_in_flight, actor,
                                         &rollout, err, sizeof err);
        int w = st != DS_OK   ? snprintf(result + o, cap - o, "%s%s %s: %s", o ? "; " : "", f->component,
                                         f->version, err)
                : rollout > 0 ? snprintf(result + o, cap - o, "%s%s %s: rollout %lld", o ? "; " : "",
                                         f->component, f->version, (long long)rollout)
                              : snprintf(result + o, cap - o, "%s%s %s: every device runs it", o ? "; " : "",
                                         f->component, f->version);
        o += w > 0 ? (size_t)w : 0;
        *ok = *ok && st == DS_OK;
    }
}

static void run_action(ds_pol_engine *e, ds_store *s, const ds_pol_action_row *a)
{
    char result[DS_POL_RESULT_MAX + 1] = "", err[200];
    const char *state = "failed";
    bool ok = false;
    ds_policy *p = NULL;
    if (strcmp(a->action, "quarantine") == 0 || strcmp(a->action, "revoke") == 0) {
        act_status(s, a, a->action[0] == 'q' ? DS_DEV_QUARANTINED : DS_DEV_REVOKED, result, sizeof result,
                   &ok);
        state = ok ? "done" : "failed";
    } else if (strcmp(a->action, "notify") == 0) {
        if (ds_pol_load_version(s, a->class_name, a->policy_version, &p, err, sizeof err) != DS_OK) {
            snprintf(result, sizeof result, "%s", err);
        } else {
            notify_tx c = {e, a, p, ""};
            if (ds_sql_tx(s, notify_in_tx, &c) == DS_OK) {
                free(p);
                return; /* finished in the transaction */
            }
            snprintf(result, sizeof result, "%s", ds_store_error(s));
            state = "pending"; /* the lease expires and another attempt follows */
        }
    } else if (strcmp(a->action, "rotate") == 0) {
        int mode = DS_JOB_MODE_SERVER;
        if (ds_pol_load_version(s, a->class_name, a->policy_version, &p, err, sizeof err) == DS_OK &&
            p->has_keys)
            mode = p->rotation_mode;
        int64_t job = 0;
        ds_status st = ds_job_create(s, a->device_id, DS_JOB_ROTATE_ROOT, (ds_job_mode)mode,
                                     DS_POL_JOB_ATTEMPTS, 0, ds_store_now(), &job);
        if (st == DS_OK) {
            snprintf(result, sizeof result, "rotation job %lld (%s mode)", (long long)job,
                     mode == DS_JOB_MODE_DEVICE ? "device" : "server");
            state = "done";
            char actor[160], hx[2 * DS_DEVICE_ID_LEN + 1], subject[32];
            ds_pol_actor(a->class_name, a->policy_version, actor);
            ds_pol_hex(a->device_id, DS_DEVICE_ID_LEN, hx);
            snprintf(subject, sizeof subject, "job:%lld", (long long)job);
            (void)ds_pol_audit(s, actor, "rotation.create", subject,
                               json_pack("{s:s, s:s, s:s}", "device_id", hx, "mode",
                                         mode == DS_JOB_MODE_DEVICE ? "device" : "server", "cause",
                                         a->cause));
        } else {
            snprintf(result, sizeof result, "no rotation job: %s", ds_store_error(s));
        }
    } else if (strcmp(a->action, "update") == 0) {
        if (ds_pol_load_version(s, a->class_name, a->policy_version, &p, err, sizeof err) != DS_OK) {
            snprintf(result, sizeof result, "%s", err);
        } else {
            run_update(s, a, p, result, sizeof result, &ok);
            state = ok ? "done" : "failed";
        }
    } else {
        snprintf(result, sizeof result, "unknown action %s", a->action);
    }
    free(p);
    if (strcmp(state, "pending") == 0)
        return;
    if (strcmp(state, "done") != 0) { /* what changed something has its own entry above */
        char actor[160], hx[2 * DS_DEVICE_ID_LEN + 1] = "";
        ds_pol_actor(a->class_name, a->policy_version, actor);
        if (a->has_device)
            ds_pol_hex(a->device_id, DS_DEVICE_ID_LEN, hx);
        (void)ds_pol_audit(s, actor, "policy.action", hx,
                           json_pack("{s:I, s:s, s:s, s:s, s:s}", "action_id", (json_int_t)a->id, "action",
                                     a->action, "cause", a->cause, "state", state, "result", result));
    }
    if (ds_pol_action_finish(s, a->id, e->owner, state, result, ds_store_now()) != DS_OK)
        fprintf(stderr, "drot-server: policy action %lld: %s\n", (long long)a->id, ds_store_error(s));
    else
        fprintf(stderr, "drot-server: policy %s@%lld %s %s: %s: %s\n", a->class_name,
                (long long)a->policy_version, a->cause, a->action, state, result);
}

static void tick(ds_pol_engine *e, ds_store *s)
{
    names cls = {NULL, 0, 0};
    int64_t now = ds_store_now();
    if (ds_pol_list(s, NULL, name_row, &cls) == DS_OK)
        for (size_t i = 0; i < cls.n; i++)
            sweep_class(e, s, cls.v[i], now);
    free(cls.v);
    for (int k = 0; k < ACTIONS_PER_TICK; k++) {
        ds_pol_action_row a;
        bool found = false;
        if (ds_pol_action_claim(s, e->owner, ds_store_now(), DS_WH_LEASE_S, &a, &found) != DS_OK || !found)
            break;
        run_action(e, s, &a);
    }
    for (int k = 0; k < SENDS_PER_TICK; k++)
        if (ds_wh_deliver_one(s, e->owner, 0) != 1)
            break;
}

static void *worker(void *arg)
{
    ds_pol_engine *e = arg;
    ds_store *s = NULL;
    char err[256];
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        pthread_mutex_unlock(&e->mu);
        if (s == NULL && ds_store_open(e->db_url, &s, err, sizeof err) != DS_OK) {
            fprintf(stderr, "drot-server: policy worker: %s\n", err);
            s = NULL;
        }
        if (s != NULL)
            tick(e, s);
        pthread_mutex_lock(&e->mu);
        if (e->stop)
            break;
        if (!e->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += e->tick_ms / 1000;
            ts.tv_nsec += (long)(e->tick_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            while (!e->stop && !e->kicked && pthread_cond_timedwait(&e->cv, &e->mu, &ts) != ETIMEDOUT)
                ;
        }
        e->kicked = false;
    }
    pthread_mutex_unlock(&e->mu);
    ds_store_close(s);
    return NULL;
}

int ds_pol_engine_start(ds_pol_engine *e, unsigned tick_ms, char *err, size_t errlen)
{
    e->tick_ms = tick_ms > 0 ? tick_ms : 1000;
    e->stop = false;
    if (pthread_create(&e->thread, NULL, worker, e) != 0) {
        snprintf(err, errlen, "cannot start the policy worker thread");
        return -1;
    }
    e->running = true;
    return 0;
}

void ds_pol_engine_kick(ds_pol_engine *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    e->kicked = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void ds_pol_engine_stop(ds_pol_engine *e)
{
    if (e == NULL || !e->running)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->running = false;
}
