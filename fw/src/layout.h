/*
 * layout.h — how the APM core uses the HAL's flash (internal).
 *
 *   sectors [0, 8)    records (records.h): 4 ids x 2 copies
 *   sector  8         firmware slot A: the APM image's signed manifest
 *   sectors [9, 33)   firmware slot A: the APM image (up to 24 sectors)
 *   sector  33        firmware slot B: manifest
 *   sectors [34, 58)  firmware slot B: image
 *
 * Which slot boots is the firmware-state record's decision (fwstate.h): slot
 * A until an install has been confirmed into B; an install always writes the
 * slot that is not running.
 *
 * A slot's manifest sector holds a 12-byte header: magic "DFWM", version 1,
 * three zero bytes, manifest length (uint32 BE); then the manifest (an authority-signed
 * COSE_Sign1, common/include/drot/manifest.h). Its image sectors hold the
 * image bytes from the first image sector on; the manifest says how many.
 *
 * The core needs flash_sector_size == APM_FLASH_SECTOR_SIZE and at least
 * APM_FLASH_MIN_SECTORS sectors (apm_init checks).
 */
#ifndef APM_LAYOUT_H
#define APM_LAYOUT_H

#define APM_FLASH_SECTOR_SIZE 4096u
#define APM_FLASH_MIN_SECTORS 58u

#define APM_FW_SLOT_A_MANIFEST 8u
#define APM_FW_SLOT_A_IMAGE    9u
#define APM_FW_SLOT_B_MANIFEST 33u
#define APM_FW_SLOT_B_IMAGE    34u
#define APM_FW_IMAGE_SECTORS   24u
#define APM_FW_IMAGE_MAX       (APM_FW_IMAGE_SECTORS * APM_FLASH_SECTOR_SIZE)
#define APM_FW_MANIFEST_MAX    (APM_FLASH_SECTOR_SIZE - 12u)

/* Slot numbers (0 = A, 1 = B) and their sectors. */
#define APM_FW_SLOT_A           0u
#define APM_FW_SLOT_B           1u
#define APM_FW_SLOTS            2u
#define APM_FW_SLOT_MANIFEST(s) ((s) == APM_FW_SLOT_B ? APM_FW_SLOT_B_MANIFEST : APM_FW_SLOT_A_MANIFEST)
#define APM_FW_SLOT_IMAGE(s)    ((s) == APM_FW_SLOT_B ? APM_FW_SLOT_B_IMAGE : APM_FW_SLOT_A_IMAGE)

#endif /* APM_LAYOUT_H */
