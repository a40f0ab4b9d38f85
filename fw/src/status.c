/* see apm/apm_status.h */
#include "apm/apm_status.h"

#include "drot/status.h"

const char *apm_status_str(apm_status st)
{
    if (st < 0 && st > -100)
        return drot_status_str((drot_status)st);
    switch (st) {
    case APM_OK: return "ok";
    case APM_E_ARG: return "bad argument or malformed request";
    case APM_E_HAL: return "hardware access failed";
    case APM_E_POWER: return "power lost during a write";
    case APM_E_OTP: return "fuse write refused or fuses inconsistent";
    case APM_E_CORRUPT: return "no valid copy of a flash record";
    case APM_E_EXHAUSTED: return "counter or slot exhausted";
    case APM_E_NOT_PROVISIONED: return "device not provisioned";
    case APM_E_NO_KEY: return "no usable device root key";
    case APM_E_LOCKED: return "key use locked by a tamper event";
    case APM_E_LIFECYCLE: return "not allowed in this lifecycle state";
    case APM_E_BOOT: return "firmware image did not verify";
    case APM_E_ROLLBACK: return "version below the anti-rollback fuse";
    case APM_E_ANCHOR: return "signer is not a trusted, unrevoked anchor";
    case APM_E_IMAGE: return "image does not match its manifest";
    case APM_E_FULL: return "table full";
    case APM_E_DENIED: return "refused by policy";
    case APM_E_RNG: return "random source failed";
    case APM_E_NONCE: return "no outstanding rotation nonce, or not this one";
    case APM_E_WRONG_DEVICE: return "instruction for another device";
    case APM_E_STALE: return "instruction not for the current epoch + 1";
    case APM_E_KEY_MISMATCH: return "key does not match the one named";
    case APM_E_REVOKED: return "device root key revoked by the revocation list";
    case APM_E_FW_STATE: return "not possible in the current firmware install state";
    case APM_E_FW_ORDER: return "firmware chunk out of order (gap or overlap)";
    case APM_E_NOT_MEASURED: return "the verified image is not in this boot's measurements";
    case APM_E_COMPONENT: return "component not installable on this device";
    }
    return "unknown status";
}
