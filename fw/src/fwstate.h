/*
 * fwstate.h — which APM firmware slot boots, the test boot of a new image,
 * and the firmware-state record that remembers both (docs/firmware.md,
 * "Install on the device"; docs/apm-boot.md "Slot selection").
 *
 * Persistent state: record APM_REC_FWSTATE (records.h: encrypted,
 * authenticated, two copies, power-fail safe, R2). No record = slot A
 * active, confirmed, nothing pending: what manufacturing leaves.
 *
 *   active     the confirmed slot (A or B)
 *   trial      NONE | PENDING (the other slot holds a verified, staged
 *              image: the next boot tries it) | TRYING (a boot has started
 *              the trial; not yet confirmed)
 *   last       what became of the last trial (CONFIRMED, REFUSED, RESET,
 *              ABORTED), for the host to read
 *   raise      the svn[APM] fuse must reach raise_svn: a confirm was
 *              recorded (set by FW_CONFIRM, completed by it or by a boot)
 *   host[]     verified host images (HOST-BL, HOST-OS) awaiting FW_CONFIRM
 *
 * The trial state machine (MCUboot's test / revert):
 *
 *   NONE ──FW_FINISH (APM image staged + verified)──▶ PENDING
 *   PENDING ──boot: record TRYING first, then verify the other slot──▶ TRYING
 *            (runs the new image; if it does not verify: NONE, last REFUSED,
 *             the old slot boots at once)
 *   TRYING ──FW_CONFIRM──▶ NONE, active = the trial slot, last CONFIRMED,
 *             raise to the new image's SVN
 *   TRYING ──any boot without a confirm (reset, power cut)──▶ NONE, last RESET:
 *             the old slot boots
 *   PENDING, TRYING ──FW_ACTIVATE abort──▶ NONE, last ABORTED
 *
 * Invariants:
 *   S1. A boot writes TRYING before it runs the trial, so no trial image
 *       runs twice without a confirm: a trial that hangs, crashes or loses
 *       power reverts at the next boot.
 *   S2. The active slot changes only by FW_CONFIRM of a TRYING trial, while
 *       that trial runs and verifies (boot verdict PASS). A refused, cut or
 *       abandoned install never touches the active slot or the record's
 *       active field.
 *   S3. svn[APM] is raised only after the record names the new slot active,
 *       and never above the SVN of the image that slot verifies with: a
 *       boot completes a raise the confirm could not finish (raise flag),
 *       to min(raise_svn, the running image's SVN), and only when that
 *       image verifies (PASS). So the fuse never locks out the running image.
 *   S4. A record that is missing or does not decode reads as the
 *       manufacturing default (slot A, nothing pending); records.h R1/R2
 *       make that happen only if both copies are gone.
 */
#ifndef APM_FWSTATE_H
#define APM_FWSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "core.h"
#include "drot/link_fw.h"

/* Trial states and results: the link's values (drot/link_fw.h). */
#define APM_FW_TRIAL_NONE     DROT_LINK_FW_TRIAL_NONE
#define APM_FW_TRIAL_PENDING  DROT_LINK_FW_TRIAL_PENDING
#define APM_FW_TRIAL_TRYING   DROT_LINK_FW_TRIAL_TRYING
#define APM_FW_LAST_NONE      DROT_LINK_FW_LAST_NONE
#define APM_FW_LAST_CONFIRMED DROT_LINK_FW_LAST_CONFIRMED
#define APM_FW_LAST_REFUSED   DROT_LINK_FW_LAST_REFUSED
#define APM_FW_LAST_RESET     DROT_LINK_FW_LAST_RESET
#define APM_FW_LAST_ABORTED   DROT_LINK_FW_LAST_ABORTED

/* Host components with a pending entry: one each for HOST-BL and HOST-OS. */
#define APM_FW_HOST_MAX 2u
#define APM_FW_TEXT_MAX 32u

/* Record format (big-endian, fixed): docs/firmware.md "The firmware-state record". */
#define APM_FWS_HDR_LEN   12u
#define APM_FWS_ENTRY_LEN 100u
#define APM_FWS_MAX_LEN   (APM_FWS_HDR_LEN + APM_FW_HOST_MAX * APM_FWS_ENTRY_LEN)

typedef struct apm_fw_host_entry {
    uint32_t component; /* APM_SVN_HOST_BL or APM_SVN_HOST_OS */
    uint32_t svn;       /* the manifest's SVN, 0..63 */
    size_t version_len; /* 1..32 */
    char version[APM_FW_TEXT_MAX];
    uint8_t digest[32]; /* the image's SHA-256, as verified */
    uint8_t signer[32]; /* SHA-256 of the anchor that signed the manifest */
} apm_fw_host_entry;

typedef struct apm_fw_record {
    uint32_t active; /* APM_FW_SLOT_A or _B */
    uint32_t trial;  /* APM_FW_TRIAL_* */
    uint32_t last;   /* APM_FW_LAST_* */
    bool raise;      /* S3: svn[APM] must reach raise_svn */
    uint32_t raise_svn;
    size_t n_host;
    apm_fw_host_entry host[APM_FW_HOST_MAX];
} apm_fw_record;

/* An install or verify session (fwinstall.h), RAM only. */
typedef struct apm_fw_session {
    apm_verdict open;   /* APM_VERDICT_PASS while a session is open; anything else: none */
    uint32_t mode;      /* DROT_LINK_FW_MODE_* */
    uint32_t component; /* APM_SVN_* */
    uint32_t slot;      /* APM image install: the slot written */
    uint32_t size;      /* from the manifest */
    uint32_t received;  /* bytes taken so far (the next offset) */
    uint32_t svn;
    size_t version_len;
    char version[APM_FW_TEXT_MAX];
    uint8_t digest[32]; /* the manifest's */
    uint8_t signer[32];
    size_t manifest_len; /* APM image install: written into the slot at FINISH */
    uint8_t manifest[APM_BOOT_MANIFEST_MAX];
    drot_sha256_ctx sha; /* over the bytes received; live while open */
} apm_fw_session;

/* The firmware state of the running device (RAM, rebuilt at every boot). */
typedef struct apm_fw_state {
    apm_fw_record rec; /* the record as stored now (or the default, S4) */
    uint32_t running;  /* the slot this boot verified and runs */
    apm_fw_session sess;
    const char *why; /* a refusal's reason in words (a constant), or NULL */
} apm_fw_state;

/* The record, or the default (S4) when there is none or it does not
 * decode; *stored says which. Only a HAL failure is an error. */
apm_status apm_fw_record_read(apm_core *core, apm_fw_record *out, bool *stored);
/* Encodes and writes rec (records.h R2: old copy or new, never a mix).
 * APM_E_ARG for a record that would not decode. */
apm_status apm_fw_record_write(apm_core *core, const apm_fw_record *rec);

/* The boot stage's slot selection (S1–S4): reads the record, moves a
 * PENDING trial to TRYING (one record write) before it verifies the trial
 * slot, reverts a TRYING one (one record write), falls back to the active
 * slot at once when the trial does not verify (one record write), and
 * completes a recorded svn raise (S3). *boot is the verdict of the slot
 * that runs (apm_boot_verify_slot); fw->running names it. Returns APM_OK,
 * or APM_E_POWER when power was lost at a write (the device must stop; the
 * next boot continues from what the record holds). Any other write failure
 * boots the active slot. */
apm_status apm_fw_boot(apm_core *core, apm_fw_state *fw, apm_boot_state *boot);

/* Closes any open session (releases its hash context) and wipes fw. */
void apm_fw_state_wipe(apm_fw_state *fw);

#endif /* APM_FWSTATE_H */
