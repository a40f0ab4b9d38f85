/*
 * verify.h — the attestation verifier of drot-server (DESIGN.md §4, §6).
 *
 * ds_verify_token judges one attestation token (a COSE_Sign1 over an EAT
 * claims set, docs/token.md) that a device sent over a TLS connection in
 * answer to a challenge, against the device's registered record and the
 * reference values of its class (reference.h). The result is a verdict
 * (PASS / WARN / FAIL), up to DS_VERIFY_MAX_REASONS readable reasons with a
 * machine code each, the evidence digest and a summary of the claims for
 * storage and display. docs/verifier.md is the operator's description.
 *
 * Steps, in order. Steps 1..6 stop at their first failure (what follows
 * would read unauthenticated bytes); the others never stop, so the
 * operator sees every problem of a genuine token at once.
 *
 *   0. device record status (revoked, decommissioned, unknown: FAIL;
 *      quarantined: WARN)                                             DEVICE_STATUS
 *   1. bounds: token of 1..DS_VERIFY_MAX_TOKEN bytes                  TOKEN_SIZE
 *   2. COSE_Sign1 decode; alg must be ES256 (-7)                      MALFORMED, ALG
 *      -> evidence digest (Sig_structure digest) is set from here on
 *   3. kid == 0x01 || SHA-256(registered DRK public key)              KEY
 *   4. the registered key is a valid P-256 point                      DEVICE_KEY
 *   5. ES256 signature under the registered key                       SIGNATURE
 *   6. strict EAT decode of the payload; profile == required          CLAIMS, PROFILE
 *   7. nonce == SHA-256(challenge || exporter), constant time         NONCE
 *   8. signed instance id claim == kid (the kid itself is unsigned)   INSTANCE_ID
 *   9. device id claim == registered; epoch claim == expected;
 *      tamper bits against the reference lists and tamper count;
 *      tamper count against the previous attestation's, once steps
 *      7..9 showed the token fresh and this device's (drot profile;
 *      psa: one PROFILE_LIMITED warning instead)                      DEVICE_ID, EPOCH, TAMPER
 *  10. lifecycle secured; PSA RoT provisioning WARN if allowed       LIFECYCLE
 *  11. every reference component present, digest, signer, version,
 *      SVN; components the reference does not name                   COMP_*
 *
 * Invariants:
 *   V1. The verdict is DS_VERDICT_FAIL from the first line; it becomes WARN
 *       or PASS only after step 11 has run and only when no FAIL reason was
 *       recorded (dropped reasons count too).
 *   V2. Nothing is allocated; stack use and work are bounded by the token
 *       limit. The token is never modified and the result never points
 *       into it.
 *   V3. Every comparison of a nonce, key hash, device id or digest is
 *       constant time (drot_ct_equal).
 *   V4. fresh_evidence is true only when the signature verified under the
 *       registered key and the nonce, instance id and (drot) device id and
 *       epoch checks found nothing: only such a token says something about
 *       the device's state now. The tamper count is compared with the
 *       previous one only then, and callers move the stored tamper baseline
 *       only then, so a replayed or relayed token can neither raise an alarm
 *       about the count nor reset it.
 *
 * The verifier does not know about challenges' lifetime or single use: the
 * caller (the storage layer) consumes the challenge, refuses an expired or
 * reused one before calling here, and passes the challenge that was issued
 * to this connection and the connection's own exporter.
 */
#ifndef DS_VERIFY_H
#define DS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/eat.h"
#include "drot_crypto.h"
#include "reference.h"

#define DS_VERIFY_MAX_TOKEN     8192u /* larger tokens are refused unread */
#define DS_VERIFY_MAX_REASONS   16
#define DS_VERIFY_REASON_MAX    200 /* characters per reason, NUL excluded */
#define DS_CHALLENGE_LEN        32
#define DS_EXPORTER_LEN         32 /* TLS 1.3 exporter, label EXPORTER-Channel-Binding (RFC 9266) */
#define DS_VERIFY_DEVICE_ID_LEN DROT_EAT_DEVICE_ID_LEN
/* The largest tamper count accepted: storage keeps counts as signed 64-bit
 * integers, and no APM logs 2^63 events. A larger count is FAIL tamper. */
#define DS_VERIFY_TAMPER_COUNT_MAX ((uint64_t)INT64_MAX)

/* Verdicts. Far apart in bits (STYLE.md habit 4): no flipped bit or small
 * corruption turns FAIL into PASS, and zero (a zeroed result) is not one. */
typedef enum ds_verdict {
    DS_VERDICT_FAIL = 0x2d4b1e69,
    DS_VERDICT_WARN = 0x5ae1a5c3,
    DS_VERDICT_PASS = 0x6c93f03c,
} ds_verdict;

typedef enum ds_severity {
    DS_SEV_WARN = 1,
    DS_SEV_FAIL = 2,
} ds_severity;

/* Reason codes; each has a fixed severity except where noted.
 * docs/verifier.md has the table with example texts. */
typedef enum ds_reason_code {
    DS_R_ARG = 1,             /* FAIL: the caller passed no token, device or reference */
    DS_R_TOKEN_SIZE = 2,      /* FAIL: empty or over DS_VERIFY_MAX_TOKEN bytes */
    DS_R_MALFORMED = 3,       /* FAIL: not a valid COSE_Sign1 */
    DS_R_ALG = 4,             /* FAIL: algorithm other than ES256 */
    DS_R_KEY = 5,             /* FAIL: kid is not this device's current instance id */
    DS_R_DEVICE_KEY = 6,      /* FAIL: the registered key is not a valid P-256 key */
    DS_R_SIGNATURE = 7,       /* FAIL: the signature does not verify */
    DS_R_CLAIMS = 8,          /* FAIL: the payload is not a valid claims set */
    DS_R_PROFILE = 9,         /* FAIL: profile other than the required one */
    DS_R_DEVICE_STATUS = 10,  /* FAIL revoked/decommissioned, WARN quarantined */
    DS_R_NONCE = 11,          /* FAIL: nonce != SHA-256(challenge ‖ exporter) */
    DS_R_INSTANCE_ID = 12,    /* FAIL: signed instance id claim != kid */
    DS_R_DEVICE_ID = 13,      /* FAIL: device id claim != registered */
    DS_R_EPOCH = 14,          /* FAIL: epoch claim != expected */
    DS_R_LIFECYCLE = 15,      /* FAIL not secured; WARN provisioning when allowed */
    DS_R_TAMPER = 16,         /* FAIL or WARN by the reference's tamper lists; WARN count over the
                                 maximum; FAIL/WARN (tamper.new_events) count risen; FAIL count fallen */
    DS_R_COMP_MISSING = 17,   /* FAIL: a reference component is not reported */
    DS_R_COMP_DIGEST = 18,    /* FAIL: digest not among the allowed ones */
    DS_R_COMP_SIGNER = 19,    /* FAIL: signer id not among the allowed ones */
    DS_R_COMP_VERSION = 20,   /* FAIL: version below minimum, absent or not dotted numeric */
    DS_R_COMP_SVN = 21,       /* FAIL: SVN below minimum or not reported */
    DS_R_COMP_UNKNOWN = 22,   /* WARN: a component the reference does not name */
    DS_R_PROFILE_LIMITED = 23 /* WARN: psa profile, drot-only claims not checked */
} ds_reason_code;

/* Status of the device in the registry, as the caller maps it. */
typedef enum ds_verify_device_status {
    DS_VERIFY_DEVICE_ACTIVE = 1,
    DS_VERIFY_DEVICE_QUARANTINED = 2,
    DS_VERIFY_DEVICE_REVOKED = 3,
    DS_VERIFY_DEVICE_DECOMMISSIONED = 4,
} ds_verify_device_status;

/* What the registry holds about the device that presents the token. */
typedef struct ds_device_record {
    uint8_t device_id[DS_VERIFY_DEVICE_ID_LEN];
    drot_p256_pub drk_pub; /* current DRK public key (uncompressed SEC1) */
    uint64_t epoch;        /* expected epoch (generation of drk_pub) */
    ds_verify_device_status status;
} ds_device_record;

typedef struct ds_verify_input {
    const uint8_t *token; /* the bytes as received */
    size_t token_len;
    uint8_t challenge[DS_CHALLENGE_LEN]; /* issued to this device on this connection */
    uint8_t exporter[DS_EXPORTER_LEN];   /* of the connection that carried the token */
    const ds_device_record *device;
    const ds_reference *reference;     /* the device class's reference values */
    drot_eat_profile required_profile; /* DROT_EAT_PROFILE_NONE: the reference's */
    /* The tamper count of the device's last verified drot-profile
     * attestation, as storage keeps it (store.h, ds_device.tamper_count);
     * has_prev_tamper_count false before the first one (nothing to compare). */
    bool has_prev_tamper_count;
    uint64_t prev_tamper_count;
} ds_verify_input;

typedef struct ds_reason {
    ds_reason_code code;
    ds_severity severity;
    char text[DS_VERIFY_REASON_MAX + 1]; /* NUL-terminated, printable ASCII */
} ds_reason;

/* One software component as the token reports it. Texts are NUL-terminated
 * copies in which every byte outside printable ASCII is replaced by '?'. */
typedef struct ds_measurement {
    bool has_type;
    char type[DROT_EAT_MAX_TEXT + 1];
    bool has_version;
    char version[DROT_EAT_MAX_TEXT + 1];
    size_t digest_len; /* 32, 48 or 64 */
    uint8_t digest[64];
    size_t signer_len;
    uint8_t signer[64];
    bool has_svn;
    uint64_t svn;
} ds_measurement;

/* The decoded claims, for storage and display. valid is true only when the
 * claims come from a payload whose signature verified under the registered
 * key (step 6 passed); otherwise the summary is all zero. */
typedef struct ds_claims_summary {
    bool valid;
    drot_eat_profile profile;
    uint32_t lifecycle;
    bool has_drot_claims; /* the rest below is from the drot profile only */
    uint8_t device_id[DS_VERIFY_DEVICE_ID_LEN];
    uint64_t epoch;
    uint64_t tamper_state;
    uint64_t tamper_count;
    size_t num_measurements;
    ds_measurement measurements[DROT_EAT_MAX_COMPONENTS];
} ds_claims_summary;

typedef struct ds_verify_result {
    ds_verdict verdict;
    size_t num_reasons;
    ds_reason reasons[DS_VERIFY_MAX_REASONS];
    size_t reasons_dropped; /* reasons beyond DS_VERIFY_MAX_REASONS (still counted in the verdict) */
    /* SHA-256 of the COSE Sig_structure (drot_cose_sign1_tbs_digest), set
     * once the token decodes as COSE_Sign1 (step 2), even if it later fails:
     * it names what was presented, so a stored FAIL can be told apart too. */
    bool has_evidence_digest;
    uint8_t evidence_digest[DROT_SHA256_LEN];
    ds_claims_summary claims;
    /* V4: the token is this device's own evidence for this challenge and
     * connection. With claims.has_drot_claims, claims.tamper_count is then
     * the device's tamper count now (the caller's new baseline). */
    bool fresh_evidence;
} ds_verify_result;

/*
 * Verifies in->token and fills *out (always completely; *out is reset
 * first). Returns out->verdict; DS_VERDICT_FAIL with a DS_R_ARG reason when
 * in, in->device or in->reference is NULL (and DS_VERDICT_FAIL without
 * touching anything when out is NULL).
 */
ds_verdict ds_verify_token(const ds_verify_input *in, ds_verify_result *out);

/* "PASS", "WARN", "FAIL", or "INVALID" for any other value. */
const char *ds_verdict_str(ds_verdict v);
/* Stable lower-case name of a reason code ("nonce", "comp-digest", ...) or "unknown". */
const char *ds_reason_code_str(ds_reason_code c);

#endif /* DS_VERIFY_H */
