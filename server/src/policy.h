/*
 * policy.h — the policy document of a device class (DESIGN.md §6, issue 7):
 * one versioned JSON document per class says what the class's devices must
 * run and report (reference values, wanted firmware), how often they attest
 * and how many attestations they may miss, how old their root keys may get,
 * and what the server does when one of them fails, is tampered with or goes
 * silent. docs/policy.md describes every field with a complete example per
 * action; this header is the parser's contract.
 *
 *   {
 *     "class": "sim-v1",                      required; 1..64 of [A-Za-z0-9._-], not starting with "."
 *     "version": 3,                           required; 1..2^53-1 (above the live one at apply)
 *     "reference": { … },                     required; reference.h's format: "class" optional
 *                                             (must then be the same), no "on_fail"
 *     "firmware": {                           optional; 0..DS_POL_MAX_FIRMWARE components
 *       "<component>": {"version": "1.1",      required, dotted numeric
 *                       "max_in_flight": 2}    required, 1..DS_POL_MAX_PARALLEL
 *     },
 *     "attestation": {"interval_s": 60,       required, 1..DS_POL_MAX_INTERVAL
 *                     "missed_limit": 3},     required, 1..DS_POL_MAX_MISSED
 *     "keys": {"max_age_days": 365,           required, 1..DS_POL_MAX_AGE_DAYS
 *              "rotation_mode": "server",     "server" (default) or "device"
 *              "max_parallel": 2},            1..DS_POL_MAX_PARALLEL (default 1)
 *     "actions": {"on_fail":   [ACTION…],     each optional, 0..DS_POL_MAX_ACTIONS, no repeats
 *                 "on_tamper": [ACTION…],
 *                 "on_missed": [ACTION…]},
 *     "webhooks": {                           optional; 0..DS_POL_MAX_WEBHOOKS
 *       "<name>": {"url": "https://…",        required; https://, or http:// to 127.0.0.1,
 *                                             [::1] or localhost only
 *                  "secret_file": "/etc/…",   required; absolute path on each server
 *                  "max_attempts": 5,         1..DS_POL_MAX_ATTEMPTS (default 5)
 *                  "backoff_s": 10}           1..DS_POL_MAX_BACKOFF (default 10)
 *     }
 *   }
 *
 *   ACTION = "quarantine" | "revoke" | "rotate" | "update"
 *          | {"quarantine": {}} | {"revoke": {}} | {"rotate": {}} | {"update": {}}
 *          | {"notify": {"webhook": "<name in /webhooks>"}}
 *
 * Every field not listed is refused. "update" needs a non-empty /firmware.
 *
 * Errors: the parser does not stop at the first one. Each error names its
 * field as a JSON pointer (RFC 6901) and goes to the caller's callback, in
 * document order: "/attestation/interval_s: must be 1..604800",
 * "/actions/on_fail/1/notify/webhook: no webhook \"ops\" in /webhooks". A
 * key repeated in any object is an error of its own ("/firmware/APM: named
 * twice"), found by a scan of the text, since a JSON library keeps only one
 * of the two values.
 */
#ifndef DS_POLICY_H
#define DS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reference.h"

#define DS_POL_MAX_JSON     (256 * 1024) /* larger documents are refused unparsed */
#define DS_POL_MAX_NAME     64           /* class, component, webhook name, version text */
#define DS_POL_MAX_FIRMWARE 8
#define DS_POL_MAX_WEBHOOKS 8
#define DS_POL_MAX_ACTIONS  8
#define DS_POL_MAX_URL      512
#define DS_POL_MAX_PATH     255
#define DS_POL_MAX_VERSION  9007199254740991LL /* 2^53 - 1: exact in every JSON reader */
#define DS_POL_MAX_INTERVAL 604800             /* a week */
#define DS_POL_MAX_MISSED   1000
#define DS_POL_MAX_AGE_DAYS 36500
#define DS_POL_MAX_PARALLEL 100000
#define DS_POL_MAX_ATTEMPTS 100
#define DS_POL_MAX_BACKOFF  86400
#define DS_POL_DEF_ATTEMPTS 5
#define DS_POL_DEF_BACKOFF  10

/* What the server does to a device (docs/policy.md "Actions"). Zero is none. */
typedef enum ds_pol_action_kind {
    DS_POL_QUARANTINE = 1, /* status → quarantined */
    DS_POL_REVOKE = 2,     /* status → revoked (terminal but for decommissioned) */
    DS_POL_NOTIFY = 3,     /* a signed webhook event (webhook.h) */
    DS_POL_ROTATE = 4,     /* a root-key rotation job (keys.rotation_mode) */
    DS_POL_UPDATE = 5,     /* the firmware section's rollouts */
} ds_pol_action_kind;

/* The events that trigger actions. */
typedef enum ds_pol_trigger {
    DS_POL_ON_FAIL = 0,   /* an attestation recorded FAIL */
    DS_POL_ON_TAMPER = 1, /* … whose FAIL reasons include a tamper reason */
    DS_POL_ON_MISSED = 2, /* the device missed missed_limit attestations: stale */
    DS_POL_TRIGGERS = 3,
} ds_pol_trigger;

typedef struct ds_pol_action {
    ds_pol_action_kind kind;
    char webhook[DS_POL_MAX_NAME + 1]; /* DS_POL_NOTIFY: the webhook's name */
} ds_pol_action;

typedef struct ds_pol_firmware {
    char component[DS_POL_MAX_NAME + 1];
    char version[DS_POL_MAX_NAME + 1]; /* dotted numeric */
    uint32_t max_in_flight;
} ds_pol_firmware;

typedef struct ds_pol_webhook {
    char name[DS_POL_MAX_NAME + 1];
    char url[DS_POL_MAX_URL + 1];
    char secret_file[DS_POL_MAX_PATH + 1];
    uint32_t max_attempts;
    uint32_t backoff_s;
} ds_pol_webhook;

typedef struct ds_policy {
    char class_name[DS_POL_MAX_NAME + 1];
    int64_t version;
    ds_reference reference; /* reference.on_fail is always none: actions say it */
    size_t n_firmware;
    ds_pol_firmware firmware[DS_POL_MAX_FIRMWARE];
    bool has_attestation; /* absent: the server's --attest-interval, no staleness */
    uint32_t interval_s;
    uint32_t missed_limit;
    bool has_keys; /* absent: no rotation by key age */
    uint32_t max_age_days;
    int rotation_mode; /* 1 server, 2 device (the values of ds_job_mode) */
    uint32_t max_parallel;
    size_t n_actions[DS_POL_TRIGGERS];
    ds_pol_action actions[DS_POL_TRIGGERS][DS_POL_MAX_ACTIONS];
    size_t n_webhooks;
    ds_pol_webhook webhooks[DS_POL_MAX_WEBHOOKS];
} ds_policy;

/*
 * Parses and validates json[0..len) (need not be NUL-terminated) into *out
 * (which may be NULL to validate only). Returns the number of errors: 0
 * when the document is valid, and then *out holds it; otherwise *out is
 * zeroed and on_error (may be NULL) was called once per error. A document
 * over DS_POL_MAX_JSON bytes, or that is not JSON, is one error at "/".
 */
size_t ds_policy_parse(const char *json, size_t len, ds_policy *out, ds_ref_error_fn on_error, void *ctx);

/* Names as written in the document ("quarantine", "on_fail", …); "?" if out of range. */
const char *ds_pol_action_name(ds_pol_action_kind k);
const char *ds_pol_trigger_name(ds_pol_trigger t);

/* The webhook of that name, or NULL. */
const ds_pol_webhook *ds_policy_webhook(const ds_policy *p, const char *name);

/* A class name as the store and the policy accept it. */
bool ds_policy_class_ok(const char *s);

/* The seconds after the last attestation at which a device of this policy
 * is stale: interval_s × missed_limit + grace, grace = interval_s / 10
 * clamped to 1..60 s. 0 when the policy has no attestation section. */
int64_t ds_policy_stale_after(const ds_policy *p);

#endif /* DS_POLICY_H */
