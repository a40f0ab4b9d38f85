/*
 * store_internal.h — what store.c shares with the two backends
 * (store_sqlite.c, store_pg.c). Not for use outside server/src/store*.c.
 *
 * store.c validates every argument (NULL, lengths, ranges, names) before it
 * dispatches, so a backend receives only well-formed input and does only the
 * database work. Each backend embeds struct ds_store as its first member.
 */
#ifndef DS_STORE_INTERNAL_H
#define DS_STORE_INTERNAL_H

#include <stdarg.h>

#include "store.h"

/* One embedded migration (generated from server/db/migrations/<backend>/NNN_name.sql
 * at build time by server/db/embed_migrations.cmake). */
typedef struct ds_migration {
    int version;
    const char *name;
    const char *sql;
} ds_migration;

extern const ds_migration ds_migrations_sqlite[];
extern const size_t ds_migrations_sqlite_count;
extern const ds_migration ds_migrations_postgres[];
extern const size_t ds_migrations_postgres_count;

/* The rotation job and campaign operations of a backend (store_jobs.c
 * validates, the backend's *_jobs.c file does the database work). Every
 * step that changes a job reads it under a row lock and asks the shared
 * ds_job_check_* helpers below whether the step is legal, so both backends
 * apply the same state machine. Lock order, everywhere: job, then campaign,
 * then device. */
typedef struct ds_job_ops {
    /* anchor_pub: the key of an anchor job, NULL for a root job */
    ds_status (*create)(ds_store *s, const uint8_t *device_id, const uint8_t *anchor_pub, ds_job_kind kind,
                        ds_job_mode mode, uint32_t max_attempts, int64_t campaign_id, int64_t now,
                        int64_t *id_out);
    ds_status (*get)(ds_store *s, int64_t id, ds_job *out);
    ds_status (*open_for_device)(ds_store *s, const uint8_t *device_id, ds_job *out);
    ds_status (*list)(ds_store *s, const ds_job_filter *f, ds_job_cb cb, void *ctx);
    ds_status (*lease)(ds_store *s, int64_t id, const char *owner, int64_t now, int64_t ttl, ds_job *out);
    /* fills out[0..*n_out) (cap n), sorted by id; store.c calls the callbacks */
    ds_status (*claim)(ds_store *s, int64_t campaign_id, const char *owner, int64_t now, int64_t ttl,
                       size_t n, ds_job *out, size_t *n_out);
    ds_status (*release)(ds_store *s, int64_t id, const char *owner);
    ds_status (*issue)(ds_store *s, int64_t id, const char *owner, uint64_t from_epoch,
                       const uint8_t *new_pub, const uint8_t *nonce, const uint8_t *tbs, int64_t now);
    ds_status (*complete)(ds_store *s, int64_t id, const uint8_t *new_pub, const uint8_t *new_inst,
                          uint64_t new_epoch, int64_t now);
    ds_status (*retry)(ds_store *s, int64_t id, const char *why, int64_t now);
    /* old_slot may be DS_ANCHOR_SLOT_KEEP (ds_job_check_advance resolves it) */
    ds_status (*advance)(ds_store *s, int64_t id, uint32_t from_step, uint32_t to_step, int32_t old_slot,
                         int64_t now);
    /* to is DS_JOB_FAILED or DS_JOB_CANCELLED */
    ds_status (*end)(ds_store *s, int64_t id, ds_job_state to, const char *why, int64_t now);
    ds_status (*campaign_create)(ds_store *s, const char *class_name, ds_job_kind kind, ds_job_mode mode,
                                 uint32_t max_parallel, uint32_t fail_threshold, uint32_t max_attempts,
                                 int64_t now, int64_t *id_out, size_t *n_jobs);
    ds_status (*campaign_get)(ds_store *s, int64_t id, ds_campaign *out);
    ds_status (*campaign_list)(ds_store *s, const ds_campaign_filter *f, ds_campaign_cb cb, void *ctx);
    ds_status (*campaign_set_state)(ds_store *s, int64_t id, ds_campaign_state to, const char *why,
                                    int64_t now);
} ds_job_ops;

extern const ds_job_ops ds_sqlite_job_ops; /* store_sqlite_jobs.c */
extern const ds_job_ops ds_pg_job_ops;     /* store_pg_jobs.c */

/* The backend operations table. Every function gets validated arguments;
 * "now" values are supplied by store.c so that both backends agree. */
typedef struct ds_store_ops {
    const char *name;
    void (*close)(ds_store *s);
    ds_status (*migrate)(ds_store *s, const ds_migration *m, size_t n, int64_t now, int *version_out);
    ds_status (*schema_version)(ds_store *s, int *version_out);
    ds_status (*check)(ds_store *s);
    ds_status (*device_register_bulk)(ds_store *s, const ds_device_new *devs,
                                      const uint8_t (*instance_ids)[DS_INSTANCE_ID_LEN], size_t n,
                                      int64_t now, size_t *dup_index);
    /* by_instance: key is an instance id, else a device id */
    ds_status (*device_get)(ds_store *s, const uint8_t *key, bool by_instance, ds_device *out);
    ds_status (*device_list)(ds_store *s, const ds_device_filter *f, ds_device_cb cb, void *ctx);
    ds_status (*device_set_status)(ds_store *s, const uint8_t *device_id, ds_device_status to,
                                   const char *reason, int64_t now);
    ds_status (*device_set_key)(ds_store *s, const uint8_t *device_id, const uint8_t *new_pub,
                                const uint8_t *new_instance, uint64_t new_epoch, int64_t now);
    ds_status (*device_key_history)(ds_store *s, const uint8_t *device_id, ds_key_cb cb, void *ctx);
    ds_status (*challenge_issue)(ds_store *s, const uint8_t *challenge, const uint8_t *device_id,
                                 int64_t issued_at, int64_t expires_at);
    ds_status (*challenge_consume)(ds_store *s, const uint8_t *challenge, int64_t now, uint8_t *device_id_out,
                                   bool *bound_out);
    ds_status (*challenge_purge_expired)(ds_store *s, int64_t now, uint64_t *purged);
    /* upd is never NULL (a zeroed one when the caller gave none); out is
     * never NULL either */
    ds_status (*attestation_record)(ds_store *s, const ds_attestation *att, const ds_attest_update *upd,
                                    int64_t now, ds_attest_outcome *out);
    ds_status (*attestation_list)(ds_store *s, const uint8_t *device_id, size_t limit, ds_attestation_cb cb,
                                  void *ctx);
    const ds_job_ops *jobs;
} ds_store_ops;

#define DS_ERR_MAX 512

struct ds_store {
    const ds_store_ops *ops;
    char err[DS_ERR_MAX];
};

/* Records a formatted message as the store's last error and returns st. */
ds_status ds_store_fail(ds_store *s, ds_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backend constructors, called by ds_store_open. target is the path (SQLite)
 * or the whole URL (PostgreSQL). On failure they write err and return NULL
 * through *out. */
ds_status ds_store_sqlite_open(const char *path, ds_store **out, char *err, size_t errlen);
ds_status ds_store_pg_open(const char *url, ds_store **out, char *err, size_t errlen);

/* The one allocation wrapper of the storage layer: zeroed memory or NULL. */
void *ds_calloc(size_t n, size_t size);
void ds_free(void *p);

/* The consistency query of ds_store_check, valid on both backends: one row
 * of DS_CHECK_COLS counts, all zero in a consistent database (orphan
 * attestation, key-history, status-log and challenge rows; devices whose
 * attest_count / last_attest_at / last_result disagree with their rows;
 * then the rotation job invariants J1-J3 and campaign invariants C1 and C4
 * of store.h). */
#define DS_CHECK_COLS 10
#define DS_SQL_CHECK                                                                                         \
    "SELECT "                                                                                                \
    "(SELECT count(*) FROM attestations a WHERE NOT EXISTS "                                                 \
    "  (SELECT 1 FROM devices d WHERE d.device_id = a.device_id)), "                                         \
    "(SELECT count(*) FROM device_keys k WHERE NOT EXISTS "                                                  \
    "  (SELECT 1 FROM devices d WHERE d.device_id = k.device_id)), "                                         \
    "(SELECT count(*) FROM device_status_log l WHERE NOT EXISTS "                                            \
    "  (SELECT 1 FROM devices d WHERE d.device_id = l.device_id)), "                                         \
    "(SELECT count(*) FROM challenges c WHERE c.device_id IS NOT NULL AND NOT EXISTS "                       \
    "  (SELECT 1 FROM devices d WHERE d.device_id = c.device_id)), "                                         \
    "(SELECT count(*) FROM devices d WHERE "                                                                 \
    "  d.attest_count <> (SELECT count(*) FROM attestations a WHERE a.device_id = d.device_id) "             \
    "  OR coalesce(d.last_attest_at, -1) <> coalesce((SELECT a.at FROM attestations a "                      \
    "     WHERE a.device_id = d.device_id ORDER BY a.id DESC LIMIT 1), -1) "                                 \
    "  OR coalesce(d.last_result, '') <> coalesce((SELECT a.result FROM attestations a "                     \
    "     WHERE a.device_id = d.device_id ORDER BY a.id DESC LIMIT 1), '')), "                               \
    "(SELECT count(*) FROM (SELECT j.device_id FROM rotation_jobs j "                                        \
    "  WHERE j.state IN ('pending', 'issued') GROUP BY j.device_id HAVING count(*) > 1) o), "                \
    "(SELECT count(*) FROM rotation_jobs j WHERE j.state = 'issued' AND "                                    \
    "  (j.new_pub IS NULL OR j.nonce IS NULL OR j.instruction_tbs IS NULL)), "                               \
    "(SELECT count(*) FROM rotation_jobs j WHERE j.attempts < 0 OR j.attempts > j.max_attempts "             \
    "  OR (j.state = 'issued' AND j.attempts = 0)), "                                                        \
    "(SELECT count(*) FROM rotation_campaigns c WHERE c.state = 'running' AND c.max_parallel < "             \
    "  (SELECT count(*) FROM rotation_jobs j WHERE j.campaign_id = c.id AND j.state = 'issued')), "          \
    "(SELECT count(*) FROM rotation_jobs j JOIN rotation_campaigns c ON c.id = j.campaign_id "               \
    "  JOIN devices d ON d.device_id = j.device_id "                                                         \
    "  WHERE d.class <> c.class OR j.kind <> c.kind OR j.mode <> c.mode)"

/* ---- the job state machine, shared by both backends (store_jobs.c) ------------
 * Each takes the job (and what else it needs) as read under the row lock and
 * returns DS_OK if the step is legal, else the status with a message. */

/* ds_job_lease: open, and the lease free, expired or owner's. */
ds_status ds_job_check_lease(ds_store *s, const ds_job *j, const char *owner, int64_t now);
/* ds_job_issue, job and device part. */
ds_status ds_job_check_issue(ds_store *s, const ds_job *j, const char *owner, uint64_t from_epoch,
                             ds_device_status dev_status, uint64_t dev_epoch, int64_t now);
/* ds_job_issue, campaign part: running (DS_E_CONFLICT) and n_issued below
 * max_parallel (DS_E_BUSY). */
ds_status ds_job_check_campaign_issue(ds_store *s, const ds_campaign *c, uint64_t n_issued);
/* ds_job_complete, job part: *noop says "already completed with this key". */
ds_status ds_job_check_complete(ds_store *s, const ds_job *j, const uint8_t *new_pub, uint64_t new_epoch,
                                bool *noop);
/* ds_job_complete, device part (root rotation only). */
ds_status ds_job_check_complete_device(ds_store *s, const ds_job *j, ds_device_status dev_status,
                                       uint64_t dev_epoch);
/* ds_job_retry: the job must be issued; *to is where it goes given its
 * campaign's state (DS_CAMPAIGN_ANY for a job without campaign). */
ds_status ds_job_check_retry(ds_store *s, const ds_job *j, ds_campaign_state camp, ds_job_state *to);
/* ds_job_advance: an anchor job, pending, at from_step (arguments checked
 * before). *slot receives the old_slot to store (old_slot, or the stored one
 * for DS_ANCHOR_SLOT_KEEP). */
ds_status ds_job_check_advance(ds_store *s, const ds_job *j, uint32_t from_step, int32_t old_slot,
                               int32_t *slot);
/* ds_job_fail / ds_job_cancel: the job must be open. */
ds_status ds_job_check_end(ds_store *s, const ds_job *j, ds_job_state to);
/* After one of the campaign's jobs ended: the campaign's next state given
 * its failed and open job counts (C2, and done when nothing is open);
 * *to == c->state when nothing changes; reason receives the stop reason. */
void ds_campaign_after_job(const ds_campaign *c, uint64_t n_failed, uint64_t n_open, ds_campaign_state *to,
                           char *reason, size_t cap);
/* ds_job_create with a campaign: running, and the job matches it (C4). */
ds_status ds_job_check_create_campaign(ds_store *s, const ds_campaign *c, const char *dev_class,
                                       ds_job_kind kind, ds_job_mode mode);
/* ds_job_create: the device is enrolled or active. */
ds_status ds_job_check_create_device(ds_store *s, ds_device_status dev_status);

/* Turns the DS_SQL_CHECK counts into DS_OK or DS_E_CORRUPT with a message. */
ds_status ds_check_verdict(ds_store *s, const int64_t counts[DS_CHECK_COLS]);

/* Whether c is a valid device class name (1..DS_CLASS_MAX of [A-Za-z0-9._-]). */
bool ds_class_name_ok(const char *c);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void ds_hex(const uint8_t *in, size_t len, char *out);

/* Copies a NUL-terminated text of at most cap-1 bytes (truncating). */
void ds_copy_text(char *dst, size_t cap, const char *src, size_t src_len);

#endif
