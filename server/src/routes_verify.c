/*
 * routes_verify.c — see routes_verify.h.
 */
#include "routes_verify.h"

#include <stdio.h>
#include <string.h>

#include "verify.h"

/* see routes_verify.h */
void ds_check_token(const uint8_t *token, size_t len, const uint8_t challenge[32], const uint8_t exporter[32],
                    const uint8_t device_id[16], const uint8_t drk_pub[65], uint64_t epoch, bool quarantined,
                    const ds_reference *ref, ds_check *out)
{
    ds_verify_result res; /* a few KiB, on the calling worker's stack: no shared state */
    ds_device_record dev;
    memset(&dev, 0, sizeof dev);
    memcpy(dev.device_id, device_id, sizeof dev.device_id);
    memcpy(dev.drk_pub.q, drk_pub, sizeof dev.drk_pub.q);
    dev.epoch = epoch;
    dev.status = quarantined ? DS_VERIFY_DEVICE_QUARANTINED : DS_VERIFY_DEVICE_ACTIVE;
    ds_verify_input in;
    memset(&in, 0, sizeof in);
    in.token = token;
    in.token_len = len;
    memcpy(in.challenge, challenge, sizeof in.challenge);
    memcpy(in.exporter, exporter, sizeof in.exporter);
    in.device = &dev;
    in.reference = ref;
    in.required_profile = DROT_EAT_PROFILE_NONE;
    ds_verdict v = ds_verify_token(&in, &res);
    memset(out, 0, sizeof *out);
    out->verdict = v == DS_VERDICT_PASS ? 1 : v == DS_VERDICT_WARN ? 2 : 3;
    for (size_t i = 0; i < res.num_reasons && i < DS_CHECK_MAX_REASONS; i++)
        snprintf(out->reasons[i], DS_CHECK_REASON_MAX, "%s: %s", ds_reason_code_str(res.reasons[i].code),
                 res.reasons[i].text);
    out->num_reasons = res.num_reasons < DS_CHECK_MAX_REASONS ? res.num_reasons : DS_CHECK_MAX_REASONS;
    out->has_digest = res.has_evidence_digest;
    memcpy(out->digest, res.evidence_digest, sizeof out->digest);
}
