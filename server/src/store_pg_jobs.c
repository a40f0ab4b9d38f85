/*
 * store_pg_jobs.c — rotation jobs and campaigns on PostgreSQL (store.h,
 * "rotation jobs" and "campaigns"), for several servers sharing the work.
 *
 * Concurrency (READ COMMITTED):
 *   - every step that changes a job locks its row first (SELECT … FOR
 *     UPDATE), then its campaign's row, then its device's row: always in
 *     that order, so two steps cannot deadlock on each other. A second server
 *     doing the same step waits for the first, then reads what it wrote and
 *     is refused by the same check (ds_job_check_*, store_jobs.c);
 *   - counts that a decision depends on (issued jobs against max_parallel,
 *     failed jobs against fail_threshold) are read by a statement issued
 *     AFTER the campaign row is locked: in READ COMMITTED each statement
 *     takes a new snapshot, so the count includes every job step that held
 *     the lock before;
 *   - ds_job_lease and ds_job_claim read with FOR UPDATE SKIP LOCKED: a row
 *     another server is changing right now is skipped (claim) or reported
 *     busy (lease), never waited for. ds_job_claim is one statement (a
 *     MATERIALIZED CTE that locks, and the UPDATE … RETURNING), so each job
 *     goes to exactly one claimer;
 *   - one open job per device is a partial UNIQUE index: of two servers
 *     creating a job for the same device, the second gets unique_violation
 *     (DS_E_EXISTS); a campaign's bulk insert skips such devices with ON
 *     CONFLICT DO NOTHING;
 *   - cancelling a campaign locks its pending jobs before the campaign row,
 *     keeping the job-then-campaign order.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

enum {
    J_INSERT,
    J_GET,
    J_GET_LOCK,
    J_GET_SKIP,
    J_EXISTS,
    J_OPEN_DEV,
    J_LIST,
    J_SET_LEASE,
    J_RELEASE,
    J_CLAIM,
    J_ISSUE,
    J_TO_PENDING,
    J_ADVANCE,
    J_END,
    J_COMPLETE,
    J_DEV,
    J_KEY_INSERT,
    J_DEV_SET_KEY,
    C_ROW_LOCK,
    C_GET,
    C_LIST,
    C_COUNT,
    C_COUNT_OPEN,
    C_INSERT,
    C_JOBS,
    C_SET_STATE,
    C_LOCK_PENDING,
    C_CANCEL_PENDING,
    J_COUNT
};
_Static_assert(J_COUNT <= PG_JOB_STMT_MAX, "raise PG_JOB_STMT_MAX");

#define JOB_COLS                                                                                             \
    "id, device_id, kind, mode, state, attempts, max_attempts, from_epoch, new_pub, nonce, "                 \
    "instruction_tbs, "                                                                                      \
    "lease_owner, lease_until, campaign_id, created_at, updated_at, last_error, anchor_pub, step, old_slot"
#define CAMP_COLS                                                                                            \
    "c.id, c.class, c.kind, c.mode, c.max_parallel, c.fail_threshold, c.max_attempts, c.state, "             \
    "c.stop_reason, c.created_at, c.updated_at"
#define CAMP_COUNT(st)                                                                                       \
    "(SELECT count(*) FROM rotation_jobs j WHERE j.campaign_id = c.id AND j.state = '" st "')"
#define CAMP_COUNTS                                                                                          \
    CAMP_COUNT("pending")                                                                                    \
    ", " CAMP_COUNT("issued") ", " CAMP_COUNT("completed") ", " CAMP_COUNT("failed") ", " CAMP_COUNT(        \
        "cancelled")

static const char *const sql_text[J_COUNT] = {
    [J_INSERT] = "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, campaign_id, "
                 "created_at, updated_at, anchor_pub) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $6, $7) "
                 "RETURNING id",
    [J_GET] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE id = $1",
    [J_GET_LOCK] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE id = $1 FOR UPDATE",
    [J_GET_SKIP] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE id = $1 FOR UPDATE SKIP LOCKED",
    [J_EXISTS] = "SELECT lease_owner FROM rotation_jobs WHERE id = $1",
    [J_OPEN_DEV] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE device_id = $1 "
                   "AND state IN ('pending', 'issued')",
    [J_LIST] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE ($1::bytea IS NULL OR device_id = $1) "
               "AND ($2::text IS NULL OR state = $2) AND ($3::bigint = 0 OR campaign_id = $3) "
               "ORDER BY id LIMIT $4 OFFSET $5",
    [J_SET_LEASE] = "UPDATE rotation_jobs SET lease_owner = $2, lease_until = $3 WHERE id = $1",
    [J_RELEASE] = "UPDATE rotation_jobs SET lease_owner = NULL, lease_until = 0 "
                  "WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2::text)",
    [J_CLAIM] = "WITH picked AS MATERIALIZED (SELECT j.id AS pid FROM rotation_jobs j "
                "WHERE j.state = 'pending' AND (j.lease_owner IS NULL OR j.lease_until <= $4) "
                "AND ($1::bigint = 0 OR j.campaign_id = $1) "
                "AND (j.campaign_id IS NULL OR EXISTS (SELECT 1 FROM rotation_campaigns k "
                "WHERE k.id = j.campaign_id AND k.state = 'running')) "
                "ORDER BY j.id LIMIT $5 FOR UPDATE OF j SKIP LOCKED) "
                "UPDATE rotation_jobs SET lease_owner = $2::text, lease_until = $3 FROM picked "
                "WHERE rotation_jobs.id = picked.pid RETURNING " JOB_COLS,
    [J_ISSUE] = "UPDATE rotation_jobs SET state = 'issued', attempts = attempts + 1, from_epoch = $2, "
                "new_pub = $3, nonce = $4, instruction_tbs = $5, updated_at = $6 WHERE id = $1",
    [J_TO_PENDING] =
        "UPDATE rotation_jobs SET state = 'pending', last_error = $2, updated_at = $3, step = 0, "
        "old_slot = -1 WHERE id = $1",
    [J_ADVANCE] = "UPDATE rotation_jobs SET step = $2, old_slot = $3, updated_at = $4 WHERE id = $1",
    [J_END] = "UPDATE rotation_jobs SET state = $2, last_error = $3, updated_at = $4, lease_owner = NULL, "
              "lease_until = 0 WHERE id = $1",
    [J_COMPLETE] = "UPDATE rotation_jobs SET state = 'completed', updated_at = $2, lease_owner = NULL, "
                   "lease_until = 0 WHERE id = $1",
    [J_DEV] =
        "SELECT drk_pub, instance_id, epoch, status, class FROM devices WHERE device_id = $1 FOR UPDATE",
    [J_KEY_INSERT] = "INSERT INTO device_keys (device_id, epoch, drk_pub, instance_id, retired_at) "
                     "VALUES ($1, $2, $3, $4, $5)",
    [J_DEV_SET_KEY] = "UPDATE devices SET drk_pub = $2, instance_id = $3, epoch = $4, updated_at = $5 "
                      "WHERE device_id = $1",
    [C_ROW_LOCK] = "SELECT " CAMP_COLS " FROM rotation_campaigns c WHERE c.id = $1 FOR UPDATE",
    [C_GET] = "SELECT " CAMP_COLS ", " CAMP_COUNTS " FROM rotation_campaigns c WHERE c.id = $1",
    [C_LIST] = "SELECT " CAMP_COLS ", " CAMP_COUNTS " FROM rotation_campaigns c WHERE "
               "($1::text IS NULL OR c.class = $1) AND ($2::text IS NULL OR c.state = $2) "
               "ORDER BY c.id LIMIT $3 OFFSET $4",
    [C_COUNT] = "SELECT count(*) FROM rotation_jobs WHERE campaign_id = $1 AND state = $2",
    [C_COUNT_OPEN] =
        "SELECT count(*) FROM rotation_jobs WHERE campaign_id = $1 AND state IN ('pending', 'issued')",
    [C_INSERT] =
        "INSERT INTO rotation_campaigns (class, kind, mode, max_parallel, fail_threshold, "
        "max_attempts, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $7) "
        "RETURNING id",
    [C_JOBS] =
        "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, campaign_id, "
        "created_at, updated_at) SELECT d.device_id, $2::text, $3::text, 'pending', $4::bigint, $1::bigint, "
        "$5::bigint, $5::bigint FROM devices d WHERE d.class = $6::text AND d.status = 'active' AND NOT "
        "EXISTS (SELECT 1 FROM rotation_jobs j "
        "WHERE j.device_id = d.device_id AND j.state IN ('pending', 'issued')) ORDER BY d.device_id "
        "ON CONFLICT DO NOTHING",
    [C_SET_STATE] =
        "UPDATE rotation_campaigns SET state = $2, stop_reason = $3, updated_at = $4 WHERE id = $1",
    [C_LOCK_PENDING] =
        "SELECT id FROM rotation_jobs WHERE campaign_id = $1 AND state = 'pending' ORDER BY id "
        "FOR UPDATE",
    [C_CANCEL_PENDING] = "UPDATE rotation_jobs SET state = 'cancelled', last_error = $2, updated_at = $3, "
                         "lease_owner = NULL, lease_until = 0 WHERE campaign_id = $1 AND state = 'pending'",
};

static PGresult *q(pg_store *s, int k, const pg_params *p, ds_status *st)
{
    char name[16];
    snprintf(name, sizeof name, "ds_j%d", k);
    return pg_q_sql(s, name, sql_text[k], &s->jprepared[k], p, st);
}

static ds_status run(pg_store *s, int k, const pg_params *p, long *affected)
{
    ds_status st;
    PGresult *res = q(s, k, p, &st); /* sets st: read it after the call */
    return pg_result_done(res, st, affected);
}

static ds_status corrupt(pg_store *s, const char *what)
{
    return ds_store_fail(&s->base, DS_E_CORRUPT, "postgres: malformed %s row", what);
}

static ds_status row_job(pg_store *s, const PGresult *r, int i, ds_job *j)
{
    char kind[32], mode[16], state[16];
    memset(j, 0, sizeof *j);
    j->id = g_int(r, i, 0);
    bool ok = g_blob(r, i, 1, j->device_id, DS_DEVICE_ID_LEN);
    g_text(r, i, 2, kind, sizeof kind);
    g_text(r, i, 3, mode, sizeof mode);
    g_text(r, i, 4, state, sizeof state);
    j->attempts = (uint32_t)g_int(r, i, 5);
    j->max_attempts = (uint32_t)g_int(r, i, 6);
    j->from_epoch = (uint64_t)g_int(r, i, 7);
    j->has_new_key = !PQgetisnull(r, i, 8);
    if (j->has_new_key)
        ok = ok && g_blob(r, i, 8, j->new_pub, DS_DRK_PUB_LEN) && g_blob(r, i, 9, j->nonce, DS_NONCE_LEN) &&
             g_blob(r, i, 10, j->instruction_tbs, DS_DIGEST_LEN);
    g_text(r, i, 11, j->lease_owner, sizeof j->lease_owner);
    j->lease_until = g_int(r, i, 12);
    j->campaign_id = g_int(r, i, 13); /* NULL reads as 0 = none */
    j->created_at = g_int(r, i, 14);
    j->updated_at = g_int(r, i, 15);
    g_text(r, i, 16, j->error, sizeof j->error);
    j->has_anchor_pub = !PQgetisnull(r, i, 17);
    if (j->has_anchor_pub)
        ok = ok && g_blob(r, i, 17, j->anchor_pub, DS_DRK_PUB_LEN);
    j->step = (uint32_t)g_int(r, i, 18);
    j->old_slot = (int32_t)g_int(r, i, 19);
    if (!ok || ds_job_kind_parse(kind, &j->kind) != DS_OK || ds_job_mode_parse(mode, &j->mode) != DS_OK ||
        ds_job_state_parse(state, &j->state) != DS_OK)
        return corrupt(s, "rotation_jobs");
    return DS_OK;
}

static ds_status row_campaign(pg_store *s, const PGresult *r, int i, bool counts, ds_campaign *c)
{
    char kind[32], mode[16], state[16];
    memset(c, 0, sizeof *c);
    c->id = g_int(r, i, 0);
    g_text(r, i, 1, c->class_name, sizeof c->class_name);
    g_text(r, i, 2, kind, sizeof kind);
    g_text(r, i, 3, mode, sizeof mode);
    c->max_parallel = (uint32_t)g_int(r, i, 4);
    c->fail_threshold = (uint32_t)g_int(r, i, 5);
    c->max_attempts = (uint32_t)g_int(r, i, 6);
    g_text(r, i, 7, state, sizeof state);
    g_text(r, i, 8, c->stop_reason, sizeof c->stop_reason);
    c->created_at = g_int(r, i, 9);
    c->updated_at = g_int(r, i, 10);
    if (counts) {
        c->n_pending = (uint64_t)g_int(r, i, 11);
        c->n_issued = (uint64_t)g_int(r, i, 12);
        c->n_completed = (uint64_t)g_int(r, i, 13);
        c->n_failed = (uint64_t)g_int(r, i, 14);
        c->n_cancelled = (uint64_t)g_int(r, i, 15);
    }
    if (ds_job_kind_parse(kind, &c->kind) != DS_OK || ds_job_mode_parse(mode, &c->mode) != DS_OK ||
        ds_campaign_state_parse(state, &c->state) != DS_OK)
        return corrupt(s, "rotation_campaigns");
    return DS_OK;
}

/* Runs job query k with one parameter and reads its one row. */
static ds_status read_job_q(pg_store *s, int k, const pg_params *p, ds_job *out)
{
    ds_status st;
    PGresult *r = q(s, k, p, &st);
    if (r == NULL)
        return st;
    if (PQntuples(r) == 1)
        st = row_job(s, r, 0, out);
    else
        st = ds_store_fail(&s->base, DS_E_NOT_FOUND,
                           k == J_OPEN_DEV ? "no open job for the device" : "no such job");
    PQclear(r);
    return st;
}

static ds_status read_job(pg_store *s, int k, int64_t id, ds_job *out)
{
    pg_params p = {0};
    p_int(&p, id);
    return read_job_q(s, k, &p, out);
}

static ds_status read_campaign(pg_store *s, int k, int64_t id, ds_campaign *out)
{
    pg_params p = {0};
    p_int(&p, id);
    ds_status st;
    PGresult *r = q(s, k, &p, &st);
    if (r == NULL)
        return st;
    if (PQntuples(r) == 1)
        st = row_campaign(s, r, 0, k == C_GET, out);
    else
        st = ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such campaign");
    PQclear(r);
    return st;
}

typedef struct dev_row {
    uint8_t drk_pub[DS_DRK_PUB_LEN];
    uint8_t instance_id[DS_INSTANCE_ID_LEN];
    uint64_t epoch;
    ds_device_status status;
    char class_name[DS_CLASS_MAX + 1];
} dev_row;

/* Reads and locks (FOR UPDATE) the device columns a job step needs. */
static ds_status read_device(pg_store *s, const uint8_t *id, dev_row *d)
{
    pg_params p = {0};
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    ds_status st;
    PGresult *r = q(s, J_DEV, &p, &st);
    if (r == NULL)
        return st;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such device");
    }
    char status[32];
    bool ok =
        g_blob(r, 0, 0, d->drk_pub, DS_DRK_PUB_LEN) && g_blob(r, 0, 1, d->instance_id, DS_INSTANCE_ID_LEN);
    d->epoch = (uint64_t)g_int(r, 0, 2);
    g_text(r, 0, 3, status, sizeof status);
    g_text(r, 0, 4, d->class_name, sizeof d->class_name);
    PQclear(r);
    if (!ok || ds_device_status_parse(status, &d->status) != DS_OK)
        return corrupt(s, "devices");
    return DS_OK;
}

/* The campaign's jobs in state (NULL = open ones). */
static ds_status count_jobs(pg_store *s, int64_t campaign_id, const char *state, uint64_t *n)
{
    pg_params p = {0};
    p_int(&p, campaign_id);
    if (state != NULL)
        p_text(&p, state);
    ds_status st;
    PGresult *r = q(s, state == NULL ? C_COUNT_OPEN : C_COUNT, &p, &st);
    if (r == NULL)
        return st;
    *n = PQntuples(r) == 1 ? (uint64_t)g_int(r, 0, 0) : 0;
    PQclear(r);
    return DS_OK;
}

static ds_status set_campaign_state(pg_store *s, int64_t id, ds_campaign_state to, const char *why,
                                    int64_t now)
{
    pg_params p = {0};
    p_int(&p, id);
    p_text(&p, ds_campaign_state_name(to));
    p_text(&p, why);
    p_int(&p, now);
    return run(s, C_SET_STATE, &p, NULL);
}

/* After one of c's jobs ended, c locked: threshold (C2) or done. */
static ds_status campaign_after_job(pg_store *s, const ds_campaign *c, int64_t now)
{
    uint64_t failed = 0, open = 0;
    ds_status r = count_jobs(s, c->id, "failed", &failed);
    if (r == DS_OK)
        r = count_jobs(s, c->id, NULL, &open);
    if (r != DS_OK)
        return r;
    ds_campaign_state to;
    char why[DS_JOB_ERROR_MAX + 1];
    ds_campaign_after_job(c, failed, open, &to, why, sizeof why);
    return to == c->state ? DS_OK : set_campaign_state(s, c->id, to, why, now);
}

static ds_status commit(pg_store *s)
{
    ds_status r = pg_commit(s);
    return r == DS_OK ? DS_OK : pg_rollback(s, r);
}

/* ---- jobs ------------------------------------------------------------------------ */

static ds_status pg_job_create(ds_store *base, const uint8_t *device_id, const uint8_t *anchor_pub,
                               ds_job_kind kind, ds_job_mode mode, uint32_t max_attempts, int64_t campaign_id,
                               int64_t now, int64_t *id_out)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    dev_row d;
    ds_campaign c;
    /* campaign before device: the lock order of ds_job_issue */
    if (campaign_id != 0 && (r = read_campaign(s, C_ROW_LOCK, campaign_id, &c)) != DS_OK)
        return pg_rollback(s, r);
    if ((r = read_device(s, device_id, &d)) != DS_OK ||
        (r = ds_job_check_create_device(base, d.status)) != DS_OK ||
        (campaign_id != 0 && (r = ds_job_check_create_campaign(base, &c, d.class_name, kind, mode)) != DS_OK))
        return pg_rollback(s, r);
    pg_params p = {0};
    p_blob(&p, device_id, DS_DEVICE_ID_LEN);
    p_text(&p, ds_job_kind_name(kind));
    p_text(&p, ds_job_mode_name(mode));
    p_int(&p, max_attempts);
    if (campaign_id != 0)
        p_int(&p, campaign_id);
    else
        p_text(&p, NULL);
    p_int(&p, now);
    p_blob(&p, anchor_pub, DS_DRK_PUB_LEN);
    PGresult *res = q(s, J_INSERT, &p, &r);
    if (res == NULL) {
        if (r == DS_E_EXISTS)
            ds_store_fail(base, r, "the device already has an open rotation job");
        return pg_rollback(s, r);
    }
    int64_t id = PQntuples(res) == 1 ? g_int(res, 0, 0) : 0;
    PQclear(res);
    if ((r = commit(s)) == DS_OK && id_out != NULL)
        *id_out = id;
    return r;
}

static ds_status pg_job_get(ds_store *base, int64_t id, ds_job *out)
{
    return read_job(pg(base), J_GET, id, out);
}

static ds_status pg_job_open_for_device(ds_store *base, const uint8_t *device_id, ds_job *out)
{
    pg_params p = {0};
    p_blob(&p, device_id, DS_DEVICE_ID_LEN);
    return read_job_q(pg(base), J_OPEN_DEV, &p, out);
}

static ds_status pg_job_list(ds_store *base, const ds_job_filter *f, ds_job_cb cb, void *ctx)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_blob(&p, f->device_id, DS_DEVICE_ID_LEN);
    p_text(&p, f->state == DS_JOB_ANY ? NULL : ds_job_state_name(f->state));
    p_int(&p, f->campaign_id);
    if (f->limit == 0)
        p_text(&p, NULL);
    else
        p_int(&p, (int64_t)f->limit);
    p_int(&p, (int64_t)f->offset);
    ds_status st;
    PGresult *r = q(s, J_LIST, &p, &st);
    if (r == NULL)
        return st;
    ds_job j;
    for (int i = 0; i < PQntuples(r); i++) {
        if ((st = row_job(s, r, i, &j)) != DS_OK || cb(&j, ctx) != 0)
            break;
    }
    PQclear(r);
    return st;
}

static ds_status pg_job_lease(ds_store *base, int64_t id, const char *owner, int64_t now, int64_t ttl,
                              ds_job *out)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    r = read_job(s, J_GET_SKIP, id, out);
    if (r == DS_E_NOT_FOUND) { /* absent, or locked by another transaction right now */
        ds_job tmp;
        r = read_job(s, J_GET, id, &tmp);
        if (r == DS_OK)
            r = ds_store_fail(base, DS_E_BUSY, "job %lld is being changed by another server", (long long)id);
    }
    if (r != DS_OK || (r = ds_job_check_lease(base, out, owner, now)) != DS_OK)
        return pg_rollback(s, r);
    pg_params p = {0};
    p_int(&p, id);
    p_text(&p, owner);
    p_int(&p, now + ttl);
    if ((r = run(s, J_SET_LEASE, &p, NULL)) != DS_OK)
        return pg_rollback(s, r);
    if ((r = commit(s)) == DS_OK) {
        ds_copy_text(out->lease_owner, sizeof out->lease_owner, owner, strlen(owner));
        out->lease_until = now + ttl;
    }
    return r;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const ds_job *)a)->id, y = ((const ds_job *)b)->id;
    return (x > y) - (x < y);
}

static ds_status pg_job_claim(ds_store *base, int64_t campaign_id, const char *owner, int64_t now,
                              int64_t ttl, size_t n, ds_job *out, size_t *n_out)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_int(&p, campaign_id);
    p_text(&p, owner);
    p_int(&p, now + ttl);
    p_int(&p, now);
    p_int(&p, (int64_t)n);
    ds_status st;
    PGresult *r = q(s, J_CLAIM, &p, &st); /* autocommit: one atomic statement */
    if (r == NULL)
        return st;
    size_t got = 0;
    for (int i = 0; i < PQntuples(r) && got < n && st == DS_OK; i++) {
        if ((st = row_job(s, r, i, &out[got])) == DS_OK)
            got++;
    }
    PQclear(r);
    qsort(out, got, sizeof *out, by_id);
    *n_out = got;
    return st;
}

static ds_status pg_job_release(ds_store *base, int64_t id, const char *owner)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_int(&p, id);
    p_text(&p, owner);
    long n = 0;
    ds_status r = run(s, J_RELEASE, &p, &n);
    if (r != DS_OK || n == 1)
        return r;
    ds_job j;
    if ((r = read_job(s, J_GET, id, &j)) != DS_OK)
        return r;
    return ds_store_fail(base, DS_E_CONFLICT, "job %lld is leased to %s, not %s", (long long)id,
                         j.lease_owner, owner);
}

static ds_status pg_job_issue(ds_store *base, int64_t id, const char *owner, uint64_t from_epoch,
                              const uint8_t *new_pub, const uint8_t *nonce, const uint8_t *tbs, int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c;
    dev_row d;
    uint64_t issued = 0;
    if ((r = read_job(s, J_GET_LOCK, id, &j)) != DS_OK ||
        (j.campaign_id != 0 && (r = read_campaign(s, C_ROW_LOCK, j.campaign_id, &c)) != DS_OK) ||
        (r = read_device(s, j.device_id, &d)) != DS_OK ||
        (r = ds_job_check_issue(base, &j, owner, from_epoch, d.status, d.epoch, now)) != DS_OK)
        return pg_rollback(s, r);
    /* counted after the campaign lock: sees every issue that held it before */
    if (j.campaign_id != 0 && ((r = count_jobs(s, c.id, "issued", &issued)) != DS_OK ||
                               (r = ds_job_check_campaign_issue(base, &c, issued)) != DS_OK))
        return pg_rollback(s, r);
    pg_params p = {0};
    p_int(&p, id);
    p_int(&p, (int64_t)from_epoch);
    p_blob(&p, new_pub, DS_DRK_PUB_LEN);
    p_blob(&p, nonce, DS_NONCE_LEN);
    p_blob(&p, tbs, DS_DIGEST_LEN);
    p_int(&p, now);
    if ((r = run(s, J_ISSUE, &p, NULL)) != DS_OK)
        return pg_rollback(s, r);
    return commit(s);
}

static ds_status set_device_key(pg_store *s, const ds_job *j, const dev_row *d, const uint8_t *new_pub,
                                const uint8_t *new_inst, uint64_t new_epoch, int64_t now)
{
    pg_params k = {0};
    p_blob(&k, j->device_id, DS_DEVICE_ID_LEN);
    p_int(&k, (int64_t)d->epoch);
    p_blob(&k, d->drk_pub, DS_DRK_PUB_LEN);
    p_blob(&k, d->instance_id, DS_INSTANCE_ID_LEN);
    p_int(&k, now);
    ds_status r = run(s, J_KEY_INSERT, &k, NULL);
    if (r != DS_OK)
        return r;
    pg_params u = {0};
    p_blob(&u, j->device_id, DS_DEVICE_ID_LEN);
    p_blob(&u, new_pub, DS_DRK_PUB_LEN);
    p_blob(&u, new_inst, DS_INSTANCE_ID_LEN);
    p_int(&u, (int64_t)new_epoch);
    p_int(&u, now);
    return run(s, J_DEV_SET_KEY, &u, NULL);
}

static ds_status pg_job_complete(ds_store *base, int64_t id, const uint8_t *new_pub, const uint8_t *new_inst,
                                 uint64_t new_epoch, int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c;
    dev_row d;
    bool noop = false;
    if ((r = read_job(s, J_GET_LOCK, id, &j)) != DS_OK ||
        (r = ds_job_check_complete(base, &j, new_pub, new_epoch, &noop)) != DS_OK)
        return pg_rollback(s, r);
    if (noop) /* retried after success: nothing to write */
        return pg_rollback(s, DS_OK);
    if ((j.campaign_id != 0 && (r = read_campaign(s, C_ROW_LOCK, j.campaign_id, &c)) != DS_OK) ||
        (j.kind == DS_JOB_ROTATE_ROOT &&
         ((r = read_device(s, j.device_id, &d)) != DS_OK ||
          (r = ds_job_check_complete_device(base, &j, d.status, d.epoch)) != DS_OK ||
          (r = set_device_key(s, &j, &d, new_pub, new_inst, new_epoch, now)) != DS_OK)))
        return pg_rollback(s, r);
    pg_params p = {0};
    p_int(&p, id);
    p_int(&p, now);
    if ((r = run(s, J_COMPLETE, &p, NULL)) != DS_OK ||
        (j.campaign_id != 0 && (r = campaign_after_job(s, &c, now)) != DS_OK))
        return pg_rollback(s, r);
    return commit(s);
}

static ds_status end_job(pg_store *s, int64_t id, ds_job_state to, const char *why, int64_t now)
{
    pg_params p = {0};
    p_int(&p, id);
    p_text(&p, ds_job_state_name(to));
    p_text(&p, why);
    p_int(&p, now);
    return run(s, J_END, &p, NULL);
}

static ds_status pg_job_retry(ds_store *base, int64_t id, const char *why, int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c = {.state = DS_CAMPAIGN_ANY};
    ds_job_state to;
    if ((r = read_job(s, J_GET_LOCK, id, &j)) != DS_OK ||
        (j.campaign_id != 0 && (r = read_campaign(s, C_ROW_LOCK, j.campaign_id, &c)) != DS_OK) ||
        (r = ds_job_check_retry(base, &j, c.state, &to)) != DS_OK)
        return pg_rollback(s, r);
    if (to == DS_JOB_PENDING) {
        pg_params p = {0};
        p_int(&p, id);
        p_text(&p, why);
        p_int(&p, now);
        r = run(s, J_TO_PENDING, &p, NULL);
    } else {
        r = end_job(s, id, to, why, now);
        if (r == DS_OK && j.campaign_id != 0)
            r = campaign_after_job(s, &c, now);
    }
    return r == DS_OK ? commit(s) : pg_rollback(s, r);
}

static ds_status pg_job_advance(ds_store *base, int64_t id, uint32_t from_step, uint32_t to_step,
                                int32_t old_slot, int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    int32_t slot = -1;
    if ((r = read_job(s, J_GET_LOCK, id, &j)) != DS_OK ||
        (r = ds_job_check_advance(base, &j, from_step, old_slot, &slot)) != DS_OK)
        return pg_rollback(s, r);
    pg_params p = {0};
    p_int(&p, id);
    p_int(&p, to_step);
    p_int(&p, slot);
    p_int(&p, now);
    if ((r = run(s, J_ADVANCE, &p, NULL)) != DS_OK)
        return pg_rollback(s, r);
    return commit(s);
}

static ds_status pg_job_end(ds_store *base, int64_t id, ds_job_state to, const char *why, int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c;
    if ((r = read_job(s, J_GET_LOCK, id, &j)) != DS_OK || (r = ds_job_check_end(base, &j, to)) != DS_OK ||
        (j.campaign_id != 0 && (r = read_campaign(s, C_ROW_LOCK, j.campaign_id, &c)) != DS_OK) ||
        (r = end_job(s, id, to, why, now)) != DS_OK ||
        (j.campaign_id != 0 && (r = campaign_after_job(s, &c, now)) != DS_OK))
        return pg_rollback(s, r);
    return commit(s);
}

/* ---- campaigns -------------------------------------------------------------------- */

static ds_status pg_campaign_create(ds_store *base, const char *class_name, ds_job_kind kind,
                                    ds_job_mode mode, uint32_t max_parallel, uint32_t fail_threshold,
                                    uint32_t max_attempts, int64_t now, int64_t *id_out, size_t *n_jobs)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    pg_params p = {0};
    p_text(&p, class_name);
    p_text(&p, ds_job_kind_name(kind));
    p_text(&p, ds_job_mode_name(mode));
    p_int(&p, max_parallel);
    p_int(&p, fail_threshold);
    p_int(&p, max_attempts);
    p_int(&p, now);
    PGresult *res = q(s, C_INSERT, &p, &r);
    if (res == NULL)
        return pg_rollback(s, r);
    int64_t id = PQntuples(res) == 1 ? g_int(res, 0, 0) : 0;
    PQclear(res);
    pg_params jp = {0};
    p_int(&jp, id);
    p_text(&jp, ds_job_kind_name(kind));
    p_text(&jp, ds_job_mode_name(mode));
    p_int(&jp, max_attempts);
    p_int(&jp, now);
    p_text(&jp, class_name);
    long n = 0;
    if ((r = run(s, C_JOBS, &jp, &n)) != DS_OK)
        return pg_rollback(s, r);
    if (n == 0 && (r = set_campaign_state(s, id, DS_CAMPAIGN_DONE, "no active device without an open job",
                                          now)) != DS_OK)
        return pg_rollback(s, r);
    if ((r = commit(s)) != DS_OK)
        return r;
    if (id_out != NULL)
        *id_out = id;
    if (n_jobs != NULL)
        *n_jobs = (size_t)n;
    return DS_OK;
}

static ds_status pg_campaign_get(ds_store *base, int64_t id, ds_campaign *out)
{
    return read_campaign(pg(base), C_GET, id, out); /* one statement: one snapshot */
}

static ds_status pg_campaign_list(ds_store *base, const ds_campaign_filter *f, ds_campaign_cb cb, void *ctx)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_text(&p, f->class_name);
    p_text(&p, f->state == DS_CAMPAIGN_ANY ? NULL : ds_campaign_state_name(f->state));
    if (f->limit == 0)
        p_text(&p, NULL);
    else
        p_int(&p, (int64_t)f->limit);
    p_int(&p, (int64_t)f->offset);
    ds_status st;
    PGresult *r = q(s, C_LIST, &p, &st);
    if (r == NULL)
        return st;
    ds_campaign c;
    for (int i = 0; i < PQntuples(r); i++) {
        if ((st = row_campaign(s, r, i, true, &c)) != DS_OK || cb(&c, ctx) != 0)
            break;
    }
    PQclear(r);
    return st;
}

static ds_status pg_campaign_set_state(ds_store *base, int64_t id, ds_campaign_state to, const char *why,
                                       int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    pg_params p = {0};
    p_int(&p, id);
    if (to == DS_CAMPAIGN_CANCELLED && (r = run(s, C_LOCK_PENDING, &p, NULL)) != DS_OK) /* jobs first */
        return pg_rollback(s, r);
    ds_campaign c;
    uint64_t open = 0;
    if ((r = read_campaign(s, C_ROW_LOCK, id, &c)) != DS_OK)
        return pg_rollback(s, r);
    if (c.state == to) /* idempotent retry */
        return pg_rollback(s, DS_OK);
    if (!ds_campaign_transition_allowed(c.state, to))
        return pg_rollback(s,
                           ds_store_fail(base, DS_E_CONFLICT, "campaign transition %s -> %s is not allowed",
                                         ds_campaign_state_name(c.state), ds_campaign_state_name(to)));
    if (to == DS_CAMPAIGN_DONE && ((r = count_jobs(s, id, NULL, &open)) != DS_OK || open > 0))
        return pg_rollback(s, r != DS_OK ? r
                                         : ds_store_fail(base, DS_E_CONFLICT,
                                                         "campaign %lld still has %llu open jobs",
                                                         (long long)id, (unsigned long long)open));
    if (to == DS_CAMPAIGN_CANCELLED) {
        pg_params cp = {0};
        p_int(&cp, id);
        p_text(&cp, why);
        p_int(&cp, now);
        if ((r = run(s, C_CANCEL_PENDING, &cp, NULL)) != DS_OK)
            return pg_rollback(s, r);
    }
    if ((r = set_campaign_state(s, id, to, why, now)) != DS_OK)
        return pg_rollback(s, r);
    return commit(s);
}

const ds_job_ops ds_pg_job_ops = {
    .create = pg_job_create,
    .get = pg_job_get,
    .open_for_device = pg_job_open_for_device,
    .list = pg_job_list,
    .lease = pg_job_lease,
    .claim = pg_job_claim,
    .release = pg_job_release,
    .issue = pg_job_issue,
    .complete = pg_job_complete,
    .retry = pg_job_retry,
    .advance = pg_job_advance,
    .end = pg_job_end,
    .campaign_create = pg_campaign_create,
    .campaign_get = pg_campaign_get,
    .campaign_list = pg_campaign_list,
    .campaign_set_state = pg_campaign_set_state,
};
