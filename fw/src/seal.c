/*
 * seal.c — sealing and unsealing (see seal.h, docs/apm-boot.md "Sealing").
 *
 * Both directions, in order:
 *
 *   1. arguments (APM_E_ARG: a caller's bug)
 *   2. refusals, as attest.c orders them, before the uds is read
 *   3. request bounds: label alphabet and length, data or blob length,
 *      output capacity (DROT_E_ARG, DROT_E_VERIFY, DROT_E_BUFFER)
 *   4. K = HKDF(salt = boot->signer_id, ikm = uds, "drot-apm seal v1");
 *      the uds is wiped as soon as K exists
 *   5. AES-256-GCM with aad = "DSB1" ‖ device_id ‖ label
 *   6. one exit: K, the uds and the aad are wiped; on a failed unseal the
 *      output is zeroed (drot_aes_gcm_open already zeroes what it wrote;
 *      the whole of out[0..cap) is zeroed again so nothing depends on it)
 *
 * Why the signer id and not the image digest: an update signed by the same
 * authority must keep the host's sealed storage readable (DESIGN.md §3).
 * Why the device id is in the aad although the uds already differs per
 * device: it binds a blob to the identity the device reports, at no cost,
 * and keeps a blob from opening on a device that was given a copy of
 * another's uds by a manufacturing mistake.
 *
 * Stack: the aad (84 bytes), K, the uds and the nonce; well under 1 KiB.
 */
#include "seal.h"

#include <stdbool.h>
#include <string.h>

static const uint8_t SEAL_MAGIC[4] = {'D', 'S', 'B', '1'};
static const char SEAL_INFO[] = "drot-apm seal v1";

#define SEAL_KEY_LEN 32u
#define SEAL_AAD_MAX (sizeof SEAL_MAGIC + 16u + APM_SEAL_MAX_LABEL)

_Static_assert(APM_SEAL_NONCE_LEN == DROT_AES_GCM_IV_LEN, "the blob's nonce is a GCM IV");
_Static_assert(APM_SEAL_TAG_LEN == DROT_AES_GCM_TAG_LEN, "the blob's tag is a GCM tag");
_Static_assert(sizeof(((apm_otp *)0)->device_id) == 16u, "the aad holds a 16-byte device id");

/* Step 2: the refusals of attest.c, in its order; APM_E_NO_KEY does not
 * apply (sealing does not use the DRK). */
static apm_status refusal(apm_core *core, const apm_boot_state *boot, apm_tamper_state *tamper)
{
    if (core->otp.lifecycle == APM_LC_MANUFACTURING)
        return APM_E_NOT_PROVISIONED;
    if (boot->verdict != APM_VERDICT_PASS)
        return APM_E_BOOT;
    if (core->otp.lifecycle == APM_LC_TAMPERED || core->otp.lifecycle == APM_LC_DECOMMISSIONED)
        return APM_E_LIFECYCLE;
    return apm_tamper_poll(core, tamper);
}

/* The label alphabet (docs/link.md): 1..64 bytes of A-Z a-z 0-9 . _ - */
static bool label_ok(const char *label, size_t n)
{
    if (label == NULL || n == 0 || n > APM_SEAL_MAX_LABEL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = label[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

/* Step 4. */
static apm_status derive_key(apm_core *core, const apm_boot_state *boot, uint8_t key[SEAL_KEY_LEN])
{
    uint8_t uds[32];
    apm_status st = apm_otp_read_uds(core->hal, uds);
    if (st == APM_OK)
        st = (apm_status)drot_hkdf_sha256(boot->signer_id, sizeof boot->signer_id, uds, sizeof uds,
                                          (const uint8_t *)SEAL_INFO, sizeof SEAL_INFO - 1u, key,
                                          SEAL_KEY_LEN);
    drot_wipe(uds, sizeof uds);
    return st;
}

/* Step 5's aad into aad[0..SEAL_AAD_MAX); returns its length. */
static size_t build_aad(const apm_core *core, const char *label, size_t label_len, uint8_t aad[SEAL_AAD_MAX])
{
    memcpy(aad, SEAL_MAGIC, sizeof SEAL_MAGIC);
    memcpy(aad + sizeof SEAL_MAGIC, core->otp.device_id, sizeof core->otp.device_id);
    memcpy(aad + sizeof SEAL_MAGIC + sizeof core->otp.device_id, label, label_len);
    return sizeof SEAL_MAGIC + sizeof core->otp.device_id + label_len;
}

/* see seal.h */
apm_status apm_seal_seal(apm_core *core, const apm_boot_state *boot, apm_tamper_state *tamper,
                         const char *label, size_t label_len, const uint8_t *data, size_t data_len,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t key[SEAL_KEY_LEN];
    uint8_t aad[SEAL_AAD_MAX];
    size_t aad_len = 0;
    apm_status st;

    if (out_len != NULL)
        *out_len = 0;
    if (core == NULL || core->hal == NULL || boot == NULL || tamper == NULL || out_len == NULL ||
        (out == NULL && cap != 0))
        return APM_E_ARG;
    st = refusal(core, boot, tamper);
    if (st != APM_OK)
        return st;
    if (!label_ok(label, label_len) || data_len > APM_SEAL_MAX_DATA || (data == NULL && data_len != 0))
        return (apm_status)DROT_E_ARG;
    if (cap < APM_SEAL_OVERHEAD + data_len) {
        *out_len = APM_SEAL_OVERHEAD + data_len;
        return (apm_status)DROT_E_BUFFER;
    }

    /* Nothing secret exists before this point, so the early returns above
     * need no cleanup. */
    st = derive_key(core, boot, key);
    if (st != APM_OK)
        goto out;
    memcpy(out, SEAL_MAGIC, sizeof SEAL_MAGIC);
    st = apm_core_random(core, out + sizeof SEAL_MAGIC, APM_SEAL_NONCE_LEN);
    if (st != APM_OK)
        goto out;
    aad_len = build_aad(core, label, label_len, aad);
    {
        uint8_t *ct = out + sizeof SEAL_MAGIC + APM_SEAL_NONCE_LEN;
        st = (apm_status)drot_aes_gcm_seal(key, sizeof key, out + sizeof SEAL_MAGIC, aad, aad_len, data,
                                           data_len, ct, ct + data_len);
    }
    if (st == APM_OK)
        *out_len = APM_SEAL_OVERHEAD + data_len;
out:
    if (st != APM_OK)
        drot_wipe(out, cap); /* no half-made blob, and no plaintext copied in place */
    drot_wipe(key, sizeof key);
    drot_wipe(aad, sizeof aad);
    return st;
}

/* see seal.h */
apm_status apm_seal_unseal(apm_core *core, const apm_boot_state *boot, apm_tamper_state *tamper,
                           const char *label, size_t label_len, const uint8_t *blob, size_t blob_len,
                           uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t key[SEAL_KEY_LEN];
    uint8_t aad[SEAL_AAD_MAX];
    size_t aad_len, data_len;
    apm_status st;

    if (out_len != NULL)
        *out_len = 0;
    if (core == NULL || core->hal == NULL || boot == NULL || tamper == NULL || out_len == NULL ||
        (out == NULL && cap != 0) || (blob == NULL && blob_len != 0))
        return APM_E_ARG;
    if (cap != 0)
        memset(out, 0, cap);
    st = refusal(core, boot, tamper);
    if (st != APM_OK)
        return st;
    if (!label_ok(label, label_len))
        return (apm_status)DROT_E_ARG;
    /* A blob of impossible length is as bad as a forged one: same status. */
    if (blob_len < APM_SEAL_OVERHEAD || blob_len > APM_SEAL_MAX_BLOB)
        return (apm_status)DROT_E_VERIFY;
    data_len = blob_len - APM_SEAL_OVERHEAD;
    if (cap < data_len) {
        *out_len = data_len;
        return (apm_status)DROT_E_BUFFER;
    }
    /* The magic is public and the caller sent it: comparing it first tells
     * an attacker nothing, and GCM would refuse the blob anyway because the
     * aad starts with the magic this code expects. */
    if (memcmp(blob, SEAL_MAGIC, sizeof SEAL_MAGIC) != 0)
        return (apm_status)DROT_E_VERIFY;

    st = derive_key(core, boot, key);
    if (st != APM_OK)
        goto out;
    aad_len = build_aad(core, label, label_len, aad);
    {
        const uint8_t *nonce = blob + sizeof SEAL_MAGIC;
        const uint8_t *ct = nonce + APM_SEAL_NONCE_LEN;
        st = (apm_status)drot_aes_gcm_open(key, sizeof key, nonce, aad, aad_len, ct, data_len, ct + data_len,
                                           out);
    }
    if (st != APM_OK)
        st = (apm_status)DROT_E_VERIFY; /* one status for every reason (seal.h) */
    else
        *out_len = data_len;
out:
    if (st != APM_OK && cap != 0)
        drot_wipe(out, cap);
    drot_wipe(key, sizeof key);
    drot_wipe(aad, sizeof aad);
    return st;
}
