/*
 * test_agent_cli.c — the drot-agent program against a real drot-apm
 * process: --help of every command, info (table and JSON), attest (hex,
 * --out, both profiles, challenge + exporter), measured host boot
 * (measure, then the token carries the file's SHA-256), seal/unseal,
 * tamper-log, and bad input: each refused with its documented exit status,
 * one line on stderr, and no change.
 *
 * Paths come from the build: DROT_APM_BIN and DROT_AGENT_BIN. Every process
 * a test starts is killed in its teardown, and its temporary directory
 * removed, pass or fail.
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
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name the drot-agent program"
#endif

typedef struct fixture {
    char root[64];
    char args[700]; /* --socket S --link-key K */
    apm_proc a;
    char *out, *err; /* the last run's stdout and stderr */
    size_t out_len;
} fixture;

static int setup_noapm(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->a.pid = -1;
    *state = f;
    apm_proc_mkroot(f->root, sizeof f->root, "agent");
    return 0;
}

static int setup(void **state)
{
    setup_noapm(state);
    fixture *f = *state;
    apm_proc_provision(&f->a, f->root, "dev");
    apm_proc_start(&f->a);
    snprintf(f->args, sizeof f->args, "--socket '%s' --link-key '%s'", f->a.sock, f->a.key);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    apm_proc_kill(&f->a);
    apm_proc_rmtree(f->root);
    free(f->out);
    free(f->err);
    free(f);
    return 0;
}

/* Runs `drot-agent ARGS` (a shell fragment; stdin from /dev/null unless the
 * fragment redirects it); keeps stdout and stderr; returns the exit status. */
static int agent(fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agent(fixture *f, const char *fmt, ...)
{
    char args[1500];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    int rc =
        apm_proc_sh("'%s' %s </dev/null >'%s/stdout' 2>'%s/stderr'", DROT_AGENT_BIN, args, f->root, f->root);
    char path[128];
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

/* The last run failed with exit status `code` and exactly one line on
 * stderr, "drot-agent: ...", containing `needle`; nothing on stdout. */
static void assert_error_line(fixture *f, int rc, int code, const char *needle)
{
    if (rc != code || strncmp(f->err, "drot-agent: ", 12) != 0 || strstr(f->err, needle) == NULL)
        fail_msg("expected exit %d and an error with '%s'; got exit %d, stderr: %s", code, needle, rc,
                 f->err);
    size_t len = strlen(f->err);
    assert_true(len > 0 && f->err[len - 1] == '\n');
    assert_ptr_equal(strchr(f->err, '\n'), f->err + len - 1); /* one line */
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

static void hex_string(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* Verifies a token under the device's DRK and decodes its claims (which
 * point into *token: keep it alive). */
static void open_token(fixture *f, const uint8_t *tok, size_t len, drot_eat_claims *claims)
{
    drot_p256_pub pub;
    drot_cose_sign1_view view;
    assert_int_equal(drot_p256_pub_import(f->a.drk_pub, sizeof f->a.drk_pub, &pub), DROT_OK);
    assert_int_equal(drot_cose_sign1_decode(tok, len, &view), DROT_OK);
    assert_int_equal(drot_cose_sign1_verify(&view, &pub, NULL, 0), DROT_OK);
    assert_int_equal(drot_eat_decode(view.payload, view.payload_len, claims), DROT_OK);
}

static uint8_t *read_path(fixture *f, const char *name, size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->root, name);
    uint8_t *p = drot_test_read_file(path, len);
    assert_non_null(p);
    return p;
}

static size_t num_measurements(fixture *f)
{
    assert_int_equal(agent(f, "%s info --json", f->args), 0);
    json_t *j = out_json(f);
    size_t n = json_array_size(json_object_get(j, "measurements"));
    json_decref(j);
    return n;
}

/* Test 1: --help of the program and of every command / exit 0, the usage
 * on stdout names the command's options and the exit codes. */
static void test_help(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *cmd;
        const char *needles[4];
    } cases[] = {
        {"", {"info", "attest", "tamper-log", "exit status"}},
        {"info", {"--json", "device id", "exit status", NULL}},
        {"attest", {"--nonce", "--challenge", "--exporter", "--profile"}},
        {"measure", {"--type", "--version", "--signer", "FILE"}},
        {"seal", {"--storage", "--label", "--in", "0700"}},
        {"unseal", {"--storage", "--label", "--out", "exit status"}},
        {"tamper-log", {"--json", "exit status", NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(agent(f, "%s --help", cases[i].cmd), 0);
        assert_non_null(strstr(f->out, "usage: drot-agent"));
        assert_non_null(strstr(f->out, "--link-key"));
        for (size_t k = 0; k < 4 && cases[i].needles[k] != NULL; k++)
            if (strstr(f->out, cases[i].needles[k]) == NULL)
                fail_msg("'drot-agent %s --help' does not mention %s", cases[i].cmd, cases[i].needles[k]);
        assert_string_equal(f->err, "");
    }
    assert_error_line(f, agent(f, "%s", ""), 2, "no command");
    assert_error_line(f, agent(f, "frobnicate"), 2, "unknown command");
    assert_error_line(f, agent(f, "info --bogus"), 2, "unknown option");
}

/* Test 2: info --json / parses, and device id, DRK, instance id and epoch
 * match what provisioning printed; lifecycle provisioned, boot verified.
 * The table names the device id; DROT_APM_SOCKET replaces --socket. */
static void test_info(void **state)
{
    fixture *f = *state;
    assert_int_equal(agent(f, "%s info --json", f->args), 0);
    json_t *got = out_json(f);
    json_error_t e;
    json_t *want = json_load_file(f->a.identity, 0, &e);
    assert_non_null(want);
    static const char *const fields[] = {"device_id", "drk_pub", "instance_id"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(got, fields[i])),
                            json_string_value(json_object_get(want, fields[i])));
    assert_int_equal(json_integer_value(json_object_get(got, "epoch")),
                     json_integer_value(json_object_get(want, "epoch")));
    assert_string_equal(json_string_value(json_object_get(got, "lifecycle")), "provisioned");
    assert_int_equal(json_integer_value(json_object_get(got, "boot_status")), 0);
    assert_int_equal(json_integer_value(json_object_get(got, "tamper_count")), 0);
    assert_int_equal(json_array_size(json_object_get(got, "measurements")), 1);
    json_decref(got);

    char id[40];
    hex_string(f->a.device_id, 16, id);
    assert_int_equal(agent(f, "--json --link-key '%s' info --socket '%s'", f->a.key, f->a.sock), 0);
    json_decref(out_json(f)); /* global options on either side of the command */
    /* no socket at all (main() unsets DROT_APM_SOCKET) */
    assert_error_line(f, agent(f, "--link-key '%s' info", f->a.key), 2, "DROT_APM_SOCKET");
    assert_int_equal(apm_proc_sh("DROT_APM_SOCKET='%s' '%s' --link-key '%s' info > '%s/table'", f->a.sock,
                                 DROT_AGENT_BIN, f->a.key, f->root),
                     0);
    size_t n = 0;
    char *table = (char *)read_path(f, "table", &n);
    table = realloc(table, n + 1);
    table[n] = '\0';
    assert_non_null(strstr(table, id));
    assert_non_null(strstr(table, "provisioned"));
    free(table);
    json_decref(want);
}

/* Test 3: attest --out FILE / the raw bytes verify under the DRK and carry
 * the nonce, in the drot and the psa profile; hex on stdout decodes to a
 * token too; --challenge with --exporter gives nonce SHA-256(c || e). */
static void test_attest(void **state)
{
    fixture *f = *state;
    char nonce_hex[129];
    uint8_t nonce[64];
    for (size_t i = 0; i < 64; i++)
        nonce[i] = (uint8_t)(0xa0 + i);
    hex_string(nonce, 64, nonce_hex);
    static const struct {
        const char *profile;
        size_t nonce_len;
        drot_eat_profile want;
    } cases[] = {{"drot", 32, DROT_EAT_PROFILE_DROT},
                 {"psa", 48, DROT_EAT_PROFILE_PSA},
                 {"drot", 64, DROT_EAT_PROFILE_DROT}};
    for (size_t i = 0; i < 3; i++) {
        nonce_hex[2 * cases[i].nonce_len] = '\0';
        assert_int_equal(agent(f, "%s attest --nonce %s --profile %s --out '%s/tok'", f->args, nonce_hex,
                               cases[i].profile, f->root),
                         0);
        hex_string(nonce, 64, nonce_hex);
        assert_int_equal(f->out_len, 0);
        size_t len = 0;
        uint8_t *tok = read_path(f, "tok", &len);
        drot_eat_claims c;
        open_token(f, tok, len, &c);
        assert_int_equal(c.profile, cases[i].want);
        assert_int_equal(c.nonce.len, cases[i].nonce_len);
        assert_memory_equal(c.nonce.p, nonce, cases[i].nonce_len);
        free(tok);
    }

    /* hex on stdout; default profile drot */
    nonce_hex[64] = '\0';
    assert_int_equal(agent(f, "%s attest --nonce %s", f->args, nonce_hex), 0);
    assert_true(f->out_len > 2 && f->out[f->out_len - 1] == '\n');
    f->out[f->out_len - 1] = '\0';
    size_t len = 0;
    uint8_t *tok = drot_test_hex_alloc(f->out, &len);
    drot_eat_claims c;
    open_token(f, tok, len, &c);
    assert_int_equal(c.profile, DROT_EAT_PROFILE_DROT);
    assert_memory_equal(c.nonce.p, nonce, 32);
    free(tok);

    /* challenge + exporter */
    uint8_t ch[32], ex[32], want[32];
    char ch_hex[65], ex_hex[65];
    memset(ch, 0x11, 32);
    memset(ex, 0x22, 32);
    hex_string(ch, 32, ch_hex);
    hex_string(ex, 32, ex_hex);
    uint8_t both[64];
    memcpy(both, ch, 32);
    memcpy(both + 32, ex, 32);
    assert_int_equal(drot_sha256(both, 64, want), DROT_OK);
    assert_int_equal(
        agent(f, "%s attest --challenge %s --exporter %s --out '%s/tok2'", f->args, ch_hex, ex_hex, f->root),
        0);
    tok = read_path(f, "tok2", &len);
    open_token(f, tok, len, &c);
    assert_int_equal(c.nonce.len, 32);
    assert_memory_equal(c.nonce.p, want, 32);
    free(tok);
}

/* Test 4: measure a file as HOST-BL / prints index 1; the next token
 * (drot-agent attest) carries a component with the file's SHA-256, type,
 * version and signer. A missing file: exit 2, nothing extended. A full
 * table: exit 1 with the APM's refusal. */
static void test_measure(void **state)
{
    fixture *f = *state;
    char img[128], signer_hex[65];
    snprintf(img, sizeof img, "%s/host-bl.img", f->root);
    static uint8_t content[100000];
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (uint8_t)(i * 31 + 7);
    int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, sizeof content), (ssize_t)sizeof content);
    close(fd);
    uint8_t digest[32], signer[32];
    assert_int_equal(drot_sha256(content, sizeof content, digest), DROT_OK);
    memset(signer, 0x5c, 32);
    hex_string(signer, 32, signer_hex);

    assert_error_line(f,
                      agent(f, "%s measure --type HOST-BL --version 2.1 --signer %s '%s/nope'", f->args,
                            signer_hex, f->root),
                      2, "nope");
    assert_int_equal(num_measurements(f), 1);

    assert_int_equal(
        agent(f, "%s measure --type HOST-BL --version 2.1 --signer %s '%s'", f->args, signer_hex, img), 0);
    assert_string_equal(f->out, "1\n");
    char nonce_hex[65];
    memset(nonce_hex, '3', 64);
    nonce_hex[64] = '\0';
    assert_int_equal(agent(f, "%s attest --nonce %s --out '%s/tok'", f->args, nonce_hex, f->root), 0);
    size_t len = 0;
    uint8_t *tok = read_path(f, "tok", &len);
    drot_eat_claims c;
    open_token(f, tok, len, &c);
    bool found = false;
    for (size_t i = 0; i < c.num_components; i++) {
        const drot_eat_sw_component *s = &c.components[i];
        if (s->measurement_value.len == 32 && memcmp(s->measurement_value.p, digest, 32) == 0) {
            found = true;
            assert_int_equal(s->measurement_type.len, 7);
            assert_memory_equal(s->measurement_type.p, "HOST-BL", 7);
            assert_int_equal(s->version.len, 3);
            assert_memory_equal(s->version.p, "2.1", 3);
            assert_int_equal(s->signer_id.len, 32);
            assert_memory_equal(s->signer_id.p, signer, 32);
        }
    }
    assert_true(found);
    free(tok);

    /* fill the table (8 entries), then one more is refused by the APM */
    for (int i = 2; i < 8; i++)
        assert_int_equal(
            agent(f, "%s measure --type HOST-OS --version %d --signer %s '%s'", f->args, i, signer_hex, img),
            0);
    int rc = agent(f, "%s measure --type HOST-OS --version 9 --signer %s '%s'", f->args, signer_hex, img);
    assert_error_line(f, rc, 1, "APM refused");
    assert_int_equal(num_measurements(f), 8);
}

/* Test 5: bad input / each refused with its exit status (2 usage, 3 APM
 * unreachable) and one line on stderr, no --out file written, and nothing
 * changed in the APM (the measurement table). */
static void test_bad_input(void **state)
{
    fixture *f = *state;
    char n31[63], n32[65], loose[128];
    memset(n31, 'a', 62);
    n31[62] = '\0';
    memset(n32, 'b', 64);
    n32[64] = '\0';
    snprintf(loose, sizeof loose, "%s/loose.key", f->root);
    assert_int_equal(apm_proc_sh("cp '%s' '%s' && chmod 644 '%s'", f->a.key, loose, loose), 0);

    assert_error_line(f, agent(f, "%s attest --nonce %s --out '%s/t'", f->args, n31, f->root), 2,
                      "32, 48 or 64 bytes");
    assert_error_line(f, agent(f, "%s attest --nonce %.62szz --out '%s/t'", f->args, n32, f->root), 2,
                      "not hex");
    assert_error_line(f, agent(f, "%s attest --nonce %s --profile foo --out '%s/t'", f->args, n32, f->root),
                      2, "psa or drot");
    assert_error_line(f, agent(f, "%s attest --out '%s/t'", f->args, f->root), 2, "--nonce");
    assert_error_line(f,
                      agent(f, "%s attest --nonce %s --challenge %s --exporter %s", f->args, n32, n32, n32),
                      2, "not both");
    assert_error_line(f, agent(f, "%s attest --challenge %s --exporter %s", f->args, n32, n31), 2,
                      "--exporter");
    assert_error_line(f, agent(f, "--socket '%s' attest --nonce %s --out '%s/t'", f->a.sock, n32, f->root), 2,
                      "--link-key");
    assert_error_line(f,
                      agent(f, "--socket '%s' --link-key '%s' attest --nonce %s --out '%s/t'", f->a.sock,
                            loose, n32, f->root),
                      2, "chmod 600");
    assert_error_line(f,
                      agent(f, "--socket '%s/none.sock' --link-key '%s' attest --nonce %s --out '%s/t'",
                            f->root, f->a.key, n32, f->root),
                      3, "cannot reach the APM");
    assert_error_line(f, agent(f, "%s --timeout soon info", f->args), 2, "--timeout");
    assert_error_line(f, agent(f, "%s measure --type HOST-BL --version 1 --signer 00 '%s'", f->args, loose),
                      2, "--signer");
    assert_error_line(f, agent(f, "%s measure --type HOST-BL --signer %s '%s'", f->args, n32, loose), 2,
                      "--version");
    assert_error_line(f, agent(f, "%s seal --storage '%s/s' --label ../x", f->args, f->root), 2, "--label");
    assert_error_line(f, agent(f, "%s attest --nonce", f->args), 2, "needs a value");
    char t[128];
    snprintf(t, sizeof t, "%s/t", f->root);
    assert_int_equal(access(t, F_OK), -1);
    snprintf(t, sizeof t, "%s/s", f->root);
    assert_int_equal(access(t, F_OK), -1);
    assert_int_equal(num_measurements(f), 1);
}

/* Test 6: seal from stdin and from --in, unseal to stdout and to --out /
 * the data comes back, the --out file is 0600; unsealing a missing label
 * or from a group-readable directory is exit 1 with the reason; data over
 * the limit is exit 2. */
static void test_seal_unseal(void **state)
{
    fixture *f = *state;
    char store[128], in[128], out[128];
    snprintf(store, sizeof store, "%s/store", f->root);
    snprintf(in, sizeof in, "%s/secret.in", f->root);
    snprintf(out, sizeof out, "%s/secret.out", f->root);
    assert_int_equal(apm_proc_sh("printf 'line one\\nline two' > '%s'", in), 0);
    assert_int_equal(
        apm_proc_sh("'%s' %s seal --storage '%s' --label a < '%s'", DROT_AGENT_BIN, f->args, store, in), 0);
    assert_int_equal(agent(f, "%s unseal --storage '%s' --label a", f->args, store), 0);
    assert_int_equal(f->out_len, 17);
    assert_memory_equal(f->out, "line one\nline two", 17);

    assert_int_equal(agent(f, "%s seal --storage '%s' --label b --in '%s'", f->args, store, in), 0);
    assert_int_equal(agent(f, "%s unseal --storage '%s' --label b --out '%s'", f->args, store, out), 0);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(apm_proc_sh("cmp -s '%s' '%s'", in, out), 0);

    assert_error_line(f, agent(f, "%s unseal --storage '%s' --label c", f->args, store), 1, "no blob");
    assert_int_equal(chmod(store, 0750), 0);
    assert_error_line(f, agent(f, "%s unseal --storage '%s' --label a", f->args, store), 1, "chmod 700");
    assert_int_equal(chmod(store, 0700), 0);
    assert_int_equal(apm_proc_sh("head -c 100000 /dev/zero > '%s'", in), 0);
    assert_error_line(f, agent(f, "%s seal --storage '%s' --label d --in '%s'", f->args, store, in), 2,
                      "larger than");
    assert_error_line(f,
                      agent(f, "%s seal --storage '%s' --label d --in '%s/missing'", f->args, store, f->root),
                      2, "missing");
}

/* Test 7: a voltage excursion through the control socket / tamper-log
 * --json shows one voltage event with the reading, info counts it. */
static void test_tamper_log(void **state)
{
    fixture *f = *state;
    assert_int_equal(agent(f, "%s tamper-log --json", f->args), 0);
    json_t *j = out_json(f);
    assert_int_equal(json_integer_value(json_object_get(j, "total_count")), 0);
    json_decref(j);
    assert_string_equal(apm_proc_control(&f->a, "tamper voltage 2500\n"), "ok\n");
    assert_int_equal(agent(f, "%s tamper-log --json", f->args), 0);
    j = out_json(f);
    assert_int_equal(json_integer_value(json_object_get(j, "total_count")), 1);
    json_t *e = json_array_get(json_object_get(j, "events"), 0);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "kind")), "voltage");
    assert_int_equal(json_integer_value(json_object_get(e, "value")), 2500);
    json_decref(j);
    assert_int_equal(agent(f, "%s tamper-log", f->args), 0);
    assert_non_null(strstr(f->out, "voltage"));
    assert_int_equal(agent(f, "%s info", f->args), 0);
    assert_non_null(strstr(f->out, "tamper count   1"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    unsetenv("DROT_APM_SOCKET");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help, setup_noapm, teardown),
        cmocka_unit_test_setup_teardown(test_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_unseal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_log, setup, teardown),
    };
    return cmocka_run_group_tests_name("agent_cli", tests, NULL, NULL);
}
