/*
 * test_keys.c — key custody (server/src/keys.h) with the file backend, and
 * the drotctl program (init, keys) run as a process.
 *
 * Test 1: generate per role → names, metadata, modes (dir 0700, files 0600),
 *         encrypted PEM (no "BEGIN PRIVATE KEY"), no passphrase in any file.
 * Test 2: sign a digest per role → verifies under the public key; use
 *         counts rise by one per signature and persist across reopen.
 * Test 3: fingerprints = SHA-256(SPKI DER), computed apart; stable on reopen.
 * Test 4: wrong passphrase → DS_KEYS_E_PASSPHRASE, clear message, no file
 *         changed (bytes compared).
 * Test 5: a group/world-readable key file, an open directory → refused.
 * Test 6: no passphrase → public operations work, private ones refused.
 * Test 7: an authority object signed through the interface verifies with
 *         drot_authority_verify against anchor = SHA-256(public key); a
 *         foreign anchor fails; buffer sizes; a CA key may not sign one.
 * Test 8: ds_keys_passphrase from file and environment, and its refusals.
 * Test 9: create refuses a non-empty directory and touches nothing.
 * Test 10: an unencrypted key file, a swapped key file → refused.
 * Test 11: key names.
 * Test 12..15: drotctl: --help, init (text and JSON), keys, refusals.
 * Test 16: 100 signatures → one decryption, seven metadata writes (uses
 *          reserved 1, 2, 4 … 64), the exact count for the key store, the
 *          reservation visible to others, the unspent part given back at
 *          close; handles are references.
 * Test 17: a cached key is checked again before each signature: swapped
 *          key file, group-readable, metadata of another key, truncated or
 *          oversized metadata, metadata gone → refused, no use counted;
 *          restored → used again.
 * Test 18: 3 processes × 3 threads, each thread its own key store
 *          (reopened every 16 signatures), 48 signatures each with one key
 *          → no failure, all verify, final count exactly 432.
 * Test 19: a signer killed with SIGKILL → count ≥ signatures made and
 *          ≤ made + 1 + DS_KEYS_USE_BLOCK_MAX; no lock left behind.
 *
 * Every test works in its own mkdtemp directory, removed in teardown,
 * pass or fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "drot/authority.h"
#include "drot_crypto.h"
#include "drot_test_support.h"
#include "keys.h"
#include "keys_internal.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name the drotctl program"
#endif

#define PASS  "correct horse battery staple"
#define PASS2 "not the right one at all"

typedef struct fixture {
    char root[64];
    char dir[96]; /* root/keys */
    char *out, *err;
} fixture;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    remove(path);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/drot-keys-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->dir, sizeof f->dir, "%s/keys", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f->out);
    free(f->err);
    free(f);
    return 0;
}

static ds_keystore *create_all(fixture *f, ds_key_info info[DS_ROLE_COUNT])
{
    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_create_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    for (int r = 0; r < DS_ROLE_COUNT; r++)
        assert_int_equal(ds_keys_generate(ks, (ds_key_role)r, &info[r]), DS_KEYS_OK);
    return ks;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n = 0;
    uint8_t *b = drot_test_read_file(path, &n);
    assert_non_null(b);
    char *s = realloc(b, n + 1);
    assert_non_null(s);
    s[n] = '\0';
    if (len != NULL)
        *len = n;
    return s;
}

static mode_t mode_of(const char *dir, const char *name)
{
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(lstat(path, &sb), 0);
    return sb.st_mode & 07777;
}

/* Uses of name as another process sees them: the persisted count. */
static uint64_t persisted_uses(fixture *f, const char *name)
{
    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, NULL, &ks, err, sizeof err), DS_KEYS_OK);
    ds_key_info k;
    assert_int_equal(ds_keys_info(ks, name, &k), DS_KEYS_OK);
    ds_keystore_close(ks);
    return k.uses;
}

/* True if the key directory holds a file ending in ".tmp". */
static int has_tmp_file(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0)
            found = 1;
    }
    closedir(d);
    return found;
}

/* Test 1 */
static void test_generate_per_role(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    assert_int_equal(mode_of(f->root, "keys"), 0700);
    static const char *const names[DS_ROLE_COUNT] = {"authority", "device-ca", "operator-ca", "server-tls",
                                                     "audit"};
    for (int r = 0; r < DS_ROLE_COUNT; r++) {
        assert_string_equal(info[r].name, names[r]);
        assert_int_equal(info[r].role, r);
        assert_int_equal(info[r].n, 1);
        assert_int_equal(info[r].uses, 0);
        assert_int_equal(strlen(info[r].fingerprint), 64);
        assert_true(info[r].created > 1700000000 && info[r].created <= (int64_t)time(NULL));
        char json_name[64];
        snprintf(json_name, sizeof json_name, "%s.json", names[r]);
        assert_int_equal(mode_of(f->dir, info[r].file), 0600);
        assert_int_equal(mode_of(f->dir, json_name), 0600);
        char *pem = slurp(f->dir, info[r].file, NULL);
        assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert_null(strstr(pem, "BEGIN PRIVATE KEY"));
        assert_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
        assert_null(strstr(pem, PASS));
        free(pem);
        char *meta = slurp(f->dir, json_name, NULL);
        assert_non_null(strstr(meta, info[r].fingerprint));
        assert_null(strstr(meta, PASS));
        free(meta);
    }
    /* A second authority key gets the next number. */
    ds_key_info second;
    assert_int_equal(ds_keys_generate(ks, DS_ROLE_AUTHORITY, &second), DS_KEYS_OK);
    assert_string_equal(second.name, "authority-2");
    assert_string_equal(second.file, "authority-2.key.pem");
    assert_string_not_equal(second.fingerprint, info[0].fingerprint);
    ds_key_info list[8];
    size_t n = 0;
    assert_int_equal(ds_keys_list(ks, list, 8, &n), DS_KEYS_OK);
    assert_int_equal(n, 6);
    assert_string_equal(list[0].name, "authority");
    assert_string_equal(list[1].name, "authority-2");
    assert_string_equal(list[4].name, "server-tls");
    assert_string_equal(list[5].name, "audit");
    assert_int_equal(ds_keys_list(ks, list, 2, &n), DS_KEYS_E_BUFFER);
    assert_int_equal(n, 6);
    ds_keystore_close(ks);
}

/* Verifies raw r‖s over digest under the key's public half. */
static int verify_raw(ds_keystore *ks, const char *name, const uint8_t digest[32], const uint8_t sig[64])
{
    drot_p256_pub pub;
    uint8_t raw[DROT_P256_PUB_LEN];
    assert_int_equal(ds_keys_p256_public(ks, name, &pub, raw), DS_KEYS_OK);
    return drot_ecdsa_p256_verify(&pub, digest, sig, DROT_P256_SIG_LEN) == DROT_OK;
}

/* Test 2 */
static void test_sign_and_count(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    uint8_t digest[32], sig[64];
    assert_int_equal(drot_sha256((const uint8_t *)"hello", 5, digest), DROT_OK);
    for (int r = 0; r < DS_ROLE_COUNT; r++) {
        assert_int_equal(ds_keys_sign_digest(ks, info[r].name, digest, sig), DS_KEYS_OK);
        assert_true(verify_raw(ks, info[r].name, digest, sig));
        sig[10] ^= 1;
        assert_false(verify_raw(ks, info[r].name, digest, sig));
        ds_key_info now;
        assert_int_equal(ds_keys_info(ks, info[r].name, &now), DS_KEYS_OK);
        assert_int_equal(now.uses, 1);
    }
    ds_keystore_close(ks);
    /* Persisted: a fresh open sees the counts and keeps raising them. */
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    ds_key_info now;
    assert_int_equal(ds_keys_info(ks, "device-ca", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 1);
    EVP_PKEY *h = NULL;
    assert_int_equal(ds_keys_acquire(ks, "device-ca", &h), DS_KEYS_OK);
    assert_non_null(h);
    ds_keys_release(ks, h);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);
    assert_int_equal(ds_keys_info(ks, "device-ca", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 3);
    /* No temp file is left behind by the atomic replace (whatever its
     * name: they are unique since the metadata lock, keys_file.c inv. 5). */
    assert_false(has_tmp_file(f->dir));
    /* An unknown key. */
    assert_int_equal(ds_keys_sign_digest(ks, "authority-7", digest, sig), DS_KEYS_E_NOTFOUND);
    assert_int_equal(ds_keys_sign_digest(ks, "nonsense", digest, sig), DS_KEYS_E_ARG);
    ds_keystore_close(ks);
}

/* Test 3 */
static void test_fingerprint_stable(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    for (int r = 0; r < DS_ROLE_COUNT; r++) {
        EVP_PKEY *pub = NULL;
        assert_int_equal(ds_keys_load_public(ks, info[r].name, &pub), DS_KEYS_OK);
        unsigned char *der = NULL;
        int len = i2d_PUBKEY(pub, &der);
        assert_true(len > 0);
        uint8_t md[32];
        assert_int_equal(drot_sha256(der, (size_t)len, md), DROT_OK);
        OPENSSL_free(der);
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        assert_string_equal(hex, info[r].fingerprint);
        char fp[65];
        assert_int_equal(ds_keys_fingerprint(pub, fp), DS_KEYS_OK);
        assert_string_equal(fp, info[r].fingerprint);
        EVP_PKEY_free(pub);
    }
    ds_keystore_close(ks);
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    uint8_t digest[32] = {1}, sig[64];
    assert_int_equal(ds_keys_sign_digest(ks, "authority", digest, sig), DS_KEYS_OK);
    ds_key_info again;
    assert_int_equal(ds_keys_info(ks, "authority", &again), DS_KEYS_OK);
    assert_string_equal(again.fingerprint, info[0].fingerprint);
    assert_int_equal(again.created, info[0].created);
    ds_keystore_close(ks);
}

/* Test 4 */
static void test_wrong_passphrase(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore_close(create_all(f, info));
    size_t klen, mlen;
    char *key_before = slurp(f->dir, "authority.key.pem", &klen);
    char *meta_before = slurp(f->dir, "authority.json", &mlen);

    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, PASS2, &ks, err, sizeof err), DS_KEYS_OK);
    uint8_t digest[32] = {0}, sig[64];
    assert_int_equal(ds_keys_sign_digest(ks, "authority", digest, sig), DS_KEYS_E_PASSPHRASE);
    assert_non_null(strstr(ds_keystore_error(ks), "wrong passphrase"));
    assert_null(strstr(ds_keystore_error(ks), PASS2));
    EVP_PKEY *h = NULL;
    assert_int_equal(ds_keys_acquire(ks, "authority", &h), DS_KEYS_E_PASSPHRASE);
    assert_null(h);
    size_t out_len = 0;
    uint8_t msg[512];
    assert_int_equal(ds_keys_authority_sign(ks, "authority", DROT_AUTH_CT_MANIFEST, (const uint8_t *)"x", 1,
                                            msg, sizeof msg, &out_len),
                     DS_KEYS_E_PASSPHRASE);
    ds_key_info now;
    assert_int_equal(ds_keys_info(ks, "authority", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 0);
    ds_keystore_close(ks);

    size_t klen2, mlen2;
    char *key_after = slurp(f->dir, "authority.key.pem", &klen2);
    char *meta_after = slurp(f->dir, "authority.json", &mlen2);
    assert_int_equal(klen, klen2);
    assert_int_equal(mlen, mlen2);
    assert_memory_equal(key_before, key_after, klen);
    assert_memory_equal(meta_before, meta_after, mlen);
    free(key_before);
    free(key_after);
    free(meta_before);
    free(meta_after);
}

/* Test 5 */
static void test_permissions_refused(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    char path[256];
    snprintf(path, sizeof path, "%s/device-ca.key.pem", f->dir);
    uint8_t digest[32] = {2}, sig[64];
    static const mode_t bad[] = {0644, 0640, 0604, 0606, 0660};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_PERM);
        assert_non_null(strstr(ds_keystore_error(ks), "chmod 0600"));
    }
    ds_key_info now;
    assert_int_equal(ds_keys_info(ks, "device-ca", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);
    /* A symlink in place of the key file is not followed. */
    char moved[256];
    snprintf(moved, sizeof moved, "%s/moved.pem", f->root);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(symlink(moved, path), 0);
    assert_int_not_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);
    ds_keystore_close(ks);

    /* A key directory open to others is refused at open. */
    char err[256] = "";
    assert_int_equal(chmod(f->dir, 0755), 0);
    ks = NULL;
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_E_PERM);
    assert_null(ks);
    assert_non_null(strstr(err, "0700"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    ds_keystore_close(ks);
}

/* Test 6 */
static void test_no_passphrase(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore_close(create_all(f, info));
    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, NULL, &ks, err, sizeof err), DS_KEYS_OK);
    ds_key_info list[8];
    size_t n = 0;
    assert_int_equal(ds_keys_list(ks, list, 8, &n), DS_KEYS_OK);
    assert_int_equal(n, DS_ROLE_COUNT);
    EVP_PKEY *pub = NULL;
    assert_int_equal(ds_keys_load_public(ks, "server-tls", &pub), DS_KEYS_OK);
    EVP_PKEY_free(pub);
    uint8_t digest[32] = {3}, sig[64];
    assert_int_equal(ds_keys_sign_digest(ks, "server-tls", digest, sig), DS_KEYS_E_NO_PASSPHRASE);
    assert_non_null(strstr(ds_keystore_error(ks), "DROT_KEY_PASSPHRASE"));
    ds_key_info k;
    assert_int_equal(ds_keys_generate(ks, DS_ROLE_AUTHORITY, &k), DS_KEYS_E_NO_PASSPHRASE);
    ds_keystore_close(ks);
    ks = NULL;
    assert_int_equal(ds_keystore_create_file(f->root, NULL, &ks, err, sizeof err), DS_KEYS_E_NO_PASSPHRASE);
}

/* Test 7 */
static void test_authority_object(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    static const uint8_t payload[] = {0xa1, 0x01, 0x63, 'A', 'P', 'M'};
    size_t need = 0;
    assert_int_equal(ds_keys_authority_sign(ks, "authority", DROT_AUTH_CT_MANIFEST, payload, sizeof payload,
                                            NULL, 0, &need),
                     DS_KEYS_E_BUFFER);
    assert_true(need > 64 + 65 && need <= DROT_AUTHORITY_SIZE_BOUND(sizeof payload));
    uint8_t msg[512];
    size_t len = 0;
    assert_int_equal(ds_keys_authority_sign(ks, "authority", DROT_AUTH_CT_MANIFEST, payload, sizeof payload,
                                            msg, need - 1, &len),
                     DS_KEYS_E_BUFFER);
    assert_int_equal(ds_keys_authority_sign(ks, "authority", DROT_AUTH_CT_MANIFEST, payload, sizeof payload,
                                            msg, sizeof msg, &len),
                     DS_KEYS_OK);
    assert_int_equal(len, need);

    drot_p256_pub pub;
    uint8_t raw[DROT_P256_PUB_LEN];
    assert_int_equal(ds_keys_p256_public(ks, "authority", &pub, raw), DS_KEYS_OK);
    drot_anchor_slot slots[2];
    memset(slots, 0, sizeof slots);
    slots[1].present = true;
    assert_int_equal(drot_sha256(raw, sizeof raw, slots[1].hash), DROT_OK);
    slots[0].present = true;
    memset(slots[0].hash, 0x5a, sizeof slots[0].hash);
    drot_cose_sign1_view view;
    size_t slot = 99;
    assert_int_equal(drot_authority_verify(msg, len, DROT_AUTH_CT_MANIFEST, slots, 2, &view, &slot), DROT_OK);
    assert_int_equal(slot, 1);
    assert_int_equal(view.payload_len, sizeof payload);
    assert_memory_equal(view.payload, payload, sizeof payload);
    /* Another kind, another anchor, a flipped bit: refused. */
    assert_int_equal(drot_authority_verify(msg, len, DROT_AUTH_CT_ROTATE_ROOT, slots, 2, &view, NULL),
                     DROT_E_UNSUPPORTED);
    assert_int_equal(drot_authority_verify(msg, len, DROT_AUTH_CT_MANIFEST, slots, 1, &view, NULL),
                     DROT_E_VERIFY);
    msg[len - 1] ^= 1;
    assert_int_equal(drot_authority_verify(msg, len, DROT_AUTH_CT_MANIFEST, slots, 2, &view, NULL),
                     DROT_E_VERIFY);

    ds_key_info now;
    assert_int_equal(ds_keys_info(ks, "authority", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 1);
    /* Only authority keys sign authority objects. */
    assert_int_equal(ds_keys_authority_sign(ks, "device-ca", DROT_AUTH_CT_MANIFEST, payload, sizeof payload,
                                            msg, sizeof msg, &len),
                     DS_KEYS_E_ARG);
    assert_int_equal(ds_keys_info(ks, "device-ca", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 0);
    ds_keystore_close(ks);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

/* Test 8 */
static void test_passphrase_sources(void **state)
{
    fixture *f = *state;
    char buf[DS_KEYS_PASSPHRASE_MAX + 1];
    char path[128];
    snprintf(path, sizeof path, "%s/pass", f->root);

    write_file(path, "from a file\r\n", 0600);
    assert_int_equal(ds_keys_passphrase(path, buf, sizeof buf), DS_KEYS_OK);
    assert_string_equal(buf, "from a file");
    write_file(path, "no newline", 0640);
    assert_int_equal(ds_keys_passphrase(path, buf, sizeof buf), DS_KEYS_OK);
    assert_string_equal(buf, "no newline");
    write_file(path, "world readable\n", 0644);
    assert_int_equal(ds_keys_passphrase(path, buf, sizeof buf), DS_KEYS_E_PERM);
    assert_int_equal(buf[0], 0);
    write_file(path, "\n", 0600);
    assert_int_equal(ds_keys_passphrase(path, buf, sizeof buf), DS_KEYS_E_NO_PASSPHRASE);
    write_file(path, "0123456789abcdef", 0600);
    assert_int_equal(ds_keys_passphrase(path, buf, 8), DS_KEYS_E_BUFFER);
    assert_int_equal(ds_keys_passphrase(path, buf, 17), DS_KEYS_OK);
    snprintf(path, sizeof path, "%s/missing", f->root);
    assert_int_equal(ds_keys_passphrase(path, buf, sizeof buf), DS_KEYS_E_NOTFOUND);

    /* The file wins over the environment; without a file, the environment. */
    setenv("DROT_KEY_PASSPHRASE", "from the environment", 1);
    snprintf(path, sizeof path, "%s/pass", f->root);
    assert_int_equal(ds_keys_passphrase(path, buf, sizeof buf), DS_KEYS_OK);
    assert_string_equal(buf, "0123456789abcdef");
    assert_int_equal(ds_keys_passphrase(NULL, buf, sizeof buf), DS_KEYS_OK);
    assert_string_equal(buf, "from the environment");
    setenv("DROT_KEY_PASSPHRASE", "", 1);
    assert_int_equal(ds_keys_passphrase(NULL, buf, sizeof buf), DS_KEYS_E_NO_PASSPHRASE);
    unsetenv("DROT_KEY_PASSPHRASE");
    assert_int_equal(ds_keys_passphrase(NULL, buf, sizeof buf), DS_KEYS_E_NO_PASSPHRASE);
    assert_non_null(strstr(ds_keys_status_str(DS_KEYS_E_NO_PASSPHRASE),
                           "set DROT_KEY_PASSPHRASE or use --passphrase-file"));
}

/* Test 9 */
static void test_create_refuses_nonempty(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkdir(f->dir, 0755), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/something", f->dir);
    write_file(path, "keep me", 0644);
    ds_keystore *ks = NULL;
    char err[256] = "";
    assert_int_equal(ds_keystore_create_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_E_EXISTS);
    assert_null(ks);
    assert_non_null(strstr(err, "not empty"));
    assert_int_equal(mode_of(f->root, "keys"), 0755);
    char *s = slurp(f->dir, "something", NULL);
    assert_string_equal(s, "keep me");
    free(s);
    /* An empty existing directory is taken, and closed to others. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ds_keystore_create_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    assert_int_equal(mode_of(f->root, "keys"), 0700);
    ds_keystore_close(ks);
}

/* Test 10 */
static void test_bad_key_files(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    uint8_t digest[32] = {4}, sig[64];
    char path[160];
    snprintf(path, sizeof path, "%s/operator-ca.key.pem", f->dir);

    /* An unencrypted PKCS#8 file with the right key: refused all the same. */
    EVP_PKEY *other = NULL;
    assert_int_equal(ds_keys_new_p256(&other), DS_KEYS_OK);
    assert_int_equal(unlink(path), 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, other, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "operator-ca", digest, sig), DS_KEYS_E_FORMAT);

    /* Another key, encrypted with the right passphrase: not the recorded one. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ds_keys_write_encrypted_pem(path, other, PASS), DS_KEYS_OK);
    assert_int_equal(ds_keys_write_encrypted_pem(path, other, PASS), DS_KEYS_E_EXISTS);
    assert_int_equal(ds_keys_sign_digest(ks, "operator-ca", digest, sig), DS_KEYS_E_MISMATCH);
    assert_non_null(strstr(ds_keystore_error(ks), "fingerprint"));
    EVP_PKEY *back = NULL;
    assert_int_equal(ds_keys_read_encrypted_pem(path, PASS, &back), DS_KEYS_OK);
    assert_int_equal(EVP_PKEY_eq(back, other), 1);
    EVP_PKEY_free(back);
    assert_int_equal(ds_keys_read_encrypted_pem(path, PASS2, &back), DS_KEYS_E_PASSPHRASE);
    EVP_PKEY_free(other);

    /* Tampered metadata (a fingerprint that is not the key's) is malformed. */
    snprintf(path, sizeof path, "%s/authority.json", f->dir);
    char *meta = slurp(f->dir, "authority.json", NULL);
    char *fpos = strstr(meta, info[0].fingerprint);
    assert_non_null(fpos);
    fpos[0] = fpos[0] == '0' ? '1' : '0';
    write_file(path, meta, 0600);
    free(meta);
    ds_key_info k;
    assert_int_equal(ds_keys_info(ks, "authority", &k), DS_KEYS_E_FORMAT);
    ds_keystore_close(ks);
}

/* Test 11 */
static void test_names(void **state)
{
    (void)state;
    char name[DS_KEY_NAME_MAX];
    ds_key_role r;
    unsigned n;
    assert_int_equal(ds_key_name(DS_ROLE_OPERATOR_CA, 1, name), DS_KEYS_OK);
    assert_string_equal(name, "operator-ca");
    assert_int_equal(ds_key_name(DS_ROLE_AUTHORITY, 12, name), DS_KEYS_OK);
    assert_string_equal(name, "authority-12");
    assert_int_equal(ds_key_name(DS_ROLE_AUTHORITY, 0, name), DS_KEYS_E_ARG);
    assert_int_equal(ds_key_name_parse("authority-12", &r, &n), DS_KEYS_OK);
    assert_int_equal(r, DS_ROLE_AUTHORITY);
    assert_int_equal(n, 12);
    assert_int_equal(ds_key_name_parse("server-tls", &r, &n), DS_KEYS_OK);
    assert_int_equal(n, 1);
    static const char *const bad[] = {"authority-1", "authority-01", "authority-",      "authority-x",
                                      "authorityx",  "../authority", "authority-99999", "",
                                      "device"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ds_key_name_parse(bad[i], &r, &n), DS_KEYS_E_ARG);
    assert_int_equal(ds_key_role_parse("device-ca", &r), DS_KEYS_OK);
    assert_int_equal(r, DS_ROLE_DEVICE_CA);
    assert_int_equal(ds_key_name_parse("audit", &r, &n), DS_KEYS_OK);
    assert_int_equal(r, DS_ROLE_AUDIT);
    assert_int_equal(ds_key_role_parse("root", &r), DS_KEYS_E_ARG);
}

/* ---- the cache, the reservations and the lock (keys_file.c, inv. 2–5) ---- */

/* Test 16: one decryption per key store, uses reserved in blocks of 1, 2,
 * 4, … 64, the exact count for this key store and after close. */
static void test_decrypt_once_and_reserve(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore_close(create_all(f, info));
    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    unsigned long dec = 9, writes = 9;
    ds_keystore_file_stats(ks, &dec, &writes);
    assert_int_equal(dec, 0);
    assert_int_equal(writes, 0);
    uint8_t digest[32], sig[64];
    for (unsigned i = 0; i < 100; i++) {
        digest[0] = (uint8_t)i;
        memset(digest + 1, 0x33, sizeof digest - 1);
        assert_int_equal(ds_keys_sign_digest(ks, "authority", digest, sig), DS_KEYS_OK);
        assert_true(verify_raw(ks, "authority", digest, sig));
    }
    ds_keystore_file_stats(ks, &dec, &writes);
    assert_int_equal(dec, 1);
    assert_int_equal(writes, 7); /* 1 + 2 + 4 + 8 + 16 + 32 + 64 = 127 >= 100 */
    ds_key_info now;
    assert_int_equal(ds_keys_info(ks, "authority", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 100);
    ds_key_info list[8];
    size_t n = 0;
    assert_int_equal(ds_keys_list(ks, list, 8, &n), DS_KEYS_OK);
    assert_string_equal(list[0].name, "authority");
    assert_int_equal(list[0].uses, 100);
    /* Another process sees the reservation: never less than was signed. */
    assert_int_equal(persisted_uses(f, "authority"), 127);
    /* A handle is a reference: valid until released, the key until close. */
    EVP_PKEY *h1 = NULL, *h2 = NULL;
    assert_int_equal(ds_keys_acquire(ks, "authority", &h1), DS_KEYS_OK);
    assert_int_equal(ds_keys_acquire(ks, "authority", &h2), DS_KEYS_OK);
    ds_keys_release(ks, h1);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, h2, NULL);
    unsigned char der[80];
    size_t der_len = sizeof der;
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_int_equal(EVP_PKEY_sign(ctx, der, &der_len, digest, 32), 1);
    EVP_PKEY_CTX_free(ctx);
    ds_keys_release(ks, h2);
    ds_keystore_file_stats(ks, &dec, &writes);
    assert_int_equal(dec, 1);
    ds_keystore_close(ks);
    /* Closed: the unspent 25 went back. */
    assert_int_equal(persisted_uses(f, "authority"), 102);
    assert_false(has_tmp_file(f->dir));
}

/* Test 17: a cached key is checked against its files before every
 * signature: a swapped key file, open permissions, a metadata file naming
 * another key, a removed key. No use is counted for a refused signature. */
static void test_cached_key_rechecked(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore *ks = create_all(f, info);
    uint8_t digest[32] = {5}, sig[64];
    unsigned long dec = 0;
    char path[160], saved[160];
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);

    /* Another key, encrypted with the right passphrase, under the same name. */
    snprintf(path, sizeof path, "%s/device-ca.key.pem", f->dir);
    snprintf(saved, sizeof saved, "%s/saved.pem", f->root);
    assert_int_equal(rename(path, saved), 0);
    EVP_PKEY *other = NULL;
    assert_int_equal(ds_keys_new_p256(&other), DS_KEYS_OK);
    assert_int_equal(ds_keys_write_encrypted_pem(path, other, PASS), DS_KEYS_OK);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_MISMATCH);
    assert_non_null(strstr(ds_keystore_error(ks), "fingerprint"));
    ds_keystore_file_stats(ks, &dec, NULL);
    assert_int_equal(dec, 2);
    /* The original back (a new inode again): decrypted, checked, used. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rename(saved, path), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);
    assert_true(verify_raw(ks, "device-ca", digest, sig));
    ds_keystore_file_stats(ks, &dec, NULL);
    assert_int_equal(dec, 3);

    /* Opened to the group after it was cached: refused, then fine again. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_PERM);
    assert_non_null(strstr(ds_keystore_error(ks), "chmod 0600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);
    ds_key_info now;
    assert_int_equal(ds_keys_info(ks, "device-ca", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 3);

    /* A well-formed metadata file of another key under this name. */
    char meta_path[160], meta_saved[160];
    snprintf(meta_path, sizeof meta_path, "%s/device-ca.json", f->dir);
    snprintf(meta_saved, sizeof meta_saved, "%s/saved.json", f->root);
    char *orig = slurp(f->dir, "device-ca.json", NULL);
    write_file(meta_saved, orig, 0600);
    char *forged = slurp(f->dir, "operator-ca.json", NULL);
    char *spki_other = strstr(forged, "\"public_key\"");
    assert_non_null(spki_other);
    json_error_t jerr;
    json_t *jo = json_loads(forged, 0, &jerr), *jd = json_loads(orig, 0, &jerr);
    assert_non_null(jo);
    assert_non_null(jd);
    json_object_set(jd, "fingerprint", json_object_get(jo, "fingerprint"));
    json_object_set(jd, "public_key", json_object_get(jo, "public_key"));
    char *text = json_dumps(jd, JSON_INDENT(2));
    assert_non_null(text);
    write_file(meta_path, text, 0600);
    free(text);
    json_decref(jo);
    json_decref(jd);
    free(forged);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_MISMATCH);
    /* Truncated, and oversized, metadata under the cached key: malformed. */
    char *cut = strdup(orig);
    assert_non_null(cut);
    cut[strlen(cut) / 2] = '\0';
    write_file(meta_path, cut, 0600);
    free(cut);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_FORMAT);
    assert_non_null(strstr(ds_keystore_error(ks), "device-ca.json"));
    char *big = calloc(1, 8192);
    assert_non_null(big);
    memcpy(big, orig, strlen(orig));
    memset(big + strlen(orig) - 2, ' ', 8192 - strlen(orig) + 1); /* valid JSON, 8 KiB */
    big[8190] = '}';
    write_file(meta_path, big, 0600);
    free(big);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_FORMAT);
    write_file(meta_path, orig, 0600);
    free(orig);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);

    /* Metadata gone: the key no longer exists (invariant 1). */
    assert_int_equal(rename(meta_path, meta_saved), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_E_NOTFOUND);
    assert_int_equal(rename(meta_saved, meta_path), 0);
    assert_int_equal(ds_keys_sign_digest(ks, "device-ca", digest, sig), DS_KEYS_OK);
    assert_int_equal(ds_keys_info(ks, "device-ca", &now), DS_KEYS_OK);
    assert_int_equal(now.uses, 5);
    EVP_PKEY_free(other);
    ds_keystore_close(ks);
    /* Every refused attempt left the count alone: 5 signatures were made. */
    assert_int_equal(persisted_uses(f, "device-ca"), 5);
}

#define CONC_PROCS   3
#define CONC_THREADS 3
#define CONC_SIGS    48
#define CONC_REOPEN  16 /* each thread closes and reopens its key store this often */

typedef struct signer_arg {
    const char *dir;
    unsigned id;
    unsigned failures;
} signer_arg;

/* One thread of one process: its own key store, reopened now and then, signs
 * CONC_SIGS digests with device-ca, half through sign_digest and half
 * through acquire + EVP_PKEY_sign, and checks every signature. No cmocka
 * assertion here: it counts what went wrong. */
static void *signer_thread(void *p)
{
    signer_arg *a = p;
    ds_keystore *ks = NULL;
    char err[256];
    EVP_PKEY *pub = NULL;
    for (unsigned i = 0; i < CONC_SIGS; i++) {
        if (i % CONC_REOPEN == 0) {
            ds_keystore_close(ks);
            ks = NULL;
            if (ds_keystore_open_file(a->dir, PASS, &ks, err, sizeof err) != DS_KEYS_OK) {
                a->failures += CONC_SIGS - i;
                break;
            }
            if (pub == NULL && ds_keys_load_public(ks, "device-ca", &pub) != DS_KEYS_OK)
                a->failures++;
        }
        uint8_t digest[32], sig[64];
        unsigned char der[80];
        size_t der_len = sizeof der;
        memset(digest, (int)(a->id & 0xff), sizeof digest);
        digest[0] = (uint8_t)i;
        if (i % 2 == 0) {
            if (ds_keys_sign_digest(ks, "device-ca", digest, sig) != DS_KEYS_OK) {
                fprintf(stderr, "signer %u: %s\n", a->id, ds_keystore_error(ks));
                a->failures++;
                continue;
            }
            ECDSA_SIG *s = ECDSA_SIG_new();
            BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
            unsigned char *d = der;
            if (s == NULL || ECDSA_SIG_set0(s, r, sv) != 1) {
                BN_free(r);
                BN_free(sv);
                a->failures++;
            } else {
                der_len = (size_t)i2d_ECDSA_SIG(s, &d);
            }
            ECDSA_SIG_free(s);
        } else {
            EVP_PKEY *h = NULL;
            if (ds_keys_acquire(ks, "device-ca", &h) != DS_KEYS_OK) {
                fprintf(stderr, "signer %u: %s\n", a->id, ds_keystore_error(ks));
                a->failures++;
                continue;
            }
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, h, NULL);
            if (c == NULL || EVP_PKEY_sign_init(c) != 1 || EVP_PKEY_sign(c, der, &der_len, digest, 32) != 1)
                a->failures++;
            EVP_PKEY_CTX_free(c);
            ds_keys_release(ks, h);
        }
        EVP_PKEY_CTX *v = pub != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL) : NULL;
        if (v == NULL || EVP_PKEY_verify_init(v) != 1 || EVP_PKEY_verify(v, der, der_len, digest, 32) != 1)
            a->failures++;
        EVP_PKEY_CTX_free(v);
    }
    EVP_PKEY_free(pub);
    ds_keystore_close(ks);
    return NULL;
}

/* A child process: CONC_THREADS signer threads; exit status = failures. */
static void signer_process(const char *dir, unsigned proc)
{
    pthread_t t[CONC_THREADS];
    signer_arg a[CONC_THREADS];
    unsigned failures = 0;
    for (unsigned i = 0; i < CONC_THREADS; i++) {
        a[i] = (signer_arg){dir, proc * CONC_THREADS + i + 1, 0};
        if (pthread_create(&t[i], NULL, signer_thread, &a[i]) != 0)
            _exit(100);
    }
    for (unsigned i = 0; i < CONC_THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += a[i].failures;
    }
    _exit(failures > 99 ? 99 : (int)failures);
}

/* Test 18: several processes with several threads each sign with one key of
 * one directory at once: no failure, every signature verifies, and the
 * final count is exactly the number of signatures. */
static void test_concurrent_signers(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore_close(create_all(f, info));
    pid_t pids[CONC_PROCS];
    for (unsigned p = 0; p < CONC_PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            signer_process(f->dir, p);
    }
    for (unsigned p = 0; p < CONC_PROCS; p++) {
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0)
            fail_msg("signer process %u: %d failures", p, WEXITSTATUS(st));
    }
    assert_int_equal(persisted_uses(f, "device-ca"), CONC_PROCS * CONC_THREADS * CONC_SIGS);
    assert_false(has_tmp_file(f->dir));
}

/* Test 19: a process killed while it signs leaves the count high by at most
 * one block, never low, and leaves no lock behind. */
static void test_killed_signer(void **state)
{
    fixture *f = *state;
    ds_key_info info[DS_ROLE_COUNT];
    ds_keystore_close(create_all(f, info));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ds_keystore *ks = NULL;
        char err[256];
        if (ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err) != DS_KEYS_OK)
            _exit(1);
        uint8_t digest[32] = {7}, sig[64];
        for (;;) { /* one byte reported per signature made */
            if (ds_keys_sign_digest(ks, "authority", digest, sig) != DS_KEYS_OK || write(fds[1], "s", 1) != 1)
                _exit(2);
        }
    }
    close(fds[1]);
    uint64_t made = 0;
    char buf[64];
    while (made < 150) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        assert_true(r > 0);
        made += (uint64_t)r;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    ssize_t r;
    while ((r = read(fds[0], buf, sizeof buf)) > 0)
        made += (uint64_t)r;
    close(fds[0]);
    /* At most one signature was made and not reported when it died. */
    uint64_t uses = persisted_uses(f, "authority");
    if (uses < made || uses > made + 1 + DS_KEYS_USE_BLOCK_MAX)
        fail_msg("%llu signatures reported, use count %llu", (unsigned long long)made,
                 (unsigned long long)uses);
    /* No lock left behind: another key store reserves and signs at once. */
    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    uint8_t digest[32] = {8}, sig[64];
    assert_int_equal(ds_keys_sign_digest(ks, "authority", digest, sig), DS_KEYS_OK);
    ds_keystore_close(ks);
    assert_int_equal(persisted_uses(f, "authority"), uses + 1);
}

/* ---- drotctl ---------------------------------------------------------- */

/* Runs a shell command line (the drotctl path is %1$s-free: callers put
 * DROTCTL_BIN themselves); keeps stdout and stderr; returns exit status. */
static int run(fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(fixture *f, const char *fmt, ...)
{
    char cmd[1024], full[1400];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(cmd, sizeof cmd, fmt, ap) < sizeof cmd);
    va_end(ap);
    snprintf(full, sizeof full, "%s </dev/null >'%s/stdout' 2>'%s/stderr'", cmd, f->root, f->root);
    int st = system(full);
    assert_true(WIFEXITED(st));
    free(f->out);
    free(f->err);
    f->out = slurp(f->root, "stdout", NULL);
    f->err = slurp(f->root, "stderr", NULL);
    return WEXITSTATUS(st);
}

#define CTL      "env -u DROT_KEY_PASSPHRASE '" DROTCTL_BIN "'"
#define CTL_PASS "env DROT_KEY_PASSPHRASE='" PASS "' '" DROTCTL_BIN "'"

static void assert_one_error(fixture *f, const char *needle)
{
    if (strncmp(f->err, "drotctl: ", 9) != 0 || strstr(f->err, needle) == NULL)
        fail_msg("expected an error with '%s', got: %s", needle, f->err);
    assert_ptr_equal(strchr(f->err, '\n'), f->err + strlen(f->err) - 1);
}

/* Test 12 */
static void test_drotctl_help(void **state)
{
    fixture *f = *state;
    assert_int_equal(run(f, CTL " --help"), 0);
    assert_non_null(strstr(f->out, "init"));
    assert_non_null(strstr(f->out, "keys"));
    assert_non_null(strstr(f->out, "DROT_KEY_PASSPHRASE"));
    assert_int_equal(run(f, CTL " init --help"), 0);
    assert_non_null(strstr(f->out, "--server-name"));
    assert_non_null(strstr(f->out, "--passphrase-file"));
    assert_int_equal(run(f, CTL " keys --help"), 0);
    assert_non_null(strstr(f->out, "--dir"));
    assert_int_equal(run(f, CTL), 2);
    assert_int_equal(run(f, CTL " frobnicate"), 2);
    assert_one_error(f, "unknown command");
    assert_int_equal(run(f, CTL " init --bogus"), 2);
    assert_one_error(f, "--bogus");
    assert_int_equal(run(f, CTL " init"), 2);
    assert_one_error(f, "--dir");
    assert_int_equal(run(f, CTL " init --dir '%s' --ca-days 0", f->dir), 2);
    assert_int_not_equal(access(f->dir, F_OK), 0);
}

/* Test 13 */
static void test_drotctl_init_and_keys(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        run(f, CTL_PASS " init --dir '%s' --server-name drot.example --server-name 10.1.2.3", f->dir), 0);
    assert_string_equal(f->err, "");
    assert_non_null(strstr(f->out, "authority anchor"));
    assert_null(strstr(f->out, PASS));
    assert_int_equal(mode_of(f->root, "keys"), 0700);
    static const char *const files[] = {"authority.key.pem", "device-ca.key.pem", "operator-ca.key.pem",
                                        "server-tls.key.pem", "operators/admin.key.pem"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        assert_int_equal(mode_of(f->dir, files[i]), 0600);
        char *pem = slurp(f->dir, files[i], NULL);
        assert_non_null(strstr(pem, "ENCRYPTED PRIVATE KEY"));
        assert_null(strstr(pem, "BEGIN PRIVATE KEY"));
        free(pem);
    }
    char path[160];
    snprintf(path, sizeof path, "%s/operators/admin.key.pem", f->dir);
    EVP_PKEY *admin = NULL;
    assert_int_equal(ds_keys_read_encrypted_pem(path, PASS, &admin), DS_KEYS_OK);
    EVP_PKEY_free(admin);

    assert_int_equal(run(f, CTL " keys --dir '%s' --json", f->dir), 0);
    json_error_t jerr;
    json_t *j = json_loads(f->out, 0, &jerr);
    assert_non_null(j);
    json_t *keys = json_object_get(j, "keys");
    assert_int_equal(json_array_size(keys), 5);
    static const char *const roles[] = {"authority", "device-ca", "operator-ca", "server-tls", "audit"};
    static const json_int_t uses[] = {0, 2, 2, 0, 0}; /* CA: self-signature + one issued certificate */
    for (size_t i = 0; i < 5; i++) {
        json_t *k = json_array_get(keys, i);
        assert_string_equal(json_string_value(json_object_get(k, "role")), roles[i]);
        assert_int_equal(json_integer_value(json_object_get(k, "uses")), uses[i]);
        assert_int_equal(strlen(json_string_value(json_object_get(k, "fingerprint"))), 64);
        assert_non_null(json_string_value(json_object_get(k, "created")));
        assert_non_null(json_string_value(json_object_get(k, "file")));
    }
    json_decref(j);
    assert_int_equal(run(f, CTL " keys --dir '%s'", f->dir), 0);
    assert_non_null(strstr(f->out, "FINGERPRINT"));
    assert_non_null(strstr(f->out, "operator-ca.key.pem"));

    /* A second init into the same directory is refused and changes nothing. */
    size_t before_len;
    char *before = slurp(f->dir, "authority.json", &before_len);
    assert_int_equal(run(f, CTL_PASS " init --dir '%s'", f->dir), 1);
    assert_one_error(f, "not empty");
    char *after = slurp(f->dir, "authority.json", NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* Test 14 */
static void test_drotctl_init_json_and_file(void **state)
{
    fixture *f = *state;
    char pf[128];
    snprintf(pf, sizeof pf, "%s/pass", f->root);
    write_file(pf, PASS "\n", 0600);
    assert_int_equal(run(f, CTL " init --dir '%s' --passphrase-file '%s' --json", f->dir, pf), 0);
    json_error_t jerr;
    json_t *j = json_loads(f->out, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "keys")), DS_ROLE_COUNT);
    assert_int_equal(json_array_size(json_object_get(j, "certificates")), 4);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "authority_anchor"))), 64);
    json_decref(j);
    /* The file's passphrase (without its newline) encrypted the keys. */
    ds_keystore *ks = NULL;
    char err[256];
    assert_int_equal(ds_keystore_open_file(f->dir, PASS, &ks, err, sizeof err), DS_KEYS_OK);
    uint8_t d[32] = {9}, sig[64];
    assert_int_equal(ds_keys_sign_digest(ks, "authority", d, sig), DS_KEYS_OK);
    ds_keystore_close(ks);
}

/* Test 15 */
static void test_drotctl_refusals(void **state)
{
    fixture *f = *state;
    assert_int_equal(run(f, CTL " init --dir '%s'", f->dir), 1);
    assert_one_error(f, "set DROT_KEY_PASSPHRASE or use --passphrase-file");
    assert_int_not_equal(access(f->dir, F_OK), 0);
    assert_int_equal(run(f, CTL " init --dir '%s' --passphrase '%s'", f->dir, PASS), 2);
    assert_one_error(f, "never taken from the command line");
    assert_null(strstr(f->err, PASS));
    assert_int_equal(run(f, CTL " init --dir '%s' --passphrase='%s'", f->dir, PASS), 2);
    assert_int_not_equal(access(f->dir, F_OK), 0);
    char pf[128];
    snprintf(pf, sizeof pf, "%s/pass", f->root);
    write_file(pf, PASS, 0644);
    assert_int_equal(run(f, CTL " init --dir '%s' --passphrase-file '%s'", f->dir, pf), 1);
    assert_one_error(f, "readable by others");
    assert_int_equal(run(f, CTL " init --dir '%s' --passphrase-file '%s/nope'", f->dir, f->root), 1);
    assert_one_error(f, "no such passphrase file");
    assert_int_equal(run(f, "env DROT_KEY_PASSPHRASE=short '" DROTCTL_BIN "' init --dir '%s'", f->dir), 1);
    assert_one_error(f, "too short");
    assert_int_equal(run(f, CTL_PASS " init --dir '%s' --server-name 'a,DNS:evil.example'", f->dir), 1);
    assert_one_error(f, "server name 1");
    assert_int_not_equal(access(f->dir, F_OK), 0); /* cleaned up after the failure */
    assert_int_equal(run(f, CTL " keys --dir '%s'", f->dir), 1);
    assert_one_error(f, "No such file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generate_per_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_and_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses_nonempty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drotctl_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drotctl_init_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drotctl_init_json_and_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drotctl_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decrypt_once_and_reserve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_key_rechecked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_signers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_signer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
