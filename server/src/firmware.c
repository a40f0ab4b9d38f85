/*
 * firmware.c — the firmware repository: content-addressed images stored in
 * chunks, and releases (signed manifests). See firmware.h for the contract
 * and the invariants (F7, F8 here); firmware_rollout.c has the rollouts and
 * jobs.
 *
 * Why chunks: an image (up to 16 MiB) arrives through the admin API in
 * pieces that fit its body limit, may be resumed after an interruption, and
 * is served to devices in byte ranges; chunk rows let each of these touch
 * only the bytes it needs, with the same SQL on both backends.
 */
#define _POSIX_C_SOURCE 200809L
#include "firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "drot_crypto.h"
#include "firmware_internal.h"

/* ---- names ------------------------------------------------------------------------------ */

static const char *const k_rollout_states[] = {NULL, "running", "paused", "done", "cancelled"};
static const char *const k_job_states[] = {NULL,        "pending", "offered",  "installed",
                                           "confirmed", "failed",  "cancelled"};

/* see firmware.h */
const char *fw_rollout_state_name(fw_rollout_state s)
{
    return s >= FW_ROLLOUT_RUNNING && s <= FW_ROLLOUT_CANCELLED ? k_rollout_states[s] : NULL;
}

/* see firmware.h */
const char *fw_job_state_name(fw_job_state s)
{
    return s >= FW_JOB_PENDING && s <= FW_JOB_CANCELLED ? k_job_states[s] : NULL;
}

/* see firmware.h */
ds_status fw_rollout_state_parse(const char *name, fw_rollout_state *out)
{
    for (int i = FW_ROLLOUT_RUNNING; name != NULL && i <= FW_ROLLOUT_CANCELLED; i++)
        if (strcmp(name, k_rollout_states[i]) == 0) {
            *out = (fw_rollout_state)i;
            return DS_OK;
        }
    return DS_E_ARG;
}

/* see firmware.h */
ds_status fw_job_state_parse(const char *name, fw_job_state *out)
{
    for (int i = FW_JOB_PENDING; name != NULL && i <= FW_JOB_CANCELLED; i++)
        if (strcmp(name, k_job_states[i]) == 0) {
            *out = (fw_job_state)i;
            return DS_OK;
        }
    return DS_E_ARG;
}

/* ---- shared helpers (firmware_internal.h) ----------------------------------------------------- */

void fw_hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool fw_text_ok(const char *s, size_t max)
{
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

bool fw_class_ok(const char *s)
{
    if (!fw_text_ok(s, DS_CLASS_MAX))
        return false;
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '-'))
            return false;
    return true;
}

bool fw_actor_ok(const char *actor)
{
    char why[128];
    return ds_audit_actor_ok(actor, why, sizeof why);
}

ds_status fw_audit(ds_store *s, const char *actor, const char *action, const char *subject, json_t *detail)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (detail != NULL && text == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "audit: out of memory");
    ds_status st = ds_audit_append(s, actor, action, subject, text);
    free(text);
    return st;
}

void fw_device_actor(const uint8_t id[DS_DEVICE_ID_LEN], char out[48])
{
    memcpy(out, "device:", 7);
    fw_hex(id, DS_DEVICE_ID_LEN, out + 7);
}

ds_status fw_lock_hex(ds_store *s, const char *prefix, const uint8_t *p, size_t n)
{
    char name[96], h[65];
    if (n > 32)
        return DS_E_ARG;
    fw_hex(p, n, h);
    snprintf(name, sizeof name, "%s%s", prefix, h);
    return ds_sql_lock(s, name);
}

ds_status fw_lock_id(ds_store *s, const char *prefix, int64_t id)
{
    char name[64];
    snprintf(name, sizeof name, "%s%lld", prefix, (long long)id);
    return ds_sql_lock(s, name);
}

bool fw_token_component(const uint8_t *token, size_t len, const char *component, fw_measured *m)
{
    memset(m, 0, sizeof *m);
    drot_cose_sign1_view v;
    drot_eat_claims c;
    if (token == NULL || len == 0 || drot_cose_sign1_decode(token, len, &v) != DROT_OK ||
        drot_eat_decode(v.payload, v.payload_len, &c) != DROT_OK)
        return false;
    size_t clen = strlen(component);
    for (size_t i = 0; i < c.num_components; i++) {
        const drot_eat_sw_component *sc = &c.components[i];
        if (sc->measurement_type.p == NULL || sc->measurement_type.len != clen ||
            memcmp(sc->measurement_type.p, component, clen) != 0)
            continue;
        memset(m, 0, sizeof *m); /* a later entry of the type replaces an earlier one */
        m->found = true;
        if (sc->measurement_value.len == DS_DIGEST_LEN) {
            memcpy(m->digest, sc->measurement_value.p, DS_DIGEST_LEN);
            m->digest_ok = true;
        }
        if (sc->signer_id.len == DS_DIGEST_LEN) {
            memcpy(m->signer, sc->signer_id.p, DS_DIGEST_LEN);
            m->signer_ok = true;
        }
        size_t vl = sc->version.p == NULL ? 0 : sc->version.len;
        if (vl > DROT_EAT_MAX_TEXT)
            vl = DROT_EAT_MAX_TEXT;
        for (size_t k = 0; k < vl; k++) {
            char ch = sc->version.p[k];
            m->version[k] = (unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e ? '?' : ch;
        }
        m->version[vl] = '\0';
    }
    return true;
}

void fw_release_from_row(const ds_sql_row *row, size_t at, fw_release *out)
{
    memset(out, 0, sizeof *out);
    out->id = ds_sql_get_int(row, at);
    ds_sql_copy_text(row, at + 1, out->component, sizeof out->component);
    ds_sql_copy_text(row, at + 2, out->version, sizeof out->version);
    out->svn = (uint32_t)ds_sql_get_int(row, at + 3);
    ds_sql_copy_blob(row, at + 4, out->image_digest, DS_DIGEST_LEN);
    out->size = (uint32_t)ds_sql_get_int(row, at + 5);
    size_t n = 0;
    const uint8_t *m = ds_sql_get_blob(row, at + 6, &n);
    if (m != NULL && n <= sizeof out->manifest) {
        memcpy(out->manifest, m, n);
        out->manifest_len = n;
    }
    ds_sql_copy_blob(row, at + 7, out->signer, DS_DIGEST_LEN);
    out->published_at = ds_sql_get_int(row, at + 8);
    ds_sql_copy_text(row, at + 9, out->published_by, sizeof out->published_by);
}

/* ---- images --------------------------------------------------------------------------------- */

static uint32_t n_chunks_of(uint32_t size, uint32_t chunk)
{
    return (uint32_t)(((uint64_t)size + chunk - 1) / chunk);
}

static int image_row(const ds_sql_row *r, void *ctx)
{
    fw_image *im = ctx;
    ds_sql_copy_blob(r, 0, im->digest, DS_DIGEST_LEN);
    im->size = (uint32_t)ds_sql_get_int(r, 1);
    im->chunk_size = (uint32_t)ds_sql_get_int(r, 2);
    im->complete = ds_sql_get_int(r, 3) != 0;
    im->created_at = ds_sql_get_int(r, 4);
    im->completed_at = ds_sql_get_int(r, 5);
    ds_sql_copy_text(r, 6, im->created_by, sizeof im->created_by);
    im->n_chunks = im->chunk_size > 0 ? n_chunks_of(im->size, im->chunk_size) : 0;
    return 1;
}

static int chunk_idx_row(const ds_sql_row *r, void *ctx)
{
    fw_image *im = ctx;
    int64_t i = ds_sql_get_int(r, 0);
    if (i >= 0 && (uint64_t)i < FW_CHUNKS_MAX) {
        im->have_mask[i / 8] |= (uint8_t)(1u << (i % 8));
        im->have++;
    }
    return 0;
}

/* The image row and its chunk map; *found false when absent. */
static ds_status image_load(ds_store *s, const uint8_t digest[32], fw_image *im, bool *found)
{
    memset(im, 0, sizeof *im);
    ds_sql_val a[] = {ds_sql_blob(digest, DS_DIGEST_LEN)};
    ds_status st =
        ds_sql_exec(s,
                    "SELECT digest, size, chunk_size, complete, created_at, completed_at, created_by "
                    "FROM firmware_images WHERE digest = $1",
                    a, 1, image_row, im, NULL);
    if (st != DS_OK)
        return st;
    *found = im->size != 0;
    if (!*found)
        return DS_OK;
    return ds_sql_exec(s, "SELECT idx FROM firmware_image_chunks WHERE digest = $1 ORDER BY idx", a, 1,
                       chunk_idx_row, im, NULL);
}

/* see firmware.h */
ds_status fw_image_get(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], fw_image *out)
{
    if (s == NULL || digest == NULL || out == NULL)
        return DS_E_ARG;
    bool found = false;
    ds_status st = image_load(s, digest, out, &found);
    if (st == DS_OK && !found) {
        char h[65];
        fw_hex(digest, 32, h);
        return ds_store_fail(s, DS_E_NOT_FOUND, "image %s is not in the repository", h);
    }
    return st;
}

typedef struct put_ctx {
    const uint8_t *digest;
    uint32_t size, idx;
    const uint8_t *data;
    size_t len;
    const char *actor;
    int64_t now;
    bool mismatch; /* the bytes hashed to another digest: discarded, committed */
    uint8_t got[32];
} put_ctx;

typedef struct same_chunk {
    const uint8_t *data;
    size_t len;
    bool found, same;
} same_chunk;

static int same_chunk_row(const ds_sql_row *r, void *ctx)
{
    same_chunk *c = ctx;
    size_t n = 0;
    const uint8_t *b = ds_sql_get_blob(r, 0, &n);
    c->found = true;
    c->same = b != NULL && n == c->len && memcmp(b, c->data, n) == 0;
    return 1;
}

typedef struct hash_ctx {
    drot_sha256_ctx h;
    uint64_t total;
    int64_t next;
    bool ok;
} hash_ctx;

static int hash_row(const ds_sql_row *r, void *ctx)
{
    hash_ctx *hc = ctx;
    size_t n = 0;
    const uint8_t *b = ds_sql_get_blob(r, 1, &n);
    if (ds_sql_get_int(r, 0) != hc->next++ || b == NULL || drot_sha256_update(&hc->h, b, n) != DROT_OK) {
        hc->ok = false;
        return 1;
    }
    hc->total += n;
    return 0;
}

static ds_status put_tx(ds_store *s, void *vctx)
{
    put_ctx *c = vctx;
    ds_status st = fw_lock_hex(s, "fw-image:", c->digest, DS_DIGEST_LEN);
    if (st != DS_OK)
        return st;
    fw_image im;
    bool found = false;
    if ((st = image_load(s, c->digest, &im, &found)) != DS_OK)
        return st;
    ds_sql_val d = ds_sql_blob(c->digest, DS_DIGEST_LEN);
    if (found && im.size != c->size)
        return ds_store_fail(
            s, DS_E_CONFLICT,
            "an upload of this image with %u bytes is %s: this one says %u bytes (discard the "
            "unfinished upload first, or upload the right file)",
            im.size, im.complete ? "stored" : "in progress", c->size);
    if (found && im.chunk_size != FW_CHUNK_SIZE)
        return ds_store_fail(s, DS_E_CONFLICT, "the image is stored in chunks of %u bytes", im.chunk_size);
    char dh[65];
    fw_hex(c->digest, 32, dh);
    if (!found) {
        ds_sql_val a[] = {d, ds_sql_int(c->size), ds_sql_int(FW_CHUNK_SIZE), ds_sql_int(c->now),
                          ds_sql_text(c->actor)};
        st = ds_sql_exec(s,
                         "INSERT INTO firmware_images (digest, size, chunk_size, complete, created_at, "
                         "completed_at, created_by) VALUES ($1, $2, $3, 0, $4, 0, $5)",
                         a, 5, NULL, NULL, NULL);
        if (st == DS_OK)
            st = fw_audit(s, c->actor, "firmware.upload_begin", dh,
                          json_pack("{s:I, s:I}", "size", (json_int_t)c->size, "chunk_size",
                                    (json_int_t)FW_CHUNK_SIZE));
        if (st != DS_OK)
            return st;
        im.n_chunks = n_chunks_of(c->size, FW_CHUNK_SIZE);
    }
    same_chunk sc = {c->data, c->len, false, false};
    ds_sql_val k[] = {d, ds_sql_int(c->idx), ds_sql_blob(c->data, c->len)};
    st = ds_sql_exec(s, "SELECT data FROM firmware_image_chunks WHERE digest = $1 AND idx = $2", k, 2,
                     same_chunk_row, &sc, NULL);
    if (st != DS_OK)
        return st;
    if (sc.found && sc.same)
        return DS_OK; /* a resumed upload sends it again */
    if (sc.found && im.complete)
        return ds_store_fail(s, DS_E_CONFLICT, "chunk %u of this complete image holds other bytes", c->idx);
    /* An unfinished upload takes the newest bytes; the final hash decides. */
    st = ds_sql_exec(s,
                     sc.found ? "UPDATE firmware_image_chunks SET data = $3 WHERE digest = $1 AND idx = $2"
                              : "INSERT INTO firmware_image_chunks (digest, idx, data) VALUES ($1, $2, $3)",
                     k, 3, NULL, NULL, NULL);
    if (st != DS_OK)
        return st;
    int64_t have = 0;
    if ((st = ds_sql_int1(s, "SELECT count(*) FROM firmware_image_chunks WHERE digest = $1", &d, 1, &have,
                          NULL)) != DS_OK)
        return st;
    if ((uint64_t)have < im.n_chunks)
        return DS_OK;
    /* The last chunk is in: F7, the bytes must hash to the address. */
    hash_ctx hc = {.total = 0, .next = 0, .ok = true};
    if (drot_sha256_init(&hc.h) != DROT_OK)
        return ds_store_fail(s, DS_E_DB, "sha-256 unavailable");
    st = ds_sql_exec(s, "SELECT idx, data FROM firmware_image_chunks WHERE digest = $1 ORDER BY idx", &d, 1,
                     hash_row, &hc, NULL);
    uint8_t got[32];
    bool hashed = st == DS_OK && hc.ok && drot_sha256_final(&hc.h, got) == DROT_OK;
    drot_sha256_release(&hc.h);
    if (st != DS_OK)
        return st;
    if (hashed && hc.total == c->size && drot_ct_equal(got, c->digest, 32) == DROT_OK) {
        ds_sql_val a[] = {d, ds_sql_int(c->now)};
        st = ds_sql_exec(s, "UPDATE firmware_images SET complete = 1, completed_at = $2 WHERE digest = $1", a,
                         2, NULL, NULL, NULL);
        return st == DS_OK ? fw_audit(s, c->actor, "firmware.upload_complete", dh,
                                      json_pack("{s:I}", "size", (json_int_t)c->size))
                           : st;
    }
    /* Not the image it claims to be: nothing of it is kept. */
    c->mismatch = true;
    memcpy(c->got, got, sizeof got);
    char gh[65];
    fw_hex(got, 32, gh);
    st = ds_sql_exec(s, "DELETE FROM firmware_images WHERE digest = $1", &d, 1, NULL, NULL, NULL);
    return st == DS_OK ? fw_audit(s, c->actor, "firmware.upload_rejected", dh,
                                  json_pack("{s:I, s:s}", "size", (json_int_t)c->size, "sha256_of_bytes", gh))
                       : st;
}

/* see firmware.h */
ds_status fw_image_put_chunk(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], uint32_t size, uint32_t idx,
                             const uint8_t *data, size_t len, const char *actor, int64_t now, fw_image *out)
{
    if (s == NULL)
        return DS_E_ARG;
    if (digest == NULL || data == NULL || !fw_actor_ok(actor))
        return ds_store_fail(s, DS_E_ARG, "image chunk: missing digest or data, or a bad actor");
    if (size == 0 || size > FW_IMAGE_MAX)
        return ds_store_fail(s, DS_E_ARG, "image size %u is not in 1..%u bytes", size, FW_IMAGE_MAX);
    uint32_t n = n_chunks_of(size, FW_CHUNK_SIZE);
    if (idx >= n)
        return ds_store_fail(s, DS_E_ARG, "chunk %u: an image of %u bytes has chunks 0..%u", idx, size,
                             n - 1);
    size_t want = idx + 1 < n ? FW_CHUNK_SIZE : size - (size_t)idx * FW_CHUNK_SIZE;
    if (len != want)
        return ds_store_fail(s, DS_E_ARG, "chunk %u must be %zu bytes, not %zu", idx, want, len);
    put_ctx c = {digest, size, idx, data, len, actor, now, false, {0}};
    ds_status st = ds_sql_tx(s, put_tx, &c);
    if (st != DS_OK)
        return st;
    if (c.mismatch) {
        char want_h[65], got_h[65];
        fw_hex(digest, 32, want_h);
        fw_hex(c.got, 32, got_h);
        return ds_store_fail(s, DS_E_CONFLICT,
                             "the uploaded bytes hash to %s, not %s: the upload was discarded (upload the "
                             "file again)",
                             got_h, want_h);
    }
    return out != NULL ? fw_image_get(s, digest, out) : DS_OK;
}

typedef struct discard_ctx {
    const uint8_t *digest;
    const char *actor;
} discard_ctx;

static ds_status discard_tx(ds_store *s, void *vctx)
{
    discard_ctx *c = vctx;
    const uint8_t *digest = c->digest;
    ds_status st = fw_lock_hex(s, "fw-image:", digest, DS_DIGEST_LEN);
    fw_image im;
    bool found = false;
    if (st == DS_OK)
        st = image_load(s, digest, &im, &found);
    if (st != DS_OK)
        return st;
    if (!found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no upload of this image");
    if (im.complete)
        return ds_store_fail(s, DS_E_CONFLICT,
                             "the image is complete: only unfinished uploads are discarded");
    ds_sql_val d = ds_sql_blob(digest, DS_DIGEST_LEN);
    st = ds_sql_exec(s, "DELETE FROM firmware_images WHERE digest = $1", &d, 1, NULL, NULL, NULL);
    char dh[65];
    fw_hex(digest, 32, dh);
    return st == DS_OK ? fw_audit(s, c->actor, "firmware.upload_discard", dh,
                                  json_pack("{s:I, s:I}", "size", (json_int_t)im.size, "chunks_stored",
                                            (json_int_t)im.have))
                       : st;
}

/* see firmware.h */
ds_status fw_image_discard(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], const char *actor)
{
    if (s == NULL || digest == NULL)
        return DS_E_ARG;
    if (!fw_actor_ok(actor))
        return ds_store_fail(s, DS_E_ARG, "discard: a bad actor");
    discard_ctx c = {digest, actor};
    return ds_sql_tx(s, discard_tx, &c);
}

typedef struct read_ctx {
    uint64_t from, to; /* [from, to) */
    uint32_t chunk;
    fw_bytes_cb cb;
    void *ctx;
    bool stopped, bad;
} read_ctx;

static int read_row(const ds_sql_row *r, void *vctx)
{
    read_ctx *c = vctx;
    uint64_t base = (uint64_t)ds_sql_get_int(r, 0) * c->chunk;
    size_t n = 0;
    const uint8_t *b = ds_sql_get_blob(r, 1, &n);
    if (b == NULL) {
        c->bad = true;
        return 1;
    }
    uint64_t lo = c->from > base ? c->from - base : 0;
    uint64_t hi = c->to - base < n ? c->to - base : n;
    if (lo < hi && c->cb(b + lo, (size_t)(hi - lo), c->ctx) != 0) {
        c->stopped = true;
        return 1;
    }
    return 0;
}

/* see firmware.h */
ds_status fw_image_read(ds_store *s, const uint8_t digest[DS_DIGEST_LEN], uint64_t offset, uint64_t len,
                        fw_bytes_cb cb, void *ctx)
{
    if (s == NULL || digest == NULL || cb == NULL)
        return DS_E_ARG;
    fw_image im;
    bool found = false;
    ds_sql_val d = ds_sql_blob(digest, DS_DIGEST_LEN);
    memset(&im, 0, sizeof im);
    ds_status st =
        ds_sql_exec(s,
                    "SELECT digest, size, chunk_size, complete, created_at, completed_at, created_by "
                    "FROM firmware_images WHERE digest = $1",
                    &d, 1, image_row, &im, NULL);
    found = im.size != 0;
    if (st != DS_OK)
        return st;
    if (!found || !im.complete)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no complete image with this digest");
    if (len == 0 || offset >= im.size || len > im.size - offset)
        return ds_store_fail(s, DS_E_ARG, "bytes %llu..+%llu lie outside the image's %u bytes",
                             (unsigned long long)offset, (unsigned long long)len, im.size);
    read_ctx c = {offset, offset + len, im.chunk_size, cb, ctx, false, false};
    ds_sql_val a[] = {d, ds_sql_int((int64_t)(offset / im.chunk_size)),
                      ds_sql_int((int64_t)((offset + len - 1) / im.chunk_size))};
    st =
        ds_sql_exec(s,
                    "SELECT idx, data FROM firmware_image_chunks WHERE digest = $1 AND idx BETWEEN $2 AND $3 "
                    "ORDER BY idx",
                    a, 3, read_row, &c, NULL);
    if (st != DS_OK)
        return st;
    if (c.bad)
        return ds_store_fail(s, DS_E_CORRUPT, "a chunk of a complete image is missing its bytes");
    return c.stopped ? ds_store_fail(s, DS_E_ARG, "the reader stopped") : DS_OK;
}

/* ---- releases -------------------------------------------------------------------------------- */

typedef struct one_release {
    fw_release *out;
    bool found;
} one_release;

static int release_row(const ds_sql_row *r, void *ctx)
{
    one_release *o = ctx;
    fw_release_from_row(r, 0, o->out);
    o->found = true;
    return 1;
}

/* see firmware.h */
ds_status fw_release_get(ds_store *s, int64_t id, fw_release *out)
{
    if (s == NULL || out == NULL || id <= 0)
        return DS_E_ARG;
    one_release o = {out, false};
    ds_sql_val a = ds_sql_int(id);
    ds_status st = ds_sql_exec(s, "SELECT " FW_RELEASE_COLS " FROM firmware_releases r WHERE r.id = $1", &a,
                               1, release_row, &o, NULL);
    if (st == DS_OK && !o.found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no release %lld", (long long)id);
    return st;
}

/* see firmware.h */
ds_status fw_release_find(ds_store *s, const char *component, const char *version, fw_release *out)
{
    if (s == NULL || out == NULL || !fw_text_ok(component, DROT_MANIFEST_MAX_COMPONENT) ||
        !fw_text_ok(version, DROT_MANIFEST_MAX_VERSION))
        return s == NULL ? DS_E_ARG : ds_store_fail(s, DS_E_ARG, "bad component or version");
    one_release o = {out, false};
    ds_sql_val a[] = {ds_sql_text(component), ds_sql_text(version)};
    ds_status st = ds_sql_exec(
        s, "SELECT " FW_RELEASE_COLS " FROM firmware_releases r WHERE r.component = $1 AND r.version = $2", a,
        2, release_row, &o, NULL);
    if (st == DS_OK && !o.found)
        return ds_store_fail(s, DS_E_NOT_FOUND, "no published release %s %s", component, version);
    return st;
}

typedef struct list_releases {
    fw_release_cb cb;
    void *ctx;
    fw_release r;
} list_releases;

static int list_release_row(const ds_sql_row *row, void *ctx)
{
    list_releases *l = ctx;
    fw_release_from_row(row, 0, &l->r);
    return l->cb(&l->r, l->ctx);
}

/* see firmware.h */
ds_status fw_release_list(ds_store *s, const char *component, size_t limit, fw_release_cb cb, void *ctx)
{
    if (s == NULL || cb == NULL)
        return DS_E_ARG;
    list_releases *l = ds_calloc(1, sizeof *l);
    if (l == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "out of memory");
    l->cb = cb;
    l->ctx = ctx;
    ds_sql_val a[] = {ds_sql_text(component),
                      ds_sql_int(limit == 0 || limit > FW_LIST_MAX ? FW_LIST_MAX : (int64_t)limit)};
    ds_status st = ds_sql_exec(s,
                               "SELECT " FW_RELEASE_COLS " FROM firmware_releases r "
                               "WHERE CAST($1 AS TEXT) IS NULL OR r.component = $1 ORDER BY r.id LIMIT $2",
                               a, 2, list_release_row, l, NULL);
    ds_free(l);
    return st;
}

typedef struct publish_ctx {
    const uint8_t *msg;
    size_t len;
    drot_manifest m;
    char component[DROT_MANIFEST_MAX_COMPONENT + 1];
    char version[DROT_MANIFEST_MAX_VERSION + 1];
    uint8_t signer[32];
    const char *actor;
    int64_t now;
    fw_release *out;
    bool created;
} publish_ctx;

static ds_status publish_tx(ds_store *s, void *vctx)
{
    publish_ctx *c = vctx;
    char dh[65];
    fw_hex(c->m.digest, 32, dh);
    fw_image im;
    bool found = false;
    ds_status st = image_load(s, c->m.digest, &im, &found);
    if (st != DS_OK)
        return st;
    if (!found || !im.complete)
        return ds_store_fail(
            s, DS_E_NOT_FOUND,
            "the manifest's image %s is %s: upload the image first (drotctl firmware publish "
            "MANIFEST IMAGE)",
            dh, found ? "still being uploaded" : "not in the repository");
    if (im.size != c->m.size)
        return ds_store_fail(s, DS_E_CONFLICT, "the manifest says %u bytes, the image %s has %u", c->m.size,
                             dh, im.size);
    fw_release old;
    st = fw_release_find(s, c->component, c->version, &old);
    if (st == DS_OK) {
        if (memcmp(old.image_digest, c->m.digest, 32) == 0 && old.svn == c->m.svn && old.size == c->m.size) {
            *c->out = old; /* the same content again: nothing to do */
            return DS_OK;
        }
        char oh[65];
        fw_hex(old.image_digest, 32, oh);
        return ds_store_fail(s, DS_E_EXISTS,
                             "%s %s is already published with other content (image %s, SVN %u): a version "
                             "names one image; sign the new one with another version",
                             c->component, c->version, oh, old.svn);
    }
    if (st != DS_E_NOT_FOUND)
        return st;
    ds_sql_val a[] = {ds_sql_text(c->component),    ds_sql_text(c->version), ds_sql_int(c->m.svn),
                      ds_sql_blob(c->m.digest, 32), ds_sql_int(c->m.size),   ds_sql_blob(c->msg, c->len),
                      ds_sql_blob(c->signer, 32),   ds_sql_int(c->now),      ds_sql_text(c->actor)};
    int64_t id = 0;
    st = ds_sql_int1(s,
                     "INSERT INTO firmware_releases (component, version, svn, image_digest, size, manifest, "
                     "signer, published_at, published_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                     "RETURNING id",
                     a, 9, &id, NULL);
    if (st != DS_OK)
        return st;
    c->created = true;
    char subject[32], sh[65];
    snprintf(subject, sizeof subject, "release:%lld", (long long)id);
    fw_hex(c->signer, 32, sh);
    st = fw_audit(s, c->actor, "firmware.publish", subject,
                  json_pack("{s:s, s:s, s:I, s:s, s:I, s:s}", "component", c->component, "version",
                            c->version, "svn", (json_int_t)c->m.svn, "image", dh, "size",
                            (json_int_t)c->m.size, "signer", sh));
    return st == DS_OK ? fw_release_get(s, id, c->out) : st;
}

/* Verifies msg against each anchor hash in turn (a device has at most
 * DROT_AUTHORITY_MAX_SLOTS slots; the server may keep more authority keys).
 * DROT_OK with *m and the signer's hash, or the most telling failure. */
static drot_status verify_any(const uint8_t *msg, size_t len, const uint8_t (*anchors)[32], size_t n,
                              drot_manifest *m, uint8_t signer[32])
{
    drot_status worst = DROT_E_VERIFY;
    for (size_t i = 0; i < n; i++) {
        drot_anchor_slot slot;
        memset(&slot, 0, sizeof slot);
        memcpy(slot.hash, anchors[i], 32);
        slot.present = true;
        drot_status st = drot_manifest_verify(msg, len, &slot, 1, m, NULL);
        if (st == DROT_OK) {
            memcpy(signer, anchors[i], 32);
            return DROT_OK;
        }
        if (st != DROT_E_VERIFY) {
            worst = st; /* a malformed message says more than "not this signer" */
            break;
        }
    }
    return worst;
}

/* see firmware.h */
ds_status fw_release_publish(ds_store *s, const uint8_t *manifest, size_t len, const uint8_t (*anchors)[32],
                             size_t n_anchors, const char *actor, int64_t now, fw_release *out, bool *created)
{
    if (s == NULL)
        return DS_E_ARG;
    if (manifest == NULL || out == NULL || created == NULL || (anchors == NULL && n_anchors > 0) ||
        !fw_actor_ok(actor))
        return ds_store_fail(s, DS_E_ARG, "publish: missing manifest or output, or a bad actor");
    *created = false;
    if (len == 0 || len > FW_MANIFEST_MAX)
        return ds_store_fail(s, DS_E_ARG, "a signed manifest is 1..%u bytes, not %zu", FW_MANIFEST_MAX, len);
    publish_ctx *c = ds_calloc(1, sizeof *c);
    if (c == NULL)
        return ds_store_fail(s, DS_E_NOMEM, "out of memory");
    c->msg = manifest;
    c->len = len;
    c->actor = actor;
    c->now = now;
    c->out = out;
    drot_status ds =
        n_anchors == 0 ? DROT_E_VERIFY : verify_any(manifest, len, anchors, n_anchors, &c->m, c->signer);
    ds_status st = DS_OK;
    if (ds != DROT_OK) {
        st = ds_store_fail(s, DS_E_ARG, "the manifest is refused: %s (%s)", drot_status_str(ds),
                           ds == DROT_E_VERIFY   ? "not signed by an authority key of this server"
                           : ds == DROT_E_BADKEY ? "its signer's anchor is revoked"
                                                 : "not a signed firmware manifest");
    } else {
        memcpy(c->component, c->m.component, c->m.component_len);
        memcpy(c->version, c->m.version, c->m.version_len);
        st = ds_sql_tx(s, publish_tx, c);
        *created = st == DS_OK && c->created;
    }
    ds_free(c);
    return st;
}
