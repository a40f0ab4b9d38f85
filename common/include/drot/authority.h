/*
 * drot/authority.h — objects signed by the fleet owner's authority key.
 *
 * Everything an authority key signs for a device (firmware manifests now;
 * DRoT instructions, anchor updates and revocation lists later) travels in
 * one envelope, a COSE_Sign1 with ES256 (drot/cose.h):
 *
 *   18([ protected:   << {1: -7, 3: content type} >>,
 *        unprotected: {4: kid = signer's P-256 public key, 65 bytes 0x04||X||Y},
 *        payload:     the object (its format depends on the content type),
 *        signature ])
 *
 * A device holds no authority public key, only the SHA-256 of each trusted
 * one, in up to DROT_AUTHORITY_MAX_SLOTS OTP "anchor" slots, each with a
 * revoke bit (DESIGN.md §3). So the kid carries the whole key: the device
 * hashes it, finds the anchor, and verifies with it. docs/authority.md is
 * the authority for the format; this header for the C contract.
 *
 * Content types. The protected content type (label 3) says which kind of
 * object the payload is. The numbers below are drot's private-use numbers,
 * in the sense of a CoAP Content-Format (the uint form RFC 9052 §3.1 allows
 * for label 3): they name drot object kinds between drot's own signers and
 * drot's own devices, and mean nothing to anyone else. They are NOT
 * registered with IANA, and 0x4401..0x4404 (17409..17412) lie in the
 * registry's First Come First Served range (10000..64999), not its
 * Experimental range (65000..65535; RFC 7252 §12.3). That is harmless here:
 * a verifier only compares the number for equality with the kind it
 * expects, so what matters is that drot's kinds differ from each other.
 * Because the content type sits in the protected bucket, the signature
 * covers it: a signed manifest cannot be replayed as a root rotation
 * instruction, even if its payload bytes happened to parse as one.
 * A verifier MUST state which kind it expects (want_content_type).
 */
#ifndef DROT_AUTHORITY_H
#define DROT_AUTHORITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/cose.h"
#include "drot/status.h"
#include "drot_crypto.h"

/* Object kinds (protected content type). drot private-use numbers. */
#define DROT_AUTH_CT_MANIFEST      0x4401u /* firmware manifest (drot/manifest.h) */
#define DROT_AUTH_CT_ROTATE_ROOT   0x4402u /* DRoT device-root-key rotation instruction (§7.1) */
#define DROT_AUTH_CT_ROTATE_ANCHOR 0x4403u /* trust-anchor rotation instruction (§7.2) */
#define DROT_AUTH_CT_REVOCATION    0x4404u /* revocation list */
/* DRoT messages (drot/rotate.h, docs/drot.md). Not all are authority-signed,
 * but all share this envelope, so their kinds share this numbering: a
 * message of one kind is never accepted as another. */
#define DROT_AUTH_CT_ROTATE_RECEIPT  0x4405u /* rotation receipt, signed by KeyA */
#define DROT_AUTH_CT_ROTATE_PROPOSAL 0x4406u /* device-generated proposal, signed by the old DRK */
#define DROT_AUTH_CT_ROTATE_KEYA_POP 0x4407u /* the proposal's inner message, signed by KeyA */
#define DROT_AUTH_CT_ROTATE_ENDORSE  0x4408u /* the authority's endorsement of a proposal */
#define DROT_AUTH_CT_ANCHOR_CONSENT  0x4409u /* a new anchor key's cross-signature */

/* OTP anchor slots on a device; verify refuses more (DROT_E_ARG). */
#define DROT_AUTHORITY_MAX_SLOTS 4u

/* Bytes drot_authority_sign needs at most for a payload of p bytes. */
#define DROT_AUTHORITY_SIZE_BOUND(p) DROT_COSE_SIGN1_SIZE_BOUND((p), DROT_P256_PUB_LEN)

/* One OTP anchor slot as the device reads it. A slot counts only when
 * present; revoked is meaningful only then (a revoke bit on a blank slot
 * trusts and revokes nothing). */
typedef struct {
    uint8_t hash[DROT_SHA256_LEN]; /* SHA-256 of the 65-byte uncompressed authority public key */
    bool present;                  /* the slot has been burned */
    bool revoked;                  /* its revoke bit has been burned */
} drot_anchor_slot;

/*
 * Signs payload[0..len) as an authority object of kind content_type and
 * writes the tagged COSE_Sign1 into out[0..cap); *out_len = bytes written.
 * kid = pub (65 bytes). pub MUST be priv's public key: it is recomputed
 * from priv and compared, so the function never produces an object that its
 * own verifier would refuse for a kid/key mismatch (DROT_E_ARG otherwise).
 * payload may be NULL iff len == 0 and MUST NOT overlap out.
 *
 * DROT_E_BUFFER: cap too small, *out_len = bytes needed (out may be NULL
 * with cap 0 to measure; DROT_AUTHORITY_SIZE_BOUND is a static bound).
 * DROT_E_TOO_LARGE: the message would exceed DROT_COSE_SIGN1_MAX_MSG.
 * DROT_E_BADKEY: priv is not a valid scalar. Crypto errors pass through.
 */
drot_status drot_authority_sign(const drot_p256_priv *priv, const drot_p256_pub *pub, uint64_t content_type,
                                const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
                                size_t *out_len);

/*
 * Checks that msg[0..len) is an authority object of kind want_content_type
 * signed by a trusted, non-revoked anchor among slots[0..n_slots).
 * n_slots ≤ DROT_AUTHORITY_MAX_SLOTS; slots may be NULL iff n_slots == 0.
 * view MUST NOT be NULL; slot_index may be NULL.
 *
 * Steps and statuses, in this order:
 *   DROT_E_ARG         bad arguments;
 *   (any)              drot_cose_sign1_decode's status for a malformed message;
 *   DROT_E_UNSUPPORTED no content type, or one other than want_content_type;
 *   DROT_E_MALFORMED   no kid, or a kid that is not a valid P-256 public key
 *                      (65 bytes, uncompressed, on the curve): the envelope
 *                      names no usable signer;
 *   anchor match: SHA-256(kid) is compared with the hash of EVERY present
 *   slot in constant time (no early exit; which slots matched is combined
 *   with masks, not branches), then:
 *   DROT_E_VERIFY      the hash is in no present slot (unknown signer);
 *   DROT_E_BADKEY      the hash is only in revoked slots: "the signer's
 *                      anchor is revoked". drot_status has no code of its
 *                      own for it; within this function DROT_E_BADKEY means
 *                      exactly this and nothing else (a kid that is not a
 *                      point is DROT_E_MALFORMED above, and a BADKEY from the
 *                      signature check is reported as DROT_E_VERIFY);
 *   DROT_E_VERIFY      the signature does not verify under the kid.
 * If the same hash is in a revoked slot and in a good one, the good one wins
 * (the lowest such index).
 *
 * On DROT_OK, *view is the decoded message and *slot_index the anchor slot
 * that vouched for it. The payload (view->payload) is authentic only after
 * DROT_OK, and only as an object of kind want_content_type. On any failure
 * *view is zeroed and *slot_index is not written.
 */
drot_status drot_authority_verify(const uint8_t *msg, size_t len, uint64_t want_content_type,
                                  const drot_anchor_slot *slots, size_t n_slots, drot_cose_sign1_view *view,
                                  size_t *slot_index);

#endif /* DROT_AUTHORITY_H */
