/*
 * test_fw_process.c — drot-apm as a real process: provision, run, the host
 * link over its UNIX socket, the control socket (tamper, power cut),
 * restarts, clean shutdown, and bad state files.
 *
 * Paths come from the build: DROT_APM_BIN (the drot-apm program).
 * The authority key is generated with the openssl command-line tool.
 */
#define _GNU_SOURCE
#include <errno.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "drot/cose.h"
#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"

#ifndef DROT_APM_BIN
#error "DROT_APM_BIN must name the drot-apm program"
#endif

typedef struct proc_fixture {
    char dir[64], state[128], sock[160], ctl[160];
    uint8_t link_key[32];
    uint8_t drk_pub[65];
    uint8_t device_id[16];
    pid_t pid;
    int fd;
    drot_link_session host;
} proc_fixture;

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
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void provision(proc_fixture *f)
{
    char out_path[200], cmd[600];
    snprintf(out_path, sizeof out_path, "%s/identity.json", f->dir);
    assert_int_equal(
        run_cmd("openssl ecparam -genkey -name prime256v1 -noout -out '%s/auth.pem' 2>/dev/null", f->dir), 0);
    snprintf(cmd, sizeof cmd, "'%s' provision --state '%s' --authority-key '%s/auth.pem' > '%s'",
             DROT_APM_BIN, f->state, f->dir, out_path);
    assert_int_equal(run_cmd("%s", cmd), 0);
    json_error_t err;
    json_t *id = json_load_file(out_path, 0, &err);
    assert_non_null(id);
    hex_to(json_string_value(json_object_get(id, "drk_pub")), f->drk_pub, 65);
    hex_to(json_string_value(json_object_get(id, "device_id")), f->device_id, 16);
    json_decref(id);
    char key_path[200];
    snprintf(key_path, sizeof key_path, "%s/host-link.key", f->state);
    int fd = open(key_path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(read(fd, f->link_key, 32), 32);
    close(fd);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    if (plen >= sizeof a.sun_path)
        return -1; /* a truncated path would name another socket */
    memcpy(a.sun_path, path, plen + 1);
    for (int i = 0; i < 200; i++) { /* up to 10 s for the process to listen */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void start(proc_fixture *f)
{
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(DROT_APM_BIN, DROT_APM_BIN, "run", "--state", f->state, (char *)NULL);
        _exit(127);
    }
    f->fd = connect_unix(f->sock);
    assert_true(f->fd >= 0);
    assert_int_equal(drot_link_session_init_host(&f->host, f->link_key), DROT_OK);
}

/* Waits for the process to end; returns its exit status (-1 if killed). */
static int wait_exit(proc_fixture *f)
{
    int st;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
    f->pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stop(proc_fixture *f)
{
    kill(f->pid, SIGTERM);
    assert_int_equal(wait_exit(f), 0);
}

/* Sends frame, reads one answer frame into in (cap APM-sized). */
static size_t roundtrip(proc_fixture *f, const uint8_t *frame, size_t len, uint8_t *in)
{
    assert_int_equal(write(f->fd, frame, len), (ssize_t)len);
    size_t got = 0, want = DROT_LINK_HEADER_LEN;
    while (got < want) {
        ssize_t n = read(f->fd, in + got, want - got);
        if (n <= 0)
            return 0;
        got += (size_t)n;
        if (got == DROT_LINK_HEADER_LEN) {
            size_t pl = 0;
            assert_int_equal(drot_link_parse_header(in, got, NULL, NULL, &pl), DROT_OK);
            want += pl + DROT_LINK_TAG_LEN;
        }
    }
    return got;
}

static void handshake(proc_fixture *f)
{
    static uint8_t out[DROT_LINK_MAX_FRAME], in[DROT_LINK_MAX_FRAME];
    drot_rng rng = drot_sysrng();
    size_t len = 0;
    assert_int_equal(drot_link_host_hello(&f->host, &rng, out, sizeof out, &len), DROT_OK);
    size_t n = roundtrip(f, out, len, in);
    assert_int_equal(drot_link_host_accept_ack(&f->host, in, n, NULL), DROT_OK);
}

/* A request; *err = ERROR code (0 if the answer is not an ERROR). The
 * answer's payload is copied to payload[0..*plen). */
static void request(proc_fixture *f, uint8_t type, const uint8_t *p, size_t plen, uint8_t *payload,
                    size_t *outlen, int32_t *err)
{
    static uint8_t out[DROT_LINK_MAX_FRAME], in[DROT_LINK_MAX_FRAME];
    size_t len = 0;
    drot_link_frame v;
    assert_int_equal(drot_link_session_seal(&f->host, type, p, plen, out, sizeof out, &len), DROT_OK);
    size_t n = roundtrip(f, out, len, in);
    assert_true(n > 0);
    assert_int_equal(drot_link_session_open(&f->host, in, n, &v), DROT_OK);
    *err = 0;
    if (v.type == DROT_LINK_T_ERROR) {
        drot_link_error e;
        assert_int_equal(drot_link_error_decode(v.payload, v.payload_len, &e), DROT_OK);
        *err = e.code;
    } else {
        assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(type));
    }
    memcpy(payload, v.payload, v.payload_len);
    *outlen = v.payload_len;
}

/* GET_TOKEN (drot profile); returns the ERROR code or 0 with a verified token. */
static int32_t token(proc_fixture *f)
{
    static uint8_t payload[DROT_LINK_MAX_PAYLOAD];
    drot_link_token_req tr = {.nonce_len = 32, .profile = 2};
    memset(tr.nonce, 0x5a, 32);
    uint8_t p[96];
    size_t plen = 0, len = 0;
    int32_t err;
    assert_int_equal(drot_link_token_req_encode(&tr, p, sizeof p, &plen), DROT_OK);
    request(f, DROT_LINK_T_GET_TOKEN, p, plen, payload, &len, &err);
    if (err != 0)
        return err;
    const uint8_t *tok;
    size_t tok_len;
    drot_p256_pub pub;
    assert_int_equal(drot_link_token_resp_decode(payload, len, &tok, &tok_len), DROT_OK);
    assert_int_equal(drot_p256_pub_import(f->drk_pub, 65, &pub), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(tok, tok_len, &pub, NULL, 0, NULL), DROT_OK);
    return 0;
}

static drot_link_info *info(proc_fixture *f)
{
    static drot_link_info i;
    static uint8_t payload[DROT_LINK_MAX_PAYLOAD];
    size_t len;
    int32_t err;
    static const uint8_t empty[] = {0xa0};
    request(f, DROT_LINK_T_GET_INFO, empty, 1, payload, &len, &err);
    assert_int_equal(err, 0);
    assert_int_equal(drot_link_info_decode(payload, len, &i), DROT_OK);
    return &i;
}

/* One control command; returns the reply line. */
static const char *control(proc_fixture *f, const char *cmd)
{
    static char reply[512];
    int fd = connect_unix(f->ctl);
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
    proc_fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/drot-fwproc-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->state, sizeof f->state, "%s/dev", f->dir);
    snprintf(f->sock, sizeof f->sock, "%s/apm.sock", f->state);
    snprintf(f->ctl, sizeof f->ctl, "%s/control.sock", f->state);
    f->pid = -1;
    f->fd = -1;
    *state = f;
    provision(f);
    return 0;
}

static int teardown(void **state)
{
    proc_fixture *f = *state;
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    drot_link_session_wipe(&f->host);
    run_cmd("rm -rf '%s'", f->dir);
    free(f);
    return 0;
}

/* Test 1: --help of every command / exit 0 and a usage text; unknown
 * command and missing arguments / exit 2. */
static void test_cli(void **state)
{
    (void)state;
    assert_int_equal(run_cmd("'%s' --help | grep -q 'usage: drot-apm provision'", DROT_APM_BIN), 0);
    assert_int_equal(run_cmd("'%s' provision --help | grep -q 'authority-key'", DROT_APM_BIN), 0);
    assert_int_equal(run_cmd("'%s' run --help | grep -q 'power-cut'", DROT_APM_BIN), 0);
    assert_int_equal(run_cmd("'%s' frobnicate 2>/dev/null", DROT_APM_BIN), 2);
    assert_int_equal(run_cmd("'%s' provision 2>/dev/null", DROT_APM_BIN), 2);
    assert_int_equal(run_cmd("'%s' run 2>/dev/null", DROT_APM_BIN), 2);
    assert_int_equal(run_cmd("'%s' provision --help | grep -q -- '--anchor'", DROT_APM_BIN), 0);
    assert_int_equal(
        run_cmd("'%s' provision --state /tmp/x --authority-key /nonexistent.pem --anchor zz 2>&1 | "
                "grep -q '64 hex digits'",
                DROT_APM_BIN),
        0);
    assert_int_equal(run_cmd("'%s' deploy --help | grep -q 'lifecycle'", DROT_APM_BIN), 0);
    assert_int_equal(run_cmd("'%s' deploy 2>/dev/null", DROT_APM_BIN), 2);
    assert_int_equal(run_cmd("'%s' deploy --state /tmp/x extra 2>/dev/null", DROT_APM_BIN), 2);
    assert_int_equal(
        run_cmd("'%s' deploy --state /nonexistent-drot-state 2>&1 | grep -q 'provision'", DROT_APM_BIN), 0);
    assert_int_equal(
        run_cmd("'%s' provision --state /tmp/x --authority-key /nonexistent.pem 2>/dev/null", DROT_APM_BIN),
        2);
}

/* Test 2: provision, run, handshake / GET_INFO shows the identity printed
 * at provisioning; a token verifies under that DRK; SIGTERM: exit 0 and
 * both sockets removed; a second provision into the same state refused. */
static void test_serve(void **state)
{
    proc_fixture *f = *state;
    start(f);
    handshake(f);
    drot_link_info *i = info(f);
    assert_memory_equal(i->device_id, f->device_id, 16);
    assert_memory_equal(i->drk_pub, f->drk_pub, 65);
    assert_int_equal(i->boot_status, 0);
    assert_int_equal(token(f), 0);
    stop(f);
    assert_int_equal(access(f->sock, F_OK), -1);
    assert_int_equal(access(f->ctl, F_OK), -1);
    assert_int_not_equal(run_cmd("'%s' provision --state '%s' --authority-key '%s/auth.pem' >/dev/null 2>&1",
                                 DROT_APM_BIN, f->state, f->dir),
                         0);
}

/* Test 2b: drot-apm deploy / the lifecycle GET_INFO reports goes from
 * provisioned (1) to deployed (2); a second deploy is a no-op (exit 0). */
static void test_deploy(void **state)
{
    proc_fixture *f = *state;
    start(f);
    handshake(f);
    assert_int_equal(info(f)->lifecycle, 1);
    stop(f);
    assert_int_equal(run_cmd("'%s' deploy --state '%s' | grep -q '\"deployed\"'", DROT_APM_BIN, f->state), 0);
    assert_int_equal(run_cmd("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, f->state), 0);
    start(f);
    handshake(f);
    assert_int_equal(info(f)->lifecycle, 2);
    assert_int_equal(token(f), 0);
    stop(f);
}

/* Test 3: a host with the wrong link key / its HELLO is refused; the
 * device keeps serving the right key. */
static void test_wrong_link_key(void **state)
{
    proc_fixture *f = *state;
    start(f);
    uint8_t right[32];
    memcpy(right, f->link_key, 32);
    f->link_key[0] ^= 1;
    drot_link_session_wipe(&f->host);
    assert_int_equal(drot_link_session_init_host(&f->host, f->link_key), DROT_OK);
    static uint8_t out[DROT_LINK_MAX_FRAME], in[DROT_LINK_MAX_FRAME];
    drot_rng rng = drot_sysrng();
    size_t len = 0;
    assert_int_equal(drot_link_host_hello(&f->host, &rng, out, sizeof out, &len), DROT_OK);
    size_t n = roundtrip(f, out, len, in);
    assert_int_not_equal(drot_link_host_accept_ack(&f->host, in, n, NULL), DROT_OK);
    memcpy(f->link_key, right, 32);
    assert_int_equal(drot_link_session_init_host(&f->host, f->link_key), DROT_OK);
    handshake(f);
    assert_int_equal(token(f), 0);
    stop(f);
}

/* Test 4: a voltage excursion through the control socket / key use locked
 * (APM_E_LOCKED, -108) until restart; the event is in the tamper log,
 * which survives the restart. */
static void test_tamper_voltage(void **state)
{
    proc_fixture *f = *state;
    start(f);
    handshake(f);
    assert_string_equal(control(f, "tamper voltage 2500\n"), "ok\n");
    assert_int_equal(token(f), -108);
    stop(f);
    start(f);
    handshake(f);
    assert_int_equal(token(f), 0);
    assert_int_equal(info(f)->tamper_count, 1);
    stop(f);
}

/* Test 5: intrusion / token refused; after restart the lifecycle is
 * TAMPERED (3), the DRK is gone, and tokens stay refused. */
static void test_tamper_intrusion(void **state)
{
    proc_fixture *f = *state;
    start(f);
    handshake(f);
    assert_string_equal(control(f, "tamper intrusion\n"), "ok\n");
    assert_int_not_equal(token(f), 0);
    stop(f);
    start(f);
    handshake(f);
    drot_link_info *i = info(f);
    assert_int_equal(i->lifecycle, 3);
    static const uint8_t none[65];
    assert_memory_equal(i->drk_pub, none, 65); /* the key is gone, not only refused */
    assert_int_not_equal(token(f), 0);
    stop(f);
}

/* Test 6: power cut at the first write of the intrusion response / the
 * process stops with exit status 3; after restart the cut write (the
 * lifecycle burn, the commit point) has taken effect and no key is usable. */
static void test_power_cut(void **state)
{
    proc_fixture *f = *state;
    start(f);
    handshake(f);
    assert_string_equal(control(f, "power-cut 1\n"), "ok\n");
    assert_string_equal(control(f, "tamper intrusion\n"), "ok\n");
    /* the next poll (a request or the idle tick) responds, and power fails */
    static const uint8_t empty[] = {0xa0};
    static uint8_t out[DROT_LINK_MAX_FRAME], in[DROT_LINK_MAX_FRAME];
    size_t len = 0;
    assert_int_equal(drot_link_session_seal(&f->host, DROT_LINK_T_GET_INFO, empty, 1, out, sizeof out, &len),
                     DROT_OK);
    (void)!write(f->fd, out, len);
    (void)!read(f->fd, in, sizeof in);
    assert_int_equal(wait_exit(f), 3);
    start(f);
    handshake(f);
    drot_link_info *i = info(f);
    assert_int_equal(i->lifecycle, 3);
    static const uint8_t none[65];
    assert_memory_equal(i->drk_pub, none, 65);
    assert_int_not_equal(token(f), 0);
    stop(f);
}

/* Test 7: a truncated otp.bin / run refuses to start (exit 1) and leaves
 * the file as it was. */
static void test_bad_state_file(void **state)
{
    proc_fixture *f = *state;
    char otp[200];
    snprintf(otp, sizeof otp, "%s/otp.bin", f->state);
    assert_int_equal(truncate(otp, 100), 0);
    assert_int_equal(run_cmd("'%s' run --state '%s' 2>/dev/null", DROT_APM_BIN, f->state), 1);
    struct stat st;
    assert_int_equal(stat(otp, &st), 0);
    assert_int_equal(st.st_size, 100);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli),
        cmocka_unit_test_setup_teardown(test_serve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_link_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_voltage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_intrusion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_state_file, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_process", tests, NULL, NULL);
}
