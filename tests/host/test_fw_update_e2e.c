/*
 * test_fw_update_e2e.c — the agent's firmware loop end to end with real
 * processes (docs/firmware.md "The agent's part"): drot-server on SQLite,
 * drotctl publishing and rolling out releases signed by the fleet
 * authority, drot-apm devices deployed with that authority as an anchor,
 * and drot-agent taking each job one step per attestation. Each host keeps
 * its boot stage in DIR/A or DIR/B (DIR/current) and measures it at boot
 * with `drot-agent measure --manifest`. Class upd-a holds device 0, upd-h
 * device 1; their reference values need APM and HOST-OS.
 *
 *   1. APM 1.1 by `drot-agent run`: download, install into the inactive
 *      slot, test boot, PASS on the new image, confirm on the APM (svn fuse
 *      2), job confirmed, rollout done; then APM 1.0 (SVN 1) is refused by
 *      the APM as a downgrade, the job fails, the device still runs 1.1
 *   2. HOST-OS 1.1 with --host-fw: staged in DIR/B, DIR/current switched,
 *      DIR/A untouched, job installed; the host reboots into it, the next
 *      PASS confirms it (svn fuse HOST-OS 2); a downgrade is refused
 *   3. the agent killed after each step (the steps done by hand, then the
 *      agent run again): after the install it only activates; after the
 *      activation it confirms; after the APM's confirm it only reports
 *   4. the APM's power cut at several writes of the agent's install: after
 *      the restart the agent finishes the job, exactly one APM image runs
 *   5. a trial whose attestation is not a PASS (the class's reference does
 *      not allow the new image's digest): the agent aborts it, the APM runs
 *      its old image, the job is reported failed
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot_crypto.h"
#include "e2e_proc.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

#define NDEV  2
#define PASS  "firmware update e2e passphrase"
#define jint  e2e_jint
#define jtext e2e_jtext

static struct {
    char root[128], keys[200], ca[240], db[240], ref[240], reg[240];
    e2e_server srv;
    apm_proc dev[NDEV];
    char storage[NDEV][240], hostfw[NDEV][240], devid[NDEV][33];
    e2e_out o;
} G;

/* ---- helpers ------------------------------------------------------------------------------ */

static json_t *admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *admin(const char *fmt, ...)
{
    char args[1500];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_drotctl(&G.o, G.root, G.srv.url, G.keys, G.ca, args);
}

static int agent(int k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agent(int k, const char *fmt, ...)
{
    char args[1500];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_run(&G.o, G.root, "'%s' --socket '%s' --link-key '%s' %s", DROT_AGENT_BIN, G.dev[k].sock,
                   G.dev[k].key, args);
}

/* The options of attest-once / run for device k. */
static const char *opts(int k)
{
    static char s[1000];
    snprintf(s, sizeof s, "--server '%s' --ca '%s' --storage '%s' --host-fw '%s'", G.srv.url, G.ca,
             G.storage[k], G.hostfw[k]);
    return s;
}

/* One attestation and one step of the job; the verdict. */
static char *attest_step(int k)
{
    static char verdict[8];
    int rc = agent(k, "attest-once %s --json", opts(k));
    json_t *j = json_loads(G.o.out, 0, NULL);
    if (j == NULL)
        fail_msg("attest-once on device %d: exit %d: %s %s", k, rc, G.o.out, G.o.err);
    snprintf(verdict, sizeof verdict, "%s", jtext(j, "verdict"));
    json_decref(j);
    return verdict;
}

/* A file of size bytes, variant seed. */
static void write_image(const char *path, uint32_t seed, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = seed * 2654435761u;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    assert_int_equal(fclose(f), 0);
}

/* ROOT/<name>.img (size bytes) and its manifest ROOT/<name>.cose, signed by
 * the fleet authority. */
static void make_release(const char *name, const char *component, const char *version, int svn, uint32_t seed,
                         size_t size)
{
    char img[300], man[300];
    snprintf(img, sizeof img, "%s/%s.img", G.root, name);
    snprintf(man, sizeof man, "%s/%s.cose", G.root, name);
    write_image(img, seed, size);
    unlink(man);
    if (e2e_run(&G.o, G.root,
                "'%s' firmware sign --dir '%s' --component %s --version %s --svn %d --out '%s' '%s'",
                DROTCTL_BIN, G.keys, component, version, svn, man, img) != 0)
        fail_msg("sign %s: %s", name, G.o.err);
}

static void publish(const char *name)
{
    json_t *j = admin("firmware publish '%s/%s.cose' '%s/%s.img' --json", G.root, name, G.root, name);
    if (j == NULL)
        fail_msg("publish %s: %s", name, G.o.err);
    json_decref(j);
}

/* A rollout of (component, version) to class cls; its id. */
static long long rollout(const char *cls, const char *component, const char *version, int attempts)
{
    json_t *j = admin("firmware rollout --class %s --component %s --version %s --max-in-flight 5 "
                      "--max-attempts %d --json",
                      cls, component, version, attempts);
    if (j == NULL)
        fail_msg("rollout: %s", G.o.err);
    long long id = jint(json_object_get(j, "rollout"), "id");
    json_decref(j);
    assert_true(id > 0);
    return id;
}

/* The state of device k's job in rollout id, and its error into err. */
static const char *job_state(long long id, int k, char *err, size_t cap)
{
    static char state[16];
    json_t *r = admin("firmware rollout-show %lld --json", id);
    assert_non_null(r);
    state[0] = '\0';
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "device_jobs"), i,
                       j) if (strcmp(jtext(j, "device_id"), G.devid[k]) == 0)
    {
        snprintf(state, sizeof state, "%s", jtext(j, "state"));
        if (err != NULL)
            snprintf(err, cap, "%s", jtext(j, "error"));
    }
    json_decref(r);
    return state;
}

/* fw status --json of device k (caller frees). */
static json_t *fw_status(int k)
{
    if (agent(k, "fw status --json") != 0)
        fail_msg("fw status on device %d: %s", k, G.o.err);
    json_t *j = json_loads(G.o.out, 0, NULL);
    assert_non_null(j);
    return j;
}

static long long svn_of(int k, const char *component)
{
    json_t *s = fw_status(k);
    long long v = jint(json_object_get(s, "svns"), component);
    json_decref(s);
    return v;
}

/* The version of the APM image that runs (measurement 0). */
static void expect_apm_version(int k, const char *version)
{
    assert_int_equal(agent(k, "info --json"), 0);
    json_t *j = json_loads(G.o.out, 0, NULL);
    assert_non_null(j);
    json_t *m0 = json_array_get(json_object_get(j, "measurements"), 0);
    if (strcmp(jtext(m0, "version"), version) != 0)
        fail_msg("device %d runs APM %s, not %s", k, jtext(m0, "version"), version);
    json_decref(j);
}

/* The host's boot: its stage from DIR/current, verified by the APM, measured. */
static void host_boot(int k)
{
    if (agent(k, "measure --manifest '%s/current/HOST-OS.cose' '%s/current/HOST-OS.img'", G.hostfw[k],
              G.hostfw[k]) != 0)
        fail_msg("host boot of device %d: %s", k, G.o.err);
}

/* Power off and on: the APM restarts, the host boots again. */
static void power_cycle(int k)
{
    apm_proc_kill(&G.dev[k]);
    apm_proc_start(&G.dev[k]);
    host_boot(k);
}

/* Attest-once steps on device k until its job in rollout id is in state
 * want (at most n steps); the test fails naming the agent's last words. */
static void steps_until(int k, long long id, const char *want, int n)
{
    char err[400] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(job_state(id, k, err, sizeof err), want) == 0)
            return;
        attest_step(k);
    }
    const char *st = job_state(id, k, err, sizeof err);
    if (strcmp(st, want) != 0)
        fail_msg("device %d: job of rollout %lld is %s (%s), not %s; agent: %s", k, id, st, err, want,
                 G.o.err);
}

/* ---- setup ------------------------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    for (int k = 0; k < NDEV; k++)
        G.dev[k].pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "fwupd");
    setenv("DROT_KEY_PASSPHRASE", PASS, 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    /* The fleet authority signed the devices' factory APM image too: the
     * APM derives its sealing key from that signer, so only updates by the
     * same authority keep the device's sealed storage (firmware.h F9). */
    assert_int_equal(apm_proc_sh("openssl pkey -in '%s/authority.key.pem' -passin env:DROT_KEY_PASSPHRASE "
                                 "-out '%s/auth.pem' 2>/dev/null",
                                 G.keys, G.root),
                     0);
    assert_int_equal(
        apm_proc_sh("mkdir -p '%s' && for c in upd-a upd-h; do printf '{\"class\":\"%%s\","
                    "\"components\":[{\"type\":\"APM\"},{\"type\":\"HOST-OS\"}]}' $c > '%s/'$c.json; "
                    "done",
                    G.ref, G.ref),
        0);
    make_release("os-1.0", "HOST-OS", "1.0", 1, 100, 4096);
    FILE *reg = fopen(G.reg, "w");
    assert_non_null(reg);
    fputc('[', reg);
    for (int k = 0; k < NDEV; k++) {
        char name[16];
        snprintf(name, sizeof name, "dev%d", k);
        apm_proc_provision(&G.dev[k], G.root, name);
        assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, G.dev[k].state), 0);
        apm_proc_start(&G.dev[k]);
        for (size_t i = 0; i < 16; i++)
            snprintf(G.devid[k] + 2 * i, 3, "%02x", G.dev[k].device_id[i]);
        snprintf(G.storage[k], sizeof G.storage[k], "%s/storage%d", G.root, k);
        snprintf(G.hostfw[k], sizeof G.hostfw[k], "%s/hostfw%d", G.root, k);
        /* the host as manufactured: HOST-OS 1.0 in DIR/A, current -> A */
        assert_int_equal(apm_proc_sh("mkdir -p '%s/A' && cp '%s/os-1.0.img' '%s/A/HOST-OS.img' && "
                                     "cp '%s/os-1.0.cose' '%s/A/HOST-OS.cose' && ln -s A '%s/current'",
                                     G.hostfw[k], G.root, G.hostfw[k], G.root, G.hostfw[k], G.hostfw[k]),
                         0);
        host_boot(k);
        char *ident = e2e_slurp(G.dev[k].identity);
        char *brace = strchr(ident, '{');
        assert_non_null(brace);
        fprintf(reg, "%s{\"class\":\"%s\",%s", k ? "," : "", k == 0 ? "upd-a" : "upd-h", brace + 1);
        free(ident);
    }
    fputc(']', reg);
    assert_int_equal(fclose(reg), 0);
    const char *args[] = {
        "--db", G.db, "--keys", G.keys, "--reference", G.ref, "--register", G.reg, "--attest-interval",
        "1",    NULL};
    e2e_server_start(&G.srv, G.ca, args);
    for (int k = 0; k < NDEV; k++)
        if (agent(k, "enroll --server '%s' --ca '%s' --storage '%s'", G.srv.url, G.ca, G.storage[k]) != 0)
            fail_msg("enroll of device %d: %s", k, G.o.err);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    e2e_server_kill(&G.srv);
    for (int k = 0; k < NDEV; k++)
        apm_proc_kill(&G.dev[k]);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------------- */

/* Test 1. */
static void test_apm_update_and_downgrade(void **state)
{
    (void)state;
    expect_apm_version(0, "1.0.0");
    assert_int_equal(svn_of(0, "APM"), 0);
    make_release("apm-1.1", "APM", "1.1", 2, 11, 20000);
    publish("apm-1.1");
    long long id = rollout("upd-a", "APM", "1.1", 3);
    /* the daemon: 1 s between attestations, and 1 s after the test boot */
    if (agent(0, "run %s --max-cycles 4", opts(0)) != 0)
        fail_msg("drot-agent run: %s", G.o.err);
    if (strstr(G.o.err, "on trial (test boot)") == NULL || strstr(G.o.err, "confirmed on the APM") == NULL)
        fail_msg("the agent did not test-boot and confirm: %s", G.o.err);
    char err[400];
    if (strcmp(job_state(id, 0, err, sizeof err), "confirmed") != 0)
        fail_msg("the job is %s (%s); agent: %s", job_state(id, 0, NULL, 0), err, G.o.err);
    expect_apm_version(0, "1.1");
    assert_int_equal(svn_of(0, "APM"), 2);
    json_t *s = fw_status(0);
    assert_string_equal(jtext(s, "trial"), "none");
    assert_string_equal(jtext(s, "active"), jtext(s, "running"));
    json_decref(s);
    assert_string_equal(attest_step(0), "PASS");
    json_t *r = admin("firmware rollout-show %lld --json", id);
    assert_non_null(r);
    assert_string_equal(jtext(r, "state"), "done");
    json_decref(r);
    assert_int_equal(apm_proc_sh("test ! -e '%s/firmware/'*.part", G.storage[0]),
                     0); /* nothing left behind */

    /* 1.0 with SVN 1 is below the fuse (2): the APM refuses it, the job fails */
    make_release("apm-1.0", "APM", "1.0", 1, 10, 20000);
    publish("apm-1.0");
    long long down = rollout("upd-a", "APM", "1.0", 1);
    assert_string_equal(attest_step(0), "PASS");
    if (strstr(G.o.err, "the APM refused APM 1.0") == NULL)
        fail_msg("the downgrade was not refused by the APM: %s", G.o.err);
    const char *st = job_state(down, 0, err, sizeof err);
    if (strcmp(st, "failed") != 0 || strstr(err, "svn fuse") == NULL)
        fail_msg("the downgrade's job is %s (%s)", st, err);
    expect_apm_version(0, "1.1");
    assert_int_equal(svn_of(0, "APM"), 2);
    assert_string_equal(attest_step(0), "PASS");
}

/* Test 2. */
static void test_host_stage_update(void **state)
{
    (void)state;
    make_release("os-1.1", "HOST-OS", "1.1", 2, 101, 300000);
    publish("os-1.1");
    long long id = rollout("upd-h", "HOST-OS", "1.1", 3);
    char cur[8] = "";
    assert_string_equal(attest_step(1), "PASS");
    if (strstr(G.o.err, "the host's next boot runs it") == NULL)
        fail_msg("the stage was not staged: %s", G.o.err);
    assert_string_equal(job_state(id, 1, NULL, 0), "installed");
    char link[300];
    snprintf(link, sizeof link, "%s/current", G.hostfw[1]);
    ssize_t n = readlink(link, cur, sizeof cur - 1);
    assert_int_equal(n, 1);
    cur[1] = '\0';
    assert_string_equal(cur, "B");
    assert_int_equal(apm_proc_sh("cmp -s '%s/os-1.1.img' '%s/B/HOST-OS.img' && cmp -s '%s/os-1.0.img' "
                                 "'%s/A/HOST-OS.img' && cmp -s '%s/os-1.1.cose' '%s/B/HOST-OS.cose'",
                                 G.root, G.hostfw[1], G.root, G.hostfw[1], G.root, G.hostfw[1]),
                     0);
    /* before the host reboots, nothing more happens */
    assert_string_equal(attest_step(1), "PASS");
    assert_string_equal(job_state(id, 1, NULL, 0), "installed");
    assert_int_equal(svn_of(1, "HOST-OS"), 0);
    /* the host reboots into DIR/B: the next PASS confirms it */
    power_cycle(1);
    assert_string_equal(attest_step(1), "PASS");
    if (strstr(G.o.err, "HOST-OS 1.1 confirmed on the APM") == NULL)
        fail_msg("HOST-OS 1.1 was not confirmed: %s", G.o.err);
    assert_string_equal(job_state(id, 1, NULL, 0), "confirmed");
    assert_int_equal(svn_of(1, "HOST-OS"), 2);
    /* a downgrade of the stage: refused by the APM (its SVN is below the fuse) */
    publish("os-1.0");
    long long down = rollout("upd-h", "HOST-OS", "1.0", 1);
    assert_string_equal(attest_step(1), "PASS");
    char err[400];
    if (strcmp(job_state(down, 1, err, sizeof err), "failed") != 0)
        fail_msg("the stage's downgrade was not refused: %s; agent: %s", err, G.o.err);
    n = readlink(link, cur, sizeof cur - 1);
    cur[n > 0 ? n : 0] = '\0';
    assert_string_equal(cur, "B"); /* nothing staged */
}

/* Test 3. */
static void test_killed_after_each_step(void **state)
{
    (void)state;
    char man[300], img[300];
    /* after the install: the agent only activates */
    make_release("apm-1.2", "APM", "1.2", 3, 12, 20000);
    publish("apm-1.2");
    long long id = rollout("upd-a", "APM", "1.2", 3);
    snprintf(man, sizeof man, "%s/apm-1.2.cose", G.root);
    snprintf(img, sizeof img, "%s/apm-1.2.img", G.root);
    assert_int_equal(agent(0, "fw install '%s' '%s'", man, img), 0);
    assert_string_equal(attest_step(0), "PASS");
    if (strstr(G.o.err, "APM 1.2 on trial (test boot)") == NULL || strstr(G.o.err, "download") != NULL)
        fail_msg("after an install by hand the agent should only activate: %s", G.o.err);
    steps_until(0, id, "confirmed", 3);
    expect_apm_version(0, "1.2");

    /* after the activation: the agent confirms */
    make_release("apm-1.3", "APM", "1.3", 4, 13, 20000);
    publish("apm-1.3");
    id = rollout("upd-a", "APM", "1.3", 3);
    snprintf(man, sizeof man, "%s/apm-1.3.cose", G.root);
    snprintf(img, sizeof img, "%s/apm-1.3.img", G.root);
    assert_int_equal(agent(0, "fw install '%s' '%s'", man, img), 0);
    assert_int_equal(agent(0, "fw activate"), 0);
    host_boot(0); /* the APM's reset emptied its measurements */
    assert_string_equal(attest_step(0), "PASS");
    if (strstr(G.o.err, "APM 1.3 confirmed on the APM") == NULL)
        fail_msg("after an activation by hand the agent should confirm: %s", G.o.err);
    assert_string_equal(job_state(id, 0, NULL, 0), "confirmed");
    assert_int_equal(svn_of(0, "APM"), 4);

    /* after the APM's confirm: the agent only reports */
    make_release("apm-1.4", "APM", "1.4", 5, 14, 20000);
    publish("apm-1.4");
    id = rollout("upd-a", "APM", "1.4", 3);
    snprintf(man, sizeof man, "%s/apm-1.4.cose", G.root);
    snprintf(img, sizeof img, "%s/apm-1.4.img", G.root);
    assert_int_equal(agent(0, "fw install '%s' '%s'", man, img), 0);
    assert_int_equal(agent(0, "fw activate"), 0);
    assert_int_equal(agent(0, "fw confirm APM"), 0);
    host_boot(0);
    assert_string_equal(attest_step(0), "PASS");
    if (strstr(G.o.err, "confirmed on the APM") != NULL)
        fail_msg("the agent confirmed twice: %s", G.o.err);
    assert_string_equal(job_state(id, 0, NULL, 0), "confirmed");
    assert_int_equal(svn_of(0, "APM"), 5);
    expect_apm_version(0, "1.4");
}

/* Test 4. */
static void test_power_cuts(void **state)
{
    (void)state;
    static const int cuts[] = {1, 2, 3, 5, 8};
    int hit = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[32], version[16];
        snprintf(name, sizeof name, "apm-2.%zu", i);
        snprintf(version, sizeof version, "2.%zu", i);
        int svn = 6 + (int)i;
        make_release(name, "APM", version, svn, 20 + (uint32_t)i, 20000);
        publish(name);
        long long id = rollout("upd-a", "APM", version, 5);
        char cmd[64];
        snprintf(cmd, sizeof cmd, "power-cut %d", cuts[i]);
        assert_non_null(strstr(apm_proc_control(&G.dev[0], cmd), "ok"));
        attest_step(0); /* the APM loses power somewhere in the agent's step, or not */
        bool powered = strstr(apm_proc_control_try(&G.dev[0], "status"), "\"powered\": true") != NULL;
        if (!powered) {
            hit++;
            apm_proc_kill(&G.dev[0]); /* it has exited: collect it */
            apm_proc_start(&G.dev[0]);
            host_boot(0);
        } else {
            assert_non_null(strstr(apm_proc_control(&G.dev[0], "power-cut 0"), "ok"));
        }
        steps_until(0, id, "confirmed", 8);
        expect_apm_version(0, version);
        assert_int_equal(svn_of(0, "APM"), svn);
        json_t *s = fw_status(0);
        assert_string_equal(jtext(s, "trial"), "none");
        json_decref(s);
        assert_string_equal(attest_step(0), "PASS");
    }
    print_message("power cuts during the agent's firmware steps: %d of %zu cut points hit\n", hit,
                  sizeof cuts / sizeof cuts[0]);
    assert_true(hit >= 3);
}

/* Test 5. */
static void test_trial_not_pass(void **state)
{
    (void)state;
    /* the class now allows only the digest of the image the device runs */
    json_t *s = fw_status(0);
    json_t *run = json_array_get(json_object_get(s, "slots"), strcmp(jtext(s, "running"), "A") == 0 ? 0 : 1);
    char digest[65], version[40];
    snprintf(digest, sizeof digest, "%s", jtext(run, "digest"));
    snprintf(version, sizeof version, "%s", jtext(run, "version"));
    json_decref(s);
    char ref[300];
    snprintf(ref, sizeof ref, "%s/strict.json", G.root);
    assert_int_equal(
        apm_proc_sh("printf '{\"class\":\"upd-a\",\"components\":[{\"type\":\"APM\",\"digests\":[\"%s\"]},"
                    "{\"type\":\"HOST-OS\"}]}' > '%s'",
                    digest, ref),
        0);
    if (e2e_run(&G.o, G.root,
                "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
                "--ca '%s' class set-reference upd-a '%s'",
                DROTCTL_BIN, G.srv.url, G.keys, G.keys, G.ca, ref) != 0)
        fail_msg("set-reference: %s", G.o.err);
    make_release("apm-3.0", "APM", "3.0", 20, 30, 20000);
    publish("apm-3.0");
    long long id = rollout("upd-a", "APM", "3.0", 1);
    assert_string_equal(attest_step(0), "PASS"); /* install and test boot */
    if (strstr(G.o.err, "on trial (test boot)") == NULL)
        fail_msg("no test boot: %s", G.o.err);
    assert_string_equal(attest_step(0), "FAIL"); /* on the trial: a digest the class does not allow */
    if (strstr(G.o.err, "the trial was aborted") == NULL)
        fail_msg("the agent did not abort the trial: %s", G.o.err);
    char err[400];
    const char *st = job_state(id, 0, err, sizeof err);
    if (strcmp(st, "failed") != 0 || strstr(err, "FAIL") == NULL)
        fail_msg("the job is %s (%s)", st, err);
    expect_apm_version(0, version); /* the abort reset the APM; the agent measured the host again */
    s = fw_status(0);
    assert_string_equal(jtext(s, "trial"), "none");
    json_decref(s);
    assert_string_equal(attest_step(0), "PASS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apm_update_and_downgrade), cmocka_unit_test(test_host_stage_update),
        cmocka_unit_test(test_killed_after_each_step),   cmocka_unit_test(test_power_cuts),
        cmocka_unit_test(test_trial_not_pass),
    };
    return cmocka_run_group_tests_name("fw_update_e2e", tests, group_setup, group_teardown);
}
