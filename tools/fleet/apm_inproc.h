/*
 * apm_inproc.h — a simulated APM linked into the calling process: the APM
 * core (fw/src) on the sim HAL (fw/ports/sim: fuses and flash in a state
 * directory), reached by libdrot-host's driver through a transport that
 * hands whole frames to apm_device_handle() instead of a UNIX socket.
 *
 * Used by drot-fleet (thousands of devices in one process, docs/fleet.md)
 * and by the APM token benchmark (tests/bench/bench_apm.c). Everything the
 * driver does — HELLO, the session keys, tags, sequence numbers, the strict
 * decoding of every answer — runs exactly as against `drot-apm run`; only
 * the byte stream is a function call. One fleet_apm serves one driver from
 * one thread at a time; separate fleet_apm objects may run in parallel
 * threads (the core keeps no global state).
 *
 *   fleet_apm a;
 *   fleet_apm_wake(&a, dir, err, cap);        open the state, boot the core
 *   dh_driver_open(&d, &fleet_apm_transport_ops, &a, link_key, NULL);
 *   ... dh_get_token(d, ...) ...
 *   dh_driver_close(d);
 *   fleet_apm_sleep(&a);                      wipe the core, close the state
 */
#ifndef FLEET_APM_INPROC_H
#define FLEET_APM_INPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apm/apm.h"
#include "drot/host.h"
#include "sim_hal.h"

typedef struct fleet_apm {
    apm_sim sim;
    apm_device dev;
    bool awake;     /* state open and core booted */
    bool connected; /* a driver "connection" is up */
    uint8_t in[APM_FRAME_MAX];
    size_t in_len;
    uint8_t out[APM_FRAME_MAX];
    size_t out_len, out_pos;
    /* CPU time of this thread inside apm_device_handle, and frames handled:
     * what the APM itself costs (the benchmark reads these). */
    uint64_t handle_ns;
    uint64_t handled;
} fleet_apm;

/* The driver's transport (ctx: a fleet_apm that is awake). connect fails
 * with DH_E_CONNECT when the APM sleeps. */
extern const dh_transport_ops fleet_apm_transport_ops;

/* Opens the state directory dir and boots the core on it. 0, or -1 with a
 * message in err. */
int fleet_apm_wake(fleet_apm *a, const char *dir, char *err, size_t cap);
/* Wipes the core (keys, session) and closes the state; safe when asleep. */
void fleet_apm_sleep(fleet_apm *a);

/* Manufactures a new device in dir (created, must not exist) with p, then
 * deploys it (lifecycle secured) and writes dir/link.key (mode 0600).
 * 0, or -1 with a message. */
int fleet_apm_manufacture(const char *dir, const apm_manufacture_params *p, apm_identity *id, char *err,
                          size_t cap);

#endif
