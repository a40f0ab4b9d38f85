/*
 * test_fw_install_link.c — firmware install over the host link (fw/src/apm.c
 * dispatch, drot/link_fw.h payloads): a device manufactured through the
 * public API (apm/apm.h), booted, a link session opened, and every FW_*
 * request sent as a host driver would. What the host sees: answers in the
 * session, refusals as session ERRORs with their code and reason, the reset
 * after FW_ACTIVATE (apm_device_reset_requested / apm_device_reset), and
 * the anchor guard while a trial runs.
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
#include "drot/cbor.h"
#include "drot/link.h"
#include "drot/link_fw.h"
#include "drot/link_msg.h"
#include "drot/manifest.h"
#include "drot/rotate.h"
#include "fw_inst_util.h"
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

static uint8_t g_payload[DROT_LINK_MAX_PAYLOAD], g_m[1024];

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

/* A new host session (after boot or a reset). */
static void connect_host(ldev *d)
{
    static uint32_t seed = 7;
    drot_rng rng = {lcg_fill, &seed};
    size_t len = 0;
    drot_link_session_wipe(&d->host);
    assert_int_equal(drot_link_session_init_host(&d->host, d->link_key), DROT_OK);
    assert_int_equal(drot_link_host_hello(&d->host, &rng, d->out, sizeof d->out, &len), DROT_OK);
    exchange(d, d->out, len);
    assert_int_equal(drot_link_host_accept_ack(&d->host, d->in, d->in_len, NULL), DROT_OK);
}

static int setup(void **state)
{
    uint8_t anchors[2][32], manifest[DROT_MANIFEST_SIGNED_MAX], digest[32];
    apm_manufacture_params mp;
    apm_identity id;
    char err[256];
    ldev *d = calloc(1, sizeof *d);
    assert_non_null(d);
    snprintf(d->dir, sizeof d->dir, "/tmp/fwinstlink-XXXXXX");
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
    assert_int_equal(apm_device_boot(&d->dev, &d->sim.hal), APM_OK);
    connect_host(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    ldev *d = *state;
    char cmd[600];
    apm_device_shutdown(&d->dev);
    drot_link_session_wipe(&d->host);
    apm_sim_close(&d->sim);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
    free(d);
    return 0;
}

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

/* The answer is an ERROR with code `code` whose message names `why`. */
static void expect_error(const drot_link_frame *v, int32_t code, const char *why)
{
    drot_link_error e;
    char msg[DROT_LINK_MAX_ERROR_MSG + 1];
    assert_int_equal(v->type, DROT_LINK_T_ERROR);
    assert_int_equal(drot_link_error_decode(v->payload, v->payload_len, &e), DROT_OK);
    memcpy(msg, e.message, e.message_len);
    msg[e.message_len] = '\0';
    if (e.code != code || (why != NULL && strstr(msg, why) == NULL))
        fail_msg("expected ERROR %d naming '%s', got %d '%s'", (int)code, why ? why : "", (int)e.code, msg);
}

static void expect_type(const drot_link_frame *v, uint8_t req)
{
    if (v->type != DROT_LINK_RESPONSE_TO(req))
        fail_msg("answer type 0x%02x to request 0x%02x", v->type, req);
}

static drot_link_fw_status fw_status(ldev *d)
{
    static drot_link_fw_status s;
    drot_link_frame v = request_empty(d, DROT_LINK_T_FW_STATUS);
    expect_type(&v, DROT_LINK_T_FW_STATUS);
    assert_int_equal(drot_link_fw_status_decode(v.payload, v.payload_len, &s), DROT_OK);
    return s;
}

/* BEGIN(install), CHUNKs of 2048, FINISH, over the link. */
static drot_link_frame install(ldev *d, const uint8_t *m, size_t mlen, const uint8_t *img, size_t ilen)
{
    size_t plen = 0;
    drot_link_fw_begin b = {m, mlen, DROT_LINK_FW_MODE_INSTALL};
    assert_int_equal(drot_link_fw_begin_encode(&b, g_payload, sizeof g_payload, &plen), DROT_OK);
    drot_link_frame v = request(d, DROT_LINK_T_FW_BEGIN, g_payload, plen);
    if (v.type == DROT_LINK_T_ERROR)
        return v;
    drot_link_fw_begin_resp r;
    assert_int_equal(drot_link_fw_begin_resp_decode(v.payload, v.payload_len, &r), DROT_OK);
    assert_int_equal(r.size, ilen);
    for (size_t off = 0; off < ilen; off += r.chunk) {
        size_t n = ilen - off < r.chunk ? ilen - off : r.chunk;
        drot_link_fw_chunk c = {(uint32_t)off, img + off, n};
        assert_int_equal(drot_link_fw_chunk_encode(&c, g_payload, sizeof g_payload, &plen), DROT_OK);
        v = request(d, DROT_LINK_T_FW_CHUNK, g_payload, plen);
        expect_type(&v, DROT_LINK_T_FW_CHUNK);
    }
    return request_empty(d, DROT_LINK_T_FW_FINISH);
}

static drot_link_frame activate(ldev *d, uint32_t action)
{
    size_t plen = 0;
    assert_int_equal(drot_link_fw_activate_encode(action, g_payload, sizeof g_payload, &plen), DROT_OK);
    return request(d, DROT_LINK_T_FW_ACTIVATE, g_payload, plen);
}

static drot_link_frame confirm(ldev *d, const char *component)
{
    size_t plen = 0;
    drot_link_fw_confirm c;
    memset(&c, 0, sizeof c);
    c.component_len = strlen(component);
    memcpy(c.component, component, c.component_len);
    assert_int_equal(drot_link_fw_confirm_req_encode(&c, g_payload, sizeof g_payload, &plen), DROT_OK);
    return request(d, DROT_LINK_T_FW_CONFIRM, g_payload, plen);
}

static void get_nonce(ldev *d, uint8_t nonce[32])
{
    drot_link_frame v = request_empty(d, DROT_LINK_T_GET_ROTATION_NONCE);
    expect_type(&v, DROT_LINK_T_GET_ROTATION_NONCE);
    assert_int_equal(drot_link_rot_nonce_decode(v.payload, v.payload_len, nonce), DROT_OK);
}

/* ROTATE_ANCHOR revoking `slot`, signed by test key `signer`, for nonce. */
static drot_link_frame revoke_anchor(ldev *d, int signer, uint32_t slot, const uint8_t nonce[32])
{
    static uint8_t msg[FWR_MSG_MAX];
    drot_anchor_instr a;
    drot_p256_priv sp;
    drot_p256_pub spub;
    size_t len = 0, plen = 0;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, FWT_DEVICE_ID, 16);
    memcpy(a.nonce, nonce, 32);
    a.op = DROT_ANCHOR_OP_REVOKE;
    a.slot = slot;
    fwt_key(signer, &sp, &spub, NULL);
    assert_int_equal(drot_anchor_instr_sign(&sp, &spub, &a, msg, sizeof msg, &len), DROT_OK);
    assert_int_equal(drot_link_rot_msg_encode(msg, len, g_payload, sizeof g_payload, &plen), DROT_OK);
    return request(d, DROT_LINK_T_ROTATE_ANCHOR, g_payload, plen);
}

/* SET_REVOCATION_LIST with list version 1, signed by test key `signer`,
 * revoking test key `revoked`. */
static drot_link_frame revocation_list_revoking(ldev *d, int signer, int revoked)
{
    static uint8_t msg[DROT_REVOCATION_SIGNED_MAX];
    uint8_t h[32];
    drot_revocation_list l;
    drot_p256_priv sp;
    drot_p256_pub spub;
    size_t len = 0, plen = 0;
    fwt_key(revoked, NULL, NULL, h);
    memset(&l, 0, sizeof l);
    l.version = 1;
    l.n_authorities = 1;
    l.authorities[0] = h;
    fwt_key(signer, &sp, &spub, NULL);
    assert_int_equal(drot_revocation_sign(&sp, &spub, &l, msg, sizeof msg, &len), DROT_OK);
    assert_int_equal(drot_link_revocation_req_encode(msg, len, g_payload, sizeof g_payload, &plen), DROT_OK);
    return request(d, DROT_LINK_T_SET_REVOCATION_LIST, g_payload, plen);
}

/* Test 1: an update over the link, signed by the other anchor / FINISH
 * answers the verified image; FW_STATUS says pending; FW_ACTIVATE answers
 * reset = true and the device asks for the reset; after apm_device_reset
 * the old session is gone (a frame in it is refused under k_hello) and a
 * new one sees the new image in GET_INFO. While the trial runs, a
 * ROTATE_ANCHOR revoking the old image's anchor is refused (APM_E_FW_STATE)
 * and spends the nonce, and so is a revocation list revoking that anchor;
 * after FW_CONFIRM the same revocation with a fresh nonce is carried out,
 * and the device still boots the new image. */
static void test_update_over_link(void **state)
{
    ldev *d = *state;
    const uint8_t *img = fwi_image(1, FWI_B_LEN);
    uint8_t nonce[32];
    size_t mlen = fwi_manifest(1, "APM", "2.0.0", 2, img, FWI_B_LEN, g_m, sizeof g_m);

    drot_link_frame v = install(d, g_m, mlen, img, FWI_B_LEN);
    expect_type(&v, DROT_LINK_T_FW_FINISH);
    drot_link_fw_image res;
    assert_int_equal(drot_link_fw_image_decode(v.payload, v.payload_len, &res), DROT_OK);
    assert_int_equal(res.svn, 2);
    drot_link_fw_status s = fw_status(d);
    assert_int_equal(s.trial, DROT_LINK_FW_TRIAL_PENDING);

    v = activate(d, DROT_LINK_FW_ACTIVATE_TRIAL);
    expect_type(&v, DROT_LINK_T_FW_ACTIVATE);
    bool reset = false;
    assert_int_equal(drot_link_fw_activate_resp_decode(v.payload, v.payload_len, &reset), DROT_OK);
    assert_true(reset);
    assert_true(apm_device_reset_requested(&d->dev));
    assert_int_equal(apm_device_reset(&d->dev), APM_OK);
    assert_false(apm_device_reset_requested(&d->dev));
    /* The old session is gone: its next frame does not open at the APM. */
    size_t len = 0;
    assert_int_equal(drot_link_session_seal(&d->host, DROT_LINK_T_GET_INFO, (const uint8_t *)"\xa0", 1,
                                            d->out, sizeof d->out, &len),
                     DROT_OK);
    exchange(d, d->out, len);
    drot_link_frame ignored;
    assert_int_not_equal(drot_link_session_open(&d->host, d->in, d->in_len, &ignored), DROT_OK);
    connect_host(d);
    v = request_empty(d, DROT_LINK_T_GET_INFO);
    static drot_link_info info;
    assert_int_equal(drot_link_info_decode(v.payload, v.payload_len, &info), DROT_OK);
    assert_memory_equal(info.measurements[0].version, "2.0.0", 5);
    s = fw_status(d);
    assert_int_equal(s.running, 1);
    assert_int_equal(s.trial, DROT_LINK_FW_TRIAL_TRYING);

    get_nonce(d, nonce);
    v = revoke_anchor(d, 1, 0, nonce);
    expect_error(&v, APM_E_FW_STATE, "on trial");
    v = revocation_list_revoking(d, 1, 0); /* nor a revocation list (docs/revocation.md §3) */
    expect_error(&v, APM_E_FW_STATE, "on trial");
    v = confirm(d, "APM");
    expect_type(&v, DROT_LINK_T_FW_CONFIRM);
    drot_link_fw_confirm c;
    assert_int_equal(drot_link_fw_confirm_resp_decode(v.payload, v.payload_len, &c), DROT_OK);
    assert_int_equal(c.svn, 2);
    v = revoke_anchor(d, 1, 0, nonce);
    expect_error(&v, APM_E_NONCE, NULL); /* the refused instruction spent it */
    get_nonce(d, nonce);
    v = revoke_anchor(d, 1, 0, nonce);
    expect_type(&v, DROT_LINK_T_ROTATE_ANCHOR);

    apm_device_shutdown(&d->dev);
    assert_int_equal(apm_device_boot(&d->dev, &d->sim.hal), APM_OK);
    connect_host(d);
    s = fw_status(d);
    assert_int_equal(s.running, 1);
    assert_int_equal(s.slots[1].status, 0);
    assert_int_equal(s.slots[0].status, APM_E_ANCHOR); /* the old image's signer is revoked now */
}

/* Test 2: bad requests over the link / a malformed FW_BEGIN, an oversized
 * manifest, an empty chunk, an unknown activate action, a non-empty
 * FW_STATUS and FW_FINISH request, a confirm of an unknown component or
 * with nothing to confirm, a chunk with no session: each answered with a
 * session ERROR (the codec's status, or the APM's with its reason), the
 * persistent state unchanged byte for byte, the session still in step. */
static void test_bad_requests(void **state)
{
    ldev *d = *state;
    size_t n = (size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE;
    uint8_t *flash = malloc(n), otp[APM_SIM_OTP_SIZE];
    assert_non_null(flash);
    memcpy(flash, d->sim.flash, n);
    memcpy(otp, d->sim.otp, sizeof otp);
    static uint8_t big[600];

    static const uint8_t begin_bad_key[] = {0xa3, 0x01, 0x41, 0x00, 0x02, 0x01, 0x07, 0x00};
    drot_link_frame v = request(d, DROT_LINK_T_FW_BEGIN, begin_bad_key, sizeof begin_bad_key);
    expect_error(&v, DROT_E_UNKNOWN_CLAIM, NULL);
    drot_cbor_writer w;
    size_t plen = 0;
    drot_cbor_writer_init(&w, g_payload, sizeof g_payload);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, big, 513);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, 1);
    assert_int_equal(drot_cbor_writer_finish(&w, &plen), DROT_OK);
    v = request(d, DROT_LINK_T_FW_BEGIN, g_payload, plen);
    expect_error(&v, DROT_E_CLAIM_INVALID, NULL);
    static const uint8_t chunk_empty[] = {0xa2, 0x01, 0x00, 0x02, 0x40};
    v = request(d, DROT_LINK_T_FW_CHUNK, chunk_empty, sizeof chunk_empty);
    expect_error(&v, DROT_E_CLAIM_INVALID, NULL);
    static const uint8_t chunk_ok[] = {0xa2, 0x01, 0x00, 0x02, 0x41, 0x00};
    v = request(d, DROT_LINK_T_FW_CHUNK, chunk_ok, sizeof chunk_ok);
    expect_error(&v, APM_E_FW_STATE, "FW_BEGIN first");
    static const uint8_t act5[] = {0xa1, 0x01, 0x05};
    v = request(d, DROT_LINK_T_FW_ACTIVATE, act5, sizeof act5);
    expect_error(&v, DROT_E_CLAIM_INVALID, NULL);
    static const uint8_t not_empty[] = {0xa1, 0x01, 0x00};
    v = request(d, DROT_LINK_T_FW_STATUS, not_empty, sizeof not_empty);
    expect_error(&v, APM_E_ARG, NULL);
    v = request(d, DROT_LINK_T_FW_FINISH, not_empty, sizeof not_empty);
    expect_error(&v, APM_E_ARG, NULL);
    v = confirm(d, "BIOS");
    expect_error(&v, APM_E_COMPONENT, "unknown component");
    v = confirm(d, "APM");
    expect_error(&v, APM_E_FW_STATE, "nothing to confirm");
    v = activate(d, DROT_LINK_FW_ACTIVATE_TRIAL);
    expect_error(&v, APM_E_FW_STATE, "install one first");
    /* A manifest by an unknown key: refused with its reason, nothing written. */
    const uint8_t *img = fwi_image(1, FWI_B_LEN);
    size_t mlen = fwi_manifest(2, "APM", "2.0.0", 2, img, FWI_B_LEN, g_m, sizeof g_m);
    v = install(d, g_m, mlen, img, FWI_B_LEN);
    expect_error(&v, APM_E_ANCHOR, "not a trusted anchor");

    assert_memory_equal(d->sim.otp, otp, sizeof otp);
    assert_true(memcmp(d->sim.flash, flash, n) == 0);
    free(flash);
    drot_link_fw_status s = fw_status(d); /* still in step */
    assert_int_equal(s.trial, DROT_LINK_FW_TRIAL_NONE);
    assert_int_equal(s.session_mode, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_over_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_install_link", tests, NULL, fwt_group_teardown);
}
