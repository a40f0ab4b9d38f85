/*
 * fwstate.c — the firmware-state record and the boot's slot selection (see
 * fwstate.h, invariants S1–S4).
 *
 * Record content (big-endian; every byte checked on read):
 *
 *   0..3   "DFWS"
 *   4      format version 1
 *   5      active slot: 0 A, 1 B
 *   6      trial: 0 none, 1 pending, 2 trying
 *   7      last: 0 none, 1 confirmed, 2 refused, 3 reset, 4 aborted
 *   8      raise: 0, or 1 = svn[APM] must reach raise_svn (S3)
 *   9      raise_svn, 0..63
 *   10     n, the number of host entries, 0..2
 *   11     0
 *   12..   n × 100 bytes, one per host component, no component twice:
 *            0 component (1 HOST-BL, 2 HOST-OS), 1 svn (0..63),
 *            2 version length (1..32), 3 zero, 4..35 version (printable
 *            ASCII, zero-padded), 36..67 digest, 68..99 signer id
 *
 * The record is written whole (records.h R2), so every change of state is
 * one write: old or new, never half of each.
 */
#include "fwstate.h"

#include <string.h>

#include "layout.h"
#include "otp.h"
#include "records.h"

static const uint8_t FWS_MAGIC[4] = {'D', 'F', 'W', 'S'};

_Static_assert(APM_FWS_MAX_LEN <= APM_REC_MAX, "the firmware-state record must fit a record");

static void record_default(apm_fw_record *r)
{
    memset(r, 0, sizeof *r);
    r->active = APM_FW_SLOT_A;
    r->trial = APM_FW_TRIAL_NONE;
    r->last = APM_FW_LAST_NONE;
}

static bool text_ok(const char *p, size_t n)
{
    if (n == 0 || n > APM_FW_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

static bool host_component_ok(uint32_t c)
{
    return c == APM_SVN_HOST_BL || c == APM_SVN_HOST_OS;
}

static bool record_ok(const apm_fw_record *r)
{
    if (r->active >= APM_FW_SLOTS || r->trial > APM_FW_TRIAL_TRYING || r->last > APM_FW_LAST_ABORTED ||
        r->raise_svn > DROT_LINK_FW_SVN_MAX || r->n_host > APM_FW_HOST_MAX)
        return false;
    for (size_t i = 0; i < r->n_host; i++) {
        const apm_fw_host_entry *e = &r->host[i];
        if (!host_component_ok(e->component) || e->svn > DROT_LINK_FW_SVN_MAX ||
            !text_ok(e->version, e->version_len))
            return false;
        for (size_t j = 0; j < i; j++)
            if (r->host[j].component == e->component)
                return false;
    }
    return true;
}

static size_t encode(const apm_fw_record *r, uint8_t out[APM_FWS_MAX_LEN])
{
    memset(out, 0, APM_FWS_MAX_LEN);
    memcpy(out, FWS_MAGIC, sizeof FWS_MAGIC);
    out[4] = 1u;
    out[5] = (uint8_t)r->active;
    out[6] = (uint8_t)r->trial;
    out[7] = (uint8_t)r->last;
    out[8] = r->raise ? 1u : 0u;
    out[9] = (uint8_t)r->raise_svn;
    /* record_ok bounds n_host; the clamp says so to the compiler too */
    size_t n = r->n_host < APM_FW_HOST_MAX ? r->n_host : APM_FW_HOST_MAX;
    out[10] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = out + APM_FWS_HDR_LEN + i * APM_FWS_ENTRY_LEN;
        e[0] = (uint8_t)r->host[i].component;
        e[1] = (uint8_t)r->host[i].svn;
        e[2] = (uint8_t)r->host[i].version_len;
        memcpy(e + 4, r->host[i].version, r->host[i].version_len);
        memcpy(e + 36, r->host[i].digest, 32);
        memcpy(e + 68, r->host[i].signer, 32);
    }
    return APM_FWS_HDR_LEN + n * APM_FWS_ENTRY_LEN;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Strict: every byte is checked, so one encoding per record. */
static bool decode(const uint8_t *p, size_t len, apm_fw_record *r)
{
    memset(r, 0, sizeof *r);
    if (len < APM_FWS_HDR_LEN || memcmp(p, FWS_MAGIC, sizeof FWS_MAGIC) != 0 || p[4] != 1u || p[8] > 1u ||
        p[10] > APM_FW_HOST_MAX || p[11] != 0u || len != APM_FWS_HDR_LEN + (size_t)p[10] * APM_FWS_ENTRY_LEN)
        return false;
    r->active = p[5];
    r->trial = p[6];
    r->last = p[7];
    r->raise = p[8] == 1u;
    r->raise_svn = p[9];
    r->n_host = p[10];
    for (size_t i = 0; i < r->n_host; i++) {
        const uint8_t *e = p + APM_FWS_HDR_LEN + i * APM_FWS_ENTRY_LEN;
        apm_fw_host_entry *h = &r->host[i];
        h->component = e[0];
        h->svn = e[1];
        h->version_len = e[2];
        if (e[3] != 0u || h->version_len == 0 || h->version_len > APM_FW_TEXT_MAX ||
            !all_zero(e + 4 + h->version_len, APM_FW_TEXT_MAX - h->version_len))
            return false;
        memcpy(h->version, e + 4, h->version_len);
        memcpy(h->digest, e + 36, 32);
        memcpy(h->signer, e + 68, 32);
    }
    return record_ok(r);
}

/* see fwstate.h */
apm_status apm_fw_record_read(apm_core *core, apm_fw_record *out, bool *stored)
{
    uint8_t buf[APM_FWS_MAX_LEN];
    size_t len = 0;
    bool ok = false;

    if (core == NULL || out == NULL)
        return APM_E_ARG;
    apm_status st = apm_rec_read(core, APM_REC_FWSTATE, buf, sizeof buf, &len, NULL);
    if (st == APM_OK)
        ok = decode(buf, len, out);
    if (!ok)
        record_default(out); /* S4 */
    if (stored != NULL)
        *stored = ok;
    /* No copy (APM_E_CORRUPT) or one too long for this format
     * (DROT_E_BUFFER) reads as the default; a HAL failure is reported. */
    return st == APM_E_HAL ? st : APM_OK;
}

/* see fwstate.h */
apm_status apm_fw_record_write(apm_core *core, const apm_fw_record *rec)
{
    uint8_t buf[APM_FWS_MAX_LEN];
    if (core == NULL || rec == NULL || !record_ok(rec))
        return APM_E_ARG;
    size_t len = encode(rec, buf);
    return apm_rec_write(core, APM_REC_FWSTATE, buf, len);
}

/* S3: completes a recorded svn[APM] raise once the active image verified.
 * A failure other than power is left for the next boot to retry. */
static apm_status complete_raise(apm_core *core, const apm_fw_state *fw, const apm_boot_state *boot)
{
    if (!fw->rec.raise || fw->rec.trial != APM_FW_TRIAL_NONE || boot->verdict != APM_VERDICT_PASS ||
        boot->slot != fw->rec.active)
        return APM_OK;
    uint32_t target = fw->rec.raise_svn < boot->svn ? fw->rec.raise_svn : boot->svn;
    if (core->otp.svn[APM_SVN_APM] >= target)
        return APM_OK;
    apm_status st = apm_otp_raise_svn(core->hal, APM_SVN_APM, target);
    apm_status reload = apm_core_load_otp(core); /* otp.h O4 */
    if (st == APM_E_POWER || reload == APM_E_POWER)
        return APM_E_POWER;
    return APM_OK;
}

/* One record change at boot; fw->rec follows what is stored. */
static apm_status boot_write(apm_core *core, apm_fw_state *fw, const apm_fw_record *next)
{
    apm_status st = apm_fw_record_write(core, next);
    if (st == APM_OK)
        fw->rec = *next;
    return st;
}

/* see fwstate.h */
apm_status apm_fw_boot(apm_core *core, apm_fw_state *fw, apm_boot_state *boot)
{
    apm_fw_record next;
    apm_status st;

    if (core == NULL || fw == NULL || boot == NULL)
        return APM_E_ARG;
    memset(fw, 0, sizeof *fw);
    (void)apm_fw_record_read(core, &fw->rec, NULL); /* a read failure boots the default: slot A */
    uint32_t active = fw->rec.active, other = active == APM_FW_SLOT_A ? APM_FW_SLOT_B : APM_FW_SLOT_A;

    if (fw->rec.trial == APM_FW_TRIAL_PENDING) {
        next = fw->rec;
        next.trial = APM_FW_TRIAL_TRYING; /* S1: recorded before the trial runs */
        st = boot_write(core, fw, &next);
        if (st == APM_E_POWER)
            return st;
        if (st == APM_OK) {
            apm_boot_verify_slot(core, other, boot);
            if (boot->verdict == APM_VERDICT_PASS) {
                fw->running = other;
                return APM_OK;
            }
            next.trial = APM_FW_TRIAL_NONE; /* the trial does not verify: back at once */
            next.last = APM_FW_LAST_REFUSED;
            if (boot_write(core, fw, &next) == APM_E_POWER)
                return APM_E_POWER;
        }
        /* Any other failure to record TRYING: the trial is not run (it
         * could not revert), and the next boot tries again. */
    } else if (fw->rec.trial == APM_FW_TRIAL_TRYING) {
        next = fw->rec; /* a boot during an unconfirmed trial: revert */
        next.trial = APM_FW_TRIAL_NONE;
        next.last = APM_FW_LAST_RESET;
        if (boot_write(core, fw, &next) == APM_E_POWER)
            return APM_E_POWER;
    }
    fw->running = active;
    apm_boot_verify_slot(core, active, boot);
    return complete_raise(core, fw, boot);
}

/* see fwstate.h */
void apm_fw_state_wipe(apm_fw_state *fw)
{
    if (fw == NULL)
        return;
    if (fw->sess.open == APM_VERDICT_PASS)
        drot_sha256_release(&fw->sess.sha);
    drot_wipe(fw, sizeof *fw);
}
