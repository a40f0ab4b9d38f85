/*
 * test_agent_revocation.c — revocation lists through the host link: the
 * drot-agent program (`revocations set FILE`, `revocations status`, `info`)
 * and dh_set_revocation_list against a real drot-apm process.
 *
 * The device is provisioned with the openssl-made authority key (anchor 0,
 * it signs the APM image) and, with --anchor, the hash of test key A
 * (anchor 1), which signs the lists here; key S is a stranger. Paths come
 * from the build: DROT_APM_BIN and DROT_AGENT_BIN. Every process a test
 * starts is killed in its teardown, and its directory removed, pass or fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "apm/apm_status.h"
#include "apm_proc.h"
#include "drot/authority.h"
#include "drot/revocation.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name the drot-agent program"
#endif

typedef struct fixture {
    char root[64];
    char args[700]; /* --socket S --link-key K */
    apm_proc a;
    char *out, *err;
    size_t out_len;
} fixture;

/* Test keys from fixed scalars: A (an anchor of the device) and S (a stranger). */
static void test_key(int k, drot_p256_priv *priv, drot_p256_pub *pub, uint8_t hash[32])
{
    uint8_t d[32];
    drot_p256_priv p;
    drot_p256_pub q;
    memset(d, 0x51 + 0x22 * k, sizeof d);
    d[0] = 0x6b;
    assert_int_equal(drot_p256_key_from_scalar(d, &p, &q), DROT_OK);
    if (priv != NULL)
        *priv = p;
    if (pub != NULL)
        *pub = q;
    if (hash != NULL)
        assert_int_equal(drot_sha256(q.q, sizeof q.q, hash), DROT_OK);
}
#define KEY_A 0
#define KEY_S 1

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    uint8_t h[32];
    char extra[128];
    assert_non_null(f);
    f->a.pid = -1;
    *state = f;
    apm_proc_mkroot(f->root, sizeof f->root, "agentrev");
    test_key(KEY_A, NULL, NULL, h);
    int n = snprintf(extra, sizeof extra, "--anchor ");
    for (int i = 0; i < 32; i++)
        n += snprintf(extra + n, sizeof extra - (size_t)n, "%02x", h[i]);
    apm_proc_provision_ex(&f->a, f->root, "dev", extra);
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

static int agent(fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agent(fixture *f, const char *fmt, ...)
{
    char args[1500], path[128];
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    int rc =
        apm_proc_sh("'%s' %s </dev/null >'%s/stdout' 2>'%s/stderr'", DROT_AGENT_BIN, args, f->root, f->root);
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

static void assert_error_line(fixture *f, int rc, int code, const char *needle)
{
    if (rc != code || strncmp(f->err, "drot-agent: ", 12) != 0 || strstr(f->err, needle) == NULL)
        fail_msg("expected exit %d and an error with '%s'; got exit %d, stderr: %s", code, needle, rc,
                 f->err);
    size_t len = strlen(f->err);
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

static int cmp32(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 32);
}

/* A list of `version` signed by key k revoking the authority hashes and DRK
 * hashes given, written to ROOT/name; returns its length. */
static size_t write_list(fixture *f, const char *name, int k, uint64_t version, const uint8_t (*auth)[32],
                         size_t n_auth, const uint8_t (*drk)[32], size_t n_drk)
{
    static uint8_t msg[DROT_REVOCATION_SIGNED_MAX];
    drot_revocation_list l;
    drot_p256_priv priv;
    drot_p256_pub pub;
    size_t len = 0;
    memset(&l, 0, sizeof l);
    l.version = version;
    l.issued_at = 1767225600;
    l.n_authorities = n_auth;
    for (size_t i = 0; i < n_auth; i++)
        l.authorities[i] = auth[i];
    qsort(l.authorities, n_auth, sizeof l.authorities[0], cmp32);
    l.n_drks = n_drk;
    for (size_t i = 0; i < n_drk; i++)
        l.drks[i] = drk[i];
    qsort(l.drks, n_drk, sizeof l.drks[0], cmp32);
    test_key(k, &priv, &pub, NULL);
    assert_int_equal(drot_revocation_sign(&priv, &pub, &l, msg, sizeof msg, &len), DROT_OK);
    char path[200];
    snprintf(path, sizeof path, "%s/%s", f->root, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(msg, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return len;
}

static uint64_t status_version(fixture *f)
{
    assert_int_equal(agent(f, "%s revocations status --json", f->args), 0);
    json_t *j = out_json(f);
    uint64_t v = (uint64_t)json_integer_value(json_object_get(j, "version"));
    json_decref(j);
    return v;
}

/* Test 1: help and usage / `revocations --help` describes both
 * subcommands; no subcommand, an unknown one, a missing or extra FILE: exit
 * 2 with one line on stderr, the APM untouched. */
static void test_usage(void **state)
{
    fixture *f = *state;
    assert_int_equal(agent(f, "revocations --help"), 0);
    assert_non_null(strstr(f->out, "revocations set FILE"));
    assert_non_null(strstr(f->out, "revocations status"));
    assert_error_line(f, agent(f, "%s revocations", f->args), 2, "give 'set FILE' or 'status'");
    assert_error_line(f, agent(f, "%s revocations drop", f->args), 2, "unknown subcommand 'drop'");
    assert_error_line(f, agent(f, "%s revocations set", f->args), 2, "exactly one FILE");
    assert_error_line(f, agent(f, "%s revocations set a b", f->args), 2, "exactly one FILE");
    assert_error_line(f, agent(f, "%s revocations status x", f->args), 2, "unexpected argument 'x'");
    assert_int_equal(status_version(f), 0);
}

/* Test 2: set and status / status says 0 at first; v1 (by A, revoking S) is
 * stored: text and JSON say so; the same file again changes nothing; info
 * shows the version (table and JSON); a restart of drot-apm keeps it. */
static void test_set_status(void **state)
{
    fixture *f = *state;
    uint8_t hs[1][32];
    test_key(KEY_S, NULL, NULL, hs[0]);
    assert_int_equal(agent(f, "%s revocations status", f->args), 0);
    assert_non_null(strstr(f->out, "holds no revocation list"));
    write_list(f, "v1.cbor", KEY_A, 1, hs, 1, NULL, 0);

    assert_int_equal(agent(f, "%s revocations set '%s/v1.cbor'", f->args, f->root), 0);
    assert_non_null(strstr(f->out, "revocation list version 1 stored by the APM"));
    assert_int_equal(agent(f, "%s revocations set '%s/v1.cbor' --json", f->args, f->root), 0);
    json_t *j = out_json(f);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_true(json_is_false(json_object_get(j, "changed")));
    assert_true(json_is_false(json_object_get(j, "drk_revoked")));
    json_decref(j);

    assert_int_equal(agent(f, "%s info", f->args), 0);
    assert_non_null(strstr(f->out, "revocations    list version 1"));
    assert_int_equal(agent(f, "%s info --json", f->args), 0);
    j = out_json(f);
    assert_int_equal(json_integer_value(json_object_get(j, "revocation_version")), 1);
    json_decref(j);

    apm_proc_stop(&f->a);
    apm_proc_start(&f->a);
    assert_int_equal(status_version(f), 1);
}

/* Test 3: refusals through the link / after v3: v2 (older) is refused
 * with the APM's APM_E_ROLLBACK; a list signed by the stranger is refused
 * (DROT_E_VERIFY); a file that is no list, and one too large, are refused
 * before the APM is asked (exit 2); a missing file too. The APM still holds
 * v3 after each. */
static void test_refusals(void **state)
{
    fixture *f = *state;
    uint8_t hs[1][32];
    char code[16];
    test_key(KEY_S, NULL, NULL, hs[0]);
    write_list(f, "v3.cbor", KEY_A, 3, hs, 1, NULL, 0);
    write_list(f, "v2.cbor", KEY_A, 2, hs, 1, NULL, 0);
    write_list(f, "v9s.cbor", KEY_S, 9, NULL, 0, NULL, 0);
    assert_int_equal(agent(f, "%s revocations set '%s/v3.cbor'", f->args, f->root), 0);

    snprintf(code, sizeof code, "(%d)", APM_E_ROLLBACK);
    assert_error_line(f, agent(f, "%s revocations set '%s/v2.cbor'", f->args, f->root), 1, code);
    assert_non_null(strstr(f->err, "APM refused SET_REVOCATION_LIST"));
    snprintf(code, sizeof code, "(%d)", (int)DROT_E_VERIFY);
    assert_error_line(f, agent(f, "%s revocations set '%s/v9s.cbor'", f->args, f->root), 1, code);
    assert_int_equal(status_version(f), 3);

    assert_int_equal(apm_proc_sh("head -c 300 /dev/urandom > '%s/junk'", f->root), 0);
    assert_error_line(f, agent(f, "%s revocations set '%s/junk'", f->args, f->root), 2,
                      "is not a signed revocation list");
    assert_int_equal(
        apm_proc_sh("head -c %u /dev/zero > '%s/big'", (unsigned)DROT_REVOCATION_SIGNED_MAX + 1, f->root), 0);
    assert_error_line(f, agent(f, "%s revocations set '%s/big'", f->args, f->root), 2, "larger than");
    assert_error_line(f, agent(f, "%s revocations set '%s/none'", f->args, f->root), 2, "cannot open");
    /* A list cut short: the local check refuses it. */
    assert_int_equal(apm_proc_sh("head -c 100 '%s/v3.cbor' > '%s/cut'", f->root, f->root), 0);
    assert_error_line(f, agent(f, "%s revocations set '%s/cut'", f->args, f->root), 2,
                      "is not a signed revocation list");
    assert_int_equal(status_version(f), 3);
}

/* Test 4: the device's own DRK revoked / the APM stores the list and says
 * so; the agent prints it; from then on `attest` is refused with
 * APM_E_REVOKED, also after drot-apm restarts. dh_set_revocation_list with
 * the same list is a no-op (changed false, drk_revoked true). */
static void test_drk_revoked(void **state)
{
    fixture *f = *state;
    uint8_t drk[1][32], nonce_hex[65];
    char code[16];
    memcpy(drk[0], f->a.instance_id + 1, 32);
    size_t len = write_list(f, "drk.cbor", KEY_A, 5, NULL, 0, drk, 1);
    memset(nonce_hex, 'a', 64);
    nonce_hex[64] = 0;
    assert_int_equal(agent(f, "%s attest --nonce %s", f->args, (char *)nonce_hex), 0); /* control */

    assert_int_equal(agent(f, "%s revocations set '%s/drk.cbor'", f->args, f->root), 0);
    assert_non_null(strstr(f->out, "revokes this device's root key"));
    snprintf(code, sizeof code, "(%d)", APM_E_REVOKED);
    assert_error_line(f, agent(f, "%s attest --nonce %s", f->args, (char *)nonce_hex), 1, code);
    apm_proc_stop(&f->a);
    apm_proc_start(&f->a);
    assert_error_line(f, agent(f, "%s attest --nonce %s", f->args, (char *)nonce_hex), 1, code);

    char path[200];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/drk.cbor", f->root);
    uint8_t *msg = drot_test_read_file(path, &n);
    assert_non_null(msg);
    assert_int_equal(n, len);
    drot_link_revocation_resp r;
    assert_int_equal(dh_set_revocation_list(apm_proc_driver(&f->a), msg, n, &r), DH_OK);
    assert_int_equal(r.version, 5);
    assert_false(r.changed);
    assert_true(r.drk_revoked);
    assert_int_equal(dh_set_revocation_list(apm_proc_driver(&f->a), msg, 0, &r), DH_E_ARG);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drk_revoked, setup, teardown),
    };
    return cmocka_run_group_tests_name("agent_revocation", tests, NULL, NULL);
}
