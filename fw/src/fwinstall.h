/*
 * fwinstall.h — firmware install on the APM (DESIGN.md §7.3; docs/firmware.md
 * "Install on the device"): the link requests FW_BEGIN, FW_CHUNK, FW_FINISH,
 * FW_CONFIRM, FW_ACTIVATE and FW_STATUS (drot/link_fw.h).
 *
 * Components: "APM" (the APM's own image: staged into the slot that is not
 * running, then test-booted, fwstate.h) and the host's boot stages "HOST-BL"
 * and "HOST-OS" (the APM never stores their bytes: it hashes them as they
 * stream past, and records the verified digest, version and SVN until the
 * host has booted that image and confirms it). Any other component is
 * refused (APM_E_COMPONENT).
 *
 * A session (RAM only, one at a time) is BEGIN, CHUNK × n, FINISH:
 *
 *   none ──BEGIN(manifest, mode)──▶ open{component, size, received = 0}
 *   open ──CHUNK(offset = received, data)──▶ open{received += len}
 *   open ──FINISH──▶ none (whatever the outcome)
 *   any  ──BEGIN──▶ the old session is dropped first; a new one if accepted
 *
 * Mode VERIFY checks manifest and image and writes nothing at all: the
 * host's measured boot (drot-agent measure --manifest) uses it to have a
 * stage checked before it runs. Mode INSTALL writes: for "APM" the slot and
 * then the record (trial PENDING); for a host component the record's
 * pending entry.
 *
 * Persistent writes, in order (every one through the HAL):
 *
 *   BEGIN APM install   erase the target slot's manifest sector (1)
 *   CHUNK APM install   per image sector reached: erase it; program the bytes (1–3)
 *   FINISH APM install  program the manifest, then its header (2); the
 *                       record, trial PENDING (records.h: erase + program)
 *   FINISH host install the record with the pending entry (2)
 *   CONFIRM APM         the record: active = trial slot, raise (2); the
 *                       svn[APM] fuse (one OTP write per fuse byte that changes)
 *   CONFIRM host        the svn fuse (as above); the record without the entry (2)
 *   ACTIVATE abort      the record, trial NONE (2)
 *
 * Invariants:
 *   F1. Gates, in this order, before anything else (the same as rotate.h
 *       R2, without the key): lifecycle PROVISIONED or DEPLOYED
 *       (APM_E_NOT_PROVISIONED, APM_E_LIFECYCLE); boot verdict PASS
 *       (APM_E_BOOT); a tamper poll that finds nothing (tamper.h T1). Every
 *       request but STATUS passes them.
 *   F2. BEGIN checks everything it can before the first write: the
 *       manifest exactly as boot does (boot.h apm_boot_manifest_check:
 *       present, unrevoked anchor; signature), the component, SVN ≥ the
 *       component's svn fuse (APM_E_ROLLBACK), the size (at most the slot
 *       for "APM", APM_E_IMAGE), and for an APM install that no trial is
 *       staged or running (APM_E_FW_STATE: abort it first). A refused
 *       BEGIN writes nothing.
 *   F3. CHUNKs come in order: offset = bytes received (APM_E_FW_ORDER for a
 *       gap or an overlap), never past the manifest's size (APM_E_IMAGE).
 *       A refused chunk changes nothing, and the session stays open.
 *   F4. FINISH needs exactly size bytes whose SHA-256 is the manifest's
 *       (APM_E_IMAGE), before it writes. An APM image is then written into
 *       its slot, read back and verified whole by boot's own function
 *       (apm_boot_verify_slot) before the trial is marked PENDING; a slot
 *       that does not verify is cleared again (its manifest sector erased).
 *   F5. The active slot and the boot record are never written by BEGIN or
 *       CHUNK; the running image's slot is never written at all. So a power
 *       cut at any write of an install leaves the old image booting, and
 *       the install can simply start again (fwstate.h S1–S4, boot.h B4).
 *   F6. An svn fuse rises only in CONFIRM (or a boot completing an APM
 *       confirm, fwstate.h S3), to the SVN of the image confirmed: for
 *       "APM", the running trial image (its boot verdict PASS); for a host
 *       component, the pending entry's, and only if this boot's measurement
 *       table holds that component with exactly the verified digest
 *       (APM_E_NOT_MEASURED otherwise: the host has not booted it).
 *   F7. Refusals give fw->why, a reason in words for the ERROR message.
 */
#ifndef APM_FWINSTALL_H
#define APM_FWINSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "core.h"
#include "drot/link_fw.h"
#include "fwstate.h"
#include "measure.h"
#include "tamper.h"

/* What the gates (F1) and a host confirm (F6) read. */
typedef struct apm_fw_env {
    const apm_boot_state *boot;
    apm_tamper_state *tamper;
    const apm_measurements *meas;
} apm_fw_env;

/* The component index (APM_SVN_*) of a component name, or -1. */
int32_t apm_fw_component_index(const char *name, size_t len);

/* FW_BEGIN (F1, F2). On APM_OK a session is open and *out gives the image
 * size and the chunk size the APM takes. */
apm_status apm_fw_begin(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, const uint8_t *manifest,
                        size_t len, uint32_t mode, drot_link_fw_begin_resp *out);

/* FW_CHUNK (F1, F3): data[0..len) at offset; *received = bytes taken so far. */
apm_status apm_fw_chunk(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, uint32_t offset,
                        const uint8_t *data, size_t len, uint32_t *received);

/* FW_FINISH (F1, F4): what was verified (and, in install mode, recorded). */
apm_status apm_fw_finish(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, drot_link_fw_image *out);

/* FW_CONFIRM (F1, F6) of component name[0..len); *svn = its fuse after. */
apm_status apm_fw_confirm(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, const char *name,
                          size_t len, uint32_t *svn);

/* FW_ACTIVATE (F1): TRIAL needs a PENDING trial and writes nothing; ABORT
 * drops a PENDING or TRYING trial (record write). *reset = true when the
 * port must reset the device once the answer is sent (apm.h). */
apm_status apm_fw_activate(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, uint32_t action,
                           bool *reset);

/* FW_STATUS: the record, both slots as boot would judge them now, the svn
 * fuses, the pending host entries and the session. Writes nothing. */
apm_status apm_fw_status(apm_core *core, const apm_fw_state *fw, drot_link_fw_status *out);

#endif /* APM_FWINSTALL_H */
