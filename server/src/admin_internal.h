/*
 * admin_internal.h — what admin.c shares with the other admin route files
 * (admin_rotate.c). Not for use outside server/src/admin*.c.
 */
#ifndef DS_ADMIN_INTERNAL_H
#define DS_ADMIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "admin.h"
#include "store.h"

/* Replies with j (consumed) as JSON. */
void ds_adm_reply_json(ds_http_req *req, int status, json_t *j);
/* Replies {"error": {"code", "message"}}. */
void ds_adm_fail(ds_http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A store failure as an HTTP error (404, 409, 400 or 500). */
void ds_adm_fail_store(ds_http_req *req, ds_store *st, ds_status s);
json_t *ds_adm_hex_json(const uint8_t *p, size_t n);
json_t *ds_adm_time_json(int64_t t);
int ds_adm_unhex(const char *s, uint8_t *out, size_t n);
/* The request body as JSON, or NULL after a reply. */
json_t *ds_adm_read_body(ds_http_req *req);
/* A query parameter as a number in 0..max; -1 after a reply. */
long ds_adm_query_num(ds_http_req *req, struct evkeyvalq *q, const char *name, long dflt, long max);
/* The database connection of the worker running req. */
ds_store *ds_adm_store(const ds_http_req *req, const ds_admin *adm);
/* A device class name as the store accepts it. */
bool ds_adm_class_ok(const char *s);

/* admin_rotate.c: /v1/admin/rotations… and /v1/admin/campaigns…; segs[0..n)
 * are the path segments after /v1/admin/. */
void ds_admin_rotate(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q);
/* admin_audit.c: /v1/admin/audit… (same arguments). */
void ds_admin_audit(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q);
/* admin_revocation.c: /v1/admin/revocations… (docs/revocation.md). */
void ds_admin_revocations(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q);
/* admin_firmware.c: /v1/admin/firmware/… (images, releases, rollouts, jobs, plan). */
void ds_admin_firmware(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q);

/* admin_policy.c: /v1/admin/policies… and /v1/admin/webhooks… (segs as
 * above), and POST /v1/admin/devices/{id}/clear. */
void ds_admin_policy(ds_http_req *req, ds_admin *adm, char (*segs)[80], size_t n, struct evkeyvalq *q);
void ds_admin_policy_clear(ds_http_req *req, ds_admin *adm, const uint8_t id[16]);

#endif
