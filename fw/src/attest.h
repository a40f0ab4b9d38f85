/*
 * attest.h — attestation tokens (DESIGN.md §4, docs/token.md).
 *
 * GET_TOKEN(nonce, profile) → a tagged COSE_Sign1 (ES256) signed with the
 * DRK, kid = instance id, whose payload is the EAT claims set of the asked
 * profile (drot/eat.h):
 *   nonce           as given (32, 48 or 64 bytes; the host computes it)
 *   instance id     0x01 ‖ SHA-256(DRK public key, 65-byte SEC1)
 *   implementation  SHA-256("drot-apm " APM_IMPLEMENTATION_NAME)
 *   client id       1
 *   lifecycle       apm_lifecycle_psa(fuses)
 *   boot seed       32 random bytes drawn once per boot
 *   components      the measurements (measure.h), APM image first
 *   drot profile:   device_id, epoch fuse, SVN fuses (components 0..2),
 *                   tamper state bits and count (tamper.h)
 *
 * Refusals, in this order (nothing is signed then):
 *   APM_E_NOT_PROVISIONED  lifecycle is MANUFACTURING
 *   APM_E_BOOT             boot verdict is not APM_VERDICT_PASS
 *   APM_E_LOCKED / APM_E_LIFECYCLE  tamper poll (tamper.h T1) found an event, or the device is TAMPERED
 *   APM_E_NO_KEY           no DRK
 *   APM_E_REVOKED          the stored revocation list revokes the DRK (revocation.h)
 *   drot_status            bad nonce length, unknown profile, buffer too small (DROT_E_BUFFER)
 */
#ifndef APM_ATTEST_H
#define APM_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "core.h"
#include "measure.h"
#include "tamper.h"

#define APM_IMPLEMENTATION_NAME "sim-1"
#define APM_TOKEN_MAX           3072u

typedef struct apm_attest_inputs {
    const apm_boot_state *boot;
    const apm_measurements *measurements;
    apm_tamper_state *tamper;
    const uint8_t *boot_seed; /* 32 bytes */
} apm_attest_inputs;

/* profile: 1 = psa, 2 = drot (DROT_EAT_PROFILE_*). */
apm_status apm_attest_token(apm_core *core, const apm_attest_inputs *in, const uint8_t *nonce,
                            size_t nonce_len, uint32_t profile, uint8_t *out, size_t cap, size_t *out_len);

#endif /* APM_ATTEST_H */
