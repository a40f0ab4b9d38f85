/*
 * store_sqlite_jobs.c — rotation jobs and campaigns on SQLite (store.h,
 * "rotation jobs" and "campaigns").
 *
 * Every step that changes a job runs in one BEGIN IMMEDIATE transaction: it
 * takes the database's single write lock before it reads the job, so the
 * job, its campaign and its device cannot change between the check
 * (ds_job_check_*, store_jobs.c) and the write. Two servers racing on the
 * same step are thereby serialized: the second one reads what the first
 * wrote and is refused. The one-open-job-per-device rule is also a partial
 * UNIQUE index (004_rotation_jobs.sql), so it holds even for writers that
 * bypass this file. ds_job_claim is one UPDATE … WHERE id IN (SELECT … LIMIT
 * n) RETURNING under the same lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_internal.h"

enum {
    J_INSERT,
    J_GET,
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
    C_ROW,
    C_GET,
    C_LIST,
    C_COUNT,
    C_COUNT_OPEN,
    C_INSERT,
    C_JOBS,
    C_SET_STATE,
    C_CANCEL_PENDING,
    J_COUNT
};
_Static_assert(J_COUNT <= SQ_JOB_STMT_MAX, "raise SQ_JOB_STMT_MAX");

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
                 "created_at, updated_at, anchor_pub) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6, ?7)",
    [J_GET] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE id = ?1",
    [J_OPEN_DEV] = "SELECT " JOB_COLS " FROM rotation_jobs WHERE device_id = ?1 "
                   "AND state IN ('pending', 'issued')",
    [J_LIST] =
        "SELECT " JOB_COLS " FROM rotation_jobs WHERE (?1 IS NULL OR device_id = ?1) "
        "AND (?2 IS NULL OR state = ?2) AND (?3 = 0 OR campaign_id = ?3) ORDER BY id LIMIT ?4 OFFSET ?5",
    [J_SET_LEASE] = "UPDATE rotation_jobs SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
    [J_RELEASE] = "UPDATE rotation_jobs SET lease_owner = NULL, lease_until = 0 "
                  "WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?2)",
    [J_CLAIM] = "UPDATE rotation_jobs SET lease_owner = ?2, lease_until = ?3 WHERE id IN ("
                "SELECT j.id FROM rotation_jobs j WHERE j.state = 'pending' "
                "AND (j.lease_owner IS NULL OR j.lease_until <= ?4) "
                "AND (?1 = 0 OR j.campaign_id = ?1) AND (j.campaign_id IS NULL OR EXISTS ("
                "SELECT 1 FROM rotation_campaigns c WHERE c.id = j.campaign_id AND c.state = 'running')) "
                "ORDER BY j.id LIMIT ?5) RETURNING " JOB_COLS,
    [J_ISSUE] = "UPDATE rotation_jobs SET state = 'issued', attempts = attempts + 1, from_epoch = ?2, "
                "new_pub = ?3, nonce = ?4, instruction_tbs = ?5, updated_at = ?6 WHERE id = ?1",
    [J_TO_PENDING] =
        "UPDATE rotation_jobs SET state = 'pending', last_error = ?2, updated_at = ?3, step = 0, "
        "old_slot = -1 WHERE id = ?1",
    [J_ADVANCE] = "UPDATE rotation_jobs SET step = ?2, old_slot = ?3, updated_at = ?4 WHERE id = ?1",
    [J_END] = "UPDATE rotation_jobs SET state = ?2, last_error = ?3, updated_at = ?4, lease_owner = NULL, "
              "lease_until = 0 WHERE id = ?1",
    [J_COMPLETE] = "UPDATE rotation_jobs SET state = 'completed', updated_at = ?2, lease_owner = NULL, "
                   "lease_until = 0 WHERE id = ?1",
    [J_DEV] = "SELECT drk_pub, instance_id, epoch, status, class FROM devices WHERE device_id = ?1",
    [J_KEY_INSERT] = "INSERT INTO device_keys (device_id, epoch, drk_pub, instance_id, retired_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [J_DEV_SET_KEY] = "UPDATE devices SET drk_pub = ?2, instance_id = ?3, epoch = ?4, updated_at = ?5 "
                      "WHERE device_id = ?1",
    [C_ROW] = "SELECT " CAMP_COLS " FROM rotation_campaigns c WHERE c.id = ?1",
    [C_GET] = "SELECT " CAMP_COLS ", " CAMP_COUNTS " FROM rotation_campaigns c WHERE c.id = ?1",
    [C_LIST] =
        "SELECT " CAMP_COLS ", " CAMP_COUNTS " FROM rotation_campaigns c WHERE "
        "(?1 IS NULL OR c.class = ?1) AND (?2 IS NULL OR c.state = ?2) ORDER BY c.id LIMIT ?3 OFFSET ?4",
    [C_COUNT] = "SELECT count(*) FROM rotation_jobs WHERE campaign_id = ?1 AND state = ?2",
    [C_COUNT_OPEN] =
        "SELECT count(*) FROM rotation_jobs WHERE campaign_id = ?1 AND state IN ('pending', 'issued')",
    [C_INSERT] =
        "INSERT INTO rotation_campaigns (class, kind, mode, max_parallel, fail_threshold, "
        "max_attempts, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?7)",
    [C_JOBS] = "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, campaign_id, "
               "created_at, updated_at) SELECT d.device_id, ?2, ?3, 'pending', ?4, ?1, ?5, ?5 FROM devices d "
               "WHERE d.class = ?6 AND d.status = 'active' AND NOT EXISTS (SELECT 1 FROM rotation_jobs j "
               "WHERE j.device_id = d.device_id AND j.state IN ('pending', 'issued')) ORDER BY d.device_id",
    [C_SET_STATE] =
        "UPDATE rotation_campaigns SET state = ?2, stop_reason = ?3, updated_at = ?4 WHERE id = ?1",
    [C_CANCEL_PENDING] = "UPDATE rotation_jobs SET state = 'cancelled', last_error = ?2, updated_at = ?3, "
                         "lease_owner = NULL, lease_until = 0 WHERE campaign_id = ?1 AND state = 'pending'",
};

static ds_status prep(sq_store *s, int q, sqlite3_stmt **out)
{
    return sq_prepare_cached(s, &s->jstmt[q], sql_text[q], out);
}

static ds_status corrupt(sq_store *s, const char *what)
{
    return ds_store_fail(&s->base, DS_E_CORRUPT, "sqlite: malformed %s row", what);
}

/* Reads a JOB_COLS row. */
static ds_status row_job(sq_store *s, sqlite3_stmt *st, ds_job *j)
{
    char kind[32], mode[16], state[16];
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    bool ok = col_blob(st, 1, j->device_id, DS_DEVICE_ID_LEN);
    col_text(st, 2, kind, sizeof kind);
    col_text(st, 3, mode, sizeof mode);
    col_text(st, 4, state, sizeof state);
    j->attempts = (uint32_t)sqlite3_column_int64(st, 5);
    j->max_attempts = (uint32_t)sqlite3_column_int64(st, 6);
    j->from_epoch = (uint64_t)sqlite3_column_int64(st, 7);
    j->has_new_key = sqlite3_column_type(st, 8) != SQLITE_NULL;
    if (j->has_new_key)
        ok = ok && col_blob(st, 8, j->new_pub, DS_DRK_PUB_LEN) && col_blob(st, 9, j->nonce, DS_NONCE_LEN) &&
             col_blob(st, 10, j->instruction_tbs, DS_DIGEST_LEN);
    col_text(st, 11, j->lease_owner, sizeof j->lease_owner);
    j->lease_until = sqlite3_column_int64(st, 12);
    j->campaign_id = sqlite3_column_int64(st, 13); /* NULL reads as 0 = none */
    j->created_at = sqlite3_column_int64(st, 14);
    j->updated_at = sqlite3_column_int64(st, 15);
    col_text(st, 16, j->error, sizeof j->error);
    j->has_anchor_pub = sqlite3_column_type(st, 17) != SQLITE_NULL;
    if (j->has_anchor_pub)
        ok = ok && col_blob(st, 17, j->anchor_pub, DS_DRK_PUB_LEN);
    j->step = (uint32_t)sqlite3_column_int64(st, 18);
    j->old_slot = (int32_t)sqlite3_column_int64(st, 19);
    if (!ok || ds_job_kind_parse(kind, &j->kind) != DS_OK || ds_job_mode_parse(mode, &j->mode) != DS_OK ||
        ds_job_state_parse(state, &j->state) != DS_OK)
        return corrupt(s, "rotation_jobs");
    return DS_OK;
}

/* Reads a CAMP_COLS row, with the CAMP_COUNTS columns if counts. */
static ds_status row_campaign(sq_store *s, sqlite3_stmt *st, bool counts, ds_campaign *c)
{
    char kind[32], mode[16], state[16];
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, c->class_name, sizeof c->class_name);
    col_text(st, 2, kind, sizeof kind);
    col_text(st, 3, mode, sizeof mode);
    c->max_parallel = (uint32_t)sqlite3_column_int64(st, 4);
    c->fail_threshold = (uint32_t)sqlite3_column_int64(st, 5);
    c->max_attempts = (uint32_t)sqlite3_column_int64(st, 6);
    col_text(st, 7, state, sizeof state);
    col_text(st, 8, c->stop_reason, sizeof c->stop_reason);
    c->created_at = sqlite3_column_int64(st, 9);
    c->updated_at = sqlite3_column_int64(st, 10);
    if (counts) {
        c->n_pending = (uint64_t)sqlite3_column_int64(st, 11);
        c->n_issued = (uint64_t)sqlite3_column_int64(st, 12);
        c->n_completed = (uint64_t)sqlite3_column_int64(st, 13);
        c->n_failed = (uint64_t)sqlite3_column_int64(st, 14);
        c->n_cancelled = (uint64_t)sqlite3_column_int64(st, 15);
    }
    if (ds_job_kind_parse(kind, &c->kind) != DS_OK || ds_job_mode_parse(mode, &c->mode) != DS_OK ||
        ds_campaign_state_parse(state, &c->state) != DS_OK)
        return corrupt(s, "rotation_campaigns");
    return DS_OK;
}

/* Runs q (bound to one int64 id) and reads the one row it returns with
 * reader; missing = DS_E_NOT_FOUND naming what. */
static ds_status get_job_q(sq_store *s, int q, sqlite3_stmt *st, ds_job *out)
{
    int rc = sqlite3_step(st);
    ds_status r;
    if (rc == SQLITE_ROW)
        r = row_job(s, st, out);
    else if (rc == SQLITE_DONE)
        r = ds_store_fail(&s->base, DS_E_NOT_FOUND,
                          q == J_OPEN_DEV ? "no open job for the device" : "no such job");
    else
        r = sq_fail(s, rc, "job get");
    sqlite3_reset(st);
    return r;
}

static ds_status read_job(sq_store *s, int64_t id, ds_job *out)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, J_GET, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, id);
    return get_job_q(s, J_GET, st, out);
}

static ds_status read_campaign(sq_store *s, int q, int64_t id, ds_campaign *out)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, q, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = row_campaign(s, st, q == C_GET, out);
    else if (rc == SQLITE_DONE)
        r = ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such campaign");
    else
        r = sq_fail(s, rc, "campaign get");
    sqlite3_reset(st);
    return r;
}

/* The device columns a job step needs. */
typedef struct dev_row {
    uint8_t drk_pub[DS_DRK_PUB_LEN];
    uint8_t instance_id[DS_INSTANCE_ID_LEN];
    uint64_t epoch;
    ds_device_status status;
    char class_name[DS_CLASS_MAX + 1];
} dev_row;

static ds_status read_device(sq_store *s, const uint8_t *id, dev_row *d)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, J_DEV, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char status[32];
        bool ok = col_blob(st, 0, d->drk_pub, DS_DRK_PUB_LEN) &&
                  col_blob(st, 1, d->instance_id, DS_INSTANCE_ID_LEN);
        d->epoch = (uint64_t)sqlite3_column_int64(st, 2);
        col_text(st, 3, status, sizeof status);
        col_text(st, 4, d->class_name, sizeof d->class_name);
        if (!ok || ds_device_status_parse(status, &d->status) != DS_OK)
            r = corrupt(s, "devices");
    } else {
        r = rc == SQLITE_DONE ? ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such device")
                              : sq_fail(s, rc, "device");
    }
    sqlite3_reset(st);
    return r;
}

/* count(*) of q bound to (campaign id[, state]). */
static ds_status count_jobs(sq_store *s, int64_t campaign_id, const char *state, uint64_t *n)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, state == NULL ? C_COUNT_OPEN : C_COUNT, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, campaign_id);
    if (state != NULL)
        bind_text(st, 2, state);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? DS_OK : sq_fail(s, rc, "count jobs");
}

static ds_status set_campaign_state(sq_store *s, int64_t id, ds_campaign_state to, const char *why,
                                    int64_t now)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, C_SET_STATE, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, ds_campaign_state_name(to));
    bind_text(st, 3, why);
    sqlite3_bind_int64(st, 4, now);
    return sq_run(s, st, "campaign state");
}

/* After one of c's jobs ended, inside the transaction: stop it at its
 * failure threshold (C2), or mark it done when nothing is open. */
static ds_status campaign_after_job(sq_store *s, const ds_campaign *c, int64_t now)
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

static ds_status commit(sq_store *s)
{
    ds_status r = sq_commit(s);
    return r == DS_OK ? DS_OK : sq_rollback(s, r);
}

/* ---- jobs ------------------------------------------------------------------------ */

static ds_status sq_job_create(ds_store *base, const uint8_t *device_id, const uint8_t *anchor_pub,
                               ds_job_kind kind, ds_job_mode mode, uint32_t max_attempts, int64_t campaign_id,
                               int64_t now, int64_t *id_out)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    dev_row d;
    ds_campaign c;
    if ((r = read_device(s, device_id, &d)) != DS_OK ||
        (r = ds_job_check_create_device(base, d.status)) != DS_OK)
        return sq_rollback(s, r);
    if (campaign_id != 0 && ((r = read_campaign(s, C_ROW, campaign_id, &c)) != DS_OK ||
                             (r = ds_job_check_create_campaign(base, &c, d.class_name, kind, mode)) != DS_OK))
        return sq_rollback(s, r);
    sqlite3_stmt *st;
    if ((r = prep(s, J_INSERT, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, device_id, DS_DEVICE_ID_LEN);
    bind_text(st, 2, ds_job_kind_name(kind));
    bind_text(st, 3, ds_job_mode_name(mode));
    sqlite3_bind_int64(st, 4, max_attempts);
    if (campaign_id != 0)
        sqlite3_bind_int64(st, 5, campaign_id);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, now);
    bind_blob(st, 7, anchor_pub, DS_DRK_PUB_LEN);
    if ((r = sq_run(s, st, "job insert")) != DS_OK) {
        if (r == DS_E_EXISTS)
            ds_store_fail(base, r, "the device already has an open rotation job");
        return sq_rollback(s, r);
    }
    int64_t id = sqlite3_last_insert_rowid(s->db);
    if ((r = commit(s)) == DS_OK && id_out != NULL)
        *id_out = id;
    return r;
}

static ds_status sq_job_get(ds_store *base, int64_t id, ds_job *out)
{
    return read_job(sq(base), id, out);
}

static ds_status sq_job_open_for_device(ds_store *base, const uint8_t *device_id, ds_job *out)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = prep(s, J_OPEN_DEV, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, device_id, DS_DEVICE_ID_LEN);
    return get_job_q(s, J_OPEN_DEV, st, out);
}

static ds_status sq_job_list(ds_store *base, const ds_job_filter *f, ds_job_cb cb, void *ctx)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = prep(s, J_LIST, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, f->device_id, DS_DEVICE_ID_LEN);
    bind_text(st, 2, f->state == DS_JOB_ANY ? NULL : ds_job_state_name(f->state));
    sqlite3_bind_int64(st, 3, f->campaign_id);
    sqlite3_bind_int64(st, 4, f->limit == 0 ? -1 : (int64_t)f->limit);
    sqlite3_bind_int64(st, 5, (int64_t)f->offset);
    int rc;
    ds_job j;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((r = row_job(s, st, &j)) != DS_OK || cb(&j, ctx) != 0)
            break;
    }
    if (r == DS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, "job list");
    sqlite3_reset(st);
    return r;
}

static ds_status sq_job_lease(ds_store *base, int64_t id, const char *owner, int64_t now, int64_t ttl,
                              ds_job *out)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    if ((r = read_job(s, id, out)) != DS_OK || (r = ds_job_check_lease(base, out, owner, now)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_stmt *st;
    if ((r = prep(s, J_SET_LEASE, &st)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, owner);
    sqlite3_bind_int64(st, 3, now + ttl);
    if ((r = sq_run(s, st, "lease")) != DS_OK)
        return sq_rollback(s, r);
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

static ds_status sq_job_claim(ds_store *base, int64_t campaign_id, const char *owner, int64_t now,
                              int64_t ttl, size_t n, ds_job *out, size_t *n_out)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    sqlite3_stmt *st;
    if ((r = prep(s, J_CLAIM, &st)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_bind_int64(st, 1, campaign_id);
    bind_text(st, 2, owner);
    sqlite3_bind_int64(st, 3, now + ttl);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, (int64_t)n);
    size_t got = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < n) {
        if ((r = row_job(s, st, &out[got])) != DS_OK)
            break;
        got++;
    }
    if (r == DS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, "claim");
    sqlite3_reset(st);
    if (r != DS_OK || (r = commit(s)) != DS_OK)
        return sq_rollback(s, r);
    qsort(out, got, sizeof *out, by_id);
    *n_out = got;
    return DS_OK;
}

static ds_status sq_job_release(ds_store *base, int64_t id, const char *owner)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = prep(s, J_RELEASE, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, owner);
    if ((r = sq_run(s, st, "release")) != DS_OK)
        return r;
    if (sqlite3_changes64(s->db) == 1)
        return DS_OK;
    ds_job j;
    if ((r = read_job(s, id, &j)) != DS_OK)
        return r;
    return ds_store_fail(base, DS_E_CONFLICT, "job %lld is leased to %s, not %s", (long long)id,
                         j.lease_owner, owner);
}

static ds_status sq_job_issue(ds_store *base, int64_t id, const char *owner, uint64_t from_epoch,
                              const uint8_t *new_pub, const uint8_t *nonce, const uint8_t *tbs, int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c;
    dev_row d;
    uint64_t issued = 0;
    if ((r = read_job(s, id, &j)) != DS_OK || (r = read_device(s, j.device_id, &d)) != DS_OK ||
        (r = ds_job_check_issue(base, &j, owner, from_epoch, d.status, d.epoch, now)) != DS_OK)
        return sq_rollback(s, r);
    if (j.campaign_id != 0 && ((r = read_campaign(s, C_ROW, j.campaign_id, &c)) != DS_OK ||
                               (r = count_jobs(s, c.id, "issued", &issued)) != DS_OK ||
                               (r = ds_job_check_campaign_issue(base, &c, issued)) != DS_OK))
        return sq_rollback(s, r);
    sqlite3_stmt *st;
    if ((r = prep(s, J_ISSUE, &st)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, (int64_t)from_epoch);
    bind_blob(st, 3, new_pub, DS_DRK_PUB_LEN);
    bind_blob(st, 4, nonce, DS_NONCE_LEN);
    bind_blob(st, 5, tbs, DS_DIGEST_LEN);
    sqlite3_bind_int64(st, 6, now);
    if ((r = sq_run(s, st, "issue")) != DS_OK)
        return sq_rollback(s, r);
    return commit(s);
}

/* The device half of a root rotation's completion (as sq_set_key). */
static ds_status set_device_key(sq_store *s, const ds_job *j, const dev_row *d, const uint8_t *new_pub,
                                const uint8_t *new_inst, uint64_t new_epoch, int64_t now)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, J_KEY_INSERT, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, j->device_id, DS_DEVICE_ID_LEN);
    sqlite3_bind_int64(st, 2, (int64_t)d->epoch);
    bind_blob(st, 3, d->drk_pub, DS_DRK_PUB_LEN);
    bind_blob(st, 4, d->instance_id, DS_INSTANCE_ID_LEN);
    sqlite3_bind_int64(st, 5, now);
    if ((r = sq_run(s, st, "key history")) != DS_OK || (r = prep(s, J_DEV_SET_KEY, &st)) != DS_OK)
        return r;
    bind_blob(st, 1, j->device_id, DS_DEVICE_ID_LEN);
    bind_blob(st, 2, new_pub, DS_DRK_PUB_LEN);
    bind_blob(st, 3, new_inst, DS_INSTANCE_ID_LEN);
    sqlite3_bind_int64(st, 4, (int64_t)new_epoch);
    sqlite3_bind_int64(st, 5, now);
    return sq_run(s, st, "set key");
}

static ds_status sq_job_complete(ds_store *base, int64_t id, const uint8_t *new_pub, const uint8_t *new_inst,
                                 uint64_t new_epoch, int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c;
    dev_row d;
    bool noop = false;
    if ((r = read_job(s, id, &j)) != DS_OK ||
        (r = ds_job_check_complete(base, &j, new_pub, new_epoch, &noop)) != DS_OK)
        return sq_rollback(s, r);
    if (noop) /* retried after success: nothing to write */
        return sq_rollback(s, DS_OK);
    if (j.campaign_id != 0 && (r = read_campaign(s, C_ROW, j.campaign_id, &c)) != DS_OK)
        return sq_rollback(s, r);
    if (j.kind == DS_JOB_ROTATE_ROOT &&
        ((r = read_device(s, j.device_id, &d)) != DS_OK ||
         (r = ds_job_check_complete_device(base, &j, d.status, d.epoch)) != DS_OK ||
         (r = set_device_key(s, &j, &d, new_pub, new_inst, new_epoch, now)) != DS_OK))
        return sq_rollback(s, r);
    sqlite3_stmt *st;
    if ((r = prep(s, J_COMPLETE, &st)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if ((r = sq_run(s, st, "complete")) != DS_OK ||
        (j.campaign_id != 0 && (r = campaign_after_job(s, &c, now)) != DS_OK))
        return sq_rollback(s, r);
    return commit(s);
}

/* Writes a job's move to a terminal state (failed / cancelled). */
static ds_status end_job(sq_store *s, int64_t id, ds_job_state to, const char *why, int64_t now)
{
    sqlite3_stmt *st;
    ds_status r = prep(s, J_END, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, ds_job_state_name(to));
    bind_text(st, 3, why);
    sqlite3_bind_int64(st, 4, now);
    return sq_run(s, st, "end job");
}

static ds_status sq_job_retry(ds_store *base, int64_t id, const char *why, int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c = {.state = DS_CAMPAIGN_ANY};
    ds_job_state to;
    if ((r = read_job(s, id, &j)) != DS_OK ||
        (j.campaign_id != 0 && (r = read_campaign(s, C_ROW, j.campaign_id, &c)) != DS_OK) ||
        (r = ds_job_check_retry(base, &j, c.state, &to)) != DS_OK)
        return sq_rollback(s, r);
    if (to == DS_JOB_PENDING) {
        sqlite3_stmt *st;
        if ((r = prep(s, J_TO_PENDING, &st)) != DS_OK)
            return sq_rollback(s, r);
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, why);
        sqlite3_bind_int64(st, 3, now);
        r = sq_run(s, st, "retry");
    } else {
        r = end_job(s, id, to, why, now);
        if (r == DS_OK && j.campaign_id != 0)
            r = campaign_after_job(s, &c, now);
    }
    return r == DS_OK ? commit(s) : sq_rollback(s, r);
}

static ds_status sq_job_advance(ds_store *base, int64_t id, uint32_t from_step, uint32_t to_step,
                                int32_t old_slot, int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    int32_t slot = -1;
    sqlite3_stmt *st;
    if ((r = read_job(s, id, &j)) != DS_OK ||
        (r = ds_job_check_advance(base, &j, from_step, old_slot, &slot)) != DS_OK ||
        (r = prep(s, J_ADVANCE, &st)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, to_step);
    sqlite3_bind_int64(st, 3, slot);
    sqlite3_bind_int64(st, 4, now);
    if ((r = sq_run(s, st, "advance")) != DS_OK)
        return sq_rollback(s, r);
    return commit(s);
}

static ds_status sq_job_end(ds_store *base, int64_t id, ds_job_state to, const char *why, int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    ds_job j;
    ds_campaign c;
    if ((r = read_job(s, id, &j)) != DS_OK || (r = ds_job_check_end(base, &j, to)) != DS_OK ||
        (j.campaign_id != 0 && (r = read_campaign(s, C_ROW, j.campaign_id, &c)) != DS_OK) ||
        (r = end_job(s, id, to, why, now)) != DS_OK ||
        (j.campaign_id != 0 && (r = campaign_after_job(s, &c, now)) != DS_OK))
        return sq_rollback(s, r);
    return commit(s);
}

/* ---- campaigns -------------------------------------------------------------------- */

static ds_status sq_campaign_create(ds_store *base, const char *class_name, ds_job_kind kind,
                                    ds_job_mode mode, uint32_t max_parallel, uint32_t fail_threshold,
                                    uint32_t max_attempts, int64_t now, int64_t *id_out, size_t *n_jobs)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    sqlite3_stmt *st;
    if ((r = prep(s, C_INSERT, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_text(st, 1, class_name);
    bind_text(st, 2, ds_job_kind_name(kind));
    bind_text(st, 3, ds_job_mode_name(mode));
    sqlite3_bind_int64(st, 4, max_parallel);
    sqlite3_bind_int64(st, 5, fail_threshold);
    sqlite3_bind_int64(st, 6, max_attempts);
    sqlite3_bind_int64(st, 7, now);
    if ((r = sq_run(s, st, "campaign insert")) != DS_OK || (r = prep(s, C_JOBS, &st)) != DS_OK)
        return sq_rollback(s, r);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, ds_job_kind_name(kind));
    bind_text(st, 3, ds_job_mode_name(mode));
    sqlite3_bind_int64(st, 4, max_attempts);
    sqlite3_bind_int64(st, 5, now);
    bind_text(st, 6, class_name);
    if ((r = sq_run(s, st, "campaign jobs")) != DS_OK)
        return sq_rollback(s, r);
    size_t n = (size_t)sqlite3_changes64(s->db);
    if (n == 0 && (r = set_campaign_state(s, id, DS_CAMPAIGN_DONE, "no active device without an open job",
                                          now)) != DS_OK)
        return sq_rollback(s, r);
    if ((r = commit(s)) != DS_OK)
        return r;
    if (id_out != NULL)
        *id_out = id;
    if (n_jobs != NULL)
        *n_jobs = n;
    return DS_OK;
}

static ds_status sq_campaign_get(ds_store *base, int64_t id, ds_campaign *out)
{
    sq_store *s = sq(base);
    /* One read transaction: the row and its counts are one snapshot. */
    ds_status r = sq_exec(s, "BEGIN", "begin");
    if (r != DS_OK)
        return r;
    return sq_rollback(s, read_campaign(s, C_GET, id, out));
}

static ds_status sq_campaign_list(ds_store *base, const ds_campaign_filter *f, ds_campaign_cb cb, void *ctx)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = prep(s, C_LIST, &st);
    if (r != DS_OK)
        return r;
    bind_text(st, 1, f->class_name);
    bind_text(st, 2, f->state == DS_CAMPAIGN_ANY ? NULL : ds_campaign_state_name(f->state));
    sqlite3_bind_int64(st, 3, f->limit == 0 ? -1 : (int64_t)f->limit);
    sqlite3_bind_int64(st, 4, (int64_t)f->offset);
    int rc;
    ds_campaign c;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((r = row_campaign(s, st, true, &c)) != DS_OK || cb(&c, ctx) != 0)
            break;
    }
    if (r == DS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, "campaign list");
    sqlite3_reset(st);
    return r;
}

static ds_status sq_campaign_set_state(ds_store *base, int64_t id, ds_campaign_state to, const char *why,
                                       int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    ds_campaign c;
    uint64_t open = 0;
    if ((r = read_campaign(s, C_ROW, id, &c)) != DS_OK)
        return sq_rollback(s, r);
    if (c.state == to) /* idempotent retry */
        return sq_rollback(s, DS_OK);
    if (!ds_campaign_transition_allowed(c.state, to))
        return sq_rollback(s,
                           ds_store_fail(base, DS_E_CONFLICT, "campaign transition %s -> %s is not allowed",
                                         ds_campaign_state_name(c.state), ds_campaign_state_name(to)));
    if (to == DS_CAMPAIGN_DONE && ((r = count_jobs(s, id, NULL, &open)) != DS_OK || open > 0))
        return sq_rollback(s, r != DS_OK ? r
                                         : ds_store_fail(base, DS_E_CONFLICT,
                                                         "campaign %lld still has %llu open jobs",
                                                         (long long)id, (unsigned long long)open));
    if (to == DS_CAMPAIGN_CANCELLED) {
        sqlite3_stmt *st;
        if ((r = prep(s, C_CANCEL_PENDING, &st)) != DS_OK)
            return sq_rollback(s, r);
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, why);
        sqlite3_bind_int64(st, 3, now);
        if ((r = sq_run(s, st, "cancel pending")) != DS_OK)
            return sq_rollback(s, r);
    }
    if ((r = set_campaign_state(s, id, to, why, now)) != DS_OK)
        return sq_rollback(s, r);
    return commit(s);
}

const ds_job_ops ds_sqlite_job_ops = {
    .create = sq_job_create,
    .get = sq_job_get,
    .open_for_device = sq_job_open_for_device,
    .list = sq_job_list,
    .lease = sq_job_lease,
    .claim = sq_job_claim,
    .release = sq_job_release,
    .issue = sq_job_issue,
    .complete = sq_job_complete,
    .retry = sq_job_retry,
    .advance = sq_job_advance,
    .end = sq_job_end,
    .campaign_create = sq_campaign_create,
    .campaign_get = sq_campaign_get,
    .campaign_list = sq_campaign_list,
    .campaign_set_state = sq_campaign_set_state,
};
