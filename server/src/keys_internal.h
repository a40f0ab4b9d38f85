/*
 * keys_internal.h — helpers shared by keys.c, keys_file.c, keys_file_meta.c
 * and ca.c, and the file backend's internals. Not part of the custody
 * interface.
 */
#ifndef DS_KEYS_INTERNAL_H
#define DS_KEYS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "keys.h"

/* snprintf into err[0..cap) (cap 0 or err NULL: nothing). Never pass
 * secrets: messages end up in logs and on terminals. */
void ds_keys_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Encrypted PKCS#8 PEM of key (scrypt + AES-256-CBC) written to the open fd
 * (then fsync'ed; the caller closes it). */
ds_keys_status ds_keys_write_pem_fd(int fd, EVP_PKEY *key, const char *passphrase);

/* Reads an encrypted PKCS#8 PEM from the open fd: regular file, mode
 * without group/other bits (DS_KEYS_E_PERM), EncryptedPrivateKeyInfo only
 * (DS_KEYS_E_FORMAT for anything else, an unencrypted key included),
 * DS_KEYS_E_PASSPHRASE if it does not decrypt, EC P-256 only. */
ds_keys_status ds_keys_read_pem_fd(int fd, const char *passphrase, EVP_PKEY **key);

/* What the file backend did since ks was opened, for tests: key files
 * decrypted (attempts, failed ones included) and metadata files written.
 * Both 0 for another backend or NULL. */
void ds_keystore_file_stats(const ds_keystore *ks, unsigned long *decryptions, unsigned long *meta_writes);

/* True if key is an EC key on P-256. */
int ds_keys_is_p256(const EVP_PKEY *key);

/* ---- the file backend's own internals (keys_file.c, keys_file_meta.c) ----
 * keys_file.c has the backend's operations, the cache of decrypted keys and
 * the use reservations; keys_file_meta.c the metadata files and each key's
 * lock. The invariants are numbered at the top of keys_file.c. */

/* What identifies one version of a file (keys_file.c, invariant 3): a
 * file replaced by rename has another inode; one rewritten in place another
 * mtime; and ctime moves with any chmod, rename or link change and cannot
 * be set. */
typedef struct ds_kf_file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} ds_kf_file_id;

/* The metadata file: the public info plus the public key (hex of its
 * SubjectPublicKeyInfo DER), so that public operations never decrypt. */
#define DS_KF_SPKI_HEX_MAX 400
typedef struct ds_kf_meta {
    ds_key_info info;
    char spki_hex[DS_KF_SPKI_HEX_MAX];
} ds_kf_meta;

typedef struct ds_kf_cached_key ds_kf_cached_key; /* keys_file.c */

/* The backend's state behind ds_keystore.be. */
typedef struct ds_kf_backend {
    int dirfd;
    char dir[512];
    char *pass; /* NULL when opened without a passphrase */
    size_t pass_len;
    char *err; /* the keystore's err buffer */
    size_t errcap;
    ds_kf_cached_key *cache;
    unsigned long decryptions, meta_writes; /* ds_keystore_file_stats */
} ds_kf_backend;

/* DS_KEYS_E_NOTFOUND for ENOENT, else DS_KEYS_E_IO. */
ds_keys_status ds_kf_io_status(int e);
/* *id = the version of the file sb describes. */
void ds_kf_file_id_of(const struct stat *sb, ds_kf_file_id *id);
/* True if a and b are the same version of the same file. */
int ds_kf_file_id_eq(const ds_kf_file_id *a, const ds_kf_file_id *b);
/* Reads and checks <name>.json into *m; *pub (if not NULL) = its public
 * key, whose fingerprint is the recorded one; *id (if not NULL) = the
 * version read, taken before reading (a change while it is read shows as
 * a change later, never the reverse). Errors are written to b->err. */
ds_keys_status ds_kf_meta_read(ds_kf_backend *b, const char *name, ds_kf_meta *m, EVP_PKEY **pub,
                               ds_kf_file_id *id);
/* Replaces <name>.json with *m atomically (invariant 5): a temporary file
 * of a unique name, fsync, rename, fsync of the directory. *id (if not
 * NULL) = the new file's version (the caller holds the key's lock). */
ds_keys_status ds_kf_meta_write(ds_kf_backend *b, const ds_kf_meta *m, ds_kf_file_id *id);
/* Takes the key's lock (invariant 5): the process mutex, then an
 * exclusive flock on <name>.key.pem, blocking. *fd = the locked file, for
 * ds_kf_key_unlock. */
ds_keys_status ds_kf_key_lock(ds_kf_backend *b, const char *name, int *fd);
void ds_kf_key_unlock(int fd);
/* m->spki_hex = hex of pk's SubjectPublicKeyInfo DER. */
ds_keys_status ds_kf_spki_to_hex(EVP_PKEY *pk, ds_kf_meta *m);

#endif /* DS_KEYS_INTERNAL_H */
