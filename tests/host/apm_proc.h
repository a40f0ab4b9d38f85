/*
 * apm_proc.h — real drot-apm processes for host tests (test_host_storage,
 * test_agent_cli): provision a device with an openssl-generated authority
 * key, run it, stop or kill it, and open a libdrot-host driver on it.
 *
 * Every function asserts (cmocka) on failure. A test's teardown calls
 * apm_proc_kill on every device it provisioned, pass or fail, and removes
 * the root directory with apm_proc_rmtree.
 */
#ifndef APM_PROC_H
#define APM_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "drot/host.h"
#include "drot_crypto.h"

typedef struct apm_proc {
    char state[200];    /* ROOT/NAME: the device's state directory */
    char sock[240];     /* STATE/apm.sock */
    char ctl[240];      /* STATE/control.sock */
    char key[240];      /* STATE/host-link.key */
    char auth[240];     /* the authority key (PEM) it was provisioned with */
    char identity[240]; /* ROOT/NAME.json: what provision printed */
    uint8_t link_key[32];
    uint8_t device_id[16];
    uint8_t drk_pub[65];
    uint8_t instance_id[33];
    pid_t pid; /* -1 when not running */
    dh_unix_transport transport;
    dh_driver *driver; /* NULL until apm_proc_driver */
} apm_proc;

/* A new temporary root directory in out[0..cap) ("/tmp/drot-<tag>-XXXXXX"). */
void apm_proc_mkroot(char *out, size_t cap, const char *tag);
/* rm -rf root. */
void apm_proc_rmtree(const char *root);
/* Runs a shell command (printf format); its exit status, -1 if killed. */
int apm_proc_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Generates ROOT/auth.pem if absent (a P-256 authority key) and provisions
 * ROOT/NAME with it. */
void apm_proc_provision(apm_proc *p, const char *root, const char *name);
/* The same with more `drot-apm provision` arguments (a shell fragment, e.g.
 * "--anchor HEX"). */
void apm_proc_provision_ex(apm_proc *p, const char *root, const char *name, const char *extra);
/* Starts drot-apm run and waits until its link socket accepts connections. */
void apm_proc_start(apm_proc *p);
/* SIGTERM and wait: asserts exit status 0. Closes the driver. */
void apm_proc_stop(apm_proc *p);
/* SIGKILL and wait if running; closes the driver. Safe to call twice. */
void apm_proc_kill(apm_proc *p);
/* The driver on this device (opened once; closed by stop/kill). */
dh_driver *apm_proc_driver(apm_proc *p);
/* One line to the control socket; returns the reply (static buffer). */
const char *apm_proc_control(apm_proc *p, const char *line);
/* The authority key the device was provisioned with (its anchor 0), for
 * tests that sign what the device must obey (firmware manifests). */
void apm_proc_authority(const apm_proc *p, drot_p256_priv *priv, drot_p256_pub *pub);
/* The same without asserting: "" when the device does not answer (it has
 * lost power and exited, say). */
const char *apm_proc_control_try(apm_proc *p, const char *line);

#endif
