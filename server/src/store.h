/*
 * store.h — drot-server's storage interface: the device registry, single-use
 * challenges, attestation records, and the orchestrator's rotation jobs and
 * campaigns, over one of two backends.
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
 *   6. A device has at most one open (pending or issued) rotation job, whatever
 *      the number of servers creating jobs at once (a partial unique index).
 *   7. A rotation job's state changes only along the job state machine
 *      ("rotation jobs" below), by one conditional transaction each: of
 *      several servers attempting the same step, exactly one succeeds.
 *   8. A running campaign never has more than max_parallel issued jobs.
 *
 * Threading: a ds_store is one database connection. It MUST be used by one
 * thread at a time; open one store per thread or process. A store MUST NOT be
 * used across fork(): the child opens its own.
 *
 * Errors: every function returns a ds_status. On failure the store keeps a
 * one-line message, readable with ds_store_error() until the next call.
 *
 * The rotation job and campaign state machines are documented with their
 * functions below ("rotation jobs", "campaigns").
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
    DS_E_CONFLICT = -304,  /* the request contradicts stored state: illegal status or job/campaign
                              transition, epoch not above the current one, device not in a status
                              that allows it, another owner's lease, a key that is not the job's */
    DS_E_BUSY = -305,      /* concurrent access: lock wait timed out, serialization failure or
                              deadlock; or a job's lease is held by another owner, or a campaign
                              is at its max_parallel. Nothing was changed; the caller may retry
                              later */
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

struct ds_store;
struct ds_attest_outcome;

/* Device-row changes that ds_attestation_record_update makes in the same
 * transaction as the attestation row. A zeroed struct asks for none. */
typedef struct ds_attest_update {
    bool set_tamper_count; /* store tamper_count as the device's tamper count */
    uint64_t tamper_count; /* 0..DS_TAMPER_COUNT_MAX */
    bool quarantine;       /* move the device to quarantined, if the state machine allows it */
    const char *reason;    /* status reason for that move (<= DS_REASON_MAX bytes); NULL = "" */
    /* Called inside the transaction, after the attestation row is written
     * (out->id set) and before the commit: what it writes on this store
     * (sql.h) commits or rolls back with the row; a status other than DS_OK
     * rolls everything back and is returned. NULL = none. (The policy
     * engine's failed flag, actions and webhook events, policy_engine.h.) */
    ds_status (*in_tx)(struct ds_store *store, const struct ds_attest_outcome *out, void *ctx);
    void *in_tx_ctx;
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
 * last_result are those of its newest row; then the rotation job invariants
 * J1-J3 and the campaign invariants C1 and C4 (below). DS_OK, or
 * DS_E_CORRUPT with the first violation in ds_store_error(); DS_E_DB on
 * query failure. Reads only. */
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

/* ---- rotation jobs (the orchestrator's storage, DESIGN.md §6 and §7) --------
 *
 * Every key rotation of a device is a job row. The job records what the
 * server handed out (the new public key, the APM's rotation nonce, the digest
 * of the instruction the receipt must name), how often, and which server is
 * working on it (the lease). Each step below is ONE conditional transaction:
 * it re-reads the job under a row lock (SQLite: BEGIN IMMEDIATE; PostgreSQL:
 * SELECT … FOR UPDATE), checks the step is legal, and writes, or writes
 * nothing. So a step retried after a crash of either side, or attempted by
 * two servers at once, takes effect exactly once.
 *
 *                    issue                      complete
 *   create ──▶ pending ─────────▶ issued ───────────────────▶ completed
 *                ▲  │  ◀─────────  │  │
 *                │  │    retry     │  │ retry at max_attempts, fail
 *                │  │              │  └──────────────────────▶ failed
 *                │  └─ fail ──────────────────────────────────▶ failed
 *                │  └─ cancel ─────┴─ cancel ─────────────────▶ cancelled
 *                └─ complete (the previous attempt's key, see ds_job_complete) ──▶ completed
 *
 *   pending    waiting for the device: its next attestation asks for the
 *              instruction. attempts = instructions handed out so far.
 *   issued     an instruction (or endorsement) is out: from_epoch, new_pub,
 *              nonce and instruction_tbs describe it.
 *   completed  terminal: the receipt verified, or the new key was seen in an
 *              attestation; for a root rotation the device's DRK IS new_pub.
 *   failed     terminal: attempts exhausted, or refused.
 *   cancelled  terminal: by the operator.
 *
 * Invariants (ds_store_check verifies those the schema does not enforce):
 *   J1. At most one open (pending or issued) job per device.
 *   J2. issued ⇒ new_pub, nonce and instruction_tbs are set (has_new_key).
 *   J3. 0 <= attempts <= max_attempts; attempts rises by one per issue and
 *       never otherwise.
 *   J4. Terminal states are final: no call changes a terminal job.
 *   J5. A completed root rotation changed the device's DRK to new_pub at
 *       from_epoch + 1 and retired the old key, in the same transaction.
 *   J6. After a retry the job keeps the last attempt's new_pub/nonce/tbs
 *       until the next issue replaces them, so a device that did commit that
 *       attempt after all can still be completed.
 *
 * Anchor steps: a trust-anchor rotation (DS_JOB_ROTATE_ANCHOR, made by
 * ds_job_create_anchor, server mode, no campaign) takes four instructions,
 * each in its own request because the APM's nonce is single use:
 *   step 0  CONFIRM signed by the old authority key: tells the server the
 *           old key's slot (old_slot);
 *   step 1  ADD anchor_pub, signed by the old key and cross-signed by the new;
 *   step 2  CONFIRM signed by the new key;
 *   step 3  REVOKE old_slot, signed by the new key.
 * While pending, the job moves from step to step with ds_job_advance (one
 * conditional transaction on the stored step; attempts, state and lease do
 * not change). The last step is handed out with ds_job_issue (new_pub =
 * anchor_pub; attempts + 1) and ends with ds_job_complete (new_epoch =
 * from_epoch; the device row is not touched). ds_job_retry starts the
 * attempt over at step 0 with old_slot -1: every step is idempotent on the
 * device. Root jobs keep step 0 and old_slot -1.
 *
 * Leases: a lease is the right to work on a job until lease_until. It is free
 * when lease_owner is "" or lease_until <= now. Leases are advisory for
 * pending jobs (ds_job_claim, ds_job_lease) and checked by ds_job_issue; the
 * terminal steps clear them. Times are unix seconds supplied by the caller.
 */

#define DS_NONCE_LEN        32     /* the APM's single-use rotation nonce */
#define DS_JOB_OWNER_MAX    63     /* lease owner: 1..63 bytes of printable ASCII (0x21..0x7e) */
#define DS_JOB_ERROR_MAX    255    /* a job's last error / a campaign's stop reason, bytes */
#define DS_JOB_ATTEMPTS_MAX 100    /* max_attempts: 1..100 */
#define DS_JOB_TTL_MAX      86400  /* lease ttl: 1..86400 seconds */
#define DS_JOB_CLAIM_MAX    1000   /* ds_job_claim: 1..1000 jobs per call */
#define DS_CAMPAIGN_PAR_MAX 100000 /* campaign max_parallel: 1..100000 */
#define DS_ANCHOR_STEP_LAST 3      /* anchor steps: 0 CONFIRM (old), 1 ADD, 2 CONFIRM (new), 3 REVOKE */
#define DS_ANCHOR_SLOT_KEEP (-2)   /* ds_job_advance: keep the stored old_slot */

typedef enum ds_job_kind {
    DS_JOB_ROTATE_ROOT = 1,   /* device root key (DRK) rotation, DESIGN.md §7.1 */
    DS_JOB_ROTATE_ANCHOR = 2, /* trust-anchor rotation, DESIGN.md §7.2 (the DRK does not change) */
} ds_job_kind;

typedef enum ds_job_mode {
    DS_JOB_MODE_SERVER = 1, /* the server generates KeyA and seals it to the DRK */
    DS_JOB_MODE_DEVICE = 2, /* the APM generates KeyA; the authority endorses it */
} ds_job_mode;

typedef enum ds_job_state {
    DS_JOB_ANY = 0, /* filter only: any state */
    DS_JOB_PENDING = 1,
    DS_JOB_ISSUED = 2,
    DS_JOB_COMPLETED = 3,
    DS_JOB_FAILED = 4,
    DS_JOB_CANCELLED = 5,
} ds_job_state;

/* A job as stored. Strings are NUL-terminated. */
typedef struct ds_job {
    int64_t id; /* > 0, increasing in creation order */
    uint8_t device_id[DS_DEVICE_ID_LEN];
    ds_job_kind kind;
    ds_job_mode mode;
    ds_job_state state;
    uint32_t attempts;               /* instructions handed out (issue calls that succeeded) */
    uint32_t max_attempts;           /* 1..DS_JOB_ATTEMPTS_MAX */
    uint64_t from_epoch;             /* the device's epoch when the last attempt was issued (0 before) */
    bool has_new_key;                /* new_pub, nonce and instruction_tbs hold the last attempt's values */
    uint8_t new_pub[DS_DRK_PUB_LEN]; /* KeyA (root) or the new anchor key (anchor) */
    uint8_t nonce[DS_NONCE_LEN];     /* the APM's rotation nonce of the last attempt */
    uint8_t instruction_tbs[DS_DIGEST_LEN]; /* digest the receipt must name */
    char lease_owner[DS_JOB_OWNER_MAX + 1]; /* "" = no lease */
    int64_t lease_until;                    /* 0 = no lease */
    int64_t campaign_id;                    /* 0 = none */
    int64_t created_at;
    int64_t updated_at;               /* last change of state or attempt (lease changes do not count) */
    char error[DS_JOB_ERROR_MAX + 1]; /* last failure, human readable ("" = none) */
    /* trust-anchor rotation (DS_JOB_ROTATE_ANCHOR) only; see "anchor steps" above */
    bool has_anchor_pub;                /* always true for an anchor job made by ds_job_create_anchor */
    uint8_t anchor_pub[DS_DRK_PUB_LEN]; /* the new authority key, fixed at creation */
    uint32_t step;                      /* DS_ANCHOR_STEP_*: the step the job has reached (0 for root jobs) */
    int32_t old_slot;                   /* the old authority key's slot 0..3, -1 = not known yet */
} ds_job;

typedef struct ds_job_filter {
    const uint8_t *device_id; /* NULL = any device */
    ds_job_state state;       /* DS_JOB_ANY = any state */
    int64_t campaign_id;      /* 0 = any (with or without a campaign) */
    size_t limit;             /* 0 = no limit */
    size_t offset;
} ds_job_filter;

/* Same rules as the other iteration callbacks (see ds_device_cb). */
typedef int (*ds_job_cb)(const ds_job *job, void *ctx);

/* Names as stored ("pending", "rotate-root", "server"…); NULL if out of range. */
const char *ds_job_state_name(ds_job_state s);
const char *ds_job_kind_name(ds_job_kind k);
const char *ds_job_mode_name(ds_job_mode m);
/* Inverse of the above; DS_E_ARG for an unknown name or NULL. */
ds_status ds_job_state_parse(const char *name, ds_job_state *out);
ds_status ds_job_kind_parse(const char *name, ds_job_kind *out);
ds_status ds_job_mode_parse(const char *name, ds_job_mode *out);

/* Creates a pending job for the device (attempts 0, no lease, no key).
 * campaign_id 0 = none; otherwise the campaign MUST be running and of the
 * device's class, the job's kind and mode (DS_E_CONFLICT). *id_out (may be
 * NULL) receives the new id. kind DS_JOB_ROTATE_ANCHOR is refused with
 * DS_E_ARG: an anchor job needs its key (ds_job_create_anchor).
 * DS_E_EXISTS: the device already has an open job (invariant J1, also when
 * two servers race); DS_E_NOT_FOUND: no such device or campaign;
 * DS_E_CONFLICT: the device is not enrolled or active (registered,
 * quarantined, revoked, decommissioned); DS_E_ARG. */
ds_status ds_job_create(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_job_kind kind,
                        ds_job_mode mode, uint32_t max_attempts, int64_t campaign_id, int64_t now,
                        int64_t *id_out);

/* Creates a pending trust-anchor rotation job (kind DS_JOB_ROTATE_ANCHOR,
 * mode DS_JOB_MODE_SERVER) that will install anchor_pub (65 bytes, 0x04
 * first, else DS_E_ARG), at step 0 with old_slot -1. Otherwise as
 * ds_job_create (DS_E_EXISTS, DS_E_NOT_FOUND, DS_E_CONFLICT for the device),
 * except that campaigns do not rotate anchors yet: campaign_id MUST be 0
 * (DS_E_ARG). */
ds_status ds_job_create_anchor(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN],
                               const uint8_t anchor_pub[DS_DRK_PUB_LEN], uint32_t max_attempts,
                               int64_t campaign_id, int64_t now, int64_t *id_out);

/* Moves a pending anchor job from step from_step to to_step = from_step + 1
 * (<= DS_ANCHOR_STEP_LAST), setting old_slot (-1..3; DS_ANCHOR_SLOT_KEEP
 * keeps the stored one) and updated_at; attempts, state and lease are not
 * changed. ONE conditional transaction: of two servers racing on the same
 * step, exactly one wins. DS_E_ARG: to_step is not from_step + 1 or beyond
 * the last step, old_slot out of range; DS_E_CONFLICT (nothing written): not
 * an anchor job, not pending, or its stored step is not from_step;
 * DS_E_NOT_FOUND. */
ds_status ds_job_advance(ds_store *store, int64_t id, uint32_t from_step, uint32_t to_step, int32_t old_slot,
                         int64_t now);

/* Reads one job. DS_E_NOT_FOUND if absent. */
ds_status ds_job_get(ds_store *store, int64_t id, ds_job *out);

/* Reads the device's open (pending or issued) job. DS_E_NOT_FOUND if none. */
ds_status ds_job_open_for_device(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_job *out);

/* Calls cb for each job matching filter (NULL = all), in id order. */
ds_status ds_job_list(ds_store *store, const ds_job_filter *filter, ds_job_cb cb, void *ctx);

/* Leases an open job to owner until now + ttl: taken if free, expired or
 * already held by owner (a renewal). PostgreSQL reads the row with FOR UPDATE
 * SKIP LOCKED, so a job another transaction is changing right now is
 * reported busy instead of waited for. out (may be NULL) receives the job
 * as leased. DS_E_BUSY: another owner holds an unexpired lease, or the row
 * is locked; DS_E_CONFLICT: the job is terminal; DS_E_NOT_FOUND; DS_E_ARG. */
ds_status ds_job_lease(ds_store *store, int64_t id, const char *owner, int64_t now, int64_t ttl, ds_job *out);

/* The scheduler's batch step: leases to owner up to n (1..DS_JOB_CLAIM_MAX)
 * pending jobs, lowest id first, whose lease is free or expired (not those
 * owner already holds: a batch loop must move on; renew with ds_job_lease), and
 * whose campaign (if any) is running; only those of campaign_id unless it is
 * 0. ONE statement under the write lock (SQLite) or with FOR UPDATE SKIP
 * LOCKED (PostgreSQL): of several servers claiming at once, each job goes to
 * exactly one. cb (may be NULL) is called for each claimed job after the
 * commit, in id order. */
ds_status ds_job_claim(ds_store *store, int64_t campaign_id, const char *owner, int64_t now, int64_t ttl,
                       size_t n, ds_job_cb cb, void *ctx);

/* Gives up owner's lease. DS_OK if owner held it (also expired) or the job
 * had no lease; DS_E_CONFLICT if another owner holds it; DS_E_NOT_FOUND. */
ds_status ds_job_release(ds_store *store, int64_t id, const char *owner);

/* pending → issued: attempts + 1, records from_epoch, new_pub, nonce and tbs.
 * Only if, in one transaction: the job is pending with attempts <
 * max_attempts; its lease is free, expired or owner's; the device is enrolled
 * or active and its epoch is from_epoch; and, for a campaign job, the
 * campaign is running. Of two servers racing, exactly one wins.
 * DS_E_CONFLICT (nothing written) when a condition fails; DS_E_BUSY when the
 * campaign already has max_parallel issued jobs; DS_E_NOT_FOUND; DS_E_ARG
 * (new_pub not uncompressed SEC1, from_epoch >= DS_EPOCH_MAX, …). */
ds_status ds_job_issue(ds_store *store, int64_t id, const char *owner, uint64_t from_epoch,
                       const uint8_t new_pub[DS_DRK_PUB_LEN], const uint8_t nonce[DS_NONCE_LEN],
                       const uint8_t tbs[DS_DIGEST_LEN], int64_t now);

/* → completed, releasing the lease. new_pub MUST equal the job's recorded
 * key. Root rotation: new_epoch MUST be from_epoch + 1 and the device's epoch
 * still from_epoch; the device's DRK becomes new_pub at new_epoch and the old
 * key goes to the key history (as ds_device_set_key), in the SAME transaction
 * as the job. Anchor rotation: new_epoch MUST be from_epoch; the device row
 * is not touched. Accepted from issued, and from pending when the job holds
 * the previous attempt's key (J6: the receipt was lost, the job was retried,
 * and the device then turned out to have committed that attempt).
 * Idempotent: a completed job with the same key and epoch gives DS_OK and
 * writes nothing. A campaign with no open job left becomes done.
 * DS_E_CONFLICT: another key or epoch, no recorded key, a terminal job other
 * than that, a device revoked or decommissioned; DS_E_EXISTS: new_pub is
 * another device's DRK; DS_E_NOT_FOUND; DS_E_ARG. */
ds_status ds_job_complete(ds_store *store, int64_t id, const uint8_t new_pub[DS_DRK_PUB_LEN],
                          uint64_t new_epoch, int64_t now);

/* issued → pending for another attempt (the device still attests with the
 * old key), or → failed when attempts >= max_attempts, or → cancelled when
 * its campaign was cancelled; records why (may be NULL; at most
 * DS_JOB_ERROR_MAX bytes). The lease is kept on pending, cleared otherwise.
 * A failure may stop the campaign (see campaigns). Back to pending, an
 * anchor job starts over at step 0 with old_slot -1. DS_E_CONFLICT if the
 * job is not issued; DS_E_NOT_FOUND; DS_E_ARG. */
ds_status ds_job_retry(ds_store *store, int64_t id, const char *why, int64_t now);

/* open → failed / cancelled, recording why, clearing the lease. A failure
 * may stop the campaign. DS_E_CONFLICT if the job is terminal (J4). */
ds_status ds_job_fail(ds_store *store, int64_t id, const char *why, int64_t now);
ds_status ds_job_cancel(ds_store *store, int64_t id, const char *why, int64_t now);

/* ---- campaigns -----------------------------------------------------------------
 *
 * A campaign rotates every active device of one class: its jobs are created
 * with it, at most max_parallel of them are issued at any time (checked by
 * ds_job_issue under the campaign's row lock), and it stops itself when
 * fail_threshold of its jobs have failed.
 *
 *   running ──▶ stopped ──▶ running (the operator resumes)
 *      │           │
 *      │           └──▶ cancelled
 *      ├──▶ cancelled   (its pending jobs are cancelled with it; issued ones
 *      │                 finish, and a retry of one then cancels it)
 *      └──▶ done        (automatically when its last open job ends; by hand
 *                        only when it has no open job)
 *   done and cancelled are terminal; X → X is accepted as a no-op.
 *
 *   Invariants: C1. a running campaign has at most max_parallel issued jobs;
 *   C2. the job that makes the failed count reach fail_threshold (> 0) stops
 *   a running campaign in the same transaction; C3. only a running campaign's
 *   jobs are issued or claimed; C4. a campaign's jobs have its class, kind
 *   and mode.
 */

typedef enum ds_campaign_state {
    DS_CAMPAIGN_ANY = 0, /* filter only */
    DS_CAMPAIGN_RUNNING = 1,
    DS_CAMPAIGN_STOPPED = 2,
    DS_CAMPAIGN_DONE = 3,
    DS_CAMPAIGN_CANCELLED = 4,
} ds_campaign_state;

typedef struct ds_campaign {
    int64_t id;
    char class_name[DS_CLASS_MAX + 1];
    ds_job_kind kind;
    ds_job_mode mode;
    uint32_t max_parallel;   /* 1..DS_CAMPAIGN_PAR_MAX */
    uint32_t fail_threshold; /* stop when this many jobs failed; 0 = never */
    uint32_t max_attempts;   /* given to each of its jobs */
    ds_campaign_state state;
    char stop_reason[DS_JOB_ERROR_MAX + 1]; /* why it last changed state by hand or stopped */
    int64_t created_at, updated_at;
    /* its jobs by state, read in the same statement as the row */
    uint64_t n_pending, n_issued, n_completed, n_failed, n_cancelled;
} ds_campaign;

typedef struct ds_campaign_filter {
    const char *class_name;  /* NULL = any class */
    ds_campaign_state state; /* DS_CAMPAIGN_ANY = any */
    size_t limit;            /* 0 = no limit */
    size_t offset;
} ds_campaign_filter;

typedef int (*ds_campaign_cb)(const ds_campaign *c, void *ctx);

/* "running", "stopped", "done", "cancelled"; NULL if out of range. */
const char *ds_campaign_state_name(ds_campaign_state s);
ds_status ds_campaign_state_parse(const char *name, ds_campaign_state *out);
/* Whether the campaign state machine above allows from → to (true for from == to). */
bool ds_campaign_transition_allowed(ds_campaign_state from, ds_campaign_state to);

/* Creates a running campaign AND one pending job per ACTIVE device of the
 * class that has no open job, in ONE transaction; *n_jobs (may be NULL)
 * receives their number. With no such device the campaign is created done.
 * Devices that get an open job concurrently are skipped, not an error.
 * DS_E_ARG for a bad class, kind, mode or range, and for kind
 * DS_JOB_ROTATE_ANCHOR (campaigns do not rotate trust anchors yet). */
ds_status ds_campaign_create(ds_store *store, const char *class_name, ds_job_kind kind, ds_job_mode mode,
                             uint32_t max_parallel, uint32_t fail_threshold, uint32_t max_attempts,
                             int64_t now, int64_t *id_out, size_t *n_jobs);

/* Reads one campaign with its job counts. DS_E_NOT_FOUND if absent. */
ds_status ds_campaign_get(ds_store *store, int64_t id, ds_campaign *out);

/* Calls cb for each campaign matching filter (NULL = all), in id order. */
ds_status ds_campaign_list(ds_store *store, const ds_campaign_filter *filter, ds_campaign_cb cb, void *ctx);

/* Moves a campaign along its state machine, recording why (may be NULL) as
 * stop_reason. To cancelled: its pending jobs are cancelled in the same
 * transaction. To done: only with no open job. DS_E_CONFLICT if not allowed
 * (nothing written); DS_E_NOT_FOUND; DS_E_ARG (DS_CAMPAIGN_ANY). */
ds_status ds_campaign_set_state(ds_store *store, int64_t id, ds_campaign_state to, const char *why,
                                int64_t now);

#endif
