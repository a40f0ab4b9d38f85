/*
 * routes_rotate.c — the device routes of a DRoT device-root-key rotation
 * (docs/drot.md "The server's part", docs/api.md):
 *
 *   POST /v1/device/rotate/begin    device cert
 *        {1: job_id uint, 2: challenge bstr32, 3: token bstr,
 *         4: nonce bstr32 (server mode) | 5: proposal bstr (device mode)}
 *        → {1: instruction (server mode) | endorsement (device mode)}
 *   POST /v1/device/rotate/receipt  device cert
 *        {1: job_id uint, 2: receipt bstr} → {1: new_epoch uint}
 *
 * and the reconciliation every attestation (and rotate/begin) runs
 * (ds_rotate_reconcile).
 *
 * Invariants (with rotation.h S1–S3 and store.h's job state machine):
 *   J1. An instruction or endorsement is made only for the device that owns
 *       the job, over a connection whose token (on a challenge consumed
 *       first, R1) verified PASS under the device's registered DRK.
 *   J2. The job records KeyA, the nonce and the instruction digest
 *       (ds_job_issue, conditional on PENDING and the device's epoch) BEFORE
 *       the instruction is sent; if another server won the race, nothing is
 *       sent. So whatever reaches a device can be reconciled.
 *   J3. A job completes (the registry's DRK becomes KeyA, the old one goes
 *       to key history, no longer accepted) only on proof that the APM holds
 *       KeyA: a receipt signed by KeyA naming the job's device, epoch + 1,
 *       nonce and instruction digest, or a token verified under KeyA at
 *       epoch + 1 on a fresh challenge. Both are idempotent.
 *   J4. An ISSUED job whose device attests again under its old key goes back
 *       to PENDING (or FAILED at its attempt limit): the APM's nonce of that
 *       attempt is spent, so the next attempt needs a new one.
 */
#include "routes_rotate.h"

#include <stdio.h>
#include <string.h>

#include "audit_server.h"
#include "drot/cbor.h"
#include "drot/cose.h"
#include "rotation.h"
#include "revocation.h"
#include "routes_internal.h"
#include "routes_verify.h"

#ifdef DROT_SERVER_TEST_HOOKS
#include <stdlib.h>
#include <unistd.h>
/* Test builds only (drot-server-crashtest, server/rotate.cmake): the process
 * dies at the named step of a job, as a SIGKILL or power loss would, when
 * DROT_SERVER_CRASH_AT names it. drot-server itself has no such code. */
static void crash_point(const char *name)
{
    const char *want = getenv("DROT_SERVER_CRASH_AT");
    if (want != NULL && strcmp(want, name) == 0)
        _exit(137);
}
#else
#define crash_point(name) ((void)0)
#endif

#define DS_ROTATE_LEASE_S 60 /* seconds a server holds a job it is issuing */

/* An audit entry for a step of job_id, by the device whose request made it
 * (audit_server.h ds_audit_job; docs/audit.md). */
static void audit_step(ds_app *app, const uint8_t device_id[16], const char *what, int64_t job_id,
                       json_t *extra)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1];
    ds_audit_actor_device(device_id, actor);
    ds_audit_job(app->store, actor, what, job_id, extra);
}

static const char *mode_name(ds_job_mode m)
{
    return m == DS_JOB_MODE_SERVER ? "server" : "device";
}

typedef struct anchor_find {
    int64_t id;
    uint8_t pub[DS_DRK_PUB_LEN];
} anchor_find;

static int last_anchor_cb(const ds_job *j, void *ctx)
{
    anchor_find *a = ctx;
    if (j->kind == DS_JOB_ROTATE_ANCHOR && j->has_anchor_pub && j->id > a->id) {
        a->id = j->id;
        memcpy(a->pub, j->anchor_pub, sizeof a->pub);
    }
    return 0;
}

/* see routes_internal.h */
void ds_rt_signer_for(ds_app *app, const ds_device *dev, char name[DS_KEY_NAME_MAX])
{
    anchor_find a;
    memset(&a, 0, sizeof a);
    ds_job_filter f;
    memset(&f, 0, sizeof f);
    f.device_id = dev->device_id;
    f.state = DS_JOB_COMPLETED;
    if (ds_job_list(app->store, &f, last_anchor_cb, &a) == DS_OK && a.id != 0 &&
        ds_rot_authority_name(app->keys, a.pub, name) == 0)
        return;
    snprintf(name, DS_KEY_NAME_MAX, "%.*s", DS_KEY_NAME_MAX - 1, app->authority);
}

/* A revoked authority key signs nothing (docs/revocation.md): 0 when none
 * of keys[0..n) is revoked; 1 when one is (why names it); -1 when the
 * revocations cannot be read (why says so). */
static int any_revoked(ds_app *app, const char *const *keys, size_t n, char *why, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        int r = ds_rev_key_revoked(app->store, app->keys, keys[i], why, cap);
        if (r == 1)
            snprintf(why, cap, "authority key '%s' is revoked: it signs nothing", keys[i]);
        if (r != 0)
            return r;
    }
    return 0;
}

/* The job, if it exists and belongs to this device (another device's job is
 * reported as unknown: its id says nothing to this one). */
static bool job_or_refuse(ds_http_req *req, ds_app *app, uint64_t job_id, const ds_device *dev, ds_job *job)
{
    ds_status st = ds_job_get(app->store, (int64_t)job_id, job);
    if (st == DS_E_NOT_FOUND || (st == DS_OK && memcmp(job->device_id, dev->device_id, 16) != 0)) {
        ds_http_reply_error(req, 404, DS_ERR_NO_JOB, "no rotation job %llu for this device",
                            (unsigned long long)job_id);
        return false;
    }
    if (st != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        return false;
    }
    return true;
}

/* see routes_rotate.h */
void ds_rotate_reconcile(ds_app *app, ds_http_req *req, ds_device *dev, const uint8_t challenge[32],
                         const uint8_t *token, size_t token_len)
{
    ds_job job;
    /* ISSUED, or PENDING again after a retry while still naming the previous
     * attempt's KeyA: that instruction may yet have been applied (its nonce
     * stays valid in the APM until the next one is drawn; store.h J6). */
    if (ds_job_open_for_device(app->store, dev->device_id, &job) != DS_OK || job.kind != DS_JOB_ROTATE_ROOT ||
        !job.has_new_key || (job.state != DS_JOB_ISSUED && job.state != DS_JOB_PENDING) ||
        dev->epoch != job.from_epoch)
        return;
    /* Fresh evidence signed by KeyA at epoch + 1, bound to this challenge and
     * this connection: only an APM that committed KeyA can make it (J3),
     * whatever the policy then says of its claims. */
    ds_check_device cd;
    memset(&cd, 0, sizeof cd);
    memcpy(cd.device_id, dev->device_id, sizeof cd.device_id);
    memcpy(cd.drk_pub, job.new_pub, sizeof cd.drk_pub);
    cd.epoch = job.from_epoch + 1;
    static _Thread_local ds_check chk;
    memset(&chk, 0, sizeof chk);
    ds_http_shared_lock(req->http, false);
    const ds_reference *ref = ds_rt_find_ref(app, dev->class_name);
    if (ref != NULL)
        ds_check_token(token, token_len, challenge, req->exporter, &cd, ref, &chk);
    ds_http_shared_unlock(req->http);
    if (ref != NULL && chk.fresh) {
        if (ds_job_complete(app->store, job.id, job.new_pub, job.from_epoch + 1, ds_store_now()) == DS_OK) {
            audit_step(
                app, dev->device_id, "complete", job.id,
                json_pack("{s:s, s:I}", "by", "attestation", "new_epoch", (json_int_t)(job.from_epoch + 1)));
            ds_device_get(app->store, dev->device_id, dev);
            ds_http_count_rotation(req->http, "completed_by_attestation");
        }
        return;
    }
    /* Still the old key (J4): the instruction of this attempt was not applied. */
    if (job.state != DS_JOB_ISSUED)
        return;
    drot_p256_pub old;
    drot_cose_sign1_view v;
    if (drot_p256_pub_import(dev->drk_pub, 65, &old) == DROT_OK &&
        drot_cose_sign1_verify_msg(token, token_len, &old, NULL, 0, &v) == DROT_OK) {
        static const char why[] = "the device attests with its old key: the instruction was not applied";
        if (ds_job_retry(app->store, job.id, why, ds_store_now()) == DS_OK)
            audit_step(app, dev->device_id, "retry", job.id, json_pack("{s:s}", "why", why));
        ds_http_count_rotation(req->http, "retried");
    }
}

/* see routes_rotate.h */
bool ds_rotate_open_job(ds_app *app, const ds_device *dev, ds_job *job)
{
    /* An issued root job is settled by the attestation itself (J3, J4); an
     * issued anchor job (its REVOKE went out, the answer never came back)
     * is offered again, and anchor/step starts it over. */
    return ds_job_open_for_device(app->store, dev->device_id, job) == DS_OK &&
           (job->state == DS_JOB_PENDING ||
            (job->state == DS_JOB_ISSUED && job->kind == DS_JOB_ROTATE_ANCHOR));
}

/* rotate/begin with the job leased to this server: the fresh token, the
 * message for the APM, the conditional issue (J1, J2), the answer. */
static void begin_leased(ds_http_req *req, ds_app *app, const ds_device *dev, const ds_job *job,
                         const ds_rt_field *f, bool server_mode)
{
    ds_check chk;
    if (!ds_rt_verify_and_record(req, app, dev, f[1].p, f[2].p, f[2].n, true, &chk))
        return;
    if (chk.verdict != DS_HTTP_VERDICT_PASS) {
        ds_rt_reply_attestation_refused(req, &chk, "a rotation needs a PASS attestation on this connection");
        return;
    }
    static _Thread_local ds_rot_issued is;
    char why[256], signer[DS_KEY_NAME_MAX];
    ds_http_shared_lock(req->http, true); /* key custody is single-threaded */
    ds_rt_signer_for(app, dev, signer);
    const char *const signers[1] = {signer};
    int revoked = any_revoked(app, signers, 1, why, sizeof why);
    int rc = revoked != 0  ? -1
             : server_mode ? ds_rot_server_instruction(app->keys, signer, dev->device_id, dev->epoch,
                                                       dev->drk_pub, f[3].p, &is, why, sizeof why)
                           : ds_rot_endorse(app->keys, signer, dev->device_id, dev->epoch, dev->drk_pub,
                                            f[4].p, f[4].n, &is, why, sizeof why);
    ds_http_shared_unlock(req->http);
    if (revoked == 1) {
        ds_http_reply_error(req, 409, DS_ERR_REVOKED,
                            "%s; this device obeys it: rotate its trust anchor to a key that is not revoked",
                            why);
        return;
    }
    if (rc != 0) {
        bool bad = !server_mode && strncmp(why, "proposal refused", 16) == 0;
        ds_http_reply_error(req, bad ? 400 : 500, bad ? DS_ERR_BAD_REQUEST : DS_ERR_INTERNAL, "%s", why);
        return;
    }
    crash_point("begin-before-issue");
    ds_status st = ds_job_issue(app->store, job->id, app->server_id, dev->epoch, is.new_pub, is.nonce, is.tbs,
                                ds_store_now());
    if (st == DS_E_BUSY) {
        ds_http_reply_error(req, 503, DS_ERR_BUSY,
                            "job %lld: its campaign is at its parallel limit: retry later",
                            (long long)job->id);
        return;
    }
    if (st != DS_OK) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld changed meanwhile (%s): attest and retry",
                            (long long)job->id, ds_status_str(st));
        return;
    }
    char tbs[2 * DS_DIGEST_LEN + 1];
    for (size_t i = 0; i < DS_DIGEST_LEN; i++)
        snprintf(tbs + 2 * i, 3, "%02x", is.tbs[i]);
    audit_step(app, dev->device_id, "issue", job->id,
               json_pack("{s:s, s:I, s:s, s:s}", "mode", mode_name(job->mode), "from_epoch",
                         (json_int_t)dev->epoch, "instruction_digest", tbs, "signer", signer));
    crash_point("begin-after-issue");
    ds_http_count_rotation(req->http, "issued");
    uint8_t buf[DROT_ROTATE_MAX_MSG + 16];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, is.msg, is.msg_len);
    ds_rt_reply_map(req, &w);
}

/* ---- POST /v1/device/rotate/begin ------------------------------------------------ */

void ds_rotate_route_begin(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_rt_field f[] = {{1, DS_RT_UINT, 0, true, "job_id"},
                       {2, DS_RT_BSTR, 32, true, "challenge"},
                       {3, DS_RT_BSTR, 0, true, "token"},
                       {4, DS_RT_BSTR, 32, false, "nonce"},
                       {5, DS_RT_BSTR, 0, false, "proposal"}};
    if (!ds_rt_body(req, f, 5))
        return;
    ds_device dev;
    ds_job job;
    if (!ds_rt_device(req, app, req->device_id, &dev) || !job_or_refuse(req, app, f[0].u, &dev, &job))
        return;
    if (job.kind != DS_JOB_ROTATE_ROOT) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld is not a device-root-key rotation",
                            (long long)job.id);
        return;
    }
    bool server_mode = job.mode == DS_JOB_MODE_SERVER;
    if ((server_mode && (f[3].p == NULL || f[4].p != NULL)) ||
        (!server_mode && (f[4].p == NULL || f[3].p != NULL))) {
        ds_http_reply_error(req, 400, DS_ERR_BAD_REQUEST,
                            "malformed body: job %lld runs in %s mode, which takes %s (key %d) and not %s",
                            (long long)job.id, mode_name(job.mode),
                            server_mode ? "the APM's nonce" : "the APM's proposal", server_mode ? 4 : 5,
                            server_mode ? "a proposal" : "a nonce");
        return;
    }
    if (job.state != DS_JOB_PENDING && job.state != DS_JOB_ISSUED) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld is %s%s%s", (long long)job.id,
                            ds_job_state_name(job.state), job.error[0] ? ": " : "", job.error);
        return;
    }
    if (!ds_rt_consume(req, app, f[1].p, dev.device_id))
        return;
    /* As on the attest route (J3, J4): a device asking again after its
     * previous instruction was lost sends the job back for a new attempt; one
     * that did apply it completes it here. Only on evidence signed by the
     * device, never on the request alone. */
    ds_rotate_reconcile(app, req, &dev, f[1].p, f[2].p, f[2].n);
    if (ds_job_get(app->store, job.id, &job) != DS_OK || job.state != DS_JOB_PENDING) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld is %s%s%s", (long long)job.id,
                            ds_job_state_name(job.state), job.error[0] ? ": " : "", job.error);
        return;
    }
    /* This server works on the job for the next minute (J2's conditional
     * issue keeps two servers from both answering; the lease keeps them from
     * both making a KeyA at all). Released by issue, complete or expiry. */
    ds_status ls = ds_job_lease(app->store, job.id, app->server_id, ds_store_now(), DS_ROTATE_LEASE_S, NULL);
    if (ls == DS_E_BUSY) {
        ds_http_reply_error(req, 503, DS_ERR_BUSY, "job %lld: another server is working on it: retry later",
                            (long long)job.id);
        return;
    }
    if (ls != DS_OK) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld cannot be leased: %s", (long long)job.id,
                            ds_status_str(ls));
        return;
    }
    begin_leased(req, app, &dev, &job, f, server_mode);
    ds_job_release(app->store, job.id, app->server_id); /* issued, or refused: either way done here */
}

/* ---- POST /v1/device/rotate/receipt ------------------------------------------------ */

void ds_rotate_route_receipt(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_rt_field f[] = {{1, DS_RT_UINT, 0, true, "job_id"}, {2, DS_RT_BSTR, 0, true, "receipt"}};
    if (!ds_rt_body(req, f, 2))
        return;
    ds_device dev;
    ds_job job;
    if (!ds_rt_device(req, app, req->device_id, &dev) || !job_or_refuse(req, app, f[0].u, &dev, &job))
        return;
    uint64_t new_epoch = job.from_epoch + 1;
    if (job.state == DS_JOB_COMPLETED && job.has_new_key && memcmp(job.new_pub, dev.drk_pub, 65) == 0) {
        /* Already done (its receipt, or an attestation under KeyA, got here
         * first): the same answer again. */
    } else if ((job.state != DS_JOB_ISSUED && job.state != DS_JOB_PENDING) || !job.has_new_key) {
        /* PENDING with a key: retried, yet the previous attempt may have been
         * applied after all (store.h J6); its receipt still completes it. */
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld is %s: no receipt is expected",
                            (long long)job.id, ds_job_state_name(job.state));
        return;
    } else {
        char why[256];
        if (ds_rot_check_receipt(f[1].p, f[1].n, dev.device_id, new_epoch, job.new_pub, job.nonce,
                                 job.instruction_tbs, why, sizeof why) != 0) {
            ds_http_count_rotation(req->http, "receipt_refused");
            ds_http_reply_error(req, 400, DS_ERR_BAD_REQUEST, "%s", why);
            return;
        }
        crash_point("receipt-before-complete");
        ds_status st = ds_job_complete(app->store, job.id, job.new_pub, new_epoch, ds_store_now());
        if (st != DS_OK) {
            ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot complete job %lld: %s", (long long)job.id,
                                ds_status_str(st));
            return;
        }
        audit_step(app, dev.device_id, "complete", job.id,
                   json_pack("{s:s, s:I}", "by", "receipt", "new_epoch", (json_int_t)new_epoch));
        crash_point("receipt-after-complete");
        ds_http_count_rotation(req->http, "completed");
    }
    uint8_t buf[32];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, new_epoch);
    ds_rt_reply_map(req, &w);
}

/* ---- POST /v1/device/anchor/step ------------------------------------------------------- */

/* The op of each step of a trust-anchor rotation (store.h: step 0..3). */
static const uint32_t k_anchor_ops[4] = {DROT_ANCHOR_OP_CONFIRM, DROT_ANCHOR_OP_ADD, DROT_ANCHOR_OP_CONFIRM,
                                         DROT_ANCHOR_OP_REVOKE};

static void reply_done(ds_http_req *req)
{
    uint8_t buf[16];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bool(&w, true);
    ds_rt_reply_map(req, &w);
}

/* Applies the agent's report of the previous step (f[4] op and f[5] slot,
 * or f[6] refusal): the APM's answer
 * (op, slot) advances the job; its refusal fails it, except the one that
 * proves the rotation already finished. Returns 1 when the job is done
 * (replied), 0 to go on, -1 after an error reply. */
static int anchor_report(ds_http_req *req, ds_app *app, ds_job *job, const ds_rt_field *f)
{
    int64_t now = ds_store_now();
    if (f[6].present) {
        /* The APM refused the last instruction. At step 0 (CONFIRM under the
         * old key) a revoked-signer refusal means the old anchor is already
         * revoked: the REVOKE of an earlier attempt was applied and only its
         * answer was lost. */
        int64_t code = -(int64_t)f[6].u;
        if (job->step == 0 && code == DROT_E_BADKEY && job->has_new_key) {
            if (ds_job_complete(app->store, job->id, job->anchor_pub, job->from_epoch, now) == DS_OK) {
                audit_step(app, job->device_id, "complete", job->id,
                           json_pack("{s:s}", "by", "the old anchor is already revoked (step 0 refused)"));
                ds_http_count_rotation(req->http, "completed_by_attestation");
                reply_done(req);
                return 1;
            }
        }
        char why[160];
        snprintf(why, sizeof why, "the APM refused step %u (%s): status %lld", job->step,
                 job->step == 1   ? "ADD"
                 : job->step == 3 ? "REVOKE"
                                  : "CONFIRM",
                 (long long)code);
        if (ds_job_fail(app->store, job->id, why, now) == DS_OK)
            audit_step(app, job->device_id, "fail", job->id, json_pack("{s:s}", "why", why));
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld failed: %s", (long long)job->id, why);
        return -1;
    }
    if (!f[4].present)
        return 0; /* nothing to report */
    uint64_t op = f[4].u, slot = f[5].u;
    if (job->step > 3 || op != k_anchor_ops[job->step] || slot > 3) {
        ds_http_reply_error(
            req, 400, DS_ERR_BAD_REQUEST,
            "malformed body: job %lld is at step %u (op %u); the report names op %llu, slot %llu",
            (long long)job->id, job->step, k_anchor_ops[job->step > 3 ? 3 : job->step],
            (unsigned long long)op, (unsigned long long)slot);
        return -1;
    }
    ds_status st;
    if (job->step == 3) {
        st = ds_job_complete(app->store, job->id, job->anchor_pub, job->from_epoch, now);
        if (st == DS_OK) {
            audit_step(app, job->device_id, "complete", job->id,
                       json_pack("{s:s, s:I}", "by", "report", "old_slot", (json_int_t)job->old_slot));
            ds_http_count_rotation(req->http, "completed");
            reply_done(req);
            return 1;
        }
    } else {
        st = ds_job_advance(app->store, job->id, job->step, job->step + 1,
                            job->step == 0 ? (int32_t)slot : -2, now);
        if (st == DS_OK)
            audit_step(app, job->device_id, "step", job->id,
                       json_pack("{s:I, s:I, s:I}", "from_step", (json_int_t)job->step, "op", (json_int_t)op,
                                 "slot", (json_int_t)slot));
    }
    if (st != DS_OK || ds_job_get(app->store, job->id, job) != DS_OK) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld changed meanwhile (%s): attest and retry",
                            (long long)job->id, ds_status_str(st));
        return -1;
    }
    return 0;
}

void ds_rotate_route_anchor_step(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    /* 5, 6: the APM's answer to the previous step; 7: its refusal code,
     * negated (drot_status and apm_status are negative). */
    ds_rt_field f[] = {{1, DS_RT_UINT, 0, true, "job_id"},  {2, DS_RT_BSTR, 32, true, "challenge"},
                       {3, DS_RT_BSTR, 0, true, "token"},   {4, DS_RT_BSTR, 32, true, "nonce"},
                       {5, DS_RT_UINT, 0, false, "op"},     {6, DS_RT_UINT, 0, false, "slot"},
                       {7, DS_RT_UINT, 0, false, "refusal"}};
    if (!ds_rt_body(req, f, 7))
        return;
    if ((f[4].present != f[5].present) || (f[4].present && f[6].present)) {
        ds_http_reply_error(
            req, 400, DS_ERR_BAD_REQUEST,
            "malformed body: report the APM's answer (5 op and 6 slot) or its refusal (7), not both");
        return;
    }
    ds_device dev;
    ds_job job;
    if (!ds_rt_device(req, app, req->device_id, &dev) || !job_or_refuse(req, app, f[0].u, &dev, &job))
        return;
    if (job.kind != DS_JOB_ROTATE_ANCHOR || (job.state != DS_JOB_PENDING && job.state != DS_JOB_ISSUED)) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld is %s %s%s%s", (long long)job.id,
                            ds_job_state_name(job.state), ds_job_kind_name(job.kind),
                            job.error[0] ? ": " : "", job.error);
        return;
    }
    if (!ds_rt_consume(req, app, f[1].p, dev.device_id))
        return;
    ds_check chk;
    if (!ds_rt_verify_and_record(req, app, &dev, f[1].p, f[2].p, f[2].n, true, &chk))
        return;
    if (chk.verdict != DS_HTTP_VERDICT_PASS) {
        ds_rt_reply_attestation_refused(
            req, &chk, "a trust-anchor rotation needs a PASS attestation on this connection");
        return;
    }
    int r = anchor_report(req, app, &job, f);
    if (r != 0)
        return;
    if (job.state == DS_JOB_ISSUED) {
        /* The last step's instruction went out but its answer never came
         * back: start again (every step is idempotent on the APM, and step
         * 0 tells a finished rotation apart). */
        static const char lost[] = "the answer to the REVOKE step was lost: starting again";
        if (ds_job_retry(app->store, job.id, lost, ds_store_now()) == DS_OK)
            audit_step(app, dev.device_id, "retry", job.id, json_pack("{s:s}", "why", lost));
        if (ds_job_get(app->store, job.id, &job) != DS_OK || job.state != DS_JOB_PENDING) {
            ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "job %lld is %s", (long long)job.id,
                                ds_job_state_name(job.state));
            return;
        }
    }
    /* The instruction of the job's step, signed by the key the device obeys
     * now (steps 0, 1) or by the new key (2, 3). */
    static _Thread_local ds_rot_issued is;
    char why[256], old_key[DS_KEY_NAME_MAX], new_key[DS_KEY_NAME_MAX];
    uint32_t op = k_anchor_ops[job.step > 3 ? 3 : job.step];
    ds_http_shared_lock(req->http, true);
    ds_rt_signer_for(app, &dev, old_key);
    int rc = ds_rot_authority_name(app->keys, job.anchor_pub, new_key);
    const char *const signers[2] = {new_key, job.step <= 1 ? old_key : new_key};
    int revoked = rc != 0 ? 0 : any_revoked(app, signers, 2, why, sizeof why);
    if (revoked != 0)
        rc = -1;
    else if (rc != 0)
        snprintf(why, sizeof why, "the job's new authority key is not in the server's key store");
    else if (job.step == 3 && job.old_slot < 0)
        rc = -1, snprintf(why, sizeof why, "the old anchor's slot is unknown");
    else
        rc = ds_rot_anchor_instruction(app->keys, job.step <= 1 ? old_key : new_key, new_key, op,
                                       job.old_slot < 0 ? 0 : (uint32_t)job.old_slot, dev.device_id, f[3].p,
                                       &is, why, sizeof why);
    ds_http_shared_unlock(req->http);
    if (rc != 0) {
        ds_http_reply_error(req, revoked == 1 ? 409 : 500, revoked == 1 ? DS_ERR_REVOKED : DS_ERR_INTERNAL,
                            "job %lld: %s", (long long)job.id, why);
        return;
    }
    if (job.step == 3) {
        ds_status st = ds_job_issue(app->store, job.id, app->server_id, dev.epoch, job.anchor_pub, is.nonce,
                                    is.tbs, ds_store_now());
        if (st != DS_OK) {
            ds_http_reply_error(req, st == DS_E_BUSY ? 503 : 409,
                                st == DS_E_BUSY ? DS_ERR_BUSY : DS_ERR_JOB_STATE, "job %lld: %s: retry later",
                                (long long)job.id, ds_status_str(st));
            return;
        }
        audit_step(app, dev.device_id, "issue", job.id,
                   json_pack("{s:s, s:I}", "signer", new_key, "old_slot", (json_int_t)job.old_slot));
    }
    ds_http_count_rotation(req->http, "issued");
    uint8_t buf[DROT_ROTATE_MAX_MSG + 32];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, is.msg, is.msg_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, op);
    ds_rt_reply_map(req, &w);
}
