/*
 * test_revocation_e2e.c — revocation end to end with real processes
 * (docs/revocation.md): drotctl init keys plus a second authority key
 * "authority-2", drot-apm devices deployed with both as anchors (slots 1
 * and 2; slot 0 holds the key that signed their APM image), drot-server on
 * SQLite over TLS 1.3, drot-agent attest-once, drotctl revoke.
 *
 *   1. nothing revoked yet: the attest answer says list version 0, the APM
 *      holds none, a PASS
 *   2. authority-2 revoked: list 1, signed by "authority"; the agent's next
 *      attestation fetches it and hands it to the APM; an instruction
 *      signed by authority-2 is then refused by the APM (DROT_E_BADKEY, its
 *      anchor fuse untouched); the server refuses to make authority-2 a
 *      device's new anchor; the list checks offline against the authority
 *      anchor and not against authority-2's
 *   3. an older list handed to the APM is refused (APM_E_ROLLBACK) and the
 *      APM keeps the newer one; the same list again is a no-op
 *   4. a device's root key revoked: the device moves to revoked and its
 *      attestation is refused; with its status forced back to active in the
 *      database, its key is still refused; its APM, given the list, signs
 *      no token; the other device still PASSes
 *   5. a device's TLS certificate revoked (serial as openssl prints it):
 *      every request on it is refused by the certificate gate; the device
 *      moves to revoked
 *   6. refusals through the admin API: a second revocation of the same key
 *      (409), a bad value, no reason, an unknown kind: nothing published
 *   7. a device whose trust anchor was rotated to authority-3 (its
 *      "authority" fuse revoked) gets the next list signed by authority-3,
 *      the key it obeys, and stores it
 *
 * Paths come from the build (DROT_*_BIN, DROTCTL_BIN). Every process is
 * killed and the directory removed in the group teardown, pass or fail.
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
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "apm/apm_status.h"
#include "apm_proc.h"
#include "drot/host.h"
#include "drot/revocation.h"
#include "drot_crypto.h"
#include "e2e_proc.h"
#include "keys.h"
#include "rotation.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

#define PASS_PHRASE "revocation e2e test passphrase"

typedef struct dev {
    apm_proc p;
    char id[33];
    char storage[240];
} dev;

static struct {
    char root[128], keys[200], ca[240], db[240], reg[240], ref[240];
    char anchor1[65], anchor2[65]; /* authority, authority-2 */
    e2e_server srv;
    dev d[3];
    e2e_out o;
} G;

#define jint  e2e_jint
#define jtext e2e_jtext

static json_t *admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *admin(const char *fmt, ...)
{
    char args[1000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_drotctl(&G.o, G.root, G.srv.url, G.keys, G.ca, args);
}

/* drotctl with the operator's GLOBAL options, text output; its exit status. */
static int drotctl_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int drotctl_text(const char *fmt, ...)
{
    char args[1000];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_run(
        &G.o, G.root,
        "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
        "--ca '%s' %s",
        DROTCTL_BIN, G.srv.url, G.keys, G.keys, G.ca, args);
}

static int attest_once(dev *x)
{
    return e2e_run(&G.o, G.root,
                   "'%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' --storage '%s'",
                   DROT_AGENT_BIN, x->p.sock, x->p.key, G.srv.url, G.ca, x->storage);
}

static void expect_pass(dev *x)
{
    int rc = attest_once(x);
    if (rc != 0 || strstr(G.o.out, "PASS") == NULL)
        fail_msg("expected a PASS; exit %d, stdout %s, stderr %s", rc, G.o.out, G.o.err);
}

static int agent(dev *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agent(dev *x, const char *fmt, ...)
{
    char args[800];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_run(&G.o, G.root, "'%s' --socket '%s' --link-key '%s' %s", DROT_AGENT_BIN, x->p.sock, x->p.key,
                   args);
}

static uint64_t apm_version(dev *x)
{
    drot_link_info info;
    assert_int_equal(dh_get_info(apm_proc_driver(&x->p), &info), DH_OK);
    return info.revocation_version;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* A new authority key in the server's key store; its anchor hash. */
static void make_authority2(char anchor[65])
{
    char err[256];
    ds_keystore *ks = NULL;
    ds_key_info info;
    drot_p256_pub pub;
    uint8_t raw[65], h[32];
    assert_int_equal(ds_keystore_open_file(G.keys, PASS_PHRASE, &ks, err, sizeof err), DS_KEYS_OK);
    assert_int_equal(ds_keys_generate(ks, DS_ROLE_AUTHORITY, &info), DS_KEYS_OK);
    assert_string_equal(info.name, "authority-2");
    assert_int_equal(ds_keys_p256_public(ks, "authority-2", &pub, raw), DS_KEYS_OK);
    ds_keystore_close(ks);
    assert_int_equal(drot_sha256(raw, 65, h), DROT_OK);
    hex_of(h, 32, anchor);
}

/* Provisions, deploys, registers and enrolls device i. */
static void device_up(int i)
{
    dev *x = &G.d[i];
    char name[16], extra[200];
    snprintf(name, sizeof name, "dev%d", i);
    snprintf(extra, sizeof extra, "--anchor %s --anchor %s", G.anchor1, G.anchor2);
    apm_proc_provision_ex(&x->p, G.root, name, extra);
    assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, x->p.state), 0);
    apm_proc_start(&x->p);
    hex_of(x->p.device_id, 16, x->id);
    if (drotctl_text("devices register --class sim-v1 '%s'", x->p.identity) != 0)
        fail_msg("register of %s failed: %s", name, G.o.err);
    snprintf(x->storage, sizeof x->storage, "%s/%s-storage", G.root, name);
    if (e2e_run(&G.o, G.root,
                "'%s' --socket '%s' --link-key '%s' enroll --server '%s' --ca '%s' --storage '%s'",
                DROT_AGENT_BIN, x->p.sock, x->p.key, G.srv.url, G.ca, x->storage) != 0)
        fail_msg("enroll of %s failed: %s", name, G.o.err);
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    for (int i = 0; i < 3; i++)
        G.d[i].p.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "revoke");
    setenv("DROT_KEY_PASSPHRASE", PASS_PHRASE, 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    json_t *init = json_loads(G.o.out, 0, NULL);
    assert_non_null(init);
    strcpy(G.anchor1, jtext(init, "authority_anchor"));
    json_decref(init);
    assert_int_equal(strlen(G.anchor1), 64);
    make_authority2(G.anchor2);
    assert_int_equal(apm_proc_sh("mkdir -p '%s' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
                                 "[{\"type\":\"APM\"}]}' > '%s/sim-v1.json'",
                                 G.ref, G.ref),
                     0);
    const char *args[] = {"--db", G.db, "--keys", G.keys, "--reference", G.ref, "--attest-interval",
                          "1",    NULL};
    e2e_server_start(&G.srv, G.ca, args);
    for (int i = 0; i < 3; i++)
        device_up(i);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    e2e_server_kill(&G.srv);
    for (int i = 0; i < 3; i++)
        apm_proc_kill(&G.d[i].p);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* Test 1. */
static void test_nothing_revoked(void **state)
{
    (void)state;
    expect_pass(&G.d[0]);
    assert_int_equal(apm_version(&G.d[0]), 0);
    json_t *j = admin("revocations list --json");
    assert_non_null(j);
    assert_int_equal(jint(j, "version"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "revocations")), 0);
    json_decref(j);
    assert_null(admin("revocations show-list --json"));
    assert_non_null(strstr(G.o.err, "no revocation list has been published"));
}

/* An instruction signed by `key` for device x, handed to its APM; returns
 * what dh_rotate_root said and the APM's code in *code. */
static dh_status instruction_by(dev *x, const char *key, int32_t *code)
{
    char err[256];
    ds_keystore *ks = NULL;
    drot_link_info info;
    uint8_t nonce[32];
    static ds_rot_issued is;
    static uint8_t receipt[DROT_LINK_ROT_MAX_MSG];
    size_t rlen = 0;
    dh_driver *drv = apm_proc_driver(&x->p);
    assert_int_equal(ds_keystore_open_file(G.keys, PASS_PHRASE, &ks, err, sizeof err), DS_KEYS_OK);
    assert_int_equal(dh_get_info(drv, &info), DH_OK);
    assert_int_equal(dh_rotation_nonce(drv, nonce), DH_OK);
    if (ds_rot_server_instruction(ks, key, x->p.device_id, info.epoch, info.drk_pub, nonce, &is, err,
                                  sizeof err) != 0)
        fail_msg("cannot sign with %s: %s", key, err);
    ds_keystore_close(ks);
    dh_status st = dh_rotate_root(drv, is.msg, is.msg_len, receipt, sizeof receipt, &rlen);
    *code = dh_driver_last_apm_code(drv);
    return st;
}

/* Test 2. */
static void test_authority_revoked(void **state)
{
    (void)state;
    dev *x = &G.d[0];
    json_t *j = admin("revoke authority authority-2 --reason 'test: key leaked' --json");
    if (j == NULL)
        fail_msg("drotctl revoke failed: %s", G.o.err);
    json_t *l = json_object_get(j, "list");
    assert_int_equal(jint(l, "version"), 1);
    assert_string_equal(jtext(l, "signer"), "authority");
    assert_string_equal(jtext(json_object_get(j, "revocation"), "value"), G.anchor2);
    assert_true(json_is_null(json_object_get(j, "device")));
    json_decref(j);

    /* The agent learns of list 1 from its attestation and gives it to the APM. */
    assert_int_equal(apm_version(x), 0);
    expect_pass(x);
    if (strstr(G.o.err, "revocation list version 1 stored by the APM") == NULL)
        fail_msg("the agent did not hand the list to the APM: %s", G.o.err);
    assert_int_equal(apm_version(x), 1);
    assert_int_equal(agent(x, "revocations status --json"), 0);
    assert_non_null(strstr(G.o.out, "\"version\": 1"));

    /* authority-2 is still in its fuse slot, unrevoked there, but the APM
     * refuses what it signs: the revoked-anchor status, not "unknown". */
    int32_t code = 0;
    assert_int_equal(instruction_by(x, "authority-2", &code), DH_E_REFUSED);
    assert_int_equal(code, DROT_E_BADKEY);

    /* The server will not make authority-2 a device's anchor. */
    assert_null(admin("authority rotate --dir '%s' --device %s --key authority-2 --json", G.keys, x->id));
    if (strstr(G.o.err, "revoked") == NULL)
        fail_msg("anchor rotation to a revoked key: %s", G.o.err);
    j = admin("rotations list --json");
    assert_non_null(j);
    assert_int_equal(jint(j, "count"), 0);
    json_decref(j);

    /* Offline: the list verifies under the authority anchor, not authority-2's. */
    char path[300];
    snprintf(path, sizeof path, "%s/list1.cbor", G.root);
    j = admin("revocations show-list --out '%s' --json", path);
    assert_non_null(j);
    assert_int_equal(jint(j, "version"), 1);
    assert_string_equal(jtext(j, "signer_anchor"), G.anchor1);
    assert_int_equal(json_array_size(json_object_get(j, "authorities")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "authorities"), 0)), G.anchor2);
    json_decref(j);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' revocations show-list --file '%s' --anchor %s", DROTCTL_BIN,
                             path, G.anchor1),
                     0);
    assert_non_null(strstr(G.o.out, G.anchor2)); /* listed as revoked */
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' revocations show-list --file '%s' --anchor %s", DROTCTL_BIN,
                             path, G.anchor2),
                     1);
    expect_pass(x);
}

/* Test 3. */
static void test_older_list_refused(void **state)
{
    (void)state;
    dev *x = &G.d[0];
    json_t *j = admin("revoke cert 0102 --reason 'test: a certificate nobody holds' --json");
    if (j == NULL)
        fail_msg("drotctl revoke cert failed: %s", G.o.err);
    assert_int_equal(jint(json_object_get(j, "list"), "version"), 2);
    json_decref(j);
    expect_pass(x);
    assert_int_equal(apm_version(x), 2);

    char code[16];
    snprintf(code, sizeof code, "(%d)", APM_E_ROLLBACK);
    assert_int_equal(agent(x, "revocations set '%s/list1.cbor'", G.root), 1);
    if (strstr(G.o.err, code) == NULL)
        fail_msg("an older list was not refused as a rollback: %s", G.o.err);
    assert_int_equal(apm_version(x), 2);

    char path[300];
    snprintf(path, sizeof path, "%s/list2.cbor", G.root);
    j = admin("revocations show-list --version 2 --out '%s' --json", path);
    assert_non_null(j);
    json_decref(j);
    assert_int_equal(agent(x, "revocations set '%s' --json", path), 0);
    assert_non_null(strstr(G.o.out, "\"changed\": false"));
    assert_int_equal(apm_version(x), 2);
}

/* Sets a device's status directly in the database (not through the server). */
static void set_status_raw(dev *x, const char *status)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(G.db + strlen("sqlite:"), &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE devices SET status = ?1 WHERE device_id = ?2", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, x->p.device_id, 16, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Test 4. */
static void test_drk_revoked(void **state)
{
    (void)state;
    dev *x = &G.d[1];
    expect_pass(x);
    json_t *j = admin("revoke drk %s --reason 'test: root key extracted' --json", x->id);
    if (j == NULL)
        fail_msg("drotctl revoke drk failed: %s", G.o.err);
    json_t *d = json_object_get(j, "device");
    assert_string_equal(jtext(d, "device_id"), x->id);
    assert_string_equal(jtext(d, "status"), "revoked");
    assert_int_equal(jint(json_object_get(j, "list"), "version"), 3);
    char value[65];
    hex_of(x->p.instance_id + 1, 32, value);
    assert_string_equal(jtext(json_object_get(j, "revocation"), "value"), value);
    json_decref(j);

    int rc = attest_once(x);
    if (rc == 0 || strstr(G.o.out, "PASS") != NULL || strstr(G.o.err, "revoked") == NULL)
        fail_msg("a device with a revoked root key attested: exit %d, %s %s", rc, G.o.out, G.o.err);
    j = admin("devices show %s --json", x->id);
    assert_non_null(j);
    assert_string_equal(jtext(j, "status"), "revoked");
    json_decref(j);
    /* The key itself is refused, whatever the status says: put the device
     * back to active behind the server's back (as a restored backup might)
     * and it is still refused, now for its key (code 17). */
    set_status_raw(x, "active");
    rc = attest_once(x);
    if (rc == 0 || strstr(G.o.err, "its root key (epoch 0) is revoked") == NULL ||
        strstr(G.o.err, "code 17") == NULL)
        fail_msg("a revoked root key attested: exit %d, %s %s", rc, G.o.out, G.o.err);
    set_status_raw(x, "revoked");
    /* Its APM, given the list by hand, refuses to sign with the key too. */
    char path[300];
    snprintf(path, sizeof path, "%s/list3.cbor", G.root);
    j = admin("revocations show-list --out '%s' --json", path);
    assert_non_null(j);
    json_decref(j);
    assert_int_equal(agent(x, "revocations set '%s'", path), 0);
    assert_non_null(strstr(G.o.out, "revokes this device's root key"));
    char code[16];
    snprintf(code, sizeof code, "(%d)", APM_E_REVOKED);
    assert_int_equal(agent(x, "attest --nonce %064d", 7), 1);
    assert_non_null(strstr(G.o.err, code));
    /* The other devices are not affected. */
    expect_pass(&G.d[0]);
    assert_int_equal(apm_version(&G.d[0]), 3);
}

/* GET /v1/device/revocations with the device's own TLS certificate and
 * key (unsealed from its storage); the dh_status, the HTTP status in *http
 * and the error code in *code. */
static dh_status fetch_with_cert(dev *x, long *http, uint64_t *code, char *err, size_t cap)
{
    char cert[300], key[300];
    snprintf(cert, sizeof cert, "%s/%s-cert.pem", G.root, x->id);
    snprintf(key, sizeof key, "%s/%s-key.pem", G.root, x->id);
    if (access(cert, R_OK) != 0) {
        assert_int_equal(agent(x, "unseal --storage '%s' --label tls-cert.pem --out '%s'", x->storage, cert),
                         0);
        assert_int_equal(agent(x, "unseal --storage '%s' --label tls-key.pem --out '%s'", x->storage, key),
                         0);
    }
    char *cert_pem = e2e_slurp(cert), *key_pem = e2e_slurp(key);
    dh_server_options so = {.url = G.srv.url, .ca_file = G.ca, .cert_pem = cert_pem, .key_pem = key_pem};
    dh_server *srv = NULL;
    static uint8_t list[DROT_LINK_REVOCATION_MAX];
    size_t len = 0;
    assert_int_equal(dh_server_open(&srv, &so), DH_OK);
    dh_status st = dh_server_revocations(srv, list, sizeof list, &len);
    *http = dh_server_last_http(srv);
    *code = dh_server_last_code(srv);
    snprintf(err, cap, "%s", dh_server_last_error(srv));
    dh_server_close(srv);
    free(cert_pem);
    free(key_pem);
    return st;
}

/* Test 5. */
static void test_cert_revoked(void **state)
{
    (void)state;
    dev *x = &G.d[2];
    long http = 0;
    uint64_t code = 0;
    char err[300];
    expect_pass(x);
    assert_int_equal(fetch_with_cert(x, &http, &code, err, sizeof err), DH_OK);
    assert_int_equal(http, 200);

    char pem[300];
    snprintf(pem, sizeof pem, "%s/%s-cert.pem", G.root, x->id);
    assert_int_equal(e2e_run(&G.o, G.root, "openssl x509 -noout -serial -in '%s'", pem), 0);
    char serial[80];
    assert_int_equal(sscanf(G.o.out, "serial=%79s", serial), 1);
    assert_int_equal(drotctl_text("revoke cert %s --reason 'test: TLS key copied'", serial), 0);
    assert_non_null(strstr(G.o.out, "is now revoked"));
    assert_non_null(strstr(G.o.out, x->id));

    /* The certificate gate refuses it on a device route, before the route. */
    assert_int_equal(fetch_with_cert(x, &http, &code, err, sizeof err), DH_E_REFUSED);
    assert_int_equal(http, 403);
    assert_int_equal(code, 17);
    if (strstr(err, "client certificate (serial") == NULL || strstr(err, "is revoked") == NULL)
        fail_msg("unexpected refusal: %s", err);
    /* And the device, moved to revoked, attests no more. */
    int rc = attest_once(x);
    if (rc == 0 || strstr(G.o.err, "is revoked") == NULL)
        fail_msg("a device with a revoked certificate attested: exit %d, %s %s", rc, G.o.out, G.o.err);
    json_t *j = admin("devices show %s --json", x->id);
    assert_non_null(j);
    assert_string_equal(jtext(j, "status"), "revoked");
    json_decref(j);
    j = admin("revocations list --kind cert --json");
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "revocations")), 2);
    json_decref(j);
    expect_pass(&G.d[0]);
}

/* Test 6. */
static void test_admin_refusals(void **state)
{
    (void)state;
    json_t *before = admin("revocations list --json");
    assert_non_null(before);
    long long version = jint(before, "version");
    json_decref(before);
    assert_null(admin("revoke authority authority-2 --reason again --json"));
    assert_non_null(strstr(G.o.err, "revoked already"));
    assert_null(admin("revoke drk 1234 --reason x --json"));
    assert_non_null(strstr(G.o.err, "/value"));
    assert_null(admin("revoke authority authority-9 --reason x --json"));
    assert_non_null(strstr(G.o.err, "no key 'authority-9'"));
    assert_null(admin("revoke cert 00 --reason x --json"));
    assert_int_equal(drotctl_text("revoke drk %s --json", G.d[0].id), 2);
    assert_non_null(strstr(G.o.err, "--reason"));
    assert_int_equal(drotctl_text("revoke key %s --reason x", G.d[0].id), 2);
    json_t *after = admin("revocations list --json");
    assert_non_null(after);
    assert_int_equal(jint(after, "version"), version);
    json_decref(after);
    expect_pass(&G.d[0]);
}

/* Test 7. */
static void test_list_signed_for_the_device(void **state)
{
    (void)state;
    dev *x = &G.d[0];
    json_t *j = admin("authority rotate --dir '%s' --device %s --json", G.keys, x->id);
    if (j == NULL)
        fail_msg("drotctl authority rotate failed: %s", G.o.err);
    assert_string_equal(jtext(j, "new_authority"), "authority-3");
    json_decref(j);
    expect_pass(x);
    if (strstr(G.o.err, "trust-anchor rotation job") == NULL || strstr(G.o.err, "completed") == NULL)
        fail_msg("the anchor rotation did not complete: %s", G.o.err);
    /* The device now refuses "authority" (its fuse is revoked). A new list,
     * published under "authority", reaches it signed by authority-3. */
    uint64_t before = apm_version(x);
    assert_int_equal(drotctl_text("revoke cert 0303 --reason 'test: after an anchor rotation'"), 0);
    expect_pass(x);
    if (strstr(G.o.err, "stored by the APM") == NULL)
        fail_msg("the device did not take the list: %s", G.o.err);
    assert_int_equal(apm_version(x), before + 1);
    j = admin("revocations show-list --json");
    assert_non_null(j);
    assert_string_equal(jtext(j, "signer_anchor"), G.anchor1); /* the stored list: "authority" */
    json_decref(j);
    int32_t code = 0;
    assert_int_equal(instruction_by(x, "authority", &code), DH_E_REFUSED);
    assert_int_equal(code, DROT_E_BADKEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_revoked),
        cmocka_unit_test(test_authority_revoked),
        cmocka_unit_test(test_older_list_refused),
        cmocka_unit_test(test_drk_revoked),
        cmocka_unit_test(test_cert_revoked),
        cmocka_unit_test(test_admin_refusals),
        cmocka_unit_test(test_list_signed_for_the_device),
    };
    return cmocka_run_group_tests_name("revocation_e2e", tests, group_setup, group_teardown);
}
