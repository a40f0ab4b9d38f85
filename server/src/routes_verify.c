/*
 * routes_verify.c — see routes_verify.h.
 */
#include "routes_verify.h"

#include <stdio.h>
#include <string.h>

#include "verify.h"

/* see routes_verify.h */
void ds_check_token(const uint8_t *token, size_t len, const uint8_t challenge[32], const uint8_t exporter[32],
                    const ds_check_device *device, const ds_reference *ref, ds_check *out)
{
    ds_verify_result res; /* a few KiB, on the calling worker's stack: no shared state */
    ds_device_record dev;
    memset(&dev, 0, sizeof dev);
    memcpy(dev.device_id, device->device_id, sizeof dev.device_id);
    memcpy(dev.drk_pub.q, device->drk_pub, sizeof dev.drk_pub.q);
    dev.epoch = device->epoch;
    dev.status = device->quarantined ? DS_VERIFY_DEVICE_QUARANTINED : DS_VERIFY_DEVICE_ACTIVE;
    ds_verify_input in;
    memset(&in, 0, sizeof in);
    in.token = token;
    in.token_len = len;
    memcpy(in.challenge, challenge, sizeof in.challenge);
    memcpy(in.exporter, exporter, sizeof in.exporter);
    in.device = &dev;
    in.reference = ref;
    in.required_profile = DROT_EAT_PROFILE_NONE;
    in.has_prev_tamper_count = device->has_tamper_count;
    in.prev_tamper_count = device->tamper_count;
    ds_verdict v = ds_verify_token(&in, &res);
    memset(out, 0, sizeof *out);
    out->verdict = v == DS_VERDICT_PASS ? 1 : v == DS_VERDICT_WARN ? 2 : 3;
    out->num_reasons = res.num_reasons < DS_CHECK_MAX_REASONS ? res.num_reasons : DS_CHECK_MAX_REASONS;
    for (size_t i = 0; i < out->num_reasons; i++) {
        snprintf(out->reasons[i], DS_CHECK_REASON_MAX, "%s: %s", ds_reason_code_str(res.reasons[i].code),
                 res.reasons[i].text);
        out->is_fail[i] = res.reasons[i].severity == DS_SEV_FAIL;
    }
    out->has_digest = res.has_evidence_digest;
    memcpy(out->digest, res.evidence_digest, sizeof out->digest);
    out->fresh = res.fresh_evidence;
    /* Only a fresh token of this device moves the stored count (V4), and
     * only one that storage can hold (the verifier FAILs a larger one). */
    out->has_tamper_count = res.fresh_evidence && res.claims.has_drot_claims &&
                            res.claims.tamper_count <= DS_VERIFY_TAMPER_COUNT_MAX;
    out->tamper_count = out->has_tamper_count ? res.claims.tamper_count : 0;
}
