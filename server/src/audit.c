/*
 * audit.c — the audit log's storage (see audit.h; docs/audit.md), written
 * once against the portable SQL layer (sql.h) for both backends.
 *
 * Appending: begin (unless the caller's transaction is open), take the
 * "audit" lock, read the head, insert head + 1 with its hash, commit. The
 * lock is what keeps seq gapless and the chain unforked across servers on
 * one PostgreSQL (on SQLite the write transaction is already exclusive).
 *
 * Checkpointing: read the head and the last checkpoint, recompute the
 * entries between them, sign (slow with the file key store: the key is
 * decrypted with scrypt for every signature, so never under the lock),
 * then insert under the lock only if no checkpoint came in meanwhile.
 */
#define _POSIX_C_SOURCE 200809L
#include "audit.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sql.h"
#include "store_internal.h"
#include "store_pg_internal.h"
#include "store_sqlite_internal.h"

#define DETAIL_INPUT_MAX (64u * 1024u) /* a detail is parsed only below this size */
#define BUSY_RETRIES     3
#define CHECK_PAGE       DS_AUDIT_LIST_MAX

static const uint8_t k_zero_hash[DS_AUDIT_HASH_LEN];

/* Whether the caller has a transaction open on s (then appends join it). */
static bool in_tx(ds_store *s)
{
    if (strcmp(ds_store_backend(s), "postgres") == 0)
        return PQtransactionStatus(((pg_store *)s)->conn) != PQTRANS_IDLE;
    return sqlite3_get_autocommit(((sq_store *)s)->db) == 0;
}

/* ---- the head ------------------------------------------------------------------------ */

typedef struct head {
    int64_t seq;
    uint8_t hash[DS_AUDIT_HASH_LEN];
    bool found, hash_ok;
} head;

static int head_row(const ds_sql_row *r, void *ctx)
{
    head *h = ctx;
    h->found = true;
    h->seq = ds_sql_get_int(r, 0);
    h->hash_ok = ds_sql_copy_blob(r, 1, h->hash, DS_AUDIT_HASH_LEN);
    return 1;
}

static ds_status read_head(ds_store *s, head *h)
{
    memset(h, 0, sizeof *h);
    ds_status st = ds_sql_exec(s, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", NULL, 0,
                               head_row, h, NULL);
    if (st == DS_OK && h->found && !h->hash_ok)
        return ds_store_fail(s, DS_E_CORRUPT, "audit: entry %lld has a hash that is not 32 bytes",
                             (long long)h->seq);
    return st;
}

/* see audit.h */
ds_status ds_audit_head(ds_store *s, int64_t *seq, uint8_t hash[DS_AUDIT_HASH_LEN])
{
    if (s == NULL)
        return DS_E_ARG;
    head h;
    ds_status st = read_head(s, &h);
    if (st != DS_OK)
        return st;
    if (seq != NULL)
        *seq = h.found ? h.seq : 0;
    if (hash != NULL)
        memcpy(hash, h.found ? h.hash : k_zero_hash, DS_AUDIT_HASH_LEN);
    return DS_OK;
}

/* ---- append ------------------------------------------------------------------------- */

/* The detail as canonical JSON text (malloc'ed), or NULL after ds_store_fail. */
static char *canonical_detail(ds_store *s, const char *detail_json)
{
    if (detail_json == NULL)
        detail_json = "{}";
    size_t n = strlen(detail_json);
    if (n > DETAIL_INPUT_MAX) {
        ds_store_fail(s, DS_E_ARG, "audit: detail of %zu bytes is over the limit of %d", n,
                      DS_AUDIT_DETAIL_MAX);
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(detail_json, n, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL || !json_is_object(j)) {
        ds_store_fail(s, DS_E_ARG, "audit: detail must be a JSON object%s%s", j == NULL ? ": " : "",
                      j == NULL ? e.text : "");
        json_decref(j);
        return NULL;
    }
    char *c = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (c == NULL) {
        ds_store_fail(s, DS_E_NOMEM, "audit: out of memory");
        return NULL;
    }
    if (strlen(c) > DS_AUDIT_DETAIL_MAX) {
        ds_store_fail(s, DS_E_ARG, "audit: detail of %zu bytes (canonical) is over the limit of %d",
                      strlen(c), DS_AUDIT_DETAIL_MAX);
        free(c);
        return NULL;
    }
    return c;
}

/* Inside a transaction: lock, read the head, insert head + 1. */
static ds_status append_locked(ds_store *s, int64_t at, const char *actor, const char *action,
                               const char *subject, const char *detail, int64_t *seq_out,
                               uint8_t hash_out[DS_AUDIT_HASH_LEN])
{
    ds_status st = ds_sql_lock(s, "audit");
    head h;
    if (st == DS_OK)
        st = read_head(s, &h);
    if (st != DS_OK)
        return st;
    int64_t seq = h.found ? h.seq + 1 : 1;
    const uint8_t *prev = h.found ? h.hash : k_zero_hash;
    uint8_t hash[DS_AUDIT_HASH_LEN];
    if (ds_audit_entry_hash(seq, at, actor, action, subject, detail, prev, hash) != DROT_OK)
        return ds_store_fail(s, DS_E_DB, "audit: cannot hash the entry");
    ds_sql_val a[] = {ds_sql_int(seq),
                      ds_sql_int(at),
                      ds_sql_text(actor),
                      ds_sql_text(action),
                      ds_sql_text(subject),
                      ds_sql_text(detail),
                      ds_sql_blob(prev, DS_AUDIT_HASH_LEN),
                      ds_sql_blob(hash, DS_AUDIT_HASH_LEN)};
    st = ds_sql_exec(s,
                     "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                     a, 8, NULL, NULL, NULL);
    if (st != DS_OK)
        return st;
    *seq_out = seq;
    memcpy(hash_out, hash, DS_AUDIT_HASH_LEN);
    return DS_OK;
}

static const ds_audit_signer *g_auto_signer;
static uint32_t g_auto_every;
static _Atomic int_least64_t g_auto_last_cp; /* the last checkpoint seq this process knows of */

static void auto_checkpoint(ds_store *s, int64_t seq);

/* see audit.h */
ds_status ds_audit_append_ex(ds_store *s, const char *actor, const char *action, const char *subject,
                             const char *detail_json, int64_t *seq_out, uint8_t hash_out[DS_AUDIT_HASH_LEN])
{
    if (s == NULL)
        return DS_E_ARG;
    char why[160];
    if (!ds_audit_actor_ok(actor, why, sizeof why) || !ds_audit_action_ok(action, why, sizeof why) ||
        !ds_audit_subject_ok(subject, why, sizeof why))
        return ds_store_fail(s, DS_E_ARG, "audit: %s", why);
    char *detail = canonical_detail(s, detail_json);
    if (detail == NULL)
        return DS_E_ARG;
    int64_t seq = 0;
    uint8_t hash[DS_AUDIT_HASH_LEN];
    int64_t at = ds_store_now();
    ds_status st;
    bool own = !in_tx(s);
    if (!own) {
        st = append_locked(s, at, actor, action, subject, detail, &seq, hash);
    } else {
        for (int attempt = 0;; attempt++) {
            st = ds_sql_begin(s);
            if (st == DS_OK)
                st = append_locked(s, at, actor, action, subject, detail, &seq, hash);
            st = st == DS_OK ? ds_sql_commit(s) : ds_sql_rollback(s, st);
            if (st != DS_E_BUSY || attempt == BUSY_RETRIES)
                break;
        }
    }
    free(detail);
    if (st != DS_OK)
        return st;
    if (seq_out != NULL)
        *seq_out = seq;
    if (hash_out != NULL)
        memcpy(hash_out, hash, DS_AUDIT_HASH_LEN);
    if (own)
        auto_checkpoint(s, seq);
    return DS_OK;
}

/* see audit.h */
ds_status ds_audit_append(ds_store *s, const char *actor, const char *action, const char *subject,
                          const char *detail_json)
{
    return ds_audit_append_ex(s, actor, action, subject, detail_json, NULL, NULL);
}

/* ---- list and check ------------------------------------------------------------------- */

static void row_entry(const ds_sql_row *r, ds_audit_entry *e)
{
    memset(e, 0, sizeof *e);
    e->seq = ds_sql_get_int(r, 0);
    e->at = ds_sql_get_int(r, 1);
    e->actor = ds_sql_get_text(r, 2);
    e->action = ds_sql_get_text(r, 3);
    e->subject = ds_sql_get_text(r, 4);
    e->detail = ds_sql_get_text(r, 5);
    e->hashes_ok = ds_sql_copy_blob(r, 6, e->prev_hash, DS_AUDIT_HASH_LEN);
    e->hashes_ok = ds_sql_copy_blob(r, 7, e->hash, DS_AUDIT_HASH_LEN) && e->hashes_ok;
    if (!e->hashes_ok) {
        memset(e->prev_hash, 0, DS_AUDIT_HASH_LEN);
        memset(e->hash, 0, DS_AUDIT_HASH_LEN);
    }
}

typedef struct list_ctx {
    ds_audit_cb cb;
    void *ctx;
} list_ctx;

static int list_row(const ds_sql_row *r, void *ctx)
{
    list_ctx *l = ctx;
    ds_audit_entry e;
    row_entry(r, &e);
    return l->cb(&e, l->ctx);
}

static const char k_select_entries[] = "SELECT seq, at, actor, action, subject, detail, prev_hash, hash "
                                       "FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";

/* see audit.h */
ds_status ds_audit_list(ds_store *s, int64_t after, size_t limit, ds_audit_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    if (limit == 0 || limit > DS_AUDIT_LIST_MAX)
        return ds_store_fail(s, DS_E_ARG, "audit: limit %zu is not in 1..%d", limit, DS_AUDIT_LIST_MAX);
    list_ctx l = {cb, ctx};
    ds_sql_val a[] = {ds_sql_int(after), ds_sql_int((int64_t)limit)};
    return ds_sql_exec(s, k_select_entries, a, 2, list_row, &l, NULL);
}

/* Walks the chain from (seq, hash) onward: each entry must be the next seq,
 * name the previous hash, and hash to its stored hash. */
typedef struct walk {
    int64_t next;                    /* the seq the next row must have */
    uint8_t prev[DS_AUDIT_HASH_LEN]; /* the hash it must name */
    int64_t stop;                    /* last seq to look at (0 = all) */
    int64_t rows;                    /* rows seen in this page */
    int64_t bad;                     /* first bad seq, 0 = none */
    char why[200];
} walk;

static int walk_row(const ds_sql_row *r, void *ctx)
{
    walk *w = ctx;
    ds_audit_entry e;
    row_entry(r, &e);
    if (w->stop != 0 && e.seq > w->stop)
        return 1;
    w->rows++;
    uint8_t h[DS_AUDIT_HASH_LEN];
    if (e.seq != w->next) {
        w->bad = w->next;
        snprintf(w->why, sizeof w->why, "entry %lld is missing (the next entry is %lld)", (long long)w->next,
                 (long long)e.seq);
    } else if (!e.hashes_ok) {
        w->bad = e.seq;
        snprintf(w->why, sizeof w->why, "entry %lld: a stored hash is not 32 bytes", (long long)e.seq);
    } else if (memcmp(e.prev_hash, w->prev, DS_AUDIT_HASH_LEN) != 0) {
        w->bad = e.seq;
        snprintf(w->why, sizeof w->why, "entry %lld: prev_hash is not the hash of entry %lld",
                 (long long)e.seq, (long long)e.seq - 1);
    } else if (ds_audit_entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.detail, e.prev_hash, h) !=
                   DROT_OK ||
               memcmp(h, e.hash, DS_AUDIT_HASH_LEN) != 0) {
        w->bad = e.seq;
        snprintf(w->why, sizeof w->why, "entry %lld: its content does not match its hash (altered)",
                 (long long)e.seq);
    }
    if (w->bad != 0)
        return 1;
    w->next = e.seq + 1;
    memcpy(w->prev, e.hash, DS_AUDIT_HASH_LEN);
    return 0;
}

/* Walks entries from w->next (with w->prev) to w->stop (0: to the end). */
static ds_status walk_chain(ds_store *s, walk *w)
{
    for (;;) {
        w->rows = 0;
        ds_sql_val a[] = {ds_sql_int(w->next - 1), ds_sql_int(CHECK_PAGE)};
        ds_status st = ds_sql_exec(s, k_select_entries, a, 2, walk_row, w, NULL);
        if (st != DS_OK)
            return st;
        if (w->bad != 0)
            return ds_store_fail(s, DS_E_CORRUPT, "audit: %s", w->why);
        if (w->rows < CHECK_PAGE || (w->stop != 0 && w->next > w->stop))
            return DS_OK;
    }
}

/* see audit.h */
ds_status ds_audit_check(ds_store *s, int64_t *bad_seq)
{
    if (s == NULL)
        return DS_E_ARG;
    if (bad_seq != NULL)
        *bad_seq = 0;
    walk w;
    memset(&w, 0, sizeof w);
    w.next = 1;
    ds_status st = walk_chain(s, &w);
    if (st == DS_E_CORRUPT && bad_seq != NULL)
        *bad_seq = w.bad;
    return st;
}

/* ---- checkpoints ---------------------------------------------------------------------- */

typedef struct cp_one {
    ds_audit_checkpoint c;
    bool found, ok;
} cp_one;

static void row_checkpoint(const ds_sql_row *r, ds_audit_checkpoint *c, bool *ok)
{
    memset(c, 0, sizeof *c);
    c->seq = ds_sql_get_int(r, 0);
    bool a = ds_sql_copy_blob(r, 1, c->hash, DS_AUDIT_HASH_LEN);
    c->at = ds_sql_get_int(r, 2);
    c->prev_seq = ds_sql_get_int(r, 3);
    ds_sql_copy_text(r, 4, c->key_fpr, sizeof c->key_fpr);
    bool b = ds_sql_copy_blob(r, 5, c->signature, DS_AUDIT_SIG_LEN);
    *ok = a && b;
}

static int cp_one_row(const ds_sql_row *r, void *ctx)
{
    cp_one *o = ctx;
    o->found = true;
    row_checkpoint(r, &o->c, &o->ok);
    return 1;
}

static const char k_select_cps[] =
    "SELECT seq, hash, at, prev_seq, key_fpr, signature FROM audit_checkpoints";

static ds_status last_checkpoint(ds_store *s, cp_one *o)
{
    memset(o, 0, sizeof *o);
    char sql[200];
    snprintf(sql, sizeof sql, "%s ORDER BY seq DESC LIMIT 1", k_select_cps);
    return ds_sql_exec(s, sql, NULL, 0, cp_one_row, o, NULL);
}

typedef struct cp_list {
    ds_audit_checkpoint_cb cb;
    void *ctx;
} cp_list;

static int cp_list_row(const ds_sql_row *r, void *ctx)
{
    cp_list *l = ctx;
    ds_audit_checkpoint c;
    bool ok;
    row_checkpoint(r, &c, &ok);
    return l->cb(&c, l->ctx);
}

/* see audit.h */
ds_status ds_audit_checkpoint_list(ds_store *s, int64_t after, size_t limit, ds_audit_checkpoint_cb cb,
                                   void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    if (limit == 0 || limit > DS_AUDIT_LIST_MAX)
        return ds_store_fail(s, DS_E_ARG, "audit: limit %zu is not in 1..%d", limit, DS_AUDIT_LIST_MAX);
    char sql[200];
    snprintf(sql, sizeof sql, "%s WHERE seq > $1 ORDER BY seq LIMIT $2", k_select_cps);
    cp_list l = {cb, ctx};
    ds_sql_val a[] = {ds_sql_int(after), ds_sql_int((int64_t)limit)};
    return ds_sql_exec(s, sql, a, 2, cp_list_row, &l, NULL);
}

/* The entries (last checkpoint, head] chain onto the last checkpoint (L4). */
static int prev_row(const ds_sql_row *r, void *ctx)
{
    head *h = ctx;
    h->found = true;
    h->seq = ds_sql_get_int(r, 0);
    h->hash_ok = ds_sql_copy_blob(r, 1, h->hash, DS_AUDIT_HASH_LEN);
    return 1;
}

static ds_status check_since(ds_store *s, const cp_one *last, const head *h)
{
    walk w;
    memset(&w, 0, sizeof w);
    w.stop = h->seq;
    w.next = 1;
    if (last->found) {
        if (!last->ok)
            return ds_store_fail(s, DS_E_CORRUPT, "audit: checkpoint %lld is malformed",
                                 (long long)last->c.seq);
        /* The walk starts at the checkpointed entry itself, from the
         * prev_hash it names: so its content is recomputed too, and then
         * its hash must be the one signed. */
        ds_sql_val a[] = {ds_sql_int(last->c.seq)};
        head at;
        memset(&at, 0, sizeof at);
        ds_status st =
            ds_sql_exec(s, "SELECT seq, prev_hash FROM audit_log WHERE seq = $1", a, 1, prev_row, &at, NULL);
        if (st != DS_OK)
            return st;
        if (!at.found || !at.hash_ok)
            return ds_store_fail(s, DS_E_CORRUPT, "audit: entry %lld, signed by a checkpoint, is missing",
                                 (long long)last->c.seq);
        w.next = last->c.seq;
        memcpy(w.prev, at.hash, DS_AUDIT_HASH_LEN);
        w.stop = last->c.seq;
        st = walk_chain(s, &w);
        if (st != DS_OK)
            return st;
        if (memcmp(w.prev, last->c.hash, DS_AUDIT_HASH_LEN) != 0)
            return ds_store_fail(s, DS_E_CORRUPT, "audit: entry %lld is not the one its checkpoint signed",
                                 (long long)last->c.seq);
        w.stop = h->seq;
    }
    ds_status st = walk_chain(s, &w);
    if (st == DS_OK && w.next != h->seq + 1)
        return ds_store_fail(s, DS_E_CORRUPT, "audit: entry %lld is missing", (long long)w.next);
    return st;
}

static ds_status insert_checkpoint(ds_store *s, const ds_audit_checkpoint *c, int64_t expect_last,
                                   bool *raced)
{
    *raced = false;
    ds_status st = ds_sql_begin(s);
    if (st == DS_OK)
        st = ds_sql_lock(s, "audit");
    cp_one now;
    if (st == DS_OK)
        st = last_checkpoint(s, &now);
    if (st == DS_OK && (now.found ? now.c.seq : 0) != expect_last) {
        *raced = true;
        return ds_sql_rollback(s, DS_OK);
    }
    ds_sql_val a[] = {ds_sql_int(c->seq),      ds_sql_blob(c->hash, DS_AUDIT_HASH_LEN),
                      ds_sql_int(c->at),       ds_sql_int(c->prev_seq),
                      ds_sql_text(c->key_fpr), ds_sql_blob(c->signature, DS_AUDIT_SIG_LEN)};
    if (st == DS_OK)
        st = ds_sql_exec(s,
                         "INSERT INTO audit_checkpoints (seq, hash, at, prev_seq, key_fpr, signature) "
                         "VALUES ($1, $2, $3, $4, $5, $6)",
                         a, 6, NULL, NULL, NULL);
    return st == DS_OK ? ds_sql_commit(s) : ds_sql_rollback(s, st);
}

/* see audit.h */
ds_status ds_audit_sign_head(ds_store *s, const ds_audit_signer *signer, ds_audit_checkpoint *out)
{
    if (s == NULL || signer == NULL || signer->sign == NULL || strlen(signer->key_fpr) != DS_AUDIT_FPR_LEN)
        return DS_E_ARG;
    if (in_tx(s))
        return ds_store_fail(s, DS_E_ARG, "audit: a checkpoint is not taken inside another transaction");
    for (int attempt = 0; attempt <= BUSY_RETRIES; attempt++) {
        head h;
        cp_one last;
        ds_status st = read_head(s, &h);
        if (st == DS_OK)
            st = last_checkpoint(s, &last);
        if (st != DS_OK)
            return st;
        if (!h.found)
            return ds_store_fail(s, DS_E_NOT_FOUND, "audit: the log is empty, there is nothing to sign");
        if (last.found && last.c.seq == h.seq) {
            if (out != NULL)
                *out = last.c;
            atomic_store(&g_auto_last_cp, h.seq);
            return DS_OK;
        }
        if (last.found && last.c.seq > h.seq)
            return ds_store_fail(s, DS_E_CORRUPT, "audit: checkpoint %lld is beyond the last entry %lld",
                                 (long long)last.c.seq, (long long)h.seq);
        if ((st = check_since(s, &last, &h)) != DS_OK)
            return st;
        ds_audit_checkpoint c;
        memset(&c, 0, sizeof c);
        c.seq = h.seq;
        memcpy(c.hash, h.hash, DS_AUDIT_HASH_LEN);
        c.at = ds_store_now();
        c.prev_seq = last.found ? last.c.seq : 0;
        memcpy(c.key_fpr, signer->key_fpr, sizeof c.key_fpr);
        uint8_t digest[DS_AUDIT_HASH_LEN];
        if (ds_audit_checkpoint_digest(c.seq, c.hash, c.at, c.prev_seq, c.key_fpr, digest) != DROT_OK)
            return ds_store_fail(s, DS_E_DB, "audit: cannot compute the checkpoint digest");
        if ((st = signer->sign(signer->ctx, digest, c.signature)) != DS_OK)
            return ds_store_fail(s, DS_E_ARG, "audit: the audit key did not sign the checkpoint (%s)",
                                 ds_status_str(st));
        bool raced = false;
        st = insert_checkpoint(s, &c, c.prev_seq, &raced);
        if (st == DS_E_BUSY || raced)
            continue; /* another checkpoint came in: look again */
        if (st != DS_OK)
            return st;
        if (out != NULL)
            *out = c;
        atomic_store(&g_auto_last_cp, c.seq);
        return DS_OK;
    }
    return ds_store_fail(s, DS_E_BUSY, "audit: other checkpoints kept coming in; try again");
}

/* ---- automatic checkpoints ---------------------------------------------------------- */

/* see audit.h */
void ds_audit_auto_checkpoint(const ds_audit_signer *signer, uint32_t every)
{
    g_auto_signer = every != 0 ? signer : NULL;
    g_auto_every = every;
    atomic_store(&g_auto_last_cp, 0);
}

static void auto_checkpoint(ds_store *s, int64_t seq)
{
    const ds_audit_signer *sg = g_auto_signer;
    if (sg == NULL || seq - atomic_load(&g_auto_last_cp) < (int64_t)g_auto_every)
        return;
    /* The cache may be behind (another server, a restart): ask the database. */
    cp_one last;
    if (last_checkpoint(s, &last) == DS_OK) {
        atomic_store(&g_auto_last_cp, last.found ? last.c.seq : 0);
        if (seq - (last.found ? last.c.seq : 0) < (int64_t)g_auto_every)
            return;
    }
    char saved[DS_ERR_MAX];
    memcpy(saved, s->err, sizeof saved);
    ds_audit_checkpoint c;
    ds_status st = ds_audit_sign_head(s, sg, &c);
    if (st != DS_OK && sg->log != NULL) {
        char msg[DS_ERR_MAX + 80];
        snprintf(msg, sizeof msg, "automatic audit checkpoint at entry %lld failed: %s", (long long)seq,
                 ds_store_error(s));
        sg->log(sg->ctx, msg);
    }
    memcpy(s->err, saved, sizeof saved); /* the append itself succeeded */
}

/* see audit.h */
void ds_audit_committed(ds_store *s, int64_t seq)
{
    if (s != NULL && seq > 0 && !in_tx(s))
        auto_checkpoint(s, seq);
}
