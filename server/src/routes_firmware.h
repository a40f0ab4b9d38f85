/*
 * routes_firmware.h — the device side of firmware distribution
 * (routes_firmware.c; docs/api.md "Firmware", docs/firmware.md):
 *
 *   attest answer key 5     {1: job id, 2: component, 3: version, 4: image sha-256,
 *                            5: size, 6: signed manifest, 7: job state (2 offered, 3 installed)}
 *   GET  /v1/device/firmware/{sha256}   the image, whole (200) or one byte range (206, 416)
 *   POST /v1/device/firmware/report     {1: job id, 2: state (3 installed, 4 confirmed,
 *                                        5 failed), ? 3: reason} → {1: job state}
 *
 * Invariants:
 *   RF1. An image is served only to a device (client certificate of the
 *        device CA, registered, not revoked or decommissioned) that has an
 *        offered or installed job whose release names it; any other request
 *        learns nothing about the repository (the same 404 as for no image).
 *   RF2. An offer is made only in the answer to a PASS attestation (routes.h
 *        R6 for firmware): the claim (firmware.h fw_job_offer) reads the
 *        token that was just verified.
 *   RF3. A report moves only the reporting device's own job, along the job
 *        state machine; confirmed only with F6's evidence (firmware.h).
 *   RF4. A failure of the firmware step never fails the attestation: the
 *        answer then carries no offer, and the server logs why.
 */
#ifndef DS_ROUTES_FIRMWARE_H
#define DS_ROUTES_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/cbor.h"
#include "firmware.h"
#include "http.h"
#include "routes.h"

#define DS_FW_ATTEST_KEY 5 /* the offer's key in the attest answer */

/* What the attest answer offers. */
typedef struct ds_fw_offer {
    fw_job job;
    fw_release rel;
} ds_fw_offer;

/* The attest route's step after a PASS verdict on token (RF2, RF4): true
 * with *offer when the device has a firmware job to carry out now. */
bool ds_fw_attest_offer(ds_app *app, const ds_device *dev, const uint8_t *token, size_t token_len,
                        ds_fw_offer *offer);

/* Writes key DS_FW_ATTEST_KEY and the offer map into the attest answer. */
void ds_fw_put_offer(drot_cbor_writer *w, const ds_fw_offer *offer);

/* GET /v1/device/firmware/{sha256} (a prefix route) and POST
 * /v1/device/firmware/report (device certificate). */
void ds_fw_route_image(ds_http_req *req, void *ctx);
void ds_fw_route_report(ds_http_req *req, void *ctx);

#endif
