/*
 * store_pg.c — the PostgreSQL backend of store.h (libpq), for several
 * drot-server instances sharing one database.
 *
 * Atomicity and concurrency (isolation level READ COMMITTED, the default):
 *   - a read-then-write transaction (status transition, key rotation) reads
 *     the device row with SELECT … FOR UPDATE, so a concurrent change of the
 *     same device waits for this one and then sees its result;
 *   - ds_attestation_record reads the device's status FOR UPDATE first
 *     (taking its row lock), updates the row (bookkeeping, tamper count, an
 *     automatic quarantine decided on that status), then inserts the
 *     attestation, in one transaction;
 *   - a challenge is consumed by one autocommit DELETE … RETURNING: a second
 *     consumer blocks on the row lock, and when the first commits it re-checks
 *     the row, finds it gone and returns no row. So exactly one of any number
 *     of servers gets the challenge;
 *   - migrations hold a transaction-scoped advisory lock, so servers that
 *     start together apply each version once.
 *
 * Statements are prepared once per connection (PQprepare, named ds_qN) and
 * run with PQexecPrepared: data is only ever a bound parameter. Parameters
 * are sent as text (numbers, strings) or binary (bytea); results are read in
 * binary format (int8 big-endian, bytea raw). Rotation jobs and campaigns
 * are in store_pg_jobs.c; the helpers both files use are in
 * store_pg_internal.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

enum {
    Q_DEV_INSERT,
    Q_DEV_GET,
    Q_DEV_GET_INST,
    Q_DEV_LIST,
    Q_DEV_STATUS,
    Q_DEV_SET_STATUS,
    Q_STATUS_LOG,
    Q_DEV_KEY,
    Q_KEY_INSERT,
    Q_DEV_SET_KEY,
    Q_KEY_HISTORY,
    Q_DEV_EXISTS,
    Q_CH_INSERT,
    Q_CH_CONSUME,
    Q_CH_PURGE,
    Q_ATT_DEVICE,
    Q_ATT_TAMPER,
    Q_ATT_INSERT,
    Q_ATT_LIST,
    Q_MIG_TABLE,
    Q_MIG_VERSION,
    Q_MIG_INSERT,
    Q_MIG_HAS,
    Q_CHECK,
    Q_COUNT
};

#define DEV_COLS                                                                                             \
    "device_id, class, drk_pub, instance_id, epoch, status, status_reason, registered_at, updated_at, "      \
    "last_attest_at, last_result, attest_count, tamper_count"

static const char *const sql_text[Q_COUNT] = {
    [Q_DEV_INSERT] =
        "INSERT INTO devices (device_id, class, drk_pub, instance_id, epoch, status, registered_at, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, 'registered', $6, $6)",
    [Q_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE device_id = $1",
    [Q_DEV_GET_INST] = "SELECT " DEV_COLS " FROM devices WHERE instance_id = $1",
    [Q_DEV_LIST] = "SELECT " DEV_COLS " FROM devices WHERE ($1::text IS NULL OR class = $1) AND "
                   "($2::text IS NULL OR status = $2) ORDER BY device_id LIMIT $3 OFFSET $4",
    [Q_DEV_STATUS] = "SELECT status FROM devices WHERE device_id = $1 FOR UPDATE",
    [Q_DEV_SET_STATUS] =
        "UPDATE devices SET status = $2, status_reason = $3, updated_at = $4 WHERE device_id = $1",
    [Q_STATUS_LOG] = "INSERT INTO device_status_log (device_id, from_status, to_status, reason, at) "
                     "VALUES ($1, $2, $3, $4, $5)",
    [Q_DEV_KEY] = "SELECT drk_pub, instance_id, epoch, status FROM devices WHERE device_id = $1 FOR UPDATE",
    [Q_KEY_INSERT] = "INSERT INTO device_keys (device_id, epoch, drk_pub, instance_id, retired_at) "
                     "VALUES ($1, $2, $3, $4, $5)",
    [Q_DEV_SET_KEY] = "UPDATE devices SET drk_pub = $2, instance_id = $3, epoch = $4, updated_at = $5 "
                      "WHERE device_id = $1",
    [Q_KEY_HISTORY] = "SELECT epoch, drk_pub, instance_id, retired_at FROM device_keys WHERE device_id = $1 "
                      "ORDER BY epoch",
    [Q_DEV_EXISTS] = "SELECT 1::bigint FROM devices WHERE device_id = $1",
    [Q_CH_INSERT] =
        "INSERT INTO challenges (challenge, device_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
    [Q_CH_CONSUME] = "DELETE FROM challenges WHERE challenge = $1 RETURNING device_id, expires_at",
    [Q_CH_PURGE] = "DELETE FROM challenges WHERE expires_at <= $1",
    [Q_ATT_DEVICE] =
        "UPDATE devices SET last_attest_at = $2, last_result = $3, attest_count = attest_count + 1 "
        "WHERE device_id = $1",
    [Q_ATT_TAMPER] = "UPDATE devices SET tamper_count = $2 WHERE device_id = $1",
    [Q_ATT_INSERT] =
        "INSERT INTO attestations (device_id, at, result, reasons, evidence_digest, token, action) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    [Q_ATT_LIST] =
        "SELECT id, device_id, at, result, reasons, evidence_digest, token, action FROM attestations "
        "WHERE device_id = $1 ORDER BY id DESC LIMIT $2",
    [Q_MIG_TABLE] = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = 'schema_migrations'",
    [Q_MIG_VERSION] = "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
    [Q_MIG_INSERT] = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
    [Q_MIG_HAS] = "SELECT count(*) FROM schema_migrations WHERE version = $1",
    [Q_CHECK] = DS_SQL_CHECK,
};

/* An arbitrary constant naming drot's migration lock among advisory locks. */
#define DS_PG_MIGRATE_LOCK "7426001"

_Static_assert(Q_COUNT <= PG_STMT_MAX, "raise PG_STMT_MAX");

/* Runs prepared statement q; on success returns the result (the caller
 * PQclears it), on failure NULL with *st set. */
static PGresult *pg_q(pg_store *s, int q, const pg_params *p, ds_status *st)
{
    char name[16];
    snprintf(name, sizeof name, "ds_q%d", q);
    return pg_q_sql(s, name, sql_text[q], &s->prepared[q], p, st);
}

/* Runs a prepared statement whose result is not needed. */
static ds_status pg_run(pg_store *s, int q, const pg_params *p, long *affected)
{
    ds_status st;
    PGresult *res = pg_q(s, q, p, &st); /* sets st: read it after the call */
    return pg_result_done(res, st, affected);
}

static ds_status row_device(pg_store *s, const PGresult *r, int row, ds_device *d)
{
    char status[32], result[8];
    memset(d, 0, sizeof *d);
    bool ok = g_blob(r, row, 0, d->device_id, DS_DEVICE_ID_LEN) &&
              g_blob(r, row, 2, d->drk_pub, DS_DRK_PUB_LEN) &&
              g_blob(r, row, 3, d->instance_id, DS_INSTANCE_ID_LEN);
    g_text(r, row, 1, d->class_name, sizeof d->class_name);
    d->epoch = (uint64_t)g_int(r, row, 4);
    g_text(r, row, 5, status, sizeof status);
    g_text(r, row, 6, d->status_reason, sizeof d->status_reason);
    d->registered_at = g_int(r, row, 7);
    d->updated_at = g_int(r, row, 8);
    d->last_attest_at = g_int(r, row, 9);
    g_text(r, row, 10, result, sizeof result);
    d->attest_count = (uint64_t)g_int(r, row, 11);
    d->has_tamper_count = !PQgetisnull(r, row, 12);
    d->tamper_count = (uint64_t)g_int(r, row, 12);
    if (!ok || ds_device_status_parse(status, &d->status) != DS_OK ||
        (result[0] != '\0' && ds_result_parse(result, &d->last_result) != DS_OK))
        return ds_store_fail(&s->base, DS_E_CORRUPT, "postgres: malformed devices row");
    return DS_OK;
}

/* ---- open / close / schema ------------------------------------------------------ */

static void pg_close(ds_store *base)
{
    pg_store *s = pg(base);
    PQfinish(s->conn);
    ds_free(s);
}

static ds_status pg_schema_version(ds_store *base, int *version_out)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    ds_status st;
    PGresult *r = pg_q(s, Q_MIG_TABLE, &p, &st);
    if (r == NULL)
        return st;
    int64_t have = PQntuples(r) == 1 ? g_int(r, 0, 0) : 0;
    PQclear(r);
    *version_out = 0;
    if (have == 0)
        return DS_OK;
    if ((r = pg_q(s, Q_MIG_VERSION, &p, &st)) == NULL)
        return st;
    *version_out = PQntuples(r) == 1 ? (int)g_int(r, 0, 0) : 0;
    PQclear(r);
    return DS_OK;
}

/* One step: the lowest embedded migration not yet recorded (versions are
 * checked one by one, not against the highest recorded, so a version that
 * reached the tree after a higher one is still applied). */
static ds_status pg_migrate_step(pg_store *s, const ds_migration *m, size_t n, int64_t now, bool *applied,
                                 int *cur)
{
    *applied = false;
    ds_status r = pg_begin(s);
    if (r == DS_OK)
        r = pg_exec(s, "SELECT pg_advisory_xact_lock(" DS_PG_MIGRATE_LOCK ")", "migration lock");
    if (r == DS_OK)
        r = pg_exec(s,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                    "create schema_migrations");
    if (r == DS_OK)
        r = pg_schema_version(&s->base, cur);
    if (r != DS_OK)
        return pg_rollback(s, r);
    int latest = n == 0 ? 0 : m[n - 1].version;
    if (*cur > latest)
        return pg_rollback(s, ds_store_fail(&s->base, DS_E_SCHEMA,
                                            "database schema version %d is newer than this program's %d",
                                            *cur, latest));
    for (size_t i = 0; i < n; i++) {
        pg_params q = {0};
        p_int(&q, m[i].version);
        PGresult *has = pg_q(s, Q_MIG_HAS, &q, &r);
        if (has == NULL)
            return pg_rollback(s, r);
        bool recorded = g_int(has, 0, 0) > 0;
        PQclear(has);
        if (recorded)
            continue;
        if ((r = pg_exec(s, m[i].sql, m[i].name)) != DS_OK)
            return pg_rollback(s, ds_store_fail(&s->base, DS_E_SCHEMA, "migration %03d_%s failed: %s",
                                                m[i].version, m[i].name, s->base.err));
        pg_params p = {0};
        p_int(&p, m[i].version);
        p_text(&p, m[i].name);
        p_int(&p, now);
        if ((r = pg_run(s, Q_MIG_INSERT, &p, NULL)) != DS_OK)
            return pg_rollback(s, r);
        *applied = true;
        if (m[i].version > *cur)
            *cur = m[i].version;
        break;
    }
    r = pg_commit(s);
    return r == DS_OK ? DS_OK : pg_rollback(s, r);
}

static ds_status pg_migrate(ds_store *base, const ds_migration *m, size_t n, int64_t now, int *version_out)
{
    pg_store *s = pg(base);
    bool applied = true;
    int cur = 0;
    ds_status r = DS_OK;
    while (applied && r == DS_OK)
        r = pg_migrate_step(s, m, n, now, &applied, &cur);
    if (r == DS_OK && version_out != NULL)
        *version_out = cur;
    return r;
}

static ds_status pg_check(ds_store *base)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    ds_status st;
    PGresult *r = pg_q(s, Q_CHECK, &p, &st);
    if (r == NULL)
        return st;
    int64_t v[DS_CHECK_COLS] = {0};
    bool ok = PQntuples(r) == 1 && PQnfields(r) == DS_CHECK_COLS;
    for (int i = 0; ok && i < DS_CHECK_COLS; i++)
        v[i] = g_int(r, 0, i);
    PQclear(r);
    if (!ok)
        return ds_store_fail(base, DS_E_DB, "postgres: consistency query returned an unexpected shape");
    return ds_check_verdict(base, v);
}

/* ---- devices -------------------------------------------------------------------- */

static ds_status pg_register_bulk(ds_store *base, const ds_device_new *devs,
                                  const uint8_t (*inst)[DS_INSTANCE_ID_LEN], size_t n, int64_t now,
                                  size_t *dup_index)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    for (size_t i = 0; i < n; i++) {
        pg_params p = {0};
        p_blob(&p, devs[i].device_id, DS_DEVICE_ID_LEN);
        p_text(&p, devs[i].class_name);
        p_blob(&p, devs[i].drk_pub, DS_DRK_PUB_LEN);
        p_blob(&p, inst[i], DS_INSTANCE_ID_LEN);
        p_int(&p, (int64_t)devs[i].epoch);
        p_int(&p, now);
        if ((r = pg_run(s, Q_DEV_INSERT, &p, NULL)) != DS_OK) {
            if (r == DS_E_EXISTS) {
                char hex[2 * DS_DEVICE_ID_LEN + 1], why[DS_ERR_MAX];
                ds_hex(devs[i].device_id, DS_DEVICE_ID_LEN, hex);
                ds_copy_text(why, sizeof why, base->err, strlen(base->err));
                if (dup_index != NULL)
                    *dup_index = i;
                ds_store_fail(base, r, "device %zu (%s) already registered; nothing inserted (%.300s)", i,
                              hex, why);
            }
            return pg_rollback(s, r);
        }
    }
    r = pg_commit(s);
    return r == DS_OK ? DS_OK : pg_rollback(s, r);
}

static ds_status pg_device_get(ds_store *base, const uint8_t *key, bool by_instance, ds_device *out)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_blob(&p, key, by_instance ? DS_INSTANCE_ID_LEN : DS_DEVICE_ID_LEN);
    ds_status st;
    PGresult *r = pg_q(s, by_instance ? Q_DEV_GET_INST : Q_DEV_GET, &p, &st);
    if (r == NULL)
        return st;
    st = PQntuples(r) == 1 ? row_device(s, r, 0, out) : ds_store_fail(base, DS_E_NOT_FOUND, "no such device");
    PQclear(r);
    return st;
}

static ds_status pg_device_list(ds_store *base, const ds_device_filter *f, ds_device_cb cb, void *ctx)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_text(&p, f->class_name);
    p_text(&p, f->status == DS_DEV_ANY ? NULL : ds_device_status_name(f->status));
    if (f->limit == 0)
        p_text(&p, NULL); /* LIMIT NULL: no limit */
    else
        p_int(&p, (int64_t)f->limit);
    p_int(&p, (int64_t)f->offset);
    ds_status st;
    PGresult *r = pg_q(s, Q_DEV_LIST, &p, &st);
    if (r == NULL)
        return st;
    ds_device d;
    for (int i = 0; i < PQntuples(r); i++) {
        if ((st = row_device(s, r, i, &d)) != DS_OK || cb(&d, ctx) != 0)
            break;
    }
    PQclear(r);
    return st;
}

/* Inside the open transaction: the device's status, its row locked
 * (SELECT … FOR UPDATE) until the transaction ends. */
static ds_status pg_current_status(pg_store *s, const uint8_t *id, ds_device_status *cur)
{
    ds_status r;
    pg_params p = {0};
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    PGresult *res = pg_q(s, Q_DEV_STATUS, &p, &r);
    if (res == NULL)
        return r;
    char name[32] = "";
    int rows = PQntuples(res);
    if (rows == 1)
        g_text(res, 0, 0, name, sizeof name);
    PQclear(res);
    if (rows != 1)
        return ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such device");
    if (ds_device_status_parse(name, cur) != DS_OK)
        return ds_store_fail(&s->base, DS_E_CORRUPT, "postgres: bad status '%s'", name);
    return DS_OK;
}

/* Inside the open transaction: status cur → to, and its log row. */
static ds_status pg_write_status(pg_store *s, const uint8_t *id, ds_device_status cur, ds_device_status to,
                                 const char *reason, int64_t now)
{
    pg_params u = {0};
    p_blob(&u, id, DS_DEVICE_ID_LEN);
    p_text(&u, ds_device_status_name(to));
    p_text(&u, reason);
    p_int(&u, now);
    ds_status r = pg_run(s, Q_DEV_SET_STATUS, &u, NULL);
    if (r != DS_OK)
        return r;
    pg_params l = {0};
    p_blob(&l, id, DS_DEVICE_ID_LEN);
    p_text(&l, ds_device_status_name(cur));
    p_text(&l, ds_device_status_name(to));
    p_text(&l, reason);
    p_int(&l, now);
    return pg_run(s, Q_STATUS_LOG, &l, NULL);
}

static ds_status pg_set_status(ds_store *base, const uint8_t *id, ds_device_status to, const char *reason,
                               int64_t now)
{
    pg_store *s = pg(base);
    ds_device_status cur = DS_DEV_ANY;
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    if ((r = pg_current_status(s, id, &cur)) != DS_OK)
        return pg_rollback(s, r);
    if (cur == to) /* idempotent retry: nothing to record */
        return pg_rollback(s, DS_OK);
    if (!ds_device_transition_allowed(cur, to))
        return pg_rollback(s, ds_store_fail(base, DS_E_CONFLICT, "status transition %s -> %s is not allowed",
                                            ds_device_status_name(cur), ds_device_status_name(to)));
    if ((r = pg_write_status(s, id, cur, to, reason, now)) != DS_OK)
        return pg_rollback(s, r);
    r = pg_commit(s);
    return r == DS_OK ? DS_OK : pg_rollback(s, r);
}

static ds_status pg_set_key(ds_store *base, const uint8_t *id, const uint8_t *new_pub,
                            const uint8_t *new_inst, uint64_t new_epoch, int64_t now)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    pg_params p = {0};
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    PGresult *res = pg_q(s, Q_DEV_KEY, &p, &r);
    if (res == NULL)
        return pg_rollback(s, r);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return pg_rollback(s, ds_store_fail(base, DS_E_NOT_FOUND, "no such device"));
    }
    uint8_t old_pub[DS_DRK_PUB_LEN], old_inst[DS_INSTANCE_ID_LEN];
    char status[32];
    bool ok = g_blob(res, 0, 0, old_pub, sizeof old_pub) && g_blob(res, 0, 1, old_inst, sizeof old_inst);
    uint64_t old_epoch = (uint64_t)g_int(res, 0, 2);
    g_text(res, 0, 3, status, sizeof status);
    PQclear(res);
    if (!ok)
        return pg_rollback(s, ds_store_fail(base, DS_E_CORRUPT, "postgres: malformed key columns"));
    if (strcmp(status, "revoked") == 0 || strcmp(status, "decommissioned") == 0)
        return pg_rollback(s, ds_store_fail(base, DS_E_CONFLICT, "device is %s: no new key", status));
    if (new_epoch <= old_epoch)
        return pg_rollback(s, ds_store_fail(base, DS_E_CONFLICT, "new epoch %llu is not above current %llu",
                                            (unsigned long long)new_epoch, (unsigned long long)old_epoch));
    pg_params k = {0};
    p_blob(&k, id, DS_DEVICE_ID_LEN);
    p_int(&k, (int64_t)old_epoch);
    p_blob(&k, old_pub, DS_DRK_PUB_LEN);
    p_blob(&k, old_inst, DS_INSTANCE_ID_LEN);
    p_int(&k, now);
    if ((r = pg_run(s, Q_KEY_INSERT, &k, NULL)) != DS_OK)
        return pg_rollback(s, r);
    pg_params u = {0};
    p_blob(&u, id, DS_DEVICE_ID_LEN);
    p_blob(&u, new_pub, DS_DRK_PUB_LEN);
    p_blob(&u, new_inst, DS_INSTANCE_ID_LEN);
    p_int(&u, (int64_t)new_epoch);
    p_int(&u, now);
    if ((r = pg_run(s, Q_DEV_SET_KEY, &u, NULL)) != DS_OK)
        return pg_rollback(s, r);
    r = pg_commit(s);
    return r == DS_OK ? DS_OK : pg_rollback(s, r);
}

static ds_status pg_exists(pg_store *s, const uint8_t *id)
{
    pg_params p = {0};
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    ds_status st;
    PGresult *r = pg_q(s, Q_DEV_EXISTS, &p, &st);
    if (r == NULL)
        return st;
    int rows = PQntuples(r);
    PQclear(r);
    return rows == 1 ? DS_OK : ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such device");
}

static ds_status pg_key_history(ds_store *base, const uint8_t *id, ds_key_cb cb, void *ctx)
{
    pg_store *s = pg(base);
    ds_status st = pg_exists(s, id);
    if (st != DS_OK)
        return st;
    pg_params p = {0};
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    PGresult *r = pg_q(s, Q_KEY_HISTORY, &p, &st);
    if (r == NULL)
        return st;
    for (int i = 0; i < PQntuples(r); i++) {
        ds_device_key k = {0};
        k.epoch = (uint64_t)g_int(r, i, 0);
        k.retired_at = g_int(r, i, 3);
        if (!g_blob(r, i, 1, k.drk_pub, DS_DRK_PUB_LEN) ||
            !g_blob(r, i, 2, k.instance_id, DS_INSTANCE_ID_LEN)) {
            st = ds_store_fail(base, DS_E_CORRUPT, "postgres: malformed device_keys row");
            break;
        }
        if (cb(&k, ctx) != 0)
            break;
    }
    PQclear(r);
    return st;
}

/* ---- challenges ------------------------------------------------------------------- */

static ds_status pg_challenge_issue(ds_store *base, const uint8_t *ch, const uint8_t *id, int64_t issued_at,
                                    int64_t expires_at)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_blob(&p, ch, DS_CHALLENGE_LEN);
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    p_int(&p, issued_at);
    p_int(&p, expires_at);
    ds_status r = pg_run(s, Q_CH_INSERT, &p, NULL);
    if (r == DS_E_NOT_FOUND)
        ds_store_fail(base, r, "challenge bound to an unknown device");
    return r;
}

static ds_status pg_challenge_consume(ds_store *base, const uint8_t *ch, int64_t now, uint8_t *id_out,
                                      bool *bound_out)
{
    pg_store *s = pg(base);
    pg_params p = {0};
    p_blob(&p, ch, DS_CHALLENGE_LEN);
    ds_status st;
    PGresult *r = pg_q(s, Q_CH_CONSUME, &p, &st); /* autocommit: one atomic statement */
    if (r == NULL)
        return st;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ds_store_fail(base, DS_E_NOT_FOUND, "unknown or already used challenge");
    }
    bool bound = !PQgetisnull(r, 0, 0);
    uint8_t id[DS_DEVICE_ID_LEN] = {0};
    bool ok = !bound || g_blob(r, 0, 0, id, sizeof id);
    int64_t expires_at = g_int(r, 0, 1);
    PQclear(r);
    if (!ok)
        return ds_store_fail(base, DS_E_CORRUPT, "postgres: malformed challenge row");
    if (now >= expires_at)
        return ds_store_fail(base, DS_E_EXPIRED, "challenge expired");
    if (bound_out != NULL)
        *bound_out = bound;
    if (id_out != NULL)
        memcpy(id_out, id, DS_DEVICE_ID_LEN);
    return DS_OK;
}

static ds_status pg_challenge_purge(ds_store *base, int64_t now, uint64_t *purged)
{
    pg_params p = {0};
    p_int(&p, now);
    long n = 0;
    ds_status r = pg_run(pg(base), Q_CH_PURGE, &p, &n);
    if (r == DS_OK && purged != NULL)
        *purged = (uint64_t)n;
    return r;
}

/* ---- attestations --------------------------------------------------------------- */

/* The device-row part of recording an attestation, inside the open
 * transaction; the status is read with the row locked, so the change is
 * made from the status it was decided on. */
static ds_status pg_att_device(pg_store *s, const ds_attestation *a, const ds_attest_update *upd, int64_t now,
                               ds_attest_outcome *out)
{
    ds_status r = pg_current_status(s, a->device_id, &out->prev_status);
    if (r != DS_OK)
        return r;
    out->status = out->prev_status;
    pg_params u = {0};
    p_blob(&u, a->device_id, DS_DEVICE_ID_LEN);
    p_int(&u, a->at);
    p_text(&u, ds_result_name(a->result));
    if ((r = pg_run(s, Q_ATT_DEVICE, &u, NULL)) != DS_OK)
        return r;
    if (upd->set_tamper_count) {
        pg_params t = {0};
        p_blob(&t, a->device_id, DS_DEVICE_ID_LEN);
        p_int(&t, (int64_t)upd->tamper_count);
        if ((r = pg_run(s, Q_ATT_TAMPER, &t, NULL)) != DS_OK)
            return r;
    }
    if (upd->quarantine && out->prev_status != DS_DEV_QUARANTINED &&
        ds_device_transition_allowed(out->prev_status, DS_DEV_QUARANTINED)) {
        r = pg_write_status(s, a->device_id, out->prev_status, DS_DEV_QUARANTINED, upd->reason, now);
        if (r != DS_OK)
            return r;
        out->status = DS_DEV_QUARANTINED;
        out->action = DS_ACTION_QUARANTINED;
    }
    return DS_OK;
}

static ds_status pg_att_record(ds_store *base, const ds_attestation *a, const ds_attest_update *upd,
                               int64_t now, ds_attest_outcome *out)
{
    pg_store *s = pg(base);
    ds_status r = pg_begin(s);
    if (r != DS_OK)
        return r;
    if ((r = pg_att_device(s, a, upd, now, out)) != DS_OK) {
        memset(out, 0, sizeof *out);
        return pg_rollback(s, r);
    }
    pg_params p = {0};
    p_blob(&p, a->device_id, DS_DEVICE_ID_LEN);
    p_int(&p, a->at);
    p_text(&p, ds_result_name(a->result));
    p_text(&p, a->reasons);
    p_blob(&p, a->evidence_digest, DS_DIGEST_LEN);
    p_blob(&p, a->token, a->token_len);
    p_text(&p, ds_att_action_name(out->action));
    PGresult *res = pg_q(s, Q_ATT_INSERT, &p, &r);
    if (res != NULL) {
        out->id = PQntuples(res) == 1 ? g_int(res, 0, 0) : 0;
        PQclear(res);
        if (upd->in_tx != NULL)
            r = upd->in_tx(base, out, upd->in_tx_ctx);
        if (r == DS_OK)
            r = pg_commit(s);
    }
    if (r != DS_OK) {
        memset(out, 0, sizeof *out);
        return pg_rollback(s, r);
    }
    return DS_OK;
}

static ds_status pg_att_list(ds_store *base, const uint8_t *id, size_t limit, ds_attestation_cb cb, void *ctx)
{
    pg_store *s = pg(base);
    ds_status st = pg_exists(s, id);
    if (st != DS_OK)
        return st;
    pg_params p = {0};
    p_blob(&p, id, DS_DEVICE_ID_LEN);
    if (limit == 0)
        p_text(&p, NULL);
    else
        p_int(&p, (int64_t)limit);
    PGresult *r = pg_q(s, Q_ATT_LIST, &p, &st);
    if (r == NULL)
        return st;
    char reasons[DS_REASON_MAX + 1];
    for (int i = 0; i < PQntuples(r); i++) {
        ds_attestation a = {0};
        char result[8], action[16];
        a.id = g_int(r, i, 0);
        a.at = g_int(r, i, 2);
        g_text(r, i, 3, result, sizeof result);
        g_text(r, i, 4, reasons, sizeof reasons);
        g_text(r, i, 7, action, sizeof action);
        a.reasons = reasons;
        if (!PQgetisnull(r, i, 6)) {
            a.token = (const uint8_t *)PQgetvalue(r, i, 6);
            a.token_len = (size_t)PQgetlength(r, i, 6);
        }
        if (!g_blob(r, i, 1, a.device_id, DS_DEVICE_ID_LEN) ||
            !g_blob(r, i, 5, a.evidence_digest, DS_DIGEST_LEN) ||
            ds_result_parse(result, &a.result) != DS_OK || ds_att_action_parse(action, &a.action) != DS_OK) {
            st = ds_store_fail(base, DS_E_CORRUPT, "postgres: malformed attestations row");
            break;
        }
        if (cb(&a, ctx) != 0)
            break;
    }
    PQclear(r);
    return st;
}

static const ds_store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .check = pg_check,
    .device_register_bulk = pg_register_bulk,
    .device_get = pg_device_get,
    .device_list = pg_device_list,
    .device_set_status = pg_set_status,
    .device_set_key = pg_set_key,
    .device_key_history = pg_key_history,
    .challenge_issue = pg_challenge_issue,
    .challenge_consume = pg_challenge_consume,
    .challenge_purge_expired = pg_challenge_purge,
    .attestation_record = pg_att_record,
    .attestation_list = pg_att_list,
    .jobs = &ds_pg_job_ops,
};

/* "NOTICE: relation … already exists, skipping" and the like are expected
 * during migrations; libpq would print them on stderr. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* see store_internal.h */
ds_status ds_store_pg_open(const char *url, ds_store **out, char *err, size_t errlen)
{
    pg_store *s = ds_calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return DS_E_NOMEM;
    }
    s->base.ops = &pg_ops;
    s->conn = PQconnectdb(url);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        if (err != NULL && errlen > 0) {
            const char *m = s->conn != NULL ? PQerrorMessage(s->conn) : "out of memory";
            snprintf(err, errlen, "postgres: cannot connect: %s", m);
            size_t n = strlen(err);
            while (n > 0 && err[n - 1] == '\n')
                err[--n] = '\0';
        }
        pg_close(&s->base);
        return DS_E_DB;
    }
    PQsetNoticeProcessor(s->conn, quiet_notice, NULL);
    *out = &s->base;
    return DS_OK;
}
