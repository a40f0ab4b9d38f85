/*
 * fw_inst_util.h — helpers for the firmware-install tests
 * (test_fw_install.c, test_fw_install_sweep.c) on top of fw_test_util and
 * fw_rot_util: images and manifests signed by the test authority keys, a
 * whole install session (BEGIN, CHUNK × n, FINISH) through fwinstall.h, and
 * a complete APM update (install, activate, test boot, confirm).
 *
 * Every helper asserts (cmocka) on a failure that is not the point of a test.
 */
#ifndef FW_INST_UTIL_H
#define FW_INST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_rot_util.h"
#include "fw_test_util.h"
#include "fwinstall.h"
#include "fwstate.h"

/* The second and third APM images (slot B, then A again): four and five
 * sectors, the last ones partly, so the sector boundaries fall inside chunks. */
#define FWI_B_LEN 13000u
#define FWI_C_LEN 17001u

/* Deterministic image bytes of variant v (1, 2, …), len ≤ 64 KiB. */
const uint8_t *fwi_image(int v, size_t len);
void fwi_digest(const uint8_t *img, size_t len, uint8_t digest[32]);

/* A manifest for img[0..len) by test key k (component, version, svn). */
size_t fwi_manifest(int k, const char *component, const char *version, uint32_t svn, const uint8_t *img,
                    size_t len, uint8_t *out, size_t cap);

/* The environment of d (boot verdict, tamper state, measurements). */
apm_fw_env fwi_env(fwt_dev *d);

/* A whole session: BEGIN(mode), CHUNKs of `chunk` bytes (0: the APM's
 * size), FINISH. Returns the first status that is not APM_OK (the one of
 * the step that refused), APM_OK with *out filled when all passed. */
apm_status fwi_session(fwt_dev *d, uint32_t mode, const uint8_t *manifest, size_t mlen, const uint8_t *img,
                       size_t ilen, size_t chunk, drot_link_fw_image *out);

/* FW_STATUS of d. */
void fwi_status(fwt_dev *d, drot_link_fw_status *st);

/* A complete APM update on a booted device: install img into the inactive
 * slot (manifest by key 0), activate (reset requested, nothing written),
 * reboot into the trial (TRYING, running the other slot, verdict PASS,
 * measurement 0 = the new image), confirm (active = the new slot, svn[APM] =
 * svn), reboot (runs it, trial NONE). */
void fwi_update_apm(fwt_dev *d, const uint8_t *img, size_t len, const char *version, uint32_t svn);

#endif /* FW_INST_UTIL_H */
