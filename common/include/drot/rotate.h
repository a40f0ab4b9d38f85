/*
 * drot/rotate.h — the DRoT messages: device-root-key rotation (DESIGN.md
 * §7.1, both modes) and trust-anchor rotation (§7.2). docs/drot.md is the
 * authority for the protocol; this header for the C contract.
 *
 * Every message is a tagged COSE_Sign1 with ES256 in the authority envelope
 * (drot/authority.h: protected {1: -7, 3: content type}, kid = the signer's
 * 65-byte public key), whose payload is one closed CBOR map with uint keys:
 *
 *   ROTATE_ROOT (0x4402, signed by an anchor)         server-generated mode
 *     {1: device_id bstr16, 2: epoch uint, 3: new_epoch uint (= epoch + 1),
 *      4: keya bstr65, 5: enc bstr65, 6: ct bstr48, 7: nonce bstr32}
 *     ct = HPKE base-mode seal (drot/hpke.h) to the current DRK of KeyA's
 *     32-byte private scalar, info = drot_rotate_hpke_info(device_id,
 *     new_epoch), aad = keya (the 65 public-key bytes).
 *   ROTATE_RECEIPT (0x4405, signed by KeyA)
 *     {1: device_id bstr16, 2: new_epoch uint, 3: nonce bstr32,
 *      4: instruction bstr32 = drot_cose_sign1_tbs_digest of the instruction
 *         (or endorsement) the device acted on}
 *   ROTATE_PROPOSAL (0x4406, signed by the old DRK)   device-generated mode
 *     payload = a KEYA_POP message (0x4407, signed by KeyA, kid = KeyA)
 *     whose payload is {1: device_id, 2: epoch, 3: new_epoch, 4: keya, 5: nonce}
 *   ROTATE_ENDORSE (0x4408, signed by an anchor)
 *     {1: device_id, 2: epoch, 3: new_epoch, 4: keya, 5: nonce} (as above)
 *   ROTATE_ANCHOR (0x4403, signed by an anchor)
 *     {1: device_id bstr16, 2: nonce bstr32, 3: op uint,
 *      4: ADD: new key bstr65 | REVOKE: slot uint 0..3 | CONFIRM: absent,
 *      5: ADD only: consent bstr = an ANCHOR_CONSENT message (0x4409,
 *         signed by the new key, kid = the new key) whose payload is
 *         {1: device_id bstr16, 2: nonce bstr32, 3: new key bstr65}}
 *
 * Why the receipt names the tbs digest and not a hash of the instruction
 * bytes: drot/cose.h — a relay can change a COSE message's bytes (tag,
 * non-shortest heads, the unprotected kid) without breaking its signature,
 * so only what was signed names a message.
 *
 * Decoders are strict: the key set is closed, every field of the message
 * (of the op, for ROTATE_ANCHOR) is required, sizes are exact, public keys
 * must be valid P-256 points, and nothing may follow the map. Statuses:
 *   DROT_E_MALFORMED      not CBOR, or the top level is not a map
 *   DROT_E_TRUNCATED      the input ends inside an item
 *   DROT_E_TRAILING       bytes after the map
 *   DROT_E_UNSUPPORTED    indefinite lengths
 *   DROT_E_UNKNOWN_CLAIM  a key outside the set (a non-uint key included;
 *                         for ROTATE_ANCHOR, a field the op does not have)
 *   DROT_E_DUPLICATE      a key twice
 *   DROT_E_CLAIM_INVALID  a value of the wrong type, size or range (an op
 *                         other than 1..3, new_epoch != epoch + 1, a public
 *                         key that is not a point)
 *   DROT_E_CLAIM_MISSING  a required key absent
 *   DROT_E_TOO_LARGE      a message over DROT_ROTATE_MAX_MSG
 * On failure the output struct is zeroed.
 *
 * The *_verify functions check the envelope first (drot_authority_verify's
 * statuses for anchor-signed kinds: DROT_E_VERIFY unknown signer or bad
 * signature, DROT_E_BADKEY the signer's anchor is revoked), then decode.
 * What the device does with a verified message (its device id, epoch,
 * nonce) is the firmware's decision (fw/src/rotate.h), not the codec's.
 *
 * Storage: no allocation, no OS header; fixed arrays in the structs (the
 * ROTATE_ANCHOR consent is a pointer into the payload). Stack: a few hundred
 * bytes per call (proposal signing holds the inner message on the stack).
 */
#ifndef DROT_ROTATE_H
#define DROT_ROTATE_H

#include <stddef.h>
#include <stdint.h>

#include "drot/authority.h"
#include "drot/cose.h"
#include "drot/status.h"
#include "drot_crypto.h"

#define DROT_ROTATE_DEVICE_ID_LEN 16u
#define DROT_ROTATE_NONCE_LEN     32u
#define DROT_ROTATE_CT_LEN        (DROT_P256_SCALAR_LEN + 16u) /* sealed scalar + AES-GCM tag */
/* Largest signed DRoT message any function here produces or accepts. */
#define DROT_ROTATE_MAX_MSG 1024u

/* HPKE info = "drot-rotate-root v1" ‖ device_id ‖ new_epoch (uint64 BE). */
#define DROT_ROTATE_INFO_LABEL     "drot-rotate-root v1"
#define DROT_ROTATE_INFO_LABEL_LEN 19u
#define DROT_ROTATE_INFO_LEN       (DROT_ROTATE_INFO_LABEL_LEN + DROT_ROTATE_DEVICE_ID_LEN + 8u)

/* ROTATE_ANCHOR operations. */
#define DROT_ANCHOR_OP_ADD     1u /* burn a new anchor into a blank slot (cross-signed) */
#define DROT_ANCHOR_OP_REVOKE  2u /* burn a slot's revoke bit */
#define DROT_ANCHOR_OP_CONFIRM 3u /* record that the signer's anchor works on this device */

/* ---- server-generated mode ---------------------------------------------- */

typedef struct drot_rotate_root {
    uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN];
    uint64_t epoch;
    uint64_t new_epoch; /* epoch + 1, checked by encode and decode */
    drot_p256_pub keya; /* KeyA's public key (a valid point) */
    uint8_t enc[DROT_P256_PUB_LEN];
    uint8_t ct[DROT_ROTATE_CT_LEN];
    uint8_t nonce[DROT_ROTATE_NONCE_LEN];
} drot_rotate_root;

/* info[0..DROT_ROTATE_INFO_LEN) for device_id and new_epoch. */
void drot_rotate_hpke_info(const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN], uint64_t new_epoch,
                           uint8_t info[DROT_ROTATE_INFO_LEN]);

/* Server side: fills r (device_id, epoch, new_epoch = epoch + 1, keya =
 * pub(keya_priv), nonce) and seals keya_priv to drk_pub (enc, ct) with a
 * fresh HPKE ephemeral from rng. DROT_E_ARG for NULLs or epoch = UINT64_MAX;
 * HPKE and key errors pass through. */
drot_status drot_rotate_root_seal(const drot_p256_pub *drk_pub, const drot_p256_priv *keya_priv,
                                  const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN], uint64_t epoch,
                                  const uint8_t nonce[DROT_ROTATE_NONCE_LEN], const drot_rng *rng,
                                  drot_rotate_root *r);

drot_status drot_rotate_root_encode(const drot_rotate_root *r, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_rotate_root_decode(const uint8_t *p, size_t len, drot_rotate_root *r);
/* encode + drot_authority_sign(..., DROT_AUTH_CT_ROTATE_ROOT, ...). */
drot_status drot_rotate_root_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                  const drot_rotate_root *r, uint8_t *out, size_t cap, size_t *out_len);
/* drot_authority_verify(..., DROT_AUTH_CT_ROTATE_ROOT, ...) + decode. On
 * DROT_OK also *slot (may be NULL) and tbs[32] (may be NULL): the digest a
 * receipt names. On failure r is zeroed and *slot, tbs are not written. */
drot_status drot_rotate_root_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                    size_t n_slots, drot_rotate_root *r, size_t *slot,
                                    uint8_t tbs[DROT_SHA256_LEN]);

/* Device side: HPKE-opens r->ct with the DRK's private key (info from
 * r->device_id and r->new_epoch, aad = r->keya) and checks that the scalar's
 * public key is r->keya. DROT_E_VERIFY: the ciphertext does not open;
 * DROT_E_BADKEY: it opens to a scalar that is out of range or whose public
 * key is not r->keya. *keya_priv is written only on DROT_OK; every
 * intermediate is wiped. */
drot_status drot_rotate_root_open(const drot_rotate_root *r, const drot_p256_priv *drk_priv,
                                  drot_p256_priv *keya_priv);

/* ---- receipt -------------------------------------------------------------- */

typedef struct drot_rotate_receipt {
    uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN];
    uint64_t new_epoch;
    uint8_t nonce[DROT_ROTATE_NONCE_LEN];
    uint8_t instruction[DROT_SHA256_LEN]; /* tbs digest of the instruction or endorsement */
} drot_rotate_receipt;

drot_status drot_rotate_receipt_encode(const drot_rotate_receipt *r, uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_rotate_receipt_decode(const uint8_t *p, size_t len, drot_rotate_receipt *r);
/* Signed by KeyA (kid = keya_pub), content type DROT_AUTH_CT_ROTATE_RECEIPT. */
drot_status drot_rotate_receipt_sign(const drot_p256_priv *keya_priv, const drot_p256_pub *keya_pub,
                                     const drot_rotate_receipt *r, uint8_t *out, size_t cap, size_t *out_len);
/* Checks content type, kid == keya (DROT_E_VERIFY otherwise), the signature
 * under keya, then decodes. r is zeroed on failure. */
drot_status drot_rotate_receipt_verify(const uint8_t *msg, size_t len, const drot_p256_pub *keya,
                                       drot_rotate_receipt *r);

/* ---- device-generated mode ---------------------------------------------- */

/* The payload of KEYA_POP (inside a proposal) and of ROTATE_ENDORSE. */
typedef struct drot_rotate_proposal {
    uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN];
    uint64_t epoch;
    uint64_t new_epoch; /* epoch + 1 */
    drot_p256_pub keya;
    uint8_t nonce[DROT_ROTATE_NONCE_LEN];
} drot_rotate_proposal;

drot_status drot_rotate_proposal_encode(const drot_rotate_proposal *p, uint8_t *out, size_t cap,
                                        size_t *out_len);
drot_status drot_rotate_proposal_decode(const uint8_t *in, size_t len, drot_rotate_proposal *p);

/* Device: inner = Sign1 by KeyA (p->keya MUST be pub(keya_priv)) of kind
 * KEYA_POP over the map; outer = Sign1 by the old DRK of kind
 * ROTATE_PROPOSAL over the inner message. */
drot_status drot_rotate_proposal_sign(const drot_p256_priv *drk_priv, const drot_p256_pub *drk_pub,
                                      const drot_p256_priv *keya_priv, const drot_rotate_proposal *p,
                                      uint8_t *out, size_t cap, size_t *out_len);
/* Server: the outer signature under old_drk (kid, when present, MUST be
 * old_drk), the inner one under its kid, the map, and keya == the inner kid.
 * DROT_E_UNSUPPORTED wrong kinds; DROT_E_VERIFY a bad signature or kid. */
drot_status drot_rotate_proposal_verify(const uint8_t *msg, size_t len, const drot_p256_pub *old_drk,
                                        drot_rotate_proposal *p);

/* Authority: the endorsement of a proposal (the same map, kind ROTATE_ENDORSE). */
drot_status drot_rotate_endorse_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                     const drot_rotate_proposal *p, uint8_t *out, size_t cap,
                                     size_t *out_len);
drot_status drot_rotate_endorse_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                       size_t n_slots, drot_rotate_proposal *p, size_t *slot,
                                       uint8_t tbs[DROT_SHA256_LEN]);

/* ---- trust-anchor rotation ------------------------------------------------ */

typedef struct drot_anchor_instr {
    uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN];
    uint8_t nonce[DROT_ROTATE_NONCE_LEN];
    uint32_t op;            /* DROT_ANCHOR_OP_* */
    uint32_t slot;          /* REVOKE: the slot to revoke, 0..3 */
    drot_p256_pub new_key;  /* ADD: the key introduced */
    const uint8_t *consent; /* ADD: the new key's ANCHOR_CONSENT message (points into the payload) */
    size_t consent_len;
} drot_anchor_instr;

/* The new key's consent: Sign1 by new_priv (kid = new_pub), kind
 * ANCHOR_CONSENT, over {1: device_id, 2: nonce, 3: new_pub}. */
drot_status drot_anchor_consent_sign(const drot_p256_priv *new_priv, const drot_p256_pub *new_pub,
                                     const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN],
                                     const uint8_t nonce[DROT_ROTATE_NONCE_LEN], uint8_t *out, size_t cap,
                                     size_t *out_len);

/* The consent's payload alone, for a signer that signs through key custody
 * (the server: drot/authority.h envelope of kind ANCHOR_CONSENT, kid =
 * new_pub, over exactly these bytes). */
drot_status drot_anchor_consent_encode(const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN],
                                       const uint8_t nonce[DROT_ROTATE_NONCE_LEN],
                                       const drot_p256_pub *new_pub, uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_anchor_instr_encode(const drot_anchor_instr *a, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_anchor_instr_decode(const uint8_t *p, size_t len, drot_anchor_instr *a);
drot_status drot_anchor_instr_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                   const drot_anchor_instr *a, uint8_t *out, size_t cap, size_t *out_len);
/*
 * drot_authority_verify(..., DROT_AUTH_CT_ROTATE_ANCHOR, ...), decode, and
 * for ADD the cross-signature: the consent is a Sign1 of kind
 * ANCHOR_CONSENT (else DROT_E_UNSUPPORTED) whose kid is the new key and
 * whose signature verifies under it, and whose map names the same device,
 * nonce and key as the instruction (DROT_E_VERIFY for any of these). A
 * consent signed by any other key — the signing anchor's included — is
 * DROT_E_VERIFY. On DROT_OK *slot (may be NULL) is the signing anchor's slot.
 */
drot_status drot_anchor_instr_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                     size_t n_slots, drot_anchor_instr *a, size_t *slot);

#endif /* DROT_ROTATE_H */
