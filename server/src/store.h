/*
 * store.h — drot-server's storage interface: the device registry, single-use
 * challenges and attestation records, over one of two backends.
 *
 *   sqlite:PATH               SQLite 3 file (the embedded default), WAL mode
 *   postgresql://… postgres://…   PostgreSQL through libpq (several servers
 *                                 may share one database)
 *
 * Both backends implement the same operations table (store_internal.h) and
 * pass the same test suite (tests/server/test_store.c). docs/storage.md
 * describes the schema and the atomicity arguments in full.
 *
 * Invariants every backend keeps:
 *   1. Every operation that changes more than one row runs in ONE database
 *      transaction: either all its rows are written or none is.
 *   2. A challenge is consumed at most once in total, whatever the number of
 *      processes and servers sharing the database (ds_challenge_consume).
 *   3. A device's last_attest_at / last_result / attest_count / tamper_count,
 *      and an automatic quarantine, change only in the transaction that
 *      inserts the attestation row they describe (ds_attestation_record_update);
 *      the row's action column says what that transaction did to the device.
 *   4. A device's status changes only along the state machine below.
 *   5. Data reaches SQL only as bound parameters of prepared statements.
 *
 * Threading: a ds_store is one database connection. It MUST be used by one
 * thread at a time; open one store per thread or process. A store MUST NOT be
 * used across fork(): the child opens its own.
 *
 * Errors: every function returns a ds_status. On failure the store keeps a
 * one-line message, readable with ds_store_error() until the next call.
 *
 * Device status state machine (ds_device_set_status):
 *
 *   registered ──▶ enrolled ──▶ active ◀──▶ quarantined
 *        │            │           │             │
 *        └────────────┴─────┬─────┴─────────────┘
 *                           ▼
 *                        revoked ──▶ decommissioned
 *   (every state except decommissioned may also go straight to decommissioned)
 *
 *   registered   → enrolled, quarantined, revoked, decommissioned
 *   enrolled     → active, quarantined, revoked, decommissioned
 *   active       → quarantined, revoked, decommissioned
 *   quarantined  → active, revoked, decommissioned
 *   revoked      → decommissioned
 *   decommissioned → (nothing: terminal)
 *   X → X is accepted as a no-op (retries stay idempotent), for every X.
 */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One status type for the storage layer. 0 is success; failures are
 * negative and start at -300, apart from drot_status and the host's codes. */
typedef enum ds_status {
    DS_OK = 0,             /* success */
    DS_E_ARG = -300,       /* NULL pointer, bad length, bad URL or out-of-range value from the caller */
    DS_E_NOT_FOUND = -301, /* no such device / challenge (or challenge already used) */
    DS_E_EXISTS = -302,    /* duplicate: device id, DRK key (instance id) or challenge already stored */
    DS_E_EXPIRED = -303,   /* the challenge existed but its TTL had passed (it is deleted) */
    DS_E_CONFLICT = -304,  /* the request contradicts stored state: illegal status transition,
                              epoch not above the current one */
    DS_E_BUSY = -305,      /* concurrent access: lock wait timed out, serialization failure or
                              deadlock; nothing was changed, the caller may retry */
    DS_E_DB = -306,        /* backend error (I/O, connection, SQL); message in ds_store_error() */
    DS_E_SCHEMA = -307,    /* schema not migrated, newer than this program, or a migration failed */
    DS_E_NOMEM = -308,     /* allocation failed */
    DS_E_CORRUPT = -309,   /* ds_store_check found an integrity or consistency violation */
} ds_status;

/* Short constant name of a status ("not found"…); never NULL. */
const char *ds_status_str(ds_status st);

#define DS_DEVICE_ID_LEN    16 /* the APM's permanent serial (DESIGN.md §3) */
#define DS_DRK_PUB_LEN      65 /* P-256 public key, uncompressed SEC1 (0x04 ‖ X ‖ Y) */
#define DS_INSTANCE_ID_LEN  33 /* 0x01 ‖ SHA-256(DRK public key) (EAT ueid) */
#define DS_CHALLENGE_LEN    32
#define DS_DIGEST_LEN       32
#define DS_CLASS_MAX        64                    /* device class name: 1..64 of [A-Za-z0-9._-] */
#define DS_REASON_MAX       1024                  /* status reason / attestation reasons text, bytes */
#define DS_TOKEN_MAX        16384                 /* stored attestation token, bytes */
#define DS_EPOCH_MAX        ((uint64_t)INT64_MAX) /* the databases store epochs as signed 64-bit */
#define DS_TAMPER_COUNT_MAX ((uint64_t)INT64_MAX) /* and tamper counts too */

typedef enum ds_device_status {
    DS_DEV_ANY = 0, /* filter only: any status */
    DS_DEV_REGISTERED = 1,
    DS_DEV_ENROLLED = 2,
    DS_DEV_ACTIVE = 3,
    DS_DEV_QUARANTINED = 4,
    DS_DEV_REVOKED = 5,
    DS_DEV_DECOMMISSIONED = 6,
} ds_device_status;

typedef enum ds_result {
    DS_RESULT_NONE = 0, /* never attested */
    DS_RESULT_PASS = 1,
    DS_RESULT_WARN = 2,
    DS_RESULT_FAIL = 3,
} ds_result;

/* Names as stored in the database ("registered", "PASS"…); NULL if out of range. */
const char *ds_device_status_name(ds_device_status s);
const char *ds_result_name(ds_result r);
/* Inverse of the above; DS_E_ARG for an unknown name. */
ds_status ds_device_status_parse(const char *name, ds_device_status *out);
ds_status ds_result_parse(const char *name, ds_result *out);

/* Whether the state machine above allows from → to (true also for from == to). */
bool ds_device_transition_allowed(ds_device_status from, ds_device_status to);

/* Computes 0x01 ‖ SHA-256(drk_pub). Uses the crypto port: the program links a
 * backend. DS_E_ARG on NULL. */
ds_status ds_instance_id(const uint8_t drk_pub[DS_DRK_PUB_LEN], uint8_t out[DS_INSTANCE_ID_LEN]);

/* Wall-clock time, unix seconds. */
int64_t ds_store_now(void);

/* A device as stored. Strings are NUL-terminated. */
typedef struct ds_device {
    uint8_t device_id[DS_DEVICE_ID_LEN];
    char class_name[DS_CLASS_MAX + 1];
    uint8_t drk_pub[DS_DRK_PUB_LEN];
    uint8_t instance_id[DS_INSTANCE_ID_LEN];
    uint64_t epoch;
    ds_device_status status;
    char status_reason[DS_REASON_MAX + 1]; /* reason given with the last status change ("" at first) */
    int64_t registered_at;
    int64_t updated_at;     /* last change of status or key */
    int64_t last_attest_at; /* time of the most recently recorded attestation; 0 = never */
    ds_result last_result;  /* its result; DS_RESULT_NONE = never */
    uint64_t attest_count;  /* number of attestation rows of this device */
    bool has_tamper_count;  /* false until an attestation stored a tamper count */
    uint64_t tamper_count;  /* the APM's tamper count in its last fresh drot-profile token */
} ds_device;

/* One device of a manufacturing batch. */
typedef struct ds_device_new {
    uint8_t device_id[DS_DEVICE_ID_LEN];
    const char *class_name;          /* 1..DS_CLASS_MAX of [A-Za-z0-9._-] */
    uint8_t drk_pub[DS_DRK_PUB_LEN]; /* MUST start with 0x04; the point itself is validated by the caller */
    uint64_t epoch;                  /* the device's epoch fuse at manufacture (usually 0) */
} ds_device_new;

/* A retired device root key (ds_device_key_history). */
typedef struct ds_device_key {
    uint64_t epoch;
    uint8_t drk_pub[DS_DRK_PUB_LEN];
    uint8_t instance_id[DS_INSTANCE_ID_LEN];
    int64_t retired_at;
} ds_device_key;

/* What recording an attestation did to its device besides the bookkeeping
 * (stored in the row's action column: "" / "quarantined"). */
typedef enum ds_att_action {
    DS_ACTION_NONE = 0,
    DS_ACTION_QUARANTINED = 1, /* the device was moved to quarantined in that transaction */
} ds_att_action;

/* Name as stored ("" for none, "quarantined"); NULL if out of range. */
const char *ds_att_action_name(ds_att_action a);
/* Inverse of the above; DS_E_ARG for an unknown name. */
ds_status ds_att_action_parse(const char *name, ds_att_action *out);

/* One attestation record. token/token_len may be NULL/0. */
typedef struct ds_attestation {
    int64_t id; /* increasing in recording order, per database */
    uint8_t device_id[DS_DEVICE_ID_LEN];
    int64_t at;
    ds_result result;
    const char *reasons; /* NUL-terminated, <= DS_REASON_MAX bytes */
    uint8_t evidence_digest[DS_DIGEST_LEN];
    const uint8_t *token;
    size_t token_len;
    ds_att_action action; /* read back by ds_attestation_list; ignored when recording */
} ds_attestation;

/* Device-row changes that ds_attestation_record_update makes in the same
 * transaction as the attestation row. A zeroed struct asks for none. */
typedef struct ds_attest_update {
    bool set_tamper_count; /* store tamper_count as the device's tamper count */
    uint64_t tamper_count; /* 0..DS_TAMPER_COUNT_MAX */
    bool quarantine;       /* move the device to quarantined, if the state machine allows it */
    const char *reason;    /* status reason for that move (<= DS_REASON_MAX bytes); NULL = "" */
} ds_attest_update;

/* What ds_attestation_record_update did. */
typedef struct ds_attest_outcome {
    int64_t id;                   /* the new attestation row */
    ds_att_action action;         /* DS_ACTION_QUARANTINED iff the status changed */
    ds_device_status status;      /* the device's status after the transaction */
    ds_device_status prev_status; /* and before it */
} ds_attest_outcome;

/* Iteration callbacks: the pointed-to record is valid only during the call.
 * Return 0 to continue, non-zero to stop (the iterating function then
 * returns DS_OK). The callback MUST NOT call the same store. */
typedef int (*ds_device_cb)(const ds_device *dev, void *ctx);
typedef int (*ds_key_cb)(const ds_device_key *key, void *ctx);
typedef int (*ds_attestation_cb)(const ds_attestation *att, void *ctx);

typedef struct ds_store ds_store;

/* ---- opening, closing, schema ------------------------------------------- */

/* Opens a store. url is "sqlite:PATH" (the file is created if absent; WAL
 * journal, synchronous=FULL, busy_timeout 5 s, foreign keys on) or a libpq
 * URI "postgresql://…" / "postgres://…". The schema is NOT migrated: call
 * ds_store_migrate. On success *out is a new store; on failure *out is NULL
 * and err (if not NULL, errlen > 0) holds a NUL-terminated reason.
 * Errors: DS_E_ARG (NULL, empty or unknown scheme, empty path), DS_E_DB
 * (cannot open / connect, WAL refused), DS_E_NOMEM. */
ds_status ds_store_open(const char *url, ds_store **out, char *err, size_t errlen);

/* Closes the connection and frees the store. NULL is allowed. */
void ds_store_close(ds_store *store);

/* The last error message of this store ("" if none); never NULL. */
const char *ds_store_error(const ds_store *store);

/* The backend's name: "sqlite" or "postgres". */
const char *ds_store_backend(const ds_store *store);

/* Applies every embedded migration not yet recorded in schema_migrations, in
 * version order, each in its own transaction together with its
 * schema_migrations row (so a crash leaves the schema at a whole version).
 * Idempotent; safe when several servers migrate at once (SQLite: BEGIN
 * IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock).
 * *version_out (may be NULL) receives the resulting version.
 * Errors: DS_E_SCHEMA (the database has a version this program does not know,
 * i.e. a newer program migrated it; or a migration's SQL failed), DS_E_DB,
 * DS_E_BUSY. */
ds_status ds_store_migrate(ds_store *store, int *version_out);

/* The highest applied migration version (0 for an empty database). */
ds_status ds_store_schema_version(ds_store *store, int *version_out);

/* The latest migration version embedded in this program. */
int ds_store_latest_version(void);

/* Checks integrity and consistency: the backend's own check (SQLite:
 * PRAGMA integrity_check and foreign_key_check), every attestation row's
 * device exists, every key-history row's device exists, and for every device
 * attest_count equals its number of attestation rows and last_attest_at /
 * last_result are those of its newest row. DS_OK, or DS_E_CORRUPT with the
 * first violation in ds_store_error(); DS_E_DB on query failure. Reads only. */
ds_status ds_store_check(ds_store *store);

/* ---- device registry ------------------------------------------------------ */

/* Registers n (1..100000) devices in status "registered", in ONE transaction:
 * all or nothing. Every entry is validated before anything is written
 * (DS_E_ARG names its index). DS_E_EXISTS when a device id or a DRK key is
 * already registered or repeated within the batch: nothing is inserted,
 * *dup_index (may be NULL) is the index of the first offending entry and the
 * message names its device id in hex. */
ds_status ds_device_register_bulk(ds_store *store, const ds_device_new *devs, size_t n, size_t *dup_index);

/* Reads one device. DS_E_NOT_FOUND if absent. */
ds_status ds_device_get(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_device *out);

/* Reads the device whose CURRENT DRK has this instance id (retired keys do
 * not match; see ds_device_key_history). DS_E_NOT_FOUND if none. */
ds_status ds_device_get_by_instance(ds_store *store, const uint8_t instance_id[DS_INSTANCE_ID_LEN],
                                    ds_device *out);

typedef struct ds_device_filter {
    const char *class_name;  /* NULL = any class */
    ds_device_status status; /* DS_DEV_ANY = any status */
    size_t limit;            /* 0 = no limit */
    size_t offset;
} ds_device_filter;

/* Calls cb for each device matching filter (NULL = all), in device-id order.
 * The PostgreSQL backend reads a whole page before the first callback: page
 * with limit/offset for large fleets. */
ds_status ds_device_list(ds_store *store, const ds_device_filter *filter, ds_device_cb cb, void *ctx);

/* Moves a device to status to, recording reason (may be NULL; at most
 * DS_REASON_MAX bytes) and the time, in one transaction that reads the
 * current status under a write lock, so two concurrent changes are
 * serialized. DS_E_CONFLICT if the state machine forbids it (nothing is
 * changed); DS_E_NOT_FOUND; DS_E_ARG for DS_DEV_ANY or out-of-range. */
ds_status ds_device_set_status(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN],
                               ds_device_status to, const char *reason);

/* Replaces the device's DRK by new_pub with epoch new_epoch, appending the
 * old key and epoch to the key history with retired_at = now, in ONE
 * transaction. DS_E_CONFLICT if new_epoch <= the current epoch or the device
 * is decommissioned or revoked; DS_E_EXISTS if new_pub is the current DRK of
 * any device; DS_E_NOT_FOUND; DS_E_ARG. */
ds_status ds_device_set_key(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN],
                            const uint8_t new_pub[DS_DRK_PUB_LEN], uint64_t new_epoch);

/* Calls cb for each retired key of the device, oldest first. DS_E_NOT_FOUND
 * if the device does not exist (a device with no retired key gives DS_OK and
 * no call). */
ds_status ds_device_key_history(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_key_cb cb,
                                void *ctx);

/* ---- challenges ----------------------------------------------------------- */

/* Stores a fresh challenge (generated by the caller from a CSPRNG), bound to
 * device_id or to no device (NULL), valid while now < expires_at.
 * DS_E_EXISTS if the same bytes are already stored; DS_E_NOT_FOUND if
 * device_id names no device; DS_E_ARG. */
ds_status ds_challenge_issue(ds_store *store, const uint8_t challenge[DS_CHALLENGE_LEN],
                             const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t expires_at);

/* Consumes a challenge: one statement deletes it and returns its row, so of
 * any number of concurrent consumers (any process or server sharing the
 * database) exactly one sees it. DS_OK if it existed and now < expires_at;
 * then *bound_out (may be NULL) says whether it was bound to a device and
 * device_id_out (may be NULL) receives that device (zeros if unbound).
 * DS_E_NOT_FOUND if unknown or already consumed; DS_E_EXPIRED if it had
 * expired (it is deleted all the same). */
ds_status ds_challenge_consume(ds_store *store, const uint8_t challenge[DS_CHALLENGE_LEN], int64_t now,
                               uint8_t device_id_out[DS_DEVICE_ID_LEN], bool *bound_out);

/* Deletes every challenge with expires_at <= now; *purged (may be NULL)
 * receives the count. */
ds_status ds_challenge_purge_expired(ds_store *store, int64_t now, uint64_t *purged);

/* ---- attestations --------------------------------------------------------- */

/* Records an attestation and, in the SAME transaction, sets the device's
 * last_attest_at = att->at, last_result = att->result and increments
 * attest_count. att->id is ignored; *id_out (may be NULL) receives the new
 * row id. DS_E_NOT_FOUND if the device does not exist; DS_E_ARG for a result
 * of DS_RESULT_NONE, reasons over DS_REASON_MAX, a token over DS_TOKEN_MAX. */
ds_status ds_attestation_record(ds_store *store, const ds_attestation *att, int64_t *id_out);

/* ds_attestation_record, plus the device-row changes of upd (may be NULL),
 * all in ONE transaction that reads the device's status under a write lock:
 *   - set_tamper_count: the device's tamper_count becomes upd->tamper_count;
 *   - quarantine: the device moves to quarantined, with upd->reason, and the
 *     move is logged like ds_device_set_status, when the state machine
 *     allows it from the current status (registered, enrolled, active). A
 *     device already quarantined, revoked or decommissioned stays as it is;
 *     that is not an error (out->action says whether it moved).
 * The attestation row's action column records the outcome. *out (may be
 * NULL) receives the row id, the action and the status before and after.
 * Errors as ds_attestation_record, and DS_E_ARG for a tamper count over
 * DS_TAMPER_COUNT_MAX or a reason over DS_REASON_MAX; on any error nothing
 * is changed. */
ds_status ds_attestation_record_update(ds_store *store, const ds_attestation *att,
                                       const ds_attest_update *upd, ds_attest_outcome *out);

/* Calls cb for the device's attestations, newest first, at most limit
 * (0 = all). DS_E_NOT_FOUND if the device does not exist. */
ds_status ds_attestation_list(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], size_t limit,
                              ds_attestation_cb cb, void *ctx);

#endif
