/*
 * keystore.c — the DRK slots and their commit protocol (keystore.h, K1–K4).
 *
 * Record content (APM_REC_KEYSTORE, inside the encrypted record, 208 bytes):
 *
 *   off   0  "DKS", version 1
 *         4  slot 0: state (0 EMPTY, 1 KEY), epoch (uint32 BE), d[32], q[65]
 *       106  slot 1: the same
 *
 * An EMPTY slot is all zero. A KEY slot's epoch is ≤ APM_THERMO_MAX and its
 * q is the public key of d (checked at every read). Anything else in an
 * authenticated record is a firmware bug, reported as APM_E_CORRUPT.
 *
 * States, with E the epoch fuse (a slot is written as {epoch}):
 *
 *   ACTIVE        one slot {E}                       (after manufacturing / commit)
 *   STAGED        {E} and {E+1}                      (after stage; fuse not burned)
 *   COMMITTED     {E-1} and {E}: the fuse was raised to the staged epoch
 *                 and the old slot is not yet zeroized
 *   EMPTY         no slot                            (before manufacturing, after zeroize)
 *
 *   ACTIVE --stage--> STAGED --fuse--> COMMITTED --record write--> ACTIVE
 *
 * Boot (apm_ks_load) maps every state to ACTIVE or EMPTY: it keeps the slot
 * whose epoch is E and clears every other (STAGED → ACTIVE with the old key,
 * COMMITTED → ACTIVE with the new key), rewriting the record if it cleared
 * anything. Why every cut is safe: stage is one record write (R2: the record
 * reads as ACTIVE or STAGED, both boot to the old key); the fuse raise from E
 * to E+1 sets one bit, i.e. one one-byte otp_write, which burns whole or not
 * at all (apm_hal.h P2): before it, boot gives the old key; after it, the
 * new; the final record write reads as COMMITTED or ACTIVE, both boot to the
 * new key; boot's own rewrite only drops slots that boot would drop again.
 *
 * Secrets: the record image (struct ks_image) and its serialisation live on
 * the stack and are wiped at each function's one exit.
 */
#include "keystore.h"

#include <string.h>

#include "records.h"

#define KS_SLOTS       2u
#define KS_SLOT_LEN    (1u + 4u + DROT_P256_SCALAR_LEN + DROT_P256_PUB_LEN)
#define KS_LEN         (4u + KS_SLOTS * KS_SLOT_LEN)
#define KS_STATE_EMPTY 0u
#define KS_STATE_KEY   1u

static const uint8_t KS_MAGIC[4] = {'D', 'K', 'S', 1};

typedef struct ks_slot {
    bool key;
    uint32_t epoch;
    drot_p256_priv priv;
    drot_p256_pub pub;
} ks_slot;

typedef struct ks_image {
    ks_slot slot[KS_SLOTS];
} ks_image;

/* APM_OK iff pub is the public key of priv. */
static apm_status check_pair(const drot_p256_priv *priv, const drot_p256_pub *pub)
{
    drot_p256_priv p;
    drot_p256_pub q;
    apm_status st = APM_E_ARG;

    if (drot_p256_key_from_scalar(priv->d, &p, &q) != DROT_OK)
        goto out;
    if (drot_ct_equal(q.q, pub->q, sizeof q.q) != DROT_OK)
        goto out;
    st = APM_OK;
out:
    drot_wipe(&p, sizeof p);
    return st;
}

static apm_status ks_parse(const uint8_t *buf, size_t len, ks_image *img)
{
    if (len != KS_LEN || memcmp(buf, KS_MAGIC, sizeof KS_MAGIC) != 0)
        return APM_E_CORRUPT;
    for (uint32_t i = 0; i < KS_SLOTS; i++) {
        const uint8_t *s = buf + 4u + i * KS_SLOT_LEN;
        ks_slot *slot = &img->slot[i];
        if (s[0] == KS_STATE_EMPTY) {
            uint8_t acc = 0;
            for (uint32_t k = 1; k < KS_SLOT_LEN; k++)
                acc |= s[k];
            if (acc != 0)
                return APM_E_CORRUPT;
            continue;
        }
        if (s[0] != KS_STATE_KEY)
            return APM_E_CORRUPT;
        slot->key = true;
        slot->epoch = ((uint32_t)s[1] << 24) | ((uint32_t)s[2] << 16) | ((uint32_t)s[3] << 8) | s[4];
        memcpy(slot->priv.d, s + 5, DROT_P256_SCALAR_LEN);
        memcpy(slot->pub.q, s + 5 + DROT_P256_SCALAR_LEN, DROT_P256_PUB_LEN);
        if (slot->epoch > APM_THERMO_MAX || check_pair(&slot->priv, &slot->pub) != APM_OK)
            return APM_E_CORRUPT;
    }
    return APM_OK;
}

/* Reads the record into img (all EMPTY if there is no valid copy). */
static apm_status ks_read(apm_core *core, ks_image *img)
{
    uint8_t buf[KS_LEN];
    size_t len = 0;
    apm_status st;

    memset(img, 0, sizeof *img);
    st = apm_rec_read(core, APM_REC_KEYSTORE, buf, sizeof buf, &len, NULL);
    if (st == APM_E_CORRUPT) {
        st = APM_OK; /* R1: never written, erased or damaged: no slot */
        goto out;
    }
    if (st == (apm_status)DROT_E_BUFFER) {
        st = APM_E_CORRUPT;
        goto out;
    }
    if (st != APM_OK)
        goto out;
    st = ks_parse(buf, len, img);
out:
    if (st != APM_OK)
        drot_wipe(img, sizeof *img);
    drot_wipe(buf, sizeof buf);
    return st;
}

static apm_status ks_write(apm_core *core, const ks_image *img)
{
    uint8_t buf[KS_LEN];

    memset(buf, 0, sizeof buf);
    memcpy(buf, KS_MAGIC, sizeof KS_MAGIC);
    for (uint32_t i = 0; i < KS_SLOTS; i++) {
        const ks_slot *slot = &img->slot[i];
        uint8_t *s = buf + 4u + i * KS_SLOT_LEN;
        if (!slot->key)
            continue;
        s[0] = KS_STATE_KEY;
        s[1] = (uint8_t)(slot->epoch >> 24);
        s[2] = (uint8_t)(slot->epoch >> 16);
        s[3] = (uint8_t)(slot->epoch >> 8);
        s[4] = (uint8_t)slot->epoch;
        memcpy(s + 5, slot->priv.d, DROT_P256_SCALAR_LEN);
        memcpy(s + 5 + DROT_P256_SCALAR_LEN, slot->pub.q, DROT_P256_PUB_LEN);
    }
    apm_status st = apm_rec_write(core, APM_REC_KEYSTORE, buf, sizeof buf);
    drot_wipe(buf, sizeof buf);
    return st;
}

/* Keeps only slots of epoch `keep`; *changed if any other was cleared;
 * *found = index of the kept slot or -1. Two slots of one epoch: corrupt. */
static apm_status ks_keep_epoch(ks_image *img, uint32_t keep, bool *changed, int *found)
{
    *changed = false;
    *found = -1;
    for (uint32_t i = 0; i < KS_SLOTS; i++) {
        ks_slot *slot = &img->slot[i];
        if (!slot->key)
            continue;
        if (slot->epoch != keep) {
            drot_wipe(slot, sizeof *slot);
            *changed = true;
            continue;
        }
        if (*found >= 0)
            return APM_E_CORRUPT;
        *found = (int)i;
    }
    return APM_OK;
}

static void set_drk(apm_core *core, const ks_slot *slot)
{
    core->drk.present = true;
    core->drk.epoch = slot->epoch;
    core->drk.priv = slot->priv;
    core->drk.pub = slot->pub;
}

/* see keystore.h */
apm_status apm_ks_load(apm_core *core)
{
    ks_image img;
    bool changed;
    int found;
    apm_status st;

    if (core == NULL || core->hal == NULL)
        return APM_E_ARG;
    drot_wipe(&core->drk, sizeof core->drk);
    memset(&img, 0, sizeof img);
    if (!core->rec_key_ready)
        return APM_OK; /* no uds yet: no record can exist */
    st = ks_read(core, &img);
    if (st != APM_OK)
        goto out;
    st = ks_keep_epoch(&img, core->otp.epoch, &changed, &found);
    if (st != APM_OK)
        goto out;
    if (changed) {
        st = ks_write(core, &img);
        if (st != APM_OK)
            goto out;
    }
    if (found >= 0)
        set_drk(core, &img.slot[found]);
out:
    drot_wipe(&img, sizeof img);
    return st;
}

/* see keystore.h */
apm_status apm_ks_create_initial(apm_core *core)
{
    ks_image img;
    apm_status st;

    memset(&img, 0, sizeof img);
    st = apm_ks_load(core);
    if (st != APM_OK || core->drk.present)
        goto out; /* K4: re-running keeps the existing key */
    if (core->otp.lifecycle != APM_LC_MANUFACTURING || core->otp.epoch != 0) {
        st = APM_E_LIFECYCLE; /* never a fresh key after a zeroize */
        goto out;
    }
    if (!core->rec_key_ready) {
        st = APM_E_NOT_PROVISIONED;
        goto out;
    }
    drot_rng rng = apm_core_rng(core);
    st = (apm_status)drot_p256_keygen(&rng, &img.slot[0].priv, &img.slot[0].pub);
    if (st != APM_OK)
        goto out;
    img.slot[0].key = true;
    img.slot[0].epoch = 0;
    st = ks_write(core, &img);
    if (st != APM_OK)
        goto out;
    set_drk(core, &img.slot[0]);
out:
    drot_wipe(&img, sizeof img);
    return st;
}

/* see keystore.h */
apm_status apm_ks_stage(apm_core *core, uint32_t new_epoch, const drot_p256_priv *priv,
                        const drot_p256_pub *pub)
{
    ks_image img;
    bool changed;
    int active;
    apm_status st;

    if (core == NULL || core->hal == NULL || priv == NULL || pub == NULL)
        return APM_E_ARG;
    if (core->otp.epoch >= APM_THERMO_MAX)
        return APM_E_EXHAUSTED;
    if (new_epoch != core->otp.epoch + 1u)
        return APM_E_ARG;
    st = check_pair(priv, pub);
    if (st != APM_OK)
        return st;
    memset(&img, 0, sizeof img);
    st = ks_read(core, &img);
    if (st != APM_OK)
        goto out;
    /* Drop anything but the active key (an earlier staged key included). */
    st = ks_keep_epoch(&img, core->otp.epoch, &changed, &active);
    if (st != APM_OK)
        goto out;
    ks_slot *pending = &img.slot[active == 0 ? 1 : 0];
    pending->key = true;
    pending->epoch = new_epoch;
    pending->priv = *priv;
    pending->pub = *pub;
    st = ks_write(core, &img);
out:
    drot_wipe(&img, sizeof img);
    return st;
}

/* see keystore.h */
apm_status apm_ks_commit(apm_core *core)
{
    ks_image img;
    bool changed;
    int found;
    apm_status st;

    if (core == NULL || core->hal == NULL)
        return APM_E_ARG;
    uint32_t next = core->otp.epoch + 1u;
    memset(&img, 0, sizeof img);
    st = ks_read(core, &img);
    if (st != APM_OK)
        goto out;
    st = ks_keep_epoch(&img, next, &changed, &found);
    if (st != APM_OK)
        goto out;
    if (found < 0) {
        st = APM_E_NO_KEY;
        goto out;
    }
    /* The commit point: one one-byte fuse write (see the top of this file). */
    st = apm_otp_raise_epoch(core->hal, next);
    if (st != APM_OK)
        goto out;
    st = apm_core_load_otp(core); /* O4 */
    if (st != APM_OK)
        goto out;
    if (core->otp.epoch != next) {
        st = APM_E_OTP; /* a stray fuse bit: the staged key can never match */
        goto out;
    }
    drot_wipe(&core->drk, sizeof core->drk);
    st = ks_write(core, &img); /* zeroize the old slot */
    if (st != APM_OK)
        goto out;
    set_drk(core, &img.slot[found]);
out:
    drot_wipe(&img, sizeof img);
    return st;
}

/* see keystore.h */
apm_status apm_ks_zeroize(apm_core *core)
{
    if (core == NULL || core->hal == NULL)
        return APM_E_ARG;
    drot_wipe(&core->drk, sizeof core->drk);
    return apm_rec_erase(core, APM_REC_KEYSTORE);
}
