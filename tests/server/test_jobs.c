/*
 * test_jobs.c — one rotation job at a time (server/src/store.h, "rotation
 * jobs"): creation, the state machine step by step, retries, completion with
 * the device key, issue's conditions, leases, bad arguments. ONE source, run
 * against both backends by CTest (tests/cmake/server_jobs.cmake): the
 * fixture is tests/support/jobs_fixture.h. Campaigns, claims and the
 * multi-process races are in test_jobs_shared.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs_fixture.h"

/* ---- Test 1: create, get, open job per device, list, names ------------------------ */
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
    uint8_t anchor_key[DS_DRK_PUB_LEN];
    make_key(4242, anchor_key);
    assert_int_equal(ds_job_create_anchor(f->s, id, anchor_key, 1, 0, T0, NULL), DS_E_EXISTS);
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
    uint8_t anchor[DS_DRK_PUB_LEN];
    make_key(777, anchor);
    int64_t ja = 0;
    assert_int_equal(ds_job_create_anchor(f->s, id, anchor, 1, 0, T0, &ja), DS_OK);
    assert_int_equal(issue(f, ja, "srv-a", 777, T0), DS_OK);
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

/* ---- Test 7: bad arguments / DS_E_ARG, nothing written ---------------------------- */
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
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests_name(getenv("DROT_STORE_BACKEND") ? getenv("DROT_STORE_BACKEND") : "jobs",
                                       tests, NULL, NULL);
}
