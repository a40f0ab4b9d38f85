/*
 * test_host_driver.c — libdrot-host's APM driver and attestation handler
 * against a real drot-apm process: session set-up and every request, the
 * APM killed and restarted, a wrong link key, an APM that never answers,
 * forged and replayed frames from a rogue host process, and the nonce
 * against an independently computed value.
 *
 * Paths come from the build: DROT_APM_BIN (the drot-apm program). The
 * authority key is generated with the openssl command-line tool. Every
 * process a test starts is killed in its teardown, pass or fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/host.h"
#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"

#ifndef DROT_APM_BIN
#error "DROT_APM_BIN must name the drot-apm program"
#endif

#define TEST_TIMEOUT_MS 1000

/* ---- a transport that counts connects and records what it sends ---------- */

typedef struct rec_transport {
    dh_unix_transport u;
    int connects;
    uint8_t last_sent[DROT_LINK_MAX_FRAME];
    size_t last_len;
} rec_transport;

static dh_status rec_connect(void *ctx, int timeout_ms)
{
    rec_transport *t = ctx;
    t->connects++;
    return dh_unix_transport_ops.connect(&t->u, timeout_ms);
}

static dh_status rec_send(void *ctx, const uint8_t *buf, size_t len, int timeout_ms)
{
    rec_transport *t = ctx;
    if (len <= sizeof t->last_sent) {
        memcpy(t->last_sent, buf, len);
        t->last_len = len;
    }
    return dh_unix_transport_ops.send(&t->u, buf, len, timeout_ms);
}

static dh_status rec_recv(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    rec_transport *t = ctx;
    return dh_unix_transport_ops.recv(&t->u, buf, len, timeout_ms);
}

static void rec_close(void *ctx)
{
    rec_transport *t = ctx;
    dh_unix_transport_ops.close(&t->u);
}

static const dh_transport_ops rec_ops = {rec_connect, rec_send, rec_recv, rec_close};

/* ---- fixture
 * ----------------------------------------------------------------- */

typedef struct fixture {
    char dir[64], state[128], sock[160], ctl[160];
    uint8_t link_key[32];
    uint8_t drk_pub[65];
    uint8_t device_id[16];
    uint8_t instance_id[33];
    uint64_t epoch;
    pid_t pid;      /* drot-apm */
    pid_t fake_pid; /* the silent server */
    rec_transport t;
    dh_driver *d;
} fixture;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int run_cmd(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    assert_non_null(hex);
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void provision(fixture *f)
{
    char out_path[200];
    snprintf(out_path, sizeof out_path, "%s/identity.json", f->dir);
    assert_int_equal(run_cmd("openssl ecparam -genkey -name prime256v1 -noout "
                             "-out '%s/auth.pem' 2>/dev/null",
                             f->dir),
                     0);
    assert_int_equal(run_cmd("'%s' provision --state '%s' --authority-key '%s/auth.pem' > '%s'", DROT_APM_BIN,
                             f->state, f->dir, out_path),
                     0);
    json_error_t err;
    json_t *id = json_load_file(out_path, 0, &err);
    assert_non_null(id);
    hex_to(json_string_value(json_object_get(id, "drk_pub")), f->drk_pub, 65);
    hex_to(json_string_value(json_object_get(id, "device_id")), f->device_id, 16);
    hex_to(json_string_value(json_object_get(id, "instance_id")), f->instance_id, 33);
    json_t *epoch = json_object_get(id, "epoch");
    assert_true(json_is_integer(epoch));
    f->epoch = (uint64_t)json_integer_value(epoch);
    json_decref(id);
    char key_path[200];
    snprintf(key_path, sizeof key_path, "%s/host-link.key", f->state);
    int fd = open(key_path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, f->link_key, 32), 32);
    close(fd);
}

static int connect_raw(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    for (int i = 0; i < 200; i++) { /* up to 10 s for the process to listen */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        sleep_ms(50);
    }
    return -1;
}

/* Starts drot-apm on the fixture's state and waits until it listens. */
static void start_apm(fixture *f)
{
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        /* dies with the test even if the test is killed before teardown */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(DROT_APM_BIN, DROT_APM_BIN, "run", "--state", f->state, (char *)NULL);
        _exit(127);
    }
    int fd = connect_raw(f->sock);
    assert_true(fd >= 0);
    close(fd);
}

static void kill_apm(fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        f->pid = -1;
    }
}

static void open_driver(fixture *f, const uint8_t key[32], int retries)
{
    assert_int_equal(dh_unix_transport_init(&f->t.u, f->sock), DH_OK);
    dh_driver_options opt = {.timeout_ms = TEST_TIMEOUT_MS, .retries = retries};
    assert_int_equal(dh_driver_open(&f->d, &rec_ops, &f->t, key, &opt), DH_OK);
}

/* One control command; returns the reply line. */
static const char *control(fixture *f, const char *cmd)
{
    static char reply[512];
    int fd = connect_raw(f->ctl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
    ssize_t n = read(fd, reply, sizeof reply - 1);
    assert_true(n > 0);
    reply[n] = '\0';
    close(fd);
    return reply;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/drot-hostdrv-XXXXXX");
    f->pid = -1;
    f->fake_pid = -1;
    f->t.u.fd = -1;
    *state = f;
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->state, sizeof f->state, "%s/dev", f->dir);
    snprintf(f->sock, sizeof f->sock, "%s/apm.sock", f->state);
    snprintf(f->ctl, sizeof f->ctl, "%s/control.sock", f->state);
    provision(f);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dh_driver_close(f->d);
    kill_apm(f);
    if (f->fake_pid > 0) {
        kill(f->fake_pid, SIGKILL);
        waitpid(f->fake_pid, NULL, 0);
    }
    if (f->dir[0] != '\0' && strcmp(f->dir, "/tmp/drot-hostdrv-XXXXXX") != 0)
        run_cmd("rm -rf '%s'", f->dir);
    free(f);
    return 0;
}

static const uint8_t challenge[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                      0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                      0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t exporter[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
                                     0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
                                     0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
/* python3 -c "import hashlib; print(hashlib.sha256(bytes(range(0,32)) +
 *             bytes(range(0xa0,0xc0))).hexdigest())" */
static const char expected_nonce_hex[] = "60dcbc828060c044579c4b6c671582e39e631b3d7de3dac5e69286394521158b";

/* Verifies token under the fixture's DRK and decodes its claims. The token
 * buffer must outlive the claims. */
static void verify_token(fixture *f, const uint8_t *tok, size_t len, drot_eat_claims *claims)
{
    drot_p256_pub pub;
    drot_cose_sign1_view view;
    assert_int_equal(drot_p256_pub_import(f->drk_pub, 65, &pub), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(tok, len, &pub, NULL, 0, &view), DROT_OK);
    assert_int_equal(drot_eat_decode(view.payload, view.payload_len, claims), DROT_OK);
}

/* Puts the driver's last error into the test log: the messages are part of
 * what is tested, and a reader of the log should see them. */
static void show(const fixture *f)
{
    print_message("    driver: %s\n", dh_driver_last_error(f->d));
}

static drot_link_measurement host_measurement(const char *type, uint8_t fill)
{
    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    m.type_len = strlen(type);
    memcpy(m.type, type, m.type_len);
    m.version_len = 5;
    memcpy(m.version, "1.2.3", 5);
    memset(m.digest, fill, sizeof m.digest);
    memset(m.signer, 0x33, sizeof m.signer);
    return m;
}

/* Test 1: dh_attest_nonce of a fixed challenge and exporter / equals
 * SHA-256(challenge ‖ exporter) computed by Python's hashlib; NULL
 * arguments are refused. */
static void test_nonce_vector(void **state)
{
    (void)state;
    uint8_t nonce[32], want[32];
    hex_to(expected_nonce_hex, want, 32);
    assert_int_equal(dh_attest_nonce(challenge, exporter, nonce), DH_OK);
    assert_memory_equal(nonce, want, 32);
    assert_int_equal(dh_attest_nonce(NULL, exporter, nonce), DH_E_ARG);
    assert_int_equal(dh_attest_nonce(challenge, NULL, nonce), DH_E_ARG);
    assert_int_equal(dh_attest_nonce(challenge, exporter, NULL), DH_E_ARG);
}

/* Test 2: bad arguments and status names / DH_E_ARG with a message, never a
 * crash; a socket path longer than sun_path refused; APM codes named
 * "APM error N", drot codes by common/'s names. */
static void test_args_and_names(void **state)
{
    fixture *f = *state;
    char longpath[300];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(dh_unix_transport_init(&f->t.u, longpath), DH_E_ARG);
    assert_int_equal(dh_unix_transport_init(&f->t.u, ""), DH_E_ARG);
    assert_int_equal(dh_driver_open(&f->d, &rec_ops, &f->t, NULL, NULL), DH_E_ARG);
    assert_null(f->d);
    open_driver(f, f->link_key, 0);
    uint8_t nonce[32] = {0}, tok[16];
    size_t len = 99;
    assert_int_equal(dh_get_token(f->d, nonce, 31, DROT_LINK_PROFILE_DROT, tok, sizeof tok, &len), DH_E_ARG);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "32, 48 or 64"));
    assert_int_equal(dh_get_token(f->d, nonce, 32, 7, tok, sizeof tok, &len), DH_E_ARG);
    assert_int_equal(dh_get_info(f->d, NULL), DH_E_ARG);
    assert_int_equal(f->t.connects, 0); /* nothing reached the link */
    assert_string_equal(dh_status_str(-108), "APM error -108");
    assert_string_equal(dh_status_str(DROT_E_VERIFY), drot_status_str(DROT_E_VERIFY));
    assert_string_equal(dh_status_str(DH_E_TIMEOUT), "the APM did not answer in time");
    assert_string_equal(dh_status_str(-5000), "unknown status");
}

/* Test 3: no APM listening (socket file absent) / DH_E_CONNECT at once,
 * "cannot reach the APM" in the message. */
static void test_no_apm(void **state)
{
    fixture *f = *state;
    open_driver(f, f->link_key, 0);
    drot_link_info info;
    long long t0 = now_ms();
    assert_int_equal(dh_get_info(f->d, &info), DH_E_CONNECT);
    assert_true(now_ms() - t0 < TEST_TIMEOUT_MS);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "cannot reach the APM"));
}

/* Test 4: session set-up and GET_INFO / one connect, the identity printed
 * at provisioning (device id, DRK, instance id, epoch), boot status 0, the
 * APM's own measurement; last_error "" after a success. */
static void test_get_info(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 0);
    drot_link_info info;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(f->t.connects, 1);
    assert_memory_equal(info.device_id, f->device_id, 16);
    assert_memory_equal(info.drk_pub, f->drk_pub, 65);
    assert_memory_equal(info.instance_id, f->instance_id, 33);
    assert_int_equal(info.epoch, f->epoch);
    assert_int_equal(info.boot_status, 0);
    assert_true(info.num_measurements >= 1);
    assert_string_equal(dh_driver_last_error(f->d), "");
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(f->t.connects, 1); /* one session for both */
}

/* Test 5: dh_attest in both profiles / the token verifies under the DRK
 * from the provisioning JSON, its EAT nonce is SHA-256(challenge ‖
 * exporter) (the Python constant), and its instance id is the device's;
 * a token buffer too small is DH_E_ARG with the size needed. */
static void test_attest(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 0);
    static uint8_t tok[DROT_LINK_MAX_TOKEN];
    uint8_t want[32];
    hex_to(expected_nonce_hex, want, 32);
    uint32_t profiles[2] = {DROT_LINK_PROFILE_DROT, DROT_LINK_PROFILE_PSA};
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        drot_eat_claims c;
        assert_int_equal(dh_attest(f->d, challenge, exporter, profiles[i], tok, sizeof tok, &len), DH_OK);
        verify_token(f, tok, len, &c);
        assert_int_equal(c.profile, i == 0 ? DROT_EAT_PROFILE_DROT : DROT_EAT_PROFILE_PSA);
        assert_int_equal(c.nonce.len, 32);
        assert_memory_equal(c.nonce.p, want, 32);
        assert_int_equal(c.instance_id.len, 33);
        assert_memory_equal(c.instance_id.p, f->instance_id, 33);
    }
    size_t need = 0;
    assert_int_equal(dh_attest(f->d, challenge, exporter, DROT_LINK_PROFILE_DROT, tok, 10, &need), DH_E_ARG);
    assert_true(need > 10);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "too small"));
}

/* Test 6: EXTEND_MEASUREMENT of a host stage, then a token / the index is
 * the next table slot, GET_INFO lists it, and the signed token carries it
 * as a software component with its digest; a bad measurement is refused
 * locally (DH_E_ARG) or by the APM (DH_E_REFUSED) and appends nothing. */
static void test_extend(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 0);
    drot_link_info info;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    size_t before = info.num_measurements;
    drot_link_measurement m = host_measurement("HOST-BL", 0xb1);
    uint32_t index = 99;
    assert_int_equal(dh_extend(f->d, &m, &index), DH_OK);
    assert_int_equal(index, before);
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(info.num_measurements, before + 1);
    assert_memory_equal(info.measurements[before].digest, m.digest, 32);
    static uint8_t tok[DROT_LINK_MAX_TOKEN];
    size_t len = 0;
    drot_eat_claims c;
    assert_int_equal(dh_attest(f->d, challenge, exporter, DROT_LINK_PROFILE_DROT, tok, sizeof tok, &len),
                     DH_OK);
    verify_token(f, tok, len, &c);
    bool found = false;
    for (size_t i = 0; i < c.num_components; i++) {
        const drot_eat_sw_component *sc = &c.components[i];
        if (sc->measurement_type.len == 7 && memcmp(sc->measurement_type.p, "HOST-BL", 7) == 0) {
            assert_int_equal(sc->measurement_value.len, 32);
            assert_memory_equal(sc->measurement_value.p, m.digest, 32);
            found = true;
        }
    }
    assert_true(found);
    /* a measurement the codec refuses never reaches the APM; one the APM
     * refuses (empty type) is DH_E_REFUSED and appends nothing */
    m.type_len = DROT_LINK_MAX_TEXT + 1;
    assert_int_equal(dh_extend(f->d, &m, &index), DH_E_ARG);
    m.type_len = 0;
    assert_int_equal(dh_extend(f->d, &m, &index), DH_E_REFUSED);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "APM refused EXTEND_MEASUREMENT: "));
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(info.num_measurements, before + 1);
}

/* Test 7: TAMPER_LOG, then a voltage excursion / the log grows by one
 * event; GET_TOKEN is refused: DH_E_REFUSED, APM code -108 and the
 * message "APM refused GET_TOKEN: … (-108)"; the session survives the
 * refusal (GET_INFO works on the same connection). */
static void test_tamper_and_refusal(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 0);
    drot_link_tamper_log log;
    assert_int_equal(dh_tamper_log(f->d, &log), DH_OK);
    assert_int_equal(log.total_count, 0);
    assert_int_equal(log.num_events, 0);
    assert_string_equal(control(f, "tamper voltage 2500\n"), "ok\n");
    static uint8_t tok[DROT_LINK_MAX_TOKEN];
    size_t len = 0;
    assert_int_equal(dh_attest(f->d, challenge, exporter, DROT_LINK_PROFILE_DROT, tok, sizeof tok, &len),
                     DH_E_REFUSED);
    assert_int_equal(dh_driver_last_apm_code(f->d), -108);
    const char *e = dh_driver_last_error(f->d);
    assert_true(strncmp(e, "APM refused GET_TOKEN: ", 23) == 0);
    assert_non_null(strstr(e, "(-108)"));
    assert_int_equal(dh_tamper_log(f->d, &log), DH_OK);
    assert_int_equal(log.total_count, 1);
    assert_int_equal(log.num_events, 1);
    assert_int_equal(dh_driver_last_apm_code(f->d), 0);
    drot_link_info info;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(info.tamper_count, 1);
    assert_int_equal(f->t.connects, 1);
}

typedef struct killer_arg {
    pid_t pid;
    long delay_ms;
} killer_arg;

static void *killer(void *p)
{
    killer_arg *k = p;
    sleep_ms(k->delay_ms);
    kill(k->pid, SIGKILL);
    return NULL;
}

/* Test 8: the APM killed (a) while a request is outstanding (stopped, then
 * SIGKILL), (b) between requests / a clear DH_E_CONNECT error well within
 * the timeout, no hang. After a restart the same driver reconnects; an APM
 * restarted behind an idle driver costs GET_INFO nothing visible (the lost
 * link is noticed, reconnect + HELLO + retry, DH_OK); EXTEND_MEASUREMENT
 * in the same situation is not retried. */
static void test_apm_killed(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 1);
    drot_link_info info;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);

    /* (a) outstanding: the APM is frozen, then killed 300 ms into the wait */
    assert_int_equal(kill(f->pid, SIGSTOP), 0);
    killer_arg k = {f->pid, 300};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, killer, &k), 0);
    long long t0 = now_ms();
    dh_status st = dh_get_info(f->d, &info);
    long long dt = now_ms() - t0;
    pthread_join(th, NULL);
    waitpid(f->pid, NULL, 0);
    f->pid = -1;
    assert_int_equal(st, DH_E_CONNECT);
    assert_true(dt < TEST_TIMEOUT_MS);
    /* the retry finds the socket refused, or (a race with the kernel
     * closing the dying process's files) its listener about to vanish:
     * either way the first failure is named */
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "(after 1 retry; first: the APM closed the link while "
                                                       "GET_INFO was outstanding)"));

    /* (b) nothing listening any more: refused at once */
    t0 = now_ms();
    assert_int_equal(dh_get_info(f->d, &info), DH_E_CONNECT);
    assert_true(now_ms() - t0 < TEST_TIMEOUT_MS);

    /* restart: the same driver reconnects */
    start_apm(f);
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_memory_equal(info.device_id, f->device_id, 16);

    /* killed and restarted behind an idle driver: retried transparently */
    kill_apm(f);
    start_apm(f);
    int connects = f->t.connects;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(f->t.connects, connects + 1);
    size_t n = info.num_measurements;

    /* the same for EXTEND: reported, not retried, nothing appended */
    kill_apm(f);
    start_apm(f);
    drot_link_measurement m = host_measurement("HOST-OS", 0x05);
    assert_int_equal(dh_extend(f->d, &m, NULL), DH_E_CONNECT);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "not retried"));
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(info.num_measurements, n);
}

/* Test 9: a driver with the wrong link key / DH_E_AUTH with "wrong link
 * key" in the message; the APM keeps serving the right key. */
static void test_wrong_link_key(void **state)
{
    fixture *f = *state;
    start_apm(f);
    uint8_t wrong[32];
    memcpy(wrong, f->link_key, 32);
    wrong[31] ^= 0x80;
    open_driver(f, wrong, 1);
    drot_link_info info;
    assert_int_equal(dh_get_info(f->d, &info), DH_E_AUTH);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "the APM refused the HELLO: wrong link key?"));
    assert_int_equal(f->t.connects, 1); /* a refused HELLO is not retried */
    dh_driver_close(f->d);
    f->d = NULL;
    open_driver(f, f->link_key, 0);
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
}

/* A server that accepts and reads but never writes (in a child process). */
static void start_silent_server(fixture *f)
{
    assert_int_equal(mkdir(f->state, 0700), 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(f->sock) < sizeof a.sun_path);
    memcpy(a.sun_path, f->sock, strlen(f->sock) + 1);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    f->fake_pid = fork();
    assert_true(f->fake_pid >= 0);
    if (f->fake_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) {
            int c = accept(lfd, NULL, NULL);
            if (c < 0)
                _exit(1);
            uint8_t buf[512];
            while (read(c, buf, sizeof buf) > 0) {
            }
            close(c);
        }
    }
    close(lfd);
}

/* Test 10: an APM that never answers / DH_E_TIMEOUT after about
 * timeout_ms (not twice: a timeout is not retried), with "no answer from
 * the APM within 1000 ms" in the message; a second request also ends. */
static void test_silent_apm(void **state)
{
    fixture *f = *state;
    /* the provisioned state dir is not needed here: use a fresh one */
    run_cmd("rm -rf '%s'", f->state);
    start_silent_server(f);
    open_driver(f, f->link_key, 3);
    drot_link_info info;
    for (int i = 0; i < 2; i++) {
        long long t0 = now_ms();
        assert_int_equal(dh_get_info(f->d, &info), DH_E_TIMEOUT);
        long long dt = now_ms() - t0;
        assert_true(dt >= TEST_TIMEOUT_MS - 50);
        assert_true(dt < 2 * TEST_TIMEOUT_MS);
        show(f);
        assert_non_null(strstr(dh_driver_last_error(f->d), "no answer from the APM within 1000 ms"));
    }
}

/* Sends frame over fd and reads one answer frame; returns its type byte
 * (the header is all a host without the session keys can read), or -1. */
static int raw_roundtrip(int fd, const uint8_t *frame, size_t len)
{
    static uint8_t in[DROT_LINK_MAX_FRAME];
    if (send(fd, frame, len, MSG_NOSIGNAL) != (ssize_t)len)
        return -1;
    size_t got = 0, want = DROT_LINK_HEADER_LEN;
    while (got < want) {
        ssize_t n = read(fd, in + got, want - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        if (got == DROT_LINK_HEADER_LEN) {
            size_t pl = 0;
            if (drot_link_parse_header(in, got, NULL, NULL, &pl) != DROT_OK)
                return -1;
            want += pl + DROT_LINK_TAG_LEN;
        }
    }
    return in[3];
}

/* Test 11: a rogue host process on the socket (no driver): a captured
 * EXTEND_MEASUREMENT frame replayed twice, the frame with a flipped bit
 * (type, seq, payload, tag), and an EXTEND frame sealed under a made-up
 * key / each answered with ERROR; the displaced driver reconnects by
 * itself, and it and a fresh driver session see the measurement table
 * grown by exactly the one legitimate extension. */
static void test_forged_frames(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 0);
    drot_link_info info;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    size_t before = info.num_measurements;
    drot_link_measurement m = host_measurement("HOST-BL", 0x42);
    assert_int_equal(dh_extend(f->d, &m, NULL), DH_OK);
    uint8_t captured[DROT_LINK_MAX_FRAME];
    size_t clen = f->t.last_len;
    memcpy(captured, f->t.last_sent, clen);
    assert_int_equal(captured[3], DROT_LINK_T_EXTEND_MEASUREMENT);

    int fd = connect_raw(f->sock); /* the APM serves the newest host */
    assert_true(fd >= 0);
    assert_int_equal(raw_roundtrip(fd, captured, clen), DROT_LINK_T_ERROR);
    assert_int_equal(raw_roundtrip(fd, captured, clen), DROT_LINK_T_ERROR);
    const size_t flips[] = {3 * 8, 7 * 8 + 1, (DROT_LINK_HEADER_LEN + 2) * 8 + 5, (clen - 1) * 8 + 7};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        uint8_t bad[DROT_LINK_MAX_FRAME];
        memcpy(bad, captured, clen);
        bad[flips[i] / 8] ^= (uint8_t)(1u << (flips[i] % 8));
        /* a flipped seq byte makes it a "new" seq: still refused by the tag */
        assert_int_equal(raw_roundtrip(fd, bad, clen), DROT_LINK_T_ERROR);
    }
    uint8_t made_up[32], frame[DROT_LINK_MAX_FRAME], p[160];
    memset(made_up, 0x77, sizeof made_up);
    size_t plen = 0, flen = 0;
    assert_int_equal(drot_link_extend_req_encode(&m, p, sizeof p, &plen), DROT_OK);
    assert_int_equal(drot_link_frame_seal(made_up, DROT_LINK_T_EXTEND_MEASUREMENT, 1000, p, plen, frame,
                                          sizeof frame, &flen),
                     DROT_OK);
    assert_int_equal(raw_roundtrip(fd, frame, flen), DROT_LINK_T_ERROR);
    close(fd);
    /* a new connection: the captured frame once more */
    fd = connect_raw(f->sock);
    assert_true(fd >= 0);
    assert_int_equal(raw_roundtrip(fd, captured, clen), DROT_LINK_T_ERROR);
    close(fd);

    /* the driver the rogue connection displaced reconnects transparently */
    int connects = f->t.connects;
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(f->t.connects, connects + 1);
    assert_int_equal(info.num_measurements, before + 1);

    dh_driver_close(f->d);
    f->d = NULL;
    open_driver(f, f->link_key, 0);
    assert_int_equal(dh_get_info(f->d, &info), DH_OK);
    assert_int_equal(info.num_measurements, before + 1);
}

/* Test 12: SEAL then UNSEAL / the data comes back under the same label,
 * empty data too, and the blob is not the plaintext; UNSEAL under another
 * label or of a blob with a flipped bit is refused by the APM
 * (DH_E_REFUSED, "APM refused UNSEAL") with the output wiped; a bad label,
 * too much data or too small a buffer are refused locally (DH_E_ARG). */
static void test_seal_unseal(void **state)
{
    fixture *f = *state;
    start_apm(f);
    open_driver(f, f->link_key, 0);
    uint8_t secret[48], blob[DROT_LINK_SEAL_MAX_BLOB], out[DROT_LINK_SEAL_MAX_DATA];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(0xc0 ^ i);
    size_t blen = 0, n = 0;
    assert_int_equal(dh_seal(f->d, "disk-key.v1", secret, sizeof secret, blob, sizeof blob, &blen), DH_OK);
    assert_int_equal(blen, DROT_LINK_SEAL_MIN_BLOB + sizeof secret);
    assert_null(memmem(blob, blen, secret, 16));
    assert_int_equal(dh_unseal(f->d, "disk-key.v1", blob, blen, out, sizeof out, &n), DH_OK);
    assert_int_equal(n, sizeof secret);
    assert_memory_equal(out, secret, sizeof secret);

    memset(out, 0xee, sizeof out);
    assert_int_equal(dh_unseal(f->d, "disk-key.v2", blob, blen, out, sizeof out, &n), DH_E_REFUSED);
    show(f);
    assert_non_null(strstr(dh_driver_last_error(f->d), "APM refused UNSEAL: "));
    assert_int_equal(n, 0);
    static const uint8_t zero[sizeof out];
    assert_memory_equal(out, zero, sizeof out);
    blob[blen - 1] ^= 0x01;
    assert_int_equal(dh_unseal(f->d, "disk-key.v1", blob, blen, out, sizeof out, &n), DH_E_REFUSED);
    blob[blen - 1] ^= 0x01;

    /* nothing to seal is still a blob that opens to nothing */
    size_t elen = 0;
    uint8_t eblob[DROT_LINK_SEAL_MIN_BLOB];
    assert_int_equal(dh_seal(f->d, "empty", NULL, 0, eblob, sizeof eblob, &elen), DH_OK);
    assert_int_equal(dh_unseal(f->d, "empty", eblob, elen, out, sizeof out, &n), DH_OK);
    assert_int_equal(n, 0);

    assert_int_equal(dh_seal(f->d, "a/b", secret, sizeof secret, blob, sizeof blob, &blen), DH_E_ARG);
    show(f);
    assert_int_equal(dh_seal(f->d, "", secret, sizeof secret, blob, sizeof blob, &blen), DH_E_ARG);
    assert_int_equal(dh_seal(f->d, "big", out, DROT_LINK_SEAL_MAX_DATA + 1, blob, sizeof blob, &blen),
                     DH_E_ARG);
    assert_int_equal(dh_seal(f->d, "small", secret, sizeof secret, blob, 10, &blen), DH_E_ARG);
    assert_int_equal(blen, DROT_LINK_SEAL_MIN_BLOB + sizeof secret);
    assert_int_equal(dh_unseal(f->d, "disk-key.v1", blob, blen, out, 4, &n), DH_E_ARG);
    assert_int_equal(n, sizeof secret);
    assert_int_equal(dh_unseal(f->d, "disk-key.v1", blob, 8, out, sizeof out, &n), DH_E_ARG);
}

int main(void)
{
    /* SIGPIPE keeps its default action on purpose: the driver must survive
     * writing to a dead APM by itself (MSG_NOSIGNAL), or this test dies. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_vector),
        cmocka_unit_test_setup_teardown(test_args_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_apm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_and_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apm_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_link_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_apm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_unseal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
