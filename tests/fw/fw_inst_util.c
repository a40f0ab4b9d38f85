/*
 * fw_inst_util.c — see fw_inst_util.h. Test code: OS and malloc allowed.
 */
#define _GNU_SOURCE
#include "fw_inst_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/manifest.h"
#include "layout.h"

#define FWI_MAX_IMAGE (64u * 1024u)

const uint8_t *fwi_image(int v, size_t len)
{
    static uint8_t img[4][FWI_MAX_IMAGE];
    assert_true(v >= 1 && v <= 4 && len <= FWI_MAX_IMAGE);
    for (size_t i = 0; i < len; i++)
        img[v - 1][i] = (uint8_t)(i * (13u + 2u * (unsigned)v) + (i >> 9) + 0x5au * (unsigned)v);
    return img[v - 1];
}

void fwi_digest(const uint8_t *img, size_t len, uint8_t digest[32])
{
    assert_int_equal(drot_sha256(img, len, digest), DROT_OK);
}

size_t fwi_manifest(int k, const char *component, const char *version, uint32_t svn, const uint8_t *img,
                    size_t len, uint8_t *out, size_t cap)
{
    uint8_t digest[32];
    fwi_digest(img, len, digest);
    return fwt_manifest(k, component, version, svn, digest, (uint32_t)len, out, cap);
}

apm_fw_env fwi_env(fwt_dev *d)
{
    apm_fw_env env = {&d->boot, &d->tamper, &d->meas};
    return env;
}

apm_status fwi_session(fwt_dev *d, uint32_t mode, const uint8_t *manifest, size_t mlen, const uint8_t *img,
                       size_t ilen, size_t chunk, drot_link_fw_image *out)
{
    apm_fw_env env = fwi_env(d);
    drot_link_fw_begin_resp r;
    drot_link_fw_image scratch;
    apm_status st = apm_fw_begin(&d->core, &env, &d->fw, manifest, mlen, mode, &r);
    if (st != APM_OK)
        return st;
    if (chunk == 0)
        chunk = r.chunk;
    for (size_t off = 0; off < ilen; off += chunk) {
        size_t n = ilen - off < chunk ? ilen - off : chunk;
        uint32_t received = 0;
        st = apm_fw_chunk(&d->core, &env, &d->fw, (uint32_t)off, img + off, n, &received);
        if (st != APM_OK)
            return st;
        assert_int_equal(received, off + n);
    }
    return apm_fw_finish(&d->core, &env, &d->fw, out != NULL ? out : &scratch);
}

void fwi_status(fwt_dev *d, drot_link_fw_status *st)
{
    assert_int_equal(apm_fw_status(&d->core, &d->fw, st), APM_OK);
}

void fwi_update_apm(fwt_dev *d, const uint8_t *img, size_t len, const char *version, uint32_t svn)
{
    static uint8_t m[DROT_MANIFEST_SIGNED_MAX];
    drot_link_fw_image res;
    uint8_t digest[32];
    bool reset = false;
    uint32_t fuse = 0;
    uint32_t old = d->fw.running, next = old == APM_FW_SLOT_A ? APM_FW_SLOT_B : APM_FW_SLOT_A;

    fwi_digest(img, len, digest);
    size_t mlen = fwi_manifest(0, "APM", version, svn, img, len, m, sizeof m);
    assert_int_equal(fwi_session(d, DROT_LINK_FW_MODE_INSTALL, m, mlen, img, len, 0, &res), APM_OK);
    assert_int_equal(res.svn, svn);
    assert_memory_equal(res.digest, digest, 32);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_PENDING);
    assert_int_equal(d->fw.rec.active, old);

    apm_fw_env env = fwi_env(d);
    long w = d->sim.writes;
    assert_int_equal(apm_fw_activate(&d->core, &env, &d->fw, DROT_LINK_FW_ACTIVATE_TRIAL, &reset), APM_OK);
    assert_true(reset);
    assert_int_equal(d->sim.writes, w); /* the trial is already recorded: nothing to write */

    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->fw.running, next);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_TRYING);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
    assert_string_equal(d->boot.version, version);
    assert_memory_equal(d->meas.m[0].digest, digest, 32);

    env = fwi_env(d);
    assert_int_equal(apm_fw_confirm(&d->core, &env, &d->fw, "APM", 3, &fuse), APM_OK);
    assert_int_equal(fuse, svn);
    assert_int_equal(d->core.otp.svn[APM_SVN_APM], svn);
    assert_int_equal(d->fw.rec.active, next);
    assert_int_equal(d->fw.rec.last, APM_FW_LAST_CONFIRMED);

    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->fw.running, next);
    assert_int_equal(d->fw.rec.trial, APM_FW_TRIAL_NONE);
    assert_string_equal(d->boot.version, version);
}
