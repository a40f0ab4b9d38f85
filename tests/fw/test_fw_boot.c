/*
 * test_fw_boot.c — secure boot of the APM image (fw/src/boot.c) and the
 * measurement table (fw/src/measure.c).
 *
 * Every device has anchors {key 0, key 1} and boots on the sim HAL. Each
 * refused image is otherwise correct and correctly signed, so the rule the
 * test names is what stops it; after every refusal the verdict is FAIL and
 * no token can be made (APM_E_BOOT).
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
#include "fw_test_util.h"
#include "layout.h"
#include "otp.h"

static const uint8_t NONCE[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* A device with anchors {0, 1} and slot A holding manifest + image, booted. */
static apm_status boot_with(fwt_dev *d, const uint8_t *manifest, size_t mlen, const uint8_t *image,
                            size_t ilen)
{
    static const int keys[] = {0, 1};
    fwt_create(d, keys, 2);
    fwt_boot(d);
    fwt_install(d, manifest, mlen, image, ilen);
    return fwt_reboot(d);
}

/* The verdict is FAIL with reason want, and no token is made. */
static void assert_refused(fwt_dev *d, apm_status want)
{
    uint8_t tok[FWT_TOKEN_CAP];
    size_t len = 99;
    assert_int_equal(d->boot_status, want);
    assert_int_equal(d->boot.reason, want);
    assert_int_equal(d->boot.verdict, APM_VERDICT_FAIL);
    assert_int_equal(fwt_token(d, NONCE, sizeof NONCE, 2, tok, sizeof tok, &len), APM_E_BOOT);
    assert_int_equal(len, 0);
}

static size_t good_manifest(int key, uint8_t *out, size_t cap)
{
    uint8_t digest[32];
    fwt_image_digest(digest);
    return fwt_manifest(key, "APM", "1.2.3", 1, digest, FWT_IMAGE_LEN, out, cap);
}

/* Test 1: an image signed by anchor 0 with the right digest and size / the
 * verdict is PASS, and the digest, version, SVN and signer id are recorded
 * and become measurement 0, which a token then carries. */
static void test_good_image_passes_and_is_measured(void **state)
{
    fwt_dev d;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], digest[32], signer[32], tok[FWT_TOKEN_CAP];
    size_t mlen = good_manifest(0, m, sizeof m), len = 0;
    (void)state;

    assert_int_equal(boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN), APM_OK);
    fwt_image_digest(digest);
    fwt_key(0, NULL, NULL, signer);
    assert_int_equal(d.boot.verdict, APM_VERDICT_PASS);
    assert_int_equal(d.boot.reason, APM_OK);
    assert_memory_equal(d.boot.digest, digest, 32);
    assert_string_equal(d.boot.version, "1.2.3");
    assert_int_equal(d.boot.svn, 1);
    assert_memory_equal(d.boot.signer_id, signer, 32);
    assert_int_equal(d.boot.anchor_slot, 0);
    assert_int_equal(d.meas.count, 1);
    assert_string_equal(d.meas.m[0].type, "APM");
    assert_memory_equal(d.meas.m[0].digest, digest, 32);
    assert_int_equal(fwt_token(&d, NONCE, sizeof NONCE, 2, tok, sizeof tok, &len), APM_OK);
    assert_true(len > 0);
    fwt_destroy(&d);
}

/* Test 2: the same image signed by anchor 1 / PASS, signer id = SHA-256 of
 * key 1, anchor slot 1. */
static void test_second_anchor_is_the_signer(void **state)
{
    fwt_dev d;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], signer[32];
    size_t mlen = good_manifest(1, m, sizeof m);
    (void)state;

    assert_int_equal(boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN), APM_OK);
    fwt_key(1, NULL, NULL, signer);
    assert_memory_equal(d.boot.signer_id, signer, 32);
    assert_int_equal(d.boot.anchor_slot, 1);
    fwt_destroy(&d);
}

/* Test 3: one image byte changed (first, middle, last) / APM_E_IMAGE; the
 * digest recorded is the image's as found (B3). */
static void test_tampered_image_refused(void **state)
{
    static const size_t at[] = {0, 4096, FWT_IMAGE_LEN - 1};
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], bad[FWT_IMAGE_LEN], digest[32];
    size_t mlen = good_manifest(0, m, sizeof m);
    (void)state;

    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        fwt_dev d;
        memcpy(bad, fwt_image(), sizeof bad);
        bad[at[i]] ^= 0x01;
        boot_with(&d, m, mlen, bad, sizeof bad);
        assert_refused(&d, APM_E_IMAGE);
        assert_int_equal(drot_sha256(bad, sizeof bad, digest), DROT_OK);
        assert_memory_equal(d.boot.digest, digest, 32);
        fwt_destroy(&d);
    }
}

/* Test 4: a manifest whose size is one byte short, one byte long, or above
 * the slot (APM_FW_IMAGE_MAX + 1) / APM_E_IMAGE. */
static void test_wrong_size_refused(void **state)
{
    const uint32_t sizes[] = {FWT_IMAGE_LEN - 1, FWT_IMAGE_LEN + 1, APM_FW_IMAGE_MAX + 1};
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], digest[32];
    (void)state;

    fwt_image_digest(digest);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fwt_dev d;
        size_t mlen = fwt_manifest(0, "APM", "1.2.3", 1, digest, sizes[i], m, sizeof m);
        boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
        assert_refused(&d, APM_E_IMAGE);
        fwt_destroy(&d);
    }
}

/* Test 5: a manifest signed by key 2, whose hash is in no anchor slot /
 * APM_E_ANCHOR, no signer recorded. */
static void test_unknown_signer_refused(void **state)
{
    fwt_dev d;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], zero[32] = {0};
    size_t mlen = good_manifest(2, m, sizeof m);
    (void)state;

    boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_refused(&d, APM_E_ANCHOR);
    assert_memory_equal(d.boot.signer_id, zero, 32);
    fwt_destroy(&d);
}

/* Test 6: a manifest by key 1 after anchor slot 1's revoke bit is burned /
 * APM_E_ANCHOR; key 0's manifest still boots on the same device. */
static void test_revoked_anchor_refused(void **state)
{
    fwt_dev d;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX];
    size_t mlen = good_manifest(1, m, sizeof m);
    (void)state;

    assert_int_equal(boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN), APM_OK);
    assert_int_equal(apm_otp_revoke_anchor(&d.sim.hal, 1), APM_OK);
    fwt_reboot(&d);
    assert_true(d.core.otp.anchor_revoked[1]);
    assert_refused(&d, APM_E_ANCHOR);

    mlen = good_manifest(0, m, sizeof m);
    fwt_install(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(&d), APM_OK);
    fwt_destroy(&d);
}

/* Test 7: a correctly signed manifest for component "HOST-OS", and one for
 * "apm" (case matters) / APM_E_BOOT. */
static void test_other_component_refused(void **state)
{
    static const char *const comps[] = {"HOST-OS", "apm", "APMX"};
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], digest[32];
    (void)state;

    fwt_image_digest(digest);
    for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
        fwt_dev d;
        size_t mlen = fwt_manifest(0, comps[i], "1.2.3", 1, digest, FWT_IMAGE_LEN, m, sizeof m);
        boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
        assert_refused(&d, APM_E_BOOT);
        fwt_destroy(&d);
    }
}

/* Test 8: manifest SVN 1, then the APM svn fuse raised to 2 / APM_E_ROLLBACK;
 * a manifest with SVN 2 (equal to the fuse) boots again. */
static void test_svn_below_fuse_refused(void **state)
{
    fwt_dev d;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], digest[32];
    size_t mlen = good_manifest(0, m, sizeof m);
    (void)state;

    assert_int_equal(boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&d.sim.hal, APM_SVN_APM, 2), APM_OK);
    fwt_reboot(&d);
    assert_int_equal(d.core.otp.svn[APM_SVN_APM], 2);
    assert_refused(&d, APM_E_ROLLBACK);

    fwt_image_digest(digest);
    mlen = fwt_manifest(0, "APM", "1.3.0", 2, digest, FWT_IMAGE_LEN, m, sizeof m);
    fwt_install(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(&d), APM_OK);
    assert_int_equal(d.boot.svn, 2);
    fwt_destroy(&d);
}

/* Rewrites the first bytes of slot A's manifest sector with hdr[0..n) and
 * keeps the rest of the sector as it was. */
static void rewrite_manifest_sector(fwt_dev *d, const uint8_t *bytes, size_t n)
{
    static uint8_t sector[APM_FLASH_SECTOR_SIZE];
    const apm_hal *hal = &d->sim.hal;
    uint32_t off = APM_FW_SLOT_A_MANIFEST * APM_FLASH_SECTOR_SIZE;
    assert_int_equal(hal->flash_read(hal->ctx, off, sector, sizeof sector), APM_HAL_OK);
    memcpy(sector, bytes, n);
    assert_int_equal(hal->flash_erase(hal->ctx, APM_FW_SLOT_A_MANIFEST), APM_HAL_OK);
    assert_int_equal(hal->flash_program(hal->ctx, off, sector, sizeof sector), APM_HAL_OK);
}

/* Test 9: a garbled manifest sector — wrong magic, wrong version, a reserved
 * byte set, a zero length, a length beyond the sector, a length longer than
 * the manifest (trailing 0xFF), bytes that are not a COSE message, and a
 * COSE message cut short / APM_E_CORRUPT each. */
static void test_garbled_manifest_refused(void **state)
{
    static const uint8_t headers[][12] = {
        {'D', 'F', 'W', 'X', 1, 0, 0, 0, 0, 0, 0, 0xF0}, {'D', 'F', 'W', 'M', 2, 0, 0, 0, 0, 0, 0, 0xF0},
        {'D', 'F', 'W', 'M', 1, 0, 1, 0, 0, 0, 0, 0xF0}, {'D', 'F', 'W', 'M', 1, 0, 0, 0, 0, 0, 0, 0},
        {'D', 'F', 'W', 'M', 1, 0, 0, 0, 0, 0, 0x10, 0}, {'D', 'F', 'W', 'M', 1, 0, 0, 0, 0, 0, 0x01, 0xF0},
    };
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], junk[64];
    size_t mlen = good_manifest(0, m, sizeof m);
    fwt_dev d;
    (void)state;

    assert_true(mlen < 256); /* the headers below patch only the length's low byte */
    assert_int_equal(boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN), APM_OK);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        uint8_t hdr[12];
        memcpy(hdr, headers[i], sizeof hdr);
        if (hdr[11] == 0xF0) /* keep the real length */
            hdr[11] = (uint8_t)mlen;
        rewrite_manifest_sector(&d, hdr, sizeof hdr);
        fwt_reboot(&d);
        assert_refused(&d, APM_E_CORRUPT);
        fwt_install(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
        assert_int_equal(fwt_reboot(&d), APM_OK);
    }

    memset(junk, 0x5a, sizeof junk);
    fwt_install(&d, junk, sizeof junk, fwt_image(), FWT_IMAGE_LEN);
    fwt_reboot(&d);
    assert_refused(&d, APM_E_CORRUPT);

    fwt_install(&d, m, mlen - 10, fwt_image(), FWT_IMAGE_LEN);
    fwt_reboot(&d);
    assert_refused(&d, APM_E_CORRUPT);
    fwt_destroy(&d);
}

/* Test 10: a manifest whose signature has one bit changed / APM_E_BOOT (the
 * signer is a known anchor, so this is not APM_E_ANCHOR). */
static void test_bad_signature_refused(void **state)
{
    fwt_dev d;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX];
    size_t mlen = good_manifest(0, m, sizeof m);
    (void)state;

    m[mlen - 1] ^= 0x80;
    boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_refused(&d, APM_E_BOOT);
    fwt_destroy(&d);
}

/* Test 11: a device whose slot A was never written / APM_E_CORRUPT, no
 * measurement, no token. */
static void test_empty_slot_refused(void **state)
{
    static const int keys[] = {0, 1};
    fwt_dev d;
    (void)state;

    fwt_create(&d, keys, 2);
    fwt_boot(&d);
    assert_refused(&d, APM_E_CORRUPT);
    assert_int_equal(d.meas.count, 0);
    assert_string_equal(d.boot.version, "");
    fwt_destroy(&d);
}

/* Test 12: verification writes nothing (B2) / the sim's write counter does
 * not move across apm_boot_verify_slot, for a good and for a refused image. */
static void test_boot_verify_writes_nothing(void **state)
{
    fwt_dev d;
    apm_boot_state b;
    uint8_t m[DROT_MANIFEST_SIGNED_MAX];
    size_t mlen = good_manifest(0, m, sizeof m);
    long before;
    (void)state;

    assert_int_equal(boot_with(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN), APM_OK);
    before = d.sim.writes;
    assert_int_equal(apm_boot_verify_slot(&d.core, APM_FW_SLOT_A, &b), APM_OK);
    assert_int_equal(d.sim.writes, before);
    m[mlen - 1] ^= 1;
    fwt_install(&d, m, mlen, fwt_image(), FWT_IMAGE_LEN);
    before = d.sim.writes;
    assert_int_equal(apm_boot_verify_slot(&d.core, APM_FW_SLOT_A, &b), APM_E_BOOT);
    assert_int_equal(d.sim.writes, before);
    fwt_destroy(&d);
}

/* Test 13: install with an empty or oversized manifest or image, or NULL /
 * APM_E_ARG, and nothing written. */
static void test_install_arguments(void **state)
{
    static const int keys[] = {0};
    static uint8_t big[APM_FW_IMAGE_MAX + 1];
    fwt_dev d;
    uint8_t m[8] = {0};
    long before;
    (void)state;

    fwt_create(&d, keys, 1);
    fwt_boot(&d);
    before = d.sim.writes;
    assert_int_equal(apm_boot_install_slot_a(&d.core, m, 0, fwt_image(), 10), APM_E_ARG);
    assert_int_equal(apm_boot_install_slot_a(&d.core, big, APM_FW_MANIFEST_MAX + 1, fwt_image(), 10),
                     APM_E_ARG);
    assert_int_equal(apm_boot_install_slot_a(&d.core, m, sizeof m, fwt_image(), 0), APM_E_ARG);
    assert_int_equal(apm_boot_install_slot_a(&d.core, m, sizeof m, big, APM_FW_IMAGE_MAX + 1), APM_E_ARG);
    assert_int_equal(apm_boot_install_slot_a(&d.core, NULL, sizeof m, fwt_image(), 10), APM_E_ARG);
    assert_int_equal(apm_boot_install_slot_a(&d.core, m, sizeof m, NULL, 10), APM_E_ARG);
    assert_int_equal(apm_boot_install_slot_a(NULL, m, sizeof m, fwt_image(), 10), APM_E_ARG);
    assert_int_equal(d.sim.writes, before);
    fwt_destroy(&d);
}

/* Test 14: an image of exactly APM_FW_IMAGE_MAX bytes / PASS (the bound is
 * inclusive and every sector is hashed). */
static void test_largest_image_passes(void **state)
{
    static uint8_t img[APM_FW_IMAGE_MAX];
    uint8_t m[DROT_MANIFEST_SIGNED_MAX], digest[32];
    fwt_dev d;
    size_t mlen;
    (void)state;

    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i ^ (i >> 9));
    assert_int_equal(drot_sha256(img, sizeof img, digest), DROT_OK);
    mlen = fwt_manifest(0, "APM", "9.9.9", 3, digest, sizeof img, m, sizeof m);
    assert_int_equal(boot_with(&d, m, mlen, img, sizeof img), APM_OK);
    assert_memory_equal(d.boot.digest, digest, 32);
    img[sizeof img - 1] ^= 1;
    fwt_install(&d, m, mlen, img, sizeof img);
    fwt_reboot(&d);
    assert_refused(&d, APM_E_IMAGE);
    fwt_destroy(&d);
}

/* Test 15: the measurement table: 8 entries fit, a 9th / APM_E_FULL; an
 * empty, 33-byte or non-printable type or version / APM_E_ARG; entries keep
 * their order and are not changed by later adds. */
static void test_measure_table(void **state)
{
    apm_measurements t;
    uint8_t dg[32], sg[32];
    char name[8];
    size_t idx = 99;
    (void)state;

    memset(dg, 0xd1, sizeof dg);
    memset(sg, 0x51, sizeof sg);
    apm_measure_reset(&t);
    assert_int_equal(t.count, 0);
    assert_int_equal(apm_measure_add(&t, "", 0, "1", 1, dg, sg, &idx), APM_E_ARG);
    assert_int_equal(apm_measure_add(&t, "A", 1, "", 0, dg, sg, &idx), APM_E_ARG);
    assert_int_equal(apm_measure_add(&t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 33, "1", 1, dg, sg, &idx),
                     APM_E_ARG);
    assert_int_equal(apm_measure_add(&t, "A\nB", 3, "1", 1, dg, sg, &idx), APM_E_ARG);
    assert_int_equal(apm_measure_add(&t, "A", 1, "1\0", 2, dg, sg, &idx), APM_E_ARG);
    assert_int_equal(apm_measure_add(&t, "A", 1, "1", 1, NULL, sg, &idx), APM_E_ARG);
    assert_int_equal(t.count, 0);
    for (size_t i = 0; i < APM_MEASURE_MAX; i++) {
        snprintf(name, sizeof name, "C%zu", i);
        dg[0] = (uint8_t)i;
        assert_int_equal(apm_measure_add(&t, name, strlen(name), "v", 1, dg, sg, &idx), APM_OK);
        assert_int_equal(idx, i);
    }
    assert_int_equal(apm_measure_add(&t, "X", 1, "v", 1, dg, sg, &idx), APM_E_FULL);
    assert_int_equal(t.count, APM_MEASURE_MAX);
    for (size_t i = 0; i < APM_MEASURE_MAX; i++) {
        snprintf(name, sizeof name, "C%zu", i);
        assert_string_equal(t.m[i].type, name);
        assert_int_equal(t.m[i].digest[0], i);
    }
    assert_int_equal(apm_measure_add(&t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 32, "1", 1, dg, sg, NULL),
                     APM_E_FULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_image_passes_and_is_measured),
        cmocka_unit_test(test_second_anchor_is_the_signer),
        cmocka_unit_test(test_tampered_image_refused),
        cmocka_unit_test(test_wrong_size_refused),
        cmocka_unit_test(test_unknown_signer_refused),
        cmocka_unit_test(test_revoked_anchor_refused),
        cmocka_unit_test(test_other_component_refused),
        cmocka_unit_test(test_svn_below_fuse_refused),
        cmocka_unit_test(test_garbled_manifest_refused),
        cmocka_unit_test(test_bad_signature_refused),
        cmocka_unit_test(test_empty_slot_refused),
        cmocka_unit_test(test_boot_verify_writes_nothing),
        cmocka_unit_test(test_install_arguments),
        cmocka_unit_test(test_largest_image_passes),
        cmocka_unit_test(test_measure_table),
    };
    return cmocka_run_group_tests(tests, NULL, fwt_group_teardown);
}
