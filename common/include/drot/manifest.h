/*
 * drot/manifest.h — firmware manifests.
 *
 * A manifest says which firmware image an authority allows on a device: the
 * payload of an authority object of kind DROT_AUTH_CT_MANIFEST
 * (drot/authority.h). It is one closed CBOR map with unsigned integer keys:
 *
 *   key  field      CBOR  constraint
 *   1    component  tstr  1..DROT_MANIFEST_MAX_COMPONENT bytes, printable ASCII
 *                         (the measured component's type: "APM", "HOST-BL", "HOST-OS")
 *   2    version    tstr  1..DROT_MANIFEST_MAX_VERSION bytes, printable ASCII
 *   3    svn        uint  0..DROT_MANIFEST_MAX_SVN (the OTP svn thermometer has 64 bits)
 *   4    digest     bstr  exactly 32 bytes: SHA-256 of the image
 *   5    size       uint  1..DROT_MANIFEST_MAX_IMAGE bytes (16 MiB)
 *
 * Every key is required; there is no signer field, because the anchor slot
 * that verified the envelope (its hash) is the signer's identity. Printable
 * ASCII is 0x20..0x7E: the component and version are shown to operators and
 * logged, so they must carry no control characters (no terminal escapes, no
 * forged log lines) and no bytes whose rendering depends on a charset.
 *
 * Encoding is canonical (RFC 8949 §4.2.1): keys ascending, shortest heads,
 * definite lengths, so equal manifests give equal bytes. The decoder is
 * strict about content but, like the CBOR reader under it, accepts keys in
 * any order and non-shortest heads: the payload is only trusted after its
 * signature has been checked, and the signature covers the exact bytes.
 *
 * Storage: no allocation. Strings are (pointer, length) pairs, NOT
 * NUL-terminated. On encode they point into the caller's buffers; on decode
 * into the payload given to drot_manifest_decode (for drot_manifest_verify:
 * into msg), which MUST outlive every use of the struct. The digest is
 * copied into a fixed array.
 */
#ifndef DROT_MANIFEST_H
#define DROT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "drot/authority.h"
#include "drot/status.h"
#include "drot_crypto.h"

/* Map keys. */
#define DROT_MANIFEST_KEY_COMPONENT 1u
#define DROT_MANIFEST_KEY_VERSION   2u
#define DROT_MANIFEST_KEY_SVN       3u
#define DROT_MANIFEST_KEY_DIGEST    4u
#define DROT_MANIFEST_KEY_SIZE      5u

/* Limits. */
#define DROT_MANIFEST_MAX_COMPONENT 16u
#define DROT_MANIFEST_MAX_VERSION   32u
#define DROT_MANIFEST_MAX_SVN       63u
#define DROT_MANIFEST_MAX_IMAGE     (16u * 1024u * 1024u)

/* Largest canonical encoding: map head 1; keys 5 × 1; component 1 + 16;
 * version 2 + 32; svn 2; digest 2 + 32; size 5 (0x1A + 4 bytes). */
#define DROT_MANIFEST_MAX_LEN 98u
/* Bytes drot_manifest_sign needs at most. */
#define DROT_MANIFEST_SIGNED_MAX DROT_AUTHORITY_SIZE_BOUND(DROT_MANIFEST_MAX_LEN)

typedef struct drot_manifest {
    const char *component; /* not NUL-terminated; see "Storage" above */
    size_t component_len;
    const char *version; /* not NUL-terminated */
    size_t version_len;
    uint32_t svn;
    uint8_t digest[DROT_SHA256_LEN];
    uint32_t size;
} drot_manifest;

/*
 * Writes the canonical encoding of m into out[0..cap); *out_len = bytes
 * written. Every field is validated first, by the same rules decode applies:
 * DROT_E_CLAIM_INVALID for a field out of its range (an empty string
 * included), DROT_E_ARG for NULL arguments or a NULL string with a non-zero
 * length. DROT_E_BUFFER: cap too small, *out_len = bytes needed (out may be
 * NULL with cap 0 to measure; DROT_MANIFEST_MAX_LEN always suffices).
 */
drot_status drot_manifest_encode(const drot_manifest *m, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Decodes payload[0..len) into *m; payload may be NULL iff len == 0.
 * Statuses:
 *   DROT_E_ARG            NULL arguments;
 *   DROT_E_MALFORMED      the payload is not a map (or not CBOR at all);
 *   DROT_E_TRUNCATED      it ends inside the map;
 *   DROT_E_UNSUPPORTED    indefinite lengths;
 *   DROT_E_UNKNOWN_CLAIM  a key other than 1..5 (a non-uint key included);
 *   DROT_E_DUPLICATE      a key seen twice;
 *   DROT_E_CLAIM_INVALID  a value of the wrong CBOR type, size or range,
 *                         or text that is not printable ASCII;
 *   DROT_E_TRAILING       bytes after the map;
 *   DROT_E_CLAIM_MISSING  a key absent.
 * On any failure *m is zeroed.
 */
drot_status drot_manifest_decode(const uint8_t *payload, size_t len, drot_manifest *m);

/*
 * encode, then drot_authority_sign(priv, pub, DROT_AUTH_CT_MANIFEST, ...).
 * Same statuses as those two; DROT_E_BUFFER reports the signed size needed
 * (DROT_MANIFEST_SIGNED_MAX always suffices).
 */
drot_status drot_manifest_sign(const drot_p256_priv *priv, const drot_p256_pub *pub, const drot_manifest *m,
                               uint8_t *out, size_t cap, size_t *out_len);

/*
 * drot_authority_verify(msg, len, DROT_AUTH_CT_MANIFEST, slots, n_slots, ...),
 * then decode of its payload into *out. The strings in *out point into msg.
 * DROT_OK: the manifest is authentic, from anchor slot *slot_index (which may
 * be NULL). On any failure *out is zeroed and *slot_index is not written;
 * statuses are those of the two steps (see drot_authority_verify for
 * DROT_E_BADKEY: the signer's anchor is revoked).
 *
 * This checks who signed what; whether the image may be installed (its SVN
 * against the fuse, its digest against the image) is the caller's decision.
 */
drot_status drot_manifest_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                 size_t n_slots, drot_manifest *out, size_t *slot_index);

#endif /* DROT_MANIFEST_H */
