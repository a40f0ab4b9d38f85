/*
 * sql.h — one way to run the same SQL on both storage backends.
 *
 * The registry, challenges, attestations and rotation jobs (store.h) each
 * have a hand-tuned implementation per backend. Everything added since
 * (firmware, policies, webhooks, revocations, the audit log) is written once,
 * against this interface: portable SQL text with $1..$n parameters, run on
 * SQLite or PostgreSQL unchanged.
 *
 * Portable SQL, as used here:
 *   - parameters are $1..$n (SQLite takes them as named parameters, bound by
 *     name, so each may appear several times and in any order);
 *   - parameters are typed by their ds_sql_val (BIGINT, TEXT, BYTEA); only
 *     a NULL takes its type from the context, where CAST($n AS …) helps;
 *   - INSERT … RETURNING, ON CONFLICT … DO NOTHING / DO UPDATE, and
 *     LIMIT/OFFSET work on both;
 *   - integer columns are BIGINT (PostgreSQL) / INTEGER (SQLite); aggregates
 *     other than count() are cast to BIGINT; blobs are BYTEA / BLOB;
 *   - where the dialects really differ, ds_store_backend() tells which one
 *     runs ("sqlite" or "postgres") and the caller picks the text.
 *
 * Transactions: ds_sql_begin starts a WRITE transaction (SQLite: BEGIN
 * IMMEDIATE, which takes the database's single write lock at once;
 * PostgreSQL: BEGIN, read committed). Inside it, ds_sql_lock(name)
 * serializes against every other transaction that takes the same name, on
 * any server sharing the database (PostgreSQL: pg_advisory_xact_lock; SQLite:
 * nothing more to do, the write lock is already exclusive). Outside a
 * transaction every statement commits on its own.
 *
 * Errors are the store's (ds_status, message in ds_store_error): DS_E_EXISTS
 * for a unique violation, DS_E_NOT_FOUND for a foreign-key violation,
 * DS_E_BUSY for lock timeouts and serialization failures, DS_E_SCHEMA for a
 * missing table, DS_E_DB otherwise.
 *
 * Same threading rules as store.h: one store, one thread at a time.
 */
#ifndef DS_SQL_H
#define DS_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef enum ds_sql_type {
    DS_SQL_NULL = 0,
    DS_SQL_INT = 1,
    DS_SQL_TEXT = 2,
    DS_SQL_BLOB = 3,
} ds_sql_type;

/* One bound parameter. Text is NUL-terminated; a blob of n bytes at b. */
typedef struct ds_sql_val {
    ds_sql_type type;
    int64_t i;
    const char *s;
    const uint8_t *b;
    size_t n;
} ds_sql_val;

#define DS_SQL_MAX_PARAMS 16

/* Parameter constructors. A NULL text or blob pointer binds SQL NULL. */
static inline ds_sql_val ds_sql_int(int64_t v)
{
    ds_sql_val x = {DS_SQL_INT, v, NULL, NULL, 0};
    return x;
}

static inline ds_sql_val ds_sql_text(const char *s)
{
    ds_sql_val x = {s != NULL ? DS_SQL_TEXT : DS_SQL_NULL, 0, s, NULL, 0};
    return x;
}

static inline ds_sql_val ds_sql_blob(const uint8_t *b, size_t n)
{
    ds_sql_val x = {b != NULL ? DS_SQL_BLOB : DS_SQL_NULL, 0, NULL, b, n};
    return x;
}

static inline ds_sql_val ds_sql_null(void)
{
    ds_sql_val x = {DS_SQL_NULL, 0, NULL, NULL, 0};
    return x;
}

/* One result row, valid only during the callback. */
typedef struct ds_sql_row ds_sql_row;

size_t ds_sql_cols(const ds_sql_row *r);
bool ds_sql_is_null(const ds_sql_row *r, size_t col);
/* An integer column (0 for NULL). A text column is parsed as decimal. */
int64_t ds_sql_get_int(const ds_sql_row *r, size_t col);
/* A text column, NUL-terminated ("" for NULL). */
const char *ds_sql_get_text(const ds_sql_row *r, size_t col);
/* A blob column and its length (NULL and 0 for NULL). */
const uint8_t *ds_sql_get_blob(const ds_sql_row *r, size_t col, size_t *len);
/* Copies a text column into out[0..cap) (truncated, always terminated). */
void ds_sql_copy_text(const ds_sql_row *r, size_t col, char *out, size_t cap);
/* Copies a blob column of exactly n bytes into out; false if NULL or another length. */
bool ds_sql_copy_blob(const ds_sql_row *r, size_t col, uint8_t *out, size_t n);

/* Called per row; return 0 to go on, non-zero to stop reading (the
 * statement still counts as successful). MUST NOT use the same store. */
typedef int (*ds_sql_row_cb)(const ds_sql_row *r, void *ctx);

/* Runs one statement with args[0..n) bound to $1..$n (n <= DS_SQL_MAX_PARAMS).
 * cb (may be NULL) sees each result row; *changes (may be NULL) receives the
 * number of rows inserted, updated or deleted. */
ds_status ds_sql_exec(ds_store *s, const char *sql, const ds_sql_val *args, size_t n, ds_sql_row_cb cb,
                      void *ctx, int64_t *changes);

/* Runs a statement expected to return at most one row whose first column
 * is an integer: *out receives it, *found whether there was a row (may be
 * NULL: then no row is DS_E_NOT_FOUND). */
ds_status ds_sql_int1(ds_store *s, const char *sql, const ds_sql_val *args, size_t n, int64_t *out,
                      bool *found);

ds_status ds_sql_begin(ds_store *s);
ds_status ds_sql_commit(ds_store *s);
/* Rolls back an open transaction (no-op when none is open); returns st so
 * that `return ds_sql_rollback(s, st);` keeps the first error. */
ds_status ds_sql_rollback(ds_store *s, ds_status st);
/* Inside a transaction: waits for, then holds until commit or rollback, the
 * named lock (see above). */
ds_status ds_sql_lock(ds_store *s, const char *name);

/* Runs fn(s, ctx) in one write transaction: commit if it returns DS_OK,
 * rollback otherwise (its status is returned). */
ds_status ds_sql_tx(ds_store *s, ds_status (*fn)(ds_store *s, void *ctx), void *ctx);

#endif /* DS_SQL_H */
