/*
 * jobs_fixture.c — see jobs_fixture.h.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "drot_crypto.h"
#include "jobs_fixture.h"

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

void raw_exec(const fx *f, const char *sql)
{
    raw_exec_url(f->pg, f->url, f->path, sql);
}

/* ---- fixtures -------------------------------------------------------------------- */

/* The cluster URL with the binary's schema first in the search path. */
static void pg_schema_url(fx *f, char *schema, size_t cap)
{
    const char *file = getenv("DROT_PG_URL_FILE");
    const char *name = getenv("DROT_PG_SCHEMA");
    assert_non_null(file);
    assert_non_null(name);
    assert_true(strspn(name, "abcdefghijklmnopqrstuvwxyz_") == strlen(name) && strlen(name) < cap);
    snprintf(schema, cap, "%s", name);
    FILE *fp = fopen(file, "r");
    if (fp == NULL)
        fail_msg("cannot read %s: is the pg_cluster fixture running?", file);
    char base[512];
    assert_non_null(fgets(base, sizeof base, fp));
    fclose(fp);
    base[strcspn(base, "\n")] = '\0';
    assert_non_null(strchr(base, '?'));
    snprintf(f->url, sizeof f->url, "%s&options=-csearch_path%%3D%s", base, schema);
}

int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *backend = getenv("DROT_STORE_BACKEND");
    assert_non_null(backend);
    f->pg = strcmp(backend, "postgres") == 0;
    if (f->pg) {
        char schema[64], sql[200];
        pg_schema_url(f, schema, sizeof schema);
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
        raw_exec(f, sql);
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
    if (f->pg) /* the tables went to this binary's schema, not to "public" */
        assert_int_equal(raw_scalar(f, "SELECT count(*) FROM pg_tables WHERE tablename = 'rotation_jobs' "
                                       "AND schemaname = current_setting('search_path')"),
                         1);
    *state = f;
    return 0;
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

/* Registers devices first..first+n-1 of class cls and moves them to status
 * (registered, enrolled, active or quarantined). */
void add_devices(fx *f, uint32_t first, uint32_t n, const char *cls, ds_device_status status)
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

int64_t new_job(fx *f, uint32_t dev, uint32_t max_attempts)
{
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(dev, id);
    int64_t jid = 0;
    if (ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, max_attempts, 0, T0, &jid) != DS_OK)
        fail_msg("job_create: %s", ds_store_error(f->s));
    assert_true(jid > 0);
    return jid;
}

int64_t new_anchor_job(fx *f, uint32_t dev, uint32_t max_attempts, uint32_t kseed)
{
    uint8_t id[DS_DEVICE_ID_LEN], pub[DS_DRK_PUB_LEN];
    make_id(dev, id);
    make_key(kseed, pub);
    int64_t jid = 0;
    if (ds_job_create_anchor(f->s, id, pub, max_attempts, 0, T0, &jid) != DS_OK)
        fail_msg("job_create_anchor: %s", ds_store_error(f->s));
    assert_true(jid > 0);
    return jid;
}

ds_job get_job(fx *f, int64_t id)
{
    ds_job j;
    if (ds_job_get(f->s, id, &j) != DS_OK)
        fail_msg("job_get %lld: %s", (long long)id, ds_store_error(f->s));
    return j;
}

/* Issues job id from the device's current epoch with key seed kseed. */
ds_status issue(fx *f, int64_t id, const char *owner, uint32_t kseed, int64_t now)
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

ds_status complete(fx *f, int64_t id, int64_t now)
{
    ds_job j = get_job(f, id);
    return ds_job_complete(f->s, id, j.new_pub,
                           j.kind == DS_JOB_ROTATE_ROOT ? j.from_epoch + 1 : j.from_epoch, now);
}

/* ---- "nothing written": snapshots -------------------------------------------------- */

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

void take(fx *f, snap *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(ds_job_list(f->s, NULL, snap_job, s), DS_OK);
    assert_int_equal(ds_campaign_list(f->s, NULL, snap_camp, s), DS_OK);
    s->devices_sum = raw_scalar(f, "SELECT coalesce(sum(epoch * 7 + length(status) * 3 + updated_at), 0) "
                                   "FROM devices");
    s->keys = raw_scalar(f, "SELECT count(*) FROM device_keys");
}

void same(fx *f, const snap *before, const char *what)
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

/* ---- small callbacks ---- */

int count_job(const ds_job *j, void *ctx)
{
    (void)j;
    (*(size_t *)ctx)++;
    return 0;
}

size_t list_count(fx *f, const uint8_t *dev, ds_job_state st, int64_t camp)
{
    ds_job_filter flt = {.device_id = dev, .state = st, .campaign_id = camp};
    size_t n = 0;
    assert_int_equal(ds_job_list(f->s, &flt, count_job, &n), DS_OK);
    return n;
}

int ids_cb(const ds_job *j, void *ctx)
{
    ids_ctx *c = ctx;
    if (c->n < 64)
        c->id[c->n] = j->id;
    c->n++;
    snprintf(c->owner, sizeof c->owner, "%s", j->lease_owner);
    c->until = j->lease_until;
    return 0;
}

int count_camp(const ds_campaign *c, void *ctx)
{
    (void)c;
    (*(size_t *)ctx)++;
    return 0;
}
