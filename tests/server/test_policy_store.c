/*
 * test_policy_store.c — the policy engine's tables (server/src/policy_store.c,
 * migration 007), run by CTest against SQLite and a private PostgreSQL
 * (store_fixture.h). Checks read the database directly where they can.
 *
 *   Test 1: policy versions: stored, read back, listed; a version not above
 *           the live one is refused naming both, and writes nothing
 *   Test 2: two processes applying the same next version at once: one wins
 *   Test 3: FAIL stays failed: a later PASS does not clear it; a clear does,
 *           once; bad clears change nothing
 *   Test 4: staleness: marked once per episode, not for revoked or silent
 *           devices; an attestation ends it; the next silence is episode 2;
 *           an error in the episode's actions rolls the mark back
 *   Test 5: two processes sweeping the same class at once: every stale device's
 *           actions are written exactly once in total
 *   Test 6: actions: dedupe, claim with a lease, finish only by the holder, lists
 *   Test 7: key age: old keys are due; open jobs, a failed rotation of this key
 *           and a fresh key are not
 *   Test 8: the policy's campaign: created once, reused, refused with other settings; it
 *           never has more than max_parallel jobs issued
 *   Test 9: webhook deliveries: back-off, a 2xx ends it for good, max_attempts
 *           fails it, only the lease holder records, every attempt kept
 *   Test 10: a status change inside the attestation's transaction, and its rollback
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

#include "policy_store.h"
#include "sql.h"
#include "store_fixture.h"

static void activate(fx *f, uint32_t n)
{
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(n, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ENROLLED, "enrolled"), DS_OK);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ACTIVE, "active"), DS_OK);
}

static int64_t attest(fx *f, uint32_t n, int64_t at, ds_result r)
{
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(n, id);
    ds_attestation a;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, id, sizeof id);
    a.at = at;
    a.result = r;
    a.reasons = r == DS_RESULT_FAIL ? "tamper: count rose" : "";
    int64_t row = 0;
    assert_int_equal(ds_attestation_record(f->s, &a, &row), DS_OK);
    return row;
}

/* ---- Test 1 ---------------------------------------------------------------------------- */

static int count_rows(const ds_pol_row *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static int first_row(const ds_pol_row *r, void *ctx)
{
    *(ds_pol_row *)ctx = *r;
    return 1;
}

static void test_versions(void **state)
{
    fx *f = *state;
    int64_t v = -1;
    assert_int_equal(ds_pol_live_version(f->s, "sim-v1", &v), DS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 1, "{\"v\":1}", "operator:admin", 100), DS_OK);
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 3, "{\"v\":3}", "operator:admin", 200), DS_OK);
    assert_int_equal(ds_pol_put(f->s, "sim-v2", 7, "{\"w\":7}", "operator:other", 300), DS_OK);
    /* not above the live version: refused, both named, nothing written */
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 3, "{\"again\":3}", "operator:admin", 400), DS_E_CONFLICT);
    assert_non_null(
        strstr(ds_store_error(f->s), "version 3 of class sim-v1 is not above the live version 3"));
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 2, "{\"v\":2}", "operator:admin", 400), DS_E_CONFLICT);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policies WHERE class = 'sim-v1'"), 2);
    assert_int_equal(ds_pol_live_version(f->s, "sim-v1", &v), DS_OK);
    assert_int_equal(v, 3);

    ds_pol_row r;
    assert_int_equal(ds_pol_get(f->s, "sim-v1", 0, &r), DS_OK);
    assert_int_equal(r.version, 3);
    assert_string_equal(r.document, "{\"v\":3}");
    assert_int_equal(r.applied_at, 200);
    assert_string_equal(r.applied_by, "operator:admin");
    ds_pol_row_free(&r);
    assert_int_equal(ds_pol_get(f->s, "sim-v1", 1, &r), DS_OK);
    assert_string_equal(r.document, "{\"v\":1}");
    ds_pol_row_free(&r);
    assert_int_equal(ds_pol_get(f->s, "sim-v1", 2, &r), DS_E_NOT_FOUND);
    assert_int_equal(ds_pol_get(f->s, "nope", 0, &r), DS_E_NOT_FOUND);

    int n = 0;
    assert_int_equal(ds_pol_list(f->s, NULL, count_rows, &n), DS_OK);
    assert_int_equal(n, 2); /* one row per class */
    memset(&r, 0, sizeof r);
    assert_int_equal(ds_pol_list(f->s, NULL, first_row, &r), DS_OK);
    assert_string_equal(r.class_name, "sim-v1");
    assert_int_equal(r.version, 3);
    assert_int_equal(r.versions, 2);
    assert_null(r.document);
    n = 0;
    assert_int_equal(ds_pol_list(f->s, "sim-v1", count_rows, &n), DS_OK);
    assert_int_equal(n, 2);

    /* bad arguments write nothing */
    assert_int_equal(ds_pol_put(f->s, "bad class", 9, "{}", "x", 1), DS_E_ARG);
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 0, "{}", "x", 1), DS_E_ARG);
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 9, "", "x", 1), DS_E_ARG);
    assert_int_equal(ds_pol_put(f->s, "sim-v1", 9, "{}", "", 1), DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policies"), 3);
}

/* ---- Test 2 ---------------------------------------------------------------------------- */

static void test_version_race(void **state)
{
    fx *f = *state;
    assert_int_equal(ds_pol_put(f->s, "race", 1, "{}", "operator:a", 1), DS_OK);
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < 2; k++) {
            f->kids[k] = fork();
            assert_true(f->kids[k] >= 0);
            if (f->kids[k] == 0) {
                ds_store *s = NULL;
                char err[200], doc[32];
                if (ds_store_open(f->url, &s, err, sizeof err) != DS_OK)
                    _exit(3);
                snprintf(doc, sizeof doc, "{\"by\":%d}", k);
                ds_status st = ds_pol_put(s, "race", round + 2, doc, "operator:racer", 10);
                ds_store_close(s);
                _exit(st == DS_OK ? 0 : st == DS_E_CONFLICT || st == DS_E_EXISTS || st == DS_E_BUSY ? 1 : 2);
            }
        }
        int wins = 0;
        for (int k = 0; k < 2; k++) {
            int st;
            assert_int_equal(waitpid(f->kids[k], &st, 0), f->kids[k]);
            f->kids[k] = 0;
            assert_true(WIFEXITED(st));
            assert_true(WEXITSTATUS(st) <= 1);
            wins += WEXITSTATUS(st) == 0;
        }
        assert_int_equal(wins, 1);
    }
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policies WHERE class = 'race'"), 11);
}

/* ---- Test 3 ---------------------------------------------------------------------------- */

typedef struct in_tx_ctx {
    uint8_t id[DS_DEVICE_ID_LEN];
    bool fail, tamper, was_stale, newly_failed;
    ds_device_status to;
    bool changed;
    ds_status ret;
} in_tx_ctx;

static ds_status note(ds_store *s, const struct ds_attest_outcome *out, void *vctx)
{
    in_tx_ctx *c = vctx;
    ds_status st = ds_pol_note_attestation(s, c->id, out->id, c->fail, c->tamper, "why", 500, &c->was_stale,
                                           &c->newly_failed);
    if (st == DS_OK && c->to != DS_DEV_ANY)
        st = ds_pol_set_status_in_tx(s, c->id, c->to, "policy test", 500, &c->changed);
    return st == DS_OK ? c->ret : st;
}

/* Records an attestation whose transaction runs the policy hook. */
static ds_status attest_hooked(fx *f, uint32_t n, int64_t at, ds_result r, in_tx_ctx *c)
{
    make_id(n, c->id);
    c->fail = r == DS_RESULT_FAIL;
    ds_attestation a;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, c->id, sizeof c->id);
    a.at = at;
    a.result = r;
    a.reasons = "";
    ds_attest_update u;
    memset(&u, 0, sizeof u);
    u.in_tx = note;
    u.in_tx_ctx = c;
    return ds_attestation_record_update(f->s, &a, &u, NULL);
}

static void test_fail_stays_failed(void **state)
{
    fx *f = *state;
    register_n(f, 1, 2, "sim-v1");
    activate(f, 1);
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(1, id);
    ds_pol_devstate d;
    assert_int_equal(ds_pol_device_state(f->s, id, &d), DS_OK);
    assert_false(d.failed);
    assert_false(d.stale);
    assert_string_equal(d.class_name, "sim-v1");
    assert_int_equal(d.status, DS_DEV_ACTIVE);

    in_tx_ctx c = {.to = DS_DEV_ANY, .ret = DS_OK};
    assert_int_equal(attest_hooked(f, 1, 1000, DS_RESULT_FAIL, &c), DS_OK);
    assert_true(c.newly_failed);
    int64_t fail_row = raw_scalar(f, "SELECT max(id) FROM attestations");
    assert_int_equal(ds_pol_device_state(f->s, id, &d), DS_OK);
    assert_true(d.failed);
    assert_int_equal(d.failed_at, 500);
    assert_int_equal(d.failed_attestation_id, fail_row);
    assert_false(d.failed_tamper);
    assert_int_equal(d.last_result, DS_RESULT_FAIL);

    /* a PASS does not clear it */
    assert_int_equal(attest_hooked(f, 1, 1001, DS_RESULT_PASS, &c), DS_OK);
    assert_false(c.newly_failed);
    assert_int_equal(ds_pol_device_state(f->s, id, &d), DS_OK);
    assert_true(d.failed);
    assert_int_equal(d.last_result, DS_RESULT_PASS);
    /* a second FAIL, a tamper one: still the same failure, now tamper */
    c.tamper = true;
    assert_int_equal(attest_hooked(f, 1, 1002, DS_RESULT_FAIL, &c), DS_OK);
    assert_false(c.newly_failed);
    assert_int_equal(ds_pol_device_state(f->s, id, &d), DS_OK);
    assert_true(d.failed_tamper);
    assert_int_equal(d.failed_attestation_id, raw_scalar(f, "SELECT max(id) FROM attestations"));

    /* clearing */
    uint8_t other[DS_DEVICE_ID_LEN], ghost[DS_DEVICE_ID_LEN];
    make_id(2, other);
    make_id(99, ghost);
    assert_int_equal(ds_pol_clear_failed(f->s, other, "operator:admin", "checked", 600), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "not failed"));
    assert_int_equal(ds_pol_clear_failed(f->s, ghost, "operator:admin", "checked", 600), DS_E_NOT_FOUND);
    assert_int_equal(ds_pol_clear_failed(f->s, id, "", "checked", 600), DS_E_ARG);
    assert_int_equal(ds_pol_clear_failed(f->s, id, "operator:admin", "", 600), DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT failed FROM device_policy_state"), 1);
    assert_int_equal(ds_pol_clear_failed(f->s, id, "operator:admin", "site visit: sensor replaced", 600),
                     DS_OK);
    assert_int_equal(ds_pol_device_state(f->s, id, &d), DS_OK);
    assert_false(d.failed);
    assert_int_equal(d.cleared_at, 600);
    assert_string_equal(d.cleared_by, "operator:admin");
    assert_string_equal(d.clear_reason, "site visit: sensor replaced");
    assert_int_equal(ds_pol_clear_failed(f->s, id, "operator:admin", "again", 601), DS_E_CONFLICT);
    /* the next FAIL is a new failure */
    c.tamper = false;
    assert_int_equal(attest_hooked(f, 1, 1003, DS_RESULT_FAIL, &c), DS_OK);
    assert_true(c.newly_failed);
    assert_int_equal(ds_pol_device_state(f->s, id, &d), DS_OK);
    assert_false(d.failed_tamper);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 4 ---------------------------------------------------------------------------- */

typedef struct stale_rec {
    size_t n;
    uint8_t ids[64][DS_DEVICE_ID_LEN];
    int64_t episodes[64];
    ds_status ret;
} stale_rec;

static ds_status on_stale(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], int64_t episode, void *ctx)
{
    stale_rec *r = ctx;
    char key[64];
    snprintf(key, sizeof key, "missed:%02x%02x:%lld:quarantine", id[14], id[15], (long long)episode);
    ds_pol_action_new a = {id, "sim-v1", 1, "on_missed", "quarantine", NULL, "pending", NULL, 0, key};
    ds_status st = ds_pol_action_add(s, &a, 700, NULL);
    if (st != DS_OK)
        return st;
    if (r->n < 64) {
        memcpy(r->ids[r->n], id, DS_DEVICE_ID_LEN);
        r->episodes[r->n] = episode;
    }
    r->n++;
    return r->ret;
}

static void test_stale(void **state)
{
    fx *f = *state;
    register_n(f, 1, 5, "sim-v1");
    register_n(f, 10, 1, "other");
    for (uint32_t n = 1; n <= 4; n++)
        activate(f, n);
    activate(f, 10);
    attest(f, 1, 100, DS_RESULT_PASS);  /* silent since 100 */
    attest(f, 2, 100, DS_RESULT_PASS);  /* revoked below */
    attest(f, 3, 2000, DS_RESULT_PASS); /* recent */
    attest(f, 4, 100, DS_RESULT_WARN);  /* quarantined below: still tracked */
    attest(f, 10, 100, DS_RESULT_PASS); /* another class */
    /* device 5: registered, never attested */
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(2, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_REVOKED, "gone"), DS_OK);
    make_id(4, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_QUARANTINED, "look"), DS_OK);

    /* an error in the episode's actions: nothing is marked */
    stale_rec r = {0};
    r.ret = DS_E_DB;
    size_t marked = 9;
    assert_int_equal(ds_pol_mark_stale(f->s, "sim-v1", 500, 1000, on_stale, &r, &marked), DS_E_DB);
    assert_int_equal(marked, 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_policy_state WHERE stale = 1"), 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policy_actions"), 0);

    memset(&r, 0, sizeof r);
    assert_int_equal(ds_pol_mark_stale(f->s, "sim-v1", 500, 1000, on_stale, &r, &marked), DS_OK);
    assert_int_equal(marked, 2);
    assert_int_equal(r.n, 2);
    uint8_t want1[DS_DEVICE_ID_LEN], want4[DS_DEVICE_ID_LEN];
    make_id(1, want1);
    make_id(4, want4);
    assert_true((memcmp(r.ids[0], want1, 16) == 0 && memcmp(r.ids[1], want4, 16) == 0) ||
                (memcmp(r.ids[0], want4, 16) == 0 && memcmp(r.ids[1], want1, 16) == 0));
    assert_int_equal(r.episodes[0], 1);
    assert_int_equal(r.episodes[1], 1);
    /* a second sweep: already stale, nothing again */
    memset(&r, 0, sizeof r);
    assert_int_equal(ds_pol_mark_stale(f->s, "sim-v1", 500, 1001, on_stale, &r, &marked), DS_OK);
    assert_int_equal(marked, 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policy_actions"), 2);
    ds_pol_devstate d;
    assert_int_equal(ds_pol_device_state(f->s, want1, &d), DS_OK);
    assert_true(d.stale);
    assert_int_equal(d.stale_since, 1000);
    assert_int_equal(d.stale_episodes, 1);

    /* device 1 attests again: the episode ends; silence again: episode 2 */
    in_tx_ctx c = {.to = DS_DEV_ANY, .ret = DS_OK};
    assert_int_equal(attest_hooked(f, 1, 1100, DS_RESULT_PASS, &c), DS_OK);
    assert_true(c.was_stale);
    assert_int_equal(ds_pol_device_state(f->s, want1, &d), DS_OK);
    assert_false(d.stale);
    memset(&r, 0, sizeof r);
    assert_int_equal(ds_pol_mark_stale(f->s, "sim-v1", 1050, 1200, on_stale, &r, &marked), DS_OK);
    assert_int_equal(marked, 0); /* 1100 is not before 1050 */
    assert_int_equal(ds_pol_mark_stale(f->s, "sim-v1", 1150, 1200, on_stale, &r, &marked), DS_OK);
    assert_int_equal(marked, 1);
    assert_int_equal(r.episodes[0], 2);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policy_actions WHERE state = 'pending'"), 3);
    /* the other class was never looked at */
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_policy_state WHERE stale = 1"), 2);
    assert_int_equal(ds_pol_mark_stale(f->s, "bad class", 1, 1, NULL, NULL, NULL), DS_E_ARG);
}

/* ---- Test 5 ---------------------------------------------------------------------------- */

static ds_status on_stale_plain(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], int64_t episode, void *ctx)
{
    (void)ctx;
    (void)episode;
    /* no dedupe key: a device marked twice would show as two rows */
    ds_pol_action_new a = {id, "sim-v1", 1, "on_missed", "notify", "ops", "pending", NULL, 0, NULL};
    return ds_pol_action_add(s, &a, 700, NULL);
}

static void test_stale_race(void **state)
{
    fx *f = *state;
    enum { N = 40 };
    register_n(f, 1, N, "sim-v1");
    for (uint32_t n = 1; n <= N; n++) {
        activate(f, n);
        attest(f, n, 100 + n, DS_RESULT_PASS);
    }
    for (int k = 0; k < 2; k++) {
        f->kids[k] = fork();
        assert_true(f->kids[k] >= 0);
        if (f->kids[k] == 0) {
            ds_store *s = NULL;
            char err[200];
            if (ds_store_open(f->url, &s, err, sizeof err) != DS_OK)
                _exit(3);
            /* sweep with a cutoff that rises, as the clock would */
            for (int64_t cut = 100; cut <= 100 + N + 1; cut++) {
                ds_status st = ds_pol_mark_stale(s, "sim-v1", cut, 1000, on_stale_plain, NULL, NULL);
                if (st != DS_OK && st != DS_E_BUSY)
                    _exit(2);
            }
            ds_store_close(s);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        assert_int_equal(waitpid(f->kids[k], &st, 0), f->kids[k]);
        f->kids[k] = 0;
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    /* a BUSY sweep may have left some for later: one more sweep picks them up */
    assert_int_equal(ds_pol_mark_stale(f->s, "sim-v1", 100 + N + 1, 1000, on_stale_plain, NULL, NULL), DS_OK);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_policy_state WHERE stale = 1"), N);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policy_actions"), N);
    assert_int_equal(raw_scalar(f, "SELECT count(DISTINCT device_id) FROM policy_actions"), N);
    assert_int_equal(raw_scalar(f, "SELECT max(stale_episodes) FROM device_policy_state"), 1);
}

/* ---- Test 6 ---------------------------------------------------------------------------- */

static int collect_actions(const ds_pol_action_row *a, void *ctx)
{
    int *n = ctx;
    (void)a;
    (*n)++;
    return 0;
}

static void test_actions(void **state)
{
    fx *f = *state;
    register_n(f, 1, 2, "sim-v1");
    uint8_t id1[DS_DEVICE_ID_LEN], id2[DS_DEVICE_ID_LEN];
    make_id(1, id1);
    make_id(2, id2);
    int64_t a1 = 0, a2 = 0, dup = -1;
    ds_pol_action_new a = {id1, "sim-v1", 4, "on_missed", "rotate", NULL, "pending", NULL, 0, "k1"};
    assert_int_equal(ds_pol_action_add(f->s, &a, 10, &a1), DS_OK);
    assert_true(a1 > 0);
    assert_int_equal(ds_pol_action_add(f->s, &a, 11, &dup), DS_OK);
    assert_int_equal(dup, 0); /* same dedupe key: nothing */
    ds_pol_action_new b = {id2, "sim-v1", 4, "on_fail", "notify", "ops", "done", "delivery 7 queued",
                           3,   NULL};
    assert_int_equal(ds_pol_action_add(f->s, &b, 12, &a2), DS_OK);
    ds_pol_action_new c = {NULL, "sim-v1", 4, "apply", "update", "APM", "skipped", "no firmware", 0, NULL};
    assert_int_equal(ds_pol_action_add(f->s, &c, 13, NULL), DS_OK);
    ds_pol_action_new bad = {NULL, "bad class", 4, "apply", "update", NULL, "done", NULL, 0, NULL};
    assert_int_equal(ds_pol_action_add(f->s, &bad, 13, NULL), DS_E_ARG);
    ds_pol_action_new bad_cause = {NULL, "sim-v1", 4, "whenever", "update", NULL, "done", NULL, 0, NULL};
    assert_int_not_equal(ds_pol_action_add(f->s, &bad_cause, 13, NULL), DS_OK); /* the CHECK refuses it */
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policy_actions"), 3);

    /* claim: one holder at a time; expired leases are taken over */
    ds_pol_action_row row;
    bool found = false;
    assert_int_equal(ds_pol_action_claim(f->s, "srv-a", 100, 30, &row, &found), DS_OK);
    assert_true(found);
    assert_int_equal(row.id, a1);
    assert_true(row.has_device);
    assert_memory_equal(row.device_id, id1, 16);
    assert_string_equal(row.action, "rotate");
    assert_string_equal(row.cause, "on_missed");
    assert_int_equal(ds_pol_action_claim(f->s, "srv-b", 110, 30, &row, &found), DS_OK);
    assert_false(found); /* the only pending one is leased */
    assert_int_equal(ds_pol_action_finish(f->s, a1, "srv-b", "done", "x", 111), DS_E_CONFLICT);
    assert_int_equal(ds_pol_action_claim(f->s, "srv-b", 131, 30, &row, &found), DS_OK);
    assert_true(found); /* srv-a's lease ran out at 130 */
    assert_int_equal(ds_pol_action_finish(f->s, a1, "srv-a", "done", "x", 132), DS_E_CONFLICT);
    assert_int_equal(ds_pol_action_finish(f->s, a1, "srv-b", "done", "job 5 created", 132), DS_OK);
    assert_int_equal(ds_pol_action_finish(f->s, a1, "srv-b", "done", "again", 133), DS_E_CONFLICT);
    assert_int_equal(ds_pol_action_claim(f->s, "srv-b", 200, 30, &row, &found), DS_OK);
    assert_false(found);

    int n = 0;
    assert_int_equal(ds_pol_action_list(f->s, "sim-v1", NULL, 0, collect_actions, &n), DS_OK);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(ds_pol_action_list(f->s, NULL, id2, 0, collect_actions, &n), DS_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(ds_pol_action_list(f->s, "other", NULL, 0, collect_actions, &n), DS_OK);
    assert_int_equal(n, 0);
    n = 0;
    assert_int_equal(ds_pol_action_list(f->s, NULL, NULL, 2, collect_actions, &n), DS_OK);
    assert_int_equal(n, 2);
}

/* ---- Test 7 ---------------------------------------------------------------------------- */

typedef struct due {
    size_t n;
    uint32_t last[16];
} due;

static int on_due(const uint8_t id[DS_DEVICE_ID_LEN], int64_t since, void *ctx)
{
    due *d = ctx;
    (void)since;
    if (d->n < 16)
        d->last[d->n] = id[15];
    d->n++;
    return 0;
}

static void test_key_age(void **state)
{
    fx *f = *state;
    register_n(f, 1, 5, "sim-v1");
    for (uint32_t n = 1; n <= 4; n++)
        activate(f, n); /* 5 stays registered: not due */
    raw_exec(f, "UPDATE devices SET registered_at = 1000");
    due d = {0};
    assert_int_equal(ds_pol_key_age_due(f->s, "sim-v1", 999, on_due, &d), DS_OK);
    assert_int_equal(d.n, 0);
    assert_int_equal(ds_pol_key_age_due(f->s, "sim-v1", 1000, on_due, &d), DS_OK);
    assert_int_equal(d.n, 4);

    uint8_t id[DS_DEVICE_ID_LEN];
    int64_t job = 0;
    make_id(1, id); /* an open job */
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 3, 0, 2000, &job),
                     DS_OK);
    make_id(2, id); /* a failed rotation of this key */
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 3, 0, 2000, &job),
                     DS_OK);
    assert_int_equal(ds_job_fail(f->s, job, "refused", 2001), DS_OK);
    make_id(3, id); /* a cancelled one does not count */
    assert_int_equal(ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 3, 0, 2000, &job),
                     DS_OK);
    assert_int_equal(ds_job_cancel(f->s, job, "not now", 2001), DS_OK);
    make_id(4, id); /* a new key: its age starts again */
    uint8_t pub[DS_DRK_PUB_LEN];
    make_key(4000, pub);
    assert_int_equal(ds_device_set_key(f->s, id, pub, 1), DS_OK);
    memset(&d, 0, sizeof d);
    assert_int_equal(ds_pol_key_age_due(f->s, "sim-v1", 5000, on_due, &d), DS_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.last[0], 3);
    /* a failed rotation of an older key does not hold back the new one */
    make_id(2, id);
    make_key(2000, pub);
    assert_int_equal(ds_device_set_key(f->s, id, pub, 1), DS_OK);
    memset(&d, 0, sizeof d);
    assert_int_equal(ds_pol_key_age_due(f->s, "sim-v1", ds_store_now() + 10, on_due, &d), DS_OK);
    assert_int_equal(d.n, 3); /* 2 (new key), 3, 4 (new key); not 1 (open job) */
}

/* ---- Test 8 ---------------------------------------------------------------------------- */

static void test_campaign(void **state)
{
    fx *f = *state;
    int64_t c1 = 0, c2 = 0, c3 = 0;
    bool created = false;
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v1", 2, DS_JOB_MODE_SERVER, 2, 3, 100, &c1, &created),
                     DS_OK);
    assert_true(created);
    ds_campaign c;
    assert_int_equal(ds_campaign_get(f->s, c1, &c), DS_OK);
    assert_int_equal(c.state, DS_CAMPAIGN_RUNNING);
    assert_int_equal(c.max_parallel, 2);
    assert_int_equal(c.mode, DS_JOB_MODE_SERVER);
    assert_int_equal(c.fail_threshold, 0);
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v1", 3, DS_JOB_MODE_SERVER, 2, 3, 101, &c2, &created),
                     DS_OK);
    assert_false(created);
    assert_int_equal(c2, c1);
    /* its staged rollout never exceeds max_parallel: the third issue is refused */
    register_n(f, 1, 4, "sim-v1");
    int64_t jobs[4];
    for (uint32_t n = 1; n <= 4; n++) {
        activate(f, n);
        uint8_t id[DS_DEVICE_ID_LEN];
        make_id(n, id);
        assert_int_equal(
            ds_job_create(f->s, id, DS_JOB_ROTATE_ROOT, DS_JOB_MODE_SERVER, 3, c1, 100, &jobs[n - 1]), DS_OK);
    }
    uint8_t pub[DS_DRK_PUB_LEN], nonce[DS_NONCE_LEN] = {1}, tbs[DS_DIGEST_LEN] = {2};
    for (int k = 0; k < 4; k++) {
        make_key(9000 + (uint32_t)k, pub);
        assert_int_equal(ds_job_issue(f->s, jobs[k], "srv", 0, pub, nonce, tbs, 110),
                         k < 2 ? DS_OK : DS_E_BUSY);
    }
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM rotation_jobs WHERE state = 'issued'"), 2);
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v1", 3, DS_JOB_MODE_DEVICE, 2, 3, 101, &c3, &created),
                     DS_E_CONFLICT);
    assert_int_equal(c3, c1);
    assert_int_equal(ds_campaign_set_state(f->s, c1, DS_CAMPAIGN_CANCELLED, "policy changed", 102), DS_OK);
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v1", 3, DS_JOB_MODE_DEVICE, 2, 3, 103, &c3, &created),
                     DS_OK);
    assert_true(created);
    assert_true(c3 != c1);
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v2", 1, DS_JOB_MODE_DEVICE, 2, 3, 103, &c2, &created),
                     DS_OK);
    assert_true(created && c2 != c3); /* per class */
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v1", 3, 7, 2, 3, 103, &c2, NULL), DS_E_ARG);
    assert_int_equal(ds_pol_campaign_ensure(f->s, "sim-v1", 3, DS_JOB_MODE_DEVICE, 0, 3, 103, &c2, NULL),
                     DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM policy_campaigns"), 3);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 9 ---------------------------------------------------------------------------- */

static int count_attempts(const ds_wh_attempt *a, void *ctx)
{
    int *n = ctx;
    (*n)++;
    assert_int_equal(a->attempt, *n);
    return 0;
}

static void test_webhooks(void **state)
{
    fx *f = *state;
    register_n(f, 1, 1, "sim-v1");
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(1, id);
    ds_wh_new w = {"0123456789abcdef0123456789abcdef",
                   "ops",
                   "sim-v1",
                   2,
                   "http://127.0.0.1:9/x",
                   "/k",
                   "device.failed",
                   id,
                   "{\"event\":\"device.failed\"}",
                   3,
                   10};
    int64_t d1 = 0;
    assert_int_equal(ds_wh_enqueue(f->s, &w, 1000, &d1), DS_OK);
    assert_int_equal(ds_wh_enqueue(f->s, &w, 1000, NULL), DS_E_EXISTS); /* the delivery id is unique */
    ds_wh_row r;
    bool found = false;
    char st[16];
    assert_int_equal(ds_wh_claim(f->s, "srv-a", 999, 60, &r, &found), DS_OK);
    assert_false(found); /* not due yet */
    assert_int_equal(ds_wh_claim(f->s, "srv-a", 1000, 60, &r, &found), DS_OK);
    assert_true(found);
    assert_int_equal(r.id, d1);
    assert_string_equal(r.payload, "{\"event\":\"device.failed\"}");
    assert_string_equal(r.delivery_id, "0123456789abcdef0123456789abcdef");
    assert_true(r.has_device);
    ds_wh_row_free(&r);
    ds_wh_row other;
    assert_int_equal(ds_wh_claim(f->s, "srv-b", 1001, 60, &other, &found), DS_OK);
    assert_false(found); /* leased */
    assert_int_equal(ds_wh_attempt_done(f->s, d1, "srv-b", 200, "", 5, 1002, st), DS_E_CONFLICT);
    /* attempt 1 fails: pending again after backoff_s */
    assert_int_equal(ds_wh_attempt_done(f->s, d1, "srv-a", 503, "HTTP 503", 5, 1002, st), DS_OK);
    assert_string_equal(st, "pending");
    assert_int_equal(raw_scalar(f, "SELECT next_at FROM webhook_deliveries"), 1012);
    assert_int_equal(ds_wh_claim(f->s, "srv-b", 1011, 60, &r, &found), DS_OK);
    assert_false(found);
    assert_int_equal(ds_wh_claim(f->s, "srv-b", 1012, 60, &r, &found), DS_OK);
    assert_true(found);
    ds_wh_row_free(&r);
    /* attempt 2: no answer; back-off doubles */
    assert_int_equal(ds_wh_attempt_done(f->s, d1, "srv-b", 0, "connection refused", 1, 1013, st), DS_OK);
    assert_string_equal(st, "pending");
    assert_int_equal(raw_scalar(f, "SELECT next_at FROM webhook_deliveries"), 1033);
    assert_int_equal(ds_wh_claim(f->s, "srv-a", 1033, 60, &r, &found), DS_OK);
    assert_true(found);
    ds_wh_row_free(&r);
    assert_int_equal(ds_wh_attempt_done(f->s, d1, "srv-a", 204, "", 2, 1034, st), DS_OK);
    assert_string_equal(st, "delivered");
    assert_int_equal(ds_wh_attempt_done(f->s, d1, "srv-a", 204, "", 2, 1035, st), DS_E_CONFLICT);
    assert_int_equal(ds_wh_claim(f->s, "srv-a", 999999, 60, &r, &found), DS_OK);
    assert_false(found); /* delivered: never again */
    int n = 0;
    assert_int_equal(ds_wh_attempts(f->s, d1, count_attempts, &n), DS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(raw_scalar(f, "SELECT http_status FROM webhook_attempts WHERE attempt = 2"), 0);
    assert_int_equal(raw_scalar(f, "SELECT delivered_at FROM webhook_deliveries"), 1034);

    /* a second delivery uses all its attempts */
    w.delivery_id = "fedcba9876543210fedcba9876543210";
    w.device_id = NULL;
    int64_t d2 = 0;
    assert_int_equal(ds_wh_enqueue(f->s, &w, 2000, &d2), DS_OK);
    int64_t now = 2000;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(ds_wh_claim(f->s, "srv-a", now, 60, &r, &found), DS_OK);
        assert_true(found);
        assert_false(r.has_device);
        ds_wh_row_free(&r);
        assert_int_equal(ds_wh_attempt_done(f->s, d2, "srv-a", 500, "HTTP 500", 1, now, st), DS_OK);
        now += 1000;
    }
    assert_string_equal(st, "failed");
    assert_int_equal(ds_wh_claim(f->s, "srv-a", now + 100000, 60, &r, &found), DS_OK);
    assert_false(found);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM webhook_attempts"), 6);
    assert_int_equal(ds_wh_backoff(10, 1), 10);
    assert_int_equal(ds_wh_backoff(10, 4), 80);
    assert_int_equal(ds_wh_backoff(86400, 50), 86400);

    /* bad deliveries write nothing */
    ds_wh_new bad = w;
    bad.delivery_id = "";
    assert_int_equal(ds_wh_enqueue(f->s, &bad, 1, NULL), DS_E_ARG);
    bad = w;
    bad.max_attempts = 0;
    assert_int_equal(ds_wh_enqueue(f->s, &bad, 1, NULL), DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM webhook_deliveries"), 2);
}

/* ---- Test 10 --------------------------------------------------------------------------- */

static void test_status_in_tx(void **state)
{
    fx *f = *state;
    register_n(f, 1, 1, "sim-v1");
    activate(f, 1);
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(1, id);
    /* the hook fails after revoking: the attestation, the revoke and its log row all roll back */
    in_tx_ctx c = {.to = DS_DEV_REVOKED, .ret = DS_E_DB};
    assert_int_equal(attest_hooked(f, 1, 1000, DS_RESULT_FAIL, &c), DS_E_DB);
    assert_true(c.changed);
    ds_device d;
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_ACTIVE);
    assert_int_equal(d.attest_count, 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_policy_state"), 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log WHERE to_status = 'revoked'"), 0);
    /* and committed with it */
    c.ret = DS_OK;
    assert_int_equal(attest_hooked(f, 1, 1000, DS_RESULT_FAIL, &c), DS_OK);
    assert_true(c.changed);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_REVOKED);
    assert_string_equal(d.status_reason, "policy test");
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log WHERE to_status = 'revoked'"), 1);
    /* revoked -> quarantined is not allowed: no change, no error */
    c.to = DS_DEV_QUARANTINED;
    assert_int_equal(attest_hooked(f, 1, 1001, DS_RESULT_FAIL, &c), DS_OK);
    assert_false(c.changed);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_REVOKED);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_stays_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_in_tx, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
