/*
 * test_cose.c — COSE_Sign1 / ES256 (common/src/cose.c).
 *
 * Outside references, embedded so that this file never depends on
 * ../shared/vectors: the COSE WG examples Appendix_C_2_1 (RFC 9052 C.2.1),
 * ecdsa-sig-01 and sign-fail-02 (public domain, cose-wg/Examples).
 *
 * Every rejection is built by hand from a message that is otherwise valid and
 * *correctly signed* (make_msg signs its own Sig_structure, assembled here
 * byte by byte without drot's CBOR writer), so each test proves that the one
 * rule it names is what stops the message, not a bad signature.
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

#include "drot/cose.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

/* ---- embedded vectors ---------------------------------------------------- */

/* JWK of the COSE WG key "11" (P-256). */
static const char k_jwk_d[] = "V8kgd2ZBRuh2dgyVINBUqpPDr7BOMGcF22CQMIUHtNM";
static const char k_jwk_x[] = "usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8";
static const char k_jwk_y[] = "IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4";

static const char k_content[] = "This is the content.";

/* Appendix_C_2_1.json output.cbor: 18([h'A10126', {4: h'3131'}, payload, sig]). */
static const char k_c21_hex[] = "D28443A10126A10442313154546869732069732074686520636F6E74656E742E5840"
                                "8EB33E4CA31D1C465AB05AAC34CC6B23D58FEF5C083106C4D25A91AEF0B0117E"
                                "2AF9A291AA32E14AB834DC56ED2A223444547E01F11D3B0916E5A4C345CACB36";
/* Offsets in it: protected content, unprotected map, payload content, signature. */
#define C21_PROT_OFF    3
#define C21_PROT_LEN    3
#define C21_UNPROT_OFF  6
#define C21_UNPROT_LEN  5
#define C21_PAYLOAD_OFF 12
#define C21_SIG_OFF     34

/* ecdsa-examples/ecdsa-sig-01.json output.cbor: protected {1: -7, 3: 0}. */
static const char k_sig01_hex[] = "D28445A201260300A10442313154546869732069732074686520636F6E74656E742E5840"
                                  "6520BBAF2081D7E0ED0F95F76EB0733D667005F7467CEC4B87B9381A6BA1EDE8"
                                  "E00DF29F32A37230F39A842A54821FDD223092819D7728EFB9D3A0080B75380B";

/* sign1-tests/sign-fail-02.json output.cbor: the payload's last byte changed. */
static const char k_fail02_hex[] = "D28443A10126A10442313154546869732069732074686520636F6E74656E742F5840"
                                   "8EB33E4CA31D1C465AB05AAC34CC6B23D58FEF5C083106C4D25A91AEF0B0117E"
                                   "2AF9A291AA32E14AB834DC56ED2A223444547E01F11D3B0916E5A4C345CACB36";

/* ---- fixtures ----------------------------------------------------------- */

#define BIG (DROT_COSE_SIGN1_MAX_MSG + 256u)

static drot_p256_priv g_priv;
static drot_p256_pub g_pub;
static drot_p256_pub g_other_pub; /* a different valid key */
static uint8_t g_c21[256];
static size_t g_c21_len;
static uint8_t g_msg[BIG];
static uint8_t g_tbs[BIG];

/* Hex (spaces allowed, for readability) into out; aborts the test on bad hex. */
static size_t hex_into(const char *hex, uint8_t *out, size_t cap)
{
    char clean[512];
    size_t k = 0;
    for (; *hex != '\0'; hex++) {
        if (*hex == ' ')
            continue;
        assert_true(k + 1 < sizeof clean);
        clean[k++] = *hex;
    }
    clean[k] = '\0';
    long n = drot_test_hex(clean, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

static int setup(void **state)
{
    (void)state;
    uint8_t d[32], q[65], other_d[32];

    if (drot_test_b64url(k_jwk_d, d, sizeof d) != 32 || drot_test_b64url(k_jwk_x, q + 1, 32) != 32 ||
        drot_test_b64url(k_jwk_y, q + 33, 32) != 32)
        return -1;
    q[0] = 0x04;
    if (drot_p256_key_from_scalar(d, &g_priv, &g_pub) != DROT_OK)
        return -1;
    /* The JWK's x and y must be the public key of its d: checks the fixture itself. */
    if (memcmp(g_pub.q, q, sizeof q) != 0)
        return -1;
    memset(other_d, 0x42, sizeof other_d);
    if (drot_p256_key_from_scalar(other_d, &(drot_p256_priv){0}, &g_other_pub) != DROT_OK)
        return -1;
    long n = drot_test_hex(k_c21_hex, g_c21, sizeof g_c21);
    if (n < 0)
        return -1;
    g_c21_len = (size_t)n;
    return 0;
}

/* ---- an independent, minimal CBOR assembler for hand-built messages ----- */

static void put_head(uint8_t *out, size_t *n, unsigned major, uint64_t v)
{
    uint8_t m = (uint8_t)(major << 5);
    int extra;
    if (v < 24) {
        out[(*n)++] = (uint8_t)(m | v);
        return;
    }
    if (v <= 0xff) {
        out[(*n)++] = m | 24;
        extra = 1;
    } else if (v <= 0xffff) {
        out[(*n)++] = m | 25;
        extra = 2;
    } else if (v <= 0xffffffffu) {
        out[(*n)++] = m | 26;
        extra = 4;
    } else {
        out[(*n)++] = m | 27;
        extra = 8;
    }
    for (int i = extra - 1; i >= 0; i--)
        out[(*n)++] = (uint8_t)(v >> (8 * i));
}

static void put_bytes(uint8_t *out, size_t *n, const void *p, size_t len)
{
    if (len > 0)
        memcpy(out + *n, p, len);
    *n += len;
}

static void put_bstr(uint8_t *out, size_t *n, const void *p, size_t len)
{
    put_head(out, n, 2, len);
    put_bytes(out, n, p, len);
}

static void put_hex(uint8_t *out, size_t *n, size_t cap, const char *hex)
{
    *n += hex_into(hex, out + *n, cap - *n);
}

typedef struct msg_spec {
    const char *tag_hex;      /* raw tag bytes ("D2"), "" for none */
    const char *prot_hex;     /* content of the protected bstr */
    const char *tbs_prot_hex; /* protected as signed; NULL: prot_hex */
    const char *unprot_hex;   /* the encoded unprotected map */
    const uint8_t *payload;   /* NULL: k_content */
    size_t payload_len;
    bool nil_payload;
    const uint8_t *aad;
    size_t aad_len;
    size_t sig_len; /* 0: 64 */
} msg_spec;

/* Signs ["Signature1", tbs_prot, aad, payload] with the fixture key and
 * assembles the message into g_msg; returns its length. */
static size_t make_msg(const msg_spec *s)
{
    uint8_t prot[64], digest[32], sig[DROT_P256_SIG_LEN + 1];
    size_t prot_len = 0, tbs_len = 0, n = 0;
    const uint8_t *payload = s->payload != NULL ? s->payload : (const uint8_t *)k_content;
    size_t payload_len = s->payload != NULL ? s->payload_len : strlen(k_content);
    size_t sig_len = s->sig_len != 0 ? s->sig_len : DROT_P256_SIG_LEN;

    put_hex(prot, &prot_len, sizeof prot, s->tbs_prot_hex != NULL ? s->tbs_prot_hex : s->prot_hex);
    put_hex(g_tbs, &tbs_len, BIG, "846A5369676E617475726531");
    put_bstr(g_tbs, &tbs_len, prot, prot_len);
    put_bstr(g_tbs, &tbs_len, s->aad, s->aad_len);
    put_bstr(g_tbs, &tbs_len, payload, payload_len);
    assert_int_equal(drot_sha256(g_tbs, tbs_len, digest), DROT_OK);
    assert_int_equal(drot_ecdsa_p256_sign(&g_priv, digest, sig), DROT_OK);
    sig[DROT_P256_SIG_LEN] = 0x00;

    prot_len = 0;
    put_hex(prot, &prot_len, sizeof prot, s->prot_hex);
    put_hex(g_msg, &n, BIG, s->tag_hex);
    put_hex(g_msg, &n, BIG, "84");
    put_bstr(g_msg, &n, prot, prot_len);
    put_hex(g_msg, &n, BIG, s->unprot_hex);
    if (s->nil_payload)
        put_hex(g_msg, &n, BIG, "F6");
    else
        put_bstr(g_msg, &n, payload, payload_len);
    put_bstr(g_msg, &n, sig, sig_len);
    return n;
}

/* make_msg with the usual parts and the given protected / unprotected maps.
 * Returns the decode status if decode refuses the message (verify_msg must
 * then agree), else the verify status: header rules belong to decode. */
static drot_status check_headers(const char *prot_hex, const char *unprot_hex)
{
    msg_spec s = {.tag_hex = "D2", .prot_hex = prot_hex, .unprot_hex = unprot_hex};
    size_t n = make_msg(&s);
    drot_cose_sign1_view v;
    drot_status st = drot_cose_sign1_decode(g_msg, n, &v);
    drot_status all = drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL);
    if (st != DROT_OK) {
        assert_int_equal(all, st);
        return st;
    }
    /* Decode accepted: only the signature may still fail. */
    if (all != DROT_OK && all != DROT_E_VERIFY)
        fail_msg("decode accepted, verify returned %d", (int)all);
    return all;
}

/* ---- tests ---------------------------------------------------------------- */

/* Test 1: decode Appendix C.2.1 / every view field points at the right bytes, nothing verified yet. */
static void test_decode_c21(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    assert_int_equal(drot_cose_sign1_decode(g_c21, g_c21_len, &v), DROT_OK);
    assert_true(v.tagged);
    assert_int_equal(v.alg, DROT_COSE_ALG_ES256);
    assert_ptr_equal(v.protected_hdr, g_c21 + C21_PROT_OFF);
    assert_int_equal(v.protected_len, C21_PROT_LEN);
    assert_int_equal(v.kid_len, 2);
    assert_memory_equal(v.kid, "11", 2);
    assert_ptr_equal(v.payload, g_c21 + C21_PAYLOAD_OFF);
    assert_int_equal(v.payload_len, strlen(k_content));
    assert_memory_equal(v.payload, k_content, v.payload_len);
    assert_ptr_equal(v.signature, g_c21 + C21_SIG_OFF);
    assert_int_equal(C21_SIG_OFF + DROT_P256_SIG_LEN, g_c21_len);
    assert_false(v.has_content_type);
}

/* Test 2: Appendix C.2.1 with its key / DROT_OK; another key, or any external AAD / DROT_E_VERIFY. */
static void test_verify_c21(void **state)
{
    (void)state;
    drot_cose_sign1_view v;
    const uint8_t aad[1] = {0};
    assert_int_equal(drot_cose_sign1_verify_msg(g_c21, g_c21_len, &g_pub, NULL, 0, &v), DROT_OK);
    assert_memory_equal(v.payload, k_content, strlen(k_content));
    assert_int_equal(drot_cose_sign1_verify_msg(g_c21, g_c21_len, &g_other_pub, NULL, 0, &v), DROT_E_VERIFY);
    assert_null(v.payload); /* a failed verify hands out nothing */
    assert_int_equal(drot_cose_sign1_verify_msg(g_c21, g_c21_len, &g_pub, aad, 1, NULL), DROT_E_VERIFY);
    /* decode + verify in two steps agree with the one-call form. */
    assert_int_equal(drot_cose_sign1_decode(g_c21, g_c21_len, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify(&v, &g_pub, NULL, 0), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify(&v, &g_other_pub, NULL, 0), DROT_E_VERIFY);
}

/* Test 3: sign-fail-02 (payload changed) / decodes, then DROT_E_VERIFY. */
static void test_verify_fail02(void **state)
{
    (void)state;
    uint8_t m[256];
    size_t n = hex_into(k_fail02_hex, m, sizeof m);
    drot_cose_sign1_view v;
    assert_int_equal(drot_cose_sign1_decode(m, n, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify(&v, &g_pub, NULL, 0), DROT_E_VERIFY);
    assert_int_equal(drot_cose_sign1_verify_msg(m, n, &g_pub, NULL, 0, NULL), DROT_E_VERIFY);
}

/* Test 4: sign → verify with kid, content type, external AAD / round trip; any other AAD / DROT_E_VERIFY. */
static void test_roundtrip_aad(void **state)
{
    (void)state;
    uint8_t aad[12] = {0x11, 0xaa, 0x22, 0xbb, 0x33, 0xcc, 0x44, 0xdd, 0x55, 0x00, 0x66, 0x99};
    const uint8_t kid[5] = {'d', 'e', 'v', '-', '1'};
    drot_cose_sign1_params p = {.kid = kid,
                                .kid_len = sizeof kid,
                                .has_content_type = true,
                                .content_type = 61,
                                .external_aad = aad,
                                .external_aad_len = sizeof aad};
    uint8_t out[256];
    size_t n;
    drot_cose_sign1_view v;

    assert_int_equal(
        drot_cose_sign1_sign(&g_priv, &p, (const uint8_t *)k_content, strlen(k_content), out, sizeof out, &n),
        DROT_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, aad, sizeof aad, &v), DROT_OK);
    assert_true(v.tagged);
    assert_int_equal(v.kid_len, sizeof kid);
    assert_memory_equal(v.kid, kid, sizeof kid);
    assert_true(v.has_content_type);
    assert_int_equal(v.content_type, 61);
    assert_int_equal(v.payload_len, strlen(k_content));
    assert_memory_equal(v.payload, k_content, v.payload_len);

    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, NULL, 0, NULL), DROT_E_VERIFY);
    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, aad, sizeof aad - 1, NULL), DROT_E_VERIFY);
    for (size_t i = 0; i < sizeof aad; i++) {
        aad[i] ^= 0x01;
        assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, aad, sizeof aad, NULL), DROT_E_VERIFY);
        aad[i] ^= 0x01;
    }

    /* Empty payload, no params at all. */
    assert_int_equal(drot_cose_sign1_sign(&g_priv, NULL, NULL, 0, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, NULL, 0, &v), DROT_OK);
    assert_int_equal(v.payload_len, 0);
    assert_null(v.kid);
}

/* Test 5: header encoding of sign / {1:-7}+{4:kid} and {1:-7,3:0}+{4:kid} equal the COSE WG
 * examples up to the signature, and the signature verifies. */
static void test_sign_layout(void **state)
{
    (void)state;
    uint8_t want[256], out[256];
    size_t want_len, n;
    drot_cose_sign1_params p = {.kid = (const uint8_t *)"11", .kid_len = 2};

    want_len = hex_into(k_c21_hex, want, sizeof want);
    assert_int_equal(
        drot_cose_sign1_sign(&g_priv, &p, (const uint8_t *)k_content, strlen(k_content), out, sizeof out, &n),
        DROT_OK);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len - DROT_P256_SIG_LEN);
    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, NULL, 0, NULL), DROT_OK);

    p.has_content_type = true;
    p.content_type = 0;
    want_len = hex_into(k_sig01_hex, want, sizeof want);
    assert_int_equal(
        drot_cose_sign1_sign(&g_priv, &p, (const uint8_t *)k_content, strlen(k_content), out, sizeof out, &n),
        DROT_OK);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len - DROT_P256_SIG_LEN);
    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, NULL, 0, NULL), DROT_OK);
    /* The example's own signature verifies too. */
    assert_int_equal(drot_cose_sign1_verify_msg(want, want_len, &g_pub, NULL, 0, NULL), DROT_OK);
}

/* Test 6: every byte of Appendix C.2.1 XORed with 0x01, 0x80, 0xFF, one at a time / always
 * refused, except inside the unprotected map (kid is not integrity-protected); never a crash. */
static void test_flip_every_byte(void **state)
{
    (void)state;
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    uint8_t m[256];
    size_t refused = 0;

    for (size_t i = 0; i < g_c21_len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            memcpy(m, g_c21, g_c21_len);
            m[i] ^= masks[k];
            drot_status st = drot_cose_sign1_verify_msg(m, g_c21_len, &g_pub, NULL, 0, NULL);
            if (st == DROT_OK) {
                if (i <= C21_UNPROT_OFF || i >= C21_UNPROT_OFF + C21_UNPROT_LEN)
                    fail_msg("flip of byte %zu with 0x%02x was accepted", i, masks[k]);
            } else {
                refused++;
            }
        }
    }
    /* protected, payload and signature alone are 3 + 20 + 64 bytes. */
    assert_true(refused >= 3 * (C21_PROT_LEN + strlen(k_content) + DROT_P256_SIG_LEN));
}

/* Test 7: every proper prefix of Appendix C.2.1, in an exact-size heap copy / DROT_E_TRUNCATED,
 * no out-of-bounds read (ASan). */
static void test_truncation_every_length(void **state)
{
    (void)state;
    for (size_t len = 0; len < g_c21_len; len++) {
        uint8_t *m = malloc(len > 0 ? len : 1);
        assert_non_null(m);
        memcpy(m, g_c21, len);
        drot_cose_sign1_view v;
        drot_status st = drot_cose_sign1_decode(m, len, &v);
        if (st != DROT_E_TRUNCATED)
            fail_msg("prefix of %zu bytes: status %d, want DROT_E_TRUNCATED", len, (int)st);
        assert_null(v.signature);
        assert_int_not_equal(drot_cose_sign1_verify_msg(m, len, &g_pub, NULL, 0, NULL), DROT_OK);
        free(m);
    }
}

/* Test 8: one trailing byte; a second message after the first / DROT_E_TRAILING. */
static void test_trailing(void **state)
{
    (void)state;
    uint8_t m[512];
    memcpy(m, g_c21, g_c21_len);
    m[g_c21_len] = 0x00;
    assert_int_equal(drot_cose_sign1_verify_msg(m, g_c21_len + 1, &g_pub, NULL, 0, NULL), DROT_E_TRAILING);
    memcpy(m + g_c21_len, g_c21, g_c21_len);
    assert_int_equal(drot_cose_sign1_verify_msg(m, 2 * g_c21_len, &g_pub, NULL, 0, NULL), DROT_E_TRAILING);
}

/* Test 9: tags 998 (sign-fail-01), 17, 98, 18(18(...)) / DROT_E_MALFORMED; no tag / accepted, untagged. */
static void test_tags(void **state)
{
    (void)state;
    static const char *bad[] = {"D903E6", "D1", "D862", "D2D2"};
    uint8_t m[512];
    drot_cose_sign1_view v;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = hex_into(bad[i], m, sizeof m);
        memcpy(m + n, g_c21 + 1, g_c21_len - 1);
        n += g_c21_len - 1;
        assert_int_equal(drot_cose_sign1_verify_msg(m, n, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
    }
    assert_int_equal(drot_cose_sign1_verify_msg(g_c21 + 1, g_c21_len - 1, &g_pub, NULL, 0, &v), DROT_OK);
    assert_false(v.tagged);
}

/* Test 10: the hand-built message helper / its baseline message verifies, so the rejections
 * below come from the one changed header. */
static void test_helper_baseline(void **state)
{
    (void)state;
    assert_int_equal(check_headers("A10126", "A0"), DROT_OK);
    assert_int_equal(check_headers("A10126", "A104423131"), DROT_OK);
    msg_spec s = {.tag_hex = "", .prot_hex = "A10126", .unprot_hex = "A0"};
    size_t n = make_msg(&s);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_OK);
}

/* Test 11: alg rules / -35, 7, text "ES256", missing: DROT_E_UNSUPPORTED; bstr: DROT_E_MALFORMED;
 * in the unprotected bucket only: accepted; in both buckets: DROT_E_DUPLICATE. */
static void test_alg_rules(void **state)
{
    (void)state;
    assert_int_equal(check_headers("A1013822", "A0"), DROT_E_UNSUPPORTED);          /* -35, ES384 */
    assert_int_equal(check_headers("A10107", "A0"), DROT_E_UNSUPPORTED);            /* 7 */
    assert_int_equal(check_headers("A1013903E6", "A0"), DROT_E_UNSUPPORTED);        /* -999 */
    assert_int_equal(check_headers("A1016545533235 36", "A0"), DROT_E_UNSUPPORTED); /* "ES256" */
    assert_int_equal(check_headers("", "A0"), DROT_E_UNSUPPORTED);                  /* missing */
    assert_int_equal(check_headers("A0", "A0"), DROT_E_UNSUPPORTED);                /* missing */
    assert_int_equal(check_headers("A10300", "A104423131"), DROT_E_UNSUPPORTED);    /* missing */
    assert_int_equal(check_headers("A1014126", "A0"), DROT_E_MALFORMED);            /* bstr */
    assert_int_equal(check_headers("", "A10126"), DROT_OK);                         /* unprotected */
    assert_int_equal(check_headers("A10126", "A10126"), DROT_E_DUPLICATE);          /* both */
    assert_int_equal(check_headers("A10126", "A101381D"), DROT_E_DUPLICATE);        /* both, differing */
}

/* Test 12: protected h'A0' / enters the Sig_structure as h'' (accepted), not as h'A0' (refused). */
static void test_empty_map_protected(void **state)
{
    (void)state;
    msg_spec s = {.tag_hex = "D2", .prot_hex = "A0", .tbs_prot_hex = "", .unprot_hex = "A2 0126 04423131"};
    size_t n = make_msg(&s);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_OK);
    s.tbs_prot_hex = "A0";
    n = make_msg(&s);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_E_VERIFY);
}

/* Test 13: crit (label 2) in either bucket / DROT_E_UNSUPPORTED. */
static void test_crit(void **state)
{
    (void)state;
    assert_int_equal(check_headers("A201260281 03", "A0"), DROT_E_UNSUPPORTED);
    assert_int_equal(check_headers("A2012602816378797A", "A0"), DROT_E_UNSUPPORTED); /* crit: ["xyz"] */
    assert_int_equal(check_headers("A10126", "A1028103"), DROT_E_UNSUPPORTED);
}

/* Test 14: duplicate labels in a bucket (int, text) and kid in both buckets / DROT_E_DUPLICATE;
 * label 4 and text "4" differ / accepted. */
static void test_duplicates(void **state)
{
    (void)state;
    assert_int_equal(check_headers("A201260126", "A0"), DROT_E_DUPLICATE);
    assert_int_equal(check_headers("A10126", "A204423131044231 32"), DROT_E_DUPLICATE);
    assert_int_equal(check_headers("A10126", "A2636B69640163 6B696402"), DROT_E_DUPLICATE);
    assert_int_equal(check_headers("A2012604423131", "A104423131"), DROT_E_DUPLICATE);
    assert_int_equal(check_headers("A10126", "A20442313161340F"), DROT_OK);
}

/* Test 15: signatures of 63 and 65 bytes, and of 0 / DROT_E_MALFORMED. */
static void test_signature_length(void **state)
{
    (void)state;
    static const size_t lens[] = {63, 65};
    for (size_t i = 0; i < 2; i++) {
        msg_spec s = {.tag_hex = "D2", .prot_hex = "A10126", .unprot_hex = "A0", .sig_len = lens[i]};
        size_t n = make_msg(&s);
        assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
    }
    uint8_t m[256];
    memcpy(m, g_c21, C21_SIG_OFF - 2);
    m[C21_SIG_OFF - 2] = 0x40; /* h'' */
    assert_int_equal(drot_cose_sign1_verify_msg(m, C21_SIG_OFF - 1, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
}

/* Test 16: detached (nil) payload / DROT_E_UNSUPPORTED; payload as tstr or true / DROT_E_MALFORMED. */
static void test_nil_payload(void **state)
{
    (void)state;
    msg_spec s = {.tag_hex = "D2", .prot_hex = "A10126", .unprot_hex = "A0", .nil_payload = true};
    size_t n = make_msg(&s);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_E_UNSUPPORTED);
    uint8_t m[256];
    memcpy(m, g_c21, g_c21_len);
    m[C21_PAYLOAD_OFF - 1] = 0x74; /* tstr of 20 */
    assert_int_equal(drot_cose_sign1_verify_msg(m, g_c21_len, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
    size_t k = 0;
    memcpy(m, g_c21, C21_PAYLOAD_OFF - 1);
    k = C21_PAYLOAD_OFF - 1;
    m[k++] = 0xF5;
    memcpy(m + k, g_c21 + C21_SIG_OFF - 2, DROT_P256_SIG_LEN + 2);
    k += DROT_P256_SIG_LEN + 2;
    assert_int_equal(drot_cose_sign1_verify_msg(m, k, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
}

/* Test 17: a correctly signed message of exactly DROT_COSE_SIGN1_MAX_MSG bytes / accepted;
 * one byte more / DROT_E_TOO_LARGE; sign refuses to produce it. */
static void test_size_limit(void **state)
{
    (void)state;
    static uint8_t payload[DROT_COSE_SIGN1_MAX_MSG];
    static uint8_t out[BIG];
    /* tag 1, array 1, protected 4, unprotected 1, payload head 3, signature 2 + 64. */
    const size_t overhead = 1 + 1 + 4 + 1 + 3 + 2 + DROT_P256_SIG_LEN;
    size_t plen = DROT_COSE_SIGN1_MAX_MSG - overhead, n;

    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    msg_spec s = {
        .tag_hex = "D2", .prot_hex = "A10126", .unprot_hex = "A0", .payload = payload, .payload_len = plen};
    n = make_msg(&s);
    assert_int_equal(n, DROT_COSE_SIGN1_MAX_MSG);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_OK);
    s.payload_len = plen + 1;
    n = make_msg(&s);
    assert_int_equal(n, DROT_COSE_SIGN1_MAX_MSG + 1);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, NULL), DROT_E_TOO_LARGE);

    assert_int_equal(drot_cose_sign1_sign(&g_priv, NULL, payload, plen, out, sizeof out, &n), DROT_OK);
    assert_int_equal(n, DROT_COSE_SIGN1_MAX_MSG);
    assert_int_equal(drot_cose_sign1_sign(&g_priv, NULL, payload, plen + 1, out, sizeof out, &n),
                     DROT_E_TOO_LARGE);
    assert_int_equal(n, 0);
}

/* Test 18: protected bstr holding an int, an array, a bstr, a map plus a byte, half a map; a
 * protected map not wrapped in a bstr / DROT_E_MALFORMED. */
static void test_protected_not_map(void **state)
{
    (void)state;
    assert_int_equal(check_headers("01", "A10126"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("8101", "A10126"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("4126", "A10126"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("A1012600", "A0"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("A201", "A10126"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("A10126A0", "A0"), DROT_E_MALFORMED);
    uint8_t m[256];
    size_t n = hex_into("D284A10126A0", m, sizeof m);
    memcpy(m + n, g_c21 + C21_PAYLOAD_OFF - 1, g_c21_len - (C21_PAYLOAD_OFF - 1));
    n += g_c21_len - (C21_PAYLOAD_OFF - 1);
    assert_int_equal(drot_cose_sign1_verify_msg(m, n, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
}

/* Test 19: other structure and header errors / array of 3 or 5, unprotected not a map, kid not a
 * bstr, bstr label: DROT_E_MALFORMED; text content type: DROT_E_UNSUPPORTED; 9 labels:
 * DROT_E_TOO_LARGE; 20-deep unknown value: DROT_E_DEPTH; unknown labels: ignored. */
static void test_structure(void **state)
{
    (void)state;
    uint8_t m[512];
    drot_cose_sign1_view v;

    memcpy(m, g_c21, g_c21_len);
    m[1] = 0x83;
    assert_int_equal(drot_cose_sign1_verify_msg(m, g_c21_len, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
    m[1] = 0x85;
    m[g_c21_len] = 0x40;
    assert_int_equal(drot_cose_sign1_verify_msg(m, g_c21_len + 1, &g_pub, NULL, 0, NULL), DROT_E_MALFORMED);
    assert_int_equal(drot_cose_sign1_verify_msg((const uint8_t *)"\xA0", 1, &g_pub, NULL, 0, NULL),
                     DROT_E_MALFORMED);

    assert_int_equal(check_headers("A10126", "40"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("A10126", "A10401"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("A10126", "A1413101"), DROT_E_MALFORMED);
    assert_int_equal(check_headers("A201260363746578", "A0"), DROT_E_UNSUPPORTED);
    assert_int_equal(check_headers("A10126", "A9050006000700080009000A000B000C000D00"), DROT_E_TOO_LARGE);
    assert_int_equal(check_headers("A10126", "A105 8181818181 8181818181 8181818181 8181818181 00"),
                     DROT_E_DEPTH);

    /* IV, partial IV, a large negative label, a text label, a nested value: all ignored. */
    assert_int_equal(check_headers("A201260819FFFF", "A4 054100 064101 3A00010000 82A1010203 6178F6"),
                     DROT_OK);
    /* Content type in protected is reported. */
    msg_spec s = {.tag_hex = "D2", .prot_hex = "A20126031832", .unprot_hex = "A0"};
    size_t n = make_msg(&s);
    assert_int_equal(drot_cose_sign1_verify_msg(g_msg, n, &g_pub, NULL, 0, &v), DROT_OK);
    assert_true(v.has_content_type);
    assert_int_equal(v.content_type, 50);
}

/* Test 20: output buffer of every size below the need / DROT_E_BUFFER with the size needed,
 * buffer untouched beyond cap; (NULL, 0) measures; exact size / DROT_OK. */
static void test_sign_buffer(void **state)
{
    (void)state;
    drot_cose_sign1_params p = {.kid = (const uint8_t *)"11", .kid_len = 2};
    const uint8_t *pl = (const uint8_t *)k_content;
    size_t plen = strlen(k_content);
    uint8_t out[256];
    size_t need, n;

    assert_int_equal(drot_cose_sign1_sign(&g_priv, &p, pl, plen, NULL, 0, &need), DROT_E_BUFFER);
    assert_int_equal(need, g_c21_len);
    assert_true(need <= DROT_COSE_SIGN1_SIZE_BOUND(plen, 2));
    for (size_t cap = 0; cap < need; cap++) {
        memset(out, 0xEE, sizeof out);
        n = 12345;
        assert_int_equal(drot_cose_sign1_sign(&g_priv, &p, pl, plen, out, cap, &n), DROT_E_BUFFER);
        assert_int_equal(n, need);
        for (size_t i = cap; i < sizeof out; i++)
            assert_int_equal(out[i], 0xEE);
    }
    assert_int_equal(drot_cose_sign1_sign(&g_priv, &p, pl, plen, out, need, &n), DROT_OK);
    assert_int_equal(n, need);
    assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, NULL, 0, NULL), DROT_OK);
}

/* Test 21: bad arguments / DROT_E_ARG, never a crash. */
static void test_args(void **state)
{
    (void)state;
    uint8_t out[256];
    size_t n;
    drot_cose_sign1_view v;
    drot_cose_sign1_params bad_kid = {.kid = NULL, .kid_len = 3};

    assert_int_equal(drot_cose_sign1_sign(NULL, NULL, NULL, 0, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_sign(&g_priv, NULL, NULL, 1, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_sign(&g_priv, NULL, NULL, 0, out, sizeof out, NULL), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_sign(&g_priv, &bad_kid, NULL, 0, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_decode(NULL, 1, &v), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_decode(g_c21, g_c21_len, NULL), DROT_E_ARG);
    memset(&v, 0, sizeof v);
    assert_int_equal(drot_cose_sign1_verify(&v, &g_pub, NULL, 0), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_decode(g_c21, g_c21_len, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify(&v, NULL, NULL, 0), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_verify(&v, &g_pub, NULL, 2), DROT_E_ARG);
    v.alg = -35;
    assert_int_equal(drot_cose_sign1_verify(&v, &g_pub, NULL, 0), DROT_E_UNSUPPORTED);
}

/* Test 22: sign the inputs of Appendix C.2.1 and ecdsa-sig-01 / BearSSL (RFC 6979): output.cbor
 * byte for byte. OpenSSL signs at random: everything but the signature equal, and it verifies. */
static void test_sign_reproduces_examples(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        bool has_ct;
    } ex[] = {{k_c21_hex, false}, {k_sig01_hex, true}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t want[256], out[256];
        size_t want_len = hex_into(ex[i].hex, want, sizeof want), n;
        drot_cose_sign1_params p = {
            .kid = (const uint8_t *)"11", .kid_len = 2, .has_content_type = ex[i].has_ct};
        assert_int_equal(drot_cose_sign1_sign(&g_priv, &p, (const uint8_t *)k_content, strlen(k_content), out,
                                              sizeof out, &n),
                         DROT_OK);
        assert_int_equal(n, want_len);
#ifdef DROT_CRYPTO_BACKEND_BEARSSL
        assert_memory_equal(out, want, want_len);
#else
        assert_memory_equal(out, want, want_len - DROT_P256_SIG_LEN);
        assert_int_equal(drot_cose_sign1_verify_msg(out, n, &g_pub, NULL, 0, NULL), DROT_OK);
#endif
    }
}

/* Test 23: what is signed, named / the tbs digest of a message equals that
 * of the same message untagged and with another kid (the envelope is not
 * signed), and equals SHA-256 of the COSE WG's published ToBeSign bytes;
 * it changes with the payload and with the external AAD; a hand-built view
 * whose signature_len is 63 is refused, never read past. */
static void test_tbs_digest(void **state)
{
    (void)state;
    /* Appendix C.2.1's ToBeSign_hex from the COSE WG examples */
    static const char tbs_hex[] =
        "846A5369676E61747572653143A101264054546869732069732074686520636F6E74656E742E";
    uint8_t tbs[64], want[DROT_SHA256_LEN], d1[DROT_SHA256_LEN], d2[DROT_SHA256_LEN];
    uint8_t untagged[256];
    drot_cose_sign1_view v;

    size_t tbs_len = hex_into(tbs_hex, tbs, sizeof tbs);
    assert_int_equal(drot_sha256(tbs, tbs_len, want), DROT_OK);
    assert_int_equal(drot_cose_sign1_decode(g_c21, g_c21_len, &v), DROT_OK);
    assert_int_equal(v.signature_len, DROT_P256_SIG_LEN);
    assert_int_equal(drot_cose_sign1_tbs_digest(&v, NULL, 0, d1), DROT_OK);
    assert_memory_equal(d1, want, sizeof want);

    /* untagged: drop the leading 0xd2 */
    memcpy(untagged, g_c21 + 1, g_c21_len - 1);
    assert_int_equal(drot_cose_sign1_decode(untagged, g_c21_len - 1, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_tbs_digest(&v, NULL, 0, d2), DROT_OK);
    assert_memory_equal(d1, d2, sizeof d1);

    /* another kid in the unprotected bucket: same digest, still verifies */
    drot_cose_sign1_view kv = v;
    kv.kid = (const uint8_t *)"22";
    assert_int_equal(drot_cose_sign1_tbs_digest(&kv, NULL, 0, d2), DROT_OK);
    assert_memory_equal(d1, d2, sizeof d1);
    assert_int_equal(drot_cose_sign1_verify(&kv, &g_pub, NULL, 0), DROT_OK);

    /* payload or AAD changes it */
    kv.payload_len--;
    assert_int_equal(drot_cose_sign1_tbs_digest(&kv, NULL, 0, d2), DROT_OK);
    assert_memory_not_equal(d1, d2, sizeof d1);
    kv.payload_len++;
    assert_int_equal(drot_cose_sign1_tbs_digest(&kv, (const uint8_t *)"x", 1, d2), DROT_OK);
    assert_memory_not_equal(d1, d2, sizeof d1);

    /* a short signature in a hand-built view */
    kv.signature_len = DROT_P256_SIG_LEN - 1;
    assert_int_not_equal(drot_cose_sign1_verify(&kv, &g_pub, NULL, 0), DROT_OK);
    assert_int_equal(drot_cose_sign1_tbs_digest(NULL, NULL, 0, d2), DROT_E_ARG);
    assert_int_equal(drot_cose_sign1_tbs_digest(&kv, NULL, 1, d2), DROT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_c21),
        cmocka_unit_test(test_verify_c21),
        cmocka_unit_test(test_verify_fail02),
        cmocka_unit_test(test_roundtrip_aad),
        cmocka_unit_test(test_sign_layout),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_helper_baseline),
        cmocka_unit_test(test_alg_rules),
        cmocka_unit_test(test_empty_map_protected),
        cmocka_unit_test(test_crit),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_signature_length),
        cmocka_unit_test(test_nil_payload),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_protected_not_map),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_sign_buffer),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_sign_reproduces_examples),
        cmocka_unit_test(test_tbs_digest),
    };
    printf("crypto backend: %s\n", drot_crypto_backend());
    return cmocka_run_group_tests(tests, setup, NULL);
}
