/*
 * test_jobs.c — rotation jobs and campaigns (server/src/store.h, "rotation
 * jobs" and "campaigns") against a real backend. ONE source, run twice by
 * CTest (tests/cmake/server_jobs.cmake):
 *
 *   test_jobs_sqlite    DROT_STORE_BACKEND=sqlite: a fresh database file in a
 *                       temporary directory per test;
 *   test_jobs_postgres  DROT_STORE_BACKEND=postgres: the private cluster of
 *                       the drot_pg fixture (tests/support/pg_cluster.sh). The
 *                       tests use their own database, drot_jobs, in that
 *                       cluster, so they can run beside test_store_postgres
 *                       (which empties the default one per test); every test
 *                       starts from an empty public schema.
 *
 * "Nothing written" is checked by comparing a snapshot of every job and
 * campaign (through the API) and of the device rows and key-history count
 * (read directly with sqlite3 / libpq) before and after the refused call.
 * Races fork two processes, each with its own connection, released at once
 * through a pipe; children are killed and reaped in teardown whatever the
 * outcome.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "drot_crypto.h"
#include "store.h"

#define T0      1800000000 /* "now" of the tests; leases are relative to it */
#define MAXSNAP 128
#define RACE_N  50
#define JOBS_DB "drot_jobs"

typedef struct fx {
    bool pg;
    char dir[256];
    char path[300];
    char url[600];
    ds_store *s;
    pid_t kids[2];
} fx;

/* ---- direct database access (test-only constant SQL) ----------------------- */

static long long raw_scalar(const fx *f, const char *sql)
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

static void raw_exec_url(bool pg, const char *url, const char *path, const char *sql)
{
    if (pg) {
        PGconn *c = PQconnectdb(url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("raw_exec: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
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

static void raw_exec(const fx *f, const char *sql)
{
    raw_exec_url(f->pg, f->url, f->path, sql);
}

/* ---- fixtures -------------------------------------------------------------------- */

/* The drot_jobs database URL in the fixture's cluster (created on first use). */
static void pg_jobs_url(fx *f)
{
    const char *file = getenv("DROT_PG_URL_FILE");
    assert_non_null(file);
    FILE *fp = fopen(file, "r");
    if (fp == NULL)
        fail_msg("cannot read %s: is the pg_cluster fixture running?", file);
    char base[512];
    assert_non_null(fgets(base, sizeof base, fp));
    fclose(fp);
    base[strcspn(base, "\n")] = '\0';
    char *q = strstr(base, "/postgres?");
    if (q == NULL)
        fail_msg("unexpected cluster URL %s", base);
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = '" JOBS_DB "'");
    bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!have) {
        r = PQexec(c, "CREATE DATABASE " JOBS_DB);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("create database: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    *q = '\0';
    snprintf(f->url, sizeof f->url, "%s/" JOBS_DB "?%s", base, q + strlen("/postgres?"));
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *backend = getenv("DROT_STORE_BACKEND");
    assert_non_null(backend);
    f->pg = strcmp(backend, "postgres") == 0;
    if (f->pg) {
        pg_jobs_url(f);
        raw_exec(f, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    } else {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(f->dir, sizeof f->dir, "%s/drot-jobs-XXXXXX", tmp);
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    }
    char err[256];
    if (ds_store_open(f->url, &f->s, err, sizeof err) != DS_OK)
        fail_msg("open %s: %s", f->url, err);
    if (ds_store_migrate(f->s, NULL) != DS_OK)
        fail_msg("migrate: %s", ds_store_error(f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
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

static void make_id(uint32_t n, uint8_t id[DS_DEVICE_ID_LEN])
{
    memset(id, 0xd0, DS_DEVICE_ID_LEN);
    id[12] = (uint8_t)(n >> 24);
    id[13] = (uint8_t)(n >> 16);
    id[14] = (uint8_t)(n >> 8);
    id[15] = (uint8_t)n;
}

/* A distinct 65-byte "public key" per seed; the store checks only its form. */
static void make_key(uint32_t seed, uint8_t pub[DS_DRK_PUB_LEN])
{
    uint8_t s[4] = {(uint8_t)(seed >> 24), (uint8_t)(seed >> 16), (uint8_t)(seed >> 8), (uint8_t)seed};
    pub[0] = 0x04;
    assert_int_equal(drot_sha256(s, 4, pub + 1), DROT_OK);
    assert_int_equal(drot_sha256(pub + 1, 32, pub + 33), DROT_OK);
}

/* Registers devices first..first+n-1 of class cls and moves them to status
 * (registered, enrolled, active or quarantined). */
static void add_devices(fx *f, uint32_t first, uint32_t n, const char *cls, ds_device_status status)
{
    ds_device_new *d = calloc(n, sizeof *d);
    assert_non_null(d);
    for (uint32_t i = 0; i < n; i++) {
        make_id(first + i, d[i].device_id);
        make_key(first + i, d[i].drk_pub);
        d[i].class_name = cls;
    }
    if (ds_device_register_bulk(f->s, d, n, NULL) != DS_OK)
        fail_msg("register: %s", ds_store_error(f->s));
    for (uint32_t i = 0; i < n && status != DS_DEV_REGISTERED; i++) {
        assert_int_equal(ds_device_set_status(f->s, d[i].device_id, DS_DEV_ENROLLED, "test"), DS_OK);
        if (status == DS_DEV_ENROLLED)
            continue;
        assert_int_equal(ds_device_set_status(f->s, d[i].device_id, DS_DEV_ACTIVE, "test"), DS_OK);
        if (status == DS_DEV_QUARANTINED)
            assert_int_equal(ds_device_set_status(f->s, d[i].device_id, DS_DEV_QUARANTINED, "test"), DS_OK);
    }
    free(d);
}

static int64_t new_job(fx *f, uint32_t dev, uint32_t max_attempts)
{
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(dev, id);
    int64_t jid = 0;
    if (ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, max_attempts, 0, T0, &jid) != DS_OK)
        fail_msg("job_create: %s", ds_store_error(f->s));
    assert_true(jid > 0);
    return jid;
}

static ds_job get_job(fx *f, int64_t id)
{
    ds_job j;
    if (ds_job_get(f->s, id, &j) != DS_OK)
        fail_msg("job_get %lld: %s", (long long)id, ds_store_error(f->s));
    return j;
}

/* Issues job id from the device's current epoch with key seed kseed. */
static ds_status issue(fx *f, int64_t id, const char *owner, uint32_t kseed, int64_t now)
{
    ds_job j = get_job(f, id);
    ds_device d;
    assert_int_equal(ds_device_get(f->s, j.device_id, &d), DS_OK);
    uint8_t pub[DS_DRK_PUB_LEN], nonce[DS_NONCE_LEN], tbs[DS_DIGEST_LEN];
    make_key(kseed, pub);
    memset(nonce, (int)(kseed & 0xff), sizeof nonce);
    memset(tbs, (int)((kseed >> 8) & 0xff) ^ 0x5a, sizeof tbs);
    return ds_job_issue(f->s, id, owner, d.epoch, pub, nonce, tbs, now);
}

static ds_status complete(fx *f, int64_t id, int64_t now)
{
    ds_job j = get_job(f, id);
    return ds_job_complete(f->s, id, j.new_pub,
                           j.kind == DS_JOB_ROTATE_ROOT ? j.from_epoch + 1 : j.from_epoch, now);
}

/* ---- "nothing written": snapshots -------------------------------------------------- */

typedef struct snap {
    ds_job jobs[MAXSNAP];
    size_t n_jobs;
    ds_campaign camps[16];
    size_t n_camps;
    long long devices_sum; /* a checksum over epochs, statuses and keys, read directly */
    long long keys;
} snap;

static int snap_job(const ds_job *j, void *ctx)
{
    snap *s = ctx;
    assert_true(s->n_jobs < MAXSNAP);
    s->jobs[s->n_jobs++] = *j;
    return 0;
}

static int snap_camp(const ds_campaign *c, void *ctx)
{
    snap *s = ctx;
    assert_true(s->n_camps < 16);
    s->camps[s->n_camps++] = *c;
    return 0;
}

static void take(fx *f, snap *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(ds_job_list(f->s, NULL, snap_job, s), DS_OK);
    assert_int_equal(ds_campaign_list(f->s, NULL, snap_camp, s), DS_OK);
    s->devices_sum = raw_scalar(f, "SELECT coalesce(sum(epoch * 7 + length(status) * 3 + updated_at), 0) "
                                   "FROM devices");
    s->keys = raw_scalar(f, "SELECT count(*) FROM device_keys");
}

static void same(fx *f, const snap *before, const char *what)
{
    snap *now = calloc(1, sizeof *now);
    assert_non_null(now);
    take(f, now);
    if (now->n_jobs != before->n_jobs || now->n_camps != before->n_camps ||
        memcmp(now->jobs, before->jobs, before->n_jobs * sizeof(ds_job)) != 0 ||
        memcmp(now->camps, before->camps, before->n_camps * sizeof(ds_campaign)) != 0 ||
        now->devices_sum != before->devices_sum || now->keys != before->keys) {
        free(now);
        fail_msg("%s: a refused call changed the database", what);
    }
    free(now);
}

/* ---- Test 1: create, get, open job per device, list, names ------------------------ */
static int count_job(const ds_job *j, void *ctx)
{
    (void)j;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t list_count(fx *f, const uint8_t *dev, ds_job_state st, int64_t camp)
{
    ds_job_filter flt = {.device_id = dev, .state = st, .campaign_id = camp};
    size_t n = 0;
    assert_int_equal(ds_job_list(f->s, &flt, count_job, &n), DS_OK);
    return n;
}

static void test_create_get_list(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 3, "c", DS_DEV_ACTIVE);
    add_devices(f, 10, 1, "c", DS_DEV_ENROLLED);
    add_devices(f, 20, 1, "c", DS_DEV_REGISTERED);
    add_devices(f, 30, 1, "c", DS_DEV_QUARANTINED);
    uint8_t id[DS_DEVICE_ID_LEN];
    int64_t j1 = new_job(f, 1, 3);
    ds_job j = get_job(f, j1);
    make_id(1, id);
    assert_memory_equal(j.device_id, id, sizeof id);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_int_equal(j.kind, DS_JOB_ROTATE_ROOT);
    assert_int_equal(j.mode, DS_JOB_MODE_SERVER);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.max_attempts, 3);
    assert_false(j.has_new_key);
    assert_string_equal(j.lease_owner, "");
    assert_int_equal(j.lease_until, 0);
    assert_int_equal(j.campaign_id, 0);
    assert_int_equal(j.created_at, T0);
    assert_int_equal(j.updated_at, T0);
    ds_job o;
    assert_int_equal(ds_job_open_for_device(f->s, id, &o), DS_OK);
    assert_int_equal(o.id, j1);

    /* one open job per device; another kind is no exception */
    snap *s0 = calloc(1, sizeof *s0);
    assert_non_null(s0);
    take(f, s0);
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ANCHOR, DS_JOB_MODE_DEVICE, 1, 0, T0, NULL),
                     DS_E_EXISTS);
    assert_non_null(strstr(ds_store_error(f->s), "open rotation job"));
    /* devices that may not rotate, and unknown ones */
    make_id(20, id);
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "registered"));
    make_id(30, id);
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_CONFLICT);
    make_id(2, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_REVOKED, "lost"), DS_OK);
    take(f, s0);
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_CONFLICT);
    make_id(999, id);
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_NOT_FOUND);
    assert_int_equal(ds_job_open_for_device(f->s, id, &o), DS_E_NOT_FOUND);
    make_id(3, id);
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 77, T0, NULL),
                     DS_E_NOT_FOUND); /* no such campaign */
    same(f, s0, "refused creates");
    free(s0);
    assert_int_equal(ds_job_get(f->s, j1 + 1000, &o), DS_E_NOT_FOUND);

    /* an enrolled device may rotate; a finished job frees the device */
    int64_t j10 = new_job(f, 10, 1);
    make_id(1, id);
    assert_int_equal(ds_job_cancel(f->s, j1, "operator", T0 + 1), DS_OK);
    assert_int_equal(ds_job_open_for_device(f->s, id, &o), DS_E_NOT_FOUND);
    int64_t j1b = new_job(f, 1, 2);
    assert_true(j1b > j10 && j10 > j1);

    assert_int_equal(list_count(f, NULL, DS_JOB_ANY, 0), 3);
    assert_int_equal(list_count(f, id, DS_JOB_ANY, 0), 2);
    assert_int_equal(list_count(f, id, DS_JOB_CANCELLED, 0), 1);
    assert_int_equal(list_count(f, NULL, DS_JOB_PENDING, 0), 2);
    assert_int_equal(list_count(f, NULL, DS_JOB_ANY, 5), 0);
    ds_job_filter page = {.limit = 1, .offset = 1};
    size_t n = 0;
    assert_int_equal(ds_job_list(f->s, &page, count_job, &n), DS_OK);
    assert_int_equal(n, 1);

    /* names round-trip */
    for (int s = DS_JOB_PENDING; s <= DS_JOB_CANCELLED; s++) {
        ds_job_state back;
        assert_int_equal(ds_job_state_parse(ds_job_state_name((ds_job_state)s), &back), DS_OK);
        assert_int_equal(back, s);
    }
    ds_job_state bs;
    assert_int_equal(ds_job_state_parse("done", &bs), DS_E_ARG);
    assert_null(ds_job_state_name(DS_JOB_ANY));
    assert_null(ds_job_state_name((ds_job_state)6));
    ds_campaign_state cs;
    assert_int_equal(ds_campaign_state_parse("stopped", &cs), DS_OK);
    assert_int_equal(cs, DS_CAMPAIGN_STOPPED);
    assert_string_equal(ds_job_kind_name(DS_JOB_ROTATE_ANCHOR), "rotate-anchor");
    assert_string_equal(ds_job_mode_name(DS_JOB_MODE_DEVICE), "device");
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 2: every (state, step) pair / legal ones move, illegal ones write nothing -- */
enum { OP_ISSUE, OP_COMPLETE, OP_RETRY, OP_FAIL, OP_CANCEL, OP_LEASE, OP_N };
static const char *const op_names[OP_N] = {"issue", "complete", "retry", "fail", "cancel", "lease"};

/* Brings a fresh job of device dev into state st. */
static int64_t job_in_state(fx *f, uint32_t dev, ds_job_state st)
{
    int64_t id = new_job(f, dev, 3);
    if (st == DS_JOB_PENDING)
        return id;
    if (st == DS_JOB_FAILED || st == DS_JOB_CANCELLED) {
        assert_int_equal((st == DS_JOB_FAILED ? ds_job_fail : ds_job_cancel)(f->s, id, "setup", T0), DS_OK);
        return id;
    }
    assert_int_equal(issue(f, id, "srv-a", 5000 + dev, T0), DS_OK);
    if (st == DS_JOB_COMPLETED)
        assert_int_equal(complete(f, id, T0), DS_OK);
    return id;
}

static ds_status apply(fx *f, int op, int64_t id)
{
    switch (op) {
    case OP_ISSUE: return issue(f, id, "srv-a", 9000 + (uint32_t)id, T0 + 5);
    case OP_COMPLETE: {
        ds_job j = get_job(f, id);
        if (!j.has_new_key) /* any key: there is none to match */
            make_key(4242, j.new_pub);
        return ds_job_complete(f->s, id, j.new_pub, j.from_epoch + 1, T0 + 5);
    }
    case OP_RETRY: return ds_job_retry(f->s, id, "old key seen", T0 + 5);
    case OP_FAIL: return ds_job_fail(f->s, id, "refused", T0 + 5);
    case OP_CANCEL: return ds_job_cancel(f->s, id, "operator", T0 + 5);
    default: return ds_job_lease(f->s, id, "srv-a", T0 + 5, 30, NULL);
    }
}

static void test_state_machine(void **state)
{
    fx *f = *state;
    /* expected next state per (state, op); 0 = refused (DS_E_CONFLICT) */
    static const ds_job_state next[6][OP_N] = {
        [DS_JOB_PENDING] = {DS_JOB_ISSUED, 0, 0, DS_JOB_FAILED, DS_JOB_CANCELLED, DS_JOB_PENDING},
        [DS_JOB_ISSUED] = {0, DS_JOB_COMPLETED, DS_JOB_PENDING, DS_JOB_FAILED, DS_JOB_CANCELLED,
                           DS_JOB_ISSUED},
        [DS_JOB_COMPLETED] = {0, DS_JOB_COMPLETED, 0, 0, 0, 0},
        [DS_JOB_FAILED] = {0, 0, 0, 0, 0, 0},
        [DS_JOB_CANCELLED] = {0, 0, 0, 0, 0, 0},
    };
    add_devices(f, 1, 5 * OP_N, "c", DS_DEV_ACTIVE);
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    uint32_t dev = 1;
    int legal = 0, refused = 0;
    for (int st = DS_JOB_PENDING; st <= DS_JOB_CANCELLED; st++) {
        for (int op = 0; op < OP_N; op++, dev++) {
            int64_t id = job_in_state(f, dev, (ds_job_state)st);
            ds_job j0 = get_job(f, id);
            take(f, before);
            ds_status r = apply(f, op, id);
            char what[96];
            snprintf(what, sizeof what, "%s on a %s job", op_names[op], ds_job_state_name((ds_job_state)st));
            if (next[st][op] == 0) {
                if (r != DS_E_CONFLICT)
                    fail_msg("%s: %s, expected refusal (%s)", what, ds_status_str(r), ds_store_error(f->s));
                same(f, before, what);
                refused++;
                continue;
            }
            if (r != DS_OK)
                fail_msg("%s: %s (%s)", what, ds_status_str(r), ds_store_error(f->s));
            ds_job j = get_job(f, id);
            if (j.state != next[st][op])
                fail_msg("%s: now %s", what, ds_job_state_name(j.state));
            legal++;
            if (st == DS_JOB_COMPLETED) /* idempotent completion: not one byte changes */
                same(f, before, what);
            if (op == OP_ISSUE)
                assert_int_equal(j.attempts, j0.attempts + 1);
            else
                assert_int_equal(j.attempts, j0.attempts);
            if (op == OP_FAIL || op == OP_CANCEL || op == OP_COMPLETE) {
                assert_string_equal(j.lease_owner, ""); /* terminal states clear the lease */
                assert_int_equal(j.lease_until, 0);
            }
            if (op == OP_FAIL)
                assert_string_equal(j.error, "refused");
            if (op == OP_RETRY) { /* J6: the attempt's key stays until the next issue */
                assert_true(j.has_new_key);
                assert_memory_equal(j.new_pub, j0.new_pub, DS_DRK_PUB_LEN);
                assert_string_equal(j.error, "old key seen");
            }
        }
    }
    printf("# %d legal steps taken, %d illegal steps refused\n", legal, refused);
    assert_int_equal(legal, 10);
    assert_int_equal(refused, 5 * OP_N - 10);
    free(before);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 3: retries / pending again, then failed at max_attempts ------------------ */
static void test_retry_to_failed(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 1, "c", DS_DEV_ACTIVE);
    int64_t id = new_job(f, 1, 2);
    assert_int_equal(ds_job_lease(f->s, id, "srv-a", T0, 60, NULL), DS_OK);
    assert_int_equal(issue(f, id, "srv-a", 11, T0 + 1), DS_OK);
    assert_int_equal(ds_job_retry(f->s, id, "receipt lost, old key seen", T0 + 2), DS_OK);
    ds_job j = get_job(f, id);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_int_equal(j.attempts, 1);
    assert_string_equal(j.lease_owner, "srv-a"); /* kept for the next attempt */
    assert_int_equal(j.updated_at, T0 + 2);
    assert_int_equal(issue(f, id, "srv-a", 12, T0 + 3), DS_OK);
    j = get_job(f, id);
    uint8_t k12[DS_DRK_PUB_LEN];
    make_key(12, k12);
    assert_memory_equal(j.new_pub, k12, sizeof k12); /* the new attempt replaced the key */
    assert_int_equal(j.attempts, 2);
    assert_int_equal(ds_job_retry(f->s, id, "still the old key", T0 + 4), DS_OK);
    j = get_job(f, id);
    assert_int_equal(j.state, DS_JOB_FAILED);
    assert_int_equal(j.attempts, 2);
    assert_string_equal(j.error, "still the old key");
    assert_string_equal(j.lease_owner, "");
    assert_int_equal(issue(f, id, "srv-a", 13, T0 + 5), DS_E_CONFLICT);
    assert_int_equal(ds_job_retry(f->s, id, NULL, T0 + 5), DS_E_CONFLICT);
    /* the device is free for a new job */
    int64_t id2 = new_job(f, 1, 1);
    assert_true(id2 > id);
}

/* ---- Test 4: completion / key and history in one transaction ----------------------- */
typedef struct hist_ctx {
    ds_device_key k[4];
    size_t n;
} hist_ctx;

static int hist_cb(const ds_device_key *k, void *ctx)
{
    hist_ctx *h = ctx;
    if (h->n < 4)
        h->k[h->n] = *k;
    h->n++;
    return 0;
}

static void test_complete_sets_key(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 3, "c", DS_DEV_ACTIVE);
    uint8_t id[DS_DEVICE_ID_LEN], k0[DS_DRK_PUB_LEN], k1[DS_DRK_PUB_LEN], inst[DS_INSTANCE_ID_LEN];
    make_id(1, id);
    make_key(1, k0);
    make_key(101, k1);
    int64_t jid = new_job(f, 1, 3);
    assert_int_equal(issue(f, jid, "srv-a", 101, T0), DS_OK);
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);

    /* refused completions write nothing */
    take(f, before);
    assert_int_equal(ds_job_complete(f->s, jid, k0, 1, T0 + 1), DS_E_CONFLICT); /* not its key */
    assert_int_equal(ds_job_complete(f->s, jid, k1, 2, T0 + 1), DS_E_CONFLICT); /* epoch + 2 */
    assert_int_equal(ds_job_complete(f->s, jid, k1, 0, T0 + 1), DS_E_CONFLICT); /* epoch not rising */
    same(f, before, "complete with a wrong key or epoch");

    /* a key that is another device's DRK: the history row is rolled back too */
    int64_t j2 = new_job(f, 2, 3);
    uint8_t other[DS_DRK_PUB_LEN];
    make_key(3, other); /* device 3's current key */
    uint8_t nonce[DS_NONCE_LEN] = {1}, tbs[DS_DIGEST_LEN] = {2};
    assert_int_equal(ds_job_issue(f->s, j2, "srv-a", 0, other, nonce, tbs, T0), DS_OK);
    take(f, before);
    assert_int_equal(ds_job_complete(f->s, j2, other, 1, T0 + 1), DS_E_EXISTS);
    same(f, before, "complete with another device's key");
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_keys"), 0);

    assert_int_equal(ds_job_complete(f->s, jid, k1, 1, T0 + 2), DS_OK);
    ds_device d;
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_memory_equal(d.drk_pub, k1, sizeof k1);
    assert_int_equal(d.epoch, 1);
    assert_int_equal(ds_instance_id(k1, inst), DS_OK);
    assert_memory_equal(d.instance_id, inst, sizeof inst);
    assert_int_equal(d.updated_at, T0 + 2);
    hist_ctx h = {0};
    assert_int_equal(ds_device_key_history(f->s, id, hist_cb, &h), DS_OK);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.k[0].epoch, 0);
    assert_memory_equal(h.k[0].drk_pub, k0, sizeof k0);
    assert_int_equal(h.k[0].retired_at, T0 + 2);
    /* independent of the API: the row and the history agree */
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_keys k JOIN devices d ON d.device_id = "
                                   "k.device_id WHERE k.epoch = 0 AND d.epoch = 1"),
                     1);
    ds_job j = get_job(f, jid);
    assert_int_equal(j.state, DS_JOB_COMPLETED);
    assert_int_equal(j.updated_at, T0 + 2);

    /* idempotent: the same completion again changes nothing, even later */
    take(f, before);
    assert_int_equal(ds_job_complete(f->s, jid, k1, 1, T0 + 50), DS_OK);
    same(f, before, "repeated completion");
    assert_int_equal(ds_job_complete(f->s, jid, k0, 1, T0 + 50), DS_E_CONFLICT);

    /* J6: receipt lost, job retried, then the device shows the attempt's key */
    int64_t j3 = new_job(f, 3, 3);
    assert_int_equal(issue(f, j3, "srv-a", 303, T0), DS_OK);
    assert_int_equal(ds_job_retry(f->s, j3, "old key seen", T0 + 1), DS_OK);
    assert_int_equal(complete(f, j3, T0 + 2), DS_OK);
    make_id(3, id);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.epoch, 1);

    /* an anchor rotation completes without touching the device key */
    int64_t ja = 0;
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ANCHOR, DS_JOB_MODE_SERVER, 1, 0, T0, &ja), DS_OK);
    assert_int_equal(issue(f, ja, "srv-a", 777, T0), DS_OK);
    uint8_t anchor[DS_DRK_PUB_LEN];
    make_key(777, anchor);
    assert_int_equal(ds_job_complete(f->s, ja, anchor, 2, T0 + 1), DS_E_CONFLICT); /* the epoch stays */
    assert_int_equal(ds_job_complete(f->s, ja, anchor, 1, T0 + 1), DS_OK);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.epoch, 1);
    assert_false(memcmp(d.drk_pub, anchor, sizeof anchor) == 0);

    free(before);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 5: issue's conditions / stale epoch, lease, device status ---------------- */
static void test_issue_conditions(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 2, "c", DS_DEV_ACTIVE);
    uint8_t id[DS_DEVICE_ID_LEN], k[DS_DRK_PUB_LEN], nonce[DS_NONCE_LEN] = {3}, tbs[DS_DIGEST_LEN] = {4};
    make_id(1, id);
    make_key(55, k);
    int64_t jid = new_job(f, 1, 3);
    /* the device's epoch moved after the server read it */
    uint8_t moved[DS_DRK_PUB_LEN];
    make_key(56, moved);
    assert_int_equal(ds_device_set_key(f->s, id, moved, 1), DS_OK);
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    assert_int_equal(ds_job_issue(f->s, jid, "srv-a", 0, k, nonce, tbs, T0), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "epoch"));
    same(f, before, "issue from a stale epoch");

    /* another server's live lease */
    assert_int_equal(ds_job_lease(f->s, jid, "srv-b", T0, 30, NULL), DS_OK);
    take(f, before);
    assert_int_equal(ds_job_issue(f->s, jid, "srv-a", 1, k, nonce, tbs, T0 + 10), DS_E_CONFLICT);
    same(f, before, "issue under another's lease");
    /* once it expired, anyone may issue */
    assert_int_equal(ds_job_issue(f->s, jid, "srv-a", 1, k, nonce, tbs, T0 + 30), DS_OK);
    ds_job j = get_job(f, jid);
    assert_int_equal(j.state, DS_JOB_ISSUED);
    assert_int_equal(j.from_epoch, 1);
    assert_memory_equal(j.nonce, nonce, sizeof nonce);
    assert_memory_equal(j.instruction_tbs, tbs, sizeof tbs);
    assert_int_equal(j.updated_at, T0 + 30);

    /* a quarantined device gets no instruction */
    int64_t j2 = new_job(f, 2, 3);
    make_id(2, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_QUARANTINED, "FAIL"), DS_OK);
    take(f, before);
    assert_int_equal(ds_job_issue(f->s, j2, "srv-a", 0, k, nonce, tbs, T0), DS_E_CONFLICT);
    same(f, before, "issue to a quarantined device");
    assert_int_equal(ds_job_issue(f->s, j2 + 100, "srv-a", 0, k, nonce, tbs, T0), DS_E_NOT_FOUND);
    /* and a revoked one no key on completion */
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ACTIVE, "ok"), DS_OK);
    assert_int_equal(ds_job_issue(f->s, j2, "srv-a", 0, k, nonce, tbs, T0), DS_OK);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_REVOKED, "stolen"), DS_OK);
    take(f, before);
    assert_int_equal(ds_job_complete(f->s, j2, k, 1, T0), DS_E_CONFLICT);
    same(f, before, "complete on a revoked device");
    free(before);
}

/* ---- Test 6: leases / take, refuse, renew, expire, release -------------------------- */
static void test_lease(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 1, "c", DS_DEV_ACTIVE);
    int64_t id = new_job(f, 1, 3);
    ds_job j;
    assert_int_equal(ds_job_lease(f->s, id, "srv-a", T0, 30, &j), DS_OK);
    assert_string_equal(j.lease_owner, "srv-a");
    assert_int_equal(j.lease_until, T0 + 30);
    assert_int_equal(j.updated_at, T0); /* leases are not state changes */
    assert_int_equal(ds_job_lease(f->s, id, "srv-b", T0 + 29, 30, NULL), DS_E_BUSY);
    assert_non_null(strstr(ds_store_error(f->s), "srv-a"));
    assert_int_equal(ds_job_lease(f->s, id, "srv-a", T0 + 20, 30, NULL), DS_OK); /* renew */
    assert_int_equal(get_job(f, id).lease_until, T0 + 50);
    assert_int_equal(ds_job_lease(f->s, id, "srv-b", T0 + 49, 30, NULL), DS_E_BUSY);
    assert_int_equal(ds_job_lease(f->s, id, "srv-b", T0 + 50, 30, NULL), DS_OK); /* expired */
    assert_int_equal(ds_job_release(f->s, id, "srv-a"), DS_E_CONFLICT);
    assert_string_equal(get_job(f, id).lease_owner, "srv-b");
    assert_int_equal(ds_job_release(f->s, id, "srv-b"), DS_OK);
    j = get_job(f, id);
    assert_string_equal(j.lease_owner, "");
    assert_int_equal(j.lease_until, 0);
    assert_int_equal(ds_job_release(f->s, id, "srv-b"), DS_OK); /* idempotent */
    assert_int_equal(ds_job_release(f->s, id + 9, "srv-b"), DS_E_NOT_FOUND);
    assert_int_equal(ds_job_lease(f->s, id + 9, "srv-b", T0, 30, NULL), DS_E_NOT_FOUND);
    assert_int_equal(ds_job_cancel(f->s, id, "x", T0), DS_OK);
    assert_int_equal(ds_job_lease(f->s, id, "srv-b", T0, 30, NULL), DS_E_CONFLICT);
}

/* ---- Test 7: claim / lowest ids first, leases respected, campaign filter ----------- */
typedef struct ids_ctx {
    int64_t id[64];
    size_t n;
    char owner[DS_JOB_OWNER_MAX + 1];
    int64_t until;
} ids_ctx;

static int ids_cb(const ds_job *j, void *ctx)
{
    ids_ctx *c = ctx;
    if (c->n < 64)
        c->id[c->n] = j->id;
    c->n++;
    snprintf(c->owner, sizeof c->owner, "%s", j->lease_owner);
    c->until = j->lease_until;
    return 0;
}

static void test_claim(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 6, "solo", DS_DEV_ACTIVE);
    add_devices(f, 100, 4, "fleet", DS_DEV_ACTIVE);
    int64_t solo[6];
    for (uint32_t i = 0; i < 6; i++)
        solo[i] = new_job(f, 1 + i, 3);
    int64_t camp = 0;
    size_t n = 0;
    assert_int_equal(
        ds_campaign_create(f->s, "fleet", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 2, 0, 3, T0, &camp, &n),
        DS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ds_job_lease(f->s, solo[1], "srv-b", T0, 100, NULL), DS_OK);
    assert_int_equal(issue(f, solo[2], "srv-a", 7, T0), DS_OK); /* issued: not claimable */

    ids_ctx c = {0};
    assert_int_equal(ds_job_claim(f->s, 0, "srv-a", T0, 60, 3, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.id[0], solo[0]);
    assert_int_equal(c.id[1], solo[3]);
    assert_int_equal(c.id[2], solo[4]);
    assert_string_equal(c.owner, "srv-a");
    assert_int_equal(c.until, T0 + 60);
    assert_string_equal(get_job(f, solo[3]).lease_owner, "srv-a");

    /* the campaign only */
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, camp, "srv-c", T0, 60, 100, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 4);
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(get_job(f, c.id[i]).campaign_id, camp);
    /* what is left: solo[5] only (solo[1] is srv-b's, the rest srv-a's or srv-c's) */
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, 0, "srv-d", T0 + 1, 60, 100, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.id[0], solo[5]);
    /* what an owner already holds is not claimed again (a batch loop moves on) */
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, 0, "srv-a", T0 + 2, 60, 100, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 0);
    /* expired leases go to anyone */
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, 0, "srv-e", T0 + 100, 60, 100, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 9); /* all pending ones; srv-b's lease ran out at T0 + 100 */
    /* a stopped campaign's jobs are not claimed */
    assert_int_equal(ds_campaign_set_state(f->s, camp, DS_CAMPAIGN_STOPPED, "pause", T0), DS_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, 0, "srv-f", T0 + 1000, 60, 100, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 5);
    /* no callback is fine too */
    assert_int_equal(ds_job_claim(f->s, 0, "srv-g", T0 + 5000, 60, 100, NULL, NULL), DS_OK);
    assert_string_equal(get_job(f, solo[0]).lease_owner, "srv-g");
}

static int count_camp(const ds_campaign *c, void *ctx)
{
    (void)c;
    (*(size_t *)ctx)++;
    return 0;
}

/* ---- Test 8: campaign creation / one job per active device of the class only -------- */
static void test_campaign_create(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 4, "cam-a", DS_DEV_ACTIVE);
    add_devices(f, 10, 1, "cam-a", DS_DEV_QUARANTINED);
    add_devices(f, 11, 1, "cam-a", DS_DEV_REGISTERED);
    add_devices(f, 12, 1, "cam-a", DS_DEV_ENROLLED);
    add_devices(f, 20, 3, "cam-b", DS_DEV_ACTIVE);
    int64_t busy = new_job(f, 4, 3); /* device 4 already has an open job */
    int64_t id = 0;
    size_t n = 99;
    assert_int_equal(
        ds_campaign_create(f->s, "cam-a", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_DEVICE, 2, 3, 4, T0, &id, &n),
        DS_OK);
    assert_int_equal(n, 3);
    ds_campaign c;
    assert_int_equal(ds_campaign_get(f->s, id, &c), DS_OK);
    assert_string_equal(c.class_name, "cam-a");
    assert_int_equal(c.kind, DS_JOB_ROTATE_ROOT);
    assert_int_equal(c.mode, DS_JOB_MODE_DEVICE);
    assert_int_equal(c.max_parallel, 2);
    assert_int_equal(c.fail_threshold, 3);
    assert_int_equal(c.max_attempts, 4);
    assert_int_equal(c.state, DS_CAMPAIGN_RUNNING);
    assert_int_equal(c.n_pending, 3);
    assert_int_equal(c.n_issued + c.n_completed + c.n_failed + c.n_cancelled, 0);
    for (uint32_t dev = 1; dev <= 3; dev++) {
        uint8_t did[DS_DEVICE_ID_LEN];
        ds_job j;
        make_id(dev, did);
        assert_int_equal(ds_job_open_for_device(f->s, did, &j), DS_OK);
        assert_int_equal(j.campaign_id, id);
        assert_int_equal(j.mode, DS_JOB_MODE_DEVICE);
        assert_int_equal(j.max_attempts, 4);
    }
    assert_int_equal(get_job(f, busy).campaign_id, 0);
    assert_int_equal(list_count(f, NULL, DS_JOB_ANY, id), 3);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM rotation_jobs"), 4); /* nothing for cam-b */

    /* joining a campaign by hand: only a matching job */
    uint8_t did[DS_DEVICE_ID_LEN];
    make_id(20, did);
    assert_int_equal(ds_job_create(f->s, did, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_DEVICE, 1, id, T0, NULL),
                     DS_E_CONFLICT);
    make_id(12, did);
    assert_int_equal(ds_job_create(f->s, did, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, id, T0, NULL),
                     DS_E_CONFLICT);
    assert_int_equal(ds_job_create(f->s, did, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_DEVICE, 1, id, T0, NULL),
                     DS_OK);
    assert_int_equal(ds_campaign_get(f->s, id, &c), DS_OK);
    assert_int_equal(c.n_pending, 4);

    /* no eligible device: created, and done at once */
    int64_t empty = 0;
    assert_int_equal(
        ds_campaign_create(f->s, "nobody", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 1, T0, &empty, &n),
        DS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ds_campaign_get(f->s, empty, &c), DS_OK);
    assert_int_equal(c.state, DS_CAMPAIGN_DONE);
    assert_int_equal(ds_campaign_get(f->s, empty + 10, &c), DS_E_NOT_FOUND);

    size_t count = 0;
    ds_campaign_filter cf = {.state = DS_CAMPAIGN_RUNNING};
    assert_int_equal(ds_campaign_list(f->s, &cf, count_camp, &count), DS_OK);
    assert_int_equal(count, 1);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 9: max_parallel / at most N issued, the N+1st waits -------------------- */
static void test_campaign_max_parallel(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 5, "par", DS_DEV_ACTIVE);
    int64_t id = 0;
    assert_int_equal(
        ds_campaign_create(f->s, "par", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 2, 0, 3, T0, &id, NULL),
        DS_OK);
    ids_ctx c = {0};
    assert_int_equal(ds_job_claim(f->s, id, "srv-a", T0, 600, 10, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 5);
    assert_int_equal(issue(f, c.id[0], "srv-a", 1, T0), DS_OK);
    assert_int_equal(issue(f, c.id[1], "srv-a", 2, T0), DS_OK);
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    assert_int_equal(issue(f, c.id[2], "srv-a", 3, T0), DS_E_BUSY);
    assert_non_null(strstr(ds_store_error(f->s), "2 of 2"));
    same(f, before, "issue over max_parallel");
    assert_int_equal(complete(f, c.id[0], T0 + 1), DS_OK);
    assert_int_equal(issue(f, c.id[2], "srv-a", 3, T0 + 2), DS_OK);
    assert_int_equal(issue(f, c.id[3], "srv-a", 4, T0 + 2), DS_E_BUSY);
    assert_int_equal(ds_job_retry(f->s, c.id[1], "old key", T0 + 3),
                     DS_OK); /* back to pending frees a slot */
    assert_int_equal(issue(f, c.id[3], "srv-a", 4, T0 + 3), DS_OK);
    ds_campaign cp;
    assert_int_equal(ds_campaign_get(f->s, id, &cp), DS_OK);
    assert_int_equal(cp.n_issued, 2);
    assert_int_equal(cp.n_completed, 1);
    assert_int_equal(cp.n_pending, 2);
    /* a stopped campaign issues nothing, even below its limit */
    assert_int_equal(ds_job_fail(f->s, c.id[2], "refused", T0 + 4), DS_OK);
    assert_int_equal(ds_campaign_set_state(f->s, id, DS_CAMPAIGN_STOPPED, "operator pause", T0 + 5), DS_OK);
    take(f, before);
    assert_int_equal(issue(f, c.id[4], "srv-a", 5, T0 + 6), DS_E_CONFLICT);
    same(f, before, "issue in a stopped campaign");
    assert_int_equal(ds_campaign_set_state(f->s, id, DS_CAMPAIGN_RUNNING, "resume", T0 + 7), DS_OK);
    assert_int_equal(issue(f, c.id[4], "srv-a", 5, T0 + 8), DS_OK);
    free(before);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 10: fail_threshold, cancel, done / the campaign state machine ------------- */
static void test_campaign_threshold_cancel(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 6, "thr", DS_DEV_ACTIVE);
    int64_t id = 0;
    assert_int_equal(
        ds_campaign_create(f->s, "thr", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 6, 2, 1, T0, &id, NULL),
        DS_OK);
    ids_ctx c = {0};
    assert_int_equal(ds_job_claim(f->s, id, "srv-a", T0, 600, 10, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 6);
    assert_int_equal(ds_job_fail(f->s, c.id[0], "refused by the APM", T0 + 1), DS_OK);
    ds_campaign cp;
    assert_int_equal(ds_campaign_get(f->s, id, &cp), DS_OK);
    assert_int_equal(cp.state, DS_CAMPAIGN_RUNNING);
    assert_int_equal(issue(f, c.id[1], "srv-a", 2, T0 + 2), DS_OK);
    assert_int_equal(issue(f, c.id[2], "srv-a", 3, T0 + 2), DS_OK);
    /* max_attempts 1: a retry fails the job, the second failure stops the campaign */
    assert_int_equal(ds_job_retry(f->s, c.id[1], "old key", T0 + 3), DS_OK);
    assert_int_equal(get_job(f, c.id[1]).state, DS_JOB_FAILED);
    assert_int_equal(ds_campaign_get(f->s, id, &cp), DS_OK);
    assert_int_equal(cp.state, DS_CAMPAIGN_STOPPED);
    assert_non_null(strstr(cp.stop_reason, "2 jobs failed"));
    assert_int_equal(cp.n_failed, 2);
    assert_int_equal(cp.updated_at, T0 + 3);
    assert_int_equal(issue(f, c.id[3], "srv-a", 4, T0 + 4), DS_E_CONFLICT);
    /* the issued job may still finish */
    assert_int_equal(complete(f, c.id[2], T0 + 5), DS_OK);

    /* illegal campaign transitions write nothing */
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    assert_int_equal(ds_campaign_set_state(f->s, id, DS_CAMPAIGN_DONE, "x", T0 + 6), DS_E_CONFLICT);
    assert_int_equal(ds_campaign_set_state(f->s, id + 50, DS_CAMPAIGN_DONE, "x", T0 + 6), DS_E_NOT_FOUND);
    assert_int_equal(ds_campaign_set_state(f->s, id, DS_CAMPAIGN_STOPPED, "again", T0 + 6),
                     DS_OK); /* no-op */
    same(f, before, "refused campaign transitions");

    /* resume, issue one, then cancel: pending jobs are cancelled, the issued one is not */
    assert_int_equal(ds_campaign_set_state(f->s, id, DS_CAMPAIGN_RUNNING, "resume", T0 + 7), DS_OK);
    assert_int_equal(issue(f, c.id[3], "srv-a", 4, T0 + 8), DS_OK);
    assert_int_equal(ds_campaign_set_state(f->s, id, DS_CAMPAIGN_CANCELLED, "operator", T0 + 9), DS_OK);
    assert_int_equal(ds_campaign_get(f->s, id, &cp), DS_OK);
    assert_int_equal(cp.state, DS_CAMPAIGN_CANCELLED);
    assert_string_equal(cp.stop_reason, "operator");
    assert_int_equal(cp.n_cancelled, 2);
    assert_int_equal(cp.n_issued, 1);
    assert_int_equal(get_job(f, c.id[4]).state, DS_JOB_CANCELLED);
    assert_string_equal(get_job(f, c.id[4]).error, "operator");
    /* no new job joins a cancelled campaign */
    assert_int_equal(ds_job_create(f->s, get_job(f, c.id[4]).device_id, DS_JOB_ROTATE_ROOT,
                                   DS_JOB_MODE_SERVER, 1, id, T0, NULL),
                     DS_E_CONFLICT);
    take(f, before);
    for (int to = DS_CAMPAIGN_RUNNING; to <= DS_CAMPAIGN_DONE; to++)
        assert_int_equal(ds_campaign_set_state(f->s, id, (ds_campaign_state)to, "x", T0 + 10), DS_E_CONFLICT);
    same(f, before, "leaving cancelled");
    free(before);
    assert_int_equal(ds_job_retry(f->s, c.id[3], "old key", T0 + 11), DS_OK); /* its last attempt */
    assert_int_equal(get_job(f, c.id[3]).state, DS_JOB_FAILED);
    assert_int_equal(ds_campaign_get(f->s, id, &cp), DS_OK);
    assert_int_equal(cp.state, DS_CAMPAIGN_CANCELLED);

    /* attempts left, campaign cancelled: a retry cancels the job, nobody would issue it */
    int64_t id3 = 0;
    add_devices(f, 60, 1, "rc", DS_DEV_ACTIVE);
    assert_int_equal(
        ds_campaign_create(f->s, "rc", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 3, T0, &id3, NULL),
        DS_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, id3, "srv-a", T0, 600, 10, ids_cb, &c), DS_OK);
    assert_int_equal(issue(f, c.id[0], "srv-a", 60, T0), DS_OK);
    assert_int_equal(ds_campaign_set_state(f->s, id3, DS_CAMPAIGN_CANCELLED, "operator", T0 + 1), DS_OK);
    assert_int_equal(get_job(f, c.id[0]).state, DS_JOB_ISSUED); /* in flight: left alone */
    assert_int_equal(ds_job_retry(f->s, c.id[0], "old key", T0 + 2), DS_OK);
    assert_int_equal(get_job(f, c.id[0]).state, DS_JOB_CANCELLED);

    /* done by itself when its last job ends */
    int64_t id2 = 0;
    add_devices(f, 50, 2, "fin", DS_DEV_ACTIVE);
    assert_int_equal(
        ds_campaign_create(f->s, "fin", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 2, 0, 2, T0, &id2, NULL),
        DS_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_job_claim(f->s, id2, "srv-a", T0, 600, 10, ids_cb, &c), DS_OK);
    assert_int_equal(issue(f, c.id[0], "srv-a", 50, T0), DS_OK);
    assert_int_equal(complete(f, c.id[0], T0 + 1), DS_OK);
    assert_int_equal(ds_campaign_set_state(f->s, id2, DS_CAMPAIGN_DONE, "x", T0 + 1),
                     DS_E_CONFLICT); /* 1 open */
    assert_int_equal(ds_job_cancel(f->s, c.id[1], "skip", T0 + 2), DS_OK);
    assert_int_equal(ds_campaign_get(f->s, id2, &cp), DS_OK);
    assert_int_equal(cp.state, DS_CAMPAIGN_DONE);
    assert_int_equal(cp.updated_at, T0 + 2);

    /* the table */
    assert_true(ds_campaign_transition_allowed(DS_CAMPAIGN_STOPPED, DS_CAMPAIGN_RUNNING));
    assert_false(ds_campaign_transition_allowed(DS_CAMPAIGN_DONE, DS_CAMPAIGN_RUNNING));
    assert_false(ds_campaign_transition_allowed(DS_CAMPAIGN_STOPPED, DS_CAMPAIGN_DONE));
    assert_false(ds_campaign_transition_allowed(DS_CAMPAIGN_ANY, DS_CAMPAIGN_RUNNING));
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- races: two processes, each with its own connection --------------------------- */

typedef void (*race_fn)(ds_store *s, int who, char res[RACE_N]);

static int64_t g_ids[RACE_N + 1]; /* job ids (and a campaign id) for the children, copied by fork */

/* Forks two children running fn, releases them together, collects their
 * RACE_N result bytes each. */
static void race(fx *f, race_fn fn, char res[2][RACE_N])
{
    int go[2], out[2][2];
    assert_int_equal(pipe(go), 0);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pipe(out[k]), 0);
        f->kids[k] = fork();
        assert_true(f->kids[k] >= 0);
        if (f->kids[k] == 0) {
            close(go[1]);
            close(out[k][0]);
            ds_store *s = NULL;
            char err[256], r[RACE_N], g;
            memset(r, '-', sizeof r);
            if (ds_store_open(f->url, &s, err, sizeof err) != DS_OK)
                _exit(3);
            if (read(go[0], &g, 1) != 1)
                _exit(4);
            fn(s, k, r);
            ds_store_close(s);
            _exit(write(out[k][1], r, sizeof r) == (ssize_t)sizeof r ? 0 : 5);
        }
        close(out[k][1]);
    }
    close(go[0]);
    assert_int_equal(write(go[1], "gg", 2), 2);
    close(go[1]);
    for (int k = 0; k < 2; k++) {
        size_t got = 0;
        while (got < RACE_N) {
            ssize_t r = read(out[k][0], res[k] + got, RACE_N - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(out[k][0]);
        int wst = 0;
        assert_int_equal(waitpid(f->kids[k], &wst, 0), f->kids[k]);
        f->kids[k] = 0;
        assert_true(WIFEXITED(wst));
        assert_int_equal(WEXITSTATUS(wst), 0);
        assert_int_equal(got, RACE_N);
    }
}

/* A short pause, so that the other process (maybe asleep in SQLite's busy
 * handler) gets in between: the point is to collide on the same rows. */
static void nap(void)
{
    struct timespec t = {0, 200 * 1000};
    nanosleep(&t, NULL);
}

static char outcome(ds_store *s, ds_status st, ds_status lost)
{
    if (st == DS_OK)
        return '1';
    if (st == lost)
        return '0';
    fprintf(stderr, "child %d: %s: %s\n", (int)getpid(), ds_status_str(st), ds_store_error(s));
    return 'E';
}

/* ---- Test 11: two processes create jobs for the same 50 devices / one each ------------ */
static void create_child(ds_store *s, int who, char res[RACE_N])
{
    for (int j = 0; j < RACE_N; j++) {
        int i = who ? RACE_N - 1 - j : j; /* opposite ends: both do real work */
        uint8_t id[DS_DEVICE_ID_LEN];
        make_id(1 + (uint32_t)i, id);
        res[i] = outcome(s, ds_job_create(s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 3, 0, T0, NULL),
                         DS_E_EXISTS);
        nap();
    }
}

static void test_race_create(void **state)
{
    fx *f = *state;
    add_devices(f, 1, RACE_N, "race", DS_DEV_ACTIVE);
    char res[2][RACE_N];
    race(f, create_child, res);
    int won[2] = {0, 0};
    for (int i = 0; i < RACE_N; i++) {
        assert_true(res[0][i] != 'E' && res[1][i] != 'E');
        if ((res[0][i] == '1') + (res[1][i] == '1') != 1)
            fail_msg("device %d: %d jobs created", i + 1, (res[0][i] == '1') + (res[1][i] == '1'));
        won[0] += res[0][i] == '1';
        won[1] += res[1][i] == '1';
    }
    printf("# create race: process A %d, process B %d of %d\n", won[0], won[1], RACE_N);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM rotation_jobs"), RACE_N);
    assert_int_equal(raw_scalar(f, "SELECT count(DISTINCT device_id) FROM rotation_jobs"), RACE_N);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 12: two processes issue the same 50 jobs / exactly one wins each ----------- */
static void issue_child(ds_store *s, int who, char res[RACE_N])
{
    const char *owner = who ? "srv-b" : "srv-a";
    for (int j = 0; j < RACE_N; j++) {
        int i = who ? RACE_N - 1 - j : j;
        uint8_t pub[DS_DRK_PUB_LEN], nonce[DS_NONCE_LEN], tbs[DS_DIGEST_LEN];
        make_key(10000 + (uint32_t)(i * 2 + who), pub);
        memset(nonce, who, sizeof nonce);
        memset(tbs, 0x70 + who, sizeof tbs);
        res[i] = outcome(s, ds_job_issue(s, g_ids[i], owner, 0, pub, nonce, tbs, T0), DS_E_CONFLICT);
        nap();
    }
}

static void test_race_issue(void **state)
{
    fx *f = *state;
    add_devices(f, 1, RACE_N, "race", DS_DEV_ACTIVE);
    for (int i = 0; i < RACE_N; i++)
        g_ids[i] = new_job(f, 1 + (uint32_t)i, 3);
    char res[2][RACE_N];
    race(f, issue_child, res);
    int won[2] = {0, 0};
    for (int i = 0; i < RACE_N; i++) {
        assert_true(res[0][i] != 'E' && res[1][i] != 'E');
        int n = (res[0][i] == '1') + (res[1][i] == '1');
        if (n != 1)
            fail_msg("job %d issued %d times", i, n);
        int who = res[1][i] == '1';
        won[who]++;
        ds_job j = get_job(f, g_ids[i]);
        assert_int_equal(j.state, DS_JOB_ISSUED);
        assert_int_equal(j.attempts, 1);
        uint8_t pub[DS_DRK_PUB_LEN];
        make_key(10000 + (uint32_t)(i * 2 + who), pub);
        assert_memory_equal(j.new_pub, pub, sizeof pub); /* the winner's key, whole */
        assert_int_equal(j.nonce[0], who);
        assert_int_equal(j.instruction_tbs[0], 0x70 + who);
    }
    printf("# issue race: process A %d, process B %d of %d\n", won[0], won[1], RACE_N);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 13: two processes claim 50 campaign jobs in batches / each claimed once ---- */
typedef struct claim_ctx {
    char *res;
} claim_ctx;

static int claim_cb(const ds_job *j, void *ctx)
{
    claim_ctx *c = ctx;
    for (int i = 0; i < RACE_N; i++) {
        if (g_ids[i] == j->id)
            c->res[i] = c->res[i] == '-' ? '1' : 'D'; /* D: claimed twice by the same process */
    }
    return 0;
}

static void claim_child(ds_store *s, int who, char res[RACE_N])
{
    const char *owner = who ? "srv-b" : "srv-a";
    claim_ctx c = {res};
    for (int round = 0; round < 100; round++) {
        size_t before = 0, after = 0;
        for (int i = 0; i < RACE_N; i++)
            before += res[i] != '-';
        ds_status st = ds_job_claim(s, g_ids[RACE_N], owner, T0, 600, 3, claim_cb, &c);
        if (st != DS_OK) {
            fprintf(stderr, "child %d: claim: %s\n", (int)getpid(), ds_store_error(s));
            res[0] = 'E';
            return;
        }
        for (int i = 0; i < RACE_N; i++)
            after += res[i] != '-';
        if (after == before)
            return; /* nothing left */
        nap();
    }
}

static void test_race_claim(void **state)
{
    fx *f = *state;
    add_devices(f, 1, RACE_N, "race", DS_DEV_ACTIVE);
    int64_t camp = 0;
    size_t n = 0;
    assert_int_equal(
        ds_campaign_create(f->s, "race", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 5, 0, 3, T0, &camp, &n),
        DS_OK);
    assert_int_equal(n, RACE_N);
    ds_job_filter flt = {.campaign_id = camp};
    ids_ctx all = {0};
    assert_int_equal(ds_job_list(f->s, &flt, ids_cb, &all), DS_OK);
    assert_int_equal(all.n, RACE_N);
    memcpy(g_ids, all.id, sizeof(int64_t) * RACE_N);
    g_ids[RACE_N] = camp;
    char res[2][RACE_N];
    race(f, claim_child, res);
    int won[2] = {0, 0};
    for (int i = 0; i < RACE_N; i++) {
        assert_true(res[0][i] != 'E' && res[1][i] != 'E' && res[0][i] != 'D' && res[1][i] != 'D');
        int k = (res[0][i] == '1') + (res[1][i] == '1');
        if (k != 1)
            fail_msg("job %lld claimed %d times", (long long)g_ids[i], k);
        int who = res[1][i] == '1';
        won[who]++;
        assert_string_equal(get_job(f, g_ids[i]).lease_owner, who ? "srv-b" : "srv-a");
    }
    printf("# claim race: process A %d, process B %d of %d\n", won[0], won[1], RACE_N);
}

/* ---- Test 14: ds_store_check sees a broken job invariant --------------------------- */
static void test_check_detects(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 2, "c", DS_DEV_ACTIVE);
    int64_t a = new_job(f, 1, 3);
    assert_int_equal(issue(f, a, "srv-a", 1, T0), DS_OK);
    new_job(f, 2, 3);
    assert_int_equal(ds_store_check(f->s), DS_OK);
    /* behind the store's back: remove the index and add a second open job */
    raw_exec(f, "DROP INDEX rotation_jobs_one_open");
    raw_exec(f,
             "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, created_at, updated_at) "
             "SELECT device_id, kind, mode, 'pending', 1, 1, 1 FROM rotation_jobs WHERE state = 'issued'");
    assert_int_equal(ds_store_check(f->s), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "more than one open rotation job"));
    raw_exec(f, "DELETE FROM rotation_jobs WHERE state = 'pending' AND created_at = 1");
    assert_int_equal(ds_store_check(f->s), DS_OK);
    /* a campaign over its max_parallel */
    int64_t camp = 0;
    add_devices(f, 10, 2, "k", DS_DEV_ACTIVE);
    assert_int_equal(
        ds_campaign_create(f->s, "k", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 3, T0, &camp, NULL),
        DS_OK);
    ids_ctx c = {0};
    assert_int_equal(ds_job_claim(f->s, camp, "srv-a", T0, 60, 2, ids_cb, &c), DS_OK);
    assert_int_equal(issue(f, c.id[0], "srv-a", 2, T0), DS_OK);
    assert_int_equal(issue(f, c.id[1], "srv-a", 3, T0), DS_E_BUSY);
    raw_exec(
        f, "UPDATE rotation_jobs SET state = 'issued', attempts = 1, new_pub = (SELECT new_pub FROM "
           "rotation_jobs WHERE new_pub IS NOT NULL LIMIT 1), nonce = (SELECT nonce FROM rotation_jobs "
           "WHERE nonce IS NOT NULL LIMIT 1), instruction_tbs = (SELECT instruction_tbs FROM rotation_jobs "
           "WHERE instruction_tbs IS NOT NULL LIMIT 1) WHERE state = 'pending' AND campaign_id IS NOT NULL");
    assert_int_equal(ds_store_check(f->s), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "max_parallel"));
}

/* ---- Test 15: bad arguments / DS_E_ARG, nothing written ---------------------------- */
static void test_bad_args(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 2, "c", DS_DEV_ACTIVE);
    int64_t id = new_job(f, 1, 3);
    uint8_t dev[DS_DEVICE_ID_LEN], k[DS_DRK_PUB_LEN], n[DS_NONCE_LEN] = {0}, t[DS_DIGEST_LEN] = {0};
    make_id(2, dev);
    make_key(9, k);
    char long_owner[DS_JOB_OWNER_MAX + 2], long_why[DS_JOB_ERROR_MAX + 2];
    memset(long_owner, 'o', sizeof long_owner - 1);
    long_owner[sizeof long_owner - 1] = '\0';
    memset(long_why, 'w', sizeof long_why - 1);
    long_why[sizeof long_why - 1] = '\0';
    char max_owner[DS_JOB_OWNER_MAX + 1];
    memset(max_owner, 'm', sizeof max_owner - 1);
    max_owner[sizeof max_owner - 1] = '\0';
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    ds_job j;
    ds_campaign c;

    assert_int_equal(ds_job_create(NULL, dev, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, NULL, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, dev, (ds_job_kind)3, DS_JOB_MODE_SERVER, 1, 0, T0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, dev, DS_JOB_ROTATE_ROOT, (ds_job_mode)0, 1, 0, T0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, dev, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 0, 0, T0, NULL),
                     DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, dev, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, DS_JOB_ATTEMPTS_MAX + 1,
                                   0, T0, NULL),
                     DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, dev, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, -1, T0, NULL),
                     DS_E_ARG);
    assert_int_equal(ds_job_create(f->s, dev, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 0, NULL),
                     DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "time"));

    assert_int_equal(ds_job_get(f->s, 0, &j), DS_E_ARG);
    assert_int_equal(ds_job_get(f->s, -5, &j), DS_E_ARG);
    assert_int_equal(ds_job_get(f->s, id, NULL), DS_E_ARG);
    assert_int_equal(ds_job_open_for_device(f->s, NULL, &j), DS_E_ARG);
    assert_int_equal(ds_job_list(f->s, NULL, NULL, NULL), DS_E_ARG);
    ds_job_filter bad = {.state = (ds_job_state)9};
    assert_int_equal(ds_job_list(f->s, &bad, count_job, NULL), DS_E_ARG);

    assert_int_equal(ds_job_lease(f->s, id, long_owner, T0, 30, NULL), DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "owner"));
    assert_int_equal(ds_job_lease(f->s, id, "", T0, 30, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, id, NULL, T0, 30, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, id, "has space", T0, 30, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, id, "tab\there", T0, 30, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, id, "srv-a", T0, 0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, id, "srv-a", T0, DS_JOB_TTL_MAX + 1, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, id, "srv-a", INT64_MAX, 30, NULL), DS_E_ARG);
    assert_int_equal(ds_job_lease(f->s, 0, "srv-a", T0, 30, NULL), DS_E_ARG);
    assert_int_equal(ds_job_claim(f->s, 0, "srv-a", T0, 30, 0, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_job_claim(f->s, 0, "srv-a", T0, 30, DS_JOB_CLAIM_MAX + 1, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_job_claim(f->s, -1, "srv-a", T0, 30, 1, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_job_claim(f->s, 0, long_owner, T0, 30, 1, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_job_release(f->s, id, long_owner), DS_E_ARG);
    assert_int_equal(ds_job_release(f->s, 0, "srv-a"), DS_E_ARG);

    assert_int_equal(ds_job_issue(f->s, id, long_owner, 0, k, n, t, T0), DS_E_ARG);
    assert_int_equal(ds_job_issue(f->s, id, "srv-a", 0, NULL, n, t, T0), DS_E_ARG);
    assert_int_equal(ds_job_issue(f->s, id, "srv-a", 0, k, NULL, t, T0), DS_E_ARG);
    assert_int_equal(ds_job_issue(f->s, id, "srv-a", 0, k, n, NULL, T0), DS_E_ARG);
    assert_int_equal(ds_job_issue(f->s, id, "srv-a", DS_EPOCH_MAX, k, n, t, T0), DS_E_ARG);
    k[0] = 0x02; /* compressed: refused */
    assert_int_equal(ds_job_issue(f->s, id, "srv-a", 0, k, n, t, T0), DS_E_ARG);
    assert_int_equal(ds_job_complete(f->s, id, k, 1, T0), DS_E_ARG);
    k[0] = 0x04;
    assert_int_equal(ds_job_complete(f->s, id, NULL, 1, T0), DS_E_ARG);
    assert_int_equal(ds_job_complete(f->s, id, k, DS_EPOCH_MAX + 1, T0), DS_E_ARG);
    assert_int_equal(ds_job_complete(f->s, -1, k, 1, T0), DS_E_ARG);
    assert_int_equal(ds_job_retry(f->s, id, long_why, T0), DS_E_ARG);
    assert_int_equal(ds_job_fail(f->s, id, long_why, T0), DS_E_ARG);
    assert_int_equal(ds_job_cancel(f->s, id, long_why, T0), DS_E_ARG);
    assert_int_equal(ds_job_fail(f->s, 0, NULL, T0), DS_E_ARG);
    assert_int_equal(ds_job_cancel(f->s, id, NULL, -1), DS_E_ARG);

    assert_int_equal(ds_campaign_create(f->s, "bad class", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 1,
                                        T0, NULL, NULL),
                     DS_E_ARG);
    assert_int_equal(
        ds_campaign_create(f->s, NULL, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 1, T0, NULL, NULL),
        DS_E_ARG);
    assert_int_equal(
        ds_campaign_create(f->s, "c", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 0, 0, 1, T0, NULL, NULL),
        DS_E_ARG);
    assert_int_equal(
        ds_campaign_create(f->s, "c", DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 1, 0, 0, T0, NULL, NULL),
        DS_E_ARG);
    assert_int_equal(
        ds_campaign_create(f->s, "c", (ds_job_kind)0, DS_JOB_MODE_SERVER, 1, 0, 1, T0, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_campaign_get(f->s, 0, &c), DS_E_ARG);
    assert_int_equal(ds_campaign_list(f->s, NULL, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_campaign_set_state(f->s, 1, DS_CAMPAIGN_ANY, NULL, T0), DS_E_ARG);
    assert_int_equal(ds_campaign_set_state(f->s, 1, DS_CAMPAIGN_STOPPED, long_why, T0), DS_E_ARG);
    same(f, before, "bad arguments");

    /* the limits themselves are accepted */
    assert_int_equal(ds_job_lease(f->s, id, max_owner, T0, DS_JOB_TTL_MAX, &j), DS_OK);
    assert_string_equal(j.lease_owner, max_owner);
    assert_string_equal(get_job(f, id).lease_owner, max_owner);
    long_why[DS_JOB_ERROR_MAX] = '\0';
    assert_int_equal(ds_job_fail(f->s, id, long_why, T0), DS_OK);
    assert_int_equal(strlen(get_job(f, id).error), DS_JOB_ERROR_MAX);
    free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_to_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_sets_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_max_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_threshold_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_detects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests_name(getenv("DROT_STORE_BACKEND") ? getenv("DROT_STORE_BACKEND") : "jobs",
                                       tests, NULL, NULL);
}
