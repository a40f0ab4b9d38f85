/*
 * test_fw_seal.c — SEAL and UNSEAL (fw/src/seal.c, docs/apm-boot.md
 * "Sealing") through the device's public API (apm/apm.h): each test
 * manufactures devices on the sim HAL, boots them, opens a link session and
 * sends SEAL / UNSEAL frames the way a host driver does (drot/link.h,
 * drot/link_msg.h). Firmware updates are simulated by installing another
 * image in slot A through a fresh core (boot.h apm_boot_install_slot_a),
 * with manifests signed by the test authority keys of fw_test_util.
 *
 * One test calls apm_seal_unseal directly, to see the output buffer that
 * the link never shows: it must be zeroed when a blob does not open.
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
#include "boot.h"
#include "core.h"
#include "drot/cbor.h"
#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "fw_test_util.h"
#include "seal.h"
#include "sim_hal.h"

typedef struct sdev {
    char dir[512];
    apm_sim sim;
    bool sim_open;
    apm_device dev;
    bool booted;
    drot_link_session host;
    uint8_t link_key[32];
    uint8_t out[APM_FRAME_MAX], in[APM_FRAME_MAX];
    size_t in_len;
} sdev;

/* What distinguishes the devices of a test. */
typedef struct sdev_params {
    uint8_t uds_fill;
    uint8_t device_id_fill;
    size_t n_anchors; /* anchors = test keys 0 .. n-1 */
} sdev_params;

static const sdev_params DEV_A = {0x5e, 0xd1, 2};

/* ---- state directories -------------------------------------------------- */

#define MAX_DIRS 32
static char g_dirs[MAX_DIRS][512];
static size_t g_ndirs;

static void remove_dir(const char *dir)
{
    char cmd[600];
    int n;
    if (dir[0] == '\0' || strstr(dir, "fwseal-") == NULL)
        return;
    n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (n > 0 && (size_t)n < sizeof cmd && system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* cmocka leaves a failed test by longjmp: the group teardown removes what
 * such a test left behind. */
static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < g_ndirs; i++)
        remove_dir(g_dirs[i]);
    g_ndirs = 0;
    return 0;
}

static void make_dir(sdev *d)
{
    const char *base = getenv("DROT_BUILD_DIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    int n = snprintf(d->dir, sizeof d->dir, "%s/fwseal-XXXXXX", base);
    assert_true(n > 0 && (size_t)n < sizeof d->dir);
    assert_non_null(mkdtemp(d->dir));
    assert_true(g_ndirs < MAX_DIRS);
    memcpy(g_dirs[g_ndirs++], d->dir, sizeof d->dir);
}

/* ---- devices ----------------------------------------------------------------- */

static void open_sim(sdev *d, bool create)
{
    char err[256];
    assert_false(d->sim_open);
    if (apm_sim_open(&d->sim, d->dir, create, err, sizeof err) != 0)
        fail_msg("apm_sim_open(%s): %s", d->dir, err);
    d->sim_open = true;
}

static void power_off(sdev *d)
{
    if (d->booted) {
        apm_device_shutdown(&d->dev);
        drot_link_session_wipe(&d->host);
    }
    d->booted = false;
    if (d->sim_open)
        apm_sim_close(&d->sim);
    d->sim_open = false;
}

/* Sends frame[0..len) and keeps the answer in d->in. */
static void exchange(sdev *d, const uint8_t *frame, size_t len)
{
    assert_int_equal(apm_device_handle(&d->dev, frame, len, d->in, sizeof d->in, &d->in_len), APM_OK);
    assert_true(d->in_len > 0);
}

/* Boots the device and opens a fresh link session. */
static void boot(sdev *d)
{
    open_sim(d, false);
    assert_int_equal(apm_device_boot(&d->dev, &d->sim.hal), APM_OK);
    d->booted = true;
    assert_int_equal(drot_link_session_init_host(&d->host, d->link_key), DROT_OK);
}

/* The host's nonces: a fixed-seed generator is enough in a test. */
static drot_status test_rng_fill(void *ctx, uint8_t *out, size_t len)
{
    uint32_t *x = ctx;
    for (size_t i = 0; i < len; i++) {
        *x = *x * 1103515245u + 12345u;
        out[i] = (uint8_t)(*x >> 16);
    }
    return DROT_OK;
}

static void handshake(sdev *d)
{
    static uint32_t seed = 1;
    drot_rng rng = {test_rng_fill, &seed};
    size_t len = 0;
    assert_int_equal(drot_link_host_hello(&d->host, &rng, d->out, sizeof d->out, &len), DROT_OK);
    exchange(d, d->out, len);
    assert_int_equal(drot_link_host_accept_ack(&d->host, d->in, d->in_len, NULL), DROT_OK);
}

static void boot_and_connect(sdev *d)
{
    boot(d);
    handshake(d);
}

/* A manifest for image[0..FWT_IMAGE_LEN) signed by test key k. */
static size_t manifest_for(int k, const char *version, uint32_t svn, const uint8_t *image, uint8_t *out,
                           size_t cap)
{
    uint8_t digest[32];
    assert_int_equal(drot_sha256(image, FWT_IMAGE_LEN, digest), DROT_OK);
    return fwt_manifest(k, "APM", version, svn, digest, FWT_IMAGE_LEN, out, cap);
}

/* Manufactures a device (test image, version 1.0.0 signed by key 0),
 * boots it and connects. */
static void create(sdev *d, const sdev_params *p)
{
    uint8_t anchors[APM_ANCHOR_SLOTS][32], manifest[DROT_MANIFEST_SIGNED_MAX];
    apm_manufacture_params mp;
    apm_identity id;

    memset(d, 0, sizeof *d);
    make_dir(d);
    assert_true(p->n_anchors >= 1 && p->n_anchors <= FWT_NKEYS);
    for (size_t i = 0; i < p->n_anchors; i++)
        fwt_key((int)i, NULL, NULL, anchors[i]);
    memset(&mp, 0, sizeof mp);
    memset(mp.device_id, p->device_id_fill, sizeof mp.device_id);
    memset(mp.uds, p->uds_fill, sizeof mp.uds);
    memset(mp.link_key, 0x1c, sizeof mp.link_key);
    memcpy(d->link_key, mp.link_key, sizeof d->link_key);
    mp.anchors = (const uint8_t(*)[32])anchors;
    mp.n_anchors = p->n_anchors;
    mp.manifest = manifest;
    mp.manifest_len = manifest_for(0, "1.0.0", 1, fwt_image(), manifest, sizeof manifest);
    mp.image = fwt_image();
    mp.image_len = FWT_IMAGE_LEN;
    open_sim(d, true);
    assert_int_equal(apm_device_manufacture(&d->sim.hal, &mp, &id), APM_OK);
    apm_sim_close(&d->sim);
    d->sim_open = false;
    boot_and_connect(d);
}

static void destroy(sdev *d)
{
    power_off(d);
    remove_dir(d->dir);
    d->dir[0] = '\0';
}

/* A firmware update: power off, install manifest and image in slot A
 * through a fresh core, boot again and reconnect. */
static void install(sdev *d, const uint8_t *manifest, size_t mlen, const uint8_t *image)
{
    apm_core core;
    power_off(d);
    open_sim(d, false);
    assert_int_equal(apm_core_init(&core, &d->sim.hal), APM_OK);
    assert_int_equal(apm_boot_install_slot_a(&core, manifest, (uint32_t)mlen, image, FWT_IMAGE_LEN), APM_OK);
    apm_core_wipe(&core);
    apm_sim_close(&d->sim);
    d->sim_open = false;
    boot_and_connect(d);
}

/* Installs the test image (or a variant: every byte + delta) as version,
 * svn, signed by key k. */
static void update(sdev *d, int k, const char *version, uint32_t svn, uint8_t delta)
{
    static uint8_t image[FWT_IMAGE_LEN], manifest[DROT_MANIFEST_SIGNED_MAX];
    memcpy(image, fwt_image(), FWT_IMAGE_LEN);
    for (size_t i = 0; i < FWT_IMAGE_LEN; i++)
        image[i] = (uint8_t)(image[i] + delta);
    size_t mlen = manifest_for(k, version, svn, image, manifest, sizeof manifest);
    install(d, manifest, mlen, image);
}

static void set_sensors(sdev *d, int32_t mv, int32_t mc, bool intrusion)
{
    apm_tamper_sensors s = {mv, mc, intrusion};
    apm_sim_set_sensors(&d->sim, &s);
}

/* ---- requests ------------------------------------------------------------ */

/* One request in the session; returns the answer's view. */
static drot_link_frame request(sdev *d, uint8_t type, const uint8_t *payload, size_t plen)
{
    size_t len = 0;
    drot_link_frame v;
    assert_int_equal(drot_link_session_seal(&d->host, type, payload, plen, d->out, sizeof d->out, &len),
                     DROT_OK);
    exchange(d, d->out, len);
    assert_int_equal(drot_link_session_open(&d->host, d->in, d->in_len, &v), DROT_OK);
    return v;
}

/* The code of an ERROR answer (which must be one). */
static int32_t error_code(const drot_link_frame *v)
{
    drot_link_error e;
    assert_int_equal(v->type, DROT_LINK_T_ERROR);
    assert_int_equal(drot_link_error_decode(v->payload, v->payload_len, &e), DROT_OK);
    assert_true(e.message_len > 0);
    return e.code;
}

/* SEAL: 0 and the blob in blob[0..*blob_len), or the ERROR's code. */
static int32_t seal(sdev *d, const char *label, const uint8_t *data, size_t n, uint8_t *blob,
                    size_t *blob_len)
{
    static uint8_t p[DROT_LINK_MAX_PAYLOAD];
    drot_link_seal_req r;
    size_t plen = 0;
    memset(&r, 0, sizeof r);
    r.label_len = strlen(label);
    memcpy(r.label, label, r.label_len);
    r.data = data;
    r.data_len = n;
    assert_int_equal(drot_link_seal_req_encode(&r, p, sizeof p, &plen), DROT_OK);
    drot_link_frame v = request(d, DROT_LINK_T_SEAL, p, plen);
    *blob_len = 0;
    if (v.type == DROT_LINK_T_ERROR)
        return error_code(&v);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_SEAL));
    const uint8_t *b;
    size_t bn;
    assert_int_equal(drot_link_blob_resp_decode(v.payload, v.payload_len, &b, &bn), DROT_OK);
    memcpy(blob, b, bn);
    *blob_len = bn;
    return 0;
}

/* UNSEAL: 0 and the data in data[0..*n), or the ERROR's code. */
static int32_t unseal(sdev *d, const char *label, const uint8_t *blob, size_t blob_len, uint8_t *data,
                      size_t *n)
{
    static uint8_t p[DROT_LINK_MAX_PAYLOAD];
    drot_link_unseal_req r;
    size_t plen = 0;
    memset(&r, 0, sizeof r);
    r.label_len = strlen(label);
    memcpy(r.label, label, r.label_len);
    r.blob = blob;
    r.blob_len = blob_len;
    assert_int_equal(drot_link_unseal_req_encode(&r, p, sizeof p, &plen), DROT_OK);
    drot_link_frame v = request(d, DROT_LINK_T_UNSEAL, p, plen);
    *n = 0;
    if (v.type == DROT_LINK_T_ERROR)
        return error_code(&v);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_UNSEAL));
    const uint8_t *b;
    size_t bn;
    assert_int_equal(drot_link_data_resp_decode(v.payload, v.payload_len, &b, &bn), DROT_OK);
    if (bn > 0)
        memcpy(data, b, bn);
    *n = bn;
    return 0;
}

/* UNSEAL must open blob under label and give back want[0..n). */
static void expect_opens(sdev *d, const char *label, const uint8_t *blob, size_t blob_len,
                         const uint8_t *want, size_t n)
{
    static uint8_t got[APM_SEAL_MAX_DATA];
    size_t got_len = 0;
    assert_int_equal(unseal(d, label, blob, blob_len, got, &got_len), 0);
    assert_int_equal(got_len, n);
    if (n > 0)
        assert_memory_equal(got, want, n);
}

static int32_t unseal_code(sdev *d, const char *label, const uint8_t *blob, size_t blob_len)
{
    static uint8_t got[APM_SEAL_MAX_DATA];
    size_t got_len = 0;
    int32_t code = unseal(d, label, blob, blob_len, got, &got_len);
    if (code != 0)
        assert_int_equal(got_len, 0);
    return code;
}

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i * 13u);
}

/* ---- tests ---------------------------------------------------------------- */

/* Test 1: SEAL then UNSEAL of 0, 1 and 2048 bytes / the data comes back;
 * the blob is "DSB1" ‖ nonce ‖ ct ‖ tag, 32 bytes longer than the data;
 * sealing the same data twice gives different blobs (fresh nonce), both
 * open; a blob survives a reboot. */
static void test_round_trip(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t data[APM_SEAL_MAX_DATA], blob[APM_SEAL_MAX_BLOB], blob2[APM_SEAL_MAX_BLOB];
    static const size_t sizes[] = {0, 1, APM_SEAL_MAX_DATA};
    size_t blen, blen2;

    create(&d, &DEV_A);
    fill(data, sizeof data, 7);
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        assert_int_equal(seal(&d, "host.storage_key-1", data, n, blob, &blen), 0);
        assert_int_equal(blen, n + 32);
        assert_memory_equal(blob, "DSB1", 4);
        expect_opens(&d, "host.storage_key-1", blob, blen, data, n);
        assert_int_equal(seal(&d, "host.storage_key-1", data, n, blob2, &blen2), 0);
        assert_int_equal(blen2, blen);
        assert_memory_not_equal(blob + 4, blob2 + 4, 12); /* nonces differ */
        expect_opens(&d, "host.storage_key-1", blob2, blen2, data, n);
        /* the data does not appear in the blob: only meaningful for enough
         * bytes (a 1-byte ciphertext equals its plaintext once in 256) */
        if (n >= 16)
            assert_memory_not_equal(blob + 16, data, n);
    }
    power_off(&d);
    boot_and_connect(&d);
    expect_opens(&d, "host.storage_key-1", blob, blen, data, APM_SEAL_MAX_DATA);
    destroy(&d);
}

/* Test 2: UNSEAL under another label (one character changed, a prefix, a
 * longer label) / DROT_E_VERIFY; the right label still opens it. */
static void test_wrong_label(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t blob[APM_SEAL_MAX_BLOB];
    static const char *others[] = {"disk-kez", "disk-ke", "disk-key0", "Disk-key", "x"};
    const uint8_t data[] = "secret";
    size_t blen;

    create(&d, &DEV_A);
    assert_int_equal(seal(&d, "disk-key", data, sizeof data, blob, &blen), 0);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(unseal_code(&d, others[i], blob, blen), DROT_E_VERIFY);
    expect_opens(&d, "disk-key", blob, blen, data, sizeof data);
    destroy(&d);
}

/* Test 3: every single-bit flip of a blob (magic, nonce, ciphertext, tag),
 * one byte cut off, one byte appended / DROT_E_VERIFY, the one code for any
 * bad blob; the unchanged blob then still opens. */
static void test_bit_flips(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t blob[APM_SEAL_MAX_BLOB + 1];
    const uint8_t data[5] = {1, 2, 3, 4, 5};
    size_t blen;

    create(&d, &DEV_A);
    assert_int_equal(seal(&d, "k", data, sizeof data, blob, &blen), 0);
    assert_int_equal(blen, 37);
    for (size_t bit = 0; bit < blen * 8; bit++) {
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int32_t code = unseal_code(&d, "k", blob, blen);
        if (code != DROT_E_VERIFY)
            print_error("bit %zu: code %d\n", bit, code);
        assert_int_equal(code, DROT_E_VERIFY);
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(unseal_code(&d, "k", blob, blen - 1), DROT_E_VERIFY);
    blob[blen] = 0;
    assert_int_equal(unseal_code(&d, "k", blob, blen + 1), DROT_E_VERIFY);
    /* a 32-byte blob of the right shape but made up */
    static uint8_t forged[32] = {'D', 'S', 'B', '1'};
    assert_int_equal(unseal_code(&d, "k", forged, sizeof forged), DROT_E_VERIFY);
    expect_opens(&d, "k", blob, blen, data, sizeof data);
    destroy(&d);
}

/* Test 4: a blob from another device / DROT_E_VERIFY: one that differs
 * only in its uds (same device id, anchors, image), and one that differs
 * only in its device id (same uds); each device opens its own blobs. */
static void test_other_device(void **state)
{
    (void)state;
    static sdev a, b, c;
    static uint8_t blob_a[APM_SEAL_MAX_BLOB], blob_b[APM_SEAL_MAX_BLOB];
    static const sdev_params other_uds = {0x77, 0xd1, 2};
    static const sdev_params other_id = {0x5e, 0xd2, 2};
    const uint8_t data[] = "the host's disk key";
    size_t la, lb;

    create(&a, &DEV_A);
    create(&b, &other_uds);
    create(&c, &other_id);
    assert_int_equal(seal(&a, "disk", data, sizeof data, blob_a, &la), 0);
    assert_int_equal(seal(&b, "disk", data, sizeof data, blob_b, &lb), 0);
    assert_int_equal(unseal_code(&b, "disk", blob_a, la), DROT_E_VERIFY);
    assert_int_equal(unseal_code(&c, "disk", blob_a, la), DROT_E_VERIFY);
    assert_int_equal(unseal_code(&a, "disk", blob_b, lb), DROT_E_VERIFY);
    expect_opens(&a, "disk", blob_a, la, data, sizeof data);
    expect_opens(&b, "disk", blob_b, lb, data, sizeof data);
    destroy(&a);
    destroy(&b);
    destroy(&c);
}

/* Test 5: firmware updates. Another image (other bytes), version 2.0.0,
 * svn 2, signed by the SAME key / the blob still opens, and blobs sealed
 * after the update open too. Then an image signed by key 1 (also an anchor,
 * so boot passes) / DROT_E_VERIFY, while SEAL/UNSEAL of new data work under
 * that signer. Back to a key-0 image / the first blob opens again: the
 * refusal came from the key, not from damage. */
static void test_update_keeps_signer(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t blob[APM_SEAL_MAX_BLOB], blob1[APM_SEAL_MAX_BLOB];
    const uint8_t data[] = "survives updates of the same signer";
    const uint8_t data1[] = "sealed under signer 1";
    size_t blen, blen1;

    create(&d, &DEV_A);
    assert_int_equal(seal(&d, "storage", data, sizeof data, blob, &blen), 0);

    update(&d, 0, "2.0.0", 2, 0x55);
    expect_opens(&d, "storage", blob, blen, data, sizeof data);

    update(&d, 1, "3.0.0", 3, 0x11);
    assert_int_equal(unseal_code(&d, "storage", blob, blen), DROT_E_VERIFY);
    assert_int_equal(seal(&d, "storage", data1, sizeof data1, blob1, &blen1), 0);
    expect_opens(&d, "storage", blob1, blen1, data1, sizeof data1);

    update(&d, 0, "4.0.0", 4, 0x22);
    expect_opens(&d, "storage", blob, blen, data, sizeof data);
    assert_int_equal(unseal_code(&d, "storage", blob1, blen1), DROT_E_VERIFY);
    destroy(&d);
}

/* Test 6: boot verdict FAIL (an image whose bytes do not match its
 * manifest) / SEAL and UNSEAL answer APM_E_BOOT, and GET_INFO still works;
 * after a good image is back the old blob opens. */
static void test_boot_failed(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t blob[APM_SEAL_MAX_BLOB], out[APM_SEAL_MAX_BLOB], image[FWT_IMAGE_LEN],
        manifest[DROT_MANIFEST_SIGNED_MAX];
    const uint8_t data[] = "x";
    size_t blen, olen;

    create(&d, &DEV_A);
    assert_int_equal(seal(&d, "a", data, sizeof data, blob, &blen), 0);
    size_t mlen = manifest_for(0, "2.0.0", 2, fwt_image(), manifest, sizeof manifest);
    memcpy(image, fwt_image(), FWT_IMAGE_LEN);
    image[100] ^= 1;
    install(&d, manifest, mlen, image);
    assert_int_equal(seal(&d, "a", data, sizeof data, out, &olen), APM_E_BOOT);
    assert_int_equal(unseal_code(&d, "a", blob, blen), APM_E_BOOT);
    static const uint8_t empty[] = {0xa0};
    drot_link_frame v = request(&d, DROT_LINK_T_GET_INFO, empty, 1);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_GET_INFO));

    install(&d, manifest, mlen, fwt_image());
    expect_opens(&d, "a", blob, blen, data, sizeof data);
    destroy(&d);
}

/* Test 7: tamper. A voltage excursion / SEAL and UNSEAL answer
 * APM_E_LOCKED until the next boot, then the blob opens again. An intrusion
 * / APM_E_LIFECYCLE, also after a reboot (TAMPERED is permanent). */
static void test_tamper(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t blob[APM_SEAL_MAX_BLOB], out[APM_SEAL_MAX_BLOB];
    const uint8_t data[] = "tamper";
    size_t blen, olen;

    create(&d, &DEV_A);
    assert_int_equal(seal(&d, "t", data, sizeof data, blob, &blen), 0);
    set_sensors(&d, 2500, 25000, false);
    assert_int_equal(seal(&d, "t", data, sizeof data, out, &olen), APM_E_LOCKED);
    assert_int_equal(unseal_code(&d, "t", blob, blen), APM_E_LOCKED);
    set_sensors(&d, 3300, 25000, false); /* still locked: until reset */
    assert_int_equal(unseal_code(&d, "t", blob, blen), APM_E_LOCKED);
    power_off(&d);
    boot_and_connect(&d);
    expect_opens(&d, "t", blob, blen, data, sizeof data);

    set_sensors(&d, 3300, 25000, true);
    assert_int_equal(seal(&d, "t", data, sizeof data, out, &olen), APM_E_LIFECYCLE);
    assert_int_equal(unseal_code(&d, "t", blob, blen), APM_E_LIFECYCLE);
    power_off(&d);
    boot_and_connect(&d);
    assert_int_equal(unseal_code(&d, "t", blob, blen), APM_E_LIFECYCLE);
    destroy(&d);
}

/* A SEAL-shaped payload {1: label, 2: data} built by hand, so the host
 * encoder's own checks do not stop it. */
static size_t raw_labelled(const char *label, size_t label_len, const uint8_t *b, size_t n, uint8_t *out,
                           size_t cap)
{
    drot_cbor_writer w;
    size_t len;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr(&w, label, label_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, b, n);
    assert_int_equal(drot_cbor_writer_finish(&w, &len), DROT_OK);
    return len;
}

/* Test 8: malformed requests / ERROR with the codec's code: 2049 bytes of
 * data, an empty, a 65-byte and a bad-character label (SEAL and UNSEAL),
 * a 31-byte blob, an empty map; the session still works afterwards. */
static void test_bad_requests(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t p[DROT_LINK_MAX_PAYLOAD], data[APM_SEAL_MAX_DATA + 1], blob[APM_SEAL_MAX_BLOB];
    static const char *bad_labels[] = {"", "a b", "a/b", "caf\xc3\xa9", "a\x01", "tab\t"};
    char long_label[65];
    size_t n, blen;
    drot_link_frame v;

    create(&d, &DEV_A);
    n = raw_labelled("ok", 2, data, APM_SEAL_MAX_DATA + 1, p, sizeof p);
    v = request(&d, DROT_LINK_T_SEAL, p, n);
    assert_int_equal(error_code(&v), DROT_E_CLAIM_INVALID);
    n = raw_labelled("ok", 2, data, APM_SEAL_MAX_DATA, p, sizeof p); /* the bound itself is fine */
    v = request(&d, DROT_LINK_T_SEAL, p, n);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_SEAL));

    assert_int_equal(seal(&d, "ok", data, 3, blob, &blen), 0);
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
        n = raw_labelled(bad_labels[i], strlen(bad_labels[i]), data, 3, p, sizeof p);
        v = request(&d, DROT_LINK_T_SEAL, p, n);
        assert_int_equal(error_code(&v), DROT_E_CLAIM_INVALID);
        n = raw_labelled(bad_labels[i], strlen(bad_labels[i]), blob, blen, p, sizeof p);
        v = request(&d, DROT_LINK_T_UNSEAL, p, n);
        assert_int_equal(error_code(&v), DROT_E_CLAIM_INVALID);
    }
    memset(long_label, 'L', sizeof long_label);
    n = raw_labelled(long_label, 65, data, 3, p, sizeof p);
    v = request(&d, DROT_LINK_T_SEAL, p, n);
    assert_int_equal(error_code(&v), DROT_E_CLAIM_INVALID);
    n = raw_labelled(long_label, 64, data, 3, p, sizeof p);
    v = request(&d, DROT_LINK_T_SEAL, p, n);
    assert_int_equal(v.type, DROT_LINK_RESPONSE_TO(DROT_LINK_T_SEAL));

    n = raw_labelled("ok", 2, blob, 31, p, sizeof p);
    v = request(&d, DROT_LINK_T_UNSEAL, p, n);
    assert_int_equal(error_code(&v), DROT_E_CLAIM_INVALID);
    static const uint8_t empty[] = {0xa0};
    v = request(&d, DROT_LINK_T_SEAL, empty, 1);
    assert_int_equal(error_code(&v), DROT_E_CLAIM_MISSING);
    v = request(&d, DROT_LINK_T_UNSEAL, empty, 1);
    assert_int_equal(error_code(&v), DROT_E_CLAIM_MISSING);

    expect_opens(&d, "ok", blob, blen, data, 3);
    destroy(&d);
}

/* Test 9: apm_seal_unseal directly (fw_test_util's booted core) / on a bad
 * tag, a wrong label and a short output buffer, out[0..cap) is all zero and
 * *out_len is 0 (DROT_E_BUFFER: the size needed); on success the data; a
 * (NULL, 0) seal measures the blob. */
static void test_core_output_wiped(void **state)
{
    (void)state;
    static fwt_dev d;
    static uint8_t blob[64], out[64], zero[64];
    const uint8_t data[8] = {9, 8, 7, 6, 5, 4, 3, 2};
    size_t blen = 0, olen = 99;

    fwt_create_good(&d);
    assert_int_equal(apm_seal_seal(&d.core, &d.boot, &d.tamper, "k", 1, data, sizeof data, NULL, 0, &blen),
                     DROT_E_BUFFER);
    assert_int_equal(blen, 40);
    assert_int_equal(
        apm_seal_seal(&d.core, &d.boot, &d.tamper, "k", 1, data, sizeof data, blob, sizeof blob, &blen),
        APM_OK);
    assert_int_equal(blen, 40);

    memset(out, 0xaa, sizeof out);
    assert_int_equal(apm_seal_unseal(&d.core, &d.boot, &d.tamper, "k", 1, blob, blen, out, sizeof out, &olen),
                     APM_OK);
    assert_int_equal(olen, sizeof data);
    assert_memory_equal(out, data, sizeof data);

    blob[20] ^= 0x40;
    memset(out, 0xaa, sizeof out);
    assert_int_equal(apm_seal_unseal(&d.core, &d.boot, &d.tamper, "k", 1, blob, blen, out, sizeof out, &olen),
                     DROT_E_VERIFY);
    assert_int_equal(olen, 0);
    assert_memory_equal(out, zero, sizeof out);
    blob[20] ^= 0x40;

    memset(out, 0xaa, sizeof out);
    assert_int_equal(apm_seal_unseal(&d.core, &d.boot, &d.tamper, "j", 1, blob, blen, out, sizeof out, &olen),
                     DROT_E_VERIFY);
    assert_memory_equal(out, zero, sizeof out);

    memset(out, 0xaa, sizeof out);
    assert_int_equal(apm_seal_unseal(&d.core, &d.boot, &d.tamper, "k", 1, blob, blen, out, 7, &olen),
                     DROT_E_BUFFER);
    assert_int_equal(olen, 8);
    assert_memory_equal(out, zero, 7);

    /* Refusal before any derivation: the boot verdict is consulted as is. */
    d.boot.verdict = APM_VERDICT_FAIL;
    memset(out, 0xaa, sizeof out);
    assert_int_equal(apm_seal_unseal(&d.core, &d.boot, &d.tamper, "k", 1, blob, blen, out, sizeof out, &olen),
                     APM_E_BOOT);
    assert_memory_equal(out, zero, sizeof out);
    d.boot.verdict = APM_VERDICT_PASS ^ 1u; /* one flipped bit is not PASS */
    assert_int_equal(apm_seal_seal(&d.core, &d.boot, &d.tamper, "k", 1, data, 1, blob, sizeof blob, &blen),
                     APM_E_BOOT);
    d.boot.verdict = APM_VERDICT_PASS;
    d.core.otp.lifecycle = APM_LC_MANUFACTURING; /* RAM view only: the fuses are untouched */
    assert_int_equal(apm_seal_seal(&d.core, &d.boot, &d.tamper, "k", 1, data, 1, blob, sizeof blob, &blen),
                     APM_E_NOT_PROVISIONED);
    d.core.otp.lifecycle = APM_LC_DECOMMISSIONED;
    assert_int_equal(apm_seal_seal(&d.core, &d.boot, &d.tamper, "k", 1, data, 1, blob, sizeof blob, &blen),
                     APM_E_LIFECYCLE);
    fwt_destroy(&d);
}

/* Test 10: the blob format, recomputed from docs/apm-boot.md outside the
 * firmware / K = HKDF-SHA-256(salt = SHA-256(key 0's public key), ikm =
 * the uds given at manufacture, info "drot-apm seal v1"), and AES-256-GCM
 * with nonce = blob[4..16), aad = "DSB1" ‖ device id ‖ label opens the
 * blob to the data; with the signer of key 1 instead it does not. */
static void test_format(void **state)
{
    (void)state;
    static sdev d;
    static uint8_t blob[APM_SEAL_MAX_BLOB];
    const uint8_t data[] = "format check";
    uint8_t uds[32], signer[32], k[32], aad[4 + 16 + 6], pt[sizeof data];
    size_t blen;

    create(&d, &DEV_A);
    assert_int_equal(seal(&d, "fmt-v1", data, sizeof data, blob, &blen), 0);
    memset(uds, DEV_A.uds_fill, sizeof uds);
    memcpy(aad, "DSB1", 4);
    memset(aad + 4, DEV_A.device_id_fill, 16);
    memcpy(aad + 20, "fmt-v1", 6);
    for (int key = 0; key <= 1; key++) {
        fwt_key(key, NULL, NULL, signer);
        assert_int_equal(
            drot_hkdf_sha256(signer, 32, uds, 32, (const uint8_t *)"drot-apm seal v1", 16, k, 32), DROT_OK);
        drot_status st = drot_aes_gcm_open(k, 32, blob + 4, aad, sizeof aad, blob + 16, sizeof data,
                                           blob + 16 + sizeof data, pt);
        if (key == 0) {
            assert_int_equal(st, DROT_OK);
            assert_memory_equal(pt, data, sizeof data);
        } else {
            assert_int_equal(st, DROT_E_VERIFY);
        }
    }
    destroy(&d);
}

static int teardown_all(void **state)
{
    group_teardown(state);
    return fwt_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_label),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_other_device),
        cmocka_unit_test(test_update_keeps_signer),
        cmocka_unit_test(test_boot_failed),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_core_output_wiped),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_all);
}
