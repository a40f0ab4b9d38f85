/*
 * drot/eat.h — the claims set (payload) of a drot attestation token.
 *
 * A token is a COSE_Sign1 whose payload is an EAT (RFC 9711) claims set: one
 * CBOR map. This codec encodes and decodes that map only; the COSE wrapper
 * is elsewhere. docs/token.md is the authority for the format; this header
 * is the authority for the C contract.
 *
 * Two profiles, told apart by the eat_profile claim (key 265):
 *
 *   DROT_EAT_PROFILE_PSA   "tag:psacertified.org,2023:psa#tfm" — exactly the
 *                          PSA attestation token of RFC 9783. The claims map
 *                          is closed: nothing outside RFC 9783 section 4 is
 *                          ever written, and the decoder refuses any other key
 *                          (DROT_E_UNKNOWN_CLAIM), drot's private claims and
 *                          the pre-RFC boot seed key 2397 included. (Stricter
 *                          than RFC 9783 section 5.1, which lets receivers
 *                          ignore unknown claims; docs/token.md says why.)
 *   DROT_EAT_PROFILE_DROT  "tag:drot.dev,2026:apm-token#1" — the same claims
 *                          with the same meaning, plus drot's private claims
 *                          (keys below -65536, the CWT private-use range),
 *                          which are then mandatory. Closed as well.
 *
 * Claims (key, CBOR type, constraint; M = mandatory, O = optional):
 *
 *   10     nonce              bstr  32, 48 or 64 bytes                   M
 *   256    instance id (ueid) bstr  33 bytes, first byte 0x01 (RAND)      M
 *   265    profile            tstr  one of the two strings above          M
 *   268    boot seed          bstr  8..32 bytes (EAT bootseed)            O
 *   2394   client id          int   -2^31..2^31-1, not 0                  M
 *   2395   security lifecycle uint  in one of the seven PSA ranges        M
 *   2396   implementation id  bstr  32 bytes                              M
 *   2398   certification ref  tstr  "DDDDDDDDDDDDD-DDDDD" (EAN-13 + 5)    O
 *   2399   software components array of 1..DROT_EAT_MAX_COMPONENTS maps   M
 *            1 measurement type  tstr                                     O
 *            2 measurement value bstr 32, 48 or 64 bytes                  M
 *            4 version           tstr                                     O
 *            5 signer id         bstr 32, 48 or 64 bytes                  M
 *            6 measurement desc  tstr                                     O
 *   2400   verification service tstr                                      O
 *   drot profile only, all mandatory there:
 *   -80001 device id          bstr  16 bytes
 *   -80002 epoch              uint
 *   -80003 component SVNs     map   { component index uint => svn uint },
 *                                   0..DROT_EAT_MAX_COMPONENTS entries, keys
 *                                   strictly ascending, each index < number
 *                                   of software components
 *   -80004 tamper state       uint  bitmask (bits defined by the firmware)
 *   -80005 tamper count       uint
 *
 * Text claims must be valid UTF-8 (RFC 8949 "valid" CBOR) and at most
 * DROT_EAT_MAX_TEXT bytes (DROT_EAT_MAX_VSI for the verification service).
 *
 * Storage: no allocation. drot_eat_claims has fixed-size arrays; every byte
 * or text string is a (pointer, length) pair. On encode they point into the
 * caller's buffers; on decode they point into the payload given to
 * drot_eat_decode (zero copy), which MUST outlive every use of the claims.
 * Text strings are NOT NUL-terminated. An optional string is absent when its
 * pointer is NULL (its length is then 0).
 */
#ifndef DROT_EAT_H
#define DROT_EAT_H

#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"

/* ---- limits ------------------------------------------------------------- */

/* Software components per token; also the SVN map's entry limit. */
#define DROT_EAT_MAX_COMPONENTS 8
/* Longest measurement type, version, measurement description (bytes). */
#define DROT_EAT_MAX_TEXT 64
/* Longest verification service indicator (bytes). */
#define DROT_EAT_MAX_VSI 128
/* Largest payload drot_eat_decode accepts, and an upper bound on what
 * drot_eat_encode can produce from valid claims (a test checks the worst
 * case fits). */
#define DROT_EAT_MAX_PAYLOAD 4096

/* Fixed sizes from RFC 9783 section 4 and from drot. */
#define DROT_EAT_INSTANCE_ID_LEN       33
#define DROT_EAT_IMPLEMENTATION_ID_LEN 32
#define DROT_EAT_BOOT_SEED_MIN         8
#define DROT_EAT_BOOT_SEED_MAX         32
#define DROT_EAT_CERT_REF_LEN          19
#define DROT_EAT_DEVICE_ID_LEN         16

/* ---- claim keys --------------------------------------------------------- */

#define DROT_EAT_KEY_NONCE         10
#define DROT_EAT_KEY_INSTANCE_ID   256
#define DROT_EAT_KEY_PROFILE       265
#define DROT_EAT_KEY_BOOT_SEED     268
#define DROT_EAT_KEY_CLIENT_ID     2394
#define DROT_EAT_KEY_LIFECYCLE     2395
#define DROT_EAT_KEY_IMPL_ID       2396
#define DROT_EAT_KEY_CERT_REF      2398
#define DROT_EAT_KEY_SW_COMPONENTS 2399
#define DROT_EAT_KEY_VSI           2400
/* drot private claims: private-use range (below -65536), away from the
 * retired PSA_IOT_PROFILE_1 keys -75000..-75010. */
#define DROT_EAT_KEY_DEVICE_ID    (-80001)
#define DROT_EAT_KEY_EPOCH        (-80002)
#define DROT_EAT_KEY_SVNS         (-80003)
#define DROT_EAT_KEY_TAMPER_STATE (-80004)
#define DROT_EAT_KEY_TAMPER_COUNT (-80005)

/* Keys inside one software component map. */
#define DROT_EAT_SWC_MEASUREMENT_TYPE  1
#define DROT_EAT_SWC_MEASUREMENT_VALUE 2
#define DROT_EAT_SWC_VERSION           4
#define DROT_EAT_SWC_SIGNER_ID         5
#define DROT_EAT_SWC_MEASUREMENT_DESC  6

#define DROT_EAT_PROFILE_PSA_STR  "tag:psacertified.org,2023:psa#tfm"
#define DROT_EAT_PROFILE_DROT_STR "tag:drot.dev,2026:apm-token#1"

/* ---- types -------------------------------------------------------------- */

/* Zero is deliberately not a profile: a zeroed or wiped claims struct names
 * none, and both functions refuse it. */
typedef enum drot_eat_profile {
    DROT_EAT_PROFILE_NONE = 0,
    DROT_EAT_PROFILE_PSA = 1,
    DROT_EAT_PROFILE_DROT = 2,
} drot_eat_profile;

typedef struct drot_eat_bytes {
    const uint8_t *p; /* NULL = absent */
    size_t len;
} drot_eat_bytes;

typedef struct drot_eat_text {
    const char *p; /* NULL = absent; not NUL-terminated */
    size_t len;
} drot_eat_text;

typedef struct drot_eat_sw_component {
    drot_eat_text measurement_type;   /* optional, e.g. "APM", "HOST-BL" */
    drot_eat_bytes measurement_value; /* mandatory, 32/48/64 bytes */
    drot_eat_text version;            /* optional */
    drot_eat_bytes signer_id;         /* mandatory, 32/48/64 bytes */
    drot_eat_text measurement_desc;   /* optional, e.g. "sha-256" */
} drot_eat_sw_component;

/* One entry of the drot SVN map: the SVN of software component
 * components[component]. */
typedef struct drot_eat_svn {
    uint32_t component;
    uint64_t svn;
} drot_eat_svn;

/* drot's private claims; used only in DROT_EAT_PROFILE_DROT. */
typedef struct drot_eat_drot_claims {
    drot_eat_bytes device_id; /* 16 bytes */
    uint64_t epoch;
    size_t num_svns;
    drot_eat_svn svns[DROT_EAT_MAX_COMPONENTS]; /* strictly ascending .component */
    uint64_t tamper_state;
    uint64_t tamper_count;
} drot_eat_drot_claims;

typedef struct drot_eat_claims {
    drot_eat_profile profile;
    drot_eat_bytes nonce;
    drot_eat_bytes instance_id;
    drot_eat_bytes implementation_id;
    int64_t client_id;
    uint32_t security_lifecycle;
    drot_eat_bytes boot_seed;              /* optional */
    drot_eat_text certification_reference; /* optional */
    drot_eat_text verification_service;    /* optional */
    size_t num_components;
    drot_eat_sw_component components[DROT_EAT_MAX_COMPONENTS];
    drot_eat_drot_claims drot; /* ignored on encode and zero on decode in the psa profile */
} drot_eat_claims;

/* PSA security lifecycle major states (RFC 9783 section 4.3.1): the value is
 * major[15:8] | minor[7:0], and each enumerator below is the major state's
 * value with minor 0. */
typedef enum drot_eat_lifecycle {
    DROT_EAT_LC_INVALID = -1, /* not in any RFC 9783 range */
    DROT_EAT_LC_UNKNOWN = 0x0000,
    DROT_EAT_LC_ASSEMBLY_AND_TEST = 0x1000,
    DROT_EAT_LC_PSA_ROT_PROVISIONING = 0x2000,
    DROT_EAT_LC_SECURED = 0x3000,
    DROT_EAT_LC_NON_PSA_ROT_DEBUG = 0x4000,
    DROT_EAT_LC_RECOVERABLE_PSA_ROT_DEBUG = 0x5000,
    DROT_EAT_LC_DECOMMISSIONED = 0x6000,
} drot_eat_lifecycle;

/* ---- functions ---------------------------------------------------------- */

/* The major state of a security lifecycle value: 0x0000..0x00ff unknown,
 * 0xN000..0xN0ff for N = 1..6, anything else DROT_EAT_LC_INVALID. Whether a
 * state is trustworthy is the verifier's policy, not this function's. */
drot_eat_lifecycle drot_eat_lifecycle_class(uint64_t value);

/* Encodes claims as the payload of claims->profile into out[0..cap).
 *
 * Validates first, with the same rules as the decoder: a missing mandatory
 * claim gives DROT_E_CLAIM_MISSING, a bad size, value or SVN index
 * DROT_E_CLAIM_INVALID, too many components or SVNs or too long a text
 * DROT_E_TOO_LARGE, profile NONE or a NULL pointer with a non-zero length
 * DROT_E_ARG. Nothing is written then and *out_len is 0.
 *
 * Output is deterministic (RFC 8949 section 4.2.1): shortest heads, definite
 * lengths, and map keys in bytewise order of their encoding, which is
 * 10, 256, 265, 268, 2394, 2395, 2396, 2398, 2399, 2400, then -80001 ..
 * -80005; component keys 1, 2, 4, 5, 6; SVN map by ascending index.
 * Optional claims are written only when present. In the psa profile,
 * claims->drot is ignored.
 *
 * out may be NULL when cap is 0. DROT_OK with *out_len = bytes written, or
 * DROT_E_BUFFER with *out_len = bytes needed (out's contents then
 * unspecified). claims and out_len MUST NOT be NULL (DROT_E_ARG). */
drot_status drot_eat_encode(const drot_eat_claims *claims, uint8_t *out, size_t cap, size_t *out_len);

/* Decodes and validates a payload into *claims; the profile is read from
 * claim 265. Map keys may come in any order and in any valid CBOR
 * serialization (RFC 9783 asks verifiers to tolerate non-preferred forms).
 *
 * Refuses (when a payload has several defects, which one is reported is
 * unspecified):
 *   len > DROT_EAT_MAX_PAYLOAD                      DROT_E_TOO_LARGE
 *   not one definite-length map / bad CBOR          DROT_E_MALFORMED, DROT_E_TRUNCATED,
 *                                                   DROT_E_UNSUPPORTED (indefinite)
 *   bytes after the map                             DROT_E_TRAILING
 *   a key outside the profile's set (any non-integer
 *   key, drot keys in psa, key 2397, unknown component
 *   keys)                                           DROT_E_UNKNOWN_CLAIM
 *   a key twice (top level, component, SVN map)     DROT_E_DUPLICATE
 *   wrong CBOR type, size, range, format, UTF-8     DROT_E_CLAIM_INVALID
 *   empty component array, SVN disorder or index    DROT_E_CLAIM_INVALID
 *   more than DROT_EAT_MAX_COMPONENTS, too long text DROT_E_TOO_LARGE
 *   a mandatory claim or component field absent     DROT_E_CLAIM_MISSING
 *   profile string not one of the two               DROT_E_UNSUPPORTED
 *
 * Never recurses and never skips unknown content, so nesting depth is not a
 * concern here. On success every pointer in *claims points into payload; on
 * failure *claims is zeroed (profile NONE), so a caller that ignores the
 * status still holds nothing. payload and claims MUST NOT be NULL
 * (DROT_E_ARG). */
drot_status drot_eat_decode(const uint8_t *payload, size_t len, drot_eat_claims *claims);

#endif /* DROT_EAT_H */
