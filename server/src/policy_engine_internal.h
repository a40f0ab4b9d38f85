/*
 * policy_engine_internal.h — what the policy engine's files share
 * (policy_engine.c, policy_attest.c, policy_plan.c). Not for use elsewhere.
 */
#ifndef DS_POLICY_ENGINE_INTERNAL_H
#define DS_POLICY_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy.h"
#include "policy_engine.h"
#include "store.h"

#define DS_POL_JOB_ATTEMPTS 3 /* max_attempts of the rotation jobs the engine creates */

/* Version `version` of cls's policy, parsed, as a malloc'ed copy. */
ds_status ds_pol_load_version(ds_store *s, const char *cls, int64_t version, ds_policy **out, char *err,
                              size_t errlen);

/* Queues a signed event for webhook `name` of policy p (ds_wh_enqueue): its
 * JSON body {event, delivery_id, device_id, class, policy_version, reasons,
 * at, …extra's members}. extra (may be NULL) is borrowed. result receives
 * "delivery <id> queued" or why not. Runs inside the caller's transaction
 * when there is one. */
ds_status ds_pol_notify(ds_store *s, const ds_policy *p, const char *name, const char *event,
                        const uint8_t *device_id, const char *reasons, int64_t at, json_t *extra,
                        char *result, size_t cap);

/* The rotations by key age that policy p asks for now (ds_pol_key_age_due):
 * each is appended to actions as {"action": "rotate", "device_id",
 * "key_since", "mode"}. With apply, each is carried out (the class's policy
 * campaign with keys.max_parallel, ds_pol_campaign_ensure, then a job per
 * device) and recorded as a policy action with cause; the entry then also
 * has "job_id", "campaign_id" or "error". *n (may be NULL) gets the count. */
ds_status ds_pol_key_rotations(ds_store *s, const ds_policy *p, bool apply, const char *cause, int64_t now,
                               json_t *actions, size_t *n);

#endif
