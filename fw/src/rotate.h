/*
 * rotate.h — the APM side of the dynamic root of trust (DESIGN.md §7):
 * device-root-key rotation in both modes, and trust-anchor rotation. The
 * messages are drot/rotate.h; the protocol and threat analysis docs/drot.md.
 *
 * RAM state (apm_rot_state, lost at every boot):
 *
 *   IDLE ──GET_ROTATION_NONCE──▶ NONCE{n, E} ──ROTATE_ROOT / ROTATE_ANCHOR──▶ IDLE
 *     │                              │  (consumed whatever the outcome)
 *     └──ROTATE_PROPOSE──▶ PROPOSED{n, E, KeyA} ──ROTATE_ENDORSE──▶ IDLE
 *   any ──a new GET_ROTATION_NONCE or ROTATE_PROPOSE──▶ replaces the state
 *   any ──ROTATE_ROOT / ROTATE_ENDORSE / ROTATE_ANCHOR──▶ IDLE (consumed first)
 *
 * Persistent state it changes, always through keystore.h and otp.h (so
 * through the HAL, where the tests cut power):
 *
 *   root rotation  apm_ks_stage (2 flash writes) → apm_ks_commit (the epoch
 *                  fuse: the commit point; then 2 flash writes) → the
 *                  signer's anchor_confirmed bit if not yet set (1 OTP write)
 *   anchor ADD     the new hash into a slot (1 OTP write of 32 bytes) → the
 *                  signer's anchor_confirmed bit (0 or 1 OTP write)
 *   anchor REVOKE  the slot's revoke bit (1 OTP write) → confirm bit (0 or 1)
 *   anchor CONFIRM the signer's anchor_confirmed bit (0 or 1 OTP write)
 *
 * Invariants:
 *   R1. Single use: every instruction (ROTATE_ROOT, ROTATE_ENDORSE,
 *       ROTATE_ANCHOR) consumes the outstanding nonce before it is looked
 *       at, whatever the outcome; a nonce is 32 bytes from the DRBG, lives
 *       only in RAM, and names the fuse epoch it was issued at. So a
 *       replayed instruction names a spent nonce and a stale epoch.
 *   R2. Gates, in this order, before anything is verified: lifecycle
 *       PROVISIONED or DEPLOYED (MANUFACTURING: APM_E_NOT_PROVISIONED;
 *       TAMPERED, DECOMMISSIONED: APM_E_LIFECYCLE); boot verdict PASS
 *       (APM_E_BOOT); a tamper poll (tamper.h T1) that finds nothing; and
 *       for key rotation exactly one usable DRK, at the fuse epoch
 *       (APM_E_NO_KEY), that the stored revocation list does not revoke
 *       (APM_E_REVOKED, revocation.h). The key store has no gates of its
 *       own. Every signature is checked against apm_trusted_anchors
 *       (anchors.h): a key the revocation list revokes is refused as if its
 *       revoke bit were burned (DROT_E_BADKEY), is never ADDed
 *       (APM_E_ANCHOR), and does not count as usable for R5.
 *   R3. Refused means unchanged: every check (signature against a present,
 *       non-revoked anchor; device id; exactly epoch + 1; the nonce; the
 *       HPKE open; KeyA matching; slot capacity) runs before the first
 *       write, and the receipt is signed before the commit, so a refusal
 *       changes nothing but the RAM nonce. Only power loss can stop a
 *       sequence part-way, and keystore.h K2 / otp.h O1 make each cut point
 *       recoverable: the next boot has exactly one usable DRK (old or new),
 *       a torn anchor burn is completed by a retry of the same ADD.
 *   R4. Anchors: ADD picks the slot holding a torn prefix of the new hash
 *       (a retry after a cut), else the lowest blank, non-revoked slot; none
 *       → APM_E_EXHAUSTED before any write. A key already in a usable slot
 *       is a no-op (same slot reported); in a revoked slot, APM_E_ANCHOR.
 *   R5. REVOKE of slot x signed by the anchor in slot y is allowed only if
 *       x != y (never the anchor in use), x holds a key, x is not the slot
 *       that verified the running APM image (revoking it would fail every
 *       later boot), some other slot stays usable (never the last), and y
 *       is proven: its anchor_confirmed fuse is set (an instruction signed
 *       by y was verified and carried out on this device earlier, in this
 *       boot or any before: it is a fuse, so it survives reboots and power
 *       cuts, and it can only be set, never cleared), or y verified the
 *       running APM image at this boot. The instruction that revokes does
 *       not count as y's proof. Refusals: APM_E_DENIED.
 *   R6. Secrets: KeyA's private key exists in RAM only in a PROPOSED state
 *       (until consumed or replaced: wiped then), in the key store, and in
 *       stack buffers wiped at each function's exit (keystore.h K3).
 *       Device-generated mode writes nothing to flash before the
 *       endorsement: a proposal costs no flash wear, however often a
 *       compromised host asks.
 */
#ifndef APM_ROTATE_H
#define APM_ROTATE_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "core.h"
#include "tamper.h"

#define APM_ROT_NONCE_LEN 32u
/* Largest signed message (receipt, proposal) the functions write. */
#define APM_ROT_MSG_MAX 1024u

typedef struct apm_rot_state {
    apm_verdict armed; /* APM_VERDICT_PASS while a nonce is outstanding; anything else: none */
    uint32_t mode;     /* rotate.c ROT_MODE_* */
    uint32_t epoch;    /* the fuse epoch when the nonce was issued */
    uint8_t nonce[APM_ROT_NONCE_LEN];
    drot_p256_priv keya_priv; /* PROPOSED only */
    drot_p256_pub keya_pub;
} apm_rot_state;

/* What the gates (R2) read. */
typedef struct apm_rot_env {
    const apm_boot_state *boot;
    apm_tamper_state *tamper;
} apm_rot_env;

/* IDLE, every byte wiped. */
void apm_rot_wipe(apm_rot_state *rs);

/* GET_ROTATION_NONCE: gates (with key), then a fresh nonce replacing any
 * outstanding state. */
apm_status apm_rot_nonce(apm_core *core, const apm_rot_env *env, apm_rot_state *rs,
                         uint8_t nonce[APM_ROT_NONCE_LEN]);

/* ROTATE_ROOT (server-generated mode), msg[0..len) the instruction. On
 * APM_OK KeyA is the DRK at epoch + 1 and out[0..*out_len) holds the
 * receipt signed by KeyA. Refusals (R3, nothing changed): the gates;
 * drot_status of the envelope (DROT_E_VERIFY unknown signer or bad
 * signature, DROT_E_BADKEY revoked anchor, DROT_E_UNSUPPORTED wrong kind,
 * decode errors); APM_E_WRONG_DEVICE; APM_E_STALE (epoch not the fuse's);
 * APM_E_NONCE; DROT_E_VERIFY (ciphertext does not open); APM_E_KEY_MISMATCH
 * (sealed key is not the signed KeyA, or is the current DRK);
 * APM_E_EXHAUSTED (epoch fuse full). */
apm_status apm_rot_root(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, const uint8_t *msg,
                        size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* ROTATE_PROPOSE (device-generated mode): gates, then a fresh nonce and
 * KeyA from the DRBG (PROPOSED state, replacing any), and the proposal
 * signed by KeyA inside a message signed by the DRK into out. Writes no
 * flash (R6). */
apm_status apm_rot_propose(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, uint8_t *out,
                           size_t cap, size_t *out_len);

/* ROTATE_ENDORSE: msg is the authority's endorsement; it must name this
 * device, the fuse epoch, the outstanding proposal's nonce (APM_E_NONCE
 * without one) and its KeyA (APM_E_KEY_MISMATCH). Commits KeyA and returns
 * the receipt, as apm_rot_root. */
apm_status apm_rot_endorse(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, const uint8_t *msg,
                           size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* ROTATE_ANCHOR: ADD, REVOKE or CONFIRM (R4, R5); *op and *slot say what
 * was done (the slot added, revoked, or confirmed). Refusals as for
 * apm_rot_root where they apply, plus APM_E_EXHAUSTED (no blank slot),
 * APM_E_ANCHOR (re-adding a revoked key), APM_E_DENIED (R5). */
apm_status apm_rot_anchor(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, const uint8_t *msg,
                          size_t len, uint32_t *op, uint32_t *slot);

#endif /* APM_ROTATE_H */
