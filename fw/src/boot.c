/*
 * boot.c — verify and measure the APM's own firmware image (see boot.h).
 *
 * A slot's manifest sector (layout.h; slot A or B) starts with a 12-byte header
 *
 *   0..3   magic "DFWM"
 *   4      version 1
 *   5..7   0, 0, 0 (reserved; anything else is refused)
 *   8..11  manifest length, uint32 big-endian, 1..APM_FW_MANIFEST_MAX
 *
 * followed by the manifest: an authority-signed COSE_Sign1 (drot/authority.h)
 * whose payload is a drot/manifest.h map.
 *
 * apm_boot_verify_slot, step by step, with the status each step reports:
 *
 *   1. header: magic, version, reserved bytes, length        APM_E_CORRUPT
 *      (an empty slot reads 0xFF and fails here)
 *   2. the COSE envelope parses                              APM_E_CORRUPT
 *   3. SHA-256(kid) is in a present anchor slot              APM_E_ANCHOR
 *      that is not revoked, by its fuse or by the stored
 *      revocation list (apm_trusted_anchors, anchors.h)
 *   4. drot_manifest_verify: content type, signature under
 *      the kid, manifest payload                             APM_E_ANCHOR (revoked)
 *                                                            APM_E_BOOT (anything else)
 *   5. version, SVN and signer id are recorded (B3); if the size is within
 *      the slot, the image is hashed, streaming, and its digest recorded
 *   6. component is "APM"                                    APM_E_BOOT
 *   7. SVN ≥ the APM svn fuse                                APM_E_ROLLBACK
 *   8. size ≤ APM_FW_IMAGE_MAX                               APM_E_IMAGE
 *   9. digest equals the manifest's (constant time)          APM_E_IMAGE
 *  10. verdict PASS (B1), after the digest is compared a second time
 *
 * Step 3 repeats part of what drot_authority_verify does inside step 4: that
 * function reports an unknown signer and a bad signature with the same
 * status (DROT_E_VERIFY), and the boot verdict must tell them apart.
 *
 * Nothing here writes (B2). The manifest buffer is bounded by
 * APM_BOOT_MANIFEST_BUF, well above any manifest drot_manifest_sign can
 * produce; a longer one is refused as APM_E_CORRUPT. The image is read in
 * APM_BOOT_CHUNK-byte pieces, so no frame holds more than about 1 KiB.
 */
#include "boot.h"

#include <stdbool.h>
#include <string.h>

#include "anchors.h"
#include "drot/authority.h"
#include "drot/cose.h"
#include "drot/manifest.h"
#include "layout.h"

#define APM_BOOT_HDR_LEN      12u
#define APM_BOOT_MANIFEST_BUF APM_BOOT_MANIFEST_MAX
#define APM_BOOT_CHUNK        256u

_Static_assert(APM_BOOT_MANIFEST_BUF >= DROT_MANIFEST_SIGNED_MAX, "manifest buffer below the signed maximum");
_Static_assert(APM_BOOT_MANIFEST_BUF <= APM_FW_MANIFEST_MAX, "manifest buffer above the sector's room");
_Static_assert(DROT_MANIFEST_MAX_VERSION < sizeof(((apm_boot_state *)0)->version), "version field too small");

static const uint8_t MANIFEST_MAGIC[4] = {'D', 'F', 'W', 'M'};

static uint32_t sector_off(uint32_t sector)
{
    return sector * APM_FLASH_SECTOR_SIZE;
}

static bool geometry_ok(const apm_hal *hal)
{
    return hal != NULL && hal->flash_read != NULL && hal->flash_sector_size == APM_FLASH_SECTOR_SIZE &&
           hal->flash_sectors >= APM_FLASH_MIN_SECTORS;
}

/* Step 1 and the read of slot's manifest bytes into buf[0..cap). */
static apm_status read_manifest(const apm_hal *hal, uint32_t slot, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t hdr[APM_BOOT_HDR_LEN];
    uint32_t mlen;
    apm_hal_status hs;

    hs = hal->flash_read(hal->ctx, sector_off(APM_FW_SLOT_MANIFEST(slot)), hdr, sizeof hdr);
    if (hs != APM_HAL_OK)
        return apm_from_hal(hs);
    if (memcmp(hdr, MANIFEST_MAGIC, sizeof MANIFEST_MAGIC) != 0 || hdr[4] != 1u || hdr[5] != 0u ||
        hdr[6] != 0u || hdr[7] != 0u)
        return APM_E_CORRUPT;
    mlen = ((uint32_t)hdr[8] << 24) | ((uint32_t)hdr[9] << 16) | ((uint32_t)hdr[10] << 8) | (uint32_t)hdr[11];
    if (mlen == 0 || mlen > APM_FW_MANIFEST_MAX || mlen > cap)
        return APM_E_CORRUPT;
    hs = hal->flash_read(hal->ctx, sector_off(APM_FW_SLOT_MANIFEST(slot)) + APM_BOOT_HDR_LEN, buf, mlen);
    if (hs != APM_HAL_OK)
        return apm_from_hal(hs);
    *len = mlen;
    return APM_OK;
}

/* Step 3: the kid names a key whose hash is in a present, unrevoked slot.
 * Every slot is compared (no early exit); anchor hashes are public, so this
 * is about a uniform shape, not secrecy. */
static apm_status check_signer(const drot_anchor_slot slots[APM_ANCHOR_SLOTS], const uint8_t *kid,
                               size_t kid_len)
{
    uint8_t h[DROT_SHA256_LEN];
    uint32_t good = 0;

    if (kid == NULL || kid_len != DROT_P256_PUB_LEN)
        return APM_E_ANCHOR;
    if (drot_sha256(kid, kid_len, h) != DROT_OK)
        return APM_E_ANCHOR;
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS; i++) {
        uint32_t eq = drot_ct_equal(h, slots[i].hash, sizeof h) == DROT_OK ? 1u : 0u;
        uint32_t present = slots[i].present ? 1u : 0u;
        uint32_t revoked = slots[i].revoked ? 1u : 0u;
        good |= eq & present & (revoked ^ 1u);
    }
    return good == 1u ? APM_OK : APM_E_ANCHOR;
}

/* Step 4's statuses. DROT_E_BADKEY means exactly "the signer's anchor is
 * revoked" (drot/authority.h); everything else is a refused signed object. */
static apm_status map_manifest_status(drot_status st)
{
    if (st == DROT_OK)
        return APM_OK;
    if (st == DROT_E_BADKEY)
        return APM_E_ANCHOR;
    return APM_E_BOOT;
}

/* SHA-256 of the first size bytes of slot's image, read in chunks. */
static apm_status hash_image(const apm_hal *hal, uint32_t slot, uint32_t size,
                             uint8_t digest[DROT_SHA256_LEN])
{
    uint8_t chunk[APM_BOOT_CHUNK];
    drot_sha256_ctx ctx;
    apm_status st = APM_OK;
    drot_status ds;

    ds = drot_sha256_init(&ctx);
    if (ds != DROT_OK) {
        drot_sha256_release(&ctx);
        return (apm_status)ds;
    }
    for (uint32_t off = 0; off < size;) {
        uint32_t n = size - off < APM_BOOT_CHUNK ? size - off : APM_BOOT_CHUNK;
        apm_hal_status hs = hal->flash_read(hal->ctx, sector_off(APM_FW_SLOT_IMAGE(slot)) + off, chunk, n);
        if (hs != APM_HAL_OK) {
            st = apm_from_hal(hs);
            goto out;
        }
        ds = drot_sha256_update(&ctx, chunk, n);
        if (ds != DROT_OK) {
            st = (apm_status)ds;
            goto out;
        }
        off += n;
    }
    ds = drot_sha256_final(&ctx, digest);
    if (ds != DROT_OK)
        st = (apm_status)ds;
out:
    drot_sha256_release(&ctx);
    return st;
}

static bool is_apm_component(const drot_manifest *m)
{
    return m->component_len == 3u && memcmp(m->component, "APM", 3) == 0;
}

/* see boot.h (steps 2–4) */
apm_status apm_boot_manifest_check(apm_core *core, const uint8_t *msg, size_t len, drot_manifest *m,
                                   uint32_t *anchor_slot)
{
    drot_anchor_slot slots[APM_ANCHOR_SLOTS];
    drot_cose_sign1_view view;
    size_t slot = 0;
    apm_status st;

    if (core == NULL || m == NULL || anchor_slot == NULL || (msg == NULL && len > 0))
        return APM_E_ARG;
    memset(m, 0, sizeof *m);
    if (len == 0 || len > APM_BOOT_MANIFEST_BUF || drot_cose_sign1_decode(msg, len, &view) != DROT_OK)
        return APM_E_CORRUPT;
    apm_trusted_anchors(core, slots); /* fuses + the stored revocation list (anchors.h) */
    st = check_signer(slots, view.kid, view.kid_len);
    if (st != APM_OK)
        return st;
    st = map_manifest_status(drot_manifest_verify(msg, len, slots, APM_ANCHOR_SLOTS, m, &slot));
    if (st != APM_OK)
        return st;
    if (slot >= APM_ANCHOR_SLOTS)
        return APM_E_BOOT;
    *anchor_slot = (uint32_t)slot;
    return APM_OK;
}

/* Steps 2–9 on slot; B1 and step 10 are the caller's. */
static apm_status verify_slot(apm_core *core, uint32_t slot, apm_boot_state *out)
{
    uint8_t msg[APM_BOOT_MANIFEST_BUF];
    size_t len = 0;
    uint32_t anchor = 0;
    drot_manifest m;
    apm_status st;
    bool hashed = false;

    st = read_manifest(core->hal, slot, msg, sizeof msg, &len);
    if (st != APM_OK)
        return st;
    st = apm_boot_manifest_check(core, msg, len, &m, &anchor);
    if (st != APM_OK)
        return st;

    /* B3: what was found, recorded before the decisions below. */
    memcpy(out->version, m.version, m.version_len);
    out->version[m.version_len] = '\0';
    out->svn = m.svn;
    memcpy(out->signer_id, core->otp.anchor[anchor], sizeof out->signer_id);
    out->anchor_slot = anchor;
    if (m.size <= APM_FW_IMAGE_MAX) {
        st = hash_image(core->hal, slot, m.size, out->digest);
        if (st != APM_OK)
            return st;
        hashed = true;
    }

    if (!is_apm_component(&m))
        return APM_E_BOOT;
    if (m.svn < core->otp.svn[APM_SVN_APM])
        return APM_E_ROLLBACK;
    if (!hashed)
        return APM_E_IMAGE;
    if (drot_ct_equal(out->digest, m.digest, sizeof m.digest) != DROT_OK)
        return APM_E_IMAGE;
    /* Keep the manifest digest for step 10's second comparison. */
    memcpy(msg, m.digest, sizeof m.digest);
    return drot_ct_equal(out->digest, msg, sizeof m.digest) == DROT_OK ? APM_OK : APM_E_IMAGE;
}

/* see boot.h */
apm_status apm_boot_verify_slot(apm_core *core, uint32_t slot, apm_boot_state *out)
{
    apm_status st;

    if (out == NULL)
        return APM_E_ARG;
    memset(out, 0, sizeof *out);
    out->verdict = APM_VERDICT_FAIL; /* B1 */
    out->reason = APM_E_BOOT;
    out->slot = slot;
    if (core == NULL || !geometry_ok(core->hal) || slot >= APM_FW_SLOTS) {
        out->reason = APM_E_ARG;
        return out->reason;
    }

    st = verify_slot(core, slot, out);
    out->reason = st;
    /* Step 10: PASS only from APM_OK, and only with the SVN rule holding
     * still, so one skipped branch above is not enough to pass. */
    if (st == APM_OK && out->svn >= core->otp.svn[APM_SVN_APM])
        out->verdict = APM_VERDICT_PASS;
    else if (st == APM_OK)
        out->reason = APM_E_ROLLBACK;
    return out->reason;
}

/* One flash_program of buf[0..len) at off. */
static apm_status program(const apm_hal *hal, uint32_t off, const uint8_t *buf, uint32_t len)
{
    apm_hal_status hs = hal->flash_program(hal->ctx, off, buf, len);
    return hs == APM_HAL_OK ? APM_OK : apm_from_hal(hs);
}

static apm_status erase(const apm_hal *hal, uint32_t sector)
{
    apm_hal_status hs = hal->flash_erase(hal->ctx, sector);
    return hs == APM_HAL_OK ? APM_OK : apm_from_hal(hs);
}

static bool writable(const apm_core *core)
{
    return core != NULL && geometry_ok(core->hal) && core->hal->flash_erase != NULL &&
           core->hal->flash_program != NULL;
}

/* see boot.h */
apm_status apm_boot_slot_clear(apm_core *core, uint32_t slot)
{
    if (!writable(core) || slot >= APM_FW_SLOTS)
        return APM_E_ARG;
    return erase(core->hal, APM_FW_SLOT_MANIFEST(slot));
}

/* see boot.h */
apm_status apm_boot_slot_seal(apm_core *core, uint32_t slot, const uint8_t *manifest, uint32_t len)
{
    uint8_t hdr[APM_BOOT_HDR_LEN];
    uint32_t base;
    apm_status st;

    if (!writable(core) || slot >= APM_FW_SLOTS || manifest == NULL || len == 0 || len > APM_FW_MANIFEST_MAX)
        return APM_E_ARG;
    base = sector_off(APM_FW_SLOT_MANIFEST(slot));
    st = program(core->hal, base + APM_BOOT_HDR_LEN, manifest, len);
    if (st != APM_OK)
        return st;
    memcpy(hdr, MANIFEST_MAGIC, sizeof MANIFEST_MAGIC);
    hdr[4] = 1u;
    hdr[5] = hdr[6] = hdr[7] = 0u;
    hdr[8] = (uint8_t)(len >> 24);
    hdr[9] = (uint8_t)(len >> 16);
    hdr[10] = (uint8_t)(len >> 8);
    hdr[11] = (uint8_t)len;
    return program(core->hal, base, hdr, sizeof hdr); /* B4: the header last */
}

/* see boot.h
 *
 * Write order (B4): erase the manifest sector first (a stale manifest must
 * never pair with a half-written image), then the image, then the manifest
 * bytes, and the 12-byte header last: a power cut anywhere leaves a slot
 * that reads as empty (APM_E_CORRUPT) or complete. */
apm_status apm_boot_install_slot_a(apm_core *core, const uint8_t *manifest, uint32_t manifest_len,
                                   const uint8_t *image, uint32_t image_len)
{
    uint32_t sectors;
    apm_status st;

    if (!writable(core))
        return APM_E_ARG;
    if (manifest == NULL || manifest_len == 0 || manifest_len > APM_FW_MANIFEST_MAX)
        return APM_E_ARG;
    if (image == NULL || image_len == 0 || image_len > APM_FW_IMAGE_MAX)
        return APM_E_ARG;

    st = apm_boot_slot_clear(core, APM_FW_SLOT_A);
    if (st != APM_OK)
        return st;
    sectors = (image_len + APM_FLASH_SECTOR_SIZE - 1u) / APM_FLASH_SECTOR_SIZE;
    for (uint32_t s = 0; s < sectors; s++) {
        uint32_t off = s * APM_FLASH_SECTOR_SIZE;
        uint32_t n = image_len - off < APM_FLASH_SECTOR_SIZE ? image_len - off : APM_FLASH_SECTOR_SIZE;
        st = erase(core->hal, APM_FW_SLOT_A_IMAGE + s);
        if (st != APM_OK)
            return st;
        st = program(core->hal, sector_off(APM_FW_SLOT_A_IMAGE) + off, image + off, n);
        if (st != APM_OK)
            return st;
    }
    return apm_boot_slot_seal(core, APM_FW_SLOT_A, manifest, manifest_len);
}
