/*
 * fw_test_util.c — see fw_test_util.h.
 */
#define _GNU_SOURCE
#include "fw_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "drot/manifest.h"
#include "keystore.h"
#include "manufacture.h"

const uint8_t FWT_DEVICE_ID[16] = {0xd0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t FWT_UDS[32] = {0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                                    0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01, 0x12, 0x23, 0x34, 0x45, 0x56,
                                    0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xfe};
static const uint8_t FWT_LINK_KEY[32] = {0x1c, 0x2c, 0x3c, 0x4c, 0x5c, 0x6c, 0x7c, 0x8c, 0x9c, 0xac, 0xbc,
                                         0xcc, 0xdc, 0xec, 0xfc, 0x0c, 0x1d, 0x2d, 0x3d, 0x4d, 0x5d, 0x6d,
                                         0x7d, 0x8d, 0x9d, 0xad, 0xbd, 0xcd, 0xdd, 0xed, 0xfd, 0x0d};

void fwt_key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32])
{
    uint8_t d[DROT_P256_SCALAR_LEN];
    drot_p256_priv p;
    drot_p256_pub q;

    assert_true(k >= 0 && k < FWT_NKEYS);
    memset(d, 0x21 + 0x13 * k, sizeof d);
    d[0] = 0x7a; /* below n whatever the fill */
    assert_int_equal(drot_p256_key_from_scalar(d, &p, &q), DROT_OK);
    if (priv != NULL)
        *priv = p;
    if (pub != NULL)
        *pub = q;
    if (hash != NULL)
        assert_int_equal(drot_sha256(q.q, sizeof q.q, hash), DROT_OK);
}

const uint8_t *fwt_image(void)
{
    static uint8_t image[FWT_IMAGE_LEN];
    static bool made;
    if (!made) {
        for (size_t i = 0; i < sizeof image; i++)
            image[i] = (uint8_t)(i * 31u + (i >> 8) + 7u);
        made = true;
    }
    return image;
}

void fwt_image_digest(uint8_t digest[32])
{
    assert_int_equal(drot_sha256(fwt_image(), FWT_IMAGE_LEN, digest), DROT_OK);
}

size_t fwt_manifest(int k, const char *component, const char *version, uint32_t svn, const uint8_t digest[32],
                    uint32_t size, uint8_t *out, size_t cap)
{
    drot_p256_priv priv;
    drot_p256_pub pub;
    drot_manifest m;
    size_t len = 0;

    fwt_key(k, &priv, &pub, NULL);
    memset(&m, 0, sizeof m);
    m.component = component;
    m.component_len = strlen(component);
    m.version = version;
    m.version_len = strlen(version);
    m.svn = svn;
    memcpy(m.digest, digest, sizeof m.digest);
    m.size = size;
    assert_int_equal(drot_manifest_sign(&priv, &pub, &m, out, cap, &len), DROT_OK);
    drot_wipe(&priv, sizeof priv);
    return len;
}

/* Every state directory made, so a failed test's leftovers are removed at
 * the end of the group (cmocka leaves a failed test by longjmp). */
#define FWT_MAX_DIRS 256
static char g_dirs[FWT_MAX_DIRS][512];
static size_t g_ndirs;

static void remove_dir(const char *dir)
{
    char cmd[600];
    int n;
    if (dir[0] == '\0' || strstr(dir, "fwtest-") == NULL)
        return;
    n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (n > 0 && (size_t)n < sizeof cmd && system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

int fwt_group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < g_ndirs; i++)
        remove_dir(g_dirs[i]);
    g_ndirs = 0;
    return 0;
}

static void open_sim(fwt_dev *d, bool create)
{
    char err[256];
    assert_false(d->sim_open);
    if (apm_sim_open(&d->sim, d->dir, create, err, sizeof err) != 0)
        fail_msg("apm_sim_open(%s): %s", d->dir, err);
    d->sim_open = true;
}

static void make_dir(fwt_dev *d)
{
    const char *base = getenv("DROT_BUILD_DIR");
    int n;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = snprintf(d->dir, sizeof d->dir, "%s/fwtest-XXXXXX", base);
    assert_true(n > 0 && (size_t)n < sizeof d->dir);
    if (mkdtemp(d->dir) == NULL) {
        n = snprintf(d->dir, sizeof d->dir, "/tmp/fwtest-XXXXXX");
        assert_non_null(mkdtemp(d->dir));
    }
    if (g_ndirs < FWT_MAX_DIRS)
        memcpy(g_dirs[g_ndirs++], d->dir, sizeof d->dir);
}

void fwt_create(fwt_dev *d, const int *keys, size_t nkeys)
{
    uint8_t anchors[APM_ANCHOR_SLOTS][32];

    memset(d, 0, sizeof *d);
    make_dir(d);
    open_sim(d, true);
    assert_true(nkeys <= APM_ANCHOR_SLOTS);
    for (size_t i = 0; i < nkeys; i++)
        fwt_key(keys[i], NULL, NULL, anchors[i]);
    assert_int_equal(apm_core_init(&d->core, &d->sim.hal), APM_OK);
    d->core_ready = true;
    assert_int_equal(apm_manufacture_storage(&d->core, FWT_DEVICE_ID, FWT_UDS, FWT_LINK_KEY,
                                             (const uint8_t(*)[32])anchors, nkeys),
                     APM_OK);
    fwt_power_off(d);
}

void fwt_install(fwt_dev *d, const uint8_t *manifest, size_t mlen, const uint8_t *image, size_t ilen)
{
    assert_true(d->core_ready);
    assert_int_equal(apm_boot_install_slot_a(&d->core, manifest, (uint32_t)mlen, image, (uint32_t)ilen),
                     APM_OK);
}

void fwt_create_good(fwt_dev *d)
{
    static const int keys[] = {0, 1};
    uint8_t digest[32], manifest[DROT_MANIFEST_SIGNED_MAX];
    size_t mlen;

    fwt_create(d, keys, 2);
    fwt_image_digest(digest);
    mlen = fwt_manifest(0, "APM", "1.2.3", 1, digest, FWT_IMAGE_LEN, manifest, sizeof manifest);
    fwt_boot(d);
    fwt_install(d, manifest, mlen, fwt_image(), FWT_IMAGE_LEN);
    assert_int_equal(fwt_reboot(d), APM_OK);
    assert_int_equal(d->boot.verdict, APM_VERDICT_PASS);
}

apm_status fwt_boot(fwt_dev *d)
{
    apm_status st;

    if (!d->sim_open)
        open_sim(d, false);
    assert_false(d->core_ready);
    assert_int_equal(apm_core_init(&d->core, &d->sim.hal), APM_OK);
    d->core_ready = true;
    assert_int_equal(apm_ks_load(&d->core), APM_OK);

    st = apm_fw_boot(&d->core, &d->fw, &d->boot);
    if (st == APM_E_POWER) {
        d->boot_status = APM_E_POWER;
        return APM_E_POWER;
    }
    assert_int_equal(st, APM_OK);
    d->boot_status = d->boot.reason;
    apm_measure_reset(&d->meas);
    if (d->boot.version[0] != '\0')
        assert_int_equal(apm_measure_add(&d->meas, "APM", 3, d->boot.version, strlen(d->boot.version),
                                         d->boot.digest, d->boot.signer_id, NULL),
                         APM_OK);
    d->tamper_init_status = apm_tamper_init(&d->core, &d->tamper);
    assert_int_equal(apm_core_random(&d->core, d->boot_seed, sizeof d->boot_seed), APM_OK);
    (void)apm_tamper_poll(&d->core, &d->tamper); /* T1: at boot; its result stays in d->tamper */
    st = d->boot_status;
    return st;
}

void fwt_power_off(fwt_dev *d)
{
    apm_fw_state_wipe(&d->fw);
    if (d->core_ready)
        apm_core_wipe(&d->core);
    d->core_ready = false;
    if (d->sim_open)
        apm_sim_close(&d->sim);
    d->sim_open = false;
}

apm_status fwt_reboot(fwt_dev *d)
{
    fwt_power_off(d);
    return fwt_boot(d);
}

void fwt_destroy(fwt_dev *d)
{
    fwt_power_off(d);
    remove_dir(d->dir);
    d->dir[0] = '\0';
}

apm_status fwt_token(fwt_dev *d, const uint8_t *nonce, size_t nonce_len, uint32_t profile, uint8_t *out,
                     size_t cap, size_t *out_len)
{
    apm_attest_inputs in;
    in.boot = &d->boot;
    in.measurements = &d->meas;
    in.tamper = &d->tamper;
    in.boot_seed = d->boot_seed;
    return apm_attest_token(&d->core, &in, nonce, nonce_len, profile, out, cap, out_len);
}

void fwt_sensors(fwt_dev *d, int32_t mv, int32_t mc, bool intrusion)
{
    apm_tamper_sensors s;
    s.supply_mv = mv;
    s.temp_mc = mc;
    s.intrusion = intrusion;
    apm_sim_set_sensors(&d->sim, &s);
}
