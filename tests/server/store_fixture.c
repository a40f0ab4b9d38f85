/*
 * store_fixture.c — see store_fixture.h.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "drot_crypto.h"
#include "store_fixture.h"

/* ---- direct database access (test-only constant SQL) ----------------------- */

long long raw_scalar(const fx *f, const char *sql)
{
    long long v = -1;
    if (f->pg) {
        PGconn *c = PQconnectdb(f->url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            fprintf(stderr, "raw_scalar: %s: %s\n", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        else
            fprintf(stderr, "raw_scalar: %s: %s\n", sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    return v;
}

void raw_exec(const fx *f, const char *sql)
{
    if (f->pg) {
        PGconn *c = PQconnectdb(f->url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("raw_exec: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK)
            fprintf(stderr, "raw_exec: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(db);
        assert_int_equal(rc, SQLITE_OK);
    }
}

/* ---- fixtures -------------------------------------------------------------------- */

static int setup_common(void **state, bool migrate)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *backend = getenv("DROT_STORE_BACKEND");
    assert_non_null(backend);
    f->pg = strcmp(backend, "postgres") == 0;
    if (f->pg) {
        const char *file = getenv("DROT_PG_URL_FILE");
        assert_non_null(file);
        FILE *fp = fopen(file, "r");
        if (fp == NULL)
            fail_msg("cannot read %s: is the pg_cluster fixture running?", file);
        assert_non_null(fgets(f->url, sizeof f->url, fp));
        fclose(fp);
        f->url[strcspn(f->url, "\n")] = '\0';
        raw_exec(f, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    } else {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(f->dir, sizeof f->dir, "%s/drot-store-XXXXXX", tmp);
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    }
    char err[256];
    ds_status st = ds_store_open(f->url, &f->s, err, sizeof err);
    if (st != DS_OK)
        fail_msg("open %s: %s", f->url, err);
    if (migrate) {
        st = ds_store_migrate(f->s, NULL);
        if (st != DS_OK)
            fail_msg("migrate: %s", ds_store_error(f->s));
    }
    *state = f;
    return 0;
}

int setup(void **state)
{
    return setup_common(state, true);
}

int setup_empty(void **state)
{
    return setup_common(state, false);
}

int teardown(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 2; i++) {
        if (f->kids[i] > 0) {
            kill(f->kids[i], SIGKILL);
            waitpid(f->kids[i], NULL, 0);
        }
    }
    ds_store_close(f->s);
    if (!f->pg && f->dir[0] != '\0') {
        static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
        char p[400];
        for (size_t i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
            unlink(p);
        }
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* ---- test data --------------------------------------------------------------------- */

void make_id(uint32_t n, uint8_t id[DS_DEVICE_ID_LEN])
{
    memset(id, 0xd0, DS_DEVICE_ID_LEN);
    id[12] = (uint8_t)(n >> 24);
    id[13] = (uint8_t)(n >> 16);
    id[14] = (uint8_t)(n >> 8);
    id[15] = (uint8_t)n;
}

/* A distinct 65-byte "public key" per seed; the store checks only its form. */
void make_key(uint32_t seed, uint8_t pub[DS_DRK_PUB_LEN])
{
    uint8_t s[4] = {(uint8_t)(seed >> 24), (uint8_t)(seed >> 16), (uint8_t)(seed >> 8), (uint8_t)seed};
    pub[0] = 0x04;
    assert_int_equal(drot_sha256(s, 4, pub + 1), DROT_OK);
    assert_int_equal(drot_sha256(pub + 1, 32, pub + 33), DROT_OK);
}

void make_dev(ds_device_new *d, uint32_t n, const char *cls)
{
    memset(d, 0, sizeof *d);
    make_id(n, d->device_id);
    make_key(n, d->drk_pub);
    d->class_name = cls;
}

void register_n(fx *f, uint32_t first, uint32_t n, const char *cls)
{
    ds_device_new *d = calloc(n, sizeof *d);
    assert_non_null(d);
    for (uint32_t i = 0; i < n; i++)
        make_dev(&d[i], first + i, cls);
    ds_status st = ds_device_register_bulk(f->s, d, n, NULL);
    free(d);
    if (st != DS_OK)
        fail_msg("register: %s", ds_store_error(f->s));
}
