/*
 * test_admin.c — the admin API (server/src/admin.c) and drotctl's operator
 * commands, end to end with real processes: `drotctl init` keys, drot-apm
 * provisioned identities (dev1 also running, for a real token), drot-server,
 * and drotctl as the client. docs/api.md "Admin API".
 *
 * Tests run in order and share one server (group setup):
 *   1. register dev1+dev2 from NDJSON provision lines (--class), list, show
 *   2. duplicate in a batch (dev3 + dev1) → 409 naming dev1, dev3 absent
 *   3. list filters by class and status (dev3 registered as other-v1)
 *   4. transitions: quarantine → activate, revoke → decommission,
 *      decommissioned → active refused (409, "terminal")
 *   5. history: dev1 enrolls through the device routes (a real token), then
 *      `devices history` shows that attestation (WARN) and show has it last
 *   6. reference: invalid → 400 naming the field; valid → stored in the
 *      --reference dir and returned by get-reference
 *   7. auth: no client certificate → 401; device certificate → 403
 *   8. token inspect: right key + challenge/exporter → exit 0, JSON with
 *      the nonce; wrong key → exit 1 "signature"; garbage → exit 1 parse
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
#include "drot/cbor.h"
#include "drot/host.h"

#ifndef DROT_SERVER_BIN
#error "DROT_SERVER_BIN must name drot-server"
#endif
#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

static struct {
    char root[128];
    char keys[200], ca[240], db[240], ref[240], global[1200];
    char dev_cert[240], dev_key[240];
    apm_proc apm, apm2, apm3;
    char id1[33], id2[33], id3[33];
    pid_t srv;
    unsigned port;
    char log[300];
    uint8_t token[4096];
    size_t token_len;
    uint8_t ch[32], exp[32];
    char out[65536], err[8192]; /* the last drotctl's stdout and stderr */
} G;

typedef struct resp {
    CURL *handle;
    bool want_exporter;
    bool have_exporter;
    uint8_t exporter[32];
    CURLcode rc;
    long code;
    uint8_t body[65536];
    size_t len;
} resp;

/* ---- helpers ------------------------------------------------------------------ */

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void read_into(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs drotctl (global options first unless bare) with args; returns its
 * exit status and leaves stdout/stderr in G.out/G.err. */
static int ctl(bool bare, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl(bool bare, const char *fmt, ...)
{
    char args[2048], out[300], err[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s/ctl.out", G.root);
    snprintf(err, sizeof err, "%s/ctl.err", G.root);
    int st = apm_proc_sh("'%s' %s %s > '%s' 2> '%s'", DROTCTL_BIN, bare ? "" : G.global, args, out, err);
    read_into(out, G.out, sizeof G.out);
    read_into(err, G.err, sizeof G.err);
    return st;
}

static void expect_in(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

/* `devices list --json` with extra args: the number of devices, and whether
 * id is among them. */
static size_t list_count(const char *extra, const char *id, bool *has)
{
    assert_int_equal(ctl(false, "devices list --json %s", extra), 0);
    json_error_t e;
    json_t *j = json_loads(G.out, 0, &e);
    assert_non_null(j);
    json_t *arr = json_object_get(j, "devices"), *d;
    size_t i, n = json_array_size(arr);
    *has = false;
    json_array_foreach(arr, i, d)
    {
        if (id != NULL && strcmp(json_string_value(json_object_get(d, "device_id")), id) == 0)
            *has = true;
    }
    assert_int_equal((size_t)json_integer_value(json_object_get(j, "count")), n);
    json_decref(j);
    return n;
}

static const char *show_status(const char *id)
{
    static char st[32];
    assert_int_equal(ctl(false, "devices show %s --json", id), 0);
    json_t *j = json_loads(G.out, 0, NULL);
    assert_non_null(j);
    snprintf(st, sizeof st, "%s", json_string_value(json_object_get(j, "status")));
    json_decref(j);
    return st;
}

/* ---- curl (device routes and raw admin calls) ---------------------------------- */

static bool exporter_now(CURL *c, uint8_t out[32])
{
    struct curl_tlssessioninfo *ti = NULL;
    if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
        ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
        return false;
    return SSL_export_keying_material(ti->internals, out, 32, "EXPORTER-Channel-Binding", 24, NULL, 0, 0) ==
           1;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    resp *r = ctx;
    size_t len = sz * n;
    if (r->want_exporter && !r->have_exporter)
        r->have_exporter = exporter_now(r->handle, r->exporter);
    if (r->len + len > sizeof r->body)
        return 0;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    return len;
}

static CURL *client(const char *cert, const char *key)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_CAINFO, G.ca);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    if (cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    }
    return c;
}

static void request(CURL *c, const char *path, const uint8_t *body, size_t len, resp *r)
{
    char url[200];
    snprintf(url, sizeof url, "https://127.0.0.1:%u%s", G.port, path);
    bool want = r->want_exporter;
    memset(r, 0, sizeof *r);
    r->handle = c;
    r->want_exporter = want;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    struct curl_slist *h = NULL;
    if (body != NULL) {
        h = curl_slist_append(NULL, "Content-Type: application/cbor");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    }
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
}

/* ---- processes -------------------------------------------------------------- */

static void server_start(void)
{
    G.port = free_port();
    snprintf(G.log, sizeof G.log, "%s/server.log", G.root);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", G.port);
    G.srv = fork();
    assert_true(G.srv >= 0);
    if (G.srv == 0) {
        int fd = open(G.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(DROT_SERVER_BIN, DROT_SERVER_BIN, "--listen", listen, "--db", G.db, "--keys", G.keys,
              "--reference", G.ref, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        CURL *c = client(NULL, NULL);
        resp *r = calloc(1, sizeof *r);
        request(c, "/healthz", NULL, 0, r);
        bool up = r->rc == CURLE_OK && r->code == 200;
        free(r);
        curl_easy_cleanup(c);
        if (up)
            return;
        int st;
        if (waitpid(G.srv, &st, WNOHANG) == G.srv) {
            G.srv = -1;
            fail_msg("drot-server exited at start (log %s)", G.log);
        }
        usleep(50000);
    }
    fail_msg("drot-server did not answer /healthz");
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv = -1;
    G.apm.pid = G.apm2.pid = G.apm3.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "adm");
    setenv("DROT_KEY_PASSPHRASE", "admin test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    snprintf(G.dev_cert, sizeof G.dev_cert, "%s/dev.crt.pem", G.root);
    snprintf(G.dev_key, sizeof G.dev_key, "%s/dev.key.pem", G.root);
    assert_int_equal(apm_proc_sh("'%s' init --dir '%s' >/dev/null 2>&1", DROTCTL_BIN, G.keys), 0);
    assert_int_equal(
        apm_proc_sh("mkdir -p '%s' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
                    "[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":true}}' > '%s/sim-v1.json'",
                    G.ref, G.ref),
        0);
    apm_proc_provision(&G.apm, G.root, "dev1");
    apm_proc_provision(&G.apm2, G.root, "dev2");
    apm_proc_provision(&G.apm3, G.root, "dev3");
    hex(G.apm.device_id, 16, G.id1);
    hex(G.apm2.device_id, 16, G.id2);
    hex(G.apm3.device_id, 16, G.id3);
    apm_proc_start(&G.apm);
    server_start();
    snprintf(G.global, sizeof G.global,
             "--server https://127.0.0.1:%u --cert '%s/operators/admin.crt.pem' --key "
             "'%s/operators/admin.key.pem' "
             "--ca '%s'",
             G.port, G.keys, G.keys, G.ca);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (G.srv > 0) {
        kill(G.srv, SIGKILL);
        waitpid(G.srv, NULL, 0);
    }
    apm_proc_kill(&G.apm);
    apm_proc_kill(&G.apm2);
    apm_proc_kill(&G.apm3);
    apm_proc_rmtree(G.root);
    curl_global_cleanup();
    return 0;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_register_list_show(void **state)
{
    (void)state;
    /* NDJSON: the provision output lines as they are, class from --class. */
    assert_int_equal(apm_proc_sh("cat '%s' > '%s/batch.ndjson' && echo >> '%s/batch.ndjson' && cat '%s' >> "
                                 "'%s/batch.ndjson'",
                                 G.apm.identity, G.root, G.root, G.apm2.identity, G.root),
                     0);
    assert_int_equal(ctl(false, "devices register '%s/batch.ndjson' --class sim-v1", G.root), 0);
    expect_in(G.out, "registered 2 device(s)");
    bool has1, has2;
    assert_int_equal(list_count("", G.id1, &has1), 2);
    list_count("", G.id2, &has2);
    assert_true(has1 && has2);
    /* The readable table. */
    assert_int_equal(ctl(false, "devices list"), 0);
    expect_in(G.out, "DEVICE");
    expect_in(G.out, G.id1);
    expect_in(G.out, "registered");
    assert_string_equal(show_status(G.id1), "registered");
    assert_int_equal(ctl(false, "devices show %s", G.id2), 0);
    expect_in(G.out, "sim-v1");
    /* Unknown device → 404; help on every command. */
    assert_int_equal(ctl(false, "devices show 000102030405060708090a0b0c0d0e0f"), 1);
    expect_in(G.err, "HTTP 404");
    assert_int_equal(ctl(true, "devices --help"), 0);
    expect_in(G.out, "register FILE");
    assert_int_equal(ctl(true, "token --help"), 0);
    assert_int_equal(ctl(true, "class --help"), 0);
    assert_int_equal(ctl(false, "devices frobnicate %s", G.id1), 2);
}

static void test_duplicate(void **state)
{
    (void)state;
    /* A JSON array: dev3 (new), then dev1 (registered): all or nothing. */
    assert_int_equal(
        apm_proc_sh("(printf '['; sed 's/^{/{\"class\":\"other-v1\",/' '%s' | tr -d '\\n'; printf ','; "
                    "sed 's/^{/{\"class\":\"sim-v1\",/' '%s' | tr -d '\\n'; printf ']') > '%s/dup.json'",
                    G.apm3.identity, G.apm.identity, G.root),
        0);
    assert_int_equal(ctl(false, "devices register '%s/dup.json'", G.root), 1);
    expect_in(G.err, "HTTP 409");
    expect_in(G.err, G.id1);
    bool has3;
    assert_int_equal(list_count("", G.id3, &has3), 2);
    assert_false(has3);
}

static void test_filters(void **state)
{
    (void)state;
    assert_int_equal(apm_proc_sh("cp '%s' '%s/dev3.ndjson'", G.apm3.identity, G.root), 0);
    assert_int_equal(ctl(false, "devices register '%s/dev3.ndjson' --class other-v1", G.root), 0);
    bool has;
    assert_int_equal(list_count("--class other-v1", G.id3, &has), 1);
    assert_true(has);
    assert_int_equal(list_count("--class sim-v1", G.id3, &has), 2);
    assert_false(has);
    assert_int_equal(list_count("--class nosuch", NULL, &has), 0);
    assert_int_equal(list_count("--status registered", NULL, &has), 3);
    assert_int_equal(list_count("--limit 1", NULL, &has), 1);
    assert_int_equal(ctl(false, "devices quarantine %s --reason 'filter test'", G.id3), 0);
    assert_int_equal(list_count("--status quarantined", G.id3, &has), 1);
    assert_true(has);
    assert_int_equal(list_count("--status registered", G.id3, &has), 2);
    assert_false(has);
    assert_int_equal(ctl(false, "devices list --status sideways"), 1);
    expect_in(G.err, "HTTP 400");
}

static void test_transitions(void **state)
{
    (void)state;
    assert_int_equal(ctl(false, "devices quarantine %s --reason 'suspicious boot'", G.id2), 0);
    assert_string_equal(show_status(G.id2), "quarantined");
    expect_in(G.out, "suspicious boot");
    assert_int_equal(ctl(false, "devices activate %s --reason 'cleared'", G.id2), 0);
    assert_string_equal(show_status(G.id2), "active");
    assert_int_equal(ctl(false, "devices revoke %s --reason 'key leaked'", G.id2), 0);
    assert_string_equal(show_status(G.id2), "revoked");
    /* revoked → active is illegal too. */
    assert_int_equal(ctl(false, "devices activate %s --reason 'oops'", G.id2), 1);
    expect_in(G.err, "HTTP 409");
    assert_int_equal(ctl(false, "devices decommission %s --reason 'end of life'", G.id2), 0);
    assert_string_equal(show_status(G.id2), "decommissioned");
    assert_int_equal(ctl(false, "devices activate %s --reason 'back'", G.id2), 1);
    expect_in(G.err, "HTTP 409");
    expect_in(G.err, "decommissioned -> active");
    expect_in(G.err, "terminal");
    assert_string_equal(show_status(G.id2), "decommissioned");
    /* A reason is required. */
    assert_int_equal(ctl(false, "devices quarantine %s", G.id1), 2);
}

/* dev1 enrolls through the device routes (as test_server_e2e does). */
static size_t body_map4(uint8_t *buf, size_t cap, const uint8_t id[16], const uint8_t ch[32],
                        const uint8_t *tok, size_t tlen, const char *csr, size_t clen)
{
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, cap);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, id, 16);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, ch, 32);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, tok, tlen);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_tstr(&w, csr, clen);
    size_t out = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &out), DROT_OK);
    return out;
}

static void enroll_dev1(void)
{
    CURL *c = client(NULL, NULL);
    uint8_t b[8192];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, b, sizeof b);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, G.apm.device_id, 16);
    size_t n = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    resp *r = calloc(1, sizeof *r);
    r->want_exporter = true;
    request(c, "/v1/device/challenge", b, n, r);
    assert_int_equal(r->code, 200);
    assert_true(r->have_exporter);
    memcpy(G.exp, r->exporter, 32);
    drot_cbor_reader rd;
    size_t m;
    uint64_t k;
    const uint8_t *p;
    size_t pl;
    drot_cbor_reader_init(&rd, r->body, r->len);
    assert_int_equal(drot_cbor_get_map(&rd, &m), DROT_OK);
    assert_int_equal(drot_cbor_get_uint(&rd, &k), DROT_OK);
    assert_int_equal(k, 1);
    assert_int_equal(drot_cbor_get_bstr(&rd, &p, &pl), DROT_OK);
    assert_int_equal(pl, 32);
    memcpy(G.ch, p, 32);
    assert_int_equal(dh_attest(apm_proc_driver(&G.apm), G.ch, G.exp, DROT_LINK_PROFILE_DROT, G.token,
                               sizeof G.token, &G.token_len),
                     DH_OK);
    /* CSR for a fresh key. */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    FILE *f = fopen(G.dev_key, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_REQ *req = X509_REQ_new();
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
    char *csr;
    long cl = BIO_get_mem_data(bio, &csr);
    n = body_map4(b, sizeof b, G.apm.device_id, G.ch, G.token, G.token_len, csr, (size_t)cl);
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    request(c, "/v1/device/enroll", b, n, r);
    assert_int_equal(r->code, 200);
    /* Key 1 of the response is the certificate (PEM). */
    drot_cbor_reader_init(&rd, r->body, r->len);
    assert_int_equal(drot_cbor_get_map(&rd, &m), DROT_OK);
    assert_int_equal(drot_cbor_get_uint(&rd, &k), DROT_OK);
    assert_int_equal(k, 1);
    const char *pem;
    assert_int_equal(drot_cbor_get_tstr(&rd, &pem, &pl), DROT_OK);
    f = fopen(G.dev_cert, "w");
    assert_non_null(f);
    fwrite(pem, 1, pl, f);
    fclose(f);
    free(r);
    curl_easy_cleanup(c);
}

static void test_history(void **state)
{
    (void)state;
    /* Before: empty. */
    assert_int_equal(ctl(false, "devices history %s --json", G.id1), 0);
    json_t *j = json_loads(G.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "attestations")), 0);
    json_decref(j);
    enroll_dev1();
    assert_int_equal(ctl(false, "devices history %s --json", G.id1), 0);
    j = json_loads(G.out, 0, NULL);
    assert_non_null(j);
    json_t *arr = json_object_get(j, "attestations");
    assert_int_equal(json_array_size(arr), 1);
    const char *res = json_string_value(json_object_get(json_array_get(arr, 0), "result"));
    assert_non_null(res);
    assert_true(strcmp(res, "WARN") == 0 || strcmp(res, "PASS") == 0);
    json_decref(j);
    assert_int_equal(ctl(false, "devices history %s", G.id1), 0);
    expect_in(G.out, "RESULT");
    assert_int_equal(ctl(false, "devices show %s --json", G.id1), 0);
    j = json_loads(G.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "active");
    assert_true(json_is_object(json_object_get(j, "last_attestation")));
    assert_true(json_is_array(json_object_get(j, "key_history")));
    assert_int_equal(json_integer_value(json_object_get(j, "attest_count")), 1);
    json_decref(j);
}

static void test_reference(void **state)
{
    (void)state;
    assert_int_equal(apm_proc_sh("printf '%%s' '{\"class\":\"other-v1\",\"components\":[{\"type\":\"APM\","
                                 "\"digests\":[\"xyz\"]}]}' > '%s/bad.json'",
                                 G.root),
                     0);
    assert_int_equal(ctl(false, "class set-reference other-v1 '%s/bad.json'", G.root), 1);
    expect_in(G.err, "HTTP 400");
    expect_in(G.err, "/components/0/digests/0");
    assert_int_equal(ctl(false, "class get-reference other-v1"), 1);
    expect_in(G.err, "HTTP 404");
    /* The class in the document must be the one of the URL. */
    assert_int_equal(ctl(false, "class set-reference other-v2 '%s/ref/sim-v1.json'", G.root), 1);
    expect_in(G.err, "/class");
    assert_int_equal(apm_proc_sh("printf '%%s' '{\"class\":\"other-v1\",\"components\":[{\"type\":\"APM\","
                                 "\"min_svn\":3}],\"require_profile\":\"drot\"}' > '%s/good.json'",
                                 G.root),
                     0);
    assert_int_equal(ctl(false, "class set-reference other-v1 '%s/good.json'", G.root), 0);
    assert_int_equal(ctl(false, "class get-reference other-v1"), 0);
    expect_in(G.out, "\"min_svn\": 3");
    expect_in(G.out, "\"class\": \"other-v1\"");
    assert_int_equal(apm_proc_sh("grep -q min_svn '%s/other-v1.json'", G.ref), 0);
}

static void test_auth(void **state)
{
    (void)state;
    resp *r = calloc(1, sizeof *r);
    CURL *c = client(NULL, NULL);
    request(c, "/v1/admin/devices", NULL, 0, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 401);
    r->body[r->len < sizeof r->body ? r->len : sizeof r->body - 1] = 0;
    expect_in((const char *)r->body, "\"error\"");
    curl_easy_cleanup(c);
    c = client(G.dev_cert, G.dev_key);
    request(c, "/v1/admin/devices", NULL, 0, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 403);
    request(c,
            "/v1/admin/devices/"
            "00000000000000000000000000000000/status",
            (const uint8_t *)"{}", 2, r);
    assert_int_equal(r->code, 403);
    curl_easy_cleanup(c);
    free(r);
    /* drotctl with the device certificate as --cert/--key: refused. */
    assert_int_equal(
        apm_proc_sh("'%s' --server https://127.0.0.1:%u --cert '%s' --key '%s' --ca '%s' devices list "
                    ">/dev/null 2>'%s/auth.err'",
                    DROTCTL_BIN, G.port, G.dev_cert, G.dev_key, G.ca, G.root),
        1);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_token_inspect(void **state)
{
    (void)state;
    assert_true(G.token_len > 0);
    char tok[300], garbage[300], key1[131], key2[131], ch[65], ex[65], nonce[65];
    snprintf(tok, sizeof tok, "%s/token.cbor", G.root);
    snprintf(garbage, sizeof garbage, "%s/garbage.bin", G.root);
    write_file(tok, G.token, G.token_len);
    write_file(garbage, "not a token at all", 18);
    hex(G.apm.drk_pub, 65, key1);
    hex(G.apm2.drk_pub, 65, key2);
    hex(G.ch, 32, ch);
    hex(G.exp, 32, ex);
    uint8_t n[32];
    unsigned int nl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    EVP_DigestUpdate(md, G.ch, 32);
    EVP_DigestUpdate(md, G.exp, 32);
    assert_int_equal(EVP_DigestFinal_ex(md, n, &nl), 1);
    EVP_MD_CTX_free(md);
    hex(n, 32, nonce);

    assert_int_equal(ctl(true, "token inspect '%s' --key %s --challenge %s --exporter %s", tok, key1, ch, ex),
                     0);
    json_t *j = json_loads(G.out, 0, NULL);
    assert_non_null(j);
    json_t *cl = json_object_get(j, "claims");
    assert_string_equal(json_string_value(json_object_get(cl, "nonce")), nonce);
    assert_string_equal(json_string_value(json_object_get(json_object_get(cl, "drot"), "device_id")), G.id1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "checks"), "signature")), "ok");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "checks"), "nonce")), "ok");
    json_decref(j);
    /* Without a key: decode only, exit 0. */
    assert_int_equal(ctl(true, "token inspect '%s'", tok), 0);
    expect_in(G.out, nonce);
    /* Wrong key. */
    assert_int_equal(ctl(true, "token inspect '%s' --key %s", tok, key2), 1);
    expect_in(G.err, "signature");
    /* Wrong exporter: nonce binding fails. */
    assert_int_equal(ctl(true, "token inspect '%s' --key %s --challenge %s --exporter %s", tok, key1, ch, ch),
                     1);
    expect_in(G.err, "nonce");
    /* Garbage. */
    assert_int_equal(ctl(true, "token inspect '%s'", garbage), 1);
    expect_in(G.err, "not a COSE_Sign1 token");
    assert_int_equal(ctl(true, "token inspect"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_list_show),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_token_inspect),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
