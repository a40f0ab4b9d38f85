/*
 * store_pg_internal.h — what the PostgreSQL backend's two files (store_pg.c:
 * registry, challenges, attestations; store_pg_jobs.c: rotation jobs and
 * campaigns) share: the connection struct, bound parameters, and the small
 * helpers around libpq results. Not for use outside server/src/store_pg*.c.
 * store_pg.c's top comment gives the concurrency argument.
 */
#ifndef DS_STORE_PG_INTERNAL_H
#define DS_STORE_PG_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_internal.h"

#define PG_STMT_MAX     32
#define PG_JOB_STMT_MAX 40

typedef struct pg_store {
    ds_store base; /* first: a ds_store * is a pg_store * */
    PGconn *conn;
    bool prepared[PG_STMT_MAX];      /* store_pg.c's statements */
    bool jprepared[PG_JOB_STMT_MAX]; /* store_pg_jobs.c's statements */
} pg_store;

static inline pg_store *pg(ds_store *s)
{
    return (pg_store *)s;
}

#define PG_MAX_PARAMS 10

typedef struct pg_params {
    int n;
    const char *val[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
} pg_params;

static inline void p_blob(pg_params *p, const uint8_t *b, size_t n)
{
    p->val[p->n] = b == NULL ? NULL : (n ? (const char *)b : "");
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

static inline void p_text(pg_params *p, const char *t)
{
    p->val[p->n] = t;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static inline void p_int(pg_params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    p_text(p, p->num[p->n]);
}

/* Maps a failed result (or a connection failure when res is NULL). */
static inline ds_status pg_fail(pg_store *s, const PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);
    ds_status st = DS_E_DB;
    if (state != NULL) {
        if (strcmp(state, "23505") == 0)
            st = DS_E_EXISTS;
        else if (strcmp(state, "23503") == 0)
            st = DS_E_NOT_FOUND;
        else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
            st = DS_E_BUSY;
        else if (strcmp(state, "42P01") == 0)
            st = DS_E_SCHEMA;
    }
    ds_store_fail(&s->base, st, "postgres: %s: %s", what, msg != NULL ? msg : "");
    size_t n = strlen(s->base.err); /* libpq messages end in a newline */
    while (n > 0 && (s->base.err[n - 1] == '\n' || s->base.err[n - 1] == ' '))
        s->base.err[--n] = '\0';
    return st;
}

/* Runs the statement sql, prepared once per connection under name (*prepared
 * remembers it); on success returns the result (the caller PQclears it), on
 * failure NULL with *st set. */
static inline PGresult *pg_q_sql(pg_store *s, const char *name, const char *sql, bool *prepared,
                                 const pg_params *p, ds_status *st)
{
    if (!*prepared) {
        PGresult *res = PQprepare(s->conn, name, sql, p->n, NULL);
        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            *st = pg_fail(s, res, "prepare");
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        *prepared = true;
    }
    PGresult *res = PQexecPrepared(s->conn, name, p->n, p->val, p->len, p->fmt, 1);
    ExecStatusType es = res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(res);
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        *st = pg_fail(s, res, "query");
        PQclear(res);
        return NULL;
    }
    *st = DS_OK;
    return res;
}

/* Finishes a statement whose rows are not needed: the affected count (may be
 * NULL) and the status. res NULL means it failed with st. */
static inline ds_status pg_result_done(PGresult *res, ds_status st, long *affected)
{
    if (res == NULL)
        return st;
    if (affected != NULL)
        *affected = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return DS_OK;
}

/* Constant SQL only (transaction control, migrations). */
static inline ds_status pg_exec(pg_store *s, const char *sqltext, const char *what)
{
    PGresult *res = PQexec(s->conn, sqltext);
    ExecStatusType es = res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(res);
    ds_status st = DS_OK;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
        st = pg_fail(s, res, what);
    PQclear(res);
    return st;
}

static inline ds_status pg_begin(pg_store *s)
{
    return pg_exec(s, "BEGIN", "begin");
}

static inline ds_status pg_commit(pg_store *s)
{
    return pg_exec(s, "COMMIT", "commit");
}

/* Rolls back an open (or failed) transaction, keeping the first message. */
static inline ds_status pg_rollback(pg_store *s, ds_status st)
{
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(s->conn, "ROLLBACK");
        PQclear(res);
    }
    return st;
}

static inline int64_t g_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const uint8_t *p = (const uint8_t *)PQgetvalue(r, row, col);
    int n = PQgetlength(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < n && i < 8; i++)
        v = (v << 8) | p[i];
    if (n == 4) /* int4: sign-extend */
        return (int64_t)(int32_t)(uint32_t)v;
    return (int64_t)v;
}

static inline bool g_blob(const PGresult *r, int row, int col, uint8_t *out, size_t n)
{
    if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != n)
        return false;
    memcpy(out, PQgetvalue(r, row, col), n);
    return true;
}

static inline void g_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
    ds_copy_text(out, cap, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

#endif
