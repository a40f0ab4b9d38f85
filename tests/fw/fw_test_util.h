/*
 * fw_test_util.h — helpers for the APM core tests (boot, tamper, attest):
 * a simulated device in a temporary state directory, manufactured with
 * fixed test authority keys, with a signed APM image in slot A, booted the
 * way the firmware boots (core, key store, boot check, measurement, tamper).
 *
 * Every helper asserts (cmocka) on a failure that is not the point of a test.
 */
#ifndef FW_TEST_UTIL_H
#define FW_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest.h"
#include "boot.h"
#include "core.h"
#include "fwstate.h"
#include "measure.h"
#include "sim_hal.h"
#include "tamper.h"

/* Test authority keys: fixed scalars, so every run signs the same way. */
#define FWT_NKEYS     3
#define FWT_IMAGE_LEN 10000u /* three sectors, the last one partly */
#define FWT_TOKEN_CAP APM_TOKEN_MAX

typedef struct fwt_dev {
    char dir[512];
    apm_sim sim;
    bool sim_open;
    apm_core core;
    bool core_ready;
    apm_boot_state boot;
    apm_fw_state fw; /* fwstate.h: record, running slot, install session */
    apm_status boot_status;
    apm_measurements meas;
    apm_tamper_state tamper;
    apm_status tamper_init_status;
    uint8_t boot_seed[32];
} fwt_dev;

extern const uint8_t FWT_DEVICE_ID[16];

/* Key k (0..FWT_NKEYS-1): private, public, SHA-256 of the public key. */
void fwt_key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32]);

/* The test image (deterministic bytes) and its SHA-256. */
const uint8_t *fwt_image(void);
void fwt_image_digest(uint8_t digest[32]);

/* A manifest signed by key k into out[0..cap); returns its length. */
size_t fwt_manifest(int k, const char *component, const char *version, uint32_t svn, const uint8_t digest[32],
                    uint32_t size, uint8_t *out, size_t cap);

/* Creates the state directory and manufactures the device: fuses (identity,
 * anchors = hashes of keys[0..nkeys), a lifecycle past manufacturing) and
 * the first DRK. Leaves the device closed. */
void fwt_create(fwt_dev *d, const int *keys, size_t nkeys);

/* fwt_create with anchors {key 0, key 1}, then installs the test image with
 * a manifest by key 0 (component "APM", version "1.2.3", svn 1), then boots.
 * The boot must pass. */
void fwt_create_good(fwt_dev *d);

/* Opens the state directory and boots: apm_core_init, apm_ks_load,
 * apm_fw_boot (slot selection and verification, fwstate.h), the APM
 * measurement (when the manifest verified), apm_tamper_init, the boot seed,
 * and the boot's tamper poll. Returns the boot verdict's reason (also in
 * d->boot_status), or APM_E_POWER when power was cut at a write of the slot
 * selection (the boot stops there, as the device would). */
apm_status fwt_boot(fwt_dev *d);
/* Power off (wipe RAM, close files) and boot again. */
apm_status fwt_reboot(fwt_dev *d);
/* Power off without booting again. */
void fwt_power_off(fwt_dev *d);
/* Power off and delete the state directory. */
void fwt_destroy(fwt_dev *d);

/* cmocka group teardown: removes every state directory still left. */
int fwt_group_teardown(void **state);

/* Installs manifest and image into slot A of a booted device. */
void fwt_install(fwt_dev *d, const uint8_t *manifest, size_t mlen, const uint8_t *image, size_t ilen);

/* apm_attest_token with the device's inputs. */
apm_status fwt_token(fwt_dev *d, const uint8_t *nonce, size_t nonce_len, uint32_t profile, uint8_t *out,
                     size_t cap, size_t *out_len);

/* Sets the simulated sensors (nominal: 3300 mV, 25000 m°C, no intrusion). */
void fwt_sensors(fwt_dev *d, int32_t mv, int32_t mc, bool intrusion);

#endif /* FW_TEST_UTIL_H */
