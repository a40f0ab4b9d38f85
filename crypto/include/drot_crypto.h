/*
 * drot_crypto.h — the crypto port.
 *
 * Everything in drot that hashes, MACs, derives, encrypts, signs or agrees
 * on a key does it through this header. Two backends implement it, and
 * exactly one is linked into any program:
 *
 *   crypto/bearssl/  BearSSL 0.6: no dynamic allocation, constant time,
 *                    RFC 6979 deterministic ECDSA. The firmware reference;
 *                    it also builds for Cortex-M.
 *   crypto/openssl/  OpenSSL 3.0: server, agent, fast simulation. ECDSA
 *                    signatures are randomised (OpenSSL 3.0 has no RFC 6979).
 *
 * Contract (both backends):
 *
 *  1. No allocation in the interface. Callers own every context and buffer.
 *     Contexts are opaque fixed-size structs; each backend checks at compile
 *     time that its state fits. (The OpenSSL backend allocates internally,
 *     inside a call, and frees before returning, except for the streaming
 *     SHA-256 and DRBG contexts, which MUST be released, see below.)
 *  2. Every function returns DROT_OK or a negative drot_status. On failure no
 *     output buffer holds partial secret data: AEAD open wipes the plaintext
 *     buffer, key derivation wipes its output.
 *  3. Inputs are bounded: lengths are checked before use; NULL is allowed
 *     only where a comment says so (always together with a length of 0).
 *  4. Results of deterministic algorithms (SHA-256, HMAC, HKDF, AES-GCM,
 *     ECDH, key-from-scalar, DRBG) are identical byte for byte in both
 *     backends; tests/unit/test_cross_backend checks it.
 *  5. P-256 public keys are 65-byte uncompressed SEC1 points (0x04 || X || Y);
 *     private keys are 32-byte big-endian scalars in [1, n-1]. Compressed
 *     points are refused (DROT_E_BADKEY).
 *  6. Signatures are raw r || s, 64 bytes, as COSE uses them.
 *
 * Secrets held in caller-owned structs (drot_p256_priv, HPKE contexts, …)
 * are the caller's to wipe with drot_wipe() on every exit path.
 *
 * Contexts (drot_sha256_ctx, drot_drbg_ctx) MUST NOT be copied, and MUST NOT
 * be initialised again while live (release first): a copied DRBG repeats its
 * output stream, and the OpenSSL backend's SHA-256 context holds a pointer
 * that a copy would share and free twice.
 */
#ifndef DROT_CRYPTO_H
#define DROT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"

#if defined(DROT_CRYPTO_BACKEND_BEARSSL) && defined(DROT_CRYPTO_BACKEND_OPENSSL)
#error                                                                                                       \
    "drot: exactly one crypto backend per target: both DROT_CRYPTO_BACKEND_BEARSSL and _OPENSSL are defined"
#endif

#define DROT_SHA256_LEN          32
#define DROT_HMAC_SHA256_LEN     32
#define DROT_P256_SCALAR_LEN     32
#define DROT_P256_PUB_LEN        65
#define DROT_P256_SIG_LEN        64
#define DROT_P256_SHARED_LEN     32
#define DROT_AES_GCM_IV_LEN      12
#define DROT_AES_GCM_TAG_LEN     16
#define DROT_HKDF_SHA256_MAX_OUT (255u * 32u)
/* Upper bound on the total of a vectored input of more than one part (HKDF
 * info, HKDF ikm): a backend may need to join the parts. Both backends refuse
 * a larger multi-part input with DROT_E_TOO_LARGE; a single part is not
 * limited. */
#define DROT_CRYPTO_MAX_CONCAT 1024u
/* Upper bound on DRBG seed material (entropy + nonce + personalization) and
 * on reseed entropy. Larger: DROT_E_TOO_LARGE. */
#define DROT_DRBG_MAX_SEED 256u
/* Longest AES-GCM plaintext (NIST SP 800-38D: 2^39 - 256 bits). */
#define DROT_AES_GCM_MAX_LEN ((uint64_t)68719476704u)

/* A read-only slice; one element of a vectored input. p may be NULL iff n == 0. */
typedef struct drot_cbuf {
    const void *p;
    size_t n;
} drot_cbuf;

/* ---- identification ---------------------------------------------------- */

/* "bearssl" or "openssl". */
const char *drot_crypto_backend(void);

/* ---- constant time and wiping ----------------------------------------- */

/* DROT_OK iff a[0..n) == b[0..n), else DROT_E_VERIFY. Time depends only on n. */
drot_status drot_ct_equal(const void *a, const void *b, size_t n);

/* Overwrites p[0..n) with zeros in a way the compiler may not elide. p may be NULL iff n == 0. */
void drot_wipe(void *p, size_t n);

/* ---- SHA-256 ------------------------------------------------------------ */

drot_status drot_sha256(const void *data, size_t len, uint8_t out[DROT_SHA256_LEN]);

/* SHA-256 over the concatenation of parts[0..n). */
drot_status drot_sha256_v(const drot_cbuf *parts, size_t n, uint8_t out[DROT_SHA256_LEN]);

/* Streaming SHA-256 for input that does not sit in memory at once (firmware
 * images read from flash). Life cycle: init → update* → final. init may
 * acquire backend resources; final releases them. A context abandoned before
 * final MUST be passed to drot_sha256_release (which is also safe after final
 * and on a context whose init failed). */
#define DROT_SHA256_CTX_SIZE 128
typedef struct drot_sha256_ctx {
    union {
        uint64_t align_;
        void *align_ptr_;
        unsigned char b[DROT_SHA256_CTX_SIZE];
    } opaque;
} drot_sha256_ctx;

drot_status drot_sha256_init(drot_sha256_ctx *ctx);
drot_status drot_sha256_update(drot_sha256_ctx *ctx, const void *data, size_t len);
drot_status drot_sha256_final(drot_sha256_ctx *ctx, uint8_t out[DROT_SHA256_LEN]);
void drot_sha256_release(drot_sha256_ctx *ctx);

/* ---- HMAC-SHA-256 -------------------------------------------------------- */

drot_status drot_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                             uint8_t out[DROT_HMAC_SHA256_LEN]);

/* HMAC over the concatenation of parts[0..n). */
drot_status drot_hmac_sha256_v(const uint8_t *key, size_t key_len, const drot_cbuf *parts, size_t n,
                               uint8_t out[DROT_HMAC_SHA256_LEN]);

/* ---- HKDF-SHA-256 (RFC 5869) -------------------------------------------- */

/* PRK = HMAC(salt, ikm_parts concatenated). salt may be NULL with salt_len 0
 * (RFC 5869: a string of HashLen zeros). */
drot_status drot_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const drot_cbuf *ikm_parts,
                                     size_t n_ikm, uint8_t prk[DROT_SHA256_LEN]);

/* OKM of out_len bytes (1 ≤ out_len ≤ DROT_HKDF_SHA256_MAX_OUT) from a PRK of
 * at least 32 bytes and the concatenation of info_parts. */
drot_status drot_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const drot_cbuf *info_parts,
                                    size_t n_info, uint8_t *out, size_t out_len);

/* Extract then expand, single buffers. */
drot_status drot_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                             const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* ---- AES-GCM (AES-128 and AES-256; 96-bit IV; 128-bit tag) ------------- */

/* ct may equal pt (in place). key_len is 16 or 32. len ≤ DROT_AES_GCM_MAX_LEN,
 * else DROT_E_TOO_LARGE (checked first, in both backends). */
drot_status drot_aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[DROT_AES_GCM_IV_LEN],
                              const void *aad, size_t aad_len, const void *pt, size_t len, uint8_t *ct,
                              uint8_t tag[DROT_AES_GCM_TAG_LEN]);

/* pt may equal ct. Returns DROT_E_VERIFY on a bad tag, and then pt[0..len)
 * is zeroed: no unauthenticated plaintext is ever returned. */
drot_status drot_aes_gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[DROT_AES_GCM_IV_LEN],
                              const void *aad, size_t aad_len, const void *ct, size_t len,
                              const uint8_t tag[DROT_AES_GCM_TAG_LEN], uint8_t *pt);

/* ---- randomness --------------------------------------------------------- */

/* The RNG hook: anything that can fill a buffer with random bytes. The
 * firmware plugs in a DRBG seeded from its TRNG; the host plugs in the OS. */
typedef drot_status (*drot_rng_fill_fn)(void *ctx, uint8_t *out, size_t len);
typedef struct drot_rng {
    drot_rng_fill_fn fill;
    void *ctx;
} drot_rng;

/* Fills out[0..len) from rng; DROT_E_RNG if rng is NULL or fails. */
drot_status drot_rng_fill(const drot_rng *rng, uint8_t *out, size_t len);

/* HMAC_DRBG with SHA-256 (NIST SP 800-90A), no prediction resistance, no
 * automatic reseeding: the caller reseeds. Instantiation uses
 * entropy || nonce || personalization as seed material, as the standard says,
 * so both backends produce the same stream from the same inputs.
 * entropy_len MUST be ≥ 32, nonce_len ≥ 16, and the three together at most
 * DROT_DRBG_MAX_SEED (else DROT_E_TOO_LARGE); pers may be NULL with len 0.
 * The context MUST be released with drot_drbg_release (wipes the state). */
#define DROT_DRBG_CTX_SIZE 256
typedef struct drot_drbg_ctx {
    union {
        uint64_t align_;
        void *align_ptr_;
        unsigned char b[DROT_DRBG_CTX_SIZE];
    } opaque;
} drot_drbg_ctx;

drot_status drot_drbg_init(drot_drbg_ctx *ctx, const uint8_t *entropy, size_t entropy_len,
                           const uint8_t *nonce, size_t nonce_len, const uint8_t *pers, size_t pers_len);
drot_status drot_drbg_reseed(drot_drbg_ctx *ctx, const uint8_t *entropy, size_t entropy_len);
/* len ≤ 65536 per call (SP 800-90A max_number_of_bits_per_request for HMAC_DRBG is 2^19). */
drot_status drot_drbg_generate(drot_drbg_ctx *ctx, uint8_t *out, size_t len);
void drot_drbg_release(drot_drbg_ctx *ctx);
/* A drot_rng that draws from ctx (which must outlive it). */
drot_rng drot_drbg_rng(drot_drbg_ctx *ctx);

/* ---- P-256 keys, ECDSA, ECDH ------------------------------------------- */

typedef struct drot_p256_priv {
    uint8_t d[DROT_P256_SCALAR_LEN]; /* big-endian scalar in [1, n-1] */
} drot_p256_priv;

typedef struct drot_p256_pub {
    uint8_t q[DROT_P256_PUB_LEN]; /* 0x04 || X || Y */
} drot_p256_pub;

/* Key pair from a given 32-byte scalar ("from seed bytes"). DROT_E_BADKEY if
 * the scalar is 0 or ≥ n; nothing is written then. pub may be NULL. */
drot_status drot_p256_key_from_scalar(const uint8_t d[DROT_P256_SCALAR_LEN], drot_p256_priv *priv,
                                      drot_p256_pub *pub);

/* Fresh key pair: draws 32 bytes from rng until they form a valid scalar
 * (rejection sampling, at most 16 draws; the chance of needing a second is
 * about 2^-32). Deterministic for a deterministic rng, in both backends. */
drot_status drot_p256_keygen(const drot_rng *rng, drot_p256_priv *priv, drot_p256_pub *pub);

/* Public key bytes (any length accepted; only 65-byte uncompressed points on
 * the curve pass) into pub. DROT_E_BADKEY otherwise. */
drot_status drot_p256_pub_import(const uint8_t *bytes, size_t len, drot_p256_pub *pub);

/* ECDSA P-256 over a SHA-256 digest. BearSSL: RFC 6979 deterministic. */
drot_status drot_ecdsa_p256_sign(const drot_p256_priv *priv, const uint8_t digest[DROT_SHA256_LEN],
                                 uint8_t sig[DROT_P256_SIG_LEN]);

/* DROT_OK iff sig (raw r||s, sig_len MUST be 64, else DROT_E_VERIFY) is a
 * valid signature of digest under pub; DROT_E_BADKEY if pub is not a valid point. */
drot_status drot_ecdsa_p256_verify(const drot_p256_pub *pub, const uint8_t digest[DROT_SHA256_LEN],
                                   const uint8_t *sig, size_t sig_len);

/* ECDH: the X coordinate of priv * peer. peer is checked (65 bytes,
 * uncompressed, on the curve) before use: DROT_E_BADKEY otherwise. */
drot_status drot_ecdh_p256(const drot_p256_priv *priv, const uint8_t *peer, size_t peer_len,
                           uint8_t shared[DROT_P256_SHARED_LEN]);

#endif /* DROT_CRYPTO_H */
