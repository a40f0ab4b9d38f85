/*
 * store_jobs.c — the backend-neutral half of the rotation jobs and campaigns
 * (store.h, "rotation jobs" and "campaigns"): names, argument validation, the
 * two state machines, and dispatch to the backend's ds_job_ops.
 *
 * The state machines live here ONCE, as the ds_job_check_* functions: a
 * backend reads the rows under its locks, asks the matching check whether the
 * step is legal, and writes only if it is. So the two backends cannot
 * disagree on what a job may do, and the tables below match the diagrams in
 * store.h one to one.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* ---- names ------------------------------------------------------------------- */

static const char *const job_state_names[] = {NULL, "pending", "issued", "completed", "failed", "cancelled"};
static const char *const job_kind_names[] = {NULL, "rotate-root", "rotate-anchor"};
static const char *const job_mode_names[] = {NULL, "server", "device"};
static const char *const campaign_state_names[] = {NULL, "running", "stopped", "done", "cancelled"};

#define N_OF(a) (int)(sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, int n, int v)
{
    return v >= 1 && v < n ? names[v] : NULL;
}

static ds_status parse_name(const char *const *names, int n, const char *name, int *out)
{
    if (name == NULL || out == NULL)
        return DS_E_ARG;
    for (int i = 1; i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return DS_OK;
        }
    }
    return DS_E_ARG;
}

const char *ds_job_state_name(ds_job_state s)
{
    return name_of(job_state_names, N_OF(job_state_names), (int)s);
}

const char *ds_job_kind_name(ds_job_kind k)
{
    return name_of(job_kind_names, N_OF(job_kind_names), (int)k);
}

const char *ds_job_mode_name(ds_job_mode m)
{
    return name_of(job_mode_names, N_OF(job_mode_names), (int)m);
}

const char *ds_campaign_state_name(ds_campaign_state s)
{
    return name_of(campaign_state_names, N_OF(campaign_state_names), (int)s);
}

ds_status ds_job_state_parse(const char *name, ds_job_state *out)
{
    int v = 0;
    ds_status st = parse_name(job_state_names, N_OF(job_state_names), name, &v);
    if (st == DS_OK)
        *out = (ds_job_state)v;
    return st;
}

ds_status ds_job_kind_parse(const char *name, ds_job_kind *out)
{
    int v = 0;
    ds_status st = parse_name(job_kind_names, N_OF(job_kind_names), name, &v);
    if (st == DS_OK)
        *out = (ds_job_kind)v;
    return st;
}

ds_status ds_job_mode_parse(const char *name, ds_job_mode *out)
{
    int v = 0;
    ds_status st = parse_name(job_mode_names, N_OF(job_mode_names), name, &v);
    if (st == DS_OK)
        *out = (ds_job_mode)v;
    return st;
}

ds_status ds_campaign_state_parse(const char *name, ds_campaign_state *out)
{
    int v = 0;
    ds_status st = parse_name(campaign_state_names, N_OF(campaign_state_names), name, &v);
    if (st == DS_OK)
        *out = (ds_campaign_state)v;
    return st;
}

/* ---- the state machines ------------------------------------------------------------ */

static bool job_open(ds_job_state s)
{
    return s == DS_JOB_PENDING || s == DS_JOB_ISSUED;
}

static bool lease_free(const ds_job *j, const char *owner, int64_t now)
{
    return j->lease_owner[0] == '\0' || j->lease_until <= now || strcmp(j->lease_owner, owner) == 0;
}

#define BIT(s) (1u << (s))
/* Allowed campaign targets per state; the diagram is in store.h. */
static const unsigned campaign_transitions[] = {
    [DS_CAMPAIGN_RUNNING] = BIT(DS_CAMPAIGN_STOPPED) | BIT(DS_CAMPAIGN_CANCELLED) | BIT(DS_CAMPAIGN_DONE),
    [DS_CAMPAIGN_STOPPED] = BIT(DS_CAMPAIGN_RUNNING) | BIT(DS_CAMPAIGN_CANCELLED),
    [DS_CAMPAIGN_DONE] = 0,
    [DS_CAMPAIGN_CANCELLED] = 0,
};

bool ds_campaign_transition_allowed(ds_campaign_state from, ds_campaign_state to)
{
    if (ds_campaign_state_name(from) == NULL || ds_campaign_state_name(to) == NULL)
        return false;
    return from == to || (campaign_transitions[from] & BIT(to)) != 0;
}

static ds_status not_state(ds_store *s, const ds_job *j, const char *step)
{
    return ds_store_fail(s, DS_E_CONFLICT, "job %lld is %s: cannot %s", (long long)j->id,
                         ds_job_state_name(j->state), step);
}

ds_status ds_job_check_lease(ds_store *s, const ds_job *j, const char *owner, int64_t now)
{
    if (!job_open(j->state))
        return not_state(s, j, "lease");
    if (!lease_free(j, owner, now))
        return ds_store_fail(s, DS_E_BUSY, "job %lld is leased to %s until %lld", (long long)j->id,
                             j->lease_owner, (long long)j->lease_until);
    return DS_OK;
}

ds_status ds_job_check_create_device(ds_store *s, ds_device_status dev_status)
{
    if (dev_status != DS_DEV_ENROLLED && dev_status != DS_DEV_ACTIVE)
        return ds_store_fail(s, DS_E_CONFLICT, "device is %s: no rotation job",
                             ds_device_status_name(dev_status));
    return DS_OK;
}

ds_status ds_job_check_create_campaign(ds_store *s, const ds_campaign *c, const char *dev_class,
                                       ds_job_kind kind, ds_job_mode mode)
{
    if (c->state != DS_CAMPAIGN_RUNNING)
        return ds_store_fail(s, DS_E_CONFLICT, "campaign %lld is %s", (long long)c->id,
                             ds_campaign_state_name(c->state));
    if (strcmp(c->class_name, dev_class) != 0 || c->kind != kind || c->mode != mode)
        return ds_store_fail(s, DS_E_CONFLICT, "campaign %lld is %s/%s for class %s: the job does not match",
                             (long long)c->id, ds_job_kind_name(c->kind), ds_job_mode_name(c->mode),
                             c->class_name);
    return DS_OK;
}

ds_status ds_job_check_issue(ds_store *s, const ds_job *j, const char *owner, uint64_t from_epoch,
                             ds_device_status dev_status, uint64_t dev_epoch, int64_t now)
{
    if (j->state != DS_JOB_PENDING)
        return not_state(s, j, "issue");
    if (j->attempts >= j->max_attempts)
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld has used its %u attempts", (long long)j->id,
                             j->max_attempts);
    if (!lease_free(j, owner, now))
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld is leased to %s until %lld", (long long)j->id,
                             j->lease_owner, (long long)j->lease_until);
    if (dev_status != DS_DEV_ENROLLED && dev_status != DS_DEV_ACTIVE)
        return ds_store_fail(s, DS_E_CONFLICT, "device is %s: no instruction",
                             ds_device_status_name(dev_status));
    if (dev_epoch != from_epoch)
        return ds_store_fail(s, DS_E_CONFLICT, "device epoch is %llu, not %llu",
                             (unsigned long long)dev_epoch, (unsigned long long)from_epoch);
    return DS_OK;
}

ds_status ds_job_check_campaign_issue(ds_store *s, const ds_campaign *c, uint64_t n_issued)
{
    if (c->state != DS_CAMPAIGN_RUNNING)
        return ds_store_fail(s, DS_E_CONFLICT, "campaign %lld is %s", (long long)c->id,
                             ds_campaign_state_name(c->state));
    if (n_issued >= c->max_parallel)
        return ds_store_fail(s, DS_E_BUSY, "campaign %lld already has %llu of %u jobs issued",
                             (long long)c->id, (unsigned long long)n_issued, c->max_parallel);
    return DS_OK;
}

ds_status ds_job_check_complete(ds_store *s, const ds_job *j, const uint8_t *new_pub, uint64_t new_epoch,
                                bool *noop)
{
    *noop = false;
    bool from_pending = j->state == DS_JOB_PENDING && j->has_new_key && j->attempts > 0;
    if (j->state != DS_JOB_ISSUED && j->state != DS_JOB_COMPLETED && !from_pending)
        return not_state(s, j, "complete");
    if (!j->has_new_key || memcmp(j->new_pub, new_pub, DS_DRK_PUB_LEN) != 0)
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld: not the key it recorded", (long long)j->id);
    uint64_t want = j->kind == DS_JOB_ROTATE_ROOT ? j->from_epoch + 1 : j->from_epoch;
    if (new_epoch != want)
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld: new epoch %llu, expected %llu", (long long)j->id,
                             (unsigned long long)new_epoch, (unsigned long long)want);
    *noop = j->state == DS_JOB_COMPLETED;
    return DS_OK;
}

ds_status ds_job_check_complete_device(ds_store *s, const ds_job *j, ds_device_status dev_status,
                                       uint64_t dev_epoch)
{
    if (dev_status == DS_DEV_REVOKED || dev_status == DS_DEV_DECOMMISSIONED)
        return ds_store_fail(s, DS_E_CONFLICT, "device is %s: no new key", ds_device_status_name(dev_status));
    if (dev_epoch != j->from_epoch)
        return ds_store_fail(s, DS_E_CONFLICT, "device epoch is %llu, the job started from %llu",
                             (unsigned long long)dev_epoch, (unsigned long long)j->from_epoch);
    return DS_OK;
}

ds_status ds_job_check_retry(ds_store *s, const ds_job *j, ds_campaign_state camp, ds_job_state *to)
{
    if (j->state != DS_JOB_ISSUED)
        return not_state(s, j, "retry");
    if (j->attempts >= j->max_attempts)
        *to = DS_JOB_FAILED;
    else if (camp == DS_CAMPAIGN_CANCELLED || camp == DS_CAMPAIGN_DONE)
        *to = DS_JOB_CANCELLED; /* nobody would issue it again */
    else
        *to = DS_JOB_PENDING;
    return DS_OK;
}

ds_status ds_job_check_advance(ds_store *s, const ds_job *j, uint32_t from_step, int32_t old_slot,
                               int32_t *slot)
{
    if (j->kind != DS_JOB_ROTATE_ANCHOR)
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld is %s: no anchor steps", (long long)j->id,
                             ds_job_kind_name(j->kind));
    if (j->state != DS_JOB_PENDING)
        return not_state(s, j, "advance");
    if (j->step != from_step)
        return ds_store_fail(s, DS_E_CONFLICT, "job %lld is at step %u, not %u", (long long)j->id, j->step,
                             from_step);
    *slot = old_slot == DS_ANCHOR_SLOT_KEEP ? j->old_slot : old_slot;
    return DS_OK;
}

ds_status ds_job_check_end(ds_store *s, const ds_job *j, ds_job_state to)
{
    if (!job_open(j->state))
        return not_state(s, j, to == DS_JOB_FAILED ? "fail" : "cancel");
    return DS_OK;
}

void ds_campaign_after_job(const ds_campaign *c, uint64_t n_failed, uint64_t n_open, ds_campaign_state *to,
                           char *reason, size_t cap)
{
    *to = c->state;
    reason[0] = '\0';
    if (c->state != DS_CAMPAIGN_RUNNING)
        return;
    if (c->fail_threshold > 0 && n_failed >= c->fail_threshold) {
        *to = DS_CAMPAIGN_STOPPED;
        snprintf(reason, cap, "%llu jobs failed (threshold %u)", (unsigned long long)n_failed,
                 c->fail_threshold);
    } else if (n_open == 0) {
        *to = DS_CAMPAIGN_DONE;
        snprintf(reason, cap, "every job ended");
    }
}

/* ---- validation and dispatch ------------------------------------------------------------ */

#define NEED(s, cond, ...)                                                                                   \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            return ds_store_fail((s), DS_E_ARG, __VA_ARGS__);                                                \
    } while (0)

/* Latest "now" accepted: leaves room for now + ttl in an int64. */
#define NOW_MAX (INT64_MAX - DS_JOB_TTL_MAX)

static bool owner_ok(const char *o)
{
    if (o == NULL)
        return false;
    size_t n = strnlen(o, DS_JOB_OWNER_MAX + 1);
    if (n == 0 || n > DS_JOB_OWNER_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (o[i] < 0x21 || o[i] > 0x7e)
            return false;
    }
    return true;
}

static bool why_ok(const char *w)
{
    return w == NULL || strnlen(w, DS_JOB_ERROR_MAX + 1) <= DS_JOB_ERROR_MAX;
}

/* The common head of every entry point: store present, error cleared. */
#define ENTER(store)                                                                                         \
    do {                                                                                                     \
        if ((store) == NULL)                                                                                 \
            return DS_E_ARG;                                                                                 \
        (store)->err[0] = '\0';                                                                              \
    } while (0)

#define JOBS(store) ((store)->ops->jobs)

ds_status ds_job_create(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_job_kind kind,
                        ds_job_mode mode, uint32_t max_attempts, int64_t campaign_id, int64_t now,
                        int64_t *id_out)
{
    ENTER(store);
    NEED(store, device_id != NULL, "job_create: NULL device id");
    NEED(store, ds_job_kind_name(kind) != NULL, "job_create: bad kind %d", (int)kind);
    NEED(store, kind != DS_JOB_ROTATE_ANCHOR, "job_create: an anchor job needs its key (job_create_anchor)");
    NEED(store, ds_job_mode_name(mode) != NULL, "job_create: bad mode %d", (int)mode);
    NEED(store, max_attempts >= 1 && max_attempts <= DS_JOB_ATTEMPTS_MAX,
         "job_create: max_attempts must be 1..%d", DS_JOB_ATTEMPTS_MAX);
    NEED(store, campaign_id >= 0, "job_create: bad campaign id");
    NEED(store, now > 0 && now <= NOW_MAX, "job_create: bad time");
    return JOBS(store)->create(store, device_id, NULL, kind, mode, max_attempts, campaign_id, now, id_out);
}

ds_status ds_job_create_anchor(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN],
                               const uint8_t anchor_pub[DS_DRK_PUB_LEN], uint32_t max_attempts,
                               int64_t campaign_id, int64_t now, int64_t *id_out)
{
    ENTER(store);
    NEED(store, device_id != NULL, "job_create_anchor: NULL device id");
    NEED(store, anchor_pub != NULL && anchor_pub[0] == 0x04,
         "job_create_anchor: anchor key is not uncompressed SEC1");
    NEED(store, max_attempts >= 1 && max_attempts <= DS_JOB_ATTEMPTS_MAX,
         "job_create_anchor: max_attempts must be 1..%d", DS_JOB_ATTEMPTS_MAX);
    NEED(store, campaign_id == 0, "job_create_anchor: campaigns do not rotate trust anchors");
    NEED(store, now > 0 && now <= NOW_MAX, "job_create_anchor: bad time");
    return JOBS(store)->create(store, device_id, anchor_pub, DS_JOB_ROTATE_ANCHOR, DS_JOB_MODE_SERVER,
                               max_attempts, 0, now, id_out);
}

ds_status ds_job_advance(ds_store *store, int64_t id, uint32_t from_step, uint32_t to_step, int32_t old_slot,
                         int64_t now)
{
    ENTER(store);
    NEED(store, id > 0, "job_advance: bad id");
    NEED(store, from_step < DS_ANCHOR_STEP_LAST && to_step == from_step + 1,
         "job_advance: step %u -> %u is not one step forward within 0..%d", from_step, to_step,
         DS_ANCHOR_STEP_LAST);
    NEED(store, old_slot == DS_ANCHOR_SLOT_KEEP || (old_slot >= -1 && old_slot <= 3),
         "job_advance: old slot %d out of range", (int)old_slot);
    NEED(store, now > 0 && now <= NOW_MAX, "job_advance: bad time");
    return JOBS(store)->advance(store, id, from_step, to_step, old_slot, now);
}

ds_status ds_job_get(ds_store *store, int64_t id, ds_job *out)
{
    ENTER(store);
    NEED(store, id > 0 && out != NULL, "job_get: bad id or NULL output");
    return JOBS(store)->get(store, id, out);
}

ds_status ds_job_open_for_device(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_job *out)
{
    ENTER(store);
    NEED(store, device_id != NULL && out != NULL, "job_open_for_device: NULL argument");
    return JOBS(store)->open_for_device(store, device_id, out);
}

ds_status ds_job_list(ds_store *store, const ds_job_filter *filter, ds_job_cb cb, void *ctx)
{
    ENTER(store);
    NEED(store, cb != NULL, "job_list: NULL callback");
    ds_job_filter f = {0};
    if (filter != NULL)
        f = *filter;
    NEED(store, f.state == DS_JOB_ANY || ds_job_state_name(f.state) != NULL, "job_list: bad state");
    NEED(store, f.campaign_id >= 0, "job_list: bad campaign id");
    NEED(store, f.limit <= (size_t)INT64_MAX && f.offset <= (size_t)INT64_MAX, "job_list: limit/offset");
    return JOBS(store)->list(store, &f, cb, ctx);
}

ds_status ds_job_lease(ds_store *store, int64_t id, const char *owner, int64_t now, int64_t ttl, ds_job *out)
{
    ENTER(store);
    NEED(store, id > 0, "job_lease: bad id");
    NEED(store, owner_ok(owner), "job_lease: owner must be 1..%d printable ASCII bytes", DS_JOB_OWNER_MAX);
    NEED(store, now > 0 && now <= NOW_MAX, "job_lease: bad time");
    NEED(store, ttl >= 1 && ttl <= DS_JOB_TTL_MAX, "job_lease: ttl must be 1..%d s", DS_JOB_TTL_MAX);
    ds_job tmp;
    return JOBS(store)->lease(store, id, owner, now, ttl, out != NULL ? out : &tmp);
}

ds_status ds_job_claim(ds_store *store, int64_t campaign_id, const char *owner, int64_t now, int64_t ttl,
                       size_t n, ds_job_cb cb, void *ctx)
{
    ENTER(store);
    NEED(store, campaign_id >= 0, "job_claim: bad campaign id");
    NEED(store, owner_ok(owner), "job_claim: owner must be 1..%d printable ASCII bytes", DS_JOB_OWNER_MAX);
    NEED(store, now > 0 && now <= NOW_MAX, "job_claim: bad time");
    NEED(store, ttl >= 1 && ttl <= DS_JOB_TTL_MAX, "job_claim: ttl must be 1..%d s", DS_JOB_TTL_MAX);
    NEED(store, n >= 1 && n <= DS_JOB_CLAIM_MAX, "job_claim: n must be 1..%d", DS_JOB_CLAIM_MAX);
    ds_job *jobs = ds_calloc(n, sizeof *jobs);
    if (jobs == NULL)
        return ds_store_fail(store, DS_E_NOMEM, "job_claim: out of memory");
    size_t got = 0;
    ds_status st = JOBS(store)->claim(store, campaign_id, owner, now, ttl, n, jobs, &got);
    /* The leases are committed: the callbacks run outside the transaction. */
    for (size_t i = 0; st == DS_OK && cb != NULL && i < got; i++) {
        if (cb(&jobs[i], ctx) != 0)
            break;
    }
    ds_free(jobs);
    return st;
}

ds_status ds_job_release(ds_store *store, int64_t id, const char *owner)
{
    ENTER(store);
    NEED(store, id > 0, "job_release: bad id");
    NEED(store, owner_ok(owner), "job_release: owner must be 1..%d printable ASCII bytes", DS_JOB_OWNER_MAX);
    return JOBS(store)->release(store, id, owner);
}

ds_status ds_job_issue(ds_store *store, int64_t id, const char *owner, uint64_t from_epoch,
                       const uint8_t new_pub[DS_DRK_PUB_LEN], const uint8_t nonce[DS_NONCE_LEN],
                       const uint8_t tbs[DS_DIGEST_LEN], int64_t now)
{
    ENTER(store);
    NEED(store, id > 0, "job_issue: bad id");
    NEED(store, owner_ok(owner), "job_issue: owner must be 1..%d printable ASCII bytes", DS_JOB_OWNER_MAX);
    NEED(store, from_epoch < DS_EPOCH_MAX, "job_issue: epoch out of range");
    NEED(store, new_pub != NULL && new_pub[0] == 0x04, "job_issue: new key is not uncompressed SEC1");
    NEED(store, nonce != NULL && tbs != NULL, "job_issue: NULL nonce or digest");
    NEED(store, now > 0 && now <= NOW_MAX, "job_issue: bad time");
    return JOBS(store)->issue(store, id, owner, from_epoch, new_pub, nonce, tbs, now);
}

ds_status ds_job_complete(ds_store *store, int64_t id, const uint8_t new_pub[DS_DRK_PUB_LEN],
                          uint64_t new_epoch, int64_t now)
{
    ENTER(store);
    NEED(store, id > 0, "job_complete: bad id");
    NEED(store, new_pub != NULL && new_pub[0] == 0x04, "job_complete: new key is not uncompressed SEC1");
    NEED(store, new_epoch <= DS_EPOCH_MAX, "job_complete: epoch out of range");
    NEED(store, now > 0 && now <= NOW_MAX, "job_complete: bad time");
    uint8_t inst[DS_INSTANCE_ID_LEN];
    ds_status st = ds_instance_id(new_pub, inst);
    if (st != DS_OK)
        return ds_store_fail(store, st, "job_complete: cannot hash key");
    return JOBS(store)->complete(store, id, new_pub, inst, new_epoch, now);
}

ds_status ds_job_retry(ds_store *store, int64_t id, const char *why, int64_t now)
{
    ENTER(store);
    NEED(store, id > 0, "job_retry: bad id");
    NEED(store, why_ok(why), "job_retry: reason longer than %d bytes", DS_JOB_ERROR_MAX);
    NEED(store, now > 0 && now <= NOW_MAX, "job_retry: bad time");
    return JOBS(store)->retry(store, id, why == NULL ? "" : why, now);
}

static ds_status job_end(ds_store *store, int64_t id, ds_job_state to, const char *why, int64_t now)
{
    ENTER(store);
    NEED(store, id > 0, "job_%s: bad id", to == DS_JOB_FAILED ? "fail" : "cancel");
    NEED(store, why_ok(why), "job_%s: reason longer than %d bytes", to == DS_JOB_FAILED ? "fail" : "cancel",
         DS_JOB_ERROR_MAX);
    NEED(store, now > 0 && now <= NOW_MAX, "job_%s: bad time", to == DS_JOB_FAILED ? "fail" : "cancel");
    return JOBS(store)->end(store, id, to, why == NULL ? "" : why, now);
}

ds_status ds_job_fail(ds_store *store, int64_t id, const char *why, int64_t now)
{
    return job_end(store, id, DS_JOB_FAILED, why, now);
}

ds_status ds_job_cancel(ds_store *store, int64_t id, const char *why, int64_t now)
{
    return job_end(store, id, DS_JOB_CANCELLED, why, now);
}

ds_status ds_campaign_create(ds_store *store, const char *class_name, ds_job_kind kind, ds_job_mode mode,
                             uint32_t max_parallel, uint32_t fail_threshold, uint32_t max_attempts,
                             int64_t now, int64_t *id_out, size_t *n_jobs)
{
    ENTER(store);
    NEED(store, ds_class_name_ok(class_name), "campaign_create: bad class name");
    NEED(store, ds_job_kind_name(kind) != NULL, "campaign_create: bad kind %d", (int)kind);
    NEED(store, kind != DS_JOB_ROTATE_ANCHOR, "campaign_create: campaigns do not rotate trust anchors");
    NEED(store, ds_job_mode_name(mode) != NULL, "campaign_create: bad mode %d", (int)mode);
    NEED(store, max_parallel >= 1 && max_parallel <= DS_CAMPAIGN_PAR_MAX,
         "campaign_create: max_parallel must be 1..%d", DS_CAMPAIGN_PAR_MAX);
    NEED(store, fail_threshold <= INT32_MAX, "campaign_create: fail_threshold out of range");
    NEED(store, max_attempts >= 1 && max_attempts <= DS_JOB_ATTEMPTS_MAX,
         "campaign_create: max_attempts must be 1..%d", DS_JOB_ATTEMPTS_MAX);
    NEED(store, now > 0 && now <= NOW_MAX, "campaign_create: bad time");
    if (n_jobs != NULL)
        *n_jobs = 0;
    return JOBS(store)->campaign_create(store, class_name, kind, mode, max_parallel, fail_threshold,
                                        max_attempts, now, id_out, n_jobs);
}

ds_status ds_campaign_get(ds_store *store, int64_t id, ds_campaign *out)
{
    ENTER(store);
    NEED(store, id > 0 && out != NULL, "campaign_get: bad id or NULL output");
    return JOBS(store)->campaign_get(store, id, out);
}

ds_status ds_campaign_list(ds_store *store, const ds_campaign_filter *filter, ds_campaign_cb cb, void *ctx)
{
    ENTER(store);
    NEED(store, cb != NULL, "campaign_list: NULL callback");
    ds_campaign_filter f = {0};
    if (filter != NULL)
        f = *filter;
    NEED(store, f.class_name == NULL || ds_class_name_ok(f.class_name), "campaign_list: bad class name");
    NEED(store, f.state == DS_CAMPAIGN_ANY || ds_campaign_state_name(f.state) != NULL,
         "campaign_list: bad state");
    NEED(store, f.limit <= (size_t)INT64_MAX && f.offset <= (size_t)INT64_MAX, "campaign_list: limit/offset");
    return JOBS(store)->campaign_list(store, &f, cb, ctx);
}

ds_status ds_campaign_set_state(ds_store *store, int64_t id, ds_campaign_state to, const char *why,
                                int64_t now)
{
    ENTER(store);
    NEED(store, id > 0, "campaign_set_state: bad id");
    NEED(store, ds_campaign_state_name(to) != NULL, "campaign_set_state: bad state %d", (int)to);
    NEED(store, why_ok(why), "campaign_set_state: reason longer than %d bytes", DS_JOB_ERROR_MAX);
    NEED(store, now > 0 && now <= NOW_MAX, "campaign_set_state: bad time");
    return JOBS(store)->campaign_set_state(store, id, to, why == NULL ? "" : why, now);
}
