/*
 * test_wycheproof.c — every applicable Wycheproof case for the crypto port,
 * read from $DROT_VECTORS_DIR/wycheproof (skipped, never passed, when absent).
 *
 * Verdicts: "valid" cases must succeed with the published output, "invalid"
 * cases must fail. Cases outside the port's scope (other AES key or IV
 * sizes, compressed ECDH points) are counted and printed as not applicable,
 * never as passes; compressed points are still fed to the API to check that
 * it refuses them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot_crypto.h"
#include "drot_test_support.h"

/* A hex field of a test case, decoded into a fresh buffer. */
static uint8_t *field(json_t *obj, const char *name, size_t *len)
{
    const char *hex = json_string_value(json_object_get(obj, name));
    if (hex == NULL)
        fail_msg("Wycheproof case lacks the string field '%s'", name);
    return drot_test_hex_alloc(hex, len);
}

static long tc_id(json_t *t)
{
    return (long)json_integer_value(json_object_get(t, "tcId"));
}

static const char *result_of(json_t *t)
{
    const char *r = json_string_value(json_object_get(t, "result"));
    assert_non_null(r);
    return r;
}

static json_t *load(const char *name)
{
    json_t *root = drot_test_vector_json(name);
    if (root == NULL)
        return NULL;
    assert_non_null(json_object_get(root, "testGroups"));
    return root;
}

/*
 * Test 1: hkdf_sha256_test.json, every case / "valid": drot_hkdf_sha256
 * returns the published OKM; "invalid" (output size too large): it fails.
 */
static void test_hkdf(void **state)
{
    (void)state;
    json_t *root = load("wycheproof/hkdf_sha256_test.json"), *g, *t;
    size_t gi, ti, valid = 0, invalid = 0;
    if (root == NULL) {
        skip();
        return;
    }
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t il, sl, nl, ol;
            uint8_t *ikm = field(t, "ikm", &il), *salt = field(t, "salt", &sl), *info = field(t, "info", &nl);
            uint8_t *okm = field(t, "okm", &ol);
            size_t size = (size_t)json_integer_value(json_object_get(t, "size"));
            uint8_t *out = malloc(size + 1);
            assert_non_null(out);
            drot_status st = drot_hkdf_sha256(salt, sl, ikm, il, info, nl, out, size);
            if (strcmp(result_of(t), "valid") == 0) {
                if (st != DROT_OK || ol != size || memcmp(out, okm, size) != 0)
                    fail_msg("hkdf tcId %ld: valid case failed (status %d)", tc_id(t), (int)st);
                valid++;
            } else {
                if (st == DROT_OK)
                    fail_msg("hkdf tcId %ld: invalid case accepted", tc_id(t));
                invalid++;
            }
            free(out);
            free(ikm);
            free(salt);
            free(info);
            free(okm);
        }
    }
    printf("hkdf sha256: %zu valid matched, %zu invalid rejected\n", valid, invalid);
    assert_true(valid > 0 && invalid > 0);
    json_decref(root);
}

/* One AES-GCM case from an applicable group: returns 1 if valid (and
 * checked both ways), 0 if invalid (and rejected). */
static int gcm_case(json_t *t)
{
    size_t kl, vl, al, ml, cl, tl;
    uint8_t *key = field(t, "key", &kl), *iv = field(t, "iv", &vl), *aad = field(t, "aad", &al);
    uint8_t *msg = field(t, "msg", &ml), *ct = field(t, "ct", &cl), *tag = field(t, "tag", &tl);
    uint8_t *out = malloc(ml + cl + 1), otag[DROT_AES_GCM_TAG_LEN];
    int valid = strcmp(result_of(t), "valid") == 0;
    drot_status st;

    assert_non_null(out);
    assert_int_equal(vl, DROT_AES_GCM_IV_LEN);
    if (valid) {
        assert_int_equal(tl, DROT_AES_GCM_TAG_LEN);
        st = drot_aes_gcm_seal(key, kl, iv, aad, al, msg, ml, out, otag);
        if (st != DROT_OK || cl != ml || memcmp(out, ct, ml) != 0 || memcmp(otag, tag, tl) != 0)
            fail_msg("aes-gcm tcId %ld: seal does not match (status %d)", tc_id(t), (int)st);
        st = drot_aes_gcm_open(key, kl, iv, aad, al, ct, cl, tag, out);
        if (st != DROT_OK || memcmp(out, msg, ml) != 0)
            fail_msg("aes-gcm tcId %ld: open of a valid case failed (status %d)", tc_id(t), (int)st);
    } else {
        /* Every invalid case here is a modified tag of the right length;
         * a tag of another length cannot even be expressed in the API. */
        if (tl == DROT_AES_GCM_TAG_LEN) {
            memset(out, 0xa5, cl + 1);
            st = drot_aes_gcm_open(key, kl, iv, aad, al, ct, cl, tag, out);
            if (st != DROT_E_VERIFY)
                fail_msg("aes-gcm tcId %ld: invalid case not rejected (status %d)", tc_id(t), (int)st);
            for (size_t i = 0; i < cl; i++) {
                if (out[i] != 0)
                    fail_msg("aes-gcm tcId %ld: plaintext left after a failed open", tc_id(t));
            }
        }
    }
    free(out);
    free(key);
    free(iv);
    free(aad);
    free(msg);
    free(ct);
    free(tag);
    return valid;
}

/*
 * Test 2: aes_gcm_test.json, groups with 128- or 256-bit keys, 96-bit IV
 * and 128-bit tag / valid: seal and open both match; invalid: open fails
 * with DROT_E_VERIFY and a zeroed plaintext. Other groups are counted as
 * not applicable.
 */
static void test_aes_gcm(void **state)
{
    (void)state;
    json_t *root = load("wycheproof/aes_gcm_test.json"), *g, *t;
    size_t gi, ti, valid = 0, invalid = 0, na_groups = 0, na_tests = 0;
    if (root == NULL) {
        skip();
        return;
    }
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_int_t ks = json_integer_value(json_object_get(g, "keySize"));
        json_int_t ivs = json_integer_value(json_object_get(g, "ivSize"));
        json_int_t tgs = json_integer_value(json_object_get(g, "tagSize"));
        json_t *tests = json_object_get(g, "tests");
        if ((ks != 128 && ks != 256) || ivs != 96 || tgs != 128) {
            na_groups++;
            na_tests += json_array_size(tests);
            continue;
        }
        json_array_foreach(tests, ti, t)
        {
            if (gcm_case(t))
                valid++;
            else
                invalid++;
        }
    }
    printf("aes-gcm: %zu valid matched, %zu invalid rejected; not applicable: %zu groups / %zu tests "
           "(AES-192, or IV/tag size other than 96/128 bits)\n",
           valid, invalid, na_groups, na_tests);
    assert_true(valid > 0 && invalid > 0);
    json_decref(root);
}

/*
 * Test 3: ecdsa_secp256r1_sha256_p1363_test.json, every case: SHA-256 of
 * msg, verify with the group's key / every "valid" accepted, every
 * "invalid" rejected; "acceptable" cases are reported with our verdict.
 */
static void test_ecdsa_p1363(void **state)
{
    (void)state;
    json_t *root = load("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json"), *g, *t;
    size_t gi, ti, valid = 0, invalid = 0, acc = 0, acc_ok = 0;
    if (root == NULL) {
        skip();
        return;
    }
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t ql;
        uint8_t *q = field(json_object_get(g, "publicKey"), "uncompressed", &ql);
        drot_p256_pub pub;
        assert_int_equal(drot_p256_pub_import(q, ql, &pub), DROT_OK);
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t ml, sl;
            uint8_t *msg = field(t, "msg", &ml), *sig = field(t, "sig", &sl), dig[DROT_SHA256_LEN];
            const char *r = result_of(t);
            assert_int_equal(drot_sha256(msg, ml, dig), DROT_OK);
            drot_status st = drot_ecdsa_p256_verify(&pub, dig, sig, sl);
            if (strcmp(r, "valid") == 0) {
                if (st != DROT_OK)
                    fail_msg("ecdsa tcId %ld: valid signature rejected (status %d)", tc_id(t), (int)st);
                valid++;
            } else if (strcmp(r, "invalid") == 0) {
                if (st == DROT_OK)
                    fail_msg("ecdsa tcId %ld: invalid signature accepted", tc_id(t));
                invalid++;
            } else {
                acc++;
                acc_ok += st == DROT_OK;
            }
            free(msg);
            free(sig);
        }
        free(q);
    }
    printf("ecdsa p1363: %zu valid accepted, %zu invalid rejected, %zu acceptable (%zu accepted, "
           "%zu rejected; no verdict required)\n",
           valid, invalid, acc, acc_ok, acc - acc_ok);
    assert_true(valid > 0 && invalid > 0);
    json_decref(root);
}

/* Wycheproof private keys are minimal big-endian integers, sometimes with
 * a leading zero byte; the port takes exactly 32 bytes. */
static void scalar32(json_t *t, uint8_t d[32])
{
    size_t n;
    uint8_t *raw = field(t, "private", &n), *p = raw;
    while (n > 32 && *p == 0) {
        p++;
        n--;
    }
    assert_true(n <= 32);
    memset(d, 0, 32);
    memcpy(d + 32 - n, p, n);
    free(raw);
}

/*
 * Test 4: ecdh_secp256r1_ecpoint_test.json, every case / uncompressed valid:
 * the published shared secret; every invalid (off-curve, wrong curve,
 * bad encoding): refused; compressed points (valid or not): refused by
 * design (DROT_E_BADKEY), counted separately.
 */
static void test_ecdh(void **state)
{
    (void)state;
    json_t *root = load("wycheproof/ecdh_secp256r1_ecpoint_test.json"), *g, *t;
    size_t gi, ti, valid = 0, invalid = 0, compressed = 0, compressed_ok = 0, acc = 0;
    if (root == NULL) {
        skip();
        return;
    }
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t pl, sl;
            uint8_t d[32], out[DROT_P256_SHARED_LEN];
            uint8_t *peer = field(t, "public", &pl), *shared = field(t, "shared", &sl);
            const char *r = result_of(t);
            drot_p256_priv priv;
            scalar32(t, d);
            assert_int_equal(drot_p256_key_from_scalar(d, &priv, NULL), DROT_OK);
            drot_status st = drot_ecdh_p256(&priv, peer, pl, out);
            if (pl == 33 && (peer[0] == 0x02 || peer[0] == 0x03)) {
                if (st != DROT_E_BADKEY)
                    fail_msg("ecdh tcId %ld: compressed point not refused (status %d)", tc_id(t), (int)st);
                compressed++;
                compressed_ok += strcmp(r, "invalid") != 0;
            } else if (strcmp(r, "valid") == 0) {
                if (st != DROT_OK || sl != sizeof out || memcmp(out, shared, sl) != 0)
                    fail_msg("ecdh tcId %ld: valid case failed (status %d)", tc_id(t), (int)st);
                valid++;
            } else if (strcmp(r, "invalid") == 0) {
                if (st == DROT_OK)
                    fail_msg("ecdh tcId %ld: invalid public key accepted", tc_id(t));
                invalid++;
            } else {
                acc++;
            }
            drot_wipe(&priv, sizeof priv);
            free(peer);
            free(shared);
        }
    }
    printf("ecdh p256: %zu valid matched, %zu invalid rejected, %zu uncompressed acceptable; "
           "%zu compressed refused by design (%zu of them valid/acceptable in Wycheproof, not applicable)\n",
           valid, invalid, acc, compressed, compressed_ok);
    assert_true(valid > 0 && invalid > 0);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf),
        cmocka_unit_test(test_aes_gcm),
        cmocka_unit_test(test_ecdsa_p1363),
        cmocka_unit_test(test_ecdh),
    };
    printf("backend: %s\n", drot_crypto_backend());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
