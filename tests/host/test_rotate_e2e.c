/*
 * test_rotate_e2e.c — DRoT device-root-key rotation end to end with real
 * processes (docs/drot.md): drotctl init keys, a drot-apm device deployed
 * with the server's authority key as anchor 1, drot-server on SQLite over
 * TLS 1.3, and drot-agent attest-once carrying out the job.
 *
 *   1. server mode: `drotctl rotate` → the agent's next attestation runs
 *      the job; the registry and the APM agree on epoch 1 and the new key;
 *      the old key is in the key history; the next attestation PASSes; an
 *      APM holding the old key (a copy of its state taken before: a stolen
 *      old DRK) is refused
 *   2. device mode: the same with the key generated inside the APM
 *   3. power-cut sweep: the APM's power is cut after each fuse/flash write
 *      of a rotation (clean and torn), the APM restarted, the agent run
 *      again: every run ends with the job completed exactly once, the
 *      registry agreeing with the APM, and a PASS
 *   4. bad requests: a rotation for an unknown device, a second open job,
 *      a bad mode: refused with a clear error and nothing created
 *   5. the server dies at each step of a job (drot-server-crashtest: before
 *      and after the job is issued, before and after it is completed) and is
 *      restarted on the same database: the rotation completes exactly once
 *   6. the routes themselves, driven step by step with libdrot-host: a
 *      receipt signed by another key, or posted for another job, is refused
 *      and the job stays issued; the instruction given to the APM twice is
 *      refused the second time (its nonce is spent); the APM's real receipt
 *      completes the job, and posting it again gives the same answer
 *   7. trust-anchor rotation: `drotctl authority rotate` makes authority-2
 *      and a job; the agent's next attestation carries out its four steps;
 *      the next root-key rotation is signed by authority-2 and completes;
 *      an instruction signed by the old authority is now refused by the APM
 *      (its anchor is revoked)
 *   8. a power cut after each fuse write of a trust-anchor rotation, clean
 *      and torn, each on a fresh device (every rotation takes an anchor
 *      slot): after the restart the agent finishes the job (a lost REVOKE
 *      answer included), and a root rotation signed by the new key then
 *      completes on the device
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
#include <curl/curl.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot/cose.h"
#include "drot/host.h"
#include "drot/rotate.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "drot_test_support.h"
#include "e2e_proc.h"
#include "keys.h"
#include "rotation.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif
#ifndef DROT_SERVER_CRASHTEST_BIN
#error "DROT_SERVER_CRASHTEST_BIN must name drot-server-crashtest"
#endif

static struct {
    char root[128], keys[200], ca[240], db[240], storage[240], devid[33], anchor[65], reg[240], ref[240];
    e2e_server srv;
    apm_proc dev;
    apm_proc extra; /* a second device a test runs for a while: killed in teardown if a test fails */
    e2e_out o;
} G;

/* ---- helpers ------------------------------------------------------------------------ */

/* drotctl with the operator's GLOBAL options; the JSON it printed (caller
 * frees), or NULL when it failed (G.o holds its output). */
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

/* drot-agent attest-once on device p with the device's storage. */
static int attest_dev(const apm_proc *p, const char *storage)
{
    return e2e_run(&G.o, G.root,
                   "'%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' --storage '%s'",
                   DROT_AGENT_BIN, p->sock, p->key, G.srv.url, G.ca, storage);
}

/* drot-agent attest-once on device p with the main device's storage. */
static int attest_once(const apm_proc *p)
{
    return attest_dev(p, G.storage);
}
#define jint  e2e_jint
#define jtext e2e_jtext

/* A new rotation job for the device; its id. */
static long long rotate(const char *mode)
{
    json_t *j = admin("rotate %s --mode %s --json", G.devid, mode);
    if (j == NULL)
        fail_msg("drotctl rotate failed: %s", G.o.err);
    assert_string_equal(jtext(j, "state"), "pending");
    long long id = jint(j, "id");
    json_decref(j);
    return id;
}

static json_t *job(long long id)
{
    json_t *j = admin("rotations show %lld --json", id);
    assert_non_null(j);
    return j;
}

/* Runs attest-once on p until job id is completed (6 tries at most); the
 * completed job (caller frees), or the test fails naming what. */
static json_t *until_completed(apm_proc *p, const char *storage, long long id, const char *what)
{
    json_t *j = NULL;
    for (int tries = 0; tries < 6; tries++) {
        json_decref(j);
        j = job(id);
        if (strcmp(jtext(j, "state"), "completed") == 0)
            return j;
        attest_dev(p, storage);
    }
    fail_msg("%s: job %lld is %s (%s); agent: %s", what, id, jtext(j, "state"), jtext(j, "error"), G.o.err);
    return NULL;
}

/* The registry and the APM agree: same epoch, same key; returns the epoch. */
static long long agree(void)
{
    json_t *d = admin("devices show %s --json", G.devid);
    assert_non_null(d);
    drot_link_info info;
    assert_int_equal(dh_get_info(apm_proc_driver(&G.dev), &info), DH_OK);
    char hex[131];
    for (size_t i = 0; i < 65; i++)
        snprintf(hex + 2 * i, 3, "%02x", info.drk_pub[i]);
    assert_int_equal(jint(d, "epoch"), (long long)info.epoch);
    assert_string_equal(jtext(d, "drk_pub"), hex);
    long long epoch = jint(d, "epoch");
    json_decref(d);
    return epoch;
}

static void expect_pass(void)
{
    int rc = attest_once(&G.dev);
    if (rc != 0 || strstr(G.o.out, "PASS") == NULL)
        fail_msg("expected a PASS; exit %d, stdout %s, stderr %s", rc, G.o.out, G.o.err);
}

/* drot-server (bin NULL) or the crash-test build, on the same port and database. */
static void server_start(const char *bin, const char *crash_at)
{
    const char *args[] = {
        "--db", G.db, "--keys", G.keys, "--reference", G.ref, "--register", G.reg, "--attest-interval",
        "1",    NULL};
    G.srv.bin = bin;
    G.srv.crash_at = crash_at;
    e2e_server_start(&G.srv, G.ca, args);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    G.dev.pid = -1;
    G.extra.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "rotate");
    setenv("DROT_KEY_PASSPHRASE", "rotation e2e test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.storage, sizeof G.storage, "%s/storage", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    json_t *init = json_loads(G.o.out, 0, NULL);
    assert_non_null(init);
    assert_int_equal(strlen(jtext(init, "authority_anchor")), 64);
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
    server_start(NULL, NULL);
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
    apm_proc_kill(&G.extra);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Test 1. */
static void test_server_mode(void **state)
{
    (void)state;
    expect_pass();
    long long epoch0 = agree();
    json_t *before = admin("devices show %s --json", G.devid);
    assert_non_null(before);
    char old_drk[131];
    strcpy(old_drk, jtext(before, "drk_pub"));
    json_decref(before);
    /* The old key, stolen: a copy of the APM's state as it is now. */
    assert_int_equal(
        apm_proc_sh("cp -a '%s' '%s/stolen' && rm -f '%s/stolen/apm.sock' '%s/stolen/control.sock'",
                    G.dev.state, G.root, G.root, G.root),
        0);

    long long id = rotate("server");
    assert_int_equal(attest_once(&G.dev), 0);
    if (strstr(G.o.err, "completed, the device root key is now at epoch") == NULL)
        fail_msg("the agent did not complete the job: %s", G.o.err);
    json_t *j = job(id);
    assert_string_equal(jtext(j, "state"), "completed");
    assert_int_equal(jint(j, "attempts"), 1);
    json_decref(j);
    assert_int_equal(agree(), epoch0 + 1);
    json_t *d = admin("devices show %s --json", G.devid);
    assert_non_null(d);
    assert_string_not_equal(jtext(d, "drk_pub"), old_drk);
    json_t *hist = json_object_get(d, "key_history");
    assert_true(json_array_size(hist) >= 1);
    assert_string_equal(jtext(json_array_get(hist, json_array_size(hist) - 1), "drk_pub"), old_drk);
    json_decref(d);
    expect_pass();

    /* The stolen old key is worth nothing now. */
    apm_proc *stolen = &G.extra;
    *stolen = G.dev;
    stolen->pid = -1;
    stolen->driver = NULL;
    snprintf(stolen->state, sizeof stolen->state, "%s/stolen", G.root);
    snprintf(stolen->sock, sizeof stolen->sock, "%s/apm.sock", stolen->state);
    snprintf(stolen->ctl, sizeof stolen->ctl, "%s/control.sock", stolen->state);
    snprintf(stolen->key, sizeof stolen->key, "%s/host-link.key", stolen->state);
    apm_proc_start(stolen);
    int rc = attest_once(stolen);
    apm_proc_kill(stolen);
    if (rc == 0 || strstr(G.o.out, "PASS") != NULL)
        fail_msg("an APM holding the old key was accepted: exit %d, %s %s", rc, G.o.out, G.o.err);
    expect_pass();
}

/* Test 2. */
static void test_device_mode(void **state)
{
    (void)state;
    long long epoch0 = agree();
    long long id = rotate("device");
    assert_int_equal(attest_once(&G.dev), 0);
    if (strstr(G.o.err, "(device mode): completed") == NULL)
        fail_msg("the agent did not complete the device-mode job: %s", G.o.err);
    json_t *j = job(id);
    assert_string_equal(jtext(j, "state"), "completed");
    json_decref(j);
    assert_int_equal(agree(), epoch0 + 1);
    expect_pass();
}

/* Test 3: one sweep, clean or torn cuts; returns the cut points covered. */
static int sweep(const char *mode, bool torn)
{
    int cuts = 0;
    for (int k = 1; k < 40; k++) {
        long long epoch0 = agree();
        long long id = rotate(mode);
        char cmd[64];
        snprintf(cmd, sizeof cmd, "power-cut %d%s", k, torn ? " torn" : "");
        assert_non_null(strstr(apm_proc_control(&G.dev, cmd), "ok"));
        attest_once(&G.dev); /* the APM loses power somewhere inside the job, or not at all */
        bool powered = strstr(apm_proc_control_try(&G.dev, "status"), "\"powered\": true") != NULL;
        if (!powered) {
            apm_proc_kill(&G.dev); /* it has exited (status 3): collect it */
            apm_proc_start(&G.dev);
            cuts++;
        }
        char what[64];
        snprintf(what, sizeof what, "%s mode, cut %d%s", mode, k, torn ? " torn" : "");
        json_decref(until_completed(&G.dev, G.storage, id, what));
        assert_int_equal(agree(), epoch0 + 1); /* exactly once */
        expect_pass();
        if (powered) { /* the cut point lay beyond the rotation's last write */
            assert_non_null(strstr(apm_proc_control(&G.dev, "power-cut 0"), "ok")); /* disarm */
            break;
        }
    }
    return cuts;
}

static void test_power_cut_sweep(void **state)
{
    (void)state;
    int server_clean = sweep("server", false);
    int server_torn = sweep("server", true);
    int device_clean = sweep("device", false);
    print_message(
        "power-cut sweep over whole rotations: server mode %d clean + %d torn cut points, device mode "
        "%d clean\n",
        server_clean, server_torn, device_clean);
    assert_true(server_clean >= 3 && server_torn >= 3 && device_clean >= 3);
}

/* Test 4. */
static void test_bad_requests(void **state)
{
    (void)state;
    assert_null(admin("rotate %s --json", "00112233445566778899aabbccddeeff"));
    assert_non_null(strstr(G.o.err, "drotctl: "));
    assert_null(admin("rotate %s --mode sideways", G.devid));
    assert_non_null(strstr(G.o.err, "server or device"));
    long long id = rotate("server");
    assert_null(admin("rotate %s --json", G.devid)); /* one open job per device */
    json_t *j = admin("rotations cancel %lld --reason 'test over' --json", id);
    assert_non_null(j);
    assert_string_equal(jtext(j, "state"), "cancelled");
    json_decref(j);
    j = admin("rotations --device %s --state pending --json", G.devid);
    assert_non_null(j);
    assert_int_equal(jint(j, "count"), 0);
    json_decref(j);
    expect_pass(); /* the cancelled job is not offered */
    assert_null(strstr(G.o.err, "rotation job"));
}

/* Test 5. */
static void test_server_crash(void **state)
{
    (void)state;
    static const char *const points[] = {"begin-before-issue", "begin-after-issue", "receipt-before-complete",
                                         "receipt-after-complete"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        long long epoch0 = agree();
        long long id = rotate(i % 2 == 0 ? "server" : "device");
        e2e_server_kill(&G.srv);
        server_start(DROT_SERVER_CRASHTEST_BIN, points[i]);
        attest_once(&G.dev);
        int st = e2e_server_wait_exit(&G.srv, 10000);
        if (st != 137)
            fail_msg("the crash-test server did not die at %s (status %d); agent: %s", points[i], st,
                     G.o.err);
        server_start(NULL, NULL);
        char what[64];
        snprintf(what, sizeof what, "after a crash at %s", points[i]);
        json_t *j = until_completed(&G.dev, G.storage, id, what);
        assert_true(jint(j, "attempts") >= 1 && jint(j, "attempts") <= 2);
        json_decref(j);
        assert_int_equal(agree(), epoch0 + 1); /* exactly once */
        expect_pass();
        print_message("server killed at %s: job %lld completed after restart\n", points[i], id);
    }
}

/* The device's sealed TLS key or certificate as a NUL-terminated string. */
static char *sealed_text(const char *label)
{
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(dh_storage_get(apm_proc_driver(&G.dev), G.storage, label, &data, &len), DH_OK);
    char *s = calloc(1, len + 1);
    assert_non_null(s);
    memcpy(s, data, len);
    dh_storage_free(data, len);
    return s;
}

/* A receipt for (nonce, tbs) at new_epoch signed by key. */
static size_t receipt_by(const drot_p256_priv *k, const drot_p256_pub *pub, uint64_t new_epoch,
                         const uint8_t nonce[32], const uint8_t tbs[32], uint8_t *out, size_t cap)
{
    drot_rotate_receipt r;
    memcpy(r.device_id, G.dev.device_id, 16);
    r.new_epoch = new_epoch;
    memcpy(r.nonce, nonce, 32);
    memcpy(r.instruction, tbs, 32);
    size_t len = 0;
    assert_int_equal(drot_rotate_receipt_sign(k, pub, &r, out, cap, &len), DROT_OK);
    return len;
}

/* Test 6. */
static void test_receipt_attacks(void **state)
{
    (void)state;
    long long epoch0 = agree();
    long long id = rotate("server");
    dh_driver *drv = apm_proc_driver(&G.dev);
    char *key = sealed_text("tls-key.pem"), *cert = sealed_text("tls-cert.pem");
    dh_server_options so = {.url = G.srv.url, .ca_file = G.ca, .cert_pem = cert, .key_pem = key};
    dh_server *srv = NULL;
    assert_int_equal(dh_server_open(&srv, &so), DH_OK);
    static uint8_t token[DROT_LINK_MAX_TOKEN], msg[DROT_LINK_ROT_MAX_MSG], rc[DROT_LINK_ROT_MAX_MSG];
    uint8_t nonce[32], ch[32], exporter[32], tbs[32];
    size_t token_len = 0, msg_len = 0, rc_len = 0;
    assert_int_equal(dh_rotation_nonce(drv, nonce), DH_OK);
    assert_int_equal(dh_server_challenge(srv, G.dev.device_id, ch, exporter), DH_OK);
    assert_int_equal(dh_attest(drv, ch, exporter, DROT_LINK_PROFILE_DROT, token, sizeof token, &token_len),
                     DH_OK);
    assert_int_equal(dh_server_rotate_begin(srv, (uint64_t)id, ch, token, token_len, nonce, NULL, 0, msg,
                                            sizeof msg, &msg_len),
                     DH_OK);
    drot_cose_sign1_view v;
    assert_int_equal(drot_cose_sign1_decode(msg, msg_len, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_tbs_digest(&v, NULL, 0, tbs), DROT_OK);

    drot_rng rng = drot_sysrng();
    drot_p256_priv other;
    drot_p256_pub other_pub;
    assert_int_equal(drot_p256_keygen(&rng, &other, &other_pub), DROT_OK);
    uint64_t epoch = 0;
    size_t n = receipt_by(&other, &other_pub, (uint64_t)epoch0 + 1, nonce, tbs, rc, sizeof rc);
    assert_int_equal(dh_server_rotate_receipt(srv, (uint64_t)id, rc, n, &epoch), DH_E_REFUSED);
    assert_non_null(strstr(dh_server_last_error(srv), "signed by the new key"));
    json_t *j = job(id);
    assert_string_equal(jtext(j, "state"), "issued");
    json_decref(j);

    /* The real one, from the APM; a replay of the instruction is spent. */
    assert_int_equal(dh_rotate_root(drv, msg, msg_len, rc, sizeof rc, &rc_len), DH_OK);
    assert_int_equal(dh_rotate_root(drv, msg, msg_len, msg + msg_len, 0, &n), DH_E_REFUSED);
    assert_int_equal(dh_server_rotate_receipt(srv, (uint64_t)id + 1000, rc, rc_len, &epoch), DH_E_REFUSED);
    assert_int_equal(dh_server_last_http(srv), 404);
    assert_int_equal(dh_server_rotate_receipt(srv, (uint64_t)id, rc, rc_len, &epoch), DH_OK);
    assert_int_equal(epoch, (uint64_t)epoch0 + 1);
    assert_int_equal(dh_server_rotate_receipt(srv, (uint64_t)id, rc, rc_len, &epoch), DH_OK); /* idempotent */
    j = job(id);
    assert_string_equal(jtext(j, "state"), "completed");
    json_decref(j);
    dh_server_close(srv);
    drot_wipe(&other, sizeof other);
    free(key);
    free(cert);
    assert_int_equal(agree(), epoch0 + 1);
    expect_pass();
}

/* Test 7. */
static void test_anchor_rotation(void **state)
{
    (void)state;
    json_t *j = admin("authority rotate --dir '%s' --json", G.keys);
    if (j == NULL)
        fail_msg("drotctl authority rotate failed: %s", G.o.err);
    assert_string_equal(jtext(j, "new_authority"), "authority-2");
    assert_int_equal(jint(j, "jobs_created"), 1);
    long long id = jint(json_array_get(json_object_get(j, "jobs"), 0), "job");
    json_decref(j);
    assert_int_equal(attest_once(&G.dev), 0);
    if (strstr(G.o.err, "trust-anchor rotation job") == NULL || strstr(G.o.err, "completed") == NULL)
        fail_msg("the agent did not complete the anchor rotation: %s", G.o.err);
    j = job(id);
    assert_string_equal(jtext(j, "state"), "completed");
    assert_string_equal(jtext(j, "kind"), "rotate-anchor");
    json_decref(j);

    /* The server now signs this device's instructions with authority-2. */
    long long epoch0 = agree();
    long long rid = rotate("server");
    assert_int_equal(attest_once(&G.dev), 0);
    j = job(rid);
    if (strcmp(jtext(j, "state"), "completed") != 0)
        fail_msg("a root rotation under the new anchor did not complete: %s", G.o.err);
    json_decref(j);
    assert_int_equal(agree(), epoch0 + 1);

    /* An instruction signed by the old authority: refused, its anchor revoked. */
    char pass[] = "rotation e2e test passphrase", err[256];
    ds_keystore *ks = NULL;
    assert_int_equal(ds_keystore_open_file(G.keys, pass, &ks, err, sizeof err), DS_KEYS_OK);
    drot_link_info info;
    dh_driver *drv = apm_proc_driver(&G.dev);
    assert_int_equal(dh_get_info(drv, &info), DH_OK);
    uint8_t nonce[32];
    assert_int_equal(dh_rotation_nonce(drv, nonce), DH_OK);
    static ds_rot_issued is;
    assert_int_equal(ds_rot_server_instruction(ks, "authority", G.dev.device_id, info.epoch, info.drk_pub,
                                               nonce, &is, err, sizeof err),
                     0);
    ds_keystore_close(ks);
    static uint8_t rc[DROT_LINK_ROT_MAX_MSG];
    size_t rc_len = 0;
    assert_int_equal(dh_rotate_root(drv, is.msg, is.msg_len, rc, sizeof rc, &rc_len), DH_E_REFUSED);
    assert_int_equal(dh_driver_last_apm_code(drv), DROT_E_BADKEY);
    assert_int_equal(agree(), epoch0 + 1);
    expect_pass();
}

/* A new device, deployed with the server's authority as anchor 1,
 * registered and enrolled; its storage directory in storage. */
static void fresh_device(apm_proc *p, const char *name, char *storage, size_t cap, char *idhex)
{
    char extra[100];
    snprintf(extra, sizeof extra, "--anchor %s", G.anchor);
    apm_proc_provision_ex(p, G.root, name, extra);
    assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, p->state), 0);
    apm_proc_start(p);
    for (size_t i = 0; i < 16; i++)
        snprintf(idhex + 2 * i, 3, "%02x", p->device_id[i]);
    if (e2e_run(&G.o, G.root,
                "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
                "--ca '%s' "
                "devices register --class sim-v1 '%s'",
                DROTCTL_BIN, G.srv.url, G.keys, G.keys, G.ca, p->identity) != 0)
        fail_msg("register of %s failed: %s", name, G.o.err);
    snprintf(storage, cap, "%s/%s-storage", G.root, name);
    if (e2e_run(&G.o, G.root,
                "'%s' --socket '%s' --link-key '%s' enroll --server '%s' --ca '%s' --storage '%s'",
                DROT_AGENT_BIN, p->sock, p->key, G.srv.url, G.ca, storage) != 0)
        fail_msg("enroll of %s failed: %s", name, G.o.err);
}

/* Test 8. */
static void test_anchor_power_cut(void **state)
{
    (void)state;
    int cuts[2] = {0, 0};
    for (int torn = 0; torn <= 1; torn++) {
        for (int k = 1; k < 10; k++) {
            apm_proc *dp = &G.extra;
            char name[32], storage[240], idhex[33], what[64];
            snprintf(name, sizeof name, "anchor-%d-%d", torn, k);
            snprintf(what, sizeof what, "anchor rotation, cut %d%s", k, torn ? " torn" : "");
            fresh_device(dp, name, storage, sizeof storage, idhex);
            json_t *j =
                admin("authority rotate --dir '%s' --device %s --key authority-2 --json", G.keys, idhex);
            if (j == NULL)
                fail_msg("%s: drotctl authority rotate failed: %s", what, G.o.err);
            long long id = jint(json_array_get(json_object_get(j, "jobs"), 0), "job");
            json_decref(j);
            char cmd[64];
            snprintf(cmd, sizeof cmd, "power-cut %d%s", k, torn ? " torn" : "");
            assert_non_null(strstr(apm_proc_control(dp, cmd), "ok"));
            attest_dev(dp, storage);
            bool powered = strstr(apm_proc_control_try(dp, "status"), "\"powered\": true") != NULL;
            if (!powered) {
                apm_proc_kill(dp);
                apm_proc_start(dp);
                cuts[torn]++;
            } else {
                assert_non_null(strstr(apm_proc_control(dp, "power-cut 0"), "ok"));
            }
            json_decref(until_completed(dp, storage, id, what));
            /* The new anchor works on this device: a root rotation it signs. */
            j = admin("rotate %s --json", idhex);
            assert_non_null(j);
            long long rid = jint(j, "id");
            json_decref(j);
            attest_dev(dp, storage);
            json_decref(until_completed(dp, storage, rid, what));
            apm_proc_kill(dp);
            if (powered)
                break; /* the cut lay beyond the rotation's last write */
        }
    }
    print_message("power-cut sweep over trust-anchor rotations: %d clean + %d torn cut points\n", cuts[0],
                  cuts[1]);
    assert_true(cuts[0] >= 2 && cuts[1] >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_mode),     cmocka_unit_test(test_device_mode),
        cmocka_unit_test(test_power_cut_sweep), cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_server_crash),    cmocka_unit_test(test_receipt_attacks),
        cmocka_unit_test(test_anchor_rotation), cmocka_unit_test(test_anchor_power_cut),
    };
    return cmocka_run_group_tests_name("rotate_e2e", tests, group_setup, group_teardown);
}
