/*
 * apm_hal.h — the hardware abstraction of the APM firmware: what a board
 * (a port) must provide. The core (fw/src) reaches hardware only through
 * this table; it includes no OS header and allocates nothing.
 *
 * A port fills one apm_hal and passes it to apm_init (fw/include/apm/apm.h).
 * Every function gets the port's ctx back. The table is versioned: the core
 * refuses a table whose version it does not know.
 *
 * Persistent state lives in two stores:
 *
 *   OTP   (fuses) a byte array, every bit 0 when new. A bit goes 0 → 1 and
 *         never back. otp_write refuses, writing nothing, any value that
 *         would clear a bit that is set (APM_HAL_E_OTP_CLEAR).
 *   FLASH a byte array of flash_sectors sectors of flash_sector_size bytes;
 *         erased bytes read 0xFF. flash_erase sets one sector to 0xFF;
 *         flash_program writes bytes that MUST be erased
 *         (APM_HAL_E_NOT_ERASED otherwise, nothing written).
 *
 * Power-fail contract (what the core's commit rules rely on, and what the
 * sim port's power-cut injector reproduces):
 *
 *   P1. Every otp_write, flash_erase and flash_program is one "write". Power
 *       may fail during any write, or between any two.
 *   P2. A write interrupted by power loss leaves a prefix of it done: for
 *       otp_write, some leading bytes burned and the rest unchanged (within
 *       a byte, the bits burn together); for flash_program, a leading part
 *       of the bytes programmed; for flash_erase, the sector unchanged,
 *       erased, or (torn) any mix of old bytes and 0xFF.
 *   P3. After power loss the write returns APM_HAL_E_POWER, and so does
 *       every later write: the device is stopped until it boots again. A
 *       port on real hardware never returns, since the CPU is off.
 *   P4. Completed writes are durable: once a write has returned
 *       APM_HAL_OK, it survives any later power loss.
 *   P5. Reads never fail for power reasons and never change state.
 *
 * Nothing else is persistent: RAM (the apm_ctx) is lost at every boot.
 */
#ifndef APM_HAL_H
#define APM_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APM_HAL_VERSION 1u

typedef enum apm_hal_status {
    APM_HAL_OK = 0,
    APM_HAL_E_RANGE = -1,      /* offset or length outside the store */
    APM_HAL_E_OTP_CLEAR = -2,  /* an OTP write would clear a set bit: refused, nothing written */
    APM_HAL_E_NOT_ERASED = -3, /* flash program over bytes that are not erased: nothing written */
    APM_HAL_E_POWER = -4,      /* power lost during or before this write (P2, P3) */
    APM_HAL_E_IO = -5,         /* the backing store failed (sim: a file error) */
    APM_HAL_E_RNG = -6,        /* the TRNG failed its health test or has no entropy */
    APM_HAL_E_LINK = -7,       /* the link is closed or broken */
    APM_HAL_E_TIMEOUT = -8,    /* no byte arrived within the timeout */
} apm_hal_status;

/* What the tamper sensors read now. Excursion thresholds are the core's
 * policy (fw/src/tamper.c), not the port's. */
typedef struct apm_tamper_sensors {
    int32_t supply_mv; /* supply voltage, millivolts */
    int32_t temp_mc;   /* die temperature, milli-degrees Celsius */
    bool intrusion;    /* the enclosure switch or mesh reports an opening; latched by the port until read */
} apm_tamper_sensors;

typedef struct apm_hal {
    uint32_t version; /* APM_HAL_VERSION */
    void *ctx;

    /* Sizes, fixed for the device's life. */
    uint32_t otp_size;          /* bytes; the core needs APM_OTP_MIN_SIZE (fw/src/otp.h) */
    uint32_t flash_sector_size; /* bytes, a power of two */
    uint32_t flash_sectors;

    /* OTP. read: any range inside otp_size. write: value[0..len) is the new
     * content of OTP[off..off+len); it MUST keep every bit already set
     * (APM_HAL_E_OTP_CLEAR otherwise, nothing written); P1–P4 apply. */
    apm_hal_status (*otp_read)(void *ctx, uint32_t off, uint8_t *buf, uint32_t len);
    apm_hal_status (*otp_write)(void *ctx, uint32_t off, const uint8_t *value, uint32_t len);

    /* Flash. Offsets are absolute bytes. erase takes a sector index.
     * program: every target byte MUST read 0xFF first. P1–P5 apply. */
    apm_hal_status (*flash_read)(void *ctx, uint32_t off, uint8_t *buf, uint32_t len);
    apm_hal_status (*flash_erase)(void *ctx, uint32_t sector);
    apm_hal_status (*flash_program)(void *ctx, uint32_t off, const uint8_t *buf, uint32_t len);

    /* True random bytes (after the source's health test). The core seeds
     * its DRBG from here at boot and reseeds as it needs. */
    apm_hal_status (*trng)(void *ctx, uint8_t *buf, uint32_t len);

    /* Milliseconds since an arbitrary origin; never goes backwards while
     * powered. Not persistent and not trusted for security decisions
     * beyond timeouts. */
    uint64_t (*tick_ms)(void *ctx);

    /* The tamper sensors' current readings. */
    apm_hal_status (*tamper_read)(void *ctx, apm_tamper_sensors *out);

    /* The host link: a byte stream. read fills buf[0..len) completely or
     * fails (APM_HAL_E_TIMEOUT if nothing arrives for timeout_ms between
     * bytes; APM_HAL_E_LINK when closed). write sends all of buf. */
    apm_hal_status (*link_read)(void *ctx, uint8_t *buf, uint32_t len, uint32_t timeout_ms);
    apm_hal_status (*link_write)(void *ctx, const uint8_t *buf, uint32_t len);
} apm_hal;

#endif /* APM_HAL_H */
