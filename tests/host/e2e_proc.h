/*
 * e2e_proc.h — drot-server processes and command runs for end-to-end tests
 * (test_rotate_e2e): a server on a free loopback port with a log file,
 * started, health-checked, killed; and shell commands whose stdout and
 * stderr are captured. Every function asserts (cmocka) on failure.
 */
#ifndef E2E_PROC_H
#define E2E_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

typedef struct e2e_server {
    const char *bin;      /* NULL: DROT_SERVER_BIN */
    const char *crash_at; /* NULL, or DROT_SERVER_CRASH_AT for a test-hook build */
    char url[64];
    char log[256];
    char listen[64];
    unsigned port;
    pid_t pid; /* -1 when not running */
} e2e_server;

/* A free TCP port on 127.0.0.1. */
unsigned e2e_free_port(void);
/* Starts DROT_SERVER_BIN with args (a NULL-terminated list after
 * "--listen ADDR") and waits for /healthz (CA file ca) to answer 200. */
void e2e_server_start(e2e_server *s, const char *ca, const char *const *args);
void e2e_server_kill(e2e_server *s);
/* Waits up to ms for the server to exit by itself; its exit status, or -1
 * if it still runs (left running). */
int e2e_server_wait_exit(e2e_server *s, int ms);

/* Output of the last e2e_run (NUL-terminated, never NULL). */
typedef struct e2e_out {
    char *out, *err;
} e2e_out;

/* Runs the shell command (printf format) with stdin from /dev/null, in the
 * test's working directory (dir is only where run.out and run.err are kept:
 * give commands absolute paths); captures stdout and stderr into *o (freed
 * and replaced on each call).
 * Returns the exit status (-1 if killed). */
int e2e_run(e2e_out *o, const char *dir, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void e2e_out_free(e2e_out *o);
/* A whole file as a NUL-terminated string (empty if unreadable). */
char *e2e_slurp(const char *path);

/* `drotctl` (DROTCTL_BIN) with the operator's GLOBAL options for the server
 * at url (keys: the drotctl init directory, ca: the device CA) and args (a
 * shell fragment); the JSON it printed (caller frees), or NULL when it
 * exited non-zero (o holds its output). Fails the test on non-JSON output. */
json_t *e2e_drotctl(e2e_out *o, const char *dir, const char *url, const char *keys, const char *ca,
                    const char *args);
/* A member as a number (0 if absent) or a string ("" if absent). */
long long e2e_jint(const json_t *o, const char *k);
const char *e2e_jtext(const json_t *o, const char *k);

#endif
