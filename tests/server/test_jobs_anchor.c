/*
 * test_jobs_anchor.c — trust-anchor rotation jobs (server/src/store.h,
 * "rotation jobs", anchor steps): ds_job_create_anchor, ds_job_advance step
 * by step and its refusals, issue and complete of the last step (the device
 * row untouched), retry starting over, and a database at schema version 4
 * migrated to 5. ONE source, run against both backends by CTest
 * (tests/cmake/server_jobs.cmake) with the fixture of tests/support/jobs_fixture.h.
 * The two-process race on ds_job_advance is in test_jobs_shared.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs_fixture.h"
#include "store_internal.h"

#define ANCHOR_SEED 777

/* ---- Test 1: create_anchor / key stored, step 0, slot -1; refusals write nothing ---- */
static void test_create_anchor(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 3, "c", DS_DEV_ACTIVE);
    add_devices(f, 20, 1, "c", DS_DEV_REGISTERED);
    uint8_t id[DS_DEVICE_ID_LEN], key[DS_DRK_PUB_LEN];
    make_id(1, id);
    make_key(ANCHOR_SEED, key);
    int64_t ja = 0;
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 0, T0, &ja), DS_OK);
    assert_true(ja > 0);
    ds_job j = get_job(f, ja);
    assert_int_equal(j.kind, DS_JOB_ROTATE_ANCHOR);
    assert_int_equal(j.mode, DS_JOB_MODE_SERVER);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.max_attempts, 3);
    assert_false(j.has_new_key);
    assert_true(j.has_anchor_pub);
    assert_memory_equal(j.anchor_pub, key, sizeof key);
    assert_int_equal(j.step, 0);
    assert_int_equal(j.old_slot, -1);
    assert_int_equal(j.campaign_id, 0);
    /* every read fills the anchor fields */
    ds_job o;
    assert_int_equal(ds_job_open_for_device(f->s, id, &o), DS_OK);
    assert_true(o.has_anchor_pub);
    assert_memory_equal(o.anchor_pub, key, sizeof key);
    assert_int_equal(o.old_slot, -1);
    ids_ctx c = {0};
    ds_job_filter flt = {.device_id = id};
    assert_int_equal(ds_job_list(f->s, &flt, ids_cb, &c), DS_OK);
    assert_int_equal(c.n, 1);
    ds_job leased;
    assert_int_equal(ds_job_lease(f->s, ja, "srv-a", T0, 60, &leased), DS_OK);
    assert_true(leased.has_anchor_pub);
    assert_memory_equal(leased.anchor_pub, key, sizeof key);
    assert_int_equal(leased.old_slot, -1);

    /* a root job has no anchor key and stays at step 0, slot -1 */
    int64_t jr = new_job(f, 2, 1);
    j = get_job(f, jr);
    assert_false(j.has_anchor_pub);
    assert_int_equal(j.step, 0);
    assert_int_equal(j.old_slot, -1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM rotation_jobs WHERE anchor_pub IS NULL"), 1);

    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    make_id(3, id);
    uint8_t bad[DS_DRK_PUB_LEN];
    memcpy(bad, key, sizeof bad);
    bad[0] = 0x02;
    assert_int_equal(ds_job_create_anchor(f->s, id, bad, 3, 0, T0, NULL), DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "SEC1"));
    assert_int_equal(ds_job_create_anchor(f->s, id, NULL, 3, 0, T0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create_anchor(f->s, NULL, key, 3, 0, T0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 0, 0, T0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, DS_JOB_ATTEMPTS_MAX + 1, 0, T0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 0, 0, NULL), DS_E_ARG);
    assert_int_equal(ds_job_create_anchor(NULL, id, key, 3, 0, T0, NULL), DS_E_ARG);
    /* campaigns do not rotate anchors */
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 1, T0, NULL), DS_E_ARG);
    assert_int_equal(
        ds_campaign_create(f->s, "c", DS_JOB_ROTATE_ANCHOR, DS_JOB_MODE_SERVER, 1, 0, 1, T0, NULL, NULL),
        DS_E_ARG);
    /* the plain create refuses the anchor kind: the job needs its key */
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ANCHOR, DS_JOB_MODE_SERVER, 1, 0, T0, NULL),
                     DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "key"));
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ANCHOR, DS_JOB_MODE_DEVICE, 1, 0, T0, NULL),
                     DS_E_ARG);
    /* the refusals of ds_job_create: one open job per device, device state, unknown device */
    make_id(1, id);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 0, T0, NULL), DS_E_EXISTS);
    make_id(2, id);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 0, T0, NULL), DS_E_EXISTS);
    make_id(20, id);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 0, T0, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "registered"));
    make_id(999, id);
    assert_int_equal(ds_job_create_anchor(f->s, id, key, 3, 0, T0, NULL), DS_E_NOT_FOUND);
    same(f, before, "refused anchor creation");
    free(before);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 2: advance through the steps / only the step, slot and time change ------ */
static void test_advance_steps(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 1, "c", DS_DEV_ACTIVE);
    int64_t ja = new_anchor_job(f, 1, 3, ANCHOR_SEED);
    ds_job leased;
    assert_int_equal(ds_job_lease(f->s, ja, "srv-a", T0, 600, &leased), DS_OK);
    ds_job j0 = get_job(f, ja);

    /* step 0 (CONFIRM by the old key) tells the slot */
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 2, T0 + 1), DS_OK);
    ds_job j = get_job(f, ja);
    assert_int_equal(j.step, 1);
    assert_int_equal(j.old_slot, 2);
    assert_int_equal(j.updated_at, T0 + 1);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    assert_string_equal(j.lease_owner, "srv-a");
    assert_int_equal(j.lease_until, j0.lease_until);
    assert_false(j.has_new_key);
    assert_memory_equal(j.anchor_pub, j0.anchor_pub, DS_DRK_PUB_LEN);
    assert_int_equal(j.created_at, j0.created_at);
    /* step 1 (ADD) keeps the slot */
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, DS_ANCHOR_SLOT_KEEP, T0 + 2), DS_OK);
    j = get_job(f, ja);
    assert_int_equal(j.step, 2);
    assert_int_equal(j.old_slot, 2);
    assert_int_equal(j.updated_at, T0 + 2);
    /* step 2 (CONFIRM by the new key) may restate the slot */
    assert_int_equal(ds_job_advance(f->s, ja, 2, 3, 0, T0 + 3), DS_OK);
    j = get_job(f, ja);
    assert_int_equal(j.step, 3);
    assert_int_equal(j.old_slot, 0);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_string_equal(j.lease_owner, "srv-a");

    /* a second anchor job: -1 is a value like the others */
    add_devices(f, 2, 1, "c", DS_DEV_ACTIVE);
    int64_t jb = new_anchor_job(f, 2, 1, ANCHOR_SEED + 1);
    assert_int_equal(ds_job_advance(f->s, jb, 0, 1, 3, T0 + 1), DS_OK);
    assert_int_equal(get_job(f, jb).old_slot, 3);
    assert_int_equal(ds_job_advance(f->s, jb, 1, 2, -1, T0 + 1), DS_OK);
    assert_int_equal(get_job(f, jb).old_slot, -1);
    assert_int_equal(get_job(f, jb).step, 2);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 3: advance refused / nothing written ------------------------------------ */
static void test_advance_refused(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 4, "c", DS_DEV_ACTIVE);
    int64_t ja = new_anchor_job(f, 1, 3, ANCHOR_SEED);
    int64_t jr = new_job(f, 2, 3);
    int64_t ji = new_anchor_job(f, 3, 3, ANCHOR_SEED + 3);
    assert_int_equal(issue(f, ji, "srv-a", ANCHOR_SEED + 3, T0), DS_OK);
    int64_t jc = new_anchor_job(f, 4, 3, ANCHOR_SEED + 4);
    assert_int_equal(ds_job_cancel(f->s, jc, "test", T0), DS_OK);
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 1, T0 + 1), DS_OK);

    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    /* the stored step is 1: a caller that read step 0 (or 2) lost */
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 3, T0 + 5), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "step 1"));
    assert_int_equal(ds_job_advance(f->s, ja, 2, 3, 3, T0 + 5), DS_E_CONFLICT);
    same(f, before, "advance from the wrong step");
    /* one step forward, within 0..3 */
    assert_int_equal(ds_job_advance(f->s, ja, 1, 3, 1, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 1, 1, 1, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 1, 0, 1, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 3, 4, 1, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, UINT32_MAX, 0, 1, T0 + 5), DS_E_ARG);
    /* the slot */
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, 4, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, -3, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, INT32_MIN, T0 + 5), DS_E_ARG);
    /* id, time, store */
    assert_int_equal(ds_job_advance(f->s, 0, 1, 2, 1, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, 1, 0), DS_E_ARG);
    assert_int_equal(ds_job_advance(NULL, ja, 1, 2, 1, T0 + 5), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, 99999, 0, 1, 1, T0 + 5), DS_E_NOT_FOUND);
    /* not an anchor job; not pending (issued, cancelled) */
    assert_int_equal(ds_job_advance(f->s, jr, 0, 1, 1, T0 + 5), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "anchor"));
    assert_int_equal(ds_job_advance(f->s, ji, 0, 1, 1, T0 + 5), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "issued"));
    assert_int_equal(ds_job_advance(f->s, jc, 0, 1, 1, T0 + 5), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "cancelled"));
    same(f, before, "refused advance");
    free(before);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 4: the last step issued and completed / the device row unchanged -------- */
static void test_issue_complete(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 1, "c", DS_DEV_ACTIVE);
    uint8_t id[DS_DEVICE_ID_LEN], key[DS_DRK_PUB_LEN];
    make_id(1, id);
    make_key(ANCHOR_SEED, key);
    /* a device at epoch 1, so that "from_epoch" and "from_epoch + 1" differ from 0 */
    uint8_t k1[DS_DRK_PUB_LEN];
    make_key(5001, k1);
    assert_int_equal(ds_device_set_key(f->s, id, k1, 1), DS_OK);
    ds_device d0, d1;
    assert_int_equal(ds_device_get(f->s, id, &d0), DS_OK);
    long long keys0 = raw_scalar(f, "SELECT count(*) FROM device_keys");

    int64_t ja = new_anchor_job(f, 1, 2, ANCHOR_SEED);
    for (uint32_t s = 0; s < DS_ANCHOR_STEP_LAST; s++)
        assert_int_equal(ds_job_advance(f->s, ja, s, s + 1, s == 0 ? 1 : DS_ANCHOR_SLOT_KEEP, T0 + s), DS_OK);
    uint8_t nonce[DS_NONCE_LEN] = {9}, tbs[DS_DIGEST_LEN] = {8};
    assert_int_equal(ds_job_issue(f->s, ja, "srv-a", 1, key, nonce, tbs, T0 + 10), DS_OK);
    ds_job j = get_job(f, ja);
    assert_int_equal(j.state, DS_JOB_ISSUED);
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.from_epoch, 1);
    assert_memory_equal(j.new_pub, key, sizeof key);
    assert_int_equal(j.step, 3);
    assert_int_equal(j.old_slot, 1);
    /* an issued job does not advance */
    assert_int_equal(ds_job_advance(f->s, ja, 3, 4, 1, T0 + 11), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 2, 3, 1, T0 + 11), DS_E_CONFLICT);

    /* the epoch does not change with the anchor */
    assert_int_equal(ds_job_complete(f->s, ja, key, 2, T0 + 20), DS_E_CONFLICT);
    assert_int_equal(ds_job_complete(f->s, ja, key, 1, T0 + 20), DS_OK);
    j = get_job(f, ja);
    assert_int_equal(j.state, DS_JOB_COMPLETED);
    assert_int_equal(j.step, 3);
    assert_int_equal(j.old_slot, 1);
    assert_string_equal(j.lease_owner, "");
    assert_int_equal(ds_device_get(f->s, id, &d1), DS_OK);
    assert_memory_equal(d1.drk_pub, d0.drk_pub, DS_DRK_PUB_LEN);
    assert_memory_equal(d1.instance_id, d0.instance_id, DS_INSTANCE_ID_LEN);
    assert_int_equal(d1.epoch, d0.epoch);
    assert_int_equal(d1.status, d0.status);
    assert_int_equal(d1.updated_at, d0.updated_at);
    assert_string_equal(d1.status_reason, d0.status_reason);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_keys"), keys0);
    /* repeated: DS_OK, nothing written; a completed job does not advance */
    snap *before = calloc(1, sizeof *before);
    assert_non_null(before);
    take(f, before);
    assert_int_equal(ds_job_complete(f->s, ja, key, 1, T0 + 30), DS_OK);
    assert_int_equal(ds_job_advance(f->s, ja, 3, 4, 1, T0 + 30), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 1, T0 + 30), DS_E_CONFLICT);
    same(f, before, "completed anchor job");
    free(before);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 5: retry starts over at step 0, slot -1; attempts are not steps ---------- */
static void test_retry_resets(void **state)
{
    fx *f = *state;
    add_devices(f, 1, 1, "c", DS_DEV_ACTIVE);
    uint8_t key[DS_DRK_PUB_LEN];
    make_key(ANCHOR_SEED, key);
    int64_t ja = new_anchor_job(f, 1, 2, ANCHOR_SEED);
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 3, T0 + 1), DS_OK);
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, DS_ANCHOR_SLOT_KEEP, T0 + 2), DS_OK);
    assert_int_equal(ds_job_advance(f->s, ja, 2, 3, DS_ANCHOR_SLOT_KEEP, T0 + 3), DS_OK);
    assert_int_equal(get_job(f, ja).attempts, 0); /* three steps, no attempt used */
    assert_int_equal(issue(f, ja, "srv-a", ANCHOR_SEED, T0 + 4), DS_OK);
    assert_int_equal(ds_job_retry(f->s, ja, "receipt lost", T0 + 5), DS_OK);
    ds_job j = get_job(f, ja);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_int_equal(j.step, 0);
    assert_int_equal(j.old_slot, -1);
    assert_int_equal(j.attempts, 1);
    assert_true(j.has_anchor_pub);
    assert_memory_equal(j.anchor_pub, key, sizeof key);
    assert_true(j.has_new_key); /* J6 */
    assert_string_equal(j.error, "receipt lost");
    /* the old position is gone: only step 0 moves */
    assert_int_equal(ds_job_advance(f->s, ja, 3, 4, 1, T0 + 6), DS_E_ARG);
    assert_int_equal(ds_job_advance(f->s, ja, 2, 3, 1, T0 + 6), DS_E_CONFLICT);
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 2, T0 + 6), DS_OK);
    assert_int_equal(get_job(f, ja).old_slot, 2);
    /* the second (last) attempt: retry at max_attempts fails the job, keeping its position */
    assert_int_equal(ds_job_advance(f->s, ja, 1, 2, DS_ANCHOR_SLOT_KEEP, T0 + 7), DS_OK);
    assert_int_equal(ds_job_advance(f->s, ja, 2, 3, DS_ANCHOR_SLOT_KEEP, T0 + 7), DS_OK);
    assert_int_equal(issue(f, ja, "srv-a", ANCHOR_SEED, T0 + 8), DS_OK);
    assert_int_equal(ds_job_retry(f->s, ja, "again", T0 + 9), DS_OK);
    j = get_job(f, ja);
    assert_int_equal(j.state, DS_JOB_FAILED);
    assert_int_equal(j.attempts, 2);
    assert_int_equal(j.step, 3);
    assert_int_equal(j.old_slot, 2);

    /* a root job's retry leaves it at step 0, slot -1 */
    add_devices(f, 2, 1, "c", DS_DEV_ACTIVE);
    int64_t jr = new_job(f, 2, 3);
    assert_int_equal(issue(f, jr, "srv-a", 42, T0), DS_OK);
    assert_int_equal(ds_job_retry(f->s, jr, NULL, T0 + 1), DS_OK);
    j = get_job(f, jr);
    assert_int_equal(j.step, 0);
    assert_int_equal(j.old_slot, -1);
    assert_false(j.has_anchor_pub);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 6: a database at schema version 4 with jobs, migrated to 5 -------------- */
static void reopen_empty(fx *f)
{
    ds_store_close(f->s);
    f->s = NULL;
    if (f->pg) {
        const char *schema = getenv("DROT_PG_SCHEMA");
        char sql[200];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
        raw_exec(f, sql);
    } else {
        static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
        char p[400];
        for (size_t i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
            unlink(p);
        }
    }
    char err[256];
    if (ds_store_open(f->url, &f->s, err, sizeof err) != DS_OK)
        fail_msg("reopen %s: %s", f->url, err);
}

static void test_upgrade_from_v4(void **state)
{
    fx *f = *state;
    const ds_migration *m = f->pg ? ds_migrations_postgres : ds_migrations_sqlite;
    size_t n = f->pg ? ds_migrations_postgres_count : ds_migrations_sqlite_count;
    assert_true(n >= 5);
    assert_int_equal(m[3].version, 4);
    assert_int_equal(m[4].version, 5);
    reopen_empty(f);
    int v = -1;
    assert_int_equal(ds_store_schema_version(f->s, &v), DS_OK);
    assert_int_equal(v, 0);
    raw_exec(f, f->pg ? "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, "
                        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                      : "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
                        "name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    for (size_t i = 0; i < 4; i++) {
        raw_exec(f, m[i].sql);
        char sql[200];
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '%s', 0)",
                 m[i].version, m[i].name);
        raw_exec(f, sql);
    }
    assert_int_equal(ds_store_schema_version(f->s, &v), DS_OK);
    assert_int_equal(v, 4);
    /* version-4 jobs: a pending root job, an open anchor job (no key), a completed one */
    add_devices(f, 1, 3, "c", DS_DEV_ACTIVE);
    raw_exec(f,
             "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, created_at, updated_at) "
             "SELECT device_id, 'rotate-root', 'server', 'pending', 3, 5, 5 FROM devices "
             "WHERE device_id = (SELECT device_id FROM devices ORDER BY device_id LIMIT 1)");
    raw_exec(f,
             "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, lease_owner, "
             "lease_until, created_at, updated_at) SELECT device_id, 'rotate-anchor', 'server', 'pending', "
             "3, 'srv-a', 99, 6, 6 FROM devices WHERE device_id = (SELECT device_id FROM devices ORDER BY "
             "device_id DESC LIMIT 1)");
    raw_exec(f,
             "INSERT INTO rotation_jobs (device_id, kind, mode, state, max_attempts, created_at, updated_at) "
             "SELECT device_id, 'rotate-anchor', 'server', 'completed', 3, 7, 7 FROM devices "
             "WHERE device_id = (SELECT device_id FROM devices ORDER BY device_id DESC LIMIT 1)");

    assert_int_equal(ds_store_migrate(f->s, &v), DS_OK);
    assert_int_equal(v, ds_store_latest_version());
    assert_true(v >= 5);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM schema_migrations WHERE version = 5"), 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM rotation_jobs"), 3);
    int64_t ids[3] = {0};
    for (int i = 0; i < 3; i++) {
        char sql[120];
        snprintf(sql, sizeof sql, "SELECT id FROM rotation_jobs WHERE created_at = %d", 5 + i);
        ids[i] = raw_scalar(f, sql);
    }
    ds_job j = get_job(f, ids[0]);
    assert_int_equal(j.kind, DS_JOB_ROTATE_ROOT);
    assert_int_equal(j.state, DS_JOB_PENDING);
    assert_false(j.has_anchor_pub);
    assert_int_equal(j.step, 0);
    assert_int_equal(j.old_slot, -1);
    /* the open anchor job without a key could never finish: cancelled, lease cleared */
    j = get_job(f, ids[1]);
    assert_int_equal(j.kind, DS_JOB_ROTATE_ANCHOR);
    assert_int_equal(j.state, DS_JOB_CANCELLED);
    assert_false(j.has_anchor_pub);
    assert_string_equal(j.lease_owner, "");
    assert_non_null(strstr(j.error, "005"));
    j = get_job(f, ids[2]);
    assert_int_equal(j.state, DS_JOB_COMPLETED);
    assert_false(j.has_anchor_pub);
    assert_int_equal(j.step, 0);
    assert_int_equal(j.old_slot, -1);
    assert_int_equal(ds_store_check(f->s), DS_OK);

    /* the migrated database works: the device of the cancelled job gets a new anchor job */
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(3, id);
    int64_t ja = new_anchor_job(f, 3, 2, ANCHOR_SEED);
    assert_int_equal(ds_job_advance(f->s, ja, 0, 1, 0, T0), DS_OK);
    assert_int_equal(get_job(f, ja).step, 1);
    assert_int_equal(ds_job_retry(f->s, ids[0], NULL, T0), DS_E_CONFLICT); /* pending, not issued */
    assert_int_equal(ds_store_migrate(f->s, &v), DS_OK);                   /* idempotent */
    assert_int_equal(v, ds_store_latest_version());
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_advance_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_advance_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v4, setup, teardown),
    };
    return cmocka_run_group_tests_name(getenv("DROT_STORE_BACKEND") ? getenv("DROT_STORE_BACKEND") : "jobs",
                                       tests, NULL, NULL);
}
