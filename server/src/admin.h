/*
 * admin.h — the admin API of drot-server (docs/api.md "Admin API"): JSON
 * routes under /v1/admin/, reached through the http.c admin hook
 * (ds_http_set_admin), which has already required a client certificate of
 * the operator CA.
 *
 *   POST /v1/admin/devices                       bulk register (all or nothing)
 *   GET  /v1/admin/devices?class=&status=&limit=&offset=
 *   GET  /v1/admin/devices/{id}                  with last attestation, key history
 *   POST /v1/admin/devices/{id}/status           {"status", "reason"}
 *   GET  /v1/admin/devices/{id}/attestations?limit=
 *   PUT  /v1/admin/classes/{class}/reference     validated with ds_reference_parse
 *   GET  /v1/admin/classes/{class}/reference
 *
 * Invariants:
 *   A1. Bodies are JSON of at most DS_ADMIN_MAX_BODY bytes (413 beyond);
 *       every error is {"error": {"code": "...", "message": "..."}}.
 *   A2. Reference values are stored in the server's --reference directory
 *       as CLASS.json, written to a temporary file, fsync'ed and renamed
 *       (atomic), and replace the class's values the verifier uses at once.
 *       The store API has no reference table, so the database is not used.
 *   A3. Nothing is changed by a request that is refused.
 */
#ifndef DS_ADMIN_H
#define DS_ADMIN_H

#include <stddef.h>

#include "http.h"
#include "reference.h"
#include "routes.h"

#define DS_ADMIN_MAX_BODY (1024u * 1024u)

typedef struct ds_admin {
    ds_app *app;         /* its refs/n_refs point into this admin's array */
    const char *ref_dir; /* NULL: PUT reference is refused (409) */
    ds_reference *refs;  /* owned */
    size_t n_refs;
} ds_admin;

/* Copies refs[0..n) into the admin's own array and points app->refs at it.
 * 0, or -1 when out of memory. */
int ds_admin_init(ds_admin *adm, ds_app *app, const char *ref_dir, const ds_reference *refs, size_t n);
void ds_admin_free(ds_admin *adm);

/* The handler given to ds_http_set_admin (ctx: ds_admin *). */
void ds_admin_handle(ds_http_req *req, void *ctx);

#endif
