/*
 * test_store_attest.c — what recording an attestation does to its device
 * (server/src/store.h, ds_attestation_record_update): the stored tamper
 * count and the automatic quarantine of a class whose reference says
 * "on_fail": "quarantine" (server/src/routes.h R5). Run by CTest against
 * SQLite and against a private PostgreSQL cluster (store_fixture.h).
 *
 * The point of the API is that both changes happen in the transaction that
 * inserts the attestation row, or not at all; test 3 makes that insert fail
 * (a trigger installed behind the store's back) and checks that nothing of
 * the device moved. Test 4 races two processes on one device. Test 5
 * upgrades a database made before this feature.
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

#include "store.h"
#include "store_fixture.h"
#include "store_internal.h" /* the embedded migrations, for test 5 */

#define RACE_RECORDS 25

static ds_attestation fail_record(uint32_t n)
{
    ds_attestation a = {.at = 1700000000 + (int64_t)n, .result = DS_RESULT_FAIL, .reasons = "tamper: count"};
    make_id(n, a.device_id);
    memset(a.evidence_digest, 0x5a, sizeof a.evidence_digest);
    return a;
}

static ds_device get_dev(fx *f, uint32_t n)
{
    ds_device d;
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(n, id);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    return d;
}

static void set_status(fx *f, uint32_t n, ds_device_status to)
{
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(n, id);
    if (ds_device_set_status(f->s, id, to, "setup") != DS_OK)
        fail_msg("set status: %s", ds_store_error(f->s));
}

typedef struct last_ctx {
    size_t n;
    ds_att_action newest_action;
    ds_result newest_result;
} last_ctx;

static int last_cb(const ds_attestation *a, void *ctx)
{
    last_ctx *c = ctx;
    if (c->n++ == 0) {
        c->newest_action = a->action;
        c->newest_result = a->result;
    }
    return 0;
}

static last_ctx list_of(fx *f, uint32_t n)
{
    last_ctx c = {0};
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(n, id);
    assert_int_equal(ds_attestation_list(f->s, id, 0, last_cb, &c), DS_OK);
    return c;
}

/* ---- Test 1: tamper count / NULL until stored, then the value of the last
 * update; an update without it keeps it; 2^63-1 round-trips; 2^63 and an
 * unknown device are refused and change nothing ------------------------- */
static void test_tamper_count(void **state)
{
    fx *f = *state;
    register_n(f, 1, 2, "c");
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices WHERE tamper_count IS NULL"), 2);
    ds_device d = get_dev(f, 1);
    assert_false(d.has_tamper_count);

    ds_attestation a = fail_record(1);
    a.result = DS_RESULT_PASS;
    ds_attest_update u = {.set_tamper_count = true, .tamper_count = 0};
    ds_attest_outcome out;
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_OK);
    assert_true(out.id > 0);
    assert_int_equal(out.action, DS_ACTION_NONE);
    assert_int_equal(out.status, DS_DEV_REGISTERED);
    d = get_dev(f, 1);
    assert_true(d.has_tamper_count);
    assert_int_equal(d.tamper_count, 0);
    assert_false(get_dev(f, 2).has_tamper_count);

    u.tamper_count = 7;
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, NULL), DS_OK);
    assert_int_equal(raw_scalar(f, "SELECT tamper_count FROM devices WHERE tamper_count IS NOT NULL"), 7);
    assert_int_equal(ds_attestation_record(f->s, &a, NULL), DS_OK); /* no update: kept */
    assert_int_equal(ds_attestation_record_update(f->s, &a, NULL, NULL), DS_OK);
    d = get_dev(f, 1);
    assert_int_equal(d.tamper_count, 7);
    assert_int_equal(d.attest_count, 4);

    u.tamper_count = DS_TAMPER_COUNT_MAX;
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, NULL), DS_OK);
    assert_true(get_dev(f, 1).tamper_count == DS_TAMPER_COUNT_MAX);

    u.tamper_count = DS_TAMPER_COUNT_MAX + 1;
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "tamper count out of range"));
    assert_int_equal(out.id, 0);
    d = get_dev(f, 1);
    assert_true(d.tamper_count == DS_TAMPER_COUNT_MAX);
    assert_int_equal(d.attest_count, 5);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations"), 5);

    u.tamper_count = 3;
    make_id(99, a.device_id);
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_E_NOT_FOUND);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations"), 5);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 2: FAIL with quarantine from every status / registered, enrolled
 * and active move (logged, reason stored, row action "quarantined");
 * quarantined, revoked and decommissioned stay, and the attestation is
 * recorded all the same with action "" ---------------------------------- */
static void test_quarantine_from_each_status(void **state)
{
    fx *f = *state;
    static const struct {
        ds_device_status path[3];
        size_t steps;
        bool moves;
    } dev[] = {
        {{DS_DEV_REGISTERED}, 0, true},
        {{DS_DEV_ENROLLED}, 1, true},
        {{DS_DEV_ENROLLED, DS_DEV_ACTIVE}, 2, true},
        {{DS_DEV_QUARANTINED}, 1, false},
        {{DS_DEV_REVOKED}, 1, false},
        {{DS_DEV_REVOKED, DS_DEV_DECOMMISSIONED}, 2, false},
    };
    const size_t n = sizeof dev / sizeof dev[0];
    register_n(f, 1, (uint32_t)n, "c");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < dev[i].steps; k++)
            set_status(f, (uint32_t)(1 + i), dev[i].path[k]);
    long long logged = raw_scalar(f, "SELECT count(*) FROM device_status_log");

    for (size_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)(1 + i);
        ds_device before = get_dev(f, id);
        ds_attestation a = fail_record(id);
        ds_attest_update u = {.quarantine = true, .reason = "automatic quarantine (class c, on_fail): x"};
        ds_attest_outcome out;
        assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_OK);
        ds_device after = get_dev(f, id);
        assert_int_equal(out.prev_status, before.status);
        assert_int_equal(after.attest_count, 1);
        assert_int_equal(after.last_result, DS_RESULT_FAIL);
        last_ctx c = list_of(f, id);
        assert_int_equal(c.n, 1);
        if (dev[i].moves) {
            assert_int_equal(out.action, DS_ACTION_QUARANTINED);
            assert_int_equal(out.status, DS_DEV_QUARANTINED);
            assert_int_equal(after.status, DS_DEV_QUARANTINED);
            assert_string_equal(after.status_reason, "automatic quarantine (class c, on_fail): x");
            assert_int_equal(c.newest_action, DS_ACTION_QUARANTINED);
            logged++;
        } else {
            assert_int_equal(out.action, DS_ACTION_NONE);
            assert_int_equal(out.status, before.status);
            assert_int_equal(after.status, before.status);
            assert_string_equal(after.status_reason, before.status_reason);
            assert_int_equal(c.newest_action, DS_ACTION_NONE);
        }
        assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log"), logged);
    }
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations WHERE action = 'quarantined'"), 3);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations WHERE action = ''"), 3);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log WHERE to_status = 'quarantined' "
                                   "AND reason LIKE 'automatic quarantine%'"),
                     3);

    /* a PASS asking for nothing leaves the quarantine alone; a reason over
     * the limit is refused before anything is written */
    ds_attestation a = fail_record(1);
    a.result = DS_RESULT_PASS;
    assert_int_equal(ds_attestation_record_update(f->s, &a, NULL, NULL), DS_OK);
    assert_int_equal(get_dev(f, 1).status, DS_DEV_QUARANTINED);
    char *longr = malloc(DS_REASON_MAX + 2);
    assert_non_null(longr);
    memset(longr, 'r', DS_REASON_MAX + 1);
    longr[DS_REASON_MAX + 1] = '\0';
    ds_attest_update u = {.quarantine = true, .reason = longr};
    a = fail_record(3);
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, NULL), DS_E_ARG);
    free(longr);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations"), (long long)n + 1);
    assert_int_equal(ds_store_check(f->s), DS_OK);

    /* names */
    ds_att_action act = DS_ACTION_QUARANTINED;
    assert_string_equal(ds_att_action_name(DS_ACTION_NONE), "");
    assert_int_equal(ds_att_action_parse("", &act), DS_OK);
    assert_int_equal(act, DS_ACTION_NONE);
    assert_int_equal(ds_att_action_parse("quarantined", &act), DS_OK);
    assert_int_equal(act, DS_ACTION_QUARANTINED);
    assert_int_equal(ds_att_action_parse("revoked", &act), DS_E_ARG);
    assert_null(ds_att_action_name((ds_att_action)7));
}

/* ---- Test 3: the attestation INSERT fails (a trigger installed behind the
 * store's back) while the record asks for a tamper count and a quarantine /
 * an error naming the failure, and NOTHING of the device changed: status,
 * reason, tamper count, attest_count, last result, status log. Without the
 * trigger the same call does all of it at once ---------------------------- */
static void test_all_or_nothing(void **state)
{
    fx *f = *state;
    register_n(f, 1, 1, "c");
    set_status(f, 1, DS_DEV_ENROLLED);
    set_status(f, 1, DS_DEV_ACTIVE);
    ds_attestation a = fail_record(1);
    a.result = DS_RESULT_PASS;
    ds_attest_update u0 = {.set_tamper_count = true, .tamper_count = 2};
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u0, NULL), DS_OK);
    ds_device before = get_dev(f, 1);
    long long logged = raw_scalar(f, "SELECT count(*) FROM device_status_log");

    if (f->pg)
        raw_exec(f, "CREATE FUNCTION drot_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; "
                    "CREATE TRIGGER refuse BEFORE INSERT ON attestations FOR EACH ROW "
                    "EXECUTE FUNCTION drot_test_refuse()");
    else
        raw_exec(f, "CREATE TRIGGER refuse BEFORE INSERT ON attestations "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    a = fail_record(1);
    ds_attest_update u = {.set_tamper_count = true, .tamper_count = 3, .quarantine = true, .reason = "auto"};
    ds_attest_outcome out;
    ds_status st = ds_attestation_record_update(f->s, &a, &u, &out);
    assert_int_not_equal(st, DS_OK);
    assert_non_null(strstr(ds_store_error(f->s), "injected failure"));
    assert_int_equal(out.action, DS_ACTION_NONE);
    assert_int_equal(out.id, 0);
    ds_device d = get_dev(f, 1);
    assert_int_equal(d.status, DS_DEV_ACTIVE);
    assert_string_equal(d.status_reason, before.status_reason);
    assert_int_equal(d.tamper_count, 2);
    assert_int_equal(d.attest_count, before.attest_count);
    assert_int_equal(d.last_result, DS_RESULT_PASS);
    assert_int_equal(d.last_attest_at, before.last_attest_at);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log"), logged);
    assert_int_equal(ds_store_check(f->s), DS_OK);

    raw_exec(f, f->pg ? "DROP TRIGGER refuse ON attestations; DROP FUNCTION drot_test_refuse()"
                      : "DROP TRIGGER refuse");
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_OK);
    assert_int_equal(out.action, DS_ACTION_QUARANTINED);
    d = get_dev(f, 1);
    assert_int_equal(d.status, DS_DEV_QUARANTINED);
    assert_string_equal(d.status_reason, "auto");
    assert_int_equal(d.tamper_count, 3);
    assert_int_equal(d.attest_count, before.attest_count + 1);
    assert_int_equal(d.last_result, DS_RESULT_FAIL);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log"), logged + 1);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 4: two processes record FAIL with quarantine for one active
 * device, RACE_RECORDS times each, released together / every attestation
 * recorded, and exactly one of them moved the device: one status-log row,
 * one row with action "quarantined", one outcome that says so ------------- */
static void race_child(const char *url, int go_fd, uint32_t salt)
{
    ds_store *s = NULL;
    char err[256], go;
    if (ds_store_open(url, &s, err, sizeof err) != DS_OK)
        _exit(100);
    if (read(go_fd, &go, 1) != 1)
        _exit(101);
    int moved = 0;
    for (uint32_t i = 0; i < RACE_RECORDS; i++) {
        ds_attestation a = fail_record(1);
        a.evidence_digest[0] = (uint8_t)(salt + i);
        ds_attest_update u = {.quarantine = true, .reason = "race"};
        ds_attest_outcome out;
        ds_status st = ds_attestation_record_update(s, &a, &u, &out);
        if (st != DS_OK) {
            fprintf(stderr, "child %d: %s\n", (int)getpid(), ds_store_error(s));
            _exit(102);
        }
        moved += out.action == DS_ACTION_QUARANTINED;
    }
    ds_store_close(s);
    _exit(moved);
}

static void test_quarantine_race(void **state)
{
    fx *f = *state;
    register_n(f, 1, 1, "c");
    set_status(f, 1, DS_DEV_ENROLLED);
    set_status(f, 1, DS_DEV_ACTIVE);
    int go[2];
    assert_int_equal(pipe(go), 0);
    for (int k = 0; k < 2; k++) {
        f->kids[k] = fork();
        assert_true(f->kids[k] >= 0);
        if (f->kids[k] == 0) {
            close(go[1]);
            race_child(f->url, go[0], (uint32_t)k * 100);
        }
    }
    close(go[0]);
    assert_int_equal(write(go[1], "gg", 2), 2);
    close(go[1]);
    int moved = 0;
    for (int k = 0; k < 2; k++) {
        int wst = 0;
        assert_int_equal(waitpid(f->kids[k], &wst, 0), f->kids[k]);
        f->kids[k] = 0;
        assert_true(WIFEXITED(wst));
        assert_true(WEXITSTATUS(wst) <= 1);
        moved += WEXITSTATUS(wst);
    }
    assert_int_equal(moved, 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations"), 2 * RACE_RECORDS);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations WHERE action = 'quarantined'"), 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log WHERE to_status = 'quarantined'"),
                     1);
    ds_device d = get_dev(f, 1);
    assert_int_equal(d.status, DS_DEV_QUARANTINED);
    assert_int_equal(d.attest_count, 2 * RACE_RECORDS);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 5: a database at schema version 2 (before this feature) with a
 * device and an attestation, migrated by this program / version 3; the old
 * device has no stored count, the old row has action "", the consistency
 * check passes, and the next record stores a count ---------------------- */
static void test_upgrade_from_v2(void **state)
{
    fx *f = *state;
    const ds_migration *m = f->pg ? ds_migrations_postgres : ds_migrations_sqlite;
    size_t n = f->pg ? ds_migrations_postgres_count : ds_migrations_sqlite_count;
    assert_true(n >= 3);
    assert_int_equal(m[2].version, 3);
    raw_exec(f, f->pg ? "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, "
                        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                      : "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
                        "name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    for (size_t i = 0; i < 2; i++)
        raw_exec(f, m[i].sql);
    raw_exec(f, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'registry', 0), "
                "(2, 'challenges_attestations', 0)");
    int v = 0;
    assert_int_equal(ds_store_schema_version(f->s, &v), DS_OK);
    assert_int_equal(v, 2);
    register_n(f, 1, 1, "c"); /* the registration statement is the same in both versions */
    raw_exec(f, f->pg ? "INSERT INTO attestations (device_id, at, result, reasons, evidence_digest) "
                        "SELECT device_id, 5, 'PASS', 'old', decode(repeat('00', 32), 'hex') FROM devices"
                      : "INSERT INTO attestations (device_id, at, result, reasons, evidence_digest) "
                        "SELECT device_id, 5, 'PASS', 'old', zeroblob(32) FROM devices");
    raw_exec(f, "UPDATE devices SET attest_count = 1, last_attest_at = 5, last_result = 'PASS'");

    assert_int_equal(ds_store_migrate(f->s, &v), DS_OK);
    assert_int_equal(v, ds_store_latest_version());
    assert_int_equal(ds_store_check(f->s), DS_OK);
    ds_device d = get_dev(f, 1);
    assert_false(d.has_tamper_count);
    assert_int_equal(d.attest_count, 1);
    last_ctx c = list_of(f, 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.newest_action, DS_ACTION_NONE);
    assert_int_equal(c.newest_result, DS_RESULT_PASS);

    ds_attestation a = fail_record(1);
    ds_attest_update u = {.set_tamper_count = true, .tamper_count = 4};
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, NULL), DS_OK);
    d = get_dev(f, 1);
    assert_true(d.has_tamper_count);
    assert_int_equal(d.tamper_count, 4);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tamper_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_from_each_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v2, setup_empty, teardown),
    };
    return cmocka_run_group_tests_name(getenv("DROT_STORE_BACKEND") ? getenv("DROT_STORE_BACKEND") : "store",
                                       tests, NULL, NULL);
}
