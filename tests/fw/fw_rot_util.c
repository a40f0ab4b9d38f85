/*
 * fw_rot_util.c — see fw_rot_util.h. Test code: OS and malloc allowed.
 */
#define _GNU_SOURCE
#include "fw_rot_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/rotate.h"

void fwr_extra_key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32])
{
    uint8_t d[32];
    drot_p256_priv p;
    drot_p256_pub q;
    assert_true(k >= 0 && k < 8);
    memset(d, 0x90 + 0x07 * k, sizeof d);
    d[0] = 0x3c;
    assert_int_equal(drot_p256_key_from_scalar(d, &p, &q), DROT_OK);
    if (priv != NULL)
        *priv = p;
    if (pub != NULL)
        *pub = q;
    if (hash != NULL)
        assert_int_equal(drot_sha256(q.q, sizeof q.q, hash), DROT_OK);
}

apm_rot_env fwr_env(fwt_dev *d)
{
    apm_rot_env env = {&d->boot, &d->tamper};
    return env;
}

void fwr_snap_take(fwt_dev *d, fwr_snap *s)
{
    size_t n = (size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE;
    memcpy(s->otp, d->sim.otp, sizeof s->otp);
    s->flash = malloc(n);
    assert_non_null(s->flash);
    memcpy(s->flash, d->sim.flash, n);
    s->writes = d->sim.writes;
}

void fwr_snap_expect_unchanged(fwt_dev *d, fwr_snap *s)
{
    size_t n = (size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE;
    assert_int_equal(d->sim.writes, s->writes);
    assert_memory_equal(d->sim.otp, s->otp, sizeof s->otp);
    assert_true(memcmp(d->sim.flash, s->flash, n) == 0);
    free(s->flash);
    s->flash = NULL;
}

static drot_status urandom_fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL)
        return DROT_E_RNG;
    size_t got = fread(out, 1, len, f);
    fclose(f);
    return got == len ? DROT_OK : DROT_E_RNG;
}

static const drot_rng g_rng = {urandom_fill, NULL};

void fwr_new_key(drot_p256_priv *priv, drot_p256_pub *pub)
{
    assert_int_equal(drot_p256_keygen(&g_rng, priv, pub), DROT_OK);
}

size_t fwr_root_instr(const drot_p256_priv *signer, const drot_p256_pub *signer_pub, const drot_p256_pub *drk,
                      const uint8_t device_id[16], uint64_t epoch, const uint8_t nonce[32],
                      const drot_p256_priv *keya, uint8_t *out, size_t cap)
{
    drot_rotate_root r;
    size_t len = 0;
    assert_int_equal(drot_rotate_root_seal(drk, keya, device_id, epoch, nonce, &g_rng, &r), DROT_OK);
    assert_int_equal(drot_rotate_root_sign(signer, signer_pub, &r, out, cap, &len), DROT_OK);
    return len;
}

size_t fwr_root_instr_for(fwt_dev *d, int k, const uint8_t nonce[32], const drot_p256_priv *keya,
                          uint8_t *out, size_t cap)
{
    drot_p256_priv priv;
    drot_p256_pub pub;
    fwt_key(k, &priv, &pub, NULL);
    return fwr_root_instr(&priv, &pub, &d->core.drk.pub, d->core.otp.device_id, d->core.otp.epoch, nonce,
                          keya, out, cap);
}

void fwr_expect_token(fwt_dev *d, const drot_p256_pub *pub, uint64_t epoch)
{
    static uint8_t tok[FWT_TOKEN_CAP];
    uint8_t nonce[32];
    size_t len = 0;
    drot_cose_sign1_view v;
    drot_eat_claims c;
    memset(nonce, 0x6e, sizeof nonce);
    assert_int_equal(fwt_token(d, nonce, sizeof nonce, 2, tok, sizeof tok, &len), APM_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(tok, len, pub, NULL, 0, &v), DROT_OK);
    assert_int_equal(drot_eat_decode(v.payload, v.payload_len, &c), DROT_OK);
    assert_int_equal(c.drot.epoch, epoch);
}

/* The receipt says what the device did. */
static void expect_receipt(fwt_dev *d, const uint8_t *receipt, size_t len, const drot_p256_pub *keya,
                           const uint8_t nonce[32], const uint8_t *signed_msg, size_t signed_len)
{
    drot_rotate_receipt rc;
    drot_cose_sign1_view v;
    uint8_t tbs[32];
    assert_int_equal(drot_rotate_receipt_verify(receipt, len, keya, &rc), DROT_OK);
    assert_memory_equal(rc.device_id, d->core.otp.device_id, 16);
    assert_int_equal(rc.new_epoch, d->core.otp.epoch);
    assert_memory_equal(rc.nonce, nonce, 32);
    assert_int_equal(drot_cose_sign1_decode(signed_msg, signed_len, &v), DROT_OK);
    assert_int_equal(drot_cose_sign1_tbs_digest(&v, NULL, 0, tbs), DROT_OK);
    assert_memory_equal(rc.instruction, tbs, 32);
}

drot_p256_pub fwr_rotate_server(fwt_dev *d, int k)
{
    static uint8_t msg[FWR_MSG_MAX], receipt[APM_ROT_MSG_MAX];
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_p256_priv keya;
    drot_p256_pub keya_pub;
    uint8_t nonce[32];
    size_t rlen = 0;
    uint32_t epoch = d->core.otp.epoch;

    memset(&rs, 0, sizeof rs);
    fwr_new_key(&keya, &keya_pub);
    assert_int_equal(apm_rot_nonce(&d->core, &env, &rs, nonce), APM_OK);
    size_t len = fwr_root_instr_for(d, k, nonce, &keya, msg, sizeof msg);
    assert_int_equal(apm_rot_root(&d->core, &env, &rs, msg, len, receipt, sizeof receipt, &rlen), APM_OK);
    assert_int_equal(d->core.otp.epoch, epoch + 1);
    assert_memory_equal(d->core.drk.pub.q, keya_pub.q, 65);
    expect_receipt(d, receipt, rlen, &keya_pub, nonce, msg, len);
    return keya_pub;
}

drot_p256_pub fwr_rotate_device(fwt_dev *d, int k)
{
    static uint8_t prop[APM_ROT_MSG_MAX], msg[FWR_MSG_MAX], receipt[APM_ROT_MSG_MAX];
    apm_rot_state rs;
    apm_rot_env env = fwr_env(d);
    drot_rotate_proposal p;
    drot_p256_priv auth;
    drot_p256_pub auth_pub, old = d->core.drk.pub;
    size_t plen = 0, len = 0, rlen = 0;
    uint32_t epoch = d->core.otp.epoch;

    memset(&rs, 0, sizeof rs);
    assert_int_equal(apm_rot_propose(&d->core, &env, &rs, prop, sizeof prop, &plen), APM_OK);
    /* The server's side: the proposal is the old DRK's and KeyA's. */
    assert_int_equal(drot_rotate_proposal_verify(prop, plen, &old, &p), DROT_OK);
    assert_memory_equal(p.device_id, d->core.otp.device_id, 16);
    assert_int_equal(p.epoch, epoch);
    fwt_key(k, &auth, &auth_pub, NULL);
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &p, msg, sizeof msg, &len), DROT_OK);
    assert_int_equal(apm_rot_endorse(&d->core, &env, &rs, msg, len, receipt, sizeof receipt, &rlen), APM_OK);
    assert_int_equal(d->core.otp.epoch, epoch + 1);
    assert_memory_equal(d->core.drk.pub.q, p.keya.q, 65);
    expect_receipt(d, receipt, rlen, &p.keya, p.nonce, msg, len);
    return p.keya;
}

/* ---- the sweep ---------------------------------------------------------------- */

static void file_io(const char *dir, const char *name, uint8_t *buf, size_t n, bool write)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, write ? "wb" : "rb");
    assert_non_null(f);
    size_t got = write ? fwrite(buf, 1, n, f) : fread(buf, 1, n, f);
    assert_int_equal(got, n);
    assert_int_equal(fclose(f), 0);
}

long fwr_sweep(const char *name, fwt_dev *d, fwr_op_fn op, fwr_check_fn check, void *arg)
{
    size_t flash_n = (size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE;
    uint8_t otp[APM_SIM_OTP_SIZE];
    uint8_t *flash = malloc(flash_n);
    assert_non_null(flash);

    fwt_power_off(d);
    file_io(d->dir, "otp.bin", otp, sizeof otp, false);
    file_io(d->dir, "flash.bin", flash, flash_n, false);
    fwt_boot(d);
    long w0 = d->sim.writes;
    assert_int_equal(op(d, arg), APM_OK);
    long writes = d->sim.writes - w0;
    assert_true(writes > 0);

    long cuts = 0;
    for (long n = 1; n <= writes; n++) {
        for (int t = 0; t < 2; t++) {
            bool torn = t == 1;
            fwt_power_off(d);
            file_io(d->dir, "otp.bin", otp, sizeof otp, true);
            file_io(d->dir, "flash.bin", flash, flash_n, true);
            assert_int_equal(fwt_boot(d), APM_OK);
            apm_sim_cut_after(&d->sim, n, torn);
            apm_status st = op(d, arg);
            if (d->sim.powered)
                fail_msg("sweep %s: cut at write %ld%s never happened", name, n, torn ? " (torn)" : "");
            if (!(st == APM_E_POWER || (st == APM_OK && n == writes && !torn)))
                fail_msg("sweep %s: cut at write %ld%s: op returned %d (%s)", name, n, torn ? " (torn)" : "",
                         (int)st, apm_status_str(st));
            apm_status boot = fwt_reboot(d);
            if (boot != APM_OK)
                fail_msg("sweep %s: boot after cut at write %ld%s: %s", name, n, torn ? " (torn)" : "",
                         apm_status_str(boot));
            check(d, n, torn, st, arg);
            cuts++;
        }
    }
    assert_int_equal(cuts, 2 * writes);
    printf("power-cut sweep %s: %ld writes, %ld cut points, all invariants held\n", name, writes, cuts);
    free(flash);
    return writes;
}
