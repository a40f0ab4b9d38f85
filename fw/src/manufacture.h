/*
 * manufacture.h — factory provisioning of the APM's storage (internal).
 *
 * One resumable sequence, in this order:
 *
 *   1. identity: device_id, uds, link_key (otp.h, write-once)
 *   2. anchors[0..n) into anchor slots 0..n-1 (write-once)
 *   3. the record key, derived again from the uds as now burned (core.h)
 *   4. the initial DRK, epoch 0 (keystore.h K4)
 *   5. lifecycle PROVISIONED: the last write, so PROVISIONED implies 1–4 done
 *
 * Invariants:
 *   M1. Every step is idempotent (O1 no-op on an identical value, K4 keeps a
 *       present key, a lifecycle step to the current state is a no-op), and a
 *       step cut by power loss is completed by the next run (O1's torn-prefix
 *       rule; a torn record never verifies, R2). So after a cut at any write,
 *       running the sequence again with the same inputs completes it, keeping
 *       the DRK if its record had been written.
 *   M2. Every input is checked, and every write-once field compared with the
 *       fuses, before the first write: refused input changes nothing.
 *   M3. Only in MANUFACTURING (or PROVISIONED, to confirm a completed run);
 *       APM_E_LIFECYCLE in any later state.
 */
#ifndef APM_MANUFACTURE_H
#define APM_MANUFACTURE_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* Runs (or resumes) steps 1–5. anchors: n_anchors (1..APM_ANCHOR_SLOTS)
 * hashes, none all-zero. On success core->otp and core->drk are current. */
apm_status apm_manufacture_storage(apm_core *core, const uint8_t device_id[16], const uint8_t uds[32],
                                   const uint8_t link_key[32], const uint8_t (*anchors)[32],
                                   size_t n_anchors);

#endif /* APM_MANUFACTURE_H */
