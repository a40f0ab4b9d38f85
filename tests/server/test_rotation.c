/*
 * test_rotation.c — the server's side of a device-root-key rotation
 * (server/src/rotation.h) against the device-side codec (drot/rotate.h),
 * with a real file key store:
 *
 *   1. server mode: the instruction verifies under the authority's anchor,
 *      names the device, epoch + 1 and the nonce; the device's DRK opens
 *      KeyA and it matches new_pub; a receipt signed by KeyA is accepted
 *   2. receipts refused: signed by the old DRK or another key, another
 *      device, epoch, nonce or instruction, truncated, oversized, garbage
 *   3. each instruction has a fresh KeyA (two calls, two keys)
 *   4. device mode: a proposal by the registered DRK and KeyA is endorsed;
 *      the endorsement verifies under the anchor and carries the proposal
 *   5. proposals refused: signed by another DRK, for another device, at a
 *      stale epoch, KeyA = the old DRK, truncated, garbage
 *   6. a key store without the authority key: a clear error, nothing out
 *   7. anchor instructions: ADD signed by the authority and cross-signed by
 *      authority-2 verifies with its consent; CONFIRM and REVOKE signed by
 *      authority-2 verify under its slot; a bad op or slot is refused; the
 *      custody name of a public key is found
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cose.h"
#include "drot/rotate.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "keys.h"
#include "rotation.h"

#define PASS "rotation-test-passphrase"

typedef struct fx {
    char dir[64];
    ds_keystore *ks;
    drot_anchor_slot anchor;
    drot_p256_priv drk;
    drot_p256_pub drk_pub;
    uint8_t device_id[16];
    uint8_t nonce[32];
    char err[256];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    ds_key_info info;
    drot_p256_pub apub;
    uint8_t raw[65];
    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/drot-rot-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    strcat(f->dir, "/keys");
    if (ds_keystore_create_file(f->dir, PASS, &f->ks, err, sizeof err) != DS_KEYS_OK ||
        ds_keys_generate(f->ks, DS_ROLE_AUTHORITY, &info) != DS_KEYS_OK ||
        ds_keys_p256_public(f->ks, "authority", &apub, raw) != DS_KEYS_OK)
        return -1;
    if (drot_sha256(raw, sizeof raw, f->anchor.hash) != DROT_OK)
        return -1;
    f->anchor.present = true;
    drot_rng rng = drot_sysrng();
    if (drot_p256_keygen(&rng, &f->drk, &f->drk_pub) != DROT_OK)
        return -1;
    memset(f->device_id, 0xd7, sizeof f->device_id);
    memset(f->nonce, 0x6e, sizeof f->nonce);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    ds_keystore_close(f->ks);
    f->dir[strlen(f->dir) - 5] = '\0'; /* strip "/keys" */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    drot_wipe(f, sizeof *f);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* The device's receipt for what it acted on, signed by KeyA. */
static size_t device_receipt(const drot_p256_priv *keya, const drot_p256_pub *keya_pub, const uint8_t id[16],
                             uint64_t new_epoch, const uint8_t nonce[32], const uint8_t tbs[32], uint8_t *out,
                             size_t cap)
{
    drot_rotate_receipt r;
    memcpy(r.device_id, id, 16);
    r.new_epoch = new_epoch;
    memcpy(r.nonce, nonce, 32);
    memcpy(r.instruction, tbs, 32);
    size_t len = 0;
    assert_int_equal(drot_rotate_receipt_sign(keya, keya_pub, &r, out, cap, &len), DROT_OK);
    return len;
}

/* Test 1. */
static void test_server_mode(void **state)
{
    fx *f = *state;
    static ds_rot_issued is;
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority", f->device_id, 6, f->drk_pub.q, f->nonce,
                                               &is, f->err, sizeof f->err),
                     0);
    assert_int_equal(is.new_epoch, 7);
    assert_memory_equal(is.nonce, f->nonce, 32);

    drot_rotate_root r;
    size_t slot = 9;
    uint8_t tbs[32];
    assert_int_equal(drot_rotate_root_verify(is.msg, is.msg_len, &f->anchor, 1, &r, &slot, tbs), DROT_OK);
    assert_int_equal(slot, 0);
    assert_memory_equal(tbs, is.tbs, 32);
    assert_memory_equal(r.device_id, f->device_id, 16);
    assert_int_equal(r.epoch, 6);
    assert_int_equal(r.new_epoch, 7);
    assert_memory_equal(r.nonce, f->nonce, 32);
    assert_memory_equal(r.keya.q, is.new_pub, 65);

    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    assert_int_equal(drot_rotate_root_open(&r, &f->drk, &keya), DROT_OK);
    assert_int_equal(drot_p256_pub_import(is.new_pub, 65, &keya_pub), DROT_OK);
    uint8_t rc[1024];
    size_t rlen = device_receipt(&keya, &keya_pub, f->device_id, 7, f->nonce, tbs, rc, sizeof rc);
    assert_int_equal(
        ds_rot_check_receipt(rc, rlen, f->device_id, 7, is.new_pub, f->nonce, is.tbs, f->err, sizeof f->err),
        0);
    drot_wipe(&keya, sizeof keya);
}

/* Test 2. */
static void test_receipt_refused(void **state)
{
    fx *f = *state;
    static ds_rot_issued is;
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority", f->device_id, 0, f->drk_pub.q, f->nonce,
                                               &is, f->err, sizeof f->err),
                     0);
    drot_rotate_root r;
    drot_p256_priv keya, other;
    drot_p256_pub keya_pub, other_pub;
    assert_int_equal(drot_rotate_root_verify(is.msg, is.msg_len, &f->anchor, 1, &r, NULL, NULL), DROT_OK);
    assert_int_equal(drot_rotate_root_open(&r, &f->drk, &keya), DROT_OK);
    assert_int_equal(drot_p256_pub_import(is.new_pub, 65, &keya_pub), DROT_OK);
    drot_rng rng = drot_sysrng();
    assert_int_equal(drot_p256_keygen(&rng, &other, &other_pub), DROT_OK);

    uint8_t rc[1024], other_id[16], other_nonce[32], other_tbs[32];
    memset(other_id, 0x11, 16);
    memset(other_nonce, 0x22, 32);
    memset(other_tbs, 0x33, 32);
    struct {
        const drot_p256_priv *k;
        const drot_p256_pub *p;
        const uint8_t *id;
        uint64_t epoch;
        const uint8_t *nonce, *tbs;
        const char *why;
    } bad[] = {
        {&f->drk, &f->drk_pub, f->device_id, 1, f->nonce, is.tbs, "signed by the new key"},
        {&other, &other_pub, f->device_id, 1, f->nonce, is.tbs, "signed by the new key"},
        {&keya, &keya_pub, other_id, 1, f->nonce, is.tbs, "another device"},
        {&keya, &keya_pub, f->device_id, 2, f->nonce, is.tbs, "new epoch 2, expected 1"},
        {&keya, &keya_pub, f->device_id, 1, other_nonce, is.tbs, "another rotation nonce"},
        {&keya, &keya_pub, f->device_id, 1, f->nonce, other_tbs, "another instruction"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = device_receipt(bad[i].k, bad[i].p, bad[i].id, bad[i].epoch, bad[i].nonce, bad[i].tbs, rc,
                                  sizeof rc);
        f->err[0] = '\0';
        assert_int_equal(
            ds_rot_check_receipt(rc, n, f->device_id, 1, is.new_pub, f->nonce, is.tbs, f->err, sizeof f->err),
            -1);
        if (strstr(f->err, bad[i].why) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, f->err, bad[i].why);
    }
    /* Truncated, oversized, garbage, empty. */
    size_t n = device_receipt(&keya, &keya_pub, f->device_id, 1, f->nonce, is.tbs, rc, sizeof rc);
    assert_int_equal(ds_rot_check_receipt(rc, n, f->device_id, 1, is.new_pub, f->nonce, is.tbs, f->err, 256),
                     0);
    assert_int_equal(
        ds_rot_check_receipt(rc, n - 1, f->device_id, 1, is.new_pub, f->nonce, is.tbs, f->err, 256), -1);
    static uint8_t big[DROT_ROTATE_MAX_MSG + 1];
    memcpy(big, rc, n);
    assert_int_equal(ds_rot_check_receipt(big, sizeof big, f->device_id, 1, is.new_pub, f->nonce, is.tbs,
                                          f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "bytes"));
    memset(big, 0xff, 64);
    assert_int_equal(
        ds_rot_check_receipt(big, 64, f->device_id, 1, is.new_pub, f->nonce, is.tbs, f->err, sizeof f->err),
        -1);
    assert_int_equal(
        ds_rot_check_receipt(rc, 0, f->device_id, 1, is.new_pub, f->nonce, is.tbs, f->err, sizeof f->err),
        -1);
    drot_wipe(&keya, sizeof keya);
    drot_wipe(&other, sizeof other);
}

/* Test 3. */
static void test_fresh_keya(void **state)
{
    fx *f = *state;
    static ds_rot_issued a, b;
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority", f->device_id, 3, f->drk_pub.q, f->nonce,
                                               &a, f->err, 256),
                     0);
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority", f->device_id, 3, f->drk_pub.q, f->nonce,
                                               &b, f->err, 256),
                     0);
    assert_memory_not_equal(a.new_pub, b.new_pub, 65);
    assert_memory_not_equal(a.tbs, b.tbs, 32);
    /* The epoch cannot overflow; a DRK that is not a point is refused. */
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority", f->device_id, UINT64_MAX, f->drk_pub.q,
                                               f->nonce, &a, f->err, sizeof f->err),
                     -1);
    uint8_t bad_drk[65];
    memset(bad_drk, 0x04, sizeof bad_drk);
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority", f->device_id, 3, bad_drk, f->nonce, &a,
                                               f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "not a P-256 point"));
}

static size_t proposal(const drot_p256_priv *drk, const drot_p256_pub *drk_pub, const drot_p256_priv *keya,
                       const drot_p256_pub *keya_pub, const uint8_t id[16], uint64_t epoch,
                       const uint8_t nonce[32], uint8_t *out, size_t cap)
{
    drot_rotate_proposal p;
    memcpy(p.device_id, id, 16);
    p.epoch = epoch;
    p.new_epoch = epoch + 1;
    p.keya = *keya_pub;
    memcpy(p.nonce, nonce, 32);
    size_t len = 0;
    assert_int_equal(drot_rotate_proposal_sign(drk, drk_pub, keya, &p, out, cap, &len), DROT_OK);
    return len;
}

/* Test 4. */
static void test_device_mode(void **state)
{
    fx *f = *state;
    drot_rng rng = drot_sysrng();
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    assert_int_equal(drot_p256_keygen(&rng, &keya, &keya_pub), DROT_OK);
    uint8_t prop[1024];
    size_t plen =
        proposal(&f->drk, &f->drk_pub, &keya, &keya_pub, f->device_id, 4, f->nonce, prop, sizeof prop);
    static ds_rot_issued is;
    assert_int_equal(ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, plen, &is,
                                    f->err, sizeof f->err),
                     0);
    assert_memory_equal(is.new_pub, keya_pub.q, 65);
    assert_memory_equal(is.nonce, f->nonce, 32);
    assert_int_equal(is.new_epoch, 5);
    drot_rotate_proposal e;
    uint8_t tbs[32];
    assert_int_equal(drot_rotate_endorse_verify(is.msg, is.msg_len, &f->anchor, 1, &e, NULL, tbs), DROT_OK);
    assert_memory_equal(tbs, is.tbs, 32);
    assert_memory_equal(e.device_id, f->device_id, 16);
    assert_int_equal(e.epoch, 4);
    assert_memory_equal(e.keya.q, keya_pub.q, 65);
    uint8_t rc[1024];
    size_t rlen = device_receipt(&keya, &keya_pub, f->device_id, 5, f->nonce, tbs, rc, sizeof rc);
    assert_int_equal(
        ds_rot_check_receipt(rc, rlen, f->device_id, 5, is.new_pub, is.nonce, is.tbs, f->err, sizeof f->err),
        0);
    drot_wipe(&keya, sizeof keya);
}

/* Test 5. */
static void test_proposal_refused(void **state)
{
    fx *f = *state;
    drot_rng rng = drot_sysrng();
    drot_p256_priv keya, other;
    drot_p256_pub keya_pub, other_pub;
    assert_int_equal(drot_p256_keygen(&rng, &keya, &keya_pub), DROT_OK);
    assert_int_equal(drot_p256_keygen(&rng, &other, &other_pub), DROT_OK);
    uint8_t prop[1024], other_id[16];
    memset(other_id, 0x99, 16);
    static ds_rot_issued is;
    size_t n;

    n = proposal(&other, &other_pub, &keya, &keya_pub, f->device_id, 4, f->nonce, prop, sizeof prop);
    assert_int_equal(ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, n, &is, f->err,
                                    sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "current DRK"));
    n = proposal(&f->drk, &f->drk_pub, &keya, &keya_pub, other_id, 4, f->nonce, prop, sizeof prop);
    assert_int_equal(ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, n, &is, f->err,
                                    sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "another device"));
    n = proposal(&f->drk, &f->drk_pub, &keya, &keya_pub, f->device_id, 3, f->nonce, prop, sizeof prop);
    assert_int_equal(ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, n, &is, f->err,
                                    sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "epoch 4"));
    n = proposal(&f->drk, &f->drk_pub, &f->drk, &f->drk_pub, f->device_id, 4, f->nonce, prop, sizeof prop);
    assert_int_equal(ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, n, &is, f->err,
                                    sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "current DRK"));
    n = proposal(&f->drk, &f->drk_pub, &keya, &keya_pub, f->device_id, 4, f->nonce, prop, sizeof prop);
    assert_int_equal(
        ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, n - 1, &is, f->err, 256), -1);
    memset(prop, 0xa5, 100);
    assert_int_equal(
        ds_rot_endorse(f->ks, "authority", f->device_id, 4, f->drk_pub.q, prop, 100, &is, f->err, 256), -1);
    uint8_t zero[sizeof is.msg];
    memset(zero, 0, sizeof zero);
    assert_memory_equal(is.msg, zero, sizeof zero); /* nothing handed out */
    drot_wipe(&keya, sizeof keya);
    drot_wipe(&other, sizeof other);
}

/* Test 6. */
static void test_no_authority(void **state)
{
    fx *f = *state;
    static ds_rot_issued is;
    assert_int_equal(ds_rot_server_instruction(f->ks, "authority-2", f->device_id, 0, f->drk_pub.q, f->nonce,
                                               &is, f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "authority-2"));
    assert_int_equal(is.msg_len, 0);
}

/* Test 7. */
static void test_anchor_instructions(void **state)
{
    fx *f = *state;
    ds_key_info info;
    drot_p256_pub p2;
    uint8_t raw2[65];
    assert_int_equal(ds_keys_generate(f->ks, DS_ROLE_AUTHORITY, &info), DS_KEYS_OK);
    assert_string_equal(info.name, "authority-2");
    assert_int_equal(ds_keys_p256_public(f->ks, "authority-2", &p2, raw2), DS_KEYS_OK);
    drot_anchor_slot slots[2];
    memset(slots, 0, sizeof slots);
    slots[0] = f->anchor;
    assert_int_equal(drot_sha256(raw2, 65, slots[1].hash), DROT_OK);
    static ds_rot_issued is;
    drot_anchor_instr a;
    size_t slot = 9;

    assert_int_equal(ds_rot_anchor_instruction(f->ks, "authority", "authority-2", DROT_ANCHOR_OP_ADD, 0,
                                               f->device_id, f->nonce, &is, f->err, sizeof f->err),
                     0);
    assert_int_equal(drot_anchor_instr_verify(is.msg, is.msg_len, slots, 1, &a, &slot), DROT_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(a.op, DROT_ANCHOR_OP_ADD);
    assert_memory_equal(a.new_key.q, raw2, 65);
    assert_memory_equal(is.new_pub, raw2, 65);
    assert_memory_equal(a.nonce, f->nonce, 32);

    slots[1].present = true;
    assert_int_equal(ds_rot_anchor_instruction(f->ks, "authority-2", NULL, DROT_ANCHOR_OP_CONFIRM, 0,
                                               f->device_id, f->nonce, &is, f->err, sizeof f->err),
                     0);
    assert_int_equal(drot_anchor_instr_verify(is.msg, is.msg_len, slots, 2, &a, &slot), DROT_OK);
    assert_int_equal(slot, 1);
    assert_int_equal(a.op, DROT_ANCHOR_OP_CONFIRM);
    assert_int_equal(ds_rot_anchor_instruction(f->ks, "authority-2", NULL, DROT_ANCHOR_OP_REVOKE, 0,
                                               f->device_id, f->nonce, &is, f->err, sizeof f->err),
                     0);
    assert_int_equal(drot_anchor_instr_verify(is.msg, is.msg_len, slots, 2, &a, &slot), DROT_OK);
    assert_int_equal(a.op, DROT_ANCHOR_OP_REVOKE);
    assert_int_equal(a.slot, 0);
    /* Signed by authority-2 alone, it does not verify where only the old key is trusted. */
    assert_int_not_equal(drot_anchor_instr_verify(is.msg, is.msg_len, slots, 1, &a, &slot), DROT_OK);

    assert_int_equal(ds_rot_anchor_instruction(f->ks, "authority-2", NULL, DROT_ANCHOR_OP_REVOKE, 4,
                                               f->device_id, f->nonce, &is, f->err, sizeof f->err),
                     -1);
    assert_int_equal(ds_rot_anchor_instruction(f->ks, "authority-2", NULL, 9, 0, f->device_id, f->nonce, &is,
                                               f->err, sizeof f->err),
                     -1);
    assert_int_equal(ds_rot_anchor_instruction(f->ks, "authority", "authority-3", DROT_ANCHOR_OP_ADD, 0,
                                               f->device_id, f->nonce, &is, f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "authority-3"));
    char name[DS_KEY_NAME_MAX];
    assert_int_equal(ds_rot_authority_name(f->ks, raw2, name), 0);
    assert_string_equal(name, "authority-2");
    assert_int_equal(ds_rot_authority_name(f->ks, f->drk_pub.q, name), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_keya, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proposal_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_authority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchor_instructions, setup, teardown),
    };
    return cmocka_run_group_tests_name("rotation", tests, NULL, NULL);
}
