/*
 * routes_verify.h — a narrow bridge from the routes to the verifier.
 *
 * routes.c works with the store's types; this bridge hands it the
 * verifier's result in plain types, so the routes depend on one small
 * function rather than on the verifier's structures.
 */
#ifndef DS_ROUTES_VERIFY_H
#define DS_ROUTES_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reference.h"

#define DS_CHECK_MAX_REASONS 16
#define DS_CHECK_REASON_MAX  232 /* "<code name>: <text>" */

/* What the registry holds about the device, in plain types. */
typedef struct ds_check_device {
    uint8_t device_id[16];
    uint8_t drk_pub[65]; /* current DRK */
    uint64_t epoch;
    bool quarantined;      /* adds the verifier's WARN */
    bool has_tamper_count; /* the tamper count of its last fresh drot-profile token */
    uint64_t tamper_count;
} ds_check_device;

typedef struct ds_check {
    int verdict; /* 1 PASS, 2 WARN, 3 FAIL */
    size_t num_reasons;
    /* one spare slot: the routes append the automatic action, if any */
    char reasons[DS_CHECK_MAX_REASONS + 1][DS_CHECK_REASON_MAX];
    bool is_fail[DS_CHECK_MAX_REASONS + 1]; /* the reason's severity is FAIL */
    bool has_digest;
    uint8_t digest[32];
    bool fresh;            /* the verifier's fresh_evidence (verify.h V4) */
    bool has_tamper_count; /* fresh drot-profile token: its tamper count (the new baseline) */
    uint64_t tamper_count;
} ds_check;

/* Verifies a token (ds_verify_token) for this device. Fills *out. */
void ds_check_token(const uint8_t *token, size_t len, const uint8_t challenge[32], const uint8_t exporter[32],
                    const ds_check_device *dev, const ds_reference *ref, ds_check *out);

#endif
