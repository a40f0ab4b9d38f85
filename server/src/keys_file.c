/*
 * keys_file.c — the file backend of key custody (keys.h).
 *
 * Layout of the key directory (mode 0700):
 *
 *   <name>.key.pem   encrypted PKCS#8 (scrypt, AES-256-CBC), mode 0600;
 *                    written once, never replaced: also the key's lock
 *   <name>.json      metadata, mode 0600, replaced atomically
 *
 * Every file is reached through openat() on the directory's descriptor,
 * with O_NOFOLLOW, so a symlink planted in the directory is never
 * followed. This file has the backend's operations, the cache of decrypted
 * keys and the use reservations; keys_file_meta.c reads, writes and locks
 * the metadata (shared declarations in keys_internal.h).
 *
 * Invariants (numbered as referenced below; docs/keys.md §2 says why):
 *   1. A key exists iff its metadata file exists; generate writes the key
 *      first and the metadata last, and removes the key if that fails. A
 *      key file left without metadata by a crash is never listed or used,
 *      but its number is never reused either (next_number counts it).
 *   2. A private key is decrypted at most once per key store (and again
 *      only when invariant 3 says its files changed), after which the key
 *      store keeps it in its cache until close; close, and a change of
 *      its files, free it (EVP_PKEY_free wipes the scalar). A handle from
 *      acquire is a reference to that key, so a key given out is wiped at
 *      the later of close and release. The passphrase is copied once and
 *      wiped at close. Nothing of either reaches a file other than the
 *      key's own, a log or an error text.
 *   3. Before every signature, the cached key is checked against the
 *      files as they are now: the key file must be the one that was
 *      decrypted (same device, inode, size, mtime and ctime: ds_kf_file_id),
 *      still a regular file, still without group or other bits; and the
 *      fingerprint in the metadata must be the key's, compared again
 *      whenever the metadata file is not the one last compared (its
 *      ds_kf_file_id). Otherwise the key is dropped and decrypted again, and
 *      the fresh key must give the metadata's fingerprint (a swapped file
 *      is refused).
 *   4. The persisted use count never under-reports: a signature is made
 *      only against a reservation already persisted. A key store reserves
 *      uses in blocks (1, 2, 4, … DS_KEYS_USE_BLOCK_MAX per key), only
 *      after the key decrypted and matched (a wrong passphrase changes
 *      nothing), and gives back what it did not spend at close. So once
 *      every key store has closed, the count is exact; a process that dies
 *      leaves it high by at most DS_KEYS_USE_BLOCK_MAX per key. info and
 *      list report the persisted count minus this key store's own unspent
 *      reservation.
 *   5. Every read-modify-write of a key's metadata holds an exclusive
 *      flock on the key's .key.pem (never replaced, so every process locks
 *      the same inode; one lock per key) and a process-wide mutex (for
 *      file systems whose flock is per process); the new metadata goes to
 *      a temporary file of a unique random name created with O_EXCL, is
 *      fsync'ed, renamed over the old one, and the directory fsync'ed. So
 *      any number of key stores, in any threads and processes, may sign
 *      with one key of one directory at once.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "keys.h"
#include "keys_internal.h"

/* A decrypted key and its reservation (invariants 2, 3, 4). */
struct ds_kf_cached_key {
    struct ds_kf_cached_key *next;
    char name[DS_KEY_NAME_MAX];
    char fingerprint[65];  /* of key, and of the reservation below */
    EVP_PKEY *key;         /* NULL once dropped */
    ds_kf_file_id key_id;  /* the .key.pem that was decrypted */
    ds_kf_file_id meta_id; /* the .json whose fingerprint was last compared */
    uint64_t left;         /* uses reserved (persisted) and not yet spent */
    uint64_t block;        /* size of the next reservation */
};

#define FERR(b, ...) ds_keys_errf((b)->err, (b)->errcap, __VA_ARGS__)

/* ---- private keys --------------------------------------------------------- */

static ds_keys_status no_passphrase(ds_kf_backend *b)
{
    FERR(b, "no passphrase given: set DROT_KEY_PASSPHRASE or use --passphrase-file");
    return DS_KEYS_E_NO_PASSPHRASE;
}

static ds_keys_status perm_error(ds_kf_backend *b, const char *file)
{
    FERR(b, "%s/%s: readable or writable by group or others; chmod 0600 it", b->dir, file);
    return DS_KEYS_E_PERM;
}

/* Decrypts <name>.key.pem and checks it against the metadata (invariants
 * 2, 3); *key_id and *meta_id = the versions of the two files used. */
static ds_keys_status load_private(ds_kf_backend *b, const char *name, ds_kf_meta *m, EVP_PKEY **key,
                                   ds_kf_file_id *key_id, ds_kf_file_id *meta_id)
{
    *key = NULL;
    ds_keys_status st = ds_kf_meta_read(b, name, m, NULL, meta_id);
    if (st != DS_KEYS_OK)
        return st;
    const char *file = m->info.file;
    int fd = openat(b->dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        FERR(b, "%s/%s: %s", b->dir, file, strerror(e));
        return ds_kf_io_status(e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) { /* before reading: see ds_kf_meta_read */
        int e = errno;
        close(fd);
        FERR(b, "%s/%s: %s", b->dir, file, strerror(e));
        return DS_KEYS_E_IO;
    }
    ds_kf_file_id_of(&sb, key_id);
    b->decryptions++;
    st = ds_keys_read_pem_fd(fd, b->pass, key);
    close(fd);
    switch (st) {
    case DS_KEYS_OK: break;
    case DS_KEYS_E_PERM: return perm_error(b, file);
    case DS_KEYS_E_PASSPHRASE:
        FERR(b, "%s/%s: wrong passphrase (the key does not decrypt)", b->dir, file);
        return st;
    case DS_KEYS_E_FORMAT: FERR(b, "%s/%s: not an encrypted PKCS#8 P-256 key", b->dir, file); return st;
    default: FERR(b, "%s/%s: %s", b->dir, file, ds_keys_status_str(st)); return st;
    }
    char fp[65];
    if (ds_keys_fingerprint(*key, fp) != DS_KEYS_OK || strcmp(fp, m->info.fingerprint) != 0) {
        FERR(b, "%s/%s: key does not match the fingerprint in %s.json", b->dir, file, name);
        EVP_PKEY_free(*key);
        *key = NULL;
        return DS_KEYS_E_MISMATCH;
    }
    return DS_KEYS_OK;
}

static ds_kf_cached_key *cache_find(ds_kf_backend *b, const char *name)
{
    for (ds_kf_cached_key *c = b->cache; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Invariant 2: the key goes (and is wiped unless a handle still holds
 * it); the reservation stays, it belongs to the fingerprint. */
static void cache_drop_key(ds_kf_cached_key *c)
{
    EVP_PKEY_free(c->key);
    c->key = NULL;
}

/* Invariant 4: persists c->block more uses of c's key and makes them
 * c's to spend. Under the key's lock, against the metadata as it is now,
 * which must still name c's key (invariant 3). */
static ds_keys_status reserve_uses(ds_kf_backend *b, ds_kf_cached_key *c)
{
    int lfd = -1;
    ds_keys_status st = ds_kf_key_lock(b, c->name, &lfd);
    if (st != DS_KEYS_OK)
        return st;
    ds_kf_meta m;
    ds_kf_file_id mid;
    st = ds_kf_meta_read(b, c->name, &m, NULL, &mid);
    if (st == DS_KEYS_OK && strcmp(m.info.fingerprint, c->fingerprint) != 0) {
        FERR(b, "%s/%s.key.pem: key does not match the fingerprint in %s.json", b->dir, c->name, c->name);
        st = DS_KEYS_E_MISMATCH;
    }
    if (st == DS_KEYS_OK && m.info.uses > (uint64_t)INT64_MAX - c->block) {
        FERR(b, "%s/%s.json: use count %llu at its limit", b->dir, c->name, (unsigned long long)m.info.uses);
        st = DS_KEYS_E_FORMAT;
    }
    if (st == DS_KEYS_OK) {
        m.info.uses += c->block;
        st = ds_kf_meta_write(b, &m, &mid);
    }
    if (st == DS_KEYS_OK) {
        c->left = c->block;
        c->meta_id = mid;
        if (c->block < DS_KEYS_USE_BLOCK_MAX)
            c->block *= 2;
    } else if (st == DS_KEYS_E_MISMATCH) {
        cache_drop_key(c);
    }
    ds_kf_key_unlock(lfd);
    return st;
}

/* Invariant 4 at close: the unspent part of c's reservation is taken off
 * the persisted count again, if the metadata still names c's key. On any
 * failure the count stays high (over-reports), never low. */
static void give_back_uses(ds_kf_backend *b, ds_kf_cached_key *c)
{
    if (c->left == 0)
        return;
    int lfd = -1;
    if (ds_kf_key_lock(b, c->name, &lfd) != DS_KEYS_OK)
        return;
    ds_kf_meta m;
    if (ds_kf_meta_read(b, c->name, &m, NULL, NULL) == DS_KEYS_OK &&
        strcmp(m.info.fingerprint, c->fingerprint) == 0 && m.info.uses >= c->left) {
        m.info.uses -= c->left;
        if (ds_kf_meta_write(b, &m, NULL) == DS_KEYS_OK)
            c->left = 0;
    }
    ds_kf_key_unlock(lfd);
}

/* Invariant 3 for a cached key: DS_KEYS_OK and *same = 1 if it may be
 * used as it is; *same = 0 if its key file changed (the caller decrypts
 * again); an error if the key may not be used at all. */
static ds_keys_status cache_check(ds_kf_backend *b, ds_kf_cached_key *c, int *same)
{
    char file[DS_KEY_NAME_MAX + 8], path[DS_KEY_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.key.pem", c->name);
    snprintf(path, sizeof path, "%s.json", c->name);
    struct stat sb;
    ds_kf_file_id id;
    *same = 0;
    if (fstatat(b->dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
        return DS_KEYS_OK; /* gone or replaced: decrypting again says what is wrong */
    if ((sb.st_mode & 077) != 0) {
        cache_drop_key(c);
        return perm_error(b, file);
    }
    ds_kf_file_id_of(&sb, &id);
    if (!ds_kf_file_id_eq(&id, &c->key_id))
        return DS_KEYS_OK;
    if (fstatat(b->dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
        return DS_KEYS_OK; /* no metadata, no key (invariant 1): reloading says so */
    ds_kf_file_id_of(&sb, &id);
    if (!ds_kf_file_id_eq(&id, &c->meta_id)) {
        ds_kf_meta m;
        ds_keys_status st = ds_kf_meta_read(b, c->name, &m, NULL, &id);
        if (st == DS_KEYS_OK && strcmp(m.info.fingerprint, c->fingerprint) != 0) {
            FERR(b, "%s/%s: key does not match the fingerprint in %s", b->dir, file, path);
            st = DS_KEYS_E_MISMATCH;
        }
        if (st != DS_KEYS_OK) {
            cache_drop_key(c);
            return st;
        }
        c->meta_id = id;
    }
    *same = 1;
    return DS_KEYS_OK;
}

/* The cached key of name, decrypted now if need be (invariants 2, 3). */
static ds_keys_status cache_get(ds_kf_backend *b, const char *name, ds_kf_cached_key **out)
{
    ds_kf_cached_key *c = cache_find(b, name);
    int same = 0;
    if (c != NULL && c->key != NULL) {
        ds_keys_status st = cache_check(b, c, &same);
        if (st != DS_KEYS_OK)
            return st;
        if (same) {
            *out = c;
            return DS_KEYS_OK;
        }
        cache_drop_key(c);
    }
    ds_kf_meta m;
    EVP_PKEY *pk = NULL;
    ds_kf_file_id kid, mid;
    ds_keys_status st = load_private(b, name, &m, &pk, &kid, &mid);
    if (st != DS_KEYS_OK)
        return st;
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            EVP_PKEY_free(pk);
            FERR(b, "out of memory");
            return DS_KEYS_E_NOMEM;
        }
        snprintf(c->name, sizeof c->name, "%s", name);
        c->block = 1;
        c->next = b->cache;
        b->cache = c;
    } else if (strcmp(c->fingerprint, m.info.fingerprint) != 0) {
        /* Another key under this name now: what was reserved counted
         * the old one, whose metadata is gone. */
        c->left = 0;
        c->block = 1;
    }
    memcpy(c->fingerprint, m.info.fingerprint, sizeof c->fingerprint);
    c->key = pk;
    c->key_id = kid;
    c->meta_id = mid;
    *out = c;
    return DS_KEYS_OK;
}

/* One use of name's key (invariant 4): *key = a new reference to the
 * cached key, counted before it is returned. */
static ds_keys_status use_key(ds_kf_backend *b, const char *name, EVP_PKEY **key)
{
    *key = NULL;
    if (b->pass == NULL)
        return no_passphrase(b);
    ds_kf_cached_key *c = NULL;
    ds_keys_status st = cache_get(b, name, &c);
    if (st == DS_KEYS_OK && c->left == 0)
        st = reserve_uses(b, c);
    if (st != DS_KEYS_OK)
        return st;
    if (EVP_PKEY_up_ref(c->key) != 1) {
        FERR(b, "%s: cannot reference the key", name);
        return DS_KEYS_E_CRYPTO;
    }
    c->left--;
    *key = c->key;
    return DS_KEYS_OK;
}

/* This key store's unspent reservation of the key info describes. */
static uint64_t own_unspent(ds_kf_backend *b, const ds_key_info *info)
{
    ds_kf_cached_key *c = cache_find(b, info->name);
    if (c == NULL || strcmp(c->fingerprint, info->fingerprint) != 0 || c->left > info->uses)
        return 0;
    return c->left;
}

static ds_keys_status op_acquire(void *be, const char *name, EVP_PKEY **key)
{
    return use_key(be, name, key);
}

static void op_release(void *be, EVP_PKEY *key)
{
    (void)be;
    EVP_PKEY_free(key); /* a reference: the cache keeps the key until close */
}

/* DER ECDSA-Sig-Value → raw r‖s, each left-padded to 32 bytes. */
static ds_keys_status der_to_raw(const unsigned char *der, size_t len, uint8_t sig[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    ds_keys_status st = DS_KEYS_E_CRYPTO;
    if (s == NULL)
        return st;
    const BIGNUM *r = NULL, *sv = NULL;
    ECDSA_SIG_get0(s, &r, &sv);
    if (p == der + len && BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(sv, sig + 32, 32) == 32)
        st = DS_KEYS_OK;
    ECDSA_SIG_free(s);
    return st;
}

static ds_keys_status op_sign_digest(void *be, const char *name, const uint8_t digest[32], uint8_t sig[64])
{
    ds_kf_backend *b = be;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char der[80];
    size_t der_len = sizeof der;
    ds_keys_status st = op_acquire(b, name, &pk);
    if (st != DS_KEYS_OK)
        return st;
    st = DS_KEYS_E_CRYPTO;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 || EVP_PKEY_sign(ctx, der, &der_len, digest, 32) != 1)
        goto out;
    st = der_to_raw(der, der_len, sig);
out:
    if (st != DS_KEYS_OK)
        FERR(b, "%s: signing failed", name);
    EVP_PKEY_CTX_free(ctx);
    op_release(b, pk);
    ERR_clear_error();
    return st;
}

/* ---- public operations ------------------------------------------------- */

/* Invariant 4: what this key store reserved and did not spend is not a
 * use, so a single process sees its exact count. */
static ds_keys_status op_info(void *be, const char *name, ds_key_info *info)
{
    ds_kf_meta m;
    ds_keys_status st = ds_kf_meta_read(be, name, &m, NULL, NULL);
    if (st == DS_KEYS_OK) {
        m.info.uses -= own_unspent(be, &m.info);
        *info = m.info;
    }
    return st;
}

/* From the metadata: no decryption, no passphrase needed. */
static ds_keys_status op_load_public(void *be, const char *name, EVP_PKEY **pub)
{
    ds_kf_meta m;
    return ds_kf_meta_read(be, name, &m, pub, NULL);
}

static int info_cmp(const void *a, const void *b)
{
    const ds_key_info *x = a, *y = b;
    if (x->role != y->role)
        return x->role < y->role ? -1 : 1;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Calls fn for every "<name><suffix>" entry of the directory whose name
 * parses as a key name. */
static ds_keys_status scan(ds_kf_backend *b, const char *suffix, void (*fn)(void *, const char *), void *arg)
{
    int fd = openat(b->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        FERR(b, "%s: %s", b->dir, strerror(errno));
        return DS_KEYS_E_IO;
    }
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= sl || l - sl >= DS_KEY_NAME_MAX || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        char name[DS_KEY_NAME_MAX];
        memcpy(name, e->d_name, l - sl);
        name[l - sl] = '\0';
        ds_key_role r;
        unsigned n;
        if (ds_key_name_parse(name, &r, &n) == DS_KEYS_OK)
            fn(arg, name);
    }
    closedir(d);
    return DS_KEYS_OK;
}

typedef struct list_ctx {
    ds_kf_backend *b;
    ds_key_info *out;
    size_t cap, count;
    ds_keys_status st;
} list_ctx;

static void list_one(void *arg, const char *name)
{
    list_ctx *c = arg;
    ds_kf_meta m;
    ds_keys_status st = ds_kf_meta_read(c->b, name, &m, NULL, NULL);
    if (st != DS_KEYS_OK) {
        if (c->st == DS_KEYS_OK)
            c->st = st;
        return;
    }
    m.info.uses -= own_unspent(c->b, &m.info); /* as op_info */
    if (c->count < c->cap)
        c->out[c->count] = m.info;
    c->count++;
}

static ds_keys_status op_list(void *be, ds_key_info *out, size_t cap, size_t *count)
{
    list_ctx c = {be, out, cap, 0, DS_KEYS_OK};
    ds_keys_status st = scan(be, ".json", list_one, &c);
    if (st == DS_KEYS_OK)
        st = c.st;
    *count = c.count;
    if (st != DS_KEYS_OK)
        return st;
    if (c.count > cap)
        return DS_KEYS_E_BUFFER;
    if (c.count > 1)
        qsort(out, c.count, sizeof *out, info_cmp);
    return DS_KEYS_OK;
}

typedef struct next_ctx {
    ds_key_role role;
    unsigned max;
} next_ctx;

static void next_one(void *arg, const char *name)
{
    next_ctx *c = arg;
    ds_key_role r;
    unsigned n;
    if (ds_key_name_parse(name, &r, &n) == DS_KEYS_OK && r == c->role && n > c->max)
        c->max = n;
}

/* One above the highest number of role among key files and metadata
 * (invariant 1: an orphaned key file still holds its number). */
static ds_keys_status next_number(ds_kf_backend *b, ds_key_role role, unsigned *n)
{
    next_ctx c = {role, 0};
    ds_keys_status st = scan(b, ".json", next_one, &c);
    if (st == DS_KEYS_OK)
        st = scan(b, ".key.pem", next_one, &c);
    *n = c.max + 1;
    return st;
}

static ds_keys_status op_generate(void *be, ds_key_role role, ds_key_info *out)
{
    ds_kf_backend *b = be;
    if (b->pass == NULL)
        return no_passphrase(b);
    ds_kf_meta m;
    ds_key_info *info = &m.info;
    memset(&m, 0, sizeof m);
    unsigned n = 0;
    ds_keys_status st = next_number(b, role, &n);
    if (st != DS_KEYS_OK)
        return st;
    info->role = role;
    info->n = n;
    if ((st = ds_key_name(role, n, info->name)) != DS_KEYS_OK)
        return st;
    snprintf(info->file, sizeof info->file, "%s.key.pem", info->name);
    info->created = (int64_t)time(NULL);

    EVP_PKEY *pk = NULL;
    if ((st = ds_keys_new_p256(&pk)) != DS_KEYS_OK ||
        (st = ds_keys_fingerprint(pk, info->fingerprint)) != DS_KEYS_OK ||
        (st = ds_kf_spki_to_hex(pk, &m)) != DS_KEYS_OK) {
        EVP_PKEY_free(pk);
        FERR(b, "key generation failed");
        return st;
    }
    int fd = openat(b->dirfd, info->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        EVP_PKEY_free(pk);
        FERR(b, "%s/%s: %s", b->dir, info->file, strerror(e));
        return e == EEXIST ? DS_KEYS_E_EXISTS : DS_KEYS_E_IO;
    }
    st = fchmod(fd, 0600) == 0 ? ds_keys_write_pem_fd(fd, pk, b->pass) : DS_KEYS_E_IO;
    if (close(fd) != 0 && st == DS_KEYS_OK)
        st = DS_KEYS_E_IO;
    EVP_PKEY_free(pk);
    if (st == DS_KEYS_OK)
        st = ds_kf_meta_write(b, &m, NULL); /* a new name: nobody else writes it */
    else
        FERR(b, "%s/%s: cannot write key", b->dir, info->file);
    if (st != DS_KEYS_OK) {
        unlinkat(b->dirfd, info->file, 0);
        return st;
    }
    *out = *info;
    return DS_KEYS_OK;
}

static void op_close(void *be)
{
    ds_kf_backend *b = be;
    if (b == NULL)
        return;
    while (b->cache != NULL) { /* invariants 2, 4 */
        ds_kf_cached_key *c = b->cache;
        b->cache = c->next;
        give_back_uses(b, c);
        cache_drop_key(c);
        free(c);
    }
    if (b->pass != NULL)
        OPENSSL_clear_free(b->pass, b->pass_len + 1);
    if (b->dirfd >= 0)
        close(b->dirfd);
    free(b);
}

static const ds_keystore_ops k_file_ops = {
    .version = DS_KEYSTORE_OPS_VERSION,
    .backend_name = "file",
    .generate = op_generate,
    .load_public = op_load_public,
    .sign_digest = op_sign_digest,
    .acquire = op_acquire,
    .release = op_release,
    .info = op_info,
    .list = op_list,
    .close = op_close,
};

/* see keys_internal.h */
void ds_keystore_file_stats(const ds_keystore *ks, unsigned long *decryptions, unsigned long *meta_writes)
{
    const ds_kf_backend *b = ks != NULL && ks->ops == &k_file_ops ? ks->be : NULL;
    if (decryptions != NULL)
        *decryptions = b != NULL ? b->decryptions : 0;
    if (meta_writes != NULL)
        *meta_writes = b != NULL ? b->meta_writes : 0;
}

/* ---- open and create ------------------------------------------------------ */

/* The directory must be ours and closed to everyone else. */
static ds_keys_status check_dir(int fd, const char *dir, char *err, size_t errcap)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        ds_keys_errf(err, errcap, "%s: not a directory", dir);
        return DS_KEYS_E_IO;
    }
    if ((sb.st_mode & 077) != 0 || sb.st_uid != geteuid()) {
        ds_keys_errf(err, errcap, "%s: key directory must be owned by this user and mode 0700 (is %03o)", dir,
                     (unsigned)(sb.st_mode & 0777));
        return DS_KEYS_E_PERM;
    }
    return DS_KEYS_OK;
}

/* see keys.h */
ds_keys_status ds_keystore_open_file(const char *dir, const char *passphrase, ds_keystore **out, char *err,
                                     size_t errcap)
{
    if (out == NULL)
        return DS_KEYS_E_ARG;
    *out = NULL;
    if (dir == NULL || strlen(dir) >= sizeof((ds_kf_backend *)0)->dir ||
        (passphrase != NULL && (passphrase[0] == '\0' || strlen(passphrase) > DS_KEYS_PASSPHRASE_MAX)))
        return DS_KEYS_E_ARG;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ds_keys_errf(err, errcap, "%s: %s", dir, strerror(e));
        return ds_kf_io_status(e);
    }
    ds_keys_status st = check_dir(fd, dir, err, errcap);
    if (st != DS_KEYS_OK) {
        close(fd);
        return st;
    }
    ds_keystore *ks = calloc(1, sizeof *ks);
    ds_kf_backend *b = calloc(1, sizeof *b);
    if (ks == NULL || b == NULL) {
        free(ks);
        free(b);
        close(fd);
        return DS_KEYS_E_NOMEM;
    }
    b->dirfd = fd;
    snprintf(b->dir, sizeof b->dir, "%s", dir);
    b->err = ks->err;
    b->errcap = sizeof ks->err;
    if (passphrase != NULL) {
        b->pass_len = strlen(passphrase);
        b->pass = OPENSSL_malloc(b->pass_len + 1);
        if (b->pass == NULL) {
            op_close(b);
            free(ks);
            return DS_KEYS_E_NOMEM;
        }
        memcpy(b->pass, passphrase, b->pass_len + 1);
    }
    ks->ops = &k_file_ops;
    ks->be = b;
    *out = ks;
    return DS_KEYS_OK;
}

/* True if the directory has entries besides "." and "..". */
static int dir_has_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            found = 1;
            break;
        }
    }
    closedir(d);
    return found;
}

/* see keys.h */
ds_keys_status ds_keystore_create_file(const char *dir, const char *passphrase, ds_keystore **out, char *err,
                                       size_t errcap)
{
    if (out == NULL)
        return DS_KEYS_E_ARG;
    *out = NULL;
    if (dir == NULL)
        return DS_KEYS_E_ARG;
    if (passphrase == NULL || passphrase[0] == '\0')
        return DS_KEYS_E_NO_PASSPHRASE;
    if (mkdir(dir, 0700) != 0) {
        int e = errno;
        struct stat sb;
        if (e != EEXIST || lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            ds_keys_errf(err, errcap, "%s: cannot create directory: %s", dir, strerror(e));
            return DS_KEYS_E_IO;
        }
        int has = dir_has_entries(dir);
        if (has != 0) {
            ds_keys_errf(err, errcap, "%s: exists and is not empty; refusing to create keys there", dir);
            return has > 0 ? DS_KEYS_E_EXISTS : DS_KEYS_E_IO;
        }
        if (chmod(dir, 0700) != 0) {
            ds_keys_errf(err, errcap, "%s: chmod 0700: %s", dir, strerror(errno));
            return DS_KEYS_E_IO;
        }
    }
    return ds_keystore_open_file(dir, passphrase, out, err, errcap);
}
