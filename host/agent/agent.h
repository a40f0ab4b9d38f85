/*
 * agent.h — what the parts of drot-agent share (host/agent only): exit
 * codes, the global options, the agent's state, and the helpers every
 * command uses (main.c defines them; fw.c has the firmware commands).
 */
#ifndef DROT_AGENT_H
#define DROT_AGENT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "drot/host.h"

#define EXIT_OK     0
#define EXIT_FAILED 1 /* the operation failed or the APM refused it */
#define EXIT_USAGE  2 /* bad arguments or unusable input files; nothing was done */
#define EXIT_UNREACHABLE                                                                                     \
    3 /* the APM could not be reached or did not answer                                                      \
       */

/* Largest plaintext `seal` reads: what one blob holds. */
#define AGENT_SEAL_MAX DROT_LINK_SEAL_MAX_DATA

#define EXIT_CODES_HELP                                                                                      \
    "exit status: 0 ok, 1 operation failed or refused by the APM, 2 usage "                                  \
    "error (nothing done),\n"                                                                                \
    "             3 APM unreachable (no socket, no answer)\n"

#define GLOBAL_HELP                                                                                          \
    "global options (before or after the command):\n"                                                        \
    "  --socket PATH     the APM's link socket (default: $DROT_APM_SOCKET)\n"                                \
    "  --link-key FILE   the host's copy of the link key: 32 raw bytes, mode "                               \
    "0600 or stricter\n"                                                                                     \
    "  --timeout MS      how long to wait for each answer (default 5000)\n"                                  \
    "  --json            machine-readable output (info, tamper-log, fw, measure, revocations)\n"

typedef struct agent {
    const char *cmd; /* the command name, for messages */
    const char *socket;
    const char *link_key_path;
    int timeout_ms;
    bool json;
    dh_unix_transport transport;
    dh_driver *driver;
} agent;

enum { OPT_SOCKET = 1000, OPT_LINK_KEY, OPT_TIMEOUT, OPT_JSON, OPT_HELP };

#define GLOBAL_OPTIONS                                                                                       \
    {"socket", required_argument, 0, OPT_SOCKET}, {"link-key", required_argument, 0, OPT_LINK_KEY},          \
        {"timeout", required_argument, 0, OPT_TIMEOUT}, {"json", no_argument, 0, OPT_JSON},                  \
    {                                                                                                        \
        "help", no_argument, 0, OPT_HELP                                                                     \
    }

/* One line on stderr: "drot-agent: " + the message. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Handles an option every command accepts: 0 handled, 1 not a global
 * option, EXIT_USAGE on a bad value. */
int global_option(agent *a, int c, const char *arg);
/* The message for getopt's '?' and ':'; returns EXIT_USAGE. */
int bad_option(const agent *a, int c, char **argv);
/* Exactly `want` bytes of hex (or want2 / want3 when non-zero); EXIT_USAGE
 * with a message otherwise. */
int hex_arg(const char *opt, const char *s, uint8_t *out, size_t cap, size_t *n, size_t want, size_t want2,
            size_t want3);
/* All of fd, at most max bytes, into a new buffer: 0, -1 I/O, -2 too large. */
int read_bounded(int fd, size_t max, uint8_t **out, size_t *len);
void hex_print(FILE *f, const uint8_t *p, size_t n);
json_t *hex_json(const uint8_t *p, size_t n);
/* Text from the APM for a terminal: control characters shown as '?'. */
void text_print(const char *p, size_t n);
/* Checks the socket and the link key and opens the driver: 0 or an exit status. */
int agent_open(agent *a);
/* One line for a failed request; returns the exit status. */
int agent_fail(const agent *a, const char *what, dh_status st);

/* The firmware job loop (fw_loop.c, docs/firmware.md "The agent's part"). */
typedef struct fw_loop {
    agent *a;
    const dh_server_options *so; /* with the device's certificate and key */
    const char *storage;         /* --storage: downloads and the job note go to STORAGE/firmware */
    const char *host_fw;         /* --host-fw DIR for host boot stages, or NULL */
} fw_loop;
/* One step of the firmware job after the attestation answer v (a PASS with
 * an offer; or, after any other verdict, the abort of a trial the agent
 * began). *again: an APM test boot began, attest again soon. 0, or an exit
 * status with err (the job is left to the next attestation). */
int fw_loop_step(const fw_loop *c, const dh_server_verdict *v, bool *again, char *err, size_t cap);

/* drot-agent fw (fw.c). */
int cmd_fw(agent *a, int argc, char **argv);
/* drot-agent revocations (revocations.c). */
int cmd_revocations(agent *a, int argc, char **argv);
/* drot-agent fw fetch|report, with the server (main.c): argv[1] is the
 * subcommand. */
int cmd_fw_server(agent *a, int argc, char **argv);

#endif /* DROT_AGENT_H */
