/*
 * test_fw_keystore.c — the DRK slots and their commit protocol
 * (fw/src/keystore.c, K1–K4), manufacturing (fw/src/manufacture.c, M1–M3),
 * and the power-cut sweeps of manufacturing and of a key rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "fw_fixture.h"
#include "keystore.h"
#include "manufacture.h"
#include "records.h"

/* The key store record's content (keystore.c): "DKS" 1, then two slots of
 * 102 bytes: state, epoch BE, d[32], q[65]. */
#define KS_LEN     208u
#define KS_SLOT(i) (4u + 102u * (i))

static int setup(void **state)
{
    fw_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fw_dev_create(d);
    *state = d;
    return 0;
}

static int setup_manufactured(void **state)
{
    setup(state);
    fw_dev *d = *state;
    assert_int_equal(fw_manufacture(d, FW_UDS), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_true(d->core.drk.present);
    return 0;
}

static int teardown(void **state)
{
    fw_dev *d = *state;
    fw_dev_destroy(d);
    free(d);
    return 0;
}

/* Number of KEY slots in the stored record; *epoch = the last one's epoch. */
static int stored_keys(fw_dev *d, uint32_t *epoch)
{
    uint8_t buf[KS_LEN];
    size_t len = 0;
    apm_status st = apm_rec_read(&d->core, APM_REC_KEYSTORE, buf, sizeof buf, &len, NULL);
    if (st == APM_E_CORRUPT)
        return 0;
    assert_int_equal(st, APM_OK);
    assert_int_equal(len, KS_LEN);
    int n = 0;
    for (uint32_t i = 0; i < 2; i++) {
        const uint8_t *s = buf + KS_SLOT(i);
        if (s[0] == 1) {
            n++;
            if (epoch != NULL)
                *epoch = ((uint32_t)s[1] << 24) | ((uint32_t)s[2] << 16) | ((uint32_t)s[3] << 8) | s[4];
        }
    }
    return n;
}

static void new_key(fw_dev *d, drot_p256_priv *priv, drot_p256_pub *pub)
{
    drot_rng rng = apm_core_rng(&d->core);
    assert_int_equal(drot_p256_keygen(&rng, priv, pub), DROT_OK);
}

/* The DRK is a working key pair: its public key is its private key's. */
static void expect_drk_pair(fw_dev *d)
{
    drot_p256_pub q;
    drot_p256_priv p;
    assert_true(d->core.drk.present);
    assert_int_equal(drot_p256_key_from_scalar(d->core.drk.priv.d, &p, &q), DROT_OK);
    assert_memory_equal(q.q, d->core.drk.pub.q, sizeof q.q);
}

/* ---- key store ----------------------------------------------------------- */

/* Test 1: initial DRK / before the uds: APM_E_NOT_PROVISIONED; after it: an
 * epoch-0 key, kept across reboot, and a second create keeps it with no
 * write. */
static void test_ks_create_initial(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_ks_create_initial(&d->core), APM_E_NOT_PROVISIONED);
    assert_int_equal(d->sim.writes, 0);
    assert_int_equal(apm_otp_burn_identity(&d->sim.hal, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_false(d->core.drk.present);
    assert_int_equal(apm_ks_create_initial(&d->core), APM_OK);
    expect_drk_pair(d);
    assert_int_equal(d->core.drk.epoch, 0);
    drot_p256_pub pub = d->core.drk.pub;
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
    long w = d->sim.writes;
    assert_int_equal(apm_ks_create_initial(&d->core), APM_OK);
    assert_int_equal(d->sim.writes, w);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
    assert_int_equal(stored_keys(d, NULL), 1);
}

/* Test 2: rotation / stage keeps the old DRK in use; commit raises the
 * epoch to 1 and makes the new key the DRK, with one stored slot; a reboot
 * agrees. */
static void test_ks_rotate(void **state)
{
    fw_dev *d = *state;
    drot_p256_priv priv;
    drot_p256_pub pub, old = d->core.drk.pub;
    new_key(d, &priv, &pub);
    assert_int_equal(apm_ks_stage(&d->core, 1, &priv, &pub), APM_OK);
    assert_memory_equal(d->core.drk.pub.q, old.q, sizeof old.q);
    assert_int_equal(stored_keys(d, NULL), 2);
    assert_int_equal(apm_ks_commit(&d->core), APM_OK);
    assert_int_equal(d->core.otp.epoch, 1);
    assert_int_equal(d->core.drk.epoch, 1);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
    uint32_t e = 99;
    assert_int_equal(stored_keys(d, &e), 1);
    assert_int_equal(e, 1);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
    expect_drk_pair(d);
}

/* Test 3: bad staging / epoch 0 or 2 (fuse is 0): APM_E_ARG; a public key
 * that is not the private key's: APM_E_ARG; commit with nothing staged:
 * APM_E_NO_KEY; none of them writes. */
static void test_ks_stage_refusals(void **state)
{
    fw_dev *d = *state;
    drot_p256_priv priv, priv2;
    drot_p256_pub pub, pub2;
    new_key(d, &priv, &pub);
    new_key(d, &priv2, &pub2);
    long w = d->sim.writes;
    assert_int_equal(apm_ks_stage(&d->core, 0, &priv, &pub), APM_E_ARG);
    assert_int_equal(apm_ks_stage(&d->core, 2, &priv, &pub), APM_E_ARG);
    assert_int_equal(apm_ks_stage(&d->core, 1, &priv, &pub2), APM_E_ARG);
    assert_int_equal(apm_ks_commit(&d->core), APM_E_NO_KEY);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(d->core.otp.epoch, 0);
}

/* Test 4: boot with a staged key whose fuse never burned / the old DRK, the
 * pending slot discarded from the record; staging again and committing
 * works. */
static void test_ks_boot_discards_pending(void **state)
{
    fw_dev *d = *state;
    drot_p256_priv priv;
    drot_p256_pub pub, old = d->core.drk.pub;
    new_key(d, &priv, &pub);
    assert_int_equal(apm_ks_stage(&d->core, 1, &priv, &pub), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_memory_equal(d->core.drk.pub.q, old.q, sizeof old.q);
    uint32_t e = 99;
    assert_int_equal(stored_keys(d, &e), 1);
    assert_int_equal(e, 0);
    assert_int_equal(apm_ks_commit(&d->core), APM_E_NO_KEY);
    assert_int_equal(apm_ks_stage(&d->core, 1, &priv, &pub), APM_OK);
    assert_int_equal(apm_ks_commit(&d->core), APM_OK);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
}

/* Test 5: boot after the fuse burned but before the old slot was cleared /
 * the new DRK, the old slot zeroized in the record. */
static void test_ks_boot_zeroizes_old(void **state)
{
    fw_dev *d = *state;
    drot_p256_priv priv;
    drot_p256_pub pub;
    new_key(d, &priv, &pub);
    assert_int_equal(apm_ks_stage(&d->core, 1, &priv, &pub), APM_OK);
    assert_int_equal(apm_otp_raise_epoch(&d->sim.hal, 1), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
    uint32_t e = 99;
    assert_int_equal(stored_keys(d, &e), 1);
    assert_int_equal(e, 1);
}

/* Test 6: zeroize / no DRK, record erased, still none after reboot, and
 * create_initial refuses a fresh key outside MANUFACTURING. */
static void test_ks_zeroize(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_ks_zeroize(&d->core), APM_OK);
    assert_false(d->core.drk.present);
    assert_int_equal(stored_keys(d, NULL), 0);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_false(d->core.drk.present);
    assert_int_equal(apm_ks_create_initial(&d->core), APM_E_LIFECYCLE);
    assert_false(d->core.drk.present);
}

/* Test 7: the fuse epoch two above the slots (a stray bit) / no DRK at
 * boot, every slot zeroized; commit refuses (nothing staged at epoch+1). */
static void test_ks_no_matching_slot(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_otp_raise_epoch(&d->sim.hal, 2), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_false(d->core.drk.present);
    assert_int_equal(stored_keys(d, NULL), 0);
}

/* ---- manufacturing ------------------------------------------------------- */

/* Test 8: manufacturing / fuses, anchors, DRK and lifecycle PROVISIONED;
 * re-running with the same inputs writes nothing and keeps the DRK; other
 * inputs (another uds, another anchor, no anchors, 5 anchors) are refused
 * before any write; after DEPLOYED it is APM_E_LIFECYCLE. */
static void test_manufacture(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_manufacture_storage(&d->core, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY, FW_ANCHORS, 0),
                     APM_E_ARG);
    assert_int_equal(apm_manufacture_storage(&d->core, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY, FW_ANCHORS, 5),
                     APM_E_ARG);
    assert_int_equal(d->sim.writes, 0);
    assert_int_equal(fw_manufacture(d, FW_UDS), APM_OK);
    assert_int_equal(d->sim.writes, 8); /* 3 identity + 2 anchors + 2 record + 1 lifecycle */
    const apm_otp *o = &d->core.otp;
    assert_int_equal(o->lifecycle, APM_LC_PROVISIONED);
    assert_memory_equal(o->device_id, FW_DEVICE_ID, 16);
    assert_memory_equal(o->link_key, FW_LINK_KEY, 32);
    assert_memory_equal(o->anchor[0], FW_ANCHORS[0], 32);
    assert_memory_equal(o->anchor[1], FW_ANCHORS[1], 32);
    assert_false(o->anchor_present[2]);
    expect_drk_pair(d);
    drot_p256_pub pub = d->core.drk.pub;

    assert_int_equal(fw_dev_reboot(d), APM_OK);
    long w = d->sim.writes;
    assert_int_equal(fw_manufacture(d, FW_UDS), APM_OK);
    assert_int_equal(d->sim.writes, w);
    assert_memory_equal(d->core.drk.pub.q, pub.q, sizeof pub.q);
    assert_int_equal(fw_manufacture(d, FW_UDS2), APM_E_OTP);
    uint8_t anchors[2][32];
    memcpy(anchors[0], FW_ANCHORS[0], 32);
    memcpy(anchors[1], FW_ANCHORS[0], 32);
    assert_int_equal(apm_manufacture_storage(&d->core, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY,
                                             (const uint8_t(*)[32])anchors, 2),
                     APM_E_OTP);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(apm_otp_set_lifecycle(&d->sim.hal, APM_LC_DEPLOYED), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_int_equal(fw_manufacture(d, FW_UDS), APM_E_LIFECYCLE);
}

/* ---- power-cut sweeps ---------------------------------------------------- */

/* Write numbers of an uncut manufacturing run with 2 anchors. */
#define MF_WRITES         8
#define MF_RECORD_PROGRAM 7 /* the key store record's program */

static apm_status op_manufacture(fw_dev *d, void *arg)
{
    (void)arg;
    return fw_manufacture(d, FW_UDS);
}

static void check_manufacture(fw_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)arg;
    (void)op_status;
    apm_lifecycle lc = d->core.otp.lifecycle;
    bool key_written = n > MF_RECORD_PROGRAM || (n == MF_RECORD_PROGRAM && !torn);
    /* PROVISIONED only once everything is done, i.e. after the last write. */
    assert_int_equal(lc, (n == MF_WRITES && !torn) ? APM_LC_PROVISIONED : APM_LC_MANUFACTURING);
    /* A DRK exists iff its record was written in full; then it is usable. */
    assert_int_equal(d->core.drk.present, key_written);
    apm_drk before = d->core.drk;
    if (before.present)
        expect_drk_pair(d);

    /* Resumable: running it again completes it, keeping a written DRK. */
    assert_int_equal(fw_manufacture(d, FW_UDS), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    const apm_otp *o = &d->core.otp;
    if (o->lifecycle != APM_LC_PROVISIONED)
        fail_msg("cut %ld%s: not provisioned after resuming", n, torn ? " torn" : "");
    assert_memory_equal(o->device_id, FW_DEVICE_ID, 16);
    assert_memory_equal(o->link_key, FW_LINK_KEY, 32);
    assert_memory_equal(o->anchor[0], FW_ANCHORS[0], 32);
    assert_memory_equal(o->anchor[1], FW_ANCHORS[1], 32);
    uint8_t uds[32];
    assert_int_equal(apm_otp_read_uds(&d->sim.hal, uds), APM_OK);
    assert_memory_equal(uds, FW_UDS, 32);
    expect_drk_pair(d);
    assert_int_equal(d->core.drk.epoch, 0);
    if (before.present)
        assert_memory_equal(d->core.drk.pub.q, before.pub.q, sizeof before.pub.q);
    uint32_t e = 99;
    assert_int_equal(stored_keys(d, &e), 1);
    assert_int_equal(e, 0);
}

/* Test 9: power-cut sweep of manufacturing / after a cut at each of its 8
 * writes, clean and torn: PROVISIONED only after the last write; a DRK iff
 * its record was completely written; re-running completes it with the same
 * identity, anchors and (if written) DRK. */
static void test_sweep_manufacture(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(fw_sweep("manufacturing", d, op_manufacture, check_manufacture, NULL), MF_WRITES);
}

typedef struct rot_arg {
    drot_p256_priv priv;
    drot_p256_pub pub, old;
} rot_arg;

#define ROT_WRITES 5 /* stage: erase + program; commit: fuse, erase + program */
#define ROT_FUSE   3

static apm_status op_rotate(fw_dev *d, void *arg)
{
    rot_arg *r = arg;
    apm_status st = apm_ks_stage(&d->core, d->core.otp.epoch + 1, &r->priv, &r->pub);
    if (st == APM_OK)
        st = apm_ks_commit(&d->core);
    return st;
}

static void check_rotate(fw_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    rot_arg *r = arg;
    (void)op_status;
    uint32_t epoch = d->core.otp.epoch;
    bool burned = n > ROT_FUSE || (n == ROT_FUSE && !torn);
    assert_int_equal(epoch, burned ? 1 : 0);
    /* Exactly one usable DRK: the old one before the fuse, the new after. */
    expect_drk_pair(d);
    assert_int_equal(d->core.drk.epoch, epoch);
    const drot_p256_pub *want = epoch == 1 ? &r->pub : &r->old;
    if (!fw_mem_eq(d->core.drk.pub.q, want->q, sizeof want->q))
        fail_msg("cut %ld%s: epoch %u but the DRK is the %s key", n, torn ? " torn" : "", epoch,
                 epoch == 1 ? "old" : "new");
    uint32_t e = 99;
    assert_int_equal(stored_keys(d, &e), 1);
    assert_int_equal(e, epoch);
    /* Boot is stable: a second boot writes nothing and agrees. */
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_int_equal(d->sim.writes, 0);
    assert_memory_equal(d->core.drk.pub.q, want->q, sizeof want->q);
    /* Resumed rotation: before the fuse, staging again and committing works. */
    if (epoch == 0) {
        assert_int_equal(op_rotate(d, r), APM_OK);
        assert_int_equal(fw_dev_reboot(d), APM_OK);
        assert_int_equal(d->core.otp.epoch, 1);
        assert_memory_equal(d->core.drk.pub.q, r->pub.q, sizeof r->pub.q);
    }
}

/* Test 10: power-cut sweep of a rotation (stage + commit, epoch 0 → 1) /
 * after a cut at each of its 5 writes, clean and torn: exactly one DRK, the
 * old one iff the epoch fuse did not burn, one stored slot at the fuse
 * epoch, a stable second boot, and (before the fuse) a resumed rotation
 * ends on the new key. */
static void test_sweep_rotation(void **state)
{
    fw_dev *d = *state;
    rot_arg r;
    r.old = d->core.drk.pub;
    new_key(d, &r.priv, &r.pub);
    assert_int_equal(fw_sweep("rotation", d, op_rotate, check_rotate, &r), ROT_WRITES);
}

/* Test 11: resumed rotation after a torn fuse write / epoch still 0, old
 * DRK; staging a different key again and committing makes that key the DRK
 * at epoch 1. */
static void test_ks_resume_after_torn_fuse(void **state)
{
    fw_dev *d = *state;
    rot_arg r;
    r.old = d->core.drk.pub;
    new_key(d, &r.priv, &r.pub);
    apm_sim_cut_after(&d->sim, ROT_FUSE, true);
    assert_int_equal(op_rotate(d, &r), APM_E_POWER);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_int_equal(d->core.otp.epoch, 0);
    assert_memory_equal(d->core.drk.pub.q, r.old.q, sizeof r.old.q);
    new_key(d, &r.priv, &r.pub);
    assert_int_equal(op_rotate(d, &r), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_int_equal(d->core.otp.epoch, 1);
    assert_memory_equal(d->core.drk.pub.q, r.pub.q, sizeof r.pub.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ks_create_initial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ks_rotate, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_ks_stage_refusals, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_ks_boot_discards_pending, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_ks_boot_zeroizes_old, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_ks_zeroize, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_ks_no_matching_slot, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_manufacture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_manufacture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_rotation, setup_manufactured, teardown),
        cmocka_unit_test_setup_teardown(test_ks_resume_after_torn_fuse, setup_manufactured, teardown),
    };
    return cmocka_run_group_tests_name("fw_keystore", tests, NULL, NULL);
}
