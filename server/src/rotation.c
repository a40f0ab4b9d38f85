/*
 * rotation.c — see rotation.h.
 */
#include "rotation.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drot/cose.h"
#include "drot_sysrng.h"

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The digest a receipt names (drot/rotate.h: the tbs, never the bytes). */
static int tbs_of(const uint8_t *msg, size_t len, uint8_t tbs[DROT_SHA256_LEN], char *err, size_t cap)
{
    drot_cose_sign1_view v;
    drot_status st = drot_cose_sign1_decode(msg, len, &v);
    if (st == DROT_OK)
        st = drot_cose_sign1_tbs_digest(&v, NULL, 0, tbs);
    if (st != DROT_OK)
        return fail(err, cap, "cannot digest the signed message: %s", drot_status_str(st));
    return 0;
}

/* Signs payload as an authority object of kind ct into out->msg. */
static int authority_sign(ds_keystore *ks, const char *authority, uint64_t ct, const uint8_t *payload,
                          size_t plen, ds_rot_issued *out, char *err, size_t cap)
{
    ds_keys_status ks_st =
        ds_keys_authority_sign(ks, authority, ct, payload, plen, out->msg, sizeof out->msg, &out->msg_len);
    if (ks_st != DS_KEYS_OK)
        return fail(err, cap, "authority key '%s' cannot sign: %s%s%s", authority, ds_keys_status_str(ks_st),
                    ds_keystore_error(ks)[0] ? ": " : "", ds_keystore_error(ks));
    return tbs_of(out->msg, out->msg_len, out->tbs, err, cap);
}

/* see rotation.h */
int ds_rot_server_instruction(ds_keystore *ks, const char *authority, const uint8_t device_id[16],
                              uint64_t epoch, const uint8_t drk_pub[DROT_P256_PUB_LEN],
                              const uint8_t nonce[DROT_ROTATE_NONCE_LEN], ds_rot_issued *out, char *err,
                              size_t cap)
{
    drot_p256_priv keya;
    drot_p256_pub keya_pub, drk;
    drot_rotate_root r;
    uint8_t payload[DROT_ROTATE_MAX_MSG];
    size_t plen = 0;
    int rc = -1;

    if (ks == NULL || authority == NULL || device_id == NULL || drk_pub == NULL || nonce == NULL ||
        out == NULL)
        return fail(err, cap, "internal: missing argument");
    memset(out, 0, sizeof *out);
    if (epoch == UINT64_MAX)
        return fail(err, cap, "epoch %llu cannot be raised", (unsigned long long)epoch);
    drot_status st = drot_p256_pub_import(drk_pub, DROT_P256_PUB_LEN, &drk);
    if (st != DROT_OK)
        return fail(err, cap, "the device's registered DRK is not a P-256 point: %s", drot_status_str(st));
    drot_rng rng = drot_sysrng();
    st = drot_p256_keygen(&rng, &keya, &keya_pub);
    if (st != DROT_OK) {
        fail(err, cap, "cannot generate KeyA: %s", drot_status_str(st));
        goto out;
    }
    st = drot_rotate_root_seal(&drk, &keya, device_id, epoch, nonce, &rng, &r);
    drot_wipe(&keya, sizeof keya); /* KeyA's private key ends here */
    if (st != DROT_OK) {
        fail(err, cap, "cannot seal KeyA to the device's DRK: %s", drot_status_str(st));
        goto out;
    }
    st = drot_rotate_root_encode(&r, payload, sizeof payload, &plen);
    if (st != DROT_OK) {
        fail(err, cap, "cannot encode the instruction: %s", drot_status_str(st));
        goto out;
    }
    if (authority_sign(ks, authority, DROT_AUTH_CT_ROTATE_ROOT, payload, plen, out, err, cap) != 0)
        goto out;
    memcpy(out->new_pub, keya_pub.q, DROT_P256_PUB_LEN);
    memcpy(out->nonce, nonce, DROT_ROTATE_NONCE_LEN);
    out->new_epoch = epoch + 1;
    rc = 0;
out:
    drot_wipe(&keya, sizeof keya);
    drot_wipe(&r, sizeof r);
    drot_wipe(payload, sizeof payload);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* see rotation.h */
int ds_rot_endorse(ds_keystore *ks, const char *authority, const uint8_t device_id[16], uint64_t epoch,
                   const uint8_t drk_pub[DROT_P256_PUB_LEN], const uint8_t *proposal, size_t len,
                   ds_rot_issued *out, char *err, size_t cap)
{
    drot_p256_pub drk;
    drot_rotate_proposal p;
    uint8_t payload[DROT_ROTATE_MAX_MSG];
    size_t plen = 0;

    if (ks == NULL || authority == NULL || device_id == NULL || drk_pub == NULL || proposal == NULL ||
        out == NULL)
        return fail(err, cap, "internal: missing argument");
    memset(out, 0, sizeof *out);
    if (len == 0 || len > DROT_ROTATE_MAX_MSG)
        return fail(err, cap, "proposal is %zu bytes (1..%u allowed)", len, DROT_ROTATE_MAX_MSG);
    drot_status st = drot_p256_pub_import(drk_pub, DROT_P256_PUB_LEN, &drk);
    if (st != DROT_OK)
        return fail(err, cap, "the device's registered DRK is not a P-256 point: %s", drot_status_str(st));
    st = drot_rotate_proposal_verify(proposal, len, &drk, &p);
    if (st != DROT_OK)
        return fail(err, cap,
                    "proposal refused: %s (it must be signed by the device's current DRK and by KeyA)",
                    drot_status_str(st));
    if (memcmp(p.device_id, device_id, 16) != 0)
        return fail(err, cap, "proposal refused: it names another device");
    if (p.epoch != epoch || p.new_epoch != epoch + 1)
        return fail(err, cap,
                    "proposal refused: epoch %llu -> %llu, the registry has the device at epoch %llu",
                    (unsigned long long)p.epoch, (unsigned long long)p.new_epoch, (unsigned long long)epoch);
    if (drot_ct_equal(p.keya.q, drk_pub, DROT_P256_PUB_LEN) == DROT_OK)
        return fail(err, cap, "proposal refused: KeyA is the current DRK");
    st = drot_rotate_proposal_encode(&p, payload, sizeof payload, &plen);
    if (st != DROT_OK)
        return fail(err, cap, "cannot encode the endorsement: %s", drot_status_str(st));
    if (authority_sign(ks, authority, DROT_AUTH_CT_ROTATE_ENDORSE, payload, plen, out, err, cap) != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    memcpy(out->new_pub, p.keya.q, DROT_P256_PUB_LEN);
    memcpy(out->nonce, p.nonce, DROT_ROTATE_NONCE_LEN);
    out->new_epoch = p.new_epoch;
    return 0;
}

/* see rotation.h */
int ds_rot_check_receipt(const uint8_t *receipt, size_t len, const uint8_t device_id[16], uint64_t new_epoch,
                         const uint8_t new_pub[DROT_P256_PUB_LEN], const uint8_t nonce[DROT_ROTATE_NONCE_LEN],
                         const uint8_t tbs[DROT_SHA256_LEN], char *err, size_t cap)
{
    drot_p256_pub keya;
    drot_rotate_receipt r;

    if (receipt == NULL || device_id == NULL || new_pub == NULL || nonce == NULL || tbs == NULL)
        return fail(err, cap, "internal: missing argument");
    if (len == 0 || len > DROT_ROTATE_MAX_MSG)
        return fail(err, cap, "receipt is %zu bytes (1..%u allowed)", len, DROT_ROTATE_MAX_MSG);
    drot_status st = drot_p256_pub_import(new_pub, DROT_P256_PUB_LEN, &keya);
    if (st != DROT_OK)
        return fail(err, cap, "the recorded KeyA is not a P-256 point: %s", drot_status_str(st));
    st = drot_rotate_receipt_verify(receipt, len, &keya, &r);
    if (st != DROT_OK)
        return fail(err, cap, "receipt refused: %s (it must be signed by the new key KeyA)",
                    drot_status_str(st));
    if (memcmp(r.device_id, device_id, 16) != 0)
        return fail(err, cap, "receipt refused: it names another device");
    if (r.new_epoch != new_epoch)
        return fail(err, cap, "receipt refused: new epoch %llu, expected %llu",
                    (unsigned long long)r.new_epoch, (unsigned long long)new_epoch);
    if (memcmp(r.nonce, nonce, DROT_ROTATE_NONCE_LEN) != 0)
        return fail(err, cap, "receipt refused: it names another rotation nonce");
    if (memcmp(r.instruction, tbs, DROT_SHA256_LEN) != 0)
        return fail(err, cap, "receipt refused: it names another instruction");
    return 0;
}

/* see rotation.h */
int ds_rot_anchor_instruction(ds_keystore *ks, const char *signer, const char *new_key, uint32_t op,
                              uint32_t slot, const uint8_t device_id[16],
                              const uint8_t nonce[DROT_ROTATE_NONCE_LEN], ds_rot_issued *out, char *err,
                              size_t cap)
{
    drot_anchor_instr a;
    drot_p256_pub pub;
    uint8_t raw[DROT_P256_PUB_LEN], consent_payload[256], consent[DROT_ROTATE_MAX_MSG / 2],
        payload[DROT_ROTATE_MAX_MSG];
    size_t plen = 0, clen = 0, cplen = 0;
    ds_keys_status kst;

    if (ks == NULL || signer == NULL || device_id == NULL || nonce == NULL || out == NULL ||
        (op == DROT_ANCHOR_OP_ADD && new_key == NULL))
        return fail(err, cap, "internal: missing argument");
    memset(out, 0, sizeof *out);
    if (op != DROT_ANCHOR_OP_ADD && op != DROT_ANCHOR_OP_REVOKE && op != DROT_ANCHOR_OP_CONFIRM)
        return fail(err, cap, "internal: anchor op %u", op);
    if (op == DROT_ANCHOR_OP_REVOKE && slot > 3)
        return fail(err, cap, "anchor slot %u does not exist (0..3)", slot);
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, device_id, sizeof a.device_id);
    memcpy(a.nonce, nonce, sizeof a.nonce);
    a.op = op;
    a.slot = op == DROT_ANCHOR_OP_REVOKE ? slot : 0;
    if (op == DROT_ANCHOR_OP_ADD) {
        if ((kst = ds_keys_p256_public(ks, new_key, &pub, raw)) != DS_KEYS_OK)
            return fail(err, cap, "new authority key '%s': %s", new_key, ds_keys_status_str(kst));
        drot_status st = drot_anchor_consent_encode(device_id, nonce, &pub, consent_payload,
                                                    sizeof consent_payload, &cplen);
        if (st != DROT_OK)
            return fail(err, cap, "cannot encode the consent: %s", drot_status_str(st));
        kst = ds_keys_authority_sign(ks, new_key, DROT_AUTH_CT_ANCHOR_CONSENT, consent_payload, cplen,
                                     consent, sizeof consent, &clen);
        if (kst != DS_KEYS_OK)
            return fail(err, cap, "new authority key '%s' cannot sign its consent: %s", new_key,
                        ds_keys_status_str(kst));
        a.new_key = pub;
        a.consent = consent;
        a.consent_len = clen;
    }
    drot_status st = drot_anchor_instr_encode(&a, payload, sizeof payload, &plen);
    if (st != DROT_OK)
        return fail(err, cap, "cannot encode the anchor instruction: %s", drot_status_str(st));
    if (authority_sign(ks, signer, DROT_AUTH_CT_ROTATE_ANCHOR, payload, plen, out, err, cap) != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    if (op == DROT_ANCHOR_OP_ADD)
        memcpy(out->new_pub, raw, sizeof raw);
    else if (ds_keys_p256_public(ks, signer, &pub, out->new_pub) != DS_KEYS_OK)
        return fail(err, cap, "authority key '%s' has no public key", signer);
    memcpy(out->nonce, nonce, DROT_ROTATE_NONCE_LEN);
    return 0;
}

/* see rotation.h */
int ds_rot_authority_name(ds_keystore *ks, const uint8_t pub[DROT_P256_PUB_LEN], char *name)
{
    ds_key_info keys[32];
    size_t n = 0;
    if (ks == NULL || pub == NULL || name == NULL || ds_keys_list(ks, keys, 32, &n) != DS_KEYS_OK)
        return -1;
    for (size_t i = 0; i < n && i < 32; i++) {
        drot_p256_pub p;
        uint8_t raw[DROT_P256_PUB_LEN];
        if (keys[i].role == DS_ROLE_AUTHORITY &&
            ds_keys_p256_public(ks, keys[i].name, &p, raw) == DS_KEYS_OK &&
            memcmp(raw, pub, sizeof raw) == 0) {
            memcpy(name, keys[i].name, DS_KEY_NAME_MAX);
            name[DS_KEY_NAME_MAX - 1] = '\0';
            return 0;
        }
    }
    return -1;
}
