/*
 * test_cross_backend.c — this process's backend against the other one.
 *
 * The two backends cannot be linked together, so each test program runs the
 * OTHER backend's drot-xcheck tool (path in DROT_XCHECK_OTHER, set by
 * tests/cmake/crypto.cmake) and compares: every deterministic result must
 * be identical byte for byte (drot_crypto.h, contract point 4), and
 * signatures made by either side must verify on the other.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "drot/cose.h"
#include "drot/hpke.h"
#include "drot/hpke_test.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#ifndef DROT_XCHECK_OTHER
#error "DROT_XCHECK_OTHER (path of the other backend's drot-xcheck tool) must be defined"
#endif

/* Hex strings of a few KiB at most: 8160 bytes of HKDF output is the largest. */
#define HEX_CAP 20000

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A hex argument for the command line; "-" stands for the empty string. */
static char *hexarg(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 2);
    assert_non_null(s);
    if (n == 0)
        strcpy(s, "-");
    else
        to_hex(p, n, s);
    return s;
}

/* Runs the other tool with the given arguments (hex and decimal only, so no
 * shell quoting is needed beyond the tool path) and returns its one output
 * line, malloc'ed, or NULL if it exited non-zero. */
static char *run_other(const char *fmt, ...)
{
    char cmd[4 * HEX_CAP];
    char *line = malloc(2 * HEX_CAP);
    va_list ap;
    int n, status;
    FILE *f;

    assert_non_null(line);
    n = snprintf(cmd, sizeof cmd, "'%s' ", DROT_XCHECK_OTHER);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    va_start(ap, fmt);
    n = vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd - 64);
    f = popen(cmd, "r");
    assert_non_null(f);
    if (fgets(line, 2 * HEX_CAP, f) == NULL)
        line[0] = '\0';
    status = pclose(f);
    line[strcspn(line, "\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(line);
        return NULL;
    }
    return line;
}

/* Asserts that the other side printed exactly the bytes we computed. */
static void expect_same(char *theirs, const uint8_t *ours, size_t n)
{
    char *mine = malloc(2 * n + 1);
    assert_non_null(theirs);
    assert_non_null(mine);
    to_hex(ours, n, mine);
    assert_string_equal(theirs, mine);
    free(mine);
    free(theirs);
}

/* Deterministic varied test inputs: SHA-256 in counter mode over a label. */
static void fill(uint8_t *out, size_t n, const char *label, unsigned idx)
{
    uint8_t block[DROT_SHA256_LEN];
    uint32_t ctr = 0;
    for (size_t off = 0; off < n; off += sizeof block, ctr++) {
        uint8_t hdr[8] = {(uint8_t)(idx >> 24), (uint8_t)(idx >> 16), (uint8_t)(idx >> 8), (uint8_t)idx,
                          (uint8_t)(ctr >> 24), (uint8_t)(ctr >> 16), (uint8_t)(ctr >> 8), (uint8_t)ctr};
        drot_cbuf parts[2] = {{hdr, sizeof hdr}, {label, strlen(label)}};
        assert_int_equal(drot_sha256_v(parts, 2, block), DROT_OK);
        memcpy(out + off, block, n - off < sizeof block ? n - off : sizeof block);
    }
}

/* A valid scalar derived from idx (re-drawn in the ~2^-32 case it is not). */
static void scalar(uint8_t d[32], drot_p256_priv *priv, drot_p256_pub *pub, unsigned idx)
{
    for (unsigned k = 0;; k++) {
        fill(d, 32, "scalar", idx * 1000 + k);
        if (drot_p256_key_from_scalar(d, priv, pub) == DROT_OK)
            return;
    }
}

/*
 * Test 1: the backends identify themselves / the other tool names the other
 * backend (guards against a build that runs the same backend twice).
 */
static void test_other_is_other(void **state)
{
    (void)state;
    char *theirs = run_other("backend");
    assert_non_null(theirs);
    assert_string_not_equal(theirs, drot_crypto_backend());
    free(theirs);
}

/*
 * Test 2: public key from the same scalar (1, n-1, 8 derived) / identical.
 */
static void test_pub_same(void **state)
{
    (void)state;
    uint8_t d[32];
    drot_p256_priv priv;
    drot_p256_pub pub;
    for (unsigned i = 0; i < 10; i++) {
        if (i == 0) {
            memset(d, 0, 32);
            d[31] = 1;
        } else if (i == 1) {
            assert_int_equal(
                drot_test_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550", d, 32), 32);
        } else {
            fill(d, 32, "scalar", i);
        }
        assert_int_equal(drot_p256_key_from_scalar(d, &priv, &pub), DROT_OK);
        char *a = hexarg(d, 32);
        expect_same(run_other("pub %s", a), pub.q, sizeof pub.q);
        free(a);
    }
}

/*
 * Test 3: sign here, verify there; sign there, verify here; a flipped bit
 * / verifies on both sides; the flipped signature fails on both.
 */
static void test_sign_verify_both_ways(void **state)
{
    (void)state;
    uint8_t d[32], dig[32], sig[64];
    drot_p256_priv priv;
    drot_p256_pub pub;
    for (unsigned i = 0; i < 4; i++) {
        scalar(d, &priv, &pub, i);
        fill(dig, 32, "digest", i);
        char *hd = hexarg(d, 32), *hq = hexarg(pub.q, 65), *hg = hexarg(dig, 32);

        assert_int_equal(drot_ecdsa_p256_sign(&priv, dig, sig), DROT_OK);
        char *hs = hexarg(sig, 64);
        char *r = run_other("verify %s %s %s", hq, hg, hs);
        assert_non_null(r);
        assert_string_equal(r, "ok");
        free(r);
        free(hs);
        sig[5] ^= 0x10;
        hs = hexarg(sig, 64);
        r = run_other("verify %s %s %s", hq, hg, hs);
        assert_non_null(r);
        assert_string_equal(r, "fail");
        free(r);
        free(hs);

        r = run_other("sign %s %s", hd, hg);
        assert_non_null(r);
        assert_int_equal(drot_test_hex(r, sig, sizeof sig), 64);
        assert_int_equal(drot_ecdsa_p256_verify(&pub, dig, sig, sizeof sig), DROT_OK);
        dig[0] ^= 1;
        assert_int_equal(drot_ecdsa_p256_verify(&pub, dig, sig, sizeof sig), DROT_E_VERIFY);
        free(r);
        free(hd);
        free(hq);
        free(hg);
    }
}

/*
 * Test 4: ECDH between two derived keys, computed here as A and there as B
 * / the same shared secret.
 */
static void test_ecdh_same(void **state)
{
    (void)state;
    uint8_t da[32], db[32], here[32];
    drot_p256_priv a, b;
    drot_p256_pub pa, pb;
    for (unsigned i = 0; i < 4; i++) {
        scalar(da, &a, &pa, 100 + i);
        scalar(db, &b, &pb, 200 + i);
        assert_int_equal(drot_ecdh_p256(&a, pb.q, sizeof pb.q, here), DROT_OK);
        char *hdb = hexarg(db, 32), *hpa = hexarg(pa.q, 65);
        expect_same(run_other("ecdh %s %s", hdb, hpa), here, sizeof here);
        free(hdb);
        free(hpa);
    }
}

/*
 * Test 5: HMAC with keys of 0, 1, 32, 64, 65, 131 bytes and messages of
 * several lengths / identical tags.
 */
static void test_hmac_same(void **state)
{
    (void)state;
    static const size_t klen[] = {0, 1, 32, 64, 65, 131};
    static const size_t mlen[] = {0, 1, 55, 56, 64, 1000};
    uint8_t key[131], msg[1000], mac[32];
    for (unsigned i = 0; i < 6; i++) {
        fill(key, klen[i], "hmac key", i);
        fill(msg, mlen[i], "hmac msg", i);
        assert_int_equal(drot_hmac_sha256(key, klen[i], msg, mlen[i], mac), DROT_OK);
        char *hk = hexarg(key, klen[i]), *hm = hexarg(msg, mlen[i]);
        expect_same(run_other("hmac %s %s", hk, hm), mac, sizeof mac);
        free(hk);
        free(hm);
    }
}

/*
 * Test 6: HKDF with empty and non-empty salt and info, output lengths 1 to
 * 8160 / identical OKM.
 */
static void test_hkdf_same(void **state)
{
    (void)state;
    static const size_t slen[] = {0, 13, 32, 80, 0, 7};
    static const size_t ilen[] = {0, 10, 0, 200, 5, 3000};
    static const size_t olen[] = {1, 32, 33, 100, DROT_HKDF_SHA256_MAX_OUT, 64};
    uint8_t salt[80], ikm[40];
    static uint8_t info[3000];
    static uint8_t okm[DROT_HKDF_SHA256_MAX_OUT];
    for (unsigned i = 0; i < 6; i++) {
        fill(salt, slen[i], "salt", i);
        fill(ikm, sizeof ikm, "ikm", i);
        fill(info, ilen[i], "info", i);
        assert_int_equal(drot_hkdf_sha256(salt, slen[i], ikm, sizeof ikm, info, ilen[i], okm, olen[i]),
                         DROT_OK);
        char *hs = hexarg(salt, slen[i]), *hk = hexarg(ikm, sizeof ikm), *hi = hexarg(info, ilen[i]);
        expect_same(run_other("hkdf %s %s %s %zu", hs, hk, hi, olen[i]), okm, olen[i]);
        free(hs);
        free(hk);
        free(hi);
    }
}

/*
 * Test 7: AES-128/256-GCM seal with lengths 0..100 and with/without AAD
 * / identical ciphertext and tag; the other side opens ours.
 */
static void test_gcm_same(void **state)
{
    (void)state;
    static const size_t plen[] = {0, 1, 15, 16, 17, 100};
    uint8_t key[32], iv[12], aad[13], pt[100], out[116];
    for (unsigned i = 0; i < 12; i++) {
        size_t kl = i % 2 ? 32 : 16, pl = plen[i / 2], al = i % 3 ? sizeof aad : 0;
        fill(key, kl, "gcm key", i);
        fill(iv, 12, "gcm iv", i);
        fill(aad, al, "gcm aad", i);
        fill(pt, pl, "gcm pt", i);
        assert_int_equal(drot_aes_gcm_seal(key, kl, iv, aad, al, pt, pl, out, out + pl), DROT_OK);
        char *hk = hexarg(key, kl), *hv = hexarg(iv, 12), *ha = hexarg(aad, al), *hp = hexarg(pt, pl);
        char *hc = hexarg(out, pl), *ht = hexarg(out + pl, 16);
        expect_same(run_other("gcm-seal %s %s %s %s", hk, hv, ha, hp), out, pl + 16);
        if (pl != 0)
            expect_same(run_other("gcm-open %s %s %s %s %s", hk, hv, ha, hc, ht), pt, pl);
        free(hk);
        free(hv);
        free(ha);
        free(hp);
        free(hc);
        free(ht);
    }
}

/*
 * Test 8: DRBG with entropy 32/48/64, nonce 16/32, personalization empty or
 * not, with and without a reseed / identical output streams.
 */
static void test_drbg_same(void **state)
{
    (void)state;
    static const size_t elen[] = {32, 48, 64, 32};
    static const size_t nlen[] = {16, 32, 16, 20};
    static const size_t plen[] = {0, 32, 7, 100};
    static const size_t glen[] = {1, 64, 200, 4096};
    uint8_t e[64], n[32], p[100], r[48];
    static uint8_t out[2 * 4096];
    for (unsigned i = 0; i < 4; i++) {
        drot_drbg_ctx ctx;
        fill(e, elen[i], "entropy", i);
        fill(n, nlen[i], "nonce", i);
        fill(p, plen[i], "pers", i);
        fill(r, sizeof r, "reseed", i);
        char *he = hexarg(e, elen[i]), *hn = hexarg(n, nlen[i]), *hp = hexarg(p, plen[i]),
             *hr = hexarg(r, 48);

        assert_int_equal(drot_drbg_init(&ctx, e, elen[i], n, nlen[i], p, plen[i]), DROT_OK);
        assert_int_equal(drot_drbg_generate(&ctx, out, glen[i]), DROT_OK);
        drot_drbg_release(&ctx);
        expect_same(run_other("drbg %s %s %s %zu", he, hn, hp, glen[i]), out, glen[i]);

        assert_int_equal(drot_drbg_init(&ctx, e, elen[i], n, nlen[i], p, plen[i]), DROT_OK);
        assert_int_equal(drot_drbg_generate(&ctx, out, glen[i]), DROT_OK);
        assert_int_equal(drot_drbg_reseed(&ctx, r, sizeof r), DROT_OK);
        assert_int_equal(drot_drbg_generate(&ctx, out + glen[i], glen[i]), DROT_OK);
        drot_drbg_release(&ctx);
        expect_same(run_other("drbg-reseed %s %s %s %zu %s %zu", he, hn, hp, glen[i], hr, glen[i]), out,
                    2 * glen[i]);
        free(he);
        free(hn);
        free(hp);
        free(hr);
    }
}

/*
 * Test 9: HPKE base mode. Stimulus: the same derandomized seal (same ikmE)
 * here and there; a seal here opened there and a seal there opened here,
 * for empty and multi-block plaintexts. Expected: identical enc || ct from
 * both backends; each side opens the other's ciphertext to the plaintext;
 * a flipped ciphertext bit is refused by the other side.
 */
static void test_hpke_both_ways(void **state)
{
    (void)state;
    static const size_t ptlen[] = {0, 1, 32, 100};
    for (unsigned i = 0; i < sizeof ptlen / sizeof ptlen[0]; i++) {
        uint8_t d[32], ikm[32], info[24], aad[12], pt[100], enc_ct[DROT_HPKE_ENC_LEN + 100 + 16], back[116];
        drot_p256_priv priv;
        drot_p256_pub pub;
        drot_hpke_ctx ctx;
        size_t ct_len, pt_len;
        scalar(d, &priv, &pub, 900 + i);
        fill(ikm, sizeof ikm, "ikmE", i);
        fill(info, sizeof info, "info", i);
        fill(aad, sizeof aad, "aad", i);
        fill(pt, ptlen[i], "pt", i);

        assert_int_equal(
            drot_hpke_setup_base_s_derand(&ctx, enc_ct, &pub, info, sizeof info, ikm, sizeof ikm), DROT_OK);
        assert_int_equal(drot_hpke_seal(&ctx, aad, sizeof aad, pt, ptlen[i], enc_ct + DROT_HPKE_ENC_LEN,
                                        sizeof enc_ct - DROT_HPKE_ENC_LEN, &ct_len),
                         DROT_OK);
        drot_hpke_ctx_wipe(&ctx);
        size_t total = DROT_HPKE_ENC_LEN + ct_len;

        char *hq = hexarg(pub.q, sizeof pub.q), *hd = hexarg(d, sizeof d), *hinfo = hexarg(info, sizeof info),
             *haad = hexarg(aad, sizeof aad), *hpt = hexarg(pt, ptlen[i]), *hikm = hexarg(ikm, sizeof ikm);
        /* same inputs, same bytes */
        expect_same(run_other("hpke-seal %s %s %s %s %s", hq, hinfo, haad, hpt, hikm), enc_ct, total);

        /* sealed here, opened there */
        char *henc = hexarg(enc_ct, DROT_HPKE_ENC_LEN), *hct = hexarg(enc_ct + DROT_HPKE_ENC_LEN, ct_len);
        expect_same(run_other("hpke-open %s %s %s %s %s", hd, henc, hinfo, haad, hct), pt, ptlen[i]);
        free(hct);

        /* a flipped bit is refused there */
        enc_ct[DROT_HPKE_ENC_LEN + ct_len - 1] ^= 0x01;
        hct = hexarg(enc_ct + DROT_HPKE_ENC_LEN, ct_len);
        assert_null(run_other("hpke-open %s %s %s %s %s", hd, henc, hinfo, haad, hct));
        free(hct);
        free(henc);

        /* sealed there with another ikmE, opened here */
        fill(ikm, sizeof ikm, "ikmE-there", i);
        free(hikm);
        hikm = hexarg(ikm, sizeof ikm);
        char *theirs = run_other("hpke-seal %s %s %s %s %s", hq, hinfo, haad, hpt, hikm);
        assert_non_null(theirs);
        long n = drot_test_hex(theirs, enc_ct, sizeof enc_ct);
        assert_int_equal(n, (long)total);
        assert_int_equal(drot_hpke_open_base(enc_ct, DROT_HPKE_ENC_LEN, &priv, info, sizeof info, aad,
                                             sizeof aad, enc_ct + DROT_HPKE_ENC_LEN,
                                             (size_t)n - DROT_HPKE_ENC_LEN, back, sizeof back, &pt_len),
                         DROT_OK);
        assert_int_equal(pt_len, ptlen[i]);
        if (pt_len > 0)
            assert_memory_equal(back, pt, pt_len);
        free(theirs);
        free(hq);
        free(hd);
        free(hinfo);
        free(haad);
        free(hpt);
        free(hikm);
        drot_wipe(&priv, sizeof priv);
    }
}

/*
 * Test 10: COSE_Sign1 ES256. Stimulus: a message signed here (with kid and
 * external AAD) verified there, one signed there verified here, and a
 * payload byte flipped. Expected: "ok" both ways; the flipped message and a
 * wrong external AAD give "fail" there and DROT_E_VERIFY here.
 */
static void test_cose_both_ways(void **state)
{
    (void)state;
    uint8_t d[32], payload[300], aad[16], msg[512];
    drot_p256_priv priv;
    drot_p256_pub pub;
    size_t len;
    scalar(d, &priv, &pub, 950);
    fill(payload, sizeof payload, "payload", 1);
    fill(aad, sizeof aad, "aad", 1);
    drot_cose_sign1_params params = {
        .kid = (const uint8_t *)"kid-1", .kid_len = 5, .external_aad = aad, .external_aad_len = sizeof aad};
    assert_int_equal(drot_cose_sign1_sign(&priv, &params, payload, sizeof payload, msg, sizeof msg, &len),
                     DROT_OK);

    char *hq = hexarg(pub.q, sizeof pub.q), *haad = hexarg(aad, sizeof aad), *hmsg = hexarg(msg, len);
    char *out = run_other("cose-verify %s %s %s", hq, haad, hmsg);
    assert_non_null(out);
    assert_string_equal(out, "ok");
    free(out);
    out = run_other("cose-verify %s - %s", hq, hmsg); /* AAD missing */
    assert_non_null(out);
    assert_string_equal(out, "fail");
    free(out);
    free(hmsg);

    msg[len - DROT_P256_SIG_LEN - 10] ^= 0x80; /* a payload byte */
    hmsg = hexarg(msg, len);
    out = run_other("cose-verify %s %s %s", hq, haad, hmsg);
    assert_non_null(out);
    assert_string_equal(out, "fail");
    free(out);
    free(hmsg);

    char *hd = hexarg(d, sizeof d), *hpayload = hexarg(payload, sizeof payload);
    char *theirs = run_other("cose-sign %s 6b69642d32 %s %s", hd, haad, hpayload);
    assert_non_null(theirs);
    long n = drot_test_hex(theirs, msg, sizeof msg);
    assert_true(n > 0);
    drot_cose_sign1_view view;
    assert_int_equal(drot_cose_sign1_verify_msg(msg, (size_t)n, &pub, aad, sizeof aad, &view), DROT_OK);
    assert_int_equal(view.payload_len, sizeof payload);
    assert_memory_equal(view.payload, payload, sizeof payload);
    assert_int_equal(view.kid_len, 5);
    assert_memory_equal(view.kid, "kid-2", 5);
    assert_int_equal(drot_cose_sign1_verify_msg(msg, (size_t)n, &pub, NULL, 0, NULL), DROT_E_VERIFY);
    free(theirs);
    free(hd);
    free(hpayload);
    free(hq);
    free(haad);
    drot_wipe(&priv, sizeof priv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_is_other),
        cmocka_unit_test(test_pub_same),
        cmocka_unit_test(test_sign_verify_both_ways),
        cmocka_unit_test(test_ecdh_same),
        cmocka_unit_test(test_hmac_same),
        cmocka_unit_test(test_hkdf_same),
        cmocka_unit_test(test_gcm_same),
        cmocka_unit_test(test_drbg_same),
        cmocka_unit_test(test_hpke_both_ways),
        cmocka_unit_test(test_cose_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
