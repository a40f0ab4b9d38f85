/*
 * drot/cose.h — COSE_Sign1 (RFC 9052 §4.2, §4.4) with ES256, allocation-free.
 *
 * A drot attestation token is a COSE_Sign1 signed with ES256 (DESIGN.md §4).
 * This module writes such messages and checks them, strictly:
 *
 *   COSE_Sign1 = #6.18([ protected: bstr, unprotected: map, payload: bstr, signature: bstr ])
 *   Sig_structure = [ "Signature1", protected, external_aad, payload ]
 *   signature = ECDSA-P256(SHA-256(Sig_structure)), raw r || s (64 bytes)
 *
 * Signing always produces the tagged form with
 *   protected   = {1: -7} or {1: -7, 3: content type}   (in that key order)
 *   unprotected = {} or {4: kid}
 * which reproduces the COSE WG ES256 examples byte for byte with a
 * deterministic (RFC 6979) signer.
 *
 * Decoding accepts tagged (tag 18) and untagged messages and enforces these
 * header rules, in both buckets:
 *
 *   - labels are integers (fitting int64_t) or text strings; at most
 *     DROT_COSE_MAX_LABELS per bucket; a label appears at most once in a
 *     bucket and never in both buckets (DROT_E_DUPLICATE);
 *   - alg (1) is required, in either bucket, and MUST be the integer -7
 *     (ES256); any other value, a text value, or no alg: DROT_E_UNSUPPORTED;
 *   - crit (2) is refused (DROT_E_UNSUPPORTED): we implement no critical
 *     extension, so any message that lists one must not be accepted;
 *   - content type (3), if present, MUST be a uint (a text content type:
 *     DROT_E_UNSUPPORTED);
 *   - kid (4), if present, MUST be a bstr;
 *   - every other label is ignored (RFC 9052 §3: unknown non-critical
 *     headers are ignored); its value must still be well-formed CBOR no
 *     deeper than DROT_CBOR_MAX_DEPTH.
 *
 * The protected bucket is a bstr that is empty or holds exactly one CBOR map.
 * An encoded empty map (h'A0') is accepted and enters the Sig_structure as
 * h'', as the COSE WG test "sign-pass-01" requires; every other protected
 * encoding enters it byte for byte as received.
 *
 * Decode statuses, in the order they are checked:
 *   DROT_E_ARG         NULL arguments;
 *   DROT_E_TOO_LARGE   message longer than DROT_COSE_SIGN1_MAX_MSG;
 *   then the message structure:
 *   DROT_E_TRUNCATED   the message ends inside its structure;
 *   DROT_E_MALFORMED   wrong tag (anything but 18), not a 4-element array,
 *                      wrong item types;
 *   DROT_E_UNSUPPORTED detached (nil) payload, indefinite lengths;
 *   DROT_E_DEPTH       unprotected map nested deeper than DROT_CBOR_MAX_DEPTH;
 *   DROT_E_TRAILING    bytes after the message;
 *   then the headers, protected bucket first:
 *   DROT_E_MALFORMED   a protected bstr that is not exactly one map, a label
 *                      that is neither int nor tstr, kid not a bstr, alg or
 *                      content type of a non-int, non-tstr type;
 *   DROT_E_TOO_LARGE   more than DROT_COSE_MAX_LABELS labels in a bucket;
 *   DROT_E_UNSUPPORTED the alg, crit and content-type rules above; an
 *                      integer label outside int64_t;
 *   DROT_E_DUPLICATE   the label rules above;
 *   DROT_E_MALFORMED   last, a signature that is not 64 bytes (ES256).
 * Verification adds DROT_E_VERIFY (bad signature) and DROT_E_BADKEY.
 *
 * What the signature does not cover. A verified message is authentic in its
 * protected header, payload and external AAD, not in its bytes: the tag is
 * optional, non-shortest CBOR heads are accepted (RFC 8949 §5.1 asks
 * decoders to accept them; the Sig_structure is rebuilt with shortest heads),
 * h'' and h'A0' are the same protected header, and the unprotected bucket
 * (the kid among it) is not signed at all. Anyone who relays a message can
 * therefore change its bytes without breaking the signature. A receipt, a
 * replay cache or an evidence digest MUST be keyed on what is signed:
 * drot_cose_sign1_tbs_digest, never a hash of the message bytes. The kid is
 * a hint for finding the key, never an identity.
 *
 * Nothing here allocates; stack use is constant (a few hundred bytes).
 */
#ifndef DROT_COSE_H
#define DROT_COSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"
#include "drot_crypto.h"

/* COSE algorithm identifier of ECDSA P-256 with SHA-256 (RFC 9053 §2.1). */
#define DROT_COSE_ALG_ES256 (-7)
/* CBOR tag of COSE_Sign1 (RFC 9052 §2). */
#define DROT_COSE_SIGN1_TAG 18u
/* Header labels (RFC 9052 §3.1). */
#define DROT_COSE_HDR_ALG          1
#define DROT_COSE_HDR_CRIT         2
#define DROT_COSE_HDR_CONTENT_TYPE 3
#define DROT_COSE_HDR_KID          4

/* Largest message, in bytes, that decode accepts and sign produces. An
 * attestation token is well under 2 KiB; 16 KiB leaves room for growth and
 * bounds the work an unauthenticated sender can ask of the verifier. */
#define DROT_COSE_SIGN1_MAX_MSG (16u * 1024u)
/* Most labels per header bucket; keeps the duplicate check on a fixed-size stack array. */
#define DROT_COSE_MAX_LABELS 8u

/* Largest encoded protected header that sign writes: A2 01 26 03 1B + 8 bytes. */
#define DROT_COSE_SIGN1_MAX_PROTECTED 13u
/* Bytes sign needs for a payload of p bytes and a kid of k bytes (an upper
 * bound; the exact size is reported by sign with DROT_E_BUFFER). Each CBOR
 * head is at most 9 bytes. */
#define DROT_COSE_SIGN1_SIZE_BOUND(p, k)                                                                     \
    (1u /* tag */ + 1u /* array */ + 1u + DROT_COSE_SIGN1_MAX_PROTECTED + 1u /* map */ + 1u /* label 4 */    \
     + 9u + (size_t)(k) + 9u + (size_t)(p) + 2u + DROT_P256_SIG_LEN)

/* What sign puts besides alg. A NULL params pointer means all absent. */
typedef struct drot_cose_sign1_params {
    const uint8_t *kid; /* unprotected label 4, present iff kid_len != 0; NULL allowed then */
    size_t kid_len;
    bool has_content_type;       /* protected label 3 when true */
    uint64_t content_type;       /* CoAP Content-Format number */
    const uint8_t *external_aad; /* enters the Sig_structure only; NULL iff external_aad_len == 0 */
    size_t external_aad_len;
} drot_cose_sign1_params;

/* A decoded message. Every pointer points into the message given to decode,
 * which MUST outlive the view. Nothing in it is authenticated until
 * drot_cose_sign1_verify has returned DROT_OK for it. */
typedef struct drot_cose_sign1_view {
    const uint8_t *protected_hdr; /* content of the protected bstr, as received */
    size_t protected_len;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *signature; /* raw r || s */
    size_t signature_len;     /* DROT_P256_SIG_LEN after a successful decode */
    const uint8_t *kid;       /* NULL when absent (in either bucket) */
    size_t kid_len;
    int64_t alg; /* DROT_COSE_ALG_ES256 after a successful decode */
    bool has_content_type;
    uint64_t content_type;
    bool tagged; /* the message carried tag 18 */
} drot_cose_sign1_view;

/*
 * Signs payload[0..payload_len) with priv and writes the tagged COSE_Sign1
 * into out[0..cap); *out_len = bytes written. payload may be NULL iff
 * payload_len == 0; it MUST NOT overlap out. params may be NULL.
 *
 * The Sig_structure is hashed piecewise with the streaming SHA-256 of the
 * crypto port, so the payload is never copied except into out.
 *
 * DROT_E_BUFFER: cap is too small; *out_len = bytes needed, nothing signed.
 * (out may be NULL with cap 0 to measure.) DROT_E_TOO_LARGE: the message
 * would exceed DROT_COSE_SIGN1_MAX_MSG. Crypto errors pass through. On any
 * error out holds no message.
 */
drot_status drot_cose_sign1_sign(const drot_p256_priv *priv, const drot_cose_sign1_params *params,
                                 const uint8_t *payload, size_t payload_len, uint8_t *out, size_t cap,
                                 size_t *out_len);

/*
 * Parses msg[0..len) into *view and applies every structural and header rule
 * above. No cryptography: the caller may look at view->kid to choose the key,
 * then call drot_cose_sign1_verify. On error *view is zeroed.
 */
drot_status drot_cose_sign1_decode(const uint8_t *msg, size_t len, drot_cose_sign1_view *view);

/*
 * Checks the signature of a decoded message under pub, with external_aad
 * (NULL iff aad_len == 0) in the Sig_structure. DROT_OK, DROT_E_VERIFY,
 * DROT_E_BADKEY, DROT_E_UNSUPPORTED (view->alg not ES256) or DROT_E_ARG.
 */
drot_status drot_cose_sign1_verify(const drot_cose_sign1_view *view, const drot_p256_pub *pub,
                                   const uint8_t *external_aad, size_t aad_len);

/*
 * SHA-256 of the Sig_structure of a decoded message with external_aad (NULL
 * iff aad_len == 0): exactly what the signature signs. Use it wherever a
 * message must be named (receipts, replay caches, evidence digests): unlike
 * a hash of the message bytes, it cannot be changed without the signer.
 */
drot_status drot_cose_sign1_tbs_digest(const drot_cose_sign1_view *view, const uint8_t *external_aad,
                                       size_t aad_len, uint8_t digest[DROT_SHA256_LEN]);

/*
 * decode then verify. view may be NULL; when given, it is filled only on
 * DROT_OK and zeroed otherwise, so no unverified payload leaks to the caller.
 */
drot_status drot_cose_sign1_verify_msg(const uint8_t *msg, size_t len, const drot_p256_pub *pub,
                                       const uint8_t *external_aad, size_t aad_len,
                                       drot_cose_sign1_view *view);

#endif /* DROT_COSE_H */
