/*
 * test_link.c — frames and sessions of the host <-> APM link (common/src/link.c).
 *
 * Outside reference: the keys and frames below were computed with Python's
 * hmac and hashlib (HKDF written out from RFC 5869), not with drot, from
 *   link_key   = 00 01 … 1f
 *   host_nonce = 40 41 … 5f
 *   apm_nonce  = 80 81 … 9f
 * (script in docs/link.md, "Test vector"). Test 1 and 2 check the codec
 * against them; every other test checks a rule with frames that are
 * otherwise valid, so the rule named is what stops them.
 *
 * Frames with a bad payload but a *valid* tag are built by raw_frame(),
 * which computes the HMAC itself rather than through drot_link_frame_seal
 * (which refuses to seal such payloads).
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

#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

/* ---- vectors (Python, see the header comment) --------------------------- */

static const char V_K_HELLO[] = "6baea94b1ce41fbc841b2cd668c716cc746019274ddc6603e50858594f240fc4";
static const char V_K_H2A[] = "f3f727fcd3dbd093e331f95773ea5b2a6f57689a94714261b2c803aa3426d58b";
static const char V_K_A2H[] = "09dc33a837d64809b8619b967e5f4cc5553d75454e7150b7823c30a7abe8e49b";
/* HELLO, seq 0, {1: host_nonce}, under k_hello. */
static const char V_HELLO[] = "444c0101000000000024a1015820404142434445464748494a4b4c4d4e4f50515253545556"
                              "5758595a5b5c5d5e5f25b4d60ba4b5df77e17238cf82873f64";
/* HELLO_ACK, seq 0, {1: apm_nonce}, under k_a2h. */
static const char V_ACK[] = "444c0181000000000024a1015820808182838485868788898a8b8c8d8e8f90919293949596"
                            "9798999a9b9c9d9e9f167e342b5b0ebf622c3ef2d72a98fb4b";
/* GET_INFO request, seq 1, {}, under k_h2a. */
static const char V_GET_INFO[] = "444c0102000000010001a0a9def5b002e52b6ce4008101c56334b2";
/* EXTEND_MEASUREMENT response, seq 1, {1: 5}, under k_a2h. */
static const char V_EXT_RESP[] = "444c0184000000010003a1010518944191aa62fea31c203b418c681f34";

/* ---- helpers ------------------------------------------------------------ */

static uint8_t g_link_key[32];
static uint8_t g_host_nonce[32];
static uint8_t g_apm_nonce[32];

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
    long n = drot_test_hex(h, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

static void fill_seq(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

static int setup(void **state)
{
    (void)state;
    fill_seq(g_link_key, 32, 0x00);
    fill_seq(g_host_nonce, 32, 0x40);
    fill_seq(g_apm_nonce, 32, 0x80);
    return 0;
}

/* An rng that hands out a fixed 32-byte value (ctx), or fails (ctx NULL). */
static drot_status fixed_fill(void *ctx, uint8_t *out, size_t len)
{
    if (ctx == NULL || len > 32)
        return DROT_E_RNG;
    memcpy(out, ctx, len);
    return DROT_OK;
}

static drot_rng fixed_rng(const uint8_t *value)
{
    drot_rng r = {fixed_fill, (void *)(uintptr_t)value};
    return r;
}

/* An rng that counts: every call gives different bytes. */
static drot_status counter_fill(void *ctx, uint8_t *out, size_t len)
{
    unsigned *c = ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(*c * 31u + i * 7u + 1u);
    (*c)++;
    return DROT_OK;
}

/* A frame built by hand: header with payload-length field plen_field,
 * payload, and the 16-byte truncated HMAC under key. Returns its length. */
static size_t raw_frame(const uint8_t *key, uint8_t type, uint32_t seq, const uint8_t *payload, size_t plen,
                        size_t plen_field, uint8_t *out)
{
    uint8_t mac[32];
    out[0] = 0x44;
    out[1] = 0x4C;
    out[2] = 0x01;
    out[3] = type;
    out[4] = (uint8_t)(seq >> 24);
    out[5] = (uint8_t)(seq >> 16);
    out[6] = (uint8_t)(seq >> 8);
    out[7] = (uint8_t)seq;
    out[8] = (uint8_t)(plen_field >> 8);
    out[9] = (uint8_t)plen_field;
    if (plen > 0)
        memcpy(out + 10, payload, plen);
    assert_int_equal(drot_hmac_sha256(key, 32, out, 10 + plen, mac), DROT_OK);
    memcpy(out + 10 + plen, mac, 16);
    return 10 + plen + 16;
}

/* A full handshake with rngs giving host_nonce / apm_nonce; both sides established. */
static void handshake(drot_link_session *host, drot_link_session *apm, const uint8_t *hn, const uint8_t *an)
{
    uint8_t f[128], g[128];
    size_t fl, gl;
    drot_rng rh = fixed_rng(hn), ra = fixed_rng(an);
    assert_int_equal(drot_link_session_init_host(host, g_link_key), DROT_OK);
    assert_int_equal(drot_link_session_init_apm(apm, g_link_key), DROT_OK);
    assert_int_equal(drot_link_host_hello(host, &rh, f, sizeof f, &fl), DROT_OK);
    assert_int_equal(drot_link_apm_accept_hello(apm, &ra, f, fl, g, sizeof g, &gl), DROT_OK);
    assert_int_equal(drot_link_host_accept_ack(host, g, gl, NULL), DROT_OK);
    assert_true(host->established && apm->established);
}

/* Seals an empty-map request of type t from the host; returns the length. */
static size_t host_request(drot_link_session *host, uint8_t t, uint8_t *out, size_t cap)
{
    static const uint8_t empty[] = {0xa0};
    size_t n;
    assert_int_equal(drot_link_session_seal(host, t, empty, 1, out, cap, &n), DROT_OK);
    return n;
}

/* ---- tests -------------------------------------------------------------- */

/* Test 1: keys from link_key and the two nonces / equal the Python values. */
static void test_keys_known_answer(void **state)
{
    (void)state;
    uint8_t k[32], h2a[32], a2h[32], want[32];
    assert_int_equal(drot_link_hello_key(g_link_key, k), DROT_OK);
    hex(V_K_HELLO, want, sizeof want);
    assert_memory_equal(k, want, 32);
    assert_int_equal(drot_link_session_keys(g_link_key, g_host_nonce, g_apm_nonce, h2a, a2h), DROT_OK);
    hex(V_K_H2A, want, sizeof want);
    assert_memory_equal(h2a, want, 32);
    hex(V_K_A2H, want, sizeof want);
    assert_memory_equal(a2h, want, 32);
}

/* Test 2: handshake and first exchange with fixed nonces / every frame is
 * byte for byte the Python one, and each side opens the other's. */
static void test_frames_known_answer(void **state)
{
    (void)state;
    drot_link_session host, apm;
    drot_link_frame v;
    uint8_t f[128], want[128];
    size_t fl, wl;
    drot_rng rh = fixed_rng(g_host_nonce), ra = fixed_rng(g_apm_nonce);
    assert_int_equal(drot_link_session_init_host(&host, g_link_key), DROT_OK);
    assert_int_equal(drot_link_session_init_apm(&apm, g_link_key), DROT_OK);

    assert_int_equal(drot_link_host_hello(&host, &rh, f, sizeof f, &fl), DROT_OK);
    wl = hex(V_HELLO, want, sizeof want);
    assert_int_equal(fl, wl);
    assert_memory_equal(f, want, wl);

    /* The APM accepts the Python HELLO and answers the Python HELLO_ACK. */
    assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, want, wl, f, sizeof f, &fl), DROT_OK);
    wl = hex(V_ACK, want, sizeof want);
    assert_int_equal(fl, wl);
    assert_memory_equal(f, want, wl);
    assert_int_equal(drot_link_host_accept_ack(&host, want, wl, &v), DROT_OK);
    assert_int_equal(v.type, DROT_LINK_T_HELLO_ACK);

    fl = host_request(&host, DROT_LINK_T_GET_INFO, f, sizeof f);
    wl = hex(V_GET_INFO, want, sizeof want);
    assert_int_equal(fl, wl);
    assert_memory_equal(f, want, wl);
    assert_int_equal(drot_link_session_open(&apm, want, wl, &v), DROT_OK);
    assert_int_equal(v.type, DROT_LINK_T_GET_INFO);
    assert_int_equal(v.seq, 1);
    assert_int_equal(drot_link_empty_decode(v.payload, v.payload_len), DROT_OK);

    uint8_t pl[16];
    size_t pn;
    assert_int_equal(drot_link_extend_resp_encode(5, pl, sizeof pl, &pn), DROT_OK);
    assert_int_equal(drot_link_session_seal(&apm, DROT_LINK_RESPONSE_TO(DROT_LINK_T_EXTEND_MEASUREMENT), pl,
                                            pn, f, sizeof f, &fl),
                     DROT_OK);
    wl = hex(V_EXT_RESP, want, sizeof want);
    assert_int_equal(fl, wl);
    assert_memory_equal(f, want, wl);
    assert_int_equal(drot_link_session_open(&host, want, wl, &v), DROT_OK);
    uint32_t idx = 0;
    assert_int_equal(drot_link_extend_resp_decode(v.payload, v.payload_len, &idx), DROT_OK);
    assert_int_equal(idx, 5);
    drot_link_session_wipe(&host);
    drot_link_session_wipe(&apm);
}

/* Test 3: handshake with a counting rng, then 20 request/response rounds of
 * four kinds / each side decodes what the other sent; sequence numbers run
 * 1..20 in both directions. */
static void test_session_exchange(void **state)
{
    (void)state;
    drot_link_session host, apm;
    drot_link_frame v;
    uint8_t f[DROT_LINK_MAX_FRAME], pl[DROT_LINK_MAX_PAYLOAD];
    size_t fl, pn;
    unsigned c = 0;
    drot_rng rng = {counter_fill, &c};
    uint8_t hn[32], an[32];
    assert_int_equal(drot_rng_fill(&rng, hn, 32), DROT_OK);
    assert_int_equal(drot_rng_fill(&rng, an, 32), DROT_OK);
    handshake(&host, &apm, hn, an);

    for (uint32_t round = 1; round <= 20; round++) {
        drot_link_token_req tr = {.nonce_len = 32, .profile = DROT_LINK_PROFILE_DROT};
        drot_link_measurement m = {.type_len = 7, .version_len = 3};
        uint8_t t;
        switch (round % 4) {
        case 0:
            t = DROT_LINK_T_GET_INFO;
            assert_int_equal(drot_link_empty_encode(pl, sizeof pl, &pn), DROT_OK);
            break;
        case 1:
            t = DROT_LINK_T_GET_TOKEN;
            memset(tr.nonce, (int)round, 32);
            assert_int_equal(drot_link_token_req_encode(&tr, pl, sizeof pl, &pn), DROT_OK);
            break;
        case 2:
            t = DROT_LINK_T_EXTEND_MEASUREMENT;
            memcpy(m.type, "HOST-OS", 7);
            memcpy(m.version, "1.0", 3);
            memset(m.digest, (int)round, 32);
            assert_int_equal(drot_link_extend_req_encode(&m, pl, sizeof pl, &pn), DROT_OK);
            break;
        default:
            t = DROT_LINK_T_TAMPER_LOG;
            assert_int_equal(drot_link_empty_encode(pl, sizeof pl, &pn), DROT_OK);
            break;
        }
        assert_int_equal(drot_link_session_seal(&host, t, pl, pn, f, sizeof f, &fl), DROT_OK);
        assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_OK);
        assert_int_equal(v.type, t);
        assert_int_equal(v.seq, round);
        assert_int_equal(apm.last_rx_seq, round);
        if (t == DROT_LINK_T_GET_TOKEN) {
            drot_link_token_req got;
            assert_int_equal(drot_link_token_req_decode(v.payload, v.payload_len, &got), DROT_OK);
            assert_int_equal(got.nonce[0], round);
        }
        /* The APM answers: a token for GET_TOKEN, an index otherwise. */
        if (t == DROT_LINK_T_GET_TOKEN) {
            uint8_t tok[3000];
            memset(tok, 0x5a, sizeof tok);
            assert_int_equal(drot_link_token_resp_encode(tok, sizeof tok, pl, sizeof pl, &pn), DROT_OK);
        } else {
            assert_int_equal(drot_link_extend_resp_encode(round, pl, sizeof pl, &pn), DROT_OK);
        }
        assert_int_equal(drot_link_session_seal(&apm, DROT_LINK_RESPONSE_TO(t), pl, pn, f, sizeof f, &fl),
                         DROT_OK);
        assert_int_equal(drot_link_session_open(&host, f, fl, &v), DROT_OK);
        assert_int_equal(v.type, t | 0x80);
        assert_int_equal(v.seq, round);
        if (t == DROT_LINK_T_GET_TOKEN) {
            const uint8_t *tp;
            size_t tn;
            assert_int_equal(drot_link_token_resp_decode(v.payload, v.payload_len, &tp, &tn), DROT_OK);
            assert_int_equal(tn, 3000);
        }
    }
    assert_int_equal(host.next_tx_seq, 21);
    assert_int_equal(apm.next_tx_seq, 21);
    drot_link_session_wipe(&host);
    drot_link_session_wipe(&apm);
    uint8_t zero[sizeof host];
    memset(zero, 0, sizeof zero);
    assert_memory_equal(&host, zero, sizeof host);
}

/* Test 4: headers with a wrong magic, version, over-long length field, or
 * fewer than 10 bytes / MALFORMED, UNSUPPORTED, TOO_LARGE, TRUNCATED; the
 * largest length (4096) parses. */
static void test_parse_header(void **state)
{
    (void)state;
    uint8_t h[10] = {0x44, 0x4c, 0x01, 0x03, 0x01, 0x02, 0x03, 0x04, 0x10, 0x00};
    uint8_t t;
    uint32_t seq;
    size_t pl;
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_OK);
    assert_int_equal(t, 3);
    assert_int_equal(seq, 0x01020304u);
    assert_int_equal(pl, 4096);
    for (size_t n = 0; n < 10; n++)
        assert_int_equal(drot_link_parse_header(h, n, &t, &seq, &pl), DROT_E_TRUNCATED);
    h[9] = 0x01; /* 4097 */
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_E_TOO_LARGE);
    h[8] = 0xff;
    h[9] = 0xff;
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_E_TOO_LARGE);
    h[8] = 0;
    h[9] = 1;
    h[0] = 0x45;
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_E_MALFORMED);
    h[0] = 0x44;
    h[1] = 0x4d;
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_E_MALFORMED);
    h[1] = 0x4c;
    h[2] = 0x02;
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_E_UNSUPPORTED);
    h[2] = 0x00;
    assert_int_equal(drot_link_parse_header(h, 10, &t, &seq, &pl), DROT_E_UNSUPPORTED);
}

/* Test 5: the Python GET_INFO frame opened under k_a2h, k_hello, and a key
 * differing in one bit / DROT_E_VERIFY each; under k_h2a it opens. */
static void test_wrong_key(void **state)
{
    (void)state;
    uint8_t f[64], k[32];
    drot_link_frame v;
    size_t fl = hex(V_GET_INFO, f, sizeof f);
    hex(V_K_A2H, k, 32);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_E_VERIFY);
    hex(V_K_HELLO, k, 32);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_E_VERIFY);
    hex(V_K_H2A, k, 32);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_OK);
    k[31] ^= 0x01;
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_E_VERIFY);
}

/* Test 6: every single-bit flip of a request frame (header, payload, tag)
 * given to the APM's session / refused, and the session struct is
 * unchanged byte for byte; the unflipped frame is then accepted. */
static void test_bit_flips(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[256], g[256], pl[128];
    size_t fl, pn;
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    drot_link_token_req tr = {.nonce_len = 48, .profile = 1};
    memset(tr.nonce, 0xab, 48);
    assert_int_equal(drot_link_token_req_encode(&tr, pl, sizeof pl, &pn), DROT_OK);
    assert_int_equal(drot_link_session_seal(&host, DROT_LINK_T_GET_TOKEN, pl, pn, f, sizeof f, &fl), DROT_OK);
    memcpy(&copy, &apm, sizeof apm);
    for (size_t bit = 0; bit < fl * 8; bit++) {
        memcpy(g, f, fl);
        g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        drot_status st = drot_link_session_open(&apm, g, fl, &v);
        assert_int_not_equal(st, DROT_OK);
        /* Also straight through the frame layer. */
        assert_int_not_equal(drot_link_frame_open(apm.k_rx, g, fl, &v), DROT_OK);
        assert_memory_equal(&apm, &copy, sizeof apm);
    }
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_OK);
    /* Same for a HELLO offered to the APM. */
    uint8_t hello[128];
    size_t hl;
    drot_rng rh = fixed_rng(g_host_nonce), ra = fixed_rng(g_apm_nonce);
    assert_int_equal(drot_link_host_hello(&host, &rh, hello, sizeof hello, &hl), DROT_OK);
    memcpy(&copy, &apm, sizeof apm);
    for (size_t bit = 0; bit < hl * 8; bit++) {
        memcpy(g, hello, hl);
        g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        uint8_t out[128];
        size_t ol;
        assert_int_not_equal(drot_link_apm_accept_hello(&apm, &ra, g, hl, out, sizeof out, &ol), DROT_OK);
        assert_memory_equal(&apm, &copy, sizeof apm);
    }
}

/* Test 7: the same frame opened twice / the second time DROT_E_STATE with
 * the session unchanged; the next frame (seq 2) is then accepted, and a
 * reply still flows back. */
static void test_replay(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f1[64], f2[64], r[64];
    size_t l1, l2, rl;
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    l1 = host_request(&host, DROT_LINK_T_GET_INFO, f1, sizeof f1);
    assert_int_equal(drot_link_session_open(&apm, f1, l1, &v), DROT_OK);
    memcpy(&copy, &apm, sizeof apm);
    assert_int_equal(drot_link_session_open(&apm, f1, l1, &v), DROT_E_STATE);
    assert_memory_equal(&apm, &copy, sizeof apm);
    l2 = host_request(&host, DROT_LINK_T_TAMPER_LOG, f2, sizeof f2);
    assert_int_equal(drot_link_session_open(&apm, f2, l2, &v), DROT_OK);
    assert_int_equal(v.seq, 2);
    assert_int_equal(drot_link_session_open(&apm, f1, l1, &v), DROT_E_STATE);
    assert_int_equal(drot_link_session_open(&apm, f2, l2, &v), DROT_E_STATE);
    static const uint8_t empty[] = {0xa0};
    assert_int_equal(drot_link_session_seal(&apm, 0x85, empty, 1, r, sizeof r, &rl), DROT_OK);
    assert_int_equal(drot_link_session_open(&host, r, rl, &v), DROT_OK);
    copy = host;
    assert_int_equal(drot_link_session_open(&host, r, rl, &v), DROT_E_STATE);
    assert_memory_equal(&host, &copy, sizeof host);
}

/* Test 8: frames 1, 2, 3 delivered as 3, 2, 1 / 3 accepted, 2 and 1
 * refused (DROT_E_STATE) and the session unchanged; a gap (1 then 3) is
 * accepted, since loss is the transport's business. */
static void test_out_of_order(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[3][64];
    size_t l[3];
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    for (int i = 0; i < 3; i++)
        l[i] = host_request(&host, DROT_LINK_T_GET_INFO, f[i], sizeof f[i]);
    assert_int_equal(drot_link_session_open(&apm, f[2], l[2], &v), DROT_OK);
    memcpy(&copy, &apm, sizeof apm);
    assert_int_equal(drot_link_session_open(&apm, f[1], l[1], &v), DROT_E_STATE);
    assert_int_equal(drot_link_session_open(&apm, f[0], l[0], &v), DROT_E_STATE);
    assert_memory_equal(&apm, &copy, sizeof apm);

    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    for (int i = 0; i < 3; i++)
        l[i] = host_request(&host, DROT_LINK_T_GET_INFO, f[i], sizeof f[i]);
    assert_int_equal(drot_link_session_open(&apm, f[0], l[0], &v), DROT_OK);
    assert_int_equal(drot_link_session_open(&apm, f[2], l[2], &v), DROT_OK);
    assert_int_equal(drot_link_session_open(&apm, f[1], l[1], &v), DROT_E_STATE);
}

/* Test 9: the sender at seq 0xFFFFFFFF / that frame is sealed and accepted;
 * the next seal is DROT_E_STATE with the session unchanged; the receiver,
 * having accepted 0xFFFFFFFF, refuses a validly tagged frame with seq 0 or 1
 * (a wrapped counter). */
static void test_seq_wrap(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[64];
    size_t fl;
    static const uint8_t empty[] = {0xa0};
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    host.next_tx_seq = DROT_LINK_SEQ_LAST;
    fl = host_request(&host, DROT_LINK_T_GET_INFO, f, sizeof f);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_OK);
    assert_int_equal(v.seq, 0xFFFFFFFFu);
    memcpy(&copy, &host, sizeof host);
    assert_int_equal(drot_link_session_seal(&host, DROT_LINK_T_GET_INFO, empty, 1, f, sizeof f, &fl),
                     DROT_E_STATE);
    assert_memory_equal(&host, &copy, sizeof host);
    memcpy(&copy, &apm, sizeof apm);
    for (uint32_t s = 0; s < 2; s++) {
        fl = raw_frame(apm.k_rx, DROT_LINK_T_GET_INFO, s, empty, 1, 1, f);
        assert_int_equal(drot_link_frame_open(apm.k_rx, f, fl, &v), DROT_OK);
        assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_STATE);
    }
    fl = raw_frame(apm.k_rx, DROT_LINK_T_GET_INFO, 0xFFFFFFFFu, empty, 1, 1, f);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_STATE);
    assert_memory_equal(&apm, &copy, sizeof apm);
    /* A new handshake starts both directions over. */
    handshake(&host, &apm, g_apm_nonce, g_host_nonce);
    fl = host_request(&host, DROT_LINK_T_GET_INFO, f, sizeof f);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_OK);
    assert_int_equal(v.seq, 1);
}

/* Test 10: a valid frame cut at every length 0..L-1 / DROT_E_TRUNCATED; one
 * extra byte / DROT_E_TRAILING; the session is unchanged throughout. Cut
 * copies live in exact-size heap buffers so the sanitizer build catches
 * any read past them. */
static void test_truncated_and_long(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[128], pl[64];
    size_t fl, pn;
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    drot_link_token_req tr = {.nonce_len = 32, .profile = 2};
    assert_int_equal(drot_link_token_req_encode(&tr, pl, sizeof pl, &pn), DROT_OK);
    assert_int_equal(drot_link_session_seal(&host, DROT_LINK_T_GET_TOKEN, pl, pn, f, sizeof f - 1, &fl),
                     DROT_OK);
    memcpy(&copy, &apm, sizeof apm);
    for (size_t n = 0; n < fl; n++) {
        uint8_t *cut = malloc(n > 0 ? n : 1);
        assert_non_null(cut);
        memcpy(cut, f, n);
        assert_int_equal(drot_link_session_open(&apm, cut, n, &v), DROT_E_TRUNCATED);
        free(cut);
    }
    f[fl] = 0;
    assert_int_equal(drot_link_session_open(&apm, f, fl + 1, &v), DROT_E_TRAILING);
    assert_memory_equal(&apm, &copy, sizeof apm);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_OK);
}

/* Test 11: size limits / a 4096-byte payload seals and opens; a 4097-byte
 * one is refused by seal (DROT_E_TOO_LARGE); a validly tagged frame whose
 * length field says 4097 is refused (DROT_E_TOO_LARGE); a length field that
 * disagrees with the bytes present is TRUNCATED or TRAILING. */
static void test_oversize(void **state)
{
    (void)state;
    static uint8_t pl[DROT_LINK_MAX_PAYLOAD + 1], f[DROT_LINK_MAX_FRAME + 64];
    uint8_t k[32];
    drot_link_frame v;
    size_t fl;
    hex(V_K_H2A, k, 32);
    /* {1: bstr(4091)} is exactly 4096 bytes: a1 01 59 0f fb … */
    pl[0] = 0xa1, pl[1] = 0x01, pl[2] = 0x59, pl[3] = 0x0f, pl[4] = 0xfb;
    memset(pl + 5, 0x33, 4091);
    assert_int_equal(drot_link_frame_seal(k, 2, 1, pl, 4096, f, sizeof f, &fl), DROT_OK);
    assert_int_equal(fl, DROT_LINK_MAX_FRAME);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_OK);
    assert_int_equal(v.payload_len, 4096);

    /* 4097: {1: bstr(4092)}. */
    pl[4] = 0xfc;
    pl[4096] = 0x33;
    assert_int_equal(drot_link_frame_seal(k, 2, 1, pl, 4097, f, sizeof f, &fl), DROT_E_TOO_LARGE);
    fl = raw_frame(k, 2, 1, pl, 4097, 4097, f);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_E_TOO_LARGE);

    /* Length field 1 over and 1 under the bytes present (tag valid over what is there). */
    static const uint8_t two[] = {0xa1, 0x01, 0x02};
    fl = raw_frame(k, 2, 1, two, 3, 4, f);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_E_TRUNCATED);
    fl = raw_frame(k, 2, 1, two, 3, 2, f);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_E_TRAILING);
    fl = raw_frame(k, 2, 1, two, 3, 3, f);
    assert_int_equal(drot_link_frame_open(k, f, fl, &v), DROT_OK);
}

/* Test 12: validly tagged frames whose payload is empty, garbage, not a
 * map, a map followed by more bytes, a truncated map, an indefinite map /
 * DROT_E_MALFORMED from frame_open and from the session, which is left
 * unchanged; seal refuses to produce them (DROT_E_MALFORMED). */
static void test_bad_payloads(void **state)
{
    (void)state;
    static const struct {
        const char *hex, *what;
    } bad[] = {
        {"", "empty payload"},
        {"ff", "a lone break"},
        {"01", "an integer"},
        {"80", "an array"},
        {"40", "a byte string"},
        {"f6", "null"},
        {"a0a0", "two maps"},
        {"a000", "a map and a trailing byte"},
        {"a101", "a map missing its value"},
        {"a2010203", "a map one pair short"},
        {"a1015820", "a byte string missing its content"},
        {"bf0102ff", "an indefinite map"},
        {"a1017f6161ff", "an indefinite text string inside"},
        {"1c", "a reserved additional-info value"},
    };
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t pl[16], f[64], out[64];
    size_t fl, ol;
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    memcpy(&copy, &apm, sizeof apm);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pn = hex(bad[i].hex, pl, sizeof pl);
        fl = raw_frame(apm.k_rx, DROT_LINK_T_GET_INFO, 1, pl, pn, pn, f);
        print_message("payload: %s\n", bad[i].what);
        assert_int_equal(drot_link_frame_open(apm.k_rx, f, fl, &v), DROT_E_MALFORMED);
        assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_MALFORMED);
        assert_memory_equal(&apm, &copy, sizeof apm);
        assert_int_equal(drot_link_frame_seal(apm.k_rx, 2, 1, pl, pn, out, sizeof out, &ol),
                         DROT_E_MALFORMED);
    }
    /* The control: the same path accepts a map with nested content. */
    size_t pn = hex("a201820102028100", pl, sizeof pl);
    fl = raw_frame(apm.k_rx, DROT_LINK_T_GET_INFO, 1, pl, pn, pn, f);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_OK);
}

/* Test 13: HELLO offered to the APM with a bad tag, under another link_key,
 * with seq 1, with type GET_INFO, with a 31-byte nonce (valid tag) / each
 * refused and the APM session (established or not) unchanged; the genuine
 * HELLO is then accepted. */
static void test_bad_hello(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    uint8_t f[128], out[128], kh[32], pl[64];
    size_t fl, ol, pn;
    drot_rng ra = fixed_rng(g_apm_nonce);
    hex(V_K_HELLO, kh, 32);
    assert_int_equal(drot_link_session_init_apm(&apm, g_link_key), DROT_OK);
    for (int established = 0; established < 2; established++) {
        memcpy(&copy, &apm, sizeof apm);
        fl = hex(V_HELLO, f, sizeof f);
        f[fl - 1] ^= 0x80;
        assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, f, fl, out, sizeof out, &ol), DROT_E_VERIFY);
        uint8_t other_key[32], k2[32];
        memset(other_key, 0x77, 32);
        assert_int_equal(drot_link_hello_key(other_key, k2), DROT_OK);
        assert_int_equal(drot_link_hello_encode(g_host_nonce, pl, sizeof pl, &pn), DROT_OK);
        fl = raw_frame(k2, DROT_LINK_T_HELLO, 0, pl, pn, pn, f);
        assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, f, fl, out, sizeof out, &ol), DROT_E_VERIFY);
        fl = raw_frame(kh, DROT_LINK_T_HELLO, 1, pl, pn, pn, f);
        assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, f, fl, out, sizeof out, &ol),
                         DROT_E_MALFORMED);
        fl = raw_frame(kh, DROT_LINK_T_GET_INFO, 0, pl, pn, pn, f);
        assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, f, fl, out, sizeof out, &ol),
                         DROT_E_MALFORMED);
        uint8_t short_nonce[35] = {0xa1, 0x01, 0x58, 0x1f};
        memset(short_nonce + 4, 0x11, 31);
        fl = raw_frame(kh, DROT_LINK_T_HELLO, 0, short_nonce, sizeof short_nonce, sizeof short_nonce, f);
        assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, f, fl, out, sizeof out, &ol),
                         DROT_E_CLAIM_INVALID);
        /* A good HELLO with no room for the answer. */
        fl = hex(V_HELLO, f, sizeof f);
        assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, f, fl, out, 30, &ol), DROT_E_BUFFER);
        /* A failing rng. */
        drot_rng bad = fixed_rng(NULL);
        assert_int_equal(drot_link_apm_accept_hello(&apm, &bad, f, fl, out, sizeof out, &ol), DROT_E_RNG);
        assert_memory_equal(&apm, &copy, sizeof apm);
        handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    }
}

/* Test 14: the host given a HELLO_ACK with a bad tag, under the wrong nonce
 * pair, with seq 1, a GET_INFO response in its place, or with no HELLO
 * pending / refused and the host session unchanged; an ERROR under k_hello
 * / DROT_E_STATE with the view of the ERROR. */
static void test_bad_ack(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[128], hello[128], pl[160], k_h2a[32], k_a2h[32];
    size_t fl, hl, pn;
    drot_rng rh = fixed_rng(g_host_nonce);
    assert_int_equal(drot_link_session_init_host(&host, g_link_key), DROT_OK);
    assert_int_equal(drot_link_session_init_apm(&apm, g_link_key), DROT_OK);
    fl = hex(V_ACK, f, sizeof f);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_STATE); /* no HELLO yet */
    assert_int_equal(drot_link_host_hello(&host, &rh, hello, sizeof hello, &hl), DROT_OK);
    memcpy(&copy, &host, sizeof host);

    f[20] ^= 0x01; /* inside the nonce: the derived key changes, the tag fails */
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_VERIFY);
    fl = hex(V_ACK, f, sizeof f);
    f[fl - 1] ^= 0x01;
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_VERIFY);
    /* An ACK for another host nonce (keys from apm_nonce twice). */
    assert_int_equal(drot_link_session_keys(g_link_key, g_apm_nonce, g_apm_nonce, k_h2a, k_a2h), DROT_OK);
    assert_int_equal(drot_link_hello_encode(g_apm_nonce, pl, sizeof pl, &pn), DROT_OK);
    fl = raw_frame(k_a2h, DROT_LINK_T_HELLO_ACK, 0, pl, pn, pn, f);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_VERIFY);
    /* The right keys, but seq 1, or the wrong type. */
    assert_int_equal(drot_link_session_keys(g_link_key, g_host_nonce, g_apm_nonce, k_h2a, k_a2h), DROT_OK);
    assert_int_equal(drot_link_hello_encode(g_apm_nonce, pl, sizeof pl, &pn), DROT_OK);
    fl = raw_frame(k_a2h, DROT_LINK_T_HELLO_ACK, 1, pl, pn, pn, f);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_MALFORMED);
    fl = raw_frame(k_a2h, 0x82, 0, pl, pn, pn, f);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_MALFORMED);
    /* An ERROR under k_a2h (not k_hello) is not believed. */
    drot_link_error e = {.code = DROT_E_VERIFY, .message_len = 7};
    memcpy(e.message, "bad tag", 7);
    assert_int_equal(drot_link_error_encode(&e, pl, sizeof pl, &pn), DROT_OK);
    fl = raw_frame(k_a2h, DROT_LINK_T_ERROR, 0, pl, pn, pn, f);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_VERIFY);
    assert_memory_equal(&host, &copy, sizeof host);

    /* The APM's answer to a refused HELLO: ERROR under k_hello. */
    assert_int_equal(drot_link_apm_seal_hello_error(&apm, pl, pn, f, sizeof f, &fl), DROT_OK);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_STATE);
    assert_int_equal(v.type, DROT_LINK_T_ERROR);
    drot_link_error got;
    assert_int_equal(drot_link_error_decode(v.payload, v.payload_len, &got), DROT_OK);
    assert_int_equal(got.code, DROT_E_VERIFY);
    assert_memory_equal(&host, &copy, sizeof host);
    /* Still pending: the genuine ACK completes the handshake. */
    fl = hex(V_ACK, f, sizeof f);
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_OK);
    assert_true(host.established);
    /* A second ACK (replay) finds no HELLO pending. */
    copy = host;
    assert_int_equal(drot_link_host_accept_ack(&host, f, fl, &v), DROT_E_STATE);
    assert_memory_equal(&host, &copy, sizeof host);
}

/* Test 15: calls out of order / open and seal before the handshake are
 * DROT_E_STATE on both sides; a host HELLO with a failing rng changes
 * nothing; a too-small buffer reports the size needed. */
static void test_state_rules(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[128];
    size_t fl = 0;
    static const uint8_t empty[] = {0xa0};
    assert_int_equal(drot_link_session_init_host(&host, g_link_key), DROT_OK);
    assert_int_equal(drot_link_session_init_apm(&apm, g_link_key), DROT_OK);
    assert_int_equal(drot_link_session_seal(&host, 2, empty, 1, f, sizeof f, &fl), DROT_E_STATE);
    assert_int_equal(drot_link_session_seal(&apm, 0x82, empty, 1, f, sizeof f, &fl), DROT_E_STATE);
    size_t gl = hex(V_GET_INFO, f, sizeof f);
    assert_int_equal(drot_link_session_open(&apm, f, gl, &v), DROT_E_STATE);
    memcpy(&copy, &host, sizeof host);
    drot_rng bad = fixed_rng(NULL);
    assert_int_equal(drot_link_host_hello(&host, &bad, f, sizeof f, &fl), DROT_E_RNG);
    drot_rng rh = fixed_rng(g_host_nonce);
    assert_int_equal(drot_link_host_hello(&host, &rh, f, 40, &fl), DROT_E_BUFFER);
    assert_int_equal(fl, 10 + 36 + 16);
    assert_memory_equal(&host, &copy, sizeof host);
    /* The APM may answer an unauthenticated-session request with an ERROR under k_hello. */
    drot_link_error e = {.code = DROT_E_STATE, .message_len = 10};
    uint8_t pl[64];
    size_t pn;
    memcpy(e.message, "no session", 10);
    assert_int_equal(drot_link_error_encode(&e, pl, sizeof pl, &pn), DROT_OK);
    assert_int_equal(drot_link_apm_seal_hello_error(&apm, pl, pn, f, sizeof f, &fl), DROT_OK);
    uint8_t kh[32];
    hex(V_K_HELLO, kh, 32);
    assert_int_equal(drot_link_frame_open(kh, f, fl, &v), DROT_OK);
    assert_int_equal(v.type, DROT_LINK_T_ERROR);
    assert_int_equal(v.seq, 0);
    /* Role checks. */
    assert_int_equal(drot_link_apm_seal_hello_error(&host, pl, pn, f, sizeof f, &fl), DROT_E_ARG);
    assert_int_equal(drot_link_host_hello(&apm, &rh, f, sizeof f, &fl), DROT_E_ARG);
}

/* Test 16: direction rules / a host frame reflected back to the host fails
 * its tag; a response-typed frame from the host and a request-typed frame
 * from the APM are refused (DROT_E_UNSUPPORTED) with the session unchanged. */
static void test_direction(void **state)
{
    (void)state;
    drot_link_session host, apm, copy;
    drot_link_frame v;
    uint8_t f[64];
    size_t fl;
    static const uint8_t empty[] = {0xa0};
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    fl = host_request(&host, DROT_LINK_T_GET_INFO, f, sizeof f);
    memcpy(&copy, &host, sizeof host);
    assert_int_equal(drot_link_session_open(&host, f, fl, &v), DROT_E_VERIFY);
    assert_memory_equal(&host, &copy, sizeof host);

    assert_int_equal(drot_link_session_seal(&host, 0x82, empty, 1, f, sizeof f, &fl), DROT_OK);
    memcpy(&copy, &apm, sizeof apm);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_UNSUPPORTED);
    assert_int_equal(drot_link_session_seal(&host, DROT_LINK_T_ERROR, empty, 1, f, sizeof f, &fl), DROT_OK);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_UNSUPPORTED);
    assert_memory_equal(&apm, &copy, sizeof apm);

    assert_int_equal(drot_link_session_seal(&apm, 0x02, empty, 1, f, sizeof f, &fl), DROT_OK);
    memcpy(&copy, &host, sizeof host);
    assert_int_equal(drot_link_session_open(&host, f, fl, &v), DROT_E_UNSUPPORTED);
    assert_memory_equal(&host, &copy, sizeof host);
    assert_int_equal(drot_link_session_seal(&apm, DROT_LINK_T_ERROR, empty, 1, f, sizeof f, &fl), DROT_OK);
    assert_int_equal(drot_link_session_open(&host, f, fl, &v), DROT_OK);
}

/* Test 17: a second HELLO on an established APM / replaces the session:
 * a frame sealed under the old keys is refused, the new one accepted; and
 * a replayed old HELLO yields keys the host does not have. */
static void test_rehandshake(void **state)
{
    (void)state;
    drot_link_session host, apm, old_host;
    drot_link_frame v;
    uint8_t f[64], g[64];
    size_t fl, gl;
    handshake(&host, &apm, g_host_nonce, g_apm_nonce);
    memcpy(&old_host, &host, sizeof host);
    uint8_t hn2[32], an2[32];
    fill_seq(hn2, 32, 0xc0);
    fill_seq(an2, 32, 0xe0);
    drot_rng rh = fixed_rng(hn2), ra = fixed_rng(an2);
    uint8_t h[128], a[128];
    size_t hl, al;
    assert_int_equal(drot_link_host_hello(&host, &rh, h, sizeof h, &hl), DROT_OK);
    assert_false(host.established);
    assert_int_equal(drot_link_apm_accept_hello(&apm, &ra, h, hl, a, sizeof a, &al), DROT_OK);
    assert_int_equal(drot_link_host_accept_ack(&host, a, al, NULL), DROT_OK);
    fl = host_request(&old_host, DROT_LINK_T_GET_INFO, f, sizeof f);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_VERIFY);
    gl = host_request(&host, DROT_LINK_T_GET_INFO, g, sizeof g);
    assert_int_equal(drot_link_session_open(&apm, g, gl, &v), DROT_OK);
    /* Replaying the first HELLO makes the APM pick a fresh nonce: the old host keys do not fit. */
    uint8_t an3[32];
    fill_seq(an3, 32, 0x10);
    drot_rng ra3 = fixed_rng(an3);
    hl = hex(V_HELLO, h, sizeof h);
    assert_int_equal(drot_link_apm_accept_hello(&apm, &ra3, h, hl, a, sizeof a, &al), DROT_OK);
    fl = host_request(&old_host, DROT_LINK_T_GET_INFO, f, sizeof f);
    assert_int_equal(drot_link_session_open(&apm, f, fl, &v), DROT_E_VERIFY);
}

/* Test 18: frame_seal edge cases / too small a buffer gives DROT_E_BUFFER
 * and the size needed; a payload already at out + 10 is sealed in place to
 * the same bytes as from a separate buffer; NULL arguments are DROT_E_ARG. */
static void test_seal_buffers(void **state)
{
    (void)state;
    uint8_t k[32], a[64], b[64];
    size_t al, bl;
    static const uint8_t pl[] = {0xa1, 0x01, 0x05};
    hex(V_K_A2H, k, 32);
    assert_int_equal(drot_link_frame_seal(k, 0x84, 1, pl, 3, a, 28, &al), DROT_E_BUFFER);
    assert_int_equal(al, 29);
    assert_int_equal(drot_link_frame_seal(k, 0x84, 1, pl, 3, NULL, 0, &al), DROT_E_BUFFER);
    assert_int_equal(drot_link_frame_seal(k, 0x84, 1, pl, 3, a, sizeof a, &al), DROT_OK);
    uint8_t want[64];
    size_t wl = hex(V_EXT_RESP, want, sizeof want);
    assert_int_equal(al, wl);
    assert_memory_equal(a, want, wl);
    memcpy(b + 10, pl, 3);
    assert_int_equal(drot_link_frame_seal(k, 0x84, 1, b + 10, 3, b, sizeof b, &bl), DROT_OK);
    assert_int_equal(bl, al);
    assert_memory_equal(a, b, al);
    drot_link_frame v;
    assert_int_equal(drot_link_frame_seal(NULL, 1, 0, pl, 3, a, sizeof a, &al), DROT_E_ARG);
    assert_int_equal(drot_link_frame_seal(k, 1, 0, NULL, 3, a, sizeof a, &al), DROT_E_ARG);
    assert_int_equal(drot_link_frame_open(k, NULL, 5, &v), DROT_E_ARG);
    assert_int_equal(drot_link_frame_open(k, a, al, NULL), DROT_E_ARG);
    assert_int_equal(drot_link_session_open(NULL, a, al, &v), DROT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_keys_known_answer, setup),
        cmocka_unit_test_setup(test_frames_known_answer, setup),
        cmocka_unit_test_setup(test_session_exchange, setup),
        cmocka_unit_test_setup(test_parse_header, setup),
        cmocka_unit_test_setup(test_wrong_key, setup),
        cmocka_unit_test_setup(test_bit_flips, setup),
        cmocka_unit_test_setup(test_replay, setup),
        cmocka_unit_test_setup(test_out_of_order, setup),
        cmocka_unit_test_setup(test_seq_wrap, setup),
        cmocka_unit_test_setup(test_truncated_and_long, setup),
        cmocka_unit_test_setup(test_oversize, setup),
        cmocka_unit_test_setup(test_bad_payloads, setup),
        cmocka_unit_test_setup(test_bad_hello, setup),
        cmocka_unit_test_setup(test_bad_ack, setup),
        cmocka_unit_test_setup(test_state_rules, setup),
        cmocka_unit_test_setup(test_direction, setup),
        cmocka_unit_test_setup(test_rehandshake, setup),
        cmocka_unit_test_setup(test_seal_buffers, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
