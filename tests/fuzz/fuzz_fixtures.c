/*
 * fuzz_fixtures.c — fixed keys and deterministic seed messages shared by the
 * fuzz targets and drot-fuzz-seeds (see fuzz_fixtures.h).
 */
#include "fuzz_fixtures.h"

#include <stdlib.h>
#include <string.h>

#include "drot/cbor.h"

static void must(drot_status st)
{
    if (st != DROT_OK)
        abort(); /* a fixture that cannot be built is a broken test */
}

/* A recognisable, index-dependent byte pattern. */
static void pattern(uint8_t *out, size_t n, uint8_t seed)
{
    for (size_t k = 0; k < n; k++)
        out[k] = (uint8_t)(seed + 7u * k + (k >> 3));
}

/* ---- keys ------------------------------------------------------------------ */

static void key_from(uint8_t first, drot_p256_priv *priv, drot_p256_pub *pub)
{
    uint8_t d[DROT_P256_SCALAR_LEN];
    for (size_t k = 0; k < sizeof d; k++)
        d[k] = (uint8_t)(first + k); /* far below n: always a valid scalar */
    must(drot_p256_key_from_scalar(d, priv, pub));
    drot_wipe(d, sizeof d);
}

void fz_cose_key(drot_p256_priv *priv, drot_p256_pub *pub)
{
    key_from(0x10, priv, pub);
}
void fz_hpke_seed_key(drot_p256_priv *priv, drot_p256_pub *pub)
{
    key_from(0x40, priv, pub);
}
void fz_hpke_target_key(drot_p256_priv *priv, drot_p256_pub *pub)
{
    key_from(0x70, priv, pub);
}

/* ---- EAT payloads ---------------------------------------------------------- */

static const char *const k_mtype[] = {"BL", "PRoT", "ARoT", "APM", "HOST-BL", "HOST-OS", "App", "RoT-FW"};
static const char *const k_version[] = {"1.0.0", "2.3.1",   "0.9.12-rc1", "1.0-\xc3\x9f",
                                        "7",     "2026.01", "3.1",        "10.0.0"};
static const int64_t k_client[] = {1, -1, 2147483647, -2147483647 - 1, 42, -7, 1000, 3};
static const uint32_t k_lifecycle[] = {0x3000, 0x3001, 0x2000, 0x5000, 0x00ff, 0x1000, 0x4000, 0x6000};
static const size_t k_hash_len[] = {32, 48, 64};

size_t fz_eat_payload(unsigned i, uint8_t *out, size_t cap)
{
    /* The claims point into this pool; it only needs to live until encode returns. */
    static uint8_t pool[2048];
    size_t used = 0;
    drot_eat_claims c;
    size_t len = 0;

#define TAKE(n) (pattern(pool + used, (n), (uint8_t)(i * 31u + used)), used += (n), pool + used - (n))
    memset(&c, 0, sizeof c);
    c.profile = (i & 1u) ? DROT_EAT_PROFILE_DROT : DROT_EAT_PROFILE_PSA;
    c.nonce.len = k_hash_len[i % 3u];
    c.nonce.p = TAKE(c.nonce.len);
    c.instance_id.len = DROT_EAT_INSTANCE_ID_LEN;
    c.instance_id.p = TAKE(DROT_EAT_INSTANCE_ID_LEN);
    pool[used - DROT_EAT_INSTANCE_ID_LEN] = 0x01; /* UEID type RAND */
    c.implementation_id.len = DROT_EAT_IMPLEMENTATION_ID_LEN;
    c.implementation_id.p = TAKE(DROT_EAT_IMPLEMENTATION_ID_LEN);
    c.client_id = k_client[i % 8u];
    c.security_lifecycle = k_lifecycle[(i / 2u) % 8u];
    if (i % 3u != 1u) {
        c.boot_seed.len = DROT_EAT_BOOT_SEED_MIN + (i % 4u) * 8u;
        c.boot_seed.p = TAKE(c.boot_seed.len);
    }
    if (i % 4u != 2u) {
        c.certification_reference.p = "1234567890123-12345";
        c.certification_reference.len = DROT_EAT_CERT_REF_LEN;
    }
    if (i % 5u != 3u) {
        c.verification_service.p = "https://veraison.example/v1/challenge-response";
        c.verification_service.len = strlen(c.verification_service.p);
    }
    c.num_components = 1u + (i / 2u) % DROT_EAT_MAX_COMPONENTS; /* 1..8 in each profile */
    for (size_t k = 0; k < c.num_components; k++) {
        drot_eat_sw_component *sc = &c.components[k];
        sc->measurement_value.len = k_hash_len[(i + k) % 3u];
        sc->measurement_value.p = TAKE(sc->measurement_value.len);
        sc->signer_id.len = k_hash_len[(i + 2u * k) % 3u];
        sc->signer_id.p = TAKE(sc->signer_id.len);
        if ((i + k) % 4u != 3u) {
            sc->measurement_type.p = k_mtype[k % 8u];
            sc->measurement_type.len = strlen(sc->measurement_type.p);
        }
        if ((i + k) % 3u != 2u) {
            sc->version.p = k_version[(i + k) % 8u];
            sc->version.len = strlen(sc->version.p);
        }
        if ((i + k) % 2u == 0u) {
            sc->measurement_desc.p = sc->measurement_value.len == 32   ? "sha-256"
                                     : sc->measurement_value.len == 48 ? "sha-384"
                                                                       : "sha-512";
            sc->measurement_desc.len = strlen(sc->measurement_desc.p);
        }
    }
    if (c.profile == DROT_EAT_PROFILE_DROT) {
        c.drot.device_id.len = DROT_EAT_DEVICE_ID_LEN;
        c.drot.device_id.p = TAKE(DROT_EAT_DEVICE_ID_LEN);
        c.drot.epoch = i < 8u ? i : (uint64_t)1 << (8u * (i - 8u));
        /* Every component, or every other one, carries an SVN, ascending by index. */
        for (size_t k = 0; k < c.num_components; k += 1u + (i / 2u) % 2u) {
            c.drot.svns[c.drot.num_svns].component = (uint32_t)k;
            c.drot.svns[c.drot.num_svns].svn = (uint64_t)(i * 100u + k);
            c.drot.num_svns++;
        }
        c.drot.tamper_state = i % 3u == 0u ? 0u : 0x5u;
        c.drot.tamper_count = i % 3u == 0u ? 0u : i;
    }
#undef TAKE
    must(drot_eat_encode(&c, out, cap, &len));
    return len;
}

/* ---- COSE_Sign1 ------------------------------------------------------------ */

static const uint8_t k_kid_short[] = {'1', '1'};
static const uint8_t k_kid_long[] = "drot-apm-0001/attestation-key";

size_t fz_cose_seed_payload(unsigned i, uint8_t *out, size_t cap)
{
    static const char content[] = "This is the content.";
    if (i < 6u)
        return fz_eat_payload(i * 3u % FZ_EAT_SEEDS, out, cap);
    if (i == 6u) {
        if (cap < sizeof content - 1u)
            abort();
        memcpy(out, content, sizeof content - 1u);
        return sizeof content - 1u;
    }
    return 0; /* an empty payload */
}

drot_cose_sign1_params fz_cose_seed_params(unsigned i)
{
    drot_cose_sign1_params p;
    memset(&p, 0, sizeof p);
    if (i % 2u == 1u) {
        p.kid = i % 4u == 1u ? k_kid_short : k_kid_long;
        p.kid_len = i % 4u == 1u ? sizeof k_kid_short : sizeof k_kid_long - 1u;
    }
    if (i % 3u == 0u) {
        p.has_content_type = true;
        /* 61 application/cwt; 263 a two-byte value; one 8-byte head. */
        p.content_type = i == 0u ? 61u : i == 3u ? 263u : UINT64_C(0x100000000);
    }
    return p;
}

size_t fz_cose_seed_protected(unsigned i, uint8_t *out, size_t cap)
{
    drot_cose_sign1_params p = fz_cose_seed_params(i);
    drot_cbor_writer w;
    size_t len;

    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, p.has_content_type ? 2 : 1);
    drot_cbor_put_int(&w, DROT_COSE_HDR_ALG);
    drot_cbor_put_int(&w, DROT_COSE_ALG_ES256);
    if (p.has_content_type) {
        drot_cbor_put_int(&w, DROT_COSE_HDR_CONTENT_TYPE);
        drot_cbor_put_uint(&w, p.content_type);
    }
    must(drot_cbor_writer_finish(&w, &len));
    return len;
}

size_t fz_cose_seed_sign(unsigned i, uint8_t *out, size_t cap)
{
    uint8_t payload[DROT_EAT_MAX_PAYLOAD];
    drot_p256_priv priv;
    drot_p256_pub pub;
    drot_cose_sign1_params p = fz_cose_seed_params(i);
    size_t plen = fz_cose_seed_payload(i, payload, sizeof payload);
    size_t len = 0;

    fz_cose_key(&priv, &pub);
    must(drot_cose_sign1_sign(&priv, &p, payload, plen, out, cap, &len));
    drot_wipe(&priv, sizeof priv);
    return len;
}

/* ---- HPKE -------------------------------------------------------------------- */

/* DESIGN 7.1 binds the sealed root key to the device and the new epoch. */
const uint8_t fz_hpke_info[] = "drot root-key rotation: device 00112233445566778899aabbccddeeff epoch 7";
const size_t fz_hpke_info_len = sizeof fz_hpke_info - 1u;
const uint8_t fz_hpke_aad[] = "drot-fuzz-aad";
const size_t fz_hpke_aad_len = sizeof fz_hpke_aad - 1u;

size_t fz_hpke_seed_plaintext(unsigned i, uint8_t *out, size_t cap)
{
    static const size_t lens[FZ_HPKE_SEEDS] = {32, 0, 1, 33, 100, FZ_HPKE_MAX_PT};
    size_t n = lens[i % FZ_HPKE_SEEDS];
    if (n > cap)
        abort();
    pattern(out, n, (uint8_t)(0xA0u + i));
    return n;
}

size_t fz_hpke_seed(unsigned i, uint8_t *out, size_t cap)
{
    static const uint8_t pers[] = "drot-fuzz-hpke-seed";
    uint8_t entropy[32], nonce[16], pt[FZ_HPKE_MAX_PT];
    drot_p256_priv priv;
    drot_p256_pub pub;
    drot_drbg_ctx drbg;
    drot_rng rng;
    size_t pt_len, ct_len = 0;

    if (cap < DROT_HPKE_ENC_LEN + DROT_HPKE_CT_LEN(FZ_HPKE_MAX_PT))
        abort();
    pattern(entropy, sizeof entropy, (uint8_t)(0x30u + i));
    pattern(nonce, sizeof nonce, (uint8_t)(0x90u + i));
    fz_hpke_seed_key(&priv, &pub);
    drot_wipe(&priv, sizeof priv);
    pt_len = fz_hpke_seed_plaintext(i, pt, sizeof pt);
    must(drot_drbg_init(&drbg, entropy, sizeof entropy, nonce, sizeof nonce, pers, sizeof pers - 1u));
    rng = drot_drbg_rng(&drbg);
    must(drot_hpke_seal_base(&pub, fz_hpke_info, fz_hpke_info_len, fz_hpke_aad, fz_hpke_aad_len,
                             pt_len != 0 ? pt : NULL, pt_len, &rng, out, out + DROT_HPKE_ENC_LEN,
                             cap - DROT_HPKE_ENC_LEN, &ct_len));
    drot_drbg_release(&drbg);
    return DROT_HPKE_ENC_LEN + ct_len;
}

static void fixed_key(uint8_t fill, drot_p256_priv *priv, drot_p256_pub *pub)
{
    uint8_t d[DROT_P256_SCALAR_LEN];
    memset(d, fill, sizeof d);
    d[0] = 0x4d;
    if (drot_p256_key_from_scalar(d, priv, pub) != DROT_OK)
        abort();
}

/* see fuzz_fixtures.h */
void fz_rotate_keys(drot_p256_priv *auth, drot_p256_pub *auth_pub, drot_p256_priv *drk,
                    drot_p256_pub *drk_pub, drot_p256_priv *keya, drot_p256_pub *keya_pub)
{
    fixed_key(0xA1, auth, auth_pub);
    fixed_key(0xD2, drk, drk_pub);
    fixed_key(0x6B, keya, keya_pub);
}
