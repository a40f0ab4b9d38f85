/*
 * records.c — power-fail-safe, AES-256-GCM protected records (records.h,
 * invariants R1–R4).
 *
 * A copy sits at the start of its sector:
 *
 *   off  0  "DREC"
 *       4  version 1
 *       5  record id
 *       6  0, 0
 *       8  seq  (uint32 BE)
 *      12  len  (uint32 BE, ≤ APM_REC_MAX)
 *      16  nonce[12]
 *      28  ciphertext[len]
 *  28+len  tag[16]          AAD = bytes 0..28, key = core->rec_key
 *
 * Buffers. A copy is at most 28 + 1024 + 16 = 1068 bytes, so one stack
 * buffer holds all of it and R2's "one flash_program of the whole copy"
 * holds literally: no sector-sized buffer and no static. The buffer holds
 * ciphertext while writing, and plaintext (decrypted in place) while
 * reading; it is wiped at the one exit of every function that fills it.
 *
 * Why a cut is safe (R2): the copy being replaced is never the current one.
 * A cut during the erase leaves the target sector unchanged, erased, or a
 * mix; a cut during the program leaves a prefix of the new copy followed by
 * 0xFF. Neither verifies: the tag, which covers the header and all of the
 * ciphertext, is the last thing programmed, and an erased or stale tag
 * matches with probability 2^-128. So the current copy stays the valid one
 * with the higher seq until the program has completed. R4 erases the
 * non-current sector first, so a cut part-way never brings back an older
 * copy: the record reads as before, or as erased.
 *
 * Reading validates both copies (decrypting each in place and wiping it),
 * then decrypts the winner once more into the caller's buffer: three
 * decryptions of at most 1 KiB instead of a second plaintext buffer.
 */
#include "records.h"

#include <string.h>

#include "layout.h"

#define REC_HDR_LEN  28u
#define REC_TAG_LEN  16u
#define REC_COPY_MAX (REC_HDR_LEN + APM_REC_MAX + REC_TAG_LEN)
#define REC_VERSION  1u

static const uint8_t REC_MAGIC[4] = {'D', 'R', 'E', 'C'};

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t copy_sector(apm_record_id id, uint32_t c)
{
    return APM_REC_FIRST_SECTOR + 2u * (uint32_t)id + c;
}

static apm_status check_core(const apm_core *core, apm_record_id id)
{
    if (core == NULL || core->hal == NULL || (uint32_t)id >= (uint32_t)APM_REC_COUNT)
        return APM_E_ARG;
    if (!core->rec_key_ready)
        return APM_E_NOT_PROVISIONED;
    return APM_OK;
}

/* Reads copy c of id into cp and decrypts it in place (plaintext at
 * cp + REC_HDR_LEN). APM_OK if it is a valid copy, APM_E_CORRUPT if not,
 * APM_E_HAL if flash could not be read. cp is the caller's to wipe. */
static apm_status load_copy(apm_core *core, apm_record_id id, uint32_t c, uint8_t cp[REC_COPY_MAX],
                            uint32_t *seq, uint32_t *len)
{
    const apm_hal *hal = core->hal;
    uint32_t base = copy_sector(id, c) * APM_FLASH_SECTOR_SIZE;

    if (hal->flash_read(hal->ctx, base, cp, REC_HDR_LEN) != APM_HAL_OK)
        return APM_E_HAL;
    if (memcmp(cp, REC_MAGIC, sizeof REC_MAGIC) != 0 || cp[4] != REC_VERSION || cp[5] != (uint8_t)id ||
        cp[6] != 0 || cp[7] != 0)
        return APM_E_CORRUPT;
    uint32_t n = get_be32(cp + 12);
    if (n > APM_REC_MAX)
        return APM_E_CORRUPT;
    if (hal->flash_read(hal->ctx, base + REC_HDR_LEN, cp + REC_HDR_LEN, n + REC_TAG_LEN) != APM_HAL_OK)
        return APM_E_HAL;
    if (drot_aes_gcm_open(core->rec_key, sizeof core->rec_key, cp + 16, cp, REC_HDR_LEN, cp + REC_HDR_LEN, n,
                          cp + REC_HDR_LEN + n, cp + REC_HDR_LEN) != DROT_OK)
        return APM_E_CORRUPT;
    *seq = get_be32(cp + 8);
    *len = n;
    return APM_OK;
}

/* Finds the valid copy with the higher seq: *best = 0 (A), 1 (B) or -1. */
static apm_status scan(apm_core *core, apm_record_id id, int *best, uint32_t *best_seq)
{
    uint8_t cp[REC_COPY_MAX];
    apm_status st = APM_OK;

    *best = -1;
    *best_seq = 0;
    for (uint32_t c = 0; c < 2; c++) {
        uint32_t seq = 0, len = 0;
        st = load_copy(core, id, c, cp, &seq, &len);
        if (st == APM_E_CORRUPT) {
            st = APM_OK;
            continue;
        }
        if (st != APM_OK)
            goto out;
        if (*best < 0 || seq > *best_seq) {
            *best = (int)c;
            *best_seq = seq;
        }
    }
out:
    drot_wipe(cp, sizeof cp);
    return st;
}

/* see records.h */
apm_status apm_rec_read(apm_core *core, apm_record_id id, uint8_t *buf, size_t cap, size_t *len,
                        uint32_t *seq)
{
    uint8_t cp[REC_COPY_MAX];
    uint32_t best_seq, s = 0, n = 0;
    int best;
    apm_status st = check_core(core, id);

    if (st != APM_OK)
        return st;
    if (len == NULL || (buf == NULL && cap > 0))
        return APM_E_ARG;
    *len = 0;
    st = scan(core, id, &best, &best_seq);
    if (st != APM_OK)
        goto out;
    if (best < 0) {
        st = APM_E_CORRUPT;
        goto out;
    }
    st = load_copy(core, id, (uint32_t)best, cp, &s, &n);
    if (st != APM_OK)
        goto out;
    *len = n;
    if (n > cap) {
        st = (apm_status)DROT_E_BUFFER; /* *len says how much is needed */
        goto out;
    }
    if (n > 0)
        memcpy(buf, cp + REC_HDR_LEN, n);
    if (seq != NULL)
        *seq = s;
out:
    drot_wipe(cp, sizeof cp);
    return st;
}

/* see records.h */
apm_status apm_rec_write(apm_core *core, apm_record_id id, const uint8_t *buf, size_t len)
{
    uint8_t cp[REC_COPY_MAX];
    uint32_t best_seq;
    int best;
    apm_status st = check_core(core, id);

    if (st != APM_OK)
        return st;
    if (len > APM_REC_MAX || (buf == NULL && len > 0))
        return APM_E_ARG;
    st = scan(core, id, &best, &best_seq);
    if (st != APM_OK)
        goto out;
    if (best >= 0 && best_seq == UINT32_MAX) {
        st = APM_E_EXHAUSTED;
        goto out;
    }
    uint32_t target = best < 0 ? 0u : 1u - (uint32_t)best;
    uint32_t seq = best < 0 ? 1u : best_seq + 1u;

    memcpy(cp, REC_MAGIC, sizeof REC_MAGIC);
    cp[4] = REC_VERSION;
    cp[5] = (uint8_t)id;
    cp[6] = cp[7] = 0;
    put_be32(cp + 8, seq);
    put_be32(cp + 12, (uint32_t)len);
    st = apm_core_random(core, cp + 16, 12); /* R3: a fresh nonce for every write */
    if (st != APM_OK)
        goto out;
    st = (apm_status)drot_aes_gcm_seal(core->rec_key, sizeof core->rec_key, cp + 16, cp, REC_HDR_LEN, buf,
                                       len, cp + REC_HDR_LEN, cp + REC_HDR_LEN + len);
    if (st != APM_OK)
        goto out;

    const apm_hal *hal = core->hal;
    uint32_t sector = copy_sector(id, target);
    st = apm_from_hal(hal->flash_erase(hal->ctx, sector));
    if (st != APM_OK)
        goto out;
    st = apm_from_hal(hal->flash_program(hal->ctx, sector * APM_FLASH_SECTOR_SIZE, cp,
                                         (uint32_t)(REC_HDR_LEN + len + REC_TAG_LEN)));
out:
    drot_wipe(cp, sizeof cp);
    return st;
}

/* see records.h */
apm_status apm_rec_erase(apm_core *core, apm_record_id id)
{
    uint32_t best_seq;
    int best;
    apm_status st;

    if (core == NULL || core->hal == NULL || (uint32_t)id >= (uint32_t)APM_REC_COUNT)
        return APM_E_ARG;
    /* Without the record key no copy can be told apart: erase A then B. */
    best = -1;
    if (core->rec_key_ready) {
        st = scan(core, id, &best, &best_seq);
        if (st != APM_OK)
            return st;
    }
    uint32_t first = best < 0 ? 0u : 1u - (uint32_t)best;
    const apm_hal *hal = core->hal;
    st = apm_from_hal(hal->flash_erase(hal->ctx, copy_sector(id, first)));
    if (st != APM_OK)
        return st;
    return apm_from_hal(hal->flash_erase(hal->ctx, copy_sector(id, 1u - first)));
}
