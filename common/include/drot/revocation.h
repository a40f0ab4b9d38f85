/*
 * drot/revocation.h — revocation lists.
 *
 * The fleet owner's revocation list says which keys and certificates are no
 * longer trusted. It is the payload of an authority object of kind
 * DROT_AUTH_CT_REVOCATION (drot/authority.h), so it is signed by an anchor
 * key like everything else a device obeys. docs/revocation.md is the
 * authority for the format and for what each party refuses; this header for
 * the C contract.
 *
 * The payload is one closed CBOR map with unsigned integer keys:
 *
 *   key  field        CBOR                  constraint
 *   1    version      uint                  1..DROT_REVOCATION_MAX_VERSION; a device
 *                                           never goes back to a lower one
 *   2    issued_at    uint                  seconds since 1970-01-01 UTC,
 *                                           ≤ DROT_REVOCATION_MAX_TIME
 *   3    authorities  [* bstr(32)]          ≤ DROT_REVOCATION_MAX_AUTHORITIES SHA-256
 *                                           hashes of revoked authority public keys
 *                                           (65-byte uncompressed SEC1, as anchors hold)
 *   4    drks         [* bstr(32)]          ≤ DROT_REVOCATION_MAX_DRKS SHA-256 hashes of
 *                                           revoked device root keys (the instance id
 *                                           without its 0x01 prefix)
 *   5    certs        [* bstr(1..20)]       ≤ DROT_REVOCATION_MAX_CERTS serial numbers of
 *                                           revoked device TLS certificates: the
 *                                           positive integer, big-endian, no leading
 *                                           zero byte
 *
 * Every key is required (an empty array says "none"). Each array is sorted
 * strictly ascending — hashes bytewise, serials by numeric value (shorter
 * first, then bytewise) — so the same set has one encoding and no entry is
 * listed twice. The encoder refuses unsorted input (DROT_E_ARG): the caller
 * sorts (drot_revocation_cmp_hash / _cmp_serial give the order).
 *
 * Limits. The signed list must fit one link frame (DROT_LINK_MAX_PAYLOAD,
 * 4096 bytes, with the 5 bytes of the SET_REVOCATION_LIST wrapper), so the
 * arrays are bounded: 16 authority hashes, 64 device root keys and 32
 * certificate serials at most, 3421 payload bytes and 3588 signed bytes at
 * the largest (DROT_REVOCATION_MAX_LEN, DROT_REVOCATION_SIGNED_MAX). A list
 * over a limit is refused by the encoder (DROT_E_TOO_LARGE) and the decoder
 * (DROT_E_TOO_LARGE), so a server cannot publish one no device could take.
 *
 * Encoding is canonical (RFC 8949 §4.2.1: keys ascending, shortest heads,
 * definite lengths) and, with the sort rule, deterministic: equal lists give
 * equal payload bytes, and the APM compares lists of the same version by the
 * SHA-256 of their payload. The decoder, like the CBOR reader under it,
 * accepts keys in any order and non-shortest heads; the sort rule inside
 * each array is enforced (DROT_E_CLAIM_INVALID).
 *
 * Storage: no allocation. The decoded struct points into the payload given
 * to drot_revocation_decode (for drot_revocation_verify: into msg), which
 * MUST outlive every use of the struct. The struct is about 1.2 KiB on a
 * 64-bit host, 600 bytes on a 32-bit MCU.
 */
#ifndef DROT_REVOCATION_H
#define DROT_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/authority.h"
#include "drot/status.h"
#include "drot_crypto.h"

/* Map keys. */
#define DROT_REVOCATION_KEY_VERSION     1u
#define DROT_REVOCATION_KEY_ISSUED_AT   2u
#define DROT_REVOCATION_KEY_AUTHORITIES 3u
#define DROT_REVOCATION_KEY_DRKS        4u
#define DROT_REVOCATION_KEY_CERTS       5u

/* Limits. Version and issued_at stop at INT64_MAX so that they fit a SQL
 * BIGINT and a signed 64-bit integer anywhere. */
#define DROT_REVOCATION_MAX_VERSION     0x7FFFFFFFFFFFFFFFull
#define DROT_REVOCATION_MAX_TIME        0x7FFFFFFFFFFFFFFFull
#define DROT_REVOCATION_MAX_AUTHORITIES 16u
#define DROT_REVOCATION_MAX_DRKS        64u
#define DROT_REVOCATION_MAX_CERTS       32u
#define DROT_REVOCATION_MAX_SERIAL      20u /* RFC 5280 §4.1.2.2: at most 20 octets */
#define DROT_REVOCATION_HASH_LEN        32u

/* Largest canonical encoding: map head 1; version and issued_at 1 + 9 each;
 * authorities 1 + 1 (array head of ≤ 23) + 16 × 34; drks 1 + 2 + 64 × 34;
 * certs 1 + 2 + 32 × 21. */
#define DROT_REVOCATION_MAX_LEN 3421u
/* Bytes drot_revocation_sign needs at most (3588). */
#define DROT_REVOCATION_SIGNED_MAX DROT_AUTHORITY_SIZE_BOUND(DROT_REVOCATION_MAX_LEN)

/* One certificate serial: len bytes at p (1..20, p[0] != 0). */
typedef struct drot_revocation_serial {
    const uint8_t *p;
    size_t len;
} drot_revocation_serial;

typedef struct drot_revocation_list {
    uint64_t version;
    uint64_t issued_at;
    size_t n_authorities;
    const uint8_t *authorities[DROT_REVOCATION_MAX_AUTHORITIES]; /* each DROT_REVOCATION_HASH_LEN bytes */
    size_t n_drks;
    const uint8_t *drks[DROT_REVOCATION_MAX_DRKS]; /* each DROT_REVOCATION_HASH_LEN bytes */
    size_t n_certs;
    drot_revocation_serial certs[DROT_REVOCATION_MAX_CERTS];
} drot_revocation_list;

/* The sort orders: < 0, 0, > 0 as memcmp. Hashes bytewise (32 bytes);
 * serials shorter first, then bytewise (numeric order of minimal
 * big-endian magnitudes). */
int drot_revocation_cmp_hash(const uint8_t *a, const uint8_t *b);
int drot_revocation_cmp_serial(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/*
 * Writes the canonical encoding of l into out[0..cap); *out_len = bytes
 * written. l is validated first by the rules decode applies:
 *   DROT_E_ARG           NULL arguments, a NULL entry, an array not sorted
 *                        strictly ascending (a duplicate included);
 *   DROT_E_TOO_LARGE     an array over its limit;
 *   DROT_E_CLAIM_INVALID version 0 or above the limit, issued_at above the
 *                        limit, a serial of 0 or > 20 bytes or with a leading
 *                        zero byte.
 * DROT_E_BUFFER: cap too small, *out_len = bytes needed (out may be NULL with
 * cap 0 to measure; DROT_REVOCATION_MAX_LEN always suffices).
 */
drot_status drot_revocation_encode(const drot_revocation_list *l, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Decodes payload[0..len) into *l; payload may be NULL iff len == 0.
 * Statuses:
 *   DROT_E_ARG            NULL arguments;
 *   DROT_E_MALFORMED      the payload is not a map (or not CBOR at all);
 *   DROT_E_TRUNCATED      it ends inside the map;
 *   DROT_E_UNSUPPORTED    indefinite lengths;
 *   DROT_E_UNKNOWN_CLAIM  a key other than 1..5 (a non-uint key included);
 *   DROT_E_DUPLICATE      a key seen twice;
 *   DROT_E_TOO_LARGE      an array with more entries than its limit (refused
 *                         from its head, before any entry is read);
 *   DROT_E_CLAIM_INVALID  a value of the wrong CBOR type, size or range, an
 *                         entry of the wrong size, an array not sorted
 *                         strictly ascending;
 *   DROT_E_TRAILING       bytes after the map;
 *   DROT_E_CLAIM_MISSING  a key absent.
 * On any failure *l is zeroed.
 */
drot_status drot_revocation_decode(const uint8_t *payload, size_t len, drot_revocation_list *l);

/*
 * encode, then drot_authority_sign(priv, pub, DROT_AUTH_CT_REVOCATION, ...).
 * Same statuses as those two; DROT_E_BUFFER reports the signed size needed
 * (DROT_REVOCATION_SIGNED_MAX always suffices). A list that revokes the
 * signing key itself is refused (DROT_E_BADKEY): every device would refuse it.
 */
drot_status drot_revocation_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                 const drot_revocation_list *l, uint8_t *out, size_t cap, size_t *out_len);

/*
 * drot_authority_verify(msg, len, DROT_AUTH_CT_REVOCATION, slots, n_slots, ...),
 * then decode of its payload into *out, then one more rule: a list whose
 * authorities include its own signer (the hash of the anchor that verified
 * it) is refused with DROT_E_BADKEY, the status drot_authority_verify uses
 * for "the signer's anchor is revoked".
 *
 * On DROT_OK the list is authentic, from anchor slot *slot_index, and
 * digest (if not NULL) receives the SHA-256 of the payload bytes: two lists
 * with the same digest have the same content. slot_index and digest may be
 * NULL. On any failure *out is zeroed and neither is written.
 */
drot_status drot_revocation_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                   size_t n_slots, drot_revocation_list *out, size_t *slot_index,
                                   uint8_t digest[DROT_SHA256_LEN]);

/* Lookups in a decoded list (linear, no early exit is needed: everything in
 * a list is public). hash is DROT_REVOCATION_HASH_LEN bytes. */
bool drot_revocation_has_authority(const drot_revocation_list *l, const uint8_t *hash);
bool drot_revocation_has_drk(const drot_revocation_list *l, const uint8_t *hash);
bool drot_revocation_has_cert(const drot_revocation_list *l, const uint8_t *serial, size_t len);

#endif /* DROT_REVOCATION_H */
