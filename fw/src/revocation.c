/*
 * revocation.c — the APM's revocation list (see revocation.h, steps 1–6 and
 * invariants V1–V4).
 *
 * Stack: the decoded list (about 1.2 KiB on a 64-bit host, 600 bytes on the
 * MCU), the new state and the record bytes live in the caller's
 * apm_rev_work, not on the stack, so the record write (records.c: ~2.3 KiB
 * with its scan) starts from a small frame (Cortex-M33 -Os: see
 * docs/revocation.md §3).
 */
#include "revocation.h"

#include <string.h>

#include "anchors.h"
#include "drot/revocation.h"
#include "records.h"

#define REV_FORMAT   1u
#define REV_HDR_LEN  76u
#define REV_DRK_HASH 44u

_Static_assert(APM_REV_MAX_AUTH == DROT_REVOCATION_MAX_AUTHORITIES, "the APM keeps every revoked authority");
_Static_assert(APM_REV_RECORD_MAX <= APM_REC_MAX, "the revocation record fits a flash record");

/* ---- record ---------------------------------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t rec_encode(const apm_rev *r, uint8_t out[APM_REV_RECORD_MAX])
{
    memset(out, 0, APM_REV_RECORD_MAX);
    out[0] = REV_FORMAT;
    out[1] = (uint8_t)r->n_auth;
    out[2] = r->drk_revoked ? 1u : 0u;
    put_be64(out + 4, r->version);
    memcpy(out + 12, r->digest, 32);
    if (r->drk_revoked)
        memcpy(out + REV_DRK_HASH, r->drk_hash, 32);
    for (uint32_t i = 0; i < r->n_auth; i++)
        memcpy(out + REV_HDR_LEN + 32u * i, r->auth[i], 32);
    return REV_HDR_LEN + 32u * (size_t)r->n_auth;
}

static apm_status rec_decode(const uint8_t *p, size_t len, apm_rev *r)
{
    memset(r, 0, sizeof *r);
    if (len < REV_HDR_LEN || p[0] != REV_FORMAT || p[1] > APM_REV_MAX_AUTH || p[2] > 1u || p[3] != 0)
        return APM_E_CORRUPT;
    if (len != REV_HDR_LEN + 32u * (size_t)p[1])
        return APM_E_CORRUPT;
    r->version = get_be64(p + 4);
    if (r->version == 0)
        return APM_E_CORRUPT;
    memcpy(r->digest, p + 12, 32);
    r->drk_revoked = p[2] == 1u;
    memcpy(r->drk_hash, p + REV_DRK_HASH, 32);
    r->n_auth = p[1];
    for (uint32_t i = 0; i < r->n_auth; i++)
        memcpy(r->auth[i], p + REV_HDR_LEN + 32u * i, 32);
    return APM_OK;
}

/* see revocation.h */
apm_status apm_rev_load(apm_core *core)
{
    uint8_t buf[APM_REV_RECORD_MAX];
    size_t len = 0;
    apm_status st;

    if (core == NULL || core->hal == NULL)
        return APM_E_ARG;
    memset(&core->rev, 0, sizeof core->rev);
    if (!core->rec_key_ready)
        return APM_OK;
    st = apm_rec_read(core, APM_REC_REVOCATION, buf, sizeof buf, &len, NULL);
    if (st == APM_OK && rec_decode(buf, len, &core->rev) != APM_OK)
        memset(&core->rev, 0, sizeof core->rev); /* authentic but unparsable: no list (V4) */
    if (st == APM_E_CORRUPT || st == (apm_status)DROT_E_BUFFER)
        st = APM_OK; /* never written, or not ours to read: no list */
    return st;
}

/* ---- DRK ------------------------------------------------------------------------------ */

static apm_status drk_hash(const apm_core *core, uint8_t h[32])
{
    return drot_sha256(core->drk.pub.q, sizeof core->drk.pub.q, h) == DROT_OK ? APM_OK : APM_E_REVOKED;
}

/* see revocation.h */
apm_status apm_rev_check_drk(const apm_core *core)
{
    uint8_t h[32];

    if (core == NULL)
        return APM_E_ARG;
    if (!core->drk.present || !core->rev.drk_revoked)
        return APM_OK;
    if (drk_hash(core, h) != APM_OK)
        return APM_E_REVOKED;
    return drot_ct_equal(h, core->rev.drk_hash, sizeof h) == DROT_OK ? APM_E_REVOKED : APM_OK;
}

/* ---- SET_REVOCATION_LIST --------------------------------------------------------------- */

static apm_status gates(const apm_core *core, size_t len)
{
    if (core->otp.lifecycle == APM_LC_MANUFACTURING || !core->rec_key_ready)
        return APM_E_NOT_PROVISIONED;
    if (core->otp.lifecycle != APM_LC_PROVISIONED && core->otp.lifecycle != APM_LC_DEPLOYED)
        return APM_E_LIFECYCLE;
    if (len == 0)
        return APM_E_ARG;
    if (len > DROT_REVOCATION_SIGNED_MAX)
        return (apm_status)DROT_E_TOO_LARGE;
    return APM_OK;
}

/* Step 4 (V2): every revocation the stored list holds is in l as well. */
static apm_status nothing_withdrawn(const apm_core *core, const drot_revocation_list *l, bool have_drk,
                                    const uint8_t drk[32])
{
    for (uint32_t i = 0; i < core->rev.n_auth && i < APM_REV_MAX_AUTH; i++)
        if (!drot_revocation_has_authority(l, core->rev.auth[i]))
            return APM_E_ROLLBACK;
    if (have_drk && core->rev.drk_revoked && memcmp(drk, core->rev.drk_hash, 32) == 0 &&
        !drot_revocation_has_drk(l, drk))
        return APM_E_ROLLBACK;
    return APM_OK;
}

/* Step 5: never the running image's signer, never the last usable anchor. */
static apm_status keeps_device_usable(const apm_core *core, const apm_boot_state *boot,
                                      const drot_revocation_list *l)
{
    uint32_t usable = 0;

    if (boot->verdict == APM_VERDICT_PASS && drot_revocation_has_authority(l, boot->signer_id))
        return APM_E_DENIED;
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS; i++)
        if (core->otp.anchor_present[i] && !core->otp.anchor_revoked[i] &&
            !drot_revocation_has_authority(l, core->otp.anchor[i]))
            usable++;
    return usable > 0 ? APM_OK : APM_E_DENIED;
}

/* Steps 2–5: verifies msg and, unless it is the stored list again (*same),
 * fills w->next with what to store. Writes nothing. */
static apm_status check_list(const apm_core *core, const apm_boot_state *boot, const uint8_t *msg, size_t len,
                             apm_rev_work *w, bool *same)
{
    drot_anchor_slot slots[APM_ANCHOR_SLOTS];
    uint8_t digest[32], drk[32];
    bool have_drk = core->drk.present;
    drot_revocation_list *l = &w->list;
    apm_rev *next = &w->next;
    apm_status st;

    *same = false;
    apm_trusted_anchors(core, slots);
    st = (apm_status)drot_revocation_verify(msg, len, slots, APM_ANCHOR_SLOTS, l, NULL, digest);
    if (st != APM_OK)
        return st;
    if (l->version < core->rev.version)
        return APM_E_ROLLBACK;
    if (l->version == core->rev.version) {
        if (drot_ct_equal(digest, core->rev.digest, sizeof digest) != DROT_OK)
            return APM_E_ROLLBACK; /* V1: one content per version */
        *same = true;
        return APM_OK;
    }
    if (have_drk && (st = drk_hash(core, drk)) != APM_OK)
        return st;
    if ((st = nothing_withdrawn(core, l, have_drk, drk)) != APM_OK)
        return st;
    if ((st = keeps_device_usable(core, boot, l)) != APM_OK)
        return st;

    memset(next, 0, sizeof *next);
    next->version = l->version;
    memcpy(next->digest, digest, sizeof digest);
    next->n_auth = (uint32_t)l->n_authorities;
    for (size_t i = 0; i < l->n_authorities; i++)
        memcpy(next->auth[i], l->authorities[i], 32);
    if (have_drk && drot_revocation_has_drk(l, drk)) {
        next->drk_revoked = true;
        memcpy(next->drk_hash, drk, sizeof drk);
    }
    return APM_OK;
}

/* see revocation.h */
apm_status apm_rev_set(apm_core *core, const apm_boot_state *boot, const uint8_t *msg, size_t len,
                       apm_rev_work *work, apm_rev_result *out)
{
    bool same = false;
    apm_status st;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (core == NULL || core->hal == NULL || boot == NULL || msg == NULL || work == NULL || out == NULL)
        return APM_E_ARG;
    if ((st = gates(core, len)) != APM_OK)
        return st;
    st = check_list(core, boot, msg, len, work, &same);
    if (st != APM_OK)
        return st;
    if (!same) {
        size_t n = rec_encode(&work->next, work->rec);
        st = apm_rec_write(core, APM_REC_REVOCATION, work->rec, n); /* step 6: the one write */
        if (st != APM_OK)
            return st;
        core->rev = work->next;
    }
    out->version = core->rev.version;
    out->changed = !same;
    out->drk_revoked = apm_rev_check_drk(core) == APM_E_REVOKED;
    return APM_OK;
}
