/*
 * test_fw_otp.c — the fuse map (fw/src/otp.c, O1–O4), the simulated
 * hardware it runs on (fw/ports/sim/sim_hal.c: OTP and NOR rules, state
 * files, the power-cut injector, sensors, link), the core's boot checks
 * (fw/src/core.c), and the power-cut sweep of a counter raise.
 */
#define _DEFAULT_SOURCE 1

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"
#include "fw_fixture.h"
#include "layout.h"
#include "otp.h"
#include "sim_hal.h"

static int setup(void **state)
{
    fw_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fw_dev_create(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    fw_dev *d = *state;
    fw_dev_destroy(d);
    free(d);
    return 0;
}

static void read_file(const char *dir, const char *name, uint8_t *buf, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, n, f), n);
    fclose(f);
}

static apm_otp load(fw_dev *d)
{
    apm_otp o;
    assert_int_equal(apm_otp_load(&d->sim.hal, &o), APM_OK);
    return o;
}

/* ---- fuse semantics ------------------------------------------------------ */

/* Test 1: an OTP write that would clear a set bit / refused with
 * APM_HAL_E_OTP_CLEAR, not counted, and otp.bin is unchanged byte for byte. */
static void test_otp_clear_bit_refused(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t v = 0x5A, before[APM_SIM_OTP_SIZE], after[APM_SIM_OTP_SIZE];
    assert_int_equal(h->otp_write(h->ctx, 0xF0, &v, 1), APM_HAL_OK);
    read_file(d->dir, "otp.bin", before, sizeof before);
    long w = d->sim.writes;
    v = 0x50; /* clears bits 1 and 3 */
    assert_int_equal(h->otp_write(h->ctx, 0xF0, &v, 1), APM_HAL_E_OTP_CLEAR);
    uint8_t two[2] = {0xFF, 0x00};
    assert_int_equal(h->otp_write(h->ctx, 0xEF, two, 2),
                     APM_HAL_E_OTP_CLEAR); /* one bad byte: nothing written */
    read_file(d->dir, "otp.bin", after, sizeof after);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(d->sim.writes, w);
    v = 0x7A; /* adds bits only: accepted */
    assert_int_equal(h->otp_write(h->ctx, 0xF0, &v, 1), APM_HAL_OK);
    read_file(d->dir, "otp.bin", after, sizeof after);
    assert_int_equal(after[0xF0], 0x7A);
}

/* Test 2: write-once fields / the same value is a no-op (no write), a
 * different value is refused (APM_E_OTP, nothing written, even for the
 * fields after the conflicting one), an all-zero value is refused. */
static void test_otp_write_once(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    assert_int_equal(apm_otp_burn_identity(h, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY), APM_OK);
    apm_otp o = load(d);
    assert_true(o.device_id_set && o.uds_set && o.link_key_set);
    assert_memory_equal(o.device_id, FW_DEVICE_ID, 16);
    assert_memory_equal(o.link_key, FW_LINK_KEY, 32);
    uint8_t uds[32];
    assert_int_equal(apm_otp_read_uds(h, uds), APM_OK);
    assert_memory_equal(uds, FW_UDS, 32);

    long w = d->sim.writes;
    assert_int_equal(apm_otp_burn_identity(h, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY), APM_OK);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(apm_otp_burn_identity(h, FW_DEVICE_ID, FW_UDS2, FW_LINK_KEY), APM_E_OTP);
    uint8_t other_id[16];
    memcpy(other_id, FW_DEVICE_ID, 16);
    other_id[15] ^= 0x80; /* only adds a bit: still a different value */
    assert_int_equal(apm_otp_burn_identity(h, other_id, FW_UDS, FW_LINK_KEY), APM_E_OTP);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(apm_otp_read_uds(h, uds), APM_OK);
    assert_memory_equal(uds, FW_UDS, 32);

    static const uint8_t zero[32];
    assert_int_equal(apm_otp_burn_anchor(h, 2, zero), APM_E_ARG);
    assert_int_equal(apm_otp_burn_anchor(h, 4, FW_ANCHORS[0]), APM_E_ARG);
    assert_int_equal(d->sim.writes, w);
}

/* Test 3: a torn write-once field (its first bytes burned, the rest 0) /
 * burning the same value completes it; a different value is refused. */
static void test_otp_write_once_torn_prefix(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    apm_sim_cut_after(&d->sim, 1, true);
    assert_int_equal(apm_otp_burn_anchor(h, 1, FW_ANCHORS[1]), APM_E_POWER);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    h = &d->sim.hal;
    apm_otp o = load(d);
    assert_true(o.anchor_present[1]);
    assert_memory_equal(o.anchor[1], FW_ANCHORS[1], 16); /* P2: the first half */
    static const uint8_t zero[16];
    assert_memory_equal(o.anchor[1] + 16, zero, 16);
    assert_int_equal(apm_otp_burn_anchor(h, 1, FW_ANCHORS[0]), APM_E_OTP);
    assert_int_equal(apm_otp_burn_anchor(h, 1, FW_ANCHORS[1]), APM_OK);
    o = load(d);
    assert_memory_equal(o.anchor[1], FW_ANCHORS[1], 32);
}

/* Test 4: thermometers / raise to 10 reads 10; a raise to 5 is a no-op (no
 * write, still 10); up to 64 works, 65 is APM_E_EXHAUSTED; one otp_write
 * per changed byte, ascending. */
static void test_otp_thermometer_rises_only(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    long w = d->sim.writes;
    assert_int_equal(apm_otp_raise_epoch(h, 10), APM_OK);
    assert_int_equal(d->sim.writes - w, 2); /* byte 0 = 0xFF, byte 1 = 0x03 */
    assert_int_equal(load(d).epoch, 10);
    assert_int_equal(d->sim.otp[APM_OTP_EPOCH], 0xFF);
    assert_int_equal(d->sim.otp[APM_OTP_EPOCH + 1], 0x03);
    w = d->sim.writes;
    assert_int_equal(apm_otp_raise_epoch(h, 5), APM_OK);
    assert_int_equal(apm_otp_raise_epoch(h, 10), APM_OK);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(load(d).epoch, 10);
    assert_int_equal(apm_otp_raise_epoch(h, 64), APM_OK);
    assert_int_equal(d->sim.writes - w, 7);
    assert_int_equal(load(d).epoch, 64);
    assert_int_equal(apm_otp_raise_epoch(h, 65), APM_E_EXHAUSTED);
    assert_int_equal(load(d).epoch, 64);

    assert_int_equal(apm_otp_raise_svn(h, APM_SVN_HOST_OS, 3), APM_OK);
    assert_int_equal(apm_otp_raise_svn(h, APM_SVN_COUNT, 3), APM_E_ARG);
    apm_otp o = load(d);
    assert_int_equal(o.svn[APM_SVN_HOST_OS], 3);
    assert_int_equal(o.svn[APM_SVN_APM], 0);
    assert_int_equal(o.svn[APM_SVN_HOST_BL], 0);
}

/* Test 5: highest-bit rule / a stray bit 40 in a blank counter reads 41;
 * raising to 20 is then a no-op; raising to 50 keeps the stray bit and
 * reads 50. */
static void test_otp_thermometer_highest_bit(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t b = 0x01; /* bit 40 = byte 5, bit 0 */
    assert_int_equal(h->otp_write(h->ctx, APM_OTP_SVN + 8 * APM_SVN_APM + 5, &b, 1), APM_HAL_OK);
    assert_int_equal(load(d).svn[APM_SVN_APM], 41);
    long w = d->sim.writes;
    assert_int_equal(apm_otp_raise_svn(h, APM_SVN_APM, 20), APM_OK);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(load(d).svn[APM_SVN_APM], 41);
    assert_int_equal(apm_otp_raise_svn(h, APM_SVN_APM, 50), APM_OK);
    assert_int_equal(load(d).svn[APM_SVN_APM], 50);
    b = 0x80; /* bit 63 */
    assert_int_equal(h->otp_write(h->ctx, APM_OTP_EPOCH + 7, &b, 1), APM_HAL_OK);
    assert_int_equal(load(d).epoch, 64);
}

/* Test 6: lifecycle / only advances: PROVISIONED then DEPLOYED; back to
 * PROVISIONED or MANUFACTURING refused (APM_E_LIFECYCLE, no write);
 * TAMPERED from DEPLOYED; DECOMMISSIONED last; unknown state APM_E_ARG; PSA
 * values; a stray unknown bit reads as DECOMMISSIONED. */
static void test_otp_lifecycle(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    assert_int_equal(load(d).lifecycle, APM_LC_MANUFACTURING);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_MANUFACTURING), APM_OK);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_PROVISIONED), APM_OK);
    assert_int_equal(load(d).lifecycle, APM_LC_PROVISIONED);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_MANUFACTURING), APM_E_LIFECYCLE);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_DEPLOYED), APM_OK);
    long w = d->sim.writes;
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_PROVISIONED), APM_E_LIFECYCLE);
    assert_int_equal(apm_otp_set_lifecycle(h, (apm_lifecycle)7), APM_E_ARG);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(load(d).lifecycle, APM_LC_DEPLOYED);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_TAMPERED), APM_OK);
    apm_otp o = load(d);
    assert_int_equal(o.lifecycle, APM_LC_TAMPERED);
    assert_int_equal(o.lifecycle_bits, 0x07);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_DEPLOYED), APM_E_LIFECYCLE);
    assert_int_equal(apm_otp_set_lifecycle(h, APM_LC_DECOMMISSIONED), APM_OK);
    assert_int_equal(load(d).lifecycle, APM_LC_DECOMMISSIONED);

    assert_int_equal(apm_lifecycle_psa(APM_LC_MANUFACTURING), 0x1000);
    assert_int_equal(apm_lifecycle_psa(APM_LC_PROVISIONED), 0x2000);
    assert_int_equal(apm_lifecycle_psa(APM_LC_DEPLOYED), 0x3000);
    assert_int_equal(apm_lifecycle_psa(APM_LC_TAMPERED), 0x4000);
    assert_int_equal(apm_lifecycle_psa(APM_LC_DECOMMISSIONED), 0x6000);
}

/* Test 7: a lifecycle byte with only an unknown bit (0x10) / reads as
 * DECOMMISSIONED (fail closed). */
static void test_otp_lifecycle_unknown_bit(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t b = 0x11;
    assert_int_equal(h->otp_write(h->ctx, APM_OTP_LIFECYCLE, &b, 1), APM_HAL_OK);
    assert_int_equal(load(d).lifecycle, APM_LC_DECOMMISSIONED);
}

/* Test 8: anchors and revoke bits / burned slots read present, blank slots
 * absent; revoking slot 2 sets bit 2 only; revoking again writes nothing. */
static void test_otp_anchors_and_revoke(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    assert_int_equal(apm_otp_burn_anchor(h, 0, FW_ANCHORS[0]), APM_OK);
    assert_int_equal(apm_otp_burn_anchor(h, 2, FW_ANCHORS[1]), APM_OK);
    assert_int_equal(apm_otp_burn_anchor(h, 0, FW_ANCHORS[0]), APM_OK);
    assert_int_equal(apm_otp_burn_anchor(h, 0, FW_ANCHORS[1]), APM_E_OTP);
    apm_otp o = load(d);
    assert_true(o.anchor_present[0] && !o.anchor_present[1] && o.anchor_present[2] && !o.anchor_present[3]);
    assert_memory_equal(o.anchor[2], FW_ANCHORS[1], 32);
    assert_int_equal(apm_otp_revoke_anchor(h, 2), APM_OK);
    long w = d->sim.writes;
    assert_int_equal(apm_otp_revoke_anchor(h, 2), APM_OK);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(apm_otp_revoke_anchor(h, 4), APM_E_ARG);
    o = load(d);
    assert_true(!o.anchor_revoked[0] && !o.anchor_revoked[1] && o.anchor_revoked[2] && !o.anchor_revoked[3]);
    assert_int_equal(d->sim.otp[APM_OTP_ANCHOR_REVOKED], 0x04);
}

/* ---- the sim HAL --------------------------------------------------------- */

/* Test 9: NOR rules / a new flash reads 0xFF; program over erased bytes
 * works; program over programmed bytes is refused (APM_HAL_E_NOT_ERASED,
 * nothing written, not counted); erase sets the sector to 0xFF; out of range
 * is APM_HAL_E_RANGE. */
static void test_sim_nor_rules(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t buf[8], data[4] = {1, 2, 3, 4};
    assert_int_equal(h->flash_read(h->ctx, 5 * 4096 + 10, buf, sizeof buf), APM_HAL_OK);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xFF);
    assert_int_equal(h->flash_program(h->ctx, 5 * 4096 + 10, data, 4), APM_HAL_OK);
    long w = d->sim.writes;
    uint8_t other[4] = {0, 0, 0, 0};
    assert_int_equal(h->flash_program(h->ctx, 5 * 4096 + 12, other, 4), APM_HAL_E_NOT_ERASED);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(h->flash_read(h->ctx, 5 * 4096 + 10, buf, 6), APM_HAL_OK);
    assert_memory_equal(buf, ((uint8_t[]){1, 2, 3, 4, 0xFF, 0xFF}), 6);
    assert_int_equal(h->flash_erase(h->ctx, 5), APM_HAL_OK);
    assert_int_equal(h->flash_read(h->ctx, 5 * 4096 + 10, buf, 4), APM_HAL_OK);
    assert_memory_equal(buf, ((uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF}), 4);
    assert_int_equal(h->flash_erase(h->ctx, APM_SIM_SECTORS), APM_HAL_E_RANGE);
    assert_int_equal(h->flash_program(h->ctx, APM_SIM_SECTORS * 4096 - 2, data, 4), APM_HAL_E_RANGE);
    assert_int_equal(h->flash_read(h->ctx, 0xFFFFFFFFu, buf, 2), APM_HAL_E_RANGE);
    assert_int_equal(h->otp_write(h->ctx, APM_SIM_OTP_SIZE - 1, data, 2), APM_HAL_E_RANGE);
    assert_int_equal(h->otp_read(h->ctx, APM_SIM_OTP_SIZE, buf, 1), APM_HAL_E_RANGE);
}

/* Test 10: persistence / fuses and flash written before close read back
 * after reopening; create over existing state files is refused. */
static void test_sim_persists(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t v = 0x81, data[3] = {9, 8, 7}, buf[3];
    assert_int_equal(h->otp_write(h->ctx, 0x33, &v, 1), APM_HAL_OK);
    assert_int_equal(h->flash_program(h->ctx, 63 * 4096 + 4093, data, 3), APM_HAL_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    h = &d->sim.hal;
    assert_int_equal(h->otp_read(h->ctx, 0x33, &v, 1), APM_HAL_OK);
    assert_int_equal(v, 0x81);
    assert_int_equal(h->flash_read(h->ctx, 63 * 4096 + 4093, buf, 3), APM_HAL_OK);
    assert_memory_equal(buf, data, 3);

    apm_sim other;
    char err[512];
    assert_int_equal(apm_sim_open(&other, d->dir, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "already exist"));
}

static void resize_file(const char *dir, const char *name, long delta)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size + delta), 0);
}

/* Test 11: bad state files / a truncated otp.bin, an oversized otp.bin and a
 * truncated flash.bin are each refused with a message naming the file and
 * the sizes; the files are not changed by the refused open. */
static void test_sim_bad_state_files(void **state)
{
    fw_dev *d = *state;
    char err[512];
    apm_sim s;
    uint8_t before[APM_SIM_OTP_SIZE - 1], after[APM_SIM_OTP_SIZE - 1];
    fw_dev_close(d);

    resize_file(d->dir, "otp.bin", -1);
    read_file(d->dir, "otp.bin", before, sizeof before);
    assert_int_equal(apm_sim_open(&s, d->dir, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "otp.bin"));
    assert_non_null(strstr(err, "bad state file size: 255 bytes, expected exactly 256"));
    read_file(d->dir, "otp.bin", after, sizeof after);
    assert_memory_equal(before, after, sizeof before);

    resize_file(d->dir, "otp.bin", 2);
    assert_int_equal(apm_sim_open(&s, d->dir, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "257 bytes"));
    resize_file(d->dir, "otp.bin", -1);

    resize_file(d->dir, "flash.bin", -4096);
    assert_int_equal(apm_sim_open(&s, d->dir, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "flash.bin"));
    resize_file(d->dir, "flash.bin", 4096);

    assert_int_equal(apm_sim_open(&s, "/nonexistent/drot", false, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(fw_dev_open(d), APM_OK);
}

/* Test 12: the injector counts / otp_write, flash_erase and flash_program
 * each count one; a clean cut at write 3 lets write 3 complete (APM_HAL_OK)
 * and every later write fails (APM_HAL_E_POWER, not counted) while reads
 * still work. */
static void test_sim_injector_counts(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t v = 1, data[2] = {0x12, 0x34}, buf[2];
    assert_int_equal(d->sim.writes, 0);
    apm_sim_cut_after(&d->sim, 3, false);
    assert_int_equal(h->otp_write(h->ctx, 0xFF, &v, 1), APM_HAL_OK);
    assert_int_equal(h->flash_erase(h->ctx, 60), APM_HAL_OK);
    assert_int_equal(d->sim.writes, 2);
    assert_int_equal(h->flash_program(h->ctx, 60 * 4096, data, 2), APM_HAL_OK);
    assert_int_equal(d->sim.writes, 3);
    assert_false(d->sim.powered);
    assert_int_equal(h->otp_write(h->ctx, 0xFE, &v, 1), APM_HAL_E_POWER);
    assert_int_equal(h->flash_erase(h->ctx, 61), APM_HAL_E_POWER);
    assert_int_equal(h->flash_program(h->ctx, 61 * 4096, data, 2), APM_HAL_E_POWER);
    assert_int_equal(d->sim.writes, 3);
    assert_int_equal(h->flash_read(h->ctx, 60 * 4096, buf, 2), APM_HAL_OK);
    assert_memory_equal(buf, data, 2);
    assert_int_equal(h->otp_read(h->ctx, 0xFE, buf, 2), APM_HAL_OK);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 1);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_true(d->sim.powered);
    assert_int_equal(d->sim.writes, 0);
}

/* Test 13: torn writes leave a prefix / a torn 10-byte program leaves its
 * first 5 bytes and 0xFF after; a torn 32-byte OTP write burns 16 bytes; a
 * torn erase erases the first half of the sector only; each returns
 * APM_HAL_E_POWER and persists that way across a reboot. */
static void test_sim_torn_prefix(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, buf[32];
    apm_sim_cut_after(&d->sim, 1, true);
    assert_int_equal(h->flash_program(h->ctx, 40 * 4096, data, 10), APM_HAL_E_POWER);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    h = &d->sim.hal;
    assert_int_equal(h->flash_read(h->ctx, 40 * 4096, buf, 10), APM_HAL_OK);
    assert_memory_equal(buf, data, 5);
    assert_memory_equal(buf + 5, ((uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), 5);

    apm_sim_cut_after(&d->sim, 1, true);
    assert_int_equal(apm_otp_burn_anchor(h, 3, FW_ANCHORS[0]), APM_E_POWER);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    h = &d->sim.hal;
    assert_int_equal(h->otp_read(h->ctx, APM_OTP_ANCHORS + 96, buf, 32), APM_HAL_OK);
    assert_memory_equal(buf, FW_ANCHORS[0], 16);
    for (int i = 16; i < 32; i++)
        assert_int_equal(buf[i], 0);

    /* Fill sector 41 with 0x00, then tear its erase. */
    uint8_t *zeros = calloc(1, 4096);
    assert_non_null(zeros);
    assert_int_equal(h->flash_program(h->ctx, 41 * 4096, zeros, 4096), APM_HAL_OK);
    free(zeros);
    apm_sim_cut_after(&d->sim, 1, true);
    assert_int_equal(h->flash_erase(h->ctx, 41), APM_HAL_E_POWER);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    h = &d->sim.hal;
    assert_int_equal(h->flash_read(h->ctx, 41 * 4096 + 2047, buf, 2), APM_HAL_OK);
    assert_int_equal(buf[0], 0xFF);
    assert_int_equal(buf[1], 0x00);
}

/* Test 14: DROT_SIM_POWER_CUT syntax / "3" and "2:torn" arm the injector,
 * "0" disarms, "", "x", "3:tron", "-1", "3 " are refused. */
static void test_sim_cut_from_string(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_sim_cut_from_string(&d->sim, "3"), 0);
    assert_int_equal(d->sim.cut_at, 3);
    assert_false(d->sim.cut_torn);
    assert_int_equal(apm_sim_cut_from_string(&d->sim, "2:torn"), 0);
    assert_int_equal(d->sim.cut_at, 2);
    assert_true(d->sim.cut_torn);
    assert_int_equal(apm_sim_cut_from_string(&d->sim, "0"), 0);
    assert_int_equal(d->sim.cut_at, 0);
    const char *bad[] = {"", "x", "3:tron", "-1", "3 ", ":torn", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(apm_sim_cut_from_string(&d->sim, bad[i]), -1);
    assert_int_equal(d->sim.cut_at, 0);
}

/* Test 15: sensors / defaults 3300 mV, 25 °C, no intrusion; an intrusion
 * set and then cleared by the test is still reported once (latched), then
 * no more. */
static void test_sim_sensors(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    apm_tamper_sensors s;
    assert_int_equal(h->tamper_read(h->ctx, &s), APM_HAL_OK);
    assert_int_equal(s.supply_mv, 3300);
    assert_int_equal(s.temp_mc, 25000);
    assert_false(s.intrusion);
    apm_sim_set_sensors(&d->sim,
                        &(apm_tamper_sensors){.supply_mv = 2500, .temp_mc = 30000, .intrusion = true});
    apm_sim_set_sensors(&d->sim,
                        &(apm_tamper_sensors){.supply_mv = 3000, .temp_mc = 30000, .intrusion = false});
    assert_int_equal(h->tamper_read(h->ctx, &s), APM_HAL_OK);
    assert_int_equal(s.supply_mv, 3000);
    assert_true(s.intrusion);
    assert_int_equal(h->tamper_read(h->ctx, &s), APM_HAL_OK);
    assert_false(s.intrusion);
}

/* Test 16: TRNG, tick and link / the TRNG fills 64 bytes (not all equal);
 * the tick does not go backwards; link bytes cross a socketpair, a read
 * with nothing sent times out, a closed peer is APM_HAL_E_LINK, and no fd
 * is APM_HAL_E_LINK. */
static void test_sim_trng_tick_link(void **state)
{
    fw_dev *d = *state;
    const apm_hal *h = &d->sim.hal;
    uint8_t r[64], buf[4];
    assert_int_equal(h->trng(h->ctx, r, sizeof r), APM_HAL_OK);
    bool varied = false;
    for (size_t i = 1; i < sizeof r; i++)
        varied |= r[i] != r[0];
    assert_true(varied);
    uint64_t t0 = h->tick_ms(h->ctx), t1 = h->tick_ms(h->ctx);
    assert_true(t1 >= t0);

    assert_int_equal(h->link_read(h->ctx, buf, 1, 1), APM_HAL_E_LINK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    apm_sim_set_link(&d->sim, sv[0]);
    assert_int_equal(h->link_write(h->ctx, (const uint8_t *)"ping", 4), APM_HAL_OK);
    assert_int_equal(read(sv[1], buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(write(sv[1], "pong", 4), 4);
    assert_int_equal(h->link_read(h->ctx, buf, 4, 100), APM_HAL_OK);
    assert_memory_equal(buf, "pong", 4);
    assert_int_equal(h->link_read(h->ctx, buf, 1, 20), APM_HAL_E_TIMEOUT);
    close(sv[1]);
    assert_int_equal(h->link_read(h->ctx, buf, 1, 100), APM_HAL_E_LINK);
    assert_int_equal(h->link_write(h->ctx, buf, 1), APM_HAL_E_LINK);
    close(sv[0]);
    apm_sim_set_link(&d->sim, -1);
}

/* ---- core boot ----------------------------------------------------------- */

static apm_hal_status bad_trng(void *ctx, uint8_t *buf, uint32_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return APM_HAL_E_RNG;
}

/* Test 17: apm_core_init checks the table / wrong version, small OTP, wrong
 * sector size, too few sectors, a missing function: APM_E_ARG; a failing
 * TRNG: APM_E_RNG, and then apm_core_random says APM_E_RNG too; a good
 * table: OK, rec_key only once the uds is burned, equal across boots. */
static void test_core_init_checks(void **state)
{
    fw_dev *d = *state;
    apm_core c;
    apm_hal h = d->sim.hal;
    h.version = 2;
    assert_int_equal(apm_core_init(&c, &h), APM_E_ARG);
    h = d->sim.hal;
    h.otp_size = APM_OTP_MIN_SIZE - 1;
    assert_int_equal(apm_core_init(&c, &h), APM_E_ARG);
    h = d->sim.hal;
    h.flash_sector_size = 2048;
    assert_int_equal(apm_core_init(&c, &h), APM_E_ARG);
    h = d->sim.hal;
    h.flash_sectors = APM_FLASH_MIN_SECTORS - 1;
    assert_int_equal(apm_core_init(&c, &h), APM_E_ARG);
    h = d->sim.hal;
    h.flash_program = NULL;
    assert_int_equal(apm_core_init(&c, &h), APM_E_ARG);
    assert_int_equal(apm_core_init(&c, NULL), APM_E_ARG);
    h = d->sim.hal;
    h.trng = bad_trng;
    assert_int_equal(apm_core_init(&c, &h), APM_E_RNG);
    uint8_t r[8];
    assert_int_equal(apm_core_random(&c, r, sizeof r), APM_E_RNG);
    apm_core_wipe(&c);

    assert_false(d->core.rec_key_ready);
    assert_int_equal(apm_core_random(&d->core, r, sizeof r), APM_OK);
    assert_int_equal(apm_otp_burn_identity(&d->sim.hal, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_true(d->core.rec_key_ready);
    uint8_t k1[32];
    memcpy(k1, d->core.rec_key, 32);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_memory_equal(k1, d->core.rec_key, 32);
    uint8_t expect[32];
    assert_int_equal(
        drot_hkdf_sha256(NULL, 0, FW_UDS, 32, (const uint8_t *)"drot-apm records v1", 19, expect, 32),
        DROT_OK);
    assert_memory_equal(k1, expect, 32);
    assert_true(d->core.otp.device_id_set);
    assert_int_equal(apm_from_hal(APM_HAL_E_POWER), APM_E_POWER);
    assert_int_equal(apm_from_hal(APM_HAL_E_OTP_CLEAR), APM_E_OTP);
    assert_int_equal(apm_from_hal(APM_HAL_E_NOT_ERASED), APM_E_HAL);
    assert_int_equal(apm_from_hal(APM_HAL_OK), APM_OK);
}

/* ---- power-cut sweep: a counter raise ------------------------------------ */

#define SWEEP_EPOCH_FROM 5u
#define SWEEP_EPOCH_TO   20u
#define SWEEP_SVN_TO     30u

static apm_status op_raise(fw_dev *d, void *arg)
{
    (void)arg;
    apm_status st = apm_otp_raise_epoch(&d->sim.hal, SWEEP_EPOCH_TO);
    if (st == APM_OK)
        st = apm_otp_raise_svn(&d->sim.hal, APM_SVN_HOST_OS, SWEEP_SVN_TO);
    return st;
}

typedef struct raise_track {
    /* Of the previous cut point of the same kind ([0] clean, [1] torn): a
     * later cut never leaves less done. */
    uint32_t last_epoch[2], last_svn[2];
} raise_track;

static void check_raise(fw_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    raise_track *t = arg;
    (void)op_status;
    apm_otp o = load(d);
    /* Never lower than before, never above the target. */
    if (o.epoch < SWEEP_EPOCH_FROM || o.epoch > SWEEP_EPOCH_TO || o.svn[APM_SVN_HOST_OS] > SWEEP_SVN_TO)
        fail_msg("cut %ld%s: epoch %u svn %u out of bounds", n, torn ? " torn" : "", o.epoch,
                 o.svn[APM_SVN_HOST_OS]);
    /* Exactly what ascending one-byte writes leave: k whole bytes done
     * (a torn one-byte write burns nothing, P2), epoch's 3 bytes first. */
    long k = torn ? n - 1 : n;
    uint32_t want_epoch = k >= 3 ? SWEEP_EPOCH_TO : (k == 0 ? SWEEP_EPOCH_FROM : (uint32_t)(8 * k));
    uint32_t want_svn =
        k <= 3 ? 0 : (8u * (uint32_t)(k - 3) > SWEEP_SVN_TO ? SWEEP_SVN_TO : 8u * (uint32_t)(k - 3));
    assert_int_equal(o.epoch, want_epoch);
    assert_int_equal(o.svn[APM_SVN_HOST_OS], want_svn);
    /* The svn moves only once the epoch is complete (the op's order). */
    if (o.svn[APM_SVN_HOST_OS] > 0)
        assert_int_equal(o.epoch, SWEEP_EPOCH_TO);
    /* A later cut never leaves less done than an earlier one. */
    assert_true(o.epoch >= t->last_epoch[torn] && o.svn[APM_SVN_HOST_OS] >= t->last_svn[torn]);
    t->last_epoch[torn] = o.epoch;
    t->last_svn[torn] = o.svn[APM_SVN_HOST_OS];
    /* Resumable: running it again completes it exactly. */
    assert_int_equal(op_raise(d, NULL), APM_OK);
    o = load(d);
    assert_int_equal(o.epoch, SWEEP_EPOCH_TO);
    assert_int_equal(o.svn[APM_SVN_HOST_OS], SWEEP_SVN_TO);
}

/* Test 18: power-cut sweep of raising epoch 5 → 20 and svn[HOST_OS] 0 → 30
 * / at every write, clean and torn, the counters after reboot are between
 * old and target, never lower, never higher, and re-running completes them.
 * W = 3 (epoch bytes 0..2) + 4 (svn bytes 0..3) = 7. */
static void test_sweep_counter_raise(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_otp_raise_epoch(&d->sim.hal, SWEEP_EPOCH_FROM), APM_OK);
    raise_track t = {{SWEEP_EPOCH_FROM, SWEEP_EPOCH_FROM}, {0, 0}};
    long w = fw_sweep("counter raise", d, op_raise, check_raise, &t);
    assert_int_equal(w, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_otp_clear_bit_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_write_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_write_once_torn_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_thermometer_rises_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_thermometer_highest_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_lifecycle_unknown_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_anchors_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_nor_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_bad_state_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_injector_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_torn_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_cut_from_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_sensors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_trng_tick_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_init_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_counter_raise, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_otp", tests, NULL, NULL);
}
