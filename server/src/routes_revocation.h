/*
 * routes_revocation.h — the device side of revocation in drot-server
 * (docs/revocation.md, docs/api.md):
 *
 *   GET /v1/device/revocations   device cert   → the current signed list, the
 *                                               CBOR bytes as devices take them
 *                                               (application/cbor; 404 when no
 *                                               list was published yet)
 *
 * and the device gate (http.h ds_http_set_device_gate) that refuses, on every
 * device route, a client certificate whose serial is revoked: 403 with code
 * DS_ERR_REVOKED, before the route runs.
 *
 * The list served is the stored one when it was signed by the authority key
 * the device obeys (routes_internal.h ds_rt_signer_for); otherwise the same
 * payload is signed again by that key (same version and content: devices
 * compare content by digest, not signature), unless the list revokes that
 * key, in which case the stored list is served as it is.
 */
#ifndef DS_ROUTES_REVOCATION_H
#define DS_ROUTES_REVOCATION_H

#include <stdbool.h>

#include "http.h"

void ds_rev_route_list(ds_http_req *req, void *ctx);
bool ds_rev_device_gate(ds_http_req *req, void *worker_ctx);

#endif
