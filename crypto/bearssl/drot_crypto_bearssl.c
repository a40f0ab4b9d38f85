/*
 * drot_crypto_bearssl.c — the crypto port on BearSSL 0.6 (see drot_crypto.h).
 *
 * This is the firmware reference backend: it includes only the C library
 * and BearSSL, allocates nothing, and uses only BearSSL's constant-time
 * implementations:
 *
 *   SHA-256, HMAC    br_sha256, br_hmac
 *   AES-GCM          br_gcm over br_aes_ct64_ctr + br_ghash_ctmul64 on 64-bit
 *                    targets, br_aes_ct_ctr + br_ghash_ctmul on 32-bit ones
 *                    (the bitsliced AES and carry-less multiplications that
 *                    use no table lookups indexed by secret data)
 *   P-256            br_ec_p256_m31 (no secret-dependent branches or memory
 *                    accesses; 31-bit multiplications, good on Cortex-M3/M4)
 *   ECDSA            br_ecdsa_i31_sign_raw (RFC 6979 deterministic nonces)
 *                    and br_ecdsa_i31_vrfy_raw
 *   DRBG             br_hmac_drbg (SP 800-90A HMAC_DRBG)
 *   HKDF             written here over br_hmac, see hkdf below
 *
 * Invariants:
 *  1. No malloc and no OS header: the file builds freestanding for Cortex-M.
 *  2. Every function that holds a secret on its stack has one exit ("out:")
 *     that wipes it.
 *  3. Opaque contexts hold the BearSSL context itself; a NULL vtable pointer
 *     marks a context that is not initialised or was released.
 */
#include "drot_crypto.h"
#include "drot_crypto_internal.h"

#include <string.h>

#include <bearssl.h>

/* The group order n and the field prime p of P-256, big-endian. */
static const uint8_t P256_N[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                   0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
static const uint8_t P256_P[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

#define EC_IMPL (&br_ec_p256_m31)

#if UINTPTR_MAX > 0xFFFFFFFFu
#define GCM_AES_KEYS br_aes_ct64_ctr_keys
#define GCM_AES_INIT br_aes_ct64_ctr_init
#define GCM_GHASH    br_ghash_ctmul64
#else
#define GCM_AES_KEYS br_aes_ct_ctr_keys
#define GCM_AES_INIT br_aes_ct_ctr_init
#define GCM_GHASH    br_ghash_ctmul
#endif

/* ---- identification, constant time, wiping ------------------------------ */

/* see drot_crypto.h */
const char *drot_crypto_backend(void)
{
    return "bearssl";
}

/* see drot_crypto.h */
drot_status drot_ct_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    uint32_t acc = 0;

    if (n == 0)
        return DROT_OK;
    if (a == NULL || b == NULL)
        return DROT_E_ARG;
    for (size_t i = 0; i < n; i++)
        acc |= (uint32_t)(x[i] ^ y[i]);
    /* acc is 0..255; (acc - 1) >> 31 is 1 iff acc == 0, without a branch
     * on the data before this single final one. */
    return ((acc - 1u) >> 31) != 0 ? DROT_OK : DROT_E_VERIFY;
}

/* see drot_crypto.h */
void drot_wipe(void *p, size_t n)
{
    /* Stores through a volatile pointer cannot be removed as dead stores. */
    volatile uint8_t *v = p;
    if (p == NULL)
        return;
    while (n-- != 0)
        *v++ = 0;
}

/* ---- SHA-256 ------------------------------------------------------------- */

/* see drot_crypto.h */
drot_status drot_sha256_v(const drot_cbuf *parts, size_t n, uint8_t out[DROT_SHA256_LEN])
{
    br_sha256_context sc;
    drot_status st;

    if (out == NULL)
        return DROT_E_ARG;
    if ((st = drot_crypto_check_parts(parts, n)) != DROT_OK)
        return st;
    br_sha256_init(&sc);
    for (size_t i = 0; i < n; i++)
        br_sha256_update(&sc, parts[i].p, parts[i].n);
    br_sha256_out(&sc, out);
    /* The buffered input may be secret (keys are hashed in HPKE). */
    drot_wipe(&sc, sizeof sc);
    return DROT_OK;
}

_Static_assert(sizeof(br_sha256_context) <= DROT_SHA256_CTX_SIZE, "drot_sha256_ctx too small");

static br_sha256_context *sha_state(drot_sha256_ctx *ctx)
{
    return (br_sha256_context *)(void *)ctx->opaque.b;
}

/* see drot_crypto.h */
drot_status drot_sha256_init(drot_sha256_ctx *ctx)
{
    if (ctx == NULL)
        return DROT_E_ARG;
    memset(ctx, 0, sizeof *ctx);
    br_sha256_init(sha_state(ctx));
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_sha256_update(drot_sha256_ctx *ctx, const void *data, size_t len)
{
    if (ctx == NULL || (data == NULL && len != 0))
        return DROT_E_ARG;
    if (sha_state(ctx)->vtable == NULL)
        return DROT_E_STATE;
    br_sha256_update(sha_state(ctx), data, len);
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_sha256_final(drot_sha256_ctx *ctx, uint8_t out[DROT_SHA256_LEN])
{
    if (ctx == NULL || out == NULL) {
        drot_sha256_release(ctx);
        return DROT_E_ARG;
    }
    if (sha_state(ctx)->vtable == NULL)
        return DROT_E_STATE;
    br_sha256_out(sha_state(ctx), out);
    drot_sha256_release(ctx);
    return DROT_OK;
}

/* see drot_crypto.h */
void drot_sha256_release(drot_sha256_ctx *ctx)
{
    if (ctx != NULL)
        drot_wipe(ctx, sizeof *ctx);
}

/* ---- HMAC-SHA-256 --------------------------------------------------------- */

/* see drot_crypto.h */
drot_status drot_hmac_sha256_v(const uint8_t *key, size_t key_len, const drot_cbuf *parts, size_t n,
                               uint8_t out[DROT_HMAC_SHA256_LEN])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    drot_status st;

    if (out == NULL || (key == NULL && key_len != 0))
        return DROT_E_ARG;
    if ((st = drot_crypto_check_parts(parts, n)) != DROT_OK)
        return st;
    br_hmac_key_init(&kc, &br_sha256_vtable, key, key_len);
    br_hmac_init(&hc, &kc, 0);
    for (size_t i = 0; i < n; i++)
        br_hmac_update(&hc, parts[i].p, parts[i].n);
    br_hmac_out(&hc, out);
    drot_wipe(&kc, sizeof kc);
    drot_wipe(&hc, sizeof hc);
    return DROT_OK;
}

/* ---- HKDF-SHA-256 ---------------------------------------------------------- */

/*
 * BearSSL's br_hkdf runs extract and expand in one context and offers no way
 * to start expanding from a PRK computed elsewhere, which HPKE's
 * LabeledExpand needs. So extract and expand (RFC 5869 §2.2, §2.3) are
 * written here over br_hmac; with vectored inputs this also avoids copying
 * IKM or info into a temporary buffer.
 */

/* see drot_crypto.h */
drot_status drot_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const drot_cbuf *ikm_parts,
                                     size_t n_ikm, uint8_t prk[DROT_SHA256_LEN])
{
    /* No salt means HashLen zero bytes; HMAC pads its key with zeros to the
     * block size, so an empty key gives the same result. */
    drot_status st;
    if (prk == NULL || (salt == NULL && salt_len != 0))
        return DROT_E_ARG;
    if ((st = drot_crypto_check_joinable(ikm_parts, n_ikm)) != DROT_OK)
        return st;
    return drot_hmac_sha256_v(salt, salt_len, ikm_parts, n_ikm, prk);
}

/* see drot_crypto.h */
drot_status drot_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const drot_cbuf *info_parts,
                                    size_t n_info, uint8_t *out, size_t out_len)
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    uint8_t t[DROT_SHA256_LEN];
    uint8_t ctr;
    size_t done;
    drot_status st;

    if (prk == NULL || prk_len < DROT_SHA256_LEN || out == NULL || out_len == 0 ||
        out_len > DROT_HKDF_SHA256_MAX_OUT)
        return DROT_E_ARG;
    if ((st = drot_crypto_check_joinable(info_parts, n_info)) != DROT_OK) {
        drot_wipe(out, out_len);
        return st;
    }
    br_hmac_key_init(&kc, &br_sha256_vtable, prk, prk_len);
    /* T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty; OKM = T(1) || ... */
    for (done = 0, ctr = 1; done < out_len; ctr++) {
        size_t c = out_len - done < sizeof t ? out_len - done : sizeof t;
        br_hmac_init(&hc, &kc, 0);
        if (ctr > 1)
            br_hmac_update(&hc, t, sizeof t);
        for (size_t i = 0; i < n_info; i++)
            br_hmac_update(&hc, info_parts[i].p, info_parts[i].n);
        br_hmac_update(&hc, &ctr, 1);
        br_hmac_out(&hc, t);
        memcpy(out + done, t, c);
        done += c;
    }
    drot_wipe(t, sizeof t);
    drot_wipe(&kc, sizeof kc);
    drot_wipe(&hc, sizeof hc);
    return DROT_OK;
}

/* ---- AES-GCM ---------------------------------------------------------------- */

/* Sets up gc for one message: key schedule, IV, AAD, then flip to data. */
/* NIST SP 800-38D's plaintext limit. A function of uint64_t so that a 32-bit
 * size_t (Cortex-M) gives no always-true comparison warning. */
static int gcm_len_ok(uint64_t len)
{
    return len <= DROT_AES_GCM_MAX_LEN;
}

static drot_status gcm_start(br_gcm_context *gc, GCM_AES_KEYS *keys, const uint8_t *key, size_t key_len,
                             const uint8_t *iv, const void *aad, size_t aad_len)
{
    if (key == NULL || iv == NULL || (aad == NULL && aad_len != 0))
        return DROT_E_ARG;
    if (key_len != 16 && key_len != 32)
        return DROT_E_ARG;
    GCM_AES_INIT(keys, key, key_len);
    br_gcm_init(gc, &keys->vtable, GCM_GHASH);
    br_gcm_reset(gc, iv, DROT_AES_GCM_IV_LEN);
    br_gcm_aad_inject(gc, aad, aad_len);
    br_gcm_flip(gc);
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[DROT_AES_GCM_IV_LEN],
                              const void *aad, size_t aad_len, const void *pt, size_t len, uint8_t *ct,
                              uint8_t tag[DROT_AES_GCM_TAG_LEN])
{
    GCM_AES_KEYS keys;
    br_gcm_context gc;
    drot_status st;

    if (tag == NULL || ((pt == NULL || ct == NULL) && len != 0))
        return DROT_E_ARG;
    if (!gcm_len_ok(len))
        return DROT_E_TOO_LARGE;
    st = gcm_start(&gc, &keys, key, key_len, iv, aad, aad_len);
    if (st != DROT_OK)
        goto out;
    /* br_gcm_run works in place; memmove allows pt == ct. */
    if (len != 0)
        memmove(ct, pt, len);
    br_gcm_run(&gc, 1, ct, len);
    br_gcm_get_tag(&gc, tag);
out:
    drot_wipe(&keys, sizeof keys);
    drot_wipe(&gc, sizeof gc);
    return st;
}

/* see drot_crypto.h */
drot_status drot_aes_gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[DROT_AES_GCM_IV_LEN],
                              const void *aad, size_t aad_len, const void *ct, size_t len,
                              const uint8_t tag[DROT_AES_GCM_TAG_LEN], uint8_t *pt)
{
    GCM_AES_KEYS keys;
    br_gcm_context gc;
    drot_status st;

    if (tag == NULL || ((pt == NULL || ct == NULL) && len != 0))
        return DROT_E_ARG;
    if (!gcm_len_ok(len))
        return DROT_E_TOO_LARGE;
    st = gcm_start(&gc, &keys, key, key_len, iv, aad, aad_len);
    if (st != DROT_OK)
        goto out;
    if (len != 0)
        memmove(pt, ct, len);
    br_gcm_run(&gc, 0, pt, len);
    /* br_gcm_check_tag compares in constant time. */
    if (br_gcm_check_tag(&gc, tag) != 1) {
        drot_wipe(pt, len);
        st = DROT_E_VERIFY;
    }
out:
    drot_wipe(&keys, sizeof keys);
    drot_wipe(&gc, sizeof gc);
    return st;
}

/* ---- randomness ------------------------------------------------------------ */

_Static_assert(sizeof(br_hmac_drbg_context) <= DROT_DRBG_CTX_SIZE, "drot_drbg_ctx too small");

static br_hmac_drbg_context *drbg_state(drot_drbg_ctx *ctx)
{
    return (br_hmac_drbg_context *)(void *)ctx->opaque.b;
}

/* see drot_crypto.h */
drot_status drot_drbg_init(drot_drbg_ctx *ctx, const uint8_t *entropy, size_t entropy_len,
                           const uint8_t *nonce, size_t nonce_len, const uint8_t *pers, size_t pers_len)
{
    /* br_hmac_drbg_init takes the seed material as one buffer, and the
     * Update function cannot be fed in pieces: entropy || nonce || pers is
     * joined here, in DROT_DRBG_MAX_SEED bytes of stack. */
    uint8_t seed[DROT_DRBG_MAX_SEED];
    drot_status st = DROT_OK;

    if (ctx == NULL)
        return DROT_E_ARG;
    memset(ctx, 0, sizeof *ctx);
    if (entropy == NULL || entropy_len < 32 || nonce == NULL || nonce_len < 16 ||
        (pers == NULL && pers_len != 0))
        return DROT_E_ARG;
    if (entropy_len > sizeof seed || nonce_len > sizeof seed - entropy_len ||
        pers_len > sizeof seed - entropy_len - nonce_len)
        return DROT_E_TOO_LARGE;
    memcpy(seed, entropy, entropy_len);
    memcpy(seed + entropy_len, nonce, nonce_len);
    if (pers_len != 0)
        memcpy(seed + entropy_len + nonce_len, pers, pers_len);
    br_hmac_drbg_init(drbg_state(ctx), &br_sha256_vtable, seed, entropy_len + nonce_len + pers_len);
    drot_wipe(seed, sizeof seed);
    return st;
}

/* see drot_crypto.h */
drot_status drot_drbg_reseed(drot_drbg_ctx *ctx, const uint8_t *entropy, size_t entropy_len)
{
    if (ctx == NULL || entropy == NULL || entropy_len < 32)
        return DROT_E_ARG;
    if (entropy_len > DROT_DRBG_MAX_SEED)
        return DROT_E_TOO_LARGE; /* the same bound in both backends */
    if (drbg_state(ctx)->vtable == NULL)
        return DROT_E_STATE;
    /* SP 800-90A HMAC_DRBG reseed without additional input: Update(entropy). */
    br_hmac_drbg_update(drbg_state(ctx), entropy, entropy_len);
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_drbg_generate(drot_drbg_ctx *ctx, uint8_t *out, size_t len)
{
    if (ctx == NULL || (out == NULL && len != 0) || len > 65536)
        return DROT_E_ARG;
    if (drbg_state(ctx)->vtable == NULL)
        return DROT_E_STATE;
    if (len != 0)
        br_hmac_drbg_generate(drbg_state(ctx), out, len);
    return DROT_OK;
}

/* see drot_crypto.h */
void drot_drbg_release(drot_drbg_ctx *ctx)
{
    if (ctx != NULL)
        drot_wipe(ctx, sizeof *ctx);
}

/* ---- P-256 ----------------------------------------------------------------- */

/* 1 iff a < m for 32-byte big-endian a and m, in time independent of a:
 * the final borrow of the subtraction a - m. */
static uint32_t lt_be32(const uint8_t *a, const uint8_t *m)
{
    uint32_t borrow = 0;
    for (int i = 31; i >= 0; i--) {
        uint32_t t = (uint32_t)a[i] - m[i] - borrow;
        borrow = (t >> 31) & 1u;
    }
    return borrow;
}

/* 1 iff 0 < d < n, in constant time. */
static uint32_t scalar_ok(const uint8_t d[32])
{
    uint32_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= d[i];
    return lt_be32(d, P256_N) & ((acc + 0xFFu) >> 8);
}

/* A 65-byte uncompressed point with both coordinates < p, on the curve. The
 * explicit range check does not depend on how the decoder reduces; the
 * curve check is BearSSL's: mul() decodes and validates its input point and
 * reports an invalid one (1 is a legal multiplier). Public data only. */
static drot_status point_check(const uint8_t *bytes, size_t len)
{
    static const uint8_t one[1] = {1};
    uint8_t tmp[DROT_P256_PUB_LEN];

    if (bytes == NULL || len != DROT_P256_PUB_LEN || bytes[0] != 0x04)
        return DROT_E_BADKEY;
    if (!lt_be32(bytes + 1, P256_P) || !lt_be32(bytes + 33, P256_P))
        return DROT_E_BADKEY;
    memcpy(tmp, bytes, sizeof tmp);
    if (EC_IMPL->mul(tmp, sizeof tmp, one, sizeof one, BR_EC_secp256r1) != 1)
        return DROT_E_BADKEY;
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_p256_key_from_scalar(const uint8_t d[DROT_P256_SCALAR_LEN], drot_p256_priv *priv,
                                      drot_p256_pub *pub)
{
    uint8_t q[DROT_P256_PUB_LEN];

    if (d == NULL || priv == NULL)
        return DROT_E_ARG;
    if (!scalar_ok(d))
        return DROT_E_BADKEY;
    if (EC_IMPL->mulgen(q, d, DROT_P256_SCALAR_LEN, BR_EC_secp256r1) != DROT_P256_PUB_LEN)
        return DROT_E_CRYPTO;
    memmove(priv->d, d, DROT_P256_SCALAR_LEN); /* d may alias priv->d */
    if (pub != NULL)
        memcpy(pub->q, q, sizeof q);
    return DROT_OK;
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
    br_ec_private_key sk;

    if (priv == NULL || digest == NULL || sig == NULL)
        return DROT_E_ARG;
    if (!scalar_ok(priv->d))
        return DROT_E_BADKEY;
    sk.curve = BR_EC_secp256r1;
    sk.x = (unsigned char *)priv->d; /* BearSSL only reads the key */
    sk.xlen = DROT_P256_SCALAR_LEN;
    /* The hash class drives the RFC 6979 nonce derivation (HMAC-SHA-256). */
    if (br_ecdsa_i31_sign_raw(EC_IMPL, &br_sha256_vtable, digest, &sk, sig) != DROT_P256_SIG_LEN) {
        drot_wipe(sig, DROT_P256_SIG_LEN);
        return DROT_E_CRYPTO;
    }
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_ecdsa_p256_verify(const drot_p256_pub *pub, const uint8_t digest[DROT_SHA256_LEN],
                                   const uint8_t *sig, size_t sig_len)
{
    br_ec_public_key pk;
    drot_status st;

    if (pub == NULL || digest == NULL || (sig == NULL && sig_len != 0))
        return DROT_E_ARG;
    if (sig_len != DROT_P256_SIG_LEN)
        return DROT_E_VERIFY;
    if ((st = point_check(pub->q, sizeof pub->q)) != DROT_OK)
        return st;
    pk.curve = BR_EC_secp256r1;
    pk.q = (unsigned char *)pub->q; /* BearSSL only reads the key */
    pk.qlen = DROT_P256_PUB_LEN;
    /* vrfy_raw rejects r or s outside [1, n-1]. */
    return br_ecdsa_i31_vrfy_raw(EC_IMPL, digest, DROT_SHA256_LEN, &pk, sig, sig_len) == 1 ? DROT_OK
                                                                                           : DROT_E_VERIFY;
}

/* see drot_crypto.h */
drot_status drot_ecdh_p256(const drot_p256_priv *priv, const uint8_t *peer, size_t peer_len,
                           uint8_t shared[DROT_P256_SHARED_LEN])
{
    uint8_t pt[DROT_P256_PUB_LEN];
    drot_status st;

    if (priv == NULL || shared == NULL || (peer == NULL && peer_len != 0))
        return DROT_E_ARG;
    if ((st = point_check(peer, peer_len)) != DROT_OK)
        return st;
    if (!scalar_ok(priv->d))
        return DROT_E_BADKEY;
    memcpy(pt, peer, sizeof pt);
    if (EC_IMPL->mul(pt, sizeof pt, priv->d, DROT_P256_SCALAR_LEN, BR_EC_secp256r1) != 1) {
        st = DROT_E_BADKEY;
        goto out;
    }
    memcpy(shared, pt + 1, DROT_P256_SHARED_LEN);
    st = DROT_OK;
out:
    drot_wipe(pt, sizeof pt);
    return st;
}
