/*
 * test_authority.c — the authority-signed object envelope (common/src/authority.c).
 *
 * Keys A, B and C are fixed scalars. Messages that must be refused for one
 * reason are otherwise correct and correctly signed (drot_cose_sign1_sign
 * with the key the kid names, unless the test is about that), so each test
 * shows that the rule it names is what stops the message.
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

#include "drot/authority.h"
#include "drot/cose.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#define NKEYS 3
#define BUF   1024

static drot_p256_priv g_priv[NKEYS];
static drot_p256_pub g_pub[NKEYS];
static uint8_t g_hash[NKEYS][DROT_SHA256_LEN];
static const uint8_t g_payload[] = "authority object payload";
static uint8_t g_msg[BUF];
static size_t g_len;

enum { A, B, C };

static int setup(void **state)
{
    (void)state;
    for (int k = 0; k < NKEYS; k++) {
        uint8_t d[DROT_P256_SCALAR_LEN];
        memset(d, 0x11 * (k + 1), sizeof d);
        if (drot_p256_key_from_scalar(d, &g_priv[k], &g_pub[k]) != DROT_OK)
            return -1;
        if (drot_sha256(g_pub[k].q, DROT_P256_PUB_LEN, g_hash[k]) != DROT_OK)
            return -1;
    }
    return 0;
}

static drot_anchor_slot slot(int key, bool present, bool revoked)
{
    drot_anchor_slot s;
    memset(&s, 0, sizeof s);
    memcpy(s.hash, g_hash[key], DROT_SHA256_LEN);
    s.present = present;
    s.revoked = revoked;
    return s;
}

/* Signs g_payload as kind ct with key A into g_msg. */
static void sign_a(uint64_t ct)
{
    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[A], ct, g_payload, sizeof g_payload, g_msg,
                                         sizeof g_msg, &g_len),
                     DROT_OK);
}

/* A COSE_Sign1 signed by signer, with an arbitrary kid and content type. */
static void sign_raw(int signer, const uint8_t *kid, size_t kid_len, bool has_ct, uint64_t ct)
{
    drot_cose_sign1_params p;
    memset(&p, 0, sizeof p);
    p.kid = kid;
    p.kid_len = kid_len;
    p.has_content_type = has_ct;
    p.content_type = ct;
    assert_int_equal(
        drot_cose_sign1_sign(&g_priv[signer], &p, g_payload, sizeof g_payload, g_msg, sizeof g_msg, &g_len),
        DROT_OK);
}

static bool view_is_zero(const drot_cose_sign1_view *v)
{
    static const drot_cose_sign1_view zero;
    return memcmp(v, &zero, sizeof zero) == 0;
}

/* Verifies g_msg as kind ct; on failure checks the view is zeroed and the
 * index untouched; returns the status and (on success) the index. */
static drot_status verify(uint64_t ct, const drot_anchor_slot *slots, size_t n, drot_cose_sign1_view *view,
                          size_t *index)
{
    memset(view, 0xA5, sizeof *view);
    *index = 99;
    drot_status st = drot_authority_verify(g_msg, g_len, ct, slots, n, view, index);
    if (st != DROT_OK) {
        assert_true(view_is_zero(view));
        assert_int_equal(*index, 99);
    }
    return st;
}

/* Test 1: sign with A, A's hash in slot 0 / DROT_OK, index 0, the view shows
 * the payload, kind and kid; the bytes are the documented envelope. */
static void test_round_trip(void **state)
{
    (void)state;
    drot_anchor_slot s[1] = {slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(v.payload_len, sizeof g_payload);
    assert_memory_equal(v.payload, g_payload, sizeof g_payload);
    assert_true(v.has_content_type);
    assert_int_equal(v.content_type, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(v.kid_len, DROT_P256_PUB_LEN);
    assert_memory_equal(v.kid, g_pub[A].q, DROT_P256_PUB_LEN);
    assert_true(v.tagged);

    /* 18([h'A2 01 26 03 19 4401', {4: h'04…'}, …]), assembled by hand. */
    uint8_t head[] = {0xD2, 0x84, 0x47, 0xA2, 0x01, 0x26, 0x03, 0x19, 0x44, 0x01, 0xA1, 0x04, 0x58, 0x41};
    assert_true(g_len > sizeof head + DROT_P256_PUB_LEN);
    assert_memory_equal(g_msg, head, sizeof head);
    assert_memory_equal(g_msg + sizeof head, g_pub[A].q, DROT_P256_PUB_LEN);
}

/* Test 2: A's hash in slot i (0..3), the other slots hold B and C or are
 * blank / DROT_OK with index i. */
static void test_each_slot_position(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_ROTATE_ROOT);
    for (size_t i = 0; i < DROT_AUTHORITY_MAX_SLOTS; i++) {
        drot_anchor_slot s[DROT_AUTHORITY_MAX_SLOTS];
        for (size_t j = 0; j < DROT_AUTHORITY_MAX_SLOTS; j++)
            s[j] = slot(j % 2 ? B : C, j != 3, false);
        s[i] = slot(A, true, false);
        assert_int_equal(verify(DROT_AUTH_CT_ROTATE_ROOT, s, DROT_AUTHORITY_MAX_SLOTS, &v, &idx), DROT_OK);
        assert_int_equal(idx, i);
    }
}

/* Test 3: A's hash in no slot (B, C, blank), or no slots at all / DROT_E_VERIFY. */
static void test_unknown_signer(void **state)
{
    (void)state;
    drot_anchor_slot s[3] = {slot(B, true, false), slot(C, true, false), {{0}, false, false}};
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 3, &v, &idx), DROT_E_VERIFY);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, NULL, 0, &v, &idx), DROT_E_VERIFY);
}

/* Test 4: A's hash only in a revoked slot (in each position) / DROT_E_BADKEY,
 * distinct from the unknown signer's DROT_E_VERIFY. */
static void test_revoked_anchor(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_MANIFEST);
    for (size_t i = 0; i < DROT_AUTHORITY_MAX_SLOTS; i++) {
        drot_anchor_slot s[DROT_AUTHORITY_MAX_SLOTS];
        for (size_t j = 0; j < DROT_AUTHORITY_MAX_SLOTS; j++)
            s[j] = slot(B, true, false);
        s[i] = slot(A, true, true);
        assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, DROT_AUTHORITY_MAX_SLOTS, &v, &idx), DROT_E_BADKEY);
    }
}

/* Test 5: A's hash in a revoked slot and a good one (either order) / DROT_OK
 * with the good slot's index; with two good ones, the lower. */
static void test_revoked_and_good(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_MANIFEST);
    drot_anchor_slot s1[4] = {slot(A, true, true), slot(B, true, false), slot(A, true, false),
                              slot(C, true, false)};
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s1, 4, &v, &idx), DROT_OK);
    assert_int_equal(idx, 2);
    drot_anchor_slot s2[4] = {slot(B, true, false), slot(A, true, false), slot(C, true, false),
                              slot(A, true, true)};
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s2, 4, &v, &idx), DROT_OK);
    assert_int_equal(idx, 1);
    drot_anchor_slot s3[4] = {slot(A, true, true), slot(A, true, false), slot(A, true, false),
                              slot(A, true, true)};
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s3, 4, &v, &idx), DROT_OK);
    assert_int_equal(idx, 1);
}

/* Test 6: A's hash in slots not marked present (with or without a revoke
 * bit) / ignored: DROT_E_VERIFY, not DROT_OK nor DROT_E_BADKEY; a present
 * good slot after them still matches. */
static void test_absent_slots_ignored(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_MANIFEST);
    drot_anchor_slot s[4] = {slot(A, false, false), slot(A, false, true), slot(B, true, false),
                             slot(A, false, false)};
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 4, &v, &idx), DROT_E_VERIFY);
    s[3] = slot(A, true, false);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 4, &v, &idx), DROT_OK);
    assert_int_equal(idx, 3);
}

/* Test 7: kid absent, 64 bytes, 66 bytes, compressed, or 65 bytes off the
 * curve (its hash trusted all the same) / DROT_E_MALFORMED (never BADKEY). */
static void test_bad_kid(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    size_t idx;
    uint8_t kid[DROT_P256_PUB_LEN + 1];
    drot_anchor_slot s[2] = {slot(A, true, false), slot(A, true, false)};

    sign_raw(A, NULL, 0, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_MALFORMED);

    sign_raw(A, g_pub[A].q, DROT_P256_PUB_LEN - 1, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_MALFORMED);
    sign_raw(A, g_pub[A].q + 1, DROT_P256_PUB_LEN - 1, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_MALFORMED);

    memcpy(kid, g_pub[A].q, DROT_P256_PUB_LEN);
    kid[DROT_P256_PUB_LEN] = 0;
    sign_raw(A, kid, sizeof kid, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_MALFORMED);

    /* Compressed form of A (0x02/0x03 || X, 33 bytes). */
    kid[0] = (uint8_t)(0x02 | (g_pub[A].q[64] & 1));
    memcpy(kid + 1, g_pub[A].q + 1, 32);
    sign_raw(A, kid, 33, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_MALFORMED);

    /* Off the curve: A with the last byte of Y changed; trust its hash so
     * that only the point check can refuse it. */
    memcpy(kid, g_pub[A].q, DROT_P256_PUB_LEN);
    kid[64] ^= 0x01;
    assert_int_not_equal(drot_p256_pub_import(kid, DROT_P256_PUB_LEN, &(drot_p256_pub){0}), DROT_OK);
    assert_int_equal(drot_sha256(kid, DROT_P256_PUB_LEN, s[1].hash), DROT_OK);
    sign_raw(A, kid, DROT_P256_PUB_LEN, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 2, &v, &idx), DROT_E_MALFORMED);

    /* The same construction with the real kid passes: the helper is sound. */
    sign_raw(A, g_pub[A].q, DROT_P256_PUB_LEN, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_OK);
}

/* Test 8: no content type; or an object of each kind presented as each
 * other kind (a manifest as a rotate-root instruction…) / DROT_E_UNSUPPORTED. */
static void test_content_type(void **state)
{
    (void)state;
    static const uint64_t kinds[] = {DROT_AUTH_CT_MANIFEST, DROT_AUTH_CT_ROTATE_ROOT,
                                     DROT_AUTH_CT_ROTATE_ANCHOR, DROT_AUTH_CT_REVOCATION};
    drot_anchor_slot s[1] = {slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx;

    sign_raw(A, g_pub[A].q, DROT_P256_PUB_LEN, false, 0);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_UNSUPPORTED);
    assert_int_equal(verify(0, s, 1, &v, &idx), DROT_E_UNSUPPORTED);

    for (size_t i = 0; i < 4; i++) {
        sign_a(kinds[i]);
        for (size_t j = 0; j < 4; j++)
            assert_int_equal(verify(kinds[j], s, 1, &v, &idx), i == j ? DROT_OK : DROT_E_UNSUPPORTED);
    }
    /* Refused as the wrong kind before the anchor is looked at. */
    sign_a(DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_ROTATE_ROOT, NULL, 0, &v, &idx), DROT_E_UNSUPPORTED);
}

/* Test 9: signed by A with kid = B, B trusted / DROT_E_VERIFY; and
 * drot_authority_sign refuses a pub that is not priv's / DROT_E_ARG. */
static void test_kid_of_other_key(void **state)
{
    (void)state;
    drot_anchor_slot s[2] = {slot(B, true, false), slot(A, false, false)};
    drot_cose_sign1_view v;
    size_t idx;

    sign_raw(A, g_pub[B].q, DROT_P256_PUB_LEN, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 2, &v, &idx), DROT_E_VERIFY);
    /* And signed by B it passes, so it was the key that failed. */
    sign_raw(B, g_pub[B].q, DROT_P256_PUB_LEN, true, DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 2, &v, &idx), DROT_OK);

    size_t len = 7;
    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[B], DROT_AUTH_CT_MANIFEST, g_payload,
                                         sizeof g_payload, g_msg, sizeof g_msg, &len),
                     DROT_E_ARG);
    assert_int_equal(len, 0);
}

/* Test 10: one byte flipped in the payload, the signature or the content
 * type / DROT_E_VERIFY (DROT_E_UNSUPPORTED for the content type). */
static void test_tampered(void **state)
{
    (void)state;
    drot_anchor_slot s[1] = {slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx;
    size_t payload_off, ct_off = 8; /* D2 84 47 A2 01 26 03 19 [44] 01 */

    sign_a(DROT_AUTH_CT_MANIFEST);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_OK);
    payload_off = (size_t)(v.payload - g_msg);

    g_msg[payload_off + 3] ^= 0x01;
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_VERIFY);
    g_msg[payload_off + 3] ^= 0x01;

    g_msg[g_len - 1] ^= 0x80;
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_VERIFY);
    g_msg[g_len - 1] ^= 0x80;

    /* 0x4401 → 0x4501: now the wrong kind; asked for as that kind, the
     * signature no longer matches. */
    g_msg[ct_off] ^= 0x01;
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_UNSUPPORTED);
    assert_int_equal(verify(0x4501, s, 1, &v, &idx), DROT_E_VERIFY);
    g_msg[ct_off] ^= 0x01;

    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_OK);
}

/* Test 11: the message without tag 18 / accepted, view.tagged false. */
static void test_untagged(void **state)
{
    (void)state;
    drot_anchor_slot s[1] = {slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx;

    sign_a(DROT_AUTH_CT_REVOCATION);
    assert_int_equal(g_msg[0], 0xD2);
    memmove(g_msg, g_msg + 1, g_len - 1);
    g_len--;
    assert_int_equal(verify(DROT_AUTH_CT_REVOCATION, s, 1, &v, &idx), DROT_OK);
    assert_false(v.tagged);
    assert_int_equal(idx, 0);
}

/* Test 12: malformed envelopes (truncated at every length, trailing byte,
 * empty) / the decoder's status, view zeroed, index untouched. */
static void test_malformed_envelope(void **state)
{
    (void)state;
    drot_anchor_slot s[1] = {slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx;
    size_t full;

    sign_a(DROT_AUTH_CT_MANIFEST);
    full = g_len;
    for (g_len = 0; g_len < full; g_len++)
        assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_TRUNCATED);
    g_msg[full] = 0x00;
    g_len = full + 1;
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_TRAILING);
}

/* Test 13: NULL view / msg / slots with n > 0, more than 4 slots / DROT_E_ARG,
 * view (when given) zeroed. */
static void test_verify_args(void **state)
{
    (void)state;
    drot_anchor_slot s[5] = {slot(A, true, false), slot(A, true, false), slot(A, true, false),
                             slot(A, true, false), slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx = 99;

    sign_a(DROT_AUTH_CT_MANIFEST);
    assert_int_equal(drot_authority_verify(g_msg, g_len, DROT_AUTH_CT_MANIFEST, s, 1, NULL, &idx),
                     DROT_E_ARG);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, s, 5, &v, &idx), DROT_E_ARG);
    assert_int_equal(verify(DROT_AUTH_CT_MANIFEST, NULL, 1, &v, &idx), DROT_E_ARG);
    memset(&v, 0xA5, sizeof v);
    assert_int_equal(drot_authority_verify(NULL, g_len, DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_E_ARG);
    assert_true(view_is_zero(&v));
    /* slot_index may be NULL. */
    assert_int_equal(drot_authority_verify(g_msg, g_len, DROT_AUTH_CT_MANIFEST, s, 4, &v, NULL), DROT_OK);
}

/* Test 14: sign into (NULL, 0), one byte short, exact size / measures, then
 * DROT_E_BUFFER with the size needed and no valid message, then DROT_OK; the size
 * is within DROT_AUTHORITY_SIZE_BOUND. Empty payload signs and verifies. */
static void test_sign_buffer(void **state)
{
    (void)state;
    size_t need = 0, len = 0;
    drot_anchor_slot s[1] = {slot(A, true, false)};
    drot_cose_sign1_view v;
    size_t idx;

    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[A], DROT_AUTH_CT_MANIFEST, g_payload,
                                         sizeof g_payload, NULL, 0, &need),
                     DROT_E_BUFFER);
    assert_true(need > sizeof g_payload + DROT_P256_PUB_LEN + DROT_P256_SIG_LEN);
    assert_true(need <= DROT_AUTHORITY_SIZE_BOUND(sizeof g_payload));
    memset(g_msg, 0xEE, sizeof g_msg);
    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[A], DROT_AUTH_CT_MANIFEST, g_payload,
                                         sizeof g_payload, g_msg, need - 1, &len),
                     DROT_E_BUFFER);
    assert_int_equal(len, need);
    g_len = need;
    assert_int_not_equal(verify(DROT_AUTH_CT_MANIFEST, s, 1, &v, &idx), DROT_OK);
    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[A], DROT_AUTH_CT_MANIFEST, g_payload,
                                         sizeof g_payload, g_msg, need, &len),
                     DROT_OK);
    assert_int_equal(len, need);

    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[A], DROT_AUTH_CT_ROTATE_ANCHOR, NULL, 0, g_msg,
                                         sizeof g_msg, &g_len),
                     DROT_OK);
    assert_int_equal(verify(DROT_AUTH_CT_ROTATE_ANCHOR, s, 1, &v, &idx), DROT_OK);
    assert_int_equal(v.payload_len, 0);

    assert_int_equal(drot_authority_sign(NULL, &g_pub[A], 1, NULL, 0, g_msg, sizeof g_msg, &len), DROT_E_ARG);
    assert_int_equal(drot_authority_sign(&g_priv[A], NULL, 1, NULL, 0, g_msg, sizeof g_msg, &len),
                     DROT_E_ARG);
    assert_int_equal(drot_authority_sign(&g_priv[A], &g_pub[A], 1, NULL, 3, g_msg, sizeof g_msg, &len),
                     DROT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_each_slot_position),
        cmocka_unit_test(test_unknown_signer),   cmocka_unit_test(test_revoked_anchor),
        cmocka_unit_test(test_revoked_and_good), cmocka_unit_test(test_absent_slots_ignored),
        cmocka_unit_test(test_bad_kid),          cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_kid_of_other_key), cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_untagged),         cmocka_unit_test(test_malformed_envelope),
        cmocka_unit_test(test_verify_args),      cmocka_unit_test(test_sign_buffer),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
