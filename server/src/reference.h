/*
 * reference.h — reference values of a device class, for the verifier.
 *
 * A device class (one hardware model with one firmware policy) has one set of
 * reference values: which software components a token must report, and for
 * each of them the allowed digests, the allowed signers, the minimum version
 * and the minimum SVN; whether a device may still be in PSA RoT provisioning;
 * which tamper bits fail or warn; which token profile is required. The
 * policy engine keeps them as JSON (DESIGN.md §6); docs/verifier.md gives the
 * format with a complete example. The verifier (verify.h) reads only the
 * parsed, fixed-size struct below.
 *
 * JSON format (every field not listed is refused):
 *
 *   {
 *     "class": "sensor-gw-v2",                     1..64 printable ASCII, required
 *     "components": [                              1..DS_REF_MAX_COMPONENTS, required
 *       { "type": "APM",                           1..64 printable ASCII, unique, required
 *         "digests": ["<64 hex>", ...],            0..DS_REF_MAX_DIGESTS; [] or absent = any
 *         "signers": ["<64 hex>", ...],            0..DS_REF_MAX_SIGNERS; [] or absent = any
 *         "min_version": "1.0.0",                  dotted numeric, optional
 *         "min_svn": 1 }                           0..2^63-1, optional
 *     ],
 *     "lifecycle": { "allow_provisioning": false },            optional (default false)
 *     "tamper": { "fail_on": ["intrusion"],                    optional, see below
 *                 "warn_on": ["voltage", "temperature"],
 *                 "max_count": 0,
 *                 "new_events": "fail" },                      "fail" (default) or "warn"
 *     "require_profile": "drot",                               "drot" (default) or "psa"
 *     "on_fail": "none"                                        "none" (default) or "quarantine"
 *   }
 *
 * Tamper bit names are the APM's (docs/apm-boot.md, T3): "voltage" (0x1),
 * "temperature" (0x2), "intrusion" (0x4), "locked" (0x8). A name may appear
 * in at most one of the two lists. Without a "tamper" object the defaults are
 * fail_on ["intrusion"], warn_on ["voltage", "temperature", "locked"], no
 * max_count. With one, absent lists are empty.
 *
 * "new_events" is the severity of a tamper count that rose since the device's
 * previous attestation (verify.h, step 9): the APM locks key use at a voltage
 * or temperature excursion and signs no token in that boot, so the count is
 * the server's only signed evidence of such an event. A count that went DOWN
 * is always FAIL, whatever this says.
 *
 * "on_fail" is the class's automatic action on a FAIL verdict (routes.h R5):
 * "quarantine" moves the device to quarantined in the transaction that
 * records the attestation. It is the first field of the per-class policy
 * document of DESIGN.md §6; the policy engine will take it over.
 *
 * Every error names the field as a JSON pointer (RFC 6901), e.g.
 * "/components/1/digests/0: not 64 hex digits".
 */
#ifndef DS_REFERENCE_H
#define DS_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/eat.h"

/* Limits: every array in the format has one, so the struct has a fixed size. */
#define DS_REF_MAX_COMPONENTS DROT_EAT_MAX_COMPONENTS
#define DS_REF_MAX_DIGESTS    16
#define DS_REF_MAX_SIGNERS    8
#define DS_REF_MAX_NAME       64          /* class, component type, min_version (bytes) */
#define DS_REF_MAX_JSON       (64 * 1024) /* larger documents are refused unparsed */
#define DS_REF_DIGEST_LEN     32

/* Tamper state bits as the APM reports them (claim -80004; docs/apm-boot.md T3). */
#define DS_TAMPER_VOLTAGE     0x1u
#define DS_TAMPER_TEMPERATURE 0x2u
#define DS_TAMPER_INTRUSION   0x4u
#define DS_TAMPER_LOCKED      0x8u

typedef struct ds_ref_component {
    char type[DS_REF_MAX_NAME + 1]; /* NUL-terminated measurement type, e.g. "APM" */
    size_t num_digests;             /* 0 = any digest */
    uint8_t digests[DS_REF_MAX_DIGESTS][DS_REF_DIGEST_LEN];
    size_t num_signers; /* 0 = any signer */
    uint8_t signers[DS_REF_MAX_SIGNERS][DS_REF_DIGEST_LEN];
    bool has_min_version;
    char min_version[DS_REF_MAX_NAME + 1]; /* valid dotted numeric (ds_version_compare) */
    bool has_min_svn;
    uint64_t min_svn;
} ds_ref_component;

/* Severity of a rise of the tamper count. Zero is FAIL, so a zeroed
 * reference fails rather than warns. */
typedef enum ds_ref_severity {
    DS_REF_SEV_FAIL = 0,
    DS_REF_SEV_WARN = 1,
} ds_ref_severity;

/* The class's automatic action on a FAIL verdict. Zero is none. */
typedef enum ds_ref_on_fail {
    DS_REF_ON_FAIL_NONE = 0,
    DS_REF_ON_FAIL_QUARANTINE = 1,
} ds_ref_on_fail;

typedef struct ds_reference {
    char class_name[DS_REF_MAX_NAME + 1];
    size_t num_components;
    ds_ref_component components[DS_REF_MAX_COMPONENTS];
    bool allow_provisioning; /* lifecycle 0x2000..0x20ff is WARN instead of FAIL */
    uint32_t tamper_fail;    /* DS_TAMPER_* bits that make the verdict FAIL */
    uint32_t tamper_warn;    /* DS_TAMPER_* bits that make it WARN */
    bool has_tamper_max_count;
    uint64_t tamper_max_count;         /* a larger tamper count is WARN */
    ds_ref_severity tamper_new_events; /* a tamper count above the previous attestation's */
    drot_eat_profile require_profile;
    ds_ref_on_fail on_fail; /* automatic action on a FAIL verdict */
} ds_reference;

/*
 * Parses json[0..len) (UTF-8, not necessarily NUL-terminated) into *out.
 * Returns 0 on success. On failure returns -1, zeroes *out, and writes a
 * NUL-terminated message naming the field into err[0..errlen) (err may be
 * NULL when errlen is 0). Duplicate keys, unknown fields, wrong types,
 * values out of range and documents over DS_REF_MAX_JSON bytes are refused.
 */
int ds_reference_parse(const char *json, size_t len, ds_reference *out, char *err, size_t errlen);

/* Every error of a parse: the field as a JSON pointer in the whole document
 * (opts->base prepended) and what is wrong with it. */
typedef void (*ds_ref_error_fn)(const char *pointer, const char *message, void *ctx);

/* How ds_reference_from_json reads the reference values embedded in a
 * larger document (the "reference" section of a policy, policy.h). */
typedef struct ds_ref_parse_opts {
    const char *base;         /* JSON pointer of the object in its document ("" or NULL: the root) */
    const char *class_name;   /* NULL: "class" is required, as in ds_reference_parse; else the class
                                 is this one, and a "class" field, if present, must name it */
    bool no_on_fail;          /* refuse "on_fail" (a policy has /actions/on_fail instead) */
    ds_ref_error_fn on_error; /* called for EVERY error, in document order; may be NULL */
    void *on_error_ctx;
} ds_ref_parse_opts;

/*
 * Parses an already decoded jansson object (a json_t *) into *out with the
 * same rules as ds_reference_parse, but without stopping at the first
 * error: every field that can be judged on its own is judged, and each
 * error goes to opts->on_error. Returns 0, or -1 (and *out zeroed) when
 * there was any error. opts may be NULL (no base, class required, no
 * callback).
 */
struct json_t;
int ds_reference_from_json(const struct json_t *obj, const ds_ref_parse_opts *opts, ds_reference *out);

/*
 * Compares two dotted numeric versions: one to DS_VERSION_MAX_PARTS decimal
 * parts of 1..9 digits separated by single dots ("1", "1.2", "10.0.3"; no
 * sign, no suffix such as "-rc1"). Parts compare as numbers, left to right,
 * and a missing part counts as 0, so "1.2" == "1.2.0" and "1.10" > "1.9".
 * Returns 0 and sets *cmp to -1, 0 or 1 (a < b, a == b, a > b), or -1 when
 * either string is not a dotted numeric version.
 */
#define DS_VERSION_MAX_PARTS 8
int ds_version_compare(const char *a, size_t alen, const char *b, size_t blen, int *cmp);

/* Name of one DS_TAMPER_* bit ("voltage", ...), or NULL for any other value. */
const char *ds_tamper_bit_name(uint32_t bit);

#endif /* DS_REFERENCE_H */
