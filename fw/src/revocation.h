/*
 * revocation.h — the APM side of revocation lists (docs/revocation.md).
 *
 * The host hands the APM the fleet's signed revocation list
 * (drot/revocation.h) with SET_REVOCATION_LIST. The APM keeps, in flash
 * record APM_REC_REVOCATION and in RAM (core->rev), only what it needs:
 *
 *   version      of the stored list (0: none ever stored)
 *   digest       SHA-256 of its payload (to tell "the same list" apart)
 *   auth[]       the revoked authority key hashes (≤ 16)
 *   drk_revoked  whether the list revokes the DRK that was active when it
 *                was stored, and drk_hash = that DRK's SHA-256
 *
 * Record format (plaintext inside the record, records.h; 76 + 32 n bytes):
 *
 *   0      format 1
 *   1      n, the number of authority hashes (0..16)
 *   2      drk_revoked (0 or 1)
 *   3      0
 *   4..11  version (uint64 BE, ≥ 1)
 *   12..43 digest
 *   44..75 drk_hash (zero when drk_revoked is 0)
 *   76..   n × 32 authority hashes
 *
 * apm_rev_set, in order, with the status of each refusal (nothing is
 * written before step 6, so a refusal leaves fuses and flash unchanged):
 *
 *   1. lifecycle PROVISIONED or DEPLOYED   APM_E_NOT_PROVISIONED / APM_E_LIFECYCLE
 *      length 1..DROT_REVOCATION_SIGNED_MAX APM_E_ARG / DROT_E_TOO_LARGE
 *   2. drot_revocation_verify against apm_trusted_anchors (fuses + the
 *      stored list): the envelope's and decoder's drot_status pass through —
 *      DROT_E_VERIFY (unknown signer, bad signature), DROT_E_BADKEY (the
 *      signer's anchor is revoked by a fuse, by the stored list, or by this
 *      list itself), DROT_E_UNSUPPORTED (another kind of object), decode
 *      errors;
 *   3. version below the stored one                     APM_E_ROLLBACK
 *      same version: same digest → APM_OK, no write (changed = false);
 *                    another digest                     APM_E_ROLLBACK
 *   4. a revocation withdrawn: an authority hash of the stored list missing
 *      from the new one, or the current DRK revoked by the stored list but
 *      not by the new one                               APM_E_ROLLBACK
 *   5. the list would revoke the anchor that verified the running APM image
 *      (the next boot would fail: no key use ever again), or leave no
 *      usable anchor                                    APM_E_DENIED
 *   6. the record is written (apm_rec_write: erase + one program; records.h
 *      R2: a power cut leaves the old list or the new one, never a mix),
 *      then core->rev is replaced.
 *
 * Invariants:
 *   V1. The stored version never decreases, and a version is stored with
 *       one content only (step 3).
 *   V2. A revocation, once stored, stays: a later list must repeat every
 *       authority revocation, and the current DRK's (step 4). So an old or
 *       trimmed list can never re-trust a key.
 *   V3. What the list revokes is refused in one place: apm_trusted_anchors
 *       (anchors.h) for authority keys; apm_rev_check_drk for the DRK,
 *       which attest.c (tokens) and rotate.c (every rotation, which would
 *       sign with or decrypt under the DRK) consult before using it.
 *   V4. The list lives in flash, not in fuses: records.h makes it
 *       authentic and power-cut safe, not rollback-proof against someone
 *       who can rewrite the APM's flash. The fuse revoke bits (anchor
 *       rotation, drot.md) are the permanent revocation; the list is the
 *       fast one (docs/revocation.md §6).
 */
#ifndef APM_REVOCATION_H
#define APM_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "core.h"
#include "drot/revocation.h"

/* Record content: 76 + 32 × APM_REV_MAX_AUTH bytes at most. */
#define APM_REV_RECORD_MAX (76u + 32u * APM_REV_MAX_AUTH)

/* Reads the record into core->rev (zeroed first). No record, or a record
 * that does not parse, leaves version 0 (no list: the fuses alone decide,
 * V4). APM_E_HAL / APM_E_POWER if flash cannot be read. Without a record key
 * (not yet manufactured) there is no list: APM_OK. */
apm_status apm_rev_load(apm_core *core);

/* Working memory of apm_rev_set, owned by the caller (no malloc, and kept
 * off the stack: the decoded list and the record are ~1.2 KiB together, and
 * the record write below them needs ~2.3 KiB more). */
typedef struct apm_rev_work {
    drot_revocation_list list;
    apm_rev next;
    uint8_t rec[APM_REV_RECORD_MAX];
} apm_rev_work;

typedef struct apm_rev_result {
    uint64_t version; /* the version stored now */
    bool changed;     /* false: that very list was stored already (no write) */
    bool drk_revoked; /* the stored list revokes the current DRK */
} apm_rev_result;

/* SET_REVOCATION_LIST: steps 1–6 above. boot is this boot's verdict (for
 * step 5); work is scratch memory (its content on return means nothing).
 * On APM_OK *out says what is stored; on a refusal *out is zeroed. */
apm_status apm_rev_set(apm_core *core, const apm_boot_state *boot, const uint8_t *msg, size_t len,
                       apm_rev_work *work, apm_rev_result *out);

/* APM_OK if the current DRK may be used; APM_E_REVOKED if the stored list
 * revokes it (or its hash cannot be computed: fail closed). A device
 * without a DRK is APM_OK here (the callers' own APM_E_NO_KEY comes first). */
apm_status apm_rev_check_drk(const apm_core *core);

#endif /* APM_REVOCATION_H */
