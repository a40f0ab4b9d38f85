/*
 * keys_internal.h — helpers shared by keys.c, keys_file.c and ca.c.
 * Not part of the custody interface.
 */
#ifndef DS_KEYS_INTERNAL_H
#define DS_KEYS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

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

#endif /* DS_KEYS_INTERNAL_H */
