/*
 * measure.h — the measured components of this boot.
 *
 * Entry 0 is the APM's own image (from boot.h). The host's boot stages add
 * theirs with EXTEND_MEASUREMENT (type, version, SHA-256, signer id), in
 * order; up to APM_MEASURE_MAX in all; the table lives in RAM and starts
 * empty at every boot, like a PCR bank. An entry is never changed or
 * removed once added (append-only), so a later stage cannot hide an earlier
 * one.
 */
#ifndef APM_MEASURE_H
#define APM_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "apm/apm_status.h"

#define APM_MEASURE_MAX      8u
#define APM_MEASURE_TEXT_MAX 32u

typedef struct apm_measurement {
    char type[APM_MEASURE_TEXT_MAX + 1]; /* "APM", "HOST-BL", "HOST-OS", … printable ASCII */
    char version[APM_MEASURE_TEXT_MAX + 1];
    uint8_t digest[32];
    uint8_t signer_id[32];
} apm_measurement;

typedef struct apm_measurements {
    apm_measurement m[APM_MEASURE_MAX];
    size_t count;
} apm_measurements;

void apm_measure_reset(apm_measurements *t);
/* Appends; APM_E_FULL when full, APM_E_ARG for empty/oversized/non-printable
 * text. *index = the new entry's index. */
apm_status apm_measure_add(apm_measurements *t, const char *type, size_t type_len, const char *version,
                           size_t version_len, const uint8_t digest[32], const uint8_t signer_id[32],
                           size_t *index);

#endif /* APM_MEASURE_H */
