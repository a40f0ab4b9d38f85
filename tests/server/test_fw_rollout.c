/*
 * test_fw_rollout.c — staged firmware rollouts and per-device firmware jobs
 * (server/src/firmware.h, invariants F1-F6), on SQLite and PostgreSQL
 * (tests/cmake/firmware_store.cmake runs it on both).
 *
 *   1. start: jobs for the enrolled and active devices of the class that do
 *      not run the release (a PASS token showing its digest skips a device,
 *      a FAIL token does not; quarantined and other classes are left out);
 *      the plan lists the same devices; ensure again keeps the rollout and
 *      adds a device registered since; nothing needed writes nothing;
 *      refusals write nothing
 *   2. offers never exceed max_in_flight (F1); an offered job is offered
 *      again as it is; a failure sends it back to pending and frees its slot
 *   3. a job in flight past its deadline is retried when another device
 *      claims, and fails at max_attempts
 *   4. every report against every job state; confirmed only with the
 *      evidence of F6; the rollout is done when its last job ends
 *   5. a device whose fresh PASS already shows the release is offered its
 *      job all the same (it may run it on a trial only its agent confirms);
 *      an APM release by another authority than the one whose image the
 *      device runs is failed at the claim (F9)
 *   6. one job in flight per device (F2) across two components' rollouts
 *   7. pause, resume, cancel, and the transitions refused
 *   8. a rollout of another release supersedes the open one
 *   9. four processes claiming at once for the 20 devices of a rollout with
 *      one slot offer exactly one job (eight trials); four processes
 *      starting the same rollout at once make one rollout and one job per
 *      device
 *  10. fw_store_check finds a rollout over its limit made behind its back
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
#include <unistd.h>

#include <cmocka.h>

#include "fw_fixture.h"

#define ACTOR "operator:test"

static uint8_t D_OLD[32] = {0xaa, 0xbb}; /* what the devices run before */

static fw_rollout_result start(fx *f, const char *cls, const char *comp, const char *ver,
                               uint32_t max_in_flight, uint32_t attempts, uint32_t timeout)
{
    fw_rollout_params p = {cls, comp, ver, max_in_flight, attempts, timeout};
    fw_rollout_result res;
    if (fw_rollout_start(f->s, &p, ACTOR, T0, &res) != DS_OK)
        fail_msg("rollout start: %s", ds_store_error(f->s));
    return res;
}

/* The attestation step for device dev whose fresh PASS shows comp as digest. */
static bool offer(fx *f, uint32_t dev, const char *comp, const uint8_t *digest, int64_t now, fw_job *j)
{
    uint8_t id[16], tok[2048];
    make_id(dev, id);
    size_t len = fwx_token(comp, digest != NULL ? digest : D_OLD, "1.0", tok, sizeof tok);
    fw_release rel;
    bool found = false;
    fw_job tmp;
    if (j == NULL)
        j = &tmp;
    if (fw_job_offer(f->s, id, tok, len, now, j, &rel, &found) != DS_OK)
        fail_msg("offer: %s", ds_store_error(f->s));
    if (found)
        assert_int_equal(rel.id, j->release_id);
    return found;
}

static ds_status report(fx *f, uint32_t dev, int64_t job, fw_job_state st, int64_t now, fw_job *out)
{
    uint8_t id[16];
    make_id(dev, id);
    fw_job tmp;
    return fw_job_report(f->s, id, job, st, "test reason", now, out != NULL ? out : &tmp);
}

static fw_rollout rollout(fx *f, int64_t id)
{
    fw_rollout r;
    if (fw_rollout_get(f->s, id, &r) != DS_OK)
        fail_msg("rollout get: %s", ds_store_error(f->s));
    return r;
}

static int take_one(const fw_job *x, void *ctx)
{
    *(fw_job *)ctx = *x;
    return 1;
}

static fw_job job_of(fx *f, uint32_t dev, int64_t rollout_id)
{
    uint8_t id[16];
    make_id(dev, id);
    fw_job_filter flt = {id, rollout_id, FW_JOB_ANY, 0};
    fw_job j;
    memset(&j, 0, sizeof j);
    assert_int_equal(fw_job_list(f->s, &flt, take_one, &j), DS_OK);
    assert_true(j.id > 0);
    return j;
}

typedef struct plan_seen {
    uint8_t ids[16][16];
    char ver[16][80];
    size_t n;
} plan_seen;

static void plan_cb(const uint8_t id[16], const char *ver, void *ctx)
{
    plan_seen *p = ctx;
    memcpy(p->ids[p->n], id, 16);
    snprintf(p->ver[p->n], sizeof p->ver[0], "%s", ver);
    p->n++;
}

/* Test 1. */
static void test_start_and_plan(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "HOST-OS", "1.1", 1, 1, 1000, d);
    add_devices(f, 1, 4, "gw", DS_DEV_ACTIVE);
    add_devices(f, 5, 1, "gw", DS_DEV_ENROLLED);
    add_devices(f, 6, 1, "gw", DS_DEV_QUARANTINED);
    add_devices(f, 7, 1, "other", DS_DEV_ACTIVE);
    fwx_attest(f, 2, DS_RESULT_PASS, "HOST-OS", d, "1.1", T0);     /* runs it */
    fwx_attest(f, 3, DS_RESULT_FAIL, "HOST-OS", d, "1.1", T0);     /* says so, unverified */
    fwx_attest(f, 4, DS_RESULT_PASS, "HOST-OS", D_OLD, "1.0", T0); /* runs 1.0 */
    fwx_attest(f, 7, DS_RESULT_PASS, "HOST-OS", d, "1.1", T0);

    plan_seen p = {.n = 0};
    assert_int_equal(fw_rollout_plan(f->s, "gw", "HOST-OS", "1.1", plan_cb, &p), DS_OK);
    assert_int_equal(p.n, 4);
    uint8_t id4[16];
    make_id(4, id4);
    bool saw4 = false;
    for (size_t i = 0; i < p.n; i++)
        if (memcmp(p.ids[i], id4, 16) == 0) {
            saw4 = true;
            assert_string_equal(p.ver[i], "1.0");
        }
    assert_true(saw4);
    assert_int_equal(fwx_rows(f, "firmware_rollouts"), 0); /* the plan writes nothing */

    fw_rollout_result res = start(f, "gw", "HOST-OS", "1.1", 2, 0, 0);
    assert_true(res.created);
    assert_int_equal(res.jobs_created, 4);
    assert_int_equal(res.superseded, 0);
    fw_rollout r = rollout(f, res.rollout_id);
    assert_int_equal(r.state, FW_ROLLOUT_RUNNING);
    assert_int_equal(r.n_pending, 4);
    assert_int_equal(r.max_attempts, 3);
    assert_int_equal(r.job_timeout, 3600);
    assert_string_equal(r.version, "1.1");
    assert_string_equal(r.created_by, ACTOR);

    /* ensure again: kept, nothing new; then a new device joins */
    int64_t id = 0;
    char err[200];
    assert_int_equal(fw_rollout_ensure(f->s, "gw", "HOST-OS", "1.1", 2, "policy:gw@1", &id, err, sizeof err),
                     DS_OK);
    assert_int_equal(id, res.rollout_id);
    assert_int_equal(fwx_rows(f, "firmware_jobs"), 4);
    add_devices(f, 8, 1, "gw", DS_DEV_ACTIVE);
    fw_rollout_result again = start(f, "gw", "HOST-OS", "1.1", 9, 0, 0);
    assert_false(again.created);
    assert_int_equal(again.rollout_id, res.rollout_id);
    assert_int_equal(again.jobs_created, 1);
    assert_int_equal(rollout(f, res.rollout_id).max_in_flight, 2); /* parameters unchanged */

    /* every device of "other" runs it: nothing written */
    fw_rollout_result none = start(f, "other", "HOST-OS", "1.1", 1, 0, 0);
    assert_int_equal(none.rollout_id, 0);
    assert_int_equal(fwx_rows(f, "firmware_rollouts"), 1);

    /* refusals */
    assert_int_equal(fw_rollout_ensure(f->s, "gw", "HOST-OS", "9.9", 2, ACTOR, &id, err, sizeof err),
                     DS_E_NOT_FOUND);
    assert_non_null(strstr(err, "no published release"));
    assert_int_equal(id, 0);
    fw_rollout_params bad[] = {{"g w", "HOST-OS", "1.1", 1, 0, 0},
                               {"gw", "", "1.1", 1, 0, 0},
                               {"gw", "HOST-OS", "1.1", 0, 0, 0},
                               {"gw", "HOST-OS", "1.1", 1, 21, 0},
                               {"gw", "HOST-OS", "1.1", 1, 0, 8 * 86400}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fw_rollout_start(f->s, &bad[i], ACTOR, T0, &res), DS_E_ARG);
    fw_rollout_params ok = {"gw", "HOST-OS", "1.1", 1, 0, 0};
    assert_int_equal(fw_rollout_start(f->s, &ok, "", T0, &res), DS_E_ARG);
    assert_int_equal(fwx_rows(f, "firmware_rollouts"), 1);
    assert_int_equal(fwx_rows(f, "firmware_jobs"), 5);
    assert_int_equal(fw_store_check(f->s), DS_OK);
    assert_int_equal(fwx_audited(f, "firmware.rollout_start", ACTOR), 1);
    assert_int_equal(fwx_audited(f, "firmware.rollout_extend", ACTOR), 1); /* device 8 joining */
    fwx_audit_ok(f);
}

/* Test 2. */
static void test_max_in_flight(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.1", 1, 2, 500, d);
    add_devices(f, 1, 4, "gw", DS_DEV_ACTIVE);
    int64_t rid = start(f, "gw", "APM", "1.1", 2, 3, 100).rollout_id;
    fw_job j1, j2, j3, again;
    assert_true(offer(f, 1, "APM", NULL, T0, &j1));
    assert_int_equal(j1.state, FW_JOB_OFFERED);
    assert_int_equal(j1.attempts, 1);
    assert_int_equal(j1.deadline, T0 + 100);
    assert_true(offer(f, 1, "APM", NULL, T0 + 1, &again)); /* the same job, as it is */
    assert_int_equal(again.id, j1.id);
    assert_int_equal(again.attempts, 1);
    assert_true(offer(f, 2, "APM", NULL, T0, &j2));
    assert_false(offer(f, 3, "APM", NULL, T0, NULL)); /* F1: both slots taken */
    fw_rollout r = rollout(f, rid);
    assert_int_equal(r.n_offered, 2);
    assert_int_equal(r.n_pending, 2);
    assert_int_equal(fw_store_check(f->s), DS_OK);
    /* a failure frees the slot; the job waits for another attempt */
    fw_job after;
    assert_int_equal(report(f, 1, j1.id, FW_JOB_FAILED, T0 + 2, &after), DS_OK);
    assert_int_equal(after.state, FW_JOB_PENDING);
    assert_int_equal(after.attempts, 1);
    assert_non_null(strstr(after.error, "test reason"));
    assert_true(offer(f, 3, "APM", NULL, T0 + 3, &j3));
    assert_false(offer(f, 1, "APM", NULL, T0 + 4, NULL));
    assert_int_equal(report(f, 2, j2.id, FW_JOB_INSTALLED, T0 + 5, &after), DS_OK);
    assert_int_equal(after.state, FW_JOB_INSTALLED);
    assert_int_equal(after.deadline, T0 + 105);
    assert_false(offer(f, 4, "APM", NULL, T0 + 6, NULL)); /* installed holds its slot too */
    /* three offers (the repeat is no change), one failure, one installed */
    assert_int_equal(fwx_audited(f, "firmware.job_offer", NULL), 3);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log WHERE action = 'firmware.job_report' AND "
                                   "actor LIKE 'device:%' AND subject LIKE 'fw-job:%'"),
                     2);
    r = rollout(f, rid);
    assert_int_equal(r.n_offered + r.n_installed, 2);
    assert_int_equal(fw_store_check(f->s), DS_OK);
}

/* Test 3. */
static void test_deadline_and_attempts(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.1", 1, 3, 500, d);
    add_devices(f, 1, 2, "gw", DS_DEV_ACTIVE);
    int64_t rid = start(f, "gw", "APM", "1.1", 1, 2, 60).rollout_id;
    fw_job j;
    assert_true(offer(f, 1, "APM", NULL, T0, &j));
    assert_false(offer(f, 2, "APM", NULL, T0 + 60, NULL)); /* at the deadline: still in time */
    assert_true(offer(f, 2, "APM", NULL, T0 + 61, NULL));  /* device 1 stayed silent */
    fw_job j1 = job_of(f, 1, rid);
    assert_int_equal(j1.state, FW_JOB_PENDING);
    assert_non_null(strstr(j1.error, "no progress"));
    assert_int_equal(j1.deadline, 0);
    /* device 2 fails twice: failed for good at max_attempts (2) */
    fw_job j2 = job_of(f, 2, rid), after;
    assert_int_equal(report(f, 2, j2.id, FW_JOB_FAILED, T0 + 62, &after), DS_OK);
    assert_int_equal(after.state, FW_JOB_PENDING);
    assert_true(offer(f, 2, "APM", NULL, T0 + 63, &after));
    assert_int_equal(after.attempts, 2);
    assert_int_equal(report(f, 2, j2.id, FW_JOB_FAILED, T0 + 64, &after), DS_OK);
    assert_int_equal(after.state, FW_JOB_FAILED);
    assert_false(offer(f, 2, "APM", NULL, T0 + 65, NULL));
    /* its slot is free again for device 1, whose second attempt then times out too */
    assert_true(offer(f, 1, "APM", NULL, T0 + 66, &after));
    assert_int_equal(after.attempts, 2);
    size_t n = 0;
    assert_int_equal(fw_job_expire(f->s, T0 + 66 + 61, &n), DS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(job_of(f, 1, rid).state, FW_JOB_FAILED);
    fw_rollout r = rollout(f, rid);
    assert_int_equal(r.state, FW_ROLLOUT_DONE); /* every job has ended */
    assert_int_equal(r.n_failed, 2);
    assert_int_equal(fwx_audited(f, "firmware.job_timeout", "server"), 2);
    assert_int_equal(fwx_audited(f, "firmware.rollout_done", "server"), 1);
    fwx_audit_ok(f);
    assert_int_equal(fw_store_check(f->s), DS_OK);
}

/* Test 4. */
static void test_reports(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "HOST-OS", "2.0", 1, 4, 700, d);
    add_devices(f, 1, 3, "gw", DS_DEV_ACTIVE);
    int64_t rid = start(f, "gw", "HOST-OS", "2.0", 3, 3, 100).rollout_id;
    fw_job j1 = job_of(f, 1, rid), out;
    /* pending: nothing to report yet */
    for (fw_job_state s = FW_JOB_INSTALLED; s <= FW_JOB_FAILED; s++)
        assert_int_equal(report(f, 1, j1.id, s, T0, NULL), DS_E_CONFLICT);
    assert_true(offer(f, 1, "HOST-OS", NULL, T0, NULL));
    /* not the device's job, no such job, bad arguments */
    assert_int_equal(report(f, 2, j1.id, FW_JOB_INSTALLED, T0, NULL), DS_E_NOT_FOUND);
    assert_int_equal(report(f, 1, j1.id + 1000, FW_JOB_INSTALLED, T0, NULL), DS_E_NOT_FOUND);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_PENDING, T0, NULL), DS_E_ARG);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CANCELLED, T0, NULL), DS_E_ARG);
    uint8_t id1[16];
    make_id(1, id1);
    char longr[300];
    memset(longr, 'x', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    assert_int_equal(fw_job_report(f->s, id1, j1.id, FW_JOB_FAILED, longr, T0, &out), DS_E_ARG);
    assert_int_equal(job_of(f, 1, rid).state, FW_JOB_OFFERED);
    /* confirmed needs F6's evidence */
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CONFIRMED, T0, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "missing"));
    fwx_attest(f, 1, DS_RESULT_PASS, "HOST-OS", D_OLD, "1.0", T0 + 1);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CONFIRMED, T0 + 2, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "not the release's"));
    fwx_attest(f, 1, DS_RESULT_PASS, "APM", D_OLD, "1.0", T0 + 1);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CONFIRMED, T0 + 2, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "no HOST-OS measurement"));
    fwx_attest(f, 1, DS_RESULT_FAIL, "HOST-OS", d, "2.0", T0 + 2);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CONFIRMED, T0 + 3, NULL), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "is FAIL"));
    assert_int_equal(job_of(f, 1, rid).state, FW_JOB_OFFERED);
    /* installed, again (no-op), then confirmed with the evidence, again (no-op) */
    assert_int_equal(report(f, 1, j1.id, FW_JOB_INSTALLED, T0 + 4, &out), DS_OK);
    assert_int_equal(out.installed_at, T0 + 4);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_INSTALLED, T0 + 5, &out), DS_OK);
    assert_int_equal(out.installed_at, T0 + 4);
    fwx_attest(f, 1, DS_RESULT_PASS, "HOST-OS", d, "2.0", T0 + 6);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CONFIRMED, T0 + 7, &out), DS_OK);
    assert_int_equal(out.state, FW_JOB_CONFIRMED);
    assert_int_equal(out.deadline, 0);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_CONFIRMED, T0 + 8, &out), DS_OK);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_INSTALLED, T0 + 8, NULL), DS_E_CONFLICT);
    assert_int_equal(report(f, 1, j1.id, FW_JOB_FAILED, T0 + 8, NULL), DS_E_CONFLICT);
    /* offered straight to confirmed (the installed report was lost) */
    fw_job j2;
    assert_true(offer(f, 2, "HOST-OS", NULL, T0 + 9, &j2));
    fwx_attest(f, 2, DS_RESULT_PASS, "HOST-OS", d, "2.0", T0 + 10);
    assert_int_equal(report(f, 2, j2.id, FW_JOB_CONFIRMED, T0 + 11, NULL), DS_OK);
    assert_int_equal(rollout(f, rid).state, FW_ROLLOUT_RUNNING);
    /* the last job: installed then failed for good → done */
    fw_job j3;
    assert_true(offer(f, 3, "HOST-OS", NULL, T0 + 12, &j3));
    for (int k = 0; k < 3; k++) {
        if (k > 0)
            assert_true(offer(f, 3, "HOST-OS", NULL, T0 + 13 + k, &j3));
        assert_int_equal(report(f, 3, j3.id, FW_JOB_INSTALLED, T0 + 13 + k, NULL), DS_OK);
        assert_int_equal(report(f, 3, j3.id, FW_JOB_FAILED, T0 + 13 + k, &out), DS_OK);
    }
    assert_int_equal(out.state, FW_JOB_FAILED);
    assert_int_equal(out.attempts, 3);
    fw_rollout r = rollout(f, rid);
    assert_int_equal(r.state, FW_ROLLOUT_DONE);
    assert_int_equal(r.n_confirmed, 2);
    assert_int_equal(r.n_failed, 1);
    assert_int_equal(fw_store_check(f->s), DS_OK);
}

/* Test 5. */
static void test_already_running(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.2", 1, 5, 300, d);
    add_devices(f, 1, 2, "gw", DS_DEV_ACTIVE);
    int64_t rid = start(f, "gw", "APM", "1.2", 1, 0, 0).rollout_id;
    /* its fresh PASS shows 1.2, perhaps on an unconfirmed trial: offered all
     * the same, so that its agent confirms it; the report completes it */
    fw_job j;
    assert_true(offer(f, 1, "APM", d, T0, &j));
    assert_int_equal(j.state, FW_JOB_OFFERED);
    fwx_attest(f, 1, DS_RESULT_PASS, "APM", d, "1.2", T0);
    assert_int_equal(report(f, 1, j.id, FW_JOB_CONFIRMED, T0 + 1, NULL), DS_OK);
    assert_int_equal(job_of(f, 1, rid).state, FW_JOB_CONFIRMED);
    assert_true(offer(f, 2, "APM", NULL, T0 + 2, NULL)); /* the slot is free again */
}

/* Test 5b: F9, an APM image by another authority than the one the device
 * runs is not offered: the job fails at the claim, with why. */
static void test_other_signer(void **state)
{
    fx *f = *state;
    uint8_t d[32], other[32], id[16], tok[2048];
    fwx_release(f, "APM", "1.5", 1, 14, 300, d);
    fwx_release(f, "HOST-OS", "1.5", 1, 15, 300, d);
    add_devices(f, 1, 1, "gw", DS_DEV_ACTIVE);
    int64_t ra = start(f, "gw", "APM", "1.5", 1, 0, 0).rollout_id;
    fwx_other_authority(other);
    make_id(1, id);
    size_t len = fwx_token_signer("HOST-OS", D_OLD, "1.0", other, tok, sizeof tok);
    fw_job j;
    fw_release rel;
    bool found = true;
    assert_int_equal(fw_job_offer(f->s, id, tok, len, T0, &j, &rel, &found), DS_OK);
    assert_false(found);
    fw_job ja = job_of(f, 1, ra);
    assert_int_equal(ja.state, FW_JOB_FAILED);
    assert_non_null(strstr(ja.error, "sealing key"));
    assert_int_equal(ja.attempts, 0);
    assert_int_equal(rollout(f, ra).state, FW_ROLLOUT_DONE);
    assert_int_equal(fwx_audited(f, "firmware.job_refused", "server"), 1);
    /* a host stage does not depend on the APM's signer */
    int64_t rh = start(f, "gw", "HOST-OS", "1.5", 1, 0, 0).rollout_id;
    assert_int_equal(fw_job_offer(f->s, id, tok, len, T0, &j, &rel, &found), DS_OK);
    assert_true(found);
    assert_int_equal(j.rollout_id, rh);
}

/* Test 6. */
static void test_one_in_flight_per_device(void **state)
{
    fx *f = *state;
    uint8_t da[32], dh[32];
    fwx_release(f, "APM", "1.1", 1, 6, 300, da);
    fwx_release(f, "HOST-OS", "1.1", 1, 7, 300, dh);
    add_devices(f, 1, 1, "gw", DS_DEV_ACTIVE);
    int64_t ra = start(f, "gw", "APM", "1.1", 5, 0, 0).rollout_id;
    int64_t rh = start(f, "gw", "HOST-OS", "1.1", 5, 0, 0).rollout_id;
    fw_job j;
    assert_true(offer(f, 1, NULL, NULL, T0, &j));
    assert_int_equal(j.rollout_id, ra);
    assert_true(offer(f, 1, NULL, NULL, T0 + 1, &j)); /* the same, not the HOST-OS one */
    assert_int_equal(j.rollout_id, ra);
    assert_int_equal(job_of(f, 1, rh).state, FW_JOB_PENDING);
    fwx_attest(f, 1, DS_RESULT_PASS, "APM", da, "1.1", T0 + 2);
    assert_int_equal(report(f, 1, j.id, FW_JOB_CONFIRMED, T0 + 3, NULL), DS_OK);
    assert_true(offer(f, 1, "APM", da, T0 + 4, &j));
    assert_int_equal(j.rollout_id, rh);
    assert_int_equal(fw_store_check(f->s), DS_OK);
}

/* Test 7. */
static void test_pause_resume_cancel(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.1", 1, 8, 300, d);
    add_devices(f, 1, 3, "gw", DS_DEV_ACTIVE);
    int64_t rid = start(f, "gw", "APM", "1.1", 3, 0, 0).rollout_id;
    fw_job j1;
    assert_true(offer(f, 1, "APM", NULL, T0, &j1));
    fw_rollout r;
    assert_int_equal(
        fw_rollout_set_state(f->s, rid, FW_ROLLOUT_PAUSED, "maintenance window over", ACTOR, T0, &r), DS_OK);
    assert_int_equal(r.state, FW_ROLLOUT_PAUSED);
    assert_string_equal(r.state_reason, "maintenance window over");
    assert_int_equal(fw_rollout_set_state(f->s, rid, FW_ROLLOUT_PAUSED, NULL, ACTOR, T0, &r),
                     DS_OK); /* no-op */
    assert_false(offer(f, 2, "APM", NULL, T0, NULL));
    assert_true(offer(f, 1, "APM", NULL, T0, NULL)); /* the offered job goes on */
    assert_int_equal(fw_rollout_set_state(f->s, rid, FW_ROLLOUT_RUNNING, "go", ACTOR, T0, &r), DS_OK);
    assert_true(offer(f, 2, "APM", NULL, T0, NULL));
    assert_int_equal(fw_rollout_set_state(f->s, rid, FW_ROLLOUT_DONE, NULL, ACTOR, T0, &r), DS_E_CONFLICT);
    assert_int_equal(fw_rollout_set_state(f->s, rid, FW_ROLLOUT_CANCELLED, "bad release", ACTOR, T0, &r),
                     DS_OK);
    assert_int_equal(r.n_cancelled, 1); /* device 3's pending job */
    assert_int_equal(r.n_offered, 2);   /* offered ones finish */
    assert_int_equal(fw_rollout_set_state(f->s, rid, FW_ROLLOUT_RUNNING, NULL, ACTOR, T0, &r), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "it has ended"));
    assert_int_equal(fw_rollout_set_state(f->s, rid, FW_ROLLOUT_ANY, NULL, ACTOR, T0, &r), DS_E_ARG);
    assert_int_equal(fw_rollout_set_state(f->s, rid + 9, FW_ROLLOUT_PAUSED, NULL, ACTOR, T0, &r),
                     DS_E_NOT_FOUND);
    /* a failure in a cancelled rollout does not come back as pending */
    fw_job out;
    assert_int_equal(report(f, 1, j1.id, FW_JOB_FAILED, T0 + 1, &out), DS_OK);
    assert_int_equal(out.state, FW_JOB_CANCELLED);
    assert_int_equal(rollout(f, rid).state, FW_ROLLOUT_CANCELLED);
    /* pause (and its no-op repeat: no entry), resume, cancel; the refusals none */
    assert_int_equal(fwx_audited(f, "firmware.rollout_state", ACTOR), 3);
    fwx_audit_ok(f);
}

/* Test 8. */
static void test_supersede(void **state)
{
    fx *f = *state;
    uint8_t d1[32], d2[32];
    fwx_release(f, "APM", "1.1", 1, 9, 300, d1);
    fwx_release(f, "APM", "1.2", 2, 10, 300, d2);
    add_devices(f, 1, 2, "gw", DS_DEV_ACTIVE);
    int64_t a = start(f, "gw", "APM", "1.1", 1, 0, 0).rollout_id;
    fw_job ja;
    assert_true(offer(f, 1, "APM", NULL, T0, &ja));
    int64_t id = 0;
    char err[200];
    assert_int_equal(fw_rollout_ensure(f->s, "gw", "APM", "1.2", 1, "policy:gw@2", &id, err, sizeof err),
                     DS_OK);
    assert_true(id != a);
    fw_rollout ra = rollout(f, a), rb = rollout(f, id);
    assert_int_equal(ra.state, FW_ROLLOUT_CANCELLED);
    assert_non_null(strstr(ra.state_reason, "superseded by a rollout of APM 1.2"));
    assert_int_equal(fwx_audited(f, "firmware.rollout_state", "policy:gw@2"), 1);
    assert_int_equal(fwx_audited(f, "firmware.rollout_start", "policy:gw@2"), 1);
    assert_int_equal(ra.n_cancelled, 1);
    assert_int_equal(ra.n_offered, 1);
    assert_int_equal(rb.state, FW_ROLLOUT_RUNNING);
    assert_int_equal(rb.n_pending, 2);
    fw_job j;
    assert_true(offer(f, 1, "APM", NULL, T0 + 1, &j)); /* its 1.1 job first (F2) */
    assert_int_equal(j.id, ja.id);
    assert_true(offer(f, 2, "APM", NULL, T0 + 1, &j));
    assert_int_equal(j.rollout_id, id);
    assert_int_equal(fw_store_check(f->s), DS_OK);
}

/* Test 9. Children open their own store and wait at a barrier (a pipe the
 * parent closes), so that their first claims overlap; each exits with the
 * number of its devices that were offered a job. */
#define RACE_KIDS    4
#define RACE_PER_KID 5
#define RACE_TRIALS  8

static void barrier_wait(int fd)
{
    char c;
    while (read(fd, &c, 1) > 0) {
    }
    close(fd);
}

static int child_offers(uint32_t first, const char *url, int barrier)
{
    ds_store *s = NULL;
    char err[256];
    if (ds_store_open(url, &s, err, sizeof err) != DS_OK)
        _exit(250);
    uint8_t tok[2048];
    size_t len = fwx_token("APM", D_OLD, "1.0", tok, sizeof tok);
    bool got[RACE_PER_KID] = {false};
    barrier_wait(barrier);
    for (uint32_t round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < RACE_PER_KID; i++) {
            uint8_t id[16];
            make_id(first + i, id);
            fw_job j;
            fw_release rel;
            bool found = false;
            ds_status st = fw_job_offer(s, id, tok, len, T0, &j, &rel, &found);
            if (st == DS_E_BUSY)
                continue;
            if (st != DS_OK)
                _exit(251);
            got[i] = got[i] || found;
        }
    }
    ds_store_close(s);
    int made = 0;
    for (uint32_t i = 0; i < RACE_PER_KID; i++)
        made += got[i];
    return made;
}

static int child_start(const char *url, int barrier)
{
    ds_store *s = NULL;
    char err[256];
    if (ds_store_open(url, &s, err, sizeof err) != DS_OK)
        _exit(250);
    barrier_wait(barrier);
    int64_t id = 0;
    ds_status st;
    do
        st = fw_rollout_ensure(s, "race", "HOST-OS", "3.0", 2, ACTOR, &id, err, sizeof err);
    while (st == DS_E_BUSY);
    ds_store_close(s);
    return st == DS_OK && id > 0 ? 0 : 1;
}

/* Forks n children running fn(k), releases them together; the sum of
 * their exit statuses (each must be below 250). */
static int race(fx *f, int n, int (*fn)(fx *f, int k, int barrier))
{
    pid_t kids[RACE_KIDS];
    int p[2];
    assert_int_equal(pipe(p), 0);
    for (int k = 0; k < n; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            close(p[1]);
            _exit(fn(f, k, p[0]));
        }
        if (k < 2)
            f->kids[k] = kids[k]; /* killed by teardown if an assertion fails */
    }
    close(p[0]);
    close(p[1]); /* go */
    int total = 0;
    for (int k = 0; k < n; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        if (k < 2)
            f->kids[k] = 0;
        assert_true(WIFEXITED(status));
        assert_true(WEXITSTATUS(status) < 250);
        total += WEXITSTATUS(status);
    }
    return total;
}

static int trial_base;

static int offers_kid(fx *f, int k, int barrier)
{
    return child_offers((uint32_t)trial_base + (uint32_t)k * RACE_PER_KID, f->url, barrier);
}

static int start_kid(fx *f, int k, int barrier)
{
    (void)k;
    return child_start(f->url, barrier);
}

static void test_races(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.1", 1, 11, 300, d);
    /* Each trial: its own class of 20 devices and a rollout with ONE slot;
     * four processes claim for them at once. */
    for (int t = 0; t < RACE_TRIALS; t++) {
        char cls[16];
        snprintf(cls, sizeof cls, "race-%d", t);
        trial_base = 1000 + 100 * t;
        add_devices(f, (uint32_t)trial_base, RACE_KIDS * RACE_PER_KID, cls, DS_DEV_ACTIVE);
        int64_t rid = start(f, cls, "APM", "1.1", 1, 0, 0).rollout_id;
        int total = race(f, RACE_KIDS, offers_kid);
        fw_rollout r = rollout(f, rid);
        if (total != 1 || r.n_offered != 1)
            fail_msg("trial %d: %d devices were offered a job, %llu jobs offered: F1 allows one", t, total,
                     (unsigned long long)r.n_offered);
    }
    assert_int_equal(fw_store_check(f->s), DS_OK);

    /* four servers starting the same rollout at once */
    fwx_release(f, "HOST-OS", "3.0", 1, 12, 300, d);
    add_devices(f, 100, 30, "race", DS_DEV_ACTIVE);
    assert_int_equal(race(f, RACE_KIDS, start_kid), 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM firmware_rollouts WHERE class = 'race'"), 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM firmware_jobs j JOIN firmware_rollouts o ON "
                                   "o.id = j.rollout_id WHERE o.class = 'race'"),
                     30);
    assert_int_equal(fw_store_check(f->s), DS_OK);
}

/* Test 10. */
static void test_check_finds_violation(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.1", 1, 13, 300, d);
    add_devices(f, 1, 2, "gw", DS_DEV_ACTIVE);
    start(f, "gw", "APM", "1.1", 1, 0, 0);
    assert_true(offer(f, 1, "APM", NULL, T0, NULL));
    assert_int_equal(fw_store_check(f->s), DS_OK);
    raw_exec(
        f, "UPDATE firmware_jobs SET state = 'offered', attempts = 1, deadline = 1 WHERE state = 'pending'");
    assert_int_equal(fw_store_check(f->s), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "F1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_and_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_and_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_already_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_in_flight_per_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
        cmocka_unit_test_setup_teardown(test_races, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_violation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
