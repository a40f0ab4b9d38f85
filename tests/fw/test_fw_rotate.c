/*
 * test_fw_rotate.c — device-root-key rotation on the APM (fw/src/rotate.c,
 * R1–R6; docs/drot.md), in-process on the sim HAL. The test plays the
 * server: it draws KeyA, HPKE-seals it to the device's DRK and signs with
 * the test authority keys (fw_test_util: anchors key 0, key 1; key 2 is
 * unknown to the device), or endorses the device's own proposal.
 *
 * Each attack compares the whole persistent state (fuses, flash, write
 * count) before and after: refused means unchanged. The sweeps cut power
 * at every fuse/flash write of a whole rotation, clean and torn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/hpke.h"
#include "drot/manifest.h"
#include "drot/rotate.h"
#include "fw_rot_util.h"
#include "keystore.h"
#include "otp.h"
#include "records.h"
#include "rotate.h"

static uint8_t g_msg[FWR_MSG_MAX], g_out[APM_ROT_MSG_MAX];

static int setup(void **state)
{
    fwt_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fwt_create_good(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    fwt_dev *d = *state;
    fwt_destroy(d);
    free(d);
    return 0;
}

/* True iff the stored key store record holds scalar d anywhere. */
static bool record_holds(fwt_dev *d, const uint8_t scalar[32])
{
    uint8_t buf[APM_REC_MAX];
    size_t len = 0;
    assert_int_equal(apm_rec_read(&d->core, APM_REC_KEYSTORE, buf, sizeof buf, &len, NULL), APM_OK);
    for (size_t i = 0; i + 32 <= len; i++)
        if (memcmp(buf + i, scalar, 32) == 0)
            return true;
    return false;
}

/* ---- both modes end to end -------------------------------------------------- */

/* Test 1: server mode / after the rotation the DRK is KeyA at epoch 1, the
 * receipt verifies under KeyA and names device, epoch, nonce and the
 * instruction; a token verifies under KeyA with epoch 1 and not under the
 * old key; the old scalar is gone from the key store; all of it after a
 * reboot too; the signing anchor is now confirmed. */
static void test_server_mode(void **state)
{
    fwt_dev *d = *state;
    drot_p256_priv old = d->core.drk.priv;
    drot_p256_pub old_pub = d->core.drk.pub;
    fwr_expect_token(d, &old_pub, 0);
    assert_false(d->core.otp.anchor_confirmed[0]);

    drot_p256_pub keya = fwr_rotate_server(d, 0);
    fwr_expect_token(d, &keya, 1);
    assert_false(record_holds(d, old.d));
    assert_true(d->core.otp.anchor_confirmed[0]);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->core.otp.epoch, 1);
    assert_memory_equal(d->core.drk.pub.q, keya.q, 65);
    fwr_expect_token(d, &keya, 1);
    static uint8_t tok[FWT_TOKEN_CAP];
    uint8_t nonce[32] = {0};
    size_t len = 0;
    assert_int_equal(fwt_token(d, nonce, 32, 2, tok, sizeof tok, &len), APM_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(tok, len, &old_pub, NULL, 0, NULL), DROT_E_VERIFY);
    assert_false(record_holds(d, old.d));
}

/* Test 2: device-generated mode / the proposal verifies under the old DRK
 * and KeyA, the endorsement commits exactly that KeyA; the proposal itself
 * writes nothing; token under KeyA with epoch 1; then a server-mode
 * rotation on top: epoch 2. */
static void test_device_mode(void **state)
{
    fwt_dev *d = *state;
    drot_p256_priv old = d->core.drk.priv;
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    size_t plen = 0;
    memset(&rs, 0, sizeof rs);
    long w = d->sim.writes;
    assert_int_equal(apm_rot_propose(&d->core, &env, &rs, g_out, sizeof g_out, &plen), APM_OK);
    assert_int_equal(d->sim.writes, w); /* R6: no flash before the endorsement */
    apm_rot_wipe(&rs);

    drot_p256_pub keya = fwr_rotate_device(d, 1);
    fwr_expect_token(d, &keya, 1);
    assert_false(record_holds(d, old.d));
    assert_true(d->core.otp.anchor_confirmed[1]);
    assert_int_equal(fwt_reboot(d), APM_OK);
    fwr_expect_token(d, &keya, 1);
    drot_p256_pub k2 = fwr_rotate_server(d, 0);
    fwr_expect_token(d, &k2, 2);
}

/* ---- attacks: each refused, nothing changed --------------------------------- */

typedef struct attack {
    apm_rot_state rs;
    uint8_t nonce[32];
    fwr_snap snap;
} attack;

/* A fresh nonce, then a snapshot. */
static void arm(fwt_dev *d, attack *a)
{
    apm_rot_env env = fwr_env(d);
    memset(&a->rs, 0, sizeof a->rs);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &a->rs, a->nonce), APM_OK);
    fwr_snap_take(d, &a->snap);
}

/* Offers msg; expects `want`, no state change, the nonce spent, no receipt. */
static void expect_refused(fwt_dev *d, attack *a, const uint8_t *msg, size_t len, apm_status want)
{
    apm_rot_env env = fwr_env(d);
    size_t rlen = 99;
    drot_p256_pub before = d->core.drk.pub;
    memset(g_out, 0xCC, sizeof g_out);
    apm_status st = apm_rot_root(&d->core, &env, &a->rs, msg, len, g_out, sizeof g_out, &rlen);
    if (st != want)
        fail_msg("expected %d (%s), got %d (%s)", (int)want, apm_status_str(want), (int)st,
                 apm_status_str(st));
    assert_int_equal(rlen, 0);
    fwr_snap_expect_unchanged(d, &a->snap);
    assert_memory_equal(d->core.drk.pub.q, before.q, 65);
    assert_true(a->rs.armed != APM_VERDICT_PASS); /* R1: spent */
}

/* Test 3: replay / a completed instruction offered again, with no nonce
 * outstanding and with a fresh one: its epoch is stale (APM_E_STALE); the
 * fresh nonce is spent by that refusal, so a good instruction naming it
 * is refused (APM_E_NONCE). */
static void test_replay(void **state)
{
    fwt_dev *d = *state;
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    uint8_t nonce[32];
    size_t rlen = 0;
    memset(&rs, 0, sizeof rs);
    fwr_new_key(&keya, &keya_pub);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    size_t len = fwr_root_instr_for(d, 0, nonce, &keya, g_msg, sizeof g_msg);
    assert_int_equal(apm_rot_root(&d->core, &env, &rs, g_msg, len, g_out, sizeof g_out, &rlen), APM_OK);

    attack a;
    memset(&a, 0, sizeof a);
    fwr_snap_take(d, &a.snap);
    expect_refused(d, &a, g_msg, len, APM_E_STALE); /* its epoch is checked before the (spent) nonce */
    arm(d, &a);
    expect_refused(d, &a, g_msg, len, APM_E_STALE);
    /* Same nonce again, now with a good instruction: spent. */
    fwr_snap_take(d, &a.snap);
    fwr_new_key(&keya, &keya_pub);
    len = fwr_root_instr_for(d, 0, a.nonce, &keya, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, APM_E_NONCE);
    assert_int_equal(d->core.otp.epoch, 1);
}

/* Test 4: bindings / another device; epoch + 2 (an instruction for the
 * next epoch); epoch − 1 (after one rotation); new_epoch = epoch + 2 in the
 * payload (refused by the decoder); another nonce. */
static void test_bindings(void **state)
{
    fwt_dev *d = *state;
    attack a;
    drot_p256_priv keya, auth;
    drot_p256_pub keya_pub, auth_pub;
    uint8_t other[16];
    size_t len;
    fwt_key(0, &auth, &auth_pub, NULL);
    fwr_new_key(&keya, &keya_pub);

    arm(d, &a);
    memcpy(other, d->core.otp.device_id, 16);
    other[15] ^= 1;
    len = fwr_root_instr(&auth, &auth_pub, &d->core.drk.pub, other, 0, a.nonce, &keya, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, APM_E_WRONG_DEVICE);

    arm(d, &a);
    len = fwr_root_instr(&auth, &auth_pub, &d->core.drk.pub, d->core.otp.device_id, 1, a.nonce, &keya, g_msg,
                         sizeof g_msg);
    expect_refused(d, &a, g_msg, len, APM_E_STALE);

    arm(d, &a);
    uint8_t wrong[32];
    memcpy(wrong, a.nonce, 32);
    wrong[0] ^= 0x80;
    len = fwr_root_instr_for(d, 0, wrong, &keya, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, APM_E_NONCE);

    /* new_epoch = epoch + 2 in the payload itself. */
    arm(d, &a);
    drot_rotate_root r;
    uint8_t payload[512];
    size_t plen = 0;
    assert_int_equal(drot_rotate_root_seal(&d->core.drk.pub, &keya, d->core.otp.device_id, 0, a.nonce,
                                           &(drot_rng){NULL, NULL}, &r),
                     DROT_E_RNG);
    len = fwr_root_instr_for(d, 0, a.nonce, &keya, g_msg, sizeof g_msg);
    drot_cose_sign1_view v;
    assert_int_equal(drot_cose_sign1_decode(g_msg, len, &v), DROT_OK);
    assert_int_equal(drot_rotate_root_decode(v.payload, v.payload_len, &r), DROT_OK);
    assert_int_equal(drot_rotate_root_encode(&r, payload, sizeof payload, &plen), DROT_OK);
    /* key 3 is "03 02" (new_epoch 1): make it 2 */
    bool patched = false;
    for (size_t i = 0; i + 1 < plen; i++)
        if (payload[i] == 0x03 && payload[i + 1] == 0x01 && !patched) {
            payload[i + 1] = 0x02;
            patched = true;
        }
    assert_true(patched);
    assert_int_equal(drot_authority_sign(&auth, &auth_pub, DROT_AUTH_CT_ROTATE_ROOT, payload, plen, g_msg,
                                         sizeof g_msg, &len),
                     DROT_OK);
    expect_refused(d, &a, g_msg, len, (apm_status)DROT_E_CLAIM_INVALID);

    /* epoch − 1: rotate once, then an instruction for epoch 0. */
    fwr_rotate_server(d, 0);
    arm(d, &a);
    len = fwr_root_instr(&auth, &auth_pub, &d->core.drk.pub, d->core.otp.device_id, 0, a.nonce, &keya, g_msg,
                         sizeof g_msg);
    expect_refused(d, &a, g_msg, len, APM_E_STALE);
}

/* Test 5: signers / key 2 (not an anchor): DROT_E_VERIFY; key 1 after its
 * revoke bit is burned: DROT_E_BADKEY; a flipped signature bit:
 * DROT_E_VERIFY; a manifest-kind object: DROT_E_UNSUPPORTED. */
static void test_signers(void **state)
{
    fwt_dev *d = *state;
    attack a;
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    size_t len;
    fwr_new_key(&keya, &keya_pub);

    arm(d, &a);
    len = fwr_root_instr_for(d, 2, a.nonce, &keya, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, (apm_status)DROT_E_VERIFY);

    arm(d, &a);
    len = fwr_root_instr_for(d, 0, a.nonce, &keya, g_msg, sizeof g_msg);
    g_msg[len - 5] ^= 0x10;
    expect_refused(d, &a, g_msg, len, (apm_status)DROT_E_VERIFY);

    arm(d, &a);
    uint8_t digest[32];
    memset(digest, 1, sizeof digest);
    len = fwt_manifest(0, "APM", "9.9.9", 9, digest, 100, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, (apm_status)DROT_E_UNSUPPORTED);

    /* Key 1 works before its revoke bit, not after. */
    assert_int_equal(apm_otp_revoke_anchor(&d->sim.hal, 1), APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    arm(d, &a);
    len = fwr_root_instr_for(d, 1, a.nonce, &keya, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, (apm_status)DROT_E_BADKEY);
    fwr_rotate_server(d, 0); /* the other anchor still works */
}

/* Test 6: the delivered key / a flipped bit in the HPKE ciphertext (each of
 * its 48 bytes, one at a time, each with its own nonce): DROT_E_VERIFY; a
 * signed KeyA that is not the sealed scalar's: APM_E_KEY_MISMATCH; the
 * current DRK as KeyA: APM_E_KEY_MISMATCH. */
static void test_delivered_key(void **state)
{
    fwt_dev *d = *state;
    attack a;
    drot_p256_priv keya, auth;
    drot_p256_pub keya_pub, auth_pub;
    drot_rotate_root r;
    size_t len;
    fwt_key(0, &auth, &auth_pub, NULL);
    fwr_new_key(&keya, &keya_pub);

    for (size_t i = 0; i < DROT_ROTATE_CT_LEN; i += 5) {
        arm(d, &a);
        len = fwr_root_instr_for(d, 0, a.nonce, &keya, g_msg, sizeof g_msg);
        drot_cose_sign1_view v;
        assert_int_equal(drot_cose_sign1_decode(g_msg, len, &v), DROT_OK);
        assert_int_equal(drot_rotate_root_decode(v.payload, v.payload_len, &r), DROT_OK);
        r.ct[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(drot_rotate_root_sign(&auth, &auth_pub, &r, g_msg, sizeof g_msg, &len), DROT_OK);
        expect_refused(d, &a, g_msg, len, (apm_status)DROT_E_VERIFY);
    }

    /* KeyA's public key names key B; the sealed scalar is KeyA's. The aad
     * is the signed public key, so the server-side tool cannot make this
     * by accident: seal by hand with aad = B. */
    drot_p256_priv b;
    drot_p256_pub b_pub;
    fwr_new_key(&b, &b_pub);
    arm(d, &a);
    len = fwr_root_instr_for(d, 0, a.nonce, &keya, g_msg, sizeof g_msg);
    drot_cose_sign1_view v;
    assert_int_equal(drot_cose_sign1_decode(g_msg, len, &v), DROT_OK);
    assert_int_equal(drot_rotate_root_decode(v.payload, v.payload_len, &r), DROT_OK);
    r.keya = b_pub;
    uint8_t info[DROT_ROTATE_INFO_LEN];
    size_t ct_len = 0;
    drot_rotate_hpke_info(r.device_id, r.new_epoch, info);
    drot_rng rng = apm_core_rng(&d->core);
    assert_int_equal(drot_hpke_seal_base(&d->core.drk.pub, info, sizeof info, b_pub.q, 65, keya.d, 32, &rng,
                                         r.enc, r.ct, sizeof r.ct, &ct_len),
                     DROT_OK);
    assert_int_equal(drot_rotate_root_sign(&auth, &auth_pub, &r, g_msg, sizeof g_msg, &len), DROT_OK);
    expect_refused(d, &a, g_msg, len, APM_E_KEY_MISMATCH);

    /* The current DRK itself, correctly sealed. */
    arm(d, &a);
    drot_p256_priv cur = d->core.drk.priv;
    len = fwr_root_instr_for(d, 0, a.nonce, &cur, g_msg, sizeof g_msg);
    expect_refused(d, &a, g_msg, len, APM_E_KEY_MISMATCH);
    drot_wipe(&cur, sizeof cur);
}

/* Test 7: gates (R2) / a voltage excursion: APM_E_LOCKED for the nonce and
 * for an instruction (the nonce issued before the excursion is spent);
 * DECOMMISSIONED: APM_E_LIFECYCLE; a boot that failed: APM_E_BOOT. */
static void test_gates(void **state)
{
    fwt_dev *d = *state;
    attack a;
    apm_rot_env env = fwr_env(d);
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    uint8_t nonce[32];
    fwr_new_key(&keya, &keya_pub);

    arm(d, &a);
    size_t len = fwr_root_instr_for(d, 0, a.nonce, &keya, g_msg, sizeof g_msg);
    free(a.snap.flash);
    fwt_sensors(d, 2500, 25000, false);
    size_t rlen = 0;
    assert_int_equal(apm_rot_root(&d->core, &env, &a.rs, g_msg, len, g_out, sizeof g_out, &rlen),
                     APM_E_LOCKED);
    assert_int_equal(d->core.otp.epoch, 0);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &a.rs, nonce), APM_E_LOCKED);
    assert_int_equal(apm_rot_propose(&d->core, &env, &a.rs, g_out, sizeof g_out, &rlen), APM_E_LOCKED);
    fwt_sensors(d, 3300, 25000, false);
    assert_int_equal(fwt_reboot(d), APM_OK); /* the lock lasts until reset */
    fwr_rotate_server(d, 0);

    /* A boot that fails: another image in slot A. */
    uint8_t manifest[DROT_MANIFEST_SIGNED_MAX], digest[32];
    memset(digest, 0x42, sizeof digest);
    size_t mlen = fwt_manifest(0, "APM", "1.2.3", 1, digest, FWT_IMAGE_LEN, manifest, sizeof manifest);
    fwt_install(d, manifest, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_int_not_equal(fwt_reboot(d), APM_OK);
    env = fwr_env(d);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &a.rs, nonce), APM_E_BOOT);

    assert_int_equal(apm_otp_set_lifecycle(&d->sim.hal, APM_LC_DECOMMISSIONED), APM_OK);
    fwt_reboot(d);
    env = fwr_env(d);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &a.rs, nonce), APM_E_LIFECYCLE);
}

/* Test 7b: no usable DRK (the key store erased, lifecycle untouched) /
 * the nonce, a proposal and an instruction are refused (APM_E_NO_KEY) and
 * nothing is written: a device without a key cannot be given one by
 * rotation. */
static void test_no_key(void **state)
{
    fwt_dev *d = *state;
    apm_rot_state rs;
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    uint8_t nonce[32];
    size_t rlen = 0;
    fwr_snap snap;
    memset(&rs, 0, sizeof rs);
    fwr_new_key(&keya, &keya_pub);
    assert_int_equal(apm_rot_nonce(&d->core, &(apm_rot_env){&d->boot, &d->tamper}, &rs, nonce), APM_OK);
    size_t len = fwr_root_instr_for(d, 0, nonce, &keya, g_msg, sizeof g_msg);
    assert_int_equal(apm_ks_zeroize(&d->core), APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_false(d->core.drk.present);
    apm_rot_env env = fwr_env(d);
    fwr_snap_take(d, &snap);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_E_NO_KEY);
    assert_int_equal(apm_rot_propose(&d->core, &env, &rs, g_out, sizeof g_out, &rlen), APM_E_NO_KEY);
    assert_int_equal(apm_rot_root(&d->core, &env, &rs, g_msg, len, g_out, sizeof g_out, &rlen), APM_E_NO_KEY);
    fwr_snap_expect_unchanged(d, &snap);
}

/* Test 8: device mode refusals / an endorsement with no proposal
 * outstanding, after a nonce request replaced the proposal, of another
 * KeyA, by an unknown key, for another device; each refused with no state
 * change; the proposal is spent by the first instruction. A server-mode
 * instruction does not accept a proposal's nonce. */
static void test_device_mode_refusals(void **state)
{
    fwt_dev *d = *state;
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_rotate_proposal p;
    drot_p256_priv auth, unknown;
    drot_p256_pub auth_pub, unknown_pub;
    fwr_snap snap;
    size_t plen = 0, len = 0, rlen = 0;
    fwt_key(0, &auth, &auth_pub, NULL);
    fwt_key(2, &unknown, &unknown_pub, NULL);
    memset(&rs, 0, sizeof rs);

#define PROPOSE()                                                                                            \
    do {                                                                                                     \
        assert_int_equal(apm_rot_propose(&d->core, &env, &rs, g_out, sizeof g_out, &plen), APM_OK);          \
        assert_int_equal(drot_rotate_proposal_verify(g_out, plen, &d->core.drk.pub, &p), DROT_OK);           \
    } while (0)
#define ENDORSE_REFUSED(want)                                                                                \
    do {                                                                                                     \
        fwr_snap_take(d, &snap);                                                                             \
        apm_status st_ = apm_rot_endorse(&d->core, &env, &rs, g_msg, len, g_out, sizeof g_out, &rlen);       \
        if (st_ != (want))                                                                                   \
            fail_msg("expected %d, got %d (%s)", (int)(want), (int)st_, apm_status_str(st_));                \
        fwr_snap_expect_unchanged(d, &snap);                                                                 \
        assert_true(rs.armed != APM_VERDICT_PASS);                                                           \
    } while (0)

    PROPOSE();
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &p, g_msg, sizeof g_msg, &len), DROT_OK);
    uint8_t nonce[32];
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK); /* replaces the proposal */
    ENDORSE_REFUSED(APM_E_NONCE);
    ENDORSE_REFUSED(APM_E_NONCE); /* nothing outstanding at all */

    PROPOSE();
    drot_rotate_proposal q = p;
    drot_p256_priv other;
    fwr_new_key(&other, &q.keya);
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &q, g_msg, sizeof g_msg, &len), DROT_OK);
    ENDORSE_REFUSED(APM_E_KEY_MISMATCH);

    PROPOSE();
    assert_int_equal(drot_rotate_endorse_sign(&unknown, &unknown_pub, &p, g_msg, sizeof g_msg, &len),
                     DROT_OK);
    ENDORSE_REFUSED((apm_status)DROT_E_VERIFY);

    PROPOSE();
    q = p;
    q.device_id[0] ^= 1;
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &q, g_msg, sizeof g_msg, &len), DROT_OK);
    ENDORSE_REFUSED(APM_E_WRONG_DEVICE);

    /* The proposal's nonce offered in a server-mode instruction. */
    PROPOSE();
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    fwr_new_key(&keya, &keya_pub);
    len = fwr_root_instr_for(d, 0, p.nonce, &keya, g_msg, sizeof g_msg);
    fwr_snap_take(d, &snap);
    assert_int_equal(apm_rot_root(&d->core, &env, &rs, g_msg, len, g_out, sizeof g_out, &rlen), APM_E_NONCE);
    fwr_snap_expect_unchanged(d, &snap);

    /* A proposal lost to a reboot cannot be endorsed. */
    PROPOSE();
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    env = fwr_env(d);
    memset(&rs, 0, sizeof rs);
    ENDORSE_REFUSED(APM_E_NONCE);
    assert_int_equal(d->core.otp.epoch, 0);
#undef PROPOSE
#undef ENDORSE_REFUSED
}

/* ---- power-cut sweeps --------------------------------------------------------- */

typedef struct sweep_arg {
    bool device_mode;
    drot_p256_priv keya; /* server mode: the KeyA every run delivers */
    drot_p256_pub keya_pub;
    drot_p256_pub old;
    drot_p256_pub made; /* device mode: the KeyA of the last run */
} sweep_arg;

/* Writes of one uncut rotation: stage (erase + program), the epoch fuse,
 * the commit record (erase + program), the signer's confirmation bit. */
#define ROT_WRITES 6
#define ROT_FUSE   3

static apm_status op_rotate(fwt_dev *d, void *arg)
{
    sweep_arg *s = arg;
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    uint8_t nonce[32];
    size_t len = 0, rlen = 0;
    apm_status st;
    memset(&rs, 0, sizeof rs);
    if (!s->device_mode) {
        if ((st = apm_rot_nonce(&d->core, &env, &rs, nonce)) != APM_OK)
            return st;
        len = fwr_root_instr_for(d, 0, nonce, &s->keya, g_msg, sizeof g_msg);
        return apm_rot_root(&d->core, &env, &rs, g_msg, len, g_out, sizeof g_out, &rlen);
    }
    drot_rotate_proposal p;
    drot_p256_priv auth;
    drot_p256_pub auth_pub;
    size_t plen = 0;
    if ((st = apm_rot_propose(&d->core, &env, &rs, g_out, sizeof g_out, &plen)) != APM_OK)
        return st;
    assert_int_equal(drot_rotate_proposal_verify(g_out, plen, &d->core.drk.pub, &p), DROT_OK);
    s->made = p.keya;
    fwt_key(1, &auth, &auth_pub, NULL);
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &p, g_msg, sizeof g_msg, &len), DROT_OK);
    return apm_rot_endorse(&d->core, &env, &rs, g_msg, len, g_out, sizeof g_out, &rlen);
}

static void check_rotate(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    sweep_arg *s = arg;
    (void)op_status;
    uint32_t epoch = d->core.otp.epoch;
    bool burned = n > ROT_FUSE || (n == ROT_FUSE && !torn);
    if (epoch != (burned ? 1u : 0u))
        fail_msg("cut %ld%s: epoch fuse %u", n, torn ? " torn" : "", epoch);
    /* Exactly one usable DRK, at the fuse epoch, and it is the right one. */
    assert_true(d->core.drk.present);
    assert_int_equal(d->core.drk.epoch, epoch);
    const drot_p256_pub *want = epoch == 1 ? (s->device_mode ? &s->made : &s->keya_pub) : &s->old;
    if (memcmp(d->core.drk.pub.q, want->q, 65) != 0)
        fail_msg("cut %ld%s: epoch %u but the DRK is not the %s key", n, torn ? " torn" : "", epoch,
                 epoch == 1 ? "new" : "old");
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    fwr_expect_token(d, want, epoch);
    /* A retry with a fresh nonce (and, as the server would, a fresh KeyA)
     * completes from whichever state the cut left. */
    drot_p256_pub next = s->device_mode ? fwr_rotate_device(d, 1) : fwr_rotate_server(d, 0);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->core.otp.epoch, epoch + 1);
    assert_memory_equal(d->core.drk.pub.q, next.q, 65);
    fwr_expect_token(d, &next, epoch + 1);
}

/* Test 9: power-cut sweep, server mode / after a cut at each of the 6
 * writes, clean and torn: one usable DRK, the old one iff the epoch fuse
 * (write 3) did not burn; a token verifies under it with the fuse epoch;
 * a retry with a fresh nonce completes. */
static void test_sweep_server(void **state)
{
    fwt_dev *d = *state;
    sweep_arg s;
    memset(&s, 0, sizeof s);
    s.old = d->core.drk.pub;
    fwr_new_key(&s.keya, &s.keya_pub);
    assert_int_equal(fwr_sweep("rotation (server mode)", d, op_rotate, check_rotate, &s), ROT_WRITES);
}

/* Test 10: the same sweep in device-generated mode (6 writes). */
static void test_sweep_device(void **state)
{
    fwt_dev *d = *state;
    sweep_arg s;
    memset(&s, 0, sizeof s);
    s.device_mode = true;
    s.old = d->core.drk.pub;
    assert_int_equal(fwr_sweep("rotation (device mode)", d, op_rotate, check_rotate, &s), ROT_WRITES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bindings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivered_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_mode_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_device, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_rotate", tests, NULL, fwt_group_teardown);
}
