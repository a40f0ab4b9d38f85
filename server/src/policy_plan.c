/*
 * policy_plan.c — plan and apply a policy version (policy_engine.h E4;
 * docs/policy.md "Plan and apply").
 *
 * One function computes, device by device, what the new version changes,
 * and lists the actions that go with it; with apply it stores the version
 * first and carries out each listed action as it lists it, so the two can
 * only differ where the fleet itself changed in between (a job created or
 * finished by someone else). The actions apply carries out:
 *
 *   clear    a failed device whose failing evidence the new reference values
 *            no longer fail (not a tamper failure: only an operator clears that)
 *   rotate   a root-key rotation for each active device whose key is older than
 *            keys.max_age_days, in the class's policy campaign (keys.max_parallel)
 *   update   each component of /firmware: the staged rollout of its
 *            published release (firmware.h fw_rollout_ensure, at most
 *            max_in_flight devices updating at once), to the devices
 *            fw_rollout_plan lists
 *
 * What is reported but done later, by the worker or the devices: a new
 * interval (told at each device's next attestation), devices that would be
 * stale under the new attestation section (marked at the worker's next tick,
 * which runs on_missed), and verdict changes (seen at the next attestation).
 */
#define _POSIX_C_SOURCE 200809L
#include "policy_engine.h"
#include "policy_engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drot_crypto.h"
#include "firmware.h"
#include "policy_store.h"
#include "verify.h"
#include "webhook.h"

static const char *verdict_name(int v)
{
    return v == 1 ? "PASS" : v == 2 ? "WARN" : v == 3 ? "FAIL" : NULL;
}

static json_t *opt_verdict(int v)
{
    return v == 0 ? json_null() : json_string(verdict_name(v));
}

/* see policy_engine.h */
int ds_pol_reverify(const uint8_t *token, size_t len, const ds_device *dev, const ds_reference *ref,
                    char *reasons, size_t cap)
{
    if (reasons != NULL && cap > 0)
        reasons[0] = '\0';
    if (token == NULL || len == 0 || dev == NULL || ref == NULL)
        return 0;
    ds_verify_result *res = malloc(sizeof *res);
    if (res == NULL)
        return 0;
    ds_device_record rec;
    memset(&rec, 0, sizeof rec);
    memcpy(rec.device_id, dev->device_id, sizeof rec.device_id);
    memcpy(rec.drk_pub.q, dev->drk_pub, sizeof rec.drk_pub.q);
    rec.epoch = dev->epoch;
    rec.status = DS_VERIFY_DEVICE_ACTIVE;
    ds_verify_input in;
    memset(&in, 0, sizeof in); /* no challenge, no exporter: the nonce was checked when it was recorded */
    in.token = token;
    in.token_len = len;
    in.device = &rec;
    in.reference = ref;
    in.required_profile = DROT_EAT_PROFILE_NONE;
    (void)ds_verify_token(&in, res);
    bool fail = false, warn = false;
    size_t off = 0;
    int v = -1;
    for (size_t i = 0; i < res->num_reasons && v != 0; i++) {
        const ds_reason *r = &res->reasons[i];
        switch (r->code) {
        case DS_R_NONCE: continue;
        case DS_R_KEY:
        case DS_R_SIGNATURE:
        case DS_R_DEVICE_KEY:
        case DS_R_TOKEN_SIZE:
        case DS_R_MALFORMED:
        case DS_R_ALG: v = 0; continue; /* not this device's evidence under its current key */
        default: break;
        }
        fail = fail || r->severity == DS_SEV_FAIL;
        warn = warn || r->severity == DS_SEV_WARN;
        if (reasons != NULL && off < cap) {
            int w = snprintf(reasons + off, cap - off, "%s%s: %s", off ? "; " : "",
                             ds_reason_code_str(r->code), r->text);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    if (v != 0)
        v = fail || (res->reasons_dropped > 0 && res->verdict == DS_VERDICT_FAIL) ? 3 : warn ? 2 : 1;
    free(res);
    return v;
}

/* ---- rotations by key age ------------------------------------------------------------ */

typedef struct due_list {
    uint8_t (*ids)[DS_DEVICE_ID_LEN];
    int64_t *since;
    size_t n, cap;
    bool oom;
} due_list;

static int due_row(const uint8_t id[DS_DEVICE_ID_LEN], int64_t since, void *ctx)
{
    due_list *d = ctx;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        void *a = realloc(d->ids, cap * sizeof *d->ids);
        if (a != NULL)
            d->ids = a;
        void *b = a != NULL ? realloc(d->since, cap * sizeof *d->since) : NULL;
        if (b == NULL) {
            d->oom = true;
            return 1;
        }
        d->since = b;
        d->cap = cap;
    }
    memcpy(d->ids[d->n], id, DS_DEVICE_ID_LEN);
    d->since[d->n++] = since;
    return 0;
}

/* The policy campaign for p's settings, replacing one with other settings. */
static ds_status policy_campaign(ds_store *s, const ds_policy *p, int64_t now, int64_t *cid, bool *created)
{
    ds_status st = ds_pol_campaign_ensure(s, p->class_name, p->version, p->rotation_mode, p->max_parallel,
                                          DS_POL_JOB_ATTEMPTS, now, cid, created);
    if (st != DS_E_CONFLICT)
        return st;
    char why[120];
    snprintf(why, sizeof why, "replaced by the rotation settings of policy %s@%lld", p->class_name,
             (long long)p->version);
    st = ds_campaign_set_state(s, *cid, DS_CAMPAIGN_CANCELLED, why, now);
    if (st != DS_OK)
        return st;
    char actor[160], subject[32];
    ds_pol_actor(p->class_name, p->version, actor);
    snprintf(subject, sizeof subject, "campaign:%lld", (long long)*cid);
    (void)ds_pol_audit(s, actor, "campaign.state", subject,
                       json_pack("{s:s, s:s}", "to", "cancelled", "reason", why));
    fprintf(stderr, "drot-server: policy %s@%lld: campaign %lld %s\n", p->class_name, (long long)p->version,
            (long long)*cid, why);
    return ds_pol_campaign_ensure(s, p->class_name, p->version, p->rotation_mode, p->max_parallel,
                                  DS_POL_JOB_ATTEMPTS, now, cid, created);
}

static void audit_campaign(ds_store *s, const ds_policy *p, int64_t cid)
{
    char actor[160], subject[32];
    ds_pol_actor(p->class_name, p->version, actor);
    snprintf(subject, sizeof subject, "campaign:%lld", (long long)cid);
    (void)ds_pol_audit(s, actor, "campaign.create", subject,
                       json_pack("{s:s, s:s, s:I, s:s}", "class", p->class_name, "mode",
                                 p->rotation_mode == DS_JOB_MODE_DEVICE ? "device" : "server", "max_parallel",
                                 (json_int_t)p->max_parallel, "cause", "key_age"));
}

ds_status ds_pol_key_rotations(ds_store *s, const ds_policy *p, bool apply, const char *cause, int64_t now,
                               json_t *actions, size_t *n)
{
    due_list d = {NULL, NULL, 0, 0, false};
    if (n != NULL)
        *n = 0;
    if (!p->has_keys)
        return DS_OK;
    ds_status st = ds_pol_key_age_due(s, p->class_name, now - (int64_t)p->max_age_days * 86400, due_row, &d);
    if (st == DS_OK && d.oom)
        st = DS_E_NOMEM;
    int64_t cid = 0;
    bool created = false;
    size_t made = 0;
    const char *mode = p->rotation_mode == DS_JOB_MODE_DEVICE ? "device" : "server";
    if (st == DS_OK && apply && d.n > 0)
        st = policy_campaign(s, p, now, &cid, &created);
    if (st == DS_OK && created)
        audit_campaign(s, p, cid);
    for (size_t i = 0; st == DS_OK && i < d.n; i++) {
        char hx[2 * DS_DEVICE_ID_LEN + 1], result[DS_POL_RESULT_MAX + 1], target[32] = "";
        ds_pol_hex(d.ids[i], DS_DEVICE_ID_LEN, hx);
        json_t *e = json_pack("{s:s, s:s, s:I, s:s}", "action", "rotate", "device_id", hx, "key_since",
                              (json_int_t)d.since[i], "mode", mode);
        if (e == NULL) {
            st = DS_E_NOMEM;
            break;
        }
        if (apply) {
            int64_t job = 0;
            ds_status js = ds_job_create(s, d.ids[i], DS_JOB_ROTATE_ROOT, (ds_job_mode)p->rotation_mode,
                                         DS_POL_JOB_ATTEMPTS, cid, now, &job);
            if (js == DS_OK) {
                made++;
                json_object_set_new(e, "job_id", json_integer(job));
                json_object_set_new(e, "campaign_id", json_integer(cid));
                snprintf(target, sizeof target, "job %lld", (long long)job);
                snprintf(result, sizeof result, "rotation job %lld in campaign %lld (key from %lld, %s mode)",
                         (long long)job, (long long)cid, (long long)d.since[i], mode);
                char actor[160], subject[32];
                ds_pol_actor(p->class_name, p->version, actor);
                snprintf(subject, sizeof subject, "job:%lld", (long long)job);
                (void)ds_pol_audit(s, actor, "rotation.create", subject,
                                   json_pack("{s:s, s:s, s:I, s:s, s:I}", "device_id", hx, "mode", mode,
                                             "campaign", (json_int_t)cid, "cause", cause, "key_since",
                                             (json_int_t)d.since[i]));
            } else {
                snprintf(result, sizeof result, "no rotation job: %s", ds_store_error(s));
                json_object_set_new(e, "error", json_string(result));
            }
            ds_pol_action_new a = {d.ids[i],
                                   p->class_name,
                                   p->version,
                                   cause,
                                   "rotate",
                                   target,
                                   js == DS_OK ? "done" : "failed",
                                   result,
                                   0,
                                   NULL};
            st = ds_pol_action_add(s, &a, now, NULL);
        }
        json_array_append_new(actions, e);
    }
    if (st == DS_OK && apply && created && made == 0)
        (void)ds_campaign_set_state(s, cid, DS_CAMPAIGN_DONE, "no device needed a rotation after all", now);
    if (n != NULL)
        *n = d.n;
    free(d.ids);
    free(d.since);
    return st;
}

/* ---- plan ------------------------------------------------------------------------------- */

typedef struct states {
    ds_pol_devstate *v;
    size_t n, cap;
    bool oom;
} states;

static int state_row(const ds_pol_devstate *d, void *ctx)
{
    states *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        void *g = realloc(c->v, cap * sizeof *c->v);
        if (g == NULL) {
            c->oom = true;
            return 1;
        }
        c->v = g;
        c->cap = cap;
    }
    c->v[c->n++] = *d;
    return 0;
}

typedef struct plan_ctx {
    ds_store *s;
    const ds_policy *np, *old;
    const ds_reference *old_ref, *new_ref;
    uint64_t old_interval, new_interval;
    bool apply;
    int64_t now;
    json_t *actions;
    size_t verdict_changes, stale, clears;
} plan_ctx;

/* One device: the plan's entry, and its clear action (carried out with apply). */
static ds_status plan_device(plan_ctx *c, const ds_pol_devstate *d, json_t *out)
{
    char hx[2 * DS_DEVICE_ID_LEN + 1], reasons[DS_REASON_MAX + 1];
    ds_device dev;
    ds_pol_hex(d->device_id, DS_DEVICE_ID_LEN, hx);
    ds_status st = ds_device_get(c->s, d->device_id, &dev);
    if (st != DS_OK)
        return st;
    json_t *e = json_pack(
        "{s:s, s:s, s:o, s:o, s:b, s:b}", "device_id", hx, "status", ds_device_status_name(d->status),
        "last_attest_at", d->last_attest_at ? json_integer(d->last_attest_at) : json_null(), "last_result",
        d->last_result != DS_RESULT_NONE ? json_string(ds_result_name(d->last_result)) : json_null(),
        "failed", d->failed, "stale", d->stale);
    if (e == NULL)
        return DS_E_NOMEM;
    json_array_append_new(out, e);

    /* the last evidence under the live and the new reference values */
    uint8_t *tok = NULL;
    size_t len = 0;
    int64_t att = 0;
    if ((st = ds_pol_token(c->s, d->device_id, 0, &tok, &len, &att)) != DS_OK)
        return st;
    if (tok != NULL) {
        int was = ds_pol_reverify(tok, len, &dev, c->old_ref, NULL, 0);
        int will = ds_pol_reverify(tok, len, &dev, c->new_ref, reasons, sizeof reasons);
        bool changes = was != will && will != 0;
        c->verdict_changes += changes;
        json_object_set_new(e, "evidence",
                            json_pack("{s:I, s:o, s:o, s:b, s:s}", "attestation_id", (json_int_t)att, "live",
                                      opt_verdict(was), "new", opt_verdict(will), "changes", changes,
                                      "new_reasons", reasons));
    } else {
        json_object_set_new(e, "evidence", json_null());
    }
    free(tok);
    json_object_set_new(
        e, "interval_s",
        json_pack("{s:I, s:I}", "live", (json_int_t)c->old_interval, "new", (json_int_t)c->new_interval));
    int64_t after = ds_policy_stale_after(c->np);
    bool tracked =
        d->status == DS_DEV_ENROLLED || d->status == DS_DEV_ACTIVE || d->status == DS_DEV_QUARANTINED;
    bool stale_new = after > 0 && tracked && d->last_attest_at > 0 && d->last_attest_at < c->now - after;
    c->stale += stale_new && !d->stale;
    json_object_set_new(e, "stale_under_new", json_boolean(stale_new));

    /* a failure the new reference values no longer see */
    bool clear = false;
    if (d->failed && !d->failed_tamper) {
        if ((st = ds_pol_token(c->s, d->device_id, d->failed_attestation_id, &tok, &len, NULL)) != DS_OK)
            return st;
        int v = ds_pol_reverify(tok, len, &dev, c->new_ref, NULL, 0);
        clear = v == 1 || v == 2;
        free(tok);
    }
    json_object_set_new(e, "clear_failed", json_boolean(clear));
    if (!clear)
        return DS_OK;
    c->clears++;
    json_t *a = json_pack("{s:s, s:s, s:I}", "action", "clear", "device_id", hx, "attestation_id",
                          (json_int_t)d->failed_attestation_id);
    if (a == NULL)
        return DS_E_NOMEM;
    if (c->apply) {
        char by[DS_POL_BY_MAX + 1], why[200];
        snprintf(by, sizeof by, "policy:%s@%lld", c->np->class_name, (long long)c->np->version);
        snprintf(why, sizeof why, "the reference values of policy %s@%lld no longer fail attestation %lld",
                 c->np->class_name, (long long)c->np->version, (long long)d->failed_attestation_id);
        ds_status cs = ds_pol_clear_failed(c->s, d->device_id, by, why, c->now);
        json_object_set_new(a, "done", json_boolean(cs == DS_OK));
        ds_pol_action_new n = {d->device_id,
                               c->np->class_name,
                               c->np->version,
                               "apply",
                               "clear",
                               NULL,
                               cs == DS_OK ? "done" : "failed",
                               cs == DS_OK ? why : ds_store_error(c->s),
                               0,
                               NULL};
        st = ds_pol_action_add(c->s, &n, c->now, NULL);
    }
    json_array_append_new(c->actions, a);
    return st;
}

static void fw_device(const uint8_t id[16], const char *current, void *ctx)
{
    char hx[2 * DS_DEVICE_ID_LEN + 1];
    ds_pol_hex(id, DS_DEVICE_ID_LEN, hx);
    json_array_append_new(
        ctx, json_pack("{s:s, s:o}", "device_id", hx, "current_version",
                       current != NULL && current[0] != '\0' ? json_string(current) : json_null()));
}

static void fw_none(const uint8_t id[16], const char *current, void *ctx)
{
    (void)id;
    (void)current;
    (void)ctx;
}

/* Every component of /firmware must name a published release: else the
 * update could never be carried out (checked before anything is stored). */
static ds_status check_releases(ds_store *s, const ds_policy *np, char *err, size_t errlen)
{
    for (size_t i = 0; i < np->n_firmware; i++) {
        const ds_pol_firmware *f = &np->firmware[i];
        ds_status st = fw_rollout_plan(s, np->class_name, f->component, f->version, fw_none, NULL);
        if (st == DS_E_NOT_FOUND) {
            snprintf(err, errlen,
                     "/firmware/%s/version: no published release of %s version %s: publish it first "
                     "(drotctl firmware publish)",
                     f->component, f->component, f->version);
            return DS_E_ARG;
        }
        if (st != DS_OK)
            return st;
    }
    return DS_OK;
}

/* Each component's staged rollout (firmware.h): the devices it would give a
 * job (fw_rollout_plan), and with apply the rollout itself
 * (fw_rollout_ensure, idempotent: an open rollout of the release is kept). */
static ds_status plan_firmware(plan_ctx *c, json_t *fw)
{
    char actor[160], err[300];
    ds_pol_actor(c->np->class_name, c->np->version, actor);
    for (size_t i = 0; i < c->np->n_firmware; i++) {
        const ds_pol_firmware *f = &c->np->firmware[i];
        json_t *devs = json_array();
        ds_status st =
            devs != NULL ? fw_rollout_plan(c->s, c->np->class_name, f->component, f->version, fw_device, devs)
                         : DS_E_NOMEM;
        if (st != DS_OK) {
            json_decref(devs);
            return st;
        }
        json_t *a =
            json_pack("{s:s, s:s, s:s, s:I, s:o}", "action", "update", "component", f->component, "version",
                      f->version, "max_in_flight", (json_int_t)f->max_in_flight, "devices", devs);
        if (a == NULL)
            return DS_E_NOMEM;
        json_array_append(fw, a);
        json_array_append_new(c->actions, a);
        if (!c->apply)
            continue;
        int64_t rollout = 0;
        char result[DS_POL_RESULT_MAX + 1], target[DS_POL_NAME + 1];
        st = fw_rollout_ensure(c->s, c->np->class_name, f->component, f->version, f->max_in_flight, actor,
                               &rollout, err, sizeof err);
        if (st == DS_OK && rollout > 0)
            snprintf(result, sizeof result, "rollout %lld of %s %s (at most %u in flight)",
                     (long long)rollout, f->component, f->version, f->max_in_flight);
        else if (st == DS_OK)
            snprintf(result, sizeof result, "every device runs %s %s already: no rollout", f->component,
                     f->version);
        else
            snprintf(result, sizeof result, "no rollout: %.200s", err);
        json_object_set_new(a, "rollout_id", rollout > 0 ? json_integer(rollout) : json_null());
        if (st != DS_OK)
            json_object_set_new(a, "error", json_string(result));
        snprintf(target, sizeof target, "%s", f->component);
        ds_pol_action_new n = {NULL,
                               c->np->class_name,
                               c->np->version,
                               "apply",
                               "update",
                               target,
                               st == DS_OK ? "done" : "failed",
                               result,
                               0,
                               NULL};
        if ((st = ds_pol_action_add(c->s, &n, c->now, NULL)) != DS_OK)
            return st;
    }
    return DS_OK;
}

/* Every webhook's secret file must be readable here: else the events would
 * fail at each attempt. */
static ds_status check_secrets(const ds_policy *np, char *err, size_t errlen)
{
    uint8_t buf[DS_WH_SECRET_MAX]; /* on this request's stack: plans run on several workers at once */
    for (size_t i = 0; i < np->n_webhooks; i++) {
        size_t n = 0;
        char why[400];
        if (ds_wh_read_secret(np->webhooks[i].secret_file, buf, sizeof buf, &n, why, sizeof why) != 0) {
            snprintf(err, errlen, "/webhooks/%s/secret_file: %s", np->webhooks[i].name, why);
            return DS_E_ARG;
        }
        drot_wipe(buf, sizeof buf);
    }
    return DS_OK;
}

ds_status ds_pol_plan(ds_pol_engine *e, ds_store *s, const ds_policy *np, const char *doc,
                      const ds_reference *fallback, bool apply, const char *actor, json_t **out, char *err,
                      size_t errlen)
{
    ds_policy *old = NULL;
    states st_list = {NULL, 0, 0, false};
    json_t *devices = json_array(), *actions = json_array(), *fw = json_array();
    *out = NULL;
    err[0] = '\0';
    int64_t now = ds_store_now(), live = 0;
    ds_status st = devices && actions && fw ? ds_pol_engine_live(e, s, np->class_name, &old) : DS_E_NOMEM;
    if (st == DS_OK)
        live = old != NULL ? old->version : 0;
    if (st == DS_OK && np->version <= live) {
        snprintf(
            err, errlen,
            "/version: %lld is not above the live version %lld of class %s: give it version %lld or more",
            (long long)np->version, (long long)live, np->class_name, (long long)live + 1);
        st = DS_E_CONFLICT;
    }
    if (st == DS_OK)
        st = check_secrets(np, err, errlen);
    if (st == DS_OK)
        st = check_releases(s, np, err, errlen);
    if (st == DS_OK && apply && (st = ds_pol_put(s, np->class_name, np->version, doc, actor, now)) != DS_OK)
        snprintf(err, errlen, "%s", ds_store_error(s));
    if (st == DS_OK && (st = ds_pol_device_states(s, np->class_name, state_row, &st_list)) == DS_OK &&
        st_list.oom)
        st = DS_E_NOMEM;
    uint64_t dflt = ds_pol_engine_default_interval(e);
    plan_ctx c = {s,
                  np,
                  old,
                  old != NULL ? &old->reference : fallback,
                  &np->reference,
                  old != NULL && old->has_attestation ? old->interval_s : dflt,
                  np->has_attestation ? np->interval_s : dflt,
                  apply,
                  now,
                  actions,
                  0,
                  0,
                  0};
    for (size_t i = 0; st == DS_OK && i < st_list.n; i++)
        st = plan_device(&c, &st_list.v[i], devices);
    size_t rotations = 0;
    if (st == DS_OK)
        st = ds_pol_key_rotations(s, np, apply, "apply", now, actions, &rotations);
    if (st == DS_OK)
        st = plan_firmware(&c, fw);
    if (st != DS_OK && err[0] == '\0')
        snprintf(err, errlen, "%s", ds_store_error(s)[0] ? ds_store_error(s) : ds_status_str(st));
    if (st == DS_OK) {
        *out = json_pack(
            "{s:s, s:I, s:I, s:b, s:{s:I, s:I}, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
            "class", np->class_name, "version", (json_int_t)np->version, "live_version", (json_int_t)live,
            "applied", apply, "interval_s", "live", (json_int_t)c.old_interval, "new",
            (json_int_t)c.new_interval, "stale_after_s", (json_int_t)ds_policy_stale_after(np), "devices",
            devices, "actions", actions, "firmware", fw, "summary", "devices", (json_int_t)st_list.n,
            "verdict_changes", (json_int_t)c.verdict_changes, "stale", (json_int_t)c.stale, "clears",
            (json_int_t)c.clears, "rotations", (json_int_t)rotations, "firmware", (json_int_t)np->n_firmware);
        devices = actions = fw = NULL;
        if (*out == NULL)
            st = DS_E_NOMEM;
    }
    if (apply && st == DS_OK) {
        fprintf(stderr,
                "drot-server: policy %s@%lld applied by %s: %zu clear(s), %zu rotation(s), %zu firmware\n",
                np->class_name, (long long)np->version, actor, c.clears, rotations, np->n_firmware);
        ds_pol_engine_kick(e); /* staleness under the new attestation section, at once */
    }
    json_decref(devices);
    json_decref(actions);
    json_decref(fw);
    free(st_list.v);
    free(old);
    return st;
}
