/*
 * anchors.h — the one place that decides which authority keys the APM
 * trusts (docs/revocation.md §4).
 *
 * Every authority-signed object the APM checks (the boot manifest, DRoT
 * instructions and endorsements, anchor instructions, revocation lists,
 * firmware install manifests) is verified against the slot array this
 * function builds, and against no other: a slot is trusted when its fuse
 * is burned, its revoke bit is not, and the stored revocation list does not
 * revoke its key. A key the list revokes is refused exactly as if its
 * revoke bit were burned (drot_authority_verify: DROT_E_BADKEY).
 */
#ifndef APM_ANCHORS_H
#define APM_ANCHORS_H

#include "core.h"
#include "drot/authority.h"
#include "otp.h"

/* Fills slots[0..APM_ANCHOR_SLOTS) from the cached fuses (core->otp) and
 * the stored revocation list (core->rev): hash and present from the fuses;
 * revoked = the fuse's revoke bit OR the slot's hash is in the list. Cannot
 * fail; core MUST have been initialised (apm_core_init). */
void apm_trusted_anchors(const apm_core *core, drot_anchor_slot slots[APM_ANCHOR_SLOTS]);

/* Whether the stored list revokes the authority key whose hash is given
 * (32 bytes), whether or not it is in a slot. */
bool apm_anchor_hash_revoked(const apm_core *core, const uint8_t hash[32]);

#endif /* APM_ANCHORS_H */
