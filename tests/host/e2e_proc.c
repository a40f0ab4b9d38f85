/*
 * e2e_proc.c — see e2e_proc.h.
 */
#define _GNU_SOURCE
#include "e2e_proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "drot_test_support.h"

#ifndef DROT_SERVER_BIN
#error "DROT_SERVER_BIN must name drot-server"
#endif
#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

unsigned e2e_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return sz * n;
}

static bool healthy(const e2e_server *s, const char *ca)
{
    char url[128];
    long code = 0;
    snprintf(url, sizeof url, "%s/healthz", s->url);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 2L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return rc == CURLE_OK && code == 200;
}

void e2e_server_start(e2e_server *s, const char *ca, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    if (s->port == 0)
        s->port = e2e_free_port();
    snprintf(s->listen, sizeof s->listen, "127.0.0.1:%u", s->port);
    snprintf(s->url, sizeof s->url, "https://127.0.0.1:%u", s->port);
    const char *bin = s->bin != NULL ? s->bin : DROT_SERVER_BIN;
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = s->listen;
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(n < 31);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        if (s->crash_at != NULL)
            setenv("DROT_SERVER_CRASH_AT", s->crash_at, 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (healthy(s, ca))
            return;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = -1;
            fail_msg("drot-server exited at start (log %s)", s->log);
        }
        usleep(50000);
    }
    fail_msg("drot-server did not answer /healthz (log %s)", s->log);
}

int e2e_server_wait_exit(e2e_server *s, int ms)
{
    for (int t = 0; s->pid > 0 && t <= ms; t += 20) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    return -1;
}

void e2e_server_kill(e2e_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = -1;
}

char *e2e_slurp(const char *path)
{
    size_t n = 0;
    char *p = (char *)drot_test_read_file(path, &n);
    if (p == NULL)
        return calloc(1, 1);
    char *q = realloc(p, n + 1);
    assert_non_null(q);
    q[n] = '\0';
    return q;
}

void e2e_out_free(e2e_out *o)
{
    free(o->out);
    free(o->err);
    o->out = o->err = NULL;
}

int e2e_run(e2e_out *o, const char *dir, const char *fmt, ...)
{
    char cmd[3000], full[3400], path[300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    assert_true((size_t)snprintf(full, sizeof full, "%s </dev/null >'%s/run.out' 2>'%s/run.err'", cmd, dir,
                                 dir) < sizeof full);
    int st = system(full);
    e2e_out_free(o);
    snprintf(path, sizeof path, "%s/run.out", dir);
    o->out = e2e_slurp(path);
    snprintf(path, sizeof path, "%s/run.err", dir);
    o->err = e2e_slurp(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

json_t *e2e_drotctl(e2e_out *o, const char *dir, const char *url, const char *keys, const char *ca,
                    const char *args)
{
    int rc =
        e2e_run(o, dir,
                "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
                "--ca '%s' %s",
                DROTCTL_BIN, url, keys, keys, ca, args);
    if (rc != 0)
        return NULL;
    json_t *j = json_loads(o->out, 0, NULL);
    if (j == NULL)
        fail_msg("drotctl %s printed no JSON: %s", args, o->out);
    return j;
}

long long e2e_jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

const char *e2e_jtext(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}
