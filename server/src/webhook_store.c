/*
 * webhook_store.c — the webhook delivery queue and its attempts (see
 * policy_store.h, "webhook deliveries"; invariants P4 and P5), written once
 * against sql.h like the rest of the policy engine's tables.
 */
#define _POSIX_C_SOURCE 200809L
#include "policy_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

/* ---- webhook deliveries ------------------------------------------------------------------ */

ds_status ds_wh_enqueue(ds_store *s, const ds_wh_new *w, int64_t now, int64_t *id)
{
    int64_t got = 0;
    if (s == NULL || w == NULL || !text_ok(w->delivery_id, 32) || !text_ok(w->webhook, DS_POL_NAME) ||
        !class_ok(w->class_name) || !text_ok(w->url, 512) || !text_ok(w->secret_file, 255) ||
        !text_ok(w->event, 31) || w->payload == NULL || w->max_attempts < 1 || w->backoff_s < 1)
        return s == NULL ? DS_E_ARG
                         : ds_store_fail(s, DS_E_ARG, "webhook delivery: a field is missing or too long");
    ds_sql_val a[] = {ds_sql_text(w->delivery_id),
                      ds_sql_text(w->webhook),
                      ds_sql_text(w->class_name),
                      ds_sql_int(w->policy_version),
                      ds_sql_text(w->url),
                      ds_sql_text(w->secret_file),
                      ds_sql_text(w->event),
                      w->device_id != NULL ? ds_sql_blob(w->device_id, DS_DEVICE_ID_LEN) : ds_sql_null(),
                      ds_sql_text(w->payload),
                      ds_sql_int(w->max_attempts),
                      ds_sql_int(w->backoff_s),
                      ds_sql_int(now)};
    ds_status st =
        ds_sql_int1(s,
                    "INSERT INTO webhook_deliveries (delivery_id, webhook, class, policy_version, url, "
                    "secret_file, event, device_id, payload, max_attempts, backoff_s, state, next_at, "
                    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $12) "
                    "RETURNING id",
                    a, 12, &got, NULL);
    if (st == DS_OK && id != NULL)
        *id = got;
    return st;
}

#define WH_COLS                                                                                              \
    "id, delivery_id, webhook, class, policy_version, url, secret_file, event, device_id, max_attempts, "    \
    "backoff_s, attempts, state, next_at, last_status, last_error, created_at, delivered_at, payload"

typedef struct wh_ctx {
    ds_wh_cb cb;
    void *ctx;
    ds_wh_row *one;
    bool found, oom;
} wh_ctx;

static int wh_row(const ds_sql_row *r, void *vctx)
{
    wh_ctx *c = vctx;
    ds_wh_row w;
    memset(&w, 0, sizeof w);
    w.id = ds_sql_get_int(r, 0);
    ds_sql_copy_text(r, 1, w.delivery_id, sizeof w.delivery_id);
    ds_sql_copy_text(r, 2, w.webhook, sizeof w.webhook);
    ds_sql_copy_text(r, 3, w.class_name, sizeof w.class_name);
    w.policy_version = ds_sql_get_int(r, 4);
    ds_sql_copy_text(r, 5, w.url, sizeof w.url);
    ds_sql_copy_text(r, 6, w.secret_file, sizeof w.secret_file);
    ds_sql_copy_text(r, 7, w.event, sizeof w.event);
    w.has_device = ds_sql_copy_blob(r, 8, w.device_id, DS_DEVICE_ID_LEN);
    w.max_attempts = (uint32_t)ds_sql_get_int(r, 9);
    w.backoff_s = (uint32_t)ds_sql_get_int(r, 10);
    w.attempts = (uint32_t)ds_sql_get_int(r, 11);
    ds_sql_copy_text(r, 12, w.state, sizeof w.state);
    w.next_at = ds_sql_get_int(r, 13);
    w.last_status = ds_sql_get_int(r, 14);
    ds_sql_copy_text(r, 15, w.last_error, sizeof w.last_error);
    w.created_at = ds_sql_get_int(r, 16);
    w.delivered_at = ds_sql_get_int(r, 17);
    c->found = true;
    if (c->one != NULL) {
        w.payload = strdup(ds_sql_get_text(r, 18));
        c->oom = w.payload == NULL;
        *c->one = w;
        return 1;
    }
    return c->cb(&w, c->ctx);
}

ds_status ds_wh_claim(ds_store *s, const char *owner, int64_t now, int64_t ttl, ds_wh_row *out, bool *found)
{
    if (s == NULL || !text_ok(owner, DS_JOB_OWNER_MAX) || ttl < 1 || out == NULL || found == NULL)
        return DS_E_ARG;
    memset(out, 0, sizeof *out);
    wh_ctx c = {NULL, NULL, out, false, false};
    ds_sql_val a[] = {ds_sql_text(owner), ds_sql_int(now), ds_sql_int(ttl)};
    ds_status st =
        ds_sql_exec(s,
                    "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 + $3 WHERE id = "
                    "(SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= $2 AND "
                    "lease_until <= $2 ORDER BY id LIMIT 1) AND state = 'pending' AND lease_until <= $2 "
                    "RETURNING " WH_COLS,
                    a, 3, wh_row, &c, NULL);
    if (st == DS_OK && c.oom) {
        st = ds_store_fail(s, DS_E_NOMEM, "out of memory");
        c.found = false;
    }
    *found = st == DS_OK && c.found;
    return st;
}

void ds_wh_row_free(ds_wh_row *w)
{
    if (w != NULL) {
        free(w->payload);
        w->payload = NULL;
    }
}

int64_t ds_wh_backoff(uint32_t backoff_s, uint32_t n)
{
    int64_t d = backoff_s;
    for (uint32_t i = 1; i < n && d < 86400; i++)
        d *= 2;
    return d > 86400 ? 86400 : d;
}

typedef struct done_ctx {
    int64_t id, status, duration, now;
    const char *owner, *error;
    char state[16];
} done_ctx;

typedef struct cur_row {
    bool found;
    int64_t attempts, max_attempts, backoff;
    char state[16], owner[DS_JOB_OWNER_MAX + 1];
} cur_row;

static int cur_cb(const ds_sql_row *r, void *ctx)
{
    cur_row *c = ctx;
    c->found = true;
    c->attempts = ds_sql_get_int(r, 0);
    c->max_attempts = ds_sql_get_int(r, 1);
    c->backoff = ds_sql_get_int(r, 2);
    ds_sql_copy_text(r, 3, c->state, sizeof c->state);
    ds_sql_copy_text(r, 4, c->owner, sizeof c->owner);
    return 1;
}

static ds_status done_tx(ds_store *s, void *vctx)
{
    done_ctx *c = vctx;
    cur_row cur;
    memset(&cur, 0, sizeof cur);
    ds_sql_val k[] = {ds_sql_int(c->id)};
    ds_status st = ds_sql_exec(s,
                               "SELECT attempts, max_attempts, backoff_s, state, COALESCE(lease_owner, '') "
                               "FROM webhook_deliveries WHERE id = $1",
                               k, 1, cur_cb, &cur, NULL);
    if (st != DS_OK)
        return st;
    if (!cur.found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no webhook delivery %lld", (long long)c->id);
    if (strcmp(cur.state, "pending") != 0 || strcmp(cur.owner, c->owner) != 0)
        return ds_store_fail(s, DS_E_CONFLICT, "delivery %lld is %s and not leased to this server",
                             (long long)c->id, cur.state);
    int64_t n = cur.attempts + 1;
    bool ok = c->status >= 200 && c->status <= 299;
    snprintf(c->state, sizeof c->state, "%s",
             ok                      ? "delivered"
             : n >= cur.max_attempts ? "failed"
                                     : "pending");
    char err[DS_POL_RESULT_MAX + 1];
    snprintf(err, sizeof err, "%s", c->error != NULL ? c->error : "");
    ds_sql_val a[] = {ds_sql_int(c->id),
                      ds_sql_text(c->owner),
                      ds_sql_int(n),
                      ds_sql_text(c->state),
                      ds_sql_int(c->status),
                      ds_sql_text(err),
                      ds_sql_int(c->now),
                      ds_sql_int(ok ? c->now : 0),
                      ds_sql_int(c->now + ds_wh_backoff((uint32_t)cur.backoff, (uint32_t)n)),
                      ds_sql_int(cur.attempts)};
    int64_t changed = 0;
    /* Conditional on the row as read (attempts and lease), so nothing that
     * changed it in between is overwritten. */
    st = ds_sql_exec(
        s,
        "UPDATE webhook_deliveries SET attempts = $3, state = $4, last_status = $5, last_error = $6, "
        "delivered_at = $8, next_at = $9, lease_owner = NULL, lease_until = 0 "
        "WHERE id = $1 AND lease_owner = $2 AND attempts = $10 AND state = 'pending'",
        a, 10, NULL, NULL, &changed);
    if (st == DS_OK && changed != 1)
        return ds_store_fail(s, DS_E_CONFLICT, "delivery %lld changed meanwhile", (long long)c->id);
    ds_sql_val b[] = {ds_sql_int(c->id),     ds_sql_int(n),    ds_sql_int(c->now),
                      ds_sql_int(c->status), ds_sql_text(err), ds_sql_int(c->duration)};
    if (st == DS_OK)
        st = ds_sql_exec(
            s,
            "INSERT INTO webhook_attempts (delivery, attempt, at, http_status, error, duration_ms) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            b, 6, NULL, NULL, NULL);
    if (st == DS_OK && strcmp(c->state, "pending") != 0) {
        char subject[48];
        snprintf(subject, sizeof subject, "delivery:%lld", (long long)c->id);
        st = ds_pol_audit(s, "server", ok ? "webhook.delivered" : "webhook.failed", subject,
                          json_pack("{s:I, s:I, s:s}", "attempts", (json_int_t)n, "http_status",
                                    (json_int_t)c->status, "error", err));
    }
    return st;
}

ds_status ds_wh_attempt_done(ds_store *s, int64_t id, const char *owner, int64_t http_status,
                             const char *error, int64_t duration_ms, int64_t now, char *state_out)
{
    if (s == NULL || owner == NULL || id <= 0)
        return DS_E_ARG;
    done_ctx c = {id, http_status, duration_ms, now, owner, error, ""};
    ds_status st = ds_sql_tx(s, done_tx, &c);
    if (state_out != NULL)
        snprintf(state_out, 16, "%s", st == DS_OK ? c.state : "");
    return st;
}

ds_status ds_wh_list(ds_store *s, const char *state, size_t limit, ds_wh_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    wh_ctx c = {cb, ctx, NULL, false, false};
    ds_sql_val a[] = {ds_sql_text(state != NULL ? state : ""), ds_sql_int(state != NULL),
                      ds_sql_int(limit == 0 || limit > 100000 ? LIST_DEFAULT : (int64_t)limit)};
    return ds_sql_exec(s,
                       "SELECT " WH_COLS " FROM webhook_deliveries WHERE ($2 = 0 OR state = $1) "
                       "ORDER BY id DESC LIMIT $3",
                       a, 3, wh_row, &c, NULL);
}

typedef struct att_ctx {
    ds_wh_attempt_cb cb;
    void *ctx;
} att_ctx;

static int att_row(const ds_sql_row *r, void *vctx)
{
    att_ctx *c = vctx;
    ds_wh_attempt a;
    memset(&a, 0, sizeof a);
    a.attempt = ds_sql_get_int(r, 0);
    a.at = ds_sql_get_int(r, 1);
    a.http_status = ds_sql_get_int(r, 2);
    ds_sql_copy_text(r, 3, a.error, sizeof a.error);
    a.duration_ms = ds_sql_get_int(r, 4);
    return c->cb(&a, c->ctx);
}

ds_status ds_wh_attempts(ds_store *s, int64_t id, ds_wh_attempt_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    att_ctx c = {cb, ctx};
    ds_sql_val a[] = {ds_sql_int(id)};
    return ds_sql_exec(s,
                       "SELECT attempt, at, http_status, error, duration_ms FROM webhook_attempts "
                       "WHERE delivery = $1 ORDER BY attempt",
                       a, 1, att_row, &c, NULL);
}
