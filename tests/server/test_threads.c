/*
 * test_threads.c — drot-server --threads 4 under concurrent load
 * (docs/operations.md "Threads and shutdown"). The harness is copied from
 * test_server_e2e.c (real drotctl keys, a real drot-apm, libcurl clients
 * computing their own connection's exporter).
 *
 *   1. enroll the device once (one client)
 *   2. 8 client threads, each CYCLES times on one connection: /healthz, a
 *      challenge and an attestation (tokens from the one drot-apm are made
 *      under a mutex; the server sees the requests concurrently). Every
 *      answer is checked: 200, verdict WARN.
 *   3. /metrics: the route counters and the WARN verdicts grew by exactly
 *      the number of requests made; the database passes ds_store_check and
 *      attest_count matches.
 *   4. SIGTERM → exit status 0
 *
 * Client threads never call cmocka asserts (they longjmp): they count
 * failures and keep the first message; the main thread asserts.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <pthread.h>
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "apm_proc.h"
#include "srv_client.h"
#include "drot/cbor.h"
#include "drot/host.h"
#include "store.h"

#ifndef DROT_SERVER_BIN
#error "DROT_SERVER_BIN must name drot-server"
#endif
#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif

#define CLIENTS 8
#define CYCLES  10

typedef struct server {
    pid_t pid;
    unsigned port;
    char log[300];
} server;

static struct {
    char root[128];
    char keys[200], ca[240], db[240];
    char dev_cert[240], dev_key[240], bad_cert[240], bad_key[240];
    apm_proc apm;
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
              "--reference", ref, "--register", reg, "--challenge-ttl", ttls, "--threads", "4", (char *)NULL);
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

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    G.srv2.pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "thr");
    setenv("DROT_KEY_PASSPHRASE", "e2e test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.dev_cert, sizeof G.dev_cert, "%s/dev.crt.pem", G.root);
    snprintf(G.dev_key, sizeof G.dev_key, "%s/dev.key.pem", G.root);
    snprintf(G.bad_cert, sizeof G.bad_cert, "%s/bad.crt.pem", G.root);
    snprintf(G.bad_key, sizeof G.bad_key, "%s/bad.key.pem", G.root);
    assert_int_equal(apm_proc_sh("'%s' init --dir '%s' >/dev/null 2>&1", DROTCTL_BIN, G.keys), 0);
    assert_int_equal(
        apm_proc_sh(
            "mkdir -p '%s/ref' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
            "[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":true}}' > '%s/ref/sim-v1.json'",
            G.root, G.root),
        0);
    apm_proc_provision(&G.apm, G.root, "dev1");
    apm_proc_start(&G.apm);
    /* The identity as provision printed it, plus a class, as the register file. */
    assert_int_equal(
        apm_proc_sh("sed 's/^{/[{\"class\":\"sim-v1\",/; s/}[[:space:]]*$/}]/' '%s' | tr -d '\\n' > "
                    "'%s/register.json'",
                    G.apm.identity, G.root),
        0);
    server_start(&G.srv, 60);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_kill(&G.srv);
    server_kill(&G.srv2);
    apm_proc_kill(&G.apm);
    apm_proc_rmtree(G.root);
    curl_global_cleanup();
    return 0;
}

/* ---- CBOR -------------------------------------------------------------------- */

/* A P-256 key (written to G.dev_key) and a PEM CSR for it. */
static size_t make_csr(char *out, size_t cap)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    FILE *f = fopen(G.dev_key, "w");
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

/* ---- client threads ---------------------------------------------------------- */

static pthread_mutex_t apm_lock = PTHREAD_MUTEX_INITIALIZER; /* one drot-apm driver */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;
static char first_failure[512];

static void thr_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void thr_fail(const char *fmt, ...)
{
    pthread_mutex_lock(&fail_lock);
    if (failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_failure, sizeof first_failure, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fail_lock);
}

/* Value of key k in a CBOR response map: a uint (*u) or a bstr (*p, *n). */
static bool map_get(const resp *r, uint64_t want, uint64_t *u, const uint8_t **p, size_t *n)
{
    drot_cbor_reader rd;
    size_t cnt;
    drot_cbor_reader_init(&rd, r->body, r->len);
    if (drot_cbor_get_map(&rd, &cnt) != DROT_OK)
        return false;
    for (size_t i = 0; i < cnt; i++) {
        uint64_t k;
        drot_cbor_type t;
        if (drot_cbor_get_uint(&rd, &k) != DROT_OK || drot_cbor_peek(&rd, &t) != DROT_OK)
            return false;
        if (k == want && t == DROT_CBOR_UINT && u != NULL)
            return drot_cbor_get_uint(&rd, u) == DROT_OK;
        if (k == want && t == DROT_CBOR_BSTR && p != NULL)
            return drot_cbor_get_bstr(&rd, p, n) == DROT_OK;
        if (drot_cbor_skip(&rd) != DROT_OK)
            return false;
    }
    return false;
}

static void *client_main(void *arg)
{
    unsigned idx = (unsigned)(uintptr_t)arg;
    CURL *c = srv_client(G.ca, G.dev_cert, G.dev_key, false);
    resp *r = calloc(1, sizeof *r);
    uint8_t *tok = malloc(4096), b[8192];
    for (unsigned i = 0; r != NULL && tok != NULL && i < CYCLES; i++) {
        r->want_exporter = false;
        srv_request(c, G.srv.port, "/healthz", NULL, 0, r);
        if (r->rc != CURLE_OK || r->code != 200) {
            thr_fail("client %u cycle %u: /healthz: %ld (%s)", idx, i, r->code, r->err);
            continue;
        }
        uint8_t ch[32], exp[32];
        size_t n = srv_body_map(b, sizeof b, 1, 1, 0, (const void *)G.apm.device_id, (size_t)16);
        r->want_exporter = true;
        srv_request(c, G.srv.port, "/v1/device/challenge", b, n, r);
        const uint8_t *p = NULL;
        size_t pn = 0;
        if (r->rc != CURLE_OK || r->code != 200 || !r->have_exporter || !map_get(r, 1, NULL, &p, &pn) ||
            pn != 32) {
            thr_fail("client %u cycle %u: challenge: %ld (%s)", idx, i, r->code, r->err);
            continue;
        }
        memcpy(ch, p, 32);
        memcpy(exp, r->exporter, 32);
        size_t tok_len = 0;
        pthread_mutex_lock(&apm_lock);
        dh_status ds =
            dh_attest(apm_proc_driver(&G.apm), ch, exp, DROT_LINK_PROFILE_DROT, tok, 4096, &tok_len);
        pthread_mutex_unlock(&apm_lock);
        if (ds != DH_OK) {
            thr_fail("client %u cycle %u: dh_attest %d", idx, i, (int)ds);
            continue;
        }
        n = srv_body_map(b, sizeof b, 2, 1, 0, (const void *)ch, (size_t)32, 2, 0, (const void *)tok,
                         tok_len);
        r->want_exporter = false;
        srv_request(c, G.srv.port, "/v1/device/attest", b, n, r);
        uint64_t verdict = 0;
        if (r->rc != CURLE_OK || r->code != 200 || r->connects != 0 || !map_get(r, 1, &verdict, NULL, NULL) ||
            verdict != 2)
            thr_fail("client %u cycle %u: attest: %ld connects %ld verdict %llu (%s)", idx, i, r->code,
                     r->connects, (unsigned long long)verdict, r->err);
    }
    free(tok);
    free(r);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- metrics ------------------------------------------------------------------- */

typedef struct counts {
    unsigned long long healthz, challenge, attest, warn, other_codes;
} counts;

static unsigned long long metric_value(const char *text, const char *name)
{
    const char *l = strstr(text, name);
    return l == NULL ? 0 : strtoull(l + strlen(name), NULL, 10);
}

static void read_metrics(counts *k)
{
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    resp *r = calloc(1, sizeof *r);
    srv_request(c, G.srv.port, "/metrics", NULL, 0, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 200);
    char *t = calloc(1, r->len + 1);
    memcpy(t, r->body, r->len);
    k->healthz = metric_value(t, "drot_http_requests_total{route=\"/healthz\",code=\"200\"} ");
    k->challenge = metric_value(t, "drot_http_requests_total{route=\"/v1/device/challenge\",code=\"200\"} ");
    k->attest = metric_value(t, "drot_http_requests_total{route=\"/v1/device/attest\",code=\"200\"} ");
    k->warn = metric_value(t, "drot_attestations_total{verdict=\"WARN\"} ");
    free(t);
    free(r);
    curl_easy_cleanup(c);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_enroll(void **state)
{
    (void)state;
    CURL *c = srv_client(G.ca, NULL, NULL, false);
    resp *r = calloc(1, sizeof *r);
    uint8_t b[8192], ch[32], exp[32];
    size_t n = srv_body_map(b, sizeof b, 1, 1, 0, (const void *)G.apm.device_id, (size_t)16);
    r->want_exporter = true;
    srv_request(c, G.srv.port, "/v1/device/challenge", b, n, r);
    assert_int_equal(r->code, 200);
    assert_true(r->have_exporter);
    item it[16];
    srv_decode(r, it);
    assert_int_equal(it[1].n, 32);
    memcpy(ch, it[1].p, 32);
    memcpy(exp, r->exporter, 32);
    assert_int_equal(dh_attest(apm_proc_driver(&G.apm), ch, exp, DROT_LINK_PROFILE_DROT, G.last_token,
                               sizeof G.last_token, &G.last_token_len),
                     DH_OK);
    char csr[2048];
    size_t csr_len = make_csr(csr, sizeof csr);
    n = srv_body_map(b, sizeof b, 4, 1, 0, (const void *)G.apm.device_id, (size_t)16, 2, 0, (const void *)ch,
                     (size_t)32, 3, 0, (const void *)G.last_token, G.last_token_len, 4, 1, (const void *)csr,
                     csr_len);
    r->want_exporter = false;
    srv_request(c, G.srv.port, "/v1/device/enroll", b, n, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 200);
    srv_decode(r, it);
    assert_true(it[1].n > 0);
    FILE *f = fopen(G.dev_cert, "w");
    assert_non_null(f);
    fwrite(it[1].p, 1, it[1].n, f);
    fclose(f);
    free(r);
    curl_easy_cleanup(c);
}

static void test_concurrent(void **state)
{
    (void)state;
    counts before, after;
    read_metrics(&before);
    pthread_t t[CLIENTS];
    for (unsigned i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, client_main, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    if (failures != 0)
        fail_msg("%d failed srv_request(s); first: %s", failures, first_failure);
    read_metrics(&after);
    unsigned long long want = (unsigned long long)CLIENTS * CYCLES;
    assert_int_equal(after.healthz - before.healthz, want);
    assert_int_equal(after.challenge - before.challenge, want);
    assert_int_equal(after.attest - before.attest, want);
    assert_int_equal(after.warn - before.warn, want);
    ds_store *st = NULL;
    char err[200];
    assert_int_equal(ds_store_open(G.db, &st, err, sizeof err), DS_OK);
    if (ds_store_check(st) != DS_OK)
        fail_msg("ds_store_check: %s", ds_store_error(st));
    ds_device d;
    assert_int_equal(ds_device_get(st, G.apm.device_id, &d), DS_OK);
    assert_int_equal(d.attest_count, 1 + want);
    ds_store_close(st);
}

static void test_sigterm(void **state)
{
    (void)state;
    assert_int_equal(kill(G.srv.pid, SIGTERM), 0);
    int st = 0;
    assert_int_equal(waitpid(G.srv.pid, &st, 0), G.srv.pid);
    G.srv.pid = -1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enroll),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
