/*
 * keys_file_meta.c — the file backend's metadata files (<name>.json) and
 * each key's lock: reading and checking them, replacing them atomically
 * under the lock (keys_file.c, invariants 1, 3 and 5; docs/keys.md §2).
 */
#define _GNU_SOURCE
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
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "keys.h"
#include "keys_internal.h"

/* Largest metadata file read. */
#define META_MAX 4096

/* Invariant 5, within this process. */
static pthread_mutex_t g_meta_mu = PTHREAD_MUTEX_INITIALIZER;

#define FERR(b, ...) ds_keys_errf((b)->err, (b)->errcap, __VA_ARGS__)

/* see keys_internal.h */
ds_keys_status ds_kf_io_status(int e)
{
    return e == ENOENT ? DS_KEYS_E_NOTFOUND : DS_KEYS_E_IO;
}

/* see keys_internal.h */
void ds_kf_file_id_of(const struct stat *sb, ds_kf_file_id *id)
{
    memset(id, 0, sizeof *id);
    id->dev = sb->st_dev;
    id->ino = sb->st_ino;
    id->size = sb->st_size;
    id->mtime = sb->st_mtim;
    id->ctime = sb->st_ctim;
}

/* see keys_internal.h */
int ds_kf_file_id_eq(const ds_kf_file_id *a, const ds_kf_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Public key from the metadata's hex SPKI; NULL if malformed. */
static EVP_PKEY *spki_from_hex(const char *hex)
{
    unsigned char der[DS_KF_SPKI_HEX_MAX / 2];
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

/* see keys_internal.h */
ds_keys_status ds_kf_meta_read(ds_kf_backend *b, const char *name, ds_kf_meta *m, EVP_PKEY **pub,
                               ds_kf_file_id *id)
{
    char path[DS_KEY_NAME_MAX + 8];
    snprintf(path, sizeof path, "%s.json", name);
    int fd = openat(b->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        FERR(b, "%s/%s: %s", b->dir, path, strerror(e));
        return ds_kf_io_status(e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        FERR(b, "%s/%s: %s", b->dir, path, strerror(e));
        return DS_KEYS_E_IO;
    }
    if (id != NULL)
        ds_kf_file_id_of(&sb, id);
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
static int meta_tmp_open(ds_kf_backend *b, const char *name, char *tmp, size_t cap)
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

/* see keys_internal.h. The caller holds the key's lock, so the file
 * renamed into place is still ours when its version is taken. */
ds_keys_status ds_kf_meta_write(ds_kf_backend *b, const ds_kf_meta *m, ds_kf_file_id *id)
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
            ds_kf_file_id_of(&sb, id);
        else
            memset(id, 0, sizeof *id); /* compared as changed: read again next time */
    }
out:
    if (st != DS_KEYS_OK)
        FERR(b, "%s/%s: cannot write metadata: %s", b->dir, path, strerror(e));
    free(text);
    return st;
}

/* see keys_internal.h. The key file is the lock because it is written once
 * and never replaced: every process locks the same inode, and no lock file
 * is added to the directory. The mutex first, so threads of this process
 * queue on it rather than on flock, which some file systems (NFS) implement
 * per process. */
ds_keys_status ds_kf_key_lock(ds_kf_backend *b, const char *name, int *fd)
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
        return ds_kf_io_status(e);
    }
    *fd = f;
    return DS_KEYS_OK;
}

void ds_kf_key_unlock(int fd)
{
    close(fd); /* drops the flock */
    pthread_mutex_unlock(&g_meta_mu);
}

/* see keys_internal.h */
ds_keys_status ds_kf_spki_to_hex(EVP_PKEY *pk, ds_kf_meta *m)
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
