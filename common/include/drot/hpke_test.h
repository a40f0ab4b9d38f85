/*
 * drot/hpke_test.h — TEST-ONLY entry points of the HPKE code (common/src/hpke.c).
 *
 * Production code MUST NOT include this header, with one exception: the
 * known-answer self-test (common/src/selftest.c), which seals the RFC's
 * fixed message to the RFC's public key and never uses the result. Every
 * other caller MUST use
 * drot_hpke_setup_base_s / drot_hpke_seal_base, which draw the ephemeral
 * input keying material ikmE from a drot_rng. Reusing an ikmE reuses the
 * ephemeral key, and then every message sealed with it to the same pkR and
 * info shares key and nonces: confidentiality and integrity are gone.
 *
 * These functions exist because a known-answer test of the sender side
 * (RFC 9180 Appendix A: ikmE → enc, shared_secret, key, base_nonce, …) needs
 * to inject ikmE. drot_hpke_setup_base_s draws ikmE from its rng and then
 * calls the very same internal function as drot_hpke_setup_base_s_derand, so
 * what the vectors check is the production path minus the one rng draw.
 *
 * Contracts follow drot/hpke.h (NULL rules, limits, wiping on failure).
 */
#ifndef DROT_HPKE_TEST_H
#define DROT_HPKE_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "drot/hpke.h"

/* SetupBaseS with the ephemeral key pair DeriveKeyPair(ikmE) (RFC 9180 §7.1.3).
 * ikmE_len in [DROT_HPKE_MIN_IKM, DROT_HPKE_MAX_IKM]. Otherwise exactly
 * drot_hpke_setup_base_s. TEST ONLY. */
drot_status drot_hpke_setup_base_s_derand(drot_hpke_ctx *ctx, uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                          const drot_p256_pub *pkR, const uint8_t *info, size_t info_len,
                                          const uint8_t *ikmE, size_t ikmE_len);

#ifdef DROT_HPKE_TEST_HOOKS
/* Only in test_hpke's own build of hpke.c (never in libdrot_common.a). */

/* Encap(pkR) of DHKEM(P-256, HKDF-SHA256) with the ephemeral key derived
 * from ikmE: writes enc and the KEM shared_secret, which the HPKE API
 * otherwise never reveals. TEST ONLY (checks Appendix A's shared_secret). */
drot_status drot_hpke_test_encap_derand(const drot_p256_pub *pkR, const uint8_t *ikmE, size_t ikmE_len,
                                        uint8_t enc_out[DROT_HPKE_ENC_LEN],
                                        uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN]);

/* Decap(enc, skR): the KEM shared_secret as the recipient computes it.
 * TEST ONLY. */
drot_status drot_hpke_test_decap(const uint8_t *enc, size_t enc_len, const drot_p256_priv *skR,
                                 uint8_t shared_secret[DROT_HPKE_SHARED_SECRET_LEN]);
#endif /* DROT_HPKE_TEST_HOOKS */

#endif /* DROT_HPKE_TEST_H */
