/*
 * test_fw_device.c — the APM device through its public API (apm/apm.h):
 * manufacture, boot, and the host link, in-process on the sim HAL.
 *
 * The host side uses the same link code a real host driver uses
 * (drot/link.h, drot/link_msg.h). Every attack must be answered with an
 * ERROR frame and change nothing: afterwards the session still works and
 * the measurement table is what it was.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "apm/apm.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "sim_hal.h"

typedef struct fixture {
    char dir[64];
    apm_sim sim;
    apm_device dev;
    apm_identity id;
    uint8_t link_key[32];
    uint8_t image_digest[32];
    drot_link_session host;
    uint8_t out[APM_FRAME_MAX], in[APM_FRAME_MAX];
    size_t in_len;
} fixture;

/* A fixed authority key (any valid scalar). */
static const uint8_t k_auth_d[32] = {0x41, 0x2c, 0x3e, 0x9a, 0x01, 0x55, 0x77, 0x10, 0xaa, 0x31, 0x42,
                                     0x53, 0x64, 0x75, 0x86, 0x97, 0xa8, 0xb9, 0xca, 0xdb, 0xec, 0xfd,
                                     0x0e, 0x1f, 0x20, 0x31, 0x42, 0x53, 0x64, 0x75, 0x86, 0x97};

static void manufacture(fixture *f)
{
    static uint8_t image[8192], manifest[2048];
    drot_p256_priv apriv;
    drot_p256_pub apub;
    assert_int_equal(drot_p256_key_from_scalar(k_auth_d, &apriv, &apub), DROT_OK);
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7 + 3);
    drot_manifest m = {.component = "APM",
                       .component_len = 3,
                       .version = "1.0.0",
                       .version_len = 5,
                       .svn = 1,
                       .size = sizeof image};
    assert_int_equal(drot_sha256(image, sizeof image, m.digest), DROT_OK);
    memcpy(f->image_digest, m.digest, 32);
    size_t mlen = 0;
    assert_int_equal(drot_manifest_sign(&apriv, &apub, &m, manifest, sizeof manifest, &mlen), DROT_OK);

    uint8_t anchor[1][32];
    assert_int_equal(drot_sha256(apub.q, sizeof apub.q, anchor[0]), DROT_OK);
    apm_manufacture_params p = {.anchors = (const uint8_t(*)[32])anchor,
                                .n_anchors = 1,
                                .manifest = manifest,
                                .manifest_len = mlen,
                                .image = image,
                                .image_len = sizeof image};
    memset(p.device_id, 0xd1, sizeof p.device_id);
    memset(p.uds, 0x5e, sizeof p.uds);
    memset(p.link_key, 0x1c, sizeof p.link_key);
    memcpy(f->link_key, p.link_key, 32);

    char err[256];
    assert_int_equal(apm_sim_open(&f->sim, f->dir, true, err, sizeof err), 0);
    assert_int_equal(apm_device_manufacture(&f->sim.hal, &p, &f->id), APM_OK);
    /* Re-running with the same parameters is a no-op with the same identity. */
    apm_identity again;
    assert_int_equal(apm_device_manufacture(&f->sim.hal, &p, &again), APM_OK);
    assert_memory_equal(again.drk_pub, f->id.drk_pub, 65);
    apm_sim_close(&f->sim);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/drot-fwdev-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    manufacture(f);
    char err[256];
    if (apm_sim_open(&f->sim, f->dir, false, err, sizeof err) != 0)
        return -1;
    if (apm_device_boot(&f->dev, &f->sim.hal) != APM_OK)
        return -1;
    if (drot_link_session_init_host(&f->host, f->link_key) != DROT_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    apm_device_shutdown(&f->dev);
    apm_sim_close(&f->sim);
    drot_link_session_wipe(&f->host);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Sends frame out[0..len) to the device and keeps its answer in f->in. */
static void exchange(fixture *f, const uint8_t *frame, size_t len)
{
    assert_int_equal(apm_device_handle(&f->dev, frame, len, f->in, sizeof f->in, &f->in_len), APM_OK);
    assert_true(f->in_len > 0);
}

static void handshake(fixture *f)
{
    drot_rng rng = drot_sysrng();
    size_t len = 0;
    assert_int_equal(drot_link_host_hello(&f->host, &rng, f->out, sizeof f->out, &len), DROT_OK);
    exchange(f, f->out, len);
    assert_int_equal(drot_link_host_accept_ack(&f->host, f->in, f->in_len, NULL), DROT_OK);
}

/* A request in the session; returns the answer's view (ERROR included). */
static drot_link_frame request(fixture *f, uint8_t type, const uint8_t *payload, size_t plen)
{
    size_t len = 0;
    drot_link_frame v;
    assert_int_equal(drot_link_session_seal(&f->host, type, payload, plen, f->out, sizeof f->out, &len),
                     DROT_OK);
    exchange(f, f->out, len);
    assert_int_equal(drot_link_session_open(&f->host, f->in, f->in_len, &v), DROT_OK);
    return v;
}

static int32_t error_code(const drot_link_frame *v)
{
    drot_link_error e;
    assert_int_equal(v->type, DROT_LINK_T_ERROR);
    assert_int_equal(drot_link_error_decode(v->payload, v->payload_len, &e), DROT_OK);
    assert_true(e.message_len > 0);
    return e.code;
}

/* The answer in f->in refuses a frame that did not open in the session: it is
 * an ERROR under k_hello with the given code, and it does NOT open in the
 * session (so it can never be taken as the answer to a session request). */
static void expect_refused(fixture *f, int32_t code)
{
    uint8_t k_hello[32];
    drot_link_frame v;
    drot_link_session probe = f->host;
    assert_int_not_equal(drot_link_session_open(&probe, f->in, f->in_len, &v), DROT_OK);
    assert_int_equal(drot_link_hello_key(f->link_key, k_hello), DROT_OK);
    assert_int_equal(drot_link_frame_open(k_hello, f->in, f->in_len, &v), DROT_OK);
    assert_int_equal(error_code(&v), code);
}

static drot_link_info *get_info(fixture *f)
{
    static drot_link_info info;
    static const uint8_t empty[] = {0xa0};
    drot_link_frame v = request(f, DROT_LINK_T_GET_INFO, empty, 1);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_INFO));
    assert_int_equal(drot_link_info_decode(v.payload, v.payload_len, &info), DROT_OK);
    return &info;
}

static uint32_t extend(fixture *f, const char *type, int32_t *err)
{
    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    m.type_len = strlen(type);
    memcpy(m.type, type, m.type_len);
    m.version_len = 3;
    memcpy(m.version, "2.1", 3);
    memset(m.digest, 0x33, 32);
    memset(m.signer, 0x44, 32);
    uint8_t p[256];
    size_t plen = 0;
    assert_int_equal(drot_link_extend_req_encode(&m, p, sizeof p, &plen), DROT_OK);
    drot_link_frame v = request(f, DROT_LINK_T_EXTEND_MEASUREMENT, p, plen);
    if (v.type == DROT_LINK_T_ERROR) {
        *err = error_code(&v);
        return UINT32_MAX;
    }
    uint32_t index = 0;
    assert_int_equal(drot_link_extend_resp_decode(v.payload, v.payload_len, &index), DROT_OK);
    *err = 0;
    return index;
}

/* Test 1: handshake, GET_INFO / the identity from manufacturing, epoch 0,
 * lifecycle provisioned, image verified and measured as component 0. */
static void test_info(void **state)
{
    fixture *f = *state;
    handshake(f);
    drot_link_info *info = get_info(f);
    assert_memory_equal(info->device_id, f->id.device_id, 16);
    assert_memory_equal(info->drk_pub, f->id.drk_pub, 65);
    assert_memory_equal(info->instance_id, f->id.instance_id, 33);
    assert_int_equal(info->epoch, 0);
    assert_int_equal(info->lifecycle, 1); /* APM_LC_PROVISIONED */
    assert_int_equal(info->boot_status, 0);
    assert_int_equal(info->num_measurements, 1);
    assert_int_equal(info->measurements[0].type_len, 3);
    assert_memory_equal(info->measurements[0].type, "APM", 3);
    assert_memory_equal(info->measurements[0].digest, f->image_digest, 32);
}

/* Test 2: GET_TOKEN in both profiles after EXTEND_MEASUREMENT / the token
 * verifies under the DRK from manufacturing, carries the nonce, and lists
 * the APM image then the host stage. */
static void test_token(void **state)
{
    fixture *f = *state;
    handshake(f);
    int32_t err;
    assert_int_equal(extend(f, "HOST-BL", &err), 1);
    drot_p256_pub pub;
    assert_int_equal(drot_p256_pub_import(f->id.drk_pub, 65, &pub), DROT_OK);
    for (uint32_t profile = 1; profile <= 2; profile++) {
        drot_link_token_req tr = {.nonce_len = 48, .profile = profile};
        memset(tr.nonce, (int)(0xa0 + profile), 48);
        uint8_t p[128];
        size_t plen = 0;
        assert_int_equal(drot_link_token_req_encode(&tr, p, sizeof p, &plen), DROT_OK);
        drot_link_frame v = request(f, DROT_LINK_T_GET_TOKEN, p, plen);
        assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_TOKEN));
        const uint8_t *tok;
        size_t tok_len;
        assert_int_equal(drot_link_token_resp_decode(v.payload, v.payload_len, &tok, &tok_len), DROT_OK);
        drot_cose_sign1_view cv;
        assert_int_equal(drot_cose_sign1_verify_msg(tok, tok_len, &pub, NULL, 0, &cv), DROT_OK);
        drot_eat_claims c;
        assert_int_equal(drot_eat_decode(cv.payload, cv.payload_len, &c), DROT_OK);
        assert_int_equal(c.profile, profile);
        assert_int_equal(c.nonce.len, 48);
        assert_memory_equal(c.nonce.p, tr.nonce, 48);
        assert_int_equal(c.num_components, 2);
        assert_memory_equal(c.components[0].measurement_value.p, f->image_digest, 32);
        assert_int_equal(c.components[1].measurement_type.len, 7);
        assert_memory_equal(c.components[1].measurement_type.p, "HOST-BL", 7);
    }
}

/* Test 3: requests before HELLO, and a HELLO under the wrong link key /
 * ERROR, no session (a later request still gets "no session"). */
static void test_no_session(void **state)
{
    fixture *f = *state;
    static const uint8_t empty[] = {0xa0};
    uint8_t other_key[32];
    memset(other_key, 0x99, sizeof other_key);
    drot_link_session wrong;
    assert_int_equal(drot_link_session_init_host(&wrong, other_key), DROT_OK);
    drot_rng rng = drot_sysrng();
    size_t len = 0;
    assert_int_equal(drot_link_host_hello(&wrong, &rng, f->out, sizeof f->out, &len), DROT_OK);
    exchange(f, f->out, len);
    /* The answer is not a HELLO_ACK the wrong key can accept. */
    assert_int_not_equal(drot_link_host_accept_ack(&wrong, f->in, f->in_len, NULL), DROT_OK);
    drot_link_session_wipe(&wrong);

    /* A request framed under a made-up session key: refused, no session. */
    uint8_t fake_key[32];
    memset(fake_key, 0x77, sizeof fake_key);
    assert_int_equal(
        drot_link_frame_seal(fake_key, DROT_LINK_T_GET_INFO, 1, empty, 1, f->out, sizeof f->out, &len),
        DROT_OK);
    exchange(f, f->out, len);
    /* The answer is an ERROR under k_hello (no session keys exist) saying so. */
    uint8_t k_hello[32];
    drot_link_frame v;
    assert_int_equal(drot_link_hello_key(f->link_key, k_hello), DROT_OK);
    assert_int_equal(drot_link_frame_open(k_hello, f->in, f->in_len, &v), DROT_OK);
    assert_int_equal(error_code(&v), DROT_E_STATE);
}

/* Test 4: a flipped bit anywhere in a request / ERROR; the measurement table
 * and the session are unchanged (the next good request gets index 1). */
static void test_flipped_bits(void **state)
{
    fixture *f = *state;
    handshake(f);
    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    m.type_len = 7;
    memcpy(m.type, "HOST-OS", 7);
    m.version_len = 1;
    m.version[0] = '1';
    uint8_t p[256];
    size_t plen = 0, len = 0;
    assert_int_equal(drot_link_extend_req_encode(&m, p, sizeof p, &plen), DROT_OK);
    drot_link_session saved = f->host;
    assert_int_equal(drot_link_session_seal(&f->host, DROT_LINK_T_EXTEND_MEASUREMENT, p, plen, f->out,
                                            sizeof f->out, &len),
                     DROT_OK);
    for (size_t i = 0; i < len; i += 3) {
        f->out[i] ^= 0x10;
        exchange(f, f->out, len);
        f->out[i] ^= 0x10;
        drot_link_frame v;
        drot_link_session probe = f->host;
        /* Refused frames are answered outside the session, never in it. */
        assert_int_not_equal(drot_link_session_open(&probe, f->in, f->in_len, &v), DROT_OK);
    }
    /* the host's own session moved only by the answers it accepted */
    assert_true(f->host.last_rx_seq >= saved.last_rx_seq);
    int32_t err;
    assert_int_equal(extend(f, "HOST-OS", &err), 1); /* only now is it added */
}

/* Test 5: a replayed request and an older seq / ERROR with DROT_E_STATE;
 * the extension happened exactly once. */
static void test_replay(void **state)
{
    fixture *f = *state;
    handshake(f);
    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    m.type_len = 7;
    memcpy(m.type, "HOST-BL", 7);
    m.version_len = 1;
    m.version[0] = '1';
    uint8_t p[256], first[APM_FRAME_MAX];
    size_t plen = 0, len = 0;
    drot_link_frame v;
    assert_int_equal(drot_link_extend_req_encode(&m, p, sizeof p, &plen), DROT_OK);
    assert_int_equal(
        drot_link_session_seal(&f->host, DROT_LINK_T_EXTEND_MEASUREMENT, p, plen, first, sizeof first, &len),
        DROT_OK);
    exchange(f, first, len);
    assert_int_equal(drot_link_session_open(&f->host, f->in, f->in_len, &v), DROT_OK);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_EXTEND_MEASUREMENT));
    exchange(f, first, len); /* the same frame again */
    expect_refused(f, DROT_E_STATE);
    assert_int_equal(get_info(f)->num_measurements, 2);
}

/* Test 6: truncated and oversized frames, garbage CBOR under a valid tag, an
 * unknown request type / each an ERROR; the session still works. */
static void test_bad_frames(void **state)
{
    fixture *f = *state;
    handshake(f);
    static const uint8_t empty[] = {0xa0};
    size_t len = 0;
    drot_link_frame v;
    assert_int_equal(
        drot_link_session_seal(&f->host, DROT_LINK_T_GET_INFO, empty, 1, f->out, sizeof f->out, &len),
        DROT_OK);
    for (size_t cut = 1; cut < len; cut += 5) {
        assert_int_equal(apm_device_handle(&f->dev, f->out, cut, f->in, sizeof f->in, &f->in_len), APM_OK);
        assert_true(f->in_len > 0);
    }
    /* oversized: a header announcing 5000 bytes */
    uint8_t big[16] = {0x44, 0x4c, 0x01, DROT_LINK_T_GET_INFO, 0, 0, 0, 9, 0x13, 0x88};
    assert_int_equal(apm_device_handle(&f->dev, big, sizeof big, f->in, sizeof f->in, &f->in_len), APM_OK);
    assert_true(f->in_len > 0);

    /* garbage payload (not a map) with a correct tag under the session key */
    uint8_t frame[64] = {0x44, 0x4c, 0x01, DROT_LINK_T_GET_INFO, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff};
    uint32_t seq = (uint32_t)f->host.next_tx_seq + 10;
    frame[4] = (uint8_t)(seq >> 24), frame[5] = (uint8_t)(seq >> 16), frame[6] = (uint8_t)(seq >> 8),
    frame[7] = (uint8_t)seq;
    uint8_t mac[32];
    assert_int_equal(drot_hmac_sha256(f->host.k_tx, 32, frame, 13, mac), DROT_OK);
    memcpy(frame + 13, mac, 16);
    exchange(f, frame, 29);
    expect_refused(f, DROT_E_MALFORMED);

    /* a type no message is assigned to */
    v = request(f, 0x7E, empty, 1);
    assert_int_equal(error_code(&v), DROT_E_UNSUPPORTED);
    /* and the session still works */
    assert_int_equal(get_info(f)->epoch, 0);
}

/* Test 6b: the misbinding attack (found in review). Stimulus: someone
 * without the link key injects a frame with a valid header and a wrong tag
 * just before each of the host's UNSEAL requests. Expected: the injected
 * frame's answer never opens in the session, and each request gets its own
 * answer: label B's request is never answered with label A's secret. */
static void test_injected_frames_never_shift_answers(void **state)
{
    fixture *f = *state;
    handshake(f);
    static const char *const labels[2] = {"label-a", "label-b"};
    static const char *const secrets[2] = {"secret-for-label-A", "secret-for-label-B"};
    uint8_t blobs[2][DROT_LINK_SEAL_MAX_BLOB];
    size_t blob_len[2];
    uint8_t p[DROT_LINK_MAX_PAYLOAD];
    size_t plen = 0;
    for (int i = 0; i < 2; i++) {
        drot_link_seal_req sr = {.label_len = 7, .data = (const uint8_t *)secrets[i], .data_len = 18};
        memcpy(sr.label, labels[i], 7);
        assert_int_equal(drot_link_seal_req_encode(&sr, p, sizeof p, &plen), DROT_OK);
        drot_link_frame v = request(f, DROT_LINK_T_SEAL, p, plen);
        assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_SEAL));
        const uint8_t *b;
        assert_int_equal(drot_link_blob_resp_decode(v.payload, v.payload_len, &b, &blob_len[i]), DROT_OK);
        memcpy(blobs[i], b, blob_len[i]);
    }
    for (int i = 0; i < 2; i++) {
        /* the injected frame: header of a GET_INFO, garbage tag */
        uint8_t junk[27] = {0x44, 0x4c, 0x01, DROT_LINK_T_GET_INFO, 0, 0, 0x10, 0, 0, 1, 0xa0};
        memset(junk + 11, 0x5a, 16);
        exchange(f, junk, sizeof junk);
        expect_refused(f, DROT_E_VERIFY);

        drot_link_unseal_req ur = {.label_len = 7, .blob = blobs[i], .blob_len = blob_len[i]};
        memcpy(ur.label, labels[i], 7);
        assert_int_equal(drot_link_unseal_req_encode(&ur, p, sizeof p, &plen), DROT_OK);
        uint32_t before = f->host.last_rx_seq;
        drot_link_frame v = request(f, DROT_LINK_T_UNSEAL, p, plen);
        assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_UNSEAL));
        assert_int_equal(f->host.last_rx_seq, before + 1); /* the APM's session did not move on the junk */
        const uint8_t *data;
        size_t dlen;
        assert_int_equal(drot_link_data_resp_decode(v.payload, v.payload_len, &data, &dlen), DROT_OK);
        assert_int_equal(dlen, 18);
        assert_memory_equal(data, secrets[i], 18);
    }
}

/* Test 7: apm_device_serve over a socketpair (the byte-stream loop a UART
 * port uses) / the same answers as apm_device_handle; it returns when the
 * host hangs up. */
static void *serve_thread(void *arg)
{
    fixture *f = arg;
    return (void *)(intptr_t)apm_device_serve(&f->dev);
}

static void test_serve_loop(void **state)
{
    fixture *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    apm_sim_set_link(&f->sim, sv[1]);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_thread, f), 0);

    drot_rng rng = drot_sysrng();
    size_t len = 0;
    assert_int_equal(drot_link_host_hello(&f->host, &rng, f->out, sizeof f->out, &len), DROT_OK);
    assert_int_equal(write(sv[0], f->out, len), (ssize_t)len);
    /* HELLO_ACK: header, then payload + tag */
    size_t got = 0, want = DROT_LINK_HEADER_LEN;
    while (got < want) {
        ssize_t n = read(sv[0], f->in + got, want - got);
        assert_true(n > 0);
        got += (size_t)n;
        if (got == DROT_LINK_HEADER_LEN) {
            size_t pl = 0;
            assert_int_equal(drot_link_parse_header(f->in, got, NULL, NULL, &pl), DROT_OK);
            want += pl + DROT_LINK_TAG_LEN;
        }
    }
    assert_int_equal(drot_link_host_accept_ack(&f->host, f->in, got, NULL), DROT_OK);
    close(sv[0]);
    void *ret;
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((intptr_t)ret, APM_OK);
    close(sv[1]);
}

/* ---- deploy (apm_device_deploy): the factory's last step ------------------ */

/* Reopens the state directory (a "reboot" of the simulated hardware). */
static void reopen(fixture *f)
{
    char err[256];
    apm_sim_close(&f->sim);
    assert_int_equal(apm_sim_open(&f->sim, f->dir, false, err, sizeof err), 0);
}

/* A drot-profile token's PSA lifecycle claim, from a freshly booted device. */
static uint32_t token_lifecycle(fixture *f)
{
    assert_int_equal(apm_device_boot(&f->dev, &f->sim.hal), APM_OK);
    assert_int_equal(drot_link_session_init_host(&f->host, f->link_key), DROT_OK);
    handshake(f);
    drot_link_token_req tr = {.nonce_len = 32, .profile = 2};
    memset(tr.nonce, 0x5a, 32);
    uint8_t p[128];
    size_t plen = 0;
    assert_int_equal(drot_link_token_req_encode(&tr, p, sizeof p, &plen), DROT_OK);
    drot_link_frame v = request(f, DROT_LINK_T_GET_TOKEN, p, plen);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_TOKEN));
    const uint8_t *tok;
    size_t tok_len;
    assert_int_equal(drot_link_token_resp_decode(v.payload, v.payload_len, &tok, &tok_len), DROT_OK);
    drot_p256_pub pub;
    assert_int_equal(drot_p256_pub_import(f->id.drk_pub, 65, &pub), DROT_OK);
    drot_cose_sign1_view cv;
    assert_int_equal(drot_cose_sign1_verify_msg(tok, tok_len, &pub, NULL, 0, &cv), DROT_OK);
    drot_eat_claims c;
    assert_int_equal(drot_eat_decode(cv.payload, cv.payload_len, &c), DROT_OK);
    return c.security_lifecycle;
}

/* Test 9: deploy / lifecycle PROVISIONED (0x2000) → DEPLOYED (0x3000, PSA
 * "secured") in tokens and GET_INFO; exactly one fuse byte changes; a second
 * run is a no-op that writes nothing. */
static void test_deploy(void **state)
{
    fixture *f = *state;
    uint8_t before[APM_SIM_OTP_SIZE];
    apm_device_shutdown(&f->dev);
    assert_int_equal(token_lifecycle(f), 0x2000);
    apm_device_shutdown(&f->dev);
    reopen(f);
    memcpy(before, f->sim.otp, sizeof before);
    long writes = f->sim.writes;
    assert_int_equal(apm_device_deploy(&f->sim.hal), APM_OK);
    assert_int_equal(f->sim.writes, writes + 1);
    size_t changed = 0;
    for (size_t i = 0; i < sizeof before; i++)
        changed += before[i] != f->sim.otp[i];
    assert_int_equal(changed, 1);
    reopen(f);
    assert_int_equal(token_lifecycle(f), 0x3000);
    drot_link_info *info = get_info(f);
    assert_int_equal(info->lifecycle, 2); /* APM_LC_DEPLOYED */
    apm_device_shutdown(&f->dev);

    memcpy(before, f->sim.otp, sizeof before);
    writes = f->sim.writes;
    assert_int_equal(apm_device_deploy(&f->sim.hal), APM_OK);
    assert_int_equal(f->sim.writes, writes);
    assert_memory_equal(before, f->sim.otp, sizeof before);
    assert_int_equal(apm_device_boot(&f->dev, &f->sim.hal), APM_OK); /* for teardown */
}

/* Test 10: deploy on a blank device (manufacturing not done) / refused with
 * APM_E_NOT_PROVISIONED, no write. */
static void test_deploy_refused_blank(void **state)
{
    (void)state;
    char dir[] = "/tmp/drot-fwdep-XXXXXX", err[256], cmd[128];
    apm_sim sim;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(apm_sim_open(&sim, dir, true, err, sizeof err), 0);
    assert_int_equal(apm_device_deploy(&sim.hal), APM_E_NOT_PROVISIONED);
    assert_int_equal(sim.writes, 0);
    apm_sim_close(&sim);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Test 11: deploy after an intrusion / the lifecycle is TAMPERED for good:
 * APM_E_LIFECYCLE, no write, tokens still refused. */
static void test_deploy_refused_tampered(void **state)
{
    fixture *f = *state;
    apm_device_shutdown(&f->dev);
    apm_tamper_sensors s = {.supply_mv = 3300, .temp_mc = 25000, .intrusion = true};
    apm_sim_set_sensors(&f->sim, &s);
    assert_int_equal(apm_device_boot(&f->dev, &f->sim.hal), APM_OK);
    apm_device_shutdown(&f->dev);
    reopen(f);
    assert_int_equal(f->sim.otp[0x0D1] & 0x4, 0x4); /* otp.h: lifecycle bit 2 tampered */
    uint8_t before[APM_SIM_OTP_SIZE];
    memcpy(before, f->sim.otp, sizeof before);
    assert_int_equal(apm_device_deploy(&f->sim.hal), APM_E_LIFECYCLE);
    assert_int_equal(f->sim.writes, 0);
    assert_memory_equal(before, f->sim.otp, sizeof before);
    assert_int_equal(apm_device_boot(&f->dev, &f->sim.hal), APM_OK);
}

/* Test 12: a power cut at deploy's one write, clean and torn / the device is
 * PROVISIONED or DEPLOYED, never anything else, its key still signs, and
 * running deploy again completes it. */
static void test_deploy_power_cut(void **state)
{
    fixture *f = *state;
    apm_device_shutdown(&f->dev);
    reopen(f);
    apm_sim_cut_after(&f->sim, 1, true);
    assert_int_equal(apm_device_deploy(&f->sim.hal), APM_E_POWER);
    reopen(f);
    assert_int_equal(token_lifecycle(f), 0x2000); /* a torn 1-byte write wrote nothing */
    apm_device_shutdown(&f->dev);
    reopen(f);
    apm_sim_cut_after(&f->sim, 1, false);
    assert_int_equal(apm_device_deploy(&f->sim.hal), APM_OK); /* the cut write itself completed */
    reopen(f);
    assert_int_equal(token_lifecycle(f), 0x3000);
    apm_device_shutdown(&f->dev);
    assert_int_equal(apm_device_deploy(&f->sim.hal), APM_OK);
    assert_int_equal(apm_device_boot(&f->dev, &f->sim.hal), APM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injected_frames_never_shift_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy, setup, teardown),
        cmocka_unit_test(test_deploy_refused_blank),
        cmocka_unit_test_setup_teardown(test_deploy_refused_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_power_cut, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_device", tests, NULL, NULL);
}
