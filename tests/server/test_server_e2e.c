/*
 * test_server_e2e.c — drot-server as a process, end to end (docs/api.md):
 * real `drotctl init` keys, a real drot-apm provisioned and running, tokens
 * from it through libdrot-host's dh_attest, and a libcurl client that
 * computes the TLS exporter of its own connection.
 *
 * Exporter of the connection that carries the token: the challenge request
 * and the token request are two requests on ONE curl handle. The exporter is
 * computed DURING the first transfer, in the write callback of the challenge
 * response (CURLINFO_TLS_SSL_PTR → SSL_export_keying_material): the SSL*
 * that getinfo returns is only meaningful while the handle is attached to
 * its connection, i.e. not after curl_easy_perform returned. The second
 * request MUST reuse that connection: CURLINFO_NUM_CONNECTS == 0 is
 * asserted, so a silent reconnect fails the test instead of hiding.
 *
 * Tests run in order and share one server (group setup):
 *   1. enroll: certificate issued, names the device id; recorded
 *   2. attest with the device certificate: verdict recorded (WARN: the sim
 *      device is in lifecycle "provisioned", allowed by the reference)
 *   3. replayed token, new challenge → FAIL, reason "nonce"
 *   4. reused challenge → 403 "already used"
 *   5. token bound to connection A sent on connection B → FAIL "nonce"
 *   6. a token signed by ANOTHER registered device's APM, with the right
 *      nonce for this connection, on device A's mTLS connection → FAIL
 *      "key"; nothing recorded for the other device; A then attests again
 *   7. a real token with one payload byte changed → FAIL "signature"; A then
 *      attests again
 *   8. tamper: device Q (class sim-q, "on_fail": "quarantine"): an enrollment
 *      for Q with device B's token → 403, Q NOT quarantined (anyone may call
 *      that route); Q enrolls and attests; its APM logs a voltage excursion through the control socket
 *      and refuses tokens until restarted; drot-apm is restarted on the same
 *      state → the next attestation is FAIL "tamper: 1 new tamper event …
 *      (count 0 -> 1)" with "action: device quarantined automatically", the
 *      device is quarantined in the database, /metrics counts it once
 *   9. TLS 1.2 client → handshake refused
 *  10. no client certificate on /v1/device/attest → 401
 *  11. client certificate from another CA → handshake refused
 *  12. unregistered device → 404
 *  13. malformed body → 400, oversized → 413, then /healthz still 200; the
 *      same and a wrong type, an unknown key, a missing key, an unknown job,
 *      a half report and no certificate on the DRoT routes
 *  14. expired challenge (second server, --challenge-ttl 1) → 403 "expired"
 *  15. SIGTERM → exit status 0
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "apm_proc.h"
#include "srv_client.h"
#include "drot/cbor.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/host.h"
#include "drot_crypto.h"
#include "store.h"

#ifndef DROT_SERVER_BIN
#error "DROT_SERVER_BIN must name drot-server"
#endif
#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

typedef struct server {
    pid_t pid;
    unsigned port;
    char log[300];
} server;

static struct {
    char root[128];
    char keys[200], ca[240], db[240];
    char dev_cert[240], dev_key[240], bad_cert[240], bad_key[240], q_cert[240], q_key[240];
    apm_proc apm;  /* device A, class sim-v1: enrolled by test 1 */
    apm_proc apm2; /* device B, class sim-v1: registered, never enrolled */
    apm_proc apmq; /* device Q, class sim-q ("on_fail": "quarantine") */
    server srv;
    server srv2; /* test_expired_challenge's; killed by the teardown on failure */
    uint8_t last_token[4096];
    size_t last_token_len;
} G;

/* ---- processes -------------------------------------------------------------- */

static void server_start(server *s, long ttl)
{
    s->port = srv_free_port();
    snprintf(s->log, sizeof s->log, "%s/server-%u.log", G.root, s->port);
    char listen[64], ttls[32], reg[240], ref[240];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", s->port);
    snprintf(ttls, sizeof ttls, "%ld", ttl);
    snprintf(reg, sizeof reg, "%s/register.json", G.root);
    snprintf(ref, sizeof ref, "%s/ref", G.root);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(DROT_SERVER_BIN, DROT_SERVER_BIN, "--listen", listen, "--db", G.db, "--keys", G.keys,
              "--reference", ref, "--register", reg, "--challenge-ttl", ttls, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        CURL *c = srv_client(G.ca, NULL, NULL, false);
        resp *r = calloc(1, sizeof *r);
        srv_request(c, s->port, "/healthz", NULL, 0, r);
        bool up = r->rc == CURLE_OK && r->code == 200;
        free(r);
        curl_easy_cleanup(c);
        if (up)
            return;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = -1;
            fail_msg("drot-server exited at start (log %s)", s->log);
        }
        usleep(50000);
    }
    fail_msg("drot-server did not answer /healthz");
}

static void server_kill(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = -1;
}

/* The identities as provision printed them, each with its class, as the
 * register file. */
static void write_register(void)
{
    const struct {
        const apm_proc *p;
        const char *cls;
    } devs[] = {{&G.apm, "sim-v1"}, {&G.apm2, "sim-v1"}, {&G.apmq, "sim-q"}};
    json_t *arr = json_array();
    assert_non_null(arr);
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        json_error_t e;
        json_t *id = json_load_file(devs[i].p->identity, 0, &e);
        assert_non_null(id);
        assert_int_equal(json_object_set_new(id, "class", json_string(devs[i].cls)), 0);
        assert_int_equal(json_array_append_new(arr, id), 0);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/register.json", G.root);
    assert_int_equal(json_dump_file(arr, path, JSON_COMPACT), 0);
    json_decref(arr);
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    G.srv2.pid = -1;
    G.apm.pid = G.apm2.pid = G.apmq.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "srv");
    setenv("DROT_KEY_PASSPHRASE", "e2e test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.dev_cert, sizeof G.dev_cert, "%s/dev.crt.pem", G.root);
    snprintf(G.dev_key, sizeof G.dev_key, "%s/dev.key.pem", G.root);
    snprintf(G.bad_cert, sizeof G.bad_cert, "%s/bad.crt.pem", G.root);
    snprintf(G.bad_key, sizeof G.bad_key, "%s/bad.key.pem", G.root);
    snprintf(G.q_cert, sizeof G.q_cert, "%s/q.crt.pem", G.root);
    snprintf(G.q_key, sizeof G.q_key, "%s/q.key.pem", G.root);
    assert_int_equal(apm_proc_sh("'%s' init --dir '%s' >/dev/null 2>&1", DROTCTL_BIN, G.keys), 0);
    assert_int_equal(
        apm_proc_sh(
            "mkdir -p '%s/ref' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
            "[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":true}}' > '%s/ref/sim-v1.json'",
            G.root, G.root),
        0);
    /* The class of test 8: a FAIL quarantines; a risen tamper count FAILs (the default). */
    assert_int_equal(apm_proc_sh("printf '%%s' '{\"class\":\"sim-q\",\"components\":[{\"type\":\"APM\"}],"
                                 "\"lifecycle\":{\"allow_provisioning\":true},\"on_fail\":\"quarantine\"}' > "
                                 "'%s/ref/sim-q.json'",
                                 G.root),
                     0);
    apm_proc_provision(&G.apm, G.root, "dev1");
    apm_proc_provision(&G.apm2, G.root, "dev2");
    apm_proc_provision(&G.apmq, G.root, "devq");
    apm_proc_start(&G.apm);
    apm_proc_start(&G.apm2);
    apm_proc_start(&G.apmq);
    write_register();
    server_start(&G.srv, 60);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_kill(&G.srv);
    server_kill(&G.srv2);
    apm_proc_kill(&G.apm);
    apm_proc_kill(&G.apm2);
    apm_proc_kill(&G.apmq);
    apm_proc_rmtree(G.root);
    curl_global_cleanup();
    return 0;
}

/* ---- CBOR -------------------------------------------------------------------- */

/* An error response: status code, and its message contains `want`. */
static void expect_error(const resp *r, long code, const char *want)
{
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, code);
    item it[16];
    srv_decode(r, it);
    assert_true(it[1].present && it[1].is_uint);
    assert_true(it[2].present && !it[2].is_uint);
    char msg[512];
    snprintf(msg, sizeof msg, "%.*s", (int)it[2].n, (const char *)it[2].p);
    if (strstr(msg, want) == NULL)
        fail_msg("error message \"%s\" lacks \"%s\"", msg, want);
}

/* ---- steps -------------------------------------------------------------------- */

/* A challenge for id on c; exp (may be NULL) receives the exporter of the
 * connection that carried it. */
static void get_challenge(CURL *c, unsigned port, const uint8_t id[16], uint8_t ch[32], uint8_t *exp)
{
    uint8_t b[64];
    resp *r = calloc(1, sizeof *r);
    r->want_exporter = exp != NULL;
    size_t n = srv_body_map(b, sizeof b, 1, 1, 0, (const void *)id, (size_t)16);
    srv_request(c, port, "/v1/device/challenge", b, n, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    assert_int_equal(it[1].n, 32);
    memcpy(ch, it[1].p, 32);
    /* expires_at is the server's issue time + TTL, in whole seconds. With the
     * 1 s TTL of the expiry test, a loaded machine can see it already past by
     * the time this line runs, so only a stale or absurd value fails. */
    assert_true(it[2].is_uint && it[2].u + 5 >= (uint64_t)time(NULL) &&
                it[2].u <= (uint64_t)time(NULL) + 3600);
    if (exp != NULL) {
        assert_true(r->have_exporter);
        memcpy(exp, r->exporter, 32);
    }
    free(r);
}

/* A token from device p's APM for (challenge, exporter) into G.last_token. */
static void token_from(apm_proc *p, const uint8_t ch[32], const uint8_t exp[32])
{
    assert_int_equal(dh_attest(apm_proc_driver(p), ch, exp, DROT_LINK_PROFILE_DROT, G.last_token,
                               sizeof G.last_token, &G.last_token_len),
                     DH_OK);
}

static void token_for(const uint8_t ch[32], const uint8_t exp[32])
{
    token_from(&G.apm, ch, exp);
}

static void attest(CURL *c, unsigned port, const uint8_t ch[32], resp *r)
{
    uint8_t b[8192];
    size_t n = srv_body_map(b, sizeof b, 2, 1, 0, (const void *)ch, (size_t)32, 2, 0,
                            (const void *)G.last_token, G.last_token_len);
    srv_request(c, port, "/v1/device/attest", b, n, r);
}

static void db_device_of(const uint8_t id[16], ds_device *d)
{
    ds_store *st = NULL;
    char err[200];
    assert_int_equal(ds_store_open(G.db, &st, err, sizeof err), DS_OK);
    assert_int_equal(ds_device_get(st, id, d), DS_OK);
    ds_store_close(st);
}

static void db_device(ds_device *d)
{
    db_device_of(G.apm.device_id, d);
}

static int newest_cb(const ds_attestation *a, void *ctx)
{
    *(ds_attestation *)ctx = *a;
    ((ds_attestation *)ctx)->reasons = NULL; /* valid only during the call */
    ((ds_attestation *)ctx)->token = NULL;
    return 1;
}

/* The device's newest attestation record. */
static ds_attestation db_newest(const uint8_t id[16])
{
    ds_store *st = NULL;
    char err[200];
    ds_attestation a;
    memset(&a, 0, sizeof a);
    assert_int_equal(ds_store_open(G.db, &st, err, sizeof err), DS_OK);
    assert_int_equal(ds_attestation_list(st, id, 1, newest_cb, &a), DS_OK);
    ds_store_close(st);
    assert_true(a.id > 0);
    return a;
}

/* A P-256 key (written to key_path) and a PEM CSR for it. */
static size_t make_csr_key(char *out, size_t cap, const char *key_path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    FILE *f = fopen(key_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_REQ *req = X509_REQ_new();
    assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
    assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    assert_true(n > 0 && (size_t)n < cap);
    memcpy(out, p, (size_t)n);
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return (size_t)n;
}

static size_t make_csr(char *out, size_t cap)
{
    return make_csr_key(out, cap, G.dev_key);
}

/* One attestation of device p on a new mTLS connection (cert, key):
 * challenge and token on that one connection; r receives the 200 answer. */
static void attest_device(apm_proc *p, const char *cert, const char *key, resp *r, item it[16])
{
    CURL *c = srv_client(G.ca, cert, key, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, p->device_id, ch, exp);
    token_from(p, ch, exp);
    attest(c, G.srv.port, ch, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->connects, 0);
    assert_int_equal(r->code, 200);
    srv_decode(r, it);
    curl_easy_cleanup(c);
}

static void expect_in(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_enroll(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, G.apm.device_id, ch, exp);
    token_for(ch, exp);
    char csr[2048];
    size_t csr_len = make_csr(csr, sizeof csr);
    uint8_t b[8192];
    size_t n = srv_body_map(b, sizeof b, 4, 1, 0, (const void *)G.apm.device_id, (size_t)16, 2, 0,
                            (const void *)ch, (size_t)32, 3, 0, (const void *)G.last_token, G.last_token_len,
                            4, 1, (const void *)csr, csr_len);
    resp *r = calloc(1, sizeof *r);
    srv_request(c, G.srv.port, "/v1/device/enroll", b, n, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->connects, 0); /* the token travelled on the exporter's connection */
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    assert_true(it[1].n > 0 && it[2].n > 0);
    assert_true(it[3].is_uint && (it[3].u == 1 || it[3].u == 2));
    assert_true(it[4].is_uint && it[4].u > 0);
    FILE *f = fopen(G.dev_cert, "w");
    assert_non_null(f);
    fwrite(it[1].p, 1, it[1].n, f);
    fclose(f);
    BIO *bio = BIO_new_mem_buf(it[1].p, (int)it[1].n);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(cert);
    char cn[64], want[33];
    assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn),
                     32);
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", G.apm.device_id[i]);
    assert_string_equal(cn, want);
    X509_free(cert);
    BIO_free(bio);
    ds_device d;
    db_device(&d);
    assert_int_equal(d.status, DS_DEV_ACTIVE);
    assert_int_equal(d.attest_count, 1);
    free(r);
    curl_easy_cleanup(c);
}

static void test_attest(void **state)
{
    (void)state;
    ds_device before, after;
    db_device(&before);
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, G.apm.device_id, ch, exp);
    token_for(ch, exp);
    resp *r = calloc(1, sizeof *r);
    attest(c, G.srv.port, ch, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->connects, 0);
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    /* WARN: the simulated device reports lifecycle "provisioned" (no deploy
     * step in drot-apm), which the reference allows with a warning. */
    assert_int_equal(it[1].u, 2);
    assert_non_null(strstr(it[2].joined, "lifecycle"));
    assert_true(it[3].is_uint && it[3].u > 0);
    db_device(&after);
    assert_int_equal(after.attest_count, before.attest_count + 1);
    assert_int_equal(after.last_result, DS_RESULT_WARN);
    free(r);
    curl_easy_cleanup(c);
}

static void test_replayed_token(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    uint8_t ch[32];
    get_challenge(c, G.srv.port, G.apm.device_id, ch, NULL);
    resp *r = calloc(1, sizeof *r);
    attest(c, G.srv.port, ch, r); /* G.last_token: made for the previous challenge */
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    assert_int_equal(it[1].u, 3);
    assert_non_null(strstr(it[2].joined, "nonce"));
    ds_device d;
    db_device(&d);
    assert_int_equal(d.last_result, DS_RESULT_FAIL);
    free(r);
    curl_easy_cleanup(c);
}

static void test_reused_challenge(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, G.apm.device_id, ch, exp);
    token_for(ch, exp);
    resp *r = calloc(1, sizeof *r);
    attest(c, G.srv.port, ch, r);
    assert_int_equal(r->code, 200);
    attest(c, G.srv.port, ch, r);
    expect_error(r, 403, "already used");
    free(r);
    curl_easy_cleanup(c);
}

static void test_other_connection(void **state)
{
    (void)state;
    CURL *a = srv_client(G.ca, G.dev_cert, G.dev_key, false),
         *b = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    uint8_t ch[32], exp[32];
    get_challenge(a, G.srv.port, G.apm.device_id, ch, exp);
    token_for(ch, exp);
    resp *r = calloc(1, sizeof *r);
    attest(b, G.srv.port, ch, r);
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    assert_int_equal(it[1].u, 3);
    assert_non_null(strstr(it[2].joined, "nonce"));
    free(r);
    curl_easy_cleanup(a);
    curl_easy_cleanup(b);
}

static void test_other_device_token(void **state)
{
    (void)state;
    ds_device a0, b0, a1, b1;
    db_device(&a0);
    db_device_of(G.apm2.device_id, &b0);
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false); /* device A's certificate */
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, G.apm.device_id, ch, exp);
    token_from(&G.apm2, ch, exp); /* device B's APM signs it, for this very connection */

    /* It is a genuine token with the right nonce: only the key is wrong. */
    drot_cose_sign1_view view;
    drot_eat_claims claims;
    drot_p256_pub b_pub;
    uint8_t cat[64], nonce[32];
    memcpy(b_pub.q, G.apm2.drk_pub, sizeof b_pub.q);
    assert_int_equal(drot_cose_sign1_verify_msg(G.last_token, G.last_token_len, &b_pub, NULL, 0, &view),
                     DROT_OK);
    assert_int_equal(drot_eat_decode(view.payload, view.payload_len, &claims), DROT_OK);
    memcpy(cat, ch, 32);
    memcpy(cat + 32, exp, 32);
    assert_int_equal(drot_sha256(cat, sizeof cat, nonce), DROT_OK);
    assert_int_equal(claims.nonce.len, 32);
    assert_memory_equal(claims.nonce.p, nonce, 32);

    resp *r = calloc(1, sizeof *r);
    attest(c, G.srv.port, ch, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->connects, 0);
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    assert_int_equal(it[1].u, 3);
    expect_in(it[2].joined, "key: signed by a key that is not this device's current key");
    curl_easy_cleanup(c);

    db_device(&a1);
    db_device_of(G.apm2.device_id, &b1);
    assert_int_equal(a1.attest_count, a0.attest_count + 1);
    assert_int_equal(a1.last_result, DS_RESULT_FAIL);
    assert_int_equal(db_newest(G.apm.device_id).result, DS_RESULT_FAIL);
    assert_int_equal(a1.tamper_count, a0.tamper_count); /* not A's evidence: no new baseline */
    assert_int_equal(b1.attest_count, b0.attest_count); /* nothing recorded for B */
    assert_int_equal(b1.last_result, DS_RESULT_NONE);
    assert_int_equal(b1.status, DS_DEV_REGISTERED);

    /* the server keeps serving: A's own token passes (WARN: provisioning lifecycle) */
    attest_device(&G.apm, G.dev_cert, G.dev_key, r, it);
    assert_int_equal(it[1].u, 2);
    assert_null(strstr(it[2].joined, "key:"));
    free(r);
}

static void test_altered_claims(void **state)
{
    (void)state;
    ds_device a0, a1;
    db_device(&a0);
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, G.apm.device_id, ch, exp);
    token_for(ch, exp);
    drot_cose_sign1_view view;
    assert_int_equal(drot_cose_sign1_decode(G.last_token, G.last_token_len, &view), DROT_OK);
    size_t at = (size_t)(view.payload - G.last_token) + view.payload_len / 2;
    G.last_token[at] ^= 0x01; /* one byte of the signed claims */
    resp *r = calloc(1, sizeof *r);
    attest(c, G.srv.port, ch, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 200);
    item it[16];
    srv_decode(r, it);
    assert_int_equal(it[1].u, 3);
    char want[160], hexid[33];
    for (int i = 0; i < 16; i++)
        snprintf(hexid + 2 * i, 3, "%02x", G.apm.device_id[i]);
    snprintf(want, sizeof want, "signature: signature does not verify under the registered key of device %s",
             hexid);
    expect_in(it[2].joined, want);
    curl_easy_cleanup(c);
    db_device(&a1);
    assert_int_equal(a1.attest_count, a0.attest_count + 1);
    assert_int_equal(a1.last_result, DS_RESULT_FAIL);
    assert_int_equal(db_newest(G.apm.device_id).result, DS_RESULT_FAIL);
    assert_int_equal(a1.status, DS_DEV_ACTIVE);

    attest_device(&G.apm, G.dev_cert, G.dev_key, r, it);
    assert_int_equal(it[1].u, 2);
    assert_null(strstr(it[2].joined, "signature:"));
    free(r);
}

/* The value of one metric line "NAME VALUE" in /metrics. */
static unsigned long long metric(const char *name)
{
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    resp *r = calloc(1, sizeof *r);
    srv_request(c, G.srv.port, "/metrics", NULL, 0, r);
    assert_int_equal(r->code, 200);
    r->body[r->len < sizeof r->body ? r->len : sizeof r->body - 1] = '\0';
    char line[128];
    snprintf(line, sizeof line, "\n%s ", name);
    const char *p = strstr((const char *)r->body, line);
    if (p == NULL)
        fail_msg("/metrics has no line %s", name);
    unsigned long long v = 0;
    assert_int_equal(sscanf(p + strlen(line), "%llu", &v), 1);
    free(r);
    curl_easy_cleanup(c);
    return v;
}

/* Enrollment of device Q with a token from signer's APM, for Q's
 * challenge on this connection; r and it receive the answer. */
static void enroll_q(apm_proc *signer, resp *r, item it[16])
{
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, G.srv.port, G.apmq.device_id, ch, exp);
    token_from(signer, ch, exp);
    char csr[2048];
    size_t csr_len = make_csr_key(csr, sizeof csr, G.q_key);
    uint8_t b[8192];
    size_t n = srv_body_map(b, sizeof b, 4, 1, 0, (const void *)G.apmq.device_id, (size_t)16, 2, 0,
                            (const void *)ch, (size_t)32, 3, 0, (const void *)G.last_token, G.last_token_len,
                            4, 1, (const void *)csr, csr_len);
    srv_request(c, G.srv.port, "/v1/device/enroll", b, n, r);
    assert_int_equal(r->rc, CURLE_OK);
    srv_decode(r, it);
    curl_easy_cleanup(c);
}

static void test_tamper_quarantine(void **state)
{
    (void)state;
    unsigned long long quarantines = metric("drot_auto_quarantines_total");
    resp *r = calloc(1, sizeof *r);
    item it[16];
    ds_device d;

    /* Anyone may call the enrollment route with any device id: a FAIL there
     * from a token that is not Q's own (device B's) quarantines nothing. */
    enroll_q(&G.apm2, r, it);
    assert_int_equal(r->code, 403);
    expect_in(it[3].joined, "key: signed by a key that is not this device's current key");
    assert_null(strstr(it[3].joined, "action:"));
    db_device_of(G.apmq.device_id, &d);
    assert_int_equal(d.status, DS_DEV_REGISTERED);
    assert_int_equal(d.last_result, DS_RESULT_FAIL);
    assert_false(d.has_tamper_count);
    assert_int_equal(metric("drot_auto_quarantines_total"), quarantines);

    enroll_q(&G.apmq, r, it);
    assert_int_equal(r->code, 200);
    FILE *f = fopen(G.q_cert, "w");
    assert_non_null(f);
    fwrite(it[1].p, 1, it[1].n, f);
    fclose(f);
    db_device_of(G.apmq.device_id, &d);
    assert_int_equal(d.status, DS_DEV_ACTIVE);
    assert_true(d.has_tamper_count);
    assert_int_equal(d.tamper_count, 0);
    attest_device(&G.apmq, G.q_cert, G.q_key, r, it);
    assert_int_equal(it[1].u, 2); /* WARN: the provisioning lifecycle only */
    assert_null(strstr(it[2].joined, "tamper"));

    /* A voltage excursion: logged, and key use locked for this boot. */
    assert_string_equal(apm_proc_control(&G.apmq, "tamper voltage 2500\n"), "ok\n");
    uint8_t ch[32] = {1}, exp[32] = {2};
    assert_int_equal(dh_attest(apm_proc_driver(&G.apmq), ch, exp, DROT_LINK_PROFILE_DROT, G.last_token,
                               sizeof G.last_token, &G.last_token_len),
                     DH_E_REFUSED);
    /* The reset: drot-apm again on the same state directory. */
    apm_proc_stop(&G.apmq);
    apm_proc_start(&G.apmq);

    attest_device(&G.apmq, G.q_cert, G.q_key, r, it);
    assert_int_equal(it[1].u, 3);
    expect_in(it[2].joined, "tamper: 1 new tamper event logged since the last attestation (count 0 -> 1)|");
    expect_in(it[2].joined, "action: device quarantined automatically (class sim-q, on_fail quarantine)|");
    db_device_of(G.apmq.device_id, &d);
    assert_int_equal(d.status, DS_DEV_QUARANTINED);
    assert_int_equal(d.last_result, DS_RESULT_FAIL);
    assert_int_equal(d.tamper_count, 1);
    expect_in(d.status_reason, "automatic quarantine (class sim-q, on_fail): tamper: 1 new tamper event");
    ds_attestation a = db_newest(G.apmq.device_id);
    assert_int_equal(a.result, DS_RESULT_FAIL);
    assert_int_equal(a.action, DS_ACTION_QUARANTINED);
    assert_int_equal(metric("drot_auto_quarantines_total"), quarantines + 1);

    /* Reported once: the next attestation is WARN (quarantined device), no
     * new action; the device stays quarantined. */
    attest_device(&G.apmq, G.q_cert, G.q_key, r, it);
    assert_int_equal(it[1].u, 2);
    expect_in(it[2].joined, "device-status: device ");
    assert_null(strstr(it[2].joined, "action:"));
    assert_null(strstr(it[2].joined, "tamper:"));
    db_device_of(G.apmq.device_id, &d);
    assert_int_equal(d.status, DS_DEV_QUARANTINED);
    assert_int_equal(db_newest(G.apmq.device_id).action, DS_ACTION_NONE);
    assert_int_equal(metric("drot_auto_quarantines_total"), quarantines + 1);
    free(r);
}

static void test_tls12_refused(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, NULL, NULL, true);
    resp *r = calloc(1, sizeof *r);
    srv_request(c, G.srv.port, "/healthz", NULL, 0, r);
    assert_int_not_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->err, "alert")); /* protocol version alert */
    free(r);
    curl_easy_cleanup(c);
}

static void test_no_client_cert(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    uint8_t ch[32] = {0};
    resp *r = calloc(1, sizeof *r);
    G.last_token_len = 8;
    attest(c, G.srv.port, ch, r);
    expect_error(r, 401, "requires a device client certificate");
    free(r);
    curl_easy_cleanup(c);
}

static void test_foreign_cert(void **state)
{
    (void)state;
    char hexid[33];
    for (int i = 0; i < 16; i++)
        snprintf(hexid + 2 * i, 3, "%02x", G.apm.device_id[i]);
    assert_int_equal(
        apm_proc_sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                    "-subj /CN=%s -keyout '%s' -out '%s' >/dev/null 2>&1",
                    hexid, G.bad_key, G.bad_cert),
        0);
    CURL *c = srv_client(G.ca, G.bad_cert, G.bad_key, false);
    uint8_t ch[32] = {0};
    resp *r = calloc(1, sizeof *r);
    attest(c, G.srv.port, ch, r);
    /* The server must never accept the foreign certificate. In TLS 1.3 the
     * client finishes its handshake before the server has checked the
     * client certificate, so the server's "unknown ca" alert surfaces at
     * whichever read curl does next: as a failed transfer (whose text
     * varies with timing: "unknown ca", "alert", a reset) or, if the
     * request got through first, as no 2xx answer. */
    CURLcode rc = r->rc;
    long code = r->code;
    char err[CURL_ERROR_SIZE];
    memcpy(err, r->err, sizeof err);
    free(r);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK) {
        assert_true(code == 401 || code == 403);
        return;
    }
    /* Any failure of the transfer is the server refusing (its wording
     * varies: "unknown ca", an alert, a reset, an empty reply), except a
     * server that was never reached or never answered: those would prove
     * nothing. The server is known to be up: the other cases use it. */
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT)
        fail_msg("the server was not reached (curl %d: %s): the refusal is not shown", (int)rc, err);
    print_message("foreign certificate refused: curl %d: %s\n", (int)rc, err);
}

static void test_unregistered(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    uint8_t id[16], b[64];
    memset(id, 0x5a, sizeof id);
    size_t n = srv_body_map(b, sizeof b, 1, 1, 0, (const void *)id, (size_t)16);
    resp *r = calloc(1, sizeof *r);
    srv_request(c, G.srv.port, "/v1/device/challenge", b, n, r);
    expect_error(r, 404, "is not registered");
    free(r);
    curl_easy_cleanup(c);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    resp *r = calloc(1, sizeof *r);
    static const uint8_t junk[] = {0xa1, 0x01, 0x5f, 0x41}; /* indefinite bstr, truncated */
    srv_request(c, G.srv.port, "/v1/device/challenge", junk, sizeof junk, r);
    expect_error(r, 400, "malformed body");
    uint8_t id[8] = {0}, b[64];
    size_t n = srv_body_map(b, sizeof b, 1, 1, 0, (const void *)id, sizeof id);
    srv_request(c, G.srv.port, "/v1/device/challenge", b, n, r);
    expect_error(r, 400, "device_id must be 16 bytes");
    static uint8_t big[20000];
    srv_request(c, G.srv.port, "/v1/device/challenge", big, sizeof big, r);
    expect_error(r, 413, "exceeds the limit");
    srv_request(c, G.srv.port, "/healthz", NULL, 0, r);
    assert_int_equal(r->code, 200);
    assert_non_null(strstr((const char *)r->body, "\"ok\""));
    srv_request(c, G.srv.port, "/metrics", NULL, 0, r);
    assert_int_equal(r->code, 200);
    assert_non_null(strstr((const char *)r->body, "route=\"/v1/device/challenge\",code=\"413\"} 1"));
    free(r);
    curl_easy_cleanup(c);
}

/* The DRoT routes' bodies: malformed, truncated, missing or unknown keys,
 * a wrong type, an unknown job, oversized, no certificate: each refused
 * with its reason, and the server keeps serving. */
static size_t rot_body(uint8_t *buf, size_t cap, bool job_as_bstr, size_t n_extra, uint64_t extra_key,
                       uint64_t extra_val)
{
    static const uint8_t ch[32], token[40], nonce[32];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, cap);
    drot_cbor_put_map(&w, 4 + n_extra);
    drot_cbor_put_uint(&w, 1);
    if (job_as_bstr)
        drot_cbor_put_bstr(&w, ch, 8);
    else
        drot_cbor_put_uint(&w, 999999);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, ch, sizeof ch);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, token, sizeof token);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_bstr(&w, nonce, sizeof nonce);
    if (n_extra > 0) {
        drot_cbor_put_uint(&w, extra_key);
        drot_cbor_put_uint(&w, extra_val);
    }
    size_t len = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &len), DROT_OK);
    return len;
}

static void test_rotation_bodies(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    resp *r = calloc(1, sizeof *r);
    uint8_t b[256];
    static const uint8_t junk[] = {0xa1, 0x01, 0x5f, 0x41}; /* indefinite bstr, truncated */
    static const char *const paths[] = {"/v1/device/rotate/begin", "/v1/device/rotate/receipt",
                                        "/v1/device/anchor/step"};
    for (size_t i = 0; i < 3; i++) {
        srv_request(c, G.srv.port, paths[i], junk, sizeof junk, r);
        expect_error(r, 400, "malformed body");
        srv_request(c, G.srv.port, paths[i], junk, 2, r); /* truncated map */
        expect_error(r, 400, "malformed body");
        static uint8_t big[20000];
        srv_request(c, G.srv.port, paths[i], big, sizeof big, r);
        expect_error(r, 413, "exceeds the limit");
    }
    size_t n = rot_body(b, sizeof b, true, 0, 0, 0);
    srv_request(c, G.srv.port, "/v1/device/rotate/begin", b, n, r);
    expect_error(r, 400, "job_id (key 1) must be an unsigned integer");
    n = rot_body(b, sizeof b, false, 1, 9, 1);
    srv_request(c, G.srv.port, "/v1/device/rotate/begin", b, n, r);
    expect_error(r, 400, "unknown key 9");
    n = rot_body(b, sizeof b, false, 0, 0, 0);
    srv_request(c, G.srv.port, "/v1/device/rotate/begin", b, n, r);
    expect_error(r, 404, "no rotation job 999999");
    srv_request(c, G.srv.port, "/v1/device/anchor/step", b, n, r);
    expect_error(r, 404, "no rotation job 999999");
    n = rot_body(b, sizeof b, false, 1, 5, 1); /* an answer's op without its slot */
    srv_request(c, G.srv.port, "/v1/device/anchor/step", b, n, r);
    expect_error(r, 400, "report the APM's answer");
    n = srv_body_map(b, sizeof b, 1, 2, 0, (const void *)junk, sizeof junk); /* receipt, no job */
    srv_request(c, G.srv.port, "/v1/device/rotate/receipt", b, n, r);
    expect_error(r, 400, "job_id (key 1) is missing");
    curl_easy_cleanup(c);
    c = srv_client(G.ca, NULL, NULL, false);
    n = rot_body(b, sizeof b, false, 0, 0, 0);
    srv_request(c, G.srv.port, "/v1/device/rotate/begin", b, n, r);
    assert_int_equal(r->code, 401);
    srv_request(c, G.srv.port, "/healthz", NULL, 0, r);
    assert_int_equal(r->code, 200);
    free(r);
    curl_easy_cleanup(c);
}

static void test_expired_challenge(void **state)
{
    (void)state;
    server *s2 = &G.srv2;
    server_start(s2, 1);
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    uint8_t ch[32], exp[32];
    get_challenge(c, s2->port, G.apm.device_id, ch, exp);
    token_for(ch, exp);
    sleep(2);
    resp *r = calloc(1, sizeof *r);
    attest(c, s2->port, ch, r);
    server_kill(s2);
    expect_error(r, 403, "challenge expired");
    free(r);
    curl_easy_cleanup(c);
}

static void test_sigterm(void **state)
{
    (void)state;
    int st = 0;
    assert_int_equal(kill(G.srv.pid, SIGTERM), 0);
    assert_int_equal(waitpid(G.srv.pid, &st, 0), G.srv.pid);
    G.srv.pid = -1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enroll),
        cmocka_unit_test(test_attest),
        cmocka_unit_test(test_replayed_token),
        cmocka_unit_test(test_reused_challenge),
        cmocka_unit_test(test_other_connection),
        cmocka_unit_test(test_other_device_token),
        cmocka_unit_test(test_altered_claims),
        cmocka_unit_test(test_tamper_quarantine),
        cmocka_unit_test(test_tls12_refused),
        cmocka_unit_test(test_no_client_cert),
        cmocka_unit_test(test_foreign_cert),
        cmocka_unit_test(test_unregistered),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_rotation_bodies),
        cmocka_unit_test(test_expired_challenge),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
