/*
 * keystore.h — the device root key (DRK) slots and their commit protocol.
 *
 * The key store record (records.h, APM_REC_KEYSTORE) holds two slots, each
 * { state: EMPTY | KEY, epoch, private scalar, public key }. The `epoch`
 * fuse (otp.h) says which generation is current. DESIGN.md 7.1:
 *
 *   rotate:  1. write KeyA into a free slot with epoch E+1   (record write)
 *            2. raise the epoch fuse to E+1                  (the commit point)
 *            3. zeroize the old slot                         (record write)
 *   boot:    the slot whose epoch equals the fuse is the DRK; a slot with a
 *            lower epoch is zeroized; a slot with a higher epoch (its fuse
 *            never burned) is discarded.
 *
 * Invariants:
 *   K1. After apm_ks_load, at most one slot holds a key, and it has the fuse
 *       epoch: core->drk is that key, or absent.
 *   K2. A power cut at any write of a rotation leaves, at the next boot,
 *       exactly one usable DRK: the old one (cut before the fuse) or the
 *       new one (cut at or after the fuse).
 *   K3. The private scalar never leaves the core except into the record
 *       (encrypted, records.h) and is wiped from every stack buffer.
 *   K4. Manufacturing creates the first DRK at epoch 0, inside the APM,
 *       from the DRBG; re-running it keeps an existing key.
 */
#ifndef APM_KEYSTORE_H
#define APM_KEYSTORE_H

#include "core.h"

/* Boot: reconcile the slots with the epoch fuse (rewriting the record if a
 * slot must be zeroized or discarded), then load the DRK into core->drk.
 * APM_OK with core->drk.present false when no slot matches (APM_E_NO_KEY is
 * the caller's to report when a key is needed). */
apm_status apm_ks_load(apm_core *core);

/* Manufacturing (K4): generate the epoch-0 DRK unless one is present. */
apm_status apm_ks_create_initial(apm_core *core);

/* Rotation step 1: store key (private + public) as the pending key for
 * new_epoch == fuse epoch + 1. APM_E_ARG for any other epoch. */
apm_status apm_ks_stage(apm_core *core, uint32_t new_epoch, const drot_p256_priv *priv,
                        const drot_p256_pub *pub);

/* Rotation steps 2 and 3: burn the epoch fuse to the staged key's epoch,
 * then zeroize the old slot and load the new DRK. APM_E_NO_KEY if nothing
 * is staged. */
apm_status apm_ks_commit(apm_core *core);

/* Tamper (intrusion): erase every slot; core->drk becomes absent. */
apm_status apm_ks_zeroize(apm_core *core);

#endif /* APM_KEYSTORE_H */
