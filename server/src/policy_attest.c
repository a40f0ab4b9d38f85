/*
 * policy_attest.c — what an attestation does under its class's policy (see
 * policy_engine.h, invariants E1–E3; docs/policy.md "Actions").
 *
 * routes.c calls three functions around the verifier:
 *
 *   begin   the live policy (E1): its reference values replace --reference
 *   decide  a FAIL of the device's own (E3) picks the actions of on_tamper
 *           (when a FAIL reason is a tamper reason) then on_fail, each
 *           distinct action once; quarantine goes into the store's own
 *           update, everything else into the in_tx hook below
 *   end     "action: …" reasons for the answer; the worker is woken when
 *           rotate / update actions wait for it
 *
 * The hook runs inside the transaction that records the attestation (E2):
 * a stale episode ends, the failed flag is set, a revoke is made with its
 * status log row, webhook events are queued, rotate / update actions are
 * written pending, and every action gets its row in policy_actions.
 */
#define _POSIX_C_SOURCE 200809L
#include "policy_engine.h"
#include "policy_engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy_store.h"
#include "sql.h"

static void add_done(ds_pol_attest *pa, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>

static void add_done(ds_pol_attest *pa, const char *fmt, ...)
{
    va_list ap;
    if (pa->n_done >= sizeof pa->done / sizeof pa->done[0])
        return;
    va_start(ap, fmt);
    (void)vsnprintf(pa->done[pa->n_done++], sizeof pa->done[0], fmt, ap);
    va_end(ap);
}

const ds_reference *ds_pol_attest_begin(ds_pol_attest *pa, ds_pol_engine *e, ds_store *s,
                                        const ds_device *dev, const ds_reference *fallback)
{
    memset(pa, 0, sizeof *pa);
    pa->engine = e;
    memcpy(pa->device_id, dev->device_id, DS_DEVICE_ID_LEN);
    snprintf(pa->class_name, sizeof pa->class_name, "%s", dev->class_name);
    pa->status = dev->status;
    if (e == NULL)
        return fallback;
    pa->load = ds_pol_engine_live(e, s, dev->class_name, &pa->policy);
    if (pa->load != DS_OK) {
        snprintf(pa->load_error, sizeof pa->load_error, "policy: cannot read the live policy of class %s: %s",
                 dev->class_name, ds_store_error(s));
        return NULL;
    }
    return pa->policy != NULL ? &pa->policy->reference : fallback;
}

static bool has_action(const ds_pol_attest *pa, const ds_pol_action *a)
{
    for (size_t i = 0; i < pa->n_actions; i++)
        if (pa->actions[i].kind == a->kind && strcmp(pa->actions[i].webhook, a->webhook) == 0)
            return true;
    return false;
}

static void take(ds_pol_attest *pa, ds_pol_trigger t)
{
    for (size_t i = 0; i < pa->policy->n_actions[t]; i++) {
        const ds_pol_action *a = &pa->policy->actions[t][i];
        if (!has_action(pa, a) && pa->n_actions < sizeof pa->actions / sizeof pa->actions[0]) {
            pa->causes[pa->n_actions] = t;
            pa->actions[pa->n_actions++] = *a;
        }
    }
}

static ds_status hook(ds_store *s, const struct ds_attest_outcome *out, void *ctx);

void ds_pol_attest_decide(ds_pol_attest *pa, const ds_check *chk, bool own, ds_attest_update *upd)
{
    if (pa->engine == NULL)
        return;
    size_t off = 0;
    const char *first_fail = "attestation FAIL";
    for (size_t i = 0; i < chk->num_reasons && off < DS_REASON_MAX; i++) {
        int w = snprintf(pa->reasons + off, sizeof pa->reasons - off, "%s%s", i ? "; " : "", chk->reasons[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    pa->reasons[DS_REASON_MAX] = '\0';
    pa->own_fail = chk->verdict == 3 && own;
    for (size_t i = 0; pa->own_fail && i < chk->num_reasons; i++) {
        if (!chk->is_fail[i])
            continue;
        if (strcmp(first_fail, "attestation FAIL") == 0)
            first_fail = chk->reasons[i];
        if (strncmp(chk->reasons[i], "tamper:", 7) == 0)
            pa->tamper = true;
    }
    if (pa->own_fail && pa->policy != NULL) {
        if (pa->tamper)
            take(pa, DS_POL_ON_TAMPER);
        take(pa, DS_POL_ON_FAIL);
        for (size_t i = 0; i < pa->n_actions; i++) {
            if (pa->actions[i].kind == DS_POL_QUARANTINE) {
                snprintf(pa->quarantine_reason, sizeof pa->quarantine_reason,
                         "automatic quarantine (policy %s@%lld, %s): %s", pa->class_name,
                         (long long)pa->policy->version, ds_pol_trigger_name(pa->causes[i]), first_fail);
                upd->quarantine = true;
                upd->reason = pa->quarantine_reason;
            }
        }
    }
    upd->in_tx = hook;
    upd->in_tx_ctx = pa;
}

typedef struct failed_info {
    bool failed;
    int64_t at, id;
} failed_info;

static int failed_row(const ds_sql_row *r, void *ctx)
{
    failed_info *f = ctx;
    f->failed = ds_sql_get_int(r, 0) != 0;
    f->at = ds_sql_get_int(r, 1);
    f->id = ds_sql_get_int(r, 2);
    return 1;
}

/* One audit entry inside the attestation's transaction (it rolls back with it). */
static ds_status audit(ds_store *s, const ds_pol_attest *pa, const char *action, json_t *detail)
{
    char actor[160], hx[2 * DS_DEVICE_ID_LEN + 1];
    ds_pol_actor(pa->class_name, pa->policy != NULL ? pa->policy->version : 0, actor);
    ds_pol_hex(pa->device_id, DS_DEVICE_ID_LEN, hx);
    return ds_pol_audit(s, actor, action, hx, detail);
}

static ds_status record(ds_store *s, ds_pol_attest *pa, const struct ds_attest_outcome *out, size_t i,
                        const char *state, const char *result, int64_t now)
{
    ds_pol_action_new n = {pa->device_id,
                           pa->class_name,
                           pa->policy->version,
                           ds_pol_trigger_name(pa->causes[i]),
                           ds_pol_action_name(pa->actions[i].kind),
                           pa->actions[i].webhook,
                           state,
                           result,
                           out->id,
                           NULL};
    return ds_pol_action_add(s, &n, now, NULL);
}

/* One action inside the attestation's transaction. */
static ds_status act(ds_store *s, ds_pol_attest *pa, const struct ds_attest_outcome *out, size_t i,
                     int64_t now)
{
    const ds_pol_action *a = &pa->actions[i];
    const char *cause = ds_pol_trigger_name(pa->causes[i]);
    char result[DS_POL_RESULT_MAX + 1], reason[DS_REASON_MAX + 1];
    long long v = (long long)pa->policy->version;
    bool changed = false;
    ds_status st = DS_OK;
    switch (a->kind) {
    case DS_POL_QUARANTINE: /* made by the store's own update (store.h invariant 3); its audit
                               entry is routes.c's device.quarantine (audit_server.h) */
        if (out->action == DS_ACTION_QUARANTINED)
            return record(s, pa, out, i, "done", "quarantined", now);
        snprintf(result, sizeof result, "%s",
                 out->status == DS_DEV_QUARANTINED ? "already quarantined" : "not allowed");
        return record(s, pa, out, i, out->status == DS_DEV_QUARANTINED ? "done" : "failed", result, now);
    case DS_POL_REVOKE:
        snprintf(reason, sizeof reason, "automatic revocation (policy %s@%lld, %s): %.900s", pa->class_name,
                 v, cause, pa->reasons);
        st = ds_pol_set_status_in_tx(s, pa->device_id, DS_DEV_REVOKED, reason, now, &changed);
        if (st != DS_OK)
            return st;
        if (changed)
            add_done(pa, "action: device revoked automatically (policy %s@%lld, %s)", pa->class_name, v,
                     cause);
        if (changed &&
            (st = audit(s, pa, "device.status",
                        json_pack("{s:s, s:s, s:s, s:I}", "to", "revoked", "reason", reason, "cause", cause,
                                  "attestation_id", (json_int_t)out->id))) != DS_OK)
            return st;
        return record(s, pa, out, i, changed ? "done" : "failed", changed ? "revoked" : "not allowed", now);
    case DS_POL_NOTIFY: {
        json_t *extra = json_pack("{s:I, s:s}", "attestation_id", (json_int_t)out->id, "verdict", "FAIL");
        st = ds_pol_notify(s, pa->policy, a->webhook, pa->tamper ? "device.tamper" : "device.failed",
                           pa->device_id, pa->reasons, now, extra, result, sizeof result);
        json_decref(extra);
        if (st == DS_OK)
            st = audit(s, pa, "webhook.queue",
                       json_pack("{s:s, s:s, s:s, s:s}", "webhook", a->webhook, "event",
                                 pa->tamper ? "device.tamper" : "device.failed", "cause", cause, "result",
                                 result));
        if (st != DS_OK)
            return st;
        add_done(pa, "action: %s (policy %s@%lld, %s)", result, pa->class_name, v, cause);
        pa->pending = true; /* the worker delivers it */
        return record(s, pa, out, i, "done", result, now);
    }
    case DS_POL_ROTATE:
    case DS_POL_UPDATE:
        add_done(pa, "action: %s requested (policy %s@%lld, %s)",
                 a->kind == DS_POL_ROTATE ? "root key rotation" : "firmware update", pa->class_name, v,
                 cause);
        pa->pending = true;
        if ((st = audit(s, pa, "policy.action",
                        json_pack("{s:s, s:s, s:s, s:I}", "action", ds_pol_action_name(a->kind), "cause",
                                  cause, "state", "pending", "attestation_id", (json_int_t)out->id))) !=
            DS_OK)
            return st;
        return record(s, pa, out, i, "pending", "", now);
    }
    return DS_OK;
}

static ds_status hook(ds_store *s, const struct ds_attest_outcome *out, void *ctx)
{
    ds_pol_attest *pa = ctx;
    int64_t now = ds_store_now();
    bool was_stale = false, newly_failed = false;
    ds_status st = ds_pol_note_attestation(s, pa->device_id, out->id, pa->own_fail, pa->tamper, pa->reasons,
                                           now, &was_stale, &newly_failed);
    if (st != DS_OK)
        return st;
    if (was_stale) {
        add_done(pa, "policy: the device was stale; this attestation ends that");
        if ((st = audit(s, pa, "policy.fresh", json_pack("{s:I}", "attestation_id", (json_int_t)out->id))) !=
            DS_OK)
            return st;
    }
    if (newly_failed && (st = audit(s, pa, "policy.failed",
                                    json_pack("{s:I, s:b, s:s}", "attestation_id", (json_int_t)out->id,
                                              "tamper", pa->tamper, "reasons", pa->reasons))) != DS_OK)
        return st;
    if (!pa->own_fail) { /* FAIL stays failed: a PASS says so */
        failed_info f = {false, 0, 0};
        ds_sql_val a[] = {ds_sql_blob(pa->device_id, DS_DEVICE_ID_LEN)};
        st = ds_sql_exec(
            s,
            "SELECT failed, failed_at, failed_attestation_id FROM device_policy_state WHERE device_id = $1",
            a, 1, failed_row, &f, NULL);
        if (st == DS_OK && f.failed) {
            pa->failed_before = true;
            pa->failed_at = f.at;
            pa->failed_attestation_id = f.id;
            add_done(pa,
                     "policy: the device stays failed since attestation %lld until an operator clears it "
                     "(drotctl device clear) or a policy's reference values no longer fail it",
                     (long long)f.id);
        }
        return st;
    }
    for (size_t i = 0; st == DS_OK && pa->policy != NULL && i < pa->n_actions; i++)
        st = act(s, pa, out, i, now);
    return st;
}

void ds_pol_attest_end(ds_pol_attest *pa, ds_check *chk)
{
    for (size_t i = 0; chk != NULL && i < pa->n_done && chk->num_reasons < DS_CHECK_MAX_REASONS + 1; i++) {
        snprintf(chk->reasons[chk->num_reasons], DS_CHECK_REASON_MAX, "%s", pa->done[i]);
        chk->is_fail[chk->num_reasons++] = false;
    }
    if (pa->pending && chk != NULL)
        ds_pol_engine_kick(pa->engine);
    free(pa->policy);
    pa->policy = NULL;
}
