/*
 * test_fw_rotate_link.c — DRoT over the host link (fw/src/apm.c dispatch,
 * drot/link_msg.h DRoT payloads): a device manufactured through the public
 * API (apm/apm.h), booted, a link session opened, and every DRoT request
 * sent as a host driver would send it. What the host sees: answers in the
 * session, refusals as session ERRORs with their codes, GET_INFO and tokens
 * after each rotation.
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
#include <unistd.h>

#include <cmocka.h>

#include "apm/apm.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot/manifest.h"
#include "drot/rotate.h"
#include "fw_rot_util.h"
#include "sim_hal.h"

typedef struct ldev {
    char dir[512];
    apm_sim sim;
    apm_device dev;
    drot_link_session host;
    uint8_t link_key[32];
    uint8_t out[APM_FRAME_MAX], in[APM_FRAME_MAX];
    size_t in_len;
} ldev;

static uint8_t g_payload[DROT_LINK_MAX_PAYLOAD], g_msg[FWR_MSG_MAX];

static drot_status lcg_fill(void *ctx, uint8_t *out, size_t len)
{
    uint32_t *x = ctx;
    for (size_t i = 0; i < len; i++) {
        *x = *x * 1103515245u + 12345u;
        out[i] = (uint8_t)(*x >> 16);
    }
    return DROT_OK;
}

static void exchange(ldev *d, const uint8_t *frame, size_t len)
{
    assert_int_equal(apm_device_handle(&d->dev, frame, len, d->in, sizeof d->in, &d->in_len), APM_OK);
    assert_true(d->in_len > 0);
}

static void boot_and_connect(ldev *d)
{
    static uint32_t seed = 3;
    drot_rng rng = {lcg_fill, &seed};
    size_t len = 0;
    char err[256];
    if (apm_sim_open(&d->sim, d->dir, false, err, sizeof err) != 0)
        fail_msg("apm_sim_open: %s", err);
    assert_int_equal(apm_device_boot(&d->dev, &d->sim.hal), APM_OK);
    assert_int_equal(drot_link_session_init_host(&d->host, d->link_key), DROT_OK);
    assert_int_equal(drot_link_host_hello(&d->host, &rng, d->out, sizeof d->out, &len), DROT_OK);
    exchange(d, d->out, len);
    assert_int_equal(drot_link_host_accept_ack(&d->host, d->in, d->in_len, NULL), DROT_OK);
}

static void power_off(ldev *d)
{
    apm_device_shutdown(&d->dev);
    drot_link_session_wipe(&d->host);
    apm_sim_close(&d->sim);
}

static int setup(void **state)
{
    uint8_t anchors[2][32], manifest[DROT_MANIFEST_SIGNED_MAX], digest[32];
    apm_manufacture_params mp;
    apm_identity id;
    char err[256];
    ldev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    snprintf(d->dir, sizeof d->dir, "/tmp/fwrotlink-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    fwt_key(0, NULL, NULL, anchors[0]);
    fwt_key(1, NULL, NULL, anchors[1]);
    memset(&mp, 0, sizeof mp);
    memcpy(mp.device_id, FWT_DEVICE_ID, 16);
    memset(mp.uds, 0x5e, sizeof mp.uds);
    memset(mp.link_key, 0x1c, sizeof mp.link_key);
    memcpy(d->link_key, mp.link_key, 32);
    mp.anchors = (const uint8_t(*)[32])anchors;
    mp.n_anchors = 2;
    fwt_image_digest(digest);
    mp.manifest = manifest;
    mp.manifest_len = fwt_manifest(0, "APM", "1.0.0", 1, digest, FWT_IMAGE_LEN, manifest, sizeof manifest);
    mp.image = fwt_image();
    mp.image_len = FWT_IMAGE_LEN;
    if (apm_sim_open(&d->sim, d->dir, true, err, sizeof err) != 0)
        fail_msg("apm_sim_open: %s", err);
    assert_int_equal(apm_device_manufacture(&d->sim.hal, &mp, &id), APM_OK);
    apm_sim_close(&d->sim);
    boot_and_connect(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    ldev *d = *state;
    char cmd[600];
    power_off(d);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
    free(d);
    return 0;
}

/* One request in the session; the answer's view (its payload in d->in). */
static drot_link_frame request(ldev *d, uint8_t type, const uint8_t *payload, size_t plen)
{
    size_t len = 0;
    drot_link_frame v;
    assert_int_equal(drot_link_session_seal(&d->host, type, payload, plen, d->out, sizeof d->out, &len),
                     DROT_OK);
    exchange(d, d->out, len);
    assert_int_equal(drot_link_session_open(&d->host, d->in, d->in_len, &v), DROT_OK);
    return v;
}

static drot_link_frame request_empty(ldev *d, uint8_t type)
{
    static const uint8_t empty[] = {0xA0};
    return request(d, type, empty, sizeof empty);
}

/* A request carrying one signed message. */
static drot_link_frame request_msg(ldev *d, uint8_t type, const uint8_t *msg, size_t len)
{
    size_t plen = 0;
    assert_int_equal(drot_link_rot_msg_encode(msg, len, g_payload, sizeof g_payload, &plen), DROT_OK);
    return request(d, type, g_payload, plen);
}

static int32_t error_code(const drot_link_frame *v)
{
    drot_link_error e;
    assert_int_equal(v->type, DROT_LINK_T_ERROR);
    assert_int_equal(drot_link_error_decode(v->payload, v->payload_len, &e), DROT_OK);
    return e.code;
}

static drot_link_info info(ldev *d)
{
    static drot_link_info i;
    drot_link_frame v = request_empty(d, DROT_LINK_T_GET_INFO);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_INFO));
    assert_int_equal(drot_link_info_decode(v.payload, v.payload_len, &i), DROT_OK);
    return i;
}

static void get_nonce(ldev *d, uint8_t nonce[32])
{
    drot_link_frame v = request_empty(d, DROT_LINK_T_GET_ROTATION_NONCE);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_ROTATION_NONCE));
    assert_int_equal(drot_link_rot_nonce_decode(v.payload, v.payload_len, nonce), DROT_OK);
}

/* A token over the link verifies under pub and says epoch. */
static void expect_token(ldev *d, const drot_p256_pub *pub, uint64_t epoch)
{
    drot_link_token_req tr;
    size_t plen = 0, tlen = 0;
    const uint8_t *tok;
    drot_cose_sign1_view v;
    drot_eat_claims c;
    memset(&tr, 0, sizeof tr);
    tr.nonce_len = 32;
    memset(tr.nonce, 0x11, 32);
    tr.profile = DROT_LINK_PROFILE_DROT;
    assert_int_equal(drot_link_token_req_encode(&tr, g_payload, sizeof g_payload, &plen), DROT_OK);
    drot_link_frame f = request(d, DROT_LINK_T_GET_TOKEN, g_payload, plen);
    assert_int_equal(f.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_TOKEN));
    assert_int_equal(drot_link_token_resp_decode(f.payload, f.payload_len, &tok, &tlen), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify_msg(tok, tlen, pub, NULL, 0, &v), DROT_OK);
    assert_int_equal(drot_eat_decode(v.payload, v.payload_len, &c), DROT_OK);
    assert_int_equal(c.drot.epoch, epoch);
}

/* Test 1: server mode over the link / GET_ROTATION_NONCE, ROTATE_ROOT: the
 * receipt verifies under KeyA; GET_INFO says epoch 1 and KeyA; a token
 * verifies under KeyA with epoch 1; replaying the instruction gets a
 * session ERROR (APM_E_STALE) and the session stays in step. */
static void test_server_mode_link(void **state)
{
    ldev *d = *state;
    drot_link_info i = info(d);
    drot_p256_pub drk, keya_pub, auth_pub;
    drot_p256_priv keya, auth;
    uint8_t nonce[32];
    assert_int_equal(i.epoch, 0);
    memcpy(drk.q, i.drk_pub, 65);
    fwr_new_key(&keya, &keya_pub);
    fwt_key(0, &auth, &auth_pub, NULL);
    get_nonce(d, nonce);
    size_t len = fwr_root_instr(&auth, &auth_pub, &drk, i.device_id, 0, nonce, &keya, g_msg, sizeof g_msg);
    drot_link_frame v = request_msg(d, DROT_LINK_T_ROTATE_ROOT, g_msg, len);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_ROTATE_ROOT));
    const uint8_t *receipt;
    size_t rlen = 0;
    drot_rotate_receipt rc;
    assert_int_equal(drot_link_rot_msg_decode(v.payload, v.payload_len, &receipt, &rlen), DROT_OK);
    assert_int_equal(drot_rotate_receipt_verify(receipt, rlen, &keya_pub, &rc), DROT_OK);
    assert_int_equal(rc.new_epoch, 1);
    i = info(d);
    assert_int_equal(i.epoch, 1);
    assert_memory_equal(i.drk_pub, keya_pub.q, 65);
    expect_token(d, &keya_pub, 1);
    v = request_msg(d, DROT_LINK_T_ROTATE_ROOT, g_msg, len);
    assert_int_equal(error_code(&v), APM_E_STALE);
    i = info(d); /* the next answer is GET_INFO's: nothing shifted */
    assert_int_equal(i.epoch, 1);
}

/* Test 2: device mode over the link / ROTATE_PROPOSE, then ROTATE_ENDORSE
 * by key 1: the receipt verifies under the proposed KeyA; tokens follow. */
static void test_device_mode_link(void **state)
{
    ldev *d = *state;
    drot_link_info i = info(d);
    drot_p256_pub drk, auth_pub;
    drot_p256_priv auth;
    drot_rotate_proposal p;
    memcpy(drk.q, i.drk_pub, 65);
    drot_link_frame v = request_empty(d, DROT_LINK_T_ROTATE_PROPOSE);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_ROTATE_PROPOSE));
    const uint8_t *prop;
    size_t plen = 0, len = 0, rlen = 0;
    assert_int_equal(drot_link_rot_msg_decode(v.payload, v.payload_len, &prop, &plen), DROT_OK);
    assert_int_equal(drot_rotate_proposal_verify(prop, plen, &drk, &p), DROT_OK);
    fwt_key(1, &auth, &auth_pub, NULL);
    assert_int_equal(drot_rotate_endorse_sign(&auth, &auth_pub, &p, g_msg, sizeof g_msg, &len), DROT_OK);
    v = request_msg(d, DROT_LINK_T_ROTATE_ENDORSE, g_msg, len);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_ROTATE_ENDORSE));
    const uint8_t *receipt;
    drot_rotate_receipt rc;
    assert_int_equal(drot_link_rot_msg_decode(v.payload, v.payload_len, &receipt, &rlen), DROT_OK);
    assert_int_equal(drot_rotate_receipt_verify(receipt, rlen, &p.keya, &rc), DROT_OK);
    expect_token(d, &p.keya, 1);
    /* Survives a power cycle. */
    power_off(d);
    boot_and_connect(d);
    expect_token(d, &p.keya, 1);
}

/* Test 3: anchors over the link / ROTATE_ANCHOR ADD answers {op 1, slot 2};
 * a malformed instruction payload is an ERROR and spends the nonce: the
 * good instruction naming that nonce is then refused (APM_E_NONCE). */
static void test_anchor_link_and_nonce_spent(void **state)
{
    ldev *d = *state;
    drot_anchor_instr a;
    drot_p256_priv auth, nk;
    drot_p256_pub auth_pub, nk_pub;
    uint8_t nonce[32], consent[1024];
    size_t clen = 0, len = 0;
    get_nonce(d, nonce);
    fwt_key(0, &auth, &auth_pub, NULL);
    fwt_key(2, &nk, &nk_pub, NULL);
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, FWT_DEVICE_ID, 16);
    memcpy(a.nonce, nonce, 32);
    a.op = DROT_ANCHOR_OP_ADD;
    a.new_key = nk_pub;
    assert_int_equal(
        drot_anchor_consent_sign(&nk, &nk_pub, FWT_DEVICE_ID, nonce, consent, sizeof consent, &clen),
        DROT_OK);
    a.consent = consent;
    a.consent_len = clen;
    assert_int_equal(drot_anchor_instr_sign(&auth, &auth_pub, &a, g_msg, sizeof g_msg, &len), DROT_OK);

    static const uint8_t garbage[] = {0xA1, 0x01, 0x01}; /* {1: 1}: not a bstr */
    drot_link_frame v = request(d, DROT_LINK_T_ROTATE_ANCHOR, garbage, sizeof garbage);
    assert_int_equal(error_code(&v), DROT_E_CLAIM_INVALID);
    v = request_msg(d, DROT_LINK_T_ROTATE_ANCHOR, g_msg, len);
    assert_int_equal(error_code(&v), APM_E_NONCE);

    get_nonce(d, nonce);
    memcpy(a.nonce, nonce, 32);
    assert_int_equal(
        drot_anchor_consent_sign(&nk, &nk_pub, FWT_DEVICE_ID, nonce, consent, sizeof consent, &clen),
        DROT_OK);
    assert_int_equal(drot_anchor_instr_sign(&auth, &auth_pub, &a, g_msg, sizeof g_msg, &len), DROT_OK);
    v = request_msg(d, DROT_LINK_T_ROTATE_ANCHOR, g_msg, len);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_ROTATE_ANCHOR));
    drot_link_anchor_resp r;
    assert_int_equal(drot_link_anchor_resp_decode(v.payload, v.payload_len, &r), DROT_OK);
    assert_int_equal(r.op, DROT_ANCHOR_OP_ADD);
    assert_int_equal(r.slot, 2);
    /* A non-empty GET_ROTATION_NONCE and ROTATE_PROPOSE are refused. */
    static const uint8_t one[] = {0xA1, 0x01, 0x01};
    v = request(d, DROT_LINK_T_GET_ROTATION_NONCE, one, sizeof one);
    assert_int_equal(error_code(&v), APM_E_ARG);
    v = request(d, DROT_LINK_T_ROTATE_PROPOSE, one, sizeof one);
    assert_int_equal(error_code(&v), APM_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_mode_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_mode_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchor_link_and_nonce_spent, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_rotate_link", tests, NULL, NULL);
}
