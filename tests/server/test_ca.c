/*
 * test_ca.c — the device and operator CAs (server/src/ca.h) over a file
 * key store. Certificates are checked with OpenSSL's own verifier
 * (X509_verify_cert with a store holding only the CA in question).
 *
 * Test 1: both CA certificates verify as CAs: self-signed chain, CA:TRUE
 *         critical, keyCertSign + cRLSign, subject CN; a CA needs a CA key.
 * Test 2: a device certificate from a CSR: chains to the device CA as a TLS
 *         client (not as a server), names the given device id in CN and URI
 *         SAN (never the CSR's subject), carries the CSR's key, 90 days by
 *         default, serial in the returned info; ds_ca_device_id_from_cert.
 * Test 3: CSRs refused: bad signature, RSA-2048 key, garbage PEM, trailing
 *         data, empty, oversized; the CA key is not used for any of them.
 * Test 4: a certificate from a second, unrelated device CA fails against
 *         the first.
 * Test 5: the server certificate: SAN, serverAuth, host and IP checks; names
 *         that would inject config or are not names are refused.
 * Test 6: operator certificates chain to the operator CA only; bad names.
 * Test 7: ds_ca_open: right key, wrong key, not a CA; PEM file round trip.
 * Test 8: device id extraction refuses certificates that are not device
 *         certificates or whose CN and URI disagree.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "drot_test_support.h"
#include "keys.h"

#define PASS "ca test passphrase"

static const uint8_t k_id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const char k_id_hex[] = "00112233445566778899aabbccddeeff";

typedef struct fixture {
    char root[64];
    ds_keystore *ks;
    ds_ca dca, oca;
} fixture;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* A key store with all four roles and both CAs, in root/<sub>. */
static void make_cas(const char *root, const char *sub, ds_keystore **ks, ds_ca *dca, ds_ca *oca)
{
    char dir[128], err[256];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    assert_int_equal(ds_keystore_create_file(dir, PASS, ks, err, sizeof err), DS_KEYS_OK);
    ds_key_info info;
    for (int r = 0; r < DS_ROLE_COUNT; r++)
        assert_int_equal(ds_keys_generate(*ks, (ds_key_role)r, &info), DS_KEYS_OK);
    assert_int_equal(ds_ca_create(dca, *ks, "device-ca", "drot device CA", 3650, NULL), DS_KEYS_OK);
    assert_int_equal(ds_ca_create(oca, *ks, "operator-ca", "drot operator CA", 3650, NULL), DS_KEYS_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/drot-ca-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    *state = f;
    make_cas(f->root, "keys", &f->ks, &f->dca, &f->oca);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ds_ca_close(&f->dca);
    ds_ca_close(&f->oca);
    ds_keystore_close(f->ks);
    nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* X509_verify_cert of leaf against a store holding only ca, for purpose
 * (0: none). Returns the verify error (X509_V_OK on success). */
static int verify_with(X509 *ca, X509 *leaf, int purpose)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_non_null(store);
    assert_non_null(ctx);
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    if (purpose != 0)
        assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
    int ok = X509_verify_cert(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok == 1 ? X509_V_OK : (err != X509_V_OK ? err : -1);
}

static void assert_cn(X509 *x, const char *want)
{
    char cn[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, want);
}

static uint64_t uses_of(ds_keystore *ks, const char *name)
{
    ds_key_info info;
    assert_int_equal(ds_keys_info(ks, name, &info), DS_KEYS_OK);
    return info.uses;
}

/* A PEM CSR for key with subject CN = cn. */
static char *make_csr(EVP_PKEY *key, const char *cn, size_t *len)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    assert_non_null(req);
    assert_int_equal(
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
        1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    BIO *mem = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_REQ(mem, req), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(mem, &p);
    char *out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(mem);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return out;
}

/* Test 1 */
static void test_ca_certs(void **state)
{
    fixture *f = *state;
    ds_ca *cas[2] = {&f->dca, &f->oca};
    static const char *const cns[2] = {"drot device CA", "drot operator CA"};
    for (int i = 0; i < 2; i++) {
        X509 *c = cas[i]->cert;
        assert_int_equal(verify_with(c, c, 0), X509_V_OK);
        assert_int_equal(X509_check_ca(c), 1);
        int crit = -1;
        BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(c, NID_basic_constraints, &crit, NULL);
        assert_non_null(bc);
        assert_true(bc->ca);
        assert_int_equal(crit, 1);
        BASIC_CONSTRAINTS_free(bc);
        assert_int_equal(X509_get_key_usage(c), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
        assert_cn(c, cns[i]);
        assert_int_equal(X509_check_issued(c, c), X509_V_OK);
        ds_cert_info info;
        assert_int_equal(ds_ca_cert_info(c, &info), DS_KEYS_OK);
        assert_true(info.not_after - info.not_before > 3649LL * 86400);
        assert_int_equal(strlen(info.serial_hex), 32);
    }
    /* The device CA does not vouch for the operator CA and vice versa. */
    assert_int_not_equal(verify_with(f->dca.cert, f->oca.cert, 0), X509_V_OK);
    /* Only CA keys make CAs; bad validity is refused. */
    ds_ca x;
    assert_int_equal(ds_ca_create(&x, f->ks, "authority", "nope", 10, NULL), DS_KEYS_E_ARG);
    assert_int_equal(ds_ca_create(&x, f->ks, "server-tls", "nope", 10, NULL), DS_KEYS_E_ARG);
    assert_int_equal(ds_ca_create(&x, f->ks, "device-ca", "nope", 0, NULL), DS_KEYS_E_ARG);
    assert_int_equal(ds_ca_create(&x, f->ks, "device-ca", "", 10, NULL), DS_KEYS_E_ARG);
    assert_int_equal(uses_of(f->ks, "authority"), 0);
}

/* Test 2 */
static void test_device_cert(void **state)
{
    fixture *f = *state;
    EVP_PKEY *dev = NULL;
    assert_int_equal(ds_keys_new_p256(&dev), DS_KEYS_OK);
    size_t len = 0;
    char *csr = make_csr(dev, "other", &len);
    X509 *cert = NULL;
    ds_cert_info info;
    uint64_t before = uses_of(f->ks, "device-ca");
    assert_int_equal(ds_ca_issue_device(&f->dca, csr, len, k_id, 0, &cert, &info), DS_KEYS_OK);
    assert_int_equal(uses_of(f->ks, "device-ca"), before + 1);

    assert_int_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_int_not_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    assert_int_not_equal(verify_with(f->oca.cert, cert, 0), X509_V_OK);
    assert_cn(cert, k_id_hex);
    char other[64];
    assert_int_equal(X509_NAME_get_index_by_NID(X509_get_subject_name(cert), NID_commonName, 0), -1);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, other, sizeof other) >
                0);
    assert_string_not_equal(other, "other");
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), dev), 1);
    assert_true((X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0);
    assert_true((X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) == 0);
    assert_int_equal(X509_check_ca(cert), 0);

    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);
    assert_int_equal(g->type, GEN_URI);
    char want_uri[64];
    snprintf(want_uri, sizeof want_uri, "urn:drot:device:%s", k_id_hex);
    assert_int_equal(ASN1_STRING_length(g->d.uniformResourceIdentifier), (int)strlen(want_uri));
    assert_memory_equal(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), want_uri, strlen(want_uri));
    GENERAL_NAMES_free(gens);

    uint8_t id[16];
    assert_int_equal(ds_ca_device_id_from_cert(cert, id), DS_KEYS_OK);
    assert_memory_equal(id, k_id, 16);

    /* The info's serial is the certificate's; validity is 90 days. */
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    uint8_t serial[16];
    assert_int_equal(BN_bn2binpad(bn, serial, 16), 16);
    BN_free(bn);
    assert_memory_equal(serial, info.serial, 16);
    assert_int_equal(info.not_after - info.not_before, 90LL * 86400 + 300);
    X509_free(cert);

    /* A second certificate has another serial; days are honoured. */
    ds_cert_info info2;
    assert_int_equal(ds_ca_issue_device(&f->dca, csr, len, k_id, 7, &cert, &info2), DS_KEYS_OK);
    assert_memory_not_equal(info.serial, info2.serial, 16);
    assert_int_equal(info2.not_after - info2.not_before, 7LL * 86400 + 300);
    X509_free(cert);
    free(csr);
    EVP_PKEY_free(dev);
}

static char *pem_from_der_csr(const unsigned char *der, long n, size_t *len)
{
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, n);
    assert_non_null(req);
    BIO *mem = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_REQ(mem, req), 1);
    char *d = NULL;
    long m = BIO_get_mem_data(mem, &d);
    char *out = malloc((size_t)m + 1);
    assert_non_null(out);
    memcpy(out, d, (size_t)m);
    out[m] = '\0';
    *len = (size_t)m;
    BIO_free(mem);
    X509_REQ_free(req);
    return out;
}

/* Test 3 */
static void test_bad_csrs(void **state)
{
    fixture *f = *state;
    uint64_t before = uses_of(f->ks, "device-ca");
    X509 *cert = NULL;
    EVP_PKEY *dev = NULL;
    assert_int_equal(ds_keys_new_p256(&dev), DS_KEYS_OK);
    size_t len = 0;
    char *csr = make_csr(dev, "x", &len);

    /* Bad signature: flip the last byte of the DER (inside s). */
    BIO *bio = BIO_new_mem_buf(csr, (int)len);
    X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    assert_non_null(req);
    BIO_free(bio);
    unsigned char *der = NULL;
    int dlen = i2d_X509_REQ(req, &der);
    assert_true(dlen > 0);
    X509_REQ_free(req);
    der[dlen - 1] ^= 0x01;
    size_t blen = 0;
    char *bad = pem_from_der_csr(der, dlen, &blen);
    OPENSSL_free(der);
    assert_int_equal(ds_ca_issue_device(&f->dca, bad, blen, k_id, 0, &cert, NULL), DS_KEYS_E_CSR_SIG);
    assert_null(cert);
    assert_non_null(strstr(ds_keystore_error(f->ks), "signature"));
    free(bad);

    /* RSA-2048. */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(rsa);
    char *rcsr = make_csr(rsa, "rsa", &blen);
    assert_int_equal(ds_ca_issue_device(&f->dca, rcsr, blen, k_id, 0, &cert, NULL), DS_KEYS_E_CSR_KEY);
    assert_non_null(strstr(ds_keystore_error(f->ks), "P-256"));
    free(rcsr);
    EVP_PKEY_free(rsa);

    /* Another curve. */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_non_null(p384);
    rcsr = make_csr(p384, "p384", &blen);
    assert_int_equal(ds_ca_issue_device(&f->dca, rcsr, blen, k_id, 0, &cert, NULL), DS_KEYS_E_CSR_KEY);
    free(rcsr);
    EVP_PKEY_free(p384);

    /* Garbage, empty, trailing data, oversized. */
    static const char garbage[] = "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!!\n"
                                  "-----END CERTIFICATE REQUEST-----\n";
    assert_int_equal(ds_ca_issue_device(&f->dca, garbage, strlen(garbage), k_id, 0, &cert, NULL),
                     DS_KEYS_E_CSR);
    assert_non_null(strstr(ds_keystore_error(f->ks), "PEM certificate request"));
    assert_int_equal(ds_ca_issue_device(&f->dca, "hello", 5, k_id, 0, &cert, NULL), DS_KEYS_E_CSR);
    assert_int_equal(ds_ca_issue_device(&f->dca, csr, 0, k_id, 0, &cert, NULL), DS_KEYS_E_CSR);
    char *trail = malloc(len + 16);
    assert_non_null(trail);
    memcpy(trail, csr, len);
    memcpy(trail + len, "\n  trailing\n", 12);
    assert_int_equal(ds_ca_issue_device(&f->dca, trail, len + 12, k_id, 0, &cert, NULL), DS_KEYS_E_CSR);
    memcpy(trail + len, "\n \r\n\t", 5);
    assert_int_equal(ds_ca_issue_device(&f->dca, trail, len + 5, k_id, 0, &cert, NULL), DS_KEYS_OK);
    X509_free(cert);
    before++; /* that one was good */
    assert_int_equal(ds_ca_issue_device(&f->dca, csr, DS_CA_CSR_MAX + 1, k_id, 0, &cert, NULL),
                     DS_KEYS_E_CSR);
    free(trail);

    assert_int_equal(uses_of(f->ks, "device-ca"), before);
    free(csr);
    EVP_PKEY_free(dev);
}

/* Test 4 */
static void test_unrelated_ca(void **state)
{
    fixture *f = *state;
    ds_keystore *ks2 = NULL;
    ds_ca dca2, oca2;
    make_cas(f->root, "other", &ks2, &dca2, &oca2);
    EVP_PKEY *dev = NULL;
    assert_int_equal(ds_keys_new_p256(&dev), DS_KEYS_OK);
    size_t len = 0;
    char *csr = make_csr(dev, "x", &len);
    X509 *cert = NULL;
    assert_int_equal(ds_ca_issue_device(&dca2, csr, len, k_id, 0, &cert, NULL), DS_KEYS_OK);
    assert_int_equal(verify_with(dca2.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    /* Same subject name "drot device CA", different key: must not verify. */
    assert_int_not_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    X509_free(cert);
    free(csr);
    EVP_PKEY_free(dev);
    ds_ca_close(&dca2);
    ds_ca_close(&oca2);
    ds_keystore_close(ks2);
}

/* Test 5 */
static void test_server_cert(void **state)
{
    fixture *f = *state;
    const char *names[] = {"drot.example.org", "127.0.0.1", "::1", "*.fleet.example.org"};
    X509 *cert = NULL;
    ds_cert_info info;
    assert_int_equal(ds_ca_issue_server(&f->dca, "server-tls", names, 4, 365, &cert, &info), DS_KEYS_OK);
    assert_int_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    assert_int_not_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_int_equal(X509_check_host(cert, "drot.example.org", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(cert, "a.fleet.example.org", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(cert, "evil.example.org", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "10.0.0.1", 0), 0);
    assert_cn(cert, "drot.example.org");
    EVP_PKEY *pub = NULL;
    assert_int_equal(ds_keys_load_public(f->ks, "server-tls", &pub), DS_KEYS_OK);
    assert_int_equal(EVP_PKEY_eq(pub, X509_get0_pubkey(cert)), 1);
    EVP_PKEY_free(pub);
    uint8_t id[16];
    assert_int_equal(ds_ca_device_id_from_cert(cert, id), DS_KEYS_E_CERT);
    X509_free(cert);

    static const char *const bad[] = {
        "a,DNS:evil.example", "has space", "", "-lead.example", "trail-.example", "a..b", "ünïcode.example"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *one[] = {bad[i]};
        assert_int_equal(ds_ca_issue_server(&f->dca, "server-tls", one, 1, 365, &cert, NULL), DS_KEYS_E_ARG);
        assert_null(cert);
    }
    assert_int_equal(ds_ca_issue_server(&f->dca, "server-tls", names, 0, 365, &cert, NULL), DS_KEYS_E_ARG);
    assert_int_equal(ds_ca_issue_server(&f->dca, "device-ca", names, 1, 365, &cert, NULL), DS_KEYS_E_ARG);
}

/* Test 6 */
static void test_operator_cert(void **state)
{
    fixture *f = *state;
    EVP_PKEY *op = NULL;
    assert_int_equal(ds_keys_new_p256(&op), DS_KEYS_OK);
    X509 *cert = NULL;
    ds_cert_info info;
    assert_int_equal(ds_ca_issue_operator(&f->oca, op, "alice@example.org", 30, &cert, &info), DS_KEYS_OK);
    assert_int_equal(verify_with(f->oca.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_int_not_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_cn(cert, "alice@example.org");
    assert_true((X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0);
    assert_int_equal(EVP_PKEY_eq(op, X509_get0_pubkey(cert)), 1);
    uint8_t id[16];
    assert_int_equal(ds_ca_device_id_from_cert(cert, id), DS_KEYS_E_CERT);
    X509_free(cert);
    assert_int_equal(ds_ca_issue_operator(&f->oca, op, "bad name", 30, &cert, NULL), DS_KEYS_E_ARG);
    assert_int_equal(ds_ca_issue_operator(&f->oca, op, "", 30, &cert, NULL), DS_KEYS_E_ARG);
    assert_int_equal(ds_ca_issue_operator(&f->oca, op, "a/b", 30, &cert, NULL), DS_KEYS_E_ARG);
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_int_equal(ds_ca_issue_operator(&f->oca, rsa, "bob", 30, &cert, NULL), DS_KEYS_E_ARG);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(op);
}

/* Test 7 */
static void test_open_and_files(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/device-ca.crt.pem", f->root);
    assert_int_equal(ds_ca_write_cert(path, f->dca.cert), DS_KEYS_OK);
    assert_int_equal(ds_ca_write_cert(path, f->dca.cert), DS_KEYS_E_EXISTS);
    size_t len = 0;
    char *pem = (char *)drot_test_read_file(path, &len);
    assert_non_null(pem);

    ds_ca ca;
    assert_int_equal(ds_ca_open(&ca, f->ks, "device-ca", pem, len), DS_KEYS_OK);
    assert_int_equal(X509_cmp(ca.cert, f->dca.cert), 0);
    /* It issues as well as the original: */
    EVP_PKEY *dev = NULL;
    assert_int_equal(ds_keys_new_p256(&dev), DS_KEYS_OK);
    size_t clen = 0;
    char *csr = make_csr(dev, "x", &clen);
    X509 *cert = NULL;
    assert_int_equal(ds_ca_issue_device(&ca, csr, clen, k_id, 0, &cert, NULL), DS_KEYS_OK);
    assert_int_equal(verify_with(f->dca.cert, cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    ds_ca_close(&ca);
    assert_int_equal(ds_ca_open(&ca, f->ks, "operator-ca", pem, len), DS_KEYS_E_MISMATCH);
    /* A leaf certificate is not a CA. */
    BIO *mem = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(mem, cert), 1);
    char *lp = NULL;
    long ln = BIO_get_mem_data(mem, &lp);
    assert_int_equal(ds_ca_open(&ca, f->ks, "device-ca", lp, (size_t)ln), DS_KEYS_E_FORMAT);
    BIO_free(mem);
    assert_int_equal(ds_ca_open(&ca, f->ks, "device-ca", "junk", 4), DS_KEYS_E_FORMAT);

    X509 *back = NULL;
    assert_int_equal(ds_ca_read_cert(path, &back), DS_KEYS_OK);
    assert_int_equal(X509_cmp(back, f->dca.cert), 0);
    X509_free(back);
    snprintf(path, sizeof path, "%s/missing.pem", f->root);
    assert_int_equal(ds_ca_read_cert(path, &back), DS_KEYS_E_NOTFOUND);
    X509_free(cert);
    free(csr);
    free(pem);
    EVP_PKEY_free(dev);
}

/* A certificate signed by the device CA with any CN and URI (made here,
 * by hand, to reach the extraction's refusals). */
static X509 *forge(fixture *f, const char *cn, const char *uri1, const char *uri2)
{
    EVP_PKEY *k = NULL;
    assert_int_equal(ds_keys_new_p256(&k), DS_KEYS_OK);
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    assert_int_equal(
        X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, X509_get_subject_name(f->dca.cert));
    X509_set_pubkey(x, k);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    const char *uris[2] = {uri1, uri2};
    for (int i = 0; i < 2; i++) {
        if (uris[i] == NULL)
            continue;
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, uris[i], -1);
        GENERAL_NAME_set0_value(g, GEN_URI, s);
        sk_GENERAL_NAME_push(gens, g);
    }
    if (sk_GENERAL_NAME_num(gens) > 0)
        assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
    GENERAL_NAMES_free(gens);
    EVP_PKEY *h = NULL;
    assert_int_equal(ds_keys_acquire(f->ks, "device-ca", &h), DS_KEYS_OK);
    assert_true(X509_sign(x, h, EVP_sha256()) > 0);
    ds_keys_release(f->ks, h);
    X509_NAME_free(n);
    EVP_PKEY_free(k);
    return x;
}

/* Test 8 */
static void test_device_id_refusals(void **state)
{
    fixture *f = *state;
    static const char good_uri[] = "urn:drot:device:00112233445566778899aabbccddeeff";
    uint8_t id[16];
    struct {
        const char *cn, *u1, *u2;
        int ok;
    } cases[] = {
        {k_id_hex, good_uri, NULL, 1},
        {k_id_hex, NULL, NULL, 0},                                                   /* no URI */
        {"ffffffffffffffffffffffffffffffff", good_uri, NULL, 0},                     /* CN disagrees */
        {k_id_hex, good_uri, "urn:drot:device:ffffffffffffffffffffffffffffffff", 0}, /* two ids */
        {"00112233445566778899AABBCCDDEEFF", "urn:drot:device:00112233445566778899AABBCCDDEEFF", NULL, 0},
        {k_id_hex, "urn:drot:device:00112233445566778899aabbccddee", NULL, 0}, /* short */
        {k_id_hex, good_uri, "https://example.org/", 1},                       /* other URIs are ignored */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        X509 *x = forge(f, cases[i].cn, cases[i].u1, cases[i].u2);
        memset(id, 0xee, sizeof id);
        ds_keys_status st = ds_ca_device_id_from_cert(x, id);
        if (cases[i].ok) {
            assert_int_equal(st, DS_KEYS_OK);
            assert_memory_equal(id, k_id, 16);
        } else if (st != DS_KEYS_E_CERT) {
            fail_msg("case %zu: expected DS_KEYS_E_CERT, got %d", i, st);
        }
        X509_free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ca_certs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_csrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrelated_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_id_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
