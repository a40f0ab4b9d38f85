/*
 * firmware_jobs.c — the firmware jobs' steps: the offer at a PASS
 * attestation, the device's report, expiry, and the consistency check
 * (firmware.h: F1, F2, F5, F6, F9). The rollouts and the shared steps are
 * in firmware_rollout.c; the locking rules are the same (class → device →
 * rollout, counts read after the rollout's lock).
 */
#define _POSIX_C_SOURCE 200809L
#include "firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drot_crypto.h"
#include "firmware_internal.h"

#define MAX_PENDING 64 /* pending jobs of one device looked at per claim */

/* ---- jobs: the offer at attestation time ------------------------------------------------------------ */

typedef struct offer_ctx {
    const uint8_t *device_id;
    const uint8_t *token;
    size_t token_len;
    int64_t now;
    fw_job *job;
    fw_release *rel;
    bool found;
} offer_ctx;

typedef struct job_vec {
    fw_job v[MAX_PENDING];
    size_t n;
} job_vec;

static int job_vec_row(const ds_sql_row *r, void *ctx)
{
    job_vec *jv = ctx;
    if (jv->n == MAX_PENDING)
        return 1;
    fw_job_from_row(r, &jv->v[jv->n++]);
    return 0;
}

/* Tries to offer pending job j (rollout lock taken here). *offered. */
static ds_status try_offer(ds_store *s, offer_ctx *c, const fw_job *j, bool *offered)
{
    *offered = false;
    fw_rollout r;
    ds_status st = fw_lock_id(s, "fw-rollout:", j->rollout_id);
    if (st == DS_OK)
        st = fw_load_rollout(s, j->rollout_id, &r);
    if (st == DS_OK)
        st = fw_release_get(s, j->release_id, c->rel);
    if (st != DS_OK || r.state != FW_ROLLOUT_RUNNING)
        return st;
    ds_sql_val a[] = {ds_sql_int(j->id), ds_sql_int(c->now), ds_sql_int(c->now + (int64_t)r.job_timeout)};
    int64_t ch = 0;
    char actor[48], subject[40], dev[33];
    fw_device_actor(c->device_id, actor);
    fw_subject_of("fw-job", j->id, subject);
    fw_hex(c->device_id, DS_DEVICE_ID_LEN, dev);
    /* F9: the APM derives its sealing key from the signer of the image it
     * runs; an image by another authority would leave the device unable to
     * open its sealed storage (its TLS key among it) after the update. */
    fw_measured am;
    if (strcmp(c->rel->component, "APM") == 0 && fw_token_component(c->token, c->token_len, "APM", &am) &&
        am.found && am.signer_ok && drot_ct_equal(am.signer, c->rel->signer, DS_DIGEST_LEN) != DROT_OK) {
        char runs[65], rel_signer[65], why[FW_REASON_MAX + 1];
        fw_hex(am.signer, 32, runs);
        fw_hex(c->rel->signer, 32, rel_signer);
        snprintf(why, sizeof why,
                 "not offered: the release is signed by anchor %.16s…, the APM image it runs by %.16s…; the "
                 "APM's sealing key derives from that signer",
                 rel_signer, runs);
        ds_sql_val w[] = {ds_sql_int(j->id), ds_sql_int(c->now), ds_sql_text(why)};
        st = ds_sql_exec(s,
                         "UPDATE firmware_jobs SET state = 'failed', last_error = $3, updated_at = $2 WHERE "
                         "id = $1 AND state = 'pending'",
                         w, 3, NULL, NULL, &ch);
        if (st == DS_OK && ch > 0)
            st = fw_audit(s, "server", "firmware.job_refused", subject,
                          json_pack("{s:s, s:I, s:s}", "device", dev, "rollout", (json_int_t)j->rollout_id,
                                    "why", why));
        return st == DS_OK && ch > 0 ? fw_maybe_done(s, j->rollout_id, c->now) : st;
    }
    int64_t stale = 0, in_flight = 0;
    if ((st = fw_expire_rollout(s, j->rollout_id, c->now, &stale)) != DS_OK)
        return st;
    ds_sql_val rid = ds_sql_int(j->rollout_id);
    st = ds_sql_int1(s,
                     "SELECT count(*) FROM firmware_jobs WHERE rollout_id = $1 AND "
                     "state IN ('offered', 'installed')",
                     &rid, 1, &in_flight, NULL);
    if (st != DS_OK || in_flight >= (int64_t)r.max_in_flight)
        return st; /* F1: no free slot */
    st = ds_sql_exec(s,
                     "UPDATE firmware_jobs SET state = 'offered', attempts = attempts + 1, deadline = $3, "
                     "offered_at = $2, installed_at = 0, last_error = '', updated_at = $2 WHERE id = $1 AND "
                     "state = 'pending' AND attempts < max_attempts",
                     a, 3, NULL, NULL, &ch);
    if (st != DS_OK || ch == 0)
        return st;
    bool found = false;
    st = fw_load_job(s, j->id, c->job, &found);
    if (st == DS_OK && found)
        st = fw_audit(s, actor, "firmware.job_offer", subject,
                      json_pack("{s:s, s:I, s:I, s:I}", "device", dev, "rollout", (json_int_t)j->rollout_id,
                                "release", (json_int_t)j->release_id, "attempt",
                                (json_int_t)c->job->attempts));
    *offered = st == DS_OK && found;
    return st;
}

static ds_status offer_tx(ds_store *s, void *vctx)
{
    offer_ctx *c = vctx;
    ds_status st = fw_lock_hex(s, "fw-device:", c->device_id, DS_DEVICE_ID_LEN);
    if (st != DS_OK)
        return st;
    /* 1. The job in flight, if any (F2: at most one). */
    fw_one_job o = {c->job, false};
    ds_sql_val d = ds_sql_blob(c->device_id, DS_DEVICE_ID_LEN);
    st = ds_sql_exec(s,
                     "SELECT " FW_JOB_COLS " FROM firmware_jobs j WHERE j.device_id = $1 AND "
                     "j.state IN ('offered', 'installed')",
                     &d, 1, fw_one_job_row, &o, NULL);
    if (st != DS_OK)
        return st;
    if (o.found) {
        if (c->job->deadline >= c->now) {
            c->found = true;
            return fw_release_get(s, c->job->release_id, c->rel);
        }
        fw_job stale = *c->job;
        int64_t n = 0;
        st = fw_lock_id(s, "fw-rollout:", stale.rollout_id);
        if (st == DS_OK)
            st = fw_expire_rollout(s, stale.rollout_id, c->now, &n);
        if (st != DS_OK)
            return st;
    }
    /* 2. Pending jobs in running rollouts, by rollout id: every claimer
     * takes rollout locks in ascending order, so two cannot deadlock. */
    job_vec *jv = ds_calloc(1, sizeof *jv);
    if (jv == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "out of memory");
    st = ds_sql_exec(s,
                     "SELECT " FW_JOB_COLS
                     " FROM firmware_jobs j JOIN firmware_rollouts o ON o.id = j.rollout_id "
                     "WHERE j.device_id = $1 AND j.state = 'pending' AND o.state = 'running' "
                     "ORDER BY j.rollout_id, j.id",
                     &d, 1, job_vec_row, jv, NULL);
    for (size_t i = 0; st == DS_OK && i < jv->n && !c->found; i++)
        st = try_offer(s, c, &jv->v[i], &c->found);
    ds_free(jv);
    return st;
}

/* see firmware.h */
ds_status fw_job_offer(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN], const uint8_t *token,
                       size_t token_len, int64_t now, fw_job *job, fw_release *rel, bool *found)
{
    if (s == NULL || device_id == NULL || job == NULL || rel == NULL || found == NULL)
        return DS_E_ARG;
    *found = false;
    /* Most attestations find no open job: one read, no write transaction
     * (on SQLite that would take the database's write lock). A job made
     * after this read is offered at the next attestation. */
    int64_t open = 0;
    ds_sql_val d = ds_sql_blob(device_id, DS_DEVICE_ID_LEN);
    ds_status st = ds_sql_int1(s,
                               "SELECT count(*) FROM firmware_jobs WHERE device_id = $1 AND "
                               "state IN ('pending', 'offered', 'installed')",
                               &d, 1, &open, NULL);
    if (st != DS_OK || open == 0)
        return st;
    offer_ctx c = {device_id, token, token_len, now, job, rel, false};
    st = ds_sql_tx(s, offer_tx, &c);
    *found = st == DS_OK && c.found;
    return st;
}

/* ---- jobs: the device's report ------------------------------------------------------------------------ */

typedef struct report_ctx {
    const uint8_t *device_id;
    int64_t job_id;
    fw_job_state to;
    const char *reason;
    int64_t now;
    fw_job *out;
} report_ctx;

typedef struct last_att {
    bool found;
    char result[8];
    uint8_t *token;
    size_t token_len;
} last_att;

static int last_att_row(const ds_sql_row *r, void *ctx)
{
    last_att *l = ctx;
    l->found = true;
    ds_sql_copy_text(r, 0, l->result, sizeof l->result);
    size_t n = 0;
    const uint8_t *t = ds_sql_get_blob(r, 1, &n);
    if (t != NULL && n > 0 && (l->token = ds_calloc(1, n)) != NULL) {
        memcpy(l->token, t, n);
        l->token_len = n;
    }
    return 1;
}

/* F6: the device's last attestation is a PASS that shows the release. */
static ds_status evidence(ds_store *s, const fw_job *j, const fw_release *rel)
{
    last_att l = {false, "", NULL, 0};
    ds_sql_val d = ds_sql_blob(j->device_id, DS_DEVICE_ID_LEN);
    ds_status st =
        ds_sql_exec(s, "SELECT result, token FROM attestations WHERE device_id = $1 ORDER BY id DESC LIMIT 1",
                    &d, 1, last_att_row, &l, NULL);
    fw_measured m;
    memset(&m, 0, sizeof m);
    bool decoded =
        st == DS_OK && l.token != NULL && fw_token_component(l.token, l.token_len, rel->component, &m);
    ds_free(l.token);
    if (st != DS_OK)
        return st;
    const char *pre = "not confirmed: the device's last attestation";
    if (!l.found)
        return ds_store_fail(s, DS_E_CONFLICT, "%s is missing: attest on the new image first", pre);
    if (strcmp(l.result, "PASS") != 0)
        return ds_store_fail(s, DS_E_CONFLICT, "%s is %s: a PASS on the new image is needed", pre, l.result);
    if (!decoded)
        return ds_store_fail(s, DS_E_CONFLICT, "%s has no readable token", pre);
    if (!m.found)
        return ds_store_fail(s, DS_E_CONFLICT, "%s shows no %s measurement", pre, rel->component);
    if (!m.digest_ok || drot_ct_equal(m.digest, rel->image_digest, DS_DIGEST_LEN) != DROT_OK) {
        char got[65] = "(not SHA-256)", want[65];
        if (m.digest_ok)
            fw_hex(m.digest, 32, got);
        fw_hex(rel->image_digest, 32, want);
        return ds_store_fail(s, DS_E_CONFLICT,
                             "%s shows %s %s, not the release's %s: attest on the new image first", pre,
                             rel->component, got, want);
    }
    return DS_OK;
}

static ds_status report_tx(ds_store *s, void *vctx)
{
    report_ctx *c = vctx;
    fw_job *j = c->out;
    bool found = false;
    ds_status st = fw_load_job(s, c->job_id, j, &found);
    if (st != DS_OK)
        return st;
    if (!found || memcmp(j->device_id, c->device_id, DS_DEVICE_ID_LEN) != 0)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no firmware job %lld for this device", (long long)c->job_id);
    /* Locks, then read again what decides. */
    fw_rollout r;
    fw_release rel;
    st = fw_lock_hex(s, "fw-device:", c->device_id, DS_DEVICE_ID_LEN);
    if (st == DS_OK)
        st = fw_lock_id(s, "fw-rollout:", j->rollout_id);
    if (st == DS_OK)
        st = fw_load_job(s, c->job_id, j, &found);
    if (st == DS_OK)
        st = fw_load_rollout(s, j->rollout_id, &r);
    if (st == DS_OK)
        st = fw_release_get(s, j->release_id, &rel);
    if (st != DS_OK)
        return st;
    bool in_flight = j->state == FW_JOB_OFFERED || j->state == FW_JOB_INSTALLED;
    if (j->state == c->to && c->to != FW_JOB_FAILED)
        return DS_OK; /* the same report again (a lost answer): nothing to do */
    if (!in_flight || (c->to == FW_JOB_INSTALLED && j->state != FW_JOB_OFFERED))
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld is %s: a report of %s is not expected%s",
                             (long long)j->id, fw_job_state_name(j->state), fw_job_state_name(c->to),
                             j->state == FW_JOB_PENDING ? " (it waits to be offered again at an attestation)"
                                                        : "");
    ds_sql_val a[] = {ds_sql_int(j->id), ds_sql_int(c->now), ds_sql_int(c->now + (int64_t)r.job_timeout)};
    if (c->to == FW_JOB_INSTALLED) {
        st = ds_sql_exec(s,
                         "UPDATE firmware_jobs SET state = 'installed', installed_at = $2, deadline = $3, "
                         "updated_at = $2 WHERE id = $1 AND state = 'offered'",
                         a, 3, NULL, NULL, NULL);
    } else if (c->to == FW_JOB_CONFIRMED) {
        st = evidence(s, j, &rel);
        if (st == DS_OK)
            st = ds_sql_exec(s,
                             "UPDATE firmware_jobs SET state = 'confirmed', deadline = 0, last_error = '', "
                             "updated_at = $2 WHERE id = $1 AND state IN ('offered', 'installed')",
                             a, 2, NULL, NULL, NULL);
        if (st == DS_OK)
            st = fw_maybe_done(s, j->rollout_id, c->now);
    } else {
        char why[FW_REASON_MAX + 1];
        snprintf(why, sizeof why, "the device reported a failure: %s",
                 c->reason != NULL && c->reason[0] != '\0' ? c->reason : "(no reason given)");
        st = fw_retry_job(s, j, why, c->now);
    }
    if (st == DS_OK)
        st = fw_load_job(s, c->job_id, j, &found);
    char actor[48], subject[40], dev[33];
    fw_device_actor(c->device_id, actor);
    fw_subject_of("fw-job", j->id, subject);
    fw_hex(c->device_id, DS_DEVICE_ID_LEN, dev);
    if (st == DS_OK)
        st = fw_audit(s, actor, "firmware.job_report", subject,
                      json_pack("{s:s, s:I, s:s, s:s, s:s}", "device", dev, "rollout",
                                (json_int_t)j->rollout_id, "reported", fw_job_state_name(c->to), "state",
                                fw_job_state_name(j->state), "reason", c->reason != NULL ? c->reason : ""));
    return st;
}

/* see firmware.h */
ds_status fw_job_report(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t job_id,
                        fw_job_state state, const char *reason, int64_t now, fw_job *out)
{
    if (s == NULL || device_id == NULL || out == NULL || job_id <= 0)
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_ARG, "report: bad job id");
    if (state != FW_JOB_INSTALLED && state != FW_JOB_CONFIRMED && state != FW_JOB_FAILED)
        return ds_store_fail(s, DS_E_ARG, "report: a device reports installed, confirmed or failed");
    if (reason != NULL && strlen(reason) > 200)
        return ds_store_fail(s, DS_E_ARG, "report: the reason is longer than 200 bytes");
    report_ctx c = {device_id, job_id, state, reason, now, out};
    return ds_sql_tx(s, report_tx, &c);
}

/* see firmware.h */
ds_status fw_job_for_image(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN],
                           const uint8_t digest[DS_DIGEST_LEN], bool *yes)
{
    if (s == NULL || device_id == NULL || digest == NULL || yes == NULL)
        return DS_E_ARG;
    int64_t n = 0;
    ds_sql_val a[] = {ds_sql_blob(device_id, DS_DEVICE_ID_LEN), ds_sql_blob(digest, DS_DIGEST_LEN)};
    ds_status st =
        ds_sql_int1(s,
                    "SELECT count(*) FROM firmware_jobs j JOIN firmware_releases r ON r.id = j.release_id "
                    "WHERE j.device_id = $1 AND j.state IN ('offered', 'installed') AND "
                    "r.image_digest = $2",
                    a, 2, &n, NULL);
    *yes = st == DS_OK && n > 0;
    return st;
}

typedef struct id_vec {
    int64_t v[256];
    size_t n;
} id_vec;

static int id_vec_row(const ds_sql_row *r, void *ctx)
{
    id_vec *iv = ctx;
    if (iv->n == sizeof iv->v / sizeof iv->v[0])
        return 1;
    iv->v[iv->n++] = ds_sql_get_int(r, 0);
    return 0;
}

typedef struct expire_ctx {
    int64_t now;
    size_t n;
} expire_ctx;

static ds_status expire_tx(ds_store *s, void *vctx)
{
    expire_ctx *c = vctx;
    id_vec iv = {{0}, 0};
    ds_sql_val a = ds_sql_int(c->now);
    ds_status st = ds_sql_exec(s,
                               "SELECT DISTINCT rollout_id FROM firmware_jobs WHERE state IN ('offered', "
                               "'installed') AND deadline < $1 ORDER BY rollout_id",
                               &a, 1, id_vec_row, &iv, NULL);
    for (size_t i = 0; st == DS_OK && i < iv.n; i++) {
        int64_t n = 0;
        st = fw_lock_id(s, "fw-rollout:", iv.v[i]);
        if (st == DS_OK)
            st = fw_expire_rollout(s, iv.v[i], c->now, &n);
        c->n += (size_t)n;
    }
    return st;
}

/* see firmware.h */
ds_status fw_job_expire(ds_store *s, int64_t now, size_t *n)
{
    if (s == NULL)
        return DS_E_ARG;
    expire_ctx c = {now, 0};
    ds_status st = ds_sql_tx(s, expire_tx, &c);
    if (n != NULL)
        *n = st == DS_OK ? c.n : 0;
    return st;
}

/* ---- consistency -------------------------------------------------------------------------------------- */

/* see firmware.h */
ds_status fw_store_check(ds_store *s)
{
    if (s == NULL)
        return DS_E_ARG;
    bool pg = strcmp(ds_store_backend(s), "postgres") == 0;
    static const struct {
        const char *what, *sql_sqlite, *sql_pg;
    } checks[] = {
        {"F1: a rollout has more jobs in flight than its max_in_flight",
         "SELECT o.id FROM firmware_rollouts o WHERE (SELECT count(*) FROM firmware_jobs j WHERE "
         "j.rollout_id = o.id AND j.state IN ('offered', 'installed')) > o.max_in_flight LIMIT 1",
         NULL},
        {"F2: a device has two jobs in flight",
         "SELECT count(*) FROM firmware_jobs WHERE state IN ('offered', 'installed') GROUP BY device_id "
         "HAVING count(*) > 1 LIMIT 1",
         NULL},
        {"F3: a device has two jobs in one rollout",
         "SELECT count(*) FROM firmware_jobs GROUP BY rollout_id, device_id HAVING count(*) > 1 LIMIT 1",
         NULL},
        {"F4: a class has two open rollouts of one component",
         "SELECT count(*) FROM firmware_rollouts WHERE state IN ('running', 'paused') GROUP BY class, "
         "component HAVING count(*) > 1 LIMIT 1",
         NULL},
        {"F5: a job's attempts are out of range, or a job in flight was never offered",
         "SELECT id FROM firmware_jobs WHERE attempts < 0 OR attempts > max_attempts OR "
         "(state IN ('offered', 'installed') AND attempts = 0) LIMIT 1",
         NULL},
        {"F7: a complete image's chunks do not add up to its size",
         "SELECT i.size FROM firmware_images i WHERE i.complete = 1 AND i.size <> (SELECT "
         "coalesce(sum(length(c.data)), 0) FROM firmware_image_chunks c WHERE c.digest = i.digest) LIMIT 1",
         "SELECT i.size FROM firmware_images i WHERE i.complete = 1 AND i.size <> (SELECT "
         "coalesce(sum(octet_length(c.data)), 0) FROM firmware_image_chunks c WHERE c.digest = i.digest) "
         "LIMIT 1"},
        {"F8: a release names an image that is not complete or has another size",
         "SELECT r.id FROM firmware_releases r JOIN firmware_images i ON i.digest = r.image_digest WHERE "
         "i.complete <> 1 OR i.size <> r.size LIMIT 1",
         NULL},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        bool found = false;
        int64_t v = 0;
        const char *sql = pg && checks[i].sql_pg != NULL ? checks[i].sql_pg : checks[i].sql_sqlite;
        ds_status st = ds_sql_int1(s, sql, NULL, 0, &v, &found);
        if (st != DS_OK)
            return st;
        if (found)
            return ds_store_fail(s, DS_E_CORRUPT, "%s (%lld)", checks[i].what, (long long)v);
    }
    return DS_OK;
}
