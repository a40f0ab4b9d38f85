/*
 * routes_rotate.h — the device routes of a DRoT rotation and the
 * reconciliation every attestation runs (routes_rotate.c, docs/drot.md).
 */
#ifndef DS_ROUTES_ROTATE_H
#define DS_ROUTES_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "reference.h"
#include "routes.h"
#include "store.h"

/* POST /v1/device/rotate/begin and /v1/device/rotate/receipt (device
 * certificate; listed in routes.c's ds_device_routes). */
void ds_rotate_route_begin(ds_http_req *req, void *ctx);
void ds_rotate_route_receipt(ds_http_req *req, void *ctx);
/* POST /v1/device/anchor/step: one step of a trust-anchor rotation job. */
void ds_rotate_route_anchor_step(ds_http_req *req, void *ctx);

/* Called by the attest route after its challenge is consumed and before
 * the token is verified: if the device has an ISSUED rotation job, fresh
 * evidence under the job's KeyA at epoch + 1 (verify.h V4) completes it and
 * *dev is reloaded (now holding KeyA); a token signed by the old key sends
 * the job back for another attempt (J3, J4). Otherwise nothing happens. */
void ds_rotate_reconcile(ds_app *app, ds_http_req *req, ds_device *dev, const uint8_t challenge[32],
                         const uint8_t *token, size_t token_len);

/* True with *job when the device has a PENDING rotation job: the attest
 * answer then names it (key 5) so that the agent runs it. */
bool ds_rotate_open_job(ds_app *app, const ds_device *dev, ds_job *job);

#endif
