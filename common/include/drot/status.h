/*
 * drot/status.h — the one status type shared by common/ and the crypto port.
 *
 * Every function that can fail returns a drot_status. DROT_OK is zero and
 * every failure is a small negative number. The encoding is deliberate: a
 * small negative int has almost every bit set (-1 is 0xFFFFFFFF, -40 is
 * 0xFFFFFFD8), so no single flipped bit, nor a handful, can turn a failure
 * into DROT_OK. Callers MUST compare against DROT_OK, never test truthiness
 * of a verification result in any other way.
 *
 * Layers above (fw/, host/, server/) translate these codes at their
 * boundaries into their own status types.
 */
#ifndef DROT_STATUS_H
#define DROT_STATUS_H

typedef enum drot_status {
    DROT_OK = 0,                /* success */
    DROT_E_ARG = -1,            /* NULL pointer, bad length or out-of-range parameter from the caller */
    DROT_E_BUFFER = -2,         /* output buffer too small; the function reports the size needed */
    DROT_E_MALFORMED = -3,      /* input is not well-formed (bad CBOR, wrong type, wrong structure) */
    DROT_E_TRUNCATED = -4,      /* input ends before the item it announces */
    DROT_E_TRAILING = -5,       /* well-formed item followed by extra bytes */
    DROT_E_TOO_LARGE = -6,      /* input or a field exceeds the fixed limit for it */
    DROT_E_UNSUPPORTED = -7,    /* valid but not supported here (algorithm, CBOR feature, profile) */
    DROT_E_VERIFY = -8,         /* signature, MAC or AEAD tag does not verify */
    DROT_E_BADKEY = -9,         /* key invalid: scalar out of range, point not on the curve */
    DROT_E_CRYPTO = -10,        /* the crypto backend failed for a reason other than the above */
    DROT_E_RNG = -11,           /* the random source failed or is not seeded */
    DROT_E_CLAIM_MISSING = -12, /* a mandatory claim or field is absent */
    DROT_E_CLAIM_INVALID = -13, /* a claim has the wrong type, size or value */
    DROT_E_DUPLICATE = -14,     /* a map key appears twice */
    DROT_E_DEPTH = -15,         /* nesting deeper than the fixed limit */
    DROT_E_STATE = -16,         /* call out of order (context not set up, sequence exhausted) */
    DROT_E_UNKNOWN_CLAIM = -17, /* a claim outside the profile's closed set */
} drot_status;

/* Returns a short, constant, human-readable name for a status ("bad signature"…). */
const char *drot_status_str(drot_status st);

#endif /* DROT_STATUS_H */
