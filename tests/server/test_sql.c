/*
 * test_sql.c — the portable statement layer (server/src/sql.h), run by CTest
 * against SQLite and against a private PostgreSQL cluster (store_fixture.h).
 *
 * The same SQL text must behave the same on both: values of every type come
 * back as bound, parameters bind by number whatever their order of
 * appearance, constraint violations map to the store's statuses, and a
 * transaction is all or nothing.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sql.h"
#include "store_fixture.h"

static void make_table(fx *f)
{
    if (f->pg)
        raw_exec(f, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT UNIQUE, data BYTEA, n BIGINT)");
    else
        raw_exec(f, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, n INTEGER)");
}

typedef struct got {
    int rows;
    int64_t id, n;
    bool n_null, data_null;
    char name[32];
    uint8_t data[16];
    size_t data_len;
} got;

static int take_row(const ds_sql_row *r, void *ctx)
{
    got *g = ctx;
    g->rows++;
    assert_int_equal(ds_sql_cols(r), 4);
    g->id = ds_sql_get_int(r, 0);
    ds_sql_copy_text(r, 1, g->name, sizeof g->name);
    size_t len;
    const uint8_t *b = ds_sql_get_blob(r, 2, &len);
    g->data_null = b == NULL;
    g->data_len = len;
    if (b != NULL && len <= sizeof g->data)
        memcpy(g->data, b, len);
    g->n_null = ds_sql_is_null(r, 3);
    g->n = ds_sql_get_int(r, 3);
    return 0;
}

static got select_id(fx *f, int64_t id)
{
    got g = {0};
    ds_sql_val a[] = {ds_sql_int(id)};
    assert_int_equal(
        ds_sql_exec(f->s, "SELECT id, name, data, n FROM t WHERE id = $1", a, 1, take_row, &g, NULL), DS_OK);
    return g;
}

/* 1. Every type round-trips, parameters bind by number in any order and
 *    may repeat, and the change count is reported. */
static void test_values_round_trip(void **state)
{
    fx *f = *state;
    make_table(f);
    static const uint8_t blob[5] = {0, 1, 0xff, 0, 7};
    /* $3 appears first and $1 twice: binding is by number, not by position. */
    ds_sql_val a[] = {ds_sql_int(-42), ds_sql_text("caf\xc3\xa9 'x'"), ds_sql_blob(blob, sizeof blob)};
    int64_t changes = -1;
    assert_int_equal(ds_sql_exec(f->s, "INSERT INTO t (data, id, name, n) VALUES ($3, $1, $2, $1 * 2)", a, 3,
                                 NULL, NULL, &changes),
                     DS_OK);
    assert_int_equal(changes, 1);
    got g = select_id(f, -42);
    assert_int_equal(g.rows, 1);
    assert_string_equal(g.name, "caf\xc3\xa9 'x'");
    assert_int_equal(g.data_len, sizeof blob);
    assert_memory_equal(g.data, blob, sizeof blob);
    assert_false(g.n_null);
    assert_int_equal(g.n, -84);

    /* NULLs and an empty blob (which is not NULL). */
    ds_sql_val b[] = {ds_sql_int(INT64_MAX), ds_sql_text(NULL), ds_sql_blob((const uint8_t *)"", 0),
                      ds_sql_null()};
    assert_int_equal(ds_sql_exec(f->s, "INSERT INTO t (id, name, data, n) VALUES ($1, $2, $3, $4)", b, 4,
                                 NULL, NULL, NULL),
                     DS_OK);
    g = select_id(f, INT64_MAX);
    assert_int_equal(g.rows, 1);
    assert_int_equal(g.id, INT64_MAX);
    assert_string_equal(g.name, "");
    assert_false(g.data_null);
    assert_int_equal(g.data_len, 0);
    assert_true(g.n_null);

    /* count() and a text result parsed as an integer */
    int64_t v = 0;
    assert_int_equal(ds_sql_int1(f->s, "SELECT count(*) FROM t", NULL, 0, &v, NULL), DS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ds_sql_int1(f->s, "SELECT CAST(max(n) AS BIGINT) FROM t", NULL, 0, &v, NULL), DS_OK);
    assert_int_equal(v, -84);
    ds_sql_val c[] = {ds_sql_int(7)};
    bool found = true;
    assert_int_equal(ds_sql_int1(f->s, "SELECT n FROM t WHERE id = $1", c, 1, &v, &found), DS_OK);
    assert_false(found);
    assert_int_equal(ds_sql_int1(f->s, "SELECT n FROM t WHERE id = $1", c, 1, &v, NULL), DS_E_NOT_FOUND);

    /* UPDATE … RETURNING and the change count of several rows */
    assert_int_equal(ds_sql_exec(f->s, "UPDATE t SET n = 1", NULL, 0, NULL, NULL, &changes), DS_OK);
    assert_int_equal(changes, 2);
}

/* 2. Errors map to the store's statuses and carry a message. */
static void test_errors(void **state)
{
    fx *f = *state;
    make_table(f);
    ds_sql_val a[] = {ds_sql_int(1), ds_sql_text("one")};
    const char *ins = "INSERT INTO t (id, name) VALUES ($1, $2)";
    assert_int_equal(ds_sql_exec(f->s, ins, a, 2, NULL, NULL, NULL), DS_OK);
    assert_int_equal(ds_sql_exec(f->s, ins, a, 2, NULL, NULL, NULL), DS_E_EXISTS);
    assert_non_null(strstr(ds_store_error(f->s), f->pg ? "postgres" : "sqlite"));
    a[0] = ds_sql_int(2); /* other id, same unique name */
    assert_int_equal(ds_sql_exec(f->s, ins, a, 2, NULL, NULL, NULL), DS_E_EXISTS);
    assert_int_equal(ds_sql_exec(f->s, "SELECT * FROM no_such_table", NULL, 0, NULL, NULL, NULL),
                     DS_E_SCHEMA);
    assert_int_equal(ds_sql_exec(f->s, "SELEKT 1", NULL, 0, NULL, NULL, NULL), DS_E_DB);
    ds_sql_val many[DS_SQL_MAX_PARAMS + 1];
    for (size_t i = 0; i < DS_SQL_MAX_PARAMS + 1; i++)
        many[i] = ds_sql_int((int64_t)i);
    assert_int_equal(ds_sql_exec(f->s, "SELECT 1", many, DS_SQL_MAX_PARAMS + 1, NULL, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_sql_exec(f->s, NULL, NULL, 0, NULL, NULL, NULL), DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM t"), 1);
}

static ds_status insert_two_then_fail(ds_store *s, void *ctx)
{
    int *step = ctx;
    ds_sql_val a[] = {ds_sql_int(10), ds_sql_text("ten")};
    ds_status st = ds_sql_exec(s, "INSERT INTO t (id, name) VALUES ($1, $2)", a, 2, NULL, NULL, NULL);
    if (st != DS_OK)
        return st;
    *step = 1;
    a[0] = ds_sql_int(11); /* same name: the unique constraint refuses it */
    return ds_sql_exec(s, "INSERT INTO t (id, name) VALUES ($1, $2)", a, 2, NULL, NULL, NULL);
}

static ds_status insert_one(ds_store *s, void *ctx)
{
    (void)ctx;
    ds_status st = ds_sql_lock(s, "test-lock");
    if (st != DS_OK)
        return st;
    ds_sql_val a[] = {ds_sql_int(20), ds_sql_text("twenty")};
    return ds_sql_exec(s, "INSERT INTO t (id, name) VALUES ($1, $2)", a, 2, NULL, NULL, NULL);
}

/* 3. A transaction is all or nothing, and the store is usable after a
 *    rollback. */
static void test_transactions(void **state)
{
    fx *f = *state;
    make_table(f);
    int step = 0;
    assert_int_equal(ds_sql_tx(f->s, insert_two_then_fail, &step), DS_E_EXISTS);
    assert_int_equal(step, 1); /* the first insert did run */
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM t"), 0);
    assert_int_equal(ds_sql_tx(f->s, insert_one, NULL), DS_OK);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM t"), 1);

    /* explicit begin / rollback */
    assert_int_equal(ds_sql_begin(f->s), DS_OK);
    assert_int_equal(ds_sql_exec(f->s, "DELETE FROM t", NULL, 0, NULL, NULL, NULL), DS_OK);
    assert_int_equal(ds_sql_rollback(f->s, DS_E_CONFLICT), DS_E_CONFLICT);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM t"), 1);
    assert_int_equal(ds_sql_rollback(f->s, DS_OK), DS_OK); /* none open: a no-op */
}

/* 4. ds_sql_lock holds until the end of the transaction, across
 *    connections (PostgreSQL; on SQLite the write transaction itself is
 *    the lock, and a second writer cannot even begin: store.h). */
static void test_named_lock(void **state)
{
    fx *f = *state;
    ds_store *other = NULL;
    char err[256];
    assert_int_equal(ds_store_open(f->url, &other, err, sizeof err), DS_OK);
    assert_int_equal(ds_sql_begin(f->s), DS_OK);
    assert_int_equal(ds_sql_lock(f->s, "campaign:7"), DS_OK);
    if (f->pg) {
        ds_sql_val a[] = {ds_sql_text("campaign:7")};
        int64_t got_it = -1;
        const char *try_lock = "SELECT CAST(pg_try_advisory_lock(hashtext($1)) AS INT) AS ok";
        assert_int_equal(ds_sql_int1(other, try_lock, a, 1, &got_it, NULL), DS_OK);
        assert_int_equal(got_it, 0); /* held by the open transaction */
        a[0] = ds_sql_text("campaign:8");
        assert_int_equal(ds_sql_int1(other, try_lock, a, 1, &got_it, NULL), DS_OK);
        assert_int_equal(got_it, 1); /* another name is free */
        assert_int_equal(ds_sql_exec(other, "SELECT pg_advisory_unlock_all()", NULL, 0, NULL, NULL, NULL),
                         DS_OK);
        assert_int_equal(ds_sql_commit(f->s), DS_OK);
        a[0] = ds_sql_text("campaign:7");
        assert_int_equal(ds_sql_int1(other, try_lock, a, 1, &got_it, NULL), DS_OK);
        assert_int_equal(got_it, 1); /* released at commit */
    } else {
        int64_t v = 0;
        /* a reader still reads while the writer holds the lock (WAL) */
        assert_int_equal(ds_sql_int1(other, "SELECT 5", NULL, 0, &v, NULL), DS_OK);
        assert_int_equal(v, 5);
        assert_int_equal(ds_sql_commit(f->s), DS_OK);
    }
    ds_store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_values_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
