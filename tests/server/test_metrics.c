/*
 * test_metrics.c — drot-server's /metrics latency histograms, its --config
 * file, and a revoked / decommissioned device refused, end to end with real
 * processes: `drotctl init` keys, a provisioned and running drot-apm,
 * drot-server started from a configuration file, libcurl as the device and
 * drotctl as the operator. docs/api.md "GET /metrics", docs/operations.md
 * "Configuration file".
 *
 * Tests run in order and share one server (group setup), started as
 * `drot-server --config FILE --listen 127.0.0.1:PORT` where FILE names the
 * keys, db, reference, register file, attest-interval = 1234 and a listen
 * address the command line overrides:
 *   1. config errors: unknown key, missing '=', bad value (listen,
 *      attest-interval), `passphrase`, missing file: exit 2 with FILE:LINE
 *      (each file otherwise complete, so an ignored line would start it)
 *   2. revoked: dev1 enrolls (attest interval 1234 from the file), attests
 *      (200, PASS or WARN), takes two challenges, is revoked through the
 *      admin API (drotctl): its attest with its still valid certificate →
 *      403 "revoked", nothing recorded; decommissioned: the same, 403
 *      "decommissioned"
 *   3. /metrics: every line valid; the histogram of each route class has
 *      the fixed buckets in order, non-decreasing, +Inf == _count > 0
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
#include <regex.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "apm_proc.h"
#include "drot/cbor.h"
#include "drot/host.h"
#include "store.h"

#ifndef DROT_SERVER_BIN
#error "DROT_SERVER_BIN must name drot-server"
#endif
#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

static struct {
    char root[128];
    char keys[200], ca[240], db[240], ref[240], reg[240], conf[240], global[1200];
    char dev_cert[240], dev_key[240];
    apm_proc apm;
    char id1[33];
    pid_t srv;
    unsigned port;
    char log[300];
    char out[65536], err[8192];
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

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_in(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

/* drotctl with the operator's global options; stdout/stderr in G.out/G.err. */
static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
    char args[2048], out[300], err[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s/ctl.out", G.root);
    snprintf(err, sizeof err, "%s/ctl.err", G.root);
    int st = apm_proc_sh("'%s' %s %s > '%s' 2> '%s'", DROTCTL_BIN, G.global, args, out, err);
    read_into(out, G.out, sizeof G.out);
    read_into(err, G.err, sizeof G.err);
    return st;
}

static uint64_t attest_count(void)
{
    ds_store *st = NULL;
    char err[200];
    ds_device d;
    assert_int_equal(ds_store_open(G.db, &st, err, sizeof err), DS_OK);
    assert_int_equal(ds_device_get(st, G.apm.device_id, &d), DS_OK);
    ds_store_close(st);
    return d.attest_count;
}

/* ---- curl ------------------------------------------------------------------------ */

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
    if (r->len + len > sizeof r->body - 1)
        return 0;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = 0;
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

/* ---- CBOR ------------------------------------------------------------------------- */

/* Response map {uint: uint | bstr | tstr | [tstr]}: value of key k. */
typedef struct item {
    bool present, is_uint;
    uint64_t u;
    const uint8_t *p;
    size_t n;
} item;

static void decode(const resp *r, item it[16])
{
    memset(it, 0, 16 * sizeof *it);
    drot_cbor_reader rd;
    size_t n;
    drot_cbor_reader_init(&rd, r->body, r->len);
    assert_int_equal(drot_cbor_get_map(&rd, &n), DROT_OK);
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        drot_cbor_type t;
        assert_int_equal(drot_cbor_get_uint(&rd, &k), DROT_OK);
        assert_true(k < 16);
        item *x = &it[k];
        x->present = true;
        assert_int_equal(drot_cbor_peek(&rd, &t), DROT_OK);
        if (t == DROT_CBOR_UINT) {
            x->is_uint = true;
            assert_int_equal(drot_cbor_get_uint(&rd, &x->u), DROT_OK);
        } else if (t == DROT_CBOR_BSTR) {
            assert_int_equal(drot_cbor_get_bstr(&rd, &x->p, &x->n), DROT_OK);
        } else if (t == DROT_CBOR_TSTR) {
            assert_int_equal(drot_cbor_get_tstr(&rd, (const char **)&x->p, &x->n), DROT_OK);
        } else {
            size_t cnt;
            assert_int_equal(drot_cbor_get_array(&rd, &cnt), DROT_OK);
            for (size_t j = 0; j < cnt; j++) {
                const char *s;
                size_t sl;
                assert_int_equal(drot_cbor_get_tstr(&rd, &s, &sl), DROT_OK);
            }
        }
    }
}

static size_t cbor_id(uint8_t *b, size_t cap, const uint8_t id[16])
{
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, b, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, id, 16);
    size_t n = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    return n;
}

/* A challenge on connection c; its exporter in exp. */
static void challenge(CURL *c, uint8_t ch[32], uint8_t exp[32])
{
    uint8_t b[64];
    size_t n = cbor_id(b, sizeof b, G.apm.device_id);
    resp *r = calloc(1, sizeof *r);
    r->want_exporter = true;
    request(c, "/v1/device/challenge", b, n, r);
    assert_int_equal(r->code, 200);
    assert_true(r->have_exporter);
    item it[16];
    decode(r, it);
    assert_int_equal(it[1].n, 32);
    memcpy(ch, it[1].p, 32);
    memcpy(exp, r->exporter, 32);
    free(r);
}

/* POST /v1/device/attest with a fresh token for (ch, exp). */
static void attest(CURL *c, const uint8_t ch[32], const uint8_t exp[32], resp *r)
{
    static uint8_t tok[4096], b[8192];
    size_t tl = 0;
    assert_int_equal(
        dh_attest(apm_proc_driver(&G.apm), ch, exp, DROT_LINK_PROFILE_DROT, tok, sizeof tok, &tl), DH_OK);
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, b, sizeof b);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, ch, 32);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, tok, tl);
    size_t n = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    request(c, "/v1/device/attest", b, n, r);
}

/* An error response: HTTP code, CBOR error code, message containing want. */
static void expect_error(const resp *r, long http, uint64_t code, const char *want)
{
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, http);
    item it[16];
    decode(r, it);
    assert_true(it[1].present && it[1].is_uint);
    assert_int_equal(it[1].u, code);
    char msg[512];
    snprintf(msg, sizeof msg, "%.*s", (int)it[2].n, (const char *)it[2].p);
    expect_in(msg, want);
}

static void enroll(void)
{
    CURL *c = client(NULL, NULL);
    uint8_t ch[32], exp[32];
    challenge(c, ch, exp);
    static uint8_t tok[4096], b[16384];
    size_t tl = 0;
    assert_int_equal(
        dh_attest(apm_proc_driver(&G.apm), ch, exp, DROT_LINK_PROFILE_DROT, tok, sizeof tok, &tl), DH_OK);
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
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, b, sizeof b);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, G.apm.device_id, 16);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, ch, 32);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, tok, tl);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_tstr(&w, csr, (size_t)cl);
    size_t n = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    resp *r = calloc(1, sizeof *r);
    request(c, "/v1/device/enroll", b, n, r);
    assert_int_equal(r->code, 200);
    item it[16];
    decode(r, it);
    assert_true(it[1].n > 0);
    /* attest-interval from the configuration file. */
    assert_true(it[4].is_uint);
    assert_int_equal(it[4].u, 1234);
    f = fopen(G.dev_cert, "w");
    assert_non_null(f);
    fwrite(it[1].p, 1, it[1].n, f);
    fclose(f);
    free(r);
    curl_easy_cleanup(c);
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
        execl(DROT_SERVER_BIN, DROT_SERVER_BIN, "--config", G.conf, "--listen", listen, (char *)NULL);
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
    G.apm.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "met");
    setenv("DROT_KEY_PASSPHRASE", "metrics test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.conf, sizeof G.conf, "%s/drot-server.conf", G.root);
    snprintf(G.dev_cert, sizeof G.dev_cert, "%s/dev.crt.pem", G.root);
    snprintf(G.dev_key, sizeof G.dev_key, "%s/dev.key.pem", G.root);
    assert_int_equal(apm_proc_sh("'%s' init --dir '%s' >/dev/null 2>&1", DROTCTL_BIN, G.keys), 0);
    assert_int_equal(
        apm_proc_sh("mkdir -p '%s' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
                    "[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":true}}' > '%s/sim-v1.json'",
                    G.ref, G.ref),
        0);
    apm_proc_provision(&G.apm, G.root, "dev1");
    hex(G.apm.device_id, 16, G.id1);
    apm_proc_start(&G.apm);
    assert_int_equal(
        apm_proc_sh("sed 's/^{/[{\"class\":\"sim-v1\",/; s/}[[:space:]]*$/}]/' '%s' | tr -d '\\n' > '%s'",
                    G.apm.identity, G.reg),
        0);
    /* listen is overridden by --listen on the command line. */
    char conf[2048];
    snprintf(conf, sizeof conf,
             "# drot-server test configuration\n"
             "\n"
             "listen = 127.0.0.1:1\n"
             "db = %s\n"
             "  keys=%s  \n"
             "reference = %s\n"
             "register = %s\n"
             "attest-interval = 1234\n",
             G.db, G.keys, G.ref, G.reg);
    write_text(G.conf, conf);
    server_start();
    snprintf(G.global, sizeof G.global,
             "--server https://127.0.0.1:%u --cert '%s/operators/admin.crt.pem' --key "
             "'%s/operators/admin.key.pem' --ca '%s'",
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
    apm_proc_rmtree(G.root);
    curl_global_cleanup();
    return 0;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *line; /* appended as line 6 */
        const char *want;
    } cases[] = {
        {"colour = blue", "unknown key 'colour'"},
        {"challenge-ttl = 5", "unknown key 'challenge-ttl'"},
        {"db sqlite:x.db", "no '='"},
        {"listen = 127.0.0.1", "listen: '127.0.0.1' is not ADDR:PORT"},
        {"attest-interval = soon", "attest-interval: 'soon'"},
        {"attest-interval = 0", "attest-interval: '0'"},
        {"reference =", "reference: empty value"},
        {"passphrase = hunter2", "passphrase-file"},
    };
    char path[300], errp[300], conf[2048], want[400], err[4096];
    snprintf(path, sizeof path, "%s/bad.conf", G.root);
    snprintf(errp, sizeof errp, "%s/bad.err", G.root);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Complete otherwise: ignoring the bad line would start the server
         * (then killed by timeout: exit 124, not 2). */
        snprintf(conf, sizeof conf,
                 "# line 1\n"
                 "listen = 127.0.0.1:%u\n"
                 "db = sqlite:%s/bad.db\n"
                 "keys = %s\n"
                 "\n"
                 "%s\n",
                 free_port(), G.root, G.keys, cases[i].line);
        write_text(path, conf);
        int st = apm_proc_sh("timeout 5 '%s' --config '%s' > /dev/null 2> '%s'", DROT_SERVER_BIN, path, errp);
        read_into(errp, err, sizeof err);
        if (st != 2)
            fail_msg("case %zu (%s): exit %d, stderr: %s", i, cases[i].line, st, err);
        snprintf(want, sizeof want, "%s:6: ", path);
        expect_in(err, want);
        expect_in(err, cases[i].want);
        if (strstr(cases[i].line, "passphrase") != NULL) {
            expect_in(err, "DROT_KEY_PASSPHRASE");
            assert_null(strstr(err, "hunter2"));
        }
    }
    /* A missing file. */
    int st = apm_proc_sh("timeout 5 '%s' --config '%s/nosuch.conf' --keys '%s' > /dev/null 2> '%s'",
                         DROT_SERVER_BIN, G.root, G.keys, errp);
    read_into(errp, err, sizeof err);
    assert_int_equal(st, 2);
    expect_in(err, "nosuch.conf");
}

static void test_revoked(void **state)
{
    (void)state;
    enroll();
    CURL *c = client(G.dev_cert, G.dev_key);
    resp *r = calloc(1, sizeof *r);
    uint8_t ch[32], exp[32], ch1[32], ch2[32], exp2[32];
    /* Active: an attestation is answered and recorded. */
    challenge(c, ch, exp);
    uint64_t before = attest_count();
    attest(c, ch, exp, r);
    assert_int_equal(r->code, 200);
    item it[16];
    decode(r, it);
    assert_true(it[1].is_uint && (it[1].u == 1 || it[1].u == 2));
    assert_int_equal(it[3].u, 1234);
    assert_int_equal(attest_count(), before + 1);
    /* Two challenges taken while still active. */
    challenge(c, ch1, exp);
    challenge(c, ch2, exp2);
    before = attest_count();

    assert_int_equal(ctl("devices revoke %s --reason 'key leaked'", G.id1), 0);
    attest(c, ch1, exp, r);
    expect_error(r, 403, 6, "revoked");
    assert_int_equal(attest_count(), before);
    /* No new challenge either. */
    uint8_t b[64];
    size_t n = cbor_id(b, sizeof b, G.apm.device_id);
    request(c, "/v1/device/challenge", b, n, r);
    expect_error(r, 403, 6, "revoked");

    assert_int_equal(ctl("devices decommission %s --reason 'end of life'", G.id1), 0);
    attest(c, ch2, exp2, r);
    expect_error(r, 403, 6, "decommissioned");
    assert_int_equal(attest_count(), before);
    assert_int_equal(ctl("devices history %s --json", G.id1), 0);
    expect_in(G.out, "\"attestations\"");
    free(r);
    curl_easy_cleanup(c);
}

static void check_class(const char *text, const char *cls)
{
    static const char *const le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                     "0.1",   "0.25",   "0.5",   "1",    "2.5",   "+Inf"};
    unsigned long long prev = 0, v = 0, count = 0;
    char line[256];
    for (size_t i = 0; i < sizeof le / sizeof le[0]; i++) {
        snprintf(line, sizeof line, "\ndrot_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} ",
                 cls, le[i]);
        const char *p = strstr(text, line);
        if (p == NULL)
            fail_msg("no bucket le=%s for route class %s", le[i], cls);
        assert_int_equal(sscanf(p + strlen(line), "%llu", &v), 1);
        assert_true(v >= prev);
        prev = v;
    }
    snprintf(line, sizeof line, "\ndrot_http_request_duration_seconds_count{route=\"%s\"} ", cls);
    const char *p = strstr(text, line);
    assert_non_null(p);
    assert_int_equal(sscanf(p + strlen(line), "%llu", &count), 1);
    assert_int_equal(count, v); /* +Inf == _count */
    assert_true(count > 0);
    snprintf(line, sizeof line, "\ndrot_http_request_duration_seconds_sum{route=\"%s\"} ", cls);
    p = strstr(text, line);
    assert_non_null(p);
    double sum = -1;
    assert_int_equal(sscanf(p + strlen(line), "%lf", &sum), 1);
    assert_true(sum >= 0 && sum < 1000);
}

static void test_metrics(void **state)
{
    (void)state;
    /* At least one request of each class: device (a challenge), admin (no
     * certificate: 401), other (healthz, a 404). */
    CURL *c = client(NULL, NULL);
    resp *r = calloc(1, sizeof *r);
    uint8_t b[64];
    size_t n = cbor_id(b, sizeof b, G.apm.device_id);
    request(c, "/v1/device/challenge", b, n, r);
    assert_int_equal(r->rc, CURLE_OK);
    request(c, "/v1/admin/devices", NULL, 0, r);
    assert_int_equal(r->code, 401);
    request(c, "/nosuch", NULL, 0, r);
    assert_int_equal(r->code, 404);
    request(c, "/metrics", NULL, 0, r);
    assert_int_equal(r->code, 200);
    char *text = calloc(1, r->len + 2);
    assert_non_null(text);
    text[0] = '\n'; /* so that every line starts after a '\n' */
    memcpy(text + 1, r->body, r->len);
    assert_true(r->len > 0 && text[r->len] == '\n');

    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[a-zA-Z_:][a-zA-Z0-9_:]*"
                             "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})?"
                             " [-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    size_t lines = 0;
    for (char *save = NULL, *l = strtok_r(text + 1, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#') {
            assert_true(strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0);
            continue;
        }
        if (regexec(&re, l, 0, NULL, 0) != 0)
            fail_msg("invalid metrics line: \"%s\"", l);
        lines++;
    }
    regfree(&re);
    assert_true(lines > 0);
    /* strtok_r cut the text: take it again. */
    memcpy(text + 1, r->body, r->len);
    expect_in(text, "# TYPE drot_http_request_duration_seconds histogram\n");
    check_class(text, "device");
    check_class(text, "admin");
    check_class(text, "other");
    expect_in(text, "drot_attestations_total{verdict=\"");
    free(text);
    free(r);
    curl_easy_cleanup(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
