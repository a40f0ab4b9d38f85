/*
 * policy_store.h — the policy engine's tables (migration 007): policy
 * versions, each device's standing under its policy (stale, failed), the
 * log of actions taken, the policy's rotation campaigns, and the webhook
 * delivery queue with every attempt. Written once against sql.h, so the
 * same SQL runs on SQLite and PostgreSQL; docs/storage.md has the schema.
 *
 * Invariants (each function says how it keeps them):
 *   P1. Policy rows are never changed or deleted; a class's versions only
 *       rise (ds_pol_put checks under a per-class lock, on every server).
 *   P2. A device is marked stale once per episode: the conditional UPDATE
 *       (stale = 0 → 1) succeeds on one server only, and the episode's
 *       on_missed actions are written in that same transaction; an
 *       attestation ends the episode (stale = 1 → 0) in the transaction
 *       that records it (ds_pol_note_attestation).
 *   P3. failed is set by a FAIL (in the attestation's transaction) and
 *       cleared only by ds_pol_clear_failed (an operator, or a policy apply
 *       whose reference values no longer fail that FAIL's evidence).
 *   P4. An action or a webhook delivery is worked on by one server at a
 *       time: claimed with a conditional UPDATE that takes a lease.
 *   P5. A delivery that got a 2xx answer is never sent again; each attempt
 *       is a row of webhook_attempts, written with the delivery's new state
 *       in one transaction.
 *
 * Same threading rules as store.h: one store, one thread.
 */
#ifndef DS_POLICY_STORE_H
#define DS_POLICY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define DS_POL_BY_MAX     128 /* applied_by / cleared_by: "operator:<CN>", "policy:<class>@<v>" */
#define DS_POL_RESULT_MAX 255 /* an action's result text */
#define DS_POL_NAME       64

/* ---- the audit log (audit.h) ------------------------------------------------------ */

struct json_t;

/* Appends one audit entry (ds_audit_append) whose detail is the JSON object
 * detail (consumed; NULL = {}), inside the caller's transaction when one is
 * open (the entry then commits or rolls back with what it records).
 * Outside one, a failure is also written to stderr: the operation it
 * records has happened already. */
ds_status ds_pol_audit(ds_store *s, const char *actor, const char *action, const char *subject,
                       struct json_t *detail);

/* ---- the audit log (audit.h) ------------------------------------------------------ */

struct json_t;

/* Appends one audit entry (ds_audit_append) whose detail is the JSON object
 * detail (consumed; NULL = {}), inside the caller's transaction when one is
 * open (the entry then commits or rolls back with what it records).
 * Outside one, a failure is also written to stderr: the operation it
 * records has happened already. */
ds_status ds_pol_audit(ds_store *s, const char *actor, const char *action, const char *subject,
                       struct json_t *detail);

/* ---- policies ---------------------------------------------------------------- */

typedef struct ds_pol_row {
    char class_name[DS_CLASS_MAX + 1];
    int64_t version;
    int64_t applied_at;
    char applied_by[DS_POL_BY_MAX + 1];
    int64_t versions; /* ds_pol_list without a class: how many versions the class has */
    char *document;   /* ds_pol_get only: malloc'ed, NUL-terminated (ds_pol_row_free) */
} ds_pol_row;

typedef int (*ds_pol_row_cb)(const ds_pol_row *r, void *ctx);

/* Stores version `version` of class cls (P1): in one transaction holding
 * the class's lock, refuses a version not above the live one
 * (DS_E_CONFLICT, the message names both), then inserts, with its audit
 * entry (policy.apply, actor by). DS_E_ARG for a bad class, version < 1,
 * an empty document or by. */
ds_status ds_pol_put(ds_store *s, const char *cls, int64_t version, const char *doc, const char *by,
                     int64_t now);
/* The live (highest) version of cls; 0 when the class has no policy. */
ds_status ds_pol_live_version(ds_store *s, const char *cls, int64_t *version);
/* One version (0 = the live one), with its document. DS_E_NOT_FOUND. */
ds_status ds_pol_get(ds_store *s, const char *cls, int64_t version, ds_pol_row *out);
void ds_pol_row_free(ds_pol_row *r);
/* cls NULL: the live version of every class (with `versions`), by class;
 * else every version of cls, newest first. No documents. */
ds_status ds_pol_list(ds_store *s, const char *cls, ds_pol_row_cb cb, void *ctx);

/* ---- a device's standing ----------------------------------------------------------- */

typedef struct ds_pol_devstate {
    uint8_t device_id[DS_DEVICE_ID_LEN];
    char class_name[DS_CLASS_MAX + 1];
    ds_device_status status;
    uint64_t epoch;
    int64_t last_attest_at; /* 0 = never */
    ds_result last_result;
    int64_t key_since; /* when its current root key was installed (registration or last rotation) */
    bool stale;
    int64_t stale_since;    /* the current (or last) episode's start */
    int64_t stale_episodes; /* how many times it went stale */
    bool failed;
    int64_t failed_at;             /* the first FAIL of the current failure */
    int64_t failed_attestation_id; /* the latest FAIL */
    bool failed_tamper;            /* some FAIL of the current failure was a tamper FAIL */
    char failed_reasons[DS_REASON_MAX + 1];
    int64_t cleared_at; /* the last clear (0 = never) */
    char cleared_by[DS_POL_BY_MAX + 1];
    char clear_reason[DS_REASON_MAX + 1];
} ds_pol_devstate;

typedef int (*ds_pol_devstate_cb)(const ds_pol_devstate *d, void *ctx);

/* One device's standing (a device never touched by the engine: not stale,
 * not failed). DS_E_NOT_FOUND if no such device. */
ds_status ds_pol_device_state(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], ds_pol_devstate *out);
/* Every device of cls, in device-id order. */
ds_status ds_pol_device_states(ds_store *s, const char *cls, ds_pol_devstate_cb cb, void *ctx);

/* Inside the attestation's transaction (store.h ds_attest_update.in_tx):
 * ends a stale episode (*was_stale) and, when fail, sets failed (P3) or,
 * if already failed, moves failed_attestation_id to this one
 * (*newly_failed says whether it was set now). tamper: this FAIL names a
 * tamper reason. was_stale and newly_failed MUST NOT be NULL. */
ds_status ds_pol_note_attestation(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], int64_t attestation_id,
                                  bool fail, bool tamper, const char *reasons, int64_t now, bool *was_stale,
                                  bool *newly_failed);

/* Clears the failed flag (P3), recording who, why and when, with its audit
 * entry (policy.clear, actor by), in one transaction. DS_E_NOT_FOUND: no
 * such device; DS_E_CONFLICT: it is not failed (nothing written). */
ds_status ds_pol_clear_failed(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], const char *by,
                              const char *why, int64_t now);

/* Inside an open transaction: moves the device to `to` along the store's
 * state machine, with the status log row, like ds_device_set_status.
 * *changed false (DS_OK) when it is already there or the machine does not
 * allow the move. */
ds_status ds_pol_set_status_in_tx(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], ds_device_status to,
                                  const char *reason, int64_t now, bool *changed);

/* Marks stale, in one transaction (P2), every device of cls in status
 * enrolled, active or quarantined that has attested, whose last
 * attestation is before cutoff, and that is not stale yet. For each device
 * this call marked, fn(s, id, episode, ctx) runs inside the same
 * transaction (it writes the episode's actions); an error from fn rolls
 * everything back. *marked (may be NULL) receives the count. */
typedef ds_status (*ds_pol_stale_fn)(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], int64_t episode,
                                     void *ctx);
ds_status ds_pol_mark_stale(ds_store *s, const char *cls, int64_t cutoff, int64_t now, ds_pol_stale_fn fn,
                            void *ctx, size_t *marked);

/* The active devices of cls whose root key was installed at or before
 * cutoff and that may get a rotation job now: no open job of any kind, and
 * no root rotation that failed since that key was installed (one attempt
 * per key; a failed one is the operator's to look at). In device-id order. */
typedef int (*ds_pol_due_cb)(const uint8_t id[DS_DEVICE_ID_LEN], int64_t key_since, void *ctx);
ds_status ds_pol_key_age_due(ds_store *s, const char *cls, int64_t cutoff, ds_pol_due_cb cb, void *ctx);

/* The stored token of attestation id of the device, or of its latest
 * attestation (id 0): a malloc'ed copy in *token (NULL when none is stored)
 * and its length; *att_id (may be NULL) the attestation's id. */
ds_status ds_pol_token(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t id, uint8_t **token,
                       size_t *len, int64_t *att_id);

/* ---- actions ---------------------------------------------------------------------- */

typedef struct ds_pol_action_new {
    const uint8_t *device_id; /* NULL: a class-wide action */
    const char *class_name;
    int64_t policy_version;
    const char *cause;  /* on_fail, on_tamper, on_missed, apply, key_age, operator */
    const char *action; /* quarantine, revoke, notify, rotate, update, clear */
    const char *target; /* webhook, component, job or campaign; NULL = "" */
    const char *state;  /* pending, done, failed, skipped */
    const char *result; /* NULL = "" */
    int64_t attestation_id;
    const char *dedupe; /* NULL, or a key that makes the action unique */
} ds_pol_action_new;

typedef struct ds_pol_action_row {
    int64_t id;
    bool has_device;
    uint8_t device_id[DS_DEVICE_ID_LEN];
    char class_name[DS_CLASS_MAX + 1];
    int64_t policy_version;
    char cause[16];
    char action[16];
    char target[DS_POL_NAME + 1];
    char state[16];
    char result[DS_POL_RESULT_MAX + 1];
    int64_t attestation_id;
    int64_t created_at, updated_at;
} ds_pol_action_row;

typedef int (*ds_pol_action_cb)(const ds_pol_action_row *a, void *ctx);

/* Inserts an action row; *id (may be NULL) is its id, or 0 when one with
 * the same dedupe key exists already (nothing written, DS_OK). */
ds_status ds_pol_action_add(ds_store *s, const ds_pol_action_new *a, int64_t now, int64_t *id);
/* Claims the oldest pending action whose lease is free or expired (P4);
 * *found false when there is none. */
ds_status ds_pol_action_claim(ds_store *s, const char *owner, int64_t now, int64_t ttl,
                              ds_pol_action_row *out, bool *found);
/* Ends a claimed action: state done, failed or skipped, with its result;
 * only while owner holds it (DS_E_CONFLICT otherwise). */
ds_status ds_pol_action_finish(ds_store *s, int64_t id, const char *owner, const char *state,
                               const char *result, int64_t now);
/* Actions of cls (NULL = any) and device (NULL = any), newest first, at most limit (0 = 100). */
ds_status ds_pol_action_list(ds_store *s, const char *cls, const uint8_t *device, size_t limit,
                             ds_pol_action_cb cb, void *ctx);

/* ---- the policy's rotation campaign -------------------------------------------------- */

/* The running campaign the policy engine made for cls, if its mode and
 * max_parallel are these: *campaign_id. Otherwise, in one transaction
 * under the class's campaign lock: when another running policy campaign of
 * cls exists (other settings), DS_E_CONFLICT with *campaign_id = that one
 * (the caller cancels it and asks again); else a new running campaign
 * (rotate-root, fail_threshold 0) is created and recorded (*created). */
ds_status ds_pol_campaign_ensure(ds_store *s, const char *cls, int64_t policy_version, int mode,
                                 uint32_t max_parallel, uint32_t max_attempts, int64_t now,
                                 int64_t *campaign_id, bool *created);

/* ---- webhook deliveries ------------------------------------------------------------------ */

typedef struct ds_wh_new {
    const char *delivery_id; /* 32 hex digits, unique */
    const char *webhook;
    const char *class_name;
    int64_t policy_version;
    const char *url;
    const char *secret_file;
    const char *event;
    const uint8_t *device_id; /* may be NULL */
    const char *payload;      /* the JSON body, exactly as it will be signed and sent */
    uint32_t max_attempts;
    uint32_t backoff_s;
} ds_wh_new;

typedef struct ds_wh_row {
    int64_t id;
    char delivery_id[33];
    char webhook[DS_POL_NAME + 1];
    char class_name[DS_CLASS_MAX + 1];
    int64_t policy_version;
    char url[513];
    char secret_file[256];
    char event[32];
    bool has_device;
    uint8_t device_id[DS_DEVICE_ID_LEN];
    char *payload; /* malloc'ed (ds_wh_row_free); NULL in lists */
    uint32_t max_attempts, backoff_s, attempts;
    char state[16];
    int64_t next_at;
    int64_t last_status;
    char last_error[DS_POL_RESULT_MAX + 1];
    int64_t created_at, delivered_at;
} ds_wh_row;

typedef struct ds_wh_attempt {
    int64_t attempt;
    int64_t at;
    int64_t http_status; /* 0: no answer */
    char error[DS_POL_RESULT_MAX + 1];
    int64_t duration_ms;
} ds_wh_attempt;

typedef int (*ds_wh_cb)(const ds_wh_row *w, void *ctx);
typedef int (*ds_wh_attempt_cb)(const ds_wh_attempt *a, void *ctx);

/* Queues a delivery, due now. *id (may be NULL) receives its row id. */
ds_status ds_wh_enqueue(ds_store *s, const ds_wh_new *w, int64_t now, int64_t *id);
/* Claims the oldest pending delivery that is due and not leased (P4). */
ds_status ds_wh_claim(ds_store *s, const char *owner, int64_t now, int64_t ttl, ds_wh_row *out, bool *found);
void ds_wh_row_free(ds_wh_row *w);
/* Records one attempt of a claimed delivery and its outcome (P5), in one
 * transaction: a 2xx status → delivered; otherwise attempts + 1, and
 * failed at max_attempts, else pending again at now + backoff_s × 2^(n-1)
 * (n = attempts so far, capped at a day). DS_E_CONFLICT if owner does not
 * hold it or it is no longer pending. *state_out (may be NULL, 16 bytes)
 * receives the new state. */
ds_status ds_wh_attempt_done(ds_store *s, int64_t id, const char *owner, int64_t http_status,
                             const char *error, int64_t duration_ms, int64_t now, char *state_out);
/* Deliveries (state NULL = any), newest first, at most limit (0 = 100). */
ds_status ds_wh_list(ds_store *s, const char *state, size_t limit, ds_wh_cb cb, void *ctx);
/* The attempts of one delivery, in order. */
ds_status ds_wh_attempts(ds_store *s, int64_t id, ds_wh_attempt_cb cb, void *ctx);

/* The back-off before attempt n + 1 after n failed attempts (n >= 1). */
int64_t ds_wh_backoff(uint32_t backoff_s, uint32_t n);

#endif /* DS_POLICY_STORE_H */
