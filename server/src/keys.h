/*
 * keys.h — key custody for drot-server: the authority key(s), the device CA
 * key, the operator CA key and the server's TLS key.
 *
 * Each role is a separate P-256 key with one job (docs/keys.md):
 *
 *   authority    signs manifests, DRoT instructions, anchor updates and
 *                revocation lists (drot/authority.h envelopes); a device
 *                trusts it when SHA-256 of its 65-byte public key is in an
 *                OTP anchor slot. Several may exist ("authority",
 *                "authority-2", …) for anchor rotation.
 *   device-ca    issues the agents' TLS client certificates at enrollment.
 *   operator-ca  issues the operators' (drotctl) client certificates.
 *   server-tls   the server's own TLS key.
 *   audit        signs the audit log's checkpoints (audit.h; docs/audit.md).
 *
 * The keys live behind one custody interface (ds_keystore_ops below) so
 * that a PKCS#11 token can replace the encrypted files later. The interface
 * never hands out private key bytes: a caller either asks the backend to
 * sign a SHA-256 digest (raw r‖s, what COSE ES256 wants) or borrows an
 * EVP_PKEY handle owned by the backend to give to X509_sign/X509_CRL_sign.
 * A PKCS#11 backend would return a handle whose operations run on the token
 * (OpenSSL 3 provider), so the key never leaves it either way.
 *
 * Invariants:
 *   1. Every signature is counted: the persisted use count covers it
 *      before the signature is made, so the count never under-reports.
 *      Uses may be reserved ahead (DS_KEYS_USE_BLOCK_MAX below): a crash
 *      can over-count by at most that many per key and process; after a
 *      clean close the count is exact. A failed decryption changes nothing.
 *   2. No key material, passphrase or decrypted PEM is ever logged or put
 *      into an error message; errors name files and fingerprints only.
 *   3. The passphrase is read from a file or the environment, never from
 *      a command line (ds_keys_passphrase), and wiped on every path.
 *
 * Threads: one ds_keystore is used by one thread at a time (the server
 * serialises its signing through its key-management module). Any number
 * of key stores, in any threads and processes, may open the same
 * directory and sign with the same key at once (the file backend locks
 * each key's metadata; keys_file.c, invariant 5).
 */
#ifndef DS_KEYS_H
#define DS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "drot_crypto.h"

/* Status of key custody and the CAs. DS_KEYS_OK is 0; failures are small
 * negative numbers (as drot_status, so one flipped bit cannot make one
 * look like success). ds_keys_status_str gives the text shown to users. */
typedef enum ds_keys_status {
    DS_KEYS_OK = 0,
    DS_KEYS_E_ARG = -1,            /* NULL pointer, bad name, bad length or value from the caller */
    DS_KEYS_E_IO = -2,             /* a file or directory operation failed (errno in the message) */
    DS_KEYS_E_PASSPHRASE = -3,     /* the key did not decrypt: wrong passphrase (or a damaged file) */
    DS_KEYS_E_PERM = -4,           /* a key file or the key directory is accessible to others */
    DS_KEYS_E_EXISTS = -5,         /* the target exists (non-empty directory, key name taken) */
    DS_KEYS_E_NOTFOUND = -6,       /* no such key, file or directory */
    DS_KEYS_E_FORMAT = -7,         /* a metadata or PEM file is malformed or inconsistent */
    DS_KEYS_E_CRYPTO = -8,         /* OpenSSL failed for another reason */
    DS_KEYS_E_NOMEM = -9,          /* allocation failed */
    DS_KEYS_E_BUFFER = -10,        /* output buffer too small */
    DS_KEYS_E_NO_PASSPHRASE = -11, /* no passphrase: neither a file nor DROT_KEY_PASSPHRASE */
    DS_KEYS_E_CSR = -12,           /* not a PEM certificate request */
    DS_KEYS_E_CSR_SIG = -13,       /* the request's self-signature does not verify */
    DS_KEYS_E_CSR_KEY = -14,       /* the request's key is not an EC P-256 key */
    DS_KEYS_E_CERT = -15,          /* a certificate lacks what its profile requires */
    DS_KEYS_E_MISMATCH = -16,      /* a key does not match its certificate or metadata */
} ds_keys_status;

/* A short constant text for st ("wrong passphrase …"). Never NULL. */
const char *ds_keys_status_str(ds_keys_status st);

/* ---- roles and names ------------------------------------------------------ */

typedef enum ds_key_role {
    DS_ROLE_AUTHORITY = 0,
    DS_ROLE_DEVICE_CA = 1,
    DS_ROLE_OPERATOR_CA = 2,
    DS_ROLE_SERVER_TLS = 3,
    DS_ROLE_AUDIT = 4,
} ds_key_role;
#define DS_ROLE_COUNT 5

/* "authority", "device-ca", "operator-ca", "server-tls", "audit"; NULL if out of range. */
const char *ds_key_role_name(ds_key_role role);
/* Parses a role name; DS_KEYS_E_ARG if unknown. */
ds_keys_status ds_key_role_parse(const char *s, ds_key_role *role);

/* A key's name: "<role>" for the first key of a role, "<role>-<n>" for the
 * n-th (n ≥ 2). File names derive from it. */
#define DS_KEY_NAME_MAX 24
/* Writes the name of key number n (≥ 1) of role into out. */
ds_keys_status ds_key_name(ds_key_role role, unsigned n, char out[DS_KEY_NAME_MAX]);
/* Splits a name into role and n; DS_KEYS_E_ARG if it is not one. */
ds_keys_status ds_key_name_parse(const char *name, ds_key_role *role, unsigned *n);

/* What the custody layer knows about a key. Nothing secret. */
typedef struct ds_key_info {
    char name[DS_KEY_NAME_MAX];
    ds_key_role role;
    unsigned n;           /* 1 for the first key of the role */
    char file[64];        /* where the backend keeps it ("authority.key.pem") */
    char fingerprint[65]; /* hex SHA-256 of the SubjectPublicKeyInfo DER */
    int64_t created;      /* Unix seconds */
    uint64_t uses;        /* signatures made with it */
} ds_key_info;

/* Fingerprint of a public key: lowercase hex SHA-256 of its SPKI DER. */
ds_keys_status ds_keys_fingerprint(const EVP_PKEY *pub, char out[65]);

/* ---- the custody interface ------------------------------------------------ */

/*
 * A backend. Every op returns a ds_keys_status; "name" is a key name as
 * above. Ops MUST NOT write key material or the passphrase anywhere but
 * their own storage. Version 1.
 *
 *   generate     make a new P-256 key for role, numbered one above the
 *                highest existing one; store it with created = now and
 *                uses = 0; fill *info.
 *   load_public  *pub = a new public-only EVP_PKEY (caller frees).
 *   sign_digest  ECDSA P-256 over a SHA-256 digest → raw r‖s (64 bytes);
 *                counts one use. PKCS#11: C_Sign with CKM_ECDSA gives
 *                exactly r‖s.
 *   acquire      *key = an EVP_PKEY able to sign, owned by the backend,
 *                valid until release; counts one use (the caller signs
 *                once: one certificate or CRL). File backend: a reference
 *                to the key it keeps decrypted; PKCS#11: a provider-backed
 *                handle, no export. Every handle MUST be released before
 *                close.
 *   release      gives the handle back (the file backend drops the
 *                reference; the key is wiped at close).
 *   info         metadata of one key.
 *   list         metadata of every key, sorted by role then n; *count =
 *                how many exist (DS_KEYS_E_BUFFER if more than cap).
 *   close        frees the backend (wipes the passphrase and every key it
 *                holds; gives back uses reserved and not spent).
 */
typedef struct ds_keystore_ops {
    unsigned version; /* DS_KEYSTORE_OPS_VERSION */
    const char *backend_name;
    ds_keys_status (*generate)(void *be, ds_key_role role, ds_key_info *info);
    ds_keys_status (*load_public)(void *be, const char *name, EVP_PKEY **pub);
    ds_keys_status (*sign_digest)(void *be, const char *name, const uint8_t digest[32], uint8_t sig[64]);
    ds_keys_status (*acquire)(void *be, const char *name, EVP_PKEY **key);
    void (*release)(void *be, EVP_PKEY *key);
    ds_keys_status (*info)(void *be, const char *name, ds_key_info *info);
    ds_keys_status (*list)(void *be, ds_key_info *out, size_t cap, size_t *count);
    void (*close)(void *be);
} ds_keystore_ops;
#define DS_KEYSTORE_OPS_VERSION 1u

/* A key store: a backend plus the last error's detail. */
typedef struct ds_keystore {
    const ds_keystore_ops *ops;
    void *be;
    char err[256]; /* detail of the last failure (file, errno); never secret */
} ds_keystore;

/* The detail of the last failure on ks, or "" (never NULL). */
const char *ds_keystore_error(const ds_keystore *ks);

/* Frees ks and its backend (NULL allowed). */
void ds_keystore_close(ds_keystore *ks);

/* ---- the file backend (keys_file.c) ---------------------------------------- */

/*
 * One directory, mode 0700, holding per key
 *   <name>.key.pem   PKCS#8 EncryptedPrivateKeyInfo (PBES2: scrypt
 *                    N=2^14 r=8 p=1, AES-256-CBC), mode 0600; written
 *                    once, and the key's lock (flock) ever after;
 *   <name>.json      {"name","role","n","created","fingerprint","uses",
 *                    "file","algorithm"}, mode 0600, replaced atomically
 *                    under the key's lock (a temporary file of a unique
 *                    name, fsync, rename, fsync directory).
 *
 * A key is decrypted once per key store and kept in it (wiped at close),
 * checked before every signature against its files as they are then:
 * a changed key file is decrypted again, a changed fingerprint refused
 * (docs/keys.md §2 says why this is no weaker than decrypting per
 * signature). Uses are reserved in blocks of 1, 2, 4, … up to
 * DS_KEYS_USE_BLOCK_MAX per key store and key; "uses" in the file counts
 * every reservation, and info/list subtract the calling key store's own
 * unspent part.
 *
 * create: dir MUST NOT exist or MUST be empty (DS_KEYS_E_EXISTS); it is
 * created (or chmod'ed) 0700. open: dir MUST exist, be a directory and not
 * be accessible to group or others (DS_KEYS_E_PERM). A key file readable or
 * writable by anyone but the owner is refused at load (DS_KEYS_E_PERM).
 *
 * passphrase: NUL-terminated, copied (and wiped at close). NULL is allowed
 * for open: info and list work, every op that needs a private key returns
 * DS_KEYS_E_NO_PASSPHRASE. The caller should wipe its own copy.
 * On failure *out = NULL and, if err is not NULL, err[0..errcap) says why.
 */
ds_keys_status ds_keystore_create_file(const char *dir, const char *passphrase, ds_keystore **out, char *err,
                                       size_t errcap);
ds_keys_status ds_keystore_open_file(const char *dir, const char *passphrase, ds_keystore **out, char *err,
                                     size_t errcap);

/* Largest block of uses the file backend reserves ahead at once: the most a
 * crashed process can leave the persisted count too high by, per key. */
#define DS_KEYS_USE_BLOCK_MAX 64u

/* ---- operations (keys.c): argument checks, then the backend ------------- */

ds_keys_status ds_keys_generate(ds_keystore *ks, ds_key_role role, ds_key_info *info);
ds_keys_status ds_keys_info(ds_keystore *ks, const char *name, ds_key_info *info);
ds_keys_status ds_keys_list(ds_keystore *ks, ds_key_info *out, size_t cap, size_t *count);
/* *pub: new public-only key, caller frees with EVP_PKEY_free. */
ds_keys_status ds_keys_load_public(ds_keystore *ks, const char *name, EVP_PKEY **pub);
/* The 65-byte uncompressed public key as the crypto port's type (and bytes). */
ds_keys_status ds_keys_p256_public(ds_keystore *ks, const char *name, drot_p256_pub *pub,
                                   uint8_t raw[DROT_P256_PUB_LEN]);
ds_keys_status ds_keys_sign_digest(ds_keystore *ks, const char *name, const uint8_t digest[DROT_SHA256_LEN],
                                   uint8_t sig[DROT_P256_SIG_LEN]);
/* Borrow / give back a signing handle (see acquire above). Prefer the
 * one-call helpers in ca.c (they sign an X509 or X509_CRL and release). */
ds_keys_status ds_keys_acquire(ds_keystore *ks, const char *name, EVP_PKEY **key);
void ds_keys_release(ds_keystore *ks, EVP_PKEY *key);

/*
 * An authority object (drot/authority.h) signed through the custody
 * interface: the key named `name` (role authority) signs payload as kind
 * content_type; kid = its public key. Same output rules as
 * drot_authority_sign (DS_KEYS_E_BUFFER with *out_len = bytes needed).
 * The message is checked against the public key before it is returned.
 */
ds_keys_status ds_keys_authority_sign(ds_keystore *ks, const char *name, uint64_t content_type,
                                      const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
                                      size_t *out_len);

/* ---- passphrase --------------------------------------------------------- */

/* Largest passphrase accepted, in bytes (without the NUL). */
#define DS_KEYS_PASSPHRASE_MAX 1023

/*
 * Reads the key passphrase into out[0..cap) (NUL-terminated): from `file`
 * when it is not NULL (one trailing "\n" or "\r\n" removed; the file must
 * not be readable or writable by others: DS_KEYS_E_PERM), else from the
 * environment variable DROT_KEY_PASSPHRASE. Never from a command line.
 * DS_KEYS_E_NO_PASSPHRASE when neither is given or it is empty;
 * DS_KEYS_E_BUFFER when it does not fit (cap ≥ DS_KEYS_PASSPHRASE_MAX + 1
 * always does). Every temporary copy is wiped; on failure out is wiped too.
 * The caller wipes out (ds_keys_wipe) when done.
 */
ds_keys_status ds_keys_passphrase(const char *file, char *out, size_t cap);

/* Wipes n bytes at p so the compiler cannot drop it (OPENSSL_cleanse). */
void ds_keys_wipe(void *p, size_t n);

/*
 * Writes key's private half to path as an encrypted PKCS#8 PEM (same
 * scheme as the file backend), mode 0600, refusing to overwrite
 * (DS_KEYS_E_EXISTS). For keys that leave the server by design (an
 * operator's client key made by drotctl init).
 */
ds_keys_status ds_keys_write_encrypted_pem(const char *path, EVP_PKEY *key, const char *passphrase);
/* Reads such a file back (mode checked as for key files). */
ds_keys_status ds_keys_read_encrypted_pem(const char *path, const char *passphrase, EVP_PKEY **key);

/* A fresh P-256 key pair (for keys that do not live in a key store). */
ds_keys_status ds_keys_new_p256(EVP_PKEY **key);

#endif /* DS_KEYS_H */
