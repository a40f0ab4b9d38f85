/*
 * otp.h — the APM's fuse map, over the HAL's OTP bytes.
 *
 * Layout (byte offsets; APM_OTP_MIN_SIZE bytes in all):
 *
 *   0x000  device_id[16]        write-once  permanent serial
 *   0x010  uds[32]              write-once  unique device secret (never leaves the core)
 *   0x030  link_key[32]         write-once  host link key
 *   0x050  anchor[4][32]        write-once each; all-zero = blank slot
 *   0x0D0  anchor_revoked[1]    bit i = slot i revoked
 *   0x0D1  lifecycle[1]         bit 0 provisioned, 1 deployed, 2 tampered, 3 decommissioned
 *   0x0D2  anchor_confirmed[1]  bit i = an instruction signed by slot i's key has
 *                               verified and been carried out on this device
 *                               (rotate.h R5: what allows revoking another slot)
 *   0x0D8  epoch[8]             thermometer, 64 bits
 *   0x0E0  svn[4][8]            thermometer per component (APM_SVN_*), 64 bits each
 *
 * Invariants the functions below keep:
 *
 *   O1. A write-once field is written only while blank, in one otp_write;
 *       if it is not blank the write is refused (APM_E_OTP) unless the value
 *       is identical (then it is a no-op: manufacturing may be re-run), or
 *       the field holds a torn prefix of the value (its first k bytes equal
 *       the value's and the rest are still 0: what an interrupted write of
 *       this very value leaves, apm_hal.h P2): then the same one otp_write
 *       completes it, so manufacturing is resumable after any power cut.
 *       An all-zero value is refused (APM_E_ARG): it would read as blank.
 *   O2. Thermometers read as (index of the highest set bit) + 1, so a value
 *       can never read lower than any value ever written, whatever bits a
 *       fault or a torn write leaves. Raising to n sets bits [0, n), bytes
 *       in ascending order, one otp_write per byte: a power cut leaves a
 *       value between the old and the new.
 *   O3. Lifecycle steps only set bits; the state read is the most advanced
 *       bit set (decommissioned > tampered > deployed > provisioned >
 *       manufacturing). A step backwards is refused (APM_E_LIFECYCLE).
 *   O4. Every write goes through apm_hal.otp_write; after each, the cached
 *       view (apm_otp) is re-read from the HAL, never patched in RAM.
 */
#ifndef APM_OTP_H
#define APM_OTP_H

#include <stdbool.h>
#include <stdint.h>

#include "apm/apm_status.h"
#include "apm_hal.h"

#define APM_OTP_MIN_SIZE 0x100u

#define APM_OTP_DEVICE_ID      0x000u
#define APM_OTP_UDS            0x010u
#define APM_OTP_LINK_KEY       0x030u
#define APM_OTP_ANCHORS        0x050u
#define APM_OTP_ANCHOR_REVOKED 0x0D0u
#define APM_OTP_LIFECYCLE      0x0D1u
#define APM_OTP_ANCHOR_CONFIRM 0x0D2u
#define APM_OTP_EPOCH          0x0D8u
#define APM_OTP_SVN            0x0E0u

#define APM_ANCHOR_SLOTS 4u
#define APM_THERMO_MAX   64u

/* Components with an anti-rollback counter. */
#define APM_SVN_APM     0u
#define APM_SVN_HOST_BL 1u
#define APM_SVN_HOST_OS 2u
#define APM_SVN_COUNT   4u

typedef enum apm_lifecycle {
    APM_LC_MANUFACTURING = 0,
    APM_LC_PROVISIONED = 1,
    APM_LC_DEPLOYED = 2,
    APM_LC_TAMPERED = 3,
    APM_LC_DECOMMISSIONED = 4,
} apm_lifecycle;

/* A decoded copy of the fuses (the uds is NOT copied here; see apm_otp_read_uds). */
typedef struct apm_otp {
    uint8_t device_id[16];
    bool device_id_set;
    uint8_t link_key[32];
    bool link_key_set;
    bool uds_set;
    uint8_t anchor[APM_ANCHOR_SLOTS][32];
    bool anchor_present[APM_ANCHOR_SLOTS];
    bool anchor_revoked[APM_ANCHOR_SLOTS];
    bool anchor_confirmed[APM_ANCHOR_SLOTS]; /* rotate.h R5 */
    apm_lifecycle lifecycle;
    uint8_t lifecycle_bits;
    uint32_t epoch;              /* 0..64 */
    uint32_t svn[APM_SVN_COUNT]; /* 0..64 */
} apm_otp;

/* Reads and decodes every field (O2, O3). APM_E_HAL on a read failure or a
 * HAL whose otp_size is below APM_OTP_MIN_SIZE. */
apm_status apm_otp_load(const apm_hal *hal, apm_otp *out);

/* The unique device secret into uds[32]; the caller wipes it. */
apm_status apm_otp_read_uds(const apm_hal *hal, uint8_t uds[32]);

/* Write-once fields (O1). */
apm_status apm_otp_burn_identity(const apm_hal *hal, const uint8_t device_id[16], const uint8_t uds[32],
                                 const uint8_t link_key[32]);
/* APM_OK iff the write-once field at OTP[off..off+len) could take value under
 * O1 (blank, identical, or a torn prefix of it); APM_E_OTP if it holds
 * something else. Writes nothing: manufacturing checks every field first so
 * that refused input changes no state. */
apm_status apm_otp_check_once(const apm_hal *hal, uint32_t off, const uint8_t *value, uint32_t len);

/* Burns hash into a blank slot (APM_E_OTP if the slot holds another hash). */
apm_status apm_otp_burn_anchor(const apm_hal *hal, uint32_t slot, const uint8_t hash[32]);
apm_status apm_otp_revoke_anchor(const apm_hal *hal, uint32_t slot);
/* Burns slot's anchor_confirmed bit (one one-byte write; none if already set). */
apm_status apm_otp_confirm_anchor(const apm_hal *hal, uint32_t slot);

/* Counters (O2): raise to exactly `to` (no-op if already ≥ to; APM_E_EXHAUSTED above 64). */
apm_status apm_otp_raise_epoch(const apm_hal *hal, uint32_t to);
apm_status apm_otp_raise_svn(const apm_hal *hal, uint32_t component, uint32_t to);

/* Lifecycle (O3): moves to `to`; APM_E_LIFECYCLE if that would go back.
 * TAMPERED and DECOMMISSIONED are reachable from any state. */
apm_status apm_otp_set_lifecycle(const apm_hal *hal, apm_lifecycle to);

/* The PSA security lifecycle value (RFC 9783 §4.3.1) for a drot lifecycle:
 * manufacturing 0x1000, provisioned 0x2000, deployed 0x3000 (secured),
 * tampered 0x4000 (non-PSA-RoT debug: never "secured"), decommissioned 0x6000. */
uint32_t apm_lifecycle_psa(apm_lifecycle lc);

#endif /* APM_OTP_H */
