/*
 * test_fw_records.c — AES-256-GCM records in the APM flash (fw/src/records.c,
 * R1–R4) on the sim port: round trip, seq order, copies from another
 * device, damaged copies, erase, and the power-cut sweeps of a record write
 * and a record erase.
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
#include "layout.h"
#include "records.h"

#define ID    APM_REC_FWSTATE
#define SEC_A (APM_REC_FIRST_SECTOR + 2u * ID)
#define SEC_B (SEC_A + 1u)
#define HDR   28u

static const uint8_t V1[] = "first version of the record";
static const uint8_t V2[] = "second version, a little longer than the first";
static const uint8_t V3[] = "third";

static int setup(void **state)
{
    fw_dev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fw_dev_create(d);
    assert_int_equal(apm_otp_burn_identity(&d->sim.hal, FW_DEVICE_ID, FW_UDS, FW_LINK_KEY), APM_OK);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    assert_true(d->core.rec_key_ready);
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

static uint8_t *sector(fw_dev *d, uint32_t s)
{
    return d->sim.flash + (size_t)s * APM_SIM_SECTOR_SIZE;
}

static uint32_t seq_at(fw_dev *d, uint32_t s)
{
    const uint8_t *p = sector(d, s) + 8;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Reads ID and asserts it is exactly want (len n) with seq `seq`. */
static void expect_record(fw_dev *d, const uint8_t *want, size_t n, uint32_t seq)
{
    uint8_t buf[APM_REC_MAX];
    size_t len = 0;
    uint32_t s = 0;
    assert_int_equal(apm_rec_read(&d->core, ID, buf, sizeof buf, &len, &s), APM_OK);
    assert_int_equal(len, n);
    assert_memory_equal(buf, want, n);
    assert_int_equal(s, seq);
}

static void expect_corrupt(fw_dev *d)
{
    uint8_t buf[APM_REC_MAX];
    size_t len = 99;
    assert_int_equal(apm_rec_read(&d->core, ID, buf, sizeof buf, &len, NULL), APM_E_CORRUPT);
    assert_int_equal(len, 0);
}

/* Test 1: round trip / a record reads back as written with seq 1, across a
 * reboot; empty and APM_REC_MAX-byte contents work; APM_REC_MAX + 1 is
 * refused (APM_E_ARG) with no write; a short buffer gets DROT_E_BUFFER and
 * the length needed. */
static void test_rec_round_trip(void **state)
{
    fw_dev *d = *state;
    expect_corrupt(d); /* never written */
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    expect_record(d, V1, sizeof V1, 1);
    assert_int_equal(fw_dev_reboot(d), APM_OK);
    expect_record(d, V1, sizeof V1, 1);

    uint8_t small[8];
    size_t len = 0;
    assert_int_equal(apm_rec_read(&d->core, ID, small, sizeof small, &len, NULL), DROT_E_BUFFER);
    assert_int_equal(len, sizeof V1);

    assert_int_equal(apm_rec_write(&d->core, APM_REC_REVOCATION, NULL, 0), APM_OK);
    assert_int_equal(apm_rec_read(&d->core, APM_REC_REVOCATION, small, sizeof small, &len, NULL), APM_OK);
    assert_int_equal(len, 0);

    static uint8_t big[APM_REC_MAX + 1];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    long w = d->sim.writes;
    assert_int_equal(apm_rec_write(&d->core, ID, big, sizeof big), APM_E_ARG);
    assert_int_equal(d->sim.writes, w);
    assert_int_equal(apm_rec_write(&d->core, ID, big, APM_REC_MAX), APM_OK);
    expect_record(d, big, APM_REC_MAX, 2);

    assert_int_equal(apm_rec_write(&d->core, APM_REC_COUNT, V1, 1), APM_E_ARG);
    assert_int_equal(apm_rec_read(&d->core, APM_REC_COUNT, small, sizeof small, &len, NULL), APM_E_ARG);
}

/* Test 2: without the uds burned there is no record key / read and write
 * return APM_E_NOT_PROVISIONED and write nothing. */
static void test_rec_needs_key(void **state)
{
    (void)state;
    fw_dev d2;
    fw_dev_create(&d2);
    uint8_t buf[8];
    size_t len;
    assert_int_equal(apm_rec_write(&d2.core, ID, V1, sizeof V1), APM_E_NOT_PROVISIONED);
    assert_int_equal(apm_rec_read(&d2.core, ID, buf, sizeof buf, &len, NULL), APM_E_NOT_PROVISIONED);
    assert_int_equal(d2.sim.writes, 0);
    fw_dev_destroy(&d2);
}

/* Test 3: the higher seq wins / writes alternate A, B, A with seq 1, 2, 3;
 * the read gives the newest each time, even though the older copy is still
 * valid in the other sector. */
static void test_rec_higher_seq_wins(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_int_equal(apm_rec_write(&d->core, ID, V2, sizeof V2), APM_OK);
    assert_int_equal(seq_at(d, SEC_A), 1);
    assert_int_equal(seq_at(d, SEC_B), 2);
    expect_record(d, V2, sizeof V2, 2);
    assert_int_equal(apm_rec_write(&d->core, ID, V3, sizeof V3), APM_OK);
    assert_int_equal(seq_at(d, SEC_A), 3);
    assert_int_equal(seq_at(d, SEC_B), 2);
    expect_record(d, V3, sizeof V3, 3);
}

/* Test 4: two writes of the same content / fresh nonces, so the stored
 * copies differ (R3). */
static void test_rec_fresh_nonce(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_memory_not_equal(sector(d, SEC_A) + 16, sector(d, SEC_B) + 16, 12);
    assert_memory_not_equal(sector(d, SEC_A) + HDR, sector(d, SEC_B) + HDR, sizeof V1);
}

/* Copies sector src of d1 into sector dst of d2 (erase + program). */
static void transplant(fw_dev *from, uint32_t src, fw_dev *to, uint32_t dst)
{
    const apm_hal *h = &to->sim.hal;
    assert_int_equal(h->flash_erase(h->ctx, dst), APM_HAL_OK);
    assert_int_equal(
        h->flash_program(h->ctx, dst * APM_SIM_SECTOR_SIZE, sector(from, src), APM_SIM_SECTOR_SIZE),
        APM_HAL_OK);
}

/* Test 5: a copy from another device (different uds) / refused: alone it
 * reads APM_E_CORRUPT; beside the device's own older copy, even with a
 * higher seq, the own copy is read. */
static void test_rec_other_device_refused(void **state)
{
    fw_dev *d = *state;
    fw_dev other;
    fw_dev_create(&other);
    assert_int_equal(apm_otp_burn_identity(&other.sim.hal, FW_DEVICE_ID, FW_UDS2, FW_LINK_KEY), APM_OK);
    assert_int_equal(fw_dev_reboot(&other), APM_OK);
    assert_int_equal(apm_rec_write(&other.core, ID, V2, sizeof V2), APM_OK);
    assert_int_equal(apm_rec_write(&other.core, ID, V2, sizeof V2), APM_OK);
    assert_int_equal(apm_rec_write(&other.core, ID, V2, sizeof V2), APM_OK); /* seq 3 in A */

    transplant(&other, SEC_A, d, SEC_A);
    expect_corrupt(d);
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK); /* own seq 1, into A */
    transplant(&other, SEC_A, d, SEC_B);
    assert_int_equal(seq_at(d, SEC_B), 3);
    expect_record(d, V1, sizeof V1, 1);
    fw_dev_destroy(&other);
}

/* Test 6: one flipped bit in the newer copy's header (seq, len, nonce, id),
 * ciphertext or tag / that copy is refused and the read falls back to the
 * older copy; restoring the byte brings the newer copy back. */
static void test_rec_flipped_byte_falls_back(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_int_equal(apm_rec_write(&d->core, ID, V2, sizeof V2), APM_OK);
    const size_t offs[] = {
        0, 4, 5, 11, 15, 16, 27, HDR, HDR + 10, HDR + sizeof V2 - 1, HDR + sizeof V2, HDR + sizeof V2 + 15};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uint8_t *p = sector(d, SEC_B) + offs[i];
        *p ^= 0x01;
        expect_record(d, V1, sizeof V1, 1);
        *p ^= 0x01;
        expect_record(d, V2, sizeof V2, 2);
    }
    /* Both damaged: no valid copy. */
    sector(d, SEC_A)[HDR] ^= 0x80;
    sector(d, SEC_B)[HDR] ^= 0x80;
    expect_corrupt(d);
}

/* Test 7: a valid copy moved to another record id's sectors / refused (the
 * id is in the header and the AAD). */
static void test_rec_wrong_id_refused(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    uint32_t rev_a = APM_REC_FIRST_SECTOR + 2u * APM_REC_REVOCATION;
    transplant(d, SEC_A, d, rev_a);
    uint8_t buf[64];
    size_t len;
    assert_int_equal(apm_rec_read(&d->core, APM_REC_REVOCATION, buf, sizeof buf, &len, NULL), APM_E_CORRUPT);
    /* Even with the id byte patched, the tag (AAD) refuses it. */
    const apm_hal *h = &d->sim.hal;
    assert_int_equal(h->flash_erase(h->ctx, rev_a), APM_HAL_OK);
    uint8_t copy[HDR + sizeof V1 + 16];
    memcpy(copy, sector(d, SEC_A), sizeof copy);
    copy[5] = APM_REC_REVOCATION;
    assert_int_equal(h->flash_program(h->ctx, rev_a * APM_SIM_SECTOR_SIZE, copy, sizeof copy), APM_HAL_OK);
    assert_int_equal(apm_rec_read(&d->core, APM_REC_REVOCATION, buf, sizeof buf, &len, NULL), APM_E_CORRUPT);
}

/* Test 8: erase / both sectors are 0xFF and the record reads APM_E_CORRUPT;
 * a write afterwards starts again at seq 1. */
static void test_rec_erase(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_int_equal(apm_rec_write(&d->core, ID, V2, sizeof V2), APM_OK);
    assert_int_equal(apm_rec_erase(&d->core, ID), APM_OK);
    expect_corrupt(d);
    for (size_t i = 0; i < APM_SIM_SECTOR_SIZE; i++) {
        assert_int_equal(sector(d, SEC_A)[i], 0xFF);
        assert_int_equal(sector(d, SEC_B)[i], 0xFF);
    }
    assert_int_equal(apm_rec_write(&d->core, ID, V3, sizeof V3), APM_OK);
    expect_record(d, V3, sizeof V3, 1);
}

/* ---- power-cut sweeps ---------------------------------------------------- */

static apm_status op_write_v2(fw_dev *d, void *arg)
{
    (void)arg;
    return apm_rec_write(&d->core, ID, V2, sizeof V2);
}

static void check_write(fw_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)arg;
    uint8_t buf[APM_REC_MAX];
    size_t len = 0;
    uint32_t seq = 0;
    assert_int_equal(apm_rec_read(&d->core, ID, buf, sizeof buf, &len, &seq), APM_OK);
    /* A full valid copy: the old one or the new one, never a mix. */
    bool old = seq == 1 && len == sizeof V1 && memcmp(buf, V1, len) == 0;
    bool new = seq == 2 && len == sizeof V2 &&memcmp(buf, V2, len) == 0;
    if (!(old || new))
        fail_msg("cut %ld%s: read seq %u len %zu is neither copy", n, torn ? " torn" : "", seq, len);
    /* The new copy exists iff its program completed (the last write, clean). */
    assert_int_equal(new, op_status == APM_OK);
    /* Resumable: writing again gives the new content. */
    assert_int_equal(apm_rec_write(&d->core, ID, V2, sizeof V2), APM_OK);
    assert_int_equal(apm_rec_read(&d->core, ID, buf, sizeof buf, &len, &seq), APM_OK);
    assert_int_equal(len, sizeof V2);
    assert_memory_equal(buf, V2, len);
}

/* Test 9: power-cut sweep of a record write (V1 at seq 1 → V2) / after a
 * cut at each write, clean and torn, the record reads V1 or V2 in full,
 * V2 only once the program completed. W = 2 (erase, program). */
static void test_sweep_record_write(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_int_equal(fw_sweep("record write", d, op_write_v2, check_write, NULL), 2);
}

static apm_status op_erase(fw_dev *d, void *arg)
{
    (void)arg;
    return apm_rec_erase(&d->core, ID);
}

static void check_erase(fw_dev *d, long n, bool torn, apm_status op_status, void *arg)
{
    (void)arg;
    (void)op_status;
    uint8_t buf[APM_REC_MAX];
    size_t len = 0;
    uint32_t seq = 0;
    apm_status st = apm_rec_read(&d->core, ID, buf, sizeof buf, &len, &seq);
    /* The current copy or nothing: never the older copy back. */
    if (st == APM_OK) {
        if (!(seq == 2 && len == sizeof V2 && memcmp(buf, V2, len) == 0))
            fail_msg("cut %ld%s: erase exposed seq %u", n, torn ? " torn" : "", seq);
    } else {
        assert_int_equal(st, APM_E_CORRUPT);
    }
    assert_int_equal(apm_rec_erase(&d->core, ID), APM_OK);
    expect_corrupt(d);
}

/* Test 10: power-cut sweep of a record erase (V1 seq 1 in A, V2 seq 2 in B)
 * / after a cut at each write the record reads V2 or APM_E_CORRUPT, never
 * V1; erasing again completes. W = 2. */
static void test_sweep_record_erase(void **state)
{
    fw_dev *d = *state;
    assert_int_equal(apm_rec_write(&d->core, ID, V1, sizeof V1), APM_OK);
    assert_int_equal(apm_rec_write(&d->core, ID, V2, sizeof V2), APM_OK);
    assert_int_equal(fw_sweep("record erase", d, op_erase, check_erase, NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rec_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_needs_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_higher_seq_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_fresh_nonce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_other_device_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_flipped_byte_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_wrong_id_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_record_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_record_erase, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_records", tests, NULL, NULL);
}
