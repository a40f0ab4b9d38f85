/*
 * test_selftest.c — the known-answer self-test (common/src/selftest.c) must
 * pass on a correct backend and must notice a wrong one.
 *
 * A wrong backend is simulated with the linker's --wrap: drot_sha256,
 * drot_ecdh_p256 and drot_aes_gcm_open are routed through the wrappers
 * below, which call the real function and then, when told to, corrupt its
 * answer (or, for AES-GCM open, accept a forged tag).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drot/selftest.h"
#include "drot_crypto.h"

static enum { HONEST, BAD_SHA256, BAD_ECDH, GCM_ACCEPTS_ANY } g_mode = HONEST;

drot_status __real_drot_sha256(const void *data, size_t len, uint8_t out[DROT_SHA256_LEN]);
drot_status __wrap_drot_sha256(const void *data, size_t len, uint8_t out[DROT_SHA256_LEN]);
drot_status __wrap_drot_sha256(const void *data, size_t len, uint8_t out[DROT_SHA256_LEN])
{
    drot_status st = __real_drot_sha256(data, len, out);
    if (g_mode == BAD_SHA256)
        out[31] ^= 0x01;
    return st;
}

drot_status __real_drot_ecdh_p256(const drot_p256_priv *priv, const uint8_t *peer, size_t peer_len,
                                  uint8_t shared[DROT_P256_SHARED_LEN]);
drot_status __wrap_drot_ecdh_p256(const drot_p256_priv *priv, const uint8_t *peer, size_t peer_len,
                                  uint8_t shared[DROT_P256_SHARED_LEN]);
drot_status __wrap_drot_ecdh_p256(const drot_p256_priv *priv, const uint8_t *peer, size_t peer_len,
                                  uint8_t shared[DROT_P256_SHARED_LEN])
{
    drot_status st = __real_drot_ecdh_p256(priv, peer, peer_len, shared);
    if (g_mode == BAD_ECDH)
        shared[0] ^= 0x80;
    return st;
}

drot_status __real_drot_aes_gcm_open(const uint8_t *key, size_t key_len,
                                     const uint8_t iv[DROT_AES_GCM_IV_LEN], const void *aad, size_t aad_len,
                                     const void *ct, size_t len, const uint8_t tag[DROT_AES_GCM_TAG_LEN],
                                     uint8_t *pt);
drot_status __wrap_drot_aes_gcm_open(const uint8_t *key, size_t key_len,
                                     const uint8_t iv[DROT_AES_GCM_IV_LEN], const void *aad, size_t aad_len,
                                     const void *ct, size_t len, const uint8_t tag[DROT_AES_GCM_TAG_LEN],
                                     uint8_t *pt);
drot_status __wrap_drot_aes_gcm_open(const uint8_t *key, size_t key_len,
                                     const uint8_t iv[DROT_AES_GCM_IV_LEN], const void *aad, size_t aad_len,
                                     const void *ct, size_t len, const uint8_t tag[DROT_AES_GCM_TAG_LEN],
                                     uint8_t *pt)
{
    drot_status st = __real_drot_aes_gcm_open(key, key_len, iv, aad, aad_len, ct, len, tag, pt);
    return g_mode == GCM_ACCEPTS_ANY ? DROT_OK : st;
}

typedef struct seen {
    unsigned calls;
    char failed[16][24];
    unsigned n_failed;
} seen;

static void collect(void *ctx, const char *name, const char *reference, drot_status st)
{
    seen *s = ctx;
    assert_non_null(name);
    assert_non_null(reference);
    s->calls++;
    if (st != DROT_OK && s->n_failed < 16) {
        strncpy(s->failed[s->n_failed], name, sizeof s->failed[0] - 1);
        s->n_failed++;
    }
}

static bool failed(const seen *s, const char *name)
{
    for (unsigned i = 0; i < s->n_failed; i++)
        if (strcmp(s->failed[i], name) == 0)
            return true;
    return false;
}

/* Test 1: honest backend / every check passes and each is reported once. */
static void test_all_pass(void **state)
{
    (void)state;
    seen s = {0};
    g_mode = HONEST;
    assert_int_equal(drot_selftest_run(collect, &s), DROT_OK);
    assert_int_equal(s.calls, drot_selftest_count());
    assert_true(drot_selftest_count() >= 10);
    assert_int_equal(s.n_failed, 0);
    assert_int_equal(drot_selftest_run(NULL, NULL), DROT_OK);
}

/* Test 2: SHA-256 answers wrong / "sha256" fails, the run fails with
 * DROT_E_VERIFY, and every other check still runs. */
static void test_detects_bad_sha256(void **state)
{
    (void)state;
    seen s = {0};
    g_mode = BAD_SHA256;
    assert_int_equal(drot_selftest_run(collect, &s), DROT_E_VERIFY);
    g_mode = HONEST;
    assert_int_equal(s.calls, drot_selftest_count());
    assert_true(failed(&s, "sha256"));
}

/* Test 3: ECDH answers wrong / "ecdh-p256" and "hpke-base" (built on ECDH) fail. */
static void test_detects_bad_ecdh(void **state)
{
    (void)state;
    seen s = {0};
    g_mode = BAD_ECDH;
    assert_int_equal(drot_selftest_run(collect, &s), DROT_E_VERIFY);
    g_mode = HONEST;
    assert_true(failed(&s, "ecdh-p256"));
    assert_true(failed(&s, "hpke-base"));
    assert_false(failed(&s, "sha256"));
}

/* Test 4: AES-GCM open accepts a forged tag / both AES-GCM checks fail. */
static void test_detects_forgeable_gcm(void **state)
{
    (void)state;
    seen s = {0};
    g_mode = GCM_ACCEPTS_ANY;
    assert_int_not_equal(drot_selftest_run(collect, &s), DROT_OK);
    g_mode = HONEST;
    assert_true(failed(&s, "aes-128-gcm"));
    assert_true(failed(&s, "aes-256-gcm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_pass),
        cmocka_unit_test(test_detects_bad_sha256),
        cmocka_unit_test(test_detects_bad_ecdh),
        cmocka_unit_test(test_detects_forgeable_gcm),
    };
    return cmocka_run_group_tests_name("selftest", tests, NULL, NULL);
}
