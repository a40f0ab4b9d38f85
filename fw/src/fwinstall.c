/*
 * fwinstall.c — firmware install on the APM (see fwinstall.h, F1–F7, and
 * fwstate.h, S1–S4).
 *
 * Every request has the same shape:
 *
 *   gates (F1)
 *   checks on the request and the state, in RAM (refused: nothing written)
 *   writes, in the order fwinstall.h lists
 *
 * Why an APM image is verified twice: BEGIN checks the manifest before the
 * slot is touched, so a wrong signer, a rollback or an oversize image never
 * erases anything; FINISH reads the written slot back and runs the boot
 * check on it, so what is marked PENDING is exactly what the next boot
 * will find, flash errors included.
 */
#include "fwinstall.h"

#include <string.h>

#include "layout.h"
#include "otp.h"

#define FW_NO_COMPONENT (-1)

static const struct {
    const char *name;
    size_t len;
    uint32_t index;
} COMPONENTS[] = {
    {"APM", 3, APM_SVN_APM},
    {"HOST-BL", 7, APM_SVN_HOST_BL},
    {"HOST-OS", 7, APM_SVN_HOST_OS},
};
#define N_COMPONENTS (sizeof COMPONENTS / sizeof COMPONENTS[0])

/* see fwinstall.h */
int32_t apm_fw_component_index(const char *name, size_t len)
{
    if (name == NULL)
        return FW_NO_COMPONENT;
    for (size_t i = 0; i < N_COMPONENTS; i++)
        if (len == COMPONENTS[i].len && memcmp(name, COMPONENTS[i].name, len) == 0)
            return (int32_t)COMPONENTS[i].index;
    return FW_NO_COMPONENT;
}

static const char *component_name(uint32_t index, size_t *len)
{
    for (size_t i = 0; i < N_COMPONENTS; i++)
        if (COMPONENTS[i].index == index) {
            *len = COMPONENTS[i].len;
            return COMPONENTS[i].name;
        }
    *len = 0;
    return "";
}

static uint32_t other_slot(uint32_t slot)
{
    return slot == APM_FW_SLOT_A ? APM_FW_SLOT_B : APM_FW_SLOT_A;
}

static apm_status refuse(apm_fw_state *fw, apm_status st, const char *why)
{
    fw->why = why;
    return st;
}

/* ---- gates and the session ------------------------------------------------- */

/* F1: rotate.h R2's gates, without the key. */
static apm_status gates(apm_core *core, const apm_fw_env *env, apm_fw_state *fw)
{
    if (core->otp.lifecycle == APM_LC_MANUFACTURING)
        return refuse(fw, APM_E_NOT_PROVISIONED, "the device is not provisioned");
    if (core->otp.lifecycle != APM_LC_PROVISIONED && core->otp.lifecycle != APM_LC_DEPLOYED)
        return refuse(fw, APM_E_LIFECYCLE,
                      "no firmware install in this lifecycle state (tampered or decommissioned)");
    if (env->boot->verdict != APM_VERDICT_PASS)
        return refuse(fw, APM_E_BOOT, "the running APM image did not verify at boot: no install");
    apm_status st = apm_tamper_poll(core, env->tamper); /* tamper.h T1 */
    if (st != APM_OK)
        return refuse(fw, st, "a tamper event locks the APM until reset");
    return APM_OK;
}

static bool env_ok(const apm_core *core, const apm_fw_env *env, const apm_fw_state *fw)
{
    return core != NULL && core->hal != NULL && env != NULL && env->boot != NULL && env->tamper != NULL &&
           env->meas != NULL && fw != NULL;
}

static bool session_open(const apm_fw_state *fw)
{
    return fw->sess.open == APM_VERDICT_PASS;
}

/* Drops the session: the hash context released, every byte wiped. */
static void session_close(apm_fw_state *fw)
{
    if (session_open(fw))
        drot_sha256_release(&fw->sess.sha);
    drot_wipe(&fw->sess, sizeof fw->sess);
}

/* ---- BEGIN -------------------------------------------------------------------- */

/* F2 on a manifest that verified: component, SVN, size, state. */
static apm_status check_begin(const apm_core *core, apm_fw_state *fw, const drot_manifest *m, uint32_t mode,
                              int32_t *comp)
{
    *comp = apm_fw_component_index(m->component, m->component_len);
    if (*comp == FW_NO_COMPONENT)
        return refuse(fw, APM_E_COMPONENT,
                      "the manifest names a component other than APM, HOST-BL or HOST-OS");
    if (m->svn < core->otp.svn[*comp])
        return refuse(fw, APM_E_ROLLBACK,
                      "the manifest's SVN is below the component's svn fuse (a downgrade)");
    if (*comp == (int32_t)APM_SVN_APM && m->size > APM_FW_IMAGE_MAX)
        return refuse(fw, APM_E_IMAGE, "the APM image is larger than a firmware slot");
    if (*comp == (int32_t)APM_SVN_APM && mode == DROT_LINK_FW_MODE_INSTALL &&
        (fw->rec.trial != APM_FW_TRIAL_NONE || fw->running != fw->rec.active))
        return refuse(fw, APM_E_FW_STATE, "an APM image is staged or on trial: confirm it or abort it first");
    return APM_OK;
}

/* see fwinstall.h */
apm_status apm_fw_begin(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, const uint8_t *manifest,
                        size_t len, uint32_t mode, drot_link_fw_begin_resp *out)
{
    drot_manifest m;
    uint32_t anchor = 0;
    int32_t comp = FW_NO_COMPONENT;
    apm_status st;

    if (!env_ok(core, env, fw) || out == NULL || (manifest == NULL && len > 0))
        return APM_E_ARG;
    fw->why = NULL;
    session_close(fw); /* a BEGIN always ends the session before it */
    if ((st = gates(core, env, fw)) != APM_OK)
        return st;
    if (mode != DROT_LINK_FW_MODE_INSTALL && mode != DROT_LINK_FW_MODE_VERIFY)
        return refuse(fw, APM_E_ARG, "unknown FW_BEGIN mode");
    st = apm_boot_manifest_check(core, manifest, len, &m, &anchor);
    if (st == APM_E_CORRUPT)
        return refuse(fw, st, "the manifest is not a signed manifest (garbage, truncated or too long)");
    if (st == APM_E_ANCHOR)
        return refuse(fw, st, "the manifest's signer is not a trusted anchor, or its anchor is revoked");
    if (st != APM_OK)
        return refuse(fw, st, "the manifest's signature or payload does not verify");
    if ((st = check_begin(core, fw, &m, mode, &comp)) != APM_OK)
        return st;

    apm_fw_session *s = &fw->sess;
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->component = (uint32_t)comp;
    s->slot = other_slot(fw->running);
    s->size = m.size;
    s->svn = m.svn;
    s->version_len = m.version_len;
    memcpy(s->version, m.version, m.version_len);
    memcpy(s->digest, m.digest, sizeof s->digest);
    memcpy(s->signer, core->otp.anchor[anchor], sizeof s->signer);
    s->manifest_len = len;
    memcpy(s->manifest, manifest, len);
    if ((st = (apm_status)drot_sha256_init(&s->sha)) != APM_OK) {
        drot_sha256_release(&s->sha);
        drot_wipe(s, sizeof *s);
        return st;
    }
    s->open = APM_VERDICT_PASS;
    if (comp == (int32_t)APM_SVN_APM && mode == DROT_LINK_FW_MODE_INSTALL) {
        /* boot.h B4: the slot reads empty before any image byte changes. */
        if ((st = apm_boot_slot_clear(core, s->slot)) != APM_OK) {
            session_close(fw);
            return refuse(fw, st, "erasing the inactive slot failed");
        }
    }
    out->size = m.size;
    out->chunk = DROT_LINK_FW_CHUNK_MAX;
    return APM_OK;
}

/* ---- CHUNK -------------------------------------------------------------------- */

/* Programs data[0..len) at image offset off of slot, erasing each sector as
 * the data first reaches it (the session writes in order, F3). */
static apm_status write_image(const apm_hal *hal, uint32_t slot, uint32_t off, const uint8_t *data,
                              size_t len)
{
    uint32_t base = APM_FW_SLOT_IMAGE(slot) * APM_FLASH_SECTOR_SIZE;
    while (len > 0) {
        uint32_t in_sector = off % APM_FLASH_SECTOR_SIZE;
        uint32_t n = APM_FLASH_SECTOR_SIZE - in_sector;
        apm_hal_status hs;
        if (n > len)
            n = (uint32_t)len;
        if (in_sector == 0 &&
            (hs = hal->flash_erase(hal->ctx, APM_FW_SLOT_IMAGE(slot) + off / APM_FLASH_SECTOR_SIZE)) !=
                APM_HAL_OK)
            return apm_from_hal(hs);
        if ((hs = hal->flash_program(hal->ctx, base + off, data, n)) != APM_HAL_OK)
            return apm_from_hal(hs);
        off += n;
        data += n;
        len -= n;
    }
    return APM_OK;
}

/* see fwinstall.h */
apm_status apm_fw_chunk(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, uint32_t offset,
                        const uint8_t *data, size_t len, uint32_t *received)
{
    apm_status st;

    if (!env_ok(core, env, fw) || data == NULL || len == 0 || received == NULL)
        return APM_E_ARG;
    fw->why = NULL;
    if ((st = gates(core, env, fw)) != APM_OK)
        return st;
    apm_fw_session *s = &fw->sess;
    if (!session_open(fw))
        return refuse(fw, APM_E_FW_STATE, "no install open: send FW_BEGIN first");
    if (offset != s->received)
        return refuse(fw, APM_E_FW_ORDER, "chunk not at the next offset (a gap or an overlap)");
    if (len > s->size - s->received)
        return refuse(fw, APM_E_IMAGE, "more bytes than the manifest's size");
    if ((st = (apm_status)drot_sha256_update(&s->sha, data, len)) != APM_OK) {
        session_close(fw);
        return st;
    }
    if (s->component == APM_SVN_APM && s->mode == DROT_LINK_FW_MODE_INSTALL &&
        (st = write_image(core->hal, s->slot, s->received, data, len)) != APM_OK) {
        session_close(fw); /* the slot's content is unknown: start again with BEGIN */
        return refuse(fw, st, "writing the image failed");
    }
    s->received += (uint32_t)len;
    *received = s->received;
    return APM_OK;
}

/* ---- FINISH ------------------------------------------------------------------- */

static void image_of(const apm_fw_session *s, drot_link_fw_image *out)
{
    memset(out, 0, sizeof *out);
    const char *name = component_name(s->component, &out->component_len);
    memcpy(out->component, name, out->component_len);
    out->version_len = s->version_len;
    memcpy(out->version, s->version, s->version_len);
    out->svn = s->svn;
    memcpy(out->digest, s->digest, sizeof out->digest);
    memcpy(out->signer, s->signer, sizeof out->signer);
}

/* F4 for an APM image: into the slot, read back, verified as boot would,
 * then PENDING. */
static apm_status stage_apm(apm_core *core, apm_fw_state *fw, const apm_fw_session *s)
{
    apm_boot_state b;
    apm_status st = apm_boot_slot_seal(core, s->slot, s->manifest, (uint32_t)s->manifest_len);
    if (st != APM_OK)
        return refuse(fw, st, "writing the manifest into the slot failed");
    apm_boot_verify_slot(core, s->slot, &b);
    if (b.verdict != APM_VERDICT_PASS || drot_ct_equal(b.digest, s->digest, sizeof b.digest) != DROT_OK ||
        b.svn != s->svn) {
        apm_status why = b.reason != APM_OK ? b.reason : APM_E_IMAGE;
        st = apm_boot_slot_clear(core, s->slot); /* never leave a slot boot would refuse looking staged */
        if (st == APM_E_POWER)
            return st;
        return refuse(fw, why, "the staged slot does not verify when read back");
    }
    apm_fw_record next = fw->rec;
    next.trial = APM_FW_TRIAL_PENDING;
    next.last = APM_FW_LAST_NONE;
    if ((st = apm_fw_record_write(core, &next)) != APM_OK)
        return refuse(fw, st, "writing the firmware-state record failed");
    fw->rec = next;
    return APM_OK;
}

/* F4 for a host image: the pending entry (replacing one for the same
 * component). */
static apm_status record_host(apm_core *core, apm_fw_state *fw, const apm_fw_session *s)
{
    apm_fw_record next = fw->rec;
    size_t i = 0;
    while (i < next.n_host && next.host[i].component != s->component)
        i++;
    if (i == next.n_host) {
        if (next.n_host >= APM_FW_HOST_MAX)
            return refuse(fw, APM_E_FULL, "no room for another pending host image");
        next.n_host++;
    }
    apm_fw_host_entry *e = &next.host[i];
    memset(e, 0, sizeof *e);
    e->component = s->component;
    e->svn = s->svn;
    e->version_len = s->version_len;
    memcpy(e->version, s->version, s->version_len);
    memcpy(e->digest, s->digest, sizeof e->digest);
    memcpy(e->signer, s->signer, sizeof e->signer);
    apm_status st = apm_fw_record_write(core, &next);
    if (st != APM_OK)
        return refuse(fw, st, "writing the firmware-state record failed");
    fw->rec = next;
    return APM_OK;
}

/* see fwinstall.h */
apm_status apm_fw_finish(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, drot_link_fw_image *out)
{
    uint8_t digest[DROT_SHA256_LEN];
    apm_status st;

    if (!env_ok(core, env, fw) || out == NULL)
        return APM_E_ARG;
    fw->why = NULL;
    memset(out, 0, sizeof *out);
    if ((st = gates(core, env, fw)) != APM_OK)
        return st;
    if (!session_open(fw))
        return refuse(fw, APM_E_FW_STATE, "no install open: send FW_BEGIN first");
    const apm_fw_session *s = &fw->sess; /* closed below, whatever the outcome */
    st = (apm_status)drot_sha256_final(&fw->sess.sha, digest);
    if (st != APM_OK)
        goto out;
    if (s->received != s->size) {
        st = refuse(fw, APM_E_IMAGE, "fewer bytes than the manifest's size");
        goto out;
    }
    if (drot_ct_equal(digest, s->digest, sizeof digest) != DROT_OK) {
        st = refuse(fw, APM_E_IMAGE, "the image's SHA-256 is not the manifest's digest");
        goto out;
    }
    if (s->mode == DROT_LINK_FW_MODE_INSTALL)
        st = s->component == APM_SVN_APM ? stage_apm(core, fw, s) : record_host(core, fw, s);
    if (st == APM_OK)
        image_of(s, out);
out:
    session_close(fw);
    return st;
}

/* ---- CONFIRM ------------------------------------------------------------------ */

/* Raises svn[comp] to `to` (no-op when the fuse is there already). */
static apm_status raise_fuse(apm_core *core, uint32_t comp, uint32_t to)
{
    if (core->otp.svn[comp] >= to)
        return APM_OK;
    apm_status st = apm_otp_raise_svn(core->hal, comp, to);
    apm_status reload = apm_core_load_otp(core); /* otp.h O4 */
    return st != APM_OK ? st : reload;
}

/* F6, "APM": the running trial becomes the active slot (S2), then the fuse
 * rises to its SVN (S3; a boot completes it after a cut). */
static apm_status confirm_apm(apm_core *core, const apm_fw_env *env, apm_fw_state *fw)
{
    if (fw->rec.trial != APM_FW_TRIAL_TRYING || fw->running == fw->rec.active ||
        env->boot->slot != fw->running)
        return refuse(fw, APM_E_FW_STATE, "no APM image on trial in this boot: nothing to confirm");
    apm_fw_record next = fw->rec;
    next.active = fw->running;
    next.trial = APM_FW_TRIAL_NONE;
    next.last = APM_FW_LAST_CONFIRMED;
    next.raise = true;
    next.raise_svn = env->boot->svn;
    apm_status st = apm_fw_record_write(core, &next);
    if (st != APM_OK)
        return refuse(fw, st, "writing the firmware-state record failed");
    fw->rec = next;
    if ((st = raise_fuse(core, APM_SVN_APM, env->boot->svn)) != APM_OK)
        return refuse(fw, st, "raising the svn fuse failed (the next boot completes it)");
    return APM_OK;
}

/* Is the measurement table holding component name with exactly digest? */
static bool measured(const apm_measurements *t, const char *name, size_t len, const uint8_t digest[32])
{
    bool found = false;
    for (size_t i = 0; i < t->count && i < APM_MEASURE_MAX; i++) {
        const apm_measurement *m = &t->m[i];
        if (strlen(m->type) == len && memcmp(m->type, name, len) == 0 &&
            drot_ct_equal(m->digest, digest, 32) == DROT_OK)
            found = true;
    }
    return found;
}

/* F6, a host component: measured this boot, then the fuse, then the entry
 * removed (a cut in between: a retry raises nothing and removes it). */
static apm_status confirm_host(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, uint32_t comp,
                               const char *name, size_t len)
{
    size_t i = 0;
    while (i < fw->rec.n_host && fw->rec.host[i].component != comp)
        i++;
    if (i == fw->rec.n_host)
        return refuse(fw, APM_E_FW_STATE, "no verified image of this component is pending: install it first");
    const apm_fw_host_entry *e = &fw->rec.host[i];
    if (!measured(env->meas, name, len, e->digest))
        return refuse(fw, APM_E_NOT_MEASURED,
                      "this boot's measurements do not hold the verified image: boot it, then confirm");
    apm_status st = raise_fuse(core, comp, e->svn);
    if (st != APM_OK)
        return refuse(fw, st, "raising the svn fuse failed");
    apm_fw_record next = fw->rec;
    next.host[i] = next.host[next.n_host - 1u];
    memset(&next.host[next.n_host - 1u], 0, sizeof next.host[0]);
    next.n_host--;
    if ((st = apm_fw_record_write(core, &next)) != APM_OK)
        return refuse(fw, st, "writing the firmware-state record failed (the fuse is raised)");
    fw->rec = next;
    return APM_OK;
}

/* see fwinstall.h */
apm_status apm_fw_confirm(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, const char *name,
                          size_t len, uint32_t *svn)
{
    apm_status st;
    if (!env_ok(core, env, fw) || name == NULL || svn == NULL)
        return APM_E_ARG;
    fw->why = NULL;
    if ((st = gates(core, env, fw)) != APM_OK)
        return st;
    int32_t comp = apm_fw_component_index(name, len);
    if (comp == FW_NO_COMPONENT)
        return refuse(fw, APM_E_COMPONENT, "unknown component: APM, HOST-BL or HOST-OS");
    st = comp == (int32_t)APM_SVN_APM ? confirm_apm(core, env, fw)
                                      : confirm_host(core, env, fw, (uint32_t)comp, name, len);
    *svn = core->otp.svn[comp];
    return st;
}

/* ---- ACTIVATE ----------------------------------------------------------------- */

/* see fwinstall.h */
apm_status apm_fw_activate(apm_core *core, const apm_fw_env *env, apm_fw_state *fw, uint32_t action,
                           bool *reset)
{
    apm_status st;
    if (!env_ok(core, env, fw) || reset == NULL)
        return APM_E_ARG;
    *reset = false;
    fw->why = NULL;
    if ((st = gates(core, env, fw)) != APM_OK)
        return st;
    if (action == DROT_LINK_FW_ACTIVATE_TRIAL) {
        if (fw->rec.trial != APM_FW_TRIAL_PENDING)
            return refuse(fw, APM_E_FW_STATE, "no APM image is staged: install one first");
        session_close(fw);
        *reset = true; /* the boot after the reset runs the trial (S1) */
        return APM_OK;
    }
    if (action != DROT_LINK_FW_ACTIVATE_ABORT)
        return refuse(fw, APM_E_ARG, "unknown FW_ACTIVATE action");
    if (fw->rec.trial == APM_FW_TRIAL_NONE)
        return refuse(fw, APM_E_FW_STATE, "no APM image is staged or on trial: nothing to abort");
    apm_fw_record next = fw->rec;
    next.trial = APM_FW_TRIAL_NONE;
    next.last = APM_FW_LAST_ABORTED;
    if ((st = apm_fw_record_write(core, &next)) != APM_OK)
        return refuse(fw, st, "writing the firmware-state record failed");
    fw->rec = next;
    *reset = fw->running != fw->rec.active; /* leave the trial image for the old slot */
    return APM_OK;
}

/* ---- STATUS ------------------------------------------------------------------- */

/* see fwinstall.h */
apm_status apm_fw_status(apm_core *core, const apm_fw_state *fw, drot_link_fw_status *out)
{
    apm_boot_state b;
    if (core == NULL || fw == NULL || out == NULL)
        return APM_E_ARG;
    memset(out, 0, sizeof *out);
    out->running = fw->running;
    out->active = fw->rec.active;
    out->trial = fw->rec.trial;
    out->last = fw->rec.last;
    for (uint32_t i = 0; i < APM_FW_SLOTS; i++) {
        drot_link_fw_slot *sl = &out->slots[i];
        apm_boot_verify_slot(core, i, &b); /* boot.h B2: reads only */
        sl->status = b.verdict == APM_VERDICT_PASS ? 0 : (b.reason != APM_OK ? b.reason : APM_E_BOOT);
        sl->version_len = strlen(b.version);
        memcpy(sl->version, b.version, sl->version_len);
        sl->svn = b.svn;
        memcpy(sl->digest, b.digest, sizeof sl->digest);
    }
    for (uint32_t c = 0; c < 3; c++) {
        out->svns[out->num_svns].component = c;
        out->svns[out->num_svns].svn = core->otp.svn[c];
        out->num_svns++;
    }
    for (size_t i = 0; i < fw->rec.n_host && i < DROT_LINK_FW_PENDING_MAX; i++) {
        const apm_fw_host_entry *e = &fw->rec.host[i];
        drot_link_fw_image *p = &out->pending[i];
        const char *name = component_name(e->component, &p->component_len);
        memcpy(p->component, name, p->component_len);
        p->version_len = e->version_len;
        memcpy(p->version, e->version, e->version_len);
        p->svn = e->svn;
        memcpy(p->digest, e->digest, sizeof p->digest);
        memcpy(p->signer, e->signer, sizeof p->signer);
        out->num_pending++;
    }
    if (session_open(fw)) {
        const char *name = component_name(fw->sess.component, &out->session_component_len);
        memcpy(out->session_component, name, out->session_component_len);
        out->session_mode = fw->sess.mode;
        out->session_received = fw->sess.received;
        out->session_size = fw->sess.size;
    }
    return APM_OK;
}
