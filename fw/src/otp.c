/*
 * otp.c — the fuse map (otp.h, invariants O1–O4).
 *
 * Encodings:
 *   thermometer  bit i of the counter is bit (i % 8) of byte (i / 8); the
 *                value is (index of the highest set bit) + 1, 0 when blank.
 *                Raising to n ORs bits [0, n) in, byte by byte, ascending,
 *                one otp_write per byte that changes. A one-byte write burns
 *                whole (P2), so after a cut the value is the old one, the new
 *                one, or a whole-byte step between: never lower than before
 *                (bits only get set) and never above n (no bit ≥ n is set).
 *   lifecycle    bit 0 provisioned, 1 deployed, 2 tampered, 3 decommissioned.
 *                A set bit 4..7 is not a state the firmware writes: it means
 *                the fuses are inconsistent, and reads as DECOMMISSIONED
 *                (fail closed: no key use, never "secured").
 *   write-once   a field is blank while all its bytes are 0.
 *
 * Nothing here caches: every function reads the HAL, and apm_otp_load is
 * how the core refreshes its view after a write (O4, core.c).
 */
#include "otp.h"

#include <string.h>

#include "core.h"
#include "drot_crypto.h"

#define OTP_THERMO_BYTES 8u
#define OTP_ONCE_MAX     32u

static bool all_zero(const uint8_t *p, uint32_t n)
{
    uint8_t acc = 0;
    for (uint32_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static apm_status otp_read(const apm_hal *hal, uint32_t off, uint8_t *buf, uint32_t len)
{
    if (hal == NULL || hal->otp_size < APM_OTP_MIN_SIZE)
        return APM_E_HAL;
    return hal->otp_read(hal->ctx, off, buf, len) == APM_HAL_OK ? APM_OK : APM_E_HAL;
}

static apm_status otp_write(const apm_hal *hal, uint32_t off, const uint8_t *buf, uint32_t len)
{
    return apm_from_hal(hal->otp_write(hal->ctx, off, buf, len));
}

static uint32_t thermo_decode(const uint8_t b[OTP_THERMO_BYTES])
{
    for (uint32_t i = OTP_THERMO_BYTES; i-- > 0;) {
        if (b[i] != 0) {
            uint32_t hi = 7;
            while ((b[i] & (1u << hi)) == 0)
                hi--;
            return i * 8u + hi + 1u;
        }
    }
    return 0;
}

static apm_lifecycle lifecycle_decode(uint8_t bits)
{
    if ((bits & 0xF0u) != 0 || (bits & 0x08u) != 0)
        return APM_LC_DECOMMISSIONED;
    if (bits & 0x04u)
        return APM_LC_TAMPERED;
    if (bits & 0x02u)
        return APM_LC_DEPLOYED;
    if (bits & 0x01u)
        return APM_LC_PROVISIONED;
    return APM_LC_MANUFACTURING;
}

/* see otp.h */
apm_status apm_otp_load(const apm_hal *hal, apm_otp *out)
{
    uint8_t raw[APM_OTP_MIN_SIZE];
    apm_status st;

    if (out == NULL)
        return APM_E_ARG;
    memset(out, 0, sizeof *out);
    st = otp_read(hal, 0, raw, sizeof raw);
    if (st != APM_OK)
        goto out;
    memcpy(out->device_id, raw + APM_OTP_DEVICE_ID, sizeof out->device_id);
    out->device_id_set = !all_zero(out->device_id, sizeof out->device_id);
    out->uds_set = !all_zero(raw + APM_OTP_UDS, 32);
    memcpy(out->link_key, raw + APM_OTP_LINK_KEY, sizeof out->link_key);
    out->link_key_set = !all_zero(out->link_key, sizeof out->link_key);
    for (uint32_t i = 0; i < APM_ANCHOR_SLOTS; i++) {
        memcpy(out->anchor[i], raw + APM_OTP_ANCHORS + 32u * i, 32);
        out->anchor_present[i] = !all_zero(out->anchor[i], 32);
        out->anchor_revoked[i] = (raw[APM_OTP_ANCHOR_REVOKED] >> i) & 1u;
        out->anchor_confirmed[i] = (raw[APM_OTP_ANCHOR_CONFIRM] >> i) & 1u;
    }
    out->lifecycle_bits = raw[APM_OTP_LIFECYCLE];
    out->lifecycle = lifecycle_decode(out->lifecycle_bits);
    out->epoch = thermo_decode(raw + APM_OTP_EPOCH);
    for (uint32_t c = 0; c < APM_SVN_COUNT; c++)
        out->svn[c] = thermo_decode(raw + APM_OTP_SVN + OTP_THERMO_BYTES * c);
out:
    drot_wipe(raw, sizeof raw); /* it held the uds */
    return st;
}

/* see otp.h */
apm_status apm_otp_read_uds(const apm_hal *hal, uint8_t uds[32])
{
    if (uds == NULL)
        return APM_E_ARG;
    apm_status st = otp_read(hal, APM_OTP_UDS, uds, 32);
    if (st != APM_OK)
        drot_wipe(uds, 32);
    return st;
}

/* O1 classification of a field against a value. */
typedef enum once_state { ONCE_SAME, ONCE_WRITABLE, ONCE_CONFLICT } once_state;

static once_state once_classify(const uint8_t *cur, const uint8_t *val, uint32_t len)
{
    uint32_t j = 0;
    while (j < len && cur[j] == val[j])
        j++;
    if (j == len)
        return ONCE_SAME;
    /* Blank (j may be > 0 when the value starts with zero bytes) or a torn
     * prefix of val: everything from the first difference on is still 0. */
    return all_zero(cur + j, len - j) ? ONCE_WRITABLE : ONCE_CONFLICT;
}

static apm_status once_check(const apm_hal *hal, uint32_t off, const uint8_t *value, uint32_t len,
                             once_state *state)
{
    uint8_t cur[OTP_ONCE_MAX];
    apm_status st;

    if (value == NULL || len == 0 || len > OTP_ONCE_MAX)
        return APM_E_ARG;
    if (all_zero(value, len))
        return APM_E_ARG;
    st = otp_read(hal, off, cur, len);
    if (st != APM_OK)
        goto out;
    *state = once_classify(cur, value, len);
    if (*state == ONCE_CONFLICT)
        st = APM_E_OTP;
out:
    drot_wipe(cur, sizeof cur); /* may be the uds */
    return st;
}

/* see otp.h */
apm_status apm_otp_check_once(const apm_hal *hal, uint32_t off, const uint8_t *value, uint32_t len)
{
    once_state state;
    return once_check(hal, off, value, len, &state);
}

static apm_status once_burn(const apm_hal *hal, uint32_t off, const uint8_t *value, uint32_t len)
{
    once_state state;
    apm_status st = once_check(hal, off, value, len, &state);
    if (st != APM_OK || state == ONCE_SAME)
        return st;
    return otp_write(hal, off, value, len);
}

/* see otp.h */
apm_status apm_otp_burn_identity(const apm_hal *hal, const uint8_t device_id[16], const uint8_t uds[32],
                                 const uint8_t link_key[32])
{
    apm_status st;
    /* Check all three before writing any: refused input changes nothing. */
    if ((st = apm_otp_check_once(hal, APM_OTP_DEVICE_ID, device_id, 16)) != APM_OK ||
        (st = apm_otp_check_once(hal, APM_OTP_UDS, uds, 32)) != APM_OK ||
        (st = apm_otp_check_once(hal, APM_OTP_LINK_KEY, link_key, 32)) != APM_OK)
        return st;
    if ((st = once_burn(hal, APM_OTP_DEVICE_ID, device_id, 16)) != APM_OK ||
        (st = once_burn(hal, APM_OTP_UDS, uds, 32)) != APM_OK ||
        (st = once_burn(hal, APM_OTP_LINK_KEY, link_key, 32)) != APM_OK)
        return st;
    return APM_OK;
}

/* see otp.h */
apm_status apm_otp_burn_anchor(const apm_hal *hal, uint32_t slot, const uint8_t hash[32])
{
    if (slot >= APM_ANCHOR_SLOTS)
        return APM_E_ARG;
    return once_burn(hal, APM_OTP_ANCHORS + 32u * slot, hash, 32);
}

/* ORs bits into one byte (no write if they are all set already). */
static apm_status set_bits(const apm_hal *hal, uint32_t off, uint8_t bits)
{
    uint8_t cur;
    apm_status st = otp_read(hal, off, &cur, 1);
    if (st != APM_OK)
        return st;
    uint8_t next = (uint8_t)(cur | bits);
    if (next == cur)
        return APM_OK;
    return otp_write(hal, off, &next, 1);
}

/* see otp.h */
apm_status apm_otp_revoke_anchor(const apm_hal *hal, uint32_t slot)
{
    if (slot >= APM_ANCHOR_SLOTS)
        return APM_E_ARG;
    return set_bits(hal, APM_OTP_ANCHOR_REVOKED, (uint8_t)(1u << slot));
}

/* see otp.h */
apm_status apm_otp_confirm_anchor(const apm_hal *hal, uint32_t slot)
{
    if (slot >= APM_ANCHOR_SLOTS)
        return APM_E_ARG;
    return set_bits(hal, APM_OTP_ANCHOR_CONFIRM, (uint8_t)(1u << slot));
}

static apm_status thermo_raise(const apm_hal *hal, uint32_t off, uint32_t to)
{
    uint8_t cur[OTP_THERMO_BYTES];
    apm_status st;

    if (to > APM_THERMO_MAX)
        return APM_E_EXHAUSTED;
    st = otp_read(hal, off, cur, sizeof cur);
    if (st != APM_OK)
        return st;
    if (thermo_decode(cur) >= to)
        return APM_OK; /* O2: never lowers; a raise to less is a no-op */
    for (uint32_t i = 0; i < OTP_THERMO_BYTES && 8u * i < to; i++) {
        uint32_t nbits = to - 8u * i >= 8u ? 8u : to - 8u * i;
        uint8_t mask = (uint8_t)((1u << nbits) - 1u);
        if ((cur[i] | mask) == cur[i])
            continue;
        uint8_t next = (uint8_t)(cur[i] | mask);
        st = otp_write(hal, off + i, &next, 1);
        if (st != APM_OK)
            return st;
    }
    return APM_OK;
}

/* see otp.h */
apm_status apm_otp_raise_epoch(const apm_hal *hal, uint32_t to)
{
    return thermo_raise(hal, APM_OTP_EPOCH, to);
}

/* see otp.h */
apm_status apm_otp_raise_svn(const apm_hal *hal, uint32_t component, uint32_t to)
{
    if (component >= APM_SVN_COUNT)
        return APM_E_ARG;
    return thermo_raise(hal, APM_OTP_SVN + OTP_THERMO_BYTES * component, to);
}

/* see otp.h */
apm_status apm_otp_set_lifecycle(const apm_hal *hal, apm_lifecycle to)
{
    uint8_t bits;
    apm_status st;

    if ((uint32_t)to > (uint32_t)APM_LC_DECOMMISSIONED)
        return APM_E_ARG;
    st = otp_read(hal, APM_OTP_LIFECYCLE, &bits, 1);
    if (st != APM_OK)
        return st;
    apm_lifecycle cur = lifecycle_decode(bits);
    if (to == cur)
        return APM_OK;
    if (to != APM_LC_TAMPERED && to != APM_LC_DECOMMISSIONED && to < cur)
        return APM_E_LIFECYCLE;
    if (to == APM_LC_MANUFACTURING)
        return APM_E_LIFECYCLE; /* no bit to set: only reachable as the blank state */
    return set_bits(hal, APM_OTP_LIFECYCLE, (uint8_t)(1u << ((uint32_t)to - 1u)));
}

/* see otp.h */
uint32_t apm_lifecycle_psa(apm_lifecycle lc)
{
    switch (lc) {
    case APM_LC_MANUFACTURING: return 0x1000u;
    case APM_LC_PROVISIONED: return 0x2000u;
    case APM_LC_DEPLOYED: return 0x3000u;
    case APM_LC_TAMPERED: return 0x4000u;
    case APM_LC_DECOMMISSIONED: return 0x6000u;
    }
    return 0x6000u; /* unknown: never "secured" */
}
