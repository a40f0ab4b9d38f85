/*
 * test_campaign_e2e.c — a rotation campaign over a class, carried out by
 * several devices at once through two drot-server processes that share one
 * PostgreSQL database (docs/drot.md §7): a private cluster
 * (tests/support/pg_cluster.sh, fixture campaign_pg_start), drotctl init
 * keys, four drot-apm devices deployed with the server's authority as an
 * anchor, servers A and B, and the four agents attesting concurrently,
 * each round alternating between A and B.
 *
 *   1. `drotctl rotate --class sim-v1 --max-parallel 2` creates one job per
 *      device; rounds of concurrent attest-once runs carry them out; the
 *      campaign ends done with every job completed exactly once: every
 *      device at epoch 1 (not 2) in the registry and in its APM, with the
 *      same key, and PASS afterwards on both servers
 *   2. a second campaign while one device is quarantined leaves it out
 *   3. the operator's controls on that campaign: list, stop (its jobs are
 *      not offered to the devices), resume, a close refused while jobs are
 *      open, cancel (its pending jobs cancelled with it), a bad state
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
#include <curl/curl.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot/host.h"
#include "e2e_proc.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

#define NDEV 4

static struct {
    char root[128], keys[200], ca[240], pg[512], reg[240], ref[240], anchor[65];
    char devid[NDEV][33], storage[NDEV][240];
    e2e_server a, b;
    apm_proc dev[NDEV];
    e2e_out o;
} G;

static json_t *admin_on(const e2e_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *admin_on(const e2e_server *s, const char *fmt, ...)
{
    char args[1000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    json_t *j = e2e_drotctl(&G.o, G.root, s->url, G.keys, G.ca, args);
    if (j == NULL)
        fail_msg("drotctl %s failed: %s", args, G.o.err);
    return j;
}

#define jint  e2e_jint
#define jtext e2e_jtext

static void server_start(e2e_server *s, const char *log)
{
    const char *args[] = {
        "--db", G.pg, "--keys", G.keys, "--reference", G.ref, "--register", G.reg, "--attest-interval",
        "1",    NULL};
    snprintf(s->log, sizeof s->log, "%s/%s", G.root, log);
    e2e_server_start(s, G.ca, args);
}

/* One round: every device attests once, all at the same time; device i
 * talks to server A or B as (i + round) is even or odd. */
static void round_of_attestations(int round)
{
    char cmd[6000];
    size_t off = 0;
    for (int i = 0; i < NDEV; i++) {
        const e2e_server *s = (i + round) % 2 == 0 ? &G.a : &G.b;
        off += (size_t)snprintf(
            cmd + off, sizeof cmd - off,
            "'%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' --storage "
            "'%s' >>'%s/agent%d.log' 2>&1 & ",
            DROT_AGENT_BIN, G.dev[i].sock, G.dev[i].key, s->url, G.ca, G.storage[i], G.root, i);
        assert_true(off < sizeof cmd);
    }
    snprintf(cmd + off, sizeof cmd - off, "wait");
    apm_proc_sh("%s", cmd);
}

/* Registry (via server s) and APM agree on epoch and key; returns the epoch. */
static long long agree(const e2e_server *s, int i)
{
    json_t *d = admin_on(s, "devices show %s --json", G.devid[i]);
    drot_link_info info;
    assert_int_equal(dh_get_info(apm_proc_driver(&G.dev[i]), &info), DH_OK);
    char hex[131];
    for (size_t k = 0; k < 65; k++)
        snprintf(hex + 2 * k, 3, "%02x", info.drk_pub[k]);
    assert_int_equal(jint(d, "epoch"), (long long)info.epoch);
    assert_string_equal(jtext(d, "drk_pub"), hex);
    long long e = jint(d, "epoch");
    json_decref(d);
    return e;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.a.pid = G.b.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *url_file = getenv("DROT_PG_URL_FILE");
    if (url_file == NULL)
        fail_msg("DROT_PG_URL_FILE is not set: run through ctest (fixture campaign_pg_start)");
    FILE *f = fopen(url_file, "r");
    if (f == NULL)
        fail_msg("cannot read %s: is the cluster fixture running?", url_file);
    bool got = fgets(G.pg, sizeof G.pg, f) != NULL;
    fclose(f);
    assert_true(got);
    G.pg[strcspn(G.pg, "\r\n")] = '\0';
    apm_proc_mkroot(G.root, sizeof G.root, "campaign");
    setenv("DROT_KEY_PASSPHRASE", "campaign e2e test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    json_t *init = json_loads(G.o.out, 0, NULL);
    assert_non_null(init);
    snprintf(G.anchor, sizeof G.anchor, "%s", jtext(init, "authority_anchor"));
    json_decref(init);
    assert_int_equal(strlen(G.anchor), 64);
    assert_int_equal(apm_proc_sh("mkdir -p '%s' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
                                 "[{\"type\":\"APM\"}]}' > '%s/sim-v1.json'",
                                 G.ref, G.ref),
                     0);
    char extra[100], name[16];
    snprintf(extra, sizeof extra, "--anchor %s", G.anchor);
    assert_int_equal(apm_proc_sh("printf '[' > '%s'", G.reg), 0);
    for (int i = 0; i < NDEV; i++) {
        snprintf(name, sizeof name, "dev%d", i);
        apm_proc_provision_ex(&G.dev[i], G.root, name, extra);
        assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, G.dev[i].state), 0);
        apm_proc_start(&G.dev[i]);
        for (size_t k = 0; k < 16; k++)
            snprintf(G.devid[i] + 2 * k, 3, "%02x", G.dev[i].device_id[k]);
        snprintf(G.storage[i], sizeof G.storage[i], "%s/storage%d", G.root, i);
        assert_int_equal(
            apm_proc_sh(
                "sed 's/^{/{\"class\":\"sim-v1\",/' '%s' | tr -d '\\n' >> '%s' && printf '%s' >> '%s'",
                G.dev[i].identity, G.reg, i + 1 < NDEV ? "," : "]", G.reg),
            0);
    }
    /* A registers the devices; B, on the same database, finds them there. */
    server_start(&G.a, "server-a.log");
    server_start(&G.b, "server-b.log");
    for (int i = 0; i < NDEV; i++) {
        const e2e_server *s = i % 2 == 0 ? &G.a : &G.b;
        if (e2e_run(&G.o, G.root,
                    "'%s' --socket '%s' --link-key '%s' enroll --server '%s' --ca '%s' --storage '%s'",
                    DROT_AGENT_BIN, G.dev[i].sock, G.dev[i].key, s->url, G.ca, G.storage[i]) != 0)
            fail_msg("enroll of dev%d failed: %s", i, G.o.err);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    e2e_server_kill(&G.a);
    e2e_server_kill(&G.b);
    for (int i = 0; i < NDEV; i++)
        apm_proc_kill(&G.dev[i]);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* Test 1. */
static void test_campaign_two_servers(void **state)
{
    (void)state;
    json_t *c = admin_on(&G.a, "rotate --class sim-v1 --max-parallel 2 --fail-threshold 1 --json");
    long long cid = jint(json_object_get(c, "campaign"), "id");
    assert_int_equal(jint(c, "jobs_created"), NDEV);
    json_decref(c);
    int rounds = 0;
    json_t *jobs = NULL;
    for (; rounds < 12; rounds++) {
        round_of_attestations(rounds);
        c = admin_on(&G.b, "campaign show %lld --json", cid);
        jobs = json_object_get(c, "jobs");
        bool done = jint(jobs, "completed") == NDEV;
        if (jint(jobs, "failed") != 0)
            fail_msg("a campaign job failed: %s", G.o.out);
        json_decref(c);
        if (done)
            break;
    }
    c = admin_on(&G.a, "campaign show %lld --json", cid);
    if (strcmp(jtext(c, "state"), "done") != 0 || jint(json_object_get(c, "jobs"), "completed") != NDEV)
        fail_msg("campaign not done after %d rounds: %s", rounds, G.o.out);
    json_decref(c);
    json_t *list = admin_on(&G.b, "rotations --campaign %lld --json", cid);
    assert_int_equal(jint(list, "count"), NDEV);
    size_t k;
    json_t *j;
    json_array_foreach(json_object_get(list, "rotations"), k, j)
    {
        assert_string_equal(jtext(j, "state"), "completed");
        assert_true(jint(j, "attempts") >= 1 && jint(j, "attempts") <= 2);
    }
    json_decref(list);
    for (int i = 0; i < NDEV; i++)
        assert_int_equal(agree(i % 2 == 0 ? &G.b : &G.a, i), 1); /* exactly once: epoch 1, not 2 */
    round_of_attestations(0);
    round_of_attestations(1);
    for (int i = 0; i < NDEV; i++) {
        json_t *d = admin_on(&G.a, "devices show %s --json", G.devid[i]);
        assert_string_equal(jtext(d, "last_result"), "PASS");
        json_decref(d);
    }
    /* How often max_parallel held a device back (timing-dependent: reported,
     * not asserted; test_jobs_shared checks the limit deterministically). */
    char cnt[600];
    snprintf(cnt, sizeof cnt, "cat '%s'/agent*.log | grep -c 'parallel limit' > '%s/busy.txt'", G.root,
             G.root);
    apm_proc_sh("%s", cnt);
    snprintf(cnt, sizeof cnt, "%s/busy.txt", G.root);
    char *busy = e2e_slurp(cnt);
    print_message("campaign of %d devices on two servers sharing PostgreSQL: done after %d round(s); %ld "
                  "begin(s) held back by max_parallel 2\n",
                  NDEV, rounds + 1, strtol(busy, NULL, 10));
    free(busy);
}

/* Test 2. */
static void test_campaign_skips_quarantined(void **state)
{
    (void)state;
    json_t *d = admin_on(&G.a, "devices quarantine %s --reason 'under investigation' --json", G.devid[0]);
    json_decref(d);
    json_t *c = admin_on(&G.b, "rotate --class sim-v1 --max-parallel 4 --json");
    assert_int_equal(jint(c, "jobs_created"), NDEV - 1);
    long long cid = jint(json_object_get(c, "campaign"), "id");
    json_decref(c);
    json_t *list = admin_on(&G.a, "rotations --campaign %lld --json", cid);
    size_t k;
    json_t *j;
    json_array_foreach(json_object_get(list, "rotations"), k, j)
        assert_string_not_equal(jtext(j, "device_id"), G.devid[0]);
    json_decref(list);
}

/* Test 3. */
static void test_campaign_controls(void **state)
{
    (void)state;
    json_t *l = admin_on(&G.a, "campaign list --json");
    assert_int_equal(jint(l, "count"), 2);
    long long cid = jint(json_array_get(json_object_get(l, "campaigns"), 1), "id");
    json_decref(l);
    json_t *c = admin_on(&G.b, "campaign stop %lld --reason 'maintenance window' --json", cid);
    assert_string_equal(jtext(c, "state"), "stopped");
    json_decref(c);
    l = admin_on(&G.a, "campaign list --state stopped --json");
    assert_int_equal(jint(l, "count"), 1);
    json_decref(l);
    /* Stopped: the devices attest, nobody is offered the campaign's jobs. */
    round_of_attestations(0);
    c = admin_on(&G.a, "campaign show %lld --json", cid);
    assert_int_equal(jint(json_object_get(c, "jobs"), "completed"), 0);
    assert_int_equal(jint(json_object_get(c, "jobs"), "pending"), NDEV - 1);
    json_decref(c);
    c = admin_on(&G.a, "campaign resume %lld --reason 'window over' --json", cid);
    assert_string_equal(jtext(c, "state"), "running");
    json_decref(c);
    char args[120];
    json_t *done = admin_on(&G.a, "campaign close 1 --reason again --json"); /* done already: a no-op */
    assert_string_equal(jtext(done, "state"), "done");
    json_decref(done);
    snprintf(args, sizeof args, "campaign close %lld --reason 'too early'", cid);
    assert_null(e2e_drotctl(&G.o, G.root, G.a.url, G.keys, G.ca, args)); /* open jobs */
    assert_non_null(strstr(G.o.err, "drotctl: "));
    c = admin_on(&G.b, "campaign cancel %lld --reason 'not needed' --json", cid);
    assert_string_equal(jtext(c, "state"), "cancelled");
    assert_int_equal(jint(json_object_get(c, "jobs"), "cancelled"), NDEV - 1);
    json_decref(c);
    snprintf(args, sizeof args, "campaign stop %lld", cid);
    assert_null(e2e_drotctl(&G.o, G.root, G.a.url, G.keys, G.ca, args)); /* no --reason: usage */
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' campaign frobnicate 1", DROTCTL_BIN), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_campaign_two_servers),
        cmocka_unit_test(test_campaign_skips_quarantined),
        cmocka_unit_test(test_campaign_controls),
    };
    return cmocka_run_group_tests_name("campaign_e2e", tests, group_setup, group_teardown);
}
