/*
 * anchors.c — trusted anchors: fuses plus the stored revocation list
 * (see anchors.h).
 *
 * Anchor hashes and the list are public, so nothing here needs constant
 * time; drot_authority_verify does its own constant-time matching over the
 * array built here.
 */
#include "anchors.h"

#include <string.h>

_Static_assert(APM_ANCHOR_SLOTS == DROT_AUTHORITY_MAX_SLOTS, "the fuse map has the authority's slot count");

/* see anchors.h */
bool apm_anchor_hash_revoked(const apm_core *core, const uint8_t hash[32])
{
    bool hit = false;
    for (uint32_t i = 0; i < core->rev.n_auth && i < APM_REV_MAX_AUTH; i++)
        hit |= memcmp(core->rev.auth[i], hash, 32) == 0;
    return hit;
}

/* see anchors.h */
void apm_trusted_anchors(const apm_core *core, drot_anchor_slot slots[APM_ANCHOR_SLOTS])
{
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS; i++) {
        memcpy(slots[i].hash, core->otp.anchor[i], sizeof slots[i].hash);
        slots[i].present = core->otp.anchor_present[i];
        slots[i].revoked = core->otp.anchor_revoked[i] || apm_anchor_hash_revoked(core, core->otp.anchor[i]);
    }
}
