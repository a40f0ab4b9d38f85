/*
 * fleet_util.c — drot-fleet's helpers: latency statistics, what /proc says
 * about the server processes, the raw-operation reference, the admin API
 * client, small file helpers.
 *
 * The reference (fleet_reference) is measured the way tests/bench/
 * bench_crypto.c measures (docs/performance.md): CPU time of this thread,
 * operations in batches of about 2 ms, taken round-robin so that whatever
 * the machine does meanwhile hits every operation alike; the figure of each
 * is its total CPU time over its count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "fleet.h"

/* ---- latencies ---------------------------------------------------------------- */

int fleet_lat_add(fleet_lat *l, uint32_t us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 1024 : l->cap * 2;
        uint32_t *p = realloc(l->us, cap * sizeof *p);
        if (p == NULL)
            return -1;
        l->us = p;
        l->cap = cap;
    }
    l->us[l->n++] = us;
    return 0;
}

void fleet_lat_merge(fleet_lat *into, fleet_lat *from)
{
    for (size_t i = 0; i < from->n; i++)
        fleet_lat_add(into, from->us[i]);
}

void fleet_lat_free(fleet_lat *l)
{
    free(l->us);
    memset(l, 0, sizeof *l);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted values. */
static double pct(const fleet_lat *l, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)l->n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > l->n)
        k = l->n;
    return l->us[k - 1] / 1000.0;
}

json_t *fleet_lat_json(fleet_lat *l)
{
    if (l->n == 0)
        return json_pack("{s:i}", "count", 0);
    qsort(l->us, l->n, sizeof *l->us, cmp_u32);
    double sum = 0;
    for (size_t i = 0; i < l->n; i++)
        sum += l->us[i];
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)l->n, "p50_ms", pct(l, 50),
                     "p90_ms", pct(l, 90), "p99_ms", pct(l, 99), "max_ms", l->us[l->n - 1] / 1000.0,
                     "mean_ms", sum / (double)l->n / 1000.0);
}

/* ---- /proc ---------------------------------------------------------------------- */

uint64_t fleet_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double fleet_proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name "(…)", which may hold spaces: state is
     * field 3, utime 14, stime 15 (proc(5)). */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void fleet_proc_mem(pid_t pid, long *rss_kb, long *hwm_kb, long *fds)
{
    char path[64], line[256];
    *rss_kb = *hwm_kb = *fds = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "VmRSS: %ld kB", rss_kb);
        sscanf(line, "VmHWM: %ld kB", hwm_kb);
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | wc -l", path);
    FILE *p = popen(cmd, "r");
    if (p != NULL) {
        if (fscanf(p, "%ld", fds) != 1)
            *fds = -1;
        pclose(p);
    }
}

/* ---- the raw reference ------------------------------------------------------------ */

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct ref_ctx {
    drot_p256_priv priv;
    drot_p256_pub pub, peer;
    uint8_t digest[32], sig[64];
    EVP_PKEY *x_a, *x_b, *evp_pub;
    drot_rng rng;
} ref_ctx;

static int op_verify(ref_ctx *c)
{
    return drot_ecdsa_p256_verify(&c->pub, c->digest, c->sig, 64) == DROT_OK ? 0 : -1;
}

static int op_sign(ref_ctx *c)
{
    uint8_t sig[64];
    return drot_ecdsa_p256_sign(&c->priv, c->digest, sig) == DROT_OK ? 0 : -1;
}

static int op_keygen(ref_ctx *c)
{
    drot_p256_priv k;
    drot_p256_pub p;
    int rc = drot_p256_keygen(&c->rng, &k, &p) == DROT_OK ? 0 : -1;
    drot_wipe(&k, sizeof k);
    return rc;
}

static int op_ecdh(ref_ctx *c)
{
    uint8_t z[32];
    return drot_ecdh_p256(&c->priv, c->peer.q, sizeof c->peer.q, z) == DROT_OK ? 0 : -1;
}

static int op_x25519_keygen(ref_ctx *c)
{
    (void)c;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY_free(k);
    return k != NULL ? 0 : -1;
}

static int op_x25519_derive(ref_ctx *c)
{
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(c->x_a, NULL);
    uint8_t z[32];
    size_t zl = sizeof z;
    int ok = d != NULL && EVP_PKEY_derive_init(d) == 1 && EVP_PKEY_derive_set_peer(d, c->x_b) == 1 &&
             EVP_PKEY_derive(d, z, &zl) == 1;
    EVP_PKEY_CTX_free(d);
    return ok ? 0 : -1;
}

/* ECDSA verify on an EVP_PKEY built once: OpenSSL's floor, without the
 * per-call key set-up of the drot port. */
static int op_verify_prebuilt(ref_ctx *c)
{
    /* DER of the raw r||s signature, built once in fleet_reference. */
    static __thread uint8_t der[80];
    static __thread size_t der_len;
    if (der_len == 0) {
        uint8_t *p = der;
        der[0] = 0x30;
        size_t off = 2;
        for (int h = 0; h < 2; h++) {
            const uint8_t *v = c->sig + 32 * h;
            size_t skip = 0;
            while (skip < 31 && v[skip] == 0)
                skip++;
            bool pad = (v[skip] & 0x80) != 0;
            p[off++] = 0x02;
            p[off++] = (uint8_t)(32 - skip + pad);
            if (pad)
                p[off++] = 0;
            memcpy(p + off, v + skip, 32 - skip);
            off += 32 - skip;
        }
        der[1] = (uint8_t)(off - 2);
        der_len = off;
    }
    EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(c->evp_pub, NULL);
    int ok =
        v != NULL && EVP_PKEY_verify_init(v) == 1 && EVP_PKEY_verify(v, der, der_len, c->digest, 32) == 1;
    EVP_PKEY_CTX_free(v);
    return ok ? 0 : -1;
}

static EVP_PKEY *evp_from_pub(const drot_p256_pub *pub)
{
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_utf8_string("group", "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string("pub", (void *)pub->q, sizeof pub->q);
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *out = NULL;
    if (k == NULL || EVP_PKEY_fromdata_init(k) != 1 ||
        EVP_PKEY_fromdata(k, &out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        out = NULL;
    EVP_PKEY_CTX_free(k);
    return out;
}

typedef struct ref_op {
    const char *name;
    int (*fn)(ref_ctx *);
    unsigned long batch, count;
    uint64_t ns;
} ref_op;

json_t *fleet_reference(double seconds)
{
    ref_ctx c;
    memset(&c, 0, sizeof c);
    c.rng = drot_sysrng();
    drot_p256_priv pk;
    json_t *out = NULL;
    if (drot_p256_keygen(&c.rng, &c.priv, &c.pub) != DROT_OK ||
        drot_p256_keygen(&c.rng, &pk, &c.peer) != DROT_OK)
        return NULL;
    drot_sha256("drot-fleet reference", 20, c.digest);
    c.x_a = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    c.x_b = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    c.evp_pub = evp_from_pub(&c.pub);
    ref_op ops[] = {{"ecdsa_p256_verify_us", op_verify, 0, 0, 0},
                    {"ecdsa_p256_sign_us", op_sign, 0, 0, 0},
                    {"p256_keygen_us", op_keygen, 0, 0, 0},
                    {"ecdh_p256_us", op_ecdh, 0, 0, 0},
                    {"x25519_keygen_us", op_x25519_keygen, 0, 0, 0},
                    {"x25519_derive_us", op_x25519_derive, 0, 0, 0},
                    {"evp_verify_prebuilt_us", op_verify_prebuilt, 0, 0, 0}};
    size_t n_ops = sizeof ops / sizeof ops[0];
    if (c.x_a == NULL || c.x_b == NULL || c.evp_pub == NULL ||
        drot_ecdsa_p256_sign(&c.priv, c.digest, c.sig) != DROT_OK)
        goto done;
    /* Calibrate: a batch of about 2 ms per operation (also warms up). */
    for (size_t i = 0; i < n_ops; i++) {
        unsigned long b = 1;
        for (;;) {
            uint64_t t0 = cpu_ns();
            for (unsigned long k = 0; k < b; k++)
                if (ops[i].fn(&c) != 0)
                    goto done;
            if (cpu_ns() - t0 >= 2000000u || b >= (1ul << 20))
                break;
            b *= 2;
        }
        ops[i].batch = b;
    }
    uint64_t budget = (uint64_t)(seconds * 1e9) * n_ops, spent = 0;
    while (spent < budget) {
        for (size_t i = 0; i < n_ops; i++) {
            uint64_t t0 = cpu_ns();
            for (unsigned long k = 0; k < ops[i].batch; k++)
                if (ops[i].fn(&c) != 0)
                    goto done;
            uint64_t dt = cpu_ns() - t0;
            ops[i].ns += dt;
            ops[i].count += ops[i].batch;
            spent += dt;
        }
    }
    out = json_object();
    for (size_t i = 0; i < n_ops; i++)
        json_object_set_new(out, ops[i].name, json_real((double)ops[i].ns / 1000.0 / (double)ops[i].count));
done:
    drot_wipe(&c.priv, sizeof c.priv);
    drot_wipe(&pk, sizeof pk);
    EVP_PKEY_free(c.x_a);
    EVP_PKEY_free(c.x_b);
    EVP_PKEY_free(c.evp_pub);
    return out;
}

/* ---- admin API -------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    buf *b = ctx;
    size_t len = sz * n;
    if (b->n + len > (64u << 20))
        return 0;
    char *q = realloc(b->p, b->n + len + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->n, p, len);
    b->p = q;
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

long fleet_admin(const fleet_cfg *c, size_t server, const char *method, const char *path, const char *body,
                 json_t **out, char *err, size_t cap)
{
    if (out != NULL)
        *out = NULL;
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->urls[server], path);
    buf b = {NULL, 0};
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    curl_easy_setopt(h, CURLOPT_CAPATH, (char *)NULL);
    curl_easy_setopt(h, CURLOPT_SSLCERT, c->op_cert);
    curl_easy_setopt(h, CURLOPT_SSLKEY, c->op_key);
    if (c->passphrase != NULL)
        curl_easy_setopt(h, CURLOPT_KEYPASSWD, c->passphrase);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(h);
    long code = -1;
    if (rc != CURLE_OK) {
        snprintf(err, cap,
                 "%s %s: %s (is drot-server running at %s? are --operator-cert/--operator-key right?)",
                 method, path, curl_easy_strerror(rc), c->urls[server]);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        json_t *j = b.p != NULL ? json_loads(b.p, 0, NULL) : NULL;
        if (code >= 300) {
            const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
            snprintf(err, cap, "%s %s: HTTP %ld: %s", method, path, code, m != NULL ? m : (b.p ? b.p : ""));
        }
        if (out != NULL)
            *out = j;
        else
            json_decref(j);
    }
    free(b.p);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

/* ---- files -------------------------------------------------------------------------- */

int fleet_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char *p = malloc(65537);
    size_t n = p != NULL ? fread(p, 1, 65536, f) : 0;
    fclose(f);
    if (p == NULL || n == 65536) {
        free(p);
        return -1;
    }
    p[n] = '\0';
    *out = p;
    if (len != NULL)
        *len = n;
    return 0;
}

int fleet_write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, p, n);
    return (close(fd) == 0 && w == (ssize_t)n) ? 0 : -1;
}

void fleet_hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}
