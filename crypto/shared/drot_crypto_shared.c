/*
 * drot_crypto_shared.c — the parts of the crypto port that do not depend on
 * the backend: compiled into both backend libraries, so that each is written
 * once. Only the port's own functions are called here; no allocation, no OS
 * header (this file is part of the firmware's BearSSL backend too).
 */
#include "drot_crypto.h"
#include "drot_crypto_internal.h"

#include <string.h>

/* see drot_crypto.h */
drot_status drot_sha256(const void *data, size_t len, uint8_t out[DROT_SHA256_LEN])
{
    drot_cbuf part = {data, len};
    return drot_sha256_v(&part, 1, out);
}

/* see drot_crypto.h */
drot_status drot_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                             uint8_t out[DROT_HMAC_SHA256_LEN])
{
    drot_cbuf part = {data, len};
    return drot_hmac_sha256_v(key, key_len, &part, 1, out);
}

/* see drot_crypto.h */
drot_status drot_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                             const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    drot_status st;
    uint8_t prk[DROT_SHA256_LEN];
    drot_cbuf ikm_part = {ikm, ikm_len};
    drot_cbuf info_part = {info, info_len};

    if (out == NULL || out_len == 0 || out_len > DROT_HKDF_SHA256_MAX_OUT || (info == NULL && info_len != 0))
        return DROT_E_ARG;
    st = drot_hkdf_sha256_extract(salt, salt_len, &ikm_part, 1, prk);
    if (st != DROT_OK)
        goto out;
    st = drot_hkdf_sha256_expand(prk, sizeof prk, &info_part, 1, out, out_len);
out:
    drot_wipe(prk, sizeof prk);
    return st;
}

/* see drot_crypto.h */
drot_status drot_rng_fill(const drot_rng *rng, uint8_t *out, size_t len)
{
    if (rng == NULL || rng->fill == NULL)
        return DROT_E_RNG;
    if (out == NULL && len != 0)
        return DROT_E_ARG;
    if (len == 0)
        return DROT_OK;
    if (rng->fill(rng->ctx, out, len) != DROT_OK) {
        drot_wipe(out, len);
        return DROT_E_RNG;
    }
    return DROT_OK;
}

static drot_status drbg_fill(void *ctx, uint8_t *out, size_t len)
{
    drot_status st = DROT_OK;
    /* Split large requests: generate is bounded per call. */
    while (len != 0 && st == DROT_OK) {
        size_t c = len < 65536 ? len : 65536;
        st = drot_drbg_generate(ctx, out, c);
        out += c;
        len -= c;
    }
    return st;
}

/* see drot_crypto.h */
drot_rng drot_drbg_rng(drot_drbg_ctx *ctx)
{
    drot_rng r = {drbg_fill, ctx};
    return r;
}

/* see drot_crypto_internal.h */
drot_status drot_crypto_check_parts(const drot_cbuf *parts, size_t n)
{
    if (n != 0 && parts == NULL)
        return DROT_E_ARG;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].p == NULL && parts[i].n != 0)
            return DROT_E_ARG;
    }
    return DROT_OK;
}

/* see drot_crypto_internal.h */
drot_status drot_crypto_check_joinable(const drot_cbuf *parts, size_t n)
{
    size_t total = 0;
    drot_status st = drot_crypto_check_parts(parts, n);
    if (st != DROT_OK || n <= 1)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].n > DROT_CRYPTO_MAX_CONCAT - total)
            return DROT_E_TOO_LARGE;
        total += parts[i].n;
    }
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_p256_keygen(const drot_rng *rng, drot_p256_priv *priv, drot_p256_pub *pub)
{
    drot_status st = DROT_E_RNG;
    uint8_t d[DROT_P256_SCALAR_LEN];

    if (priv == NULL)
        return DROT_E_ARG;
    for (int i = 0; i < 16; i++) {
        st = drot_rng_fill(rng, d, sizeof d);
        if (st != DROT_OK)
            goto out;
        st = drot_p256_key_from_scalar(d, priv, pub);
        if (st != DROT_E_BADKEY)
            goto out;
    }
    st = DROT_E_RNG; /* 16 out-of-range draws: the rng is broken */
out:
    drot_wipe(d, sizeof d);
    return st;
}
