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

typedef struct ds_check {
    int verdict; /* 1 PASS, 2 WARN, 3 FAIL */
    size_t num_reasons;
    char reasons[DS_CHECK_MAX_REASONS][DS_CHECK_REASON_MAX];
    bool has_digest;
    uint8_t digest[32];
} ds_check;

/* Verifies a token (ds_verify_token) for the device with this registered
 * DRK and epoch; quarantined adds the verifier's WARN. Fills *out. */
void ds_check_token(const uint8_t *token, size_t len, const uint8_t challenge[32], const uint8_t exporter[32],
                    const uint8_t device_id[16], const uint8_t drk_pub[65], uint64_t epoch, bool quarantined,
                    const ds_reference *ref, ds_check *out);

#endif
