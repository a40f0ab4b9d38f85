/*
 * boot.h — the boot stage: verify and measure the APM's own firmware image.
 *
 * At every boot, before any key use, the core checks the firmware slot that
 * the firmware-state record names (fwstate.h: slot A until an update has been
 * confirmed into B, or the trial slot during a test boot; layout.h): its
 * manifest must be an authority-signed manifest (drot/manifest.h,
 * drot/authority.h) whose signer's SHA-256 is in a present, non-revoked
 * anchor slot (otp.h), for component "APM", with an SVN not below the APM
 * svn fuse, and the image bytes must have exactly the manifest's size and
 * SHA-256. The result is kept as an apm_verdict and the reason as an
 * apm_status; only APM_VERDICT_PASS lets the core use the DRK (attest.h
 * refuses otherwise and says why). A firmware install (fwinstall.h) checks a
 * new image with these same functions, before it is written and again once
 * it is in its slot.
 *
 * Invariants:
 *   B1. The verdict starts as APM_VERDICT_FAIL and becomes PASS only at the
 *       end of apm_boot_verify_slot, after every check passed.
 *   B2. No write happens during verification (boot is read-only here).
 *   B3. The measurement (digest, version, signer id) is recorded whether or
 *       not the image verifies, so GET_INFO can say what was found.
 *   B4. A slot is written so that a power cut leaves it empty (the manifest
 *       sector erased: APM_E_CORRUPT) or complete: the manifest sector is
 *       erased before any image byte is written, and its 12-byte header is
 *       the last thing programmed.
 */
#ifndef APM_BOOT_H
#define APM_BOOT_H

#include <stdint.h>

#include "core.h"
#include "drot/manifest.h"

/* The largest manifest boot reads from a slot (bytes). Manufacturing and
 * installs refuse larger ones, since boot could never verify them. */
#define APM_BOOT_MANIFEST_MAX 512u

typedef struct apm_boot_state {
    apm_verdict verdict;   /* APM_VERDICT_PASS or APM_VERDICT_FAIL (B1) */
    apm_status reason;     /* APM_OK on pass; else APM_E_BOOT, _ANCHOR, _ROLLBACK, _IMAGE, _CORRUPT… */
    uint8_t digest[32];    /* SHA-256 of the image as found (B3) */
    char version[33];      /* manifest version, NUL-terminated ("" if none) */
    uint32_t svn;          /* manifest SVN */
    uint8_t signer_id[32]; /* SHA-256 of the signing anchor key (all zero if none) */
    uint32_t anchor_slot;  /* slot that verified the manifest */
    uint32_t slot;         /* the firmware slot verified (APM_FW_SLOT_A or _B) */
} apm_boot_state;

/* Verifies firmware slot `slot` (B1–B3). Returns the same status as
 * out->reason; APM_E_ARG for a slot other than A or B. */
apm_status apm_boot_verify_slot(apm_core *core, uint32_t slot, apm_boot_state *out);

/* Steps 2–4 of the check on a manifest in RAM, msg[0..len): it parses as a
 * COSE_Sign1 (APM_E_CORRUPT otherwise, and for len above
 * APM_BOOT_MANIFEST_MAX), its kid is a present, non-revoked anchor
 * (APM_E_ANCHOR) and drot_manifest_verify accepts it (APM_E_ANCHOR for a
 * revoked anchor, APM_E_BOOT for a bad signature or payload). On APM_OK *m
 * holds the manifest (its strings point into msg) and *anchor_slot the
 * anchor slot that verified it. The anchors are apm_trusted_anchors'
 * (anchors.h): a key the stored revocation list revokes counts as revoked,
 * at boot and at install alike. Writes nothing. */
apm_status apm_boot_manifest_check(apm_core *core, const uint8_t *msg, size_t len, drot_manifest *m,
                                   uint32_t *anchor_slot);

/* Manufacturing: writes manifest and image into slot A (erase + program);
 * the manifest is NOT verified here (boot does it). APM_E_ARG on sizes. */
apm_status apm_boot_install_slot_a(apm_core *core, const uint8_t *manifest, uint32_t manifest_len,
                                   const uint8_t *image, uint32_t image_len);

/* Install steps (B4), for fwinstall.c. clear erases the slot's manifest
 * sector (one flash_erase): the slot reads empty from then on. seal programs
 * manifest[0..len) after the header's place, then the header (two
 * flash_program): the slot is complete once the second returns. seal needs
 * the manifest sector erased (clear) and 1 ≤ len ≤ APM_FW_MANIFEST_MAX. */
apm_status apm_boot_slot_clear(apm_core *core, uint32_t slot);
apm_status apm_boot_slot_seal(apm_core *core, uint32_t slot, const uint8_t *manifest, uint32_t len);

#endif /* APM_BOOT_H */
