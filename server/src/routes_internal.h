/*
 * routes_internal.h — the steps routes.c shares with the other device route
 * files (routes_rotate.c). Not for use outside server/src/routes*.c.
 * Each function that returns bool has replied to the request when it
 * returns false.
 */
#ifndef DS_ROUTES_INTERNAL_H
#define DS_ROUTES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/cbor.h"
#include "routes.h"
#include "routes_verify.h"

/* One field of a request body, a CBOR map with uint keys. */
typedef enum ds_rt_kind { DS_RT_BSTR, DS_RT_TSTR, DS_RT_UINT } ds_rt_kind;
#define DS_RT_MAX_FIELDS 8
typedef struct ds_rt_field {
    uint64_t key;
    ds_rt_kind kind;
    size_t exact; /* strings: required length (0 = any, not empty) */
    bool required;
    const char *name;
    const uint8_t *p; /* out: strings (NULL when absent) */
    size_t n;
    uint64_t u;   /* out: DS_RT_UINT */
    bool present; /* out: the key was in the body */
} ds_rt_field;

/* Parses the body into f[0..nf) (at most DS_RT_MAX_FIELDS): strict CBOR,
 * no unknown or duplicate key, every required field present; else 400. */
bool ds_rt_body(ds_http_req *req, ds_rt_field *f, size_t nf);
/* The device; 404 unknown, 403 revoked or decommissioned. */
bool ds_rt_device(ds_http_req *req, ds_app *app, const uint8_t id[16], ds_device *dev);
/* Consumes the challenge (R1); 403 unless it was issued to this device. */
bool ds_rt_consume(ds_http_req *req, ds_app *app, const uint8_t ch[32], const uint8_t id[16]);
/* Verifies the token and records the attestation with its device-row
 * changes (R2, R3, R5); false only after a 500. */
bool ds_rt_verify_and_record(ds_http_req *req, ds_app *app, const ds_device *dev, const uint8_t ch[32],
                             const uint8_t *token, size_t token_len, bool device_authenticated,
                             ds_check *chk);
/* Replies 403 (code ATTESTATION) with message and the verifier's reasons. */
void ds_rt_reply_attestation_refused(ds_http_req *req, const ds_check *chk, const char *message);
/* Replies 200 with the finished CBOR map in w. */
void ds_rt_reply_map(ds_http_req *req, drot_cbor_writer *w);
/* The authority key this device obeys (custody name): the new key of its
 * last completed trust-anchor rotation, else the server's --authority. Call
 * with the shared lock held for writing (key custody). routes_rotate.c. */
void ds_rt_signer_for(ds_app *app, const ds_device *dev, char name[DS_KEY_NAME_MAX]);
/* The reference values of a class, or NULL. Hold the shared lock (http.h)
 * for reading while using them. */
const ds_reference *ds_rt_find_ref(const ds_app *app, const char *cls);

#endif
