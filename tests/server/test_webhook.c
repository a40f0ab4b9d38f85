/*
 * test_webhook.c — the webhook signature scheme and secret files
 * (server/src/webhook.c; docs/policy.md "Verifying a webhook").
 *
 *   Test 1: the signature is HMAC-SHA-256(secret, t "." body), as OpenSSL
 *           computes it independently, in the documented header form
 *   Test 2: a receiver's check: valid; too old, too new (replayed); body,
 *           timestamp or secret changed; every malformed header form
 *   Test 3: secret files: one trailing newline dropped; missing, too short,
 *           too long refused with the file named
 *   Test 4: delivery ids are 32 hex digits and differ
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/hmac.h>

#include "webhook.h"

static const uint8_t SECRET[] = "0123456789abcdef-webhook-secret";
static const char BODY[] = "{\"event\":\"device.stale\",\"delivery_id\":\"00\"}";

/* Test 1 */
static void test_sign(void **state)
{
    (void)state;
    char sig[DS_WH_SIG_MAX];
    assert_int_equal(ds_wh_sign(SECRET, sizeof SECRET - 1, 1795880100, BODY, strlen(BODY), sig), 0);
    /* independently: OpenSSL's HMAC over the same bytes */
    char msg[200];
    snprintf(msg, sizeof msg, "1795880100.%s", BODY);
    uint8_t mac[32];
    unsigned len = 0;
    assert_non_null(
        HMAC(EVP_sha256(), SECRET, (int)(sizeof SECRET - 1), (const uint8_t *)msg, strlen(msg), mac, &len));
    assert_int_equal(len, 32);
    char want[200];
    int o = snprintf(want, sizeof want, "t=1795880100,v1=");
    for (size_t i = 0; i < 32; i++)
        o += snprintf(want + o, sizeof want - (size_t)o, "%02x", mac[i]);
    assert_string_equal(sig, want);
    /* an empty body is signed too; bad arguments are refused */
    assert_int_equal(ds_wh_sign(SECRET, sizeof SECRET - 1, 0, "", 0, sig), 0);
    assert_int_equal(ds_wh_sign(NULL, 0, 1, BODY, 1, sig), -1);
    assert_int_equal(ds_wh_sign(SECRET, sizeof SECRET - 1, -1, BODY, 1, sig), -1);
}

/* Test 2 */
static void test_verify(void **state)
{
    (void)state;
    char sig[DS_WH_SIG_MAX];
    const int64_t t = 1795880100;
    size_t n = strlen(BODY);
    assert_int_equal(ds_wh_sign(SECRET, sizeof SECRET - 1, t, BODY, n, sig), 0);
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, sig, BODY, n, t, DS_WH_TOLERANCE), 0);
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, sig, BODY, n, t + 300, DS_WH_TOLERANCE), 0);
    /* a request replayed later, or from a clock far ahead */
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, sig, BODY, n, t + 301, DS_WH_TOLERANCE), -2);
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, sig, BODY, n, t - 301, DS_WH_TOLERANCE), -2);
    /* one byte of the body, the timestamp, or the secret changed */
    char body2[sizeof BODY];
    memcpy(body2, BODY, sizeof BODY);
    body2[10] ^= 1;
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, sig, body2, n, t, DS_WH_TOLERANCE), -3);
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 2, sig, BODY, n, t, DS_WH_TOLERANCE), -3);
    char moved[DS_WH_SIG_MAX];
    memcpy(moved, sig, sizeof moved);
    moved[11] = moved[11] == '9' ? '8' : '9'; /* t=179588010X */
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, moved, BODY, n, t, DS_WH_TOLERANCE), -3);
    char flipped[DS_WH_SIG_MAX];
    memcpy(flipped, sig, sizeof flipped);
    flipped[strlen(flipped) - 1] = flipped[strlen(flipped) - 1] == '0' ? '1' : '0';
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, flipped, BODY, n, t, DS_WH_TOLERANCE), -3);
    /* malformed headers */
    char trunc[DS_WH_SIG_MAX];
    memcpy(trunc, sig, sizeof trunc);
    trunc[strlen(trunc) - 2] = '\0';
    const char *bad[] = {
        "",
        "t=,v1=00",
        "v1=abc,t=1",
        "t=1795880100",
        "t=17958x0100,v1=",
        trunc,
        "t=1795880100,v2=0000000000000000000000000000000000000000000000000000000000000000",
        "t=1795880100,v1=zz00000000000000000000000000000000000000000000000000000000000000",
        "t=99999999999999999999999,v1=0000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ds_wh_verify(SECRET, sizeof SECRET - 1, bad[i], BODY, n, t, DS_WH_TOLERANCE) != -1)
            fail_msg("header \"%s\" was not refused as malformed", bad[i]);
    char longer[DS_WH_SIG_MAX + 2];
    snprintf(longer, sizeof longer, "%s0", sig);
    assert_int_equal(ds_wh_verify(SECRET, sizeof SECRET - 1, longer, BODY, n, t, DS_WH_TOLERANCE), -1);
}

/* Test 3 */
static void test_secret_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/drot-wh-XXXXXX", path[64], err[300];
    assert_non_null(mkdtemp(dir));
    uint8_t buf[DS_WH_SECRET_MAX];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/secret", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("sixteen-bytes-ok\n", f);
    fclose(f);
    assert_int_equal(ds_wh_read_secret(path, buf, sizeof buf, &len, err, sizeof err), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(buf, "sixteen-bytes-ok", 16);
    f = fopen(path, "w");
    fputs("fifteen-bytes!!\n", f);
    fclose(f);
    assert_int_equal(ds_wh_read_secret(path, buf, sizeof buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "at least 16"));
    f = fopen(path, "w");
    for (int i = 0; i < DS_WH_SECRET_MAX + 1; i++)
        fputc('k', f);
    fclose(f);
    assert_int_equal(ds_wh_read_secret(path, buf, sizeof buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
    unlink(path);
    assert_int_equal(ds_wh_read_secret(path, buf, sizeof buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    rmdir(dir);
}

/* Test 4 */
static void test_ids(void **state)
{
    (void)state;
    char a[33], b[33];
    assert_int_equal(ds_wh_new_id(a), 0);
    assert_int_equal(ds_wh_new_id(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_secret_files),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
