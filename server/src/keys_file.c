/*
 * keys_file.c — the file backend of key custody (keys.h).
 *
 * Layout of the key directory (mode 0700):
 *
 *   <name>.key.pem   encrypted PKCS#8 (scrypt, AES-256-CBC), mode 0600
 *   <name>.json      metadata, mode 0600, replaced atomically
 *
 * Every file is reached through openat() on the directory's descriptor,
 * with O_NOFOLLOW, so a symlink planted in the directory is never
 * followed.
 *
 * Invariants (numbered as referenced below):
 *   1. A key exists iff its metadata file exists; generate writes the key
 *      first and the metadata last, and removes the key if that fails. A
 *      key file left without metadata by a crash is never listed or used,
 *      but its number is never reused either (next_number counts it).
 *   2. Private key bytes exist in memory only between decryption and the
 *      end of the one signature they were decrypted for; EVP_PKEY_free
 *      wipes them. The passphrase is copied once and wiped at close.
 *   3. Before a private key is used, its public half must give the
 *      fingerprint recorded in the metadata (a swapped file is refused).
 *   4. The use count is raised and persisted after decryption succeeded and
 *      before the signature is made: wrong passphrases change nothing,
 *      and the count never under-reports.
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

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "keys.h"
#include "keys_internal.h"

/* Largest metadata file read. */
#define META_MAX 4096

typedef struct file_be {
    int dirfd;
    char dir[512];
    char *pass; /* NULL when opened without a passphrase */
    size_t pass_len;
    char *err; /* the keystore's err buffer */
    size_t errcap;
} file_be;

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
 * whose fingerprint MUST be the recorded one. */
static ds_keys_status meta_read(file_be *b, const char *name, meta *m, EVP_PKEY **pub)
{
    char path[DS_KEY_NAME_MAX + 8];
    snprintf(path, sizeof path, "%s.json", name);
    int fd = openat(b->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        FERR(b, "%s/%s: %s", b->dir, path, strerror(e));
        return io_status(e);
    }
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

/* Replaces <name>.json atomically: temp file, fsync, rename, fsync dir. */
static ds_keys_status meta_write(file_be *b, const meta *m)
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

    char tmp[DS_KEY_NAME_MAX + 16], path[DS_KEY_NAME_MAX + 8];
    snprintf(tmp, sizeof tmp, ".%s.json.tmp", info->name);
    snprintf(path, sizeof path, "%s.json", info->name);
    ds_keys_status st = DS_KEYS_E_IO;
    int fd = openat(b->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    st = write_fd_all(fd, text, strlen(text));
    if (st == DS_KEYS_OK)
        st = write_fd_all(fd, "\n", 1);
    if (st == DS_KEYS_OK && fsync(fd) != 0)
        st = DS_KEYS_E_IO;
    if (close(fd) != 0 && st == DS_KEYS_OK)
        st = DS_KEYS_E_IO;
    if (st == DS_KEYS_OK && renameat(b->dirfd, tmp, b->dirfd, path) != 0)
        st = DS_KEYS_E_IO;
    if (st == DS_KEYS_OK && fsync(b->dirfd) != 0)
        st = DS_KEYS_E_IO;
    if (st != DS_KEYS_OK)
        unlinkat(b->dirfd, tmp, 0);
out:
    if (st != DS_KEYS_OK)
        FERR(b, "%s/%s: cannot write metadata: %s", b->dir, path, strerror(errno));
    free(text);
    return st;
}

/* ---- private keys --------------------------------------------------------- */

/* Decrypts <name>.key.pem and checks it against the metadata (invariants 2, 3). */
static ds_keys_status load_private(file_be *b, const char *name, meta *m, EVP_PKEY **key)
{
    *key = NULL;
    if (b->pass == NULL) {
        FERR(b, "no passphrase given: set DROT_KEY_PASSPHRASE or use --passphrase-file");
        return DS_KEYS_E_NO_PASSPHRASE;
    }
    ds_keys_status st = meta_read(b, name, m, NULL);
    if (st != DS_KEYS_OK)
        return st;
    const char *file = m->info.file;
    int fd = openat(b->dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        FERR(b, "%s/%s: %s", b->dir, file, strerror(e));
        return io_status(e);
    }
    st = ds_keys_read_pem_fd(fd, b->pass, key);
    close(fd);
    switch (st) {
    case DS_KEYS_OK: break;
    case DS_KEYS_E_PERM:
        FERR(b, "%s/%s: readable or writable by group or others; chmod 0600 it", b->dir, file);
        return st;
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

static ds_keys_status op_acquire(void *be, const char *name, EVP_PKEY **key)
{
    file_be *b = be;
    meta m;
    EVP_PKEY *pk = NULL;
    ds_keys_status st = load_private(b, name, &m, &pk);
    if (st == DS_KEYS_OK) { /* invariant 4 */
        m.info.uses++;
        st = meta_write(b, &m);
    }
    if (st != DS_KEYS_OK) {
        EVP_PKEY_free(pk);
        return st;
    }
    *key = pk;
    return DS_KEYS_OK;
}

static void op_release(void *be, EVP_PKEY *key)
{
    (void)be;
    EVP_PKEY_free(key); /* EC private scalars are cleared on free */
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

static ds_keys_status op_info(void *be, const char *name, ds_key_info *info)
{
    meta m;
    ds_keys_status st = meta_read(be, name, &m, NULL);
    if (st == DS_KEYS_OK)
        *info = m.info;
    return st;
}

/* From the metadata: no decryption, no passphrase needed. */
static ds_keys_status op_load_public(void *be, const char *name, EVP_PKEY **pub)
{
    meta m;
    return meta_read(be, name, &m, pub);
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
    ds_keys_status st = meta_read(c->b, name, &m, NULL);
    if (st != DS_KEYS_OK) {
        if (c->st == DS_KEYS_OK)
            c->st = st;
        return;
    }
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
    if (b->pass == NULL) {
        FERR(b, "no passphrase given: set DROT_KEY_PASSPHRASE or use --passphrase-file");
        return DS_KEYS_E_NO_PASSPHRASE;
    }
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
        st = meta_write(b, &m);
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
