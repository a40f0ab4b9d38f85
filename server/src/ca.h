/*
 * ca.h — drot-server's certificate authorities (docs/keys.md §5).
 *
 * Two CAs, each with its own key in the key store (keys.h):
 *   device CA    (key role device-ca)   issues the agents' TLS client
 *                certificates at enrollment, and the server's own TLS
 *                certificate;
 *   operator CA  (key role operator-ca) issues operators' client
 *                certificates for the admin API.
 * Every signature goes through the custody interface (ds_keys_acquire /
 * ds_keys_release): no function here sees private key bytes, so the same
 * code works with a PKCS#11 backend.
 *
 * Profiles (all P-256, ECDSA-SHA256, version 3, 16-byte random positive
 * serial, notBefore = now − 5 minutes for clock skew, SKI and AKI):
 *   CA        subject CN = given name; basicConstraints CA:TRUE critical;
 *             keyUsage keyCertSign, cRLSign critical; self-signed.
 *   server    CN = first name; SAN = every DNS name / IP given;
 *             basicConstraints CA:FALSE critical; keyUsage
 *             digitalSignature critical; EKU serverAuth.
 *   device    CN = the device id, 32 lowercase hex; SAN URI
 *             "urn:drot:device:<same hex>"; CA:FALSE; digitalSignature;
 *             EKU clientAuth; key from the CSR. The CSR contributes its
 *             public key ONLY: its subject and requested extensions are
 *             ignored, the device id comes from the caller (the server,
 *             after checking the enrollment token against the DRK).
 *   operator  CN = operator name ([A-Za-z0-9._@-], 1..64); CA:FALSE;
 *             digitalSignature; EKU clientAuth.
 *
 * Errors: a ds_keys_status, with detail in ds_keystore_error(ca->ks).
 */
#ifndef DS_CA_H
#define DS_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "keys.h"

#define DS_CA_SERIAL_LEN          16
#define DS_CA_DEVICE_ID_LEN       16
#define DS_CA_DEVICE_DAYS_DEFAULT 90u
#define DS_CA_MAX_DAYS            36500u
/* Largest CSR accepted, in bytes of PEM. */
#define DS_CA_CSR_MAX 16384u
/* The device URI prefix; 32 lowercase hex digits follow. */
#define DS_CA_DEVICE_URI_PREFIX "urn:drot:device:"

/* What was issued: enough to record and, later (issue 7), revoke it. */
typedef struct ds_cert_info {
    uint8_t serial[DS_CA_SERIAL_LEN];
    char serial_hex[2 * DS_CA_SERIAL_LEN + 1];
    char fingerprint[65]; /* hex SHA-256 of the certificate DER */
    int64_t not_before;   /* Unix seconds */
    int64_t not_after;
} ds_cert_info;

/* A CA: its key (by name, in ks) and its certificate (owned). */
typedef struct ds_ca {
    ds_keystore *ks;
    char key_name[DS_KEY_NAME_MAX];
    X509 *cert;
} ds_ca;

/*
 * Creates a self-signed CA certificate for the key key_name (role
 * device-ca or operator-ca, else DS_KEYS_E_ARG) with subject CN = cn
 * (1..64 printable ASCII), valid `days` (1..DS_CA_MAX_DAYS). Fills *ca;
 * info may be NULL. Counts one use of the key.
 */
ds_keys_status ds_ca_create(ds_ca *ca, ds_keystore *ks, const char *key_name, const char *cn, unsigned days,
                            ds_cert_info *info);

/*
 * Opens an existing CA: cert_pem[0..len) is its certificate, which MUST be
 * a CA certificate whose public key is that of key_name
 * (DS_KEYS_E_MISMATCH otherwise). No private key is touched.
 */
ds_keys_status ds_ca_open(ds_ca *ca, ds_keystore *ks, const char *key_name, const char *cert_pem, size_t len);

/* Frees ca->cert and zeroes *ca (NULL allowed). */
void ds_ca_close(ds_ca *ca);

/*
 * The server's TLS certificate for the key server_key_name (role
 * server-tls) with SAN = names[0..n) (n ≥ 1; each an IPv4/IPv6 address or
 * a DNS name of letters, digits, '-' and '.', optionally "*." first).
 * *out: new certificate, caller frees.
 */
ds_keys_status ds_ca_issue_server(ds_ca *ca, const char *server_key_name, const char *const *names, size_t n,
                                  unsigned days, X509 **out, ds_cert_info *info);

/*
 * A device client certificate from a PEM CSR (csr_pem[0..csr_len), at
 * most DS_CA_CSR_MAX bytes, nothing but whitespace after the PEM block)
 * naming device_id. days = 0 means DS_CA_DEVICE_DAYS_DEFAULT.
 * DS_KEYS_E_CSR: not a PEM CSR (or trailing data); DS_KEYS_E_CSR_KEY: its
 * key is not a valid P-256 point; DS_KEYS_E_CSR_SIG: its signature does
 * not verify. The CA's key is used only after the CSR passed.
 */
ds_keys_status ds_ca_issue_device(ds_ca *ca, const char *csr_pem, size_t csr_len,
                                  const uint8_t device_id[DS_CA_DEVICE_ID_LEN], unsigned days, X509 **out,
                                  ds_cert_info *info);

/* An operator's client certificate for the public key pub (P-256). */
ds_keys_status ds_ca_issue_operator(ds_ca *ca, EVP_PKEY *pub, const char *operator_name, unsigned days,
                                    X509 **out, ds_cert_info *info);

/*
 * The device id a device certificate names: exactly one URI SAN
 * "urn:drot:device:<32 lowercase hex>" and exactly one subject CN equal to
 * the same hex, else DS_KEYS_E_CERT. Does NOT verify the certificate:
 * the TLS layer has already chained it to the device CA.
 */
ds_keys_status ds_ca_device_id_from_cert(const X509 *cert, uint8_t out[DS_CA_DEVICE_ID_LEN]);

/* Fills *info from a certificate. */
ds_keys_status ds_ca_cert_info(const X509 *cert, ds_cert_info *info);

/* PEM file I/O for certificates. write: mode 0644, refuses to overwrite
 * (DS_KEYS_E_EXISTS). read: DS_KEYS_E_NOTFOUND / DS_KEYS_E_FORMAT. */
ds_keys_status ds_ca_write_cert(const char *path, const X509 *cert);
ds_keys_status ds_ca_read_cert(const char *path, X509 **out);

#endif /* DS_CA_H */
