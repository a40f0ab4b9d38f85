/*
 * store_sqlite_internal.h — what the SQLite backend's two files
 * (store_sqlite.c: registry, challenges, attestations; store_sqlite_jobs.c:
 * rotation jobs and campaigns) share: the connection struct and the small
 * helpers around sqlite3_stmt. Not for use outside server/src/store_sqlite*.c.
 * store_sqlite.c's top comment gives the connection settings and the
 * atomicity argument (BEGIN IMMEDIATE on every write transaction).
 */
#ifndef DS_STORE_SQLITE_INTERNAL_H
#define DS_STORE_SQLITE_INTERNAL_H

#include <string.h>

#include <sqlite3.h>

#include "store_internal.h"

#define SQ_STMT_MAX     32
#define SQ_JOB_STMT_MAX 40

typedef struct sq_store {
    ds_store base; /* first: a ds_store * is an sq_store * */
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_STMT_MAX];      /* store_sqlite.c's statements */
    sqlite3_stmt *jstmt[SQ_JOB_STMT_MAX]; /* store_sqlite_jobs.c's statements */
} sq_store;

static inline sq_store *sq(ds_store *s)
{
    return (sq_store *)s;
}

/* Maps SQLite's result to a ds_status and records the message. */
static inline ds_status sq_fail(sq_store *s, int rc, const char *what)
{
    int ext = sqlite3_extended_errcode(s->db);
    const char *msg = sqlite3_errmsg(s->db);
    ds_status st = DS_E_DB;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        st = DS_E_BUSY;
    else if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        st = DS_E_EXISTS;
    else if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        st = DS_E_NOT_FOUND;
    else if (rc == SQLITE_NOMEM)
        st = DS_E_NOMEM;
    else if (strncmp(msg, "no such table", 13) == 0)
        st = DS_E_SCHEMA;
    return ds_store_fail(&s->base, st, "sqlite: %s: %s", what, msg);
}

/* The statement cached in *slot (sql, prepared on first use), reset with
 * no bindings. */
static inline ds_status sq_prepare_cached(sq_store *s, sqlite3_stmt **slot, const char *sql,
                                          sqlite3_stmt **out)
{
    *out = NULL; /* never read on failure; set so the compiler can see it */
    if (*slot == NULL) {
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK)
            return sq_fail(s, rc, "prepare");
    }
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
    *out = *slot;
    return DS_OK;
}

/* Runs constant SQL (transaction control, migrations): never data. */
static inline ds_status sq_exec(sq_store *s, const char *sqltext, const char *what)
{
    int rc = sqlite3_exec(s->db, sqltext, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DS_OK : sq_fail(s, rc, what);
}

static inline ds_status sq_begin(sq_store *s)
{
    return sq_exec(s, "BEGIN IMMEDIATE", "begin");
}

static inline ds_status sq_commit(sq_store *s)
{
    return sq_exec(s, "COMMIT", "commit");
}

/* Rolls back if a transaction is open, keeping the first error's message. */
static inline ds_status sq_rollback(sq_store *s, ds_status st)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* Steps a statement that returns no row. */
static inline ds_status sq_run(sq_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? DS_OK : sq_fail(s, rc, what);
}

static inline void bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
    if (p == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_blob(st, i, n ? (const void *)p : "", (int)n, SQLITE_STATIC);
}

static inline void bind_text(sqlite3_stmt *st, int i, const char *t)
{
    if (t == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

static inline bool col_blob(sqlite3_stmt *st, int c, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(st, c);
    if (p == NULL || (size_t)sqlite3_column_bytes(st, c) != n)
        return false;
    memcpy(out, p, n);
    return true;
}

static inline void col_text(sqlite3_stmt *st, int c, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    ds_copy_text(out, cap, t, t == NULL ? 0 : (size_t)sqlite3_column_bytes(st, c));
}

#endif
