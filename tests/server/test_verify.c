/*
 * test_verify.c — the attestation verifier (server/src/verify.c;
 * docs/verifier.md) on REAL tokens.
 *
 * Every token here is made by the APM firmware core running in-process on
 * the simulated hardware (tests/fw/fw_test_util.c): a device is
 * manufactured, its signed APM image verified at boot, the host stages
 * measured, and apm_attest_token signs with the device's DRK. Where a real
 * device refuses to sign what a test needs (a tamper bit set, a tampered
 * lifecycle: the APM signs nothing then), the test takes a real token's
 * claims, changes one, and signs it again with the same device's DRK, which
 * is what such a device would send if it could.
 *
 * The challenge and the TLS exporter are fixed per test; the nonce the
 * device signs is SHA-256(challenge ‖ exporter), as the agent computes it.
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

#include <cmocka.h>

#include "drot/cbor.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "fw_test_util.h"
#include "keystore.h"
#include "otp.h"
#include "verify.h"

/* Host-stage measurements every good device reports. */
static const char *const HOST_OS_GOOD = "1.3.0";
#define HOST_BL_BYTE 0xb1
#define HOST_OS_BYTE 0x05
#define HOST_SIGNER  0x5e

typedef struct fx {
    fwt_dev d;
    ds_device_record dev;
    ds_reference ref;
    uint8_t challenge[32];
    uint8_t exporter[32];
    uint8_t tok[FWT_TOKEN_CAP];
    size_t tok_len;
    bool has_prev_count; /* the stored tamper count of the previous attestation */
    uint64_t prev_count;
    ds_verify_result res;
} fx;

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 7 * i);
}

static void hex64(char out[65], const uint8_t b[32])
{
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The measurement table of a fresh boot plus HOST-BL and HOST-OS. */
static void measure(fx *f, const char *os_version, uint8_t os_byte)
{
    uint8_t dg[32], sg[32];
    apm_measure_reset(&f->d.meas);
    assert_int_equal(apm_measure_add(&f->d.meas, "APM", 3, f->d.boot.version, strlen(f->d.boot.version),
                                     f->d.boot.digest, f->d.boot.signer_id, NULL),
                     APM_OK);
    memset(sg, HOST_SIGNER, sizeof sg);
    memset(dg, HOST_BL_BYTE, sizeof dg);
    assert_int_equal(apm_measure_add(&f->d.meas, "HOST-BL", 7, "2.0.1", 5, dg, sg, NULL), APM_OK);
    memset(dg, os_byte, sizeof dg);
    assert_int_equal(apm_measure_add(&f->d.meas, "HOST-OS", 7, os_version, strlen(os_version), dg, sg, NULL),
                     APM_OK);
}

/* The class's reference values: the device's own APM image and signer,
 * the host stages' digests, minimum versions and SVNs. extra is spliced
 * into the components array (or ""). */
static void set_reference(fx *f, const char *extra, const char *tail)
{
    char doc[4096], apm_d[65], apm_s[65], bl_d[65], os_d[65], host_s[65], err[256];
    uint8_t b[32];
    int n;

    hex64(apm_d, f->d.boot.digest);
    hex64(apm_s, f->d.boot.signer_id);
    memset(b, HOST_BL_BYTE, 32);
    hex64(bl_d, b);
    memset(b, HOST_OS_BYTE, 32);
    hex64(os_d, b);
    memset(b, HOST_SIGNER, 32);
    hex64(host_s, b);
    n = snprintf(doc, sizeof doc,
                 "{\"class\":\"test-class\",\"components\":["
                 "{\"type\":\"APM\",\"digests\":[\"%s\"],\"signers\":[\"%s\"],\"min_version\":\"1.2.0\","
                 "\"min_svn\":1},"
                 "{\"type\":\"HOST-BL\",\"digests\":[\"%s\"],\"signers\":[\"%s\"],\"min_svn\":2},"
                 "{\"type\":\"HOST-OS\",\"digests\":[\"%s\"],\"signers\":[],\"min_version\":\"1.3.0\"}%s],"
                 "\"lifecycle\":{\"allow_provisioning\":false},"
                 "\"tamper\":{\"fail_on\":[\"intrusion\"],\"warn_on\":[\"voltage\",\"temperature\"]}%s}",
                 apm_d, apm_s, bl_d, host_s, os_d, extra, tail);
    assert_true(n > 0 && (size_t)n < sizeof doc);
    if (ds_reference_parse(doc, (size_t)n, &f->ref, err, sizeof err) != 0)
        fail_msg("reference: %s", err);
}

static void set_record(fx *f)
{
    memcpy(f->dev.device_id, FWT_DEVICE_ID, 16);
    f->dev.drk_pub = f->d.core.drk.pub;
    f->dev.epoch = f->d.core.otp.epoch;
    f->dev.status = DS_VERIFY_DEVICE_ACTIVE;
}

/* A deployed device (lifecycle secured), SVN fuses APM 1, HOST-BL 2,
 * HOST-OS 3, host stages measured; its registry record and class. */
static fx *fx_new(void)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fwt_create_good(&f->d);
    assert_int_equal(apm_otp_set_lifecycle(&f->d.sim.hal, APM_LC_DEPLOYED), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&f->d.sim.hal, APM_SVN_APM, 1), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&f->d.sim.hal, APM_SVN_HOST_BL, 2), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&f->d.sim.hal, APM_SVN_HOST_OS, 3), APM_OK);
    assert_int_equal(fwt_reboot(&f->d), APM_OK);
    measure(f, HOST_OS_GOOD, HOST_OS_BYTE);
    set_reference(f, "", "");
    set_record(f);
    fill(f->challenge, 32, 0x11);
    fill(f->exporter, 32, 0x99);
    return f;
}

static void fx_free(fx *f)
{
    fwt_destroy(&f->d);
    free(f);
}

static void nonce_for(const uint8_t ch[32], const uint8_t ex[32], uint8_t nonce[32])
{
    uint8_t cat[64];
    memcpy(cat, ch, 32);
    memcpy(cat + 32, ex, 32);
    assert_int_equal(drot_sha256(cat, sizeof cat, nonce), DROT_OK);
}

/* A real token from device d for (challenge, exporter) into f->tok. */
static void token_from(fx *f, fwt_dev *d, uint32_t profile)
{
    uint8_t nonce[32];
    nonce_for(f->challenge, f->exporter, nonce);
    assert_int_equal(fwt_token(d, nonce, 32, profile, f->tok, sizeof f->tok, &f->tok_len), APM_OK);
}

static ds_verdict verify_bytes(fx *f, const uint8_t *tok, size_t len)
{
    ds_verify_input in;
    memset(&in, 0, sizeof in);
    in.token = tok;
    in.token_len = len;
    memcpy(in.challenge, f->challenge, 32);
    memcpy(in.exporter, f->exporter, 32);
    in.device = &f->dev;
    in.reference = &f->ref;
    in.required_profile = DROT_EAT_PROFILE_DROT;
    in.has_prev_tamper_count = f->has_prev_count;
    in.prev_tamper_count = f->prev_count;
    return ds_verify_token(&in, &f->res);
}

static ds_verdict verify(fx *f)
{
    return verify_bytes(f, f->tok, f->tok_len);
}

static void dump(const ds_verify_result *r)
{
    fprintf(stderr, "verdict %s, %zu reasons\n", ds_verdict_str(r->verdict), r->num_reasons);
    for (size_t i = 0; i < r->num_reasons; i++)
        fprintf(stderr, "  [%s %s] %s\n", r->reasons[i].severity == DS_SEV_FAIL ? "FAIL" : "WARN",
                ds_reason_code_str(r->reasons[i].code), r->reasons[i].text);
}

/* The result is exactly one reason, with this code, severity and (if
 * given) text, and the verdict that follows from it. */
static void expect_one(const ds_verify_result *r, ds_reason_code code, ds_severity sev, const char *text)
{
    if (r->num_reasons != 1 || r->reasons[0].code != code || r->reasons[0].severity != sev ||
        (text != NULL && strcmp(r->reasons[0].text, text) != 0)) {
        dump(r);
        fail_msg("expected exactly one %s reason%s%s", ds_reason_code_str(code), text ? ": " : "",
                 text ? text : "");
    }
    assert_int_equal(r->verdict, sev == DS_SEV_FAIL ? DS_VERDICT_FAIL : DS_VERDICT_WARN);
}

static void expect_pass(const ds_verify_result *r)
{
    if (r->verdict != DS_VERDICT_PASS || r->num_reasons != 0) {
        dump(r);
        fail_msg("expected PASS");
    }
}

static bool has_reason(const ds_verify_result *r, ds_reason_code code, ds_severity sev)
{
    for (size_t i = 0; i < r->num_reasons; i++)
        if (r->reasons[i].code == code && r->reasons[i].severity == sev)
            return true;
    return false;
}

/* The device id as the reasons print it. */
static const char *dev_hex(void)
{
    static char s[33];
    for (size_t i = 0; i < 16; i++)
        snprintf(s + 2 * i, 3, "%02x", FWT_DEVICE_ID[i]);
    return s;
}

/* Re-signs f->tok with d's DRK after edit() changed its claims (the
 * device's own key signs; only the claims differ from what it reported). */
static void resign(fx *f, fwt_dev *d, void (*edit)(drot_eat_claims *, void *), void *arg)
{
    static uint8_t payload[DROT_EAT_MAX_PAYLOAD];
    static uint8_t out[FWT_TOKEN_CAP];
    drot_cose_sign1_view view;
    drot_cose_sign1_params params;
    drot_eat_claims c;
    uint8_t ueid[33];
    size_t plen, olen;

    assert_int_equal(drot_cose_sign1_decode(f->tok, f->tok_len, &view), DROT_OK);
    assert_int_equal(drot_eat_decode(view.payload, view.payload_len, &c), DROT_OK);
    edit(&c, arg);
    assert_int_equal(drot_eat_encode(&c, payload, sizeof payload, &plen), DROT_OK);
    ueid[0] = 0x01;
    assert_int_equal(drot_sha256(d->core.drk.pub.q, 65, ueid + 1), DROT_OK);
    memset(&params, 0, sizeof params);
    params.kid = ueid;
    params.kid_len = sizeof ueid;
    assert_int_equal(drot_cose_sign1_sign(&d->core.drk.priv, &params, payload, plen, out, sizeof out, &olen),
                     DROT_OK);
    memcpy(f->tok, out, olen);
    f->tok_len = olen;
}

/* ---- tests --------------------------------------------------------------- */

/* Test 1: a real drot token from a deployed device for this challenge and
 * connection / PASS with no reason; the claims summary holds epoch 0,
 * lifecycle 0x3000, the three measurements with their versions, digests,
 * signers and SVNs; the evidence digest is the Sig_structure digest and not
 * a hash of the token bytes. */
static void test_good_token_passes(void **state)
{
    fx *f = fx_new();
    drot_cose_sign1_view view;
    uint8_t tbs[32], raw[32];
    (void)state;

    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    expect_pass(&f->res);
    assert_true(f->res.claims.valid);
    assert_int_equal(f->res.claims.profile, DROT_EAT_PROFILE_DROT);
    assert_true(f->res.claims.has_drot_claims);
    assert_int_equal(f->res.claims.epoch, 0);
    assert_int_equal(f->res.claims.lifecycle, 0x3000);
    assert_memory_equal(f->res.claims.device_id, FWT_DEVICE_ID, 16);
    assert_int_equal(f->res.claims.num_measurements, 3);
    assert_string_equal(f->res.claims.measurements[0].type, "APM");
    assert_string_equal(f->res.claims.measurements[0].version, "1.2.3");
    assert_int_equal(f->res.claims.measurements[0].digest_len, 32);
    assert_memory_equal(f->res.claims.measurements[0].digest, f->d.boot.digest, 32);
    assert_memory_equal(f->res.claims.measurements[0].signer, f->d.boot.signer_id, 32);
    assert_true(f->res.claims.measurements[0].has_svn);
    assert_int_equal(f->res.claims.measurements[0].svn, 1);
    assert_string_equal(f->res.claims.measurements[2].type, "HOST-OS");
    assert_string_equal(f->res.claims.measurements[2].version, "1.3.0");
    assert_int_equal(f->res.claims.measurements[2].svn, 3);

    assert_true(f->res.has_evidence_digest);
    assert_int_equal(drot_cose_sign1_decode(f->tok, f->tok_len, &view), DROT_OK);
    assert_int_equal(drot_cose_sign1_tbs_digest(&view, NULL, 0, tbs), DROT_OK);
    assert_memory_equal(f->res.evidence_digest, tbs, 32);
    assert_int_equal(drot_sha256(f->tok, f->tok_len, raw), DROT_OK);
    assert_memory_not_equal(f->res.evidence_digest, raw, 32);
    fx_free(f);
}

/* Test 2: the token verified with another challenge than the one it was
 * made for / FAIL, exactly one reason: nonce. */
static void test_wrong_challenge(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    f->challenge[0] ^= 0x01;
    verify(f);
    expect_one(&f->res, DS_R_NONCE, DS_SEV_FAIL,
               "nonce is not SHA-256(challenge || exporter): token bound to another connection or replayed");
    fx_free(f);
}

/* Test 3: the right challenge, but the token arrives on another TLS
 * connection (another exporter): a relayed token / FAIL nonce. */
static void test_other_connection(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    f->exporter[31] ^= 0x80;
    verify(f);
    expect_one(&f->res, DS_R_NONCE, DS_SEV_FAIL, NULL);
    fx_free(f);
}

/* Test 4: a token that passed, presented again for a new challenge (on
 * the same connection, then on a new one) / PASS the first time, then FAIL
 * nonce both times; the evidence digest is the same each time, so the
 * store can also recognise it. */
static void test_replayed_token(void **state)
{
    fx *f = fx_new();
    uint8_t first[32];
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    memcpy(first, f->res.evidence_digest, 32);
    fill(f->challenge, 32, 0x42);
    verify(f);
    expect_one(&f->res, DS_R_NONCE, DS_SEV_FAIL, NULL);
    assert_memory_equal(f->res.evidence_digest, first, 32);
    fill(f->exporter, 32, 0x43);
    verify(f);
    expect_one(&f->res, DS_R_NONCE, DS_SEV_FAIL, NULL);
    fx_free(f);
}

/* Test 5: a token from another device (its own DRK) checked against this
 * device's record / FAIL key ("signed by a key that is not this device's
 * current key"); the same token with its unsigned kid rewritten to this
 * device's instance id / FAIL signature. */
static void test_other_device_key(void **state)
{
    fx *f = fx_new();
    static fwt_dev other;
    uint8_t ueid_me[33], ueid_other[33];
    uint8_t *at;
    (void)state;

    fwt_create_good(&other);
    assert_memory_not_equal(other.core.drk.pub.q, f->d.core.drk.pub.q, 65);
    other.meas = f->d.meas;
    token_from(f, &other, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_KEY, DS_SEV_FAIL, NULL);
    assert_non_null(strstr(f->res.reasons[0].text, "signed by a key that is not this device's current key"));
    assert_non_null(strstr(f->res.reasons[0].text, dev_hex()));
    assert_false(f->res.claims.valid);

    ueid_me[0] = ueid_other[0] = 0x01;
    assert_int_equal(drot_sha256(f->d.core.drk.pub.q, 65, ueid_me + 1), DROT_OK);
    assert_int_equal(drot_sha256(other.core.drk.pub.q, 65, ueid_other + 1), DROT_OK);
    /* the kid is the last 33-byte bstr before the payload; the payload's
     * instance id claim holds the same bytes further on: rewrite the first */
    at = memmem(f->tok, f->tok_len, ueid_other, 33);
    assert_non_null(at);
    memcpy(at, ueid_me, 33);
    verify(f);
    char want[200];
    snprintf(want, sizeof want, "signature does not verify under the registered key of device %s", dev_hex());
    expect_one(&f->res, DS_R_SIGNATURE, DS_SEV_FAIL, want);
    fwt_destroy(&other);
    fx_free(f);
}

/* Test 6: the device rotates its DRK (key store stage + commit, epoch 0 →
 * 1) and the registry records the new key and epoch; a token made with the
 * OLD key before the rotation, for the current challenge / FAIL key. A
 * token from the rotated device / PASS with epoch 1. The registry still on
 * the old key and epoch, token from the new key / FAIL key. */
static void test_old_key_after_rotation(void **state)
{
    fx *f = fx_new();
    static uint8_t old_tok[FWT_TOKEN_CAP];
    size_t old_len;
    drot_p256_priv priv;
    drot_p256_pub pub;
    ds_device_record before;
    uint8_t seed[32];
    (void)state;

    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    memcpy(old_tok, f->tok, f->tok_len);
    old_len = f->tok_len;
    before = f->dev;

    fill(seed, 32, 0x31);
    seed[0] = 0x3c;
    assert_int_equal(drot_p256_key_from_scalar(seed, &priv, &pub), DROT_OK);
    assert_int_equal(apm_ks_stage(&f->d.core, 1, &priv, &pub), APM_OK);
    assert_int_equal(apm_ks_commit(&f->d.core), APM_OK);
    assert_int_equal(f->d.core.otp.epoch, 1);
    set_record(f);
    assert_int_equal(f->dev.epoch, 1);

    verify_bytes(f, old_tok, old_len);
    expect_one(&f->res, DS_R_KEY, DS_SEV_FAIL, NULL);
    assert_non_null(strstr(f->res.reasons[0].text, "not this device's current key"));
    assert_non_null(strstr(f->res.reasons[0].text, "epoch 1"));

    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    assert_int_equal(f->res.claims.epoch, 1);

    f->dev = before;
    verify(f);
    expect_one(&f->res, DS_R_KEY, DS_SEV_FAIL, NULL);
    drot_wipe(&priv, sizeof priv);
    fx_free(f);
}

/* Test 7: the registry expects another epoch than the token reports, with
 * the right key (a rotation the server recorded that the device did not
 * finish, or the reverse) / FAIL epoch, with both numbers. */
static void test_epoch_mismatch(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    f->dev.epoch = 1;
    verify(f);
    expect_one(&f->res, DS_R_EPOCH, DS_SEV_FAIL, "epoch claim 0 is not the registered epoch 1");
    fx_free(f);
}

/* Test 8: every byte of the signed payload XOR 0x01, one at a time /
 * FAIL signature each time (never a claims error: the signature is
 * checked before the claims are read), and no claims summary. */
static void test_altered_claims(void **state)
{
    fx *f = fx_new();
    drot_cose_sign1_view view;
    size_t off, plen;
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(drot_cose_sign1_decode(f->tok, f->tok_len, &view), DROT_OK);
    off = (size_t)(view.payload - f->tok);
    plen = view.payload_len;
    for (size_t i = off; i < off + plen; i++) {
        f->tok[i] ^= 0x01;
        verify(f);
        expect_one(&f->res, DS_R_SIGNATURE, DS_SEV_FAIL, NULL);
        assert_false(f->res.claims.valid);
        f->tok[i] ^= 0x01;
    }
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    fx_free(f);
}

/* A COSE_Sign1 by hand: protected {1: alg} (int, or text when alg_text),
 * unprotected {4: kid}, the payload of a real token, a 64-byte signature
 * by the device key over the Sig_structure it would have. */
static size_t build_cose(fx *f, int64_t alg, const char *alg_text, uint8_t *out, size_t cap)
{
    drot_cose_sign1_view view;
    drot_cbor_writer w, pw;
    uint8_t prot[32], ueid[33], tbs[512 + DROT_EAT_MAX_PAYLOAD], dg[32], sig[64];
    size_t plen, tlen, len;

    assert_int_equal(drot_cose_sign1_decode(f->tok, f->tok_len, &view), DROT_OK);
    drot_cbor_writer_init(&pw, prot, sizeof prot);
    drot_cbor_put_map(&pw, 1);
    drot_cbor_put_int(&pw, 1);
    if (alg_text != NULL)
        drot_cbor_put_tstr_z(&pw, alg_text);
    else
        drot_cbor_put_int(&pw, alg);
    assert_int_equal(drot_cbor_writer_finish(&pw, &plen), DROT_OK);

    drot_cbor_writer_init(&w, tbs, sizeof tbs);
    drot_cbor_put_array(&w, 4);
    drot_cbor_put_tstr_z(&w, "Signature1");
    drot_cbor_put_bstr(&w, prot, plen);
    drot_cbor_put_bstr(&w, NULL, 0);
    drot_cbor_put_bstr(&w, view.payload, view.payload_len);
    assert_int_equal(drot_cbor_writer_finish(&w, &tlen), DROT_OK);
    assert_int_equal(drot_sha256(tbs, tlen, dg), DROT_OK);
    assert_int_equal(drot_ecdsa_p256_sign(&f->d.core.drk.priv, dg, sig), DROT_OK);

    ueid[0] = 0x01;
    assert_int_equal(drot_sha256(f->d.core.drk.pub.q, 65, ueid + 1), DROT_OK);
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_tag(&w, 18);
    drot_cbor_put_array(&w, 4);
    drot_cbor_put_bstr(&w, prot, plen);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_int(&w, 4);
    drot_cbor_put_bstr(&w, ueid, sizeof ueid);
    drot_cbor_put_bstr(&w, view.payload, view.payload_len);
    drot_cbor_put_bstr(&w, sig, sizeof sig);
    assert_int_equal(drot_cbor_writer_finish(&w, &len), DROT_OK);
    return len;
}

/* Test 9: hand-built COSE_Sign1 messages around a real payload with alg
 * -35 (ES384), alg "ES256" as text, and, as a control, alg -7 / FAIL alg
 * "unsupported algorithm -35: only ES256 (-7) is accepted"; FAIL alg for
 * the text; the control (same builder) PASSes. */
static void test_wrong_alg(void **state)
{
    fx *f = fx_new();
    static uint8_t msg[FWT_TOKEN_CAP];
    size_t len;
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);

    len = build_cose(f, -35, NULL, msg, sizeof msg);
    verify_bytes(f, msg, len);
    expect_one(&f->res, DS_R_ALG, DS_SEV_FAIL, "unsupported algorithm -35: only ES256 (-7) is accepted");
    assert_false(f->res.has_evidence_digest);

    len = build_cose(f, 0, "ES256", msg, sizeof msg);
    verify_bytes(f, msg, len);
    expect_one(&f->res, DS_R_ALG, DS_SEV_FAIL, NULL);

    len = build_cose(f, -7, NULL, msg, sizeof msg);
    assert_int_equal(verify_bytes(f, msg, len), DS_VERDICT_PASS);
    fx_free(f);
}

/* Test 10: 9 KiB (a real token followed by zeros), and 8 KiB + 1 / FAIL
 * token-size before any parsing; exactly 8 KiB (the token and trailing
 * zeros) / not refused for its size but as malformed (trailing bytes). */
static void test_oversized(void **state)
{
    fx *f = fx_new();
    uint8_t *big = calloc(1, 9 * 1024);
    (void)state;
    assert_non_null(big);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    memcpy(big, f->tok, f->tok_len);
    verify_bytes(f, big, 9 * 1024);
    expect_one(&f->res, DS_R_TOKEN_SIZE, DS_SEV_FAIL, "token of 9216 bytes: must be 1..8192 bytes");
    verify_bytes(f, big, 8193);
    expect_one(&f->res, DS_R_TOKEN_SIZE, DS_SEV_FAIL, NULL);
    verify_bytes(f, big, 8192);
    expect_one(&f->res, DS_R_MALFORMED, DS_SEV_FAIL,
               "token is not a valid COSE_Sign1: trailing bytes after input");
    free(big);
    fx_free(f);
}

/* Test 11: the token truncated at every length 0..len-1, each in a heap
 * copy of exactly that size (ASan sees any over-read), and NULL / FAIL
 * with one reason: token-size for 0 bytes, malformed otherwise; the
 * result is fully formed (printable reason, no claims). */
static void test_truncated(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    for (size_t n = 0; n < f->tok_len; n++) {
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, f->tok, n);
        assert_int_equal(verify_bytes(f, p, n), DS_VERDICT_FAIL);
        expect_one(&f->res, n == 0 ? DS_R_TOKEN_SIZE : DS_R_MALFORMED, DS_SEV_FAIL, NULL);
        assert_false(f->res.claims.valid);
        free(p);
    }
    verify_bytes(f, NULL, 10);
    expect_one(&f->res, DS_R_TOKEN_SIZE, DS_SEV_FAIL, NULL);
    fx_free(f);
}

/* Test 12: 2000 random byte strings of 1..600 bytes, half of them starting
 * like a COSE_Sign1 (d2 84) / FAIL every time with at least one reason of
 * a structural kind, never PASS or WARN, no crash. */
static void test_random_bytes(void **state)
{
    fx *f = fx_new();
    uint32_t x = 0x12345678u;
    (void)state;
    for (int k = 0; k < 2000; k++) {
        size_t n;
        uint8_t *p;
        x = x * 1103515245u + 12345u;
        n = 1 + (x >> 8) % 600;
        p = malloc(n);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            p[i] = (uint8_t)(x >> 16);
        }
        if ((k & 1) && n >= 2) {
            p[0] = 0xd2;
            p[1] = 0x84;
        }
        assert_int_equal(verify_bytes(f, p, n), DS_VERDICT_FAIL);
        assert_true(f->res.num_reasons >= 1);
        assert_true(has_reason(&f->res, DS_R_MALFORMED, DS_SEV_FAIL) ||
                    has_reason(&f->res, DS_R_ALG, DS_SEV_FAIL) || has_reason(&f->res, DS_R_KEY, DS_SEV_FAIL));
        free(p);
    }
    fx_free(f);
}

static void set_lifecycle(drot_eat_claims *c, void *arg)
{
    c->security_lifecycle = *(uint32_t *)arg;
}

static void set_tamper(drot_eat_claims *c, void *arg)
{
    c->drot.tamper_state = *(uint64_t *)arg;
}

static void set_tamper_count(drot_eat_claims *c, void *arg)
{
    c->drot.tamper_count = *(uint64_t *)arg;
}

/* Test 13: the device's own key signs claims whose lifecycle is what a
 * tampered APM maps to (0x4000, non-PSA-RoT debug) / FAIL lifecycle
 * "lifecycle 0x4000 (non-PSA-RoT debug) is not secured"; decommissioned
 * 0x6000 / FAIL lifecycle. */
static void test_lifecycle_tampered(void **state)
{
    fx *f = fx_new();
    uint32_t lc = apm_lifecycle_psa(APM_LC_TAMPERED);
    (void)state;
    assert_int_equal(lc, 0x4000);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    resign(f, &f->d, set_lifecycle, &lc);
    verify(f);
    expect_one(&f->res, DS_R_LIFECYCLE, DS_SEV_FAIL, "lifecycle 0x4000 (non-PSA-RoT debug) is not secured");
    lc = 0x6000;
    resign(f, &f->d, set_lifecycle, &lc);
    verify(f);
    expect_one(&f->res, DS_R_LIFECYCLE, DS_SEV_FAIL, NULL);
    fx_free(f);
}

/* Test 14: a real token from a device still in the provisioned lifecycle
 * (0x2000) / FAIL lifecycle under a reference that does not allow
 * provisioning; WARN lifecycle under one that does. */
static void test_lifecycle_provisioning(void **state)
{
    fx *f = calloc(1, sizeof *f);
    (void)state;
    assert_non_null(f);
    fwt_create_good(&f->d); /* lifecycle PROVISIONED */
    assert_int_equal(apm_otp_raise_svn(&f->d.sim.hal, APM_SVN_APM, 1), APM_OK);
    assert_int_equal(apm_otp_raise_svn(&f->d.sim.hal, APM_SVN_HOST_BL, 2), APM_OK);
    assert_int_equal(fwt_reboot(&f->d), APM_OK);
    measure(f, HOST_OS_GOOD, HOST_OS_BYTE);
    set_reference(f, "", "");
    set_record(f);
    fill(f->challenge, 32, 0x11);
    fill(f->exporter, 32, 0x99);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_LIFECYCLE, DS_SEV_FAIL,
               "lifecycle 0x2000 (PSA RoT provisioning) is not secured");
    f->ref.allow_provisioning = true;
    assert_int_equal(verify(f), DS_VERDICT_WARN);
    expect_one(&f->res, DS_R_LIFECYCLE, DS_SEV_WARN, NULL);
    fx_free(f);
}

/* Test 15: the device key signs tamper state 0x1 (voltage) / WARN tamper
 * "tamper: voltage bit set"; 0x2 (temperature) / WARN; 0x4 (intrusion) /
 * FAIL tamper; 0x8 (locked, in neither list of this class) / WARN; 0x100
 * (no such bit) / WARN. */
static void test_tamper_bits(void **state)
{
    fx *f = fx_new();
    static uint8_t orig[FWT_TOKEN_CAP];
    size_t orig_len;
    static const struct {
        uint64_t bits;
        ds_severity sev;
        const char *text;
    } cases[] = {
        {0x1, DS_SEV_WARN, "tamper: voltage bit set"},
        {0x2, DS_SEV_WARN, "tamper: temperature bit set"},
        {0x4, DS_SEV_FAIL, "tamper: intrusion bit set (fails this class)"},
        {0x8, DS_SEV_WARN, "tamper: locked bit set (not named in the reference)"},
        {0x100, DS_SEV_WARN, "unknown tamper state bit 0x100 set"},
    };
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    memcpy(orig, f->tok, f->tok_len);
    orig_len = f->tok_len;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t bits = cases[i].bits;
        memcpy(f->tok, orig, orig_len);
        f->tok_len = orig_len;
        resign(f, &f->d, set_tamper, &bits);
        verify(f);
        expect_one(&f->res, DS_R_TAMPER, cases[i].sev, cases[i].text);
        assert_int_equal(f->res.claims.tamper_state, bits);
    }
    fx_free(f);
}

/* Test 16: a real token whose HOST-OS stage measured version 1.2.0 /
 * FAIL comp-version "component HOST-OS version 1.2.0 below the minimum
 * 1.3.0"; version "os-2024.1" / FAIL comp-version (not dotted numeric). */
static void test_component_version(void **state)
{
    fx *f = fx_new();
    (void)state;
    measure(f, "1.2.0", HOST_OS_BYTE);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_VERSION, DS_SEV_FAIL,
               "component HOST-OS version 1.2.0 below the minimum 1.3.0");
    measure(f, "os-2024.1", HOST_OS_BYTE);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_VERSION, DS_SEV_FAIL,
               "component HOST-OS version \"os-2024.1\" is not dotted numeric; the minimum is 1.3.0");
    measure(f, "1.10", HOST_OS_BYTE); /* numeric, not lexical: 1.10 > 1.3.0 */
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    fx_free(f);
}

/* Test 17: a real token whose HOST-OS digest is not the allowed one /
 * FAIL comp-digest naming the component and the digest's first bytes. */
static void test_component_digest(void **state)
{
    fx *f = fx_new();
    (void)state;
    measure(f, HOST_OS_GOOD, 0x06);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_DIGEST, DS_SEV_FAIL,
               "component HOST-OS digest 0606060606060606... is not among its 1 allowed digests");
    fx_free(f);
}

/* Test 18: the class allows only another signer (test key 1) for the APM
 * image signed by key 0 / FAIL comp-signer. */
static void test_component_signer(void **state)
{
    fx *f = fx_new();
    (void)state;
    fwt_key(1, NULL, NULL, f->ref.components[0].signers[0]);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_SIGNER, DS_SEV_FAIL, NULL);
    assert_non_null(strstr(f->res.reasons[0].text, "component APM signer"));
    fx_free(f);
}

/* Test 19: the class wants APM SVN ≥ 2 (fuse is 1), then HOST-OS SVN ≥ 1
 * while the token reports none for a 4th stage it requires / FAIL comp-svn
 * "component APM SVN 1 below the minimum 2"; a stage without an SVN fuse
 * ("HOST-APP") that the class requires an SVN for / FAIL comp-svn. */
static void test_component_svn(void **state)
{
    fx *f = fx_new();
    uint8_t dg[32] = {0};
    (void)state;
    f->ref.components[0].min_svn = 2;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_SVN, DS_SEV_FAIL, "component APM SVN 1 below the minimum 2");

    f->ref.components[0].min_svn = 1;
    set_reference(f, ",{\"type\":\"HOST-APP\",\"min_svn\":1}", "");
    assert_int_equal(apm_measure_add(&f->d.meas, "HOST-APP", 8, "1", 1, dg, dg, NULL), APM_OK);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_SVN, DS_SEV_FAIL, "component HOST-APP reports no SVN; the minimum is 1");
    fx_free(f);
}

/* Test 20: the class requires a component the device does not report /
 * FAIL comp-missing; the device reports one the class does not name /
 * WARN comp-unknown. */
static void test_component_missing_and_unknown(void **state)
{
    fx *f = fx_new();
    uint8_t dg[32] = {0};
    (void)state;
    set_reference(f, ",{\"type\":\"HOST-APP\"}", "");
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_COMP_MISSING, DS_SEV_FAIL, "component HOST-APP is missing from the token");

    set_reference(f, "", "");
    assert_int_equal(apm_measure_add(&f->d.meas, "HOST-APP", 8, "1", 1, dg, dg, NULL), APM_OK);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_WARN);
    expect_one(&f->res, DS_R_COMP_UNKNOWN, DS_SEV_WARN,
               "component #3 HOST-APP is not in the reference values of test-class");
    fx_free(f);
}

/* Test 21: a real psa-profile token where drot is required / FAIL profile
 * "token has the psa profile, but the drot profile is required". Where the
 * class requires psa (no SVN minimums) / WARN profile-limited only. */
static void test_psa_profile(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_PSA);
    verify(f);
    expect_one(&f->res, DS_R_PROFILE, DS_SEV_FAIL,
               "token has the psa profile, but the drot profile is required");

    set_reference(f, "", ",\"require_profile\":\"psa\"");
    f->ref.components[0].has_min_svn = false;
    f->ref.components[1].has_min_svn = false;
    {
        ds_verify_input in;
        memset(&in, 0, sizeof in);
        in.token = f->tok;
        in.token_len = f->tok_len;
        memcpy(in.challenge, f->challenge, 32);
        memcpy(in.exporter, f->exporter, 32);
        in.device = &f->dev;
        in.reference = &f->ref;
        in.required_profile = DROT_EAT_PROFILE_NONE; /* the reference's */
        assert_int_equal(ds_verify_token(&in, &f->res), DS_VERDICT_WARN);
        expect_one(&f->res, DS_R_PROFILE_LIMITED, DS_SEV_WARN, NULL);
        assert_false(f->res.claims.has_drot_claims);
    }
    fx_free(f);
}

/* Test 22: the same signed token tagged (as the APM sends it) and
 * untagged (tag 18 stripped by a relay) / both PASS with the same evidence
 * digest, although their bytes differ. */
static void test_digest_tagged_untagged(void **state)
{
    fx *f = fx_new();
    uint8_t a[32];
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(f->tok[0], 0xd2);
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    memcpy(a, f->res.evidence_digest, 32);
    assert_int_equal(verify_bytes(f, f->tok + 1, f->tok_len - 1), DS_VERDICT_PASS);
    assert_true(f->res.has_evidence_digest);
    assert_memory_equal(f->res.evidence_digest, a, 32);
    /* a token for another challenge has another digest */
    fill(f->challenge, 32, 0x77);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    assert_memory_not_equal(f->res.evidence_digest, a, 32);
    fx_free(f);
}

/* Test 23: registry status revoked, decommissioned, quarantined, and a
 * value outside the enum, each with a good token / FAIL, FAIL, WARN, FAIL
 * device-status, as the only reason. */
static void test_device_status(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    f->dev.status = DS_VERIFY_DEVICE_REVOKED;
    verify(f);
    char want[100];
    snprintf(want, sizeof want, "device %s is revoked", dev_hex());
    expect_one(&f->res, DS_R_DEVICE_STATUS, DS_SEV_FAIL, want);
    f->dev.status = DS_VERIFY_DEVICE_DECOMMISSIONED;
    verify(f);
    expect_one(&f->res, DS_R_DEVICE_STATUS, DS_SEV_FAIL, NULL);
    f->dev.status = DS_VERIFY_DEVICE_QUARANTINED;
    assert_int_equal(verify(f), DS_VERDICT_WARN);
    expect_one(&f->res, DS_R_DEVICE_STATUS, DS_SEV_WARN, NULL);
    f->dev.status = (ds_verify_device_status)0;
    verify(f);
    expect_one(&f->res, DS_R_DEVICE_STATUS, DS_SEV_FAIL, NULL);
    fx_free(f);
}

/* Test 24: a token with many defects at once (wrong nonce, wrong device
 * id, wrong epoch, 20 unknown tamper bits) so
 * that more than 16 reasons arise / 16 kept, the rest counted in
 * reasons_dropped, verdict FAIL; every reason ≤ 200 printable chars. */
static void test_reason_overflow(void **state)
{
    fx *f = fx_new();
    uint64_t bits = 0xfffff00; /* 20 bits no APM defines */
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    resign(f, &f->d, set_tamper, &bits);
    f->challenge[3] ^= 1;
    f->dev.epoch = 5;
    f->dev.device_id[0] ^= 1;
    verify(f);
    assert_int_equal(f->res.verdict, DS_VERDICT_FAIL);
    assert_int_equal(f->res.num_reasons, DS_VERIFY_MAX_REASONS);
    assert_true(f->res.reasons_dropped > 0);
    for (size_t i = 0; i < f->res.num_reasons; i++) {
        size_t n = strlen(f->res.reasons[i].text);
        assert_true(n > 0 && n <= DS_VERIFY_REASON_MAX);
        for (size_t k = 0; k < n; k++)
            assert_true(f->res.reasons[i].text[k] >= 0x20 && f->res.reasons[i].text[k] < 0x7f);
    }
    assert_true(has_reason(&f->res, DS_R_NONCE, DS_SEV_FAIL));
    assert_true(has_reason(&f->res, DS_R_DEVICE_ID, DS_SEV_FAIL));
    assert_true(has_reason(&f->res, DS_R_EPOCH, DS_SEV_FAIL));
    /* only WARN reasons dropped still cannot make it pass; and WARN-only
     * overflow gives WARN, not PASS */
    f->challenge[3] ^= 1;
    f->dev.epoch = 0;
    f->dev.device_id[0] ^= 1;
    assert_int_equal(verify(f), DS_VERDICT_WARN);
    assert_int_equal(f->res.num_reasons, DS_VERIFY_MAX_REASONS);
    assert_int_equal(f->res.reasons_dropped, 4);
    fx_free(f);
}

/* Test 25: NULL result, NULL input, NULL device, NULL reference / FAIL
 * (arg) and no crash. */
static void test_bad_arguments(void **state)
{
    fx *f = fx_new();
    ds_verify_input in;
    (void)state;
    memset(&in, 0, sizeof in);
    assert_int_equal(ds_verify_token(NULL, NULL), DS_VERDICT_FAIL);
    assert_int_equal(ds_verify_token(&in, NULL), DS_VERDICT_FAIL);
    assert_int_equal(ds_verify_token(NULL, &f->res), DS_VERDICT_FAIL);
    expect_one(&f->res, DS_R_ARG, DS_SEV_FAIL, NULL);
    in.device = &f->dev;
    assert_int_equal(ds_verify_token(&in, &f->res), DS_VERDICT_FAIL);
    expect_one(&f->res, DS_R_ARG, DS_SEV_FAIL, NULL);
    assert_string_equal(ds_verdict_str((ds_verdict)1), "INVALID");
    assert_string_equal(ds_verdict_str(DS_VERDICT_PASS), "PASS");
    fx_free(f);
}

/* A real voltage excursion on the in-process device: the APM logs it and
 * refuses to sign until the next boot; then the device boots again and its
 * host stages are measured again. */
static void voltage_event_and_reboot(fx *f)
{
    uint8_t nonce[32];
    nonce_for(f->challenge, f->exporter, nonce);
    fwt_sensors(&f->d, 2500, 25000, false);
    assert_int_equal(fwt_token(&f->d, nonce, 32, DROT_EAT_PROFILE_DROT, f->tok, sizeof f->tok, &f->tok_len),
                     APM_E_LOCKED);
    fwt_sensors(&f->d, 3300, 25000, false);
    assert_int_equal(fwt_reboot(&f->d), APM_OK);
    measure(f, HOST_OS_GOOD, HOST_OS_BYTE);
}

/* Test 26: a device attests (count 0), then suffers a real voltage
 * excursion (no token can be signed in that boot), reboots and attests
 * again with count 1 / with the previous count 0: FAIL tamper "1 new tamper
 * event logged since the last attestation (count 0 -> 1)", the only
 * reason; WARN with the same text when the class says new_events "warn";
 * PASS against the previous count 1, and PASS with no previous count (a
 * first attestation). The token shows no tamper bit: the count is the only
 * trace. Re-signed with count 3 / "3 new tamper events … (count 0 -> 3)". */
static void test_tamper_count_rose(void **state)
{
    fx *f = fx_new();
    uint64_t three = 3;
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    f->has_prev_count = true;
    f->prev_count = 0;
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    assert_true(f->res.fresh_evidence);
    assert_int_equal(f->res.claims.tamper_count, 0);

    voltage_event_and_reboot(f);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL,
               "1 new tamper event logged since the last attestation (count 0 -> 1)");
    assert_int_equal(f->res.claims.tamper_count, 1);
    assert_int_equal(f->res.claims.tamper_state, 0);
    assert_true(f->res.fresh_evidence);

    f->ref.tamper_new_events = DS_REF_SEV_WARN;
    assert_int_equal(verify(f), DS_VERDICT_WARN);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_WARN,
               "1 new tamper event logged since the last attestation (count 0 -> 1)");
    f->ref.tamper_new_events = DS_REF_SEV_FAIL;

    f->prev_count = 1;
    assert_int_equal(verify(f), DS_VERDICT_PASS);
    f->has_prev_count = false;
    assert_int_equal(verify(f), DS_VERDICT_PASS);

    f->has_prev_count = true;
    f->prev_count = 0;
    resign(f, &f->d, set_tamper_count, &three);
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL,
               "3 new tamper events logged since the last attestation (count 0 -> 3)");
    fx_free(f);
}

/* Copies (back=false) or restores (back=true) the device's whole state
 * directory: its flash and fuses, as a rollback attack would. */
static void snapshot(fx *f, bool back)
{
    char cmd[4 * sizeof f->d.dir + 64];
    fwt_power_off(&f->d);
    if (back)
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s.snap' '%s' && rm -rf '%s.snap'", f->d.dir,
                 f->d.dir, f->d.dir, f->d.dir);
    else
        snprintf(cmd, sizeof cmd, "rm -rf '%s.snap' && cp -a '%s' '%s.snap'", f->d.dir, f->d.dir, f->d.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fwt_boot(&f->d), APM_OK);
    measure(f, HOST_OS_GOOD, HOST_OS_BYTE);
}

/* Test 27: the device's state is copied, it suffers a voltage excursion
 * and attests with count 1 (stored), then its state is put back (the
 * flash rolled back) and it attests with count 0 / FAIL tamper "tamper log
 * count went back from 1 to 0: the APM's flash was rolled back or
 * replaced", the only reason; still FAIL when the class says new_events
 * "warn". */
static void test_tamper_count_fell(void **state)
{
    fx *f = fx_new();
    (void)state;
    snapshot(f, false);
    voltage_event_and_reboot(f);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    assert_int_equal(verify(f), DS_VERDICT_PASS); /* no previous count: the first attestation */
    assert_true(f->res.fresh_evidence);
    f->has_prev_count = true;
    f->prev_count = f->res.claims.tamper_count;
    assert_int_equal(f->prev_count, 1);

    snapshot(f, true);
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL,
               "tamper log count went back from 1 to 0: the APM's flash was rolled back or replaced");
    assert_true(f->res.fresh_evidence);
    f->ref.tamper_new_events = DS_REF_SEV_WARN;
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL, NULL);
    fx_free(f);
}

/* Test 28: tokens that are not fresh evidence of this device, checked
 * against a previous count of 5 (the token says 0) / only their own
 * reason: a token for another challenge (nonce), for another registered
 * epoch (epoch), for another device id (device-id); fresh_evidence false,
 * no tamper reason: a replay can neither raise the count alarm nor lower
 * the stored count. A signature failure / fresh_evidence false. The good
 * token / fresh, FAIL tamper "went back". */
static void test_tamper_count_needs_fresh_evidence(void **state)
{
    fx *f = fx_new();
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    f->has_prev_count = true;
    f->prev_count = 5;

    f->challenge[0] ^= 1;
    verify(f);
    expect_one(&f->res, DS_R_NONCE, DS_SEV_FAIL, NULL);
    assert_false(f->res.fresh_evidence);
    f->challenge[0] ^= 1;

    f->dev.epoch = 1;
    verify(f);
    expect_one(&f->res, DS_R_EPOCH, DS_SEV_FAIL, NULL);
    assert_false(f->res.fresh_evidence);
    f->dev.epoch = 0;

    f->dev.device_id[15] ^= 1;
    verify(f);
    expect_one(&f->res, DS_R_DEVICE_ID, DS_SEV_FAIL, NULL);
    assert_false(f->res.fresh_evidence);
    f->dev.device_id[15] ^= 1;

    f->tok[f->tok_len - 1] ^= 1;
    verify(f);
    expect_one(&f->res, DS_R_SIGNATURE, DS_SEV_FAIL, NULL);
    assert_false(f->res.fresh_evidence);
    f->tok[f->tok_len - 1] ^= 1;

    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL, NULL);
    assert_true(f->res.fresh_evidence);
    fx_free(f);
}

/* Test 29: the device key signs a tamper count of 2^63 (over what storage
 * can hold) / FAIL tamper "tamper count 9223372036854775808 is out of range
 * (over 2^63-1)", the only reason even with a previous count; 2^63-1 /
 * FAIL for the rise only. */
static void test_tamper_count_out_of_range(void **state)
{
    fx *f = fx_new();
    uint64_t big = (uint64_t)1 << 63;
    (void)state;
    token_from(f, &f->d, DROT_EAT_PROFILE_DROT);
    resign(f, &f->d, set_tamper_count, &big);
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL,
               "tamper count 9223372036854775808 is out of range (over 2^63-1)");
    f->has_prev_count = true;
    f->prev_count = 2;
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL, NULL);
    assert_non_null(strstr(f->res.reasons[0].text, "out of range"));
    big--;
    resign(f, &f->d, set_tamper_count, &big);
    verify(f);
    expect_one(&f->res, DS_R_TAMPER, DS_SEV_FAIL,
               "9223372036854775805 new tamper events logged since the last attestation (count 2 -> "
               "9223372036854775807)");
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_token_passes),
        cmocka_unit_test(test_wrong_challenge),
        cmocka_unit_test(test_other_connection),
        cmocka_unit_test(test_replayed_token),
        cmocka_unit_test(test_other_device_key),
        cmocka_unit_test(test_old_key_after_rotation),
        cmocka_unit_test(test_epoch_mismatch),
        cmocka_unit_test(test_altered_claims),
        cmocka_unit_test(test_wrong_alg),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_lifecycle_tampered),
        cmocka_unit_test(test_lifecycle_provisioning),
        cmocka_unit_test(test_tamper_bits),
        cmocka_unit_test(test_component_version),
        cmocka_unit_test(test_component_digest),
        cmocka_unit_test(test_component_signer),
        cmocka_unit_test(test_component_svn),
        cmocka_unit_test(test_component_missing_and_unknown),
        cmocka_unit_test(test_psa_profile),
        cmocka_unit_test(test_digest_tagged_untagged),
        cmocka_unit_test(test_device_status),
        cmocka_unit_test(test_reason_overflow),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_tamper_count_rose),
        cmocka_unit_test(test_tamper_count_fell),
        cmocka_unit_test(test_tamper_count_needs_fresh_evidence),
        cmocka_unit_test(test_tamper_count_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, fwt_group_teardown);
}
