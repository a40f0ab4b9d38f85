/*
 * test_jobs_shared.c — rotation jobs shared by several servers
 * (server/src/store.h, "rotation jobs" and "campaigns"): claims, campaigns
 * (creation, max_parallel, failure threshold, cancel, done), two-process
 * races on create, issue, claim and anchor advance, and ds_store_check on the
 * job tables.
 * ONE source, run against both backends by CTest
 * (tests/cmake/server_jobs.cmake); the fixture is tests/support/jobs_fixture.h.
 *
 * Races fork two processes, each with its own connection, released at once
 * through a pipe; they walk the rows from opposite ends so both do real work
 * and collide where they meet. Children are killed and reaped in teardown
 * whatever the outcome.
 */
#define _GNU_SOURCE
#include <setjmp.h>
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

#include "jobs_fixture.h"

/* ---- Test 1: claim / lowest ids first, leases respected, campaign filter ----------- */
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

/* ---- Test 2: campaign creation / one job per active device of the class only -------- */
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

/* ---- Test 3: max_parallel / at most N issued, the N+1st waits -------------------- */
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

/* ---- Test 4: fail_threshold, cancel, done / the campaign state machine ------------- */
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

/* ---- Test 5: two processes create jobs for the same 50 devices / one each ------------ */
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

/* ---- Test 6: two processes issue the same 50 jobs / exactly one wins each ----------- */
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

/* ---- Test 7: two processes claim 50 campaign jobs in batches / each claimed once ---- */
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

/* ---- Test 7b: two processes advance the same 50 anchor jobs / exactly one wins each ---- */
static void advance_child(ds_store *s, int who, char res[RACE_N])
{
    for (int j = 0; j < RACE_N; j++) {
        int i = who ? RACE_N - 1 - j : j;
        /* each process names its own slot, so the stored one shows who won */
        res[i] = outcome(s, ds_job_advance(s, g_ids[i], 0, 1, who ? 3 : 1, T0 + 1 + who), DS_E_CONFLICT);
        nap();
    }
}

static void test_race_advance(void **state)
{
    fx *f = *state;
    add_devices(f, 1, RACE_N, "race", DS_DEV_ACTIVE);
    for (int i = 0; i < RACE_N; i++)
        g_ids[i] = new_anchor_job(f, 1 + (uint32_t)i, 3, 20000 + (uint32_t)i);
    char res[2][RACE_N];
    race(f, advance_child, res);
    int won[2] = {0, 0};
    for (int i = 0; i < RACE_N; i++) {
        assert_true(res[0][i] != 'E' && res[1][i] != 'E');
        int n = (res[0][i] == '1') + (res[1][i] == '1');
        if (n != 1)
            fail_msg("job %d advanced %d times", i, n);
        int who = res[1][i] == '1';
        won[who]++;
        ds_job j = get_job(f, g_ids[i]);
        assert_int_equal(j.step, 1);
        assert_int_equal(j.old_slot, who ? 3 : 1); /* the winner's write, whole */
        assert_int_equal(j.updated_at, T0 + 1 + who);
        assert_int_equal(j.state, DS_JOB_PENDING);
        assert_int_equal(j.attempts, 0);
    }
    printf("# advance race: process A %d, process B %d of %d\n", won[0], won[1], RACE_N);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 8: ds_store_check sees a broken job invariant --------------------------- */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_max_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign_threshold_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_advance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_detects, setup, teardown),
    };
    return cmocka_run_group_tests_name(getenv("DROT_STORE_BACKEND") ? getenv("DROT_STORE_BACKEND") : "jobs",
                                       tests, NULL, NULL);
}
