/*
 * boot.h — the boot stage: verify and measure the APM's own firmware image.
 *
 * At every boot, before any key use, the core checks firmware slot A
 * (layout.h): its manifest must be an authority-signed manifest
 * (drot/manifest.h, drot/authority.h) whose signer's SHA-256 is in a
 * present, non-revoked anchor slot (otp.h), for component "APM", with an SVN
 * not below the APM svn fuse, and the image bytes must have exactly the
 * manifest's size and SHA-256. The result is kept as an apm_verdict and the
 * reason as an apm_status; only APM_VERDICT_PASS lets the core use the DRK
 * (attest.h refuses otherwise and says why).
 *
 * Invariants:
 *   B1. The verdict starts as APM_VERDICT_FAIL and becomes PASS only at the
 *       end of apm_boot_verify, after every check passed.
 *   B2. No write happens during verification (boot is read-only here).
 *   B3. The measurement (digest, version, signer id) is recorded whether or
 *       not the image verifies, so GET_INFO can say what was found.
 */
#ifndef APM_BOOT_H
#define APM_BOOT_H

#include <stdint.h>

#include "core.h"

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
} apm_boot_state;

/* Verifies slot A (B1–B3). Returns the same status as out->reason. */
apm_status apm_boot_verify(apm_core *core, apm_boot_state *out);

/* Manufacturing: writes manifest and image into slot A (erase + program);
 * the manifest is NOT verified here (boot does it). APM_E_ARG on sizes. */
apm_status apm_boot_install_slot_a(apm_core *core, const uint8_t *manifest, uint32_t manifest_len,
                                   const uint8_t *image, uint32_t image_len);

#endif /* APM_BOOT_H */
