/*
 * core.c — boot of the shared core state: the HAL table check, the DRBG,
 * the fuse view and the record key (core.h).
 *
 * Secrets held here: the DRBG state, rec_key, the DRK (keystore.c), and, for
 * a moment, the TRNG seed and the uds. The seed and the uds live only in
 * locals wiped at the one exit of the function that reads them.
 */
#include "core.h"

#include <string.h>

#include "layout.h"
#include "revocation.h"

#define CORE_SEED_ENTROPY 48u
#define CORE_SEED_NONCE   16u

static const uint8_t CORE_PERS[] = {'d', 'r', 'o', 't', '-', 'a', 'p', 'm'};
static const uint8_t REC_KEY_INFO[] = "drot-apm records v1";

/* see core.h */
apm_status apm_from_hal(apm_hal_status st)
{
    switch (st) {
    case APM_HAL_OK: return APM_OK;
    case APM_HAL_E_POWER: return APM_E_POWER;
    case APM_HAL_E_OTP_CLEAR: return APM_E_OTP;
    default: return APM_E_HAL;
    }
}

static apm_status check_hal(const apm_hal *hal)
{
    if (hal->version != APM_HAL_VERSION)
        return APM_E_ARG;
    if (hal->otp_read == NULL || hal->otp_write == NULL || hal->flash_read == NULL ||
        hal->flash_erase == NULL || hal->flash_program == NULL || hal->trng == NULL || hal->tick_ms == NULL)
        return APM_E_ARG;
    if (hal->otp_size < APM_OTP_MIN_SIZE || hal->flash_sector_size != APM_FLASH_SECTOR_SIZE ||
        hal->flash_sectors < APM_FLASH_MIN_SECTORS)
        return APM_E_ARG;
    return APM_OK;
}

static apm_status seed_drbg(apm_core *core)
{
    uint8_t seed[CORE_SEED_ENTROPY + CORE_SEED_NONCE];
    apm_status st = APM_E_RNG;

    if (core->hal->trng(core->hal->ctx, seed, sizeof seed) != APM_HAL_OK)
        goto out;
    if (drot_drbg_init(&core->drbg, seed, CORE_SEED_ENTROPY, seed + CORE_SEED_ENTROPY, CORE_SEED_NONCE,
                       CORE_PERS, sizeof CORE_PERS) != DROT_OK)
        goto out;
    core->drbg_ready = true;
    st = APM_OK;
out:
    drot_wipe(seed, sizeof seed);
    return st;
}

/* see core.h */
apm_status apm_core_load_otp(apm_core *core)
{
    uint8_t uds[32];
    apm_status st;

    drot_wipe(core->rec_key, sizeof core->rec_key);
    core->rec_key_ready = false;
    st = apm_otp_load(core->hal, &core->otp);
    if (st != APM_OK || !core->otp.uds_set)
        goto out;
    st = apm_otp_read_uds(core->hal, uds);
    if (st != APM_OK)
        goto out;
    st = (apm_status)drot_hkdf_sha256(NULL, 0, uds, sizeof uds, REC_KEY_INFO, sizeof REC_KEY_INFO - 1,
                                      core->rec_key, sizeof core->rec_key);
    if (st != APM_OK)
        goto out;
    core->rec_key_ready = true;
out:
    drot_wipe(uds, sizeof uds);
    return st;
}

/* see core.h */
apm_status apm_core_init(apm_core *core, const apm_hal *hal)
{
    apm_status st;

    if (core == NULL)
        return APM_E_ARG;
    memset(core, 0, sizeof *core);
    if (hal == NULL)
        return APM_E_ARG;
    st = check_hal(hal);
    if (st != APM_OK)
        goto out;
    core->hal = hal;
    st = seed_drbg(core);
    if (st != APM_OK)
        goto out;
    st = apm_core_load_otp(core);
    if (st == APM_OK)
        st = apm_rev_load(core);
out:
    if (st != APM_OK)
        apm_core_wipe(core);
    return st;
}

/* see core.h */
void apm_core_wipe(apm_core *core)
{
    if (core == NULL)
        return;
    if (core->drbg_ready)
        drot_drbg_release(&core->drbg);
    drot_wipe(core, sizeof *core);
}

/* see core.h */
apm_status apm_core_random(apm_core *core, uint8_t *out, uint32_t len)
{
    if (core == NULL || (out == NULL && len > 0))
        return APM_E_ARG;
    if (!core->drbg_ready)
        return APM_E_RNG;
    while (len > 0) {
        uint32_t n = len > 65536u ? 65536u : len;
        if (drot_drbg_generate(&core->drbg, out, n) != DROT_OK) {
            drot_wipe(out, len);
            return APM_E_RNG;
        }
        out += n;
        len -= n;
    }
    return APM_OK;
}

static drot_status core_rng_fill(void *ctx, uint8_t *out, size_t len)
{
    if (len > UINT32_MAX)
        return DROT_E_ARG;
    return apm_core_random(ctx, out, (uint32_t)len) == APM_OK ? DROT_OK : DROT_E_RNG;
}

/* see core.h */
drot_rng apm_core_rng(apm_core *core)
{
    drot_rng rng = {.fill = core_rng_fill, .ctx = core};
    return rng;
}
