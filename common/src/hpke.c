/*
 * hpke.c — RFC 9180 HPKE, base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 /
 * AES-128-GCM, on the crypto port. See drot/hpke.h for the API contract.
 *
 * Layout follows the RFC, bottom up:
 *
 *   LabeledExtract / LabeledExpand     §4     labeled_extract, labeled_expand
 *   DeriveKeyPair (P-256)              §7.1.3 drot_hpke_derive_keypair
 *   ExtractAndExpand, Encap, Decap     §4.1   extract_and_expand, encap_derand, decap
 *   KeySchedule                        §5.1   key_schedule
 *   SetupBaseS / SetupBaseR            §5.1.1 setup_s_derand, drot_hpke_setup_base_r
 *   Seal / Open / ComputeNonce         §5.2   drot_hpke_seal, drot_hpke_open
 *   Export                             §5.3   drot_hpke_export
 *   SealBase / OpenBase                §6.1   drot_hpke_seal_base, drot_hpke_open_base
 *
 * Invariants:
 *
 *  1. No allocation, no OS header: this file links into the firmware.
 *  2. The labeled HKDF inputs are passed to the port as vectors (drot_cbuf),
 *     never concatenated here; the port concatenates at most
 *     DROT_CRYPTO_MAX_CONCAT bytes, which the static asserts below prove our
 *     fixed limits respect.
 *  3. Every function that holds a secret in a local (ikm, ephemeral or copied
 *     private key, DH output, PRKs, shared secret, nonce) leaves through one
 *     `out:` label that wipes them all, success or failure.
 *  4. A context is usable only while role is exactly SENDER or RECIPIENT;
 *     setup writes role last, after every derived value is in place, and any
 *     failed setup wipes the context back to ROLE_NONE.
 *  5. seq changes only after a successful seal/open.
 */
#include "drot/hpke.h"
#include "drot/hpke_test.h"

#include <string.h>

/* ---- constants of the suite ------------------------------------------------ */

/* "HPKE-v1", without a terminating NUL (it is hashed, not printed). */
static const uint8_t k_version[7] = {'H', 'P', 'K', 'E', '-', 'v', '1'};

/* suite_id inside the KEM (§4.1): "KEM" || I2OSP(kem_id, 2). */
static const uint8_t k_kem_suite[5] = {'K', 'E', 'M', 0x00, 0x10};

/* suite_id for the rest of HPKE (§5.1): "HPKE" || kem_id || kdf_id || aead_id. */
static const uint8_t k_hpke_suite[10] = {'H', 'P', 'K', 'E', 0x00, 0x10, 0x00, 0x01, 0x00, 0x01};

/* Stand-in for a NULL pointer of an empty input: the port allows NULL only
 * where its header says so, and the AES-GCM calls do not say so. */
static const uint8_t k_empty[1] = {0};

/* The longest label of the RFC ("shared_secret", §7.2.1 "13"). */
#define LABEL_MAX 13u
#define LBL(s)    (s), (sizeof(s) - 1u)

/* Our fixed limits keep every labeled input within what the port will
 * concatenate (invariant 2). Extract: version || suite || label || ikm.
 * Expand: I2OSP(L, 2) || version || suite || label || info. */
_Static_assert(sizeof k_version + sizeof k_hpke_suite + LABEL_MAX + DROT_HPKE_MAX_INFO <=
                   DROT_CRYPTO_MAX_CONCAT,
               "info limit exceeds what LabeledExtract can pass to the port");
_Static_assert(2u + sizeof k_version + sizeof k_hpke_suite + LABEL_MAX + DROT_HPKE_MAX_EXPORTER_CONTEXT <=
                   DROT_CRYPTO_MAX_CONCAT,
               "exporter_context limit exceeds what LabeledExpand can pass to the port");
_Static_assert(sizeof k_version + sizeof k_kem_suite + LABEL_MAX + DROT_HPKE_MAX_IKM <=
                   DROT_CRYPTO_MAX_CONCAT,
               "ikm limit exceeds what LabeledExtract can pass to the port");
_Static_assert(DROT_HPKE_MAX_EXPORT_LEN <= DROT_HKDF_SHA256_MAX_OUT, "export limit above HKDF's");
_Static_assert(DROT_HPKE_ENC_LEN == DROT_P256_PUB_LEN && DROT_HPKE_PRIV_LEN == DROT_P256_SCALAR_LEN,
               "DHKEM(P-256) sizes must match the port's P-256 sizes");
_Static_assert(DROT_HPKE_NONCE_LEN == DROT_AES_GCM_IV_LEN && DROT_HPKE_TAG_LEN == DROT_AES_GCM_TAG_LEN,
               "AES-128-GCM sizes must match the port's");

/* ---- labeled HKDF (§4) -------------------------------------------------------- */

/* LabeledExtract(salt, label, ikm) = Extract(salt, version || suite_id || label || ikm).
 * salt may be NULL with salt_len 0 (HKDF then uses Nh zero bytes, which is
 * what the RFC's "" salt means). */
static drot_status labeled_extract(const uint8_t *suite, size_t suite_len, const uint8_t *salt,
                                   size_t salt_len, const char *label, size_t label_len, const uint8_t *ikm,
                                   size_t ikm_len, uint8_t prk[DROT_SHA256_LEN])
{
    const drot_cbuf parts[4] = {
        {k_version, sizeof k_version},
        {suite, suite_len},
        {label, label_len},
        {ikm, ikm_len},
    };
    return drot_hkdf_sha256_extract(salt, salt_len, parts, 4, prk);
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || version ||
 * suite_id || label || info, L). info arrives as up to 3 parts, because the
 * RFC's info arguments are themselves concatenations (kem_context,
 * key_schedule_context) that we never copy into one buffer. */
static drot_status labeled_expand(const uint8_t *suite, size_t suite_len, const uint8_t prk[DROT_SHA256_LEN],
                                  const char *label, size_t label_len, const drot_cbuf *info, size_t n_info,
                                  uint8_t *out, size_t out_len)
{
    drot_cbuf parts[7];
    uint8_t len_be[2];
    size_t n = 0;

    if (n_info > 3 || out_len > 0xFFFFu)
        return DROT_E_ARG;
    len_be[0] = (uint8_t)(out_len >> 8);
    len_be[1] = (uint8_t)out_len;
    parts[n++] = (drot_cbuf){len_be, 2};
    parts[n++] = (drot_cbuf){k_version, sizeof k_version};
    parts[n++] = (drot_cbuf){suite, suite_len};
    parts[n++] = (drot_cbuf){label, label_len};
    for (size_t i = 0; i < n_info; i++)
        parts[n++] = info[i];
    return drot_hkdf_sha256_expand(prk, DROT_SHA256_LEN, parts, n, out, out_len);
}

/* ---- DeriveKeyPair (§7.1.3) ---------------------------------------------------- */

/* see drot/hpke.h */
drot_status drot_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, drot_p256_priv *priv,
                                     drot_p256_pub *pub)
{
    uint8_t dkp_prk[DROT_SHA256_LEN];
    uint8_t cand[DROT_P256_SCALAR_LEN];
    drot_status st;

    if (priv == NULL || ikm == NULL) {
        st = DROT_E_ARG;
        goto out;
    }
    if (ikm_len < DROT_HPKE_MIN_IKM) {
        st = DROT_E_ARG;
        goto out;
    }
    if (ikm_len > DROT_HPKE_MAX_IKM) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    st = labeled_extract(k_kem_suite, sizeof k_kem_suite, NULL, 0, LBL("dkp_prk"), ikm, ikm_len, dkp_prk);
    if (st != DROT_OK)
        goto out;

    /* Rejection sampling: the first candidate in [1, n-1] wins. The port's
     * key_from_scalar is the range check (it refuses 0 and ≥ n with
     * DROT_E_BADKEY and writes nothing then), so we do not keep a second copy
     * of the group order here. Any other error is a real failure. */
    for (unsigned counter = 0; counter <= 255u; counter++) {
        const uint8_t ctr = (uint8_t)counter;
        const drot_cbuf info = {&ctr, 1};
        drot_status kst;

        st = labeled_expand(k_kem_suite, sizeof k_kem_suite, dkp_prk, LBL("candidate"), &info, 1, cand,
                            sizeof cand);
        if (st != DROT_OK)
            goto out;
        /* bitmask is 0xff for P-256: a no-op kept so the code reads as the
         * RFC does (P-521 would use 0x01). */
        cand[0] &= 0xFFu;
        kst = drot_p256_key_from_scalar(cand, priv, pub);
        if (kst == DROT_OK) {
            st = DROT_OK;
            goto out;
        }
        if (kst != DROT_E_BADKEY) {
            st = kst;
            goto out;
        }
        st = DROT_E_BADKEY; /* DeriveKeyPairError if this was counter 255 */
    }

out:
    drot_wipe(dkp_prk, sizeof dkp_prk);
    drot_wipe(cand, sizeof cand);
    if (st != DROT_OK) {
        if (priv != NULL)
            drot_wipe(priv, sizeof *priv);
        if (pub != NULL)
            drot_wipe(pub, sizeof *pub);
    }
    return st;
}

/* ---- DHKEM (§4.1) -------------------------------------------------------------- */

/* ExtractAndExpand(dh, kem_context) with kem_context = enc || pkRm. */
static drot_status extract_and_expand(const uint8_t dh[DROT_P256_SHARED_LEN],
                                      const uint8_t enc[DROT_HPKE_ENC_LEN],
                                      const uint8_t pkRm[DROT_HPKE_PUB_LEN],
                                      uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN])
{
    uint8_t eae_prk[DROT_SHA256_LEN];
    const drot_cbuf kem_context[2] = {{enc, DROT_HPKE_ENC_LEN}, {pkRm, DROT_HPKE_PUB_LEN}};
    drot_status st;

    st = labeled_extract(k_kem_suite, sizeof k_kem_suite, NULL, 0, LBL("eae_prk"), dh, DROT_P256_SHARED_LEN,
                         eae_prk);
    if (st != DROT_OK)
        goto out;
    st = labeled_expand(k_kem_suite, sizeof k_kem_suite, eae_prk, LBL("shared_secret"), kem_context, 2,
                        shared_secret, DROT_HPKE_SHARED_SECRET_LEN);
out:
    drot_wipe(eae_prk, sizeof eae_prk);
    return st;
}

/* Encap(pkR) with (skE, pkE) = DeriveKeyPair(ikmE). */
static drot_status encap_derand(const drot_p256_pub *pkR, const uint8_t *ikmE, size_t ikmE_len,
                                uint8_t enc[DROT_HPKE_ENC_LEN],
                                uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN])
{
    drot_p256_priv skE;
    drot_p256_pub pkE;
    drot_p256_pub pkR_valid;
    uint8_t dh[DROT_P256_SHARED_LEN];
    drot_status st;

    memset(&skE, 0, sizeof skE);
    memset(dh, 0, sizeof dh);
    /* §7.1.4: the sender MUST validate pkR. ECDH checks it again; checking
     * here first means a bad pkR costs no key derivation and reports BADKEY
     * whatever the backend's ECDH would say. */
    st = drot_p256_pub_import(pkR->q, sizeof pkR->q, &pkR_valid);
    if (st != DROT_OK)
        goto out;
    st = drot_hpke_derive_keypair(ikmE, ikmE_len, &skE, &pkE);
    if (st != DROT_OK)
        goto out;
    st = drot_ecdh_p256(&skE, pkR_valid.q, sizeof pkR_valid.q, dh);
    if (st != DROT_OK)
        goto out;
    memcpy(enc, pkE.q, DROT_HPKE_ENC_LEN);
    st = extract_and_expand(dh, enc, pkR_valid.q, shared_secret);
out:
    drot_wipe(&skE, sizeof skE);
    drot_wipe(dh, sizeof dh);
    if (st != DROT_OK) {
        drot_wipe(enc, DROT_HPKE_ENC_LEN);
        drot_wipe(shared_secret, DROT_HPKE_SHARED_SECRET_LEN);
    }
    return st;
}

/* Decap(enc, skR). pkRm = pk(skR) is recomputed rather than taken from the
 * caller, so a mismatched (skR, pkR) pair cannot enter kem_context. */
static drot_status decap(const uint8_t *enc, size_t enc_len, const drot_p256_priv *skR,
                         uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN])
{
    drot_p256_priv skR_copy;
    drot_p256_pub pkR;
    drot_p256_pub pkE;
    uint8_t dh[DROT_P256_SHARED_LEN];
    drot_status st;

    memset(&skR_copy, 0, sizeof skR_copy);
    memset(dh, 0, sizeof dh);
    /* §7.1.4: the recipient MUST validate pkE. pub_import accepts only a
     * 65-byte uncompressed point on the curve: wrong lengths, compressed
     * encodings and the infinity encoding all fail here with BADKEY. */
    st = drot_p256_pub_import(enc, enc_len, &pkE);
    if (st != DROT_OK)
        goto out;
    st = drot_p256_key_from_scalar(skR->d, &skR_copy, &pkR);
    if (st != DROT_OK)
        goto out;
    st = drot_ecdh_p256(&skR_copy, pkE.q, sizeof pkE.q, dh);
    if (st != DROT_OK)
        goto out;
    st = extract_and_expand(dh, pkE.q, pkR.q, shared_secret);
out:
    drot_wipe(&skR_copy, sizeof skR_copy);
    drot_wipe(dh, sizeof dh);
    if (st != DROT_OK)
        drot_wipe(shared_secret, DROT_HPKE_SHARED_SECRET_LEN);
    return st;
}

/* ---- key schedule (§5.1), base mode -------------------------------------------- */

static drot_status key_schedule(drot_hpke_ctx *ctx, uint32_t role,
                                const uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN], const uint8_t *info,
                                size_t info_len)
{
    static const uint8_t mode = DROT_HPKE_MODE_BASE;
    uint8_t psk_id_hash[DROT_SHA256_LEN];
    uint8_t info_hash[DROT_SHA256_LEN];
    uint8_t secret[DROT_SHA256_LEN];
    const drot_cbuf ksc[3] = {{&mode, 1}, {psk_id_hash, sizeof psk_id_hash}, {info_hash, sizeof info_hash}};
    drot_status st;

    memset(secret, 0, sizeof secret);
    /* Base mode: psk = psk_id = default "" (VerifyPSKInputs holds trivially). */
    st =
        labeled_extract(k_hpke_suite, sizeof k_hpke_suite, NULL, 0, LBL("psk_id_hash"), NULL, 0, psk_id_hash);
    if (st != DROT_OK)
        goto out;
    st = labeled_extract(k_hpke_suite, sizeof k_hpke_suite, NULL, 0, LBL("info_hash"), info, info_len,
                         info_hash);
    if (st != DROT_OK)
        goto out;
    st = labeled_extract(k_hpke_suite, sizeof k_hpke_suite, shared_secret, DROT_HPKE_SHARED_SECRET_LEN,
                         LBL("secret"), NULL, 0, secret);
    if (st != DROT_OK)
        goto out;
    st = labeled_expand(k_hpke_suite, sizeof k_hpke_suite, secret, LBL("key"), ksc, 3, ctx->key,
                        sizeof ctx->key);
    if (st != DROT_OK)
        goto out;
    st = labeled_expand(k_hpke_suite, sizeof k_hpke_suite, secret, LBL("base_nonce"), ksc, 3, ctx->base_nonce,
                        sizeof ctx->base_nonce);
    if (st != DROT_OK)
        goto out;
    st = labeled_expand(k_hpke_suite, sizeof k_hpke_suite, secret, LBL("exp"), ksc, 3, ctx->exporter_secret,
                        sizeof ctx->exporter_secret);
    if (st != DROT_OK)
        goto out;
    ctx->seq = 0;
    ctx->role = role; /* last: invariant 4 */
out:
    drot_wipe(secret, sizeof secret);
    drot_wipe(info_hash, sizeof info_hash);
    drot_wipe(psk_id_hash, sizeof psk_id_hash);
    if (st != DROT_OK)
        drot_wipe(ctx, sizeof *ctx);
    return st;
}

/* ---- setup (§5.1.1) ------------------------------------------------------------ */

/* Argument checks shared by both roles; ctx is already known non-NULL. */
static drot_status check_info(const uint8_t *info, size_t info_len)
{
    if (info == NULL && info_len != 0)
        return DROT_E_ARG;
    if (info_len > DROT_HPKE_MAX_INFO)
        return DROT_E_TOO_LARGE;
    return DROT_OK;
}

/* The one sender setup: drot_hpke_setup_base_s (ikmE from the rng) and the
 * test-only drot_hpke_setup_base_s_derand (ikmE given) both end here. */
static drot_status setup_s_derand(drot_hpke_ctx *ctx, uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                  const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                  const uint8_t *ikmE, size_t ikmE_len)
{
    uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN];
    drot_status st;

    memset(shared_secret, 0, sizeof shared_secret);
    if (ctx == NULL)
        return DROT_E_ARG;
    drot_wipe(ctx, sizeof *ctx);
    if (enc_out == NULL || pkR == NULL || ikmE == NULL) {
        st = DROT_E_ARG;
        goto out;
    }
    st = check_info(info, info_len);
    if (st != DROT_OK)
        goto out;
    st = encap_derand(pkR, ikmE, ikmE_len, enc_out, shared_secret);
    if (st != DROT_OK)
        goto out;
    st = key_schedule(ctx, DROT_HPKE_ROLE_SENDER, shared_secret, info, info_len);
out:
    drot_wipe(shared_secret, sizeof shared_secret);
    if (st != DROT_OK) {
        drot_wipe(ctx, sizeof *ctx);
        if (enc_out != NULL)
            drot_wipe(enc_out, DROT_HPKE_ENC_LEN);
    }
    return st;
}

/* see drot/hpke.h */
drot_status drot_hpke_setup_base_s(drot_hpke_ctx *ctx, uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                   const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                   const drot_rng *rng)
{
    /* Nsk bytes of ikmE: GenerateKeyPair() = DeriveKeyPair(random(Nsk)) (§4). */
    uint8_t ikmE[DROT_HPKE_PRIV_LEN];
    drot_status st;

    memset(ikmE, 0, sizeof ikmE);
    if (ctx == NULL)
        return DROT_E_ARG;
    drot_wipe(ctx, sizeof *ctx);
    if (enc_out == NULL || pkR == NULL) {
        st = DROT_E_ARG;
        goto out;
    }
    /* Check everything we can before drawing from the rng: a refused call
     * should not consume randomness (firmware DRBGs count requests). */
    st = check_info(info, info_len);
    if (st != DROT_OK)
        goto out;
    st = drot_rng_fill(rng, ikmE, sizeof ikmE);
    if (st != DROT_OK) {
        st = DROT_E_RNG;
        goto out;
    }
    st = setup_s_derand(ctx, enc_out, pkR, info, info_len, ikmE, sizeof ikmE);
out:
    drot_wipe(ikmE, sizeof ikmE);
    if (st != DROT_OK) {
        drot_wipe(ctx, sizeof *ctx);
        if (enc_out != NULL)
            drot_wipe(enc_out, DROT_HPKE_ENC_LEN);
    }
    return st;
}

/* see drot/hpke_test.h */
drot_status drot_hpke_setup_base_s_derand(drot_hpke_ctx *ctx, uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                          const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                          const uint8_t *ikmE, size_t ikmE_len)
{
    return setup_s_derand(ctx, enc_out, pkR, info, info_len, ikmE, ikmE_len);
}

/* see drot/hpke.h */
drot_status drot_hpke_setup_base_r(drot_hpke_ctx *ctx, const uint8_t *enc, size_t enc_len,
                                   const drot_p256_priv *skR, const uint8_t *info, size_t info_len)
{
    uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN];
    drot_status st;

    memset(shared_secret, 0, sizeof shared_secret);
    if (ctx == NULL)
        return DROT_E_ARG;
    drot_wipe(ctx, sizeof *ctx);
    if (enc == NULL || skR == NULL) {
        st = DROT_E_ARG;
        goto out;
    }
    st = check_info(info, info_len);
    if (st != DROT_OK)
        goto out;
    st = decap(enc, enc_len, skR, shared_secret);
    if (st != DROT_OK)
        goto out;
    st = key_schedule(ctx, DROT_HPKE_ROLE_RECIPIENT, shared_secret, info, info_len);
out:
    drot_wipe(shared_secret, sizeof shared_secret);
    if (st != DROT_OK)
        drot_wipe(ctx, sizeof *ctx);
    return st;
}

/* ---- test hooks (drot/hpke_test.h) ---------------------------------------------- */

/* These reveal the KEM shared secret, so they exist only in a build of this
 * file made for test_hpke (tests/cmake/hpke.cmake defines the macro); the
 * libdrot_common.a that programs and firmware link does not contain them,
 * and tests/check_static.sh fails if it ever does. */
#ifdef DROT_HPKE_TEST_HOOKS

/* see drot/hpke_test.h */
drot_status drot_hpke_test_encap_derand(const drot_p256_pub *pkR, const uint8_t *ikmE, size_t ikmE_len,
                                        uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                        uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN])
{
    if (pkR == NULL || ikmE == NULL || enc_out == NULL || shared_secret == NULL)
        return DROT_E_ARG;
    return encap_derand(pkR, ikmE, ikmE_len, enc_out, shared_secret);
}

/* see drot/hpke_test.h */
drot_status drot_hpke_test_decap(const uint8_t *enc, size_t enc_len, const drot_p256_priv *skR,
                                 uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN])
{
    if (enc == NULL || skR == NULL || shared_secret == NULL)
        return DROT_E_ARG;
    return decap(enc, enc_len, skR, shared_secret);
}
#endif /* DROT_HPKE_TEST_HOOKS */

/* ---- messages (§5.2) ------------------------------------------------------------ */

/* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn). seq is 64 bits, so only
 * the last 8 bytes change (the RFC's left zero padding). */
static void compute_nonce(const drot_hpke_ctx *ctx, uint8_t nonce[DROT_HPKE_NONCE_LEN])
{
    memcpy(nonce, ctx->base_nonce, DROT_HPKE_NONCE_LEN);
    for (unsigned i = 0; i < 8; i++)
        nonce[DROT_HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

/* see drot/hpke.h */
drot_status drot_hpke_seal(drot_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                           size_t pt_len, uint8_t *ct, size_t ct_cap, size_t *ct_len)
{
    uint8_t nonce[DROT_HPKE_NONCE_LEN];
    size_t need;
    drot_status st;

    memset(nonce, 0, sizeof nonce);
    if (ct_len == NULL)
        return DROT_E_ARG;
    *ct_len = 0;
    if (ctx == NULL || ct == NULL || (aad == NULL && aad_len != 0) || (pt == NULL && pt_len != 0)) {
        st = DROT_E_ARG;
        goto out;
    }
    if (ctx->role != DROT_HPKE_ROLE_SENDER) {
        st = DROT_E_STATE;
        goto out;
    }
    if (aad_len > DROT_HPKE_MAX_AAD || pt_len > SIZE_MAX - DROT_HPKE_TAG_LEN) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    need = pt_len + DROT_HPKE_TAG_LEN;
    if (ct_cap < need) {
        *ct_len = need;
        st = DROT_E_BUFFER;
        goto out;
    }
    /* IncrementSeq would fail after this message: refuse before producing
     * it, so no ciphertext exists that the receiver could never open. */
    if (ctx->seq == UINT64_MAX) {
        st = DROT_E_STATE;
        goto out;
    }
    compute_nonce(ctx, nonce);
    st = drot_aes_gcm_seal(ctx->key, sizeof ctx->key, nonce, aad_len != 0 ? aad : k_empty, aad_len,
                           pt_len != 0 ? pt : k_empty, pt_len, ct, ct + pt_len);
    if (st != DROT_OK) {
        drot_wipe(ct, need);
        goto out;
    }
    ctx->seq++;
    *ct_len = need;
out:
    drot_wipe(nonce, sizeof nonce);
    return st;
}

/* see drot/hpke.h */
drot_status drot_hpke_open(drot_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                           size_t ct_len, uint8_t *pt, size_t pt_cap, size_t *pt_len)
{
    uint8_t nonce[DROT_HPKE_NONCE_LEN];
    uint8_t scratch[1] = {0}; /* output for an empty plaintext when pt is NULL */
    size_t n = 0;
    drot_status st;

    memset(nonce, 0, sizeof nonce);
    if (pt_len == NULL)
        return DROT_E_ARG;
    *pt_len = 0;
    if (ctx == NULL || ct == NULL || (aad == NULL && aad_len != 0)) {
        st = DROT_E_ARG;
        goto out;
    }
    if (ctx->role != DROT_HPKE_ROLE_RECIPIENT) {
        st = DROT_E_STATE;
        goto out;
    }
    if (aad_len > DROT_HPKE_MAX_AAD) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    if (ct_len < DROT_HPKE_TAG_LEN) {
        st = DROT_E_TRUNCATED;
        goto out;
    }
    n = ct_len - DROT_HPKE_TAG_LEN;
    if (pt == NULL && n != 0) {
        st = DROT_E_ARG;
        goto out;
    }
    if (pt_cap < n) {
        *pt_len = n;
        st = DROT_E_BUFFER;
        goto out;
    }
    if (ctx->seq == UINT64_MAX) {
        st = DROT_E_STATE;
        goto out;
    }
    compute_nonce(ctx, nonce);
    st = drot_aes_gcm_open(ctx->key, sizeof ctx->key, nonce, aad_len != 0 ? aad : k_empty, aad_len, ct, n,
                           ct + n, pt != NULL ? pt : scratch);
    if (st != DROT_OK) {
        /* The port already zeroes on a bad tag; doing it here too keeps the
         * "no unauthenticated plaintext" promise whatever the backend did
         * on other errors. */
        if (pt != NULL)
            drot_wipe(pt, n);
        goto out;
    }
    ctx->seq++;
    *pt_len = n;
out:
    drot_wipe(nonce, sizeof nonce);
    drot_wipe(scratch, sizeof scratch);
    return st;
}

/* ---- export (§5.3) -------------------------------------------------------------- */

/* see drot/hpke.h */
drot_status drot_hpke_export(const drot_hpke_ctx *ctx, const uint8_t *exporter_context, size_t exp_ctx_len,
                             uint8_t *out, size_t out_len)
{
    drot_status st;
    const drot_cbuf info = {exporter_context, exp_ctx_len};

    if (ctx == NULL || out == NULL || out_len == 0 || (exporter_context == NULL && exp_ctx_len != 0)) {
        st = DROT_E_ARG;
        goto out;
    }
    if (ctx->role != DROT_HPKE_ROLE_SENDER && ctx->role != DROT_HPKE_ROLE_RECIPIENT) {
        st = DROT_E_STATE;
        goto out;
    }
    if (exp_ctx_len > DROT_HPKE_MAX_EXPORTER_CONTEXT || out_len > DROT_HPKE_MAX_EXPORT_LEN) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    st = labeled_expand(k_hpke_suite, sizeof k_hpke_suite, ctx->exporter_secret, LBL("sec"), &info, 1, out,
                        out_len);
out:
    /* Only a length we accept is trusted as the size of out. */
    if (st != DROT_OK && out != NULL && out_len <= DROT_HPKE_MAX_EXPORT_LEN)
        drot_wipe(out, out_len);
    return st;
}

/* see drot/hpke.h */
void drot_hpke_ctx_wipe(drot_hpke_ctx *ctx)
{
    if (ctx != NULL)
        drot_wipe(ctx, sizeof *ctx);
}

/* ---- single shot (§6.1) ------------------------------------------------------------ */

/* see drot/hpke.h */
drot_status drot_hpke_seal_base(const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                                const drot_rng *rng, uint8_t enc_out[DROT_HPKE_ENC_LEN], uint8_t *ct,
                                size_t ct_cap, size_t *ct_len)
{
    drot_hpke_ctx ctx;
    drot_status st;

    memset(&ctx, 0, sizeof ctx);
    if (ct_len == NULL)
        return DROT_E_ARG;
    *ct_len = 0;
    /* The checks drot_hpke_seal would make, made before the setup so that a
     * call bound to fail draws no randomness and costs no scalar mult. */
    if (ct == NULL || enc_out == NULL || (aad == NULL && aad_len != 0) || (pt == NULL && pt_len != 0)) {
        st = DROT_E_ARG;
        goto out;
    }
    if (aad_len > DROT_HPKE_MAX_AAD || pt_len > SIZE_MAX - DROT_HPKE_TAG_LEN) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    if (ct_cap < pt_len + DROT_HPKE_TAG_LEN) {
        *ct_len = pt_len + DROT_HPKE_TAG_LEN;
        st = DROT_E_BUFFER;
        goto out;
    }
    st = drot_hpke_setup_base_s(&ctx, enc_out, pkR, info, info_len, rng);
    if (st != DROT_OK)
        goto out;
    st = drot_hpke_seal(&ctx, aad, aad_len, pt, pt_len, ct, ct_cap, ct_len);
out:
    drot_hpke_ctx_wipe(&ctx);
    if (st != DROT_OK && enc_out != NULL)
        drot_wipe(enc_out, DROT_HPKE_ENC_LEN);
    return st;
}

/* see drot/hpke.h */
drot_status drot_hpke_open_base(const uint8_t *enc, size_t enc_len, const drot_p256_priv *skR,
                                const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                                const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_cap, size_t *pt_len)
{
    drot_hpke_ctx ctx;
    drot_status st;

    memset(&ctx, 0, sizeof ctx);
    if (pt_len == NULL)
        return DROT_E_ARG;
    *pt_len = 0;
    /* The checks drot_hpke_open would make, made before the ECDH. */
    if (ct == NULL || (aad == NULL && aad_len != 0)) {
        st = DROT_E_ARG;
        goto out;
    }
    if (aad_len > DROT_HPKE_MAX_AAD) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    if (ct_len < DROT_HPKE_TAG_LEN) {
        st = DROT_E_TRUNCATED;
        goto out;
    }
    if (pt == NULL && ct_len != DROT_HPKE_TAG_LEN) {
        st = DROT_E_ARG;
        goto out;
    }
    if (pt_cap < ct_len - DROT_HPKE_TAG_LEN) {
        *pt_len = ct_len - DROT_HPKE_TAG_LEN;
        st = DROT_E_BUFFER;
        goto out;
    }
    st = drot_hpke_setup_base_r(&ctx, enc, enc_len, skR, info, info_len);
    if (st != DROT_OK)
        goto out;
    st = drot_hpke_open(&ctx, aad, aad_len, ct, ct_len, pt, pt_cap, pt_len);
out:
    drot_hpke_ctx_wipe(&ctx);
    return st;
}
