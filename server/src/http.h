/*
 * http.h — drot-server's HTTPS front end (docs/api.md, docs/operations.md).
 *
 * One TLS 1.3-only listener on libevent 2.1 (evhttp, one bufferevent_openssl
 * per connection) and OpenSSL 3. What it guarantees to every route handler:
 *
 *   H1. The connection is TLS 1.3 (min = max = TLS1_3_VERSION): a TLS 1.2
 *       client fails the handshake.
 *   H2. A client certificate is REQUESTED, not required, at the TLS layer.
 *       When one is sent it MUST chain to the device CA or the operator CA
 *       (one X509_STORE with both), else the handshake fails. Each route
 *       then demands what it needs (ds_route_auth) before its handler runs:
 *       DEVICE routes a certificate chained to the device CA that names a
 *       device id (ds_ca_device_id_from_cert), OPERATOR routes one chained
 *       to the operator CA, NONE routes nothing.
 *   H3. req->exporter is the RFC 9266 exporter (label
 *       "EXPORTER-Channel-Binding", empty context, 32 bytes) of the
 *       connection that carried THIS request, computed by the server from
 *       its own side of the connection.
 *   H4. A body is at most DS_HTTP_MAX_BODY bytes (413 beyond) and, on routes
 *       that take one, has Content-Type application/cbor (415 otherwise).
 *   H5. Every response is logged as one line on stderr (time, method, path,
 *       status, device id, verdict) and counted for /metrics. No key, token
 *       or certificate is ever logged.
 *
 * Threading: cfg->threads worker threads (1..DS_HTTP_MAX_THREADS), each with
 * its own event_base and evhttp, all accepting on the one listening socket
 * that ds_http_start binds (each worker listens on a dup() of it). A request
 * runs to completion on the worker that accepted its connection; handlers
 * get that worker's context (cfg->thread_ctx[i], e.g. a ds_app with the
 * worker's own ds_store) and find it again in req->worker_ctx. The SSL_CTX
 * is shared (read-only after start; SSL_new is thread-safe). Metrics are
 * under one mutex in ds_http. State handlers share beyond that (reference
 * values, the CA's key store) is guarded with ds_http_shared_lock.
 *
 * Shutdown: ds_http_stop (called from the SIGTERM/SIGINT event, which is
 * on worker 0) makes every worker close its listener at once, lets each
 * loop write out the responses already queued for up to DS_HTTP_DRAIN_MS,
 * then ds_http_run joins the workers and returns.
 */
#ifndef DS_HTTP_H
#define DS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define DS_HTTP_MAX_BODY     16384u /* bytes of request body a route accepts */
#define DS_HTTP_HARD_BODY    65536u /* libevent itself drops larger bodies (its own 413) */
#define DS_HTTP_EXPORTER_LEN 32u
#define DS_HTTP_DRAIN_MS     1000
#define DS_HTTP_MAX_THREADS  64

/* Error codes carried in error bodies ({1: code, 2: message}); docs/api.md. */
typedef enum ds_http_err {
    DS_ERR_BAD_REQUEST = 1,  /* malformed CBOR or fields */
    DS_ERR_TOO_LARGE = 2,    /* body over DS_HTTP_MAX_BODY */
    DS_ERR_CONTENT_TYPE = 3, /* not application/cbor */
    DS_ERR_CLIENT_CERT = 4,  /* the route needs a client certificate of a given CA */
    DS_ERR_UNKNOWN_DEVICE = 5,
    DS_ERR_DEVICE_STATE = 6,  /* revoked, decommissioned */
    DS_ERR_CHALLENGE = 7,     /* unknown, already used, or bound to another device */
    DS_ERR_CHALLENGE_EXP = 8, /* expired */
    DS_ERR_ATTESTATION = 9,   /* the token's verdict is FAIL */
    DS_ERR_CSR = 10,          /* the CSR is refused */
    DS_ERR_INTERNAL = 11,     /* database or CA failure */
    DS_ERR_NOT_FOUND = 12,    /* no such route */
    DS_ERR_METHOD = 13,       /* wrong method for the route */
    DS_ERR_NO_JOB = 14,       /* no such rotation job for this device */
    DS_ERR_JOB_STATE = 15,    /* the job is not in a state that allows the request */
    DS_ERR_BUSY = 16,         /* a limit (a campaign's max_parallel) says: retry later */
    DS_ERR_REVOKED = 17,      /* the client certificate or the device root key is revoked (revocation.h) */
} ds_http_err;

typedef enum ds_route_auth {
    DS_AUTH_NONE = 0,     /* no client certificate needed */
    DS_AUTH_DEVICE = 1,   /* client certificate of the device CA */
    DS_AUTH_OPERATOR = 2, /* client certificate of the operator CA */
} ds_route_auth;

/* Verdict codes in device responses and in the log. */
#define DS_HTTP_VERDICT_NONE 0
#define DS_HTTP_VERDICT_PASS 1
#define DS_HTTP_VERDICT_WARN 2
#define DS_HTTP_VERDICT_FAIL 3

/* One request as a handler sees it. body points into libevent's buffer and
 * is valid during the call. */
typedef struct ds_http_req {
    struct evhttp_request *ev;
    struct ds_http *http;
    void *worker_ctx; /* the context of the worker running this request */
    const struct ds_route *route;
    const uint8_t *body;
    size_t body_len;
    uint8_t exporter[DS_HTTP_EXPORTER_LEN]; /* H3 */
    bool has_device;                        /* DEVICE routes: always true */
    uint8_t device_id[16];                  /* from the client certificate */
    uint8_t cert_serial[20];                /* DEVICE routes: the client certificate's serial, */
    size_t cert_serial_len;                 /* minimal big-endian (revocation.h) */
    bool has_operator;
    char operator_cn[65]; /* with has_operator: the operator certificate's CN (audit actor), "" if none */
    /* Set by the handler for the log line; device_id for the log when the
     * body (not a certificate) named the device. */
    bool log_device;
    uint8_t log_device_id[16];
    int verdict; /* DS_HTTP_VERDICT_* */
    int status;  /* filled by the reply functions */
} ds_http_req;

typedef void (*ds_route_fn)(ds_http_req *req, void *ctx);

typedef struct ds_route {
    const char *path; /* exact; a path ending in '/' also matches every longer path under it */
    bool post;        /* POST with a CBOR body; else GET without one */
    ds_route_auth auth;
    bool json_errors; /* admin and health routes answer errors in JSON */
    ds_route_fn fn;
} ds_route;

typedef struct ds_http_config {
    const char *host; /* numeric address to listen on */
    uint16_t port;
    X509 *server_cert; /* borrowed */
    EVP_PKEY *server_key;
    X509 *device_ca;
    X509 *operator_ca;
    const ds_route *routes; /* borrowed; /healthz and /metrics are built in */
    size_t n_routes;
    void *ctx;               /* passed to every handler */
    unsigned threads;        /* worker threads; 0 means 1 */
    void *const *thread_ctx; /* NULL, or threads entries: worker i's handlers get thread_ctx[i] */
} ds_http_config;

typedef struct ds_http ds_http;

/* Builds the TLS context, binds and listens. NULL on failure, with a reason
 * in err[0..errlen). */
ds_http *ds_http_start(const ds_http_config *cfg, char *err, size_t errlen);
/* Runs the event loop until ds_http_stop; returns 0 (1 if the loop failed).
 * SIGTERM and SIGINT call ds_http_stop. */
int ds_http_run(ds_http *h);
void ds_http_stop(ds_http *h);
void ds_http_free(ds_http *h);

/* Admin hook (docs/api.md "Admin API"): every request whose path starts
 * with DS_HTTP_ADMIN_PREFIX goes to fn, whatever its method (GET, POST,
 * PUT), but only after http.c has checked that the client certificate
 * chains to the operator CA (401 without a client certificate, 403 with
 * another one, as JSON {"error": {"code", "message"}}); req->has_operator
 * is then true. fn reads the method, URI and body from req->ev itself
 * (bodies up to DS_HTTP_ADMIN_HARD_BODY reach it) and answers with
 * ds_http_reply. Device routes keep their limits (H4). Call once, before
 * ds_http_run. */
#define DS_HTTP_ADMIN_PREFIX    "/v1/admin/"
#define DS_HTTP_ADMIN_HARD_BODY (2u * 1024u * 1024u)
void ds_http_set_admin(ds_http *h, ds_route_fn fn, void *ctx);
/* Device gate (docs/revocation.md): fn runs for every DEVICE route after
 * the client certificate is checked (req->device_id and req->cert_serial
 * set), before the route; it returns false after replying itself, and the
 * route then does not run. worker_ctx is the worker's route context. Call
 * once, before ds_http_run. */
typedef bool (*ds_device_gate_fn)(ds_http_req *req, void *worker_ctx);
void ds_http_set_device_gate(ds_http *h, ds_device_gate_fn fn);
/* A reply with any content type (admin JSON). */
void ds_http_reply(ds_http_req *req, int status, const char *content_type, const void *body, size_t len);

/* Shared state of the handlers (reference values, the CA key store): one
 * read-write lock. write=true for exclusive use (issuing, updating). */
void ds_http_shared_lock(struct ds_http *h, bool write);
void ds_http_shared_unlock(struct ds_http *h);
/* Number of workers and worker i's context (cfg->thread_ctx[i] or cfg->ctx). */
unsigned ds_http_threads(const struct ds_http *h);
void *ds_http_thread_ctx(const struct ds_http *h, unsigned i);

/* Counts an attestation verdict for /metrics. */
void ds_http_count_verdict(struct ds_http *h, int verdict);
/* Counts a DRoT rotation event for /metrics: "issued", "completed",
 * "completed_by_attestation", "retried", "receipt_refused" (others are
 * ignored). */
void ds_http_count_rotation(struct ds_http *h, const char *event);
/* Counts a device quarantined automatically (routes.h R5) for /metrics. */
void ds_http_count_auto_quarantine(struct ds_http *h);

/* Replies. Each sends exactly once; a handler calls exactly one. */
void ds_http_reply_cbor(ds_http_req *req, int status, const uint8_t *body, size_t len);
/* Error: CBOR {1: code, 2: message} (JSON {"code","error"} on json routes). */
void ds_http_reply_error(ds_http_req *req, int status, ds_http_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error with extra reasons: CBOR {1: code, 2: message, 3: [tstr…]}. */
void ds_http_reply_error_reasons(ds_http_req *req, int status, ds_http_err code, const char *msg,
                                 const char *const *reasons, size_t n);

#endif /* DS_HTTP_H */
