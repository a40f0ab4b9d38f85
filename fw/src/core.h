/*
 * core.h — the state every module of the APM core shares (internal).
 *
 * One apm_core per device, owned by the caller of apm_init (no malloc); RAM
 * only, rebuilt at every boot from OTP and flash. Modules take an apm_core *
 * and reach hardware only through core->hal.
 */
#ifndef APM_CORE_H
#define APM_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "apm/apm_status.h"
#include "apm_hal.h"
#include "drot_crypto.h"
#include "otp.h"

/* The device root key as the key store holds it in RAM after boot. */
typedef struct apm_drk {
    bool present;
    uint32_t epoch;
    drot_p256_priv priv;
    drot_p256_pub pub;
} apm_drk;

/* What the APM keeps of the stored revocation list (revocation.h): read
 * from its record at core init and replaced only by apm_rev_set, after the
 * record is written. RAM only; the record is the truth. */
#define APM_REV_MAX_AUTH 16u /* = DROT_REVOCATION_MAX_AUTHORITIES */
typedef struct apm_rev {
    uint64_t version;                   /* 0: no list stored */
    uint8_t digest[32];                 /* SHA-256 of the stored list's payload */
    uint32_t n_auth;                    /* revoked authority key hashes, ≤ APM_REV_MAX_AUTH */
    uint8_t auth[APM_REV_MAX_AUTH][32]; /* SHA-256 of each revoked authority public key */
    bool drk_revoked;                   /* the list revokes the DRK whose hash is drk_hash */
    uint8_t drk_hash[32];               /* SHA-256 of the DRK active when the list was stored */
} apm_rev;

typedef struct apm_core {
    const apm_hal *hal;
    drot_drbg_ctx drbg; /* seeded from hal->trng at boot */
    bool drbg_ready;
    uint8_t rec_key[32]; /* records.h: HKDF(uds, "drot-apm records v1"); set at boot */
    bool rec_key_ready;
    apm_otp otp; /* cached fuses (otp.h O4) */
    apm_drk drk; /* keystore.h: the active DRK, if any */
    apm_rev rev; /* revocation.h: the stored revocation list, as far as the APM needs it */
} apm_core;

/* Boots the core on hal: checks the table (version APM_HAL_VERSION, every
 * storage function, trng and tick_ms present, otp_size ≥ APM_OTP_MIN_SIZE,
 * flash_sector_size == APM_FLASH_SECTOR_SIZE, flash_sectors ≥
 * APM_FLASH_MIN_SECTORS: APM_E_ARG otherwise), seeds the DRBG from hal->trng
 * (48 bytes of entropy, 16 of nonce, personalization "drot-apm"; APM_E_RNG if
 * the TRNG fails), loads the fuses (otp.h) and, if the uds is burned, derives
 * rec_key and reads the stored revocation list into rev (revocation.h
 * apm_rev_load; a flash read failure fails the init). Writes nothing. core's previous content is ignored (it
 * MUST NOT hold a live DRBG: apm_core_wipe it first). On failure core is wiped. The key store is not loaded
 * here (keystore.h apm_ks_load). */
apm_status apm_core_init(apm_core *core, const apm_hal *hal);

/* Re-reads the fuses into core->otp (otp.h O4) and derives rec_key again
 * from the uds as burned now (or clears it if the uds is blank). Called after
 * every fuse write; manufacturing relies on the re-derivation after it burns
 * the uds. */
apm_status apm_core_load_otp(apm_core *core);

/* Releases the DRBG and wipes every secret in core (rec_key, the DRK). Safe
 * on a core that init refused. */
void apm_core_wipe(apm_core *core);

/* Random bytes from the core's DRBG (seeded from the TRNG). */
apm_status apm_core_random(apm_core *core, uint8_t *out, uint32_t len);

/* A drot_rng drawing from the core's DRBG. */
drot_rng apm_core_rng(apm_core *core);

/* Translates a HAL status: power loss → APM_E_POWER, otp clear → APM_E_OTP,
 * anything else non-OK → APM_E_HAL. */
apm_status apm_from_hal(apm_hal_status st);

#endif /* APM_CORE_H */
