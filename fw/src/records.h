/*
 * records.h — integrity-protected, power-fail-safe records in the APM's flash.
 *
 * Each record id owns two flash sectors (A and B). A stored copy is
 *
 *   header (28 bytes): magic "DREC", version 1, record id, 0, 0,
 *                      seq (uint32 BE), len (uint32 BE), nonce[12]
 *   ciphertext[len] ‖ tag[16]   AES-256-GCM under the record key, AAD = header
 *
 * The record key is HKDF-SHA-256(ikm = uds, info = "drot-apm records v1"):
 * flash contents are confidential and authentic to this device, and a copy
 * from another device, an older seq, or a torn write is never accepted.
 *
 * Invariants:
 *   R1. Read takes the valid copy (magic, version, id, bounds, tag) with the
 *       higher seq. With no valid copy it returns APM_E_CORRUPT, whether the
 *       pair was never written, erased, or damaged; the caller decides what
 *       that means for its record.
 *   R2. Write goes to the sector that does NOT hold the current valid copy
 *       (or A if neither is valid): erase it, then program the whole copy in
 *       one flash_program, seq = current seq + 1. A power cut at any point
 *       leaves the previous copy as the valid one, or the new one: never a
 *       mix (the tag covers header and content).
 *   R3. The nonce is fresh from the DRBG for every write, so a seq reused
 *       after a torn write never reuses a nonce.
 *   R4. Erase (zeroize) erases both sectors: afterwards the record reads
 *       APM_E_CORRUPT. Used when tamper zeroizes the keys.
 */
#ifndef APM_RECORDS_H
#define APM_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef enum apm_record_id {
    APM_REC_KEYSTORE = 0,   /* device root key slots (keystore.c) */
    APM_REC_TAMPER_LOG = 1, /* tamper events (tamper.c) */
    APM_REC_FWSTATE = 2,    /* firmware state: active slot, trial, pending host images (fwstate.h) */
    APM_REC_REVOCATION = 3, /* revocation list (revocation.h) */
    APM_REC_COUNT = 4,
} apm_record_id;

/* Largest record content. */
#define APM_REC_MAX 1024u

/* First flash sector the records use: ids occupy sectors
 * [APM_REC_FIRST_SECTOR, APM_REC_FIRST_SECTOR + 2 * APM_REC_COUNT). */
#define APM_REC_FIRST_SECTOR 0u

/* Reads record id into buf[0..cap); *len = its length, *seq = its seq. */
apm_status apm_rec_read(apm_core *core, apm_record_id id, uint8_t *buf, size_t cap, size_t *len,
                        uint32_t *seq);
apm_status apm_rec_write(apm_core *core, apm_record_id id, const uint8_t *buf, size_t len);
apm_status apm_rec_erase(apm_core *core, apm_record_id id);

#endif /* APM_RECORDS_H */
