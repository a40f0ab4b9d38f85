/* see srv_client.h */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/ssl.h>

#include "drot/cbor.h"
#include "srv_client.h"

unsigned srv_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The exporter (RFC 9266) of the connection c is attached to: call only
 * during a transfer. */
bool srv_exporter_now(CURL *c, uint8_t out[32])
{
    struct curl_tlssessioninfo *ti = NULL;
    if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
        ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
        return false;
    return SSL_export_keying_material(ti->internals, out, 32, "EXPORTER-Channel-Binding", 24, NULL, 0, 0) ==
           1;
}

static size_t srv_on_body(char *p, size_t sz, size_t n, void *ctx)
{
    resp *r = ctx;
    size_t len = sz * n;
    if (r->want_exporter && !r->have_exporter)
        r->have_exporter = srv_exporter_now(r->handle, r->exporter);
    if (r->len + len > sizeof r->body)
        return 0;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    return len;
}

CURL *srv_client(const char *ca, const char *cert, const char *key, bool tls12)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     tls12 ? (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2)
                           : (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, srv_on_body);
    if (cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    }
    return c;
}

void srv_request(CURL *c, unsigned port, const char *path, const uint8_t *body, size_t len, resp *r)
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

/* Decodes a response map {uint: uint|bstr|tstr|[tstr]} into it[key]. */
void srv_decode(const resp *r, item it[16])
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
            assert_int_equal(drot_cbor_get_array(&rd, &x->count), DROT_OK);
            for (size_t j = 0; j < x->count; j++) {
                const char *s;
                size_t sl;
                assert_int_equal(drot_cbor_get_tstr(&rd, &s, &sl), DROT_OK);
                size_t o = strlen(x->joined);
                snprintf(x->joined + o, sizeof x->joined - o, "%.*s|", (int)sl, s);
            }
        }
    }
    assert_int_equal(drot_cbor_reader_done(&rd), DROT_OK);
}

size_t srv_body_map(uint8_t *buf, size_t cap, size_t n, ...)
{
    drot_cbor_writer w;
    va_list ap;
    drot_cbor_writer_init(&w, buf, cap);
    drot_cbor_put_map(&w, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        drot_cbor_put_uint(&w, (uint64_t)va_arg(ap, int));
        int text = va_arg(ap, int);
        const void *p = va_arg(ap, const void *);
        size_t len = va_arg(ap, size_t);
        if (text)
            drot_cbor_put_tstr(&w, p, len);
        else
            drot_cbor_put_bstr(&w, p, len);
    }
    va_end(ap);
    size_t out = 0;
    assert_int_equal(drot_cbor_writer_finish(&w, &out), DROT_OK);
    return out;
}
