/*
 * drotctl_audit.c — the audit log commands of drotctl (docs/audit.md;
 * admin API, docs/api.md "Audit log"):
 *
 *   drotctl [GLOBAL] audit list [--after SEQ] [--limit N] [--json]
 *   drotctl [GLOBAL] audit verify (--keys DIR | --trust FILE) [--state FILE] [--json] [--progress]
 *   drotctl [GLOBAL] audit checkpoint [--json]
 *   drotctl audit export-key --dir DIR [--out FILE]
 *
 * verify trusts nothing the server says about itself: it fetches every
 * entry and checkpoint, recomputes each entry's hash from its fields
 * (audit_chain.h), checks that each entry names its predecessor's hash,
 * that seq runs 1..n without a gap, and every checkpoint's signature
 * against the audit keys it pins (from the key directory or a PEM file the
 * operator keeps), that checkpoints chain by prev_seq and that every entry
 * a checkpoint signed is still there, unchanged. With --state it also
 * remembers the head it verified and refuses a later log that no longer
 * contains it (a rollback of the whole log). Exit 1 on any problem, naming
 * the first bad seq.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit_chain.h"
#include "drot_crypto.h"
#include "drotctl.h"
#include "keys.h"

#define PAGE         1000 /* entries or checkpoints per request (the server's maximum) */
#define MAX_PINNED   32
#define MAX_PROBLEMS 100
#define STATE_MAX    4096

static const char k_usage_audit[] =
    "usage: drotctl [GLOBAL] audit list [--after SEQ] [--limit N] [--json]\n"
    "       drotctl [GLOBAL] audit verify (--keys DIR | --trust FILE) [--state FILE]\n"
    "                                     [--json] [--progress]\n"
    "       drotctl [GLOBAL] audit checkpoint [--json]\n"
    "       drotctl audit export-key --dir DIR [--out FILE]\n"
    "\n"
    "The server's audit log: every state-changing operation (operators, devices, the\n"
    "server, policies) in one hash chain, with checkpoints of its head signed by the\n"
    "server's audit key (docs/audit.md).\n"
    "\n"
    "  list        entries after SEQ (default 0), at most N (default 100, up to 1000)\n"
    "  verify      fetch every entry and checkpoint, recompute the chain, check each\n"
    "              checkpoint's signature against the audit keys of the key directory\n"
    "              DIR (--keys; no passphrase needed) or of the PEM file FILE (--trust,\n"
    "              from export-key); name the first bad entry: altered, missing,\n"
    "              reordered, truncated after a checkpoint, or a bad signature.\n"
    "    --state FILE  remember the verified head in FILE and, on later runs, refuse a\n"
    "              log that no longer contains it (a rollback of the whole log)\n"
    "    --progress    report progress on stderr (the default when stderr is a terminal)\n"
    "  checkpoint  have the server sign its current head now\n"
    "  export-key  write the public audit key(s) of key directory DIR as PEM, to FILE\n"
    "              or standard output, for 'verify --trust' where the keys are not\n"
    "\n"
    "Exit status: 0 success (verify: no problem found), 1 failure or a problem found, 2 usage.\n";

/* ---- pinned keys ---------------------------------------------------------------------- */

typedef struct pinned {
    char fpr[DS_AUDIT_FPR_LEN + 1];
    drot_p256_pub pub;
} pinned;

typedef struct pins {
    pinned k[MAX_PINNED];
    size_t n;
} pins;

static int pin_add(pins *p, const char *fpr, const uint8_t raw[65], const char *from)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->k[i].fpr, fpr) == 0)
            return 0;
    if (p->n == MAX_PINNED) {
        errmsg("%s: more than %d audit keys", from, MAX_PINNED);
        return 1;
    }
    if (drot_p256_pub_import(raw, 65, &p->k[p->n].pub) != DROT_OK) {
        errmsg("%s: key %s is not a P-256 point", from, fpr);
        return 1;
    }
    snprintf(p->k[p->n].fpr, sizeof p->k[0].fpr, "%s", fpr);
    p->n++;
    return 0;
}

/* Every audit-role key of a key directory (public halves: no passphrase). */
static int pins_from_dir(pins *p, const char *dir)
{
    ds_keystore *ks = NULL;
    char err[256];
    if (ds_keystore_open_file(dir, NULL, &ks, err, sizeof err) != DS_KEYS_OK) {
        errmsg("--keys %s: %s", dir, err);
        return 1;
    }
    ds_key_info keys[64];
    size_t n = 0;
    int rc = ds_keys_list(ks, keys, 64, &n) == DS_KEYS_OK ? 0 : 1;
    size_t found = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (keys[i].role != DS_ROLE_AUDIT)
            continue;
        drot_p256_pub pub;
        uint8_t raw[65];
        if (ds_keys_p256_public(ks, keys[i].name, &pub, raw) != DS_KEYS_OK) {
            errmsg("--keys %s: cannot read key %s: %s", dir, keys[i].name, ds_keystore_error(ks));
            rc = 1;
        } else {
            rc = pin_add(p, keys[i].fingerprint, raw, dir);
            found++;
        }
    }
    ds_keystore_close(ks);
    if (rc == 0 && found == 0) {
        errmsg("--keys %s: no audit key in this key directory (drot-server makes one at its first start)",
               dir);
        rc = 1;
    }
    return rc;
}

/* The 65-byte point and SPKI fingerprint of a P-256 public key. */
static int p256_raw(EVP_PKEY *k, uint8_t raw[65], char fpr[65])
{
    size_t len = 0;
    if (!EVP_PKEY_is_a(k, "EC") ||
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw, 65, &len) != 1 ||
        len != 65 || raw[0] != 0x04)
        return -1;
    return ds_keys_fingerprint(k, fpr) == DS_KEYS_OK ? 0 : -1;
}

/* Every PUBLIC KEY block of a PEM file. */
static int pins_from_pem(pins *p, const char *file)
{
    BIO *b = BIO_new_file(file, "r");
    if (b == NULL) {
        errmsg("--trust %s: %s", file, strerror(errno));
        return 1;
    }
    int rc = 0;
    size_t found = 0;
    EVP_PKEY *k;
    while (rc == 0 && (k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) != NULL) {
        uint8_t raw[65];
        char fpr[65];
        if (p256_raw(k, raw, fpr) != 0) {
            errmsg("--trust %s: key %zu is not an uncompressed P-256 public key", file, found + 1);
            rc = 1;
        } else {
            rc = pin_add(p, fpr, raw, file);
            found++;
        }
        EVP_PKEY_free(k);
    }
    BIO_free(b);
    if (rc == 0 && found == 0) {
        errmsg("--trust %s: no PEM public key in it (make one with 'drotctl audit export-key')", file);
        rc = 1;
    }
    return rc;
}

static const pinned *pin_find(const pins *p, const char *fpr)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->k[i].fpr, fpr) == 0)
            return &p->k[i];
    return NULL;
}

/* ---- entries and checkpoints as the API gives them ------------------------------------ */

static int hex32(const json_t *v, uint8_t out[32])
{
    size_t len = 0;
    const char *s = json_string_value(v);
    return s != NULL && strlen(s) == 64 && unhex_str(s, out, 32, &len) == 0 && len == 32 ? 0 : -1;
}

/* A text field, or its _hex form; malloc'ed, NULL if absent, malformed or
 * holding a NUL (which no C string, and so no real entry, can). */
static char *text_field(const json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));
    if (s != NULL)
        return strdup(s);
    char name[32];
    snprintf(name, sizeof name, "%s_hex", key);
    const char *h = json_string_value(json_object_get(e, name));
    size_t cap = h != NULL ? strlen(h) / 2 + 1 : 0, len = 0;
    char *out = h != NULL ? malloc(cap) : NULL;
    if (out == NULL || unhex_str(h, (uint8_t *)out, cap, &len) != 0 || memchr(out, 0, len) != NULL) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

typedef struct entry {
    int64_t seq, at;
    char *f[4]; /* actor, action, subject, detail */
    uint8_t prev[32], hash[32];
    bool ok; /* every field present and well-formed */
} entry;

static void entry_parse(const json_t *j, entry *e)
{
    static const char *const names[4] = {"actor", "action", "subject", "detail"};
    memset(e, 0, sizeof *e);
    json_t *seq = json_object_get(j, "seq"), *at = json_object_get(j, "at");
    e->seq = json_is_integer(seq) ? (int64_t)json_integer_value(seq) : -1;
    e->at = json_is_integer(at) ? (int64_t)json_integer_value(at) : 0;
    e->ok = e->seq >= 1 && json_is_integer(at) && hex32(json_object_get(j, "prev_hash"), e->prev) == 0 &&
            hex32(json_object_get(j, "hash"), e->hash) == 0;
    for (int i = 0; i < 4; i++)
        if ((e->f[i] = text_field(j, names[i])) == NULL)
            e->ok = false;
}

static void entry_free(entry *e)
{
    for (int i = 0; i < 4; i++)
        free(e->f[i]);
}

static bool entry_hash_is(const entry *e, int64_t seq, const uint8_t want[32])
{
    uint8_t h[32];
    return ds_audit_entry_hash(seq, e->at, e->f[0], e->f[1], e->f[2], e->f[3], e->prev, h) == DROT_OK &&
           memcmp(h, want, 32) == 0;
}

typedef struct cpt {
    int64_t seq, at, prev_seq;
    uint8_t hash[32], sig[64];
    char fpr[DS_AUDIT_FPR_LEN + 1];
    bool ok;
} cpt;

static void cpt_parse(const json_t *j, cpt *c)
{
    memset(c, 0, sizeof *c);
    json_t *seq = json_object_get(j, "seq"), *at = json_object_get(j, "at"),
           *prev = json_object_get(j, "prev_seq");
    const char *fpr = json_string_value(json_object_get(j, "key_fpr"));
    const char *sig = json_string_value(json_object_get(j, "signature"));
    size_t len = 0;
    c->seq = json_is_integer(seq) ? (int64_t)json_integer_value(seq) : -1;
    c->at = json_is_integer(at) ? (int64_t)json_integer_value(at) : 0;
    c->prev_seq = json_is_integer(prev) ? (int64_t)json_integer_value(prev) : -1;
    c->ok = c->seq >= 1 && json_is_integer(at) && c->prev_seq >= 0 && fpr != NULL &&
            strlen(fpr) == DS_AUDIT_FPR_LEN && hex32(json_object_get(j, "hash"), c->hash) == 0 &&
            sig != NULL && unhex_str(sig, c->sig, 64, &len) == 0 && len == 64;
    if (fpr != NULL)
        snprintf(c->fpr, sizeof c->fpr, "%s", fpr);
}

/* ---- the verification ------------------------------------------------------------------ */

typedef struct problem {
    int64_t seq;
    const char *kind;
    char msg[320];
} problem;

typedef struct state_file {
    bool have;
    int64_t seq, cp_seq, verified_at;
    uint8_t hash[32], cp_hash[32];
} state_file;

typedef struct verify {
    pins keys;
    cpt *cps;
    size_t n_cps;
    problem probs[MAX_PROBLEMS];
    size_t n_probs, more_probs;
    /* the walk */
    int64_t next;      /* the seq the next entry should have */
    uint8_t prev[32];  /* the stored hash of the entry before it */
    bool have_prev;    /* prev is known (false after a gap or a malformed entry) */
    int64_t n_entries; /* entries received */
    size_t cp_at;      /* the next checkpoint (by seq) to meet */
    uint8_t head[32];  /* stored hash of the last entry */
    state_file st;
    bool progress;
    int64_t total; /* the server's head seq, for progress */
} verify;

static void problem_add(verify *v, int64_t seq, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem_add(verify *v, int64_t seq, const char *kind, const char *fmt, ...)
{
    if (v->n_probs == MAX_PROBLEMS) {
        v->more_probs++;
        return;
    }
    problem *p = &v->probs[v->n_probs++];
    p->seq = seq;
    p->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
}

/* An entry whose fields do not give its hash: altered, unless its hash is
 * that of the same fields at another seq of this page (moved: reordered). */
static void entry_bad_hash(verify *v, const entry *e, const entry *page, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t home = page[i].seq;
        if (home != e->seq && home >= 1 && entry_hash_is(e, home, e->hash)) {
            problem_add(v, e->seq, "reordered",
                        "entry %lld holds the entry that belongs at seq %lld: the log was reordered",
                        (long long)e->seq, (long long)home);
            return;
        }
    }
    problem_add(v, e->seq, "altered", "entry %lld: its content does not match its hash (altered)",
                (long long)e->seq);
}

static void walk_entry(verify *v, const entry *e, const entry *page, size_t n)
{
    v->n_entries++;
    if (!e->ok) {
        problem_add(v, e->seq > 0 ? e->seq : v->next, "malformed",
                    "entry %lld: a field is missing or malformed in the server's answer", (long long)e->seq);
        v->have_prev = false;
        v->next = (e->seq > 0 ? e->seq : v->next) + 1;
        return;
    }
    if (e->seq < v->next) {
        problem_add(v, e->seq, "reordered", "entry %lld comes after entry %lld", (long long)e->seq,
                    (long long)v->next - 1);
        return;
    }
    if (e->seq > v->next) {
        if (e->seq == v->next + 1)
            problem_add(v, v->next, "missing", "entry %lld is missing (deleted)", (long long)v->next);
        else
            problem_add(v, v->next, "missing", "entries %lld..%lld are missing (deleted)", (long long)v->next,
                        (long long)e->seq - 1);
        v->have_prev = false;
    }
    bool self = entry_hash_is(e, e->seq, e->hash);
    if (!self)
        entry_bad_hash(v, e, page, n);
    else if (v->have_prev && memcmp(e->prev, v->prev, 32) != 0)
        problem_add(
            v, e->seq, "broken_link",
            "entry %lld does not follow entry %lld: its prev_hash is not that entry's hash (entry %lld "
            "was replaced and re-hashed, or entries were reordered)",
            (long long)e->seq, (long long)e->seq - 1, (long long)e->seq - 1);
    /* the checkpoints that signed this seq */
    while (v->cp_at < v->n_cps && v->cps[v->cp_at].seq < e->seq)
        v->cp_at++;
    if (v->cp_at < v->n_cps && v->cps[v->cp_at].seq == e->seq && v->cps[v->cp_at].ok &&
        (!self || memcmp(v->cps[v->cp_at].hash, e->hash, 32) != 0))
        problem_add(v, e->seq, "checkpoint_mismatch",
                    "entry %lld is not the entry checkpoint %lld signed (the log was rewritten)",
                    (long long)e->seq, (long long)e->seq);
    if (v->st.have && v->st.seq == e->seq && (!self || memcmp(v->st.hash, e->hash, 32) != 0)) {
        char t[32];
        iso_time(v->st.verified_at, t);
        problem_add(v, e->seq, "rollback", "entry %lld differs from the one verified on %s (--state)",
                    (long long)e->seq, t);
    }
    memcpy(v->prev, e->hash, 32);
    memcpy(v->head, e->hash, 32);
    v->have_prev = self; /* after a bad entry, its successor's link says nothing more */
    v->next = e->seq + 1;
}

static void check_checkpoints(verify *v)
{
    int64_t last = v->next - 1, prev = 0;
    for (size_t i = 0; i < v->n_cps; i++) {
        const cpt *c = &v->cps[i];
        if (!c->ok) {
            problem_add(v, c->seq, "malformed", "checkpoint %lld: a field is missing or malformed",
                        (long long)c->seq);
            continue;
        }
        const pinned *k = pin_find(&v->keys, c->fpr);
        uint8_t d[32];
        if (k == NULL)
            problem_add(
                v, c->seq, "untrusted_key",
                "checkpoint %lld is signed by key %.16s…, which is not a pinned audit key (--keys/--trust)",
                (long long)c->seq, c->fpr);
        else if (ds_audit_checkpoint_digest(c->seq, c->hash, c->at, c->prev_seq, c->fpr, d) != DROT_OK ||
                 drot_ecdsa_p256_verify(&k->pub, d, c->sig, 64) != DROT_OK)
            problem_add(v, c->seq, "signature",
                        "checkpoint %lld: its signature does not verify (altered or forged)",
                        (long long)c->seq);
        if (c->prev_seq != prev)
            problem_add(
                v, c->prev_seq > prev ? c->prev_seq : c->seq, "checkpoint_missing",
                "checkpoint %lld names checkpoint %lld as the one before it, but the one before it is %lld "
                "(a checkpoint was removed or inserted)",
                (long long)c->seq, (long long)c->prev_seq, (long long)prev);
        if (c->seq > last)
            problem_add(v, last + 1, "truncated",
                        "entries %lld..%lld, signed by checkpoint %lld, are missing: the log was truncated",
                        (long long)last + 1, (long long)c->seq, (long long)c->seq);
        prev = c->seq;
    }
    if (v->st.have && v->st.seq > last) {
        char t[32];
        iso_time(v->st.verified_at, t);
        problem_add(
            v, last + 1, "rollback",
            "the log ends at entry %lld, but entry %lld was verified on %s (--state): entries were removed",
            (long long)last, (long long)v->st.seq, t);
    }
    if (v->st.have && v->st.cp_seq > 0) {
        size_t i = 0;
        while (i < v->n_cps && v->cps[i].seq != v->st.cp_seq)
            i++;
        if (i == v->n_cps || memcmp(v->cps[i].hash, v->st.cp_hash, 32) != 0)
            problem_add(v, v->st.cp_seq, "rollback",
                        "checkpoint %lld, seen at the last verification (--state), is gone or changed",
                        (long long)v->st.cp_seq);
    }
}

/* ---- fetching -------------------------------------------------------------------------- */

static int fetch_checkpoints(const admin_opts *g, verify *v)
{
    int64_t after = 0;
    for (;;) {
        char path[96];
        snprintf(path, sizeof path, "/v1/admin/audit/checkpoints?after=%lld&limit=%d", (long long)after,
                 PAGE);
        json_t *r = NULL;
        int rc = admin_call(g, "GET", path, NULL, &r);
        if (rc != 0)
            return rc;
        json_t *arr = json_object_get(r, "checkpoints");
        size_t n = json_array_size(arr);
        cpt *grown = n > 0 ? realloc(v->cps, (v->n_cps + n) * sizeof *grown) : v->cps;
        if (!json_is_array(arr) || (n > 0 && grown == NULL)) {
            json_decref(r);
            errmsg("the server's checkpoint list is malformed");
            return 1;
        }
        v->cps = grown;
        for (size_t i = 0; i < n; i++) {
            cpt *c = &v->cps[v->n_cps++];
            cpt_parse(json_array_get(arr, i), c);
            if (c->seq <= after) {
                json_decref(r);
                errmsg("the server's checkpoint list is out of order at %lld", (long long)c->seq);
                return 1;
            }
            after = c->seq;
        }
        json_decref(r);
        if (n < PAGE)
            return 0;
    }
}

static int fetch_entries(const admin_opts *g, verify *v)
{
    int64_t after = 0;
    for (;;) {
        char path[96];
        snprintf(path, sizeof path, "/v1/admin/audit?after=%lld&limit=%d", (long long)after, PAGE);
        json_t *r = NULL;
        int rc = admin_call(g, "GET", path, NULL, &r);
        if (rc != 0)
            return rc;
        json_t *arr = json_object_get(r, "entries");
        json_t *hs = json_object_get(json_object_get(r, "head"), "seq");
        if (json_is_integer(hs))
            v->total = (int64_t)json_integer_value(hs);
        size_t n = json_array_size(arr);
        entry *page = n > 0 ? calloc(n, sizeof *page) : NULL;
        if (!json_is_array(arr) || (n > 0 && page == NULL)) {
            json_decref(r);
            errmsg("the server's entry list is malformed");
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            entry_parse(json_array_get(arr, i), &page[i]);
        for (size_t i = 0; i < n; i++) {
            walk_entry(v, &page[i], page, n);
            if (page[i].seq > after)
                after = page[i].seq;
        }
        for (size_t i = 0; i < n; i++)
            entry_free(&page[i]);
        free(page);
        json_decref(r);
        if (v->progress && (n == PAGE || v->n_entries > PAGE))
            fprintf(stderr, "drotctl: audit verify: %lld of %lld entries checked\n", (long long)v->n_entries,
                    (long long)(v->total > v->n_entries ? v->total : v->n_entries));
        if (n < PAGE)
            return 0;
    }
}

/* ---- the state file ------------------------------------------------------------------------ */

/* 0 (st->have says whether the file existed), or 1 after a message. */
static int state_read(const char *path, state_file *st)
{
    memset(st, 0, sizeof *st);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        errmsg("--state %s: %s", path, strerror(errno));
        return 1;
    }
    size_t len = 0;
    char *text = sb.st_size > STATE_MAX ? NULL : slurp(path, STATE_MAX, &len);
    json_error_t e;
    json_t *j = text != NULL ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &e) : NULL;
    free(text);
    json_t *seq = json_object_get(j, "seq"), *cps = json_object_get(j, "checkpoint_seq"),
           *at = json_object_get(j, "verified_at"), *ver = json_object_get(j, "version");
    bool ok = json_is_object(j) && json_is_integer(ver) && json_integer_value(ver) == 1 &&
              json_is_integer(seq) && json_integer_value(seq) >= 0 && json_is_integer(cps) &&
              json_integer_value(cps) >= 0 && json_integer_value(cps) <= json_integer_value(seq) &&
              json_is_integer(at) && hex32(json_object_get(j, "hash"), st->hash) == 0 &&
              hex32(json_object_get(j, "checkpoint_hash"), st->cp_hash) == 0;
    if (ok) {
        st->have = true;
        st->seq = (int64_t)json_integer_value(seq);
        st->cp_seq = (int64_t)json_integer_value(cps);
        st->verified_at = (int64_t)json_integer_value(at);
    }
    json_decref(j);
    if (!ok) {
        errmsg("--state %s: not a state file this drotctl wrote (version 1: seq, hash, checkpoint_seq, "
               "checkpoint_hash, verified_at); it was left as it is: move it away to start over",
               path);
        return 1;
    }
    return 0;
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Written to PATH.tmp, fsync'ed, renamed over PATH (mode 0600). */
static int state_write(const char *path, const verify *v)
{
    char h[65], ch[65], tmp[4200];
    const cpt *last = v->n_cps > 0 ? &v->cps[v->n_cps - 1] : NULL;
    static const uint8_t zero[32];
    hexs(v->next > 1 ? v->head : zero, 32, h);
    hexs(last != NULL ? last->hash : zero, 32, ch);
    json_t *j = json_pack("{s:i, s:I, s:s, s:I, s:s, s:I}", "version", 1, "seq", (json_int_t)(v->next - 1),
                          "hash", h, "checkpoint_seq", (json_int_t)(last != NULL ? last->seq : 0),
                          "checkpoint_hash", ch, "verified_at", (json_int_t)time(NULL));
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = text != NULL ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
    size_t len = text != NULL ? strlen(text) : 0;
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    free(text);
    if (!ok) {
        errmsg("--state %s: cannot write it: %s", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

/* ---- commands ---------------------------------------------------------------------------- */

static int cmp_problem(const void *a, const void *b)
{
    const problem *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int report(const verify *v, bool json, const char *state_path, bool state_written)
{
    const cpt *last = v->n_cps > 0 ? &v->cps[v->n_cps - 1] : NULL;
    int64_t head = v->next - 1, unsigned_n = head - (last != NULL && last->seq <= head ? last->seq : 0);
    if (json) {
        json_t *probs = json_array(), *keys = json_array();
        for (size_t i = 0; i < v->n_probs; i++)
            json_array_append_new(probs, json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)v->probs[i].seq,
                                                   "kind", v->probs[i].kind, "message", v->probs[i].msg));
        for (size_t i = 0; i < v->keys.n; i++)
            json_array_append_new(keys, json_string(v->keys.k[i].fpr));
        char at[32] = "";
        if (last != NULL)
            iso_time(last->at, at);
        json_t *lc = last == NULL ? json_null()
                                  : json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)last->seq, "at", at,
                                              "key_fpr", last->fpr);
        json_t *out = json_pack(
            "{s:b, s:I, s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:I, s:o}", "ok", v->n_probs == 0, "entries",
            (json_int_t)v->n_entries, "head_seq", (json_int_t)head, "checkpoints", (json_int_t)v->n_cps,
            "last_checkpoint", lc, "unsigned_entries", (json_int_t)unsigned_n, "pinned_keys", keys,
            "first_bad_seq", v->n_probs > 0 ? json_integer((json_int_t)v->probs[0].seq) : json_null(),
            "problems", probs, "more_problems", (json_int_t)v->more_probs, "state",
            state_path == NULL ? json_null()
                               : json_pack("{s:s, s:b}", "file", state_path, "updated", state_written));
        int rc = print_json(out);
        return v->n_probs > 0 ? 1 : rc;
    }
    if (v->n_probs > 0) {
        for (size_t i = 0; i < v->n_probs; i++)
            printf("entry %-8lld %-19s %s\n", (long long)v->probs[i].seq, v->probs[i].kind, v->probs[i].msg);
        if (v->more_probs > 0)
            printf("... and %zu more problem(s)\n", v->more_probs);
        errmsg("audit verify: FAILED: %zu problem(s), the first at entry %lld (%s)",
               v->n_probs + v->more_probs, (long long)v->probs[0].seq, v->probs[0].kind);
        return 1;
    }
    if (head == 0)
        printf("audit log OK: empty, %zu checkpoint(s)\n", v->n_cps);
    else
        printf("audit log OK: %lld entries (seq 1..%lld), %zu checkpoint(s)\n", (long long)v->n_entries,
               (long long)head, v->n_cps);
    if (last != NULL) {
        char at[32];
        iso_time(last->at, at);
        printf("last checkpoint: entry %lld, signed %s by audit key %.16s…\n", (long long)last->seq, at,
               last->fpr);
    }
    if (unsigned_n > 0)
        printf("%lld entr%s after the last checkpoint %s not signed yet: their removal would not be seen%s "
               "('drotctl audit checkpoint' signs them)\n",
               (long long)unsigned_n, unsigned_n == 1 ? "y" : "ies", unsigned_n == 1 ? "is" : "are",
               state_path != NULL ? " except through --state" : "");
    if (state_written)
        printf("state saved to %s\n", state_path);
    return 0;
}

static int cmd_verify(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"keys", false, NULL, false},
                   {"trust", false, NULL, false},
                   {"state", false, NULL, false},
                   {"json", true, NULL, false},
                   {"progress", true, NULL, false}};
    size_t npos = 0;
    const char *pos[1];
    int rc = sub_parse("audit verify", argc, argv, 2, o, 5, pos, 0, &npos);
    if (rc != 0)
        return rc;
    if (!o[0].set && !o[1].set)
        return usage_error("audit verify",
                           "name the audit keys to check signatures with: --keys DIR (the key directory) or "
                           "--trust FILE (from 'drotctl audit export-key')");
    verify *v = calloc(1, sizeof *v);
    if (v == NULL) {
        errmsg("out of memory");
        return 1;
    }
    v->next = 1;
    v->have_prev = true; /* entry 1 names 32 zero bytes */
    v->progress = o[4].set || isatty(2);
    rc = (o[0].set && pins_from_dir(&v->keys, o[0].value) != 0) ||
                 (o[1].set && pins_from_pem(&v->keys, o[1].value) != 0) ||
                 (o[2].set && state_read(o[2].value, &v->st) != 0)
             ? 1
             : 0;
    if (rc == 0)
        rc = fetch_checkpoints(g, v);
    if (rc == 0)
        rc = fetch_entries(g, v);
    if (rc == 0) {
        check_checkpoints(v);
        qsort(v->probs, v->n_probs, sizeof v->probs[0], cmp_problem);
        bool written = false;
        if (v->n_probs == 0 && o[2].set) {
            if (state_write(o[2].value, v) != 0)
                rc = 1;
            else
                written = true;
        }
        int r2 = report(v, o[3].set, o[2].set ? o[2].value : NULL, written);
        rc = rc != 0 ? rc : r2;
    }
    free(v->cps);
    free(v);
    return rc;
}

static void print_entry(const json_t *e)
{
    char at[32];
    jtime(e, "at", at);
    const char *subject = jstr(e, "subject");
    printf("%-7lld %-20s %-40s %-24s %-34s %s\n", (long long)json_integer_value(json_object_get(e, "seq")),
           at, jstr(e, "actor"), jstr(e, "action"), subject[0] ? subject : "-", jstr(e, "detail"));
}

static int cmd_list(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"after", false, NULL, false}, {"limit", false, NULL, false}, {"json", true, NULL, false}};
    size_t npos = 0;
    const char *pos[1];
    int rc = sub_parse("audit list", argc, argv, 2, o, 3, pos, 0, &npos);
    if (rc != 0)
        return rc;
    char *end;
    long long after = o[0].set ? strtoll(o[0].value, &end, 10) : 0;
    if (o[0].set && (*o[0].value == '\0' || *end != '\0' || after < 0))
        return usage_error("audit list", "--after must be a seq (0 or more), not '%s'", o[0].value);
    long long limit = o[1].set ? strtoll(o[1].value, &end, 10) : 100;
    if (o[1].set && (*o[1].value == '\0' || *end != '\0' || limit < 1 || limit > PAGE))
        return usage_error("audit list", "--limit must be 1..%d, not '%s'", PAGE, o[1].value);
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/audit?after=%lld&limit=%lld", after, limit);
    json_t *r = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &r)) != 0)
        return rc;
    if (o[2].set)
        return print_json(r);
    json_t *arr = json_object_get(r, "entries");
    printf("%-7s %-20s %-40s %-24s %-34s %s\n", "SEQ", "AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL");
    for (size_t i = 0; i < json_array_size(arr); i++)
        print_entry(json_array_get(arr, i));
    json_t *head = json_object_get(r, "head");
    size_t n = json_array_size(arr);
    long long hs = (long long)json_integer_value(json_object_get(head, "seq"));
    long long last =
        n > 0 ? (long long)json_integer_value(json_object_get(json_array_get(arr, n - 1), "seq")) : after;
    if (last < hs)
        printf("(%lld more up to entry %lld: --after %lld)\n", hs - last, hs, last);
    json_decref(r);
    return 0;
}

static int cmd_checkpoint(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"json", true, NULL, false}};
    size_t npos = 0;
    const char *pos[1];
    int rc = sub_parse("audit checkpoint", argc, argv, 2, o, 1, pos, 0, &npos);
    if (rc != 0)
        return rc;
    json_t *r = NULL;
    if ((rc = admin_call(g, "POST", "/v1/admin/audit/checkpoint", "", &r)) != 0)
        return rc;
    if (o[0].set)
        return print_json(r);
    json_t *c = json_object_get(r, "checkpoint");
    char at[32];
    jtime(c, "at", at);
    printf("checkpoint at entry %lld (hash %s), signed %s by audit key %s\n",
           (long long)json_integer_value(json_object_get(c, "seq")), jstr(c, "hash"), at, jstr(c, "key_fpr"));
    json_decref(r);
    return 0;
}

static int cmd_export_key(int argc, char **argv)
{
    sub_opt o[] = {{"dir", false, NULL, false}, {"out", false, NULL, false}};
    size_t npos = 0;
    const char *pos[1];
    int rc = sub_parse("audit export-key", argc, argv, 2, o, 2, pos, 0, &npos);
    if (rc != 0)
        return rc;
    if (!o[0].set)
        return usage_error("audit export-key", "--dir DIR (the key directory) is required");
    ds_keystore *ks = NULL;
    char err[256];
    if (ds_keystore_open_file(o[0].value, NULL, &ks, err, sizeof err) != DS_KEYS_OK) {
        errmsg("--dir %s: %s", o[0].value, err);
        return 1;
    }
    ds_key_info keys[64];
    size_t n = 0, found = 0;
    BIO *out = o[1].set ? BIO_new_file(o[1].value, "w") : BIO_new_fp(stdout, BIO_NOCLOSE);
    rc = out == NULL || ds_keys_list(ks, keys, 64, &n) != DS_KEYS_OK ? 1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        EVP_PKEY *pub = NULL;
        if (keys[i].role != DS_ROLE_AUDIT)
            continue;
        if (ds_keys_load_public(ks, keys[i].name, &pub) != DS_KEYS_OK || PEM_write_bio_PUBKEY(out, pub) != 1)
            rc = 1;
        EVP_PKEY_free(pub);
        found++;
    }
    BIO_free(out);
    ds_keystore_close(ks);
    if (rc != 0)
        errmsg("cannot export the audit keys of %s%s%s", o[0].value, o[1].set ? " to " : "",
               o[1].set ? o[1].value : "");
    else if (found == 0)
        errmsg("%s has no audit key (drot-server makes one at its first start)", o[0].value), rc = 1;
    return rc;
}

int drotctl_cmd_audit(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_audit, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(g, argc, argv);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(g, argc, argv);
    if (strcmp(argv[1], "checkpoint") == 0)
        return cmd_checkpoint(g, argc, argv);
    if (strcmp(argv[1], "export-key") == 0)
        return cmd_export_key(argc, argv);
    return usage_error("audit", "unknown subcommand '%s' (list, verify, checkpoint, export-key)", argv[1]);
}
