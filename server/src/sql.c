/*
 * sql.c — portable statements over both backends (see sql.h).
 *
 * SQLite: each call prepares, binds by name ("$1"…), steps and finalizes;
 * statements here are not cached, so none keeps a read snapshot open.
 * PostgreSQL: PQexecParams with typed parameters (int8, text, bytea: so the
 * types never depend on PostgreSQL's inference) and binary results; integers are decoded from their binary
 * form by type OID.
 */
#define _POSIX_C_SOURCE 200809L
#include "sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"
#include "store_sqlite_internal.h"

/* PostgreSQL type OIDs (pg_type.h), for decoding binary results. */
#define OID_BOOL  16u
#define OID_BYTEA 17u
#define OID_INT8  20u
#define OID_INT2  21u
#define OID_INT4  23u
#define OID_TEXT  25u

struct ds_sql_row {
    bool pg;
    sqlite3_stmt *st; /* SQLite */
    const PGresult *res;
    int row; /* PostgreSQL */
};

static bool is_pg(const ds_store *s)
{
    return strcmp(s->ops->name, "postgres") == 0;
}

/* ---- rows ------------------------------------------------------------------------- */

size_t ds_sql_cols(const ds_sql_row *r)
{
    return r->pg ? (size_t)PQnfields(r->res) : (size_t)sqlite3_column_count(r->st);
}

bool ds_sql_is_null(const ds_sql_row *r, size_t col)
{
    if (col >= ds_sql_cols(r))
        return true;
    return r->pg ? PQgetisnull(r->res, r->row, (int)col) != 0
                 : sqlite3_column_type(r->st, (int)col) == SQLITE_NULL;
}

int64_t ds_sql_get_int(const ds_sql_row *r, size_t col)
{
    if (ds_sql_is_null(r, col))
        return 0;
    if (!r->pg)
        return sqlite3_column_int64(r->st, (int)col);
    Oid t = PQftype(r->res, (int)col);
    const uint8_t *p = (const uint8_t *)PQgetvalue(r->res, r->row, (int)col);
    int n = PQgetlength(r->res, r->row, (int)col);
    if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2 || t == OID_BOOL) {
        uint64_t v = 0;
        for (int i = 0; i < n && i < 8; i++)
            v = (v << 8) | p[i];
        if (n == 4)
            return (int64_t)(int32_t)(uint32_t)v;
        if (n == 2)
            return (int64_t)(int16_t)(uint16_t)v;
        return (int64_t)v;
    }
    if (t == OID_BYTEA)
        return 0;
    return strtoll((const char *)p, NULL, 10); /* text: libpq terminates every value */
}

const char *ds_sql_get_text(const ds_sql_row *r, size_t col)
{
    if (ds_sql_is_null(r, col))
        return "";
    if (r->pg)
        return PQgetvalue(r->res, r->row, (int)col);
    const unsigned char *t = sqlite3_column_text(r->st, (int)col);
    return t != NULL ? (const char *)t : "";
}

const uint8_t *ds_sql_get_blob(const ds_sql_row *r, size_t col, size_t *len)
{
    *len = 0;
    if (ds_sql_is_null(r, col))
        return NULL;
    if (r->pg) {
        *len = (size_t)PQgetlength(r->res, r->row, (int)col);
        return (const uint8_t *)PQgetvalue(r->res, r->row, (int)col);
    }
    const uint8_t *b = sqlite3_column_blob(r->st, (int)col);
    *len = (size_t)sqlite3_column_bytes(r->st, (int)col);
    return b != NULL ? b : (const uint8_t *)"";
}

void ds_sql_copy_text(const ds_sql_row *r, size_t col, char *out, size_t cap)
{
    if (cap == 0)
        return;
    snprintf(out, cap, "%s", ds_sql_get_text(r, col));
}

bool ds_sql_copy_blob(const ds_sql_row *r, size_t col, uint8_t *out, size_t n)
{
    size_t len;
    const uint8_t *b = ds_sql_get_blob(r, col, &len);
    if (b == NULL || len != n)
        return false;
    memcpy(out, b, n);
    return true;
}

/* ---- statements --------------------------------------------------------------------- */

static ds_status sqlx_sqlite_exec(sq_store *s, const char *sql, const ds_sql_val *args, size_t n,
                                  ds_sql_row_cb cb, void *ctx, int64_t *changes)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "prepare");
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof name, "$%zu", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0)
            continue; /* not used by this statement */
        const ds_sql_val *v = &args[i];
        switch (v->type) {
        case DS_SQL_INT: rc = sqlite3_bind_int64(st, idx, v->i); break;
        case DS_SQL_TEXT: rc = sqlite3_bind_text(st, idx, v->s, -1, SQLITE_STATIC); break;
        case DS_SQL_BLOB:
            rc = sqlite3_bind_blob64(st, idx, v->n ? (const void *)v->b : (const void *)"", v->n,
                                     SQLITE_STATIC);
            break;
        default: rc = sqlite3_bind_null(st, idx); break;
        }
        if (rc != SQLITE_OK) {
            ds_status r = sq_fail(s, rc, "bind");
            sqlite3_finalize(st);
            return r;
        }
    }
    ds_sql_row row = {.pg = false, .st = st};
    bool stop = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (!stop && cb != NULL && cb(&row, ctx) != 0)
            stop = true;
    ds_status r = DS_OK;
    if (rc != SQLITE_DONE)
        r = sq_fail(s, rc, "step");
    else if (changes != NULL)
        *changes = sqlite3_changes64(s->db);
    sqlite3_finalize(st);
    return r;
}

static ds_status sqlx_pg_exec(pg_store *s, const char *sql, const ds_sql_val *args, size_t n,
                              ds_sql_row_cb cb, void *ctx, int64_t *changes)
{
    const char *val[DS_SQL_MAX_PARAMS];
    int len[DS_SQL_MAX_PARAMS], fmt[DS_SQL_MAX_PARAMS];
    Oid types[DS_SQL_MAX_PARAMS];
    char num[DS_SQL_MAX_PARAMS][24];

    for (size_t i = 0; i < n; i++) {
        const ds_sql_val *v = &args[i];
        len[i] = 0;
        fmt[i] = 0;
        types[i] = 0; /* NULL: inferred from the context */
        switch (v->type) {
        case DS_SQL_INT:
            snprintf(num[i], sizeof num[i], "%" PRId64, v->i);
            val[i] = num[i];
            types[i] = OID_INT8;
            break;
        case DS_SQL_TEXT: val[i] = v->s; break;
        case DS_SQL_BLOB:
            val[i] = v->n ? (const char *)v->b : "";
            len[i] = (int)v->n;
            fmt[i] = 1;
            types[i] = OID_BYTEA;
            break;
        default: val[i] = NULL; break;
        }
    }
    PGresult *res = PQexecParams(s->conn, sql, (int)n, types, val, len, fmt, 1);
    ExecStatusType es = res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(res);
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        ds_status r = pg_fail(s, res, "query");
        PQclear(res);
        return r;
    }
    int rows = PQntuples(res);
    ds_sql_row row = {.pg = true, .res = res};
    for (int i = 0; cb != NULL && i < rows; i++) {
        row.row = i;
        if (cb(&row, ctx) != 0)
            break;
    }
    if (changes != NULL)
        *changes = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return DS_OK;
}

ds_status ds_sql_exec(ds_store *s, const char *sql, const ds_sql_val *args, size_t n, ds_sql_row_cb cb,
                      void *ctx, int64_t *changes)
{
    if (s == NULL || sql == NULL || (n > 0 && args == NULL))
        return DS_E_ARG;
    if (n > DS_SQL_MAX_PARAMS)
        return ds_store_fail(s, DS_E_ARG, "sql: %zu parameters, at most %d", n, DS_SQL_MAX_PARAMS);
    for (size_t i = 0; i < n; i++)
        if (args[i].type == DS_SQL_BLOB && args[i].n > (size_t)INT32_MAX)
            return ds_store_fail(s, DS_E_ARG, "sql: parameter %zu too large", i + 1);
    if (changes != NULL)
        *changes = 0;
    return is_pg(s) ? sqlx_pg_exec((pg_store *)s, sql, args, n, cb, ctx, changes)
                    : sqlx_sqlite_exec((sq_store *)s, sql, args, n, cb, ctx, changes);
}

struct int1 {
    int64_t v;
    bool found;
};

static int int1_row(const ds_sql_row *r, void *ctx)
{
    struct int1 *x = ctx;
    x->v = ds_sql_get_int(r, 0);
    x->found = true;
    return 1;
}

ds_status ds_sql_int1(ds_store *s, const char *sql, const ds_sql_val *args, size_t n, int64_t *out,
                      bool *found)
{
    struct int1 x = {0, false};
    ds_status st = ds_sql_exec(s, sql, args, n, int1_row, &x, NULL);
    if (st != DS_OK)
        return st;
    if (out != NULL)
        *out = x.v;
    if (found != NULL) {
        *found = x.found;
        return DS_OK;
    }
    return x.found ? DS_OK : ds_store_fail(s, DS_E_NOT_FOUND, "sql: no row");
}

/* ---- transactions ------------------------------------------------------------------- */

static ds_status sqlx_sqlite_plain(sq_store *s, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? DS_OK : sq_fail(s, rc, what);
}

ds_status ds_sql_begin(ds_store *s)
{
    if (s == NULL)
        return DS_E_ARG;
    return is_pg(s) ? pg_begin((pg_store *)s) : sqlx_sqlite_plain((sq_store *)s, "BEGIN IMMEDIATE", "begin");
}

ds_status ds_sql_commit(ds_store *s)
{
    if (s == NULL)
        return DS_E_ARG;
    if (is_pg(s))
        return pg_commit((pg_store *)s);
    ds_status st = sqlx_sqlite_plain((sq_store *)s, "COMMIT", "commit");
    if (st != DS_OK)
        ds_sql_rollback(s, st);
    return st;
}

ds_status ds_sql_rollback(ds_store *s, ds_status st)
{
    if (s == NULL)
        return st;
    if (is_pg(s))
        return pg_rollback((pg_store *)s, st);
    sq_store *q = (sq_store *)s;
    if (!sqlite3_get_autocommit(q->db)) {
        char err[DS_ERR_MAX];
        memcpy(err, s->err, sizeof err); /* keep the first message */
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        memcpy(s->err, err, sizeof err);
    }
    return st;
}

ds_status ds_sql_lock(ds_store *s, const char *name)
{
    if (s == NULL || name == NULL)
        return DS_E_ARG;
    if (!is_pg(s))
        return DS_OK; /* BEGIN IMMEDIATE holds the only write lock */
    ds_sql_val a = ds_sql_text(name);
    return ds_sql_exec(s, "SELECT pg_advisory_xact_lock(hashtext($1))", &a, 1, NULL, NULL, NULL);
}

ds_status ds_sql_tx(ds_store *s, ds_status (*fn)(ds_store *s, void *ctx), void *ctx)
{
    if (s == NULL || fn == NULL)
        return DS_E_ARG;
    ds_status st = ds_sql_begin(s);
    if (st != DS_OK)
        return st;
    st = fn(s, ctx);
    if (st != DS_OK)
        return ds_sql_rollback(s, st);
    return ds_sql_commit(s);
}
