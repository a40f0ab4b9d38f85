/*
 * test_fw_e2e.c — firmware publishing, distribution and rollouts end to end
 * with real processes (docs/firmware.md): drotctl init keys, five drot-apm
 * devices deployed with the server's authority as anchor, each host
 * measuring its OS image (HOST-OS 1.0) at boot, drot-server on SQLite over
 * TLS 1.3, drot-agent enrolling, attesting and fetching, drotctl publishing
 * and rolling out. Classes: fw-a (devices 0, 1) and fw-b (devices 2, 3, 4).
 *
 *   1. publish: a 3 MiB image in chunks with progress; the same again
 *      (idempotent); the same version with other content refused; an image
 *      changed after signing refused before anything is sent; a manifest
 *      signed by an unknown authority refused by the server; garbage
 *      refused by drotctl and, sent raw, by the server; chunks whose bytes
 *      do not hash to their address discarded by the server
 *   2. ranged download with the device's certificate: whole, a range, an
 *      open range, a suffix, several ranges (the whole image), beyond the
 *      end (416); no certificate, the operator's certificate, another
 *      device without a job for it, an unknown image, a malformed path:
 *      refused
 *   3. drot-agent fw fetch killed in the middle of the body, then run
 *      again: it resumes from the partial file (a 206 from its length) and
 *      the SHA-256 checks; the same with the connection cut mid-body (a TCP
 *      relay that closes it after 1 MB); a partial file with wrong bytes is
 *      discarded at the end and the next fetch starts over
 *   4. a rollout over three devices with max_in_flight 2: never more than
 *      two offered or installed (observed through the admin API after every
 *      attestation); a confirmation before the device attests on the new
 *      image is refused; a failure frees a slot; a quarantined device is
 *      offered nothing; a device that fetched, "rebooted" into the new OS
 *      (the APM restarted, the host measuring HOST-OS 1.1) and attested
 *      PASS is confirmed
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "apm_proc.h"
#include "drot_crypto.h"
#include "e2e_proc.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

#define NDEV   5
#define BIG    (3u * 1024u * 1024u + 12345u) /* HOST-OS 1.1: several chunks, not a multiple */
#define PASS   "firmware e2e test passphrase"
#define SIGNER "5151515151515151515151515151515151515151515151515151515151515151"
#define jint   e2e_jint
#define jtext  e2e_jtext

static struct {
    char root[128], keys[200], ca[240], db[240], ref[240], reg[240];
    char os10[240], os11[240], os11b[240], man11[240];
    char digest11[65];
    e2e_server srv;
    apm_proc dev[NDEV];
    char storage[NDEV][240], devid[NDEV][33];
    pid_t bg;    /* a background drot-agent (test 3), killed in teardown */
    pid_t relay; /* the cutting relay (test 3), killed in teardown */
    e2e_out o;
} G;

/* ---- helpers ------------------------------------------------------------------------------ */

static json_t *admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *admin(const char *fmt, ...)
{
    char args[1500];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_drotctl(&G.o, G.root, G.srv.url, G.keys, G.ca, args);
}

/* drotctl with the operator's options, for commands that print text; 0 on success. */
static int admin_text(const char *args)
{
    return e2e_run(
        &G.o, G.root,
        "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
        "--ca '%s' %s",
        DROTCTL_BIN, G.srv.url, G.keys, G.keys, G.ca, args);
}

/* drot-agent on device k: global options, then the command and its args. */
static int agent(int k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agent(int k, const char *fmt, ...)
{
    char args[1200];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return e2e_run(&G.o, G.root, "'%s' --socket '%s' --link-key '%s' %s", DROT_AGENT_BIN, G.dev[k].sock,
                   G.dev[k].key, args);
}

/* The server options every networked agent command takes, for device k. */
static const char *srvopts(int k)
{
    static char s[800];
    snprintf(s, sizeof s, "--server '%s' --ca '%s' --storage '%s'", G.srv.url, G.ca, G.storage[k]);
    return s;
}

/* attest-once --json on device k; the answer (caller frees). */
static json_t *attest(int k)
{
    int rc = agent(k, "attest-once %s --json", srvopts(k));
    json_t *j = json_loads(G.o.out, 0, NULL);
    if (j == NULL)
        fail_msg("attest-once on device %d: exit %d, %s %s", k, rc, G.o.out, G.o.err);
    return j;
}

static void expect_pass(int k)
{
    json_t *j = attest(k);
    if (strcmp(jtext(j, "verdict"), "PASS") != 0)
        fail_msg("device %d: expected PASS: %s %s", k, G.o.out, G.o.err);
    json_decref(j);
}

/* The host's boot: measures its OS image into the APM. */
static void measure(int k, const char *image, const char *version)
{
    if (agent(k, "measure --type HOST-OS --version %s --signer %s '%s'", version, SIGNER, image) != 0)
        fail_msg("measure on device %d: %s", k, G.o.err);
}

/* A power cycle of device k whose host then boots image. */
static void reboot(int k, const char *image, const char *version)
{
    apm_proc_kill(&G.dev[k]);
    apm_proc_start(&G.dev[k]);
    measure(k, image, version);
}

static void write_image(const char *path, uint32_t seed, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = seed;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    assert_int_equal(fclose(f), 0);
}

static void file_sha256(const char *path, char hex[65])
{
    char *p = e2e_slurp(path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    uint8_t d[32];
    assert_int_equal(drot_sha256(p, (size_t)st.st_size, d), DROT_OK);
    free(p);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* ---- raw HTTPS (the admin API and the device routes, not through our clients) ----------------- */

typedef struct body {
    char *p;
    size_t n;
} body;

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    body *b = ctx;
    char *q = realloc(b->p, b->n + sz * n + 1);
    assert_non_null(q);
    memcpy(q + b->n, p, sz * n);
    b->p = q;
    b->n += sz * n;
    b->p[b->n] = '\0';
    return sz * n;
}

typedef struct raw {
    long http;
    body b;
    char content_range[128];
} raw;

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
    raw *r = ctx;
    size_t len = sz * n;
    if (len > 15 && strncasecmp(p, "Content-Range: ", 15) == 0) {
        snprintf(r->content_range, sizeof r->content_range, "%.*s", (int)(len - 15), p + 15);
        r->content_range[strcspn(r->content_range, "\r\n")] = '\0';
    }
    return len;
}

/* One request: cert/key files (key encrypted with PASS when pass), or none. */
static raw request(const char *method, const char *path, const char *json, const char *cert, const char *key,
                   bool pass, const char *range)
{
    raw r;
    memset(&r, 0, sizeof r);
    char url[400];
    snprintf(url, sizeof url, "%s%s", G.srv.url, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, G.ca);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    if (cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
        if (pass)
            curl_easy_setopt(c, CURLOPT_KEYPASSWD, PASS);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (json != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    if (range != NULL)
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.http);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        r.http = -(long)rc; /* a handshake refused, say */
    return r;
}

static raw admin_raw(const char *method, const char *path, const char *json)
{
    char cert[260], key[260];
    snprintf(cert, sizeof cert, "%s/operators/admin.crt.pem", G.keys);
    snprintf(key, sizeof key, "%s/operators/admin.key.pem", G.keys);
    return request(method, path, json, cert, key, true, NULL);
}

/* GET an image as device k (its TLS key and certificate unsealed to files). */
static raw device_get(int k, const char *digest_hex, const char *range)
{
    char cert[300], key[300], path[200];
    snprintf(cert, sizeof cert, "%s/dev%d-cert.pem", G.root, k);
    snprintf(key, sizeof key, "%s/dev%d-key.pem", G.root, k);
    if (file_size(cert) <= 0 &&
        (agent(k, "unseal --storage '%s' --label tls-cert.pem --out '%s'", G.storage[k], cert) != 0 ||
         agent(k, "unseal --storage '%s' --label tls-key.pem --out '%s'", G.storage[k], key) != 0))
        fail_msg("unseal on device %d: %s", k, G.o.err);
    snprintf(path, sizeof path, "/v1/device/firmware/%s", digest_hex);
    return request("GET", path, NULL, cert, key, false, range);
}

static void raw_free(raw *r)
{
    free(r->b.p);
    r->b.p = NULL;
}

/* ---- setup ---------------------------------------------------------------------------------- */

/* drot-server on the test's database and port (again after a kill). */
static void server_start(void)
{
    const char *args[] = {
        "--db", G.db, "--keys", G.keys, "--reference", G.ref, "--register", G.reg, "--attest-interval",
        "1",    NULL};
    e2e_server_start(&G.srv, G.ca, args);
}

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    G.bg = -1;
    G.relay = -1;
    for (int k = 0; k < NDEV; k++)
        G.dev[k].pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "fw");
    setenv("DROT_KEY_PASSPHRASE", PASS, 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.db, sizeof G.db, "sqlite:%s/drot.db", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    snprintf(G.os10, sizeof G.os10, "%s/os-1.0.bin", G.root);
    snprintf(G.os11, sizeof G.os11, "%s/os-1.1.bin", G.root);
    snprintf(G.os11b, sizeof G.os11b, "%s/os-1.1-other.bin", G.root);
    snprintf(G.man11, sizeof G.man11, "%s/os-1.1.cose", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    json_t *init = json_loads(G.o.out, 0, NULL);
    assert_non_null(init);
    char anchor[65];
    snprintf(anchor, sizeof anchor, "%s", jtext(init, "authority_anchor"));
    json_decref(init);
    assert_int_equal(
        apm_proc_sh("mkdir -p '%s' && for c in fw-a fw-b; do printf '{\"class\":\"%%s\","
                    "\"components\":[{\"type\":\"APM\"},{\"type\":\"HOST-OS\"}]}' $c > '%s/'$c.json; "
                    "done",
                    G.ref, G.ref),
        0);
    write_image(G.os10, 10, 4096);
    write_image(G.os11, 11, BIG);
    write_image(G.os11b, 12, 5000);
    file_sha256(G.os11, G.digest11);
    FILE *reg = fopen(G.reg, "w");
    assert_non_null(reg);
    fputc('[', reg);
    for (int k = 0; k < NDEV; k++) {
        char name[16], extra[100];
        snprintf(name, sizeof name, "dev%d", k);
        snprintf(extra, sizeof extra, "--anchor %s", anchor);
        apm_proc_provision_ex(&G.dev[k], G.root, name, extra);
        assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, G.dev[k].state), 0);
        apm_proc_start(&G.dev[k]);
        measure(k, G.os10, "1.0");
        for (size_t i = 0; i < 16; i++)
            snprintf(G.devid[k] + 2 * i, 3, "%02x", G.dev[k].device_id[i]);
        char *ident = e2e_slurp(G.dev[k].identity);
        char *brace = strchr(ident, '{');
        assert_non_null(brace);
        fprintf(reg, "%s{\"class\":\"%s\",%s", k ? "," : "", k < 2 ? "fw-a" : "fw-b", brace + 1);
        free(ident);
        snprintf(G.storage[k], sizeof G.storage[k], "%s/storage%d", G.root, k);
    }
    fputc(']', reg);
    assert_int_equal(fclose(reg), 0);
    server_start();
    for (int k = 0; k < NDEV; k++)
        if (agent(k, "enroll %s", srvopts(k)) != 0)
            fail_msg("enroll of device %d failed: %s", k, G.o.err);
    if (e2e_run(&G.o, G.root,
                "'%s' firmware sign --dir '%s' --component HOST-OS --version 1.1 --svn 1 --out '%s' '%s'",
                DROTCTL_BIN, G.keys, G.man11, G.os11) != 0)
        fail_msg("sign failed: %s", G.o.err);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pid_t *kids[] = {&G.bg, &G.relay};
    for (size_t i = 0; i < 2; i++)
        if (*kids[i] > 0) {
            kill(*kids[i], SIGKILL);
            waitpid(*kids[i], NULL, 0);
        }
    e2e_server_kill(&G.srv);
    for (int k = 0; k < NDEV; k++)
        apm_proc_kill(&G.dev[k]);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static long long releases(void)
{
    json_t *j = admin("firmware list --json");
    assert_non_null(j);
    long long n = jint(j, "count");
    json_decref(j);
    return n;
}

/* Test 1. */
static void test_publish(void **state)
{
    (void)state;
    json_t *j = admin("firmware publish '%s' '%s' --json", G.man11, G.os11);
    if (j == NULL)
        fail_msg("publish failed: %s", G.o.err);
    assert_true(json_is_true(json_object_get(j, "created")));
    assert_string_equal(jtext(j, "image_digest"), G.digest11);
    assert_int_equal(jint(j, "size"), BIG);
    assert_string_equal(jtext(j, "signer_key"), "authority");
    assert_string_equal(jtext(j, "published_by"), "operator:admin");
    assert_int_equal(jint(j, "chunks_sent"), 13);
    json_decref(j);
    assert_non_null(strstr(G.o.err, "13/13 chunks")); /* progress on stderr */
    /* again: nothing to upload, nothing new */
    j = admin("firmware publish '%s' '%s' --json", G.man11, G.os11);
    assert_non_null(j);
    assert_false(json_is_true(json_object_get(j, "created")));
    assert_int_equal(jint(j, "chunks_sent"), 1); /* the probe */
    json_decref(j);
    assert_int_equal(releases(), 1);

    /* the same version with other content */
    char other[300];
    snprintf(other, sizeof other, "%s/other-1.1.cose", G.root);
    assert_int_equal(
        e2e_run(&G.o, G.root,
                "'%s' firmware sign --dir '%s' --component HOST-OS --version 1.1 --svn 1 --out '%s' '%s'",
                DROTCTL_BIN, G.keys, other, G.os11b),
        0);
    assert_null(admin("firmware publish '%s' '%s'", other, G.os11b));
    assert_non_null(strstr(G.o.err, "already published with other content"));
    assert_non_null(strstr(G.o.err, "HTTP 409"));

    /* an image changed after signing: refused before anything is sent */
    char tampered[300];
    snprintf(tampered, sizeof tampered, "%s/tampered.bin", G.root);
    assert_int_equal(
        apm_proc_sh("cp '%s' '%s' && printf X | dd of='%s' bs=1 seek=1000 conv=notrunc 2>/dev/null", G.os11,
                    tampered, tampered),
        0);
    char tampered_hex[65];
    file_sha256(tampered, tampered_hex);
    assert_null(admin("firmware publish '%s' '%s'", G.man11, tampered));
    assert_non_null(strstr(G.o.err, "does not match"));
    assert_non_null(strstr(G.o.err, "nothing was sent"));
    char p[200];
    snprintf(p, sizeof p, "/v1/admin/firmware/images/%s", tampered_hex);
    raw r = admin_raw("GET", p, NULL);
    assert_int_equal(r.http, 404);
    raw_free(&r);

    /* a manifest signed by another fleet's authority */
    char keys2[260], man2[300];
    snprintf(keys2, sizeof keys2, "%s/keys2", G.root);
    snprintf(man2, sizeof man2, "%s/foreign.cose", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s'", DROTCTL_BIN, keys2), 0);
    assert_int_equal(
        e2e_run(&G.o, G.root,
                "'%s' firmware sign --dir '%s' --component HOST-OS --version 6.6 --svn 1 --out '%s' '%s'",
                DROTCTL_BIN, keys2, man2, G.os11b),
        0);
    assert_null(admin("firmware publish '%s' '%s'", man2, G.os11b));
    assert_non_null(strstr(G.o.err, "not signed by an authority key of this server"));
    assert_non_null(strstr(G.o.err, "HTTP 400"));

    /* garbage: drotctl refuses it; sent raw, the server does */
    char junk[300];
    snprintf(junk, sizeof junk, "%s/junk.cose", G.root);
    assert_int_equal(apm_proc_sh("printf 'not a manifest' > '%s'", junk), 0);
    assert_null(admin("firmware publish '%s' '%s'", junk, G.os11b));
    assert_non_null(strstr(G.o.err, "not a signed manifest"));
    r = admin_raw("POST", "/v1/admin/firmware/releases", "{\"manifest\":\"d28443a10126a0\"}");
    assert_int_equal(r.http, 400);
    assert_non_null(strstr(r.b.p, "the manifest is refused"));
    raw_free(&r);
    r = admin_raw("POST", "/v1/admin/firmware/releases", "{\"manifest\":\"zz\"}");
    assert_int_equal(r.http, 400);
    raw_free(&r);
    r = admin_raw("POST", "/v1/admin/firmware/releases", "{\"manifest\":\"00\",\"extra\":1}");
    assert_int_equal(r.http, 400);
    assert_non_null(strstr(r.b.p, "/extra: unknown member"));
    raw_free(&r);

    /* bytes that are not what their address says: discarded at the last chunk */
    snprintf(p, sizeof p, "/v1/admin/firmware/images/%s", G.digest11);
    char fake[300];
    snprintf(fake, sizeof fake, "/v1/admin/firmware/images/%064d", 7);
    r = admin_raw("PUT", fake, "{\"size\":3,\"offset\":0,\"data\":\"YWJj\"}"); /* "abc" */
    assert_int_equal(r.http, 409);
    assert_non_null(strstr(r.b.p, "the upload was discarded"));
    raw_free(&r);
    r = admin_raw("GET", fake, NULL);
    assert_int_equal(r.http, 404);
    raw_free(&r);
    r = admin_raw("PUT", fake, "{\"size\":3,\"offset\":0,\"data\":\"not base64!\"}");
    assert_int_equal(r.http, 400);
    raw_free(&r);
    r = admin_raw("PUT", fake, "{\"size\":3,\"offset\":5,\"data\":\"YWJj\"}");
    assert_int_equal(r.http, 400);
    raw_free(&r);
    /* the published image is intact */
    r = admin_raw("GET", p, NULL);
    assert_int_equal(r.http, 200);
    assert_non_null(strstr(r.b.p, "\"complete\":true"));
    raw_free(&r);
    assert_int_equal(releases(), 1);
}

/* The rollout of HOST-OS 1.1 to class cls; its id. */
static long long rollout(const char *cls, int max_in_flight)
{
    json_t *j = admin("firmware rollout --class %s --component HOST-OS --version 1.1 --max-in-flight %d "
                      "--job-timeout 600 --json",
                      cls, max_in_flight);
    if (j == NULL)
        fail_msg("rollout failed: %s", G.o.err);
    long long id = jint(json_object_get(j, "rollout"), "id");
    json_decref(j);
    assert_true(id > 0);
    return id;
}

/* Test 2. */
static void test_ranges(void **state)
{
    (void)state;
    rollout("fw-a", 1);
    json_t *a = attest(0);
    json_t *fw = json_object_get(a, "firmware");
    if (fw == NULL)
        fail_msg("device 0 was offered nothing: %s %s", G.o.out, G.o.err);
    assert_string_equal(jtext(fw, "sha256"), G.digest11);
    assert_int_equal(jint(fw, "size"), BIG);
    assert_string_equal(jtext(fw, "component"), "HOST-OS");
    assert_string_equal(jtext(fw, "version"), "1.1");
    assert_string_equal(jtext(fw, "state"), "offered");
    json_decref(a);
    char *img = e2e_slurp(G.os11);
    raw r = device_get(0, G.digest11, NULL);
    assert_int_equal(r.http, 200);
    assert_int_equal(r.b.n, BIG);
    assert_memory_equal(r.b.p, img, BIG);
    raw_free(&r);
    r = device_get(0, G.digest11, "100-199");
    assert_int_equal(r.http, 206);
    assert_int_equal(r.b.n, 100);
    assert_memory_equal(r.b.p, img + 100, 100);
    char want[128];
    snprintf(want, sizeof want, "bytes 100-199/%u", BIG);
    assert_string_equal(r.content_range, want);
    raw_free(&r);
    char range[64];
    snprintf(range, sizeof range, "%u-", BIG - 10);
    r = device_get(0, G.digest11, range);
    assert_int_equal(r.http, 206);
    assert_int_equal(r.b.n, 10);
    assert_memory_equal(r.b.p, img + BIG - 10, 10);
    raw_free(&r);
    r = device_get(0, G.digest11, "-5"); /* suffix */
    assert_int_equal(r.http, 206);
    assert_int_equal(r.b.n, 5);
    raw_free(&r);
    snprintf(range, sizeof range, "%u-%u", BIG - 3, BIG + 100); /* clamped to the end */
    r = device_get(0, G.digest11, range);
    assert_int_equal(r.http, 206);
    assert_int_equal(r.b.n, 3);
    raw_free(&r);
    r = device_get(0, G.digest11, "0-1,5-6"); /* several: not honoured, the whole image */
    assert_int_equal(r.http, 200);
    assert_int_equal(r.b.n, BIG);
    raw_free(&r);
    snprintf(range, sizeof range, "%u-", BIG);
    r = device_get(0, G.digest11, range);
    assert_int_equal(r.http, 416);
    snprintf(want, sizeof want, "bytes */%u", BIG);
    assert_string_equal(r.content_range, want);
    raw_free(&r);
    free(img);

    /* refusals */
    char path[200];
    snprintf(path, sizeof path, "/v1/device/firmware/%s", G.digest11);
    r = request("GET", path, NULL, NULL, NULL, false, NULL);
    assert_int_equal(r.http, 401);
    raw_free(&r);
    char cert[260], key[260];
    snprintf(cert, sizeof cert, "%s/operators/admin.crt.pem", G.keys);
    snprintf(key, sizeof key, "%s/operators/admin.key.pem", G.keys);
    r = request("GET", path, NULL, cert, key, true, NULL);
    assert_int_equal(r.http, 401);
    raw_free(&r);
    r = device_get(1, G.digest11, NULL); /* device 1: a pending job, not offered yet (max 1) */
    assert_int_equal(r.http, 404);
    raw_free(&r);
    r = device_get(2, G.digest11, NULL); /* device 2: no job at all */
    assert_int_equal(r.http, 404);
    raw_free(&r);
    char unknown[65];
    memset(unknown, 'a', 64);
    unknown[64] = '\0';
    r = device_get(0, unknown, NULL);
    assert_int_equal(r.http, 404);
    raw_free(&r);
    r = device_get(0, "abc", NULL);
    assert_int_equal(r.http, 400);
    raw_free(&r);
    r = device_get(0, "zz00000000000000000000000000000000000000000000000000000000000000", NULL);
    assert_int_equal(r.http, 400);
    raw_free(&r);
}

/* A TCP relay to the server, in a child process: it accepts one connection,
 * forwards bytes both ways, and closes both sides once `cut` bytes have come
 * from the server (TLS records included): a connection cut mid-body. Its
 * port. */
static unsigned cutting_relay(long cut)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &l), 0);
    G.relay = fork();
    assert_true(G.relay >= 0);
    if (G.relay == 0) {
        int c = accept(lfd, NULL, NULL);
        int u = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in up = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)G.srv.port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (c < 0 || u < 0 || connect(u, (struct sockaddr *)&up, sizeof up) != 0)
            _exit(2);
        long down = 0;
        char buf[16384];
        while (down < cut) {
            struct pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
            if (poll(p, 2, 10000) <= 0)
                _exit(3);
            if (p[0].revents & (POLLIN | POLLHUP)) {
                ssize_t n = read(c, buf, sizeof buf);
                if (n <= 0 || write(u, buf, (size_t)n) != n)
                    _exit(4);
            }
            if (p[1].revents & (POLLIN | POLLHUP)) {
                ssize_t n = read(u, buf, down + (long)sizeof buf > cut ? (size_t)(cut - down) : sizeof buf);
                if (n <= 0 || write(c, buf, (size_t)n) != n)
                    _exit(5);
                down += n;
            }
        }
        close(c); /* both sides, mid-body */
        close(u);
        _exit(0);
    }
    close(lfd);
    return ntohs(a.sin_port);
}

/* Starts `drot-agent fw fetch` for device k in the background. */
static void fetch_bg(int k, const char *extra)
{
    char cmd[2000];
    snprintf(cmd, sizeof cmd,
             "exec '%s' --socket '%s' --link-key '%s' fw fetch %s --digest %s --size %u %s "
             ">'%s/bg.out' 2>'%s/bg.err' </dev/null",
             DROT_AGENT_BIN, G.dev[k].sock, G.dev[k].key, srvopts(k), G.digest11, BIG, extra, G.root, G.root);
    G.bg = fork();
    assert_true(G.bg >= 0);
    if (G.bg == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
}

/* Test 3. */
static void test_interrupted_download(void **state)
{
    (void)state;
    char part[400], img[400];
    snprintf(part, sizeof part, "%s/firmware/%s.part", G.storage[0], G.digest11);
    snprintf(img, sizeof img, "%s/firmware/%s.img", G.storage[0], G.digest11);
    fetch_bg(0, "--limit-rate 200000");
    long long n = -1;
    for (int i = 0; i < 300 && n < 300000; i++) {
        usleep(50000);
        n = file_size(part);
    }
    kill(G.bg, SIGKILL);
    int st = 0;
    assert_int_equal(waitpid(G.bg, &st, 0), G.bg);
    G.bg = -1;
    assert_true(WIFSIGNALED(st));
    long long cut = file_size(part);
    if (cut < 300000 || cut >= (long long)BIG)
        fail_msg("the partial file has %lld bytes when the agent was killed (expected 300000..%u)", cut, BIG);
    assert_int_equal(file_size(img), -1);

    /* resumed: only the rest is asked for */
    if (agent(0, "fw fetch %s --digest %s --size %u --json", srvopts(0), G.digest11, BIG) != 0)
        fail_msg("the resumed fetch failed: %s", G.o.err);
    json_t *j = json_loads(G.o.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(jint(j, "resumed_from"), cut);
    assert_string_equal(jtext(j, "path"), img);
    json_decref(j);
    char got[65];
    file_sha256(img, got);
    assert_string_equal(got, G.digest11);
    assert_int_equal(file_size(part), -1);
    char *log = e2e_slurp(G.srv.log);
    char line[200];
    snprintf(line, sizeof line, "method=GET route=/v1/device/firmware/ status=206 device=%s", G.devid[0]);
    assert_non_null(strstr(log, line));
    free(log);

    /* the connection cut mid-body (a TCP relay that closes both sides after 1 MB from the
     * server): the agent fails, keeps its partial file, and resumes through the server */
    assert_int_equal(unlink(img), 0);
    unsigned relay = cutting_relay(1000000);
    char via[700];
    snprintf(via, sizeof via, "--server 'https://127.0.0.1:%u' --ca '%s' --storage '%s'", relay, G.ca,
             G.storage[0]);
    assert_int_equal(agent(0, "fw fetch %s --digest %s --size %u", via, G.digest11, BIG), 1);
    assert_non_null(strstr(G.o.err, "fw fetch: "));
    assert_int_equal(waitpid(G.relay, &st, 0), G.relay);
    G.relay = -1;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cut = file_size(part);
    if (cut < 500000 || cut >= 1000000)
        fail_msg("the partial file has %lld bytes after a cut at 1000000 bytes of TLS (agent: %s)", cut,
                 G.o.err);
    assert_int_equal(file_size(img), -1);
    if (agent(0, "fw fetch %s --digest %s --size %u --json", srvopts(0), G.digest11, BIG) != 0)
        fail_msg("the fetch after the cut failed: %s", G.o.err);
    j = json_loads(G.o.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(jint(j, "resumed_from"), cut);
    json_decref(j);
    file_sha256(img, got);
    assert_string_equal(got, G.digest11);

    /* a partial file with wrong bytes: discarded at the end, then a fresh start */
    assert_int_equal(unlink(img), 0);
    assert_int_equal(apm_proc_sh("head -c 50000 /dev/zero > '%s'", part), 0);
    assert_int_equal(agent(0, "fw fetch %s --digest %s --size %u", srvopts(0), G.digest11, BIG), 1);
    assert_non_null(strstr(G.o.err, "the partial file was discarded"));
    assert_int_equal(file_size(part), -1);
    assert_int_equal(file_size(img), -1);
    assert_int_equal(agent(0, "fw fetch %s --digest %s --size %u --json", srvopts(0), G.digest11, BIG), 0);
    j = json_loads(G.o.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(jint(j, "resumed_from"), 0);
    json_decref(j);
    file_sha256(img, got);
    assert_string_equal(got, G.digest11);
    /* fetched before: nothing to download */
    assert_int_equal(agent(0, "fw fetch %s --digest %s --size %u --json", srvopts(0), G.digest11, BIG), 0);
    j = json_loads(G.o.out, 0, NULL);
    assert_int_equal(jint(j, "resumed_from"), BIG);
    json_decref(j);
    /* bad arguments: nothing done */
    assert_int_equal(agent(0, "fw fetch %s --digest 1234 --size 10", srvopts(0)), 2);
    assert_int_equal(agent(0, "fw fetch %s --digest %s --size 0", srvopts(0), G.digest11), 2);
    assert_int_equal(agent(0, "fw fetch %s --digest %s --size 99999999", srvopts(0), G.digest11), 2);
}

/* The rollout's JSON; fails the test if F1 does not hold. */
static json_t *observe(long long id, int max)
{
    json_t *r = admin("firmware rollout-show %lld --json", id);
    assert_non_null(r);
    json_t *jobs = json_object_get(r, "jobs");
    long long flight = jint(jobs, "offered") + jint(jobs, "installed");
    assert_int_equal(flight, jint(r, "in_flight"));
    if (flight > max)
        fail_msg("rollout %lld has %lld jobs in flight, max_in_flight is %d", id, flight, max);
    return r;
}

/* Device k's job in rollout id (from rollout-show). */
static long long job_of(json_t *r, int k)
{
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "device_jobs"), i,
                       j) if (strcmp(jtext(j, "device_id"), G.devid[k]) == 0) return jint(j, "id");
    fail_msg("no job of device %d in the rollout", k);
    return 0;
}

static const char *job_state(json_t *r, int k)
{
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "device_jobs"), i,
                       j) if (strcmp(jtext(j, "device_id"), G.devid[k]) == 0) return jtext(j, "state");
    return "";
}

static bool offered(int k)
{
    json_t *a = attest(k);
    bool yes = json_object_get(a, "firmware") != NULL;
    json_decref(a);
    return yes;
}

/* Test 4. */
static void test_rollout_limit(void **state)
{
    (void)state;
    long long id = rollout("fw-b", 2);
    json_t *r = observe(id, 2);
    assert_int_equal(jint(json_object_get(r, "jobs"), "pending"), 3);
    json_decref(r);
    int got = 0;
    bool who[NDEV] = {false};
    for (int k = 2; k < NDEV; k++) {
        who[k] = offered(k);
        got += who[k];
        json_decref(observe(id, 2));
    }
    assert_int_equal(got, 2); /* the third waits for a slot */
    int waiting = !who[2] ? 2 : !who[3] ? 3 : 4, first = who[2] ? 2 : 3, second = who[4] ? 4 : 3;
    assert_false(offered(waiting));
    r = observe(id, 2);
    long long jfirst = job_of(r, first), jsecond = job_of(r, second);
    json_decref(r);

    /* a confirmation before the device attests on the new image is refused */
    assert_int_equal(agent(first, "fw report %s --job %lld --state confirmed", srvopts(first), jfirst), 1);
    assert_non_null(strstr(G.o.err, "not confirmed"));
    assert_non_null(strstr(G.o.err, "HTTP 409"));
    /* another device's job is not this one's */
    assert_int_equal(agent(first, "fw report %s --job %lld --state installed", srvopts(first), jsecond), 1);
    assert_non_null(strstr(G.o.err, "HTTP 404"));

    /* the second fails: its slot goes to the waiting device */
    assert_int_equal(agent(second,
                           "fw report %s --job %lld --state failed --reason 'flash write error' --json",
                           srvopts(second), jsecond),
                     0);
    assert_non_null(strstr(G.o.out, "\"pending\""));
    r = observe(id, 2);
    assert_string_equal(job_state(r, second), "pending");
    json_decref(r);
    /* quarantined, the waiting device attests WARN and is offered nothing */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "devices quarantine %s --reason inspection", G.devid[waiting]);
    assert_int_equal(admin_text(cmd), 0);
    assert_false(offered(waiting));
    snprintf(cmd, sizeof cmd, "devices activate %s --reason inspected", G.devid[waiting]);
    assert_int_equal(admin_text(cmd), 0);
    assert_true(offered(waiting));
    r = observe(id, 2);
    assert_string_equal(job_state(r, waiting), "offered");
    json_decref(r);
    assert_false(offered(second)); /* both slots taken again */

    /* the first device installs 1.1: fetch, install, reboot into it, PASS, confirm */
    if (agent(first, "fw fetch %s --digest %s --size %u", srvopts(first), G.digest11, BIG) != 0)
        fail_msg("fetch on device %d: %s", first, G.o.err);
    assert_int_equal(agent(first, "fw report %s --job %lld --state installed", srvopts(first), jfirst), 0);
    r = observe(id, 2);
    assert_string_equal(job_state(r, first), "installed");
    json_decref(r);
    reboot(first, G.os11, "1.1");
    expect_pass(first);
    assert_int_equal(agent(first, "fw report %s --job %lld --state confirmed --json", srvopts(first), jfirst),
                     0);
    assert_non_null(strstr(G.o.out, "\"confirmed\""));
    r = observe(id, 2);
    assert_string_equal(job_state(r, first), "confirmed");
    assert_int_equal(jint(json_object_get(r, "jobs"), "confirmed"), 1);
    json_decref(r);
    /* its slot is free: the failed device's second attempt */
    assert_true(offered(second));
    r = observe(id, 2);
    assert_string_equal(job_state(r, second), "offered");
    json_decref(r);
    json_t *jobs = admin("firmware jobs --rollout %lld --json", id);
    assert_non_null(jobs);
    assert_int_equal(jint(jobs, "count"), 3);
    json_decref(jobs);
    json_t *list = admin("firmware rollouts --class fw-b --json");
    assert_non_null(list);
    assert_int_equal(jint(list, "count"), 1);
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_interrupted_download),
        cmocka_unit_test(test_rollout_limit),
    };
    return cmocka_run_group_tests_name("fw_e2e", tests, group_setup, group_teardown);
}
