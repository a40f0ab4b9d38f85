/*
 * drot_crypto_openssl.c — the crypto port on OpenSSL 3.0 (see drot_crypto.h).
 *
 * Only non-deprecated 3.0 APIs: EVP_Digest*, EVP_MAC "HMAC", EVP_KDF "HKDF",
 * EVP_CIPHER AES-GCM, EVP_PKEY built from raw parameters (EVP_PKEY_fromdata),
 * EVP_PKEY_sign/verify/derive. EC_GROUP/EC_POINT are used for point
 * validation and for scalar * G (neither is deprecated). HMAC_DRBG is
 * SP 800-90A over EVP_MAC HMAC (see the randomness section for why).
 * P-256 keys, ECDSA and ECDH are in drot_crypto_openssl_p256.c.
 *
 * Invariants:
 *  1. Every OpenSSL object a call allocates is freed before it returns,
 *     except the EVP_MD_CTX of a streaming SHA-256 context, which lives in
 *     the caller's opaque struct until final/release.
 *  2. Every function has one exit ("out:") that frees and wipes.
 *  3. Key material passed to OpenSSL as BIGNUMs uses BN_FLG_CONSTTIME and is
 *     freed with BN_clear_free.
 */
#include "drot_crypto.h"
#include "drot_crypto_internal.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* AES-GCM input is handed to EVP in chunks that fit its int lengths. */
#define GCM_CHUNK ((size_t)1 << 30)

/* ---- identification, constant time, wiping ------------------------------ */

/* see drot_crypto.h */
const char *drot_crypto_backend(void)
{
    return "openssl";
}

/* see drot_crypto.h */
drot_status drot_ct_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return DROT_OK;
    if (a == NULL || b == NULL)
        return DROT_E_ARG;
    return CRYPTO_memcmp(a, b, n) == 0 ? DROT_OK : DROT_E_VERIFY;
}

/* see drot_crypto.h */
void drot_wipe(void *p, size_t n)
{
    if (p != NULL && n != 0)
        OPENSSL_cleanse(p, n);
}

/* Concatenates parts into buf (cap bytes). HKDF in OpenSSL takes one key and
 * one info buffer, so vectored inputs must be joined; the bound is the
 * contract's DROT_CRYPTO_MAX_CONCAT. */
static drot_status concat_parts(const drot_cbuf *parts, size_t n, uint8_t *buf, size_t cap, size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].n > cap - total)
            return DROT_E_TOO_LARGE;
        if (parts[i].n != 0)
            memcpy(buf + total, parts[i].p, parts[i].n);
        total += parts[i].n;
    }
    *out_len = total;
    return DROT_OK;
}

/* ---- SHA-256 ------------------------------------------------------------- */

/* see drot_crypto.h */
drot_status drot_sha256_v(const drot_cbuf *parts, size_t n, uint8_t out[DROT_SHA256_LEN])
{
    drot_status st;
    EVP_MD_CTX *md = NULL;

    if (out == NULL)
        return DROT_E_ARG;
    if ((st = drot_crypto_check_parts(parts, n)) != DROT_OK)
        return st;
    st = DROT_E_CRYPTO;
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex2(md, EVP_sha256(), NULL) != 1)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].n != 0 && EVP_DigestUpdate(md, parts[i].p, parts[i].n) != 1)
            goto out;
    }
    if (EVP_DigestFinal_ex(md, out, NULL) != 1)
        goto out;
    st = DROT_OK;
out:
    EVP_MD_CTX_free(md);
    return st;
}

/* The opaque streaming context holds only the EVP_MD_CTX pointer; a NULL
 * pointer means "not initialised or already released". The pointer is
 * copied in and out with memcpy so no type punning of the byte array occurs. */
_Static_assert(sizeof(EVP_MD_CTX *) <= DROT_SHA256_CTX_SIZE, "drot_sha256_ctx too small");

static EVP_MD_CTX *sha_get(const drot_sha256_ctx *ctx)
{
    EVP_MD_CTX *md;
    memcpy(&md, ctx->opaque.b, sizeof md);
    return md;
}

static void sha_set(drot_sha256_ctx *ctx, EVP_MD_CTX *md)
{
    memcpy(ctx->opaque.b, &md, sizeof md);
}

/* see drot_crypto.h */
drot_status drot_sha256_init(drot_sha256_ctx *ctx)
{
    EVP_MD_CTX *md;

    if (ctx == NULL)
        return DROT_E_ARG;
    memset(ctx, 0, sizeof *ctx);
    md = EVP_MD_CTX_new();
    if (md == NULL)
        return DROT_E_CRYPTO;
    if (EVP_DigestInit_ex2(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return DROT_E_CRYPTO;
    }
    sha_set(ctx, md);
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_sha256_update(drot_sha256_ctx *ctx, const void *data, size_t len)
{
    EVP_MD_CTX *md;

    if (ctx == NULL || (data == NULL && len != 0))
        return DROT_E_ARG;
    md = sha_get(ctx);
    if (md == NULL)
        return DROT_E_STATE;
    if (len != 0 && EVP_DigestUpdate(md, data, len) != 1)
        return DROT_E_CRYPTO;
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_sha256_final(drot_sha256_ctx *ctx, uint8_t out[DROT_SHA256_LEN])
{
    drot_status st = DROT_OK;
    EVP_MD_CTX *md;

    if (ctx == NULL || out == NULL) {
        drot_sha256_release(ctx);
        return DROT_E_ARG;
    }
    md = sha_get(ctx);
    if (md == NULL)
        return DROT_E_STATE;
    if (EVP_DigestFinal_ex(md, out, NULL) != 1)
        st = DROT_E_CRYPTO;
    drot_sha256_release(ctx);
    return st;
}

/* see drot_crypto.h */
void drot_sha256_release(drot_sha256_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_MD_CTX_free(sha_get(ctx));
    sha_set(ctx, NULL);
}

/* ---- HMAC-SHA-256 --------------------------------------------------------- */

/* see drot_crypto.h */
drot_status drot_hmac_sha256_v(const uint8_t *key, size_t key_len, const drot_cbuf *parts, size_t n,
                               uint8_t out[DROT_HMAC_SHA256_LEN])
{
    /* EVP_MAC_init treats a NULL key as "keep the previous key"; an empty
     * key must still be a real (zero-length) buffer. */
    static const uint8_t empty_key[1] = {0};
    drot_status st;
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *mctx = NULL;
    OSSL_PARAM params[2];
    size_t out_len = 0;

    if (out == NULL || (key == NULL && key_len != 0))
        return DROT_E_ARG;
    if ((st = drot_crypto_check_parts(parts, n)) != DROT_OK)
        return st;
    st = DROT_E_CRYPTO;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL || (mctx = EVP_MAC_CTX_new(mac)) == NULL)
        goto out;
    if (EVP_MAC_init(mctx, key_len != 0 ? key : empty_key, key_len, params) != 1)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].n != 0 && EVP_MAC_update(mctx, parts[i].p, parts[i].n) != 1)
            goto out;
    }
    if (EVP_MAC_final(mctx, out, &out_len, DROT_HMAC_SHA256_LEN) != 1 || out_len != DROT_HMAC_SHA256_LEN)
        goto out;
    st = DROT_OK;
out:
    if (st != DROT_OK)
        drot_wipe(out, DROT_HMAC_SHA256_LEN);
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    return st;
}

/* ---- HKDF-SHA-256 ---------------------------------------------------------- */

/* One EVP_KDF "HKDF" run in the given mode. key is the IKM (extract) or the
 * PRK (expand); salt is used only by extract, info only by expand. */
static drot_status hkdf_run(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt,
                            size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
                            size_t out_len)
{
    /* OpenSSL rejects a NULL octet-string key; an empty IKM is legal. */
    static const uint8_t empty[1] = {0};
    drot_status st = DROT_E_CRYPTO;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[6], *p = params;

    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key_len != 0 ? key : empty), key_len);
    /* An absent salt is HashLen zero bytes (RFC 5869 §2.2), which OpenSSL
     * implements for a missing parameter. */
    if (salt_len != 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len != 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();

    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
        goto out;
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1)
        goto out;
    st = DROT_OK;
out:
    if (st != DROT_OK)
        drot_wipe(out, out_len);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return st;
}

/* see drot_crypto.h */
drot_status drot_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const drot_cbuf *ikm_parts,
                                     size_t n_ikm, uint8_t prk[DROT_SHA256_LEN])
{
    drot_status st;
    uint8_t ikm[DROT_CRYPTO_MAX_CONCAT];
    size_t ikm_len = 0;

    if (prk == NULL || (salt == NULL && salt_len != 0))
        return DROT_E_ARG;
    if ((st = drot_crypto_check_joinable(ikm_parts, n_ikm)) != DROT_OK)
        return st;
    if (n_ikm == 1) {
        /* The common case needs no copy of the secret. */
        return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm_parts[0].p, ikm_parts[0].n, salt, salt_len, NULL,
                        0, prk, DROT_SHA256_LEN);
    }
    st = concat_parts(ikm_parts, n_ikm, ikm, sizeof ikm, &ikm_len);
    if (st != DROT_OK)
        goto out;
    st =
        hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, NULL, 0, prk, DROT_SHA256_LEN);
out:
    drot_wipe(ikm, sizeof ikm);
    return st;
}

/* see drot_crypto.h */
drot_status drot_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const drot_cbuf *info_parts,
                                    size_t n_info, uint8_t *out, size_t out_len)
{
    drot_status st;
    uint8_t info[DROT_CRYPTO_MAX_CONCAT];
    size_t info_len = 0;

    if (prk == NULL || prk_len < DROT_SHA256_LEN || out == NULL || out_len == 0 ||
        out_len > DROT_HKDF_SHA256_MAX_OUT)
        return DROT_E_ARG;
    if ((st = drot_crypto_check_joinable(info_parts, n_info)) != DROT_OK) {
        drot_wipe(out, out_len);
        return st;
    }
    if (n_info == 1) /* a single part needs no copy, and no bound */
        return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prk_len, NULL, 0, info_parts[0].p,
                        info_parts[0].n, out, out_len);
    st = concat_parts(info_parts, n_info, info, sizeof info, &info_len);
    if (st != DROT_OK) {
        drot_wipe(out, out_len);
        return st;
    }
    return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prk_len, NULL, 0, info, info_len, out, out_len);
}

/* ---- AES-GCM ---------------------------------------------------------------- */

/* Runs the whole of a seal (enc = 1) or open (enc = 0). On open, tag is the
 * expected tag; on seal, it receives the computed one. */
/* NIST SP 800-38D's plaintext limit. A function of uint64_t so that a 32-bit
 * size_t (Cortex-M) gives no always-true comparison warning. */
static int gcm_len_ok(uint64_t len)
{
    return len <= DROT_AES_GCM_MAX_LEN;
}

static drot_status gcm_run(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv, const void *aad,
                           size_t aad_len, const void *in, size_t len, uint8_t *out, uint8_t *tag)
{
    drot_status st = DROT_E_CRYPTO;
    EVP_CIPHER *cipher = NULL;
    EVP_CIPHER_CTX *cctx = NULL;
    const uint8_t *src = in;
    const uint8_t *a = aad;
    int n;

    if (key == NULL || iv == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        ((in == NULL || out == NULL) && len != 0))
        return DROT_E_ARG;
    if (!gcm_len_ok(len))
        return DROT_E_TOO_LARGE;
    if (key_len != 16 && key_len != 32)
        return DROT_E_ARG;
    cipher = EVP_CIPHER_fetch(NULL, key_len == 16 ? "AES-128-GCM" : "AES-256-GCM", NULL);
    if (cipher == NULL || (cctx = EVP_CIPHER_CTX_new()) == NULL)
        goto out;
    /* The default GCM IV length in OpenSSL is 12 bytes, the one we use. */
    if (EVP_CipherInit_ex2(cctx, cipher, key, iv, enc, NULL) != 1)
        goto out;
    for (size_t off = 0; off < aad_len;) {
        size_t c = aad_len - off < GCM_CHUNK ? aad_len - off : GCM_CHUNK;
        if (EVP_CipherUpdate(cctx, NULL, &n, a + off, (int)c) != 1)
            goto out;
        off += c;
    }
    for (size_t off = 0; off < len;) {
        size_t c = len - off < GCM_CHUNK ? len - off : GCM_CHUNK;
        if (EVP_CipherUpdate(cctx, out + off, &n, src + off, (int)c) != 1 || (size_t)n != c)
            goto out;
        off += c;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_TAG, DROT_AES_GCM_TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(cctx, out != NULL ? out + len : NULL, &n) != 1) {
        st = enc ? DROT_E_CRYPTO : DROT_E_VERIFY;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_GET_TAG, DROT_AES_GCM_TAG_LEN, tag) != 1)
        goto out;
    st = DROT_OK;
out:
    if (st != DROT_OK) {
        /* Never leave unauthenticated plaintext (open) or a half-built
         * ciphertext (seal) behind. */
        drot_wipe(out, len);
        if (enc)
            drot_wipe(tag, DROT_AES_GCM_TAG_LEN);
    }
    EVP_CIPHER_CTX_free(cctx);
    EVP_CIPHER_free(cipher);
    return st;
}

/* see drot_crypto.h */
drot_status drot_aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[DROT_AES_GCM_IV_LEN],
                              const void *aad, size_t aad_len, const void *pt, size_t len, uint8_t *ct,
                              uint8_t tag[DROT_AES_GCM_TAG_LEN])
{
    return gcm_run(1, key, key_len, iv, aad, aad_len, pt, len, ct, tag);
}

/* see drot_crypto.h */
drot_status drot_aes_gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[DROT_AES_GCM_IV_LEN],
                              const void *aad, size_t aad_len, const void *ct, size_t len,
                              const uint8_t tag[DROT_AES_GCM_TAG_LEN], uint8_t *pt)
{
    /* EVP wants a writable tag pointer for SET_TAG; it only reads it. */
    uint8_t t[DROT_AES_GCM_TAG_LEN];

    if (tag == NULL)
        return DROT_E_ARG;
    memcpy(t, tag, sizeof t);
    return gcm_run(0, key, key_len, iv, aad, aad_len, ct, len, pt, t);
}

/* ---- randomness ------------------------------------------------------------ */

/*
 * HMAC_DRBG (NIST SP 800-90A section 10.1.2) over this backend's HMAC.
 *
 * Why not OpenSSL's own "HMAC-DRBG" EVP_RAND: it takes chosen seed bytes
 * only through the "TEST-RAND" provider as its parent, which keeps the
 * entropy in the clear for the DRBG's lifetime and frees its copies without
 * wiping them (OPENSSL_free, not OPENSSL_clear_free); the entropy, nonce and
 * personalization rebuild K and V, so every output would be predictable from
 * freed heap. Here the whole state is K and V inside the caller's context,
 * wiped by release, as BearSSL's br_hmac_drbg keeps it; the NIST CAVP vector
 * in test_crypto and the cross-backend test check that both agree.
 */
#define DRBG_MAGIC 0x44524247u /* "DRBG": set by init, cleared by release */

struct drbg_state {
    uint8_t k[DROT_SHA256_LEN];
    uint8_t v[DROT_SHA256_LEN];
    uint32_t magic;
};
_Static_assert(sizeof(struct drbg_state) <= DROT_DRBG_CTX_SIZE, "drot_drbg_ctx too small");

static struct drbg_state *drbg_state_of(drot_drbg_ctx *ctx)
{
    return (struct drbg_state *)(void *)ctx->opaque.b;
}

/* HMAC_DRBG_Update(provided_data = data[0..n)) of SP 800-90A 10.1.2.2. */
static drot_status drbg_update(struct drbg_state *s, const drot_cbuf *data, size_t n)
{
    uint8_t k[DROT_SHA256_LEN];
    drot_cbuf parts[2 + 3];
    drot_status st = DROT_OK;
    size_t provided = 0;

    for (size_t i = 0; i < n; i++)
        provided += data[i].n;
    for (uint8_t round = 0x00; round <= 0x01 && st == DROT_OK; round++) {
        /* K = HMAC(K, V || round || provided_data); V = HMAC(K, V) */
        parts[0] = (drot_cbuf){s->v, sizeof s->v};
        parts[1] = (drot_cbuf){&round, 1};
        for (size_t i = 0; i < n; i++)
            parts[2 + i] = data[i];
        st = drot_hmac_sha256_v(s->k, sizeof s->k, parts, 2 + n, k);
        if (st == DROT_OK) {
            memcpy(s->k, k, sizeof k);
            st = drot_hmac_sha256(s->k, sizeof s->k, s->v, sizeof s->v, s->v);
        }
        if (provided == 0)
            break; /* the second round only runs with provided data */
    }
    drot_wipe(k, sizeof k);
    return st;
}

/* see drot_crypto.h */
drot_status drot_drbg_init(drot_drbg_ctx *ctx, const uint8_t *entropy, size_t entropy_len,
                           const uint8_t *nonce, size_t nonce_len, const uint8_t *pers, size_t pers_len)
{
    if (ctx == NULL)
        return DROT_E_ARG;
    memset(ctx, 0, sizeof *ctx);
    if (entropy == NULL || entropy_len < 32 || nonce == NULL || nonce_len < 16 ||
        (pers == NULL && pers_len != 0))
        return DROT_E_ARG;
    if (entropy_len > DROT_DRBG_MAX_SEED || nonce_len > DROT_DRBG_MAX_SEED - entropy_len ||
        pers_len > DROT_DRBG_MAX_SEED - entropy_len - nonce_len)
        return DROT_E_TOO_LARGE;

    struct drbg_state *s = drbg_state_of(ctx);
    drot_cbuf seed[3] = {{entropy, entropy_len}, {nonce, nonce_len}, {pers, pers_len}};
    memset(s->k, 0x00, sizeof s->k);
    memset(s->v, 0x01, sizeof s->v);
    drot_status st = drbg_update(s, seed, 3);
    if (st != DROT_OK) {
        drot_wipe(ctx, sizeof *ctx);
        return st;
    }
    s->magic = DRBG_MAGIC;
    return DROT_OK;
}

/* see drot_crypto.h */
drot_status drot_drbg_reseed(drot_drbg_ctx *ctx, const uint8_t *entropy, size_t entropy_len)
{
    if (ctx == NULL || entropy == NULL || entropy_len < 32)
        return DROT_E_ARG;
    if (entropy_len > DROT_DRBG_MAX_SEED)
        return DROT_E_TOO_LARGE;
    struct drbg_state *s = drbg_state_of(ctx);
    if (s->magic != DRBG_MAGIC)
        return DROT_E_STATE;
    drot_cbuf seed[1] = {{entropy, entropy_len}};
    return drbg_update(s, seed, 1);
}

/* see drot_crypto.h */
drot_status drot_drbg_generate(drot_drbg_ctx *ctx, uint8_t *out, size_t len)
{
    if (ctx == NULL || (out == NULL && len != 0) || len > 65536)
        return DROT_E_ARG;
    struct drbg_state *s = drbg_state_of(ctx);
    if (s->magic != DRBG_MAGIC)
        return DROT_E_STATE;
    if (len == 0)
        return DROT_OK;
    drot_status st = DROT_OK;
    for (size_t off = 0; off < len && st == DROT_OK; off += sizeof s->v) {
        st = drot_hmac_sha256(s->k, sizeof s->k, s->v, sizeof s->v, s->v); /* V = HMAC(K, V) */
        if (st == DROT_OK)
            memcpy(out + off, s->v, len - off < sizeof s->v ? len - off : sizeof s->v);
    }
    if (st == DROT_OK)
        st = drbg_update(s, NULL, 0);
    if (st != DROT_OK)
        drot_wipe(out, len);
    return st == DROT_OK ? DROT_OK : DROT_E_RNG;
}

/* see drot_crypto.h */
void drot_drbg_release(drot_drbg_ctx *ctx)
{
    if (ctx != NULL)
        drot_wipe(ctx, sizeof *ctx);
}
