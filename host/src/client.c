/*
 * client.c — libdrot-host's client of drot-server's device routes
 * (docs/api.md; docs/host.md "Server client and daemon").
 *
 * Channel binding (DESIGN.md §4). The token's nonce is SHA-256(challenge ‖
 * exporter), exporter being the RFC 9266 value of the TLS connection that
 * carries the token. The client fetches the challenge and sends the token
 * over ONE connection of one curl handle:
 *
 *   C1. The exporter is computed DURING the challenge transfer, in the
 *       header/write callbacks, from CURLINFO_TLS_SSL_PTR: that pointer only
 *       names the handle's connection while a transfer runs, never after
 *       curl_easy_perform returned.
 *   C2. For the token request the handle may not open a connection: the
 *       open-socket callback refuses any new socket, so a token is never
 *       sent on a connection it is not bound to. The request then fails
 *       with DH_E_PROTOCOL "connection changed … retry". After the transfer
 *       CURLINFO_NUM_CONNECTS == 0 is checked too, and the exporter of the
 *       carrying connection is computed again and compared with C1's.
 *
 * TLS: 1.3 only (minimum = maximum), the server certificate verified
 * against the given CA file alone (no system CA path), https only, no
 * redirects. The client key is handed to curl as an in-memory PEM blob
 * (CURLOPT_SSLKEY_BLOB, not copied by curl): it never touches disk.
 *
 * Answers are read with the project's strict CBOR reader: a map of exactly
 * the documented keys with their types, no duplicate, no unknown key, no
 * trailing byte. Error answers {1: code, 2: message[, 3: reasons]} become
 * one line of dh_server_last_error.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "drot/cbor.h"
#include "drot/host.h"
#include "drot_crypto.h"
#include "host_internal.h"

#define CLIENT_BODY_MAX 65536u
#define CLIENT_REQ_MAX  (DROT_LINK_MAX_TOKEN + 8192u)
#define CLIENT_EXPORTER "EXPORTER-Channel-Binding"
#define CLIENT_URL_MAX  512u
#define CLIENT_ERR_MAX  512u

struct dh_server {
    CURL *curl;
    long timeout_s; /* per request (the image download uses a low-speed limit instead) */
    char url[CLIENT_URL_MAX];
    char ca_file[CLIENT_URL_MAX];
    /* per transfer */
    bool forbid_new_conn; /* C2 */
    bool new_conn_refused;
    bool want_exporter;
    bool have_exporter;
    uint8_t exporter[32];
    bool have_bound; /* a challenge's exporter, for the next token request */
    uint8_t bound[32];
    uint8_t body[CLIENT_BODY_MAX];
    size_t body_len;
    bool body_overflow;
    long http;
    uint64_t code;
    char curl_err[CURL_ERROR_SIZE];
    char err[CLIENT_ERR_MAX];
};

static dh_status fail(dh_server *s, dh_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static dh_status fail(dh_server *s, dh_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return st;
}

const char *dh_server_last_error(const dh_server *s)
{
    return s != NULL ? s->err : "";
}

long dh_server_last_http(const dh_server *s)
{
    return s != NULL ? s->http : 0;
}

uint64_t dh_server_last_code(const dh_server *s)
{
    return s != NULL ? s->code : 0;
}

/* ---- curl callbacks ---------------------------------------------------------- */

/* C1: the exporter of the connection the handle is attached to right now. */
static void capture_exporter(dh_server *s)
{
    if (!s->want_exporter || s->have_exporter)
        return;
    struct curl_tlssessioninfo *ti = NULL;
    if (curl_easy_getinfo(s->curl, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
        ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
        return;
    if (SSL_export_keying_material(ti->internals, s->exporter, sizeof s->exporter, CLIENT_EXPORTER,
                                   sizeof CLIENT_EXPORTER - 1, NULL, 0, 0) == 1)
        s->have_exporter = true;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
    (void)p;
    capture_exporter(ctx);
    return sz * n;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    dh_server *s = ctx;
    size_t len = sz * n;
    capture_exporter(s);
    if (len > sizeof s->body - s->body_len) {
        s->body_overflow = true;
        return 0;
    }
    memcpy(s->body + s->body_len, p, len);
    s->body_len += len;
    return len;
}

/* C2: no new connection while a token is to be sent. */
static curl_socket_t on_open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    dh_server *s = ctx;
    (void)purpose;
    if (s->forbid_new_conn) {
        s->new_conn_refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* ---- open / close ------------------------------------------------------------- */

dh_status dh_server_open(dh_server **out, const dh_server_options *opt)
{
    if (out == NULL || opt == NULL || opt->url == NULL || opt->ca_file == NULL ||
        (opt->cert_pem == NULL) != (opt->key_pem == NULL))
        return DH_E_ARG;
    *out = NULL;
    if (strncmp(opt->url, "https://", 8) != 0 || strlen(opt->url) >= CLIENT_URL_MAX - 32 ||
        strlen(opt->ca_file) >= CLIENT_URL_MAX)
        return DH_E_ARG;
    dh_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return DH_E_NOMEM;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (s->curl = curl_easy_init()) == NULL) {
        free(s);
        return DH_E_NOMEM;
    }
    snprintf(s->url, sizeof s->url, "%s", opt->url);
    size_t ul = strlen(s->url);
    while (ul > 8 && s->url[ul - 1] == '/')
        s->url[--ul] = '\0';
    snprintf(s->ca_file, sizeof s->ca_file, "%s", opt->ca_file);
    long timeout = opt->timeout_s > 0 ? opt->timeout_s : 10;
    s->timeout_s = timeout;
    CURL *c = s->curl;
    CURLcode rc = CURLE_OK;
#define SET(o, v)                                                                                            \
    if (rc == CURLE_OK)                                                                                      \
    rc = curl_easy_setopt(c, o, v)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    SET(CURLOPT_CAINFO, s->ca_file);
    SET(CURLOPT_CAPATH, (char *)NULL);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_TIMEOUT, timeout);
    SET(CURLOPT_CONNECTTIMEOUT, timeout);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, s);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, s);
    SET(CURLOPT_ERRORBUFFER, s->curl_err);
    SET(CURLOPT_USERAGENT, "drot-agent");
    if (opt->cert_pem != NULL) {
        /* Not copied (flags 0): the caller keeps the key and wipes it. */
        struct curl_blob cert = {.data = (void *)opt->cert_pem, .len = strlen(opt->cert_pem), .flags = 0};
        struct curl_blob key = {.data = (void *)opt->key_pem, .len = strlen(opt->key_pem), .flags = 0};
        SET(CURLOPT_SSLCERT_BLOB, &cert);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
        SET(CURLOPT_SSLKEY_BLOB, &key);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
#undef SET
    if (rc != CURLE_OK) {
        curl_easy_cleanup(s->curl);
        curl_global_cleanup();
        free(s);
        return DH_E_ARG;
    }
    *out = s;
    return DH_OK;
}

void dh_server_close(dh_server *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->curl);
    curl_global_cleanup();
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* ---- one request ------------------------------------------------------------------ */

static void sanitize(char *p)
{
    for (; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* A tstr from the reader into out (NUL-terminated, control chars as '?',
 * truncated to cap). */
static drot_status get_text(drot_cbor_reader *r, char *out, size_t cap)
{
    const char *p;
    size_t n;
    drot_status st = drot_cbor_get_tstr(r, &p, &n);
    if (st != DROT_OK)
        return st;
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    sanitize(out);
    return DROT_OK;
}

static drot_status get_reasons(drot_cbor_reader *r, dh_server_verdict *v)
{
    size_t n;
    drot_status st = drot_cbor_get_array(r, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        char tmp[DH_SERVER_REASON_MAX];
        st = get_text(r, tmp, sizeof tmp);
        if (st == DROT_OK && v != NULL && v->num_reasons < DH_SERVER_MAX_REASONS)
            memcpy(v->reasons[v->num_reasons++], tmp, sizeof tmp);
    }
    return st;
}

/* An error body {1: code, 2: message[, 3: reasons]} as the last error. */
static dh_status server_error(dh_server *s, dh_server_verdict *reasons)
{
    drot_cbor_reader r;
    size_t n = 0;
    uint64_t code = 0;
    char message[256] = "";
    bool have[4] = {false, false, false, false};
    dh_server_verdict tmp;
    dh_server_verdict *v = reasons != NULL ? reasons : &tmp;
    memset(v, 0, sizeof *v);
    drot_cbor_reader_init(&r, s->body, s->body_len);
    drot_status st = drot_cbor_get_map(&r, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        uint64_t k;
        st = drot_cbor_get_uint(&r, &k);
        if (st != DROT_OK || k < 1 || k > 3 || have[k]) {
            st = DROT_E_MALFORMED;
            break;
        }
        have[k] = true;
        if (k == 1)
            st = drot_cbor_get_uint(&r, &code);
        else if (k == 2)
            st = get_text(&r, message, sizeof message);
        else
            st = get_reasons(&r, v);
    }
    if (st == DROT_OK)
        st = drot_cbor_reader_done(&r);
    if (st != DROT_OK || !have[1] || !have[2])
        return fail(s, DH_E_PROTOCOL, "the server answered HTTP %ld without a readable error body", s->http);
    s->code = code;
    char extra[300] = "";
    if (v->num_reasons > 0)
        snprintf(extra, sizeof extra, " (%s%s)", v->reasons[0], v->num_reasons > 1 ? "; …" : "");
    return fail(s, DH_E_REFUSED, "the server refused: HTTP %ld, code %llu: %s%s", s->http,
                (unsigned long long)code, message, extra);
}

static dh_status curl_failure(dh_server *s, CURLcode rc);

/* POSTs body to path (GETs path when body is NULL); on DH_OK, s->body holds
 * a 200 answer. */
static dh_status post(dh_server *s, const char *path, const uint8_t *body, size_t len, bool token)
{
    char url[CLIENT_URL_MAX];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    s->body_len = 0;
    s->body_overflow = false;
    s->http = 0;
    s->code = 0;
    s->curl_err[0] = '\0';
    s->err[0] = '\0';
    s->have_exporter = false;
    s->want_exporter = true;
    s->new_conn_refused = false;
    s->forbid_new_conn = token;
    if (token && !s->have_bound)
        return fail(s, DH_E_ARG, "no challenge on this connection: request a challenge first");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/cbor");
    if (h == NULL)
        return DH_E_NOMEM;
    struct curl_slist *h2 = curl_slist_append(h, "Accept: application/cbor");
    if (h2 == NULL) {
        curl_slist_free_all(h);
        return DH_E_NOMEM;
    }
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h2);
    if (body == NULL) { /* a GET (the revocation list) */
        curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    CURLcode rc = curl_easy_perform(s->curl);
    long connects = -1;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->http);
    curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(h2);
    s->forbid_new_conn = false;
    s->want_exporter = false;
    bool bound = s->have_bound;
    s->have_bound = false; /* a challenge serves one token request */
    if (token && (s->new_conn_refused || connects != 0))
        return fail(s, DH_E_PROTOCOL,
                    "the server connection changed between challenge and token: retry (nothing was sent on "
                    "the new connection)");
    if (rc != CURLE_OK)
        return curl_failure(s, rc);
    if (token && (!s->have_exporter || !bound || drot_ct_equal(s->exporter, s->bound, 32) != DROT_OK))
        return fail(s, DH_E_PROTOCOL,
                    "the server connection changed between challenge and token: retry (exporter differs)");
    if (s->http != 200)
        return DH_E_REFUSED; /* the caller reads the error body */
    return DH_OK;
}

/* A failed transfer as a status and one line of text. */
static dh_status curl_failure(dh_server *s, CURLcode rc)
{
    const char *why = s->curl_err[0] != '\0' ? s->curl_err : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return fail(s, DH_E_CONNECT,
                    "cannot reach the server at %s: %s (is drot-server running? check --server)", s->url,
                    why);
    case CURLE_OPERATION_TIMEDOUT:
        return fail(s, DH_E_TIMEOUT, "the server at %s did not answer in time: %s", s->url, why);
    case CURLE_PEER_FAILED_VERIFICATION:
        return fail(s, DH_E_PROTOCOL,
                    "the server's certificate does not verify against --ca %s: %s (give the device CA, "
                    "device-ca.crt.pem from drotctl init)",
                    s->ca_file, why);
    case CURLE_SSL_CACERT_BADFILE: return fail(s, DH_E_IO, "cannot use the CA file %s: %s", s->ca_file, why);
    case CURLE_SSL_CERTPROBLEM:
        return fail(s, DH_E_PROTOCOL, "the client certificate or key is unusable: %s", why);
    case CURLE_WRITE_ERROR:
        if (s->body_overflow)
            return fail(s, DH_E_PROTOCOL, "the server's answer exceeds %u bytes", CLIENT_BODY_MAX);
        return fail(s, DH_E_IO, "%s", why);
    default: return fail(s, DH_E_PROTOCOL, "TLS/HTTP failure talking to %s: %s", s->url, why);
    }
}

/* Finishes the body map in w and POSTs it to path (post's token rule); a
 * refusal becomes DH_E_REFUSED with the server's error read (its reasons
 * into *reasons when not NULL). On DH_OK, s->body holds the answer. */
static dh_status post_map(dh_server *s, const char *path, drot_cbor_writer *w, bool token,
                          dh_server_verdict *reasons)
{
    size_t len = 0;
    if (drot_cbor_writer_finish(w, &len) != DROT_OK)
        return DH_E_ARG;
    dh_status st = post(s, path, w->buf, len, token);
    return st == DH_E_REFUSED ? server_error(s, reasons) : st;
}
/* ---- routes ------------------------------------------------------------------------- */

dh_status dh_server_challenge(dh_server *s, const uint8_t device_id[16], uint8_t challenge[32],
                              uint8_t exporter[32])
{
    if (s == NULL || device_id == NULL || challenge == NULL || exporter == NULL)
        return DH_E_ARG;
    uint8_t req[64];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, device_id, 16);
    dh_status st = post_map(s, "/v1/device/challenge", &w, false, NULL);
    if (st != DH_OK)
        return st;
    if (!s->have_exporter)
        return fail(s, DH_E_PROTOCOL,
                    "cannot compute the TLS exporter of the server connection (is libcurl "
                    "built with OpenSSL?)");
    drot_cbor_reader r;
    size_t n = 0;
    const uint8_t *ch = NULL;
    size_t ch_len = 0;
    uint64_t expires = 0;
    bool have[3] = {false, false, false};
    drot_cbor_reader_init(&r, s->body, s->body_len);
    drot_status ds = drot_cbor_get_map(&r, &n);
    if (ds == DROT_OK && n != 2)
        ds = DROT_E_MALFORMED;
    for (size_t i = 0; ds == DROT_OK && i < n; i++) {
        uint64_t k;
        ds = drot_cbor_get_uint(&r, &k);
        if (ds != DROT_OK || k < 1 || k > 2 || have[k]) {
            ds = DROT_E_MALFORMED;
            break;
        }
        have[k] = true;
        ds = k == 1 ? drot_cbor_get_bstr(&r, &ch, &ch_len) : drot_cbor_get_uint(&r, &expires);
    }
    if (ds == DROT_OK)
        ds = drot_cbor_reader_done(&r);
    if (ds != DROT_OK || ch_len != 32)
        return fail(s, DH_E_PROTOCOL,
                    "malformed challenge answer from the server (expected {1: bstr 32, 2: uint})");
    memcpy(challenge, ch, 32);
    memcpy(exporter, s->exporter, 32);
    memcpy(s->bound, s->exporter, 32);
    s->have_bound = true;
    return DH_OK;
}

void dh_server_enrollment_free(dh_server_enrollment *e)
{
    if (e == NULL)
        return;
    free(e->cert_pem);
    free(e->ca_pem);
    memset(e, 0, sizeof *e);
}

static char *dup_text(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

dh_status dh_server_enroll(dh_server *s, const uint8_t device_id[16], const uint8_t challenge[32],
                           const uint8_t *token, size_t token_len, const char *csr_pem,
                           dh_server_enrollment *out, dh_server_verdict *reasons)
{
    if (s == NULL || device_id == NULL || challenge == NULL || token == NULL || token_len == 0 ||
        token_len > DROT_LINK_MAX_TOKEN || csr_pem == NULL || out == NULL || strlen(csr_pem) > 4096)
        return DH_E_ARG;
    memset(out, 0, sizeof *out);
    if (reasons != NULL)
        memset(reasons, 0, sizeof *reasons);
    static _Thread_local uint8_t req[CLIENT_REQ_MAX]; /* one per thread: the library may serve several */
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, device_id, 16);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, challenge, 32);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, token, token_len);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_tstr_z(&w, csr_pem);
    dh_status st = post_map(s, "/v1/device/enroll", &w, true, reasons);
    if (st != DH_OK)
        return st;
    drot_cbor_reader r;
    size_t n = 0;
    const char *cert = NULL, *ca = NULL;
    size_t cert_len = 0, ca_len = 0;
    uint64_t verdict = 0, interval = 0;
    bool have[5] = {false, false, false, false, false};
    drot_cbor_reader_init(&r, s->body, s->body_len);
    drot_status ds = drot_cbor_get_map(&r, &n);
    if (ds == DROT_OK && n != 4)
        ds = DROT_E_MALFORMED;
    for (size_t i = 0; ds == DROT_OK && i < n; i++) {
        uint64_t k;
        ds = drot_cbor_get_uint(&r, &k);
        if (ds != DROT_OK || k < 1 || k > 4 || have[k]) {
            ds = DROT_E_MALFORMED;
            break;
        }
        have[k] = true;
        switch (k) {
        case 1: ds = drot_cbor_get_tstr(&r, &cert, &cert_len); break;
        case 2: ds = drot_cbor_get_tstr(&r, &ca, &ca_len); break;
        case 3: ds = drot_cbor_get_uint(&r, &verdict); break;
        default: ds = drot_cbor_get_uint(&r, &interval); break;
        }
    }
    if (ds == DROT_OK)
        ds = drot_cbor_reader_done(&r);
    if (ds != DROT_OK || cert_len == 0 || (verdict != 1 && verdict != 2) || interval == 0)
        return fail(s, DH_E_PROTOCOL, "malformed enroll answer from the server");
    out->cert_pem = dup_text(cert, cert_len);
    out->ca_pem = dup_text(ca, ca_len);
    if (out->cert_pem == NULL || out->ca_pem == NULL) {
        dh_server_enrollment_free(out);
        return DH_E_NOMEM;
    }
    out->verdict = (uint32_t)verdict;
    out->attest_interval = interval;
    return DH_OK;
}

/* The attest answer's keys (docs/api.md): 1 verdict, 2 reasons, 3 next in,
 * 4 a job for the device, 5 a firmware job (both optional), 6 seconds until
 * the next attestation is due (the class's policy; optional), 8 the
 * revocation list version. */
#define ATTEST_KEYS    8
#define ATTEST_KEY_JOB 4
#define ATTEST_KEY_FW  5
#define ATTEST_KEY_DUE 6
#define ATTEST_KEY_REV 8

/* {1: id uint, 2: kind uint, 3: mode uint} */
static drot_status get_job(drot_cbor_reader *r, dh_server_job *job)
{
    size_t n = 0;
    bool have[4] = {false, false, false, false};
    drot_status ds = drot_cbor_get_map(r, &n);
    for (size_t i = 0; ds == DROT_OK && i < n; i++) {
        uint64_t k, v = 0;
        ds = drot_cbor_get_uint(r, &k);
        if (ds != DROT_OK || k < 1 || k > 3 || have[k])
            return DROT_E_MALFORMED;
        have[k] = true;
        ds = drot_cbor_get_uint(r, &v);
        if (k == 1)
            job->id = v;
        else if (k == 2)
            job->kind = v <= 2 ? (uint32_t)v : 0;
        else
            job->mode = v <= 2 ? (uint32_t)v : 0;
    }
    if (ds == DROT_OK &&
        (!have[1] || !have[2] || !have[3] || job->kind == 0 || job->mode == 0 || job->id == 0))
        ds = DROT_E_MALFORMED;
    return ds;
}

dh_status dh_server_attest(dh_server *s, const uint8_t challenge[32], const uint8_t *token, size_t token_len,
                           dh_server_verdict *out)
{
    if (s == NULL || challenge == NULL || token == NULL || token_len == 0 ||
        token_len > DROT_LINK_MAX_TOKEN || out == NULL)
        return DH_E_ARG;
    memset(out, 0, sizeof *out);
    static _Thread_local uint8_t req[CLIENT_REQ_MAX]; /* one per thread: the library may serve several */
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, challenge, 32);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, token, token_len);
    dh_status st = post_map(s, "/v1/device/attest", &w, true, NULL);
    if (st != DH_OK)
        return st;
    drot_cbor_reader r;
    size_t n = 0;
    uint64_t verdict = 0, next = 0, due = 0;
    bool have[ATTEST_KEYS + 1] = {false};
    drot_cbor_reader_init(&r, s->body, s->body_len);
    drot_status ds = drot_cbor_get_map(&r, &n);
    for (size_t i = 0; ds == DROT_OK && i < n; i++) {
        uint64_t k;
        ds = drot_cbor_get_uint(&r, &k);
        if (ds != DROT_OK || k < 1 || k > ATTEST_KEYS || k == 7 || have[k]) {
            ds = DROT_E_MALFORMED;
            break;
        }
        have[k] = true;
        if (k == 1)
            ds = drot_cbor_get_uint(&r, &verdict);
        else if (k == 2)
            ds = get_reasons(&r, out);
        else if (k == 3)
            ds = drot_cbor_get_uint(&r, &next);
        else if (k == ATTEST_KEY_REV)
            ds = drot_cbor_get_uint(&r, &out->revocation_version);
        else if (k == ATTEST_KEY_FW)
            ds = dh_fw_offer_read(&r, &out->fw);
        else if (k == ATTEST_KEY_DUE)
            ds = drot_cbor_get_uint(&r, &due);
        else
            ds = get_job(&r, &out->job);
    }
    if (ds == DROT_OK)
        ds = drot_cbor_reader_done(&r);
    if (ds == DROT_OK && (!have[1] || !have[2] || !have[3]))
        ds = DROT_E_MALFORMED;
    out->has_job = have[ATTEST_KEY_JOB];
    out->has_revocation_version = have[ATTEST_KEY_REV];
    out->has_fw = have[ATTEST_KEY_FW];
    if (ds != DROT_OK || verdict < 1 || verdict > 3) {
        memset(out, 0, sizeof *out);
        return fail(s, DH_E_PROTOCOL, "malformed attest answer from the server");
    }
    out->verdict = (uint32_t)verdict;
    /* The policy's due time (key 6), when the server sends one, is the one
     * to follow; key 3 is the server's default interval. */
    out->next_in = have[ATTEST_KEY_DUE] && due > 0 ? due : next;
    return DH_OK;
}

/* ---- DRoT rotation (docs/drot.md, docs/api.md) ---------------------------------- */

/* Reads the one-field answer {1: bstr} or {1: uint}. */
static dh_status answer_field(dh_server *s, const char *what, bool bstr, uint8_t *out, size_t cap,
                              size_t *out_len, uint64_t *num)
{
    drot_cbor_reader r;
    size_t n = 0;
    uint64_t k = 0;
    const uint8_t *p = NULL;
    size_t plen = 0;
    drot_cbor_reader_init(&r, s->body, s->body_len);
    drot_status ds = drot_cbor_get_map(&r, &n);
    if (ds == DROT_OK && n != 1)
        ds = DROT_E_MALFORMED;
    if (ds == DROT_OK)
        ds = drot_cbor_get_uint(&r, &k);
    if (ds == DROT_OK && k != 1)
        ds = DROT_E_MALFORMED;
    if (ds == DROT_OK)
        ds = bstr ? drot_cbor_get_bstr(&r, &p, &plen) : drot_cbor_get_uint(&r, num);
    if (ds == DROT_OK)
        ds = drot_cbor_reader_done(&r);
    if (ds == DROT_OK && bstr && (plen == 0 || plen > cap))
        ds = DROT_E_MALFORMED;
    if (ds != DROT_OK)
        return fail(s, DH_E_PROTOCOL, "malformed %s answer from the server", what);
    if (bstr) {
        memcpy(out, p, plen);
        *out_len = plen;
    }
    return DH_OK;
}

dh_status dh_server_rotate_begin(dh_server *s, uint64_t job_id, const uint8_t challenge[32],
                                 const uint8_t *token, size_t token_len, const uint8_t nonce[32],
                                 const uint8_t *proposal, size_t proposal_len, uint8_t *msg, size_t cap,
                                 size_t *msg_len)
{
    if (s == NULL || job_id == 0 || challenge == NULL || token == NULL || token_len == 0 ||
        token_len > DROT_LINK_MAX_TOKEN || msg == NULL || msg_len == NULL ||
        (nonce == NULL) == (proposal == NULL) ||
        (proposal != NULL && (proposal_len == 0 || proposal_len > DROT_LINK_ROT_MAX_MSG)))
        return DH_E_ARG;
    *msg_len = 0;
    static _Thread_local uint8_t req[CLIENT_REQ_MAX]; /* one per thread: the library may serve several */
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, job_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, challenge, 32);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, token, token_len);
    if (nonce != NULL) {
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_bstr(&w, nonce, 32);
    } else {
        drot_cbor_put_uint(&w, 5);
        drot_cbor_put_bstr(&w, proposal, proposal_len);
    }
    dh_status st = post_map(s, "/v1/device/rotate/begin", &w, true, NULL);
    if (st != DH_OK)
        return st;
    return answer_field(s, "rotate/begin", true, msg, cap, msg_len, NULL);
}

dh_status dh_server_anchor_step(dh_server *s, uint64_t job_id, const uint8_t challenge[32],
                                const uint8_t *token, size_t token_len, const uint8_t nonce[32],
                                const dh_anchor_report *prev, uint8_t *msg, size_t cap, size_t *msg_len,
                                uint32_t *op, bool *done)
{
    if (s == NULL || job_id == 0 || challenge == NULL || token == NULL || token_len == 0 ||
        token_len > DROT_LINK_MAX_TOKEN || nonce == NULL || msg == NULL || msg_len == NULL || op == NULL ||
        done == NULL || (prev != NULL && prev->refused && prev->code >= 0))
        return DH_E_ARG;
    *msg_len = 0;
    *op = 0;
    *done = false;
    static _Thread_local uint8_t req[CLIENT_REQ_MAX]; /* one per thread: the library may serve several */
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, prev == NULL ? 4 : prev->refused ? 5 : 6);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, job_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, challenge, 32);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, token, token_len);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_bstr(&w, nonce, 32);
    if (prev != NULL && prev->refused) {
        drot_cbor_put_uint(&w, 7);
        drot_cbor_put_uint(&w, (uint64_t)(-(int64_t)prev->code));
    } else if (prev != NULL) {
        drot_cbor_put_uint(&w, 5);
        drot_cbor_put_uint(&w, prev->op);
        drot_cbor_put_uint(&w, 6);
        drot_cbor_put_uint(&w, prev->slot);
    }
    dh_status st = post_map(s, "/v1/device/anchor/step", &w, true, NULL);
    if (st != DH_OK)
        return st;
    /* {3: true} when done; else {1: instruction, 2: op}. */
    drot_cbor_reader r;
    size_t n = 0;
    uint64_t k = 0, v = 0;
    const uint8_t *p = NULL;
    size_t plen = 0;
    bool b = false;
    drot_cbor_reader_init(&r, s->body, s->body_len);
    drot_status ds = drot_cbor_get_map(&r, &n);
    if (ds == DROT_OK && n == 1) {
        ds = drot_cbor_get_uint(&r, &k);
        if (ds == DROT_OK)
            ds = k == 3 ? drot_cbor_get_bool(&r, &b) : DROT_E_MALFORMED;
        if (ds == DROT_OK && !b)
            ds = DROT_E_MALFORMED;
    } else if (ds == DROT_OK && n == 2) {
        ds = drot_cbor_get_uint(&r, &k);
        if (ds == DROT_OK && k == 1)
            ds = drot_cbor_get_bstr(&r, &p, &plen);
        else if (ds == DROT_OK)
            ds = DROT_E_MALFORMED;
        if (ds == DROT_OK)
            ds = drot_cbor_get_uint(&r, &k);
        if (ds == DROT_OK && k == 2)
            ds = drot_cbor_get_uint(&r, &v);
        else if (ds == DROT_OK)
            ds = DROT_E_MALFORMED;
        if (ds == DROT_OK && (plen == 0 || plen > cap || v < 1 || v > 3))
            ds = DROT_E_MALFORMED;
    } else if (ds == DROT_OK) {
        ds = DROT_E_MALFORMED;
    }
    if (ds == DROT_OK)
        ds = drot_cbor_reader_done(&r);
    if (ds != DROT_OK)
        return fail(s, DH_E_PROTOCOL, "malformed anchor/step answer from the server");
    if (n == 1) {
        *done = true;
        return DH_OK;
    }
    memcpy(msg, p, plen);
    *msg_len = plen;
    *op = (uint32_t)v;
    return DH_OK;
}

dh_status dh_server_rotate_receipt(dh_server *s, uint64_t job_id, const uint8_t *receipt, size_t len,
                                   uint64_t *new_epoch)
{
    if (s == NULL || job_id == 0 || receipt == NULL || len == 0 || len > DROT_LINK_ROT_MAX_MSG ||
        new_epoch == NULL)
        return DH_E_ARG;
    uint8_t req[DROT_LINK_ROT_MAX_MSG + 32];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, job_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, receipt, len);
    dh_status st = post_map(s, "/v1/device/rotate/receipt", &w, false, NULL);
    if (st != DH_OK)
        return st;
    return answer_field(s, "rotate/receipt", false, NULL, 0, NULL, new_epoch);
}

/* ---- for client_fw.c (host_internal.h) ----------------------------------------------- */

dh_status dh_server_fail(dh_server *s, dh_status st, const char *msg)
{
    return fail(s, st, "%s", msg);
}

dh_status dh_server_post_map(dh_server *s, const char *path, drot_cbor_writer *w, const uint8_t **answer,
                             size_t *len)
{
    dh_status st = post_map(s, path, w, false, NULL);
    *answer = s->body;
    *len = st == DH_OK ? s->body_len : 0;
    return st;
}

typedef struct stream_ctx {
    dh_server *s;
    dh_sink_fn sink;
    void *ctx;
} stream_ctx;

/* 200 and 206 bodies go to the sink; an error body to s->body. */
static size_t on_stream(char *p, size_t sz, size_t n, void *vctx)
{
    stream_ctx *c = vctx;
    long code = 0;
    curl_easy_getinfo(c->s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code == 200 || code == 206)
        return c->sink((const uint8_t *)p, sz * n, code, c->ctx);
    return on_body(p, sz, n, c->s);
}

dh_status dh_server_get_stream(dh_server *s, const char *path, uint64_t from, long max_rate, dh_sink_fn sink,
                               void *ctx)
{
    char url[CLIENT_URL_MAX], range[48];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    snprintf(range, sizeof range, "%llu-", (unsigned long long)from);
    s->body_len = 0;
    s->body_overflow = false;
    s->http = 0;
    s->code = 0;
    s->curl_err[0] = '\0';
    s->err[0] = '\0';
    s->want_exporter = false;
    s->forbid_new_conn = false;
    stream_ctx c = {s, sink, ctx};
    CURL *h = s->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_RANGE, from > 0 ? range : NULL);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)(max_rate > 0 ? max_rate : 0));
    /* An image takes as long as it takes; a transfer that stalls fails. */
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 0L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->timeout_s);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s->http);
    curl_easy_setopt(h, CURLOPT_RANGE, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)0);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, s->timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
    if (rc == CURLE_WRITE_ERROR && (s->http == 200 || s->http == 206))
        return DH_E_IO; /* the sink refused: it has said why */
    if (rc != CURLE_OK)
        return curl_failure(s, rc);
    if (s->http != 200 && s->http != 206)
        return server_error(s, NULL);
    return DH_OK;
}

CURL *dh_server_curl(dh_server *s)
{
    return s->curl;
}

/* ---- the device's TLS key ------------------------------------------------------------ */

void dh_tls_free(char *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

/* The bytes of a memory BIO as a NUL-terminated malloc'ed string. */
static char *bio_string(BIO *b, size_t *len)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return s;
}

static dh_status make_csr(EVP_PKEY *k, const uint8_t device_id[16], char **csr_pem)
{
    char cn[33];
    for (int i = 0; i < 16; i++)
        snprintf(cn + 2 * i, 3, "%02x", device_id[i]);
    X509_REQ *req = X509_REQ_new();
    BIO *b = BIO_new(BIO_s_mem());
    dh_status st = DH_E_NOMEM;
    if (req != NULL && b != NULL && X509_REQ_set_version(req, 0) == 1 && X509_REQ_set_pubkey(req, k) == 1 &&
        X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0) == 1 &&
        X509_REQ_sign(req, k, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(b, req) == 1 &&
        (*csr_pem = bio_string(b, NULL)) != NULL)
        st = DH_OK;
    BIO_free(b);
    X509_REQ_free(req);
    return st;
}

dh_status dh_tls_key_new(const uint8_t device_id[16], char **key_pem, size_t *key_len, char **csr_pem)
{
    if (device_id == NULL || key_pem == NULL || key_len == NULL || csr_pem == NULL)
        return DH_E_ARG;
    *key_pem = NULL;
    *csr_pem = NULL;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_secmem()); /* wiped when freed */
    dh_status st = DH_E_NOMEM;
    if (k != NULL && b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 &&
        (*key_pem = bio_string(b, key_len)) != NULL)
        st = make_csr(k, device_id, csr_pem);
    if (st != DH_OK && *key_pem != NULL) {
        dh_tls_free(*key_pem, *key_len);
        *key_pem = NULL;
    }
    BIO_free(b);
    EVP_PKEY_free(k);
    return st;
}

dh_status dh_tls_csr(const char *key_pem, const uint8_t device_id[16], char **csr_pem)
{
    if (key_pem == NULL || device_id == NULL || csr_pem == NULL)
        return DH_E_ARG;
    *csr_pem = NULL;
    BIO *b = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    dh_status st = k == NULL ? DH_E_PROTOCOL : make_csr(k, device_id, csr_pem);
    EVP_PKEY_free(k);
    BIO_free(b);
    return st;
}

dh_status dh_tls_cert_subject(const char *cert_pem, char *out, size_t cap)
{
    if (cert_pem == NULL || out == NULL || cap == 0)
        return DH_E_ARG;
    out[0] = '\0';
    BIO *b = BIO_new_mem_buf(cert_pem, -1);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO *o = BIO_new(BIO_s_mem());
    dh_status st = DH_E_PROTOCOL;
    if (x != NULL && o != NULL &&
        X509_NAME_print_ex(o, X509_get_subject_name(x), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *s = bio_string(o, NULL);
        if (s != NULL) {
            snprintf(out, cap, "%s", s);
            sanitize(out);
            free(s);
            st = DH_OK;
        }
    }
    BIO_free(o);
    X509_free(x);
    BIO_free(b);
    return st;
}

/* ---- revocation list (docs/revocation.md) --------------------------------------- */

dh_status dh_server_revocations(dh_server *s, uint8_t *out, size_t cap, size_t *out_len)
{
    if (s == NULL || out == NULL || out_len == NULL)
        return DH_E_ARG;
    *out_len = 0;
    dh_status st = post(s, "/v1/device/revocations", NULL, 0, false);
    if (st == DH_E_REFUSED)
        return server_error(s, NULL);
    if (st != DH_OK)
        return st;
    if (s->body_len == 0 || s->body_len > cap || s->body_len > DROT_LINK_REVOCATION_MAX)
        return fail(s, DH_E_PROTOCOL, "the server's revocation list is %zu bytes (1..%u allowed)",
                    s->body_len, (unsigned)DROT_LINK_REVOCATION_MAX);
    memcpy(out, s->body, s->body_len);
    *out_len = s->body_len;
    return DH_OK;
}
