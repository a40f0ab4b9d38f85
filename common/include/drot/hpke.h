/*
 * drot/hpke.h — Hybrid Public Key Encryption (RFC 9180), one suite, base mode.
 *
 * drot uses HPKE for one thing (DESIGN.md 7.1): the server seals a fresh
 * P-256 root private key to a device's current DRK public key, and the APM
 * opens it. So this is deliberately narrow:
 *
 *   mode   mode_base (0x00) only: no PSK, no Auth modes;
 *   KEM    DHKEM(P-256, HKDF-SHA256)   kem_id  0x0010  (Nenc = Npk = 65, Nsk = 32)
 *   KDF    HKDF-SHA256                 kdf_id  0x0001  (Nh = 32)
 *   AEAD   AES-128-GCM                 aead_id 0x0001  (Nk = 16, Nn = 12, Nt = 16)
 *
 * Everything is built on the crypto port (drot_crypto.h), so the same code
 * runs with either backend, on the host and in the firmware. No allocation:
 * the caller owns the context and every buffer.
 *
 * Contract (every function):
 *
 *  1. Returns DROT_OK or a negative drot_status; compare against DROT_OK.
 *  2. Pointers MUST NOT be NULL unless the parameter says "may be NULL", and
 *     then only together with a length of 0. A NULL where none is allowed is
 *     DROT_E_ARG.
 *  3. Variable-length inputs are bounded by the DROT_HPKE_MAX_* limits below
 *     (DROT_E_TOO_LARGE beyond them). RFC 9180 §7.2.1 allows far more; ours
 *     are fixed so that every labeled HKDF input fits DROT_CRYPTO_MAX_CONCAT
 *     (checked at compile time in hpke.c) and so that firmware can size its
 *     buffers statically, as §7.2.1 itself suggests.
 *  4. No secret is left behind on failure: a failed setup wipes the context,
 *     a failed open zeroes the plaintext buffer, a failed export zeroes out.
 *  5. Public keys (pkR, enc) are 65-byte uncompressed SEC1 points and are
 *     validated (on the curve, not infinity) before use, as RFC 9180 §7.1.4
 *     requires of sender and recipient; a bad one is DROT_E_BADKEY. Compressed
 *     points and other lengths are refused the same way.
 *
 * Context life cycle:
 *
 *     (zeroed/wiped) --setup_base_s--> SENDER    --seal*, export*--> ...
 *     (zeroed/wiped) --setup_base_r--> RECIPIENT --open*, export*--> ...
 *     any state      --drot_hpke_ctx_wipe--> (wiped)
 *
 * Seal on a recipient context, open on a sender context, or either on a
 * context that was never set up (or was wiped) is DROT_E_STATE; RFC 9180 §5.2
 * forbids crossing roles. Each successful seal/open uses the nonce
 * base_nonce XOR I2OSP(seq, 12) and then increments seq; a failed call leaves
 * seq unchanged, so the receiver can still open the right message after
 * rejecting a forged one. seq is 64 bits (RFC 9180 §5.2 allows a sequence
 * number shorter than Nn); when it would overflow, seal/open return
 * DROT_E_STATE and produce nothing.
 *
 * The context holds the AEAD key and the exporter secret: the caller MUST
 * call drot_hpke_ctx_wipe() when done, on every path.
 */
#ifndef DROT_HPKE_H
#define DROT_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"
#include "drot_crypto.h"

/* ---- the suite ----------------------------------------------------------- */

#define DROT_HPKE_MODE_BASE 0x00u
#define DROT_HPKE_KEM_ID    0x0010u /* DHKEM(P-256, HKDF-SHA256) */
#define DROT_HPKE_KDF_ID    0x0001u /* HKDF-SHA256 */
#define DROT_HPKE_AEAD_ID   0x0001u /* AES-128-GCM */

#define DROT_HPKE_ENC_LEN             65 /* Nenc: uncompressed P-256 point */
#define DROT_HPKE_PUB_LEN             65 /* Npk */
#define DROT_HPKE_PRIV_LEN            32 /* Nsk */
#define DROT_HPKE_SHARED_SECRET_LEN   32 /* Nsecret */
#define DROT_HPKE_KEY_LEN             16 /* Nk */
#define DROT_HPKE_NONCE_LEN           12 /* Nn */
#define DROT_HPKE_TAG_LEN             16 /* Nt */
#define DROT_HPKE_EXPORTER_SECRET_LEN 32 /* Nh */

/* Ciphertext length for a plaintext of n bytes (ciphertext || tag). */
#define DROT_HPKE_CT_LEN(n) ((size_t)(n) + DROT_HPKE_TAG_LEN)

/* ---- fixed input limits (inclusive) --------------------------------------- */

/* info of the key schedule: DESIGN 7.1 puts device id and new epoch in it. */
#define DROT_HPKE_MAX_INFO 512u
/* aad of one seal/open. Not hashed through HKDF, so not tied to the HKDF
 * bound; fixed so the firmware has a known worst case. */
#define DROT_HPKE_MAX_AAD 1024u
/* exporter_context of one export. */
#define DROT_HPKE_MAX_EXPORTER_CONTEXT 512u
/* Largest export: 255 * Nh (RFC 9180 §5.3). */
#define DROT_HPKE_MAX_EXPORT_LEN (255u * 32u)
/* ikm of DeriveKeyPair: at least Nsk (RFC 9180 §7.1.3 SHOULD, a MUST here). */
#define DROT_HPKE_MIN_IKM 32u
#define DROT_HPKE_MAX_IKM 512u

/* ---- context --------------------------------------------------------------- */

/* Role markers: far apart in bits (each is the other's complement, and 16
 * bits from zero), so a corrupted role word does not become another role. */
#define DROT_HPKE_ROLE_NONE      0x00000000u
#define DROT_HPKE_ROLE_SENDER    0x3CA55AC3u
#define DROT_HPKE_ROLE_RECIPIENT 0xC35AA53Cu

/* Caller-owned. The fields are hpke.c's; callers only set up, use and wipe
 * the context (tests may read them to check the key schedule). A context of
 * all zero bytes is a valid "not set up" context. */
typedef struct drot_hpke_ctx {
    uint8_t key[DROT_HPKE_KEY_LEN];                         /* AEAD key */
    uint8_t base_nonce[DROT_HPKE_NONCE_LEN];                /* AEAD base nonce */
    uint8_t exporter_secret[DROT_HPKE_EXPORTER_SECRET_LEN]; /* for drot_hpke_export */
    uint64_t seq;                                           /* next message's sequence number */
    uint32_t role;                                          /* DROT_HPKE_ROLE_* */
} drot_hpke_ctx;

/* ---- key pairs ------------------------------------------------------------- */

/* DeriveKeyPair(ikm) of DHKEM(P-256, HKDF-SHA256), RFC 9180 §7.1.3: the
 * rejection loop over candidates LabeledExpand(dkp_prk, "candidate",
 * I2OSP(counter, 1), 32), counter 0..255, bitmask 0xff. ikm_len MUST be in
 * [DROT_HPKE_MIN_IKM, DROT_HPKE_MAX_IKM] (DROT_E_ARG below, DROT_E_TOO_LARGE
 * above). pub may be NULL. If all 256 candidates are out of range
 * (probability about 2^-8192) returns DROT_E_BADKEY. On failure priv and pub
 * are zeroed. The caller wipes priv. */
drot_status drot_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, drot_p256_priv *priv,
                                     drot_p256_pub *pub);

/* ---- setup ----------------------------------------------------------------- */

/* SetupBaseS(pkR, info): draws a 32-byte ikmE from rng, derives the ephemeral
 * key pair from it with drot_hpke_derive_keypair, encapsulates to pkR and
 * runs the key schedule. Writes enc (the ephemeral public key) to enc_out and
 * leaves ctx a SENDER context with seq 0. info may be NULL iff info_len is 0.
 * Errors: DROT_E_ARG, DROT_E_TOO_LARGE (info), DROT_E_BADKEY (pkR not a valid
 * point), DROT_E_RNG (rng NULL or failing), backend errors. On failure ctx is
 * wiped and enc_out zeroed. */
drot_status drot_hpke_setup_base_s(drot_hpke_ctx *ctx, uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                   const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                   const drot_rng *rng);

/* SetupBaseR(enc, skR, info): decapsulates enc (enc_len bytes, from the wire)
 * with skR and runs the key schedule; leaves ctx a RECIPIENT context with
 * seq 0. info may be NULL iff info_len is 0. Errors: DROT_E_ARG,
 * DROT_E_TOO_LARGE (info), DROT_E_BADKEY (enc not exactly a 65-byte
 * uncompressed point on the curve; skR not a valid scalar). A wrong skR or
 * info is not detected here: the first open fails with DROT_E_VERIFY. On
 * failure ctx is wiped. */
drot_status drot_hpke_setup_base_r(drot_hpke_ctx *ctx, const uint8_t *enc, size_t enc_len,
                                   const drot_p256_priv *skR, const uint8_t *info, size_t info_len);

/* ---- messages ---------------------------------------------------------------- */

/* ContextS.Seal(aad, pt): ct[0..pt_len+16) = AES-128-GCM ciphertext || tag;
 * *ct_len = pt_len + 16. ct may equal pt (in place; the buffer then needs
 * pt_len + 16 bytes); any other overlap is not allowed. aad may be NULL iff
 * aad_len is 0; pt may be NULL iff pt_len is 0.
 * Errors: DROT_E_ARG; DROT_E_STATE (not a SENDER context, or seq exhausted);
 * DROT_E_TOO_LARGE (aad_len > DROT_HPKE_MAX_AAD, or pt_len so large that
 * pt_len + 16 overflows); DROT_E_BUFFER (ct_cap < pt_len + 16: *ct_len is set
 * to the size needed). On any failure seq is unchanged and *ct_len is 0
 * except for DROT_E_BUFFER; ct is untouched, except after a backend failure,
 * which zeroes ct[0..pt_len+16). */
drot_status drot_hpke_seal(drot_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                           size_t pt_len, uint8_t *ct, size_t ct_cap, size_t *ct_len);

/* ContextR.Open(aad, ct): ct is ciphertext || tag, ct_len ≥ 16; writes the
 * ct_len - 16 plaintext bytes to pt and sets *pt_len. pt may equal ct (in
 * place); any other overlap is not allowed. aad may be NULL iff aad_len is 0;
 * pt may be NULL iff ct_len is 16 (empty plaintext).
 * Errors: DROT_E_ARG; DROT_E_STATE (not a RECIPIENT context, or seq
 * exhausted); DROT_E_TOO_LARGE (aad); DROT_E_TRUNCATED (ct_len < 16);
 * DROT_E_BUFFER (pt_cap < ct_len - 16: *pt_len is set to the size needed,
 * nothing written); DROT_E_VERIFY (tag does not verify: wrong key, info,
 * aad, sequence, or tampered ct; pt[0..ct_len-16) is zeroed). On any failure
 * seq is unchanged and *pt_len is 0 except for DROT_E_BUFFER. */
drot_status drot_hpke_open(drot_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                           size_t ct_len, uint8_t *pt, size_t pt_cap, size_t *pt_len);

/* Context.Export(exporter_context, L), either role: out[0..out_len) =
 * LabeledExpand(exporter_secret, "sec", exporter_context, L).
 * exporter_context may be NULL iff exp_ctx_len is 0. out_len MUST be in
 * [1, DROT_HPKE_MAX_EXPORT_LEN] (0: DROT_E_ARG; larger: DROT_E_TOO_LARGE).
 * Errors: DROT_E_ARG, DROT_E_STATE (context not set up), DROT_E_TOO_LARGE;
 * on failure out[0..out_len) is zeroed when out is not NULL. */
drot_status drot_hpke_export(const drot_hpke_ctx *ctx, const uint8_t *exporter_context, size_t exp_ctx_len,
                             uint8_t *out, size_t out_len);

/* Wipes the whole context (key, nonce, exporter secret, seq, role). ctx may
 * be NULL (no-op). Safe on a context in any state. */
void drot_hpke_ctx_wipe(drot_hpke_ctx *ctx);

/* ---- single shot (RFC 9180 §6.1), the DESIGN 7.1 use ------------------------ */

/* SealBase(pkR, info, aad, pt): setup_base_s then one seal, on an internal
 * context that is wiped before returning. Arguments and errors as
 * drot_hpke_setup_base_s and drot_hpke_seal. ct_cap is checked first:
 * DROT_E_BUFFER (with *ct_len = pt_len + 16) draws nothing from rng.
 * On any failure enc_out is zeroed and ct holds no ciphertext. */
drot_status drot_hpke_seal_base(const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                                const drot_rng *rng, uint8_t enc_out[DROT_HPKE_ENC_LEN], uint8_t *ct,
                                size_t ct_cap, size_t *ct_len);

/* OpenBase(enc, skR, info, aad, ct): setup_base_r then one open, on an
 * internal context that is wiped before returning. Arguments and errors as
 * drot_hpke_setup_base_r and drot_hpke_open. pt never holds plaintext after a
 * failure: a bad tag zeroes pt[0..ct_len-16) (DROT_E_VERIFY), and every
 * earlier failure (arguments, buffer, enc, key) writes nothing to pt. */
drot_status drot_hpke_open_base(const uint8_t *enc, size_t enc_len, const drot_p256_priv *skR,
                                const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                                const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_cap, size_t *pt_len);

#endif /* DROT_HPKE_H */
