/*
 * keys.c — the backend-neutral half of key custody: names, statuses,
 * fingerprints, the passphrase, encrypted PKCS#8 files, argument checks in
 * front of the backend ops, and authority objects signed through the
 * digest-sign op. See keys.h for the contract and docs/keys.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "drot/cbor.h"
#include "drot/cose.h"
#include "keys.h"
#include "keys_internal.h"

/* scrypt parameters of the PKCS#8 files: N = 2^14, r = 8, p = 1 needs 16 MiB
 * and about 50 ms per decryption, within OpenSSL's default 32 MiB limit
 * (N = 2^15 would exceed it and the file could not be read back). */
#define KEYS_SCRYPT_N 16384u
#define KEYS_SCRYPT_R 8u
#define KEYS_SCRYPT_P 1u

/* Largest key PEM read: an encrypted P-256 PKCS#8 is about 400 bytes. */
#define KEYS_PEM_MAX 8192

static const char *const k_role_names[DS_ROLE_COUNT] = {"authority", "device-ca", "operator-ca", "server-tls",
                                                        "audit"};

/* see keys.h */
const char *ds_keys_status_str(ds_keys_status st)
{
    switch (st) {
    case DS_KEYS_OK: return "ok";
    case DS_KEYS_E_ARG: return "invalid argument";
    case DS_KEYS_E_IO: return "file system error";
    case DS_KEYS_E_PASSPHRASE: return "wrong passphrase (the key does not decrypt)";
    case DS_KEYS_E_PERM: return "permissions too open (key files 0600, key directory 0700)";
    case DS_KEYS_E_EXISTS: return "already exists";
    case DS_KEYS_E_NOTFOUND: return "not found";
    case DS_KEYS_E_FORMAT: return "malformed file";
    case DS_KEYS_E_CRYPTO: return "cryptography failed";
    case DS_KEYS_E_NOMEM: return "out of memory";
    case DS_KEYS_E_BUFFER: return "buffer too small";
    case DS_KEYS_E_NO_PASSPHRASE: return "no passphrase: set DROT_KEY_PASSPHRASE or use --passphrase-file";
    case DS_KEYS_E_CSR: return "not a PEM certificate request";
    case DS_KEYS_E_CSR_SIG: return "certificate request signature does not verify";
    case DS_KEYS_E_CSR_KEY: return "certificate request key is not EC P-256";
    case DS_KEYS_E_CERT: return "certificate does not fit its profile";
    case DS_KEYS_E_MISMATCH: return "key does not match its certificate or metadata";
    }
    return "unknown status";
}

/* see keys_internal.h */
void ds_keys_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* see keys.h */
void ds_keys_wipe(void *p, size_t n)
{
    if (p != NULL && n != 0)
        OPENSSL_cleanse(p, n);
}

/* see keys.h */
const char *ds_key_role_name(ds_key_role role)
{
    if ((unsigned)role >= DS_ROLE_COUNT)
        return NULL;
    return k_role_names[role];
}

/* see keys.h */
ds_keys_status ds_key_role_parse(const char *s, ds_key_role *role)
{
    if (s == NULL || role == NULL)
        return DS_KEYS_E_ARG;
    for (unsigned i = 0; i < DS_ROLE_COUNT; i++) {
        if (strcmp(s, k_role_names[i]) == 0) {
            *role = (ds_key_role)i;
            return DS_KEYS_OK;
        }
    }
    return DS_KEYS_E_ARG;
}

/* see keys.h */
ds_keys_status ds_key_name(ds_key_role role, unsigned n, char out[DS_KEY_NAME_MAX])
{
    const char *r = ds_key_role_name(role);
    if (r == NULL || n == 0 || n > 9999 || out == NULL)
        return DS_KEYS_E_ARG;
    int w = n == 1 ? snprintf(out, DS_KEY_NAME_MAX, "%s", r) : snprintf(out, DS_KEY_NAME_MAX, "%s-%u", r, n);
    return (w > 0 && w < DS_KEY_NAME_MAX) ? DS_KEYS_OK : DS_KEYS_E_ARG;
}

/* see keys.h. "<role>" or "<role>-<n>" with n in 2..9999 written without
 * leading zeros, so every key has exactly one name. */
ds_keys_status ds_key_name_parse(const char *name, ds_key_role *role, unsigned *n)
{
    if (name == NULL || role == NULL || n == NULL)
        return DS_KEYS_E_ARG;
    for (unsigned i = 0; i < DS_ROLE_COUNT; i++) {
        size_t rl = strlen(k_role_names[i]);
        if (strncmp(name, k_role_names[i], rl) != 0)
            continue;
        const char *rest = name + rl;
        if (*rest == '\0') {
            *role = (ds_key_role)i;
            *n = 1;
            return DS_KEYS_OK;
        }
        if (rest[0] != '-' || rest[1] < '1' || rest[1] > '9')
            continue;
        unsigned v = 0;
        size_t digits = 0;
        for (const char *p = rest + 1; *p; p++, digits++) {
            if (*p < '0' || *p > '9' || digits >= 4)
                return DS_KEYS_E_ARG;
            v = v * 10u + (unsigned)(*p - '0');
        }
        if (v < 2)
            return DS_KEYS_E_ARG;
        *role = (ds_key_role)i;
        *n = v;
        return DS_KEYS_OK;
    }
    return DS_KEYS_E_ARG;
}

/* see keys.h */
ds_keys_status ds_keys_fingerprint(const EVP_PKEY *pub, char out[65])
{
    if (pub == NULL || out == NULL)
        return DS_KEYS_E_ARG;
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(pub, &der);
    if (len <= 0)
        return DS_KEYS_E_CRYPTO;
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (ok != 1 || mdlen != sizeof md)
        return DS_KEYS_E_CRYPTO;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return DS_KEYS_OK;
}

/* see keys_internal.h */
int ds_keys_is_p256(const EVP_PKEY *key)
{
    char group[32];
    size_t glen = 0;
    if (key == NULL || !EVP_PKEY_is_a(key, "EC"))
        return 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) != 1)
        return 0;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* see keys.h */
ds_keys_status ds_keys_new_p256(EVP_PKEY **key)
{
    if (key == NULL)
        return DS_KEYS_E_ARG;
    *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return *key != NULL ? DS_KEYS_OK : DS_KEYS_E_CRYPTO;
}

/* ---- passphrase --------------------------------------------------------- */

/* Reads the passphrase file into out; the caller strips and checks. */
static ds_keys_status passphrase_from_file(const char *file, char *out, size_t cap, size_t *len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? DS_KEYS_E_NOTFOUND : DS_KEYS_E_IO;
    ds_keys_status st = DS_KEYS_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = DS_KEYS_E_IO;
        goto out;
    }
    if ((sb.st_mode & (S_IROTH | S_IWOTH)) != 0) {
        st = DS_KEYS_E_PERM;
        goto out;
    }
    size_t n = 0;
    for (;;) {
        if (n == cap) { /* full: there is more than fits with its NUL */
            st = DS_KEYS_E_BUFFER;
            goto out;
        }
        ssize_t r = read(fd, out + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = DS_KEYS_E_IO;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
out:
    close(fd);
    return st;
}

/* see keys.h */
ds_keys_status ds_keys_passphrase(const char *file, char *out, size_t cap)
{
    if (out == NULL || cap < 2)
        return DS_KEYS_E_ARG;
    size_t len = 0;
    ds_keys_status st = DS_KEYS_OK;
    if (file != NULL) {
        st = passphrase_from_file(file, out, cap, &len);
        if (st != DS_KEYS_OK)
            goto out;
        if (len > 0 && out[len - 1] == '\n')
            len--;
        if (len > 0 && out[len - 1] == '\r')
            len--;
    } else {
        const char *env = getenv("DROT_KEY_PASSPHRASE");
        if (env == NULL) {
            st = DS_KEYS_E_NO_PASSPHRASE;
            goto out;
        }
        len = strlen(env);
        if (len >= cap) {
            st = DS_KEYS_E_BUFFER;
            goto out;
        }
        memcpy(out, env, len);
    }
    if (len == 0) {
        st = DS_KEYS_E_NO_PASSPHRASE;
        goto out;
    }
    if (len >= cap) {
        st = DS_KEYS_E_BUFFER;
        goto out;
    }
    if (memchr(out, '\0', len) != NULL) { /* would silently shorten it */
        st = DS_KEYS_E_FORMAT;
        goto out;
    }
    out[len] = '\0';
out:
    if (st != DS_KEYS_OK)
        ds_keys_wipe(out, cap);
    return st;
}

/* ---- encrypted PKCS#8 ---------------------------------------------------- */

static ds_keys_status write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DS_KEYS_E_IO;
        b += w;
        n -= (size_t)w;
    }
    return DS_KEYS_OK;
}

/* see keys_internal.h */
ds_keys_status ds_keys_write_pem_fd(int fd, EVP_PKEY *key, const char *passphrase)
{
    if (fd < 0 || key == NULL || passphrase == NULL || passphrase[0] == '\0')
        return DS_KEYS_E_ARG;
    size_t plen = strlen(passphrase);
    if (plen > DS_KEYS_PASSPHRASE_MAX)
        return DS_KEYS_E_ARG;
    ds_keys_status st = DS_KEYS_E_CRYPTO;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    X509_ALGOR *alg = NULL;
    X509_SIG *enc = NULL;
    BIO *mem = NULL;

    p8 = EVP_PKEY2PKCS8(key); /* its free wipes the private key octets */
    alg =
        PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL, KEYS_SCRYPT_N, KEYS_SCRYPT_R, KEYS_SCRYPT_P);
    if (p8 == NULL || alg == NULL)
        goto out;
    enc = PKCS8_set0_pbe(passphrase, (int)plen, p8, alg);
    if (enc == NULL)
        goto out;
    alg = NULL; /* owned by enc now */
    mem = BIO_new(BIO_s_mem());
    if (mem == NULL || PEM_write_bio_PKCS8(mem, enc) != 1)
        goto out;
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(mem, &pem);
    if (pem_len <= 0)
        goto out;
    st = write_all(fd, pem, (size_t)pem_len);
    if (st == DS_KEYS_OK && fsync(fd) != 0)
        st = DS_KEYS_E_IO;
out:
    BIO_free(mem);
    X509_SIG_free(enc);
    X509_ALGOR_free(alg);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return st;
}

/* see keys_internal.h */
ds_keys_status ds_keys_read_pem_fd(int fd, const char *passphrase, EVP_PKEY **key)
{
    if (fd < 0 || key == NULL)
        return DS_KEYS_E_ARG;
    *key = NULL;
    if (passphrase == NULL)
        return DS_KEYS_E_NO_PASSPHRASE;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return DS_KEYS_E_IO;
    if ((sb.st_mode & 077) != 0)
        return DS_KEYS_E_PERM;
    if (sb.st_size <= 0 || sb.st_size > KEYS_PEM_MAX)
        return DS_KEYS_E_FORMAT;

    ds_keys_status st = DS_KEYS_E_FORMAT;
    char buf[KEYS_PEM_MAX];
    size_t n = 0;
    BIO *mem = NULL;
    X509_SIG *enc = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pk = NULL;
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = DS_KEYS_E_IO;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    mem = BIO_new_mem_buf(buf, (int)n);
    if (mem == NULL) {
        st = DS_KEYS_E_NOMEM;
        goto out;
    }
    /* Only EncryptedPrivateKeyInfo: an unencrypted PKCS#8 has another PEM
     * label and is refused here, before any key is parsed. */
    enc = PEM_read_bio_PKCS8(mem, NULL, NULL, NULL);
    if (enc == NULL)
        goto out;
    p8 = PKCS8_decrypt(enc, passphrase, (int)strlen(passphrase));
    if (p8 == NULL) {
        st = DS_KEYS_E_PASSPHRASE;
        goto out;
    }
    pk = EVP_PKCS82PKEY(p8);
    if (pk == NULL || !ds_keys_is_p256(pk))
        goto out;
    *key = pk;
    pk = NULL;
    st = DS_KEYS_OK;
out:
    EVP_PKEY_free(pk);
    PKCS8_PRIV_KEY_INFO_free(p8);
    X509_SIG_free(enc);
    BIO_free(mem);
    ERR_clear_error();
    return st;
}

/* see keys.h */
ds_keys_status ds_keys_write_encrypted_pem(const char *path, EVP_PKEY *key, const char *passphrase)
{
    if (path == NULL)
        return DS_KEYS_E_ARG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? DS_KEYS_E_EXISTS : DS_KEYS_E_IO;
    ds_keys_status st = fchmod(fd, 0600) == 0 ? ds_keys_write_pem_fd(fd, key, passphrase) : DS_KEYS_E_IO;
    if (close(fd) != 0 && st == DS_KEYS_OK)
        st = DS_KEYS_E_IO;
    if (st != DS_KEYS_OK)
        unlink(path);
    return st;
}

/* see keys.h */
ds_keys_status ds_keys_read_encrypted_pem(const char *path, const char *passphrase, EVP_PKEY **key)
{
    if (path == NULL || key == NULL)
        return DS_KEYS_E_ARG;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? DS_KEYS_E_NOTFOUND : DS_KEYS_E_IO;
    ds_keys_status st = ds_keys_read_pem_fd(fd, passphrase, key);
    close(fd);
    return st;
}

/* ---- the generic layer ---------------------------------------------------- */

/* see keys.h */
const char *ds_keystore_error(const ds_keystore *ks)
{
    return ks != NULL ? ks->err : "";
}

/* see keys.h */
void ds_keystore_close(ds_keystore *ks)
{
    if (ks == NULL)
        return;
    if (ks->ops != NULL && ks->ops->close != NULL)
        ks->ops->close(ks->be);
    free(ks);
}

static int name_ok(const char *name)
{
    ds_key_role r;
    unsigned n;
    return ds_key_name_parse(name, &r, &n) == DS_KEYS_OK;
}

static ds_keys_status bad_name(ds_keystore *ks)
{
    ds_keys_errf(ks->err, sizeof ks->err, "not a key name (want <role> or <role>-<n>)");
    return DS_KEYS_E_ARG;
}

/* see keys.h */
ds_keys_status ds_keys_generate(ds_keystore *ks, ds_key_role role, ds_key_info *info)
{
    if (ks == NULL || info == NULL || ds_key_role_name(role) == NULL)
        return DS_KEYS_E_ARG;
    ks->err[0] = '\0';
    return ks->ops->generate(ks->be, role, info);
}

/* see keys.h */
ds_keys_status ds_keys_info(ds_keystore *ks, const char *name, ds_key_info *info)
{
    if (ks == NULL || info == NULL)
        return DS_KEYS_E_ARG;
    ks->err[0] = '\0';
    if (!name_ok(name))
        return bad_name(ks);
    return ks->ops->info(ks->be, name, info);
}

/* see keys.h */
ds_keys_status ds_keys_list(ds_keystore *ks, ds_key_info *out, size_t cap, size_t *count)
{
    if (ks == NULL || count == NULL || (out == NULL && cap != 0))
        return DS_KEYS_E_ARG;
    ks->err[0] = '\0';
    return ks->ops->list(ks->be, out, cap, count);
}

/* see keys.h */
ds_keys_status ds_keys_load_public(ds_keystore *ks, const char *name, EVP_PKEY **pub)
{
    if (ks == NULL || pub == NULL)
        return DS_KEYS_E_ARG;
    *pub = NULL;
    ks->err[0] = '\0';
    if (!name_ok(name))
        return bad_name(ks);
    return ks->ops->load_public(ks->be, name, pub);
}

/* see keys.h */
ds_keys_status ds_keys_p256_public(ds_keystore *ks, const char *name, drot_p256_pub *pub,
                                   uint8_t raw[DROT_P256_PUB_LEN])
{
    if (pub == NULL || raw == NULL)
        return DS_KEYS_E_ARG;
    EVP_PKEY *pk = NULL;
    ds_keys_status st = ds_keys_load_public(ks, name, &pk);
    if (st != DS_KEYS_OK)
        return st;
    size_t len = 0;
    st = DS_KEYS_E_FORMAT;
    if (EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed") == 1 &&
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw, DROT_P256_PUB_LEN,
                                        &len) == 1 &&
        len == DROT_P256_PUB_LEN && drot_p256_pub_import(raw, len, pub) == DROT_OK)
        st = DS_KEYS_OK;
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return st;
}

/* see keys.h */
ds_keys_status ds_keys_sign_digest(ds_keystore *ks, const char *name, const uint8_t digest[DROT_SHA256_LEN],
                                   uint8_t sig[DROT_P256_SIG_LEN])
{
    if (ks == NULL || digest == NULL || sig == NULL)
        return DS_KEYS_E_ARG;
    ks->err[0] = '\0';
    if (!name_ok(name))
        return bad_name(ks);
    return ks->ops->sign_digest(ks->be, name, digest, sig);
}

/* see keys.h */
ds_keys_status ds_keys_acquire(ds_keystore *ks, const char *name, EVP_PKEY **key)
{
    if (ks == NULL || key == NULL)
        return DS_KEYS_E_ARG;
    *key = NULL;
    ks->err[0] = '\0';
    if (!name_ok(name))
        return bad_name(ks);
    return ks->ops->acquire(ks->be, name, key);
}

/* see keys.h */
void ds_keys_release(ds_keystore *ks, EVP_PKEY *key)
{
    if (ks != NULL && key != NULL)
        ks->ops->release(ks->be, key);
}

/* Writes the COSE_Sign1 of an authority object with a zero signature
 * (the last 64 bytes of the message); w in measure mode gives the size. */
static void put_authority_envelope(drot_cbor_writer *w, uint64_t content_type,
                                   const uint8_t kid[DROT_P256_PUB_LEN], const uint8_t *payload, size_t len)
{
    static const uint8_t zero_sig[DROT_P256_SIG_LEN] = {0};
    uint8_t prot[DROT_COSE_SIGN1_MAX_PROTECTED];
    drot_cbor_writer pw;
    size_t prot_len = 0;
    drot_cbor_writer_init(&pw, prot, sizeof prot);
    drot_cbor_put_map(&pw, 2);
    drot_cbor_put_int(&pw, DROT_COSE_HDR_ALG);
    drot_cbor_put_int(&pw, DROT_COSE_ALG_ES256);
    drot_cbor_put_int(&pw, DROT_COSE_HDR_CONTENT_TYPE);
    drot_cbor_put_uint(&pw, content_type);
    (void)drot_cbor_writer_finish(&pw, &prot_len); /* 13 bytes at most: always fits */

    drot_cbor_put_tag(w, DROT_COSE_SIGN1_TAG);
    drot_cbor_put_array(w, 4);
    drot_cbor_put_bstr(w, prot, prot_len);
    drot_cbor_put_map(w, 1);
    drot_cbor_put_int(w, DROT_COSE_HDR_KID);
    drot_cbor_put_bstr(w, kid, DROT_P256_PUB_LEN);
    drot_cbor_put_bstr(w, payload, len);
    drot_cbor_put_bstr(w, zero_sig, sizeof zero_sig);
}

/* see keys.h. The envelope is drot_authority_sign's (docs/authority.md §1),
 * written here because that function wants the private scalar and the
 * custody interface never gives it out: encode with a placeholder
 * signature, take the Sig_structure digest from the decoded message, have
 * the backend sign the digest, and put the signature in place. */
ds_keys_status ds_keys_authority_sign(ds_keystore *ks, const char *name, uint64_t content_type,
                                      const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
                                      size_t *out_len)
{
    if (ks == NULL || out_len == NULL || (payload == NULL && len != 0) || (out == NULL && cap != 0))
        return DS_KEYS_E_ARG;
    ds_key_role role;
    unsigned n;
    if (ds_key_name_parse(name, &role, &n) != DS_KEYS_OK || role != DS_ROLE_AUTHORITY) {
        ds_keys_errf(ks->err, sizeof ks->err, "authority objects are signed by an authority key only");
        return DS_KEYS_E_ARG;
    }
    uint8_t kid[DROT_P256_PUB_LEN];
    drot_p256_pub pub;
    ds_keys_status st = ds_keys_p256_public(ks, name, &pub, kid);
    if (st != DS_KEYS_OK)
        return st;

    drot_cbor_writer w;
    size_t need = 0;
    drot_cbor_writer_init(&w, NULL, 0);
    put_authority_envelope(&w, content_type, kid, payload, len);
    (void)drot_cbor_writer_finish(&w, &need);
    if (need > DROT_COSE_SIGN1_MAX_MSG) {
        ds_keys_errf(ks->err, sizeof ks->err, "authority object of %zu bytes exceeds %u", need,
                     DROT_COSE_SIGN1_MAX_MSG);
        return DS_KEYS_E_ARG;
    }
    *out_len = need;
    if (cap < need)
        return DS_KEYS_E_BUFFER;
    drot_cbor_writer_init(&w, out, cap);
    put_authority_envelope(&w, content_type, kid, payload, len);
    if (drot_cbor_writer_finish(&w, &need) != DROT_OK)
        return DS_KEYS_E_BUFFER;

    drot_cose_sign1_view view;
    uint8_t digest[DROT_SHA256_LEN];
    uint8_t sig[DROT_P256_SIG_LEN];
    if (drot_cose_sign1_decode(out, need, &view) != DROT_OK ||
        drot_cose_sign1_tbs_digest(&view, NULL, 0, digest) != DROT_OK) {
        st = DS_KEYS_E_CRYPTO;
        goto out;
    }
    st = ds_keys_sign_digest(ks, name, digest, sig);
    if (st != DS_KEYS_OK)
        goto out;
    memcpy(out + need - DROT_P256_SIG_LEN, sig, DROT_P256_SIG_LEN);
    if (drot_cose_sign1_verify_msg(out, need, &pub, NULL, 0, NULL) != DROT_OK) {
        ds_keys_errf(ks->err, sizeof ks->err, "the backend's signature does not verify under %s", name);
        st = DS_KEYS_E_MISMATCH;
    }
out:
    if (st != DS_KEYS_OK)
        memset(out, 0, need);
    return st;
}
