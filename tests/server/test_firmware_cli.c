/*
 * test_firmware_cli.c — `drotctl firmware sign` and `inspect` as processes,
 * with the manifest checked in-process by the device's own code
 * (drot_manifest_verify against the authority's anchor):
 *
 *   1. sign: the manifest verifies under the anchor and names the image's
 *      component, version, SVN, SHA-256 and size; signing again over an
 *      existing file is refused and leaves it as it was
 *   2. inspect: a good manifest and image pass (text and JSON); a changed
 *      image byte, a longer image, another anchor, a flipped signature
 *      bit and a truncated manifest each fail with exit 1 and say why
 *   3. usage: missing arguments, a component or version too long, an SVN
 *      out of range or not a number, a bad anchor: exit 2 and nothing
 *      written; an unknown key or a wrong passphrase: exit 1, nothing written
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

static struct {
    char dir[64], keys[128], img[128], man[128], out[160], err[160];
    drot_anchor_slot anchor;
    char anchor_hex[65];
} G;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[1500], cmd[2000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", DROTCTL_BIN, args, G.out, G.err);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_has(const char *path, const char *needle)
{
    size_t n = 0;
    char *p = (char *)drot_test_read_file(path, &n);
    bool has = false;
    if (p != NULL) {
        char *q = realloc(p, n + 1);
        assert_non_null(q);
        q[n] = '\0';
        has = strstr(q, needle) != NULL;
        free(q);
    }
    return has;
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(G.dir, "/tmp/drot-fwcli-XXXXXX");
    if (mkdtemp(G.dir) == NULL)
        return -1;
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.dir);
    snprintf(G.img, sizeof G.img, "%s/os.bin", G.dir);
    snprintf(G.man, sizeof G.man, "%s/os.manifest", G.dir);
    snprintf(G.out, sizeof G.out, "%s/out.txt", G.dir);
    snprintf(G.err, sizeof G.err, "%s/err.txt", G.dir);
    setenv("DROT_KEY_PASSPHRASE", "firmware cli test passphrase", 1);
    if (run("init --dir '%s' --json", G.keys) != 0)
        return -1;
    json_t *j = json_load_file(G.out, 0, NULL);
    const char *a = json_string_value(json_object_get(j, "authority_anchor"));
    if (a == NULL || strlen(a) != 64 || drot_test_hex(a, G.anchor.hash, 32) != 32)
        return -1;
    strcpy(G.anchor_hex, a);
    json_decref(j);
    G.anchor.present = true;
    FILE *f = fopen(G.img, "wb");
    if (f == NULL)
        return -1;
    for (int i = 0; i < 70000; i++)
        fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", G.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Test 1. */
static void test_sign(void **state)
{
    (void)state;
    assert_int_equal(
        run("firmware sign --dir '%s' --component HOST-OS --version 6.2.1 --svn 7 --out '%s' '%s'", G.keys,
            G.man, G.img),
        0);
    size_t len = 0, ilen = 0;
    uint8_t *msg = drot_test_read_file(G.man, &len);
    uint8_t *img = drot_test_read_file(G.img, &ilen);
    assert_non_null(msg);
    assert_non_null(img);
    drot_manifest m;
    size_t slot = 9;
    assert_int_equal(drot_manifest_verify(msg, len, &G.anchor, 1, &m, &slot), DROT_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(m.component_len, 7);
    assert_memory_equal(m.component, "HOST-OS", 7);
    assert_int_equal(m.version_len, 5);
    assert_memory_equal(m.version, "6.2.1", 5);
    assert_int_equal(m.svn, 7);
    assert_int_equal(m.size, ilen);
    uint8_t d[32];
    assert_int_equal(drot_sha256(img, ilen, d), DROT_OK);
    assert_memory_equal(m.digest, d, 32);
    /* Never over an existing manifest. */
    assert_int_equal(run("firmware sign --dir '%s' --component HOST-OS --version 9 --svn 9 --out '%s' '%s'",
                         G.keys, G.man, G.img),
                     1);
    size_t len2 = 0;
    uint8_t *again = drot_test_read_file(G.man, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(again, msg, len);
    free(again);
    free(msg);
    free(img);
}

/* Test 2. */
static void test_inspect(void **state)
{
    (void)state;
    assert_int_equal(run("firmware inspect '%s' --anchor %s --image '%s'", G.man, G.anchor_hex, G.img), 0);
    assert_true(file_has(G.out, "valid under the anchor"));
    assert_int_equal(run("firmware inspect '%s' --anchor %s --image '%s' --json", G.man, G.anchor_hex, G.img),
                     0);
    json_t *j = json_load_file(G.out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "svn")), 7);
    json_decref(j);

    char bad[200];
    snprintf(bad, sizeof bad, "%s/bad.bin", G.dir);
    /* One image byte changed, same size. */
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && printf 'Z' | dd of='%s' bs=1 seek=1000 conv=notrunc 2>/dev/null", G.img, bad,
             bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("firmware inspect '%s' --anchor %s --image '%s'", G.man, G.anchor_hex, bad), 1);
    assert_true(file_has(G.err, "DIGEST DIFFERS"));
    /* One byte longer. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && printf 'Z' >> '%s'", G.img, bad, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("firmware inspect '%s' --image '%s'", G.man, bad), 1);
    assert_true(file_has(G.err, "SIZE DIFFERS"));
    /* Another anchor. */
    assert_int_equal(run("firmware inspect '%s' --anchor %064d", G.man, 7), 1);
    assert_true(file_has(G.err, "INVALID"));
    /* A flipped bit in the signature (the last byte), then a truncated file. */
    size_t len = 0;
    uint8_t *msg = drot_test_read_file(G.man, &len);
    assert_non_null(msg);
    msg[len - 1] ^= 0x01;
    FILE *f = fopen(bad, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(msg, 1, len, f), len);
    fclose(f);
    assert_int_equal(run("firmware inspect '%s' --anchor %s", bad, G.anchor_hex), 1);
    assert_true(file_has(G.err, "INVALID"));
    f = fopen(bad, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(msg, 1, len / 2, f), len / 2);
    fclose(f);
    free(msg);
    assert_int_equal(run("firmware inspect '%s'", bad), 1);
    assert_true(file_has(G.err, "is not a manifest"));
}

/* Test 3. */
static void test_usage(void **state)
{
    (void)state;
    char out[200];
    snprintf(out, sizeof out, "%s/never.manifest", G.dir);
    assert_int_equal(run("firmware --help"), 0);
    assert_true(file_has(G.out, "firmware sign"));
    assert_int_equal(run("firmware"), 2);
    assert_int_equal(run("firmware frobnicate"), 2);
    assert_int_equal(
        run("firmware sign --dir '%s' --component OS --version 1 --out '%s' '%s'", G.keys, out, G.img),
        2); /* no --svn */
    assert_int_equal(
        run("firmware sign --dir '%s' --component ABCDEFGHIJKLMNOPQ --version 1 --svn 1 --out '%s' '%s'",
            G.keys, out, G.img),
        2);
    assert_int_equal(run("firmware sign --dir '%s' --component OS --version %033d --svn 1 --out '%s' '%s'",
                         G.keys, 1, out, G.img),
                     2);
    assert_int_equal(run("firmware sign --dir '%s' --component OS --version 1 --svn 64 --out '%s' '%s'",
                         G.keys, out, G.img),
                     2);
    assert_int_equal(run("firmware sign --dir '%s' --component OS --version 1 --svn x --out '%s' '%s'",
                         G.keys, out, G.img),
                     2);
    assert_int_equal(run("firmware inspect '%s' --anchor zz", G.man), 2);
    assert_int_equal(
        run("firmware sign --dir '%s' --key authority-9 --component OS --version 1 --svn 1 --out '%s' "
            "'%s'",
            G.keys, out, G.img),
        1);
    setenv("DROT_KEY_PASSPHRASE", "the wrong passphrase", 1);
    assert_int_equal(run("firmware sign --dir '%s' --component OS --version 1 --svn 1 --out '%s' '%s'",
                         G.keys, out, G.img),
                     1);
    setenv("DROT_KEY_PASSPHRASE", "firmware cli test passphrase", 1);
    assert_int_equal(access(out, F_OK), -1); /* nothing written by any of them */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests_name("firmware_cli", tests, group_setup, group_teardown);
}
