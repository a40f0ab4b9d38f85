/*
 * test_fw_install.c — firmware install on the APM (fw/src/fwinstall.c,
 * fw/src/fwstate.c; F1–F7, S1–S4; docs/firmware.md), in-process on the sim
 * HAL. The test plays the host and the authority: it signs manifests with
 * the test keys (anchors key 0, key 1; key 2 is unknown to the device),
 * streams images through FW_BEGIN / FW_CHUNK / FW_FINISH, reboots the
 * device where a reset would, and confirms.
 *
 * Every refusal before the first write compares the whole persistent state
 * (fuses, flash, write count) before and after. The power-cut sweeps are
 * test_fw_install_sweep.c.
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
#include "fw_inst_util.h"
#include "layout.h"
#include "otp.h"
#include "records.h"

#define SECTOR APM_FLASH_SECTOR_SIZE

static uint8_t g_m[1024];

static int setup(void **state)
{
    fwt_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fwt_create_good(d); /* slot A: "1.2.3", svn 1, key 0; svn fuses 0 */
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

static const uint8_t *img_b(void)
{
    return fwi_image(1, FWI_B_LEN);
}

/* Asserts the device runs slot A's original image with a PASS verdict. */
static void expect_old_image(fwt_dev *d)
{
    uint8_t digest[32];
    fwt_image_digest(digest);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    assert_int_equal(d->fw.running, APM_FW_SLOT_A);
    assert_int_equal(d->fw.rec.active, APM_FW_SLOT_A);
    assert_string_equal(d->boot.version, "1.2.3");
    assert_memory_equal(d->meas.m[0].digest, digest, 32);
}

/* ---- whole updates ---------------------------------------------------------- */

/* Test 1: full update A → B, then B → A / each: staged PENDING (FW_STATUS
 * shows slot B verifying with its version), activate writes nothing, the
 * test boot runs the new slot (TRYING), confirm makes it active and raises
 * svn[APM] to exactly its SVN; after a reboot it still runs; a token is
 * signed on the new image. Then a third image goes back into slot A. */
static void test_full_update_a_to_b_and_back(void **state)
{
    fwt_dev *d = *state;
    drot_link_fw_status st;
    uint8_t digest[32];

    fwi_update_apm(d, img_b(), FWI_B_LEN, "2.0.0", 2);
    fwi_status(d, &st);
    assert_int_equal(st.running, APM_FW_SLOT_B);
    assert_int_equal(st.active, APM_FW_SLOT_B);
    assert_int_equal(st.trial, DROT_LINK_FW_TRIAL_NONE);
    assert_int_equal(st.last, DROT_LINK_FW_LAST_CONFIRMED);
    assert_int_equal(st.slots[1].status, 0);
    assert_int_equal(st.slots[1].svn, 2);
    assert_memory_equal(st.slots[1].version, "2.0.0", 5);
    /* Slot A (svn 1) is now below the fuse: boot would refuse it. */
    assert_int_equal(st.slots[0].status, APM_E_ROLLBACK);
    assert_int_equal(st.svns[0].svn, 2);
    fwi_digest(img_b(), FWI_B_LEN, digest);
    assert_memory_equal(st.slots[1].digest, digest, 32);
    fwr_expect_token(d, &d->core.drk.pub, 0);

    const uint8_t *c = fwi_image(2, FWI_C_LEN);
    fwi_update_apm(d, c, FWI_C_LEN, "3.0.0", 3);
    assert_int_equal(d->fw.running, APM_FW_SLOT_A);
    assert_int_equal(d->core.otp.svn[APM_SVN_APM], 3);
    fwi_digest(c, FWI_C_LEN, digest);
    assert_memory_equal(d->boot.digest, digest, 32);
    fwr_expect_token(d, &d->core.drk.pub, 0);
}

/* Test 2: a staged image that no longer verifies at its test boot (a
 * sector of it erased after staging) / that boot records TRYING, finds the
 * trial refused, records REFUSED and boots the old slot at once; the fuse
 * is unchanged and FW_STATUS names the refusal. */
static void test_failed_test_boot_reverts(void **state)
{
    fwt_dev *d = *state;
    drot_link_fw_status st;
    uint32_t mlen = (uint32_t)fwi_manifest(0, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, mlen, img_b(), FWI_B_LEN, 0, NULL),
                     APM_OK);
    assert_int_equal(d->sim.hal.flash_erase(d->sim.hal.ctx, APM_FW_SLOT_B_IMAGE + 1), APM_HAL_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_NONE);
    assert_int_equal(d->fw.rec.last, APM_FW_LAST_REFUSED);
    assert_int_equal(d->core.otp.svn[APM_SVN_APM], 0);
    fwi_status(d, &st);
    assert_int_equal(st.slots[1].status, APM_E_IMAGE);
    assert_int_equal(st.last, DROT_LINK_FW_LAST_REFUSED);
    /* And the next boot stays on A without writing anything. */
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);
}

/* Test 3: a reset during the trial, before any confirm / the old slot
 * boots (RESET), the fuse never moved, and a confirm now is refused
 * (APM_E_FW_STATE) without a write. */
static void test_reset_during_trial_reverts(void **state)
{
    fwt_dev *d = *state;
    uint32_t mlen = (uint32_t)fwi_manifest(0, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, mlen, img_b(), FWI_B_LEN, 0, NULL),
                     APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->fw.running, APM_FW_SLOT_B);
    assert_int_equal(fwt_reboot(d), APM_OK); /* the trial crashed, hung or lost power */
    expect_old_image(d);
    assert_int_equal(d->fw.rec.last, APM_FW_LAST_RESET);
    assert_int_equal(d->core.otp.svn[APM_SVN_APM], 0);
    fwr_snap s;
    fwr_snap_take(d, &s);
    apm_fw_env env = fwi_env(d);
    uint32_t fuse = 99;
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "APM", 3, &fuse), APM_E_FW_STATE);
    assert_int_equal(fuse, 0);
    fwr_snap_expect_unchanged(d, &s);
}

/* Test 4: abort / of a PENDING trial: recorded NONE (ABORTED), no reset,
 * the next boot stays on A; of a running trial: NONE and a reset, the next
 * boot runs A; activate and abort with nothing staged are refused
 * (APM_E_FW_STATE); a new APM install while a trial is staged is refused
 * until it is aborted, and then succeeds. */
static void test_abort_and_install_while_staged(void **state)
{
    fwt_dev *d = *state;
    apm_fw_env env;
    bool reset = true;
    fwr_snap s;
    uint32_t mlen = (uint32_t)fwi_manifest(0, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);

    env = fwi_env(d);
    fwr_snap_take(d, &s);
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, DROT_LINK_FW_ACTIVATE_TRIAL, &reset),
                     APM_E_FW_STATE);
    assert_false(reset);
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, DROT_LINK_FW_ACTIVATE_ABORT, &reset),
                     APM_E_FW_STATE);
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, 7, &reset), APM_E_ARG);
    fwr_snap_expect_unchanged(d, &s);

    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, mlen, img_b(), FWI_B_LEN, 0, NULL),
                     APM_OK);
    fwr_snap_take(d, &s);
    drot_link_fw_begin_resp r;
    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, mlen, DROT_LINK_FW_MODE_INSTALL, &r),
                     APM_E_FW_STATE);
    assert_non_null(d->fw.why);
    fwr_snap_expect_unchanged(d, &s);
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, DROT_LINK_FW_ACTIVATE_ABORT, &reset), APM_OK);
    assert_false(reset);
    assert_int_equal(d->fw.rec.last, APM_FW_LAST_ABORTED);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);

    /* Staged again, test-booted, then aborted from inside the trial. */
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, mlen, img_b(), FWI_B_LEN, 0, NULL),
                     APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->fw.running, APM_FW_SLOT_B);
    env = fwi_env(d);
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, DROT_LINK_FW_ACTIVATE_ABORT, &reset), APM_OK);
    assert_true(reset);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);
    assert_int_equal(d->fw.rec.last, APM_FW_LAST_ABORTED);
    assert_int_equal(d->core.otp.svn[APM_SVN_APM], 0);
}

/* ---- refusals ------------------------------------------------------------------ */

/* BEGIN(manifest) is refused with want, writes nothing, leaves no session,
 * and the device still boots its old image. */
static void expect_begin_refused(fwt_dev *d, const uint8_t *m, size_t mlen, uint32_t mode, apm_status want)
{
    fwr_snap s;
    drot_link_fw_begin_resp r;
    drot_link_fw_status st;
    apm_fw_env env = fwi_env(d);
    fwr_snap_take(d, &s);
    apm_status got = apm_fw_begin(&d->core, &env, &d->fw, m, mlen, mode, &r);
    if (got != want)
        fail_msg("BEGIN: expected %d (%s), got %d (%s)", (int)want, apm_status_str(want), (int)got,
                 apm_status_str(got));
    assert_non_null(d->fw.why);
    fwi_status(d, &st);
    assert_int_equal(st.session_mode, 0);
    fwr_snap_expect_unchanged(d, &s);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);
}

/* Test 5: manifests refused at BEGIN, before any write, in both modes /
 * downgrade (SVN below the fuse) ROLLBACK; garbage, empty, truncated,
 * oversized and unsigned (a bare manifest payload) manifests CORRUPT; an unknown signer ANCHOR; a bad
 * signature BOOT; a fuse-revoked anchor's signature ANCHOR; another component COMPONENT; an APM image larger
 * than a slot IMAGE; a host component below its fuse ROLLBACK. Fuses and flash byte for byte unchanged each
 * time. */
static void test_bad_manifests_refused(void **state)
{
    fwt_dev *d = *state;
    uint8_t digest[32];
    size_t n;
    fwi_digest(img_b(), FWI_B_LEN, digest);
    assert_int_equal(apm_otp_raise_svn(&d->sim.hal, APM_SVN_APM, 1), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&d->sim.hal, APM_SVN_HOST_OS, 4), APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);

    for (uint32_t mode = DROT_LINK_FW_MODE_INSTALL; mode <= DROT_LINK_FW_MODE_VERIFY; mode++) {
        n = fwt_manifest(0, "APM", "0.9.0", 0, digest, FWI_B_LEN, g_m, sizeof g_m);
        expect_begin_refused(d, g_m, n, mode, APM_E_ROLLBACK);

        memset(g_m, 0xA5, 200);
        expect_begin_refused(d, g_m, 200, mode, APM_E_CORRUPT);
        expect_begin_refused(d, g_m, 0, mode, APM_E_CORRUPT);
        n = fwt_manifest(0, "APM", "2.0.0", 2, digest, FWI_B_LEN, g_m, sizeof g_m);
        expect_begin_refused(d, g_m, n - 1, mode, APM_E_CORRUPT);
        memset(g_m + n, 0, 600 - n);
        expect_begin_refused(d, g_m, 600, mode, APM_E_CORRUPT);
        drot_manifest bare = {"APM", 3, "2.0.0", 5, 2, {0}, FWI_B_LEN};
        memcpy(bare.digest, digest, 32);
        assert_int_equal(drot_manifest_encode(&bare, g_m, sizeof g_m, &n), DROT_OK);
        expect_begin_refused(d, g_m, n, mode, APM_E_CORRUPT);

        n = fwt_manifest(2, "APM", "2.0.0", 2, digest, FWI_B_LEN, g_m, sizeof g_m);
        expect_begin_refused(d, g_m, n, mode, APM_E_ANCHOR);

        n = fwt_manifest(0, "APM", "2.0.0", 2, digest, FWI_B_LEN, g_m, sizeof g_m);
        g_m[n - 5] ^= 0x10; /* inside the signature */
        expect_begin_refused(d, g_m, n, mode, APM_E_BOOT);

        n = fwt_manifest(0, "BOOTROM", "2.0.0", 2, digest, FWI_B_LEN, g_m, sizeof g_m);
        expect_begin_refused(d, g_m, n, mode, APM_E_COMPONENT);

        n = fwt_manifest(0, "APM", "2.0.0", 2, digest, APM_FW_IMAGE_MAX + 1u, g_m, sizeof g_m);
        expect_begin_refused(d, g_m, n, mode, APM_E_IMAGE);

        n = fwt_manifest(0, "HOST-OS", "7.1", 3, digest, FWI_B_LEN, g_m, sizeof g_m);
        expect_begin_refused(d, g_m, n, mode, APM_E_ROLLBACK);
    }

    /* An anchor revoked in the fuses: key 1 signed, slot 1 revoked. */
    assert_int_equal(apm_otp_revoke_anchor(&d->sim.hal, 1), APM_OK);
    assert_int_equal(fwt_reboot(d), APM_OK);
    n = fwt_manifest(1, "APM", "2.0.0", 2, digest, FWI_B_LEN, g_m, sizeof g_m);
    expect_begin_refused(d, g_m, n, DROT_LINK_FW_MODE_INSTALL, APM_E_ANCHOR);
    n = fwt_manifest(1, "HOST-OS", "7.2", 5, digest, FWI_B_LEN, g_m, sizeof g_m);
    expect_begin_refused(d, g_m, n, DROT_LINK_FW_MODE_VERIFY, APM_E_ANCHOR);
    expect_begin_refused(d, g_m, n, 9, APM_E_ARG);
}

/* The persistent state outside slot B (fuses, records, slot A) is s's,
 * slot B reads as empty, and the device boots its old image. */
static void expect_only_slot_b_touched(fwt_dev *d, fwr_snap *s)
{
    size_t b0 = (size_t)APM_FW_SLOT_B_MANIFEST * SECTOR,
           b1 = (size_t)(APM_FW_SLOT_B_IMAGE + APM_FW_IMAGE_SECTORS) * SECTOR;
    assert_memory_equal(d->sim.otp, s->otp, sizeof s->otp);
    assert_true(memcmp(d->sim.flash, s->flash, b0) == 0);
    assert_true(memcmp(d->sim.flash + b1, s->flash + b1, (size_t)APM_SIM_SECTORS * SECTOR - b1) == 0);
    for (size_t i = 0; i < SECTOR; i++)
        assert_int_equal(d->sim.flash[b0 + i], 0xFF);
    free(s->flash);
    s->flash = NULL;
    apm_boot_state b;
    assert_int_equal(apm_boot_verify_slot(&d->core, APM_FW_SLOT_B, &b), APM_E_CORRUPT);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_NONE);
}

/* Test 6: images that do not match their (valid) manifest, APM install /
 * another image under the manifest (wrong digest), one byte short (wrong
 * size), refused at FINISH (APM_E_IMAGE); one byte long: the extra chunk is
 * refused (APM_E_IMAGE) with nothing written for it. Each time the fuses,
 * the records and slot A are unchanged byte for byte, slot B reads empty
 * (its manifest sector stays erased: nothing there can boot), and the
 * device keeps running its old image. */
static void test_bad_images_refused(void **state)
{
    fwt_dev *d = *state;
    fwr_snap s;
    uint8_t digest[32];
    size_t n = fwi_manifest(0, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);

    fwr_snap_take(d, &s);
    const uint8_t *other = fwi_image(3, FWI_B_LEN);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, other, FWI_B_LEN, 0, NULL),
                     APM_E_IMAGE);
    expect_only_slot_b_touched(d, &s);

    fwr_snap_take(d, &s);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, img_b(), FWI_B_LEN - 1, 0, NULL),
                     APM_E_IMAGE);
    expect_only_slot_b_touched(d, &s);

    /* One byte too many: the image plus one more chunk. */
    fwr_snap_take(d, &s);
    apm_fw_env env = fwi_env(d);
    drot_link_fw_begin_resp r;
    uint32_t got = 0;
    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, n, DROT_LINK_FW_MODE_INSTALL, &r), APM_OK);
    assert_int_equal(r.size, FWI_B_LEN);
    for (uint32_t off = 0; off < FWI_B_LEN; off += 4000) {
        uint32_t len = FWI_B_LEN - off < 4000 ? FWI_B_LEN - off : 4000;
        assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, off, img_b() + off, len, &got), APM_OK);
    }
    long w = d->sim.writes;
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, FWI_B_LEN, img_b(), 1, &got), APM_E_IMAGE);
    assert_int_equal(d->sim.writes, w);
    fwi_digest(img_b(), FWI_B_LEN, digest);
    /* The session survives the refused chunk: FINISH completes the install. */
    drot_link_fw_image res;
    assert_int_equal(apm_fw_finish(&d->core, &env, &d->fw, &res), APM_OK);
    assert_memory_equal(res.digest, digest, 32);
    free(s.flash);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_PENDING);
}

/* Test 7: chunks out of order / a gap, an overlap, a chunk before BEGIN,
 * after FINISH, and an empty one are refused (APM_E_FW_ORDER,
 * APM_E_FW_STATE, APM_E_ARG) with no write; the session stays open and
 * the right chunk is then taken. */
static void test_chunk_order(void **state)
{
    fwt_dev *d = *state;
    apm_fw_env env = fwi_env(d);
    drot_link_fw_begin_resp r;
    drot_link_fw_image res;
    uint32_t got = 0;
    size_t n = fwi_manifest(0, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);
    const uint8_t *img = img_b();

    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 0, img, 100, &got), APM_E_FW_STATE);
    assert_int_equal(apm_fw_finish(&d->core, &env, &d->fw, &res), APM_E_FW_STATE);
    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, n, DROT_LINK_FW_MODE_INSTALL, &r), APM_OK);
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 0, img, 1000, &got), APM_OK);
    long w = d->sim.writes;
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 1001, img + 1001, 100, &got), APM_E_FW_ORDER);
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 999, img + 999, 100, &got), APM_E_FW_ORDER);
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 0, img, 1000, &got), APM_E_FW_ORDER);
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 1000, img + 1000, 0, &got), APM_E_ARG);
    assert_int_equal(d->sim.writes, w);
    for (uint32_t off = 1000; off < FWI_B_LEN; off += 1500) {
        uint32_t len = FWI_B_LEN - off < 1500 ? FWI_B_LEN - off : 1500;
        assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, off, img + off, len, &got), APM_OK);
    }
    assert_int_equal(apm_fw_finish(&d->core, &env, &d->fw, &res), APM_OK);
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, FWI_B_LEN, img, 1, &got), APM_E_FW_STATE);
    /* The slot holds exactly the image: the test boot runs it. */
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->fw.running, APM_FW_SLOT_B);
}

/* Test 8: verify mode writes nothing / for a good APM image and a good
 * host image it answers the manifest's fields, the digest and the signer
 * id; for an image with the wrong digest it refuses (APM_E_IMAGE); in
 * every case fuses, flash and the write count are unchanged. */
static void test_verify_mode_writes_nothing(void **state)
{
    fwt_dev *d = *state;
    fwr_snap s;
    drot_link_fw_image res;
    uint8_t signer[32], digest[32];
    fwt_key(1, NULL, NULL, signer);
    fwi_digest(img_b(), FWI_B_LEN, digest);

    fwr_snap_take(d, &s);
    size_t n = fwi_manifest(1, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_VERIFY, g_m, n, img_b(), FWI_B_LEN, 0, &res), APM_OK);
    assert_int_equal(res.component_len, 3);
    assert_memory_equal(res.component, "APM", 3);
    assert_memory_equal(res.signer, signer, 32);
    n = fwi_manifest(1, "HOST-BL", "bl-4", 4, img_b(), FWI_B_LEN, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_VERIFY, g_m, n, img_b(), FWI_B_LEN, 333, &res), APM_OK);
    assert_memory_equal(res.component, "HOST-BL", 7);
    assert_memory_equal(res.version, "bl-4", 4);
    assert_int_equal(res.svn, 4);
    assert_memory_equal(res.digest, digest, 32);
    assert_int_equal(
        fwi_session(d, DROT_LINK_FW_MODE_VERIFY, g_m, n, fwi_image(3, FWI_B_LEN), FWI_B_LEN, 0, &res),
        APM_E_IMAGE);
    fwr_snap_expect_unchanged(d, &s);
    assert_int_equal(d->fw.rec.n_host, 0);
}

/* ---- host components ----------------------------------------------------------- */

static void extend(fwt_dev *d, const char *type, const uint8_t digest[32])
{
    uint8_t signer[32] = {0};
    assert_int_equal(apm_measure_add(&d->meas, type, strlen(type), "x", 1, digest, signer, NULL), APM_OK);
}

/* Test 9: a host image / FINISH records a pending entry (and FW_STATUS
 * lists it) but no fuse moves; a confirm without a measurement, or with a
 * measurement of another digest or under another type, is refused
 * (APM_E_NOT_MEASURED) with nothing written; after the host boots it and
 * measures exactly that digest, the confirm raises svn[HOST-OS] to the
 * entry's SVN and removes the entry; a second confirm has nothing to
 * confirm (APM_E_FW_STATE). The entry survives reboots. */
static void test_host_component(void **state)
{
    fwt_dev *d = *state;
    apm_fw_env env;
    drot_link_fw_status st;
    fwr_snap s;
    uint8_t digest[32], other[32];
    uint32_t fuse = 0;
    const uint8_t *img = fwi_image(4, 20000);
    fwi_digest(img, 20000, digest);
    memset(other, 0x33, sizeof other);

    size_t n = fwi_manifest(0, "HOST-OS", "os-7", 7, img, 20000, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, img, 20000, 0, NULL), APM_OK);
    assert_int_equal(d->core.otp.svn[APM_SVN_HOST_OS], 0);
    assert_int_equal(fwt_reboot(d), APM_OK);
    fwi_status(d, &st);
    assert_int_equal(st.num_pending, 1);
    assert_memory_equal(st.pending[0].component, "HOST-OS", 7);
    assert_int_equal(st.pending[0].svn, 7);
    assert_memory_equal(st.pending[0].digest, digest, 32);
    assert_int_equal(st.trial, DROT_LINK_FW_TRIAL_NONE);

    env = fwi_env(d);
    fwr_snap_take(d, &s);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-OS", 7, &fuse), APM_E_NOT_MEASURED);
    extend(d, "HOST-OS", other);
    extend(d, "HOST-BL", digest);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-OS", 7, &fuse), APM_E_NOT_MEASURED);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-BL", 7, &fuse), APM_E_FW_STATE);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-XX", 7, &fuse), APM_E_COMPONENT);
    fwr_snap_expect_unchanged(d, &s);

    extend(d, "HOST-OS", digest);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-OS", 7, &fuse), APM_OK);
    assert_int_equal(fuse, 7);
    assert_int_equal(d->core.otp.svn[APM_SVN_HOST_OS], 7);
    assert_int_equal(d->fw.rec.n_host, 0);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-OS", 7, &fuse), APM_E_FW_STATE);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->core.otp.svn[APM_SVN_HOST_OS], 7);
    assert_int_equal(d->fw.rec.n_host, 0);
    /* Now a rollback to an older HOST-OS is refused at BEGIN. */
    n = fwi_manifest(0, "HOST-OS", "os-6", 6, img, 20000, g_m, sizeof g_m);
    expect_begin_refused(d, g_m, n, DROT_LINK_FW_MODE_VERIFY, APM_E_ROLLBACK);
}

/* Test 10: the SVN raised is the confirmed image's, never more / a
 * pending HOST-BL entry of SVN 9 replaced by one of SVN 5 (same component:
 * the newer FINISH wins), the host boots the SVN-5 image: the confirm
 * raises svn[HOST-BL] to 5, not 9. Both host components may be pending at
 * once. For the APM, the fuse equals the confirmed image's SVN (test 1). */
static void test_svn_never_above_confirmed(void **state)
{
    fwt_dev *d = *state;
    apm_fw_env env = fwi_env(d);
    uint32_t fuse = 0;
    uint8_t d5[32];
    const uint8_t *i9 = fwi_image(3, 5000), *i5 = fwi_image(4, 6000), *os = fwi_image(2, 7000);
    size_t n = fwi_manifest(0, "HOST-BL", "bl-9", 9, i9, 5000, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, i9, 5000, 0, NULL), APM_OK);
    n = fwi_manifest(0, "HOST-OS", "os-1", 1, os, 7000, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, os, 7000, 0, NULL), APM_OK);
    n = fwi_manifest(0, "HOST-BL", "bl-5", 5, i5, 6000, g_m, sizeof g_m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, i5, 6000, 0, NULL), APM_OK);
    assert_int_equal(d->fw.rec.n_host, 2);
    fwi_digest(i5, 6000, d5);
    extend(d, "HOST-BL", d5);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "HOST-BL", 7, &fuse), APM_OK);
    assert_int_equal(fuse, 5);
    assert_int_equal(d->core.otp.svn[APM_SVN_HOST_BL], 5);
    assert_int_equal(d->fw.rec.n_host, 1);
    assert_int_equal(d->fw.rec.host[0].component, APM_SVN_HOST_OS);
}

/* Test 11: the gates (F1) / a voltage lock (APM_E_LOCKED), a boot that
 * failed (APM_E_BOOT) and a decommissioned device (APM_E_LIFECYCLE) refuse
 * BEGIN, CHUNK, FINISH, CONFIRM and ACTIVATE with nothing written;
 * FW_STATUS still answers. */
static void test_gates(void **state)
{
    fwt_dev *d = *state;
    apm_fw_env env = fwi_env(d);
    drot_link_fw_begin_resp r;
    drot_link_fw_image res;
    drot_link_fw_status st;
    bool reset;
    uint32_t got;
    fwr_snap s;
    size_t n = fwi_manifest(0, "APM", "2.0.0", 2, img_b(), FWI_B_LEN, g_m, sizeof g_m);

    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, n, DROT_LINK_FW_MODE_VERIFY, &r), APM_OK);
    fwt_sensors(d, 2500, 25000, false);
    /* The first poll logs the excursion (a tamper-log write); from then on
     * the lock refuses without writing. */
    assert_int_equal(apm_tamper_poll(&d->core, &d->tamper), APM_E_LOCKED);
    fwr_snap_take(d, &s);
    assert_int_equal(apm_fw_chunk(&d->core, &env, &d->fw, 0, img_b(), 10, &got), APM_E_LOCKED);
    assert_int_equal(apm_fw_finish(&d->core, &env, &d->fw, &res), APM_E_LOCKED);
    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, n, DROT_LINK_FW_MODE_INSTALL, &r),
                     APM_E_LOCKED);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "APM", 3, &got), APM_E_LOCKED);
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, DROT_LINK_FW_ACTIVATE_ABORT, &reset),
                     APM_E_LOCKED);
    fwr_snap_expect_unchanged(d, &s);
    fwi_status(d, &st);
    fwt_sensors(d, 3300, 25000, false);
    assert_int_equal(fwt_reboot(d), APM_OK);

    /* Slot A garbled: the boot fails, and so does every install request. */
    assert_int_equal(d->sim.hal.flash_erase(d->sim.hal.ctx, APM_FW_SLOT_A_IMAGE), APM_HAL_OK);
    assert_int_equal(fwt_reboot(d), APM_E_IMAGE);
    env = fwi_env(d);
    fwr_snap_take(d, &s);
    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, n, DROT_LINK_FW_MODE_INSTALL, &r), APM_E_BOOT);
    fwr_snap_expect_unchanged(d, &s);
    fwi_status(d, &st);
    assert_int_equal(st.slots[0].status, APM_E_IMAGE);

    assert_int_equal(apm_otp_set_lifecycle(&d->sim.hal, APM_LC_DECOMMISSIONED), APM_OK);
    fwt_reboot(d);
    env = fwi_env(d);
    assert_int_equal(apm_fw_begin(&d->core, &env, &d->fw, g_m, n, DROT_LINK_FW_MODE_VERIFY, &r),
                     APM_E_LIFECYCLE);
}

/* Test 12: the record (S4) / a record that does not decode (an unknown
 * format byte, written through the record layer) reads as the
 * manufacturing default: slot A, nothing pending; the boot runs A. */
static void test_record_default(void **state)
{
    fwt_dev *d = *state;
    uint8_t junk[12] = {'D', 'F', 'W', 'S', 9, 1, 1, 0, 0, 0, 0, 0};
    apm_fw_record r;
    bool stored = true;
    assert_int_equal(apm_rec_write(&d->core, APM_REC_FWSTATE, junk, sizeof junk), APM_OK);
    assert_int_equal(apm_fw_record_read(&d->core, &r, &stored), APM_OK);
    assert_false(stored);
    assert_int_equal(r.active, APM_FW_SLOT_A);
    assert_int_equal(r.trial, APM_FW_TRIAL_NONE);
    assert_int_equal(fwt_reboot(d), APM_OK);
    expect_old_image(d);
    r.active = APM_FW_SLOT_B;
    r.trial = 3; /* out of range: refused before anything is written */
    long w = d->sim.writes;
    assert_int_equal(apm_fw_record_write(&d->core, &r), APM_E_ARG);
    assert_int_equal(d->sim.writes, w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_update_a_to_b_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_test_boot_reverts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_during_trial_reverts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_install_while_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_manifests_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_images_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_mode_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_component, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svn_never_above_confirmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_default, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_install", tests, NULL, fwt_group_teardown);
}
