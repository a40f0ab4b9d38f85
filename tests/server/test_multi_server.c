/*
 * test_multi_server.c — drot-server scaled out and crashed (docs/operations.md
 * "Several servers on one PostgreSQL"; DESIGN.md §6).
 *
 * The same harness as test_server_e2e.c (real `drotctl init` keys, a real
 * drot-apm, tokens through dh_attest, a libcurl client computing the TLS
 * exporter of its own connection), copied here so each test file stands
 * alone, plus a private PostgreSQL cluster started by the ctest fixture
 * multi_pg_start (server/multi.cmake; its URL in the file named by
 * DROT_PG_URL_FILE).
 *
 * Exporter of the connection CARRYING the token: a challenge may come from
 * any server, but the token's nonce is SHA-256(challenge ‖ exporter of the
 * connection the token is presented on). conn_open() therefore opens the
 * presenting connection with a first cheap request (/healthz) whose write
 * callback takes the exporter while the handle is attached to it; every
 * later request on that handle asserts CURLINFO_NUM_CONNECTS == 0, so a
 * silent reconnect fails the test instead of hiding.
 *
 * Group "postgres" (servers A and B on ONE database, both started with the
 * same --register file: A registers the device, B finds it there and skips
 * it — asserted from B's log):
 *   1. test_shared_registry  the device enrolls at A; both servers then
 *      issue challenges for it and both see the same attestation count.
 *   2. test_cross_server     challenge from A, token bound to a connection
 *      to B, presented at B → 200 WARN; the same challenge presented at A
 *      (new token, A's exporter) → 403 "already used". And the reverse
 *      (challenge from B, used at A, then refused at B).
 *   3. test_race             20 challenges issued at A; two threads present
 *      each one at A and at B at the same instant (barrier per challenge) →
 *      every challenge accepted exactly once across both servers:
 *      20 × 200 WARN and 20 × 403 in total, and exactly 20 new rows.
 *   4. test_crash_postgres   a third server on the same database is
 *      SIGKILLed during a burst of attestation cycles, restarted on the
 *      database (migrations idempotent), answers /healthz, accepts a fresh
 *      attestation, and ds_store_check holds; the device's attest_count
 *      equals its rows, and every answered attestation is among them.
 * Group "sqlite":
 *   5. test_crash_sqlite     the same crash test body on a SQLite file.
 *
 * Every server and the drot-apm are killed, and the temporary directory
 * removed, by the group teardowns, pass or fail; the cluster is stopped by
 * its fixture (multi_pg_stop).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
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

#define RACE_N 20

typedef struct server {
    pid_t pid;
    unsigned port;
    const char *db;
    char log[300];
} server;

static struct {
    char root[128];
    char keys[200], ca[240], reg[240], ref[240];
    char pg[512];        /* the fixture cluster's URL */
    char sqlite_db[300]; /* sqlite:ROOT/crash.db */
    char dev_cert[240], dev_key[240];
    bool enrolled;
    apm_proc apm;
    server a, b, c; /* c: the crash tests' server */
} G;

typedef struct resp {
    CURL *handle;
    bool want_exporter; /* compute exporter[] in the write callback */
    bool have_exporter;
    uint8_t exporter[32];
    CURLcode rc;
    long code;
    long connects;
    char err[CURL_ERROR_SIZE];
    uint8_t body[65536];
    size_t len;
} resp;

/* A presenting connection: one curl handle, and the exporter of the TLS
 * connection it holds (taken during its first request). */
typedef struct conn {
    CURL *c;
    unsigned port;
    uint8_t exporter[32];
} conn;

/* ---- processes ---------------------------------------------------------------- */

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The exporter (RFC 9266) of the connection c is attached to: call only
 * during a transfer. */
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

/* No cmocka assertion here: also used from client threads. */
static CURL *client(const char *cert, const char *key)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_CAINFO, G.ca);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    if (cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    }
    return c;
}

static void request(CURL *c, unsigned port, const char *path, const uint8_t *body, size_t len, resp *r)
{
    char url[200];
    snprintf(url, sizeof url, "https://127.0.0.1:%u%s", port, path);
    bool want = r->want_exporter;
    memset(r, 0, sizeof *r);
    r->handle = c;
    r->want_exporter = want;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
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
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
}

static void server_start(server *s, const char *db)
{
    s->db = db;
    s->port = free_port();
    snprintf(s->log, sizeof s->log, "%s/server-%u.log", G.root, s->port);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", s->port);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(DROT_SERVER_BIN, DROT_SERVER_BIN, "--listen", listen, "--db", db, "--keys", G.keys,
              "--reference", G.ref, "--register", G.reg, (char *)NULL);
        _exit(127);
    }
    resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < 200; i++) {
        CURL *c = client(NULL, NULL);
        assert_non_null(c);
        request(c, s->port, "/healthz", NULL, 0, r);
        bool up = r->rc == CURLE_OK && r->code == 200;
        curl_easy_cleanup(c);
        if (up) {
            free(r);
            return;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = -1;
            free(r);
            fail_msg("drot-server exited at start (log %s)", s->log);
        }
        usleep(50000);
    }
    free(r);
    fail_msg("drot-server did not answer /healthz (log %s)", s->log);
}

static void server_kill(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = -1;
}

/* Whether the server's log contains the text. */
static bool log_has(const server *s, const char *text)
{
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* ---- CBOR ---------------------------------------------------------------------- */

typedef struct item {
    bool present;
    bool is_uint;
    uint64_t u;
    const uint8_t *p;
    size_t n;
    size_t count;
    char joined[2048]; /* arrays of tstr, "|"-joined */
} item;

/* Decodes a response map {uint: uint|bstr|tstr|[tstr]}; false if malformed.
 * No assertion: also used from client threads. */
static bool decode(const uint8_t *body, size_t len, item it[16])
{
    memset(it, 0, 16 * sizeof *it);
    drot_cbor_reader rd;
    size_t n;
    drot_cbor_reader_init(&rd, body, len);
    if (drot_cbor_get_map(&rd, &n) != DROT_OK)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        drot_cbor_type t;
        if (drot_cbor_get_uint(&rd, &k) != DROT_OK || k >= 16 || drot_cbor_peek(&rd, &t) != DROT_OK)
            return false;
        item *x = &it[k];
        x->present = true;
        drot_status st;
        if (t == DROT_CBOR_UINT) {
            x->is_uint = true;
            st = drot_cbor_get_uint(&rd, &x->u);
        } else if (t == DROT_CBOR_BSTR) {
            st = drot_cbor_get_bstr(&rd, &x->p, &x->n);
        } else if (t == DROT_CBOR_TSTR) {
            st = drot_cbor_get_tstr(&rd, (const char **)&x->p, &x->n);
        } else {
            st = drot_cbor_get_array(&rd, &x->count);
            for (size_t j = 0; st == DROT_OK && j < x->count; j++) {
                const char *s;
                size_t sl;
                st = drot_cbor_get_tstr(&rd, &s, &sl);
                size_t o = strlen(x->joined);
                if (st == DROT_OK)
                    snprintf(x->joined + o, sizeof x->joined - o, "%.*s|", (int)sl, s);
            }
        }
        if (st != DROT_OK)
            return false;
    }
    return drot_cbor_reader_done(&rd) == DROT_OK;
}

/* The body of an error response contains `want`. */
static bool error_says(const uint8_t *body, size_t len, const char *want)
{
    item it[16];
    if (!decode(body, len, it) || !it[2].present || it[2].is_uint)
        return false;
    char msg[512];
    snprintf(msg, sizeof msg, "%.*s", (int)it[2].n, (const char *)it[2].p);
    return strstr(msg, want) != NULL;
}

/* The verdict (1 PASS, 2 WARN, 3 FAIL) of a 200 attest answer; 0 if none. */
static uint64_t verdict_of(const uint8_t *body, size_t len)
{
    item it[16];
    return decode(body, len, it) && it[1].is_uint ? it[1].u : 0;
}

/* {1: bstr a, 2: bstr b} (b may be NULL: {1: bstr a}). */
static size_t body_map2(uint8_t *buf, size_t cap, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, cap);
    drot_cbor_put_map(&w, b != NULL ? 2 : 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, a, an);
    if (b != NULL) {
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_bstr(&w, b, bn);
    }
    size_t out = 0;
    return drot_cbor_writer_finish(&w, &out) == DROT_OK ? out : 0;
}

/* ---- protocol steps, without assertions (thread-safe) ----------------------------- */

/* A challenge for the device on c. exp (may be NULL) receives the exporter of
 * the connection that carried it. 0 or -1. */
static int try_challenge(CURL *c, unsigned port, uint8_t ch[32], uint8_t *exp, resp *r)
{
    uint8_t b[64];
    r->want_exporter = exp != NULL;
    size_t n = body_map2(b, sizeof b, G.apm.device_id, 16, NULL, 0);
    request(c, port, "/v1/device/challenge", b, n, r);
    item it[16];
    if (r->rc != CURLE_OK || r->code != 200 || !decode(r->body, r->len, it) || it[1].n != 32)
        return -1;
    memcpy(ch, it[1].p, 32);
    if (exp != NULL) {
        if (!r->have_exporter)
            return -1;
        memcpy(exp, r->exporter, 32);
    }
    return 0;
}

static int try_token(const uint8_t ch[32], const uint8_t exp[32], uint8_t *tok, size_t cap, size_t *len)
{
    return dh_attest(apm_proc_driver(&G.apm), ch, exp, DROT_LINK_PROFILE_DROT, tok, cap, len) == DH_OK ? 0
                                                                                                       : -1;
}

static void attest(CURL *c, unsigned port, const uint8_t ch[32], const uint8_t *tok, size_t tok_len, resp *r)
{
    uint8_t b[8192];
    size_t n = body_map2(b, sizeof b, ch, 32, tok, tok_len);
    r->want_exporter = false;
    request(c, port, "/v1/device/attest", b, n, r);
}

/* ---- asserting helpers (main thread) -------------------------------------------------- */

/* A device-authenticated connection to port: /healthz first, taking the
 * connection's exporter. */
static void conn_open(conn *k, unsigned port)
{
    k->c = client(G.dev_cert, G.dev_key);
    assert_non_null(k->c);
    k->port = port;
    resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->want_exporter = true;
    request(k->c, port, "/healthz", NULL, 0, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->code, 200);
    assert_int_equal(r->connects, 1);
    assert_true(r->have_exporter);
    memcpy(k->exporter, r->exporter, 32);
    free(r);
}

static void conn_close(conn *k)
{
    curl_easy_cleanup(k->c);
    k->c = NULL;
}

static void get_challenge(unsigned port, uint8_t ch[32])
{
    CURL *c = client(NULL, NULL);
    assert_non_null(c);
    resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    int rc = try_challenge(c, port, ch, NULL, r);
    if (rc != 0)
        fail_msg("challenge from port %u: curl %d, HTTP %ld", port, (int)r->rc, r->code);
    free(r);
    curl_easy_cleanup(c);
}

/* Presents ch on k with a token bound to k's exporter: the HTTP status; the
 * verdict of a 200 must be WARN, and a refusal must say "already used". */
static long present(conn *k, const uint8_t ch[32])
{
    uint8_t tok[4096];
    size_t tok_len = 0;
    assert_int_equal(try_token(ch, k->exporter, tok, sizeof tok, &tok_len), 0);
    resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    attest(k->c, k->port, ch, tok, tok_len, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->connects, 0); /* the token travelled on the exporter's connection */
    long code = r->code;
    if (code == 200)
        assert_int_equal(verdict_of(r->body, r->len), 2); /* WARN: lifecycle "provisioned" */
    else if (code != 403 || !error_says(r->body, r->len, "already used"))
        fail_msg("attest at port %u: HTTP %ld, not 200 or 403 \"already used\"", k->port, code);
    free(r);
    return code;
}

static int count_row(const ds_attestation *att, void *ctx)
{
    (void)att;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* Opens db with the storage library: ds_store_check must hold; *count and
 * *rows receive the device's attest_count and its number of rows. */
static void db_check(const char *db, uint64_t *count, uint64_t *rows)
{
    ds_store *st = NULL;
    char err[256] = "";
    if (ds_store_open(db, &st, err, sizeof err) != DS_OK)
        fail_msg("ds_store_open %s: %s", db, err);
    ds_status s = ds_store_check(st);
    if (s != DS_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ds_store_error(st));
        ds_store_close(st);
        fail_msg("ds_store_check: %s: %s", ds_status_str(s), msg);
    }
    ds_device d;
    assert_int_equal(ds_device_get(st, G.apm.device_id, &d), DS_OK);
    *count = d.attest_count;
    *rows = 0;
    assert_int_equal(ds_attestation_list(st, G.apm.device_id, 0, count_row, rows), DS_OK);
    ds_store_close(st);
}

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

/* Enrolls the device at port: challenge and token on one connection, the
 * certificate written to G.dev_cert. */
static void enroll(unsigned port)
{
    CURL *c = client(NULL, NULL);
    assert_non_null(c);
    resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    uint8_t ch[32], exp[32], tok[4096];
    size_t tok_len = 0;
    assert_int_equal(try_challenge(c, port, ch, exp, r), 0);
    assert_int_equal(try_token(ch, exp, tok, sizeof tok, &tok_len), 0);
    char csr[2048];
    size_t csr_len = make_csr(csr, sizeof csr);
    static uint8_t b[8192];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, b, sizeof b);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, G.apm.device_id, 16);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, ch, 32);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, tok, tok_len);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_tstr(&w, csr, csr_len);
    size_t n = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    request(c, port, "/v1/device/enroll", b, n, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->connects, 0);
    assert_int_equal(r->code, 200);
    item it[16];
    assert_true(decode(r->body, r->len, it));
    assert_true(it[1].n > 0);
    FILE *f = fopen(G.dev_cert, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(it[1].p, 1, it[1].n, f), it[1].n);
    fclose(f);
    free(r);
    curl_easy_cleanup(c);
}

/* ---- groups -------------------------------------------------------------------------- */

static void common_setup(const char *tag)
{
    memset(&G, 0, sizeof G);
    G.a.pid = G.b.pid = G.c.pid = -1;
    G.apm.pid = -1;
    apm_proc_mkroot(G.root, sizeof G.root, tag);
    setenv("DROT_KEY_PASSPHRASE", "multi test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    snprintf(G.sqlite_db, sizeof G.sqlite_db, "sqlite:%s/crash.db", G.root);
    snprintf(G.dev_cert, sizeof G.dev_cert, "%s/dev.crt.pem", G.root);
    snprintf(G.dev_key, sizeof G.dev_key, "%s/dev.key.pem", G.root);
    assert_int_equal(apm_proc_sh("'%s' init --dir '%s' >/dev/null 2>&1", DROTCTL_BIN, G.keys), 0);
    assert_int_equal(
        apm_proc_sh("mkdir -p '%s' && printf '%%s' '{\"class\":\"sim-v1\",\"components\":"
                    "[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":true}}' > '%s/sim-v1.json'",
                    G.ref, G.ref),
        0);
    apm_proc_provision(&G.apm, G.root, "dev1");
    apm_proc_start(&G.apm);
    assert_int_equal(
        apm_proc_sh("sed 's/^{/[{\"class\":\"sim-v1\",/; s/}[[:space:]]*$/}]/' '%s' | tr -d '\\n' > '%s'",
                    G.apm.identity, G.reg),
        0);
}

static int teardown_all(void **state)
{
    (void)state;
    server_kill(&G.a);
    server_kill(&G.b);
    server_kill(&G.c);
    apm_proc_kill(&G.apm);
    apm_proc_rmtree(G.root);
    return 0;
}

static int setup_postgres(void **state)
{
    (void)state;
    common_setup("multi");
    const char *url_file = getenv("DROT_PG_URL_FILE");
    if (url_file == NULL)
        fail_msg("DROT_PG_URL_FILE is not set: run through ctest (fixture multi_pg_start)");
    FILE *f = fopen(url_file, "r");
    if (f == NULL)
        fail_msg("cannot read %s: is the cluster fixture running?", url_file);
    bool got = fgets(G.pg, sizeof G.pg, f) != NULL;
    fclose(f);
    assert_true(got);
    G.pg[strcspn(G.pg, "\r\n")] = '\0';
    /* A registers the device; B, started after A with the same file, finds
     * it there and skips it (main.c register_file) instead of failing. */
    server_start(&G.a, G.pg);
    server_start(&G.b, G.pg);
    assert_true(log_has(&G.b, "registered 0 new device(s)"));
    return 0;
}

static int setup_sqlite(void **state)
{
    (void)state;
    common_setup("multisq");
    return 0;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_shared_registry(void **state)
{
    (void)state;
    enroll(G.a.port);
    G.enrolled = true;
    uint64_t count, rows;
    db_check(G.pg, &count, &rows);
    assert_int_equal(count, rows);
    /* B knows the device registered and enrolled through A: it issues a
     * challenge for it and accepts an attestation with A's certificate. */
    uint8_t ch[32];
    get_challenge(G.b.port, ch);
    conn kb;
    conn_open(&kb, G.b.port);
    assert_int_equal(present(&kb, ch), 200);
    conn_close(&kb);
    uint64_t count2, rows2;
    db_check(G.pg, &count2, &rows2);
    assert_int_equal(count2, count + 1);
    assert_int_equal(rows2, count2);
}

/* Challenge from `from`, accepted at `to`, then refused at `from`. */
static void cross(server *from, server *to)
{
    uint64_t count, rows;
    db_check(G.pg, &count, &rows);
    uint8_t ch[32];
    get_challenge(from->port, ch);
    conn kt, kf;
    conn_open(&kt, to->port);
    assert_int_equal(present(&kt, ch), 200);
    conn_open(&kf, from->port);
    assert_int_equal(present(&kf, ch), 403);
    /* and once more at `to`, on the same connection */
    assert_int_equal(present(&kt, ch), 403);
    conn_close(&kt);
    conn_close(&kf);
    uint64_t count2, rows2;
    db_check(G.pg, &count2, &rows2);
    assert_int_equal(count2, count + 1);
    assert_int_equal(rows2, count2);
}

static void test_cross_server(void **state)
{
    (void)state;
    assert_true(G.enrolled);
    cross(&G.a, &G.b);
    cross(&G.b, &G.a);
}

typedef struct racer {
    conn *k;
    pthread_barrier_t *bar;
    const uint8_t (*ch)[32];
    uint8_t (*tok)[4096];
    size_t *tok_len;
    long code[RACE_N];
    long connects[RACE_N];
    uint64_t verdict[RACE_N];
    bool used[RACE_N]; /* a 403 that says "already used" */
} racer;

static void *race_thread(void *arg)
{
    racer *x = arg;
    resp *r = calloc(1, sizeof *r);
    for (int i = 0; i < RACE_N; i++) {
        pthread_barrier_wait(x->bar);
        if (r == NULL) {
            x->code[i] = -1;
            continue;
        }
        attest(x->k->c, x->k->port, x->ch[i], x->tok[i], x->tok_len[i], r);
        x->code[i] = r->rc == CURLE_OK ? r->code : -1;
        x->connects[i] = r->connects;
        x->verdict[i] = r->code == 200 ? verdict_of(r->body, r->len) : 0;
        x->used[i] = r->code == 403 && error_says(r->body, r->len, "already used");
    }
    free(r);
    return NULL;
}

static void test_race(void **state)
{
    (void)state;
    assert_true(G.enrolled);
    uint64_t count, rows;
    db_check(G.pg, &count, &rows);
    static uint8_t ch[RACE_N][32];
    for (int i = 0; i < RACE_N; i++)
        get_challenge(G.a.port, ch[i]);
    conn ka, kb;
    conn_open(&ka, G.a.port);
    conn_open(&kb, G.b.port);
    static racer ra, rb;
    static uint8_t tok_a[RACE_N][4096], tok_b[RACE_N][4096];
    static size_t len_a[RACE_N], len_b[RACE_N];
    for (int i = 0; i < RACE_N; i++) {
        assert_int_equal(try_token(ch[i], ka.exporter, tok_a[i], sizeof tok_a[i], &len_a[i]), 0);
        assert_int_equal(try_token(ch[i], kb.exporter, tok_b[i], sizeof tok_b[i], &len_b[i]), 0);
    }
    pthread_barrier_t bar;
    assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    ra = (racer){.k = &ka, .bar = &bar, .ch = (const uint8_t(*)[32])ch, .tok = tok_a, .tok_len = len_a};
    rb = (racer){.k = &kb, .bar = &bar, .ch = (const uint8_t(*)[32])ch, .tok = tok_b, .tok_len = len_b};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race_thread, &ra), 0);
    if (pthread_create(&tb, NULL, race_thread, &rb) != 0) {
        /* the first thread would wait at the barrier forever */
        pthread_cancel(ta);
        pthread_join(ta, NULL);
        fail_msg("pthread_create");
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&bar);
    conn_close(&ka);
    conn_close(&kb);
    int ok = 0, refused = 0, won_a = 0, won_b = 0;
    for (int i = 0; i < RACE_N; i++) {
        assert_int_equal(ra.connects[i], 0);
        assert_int_equal(rb.connects[i], 0);
        bool a_ok = ra.code[i] == 200, b_ok = rb.code[i] == 200;
        if (a_ok == b_ok)
            fail_msg("challenge %d: A answered %ld, B answered %ld: not exactly one acceptance", i,
                     ra.code[i], rb.code[i]);
        if (a_ok) {
            assert_int_equal(ra.verdict[i], 2);
            assert_true(rb.used[i]);
            won_a++;
        } else {
            assert_int_equal(rb.verdict[i], 2);
            assert_true(ra.used[i]);
            won_b++;
        }
        ok++;
        refused++;
    }
    assert_int_equal(ok, RACE_N);
    assert_int_equal(refused, RACE_N);
    print_message("race: %d challenges, %d accepted (A %d, B %d), %d refused as already used\n", RACE_N, ok,
                  won_a, won_b, refused);
    uint64_t count2, rows2;
    db_check(G.pg, &count2, &rows2);
    assert_int_equal(count2, count + RACE_N);
    assert_int_equal(rows2, count2);
}

/* ---- SIGKILL during a burst ---------------------------------------------------------- */

typedef struct burst {
    unsigned port;
    atomic_int stop;
    atomic_int ok;       /* attestations answered 200 WARN */
    atomic_int bad;      /* answered, but not 200 WARN: a failure */
    atomic_int connects; /* reconnections between challenge and attest */
    atomic_int finished; /* the loop ended (server gone) */
    char first_bad[256];
} burst;

/* Attestation cycles as fast as they go, on one connection, until stopped
 * or the server goes away. */
static void *burst_thread(void *arg)
{
    burst *b = arg;
    resp *r = calloc(1, sizeof *r);
    CURL *c = client(G.dev_cert, G.dev_key);
    uint8_t tok[4096];
    while (r != NULL && c != NULL && !atomic_load(&b->stop)) {
        uint8_t ch[32], exp[32];
        size_t tok_len = 0;
        if (try_challenge(c, b->port, ch, exp, r) != 0)
            break;
        if (try_token(ch, exp, tok, sizeof tok, &tok_len) != 0) {
            snprintf(b->first_bad, sizeof b->first_bad, "dh_attest failed");
            atomic_fetch_add(&b->bad, 1);
            break;
        }
        attest(c, b->port, ch, tok, tok_len, r);
        if (r->rc != CURLE_OK)
            break; /* killed in the middle */
        if (r->connects != 0)
            atomic_fetch_add(&b->connects, 1);
        if (r->code == 200 && verdict_of(r->body, r->len) == 2) {
            atomic_fetch_add(&b->ok, 1);
        } else {
            if (atomic_fetch_add(&b->bad, 1) == 0)
                snprintf(b->first_bad, sizeof b->first_bad, "HTTP %ld", r->code);
        }
    }
    curl_easy_cleanup(c);
    free(r);
    atomic_store(&b->finished, 1);
    return NULL;
}

static void crash_body(const char *db)
{
    server *s = &G.c;
    server_start(s, db);
    uint64_t count0, rows0;
    db_check(db, &count0, &rows0);
    assert_int_equal(count0, rows0);

    static burst b;
    memset(&b, 0, sizeof b);
    b.port = s->port;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, burst_thread, &b), 0);
    /* Let the burst get going (at least 5 answered, at most 5 s), keep it
     * up for another second, then SIGKILL the server mid-burst. */
    for (int i = 0; i < 500 && atomic_load(&b.ok) < 5 && !atomic_load(&b.finished); i++)
        usleep(10000);
    usleep(1000000);
    bool running_at_kill = !atomic_load(&b.finished);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
    for (int i = 0; i < 1000 && !atomic_load(&b.finished); i++)
        usleep(10000);
    atomic_store(&b.stop, 1);
    pthread_join(t, NULL);
    int ok = atomic_load(&b.ok);
    if (atomic_load(&b.bad) != 0)
        fail_msg("burst: %d bad answer(s), first: %s", atomic_load(&b.bad), b.first_bad);
    assert_int_equal(atomic_load(&b.connects), 0);
    assert_true(running_at_kill);
    assert_true(ok >= 5);

    /* Restart on the same database: migrations again, --register again. */
    server_start(s, db);
    assert_true(log_has(s, "registered 0 new device(s)"));
    uint8_t ch[32];
    get_challenge(s->port, ch);
    conn k;
    conn_open(&k, s->port);
    assert_int_equal(present(&k, ch), 200);
    conn_close(&k);

    uint64_t count1, rows1;
    db_check(db, &count1, &rows1);
    assert_int_equal(count1, rows1);
    /* Every answered attestation is stored, plus the fresh one, plus at most
     * the one in flight at the kill (committed, never answered). */
    assert_true(rows1 >= rows0 + (uint64_t)ok + 1);
    assert_true(rows1 <= rows0 + (uint64_t)ok + 2);
    print_message("crash (%s): %d attestations answered before SIGKILL, %" PRIu64
                  " new rows after the restart (with the fresh attestation); ds_store_check OK\n",
                  strncmp(db, "sqlite:", 7) == 0 ? "sqlite" : "postgres", ok, rows1 - rows0);
    server_kill(s);
}

static void test_crash_postgres(void **state)
{
    (void)state;
    assert_true(G.enrolled);
    crash_body(G.pg);
}

static void test_crash_sqlite(void **state)
{
    (void)state;
    /* The certificate comes from the device CA, not the database: enroll
     * once on this group's own server, then crash it. */
    server_start(&G.c, G.sqlite_db);
    enroll(G.c.port);
    server_kill(&G.c);
    crash_body(G.sqlite_db);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_shared_registry),
        cmocka_unit_test(test_cross_server),
        cmocka_unit_test(test_race),
        cmocka_unit_test(test_crash_postgres),
    };
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test(test_crash_sqlite),
    };
    /* teardown_all again after each group: cmocka skips a group's teardown
     * when its setup failed, and it is idempotent. */
    int failed = cmocka_run_group_tests_name("postgres", pg_tests, setup_postgres, teardown_all);
    teardown_all(NULL);
    failed += cmocka_run_group_tests_name("sqlite", sqlite_tests, setup_sqlite, teardown_all);
    teardown_all(NULL);
    curl_global_cleanup();
    return failed;
}
