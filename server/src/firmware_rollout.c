/*
 * firmware_rollout.c — staged rollouts (firmware.h: F3, F4) and the steps
 * they share with the jobs' (firmware_jobs.c): reading rows, expiry,
 * retries, a rollout that ends by itself.
 *
 * Every step is one transaction that takes its named locks first, in the
 * order class → device → rollout, then re-reads what it decides on. Counts
 * that decide a step (jobs in flight against max_in_flight) are read by a
 * statement issued after the rollout's lock, so on PostgreSQL (READ
 * COMMITTED: a new snapshot per statement) they include every earlier
 * holder's commit, exactly as store.h invariant 8 does for campaigns.
 */
#define _POSIX_C_SOURCE 200809L
#include "firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drot_crypto.h"
#include "firmware_internal.h"

#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_TIMEOUT  3600u

#define ROLLOUT_SELECT                                                                                       \
    "SELECT o.id, o.class, o.component, o.release_id, r.version, o.max_in_flight, o.max_attempts, "          \
    "o.job_timeout, o.state, o.state_reason, o.created_by, o.created_at, o.updated_at, "                     \
    "(SELECT count(*) FROM firmware_jobs j WHERE j.rollout_id = o.id AND j.state = 'pending'), "             \
    "(SELECT count(*) FROM firmware_jobs j WHERE j.rollout_id = o.id AND j.state = 'offered'), "             \
    "(SELECT count(*) FROM firmware_jobs j WHERE j.rollout_id = o.id AND j.state = 'installed'), "           \
    "(SELECT count(*) FROM firmware_jobs j WHERE j.rollout_id = o.id AND j.state = 'confirmed'), "           \
    "(SELECT count(*) FROM firmware_jobs j WHERE j.rollout_id = o.id AND j.state = 'failed'), "              \
    "(SELECT count(*) FROM firmware_jobs j WHERE j.rollout_id = o.id AND j.state = 'cancelled') "            \
    "FROM firmware_rollouts o JOIN firmware_releases r ON r.id = o.release_id "

/* ---- rows ------------------------------------------------------------------------------------- */

static void rollout_from_row(const ds_sql_row *r, fw_rollout *o)
{
    memset(o, 0, sizeof *o);
    o->id = ds_sql_get_int(r, 0);
    ds_sql_copy_text(r, 1, o->class_name, sizeof o->class_name);
    ds_sql_copy_text(r, 2, o->component, sizeof o->component);
    o->release_id = ds_sql_get_int(r, 3);
    ds_sql_copy_text(r, 4, o->version, sizeof o->version);
    o->max_in_flight = (uint32_t)ds_sql_get_int(r, 5);
    o->max_attempts = (uint32_t)ds_sql_get_int(r, 6);
    o->job_timeout = (uint32_t)ds_sql_get_int(r, 7);
    if (fw_rollout_state_parse(ds_sql_get_text(r, 8), &o->state) != DS_OK)
        o->state = FW_ROLLOUT_ANY;
    ds_sql_copy_text(r, 9, o->state_reason, sizeof o->state_reason);
    ds_sql_copy_text(r, 10, o->created_by, sizeof o->created_by);
    o->created_at = ds_sql_get_int(r, 11);
    o->updated_at = ds_sql_get_int(r, 12);
    o->n_pending = (uint64_t)ds_sql_get_int(r, 13);
    o->n_offered = (uint64_t)ds_sql_get_int(r, 14);
    o->n_installed = (uint64_t)ds_sql_get_int(r, 15);
    o->n_confirmed = (uint64_t)ds_sql_get_int(r, 16);
    o->n_failed = (uint64_t)ds_sql_get_int(r, 17);
    o->n_cancelled = (uint64_t)ds_sql_get_int(r, 18);
}

void fw_job_from_row(const ds_sql_row *r, fw_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = ds_sql_get_int(r, 0);
    ds_sql_copy_blob(r, 1, j->device_id, DS_DEVICE_ID_LEN);
    j->rollout_id = ds_sql_get_int(r, 2);
    j->release_id = ds_sql_get_int(r, 3);
    if (fw_job_state_parse(ds_sql_get_text(r, 4), &j->state) != DS_OK)
        j->state = FW_JOB_ANY;
    j->attempts = (uint32_t)ds_sql_get_int(r, 5);
    j->max_attempts = (uint32_t)ds_sql_get_int(r, 6);
    j->deadline = ds_sql_get_int(r, 7);
    j->offered_at = ds_sql_get_int(r, 8);
    j->installed_at = ds_sql_get_int(r, 9);
    ds_sql_copy_text(r, 10, j->error, sizeof j->error);
    j->created_at = ds_sql_get_int(r, 11);
    j->updated_at = ds_sql_get_int(r, 12);
}

typedef struct one_rollout {
    fw_rollout *out;
    bool found;
} one_rollout;

static int one_rollout_row(const ds_sql_row *r, void *ctx)
{
    one_rollout *o = ctx;
    rollout_from_row(r, o->out);
    o->found = true;
    return 1;
}

int fw_one_job_row(const ds_sql_row *r, void *ctx)
{
    fw_one_job *o = ctx;
    fw_job_from_row(r, o->out);
    o->found = true;
    return 1;
}

/* see firmware.h */
ds_status fw_rollout_get(ds_store *s, int64_t id, fw_rollout *out)
{
    if (s == NULL || out == NULL || id <= 0)
        return DS_E_ARG;
    one_rollout o = {out, false};
    ds_sql_val a = ds_sql_int(id);
    ds_status st = ds_sql_exec(s, ROLLOUT_SELECT "WHERE o.id = $1", &a, 1, one_rollout_row, &o, NULL);
    if (st == DS_OK && !o.found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no firmware rollout %lld", (long long)id);
    return st;
}

typedef struct list_rollouts {
    fw_rollout_cb cb;
    void *ctx;
    fw_rollout r;
} list_rollouts;

static int list_rollout_row(const ds_sql_row *row, void *ctx)
{
    list_rollouts *l = ctx;
    rollout_from_row(row, &l->r);
    return l->cb(&l->r, l->ctx);
}

/* see firmware.h */
ds_status fw_rollout_list(ds_store *s, const char *class_name, fw_rollout_state state, size_t limit,
                          fw_rollout_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL || state < FW_ROLLOUT_ANY || state > FW_ROLLOUT_CANCELLED)
        return DS_E_ARG;
    list_rollouts l = {cb, ctx, {0}};
    ds_sql_val a[] = {ds_sql_text(class_name), ds_sql_text(fw_rollout_state_name(state)),
                      ds_sql_int(limit == 0 || limit > FW_LIST_MAX ? FW_LIST_MAX : (int64_t)limit)};
    return ds_sql_exec(s,
                       ROLLOUT_SELECT "WHERE (CAST($1 AS TEXT) IS NULL OR o.class = $1) AND "
                                      "(CAST($2 AS TEXT) IS NULL OR o.state = $2) ORDER BY o.id LIMIT $3",
                       a, 3, list_rollout_row, &l, NULL);
}

/* see firmware.h */
ds_status fw_job_get(ds_store *s, int64_t id, fw_job *out)
{
    if (s == NULL || out == NULL || id <= 0)
        return DS_E_ARG;
    fw_one_job o = {out, false};
    ds_sql_val a = ds_sql_int(id);
    ds_status st = ds_sql_exec(s, "SELECT " FW_JOB_COLS " FROM firmware_jobs j WHERE j.id = $1", &a, 1,
                               fw_one_job_row, &o, NULL);
    if (st == DS_OK && !o.found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no firmware job %lld", (long long)id);
    return st;
}

typedef struct list_jobs {
    fw_job_cb cb;
    void *ctx;
    fw_job j;
} list_jobs;

static int list_job_row(const ds_sql_row *row, void *ctx)
{
    list_jobs *l = ctx;
    fw_job_from_row(row, &l->j);
    return l->cb(&l->j, l->ctx);
}

/* see firmware.h */
ds_status fw_job_list(ds_store *s, const fw_job_filter *f, fw_job_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL || (f != NULL && (f->state < FW_JOB_ANY || f->state > FW_JOB_CANCELLED)))
        return DS_E_ARG;
    fw_job_filter none = {NULL, 0, FW_JOB_ANY, 0};
    if (f == NULL)
        f = &none;
    list_jobs l = {cb, ctx, {0}};
    int64_t limit = f->limit == 0 || f->limit > FW_LIST_MAX ? FW_LIST_MAX : (int64_t)f->limit;
    /* Every parameter bound is used by its statement (PostgreSQL cannot
     * type an unused NULL). */
    ds_sql_val a[] = {ds_sql_int(f->rollout_id), ds_sql_text(fw_job_state_name(f->state)), ds_sql_int(limit),
                      ds_sql_blob(f->device_id, DS_DEVICE_ID_LEN)};
    const char *sql = f->device_id != NULL
                          ? "SELECT " FW_JOB_COLS " FROM firmware_jobs j WHERE j.device_id = $4 AND "
                            "($1 = 0 OR j.rollout_id = $1) AND (CAST($2 AS TEXT) IS NULL OR j.state = $2) "
                            "ORDER BY j.id LIMIT $3"
                          : "SELECT " FW_JOB_COLS " FROM firmware_jobs j WHERE "
                            "($1 = 0 OR j.rollout_id = $1) AND (CAST($2 AS TEXT) IS NULL OR j.state = $2) "
                            "ORDER BY j.id LIMIT $3";
    return ds_sql_exec(s, sql, a, f->device_id != NULL ? 4 : 3, list_job_row, &l, NULL);
}

/* ---- shared steps ----------------------------------------------------------------------------- */

void fw_subject_of(const char *kind, int64_t id, char out[40])
{
    snprintf(out, 40, "%s:%lld", kind, (long long)id);
}

/* A rollout whose last open job ended is done (by itself: actor "server"). */
ds_status fw_maybe_done(ds_store *s, int64_t rollout_id, int64_t now)
{
    ds_sql_val a[] = {ds_sql_int(rollout_id), ds_sql_int(now)};
    int64_t ch = 0;
    ds_status st =
        ds_sql_exec(s,
                    "UPDATE firmware_rollouts SET state = 'done', state_reason = 'every job has ended', "
                    "updated_at = $2 WHERE id = $1 AND state IN ('running', 'paused') AND NOT EXISTS "
                    "(SELECT 1 FROM firmware_jobs j WHERE j.rollout_id = $1 AND "
                    "j.state IN ('pending', 'offered', 'installed'))",
                    a, 2, NULL, NULL, &ch);
    if (st != DS_OK || ch == 0)
        return st;
    char subject[40];
    fw_subject_of("rollout", rollout_id, subject);
    return fw_audit(s, "server", "firmware.rollout_done", subject, NULL);
}

typedef struct timed_out {
    int64_t id[256];
    char device[256][33];
    char state[256][12];
    size_t n;
} timed_out;

static int timed_out_row(const ds_sql_row *r, void *ctx)
{
    timed_out *t = ctx;
    if (t->n == sizeof t->id / sizeof t->id[0])
        return 0;
    t->id[t->n] = ds_sql_get_int(r, 0);
    uint8_t dev[DS_DEVICE_ID_LEN] = {0};
    ds_sql_copy_blob(r, 1, dev, DS_DEVICE_ID_LEN);
    fw_hex(dev, DS_DEVICE_ID_LEN, t->device[t->n]);
    ds_sql_copy_text(r, 2, t->state[t->n], sizeof t->state[0]);
    t->n++;
    return 0;
}

/* Retries (or fails) the rollout's jobs in flight whose deadline passed;
 * the caller holds the rollout's lock. */
ds_status fw_expire_rollout(ds_store *s, int64_t rollout_id, int64_t now, int64_t *n)
{
    ds_sql_val a[] = {ds_sql_int(rollout_id), ds_sql_int(now),
                      ds_sql_text("no progress reported before the job's deadline")};
    timed_out *t = ds_calloc(1, sizeof *t);
    if (t == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "out of memory");
    /* Every job in flight holds a slot: at most max_in_flight rows (and
     * FW_IN_FLIGHT_MAX); entries are recorded for the first 256 of a batch. */
    ds_status st =
        ds_sql_exec(s,
                    "UPDATE firmware_jobs SET state = " FW_RETRY_STATE
                    ", deadline = 0, last_error = $3, updated_at = $2 WHERE rollout_id = $1 AND "
                    "state IN ('offered', 'installed') AND deadline < $2 RETURNING id, device_id, state",
                    a, 3, timed_out_row, t, n);
    for (size_t i = 0; st == DS_OK && i < t->n; i++) {
        char subject[40];
        fw_subject_of("fw-job", t->id[i], subject);
        st = fw_audit(s, "server", "firmware.job_timeout", subject,
                      json_pack("{s:s, s:I, s:s}", "device", t->device[i], "rollout", (json_int_t)rollout_id,
                                "state", t->state[i]));
    }
    ds_free(t);
    if (st == DS_OK && n != NULL && *n > 0)
        st = fw_maybe_done(s, rollout_id, now);
    return st;
}

/* One job in flight: retried or failed, with why. The caller holds the
 * locks and records the audit entry. */
ds_status fw_retry_job(ds_store *s, const fw_job *j, const char *why, int64_t now)
{
    ds_sql_val a[] = {ds_sql_int(j->id), ds_sql_int(now), ds_sql_text(why)};
    ds_status st = ds_sql_exec(s,
                               "UPDATE firmware_jobs SET state = " FW_RETRY_STATE
                               ", deadline = 0, last_error = $3, updated_at = $2 WHERE id = $1 AND "
                               "state IN ('offered', 'installed')",
                               a, 3, NULL, NULL, NULL);
    return st == DS_OK ? fw_maybe_done(s, j->rollout_id, now) : st;
}

ds_status fw_load_job(ds_store *s, int64_t id, fw_job *j, bool *found)
{
    fw_one_job o = {j, false};
    ds_sql_val a = ds_sql_int(id);
    ds_status st = ds_sql_exec(s, "SELECT " FW_JOB_COLS " FROM firmware_jobs j WHERE j.id = $1", &a, 1,
                               fw_one_job_row, &o, NULL);
    *found = o.found;
    return st;
}

ds_status fw_load_rollout(ds_store *s, int64_t id, fw_rollout *r)
{
    one_rollout o = {r, false};
    ds_sql_val a = ds_sql_int(id);
    ds_status st = ds_sql_exec(s, ROLLOUT_SELECT "WHERE o.id = $1", &a, 1, one_rollout_row, &o, NULL);
    if (st == DS_OK && !o.found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no firmware rollout %lld", (long long)id);
    return st;
}

/* ---- the devices of a class -------------------------------------------------------------------- */

typedef struct candidate {
    uint8_t id[DS_DEVICE_ID_LEN];
    bool needs; /* its last verified attestation does not show the release */
    char version[DROT_EAT_MAX_TEXT + 1];
} candidate;

typedef struct candidates {
    candidate *v;
    size_t n, cap;
    const char *component;
    const uint8_t *digest;
    bool oom;
} candidates;

static int candidate_row(const ds_sql_row *r, void *ctx)
{
    candidates *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 64 : 2 * c->cap;
        candidate *v = ds_calloc(cap, sizeof *v);
        if (v == NULL) {
            c->oom = true;
            return 1;
        }
        if (c->n > 0)
            memcpy(v, c->v, c->n * sizeof *v);
        ds_free(c->v);
        c->v = v;
        c->cap = cap;
    }
    candidate *d = &c->v[c->n++];
    memset(d, 0, sizeof *d);
    ds_sql_copy_blob(r, 0, d->id, DS_DEVICE_ID_LEN);
    const char *res = ds_sql_get_text(r, 1);
    size_t tlen = 0;
    const uint8_t *tok = ds_sql_get_blob(r, 2, &tlen);
    fw_measured m;
    /* Only a verified token (PASS or WARN) says what the device runs. */
    bool verified = strcmp(res, "PASS") == 0 || strcmp(res, "WARN") == 0;
    if (verified && fw_token_component(tok, tlen, c->component, &m) && m.found) {
        memcpy(d->version, m.version, sizeof d->version);
        d->needs = !(m.digest_ok && drot_ct_equal(m.digest, c->digest, DS_DIGEST_LEN) == DROT_OK);
    } else {
        d->needs = true;
    }
    return 0;
}

/* Enrolled and active devices of the class, with what they run. */
static ds_status load_candidates(ds_store *s, const char *cls, const fw_release *rel, candidates *c)
{
    memset(c, 0, sizeof *c);
    c->component = rel->component;
    c->digest = rel->image_digest;
    ds_sql_val a = ds_sql_text(cls);
    ds_status st =
        ds_sql_exec(s,
                    "SELECT d.device_id, a.result, a.token FROM devices d LEFT JOIN attestations a ON "
                    "a.id = (SELECT max(x.id) FROM attestations x WHERE x.device_id = d.device_id) "
                    "WHERE d.class = $1 AND d.status IN ('enrolled', 'active') ORDER BY d.device_id",
                    &a, 1, candidate_row, c, NULL);
    if (st == DS_OK && c->oom)
        st = ds_store_fail(s, DS_E_NOMEM, "out of memory listing the class's devices");
    if (st != DS_OK) {
        ds_free(c->v);
        memset(c, 0, sizeof *c);
    }
    return st;
}

/* ---- rollouts ------------------------------------------------------------------------------------ */

static bool params_ok(ds_store *s, const fw_rollout_params *p, fw_rollout_params *norm)
{
    if (p == NULL || !fw_class_ok(p->class_name)) {
        ds_store_fail(s, DS_E_ARG, "rollout: bad class name (1..%d of [A-Za-z0-9._-])", DS_CLASS_MAX);
        return false;
    }
    if (!fw_text_ok(p->component, DROT_MANIFEST_MAX_COMPONENT) ||
        !fw_text_ok(p->version, DROT_MANIFEST_MAX_VERSION)) {
        ds_store_fail(s, DS_E_ARG, "rollout: bad component or version");
        return false;
    }
    *norm = *p;
    if (norm->max_attempts == 0)
        norm->max_attempts = DEFAULT_ATTEMPTS;
    if (norm->job_timeout == 0)
        norm->job_timeout = DEFAULT_TIMEOUT;
    if (norm->max_in_flight < 1 || norm->max_in_flight > FW_IN_FLIGHT_MAX ||
        norm->max_attempts > FW_ATTEMPTS_MAX || norm->job_timeout < FW_TIMEOUT_MIN ||
        norm->job_timeout > FW_TIMEOUT_MAX) {
        ds_store_fail(s, DS_E_ARG,
                      "rollout: max_in_flight must be 1..%u, max_attempts 1..%u, job_timeout %d..%d seconds",
                      FW_IN_FLIGHT_MAX, FW_ATTEMPTS_MAX, FW_TIMEOUT_MIN, FW_TIMEOUT_MAX);
        return false;
    }
    return true;
}

typedef struct start_ctx {
    fw_rollout_params p;
    const char *actor;
    int64_t now;
    fw_rollout_result *res;
} start_ctx;

static int open_row(const ds_sql_row *r, void *ctx)
{
    int64_t *v = ctx;
    v[0] = ds_sql_get_int(r, 0);
    v[1] = ds_sql_get_int(r, 1);
    return 1;
}

static ds_status class_lock(ds_store *s, const char *cls, const char *component)
{
    char name[128];
    snprintf(name, sizeof name, "fw-class:%s/%s", cls, component);
    return ds_sql_lock(s, name);
}

static ds_status start_tx(ds_store *s, void *vctx)
{
    start_ctx *c = vctx;
    const fw_rollout_params *p = &c->p;
    fw_rollout_result *res = c->res;
    ds_status st = class_lock(s, p->class_name, p->component);
    fw_release rel;
    if (st == DS_OK)
        st = fw_release_find(s, p->component, p->version, &rel);
    if (st != DS_OK)
        return st;
    int64_t open[2] = {0, 0}; /* id, release */
    ds_sql_val k[] = {ds_sql_text(p->class_name), ds_sql_text(p->component)};
    st = ds_sql_exec(s,
                     "SELECT id, release_id FROM firmware_rollouts WHERE class = $1 AND component = $2 AND "
                     "state IN ('running', 'paused')",
                     k, 2, open_row, open, NULL);
    candidates cand;
    if (st == DS_OK)
        st = load_candidates(s, p->class_name, &rel, &cand);
    if (st != DS_OK)
        return st;
    size_t needed = 0;
    for (size_t i = 0; i < cand.n; i++)
        needed += cand.v[i].needs;
    int64_t rid = 0;
    if (open[0] != 0 && open[1] == rel.id) {
        rid = open[0]; /* the same target: kept, devices added */
    } else if (open[0] == 0 && needed == 0) {
        ds_free(cand.v); /* nothing to do, nothing written */
        return DS_OK;
    } else {
        if (open[0] != 0) { /* another target: the new one supersedes it */
            char why[FW_REASON_MAX + 1];
            snprintf(why, sizeof why, "superseded by a rollout of %s %s (%.150s)", p->component, p->version,
                     c->actor);
            ds_sql_val a[] = {ds_sql_int(open[0]), ds_sql_int(c->now), ds_sql_text(why)};
            st = fw_lock_id(s, "fw-rollout:", open[0]);
            if (st == DS_OK)
                st = ds_sql_exec(
                    s,
                    "UPDATE firmware_jobs SET state = 'cancelled', last_error = $3, updated_at = $2 "
                    "WHERE rollout_id = $1 AND state = 'pending'",
                    a, 3, NULL, NULL, NULL);
            if (st == DS_OK)
                st = ds_sql_exec(s,
                                 "UPDATE firmware_rollouts SET state = 'cancelled', state_reason = $3, "
                                 "updated_at = $2 WHERE id = $1",
                                 a, 3, NULL, NULL, NULL);
            char subject[40];
            fw_subject_of("rollout", open[0], subject);
            if (st == DS_OK)
                st = fw_audit(s, c->actor, "firmware.rollout_state", subject,
                              json_pack("{s:s, s:s}", "to", "cancelled", "reason", why));
            res->superseded = open[0];
        }
        ds_sql_val a[] = {ds_sql_text(p->class_name),  ds_sql_text(p->component),
                          ds_sql_int(rel.id),          ds_sql_int(p->max_in_flight),
                          ds_sql_int(p->max_attempts), ds_sql_int(p->job_timeout),
                          ds_sql_text(c->actor),       ds_sql_int(c->now)};
        if (st == DS_OK)
            st = ds_sql_int1(
                s,
                "INSERT INTO firmware_rollouts (class, component, release_id, max_in_flight, "
                "max_attempts, job_timeout, state, state_reason, created_by, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'running', '', $7, $8, $8) RETURNING id",
                a, 8, &rid, NULL);
        res->created = st == DS_OK;
    }
    /* One pending job per device that needs the release; F3 skips those the
     * rollout already has (whatever their state). */
    for (size_t i = 0; st == DS_OK && i < cand.n; i++) {
        if (!cand.v[i].needs)
            continue;
        int64_t ch = 0;
        ds_sql_val a[] = {ds_sql_blob(cand.v[i].id, DS_DEVICE_ID_LEN), ds_sql_int(rid), ds_sql_int(rel.id),
                          ds_sql_int(c->now)};
        st = ds_sql_exec(s,
                         "INSERT INTO firmware_jobs (device_id, rollout_id, release_id, state, attempts, "
                         "max_attempts, created_at, updated_at) SELECT $1, o.id, $3, 'pending', 0, "
                         "o.max_attempts, $4, $4 FROM firmware_rollouts o WHERE o.id = $2 "
                         "ON CONFLICT (rollout_id, device_id) DO NOTHING",
                         a, 4, NULL, NULL, &ch);
        res->jobs_created += (size_t)ch;
    }
    ds_free(cand.v);
    if (st == DS_OK && res->created && res->jobs_created == 0) {
        ds_sql_val a[] = {ds_sql_int(rid), ds_sql_int(c->now)};
        st = ds_sql_exec(
            s,
            "UPDATE firmware_rollouts SET state = 'done', state_reason = 'every device of the class "
            "already runs it', updated_at = $2 WHERE id = $1",
            a, 2, NULL, NULL, NULL);
    }
    char subject[40];
    fw_subject_of("rollout", rid, subject);
    if (st == DS_OK && res->created)
        st = fw_audit(
            s, c->actor, "firmware.rollout_start", subject,
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "class", p->class_name, "component",
                      p->component, "version", p->version, "release", (json_int_t)rel.id, "max_in_flight",
                      (json_int_t)p->max_in_flight, "max_attempts", (json_int_t)p->max_attempts,
                      "job_timeout", (json_int_t)p->job_timeout, "jobs", (json_int_t)res->jobs_created,
                      "superseded", res->superseded != 0 ? json_integer(res->superseded) : json_null()));
    else if (st == DS_OK && res->jobs_created > 0)
        st = fw_audit(s, c->actor, "firmware.rollout_extend", subject,
                      json_pack("{s:I}", "jobs", (json_int_t)res->jobs_created));
    res->rollout_id = rid;
    return st;
}

/* see firmware.h */
ds_status fw_rollout_start(ds_store *s, const fw_rollout_params *p, const char *actor, int64_t now,
                           fw_rollout_result *res)
{
    if (s == NULL || res == NULL)
        return DS_E_ARG;
    memset(res, 0, sizeof *res);
    start_ctx c = {.actor = actor, .now = now, .res = res};
    if (!params_ok(s, p, &c.p))
        return DS_E_ARG;
    if (!fw_actor_ok(actor))
        return ds_store_fail(s, DS_E_ARG, "rollout: the actor must be 1..%d printable bytes without spaces",
                             FW_ACTOR_MAX);
    ds_status st = ds_sql_tx(s, start_tx, &c);
    if (st != DS_OK)
        memset(res, 0, sizeof *res);
    return st;
}

/* see firmware.h */
ds_status fw_rollout_ensure(ds_store *s, const char *class_name, const char *component, const char *version,
                            uint32_t max_in_flight, const char *actor, int64_t *rollout_id, char *err,
                            size_t errlen)
{
    fw_rollout_params p = {class_name, component, version, max_in_flight, 0, 0};
    fw_rollout_result res;
    ds_status st = fw_rollout_start(s, &p, actor, ds_store_now(), &res);
    if (rollout_id != NULL)
        *rollout_id = st == DS_OK ? res.rollout_id : 0;
    if (st != DS_OK && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", s != NULL ? ds_store_error(s) : "no store");
    return st;
}

/* see firmware.h */
ds_status fw_rollout_plan(ds_store *s, const char *class_name, const char *component, const char *version,
                          fw_plan_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    if (!fw_class_ok(class_name))
        return ds_store_fail(s, DS_E_ARG, "plan: bad class name");
    fw_release rel;
    ds_status st = fw_release_find(s, component, version, &rel);
    candidates cand;
    if (st == DS_OK)
        st = load_candidates(s, class_name, &rel, &cand);
    if (st != DS_OK)
        return st;
    for (size_t i = 0; i < cand.n; i++)
        if (cand.v[i].needs)
            cb(cand.v[i].id, cand.v[i].version, ctx);
    ds_free(cand.v);
    return DS_OK;
}

typedef struct state_ctx {
    int64_t id;
    fw_rollout_state to;
    const char *why;
    const char *actor;
    int64_t now;
} state_ctx;

static ds_status set_state_tx(ds_store *s, void *vctx)
{
    state_ctx *c = vctx;
    fw_rollout r;
    ds_status st = fw_lock_id(s, "fw-rollout:", c->id);
    if (st == DS_OK)
        st = fw_load_rollout(s, c->id, &r);
    if (st != DS_OK)
        return st;
    if (r.state == c->to)
        return DS_OK;
    bool ok =
        (r.state == FW_ROLLOUT_RUNNING && c->to == FW_ROLLOUT_PAUSED) ||
        (r.state == FW_ROLLOUT_PAUSED && c->to == FW_ROLLOUT_RUNNING) ||
        ((r.state == FW_ROLLOUT_RUNNING || r.state == FW_ROLLOUT_PAUSED) && c->to == FW_ROLLOUT_CANCELLED);
    if (!ok)
        return ds_store_fail(s, DS_E_CONFLICT, "rollout %lld is %s: it cannot become %s%s", (long long)c->id,
                             fw_rollout_state_name(r.state), fw_rollout_state_name(c->to),
                             r.state == FW_ROLLOUT_DONE || r.state == FW_ROLLOUT_CANCELLED ? " (it has ended)"
                             : c->to == FW_ROLLOUT_DONE ? " (a rollout is done by itself when its jobs end)"
                                                        : "");
    ds_sql_val a[] = {ds_sql_int(c->id), ds_sql_int(c->now), ds_sql_text(c->why != NULL ? c->why : ""),
                      ds_sql_text(fw_rollout_state_name(c->to))};
    int64_t cancelled = 0;
    if (c->to == FW_ROLLOUT_CANCELLED)
        st = ds_sql_exec(
            s,
            "UPDATE firmware_jobs SET state = 'cancelled', last_error = 'rollout cancelled: ' || $3, "
            "updated_at = $2 WHERE rollout_id = $1 AND state = 'pending'",
            a, 3, NULL, NULL, &cancelled);
    if (st == DS_OK)
        st = ds_sql_exec(
            s, "UPDATE firmware_rollouts SET state = $4, state_reason = $3, updated_at = $2 WHERE id = $1", a,
            4, NULL, NULL, NULL);
    char subject[40];
    fw_subject_of("rollout", c->id, subject);
    if (st == DS_OK)
        st = fw_audit(s, c->actor, "firmware.rollout_state", subject,
                      json_pack("{s:s, s:s, s:s, s:I}", "from", fw_rollout_state_name(r.state), "to",
                                fw_rollout_state_name(c->to), "reason", c->why != NULL ? c->why : "",
                                "jobs_cancelled", (json_int_t)cancelled));
    if (st == DS_OK && c->to != FW_ROLLOUT_CANCELLED)
        st = fw_maybe_done(s, c->id, c->now);
    return st;
}

/* see firmware.h */
ds_status fw_rollout_set_state(ds_store *s, int64_t id, fw_rollout_state to, const char *why,
                               const char *actor, int64_t now, fw_rollout *out)
{
    if (s == NULL || id <= 0 || to < FW_ROLLOUT_RUNNING || to > FW_ROLLOUT_CANCELLED)
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_ARG, "rollout state: bad id or state");
    if (why != NULL && strlen(why) > FW_REASON_MAX)
        return ds_store_fail(s, DS_E_ARG, "the reason is longer than %d bytes", FW_REASON_MAX);
    if (!fw_actor_ok(actor))
        return ds_store_fail(s, DS_E_ARG, "rollout state: a bad actor");
    state_ctx c = {id, to, why, actor, now};
    ds_status st = ds_sql_tx(s, set_state_tx, &c);
    return st == DS_OK && out != NULL ? fw_rollout_get(s, id, out) : st;
}
