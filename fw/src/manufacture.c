/*
 * manufacture.c — factory provisioning of the storage (manufacture.h, M1–M3).
 *
 * Writes of a first, uncut run with n anchors: 3 (identity) + n (anchors)
 * + 2 (the key store record: erase, program) + 1 (lifecycle) = n + 6.
 */
#include "manufacture.h"

#include "apm/apm.h"
#include "keystore.h"
#include "otp.h"

static apm_status check_inputs(apm_core *core, const uint8_t device_id[16], const uint8_t uds[32],
                               const uint8_t link_key[32], const uint8_t (*anchors)[32], size_t n_anchors)
{
    const apm_hal *hal = core->hal;
    apm_status st;

    if (device_id == NULL || uds == NULL || link_key == NULL || anchors == NULL || n_anchors == 0 ||
        n_anchors > APM_ANCHOR_SLOTS)
        return APM_E_ARG;
    if (core->otp.lifecycle != APM_LC_MANUFACTURING && core->otp.lifecycle != APM_LC_PROVISIONED)
        return APM_E_LIFECYCLE;
    if ((st = apm_otp_check_once(hal, APM_OTP_DEVICE_ID, device_id, 16)) != APM_OK ||
        (st = apm_otp_check_once(hal, APM_OTP_UDS, uds, 32)) != APM_OK ||
        (st = apm_otp_check_once(hal, APM_OTP_LINK_KEY, link_key, 32)) != APM_OK)
        return st;
    for (size_t i = 0; i < n_anchors; i++) {
        st = apm_otp_check_once(hal, APM_OTP_ANCHORS + 32u * (uint32_t)i, anchors[i], 32);
        if (st != APM_OK)
            return st;
    }
    return APM_OK;
}

/* see manufacture.h */
apm_status apm_manufacture_storage(apm_core *core, const uint8_t device_id[16], const uint8_t uds[32],
                                   const uint8_t link_key[32], const uint8_t (*anchors)[32], size_t n_anchors)
{
    apm_status st;

    if (core == NULL || core->hal == NULL)
        return APM_E_ARG;
    st = apm_core_load_otp(core);
    if (st != APM_OK)
        return st;
    st = check_inputs(core, device_id, uds, link_key, anchors, n_anchors);
    if (st != APM_OK)
        return st;

    st = apm_otp_burn_identity(core->hal, device_id, uds, link_key);
    for (size_t i = 0; st == APM_OK && i < n_anchors; i++)
        st = apm_otp_burn_anchor(core->hal, (uint32_t)i, anchors[i]);
    if (st != APM_OK)
        goto out;
    /* The record key from the uds as burned now: a boot after a cut inside
     * the identity write may have derived it from a torn uds. */
    st = apm_core_load_otp(core);
    if (st != APM_OK)
        goto out;
    st = apm_ks_create_initial(core);
    if (st != APM_OK)
        goto out;
    st = apm_otp_set_lifecycle(core->hal, APM_LC_PROVISIONED);
out : {
    apm_status st2 = apm_core_load_otp(core); /* O4, whatever happened */
    if (st == APM_OK)
        st = st2;
}
    return st;
}

/* see apm.h: one OTP write (the lifecycle bit), so a power cut either
 * leaves the device PROVISIONED or makes it DEPLOYED; a re-run completes it. */
apm_status apm_device_deploy(const apm_hal *hal)
{
    apm_core core;
    apm_status st;

    if (hal == NULL)
        return APM_E_ARG;
    st = apm_core_init(&core, hal);
    if (st != APM_OK)
        return st;
    switch (core.otp.lifecycle) {
    case APM_LC_MANUFACTURING: st = APM_E_NOT_PROVISIONED; break;
    case APM_LC_PROVISIONED:
    case APM_LC_DEPLOYED: st = APM_OK; break;
    default: st = APM_E_LIFECYCLE; break; /* tampered, decommissioned: never back */
    }
    if (st == APM_OK)
        st = apm_ks_load(&core);
    if (st == APM_OK && !core.drk.present)
        st = APM_E_NO_KEY; /* a device without its root key must not leave the factory */
    if (st == APM_OK && core.otp.lifecycle == APM_LC_PROVISIONED)
        st = apm_otp_set_lifecycle(hal, APM_LC_DEPLOYED);
    apm_core_wipe(&core);
    return st;
}
