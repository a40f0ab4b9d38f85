/*
 * rotation.h — the server's side of a device-root-key rotation (DESIGN.md
 * §7.1, docs/drot.md): building what the APM obeys and checking what it
 * answers. No database and no HTTP here: the orchestrator (routes_rotate.c)
 * records each step in a job (store.h) and calls these.
 *
 *   server mode   ds_rot_server_instruction: a fresh KeyA, its private
 *                 scalar HPKE-sealed to the device's current DRK, the
 *                 ROTATE_ROOT instruction signed by an authority key
 *                 through key custody (keys.h). KeyA's private key exists
 *                 only inside this call: it is wiped before the call
 *                 returns, on every path, and never stored or logged.
 *   device mode   ds_rot_endorse: the APM's proposal is checked (outer
 *                 signature by the device's registered DRK, inner by KeyA,
 *                 device id, epoch, epoch + 1) and endorsed by an authority
 *                 key (ROTATE_ENDORSE over the same map).
 *   both          ds_rot_check_receipt: the receipt is signed by exactly
 *                 the KeyA recorded for the job and names the device, the
 *                 new epoch, the APM's nonce and the digest of the message
 *                 the device acted on.
 *
 * Invariants:
 *   S1. Nothing is signed for a device unless the caller has a fresh PASS
 *       attestation of it (the route's job; DESIGN.md §7.1 step 2).
 *   S2. The instruction names exactly the device id and epoch given (the
 *       registry's), new_epoch = epoch + 1, and the APM's nonce given.
 *   S3. What a receipt must name (new_pub, tbs) is returned to the caller
 *       so that it can be recorded BEFORE the instruction leaves the server
 *       (ds_job_issue), so a lost answer can always be reconciled.
 *
 * Errors: 0 on success; -1 with a one-line reason in err[0..cap) that names
 * what was wrong (never key material).
 */
#ifndef DS_ROTATION_H
#define DS_ROTATION_H

#include <stddef.h>
#include <stdint.h>

#include "drot/rotate.h"
#include "keys.h"

/* What the server hands out, and what the receipt must then name. */
typedef struct ds_rot_issued {
    uint8_t msg[DROT_ROTATE_MAX_MSG]; /* the signed instruction or endorsement */
    size_t msg_len;
    uint8_t new_pub[DROT_P256_PUB_LEN]; /* KeyA */
    uint8_t nonce[DROT_ROTATE_NONCE_LEN];
    uint8_t tbs[DROT_SHA256_LEN]; /* drot_cose_sign1_tbs_digest of msg */
    uint64_t new_epoch;
} ds_rot_issued;

/* Server mode. authority: the custody name of the signing authority key
 * ("authority"); drk_pub: the device's registered DRK (65 bytes). */
int ds_rot_server_instruction(ds_keystore *ks, const char *authority, const uint8_t device_id[16],
                              uint64_t epoch, const uint8_t drk_pub[DROT_P256_PUB_LEN],
                              const uint8_t nonce[DROT_ROTATE_NONCE_LEN], ds_rot_issued *out, char *err,
                              size_t cap);

/* Device mode: checks proposal[0..len) against the registered device
 * (device_id, epoch, drk_pub) and endorses it. */
int ds_rot_endorse(ds_keystore *ks, const char *authority, const uint8_t device_id[16], uint64_t epoch,
                   const uint8_t drk_pub[DROT_P256_PUB_LEN], const uint8_t *proposal, size_t len,
                   ds_rot_issued *out, char *err, size_t cap);

/* Checks a receipt against what was recorded when the job was issued. */
int ds_rot_check_receipt(const uint8_t *receipt, size_t len, const uint8_t device_id[16], uint64_t new_epoch,
                         const uint8_t new_pub[DROT_P256_PUB_LEN], const uint8_t nonce[DROT_ROTATE_NONCE_LEN],
                         const uint8_t tbs[DROT_SHA256_LEN], char *err, size_t cap);

/* Trust-anchor rotation (DESIGN.md 7.2): one ROTATE_ANCHOR instruction of
 * the sequence docs/drot.md §7 describes, for the APM's nonce:
 *   DROT_ANCHOR_OP_CONFIRM  signed by `signer`;
 *   DROT_ANCHOR_OP_ADD      the key `new_key` (custody name), signed by
 *                           `signer` and cross-signed by new_key itself;
 *   DROT_ANCHOR_OP_REVOKE   slot `slot` (0..3), signed by `signer`.
 * out->new_pub is new_key's public key for ADD, signer's otherwise; out->tbs
 * the instruction's digest. No receipt comes back: the APM answers the op
 * and the slot, unsigned, through the host. */
int ds_rot_anchor_instruction(ds_keystore *ks, const char *signer, const char *new_key, uint32_t op,
                              uint32_t slot, const uint8_t device_id[16],
                              const uint8_t nonce[DROT_ROTATE_NONCE_LEN], ds_rot_issued *out, char *err,
                              size_t cap);

/* The custody name of the authority key whose 65-byte public key is pub
 * (name[DS_KEY_NAME_MAX]); -1 when none. */
int ds_rot_authority_name(ds_keystore *ks, const uint8_t pub[DROT_P256_PUB_LEN], char *name);

#endif /* DS_ROTATION_H */
