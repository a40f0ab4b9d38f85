/*
 * test_hpke.c — RFC 9180 HPKE, base mode, DHKEM(P-256, HKDF-SHA256) /
 * HKDF-SHA256 / AES-128-GCM (common/src/hpke.c), once per crypto backend.
 *
 * Known answers come from outside: RFC 9180 Appendix A.3.1, embedded below
 * as constants (so the core check never depends on ../shared/vectors), and
 * the same appendix read from hpke/rfc9180-appendix-a.json when the vectors
 * folder is present (skipped, not passed, when it is absent). The sender side
 * is reproduced through the test-only ikmE injection of drot/hpke_test.h;
 * test 6 shows the production setup takes the same path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/hpke.h"
#include "drot/hpke_test.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

/* ---- RFC 9180 A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base */

static const char A3_INFO[] = "4f6465206f6e2061204772656369616e2055726e";
static const char A3_IKME[] = "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e";
static const char A3_PKEM[] =
    "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4"
    "b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4";
static const char A3_SKEM[] = "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb";
static const char A3_IKMR[] = "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550";
static const char A3_PKRM[] =
    "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8"
    "a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0";
static const char A3_SKRM[] = "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2";
static const char A3_ENC[] =
    "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4"
    "b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4";
static const char A3_SHARED[] = "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8";
static const char A3_KEY[] = "868c066ef58aae6dc589b6cfdd18f97e";
static const char A3_BASE_NONCE[] = "4e0bc5018beba4bf004cca59";
static const char A3_EXPORTER_SECRET[] = "14ad94af484a7ad3ef40e9f3be99ecc6fa9036df9d4920548424df127ee0d99f";

/* Every message is "Beauty is truth, truth beauty" with aad "Count-<seq>". */
static const char A3_PT[] = "4265617574792069732074727574682c20747275746820626561757479";

typedef struct enc_vec {
    uint64_t seq;
    const char *aad, *nonce, *ct;
} enc_vec;

static const enc_vec A3_ENCS[] = {
    {0, "436f756e742d30", "4e0bc5018beba4bf004cca59",
     "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434"},
    {1, "436f756e742d31", "4e0bc5018beba4bf004cca58",
     "fa6f037b47fc21826b610172ca9637e82d6e5801eb31cbd3748271affd4ecb06646e0329cbdf3c3cd655b28e82"},
    {2, "436f756e742d32", "4e0bc5018beba4bf004cca5b",
     "895cabfac50ce6c6eb02ffe6c048bf53b7f7be9a91fc559402cbc5b8dcaeb52b2ccc93e466c28fb55fed7a7fec"},
    {4, "436f756e742d34", "4e0bc5018beba4bf004cca5d",
     "8787491ee8df99bc99a246c4b3216d3d57ab5076e18fa27133f520703bc70ec999dd36ce042e44f0c3169a6a8f"},
    {255, "436f756e742d323535", "4e0bc5018beba4bf004ccaa6",
     "2ad71c85bf3f45c6eca301426289854b31448bcf8a8ccb1deef3ebd87f60848aa53c538c30a4dac71d619ee2cd"},
    {256, "436f756e742d323536", "4e0bc5018beba4bf004ccb59",
     "10f179686aa2caec1758c8e554513f16472bd0a11e2a907dde0b212cbe87d74f367f8ffe5e41cd3e9962a6afb2"},
};

typedef struct exp_vec {
    const char *context;
    size_t len;
    const char *value;
} exp_vec;

static const exp_vec A3_EXPORTS[] = {
    {"", 32, "5e9bc3d236e1911d95e65b576a8a86d478fb827e8bdfe77b741b289890490d4d"},
    {"00", 32, "6cff87658931bda83dc857e6353efe4987a201b849658d9b047aab4cf216e796"},
    {"54657374436f6e74657874", 32, "d8f1ea7942adbba7412c6d431c62d01371ea476b823eb697e1f6e6cae1dab85a"},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------ */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    long n = drot_test_hex(hex, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

static void assert_hex_equal(const uint8_t *got, size_t got_len, const char *want_hex)
{
    uint8_t want[512];
    size_t n = unhex(want_hex, want, sizeof want);
    assert_int_equal(got_len, n);
    assert_memory_equal(got, want, n);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* The A.3.1 recipient key pair, from the listed skRm/pkRm. */
static void a3_recipient(drot_p256_priv *skR, drot_p256_pub *pkR)
{
    uint8_t d[32];
    drot_p256_pub derived;
    unhex(A3_SKRM, d, sizeof d);
    assert_int_equal(drot_p256_key_from_scalar(d, skR, &derived), DROT_OK);
    unhex(A3_PKRM, pkR->q, sizeof pkR->q);
    assert_memory_equal(derived.q, pkR->q, sizeof pkR->q);
}

/* Both A.3.1 contexts: sender from ikmE, recipient from enc and skRm. */
static void a3_contexts(drot_hpke_ctx *s, drot_hpke_ctx *r)
{
    drot_p256_priv skR;
    drot_p256_pub pkR;
    uint8_t info[64], ikmE[32], enc[DROT_HPKE_ENC_LEN];
    size_t info_len = unhex(A3_INFO, info, sizeof info);
    unhex(A3_IKME, ikmE, sizeof ikmE);
    a3_recipient(&skR, &pkR);
    assert_int_equal(drot_hpke_setup_base_s_derand(s, enc, &pkR, info, info_len, ikmE, sizeof ikmE), DROT_OK);
    assert_hex_equal(enc, sizeof enc, A3_ENC);
    assert_int_equal(drot_hpke_setup_base_r(r, enc, sizeof enc, &skR, info, info_len), DROT_OK);
    drot_wipe(&skR, sizeof skR);
}

/* Seals and opens empty filler messages until both contexts stand at seq,
 * so listed encryptions with gaps (2 → 4 → 255) are reached in order. */
static void advance_to(drot_hpke_ctx *s, drot_hpke_ctx *r, uint64_t seq)
{
    assert_true(s->seq <= seq);
    assert_true(r->seq == s->seq);
    while (s->seq < seq) {
        uint8_t ct[DROT_HPKE_TAG_LEN];
        size_t ct_len = 0, pt_len = 99;
        assert_int_equal(drot_hpke_seal(s, NULL, 0, NULL, 0, ct, sizeof ct, &ct_len), DROT_OK);
        assert_int_equal(ct_len, DROT_HPKE_TAG_LEN);
        assert_int_equal(drot_hpke_open(r, NULL, 0, ct, ct_len, NULL, 0, &pt_len), DROT_OK);
        assert_int_equal(pt_len, 0);
    }
    assert_true(r->seq == seq);
}

/* One listed encryption: the nonce our context implies, the ciphertext the
 * sender produces, and the plaintext the recipient recovers. */
static void check_encryption(drot_hpke_ctx *s, drot_hpke_ctx *r, uint64_t seq, const uint8_t *pt,
                             size_t pt_len, const uint8_t *aad, size_t aad_len, const uint8_t *nonce,
                             size_t nonce_len, const uint8_t *ct, size_t ct_len)
{
    uint8_t got[512], back[512], n[DROT_HPKE_NONCE_LEN];
    size_t got_len = 0, back_len = 0;

    assert_true(pt_len + DROT_HPKE_TAG_LEN <= sizeof got);
    advance_to(s, r, seq);
    /* ComputeNonce(seq) from the derived base_nonce, against the listed nonce. */
    memcpy(n, s->base_nonce, sizeof n);
    for (unsigned i = 0; i < 8; i++)
        n[DROT_HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
    assert_int_equal(nonce_len, sizeof n);
    assert_memory_equal(n, nonce, sizeof n);

    assert_int_equal(drot_hpke_seal(s, aad, aad_len, pt, pt_len, got, sizeof got, &got_len), DROT_OK);
    assert_int_equal(got_len, ct_len);
    assert_memory_equal(got, ct, ct_len);
    assert_int_equal(drot_hpke_open(r, aad, aad_len, ct, ct_len, back, sizeof back, &back_len), DROT_OK);
    assert_int_equal(back_len, pt_len);
    assert_memory_equal(back, pt, pt_len);
    assert_true(s->seq == seq + 1 && r->seq == seq + 1);
}

/* A test rng: HMAC_DRBG from the port, fixed seed, so runs are repeatable. */
static void drbg_for_test(drot_drbg_ctx *drbg, uint8_t tweak)
{
    uint8_t entropy[32], nonce[16];
    for (size_t i = 0; i < sizeof entropy; i++)
        entropy[i] = (uint8_t)(i * 7 + tweak);
    memset(nonce, 0xA5, sizeof nonce);
    assert_int_equal(drot_drbg_init(drbg, entropy, sizeof entropy, nonce, sizeof nonce, NULL, 0), DROT_OK);
}

/* An rng that hands out given bytes, and counts the calls. */
typedef struct replay_rng {
    const uint8_t *p;
    size_t n;
    unsigned calls;
} replay_rng;

static drot_status replay_fill(void *c, uint8_t *out, size_t len)
{
    replay_rng *r = c;
    r->calls++;
    if (len > r->n)
        return DROT_E_RNG;
    memcpy(out, r->p, len);
    r->p += len;
    r->n -= len;
    return DROT_OK;
}

/* An rng that always fails, and counts the calls. */
static drot_status failing_fill(void *c, uint8_t *out, size_t len)
{
    (void)out;
    (void)len;
    (*(unsigned *)c)++;
    return DROT_E_RNG;
}

/* ---- known answers ----------------------------------------------------------------- */

/* Test 1: DeriveKeyPair(ikmE), DeriveKeyPair(ikmR) / skEm, pkEm, skRm, pkRm of A.3.1. */
static void test_derive_keypair_a3(void **state)
{
    (void)state;
    uint8_t ikm[32];
    drot_p256_priv sk, sk2;
    drot_p256_pub pk;

    unhex(A3_IKME, ikm, sizeof ikm);
    assert_int_equal(drot_hpke_derive_keypair(ikm, sizeof ikm, &sk, &pk), DROT_OK);
    assert_hex_equal(sk.d, sizeof sk.d, A3_SKEM);
    assert_hex_equal(pk.q, sizeof pk.q, A3_PKEM);
    /* pub may be NULL; the scalar does not change. */
    assert_int_equal(drot_hpke_derive_keypair(ikm, sizeof ikm, &sk2, NULL), DROT_OK);
    assert_memory_equal(sk2.d, sk.d, sizeof sk.d);

    unhex(A3_IKMR, ikm, sizeof ikm);
    assert_int_equal(drot_hpke_derive_keypair(ikm, sizeof ikm, &sk, &pk), DROT_OK);
    assert_hex_equal(sk.d, sizeof sk.d, A3_SKRM);
    assert_hex_equal(pk.q, sizeof pk.q, A3_PKRM);
    drot_wipe(&sk, sizeof sk);
    drot_wipe(&sk2, sizeof sk2);
}

/* Test 2: Encap(pkRm) with ikmE / enc and shared_secret of A.3.1; Decap(enc, skRm) / same shared_secret. */
static void test_kem_a3(void **state)
{
    (void)state;
    drot_p256_priv skR;
    drot_p256_pub pkR;
    uint8_t ikmE[32], enc[DROT_HPKE_ENC_LEN], ss[DROT_HPKE_SHARED_SECRET_LEN];

    a3_recipient(&skR, &pkR);
    unhex(A3_IKME, ikmE, sizeof ikmE);
    assert_int_equal(drot_hpke_test_encap_derand(&pkR, ikmE, sizeof ikmE, enc, ss), DROT_OK);
    assert_hex_equal(enc, sizeof enc, A3_ENC);
    assert_hex_equal(enc, sizeof enc, A3_PKEM); /* enc = SerializePublicKey(pkE) */
    assert_hex_equal(ss, sizeof ss, A3_SHARED);

    memset(ss, 0, sizeof ss);
    assert_int_equal(drot_hpke_test_decap(enc, sizeof enc, &skR, ss), DROT_OK);
    assert_hex_equal(ss, sizeof ss, A3_SHARED);
    drot_wipe(&skR, sizeof skR);
}

/* Test 3: SetupBaseS / SetupBaseR with A.3.1 inputs / key, base_nonce, exporter_secret, seq 0, roles. */
static void test_key_schedule_a3(void **state)
{
    (void)state;
    drot_hpke_ctx s, r;

    a3_contexts(&s, &r);
    assert_hex_equal(s.key, sizeof s.key, A3_KEY);
    assert_hex_equal(s.base_nonce, sizeof s.base_nonce, A3_BASE_NONCE);
    assert_hex_equal(s.exporter_secret, sizeof s.exporter_secret, A3_EXPORTER_SECRET);
    assert_hex_equal(r.key, sizeof r.key, A3_KEY);
    assert_hex_equal(r.base_nonce, sizeof r.base_nonce, A3_BASE_NONCE);
    assert_hex_equal(r.exporter_secret, sizeof r.exporter_secret, A3_EXPORTER_SECRET);
    assert_true(s.seq == 0 && r.seq == 0);
    assert_int_equal(s.role, DROT_HPKE_ROLE_SENDER);
    assert_int_equal(r.role, DROT_HPKE_ROLE_RECIPIENT);
    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    assert_true(all_zero((const uint8_t *)&s, sizeof s));
    assert_true(all_zero((const uint8_t *)&r, sizeof r));
}

/* Test 4: all six listed A.3.1 encryptions (seq 0, 1, 2, 4, 255, 256), in order / nonce, ct and pt as listed.
 */
static void test_encryptions_a3(void **state)
{
    (void)state;
    drot_hpke_ctx s, r;
    uint8_t pt[64];
    size_t pt_len = unhex(A3_PT, pt, sizeof pt);

    a3_contexts(&s, &r);
    for (size_t i = 0; i < N_ELEMS(A3_ENCS); i++) {
        uint8_t aad[32], nonce[16], ct[128];
        size_t aad_len = unhex(A3_ENCS[i].aad, aad, sizeof aad);
        size_t nonce_len = unhex(A3_ENCS[i].nonce, nonce, sizeof nonce);
        size_t ct_len = unhex(A3_ENCS[i].ct, ct, sizeof ct);
        check_encryption(&s, &r, A3_ENCS[i].seq, pt, pt_len, aad, aad_len, nonce, nonce_len, ct, ct_len);
    }
    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
}

/* Test 5: the three listed A.3.1 exports, from both contexts / exported values as listed. */
static void test_exports_a3(void **state)
{
    (void)state;
    drot_hpke_ctx s, r;

    a3_contexts(&s, &r);
    for (size_t i = 0; i < N_ELEMS(A3_EXPORTS); i++) {
        uint8_t ctx_bytes[32], out[64];
        size_t n = unhex(A3_EXPORTS[i].context, ctx_bytes, sizeof ctx_bytes);
        const uint8_t *c = n != 0 ? ctx_bytes : NULL; /* "" passes as NULL, 0 */
        assert_int_equal(drot_hpke_export(&s, c, n, out, A3_EXPORTS[i].len), DROT_OK);
        assert_hex_equal(out, A3_EXPORTS[i].len, A3_EXPORTS[i].value);
        memset(out, 0, sizeof out);
        assert_int_equal(drot_hpke_export(&r, c, n, out, A3_EXPORTS[i].len), DROT_OK);
        assert_hex_equal(out, A3_EXPORTS[i].len, A3_EXPORTS[i].value);
    }
    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
}

/* Test 6: production drot_hpke_setup_base_s / drot_hpke_seal_base with an rng that yields ikmE
 * / the A.3.1 enc and seq-0 ciphertext: the production path is the derand path plus one 32-byte draw. */
static void test_production_setup_is_derand_path(void **state)
{
    (void)state;
    drot_p256_priv skR;
    drot_p256_pub pkR;
    drot_hpke_ctx s, s2;
    uint8_t ikmE[32], info[64], aad[16], pt[64], enc[DROT_HPKE_ENC_LEN], ct[128];
    size_t info_len = unhex(A3_INFO, info, sizeof info);
    size_t aad_len = unhex(A3_ENCS[0].aad, aad, sizeof aad);
    size_t pt_len = unhex(A3_PT, pt, sizeof pt);
    size_t ct_len = 0;

    a3_recipient(&skR, &pkR);
    unhex(A3_IKME, ikmE, sizeof ikmE);

    replay_rng rr = {ikmE, sizeof ikmE, 0};
    drot_rng rng = {replay_fill, &rr};
    assert_int_equal(drot_hpke_setup_base_s(&s, enc, &pkR, info, info_len, &rng), DROT_OK);
    assert_int_equal(rr.calls, 1);
    assert_int_equal(rr.n, 0);
    assert_hex_equal(enc, sizeof enc, A3_ENC);
    assert_hex_equal(s.key, sizeof s.key, A3_KEY);
    assert_hex_equal(s.base_nonce, sizeof s.base_nonce, A3_BASE_NONCE);
    assert_hex_equal(s.exporter_secret, sizeof s.exporter_secret, A3_EXPORTER_SECRET);

    /* Same context as the derand entry point, byte for byte. */
    uint8_t enc2[DROT_HPKE_ENC_LEN];
    assert_int_equal(drot_hpke_setup_base_s_derand(&s2, enc2, &pkR, info, info_len, ikmE, sizeof ikmE),
                     DROT_OK);
    assert_memory_equal(&s, &s2, sizeof s);
    assert_memory_equal(enc, enc2, sizeof enc);

    replay_rng rr2 = {ikmE, sizeof ikmE, 0};
    drot_rng rng2 = {replay_fill, &rr2};
    memset(enc, 0, sizeof enc);
    assert_int_equal(drot_hpke_seal_base(&pkR, info, info_len, aad, aad_len, pt, pt_len, &rng2, enc, ct,
                                         sizeof ct, &ct_len),
                     DROT_OK);
    assert_hex_equal(enc, sizeof enc, A3_ENC);
    assert_hex_equal(ct, ct_len, A3_ENCS[0].ct);

    /* And the single-shot open recovers it. */
    uint8_t back[64];
    size_t back_len = 0;
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len, aad, aad_len, ct, ct_len,
                                         back, sizeof back, &back_len),
                     DROT_OK);
    assert_int_equal(back_len, pt_len);
    assert_memory_equal(back, pt, pt_len);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&s2);
    drot_wipe(&skR, sizeof skR);
}

/* ---- the vector file ------------------------------------------------------------- */

static const char *jstr(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || !json_is_string(v))
        fail_msg("vector field '%s' missing or not a string", key);
    return json_string_value(v);
}

static long long jint(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || !json_is_integer(v))
        fail_msg("vector field '%s' missing or not an integer", key);
    return (long long)json_integer_value(v);
}

/* Decodes a hex field into a fresh buffer (test code only; caller frees). */
static uint8_t *jhex(json_t *obj, const char *key, size_t *len)
{
    return drot_test_hex_alloc(jstr(obj, key), len);
}

static void check_fixed(json_t *obj, const char *key, const uint8_t *got, size_t got_len)
{
    size_t n;
    uint8_t *want = jhex(obj, key, &n);
    assert_int_equal(n, got_len);
    assert_memory_equal(got, want, n);
    free(want);
}

/* One suite entry of the file: key pairs, KEM, key schedule, every
 * encryption in sequence order, every export. Adds to the counters. */
static void check_file_entry(json_t *e, size_t *n_enc, size_t *n_exp)
{
    size_t info_len, ikmE_len, ikmR_len, skRm_len;
    uint8_t *info = jhex(e, "info", &info_len);
    uint8_t *ikmE = jhex(e, "ikmE", &ikmE_len);
    uint8_t *ikmR = jhex(e, "ikmR", &ikmR_len);
    uint8_t *skRm = jhex(e, "skRm", &skRm_len);
    drot_p256_priv skE, skR, skR_listed;
    drot_p256_pub pkE, pkR;
    drot_hpke_ctx s, r;
    uint8_t enc[DROT_HPKE_ENC_LEN], ss[DROT_HPKE_SHARED_SECRET_LEN];

    assert_int_equal(drot_hpke_derive_keypair(ikmE, ikmE_len, &skE, &pkE), DROT_OK);
    check_fixed(e, "skEm", skE.d, sizeof skE.d);
    check_fixed(e, "pkEm", pkE.q, sizeof pkE.q);
    assert_int_equal(drot_hpke_derive_keypair(ikmR, ikmR_len, &skR, &pkR), DROT_OK);
    check_fixed(e, "skRm", skR.d, sizeof skR.d);
    check_fixed(e, "pkRm", pkR.q, sizeof pkR.q);
    assert_int_equal(skRm_len, DROT_P256_SCALAR_LEN);
    assert_int_equal(drot_p256_key_from_scalar(skRm, &skR_listed, NULL), DROT_OK);

    assert_int_equal(drot_hpke_test_encap_derand(&pkR, ikmE, ikmE_len, enc, ss), DROT_OK);
    check_fixed(e, "enc", enc, sizeof enc);
    check_fixed(e, "shared_secret", ss, sizeof ss);
    memset(ss, 0, sizeof ss);
    assert_int_equal(drot_hpke_test_decap(enc, sizeof enc, &skR_listed, ss), DROT_OK);
    check_fixed(e, "shared_secret", ss, sizeof ss);

    assert_int_equal(
        drot_hpke_setup_base_s_derand(&s, enc, &pkR, info_len ? info : NULL, info_len, ikmE, ikmE_len),
        DROT_OK);
    check_fixed(e, "enc", enc, sizeof enc);
    assert_int_equal(
        drot_hpke_setup_base_r(&r, enc, sizeof enc, &skR_listed, info_len ? info : NULL, info_len), DROT_OK);
    check_fixed(e, "key", s.key, sizeof s.key);
    check_fixed(e, "base_nonce", s.base_nonce, sizeof s.base_nonce);
    check_fixed(e, "exporter_secret", s.exporter_secret, sizeof s.exporter_secret);
    check_fixed(e, "key", r.key, sizeof r.key);
    check_fixed(e, "base_nonce", r.base_nonce, sizeof r.base_nonce);
    check_fixed(e, "exporter_secret", r.exporter_secret, sizeof r.exporter_secret);

    json_t *encs = json_object_get(e, "encryptions");
    json_t *x;
    size_t i;
    long long last = -1;
    assert_true(json_is_array(encs));
    json_array_foreach(encs, i, x)
    {
        long long seq = jint(x, "sequence number");
        size_t pt_len, aad_len, nonce_len, ct_len;
        /* The contexts only move forward: the file must list in order. */
        if (seq <= last)
            fail_msg("encryptions not in increasing sequence order (%lld after %lld)", seq, last);
        last = seq;
        uint8_t *pt = jhex(x, "pt", &pt_len);
        uint8_t *aad = jhex(x, "aad", &aad_len);
        uint8_t *nonce = jhex(x, "nonce", &nonce_len);
        uint8_t *ct = jhex(x, "ct", &ct_len);
        check_encryption(&s, &r, (uint64_t)seq, pt, pt_len, aad, aad_len, nonce, nonce_len, ct, ct_len);
        free(pt);
        free(aad);
        free(nonce);
        free(ct);
        (*n_enc)++;
    }

    json_t *exps = json_object_get(e, "exports");
    assert_true(json_is_array(exps));
    json_array_foreach(exps, i, x)
    {
        size_t c_len, v_len;
        long long L = jint(x, "L");
        uint8_t *c = jhex(x, "exporter_context", &c_len);
        uint8_t *v = jhex(x, "exported_value", &v_len);
        assert_true(L > 0 && (size_t)L == v_len);
        uint8_t *out = malloc(v_len);
        assert_non_null(out);
        assert_int_equal(drot_hpke_export(&s, c_len ? c : NULL, c_len, out, v_len), DROT_OK);
        assert_memory_equal(out, v, v_len);
        memset(out, 0, v_len);
        assert_int_equal(drot_hpke_export(&r, c_len ? c : NULL, c_len, out, v_len), DROT_OK);
        assert_memory_equal(out, v, v_len);
        free(out);
        free(c);
        free(v);
        (*n_exp)++;
    }

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    drot_wipe(&skE, sizeof skE);
    drot_wipe(&skR, sizeof skR);
    drot_wipe(&skR_listed, sizeof skR_listed);
    free(info);
    free(ikmE);
    free(ikmR);
    free(skRm);
}

/* Test 7: every entry of hpke/rfc9180-appendix-a.json with mode 0, kem 0x10, kdf 1, aead 1
 * / all listed values, every encryption in sequence order, every export; skipped if the file is absent. */
static void test_vector_file(void **state)
{
    (void)state;
    json_t *root = drot_test_vector_json("hpke/rfc9180-appendix-a.json");
    if (root == NULL) {
        skip();
        return;
    }
    assert_true(json_is_array(root));
    size_t idx, n_entries = 0, n_enc = 0, n_exp = 0;
    json_t *e;
    json_array_foreach(root, idx, e)
    {
        if (jint(e, "mode") != DROT_HPKE_MODE_BASE || jint(e, "kem_id") != DROT_HPKE_KEM_ID ||
            jint(e, "kdf_id") != DROT_HPKE_KDF_ID || jint(e, "aead_id") != DROT_HPKE_AEAD_ID)
            continue;
        check_file_entry(e, &n_enc, &n_exp);
        n_entries++;
    }
    json_decref(root);
    print_message("hpke vectors: %zu entries, %zu encryptions, %zu exports checked\n", n_entries, n_enc,
                  n_exp);
    /* A file without our suite would otherwise "pass" having checked nothing. */
    assert_true(n_entries >= 1);
    assert_true(n_enc >= 1);
    assert_true(n_exp >= 1);
}

/* ---- properties -------------------------------------------------------------------- */

/* Test 8: the DESIGN 7.1 round trip with a DRBG: seal a fresh P-256 scalar to the device key, open it
 * / same scalar back; two seals give different enc; multi-message context, empty pt, in place, exports agree.
 */
static void test_round_trip(void **state)
{
    (void)state;
    drot_drbg_ctx drbg;
    drbg_for_test(&drbg, 1);
    drot_rng rng = drot_drbg_rng(&drbg);
    drot_p256_priv dev_sk, new_sk;
    drot_p256_pub dev_pk, new_pk;
    static const uint8_t info[] = "drot rotate device=0001020304050607 epoch=2";
    static const uint8_t aad[] = "instruction v1";
    uint8_t enc[DROT_HPKE_ENC_LEN], enc2[DROT_HPKE_ENC_LEN];
    uint8_t ct[DROT_HPKE_CT_LEN(32)], ct2[DROT_HPKE_CT_LEN(32)], back[32];
    size_t ct_len = 0, ct2_len = 0, back_len = 0;

    assert_int_equal(drot_p256_keygen(&rng, &dev_sk, &dev_pk), DROT_OK);
    assert_int_equal(drot_p256_keygen(&rng, &new_sk, &new_pk), DROT_OK);

    assert_int_equal(drot_hpke_seal_base(&dev_pk, info, sizeof info - 1, aad, sizeof aad - 1, new_sk.d,
                                         sizeof new_sk.d, &rng, enc, ct, sizeof ct, &ct_len),
                     DROT_OK);
    assert_int_equal(ct_len, 48);
    assert_true(memcmp(ct, new_sk.d, 32) != 0);
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &dev_sk, info, sizeof info - 1, aad, sizeof aad - 1,
                                         ct, ct_len, back, sizeof back, &back_len),
                     DROT_OK);
    assert_int_equal(back_len, 32);
    assert_memory_equal(back, new_sk.d, 32);
    /* DESIGN 7.1 step 3: the opened scalar gives the signed public key. */
    drot_p256_priv chk;
    drot_p256_pub chk_pk;
    assert_int_equal(drot_p256_key_from_scalar(back, &chk, &chk_pk), DROT_OK);
    assert_memory_equal(chk_pk.q, new_pk.q, sizeof new_pk.q);

    /* A second seal of the same message draws a new ephemeral key. */
    assert_int_equal(drot_hpke_seal_base(&dev_pk, info, sizeof info - 1, aad, sizeof aad - 1, new_sk.d,
                                         sizeof new_sk.d, &rng, enc2, ct2, sizeof ct2, &ct2_len),
                     DROT_OK);
    assert_true(memcmp(enc, enc2, sizeof enc) != 0);
    assert_true(memcmp(ct, ct2, ct_len) != 0);

    /* A context over several messages of several lengths, some in place. */
    drot_hpke_ctx s, r;
    assert_int_equal(drot_hpke_setup_base_s(&s, enc, &dev_pk, NULL, 0, &rng), DROT_OK);
    assert_int_equal(drot_hpke_setup_base_r(&r, enc, sizeof enc, &dev_sk, NULL, 0), DROT_OK);
    for (size_t len = 0; len <= 100; len += 7) {
        uint8_t msg[128], buf[128], out[128];
        size_t n = 0, m = 0;
        for (size_t i = 0; i < len; i++)
            msg[i] = (uint8_t)(i + len);
        if (len % 2 == 0) {
            /* in place: seal msg in buf, then open buf over itself */
            memcpy(buf, msg, len);
            assert_int_equal(drot_hpke_seal(&s, NULL, 0, len ? buf : NULL, len, buf, sizeof buf, &n),
                             DROT_OK);
            assert_int_equal(n, len + DROT_HPKE_TAG_LEN);
            assert_int_equal(drot_hpke_open(&r, NULL, 0, buf, n, buf, sizeof buf, &m), DROT_OK);
            assert_int_equal(m, len);
            assert_memory_equal(buf, msg, len);
        } else {
            assert_int_equal(drot_hpke_seal(&s, aad, sizeof aad - 1, msg, len, buf, sizeof buf, &n), DROT_OK);
            assert_int_equal(drot_hpke_open(&r, aad, sizeof aad - 1, buf, n, out, sizeof out, &m), DROT_OK);
            assert_int_equal(m, len);
            assert_memory_equal(out, msg, len);
        }
    }
    /* Exports agree across roles and separate by context and length. */
    uint8_t e1[32], e2[32], e3[32], e4[16];
    assert_int_equal(drot_hpke_export(&s, aad, sizeof aad - 1, e1, sizeof e1), DROT_OK);
    assert_int_equal(drot_hpke_export(&r, aad, sizeof aad - 1, e2, sizeof e2), DROT_OK);
    assert_memory_equal(e1, e2, sizeof e1);
    assert_int_equal(drot_hpke_export(&r, NULL, 0, e3, sizeof e3), DROT_OK);
    assert_true(memcmp(e1, e3, sizeof e1) != 0);
    /* L is in the labeled info: a shorter export is not a prefix. */
    assert_int_equal(drot_hpke_export(&r, aad, sizeof aad - 1, e4, sizeof e4), DROT_OK);
    assert_true(memcmp(e1, e4, sizeof e4) != 0);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    drot_wipe(&dev_sk, sizeof dev_sk);
    drot_wipe(&new_sk, sizeof new_sk);
    drot_wipe(&chk, sizeof chk);
    drot_drbg_release(&drbg);
}

/* Test 9: the fixed limits: info, aad, exporter_context, export length and ikm at the limit
 * / accepted and effective; one byte over / DROT_E_TOO_LARGE (DROT_E_ARG for L 0 and ikm < 32). */
static void test_limits(void **state)
{
    (void)state;
    static uint8_t big[DROT_HPKE_MAX_AAD + 1];
    static uint8_t out[DROT_HPKE_MAX_EXPORT_LEN + 1];
    drot_drbg_ctx drbg;
    drbg_for_test(&drbg, 2);
    drot_rng rng = drot_drbg_rng(&drbg);
    drot_p256_priv sk;
    drot_p256_pub pk;
    drot_hpke_ctx s, r;
    uint8_t enc[DROT_HPKE_ENC_LEN], ct[64], pt[16] = "limits";
    size_t ct_len = 0, pt_len = 0;

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31 + 5);
    assert_int_equal(drot_p256_keygen(&rng, &sk, &pk), DROT_OK);

    /* info: MAX works, and its last byte matters. */
    assert_int_equal(drot_hpke_setup_base_s(&s, enc, &pk, big, DROT_HPKE_MAX_INFO, &rng), DROT_OK);
    assert_int_equal(drot_hpke_setup_base_r(&r, enc, sizeof enc, &sk, big, DROT_HPKE_MAX_INFO), DROT_OK);
    assert_memory_equal(s.key, r.key, sizeof s.key);
    big[DROT_HPKE_MAX_INFO - 1] ^= 1;
    drot_hpke_ctx r2;
    assert_int_equal(drot_hpke_setup_base_r(&r2, enc, sizeof enc, &sk, big, DROT_HPKE_MAX_INFO), DROT_OK);
    assert_true(memcmp(s.key, r2.key, sizeof s.key) != 0);
    big[DROT_HPKE_MAX_INFO - 1] ^= 1;
    drot_hpke_ctx_wipe(&r2);
    /* info: MAX + 1 refused on both sides and in single shot; context left wiped. */
    drot_hpke_ctx t;
    memset(&t, 0x5A, sizeof t);
    assert_int_equal(drot_hpke_setup_base_s(&t, enc, &pk, big, DROT_HPKE_MAX_INFO + 1, &rng),
                     DROT_E_TOO_LARGE);
    assert_true(all_zero((const uint8_t *)&t, sizeof t));
    memset(&t, 0x5A, sizeof t);
    assert_int_equal(drot_hpke_setup_base_r(&t, enc, sizeof enc, &sk, big, DROT_HPKE_MAX_INFO + 1),
                     DROT_E_TOO_LARGE);
    assert_true(all_zero((const uint8_t *)&t, sizeof t));
    uint8_t ikm[DROT_HPKE_MAX_IKM + 1];
    memset(ikm, 7, sizeof ikm);
    assert_int_equal(
        drot_hpke_setup_base_s_derand(&t, enc, &pk, big, DROT_HPKE_MAX_INFO + 1, ikm, DROT_HPKE_MIN_IKM),
        DROT_E_TOO_LARGE);
    assert_int_equal(drot_hpke_seal_base(&pk, big, DROT_HPKE_MAX_INFO + 1, NULL, 0, pt, sizeof pt, &rng, enc,
                                         ct, sizeof ct, &ct_len),
                     DROT_E_TOO_LARGE);

    /* aad: MAX works and matters; MAX + 1 refused, seq unchanged. */
    assert_int_equal(drot_hpke_seal(&s, big, DROT_HPKE_MAX_AAD, pt, sizeof pt, ct, sizeof ct, &ct_len),
                     DROT_OK);
    assert_int_equal(drot_hpke_open(&r, big, DROT_HPKE_MAX_AAD - 1, ct, ct_len, pt, sizeof pt, &pt_len),
                     DROT_E_VERIFY);
    assert_int_equal(drot_hpke_open(&r, big, DROT_HPKE_MAX_AAD, ct, ct_len, pt, sizeof pt, &pt_len), DROT_OK);
    assert_memory_equal(pt, "limits", 7);
    assert_int_equal(drot_hpke_seal(&s, big, DROT_HPKE_MAX_AAD + 1, pt, sizeof pt, ct, sizeof ct, &ct_len),
                     DROT_E_TOO_LARGE);
    assert_int_equal(ct_len, 0);
    assert_int_equal(
        drot_hpke_open(&r, big, DROT_HPKE_MAX_AAD + 1, ct, sizeof pt + 16, pt, sizeof pt, &pt_len),
        DROT_E_TOO_LARGE);
    assert_true(s.seq == 1 && r.seq == 1);
    assert_int_equal(drot_hpke_seal_base(&pk, NULL, 0, big, DROT_HPKE_MAX_AAD + 1, pt, sizeof pt, &rng, enc,
                                         ct, sizeof ct, &ct_len),
                     DROT_E_TOO_LARGE);

    /* exporter_context: MAX works and matters; MAX + 1 refused and out zeroed. */
    uint8_t x1[32], x2[32];
    assert_int_equal(drot_hpke_export(&s, big, DROT_HPKE_MAX_EXPORTER_CONTEXT, x1, sizeof x1), DROT_OK);
    assert_int_equal(drot_hpke_export(&r, big, DROT_HPKE_MAX_EXPORTER_CONTEXT, x2, sizeof x2), DROT_OK);
    assert_memory_equal(x1, x2, sizeof x1);
    assert_int_equal(drot_hpke_export(&r, big, DROT_HPKE_MAX_EXPORTER_CONTEXT - 1, x2, sizeof x2), DROT_OK);
    assert_true(memcmp(x1, x2, sizeof x1) != 0);
    memset(x2, 0xEE, sizeof x2);
    assert_int_equal(drot_hpke_export(&r, big, DROT_HPKE_MAX_EXPORTER_CONTEXT + 1, x2, sizeof x2),
                     DROT_E_TOO_LARGE);
    assert_true(all_zero(x2, sizeof x2));

    /* L: 255 * Nh works (and extends the 32-byte export), + 1 and 0 are refused. */
    assert_int_equal(drot_hpke_export(&s, NULL, 0, out, DROT_HPKE_MAX_EXPORT_LEN), DROT_OK);
    assert_false(all_zero(out + DROT_HPKE_MAX_EXPORT_LEN - 32, 32));
    assert_int_equal(drot_hpke_export(&s, NULL, 0, out, DROT_HPKE_MAX_EXPORT_LEN + 1), DROT_E_TOO_LARGE);
    assert_int_equal(drot_hpke_export(&s, NULL, 0, out, 0), DROT_E_ARG);

    /* ikm of DeriveKeyPair: [32, 512]. */
    drot_p256_priv k;
    assert_int_equal(drot_hpke_derive_keypair(ikm, DROT_HPKE_MIN_IKM, &k, NULL), DROT_OK);
    assert_int_equal(drot_hpke_derive_keypair(ikm, DROT_HPKE_MAX_IKM, &k, NULL), DROT_OK);
    memset(&k, 0x33, sizeof k);
    assert_int_equal(drot_hpke_derive_keypair(ikm, DROT_HPKE_MIN_IKM - 1, &k, NULL), DROT_E_ARG);
    assert_true(all_zero(k.d, sizeof k.d));
    assert_int_equal(drot_hpke_derive_keypair(ikm, DROT_HPKE_MAX_IKM + 1, &k, NULL), DROT_E_TOO_LARGE);
    assert_int_equal(drot_hpke_setup_base_s_derand(&t, enc, &pk, NULL, 0, ikm, DROT_HPKE_MIN_IKM - 1),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s_derand(&t, enc, &pk, NULL, 0, ikm, DROT_HPKE_MAX_IKM + 1),
                     DROT_E_TOO_LARGE);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    drot_wipe(&sk, sizeof sk);
    drot_drbg_release(&drbg);
}

/* ---- negative ------------------------------------------------------------------------ */

/* Test 10: tampering on the A.3.1 message: a flipped bit in each byte of ct, wrong info, wrong aad,
 * wrong recipient key, another valid point as enc / DROT_E_VERIFY, plaintext zeroed, seq unchanged;
 * a flipped bit in each byte of enc / never DROT_OK (BADKEY off the curve, else VERIFY). */
static void test_tampering(void **state)
{
    (void)state;
    drot_p256_priv skR, other;
    drot_p256_pub pkR, other_pk;
    drot_hpke_ctx s, r;
    uint8_t info[64], aad[16], pt[64], ct[128], back[128], enc[DROT_HPKE_ENC_LEN], ikm[32];
    size_t info_len = unhex(A3_INFO, info, sizeof info);
    size_t aad_len = unhex(A3_ENCS[0].aad, aad, sizeof aad);
    size_t pt_len = unhex(A3_PT, pt, sizeof pt);
    size_t ct_len = unhex(A3_ENCS[0].ct, ct, sizeof ct);
    size_t back_len;

    a3_recipient(&skR, &pkR);
    unhex(A3_ENC, enc, sizeof enc);
    a3_contexts(&s, &r);

    for (size_t i = 0; i < ct_len; i++) {
        ct[i] ^= (uint8_t)(1u << (i % 8));
        memset(back, 0xCC, sizeof back);
        back_len = 77;
        assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, ct_len, back, sizeof back, &back_len),
                         DROT_E_VERIFY);
        assert_int_equal(back_len, 0);
        assert_true(all_zero(back, ct_len - DROT_HPKE_TAG_LEN));
        ct[i] ^= (uint8_t)(1u << (i % 8));
    }
    assert_true(r.seq == 0);
    /* wrong aad */
    aad[aad_len - 1] ^= 1;
    assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, ct_len, back, sizeof back, &back_len),
                     DROT_E_VERIFY);
    aad[aad_len - 1] ^= 1;
    assert_int_equal(drot_hpke_open(&r, NULL, 0, ct, ct_len, back, sizeof back, &back_len), DROT_E_VERIFY);
    /* all failures above left seq at 0: the genuine message still opens */
    assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, ct_len, back, sizeof back, &back_len), DROT_OK);
    assert_memory_equal(back, pt, pt_len);

    /* wrong info */
    info[0] ^= 0x80;
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len, aad, aad_len, ct, ct_len,
                                         back, sizeof back, &back_len),
                     DROT_E_VERIFY);
    assert_true(all_zero(back, pt_len));
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len - 1, aad, aad_len, ct, ct_len,
                                         back, sizeof back, &back_len),
                     DROT_E_VERIFY);
    info[0] ^= 0x80;
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, NULL, 0, aad, aad_len, ct, ct_len, back,
                                         sizeof back, &back_len),
                     DROT_E_VERIFY);

    /* wrong recipient key */
    memset(ikm, 0x42, sizeof ikm);
    assert_int_equal(drot_hpke_derive_keypair(ikm, sizeof ikm, &other, &other_pk), DROT_OK);
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &other, info, info_len, aad, aad_len, ct, ct_len,
                                         back, sizeof back, &back_len),
                     DROT_E_VERIFY);
    assert_int_equal(back_len, 0);
    /* another valid point as enc (pkR itself): setup passes, the tag does not */
    assert_int_equal(drot_hpke_open_base(pkR.q, sizeof pkR.q, &skR, info, info_len, aad, aad_len, ct, ct_len,
                                         back, sizeof back, &back_len),
                     DROT_E_VERIFY);

    /* flipped bit in enc */
    for (size_t i = 0; i < sizeof enc; i++) {
        enc[i] ^= (uint8_t)(1u << (i % 8));
        memset(back, 0xCC, sizeof back);
        drot_status st = drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len, aad, aad_len, ct, ct_len,
                                             back, sizeof back, &back_len);
        assert_true(st == DROT_E_BADKEY || st == DROT_E_VERIFY);
        assert_int_equal(back_len, 0);
        assert_false(memcmp(back, pt, pt_len) == 0);
        enc[i] ^= (uint8_t)(1u << (i % 8));
    }
    /* sanity: the unmodified inputs still open, so the failures above were the flips */
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len, aad, aad_len, ct, ct_len,
                                         back, sizeof back, &back_len),
                     DROT_OK);
    assert_memory_equal(back, pt, pt_len);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    drot_wipe(&skR, sizeof skR);
    drot_wipe(&other, sizeof other);
}

/* Test 11: bad encodings of enc and pkR: off the curve, X ≥ p, lengths 0/1/33/64/66, compressed,
 * hybrid, infinity / DROT_E_BADKEY at setup, context wiped, enc_out zeroed. */
static void test_bad_points(void **state)
{
    (void)state;
    drot_p256_priv skR;
    drot_p256_pub pkR;
    drot_hpke_ctx c;
    uint8_t good[DROT_HPKE_ENC_LEN], bad[DROT_HPKE_ENC_LEN + 1], ikmE[32], enc[DROT_HPKE_ENC_LEN];
    uint8_t ss[DROT_HPKE_SHARED_SECRET_LEN];

    a3_recipient(&skR, &pkR);
    unhex(A3_ENC, good, sizeof good);
    unhex(A3_IKME, ikmE, sizeof ikmE);

    /* Baseline: the good enc sets up. */
    assert_int_equal(drot_hpke_setup_base_r(&c, good, sizeof good, &skR, NULL, 0), DROT_OK);

    struct {
        const char *what;
        size_t len;
        int mod;
    } cases[] = {
        {"Y changed (off the curve)", 65, 1},
        {"X = 2^256 - 1 (not a field element)", 65, 2},
        {"empty", 0, 0},
        {"infinity (0x00)", 1, 3},
        {"compressed 0x02 || X", 33, 4},
        {"compressed 0x03 || X", 33, 5},
        {"truncated to 64 bytes", 64, 0},
        {"66 bytes (trailing byte)", 66, 0},
        {"hybrid 0x06 prefix", 65, 6},
        {"hybrid 0x07 prefix", 65, 7},
        {"prefix 0x02 with 65 bytes", 65, 8},
        {"all zero", 65, 9},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        memset(bad, 0, sizeof bad);
        memcpy(bad, good, sizeof good);
        switch (cases[i].mod) {
        case 1: bad[64] ^= 0x01; break;
        case 2: memset(bad + 1, 0xFF, 32); break;
        case 3: bad[0] = 0x00; break;
        case 4: bad[0] = 0x02; break;
        case 5: bad[0] = 0x03; break;
        case 6: bad[0] = 0x06; break;
        case 7: bad[0] = 0x07; break;
        case 8: bad[0] = 0x02; break;
        case 9: memset(bad, 0, sizeof bad); break;
        default: break;
        }
        memset(&c, 0x5A, sizeof c);
        if (drot_hpke_setup_base_r(&c, bad, cases[i].len, &skR, NULL, 0) != DROT_E_BADKEY)
            fail_msg("enc %s: not refused with DROT_E_BADKEY", cases[i].what);
        assert_true(all_zero((const uint8_t *)&c, sizeof c));
        assert_int_equal(drot_hpke_test_decap(bad, cases[i].len, &skR, ss), DROT_E_BADKEY);

        /* The same bytes as the sender's pkR (only 65-byte forms fit the type). */
        if (cases[i].len == DROT_HPKE_PUB_LEN) {
            drot_p256_pub badpk;
            memcpy(badpk.q, bad, sizeof badpk.q);
            memset(enc, 0x77, sizeof enc);
            memset(&c, 0x5A, sizeof c);
            if (drot_hpke_setup_base_s_derand(&c, enc, &badpk, NULL, 0, ikmE, sizeof ikmE) != DROT_E_BADKEY)
                fail_msg("pkR %s: not refused with DROT_E_BADKEY", cases[i].what);
            assert_true(all_zero((const uint8_t *)&c, sizeof c));
            assert_true(all_zero(enc, sizeof enc));
        }
    }
    drot_hpke_ctx_wipe(&c);
    drot_wipe(&skR, sizeof skR);
}

/* Test 12: ct shorter than the tag (0..15 bytes) / DROT_E_TRUNCATED; output buffers one byte short
 * / DROT_E_BUFFER with the size needed, nothing consumed (seq unchanged, no rng draw). */
static void test_truncated_and_buffers(void **state)
{
    (void)state;
    drot_p256_priv skR;
    drot_p256_pub pkR;
    drot_hpke_ctx s, r;
    uint8_t info[64], aad[16], pt[64], ct[128], back[128], enc[DROT_HPKE_ENC_LEN];
    size_t info_len = unhex(A3_INFO, info, sizeof info);
    size_t aad_len = unhex(A3_ENCS[0].aad, aad, sizeof aad);
    size_t pt_len = unhex(A3_PT, pt, sizeof pt);
    size_t ct_len = unhex(A3_ENCS[0].ct, ct, sizeof ct);
    size_t n;

    a3_recipient(&skR, &pkR);
    unhex(A3_ENC, enc, sizeof enc);
    a3_contexts(&s, &r);

    for (size_t len = 0; len < DROT_HPKE_TAG_LEN; len++) {
        n = 5;
        assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, len, back, sizeof back, &n), DROT_E_TRUNCATED);
        assert_int_equal(n, 0);
        assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len, aad, aad_len, ct, len,
                                             back, sizeof back, &n),
                         DROT_E_TRUNCATED);
    }
    /* 16 bytes is a well-formed (empty) message whose tag is wrong here. */
    assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, DROT_HPKE_TAG_LEN, NULL, 0, &n), DROT_E_VERIFY);
    /* The ciphertext cut short by one byte is a different message. */
    assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, ct_len - 1, back, sizeof back, &n), DROT_E_VERIFY);

    /* open: pt one byte short */
    assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, ct_len, back, pt_len - 1, &n), DROT_E_BUFFER);
    assert_int_equal(n, pt_len);
    assert_int_equal(drot_hpke_open_base(enc, sizeof enc, &skR, info, info_len, aad, aad_len, ct, ct_len,
                                         back, pt_len - 1, &n),
                     DROT_E_BUFFER);
    assert_int_equal(n, pt_len);
    assert_true(r.seq == 0);
    assert_int_equal(drot_hpke_open(&r, aad, aad_len, ct, ct_len, back, pt_len, &n), DROT_OK);
    assert_int_equal(n, pt_len);

    /* seal: ct one byte short; the seq-0 vector is still what comes out next */
    uint8_t out[128];
    assert_int_equal(drot_hpke_seal(&s, aad, aad_len, pt, pt_len, out, pt_len + DROT_HPKE_TAG_LEN - 1, &n),
                     DROT_E_BUFFER);
    assert_int_equal(n, pt_len + DROT_HPKE_TAG_LEN);
    assert_true(s.seq == 0);
    assert_int_equal(drot_hpke_seal(&s, aad, aad_len, pt, pt_len, out, pt_len + DROT_HPKE_TAG_LEN, &n),
                     DROT_OK);
    assert_int_equal(n, ct_len);
    assert_memory_equal(out, ct, ct_len);

    /* seal_base: the buffer check comes before any rng draw */
    unsigned calls = 0;
    drot_rng counting = {failing_fill, &calls};
    memset(enc, 0x11, sizeof enc);
    assert_int_equal(drot_hpke_seal_base(&pkR, info, info_len, aad, aad_len, pt, pt_len, &counting, enc, out,
                                         pt_len + DROT_HPKE_TAG_LEN - 1, &n),
                     DROT_E_BUFFER);
    assert_int_equal(n, pt_len + DROT_HPKE_TAG_LEN);
    assert_int_equal(calls, 0);
    /* and a pt_len whose ct length would overflow size_t */
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, pt, SIZE_MAX - 3, out, sizeof out, &n), DROT_E_TOO_LARGE);
    assert_int_equal(n, 0);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    drot_wipe(&skR, sizeof skR);
}

/* Test 13: sequence numbers: open message 1 before message 0 / DROT_E_VERIFY, then both open in order;
 * seq at 2^64 - 2 / one more message each way; seq at 2^64 - 1 / DROT_E_STATE, nothing produced. */
static void test_sequence(void **state)
{
    (void)state;
    drot_hpke_ctx s, r;
    uint8_t m0[] = "message zero", m1[] = "message one";
    uint8_t c0[64], c1[64], back[64];
    size_t c0_len, c1_len, n;

    a3_contexts(&s, &r);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, m0, sizeof m0, c0, sizeof c0, &c0_len), DROT_OK);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, m1, sizeof m1, c1, sizeof c1, &c1_len), DROT_OK);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, c1, c1_len, back, sizeof back, &n), DROT_E_VERIFY);
    assert_true(r.seq == 0);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, c0, c0_len, back, sizeof back, &n), DROT_OK);
    assert_memory_equal(back, m0, sizeof m0);
    /* replaying message 0 now fails: the recipient has moved on */
    assert_int_equal(drot_hpke_open(&r, NULL, 0, c0, c0_len, back, sizeof back, &n), DROT_E_VERIFY);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, c1, c1_len, back, sizeof back, &n), DROT_OK);
    assert_memory_equal(back, m1, sizeof m1);

    /* The last usable sequence number, then exhaustion (RFC 9180 §5.2 MessageLimitReachedError). */
    s.seq = UINT64_MAX - 1;
    r.seq = UINT64_MAX - 1;
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, m0, sizeof m0, c0, sizeof c0, &c0_len), DROT_OK);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, c0, c0_len, back, sizeof back, &n), DROT_OK);
    assert_memory_equal(back, m0, sizeof m0);
    assert_true(s.seq == UINT64_MAX && r.seq == UINT64_MAX);
    memset(c1, 0x99, sizeof c1);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, m1, sizeof m1, c1, sizeof c1, &c1_len), DROT_E_STATE);
    assert_int_equal(c1_len, 0);
    for (size_t i = 0; i < sizeof c1; i++)
        assert_int_equal(c1[i], 0x99);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, c0, c0_len, back, sizeof back, &n), DROT_E_STATE);
    assert_true(s.seq == UINT64_MAX && r.seq == UINT64_MAX);
    /* exports do not depend on seq */
    uint8_t x[32];
    assert_int_equal(drot_hpke_export(&s, NULL, 0, x, sizeof x), DROT_OK);
    assert_hex_equal(x, sizeof x, A3_EXPORTS[0].value);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
}

/* Test 14: roles: seal on a recipient context, open on a sender context, any use of a zeroed or
 * wiped context, a corrupted role word / DROT_E_STATE. */
static void test_roles(void **state)
{
    (void)state;
    drot_hpke_ctx s, r, z;
    uint8_t ct[64], pt[64], x[32];
    size_t n;

    a3_contexts(&s, &r);
    assert_int_equal(drot_hpke_seal(&r, NULL, 0, pt, 8, ct, sizeof ct, &n), DROT_E_STATE);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, pt, 8, ct, sizeof ct, &n), DROT_OK);
    assert_int_equal(drot_hpke_open(&s, NULL, 0, ct, n, pt, sizeof pt, &n), DROT_E_STATE);
    assert_true(s.seq == 1 && r.seq == 0);

    memset(&z, 0, sizeof z);
    assert_int_equal(drot_hpke_seal(&z, NULL, 0, pt, 8, ct, sizeof ct, &n), DROT_E_STATE);
    assert_int_equal(drot_hpke_open(&z, NULL, 0, ct, 24, pt, sizeof pt, &n), DROT_E_STATE);
    assert_int_equal(drot_hpke_export(&z, NULL, 0, x, sizeof x), DROT_E_STATE);

    drot_hpke_ctx_wipe(&s);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, pt, 8, ct, sizeof ct, &n), DROT_E_STATE);
    assert_int_equal(drot_hpke_export(&s, NULL, 0, x, sizeof x), DROT_E_STATE);
    drot_hpke_ctx_wipe(NULL); /* allowed, no-op */

    /* One flipped bit in the role word is no role at all. */
    r.role ^= 0x100;
    assert_int_equal(drot_hpke_open(&r, NULL, 0, ct, 24, pt, sizeof pt, &n), DROT_E_STATE);
    assert_int_equal(drot_hpke_export(&r, NULL, 0, x, sizeof x), DROT_E_STATE);
    drot_hpke_ctx_wipe(&r);
}

/* Test 15: NULL for every pointer that must not be NULL, and NULL with a non-zero length
 * / DROT_E_ARG, outputs and contexts left without secrets. */
static void test_null_args(void **state)
{
    (void)state;
    drot_p256_priv skR, k;
    drot_p256_pub pkR, pk;
    drot_hpke_ctx s, r, c;
    uint8_t ikm[32], enc[DROT_HPKE_ENC_LEN], ct[64], pt[64], x[32];
    size_t n;
    unsigned calls = 0;
    drot_rng rng = {failing_fill, &calls};

    a3_recipient(&skR, &pkR);
    unhex(A3_IKME, ikm, sizeof ikm);
    unhex(A3_ENC, enc, sizeof enc);
    a3_contexts(&s, &r);

    /* derive_keypair */
    assert_int_equal(drot_hpke_derive_keypair(NULL, 32, &k, &pk), DROT_E_ARG);
    assert_int_equal(drot_hpke_derive_keypair(ikm, sizeof ikm, NULL, &pk), DROT_E_ARG);

    /* setup_base_s (a failing rng proves nothing was drawn) */
    assert_int_equal(drot_hpke_setup_base_s(NULL, enc, &pkR, NULL, 0, &rng), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s(&c, NULL, &pkR, NULL, 0, &rng), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s(&c, enc, NULL, NULL, 0, &rng), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s(&c, enc, &pkR, NULL, 1, &rng), DROT_E_ARG);
    assert_int_equal(calls, 0);
    assert_int_equal(drot_hpke_setup_base_s(&c, enc, &pkR, NULL, 0, NULL), DROT_E_RNG);
    assert_true(all_zero((const uint8_t *)&c, sizeof c));

    /* setup_base_s_derand */
    unhex(A3_ENC, enc, sizeof enc);
    assert_int_equal(drot_hpke_setup_base_s_derand(NULL, enc, &pkR, NULL, 0, ikm, sizeof ikm), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s_derand(&c, NULL, &pkR, NULL, 0, ikm, sizeof ikm), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s_derand(&c, enc, NULL, NULL, 0, ikm, sizeof ikm), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s_derand(&c, enc, &pkR, NULL, 3, ikm, sizeof ikm), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_s_derand(&c, enc, &pkR, NULL, 0, NULL, 32), DROT_E_ARG);

    /* setup_base_r */
    unhex(A3_ENC, enc, sizeof enc);
    assert_int_equal(drot_hpke_setup_base_r(NULL, enc, sizeof enc, &skR, NULL, 0), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_r(&c, NULL, sizeof enc, &skR, NULL, 0), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_r(&c, enc, sizeof enc, NULL, NULL, 0), DROT_E_ARG);
    assert_int_equal(drot_hpke_setup_base_r(&c, enc, sizeof enc, &skR, NULL, 2), DROT_E_ARG);
    assert_true(all_zero((const uint8_t *)&c, sizeof c));

    /* seal */
    assert_int_equal(drot_hpke_seal(NULL, NULL, 0, pt, 8, ct, sizeof ct, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_seal(&s, NULL, 4, pt, 8, ct, sizeof ct, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, NULL, 8, ct, sizeof ct, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, pt, 8, NULL, sizeof ct, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_seal(&s, NULL, 0, pt, 8, ct, sizeof ct, NULL), DROT_E_ARG);
    assert_true(s.seq == 0);

    /* open */
    assert_int_equal(drot_hpke_open(NULL, NULL, 0, ct, 24, pt, sizeof pt, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_open(&r, NULL, 4, ct, 24, pt, sizeof pt, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, NULL, 24, pt, sizeof pt, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, ct, 24, NULL, 8, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_open(&r, NULL, 0, ct, 24, pt, sizeof pt, NULL), DROT_E_ARG);
    assert_true(r.seq == 0);

    /* export */
    assert_int_equal(drot_hpke_export(NULL, NULL, 0, x, sizeof x), DROT_E_ARG);
    assert_int_equal(drot_hpke_export(&s, NULL, 0, NULL, sizeof x), DROT_E_ARG);
    memset(x, 0xEE, sizeof x);
    assert_int_equal(drot_hpke_export(&s, NULL, 5, x, sizeof x), DROT_E_ARG);
    assert_true(all_zero(x, sizeof x));

    /* single shot */
    calls = 0;
    assert_int_equal(drot_hpke_seal_base(NULL, NULL, 0, NULL, 0, pt, 8, &rng, enc, ct, sizeof ct, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 0, NULL, 0, pt, 8, &rng, NULL, ct, sizeof ct, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 0, NULL, 0, pt, 8, &rng, enc, NULL, sizeof ct, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 0, NULL, 0, pt, 8, &rng, enc, ct, sizeof ct, NULL),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 0, NULL, 0, NULL, 8, &rng, enc, ct, sizeof ct, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 9, NULL, 0, pt, 8, &rng, enc, ct, sizeof ct, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 0, NULL, 9, pt, 8, &rng, enc, ct, sizeof ct, &n),
                     DROT_E_ARG);
    assert_int_equal(calls, 0);
    unhex(A3_ENC, enc, sizeof enc);
    assert_int_equal(drot_hpke_open_base(NULL, 65, &skR, NULL, 0, NULL, 0, ct, 24, pt, sizeof pt, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_open_base(enc, 65, NULL, NULL, 0, NULL, 0, ct, 24, pt, sizeof pt, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_open_base(enc, 65, &skR, NULL, 1, NULL, 0, ct, 24, pt, sizeof pt, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_open_base(enc, 65, &skR, NULL, 0, NULL, 1, ct, 24, pt, sizeof pt, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_open_base(enc, 65, &skR, NULL, 0, NULL, 0, NULL, 24, pt, sizeof pt, &n),
                     DROT_E_ARG);
    assert_int_equal(drot_hpke_open_base(enc, 65, &skR, NULL, 0, NULL, 0, ct, 24, NULL, 8, &n), DROT_E_ARG);
    assert_int_equal(drot_hpke_open_base(enc, 65, &skR, NULL, 0, NULL, 0, ct, 24, pt, sizeof pt, NULL),
                     DROT_E_ARG);

    /* test hooks */
    uint8_t ss[32];
    assert_int_equal(drot_hpke_test_encap_derand(NULL, ikm, sizeof ikm, enc, ss), DROT_E_ARG);
    assert_int_equal(drot_hpke_test_decap(NULL, 65, &skR, ss), DROT_E_ARG);

    drot_hpke_ctx_wipe(&s);
    drot_hpke_ctx_wipe(&r);
    drot_wipe(&skR, sizeof skR);
}

/* Test 16: an rng that fails / DROT_E_RNG from setup_base_s and seal_base, context wiped, enc zeroed;
 * a call refused on its arguments (info too large) / no rng draw at all. */
static void test_rng_failure(void **state)
{
    (void)state;
    drot_p256_priv skR;
    drot_p256_pub pkR;
    drot_hpke_ctx c;
    uint8_t enc[DROT_HPKE_ENC_LEN], ct[64], pt[8] = {1, 2, 3};
    static uint8_t info[DROT_HPKE_MAX_INFO + 1];
    unsigned calls = 0;
    drot_rng bad = {failing_fill, &calls};
    size_t n;

    a3_recipient(&skR, &pkR);
    memset(&c, 0x5A, sizeof c);
    memset(enc, 0x77, sizeof enc);
    assert_int_equal(drot_hpke_setup_base_s(&c, enc, &pkR, NULL, 0, &bad), DROT_E_RNG);
    assert_int_equal(calls, 1);
    assert_true(all_zero((const uint8_t *)&c, sizeof c));
    assert_true(all_zero(enc, sizeof enc));
    memset(enc, 0x77, sizeof enc);
    assert_int_equal(drot_hpke_seal_base(&pkR, NULL, 0, NULL, 0, pt, sizeof pt, &bad, enc, ct, sizeof ct, &n),
                     DROT_E_RNG);
    assert_int_equal(calls, 2);
    assert_int_equal(n, 0);
    assert_true(all_zero(enc, sizeof enc));

    /* A replay rng with too few bytes fails the same way. */
    replay_rng rr = {pt, 8, 0};
    drot_rng shortrng = {replay_fill, &rr};
    assert_int_equal(drot_hpke_setup_base_s(&c, enc, &pkR, NULL, 0, &shortrng), DROT_E_RNG);
    assert_int_equal(c.role, DROT_HPKE_ROLE_NONE);

    calls = 0;
    assert_int_equal(drot_hpke_setup_base_s(&c, enc, &pkR, info, sizeof info, &bad), DROT_E_TOO_LARGE);
    assert_int_equal(calls, 0);
    drot_wipe(&skR, sizeof skR);
}

/*
 * Two CTest entries run this program: without arguments it runs every test
 * that needs no file; with --vector-file only the file-driven one, so that
 * CTest can report it as skipped (SKIP_REGULAR_EXPRESSION) when the vectors
 * folder is absent, instead of hiding the skip inside a passing run.
 */
int main(int argc, char **argv)
{
    const struct CMUnitTest file_tests[] = {
        cmocka_unit_test(test_vector_file),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive_keypair_a3),
        cmocka_unit_test(test_kem_a3),
        cmocka_unit_test(test_key_schedule_a3),
        cmocka_unit_test(test_encryptions_a3),
        cmocka_unit_test(test_exports_a3),
        cmocka_unit_test(test_production_setup_is_derand_path),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_bad_points),
        cmocka_unit_test(test_truncated_and_buffers),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_null_args),
        cmocka_unit_test(test_rng_failure),
    };
    if (argc == 2 && strcmp(argv[1], "--vector-file") == 0)
        return cmocka_run_group_tests_name("hpke_vector_file", file_tests, NULL, NULL);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--vector-file]\n", argv[0]);
        return 2;
    }
    return cmocka_run_group_tests_name("hpke", tests, NULL, NULL);
}
