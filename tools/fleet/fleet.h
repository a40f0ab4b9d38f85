/*
 * fleet.h — drot-fleet's internals (docs/fleet.md): simulated devices, each
 * an in-process APM (apm_inproc.h) with its state in STATE/d/NNNNNNN/,
 * running the agent's protocol (libdrot-host: driver, server client)
 * against real drot-server processes.
 *
 * State directory:
 *   STATE/fleet.json         {"class", "count", "servers"}: what `create` made
 *   STATE/devices.txt        one device id (32 hex digits) per line, index order
 *   STATE/d/NNNNNNN/         otp.bin, flash.bin (the APM), link.key (the host's
 *                            copy), tls-key.pem and tls-cert-S.pem (S: the
 *                            server index) once enrolled
 * The TLS key is kept as a plain file (mode 0600), not sealed by the APM as
 * drot-agent does: a load generator for a test server, not a device.
 */
#ifndef FLEET_H
#define FLEET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "apm_inproc.h"
#include "drot/host.h"

#define FLEET_MAX_SERVERS 8
#define FLEET_MAX_PIDS    8
#define FLEET_MAX_WORKERS 256
#define FLEET_PATH_MAX    600

typedef enum fleet_phase {
    PH_CREATE,
    PH_ENROLL,
    PH_ATTEST,
    PH_ROTATE,
    PH_HOLD,
} fleet_phase;

typedef struct fleet_cfg {
    fleet_phase phase;
    const char *state;
    const char *urls[FLEET_MAX_SERVERS];
    size_t n_urls;
    bool each_server; /* every server has its own database: register and enroll at each */
    const char *ca, *op_cert, *op_key, *passphrase;
    const char *cls;
    const char *anchor_hex; /* the server's authority anchor (create) */
    unsigned long devices;  /* create: how many; other phases: the first N (0: all) */
    unsigned long attests;  /* attest: per device */
    bool new_conn;          /* attest: a new TLS connection for each attestation */
    const char *mode;       /* rotate: "server" or "device" */
    unsigned workers;
    pid_t pids[FLEET_MAX_PIDS];
    size_t n_pids;
    double ref_seconds; /* CPU seconds for each raw-operation reference measurement */
    bool json, quiet;
    long timeout_s;
} fleet_cfg;

/* Latencies (microseconds) of one kind of exchange, per server. */
typedef struct fleet_lat {
    uint32_t *us;
    size_t n, cap;
} fleet_lat;
int fleet_lat_add(fleet_lat *l, uint32_t us);
/* Sorts and summarises into a JSON object {count, p50_ms, p90_ms, p99_ms, max_ms, mean_ms}. */
json_t *fleet_lat_json(fleet_lat *l);
void fleet_lat_merge(fleet_lat *into, fleet_lat *from);
void fleet_lat_free(fleet_lat *l);

/* What one worker did. */
typedef struct fleet_tally {
    unsigned long ok, errors, pass, warn, fail, jobs_seen, rotations;
    fleet_lat lat[FLEET_MAX_SERVERS];
    char first_error[512];
} fleet_tally;

/* The run: configuration, shared counters, worker tallies. */
typedef struct fleet_run {
    const fleet_cfg *cfg;
    unsigned long count;       /* devices in the state */
    unsigned long n;           /* devices this phase works on */
    char (*ids)[33];           /* device ids, hex */
    unsigned long next;        /* next device index to take (atomic) */
    unsigned long done;        /* devices finished (atomic) */
    unsigned long ops, errors; /* exchanges finished / failed (atomic), for progress */
    fleet_tally tally[FLEET_MAX_WORKERS];
    /* create */
    apm_identity *identities;
    const uint8_t *manifest;
    size_t manifest_len;
    const uint8_t *image;
    size_t image_len;
    uint8_t anchors[2][32];
    /* hold */
    dh_server **held;
    char **held_pem; /* key and cert strings the held handles point to, 2 per device */
    pthread_mutex_t lock;
} fleet_run;

/* ---- fleet_dev.c: one device's work in one phase ---- */
void fleet_dev_dir(const fleet_cfg *c, unsigned long i, char *out, size_t cap);
int fleet_dev_create(fleet_run *r, unsigned long i, fleet_tally *t);
int fleet_dev_enroll(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t);
int fleet_dev_attest(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t);
int fleet_dev_rotate(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t);
int fleet_dev_hold(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t);
void fleet_tally_error(fleet_tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- fleet_util.c ---- */
uint64_t fleet_mono_us(void);
/* A process's CPU time (user + system, from /proc/PID/stat) in seconds; -1 if gone. */
double fleet_proc_cpu(pid_t pid);
/* VmRSS and VmHWM of a process in KiB (-1 when unreadable), open descriptors. */
void fleet_proc_mem(pid_t pid, long *rss_kb, long *hwm_kb, long *fds);
/* Raw operations through the crypto library (OpenSSL), CPU microseconds each:
 * {"ecdsa_p256_verify_us", "ecdsa_p256_sign_us", "p256_keygen_us",
 *  "ecdh_p256_us", "x25519_keygen_us", "x25519_derive_us"}; NULL on failure. */
json_t *fleet_reference(double seconds);
/* Admin API call with the operator certificate; the answer's JSON in *out
 * (may be NULL). Returns the HTTP status, or -1 with a message. */
long fleet_admin(const fleet_cfg *c, size_t server, const char *method, const char *path, const char *body,
                 json_t **out, char *err, size_t cap);
int fleet_read_file(const char *path, char **out, size_t *len);
int fleet_write_file(const char *path, const void *p, size_t n);
void fleet_hex(const uint8_t *p, size_t n, char *out);

#endif
