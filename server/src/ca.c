/*
 * ca.c — the device and operator CAs (ca.h; profiles there and in
 * docs/keys.md). Certificates are built with OpenSSL's X509 API and signed
 * with a handle borrowed from the custody interface, released right after
 * the one signature.
 *
 * Names from outside (server DNS names, operator names) are validated and
 * put into GENERAL_NAMEs / X509_NAMEs directly, never into an OpenSSL
 * extension config string, where a ',' would start another entry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "keys_internal.h"

#define CA_SKEW_SECONDS 300L /* notBefore lies this far in the past */

#define CAERR(ca, ...) ds_keys_errf((ca)->ks->err, sizeof(ca)->ks->err, __VA_ARGS__)

static const char k_hex[] = "0123456789abcdef";

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = k_hex[p[i] >> 4];
        out[2 * i + 1] = k_hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* True if s[0..n) is printable ASCII, 1..max bytes. */
static int printable(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

static int key_has_role(const char *name, ds_key_role want)
{
    ds_key_role r;
    unsigned n;
    return ds_key_name_parse(name, &r, &n) == DS_KEYS_OK && r == want;
}

/* see ca.h */
ds_keys_status ds_ca_cert_info(const X509 *cert, ds_cert_info *info)
{
    if (cert == NULL || info == NULL)
        return DS_KEYS_E_ARG;
    memset(info, 0, sizeof *info);
    const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
    BIGNUM *bn = sn != NULL ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
    int ok = bn != NULL && BN_num_bytes(bn) <= DS_CA_SERIAL_LEN &&
             BN_bn2binpad(bn, info->serial, DS_CA_SERIAL_LEN) == DS_CA_SERIAL_LEN;
    BN_free(bn);
    unsigned char md[32];
    unsigned int mdlen = 0;
    struct tm nb, na;
    ok = ok && X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == sizeof md &&
         ASN1_TIME_to_tm(X509_get0_notBefore(cert), &nb) == 1 &&
         ASN1_TIME_to_tm(X509_get0_notAfter(cert), &na) == 1;
    ERR_clear_error();
    if (!ok)
        return DS_KEYS_E_FORMAT;
    to_hex(info->serial, DS_CA_SERIAL_LEN, info->serial_hex);
    to_hex(md, sizeof md, info->fingerprint);
    info->not_before = (int64_t)timegm(&nb);
    info->not_after = (int64_t)timegm(&na);
    return DS_KEYS_OK;
}

/* Adds an extension with a constant OpenSSL config value (never user data). */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static int push_name(GENERAL_NAMES *gens, int type, const char *s)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    if (g == NULL)
        return 0;
    void *val = NULL;
    if (type == GEN_IPADD) {
        val = a2i_IPADDRESS(s);
    } else {
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        if (ia5 != NULL && ASN1_STRING_set(ia5, s, (int)strlen(s)) != 1) {
            ASN1_IA5STRING_free(ia5);
            ia5 = NULL;
        }
        val = ia5;
    }
    if (val == NULL) {
        GENERAL_NAME_free(g);
        return 0;
    }
    GENERAL_NAME_set0_value(g, type, val);
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return 0;
    }
    return 1;
}

/*
 * A new version-3 certificate: random serial, validity, subject CN = cn,
 * issuer = the CA's subject (or itself when issuer is NULL), key = pub,
 * SKI and AKI. Extensions of the profile are added by the caller.
 */
static ds_keys_status cert_skeleton(X509 *issuer, const char *cn, EVP_PKEY *pub, unsigned days, X509 **out)
{
    *out = NULL;
    X509 *x = X509_new();
    X509_NAME *subj = X509_NAME_new();
    BIGNUM *bn = NULL;
    uint8_t serial[DS_CA_SERIAL_LEN];
    ds_keys_status st = DS_KEYS_E_CRYPTO;
    if (x == NULL || subj == NULL || RAND_bytes(serial, sizeof serial) != 1)
        goto out;
    /* Positive (RFC 5280 §4.1.2.2) and exactly 16 bytes long. */
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (bn == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
        X509_gmtime_adj(X509_getm_notBefore(x), -CA_SKEW_SECONDS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL ||
        X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_subject_name(x, subj) != 1 ||
        X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subj) != 1 ||
        X509_set_pubkey(x, pub) != 1 ||
        !add_ext(x, issuer != NULL ? issuer : x, NID_subject_key_identifier, "hash") ||
        !add_ext(x, issuer != NULL ? issuer : x, NID_authority_key_identifier, "keyid:always"))
        goto out;
    *out = x;
    x = NULL;
    st = DS_KEYS_OK;
out:
    BN_free(bn);
    X509_NAME_free(subj);
    X509_free(x);
    ERR_clear_error();
    return st;
}

/* Signs x with the CA key through the custody interface (one use). */
static ds_keys_status sign_cert(ds_keystore *ks, const char *key_name, X509 *x)
{
    EVP_PKEY *key = NULL;
    ds_keys_status st = ds_keys_acquire(ks, key_name, &key);
    if (st != DS_KEYS_OK)
        return st;
    if (X509_sign(x, key, EVP_sha256()) <= 0) {
        ds_keys_errf(ks->err, sizeof ks->err, "%s: X509_sign failed", key_name);
        st = DS_KEYS_E_CRYPTO;
    }
    ds_keys_release(ks, key);
    ERR_clear_error();
    return st;
}

/* Common end of every issue: leaf extensions, signature, info, out. */
static ds_keys_status finish_leaf(ds_ca *ca, X509 *x, const char *eku, GENERAL_NAMES *san, X509 **out,
                                  ds_cert_info *info)
{
    ds_keys_status st = DS_KEYS_E_CRYPTO;
    if (!add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, ca->cert, NID_ext_key_usage, eku) ||
        (san != NULL && X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0, X509V3_ADD_DEFAULT) != 1))
        goto out;
    st = sign_cert(ca->ks, ca->key_name, x);
    if (st == DS_KEYS_OK && info != NULL)
        st = ds_ca_cert_info(x, info);
out:
    ERR_clear_error();
    if (st != DS_KEYS_OK) {
        X509_free(x);
        return st;
    }
    *out = x;
    return DS_KEYS_OK;
}

static ds_keys_status check_days(ds_ca *ca, unsigned days)
{
    if (days == 0 || days > DS_CA_MAX_DAYS) {
        CAERR(ca, "validity of %u days is outside 1..%u", days, DS_CA_MAX_DAYS);
        return DS_KEYS_E_ARG;
    }
    return DS_KEYS_OK;
}

/* see ca.h */
ds_keys_status ds_ca_create(ds_ca *ca, ds_keystore *ks, const char *key_name, const char *cn, unsigned days,
                            ds_cert_info *info)
{
    if (ca == NULL || ks == NULL || key_name == NULL)
        return DS_KEYS_E_ARG;
    memset(ca, 0, sizeof *ca);
    ca->ks = ks;
    if (!key_has_role(key_name, DS_ROLE_DEVICE_CA) && !key_has_role(key_name, DS_ROLE_OPERATOR_CA)) {
        CAERR(ca, "%s: a CA needs a device-ca or operator-ca key", key_name);
        return DS_KEYS_E_ARG;
    }
    if (!printable(cn, 64)) {
        CAERR(ca, "CA name must be 1..64 printable ASCII characters");
        return DS_KEYS_E_ARG;
    }
    ds_keys_status st = check_days(ca, days);
    if (st != DS_KEYS_OK)
        return st;
    snprintf(ca->key_name, sizeof ca->key_name, "%s", key_name);
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;
    if ((st = ds_keys_load_public(ks, key_name, &pub)) != DS_KEYS_OK)
        return st;
    st = cert_skeleton(NULL, cn, pub, days, &x);
    EVP_PKEY_free(pub);
    if (st == DS_KEYS_OK && (!add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
                             !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")))
        st = DS_KEYS_E_CRYPTO;
    if (st == DS_KEYS_OK)
        st = sign_cert(ks, key_name, x);
    if (st == DS_KEYS_OK && info != NULL)
        st = ds_ca_cert_info(x, info);
    ERR_clear_error();
    if (st != DS_KEYS_OK) {
        X509_free(x);
        ca->key_name[0] = '\0';
        return st;
    }
    ca->cert = x;
    return DS_KEYS_OK;
}

/* see ca.h */
ds_keys_status ds_ca_open(ds_ca *ca, ds_keystore *ks, const char *key_name, const char *cert_pem, size_t len)
{
    if (ca == NULL || ks == NULL || key_name == NULL || cert_pem == NULL || len == 0 || len > INT32_MAX)
        return DS_KEYS_E_ARG;
    memset(ca, 0, sizeof *ca);
    ca->ks = ks;
    if (!key_has_role(key_name, DS_ROLE_DEVICE_CA) && !key_has_role(key_name, DS_ROLE_OPERATOR_CA)) {
        CAERR(ca, "%s: a CA needs a device-ca or operator-ca key", key_name);
        return DS_KEYS_E_ARG;
    }
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)len);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    EVP_PKEY *pub = NULL;
    ds_keys_status st = DS_KEYS_E_FORMAT;
    if (x == NULL || X509_check_ca(x) != 1) {
        CAERR(ca, "not a CA certificate in PEM");
        goto out;
    }
    if ((st = ds_keys_load_public(ks, key_name, &pub)) != DS_KEYS_OK)
        goto out;
    if (EVP_PKEY_eq(pub, X509_get0_pubkey(x)) != 1) {
        CAERR(ca, "the certificate is not for key %s", key_name);
        st = DS_KEYS_E_MISMATCH;
        goto out;
    }
    snprintf(ca->key_name, sizeof ca->key_name, "%s", key_name);
    ca->cert = x;
    x = NULL;
    st = DS_KEYS_OK;
out:
    EVP_PKEY_free(pub);
    X509_free(x);
    ERR_clear_error();
    return st;
}

/* see ca.h */
void ds_ca_close(ds_ca *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    memset(ca, 0, sizeof *ca);
}

/* A DNS name as ca.h allows: labels of [A-Za-z0-9-] (1..63, not starting
 * or ending with '-'), joined by '.', optionally "*." first, ≤ 253. */
static int dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return 0;
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    size_t label = 0;
    char prev = '.';
    for (; *s; s++) {
        char c = *s;
        if (c == '.') {
            if (label == 0 || prev == '-')
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
        prev = c;
    }
    return label > 0 && prev != '-';
}

/* see ca.h */
ds_keys_status ds_ca_issue_server(ds_ca *ca, const char *server_key_name, const char *const *names, size_t n,
                                  unsigned days, X509 **out, ds_cert_info *info)
{
    if (ca == NULL || ca->ks == NULL || ca->cert == NULL || out == NULL || names == NULL || n == 0 || n > 64)
        return DS_KEYS_E_ARG;
    *out = NULL;
    if (!key_has_role(server_key_name, DS_ROLE_SERVER_TLS)) {
        CAERR(ca, "the server certificate needs a server-tls key");
        return DS_KEYS_E_ARG;
    }
    ds_keys_status st = check_days(ca, days);
    if (st != DS_KEYS_OK)
        return st;
    GENERAL_NAMES *san = sk_GENERAL_NAME_new_null();
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;
    if (san == NULL)
        return DS_KEYS_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        ASN1_OCTET_STRING *ip = names[i] != NULL ? a2i_IPADDRESS(names[i]) : NULL;
        int is_ip = ip != NULL;
        ASN1_OCTET_STRING_free(ip);
        ERR_clear_error();
        if (names[i] == NULL || (!is_ip && !dns_name_ok(names[i]))) {
            CAERR(ca, "server name %zu is neither an IP address nor a DNS name", i + 1);
            st = DS_KEYS_E_ARG;
            goto out;
        }
        if (!push_name(san, is_ip ? GEN_IPADD : GEN_DNS, names[i])) {
            st = DS_KEYS_E_CRYPTO;
            goto out;
        }
    }
    if (strlen(names[0]) > 64) {
        CAERR(ca, "the first server name is the CN and must be at most 64 characters");
        st = DS_KEYS_E_ARG;
        goto out;
    }
    if ((st = ds_keys_load_public(ca->ks, server_key_name, &pub)) != DS_KEYS_OK ||
        (st = cert_skeleton(ca->cert, names[0], pub, days, &x)) != DS_KEYS_OK)
        goto out;
    st = finish_leaf(ca, x, "serverAuth", san, out, info);
out:
    EVP_PKEY_free(pub);
    GENERAL_NAMES_free(san);
    return st;
}

/* Parses and checks a CSR (ca.h: the three CSR statuses, in that order). */
static ds_keys_status parse_csr(ds_ca *ca, const char *pem, size_t len, X509_REQ **out)
{
    *out = NULL;
    if (pem == NULL || len == 0 || len > DS_CA_CSR_MAX) {
        CAERR(ca, "certificate request missing or larger than %u bytes", DS_CA_CSR_MAX);
        return DS_KEYS_E_CSR;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509_REQ *req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    ds_keys_status st = DS_KEYS_E_CSR;
    if (req == NULL) {
        CAERR(ca, "not a PEM certificate request");
        goto out;
    }
    char rest[64];
    int r;
    while ((r = BIO_read(bio, rest, sizeof rest)) > 0) {
        for (int i = 0; i < r; i++) {
            if (rest[i] != ' ' && rest[i] != '\n' && rest[i] != '\r' && rest[i] != '\t') {
                CAERR(ca, "data after the certificate request");
                goto out;
            }
        }
    }
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    EVP_PKEY_CTX *pctx = pk != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    int key_ok = pk != NULL && ds_keys_is_p256(pk) && pctx != NULL && EVP_PKEY_public_check(pctx) == 1;
    EVP_PKEY_CTX_free(pctx);
    if (!key_ok) {
        CAERR(ca, "the certificate request's key is not an EC P-256 key");
        st = DS_KEYS_E_CSR_KEY;
        goto out;
    }
    if (X509_REQ_verify(req, pk) != 1) {
        CAERR(ca, "the certificate request's signature does not verify");
        st = DS_KEYS_E_CSR_SIG;
        goto out;
    }
    *out = req;
    req = NULL;
    st = DS_KEYS_OK;
out:
    X509_REQ_free(req);
    BIO_free(bio);
    ERR_clear_error();
    return st;
}

/* see ca.h */
ds_keys_status ds_ca_issue_device(ds_ca *ca, const char *csr_pem, size_t csr_len,
                                  const uint8_t device_id[DS_CA_DEVICE_ID_LEN], unsigned days, X509 **out,
                                  ds_cert_info *info)
{
    if (ca == NULL || ca->ks == NULL || ca->cert == NULL || out == NULL || device_id == NULL)
        return DS_KEYS_E_ARG;
    *out = NULL;
    if (days == 0)
        days = DS_CA_DEVICE_DAYS_DEFAULT;
    ds_keys_status st = check_days(ca, days);
    if (st != DS_KEYS_OK)
        return st;
    X509_REQ *req = NULL;
    if ((st = parse_csr(ca, csr_pem, csr_len, &req)) != DS_KEYS_OK)
        return st;
    char hex[2 * DS_CA_DEVICE_ID_LEN + 1];
    char uri[sizeof DS_CA_DEVICE_URI_PREFIX + sizeof hex];
    to_hex(device_id, DS_CA_DEVICE_ID_LEN, hex);
    snprintf(uri, sizeof uri, "%s%s", DS_CA_DEVICE_URI_PREFIX, hex);
    GENERAL_NAMES *san = sk_GENERAL_NAME_new_null();
    X509 *x = NULL;
    st = DS_KEYS_E_CRYPTO;
    if (san == NULL || !push_name(san, GEN_URI, uri))
        goto out;
    /* Only the CSR's key: its subject and extensions are never copied. */
    if ((st = cert_skeleton(ca->cert, hex, X509_REQ_get0_pubkey(req), days, &x)) != DS_KEYS_OK)
        goto out;
    st = finish_leaf(ca, x, "clientAuth", san, out, info);
out:
    GENERAL_NAMES_free(san);
    X509_REQ_free(req);
    return st;
}

static int operator_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

/* see ca.h */
ds_keys_status ds_ca_issue_operator(ds_ca *ca, EVP_PKEY *pub, const char *operator_name, unsigned days,
                                    X509 **out, ds_cert_info *info)
{
    if (ca == NULL || ca->ks == NULL || ca->cert == NULL || out == NULL || pub == NULL)
        return DS_KEYS_E_ARG;
    *out = NULL;
    if (!operator_name_ok(operator_name)) {
        CAERR(ca, "operator name must be 1..64 characters of A-Z a-z 0-9 . _ @ -");
        return DS_KEYS_E_ARG;
    }
    if (!ds_keys_is_p256(pub)) {
        CAERR(ca, "operator key is not EC P-256");
        return DS_KEYS_E_ARG;
    }
    ds_keys_status st = check_days(ca, days);
    X509 *x = NULL;
    if (st == DS_KEYS_OK)
        st = cert_skeleton(ca->cert, operator_name, pub, days, &x);
    if (st != DS_KEYS_OK)
        return st;
    return finish_leaf(ca, x, "clientAuth", NULL, out, info);
}

static int parse_hex_id(const unsigned char *s, size_t n, uint8_t out[DS_CA_DEVICE_ID_LEN])
{
    if (n != 2 * DS_CA_DEVICE_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = memchr(k_hex, s[i], 16);
        if (s[i] == '\0' || p == NULL)
            return 0;
        unsigned v = (unsigned)(p - k_hex);
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 1;
}

/* see ca.h */
ds_keys_status ds_ca_device_id_from_cert(const X509 *cert, uint8_t out[DS_CA_DEVICE_ID_LEN])
{
    if (cert == NULL || out == NULL)
        return DS_KEYS_E_ARG;
    uint8_t id[DS_CA_DEVICE_ID_LEN], cn_id[DS_CA_DEVICE_ID_LEN];
    size_t plen = strlen(DS_CA_DEVICE_URI_PREFIX);
    int found = 0, crit = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_URI)
            continue;
        const unsigned char *s = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        size_t n = (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (n < plen || memcmp(s, DS_CA_DEVICE_URI_PREFIX, plen) != 0)
            continue;
        if (!parse_hex_id(s + plen, n - plen, id)) {
            found = -1;
            break;
        }
        found++;
    }
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
    if (found != 1)
        return DS_KEYS_E_CERT;

    const X509_NAME *subj = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
        return DS_KEYS_E_CERT;
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    if (cn == NULL || !parse_hex_id(ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn), cn_id) ||
        memcmp(id, cn_id, sizeof id) != 0)
        return DS_KEYS_E_CERT;
    memcpy(out, id, sizeof id);
    return DS_KEYS_OK;
}

/* see ca.h */
ds_keys_status ds_ca_write_cert(const char *path, const X509 *cert)
{
    if (path == NULL || cert == NULL)
        return DS_KEYS_E_ARG;
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len = 0;
    if (mem == NULL || PEM_write_bio_X509(mem, cert) != 1 || (len = BIO_get_mem_data(mem, &pem)) <= 0) {
        BIO_free(mem);
        return DS_KEYS_E_CRYPTO;
    }
    ds_keys_status st = DS_KEYS_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = errno == EEXIST ? DS_KEYS_E_EXISTS : DS_KEYS_E_IO;
    } else {
        const char *p = pem;
        size_t left = (size_t)len;
        while (left > 0 && st == DS_KEYS_OK) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                st = DS_KEYS_E_IO;
            else {
                p += w;
                left -= (size_t)w;
            }
        }
        if (st == DS_KEYS_OK && fsync(fd) != 0)
            st = DS_KEYS_E_IO;
        if (close(fd) != 0 && st == DS_KEYS_OK)
            st = DS_KEYS_E_IO;
        if (st != DS_KEYS_OK)
            unlink(path);
    }
    BIO_free(mem);
    return st;
}

/* see ca.h */
ds_keys_status ds_ca_read_cert(const char *path, X509 **out)
{
    if (path == NULL || out == NULL)
        return DS_KEYS_E_ARG;
    *out = NULL;
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL) {
        ERR_clear_error();
        return access(path, F_OK) != 0 ? DS_KEYS_E_NOTFOUND : DS_KEYS_E_IO;
    }
    *out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return *out != NULL ? DS_KEYS_OK : DS_KEYS_E_FORMAT;
}
