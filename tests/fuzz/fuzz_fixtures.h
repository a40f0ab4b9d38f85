/*
 * fuzz_fixtures.h — what the fuzz targets and the seed generator share.
 *
 * The targets check properties that depend on the keys and on the messages
 * signed or sealed with them ("a signature that verifies is one the key
 * holder made"), so the seed generator (gen_seeds.c) and the targets build
 * those from the same functions here. Everything is deterministic: the same
 * calls give the same bytes on every run and with either crypto backend
 * (HPKE draws its ephemeral key from an HMAC_DRBG with fixed inputs).
 *
 * Keys (fixed scalars, never used outside tests):
 *
 *   fz_cose_key   signs the COSE seeds; fuzz_cose verifies with its public key.
 *   fz_hpke_seed_key   the recipient the HPKE seeds are sealed to.
 *   fz_hpke_target_key a different recipient: fuzz_hpke opens every input
 *                 with it and requires failure (no input, seed or mutant,
 *                 was ever sealed to it). fuzz_hpke also opens with
 *                 fz_hpke_seed_key and then requires success exactly for
 *                 the seeds.
 *
 * Seeds are test code: these functions abort() on any failure of the
 * library, since a seed that cannot be built is a broken test, not an input.
 */
#ifndef DROT_FUZZ_FIXTURES_H
#define DROT_FUZZ_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/hpke.h"
#include "drot_crypto.h"

/* Largest input the fuzz scripts feed (-max_len) and the replay reads. */
#define FZ_MAX_INPUT 16384u

/* ---- keys ------------------------------------------------------------------ */

void fz_cose_key(drot_p256_priv *priv, drot_p256_pub *pub);
void fz_hpke_seed_key(drot_p256_priv *priv, drot_p256_pub *pub);
void fz_hpke_target_key(drot_p256_priv *priv, drot_p256_pub *pub);
/* DRoT (fuzz_rotate.c and its seeds): the authority key (the one anchor),
 * the device's DRK, and the KeyA of the seeds. */
void fz_rotate_keys(drot_p256_priv *auth, drot_p256_pub *auth_pub, drot_p256_priv *drk,
                    drot_p256_pub *drk_pub, drot_p256_priv *keya, drot_p256_pub *keya_pub);

/* ---- EAT payloads ---------------------------------------------------------- */

/* Number of distinct EAT claims sets: both profiles, 1..8 components. */
#define FZ_EAT_SEEDS 16u

/* Encodes claims set i (< FZ_EAT_SEEDS) into out; returns its length. */
size_t fz_eat_payload(unsigned i, uint8_t *out, size_t cap);

/* ---- COSE_Sign1 ------------------------------------------------------------ */

/* Messages signed with fz_cose_key: FZ_COSE_SEEDS of them. Message i has
 * payload fz_cose_seed_payload(i) and the params fz_cose_seed_params(i). */
#define FZ_COSE_SEEDS 8u

/* The payload of message i into out (an EAT payload or a short text); returns its length. */
size_t fz_cose_seed_payload(unsigned i, uint8_t *out, size_t cap);
/* kid / content type of message i (no external aad: the target verifies without). */
drot_cose_sign1_params fz_cose_seed_params(unsigned i);
/* The encoded protected header that drot_cose_sign1_sign writes for message i. */
size_t fz_cose_seed_protected(unsigned i, uint8_t *out, size_t cap);
/* Signs message i (tagged, as sign always writes); returns its length. */
size_t fz_cose_seed_sign(unsigned i, uint8_t *out, size_t cap);

/* ---- HPKE -------------------------------------------------------------------- */

#define FZ_HPKE_SEEDS 6u

/* The info and aad every HPKE seed and the target use. */
extern const uint8_t fz_hpke_info[];
extern const size_t fz_hpke_info_len;
extern const uint8_t fz_hpke_aad[];
extern const size_t fz_hpke_aad_len;

/* Plaintext of seed i into out; returns its length (0..FZ_HPKE_MAX_PT). */
#define FZ_HPKE_MAX_PT 200u
size_t fz_hpke_seed_plaintext(unsigned i, uint8_t *out, size_t cap);
/* enc || ct of seed i, sealed to fz_hpke_seed_key; returns its length. */
size_t fz_hpke_seed(unsigned i, uint8_t *out, size_t cap);

#endif /* DROT_FUZZ_FIXTURES_H */
