/*
 * firmware_internal.h — what firmware.c (images, releases) shares with
 * firmware_rollout.c (rollouts) and firmware_jobs.c (jobs). Not for use
 * outside those three.
 */
#ifndef DS_FIRMWARE_INTERNAL_H
#define DS_FIRMWARE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "drot/eat.h"
#include "firmware.h"
#include "sql.h"
#include "store_internal.h"

/* Lower-case hex of p[0..n) into out (2n + 1 bytes). */
void fw_hex(const uint8_t *p, size_t n, char *out);
/* 1..max printable ASCII bytes. */
bool fw_text_ok(const char *s, size_t max);
/* A class name as the store accepts it. */
bool fw_class_ok(const char *s);

/* An actor as the audit log accepts it (audit_chain.h). */
bool fw_actor_ok(const char *actor);

/* Appends an audit entry inside the caller's transaction (audit.h): it
 * commits or rolls back with the operation. detail is consumed (NULL: {}). */
ds_status fw_audit(ds_store *s, const char *actor, const char *action, const char *subject, json_t *detail);
/* "device:<32 hex>" */
void fw_device_actor(const uint8_t id[DS_DEVICE_ID_LEN], char out[48]);

/* Takes the named lock "<prefix><hex of p>" (ds_sql_lock). */
ds_status fw_lock_hex(ds_store *s, const char *prefix, const uint8_t *p, size_t n);
ds_status fw_lock_id(ds_store *s, const char *prefix, int64_t id);

/* What an attestation token says about one component: the LAST software
 * component whose measurement type is `component` (a host measures a stage
 * again after an update without a reboot; the last one is what runs). */
typedef struct fw_measured {
    bool found;
    uint8_t digest[DS_DIGEST_LEN]; /* only a 32-byte (SHA-256) measurement counts */
    bool digest_ok;
    char version[DROT_EAT_MAX_TEXT + 1]; /* printable copy, "" when absent */
    uint8_t signer[DS_DIGEST_LEN];       /* the signer id (anchor hash) of a 32-byte one */
    bool signer_ok;
} fw_measured;

/* Decodes token (COSE_Sign1 + EAT, no signature check: see firmware.h) and
 * fills *m for component. False when the token does not decode. */
bool fw_token_component(const uint8_t *token, size_t len, const char *component, fw_measured *m);

/* Reads the release columns FW_RELEASE_COLS of a row from column `at`. */
#define FW_RELEASE_COLS                                                                                      \
    "r.id, r.component, r.version, r.svn, r.image_digest, r.size, r.manifest, r.signer, r.published_at, "    \
    "r.published_by"
void fw_release_from_row(const ds_sql_row *row, size_t at, fw_release *out);

/* ---- shared by firmware_rollout.c and firmware_jobs.c ---------------------------------------- */

#define FW_JOB_COLS                                                                                          \
    "j.id, j.device_id, j.rollout_id, j.release_id, j.state, j.attempts, j.max_attempts, j.deadline, "       \
    "j.offered_at, j.installed_at, j.last_error, j.created_at, j.updated_at"
void fw_job_from_row(const ds_sql_row *r, fw_job *j);

typedef struct fw_one_job {
    fw_job *out;
    bool found;
} fw_one_job;

/* Takes the first row as *out (found set). */
int fw_one_job_row(const ds_sql_row *r, void *ctx);

/* A retry after a failure: back to pending, or failed at max_attempts, or
 * cancelled when the rollout was (nobody would offer it again). */
#define FW_RETRY_STATE                                                                                       \
    "CASE WHEN attempts >= max_attempts THEN 'failed' "                                                      \
    "WHEN (SELECT o.state FROM firmware_rollouts o WHERE o.id = firmware_jobs.rollout_id) = 'cancelled' "    \
    "THEN 'cancelled' ELSE 'pending' END"

/* "<kind>:<id>" */
void fw_subject_of(const char *kind, int64_t id, char out[40]);
/* A rollout whose last open job ended becomes done (actor "server"). */
ds_status fw_maybe_done(ds_store *s, int64_t rollout_id, int64_t now);
/* Retries (or fails) the rollout's jobs in flight past their deadline,
 * recording each; the caller holds the rollout's lock. *n: how many. */
ds_status fw_expire_rollout(ds_store *s, int64_t rollout_id, int64_t now, int64_t *n);
/* One job in flight: retried or failed with why; the caller holds the locks
 * and records the audit entry. */
ds_status fw_retry_job(ds_store *s, const fw_job *j, const char *why, int64_t now);
ds_status fw_load_job(ds_store *s, int64_t id, fw_job *j, bool *found);
/* DS_E_NOT_FOUND when absent. */
ds_status fw_load_rollout(ds_store *s, int64_t id, fw_rollout *r);

#endif
