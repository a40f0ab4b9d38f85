/*
 * store.c — the backend-neutral half of the storage layer: URL parsing,
 * argument validation, the device state machine, and dispatch through the
 * backend's operations table. Backends trust what arrives from here, so
 * every check on caller input lives in this file, once.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drot_crypto.h"
#include "store_internal.h"

/* ---- small shared helpers ------------------------------------------------ */

void *ds_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        return NULL;
    return calloc(n, size);
}

void ds_free(void *p)
{
    free(p);
}

void ds_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void ds_copy_text(char *dst, size_t cap, const char *src, size_t src_len)
{
    if (cap == 0)
        return;
    if (src == NULL)
        src_len = 0;
    if (src_len > cap - 1)
        src_len = cap - 1;
    if (src_len > 0)
        memcpy(dst, src, src_len);
    dst[src_len] = '\0';
}

ds_status ds_store_fail(ds_store *s, ds_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return st;
}

int64_t ds_store_now(void)
{
    return (int64_t)time(NULL);
}

const char *ds_status_str(ds_status st)
{
    switch (st) {
    case DS_OK: return "ok";
    case DS_E_ARG: return "bad argument";
    case DS_E_NOT_FOUND: return "not found";
    case DS_E_EXISTS: return "already exists";
    case DS_E_EXPIRED: return "expired";
    case DS_E_CONFLICT: return "conflicts with stored state";
    case DS_E_BUSY: return "database busy, retry";
    case DS_E_DB: return "database error";
    case DS_E_SCHEMA: return "schema error";
    case DS_E_NOMEM: return "out of memory";
    case DS_E_CORRUPT: return "integrity violation";
    }
    return "unknown status";
}

/* ---- names and the state machine ------------------------------------------ */

static const char *const status_names[] = {NULL,          "registered", "enrolled",      "active",
                                           "quarantined", "revoked",    "decommissioned"};
static const char *const result_names[] = {NULL, "PASS", "WARN", "FAIL"};

const char *ds_device_status_name(ds_device_status s)
{
    if (s < DS_DEV_REGISTERED || s > DS_DEV_DECOMMISSIONED)
        return NULL;
    return status_names[s];
}

const char *ds_result_name(ds_result r)
{
    if (r < DS_RESULT_PASS || r > DS_RESULT_FAIL)
        return NULL;
    return result_names[r];
}

ds_status ds_device_status_parse(const char *name, ds_device_status *out)
{
    if (name == NULL || out == NULL)
        return DS_E_ARG;
    for (int i = DS_DEV_REGISTERED; i <= DS_DEV_DECOMMISSIONED; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (ds_device_status)i;
            return DS_OK;
        }
    }
    return DS_E_ARG;
}

const char *ds_att_action_name(ds_att_action a)
{
    switch (a) {
    case DS_ACTION_NONE: return "";
    case DS_ACTION_QUARANTINED: return "quarantined";
    }
    return NULL;
}

ds_status ds_att_action_parse(const char *name, ds_att_action *out)
{
    if (name == NULL || out == NULL)
        return DS_E_ARG;
    for (int i = DS_ACTION_NONE; i <= DS_ACTION_QUARANTINED; i++) {
        if (strcmp(name, ds_att_action_name((ds_att_action)i)) == 0) {
            *out = (ds_att_action)i;
            return DS_OK;
        }
    }
    return DS_E_ARG;
}

ds_status ds_result_parse(const char *name, ds_result *out)
{
    if (name == NULL || out == NULL)
        return DS_E_ARG;
    for (int i = DS_RESULT_PASS; i <= DS_RESULT_FAIL; i++) {
        if (strcmp(name, result_names[i]) == 0) {
            *out = (ds_result)i;
            return DS_OK;
        }
    }
    return DS_E_ARG;
}

/* Allowed targets per state, as a bit mask over ds_device_status values; the
 * diagram is in store.h. Kept as data so the table and the doc match 1:1. */
#define BIT(s) (1u << (s))
static const unsigned transitions[] = {
    [DS_DEV_REGISTERED] =
        BIT(DS_DEV_ENROLLED) | BIT(DS_DEV_QUARANTINED) | BIT(DS_DEV_REVOKED) | BIT(DS_DEV_DECOMMISSIONED),
    [DS_DEV_ENROLLED] =
        BIT(DS_DEV_ACTIVE) | BIT(DS_DEV_QUARANTINED) | BIT(DS_DEV_REVOKED) | BIT(DS_DEV_DECOMMISSIONED),
    [DS_DEV_ACTIVE] = BIT(DS_DEV_QUARANTINED) | BIT(DS_DEV_REVOKED) | BIT(DS_DEV_DECOMMISSIONED),
    [DS_DEV_QUARANTINED] = BIT(DS_DEV_ACTIVE) | BIT(DS_DEV_REVOKED) | BIT(DS_DEV_DECOMMISSIONED),
    [DS_DEV_REVOKED] = BIT(DS_DEV_DECOMMISSIONED),
    [DS_DEV_DECOMMISSIONED] = 0,
};

bool ds_device_transition_allowed(ds_device_status from, ds_device_status to)
{
    if (ds_device_status_name(from) == NULL || ds_device_status_name(to) == NULL)
        return false;
    if (from == to)
        return true;
    return (transitions[from] & BIT(to)) != 0;
}

ds_status ds_instance_id(const uint8_t drk_pub[DS_DRK_PUB_LEN], uint8_t out[DS_INSTANCE_ID_LEN])
{
    if (drk_pub == NULL || out == NULL)
        return DS_E_ARG;
    out[0] = 0x01;
    return drot_sha256(drk_pub, DS_DRK_PUB_LEN, out + 1) == DROT_OK ? DS_OK : DS_E_ARG;
}

/* ---- validation ------------------------------------------------------------ */

static bool class_ok(const char *c)
{
    if (c == NULL)
        return false;
    size_t n = strlen(c);
    if (n == 0 || n > DS_CLASS_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* see store_internal.h */
bool ds_class_name_ok(const char *c)
{
    return class_ok(c);
}

static bool drk_ok(const uint8_t *pub)
{
    return pub != NULL && pub[0] == 0x04;
}

static bool reason_ok(const char *r)
{
    return r == NULL || strnlen(r, DS_REASON_MAX + 1) <= DS_REASON_MAX;
}

#define NEED(s, cond, ...)                                                                                   \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            return ds_store_fail((s), DS_E_ARG, __VA_ARGS__);                                                \
    } while (0)

/* ---- open / close ---------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        ds_copy_text(err, errlen, msg, strlen(msg));
}

ds_status ds_store_open(const char *url, ds_store **out, char *err, size_t errlen)
{
    if (out != NULL)
        *out = NULL;
    if (url == NULL || out == NULL) {
        set_err(err, errlen, "ds_store_open: NULL url or out");
        return DS_E_ARG;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (*path == '\0') {
            set_err(err, errlen, "sqlite URL has no path (expected sqlite:PATH)");
            return DS_E_ARG;
        }
        return ds_store_sqlite_open(path, out, err, errlen);
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return ds_store_pg_open(url, out, err, errlen);
    set_err(err, errlen, "unknown database URL scheme (expected sqlite:PATH, postgresql:// or postgres://)");
    return DS_E_ARG;
}

void ds_store_close(ds_store *store)
{
    if (store != NULL)
        store->ops->close(store);
}

const char *ds_store_error(const ds_store *store)
{
    return store == NULL ? "no store" : store->err;
}

const char *ds_store_backend(const ds_store *store)
{
    return store == NULL ? "none" : store->ops->name;
}

/* ---- schema ------------------------------------------------------------------ */

static void backend_migrations(const ds_store *s, const ds_migration **m, size_t *n)
{
    if (strcmp(s->ops->name, "sqlite") == 0) {
        *m = ds_migrations_sqlite;
        *n = ds_migrations_sqlite_count;
    } else {
        *m = ds_migrations_postgres;
        *n = ds_migrations_postgres_count;
    }
}

int ds_store_latest_version(void)
{
    /* The generator refuses to build unless both backends have the same
     * version list, so either table answers. */
    return ds_migrations_sqlite_count == 0 ? 0 : ds_migrations_sqlite[ds_migrations_sqlite_count - 1].version;
}

ds_status ds_store_migrate(ds_store *store, int *version_out)
{
    if (store == NULL)
        return DS_E_ARG;
    const ds_migration *m;
    size_t n;
    backend_migrations(store, &m, &n);
    store->err[0] = '\0';
    return store->ops->migrate(store, m, n, ds_store_now(), version_out);
}

ds_status ds_store_schema_version(ds_store *store, int *version_out)
{
    if (store == NULL)
        return DS_E_ARG;
    NEED(store, version_out != NULL, "schema_version: NULL output");
    store->err[0] = '\0';
    return store->ops->schema_version(store, version_out);
}

ds_status ds_check_verdict(ds_store *s, const int64_t counts[DS_CHECK_COLS])
{
    static const char *const what[DS_CHECK_COLS] = {
        "attestation rows without a device",
        "key-history rows without a device",
        "status-log rows without a device",
        "challenges bound to a missing device",
        "devices whose attest_count/last_attest_at/last_result disagree with their attestation rows",
        "devices with more than one open rotation job",
        "issued rotation jobs without key, nonce or digest",
        "rotation jobs whose attempts disagree with max_attempts or their state",
        "running campaigns with more issued jobs than max_parallel",
        "campaign jobs whose device class, kind or mode differ from their campaign's"};
    for (int i = 0; i < DS_CHECK_COLS; i++) {
        if (counts[i] != 0)
            return ds_store_fail(s, DS_E_CORRUPT, "%lld %s", (long long)counts[i], what[i]);
    }
    return DS_OK;
}

ds_status ds_store_check(ds_store *store)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    return store->ops->check(store);
}

/* ---- devices ------------------------------------------------------------------- */

#define DS_BULK_MAX 100000u

ds_status ds_device_register_bulk(ds_store *store, const ds_device_new *devs, size_t n, size_t *dup_index)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, devs != NULL && n > 0 && n <= DS_BULK_MAX, "register_bulk: need 1..%u devices", DS_BULK_MAX);
    for (size_t i = 0; i < n; i++) {
        NEED(store, class_ok(devs[i].class_name), "register_bulk: device %zu: bad class name", i);
        NEED(store, drk_ok(devs[i].drk_pub), "register_bulk: device %zu: DRK is not uncompressed SEC1", i);
        NEED(store, devs[i].epoch <= DS_EPOCH_MAX, "register_bulk: device %zu: epoch out of range", i);
    }
    /* Instance ids are derived here, once, so both backends store the same
     * value and lookups by instance id need no hashing in SQL. */
    uint8_t(*inst)[DS_INSTANCE_ID_LEN] = ds_calloc(n, sizeof *inst);
    if (inst == NULL)
        return ds_store_fail(store, DS_E_NOMEM, "register_bulk: out of memory");
    ds_status st = DS_OK;
    for (size_t i = 0; i < n && st == DS_OK; i++)
        st = ds_instance_id(devs[i].drk_pub, inst[i]);
    if (st == DS_OK)
        st = store->ops->device_register_bulk(store, devs, (const uint8_t(*)[DS_INSTANCE_ID_LEN])inst, n,
                                              ds_store_now(), dup_index);
    ds_free(inst);
    return st;
}

ds_status ds_device_get(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_device *out)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, device_id != NULL && out != NULL, "device_get: NULL argument");
    return store->ops->device_get(store, device_id, false, out);
}

ds_status ds_device_get_by_instance(ds_store *store, const uint8_t instance_id[DS_INSTANCE_ID_LEN],
                                    ds_device *out)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, instance_id != NULL && out != NULL, "device_get_by_instance: NULL argument");
    NEED(store, instance_id[0] == 0x01, "device_get_by_instance: instance id must start with 0x01");
    return store->ops->device_get(store, instance_id, true, out);
}

ds_status ds_device_list(ds_store *store, const ds_device_filter *filter, ds_device_cb cb, void *ctx)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, cb != NULL, "device_list: NULL callback");
    ds_device_filter f = {0};
    if (filter != NULL)
        f = *filter;
    NEED(store, f.class_name == NULL || class_ok(f.class_name), "device_list: bad class name");
    NEED(store, f.status == DS_DEV_ANY || ds_device_status_name(f.status) != NULL, "device_list: bad status");
    NEED(store, f.limit <= (size_t)INT64_MAX && f.offset <= (size_t)INT64_MAX, "device_list: limit/offset");
    return store->ops->device_list(store, &f, cb, ctx);
}

ds_status ds_device_set_status(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN],
                               ds_device_status to, const char *reason)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, device_id != NULL, "set_status: NULL device id");
    NEED(store, ds_device_status_name(to) != NULL, "set_status: bad target status %d", (int)to);
    NEED(store, reason_ok(reason), "set_status: reason longer than %d bytes", DS_REASON_MAX);
    return store->ops->device_set_status(store, device_id, to, reason == NULL ? "" : reason, ds_store_now());
}

ds_status ds_device_set_key(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN],
                            const uint8_t new_pub[DS_DRK_PUB_LEN], uint64_t new_epoch)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, device_id != NULL, "set_key: NULL device id");
    NEED(store, drk_ok(new_pub), "set_key: DRK is not uncompressed SEC1");
    NEED(store, new_epoch <= DS_EPOCH_MAX, "set_key: epoch out of range");
    uint8_t inst[DS_INSTANCE_ID_LEN];
    ds_status st = ds_instance_id(new_pub, inst);
    if (st != DS_OK)
        return ds_store_fail(store, st, "set_key: cannot hash key");
    return store->ops->device_set_key(store, device_id, new_pub, inst, new_epoch, ds_store_now());
}

ds_status ds_device_key_history(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], ds_key_cb cb,
                                void *ctx)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, device_id != NULL && cb != NULL, "key_history: NULL argument");
    return store->ops->device_key_history(store, device_id, cb, ctx);
}

/* ---- challenges ------------------------------------------------------------------- */

ds_status ds_challenge_issue(ds_store *store, const uint8_t challenge[DS_CHALLENGE_LEN],
                             const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t expires_at)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, challenge != NULL, "challenge_issue: NULL challenge");
    int64_t now = ds_store_now();
    NEED(store, expires_at > 0, "challenge_issue: expiry must be a positive unix time");
    return store->ops->challenge_issue(store, challenge, device_id, now, expires_at);
}

ds_status ds_challenge_consume(ds_store *store, const uint8_t challenge[DS_CHALLENGE_LEN], int64_t now,
                               uint8_t device_id_out[DS_DEVICE_ID_LEN], bool *bound_out)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, challenge != NULL, "challenge_consume: NULL challenge");
    if (device_id_out != NULL)
        memset(device_id_out, 0, DS_DEVICE_ID_LEN);
    if (bound_out != NULL)
        *bound_out = false;
    return store->ops->challenge_consume(store, challenge, now, device_id_out, bound_out);
}

ds_status ds_challenge_purge_expired(ds_store *store, int64_t now, uint64_t *purged)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    if (purged != NULL)
        *purged = 0;
    return store->ops->challenge_purge_expired(store, now, purged);
}

/* ---- attestations ------------------------------------------------------------------ */

ds_status ds_attestation_record(ds_store *store, const ds_attestation *att, int64_t *id_out)
{
    ds_attest_outcome out;
    ds_status st = ds_attestation_record_update(store, att, NULL, &out);
    if (st == DS_OK && id_out != NULL)
        *id_out = out.id;
    return st;
}

ds_status ds_attestation_record_update(ds_store *store, const ds_attestation *att,
                                       const ds_attest_update *upd, ds_attest_outcome *out)
{
    static const ds_attest_update none;
    ds_attest_outcome tmp;
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    if (out == NULL)
        out = &tmp;
    memset(out, 0, sizeof *out);
    if (upd == NULL)
        upd = &none;
    NEED(store, att != NULL, "attestation_record: NULL record");
    NEED(store, ds_result_name(att->result) != NULL, "attestation_record: result must be PASS, WARN or FAIL");
    NEED(store, reason_ok(att->reasons), "attestation_record: reasons longer than %d bytes", DS_REASON_MAX);
    NEED(store, att->token_len <= DS_TOKEN_MAX, "attestation_record: token longer than %d bytes",
         DS_TOKEN_MAX);
    NEED(store, att->token != NULL || att->token_len == 0, "attestation_record: NULL token with a length");
    NEED(store, att->at > 0, "attestation_record: time must be a positive unix time");
    NEED(store, !upd->set_tamper_count || upd->tamper_count <= DS_TAMPER_COUNT_MAX,
         "attestation_record: tamper count out of range");
    NEED(store, reason_ok(upd->reason), "attestation_record: status reason longer than %d bytes",
         DS_REASON_MAX);
    ds_attestation a = *att;
    if (a.reasons == NULL)
        a.reasons = "";
    a.action = DS_ACTION_NONE;
    ds_attest_update u = *upd;
    if (u.reason == NULL)
        u.reason = "";
    return store->ops->attestation_record(store, &a, &u, ds_store_now(), out);
}

ds_status ds_attestation_list(ds_store *store, const uint8_t device_id[DS_DEVICE_ID_LEN], size_t limit,
                              ds_attestation_cb cb, void *ctx)
{
    if (store == NULL)
        return DS_E_ARG;
    store->err[0] = '\0';
    NEED(store, device_id != NULL && cb != NULL, "attestation_list: NULL argument");
    NEED(store, limit <= (size_t)INT64_MAX, "attestation_list: limit out of range");
    return store->ops->attestation_list(store, device_id, limit, cb, ctx);
}
