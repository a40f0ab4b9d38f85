/*
 * revocation.c — revocations and published lists (see revocation.h, steps
 * 1–5 and invariants V1–V3), written once against sql.h for both backends.
 *
 * Why the publish is one transaction under a named lock: the version is
 * "highest + 1" and the list must hold every revocation made before it. Two
 * servers adding at once would otherwise both compute version n + 1 (one
 * insert then fails on the primary key: harmless but a spurious error), or
 * a list could miss a revocation committed between its read and its
 * insert. The lock makes the read-build-sign-insert sequence atomic across
 * servers (PostgreSQL advisory lock; SQLite's single write lock).
 */
#define _POSIX_C_SOURCE 200809L
#include "revocation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "sql.h"
#include "store_internal.h"

#define REV_LOCK "drot-revocations"

/* ---- names ---------------------------------------------------------------------------- */

static const char *const k_kind_names[] = {NULL, "drk", "cert", "authority"};

/* see revocation.h */
const char *ds_rev_kind_name(ds_rev_kind k)
{
    return k >= DS_REV_DRK && k <= DS_REV_AUTHORITY ? k_kind_names[k] : NULL;
}

/* see revocation.h */
ds_status ds_rev_kind_parse(const char *name, ds_rev_kind *out)
{
    for (int k = DS_REV_DRK; name != NULL && k <= DS_REV_AUTHORITY; k++)
        if (strcmp(name, k_kind_names[k]) == 0) {
            *out = (ds_rev_kind)k;
            return DS_OK;
        }
    return DS_E_ARG;
}

/* see revocation.h */
int ds_rev_serial_norm(const uint8_t *in, size_t len, uint8_t out[DROT_REVOCATION_MAX_SERIAL],
                       size_t *out_len)
{
    size_t skip = 0;
    if (in == NULL)
        return -1;
    while (skip < len && in[skip] == 0)
        skip++;
    if (skip == len || len - skip > DROT_REVOCATION_MAX_SERIAL)
        return -1;
    memcpy(out, in + skip, len - skip);
    *out_len = len - skip;
    return 0;
}

/* The value as stored: a 32-byte hash, or a normalized serial. */
static ds_status norm_value(ds_store *s, ds_rev_kind kind, const uint8_t *in, size_t len,
                            uint8_t out[DS_REV_VALUE_MAX], size_t *out_len)
{
    if (in == NULL)
        return ds_store_fail(s, DS_E_ARG, "no value to revoke");
    if (kind == DS_REV_CERT) {
        if (ds_rev_serial_norm(in, len, out, out_len) != 0)
            return ds_store_fail(s, DS_E_ARG, "a certificate serial is 1..%u bytes and not zero",
                                 (unsigned)DROT_REVOCATION_MAX_SERIAL);
        return DS_OK;
    }
    if (kind != DS_REV_DRK && kind != DS_REV_AUTHORITY)
        return ds_store_fail(s, DS_E_ARG, "unknown kind of revocation");
    if (len != DROT_REVOCATION_HASH_LEN)
        return ds_store_fail(s, DS_E_ARG, "a %s is revoked by its 32-byte SHA-256, not %zu bytes",
                             ds_rev_kind_name(kind), len);
    memcpy(out, in, len);
    *out_len = len;
    return DS_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

#define REV_COLS "id, kind, value, reason, revoked_by, revoked_at, device_id, list_version"

static void row_revocation(const ds_sql_row *r, ds_revocation *x)
{
    size_t n = 0;
    memset(x, 0, sizeof *x);
    x->id = ds_sql_get_int(r, 0);
    (void)ds_rev_kind_parse(ds_sql_get_text(r, 1), &x->kind);
    const uint8_t *v = ds_sql_get_blob(r, 2, &n);
    if (v != NULL && n <= sizeof x->value) {
        memcpy(x->value, v, n);
        x->value_len = n;
    }
    ds_sql_copy_text(r, 3, x->reason, sizeof x->reason);
    ds_sql_copy_text(r, 4, x->revoked_by, sizeof x->revoked_by);
    x->revoked_at = ds_sql_get_int(r, 5);
    x->has_device = ds_sql_copy_blob(r, 6, x->device_id, sizeof x->device_id);
    x->list_version = (uint64_t)ds_sql_get_int(r, 7);
}

typedef struct each_ctx {
    ds_rev_cb cb;
    void *ctx;
} each_ctx;

static int each_row(const ds_sql_row *r, void *ctx)
{
    each_ctx *e = ctx;
    ds_revocation x;
    row_revocation(r, &x);
    return e->cb(&x, e->ctx);
}

/* see revocation.h */
ds_status ds_rev_each(ds_store *s, ds_rev_kind kind, ds_rev_cb cb, void *ctx)
{
    each_ctx e = {cb, ctx};
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    if (kind == DS_REV_ANY)
        return ds_sql_exec(s, "SELECT " REV_COLS " FROM revocations ORDER BY id", NULL, 0, each_row, &e,
                           NULL);
    if (ds_rev_kind_name(kind) == NULL)
        return ds_store_fail(s, DS_E_ARG, "unknown kind of revocation");
    ds_sql_val a[] = {ds_sql_text(ds_rev_kind_name(kind))};
    return ds_sql_exec(s, "SELECT " REV_COLS " FROM revocations WHERE kind = $1 ORDER BY id", a, 1, each_row,
                       &e, NULL);
}

/* see revocation.h */
ds_status ds_rev_is_revoked(ds_store *s, ds_rev_kind kind, const uint8_t *value, size_t len, bool *revoked)
{
    uint8_t v[DS_REV_VALUE_MAX];
    size_t vn = 0;
    int64_t one = 0;
    if (s == NULL || revoked == NULL)
        return DS_E_ARG;
    *revoked = false;
    ds_status st = norm_value(s, kind, value, len, v, &vn);
    if (st != DS_OK)
        return st;
    ds_sql_val a[] = {ds_sql_text(ds_rev_kind_name(kind)), ds_sql_blob(v, vn)};
    return ds_sql_int1(s, "SELECT 1 FROM revocations WHERE kind = $1 AND value = $2", a, 2, &one, revoked);
}

/* see revocation.h */
ds_status ds_rev_drk_revoked(ds_store *s, const uint8_t drk_pub[DS_DRK_PUB_LEN], bool *revoked)
{
    uint8_t h[DROT_SHA256_LEN];
    if (s == NULL || drk_pub == NULL || revoked == NULL)
        return DS_E_ARG;
    if (drot_sha256(drk_pub, DS_DRK_PUB_LEN, h) != DROT_OK)
        return ds_store_fail(s, DS_E_ARG, "cannot hash the device root key");
    return ds_rev_is_revoked(s, DS_REV_DRK, h, sizeof h, revoked);
}

/* see revocation.h */
ds_status ds_rev_authority_revoked(ds_store *s, const uint8_t pub[DROT_P256_PUB_LEN], bool *revoked)
{
    uint8_t h[DROT_SHA256_LEN];
    if (s == NULL || pub == NULL || revoked == NULL)
        return DS_E_ARG;
    if (drot_sha256(pub, DROT_P256_PUB_LEN, h) != DROT_OK)
        return ds_store_fail(s, DS_E_ARG, "cannot hash the authority key");
    return ds_rev_is_revoked(s, DS_REV_AUTHORITY, h, sizeof h, revoked);
}

#define LIST_COLS "version, issued_at, payload, digest, signer, signed, entries"

typedef struct list_ctx {
    ds_rev_list *out;
    bool found, bad;
} list_ctx;

static int list_row(const ds_sql_row *r, void *ctx)
{
    list_ctx *c = ctx;
    ds_rev_list *l = c->out;
    size_t pn = 0, sn = 0;
    const uint8_t *p = ds_sql_get_blob(r, 2, &pn);
    const uint8_t *sg = ds_sql_get_blob(r, 5, &sn);
    c->found = true;
    memset(l, 0, sizeof *l);
    l->version = (uint64_t)ds_sql_get_int(r, 0);
    l->issued_at = ds_sql_get_int(r, 1);
    if (p == NULL || sg == NULL || pn > sizeof l->payload || sn > sizeof l->signed_msg ||
        !ds_sql_copy_blob(r, 3, l->digest, sizeof l->digest)) {
        c->bad = true;
        return 1;
    }
    memcpy(l->payload, p, pn);
    l->payload_len = pn;
    memcpy(l->signed_msg, sg, sn);
    l->signed_len = sn;
    ds_sql_copy_text(r, 4, l->signer, sizeof l->signer);
    l->entries = (uint64_t)ds_sql_get_int(r, 6);
    return 1;
}

static ds_status read_list(ds_store *s, const char *sql, const ds_sql_val *a, size_t n, ds_rev_list *out)
{
    list_ctx c = {out, false, false};
    if (s == NULL || out == NULL)
        return DS_E_ARG;
    ds_status st = ds_sql_exec(s, sql, a, n, list_row, &c, NULL);
    if (st != DS_OK)
        return st;
    if (c.bad)
        return ds_store_fail(s, DS_E_CORRUPT, "stored revocation list %llu is damaged",
                             (unsigned long long)out->version);
    return c.found ? DS_OK : ds_store_fail(s, DS_E_NOT_FOUND, "no revocation list has been published");
}

/* see revocation.h */
ds_status ds_rev_list_current(ds_store *s, ds_rev_list *out)
{
    return read_list(s, "SELECT " LIST_COLS " FROM revocation_lists ORDER BY version DESC LIMIT 1", NULL, 0,
                     out);
}

/* see revocation.h */
ds_status ds_rev_list_get(ds_store *s, uint64_t version, ds_rev_list *out)
{
    if (version == 0 || version > DROT_REVOCATION_MAX_VERSION)
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_NOT_FOUND, "no revocation list version 0");
    ds_sql_val a[] = {ds_sql_int((int64_t)version)};
    ds_status st = read_list(s, "SELECT " LIST_COLS " FROM revocation_lists WHERE version = $1", a, 1, out);
    if (st == DS_E_NOT_FOUND)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no revocation list version %llu",
                             (unsigned long long)version);
    return st;
}

/* see revocation.h */
ds_status ds_rev_version(ds_store *s, uint64_t *version)
{
    int64_t v = 0;
    if (s == NULL || version == NULL)
        return DS_E_ARG;
    *version = 0;
    ds_status st = ds_sql_int1(s, "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM revocation_lists",
                               NULL, 0, &v, NULL);
    if (st == DS_OK)
        *version = (uint64_t)v;
    return st;
}

/* see revocation.h */
ds_status ds_rev_cert_record(ds_store *s, const uint8_t *serial, size_t len,
                             const uint8_t device_id[DS_DEVICE_ID_LEN], int64_t issued_at, int64_t not_after)
{
    uint8_t v[DROT_REVOCATION_MAX_SERIAL];
    size_t vn = 0;
    if (s == NULL || device_id == NULL)
        return DS_E_ARG;
    if (ds_rev_serial_norm(serial, len, v, &vn) != 0)
        return ds_store_fail(s, DS_E_ARG, "not a certificate serial");
    ds_sql_val a[] = {ds_sql_blob(v, vn), ds_sql_blob(device_id, DS_DEVICE_ID_LEN), ds_sql_int(issued_at),
                      ds_sql_int(not_after)};
    return ds_sql_exec(s,
                       "INSERT INTO device_certs (serial, device_id, issued_at, not_after) "
                       "VALUES ($1, $2, $3, $4) ON CONFLICT (serial) DO NOTHING",
                       a, 4, NULL, NULL, NULL);
}

/* ---- publishing ------------------------------------------------------------------------- */

/* Every revocation's value, by kind, as the list's arrays need them. */
typedef struct gathered {
    uint8_t (*auth)[32];
    uint8_t (*drk)[32];
    uint8_t (*cert)[DROT_REVOCATION_MAX_SERIAL];
    size_t cert_len[DROT_REVOCATION_MAX_CERTS + 1];
    size_t n_auth, n_drk, n_cert, total;
} gathered;

/* Counts everything; stores only what fits one over each limit (the
 * caller refuses then). */
static int gather_row(const ds_sql_row *r, void *ctx)
{
    gathered *g = ctx;
    ds_rev_kind k = DS_REV_ANY;
    size_t n = 0;
    const uint8_t *v = ds_sql_get_blob(r, 1, &n);
    (void)ds_rev_kind_parse(ds_sql_get_text(r, 0), &k);
    g->total++;
    if (v == NULL)
        return 0;
    if (k == DS_REV_AUTHORITY && n == 32) {
        if (g->n_auth < DROT_REVOCATION_MAX_AUTHORITIES)
            memcpy(g->auth[g->n_auth], v, 32);
        g->n_auth++;
    } else if (k == DS_REV_DRK && n == 32) {
        if (g->n_drk < DROT_REVOCATION_MAX_DRKS)
            memcpy(g->drk[g->n_drk], v, 32);
        g->n_drk++;
    } else if (k == DS_REV_CERT && n >= 1 && n <= DROT_REVOCATION_MAX_SERIAL) {
        if (g->n_cert < DROT_REVOCATION_MAX_CERTS) {
            memcpy(g->cert[g->n_cert], v, n);
            g->cert_len[g->n_cert] = n;
        }
        g->n_cert++;
    }
    return 0;
}

static int cmp_hash_ptr(const void *a, const void *b)
{
    return drot_revocation_cmp_hash(*(const uint8_t *const *)a, *(const uint8_t *const *)b);
}

static int cmp_serial(const void *a, const void *b)
{
    const drot_revocation_serial *x = a, *y = b;
    return drot_revocation_cmp_serial(x->p, x->len, y->p, y->len);
}

/* The list of every revocation in g (sorted), version v. */
static void build_list(gathered *g, uint64_t v, int64_t now, drot_revocation_list *l)
{
    memset(l, 0, sizeof *l);
    l->version = v;
    l->issued_at = now > 0 ? (uint64_t)now : 0;
    l->n_authorities = g->n_auth;
    for (size_t i = 0; i < g->n_auth; i++)
        l->authorities[i] = g->auth[i];
    qsort(l->authorities, l->n_authorities, sizeof l->authorities[0], cmp_hash_ptr);
    l->n_drks = g->n_drk;
    for (size_t i = 0; i < g->n_drk; i++)
        l->drks[i] = g->drk[i];
    qsort(l->drks, l->n_drks, sizeof l->drks[0], cmp_hash_ptr);
    l->n_certs = g->n_cert;
    for (size_t i = 0; i < g->n_cert; i++) {
        l->certs[i].p = g->cert[i];
        l->certs[i].len = g->cert_len[i];
    }
    qsort(l->certs, l->n_certs, sizeof l->certs[0], cmp_serial);
}

/* Everything one publish needs, on the heap (the list and its buffers are
 * several KiB). */
typedef struct publish {
    const ds_rev_new *req;
    uint8_t value[DS_REV_VALUE_MAX];
    size_t value_len;
    int64_t now;
    ds_rev_sign_fn sign;
    void *sign_ctx;
    ds_revocation rev;
    ds_rev_list list;
    gathered g;
    drot_revocation_list l;
} publish;

typedef struct dev_ctx {
    bool found;
    uint8_t id[DS_DEVICE_ID_LEN];
    char status[24];
} dev_ctx;

static int dev_row(const ds_sql_row *r, void *ctx)
{
    dev_ctx *d = ctx;
    d->found = ds_sql_copy_blob(r, 0, d->id, sizeof d->id);
    ds_sql_copy_text(r, 1, d->status, sizeof d->status);
    return 1;
}

/* The device whose current DRK, or whose certificate, the value is. */
static ds_status find_device(ds_store *s, const publish *p, dev_ctx *d)
{
    memset(d, 0, sizeof *d);
    if (p->req->kind == DS_REV_DRK) {
        uint8_t inst[DS_INSTANCE_ID_LEN];
        inst[0] = 0x01;
        memcpy(inst + 1, p->value, 32);
        ds_sql_val a[] = {ds_sql_blob(inst, sizeof inst)};
        return ds_sql_exec(s, "SELECT device_id, status FROM devices WHERE instance_id = $1", a, 1, dev_row,
                           d, NULL);
    }
    if (p->req->kind == DS_REV_CERT) {
        ds_sql_val a[] = {ds_sql_blob(p->value, p->value_len)};
        return ds_sql_exec(s,
                           "SELECT d.device_id, d.status FROM device_certs c JOIN devices d "
                           "ON d.device_id = c.device_id WHERE c.serial = $1",
                           a, 1, dev_row, d, NULL);
    }
    return DS_OK;
}

/* Step 5: the device moves to revoked, logged, unless it is revoked or
 * decommissioned already (the state machine allows revoked from every
 * other status). */
static ds_status revoke_device(ds_store *s, publish *p, const dev_ctx *d)
{
    char reason[DS_REASON_MAX + 1];
    if (!d->found || strcmp(d->status, "revoked") == 0 || strcmp(d->status, "decommissioned") == 0)
        return DS_OK;
    snprintf(reason, sizeof reason, "%s revoked: %s",
             p->req->kind == DS_REV_DRK ? "device root key" : "certificate", p->req->reason);
    ds_sql_val a[] = {ds_sql_blob(d->id, sizeof d->id), ds_sql_text(reason), ds_sql_int(p->now),
                      ds_sql_text(d->status)};
    ds_status st = ds_sql_exec(s,
                               "UPDATE devices SET status = 'revoked', status_reason = $2, updated_at = $3 "
                               "WHERE device_id = $1 AND status = $4",
                               a, 4, NULL, NULL, NULL);
    if (st == DS_OK)
        st = ds_sql_exec(s,
                         "INSERT INTO device_status_log (device_id, from_status, to_status, reason, at) "
                         "VALUES ($1, $4, 'revoked', $2, $3)",
                         a, 4, NULL, NULL, NULL);
    return st;
}

/* Step 2's limits: a message naming the kind and the limit. */
static ds_status check_limits(ds_store *s, const gathered *g)
{
    if (g->n_auth > DROT_REVOCATION_MAX_AUTHORITIES)
        return ds_store_fail(s, DS_E_CONFLICT,
                             "the list would hold %zu authority keys; one list holds at most %u (a link "
                             "frame's worth): nothing was revoked",
                             g->n_auth, (unsigned)DROT_REVOCATION_MAX_AUTHORITIES);
    if (g->n_drk > DROT_REVOCATION_MAX_DRKS)
        return ds_store_fail(s, DS_E_CONFLICT,
                             "the list would hold %zu device root keys; one list holds at most %u (a link "
                             "frame's worth): nothing was revoked",
                             g->n_drk, (unsigned)DROT_REVOCATION_MAX_DRKS);
    if (g->n_cert > DROT_REVOCATION_MAX_CERTS)
        return ds_store_fail(s, DS_E_CONFLICT,
                             "the list would hold %zu certificates; one list holds at most %u (a link "
                             "frame's worth): nothing was revoked",
                             g->n_cert, (unsigned)DROT_REVOCATION_MAX_CERTS);
    return DS_OK;
}

/* Steps 2–4 for version v. */
static ds_status publish_list(ds_store *s, publish *p, uint64_t v)
{
    ds_rev_list *L = &p->list;
    char err[256] = "";
    ds_status st =
        ds_sql_exec(s, "SELECT kind, value FROM revocations ORDER BY id", NULL, 0, gather_row, &p->g, NULL);
    if (st != DS_OK || (st = check_limits(s, &p->g)) != DS_OK)
        return st;
    build_list(&p->g, v, p->now, &p->l);
    memset(L, 0, sizeof *L);
    L->version = v;
    L->issued_at = p->now;
    L->entries = p->g.total;
    drot_status ds = drot_revocation_encode(&p->l, L->payload, sizeof L->payload, &L->payload_len);
    if (ds != DROT_OK)
        return ds_store_fail(s, DS_E_CONFLICT, "cannot encode revocation list %llu: %s",
                             (unsigned long long)v, drot_status_str(ds));
    if (drot_sha256(L->payload, L->payload_len, L->digest) != DROT_OK)
        return ds_store_fail(s, DS_E_DB, "cannot hash revocation list %llu", (unsigned long long)v);
    if (p->sign(p->sign_ctx, &p->l, L->payload, L->payload_len, L->signed_msg, sizeof L->signed_msg,
                &L->signed_len, L->signer, err, sizeof err) != 0)
        return ds_store_fail(s, DS_E_CONFLICT, "revocation list %llu not signed: %s: nothing was revoked",
                             (unsigned long long)v, err);
    ds_sql_val a[] = {ds_sql_int((int64_t)v),
                      ds_sql_int(p->now),
                      ds_sql_blob(L->payload, L->payload_len),
                      ds_sql_blob(L->digest, sizeof L->digest),
                      ds_sql_text(L->signer),
                      ds_sql_blob(L->signed_msg, L->signed_len),
                      ds_sql_int((int64_t)L->entries)};
    return ds_sql_exec(
        s,
        "INSERT INTO revocation_lists (version, issued_at, payload, digest, signer, signed, entries) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        a, 7, NULL, NULL, NULL);
}

/* The revocation row (step 1); device_id only when the value is a device's
 * (two texts, so that no untyped NULL parameter is needed). */
static ds_status insert_revocation(ds_store *s, const publish *p, const dev_ctx *d, uint64_t v)
{
    const ds_rev_new *r = p->req;
    ds_sql_val a[] = {ds_sql_text(ds_rev_kind_name(r->kind)),
                      ds_sql_blob(p->value, p->value_len),
                      ds_sql_text(r->reason),
                      ds_sql_text(r->by),
                      ds_sql_int(p->now),
                      ds_sql_int((int64_t)v),
                      ds_sql_blob(d->id, sizeof d->id)};
    ds_status st;
    if (d->found)
        st =
            ds_sql_exec(s,
                        "INSERT INTO revocations (kind, value, reason, revoked_by, revoked_at, list_version, "
                        "device_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        a, 7, NULL, NULL, NULL);
    else
        st =
            ds_sql_exec(s,
                        "INSERT INTO revocations (kind, value, reason, revoked_by, revoked_at, list_version) "
                        "VALUES ($1, $2, $3, $4, $5, $6)",
                        a, 6, NULL, NULL, NULL);
    if (st == DS_E_EXISTS)
        return ds_store_fail(s, DS_E_EXISTS, "this %s is revoked already: nothing changed",
                             r->kind == DS_REV_CERT  ? "certificate"
                             : r->kind == DS_REV_DRK ? "device root key"
                                                     : "authority key");
    return st;
}

/* The audit entry of a revocation (audit.h), in the publishing transaction:
 * it commits or rolls back with the revocation. actor "operator:<by>" with
 * anything but printable non-space ASCII replaced by '_'. */
static ds_status audit_revocation(ds_store *s, const publish *p, const dev_ctx *d, bool moved, uint64_t v)
{
    char actor[DS_AUDIT_ACTOR_MAX + 1], subject[80], value[2 * DS_REV_VALUE_MAX + 1], dev[33];
    int n = snprintf(actor, sizeof actor, "operator:%s", p->req->by);
    for (int i = 0; i < n && actor[i] != '\0'; i++)
        if (actor[i] < 0x21 || actor[i] > 0x7e)
            actor[i] = '_';
    for (size_t i = 0; i < p->value_len; i++)
        snprintf(value + 2 * i, 3, "%02x", p->value[i]);
    for (size_t i = 0; i < sizeof d->id; i++)
        snprintf(dev + 2 * i, 3, "%02x", d->id[i]);
    snprintf(subject, sizeof subject, "%s:%s", ds_rev_kind_name(p->req->kind), value);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:o, s:b}", "kind", ds_rev_kind_name(p->req->kind), "value",
                          value, "reason", p->req->reason, "list_version", (json_int_t)v, "device_id",
                          d->found ? json_string(dev) : json_null(), "device_revoked", moved);
    char *detail = j == NULL ? NULL : json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (detail == NULL)
        return ds_store_fail(s, DS_E_ARG, "cannot build the audit entry (is the reason valid UTF-8?)");
    ds_status st = ds_audit_append(s, actor, "revocation.add", subject, detail);
    free(detail);
    return st;
}

static ds_status add_tx(ds_store *s, void *ctx)
{
    publish *p = ctx;
    uint64_t v = 0;
    dev_ctx d;
    memset(&d, 0, sizeof d);
    ds_status st = ds_sql_lock(s, REV_LOCK);
    if (st == DS_OK)
        st = ds_rev_version(s, &v);
    if (st == DS_OK && v >= DROT_REVOCATION_MAX_VERSION)
        st = ds_store_fail(s, DS_E_CONFLICT, "the list version cannot rise any more");
    if (st == DS_OK)
        st = find_device(s, p, &d);
    if (st == DS_OK)
        st = insert_revocation(s, p, &d, v + 1);
    if (st == DS_OK)
        st = publish_list(s, p, v + 1);
    bool moved = d.found && strcmp(d.status, "revoked") != 0 && strcmp(d.status, "decommissioned") != 0;
    if (st == DS_OK)
        st = revoke_device(s, p, &d);
    if (st == DS_OK)
        st = audit_revocation(s, p, &d, moved, v + 1);
    if (st != DS_OK)
        return st;
    ds_revocation *x = &p->rev;
    memset(x, 0, sizeof *x);
    x->kind = p->req->kind;
    memcpy(x->value, p->value, p->value_len);
    x->value_len = p->value_len;
    snprintf(x->reason, sizeof x->reason, "%s", p->req->reason);
    snprintf(x->revoked_by, sizeof x->revoked_by, "%s", p->req->by);
    x->revoked_at = p->now;
    x->has_device = d.found;
    memcpy(x->device_id, d.id, sizeof x->device_id);
    x->list_version = v + 1;
    ds_sql_val a[] = {ds_sql_int((int64_t)(v + 1))};
    return ds_sql_int1(s, "SELECT id FROM revocations WHERE list_version = $1", a, 1, &x->id, NULL);
}

static bool text_ok(const char *t, size_t max)
{
    size_t n = t == NULL ? 0 : strlen(t);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            return false;
    return true;
}

/* see revocation.h */
ds_status ds_rev_add(ds_store *s, const ds_rev_new *r, int64_t now, ds_rev_sign_fn sign, void *sign_ctx,
                     ds_revocation *out, ds_rev_list *list)
{
    if (s == NULL || r == NULL || sign == NULL)
        return DS_E_ARG;
    if (!text_ok(r->reason, DS_REASON_MAX))
        return ds_store_fail(s, DS_E_ARG, "a revocation needs a reason: 1..%d bytes, no control characters",
                             DS_REASON_MAX);
    if (!text_ok(r->by, DS_REV_BY_MAX))
        return ds_store_fail(s, DS_E_ARG, "who revokes must be named: 1..%d bytes, no control characters",
                             DS_REV_BY_MAX);
    publish *p = ds_calloc(1, sizeof *p);
    if (p == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "out of memory");
    p->g.auth = ds_calloc(DROT_REVOCATION_MAX_AUTHORITIES, 32);
    p->g.drk = ds_calloc(DROT_REVOCATION_MAX_DRKS, 32);
    p->g.cert = ds_calloc(DROT_REVOCATION_MAX_CERTS, DROT_REVOCATION_MAX_SERIAL);
    ds_status st = p->g.auth == NULL || p->g.drk == NULL || p->g.cert == NULL
                       ? ds_store_fail(s, DS_E_NOMEM, "out of memory")
                       : norm_value(s, r->kind, r->value, r->value_len, p->value, &p->value_len);
    if (st == DS_OK) {
        p->req = r;
        p->now = now;
        p->sign = sign;
        p->sign_ctx = sign_ctx;
        st = ds_sql_tx(s, add_tx, p);
    }
    if (st == DS_OK && out != NULL)
        *out = p->rev;
    if (st == DS_OK && list != NULL)
        *list = p->list;
    ds_free(p->g.auth);
    ds_free(p->g.drk);
    ds_free(p->g.cert);
    ds_free(p);
    return st;
}

/* ---- signing through key custody ----------------------------------------------------------- */

static int fail_msg(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_msg(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* SHA-256 of the public key of custody key `name`. */
static int key_hash(ds_keystore *ks, const char *name, uint8_t h[DROT_SHA256_LEN], char *err, size_t cap)
{
    drot_p256_pub pub;
    uint8_t raw[DROT_P256_PUB_LEN];
    ds_keys_status kst = ds_keys_p256_public(ks, name, &pub, raw);
    if (kst != DS_KEYS_OK)
        return fail_msg(err, cap, "authority key '%s': %s", name, ds_keys_status_str(kst));
    if (drot_sha256(raw, sizeof raw, h) != DROT_OK)
        return fail_msg(err, cap, "cannot hash authority key '%s'", name);
    return 0;
}

/* Signs payload with key `name` as a revocation list. */
static int sign_with(ds_keystore *ks, const char *name, const uint8_t *payload, size_t len, uint8_t *out,
                     size_t cap, size_t *out_len, char *err, size_t errcap)
{
    ds_keys_status kst =
        ds_keys_authority_sign(ks, name, DROT_AUTH_CT_REVOCATION, payload, len, out, cap, out_len);
    if (kst != DS_KEYS_OK)
        return fail_msg(err, errcap, "authority key '%s' cannot sign: %s%s%s", name, ds_keys_status_str(kst),
                        ds_keystore_error(ks)[0] ? ": " : "", ds_keystore_error(ks));
    return 0;
}

/* see revocation.h */
int ds_rev_custody_sign(void *ctx, const drot_revocation_list *l, const uint8_t *payload, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len, char signer[DS_KEY_NAME_MAX], char *err,
                        size_t errcap)
{
    ds_rev_custody *c = ctx;
    uint8_t h[DROT_SHA256_LEN];
    ds_key_info keys[64];
    size_t n = 0;
    if (c == NULL || c->ks == NULL || c->preferred == NULL)
        return fail_msg(err, errcap, "internal: no key store");
    if (key_hash(c->ks, c->preferred, h, err, errcap) != 0)
        return -1;
    if (!drot_revocation_has_authority(l, h)) {
        snprintf(signer, DS_KEY_NAME_MAX, "%s", c->preferred);
        return sign_with(c->ks, c->preferred, payload, len, out, cap, out_len, err, errcap);
    }
    /* The preferred key is revoked: the newest authority key that is not. */
    ds_keys_status kst = ds_keys_list(c->ks, keys, sizeof keys / sizeof keys[0], &n);
    if (kst != DS_KEYS_OK)
        return fail_msg(err, errcap, "cannot list the key store: %s", ds_keys_status_str(kst));
    for (size_t i = n; i-- > 0;) {
        if (keys[i].role != DS_ROLE_AUTHORITY || key_hash(c->ks, keys[i].name, h, err, errcap) != 0 ||
            drot_revocation_has_authority(l, h))
            continue;
        snprintf(signer, DS_KEY_NAME_MAX, "%s", keys[i].name);
        return sign_with(c->ks, keys[i].name, payload, len, out, cap, out_len, err, errcap);
    }
    return fail_msg(err, errcap,
                    "every authority key in the key store would be revoked by this list (make a new one "
                    "and rotate the devices to it first)");
}

/* see revocation.h */
int ds_rev_resign(ds_keystore *ks, const char *name, const ds_rev_list *l, uint8_t *out, size_t cap,
                  size_t *out_len, char *err, size_t errcap)
{
    drot_revocation_list dl;
    uint8_t h[DROT_SHA256_LEN];
    if (ks == NULL || name == NULL || l == NULL)
        return fail_msg(err, errcap, "internal: missing argument");
    drot_status ds = drot_revocation_decode(l->payload, l->payload_len, &dl);
    if (ds != DROT_OK)
        return fail_msg(err, errcap, "stored list %llu does not decode: %s", (unsigned long long)l->version,
                        drot_status_str(ds));
    if (key_hash(ks, name, h, err, errcap) != 0)
        return -1;
    if (drot_revocation_has_authority(&dl, h))
        return fail_msg(err, errcap, "authority key '%s' is revoked by list %llu itself", name,
                        (unsigned long long)l->version);
    return sign_with(ks, name, l->payload, l->payload_len, out, cap, out_len, err, errcap);
}

/* see revocation.h */
int ds_rev_key_revoked(ds_store *s, ds_keystore *ks, const char *name, char *err, size_t errcap)
{
    uint8_t h[DROT_SHA256_LEN];
    bool revoked = false;
    if (s == NULL || ks == NULL || name == NULL)
        return fail_msg(err, errcap, "internal: missing argument");
    if (key_hash(ks, name, h, err, errcap) != 0)
        return -1;
    ds_status st = ds_rev_is_revoked(s, DS_REV_AUTHORITY, h, sizeof h, &revoked);
    if (st != DS_OK)
        return fail_msg(err, errcap, "cannot read the revocations: %s", ds_store_error(s));
    return revoked ? 1 : 0;
}
