/*
 * apm_proc.c — see apm_proc.h.
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

#include "apm_proc.h"
#include "drot_test_support.h"

#ifndef DROT_APM_BIN
#error "DROT_APM_BIN must name the drot-apm program"
#endif

int apm_proc_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void apm_proc_mkroot(char *out, size_t cap, const char *tag)
{
    assert_true((size_t)snprintf(out, cap, "/tmp/drot-%s-XXXXXX", tag) < cap);
    assert_non_null(mkdtemp(out));
}

void apm_proc_rmtree(const char *root)
{
    if (root != NULL && strncmp(root, "/tmp/drot-", 10) == 0)
        apm_proc_sh("rm -rf '%s'", root);
}

static void hex_field(json_t *id, const char *name, uint8_t *out, size_t n)
{
    const char *hex = json_string_value(json_object_get(id, name));
    assert_non_null(hex);
    assert_int_equal(drot_test_hex(hex, out, n), (long)n);
}

void apm_proc_provision(apm_proc *p, const char *root, const char *name)
{
    apm_proc_provision_ex(p, root, name, "");
}

void apm_proc_provision_ex(apm_proc *p, const char *root, const char *name, const char *extra)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    snprintf(p->state, sizeof p->state, "%s/%s", root, name);
    snprintf(p->sock, sizeof p->sock, "%s/apm.sock", p->state);
    snprintf(p->ctl, sizeof p->ctl, "%s/control.sock", p->state);
    snprintf(p->key, sizeof p->key, "%s/host-link.key", p->state);
    snprintf(p->auth, sizeof p->auth, "%s/auth.pem", root);
    snprintf(p->identity, sizeof p->identity, "%s/%s.json", root, name);
    if (access(p->auth, R_OK) != 0)
        assert_int_equal(
            apm_proc_sh("openssl ecparam -genkey -name prime256v1 -noout -out '%s' 2>/dev/null", p->auth), 0);
    assert_int_equal(apm_proc_sh("'%s' provision --state '%s' --authority-key '%s' %s > '%s'", DROT_APM_BIN,
                                 p->state, p->auth, extra, p->identity),
                     0);
    json_error_t err;
    json_t *id = json_load_file(p->identity, 0, &err);
    assert_non_null(id);
    hex_field(id, "device_id", p->device_id, sizeof p->device_id);
    hex_field(id, "drk_pub", p->drk_pub, sizeof p->drk_pub);
    hex_field(id, "instance_id", p->instance_id, sizeof p->instance_id);
    json_decref(id);
    int fd = open(p->key, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, p->link_key, 32), 32);
    close(fd);
}

static int connect_once(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    if (plen >= sizeof a.sun_path)
        return -1; /* a truncated path would name another socket */
    memcpy(a.sun_path, path, plen + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void apm_proc_start(apm_proc *p)
{
    assert_int_equal(p->pid, -1);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(DROT_APM_BIN, DROT_APM_BIN, "run", "--state", p->state, (char *)NULL);
        _exit(127);
    }
    /* Up to 10 s for the process to listen. A probe connection is closed at
     * once; the APM serves one host at a time and takes the next. */
    for (int i = 0; i < 200; i++) {
        int fd = connect_once(p->sock);
        if (fd >= 0) {
            close(fd);
            return;
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = -1;
            fail_msg("drot-apm run --state %s exited at start", p->state);
        }
        nap_ms(50);
    }
    fail_msg("drot-apm did not listen on %s", p->sock);
}

static void close_driver(apm_proc *p)
{
    if (p->driver != NULL)
        dh_driver_close(p->driver);
    p->driver = NULL;
}

void apm_proc_stop(apm_proc *p)
{
    close_driver(p);
    assert_true(p->pid > 0);
    kill(p->pid, SIGTERM);
    int st;
    assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
    p->pid = -1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

void apm_proc_kill(apm_proc *p)
{
    close_driver(p);
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    p->pid = -1;
}

dh_driver *apm_proc_driver(apm_proc *p)
{
    if (p->driver == NULL) {
        dh_driver_options opt = {.timeout_ms = 5000};
        assert_int_equal(dh_unix_transport_init(&p->transport, p->sock), DH_OK);
        assert_int_equal(dh_driver_open(&p->driver, &dh_unix_transport_ops, &p->transport, p->link_key, &opt),
                         DH_OK);
    }
    return p->driver;
}

const char *apm_proc_control(apm_proc *p, const char *line)
{
    static char reply[512];
    int fd = connect_once(p->ctl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    ssize_t n = read(fd, reply, sizeof reply - 1);
    assert_true(n > 0);
    reply[n] = '\0';
    close(fd);
    return reply;
}

const char *apm_proc_control_try(apm_proc *p, const char *line)
{
    static char reply[512];
    reply[0] = '\0';
    int fd = connect_once(p->ctl);
    if (fd < 0)
        return reply;
    if (write(fd, line, strlen(line)) == (ssize_t)strlen(line)) {
        ssize_t n = read(fd, reply, sizeof reply - 1);
        reply[n > 0 ? n : 0] = '\0';
    }
    close(fd);
    return reply;
}

void apm_proc_authority(const apm_proc *p, drot_p256_priv *priv, drot_p256_pub *pub)
{
    /* `openssl ec -outform DER` gives SEC1: 30 77 02 01 01 04 20 <d> ... */
    char der[260];
    snprintf(der, sizeof der, "%s.der", p->auth);
    assert_int_equal(apm_proc_sh("openssl ec -in '%s' -outform DER -out '%s' 2>/dev/null", p->auth, der), 0);
    size_t n = 0;
    uint8_t *k = drot_test_read_file(der, &n);
    assert_non_null(k);
    assert_true(n > 39 && k[0] == 0x30 && k[2] == 0x02 && k[3] == 0x01 && k[4] == 0x01 && k[5] == 0x04 &&
                k[6] == 0x20);
    assert_int_equal(drot_p256_key_from_scalar(k + 7, priv, pub), DROT_OK);
    drot_wipe(k, n);
    free(k);
    unlink(der);
}
