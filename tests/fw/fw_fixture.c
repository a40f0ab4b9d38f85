/* fw_fixture.c — see fw_fixture.h. Test code: OS and malloc allowed. */
#define _DEFAULT_SOURCE 1

#include "fw_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore.h"
#include "manufacture.h"

const uint8_t FW_DEVICE_ID[16] = {0xD0, 0x01, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
const uint8_t FW_UDS[32] = {0x55, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                            0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                            0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
const uint8_t FW_UDS2[32] = {0xAA, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                             0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                             0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x2f};
const uint8_t FW_LINK_KEY[32] = {0x1C, 0xEE, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90,
                                 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0, 0x01, 0x11, 0x21, 0x31, 0x41,
                                 0x51, 0x61, 0x71, 0x81, 0x91, 0xA1, 0xB1, 0xC1, 0xD1, 0xE1};
const uint8_t FW_ANCHORS[2][32] = {
    {0xA1, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
     0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11},
    {0xA2, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
     0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22},
};

bool fw_mem_eq(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

static apm_status dev_open(fw_dev *d, bool create)
{
    char err[512];
    if (apm_sim_open(&d->sim, d->dir, create, err, sizeof err) != 0)
        fail_msg("apm_sim_open(%s): %s", d->dir, err);
    d->is_open = true;
    assert_int_equal(apm_core_init(&d->core, &d->sim.hal), APM_OK);
    return apm_ks_load(&d->core);
}

void fw_dev_create(fw_dev *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/drot-fw-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    assert_int_equal(dev_open(d, true), APM_OK);
}

void fw_dev_close(fw_dev *d)
{
    if (!d->is_open)
        return;
    apm_core_wipe(&d->core);
    apm_sim_close(&d->sim);
    d->is_open = false;
}

apm_status fw_dev_open(fw_dev *d)
{
    return dev_open(d, false);
}

apm_status fw_dev_reboot(fw_dev *d)
{
    fw_dev_close(d);
    return fw_dev_open(d);
}

void fw_dev_destroy(fw_dev *d)
{
    char path[600];
    fw_dev_close(d);
    snprintf(path, sizeof path, "%s/otp.bin", d->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/flash.bin", d->dir);
    unlink(path);
    assert_int_equal(rmdir(d->dir), 0);
}

apm_status fw_manufacture(fw_dev *d, const uint8_t uds[32])
{
    return apm_manufacture_storage(&d->core, FW_DEVICE_ID, uds, FW_LINK_KEY, FW_ANCHORS, 2);
}

static void file_io(const char *dir, const char *name, uint8_t *buf, size_t n, bool write)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, write ? "wb" : "rb");
    assert_non_null(f);
    size_t got = write ? fwrite(buf, 1, n, f) : fread(buf, 1, n, f);
    assert_int_equal(got, n);
    assert_int_equal(fclose(f), 0);
}

void fw_snapshot_take(fw_dev *d, fw_snapshot *s)
{
    fw_dev_close(d);
    s->flash = malloc(FW_FLASH_BYTES);
    assert_non_null(s->flash);
    file_io(d->dir, "otp.bin", s->otp, sizeof s->otp, false);
    file_io(d->dir, "flash.bin", s->flash, FW_FLASH_BYTES, false);
    assert_int_equal(fw_dev_open(d), APM_OK);
}

apm_status fw_snapshot_restore(fw_dev *d, const fw_snapshot *s)
{
    fw_dev_close(d);
    file_io(d->dir, "otp.bin", (uint8_t *)s->otp, sizeof s->otp, true);
    file_io(d->dir, "flash.bin", s->flash, FW_FLASH_BYTES, true);
    return fw_dev_open(d);
}

void fw_snapshot_free(fw_snapshot *s)
{
    free(s->flash);
    s->flash = NULL;
}

long fw_sweep(const char *name, fw_dev *d, fw_op_fn op, fw_check_fn check, void *arg)
{
    fw_snapshot start;
    fw_snapshot_take(d, &start);

    long w0 = d->sim.writes;
    assert_int_equal(op(d, arg), APM_OK);
    long writes = d->sim.writes - w0;
    assert_true(writes > 0);

    long cuts = 0;
    for (long n = 1; n <= writes; n++) {
        for (int t = 0; t < 2; t++) {
            bool torn = t == 1;
            assert_int_equal(fw_snapshot_restore(d, &start), APM_OK);
            apm_sim_cut_after(&d->sim, n, torn);
            apm_status st = op(d, arg);
            if (d->sim.powered)
                fail_msg("sweep %s: cut at write %ld%s never happened", name, n, torn ? " (torn)" : "");
            if (!(st == APM_E_POWER || (st == APM_OK && n == writes && !torn)))
                fail_msg("sweep %s: cut at write %ld%s: op returned %d (%s)", name, n, torn ? " (torn)" : "",
                         (int)st, apm_status_str(st));
            apm_status boot = fw_dev_reboot(d);
            if (boot != APM_OK)
                fail_msg("sweep %s: boot after cut at write %ld%s: %s", name, n, torn ? " (torn)" : "",
                         apm_status_str(boot));
            check(d, n, torn, st, arg);
            cuts++;
        }
    }
    assert_int_equal(cuts, 2 * writes);
    printf("power-cut sweep %s: %ld writes, %ld cut points, all invariants held\n", name, writes, cuts);
    fw_snapshot_free(&start);
    return writes;
}
