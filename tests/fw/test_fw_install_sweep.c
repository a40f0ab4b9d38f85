/*
 * test_fw_install_sweep.c — power cut at every flash and fuse write of a
 * firmware install, of the test boot and of the confirm (fwinstall.h F5,
 * fwstate.h S1–S3), clean and torn, on the sim HAL.
 *
 * After every cut the device is rebooted and must boot a valid image
 * (verdict PASS), the old one or the new one, never with an svn fuse above
 * the running image's SVN; then the test completes the update from
 * whatever state the cut left (a retry of the install, a confirm), and the
 * device must end on the new image with svn[APM] exactly the new SVN.
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

#include "fw_inst_util.h"
#include "layout.h"
#include "otp.h"

/* Writes of one install of image B (13000 bytes, chunks of 2048): BEGIN
 * erases B's manifest sector (1); the chunks erase four image sectors and
 * program seven times (11); FINISH programs manifest and header (2) and
 * writes the record (erase + program, 2). */
#define INSTALL_WRITES 16
/* The test boot: the record, PENDING → TRYING (2); a refused trial adds the
 * record TRYING → NONE (2). */
#define TRIAL_WRITES         2
#define REFUSED_TRIAL_WRITES 4
/* Confirm: the record (2), then svn[APM] 0 → 2 (one fuse byte). */
#define CONFIRM_WRITES 3
/* Host confirm: svn[HOST-OS] 0 → 3 (one fuse byte), then the record (2). */
#define HOST_CONFIRM_WRITES 3
/* Host install: the record with the pending entry (2). */
#define HOST_INSTALL_WRITES 2

#define NEW_SVN 2u

static uint8_t g_m[1024];

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

static const uint8_t *img_b(void)
{
    return fwi_image(1, FWI_B_LEN);
}

static apm_status install_b(fwt_dev *d)
{
    size_t n = fwi_manifest(0, "APM", "2.0.0", NEW_SVN, img_b(), FWI_B_LEN, g_m, sizeof g_m);
    return fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, img_b(), FWI_B_LEN, 2048, NULL);
}

static void fail_at(long n, bool torn, const char *what)
{
    fail_msg("cut at write %ld%s: %s", n, torn ? " (torn)" : "", what);
}

/* A valid image runs, old (slot A, 1.2.3) or new (slot B, 2.0.0), and the
 * svn fuse is not above its SVN. */
static void expect_valid(fwt_dev *d, long n, bool torn)
{
    if (d->boot.verdict != APM_VERDICT_PASS)
        fail_at(n, torn, "the device does not boot a valid image");
    bool old = d->fw.running == APM_FW_SLOT_A;
    if (strcmp(d->boot.version, old ? "1.2.3" : "2.0.0") != 0)
        fail_at(n, torn, "the running slot holds an unexpected image");
    if (d->core.otp.svn[APM_SVN_APM] > d->boot.svn)
        fail_at(n, torn, "svn[APM] is above the running image's SVN");
}

/* From any state a cut left: retry what is missing, end on B confirmed. */
static void complete_update(fwt_dev *d, long n, bool torn)
{
    apm_fw_env env;
    uint32_t fuse = 0;
    if (d->fw.running == APM_FW_SLOT_A && d->fw.rec.active == APM_FW_SLOT_A) {
        if (d->fw.rec.trial == APM_FW_TRIAL_PENDING)
            fail_at(n, torn, "a staged trial was not tried at boot");
        if (install_b(d) != APM_OK)
            fail_at(n, torn, "a retry of the install failed");
        assert_int_equal(fwt_reboot(d), APM_OK);
    }
    if (d->fw.rec.trial == APM_FW_TRIAL_TRYING) {
        assert_int_equal(d->fw.running, APM_FW_SLOT_B);
        env = fwi_env(d);
        if (apm_fw_confirm(&d->core, &env, &d->fw, "APM", 3, &fuse) != APM_OK)
            fail_at(n, torn, "the confirm after the retry failed");
        assert_int_equal(fwt_reboot(d), APM_OK);
    }
    assert_int_equal(d->fw.running, APM_FW_SLOT_B);
    assert_int_equal(d->fw.rec.active, APM_FW_SLOT_B);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_NONE);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    assert_int_equal(d->core.otp.svn[APM_SVN_APM], NEW_SVN);
}

/* ---- the install --------------------------------------------------------------- */

static apm_status op_install(fwt_dev *d, void *arg)
{
    (void)arg;
    return install_b(d);
}

static void check_install(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)op_status;
    (void)arg;
    expect_valid(d, n, torn);
    if (d->core.otp.svn[APM_SVN_APM] != 0)
        fail_at(n, torn, "an install moved the svn fuse");
    /* Only a record write that completed (the last write, clean) makes the
     * reboot a test boot of B; every other cut leaves A running, untouched. */
    bool staged = n == INSTALL_WRITES && !torn;
    if (d->fw.running != (staged ? APM_FW_SLOT_B : APM_FW_SLOT_A))
        fail_at(n, torn, staged ? "the staged image was not test-booted" : "the old image is not running");
    if (!staged && (d->fw.rec.trial != APM_FW_TRIAL_NONE || d->fw.rec.active != APM_FW_SLOT_A))
        fail_at(n, torn, "a cut install changed the record");
    complete_update(d, n, torn);
}

/* Test 1: power cut at each of the 16 writes of an APM install, clean and
 * torn / the old image boots (or, after the last write, the staged one
 * test-boots), the fuse never moves, and a retry of the install completes
 * the update. */
static void test_sweep_install(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(fwr_sweep("APM install", d, op_install, check_install, NULL), INSTALL_WRITES);
}

/* ---- the test boot --------------------------------------------------------------- */

typedef void (*boot_check_fn)(fwt_dev *d, long n, bool torn);

static void file_io(const char *dir, const char *name, uint8_t *buf, size_t n, bool write)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, write ? "wb" : "rb");
    assert_non_null(f);
    assert_int_equal(write ? fwrite(buf, 1, n, f) : fread(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The sweep over a boot: the state files as they are now (a trial staged),
 * then for every write n of the boot, clean and torn: restore, power on
 * with the injector armed, boot (cut at n), boot again, check. Returns the
 * boot's write count. */
static long boot_sweep(const char *name, fwt_dev *d, boot_check_fn check)
{
    size_t flash_n = (size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE;
    uint8_t otp[APM_SIM_OTP_SIZE];
    uint8_t *flash = malloc(flash_n);
    char err[256];
    assert_non_null(flash);
    fwt_power_off(d);
    file_io(d->dir, "otp.bin", otp, sizeof otp, false);
    file_io(d->dir, "flash.bin", flash, flash_n, false);
    assert_int_equal(apm_sim_open(&d->sim, d->dir, false, err, sizeof err), 0);
    d->sim_open = true;
    long w0 = d->sim.writes;
    fwt_boot(d);
    long writes = d->sim.writes - w0;
    assert_true(writes > 0);

    for (long n = 1; n <= writes; n++) {
        for (int t = 0; t < 2; t++) {
            bool torn = t == 1;
            fwt_power_off(d);
            file_io(d->dir, "otp.bin", otp, sizeof otp, true);
            file_io(d->dir, "flash.bin", flash, flash_n, true);
            assert_int_equal(apm_sim_open(&d->sim, d->dir, false, err, sizeof err), 0);
            d->sim_open = true;
            apm_sim_cut_after(&d->sim, n, torn);
            apm_status st = fwt_boot(d);
            if (d->sim.powered)
                fail_at(n, torn, "the cut never happened");
            if (!(st == APM_E_POWER || (n == writes && !torn)))
                fail_at(n, torn, "the boot did not stop at the cut");
            apm_status again = fwt_reboot(d);
            if (again != APM_OK)
                fail_at(n, torn, "the boot after the cut failed");
            check(d, n, torn);
        }
    }
    printf("power-cut sweep %s: %ld writes, %ld cut points, all invariants held\n", name, writes, 2 * writes);
    free(flash);
    return writes;
}

static void check_trial_boot(fwt_dev *d, long n, bool torn)
{
    expect_valid(d, n, torn);
    /* TRYING reached the flash only with the last write complete: then the
     * boot after the cut is a boot during the trial, and reverts (S1).
     * Before that, PENDING is still the record and the trial runs now. */
    bool tried = n == TRIAL_WRITES && !torn;
    if (tried && (d->fw.running != APM_FW_SLOT_A || d->fw.rec.last != APM_FW_LAST_RESET))
        fail_at(n, torn, "a trial interrupted after TRYING did not revert");
    if (!tried && (d->fw.running != APM_FW_SLOT_B || d->fw.rec.trial != APM_FW_TRIAL_TRYING))
        fail_at(n, torn, "the staged trial did not run at the next boot");
    if (d->core.otp.svn[APM_SVN_APM] != 0)
        fail_at(n, torn, "a test boot moved the svn fuse");
    complete_update(d, n, torn);
}

/* Test 2: power cut at each write of the test boot (the record PENDING →
 * TRYING) / the next boot runs the trial (the record still PENDING) or
 * reverts to the old image (TRYING was written: S1); the update completes
 * from either. */
static void test_sweep_trial_boot(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(install_b(d), APM_OK);
    assert_int_equal(boot_sweep("APM test boot", d, check_trial_boot), TRIAL_WRITES);
}

static void check_refused_trial(fwt_dev *d, long n, bool torn)
{
    expect_valid(d, n, torn);
    if (d->fw.running != APM_FW_SLOT_A || d->fw.rec.trial != APM_FW_TRIAL_NONE)
        fail_at(n, torn, "a trial that does not verify ran, or was not given up");
    if (d->fw.rec.last != APM_FW_LAST_REFUSED && d->fw.rec.last != APM_FW_LAST_RESET)
        fail_at(n, torn, "the record does not say why the trial ended");
}

/* Test 3: power cut at each write of a test boot whose trial image does
 * not verify (TRYING, then NONE) / the old image runs after every cut. */
static void test_sweep_refused_trial(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(install_b(d), APM_OK);
    assert_int_equal(d->sim.hal.flash_erase(d->sim.hal.ctx, APM_FW_SLOT_B_IMAGE + 2), APM_HAL_OK);
    assert_int_equal(boot_sweep("APM refused trial", d, check_refused_trial), REFUSED_TRIAL_WRITES);
}

/* ---- the confirm ----------------------------------------------------------------- */

static apm_status op_confirm(fwt_dev *d, void *arg)
{
    (void)arg;
    apm_fw_env env = fwi_env(d);
    uint32_t fuse = 0;
    assert_int_equal(d->fw.running, APM_FW_SLOT_B); /* the sweep's boot ran the trial */
    return apm_fw_confirm(&d->core, &env, &d->fw, "APM", 3, &fuse);
}

static void check_confirm(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)op_status;
    (void)arg;
    expect_valid(d, n, torn);
    /* The record names B active from its program on (write 2, clean): then
     * B boots and the boot itself completes the fuse (S3). */
    bool committed = n > 2 || (n == 2 && !torn);
    if (committed && (d->fw.running != APM_FW_SLOT_B || d->core.otp.svn[APM_SVN_APM] != NEW_SVN))
        fail_at(n, torn, "a recorded confirm was not completed at boot");
    if (!committed && (d->fw.running != APM_FW_SLOT_A || d->core.otp.svn[APM_SVN_APM] != 0))
        fail_at(n, torn, "a confirm that did not reach the record took effect");
    complete_update(d, n, torn);
}

/* Test 4: power cut at each write of the confirm (the record, then the
 * fuse) / before the record names B, the next boot reverts to A with the
 * fuse untouched; after, B boots and the boot raises the fuse to exactly
 * B's SVN; the update completes either way. */
static void test_sweep_confirm(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(install_b(d), APM_OK); /* the record says PENDING: each sweep boot test-boots B */
    assert_int_equal(fwr_sweep("APM confirm", d, op_confirm, check_confirm, NULL), CONFIRM_WRITES);
}

/* ---- host components --------------------------------------------------------------- */

static const uint8_t *img_os(void)
{
    return fwi_image(2, 9000);
}

static apm_status op_host_install(fwt_dev *d, void *arg)
{
    (void)arg;
    size_t n = fwi_manifest(0, "HOST-OS", "os-3", 3, img_os(), 9000, g_m, sizeof g_m);
    return fwi_session(d, DROT_LINK_FW_MODE_INSTALL, g_m, n, img_os(), 9000, 0, NULL);
}

static void check_host_install(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)op_status;
    (void)arg;
    expect_valid(d, n, torn);
    bool recorded = n == HOST_INSTALL_WRITES && !torn;
    if (d->fw.rec.n_host != (recorded ? 1u : 0u))
        fail_at(n, torn, "the pending entry is not what the cut allows");
    if (d->core.otp.svn[APM_SVN_HOST_OS] != 0 || d->fw.running != APM_FW_SLOT_A)
        fail_at(n, torn, "a host install moved a fuse or the APM slot");
    if (!recorded)
        assert_int_equal(op_host_install(d, NULL), APM_OK);
    assert_int_equal(d->fw.rec.n_host, 1);
}

/* Test 5: power cut at each write of a host install (the record) / the
 * entry is there or not, nothing else changed, a retry records it. */
static void test_sweep_host_install(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(fwr_sweep("host install", d, op_host_install, check_host_install, NULL),
                     HOST_INSTALL_WRITES);
}

static apm_status op_host_confirm(fwt_dev *d, void *arg)
{
    (void)arg;
    uint8_t digest[32], signer[32] = {0};
    uint32_t fuse = 0;
    apm_fw_env env = fwi_env(d);
    fwi_digest(img_os(), 9000, digest);
    assert_int_equal(apm_measure_add(&d->meas, "HOST-OS", 7, "os-3", 4, digest, signer, NULL), APM_OK);
    return apm_fw_confirm(&d->core, &env, &d->fw, "HOST-OS", 7, &fuse);
}

static void check_host_confirm(fwt_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)op_status;
    (void)arg;
    expect_valid(d, n, torn);
    uint32_t fuse = d->core.otp.svn[APM_SVN_HOST_OS];
    bool burned = n > 1 || !torn;
    bool removed = n == HOST_CONFIRM_WRITES && !torn;
    if (fuse != (burned ? 3u : 0u))
        fail_at(n, torn, "svn[HOST-OS] is neither the old value nor the confirmed image's SVN");
    if (d->fw.rec.n_host != (removed ? 0u : 1u))
        fail_at(n, torn, "the pending entry went before the fuse");
    if (!removed)
        assert_int_equal(op_host_confirm(d, NULL), APM_OK); /* the host boots and measures again */
    assert_int_equal(d->core.otp.svn[APM_SVN_HOST_OS], 3);
    assert_int_equal(d->fw.rec.n_host, 0);
}

/* Test 6: power cut at each write of a host confirm (fuse, then record) /
 * the fuse is 0 or exactly 3, the entry goes only after the fuse, and a
 * retry (after the host measured the image again) completes. */
static void test_sweep_host_confirm(void **state)
{
    fwt_dev *d = *state;
    assert_int_equal(op_host_install(d, NULL), APM_OK);
    assert_int_equal(fwr_sweep("host confirm", d, op_host_confirm, check_host_confirm, NULL),
                     HOST_CONFIRM_WRITES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_install, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_trial_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_refused_trial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_host_install, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_host_confirm, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_install_sweep", tests, NULL, fwt_group_teardown);
}
