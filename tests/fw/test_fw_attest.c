/*
 * test_fw_attest.c — attestation tokens (fw/src/attest.c; attest.h;
 * docs/token.md; docs/apm-boot.md "Tokens").
 *
 * Every token is checked the way a verifier checks it: the COSE_Sign1
 * signature under the DRK public key (drot_cose_sign1_verify_msg), then the
 * claims (drot_eat_decode). The cross-backend test hands a token to the
 * other crypto backend's drot-xcheck tool (DROT_XCHECK_OTHER): built with
 * BearSSL, this proves the firmware's tokens verify under OpenSSL.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "fw_test_util.h"
#include "otp.h"

#ifndef DROT_XCHECK_OTHER
#error "DROT_XCHECK_OTHER (path of the other backend's drot-xcheck tool) must be defined"
#endif

static uint8_t g_nonce[64];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof g_nonce; i++)
        g_nonce[i] = (uint8_t)(0x80 + i);
    return 0;
}

/* A verified, decoded token. */
typedef struct token {
    uint8_t buf[FWT_TOKEN_CAP];
    size_t len;
    drot_cose_sign1_view view;
    drot_eat_claims c;
} token;

static apm_status make_token(fwt_dev *d, size_t nonce_len, uint32_t profile, token *t)
{
    apm_status st;
    memset(t, 0, sizeof *t);
    t->len = 777;
    st = fwt_token(d, g_nonce, nonce_len, profile, t->buf, sizeof t->buf, &t->len);
    if (st != APM_OK) {
        assert_int_equal(t->len, 0);
        return st;
    }
    assert_int_equal(drot_cose_sign1_verify_msg(t->buf, t->len, &d->core.drk.pub, NULL, 0, &t->view),
                     DROT_OK);
    assert_int_equal(drot_eat_decode(t->view.payload, t->view.payload_len, &t->c), DROT_OK);
    return st;
}

static bool text_eq(drot_eat_text t, const char *s)
{
    return t.p != NULL && t.len == strlen(s) && memcmp(t.p, s, t.len) == 0;
}

/* Test 1: a token in each profile with a 32-, 48- and 64-byte nonce / it
 * verifies with the DRK public key and decodes; its nonce is the one asked
 * for; instance id = 0x01 ‖ SHA-256(DRK pub) and is also the kid;
 * implementation id = SHA-256("drot-apm sim-1"); client id 1; the boot seed
 * is this boot's; the profile is the one asked for. */
static void test_tokens_verify_and_carry_the_inputs(void **state)
{
    static const size_t lens[] = {32, 48, 64};
    static const uint32_t profiles[] = {DROT_EAT_PROFILE_PSA, DROT_EAT_PROFILE_DROT};
    uint8_t ueid[33], impl[32];
    fwt_dev d;
    token t;
    (void)state;

    fwt_create_good(&d);
    ueid[0] = 0x01;
    assert_int_equal(drot_sha256(d.core.drk.pub.q, 65, ueid + 1), DROT_OK);
    assert_int_equal(drot_sha256("drot-apm sim-1", 14, impl), DROT_OK);
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(make_token(&d, lens[i], profiles[p], &t), APM_OK);
            assert_true(t.view.tagged);
            assert_int_equal(t.c.profile, profiles[p]);
            assert_int_equal(t.c.nonce.len, lens[i]);
            assert_memory_equal(t.c.nonce.p, g_nonce, lens[i]);
            assert_int_equal(t.c.instance_id.len, 33);
            assert_memory_equal(t.c.instance_id.p, ueid, 33);
            assert_int_equal(t.view.kid_len, 33);
            assert_memory_equal(t.view.kid, ueid, 33);
            assert_int_equal(t.c.implementation_id.len, 32);
            assert_memory_equal(t.c.implementation_id.p, impl, 32);
            assert_int_equal(t.c.client_id, 1);
            assert_int_equal(t.c.boot_seed.len, 32);
            assert_memory_equal(t.c.boot_seed.p, d.boot_seed, 32);
        }
    }
    fwt_destroy(&d);
}

/* Test 2: the same device before and after a reboot / the boot seed changes
 * with the boot and stays within one; the instance id does not change. */
static void test_boot_seed_per_boot(void **state)
{
    static token a, b, c;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &a), APM_OK);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &b), APM_OK);
    assert_memory_equal(a.c.boot_seed.p, b.c.boot_seed.p, 32);
    assert_int_equal(fwt_reboot(&d), APM_OK);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &c), APM_OK);
    assert_memory_not_equal(a.c.boot_seed.p, c.c.boot_seed.p, 32);
    assert_memory_equal(a.c.instance_id.p, c.c.instance_id.p, 33);
    fwt_destroy(&d);
}

/* Test 3: lifecycle fuses PROVISIONED and DEPLOYED / 0x2000 and 0x3000 in
 * the token; DECOMMISSIONED / refused (APM_E_LIFECYCLE), nothing signed. */
static void test_lifecycle_maps(void **state)
{
    static token t;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    assert_int_equal(d.core.otp.lifecycle, APM_LC_PROVISIONED);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_PSA, &t), APM_OK);
    assert_int_equal(t.c.security_lifecycle, 0x2000);
    assert_int_equal(apm_otp_set_lifecycle(&d.sim.hal, APM_LC_DEPLOYED), APM_OK);
    assert_int_equal(fwt_reboot(&d), APM_OK);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_PSA, &t), APM_OK);
    assert_int_equal(t.c.security_lifecycle, 0x3000);
    assert_int_equal(drot_eat_lifecycle_class(t.c.security_lifecycle), DROT_EAT_LC_SECURED);
    assert_int_equal(apm_otp_set_lifecycle(&d.sim.hal, APM_LC_DECOMMISSIONED), APM_OK);
    assert_int_equal(fwt_reboot(&d), APM_OK);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_E_LIFECYCLE);
    fwt_destroy(&d);
}

/* Test 4: measurements APM, HOST-BL, HOST-OS, then a component without a
 * fuse ("HOST-APP"); svn fuses APM 1, HOST-BL 2, HOST-OS 3 and epoch 0;
 * then the fuses raised (HOST-BL → 5, HOST-OS → 9, epoch → 2) /
 * the components appear in order with their type, digest, version, signer
 * and "sha-256"; the SVN map holds indices 0, 1, 2 with the fuse values,
 * and follows the fuses when they rise, and so does the epoch. */
static void test_measurements_svns_epoch(void **state)
{
    static const char *const types[] = {"APM", "HOST-BL", "HOST-OS", "HOST-APP"};
    static const char *const versions[] = {"1.2.3", "bl-7", "os-2024.1", "app-1"};
    static token t;
    uint8_t dg[32], sg[32];
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    memset(sg, 0x5e, sizeof sg);
    for (size_t i = 1; i < 4; i++) {
        memset(dg, (int)(0x10 * i), sizeof dg);
        assert_int_equal(apm_measure_add(&d.meas, types[i], strlen(types[i]), versions[i],
                                         strlen(versions[i]), dg, sg, NULL),
                         APM_OK);
    }
    assert_int_equal(apm_otp_raise_svn(&d.sim.hal, APM_SVN_APM, 1), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&d.sim.hal, APM_SVN_HOST_BL, 2), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&d.sim.hal, APM_SVN_HOST_OS, 3), APM_OK);
    assert_int_equal(apm_core_load_otp(&d.core), APM_OK);

    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_OK);
    assert_int_equal(t.c.num_components, 4);
    for (size_t i = 0; i < 4; i++) {
        const drot_eat_sw_component *sc = &t.c.components[i];
        assert_true(text_eq(sc->measurement_type, types[i]));
        assert_true(text_eq(sc->version, versions[i]));
        assert_true(text_eq(sc->measurement_desc, "sha-256"));
        assert_int_equal(sc->measurement_value.len, 32);
        assert_int_equal(sc->signer_id.len, 32);
        if (i == 0) {
            assert_memory_equal(sc->measurement_value.p, d.boot.digest, 32);
            assert_memory_equal(sc->signer_id.p, d.boot.signer_id, 32);
        } else {
            memset(dg, (int)(0x10 * i), sizeof dg);
            assert_memory_equal(sc->measurement_value.p, dg, 32);
            assert_memory_equal(sc->signer_id.p, sg, 32);
        }
    }
    assert_int_equal(t.c.drot.num_svns, 3);
    assert_int_equal(t.c.drot.svns[0].component, 0);
    assert_int_equal(t.c.drot.svns[0].svn, 1);
    assert_int_equal(t.c.drot.svns[1].component, 1);
    assert_int_equal(t.c.drot.svns[1].svn, 2);
    assert_int_equal(t.c.drot.svns[2].component, 2);
    assert_int_equal(t.c.drot.svns[2].svn, 3);
    assert_int_equal(t.c.drot.epoch, 0);
    assert_memory_equal(t.c.drot.device_id.p, FWT_DEVICE_ID, 16);

    /* The key store holds an epoch-0 key; raising the epoch fuse here only
     * exercises the claim (the next boot would discard that key). */
    assert_int_equal(apm_otp_raise_svn(&d.sim.hal, APM_SVN_HOST_BL, 5), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&d.sim.hal, APM_SVN_HOST_OS, 9), APM_OK);
    assert_int_equal(apm_otp_raise_epoch(&d.sim.hal, 2), APM_OK);
    assert_int_equal(apm_core_load_otp(&d.core), APM_OK);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_OK);
    assert_int_equal(t.c.drot.svns[0].svn, 1);
    assert_int_equal(t.c.drot.svns[1].svn, 5);
    assert_int_equal(t.c.drot.svns[2].svn, 9);
    assert_int_equal(t.c.drot.epoch, 2);
    fwt_destroy(&d);
}

/* Test 5: a psa-profile token / it decodes as psa (whose closed claims map
 * refuses every drot claim), its drot claims are zero, and the device id's
 * bytes appear nowhere in it; the drot token of the same device does carry
 * them, and its component array is the psa token's byte for byte. */
static void test_psa_has_no_drot_claims(void **state)
{
    static token p, q;
    fwt_dev d;
    drot_eat_drot_claims zero;
    (void)state;

    fwt_create_good(&d);
    memset(&zero, 0, sizeof zero);
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_PSA, &p), APM_OK);
    assert_int_equal(p.c.profile, DROT_EAT_PROFILE_PSA);
    assert_memory_equal(&p.c.drot, &zero, sizeof zero);
    assert_null(memmem(p.buf, p.len, FWT_DEVICE_ID, sizeof FWT_DEVICE_ID));

    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &q), APM_OK);
    assert_non_null(memmem(q.buf, q.len, FWT_DEVICE_ID, sizeof FWT_DEVICE_ID));
    assert_int_equal(p.c.num_components, q.c.num_components);
    assert_memory_equal(p.c.components[0].measurement_value.p, q.c.components[0].measurement_value.p, 32);
    fwt_destroy(&d);
}

/* Test 6: nonce lengths 0, 1, 31, 33, 47, 63, 65 and a NULL nonce; profiles
 * 0 and 3 / DROT_E_ARG, *out_len 0, nothing written to out. */
static void test_bad_nonce_and_profile_refused(void **state)
{
    static const size_t bad[] = {0, 1, 31, 33, 47, 63, 65};
    uint8_t out[FWT_TOKEN_CAP], ref[FWT_TOKEN_CAP];
    size_t len;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    memset(out, 0xEE, sizeof out);
    memset(ref, 0xEE, sizeof ref);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        len = 5;
        assert_int_equal(fwt_token(&d, g_nonce, bad[i], DROT_EAT_PROFILE_DROT, out, sizeof out, &len),
                         DROT_E_ARG);
        assert_int_equal(len, 0);
    }
    len = 5;
    assert_int_equal(fwt_token(&d, NULL, 32, DROT_EAT_PROFILE_DROT, out, sizeof out, &len), DROT_E_ARG);
    assert_int_equal(fwt_token(&d, g_nonce, 32, 0, out, sizeof out, &len), DROT_E_ARG);
    assert_int_equal(fwt_token(&d, g_nonce, 32, 3, out, sizeof out, &len), DROT_E_ARG);
    assert_int_equal(len, 0);
    assert_memory_equal(out, ref, sizeof out);
    fwt_destroy(&d);
}

/* Test 7: an output buffer one byte short, and a (NULL, 0) call / both
 * DROT_E_BUFFER with *out_len = the size needed; a buffer of exactly that
 * size gives a token of that size, which verifies. */
static void test_buffer_too_small(void **state)
{
    static uint8_t out[FWT_TOKEN_CAP];
    drot_cose_sign1_view view;
    size_t need = 0, len = 0;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    assert_int_equal(fwt_token(&d, g_nonce, 32, DROT_EAT_PROFILE_DROT, NULL, 0, &need), DROT_E_BUFFER);
    assert_true(need > 100 && need <= FWT_TOKEN_CAP);
    assert_int_equal(fwt_token(&d, g_nonce, 32, DROT_EAT_PROFILE_DROT, out, need - 1, &len), DROT_E_BUFFER);
    assert_int_equal(len, need);
    len = 0;
    assert_int_equal(fwt_token(&d, g_nonce, 32, DROT_EAT_PROFILE_DROT, out, need, &len), APM_OK);
    assert_int_equal(len, need);
    assert_int_equal(drot_cose_sign1_verify_msg(out, len, &d.core.drk.pub, NULL, 0, &view), DROT_OK);
    fwt_destroy(&d);
}

/* Test 8: the refusal order. All four conditions at once (lifecycle
 * MANUFACTURING, boot verdict FAIL, key use locked, no DRK), then removed
 * one at a time / APM_E_NOT_PROVISIONED, APM_E_BOOT, APM_E_LOCKED,
 * APM_E_NO_KEY, then a token. A verdict one bit away from PASS is a FAIL.
 * A bad nonce with a refusal pending reports the refusal. */
static void test_refusal_order(void **state)
{
    static token t;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    d.core.otp.lifecycle = APM_LC_MANUFACTURING;
    d.boot.verdict = APM_VERDICT_FAIL;
    d.tamper.locked = true;
    d.core.drk.present = false;
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_E_NOT_PROVISIONED);
    assert_int_equal(fwt_token(&d, g_nonce, 31, 9, t.buf, sizeof t.buf, &t.len), APM_E_NOT_PROVISIONED);

    d.core.otp.lifecycle = APM_LC_PROVISIONED;
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_E_BOOT);
    d.boot.verdict = APM_VERDICT_PASS ^ 0x100u;
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_E_BOOT);

    d.boot.verdict = APM_VERDICT_PASS;
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_E_LOCKED);

    d.tamper.locked = false;
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_E_NO_KEY);
    assert_int_equal(fwt_token(&d, g_nonce, 31, 9, t.buf, sizeof t.buf, &t.len), APM_E_NO_KEY);

    d.core.drk.present = true;
    assert_int_equal(make_token(&d, 32, DROT_EAT_PROFILE_DROT, &t), APM_OK);
    fwt_destroy(&d);
}

/* Test 9: NULL core, inputs, input members or out_len, or a NULL out with a
 * non-zero cap / APM_E_ARG. */
static void test_arguments(void **state)
{
    uint8_t out[16];
    size_t len = 0;
    apm_attest_inputs in;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    in.boot = &d.boot;
    in.measurements = &d.meas;
    in.tamper = &d.tamper;
    in.boot_seed = d.boot_seed;
    assert_int_equal(apm_attest_token(NULL, &in, g_nonce, 32, 2, out, sizeof out, &len), APM_E_ARG);
    assert_int_equal(apm_attest_token(&d.core, NULL, g_nonce, 32, 2, out, sizeof out, &len), APM_E_ARG);
    assert_int_equal(apm_attest_token(&d.core, &in, g_nonce, 32, 2, out, sizeof out, NULL), APM_E_ARG);
    assert_int_equal(apm_attest_token(&d.core, &in, g_nonce, 32, 2, NULL, 5, &len), APM_E_ARG);
    in.boot_seed = NULL;
    assert_int_equal(apm_attest_token(&d.core, &in, g_nonce, 32, 2, out, sizeof out, &len), APM_E_ARG);
    in.boot_seed = d.boot_seed;
    in.measurements = NULL;
    assert_int_equal(apm_attest_token(&d.core, &in, g_nonce, 32, 2, out, sizeof out, &len), APM_E_ARG);
    fwt_destroy(&d);
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Runs the other backend's "cose-verify PUB - MSG" and returns its first
 * output line ("ok" or "fail") in line[0..cap). */
static void other_verify(const drot_p256_pub *pub, const uint8_t *msg, size_t len, char *line, size_t cap)
{
    static char cmd[2 * FWT_TOKEN_CAP + 1024];
    char pubhex[2 * DROT_P256_PUB_LEN + 1];
    static char msghex[2 * FWT_TOKEN_CAP + 1];
    FILE *f;
    int n, status;

    to_hex(pub->q, sizeof pub->q, pubhex);
    to_hex(msg, len, msghex);
    n = snprintf(cmd, sizeof cmd, "'%s' cose-verify %s - %s", DROT_XCHECK_OTHER, pubhex, msghex);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    f = popen(cmd, "r");
    assert_non_null(f);
    if (fgets(line, (int)cap, f) == NULL)
        line[0] = '\0';
    status = pclose(f);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    line[strcspn(line, "\n")] = '\0';
}

/* Test 10: tokens of both profiles made by this build's backend, given to
 * the other backend's tool / "ok"; the same token with one payload byte
 * changed, and under another key / "fail" (so the check can fail). In the
 * bearssl build this is the firmware → server direction. */
static void test_other_backend_verifies(void **state)
{
    static token t;
    char line[64];
    drot_p256_pub other;
    fwt_dev d;
    (void)state;

    fwt_create_good(&d);
    for (uint32_t p = DROT_EAT_PROFILE_PSA; p <= DROT_EAT_PROFILE_DROT; p++) {
        assert_int_equal(make_token(&d, 64, p, &t), APM_OK);
        other_verify(&d.core.drk.pub, t.buf, t.len, line, sizeof line);
        assert_string_equal(line, "ok");
    }
    t.buf[t.len - 70] ^= 0x01; /* inside the payload, before the signature */
    other_verify(&d.core.drk.pub, t.buf, t.len, line, sizeof line);
    assert_string_equal(line, "fail");
    t.buf[t.len - 70] ^= 0x01;
    fwt_key(0, NULL, &other, NULL);
    other_verify(&other, t.buf, t.len, line, sizeof line);
    assert_string_equal(line, "fail");
    fwt_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_verify_and_carry_the_inputs),
        cmocka_unit_test(test_boot_seed_per_boot),
        cmocka_unit_test(test_lifecycle_maps),
        cmocka_unit_test(test_measurements_svns_epoch),
        cmocka_unit_test(test_psa_has_no_drot_claims),
        cmocka_unit_test(test_bad_nonce_and_profile_refused),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_refusal_order),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_other_backend_verifies),
    };
    return cmocka_run_group_tests(tests, setup, fwt_group_teardown);
}
