/*
 * routes_revocation.c — see routes_revocation.h.
 */
#include "routes_revocation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revocation.h"
#include "routes_internal.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* see routes_revocation.h */
bool ds_rev_device_gate(ds_http_req *req, void *worker_ctx)
{
    ds_app *app = worker_ctx;
    bool revoked = true;
    char serial[41];
    hex(req->cert_serial, req->cert_serial_len, serial);
    ds_status st =
        ds_rev_is_revoked(app->store, DS_REV_CERT, req->cert_serial, req->cert_serial_len, &revoked);
    if (st != DS_OK) { /* fail closed: a certificate not known to be good is refused */
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot check the certificate's revocation: %s",
                            ds_status_str(st));
        return false;
    }
    if (revoked) {
        ds_http_reply_error(
            req, 403, DS_ERR_REVOKED,
            "the client certificate (serial %s) is revoked: the device must be re-provisioned "
            "by an operator",
            serial);
        return false;
    }
    return true;
}

/* see routes_revocation.h */
void ds_rev_route_list(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_device dev;
    char signer[DS_KEY_NAME_MAX], why[256];
    ds_rev_list *l = malloc(sizeof *l);
    uint8_t *resigned = malloc(DROT_REVOCATION_SIGNED_MAX);
    size_t rlen = 0;
    if (l == NULL || resigned == NULL) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "out of memory");
        goto out;
    }
    ds_status st = ds_device_get(app->store, req->device_id, &dev);
    if (st == DS_OK)
        st = ds_rev_list_current(app->store, l);
    if (st == DS_E_NOT_FOUND) {
        ds_http_reply_error(req, 404, DS_ERR_NOT_FOUND, "%s",
                            ds_store_error(app->store)[0] ? ds_store_error(app->store) : "not found");
        goto out;
    }
    if (st != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        goto out;
    }
    ds_http_shared_lock(req->http, true); /* key custody is single-threaded */
    ds_rt_signer_for(app, &dev, signer);
    int rc = strcmp(signer, l->signer) == 0
                 ? 1
                 : ds_rev_resign(app->keys, signer, l, resigned, DROT_REVOCATION_SIGNED_MAX, &rlen, why,
                                 sizeof why);
    ds_http_shared_unlock(req->http);
    if (rc == 0)
        ds_http_reply_cbor(req, 200, resigned, rlen);
    else
        ds_http_reply_cbor(req, 200, l->signed_msg, l->signed_len); /* rc < 0: the device's key is revoked */
out:
    free(l);
    free(resigned);
}
