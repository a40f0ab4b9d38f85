/*
 * drot-selfcheck — exercises the foundation end to end with the crypto
 * backend this binary was built with. It is what `make demo` runs until the
 * fleet demo exists.
 *
 *   1. the known-answer self-tests of every algorithm (drot/selftest.h);
 *   2. a device key from a DRBG seeded by the OS; an attestation token in
 *      each profile: claims → EAT payload → COSE_Sign1 → verify → decode,
 *      and the decoded claims compared with what was put in;
 *   3. the same token with one byte changed: refused;
 *   4. a new root key sealed to the device key with HPKE, as a DRoT
 *      rotation will do it (DESIGN.md 7.1), opened, and checked;
 *      the ciphertext with one bit flipped: refused.
 *
 * Output: one line per check ("PASS name  detail"), or --json. Exit status
 * 0 when every check passed, 1 when one failed, 2 on a usage error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/hpke.h"
#include "drot/selftest.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"

typedef struct report {
    bool json;
    json_t *checks; /* array, when json */
    unsigned passed, failed;
} report;

static void record(report *r, const char *name, const char *detail, drot_status st)
{
    if (st == DROT_OK)
        r->passed++;
    else
        r->failed++;
    if (r->json) {
        json_array_append_new(r->checks,
                              json_pack("{s:s, s:s, s:s, s:s}", "name", name, "detail", detail, "result",
                                        st == DROT_OK ? "pass" : "fail", "status", drot_status_str(st)));
        return;
    }
    if (st == DROT_OK)
        printf("PASS  %-22s %s\n", name, detail);
    else
        printf("FAIL  %-22s %s: %s\n", name, detail, drot_status_str(st));
}

static void on_selftest(void *ctx, const char *name, const char *reference, drot_status st)
{
    record(ctx, name, reference, st);
}

/* The device side of the demonstration: a key and the claims it attests. */
typedef struct device {
    drot_p256_priv drk;
    drot_p256_pub drk_pub;
    uint8_t device_id[DROT_EAT_DEVICE_ID_LEN];
    uint8_t instance_id[DROT_EAT_INSTANCE_ID_LEN];
    uint8_t impl_id[DROT_EAT_IMPLEMENTATION_ID_LEN];
    uint8_t boot_seed[32];
    uint8_t signer[DROT_SHA256_LEN];
    uint8_t measurements[3][DROT_SHA256_LEN];
} device;

static drot_status device_init(device *d, const drot_rng *rng)
{
    static const char *const images[3] = {"APM firmware 1.0", "host boot loader 1.0", "host OS 1.0"};
    drot_status st = drot_p256_keygen(rng, &d->drk, &d->drk_pub);
    if (st == DROT_OK)
        st = drot_rng_fill(rng, d->device_id, sizeof d->device_id);
    if (st == DROT_OK)
        st = drot_rng_fill(rng, d->boot_seed, sizeof d->boot_seed);
    /* instance id = 0x01 || SHA-256(DRK public key), DESIGN.md section 4 */
    d->instance_id[0] = 0x01;
    if (st == DROT_OK)
        st = drot_sha256(d->drk_pub.q, sizeof d->drk_pub.q, d->instance_id + 1);
    if (st == DROT_OK)
        st = drot_sha256("drot-apm sim implementation", 27, d->impl_id);
    if (st == DROT_OK)
        st = drot_sha256("demo authority key", 18, d->signer);
    for (int i = 0; i < 3 && st == DROT_OK; i++)
        st = drot_sha256(images[i], strlen(images[i]), d->measurements[i]);
    return st;
}

static void claims_for(const device *d, drot_eat_profile profile, const uint8_t nonce[32], drot_eat_claims *c)
{
    static const char *const types[3] = {"APM", "HOST-BL", "HOST-OS"};
    memset(c, 0, sizeof *c);
    c->profile = profile;
    c->nonce = (drot_eat_bytes){nonce, 32};
    c->instance_id = (drot_eat_bytes){d->instance_id, sizeof d->instance_id};
    c->implementation_id = (drot_eat_bytes){d->impl_id, sizeof d->impl_id};
    c->client_id = 1;
    c->security_lifecycle = DROT_EAT_LC_SECURED;
    c->boot_seed = (drot_eat_bytes){d->boot_seed, sizeof d->boot_seed};
    c->num_components = 3;
    for (int i = 0; i < 3; i++) {
        c->components[i].measurement_type = (drot_eat_text){types[i], strlen(types[i])};
        c->components[i].measurement_value = (drot_eat_bytes){d->measurements[i], DROT_SHA256_LEN};
        c->components[i].version = (drot_eat_text){"1.0.0", 5};
        c->components[i].signer_id = (drot_eat_bytes){d->signer, sizeof d->signer};
        c->components[i].measurement_desc = (drot_eat_text){"sha-256", 7};
    }
    if (profile == DROT_EAT_PROFILE_DROT) {
        c->drot.device_id = (drot_eat_bytes){d->device_id, sizeof d->device_id};
        c->drot.epoch = 1;
        c->drot.num_svns = 2;
        c->drot.svns[0] = (drot_eat_svn){0, 1};
        c->drot.svns[1] = (drot_eat_svn){1, 1};
    }
}

/* Token of one profile: encode, sign, verify, decode, compare; then the
 * same token with one byte changed must be refused. */
static void check_token(report *r, const device *d, const drot_rng *rng, drot_eat_profile profile)
{
    const char *pname = profile == DROT_EAT_PROFILE_PSA ? "psa" : "drot";
    uint8_t nonce[32], payload[DROT_EAT_MAX_PAYLOAD], token[DROT_EAT_MAX_PAYLOAD + 256];
    size_t payload_len = 0, token_len = 0;
    drot_eat_claims in, out;
    drot_cose_sign1_view view;
    char name[32], detail[128];

    drot_status st = drot_rng_fill(rng, nonce, sizeof nonce);
    claims_for(d, profile, nonce, &in);
    if (st == DROT_OK)
        st = drot_eat_encode(&in, payload, sizeof payload, &payload_len);
    drot_cose_sign1_params params = {.kid = d->instance_id, .kid_len = sizeof d->instance_id};
    if (st == DROT_OK)
        st = drot_cose_sign1_sign(&d->drk, &params, payload, payload_len, token, sizeof token, &token_len);
    if (st == DROT_OK)
        st = drot_cose_sign1_verify_msg(token, token_len, &d->drk_pub, NULL, 0, &view);
    if (st == DROT_OK)
        st = drot_eat_decode(view.payload, view.payload_len, &out);
    if (st == DROT_OK &&
        (out.profile != profile || out.nonce.len != 32 || drot_ct_equal(out.nonce.p, nonce, 32) != DROT_OK ||
         out.num_components != 3 || out.security_lifecycle != DROT_EAT_LC_SECURED))
        st = DROT_E_VERIFY;
    if (st == DROT_OK && profile == DROT_EAT_PROFILE_DROT &&
        (out.drot.epoch != 1 || drot_ct_equal(out.drot.device_id.p, d->device_id, 16) != DROT_OK))
        st = DROT_E_VERIFY;
    snprintf(name, sizeof name, "token-%s", pname);
    snprintf(detail, sizeof detail, "%zu-byte token (%zu-byte claims), signed, verified, decoded", token_len,
             payload_len);
    record(r, name, detail, st);
    if (st != DROT_OK)
        return;

    /* Change one byte in the middle of the signed payload. (Not the kid: it
     * sits in the unprotected bucket, which COSE does not sign; a verifier
     * uses it only to look up the key.) */
    size_t at = (size_t)(view.payload - token) + view.payload_len / 2;
    token[at] ^= 0x01;
    drot_status bad = drot_cose_sign1_verify_msg(token, token_len, &d->drk_pub, NULL, 0, &view);
    snprintf(name, sizeof name, "token-%s-tampered", pname);
    snprintf(detail, sizeof detail, "one byte changed at offset %zu: refused (%s)", at, drot_status_str(bad));
    record(r, name, detail, bad == DROT_E_VERIFY ? DROT_OK : DROT_E_VERIFY);
}

/* A rotation's key delivery: KeyA's private scalar sealed to the current
 * DRK with HPKE, info naming device and new epoch (DESIGN.md 7.1 step 4). */
static void check_key_delivery(report *r, const device *d, const drot_rng *rng)
{
    uint8_t info[48], enc[DROT_HPKE_ENC_LEN], ct[DROT_P256_SCALAR_LEN + DROT_AES_GCM_TAG_LEN];
    uint8_t opened[DROT_P256_SCALAR_LEN + 1];
    size_t ct_len = 0, pt_len = 0;
    drot_p256_priv key_a, key_a_back;
    drot_p256_pub key_a_pub, back_pub;

    memcpy(info, "drot rotate", 11);
    memcpy(info + 11, d->device_id, 16);
    memcpy(info + 27, "epoch 2", 7);
    drot_status st = drot_p256_keygen(rng, &key_a, &key_a_pub);
    if (st == DROT_OK)
        st = drot_hpke_seal_base(&d->drk_pub, info, 34, NULL, 0, key_a.d, sizeof key_a.d, rng, enc, ct,
                                 sizeof ct, &ct_len);
    if (st == DROT_OK)
        st = drot_hpke_open_base(enc, sizeof enc, &d->drk, info, 34, NULL, 0, ct, ct_len, opened,
                                 sizeof opened, &pt_len);
    if (st == DROT_OK && pt_len != DROT_P256_SCALAR_LEN)
        st = DROT_E_VERIFY;
    if (st == DROT_OK)
        st = drot_p256_key_from_scalar(opened, &key_a_back, &back_pub);
    if (st == DROT_OK)
        st = drot_ct_equal(back_pub.q, key_a_pub.q, sizeof back_pub.q);
    record(r, "hpke-key-delivery", "new root key sealed to the device key, opened, public keys match", st);

    if (st == DROT_OK) {
        ct[0] ^= 0x80;
        drot_status bad = drot_hpke_open_base(enc, sizeof enc, &d->drk, info, 34, NULL, 0, ct, ct_len, opened,
                                              sizeof opened, &pt_len);
        record(r, "hpke-tampered", "ciphertext with one bit flipped: refused",
               bad == DROT_E_VERIFY ? DROT_OK : DROT_E_VERIFY);
    }
    drot_wipe(&key_a, sizeof key_a);
    drot_wipe(&key_a_back, sizeof key_a_back);
    drot_wipe(opened, sizeof opened);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: drot-selfcheck [--json] [--help]\n"
               "\n"
               "Runs drot's foundation end to end with the crypto backend it was built with:\n"
               "known-answer self-tests of every algorithm, an attestation token in both\n"
               "profiles (EAT claims, COSE_Sign1 ES256, verify, decode), tampered tokens\n"
               "refused, and an HPKE key delivery as a root-key rotation performs it.\n"
               "\n"
               "  --json   one JSON object on stdout instead of lines\n"
               "  --help   this text\n"
               "\n"
               "Exit status: 0 all checks passed, 1 a check failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    report r = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            r.json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "drot-selfcheck: unknown argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (r.json)
        r.checks = json_array();
    else
        printf("drot-selfcheck: crypto backend %s\n", drot_crypto_backend());

    drot_selftest_run(on_selftest, &r);

    /* The device's DRBG, seeded from the OS as the APM seeds it from its TRNG. */
    drot_rng sys = drot_sysrng();
    uint8_t entropy[48], nonce[16];
    drot_drbg_ctx drbg;
    drot_status st = drot_rng_fill(&sys, entropy, sizeof entropy);
    if (st == DROT_OK)
        st = drot_rng_fill(&sys, nonce, sizeof nonce);
    if (st == DROT_OK)
        st = drot_drbg_init(&drbg, entropy, sizeof entropy, nonce, sizeof nonce,
                            (const uint8_t *)"drot-selfcheck", 14);
    drot_wipe(entropy, sizeof entropy);
    record(&r, "drbg-seed", "HMAC_DRBG seeded from getrandom(2)", st);

    if (st == DROT_OK) {
        drot_rng rng = drot_drbg_rng(&drbg);
        device d;
        st = device_init(&d, &rng);
        record(&r, "device-key", "P-256 device root key generated from the DRBG", st);
        if (st == DROT_OK) {
            check_token(&r, &d, &rng, DROT_EAT_PROFILE_PSA);
            check_token(&r, &d, &rng, DROT_EAT_PROFILE_DROT);
            check_key_delivery(&r, &d, &rng);
        }
        drot_wipe(&d, sizeof d);
        drot_drbg_release(&drbg);
    }

    if (r.json) {
        json_t *root =
            json_pack("{s:s, s:o, s:i, s:i, s:b}", "backend", drot_crypto_backend(), "checks", r.checks,
                      "passed", (int)r.passed, "failed", (int)r.failed, "ok", r.failed == 0);
        json_dumpf(root, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(root);
    } else {
        printf("%u passed, %u failed\n", r.passed, r.failed);
    }
    return r.failed == 0 ? 0 : 1;
}
