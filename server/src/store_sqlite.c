/*
 * store_sqlite.c — the SQLite backend of store.h (the embedded default).
 *
 * Connection settings, and why:
 *   journal_mode=WAL   readers never block the writer and a crash (even
 *                      SIGKILL mid-commit) leaves the last committed state;
 *   synchronous=FULL   the WAL is synced at every commit, so a committed
 *                      attestation or a consumed challenge survives power loss;
 *   busy_timeout=5000  other processes holding the write lock are waited for
 *                      instead of failing at once;
 *   foreign_keys=ON    SQLite's default is off.
 *
 * Atomicity: every write transaction starts with BEGIN IMMEDIATE, which takes
 * the database's single write lock before reading anything. So a transaction
 * that reads a row and then changes it (status transitions, key rotation)
 * cannot interleave with another writer, and the deferred-upgrade case that
 * fails without waiting (SQLITE_BUSY_SNAPSHOT) cannot occur. A challenge is
 * consumed by one DELETE … RETURNING under that lock: the first consumer
 * deletes the row, every later one finds nothing.
 *
 * Statements are prepared once per connection (lazily, SQLITE_PREPARE_PERSISTENT)
 * and reset after every use so that no statement keeps a read snapshot open.
 * Rotation jobs and campaigns are in store_sqlite_jobs.c; the helpers both
 * files use are in store_sqlite_internal.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "store_sqlite_internal.h"

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
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'registered', ?6, ?6)",
    [Q_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE device_id = ?1",
    [Q_DEV_GET_INST] = "SELECT " DEV_COLS " FROM devices WHERE instance_id = ?1",
    [Q_DEV_LIST] = "SELECT " DEV_COLS " FROM devices WHERE (?1 IS NULL OR class = ?1) AND "
                   "(?2 IS NULL OR status = ?2) ORDER BY device_id LIMIT ?3 OFFSET ?4",
    [Q_DEV_STATUS] = "SELECT status FROM devices WHERE device_id = ?1",
    [Q_DEV_SET_STATUS] =
        "UPDATE devices SET status = ?2, status_reason = ?3, updated_at = ?4 WHERE device_id = ?1",
    [Q_STATUS_LOG] = "INSERT INTO device_status_log (device_id, from_status, to_status, reason, at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_DEV_KEY] = "SELECT drk_pub, instance_id, epoch, status FROM devices WHERE device_id = ?1",
    [Q_KEY_INSERT] = "INSERT INTO device_keys (device_id, epoch, drk_pub, instance_id, retired_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_DEV_SET_KEY] = "UPDATE devices SET drk_pub = ?2, instance_id = ?3, epoch = ?4, updated_at = ?5 "
                      "WHERE device_id = ?1",
    [Q_KEY_HISTORY] = "SELECT epoch, drk_pub, instance_id, retired_at FROM device_keys WHERE device_id = ?1 "
                      "ORDER BY epoch",
    [Q_DEV_EXISTS] = "SELECT 1 FROM devices WHERE device_id = ?1",
    [Q_CH_INSERT] =
        "INSERT INTO challenges (challenge, device_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    [Q_CH_CONSUME] = "DELETE FROM challenges WHERE challenge = ?1 RETURNING device_id, expires_at",
    [Q_CH_PURGE] = "DELETE FROM challenges WHERE expires_at <= ?1",
    [Q_ATT_DEVICE] =
        "UPDATE devices SET last_attest_at = ?2, last_result = ?3, attest_count = attest_count + 1 "
        "WHERE device_id = ?1",
    [Q_ATT_TAMPER] = "UPDATE devices SET tamper_count = ?2 WHERE device_id = ?1",
    [Q_ATT_INSERT] =
        "INSERT INTO attestations (device_id, at, result, reasons, evidence_digest, token, action) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_ATT_LIST] =
        "SELECT id, device_id, at, result, reasons, evidence_digest, token, action FROM attestations "
        "WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2",
    [Q_MIG_TABLE] = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    [Q_MIG_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    [Q_MIG_INSERT] = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
    [Q_MIG_HAS] = "SELECT count(*) FROM schema_migrations WHERE version = ?1",
    [Q_CHECK] = DS_SQL_CHECK,
};

_Static_assert(Q_COUNT <= SQ_STMT_MAX, "raise SQ_STMT_MAX");

/* The cached statement q, prepared on first use, reset with no bindings. */
static ds_status sq_prep(sq_store *s, int q, sqlite3_stmt **out)
{
    return sq_prepare_cached(s, &s->stmt[q], sql_text[q], out);
}

/* Reads a DEV_COLS row. */
static ds_status row_device(sq_store *s, sqlite3_stmt *st, ds_device *d)
{
    char status[32], result[8];
    memset(d, 0, sizeof *d);
    bool ok = col_blob(st, 0, d->device_id, DS_DEVICE_ID_LEN) &&
              col_blob(st, 2, d->drk_pub, DS_DRK_PUB_LEN) &&
              col_blob(st, 3, d->instance_id, DS_INSTANCE_ID_LEN);
    col_text(st, 1, d->class_name, sizeof d->class_name);
    d->epoch = (uint64_t)sqlite3_column_int64(st, 4);
    col_text(st, 5, status, sizeof status);
    col_text(st, 6, d->status_reason, sizeof d->status_reason);
    d->registered_at = sqlite3_column_int64(st, 7);
    d->updated_at = sqlite3_column_int64(st, 8);
    d->last_attest_at = sqlite3_column_int64(st, 9); /* NULL reads as 0 = never */
    col_text(st, 10, result, sizeof result);
    d->attest_count = (uint64_t)sqlite3_column_int64(st, 11);
    d->has_tamper_count = sqlite3_column_type(st, 12) != SQLITE_NULL;
    d->tamper_count = (uint64_t)sqlite3_column_int64(st, 12);
    if (!ok || ds_device_status_parse(status, &d->status) != DS_OK ||
        (result[0] != '\0' && ds_result_parse(result, &d->last_result) != DS_OK))
        return ds_store_fail(&s->base, DS_E_CORRUPT, "sqlite: malformed devices row");
    return DS_OK;
}

/* ---- open / close / schema ------------------------------------------------------ */

static void sq_close(ds_store *base)
{
    sq_store *s = sq(base);
    for (int i = 0; i < SQ_STMT_MAX; i++)
        sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < SQ_JOB_STMT_MAX; i++)
        sqlite3_finalize(s->jstmt[i]);
    sqlite3_close(s->db);
    ds_free(s);
}

static ds_status sq_schema_version(ds_store *base, int *version_out)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_MIG_TABLE, &st);
    if (r != DS_OK)
        return r;
    int rc = sqlite3_step(st);
    int64_t have = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "schema version");
    *version_out = 0;
    if (have == 0)
        return DS_OK;
    if ((r = sq_prep(s, Q_MIG_VERSION, &st)) != DS_OK)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version_out = (int)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? DS_OK : sq_fail(s, rc, "schema version");
}

/* One migration step: under the write lock, find the first version above the
 * recorded one and apply it with its schema_migrations row. *applied tells
 * the caller whether to go on. */
/* Whether migration version is recorded in schema_migrations. */
static ds_status sq_mig_recorded(sq_store *s, int version, bool *have)
{
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_MIG_HAS, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int(st, 1, version);
    int rc = sqlite3_step(st);
    *have = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? DS_OK : sq_fail(s, rc, "migration recorded");
}

/* One step: the lowest embedded migration not yet recorded (versions are
 * checked one by one, not against the highest recorded, so a version that
 * reached the tree after a higher one is still applied). */
static ds_status sq_migrate_step(sq_store *s, const ds_migration *m, size_t n, int64_t now, bool *applied,
                                 int *cur)
{
    *applied = false;
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    r = sq_exec(s,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                "create schema_migrations");
    if (r == DS_OK)
        r = sq_schema_version(&s->base, cur);
    if (r != DS_OK)
        return sq_rollback(s, r);
    int latest = n == 0 ? 0 : m[n - 1].version;
    if (*cur > latest)
        return sq_rollback(s, ds_store_fail(&s->base, DS_E_SCHEMA,
                                            "database schema version %d is newer than this program's %d",
                                            *cur, latest));
    for (size_t i = 0; i < n; i++) {
        bool have = false;
        if ((r = sq_mig_recorded(s, m[i].version, &have)) != DS_OK)
            return sq_rollback(s, r);
        if (have)
            continue;
        r = sq_exec(s, m[i].sql, m[i].name);
        if (r != DS_OK)
            return sq_rollback(s, ds_store_fail(&s->base, DS_E_SCHEMA, "migration %03d_%s failed: %s",
                                                m[i].version, m[i].name, s->base.err));
        sqlite3_stmt *st;
        if ((r = sq_prep(s, Q_MIG_INSERT, &st)) != DS_OK)
            return sq_rollback(s, r);
        sqlite3_bind_int(st, 1, m[i].version);
        bind_text(st, 2, m[i].name);
        sqlite3_bind_int64(st, 3, now);
        if ((r = sq_run(s, st, "record migration")) != DS_OK)
            return sq_rollback(s, r);
        *applied = true;
        if (m[i].version > *cur)
            *cur = m[i].version;
        break;
    }
    r = sq_commit(s);
    return r == DS_OK ? DS_OK : sq_rollback(s, r);
}

static ds_status sq_migrate(ds_store *base, const ds_migration *m, size_t n, int64_t now, int *version_out)
{
    sq_store *s = sq(base);
    bool applied = true;
    int cur = 0;
    ds_status r = DS_OK;
    while (applied && r == DS_OK)
        r = sq_migrate_step(s, m, n, now, &applied, &cur);
    if (r == DS_OK && version_out != NULL)
        *version_out = cur;
    return r;
}

static ds_status sq_check(ds_store *base)
{
    sq_store *s = sq(base);
    char first[256] = "";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "integrity_check");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        col_text(st, 0, first, sizeof first);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "integrity_check");
    if (strcmp(first, "ok") != 0)
        return ds_store_fail(base, DS_E_CORRUPT, "sqlite integrity_check: %s", first);
    rc = sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "foreign_key_check");
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return ds_store_fail(base, DS_E_CORRUPT,
                             "sqlite foreign_key_check: a row references a missing parent");
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, "foreign_key_check");

    ds_status r = sq_prep(s, Q_CHECK, &st);
    if (r != DS_OK)
        return r;
    rc = sqlite3_step(st);
    int64_t v[DS_CHECK_COLS] = {0};
    for (int i = 0; rc == SQLITE_ROW && i < DS_CHECK_COLS; i++)
        v[i] = sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "consistency check");
    return ds_check_verdict(base, v);
}

/* ---- devices -------------------------------------------------------------------- */

static ds_status sq_register_bulk(ds_store *base, const ds_device_new *devs,
                                  const uint8_t (*inst)[DS_INSTANCE_ID_LEN], size_t n, int64_t now,
                                  size_t *dup_index)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    sqlite3_stmt *st;
    if ((r = sq_prep(s, Q_DEV_INSERT, &st)) != DS_OK)
        return sq_rollback(s, r);
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        bind_blob(st, 1, devs[i].device_id, DS_DEVICE_ID_LEN);
        bind_text(st, 2, devs[i].class_name);
        bind_blob(st, 3, devs[i].drk_pub, DS_DRK_PUB_LEN);
        bind_blob(st, 4, inst[i], DS_INSTANCE_ID_LEN);
        sqlite3_bind_int64(st, 5, (int64_t)devs[i].epoch);
        sqlite3_bind_int64(st, 6, now);
        r = sq_run(s, st, "register");
        if (r != DS_OK) {
            if (r == DS_E_EXISTS) {
                char hex[2 * DS_DEVICE_ID_LEN + 1];
                ds_hex(devs[i].device_id, DS_DEVICE_ID_LEN, hex);
                if (dup_index != NULL)
                    *dup_index = i;
                ds_store_fail(base, r, "device %zu (%s) already registered (%s); nothing inserted", i, hex,
                              sqlite3_errmsg(s->db));
            }
            return sq_rollback(s, r);
        }
    }
    r = sq_commit(s);
    return r == DS_OK ? DS_OK : sq_rollback(s, r);
}

static ds_status sq_device_get(ds_store *base, const uint8_t *key, bool by_instance, ds_device *out)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, by_instance ? Q_DEV_GET_INST : Q_DEV_GET, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, key, by_instance ? DS_INSTANCE_ID_LEN : DS_DEVICE_ID_LEN);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = row_device(s, st, out);
    else if (rc == SQLITE_DONE)
        r = ds_store_fail(base, DS_E_NOT_FOUND, "no such device");
    else
        r = sq_fail(s, rc, "device get");
    sqlite3_reset(st);
    return r;
}

static ds_status sq_device_list(ds_store *base, const ds_device_filter *f, ds_device_cb cb, void *ctx)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_DEV_LIST, &st);
    if (r != DS_OK)
        return r;
    bind_text(st, 1, f->class_name);
    bind_text(st, 2, f->status == DS_DEV_ANY ? NULL : ds_device_status_name(f->status));
    sqlite3_bind_int64(st, 3, f->limit == 0 ? -1 : (int64_t)f->limit); /* LIMIT -1: none */
    sqlite3_bind_int64(st, 4, (int64_t)f->offset);
    int rc;
    ds_device d;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((r = row_device(s, st, &d)) != DS_OK)
            break;
        if (cb(&d, ctx) != 0)
            break;
    }
    if (r == DS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, "device list");
    sqlite3_reset(st);
    return r;
}

/* Reads the current status of a device inside the open transaction. */
static ds_status sq_current_status(sq_store *s, const uint8_t *id, ds_device_status *cur)
{
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_DEV_STATUS, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char name[32];
        col_text(st, 0, name, sizeof name);
        if (ds_device_status_parse(name, cur) != DS_OK)
            r = ds_store_fail(&s->base, DS_E_CORRUPT, "sqlite: bad status '%s'", name);
    } else {
        r = rc == SQLITE_DONE ? ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such device")
                              : sq_fail(s, rc, "device status");
    }
    sqlite3_reset(st);
    return r;
}

/* Inside the open transaction: status cur → to, and its log row. */
static ds_status sq_write_status(sq_store *s, const uint8_t *id, ds_device_status cur, ds_device_status to,
                                 const char *reason, int64_t now)
{
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_DEV_SET_STATUS, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    bind_text(st, 2, ds_device_status_name(to));
    bind_text(st, 3, reason);
    sqlite3_bind_int64(st, 4, now);
    if ((r = sq_run(s, st, "set status")) != DS_OK || (r = sq_prep(s, Q_STATUS_LOG, &st)) != DS_OK)
        return r;
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    bind_text(st, 2, ds_device_status_name(cur));
    bind_text(st, 3, ds_device_status_name(to));
    bind_text(st, 4, reason);
    sqlite3_bind_int64(st, 5, now);
    return sq_run(s, st, "status log");
}

static ds_status sq_set_status(ds_store *base, const uint8_t *id, ds_device_status to, const char *reason,
                               int64_t now)
{
    sq_store *s = sq(base);
    ds_device_status cur;
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    if ((r = sq_current_status(s, id, &cur)) != DS_OK)
        return sq_rollback(s, r);
    if (cur == to) /* idempotent retry: nothing to record */
        return sq_rollback(s, DS_OK);
    if (!ds_device_transition_allowed(cur, to))
        return sq_rollback(s, ds_store_fail(base, DS_E_CONFLICT, "status transition %s -> %s is not allowed",
                                            ds_device_status_name(cur), ds_device_status_name(to)));
    if ((r = sq_write_status(s, id, cur, to, reason, now)) != DS_OK)
        return sq_rollback(s, r);
    r = sq_commit(s);
    return r == DS_OK ? DS_OK : sq_rollback(s, r);
}

static ds_status sq_set_key(ds_store *base, const uint8_t *id, const uint8_t *new_pub,
                            const uint8_t *new_inst, uint64_t new_epoch, int64_t now)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    sqlite3_stmt *st;
    if ((r = sq_prep(s, Q_DEV_KEY, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? ds_store_fail(base, DS_E_NOT_FOUND, "no such device") : sq_fail(s, rc, "key");
        sqlite3_reset(st);
        return sq_rollback(s, r);
    }
    uint8_t old_pub[DS_DRK_PUB_LEN], old_inst[DS_INSTANCE_ID_LEN];
    char status[32];
    bool ok = col_blob(st, 0, old_pub, sizeof old_pub) && col_blob(st, 1, old_inst, sizeof old_inst);
    uint64_t old_epoch = (uint64_t)sqlite3_column_int64(st, 2);
    col_text(st, 3, status, sizeof status);
    sqlite3_reset(st);
    if (!ok)
        return sq_rollback(s, ds_store_fail(base, DS_E_CORRUPT, "sqlite: malformed key columns"));
    if (strcmp(status, "revoked") == 0 || strcmp(status, "decommissioned") == 0)
        return sq_rollback(s, ds_store_fail(base, DS_E_CONFLICT, "device is %s: no new key", status));
    if (new_epoch <= old_epoch)
        return sq_rollback(s, ds_store_fail(base, DS_E_CONFLICT, "new epoch %llu is not above current %llu",
                                            (unsigned long long)new_epoch, (unsigned long long)old_epoch));
    if ((r = sq_prep(s, Q_KEY_INSERT, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    sqlite3_bind_int64(st, 2, (int64_t)old_epoch);
    bind_blob(st, 3, old_pub, DS_DRK_PUB_LEN);
    bind_blob(st, 4, old_inst, DS_INSTANCE_ID_LEN);
    sqlite3_bind_int64(st, 5, now);
    if ((r = sq_run(s, st, "key history")) != DS_OK)
        return sq_rollback(s, r);
    if ((r = sq_prep(s, Q_DEV_SET_KEY, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    bind_blob(st, 2, new_pub, DS_DRK_PUB_LEN);
    bind_blob(st, 3, new_inst, DS_INSTANCE_ID_LEN);
    sqlite3_bind_int64(st, 4, (int64_t)new_epoch);
    sqlite3_bind_int64(st, 5, now);
    if ((r = sq_run(s, st, "set key")) != DS_OK)
        return sq_rollback(s, r);
    r = sq_commit(s);
    return r == DS_OK ? DS_OK : sq_rollback(s, r);
}

static ds_status sq_exists(sq_store *s, const uint8_t *id)
{
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_DEV_EXISTS, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return DS_OK;
    return rc == SQLITE_DONE ? ds_store_fail(&s->base, DS_E_NOT_FOUND, "no such device")
                             : sq_fail(s, rc, "exists");
}

static ds_status sq_key_history(ds_store *base, const uint8_t *id, ds_key_cb cb, void *ctx)
{
    sq_store *s = sq(base);
    /* One read transaction, so the existence check and the rows agree. */
    ds_status r = sq_exec(s, "BEGIN", "begin");
    if (r != DS_OK)
        return r;
    if ((r = sq_exists(s, id)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_stmt *st;
    if ((r = sq_prep(s, Q_KEY_HISTORY, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ds_device_key k = {0};
        k.epoch = (uint64_t)sqlite3_column_int64(st, 0);
        k.retired_at = sqlite3_column_int64(st, 3);
        if (!col_blob(st, 1, k.drk_pub, DS_DRK_PUB_LEN) ||
            !col_blob(st, 2, k.instance_id, DS_INSTANCE_ID_LEN)) {
            r = ds_store_fail(base, DS_E_CORRUPT, "sqlite: malformed device_keys row");
            break;
        }
        if (cb(&k, ctx) != 0)
            break;
    }
    if (r == DS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, "key history");
    sqlite3_reset(st);
    return sq_rollback(s, r);
}

/* ---- challenges ------------------------------------------------------------------- */

static ds_status sq_challenge_issue(ds_store *base, const uint8_t *ch, const uint8_t *id, int64_t issued_at,
                                    int64_t expires_at)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_CH_INSERT, &st);
    if (r != DS_OK)
        return r;
    bind_blob(st, 1, ch, DS_CHALLENGE_LEN);
    bind_blob(st, 2, id, DS_DEVICE_ID_LEN);
    sqlite3_bind_int64(st, 3, issued_at);
    sqlite3_bind_int64(st, 4, expires_at);
    r = sq_run(s, st, "challenge issue");
    if (r == DS_E_NOT_FOUND)
        ds_store_fail(base, r, "challenge bound to an unknown device");
    return r;
}

static ds_status sq_challenge_consume(ds_store *base, const uint8_t *ch, int64_t now, uint8_t *id_out,
                                      bool *bound_out)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    sqlite3_stmt *st;
    if ((r = sq_prep(s, Q_CH_CONSUME, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, ch, DS_CHALLENGE_LEN);
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW, bound = false;
    int64_t expires_at = 0;
    uint8_t id[DS_DEVICE_ID_LEN] = {0};
    if (found) {
        bound = sqlite3_column_type(st, 0) != SQLITE_NULL;
        if (bound && !col_blob(st, 0, id, sizeof id))
            r = ds_store_fail(base, DS_E_CORRUPT, "sqlite: malformed challenge row");
        expires_at = sqlite3_column_int64(st, 1);
        rc = sqlite3_step(st); /* the key is unique: DONE follows */
    }
    sqlite3_reset(st);
    if (r != DS_OK)
        return sq_rollback(s, r);
    if (rc != SQLITE_DONE)
        return sq_rollback(s, sq_fail(s, rc, "challenge consume"));
    if ((r = sq_commit(s)) != DS_OK)
        return sq_rollback(s, r);
    if (!found)
        return ds_store_fail(base, DS_E_NOT_FOUND, "unknown or already used challenge");
    if (now >= expires_at)
        return ds_store_fail(base, DS_E_EXPIRED, "challenge expired");
    if (bound_out != NULL)
        *bound_out = bound;
    if (id_out != NULL)
        memcpy(id_out, id, DS_DEVICE_ID_LEN);
    return DS_OK;
}

static ds_status sq_challenge_purge(ds_store *base, int64_t now, uint64_t *purged)
{
    sq_store *s = sq(base);
    sqlite3_stmt *st;
    ds_status r = sq_prep(s, Q_CH_PURGE, &st);
    if (r != DS_OK)
        return r;
    sqlite3_bind_int64(st, 1, now);
    if ((r = sq_run(s, st, "challenge purge")) == DS_OK && purged != NULL)
        *purged = (uint64_t)sqlite3_changes64(s->db);
    return r;
}

/* ---- attestations --------------------------------------------------------------- */

/* The device-row part of recording an attestation, inside the open
 * transaction (whose BEGIN IMMEDIATE holds the write lock, so the status
 * read here is the one the change is made from). */
static ds_status sq_att_device(sq_store *s, const ds_attestation *a, const ds_attest_update *u, int64_t now,
                               ds_attest_outcome *out)
{
    sqlite3_stmt *st;
    ds_status r = sq_current_status(s, a->device_id, &out->prev_status);
    if (r != DS_OK)
        return r;
    out->status = out->prev_status;
    if ((r = sq_prep(s, Q_ATT_DEVICE, &st)) != DS_OK)
        return r;
    bind_blob(st, 1, a->device_id, DS_DEVICE_ID_LEN);
    sqlite3_bind_int64(st, 2, a->at);
    bind_text(st, 3, ds_result_name(a->result));
    if ((r = sq_run(s, st, "attestation device")) != DS_OK)
        return r;
    if (u->set_tamper_count) {
        if ((r = sq_prep(s, Q_ATT_TAMPER, &st)) != DS_OK)
            return r;
        bind_blob(st, 1, a->device_id, DS_DEVICE_ID_LEN);
        sqlite3_bind_int64(st, 2, (int64_t)u->tamper_count);
        if ((r = sq_run(s, st, "tamper count")) != DS_OK)
            return r;
    }
    if (u->quarantine && out->prev_status != DS_DEV_QUARANTINED &&
        ds_device_transition_allowed(out->prev_status, DS_DEV_QUARANTINED)) {
        r = sq_write_status(s, a->device_id, out->prev_status, DS_DEV_QUARANTINED, u->reason, now);
        if (r != DS_OK)
            return r;
        out->status = DS_DEV_QUARANTINED;
        out->action = DS_ACTION_QUARANTINED;
    }
    return DS_OK;
}

static ds_status sq_att_record(ds_store *base, const ds_attestation *a, const ds_attest_update *u,
                               int64_t now, ds_attest_outcome *out)
{
    sq_store *s = sq(base);
    ds_status r = sq_begin(s);
    if (r != DS_OK)
        return r;
    if ((r = sq_att_device(s, a, u, now, out)) != DS_OK) {
        memset(out, 0, sizeof *out);
        return sq_rollback(s, r);
    }
    sqlite3_stmt *st;
    if ((r = sq_prep(s, Q_ATT_INSERT, &st)) != DS_OK) {
        memset(out, 0, sizeof *out);
        return sq_rollback(s, r);
    }
    bind_blob(st, 1, a->device_id, DS_DEVICE_ID_LEN);
    sqlite3_bind_int64(st, 2, a->at);
    bind_text(st, 3, ds_result_name(a->result));
    bind_text(st, 4, a->reasons);
    bind_blob(st, 5, a->evidence_digest, DS_DIGEST_LEN);
    bind_blob(st, 6, a->token, a->token_len);
    bind_text(st, 7, ds_att_action_name(out->action));
    if ((r = sq_run(s, st, "attestation insert")) == DS_OK) {
        out->id = sqlite3_last_insert_rowid(s->db);
        if (u->in_tx != NULL)
            r = u->in_tx(base, out, u->in_tx_ctx);
        if (r == DS_OK)
            r = sq_commit(s);
    }
    if (r != DS_OK) {
        memset(out, 0, sizeof *out);
        return sq_rollback(s, r);
    }
    return DS_OK;
}

static ds_status sq_att_list(ds_store *base, const uint8_t *id, size_t limit, ds_attestation_cb cb, void *ctx)
{
    sq_store *s = sq(base);
    ds_status r = sq_exec(s, "BEGIN", "begin");
    if (r != DS_OK)
        return r;
    if ((r = sq_exists(s, id)) != DS_OK)
        return sq_rollback(s, r);
    sqlite3_stmt *st;
    if ((r = sq_prep(s, Q_ATT_LIST, &st)) != DS_OK)
        return sq_rollback(s, r);
    bind_blob(st, 1, id, DS_DEVICE_ID_LEN);
    sqlite3_bind_int64(st, 2, limit == 0 ? -1 : (int64_t)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ds_attestation a = {0};
        char result[8], action[16];
        a.id = sqlite3_column_int64(st, 0);
        a.at = sqlite3_column_int64(st, 2);
        col_text(st, 3, result, sizeof result);
        a.reasons = (const char *)sqlite3_column_text(st, 4);
        a.token = sqlite3_column_blob(st, 6);
        a.token_len = (size_t)sqlite3_column_bytes(st, 6);
        col_text(st, 7, action, sizeof action);
        if (!col_blob(st, 1, a.device_id, DS_DEVICE_ID_LEN) ||
            !col_blob(st, 5, a.evidence_digest, DS_DIGEST_LEN) ||
            ds_result_parse(result, &a.result) != DS_OK || ds_att_action_parse(action, &a.action) != DS_OK) {
            r = ds_store_fail(base, DS_E_CORRUPT, "sqlite: malformed attestations row");
            break;
        }
        if (a.reasons == NULL)
            a.reasons = "";
        if (cb(&a, ctx) != 0)
            break;
    }
    if (r == DS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sq_fail(s, rc, "attestation list");
    sqlite3_reset(st);
    return sq_rollback(s, r);
}

static const ds_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .check = sq_check,
    .device_register_bulk = sq_register_bulk,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .device_set_status = sq_set_status,
    .device_set_key = sq_set_key,
    .device_key_history = sq_key_history,
    .challenge_issue = sq_challenge_issue,
    .challenge_consume = sq_challenge_consume,
    .challenge_purge_expired = sq_challenge_purge,
    .attestation_record = sq_att_record,
    .attestation_list = sq_att_list,
    .jobs = &ds_sqlite_job_ops,
};

/* see store_internal.h */
ds_status ds_store_sqlite_open(const char *path, ds_store **out, char *err, size_t errlen)
{
    sq_store *s = ds_calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return DS_E_NOMEM;
    }
    s->base.ops = &sq_ops;
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    ds_status r = DS_OK;
    if (rc != SQLITE_OK) {
        r = sq_fail(s, rc, path);
    } else {
        sqlite3_busy_timeout(s->db, 5000);
        sqlite3_extended_result_codes(s->db, 1);
        r = sq_exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", "pragmas");
    }
    if (r == DS_OK) {
        /* journal_mode answers with the mode in force: "memory" for :memory:,
         * anything but "wal" for a file means WAL was refused. */
        sqlite3_stmt *st = NULL;
        char mode[16] = "";
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
            col_text(st, 0, mode, sizeof mode);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
            r = sq_fail(s, rc, "journal_mode");
        else if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
            r = ds_store_fail(&s->base, DS_E_DB, "sqlite: WAL journal refused (mode %s)", mode);
    }
    if (r != DS_OK) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s", s->base.err);
        sq_close(&s->base);
        return r;
    }
    *out = &s->base;
    return DS_OK;
}
