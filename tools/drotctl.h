/*
 * drotctl.h — what drotctl.c shares with its other command files
 * (drotctl_rotate.c). Exit status: 0 success, 1 failure, EXIT_USAGE.
 */
#ifndef DROTCTL_H
#define DROTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define EXIT_USAGE 2

/* Global options of the admin commands. */
typedef struct admin_opts {
    const char *server, *cert, *key, *ca, *pass_file;
} admin_opts;

/* Parses "--name VALUE" / "--flag" options among argv[from..argc); the
 * other words go to pos[]. Returns 0, or EXIT_USAGE after a message. */
typedef struct sub_opt {
    const char *name;
    bool flag;
    const char *value;
    bool set;
} sub_opt;

/* "drotctl: ..." on stderr. */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of command cmd: a message, then EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sub_parse(const char *cmd, int argc, char **argv, int from, sub_opt *o, size_t no, const char **pos,
              size_t maxpos, size_t *npos);
bool has_help(int argc, char **argv);
/* A device id: 32 hex digits. */
bool valid_id(const char *s);
/* One admin API call; *out = the JSON answer (caller frees). 0, or 1 after
 * printing the server's error in one line (EXIT_USAGE without GLOBAL). */
int admin_call(const admin_opts *o, const char *method, const char *path, const char *body, json_t **out);
/* Prints j (consumed) indented; 0. */
int print_json(json_t *j);
/* A string member, or "-". */
const char *jstr(const json_t *o, const char *k);
/* A time member as ISO 8601 UTC, or "-". */
void jtime(const json_t *o, const char *k, char out[32]);
void iso_time(int64_t t, char out[32]);
/* A whole file (at most max bytes) as a NUL-terminated malloc'ed buffer;
 * NULL after a message. */
char *slurp(const char *path, size_t max, size_t *len);
/* Hex digits (whitespace between them allowed) into out[0..cap); 0 and
 * *len bytes, or -1. */
int unhex_str(const char *s, uint8_t *out, size_t cap, size_t *len);

/* drotctl_rotate.c */
int drotctl_cmd_rotate(const admin_opts *g, int argc, char **argv);
int drotctl_cmd_rotations(const admin_opts *g, int argc, char **argv);
int drotctl_cmd_campaign(const admin_opts *g, int argc, char **argv);
int drotctl_cmd_authority(const admin_opts *g, int argc, char **argv);
/* drotctl_audit.c */
int drotctl_cmd_audit(const admin_opts *g, int argc, char **argv);
/* drotctl_policy.c */
int drotctl_cmd_policy(const admin_opts *g, int argc, char **argv);
int drotctl_cmd_device(const admin_opts *g, int argc, char **argv);
int drotctl_cmd_webhooks(const admin_opts *g, int argc, char **argv);
/* drotctl_firmware.c */
int drotctl_cmd_firmware(const admin_opts *g, int argc, char **argv);
/* drotctl_revocation.c */
int drotctl_cmd_revoke(const admin_opts *g, int argc, char **argv);
int drotctl_cmd_revocations(const admin_opts *g, int argc, char **argv);

#endif
