/*
 * test_policy_e2e.c — the policy engine end to end with real processes
 * (docs/policy.md): drotctl init keys, three drot-apm devices deployed with
 * the server's authority as an anchor, drot-server on SQLite over TLS 1.3,
 * drot-agent (attest-once, and run as a daemon), drotctl policy …, and a
 * webhook receiver on loopback inside this test process (libevent evhttp on
 * its own thread) that checks every signature independently (OpenSSL HMAC).
 *
 * dev0 is of class sim-s (staleness); dev1 and dev2 of class sim-v1.
 *
 *   1. invalid policies: drotctl policy validate names the field of every
 *      error, each error class; the server refuses a class that is not the
 *      URL's, a document that is not JSON or too large, a request without an
 *      operator certificate, a secret file it cannot read, and a version not
 *      above the live one (the same document sent again); nothing is stored
 *   2. continuous attestation: the agent daemon follows the policy's 1 s
 *      interval (the server's default is an hour); stopped, dev0 goes stale
 *      and on_missed runs once: quarantine, and a webhook event the receiver
 *      refuses twice and accepts the third time, every attempt signed and
 *      recorded, none after the 2xx; the next attestation ends the episode
 *   3. FAIL stays failed: a tamper FAIL (a voltage glitch, power cycle),
 *      then a PASS: still failed, the answer says so; a policy cannot clear a
 *      tamper failure; drotctl device clear can, once
 *   4. plan vs apply: a firmware section naming an unpublished release is
 *      refused; the plan changes nothing; apply carries out exactly the
 *      actions the plan listed (a failed flag the new reference values
 *      clear, rotations by key age in a campaign of max_parallel 1, a
 *      firmware rollout of max_in_flight 1 with a job for exactly the
 *      devices the plan named), and records them; the rotations then
 *      complete at the devices' next attestations
 *   5. the demo case: a policy whose on_fail quarantines; the device attests
 *      FAIL and is quarantined in the same request, the webhook told, the
 *      firmware rollout ensured by the worker (update); and
 *      every change the engine made, from all five tests, is in the audit log
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include "apm_proc.h"
#include "e2e_proc.h"

#ifndef DROTCTL_BIN
#error "DROTCTL_BIN must name drotctl"
#endif
#ifndef DROT_AGENT_BIN
#error "DROT_AGENT_BIN must name drot-agent"
#endif

#define NDEV  3
#define jint  e2e_jint
#define jtext e2e_jtext

/* ---- the webhook receiver ---------------------------------------------------------------- */

#define MAX_HITS 64
typedef struct hit {
    char delivery[40], event[40];
    char *body;
    int64_t ms; /* when it arrived (CLOCK_MONOTONIC) */
    int answered;
    bool sig_ok, fresh;
} hit;

typedef struct receiver {
    pthread_t th;
    struct event_base *base;
    struct evhttp *http;
    unsigned port;
    volatile bool stop;
    pthread_mutex_t mu;
    hit hits[MAX_HITS];
    size_t n;
    int fail_first; /* answer 500 to the first N requests of each delivery */
    uint8_t secret[64];
    size_t secret_len;
} receiver;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The receiver's own check, written from docs/policy.md, not from webhook.c:
 * t=<secs>,v1=<hex HMAC-SHA-256(secret, t "." body)>, t within 300 s. */
static void check_signature(receiver *r, const char *hdr, const char *body, size_t len, hit *h)
{
    long long t = 0;
    char mac_hex[65] = "";
    if (hdr == NULL || sscanf(hdr, "t=%lld,v1=%64[0-9a-f]", &t, mac_hex) != 2 || strlen(mac_hex) != 64)
        return;
    char *msg = malloc(len + 32);
    assert_non_null(msg);
    int o = snprintf(msg, 32, "%lld.", t);
    memcpy(msg + o, body, len);
    uint8_t mac[32];
    unsigned ml = 0;
    HMAC(EVP_sha256(), r->secret, (int)r->secret_len, (const uint8_t *)msg, (size_t)o + len, mac, &ml);
    free(msg);
    char want[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", mac[i]);
    h->sig_ok = ml == 32 && CRYPTO_memcmp(want, mac_hex, 64) == 0;
    long long d = (long long)time(NULL) - t;
    h->fresh = d >= -300 && d <= 300;
}

static void on_hook(struct evhttp_request *req, void *arg)
{
    receiver *r = arg;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    hit h;
    memset(&h, 0, sizeof h);
    h.body = calloc(1, len + 1);
    assert_non_null(h.body);
    evbuffer_copyout(b, h.body, len);
    h.ms = now_ms();
    snprintf(h.delivery, sizeof h.delivery, "%s",
             evhttp_find_header(in, "X-Drot-Delivery") ? evhttp_find_header(in, "X-Drot-Delivery") : "");
    snprintf(h.event, sizeof h.event, "%s",
             evhttp_find_header(in, "X-Drot-Event") ? evhttp_find_header(in, "X-Drot-Event") : "");
    check_signature(r, evhttp_find_header(in, "X-Drot-Signature"), h.body, len, &h);
    pthread_mutex_lock(&r->mu);
    int seen = 0;
    for (size_t i = 0; i < r->n; i++)
        seen += strcmp(r->hits[i].delivery, h.delivery) == 0;
    h.answered = !h.sig_ok || !h.fresh ? 401 : seen < r->fail_first ? 500 : 200;
    if (r->n < MAX_HITS)
        r->hits[r->n++] = h;
    else
        free(h.body);
    int code = h.answered;
    pthread_mutex_unlock(&r->mu);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "No", NULL);
}

static void *receiver_loop(void *arg)
{
    receiver *r = arg;
    while (!r->stop) {
        event_base_loop(r->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(5000);
    }
    return NULL;
}

static void receiver_start(receiver *r)
{
    pthread_mutex_init(&r->mu, NULL);
    r->base = event_base_new();
    r->http = evhttp_new(r->base);
    assert_non_null(r->http);
    evhttp_set_cb(r->http, "/hook", on_hook, r);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
    assert_non_null(s);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &sl);
    r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    assert_int_equal(pthread_create(&r->th, NULL, receiver_loop, r), 0);
}

static void receiver_stop(receiver *r)
{
    if (r->base == NULL)
        return;
    r->stop = true;
    pthread_join(r->th, NULL);
    evhttp_free(r->http);
    event_base_free(r->base);
    for (size_t i = 0; i < r->n; i++)
        free(r->hits[i].body);
    pthread_mutex_destroy(&r->mu);
    r->base = NULL;
}

/* Hits of the event for the device, copied out (n of them). */
static size_t hits_for(receiver *r, const char *event, const char *devid, hit *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->hits[i].event, event) == 0 && strstr(r->hits[i].body, devid) != NULL) {
            if (n < cap)
                out[n] = r->hits[i];
            n++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- the fleet ----------------------------------------------------------------------------- */

static struct {
    char root[128], keys[200], ca[240], db[260], dbpath[240], reg[240], ref[240], anchor[65], secret[240];
    char devid[NDEV][33], storage[NDEV][240];
    e2e_server srv;
    apm_proc dev[NDEV];
    pid_t agent[NDEV];
    e2e_out o;
    receiver rx;
} G;

static const char *const k_class[NDEV] = {"sim-s", "sim-v1", "sim-v1"};

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

/* The same, and the command must succeed. */
static json_t *admin_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *admin_ok(const char *fmt, ...)
{
    char args[1500];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    json_t *j = e2e_drotctl(&G.o, G.root, G.srv.url, G.keys, G.ca, args);
    if (j == NULL)
        fail_msg("drotctl %s failed: %s%s", args, G.o.out, G.o.err);
    return j;
}

/* drotctl with GLOBAL options, exit status only (output in G.o). */
static int admin_rc(const char *args)
{
    return e2e_run(
        &G.o, G.root,
        "'%s' --server '%s' --cert '%s/operators/admin.crt.pem' --key '%s/operators/admin.key.pem' "
        "--ca '%s' %s",
        DROTCTL_BIN, G.srv.url, G.keys, G.keys, G.ca, args);
}

static int admin_rc_f(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int admin_rc_f(const char *fmt, ...)
{
    char args[1500];
    va_list ap;
    va_start(ap, fmt);
    assert_true((size_t)vsnprintf(args, sizeof args, fmt, ap) < sizeof args);
    va_end(ap);
    return admin_rc(args);
}

/* Writes ROOT/name with the text (printf format); its path in a static buffer. */
static const char *write_file(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *write_file(const char *name, const char *fmt, ...)
{
    static char path[2][300];
    static int k;
    char *p = path[k++ % 2];
    snprintf(p, 300, "%s/%s", G.root, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    return p;
}

/* ROOT/name (drotctl runs elsewhere: paths are absolute). */
static const char *P(const char *name)
{
    static char path[4][300];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 300, "%s/%s", G.root, name);
    return p;
}

static int attest_once(int i)
{
    return e2e_run(&G.o, G.root,
                   "'%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' --storage '%s'",
                   DROT_AGENT_BIN, G.dev[i].sock, G.dev[i].key, G.srv.url, G.ca, G.storage[i]);
}

static void agent_start(int i)
{
    char log[300];
    snprintf(log, sizeof log, "%s/agent%d.log", G.root, i);
    G.agent[i] = fork();
    assert_true(G.agent[i] >= 0);
    if (G.agent[i] == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl(DROT_AGENT_BIN, DROT_AGENT_BIN, "--socket", G.dev[i].sock, "--link-key", G.dev[i].key, "run",
              "--server", G.srv.url, "--ca", G.ca, "--storage", G.storage[i], (char *)NULL);
        _exit(127);
    }
}

static void agent_stop(int i)
{
    if (G.agent[i] > 0) {
        kill(G.agent[i], SIGTERM);
        waitpid(G.agent[i], NULL, 0);
    }
    G.agent[i] = 0;
}

static json_t *device(int i)
{
    return admin_ok("devices show %s --json", G.devid[i]);
}

/* The device's entry in `policy status CLASS --json` (caller frees). */
static json_t *standing(int i)
{
    json_t *r = admin_ok("policy status %s --json", k_class[i]), *d;
    size_t k;
    json_array_foreach(json_object_get(r, "devices"), k, d)
    {
        if (strcmp(jtext(d, "device_id"), G.devid[i]) == 0) {
            json_incref(d);
            json_decref(r);
            return d;
        }
    }
    fail_msg("device %d not in policy status %s", i, k_class[i]);
    return NULL;
}

static bool stale(int i)
{
    json_t *d = standing(i);
    bool s = json_is_true(json_object_get(d, "stale"));
    json_decref(d);
    return s;
}

static bool failed(int i)
{
    json_t *d = standing(i);
    bool s = json_is_true(json_object_get(d, "failed"));
    json_decref(d);
    return s;
}

/* The webhooks section naming the receiver, for a policy document. */
static const char *hooks(int attempts, int backoff)
{
    static char buf[600];
    snprintf(buf, sizeof buf,
             "\"webhooks\": {\"ops\": {\"url\": \"http://127.0.0.1:%u/hook\", \"secret_file\": \"%s\", "
             "\"max_attempts\": %d, \"backoff_s\": %d}}",
             G.rx.port, G.secret, attempts, backoff);
    return buf;
}

/* Counts the policy actions of a device with cause and action. */
static int count_actions(int i, const char *cause, const char *action, const char *state)
{
    json_t *r = admin_ok("policy actions %s --device %s --json", k_class[i], G.devid[i]), *a;
    size_t k;
    int n = 0;
    json_array_foreach(json_object_get(r, "actions"), k, a)
    {
        n += strcmp(jtext(a, "cause"), cause) == 0 && strcmp(jtext(a, "action"), action) == 0 &&
             (state == NULL || strcmp(jtext(a, "state"), state) == 0);
    }
    json_decref(r);
    return n;
}

/* ---- setup ------------------------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    memset(&G, 0, sizeof G);
    G.srv.pid = -1;
    for (int i = 0; i < NDEV; i++)
        G.dev[i].pid = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apm_proc_mkroot(G.root, sizeof G.root, "policy");
    setenv("DROT_KEY_PASSPHRASE", "policy e2e test passphrase", 1);
    snprintf(G.keys, sizeof G.keys, "%s/keys", G.root);
    snprintf(G.ca, sizeof G.ca, "%s/device-ca.crt.pem", G.keys);
    snprintf(G.dbpath, sizeof G.dbpath, "%s/drot.db", G.root);
    snprintf(G.db, sizeof G.db, "sqlite:%s", G.dbpath);
    snprintf(G.reg, sizeof G.reg, "%s/register.json", G.root);
    snprintf(G.ref, sizeof G.ref, "%s/ref", G.root);
    snprintf(G.srv.log, sizeof G.srv.log, "%s/server.log", G.root);
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' init --dir '%s' --json", DROTCTL_BIN, G.keys), 0);
    json_t *init = json_loads(G.o.out, 0, NULL);
    assert_non_null(init);
    snprintf(G.anchor, sizeof G.anchor, "%s", jtext(init, "authority_anchor"));
    json_decref(init);
    assert_int_equal(strlen(G.anchor), 64);

    /* the webhook secret, shared by the server (a file) and the receiver */
    G.rx.secret_len = 32;
    for (size_t i = 0; i < G.rx.secret_len; i++)
        G.rx.secret[i] = (uint8_t)('a' + (rand() % 26));
    snprintf(G.secret, sizeof G.secret, "%s/webhook.key", G.root);
    FILE *f = fopen(G.secret, "w");
    assert_non_null(f);
    fwrite(G.rx.secret, 1, G.rx.secret_len, f);
    fputc('\n', f);
    fclose(f);
    receiver_start(&G.rx);

    assert_int_equal(apm_proc_sh("mkdir -p '%s' && for c in sim-s sim-v1; do printf '{\"class\":\"%%s\","
                                 "\"components\":[{\"type\":\"APM\"}]}' $c > '%s'/$c.json; done",
                                 G.ref, G.ref),
                     0);
    char extra[100], name[16];
    snprintf(extra, sizeof extra, "--anchor %s", G.anchor);
    assert_int_equal(apm_proc_sh("printf '[' > '%s'", G.reg), 0);
    for (int i = 0; i < NDEV; i++) {
        snprintf(name, sizeof name, "dev%d", i);
        apm_proc_provision_ex(&G.dev[i], G.root, name, extra);
        assert_int_equal(apm_proc_sh("'%s' deploy --state '%s' >/dev/null", DROT_APM_BIN, G.dev[i].state), 0);
        apm_proc_start(&G.dev[i]);
        for (size_t k = 0; k < 16; k++)
            snprintf(G.devid[i] + 2 * k, 3, "%02x", G.dev[i].device_id[k]);
        snprintf(G.storage[i], sizeof G.storage[i], "%s/storage%d", G.root, i);
        assert_int_equal(
            apm_proc_sh("sed 's/^{/{\"class\":\"%s\",/' '%s' | tr -d '\\n' >> '%s' && printf '%s' >> "
                        "'%s'",
                        k_class[i], G.dev[i].identity, G.reg, i + 1 < NDEV ? "," : "]", G.reg),
            0);
    }
    /* The server's default interval is an hour: only the policy makes the agents attest sooner. */
    const char *args[] = {
        "--db", G.db, "--keys", G.keys, "--reference", G.ref, "--register", G.reg, "--attest-interval",
        "3600", NULL};
    e2e_server_start(&G.srv, G.ca, args);
    for (int i = 0; i < NDEV; i++)
        if (e2e_run(&G.o, G.root,
                    "'%s' --socket '%s' --link-key '%s' enroll --server '%s' --ca '%s' --storage '%s'",
                    DROT_AGENT_BIN, G.dev[i].sock, G.dev[i].key, G.srv.url, G.ca, G.storage[i]) != 0)
            fail_msg("enroll of dev%d failed: %s", i, G.o.err);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NDEV; i++)
        agent_stop(i);
    e2e_server_kill(&G.srv);
    for (int i = 0; i < NDEV; i++)
        apm_proc_kill(&G.dev[i]);
    receiver_stop(&G.rx);
    apm_proc_rmtree(G.root);
    e2e_out_free(&G.o);
    curl_global_cleanup();
    return 0;
}

/* ---- Test 1 ------------------------------------------------------------------------------------ */

#define REF_OK "\"reference\": {\"components\": [{\"type\": \"APM\"}]}"

/* validate must fail naming each of want[] (NULL-terminated) on stderr. */
static void expect_invalid(const char *file, const char *const *want)
{
    int rc = e2e_run(&G.o, G.root, "'%s' policy validate '%s'", DROTCTL_BIN, file);
    if (rc != 1)
        fail_msg("validate %s: exit %d (want 1): %s%s", file, rc, G.o.out, G.o.err);
    for (size_t i = 0; want[i] != NULL; i++) {
        char line[600];
        snprintf(line, sizeof line, "%s: %s", file, want[i]);
        if (strstr(G.o.err, line) == NULL)
            fail_msg("validate %s: no \"%s\" in:\n%s", file, line, G.o.err);
    }
}

/* A raw admin request (the operator key decrypted by libcurl; with_cert
 * false: no client certificate at all); HTTP status, body in *out. */
static long raw_admin_as(bool with_cert, const char *method, const char *path, const char *body, size_t len,
                         char **out)
{
    char url[300], cert[300], key[300];
    snprintf(url, sizeof url, "%s%s", G.srv.url, path);
    snprintf(cert, sizeof cert, "%s/operators/admin.crt.pem", G.keys);
    snprintf(key, sizeof key, "%s/operators/admin.key.pem", G.keys);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    FILE *mem = open_memstream(out, &(size_t){0});
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, G.ca);
    if (with_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
        curl_easy_setopt(c, CURLOPT_KEYPASSWD, getenv("DROT_KEY_PASSPHRASE"));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(mem);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    return code;
}

static long raw_admin(const char *method, const char *path, const char *body, size_t len, char **out)
{
    return raw_admin_as(true, method, path, body, len, out);
}

static void test_invalid(void **state)
{
    (void)state;
    /* each error class, named by its field */
    static const char *const not_json[] = {"/: not JSON", NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 1,"), not_json);
    static const char *const type[] = {"/version: not an integer", NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": \"2\", " REF_OK "}"), type);
    static const char *const unknown[] = {"/colour: unknown field", "/attestation/every: unknown field",
                                          NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 2, " REF_OK
                                         ", \"colour\": 1, \"attestation\": "
                                         "{\"interval_s\": 5, \"missed_limit\": 2, \"every\": 5}}"),
                   unknown);
    static const char *const missing[] = {"/reference: missing (required)", NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 2}"), missing);
    static const char *const range[] = {"/attestation/interval_s: 0 is out of range: must be 1..604800",
                                        NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 2, " REF_OK
                                         ", \"attestation\": {\"interval_s\": 0, \"missed_limit\": 2}}"),
                   range);
    static const char *const enumv[] = {
        "/keys/rotation_mode: \"hsm\" is not allowed: must be \"server\" or \"device\"", NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 2, " REF_OK
                                         ", \"keys\": {\"max_age_days\": 9, \"rotation_mode\": \"hsm\"}}"),
                   enumv);
    static const char *const dup[] = {"/firmware/APM: named twice in the same object", NULL};
    expect_invalid(write_file("p1.json",
                              "{\"class\": \"sim-v1\", \"version\": 2, " REF_OK
                              ", \"firmware\": {\"APM\": {\"version\": \"1\", \"max_in_flight\": 1}, "
                              "\"APM\": {\"version\": \"2\", \"max_in_flight\": 1}}}"),
                   dup);
    static const char *const hook[] = {"/actions/on_fail/0/notify/webhook: no webhook \"pager\" in /webhooks",
                                       NULL};
    expect_invalid(write_file("p1.json",
                              "{\"class\": \"sim-v1\", \"version\": 2, " REF_OK
                              ", \"actions\": {\"on_fail\": [{\"notify\": {\"webhook\": \"pager\"}}]}}"),
                   hook);
    static const char *const cls[] = {"/reference/class: \"sim-v2\" does not match the class \"sim-v1\"",
                                      NULL};
    expect_invalid(write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 2, \"reference\": {\"class\": "
                                         "\"sim-v2\", \"components\": [{\"type\": \"APM\"}]}}"),
                   cls);
    /* several errors: every one, and their count */
    static const char *const three[] = {"/version: not an integer",
                                        "/reference/components/0/min_svn: must not be negative",
                                        "/attestation/missed_limit: missing (required)", NULL};
    const char *p = write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": true, \"reference\": "
                                          "{\"components\": [{\"type\": \"APM\", \"min_svn\": -1}]}, "
                                          "\"attestation\": {\"interval_s\": 5}}");
    expect_invalid(p, three);
    assert_non_null(strstr(G.o.err, "3 errors"));
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' policy validate '%s' --json", DROTCTL_BIN, p), 1);
    json_t *v = json_loads(G.o.out, 0, NULL);
    assert_non_null(v);
    assert_false(json_is_true(json_object_get(v, "valid")));
    assert_int_equal(json_array_size(json_object_get(v, "errors")), 3);
    assert_string_equal(jtext(json_array_get(json_object_get(v, "errors"), 1), "pointer"),
                        "/reference/components/0/min_svn");
    json_decref(v);
    /* plan and apply validate first and send nothing */
    assert_int_equal(admin_rc_f("policy apply '%s'", P("p1.json")), 1);
    assert_non_null(strstr(G.o.err, "nothing was sent"));
    /* a valid one */
    p = write_file("p1.json", "{\"class\": \"sim-v1\", \"version\": 1, " REF_OK "}");
    assert_int_equal(e2e_run(&G.o, G.root, "'%s' policy validate '%s'", DROTCTL_BIN, p), 0);
    assert_non_null(strstr(G.o.out, "valid: class sim-v1, version 1"));

    /* the server: a secret file it cannot read */
    write_file("p2.json",
               "{\"class\": \"sim-v1\", \"version\": 1, " REF_OK ", \"webhooks\": {\"ops\": {\"url\": "
               "\"http://127.0.0.1:9/x\", \"secret_file\": \"/nonexistent/drot.key\"}}}");
    assert_int_equal(admin_rc_f("policy apply '%s'", P("p2.json")), 1);
    assert_non_null(strstr(G.o.err, "/webhooks/ops/secret_file: secret file /nonexistent/drot.key"));
    json_t *l = admin_ok("policy list --json");
    assert_int_equal(json_array_size(json_object_get(l, "policies")), 0); /* nothing stored */
    json_decref(l);
    /* the class of the URL, JSON, size */
    char *body = NULL;
    const char *doc = "{\"class\": \"sim-v1\", \"version\": 1, " REF_OK "}";
    assert_int_equal(raw_admin("POST", "/v1/admin/policies/sim-s", doc, strlen(doc), &body), 400);
    json_t *e = json_loads(body, 0, NULL);
    free(body);
    assert_string_equal(jtext(json_object_get(e, "error"), "code"), "invalid_policy");
    assert_string_equal(
        jtext(json_array_get(json_object_get(json_object_get(e, "error"), "errors"), 0), "pointer"),
        "/class");
    json_decref(e);
    assert_int_equal(raw_admin("POST", "/v1/admin/policies/sim-v1/plan", "{\"class\":", 9, &body), 400);
    assert_non_null(strstr(body, "not JSON"));
    free(body);
    size_t big = 300 * 1024;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    assert_int_equal(raw_admin("POST", "/v1/admin/policies/sim-v1", huge, big, &body), 413);
    free(huge);
    free(body);
    /* without an operator certificate: refused before the route runs */
    assert_int_equal(raw_admin_as(false, "POST", "/v1/admin/policies/sim-v1", doc, strlen(doc), &body), 401);
    free(body);
    l = admin_ok("policy list --json");
    assert_int_equal(json_array_size(json_object_get(l, "policies")), 0);
    json_decref(l);
    /* stored once; the same version again, or a lower one, is refused */
    json_t *a = admin_ok("policy apply '%s' --json", P("p1.json"));
    assert_true(json_is_true(json_object_get(a, "applied")));
    json_decref(a);
    assert_int_equal(admin_rc_f("policy apply '%s'", P("p1.json")), 1);
    assert_non_null(strstr(G.o.err, "/version: 1 is not above the live version 1 of class sim-v1"));
    assert_int_equal(admin_rc_f("policy plan '%s'", P("p1.json")), 1);
    l = admin_ok("policy list sim-v1 --json");
    assert_int_equal(json_array_size(json_object_get(l, "versions")), 1);
    assert_string_equal(jtext(json_array_get(json_object_get(l, "versions"), 0), "applied_by"),
                        "operator:admin");
    json_decref(l);
}

/* ---- Test 2 ------------------------------------------------------------------------------------ */

static bool wait_for(bool (*cond)(int), int i, int ms)
{
    for (int t = 0; t < ms; t += 250) {
        if (cond(i))
            return true;
        usleep(250000);
    }
    return cond(i);
}

static bool quarantined(int i)
{
    json_t *d = device(i);
    bool q = strcmp(jtext(d, "status"), "quarantined") == 0;
    json_decref(d);
    return q;
}

static bool not_stale(int i)
{
    return !stale(i);
}

static bool stale_delivered(int i)
{
    hit h[8];
    size_t n = hits_for(&G.rx, "device.stale", G.devid[i], h, 8);
    for (size_t k = 0; k < n && k < 8; k++)
        if (h[k].answered == 200)
            return true;
    return false;
}

static void test_stale_and_webhook(void **state)
{
    (void)state;
    G.rx.fail_first = 2;
    write_file(
        "s1.json",
        "{\"class\": \"sim-s\", \"version\": 1, " REF_OK ", \"attestation\": {\"interval_s\": 1, "
        "\"missed_limit\": 4}, \"actions\": {\"on_missed\": [\"quarantine\", {\"notify\": {\"webhook\": "
        "\"ops\"}}]}, %s}",
        hooks(5, 1));
    json_t *a = admin_ok("policy apply '%s' --json", P("s1.json"));
    assert_int_equal(jint(json_object_get(a, "interval_s"), "new"), 1);
    assert_int_equal(jint(json_object_get(a, "interval_s"), "live"), 3600);
    json_decref(a);

    /* the daemon follows the policy's interval (the server's default is 3600 s) */
    json_t *d = device(0);
    long long before = jint(d, "attest_count");
    json_decref(d);
    agent_start(0);
    long long count = before;
    for (int t = 0; t < 40 && count < before + 4; t++) {
        usleep(250000);
        d = device(0);
        count = jint(d, "attest_count");
        json_decref(d);
    }
    if (count < before + 4)
        fail_msg("the agent attested %lld times in 10 s: it does not follow the 1 s interval",
                 count - before);
    char log[300];
    snprintf(log, sizeof log, "%s/agent0.log", G.root);
    char *text = e2e_slurp(log);
    assert_non_null(strstr(text, "next in 1 s"));
    free(text);
    assert_false(stale(0));

    /* silent: stale after 1 x 4 + 1 s; on_missed runs once per episode (a
     * slow build may see an episode while the agent still ran: each counts) */
    agent_stop(0);
    if (!wait_for(stale, 0, 15000))
        fail_msg("dev0 did not go stale (server log %s)", G.srv.log);
    if (!wait_for(quarantined, 0, 10000))
        fail_msg("dev0 was not quarantined by on_missed");
    d = device(0);
    assert_non_null(strstr(jtext(d, "status_reason"), "automatic quarantine (policy sim-s@1, on_missed)"));
    json_decref(d);
    if (!wait_for(stale_delivered, 0, 20000))
        fail_msg("the receiver never accepted the stale event");
    sleep(3); /* more sweeps: nothing runs twice */
    json_t *st = standing(0);
    long long episodes = jint(st, "stale_episodes");
    json_decref(st);
    assert_true(episodes >= 1);
    assert_int_equal(count_actions(0, "on_missed", "quarantine", "done"), episodes);
    assert_int_equal(count_actions(0, "on_missed", "notify", "done"), episodes);
    hit all[16], h[8];
    size_t na = hits_for(&G.rx, "device.stale", G.devid[0], all, 16), n = 0;
    assert_true(na >= 3 && na <= 16);
    for (size_t k = 0; k < na; k++) /* the first delivery's attempts */
        if (strcmp(all[k].delivery, all[0].delivery) == 0 && n < 8)
            h[n++] = all[k];
    assert_int_equal(n, 3);                     /* refused twice, accepted once, never again */
    assert_int_equal(na, 3 * (size_t)episodes); /* one event per episode */
    for (size_t k = 0; k < n; k++) {
        assert_true(h[k].sig_ok);
        assert_true(h[k].fresh);
        assert_string_equal(h[k].body, h[0].body); /* the same event, re-signed */
        assert_int_equal(h[k].answered, k < 2 ? 500 : 200);
    }
    assert_true(h[2].ms - h[1].ms >= 1000); /* back-off: 1 s, then 2 s */
    json_t *ev = json_loads(h[0].body, 0, NULL);
    assert_non_null(ev);
    assert_string_equal(jtext(ev, "event"), "device.stale");
    assert_string_equal(jtext(ev, "device_id"), G.devid[0]);
    assert_string_equal(jtext(ev, "class"), "sim-s");
    assert_string_equal(jtext(ev, "delivery_id"), h[0].delivery);
    assert_int_equal(jint(ev, "policy_version"), 1);
    json_decref(ev);
    json_t *w = admin_ok("webhooks deliveries --json"), *x, *found = NULL;
    size_t k;
    json_array_foreach(json_object_get(w, "deliveries"), k, x)
    {
        if (strcmp(jtext(x, "delivery_id"), h[0].delivery) == 0)
            found = x;
    }
    assert_non_null(found);
    assert_string_equal(jtext(found, "state"), "delivered");
    assert_int_equal(jint(found, "attempts"), 3);
    json_t *log_ = json_object_get(found, "attempt_log");
    assert_int_equal(json_array_size(log_), 3);
    assert_int_equal(jint(json_array_get(log_, 0), "http_status"), 500);
    assert_int_equal(jint(json_array_get(log_, 1), "http_status"), 500);
    assert_int_equal(jint(json_array_get(log_, 2), "http_status"), 200);
    json_decref(w);
    assert_int_equal(admin_rc("webhooks deliveries"), 0);
    assert_non_null(strstr(G.o.out, "delivered"));

    /* the next attestation ends the episode */
    agent_start(0);
    if (!wait_for(not_stale, 0, 15000))
        fail_msg("an attestation did not end dev0's stale episode");
    /* calm the class down for the other tests: no attestation section any more */
    write_file("s2.json", "{\"class\": \"sim-s\", \"version\": 2, " REF_OK "}");
    json_decref(admin_ok("policy apply '%s' --json", P("s2.json")));
    agent_stop(0);
    G.rx.fail_first = 0;
}

/* ---- Test 3 ------------------------------------------------------------------------------------ */

static bool tamper_delivered(int i)
{
    hit h[4];
    size_t n = hits_for(&G.rx, "device.tamper", G.devid[i], h, 4);
    return n > 0 && h[0].answered == 200;
}

static void test_fail_stays_failed(void **state)
{
    (void)state;
    G.rx.fail_first = 0;
    write_file("v2.json",
               "{\"class\": \"sim-v1\", \"version\": 2, " REF_OK
               ", \"actions\": {\"on_tamper\": [{\"notify\": {\"webhook\": \"ops\"}}]}, %s}",
               hooks(3, 1));
    json_decref(admin_ok("policy apply '%s' --json", P("v2.json")));
    if (attest_once(1) != 0)
        fail_msg("dev1 should PASS: %s%s", G.o.out, G.o.err);
    assert_false(failed(1));
    /* a voltage glitch, a power cycle: the next token carries the raised tamper count */
    assert_non_null(strstr(apm_proc_control(&G.dev[1], "tamper voltage 2500"), "ok"));
    assert_int_not_equal(attest_once(1), 0); /* the APM refuses key use until it is reset */
    assert_non_null(strstr(G.o.err, "locked by a tamper event"));
    apm_proc_kill(&G.dev[1]);
    apm_proc_start(&G.dev[1]);
    int rc = attest_once(1);
    if (rc != 1 || strstr(G.o.out, "tamper: ") == NULL)
        fail_msg("dev1 should FAIL for tamper: exit %d: %s%s", rc, G.o.out, G.o.err);
    assert_non_null(strstr(G.o.out, "action: webhook ops: delivery"));
    json_t *s = standing(1);
    assert_true(json_is_true(json_object_get(s, "failed")));
    assert_true(json_is_true(json_object_get(s, "failed_tamper")));
    json_decref(s);
    if (!wait_for(tamper_delivered, 1, 15000))
        fail_msg("the tamper event did not reach the receiver");
    hit h[2];
    assert_int_equal(hits_for(&G.rx, "device.tamper", G.devid[1], h, 2), 1);
    assert_true(h[0].sig_ok);
    json_t *ev = json_loads(h[0].body, 0, NULL);
    assert_string_equal(jtext(ev, "verdict"), "FAIL");
    assert_int_equal(jint(ev, "policy_version"), 2);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(ev, "reasons"), 0)), "tamper"));
    json_decref(ev);

    /* a later PASS does not clear it; the answer says so */
    if (attest_once(1) != 0)
        fail_msg("dev1 should PASS again: %s%s", G.o.out, G.o.err);
    assert_non_null(strstr(G.o.out, "stays failed"));
    assert_true(failed(1));
    /* a policy does not clear a tamper failure */
    write_file("v3.json", "{\"class\": \"sim-v1\", \"version\": 3, " REF_OK "}");
    json_t *plan = admin_ok("policy plan '%s' --json", P("v3.json")), *dv;
    size_t k;
    int seen = 0;
    json_array_foreach(json_object_get(plan, "devices"), k, dv)
    {
        if (strcmp(jtext(dv, "device_id"), G.devid[1]) == 0) {
            assert_false(json_is_true(json_object_get(dv, "clear_failed")));
            seen++;
        }
    }
    assert_int_equal(seen, 1);
    json_decref(plan);
    /* an operator does, once, with a reason */
    char args[200];
    snprintf(args, sizeof args, "device clear %s", G.devid[1]);
    assert_int_equal(admin_rc(args), 2); /* no --reason */
    assert_true(failed(1));
    json_t *c = admin_ok("device clear %s --reason 'site visit: supply fixed' --json", G.devid[1]);
    assert_false(json_is_true(json_object_get(c, "failed")));
    assert_string_equal(jtext(json_object_get(c, "cleared"), "by"), "operator:admin");
    assert_string_equal(jtext(json_object_get(c, "cleared"), "reason"), "site visit: supply fixed");
    json_decref(c);
    assert_false(failed(1));
    assert_null(admin("device clear %s --reason again --json", G.devid[1]));
    assert_non_null(strstr(G.o.err, "not failed"));
    assert_int_equal(count_actions(1, "operator", "clear", "done"), 1);
    assert_int_equal(count_actions(1, "on_tamper", "notify", "done"), 1);
}

/* ---- Test 4 ------------------------------------------------------------------------------------ */

/* "action:device-or-component" for each action of a plan or apply answer, sorted. */
static void action_set(const json_t *r, char *out, size_t cap)
{
    char items[16][120];
    size_t n = 0, k;
    json_t *a;
    json_array_foreach(json_object_get(r, "actions"), k, a)
    {
        assert_true(n < 16);
        const char *who =
            json_object_get(a, "device_id") != NULL ? jtext(a, "device_id") : jtext(a, "component");
        snprintf(items[n++], sizeof items[0], "%s:%s", jtext(a, "action"), who);
    }
    qsort(items, n, sizeof items[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s ", items[i]);
}

/* The device ids of an array of {"device_id"} objects, sorted, space-separated. */
static void device_set(const json_t *arr, char *out, size_t cap)
{
    char items[16][40];
    size_t n = 0, k;
    json_t *d;
    json_array_foreach(arr, k, d)
    {
        assert_true(n < 16);
        snprintf(items[n++], sizeof items[0], "%s", jtext(d, "device_id"));
    }
    qsort(items, n, sizeof items[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s ", items[i]);
}

static void age_keys(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(G.dbpath, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE devices SET registered_at = registered_at - 30 * 86400 "
                                  "WHERE class = 'sim-v1'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* One number from the server's SQLite database, read directly. */
static long long sql_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_count(const char *fmt, ...)
{
    char q[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(G.dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (v < 0)
        fail_msg("query failed: %s", q);
    return v;
}

static void test_plan_apply(void **state)
{
    (void)state;
    /* v3: reference values no device meets. The plan says so and changes nothing. */
    write_file("v3.json",
               "{\"class\": \"sim-v1\", \"version\": 3, \"reference\": {\"components\": [{\"type\": "
               "\"APM\", \"min_svn\": 99}]}}");
    json_t *plan = admin_ok("policy plan '%s' --json", P("v3.json")), *dv;
    size_t k;
    int changes = 0;
    json_array_foreach(json_object_get(plan, "devices"), k, dv)
    {
        json_t *ev = json_object_get(dv, "evidence");
        assert_string_equal(jtext(ev, "live"), "PASS");
        assert_string_equal(jtext(ev, "new"), "FAIL");
        assert_non_null(strstr(jtext(ev, "new_reasons"), "comp-svn"));
        changes++;
    }
    assert_int_equal(changes, 2);
    assert_int_equal(jint(json_object_get(plan, "summary"), "verdict_changes"), 2);
    json_decref(plan);
    json_decref(admin_ok("policy apply '%s' --json", P("v3.json")));
    assert_int_equal(attest_once(2), 1); /* FAIL, not tamper: failed */
    assert_non_null(strstr(G.o.out, "comp-svn"));
    assert_true(failed(2));

    /* v4: sane values again (they clear dev2), keys older than 10 days, firmware: a
     * HOST-OS release, which must be published first */
    age_keys();
    char planned[1000], applied[1000], recorded[1000], want[1000];
    write_file("v4.json", "{\"class\": \"sim-v1\", \"version\": 4, " REF_OK
                          ", \"firmware\": {\"HOST-OS\": {\"version\": \"1.1\", \"max_in_flight\": 1}}}");
    assert_int_equal(admin_rc_f("policy plan '%s'", P("v4.json")), 1);
    assert_non_null(
        strstr(G.o.err, "/firmware/HOST-OS/version: no published release of HOST-OS version 1.1"));
    assert_int_equal(
        apm_proc_sh("head -c 8192 /dev/urandom > '%s' && '%s' firmware sign --dir '%s' --component "
                    "HOST-OS --version 1.1 --svn 1 --out '%s' '%s' >/dev/null",
                    P("os11.img"), DROTCTL_BIN, G.keys, P("os11.man"), P("os11.img")),
        0);
    json_decref(admin_ok("firmware publish '%s' '%s' --json", P("os11.man"), P("os11.img")));
    write_file("v4.json",
               "{\"class\": \"sim-v1\", \"version\": 4, " REF_OK
               ", \"keys\": {\"max_age_days\": 10, \"rotation_mode\": \"server\", \"max_parallel\": 1}, "
               "\"firmware\": {\"HOST-OS\": {\"version\": \"1.1\", \"max_in_flight\": 1}}}");
    plan = admin_ok("policy plan '%s' --json", P("v4.json"));
    char fw_planned[200] = "", fw_applied[200] = "";
    json_t *a;
    json_array_foreach(json_object_get(plan, "actions"), k, a)
    {
        if (strcmp(jtext(a, "action"), "update") == 0)
            device_set(json_object_get(a, "devices"), fw_planned, sizeof fw_planned);
    }
    snprintf(want, sizeof want, "%s %s ", strcmp(G.devid[1], G.devid[2]) < 0 ? G.devid[1] : G.devid[2],
             strcmp(G.devid[1], G.devid[2]) < 0 ? G.devid[2] : G.devid[1]);
    assert_string_equal(fw_planned, want); /* both devices of the class would be updated */
    action_set(plan, planned, sizeof planned);
    snprintf(want, sizeof want, "clear:%s rotate:%s rotate:%s update:HOST-OS ", G.devid[2],
             strcmp(G.devid[1], G.devid[2]) < 0 ? G.devid[1] : G.devid[2],
             strcmp(G.devid[1], G.devid[2]) < 0 ? G.devid[2] : G.devid[1]);
    assert_string_equal(planned, want);
    json_decref(plan);
    /* the plan changed nothing */
    json_t *r = admin_ok("rotations --json");
    assert_int_equal(jint(r, "count"), 0);
    json_decref(r);
    assert_true(failed(2));
    r = admin_ok("policy get sim-v1 --json");
    assert_int_equal(jint(r, "version"), 3);
    json_decref(r);

    json_t *ap = admin_ok("policy apply '%s' --json", P("v4.json"));
    action_set(ap, applied, sizeof applied);
    assert_string_equal(applied, planned);
    long long campaign = 0, rollout = 0;
    json_array_foreach(json_object_get(ap, "actions"), k, a)
    {
        if (strcmp(jtext(a, "action"), "rotate") == 0) {
            assert_true(jint(a, "job_id") > 0);
            assert_true(campaign == 0 || campaign == jint(a, "campaign_id"));
            campaign = jint(a, "campaign_id");
        }
        if (strcmp(jtext(a, "action"), "update") == 0)
            rollout = jint(a, "rollout_id");
    }
    json_decref(ap);
    /* the firmware rollout apply started has a job for exactly the planned devices, staged 1 at a time */
    assert_true(rollout > 0);
    json_t *ro = admin_ok("firmware rollout-show %lld --json", rollout);
    assert_int_equal(
        jint(json_object_get(ro, "rollout") ? json_object_get(ro, "rollout") : ro, "max_in_flight"), 1);
    json_decref(ro);
    json_t *jobs = admin_ok("firmware jobs --rollout %lld --json", rollout), *ids = json_array(), *j;
    json_array_foreach(json_object_get(jobs, "jobs"), k, j)
    {
        json_array_append_new(ids, json_pack("{s:s}", "device_id", jtext(j, "device_id")));
    }
    device_set(ids, fw_applied, sizeof fw_applied);
    assert_string_equal(fw_applied, fw_planned);
    json_decref(ids);
    json_decref(jobs);
    /* what apply did is recorded, action by action */
    json_t *acts = admin_ok("policy actions sim-v1 --json");
    json_t *rec = json_pack("{s:[]}", "actions");
    json_array_foreach(json_object_get(acts, "actions"), k, a)
    {
        if (strcmp(jtext(a, "cause"), "apply") != 0 || jint(a, "policy_version") != 4)
            continue;
        json_t *e =
            strcmp(jtext(a, "action"), "update") == 0
                ? json_pack("{s:s, s:s}", "action", "update", "component", jtext(a, "target"))
                : json_pack("{s:s, s:s}", "action", jtext(a, "action"), "device_id", jtext(a, "device_id"));
        json_array_append_new(json_object_get(rec, "actions"), e);
        assert_string_equal(jtext(a, "state"), "done");
    }
    action_set(rec, recorded, sizeof recorded);
    assert_string_equal(recorded, planned);
    json_decref(rec);
    json_decref(acts);
    assert_false(failed(2)); /* cleared by the policy */
    json_t *s = standing(2);
    assert_string_equal(jtext(json_object_get(s, "cleared"), "by"), "policy:sim-v1@4");
    json_decref(s);
    /* the staged rollout: one campaign, at most one in flight, carried out by the devices */
    json_t *c = admin_ok("campaign show %lld --json", campaign);
    assert_int_equal(jint(c, "max_parallel"), 1);
    assert_int_equal(jint(json_object_get(c, "jobs"), "pending"), 2);
    json_decref(c);
    for (int round = 0; round < 12; round++) {
        apm_proc_sh(
            "'%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' --storage '%s' "
            ">>'%s/rot.log' 2>&1 & '%s' --socket '%s' --link-key '%s' attest-once --server '%s' --ca '%s' "
            "--storage '%s' >>'%s/rot.log' 2>&1 & wait",
            DROT_AGENT_BIN, G.dev[1].sock, G.dev[1].key, G.srv.url, G.ca, G.storage[1], G.root,
            DROT_AGENT_BIN, G.dev[2].sock, G.dev[2].key, G.srv.url, G.ca, G.storage[2], G.root);
        c = admin_ok("campaign show %lld --json", campaign);
        bool done = jint(json_object_get(c, "jobs"), "completed") == 2;
        assert_true(jint(json_object_get(c, "jobs"), "issued") <= 1);
        json_decref(c);
        if (done)
            break;
    }
    c = admin_ok("campaign show %lld --json", campaign);
    if (strcmp(jtext(c, "state"), "done") != 0)
        fail_msg("the policy's rotations did not complete: %s", G.o.out);
    json_decref(c);
    for (int i = 1; i <= 2; i++) {
        json_t *d = device(i);
        assert_int_equal(jint(d, "epoch"), 1);
        json_decref(d);
    }
    /* fresh keys: the next version plans no rotation */
    write_file("v5.json",
               "{\"class\": \"sim-v1\", \"version\": 5, " REF_OK
               ", \"keys\": {\"max_age_days\": 10, \"rotation_mode\": \"server\", \"max_parallel\": 1}}");
    plan = admin_ok("policy plan '%s' --json", P("v5.json"));
    assert_int_equal(jint(json_object_get(plan, "summary"), "rotations"), 0);
    json_decref(plan);
}

/* ---- Test 5 ------------------------------------------------------------------------------------ */

static bool failed_delivered(int i)
{
    hit h[4];
    size_t n = hits_for(&G.rx, "device.failed", G.devid[i], h, 4);
    return n > 0 && h[n - 1].answered == 200;
}

static bool update_done(int i)
{
    return count_actions(i, "on_fail", "update", "done") == 1;
}

static void test_quarantine_on_fail(void **state)
{
    (void)state;
    write_file(
        "v5.json",
        "{\"class\": \"sim-v1\", \"version\": 5, \"reference\": {\"components\": [{\"type\": \"APM\", "
        "\"min_svn\": 99}]}, \"firmware\": {\"HOST-OS\": {\"version\": \"1.1\", \"max_in_flight\": 1}}, "
        "\"actions\": {\"on_fail\": [\"quarantine\", {\"notify\": {\"webhook\": \"ops\"}}, \"update\"]}, "
        "%s}",
        hooks(3, 1));
    json_decref(admin_ok("policy apply '%s' --json", P("v5.json")));
    assert_int_equal(attest_once(2), 1);
    assert_non_null(strstr(G.o.out, "comp-svn"));
    assert_non_null(strstr(G.o.out, "action: device quarantined automatically"));
    json_t *d = device(2);
    assert_string_equal(jtext(d, "status"), "quarantined");
    assert_non_null(
        strstr(jtext(d, "status_reason"), "automatic quarantine (policy sim-v1@5, on_fail): comp-svn"));
    json_t *last = json_object_get(d, "last_attestation");
    assert_string_equal(jtext(last, "result"), "FAIL");
    assert_string_equal(jtext(last, "action"), "quarantined"); /* in the attestation's own transaction */
    json_decref(d);
    assert_int_equal(count_actions(2, "on_fail", "quarantine", "done"), 1);
    assert_int_equal(count_actions(2, "on_fail", "notify", "done"), 1);
    /* update: the worker ensures the firmware rollout (the open one is kept) */
    if (!wait_for(update_done, 2, 10000))
        fail_msg("the on_fail update was not carried out");
    json_t *acts = admin_ok("policy actions sim-v1 --device %s --json", G.devid[2]), *a;
    size_t k;
    int updates = 0;
    json_array_foreach(json_object_get(acts, "actions"), k, a)
    {
        if (strcmp(jtext(a, "action"), "update") == 0 && strcmp(jtext(a, "cause"), "on_fail") == 0) {
            assert_non_null(strstr(jtext(a, "result"), "HOST-OS 1.1: rollout "));
            updates++;
        }
    }
    assert_int_equal(updates, 1);
    json_decref(acts);
    if (!wait_for(failed_delivered, 2, 15000))
        fail_msg("the failure event did not reach the receiver");
    hit h[4];
    size_t n = hits_for(&G.rx, "device.failed", G.devid[2], h, 4);
    assert_true(h[n - 1].sig_ok);
    json_t *ev = json_loads(h[n - 1].body, 0, NULL);
    assert_int_equal(jint(ev, "policy_version"), 5);
    assert_true(jint(ev, "attestation_id") > 0);
    json_decref(ev);

    /* everything the engine changed is in the audit log */
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE action = 'policy.apply'"), 7);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE action = 'policy.apply' AND actor = "
                               "'operator:admin' AND subject = 'sim-v1' AND detail LIKE '%%\"version\":5%%'"),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE action = 'policy.clear'"), 2);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE action = 'policy.clear' AND actor = "
                               "'policy:sim-v1@4' AND subject = '%s'",
                               G.devid[2]),
                     1);
    assert_int_equal(
        sql_count("SELECT count(*) FROM audit_log WHERE action = 'policy.stale' AND actor = "
                  "'policy:sim-s@1' AND subject = '%s'",
                  G.devid[0]),
        sql_count("SELECT stale_episodes FROM device_policy_state WHERE hex(device_id) = upper('%s')",
                  G.devid[0]));
    assert_int_equal(
        sql_count("SELECT count(*) FROM audit_log WHERE action = 'device.quarantine' AND subject = "
                  "'%s' AND detail LIKE '%%policy sim-v1@5, on_fail%%'",
                  G.devid[2]),
        1);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE action = 'device.status' AND actor = "
                               "'policy:sim-s@1' AND subject = '%s'",
                               G.devid[0]),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE action = 'rotation.create' AND actor = "
                               "'policy:sim-v1@4'"),
                     2);
    assert_true(sql_count("SELECT count(*) FROM audit_log WHERE action = 'webhook.delivered'") >= 3);
    assert_int_equal(
        sql_count("SELECT count(*) FROM audit_log WHERE action = 'policy.failed' AND subject = '%s'",
                  G.devid[1]),
        1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_stale_and_webhook),
        cmocka_unit_test(test_fail_stays_failed),
        cmocka_unit_test(test_plan_apply),
        cmocka_unit_test(test_quarantine_on_fail),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
