/*
 * test_rotate.c — the DRoT message codecs (common/src/rotate.c) and their
 * link payloads (common/src/link_msg.c, DRoT section); docs/drot.md.
 *
 * Reference encodings were written by hand from RFC 8949 (heads worked out
 * byte by byte), not produced by drot's encoder:
 *
 *   receipt {1: h'00…0F', 2: 5, 3: h'20…3F', 4: h'40…5F'}
 *   A4 01 50 000102…0F  02 05  03 58 20 2021…3F  04 58 20 4041…5F
 *
 *   HPKE info for device h'00…0F', new epoch 258:
 *   "drot-rotate-root v1" 000102…0F 0000000000000102
 *
 * Rejections are built with a small map writer that changes one thing of a
 * valid message, so each shows that the rule it names is what stops it.
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
#include "drot/cbor.h"
#include "drot/hpke.h"
#include "drot/link_msg.h"
#include "drot/rotate.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

/* Keys: 0 authority (slot 0), 1 authority (slot 1, revoked), 2 unknown,
 * 3 the device's DRK, 4 KeyA, 5 another key. */
#define NKEYS 6
static drot_p256_priv g_priv[NKEYS];
static drot_p256_pub g_pub[NKEYS];
static drot_anchor_slot g_slots[2];
static uint8_t g_dev[16], g_nonce[32];
static uint8_t g_msg[2048], g_buf[2048];

static drot_status ctr_fill(void *ctx, uint8_t *out, size_t len)
{
    uint32_t *x = ctx;
    for (size_t i = 0; i < len; i++) {
        *x = *x * 1103515245u + 12345u;
        out[i] = (uint8_t)(*x >> 16);
    }
    return DROT_OK;
}
static uint32_t g_seed = 7;
static drot_rng g_rng = {ctr_fill, &g_seed};

static int setup(void **state)
{
    (void)state;
    for (int k = 0; k < NKEYS; k++) {
        uint8_t d[32];
        memset(d, 0x31 + 0x11 * k, sizeof d);
        d[0] = 0x6b;
        if (drot_p256_key_from_scalar(d, &g_priv[k], &g_pub[k]) != DROT_OK)
            return -1;
    }
    memset(g_slots, 0, sizeof g_slots);
    for (int i = 0; i < 2; i++) {
        if (drot_sha256(g_pub[i].q, 65, g_slots[i].hash) != DROT_OK)
            return -1;
        g_slots[i].present = true;
    }
    g_slots[1].revoked = true;
    for (int i = 0; i < 16; i++)
        g_dev[i] = (uint8_t)i;
    for (int i = 0; i < 32; i++)
        g_nonce[i] = (uint8_t)(0x20 + i);
    return 0;
}

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* A valid server-mode instruction payload for epoch 4. */
static drot_rotate_root make_root(void)
{
    drot_rotate_root r;
    assert_int_equal(drot_rotate_root_seal(&g_pub[3], &g_priv[4], g_dev, 4, g_nonce, &g_rng, &r), DROT_OK);
    return r;
}

/* ---- a map writer for malformed payloads ---------------------------------- */

/* Entries of a root payload, one per key 1..7, as CBOR fragments. */
typedef struct frag {
    uint64_t key;
    uint8_t bytes[128];
    size_t len;
} frag;

static frag bstr_frag(uint64_t key, const uint8_t *p, size_t n)
{
    frag f;
    drot_cbor_writer w;
    f.key = key;
    drot_cbor_writer_init(&w, f.bytes, sizeof f.bytes);
    drot_cbor_put_bstr(&w, p, n);
    assert_int_equal(drot_cbor_writer_finish(&w, &f.len), DROT_OK);
    return f;
}

static frag uint_frag(uint64_t key, uint64_t v)
{
    frag f;
    drot_cbor_writer w;
    f.key = key;
    drot_cbor_writer_init(&w, f.bytes, sizeof f.bytes);
    drot_cbor_put_uint(&w, v);
    assert_int_equal(drot_cbor_writer_finish(&w, &f.len), DROT_OK);
    return f;
}

static size_t write_map(const frag *f, size_t n, uint8_t *out, size_t cap)
{
    drot_cbor_writer w;
    size_t len = 0;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, n);
    for (size_t i = 0; i < n; i++) {
        drot_cbor_put_uint(&w, f[i].key);
        drot_cbor_put_raw(&w, f[i].bytes, f[i].len);
    }
    assert_int_equal(drot_cbor_writer_finish(&w, &len), DROT_OK);
    return len;
}

static size_t root_frags(const drot_rotate_root *r, frag f[8])
{
    f[0] = bstr_frag(1, r->device_id, 16);
    f[1] = uint_frag(2, r->epoch);
    f[2] = uint_frag(3, r->new_epoch);
    f[3] = bstr_frag(4, r->keya.q, 65);
    f[4] = bstr_frag(5, r->enc, 65);
    f[5] = bstr_frag(6, r->ct, 48);
    f[6] = bstr_frag(7, r->nonce, 32);
    return 7;
}

static drot_status decode_root(const uint8_t *p, size_t n)
{
    drot_rotate_root r;
    memset(&r, 0xA5, sizeof r);
    drot_status st = drot_rotate_root_decode(p, n, &r);
    if (st != DROT_OK)
        assert_true(is_zero(&r, sizeof r));
    return st;
}

/* ---- tests ------------------------------------------------------------------ */

/* Test 1: HPKE info / exactly the label, the device id and the new epoch
 * as 8 bytes big-endian (reference in the header comment). */
static void test_hpke_info(void **state)
{
    (void)state;
    uint8_t info[DROT_ROTATE_INFO_LEN], want[DROT_ROTATE_INFO_LEN];
    drot_rotate_hpke_info(g_dev, 258, info);
    long n = drot_test_hex("64726f742d726f746174652d726f6f74207631"
                           "000102030405060708090A0B0C0D0E0F0000000000000102",
                           want, sizeof want);
    assert_int_equal(n, DROT_ROTATE_INFO_LEN);
    assert_memory_equal(info, want, sizeof want);
}

/* Test 2: server mode end to end / seal, sign by anchor 0, verify (slot 0,
 * the tbs digest of the message), open with the DRK: KeyA's scalar. */
static void test_root_round_trip(void **state)
{
    (void)state;
    drot_rotate_root r = make_root(), back;
    size_t len = 0, slot = 99;
    uint8_t tbs[32], want_tbs[32];
    assert_int_equal(r.new_epoch, 5);
    assert_memory_equal(r.keya.q, g_pub[4].q, 65);
    assert_int_equal(drot_rotate_root_sign(&g_priv[0], &g_pub[0], &r, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_true(len <= DROT_ROTATE_MAX_MSG);
    assert_int_equal(drot_rotate_root_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_OK);
    assert_int_equal(slot, 0);
    assert_memory_equal(&back, &r, sizeof r);
    drot_cose_sign1_view v;
    assert_int_equal(drot_cose_sign1_decode(g_msg, len, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_tbs_digest(&v, NULL, 0, want_tbs), DROT_OK);
    assert_memory_equal(tbs, want_tbs, 32);
    drot_p256_priv keya;
    assert_int_equal(drot_rotate_root_open(&back, &g_priv[3], &keya), DROT_OK);
    assert_memory_equal(keya.d, g_priv[4].d, 32);
}

/* Test 3: HPKE refusals / a flipped bit in every byte of ct or enc, the
 * wrong DRK, another new epoch or device (info), another KeyA (aad): all
 * DROT_E_VERIFY; a ciphertext of another scalar under the right aad:
 * DROT_E_BADKEY. The output is never written. */
static void test_root_open_refusals(void **state)
{
    (void)state;
    drot_rotate_root r = make_root(), t;
    drot_p256_priv out;
    memset(&out, 0x5c, sizeof out);
    for (size_t i = 0; i < sizeof r.ct; i++) {
        t = r;
        t.ct[i] ^= 0x01;
        assert_int_equal(drot_rotate_root_open(&t, &g_priv[3], &out), DROT_E_VERIFY);
    }
    for (size_t i = 1; i < sizeof r.enc; i += 7) {
        t = r;
        t.enc[i] ^= 0x80;
        assert_int_not_equal(drot_rotate_root_open(&t, &g_priv[3], &out), DROT_OK);
    }
    assert_int_equal(drot_rotate_root_open(&r, &g_priv[5], &out), DROT_E_VERIFY);
    t = r;
    t.new_epoch = 6;
    assert_int_equal(drot_rotate_root_open(&t, &g_priv[3], &out), DROT_E_VERIFY);
    t = r;
    t.device_id[0] ^= 1;
    assert_int_equal(drot_rotate_root_open(&t, &g_priv[3], &out), DROT_E_VERIFY);
    t = r;
    t.keya = g_pub[5];
    assert_int_equal(drot_rotate_root_open(&t, &g_priv[3], &out), DROT_E_VERIFY);
    /* Sealed correctly (info, aad = KeyA's public key) but another scalar. */
    uint8_t info[DROT_ROTATE_INFO_LEN];
    size_t ct_len = 0;
    t = r;
    drot_rotate_hpke_info(t.device_id, t.new_epoch, info);
    assert_int_equal(drot_hpke_seal_base(&g_pub[3], info, sizeof info, t.keya.q, 65, g_priv[5].d, 32, &g_rng,
                                         t.enc, t.ct, sizeof t.ct, &ct_len),
                     DROT_OK);
    assert_int_equal(drot_rotate_root_open(&t, &g_priv[3], &out), DROT_E_BADKEY);
    for (size_t i = 0; i < sizeof out.d; i++)
        assert_int_equal(out.d[i], 0x5c);
}

/* Test 4: strict decoding / every truncation, a trailing byte, an unknown
 * key (8, and a text key), a duplicate, each key missing, new_epoch not
 * epoch + 1, a KeyA that is not a point, a short device id, a non-map,
 * an oversized input; the struct zeroed each time. */
static void test_root_decode_refusals(void **state)
{
    (void)state;
    drot_rotate_root r = make_root();
    frag f[9];
    size_t n = root_frags(&r, f), len;

    len = write_map(f, n, g_buf, sizeof g_buf);
    assert_int_equal(decode_root(g_buf, len), DROT_OK);
    for (size_t k = 0; k < len; k++)
        assert_int_not_equal(decode_root(g_buf, k), DROT_OK);
    assert_int_equal(decode_root(g_buf, len - 1), DROT_E_TRUNCATED);
    g_buf[len] = 0x00;
    assert_int_equal(decode_root(g_buf, len + 1), DROT_E_TRAILING);

    f[7] = uint_frag(8, 1);
    assert_int_equal(decode_root(g_buf, write_map(f, 8, g_buf, sizeof g_buf)), DROT_E_UNKNOWN_CLAIM);
    f[7] = uint_frag(2, r.epoch);
    assert_int_equal(decode_root(g_buf, write_map(f, 8, g_buf, sizeof g_buf)), DROT_E_DUPLICATE);
    for (size_t drop = 0; drop < n; drop++) {
        frag g[8];
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (i != drop)
                g[m++] = f[i];
        assert_int_equal(decode_root(g_buf, write_map(g, m, g_buf, sizeof g_buf)), DROT_E_CLAIM_MISSING);
    }
    frag g[8];
    memcpy(g, f, sizeof g);
    g[2] = uint_frag(3, r.epoch + 2);
    assert_int_equal(decode_root(g_buf, write_map(g, n, g_buf, sizeof g_buf)), DROT_E_CLAIM_INVALID);
    memcpy(g, f, sizeof g);
    uint8_t bad[65];
    memcpy(bad, r.keya.q, 65);
    bad[64] ^= 1;
    g[3] = bstr_frag(4, bad, 65);
    assert_int_equal(decode_root(g_buf, write_map(g, n, g_buf, sizeof g_buf)), DROT_E_CLAIM_INVALID);
    memcpy(g, f, sizeof g);
    g[0] = bstr_frag(1, r.device_id, 15);
    assert_int_equal(decode_root(g_buf, write_map(g, n, g_buf, sizeof g_buf)), DROT_E_CLAIM_INVALID);
    memcpy(g, f, sizeof g);
    g[6] = uint_frag(7, 1);
    assert_int_equal(decode_root(g_buf, write_map(g, n, g_buf, sizeof g_buf)), DROT_E_CLAIM_INVALID);
    g_buf[0] = 0x80; /* an empty array */
    assert_int_equal(decode_root(g_buf, 1), DROT_E_MALFORMED);
    /* A text key. */
    static const uint8_t text_key[] = {0xA1, 0x61, 0x61, 0x01};
    assert_int_equal(decode_root(text_key, sizeof text_key), DROT_E_UNKNOWN_CLAIM);
    memset(g_buf, 0, DROT_ROTATE_MAX_MSG + 1);
    assert_int_equal(decode_root(g_buf, DROT_ROTATE_MAX_MSG + 1), DROT_E_TOO_LARGE);
}

/* Test 5: the envelope / signer unknown: DROT_E_VERIFY; in a revoked slot:
 * DROT_E_BADKEY; a flipped signature bit: DROT_E_VERIFY; an endorsement or
 * a receipt offered as an instruction: DROT_E_UNSUPPORTED; nothing written. */
static void test_root_envelope_refusals(void **state)
{
    (void)state;
    drot_rotate_root r = make_root(), back;
    size_t len = 0, slot = 77;
    uint8_t tbs[32];
    memset(tbs, 0x33, sizeof tbs);
    assert_int_equal(drot_rotate_root_sign(&g_priv[2], &g_pub[2], &r, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_root_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_E_VERIFY);
    assert_int_equal(drot_rotate_root_sign(&g_priv[1], &g_pub[1], &r, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_root_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_E_BADKEY);
    assert_int_equal(drot_rotate_root_sign(&g_priv[0], &g_pub[0], &r, g_msg, sizeof g_msg, &len), DROT_OK);
    g_msg[len - 1] ^= 1;
    assert_int_equal(drot_rotate_root_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_E_VERIFY);
    drot_rotate_proposal p;
    memset(&p, 0, sizeof p);
    memcpy(p.device_id, g_dev, 16);
    p.epoch = 4;
    p.new_epoch = 5;
    p.keya = g_pub[4];
    memcpy(p.nonce, g_nonce, 32);
    assert_int_equal(drot_rotate_endorse_sign(&g_priv[0], &g_pub[0], &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_root_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_E_UNSUPPORTED);
    assert_true(is_zero(&back, sizeof back));
    assert_int_equal(slot, 77);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(tbs[i], 0x33);
    /* The other way round: an instruction offered as an endorsement. */
    assert_int_equal(drot_rotate_root_sign(&g_priv[0], &g_pub[0], &r, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_endorse_verify(g_msg, len, g_slots, 2, &p, NULL, NULL), DROT_E_UNSUPPORTED);
}

/* Test 6: receipt / the hand-built reference encoding; signed by KeyA it
 * verifies under KeyA only (another key: DROT_E_VERIFY, also when the kid is
 * that other key); a receipt is not an instruction. */
static void test_receipt(void **state)
{
    (void)state;
    drot_rotate_receipt rc, back;
    uint8_t want[128];
    size_t len = 0;
    memcpy(rc.device_id, g_dev, 16);
    rc.new_epoch = 5;
    for (int i = 0; i < 32; i++) {
        rc.nonce[i] = (uint8_t)(0x20 + i);
        rc.instruction[i] = (uint8_t)(0x40 + i);
    }
    long n = drot_test_hex("A40150000102030405060708090A0B0C0D0E0F0205035820"
                           "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"
                           "045820404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F",
                           want, sizeof want);
    assert_int_equal(drot_rotate_receipt_encode(&rc, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(g_buf, want, len);
    assert_int_equal(drot_rotate_receipt_decode(want, (size_t)n, &back), DROT_OK);
    assert_memory_equal(&back, &rc, sizeof rc);
    assert_int_equal(drot_rotate_receipt_sign(&g_priv[4], &g_pub[4], &rc, g_msg, sizeof g_msg, &len),
                     DROT_OK);
    assert_int_equal(drot_rotate_receipt_verify(g_msg, len, &g_pub[4], &back), DROT_OK);
    assert_memory_equal(&back, &rc, sizeof rc);
    assert_int_equal(drot_rotate_receipt_verify(g_msg, len, &g_pub[3], &back), DROT_E_VERIFY);
    assert_true(is_zero(&back, sizeof back));
    assert_int_equal(drot_rotate_receipt_sign(&g_priv[3], &g_pub[3], &rc, g_msg, sizeof g_msg, &len),
                     DROT_OK);
    assert_int_equal(drot_rotate_receipt_verify(g_msg, len, &g_pub[4], &back), DROT_E_VERIFY);
    assert_int_equal(drot_rotate_root_verify(g_msg, len, g_slots, 2, &(drot_rotate_root){0}, NULL, NULL),
                     DROT_E_UNSUPPORTED);
    assert_int_equal(drot_rotate_receipt_sign(&g_priv[4], &g_pub[3], &rc, g_msg, sizeof g_msg, &len),
                     DROT_E_ARG);
}

static drot_rotate_proposal make_proposal(void)
{
    drot_rotate_proposal p;
    memset(&p, 0, sizeof p);
    memcpy(p.device_id, g_dev, 16);
    p.epoch = 4;
    p.new_epoch = 5;
    p.keya = g_pub[4];
    memcpy(p.nonce, g_nonce, 32);
    return p;
}

/* Test 7: device-generated proposal / signed by the DRK around KeyA's own
 * signature: verifies under the DRK, and not under another key; a KeyA
 * that does not match its signer is refused at signing; an inner message
 * signed by another key than the KeyA it names: DROT_E_VERIFY; an inner
 * message of another kind: DROT_E_UNSUPPORTED. */
static void test_proposal(void **state)
{
    (void)state;
    drot_rotate_proposal p = make_proposal(), back;
    size_t len = 0, inner_len = 0, plen = 0;
    assert_int_equal(
        drot_rotate_proposal_sign(&g_priv[3], &g_pub[3], &g_priv[4], &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_proposal_verify(g_msg, len, &g_pub[3], &back), DROT_OK);
    assert_memory_equal(&back, &p, sizeof p);
    assert_int_equal(drot_rotate_proposal_verify(g_msg, len, &g_pub[5], &back), DROT_E_VERIFY);
    assert_true(is_zero(&back, sizeof back));
    assert_int_equal(
        drot_rotate_proposal_sign(&g_priv[3], &g_pub[3], &g_priv[5], &p, g_msg, sizeof g_msg, &len),
        DROT_E_ARG);

    /* Inner signed by key 5 (kid 5) over a map naming KeyA = key 4. */
    uint8_t payload[256], inner[1024];
    assert_int_equal(drot_rotate_proposal_encode(&p, payload, sizeof payload, &plen), DROT_OK);
    assert_int_equal(drot_authority_sign(&g_priv[5], &g_pub[5], DROT_AUTH_CT_ROTATE_KEYA_POP, payload, plen,
                                         inner, sizeof inner, &inner_len),
                     DROT_OK);
    assert_int_equal(drot_authority_sign(&g_priv[3], &g_pub[3], DROT_AUTH_CT_ROTATE_PROPOSAL, inner,
                                         inner_len, g_msg, sizeof g_msg, &len),
                     DROT_OK);
    assert_int_equal(drot_rotate_proposal_verify(g_msg, len, &g_pub[3], &back), DROT_E_VERIFY);
    /* Inner of the endorsement kind. */
    assert_int_equal(drot_authority_sign(&g_priv[4], &g_pub[4], DROT_AUTH_CT_ROTATE_ENDORSE, payload, plen,
                                         inner, sizeof inner, &inner_len),
                     DROT_OK);
    assert_int_equal(drot_authority_sign(&g_priv[3], &g_pub[3], DROT_AUTH_CT_ROTATE_PROPOSAL, inner,
                                         inner_len, g_msg, sizeof g_msg, &len),
                     DROT_OK);
    assert_int_equal(drot_rotate_proposal_verify(g_msg, len, &g_pub[3], &back), DROT_E_UNSUPPORTED);
}

/* Test 8: endorsement / verifies against the anchors (slot 0); revoked
 * anchor: DROT_E_BADKEY; unknown: DROT_E_VERIFY; new_epoch ≠ epoch + 1 is
 * refused when signing. */
static void test_endorse(void **state)
{
    (void)state;
    drot_rotate_proposal p = make_proposal(), back;
    size_t len = 0, slot = 9;
    uint8_t tbs[32];
    assert_int_equal(drot_rotate_endorse_sign(&g_priv[0], &g_pub[0], &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_endorse_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_OK);
    assert_int_equal(slot, 0);
    assert_memory_equal(&back, &p, sizeof p);
    assert_int_equal(drot_rotate_endorse_sign(&g_priv[1], &g_pub[1], &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_endorse_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_E_BADKEY);
    assert_int_equal(drot_rotate_endorse_sign(&g_priv[2], &g_pub[2], &p, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_rotate_endorse_verify(g_msg, len, g_slots, 2, &back, &slot, tbs), DROT_E_VERIFY);
    p.new_epoch = 6;
    assert_int_equal(drot_rotate_endorse_sign(&g_priv[0], &g_pub[0], &p, g_msg, sizeof g_msg, &len),
                     DROT_E_ARG);
}

static drot_anchor_instr add_instr(uint8_t *consent, size_t cap, int new_key, int consent_key)
{
    drot_anchor_instr a;
    size_t n = 0;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, g_dev, 16);
    memcpy(a.nonce, g_nonce, 32);
    a.op = DROT_ANCHOR_OP_ADD;
    a.new_key = g_pub[new_key];
    assert_int_equal(
        drot_anchor_consent_sign(&g_priv[consent_key], &g_pub[consent_key], g_dev, g_nonce, consent, cap, &n),
        DROT_OK);
    a.consent = consent;
    a.consent_len = n;
    return a;
}

/* Test 9: anchor ADD / cross-signed by the new key: verifies (slot 0); a
 * consent signed by another key (the signing anchor's own included):
 * DROT_E_VERIFY; a consent for another nonce or device: DROT_E_VERIFY; a
 * consent of another kind: DROT_E_UNSUPPORTED. */
static void test_anchor_add(void **state)
{
    (void)state;
    static uint8_t consent[1024];
    drot_anchor_instr a = add_instr(consent, sizeof consent, 2, 2), back;
    size_t len = 0, slot = 9;
    assert_int_equal(drot_anchor_instr_sign(&g_priv[0], &g_pub[0], &a, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_verify(g_msg, len, g_slots, 2, &back, &slot), DROT_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(back.op, DROT_ANCHOR_OP_ADD);
    assert_memory_equal(back.new_key.q, g_pub[2].q, 65);

    a = add_instr(consent, sizeof consent, 2, 0); /* consent by the old anchor, not the new key */
    assert_int_equal(drot_anchor_instr_sign(&g_priv[0], &g_pub[0], &a, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_verify(g_msg, len, g_slots, 2, &back, &slot), DROT_E_VERIFY);
    assert_true(is_zero(&back, sizeof back));

    size_t n = 0;
    uint8_t other[32];
    memset(other, 0xEE, sizeof other);
    a = add_instr(consent, sizeof consent, 2, 2);
    assert_int_equal(
        drot_anchor_consent_sign(&g_priv[2], &g_pub[2], g_dev, other, consent, sizeof consent, &n), DROT_OK);
    a.consent_len = n;
    assert_int_equal(drot_anchor_instr_sign(&g_priv[0], &g_pub[0], &a, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_verify(g_msg, len, g_slots, 2, &back, &slot), DROT_E_VERIFY);
    assert_int_equal(
        drot_anchor_consent_sign(&g_priv[2], &g_pub[2], other, g_nonce, consent, sizeof consent, &n),
        DROT_OK);
    assert_int_equal(drot_anchor_instr_sign(&g_priv[0], &g_pub[0], &a, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_verify(g_msg, len, g_slots, 2, &back, &slot), DROT_E_VERIFY);

    /* A receipt by the new key in place of the consent. */
    drot_rotate_receipt rc;
    memset(&rc, 0, sizeof rc);
    assert_int_equal(drot_rotate_receipt_sign(&g_priv[2], &g_pub[2], &rc, consent, sizeof consent, &n),
                     DROT_OK);
    a.consent_len = n;
    assert_int_equal(drot_anchor_instr_sign(&g_priv[0], &g_pub[0], &a, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_verify(g_msg, len, g_slots, 2, &back, &slot), DROT_E_UNSUPPORTED);
}

/* Test 10: anchor REVOKE and CONFIRM shapes / round trips; key 4 of the
 * wrong shape for the op, a field the op does not have, a missing field,
 * op 0 and 4, slot 4: each refused with its status. */
static void test_anchor_shapes(void **state)
{
    (void)state;
    drot_anchor_instr a, back;
    size_t len = 0;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, g_dev, 16);
    memcpy(a.nonce, g_nonce, 32);
    a.op = DROT_ANCHOR_OP_REVOKE;
    a.slot = 3;
    assert_int_equal(drot_anchor_instr_encode(&a, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_decode(g_buf, len, &back), DROT_OK);
    assert_int_equal(back.op, DROT_ANCHOR_OP_REVOKE);
    assert_int_equal(back.slot, 3);
    a.op = DROT_ANCHOR_OP_CONFIRM;
    assert_int_equal(drot_anchor_instr_encode(&a, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(drot_anchor_instr_decode(g_buf, len, &back), DROT_OK);
    assert_int_equal(back.op, DROT_ANCHOR_OP_CONFIRM);

    frag f[6];
    f[0] = bstr_frag(1, g_dev, 16);
    f[1] = bstr_frag(2, g_nonce, 32);
    f[2] = uint_frag(3, DROT_ANCHOR_OP_REVOKE);
    f[3] = bstr_frag(4, g_pub[2].q, 65); /* REVOKE with a key */
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 4, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    f[3] = uint_frag(4, 4); /* slot out of range */
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 4, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 3, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_MISSING);
    f[2] = uint_frag(3, DROT_ANCHOR_OP_CONFIRM);
    f[3] = uint_frag(4, 1); /* CONFIRM takes no key 4 */
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 4, g_buf, sizeof g_buf), &back),
                     DROT_E_UNKNOWN_CLAIM);
    f[2] = uint_frag(3, DROT_ANCHOR_OP_ADD);
    f[3] = uint_frag(4, 1); /* ADD with a slot, and no consent */
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 4, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_MISSING);
    f[4] = bstr_frag(5, g_nonce, 32);
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 5, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    f[2] = uint_frag(3, 0);
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 3, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    f[2] = uint_frag(3, 4);
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 3, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    f[2] = uint_frag(3, DROT_ANCHOR_OP_CONFIRM);
    f[3] = uint_frag(6, 1);
    assert_int_equal(drot_anchor_instr_decode(g_buf, write_map(f, 4, g_buf, sizeof g_buf), &back),
                     DROT_E_UNKNOWN_CLAIM);
    assert_true(is_zero(&back, sizeof back));
    a.op = 9;
    assert_int_equal(drot_anchor_instr_encode(&a, g_buf, sizeof g_buf, &len), DROT_E_ARG);
}

/* Test 11: the link payloads / round trips; a nonce of 31 bytes; a message
 * of 0 and of 1025 bytes; an anchor answer with op 0 or slot 4; an unknown key. */
static void test_link_payloads(void **state)
{
    (void)state;
    uint8_t nonce[32];
    size_t len = 0, n = 0;
    const uint8_t *m;
    assert_int_equal(drot_link_rot_nonce_encode(g_nonce, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(drot_link_rot_nonce_decode(g_buf, len, nonce), DROT_OK);
    assert_memory_equal(nonce, g_nonce, 32);
    assert_int_equal(drot_link_rot_nonce_encode(g_nonce, g_buf, sizeof g_buf, &len), DROT_OK);
    g_buf[3] = 31; /* A1 01 58 1F: the head says 31 bytes */
    assert_int_not_equal(drot_link_rot_nonce_decode(g_buf, len - 1, nonce), DROT_OK);

    static uint8_t big[1025];
    memset(big, 0x42, sizeof big);
    assert_int_equal(drot_link_rot_msg_encode(big, 1024, g_msg, sizeof g_msg, &len), DROT_OK);
    assert_int_equal(drot_link_rot_msg_decode(g_msg, len, &m, &n), DROT_OK);
    assert_int_equal(n, 1024);
    assert_true(m > g_msg && m + n == g_msg + len);
    assert_int_equal(drot_link_rot_msg_encode(big, 1025, g_msg, sizeof g_msg, &len), DROT_E_ARG);
    assert_int_equal(drot_link_rot_msg_encode(big, 0, g_msg, sizeof g_msg, &len), DROT_E_ARG);
    frag f[2];
    f[0] = bstr_frag(1, big, 0);
    assert_int_equal(drot_link_rot_msg_decode(g_buf, write_map(f, 1, g_buf, sizeof g_buf), &m, &n),
                     DROT_E_CLAIM_INVALID);

    drot_link_anchor_resp r = {DROT_ANCHOR_OP_REVOKE, 3}, back;
    assert_int_equal(drot_link_anchor_resp_encode(&r, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(drot_link_anchor_resp_decode(g_buf, len, &back), DROT_OK);
    assert_int_equal(back.op, 2);
    assert_int_equal(back.slot, 3);
    f[0] = uint_frag(1, 0);
    f[1] = uint_frag(2, 1);
    assert_int_equal(drot_link_anchor_resp_decode(g_buf, write_map(f, 2, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    f[0] = uint_frag(1, 1);
    f[1] = uint_frag(2, 4);
    assert_int_equal(drot_link_anchor_resp_decode(g_buf, write_map(f, 2, g_buf, sizeof g_buf), &back),
                     DROT_E_CLAIM_INVALID);
    f[1] = uint_frag(3, 1);
    assert_int_equal(drot_link_anchor_resp_decode(g_buf, write_map(f, 2, g_buf, sizeof g_buf), &back),
                     DROT_E_UNKNOWN_CLAIM);
    r.op = 0;
    assert_int_equal(drot_link_anchor_resp_encode(&r, g_buf, sizeof g_buf, &len), DROT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hpke_info),
        cmocka_unit_test(test_root_round_trip),
        cmocka_unit_test(test_root_open_refusals),
        cmocka_unit_test(test_root_decode_refusals),
        cmocka_unit_test(test_root_envelope_refusals),
        cmocka_unit_test(test_receipt),
        cmocka_unit_test(test_proposal),
        cmocka_unit_test(test_endorse),
        cmocka_unit_test(test_anchor_add),
        cmocka_unit_test(test_anchor_shapes),
        cmocka_unit_test(test_link_payloads),
    };
    return cmocka_run_group_tests_name("rotate", tests, setup, NULL);
}
