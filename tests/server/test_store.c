/*
 * test_store.c — the storage layer (server/src/store.h) against a real
 * backend. ONE source, run twice by CTest:
 *
 *   test_store_sqlite    DROT_STORE_BACKEND=sqlite: a fresh database file in a
 *                        temporary directory per test;
 *   test_store_postgres  DROT_STORE_BACKEND=postgres: the private cluster
 *                        started by the test fixture (tests/support/pg_cluster.sh),
 *                        whose URL is in the file $DROT_PG_URL_FILE; every test
 *                        starts from an empty public schema.
 *
 * A few checks read the database directly (sqlite3 / libpq) so that they do
 * not trust the code under test. Child processes (concurrency, SIGKILL) are
 * killed and reaped in teardown whatever the outcome, and temporary files
 * are removed (the fixture: store_fixture.h). What recording an attestation
 * does to its device (tamper count, automatic quarantine) is tested in
 * test_store_attest.c, with the same fixture.
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
#include "store_fixture.h"

#define N_CONCURRENT 200

static int count_cb(const ds_device *d, void *ctx)
{
    (void)d;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t count_list(fx *f, const char *cls, ds_device_status status, size_t limit, size_t offset)
{
    ds_device_filter flt = {.class_name = cls, .status = status, .limit = limit, .offset = offset};
    size_t n = 0;
    assert_int_equal(ds_device_list(f->s, &flt, count_cb, &n), DS_OK);
    return n;
}

/* ---- Test 1: migrations from empty, twice / version recorded, idempotent ----------- */
static void test_migrations(void **state)
{
    fx *f = *state;
    int v = -1;
    assert_int_equal(ds_store_schema_version(f->s, &v), DS_OK);
    assert_int_equal(v, 0);
    /* Before migrating, data operations report the missing schema. */
    ds_device d;
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(1, id);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_E_SCHEMA);

    assert_int_equal(ds_store_migrate(f->s, &v), DS_OK);
    assert_int_equal(v, ds_store_latest_version());
    assert_true(v >= 2);
    /* Versions may have gaps (a number taken by a migration of another
     * branch), so compare the newest recorded one and the row count across
     * a second run. */
    assert_int_equal(raw_scalar(f, "SELECT max(version) FROM schema_migrations"), v);
    long long rows = raw_scalar(f, "SELECT count(*) FROM schema_migrations");
    assert_true(rows >= 2 && rows <= v);
    assert_int_equal(ds_store_migrate(f->s, &v), DS_OK); /* idempotent */
    assert_int_equal(v, ds_store_latest_version());
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM schema_migrations"), rows);
    assert_int_equal(ds_store_schema_version(f->s, &v), DS_OK);
    assert_int_equal(v, ds_store_latest_version());
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 0);
    assert_int_equal(ds_store_check(f->s), DS_OK);

    /* A version missing below the highest recorded one (it reached the tree
     * after a higher one) is applied all the same: here 006's tables are
     * dropped and its row deleted, and the next migrate restores both. */
    raw_exec(f, "DROP TABLE firmware_jobs");
    raw_exec(f, "DROP TABLE firmware_rollouts");
    raw_exec(f, "DROP TABLE firmware_releases");
    raw_exec(f, "DROP TABLE firmware_image_chunks");
    raw_exec(f, "DROP TABLE firmware_images");
    raw_exec(f, "DELETE FROM schema_migrations WHERE version = 6");
    assert_int_equal(ds_store_migrate(f->s, &v), DS_OK);
    assert_int_equal(v, ds_store_latest_version());
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM schema_migrations WHERE version = 6"), 1);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM firmware_jobs"), 0);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM schema_migrations"), rows);

    /* A database migrated by a newer program is refused, not downgraded. */
    raw_exec(f, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    assert_int_equal(ds_store_migrate(f->s, &v), DS_E_SCHEMA);
    assert_non_null(strstr(ds_store_error(f->s), "newer"));
}

/* ---- Test 2: bulk register 1000 devices in one call / all stored ------------------ */
static void test_bulk_1000(void **state)
{
    fx *f = *state;
    register_n(f, 1, 1000, "sensor-a");
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 1000);
    ds_device d;
    uint8_t id[DS_DEVICE_ID_LEN], pub[DS_DRK_PUB_LEN], inst[DS_INSTANCE_ID_LEN];
    make_id(500, id);
    make_key(500, pub);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_memory_equal(d.device_id, id, sizeof id);
    assert_memory_equal(d.drk_pub, pub, sizeof pub);
    assert_string_equal(d.class_name, "sensor-a");
    assert_int_equal(d.status, DS_DEV_REGISTERED);
    assert_int_equal(d.epoch, 0);
    assert_int_equal(d.last_result, DS_RESULT_NONE);
    assert_int_equal(d.last_attest_at, 0);
    assert_int_equal(d.attest_count, 0);
    assert_true(d.registered_at > 0);
    assert_int_equal(ds_instance_id(pub, inst), DS_OK);
    assert_memory_equal(d.instance_id, inst, sizeof inst);
    assert_int_equal(count_list(f, NULL, DS_DEV_ANY, 0, 0), 1000);
}

/* ---- Test 3: a duplicate in a bulk / DS_E_EXISTS, its index, nothing inserted ----- */
static void test_bulk_duplicate(void **state)
{
    fx *f = *state;
    register_n(f, 1, 10, "gw");
    ds_device_new d[6];
    size_t dup = 99;
    /* index 3 repeats an already registered id */
    for (uint32_t i = 0; i < 6; i++)
        make_dev(&d[i], 100 + i, "gw");
    make_id(7, d[3].device_id);
    assert_int_equal(ds_device_register_bulk(f->s, d, 6, &dup), DS_E_EXISTS);
    assert_int_equal(dup, 3);
    assert_non_null(strstr(ds_store_error(f->s), "d0d0d0d0d0d0d0d0d0d0d0d000000007"));
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 10);

    /* index 4 repeats index 1 within the batch */
    for (uint32_t i = 0; i < 6; i++)
        make_dev(&d[i], 200 + i, "gw");
    make_id(201, d[4].device_id);
    assert_int_equal(ds_device_register_bulk(f->s, d, 6, &dup), DS_E_EXISTS);
    assert_int_equal(dup, 4);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 10);

    /* index 5 reuses a registered device's DRK (same instance id) */
    for (uint32_t i = 0; i < 6; i++)
        make_dev(&d[i], 300 + i, "gw");
    make_key(2, d[5].drk_pub);
    assert_int_equal(ds_device_register_bulk(f->s, d, 6, &dup), DS_E_EXISTS);
    assert_int_equal(dup, 5);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 10);

    /* the same batch without the offender goes in whole */
    assert_int_equal(ds_device_register_bulk(f->s, d, 5, &dup), DS_OK);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 15);
}

/* ---- Test 4: get / by instance / list with filters, limit and offset -------------- */
typedef struct order_ctx {
    uint8_t last[DS_DEVICE_ID_LEN];
    size_t n;
    bool sorted;
} order_ctx;

static int order_cb(const ds_device *d, void *ctx)
{
    order_ctx *o = ctx;
    if (o->n > 0 && memcmp(o->last, d->device_id, DS_DEVICE_ID_LEN) >= 0)
        o->sorted = false;
    memcpy(o->last, d->device_id, DS_DEVICE_ID_LEN);
    o->n++;
    return o->n == 3; /* stop after 3: a non-zero return ends the iteration */
}

static void test_get_list_filter(void **state)
{
    fx *f = *state;
    register_n(f, 1, 20, "class-a");
    register_n(f, 101, 10, "class-b");
    uint8_t id[DS_DEVICE_ID_LEN];
    for (uint32_t i = 1; i <= 5; i++) {
        make_id(i, id);
        assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ENROLLED, "enrolled"), DS_OK);
    }
    assert_int_equal(count_list(f, "class-a", DS_DEV_ANY, 0, 0), 20);
    assert_int_equal(count_list(f, "class-b", DS_DEV_ANY, 0, 0), 10);
    assert_int_equal(count_list(f, "class-a", DS_DEV_ENROLLED, 0, 0), 5);
    assert_int_equal(count_list(f, "class-b", DS_DEV_ENROLLED, 0, 0), 0);
    assert_int_equal(count_list(f, NULL, DS_DEV_REGISTERED, 0, 0), 25);
    assert_int_equal(count_list(f, "nope", DS_DEV_ANY, 0, 0), 0);
    assert_int_equal(count_list(f, NULL, DS_DEV_ANY, 7, 0), 7);
    assert_int_equal(count_list(f, NULL, DS_DEV_ANY, 10, 28), 2);
    order_ctx o = {.sorted = true};
    assert_int_equal(ds_device_list(f->s, NULL, order_cb, &o), DS_OK);
    assert_int_equal(o.n, 3);
    assert_true(o.sorted);

    ds_device d, d2;
    make_id(103, id);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_string_equal(d.class_name, "class-b");
    assert_int_equal(ds_device_get_by_instance(f->s, d.instance_id, &d2), DS_OK);
    assert_memory_equal(d2.device_id, id, sizeof id);
    uint8_t inst[DS_INSTANCE_ID_LEN] = {0x01};
    assert_int_equal(ds_device_get_by_instance(f->s, inst, &d2), DS_E_NOT_FOUND);
    make_id(9999, id);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_E_NOT_FOUND);
}

/* ---- Test 5: status transitions / legal ones logged, illegal ones refused ---------- */
static void test_status_transitions(void **state)
{
    fx *f = *state;
    register_n(f, 1, 2, "c");
    uint8_t id[DS_DEVICE_ID_LEN];
    make_id(1, id);
    static const ds_device_status path[] = {DS_DEV_ENROLLED, DS_DEV_ACTIVE,  DS_DEV_QUARANTINED,
                                            DS_DEV_ACTIVE,   DS_DEV_REVOKED, DS_DEV_DECOMMISSIONED};
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        if (ds_device_set_status(f->s, id, path[i], "step") != DS_OK)
            fail_msg("step %zu: %s", i, ds_store_error(f->s));
    }
    ds_device d;
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_DECOMMISSIONED);
    assert_string_equal(d.status_reason, "step");
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log"), 6);
    /* nothing leaves decommissioned; the no-op is accepted and not logged */
    for (int to = DS_DEV_REGISTERED; to < DS_DEV_DECOMMISSIONED; to++)
        assert_int_equal(ds_device_set_status(f->s, id, (ds_device_status)to, "x"), DS_E_CONFLICT);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_DECOMMISSIONED, "again"), DS_OK);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_status_log"), 6);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_string_equal(d.status_reason, "step");

    make_id(2, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ACTIVE, NULL), DS_E_CONFLICT); /* skips enrolled */
    assert_non_null(strstr(ds_store_error(f->s), "registered -> active"));
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_REVOKED, "stolen"), DS_OK);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ACTIVE, NULL), DS_E_CONFLICT);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_REGISTERED, NULL), DS_E_CONFLICT);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.status, DS_DEV_REVOKED);
    assert_string_equal(d.status_reason, "stolen");
    make_id(77, id);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ENROLLED, NULL), DS_E_NOT_FOUND);
    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_ANY, NULL), DS_E_ARG);

    /* the table: terminal states and a few spot checks */
    for (int to = DS_DEV_REGISTERED; to <= DS_DEV_DECOMMISSIONED; to++)
        assert_int_equal(ds_device_transition_allowed(DS_DEV_DECOMMISSIONED, (ds_device_status)to),
                         to == DS_DEV_DECOMMISSIONED);
    assert_true(ds_device_transition_allowed(DS_DEV_QUARANTINED, DS_DEV_ACTIVE));
    assert_false(ds_device_transition_allowed(DS_DEV_ACTIVE, DS_DEV_ENROLLED));
}

/* ---- Test 6: key rotation / history appended, epoch must rise, key unique --------- */
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

static void test_key_rotation(void **state)
{
    fx *f = *state;
    register_n(f, 1, 2, "c");
    uint8_t id[DS_DEVICE_ID_LEN], k0[DS_DRK_PUB_LEN], k1[DS_DRK_PUB_LEN], k2[DS_DRK_PUB_LEN];
    uint8_t inst0[DS_INSTANCE_ID_LEN], other[DS_DRK_PUB_LEN];
    make_id(1, id);
    make_key(1, k0);
    make_key(5001, k1);
    make_key(5002, k2);
    make_key(2, other);
    assert_int_equal(ds_instance_id(k0, inst0), DS_OK);
    hist_ctx h = {0};
    assert_int_equal(ds_device_key_history(f->s, id, hist_cb, &h), DS_OK);
    assert_int_equal(h.n, 0);

    assert_int_equal(ds_device_set_key(f->s, id, k1, 1), DS_OK);
    ds_device d;
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_memory_equal(d.drk_pub, k1, sizeof k1);
    assert_int_equal(d.epoch, 1);
    assert_int_equal(ds_device_get_by_instance(f->s, d.instance_id, &d), DS_OK);
    assert_int_equal(ds_device_get_by_instance(f->s, inst0, &d), DS_E_NOT_FOUND); /* retired */

    assert_int_equal(ds_device_set_key(f->s, id, k2, 1), DS_E_CONFLICT);  /* epoch not above */
    assert_int_equal(ds_device_set_key(f->s, id, other, 2), DS_E_EXISTS); /* another device's DRK */
    h.n = 0;
    assert_int_equal(ds_device_key_history(f->s, id, hist_cb, &h), DS_OK);
    assert_int_equal(h.n, 1); /* the refused rotations left nothing behind */
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM device_keys"), 1);

    assert_int_equal(ds_device_set_key(f->s, id, k2, 5), DS_OK);
    h.n = 0;
    assert_int_equal(ds_device_key_history(f->s, id, hist_cb, &h), DS_OK);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.k[0].epoch, 0);
    assert_memory_equal(h.k[0].drk_pub, k0, sizeof k0);
    assert_memory_equal(h.k[0].instance_id, inst0, sizeof inst0);
    assert_true(h.k[0].retired_at > 0);
    assert_int_equal(h.k[1].epoch, 1);
    assert_memory_equal(h.k[1].drk_pub, k1, sizeof k1);
    assert_int_equal(ds_device_get(f->s, id, &d), DS_OK);
    assert_int_equal(d.epoch, 5);

    assert_int_equal(ds_device_set_status(f->s, id, DS_DEV_REVOKED, "lost"), DS_OK);
    make_key(5003, k2);
    assert_int_equal(ds_device_set_key(f->s, id, k2, 6), DS_E_CONFLICT);
    make_id(42, id);
    assert_int_equal(ds_device_set_key(f->s, id, k2, 6), DS_E_NOT_FOUND);
    assert_int_equal(ds_device_key_history(f->s, id, hist_cb, &h), DS_E_NOT_FOUND);
}

/* ---- Test 7: challenges / single use, expiry, unknown, binding, purge ------------- */
static void test_challenges(void **state)
{
    fx *f = *state;
    register_n(f, 1, 1, "c");
    uint8_t id[DS_DEVICE_ID_LEN], got[DS_DEVICE_ID_LEN], ch[DS_CHALLENGE_LEN];
    bool bound = false;
    int64_t now = ds_store_now();
    make_id(1, id);
    memset(ch, 0xc1, sizeof ch);
    assert_int_equal(ds_challenge_issue(f->s, ch, id, now + 60), DS_OK);
    assert_int_equal(ds_challenge_issue(f->s, ch, NULL, now + 60), DS_E_EXISTS);
    assert_int_equal(ds_challenge_consume(f->s, ch, now, got, &bound), DS_OK);
    assert_true(bound);
    assert_memory_equal(got, id, sizeof id);
    assert_int_equal(ds_challenge_consume(f->s, ch, now, got, &bound), DS_E_NOT_FOUND); /* single use */

    memset(ch, 0xc2, sizeof ch);
    assert_int_equal(ds_challenge_consume(f->s, ch, now, NULL, NULL), DS_E_NOT_FOUND); /* unknown */
    assert_int_equal(ds_challenge_issue(f->s, ch, NULL, now + 60), DS_OK);
    assert_int_equal(ds_challenge_consume(f->s, ch, now, got, &bound), DS_OK);
    assert_false(bound);

    memset(ch, 0xc3, sizeof ch);
    assert_int_equal(ds_challenge_issue(f->s, ch, id, now + 10), DS_OK);
    assert_int_equal(ds_challenge_consume(f->s, ch, now + 10, NULL, NULL), DS_E_EXPIRED);
    assert_int_equal(ds_challenge_consume(f->s, ch, now, NULL, NULL), DS_E_NOT_FOUND); /* deleted */

    make_id(99, got);
    memset(ch, 0xc4, sizeof ch);
    assert_int_equal(ds_challenge_issue(f->s, ch, got, now + 10), DS_E_NOT_FOUND); /* unknown device */

    for (uint8_t i = 0; i < 5; i++) {
        memset(ch, 0xe0 + i, sizeof ch);
        assert_int_equal(ds_challenge_issue(f->s, ch, NULL, i < 3 ? now + 5 : now + 500), DS_OK);
    }
    uint64_t purged = 0;
    assert_int_equal(ds_challenge_purge_expired(f->s, now + 5, &purged), DS_OK);
    assert_int_equal(purged, 3);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM challenges"), 2);
}

/* ---- Test 8: two processes consume the same 200 challenges / each exactly once ----- */
static void challenge_bytes(int i, uint8_t ch[DS_CHALLENGE_LEN])
{
    memset(ch, 0x5a, DS_CHALLENGE_LEN);
    ch[0] = (uint8_t)(i >> 8);
    ch[1] = (uint8_t)i;
}

/* Child: its own connection; waits for the go byte, consumes every challenge
 * once, writes one result byte per challenge ('1' consumed, '0' not found,
 * 'E' anything else) to out. The two children walk the set from opposite
 * ends, so both do real work and they collide where they meet. Exits without touching cmocka or the parent's
 * store. */
static void consumer_child(const char *url, int go_fd, int out_fd, bool descending)
{
    ds_store *s = NULL;
    char err[256], res[N_CONCURRENT], go;
    if (ds_store_open(url, &s, err, sizeof err) != DS_OK)
        _exit(3);
    if (read(go_fd, &go, 1) != 1)
        _exit(4);
    int64_t now = ds_store_now();
    for (int j = 0; j < N_CONCURRENT; j++) {
        int i = descending ? N_CONCURRENT - 1 - j : j;
        uint8_t ch[DS_CHALLENGE_LEN];
        challenge_bytes(i, ch);
        ds_status st = ds_challenge_consume(s, ch, now, NULL, NULL);
        res[i] = st == DS_OK ? '1' : st == DS_E_NOT_FOUND ? '0' : 'E';
        if (res[i] == 'E')
            fprintf(stderr, "child %d: challenge %d: %s\n", (int)getpid(), i, ds_store_error(s));
        /* Pause so that the other consumer, which may be sleeping in SQLite's
         * busy handler, gets in: the point is to race on the same rows. */
        struct timespec pause = {0, 300 * 1000};
        nanosleep(&pause, NULL);
    }
    ds_store_close(s);
    _exit(write(out_fd, res, sizeof res) == (ssize_t)sizeof res ? 0 : 5);
}

static void test_challenge_concurrent(void **state)
{
    fx *f = *state;
    int64_t now = ds_store_now();
    for (int i = 0; i < N_CONCURRENT; i++) {
        uint8_t ch[DS_CHALLENGE_LEN];
        challenge_bytes(i, ch);
        assert_int_equal(ds_challenge_issue(f->s, ch, NULL, now + 600), DS_OK);
    }
    int go[2], out[2][2];
    assert_int_equal(pipe(go), 0);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pipe(out[k]), 0);
        f->kids[k] = fork();
        assert_true(f->kids[k] >= 0);
        if (f->kids[k] == 0) {
            close(go[1]);
            close(out[k][0]);
            consumer_child(f->url, go[0], out[k][1], k == 1);
        }
        close(out[k][1]);
    }
    close(go[0]);
    assert_int_equal(write(go[1], "gg", 2), 2); /* release both at once */
    close(go[1]);
    char res[2][N_CONCURRENT];
    for (int k = 0; k < 2; k++) {
        size_t got = 0;
        while (got < N_CONCURRENT) {
            ssize_t r = read(out[k][0], res[k] + got, N_CONCURRENT - got);
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
        assert_int_equal(got, N_CONCURRENT);
    }
    int per_child[2] = {0, 0};
    for (int i = 0; i < N_CONCURRENT; i++) {
        assert_true(res[0][i] != 'E' && res[1][i] != 'E');
        int n = (res[0][i] == '1') + (res[1][i] == '1');
        if (n != 1)
            fail_msg("challenge %d consumed %d times", i, n);
        per_child[0] += res[0][i] == '1';
        per_child[1] += res[1][i] == '1';
    }
    printf("# concurrent consume: child A %d, child B %d of %d\n", per_child[0], per_child[1], N_CONCURRENT);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM challenges"), 0);
}

/* ---- Test 9: attestation record / device row updated in the same transaction ------- */
typedef struct att_ctx {
    size_t n;
    int64_t first_at;
    ds_result first_result;
    size_t first_token_len;
    uint8_t first_token[16];
    char first_reasons[64];
} att_ctx;

static int att_cb(const ds_attestation *a, void *ctx)
{
    att_ctx *c = ctx;
    if (c->n == 0) {
        c->first_at = a->at;
        c->first_result = a->result;
        c->first_token_len = a->token_len;
        if (a->token_len <= sizeof c->first_token && a->token_len > 0)
            memcpy(c->first_token, a->token, a->token_len);
        snprintf(c->first_reasons, sizeof c->first_reasons, "%s", a->reasons);
    }
    c->n++;
    return 0;
}

static void test_attestation_record(void **state)
{
    fx *f = *state;
    register_n(f, 1, 2, "c");
    ds_attestation a = {.at = 1700000000, .result = DS_RESULT_PASS, .reasons = ""};
    make_id(1, a.device_id);
    memset(a.evidence_digest, 0xee, sizeof a.evidence_digest);
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(ds_attestation_record(f->s, &a, &id1), DS_OK);
    ds_device d;
    assert_int_equal(ds_device_get(f->s, a.device_id, &d), DS_OK);
    assert_int_equal(d.last_attest_at, 1700000000);
    assert_int_equal(d.last_result, DS_RESULT_PASS);
    assert_int_equal(d.attest_count, 1);

    static const uint8_t token[5] = {0xd2, 0x84, 0x43, 0xa1, 0x01};
    a.at = 1700000100;
    a.result = DS_RESULT_FAIL;
    a.reasons = "measurement mismatch: HOST-OS";
    a.token = token;
    a.token_len = sizeof token;
    assert_int_equal(ds_attestation_record(f->s, &a, &id2), DS_OK);
    assert_true(id2 > id1);
    assert_int_equal(ds_device_get(f->s, a.device_id, &d), DS_OK);
    assert_int_equal(d.last_attest_at, 1700000100);
    assert_int_equal(d.last_result, DS_RESULT_FAIL);
    assert_int_equal(d.attest_count, 2);

    att_ctx c = {0};
    assert_int_equal(ds_attestation_list(f->s, a.device_id, 0, att_cb, &c), DS_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.first_at, 1700000100); /* newest first */
    assert_int_equal(c.first_result, DS_RESULT_FAIL);
    assert_int_equal(c.first_token_len, sizeof token);
    assert_memory_equal(c.first_token, token, sizeof token);
    assert_string_equal(c.first_reasons, "measurement mismatch: HOST-OS");
    memset(&c, 0, sizeof c);
    assert_int_equal(ds_attestation_list(f->s, a.device_id, 1, att_cb, &c), DS_OK);
    assert_int_equal(c.n, 1);

    /* unknown device: refused, and neither table changed */
    make_id(555, a.device_id);
    assert_int_equal(ds_attestation_record(f->s, &a, NULL), DS_E_NOT_FOUND);
    assert_int_equal(ds_attestation_list(f->s, a.device_id, 0, att_cb, &c), DS_E_NOT_FOUND);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations"), 2);
    assert_int_equal(raw_scalar(f, "SELECT sum(attest_count) FROM devices"), 2);
    assert_int_equal(ds_store_check(f->s), DS_OK);

    /* the consistency check can fail: break the invariant behind its back */
    raw_exec(f, "UPDATE devices SET attest_count = 7 WHERE attest_count = 2");
    assert_int_equal(ds_store_check(f->s), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "attest_count"));
}

/* ---- Test 10: SIGKILL during a burst of attestations / reopen, no corrupt rows ----- */
#define BURST_DEVICES 20

static void burst_child(const char *url, int ready_fd)
{
    ds_store *s = NULL;
    char err[256];
    if (ds_store_open(url, &s, err, sizeof err) != DS_OK)
        _exit(3);
    if (write(ready_fd, "r", 1) != 1)
        _exit(4);
    static uint8_t token[600];
    memset(token, 0xab, sizeof token);
    ds_attestation a = {
        .result = DS_RESULT_PASS, .reasons = "burst", .token = token, .token_len = sizeof token};
    for (uint32_t i = 0;; i++) {
        make_id(1 + i % BURST_DEVICES, a.device_id);
        a.at = 1700000000 + (int64_t)i;
        a.result = (ds_result)(1 + i % 3);
        a.evidence_digest[0] = (uint8_t)i;
        if (ds_attestation_record(s, &a, NULL) != DS_OK)
            _exit(5);
    }
}

typedef struct burst_ctx {
    size_t n;
    int64_t newest_at;
    ds_result newest_result;
} burst_ctx;

static int burst_cb(const ds_attestation *a, void *ctx)
{
    burst_ctx *b = ctx;
    if (b->n == 0) {
        b->newest_at = a->at;
        b->newest_result = a->result;
    }
    b->n++;
    return 0;
}

static void test_kill_during_burst(void **state)
{
    fx *f = *state;
    register_n(f, 1, BURST_DEVICES, "c");
    ds_store_close(f->s); /* the parent holds no connection while the child writes */
    f->s = NULL;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    f->kids[0] = fork();
    assert_true(f->kids[0] >= 0);
    if (f->kids[0] == 0) {
        close(ready[0]);
        burst_child(f->url, ready[1]);
    }
    close(ready[1]);
    char r;
    assert_int_equal(read(ready[0], &r, 1), 1);
    close(ready[0]);
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int wst = 0;
    assert_int_equal(waitpid(f->kids[0], &wst, WNOHANG), 0); /* still writing */
    kill(f->kids[0], SIGKILL);
    assert_int_equal(waitpid(f->kids[0], &wst, 0), f->kids[0]);
    f->kids[0] = 0;
    assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);

    if (!f->pg) /* independent of the code under test */
        assert_int_equal(
            raw_scalar(f, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
    char err[256];
    assert_int_equal(ds_store_open(f->url, &f->s, err, sizeof err), DS_OK);
    assert_int_equal(ds_store_migrate(f->s, NULL), DS_OK);
    if (ds_store_check(f->s) != DS_OK)
        fail_msg("after SIGKILL: %s", ds_store_error(f->s));
    long long rows = raw_scalar(f, "SELECT count(*) FROM attestations");
    printf("# %lld attestations recorded before SIGKILL\n", rows);
    assert_true(rows > 0);
    assert_int_equal(raw_scalar(f, "SELECT sum(attest_count) FROM devices"), rows);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations a WHERE NOT EXISTS "
                                   "(SELECT 1 FROM devices d WHERE d.device_id = a.device_id)"),
                     0);
    /* through the API too: every device's last_* matches its newest row */
    for (uint32_t i = 1; i <= BURST_DEVICES; i++) {
        ds_device d;
        burst_ctx b = {0};
        make_id(i, d.device_id);
        assert_int_equal(ds_device_get(f->s, d.device_id, &d), DS_OK);
        assert_int_equal(ds_attestation_list(f->s, d.device_id, 0, burst_cb, &b), DS_OK);
        assert_int_equal(b.n, d.attest_count);
        if (b.n > 0) {
            assert_int_equal(b.newest_at, d.last_attest_at);
            assert_int_equal(b.newest_result, d.last_result);
        }
    }
    /* and the store still takes writes */
    ds_attestation a = {.at = 1800000000, .result = DS_RESULT_WARN, .reasons = "after restart"};
    make_id(1, a.device_id);
    assert_int_equal(ds_attestation_record(f->s, &a, NULL), DS_OK);
    assert_int_equal(ds_store_check(f->s), DS_OK);
}

/* ---- Test 11: bad input / clear errors, nothing changed ----------------------------- */
static void test_bad_input(void **state)
{
    fx *f = *state;
    ds_store *s = (ds_store *)0x1;
    char err[256] = "";
    assert_int_equal(ds_store_open(NULL, &s, err, sizeof err), DS_E_ARG);
    assert_null(s);
    assert_int_equal(ds_store_open("mysql://localhost/x", &s, err, sizeof err), DS_E_ARG);
    assert_non_null(strstr(err, "scheme"));
    assert_int_equal(ds_store_open("sqlite:", &s, err, sizeof err), DS_E_ARG);
    assert_non_null(strstr(err, "path"));
    assert_int_equal(ds_store_open("", &s, err, sizeof err), DS_E_ARG);
    assert_int_equal(ds_store_open("sqlite:/nonexistent-drot-dir/x.db", &s, err, sizeof err), DS_E_DB);
    assert_true(strlen(err) > 0);
    assert_int_equal(
        ds_store_open("postgresql://nobody@/postgres?host=/nonexistent-drot-dir", &s, err, sizeof err),
        DS_E_DB);
    assert_non_null(strstr(err, "cannot connect"));
    assert_null(s);
    assert_int_equal(ds_store_open("sqlite:x", NULL, err, sizeof err), DS_E_ARG);

    assert_int_equal(ds_store_migrate(NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_device_get(NULL, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_device_get(f->s, NULL, NULL), DS_E_ARG);
    assert_int_equal(ds_device_register_bulk(f->s, NULL, 0, NULL), DS_E_ARG);
    assert_int_equal(ds_device_list(f->s, NULL, NULL, NULL), DS_E_ARG);
    ds_device_filter bad = {.class_name = "bad class"};
    assert_int_equal(ds_device_list(f->s, &bad, count_cb, NULL), DS_E_ARG);

    ds_device_new d[3];
    for (uint32_t i = 0; i < 3; i++)
        make_dev(&d[i], 1 + i, "c");
    d[1].class_name = "has space";
    assert_int_equal(ds_device_register_bulk(f->s, d, 3, NULL), DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "device 1"));
    d[1].class_name = "";
    assert_int_equal(ds_device_register_bulk(f->s, d, 3, NULL), DS_E_ARG);
    d[1].class_name = "c";
    d[2].drk_pub[0] = 0x02; /* compressed form is not accepted */
    assert_int_equal(ds_device_register_bulk(f->s, d, 3, NULL), DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "device 2"));
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM devices"), 0);
    d[2].drk_pub[0] = 0x04;
    assert_int_equal(ds_device_register_bulk(f->s, d, 3, NULL), DS_OK);

    char *longr = malloc(DS_REASON_MAX + 2);
    assert_non_null(longr);
    memset(longr, 'r', DS_REASON_MAX + 1);
    longr[DS_REASON_MAX + 1] = '\0';
    assert_int_equal(ds_device_set_status(f->s, d[0].device_id, DS_DEV_ENROLLED, longr), DS_E_ARG);
    ds_attestation a = {.at = 1, .result = DS_RESULT_NONE};
    memcpy(a.device_id, d[0].device_id, DS_DEVICE_ID_LEN);
    assert_int_equal(ds_attestation_record(f->s, &a, NULL), DS_E_ARG);
    a.result = DS_RESULT_PASS;
    a.reasons = longr;
    assert_int_equal(ds_attestation_record(f->s, &a, NULL), DS_E_ARG);
    free(longr);
    a.reasons = NULL;
    a.token_len = DS_TOKEN_MAX + 1;
    a.token = (const uint8_t *)"x";
    assert_int_equal(ds_attestation_record(f->s, &a, NULL), DS_E_ARG);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM attestations"), 0);
    assert_int_equal(ds_challenge_issue(f->s, NULL, NULL, 100), DS_E_ARG);
    assert_int_equal(ds_challenge_consume(f->s, NULL, 0, NULL, NULL), DS_E_ARG);
    uint8_t pub[DS_DRK_PUB_LEN] = {0x04};
    assert_int_equal(ds_device_set_key(f->s, d[0].device_id, pub, DS_EPOCH_MAX + 1), DS_E_ARG);
    assert_string_equal(ds_status_str(DS_E_EXPIRED), "expired");
    assert_string_equal(ds_store_backend(f->s), f->pg ? "postgres" : "sqlite");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_1000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_list_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests_name(getenv("DROT_STORE_BACKEND") ? getenv("DROT_STORE_BACKEND") : "store",
                                       tests, NULL, NULL);
}
