/*
 * test_audit_multi_e2e.c — the audit log of two drot-server processes that
 * share one PostgreSQL database (docs/audit.md §3, §4; docs/operations.md
 * "Several servers on one PostgreSQL"), with real processes: drotctl init,
 * servers A and B on the storage tests' private cluster (fixture drot_pg,
 * tests/support/pg_cluster.sh), both signing automatic checkpoints every 3
 * entries.
 *
 *   1. operators work through A and B at the same time (status changes and
 *      checkpoint requests, in two concurrent shell loops): one chain, seq
 *      1..n without a gap, every entry there once, every checkpoint
 *      chained to the one before; `drotctl audit verify` exits 0 through A
 *      and through B
 *   2. an entry altered in PostgreSQL behind both servers' backs: verify
 *      through either names it and exits 1; B then refuses to sign a
 *      checkpoint over it (409 corrupt), and nothing is signed
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
#include <jansson.h>

#include "apm_proc.h"
#include "audit.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "e2e_proc.h"
#include "sql.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

#define NDEV   2
#define ROUNDS 6

static struct {
    char root[128], keys[200], ca[240], pg[512];
    char devid[NDEV][33];
    e2e_server a, b;
    ds_store *db; /* the test's own connection, for checks and tampering */
    e2e_out o;
} G;

#define jint  e2e_jint
#define jtext e2e_jtext

/* drotctl with the operator's GLOBAL options for server s; exit status. */
static int ctl_on(const e2e_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl_on(const e2e_server *s, const char *fmt, ...)
{
    char args[1000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_run(
        &G.o, G.root,
        "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
        "--ca '%s' %s",
        DROTCTL_BIN, s->url, G.keys, G.keys, G.ca, args);
}

static void db_exec(const char *sql)
{
    ds_status st = ds_sql_exec(G.db, sql, NULL, 0, NULL, NULL, NULL);
    if (st != DS_OK)
        fail_msg("%s: %s", sql, ds_store_error(G.db));
}

static long long db_int(const char *sql)
{
    int64_t v = -1;
    ds_status st = ds_sql_int1(G.db, sql, NULL, 0, &v, NULL);
    if (st != DS_OK)
        fail_msg("%s: %s", sql, ds_store_error(G.db));
    return (long long)v;
}

static json_t *verify_on(const e2e_server *s, int *rc)
{
    *rc = ctl_on(s, "audit verify --keys '%s' --json", G.keys);
    json_t *v = json_loads(G.o.out, 0, NULL);
    if (v == NULL)
        fail_msg("audit verify printed no JSON (exit %d): %s %s", *rc, G.o.out, G.o.err);
    return v;
}

static void server_start(e2e_server *s, const char *log)
{
    const char *args[] = {"--db", G.pg, "--keys", G.keys, "--audit-checkpoint-every", "3", NULL};
    snprintf(s->log, sizeof s->log, "%s/%s", G.root, log);
    e2e_server_start(s, G.ca, args);
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.a.pid = G.b.pid = -1;
    const char *url_file = getenv("DROT_PG_URL_FILE");
    if (url_file == NULL)
        fail_msg("DROT_PG_URL_FILE is not set: run through ctest (fixture store_pg_start)");
    FILE *f = fopen(url_file, "r");
    if (f == NULL)
        fail_msg("cannot read %s: is the PostgreSQL fixture running?", url_file);
    bool got = fgets(G.pg, sizeof G.pg, f) != NULL;
    fclose(f);
    assert_true(got);
    G.pg[strcspn(G.pg, "\r\n")] = '\0';
    char err[256];
    if (ds_store_open(G.pg, &G.db, err, sizeof err) != DS_OK)
        fail_msg("open %s: %s", G.pg, err);
    /* the storage tests' cluster: start from an empty schema, as they do */
    db_exec("DROP SCHEMA IF EXISTS public CASCADE");
    db_exec("CREATE SCHEMA public");

    apm_proc_mkroot(G.root, sizeof G.root, "auditpg");
    setenv("DROT_KEY_PASSPHRASE", "audit multi e2e passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    server_start(&G.a, "server-a.log");
    server_start(&G.b, "server-b.log");

    /* NDEV devices with real P-256 keys, registered through A */
    drot_rng rng = drot_sysrng();
    json_t *arr = json_array();
    for (int i = 0; i < NDEV; i++) {
        drot_p256_priv priv;
        drot_p256_pub pub;
        assert_int_equal(drot_p256_keygen(&rng, &priv, &pub), DROT_OK);
        drot_wipe(&priv, sizeof priv);
        char hex[131];
        for (size_t k = 0; k < 65; k++)
            snprintf(hex + 2 * k, 3, "%02x", pub.q[k]);
        snprintf(G.devid[i], sizeof G.devid[i], "a0d17000000000000000000000000%03d", i);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s}", "device_id", G.devid[i], "drk_pub", hex, "class", "audit-pg"));
    }
    char path[300];
    snprintf(path, sizeof path, "%s/devices.json", G.root);
    assert_int_equal(json_dump_file(arr, path, 0), 0);
    json_decref(arr);
    if (ctl_on(&G.a, "devices register '%s'", path) != 0)
        fail_msg("register: %s", G.o.err);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    e2e_server_kill(&G.a);
    e2e_server_kill(&G.b);
    ds_store_close(G.db);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    return 0;
}

/* Test 1. */
static void test_two_servers_one_chain(void **state)
{
    (void)state;
    /* one loop per server, at the same time */
    char loop[2][1800];
    const e2e_server *srv[2] = {&G.a, &G.b};
    for (int k = 0; k < 2; k++)
        snprintf(loop[k], sizeof loop[k],
                 "( for i in $(seq %d); do "
                 "'%s' $G%d devices quarantine %s --reason \"round $i\" >/dev/null || exit 1; "
                 "'%s' $G%d devices activate %s --reason \"round $i\" >/dev/null || exit 1; "
                 "'%s' $G%d audit checkpoint >/dev/null || exit 1; done )",
                 ROUNDS, DROTCTL_BIN, k, G.devid[k], DROTCTL_BIN, k, G.devid[k], DROTCTL_BIN, k);
    char env[2][1100];
    for (int k = 0; k < 2; k++)
        snprintf(
            env[k], sizeof env[k],
            "G%d=\"--server %s --cert %s/operators/admin.crt.pem --key %s/operators/admin.key.pem --ca %s\"",
            k, srv[k]->url, G.keys, G.keys, G.ca);
    int rc = e2e_run(&G.o, G.root, "%s; %s; export G0 G1; %s & p=$!; %s; b=$?; wait $p && [ $b = 0 ]", env[0],
                     env[1], loop[0], loop[1]);
    if (rc != 0)
        fail_msg("the operator loops failed: %s", G.o.err);

    long long n = 1 + 2 * 2 * ROUNDS; /* the registration, and two status changes per round and server */
    assert_int_equal(db_int("SELECT count(*) FROM audit_log"), n);
    assert_int_equal(db_int("SELECT CAST(max(seq) AS BIGINT) FROM audit_log"), n);
    assert_int_equal(db_int("SELECT count(*) FROM audit_log WHERE action = 'device.status'"), 4 * ROUNDS);
    assert_int_equal(db_int("SELECT count(*) FROM audit_log WHERE actor = 'operator:admin'"), n);
    /* the loops did interleave: consecutive entries about different devices */
    assert_true(db_int("SELECT count(*) FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1 "
                       "WHERE a.subject <> b.subject AND a.seq > 1") > 1);
    int64_t bad = -1;
    if (ds_audit_check(G.db, &bad) != DS_OK)
        fail_msg("chain broken at %lld: %s", (long long)bad, ds_store_error(G.db));
    /* checkpoints from both servers, chained */
    assert_true(db_int("SELECT count(*) FROM audit_checkpoints") >= 4);
    assert_int_equal(db_int("SELECT count(*) FROM audit_checkpoints c WHERE c.prev_seq <> 0 AND NOT EXISTS "
                            "(SELECT 1 FROM audit_checkpoints p WHERE p.seq = c.prev_seq)"),
                     0);
    assert_int_equal(db_int("SELECT count(*) FROM audit_checkpoints c JOIN audit_checkpoints d ON "
                            "d.prev_seq = c.prev_seq AND d.seq <> c.seq"),
                     0);
    for (int k = 0; k < 2; k++) {
        json_t *v = verify_on(srv[k], &rc);
        if (rc != 0 || !json_is_true(json_object_get(v, "ok")) || jint(v, "entries") != n) {
            char *s = json_dumps(v, JSON_INDENT(1));
            fail_msg("verify through server %c: exit %d: %s", "AB"[k], rc, s);
        }
        json_decref(v);
    }
}

/* Test 2. */
static void test_tampering_seen_through_both(void **state)
{
    (void)state;
    long long head = db_int("SELECT CAST(max(seq) AS BIGINT) FROM audit_log");
    assert_int_equal(ctl_on(&G.b, "devices quarantine %s --reason 'one more'", G.devid[1]), 0);
    db_exec("UPDATE audit_log SET detail = '{\"reason\":\"forged\"}' WHERE seq = 3");
    for (int k = 0; k < 2; k++) {
        int rc;
        json_t *v = verify_on(k == 0 ? &G.a : &G.b, &rc);
        assert_int_equal(rc, 1);
        assert_int_equal(jint(v, "first_bad_seq"), 3);
        assert_string_equal(jtext(json_array_get(json_object_get(v, "problems"), 0), "kind"), "altered");
        json_decref(v);
    }
    /* the newest entry altered too: no server signs over it (whether or not
     * an automatic checkpoint already covers it) */
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE audit_log SET actor = 'operator:mallory' WHERE seq = %lld", head + 1);
    db_exec(sql);
    long long cps_now = db_int("SELECT count(*) FROM audit_checkpoints");
    assert_int_equal(ctl_on(&G.b, "audit checkpoint"), 1);
    assert_non_null(strstr(G.o.err, "not signed"));
    assert_non_null(strstr(G.o.err, "409"));
    assert_int_equal(db_int("SELECT count(*) FROM audit_checkpoints"), cps_now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_servers_one_chain),
        cmocka_unit_test(test_tampering_seen_through_both),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
