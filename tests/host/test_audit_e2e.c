/*
 * test_audit_e2e.c — the audit log end to end with real processes
 * (docs/audit.md): drotctl init, a drot-apm device deployed with the
 * server's authority as its anchor, drot-server on SQLite over TLS 1.3,
 * drot-agent, and drotctl audit.
 *
 *   1. operations leave entries with the right actor: the server's
 *      --register, the device's enrollment and attestations, an operator's
 *      status changes, reference values, a rotation and its steps done by
 *      the device, a campaign, and the server's automatic quarantine; the
 *      untouched log verifies (exit 0) with the key directory and with the
 *      exported PEM key
 *   2. the database is changed behind the server's back, one change at a
 *      time, each undone before the next: an altered entry, a deleted
 *      middle entry, the last entries deleted after a checkpoint, two
 *      entries swapped, a checkpoint's signature replaced, an entry altered
 *      and re-hashed, a checkpoint deleted from the middle, a checkpoint by
 *      an unpinned key; `drotctl audit verify` exits 1 naming the right
 *      seq and kind each time, and 0 once it is undone
 *   3. --state: the removal of the unsigned tail, invisible to a verifier
 *      without memory, is caught by one that remembers the head; a
 *      malformed state file is refused and left as it is
 *   4. bad requests: usage errors of drotctl audit, the admin API's
 *      refusals (limit out of range, a body on checkpoint, unknown route),
 *      and drot-server's refusal of a bad --audit-checkpoint-every (option
 *      or configuration file) before it opens anything
 *   5. an attestation whose transaction fails at its audit entry (a
 *      trigger installed behind the server's back refuses the entry)
 *      leaves nothing: no attestation row, no device-row change, no entry;
 *      once the trigger is gone the next one records row and entry
 *      together, the entry naming the row
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
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "apm_proc.h"
#include "audit_chain.h"
#include "e2e_proc.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

#define PASSPHRASE "audit e2e test passphrase"

static struct {
    char root[128], keys[200], ca[240], db[260], dbpath[240], storage[240], devid[33], anchor[65], reg[240],
        ref[240];
    e2e_server srv;
    apm_proc dev;
    e2e_out o;
} G;

#define jint  e2e_jint
#define jtext e2e_jtext

/* ---- helpers ------------------------------------------------------------------------ */

static json_t *admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *admin(const char *fmt, ...)
{
    char args[1000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_drotctl(&G.o, G.root, G.srv.url, G.keys, G.ca, args);
}

/* drotctl with the GLOBAL options; its exit status (output in G.o). */
static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
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
        DROTCTL_BIN, G.srv.url, G.keys, G.keys, G.ca, args);
}

static int attest_once(void)
{
    return e2e_run(&G.o, G.root,
                   "'%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' --storage '%s'",
                   DROT_AGENT_BIN, G.dev.sock, G.dev.key, G.srv.url, G.ca, G.storage);
}

static void attest_ok(void)
{
    int rc = attest_once();
    if (rc != 0 || strstr(G.o.out, "PASS") == NULL)
        fail_msg("expected a PASS: exit %d, %s %s", rc, G.o.out, G.o.err);
}

/* SQL on the server's database, behind its back (the attacker's view). */
static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
    char q[4000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(q, sizeof q, fmt, ap) < sizeof q);
    va_end(ap);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(G.dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    int rc = sqlite3_exec(db, q, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("sql: %s: %s", q, err != NULL ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
}

static long long sql_int(const char *q)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(G.dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Every entry, through drotctl audit list (pages of 1000). */
static json_t *all_entries(void)
{
    json_t *all = json_array();
    long long after = 0;
    for (;;) {
        json_t *r = admin("audit list --after %lld --limit 1000 --json", after);
        if (r == NULL)
            fail_msg("drotctl audit list failed: %s", G.o.err);
        json_t *arr = json_object_get(r, "entries");
        size_t n = json_array_size(arr);
        for (size_t i = 0; i < n; i++) {
            json_array_append(all, json_array_get(arr, i));
            after = jint(json_array_get(arr, i), "seq");
        }
        json_decref(r);
        if (n < 1000)
            return all;
    }
}

/* Entries with this actor and action (subject and a detail fragment when
 * not NULL). */
static int count(const json_t *all, const char *actor, const char *action, const char *subject,
                 const char *detail_has)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *e = json_array_get(all, i);
        if (strcmp(jtext(e, "actor"), actor) == 0 && strcmp(jtext(e, "action"), action) == 0 &&
            (subject == NULL || strcmp(jtext(e, "subject"), subject) == 0) &&
            (detail_has == NULL || strstr(jtext(e, "detail"), detail_has) != NULL))
            n++;
    }
    return n;
}

static void expect_entry(const json_t *all, const char *actor, const char *action, const char *subject,
                         const char *detail_has)
{
    if (count(all, actor, action, subject, detail_has) == 0) {
        char *dump = json_dumps(all, JSON_INDENT(1));
        fail_msg("no entry by %s: %s on %s with %s in:\n%s", actor, action, subject ? subject : "*",
                 detail_has ? detail_has : "*", dump);
    }
}

/* drotctl audit verify --json with the key directory (and extra options);
 * its exit status, and the answer in *out (caller frees). */
static int verify(json_t **out, const char *extra)
{
    int rc = ctl("audit verify --keys '%s' --json %s", G.keys, extra != NULL ? extra : "");
    *out = json_loads(G.o.out, 0, NULL);
    if (*out == NULL)
        fail_msg("audit verify printed no JSON (exit %d): %s %s", rc, G.o.out, G.o.err);
    return rc;
}

static void expect_ok(const char *when)
{
    json_t *v = NULL;
    int rc = verify(&v, NULL);
    if (rc != 0 || !json_is_true(json_object_get(v, "ok"))) {
        char *s = json_dumps(v, JSON_INDENT(1));
        fail_msg("%s: the log should verify (exit %d): %s", when, rc, s);
    }
    json_decref(v);
}

/* verify fails with exit 1, the first bad seq and the kind of that problem. */
static void expect_bad(long long seq, const char *kind, const char *extra)
{
    json_t *v = NULL;
    int rc = verify(&v, extra);
    json_t *first = json_array_get(json_object_get(v, "problems"), 0);
    if (rc != 1 || json_is_true(json_object_get(v, "ok")) || jint(v, "first_bad_seq") != seq ||
        strcmp(jtext(first, "kind"), kind) != 0) {
        char *s = json_dumps(v, JSON_INDENT(1));
        fail_msg("expected exit 1 at seq %lld (%s), got exit %d: %s", seq, kind, rc, s);
    }
    json_decref(v);
    /* the text output names the seq too */
    rc = ctl("audit verify --keys '%s' %s", G.keys, extra != NULL ? extra : "");
    char want[64];
    snprintf(want, sizeof want, "the first at entry %lld (%s)", seq, kind);
    if (rc != 1 || strstr(G.o.err, want) == NULL)
        fail_msg("text verify: exit %d, stderr %s (wanted '%s')", rc, G.o.err, want);
}

static void backup(void)
{
    sql("DROP TABLE IF EXISTS bak_log; DROP TABLE IF EXISTS bak_cp;"
        "CREATE TABLE bak_log AS SELECT * FROM audit_log; CREATE TABLE bak_cp AS SELECT * FROM "
        "audit_checkpoints");
}

static void restore(void)
{
    sql("DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM bak_log;"
        "DELETE FROM audit_checkpoints; INSERT INTO audit_checkpoints SELECT * FROM bak_cp");
}

static long long head_seq(void)
{
    return sql_int("SELECT max(seq) FROM audit_log");
}

static long long checkpoint_now(void)
{
    json_t *c = admin("audit checkpoint --json");
    if (c == NULL)
        fail_msg("drotctl audit checkpoint failed: %s", G.o.err);
    long long seq = jint(json_object_get(c, "checkpoint"), "seq");
    json_decref(c);
    assert_int_equal(seq, head_seq());
    return seq;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    G.dev.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "audit");
    setenv("DROT_KEY_PASSPHRASE", PASSPHRASE, 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.dbpath, sizeof G.dbpath, "%s/drot.db", G.root);
    snprintf(G.db, sizeof G.db, "sqlite:%s", G.dbpath);
    snprintf(G.storage, sizeof G.storage, "%s/storage", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    json_t *init = json_loads(G.o.out, 0, NULL);
    assert_non_null(init);
    strcpy(G.anchor, jtext(init, "authority_anchor"));
    json_decref(init);
    assert_int_equal(apm_proc_sh("mkdir -p '%s/ref' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
                                 "[{\"type\":\"APM\"}]}' > '%s/ref/sim-v1.json'",
                                 G.root, G.root),
                     0);
    char extra[100];
    snprintf(extra, sizeof extra, "--anchor %s", G.anchor);
    apm_proc_provision_ex(&G.dev, G.root, "dev1", extra);
    assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, G.dev.state), 0);
    apm_proc_start(&G.dev);
    for (size_t i = 0; i < 16; i++)
        snprintf(G.devid + 2 * i, 3, "%02x", G.dev.device_id[i]);
    assert_int_equal(
        apm_proc_sh("sed 's/^{/[{\"class\":\"sim-v1\",/; s/}[[:space:]]*$/}]/' '%s' | tr -d '\\n' > "
                    "'%s/register.json'",
                    G.dev.identity, G.root),
        0);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    const char *args[] = {"--db",
                          G.db,
                          "--keys",
                          G.keys,
                          "--reference",
                          G.ref,
                          "--register",
                          G.reg,
                          "--attest-interval",
                          "1",
                          "--audit-checkpoint-every",
                          "1000",
                          NULL};
    e2e_server_start(&G.srv, G.ca, args);
    if (e2e_run(&G.o, G.root,
                "'%s' --socket '%s' --link-key '%s' enroll --server '%s' --ca '%s' --storage '%s'",
                DROT_AGENT_BIN, G.dev.sock, G.dev.key, G.srv.url, G.ca, G.storage) != 0)
        fail_msg("enroll failed: %s", G.o.err);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    e2e_server_kill(&G.srv);
    apm_proc_kill(&G.dev);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Test 1. */
static void test_operations_recorded(void **state)
{
    (void)state;
    char dev_actor[48], ref_file[300];
    snprintf(dev_actor, sizeof dev_actor, "device:%s", G.devid);
    attest_ok();
    /* an operator quarantines and reactivates the device */
    assert_int_equal(ctl("devices quarantine %s --reason 'audit e2e: hold it'", G.devid), 0);
    assert_int_equal(ctl("devices activate %s --reason 'audit e2e: release it'", G.devid), 0);
    /* a rotation, carried out by the device at its next attestation */
    json_t *j = admin("rotate %s --mode server --json", G.devid);
    assert_non_null(j);
    char job[32];
    snprintf(job, sizeof job, "job:%lld", jint(j, "id"));
    json_decref(j);
    attest_ok();
    /* reference values that the device fails, with automatic quarantine */
    snprintf(ref_file, sizeof ref_file, "%s/strict.json", G.root);
    write_text(ref_file,
               "{\"class\":\"sim-v1\",\"on_fail\":\"quarantine\",\"components\":[{\"type\":\"APM\","
               "\"digests\":[\"0000000000000000000000000000000000000000000000000000000000000000\"]}]}");
    assert_int_equal(ctl("class set-reference sim-v1 '%s'", ref_file), 0);
    attest_once();                                                  /* FAIL */
    snprintf(ref_file, sizeof ref_file, "%s/lenient.json", G.root); /* ref/ now holds the strict one */
    write_text(ref_file, "{\"class\":\"sim-v1\",\"components\":[{\"type\":\"APM\"}]}");
    assert_int_equal(ctl("class set-reference sim-v1 '%s'", ref_file), 0);
    assert_int_equal(ctl("devices activate %s --reason 'audit e2e: reference fixed'", G.devid), 0);
    /* a campaign, cancelled */
    j = admin("rotate --class sim-v1 --max-parallel 1 --json");
    assert_non_null(j);
    long long camp = jint(json_object_get(j, "campaign"), "id");
    json_decref(j);
    assert_int_equal(ctl("campaign cancel %lld --reason 'audit e2e: not now'", camp), 0);
    char camp_subject[32];
    snprintf(camp_subject, sizeof camp_subject, "campaign:%lld", camp);
    attest_ok();

    json_t *all = all_entries();
    assert_true(json_array_size(all) >= 15);
    const json_t *first = json_array_get(all, 0);
    assert_int_equal(jint(first, "seq"), 1);
    assert_string_equal(jtext(first, "actor"), "server");
    assert_string_equal(jtext(first, "action"), "device.register");
    assert_string_equal(jtext(first, "subject"), G.devid);
    expect_entry(all, dev_actor, "device.enroll", G.devid, "\"status_to\":\"active\"");
    expect_entry(all, dev_actor, "device.attest", G.devid, "\"result\":\"PASS\"");
    expect_entry(all, "operator:admin", "device.status", G.devid, "\"to\":\"quarantined\"");
    expect_entry(all, "operator:admin", "device.status", G.devid, "audit e2e: release it");
    expect_entry(all, "operator:admin", "rotation.create", job, "\"mode\":\"server\"");
    expect_entry(all, dev_actor, "rotation.issue", job, "\"instruction_digest\"");
    expect_entry(all, dev_actor, "rotation.complete", job, "\"new_epoch\":1");
    expect_entry(all, "operator:admin", "class.reference", "class:sim-v1", "\"sha256\"");
    expect_entry(all, dev_actor, "device.attest", G.devid, "\"action\":\"quarantined\"");
    expect_entry(all, "server", "device.quarantine", G.devid, "automatic quarantine (class sim-v1");
    expect_entry(all, "operator:admin", "campaign.create", camp_subject, "\"class\":\"sim-v1\"");
    expect_entry(all, "operator:admin", "campaign.state", camp_subject, "\"to\":\"cancelled\"");
    /* nobody else acted */
    for (size_t i = 0; i < json_array_size(all); i++) {
        const char *a = jtext(json_array_get(all, i), "actor");
        if (strcmp(a, "server") != 0 && strcmp(a, "operator:admin") != 0 && strcmp(a, dev_actor) != 0)
            fail_msg("unexpected actor %s", a);
        assert_int_equal(jint(json_array_get(all, i), "seq"), (long long)i + 1);
    }
    json_decref(all);

    /* the untouched log verifies, with the key directory and with the exported key */
    expect_ok("untouched");
    char pem[300];
    snprintf(pem, sizeof pem, "%s/audit-key.pem", G.root);
    assert_int_equal(
        e2e_run(&G.o, G.root, "'%s' audit export-key --dir '%s' --out '%s'", DROTCTL_BIN, G.keys, pem), 0);
    long long cp = checkpoint_now();
    assert_int_equal(ctl("audit verify --trust '%s'", pem), 0);
    assert_non_null(strstr(G.o.out, "audit log OK"));
    assert_non_null(strstr(G.o.out, "last checkpoint: entry"));
    /* the checkpoint is idempotent while the head does not move */
    assert_int_equal(checkpoint_now(), cp);
    assert_int_equal(sql_int("SELECT count(*) FROM audit_checkpoints"), 1);
}

/* Test 2. */
static void test_tampering_detected(void **state)
{
    (void)state;
    /* two checkpoints with entries between and after them */
    attest_ok();
    long long c1 = checkpoint_now();
    attest_ok();
    attest_ok();
    long long c2 = checkpoint_now();
    attest_ok();
    long long head = head_seq();
    assert_true(c1 >= 10 && c2 >= c1 + 2 && head > c2);
    long long m = c1 / 2;
    backup();
    expect_ok("before");

    /* an entry's detail altered */
    sql("UPDATE audit_log SET detail = '{\"forged\":true}' WHERE seq = %lld", m);
    expect_bad(m, "altered", NULL);
    restore();
    expect_ok("after restoring the altered entry");

    /* a middle entry deleted */
    sql("DELETE FROM audit_log WHERE seq = %lld", m);
    expect_bad(m, "missing", NULL);
    restore();

    /* the last entries deleted, back into what checkpoint c2 signed */
    sql("DELETE FROM audit_log WHERE seq >= %lld", c2 - 1);
    expect_bad(c2 - 1, "truncated", NULL);
    restore();

    /* two entries swapped */
    sql("UPDATE audit_log SET seq = 999999999 WHERE seq = %lld; UPDATE audit_log SET seq = %lld WHERE seq = "
        "%lld;"
        "UPDATE audit_log SET seq = %lld WHERE seq = 999999999",
        m, m, m + 1, m + 1);
    expect_bad(m, "reordered", NULL);
    restore();

    /* a checkpoint's signature replaced (by another checkpoint's, then by noise) */
    sql("UPDATE audit_checkpoints SET signature = (SELECT signature FROM audit_checkpoints WHERE seq = %lld) "
        "WHERE seq = %lld",
        c1, c2);
    expect_bad(c2, "signature", NULL);
    sql("UPDATE audit_checkpoints SET signature = randomblob(64) WHERE seq = %lld", c1);
    expect_bad(c1, "signature", NULL);
    restore();

    /* an entry altered AND re-hashed: its successor no longer follows it */
    json_t *r = admin("audit list --after %lld --limit 1 --json", m - 1);
    assert_non_null(r);
    json_t *e = json_array_get(json_object_get(r, "entries"), 0);
    uint8_t prev[32], h[32];
    const char *ph = jtext(e, "prev_hash");
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(ph + 2 * i, "%2x", &v), 1);
        prev[i] = (uint8_t)v;
    }
    assert_int_equal(ds_audit_entry_hash(m, jint(e, "at"), "operator:mallory", jtext(e, "action"),
                                         jtext(e, "subject"), jtext(e, "detail"), prev, h),
                     DROT_OK);
    char hx[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(hx + 2 * i, 3, "%02x", h[i]);
    json_decref(r);
    sql("UPDATE audit_log SET actor = 'operator:mallory', hash = X'%s' WHERE seq = %lld", hx, m);
    expect_bad(m + 1, "broken_link", NULL);
    /* ... and the checkpointed entry re-hashed the same way: the checkpoint sees it */
    restore();
    sql("UPDATE audit_log SET hash = randomblob(32) WHERE seq = %lld", c1);
    expect_bad(c1, "altered", NULL);
    json_t *v = NULL;
    assert_int_equal(verify(&v, NULL), 1);
    char *dump = json_dumps(v, 0);
    assert_non_null(strstr(dump, "checkpoint_mismatch"));
    free(dump);
    json_decref(v);
    restore();

    /* a checkpoint deleted from the middle: the next one names it */
    sql("DELETE FROM audit_checkpoints WHERE seq = %lld", c1);
    expect_bad(c1, "checkpoint_missing", NULL);
    restore();

    /* a key that is not pinned: a PEM with another P-256 key only */
    char other[300];
    snprintf(other, sizeof other, "%s/other.pem", G.root);
    assert_int_equal(
        apm_proc_sh("openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl ec -pubout "
                    "2>/dev/null > '%s'",
                    other),
        0);
    assert_int_equal(ctl("audit verify --trust '%s' --json", other), 1);
    v = json_loads(G.o.out, 0, NULL);
    assert_non_null(v);
    assert_int_equal(jint(v, "first_bad_seq"), sql_int("SELECT min(seq) FROM audit_checkpoints"));
    assert_string_equal(jtext(json_array_get(json_object_get(v, "problems"), 0), "kind"), "untrusted_key");
    json_decref(v);

    expect_ok("after every restore");
    assert_int_equal(head_seq(), head);
}

/* Test 3. */
static void test_state_catches_rollback(void **state)
{
    (void)state;
    char st[300];
    snprintf(st, sizeof st, "%s/audit.state", G.root);
    long long cp = checkpoint_now();
    attest_ok(); /* entries after the checkpoint, not signed yet */
    long long head = head_seq();
    assert_true(head > cp);
    json_t *v = NULL;
    char opt[400];
    snprintf(opt, sizeof opt, "--state '%s'", st);
    assert_int_equal(verify(&v, opt), 0);
    assert_true(json_is_true(json_object_get(json_object_get(v, "state"), "updated")));
    assert_int_equal(jint(v, "unsigned_entries"), head - cp);
    json_decref(v);
    char *saved = e2e_slurp(st);
    assert_non_null(strstr(saved, "\"version\": 1"));

    backup();
    sql("DELETE FROM audit_log WHERE seq > %lld", cp);
    /* without memory, the removal of an unsigned tail cannot be seen ... */
    expect_ok("unsigned tail removed, no --state");
    /* ... with it, it can, and the state file is left as it was */
    expect_bad(cp + 1, "rollback", opt);
    char *after = e2e_slurp(st);
    assert_string_equal(after, saved);
    free(after);
    restore();
    assert_int_equal(verify(&v, opt), 0);
    json_decref(v);

    /* a state file this drotctl did not write: refused, left alone */
    write_text(st, "{\"version\": 1, \"seq\": \"x\"}");
    assert_int_equal(ctl("audit verify --keys '%s' %s", G.keys, opt), 1);
    assert_non_null(strstr(G.o.err, "not a state file"));
    after = e2e_slurp(st);
    assert_string_equal(after, "{\"version\": 1, \"seq\": \"x\"}");
    free(after);
    write_text(st, saved);
    free(saved);
}

/* Test 4. */
static void test_bad_requests(void **state)
{
    (void)state;
    long long head = head_seq(), cps = sql_int("SELECT count(*) FROM audit_checkpoints");
    /* drotctl usage errors */
    assert_int_equal(ctl("audit verify"), 2);
    assert_non_null(strstr(G.o.err, "--keys DIR"));
    assert_int_equal(ctl("audit list --limit 0"), 2);
    assert_int_equal(ctl("audit list --limit 1001"), 2);
    assert_int_equal(ctl("audit list --after -3"), 2);
    assert_int_equal(ctl("audit frobnicate"), 2);
    assert_int_equal(ctl("audit verify --trust '%s/nope.pem'", G.root), 1);
    assert_int_equal(ctl("audit verify --keys '%s/ref'", G.root), 1);
    assert_int_equal(ctl("audit --help"), 0);
    assert_non_null(strstr(G.o.out, "export-key"));
    /* the admin API itself */
    char base[800];
    snprintf(base, sizeof base,
             "curl -s -o /dev/null -w '%%{http_code}' --cacert '%s' --cert '%s/operators/admin.crt.pem' "
             "--key '%s/operators/admin.key.pem' --pass '%s'",
             G.ca, G.keys, G.keys, PASSPHRASE);
    static const struct {
        const char *opts, *path, *code;
    } bad[] = {
        {"", "/v1/admin/audit?limit=5000", "400"},
        {"", "/v1/admin/audit?after=abc", "400"},
        {"", "/v1/admin/audit/checkpoints?limit=-1", "400"},
        {"-X POST --data '{\"seq\": 1}'", "/v1/admin/audit/checkpoint", "400"},
        {"-X POST", "/v1/admin/audit", "405"},
        {"", "/v1/admin/audit/checkpoint", "405"},
        {"", "/v1/admin/audit/entries", "404"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(e2e_run(&G.o, G.root, "%s %s '%s%s'", base, bad[i].opts, G.srv.url, bad[i].path), 0);
        if (strcmp(G.o.out, bad[i].code) != 0)
            fail_msg("%s %s: HTTP %s, wanted %s", bad[i].opts, bad[i].path, G.o.out, bad[i].code);
    }
    /* without an operator certificate: refused */
    assert_int_equal(e2e_run(&G.o, G.root,
                             "curl -s -o /dev/null -w '%%{http_code}' --cacert '%s' '%s/v1/admin/audit'",
                             G.ca, G.srv.url),
                     0);
    assert_string_equal(G.o.out, "401");
    /* drot-server refuses a bad checkpoint interval before it opens anything */
    assert_int_equal(e2e_run(&G.o, G.root,
                             "'%s' --keys '%s' --db 'sqlite:%s/never.db' --audit-checkpoint-every x",
                             DROT_SERVER_BIN, G.keys, G.root),
                     2);
    assert_int_equal(e2e_run(&G.o, G.root,
                             "'%s' --keys '%s' --db 'sqlite:%s/never.db' --audit-checkpoint-every -1",
                             DROT_SERVER_BIN, G.keys, G.root),
                     2);
    char conf[300];
    snprintf(conf, sizeof conf, "%s/bad.conf", G.root);
    write_text(conf, "audit-checkpoint-every = 2000000\n");
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' --config '%s' --keys '%s' --db 'sqlite:%s/never.db'",
                             DROT_SERVER_BIN, conf, G.keys, G.root),
                     2);
    assert_non_null(
        strstr(G.o.err, "bad.conf:1: audit-checkpoint-every: '2000000' is not a number of entries"));
    snprintf(conf, sizeof conf, "%s/never.db", G.root);
    assert_int_equal(access(conf, F_OK), -1); /* no database was made */
    /* nothing changed */
    assert_int_equal(head_seq(), head);
    assert_int_equal(sql_int("SELECT count(*) FROM audit_checkpoints"), cps);
    expect_ok("after the bad requests");
}

/* Test 5. */
static void test_attest_atomic_with_audit(void **state)
{
    (void)state;
    attest_ok();
    char q[200];
    long long head = head_seq(), rows = sql_int("SELECT count(*) FROM attestations");
    snprintf(q, sizeof q, "SELECT attest_count FROM devices WHERE hex(device_id) = upper('%s')", G.devid);
    long long n_att = sql_int(q);
    assert_true(n_att >= 1);
    sql("CREATE TRIGGER refuse_attest_entry BEFORE INSERT ON audit_log WHEN NEW.action = 'device.attest' "
        "BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END");
    int rc = attest_once();
    if (rc == 0 && strstr(G.o.out, "PASS") != NULL)
        fail_msg("an attestation whose audit entry failed passed: %s", G.o.out);
    assert_int_equal(sql_int("SELECT count(*) FROM attestations"), rows);
    assert_int_equal(sql_int(q), n_att);
    assert_int_equal(head_seq(), head);
    sql("DROP TRIGGER refuse_attest_entry");
    attest_ok();
    assert_int_equal(sql_int("SELECT count(*) FROM attestations"), rows + 1);
    assert_int_equal(sql_int(q), n_att + 1);
    assert_int_equal(head_seq(), head + 1);
    long long id = sql_int("SELECT max(id) FROM attestations");
    char want[64];
    snprintf(want, sizeof want, "\"attestation_id\":%lld", id);
    json_t *all = all_entries();
    const json_t *last = json_array_get(all, json_array_size(all) - 1);
    assert_string_equal(jtext(last, "action"), "device.attest");
    assert_non_null(strstr(jtext(last, "detail"), want));
    json_decref(all);
    expect_ok("after the refused attestation");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations_recorded),      cmocka_unit_test(test_tampering_detected),
        cmocka_unit_test(test_state_catches_rollback),   cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_attest_atomic_with_audit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
