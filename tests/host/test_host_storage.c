/*
 * test_host_storage.c — libdrot-host's secure storage (dh_storage_put/get)
 * against real drot-apm processes: round trip and file modes, unsafe
 * directories, bad labels, blobs from another device, tampered and renamed
 * blobs, leftover temp files and atomic replacement, and sealed data
 * surviving an APM firmware update signed by the same authority.
 *
 * Paths come from the build: DROT_APM_BIN. Every process a test starts is
 * killed in its teardown, and its temporary directory removed, pass or fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "apm_proc.h"
#include "drot/host.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

typedef struct fixture {
    char root[64];
    char store[128]; /* device A's storage directory (ROOT/store) */
    apm_proc a, b;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->a.pid = f->b.pid = -1;
    *state = f;
    apm_proc_mkroot(f->root, sizeof f->root, "storage");
    snprintf(f->store, sizeof f->store, "%s/store", f->root);
    apm_proc_provision(&f->a, f->root, "a");
    apm_proc_start(&f->a);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    apm_proc_kill(&f->a);
    apm_proc_kill(&f->b);
    apm_proc_rmtree(f->root);
    free(f);
    return 0;
}

static void put_ok(apm_proc *p, const char *dir, const char *label, const char *text)
{
    dh_driver *d = apm_proc_driver(p);
    dh_status st = dh_storage_put(d, dir, label, (const uint8_t *)text, strlen(text));
    if (st != DH_OK)
        fail_msg("put %s: %s (%d)", label, dh_driver_last_error(d), (int)st);
}

static void get_equals(apm_proc *p, const char *dir, const char *label, const char *text)
{
    dh_driver *d = apm_proc_driver(p);
    uint8_t *data = NULL;
    size_t len = 0;
    dh_status st = dh_storage_get(d, dir, label, &data, &len);
    if (st != DH_OK)
        fail_msg("get %s: %s (%d)", label, dh_driver_last_error(d), (int)st);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(data, text, len);
    dh_storage_free(data, len);
}

/* dh_storage_get refused: returns the status; asserts no data came back. */
static dh_status get_refused(apm_proc *p, const char *dir, const char *label)
{
    uint8_t *data = (uint8_t *)"x";
    size_t len = 99;
    dh_status st = dh_storage_get(apm_proc_driver(p), dir, label, &data, &len);
    assert_int_not_equal(st, DH_OK);
    assert_null(data);
    assert_int_equal(len, 0);
    return st;
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
    assert_true((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    return sb.st_mode & 07777;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* Test 1: put then get in a directory that does not exist yet / the data
 * comes back; the directory was created 0700 and the blob is a 0600 file
 * that does not contain the plaintext; a missing label is DH_E_STORAGE. */
static void test_round_trip(void **state)
{
    fixture *f = *state;
    const char *secret = "device TLS private key, PEM, very secret";
    put_ok(&f->a, f->store, "tls-key.pem", secret);
    get_equals(&f->a, f->store, "tls-key.pem", secret);
    assert_int_equal(mode_of(f->store), 0700);
    char blob[256];
    path_of(blob, sizeof blob, f->store, "tls-key.pem");
    assert_int_equal(mode_of(blob), 0600);
    size_t n = 0;
    uint8_t *raw = drot_test_read_file(blob, &n);
    assert_non_null(raw);
    assert_null(memmem(raw, n, "very secret", 11));
    free(raw);
    assert_int_equal(count_entries(f->store), 1); /* no temp file left */
    /* the empty blob and a second label */
    put_ok(&f->a, f->store, "empty", "");
    get_equals(&f->a, f->store, "empty", "");
    assert_int_equal(get_refused(&f->a, f->store, "missing"), DH_E_STORAGE);
    assert_non_null(strstr(dh_driver_last_error(apm_proc_driver(&f->a)), "no blob"));
}

/* Test 2: the directory is group-readable (0750), world-writable (0703),
 * a plain file, or a symbolic link to a good directory / put and get
 * refused with DH_E_STORAGE and a message naming the fix; nothing written. */
static void test_unsafe_directory(void **state)
{
    fixture *f = *state;
    dh_driver *d = apm_proc_driver(&f->a);
    put_ok(&f->a, f->store, "k", "old");
    static const mode_t modes[] = {0750, 0703, 0777};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(f->store, modes[i]), 0);
        assert_int_equal(dh_storage_put(d, f->store, "k2", (const uint8_t *)"new", 3), DH_E_STORAGE);
        char want[200];
        snprintf(want, sizeof want, "chmod 700 %s", f->store);
        assert_non_null(strstr(dh_driver_last_error(d), want));
        assert_int_equal(get_refused(&f->a, f->store, "k"), DH_E_STORAGE);
        assert_int_equal(count_entries(f->store), 1);
    }
    assert_int_equal(chmod(f->store, 0700), 0);
    get_equals(&f->a, f->store, "k", "old");

    char file[200], link[200];
    path_of(file, sizeof file, f->root, "plainfile");
    write_bytes(file, (const uint8_t *)"x", 1);
    assert_int_equal(dh_storage_put(d, file, "k", (const uint8_t *)"new", 3), DH_E_STORAGE);
    path_of(link, sizeof link, f->root, "link");
    assert_int_equal(symlink(f->store, link), 0);
    assert_int_equal(dh_storage_put(d, link, "k3", (const uint8_t *)"new", 3), DH_E_STORAGE);
    assert_int_equal(get_refused(&f->a, link, "k"), DH_E_STORAGE);
    assert_int_equal(count_entries(f->store), 1);
}

/* Test 3: bad labels ("", "../x", "a/b", 65 characters, ".", "..", a
 * space, a NUL-free but non-ASCII byte) / put and get refused with
 * DH_E_STORAGE before anything happens: the directory is not even created.
 * 64 characters are accepted. */
static void test_bad_labels(void **state)
{
    fixture *f = *state;
    dh_driver *d = apm_proc_driver(&f->a);
    char long65[66], long64[65];
    memset(long65, 'a', 65);
    long65[65] = '\0';
    memset(long64, 'b', 64);
    long64[64] = '\0';
    const char *bad[] = {"", "../x", "a/b", long65, ".", "..", "a b", "caf\xc3\xa9", "/etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dh_storage_put(d, f->store, bad[i], (const uint8_t *)"v", 1), DH_E_STORAGE);
        assert_non_null(strstr(dh_driver_last_error(d), "label"));
        assert_int_equal(get_refused(&f->a, f->store, bad[i]), DH_E_STORAGE);
        assert_int_equal(access(f->store, F_OK), -1);
    }
    assert_int_equal(dh_storage_put(d, f->store, NULL, (const uint8_t *)"v", 1), DH_E_STORAGE);
    assert_int_equal(access(f->store, F_OK), -1);
    char escaped[200];
    path_of(escaped, sizeof escaped, f->root, "x"); /* where "../x" would have gone */
    assert_int_equal(access(escaped, F_OK), -1);
    put_ok(&f->a, f->store, long64, "sixty-four");
    get_equals(&f->a, f->store, long64, "sixty-four");
}

/* Test 4: a blob sealed by a second device (same authority, same label)
 * copied into device A's storage / A refuses it; B still opens it. */
static void test_other_device(void **state)
{
    fixture *f = *state;
    apm_proc_provision(&f->b, f->root, "b");
    apm_proc_start(&f->b);
    char bstore[200], src[256], dst[256];
    path_of(bstore, sizeof bstore, f->root, "bstore");
    put_ok(&f->b, bstore, "k", "B's secret");
    put_ok(&f->a, f->store, "k", "A's secret");
    path_of(src, sizeof src, bstore, "k");
    path_of(dst, sizeof dst, f->store, "k");
    assert_int_equal(apm_proc_sh("cp '%s' '%s'", src, dst), 0);
    dh_status st = get_refused(&f->a, f->store, "k");
    assert_true(st == DH_E_REFUSED || st == DH_E_STORAGE);
    get_equals(&f->b, bstore, "k", "B's secret");
}

/* Test 5: one bit flipped in the stored blob, at the first, a middle and
 * the last byte; the blob truncated by one byte; an oversized file / each
 * refused, no plaintext returned; the intact blob opens again. */
static void test_tampered_blob(void **state)
{
    fixture *f = *state;
    put_ok(&f->a, f->store, "k", "integrity matters");
    char path[256];
    path_of(path, sizeof path, f->store, "k");
    size_t n = 0;
    uint8_t *orig = drot_test_read_file(path, &n);
    assert_non_null(orig);
    assert_true(n > 2);
    size_t where[] = {0, n / 2, n - 1};
    for (size_t i = 0; i < 3; i++) {
        orig[where[i]] ^= 0x01;
        write_bytes(path, orig, n);
        orig[where[i]] ^= 0x01;
        get_refused(&f->a, f->store, "k");
    }
    write_bytes(path, orig, n - 1);
    get_refused(&f->a, f->store, "k");
    uint8_t *big = calloc(1, 1u << 16);
    assert_non_null(big);
    write_bytes(path, big, 1u << 16);
    assert_int_equal(get_refused(&f->a, f->store, "k"), DH_E_STORAGE);
    free(big);
    write_bytes(path, orig, n);
    get_equals(&f->a, f->store, "k", "integrity matters");
    free(orig);
}

/* Test 6: a blob renamed to another label; a symbolic link in place of a
 * blob / the renamed blob is refused (the label is bound into it), the
 * link is not followed. */
static void test_renamed_blob(void **state)
{
    fixture *f = *state;
    put_ok(&f->a, f->store, "alpha", "alpha's data");
    char from[256], to[256];
    path_of(from, sizeof from, f->store, "alpha");
    path_of(to, sizeof to, f->store, "beta");
    assert_int_equal(rename(from, to), 0);
    dh_status st = get_refused(&f->a, f->store, "beta");
    assert_true(st == DH_E_REFUSED || st == DH_E_STORAGE);
    assert_int_equal(rename(to, from), 0);
    get_equals(&f->a, f->store, "alpha", "alpha's data");
    assert_int_equal(symlink(from, to), 0);
    assert_int_equal(get_refused(&f->a, f->store, "beta"), DH_E_STORAGE);
}

/* Test 7: an interrupted put (the temp file of this process and of
 * another pid left behind, one holding half a new blob, one a whole blob
 * of another value) / get still returns the old content; a new put
 * succeeds, replaces the blob by rename (new inode), and leaves no temp
 * file of its own; the other pid's temp file never matters. */
static void test_interrupted_put(void **state)
{
    fixture *f = *state;
    put_ok(&f->a, f->store, "k", "old value");
    char path[256], tmp_mine[256], tmp_other[256], name[128];
    path_of(path, sizeof path, f->store, "k");
    size_t n = 0;
    uint8_t *old_blob = drot_test_read_file(path, &n);
    assert_non_null(old_blob);

    /* a whole blob of another value, as a crash just before rename leaves */
    put_ok(&f->a, f->store, "k", "newer value");
    size_t n2 = 0;
    uint8_t *new_blob = drot_test_read_file(path, &n2);
    assert_non_null(new_blob);
    write_bytes(path, old_blob, n);
    snprintf(name, sizeof name, ".k.tmp.%ld", (long)getpid());
    path_of(tmp_mine, sizeof tmp_mine, f->store, name);
    write_bytes(tmp_mine, new_blob, n2 / 2); /* half written */
    snprintf(name, sizeof name, ".k.tmp.%d", 999999);
    path_of(tmp_other, sizeof tmp_other, f->store, name);
    write_bytes(tmp_other, new_blob, n2);
    get_equals(&f->a, f->store, "k", "old value");

    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    put_ok(&f->a, f->store, "k", "newest value");
    assert_int_equal(stat(path, &after), 0);
    assert_int_not_equal(before.st_ino, after.st_ino); /* renamed into place, not rewritten */
    get_equals(&f->a, f->store, "k", "newest value");
    assert_int_equal(access(tmp_mine, F_OK), -1);
    assert_int_equal(access(tmp_other, F_OK), 0);
    assert_int_equal(count_entries(f->store), 2);
    free(old_blob);
    free(new_blob);
}

/* ---- firmware update: a new APM image in slot A -------------------------------- */

/* The flash layout of the sim (fw/src/layout.h): slot A's manifest sector
 * and first image sector. Written here by hand: re-provisioning is not
 * possible, and FW_BEGIN/CHUNK/FINISH come with a later issue. */
#define SIM_SECTOR         4096u
#define SLOT_A_MANIFEST    8u
#define SLOT_A_IMAGE       9u
#define SLOT_IMAGE_SECTORS 24u

/* The authority's private key: `openssl ec -outform DER` gives SEC1
 * (30 77 02 01 01 04 20 <d> ...). */
static void load_authority(const char *root, const char *pem, drot_p256_priv *priv, drot_p256_pub *pub)
{
    char der[200];
    path_of(der, sizeof der, root, "auth.der");
    assert_int_equal(apm_proc_sh("openssl ec -in '%s' -outform DER -out '%s' 2>/dev/null", pem, der), 0);
    size_t n = 0;
    uint8_t *k = drot_test_read_file(der, &n);
    assert_non_null(k);
    assert_true(n > 39 && k[0] == 0x30 && k[2] == 0x02 && k[3] == 0x01 && k[4] == 0x01 && k[5] == 0x04 &&
                k[6] == 0x20);
    assert_int_equal(drot_p256_key_from_scalar(k + 7, priv, pub), DROT_OK);
    drot_wipe(k, n);
    free(k);
}

/* Installs a 16 KiB image of version `version`, SVN svn, signed by the key
 * in pem, into slot A of the device's flash.bin (the device is stopped). */
static void install_image(const char *root, const char *state_dir, const char *pem, const char *version,
                          uint32_t svn)
{
    drot_p256_priv priv;
    drot_p256_pub pub;
    load_authority(root, pem, &priv, &pub);
    static uint8_t image[16384];
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7 + svn);
    drot_manifest m;
    memset(&m, 0, sizeof m);
    m.component = "APM";
    m.component_len = 3;
    m.version = version;
    m.version_len = strlen(version);
    m.svn = svn;
    m.size = sizeof image;
    assert_int_equal(drot_sha256(image, sizeof image, m.digest), DROT_OK);
    static uint8_t manifest[DROT_MANIFEST_SIGNED_MAX];
    size_t mlen = 0;
    assert_int_equal(drot_manifest_sign(&priv, &pub, &m, manifest, sizeof manifest, &mlen), DROT_OK);
    drot_wipe(&priv, sizeof priv);

    static uint8_t sector[SIM_SECTOR];
    memset(sector, 0xff, sizeof sector);
    memcpy(sector, "DFWM\x01\x00\x00\x00", 8);
    sector[8] = (uint8_t)(mlen >> 24);
    sector[9] = (uint8_t)(mlen >> 16);
    sector[10] = (uint8_t)(mlen >> 8);
    sector[11] = (uint8_t)mlen;
    assert_true(12 + mlen <= sizeof sector);
    memcpy(sector + 12, manifest, mlen);

    char flash[256];
    path_of(flash, sizeof flash, state_dir, "flash.bin");
    int fd = open(flash, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, sector, sizeof sector, (off_t)SLOT_A_MANIFEST * SIM_SECTOR),
                     (ssize_t)SIM_SECTOR);
    static uint8_t images[SLOT_IMAGE_SECTORS * SIM_SECTOR];
    memset(images, 0xff, sizeof images);
    memcpy(images, image, sizeof image);
    assert_int_equal(pwrite(fd, images, sizeof images, (off_t)SLOT_A_IMAGE * SIM_SECTOR),
                     (ssize_t)sizeof images);
    assert_int_equal(close(fd), 0);
}

/* The APM's own measurement (entry 0) has this version. */
static void assert_apm_version(apm_proc *p, const char *version)
{
    drot_link_info info;
    assert_int_equal(dh_get_info(apm_proc_driver(p), &info), DH_OK);
    assert_int_equal(info.boot_status, 0);
    assert_true(info.num_measurements >= 1);
    assert_int_equal(info.measurements[0].version_len, strlen(version));
    assert_memory_equal(info.measurements[0].version, version, strlen(version));
}

/* Test 8: a blob sealed under firmware 1.0.0; the APM stopped, a 2.0.0
 * image (higher SVN) signed by the same authority installed in slot A,
 * the APM restarted / it boots 2.0.0 and opens the blob. Control: an image
 * signed by another authority key is refused at boot and the blob does not
 * open under it. */
static void test_firmware_update(void **state)
{
    fixture *f = *state;
    put_ok(&f->a, f->store, "k", "survives updates");
    assert_apm_version(&f->a, "1.0.0");
    apm_proc_stop(&f->a);
    install_image(f->root, f->a.state, f->a.auth, "2.0.0", 2);
    apm_proc_start(&f->a);
    assert_apm_version(&f->a, "2.0.0");
    get_equals(&f->a, f->store, "k", "survives updates");

    /* control: the same procedure with a foreign signer */
    apm_proc_stop(&f->a);
    char other[200];
    path_of(other, sizeof other, f->root, "other.pem");
    assert_int_equal(
        apm_proc_sh("openssl ecparam -genkey -name prime256v1 -noout -out '%s' 2>/dev/null", other), 0);
    install_image(f->root, f->a.state, other, "3.0.0", 3);
    apm_proc_start(&f->a);
    drot_link_info info;
    assert_int_equal(dh_get_info(apm_proc_driver(&f->a), &info), DH_OK);
    assert_int_not_equal(info.boot_status, 0);
    get_refused(&f->a, f->store, "k");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renamed_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_firmware_update, setup, teardown),
    };
    return cmocka_run_group_tests_name("host_storage", tests, NULL, NULL);
}
