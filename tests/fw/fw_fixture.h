/*
 * fw_fixture.h — a simulated APM for the storage tests: a temporary state
 * directory (mkdtemp, removed at the end), boot and "reboot" (close the sim,
 * reopen it, a fresh core, apm_core_init, apm_ks_load), snapshots of the
 * state files, and the power-cut sweep driver.
 */
#ifndef FW_FIXTURE_H
#define FW_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "otp.h"
#include "sim_hal.h"

#define FW_FLASH_BYTES ((size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE)

typedef struct fw_dev {
    char dir[256];
    apm_sim sim;
    apm_core core;
    bool is_open;
} fw_dev;

/* Factory inputs used by every test (uds differs per device with FW_UDS2). */
extern const uint8_t FW_DEVICE_ID[16];
extern const uint8_t FW_UDS[32];
extern const uint8_t FW_UDS2[32];
extern const uint8_t FW_LINK_KEY[32];
extern const uint8_t FW_ANCHORS[2][32];

/* A fresh device in a new temporary directory, booted (core initialised). */
void fw_dev_create(fw_dev *d);
/* Closes the sim and wipes the core (no-op if closed). */
void fw_dev_close(fw_dev *d);
/* Opens the sim on d->dir and boots a fresh core: apm_core_init (asserted
 * OK) then apm_ks_load, whose status is returned. */
apm_status fw_dev_open(fw_dev *d);
/* fw_dev_close + fw_dev_open. */
apm_status fw_dev_reboot(fw_dev *d);
/* Closes and removes the directory and its files. */
void fw_dev_destroy(fw_dev *d);
/* Runs apm_manufacture_storage with the FW_* inputs (2 anchors), given uds. */
apm_status fw_manufacture(fw_dev *d, const uint8_t uds[32]);

/* The state files, byte for byte. */
typedef struct fw_snapshot {
    uint8_t otp[APM_SIM_OTP_SIZE];
    uint8_t *flash;
} fw_snapshot;

/* Snapshot of d's files (d is closed and reopened around it). */
void fw_snapshot_take(fw_dev *d, fw_snapshot *s);
/* Writes s back into d's files and reopens d (returns fw_dev_open's status). */
apm_status fw_snapshot_restore(fw_dev *d, const fw_snapshot *s);
void fw_snapshot_free(fw_snapshot *s);

/* The power-cut sweep. op runs the operation on a booted device; check
 * asserts the invariants after the reboot that follows a cut at write n
 * (1-based, counted from op's start), torn or clean; op_status is what op
 * returned. The sweep: snapshot the state, run op uncut to count its writes
 * W (asserting it succeeds and W > 0), then for n = 1..W, clean and torn:
 * restore, boot, arm the injector, run op, assert the cut happened and op
 * reported it (APM_E_POWER, or APM_OK only for a clean cut at the last
 * write), reboot (apm_ks_load must succeed), check. Prints the figures and
 * returns W; the state left is the last cut run's. */
typedef apm_status (*fw_op_fn)(fw_dev *d, void *arg);
typedef void (*fw_check_fn)(fw_dev *d, long n, bool torn, apm_status op_status, void *arg);
long fw_sweep(const char *name, fw_dev *d, fw_op_fn op, fw_check_fn check, void *arg);

/* Hex dump helper for failure messages. */
bool fw_mem_eq(const void *a, const void *b, size_t n);

#endif
