/*
 * test_fw_install_e2e.c — firmware install with real processes: drot-apm
 * (run) and drot-agent (fw install / activate / confirm / status, measure
 * --manifest), and libdrot-host's dh_fw_* against the same drot-apm.
 * The test signs manifests with the authority key the device was
 * provisioned with (its anchor 0), as drotctl firmware sign would.
 *
 * "Power off" is SIGKILL of drot-apm and a new `drot-apm run` on the same
 * state directory; a power cut is the device's own injector (control
 * socket `power-cut N`: the process exits with status 3 at the N-th write).
 *
 * Paths come from the build: DROT_APM_BIN and DROT_AGENT_BIN. Every process
 * a test starts is killed in its teardown, and its directory removed.
 */
#define _GNU_SOURCE
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot/link_fw.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name the drot-agent program"
#endif

#define IMG_LEN 20000u

typedef struct fixture {
    char root[64];
    char args[700]; /* --socket S --link-key K */
    apm_proc a;
    drot_p256_priv priv;
    drot_p256_pub pub;
    char *out, *err;
    size_t out_len;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->a.pid = -1;
    apm_proc_mkroot(f->root, sizeof f->root, "fwe2e");
    apm_proc_provision(&f->a, f->root, "dev"); /* slot A: 1.0.0, svn 1 */
    apm_proc_start(&f->a);
    apm_proc_authority(&f->a, &f->priv, &f->pub);
    snprintf(f->args, sizeof f->args, "--socket '%s' --link-key '%s'", f->a.sock, f->a.key);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    apm_proc_kill(&f->a);
    apm_proc_rmtree(f->root);
    free(f->out);
    free(f->err);
    drot_wipe(&f->priv, sizeof f->priv);
    free(f);
    return 0;
}

/* Runs drot-agent with f->args and the given arguments; keeps stdout and
 * stderr; returns the exit status. */
static int agent(fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agent(fixture *f, const char *fmt, ...)
{
    char args[1500], path[128];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    int rc = apm_proc_sh("'%s' %s %s </dev/null >'%s/stdout' 2>'%s/stderr'", DROT_AGENT_BIN, f->args, args,
                         f->root, f->root);
    size_t n = 0;
    free(f->out);
    free(f->err);
    snprintf(path, sizeof path, "%s/stdout", f->root);
    f->out = (char *)drot_test_read_file(path, &f->out_len);
    assert_non_null(f->out);
    f->out = realloc(f->out, f->out_len + 1);
    f->out[f->out_len] = '\0';
    snprintf(path, sizeof path, "%s/stderr", f->root);
    f->err = (char *)drot_test_read_file(path, &n);
    assert_non_null(f->err);
    f->err = realloc(f->err, n + 1);
    f->err[n] = '\0';
    return rc;
}

/* Exit status `code`, one line on stderr naming `needle`, nothing on stdout. */
static void expect_error(fixture *f, int rc, int code, const char *needle)
{
    if (rc != code || strncmp(f->err, "drot-agent: ", 12) != 0 || strstr(f->err, needle) == NULL)
        fail_msg("expected exit %d and an error with '%s'; got exit %d, stderr: %s", code, needle, rc,
                 f->err);
    size_t len = strlen(f->err);
    assert_ptr_equal(strchr(f->err, '\n'), f->err + len - 1);
    assert_int_equal(f->out_len, 0);
}

static json_t *out_json(fixture *f)
{
    json_error_t e;
    json_t *j = json_loads(f->out, 0, &e);
    if (j == NULL)
        fail_msg("stdout is not JSON (%s): %s", e.text, f->out);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL)
        fail_msg("no string '%s' in the JSON", k);
    return s;
}

static json_int_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("no integer '%s' in the JSON", k);
    return json_integer_value(v);
}

/* `fw status --json` (asserted to succeed). */
static json_t *status(fixture *f)
{
    if (agent(f, "fw status --json") != 0)
        fail_msg("fw status failed: %s", f->err);
    return out_json(f);
}

static void path_of(fixture *f, const char *name, char *out, size_t cap)
{
    assert_true((size_t)snprintf(out, cap, "%s/%s", f->root, name) < cap);
}

static void put_file(fixture *f, const char *name, const uint8_t *p, size_t n)
{
    char path[128];
    path_of(f, name, path, sizeof path);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* Deterministic image bytes, variant v. */
static const uint8_t *image(int v)
{
    static uint8_t img[4][IMG_LEN + 1];
    for (size_t i = 0; i <= IMG_LEN; i++)
        img[v][i] = (uint8_t)(i * (7u + 2u * (unsigned)v) + (i >> 10) + 0x31u * (unsigned)v);
    return img[v];
}

/* A manifest for image(v)[0..len) written to NAME, signed by (priv, pub). */
static void sign_manifest(fixture *f, const char *name, const char *component, const char *version,
                          uint32_t svn, int v, size_t len, const drot_p256_priv *priv,
                          const drot_p256_pub *pub)
{
    uint8_t out[DROT_MANIFEST_SIGNED_MAX];
    size_t n = 0;
    drot_manifest m;
    memset(&m, 0, sizeof m);
    m.component = component;
    m.component_len = strlen(component);
    m.version = version;
    m.version_len = strlen(version);
    m.svn = svn;
    m.size = (uint32_t)len;
    assert_int_equal(drot_sha256(image(v), len, m.digest), DROT_OK);
    assert_int_equal(drot_manifest_sign(priv, pub, &m, out, sizeof out, &n), DROT_OK);
    put_file(f, name, out, n);
}

/* Power off and on: SIGKILL, then a new drot-apm on the same state. */
static void power_cycle(fixture *f)
{
    apm_proc_kill(&f->a);
    apm_proc_start(&f->a);
}

/* Waits for drot-apm to stop after an injected power cut (exit 3). */
static void expect_power_lost(fixture *f)
{
    int st = 0;
    assert_int_equal(waitpid(f->a.pid, &st, 0), f->a.pid);
    f->a.pid = -1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
}

/* The slot running, the trial state, and svn[APM]. */
static void expect_state(fixture *f, const char *running, const char *trial, json_int_t apm_svn)
{
    json_t *s = status(f);
    if (strcmp(jstr(s, "running"), running) != 0 || strcmp(jstr(s, "trial"), trial) != 0 ||
        jint(json_object_get(s, "svns"), "APM") != apm_svn)
        fail_msg("expected running %s, trial %s, svn[APM] %lld; status: %s", running, trial,
                 (long long)apm_svn, f->out);
    json_decref(s);
}

/* info --json: boot verified, measurement 0 has this version. */
static void expect_running_version(fixture *f, const char *version)
{
    assert_int_equal(agent(f, "info --json"), 0);
    json_t *j = out_json(f);
    assert_int_equal(jint(j, "boot_status"), 0);
    json_t *m0 = json_array_get(json_object_get(j, "measurements"), 0);
    assert_non_null(m0);
    if (strcmp(jstr(m0, "version"), version) != 0)
        fail_msg("the APM runs %s, not %s", jstr(m0, "version"), version);
    json_decref(j);
}

/* A whole APM update to image(v) through drot-agent: install, activate,
 * attest, confirm. */
static void update(fixture *f, int v, const char *version, uint32_t svn)
{
    put_file(f, "img.bin", image(v), IMG_LEN);
    sign_manifest(f, "img.man", "APM", version, svn, v, IMG_LEN, &f->priv, &f->pub);
    if (agent(f, "fw install --json '%s/img.man' '%s/img.bin'", f->root, f->root) != 0)
        fail_msg("fw install: %s", f->err);
    json_t *j = out_json(f);
    assert_string_equal(jstr(j, "result"), "staged");
    assert_int_equal(jint(j, "svn"), svn);
    json_decref(j);
    if (agent(f, "fw activate --json") != 0)
        fail_msg("fw activate: %s", f->err);
    j = out_json(f);
    assert_true(json_is_true(json_object_get(j, "reset")));
    assert_string_equal(jstr(j, "trial"), "trying");
    json_decref(j);
    expect_running_version(f, version);
    assert_int_equal(agent(f, "attest --nonce %064x", 7), 0);
    assert_int_equal(agent(f, "fw confirm --json APM"), 0);
    j = out_json(f);
    assert_int_equal(jint(j, "svn"), svn);
    json_decref(j);
}

/* Test 1: --help of fw and each subcommand, measure --manifest / exit 0,
 * usage on stdout; no or an unknown subcommand, extra arguments, a missing
 * or oversized manifest file: exit 2, one line, nothing asked of the APM. */
static void test_help_and_usage(void **state)
{
    fixture *f = *state;
    static const char *const subs[] = {"--help",          "install --help", "verify --help",
                                       "activate --help", "confirm --help", "status --help"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        assert_int_equal(agent(f, "fw %s", subs[i]), 0);
        assert_non_null(strstr(f->out, "usage: drot-agent fw install"));
        assert_non_null(strstr(f->out, "exit status"));
    }
    assert_int_equal(agent(f, "measure --help"), 0);
    assert_non_null(strstr(f->out, "--manifest"));
    assert_int_equal(agent(f, "--help"), 0);
    assert_non_null(strstr(f->out, "fw "));
    expect_error(f, agent(f, "fw"), 2, "no subcommand");
    expect_error(f, agent(f, "fw upgrade"), 2, "unknown subcommand");
    expect_error(f, agent(f, "fw install onlyone"), 2, "MANIFEST IMAGE");
    expect_error(f, agent(f, "fw confirm"), 2, "COMPONENT");
    expect_error(f, agent(f, "fw status extra"), 2, "no arguments");
    expect_error(f, agent(f, "fw activate --bogus"), 2, "unknown option");
    expect_error(f, agent(f, "fw install '%s/none' '%s/none'", f->root, f->root), 2, "cannot open manifest");
    static uint8_t big[600];
    put_file(f, "big.man", big, sizeof big);
    put_file(f, "img.bin", image(0), 10);
    expect_error(f, agent(f, "fw install '%s/big.man' '%s/img.bin'", f->root, f->root), 2, "larger than 512");
    expect_error(f, agent(f, "measure --manifest '%s/big.man' --type HOST-OS '%s/img.bin'", f->root, f->root),
                 2, "--manifest takes exactly one FILE");
    expect_state(f, "A", "none", 0);
}

/* Test 2: an APM update through drot-agent / install stages it (status:
 * pending, slot B verifies with its version), activate resets the APM into
 * the trial; a power-off during the trial reverts to slot A (last: reset)
 * with the fuse untouched; again, and after an attestation the confirm
 * makes B active and raises svn[APM] to 2; after a power-off B still runs
 * and slot A (svn 1) is refused as a rollback. Then back to A with svn 3. */
static void test_apm_update(void **state)
{
    fixture *f = *state;
    put_file(f, "img.bin", image(1), IMG_LEN);
    sign_manifest(f, "img.man", "APM", "2.0.0", 2, 1, IMG_LEN, &f->priv, &f->pub);
    assert_int_equal(agent(f, "fw install '%s/img.man' '%s/img.bin'", f->root, f->root), 0);
    assert_non_null(strstr(f->out, "staged: APM 2.0.0 (svn 2)"));
    json_t *s = status(f);
    assert_string_equal(jstr(s, "trial"), "pending");
    json_t *b = json_array_get(json_object_get(s, "slots"), 1);
    assert_int_equal(jint(b, "status"), 0);
    assert_string_equal(jstr(b, "version"), "2.0.0");
    json_decref(s);

    assert_int_equal(agent(f, "fw activate"), 0);
    assert_non_null(strstr(f->out, "on trial"));
    expect_state(f, "B", "trying", 0);
    expect_running_version(f, "2.0.0");
    power_cycle(f); /* a reset before the confirm */
    expect_state(f, "A", "none", 0);
    s = status(f);
    assert_string_equal(jstr(s, "last"), "reset");
    json_decref(s);
    expect_running_version(f, "1.0.0");
    expect_error(f, agent(f, "fw confirm APM"), 1, "nothing to confirm");

    update(f, 1, "2.0.0", 2);
    power_cycle(f);
    expect_state(f, "B", "none", 2);
    expect_running_version(f, "2.0.0");
    s = status(f);
    assert_string_equal(jstr(s, "active"), "B");
    assert_int_equal(jint(json_array_get(json_object_get(s, "slots"), 0), "status"), -111);
    json_decref(s);

    update(f, 2, "3.0.0", 3);
    power_cycle(f);
    expect_state(f, "A", "none", 3);
    expect_running_version(f, "3.0.0");
}

/* The status with the named slot's entry removed, as text (for comparing
 * everything else before and after a refusal). */
static char *status_without_slot(fixture *f, size_t slot)
{
    json_t *s = status(f);
    json_array_remove(json_object_get(s, "slots"), slot);
    char *t = json_dumps(s, JSON_SORT_KEYS);
    json_decref(s);
    return t;
}

/* Test 3: refusals after an update to B (svn 2) / a downgrade, a garbage
 * manifest, an unknown signer, another component, another image under the
 * manifest, one byte short, one byte long: exit 1 with the APM's reason;
 * running and active slot, trial, fuses and pending entries unchanged; the
 * inactive slot holds nothing bootable; the device still runs 2.0.0 after
 * a power-off. */
static void test_refusals(void **state)
{
    fixture *f = *state;
    drot_p256_priv other;
    drot_p256_pub other_pub;
    uint8_t scalar[32];
    memset(scalar, 0x6b, sizeof scalar);
    assert_int_equal(drot_p256_key_from_scalar(scalar, &other, &other_pub), DROT_OK);
    update(f, 1, "2.0.0", 2);
    char *before = status_without_slot(f, 0);

    struct {
        const char *component, *version;
        uint32_t svn;
        int v_signed, v_sent;
        size_t len_signed, len_sent;
        bool other_key, garbage;
        const char *why;
    } cases[] = {
        {"APM", "1.5.0", 1, 2, 2, IMG_LEN, IMG_LEN, false, false, "below the component's svn fuse"},
        {"APM", "2.1.0", 2, 2, 2, IMG_LEN, IMG_LEN, false, true, "not a signed manifest"},
        {"APM", "2.1.0", 2, 2, 2, IMG_LEN, IMG_LEN, true, false, "not a trusted anchor"},
        {"BOOT", "2.1.0", 2, 2, 2, IMG_LEN, IMG_LEN, false, false, "component other than"},
        {"APM", "2.1.0", 2, 2, 3, IMG_LEN, IMG_LEN, false, false, "SHA-256 is not the manifest's"},
        {"APM", "2.1.0", 2, 2, 2, IMG_LEN, IMG_LEN - 1, false, false, "fewer bytes"},
        {"APM", "2.1.0", 2, 2, 2, IMG_LEN, IMG_LEN + 1, false, false, "more bytes"},
        {"HOST-OS", "os-1", 1, 2, 3, IMG_LEN, IMG_LEN, false, false, "SHA-256 is not the manifest's"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(f, "bad.bin", image(cases[i].v_sent), cases[i].len_sent);
        if (cases[i].garbage) {
            static uint8_t junk[300];
            memset(junk, 0xd2, sizeof junk);
            put_file(f, "bad.man", junk, sizeof junk);
        } else {
            sign_manifest(f, "bad.man", cases[i].component, cases[i].version, cases[i].svn, cases[i].v_signed,
                          cases[i].len_signed, cases[i].other_key ? &other : &f->priv,
                          cases[i].other_key ? &other_pub : &f->pub);
        }
        expect_error(f, agent(f, "fw install '%s/bad.man' '%s/bad.bin'", f->root, f->root), 1, cases[i].why);
        char *after = status_without_slot(f, 0);
        if (strcmp(before, after) != 0)
            fail_msg("case %zu changed the state:\n%s\n%s", i, before, after);
        free(after);
        json_t *s = status(f);
        json_int_t a_status = jint(json_array_get(json_object_get(s, "slots"), 0), "status");
        json_decref(s);
        assert_true(a_status == -104 || a_status == -111); /* empty, or the old image refused as a rollback */
    }
    free(before);
    power_cycle(f);
    expect_state(f, "B", "none", 2);
    expect_running_version(f, "2.0.0");
}

/* Test 4: a power cut at each fuse/flash write of an install, then of a
 * confirm, in the real process / drot-apm stops (exit 3); after restarting,
 * it boots a valid image (boot status 0): the old one, or after the last
 * write of the install the staged one on trial; the install retried
 * completes; a cut in the confirm leaves the old image (before the record)
 * or the new one with its fuse raised by the next boot (after). */
static void test_power_cuts(void **state)
{
    fixture *f = *state;
    put_file(f, "img.bin", image(1), IMG_LEN);
    sign_manifest(f, "img.man", "APM", "2.0.0", 2, 1, IMG_LEN, &f->priv, &f->pub);
    int cuts = 0;
    for (int n = 1; n < 100; n++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "power-cut %d\n", n);
        apm_proc_control(&f->a, cmd);
        int rc = agent(f, "fw install '%s/img.man' '%s/img.bin'", f->root, f->root);
        if (rc == 0 && strstr(apm_proc_control_try(&f->a, "status\n"), "\"powered\": true") != NULL) {
            apm_proc_control(&f->a, "power-cut 0\n");
            break; /* n is past the install's writes */
        }
        expect_power_lost(f);
        apm_proc_start(&f->a);
        json_t *s = status(f);
        const char *running = jstr(s, "running");
        bool on_trial = strcmp(running, "B") == 0;
        if (on_trial && strcmp(jstr(s, "trial"), "trying") != 0)
            fail_msg("after a cut at write %d the APM runs B outside a trial", n);
        assert_int_equal(jint(json_object_get(s, "svns"), "APM"), 0);
        json_decref(s);
        expect_running_version(f, on_trial ? "2.0.0" : "1.0.0");
        if (on_trial) {
            /* The cut came after the record said PENDING: leave the trial. */
            assert_int_equal(agent(f, "fw activate --abort"), 0);
            expect_state(f, "A", "none", 0);
        }
        cuts++;
    }
    assert_true(cuts >= 16);
    assert_int_equal(agent(f, "fw activate"), 0);
    expect_state(f, "B", "trying", 0);

    /* The confirm writes the record (erase, program), then the fuse (one
     * byte). A cut at the erase: the trial reverts, svn untouched; at the
     * program (complete, then power off): the new slot is active and the
     * boot raises the fuse; at the fuse: the same. */
    static const struct {
        const char *running, *version;
        json_int_t svn;
    } after[] = {{"A", "1.0.0", 0}, {"B", "2.0.0", 2}, {"A", "3.0.0", 3}};
    for (int n = 1; n <= 3; n++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "power-cut %d\n", n);
        apm_proc_control(&f->a, cmd);
        agent(f, "fw confirm APM");
        expect_power_lost(f);
        apm_proc_start(&f->a);
        expect_state(f, after[n - 1].running, "none", after[n - 1].svn);
        expect_running_version(f, after[n - 1].version);
        if (n == 1) { /* the same update again, then the next cut point */
            assert_int_equal(agent(f, "fw install '%s/img.man' '%s/img.bin'", f->root, f->root), 0);
            assert_int_equal(agent(f, "fw activate"), 0);
        } else if (n == 2) { /* a third image into slot A, on trial */
            put_file(f, "img3.bin", image(2), IMG_LEN);
            sign_manifest(f, "img3.man", "APM", "3.0.0", 3, 2, IMG_LEN, &f->priv, &f->pub);
            assert_int_equal(agent(f, "fw install '%s/img3.man' '%s/img3.bin'", f->root, f->root), 0);
            assert_int_equal(agent(f, "fw activate"), 0);
            expect_state(f, "A", "trying", 2);
        }
    }
}

/* Test 5: a host component / install records it (pending), but the confirm
 * is refused until the host measured exactly that image; `measure
 * --manifest` has the APM verify the file and extends it (type, version,
 * signer from the manifest), then the confirm raises svn[HOST-OS] to 3; at
 * the next boot an older manifest (svn 2) and a modified file are refused
 * by measure --manifest, which then measures nothing. */
static void test_host_component(void **state)
{
    fixture *f = *state;
    put_file(f, "os.bin", image(3), IMG_LEN);
    sign_manifest(f, "os.man", "HOST-OS", "6.1.0", 3, 3, IMG_LEN, &f->priv, &f->pub);
    sign_manifest(f, "os-old.man", "HOST-OS", "6.0.0", 2, 3, IMG_LEN, &f->priv, &f->pub);
    assert_int_equal(agent(f, "fw install --json '%s/os.man' '%s/os.bin'", f->root, f->root), 0);
    json_t *j = out_json(f);
    assert_string_equal(jstr(j, "result"), "pending");
    json_decref(j);
    json_t *s = status(f);
    assert_int_equal(json_array_size(json_object_get(s, "pending")), 1);
    assert_int_equal(jint(json_object_get(s, "svns"), "HOST-OS"), 0);
    json_decref(s);
    expect_error(f, agent(f, "fw confirm HOST-OS"), 1, "measurements do not hold");

    assert_int_equal(agent(f, "measure --json --manifest '%s/os.man' '%s/os.bin'", f->root, f->root), 0);
    j = out_json(f);
    assert_int_equal(jint(j, "index"), 1);
    assert_string_equal(jstr(j, "component"), "HOST-OS");
    assert_string_equal(jstr(j, "version"), "6.1.0");
    json_decref(j);
    assert_int_equal(agent(f, "fw confirm --json HOST-OS"), 0);
    j = out_json(f);
    assert_int_equal(jint(j, "svn"), 3);
    json_decref(j);

    power_cycle(f);
    expect_error(f, agent(f, "measure --manifest '%s/os-old.man' '%s/os.bin'", f->root, f->root), 1,
                 "below the component's svn fuse");
    put_file(f, "os2.bin", image(2), IMG_LEN);
    expect_error(f, agent(f, "measure --manifest '%s/os.man' '%s/os2.bin'", f->root, f->root), 1, "SHA-256");
    assert_int_equal(agent(f, "info --json"), 0);
    j = out_json(f);
    assert_int_equal(json_array_size(json_object_get(j, "measurements")), 1); /* only the APM's own */
    json_decref(j);
    assert_int_equal(agent(f, "measure --manifest '%s/os.man' '%s/os.bin'", f->root, f->root), 0);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *p = ctx;
    assert_true(done > p[0] && done <= total);
    p[0] = done;
    p[1] = total;
    p[2]++;
}

/* Test 6: libdrot-host directly / dh_fw_install reports progress per chunk
 * (ten chunks of at most 2048 bytes) and what the APM verified;
 * dh_fw_activate reports the reset and the next request reconnects by
 * itself; dh_fw_confirm and dh_fw_status; bad arguments are refused before
 * anything is sent (DH_E_ARG). */
static void test_driver_api(void **state)
{
    fixture *f = *state;
    dh_driver *d = apm_proc_driver(&f->a);
    char path[128];
    put_file(f, "img.bin", image(1), IMG_LEN);
    sign_manifest(f, "img.man", "APM", "2.0.0", 2, 1, IMG_LEN, &f->priv, &f->pub);
    path_of(f, "img.man", path, sizeof path);
    size_t mlen = 0;
    uint8_t *man = drot_test_read_file(path, &mlen);
    assert_non_null(man);
    path_of(f, "img.bin", path, sizeof path);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t prog[3] = {0, 0, 0};
    drot_link_fw_image img;
    assert_int_equal(dh_fw_install(d, man, mlen, fd, progress, prog, &img), DH_OK);
    close(fd);
    assert_int_equal(prog[0], IMG_LEN);
    assert_int_equal(prog[1], IMG_LEN);
    assert_int_equal(prog[2], (IMG_LEN + 2047) / 2048);
    assert_int_equal(img.svn, 2);

    bool reset = false;
    assert_int_equal(dh_fw_activate(d, DROT_LINK_FW_ACTIVATE_TRIAL, &reset), DH_OK);
    assert_true(reset);
    drot_link_info info;
    assert_int_equal(dh_get_info(d, &info), DH_OK);
    assert_int_equal(info.measurements[0].version_len, 5);
    assert_memory_equal(info.measurements[0].version, "2.0.0", 5);
    uint32_t svn = 0;
    assert_int_equal(dh_fw_confirm(d, "APM", &svn), DH_OK);
    assert_int_equal(svn, 2);
    drot_link_fw_status st;
    assert_int_equal(dh_fw_status(d, &st), DH_OK);
    assert_int_equal(st.active, 1);
    assert_int_equal(st.last, DROT_LINK_FW_LAST_CONFIRMED);

    assert_int_equal(dh_fw_activate(d, 9, &reset), DH_E_ARG);
    assert_int_equal(dh_fw_confirm(d, "", &svn), DH_E_ARG);
    assert_int_equal(dh_fw_confirm(d, "APM\n", &svn), DH_E_ARG);
    assert_int_equal(dh_fw_install(d, man, 0, 0, NULL, NULL, &img), DH_E_ARG);
    assert_int_equal(dh_fw_install(d, man, 513, 0, NULL, NULL, &img), DH_E_ARG);
    assert_int_equal(dh_fw_install(d, man, mlen, -1, NULL, NULL, &img), DH_E_ARG);
    assert_int_equal(dh_fw_confirm(d, "APM", &svn), DH_E_REFUSED); /* nothing on trial now */
    assert_int_equal(dh_driver_last_apm_code(d), -130);
    free(man);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apm_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cuts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_component, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_api, setup, teardown),
    };
    return cmocka_run_group_tests_name("fw_install_e2e", tests, NULL, NULL);
}
