/*
 * revocation.h — the server's revocations and the signed lists published
 * from them (docs/revocation.md; tables of migration 008, docs/storage.md).
 *
 * Three kinds of thing can be revoked:
 *
 *   drk         a device root key, by the SHA-256 of its 65-byte public key
 *               (the instance id without its 0x01 prefix);
 *   cert        a device TLS client certificate, by its serial number (the
 *               positive integer as minimal big-endian bytes, 1..20);
 *   authority   an authority (trust-anchor) key, by the SHA-256 of its
 *               65-byte public key.
 *
 * Every revocation publishes a new list: in ONE transaction (sql.h), under
 * the named lock "drot-revocations" (so servers sharing PostgreSQL publish
 * one after the other), ds_rev_add
 *
 *   1. inserts the revocation (DS_E_EXISTS if that very thing is revoked);
 *   2. reads every revocation and builds the list of version = the highest
 *      published + 1 (drot/revocation.h): DS_E_CONFLICT, and nothing
 *      written, if a kind would exceed its limit (16 authorities, 64 device
 *      root keys, 32 certificates: what one link frame carries);
 *   3. has it signed by the caller's signer (ds_rev_sign_fn), which MUST
 *      NOT use a key the list revokes; DS_E_CONFLICT if it cannot sign;
 *   4. stores the list (payload, digest, signer, signed bytes);
 *   5. moves the device the revoked DRK or certificate belongs to (the
 *      device whose CURRENT key it is; for a certificate, the device it was
 *      issued to: ds_rev_cert_record) to status revoked, logged like
 *      ds_device_set_status, unless it is revoked or decommissioned already;
 *   6. appends the audit entry (audit.h): actor "operator:<by>", action
 *      "revocation.add", subject "<kind>:<value hex>", detail {kind, value,
 *      reason, list_version, device_id, device_revoked}.
 *
 * Invariants:
 *   V1. Revocations are never withdrawn: no function deletes or changes a
 *       revocation (but for list_version, set once, in step 1's transaction).
 *   V2. List versions are 1, 2, 3, … with no gap and no repeat, whatever the
 *       number of servers publishing at once; each list holds every
 *       revocation made up to its own (so a later list contains an earlier).
 *   V3. A list is stored only signed, and never by a key it revokes.
 *
 * Threading and errors: as store.h (one store, one thread; message in
 * ds_store_error).
 */
#ifndef DS_REVOCATION_H
#define DS_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/revocation.h"
#include "keys.h"
#include "store.h"

typedef enum ds_rev_kind {
    DS_REV_ANY = 0, /* filter only */
    DS_REV_DRK = 1,
    DS_REV_CERT = 2,
    DS_REV_AUTHORITY = 3,
} ds_rev_kind;

/* "drk", "cert", "authority"; NULL if out of range. */
const char *ds_rev_kind_name(ds_rev_kind k);
/* Inverse of the above; DS_E_ARG for an unknown name. */
ds_status ds_rev_kind_parse(const char *name, ds_rev_kind *out);

#define DS_REV_VALUE_MAX 32  /* a hash; a serial is at most 20 */
#define DS_REV_BY_MAX    128 /* who revoked, bytes */

/* A revocation as stored. */
typedef struct ds_revocation {
    int64_t id;
    ds_rev_kind kind;
    uint8_t value[DS_REV_VALUE_MAX];
    size_t value_len;
    char reason[DS_REASON_MAX + 1];
    char revoked_by[DS_REV_BY_MAX + 1];
    int64_t revoked_at;
    bool has_device; /* the device it belonged to when it was revoked */
    uint8_t device_id[DS_DEVICE_ID_LEN];
    uint64_t list_version; /* the first list that carries it */
} ds_revocation;

/* A published list. */
typedef struct ds_rev_list {
    uint64_t version;
    int64_t issued_at;
    uint8_t payload[DROT_REVOCATION_MAX_LEN];
    size_t payload_len;
    uint8_t digest[DROT_SHA256_LEN]; /* SHA-256 of payload */
    char signer[DS_KEY_NAME_MAX];    /* custody name of the key that signed */
    uint8_t signed_msg[DROT_REVOCATION_SIGNED_MAX];
    size_t signed_len;
    uint64_t entries; /* revocations it holds */
} ds_rev_list;

/*
 * Signs a list for ds_rev_add. l is the list (its payload encoded in
 * payload[0..len)); the signer writes the signed object into out[0..cap),
 * *out_len its length, and the custody name of the key it used into signer.
 * It MUST NOT use a key whose hash is in l->authorities. 0, or -1 with a
 * reason in err[0..errcap) (the add then fails with DS_E_CONFLICT).
 */
typedef int (*ds_rev_sign_fn)(void *ctx, const drot_revocation_list *l, const uint8_t *payload, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len, char signer[DS_KEY_NAME_MAX],
                              char *err, size_t errcap);

/* What a revocation request names. value: 32 bytes (drk, authority) or a
 * serial (cert: 1..20 bytes; leading zero bytes are dropped, all zero is
 * DS_E_ARG). reason: 1..DS_REASON_MAX bytes; by: 1..DS_REV_BY_MAX bytes. */
typedef struct ds_rev_new {
    ds_rev_kind kind;
    const uint8_t *value;
    size_t value_len;
    const char *reason;
    const char *by;
} ds_rev_new;

/* Steps 1–5 above. out (may be NULL) receives the stored revocation (with
 * the device moved, if any), list (may be NULL) the new list.
 * DS_E_ARG bad request; DS_E_EXISTS already revoked; DS_E_CONFLICT over a
 * limit or no signature (message says which); DS_E_BUSY, DS_E_DB. */
ds_status ds_rev_add(ds_store *s, const ds_rev_new *r, int64_t now, ds_rev_sign_fn sign, void *sign_ctx,
                     ds_revocation *out, ds_rev_list *list);

/* The current (highest) list; DS_E_NOT_FOUND when none was published. */
ds_status ds_rev_list_current(ds_store *s, ds_rev_list *out);
/* List `version`; DS_E_NOT_FOUND if there is no such version. */
ds_status ds_rev_list_get(ds_store *s, uint64_t version, ds_rev_list *out);
/* The current list version, 0 when none was published. */
ds_status ds_rev_version(ds_store *s, uint64_t *version);

/* Calls cb for every revocation of kind (DS_REV_ANY: all), in id order. */
typedef int (*ds_rev_cb)(const ds_revocation *r, void *ctx);
ds_status ds_rev_each(ds_store *s, ds_rev_kind kind, ds_rev_cb cb, void *ctx);

/* Whether value (as for ds_rev_new) of kind is revoked. */
ds_status ds_rev_is_revoked(ds_store *s, ds_rev_kind kind, const uint8_t *value, size_t len, bool *revoked);
/* Whether the device root key drk_pub (65 bytes) is revoked. */
ds_status ds_rev_drk_revoked(ds_store *s, const uint8_t drk_pub[DS_DRK_PUB_LEN], bool *revoked);
/* Whether the authority key with this 65-byte public key is revoked. */
ds_status ds_rev_authority_revoked(ds_store *s, const uint8_t pub[DROT_P256_PUB_LEN], bool *revoked);

/* Records a device certificate issued at enrollment (serial as for a cert
 * revocation). Recording the same serial again is a no-op. */
ds_status ds_rev_cert_record(ds_store *s, const uint8_t *serial, size_t len,
                             const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t issued_at, int64_t not_after);

/* A serial as stored: leading zero bytes dropped. 0, or -1 if it is empty,
 * all zero or longer than DROT_REVOCATION_MAX_SERIAL after that. */
int ds_rev_serial_norm(const uint8_t *in, size_t len, uint8_t out[DROT_REVOCATION_MAX_SERIAL],
                       size_t *out_len);

/* ---- signing through key custody (keys.h) ---------------------------------- */

/* The custody signer for ds_rev_add: the key `preferred` (the server's
 * --authority) unless the list revokes it, else the highest-numbered
 * authority key in ks that the list does not revoke. ctx is a
 * ds_rev_custody. */
typedef struct ds_rev_custody {
    ds_keystore *ks;
    const char *preferred;
} ds_rev_custody;
int ds_rev_custody_sign(void *ctx, const drot_revocation_list *l, const uint8_t *payload, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len, char signer[DS_KEY_NAME_MAX], char *err,
                        size_t errcap);

/* The published list `l` signed again by the authority key `name` (the key
 * a particular device obeys): same payload, same version, another
 * signature. -1 with a reason if the list revokes that key or it cannot
 * sign. */
int ds_rev_resign(ds_keystore *ks, const char *name, const ds_rev_list *l, uint8_t *out, size_t cap,
                  size_t *out_len, char *err, size_t errcap);

/* Whether the authority key `name` in ks is revoked in s: 1 revoked, 0 not,
 * -1 on error (err says why). For the places that sign. */
int ds_rev_key_revoked(ds_store *s, ds_keystore *ks, const char *name, char *err, size_t errcap);

#endif /* DS_REVOCATION_H */
