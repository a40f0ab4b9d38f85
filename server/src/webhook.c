/*
 * webhook.c — see webhook.h. The HMAC goes through the crypto port
 * (drot_hmac_sha256_v); the HTTP through libcurl, one easy handle per
 * attempt, no redirects followed, the system's CA store for https.
 */
#define _POSIX_C_SOURCE 200809L
#include "webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "drot_crypto.h"
#include "policy_store.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int mac(const uint8_t *secret, size_t secret_len, const char *t, const char *body, size_t len,
               uint8_t out[DROT_HMAC_SHA256_LEN])
{
    drot_cbuf parts[] = {{t, strlen(t)}, {".", 1}, {body, len}};
    return drot_hmac_sha256_v(secret, secret_len, parts, 3, out) == DROT_OK ? 0 : -1;
}

/* see webhook.h */
int ds_wh_sign(const uint8_t *secret, size_t secret_len, int64_t t, const char *body, size_t len,
               char out[DS_WH_SIG_MAX])
{
    char ts[24], hx[2 * DROT_HMAC_SHA256_LEN + 1];
    uint8_t m[DROT_HMAC_SHA256_LEN];
    if (secret == NULL || secret_len == 0 || body == NULL || out == NULL || t < 0)
        return -1;
    snprintf(ts, sizeof ts, "%" PRId64, t);
    if (mac(secret, secret_len, ts, body, len, m) != 0)
        return -1;
    hex(m, sizeof m, hx);
    snprintf(out, DS_WH_SIG_MAX, "t=%s,v1=%s", ts, hx);
    return 0;
}

/* see webhook.h */
int ds_wh_verify(const uint8_t *secret, size_t secret_len, const char *header, const char *body, size_t len,
                 int64_t now, int64_t tolerance)
{
    char ts[24];
    uint8_t want[DROT_HMAC_SHA256_LEN], got[DROT_HMAC_SHA256_LEN];
    if (secret == NULL || header == NULL || body == NULL || strncmp(header, "t=", 2) != 0)
        return -1;
    const char *p = header + 2, *comma = strchr(p, ',');
    size_t tl = comma != NULL ? (size_t)(comma - p) : 0;
    if (tl == 0 || tl >= sizeof ts || strncmp(comma, ",v1=", 4) != 0 || strlen(comma + 4) != 2 * sizeof got)
        return -1;
    memcpy(ts, p, tl);
    ts[tl] = '\0';
    int64_t t = 0;
    for (size_t i = 0; i < tl; i++) {
        if (ts[i] < '0' || ts[i] > '9' || t > (INT64_MAX - 9) / 10)
            return -1;
        t = t * 10 + (ts[i] - '0');
    }
    for (size_t i = 0; i < sizeof got; i++) {
        unsigned v;
        if (sscanf(comma + 4 + 2 * i, "%2x", &v) != 1)
            return -1;
        got[i] = (uint8_t)v;
    }
    if (t > now + tolerance || t < now - tolerance)
        return -2;
    if (mac(secret, secret_len, ts, body, len, want) != 0)
        return -3;
    int rc = drot_ct_equal(want, got, sizeof got) == DROT_OK ? 0 : -3;
    drot_wipe(want, sizeof want);
    return rc;
}

/* see webhook.h */
int ds_wh_read_secret(const char *path, uint8_t *out, size_t cap, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "secret file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(out, 1, cap, f);
    int more = fgetc(f);
    fclose(f);
    if (more != EOF) {
        drot_wipe(out, cap);
        snprintf(err, errlen, "secret file %s: longer than %zu bytes", path, cap);
        return -1;
    }
    if (n > 0 && out[n - 1] == '\n')
        n--;
    if (n > 0 && out[n - 1] == '\r')
        n--;
    if (n < DS_WH_SECRET_MIN) {
        drot_wipe(out, cap);
        snprintf(err, errlen, "secret file %s: %zu bytes, at least %d needed", path, n, DS_WH_SECRET_MIN);
        return -1;
    }
    *len = n;
    return 0;
}

/* see webhook.h */
int ds_wh_new_id(char out[33])
{
    uint8_t r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    hex(r, sizeof r, out);
    return 0;
}

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return sz * n;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One signed POST: the HTTP status (0: no answer), err says what went wrong. */
static int64_t post(const ds_wh_row *w, long timeout_ms, char *err, size_t errlen)
{
    static uint8_t secret[DS_WH_SECRET_MAX];
    char sig[DS_WH_SIG_MAX], h_sig[DS_WH_SIG_MAX + 32], h_ev[80], h_id[64];
    size_t slen = 0;
    long code = 0;
    err[0] = '\0';
    if (ds_wh_read_secret(w->secret_file, secret, sizeof secret, &slen, err, errlen) != 0)
        return 0;
    size_t blen = strlen(w->payload);
    int rc = ds_wh_sign(secret, slen, ds_store_now(), w->payload, blen, sig);
    drot_wipe(secret, sizeof secret);
    if (rc != 0) {
        snprintf(err, errlen, "cannot sign the event");
        return 0;
    }
    snprintf(h_sig, sizeof h_sig, DS_WH_SIG_HEADER ": %s", sig);
    snprintf(h_ev, sizeof h_ev, "X-Drot-Event: %s", w->event);
    snprintf(h_id, sizeof h_id, "X-Drot-Delivery: %s", w->delivery_id);
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    const char *const lines[] = {"Content-Type: application/json", h_ev, h_id, h_sig, "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *n = curl_slist_append(hdr, lines[i]);
        if (n == NULL)
            break;
        hdr = n;
    }
    if (c == NULL || hdr == NULL) {
        snprintf(err, errlen, "out of memory");
        curl_slist_free_all(hdr);
        curl_easy_cleanup(c);
        return 0;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->payload);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "drot-server");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode r = curl_easy_perform(c);
    if (r == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    else
        snprintf(err, errlen, "%s", cerr[0] != '\0' ? cerr : curl_easy_strerror(r));
    if (r == CURLE_OK && (code < 200 || code > 299))
        snprintf(err, errlen, "HTTP %ld", code);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return code;
}

/* see webhook.h */
int ds_wh_deliver_one(ds_store *s, const char *owner, long timeout_ms)
{
    ds_wh_row w;
    bool found = false;
    char err[DS_POL_RESULT_MAX + 1], state[16];
    if (ds_wh_claim(s, owner, ds_store_now(), DS_WH_LEASE_S, &w, &found) != DS_OK)
        return -1;
    if (!found)
        return 0;
    int64_t t0 = mono_ms();
    int64_t code = post(&w, timeout_ms > 0 ? timeout_ms : DS_WH_TIMEOUT_MS, err, sizeof err);
    int64_t ms = mono_ms() - t0;
    ds_status st = ds_wh_attempt_done(s, w.id, owner, code, err, ms, ds_store_now(), state);
    if (st == DS_OK)
        fprintf(stderr, "drot-server: webhook %s delivery %s (%s) attempt %u: %s%s%s\n", w.webhook,
                w.delivery_id, w.event, w.attempts + 1, code >= 200 && code <= 299 ? "delivered" : err,
                strcmp(state, "failed") == 0 ? "; no attempt left: failed" : "",
                strcmp(state, "pending") == 0 ? "; will retry" : "");
    ds_wh_row_free(&w);
    return st == DS_OK ? 1 : -1;
}
