/*
 * firmware.h — drot-server's firmware repository, releases, staged rollouts
 * and per-device firmware jobs (DESIGN.md §6, §7.3; docs/firmware.md is the
 * operator's description, docs/storage.md "Firmware" the schema).
 *
 * Written once against the portable SQL layer (sql.h), so it runs unchanged
 * on SQLite and PostgreSQL; migration 006 makes the tables.
 *
 *   images    content-addressed: the SHA-256 of the bytes is the key. An
 *             image is uploaded in chunks of FW_CHUNK_SIZE bytes (the last
 *             one shorter), in any order and resumably; it becomes complete
 *             when the last chunk arrives and the SHA-256 of all of them is
 *             the address (else the upload is discarded). The bytes live in
 *             the database, so that several servers sharing PostgreSQL serve
 *             the same images.
 *   releases  one authority-signed manifest (drot/manifest.h) for one
 *             complete image of the manifest's size and digest; unique per
 *             (component, version); never changed once published.
 *   rollouts  a release staged over the devices of one class: one job per
 *             device that does not already run it, at most max_in_flight
 *             of them offered or installed at any time.
 *   jobs      one device's part of a rollout:
 *
 *       create      claim (PASS attestation,            report installed
 *       ────▶ pending ──── slot free) ────▶ offered ───────────────────────▶ installed
 *              ▲  │                           │  │                              │  │
 *              │  │                           │  └─ report confirmed (F6) ──┐   │  │
 *              │  │                           │                             ▼   │  │
 *              │  │                           │                     confirmed ◀─┘  │
 *              │  │                           │                                    │
 *              └──┼────── report failed, or deadline passed (attempts < max) ──────┤
 *                 │                                                                │
 *                 │                  same, attempts = max ──▶ failed ◀─────────────┘
 *                 └─ rollout cancelled ──▶ cancelled
 *
 *     A device whose attestation already shows the release is offered its
 *     job all the same: it may run the image on an unconfirmed trial, which
 *     only the agent can confirm (it then reports confirmed at once).
 *     confirmed, failed and cancelled are terminal. Cancelling a rollout
 *     cancels its pending jobs; offered and installed ones finish.
 *
 *   rollout states:
 *       running ◀──▶ paused        (paused: pending jobs are not offered)
 *       running, paused ──▶ cancelled
 *       running, paused ──▶ done   (by itself, when no job is pending,
 *                                    offered or installed any more)
 *     done and cancelled are terminal; X → X is a no-op.
 *
 * Invariants (the tests check each; fw_store_check verifies F1-F5):
 *   F1. A running rollout never has more than max_in_flight jobs offered or
 *       installed: a claim counts them after taking the rollout's lock
 *       (ds_sql_lock "fw-rollout:<id>"), in the transaction that offers, so
 *       servers claiming at once cannot exceed it.
 *   F2. A device has at most one job offered or installed (a partial unique
 *       index; a claim also holds the device's lock "fw-device:<hex>").
 *   F3. A device has at most one job per rollout; a retry reuses it.
 *   F4. A class has at most one open (running or paused) rollout per
 *       component (a partial unique index).
 *   F5. 0 <= attempts <= max_attempts; attempts rise by one per offer and
 *       never otherwise; terminal states are final.
 *   F6. A job is confirmed only when the device's last attestation is a
 *       PASS whose token shows the release's digest as the last
 *       measurement of the release's component.
 *   F7. An image is complete only when all of its chunks are stored, their
 *       lengths add up to its size and the SHA-256 of their concatenation
 *       is its digest.
 *   F8. A release names a complete image whose digest and size are the
 *       manifest's, and its manifest verified (drot_manifest_verify) against
 *       an authority anchor of the server when it was published.
 *   F9. An APM release is offered only to a device whose attestation shows
 *       its running APM image signed by the same authority (the signer id
 *       is the anchor hash): the APM derives its sealing key from that
 *       signer, so an image by another authority would leave the device
 *       unable to open its sealed storage after the update. Such a job is
 *       failed at the claim (firmware.job_refused), not retried.
 *   Every operation that writes runs in ONE transaction (ds_sql_tx): a
 *   refusal writes nothing. Each change is recorded in the audit log
 *   (audit.h) in that same transaction, so an entry exists exactly when its
 *   change does: actions firmware.upload_begin, upload_complete,
 *   upload_rejected, upload_discard, publish, rollout_start, rollout_extend,
 *   rollout_state, rollout_done, job_offer, job_report,
 *   job_timeout, job_refused (docs/firmware.md lists their subjects and
 *   details). The
 *   actor of an operation is the caller's (operator, policy); the device's
 *   ("device:<hex>") for offers and reports; "server" for what happens by
 *   itself (a deadline passed, a rollout done). Actors follow the audit
 *   log's rule: 1..128 printable ASCII bytes without spaces.
 *
 * Tokens stored with attestations are read here without verifying their
 * signature again: the attestation route verified each one before storing
 * it with its verdict, and only PASS rows are read.
 *
 * Locks, always in this order: "fw-class:<class>/<component>" (rollout
 * creation), "fw-device:<hex id>", "fw-rollout:<id>". On SQLite every write
 * transaction already holds the one database write lock.
 *
 * Threading: as store.h (one store, one thread at a time).
 */
#ifndef DS_FIRMWARE_H
#define DS_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/authority.h"
#include "drot/manifest.h"
#include "store.h"

#define FW_CHUNK_SIZE    (256u * 1024u)          /* bytes per stored image chunk */
#define FW_IMAGE_MAX     DROT_MANIFEST_MAX_IMAGE /* 16 MiB */
#define FW_CHUNKS_MAX    (FW_IMAGE_MAX / FW_CHUNK_SIZE)
#define FW_MANIFEST_MAX  1024u /* a signed manifest is far below */
#define FW_ACTOR_MAX     255   /* "operator:<CN>", "policy:<class>@<v>" … */
#define FW_REASON_MAX    255   /* job errors, state reasons */
#define FW_IN_FLIGHT_MAX 100000u
#define FW_ATTEMPTS_MAX  20u
#define FW_TIMEOUT_MIN   1
#define FW_TIMEOUT_MAX   (7 * 86400)
#define FW_LIST_MAX      10000u

typedef enum fw_rollout_state {
    FW_ROLLOUT_ANY = 0, /* filter only */
    FW_ROLLOUT_RUNNING = 1,
    FW_ROLLOUT_PAUSED = 2,
    FW_ROLLOUT_DONE = 3,
    FW_ROLLOUT_CANCELLED = 4,
} fw_rollout_state;

/* Job states. The numbers are also the wire codes of the device API
 * (docs/api.md: the attest answer's offer and POST /v1/device/firmware/report). */
typedef enum fw_job_state {
    FW_JOB_ANY = 0, /* filter only */
    FW_JOB_PENDING = 1,
    FW_JOB_OFFERED = 2,
    FW_JOB_INSTALLED = 3,
    FW_JOB_CONFIRMED = 4,
    FW_JOB_FAILED = 5,
    FW_JOB_CANCELLED = 6,
} fw_job_state;

/* Names as stored ("running", "offered"…); NULL if out of range. */
const char *fw_rollout_state_name(fw_rollout_state s);
const char *fw_job_state_name(fw_job_state s);
/* Inverse; DS_E_ARG for an unknown name. */
ds_status fw_rollout_state_parse(const char *name, fw_rollout_state *out);
ds_status fw_job_state_parse(const char *name, fw_job_state *out);

/* ---- images ------------------------------------------------------------------------ */

typedef struct fw_image {
    uint8_t digest[DS_DIGEST_LEN];
    uint32_t size;
    uint32_t chunk_size;
    uint32_t n_chunks; /* ceil(size / chunk_size) */
    uint32_t have;     /* chunks stored */
    bool complete;     /* F7 */
    int64_t created_at;
    int64_t completed_at; /* 0 until complete */
    char created_by[FW_ACTOR_MAX + 1];
    /* which chunks are stored (bit i of have_mask[i / 8]) */
    uint8_t have_mask[(FW_CHUNKS_MAX + 7) / 8];
} fw_image;

/*
 * Stores chunk idx of the image digest (size bytes in all): data[0..len)
 * MUST be exactly the chunk's bytes (FW_CHUNK_SIZE, the last one size -
 * idx * FW_CHUNK_SIZE). Creates the image row on its first chunk. When this
 * chunk is the last missing one, the image is hashed and, if the SHA-256 is
 * digest, marked complete; otherwise every chunk is deleted with the row and
 * DS_E_CONFLICT says so ("the uploaded bytes hash to …"). A chunk already
 * stored with the same bytes is accepted (DS_OK, nothing written): an
 * interrupted upload is simply resumed. out (may be NULL) receives the
 * image after the call.
 * DS_E_ARG: size out of 1..FW_IMAGE_MAX, idx beyond the last chunk, a wrong
 * length, actor empty or too long; DS_E_CONFLICT: the image is stored with
 * another size, or the chunk is stored with other bytes, or the bytes hash
 * to another digest (the upload is then discarded).
 */
ds_status fw_image_put_chunk(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], uint32_t size, uint32_t idx,
                             const uint8_t *data, size_t len, const char *actor, int64_t now, fw_image *out);

/* Reads an image's row and which chunks it has. DS_E_NOT_FOUND. */
ds_status fw_image_get(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], fw_image *out);

/* Deletes an incomplete upload (its chunks with it). DS_E_CONFLICT for a
 * complete image (releases may name it; complete images are never deleted
 * here); DS_E_NOT_FOUND. */
ds_status fw_image_discard(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], const char *actor);

/* Called with consecutive pieces of a byte range of an image; return 0 to
 * go on, non-zero to stop (fw_image_read then returns DS_E_ARG). p is valid
 * during the call only; the callback MUST NOT use the store. */
typedef int (*fw_bytes_cb)(const uint8_t *p, size_t n, void *ctx);

/* Reads bytes [offset, offset + len) of a COMPLETE image, in order, through
 * cb (chunk by chunk: at most FW_CHUNK_SIZE per call). DS_E_NOT_FOUND: no
 * such complete image; DS_E_ARG: the range is empty or beyond its size. */
ds_status fw_image_read(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], uint64_t offset, uint64_t len,
                        fw_bytes_cb cb, void *ctx);

/* ---- releases ---------------------------------------------------------------------------- */

typedef struct fw_release {
    int64_t id;
    char component[DROT_MANIFEST_MAX_COMPONENT + 1];
    char version[DROT_MANIFEST_MAX_VERSION + 1];
    uint32_t svn;
    uint8_t image_digest[DS_DIGEST_LEN];
    uint32_t size;
    uint8_t manifest[FW_MANIFEST_MAX];
    size_t manifest_len;
    uint8_t signer[DS_DIGEST_LEN]; /* SHA-256 of the authority key that signed (its anchor hash) */
    int64_t published_at;
    char published_by[FW_ACTOR_MAX + 1];
} fw_release;

/*
 * Publishes a signed manifest (F8): verified with drot_manifest_verify
 * against each of anchors[0..n_anchors) (SHA-256 of the server's authority
 * public keys); its image must be complete in the repository with the
 * manifest's size. *created says whether a release was added: publishing
 * again a manifest for the same (component, version) with the same image,
 * size and SVN is accepted (DS_OK, *created false, *out the stored
 * release). Refusals (nothing written), with a message for the operator:
 *   DS_E_ARG       the manifest does not decode or verify (unknown signer,
 *                  revoked, bad signature, not a manifest), or is too large;
 *   DS_E_NOT_FOUND its image is not in the repository, or not complete;
 *   DS_E_CONFLICT  its image has another size;
 *   DS_E_EXISTS    (component, version) is published with other content.
 */
ds_status fw_release_publish(ds_store *s, const uint8_t *manifest, size_t len, const uint8_t (*anchors)[32],
                             size_t n_anchors, const char *actor, int64_t now, fw_release *out,
                             bool *created);

ds_status fw_release_get(ds_store *s, int64_t id, fw_release *out);
ds_status fw_release_find(ds_store *s, const char *component, const char *version, fw_release *out);

typedef int (*fw_release_cb)(const fw_release *r, void *ctx);
/* Every release (component NULL = all), in id order; at most limit (0 = FW_LIST_MAX). */
ds_status fw_release_list(ds_store *s, const char *component, size_t limit, fw_release_cb cb, void *ctx);

/* ---- rollouts ---------------------------------------------------------------------------- */

typedef struct fw_rollout {
    int64_t id;
    char class_name[DS_CLASS_MAX + 1];
    char component[DROT_MANIFEST_MAX_COMPONENT + 1];
    int64_t release_id;
    char version[DROT_MANIFEST_MAX_VERSION + 1]; /* the release's */
    uint32_t max_in_flight;
    uint32_t max_attempts;
    uint32_t job_timeout; /* seconds an offered or installed job may take before it is retried */
    fw_rollout_state state;
    char state_reason[FW_REASON_MAX + 1];
    char created_by[FW_ACTOR_MAX + 1];
    int64_t created_at, updated_at;
    /* its jobs by state, read in the same statement as the row */
    uint64_t n_pending, n_offered, n_installed, n_confirmed, n_failed, n_cancelled;
} fw_rollout;

typedef struct fw_rollout_params {
    const char *class_name;
    const char *component;
    const char *version;
    uint32_t max_in_flight; /* 1..FW_IN_FLIGHT_MAX */
    uint32_t max_attempts;  /* 1..FW_ATTEMPTS_MAX; 0 = 3 */
    uint32_t job_timeout;   /* FW_TIMEOUT_MIN..FW_TIMEOUT_MAX seconds; 0 = 3600 */
} fw_rollout_params;

/* What fw_rollout_start did. */
typedef struct fw_rollout_result {
    int64_t rollout_id;  /* 0: nothing to do (no device needs it, none open) */
    bool created;        /* a new rollout */
    int64_t superseded;  /* the open rollout of another release it cancelled, or 0 */
    size_t jobs_created; /* jobs added (to the new or the kept rollout) */
} fw_rollout_result;

/*
 * Idempotent start of a staged rollout of the published release
 * (component, version) to the devices of a class, in ONE transaction under
 * the class's lock:
 *   - an open rollout of the class and component with the same release is
 *     kept (its parameters unchanged), and jobs are added for devices of
 *     the class that are not yet in it and do not run the release;
 *   - an open rollout of another release is cancelled (state_reason names
 *     the new one; its pending jobs with it, offered and installed ones
 *     finish) and a new one is made;
 *   - otherwise a new rollout is made, with one pending job per enrolled or
 *     active device of the class whose last attestation does not show the
 *     release's digest for the component — unless no device needs it:
 *     then nothing is written and rollout_id is 0.
 * DS_E_NOT_FOUND: no such release; DS_E_ARG: a bad class, actor or range.
 */
ds_status fw_rollout_start(ds_store *s, const fw_rollout_params *p, const char *actor, int64_t now,
                           fw_rollout_result *res);

/* Called by fw_rollout_plan for each device it would update; current_version
 * is the version its last attestation shows for the component ("" when
 * unknown: never attested, or no such measurement). */
typedef void (*fw_plan_cb)(const uint8_t device_id[16], const char *current_version, void *ctx);

/* For the policy engine (contract shared with it): fw_rollout_start with the
 * default attempts and timeout; *rollout_id as res.rollout_id. err (may be
 * NULL) receives the store's message on failure. */
ds_status fw_rollout_ensure(ds_store *s, const char *class_name, const char *component, const char *version,
                            uint32_t max_in_flight, const char *actor, int64_t *rollout_id, char *err,
                            size_t errlen);

/* The devices fw_rollout_start would give a job (for `policy plan`),
 * whether or not a rollout is open; reads only. DS_E_NOT_FOUND: no such
 * release. */
ds_status fw_rollout_plan(ds_store *s, const char *class_name, const char *component, const char *version,
                          fw_plan_cb cb, void *ctx);

ds_status fw_rollout_get(ds_store *s, int64_t id, fw_rollout *out);

typedef int (*fw_rollout_cb)(const fw_rollout *r, void *ctx);
/* Rollouts of a class (NULL = any) in a state (ANY = any), in id order. */
ds_status fw_rollout_list(ds_store *s, const char *class_name, fw_rollout_state state, size_t limit,
                          fw_rollout_cb cb, void *ctx);

/* running ↔ paused, running/paused → cancelled (its pending jobs are
 * cancelled with it), recording why (may be NULL). X → X is a no-op.
 * DS_E_CONFLICT: not allowed from its state (done, cancelled are
 * terminal; done is only reached by itself); DS_E_NOT_FOUND; DS_E_ARG. */
ds_status fw_rollout_set_state(ds_store *s, int64_t id, fw_rollout_state to, const char *why,
                               const char *actor, int64_t now, fw_rollout *out);

/* ---- jobs -------------------------------------------------------------------------------- */

typedef struct fw_job {
    int64_t id;
    uint8_t device_id[DS_DEVICE_ID_LEN];
    int64_t rollout_id;
    int64_t release_id;
    fw_job_state state;
    uint32_t attempts, max_attempts;
    int64_t deadline; /* offered / installed: when it is retried unless it progresses; else 0 */
    int64_t offered_at, installed_at;
    char error[FW_REASON_MAX + 1];
    int64_t created_at, updated_at;
} fw_job;

typedef struct fw_job_filter {
    const uint8_t *device_id; /* NULL = any */
    int64_t rollout_id;       /* 0 = any */
    fw_job_state state;       /* FW_JOB_ANY = any */
    size_t limit;             /* 0 = FW_LIST_MAX */
} fw_job_filter;

typedef int (*fw_job_cb)(const fw_job *j, void *ctx);

ds_status fw_job_get(ds_store *s, int64_t id, fw_job *out);
ds_status fw_job_list(ds_store *s, const fw_job_filter *f, fw_job_cb cb, void *ctx);

/*
 * The attestation route's step (docs/api.md, attest answer key 5), after a
 * PASS verdict on token[0..token_len) from this device:
 *   1. the device's offered or installed job, if any: returned as it is
 *      (the agent resumes it), unless its deadline has passed (then it is
 *      retried or failed first, as a failed report);
 *   2. else its pending jobs in running rollouts, oldest first: an APM
 *      release by another authority than the running image's is failed
 *      (F9); the first other one whose rollout has a free slot (F1) is offered
 *      (attempts + 1, deadline = now + job_timeout) and returned.
 * Stale offered / installed jobs of that rollout (deadline passed) are
 * retried or failed first, so a silent device holds its slot no longer than
 * job_timeout. *found false: nothing to offer. *rel receives the job's
 * release. ONE transaction.
 */
ds_status fw_job_offer(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN], const uint8_t *token,
                       size_t token_len, int64_t now, fw_job *job, fw_release *rel, bool *found);

/*
 * The device's report on its job (POST /v1/device/firmware/report):
 *   installed  offered → installed (deadline = now + job_timeout); again: no-op
 *   confirmed  offered / installed → confirmed, only with the evidence of
 *              F6 (else DS_E_CONFLICT with what is missing); again: no-op
 *   failed     offered / installed → pending for another attempt, or failed
 *              at max_attempts; reason (may be NULL) is recorded
 * The job must be the device's (DS_E_NOT_FOUND otherwise, as for no job);
 * anything else is DS_E_CONFLICT naming the job's state. A rollout whose
 * last open job ends becomes done. *out: the job afterwards.
 */
ds_status fw_job_report(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t job_id,
                        fw_job_state state, const char *reason, int64_t now, fw_job *out);

/* Whether the device has an offered or installed job whose release's image
 * is digest (the image route serves it only then). */
ds_status fw_job_for_image(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN],
                           const uint8_t digest[DS_DIGEST_LEN], bool *yes);

/* Retries or fails every offered or installed job whose deadline is before
 * now (as a failed report: "no progress within …"); *n (may be NULL) = how
 * many. */
ds_status fw_job_expire(ds_store *s, int64_t now, size_t *n);

/* Checks F1-F5 and F7's sizes on the stored rows: DS_OK, or DS_E_CORRUPT
 * with the first violation in ds_store_error. Reads only. */
ds_status fw_store_check(ds_store *s);

#endif /* DS_FIRMWARE_H */
