/*
 * srv_client.h — the libcurl client and CBOR helpers shared by the
 * drot-server process tests (test_server_e2e.c, test_threads.c).
 *
 * The TLS exporter of the connection that carries a token is computed
 * DURING a transfer, in the write callback (resp.want_exporter), because
 * the SSL* that CURLINFO_TLS_SSL_PTR returns is only meaningful while the
 * handle is attached to its connection (see test_server_e2e.c's header).
 * Test code: cmocka assertions inside, allocation allowed.
 */
#ifndef DROT_TEST_SRV_CLIENT_H
#define DROT_TEST_SRV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

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

typedef struct item {
    bool present;
    bool is_uint;
    uint64_t u;
    const uint8_t *p;
    size_t n;
    size_t count; /* arrays: elements; array of tstr stored concatenated below */
    char joined[2048];
} item;

/* A free TCP port on 127.0.0.1. */
unsigned srv_free_port(void);
/* The exporter (RFC 9266 label) of c's current connection; false if none. */
bool srv_exporter_now(CURL *c, uint8_t out[32]);
/* A TLS 1.3 client trusting ca, with an optional client certificate; tls12
 * pins TLS 1.2 instead (to test that the server refuses it). */
CURL *srv_client(const char *ca, const char *cert, const char *key, bool tls12);
/* GET (body NULL) or POST of a CBOR body to https://127.0.0.1:port/path. */
void srv_request(CURL *c, unsigned port, const char *path, const uint8_t *body, size_t len, resp *r);
/* The answer's CBOR map {1..7: …} into it[1..7]. */
void srv_decode(const resp *r, item it[16]);
/* A CBOR map of n entries from (key, kind, value…) varargs (see the definition). */
size_t srv_body_map(uint8_t *buf, size_t cap, size_t n, ...);

#endif
