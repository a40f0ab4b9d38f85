/*
 * test_fw_anchor.c — trust-anchor rotation on the APM (fw/src/rotate.c R4,
 * R5; docs/drot.md), in-process on the sim HAL. Devices from fw_test_util:
 * anchors key 0 (slot 0, it signed the APM image) and key 1 (slot 1); the
 * new authority key is key 2; fw_rot_util's extra keys fill the remaining
 * slots or play strangers.
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

#include "drot/manifest.h"
#include "drot/rotate.h"
#include "fw_rot_util.h"
#include "otp.h"
#include "rotate.h"

#define EXTRA(k) (10 + (k)) /* key numbers of fwr_extra_key */

static uint8_t g_msg[FWR_MSG_MAX], g_consent[FWR_MSG_MAX];

static void key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32])
{
    if (k >= EXTRA(0))
        fwr_extra_key(k - EXTRA(0), priv, pub, hash);
    else
        fwt_key(k, priv, pub, hash);
}

static int setup(void **state)
{
    fwt_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fwt_create_good(d);
    *state = d;
    return 0;
}

/* A device whose only anchor is key 0. */
static int setup_one_anchor(void **state)
{
    static const int keys[] = {0};
    uint8_t digest[32], manifest[DROT_MANIFEST_SIGNED_MAX];
    fwt_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fwt_create(d, keys, 1);
    fwt_image_digest(digest);
    size_t mlen = fwt_manifest(0, "APM", "1.2.3", 1, digest, FWT_IMAGE_LEN, manifest, sizeof manifest);
    fwt_boot(d);
    fwt_install(d, manifest, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(d), APM_OK);
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

/* What an instruction says, and how it is signed. */
typedef struct instr {
    int signer;
    uint32_t op;
    uint32_t slot;   /* REVOKE */
    int new_key;     /* ADD */
    int consent_key; /* ADD: who signs the consent (normally new_key) */
    bool other_device;
} instr;

static size_t build(fwt_dev *d, const instr *in, const uint8_t nonce[32], uint8_t *out, size_t cap)
{
    drot_anchor_instr a;
    drot_p256_priv sp, cp;
    drot_p256_pub spub, cpub;
    size_t len = 0, clen = 0;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, d->core.otp.device_id, 16);
    if (in->other_device)
        a.device_id[3] ^= 0x40;
    memcpy(a.nonce, nonce, 32);
    a.op = in->op;
    a.slot = in->slot;
    if (in->op == DROT_ANCHOR_OP_ADD) {
        key(in->new_key, NULL, &a.new_key, NULL);
        key(in->consent_key, &cp, &cpub, NULL);
        assert_int_equal(
            drot_anchor_consent_sign(&cp, &cpub, a.device_id, nonce, g_consent, sizeof g_consent, &clen),
            DROT_OK);
        a.consent = g_consent;
        a.consent_len = clen;
    }
    key(in->signer, &sp, &spub, NULL);
    assert_int_equal(drot_anchor_instr_sign(&sp, &spub, &a, out, cap, &len), DROT_OK);
    return len;
}

/* Nonce, instruction, apm_rot_anchor. */
static apm_status run(fwt_dev *d, const instr *in, uint32_t *op, uint32_t *slot)
{
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    uint8_t nonce[32];
    uint32_t o = 0, s = 0;
    apm_status st;
    memset(&rs, 0, sizeof rs);
    if ((st = apm_rot_nonce(&d->core, &env, &rs, nonce)) != APM_OK)
        return st;
    size_t len = build(d, in, nonce, g_msg, sizeof g_msg);
    st = apm_rot_anchor(&d->core, &env, &rs, g_msg, len, &o, &s);
    assert_true(rs.armed != APM_VERDICT_PASS); /* R1 */
    if (op != NULL)
        *op = o;
    if (slot != NULL)
        *slot = s;
    return st;
}

/* run(), expecting `want` and no persistent change at all. */
static void refused(fwt_dev *d, const instr *in, apm_status want)
{
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    uint8_t nonce[32];
    uint32_t o = 7, s = 7;
    fwr_snap snap;
    memset(&rs, 0, sizeof rs);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    size_t len = build(d, in, nonce, g_msg, sizeof g_msg);
    fwr_snap_take(d, &snap);
    apm_status st = apm_rot_anchor(&d->core, &env, &rs, g_msg, len, &o, &s);
    if (st != want)
        fail_msg("expected %d (%s), got %d (%s)", (int)want, apm_status_str(want), (int)st,
                 apm_status_str(st));
    fwr_snap_expect_unchanged(d, &snap);
    assert_int_equal(o, 7);
    assert_int_equal(s, 7);
}

static void expect_slot_holds(fwt_dev *d, uint32_t slot, int k)
{
    uint8_t hash[32];
    key(k, NULL, NULL, hash);
    assert_true(d->core.otp.anchor_present[slot]);
    assert_memory_equal(d->core.otp.anchor[slot], hash, 32);
}

static const instr ADD2 = {0, DROT_ANCHOR_OP_ADD, 0, 2, 2, false};
static const instr CONFIRM2 = {2, DROT_ANCHOR_OP_CONFIRM, 0, 0, 0, false};
static const instr REVOKE1_BY2 = {2, DROT_ANCHOR_OP_REVOKE, 1, 0, 0, false};

/* Test 1: a whole anchor rotation / ADD key 2 (signed by key 0, cross-
 * signed by key 2) lands in slot 2; revoking slot 1 by key 2 is refused
 * until key 2 is proven; CONFIRM by key 2 burns its bit, which survives a
 * reboot; then the revoke passes; key 1 is refused afterwards (revoked),
 * key 2 signs a root rotation; key 1 can never be added back. */
static void test_anchor_rotation(void **state)
{
    fwt_dev *d = *state;
    uint32_t op = 0, slot = 0;
    assert_int_equal(run(d, &ADD2, &op, &slot), APM_OK);
    assert_int_equal(op, DROT_ANCHOR_OP_ADD);
    assert_int_equal(slot, 2);
    expect_slot_holds(d, 2, 2);
    assert_false(d->core.otp.anchor_confirmed[2]);

    refused(d, &REVOKE1_BY2, APM_E_DENIED); /* key 2 not proven yet */

    assert_int_equal(run(d, &CONFIRM2, &op, &slot), APM_OK);
    assert_int_equal(op, DROT_ANCHOR_OP_CONFIRM);
    assert_int_equal(slot, 2);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_true(d->core.otp.anchor_confirmed[2]);

    assert_int_equal(run(d, &REVOKE1_BY2, &op, &slot), APM_OK);
    assert_int_equal(op, DROT_ANCHOR_OP_REVOKE);
    assert_int_equal(slot, 1);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_true(d->core.otp.anchor_revoked[1]);
    assert_false(d->core.otp.anchor_revoked[0]);
    assert_false(d->core.otp.anchor_revoked[2]);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);

    /* Key 1 is useless now; key 2 works. */
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    uint8_t nonce[32], out[APM_ROT_MSG_MAX];
    size_t rlen = 0;
    memset(&rs, 0, sizeof rs);
    fwr_new_key(&keya, &keya_pub);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    size_t len = fwr_root_instr_for(d, 1, nonce, &keya, g_msg, sizeof g_msg);
    assert_int_equal(apm_rot_root(&d->core, &env, &rs, g_msg, len, out, sizeof out, &rlen),
                     (apm_status)DROT_E_BADKEY);
    fwr_rotate_server(d, 2);
    instr readd = {2, DROT_ANCHOR_OP_ADD, 0, 1, 1, false};
    refused(d, &readd, APM_E_ANCHOR);
    instr by_revoked = {1, DROT_ANCHOR_OP_CONFIRM, 0, 0, 0, false};
    refused(d, &by_revoked, (apm_status)DROT_E_BADKEY);
}

/* Test 2: the cross-signature / an ADD whose consent is signed by the
 * signing anchor, or by a stranger: DROT_E_VERIFY; an ADD signed by an
 * unknown key with a good consent: DROT_E_VERIFY; for another device:
 * APM_E_WRONG_DEVICE; each changes nothing. */
static void test_add_needs_both_signatures(void **state)
{
    fwt_dev *d = *state;
    instr no_xsign = {0, DROT_ANCHOR_OP_ADD, 0, 2, 0, false};
    refused(d, &no_xsign, (apm_status)DROT_E_VERIFY);
    instr stranger = {0, DROT_ANCHOR_OP_ADD, 0, 2, EXTRA(0), false};
    refused(d, &stranger, (apm_status)DROT_E_VERIFY);
    instr self_added = {2, DROT_ANCHOR_OP_ADD, 0, 2, 2, false};
    refused(d, &self_added, (apm_status)DROT_E_VERIFY);
    instr other = ADD2;
    other.other_device = true;
    refused(d, &other, APM_E_WRONG_DEVICE);
    assert_false(d->core.otp.anchor_present[2]);
}

/* Test 3: capacity / slots 2 and 3 filled, a fifth key: APM_E_EXHAUSTED
 * before any write; adding a key already present is a no-op on its slot. */
static void test_no_blank_slot(void **state)
{
    fwt_dev *d = *state;
    uint32_t slot = 9;
    assert_int_equal(run(d, &ADD2, NULL, &slot), APM_OK);
    assert_int_equal(slot, 2);
    instr add_x0 = {0, DROT_ANCHOR_OP_ADD, 0, EXTRA(0), EXTRA(0), false};
    assert_int_equal(run(d, &add_x0, NULL, &slot), APM_OK);
    assert_int_equal(slot, 3);
    instr add_x1 = {0, DROT_ANCHOR_OP_ADD, 0, EXTRA(1), EXTRA(1), false};
    refused(d, &add_x1, APM_E_EXHAUSTED);
    long w = d->sim.writes;
    assert_int_equal(run(d, &ADD2, NULL, &slot), APM_OK);
    assert_int_equal(slot, 2);
    assert_int_equal(d->sim.writes, w); /* slot 0's confirmation was burned by the first ADD */
}

/* Test 4: revocation rules (R5) / the slot that verified the running APM
 * image, the signer's own slot, a blank slot: APM_E_DENIED; the refused
 * instruction's signer is not proven by it. */
static void test_revoke_rules(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(run(d, &ADD2, NULL, NULL), APM_OK);
    assert_int_equal(run(d, &CONFIRM2, NULL, NULL), APM_OK);
    instr image_signer = {2, DROT_ANCHOR_OP_REVOKE, 0, 0, 0, false};
    refused(d, &image_signer, APM_E_DENIED);
    instr self = {2, DROT_ANCHOR_OP_REVOKE, 2, 0, 0, false};
    refused(d, &self, APM_E_DENIED);
    instr blank = {2, DROT_ANCHOR_OP_REVOKE, 3, 0, 0, false};
    refused(d, &blank, APM_E_DENIED);
    /* Key 1 is not proven: it has signed nothing this device carried out
     * (and the APM image is key 0's). */
    instr by1 = {1, DROT_ANCHOR_OP_REVOKE, 2, 0, 0, false};
    refused(d, &by1, APM_E_DENIED);
    assert_false(d->core.otp.anchor_confirmed[1]);
    /* Key 0 (it verified the image at this boot) may revoke slot 1. */
    instr by0 = {0, DROT_ANCHOR_OP_REVOKE, 1, 0, 0, false};
    assert_int_equal(run(d, &by0, NULL, NULL), APM_OK);
    assert_true(d->core.otp.anchor_revoked[1]);
    /* Revoking it again is a no-op (a retry after power loss). */
    long w = d->sim.writes;
    assert_int_equal(run(d, &by0, NULL, NULL), APM_OK);
    assert_int_equal(d->sim.writes, w);
}

/* Test 5: the last anchor / a device with one anchor cannot revoke it
 * (it signs the instruction, the image, and is the last usable one). */
static void test_last_anchor(void **state)
{
    fwt_dev *d = *state;
    instr last = {0, DROT_ANCHOR_OP_REVOKE, 0, 0, 0, false};
    refused(d, &last, APM_E_DENIED);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
}

/* Test 6: nonce and gates / an anchor instruction with no nonce
 * outstanding, or a wrong one: APM_E_NONCE; under a voltage lock:
 * APM_E_LOCKED; nothing changed. */
static void test_anchor_nonce_and_gates(void **state)
{
    fwt_dev *d = *state;
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    uint8_t nonce[32];
    uint32_t op, slot;
    fwr_snap snap;
    memset(&rs, 0, sizeof rs);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    size_t len = build(d, &ADD2, nonce, g_msg, sizeof g_msg);
    apm_rot_wipe(&rs);
    fwr_snap_take(d, &snap);
    assert_int_equal(apm_rot_anchor(&d->core, &env, &rs, g_msg, len, &op, &slot), APM_E_NONCE);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    assert_int_equal(apm_rot_anchor(&d->core, &env, &rs, g_msg, len, &op, &slot), APM_E_NONCE);
    fwr_snap_expect_unchanged(d, &snap);

    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    len = build(d, &ADD2, nonce, g_msg, sizeof g_msg);
    fwt_sensors(d, 3300, 120000, false);
    assert_int_equal(apm_rot_anchor(&d->core, &env, &rs, g_msg, len, &op, &slot), APM_E_LOCKED);
    assert_false(d->core.otp.anchor_present[2]);
}

/* ---- power-cut sweep ---------------------------------------------------------- */

/* ADD key 2 (slot 2, plus slot 0's confirmation), CONFIRM key 2, REVOKE
 * slot 1 by key 2: 4 one-write steps. */
#define ANCHOR_WRITES 4

static apm_status op_anchor_rotation(fwt_dev *d, void *arg)
{
    (void)arg;
    apm_status st = run(d, &ADD2, NULL, NULL);
    if (st == APM_OK)
        st = run(d, &CONFIRM2, NULL, NULL);
    if (st == APM_OK)
        st = run(d, &REVOKE1_BY2, NULL, NULL);
    return st;
}

static void check_anchor_rotation(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)op_status;
    (void)arg;
    const apm_otp *o = &d->core.otp;
    uint8_t h2[32];
    key(2, NULL, NULL, h2);
    /* Slot 2: blank, a torn prefix of key 2's hash, or the whole hash. */
    size_t k = 0;
    while (k < 32 && o->anchor[2][k] == h2[k])
        k++;
    for (size_t i = k; i < 32; i++)
        if (o->anchor[2][i] != 0)
            fail_msg("cut %ld%s: slot 2 holds something other than key 2's hash", n, torn ? " torn" : "");
    /* Slot 1 is revoked only once key 2 is whole and proven; slot 0 never. */
    if (o->anchor_revoked[1] && (k != 32 || !o->anchor_confirmed[2]))
        fail_msg("cut %ld%s: slot 1 revoked before key 2 was proven", n, torn ? " torn" : "");
    assert_false(o->anchor_revoked[0]);
    assert_false(o->anchor_revoked[2]);
    /* The device is as usable as before. */
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    assert_true(d->core.drk.present);
    fwr_expect_token(d, &d->core.drk.pub, o->epoch);
    /* Running the whole sequence again (fresh nonces) completes it. */
    assert_int_equal(op_anchor_rotation(d, NULL), APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_slot_holds(d, 2, 2);
    assert_true(d->core.otp.anchor_confirmed[2]);
    assert_true(d->core.otp.anchor_revoked[1]);
    fwr_rotate_server(d, 2);
}

/* Test 7: power-cut sweep of a whole anchor rotation / after a cut at each
 * of its 4 fuse writes, clean and torn (a torn anchor burn leaves half the
 * hash): boot still passes with the same DRK; slot 2 holds nothing, a
 * prefix or key 2; slot 1 revoked only after key 2 is whole and confirmed;
 * re-running the sequence completes it and key 2 then signs a rotation. */
static void test_sweep_anchor(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(fwr_sweep("anchor rotation", d, op_anchor_rotation, check_anchor_rotation, NULL),
                     ANCHOR_WRITES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_anchor_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_needs_both_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_blank_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_anchor, setup_one_anchor, teardown),
        cmocka_unit_test_setup_teardown(test_anchor_nonce_and_gates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_anchor, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_anchor", tests, NULL, fwt_group_teardown);
}
