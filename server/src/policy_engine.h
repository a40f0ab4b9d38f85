/*
 * policy_engine.h — the policy engine of drot-server (DESIGN.md §6,
 * docs/policy.md): the live policy of each class, read from the database
 * and cached by version; what an attestation triggers (on_fail, on_tamper);
 * the background worker that marks silent devices stale and runs on_missed,
 * carries out pending actions and delivers webhooks; and plan / apply.
 *
 *   attestation (a worker thread, routes.c)            background worker (one thread)
 *   ──────────────────────────────────────             ───────────────────────────────
 *   ds_pol_attest_begin: live policy → reference       every tick (1 s) or when kicked:
 *   ds_pol_attest_decide: quarantine? + in_tx hook       1. per class: mark stale (P2) and
 *     in the attestation's transaction:                     write the episode's on_missed actions
 *       failed flag, revoke, notify (queued),            2. per class with keys: rotations by key age
 *       rotate / update (pending actions)                3. pending actions (claimed, leased)
 *   ds_pol_attest_end: "action: …" reasons, kick         4. due webhook deliveries (webhook.h)
 *
 * Invariants:
 *   E1. Every server reads the live version from the database on every
 *       attestation; a cached parse is used only for that exact version, so
 *       servers sharing a database never verify against different policies
 *       for longer than one attestation.
 *   E2. What an attestation FAIL triggers is written in the transaction that
 *       records it: the failed flag, a revoke, the quarantine (store.h
 *       invariant 3), queued webhook events, and the pending rotate/update
 *       actions that the worker then carries out.
 *   E3. Only a FAIL that is the device's own (routes.h R5: on its mTLS
 *       connection, or fresh evidence) triggers actions or sets failed.
 *   E4. plan and apply compute the fleet's changes with the same code;
 *       apply then carries out exactly the actions plan lists.
 */
#ifndef DS_POLICY_ENGINE_H
#define DS_POLICY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy.h"
#include "reference.h"
#include "routes_verify.h"
#include "store.h"

typedef struct ds_pol_engine ds_pol_engine;

/* A new engine for the database at db_url (the worker opens its own
 * connection there). owner names this server in leases ("host:port");
 * default_interval is --attest-interval. NULL when out of memory. */
ds_pol_engine *ds_pol_engine_new(const char *db_url, const char *owner, uint64_t default_interval);
/* Starts the background worker; tick_ms 0 = 1000. 0, or -1 with err. */
int ds_pol_engine_start(ds_pol_engine *e, unsigned tick_ms, char *err, size_t errlen);
/* Wakes the worker now (new actions or deliveries are waiting). */
void ds_pol_engine_kick(ds_pol_engine *e);
/* Stops and joins the worker (an attempt in progress finishes first). */
void ds_pol_engine_stop(ds_pol_engine *e);
void ds_pol_engine_free(ds_pol_engine *e);
const char *ds_pol_engine_owner(const ds_pol_engine *e);
uint64_t ds_pol_engine_default_interval(const ds_pol_engine *e);

/* The live policy of cls as a malloc'ed copy (caller frees), or *out NULL
 * when the class has none (E1). DS_E_CORRUPT when the stored document no
 * longer parses (the message names the first error). */
ds_status ds_pol_engine_live(ds_pol_engine *e, ds_store *s, const char *cls, ds_policy **out);

/* Seconds until the next attestation of a device of cls is due: the live
 * policy's interval_s, else default_interval (the attest answer's key 6). */
uint64_t ds_pol_next_due(ds_pol_engine *e, ds_store *s, const char *cls);

/* ---- attestations (routes.c) ---------------------------------------------------- */

typedef struct ds_pol_attest {
    ds_pol_engine *engine; /* NULL: no engine, nothing happens */
    ds_policy *policy;     /* the live policy, or NULL */
    ds_status load;        /* DS_OK, or why the live policy could not be read */
    char load_error[160];
    uint8_t device_id[DS_DEVICE_ID_LEN];
    char class_name[DS_CLASS_MAX + 1];
    ds_device_status status;
    /* decided before recording */
    bool own_fail; /* FAIL and the device's own (E3) */
    bool tamper;   /* ... with a tamper reason */
    size_t n_actions;
    ds_pol_action actions[2 * DS_POL_MAX_ACTIONS];
    ds_pol_trigger causes[2 * DS_POL_MAX_ACTIONS];
    char reasons[DS_REASON_MAX + 1];
    char quarantine_reason[DS_REASON_MAX + 1];
    /* what the transaction did */
    size_t n_done;
    char done[2 * DS_POL_MAX_ACTIONS][DS_CHECK_REASON_MAX];
    bool pending; /* actions left for the worker */
    bool failed_before;
    int64_t failed_at, failed_attestation_id;
} ds_pol_attest;

/* Before verifying: reads the class's live policy (E1). Returns the
 * reference values to verify against: the policy's, or fallback (the
 * --reference values, may be NULL) when the class has none. When the
 * live policy cannot be read, returns NULL: the caller FAILs the token with
 * pa->load_error. */
const ds_reference *ds_pol_attest_begin(ds_pol_attest *pa, ds_pol_engine *e, ds_store *s,
                                        const ds_device *dev, const ds_reference *fallback);
/* After verifying, before recording: decides the actions of a FAIL and
 * sets upd->quarantine/reason and upd->in_tx (E2). own: the FAIL is the
 * device's own (E3). With no policy, upd is left alone. */
void ds_pol_attest_decide(ds_pol_attest *pa, const ds_check *chk, bool own, ds_attest_update *upd);
/* After recording: appends what was done to chk's reasons (where room is
 * left), wakes the worker if actions wait, frees the policy copy. chk NULL:
 * the recording failed (nothing was done); only frees. */
void ds_pol_attest_end(ds_pol_attest *pa, ds_check *chk);

/* ---- plan and apply (admin_policy.c) ---------------------------------------------- */

/*
 * What policy np (parsed from doc) would do to the devices of its class
 * (E4): per device the verdict of its last evidence under the live and the
 * new reference values, the interval, staleness, a failed flag the new
 * values would clear, a rotation due by key age, the wanted firmware; and
 * the list of actions apply carries out. With apply, np is stored (by
 * actor) and those actions are carried out; *out then reports each one's
 * outcome. fallback: the --reference values of the class (may be NULL).
 * Errors: DS_E_CONFLICT (version not above the live one), DS_E_ARG (a
 * webhook secret file this server cannot read; err names the field),
 * others from the store. err holds a message on error.
 */
ds_status ds_pol_plan(ds_pol_engine *e, ds_store *s, const ds_policy *np, const char *doc,
                      const ds_reference *fallback, bool apply, const char *actor, json_t **out, char *err,
                      size_t errlen);

/* Verdict of a stored token under ref, the freshness checks it passed when
 * it was recorded left out (nonce; no tamper-count history): 1 PASS, 2 WARN,
 * 3 FAIL, 0 when it cannot be judged again (no token, or signed by a key
 * that is no longer the device's). reasons (may be NULL) gets the remaining
 * reasons, "; "-separated. */
int ds_pol_reverify(const uint8_t *token, size_t len, const ds_device *dev, const ds_reference *ref,
                    char *reasons, size_t cap);

/* The audit log's actor for what a policy does: "policy:<class>@<version>",
 * or "server" when version is 0 (no policy). */
void ds_pol_actor(const char *cls, int64_t version, char out[160]);

/* Lower-case hex of p[0..n) into out[2n + 1]. */
void ds_pol_hex(const uint8_t *p, size_t n, char *out);

#endif /* DS_POLICY_ENGINE_H */
