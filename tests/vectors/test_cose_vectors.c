/*
 * test_cose_vectors.c — COSE_Sign1 against the COSE WG examples in
 * $DROT_VECTORS_DIR/cose (see ../shared/vectors/README.md).
 *
 * Every file is decoded and verified with the key and external AAD from its
 * own "input" section, and the status must equal the one listed here; the
 * file's "fail" flag must agree with the list, so a vector whose meaning
 * changes upstream is noticed. ES256 messages whose headers our signer can
 * produce are then signed again from their inputs: with BearSSL (RFC 6979)
 * the result must equal output.cbor byte for byte; OpenSSL signs at random,
 * so there everything but the signature must be equal and the new signature
 * must verify.
 *
 * When the vectors folder or a file is absent the test is skipped (reported
 * as skipped, never as passed).
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

typedef struct vec_case {
    const char *file;
    drot_status want;
    bool fail_flag; /* the file's own "fail": invalid COSE for everyone, not just for our profile */
} vec_case;

static const vec_case k_sign1_tests[] = {
    {"cose/sign1-tests/sign-pass-01.json", DROT_OK, false},           /* h'A0' protected, alg unprotected */
    {"cose/sign1-tests/sign-pass-02.json", DROT_OK, false},           /* external AAD */
    {"cose/sign1-tests/sign-pass-03.json", DROT_OK, false},           /* untagged */
    {"cose/sign1-tests/sign-fail-01.json", DROT_E_MALFORMED, true},   /* tag 998 */
    {"cose/sign1-tests/sign-fail-02.json", DROT_E_VERIFY, true},      /* payload changed */
    {"cose/sign1-tests/sign-fail-03.json", DROT_E_UNSUPPORTED, true}, /* alg -999 */
    {"cose/sign1-tests/sign-fail-04.json", DROT_E_UNSUPPORTED, true}, /* alg "unknown" */
    {"cose/sign1-tests/sign-fail-06.json", DROT_E_VERIFY, true},      /* protected attribute added */
    {"cose/sign1-tests/sign-fail-07.json", DROT_E_VERIFY, true},      /* protected attribute removed */
};

/* Valid COSE all; ES384/ES512 are refused by our ES256-only profile. */
static const vec_case k_examples[] = {
    {"cose/Appendix_C_2_1.json", DROT_OK, false},
    {"cose/CWT_A_3.json", DROT_OK, false},
    {"cose/ecdsa-examples/ecdsa-sig-01.json", DROT_OK, false},
    {"cose/ecdsa-examples/ecdsa-sig-02.json", DROT_E_UNSUPPORTED, false}, /* ES384 */
    {"cose/ecdsa-examples/ecdsa-sig-03.json", DROT_E_UNSUPPORTED, false}, /* ES512 */
    {"cose/ecdsa-examples/ecdsa-sig-04.json", DROT_E_UNSUPPORTED, false}, /* ES512 with a P-256 key */
};

/* The ES256 vectors whose headers drot's signer writes: tagged, protected
 * {alg[, ctyp]}, unprotected {[kid]}. Checked against the JSON below too. */
#define N_REPRODUCIBLE 4

/* ---- JSON helpers ---------------------------------------------------------- */

static const char *jstr(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A 32-byte key coordinate from field "<name>" (base64url) or "<name>_hex".
 * false when absent or not 32 bytes long (P-384, P-521 keys). */
static bool key_field(const json_t *key, const char *name, uint8_t out[32])
{
    char hex_name[16];
    uint8_t tmp[80];
    long n = -1;
    const char *s = jstr(key, name);

    if (s != NULL) {
        n = drot_test_b64url(s, tmp, sizeof tmp);
    } else {
        snprintf(hex_name, sizeof hex_name, "%s_hex", name);
        s = jstr(key, hex_name);
        if (s != NULL)
            n = drot_test_hex(s, tmp, sizeof tmp);
    }
    if (n != 32)
        return false;
    memcpy(out, tmp, 32);
    return true;
}

/* P-256 key pair of input.sign0.key; the public key is imported from x, y
 * and must match the one derived from d. false for other curves. */
static bool load_key(const json_t *sign0, drot_p256_priv *priv, drot_p256_pub *pub)
{
    const json_t *key = json_object_get(sign0, "key");
    uint8_t d[32], q[65];
    drot_p256_pub derived;

    if (key == NULL || jstr(key, "crv") == NULL || strcmp(jstr(key, "crv"), "P-256") != 0)
        return false;
    q[0] = 0x04;
    assert_true(key_field(key, "d", d));
    assert_true(key_field(key, "x", q + 1));
    assert_true(key_field(key, "y", q + 33));
    assert_int_equal(drot_p256_pub_import(q, sizeof q, pub), DROT_OK);
    assert_int_equal(drot_p256_key_from_scalar(d, priv, &derived), DROT_OK);
    assert_memory_equal(derived.q, pub->q, sizeof q);
    return true;
}

typedef struct vec {
    json_t *root;
    const json_t *sign0;
    uint8_t *msg;
    size_t msg_len;
    uint8_t *aad;
    size_t aad_len;
} vec;

/* false when the file is absent (the caller skips). */
static bool load_vec(const char *file, vec *v)
{
    memset(v, 0, sizeof *v);
    v->root = drot_test_vector_json(file);
    if (v->root == NULL)
        return false;
    const json_t *input = json_object_get(v->root, "input");
    v->sign0 = json_object_get(input, "sign0");
    const char *cbor = jstr(json_object_get(v->root, "output"), "cbor");
    if (v->sign0 == NULL || cbor == NULL)
        fail_msg("%s: no input.sign0 or output.cbor", file);
    v->msg = drot_test_hex_alloc(cbor, &v->msg_len);
    const char *ext = jstr(v->sign0, "external");
    v->aad = drot_test_hex_alloc(ext != NULL ? ext : "", &v->aad_len);
    return true;
}

static void free_vec(vec *v)
{
    free(v->msg);
    free(v->aad);
    json_decref(v->root);
}

/* decode, then verify with the vector's key and AAD. */
static drot_status run_vec(const char *file, const vec *v)
{
    drot_cose_sign1_view view;
    drot_p256_priv priv;
    drot_p256_pub pub;
    drot_status st = drot_cose_sign1_decode(v->msg, v->msg_len, &view);

    if (st != DROT_OK)
        return st;
    if (!load_key(v->sign0, &priv, &pub))
        fail_msg("%s: decoded, but its key is not P-256", file);
    drot_wipe(&priv, sizeof priv);
    return drot_cose_sign1_verify(&view, &pub, v->aad_len > 0 ? v->aad : NULL, v->aad_len);
}

/* Runs a table; counts accepted and rejected; false if a file is absent. */
static bool run_table(const vec_case *cases, size_t n, size_t *accepted, size_t *rejected)
{
    *accepted = *rejected = 0;
    for (size_t i = 0; i < n; i++) {
        vec v;
        if (!load_vec(cases[i].file, &v))
            return false;
        bool fail_flag = json_is_true(json_object_get(v.root, "fail"));
        if (fail_flag != cases[i].fail_flag)
            fail_msg("%s: \"fail\" is %d, this table says %d", cases[i].file, fail_flag, cases[i].fail_flag);
        drot_status st = run_vec(cases[i].file, &v);
        if (st != cases[i].want)
            fail_msg("%s: got %s (%d), want %s (%d)", cases[i].file, drot_status_str(st), (int)st,
                     drot_status_str(cases[i].want), (int)cases[i].want);
        if (st == DROT_OK)
            (*accepted)++;
        else
            (*rejected)++;
        free_vec(&v);
    }
    return true;
}

/* ---- tests ----------------------------------------------------------------- */

/* Test 1: sign1-tests / the 3 sign-pass verify (external AAD, h'A0', untagged), the 6 sign-fail
 * are refused with the status listed. */
static void test_sign1_tests(void **state)
{
    (void)state;
    size_t acc, rej;
    if (!run_table(k_sign1_tests, sizeof k_sign1_tests / sizeof k_sign1_tests[0], &acc, &rej))
        skip();
    printf("sign1-tests: %zu accepted, %zu rejected\n", acc, rej);
    assert_int_equal(acc, 3);
    assert_int_equal(rej, 6);
}

/* Test 2: Appendix C.2.1, CWT A.3, ecdsa-sig-01..04 / ES256 ones verify, ES384/ES512 ones are
 * refused as DROT_E_UNSUPPORTED. */
static void test_examples(void **state)
{
    (void)state;
    size_t acc, rej;
    if (!run_table(k_examples, sizeof k_examples / sizeof k_examples[0], &acc, &rej))
        skip();
    printf("ecdsa examples: %zu accepted (ES256), %zu rejected (ES384/ES512)\n", acc, rej);
    assert_int_equal(acc, 3);
    assert_int_equal(rej, 3);
}

/* true if drot's signer writes exactly these headers: protected {alg: ES256[, ctyp]},
 * unprotected {[kid]}, tagged output. */
static bool reproducible(const vec *v, drot_cose_sign1_params *p)
{
    const json_t *prot = json_object_get(v->sign0, "protected");
    const json_t *unprot = json_object_get(v->sign0, "unprotected");
    const char *key;
    const json_t *val;

    if (json_is_true(json_object_get(v->root, "fail")) || v->msg_len == 0 || v->msg[0] != 0xD2)
        return false;
    if (!json_is_object(prot) || jstr(prot, "alg") == NULL || strcmp(jstr(prot, "alg"), "ES256") != 0)
        return false;
    memset(p, 0, sizeof *p);
    json_object_foreach((json_t *)prot, key, val)
    {
        if (strcmp(key, "ctyp") == 0 && json_is_integer(val) && json_integer_value(val) >= 0) {
            p->has_content_type = true;
            p->content_type = (uint64_t)json_integer_value(val);
        } else if (strcmp(key, "alg") != 0) {
            return false;
        }
    }
    json_object_foreach((json_t *)unprot, key, val)
    {
        if (strcmp(key, "kid") != 0 || !json_is_string(val))
            return false;
        p->kid = (const uint8_t *)json_string_value(val);
        p->kid_len = strlen(json_string_value(val));
    }
    p->external_aad = v->aad_len > 0 ? v->aad : NULL;
    p->external_aad_len = v->aad_len;
    return true;
}

/* Test 3: every ES256 vector with headers our signer writes, signed again from its input /
 * BearSSL: output.cbor byte for byte; OpenSSL: equal up to the signature, which verifies. */
static void test_resign(void **state)
{
    (void)state;
    static const vec_case *all[] = {
        &k_examples[0],    &k_examples[1],    &k_examples[2],    &k_examples[3],    &k_examples[4],
        &k_examples[5],    &k_sign1_tests[0], &k_sign1_tests[1], &k_sign1_tests[2], &k_sign1_tests[3],
        &k_sign1_tests[4], &k_sign1_tests[5], &k_sign1_tests[6], &k_sign1_tests[7], &k_sign1_tests[8]};
    size_t done = 0;

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        vec v;
        drot_cose_sign1_params p;
        drot_p256_priv priv;
        drot_p256_pub pub;
        uint8_t out[512];
        size_t n, plen;

        if (!load_vec(all[i]->file, &v))
            skip();
        if (!reproducible(&v, &p) || !load_key(v.sign0, &priv, &pub)) {
            free_vec(&v);
            continue;
        }
        const json_t *input = json_object_get(v.root, "input");
        const char *text = jstr(input, "plaintext");
        uint8_t *from_hex = NULL;
        const uint8_t *payload;
        if (text != NULL) {
            payload = (const uint8_t *)text;
            plen = strlen(text);
        } else {
            assert_non_null(jstr(input, "plaintext_hex"));
            payload = from_hex = drot_test_hex_alloc(jstr(input, "plaintext_hex"), &plen);
        }

        assert_int_equal(drot_cose_sign1_sign(&priv, &p, payload, plen, out, sizeof out, &n), DROT_OK);
        drot_wipe(&priv, sizeof priv);
        assert_int_equal(n, v.msg_len);
#ifdef DROT_CRYPTO_BACKEND_BEARSSL
        if (memcmp(out, v.msg, n) != 0)
            fail_msg("%s: signed message differs from output.cbor", all[i]->file);
#else
        assert_memory_equal(out, v.msg, n - DROT_P256_SIG_LEN);
#endif
        assert_int_equal(drot_cose_sign1_verify_msg(out, n, &pub, p.external_aad, p.external_aad_len, NULL),
                         DROT_OK);
        done++;
        free(from_hex);
        free_vec(&v);
    }
#ifdef DROT_CRYPTO_BACKEND_BEARSSL
    printf("re-signed: %zu of %d ES256 vectors reproduced byte for byte\n", done, N_REPRODUCIBLE);
#else
    printf("re-signed: %zu of %d ES256 vectors (randomised ECDSA: headers and payload compared, "
           "signature verified)\n",
           done, N_REPRODUCIBLE);
#endif
    assert_int_equal(done, N_REPRODUCIBLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign1_tests),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_resign),
    };
    printf("crypto backend: %s\n", drot_crypto_backend());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
