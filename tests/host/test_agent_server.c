/*
 * test_agent_server.c — drot-agent's networked side against real processes
 * (docs/host.md "Server client and daemon"): `drotctl init` keys, drot-apm
 * devices provisioned and running, drot-server with the device registered
 * and a reference allowing lifecycle "provisioned", and drot-agent:
 *
 *   1. --help of enroll / attest-once / run; missing options → exit 2
 *   2. enroll: certificate issued for the device id; the storage holds the
 *      sealed key and certificate and no plaintext PEM anywhere
 *   3. attest-once: verdict WARN with the lifecycle reason (text and JSON)
 *   4. run --max-cycles 3 with the server's --attest-interval 1: 3 cycles,
 *      exit 0
 *   5. wrong --ca (the operator CA): one clear error line, exit 1
 *   6. the storage copied to another device: enroll and attest-once fail,
 *      the sealed key does not open on that APM; on a tamper-locked APM the
 *      error names the lock and does not advise deleting the storage
 *   7. run while the server is killed: the log shows growing back-off
 *      delays; the server restarted on the same port and database, run
 *      resumes; SIGTERM → exit 0
 *   8. the library's channel-binding guard: challenge on one server
 *      process, server restarted, token request → DH_E_PROTOCOL
 *      "connection changed" and nothing reaches the new server
 *
 * Every process is killed and the temporary root removed in the group
 * teardown, pass or fail.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot/host.h"
#include "drot_test_support.h"
#include "e2e_proc.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

static struct {
    char root[128];
    char keys[200], ca[240], opca[240], db[240], storage[240], storage2[240];
    e2e_server srv;
    pid_t agent_bg; /* test_backoff's `run` */
    apm_proc dev, dev2;
    char *out, *err;
} G;

/* ---- processes -------------------------------------------------------------- */

/* drot-server on G.srv's port (the same port and database at every start). */
static void server_start(void)
{
    static char reg[240], ref[240];
    snprintf(reg, sizeof reg, "%s/register.json", G.root);
    snprintf(ref, sizeof ref, "%s/ref", G.root);
    const char *args[] = {
        "--db", G.db, "--keys", G.keys, "--reference", ref, "--register", reg, "--attest-interval",
        "1",    NULL};
    e2e_server_start(&G.srv, G.ca, args);
}

static void server_kill(void)
{
    e2e_server_kill(&G.srv);
}

/* Runs `drot-agent ARGS` (a shell fragment) with G.out / G.err; the exit status. */
static int agent(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int agent(const char *fmt, ...)
{
    char args[2000], path[200];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    int rc =
        apm_proc_sh("'%s' %s </dev/null >'%s/stdout' 2>'%s/stderr'", DROT_AGENT_BIN, args, G.root, G.root);
    free(G.out);
    free(G.err);
    snprintf(path, sizeof path, "%s/stdout", G.root);
    G.out = e2e_slurp(path);
    snprintf(path, sizeof path, "%s/stderr", G.root);
    G.err = e2e_slurp(path);
    return rc;
}

/* Exit status `code`, exactly one line "drot-agent: …needle…" on stderr. */
static void assert_error_line(int rc, int code, const char *needle)
{
    if (rc != code || strncmp(G.err, "drot-agent: ", 12) != 0 || strstr(G.err, needle) == NULL)
        fail_msg("expected exit %d and an error with '%s'; got exit %d, stderr: %s", code, needle, rc, G.err);
    size_t len = strlen(G.err);
    assert_true(len > 0 && G.err[len - 1] == '\n');
    assert_ptr_equal(strchr(G.err, '\n'), G.err + len - 1);
}

static const char *dev_args(const apm_proc *p)
{
    static char buf[600];
    snprintf(buf, sizeof buf, "--socket '%s' --link-key '%s'", p->sock, p->key);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    G.agent_bg = -1;
    G.dev.pid = -1;
    G.dev2.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "agentsrv");
    setenv("DROT_KEY_PASSPHRASE", "agent server test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.opca, sizeof G.opca, "%s/operator-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.storage, sizeof G.storage, "%s/storage", G.root);
    snprintf(G.storage2, sizeof G.storage2, "%s/storage2", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    assert_int_equal(apm_proc_sh("'%s' init --dir '%s' >/dev/null 2>&1", DROTCTL_BIN, G.keys), 0);
    assert_int_equal(
        apm_proc_sh(
            "mkdir -p '%s/ref' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
            "[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":true}}' > '%s/ref/sim-v1.json'",
            G.root, G.root),
        0);
    apm_proc_provision(&G.dev, G.root, "dev1");
    apm_proc_start(&G.dev);
    apm_proc_provision(&G.dev2, G.root, "dev2");
    apm_proc_start(&G.dev2);
    /* dev1's identity as provision printed it, plus a class. dev2 is not
     * registered: its test fails before the server is asked anything. */
    assert_int_equal(
        apm_proc_sh("sed 's/^{/[{\"class\":\"sim-v1\",/; s/}[[:space:]]*$/}]/' '%s' | tr -d '\\n' > "
                    "'%s/register.json'",
                    G.dev.identity, G.root),
        0);
    server_start();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (G.agent_bg > 0) {
        kill(G.agent_bg, SIGKILL);
        waitpid(G.agent_bg, NULL, 0);
    }
    server_kill();
    apm_proc_kill(&G.dev);
    apm_proc_kill(&G.dev2);
    apm_proc_rmtree(G.root);
    free(G.out);
    free(G.err);
    curl_global_cleanup();
    return 0;
}

/* ---- tests --------------------------------------------------------------------- */

static void test_help(void **state)
{
    (void)state;
    static const char *const cmds[] = {"enroll", "attest-once", "run"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(agent("%s --help", cmds[i]), 0);
        char want[64];
        snprintf(want, sizeof want, "usage: drot-agent %s", cmds[i]);
        assert_non_null(strstr(G.out, want));
        assert_non_null(strstr(G.out, "--server URL"));
    }
    assert_int_equal(agent("--help"), 0);
    assert_non_null(strstr(G.out, "attest-once"));
    assert_error_line(agent("%s enroll --server '%s' --ca '%s'", dev_args(&G.dev), G.srv.url, G.ca), 2,
                      "needs --server URL, --ca FILE and --storage DIR");
    assert_error_line(agent("%s run --server http://127.0.0.1:1 --ca '%s' --storage '%s'", dev_args(&G.dev),
                            G.ca, G.storage),
                      2, "https://");
    assert_error_line(agent("%s run --server '%s' --ca '%s' --storage '%s' --max-cycles 0", dev_args(&G.dev),
                            G.srv.url, G.ca, G.storage),
                      2, "--max-cycles");
    assert_error_line(agent("%s attest-once --server '%s' --ca '%s/nope.pem' --storage '%s'",
                            dev_args(&G.dev), G.srv.url, G.root, G.storage),
                      2, "cannot read --ca");
    /* Nothing was done: no storage created. */
    struct stat sb;
    assert_int_not_equal(stat(G.storage, &sb), 0);
}

static void test_enroll(void **state)
{
    (void)state;
    /* attest-once before enrollment: told what to do. */
    assert_error_line(agent("%s attest-once --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev),
                            G.srv.url, G.ca, G.storage),
                      1, "run drot-agent enroll first");
    int rc = agent("%s --json enroll --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev), G.srv.url,
                   G.ca, G.storage);
    if (rc != 0)
        fail_msg("enroll: exit %d: %s", rc, G.err);
    json_error_t e;
    json_t *j = json_loads(G.out, 0, &e);
    assert_non_null(j);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", G.dev.device_id[i]);
    assert_string_equal(json_string_value(json_object_get(j, "device_id")), hex);
    const char *verdict = json_string_value(json_object_get(j, "verdict"));
    assert_non_null(verdict);
    assert_true(strcmp(verdict, "WARN") == 0 || strcmp(verdict, "PASS") == 0);
    assert_non_null(strstr(json_string_value(json_object_get(j, "subject")), hex));
    assert_int_equal(json_integer_value(json_object_get(j, "attest_interval")), 1);
    json_decref(j);
    /* Sealed key and certificate; no plaintext PEM anywhere in the storage. */
    struct stat sb;
    char path[300];
    snprintf(path, sizeof path, "%s/tls-key.pem", G.storage);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    snprintf(path, sizeof path, "%s/tls-cert.pem", G.storage);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(stat(G.storage, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    assert_int_not_equal(apm_proc_sh("grep -rqa -e BEGIN -e PRIVATE '%s'", G.storage), 0);
    /* The key opens on this device's APM and is a PEM private key. */
    assert_int_equal(agent("%s unseal --storage '%s' --label tls-key.pem", dev_args(&G.dev), G.storage), 0);
    assert_non_null(strstr(G.out, "-----BEGIN PRIVATE KEY-----"));
    /* No plaintext key left anywhere in the test's root either. */
    assert_int_not_equal(
        apm_proc_sh("grep -rlaq 'BEGIN PRIVATE KEY' '%s' --exclude=stdout --exclude=auth.pem "
                    "--exclude-dir=keys",
                    G.root),
        0);
}

static void test_attest_once(void **state)
{
    (void)state;
    int rc = agent("%s attest-once --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev), G.srv.url, G.ca,
                   G.storage);
    if (rc != 0)
        fail_msg("attest-once: exit %d: %s", rc, G.err);
    assert_non_null(strstr(G.out, "verdict      WARN\n"));
    assert_non_null(strstr(G.out, "reason       lifecycle"));
    assert_non_null(strstr(G.out, "next attest  1 s\n"));
    rc = agent("%s attest-once --json --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev), G.srv.url,
               G.ca, G.storage);
    assert_int_equal(rc, 0);
    json_error_t e;
    json_t *j = json_loads(G.out, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "WARN");
    json_t *r = json_object_get(j, "reasons");
    assert_true(json_array_size(r) >= 1);
    assert_non_null(strstr(json_string_value(json_array_get(r, 0)), "lifecycle"));
    json_decref(j);
    char *log = e2e_slurp(G.srv.log);
    assert_true(count(log, "route=/v1/device/attest status=200") >= 2);
    free(log);
}

static void test_run_cycles(void **state)
{
    (void)state;
    time_t t0 = time(NULL);
    int rc = agent("%s run --server '%s' --ca '%s' --storage '%s' --max-cycles 3", dev_args(&G.dev),
                   G.srv.url, G.ca, G.storage);
    if (rc != 0)
        fail_msg("run: exit %d: %s", rc, G.err);
    assert_int_equal(count(G.err, ": attested, verdict WARN"), 3);
    assert_non_null(strstr(G.err, "run: cycle 3: attested"));
    assert_non_null(strstr(G.err, "run: 3 cycles done"));
    assert_true(time(NULL) - t0 >= 2); /* waited the server's 1 s twice */
}

static void test_wrong_ca(void **state)
{
    (void)state;
    assert_error_line(agent("%s attest-once --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev),
                            G.srv.url, G.opca, G.storage),
                      1, "does not verify against --ca");
    assert_int_equal(G.out[0], '\0');
}

static void test_copied_storage(void **state)
{
    (void)state;
    assert_int_equal(apm_proc_sh("cp -a '%s' '%s'", G.storage, G.storage2), 0);
    assert_error_line(agent("%s attest-once --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev2),
                            G.srv.url, G.ca, G.storage2),
                      1, "does not open on this device's APM");
    assert_error_line(agent("%s enroll --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev2), G.srv.url,
                            G.ca, G.storage2),
                      1, "does not open on this device's APM");
    /* The original still works on its own device. */
    assert_int_equal(agent("%s attest-once --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev),
                           G.srv.url, G.ca, G.storage),
                     0);
    /* A voltage excursion locks dev2's key use until reset: the blob is not
     * at fault, so the error says why and gives no advice to delete it. */
    assert_non_null(strstr(apm_proc_control(&G.dev2, "tamper voltage 2500"), "ok"));
    assert_error_line(agent("%s attest-once --server '%s' --ca '%s' --storage '%s'", dev_args(&G.dev2),
                            G.srv.url, G.ca, G.storage2),
                      1, "locked by a tamper event");
    assert_null(strstr(G.err, "another device"));
    apm_proc_stop(&G.dev2);
    apm_proc_start(&G.dev2); /* a reset clears the lock */
}

/* Waits up to ms for `needle` to occur at least n times in path. */
static bool wait_log(const char *path, const char *needle, int n, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        char *s = e2e_slurp(path);
        int c = count(s, needle);
        free(s);
        if (c >= n)
            return true;
        usleep(50000);
    }
    return false;
}

static void test_backoff(void **state)
{
    (void)state;
    char log[240];
    snprintf(log, sizeof log, "%s/run.log", G.root);
    G.agent_bg = fork();
    assert_true(G.agent_bg >= 0);
    if (G.agent_bg == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execl(DROT_AGENT_BIN, DROT_AGENT_BIN, "--socket", G.dev.sock, "--link-key", G.dev.key, "--timeout",
              "3000", "run", "--server", G.srv.url, "--ca", G.ca, "--storage", G.storage, (char *)NULL);
        _exit(127);
    }
    if (!wait_log(log, ": attested", 1, 10000))
        fail_msg("run never attested");
    server_kill();
    if (!wait_log(log, ": error: ", 3, 12000))
        fail_msg("run did not log three errors while the server was down");
    /* Three growing delays: 1 s, 2 s, 4 s, each +-20 %. */
    char *s = e2e_slurp(log);
    double d[3];
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        p = strstr(p, "retrying in ");
        assert_non_null(p);
        p += strlen("retrying in ");
        d[i] = strtod(p, NULL);
    }
    assert_non_null(strstr(s, "cannot reach the server"));
    free(s);
    assert_true(d[0] >= 0.79 && d[0] <= 1.21);
    assert_true(d[1] >= 1.59 && d[1] <= 2.41);
    assert_true(d[2] >= 3.19 && d[2] <= 4.81);
    assert_true(d[0] < d[1] && d[1] < d[2]);
    server_start(); /* same port, same database */
    if (!wait_log(log, ": attested", 2, 10000))
        fail_msg("run did not resume after the server came back");
    int st = 0;
    assert_int_equal(kill(G.agent_bg, SIGTERM), 0);
    assert_int_equal(waitpid(G.agent_bg, &st, 0), G.agent_bg);
    G.agent_bg = -1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    s = e2e_slurp(log);
    assert_non_null(strstr(s, "SIGTERM: stopping"));
    free(s);
}

/* The library refuses to send a token on another connection than the
 * challenge's: the server is restarted between the two requests. */
static void test_connection_changed(void **state)
{
    (void)state;
    dh_server *srv = NULL;
    dh_server_options so = {.url = G.srv.url, .ca_file = G.ca};
    uint8_t ch[32], exp[32], token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    assert_int_equal(dh_server_open(&srv, &so), DH_OK);
    assert_int_equal(dh_server_challenge(srv, G.dev.device_id, ch, exp), DH_OK);
    assert_int_equal(
        dh_attest(apm_proc_driver(&G.dev), ch, exp, DROT_LINK_PROFILE_DROT, token, sizeof token, &token_len),
        DH_OK);
    server_kill();
    server_start();
    char *before = e2e_slurp(G.srv.log);
    int enrolls = count(before, "route=/v1/device/enroll");
    free(before);
    char csr_dummy[] = "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n";
    dh_server_enrollment e;
    dh_status st = dh_server_enroll(srv, G.dev.device_id, ch, token, token_len, csr_dummy, &e, NULL);
    assert_int_equal(st, DH_E_PROTOCOL);
    assert_non_null(strstr(dh_server_last_error(srv), "connection changed between challenge and token"));
    dh_server_close(srv);
    usleep(200000);
    char *after = e2e_slurp(G.srv.log);
    assert_int_equal(count(after, "route=/v1/device/enroll"), enrolls);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),        cmocka_unit_test(test_enroll),
        cmocka_unit_test(test_attest_once), cmocka_unit_test(test_run_cycles),
        cmocka_unit_test(test_wrong_ca),    cmocka_unit_test(test_copied_storage),
        cmocka_unit_test(test_backoff),     cmocka_unit_test(test_connection_changed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
