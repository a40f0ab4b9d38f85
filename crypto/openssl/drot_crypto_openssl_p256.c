/*
 * drot_crypto_openssl_p256.c — P-256 keys, ECDSA and ECDH of the crypto port
 * on OpenSSL 3.0 (see drot_crypto.h). The rest of the backend, and the
 * invariants both files keep, are in drot_crypto_openssl.c.
 */
#include "drot_crypto.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

/* The group order n of P-256, big-endian. */
static const uint8_t P256_N[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                   0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

/* ---- P-256 ----------------------------------------------------------------- */

/* 1 iff 0 < d < n, in time independent of d: a full-width subtraction d - n
 * whose final borrow says d < n, and an OR of all bytes for d != 0. */
static int scalar_ok(const uint8_t d[32])
{
    uint32_t borrow = 0, acc = 0;
    for (int i = 31; i >= 0; i--) {
        uint32_t t = (uint32_t)d[i] - P256_N[i] - borrow;
        borrow = (t >> 31) & 1u;
        acc |= d[i];
    }
    return (int)(borrow & ((acc + 0xFFu) >> 8));
}

/* Decodes a 65-byte uncompressed point and checks it lies on P-256.
 * EC_POINT_oct2point rejects coordinates ≥ p and off-curve points; the
 * cofactor is 1, so on the curve means in the group. */
static drot_status point_check(const uint8_t *bytes, size_t len)
{
    drot_status st = DROT_E_BADKEY;
    EC_GROUP *g = NULL;
    EC_POINT *pt = NULL;

    if (bytes == NULL || len != DROT_P256_PUB_LEN || bytes[0] != 0x04)
        return DROT_E_BADKEY;
    g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    if (g == NULL || (pt = EC_POINT_new(g)) == NULL) {
        st = DROT_E_CRYPTO;
        goto out;
    }
    if (EC_POINT_oct2point(g, pt, bytes, len, NULL) != 1 || EC_POINT_is_on_curve(g, pt, NULL) != 1 ||
        EC_POINT_is_at_infinity(g, pt))
        goto out;
    st = DROT_OK;
out:
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return st;
}

/* pub = d * G, d already range-checked. */
static drot_status scalar_base_mult(const uint8_t d[32], uint8_t pub[DROT_P256_PUB_LEN])
{
    drot_status st = DROT_E_CRYPTO;
    EC_GROUP *g = NULL;
    EC_POINT *pt = NULL;
    BIGNUM *bn = NULL;

    g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bn = BN_secure_new();
    if (g == NULL || bn == NULL || (pt = EC_POINT_new(g)) == NULL)
        goto out;
    BN_set_flags(bn, BN_FLG_CONSTTIME);
    if (BN_bin2bn(d, 32, bn) == NULL || EC_POINT_mul(g, pt, bn, NULL, NULL, NULL) != 1)
        goto out;
    if (EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, DROT_P256_PUB_LEN, NULL) !=
        DROT_P256_PUB_LEN)
        goto out;
    st = DROT_OK;
out:
    EC_POINT_free(pt);
    BN_clear_free(bn);
    EC_GROUP_free(g);
    return st;
}

/* An EVP_PKEY for P-256 from raw parts: pub is required, d optional. */
static drot_status make_pkey(const uint8_t *d, const uint8_t pub[DROT_P256_PUB_LEN], EVP_PKEY **out)
{
    drot_status st = DROT_E_CRYPTO;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    BIGNUM *bn = NULL;

    *out = NULL;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL)
        goto out;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, DROT_P256_PUB_LEN) != 1)
        goto out;
    if (d != NULL) {
        if ((bn = BN_secure_new()) == NULL || BN_bin2bn(d, 32, bn) == NULL)
            goto out;
        BN_set_flags(bn, BN_FLG_CONSTTIME);
        if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) != 1)
            goto out;
    }
    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto out;
    if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL || EVP_PKEY_fromdata_init(pctx) != 1)
        goto out;
    if (EVP_PKEY_fromdata(pctx, out, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        st = DROT_E_BADKEY;
        goto out;
    }
    st = DROT_OK;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params); /* the builder's copy of d is cleansed on free */
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    return st;
}

/* see drot_crypto.h */
drot_status drot_p256_key_from_scalar(const uint8_t d[DROT_P256_SCALAR_LEN], drot_p256_priv *priv,
                                      drot_p256_pub *pub)
{
    drot_status st;
    uint8_t q[DROT_P256_PUB_LEN];

    if (d == NULL || priv == NULL)
        return DROT_E_ARG;
    if (!scalar_ok(d))
        return DROT_E_BADKEY;
    st = scalar_base_mult(d, q);
    if (st == DROT_OK) {
        memmove(priv->d, d, DROT_P256_SCALAR_LEN); /* d may alias priv->d */
        if (pub != NULL)
            memcpy(pub->q, q, sizeof q);
    }
    return st;
}

/* see drot_crypto.h */
drot_status drot_p256_pub_import(const uint8_t *bytes, size_t len, drot_p256_pub *pub)
{
    drot_status st;

    if (pub == NULL || (bytes == NULL && len != 0))
        return DROT_E_ARG;
    st = point_check(bytes, len);
    if (st == DROT_OK)
        memcpy(pub->q, bytes, DROT_P256_PUB_LEN);
    return st;
}

/* see drot_crypto.h */
drot_status drot_ecdsa_p256_sign(const drot_p256_priv *priv, const uint8_t digest[DROT_SHA256_LEN],
                                 uint8_t sig[DROT_P256_SIG_LEN])
{
    drot_status st;
    uint8_t q[DROT_P256_PUB_LEN];
    uint8_t der[80];
    size_t der_len = sizeof der;
    const unsigned char *dp = der;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;

    if (priv == NULL || digest == NULL || sig == NULL)
        return DROT_E_ARG;
    if (!scalar_ok(priv->d))
        return DROT_E_BADKEY;
    if ((st = scalar_base_mult(priv->d, q)) != DROT_OK || (st = make_pkey(priv->d, q, &pkey)) != DROT_OK)
        goto out;
    st = DROT_E_CRYPTO;
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1)
        goto out;
    if (EVP_PKEY_sign(pctx, der, &der_len, digest, DROT_SHA256_LEN) != 1)
        goto out;
    if ((es = d2i_ECDSA_SIG(NULL, &dp, (long)der_len)) == NULL)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        goto out;
    st = DROT_OK;
out:
    if (st != DROT_OK)
        drot_wipe(sig, DROT_P256_SIG_LEN);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    return st;
}

/* see drot_crypto.h */
drot_status drot_ecdsa_p256_verify(const drot_p256_pub *pub, const uint8_t digest[DROT_SHA256_LEN],
                                   const uint8_t *sig, size_t sig_len)
{
    drot_status st;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    int der_len;

    if (pub == NULL || digest == NULL || (sig == NULL && sig_len != 0))
        return DROT_E_ARG;
    if (sig_len != DROT_P256_SIG_LEN)
        return DROT_E_VERIFY;
    if ((st = point_check(pub->q, sizeof pub->q)) != DROT_OK)
        return st;
    if ((st = make_pkey(NULL, pub->q, &pkey)) != DROT_OK)
        goto out;
    st = DROT_E_CRYPTO;
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL)
        goto out;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL; /* owned by es now */
    if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0)
        goto out;
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL || EVP_PKEY_verify_init(pctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1)
        goto out;
    /* 1 is valid; 0 is a bad signature and < 0 an error (r or s out of
     * range among them): both fail closed. */
    st = EVP_PKEY_verify(pctx, der, (size_t)der_len, digest, DROT_SHA256_LEN) == 1 ? DROT_OK : DROT_E_VERIFY;
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    return st;
}

/* see drot_crypto.h */
drot_status drot_ecdh_p256(const drot_p256_priv *priv, const uint8_t *peer, size_t peer_len,
                           uint8_t shared[DROT_P256_SHARED_LEN])
{
    drot_status st;
    uint8_t q[DROT_P256_PUB_LEN];
    EVP_PKEY *mine = NULL, *theirs = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    size_t out_len = DROT_P256_SHARED_LEN;

    if (priv == NULL || shared == NULL || (peer == NULL && peer_len != 0))
        return DROT_E_ARG;
    if ((st = point_check(peer, peer_len)) != DROT_OK)
        return st;
    if (!scalar_ok(priv->d))
        return DROT_E_BADKEY;
    if ((st = scalar_base_mult(priv->d, q)) != DROT_OK || (st = make_pkey(priv->d, q, &mine)) != DROT_OK ||
        (st = make_pkey(NULL, peer, &theirs)) != DROT_OK)
        goto out;
    st = DROT_E_CRYPTO;
    /* point_check above has already refused anything not on the curve, and
     * P-256's cofactor is 1, so every curve point other than infinity is in
     * the prime-order group: OpenSSL's own full peer check (validate = 1)
     * would only repeat it with an extra scalar multiplication, which made
     * ECDH cost 1.8 signature verifications (docs/performance.md). */
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL || EVP_PKEY_derive_init(pctx) != 1 ||
        EVP_PKEY_derive_set_peer_ex(pctx, theirs, 0) != 1)
        goto out;
    if (EVP_PKEY_derive(pctx, shared, &out_len) != 1 || out_len != DROT_P256_SHARED_LEN)
        goto out;
    st = DROT_OK;
out:
    if (st != DROT_OK)
        drot_wipe(shared, DROT_P256_SHARED_LEN);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(theirs);
    EVP_PKEY_free(mine);
    return st;
}
