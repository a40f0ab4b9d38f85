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
 * followed.
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
 *      decrypted (same device, inode, size, mtime and ctime: file_id),
 *      still a regular file, still without group or other bits; and the
 *      fingerprint in the metadata must be the key's, compared again
 *      whenever the metadata file is not the one last compared (its
 *      file_id). Otherwise the key is dropped and decrypted again, and
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "keys.h"
#include "keys_internal.h"

/* Largest metadata file read. */
#define META_MAX 4096

/* What identifies one version of a file (invariant 3): a file replaced by
 * rename has another inode; one rewritten in place another mtime, and
 * ctime moves with any chmod, rename or link change and cannot be set. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} file_id;

/* A decrypted key and its reservation (invariants 2, 3, 4). */
typedef struct cached_key {
    struct cached_key *next;
    char name[DS_KEY_NAME_MAX];
    char fingerprint[65]; /* of key, and of the reservation below */
    EVP_PKEY *key;        /* NULL once dropped */
    file_id key_id;       /* the .key.pem that was decrypted */
    file_id meta_id;      /* the .json whose fingerprint was last compared */
    uint64_t left;        /* uses reserved (persisted) and not yet spent */
    uint64_t block;       /* size of the next reservation */
} cached_key;

typedef struct file_be {
    int dirfd;
    char dir[512];
    char *pass; /* NULL when opened without a passphrase */
    size_t pass_len;
    char *err; /* the keystore's err buffer */
    size_t errcap;
    cached_key *cache;
    unsigned long decryptions, meta_writes; /* ds_keystore_file_stats */
} file_be;

/* Invariant 5, within this process. */
static pthread_mutex_t g_meta_mu = PTHREAD_MUTEX_INITIALIZER;

#define FERR(b, ...) ds_keys_errf((b)->err, (b)->errcap, __VA_ARGS__)

/* The metadata file: the public info plus the public key (hex of its
 * SubjectPublicKeyInfo DER), so that public operations never decrypt. */
#define SPKI_HEX_MAX 400
typedef struct meta {
    ds_key_info info;
    char spki_hex[SPKI_HEX_MAX];
} meta;

/* ---- metadata ------------------------------------------------------------ */

static ds_keys_status io_status(int e)
{
    return e == ENOENT ? DS_KEYS_E_NOTFOUND : DS_KEYS_E_IO;
}

static void file_id_of(const struct stat *sb, file_id *id)
{
    memset(id, 0, sizeof *id);
    id->dev = sb->st_dev;
    id->ino = sb->st_ino;
    id->size = sb->st_size;
    id->mtime = sb->st_mtim;
    id->ctime = sb->st_ctim;
}

static int file_id_eq(const file_id *a, const file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Public key from the metadata's hex SPKI; NULL if malformed. */
static EVP_PKEY *spki_from_hex(const char *hex)
{
    unsigned char der[SPKI_HEX_MAX / 2];
    size_t n = strlen(hex);
    if (n == 0 || n % 2 != 0 || n / 2 > sizeof der || strspn(hex, "0123456789abcdef") != n)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
        unsigned lo = (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);
        der[i] = (unsigned char)(hi << 4 | lo);
    }
    const unsigned char *p = der;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)(n / 2));
    if (pk != NULL && (p != der + n / 2 || !ds_keys_is_p256(pk))) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    ERR_clear_error();
    return pk;
}

/* Reads and checks <name>.json; *pub (if not NULL) = its public key,
 * whose fingerprint MUST be the recorded one; *id (if not NULL) = the
 * file_id of the file read, taken before reading it (so a change while
 * it is read shows as a change later, never the reverse). */
static ds_keys_status meta_read(file_be *b, const char *name, meta *m, EVP_PKEY **pub, file_id *id)
{
    char path[DS_KEY_NAME_MAX + 8];
    snprintf(path, sizeof path, "%s.json", name);
    int fd = openat(b->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        FERR(b, "%s/%s: %s", b->dir, path, strerror(e));
        return io_status(e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        FERR(b, "%s/%s: %s", b->dir, path, strerror(e));
        return DS_KEYS_E_IO;
    }
    if (id != NULL)
        file_id_of(&sb, id);
    char buf[META_MAX];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0 || (size_t)n >= sizeof buf) {
        FERR(b, "%s/%s: unreadable or too large", b->dir, path);
        return DS_KEYS_E_FORMAT;
    }
    json_error_t jerr;
    json_t *j = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    const char *jname = NULL, *jrole = NULL, *jfp = NULL, *jfile = NULL, *jspki = NULL;
    json_int_t created = -1, uses = -1, jn = -1;
    ds_keys_status st = DS_KEYS_E_FORMAT;
    ds_key_info *info = &m->info;
    EVP_PKEY *pk = NULL;
    char fp[65];
    memset(m, 0, sizeof *m);
    if (j == NULL || json_unpack(j, "{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "name", &jname, "role",
                                 &jrole, "n", &jn, "file", &jfile, "fingerprint", &jfp, "public_key", &jspki,
                                 "created", &created, "uses", &uses) != 0)
        goto out;
    if (strcmp(jname, name) != 0 || ds_key_name_parse(name, &info->role, &info->n) != DS_KEYS_OK ||
        strcmp(jrole, ds_key_role_name(info->role)) != 0 || jn != (json_int_t)info->n || created < 0 ||
        uses < 0 || strlen(jfp) != 64 || strspn(jfp, "0123456789abcdef") != 64 ||
        strlen(jspki) >= sizeof m->spki_hex ||
        snprintf(info->file, sizeof info->file, "%s.key.pem", name) >= (int)sizeof info->file ||
        strcmp(jfile, info->file) != 0)
        goto out;
    pk = spki_from_hex(jspki);
    if (pk == NULL || ds_keys_fingerprint(pk, fp) != DS_KEYS_OK || strcmp(fp, jfp) != 0)
        goto out;
    snprintf(info->name, sizeof info->name, "%s", name);
    memcpy(info->fingerprint, jfp, 65);
    memcpy(m->spki_hex, jspki, strlen(jspki) + 1);
    info->created = (int64_t)created;
    info->uses = (uint64_t)uses;
    if (pub != NULL) {
        *pub = pk;
        pk = NULL;
    }
    st = DS_KEYS_OK;
out:
    if (st != DS_KEYS_OK)
        FERR(b, "%s/%s: malformed metadata", b->dir, path);
    EVP_PKEY_free(pk);
    json_decref(j);
    return st;
}

static ds_keys_status write_fd_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DS_KEYS_E_IO;
        p += w;
        n -= (size_t)w;
    }
    return DS_KEYS_OK;
}

/* Creates ".<name>.json.<16 hex>.tmp" with O_EXCL (invariant 5: two
 * writers never share a temporary file, whatever else happens). The
 * ".tmp" ending is what drotctl init's clean-up removes. */
static int meta_tmp_open(file_be *b, const char *name, char *tmp, size_t cap)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char r[8];
        if (RAND_bytes(r, sizeof r) != 1) {
            ERR_clear_error();
            errno = EIO;
            return -1;
        }
        snprintf(tmp, cap, ".%s.json.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", name, r[0], r[1], r[2], r[3],
                 r[4], r[5], r[6], r[7]);
        int fd = openat(b->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Replaces <name>.json atomically: unique temp file, fsync, rename, fsync
 * dir. *id (if not NULL) = the file_id of the new file once renamed (the
 * caller holds the key's lock, so it is still ours). */
static ds_keys_status meta_write(file_be *b, const meta *m, file_id *id)
{
    const ds_key_info *info = &m->info;
    char created_utc[32];
    time_t t = (time_t)info->created;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(created_utc, sizeof created_utc, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return DS_KEYS_E_ARG;
    json_t *j =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "name", info->name, "role",
                  ds_key_role_name(info->role), "n", (json_int_t)info->n, "algorithm", "EC P-256", "file",
                  info->file, "fingerprint", info->fingerprint, "public_key", m->spki_hex, "created",
                  (json_int_t)info->created, "created_utc", created_utc, "uses", (json_int_t)info->uses);
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL)
        return DS_KEYS_E_NOMEM;

    char tmp[DS_KEY_NAME_MAX + 32], path[DS_KEY_NAME_MAX + 8];
    snprintf(path, sizeof path, "%s.json", info->name);
    ds_keys_status st = DS_KEYS_E_IO;
    int e = 0;
    int fd = meta_tmp_open(b, info->name, tmp, sizeof tmp);
    if (fd < 0) {
        e = errno;
        goto out;
    }
    st = write_fd_all(fd, text, strlen(text));
    if (st == DS_KEYS_OK)
        st = write_fd_all(fd, "\n", 1);
    if (st == DS_KEYS_OK && fsync(fd) != 0)
        st = DS_KEYS_E_IO;
    if (close(fd) != 0 && st == DS_KEYS_OK)
        st = DS_KEYS_E_IO;
    if (st == DS_KEYS_OK && renameat(b->dirfd, tmp, b->dirfd, path) != 0)
        st = DS_KEYS_E_IO;
    e = errno;
    if (st != DS_KEYS_OK)
        unlinkat(b->dirfd, tmp, 0);
    if (st == DS_KEYS_OK)
        b->meta_writes++;
    if (st == DS_KEYS_OK && fsync(b->dirfd) != 0) {
        e = errno;
        st = DS_KEYS_E_IO;
    }
    struct stat sb;
    if (st == DS_KEYS_OK && id != NULL) {
        if (fstatat(b->dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            file_id_of(&sb, id);
        else
            memset(id, 0, sizeof *id); /* compared as changed: read again next time */
    }
out:
    if (st != DS_KEYS_OK)
        FERR(b, "%s/%s: cannot write metadata: %s", b->dir, path, strerror(e));
    free(text);
    return st;
}

/* ---- private keys --------------------------------------------------------- */

static ds_keys_status no_passphrase(file_be *b)
{
    FERR(b, "no passphrase given: set DROT_KEY_PASSPHRASE or use --passphrase-file");
    return DS_KEYS_E_NO_PASSPHRASE;
}

static ds_keys_status perm_error(file_be *b, const char *file)
{
    FERR(b, "%s/%s: readable or writable by group or others; chmod 0600 it", b->dir, file);
    return DS_KEYS_E_PERM;
}

/* Decrypts <name>.key.pem and checks it against the metadata (invariants
 * 2, 3); *key_id and *meta_id = the versions of the two files used. */
static ds_keys_status load_private(file_be *b, const char *name, meta *m, EVP_PKEY **key, file_id *key_id,
                                   file_id *meta_id)
{
    *key = NULL;
    ds_keys_status st = meta_read(b, name, m, NULL, meta_id);
    if (st != DS_KEYS_OK)
        return st;
    const char *file = m->info.file;
    int fd = openat(b->dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        FERR(b, "%s/%s: %s", b->dir, file, strerror(e));
        return io_status(e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) { /* before reading: see meta_read */
        int e = errno;
        close(fd);
        FERR(b, "%s/%s: %s", b->dir, file, strerror(e));
        return DS_KEYS_E_IO;
    }
    file_id_of(&sb, key_id);
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

static cached_key *cache_find(file_be *b, const char *name)
{
    for (cached_key *c = b->cache; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Invariant 2: the key goes (and is wiped unless a handle still holds
 * it); the reservation stays, it belongs to the fingerprint. */
static void cache_drop_key(cached_key *c)
{
    EVP_PKEY_free(c->key);
    c->key = NULL;
}

/* Invariant 5: the key's lock. *fd = the locked key file (close it with
 * key_unlock). Blocks until every other holder has let go. */
static ds_keys_status key_lock(file_be *b, const char *name, int *fd)
{
    char file[DS_KEY_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.key.pem", name);
    pthread_mutex_lock(&g_meta_mu);
    int f = openat(b->dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    while (f >= 0 && flock(f, LOCK_EX) != 0) {
        e = errno;
        if (e != EINTR) {
            close(f);
            f = -1;
        }
    }
    if (f < 0) {
        pthread_mutex_unlock(&g_meta_mu);
        FERR(b, "%s/%s: cannot lock: %s", b->dir, file, strerror(e));
        return io_status(e);
    }
    *fd = f;
    return DS_KEYS_OK;
}

static void key_unlock(int fd)
{
    close(fd); /* drops the flock */
    pthread_mutex_unlock(&g_meta_mu);
}

/* Invariant 4: persists c->block more uses of c's key and makes them
 * c's to spend. Under the key's lock, against the metadata as it is now,
 * which must still name c's key (invariant 3). */
static ds_keys_status reserve_uses(file_be *b, cached_key *c)
{
    int lfd = -1;
    ds_keys_status st = key_lock(b, c->name, &lfd);
    if (st != DS_KEYS_OK)
        return st;
    meta m;
    file_id mid;
    st = meta_read(b, c->name, &m, NULL, &mid);
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
        st = meta_write(b, &m, &mid);
    }
    if (st == DS_KEYS_OK) {
        c->left = c->block;
        c->meta_id = mid;
        if (c->block < DS_KEYS_USE_BLOCK_MAX)
            c->block *= 2;
    } else if (st == DS_KEYS_E_MISMATCH) {
        cache_drop_key(c);
    }
    key_unlock(lfd);
    return st;
}

/* Invariant 4 at close: the unspent part of c's reservation is taken off
 * the persisted count again, if the metadata still names c's key. On any
 * failure the count stays high (over-reports), never low. */
static void give_back_uses(file_be *b, cached_key *c)
{
    if (c->left == 0)
        return;
    int lfd = -1;
    if (key_lock(b, c->name, &lfd) != DS_KEYS_OK)
        return;
    meta m;
    if (meta_read(b, c->name, &m, NULL, NULL) == DS_KEYS_OK &&
        strcmp(m.info.fingerprint, c->fingerprint) == 0 && m.info.uses >= c->left) {
        m.info.uses -= c->left;
        if (meta_write(b, &m, NULL) == DS_KEYS_OK)
            c->left = 0;
    }
    key_unlock(lfd);
}

/* Invariant 3 for a cached key: DS_KEYS_OK and *same = 1 if it may be
 * used as it is; *same = 0 if its key file changed (the caller decrypts
 * again); an error if the key may not be used at all. */
static ds_keys_status cache_check(file_be *b, cached_key *c, int *same)
{
    char file[DS_KEY_NAME_MAX + 8], path[DS_KEY_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.key.pem", c->name);
    snprintf(path, sizeof path, "%s.json", c->name);
    struct stat sb;
    file_id id;
    *same = 0;
    if (fstatat(b->dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
        return DS_KEYS_OK; /* gone or replaced: decrypting again says what is wrong */
    if ((sb.st_mode & 077) != 0) {
        cache_drop_key(c);
        return perm_error(b, file);
    }
    file_id_of(&sb, &id);
    if (!file_id_eq(&id, &c->key_id))
        return DS_KEYS_OK;
    if (fstatat(b->dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
        return DS_KEYS_OK; /* no metadata, no key (invariant 1): reloading says so */
    file_id_of(&sb, &id);
    if (!file_id_eq(&id, &c->meta_id)) {
        meta m;
        ds_keys_status st = meta_read(b, c->name, &m, NULL, &id);
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
static ds_keys_status cache_get(file_be *b, const char *name, cached_key **out)
{
    cached_key *c = cache_find(b, name);
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
    meta m;
    EVP_PKEY *pk = NULL;
    file_id kid, mid;
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
static ds_keys_status use_key(file_be *b, const char *name, EVP_PKEY **key)
{
    *key = NULL;
    if (b->pass == NULL)
        return no_passphrase(b);
    cached_key *c = NULL;
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
static uint64_t own_unspent(file_be *b, const ds_key_info *info)
{
    cached_key *c = cache_find(b, info->name);
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
    file_be *b = be;
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
    meta m;
    ds_keys_status st = meta_read(be, name, &m, NULL, NULL);
    if (st == DS_KEYS_OK) {
        m.info.uses -= own_unspent(be, &m.info);
        *info = m.info;
    }
    return st;
}

/* From the metadata: no decryption, no passphrase needed. */
static ds_keys_status op_load_public(void *be, const char *name, EVP_PKEY **pub)
{
    meta m;
    return meta_read(be, name, &m, pub, NULL);
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
static ds_keys_status scan(file_be *b, const char *suffix, void (*fn)(void *, const char *), void *arg)
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
    file_be *b;
    ds_key_info *out;
    size_t cap, count;
    ds_keys_status st;
} list_ctx;

static void list_one(void *arg, const char *name)
{
    list_ctx *c = arg;
    meta m;
    ds_keys_status st = meta_read(c->b, name, &m, NULL, NULL);
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
static ds_keys_status next_number(file_be *b, ds_key_role role, unsigned *n)
{
    next_ctx c = {role, 0};
    ds_keys_status st = scan(b, ".json", next_one, &c);
    if (st == DS_KEYS_OK)
        st = scan(b, ".key.pem", next_one, &c);
    *n = c.max + 1;
    return st;
}

/* Hex of the SPKI DER of pk into m->spki_hex. */
static ds_keys_status spki_to_hex(EVP_PKEY *pk, meta *m)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(pk, &der);
    if (len <= 0 || (size_t)len * 2 >= sizeof m->spki_hex) {
        OPENSSL_free(der);
        return DS_KEYS_E_CRYPTO;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < len; i++) {
        m->spki_hex[2 * i] = hex[der[i] >> 4];
        m->spki_hex[2 * i + 1] = hex[der[i] & 15];
    }
    m->spki_hex[2 * len] = '\0';
    OPENSSL_free(der);
    return DS_KEYS_OK;
}

static ds_keys_status op_generate(void *be, ds_key_role role, ds_key_info *out)
{
    file_be *b = be;
    if (b->pass == NULL)
        return no_passphrase(b);
    meta m;
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
        (st = spki_to_hex(pk, &m)) != DS_KEYS_OK) {
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
        st = meta_write(b, &m, NULL); /* a new name: nobody else writes it */
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
    file_be *b = be;
    if (b == NULL)
        return;
    while (b->cache != NULL) { /* invariants 2, 4 */
        cached_key *c = b->cache;
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
    const file_be *b = ks != NULL && ks->ops == &k_file_ops ? ks->be : NULL;
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
    if (dir == NULL || strlen(dir) >= sizeof((file_be *)0)->dir ||
        (passphrase != NULL && (passphrase[0] == '\0' || strlen(passphrase) > DS_KEYS_PASSPHRASE_MAX)))
        return DS_KEYS_E_ARG;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ds_keys_errf(err, errcap, "%s: %s", dir, strerror(e));
        return io_status(e);
    }
    ds_keys_status st = check_dir(fd, dir, err, errcap);
    if (st != DS_KEYS_OK) {
        close(fd);
        return st;
    }
    ds_keystore *ks = calloc(1, sizeof *ks);
    file_be *b = calloc(1, sizeof *b);
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
