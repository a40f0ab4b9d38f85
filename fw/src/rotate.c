/*
 * rotate.c — the APM side of DRoT (see rotate.h, invariants R1–R6).
 *
 * Every entry point has the same shape:
 *
 *   take the RAM state (R1: the nonce is spent from here on)
 *   gates (R2)
 *   verify the message against the anchors, then every binding
 *   build the answer (the receipt: signed before anything is written)
 *   write: key store stage + commit, or one anchor fuse
 *   confirm the signer's anchor (best effort, see confirm_signer)
 *
 * so a refusal anywhere before "write" changes nothing persistent (R3).
 */
#include "rotate.h"

#include <string.h>

#include "anchors.h"
#include "drot/rotate.h"
#include "keystore.h"
#include "otp.h"
#include "revocation.h"

#define ROT_MODE_NONCE    0x5A3Cu
#define ROT_MODE_PROPOSED 0xA5C3u

/* ---- state -------------------------------------------------------------------- */

/* see rotate.h */
void apm_rot_wipe(apm_rot_state *rs)
{
    if (rs != NULL)
        drot_wipe(rs, sizeof *rs);
}

/* R1: moves the state into *held and leaves rs IDLE. */
static void take(apm_rot_state *rs, apm_rot_state *held)
{
    *held = *rs;
    apm_rot_wipe(rs);
}

static bool armed_as(const apm_rot_state *held, uint32_t mode)
{
    return held->armed == APM_VERDICT_PASS && held->mode == mode;
}

/* ---- gates (R2) ------------------------------------------------------------------ */

static apm_status gates(apm_core *core, const apm_rot_env *env, bool need_key)
{
    apm_status st;

    if (core->otp.lifecycle == APM_LC_MANUFACTURING)
        return APM_E_NOT_PROVISIONED;
    if (core->otp.lifecycle != APM_LC_PROVISIONED && core->otp.lifecycle != APM_LC_DEPLOYED)
        return APM_E_LIFECYCLE;
    if (env->boot->verdict != APM_VERDICT_PASS)
        return APM_E_BOOT;
    st = apm_tamper_poll(core, env->tamper); /* tamper.h T1: before any key use */
    if (st != APM_OK)
        return st;
    if (need_key && (!core->drk.present || core->drk.epoch != core->otp.epoch))
        return APM_E_NO_KEY;
    /* A DRK the revocation list revokes signs no proposal and opens no
     * delivered key: whoever holds a copy could read KeyA too. */
    if (need_key && (st = apm_rev_check_drk(core)) != APM_OK)
        return st;
    return APM_OK;
}

static bool env_ok(const apm_core *core, const apm_rot_env *env, const apm_rot_state *rs)
{
    return core != NULL && core->hal != NULL && env != NULL && env->boot != NULL && env->tamper != NULL &&
           rs != NULL;
}

/* Device id, epoch and nonce of a verified message against this device,
 * its fuse epoch and the held nonce issued in `mode` at that epoch. */
static apm_status check_bindings(const apm_core *core, const apm_rot_state *held, uint32_t mode,
                                 const uint8_t device_id[16], uint64_t epoch, const uint8_t nonce[32])
{
    if (drot_ct_equal(device_id, core->otp.device_id, 16) != DROT_OK)
        return APM_E_WRONG_DEVICE;
    if (epoch != core->otp.epoch)
        return APM_E_STALE;
    if (!armed_as(held, mode) || held->epoch != core->otp.epoch)
        return APM_E_NONCE;
    if (drot_ct_equal(nonce, held->nonce, APM_ROT_NONCE_LEN) != DROT_OK)
        return APM_E_NONCE;
    return APM_OK;
}

/*
 * Burns the signer's anchor_confirmed fuse after an instruction it signed
 * was carried out (R5). Best effort for the key rotations: the rotation has
 * committed already, and a missing confirmation only makes a later REVOKE
 * stricter. Power loss is still reported (the device must stop).
 */
static apm_status confirm_signer(apm_core *core, size_t slot)
{
    apm_status st;
    if (slot >= APM_ANCHOR_SLOTS || core->otp.anchor_confirmed[slot])
        return APM_OK;
    st = apm_otp_confirm_anchor(core->hal, (uint32_t)slot);
    apm_status reload = apm_core_load_otp(core); /* otp.h O4 */
    return st != APM_OK ? st : reload;
}

/* ---- key commit ------------------------------------------------------------------ */

/*
 * The receipt (signed by KeyA, before any write), then stage + commit
 * (keystore.h: the epoch fuse is the commit point), then the signer's
 * confirmation. On failure out holds nothing.
 */
static apm_status commit_key(apm_core *core, const drot_p256_priv *keya_priv, const drot_p256_pub *keya_pub,
                             uint32_t new_epoch, const uint8_t nonce[32], const uint8_t tbs[32],
                             size_t signer, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_rotate_receipt rc;
    apm_status st;

    if (new_epoch > APM_THERMO_MAX) {
        st = APM_E_EXHAUSTED;
        goto out;
    }
    memset(&rc, 0, sizeof rc);
    memcpy(rc.device_id, core->otp.device_id, sizeof rc.device_id);
    rc.new_epoch = new_epoch;
    memcpy(rc.nonce, nonce, sizeof rc.nonce);
    memcpy(rc.instruction, tbs, sizeof rc.instruction);
    st = (apm_status)drot_rotate_receipt_sign(keya_priv, keya_pub, &rc, out, cap, out_len);
    if (st != APM_OK)
        goto out;
    st = apm_ks_stage(core, new_epoch, keya_priv, keya_pub);
    if (st == APM_OK)
        st = apm_ks_commit(core);
    if (st == APM_OK && confirm_signer(core, signer) == APM_E_POWER)
        st = APM_E_POWER; /* committed; any other confirmation failure is ignored (best effort) */
out:
    if (st != APM_OK) {
        drot_wipe(out, cap);
        *out_len = 0;
    }
    return st;
}

/* ---- nonce ------------------------------------------------------------------------ */

/* see rotate.h */
apm_status apm_rot_nonce(apm_core *core, const apm_rot_env *env, apm_rot_state *rs,
                         uint8_t nonce[APM_ROT_NONCE_LEN])
{
    apm_status st;

    if (!env_ok(core, env, rs) || nonce == NULL)
        return APM_E_ARG;
    apm_rot_wipe(rs); /* a new request replaces the outstanding state */
    if ((st = gates(core, env, true)) != APM_OK)
        return st;
    if ((st = apm_core_random(core, rs->nonce, sizeof rs->nonce)) != APM_OK) {
        apm_rot_wipe(rs);
        return st;
    }
    rs->mode = ROT_MODE_NONCE;
    rs->epoch = core->otp.epoch;
    rs->armed = APM_VERDICT_PASS;
    memcpy(nonce, rs->nonce, APM_ROT_NONCE_LEN);
    return APM_OK;
}

/* ---- server-generated mode ----------------------------------------------------- */

/* see rotate.h */
apm_status apm_rot_root(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, const uint8_t *msg,
                        size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_anchor_slot slots[APM_ANCHOR_SLOTS];
    apm_rot_state held;
    drot_rotate_root r;
    drot_p256_priv keya;
    uint8_t tbs[DROT_SHA256_LEN];
    size_t signer = 0;
    apm_status st;

    if (out_len != NULL)
        *out_len = 0;
    if (!env_ok(core, env, rs) || msg == NULL || out == NULL || out_len == NULL)
        return APM_E_ARG;
    take(rs, &held); /* R1 */
    memset(&keya, 0, sizeof keya);
    memset(&r, 0, sizeof r);
    if ((st = gates(core, env, true)) != APM_OK)
        goto out;
    apm_trusted_anchors(core, slots);
    st = (apm_status)drot_rotate_root_verify(msg, len, slots, APM_ANCHOR_SLOTS, &r, &signer, tbs);
    if (st != APM_OK)
        goto out;
    st = check_bindings(core, &held, ROT_MODE_NONCE, r.device_id, r.epoch, r.nonce);
    if (st != APM_OK)
        goto out;
    st = (apm_status)drot_rotate_root_open(&r, &core->drk.priv, &keya);
    if (st == (apm_status)DROT_E_BADKEY)
        st = APM_E_KEY_MISMATCH;
    if (st != APM_OK)
        goto out;
    /* "Rotating" to the key in use would keep a key the server is about
     * to revoke: refuse it like any other wrong key. */
    if (drot_ct_equal(r.keya.q, core->drk.pub.q, DROT_P256_PUB_LEN) == DROT_OK) {
        st = APM_E_KEY_MISMATCH;
        goto out;
    }
    st = commit_key(core, &keya, &r.keya, (uint32_t)r.new_epoch, r.nonce, tbs, signer, out, cap, out_len);
out:
    drot_wipe(&keya, sizeof keya);
    drot_wipe(&held, sizeof held);
    return st;
}

/* ---- device-generated mode ----------------------------------------------------- */

/* see rotate.h */
apm_status apm_rot_propose(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, uint8_t *out,
                           size_t cap, size_t *out_len)
{
    drot_rotate_proposal p;
    apm_status st;

    if (out_len != NULL)
        *out_len = 0;
    if (!env_ok(core, env, rs) || out == NULL || out_len == NULL)
        return APM_E_ARG;
    apm_rot_wipe(rs); /* replaces any outstanding state */
    if ((st = gates(core, env, true)) != APM_OK)
        goto out;
    if (core->otp.epoch >= APM_THERMO_MAX) {
        st = APM_E_EXHAUSTED;
        goto out;
    }
    if ((st = apm_core_random(core, rs->nonce, sizeof rs->nonce)) != APM_OK)
        goto out;
    drot_rng rng = apm_core_rng(core);
    if ((st = (apm_status)drot_p256_keygen(&rng, &rs->keya_priv, &rs->keya_pub)) != APM_OK)
        goto out;
    memset(&p, 0, sizeof p);
    memcpy(p.device_id, core->otp.device_id, sizeof p.device_id);
    p.epoch = core->otp.epoch;
    p.new_epoch = p.epoch + 1u;
    p.keya = rs->keya_pub;
    memcpy(p.nonce, rs->nonce, sizeof p.nonce);
    st = (apm_status)drot_rotate_proposal_sign(&core->drk.priv, &core->drk.pub, &rs->keya_priv, &p, out, cap,
                                               out_len);
    if (st != APM_OK)
        goto out;
    rs->mode = ROT_MODE_PROPOSED;
    rs->epoch = core->otp.epoch;
    rs->armed = APM_VERDICT_PASS;
out:
    if (st != APM_OK) {
        apm_rot_wipe(rs);
        *out_len = 0;
    }
    return st;
}

/* see rotate.h */
apm_status apm_rot_endorse(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, const uint8_t *msg,
                           size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_anchor_slot slots[APM_ANCHOR_SLOTS];
    apm_rot_state held;
    drot_rotate_proposal p;
    uint8_t tbs[DROT_SHA256_LEN];
    size_t signer = 0;
    apm_status st;

    if (out_len != NULL)
        *out_len = 0;
    if (!env_ok(core, env, rs) || msg == NULL || out == NULL || out_len == NULL)
        return APM_E_ARG;
    take(rs, &held); /* R1 */
    if ((st = gates(core, env, true)) != APM_OK)
        goto out;
    apm_trusted_anchors(core, slots);
    st = (apm_status)drot_rotate_endorse_verify(msg, len, slots, APM_ANCHOR_SLOTS, &p, &signer, tbs);
    if (st != APM_OK)
        goto out;
    st = check_bindings(core, &held, ROT_MODE_PROPOSED, p.device_id, p.epoch, p.nonce);
    if (st != APM_OK)
        goto out;
    if (drot_ct_equal(p.keya.q, held.keya_pub.q, DROT_P256_PUB_LEN) != DROT_OK) {
        st = APM_E_KEY_MISMATCH; /* endorses another KeyA than the one proposed */
        goto out;
    }
    st = commit_key(core, &held.keya_priv, &held.keya_pub, (uint32_t)p.new_epoch, p.nonce, tbs, signer, out,
                    cap, out_len);
out:
    drot_wipe(&held, sizeof held);
    return st;
}

/* ---- trust anchors ---------------------------------------------------------------- */

/* slot holds a non-empty torn prefix of hash: its first k ≥ 1 bytes are
 * hash's and the rest are blank (what a cut burn of hash leaves). */
static bool torn_prefix_of(const uint8_t slot[32], const uint8_t hash[32])
{
    size_t k = 0;
    while (k < 32 && slot[k] == hash[k] && slot[k] != 0)
        k++;
    if (k == 0 || k == 32)
        return false;
    for (size_t i = k; i < 32; i++)
        if (slot[i] != 0)
            return false;
    return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* R4. */
static apm_status anchor_add(apm_core *core, const drot_p256_pub *key, uint32_t *slot)
{
    const apm_otp *o = &core->otp;
    uint8_t hash[DROT_SHA256_LEN];
    uint32_t pick = APM_ANCHOR_SLOTS;
    apm_status st;

    if ((st = (apm_status)drot_sha256(key->q, sizeof key->q, hash)) != APM_OK)
        return st;
    if (apm_anchor_hash_revoked(core, hash))
        return APM_E_ANCHOR; /* revoked by the list: it never becomes an anchor */
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS; i++) {
        if (o->anchor_present[i] && drot_ct_equal(o->anchor[i], hash, sizeof hash) == DROT_OK) {
            if (o->anchor_revoked[i])
                return APM_E_ANCHOR; /* a revoked key never comes back */
            *slot = i;
            return APM_OK; /* already an anchor: nothing to write */
        }
    }
    /* Capacity first: a retry after a cut completes its own torn burn
     * (otp.h O1); otherwise the lowest blank slot whose revoke bit is clear. */
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS && pick == APM_ANCHOR_SLOTS; i++)
        if (!o->anchor_revoked[i] && torn_prefix_of(o->anchor[i], hash))
            pick = i;
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS && pick == APM_ANCHOR_SLOTS; i++)
        if (!o->anchor_revoked[i] && all_zero(o->anchor[i], sizeof o->anchor[i]))
            pick = i;
    if (pick == APM_ANCHOR_SLOTS)
        return APM_E_EXHAUSTED;
    st = apm_otp_burn_anchor(core->hal, pick, hash);
    apm_status reload = apm_core_load_otp(core);
    if (st == APM_OK)
        st = reload;
    if (st == APM_OK)
        *slot = pick;
    return st;
}

/* R5: is slot y's key proven on this device? */
static bool proven(const apm_core *core, const apm_rot_env *env, size_t y)
{
    if (core->otp.anchor_confirmed[y])
        return true;
    return env->boot->verdict == APM_VERDICT_PASS && env->boot->anchor_slot == y;
}

/* R5. */
static apm_status anchor_revoke(apm_core *core, const apm_rot_env *env, size_t signer, uint32_t x)
{
    const apm_otp *o = &core->otp;
    uint32_t usable_others = 0;
    apm_status st;

    if (x >= APM_ANCHOR_SLOTS || x == signer || !o->anchor_present[x])
        return APM_E_DENIED;
    if (env->boot->verdict == APM_VERDICT_PASS && env->boot->anchor_slot == x)
        return APM_E_DENIED; /* the running image's signer: the next boot would fail */
    if (!proven(core, env, signer))
        return APM_E_DENIED;
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS; i++)
        if (i != x && o->anchor_present[i] && !o->anchor_revoked[i] &&
            !apm_anchor_hash_revoked(core, o->anchor[i]))
            usable_others++;
    if (usable_others == 0)
        return APM_E_DENIED; /* never the last usable anchor */
    if (o->anchor_revoked[x])
        return APM_OK; /* a retry after the bit burned: nothing to write */
    st = apm_otp_revoke_anchor(core->hal, x);
    apm_status reload = apm_core_load_otp(core);
    return st != APM_OK ? st : reload;
}

/* see rotate.h */
apm_status apm_rot_anchor(apm_core *core, const apm_rot_env *env, apm_rot_state *rs, const uint8_t *msg,
                          size_t len, uint32_t *op, uint32_t *slot)
{
    drot_anchor_slot slots[APM_ANCHOR_SLOTS];
    apm_rot_state held;
    drot_anchor_instr a;
    size_t signer = 0;
    uint32_t done = 0;
    apm_status st;

    if (!env_ok(core, env, rs) || msg == NULL || op == NULL || slot == NULL)
        return APM_E_ARG;
    take(rs, &held); /* R1 */
    if ((st = gates(core, env, false)) != APM_OK)
        goto out;
    apm_trusted_anchors(core, slots);
    st = (apm_status)drot_anchor_instr_verify(msg, len, slots, APM_ANCHOR_SLOTS, &a, &signer);
    if (st != APM_OK)
        goto out;
    /* Anchor instructions carry no epoch: the nonce's own epoch is checked. */
    st = check_bindings(core, &held, ROT_MODE_NONCE, a.device_id, core->otp.epoch, a.nonce);
    if (st != APM_OK)
        goto out;
    switch (a.op) {
    case DROT_ANCHOR_OP_ADD: st = anchor_add(core, &a.new_key, &done); break;
    case DROT_ANCHOR_OP_REVOKE:
        st = anchor_revoke(core, env, signer, a.slot);
        done = a.slot;
        break;
    default: done = (uint32_t)signer; break; /* CONFIRM: the confirmation below is the whole op */
    }
    if (st == APM_OK)
        st = confirm_signer(core, signer);
    if (st == APM_OK) {
        *op = a.op;
        *slot = done;
    }
out:
    drot_wipe(&held, sizeof held);
    return st;
}
