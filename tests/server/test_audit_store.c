/*
 * test_audit_store.c — the audit log's storage (server/src/audit.h), run by
 * CTest against SQLite and against a private PostgreSQL cluster
 * (store_fixture.h), one source for both.
 *
 * Test 1: the encoding of docs/audit.md / audit_chain.h against hashes
 *         computed independently (Python hashlib over the documented bytes).
 * Test 2: appends chain: seq 1..n, prev_hash links, canonical detail,
 *         paging, ds_audit_check.
 * Test 3: bad input is refused with a reason and writes nothing.
 * Test 4: an append joins the caller's transaction (rolls back with it).
 * Test 5: ds_audit_check finds an altered, a deleted and a swapped entry.
 * Test 6: checkpoints: signed head, idempotent, chained by prev_seq, refused
 *         over a tampered segment or when the signer fails.
 * Test 7: automatic checkpoints every N appends.
 * Test 8: two processes appending at once never fork the chain or leave a
 *         gap.
 * Test 9: two processes appending with automatic checkpoints at once: the
 *         checkpoints still form one chain (prev_seq), each signs the entry
 *         at its seq, and every signature verifies.
 * Test 10: an append from inside the backend's own attestation transaction
 *         (the in_tx hook of ds_attestation_record_update, as routes.c
 *         does) joins it: the entry commits with the row; an append that
 *         fails (a trigger on audit_log installed behind the store's back)
 *         rolls back the row and its device-row changes; ds_audit_committed
 *         then signs the automatic checkpoint the joined append did not.
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

#include "audit.h"
#include "drot_crypto.h"
#include "sql.h"
#include "store_fixture.h"

static void unhex32(const char *s, uint8_t out[32])
{
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* 1. Known answers, computed outside this code from the documented bytes. */
static void test_encoding_vectors(void **state)
{
    (void)state;
    static const uint8_t zero[32];
    uint8_t h1[32], h2[32], d[32], want[32];
    assert_int_equal(ds_audit_entry_hash(1, 1767225600, "operator:admin", "device.status",
                                         "00112233445566778899aabbccddeeff",
                                         "{\"from\":\"active\",\"to\":\"quarantined\"}", zero, h1),
                     DROT_OK);
    unhex32("97e83a70710a263356bc295816b444f7075ba4dc448463d629920e75152af404", want);
    assert_memory_equal(h1, want, 32);
    /* negative time, multi-byte UTF-8 (length in bytes), empty subject */
    assert_int_equal(ds_audit_entry_hash(2, -5, "server", "caf\xc3\xa9", "", "{}", h1, h2), DROT_OK);
    unhex32("739a1dc9d367002aca425f525f5e43ad978557df069180aae2cdaa341466c0e6", want);
    assert_memory_equal(h2, want, 32);
    char fpr[65];
    for (int i = 0; i < 32; i++)
        memcpy(fpr + 2 * i, "ab", 2);
    fpr[64] = '\0';
    assert_int_equal(ds_audit_checkpoint_digest(2, h2, 1767225700, 0, fpr, d), DROT_OK);
    unhex32("85769f29e6ff7f8645b40a71ac825df17a1e9330ba1056cb9fca6a2538377e30", want);
    assert_memory_equal(d, want, 32);
    /* length prefixes: moving a byte between fields changes the hash */
    uint8_t a[32], b[32];
    assert_int_equal(ds_audit_entry_hash(1, 0, "ab", "c", "", "{}", zero, a), DROT_OK);
    assert_int_equal(ds_audit_entry_hash(1, 0, "a", "bc", "", "{}", zero, b), DROT_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(ds_audit_entry_hash(1, 0, NULL, "a", "", "{}", zero, a), DROT_E_ARG);
}

typedef struct seen {
    int n;
    int64_t seq[16];
    char detail[16][64];
    char actor[16][48];
    uint8_t hash[16][32], prev[16][32];
} seen;

static int take(const ds_audit_entry *e, void *ctx)
{
    seen *s = ctx;
    assert_true(e->hashes_ok);
    uint8_t h[32];
    assert_int_equal(
        ds_audit_entry_hash(e->seq, e->at, e->actor, e->action, e->subject, e->detail, e->prev_hash, h),
        DROT_OK);
    assert_memory_equal(h, e->hash, 32);
    if (s->n < 16) {
        s->seq[s->n] = e->seq;
        snprintf(s->detail[s->n], sizeof s->detail[0], "%s", e->detail);
        snprintf(s->actor[s->n], sizeof s->actor[0], "%s", e->actor);
        memcpy(s->hash[s->n], e->hash, 32);
        memcpy(s->prev[s->n], e->prev_hash, 32);
    }
    s->n++;
    return 0;
}

static void append_n(fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        char d[64];
        snprintf(d, sizeof d, "{\"i\": %d}", i);
        ds_status st = ds_audit_append(f->s, "server", "test.append", "t", d);
        if (st != DS_OK)
            fail_msg("append: %s", ds_store_error(f->s));
    }
}

static long long count(fx *f, const char *table)
{
    char sql[100];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return raw_scalar(f, sql);
}

/* 2. Appends form a chain. */
static void test_append_chain(void **state)
{
    fx *f = *state;
    int64_t seq = -1;
    uint8_t head[32], hash[32];
    assert_int_equal(ds_audit_head(f->s, &seq, head), DS_OK);
    assert_int_equal(seq, 0);
    static const uint8_t zero[32];
    assert_memory_equal(head, zero, 32);

    assert_int_equal(ds_audit_append_ex(f->s, "operator:admin", "device.status",
                                        "00112233445566778899aabbccddeeff",
                                        "{ \"to\": \"quarantined\",\n \"from\": \"active\" }", &seq, hash),
                     DS_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(
        ds_audit_append(f->s, "device:00112233445566778899aabbccddeeff", "device.attest", "", NULL), DS_OK);
    append_n(f, 3);
    assert_int_equal(ds_audit_head(f->s, &seq, head), DS_OK);
    assert_int_equal(seq, 5);

    seen s;
    memset(&s, 0, sizeof s);
    assert_int_equal(ds_audit_list(f->s, 0, 100, take, &s), DS_OK);
    assert_int_equal(s.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s.seq[i], i + 1);
    assert_memory_equal(s.prev[0], zero, 32);
    assert_memory_equal(s.hash[0], hash, 32);
    for (int i = 1; i < 5; i++)
        assert_memory_equal(s.prev[i], s.hash[i - 1], 32);
    assert_memory_equal(s.hash[4], head, 32);
    /* canonical detail: compact, keys sorted; NULL is {} */
    assert_string_equal(s.detail[0], "{\"from\":\"active\",\"to\":\"quarantined\"}");
    assert_string_equal(s.detail[1], "{}");
    assert_string_equal(s.actor[1], "device:00112233445566778899aabbccddeeff");

    /* paging */
    memset(&s, 0, sizeof s);
    assert_int_equal(ds_audit_list(f->s, 2, 2, take, &s), DS_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[0], 3);
    assert_int_equal(s.seq[1], 4);
    assert_int_equal(ds_audit_list(f->s, 0, 0, take, &s), DS_E_ARG);
    assert_int_equal(ds_audit_list(f->s, 0, DS_AUDIT_LIST_MAX + 1, take, &s), DS_E_ARG);
    int64_t bad = -1;
    assert_int_equal(ds_audit_check(f->s, &bad), DS_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(raw_scalar(f, "SELECT CAST(max(seq) AS BIGINT) FROM audit_log"), 5);
}

/* 3. Bad input: DS_E_ARG, a reason naming the field, nothing written. */
static void test_bad_input(void **state)
{
    fx *f = *state;
    append_n(f, 1);
    char big[DS_AUDIT_DETAIL_MAX + 64];
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"k\":\"", 6);
    memcpy(big + sizeof big - 3, "\"}", 3);
    char long_subject[DS_AUDIT_SUBJ_MAX + 2];
    memset(long_subject, 's', sizeof long_subject - 1);
    long_subject[sizeof long_subject - 1] = '\0';
    char long_actor[DS_AUDIT_ACTOR_MAX + 2];
    memset(long_actor, 'a', sizeof long_actor - 1);
    long_actor[sizeof long_actor - 1] = '\0';
    struct {
        const char *actor, *action, *subject, *detail, *why;
    } bad[] = {
        {NULL, "a.b", "", "{}", "actor"},
        {"", "a.b", "", "{}", "actor"},
        {"operator:has space", "a.b", "", "{}", "actor"},
        {long_actor, "a.b", "", "{}", "actor"},
        {"server", NULL, "", "{}", "action"},
        {"server", "Device.Status", "", "{}", "action"},
        {"server", "a b", "", "{}", "action"},
        {"server", "a.b", NULL, "{}", "subject"},
        {"server", "a.b", "line\nbreak", "{}", "subject"},
        {"server", "a.b", "\xff\xfe", "{}", "subject"},
        {"server", "a.b", "\xc0\xaf", "{}", "subject"}, /* overlong '/' */
        {"server", "a.b", long_subject, "{}", "subject"},
        {"server", "a.b", "", "[1, 2]", "JSON object"},
        {"server", "a.b", "", "\"text\"", "JSON object"},
        {"server", "a.b", "", "{\"a\": 1", "JSON object"},            /* truncated */
        {"server", "a.b", "", "{\"a\": 1, \"a\": 2}", "JSON object"}, /* duplicate key */
        {"server", "a.b", "", "{} {}", "JSON object"},                /* trailing */
        {"server", "a.b", "", big, "over the limit"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ds_status st = ds_audit_append(f->s, bad[i].actor, bad[i].action, bad[i].subject, bad[i].detail);
        if (st != DS_E_ARG || strstr(ds_store_error(f->s), bad[i].why) == NULL)
            fail_msg("case %zu: status %d, message '%s' (wanted DS_E_ARG naming %s)", i, (int)st,
                     ds_store_error(f->s), bad[i].why);
    }
    assert_int_equal(count(f, "audit_log"), 1);
    assert_int_equal(ds_audit_append(NULL, "server", "a.b", "", "{}"), DS_E_ARG);
    /* the bounds themselves are accepted */
    long_subject[DS_AUDIT_SUBJ_MAX] = '\0';
    long_actor[DS_AUDIT_ACTOR_MAX] = '\0';
    assert_int_equal(ds_audit_append(f->s, long_actor, "a.b", long_subject, "{}"), DS_OK);
    assert_int_equal(
        ds_audit_append(f->s, "server", "a.b", "caf\xc3\xa9 \xf0\x9f\x94\x91", "{\"k\":\"\\u00e9\"}"), DS_OK);
    assert_int_equal(count(f, "audit_log"), 3);
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
}

/* 4. An append inside the caller's transaction commits or rolls back with it. */
static void test_joins_transaction(void **state)
{
    fx *f = *state;
    append_n(f, 1);
    assert_int_equal(ds_sql_begin(f->s), DS_OK);
    assert_int_equal(ds_audit_append(f->s, "server", "tx.rolled-back", "", "{}"), DS_OK);
    assert_int_equal(ds_sql_rollback(f->s, DS_OK), DS_OK);
    assert_int_equal(count(f, "audit_log"), 1);
    assert_int_equal(ds_sql_begin(f->s), DS_OK);
    assert_int_equal(ds_audit_append(f->s, "server", "tx.committed", "", "{}"), DS_OK);
    assert_int_equal(ds_audit_append(f->s, "server", "tx.committed", "", "{}"), DS_OK);
    assert_int_equal(ds_sql_commit(f->s), DS_OK);
    assert_int_equal(count(f, "audit_log"), 3);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log WHERE action = 'tx.rolled-back'"), 0);
    assert_int_equal(raw_scalar(f, "SELECT CAST(max(seq) AS BIGINT) FROM audit_log"), 3);
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
}

static void expect_bad(fx *f, int64_t want, const char *why)
{
    int64_t bad = 0;
    assert_int_equal(ds_audit_check(f->s, &bad), DS_E_CORRUPT);
    if (bad != want || strstr(ds_store_error(f->s), why) == NULL)
        fail_msg("bad seq %lld, message '%s' (wanted %lld, '%s')", (long long)bad, ds_store_error(f->s),
                 (long long)want, why);
}

/* 5. ds_audit_check names the first bad entry. */
static void test_check_finds_tampering(void **state)
{
    fx *f = *state;
    append_n(f, 6);
    raw_exec(f, "UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 3");
    expect_bad(f, 3, "altered");
    raw_exec(f, "UPDATE audit_log SET detail = '{\"i\":2}' WHERE seq = 3");
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
    /* swap the contents of 4 and 5 (keeping seq): 4 no longer follows 3 */
    raw_exec(f, "UPDATE audit_log SET seq = 100 WHERE seq = 4");
    raw_exec(f, "UPDATE audit_log SET seq = 4 WHERE seq = 5");
    raw_exec(f, "UPDATE audit_log SET seq = 5 WHERE seq = 100");
    expect_bad(f, 4, "prev_hash");
    raw_exec(f, "UPDATE audit_log SET seq = 100 WHERE seq = 4");
    raw_exec(f, "UPDATE audit_log SET seq = 4 WHERE seq = 5");
    raw_exec(f, "UPDATE audit_log SET seq = 5 WHERE seq = 100");
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
    raw_exec(f, "DELETE FROM audit_log WHERE seq = 2");
    expect_bad(f, 2, "missing");
}

/* ---- a test signer: a fixed P-256 key -------------------------------------------- */

typedef struct tsigner {
    drot_p256_priv priv;
    drot_p256_pub pub;
    int calls;
    bool fail;
} tsigner;

static ds_status tsign(void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    tsigner *t = ctx;
    t->calls++;
    if (t->fail)
        return DS_E_DB;
    return drot_ecdsa_p256_sign(&t->priv, digest, sig) == DROT_OK ? DS_OK : DS_E_DB;
}

static void make_signer(ds_audit_signer *sg, tsigner *t)
{
    memset(t, 0, sizeof *t);
    uint8_t d[32];
    for (int i = 0; i < 32; i++)
        d[i] = (uint8_t)(i + 1);
    assert_int_equal(drot_p256_key_from_scalar(d, &t->priv, &t->pub), DROT_OK);
    memset(sg, 0, sizeof *sg);
    memset(sg->key_fpr, 'c', DS_AUDIT_FPR_LEN);
    sg->sign = tsign;
    sg->ctx = t;
}

static void check_sig(const tsigner *t, const ds_audit_checkpoint *c)
{
    uint8_t d[32];
    assert_int_equal(ds_audit_checkpoint_digest(c->seq, c->hash, c->at, c->prev_seq, c->key_fpr, d), DROT_OK);
    assert_int_equal(drot_ecdsa_p256_verify(&t->pub, d, c->signature, 64), DROT_OK);
}

typedef struct cps {
    int n;
    ds_audit_checkpoint c[8];
} cps;

static int take_cp(const ds_audit_checkpoint *c, void *ctx)
{
    cps *l = ctx;
    if (l->n < 8)
        l->c[l->n] = *c;
    l->n++;
    return 0;
}

/* 6. Checkpoints. */
static void test_checkpoints(void **state)
{
    fx *f = *state;
    tsigner t;
    ds_audit_signer sg;
    make_signer(&sg, &t);
    ds_audit_checkpoint c1, c2, c3;
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c1), DS_E_NOT_FOUND);
    append_n(f, 3);
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c1), DS_OK);
    assert_int_equal(c1.seq, 3);
    assert_int_equal(c1.prev_seq, 0);
    int64_t hs;
    uint8_t hh[32];
    assert_int_equal(ds_audit_head(f->s, &hs, hh), DS_OK);
    assert_memory_equal(c1.hash, hh, 32);
    check_sig(&t, &c1);
    /* unchanged head: the same checkpoint, nothing signed */
    int calls = t.calls;
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c2), DS_OK);
    assert_int_equal(t.calls, calls);
    assert_memory_equal(&c1, &c2, sizeof c1);
    assert_int_equal(count(f, "audit_checkpoints"), 1);

    append_n(f, 2);
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c2), DS_OK);
    assert_int_equal(c2.seq, 5);
    assert_int_equal(c2.prev_seq, 3);
    check_sig(&t, &c2);

    cps l;
    memset(&l, 0, sizeof l);
    assert_int_equal(ds_audit_checkpoint_list(f->s, 0, 10, take_cp, &l), DS_OK);
    assert_int_equal(l.n, 2);
    assert_memory_equal(&l.c[0], &c1, sizeof c1);
    assert_memory_equal(&l.c[1], &c2, sizeof c2);
    memset(&l, 0, sizeof l);
    assert_int_equal(ds_audit_checkpoint_list(f->s, 3, 10, take_cp, &l), DS_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(ds_audit_checkpoint_list(f->s, 0, 0, take_cp, &l), DS_E_ARG);

    /* an entry after the last checkpoint altered: nothing is signed over it */
    append_n(f, 2);
    raw_exec(f, "UPDATE audit_log SET actor = 'operator:mallory' WHERE seq = 6");
    calls = t.calls;
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c3), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "entry 6"));
    assert_int_equal(t.calls, calls);
    assert_int_equal(count(f, "audit_checkpoints"), 2);
    raw_exec(f, "UPDATE audit_log SET actor = 'server' WHERE seq = 6");
    /* the checkpointed entry itself altered */
    raw_exec(f, "UPDATE audit_log SET at = at + 1 WHERE seq = 5");
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c3), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "entry 5"));
    raw_exec(f, "UPDATE audit_log SET at = at - 1 WHERE seq = 5");
    /* a failing signer: nothing stored */
    t.fail = true;
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c3), DS_E_ARG);
    assert_int_equal(count(f, "audit_checkpoints"), 2);
    t.fail = false;
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c3), DS_OK);
    assert_int_equal(c3.seq, 7);
    assert_int_equal(c3.prev_seq, 5);
    check_sig(&t, &c3);
    /* bad signer arguments, and not inside another transaction */
    ds_audit_signer nofpr = sg;
    nofpr.key_fpr[10] = '\0';
    assert_int_equal(ds_audit_sign_head(f->s, &nofpr, &c3), DS_E_ARG);
    assert_int_equal(ds_sql_begin(f->s), DS_OK);
    assert_int_equal(ds_audit_sign_head(f->s, &sg, &c3), DS_E_ARG);
    assert_int_equal(ds_sql_rollback(f->s, DS_OK), DS_OK);
    assert_int_equal(count(f, "audit_checkpoints"), 3);
}

static char g_logged[512];

static void tlog(void *ctx, const char *msg)
{
    (void)ctx;
    snprintf(g_logged, sizeof g_logged, "%s", msg);
}

/* 7. Automatic checkpoints every N appends of this process. */
static void test_auto_checkpoint(void **state)
{
    fx *f = *state;
    tsigner t;
    ds_audit_signer sg;
    make_signer(&sg, &t);
    sg.log = tlog;
    ds_audit_auto_checkpoint(&sg, 3);
    append_n(f, 7);
    cps l;
    memset(&l, 0, sizeof l);
    assert_int_equal(ds_audit_checkpoint_list(f->s, 0, 10, take_cp, &l), DS_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.c[0].seq, 3);
    assert_int_equal(l.c[1].seq, 6);
    assert_int_equal(l.c[1].prev_seq, 3);
    check_sig(&t, &l.c[1]);
    /* a failing signer never fails the append; the failure is logged */
    t.fail = true;
    g_logged[0] = '\0';
    append_n(f, 2);
    assert_int_equal(count(f, "audit_log"), 9);
    assert_non_null(strstr(g_logged, "entry 9"));
    ds_audit_auto_checkpoint(NULL, 0);
    t.fail = false;
    append_n(f, 5);
    assert_int_equal(count(f, "audit_checkpoints"), 2);
}

/* 8. Two processes appending at once: one chain, no gap, nothing lost. */
#define PER_CHILD 150
static void test_concurrent_appenders(void **state)
{
    fx *f = *state;
    append_n(f, 1);
    int go[2]; /* both children start when the parent closes the write end */
    assert_int_equal(pipe(go), 0);
    for (int k = 0; k < 2; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(9);
            ds_store *s = NULL;
            char err[256];
            if (ds_store_open(f->url, &s, err, sizeof err) != DS_OK)
                _exit(10);
            char actor[32];
            snprintf(actor, sizeof actor, "device:child%d", k);
            for (int i = 0; i < PER_CHILD; i++) {
                char d[64];
                snprintf(d, sizeof d, "{\"i\":%d}", i);
                ds_status st = ds_audit_append(s, actor, "test.concurrent", "", d);
                if (st != DS_OK) {
                    fprintf(stderr, "child %d append %d: %s\n", k, i, ds_store_error(s));
                    _exit(11);
                }
                /* SQLite's busy handler polls: a writer that begins again at
                 * once would starve the other and the test would see no
                 * interleaving at all. */
                usleep(2000);
            }
            ds_store_close(s);
            _exit(0);
        }
        f->kids[k] = pid;
    }
    close(go[0]);
    close(go[1]);
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(f->kids[k], &status, 0), f->kids[k]);
        f->kids[k] = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(count(f, "audit_log"), 1 + 2 * PER_CHILD);
    assert_int_equal(raw_scalar(f, "SELECT CAST(max(seq) AS BIGINT) FROM audit_log"), 1 + 2 * PER_CHILD);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log WHERE actor = 'device:child0'"),
                     PER_CHILD);
    assert_int_equal(raw_scalar(f, "SELECT count(*) FROM audit_log WHERE actor = 'device:child1'"),
                     PER_CHILD);
    /* the children did interleave (else this test proves little) */
    assert_true(raw_scalar(f, "SELECT count(*) FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1 "
                              "WHERE a.actor <> b.actor AND a.seq > 1") > 1);
    int64_t bad = -1;
    ds_status st = ds_audit_check(f->s, &bad);
    if (st != DS_OK)
        fail_msg("chain broken at %lld: %s", (long long)bad, ds_store_error(f->s));
}

typedef struct one_hash {
    bool found;
    uint8_t hash[32];
} one_hash;

static int take_hash(const ds_audit_entry *e, void *ctx)
{
    one_hash *h = ctx;
    h->found = true;
    memcpy(h->hash, e->hash, 32);
    return 1;
}

/* 9. Concurrent automatic checkpoints. */
#define CP_PER_CHILD 60
static void test_concurrent_checkpoints(void **state)
{
    fx *f = *state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    for (int k = 0; k < 2; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(9);
            tsigner t;
            ds_audit_signer sg;
            make_signer(&sg, &t);
            ds_audit_auto_checkpoint(&sg, 4);
            ds_store *s = NULL;
            char err[256];
            if (ds_store_open(f->url, &s, err, sizeof err) != DS_OK)
                _exit(10);
            for (int i = 0; i < CP_PER_CHILD; i++) {
                if (ds_audit_append(s, k ? "device:b" : "device:a", "test.cp", "", NULL) != DS_OK)
                    _exit(11);
                ds_audit_checkpoint got;
                /* and now and then on request, as an operator would */
                ds_status cs = i % 7 == 3 ? ds_audit_sign_head(s, &sg, &got) : DS_OK;
                if (cs != DS_OK && cs != DS_E_BUSY) { /* busy: checkpoints kept racing in; documented */
                    fprintf(stderr, "child %d sign: %s\n", k, ds_store_error(s));
                    _exit(12);
                }
                usleep(1000);
            }
            ds_store_close(s);
            _exit(0);
        }
        f->kids[k] = pid;
    }
    close(go[0]);
    close(go[1]);
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(f->kids[k], &status, 0), f->kids[k]);
        f->kids[k] = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(count(f, "audit_log"), 2 * CP_PER_CHILD);
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
    tsigner t;
    ds_audit_signer sg;
    make_signer(&sg, &t);
    cps l;
    int64_t after = 0, prev = 0, n = 0;
    do {
        memset(&l, 0, sizeof l);
        assert_int_equal(ds_audit_checkpoint_list(f->s, after, 8, take_cp, &l), DS_OK);
        for (int i = 0; i < l.n && i < 8; i++) {
            const ds_audit_checkpoint *c = &l.c[i];
            assert_int_equal(c->prev_seq, prev);
            assert_true(c->seq > prev);
            check_sig(&t, c);
            one_hash h = {false, {0}};
            assert_int_equal(ds_audit_list(f->s, c->seq - 1, 1, take_hash, &h), DS_OK);
            assert_true(h.found);
            assert_memory_equal(h.hash, c->hash, 32);
            prev = after = c->seq;
            n++;
        }
    } while (l.n == 8);
    /* every 4 appends of each, plus the requested ones: many, and no two for one head */
    assert_true(n >= 2 * CP_PER_CHILD / 8);
    assert_int_equal(count(f, "audit_checkpoints"), n);
}

/* 10. The in_tx hook's append joins the backend's own transaction. */
typedef struct hook_ctx {
    int64_t seq;
    bool in_tx_seen;
} hook_ctx;

static ds_status audit_hook(ds_store *s, const ds_attest_outcome *out, void *ctx)
{
    hook_ctx *h = ctx;
    char d[64];
    snprintf(d, sizeof d, "{\"attestation_id\": %lld}", (long long)out->id);
    ds_status st = ds_audit_append_ex(s, "device:00112233445566778899aabbccddeeff", "device.attest",
                                      "00112233445566778899aabbccddeeff", d, &h->seq, NULL);
    h->in_tx_seen = true;
    return st;
}

static void test_attestation_transaction(void **state)
{
    fx *f = *state;
    tsigner t;
    ds_audit_signer sg;
    make_signer(&sg, &t);
    ds_audit_auto_checkpoint(&sg, 2);
    register_n(f, 1, 1, "c");
    ds_attestation a = {.at = 1700000000, .result = DS_RESULT_PASS, .reasons = ""};
    make_id(1, a.device_id);
    hook_ctx h = {0, false};
    ds_attest_update u = {.set_tamper_count = true, .tamper_count = 4, .in_tx = audit_hook, .in_tx_ctx = &h};
    ds_attest_outcome out;
    /* committed together; no checkpoint yet although the head reached 2: a
     * joined append never signs (the head is not committed yet) */
    append_n(f, 1);
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_OK);
    assert_true(h.in_tx_seen);
    assert_int_equal(h.seq, 2);
    assert_int_equal(count(f, "attestations"), 1);
    assert_int_equal(count(f, "audit_log"), 2);
    assert_int_equal(count(f, "audit_checkpoints"), 0);
    char q[160];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM audit_log WHERE seq = 2 AND detail = '{\"attestation_id\":%lld}'",
             (long long)out.id);
    assert_int_equal(raw_scalar(f, q), 1);
    ds_audit_committed(f->s, h.seq);
    assert_int_equal(count(f, "audit_checkpoints"), 1);
    assert_int_equal(raw_scalar(f, "SELECT CAST(max(seq) AS BIGINT) FROM audit_checkpoints"), 2);

    /* the append fails: nothing of the attestation is left */
    if (f->pg)
        raw_exec(f, "CREATE FUNCTION drot_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'injected audit failure'; END $$; "
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW "
                    "EXECUTE FUNCTION drot_test_refuse()");
    else
        raw_exec(f, "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END");
    a.at++;
    a.result = DS_RESULT_FAIL;
    u.tamper_count = 5;
    u.quarantine = true;
    u.reason = "auto";
    h.seq = 0;
    ds_status st = ds_attestation_record_update(f->s, &a, &u, &out);
    assert_int_not_equal(st, DS_OK);
    assert_non_null(strstr(ds_store_error(f->s), "injected audit failure"));
    assert_int_equal(out.id, 0);
    assert_int_equal(count(f, "attestations"), 1);
    assert_int_equal(count(f, "audit_log"), 2);
    ds_device d;
    assert_int_equal(ds_device_get(f->s, a.device_id, &d), DS_OK);
    assert_int_equal(d.tamper_count, 4);
    assert_int_equal(d.attest_count, 1);
    assert_int_equal(d.last_result, DS_RESULT_PASS);
    assert_int_not_equal(d.status, DS_DEV_QUARANTINED);
    raw_exec(f, f->pg ? "DROP TRIGGER refuse ON audit_log; DROP FUNCTION drot_test_refuse()"
                      : "DROP TRIGGER refuse");
    /* and the store is usable again: the same record goes through */
    assert_int_equal(ds_attestation_record_update(f->s, &a, &u, &out), DS_OK);
    assert_int_equal(h.seq, 3);
    assert_int_equal(count(f, "attestations"), 2);
    assert_int_equal(ds_audit_check(f->s, NULL), DS_OK);
    ds_audit_auto_checkpoint(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_vectors),
        cmocka_unit_test_setup_teardown(test_append_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_joins_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
