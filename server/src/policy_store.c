/*
 * policy_store.c — the policy engine's tables, written once (see
 * policy_store.h and sql.h). Every statement here runs unchanged on SQLite
 * and PostgreSQL; where a step must be one transaction it uses ds_sql_tx or
 * runs inside the caller's (the attestation's) transaction.
 */
#define _POSIX_C_SOURCE 200809L
#include "policy_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "sql.h"
#include "store_internal.h"

#define LIST_DEFAULT 100

static bool text_ok(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

static bool class_ok(const char *s)
{
    if (!text_ok(s, DS_CLASS_MAX))
        return false;
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '-'))
            return false;
    return true;
}

/* ---- the audit log ----------------------------------------------------------------------- */

ds_status ds_pol_audit(ds_store *s, const char *actor, const char *action, const char *subject,
                       json_t *detail)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (detail != NULL && text == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "audit: out of memory");
    ds_status st = ds_audit_append(s, actor, action, subject != NULL ? subject : "", text);
    if (st != DS_OK)
        fprintf(stderr, "drot-server: audit %s %s %s: %s\n", actor, action, subject != NULL ? subject : "",
                ds_store_error(s));
    free(text);
    return st;
}

static void hexid(const uint8_t *id, char out[2 * DS_DEVICE_ID_LEN + 1])
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < DS_DEVICE_ID_LEN; i++) {
        out[2 * i] = d[id[i] >> 4];
        out[2 * i + 1] = d[id[i] & 15];
    }
    out[2 * DS_DEVICE_ID_LEN] = '\0';
}

/* ---- policies ------------------------------------------------------------------------ */

typedef struct put_ctx {
    const char *cls, *doc, *by;
    int64_t version, now;
} put_ctx;

static ds_status put_tx(ds_store *s, void *vctx)
{
    put_ctx *c = vctx;
    char lock[DS_CLASS_MAX + 16];
    snprintf(lock, sizeof lock, "policy:%s", c->cls);
    ds_status st = ds_sql_lock(s, lock);
    int64_t live = 0;
    ds_sql_val a[] = {ds_sql_text(c->cls), ds_sql_int(c->version), ds_sql_text(c->doc), ds_sql_int(c->now),
                      ds_sql_text(c->by)};
    if (st == DS_OK)
        st = ds_sql_int1(s, "SELECT CAST(COALESCE(max(version), 0) AS BIGINT) FROM policies WHERE class = $1",
                         a, 1, &live, NULL);
    if (st != DS_OK)
        return st;
    if (c->version <= live)
        return ds_store_fail(
            s, DS_E_CONFLICT,
            "policy version %lld of class %s is not above the live version %lld: give it version "
            "%lld or more",
            (long long)c->version, c->cls, (long long)live, (long long)live + 1);
    st = ds_sql_exec(s,
                     "INSERT INTO policies (class, version, document, applied_at, applied_by) "
                     "VALUES ($1, $2, $3, $4, $5)",
                     a, 5, NULL, NULL, NULL);
    if (st == DS_OK)
        st = ds_pol_audit(
            s, c->by, "policy.apply", c->cls,
            json_pack("{s:I, s:I}", "version", (json_int_t)c->version, "previous", (json_int_t)live));
    return st;
}

ds_status ds_pol_put(ds_store *s, const char *cls, int64_t version, const char *doc, const char *by,
                     int64_t now)
{
    if (s == NULL)
        return DS_E_ARG;
    if (!class_ok(cls) || version < 1 || doc == NULL || doc[0] == '\0' || !text_ok(by, DS_POL_BY_MAX))
        return ds_store_fail(s, DS_E_ARG, "policy put: bad class, version, document or author");
    put_ctx c = {cls, doc, by, version, now};
    return ds_sql_tx(s, put_tx, &c);
}

ds_status ds_pol_live_version(ds_store *s, const char *cls, int64_t *version)
{
    if (s == NULL || version == NULL || cls == NULL)
        return DS_E_ARG;
    ds_sql_val a[] = {ds_sql_text(cls)};
    return ds_sql_int1(s, "SELECT CAST(COALESCE(max(version), 0) AS BIGINT) FROM policies WHERE class = $1",
                       a, 1, version, NULL);
}

static void row_head(const ds_sql_row *r, ds_pol_row *o)
{
    ds_sql_copy_text(r, 0, o->class_name, sizeof o->class_name);
    o->version = ds_sql_get_int(r, 1);
    o->applied_at = ds_sql_get_int(r, 2);
    ds_sql_copy_text(r, 3, o->applied_by, sizeof o->applied_by);
}

static int get_row(const ds_sql_row *r, void *ctx)
{
    ds_pol_row *o = ctx;
    row_head(r, o);
    o->document = strdup(ds_sql_get_text(r, 4));
    return 1;
}

ds_status ds_pol_get(ds_store *s, const char *cls, int64_t version, ds_pol_row *out)
{
    if (s == NULL || cls == NULL || out == NULL || version < 0)
        return DS_E_ARG;
    memset(out, 0, sizeof *out);
    ds_sql_val a[] = {ds_sql_text(cls), ds_sql_int(version)};
    ds_status st = ds_sql_exec(s,
                               "SELECT class, version, applied_at, applied_by, document FROM policies "
                               "WHERE class = $1 AND ($2 = 0 OR version = $2) ORDER BY version DESC LIMIT 1",
                               a, 2, get_row, out, NULL);
    if (st != DS_OK)
        return st;
    if (out->version == 0)
        return version == 0 ? ds_store_fail(s, DS_E_NOT_FOUND, "class %s has no policy", cls)
                            : ds_store_fail(s, DS_E_NOT_FOUND, "class %s has no policy version %lld", cls,
                                            (long long)version);
    if (out->document == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "out of memory");
    return DS_OK;
}

void ds_pol_row_free(ds_pol_row *r)
{
    if (r != NULL) {
        free(r->document);
        r->document = NULL;
    }
}

typedef struct list_ctx {
    ds_pol_row_cb cb;
    void *ctx;
    bool with_count;
} list_ctx;

static int list_row(const ds_sql_row *r, void *vctx)
{
    list_ctx *c = vctx;
    ds_pol_row o;
    memset(&o, 0, sizeof o);
    row_head(r, &o);
    if (c->with_count)
        o.versions = ds_sql_get_int(r, 4);
    return c->cb(&o, c->ctx);
}

ds_status ds_pol_list(ds_store *s, const char *cls, ds_pol_row_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    list_ctx c = {cb, ctx, cls == NULL};
    if (cls != NULL) {
        ds_sql_val a[] = {ds_sql_text(cls)};
        return ds_sql_exec(s,
                           "SELECT class, version, applied_at, applied_by FROM policies WHERE class = $1 "
                           "ORDER BY version DESC",
                           a, 1, list_row, &c, NULL);
    }
    return ds_sql_exec(s,
                       "SELECT p.class, p.version, p.applied_at, p.applied_by, "
                       "(SELECT count(*) FROM policies q WHERE q.class = p.class) FROM policies p "
                       "WHERE p.version = (SELECT max(version) FROM policies m WHERE m.class = p.class) "
                       "ORDER BY p.class",
                       NULL, 0, list_row, &c, NULL);
}

/* ---- a device's standing -------------------------------------------------------------- */

#define DEVSTATE_COLS                                                                                        \
    "SELECT d.device_id, d.class, d.status, d.epoch, COALESCE(d.last_attest_at, 0), "                        \
    "COALESCE(d.last_result, ''), "                                                                          \
    "CAST(COALESCE((SELECT max(k.retired_at) FROM device_keys k WHERE k.device_id = d.device_id), "          \
    "d.registered_at) AS BIGINT), "                                                                          \
    "COALESCE(p.stale, 0), COALESCE(p.stale_since, 0), COALESCE(p.stale_episodes, 0), COALESCE(p.failed, "   \
    "0), "                                                                                                   \
    "COALESCE(p.failed_at, 0), COALESCE(p.failed_attestation_id, 0), COALESCE(p.failed_tamper, 0), "         \
    "COALESCE(p.failed_reasons, ''), COALESCE(p.cleared_at, 0), COALESCE(p.cleared_by, ''), "                \
    "COALESCE(p.clear_reason, '') "                                                                          \
    "FROM devices d LEFT JOIN device_policy_state p ON p.device_id = d.device_id "

typedef struct state_ctx {
    ds_pol_devstate_cb cb;
    void *ctx;
    ds_pol_devstate *one;
} state_ctx;

static int state_row(const ds_sql_row *r, void *vctx)
{
    state_ctx *c = vctx;
    ds_pol_devstate d;
    memset(&d, 0, sizeof d);
    (void)ds_sql_copy_blob(r, 0, d.device_id, DS_DEVICE_ID_LEN);
    ds_sql_copy_text(r, 1, d.class_name, sizeof d.class_name);
    (void)ds_device_status_parse(ds_sql_get_text(r, 2), &d.status);
    d.epoch = (uint64_t)ds_sql_get_int(r, 3);
    d.last_attest_at = ds_sql_get_int(r, 4);
    if (ds_sql_get_text(r, 5)[0] != '\0')
        (void)ds_result_parse(ds_sql_get_text(r, 5), &d.last_result);
    d.key_since = ds_sql_get_int(r, 6);
    d.stale = ds_sql_get_int(r, 7) != 0;
    d.stale_since = ds_sql_get_int(r, 8);
    d.stale_episodes = ds_sql_get_int(r, 9);
    d.failed = ds_sql_get_int(r, 10) != 0;
    d.failed_at = ds_sql_get_int(r, 11);
    d.failed_attestation_id = ds_sql_get_int(r, 12);
    d.failed_tamper = ds_sql_get_int(r, 13) != 0;
    ds_sql_copy_text(r, 14, d.failed_reasons, sizeof d.failed_reasons);
    d.cleared_at = ds_sql_get_int(r, 15);
    ds_sql_copy_text(r, 16, d.cleared_by, sizeof d.cleared_by);
    ds_sql_copy_text(r, 17, d.clear_reason, sizeof d.clear_reason);
    if (c->one != NULL) {
        *c->one = d;
        return 1;
    }
    return c->cb(&d, c->ctx);
}

ds_status ds_pol_device_state(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], ds_pol_devstate *out)
{
    if (s == NULL || id == NULL || out == NULL)
        return DS_E_ARG;
    memset(out, 0, sizeof *out);
    state_ctx c = {NULL, NULL, out};
    ds_sql_val a[] = {ds_sql_blob(id, DS_DEVICE_ID_LEN)};
    ds_status st = ds_sql_exec(s, DEVSTATE_COLS "WHERE d.device_id = $1", a, 1, state_row, &c, NULL);
    if (st == DS_OK && out->class_name[0] == '\0')
        return ds_store_fail(s, DS_E_NOT_FOUND, "no such device");
    return st;
}

ds_status ds_pol_device_states(ds_store *s, const char *cls, ds_pol_devstate_cb cb, void *ctx)
{
    if (s == NULL || cls == NULL || cb == NULL)
        return DS_E_ARG;
    state_ctx c = {cb, ctx, NULL};
    ds_sql_val a[] = {ds_sql_text(cls)};
    return ds_sql_exec(s, DEVSTATE_COLS "WHERE d.class = $1 ORDER BY d.device_id", a, 1, state_row, &c, NULL);
}

static ds_status ensure_state_row(ds_store *s, const uint8_t *id, int64_t now)
{
    ds_sql_val a[] = {ds_sql_blob(id, DS_DEVICE_ID_LEN), ds_sql_int(now)};
    return ds_sql_exec(s,
                       "INSERT INTO device_policy_state (device_id, updated_at) VALUES ($1, $2) "
                       "ON CONFLICT (device_id) DO NOTHING",
                       a, 2, NULL, NULL, NULL);
}

ds_status ds_pol_note_attestation(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], int64_t attestation_id,
                                  bool fail, bool tamper, const char *reasons, int64_t now, bool *was_stale,
                                  bool *newly_failed)
{
    int64_t ended = 0, failed = 0;
    if (s == NULL || id == NULL || was_stale == NULL || newly_failed == NULL)
        return DS_E_ARG;
    *was_stale = *newly_failed = false;
    ds_sql_val a[] = {ds_sql_blob(id, DS_DEVICE_ID_LEN), ds_sql_int(now), ds_sql_int(attestation_id),
                      ds_sql_int(tamper ? 1 : 0), ds_sql_text(reasons != NULL ? reasons : "")};
    ds_status st = ensure_state_row(s, id, now);
    if (st == DS_OK)
        st = ds_sql_exec(
            s, "UPDATE device_policy_state SET stale = 0, updated_at = $2 WHERE device_id = $1 AND stale = 1",
            a, 2, NULL, NULL, &ended);
    if (st == DS_OK && fail)
        st = ds_sql_exec(
            s,
            "UPDATE device_policy_state SET failed = 1, failed_at = $2, failed_attestation_id = $3, "
            "failed_tamper = $4, failed_reasons = $5, updated_at = $2 WHERE device_id = $1 AND failed = 0",
            a, 5, NULL, NULL, &failed);
    /* Already failed: the latest FAIL is the one a policy re-evaluates; a
     * tamper FAIL sticks to the failure until it is cleared. */
    if (st == DS_OK && fail && failed == 0)
        st = ds_sql_exec(s,
                         "UPDATE device_policy_state SET failed_attestation_id = $3, failed_reasons = $5, "
                         "failed_tamper = CASE WHEN $4 = 1 THEN 1 ELSE failed_tamper END, updated_at = $2 "
                         "WHERE device_id = $1",
                         a, 5, NULL, NULL, NULL);
    if (st == DS_OK) {
        *was_stale = ended > 0;
        *newly_failed = failed > 0;
    }
    return st;
}

typedef struct clear_ctx {
    const uint8_t *id;
    const char *by, *why;
    int64_t now;
} clear_ctx;

static ds_status clear_tx(ds_store *s, void *vctx)
{
    clear_ctx *c = vctx;
    char hx[2 * DS_DEVICE_ID_LEN + 1];
    ds_sql_val a[] = {ds_sql_blob(c->id, DS_DEVICE_ID_LEN), ds_sql_int(c->now), ds_sql_text(c->by),
                      ds_sql_text(c->why)};
    int64_t n = 0, have = 0;
    ds_status st = ds_sql_exec(s,
                               "UPDATE device_policy_state SET failed = 0, cleared_at = $2, cleared_by = $3, "
                               "clear_reason = $4, updated_at = $2 WHERE device_id = $1 AND failed = 1",
                               a, 4, NULL, NULL, &n);
    if (st == DS_OK && n > 0) {
        hexid(c->id, hx);
        return ds_pol_audit(s, c->by, "policy.clear", hx, json_pack("{s:s}", "reason", c->why));
    }
    if (st == DS_OK)
        st = ds_sql_int1(s, "SELECT count(*) FROM devices WHERE device_id = $1", a, 1, &have, NULL);
    if (st != DS_OK)
        return st;
    return have == 0 ? ds_store_fail(s, DS_E_NOT_FOUND, "no such device")
                     : ds_store_fail(s, DS_E_CONFLICT, "the device is not failed: nothing to clear");
}

ds_status ds_pol_clear_failed(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], const char *by,
                              const char *why, int64_t now)
{
    if (s == NULL || id == NULL || !text_ok(by, DS_POL_BY_MAX) || !text_ok(why, DS_REASON_MAX))
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_ARG, "clear: bad device, author or reason");
    clear_ctx c = {id, by, why, now};
    return ds_sql_tx(s, clear_tx, &c);
}

typedef struct status_ctx {
    char status[24];
    bool found;
} status_ctx;

static int status_row(const ds_sql_row *r, void *ctx)
{
    status_ctx *c = ctx;
    ds_sql_copy_text(r, 0, c->status, sizeof c->status);
    c->found = true;
    return 1;
}

ds_status ds_pol_set_status_in_tx(ds_store *s, const uint8_t id[DS_DEVICE_ID_LEN], ds_device_status to,
                                  const char *reason, int64_t now, bool *changed)
{
    status_ctx c = {"", false};
    ds_device_status cur;
    *changed = false;
    ds_sql_val a[] = {ds_sql_blob(id, DS_DEVICE_ID_LEN), ds_sql_text(ds_device_status_name(to)),
                      ds_sql_text(reason != NULL ? reason : ""), ds_sql_int(now), ds_sql_text("")};
    ds_status st =
        ds_sql_exec(s, "SELECT status FROM devices WHERE device_id = $1", a, 1, status_row, &c, NULL);
    if (st != DS_OK)
        return st;
    if (!c.found || ds_device_status_parse(c.status, &cur) != DS_OK)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no such device");
    if (cur == to || !ds_device_transition_allowed(cur, to))
        return DS_OK;
    a[4] = ds_sql_text(ds_device_status_name(cur));
    st = ds_sql_exec(
        s, "UPDATE devices SET status = $2, status_reason = $3, updated_at = $4 WHERE device_id = $1", a, 4,
        NULL, NULL, NULL);
    if (st == DS_OK)
        st = ds_sql_exec(s,
                         "INSERT INTO device_status_log (device_id, from_status, to_status, reason, at) "
                         "VALUES ($1, $5, $2, $3, $4)",
                         a, 5, NULL, NULL, NULL);
    *changed = st == DS_OK;
    return st;
}

/* ---- staleness -------------------------------------------------------------------------- */

typedef struct marked {
    uint8_t (*ids)[DS_DEVICE_ID_LEN];
    int64_t *episodes;
    size_t n, cap;
    bool oom;
} marked;

static int marked_row(const ds_sql_row *r, void *ctx)
{
    marked *m = ctx;
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        void *a = realloc(m->ids, cap * sizeof *m->ids),
             *b = a != NULL ? realloc(m->episodes, cap * sizeof *m->episodes) : NULL;
        if (a != NULL)
            m->ids = a;
        if (a == NULL || b == NULL) {
            m->oom = true;
            return 1;
        }
        m->episodes = b;
        m->cap = cap;
    }
    if (ds_sql_copy_blob(r, 0, m->ids[m->n], DS_DEVICE_ID_LEN))
        m->episodes[m->n++] = ds_sql_get_int(r, 1);
    return 0;
}

typedef struct stale_ctx {
    const char *cls;
    int64_t cutoff, now;
    ds_pol_stale_fn fn;
    void *ctx;
    size_t marked;
} stale_ctx;

#define STALE_CANDIDATES                                                                                     \
    "SELECT d.device_id FROM devices d WHERE d.class = $1 AND d.status IN ('enrolled', 'active', "           \
    "'quarantined') "                                                                                        \
    "AND d.last_attest_at IS NOT NULL AND d.last_attest_at < $2"

static ds_status stale_tx(ds_store *s, void *vctx)
{
    stale_ctx *c = vctx;
    marked m = {NULL, NULL, 0, 0, false};
    ds_sql_val a[] = {ds_sql_text(c->cls), ds_sql_int(c->cutoff), ds_sql_int(c->now)};
    ds_status st = ds_sql_exec(s,
                               "INSERT INTO device_policy_state (device_id) " STALE_CANDIDATES
                               " ON CONFLICT (device_id) DO NOTHING",
                               a, 2, NULL, NULL, NULL);
    /* The conditional UPDATE is the claim (P2): of several servers, the one
     * whose UPDATE changes the row runs the episode's actions. */
    if (st == DS_OK)
        st = ds_sql_exec(s,
                         "UPDATE device_policy_state SET stale = 1, stale_since = $3, "
                         "stale_episodes = stale_episodes + 1, updated_at = $3 "
                         "WHERE stale = 0 AND device_id IN (" STALE_CANDIDATES ") "
                         "RETURNING device_id, stale_episodes",
                         a, 3, marked_row, &m, NULL);
    if (st == DS_OK && m.oom)
        st = ds_store_fail(s, DS_E_NOMEM, "out of memory");
    for (size_t i = 0; st == DS_OK && i < m.n; i++)
        st = c->fn != NULL ? c->fn(s, m.ids[i], m.episodes[i], c->ctx) : DS_OK;
    c->marked = st == DS_OK ? m.n : 0;
    free(m.ids);
    free(m.episodes);
    return st;
}

ds_status ds_pol_mark_stale(ds_store *s, const char *cls, int64_t cutoff, int64_t now, ds_pol_stale_fn fn,
                            void *ctx, size_t *marked_out)
{
    if (marked_out != NULL)
        *marked_out = 0;
    if (s == NULL || !class_ok(cls))
        return DS_E_ARG;
    stale_ctx c = {cls, cutoff, now, fn, ctx, 0};
    ds_status st = ds_sql_tx(s, stale_tx, &c);
    if (st == DS_OK && marked_out != NULL)
        *marked_out = c.marked;
    return st;
}

typedef struct due_ctx {
    ds_pol_due_cb cb;
    void *ctx;
} due_ctx;

static int due_row(const ds_sql_row *r, void *vctx)
{
    due_ctx *c = vctx;
    uint8_t id[DS_DEVICE_ID_LEN];
    if (!ds_sql_copy_blob(r, 0, id, sizeof id))
        return 0;
    return c->cb(id, ds_sql_get_int(r, 1), c->ctx);
}

ds_status ds_pol_key_age_due(ds_store *s, const char *cls, int64_t cutoff, ds_pol_due_cb cb, void *ctx)
{
    if (s == NULL || cls == NULL || cb == NULL)
        return DS_E_ARG;
    due_ctx c = {cb, ctx};
    ds_sql_val a[] = {ds_sql_text(cls), ds_sql_int(cutoff)};
    return ds_sql_exec(
        s,
        "SELECT x.device_id, x.since FROM (SELECT d.device_id, CAST(COALESCE((SELECT max(k.retired_at) "
        "FROM device_keys k WHERE k.device_id = d.device_id), d.registered_at) AS BIGINT) AS since "
        "FROM devices d WHERE d.class = $1 AND d.status = 'active') x "
        "WHERE x.since <= $2 AND NOT EXISTS (SELECT 1 FROM rotation_jobs j WHERE j.device_id = "
        "x.device_id AND (j.state IN ('pending', 'issued') OR (j.kind = 'rotate-root' AND "
        "j.state = 'failed' AND j.created_at >= x.since))) ORDER BY x.device_id",
        a, 2, due_row, &c, NULL);
}

typedef struct tok_ctx {
    uint8_t *token;
    size_t len;
    int64_t id;
    bool oom;
} tok_ctx;

static int tok_row(const ds_sql_row *r, void *vctx)
{
    tok_ctx *c = vctx;
    size_t n = 0;
    const uint8_t *b = ds_sql_get_blob(r, 1, &n);
    c->id = ds_sql_get_int(r, 0);
    if (b != NULL && n > 0) {
        c->token = malloc(n);
        c->oom = c->token == NULL;
        if (c->token != NULL) {
            memcpy(c->token, b, n);
            c->len = n;
        }
    }
    return 1;
}

ds_status ds_pol_token(ds_store *s, const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t id, uint8_t **token,
                       size_t *len, int64_t *att_id)
{
    if (s == NULL || device_id == NULL || token == NULL || len == NULL || id < 0)
        return DS_E_ARG;
    tok_ctx c = {NULL, 0, 0, false};
    ds_sql_val a[] = {ds_sql_blob(device_id, DS_DEVICE_ID_LEN), ds_sql_int(id)};
    ds_status st =
        ds_sql_exec(s,
                    "SELECT id, token FROM attestations WHERE device_id = $1 AND ($2 = 0 OR id = $2) "
                    "ORDER BY id DESC LIMIT 1",
                    a, 2, tok_row, &c, NULL);
    if (st == DS_OK && c.oom)
        st = ds_store_fail(s, DS_E_NOMEM, "out of memory");
    *token = st == DS_OK ? c.token : NULL;
    *len = st == DS_OK ? c.len : 0;
    if (att_id != NULL)
        *att_id = c.id;
    if (st != DS_OK)
        free(c.token);
    return st;
}

/* ---- actions ------------------------------------------------------------------------------ */

ds_status ds_pol_action_add(ds_store *s, const ds_pol_action_new *a, int64_t now, int64_t *id)
{
    int64_t got = 0;
    bool found = false;
    if (id != NULL)
        *id = 0;
    if (s == NULL || a == NULL || !class_ok(a->class_name) || a->cause == NULL || a->action == NULL ||
        a->state == NULL)
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_ARG, "action: bad class, cause, action or state");
    char result[DS_POL_RESULT_MAX + 1];
    snprintf(result, sizeof result, "%s", a->result != NULL ? a->result : "");
    ds_sql_val v[] = {a->device_id != NULL ? ds_sql_blob(a->device_id, DS_DEVICE_ID_LEN) : ds_sql_null(),
                      ds_sql_text(a->class_name),
                      ds_sql_int(a->policy_version),
                      ds_sql_text(a->cause),
                      ds_sql_text(a->action),
                      ds_sql_text(a->target != NULL ? a->target : ""),
                      ds_sql_text(a->state),
                      ds_sql_text(result),
                      ds_sql_int(a->attestation_id),
                      ds_sql_text(a->dedupe),
                      ds_sql_int(now)};
    ds_status st =
        ds_sql_int1(s,
                    "INSERT INTO policy_actions (device_id, class, policy_version, cause, action, target, "
                    "state, result, attestation_id, dedupe, created_at, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) "
                    "ON CONFLICT (dedupe) DO NOTHING RETURNING id",
                    v, 11, &got, &found);
    if (st == DS_OK && id != NULL)
        *id = found ? got : 0;
    return st;
}

#define ACTION_COLS                                                                                          \
    "id, device_id, class, policy_version, cause, action, target, state, result, attestation_id, "           \
    "created_at, "                                                                                           \
    "updated_at"

typedef struct action_ctx {
    ds_pol_action_cb cb;
    void *ctx;
    ds_pol_action_row *one;
    bool found;
} action_ctx;

static int action_row(const ds_sql_row *r, void *vctx)
{
    action_ctx *c = vctx;
    ds_pol_action_row a;
    memset(&a, 0, sizeof a);
    a.id = ds_sql_get_int(r, 0);
    a.has_device = ds_sql_copy_blob(r, 1, a.device_id, DS_DEVICE_ID_LEN);
    ds_sql_copy_text(r, 2, a.class_name, sizeof a.class_name);
    a.policy_version = ds_sql_get_int(r, 3);
    ds_sql_copy_text(r, 4, a.cause, sizeof a.cause);
    ds_sql_copy_text(r, 5, a.action, sizeof a.action);
    ds_sql_copy_text(r, 6, a.target, sizeof a.target);
    ds_sql_copy_text(r, 7, a.state, sizeof a.state);
    ds_sql_copy_text(r, 8, a.result, sizeof a.result);
    a.attestation_id = ds_sql_get_int(r, 9);
    a.created_at = ds_sql_get_int(r, 10);
    a.updated_at = ds_sql_get_int(r, 11);
    c->found = true;
    if (c->one != NULL) {
        *c->one = a;
        return 1;
    }
    return c->cb(&a, c->ctx);
}

ds_status ds_pol_action_claim(ds_store *s, const char *owner, int64_t now, int64_t ttl,
                              ds_pol_action_row *out, bool *found)
{
    if (s == NULL || !text_ok(owner, DS_JOB_OWNER_MAX) || ttl < 1 || out == NULL || found == NULL)
        return DS_E_ARG;
    action_ctx c = {NULL, NULL, out, false};
    ds_sql_val a[] = {ds_sql_text(owner), ds_sql_int(now), ds_sql_int(ttl)};
    /* The conditional UPDATE is the claim (P4): a second server that picked
     * the same id finds the lease taken when it re-reads the row. */
    ds_status st =
        ds_sql_exec(s,
                    "UPDATE policy_actions SET lease_owner = $1, lease_until = $2 + $3 "
                    "WHERE id = (SELECT id FROM policy_actions WHERE state = 'pending' AND lease_until <= $2 "
                    "ORDER BY id LIMIT 1) AND state = 'pending' AND lease_until <= $2 RETURNING " ACTION_COLS,
                    a, 3, action_row, &c, NULL);
    *found = st == DS_OK && c.found;
    return st;
}

ds_status ds_pol_action_finish(ds_store *s, int64_t id, const char *owner, const char *state,
                               const char *result, int64_t now)
{
    if (s == NULL || owner == NULL || state == NULL)
        return DS_E_ARG;
    char res[DS_POL_RESULT_MAX + 1];
    snprintf(res, sizeof res, "%s", result != NULL ? result : "");
    ds_sql_val a[] = {ds_sql_int(id), ds_sql_text(owner), ds_sql_text(state), ds_sql_text(res),
                      ds_sql_int(now)};
    int64_t n = 0;
    ds_status st =
        ds_sql_exec(s,
                    "UPDATE policy_actions SET state = $3, result = $4, lease_owner = NULL, lease_until = 0, "
                    "updated_at = $5 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
                    a, 5, NULL, NULL, &n);
    if (st == DS_OK && n == 0)
        return ds_store_fail(s, DS_E_CONFLICT, "action %lld is not pending under this server's lease",
                             (long long)id);
    return st;
}

ds_status ds_pol_action_list(ds_store *s, const char *cls, const uint8_t *device, size_t limit,
                             ds_pol_action_cb cb, void *ctx)
{
    static const uint8_t none[DS_DEVICE_ID_LEN];
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    action_ctx c = {cb, ctx, NULL, false};
    ds_sql_val a[] = {ds_sql_text(cls != NULL ? cls : ""), ds_sql_int(cls != NULL),
                      ds_sql_blob(device != NULL ? device : none, DS_DEVICE_ID_LEN),
                      ds_sql_int(device != NULL),
                      ds_sql_int(limit == 0 || limit > 100000 ? LIST_DEFAULT : (int64_t)limit)};
    return ds_sql_exec(s,
                       "SELECT " ACTION_COLS " FROM policy_actions WHERE ($2 = 0 OR class = $1) "
                       "AND ($4 = 0 OR device_id = $3) ORDER BY id DESC LIMIT $5",
                       a, 5, action_row, &c, NULL);
}

/* ---- the policy's rotation campaign -------------------------------------------------------- */

typedef struct camp_ctx {
    const char *cls;
    int64_t version, now;
    int mode;
    uint32_t max_parallel, max_attempts;
    int64_t id;
    bool created;
} camp_ctx;

typedef struct camp_found {
    int64_t id, max_parallel;
    char mode[16];
} camp_found;

static int camp_row(const ds_sql_row *r, void *ctx)
{
    camp_found *f = ctx;
    f->id = ds_sql_get_int(r, 0);
    ds_sql_copy_text(r, 1, f->mode, sizeof f->mode);
    f->max_parallel = ds_sql_get_int(r, 2);
    return 1;
}

static ds_status camp_tx(ds_store *s, void *vctx)
{
    camp_ctx *c = vctx;
    char lock[DS_CLASS_MAX + 24];
    camp_found f = {0, 0, ""};
    const char *mode = c->mode == DS_JOB_MODE_DEVICE ? "device" : "server";
    snprintf(lock, sizeof lock, "policy-campaign:%s", c->cls);
    ds_sql_val a[] = {ds_sql_text(c->cls),         ds_sql_text(mode),  ds_sql_int(c->max_parallel),
                      ds_sql_int(c->max_attempts), ds_sql_int(c->now), ds_sql_int(c->version)};
    ds_status st = ds_sql_lock(s, lock);
    if (st == DS_OK)
        st = ds_sql_exec(
            s,
            "SELECT c.id, c.mode, c.max_parallel FROM policy_campaigns p JOIN rotation_campaigns c "
            "ON c.id = p.campaign_id WHERE p.class = $1 AND c.state = 'running' ORDER BY c.id DESC LIMIT 1",
            a, 1, camp_row, &f, NULL);
    if (st != DS_OK)
        return st;
    if (f.id != 0) {
        c->id = f.id;
        if (strcmp(f.mode, mode) == 0 && f.max_parallel == (int64_t)c->max_parallel)
            return DS_OK;
        return ds_store_fail(s, DS_E_CONFLICT, "the policy's running campaign %lld has other settings",
                             (long long)f.id);
    }
    st = ds_sql_int1(
        s,
        "INSERT INTO rotation_campaigns (class, kind, mode, max_parallel, fail_threshold, max_attempts, "
        "state, stop_reason, created_at, updated_at) VALUES ($1, 'rotate-root', $2, $3, 0, $4, "
        "'running', '', $5, $5) RETURNING id",
        a, 5, &c->id, NULL);
    if (st != DS_OK)
        return st;
    ds_sql_val b[] = {ds_sql_int(c->id), ds_sql_text(c->cls), ds_sql_int(c->version), ds_sql_int(c->now)};
    st = ds_sql_exec(s,
                     "INSERT INTO policy_campaigns (campaign_id, class, policy_version, created_at) "
                     "VALUES ($1, $2, $3, $4)",
                     b, 4, NULL, NULL, NULL);
    c->created = st == DS_OK;
    return st;
}

ds_status ds_pol_campaign_ensure(ds_store *s, const char *cls, int64_t policy_version, int mode,
                                 uint32_t max_parallel, uint32_t max_attempts, int64_t now,
                                 int64_t *campaign_id, bool *created)
{
    if (s == NULL || !class_ok(cls) || (mode != DS_JOB_MODE_SERVER && mode != DS_JOB_MODE_DEVICE) ||
        max_parallel < 1 || max_parallel > DS_CAMPAIGN_PAR_MAX || max_attempts < 1 ||
        max_attempts > DS_JOB_ATTEMPTS_MAX || campaign_id == NULL)
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_ARG, "campaign: bad class, mode or limits");
    camp_ctx c = {cls, policy_version, now, mode, max_parallel, max_attempts, 0, false};
    ds_status st = ds_sql_tx(s, camp_tx, &c);
    *campaign_id = c.id;
    if (created != NULL)
        *created = st == DS_OK && c.created;
    return st;
}
