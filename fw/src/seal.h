/*
 * seal.h — sealing: data only this device, running firmware of this signer,
 * can read back (DESIGN.md §3 "Sealing key", docs/apm-boot.md "Sealing").
 *
 * The sealing key, derived afresh for every request and wiped after it:
 *
 *   K = HKDF-SHA-256(salt = signer id of the running APM image
 *                           (boot.h: SHA-256 of the anchor key that signed
 *                           the image's manifest),
 *                    ikm  = uds (otp.h, apm_otp_read_uds),
 *                    info = "drot-apm seal v1", 32 bytes)
 *
 * So an update signed by the same authority keeps blobs readable, an image
 * of another signer cannot read them, and neither can another device.
 *
 * A blob (APM_SEAL_OVERHEAD + data bytes):
 *
 *   "DSB1" ‖ nonce[12] ‖ AES-256-GCM(K, nonce, aad, data) ‖ tag[16]
 *   aad = "DSB1" ‖ device_id[16] ‖ label
 *
 * The nonce comes from the core DRBG. Random 96-bit nonces under one key
 * stay within NIST SP 800-38D's bound (2^32 seals per key) for the life of
 * any device that seals at host-storage rates; the key changes with the
 * signer.
 *
 * Refusals, in this order (mirroring attest.h), before anything is derived:
 *   APM_E_ARG              NULL pointers (a caller's bug)
 *   APM_E_NOT_PROVISIONED  lifecycle is MANUFACTURING
 *   APM_E_BOOT             boot verdict is not APM_VERDICT_PASS
 *   APM_E_LIFECYCLE        lifecycle TAMPERED or DECOMMISSIONED
 *   APM_E_LOCKED / APM_E_LIFECYCLE  tamper poll (tamper.h T1) found an event
 *   DROT_E_ARG             label not 1..64 bytes of [A-Za-z0-9._-]; data
 *                          longer than APM_SEAL_MAX_DATA (seal only)
 *   DROT_E_BUFFER          out too small: *out_len = bytes needed
 * Unseal only, after those: every reason a blob does not open — bad tag,
 * other label, other device, other signer, wrong magic, a length outside
 * [APM_SEAL_OVERHEAD, APM_SEAL_MAX_BLOB] — is the one status DROT_E_VERIFY,
 * so a caller cannot tell which.
 *
 * On any failure *out_len is 0 (except DROT_E_BUFFER) and unseal's out[0..cap)
 * is zeroed. K, the uds and every intermediate are wiped on every path.
 */
#ifndef APM_SEAL_H
#define APM_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "core.h"
#include "tamper.h"

#define APM_SEAL_MAX_LABEL 64u
#define APM_SEAL_MAX_DATA  2048u
#define APM_SEAL_NONCE_LEN 12u
#define APM_SEAL_TAG_LEN   16u
#define APM_SEAL_OVERHEAD  (4u + APM_SEAL_NONCE_LEN + APM_SEAL_TAG_LEN) /* 32 */
#define APM_SEAL_MAX_BLOB  (APM_SEAL_OVERHEAD + APM_SEAL_MAX_DATA)      /* 2080 */

/* Seals data[0..data_len) under label into out[0..cap); *out_len =
 * APM_SEAL_OVERHEAD + data_len. data may be NULL when data_len is 0. out
 * MUST NOT overlap data. */
apm_status apm_seal_seal(apm_core *core, const apm_boot_state *boot, apm_tamper_state *tamper,
                         const char *label, size_t label_len, const uint8_t *data, size_t data_len,
                         uint8_t *out, size_t cap, size_t *out_len);

/* Opens blob[0..blob_len) sealed under label into out[0..cap); *out_len =
 * blob_len - APM_SEAL_OVERHEAD. out MUST NOT overlap blob. */
apm_status apm_seal_unseal(apm_core *core, const apm_boot_state *boot, apm_tamper_state *tamper,
                           const char *label, size_t label_len, const uint8_t *blob, size_t blob_len,
                           uint8_t *out, size_t cap, size_t *out_len);

#endif /* APM_SEAL_H */
