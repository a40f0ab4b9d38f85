/*
 * http.c — see http.h. docs/api.md lists the routes, docs/operations.md the
 * log format.
 */
#define _POSIX_C_SOURCE 200809L
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/err.h>

#include "ca.h"
#include "drot/cbor.h"

#define METRIC_SLOTS 96

typedef struct metric {
    const char *path; /* a route's path (static) or "other" */
    int status;
    uint64_t n;
} metric;

/* Latency histogram buckets (seconds; docs/api.md "GET /metrics"). */
#define HIST_BUCKETS 11
static const double hist_le[HIST_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
static const char *const hist_le_str[HIST_BUCKETS] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                                      "0.1",   "0.25",   "0.5",   "1",    "2.5"};

/* Route classes of the histogram. */
enum { CLASS_DEVICE = 0, CLASS_ADMIN = 1, CLASS_OTHER = 2, CLASS_N = 3 };
static const char *const class_name[CLASS_N] = {"device", "admin", "other"};
/* drot_rotation_events_total{event=…} (ds_http_count_rotation). */
static const char *const k_rotation_events[5] = {"issued", "completed", "completed_by_attestation", "retried",
                                                 "receipt_refused"};

typedef struct hist {
    uint64_t le[HIST_BUCKETS]; /* cumulative: requests of at most hist_le[i] seconds */
    uint64_t count;
    double sum;
} hist;

/* One worker: its own event base, evhttp, listener and scratch buffer. */
typedef struct ds_worker {
    struct ds_http *h;
    unsigned idx;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    void *ctx; /* route context of this worker */
    pthread_t thread;
    bool started;
    int rc;
    uint8_t body[DS_HTTP_MAX_BODY];
} ds_worker;

struct ds_http {
    ds_worker *workers;
    unsigned n_workers;
    int listen_fd;
    struct event *sig_term, *sig_int; /* on worker 0 */
    SSL_CTX *ssl;                     /* shared: read-only after start */
    X509 *device_ca;
    X509 *operator_ca;
    const ds_route *routes;
    size_t n_routes;
    void *ctx;
    ds_route_fn admin_fn; /* ds_http_set_admin */
    void *admin_ctx;
    ds_device_gate_fn device_gate; /* ds_http_set_device_gate */
    atomic_bool stopping;
    pthread_rwlock_t shared; /* ds_http_shared_lock */
    bool shared_init;
    pthread_mutex_t mlock; /* metrics, verdicts, latency */
    bool mlock_init;
    metric metrics[METRIC_SLOTS];
    uint64_t verdicts[4];
    uint64_t auto_quarantines;
    uint64_t rotations[5]; /* k_rotation_events order */
    hist latency[CLASS_N];
};

/* ---- TLS ------------------------------------------------------------------ */

static SSL_CTX *make_ssl_ctx(const ds_http_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509_STORE *store = NULL;
    if (ctx == NULL)
        goto fail;
    /* H1: TLS 1.3 only. */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        goto fail;
    if (SSL_CTX_use_certificate(ctx, cfg->server_cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, cfg->server_key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    /* H2: one store with both CAs; certificates requested, not required. */
    store = X509_STORE_new();
    if (store == NULL || X509_STORE_add_cert(store, cfg->device_ca) != 1 ||
        X509_STORE_add_cert(store, cfg->operator_ca) != 1)
        goto fail;
    SSL_CTX_set_cert_store(ctx, store);
    store = NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_verify_depth(ctx, 2);
    /* Name both CAs in the CertificateRequest so clients pick the right cert. */
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    if (names == NULL)
        goto fail;
    SSL_CTX_set_client_CA_list(ctx, names);
    if (SSL_CTX_add_client_CA(ctx, cfg->device_ca) != 1 || SSL_CTX_add_client_CA(ctx, cfg->operator_ca) != 1)
        goto fail;
    /* No tickets: every connection is a full handshake with a fresh exporter
     * and a certificate verified now. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
fail:
    snprintf(err, errlen, "TLS context: %s", ERR_reason_error_string(ERR_get_error()));
    X509_STORE_free(store);
    SSL_CTX_free(ctx);
    return NULL;
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    ds_http *h = ((ds_worker *)arg)->h;
    SSL *ssl = SSL_new(h->ssl);
    if (ssl == NULL)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static SSL *req_ssl(struct evhttp_request *ev)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    if (conn == NULL)
        return NULL;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    return bev == NULL ? NULL : bufferevent_openssl_get_ssl(bev);
}

/* Which CA the peer's verified chain ends in: 1 device, 2 operator, 0 none. */
static int peer_ca(const ds_http *h, SSL *ssl, X509 **leaf)
{
    *leaf = SSL_get0_peer_certificate(ssl);
    if (*leaf == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return 0;
    STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
    int n = chain == NULL ? 0 : sk_X509_num(chain);
    if (n < 2)
        return 0; /* a bare CA certificate is no client certificate */
    X509 *top = sk_X509_value(chain, n - 1);
    if (X509_cmp(top, h->device_ca) == 0)
        return 1;
    if (X509_cmp(top, h->operator_ca) == 0)
        return 2;
    return 0;
}

/* The CN of an operator certificate (the operator CA issued it, so it is
 * trusted) for the audit log; "" when absent or unusable. */
static void operator_cn(X509 *leaf, char out[65])
{
    out[0] = '\0';
    int n =
        leaf == NULL ? -1 : X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, out, 65);
    if (n <= 0 || n >= 65) {
        out[0] = '\0';
        return;
    }
    for (char *c = out; *c != '\0'; c++)
        if (*c <= 0x20 || *c > 0x7e)
            *c = '_';
}

/* ---- metrics and log -------------------------------------------------------- */

static void count(ds_http *h, const char *path, int status)
{
    for (size_t i = 0; i < METRIC_SLOTS; i++) {
        metric *m = &h->metrics[i];
        if (m->path == NULL) {
            m->path = path;
            m->status = status;
        }
        if (m->status == status && strcmp(m->path, path) == 0) {
            m->n++;
            return;
        }
    }
}

static void observe(ds_http *h, int cls, const struct timespec *t0)
{
    struct timespec t1;
    if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0)
        return;
    double d = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
    if (d < 0)
        d = 0;
    hist *hs = &h->latency[cls];
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        if (d <= hist_le[i])
            hs->le[i]++;
    hs->count++;
    hs->sum += d;
}

static const char *verdict_name(int v)
{
    static const char *const names[] = {"-", "PASS", "WARN", "FAIL"};
    return v >= 0 && v <= 3 ? names[v] : "-";
}

static void log_line(const ds_http_req *req, const char *path)
{
    char when[32] = "?";
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char dev[33] = "-";
    const uint8_t *id = req->has_device ? req->device_id : req->log_device ? req->log_device_id : NULL;
    if (id != NULL)
        for (size_t i = 0; i < 16; i++)
            snprintf(dev + 2 * i, 3, "%02x", id[i]);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    const char *method = cmd == EVHTTP_REQ_POST ? "POST" : cmd == EVHTTP_REQ_PUT ? "PUT" : "GET";
    fprintf(stderr, "time=%s method=%s route=%s status=%d device=%s verdict=%s\n", when, method, path,
            req->status, dev, verdict_name(req->verdict));
}

/* ---- replies ------------------------------------------------------------------ */

static void send_raw(ds_http_req *req, int status, const char *ctype, const void *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf != NULL && len > 0)
        evbuffer_add(buf, body, len);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req->ev);
    evhttp_add_header(hdr, "Content-Type", ctype);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    evhttp_send_reply(req->ev, status, NULL, buf);
    if (buf != NULL)
        evbuffer_free(buf);
    req->status = status;
}

/* see http.h */
void ds_http_reply_cbor(ds_http_req *req, int status, const uint8_t *body, size_t len)
{
    send_raw(req, status, "application/cbor", body, len);
}

static void json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* see http.h */
void ds_http_reply_error_reasons(ds_http_req *req, int status, ds_http_err code, const char *msg,
                                 const char *const *reasons, size_t n)
{
    if (req->route != NULL && req->route->json_errors) {
        char esc[512], body[700];
        json_escape(esc, sizeof esc, msg);
        int len = snprintf(body, sizeof body, "{\"code\":%d,\"error\":\"%s\"}", (int)code, esc);
        send_raw(req, status, "application/json", body, (size_t)len);
        return;
    }
    uint8_t buf[8192];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, n > 0 ? 3 : 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, (uint64_t)code);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_tstr_z(&w, msg);
    if (n > 0) {
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_array(&w, n);
        for (size_t i = 0; i < n; i++)
            drot_cbor_put_tstr_z(&w, reasons[i]);
    }
    size_t len = 0;
    if (drot_cbor_writer_finish(&w, &len) != DROT_OK) {
        send_raw(req, 500, "text/plain", "error body too large\n", 21);
        return;
    }
    send_raw(req, status, "application/cbor", buf, len);
}

/* see http.h */
void ds_http_reply_error(ds_http_req *req, int status, ds_http_err code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ds_http_reply_error_reasons(req, status, code, msg, NULL, 0);
}

/* see http.h */
void ds_http_reply(ds_http_req *req, int status, const char *content_type, const void *body, size_t len)
{
    send_raw(req, status, content_type, body, len);
}

/* ---- built-in routes ------------------------------------------------------------ */

static void healthz(ds_http_req *req, void *ctx)
{
    (void)ctx;
    static const char ok[] = "{\"status\":\"ok\"}";
    send_raw(req, 200, "application/json", ok, sizeof ok - 1);
}

static void metrics(ds_http_req *req, void *ctx)
{
    ds_http *h = ctx;
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "out of memory");
        return;
    }
    pthread_mutex_lock(&h->mlock);
    evbuffer_add_printf(buf, "# HELP drot_http_requests_total HTTP requests by route and status.\n"
                             "# TYPE drot_http_requests_total counter\n");
    for (size_t i = 0; i < METRIC_SLOTS && h->metrics[i].path != NULL; i++)
        evbuffer_add_printf(buf, "drot_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                            h->metrics[i].path, h->metrics[i].status, (unsigned long long)h->metrics[i].n);
    evbuffer_add_printf(buf, "# HELP drot_attestations_total Attestation verdicts.\n"
                             "# TYPE drot_attestations_total counter\n");
    for (int v = 1; v <= 3; v++)
        evbuffer_add_printf(buf, "drot_attestations_total{verdict=\"%s\"} %llu\n", verdict_name(v),
                            (unsigned long long)h->verdicts[v]);
    evbuffer_add_printf(buf,
                        "# HELP drot_auto_quarantines_total Devices quarantined automatically on a FAIL "
                        "verdict (the class's on_fail).\n"
                        "# TYPE drot_auto_quarantines_total counter\n"
                        "drot_auto_quarantines_total %llu\n",
                        (unsigned long long)h->auto_quarantines);
    evbuffer_add_printf(buf,
                        "# HELP drot_rotation_events_total DRoT rotation job steps seen by this server.\n"
                        "# TYPE drot_rotation_events_total counter\n");
    for (size_t i = 0; i < sizeof k_rotation_events / sizeof k_rotation_events[0]; i++)
        evbuffer_add_printf(buf, "drot_rotation_events_total{event=\"%s\"} %llu\n", k_rotation_events[i],
                            (unsigned long long)h->rotations[i]);
    evbuffer_add_printf(buf, "# HELP drot_http_request_duration_seconds Time from request to reply, by "
                             "route class.\n"
                             "# TYPE drot_http_request_duration_seconds histogram\n");
    for (int c = 0; c < CLASS_N; c++) {
        const hist *hs = &h->latency[c];
        for (size_t i = 0; i < HIST_BUCKETS; i++)
            evbuffer_add_printf(buf,
                                "drot_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
                                class_name[c], hist_le_str[i], (unsigned long long)hs->le[i]);
        evbuffer_add_printf(buf, "drot_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                            class_name[c], (unsigned long long)hs->count);
        evbuffer_add_printf(buf, "drot_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", class_name[c],
                            hs->sum);
        evbuffer_add_printf(buf, "drot_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                            class_name[c], (unsigned long long)hs->count);
    }
    pthread_mutex_unlock(&h->mlock);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req->ev);
    evhttp_add_header(hdr, "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req->ev, 200, NULL, buf);
    evbuffer_free(buf);
    req->status = 200;
}

static const ds_route builtin[] = {
    {"/healthz", false, DS_AUTH_NONE, true, healthz},
    {"/metrics", false, DS_AUTH_NONE, true, metrics},
};

/* ---- dispatch -------------------------------------------------------------------- */

static const ds_route *find_route(const ds_http *h, const char *path, void **ctx)
{
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(builtin[i].path, path) == 0) {
            *ctx = (void *)h;
            return &builtin[i];
        }
    for (size_t i = 0; i < h->n_routes; i++)
        if (strcmp(h->routes[i].path, path) == 0) {
            *ctx = NULL; /* the worker's context, set by on_request */
            return &h->routes[i];
        }
    /* A route whose path ends in '/' also serves every longer path under it
     * (http.h); exact paths win. */
    for (size_t i = 0; i < h->n_routes; i++) {
        size_t n = strlen(h->routes[i].path);
        if (n > 0 && h->routes[i].path[n - 1] == '/' && strncmp(h->routes[i].path, path, n) == 0 &&
            path[n] != '\0') {
            *ctx = NULL;
            return &h->routes[i];
        }
    }
    return NULL;
}

static bool is_builtin(const ds_route *rt)
{
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (rt == &builtin[i])
            return true;
    return false;
}

static bool is_cbor(struct evhttp_request *ev)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(ev), "Content-Type");
    if (ct == NULL)
        return false;
    size_t n = strlen("application/cbor");
    return strncmp(ct, "application/cbor", n) == 0 && (ct[n] == '\0' || ct[n] == ';');
}

/* The certificate's serial as a minimal big-endian integer (what revocation
 * lists carry); false if it is not a positive integer of at most 20 bytes. */
static bool cert_serial(const X509 *leaf, uint8_t out[20], size_t *len)
{
    const ASN1_INTEGER *sn = X509_get0_serialNumber(leaf);
    BIGNUM *bn = sn == NULL ? NULL : ASN1_INTEGER_to_BN(sn, NULL);
    int n = bn == NULL ? -1 : BN_num_bytes(bn);
    bool ok = bn != NULL && !BN_is_negative(bn) && n >= 1 && n <= 20 && BN_bn2bin(bn, out) == n;
    BN_free(bn);
    *len = ok ? (size_t)n : 0;
    return ok;
}

/* Checks the route's policy (H2, H4); replies and returns false if refused. */
static bool admit(ds_http *h, ds_http_req *req, SSL *ssl, uint8_t *copy)
{
    const ds_route *rt = req->route;
    X509 *leaf = NULL;
    int ca = peer_ca(h, ssl, &leaf);
    if (rt->auth == DS_AUTH_DEVICE) {
        if (ca != 1) {
            ds_http_reply_error(req, 401, DS_ERR_CLIENT_CERT,
                                "this route requires a device client certificate");
            return false;
        }
        if (ds_ca_device_id_from_cert(leaf, req->device_id) != DS_KEYS_OK) {
            ds_http_reply_error(req, 401, DS_ERR_CLIENT_CERT, "the client certificate names no device id");
            return false;
        }
        if (!cert_serial(leaf, req->cert_serial, &req->cert_serial_len)) {
            ds_http_reply_error(req, 401, DS_ERR_CLIENT_CERT, "the client certificate's serial is unusable");
            return false;
        }
        req->has_device = true;
        if (h->device_gate != NULL && !h->device_gate(req, req->worker_ctx))
            return false;
    } else if (rt->auth == DS_AUTH_OPERATOR) {
        if (ca != 2) {
            ds_http_reply_error(req, 401, DS_ERR_CLIENT_CERT,
                                "this route requires an operator client certificate");
            return false;
        }
        req->has_operator = true;
        operator_cn(leaf, req->operator_cn);
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req->ev);
    if ((rt->post && cmd != EVHTTP_REQ_POST) || (!rt->post && cmd != EVHTTP_REQ_GET)) {
        ds_http_reply_error(req, 405, DS_ERR_METHOD, "method not allowed: use %s", rt->post ? "POST" : "GET");
        return false;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    size_t len = evbuffer_get_length(in);
    if (len > DS_HTTP_MAX_BODY) {
        ds_http_reply_error(req, 413, DS_ERR_TOO_LARGE, "body of %zu bytes exceeds the limit of %u bytes",
                            len, DS_HTTP_MAX_BODY);
        return false;
    }
    if (rt->post) {
        if (!is_cbor(req->ev)) {
            ds_http_reply_error(req, 415, DS_ERR_CONTENT_TYPE, "Content-Type must be application/cbor");
            return false;
        }
        if (evbuffer_copyout(in, copy, len) != (ev_ssize_t)len) {
            ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot read the body");
            return false;
        }
        req->body = copy;
        req->body_len = len;
    }
    return true;
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    ds_worker *wk = arg;
    ds_http *h = wk->h;
    uint8_t *body = wk->body; /* one worker: one request at a time */
    struct timespec t0;
    bool timed = clock_gettime(CLOCK_MONOTONIC, &t0) == 0;
    ds_http_req req;
    memset(&req, 0, sizeof req);
    req.ev = ev;
    req.http = h;
    req.worker_ctx = wk->ctx;
    const char *uri = evhttp_request_get_uri(ev);
    char path[128] = "";
    const char *q = strchr(uri, '?');
    size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
    if (plen < sizeof path) {
        memcpy(path, uri, plen);
        path[plen] = '\0';
    }
    void *ctx = NULL;
    req.route = find_route(h, path, &ctx);
    if (req.route != NULL && ctx == NULL)
        ctx = wk->ctx;
    const char *label = req.route != NULL ? req.route->path : "other";
    int cls = req.route != NULL && !is_builtin(req.route) ? CLASS_DEVICE : CLASS_OTHER;
    SSL *ssl = req_ssl(ev);
    static const ds_route admin_route = {DS_HTTP_ADMIN_PREFIX, false, DS_AUTH_OPERATOR, true, NULL};
    if (h->admin_fn != NULL && strncmp(path, DS_HTTP_ADMIN_PREFIX, strlen(DS_HTTP_ADMIN_PREFIX)) == 0) {
        /* The admin hook (http.h): operator certificate checked here. */
        X509 *leaf = NULL;
        int ca = ssl == NULL ? 0 : peer_ca(h, ssl, &leaf);
        req.route = &admin_route;
        label = admin_route.path;
        cls = CLASS_ADMIN;
        if (ca == 2) {
            req.has_operator = true;
            operator_cn(leaf, req.operator_cn);
            h->admin_fn(&req, h->admin_ctx);
        } else if (ca == 0) {
            static const char e[] = "{\"error\":{\"code\":\"unauthorized\",\"message\":\"admin routes "
                                    "require an operator client certificate\"}}";
            send_raw(&req, 401, "application/json", e, sizeof e - 1);
        } else {
            static const char e[] = "{\"error\":{\"code\":\"forbidden\",\"message\":\"a device "
                                    "certificate is not an operator certificate\"}}";
            send_raw(&req, 403, "application/json", e, sizeof e - 1);
        }
    } else if (req.route == NULL) {
        ds_http_reply_error(&req, 404, DS_ERR_NOT_FOUND, "no such route");
    } else if (ssl == NULL || SSL_export_keying_material(ssl, req.exporter, sizeof req.exporter,
                                                         "EXPORTER-Channel-Binding", 24, NULL, 0, 0) != 1) {
        ds_http_reply_error(&req, 500, DS_ERR_INTERNAL, "no TLS exporter for this connection");
    } else if (admit(h, &req, ssl, body)) {
        req.route->fn(&req, ctx);
        OPENSSL_cleanse(req.exporter, sizeof req.exporter);
    }
    if (req.status == 0)
        ds_http_reply_error(&req, 500, DS_ERR_INTERNAL, "the handler sent no reply");
    pthread_mutex_lock(&h->mlock);
    count(h, label, req.status);
    if (timed)
        observe(h, cls, &t0);
    pthread_mutex_unlock(&h->mlock);
    log_line(&req, label);
}

/* ---- life cycle -------------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    fprintf(stderr, "drot-server: signal %d: stopping\n", (int)sig);
    ds_http_stop(arg);
}

/* Binds and listens once; every worker accepts on a dup() of this socket.
 * Non-blocking, so a worker that loses the race for a connection goes on.
 * TCP_NODELAY, which Linux copies to every accepted socket: a reply goes out
 * in more than one write (TLS records of headers and body), and with Nagle's
 * algorithm the last one waits for the client's delayed ACK, about 40 ms per
 * request on a kept-alive connection (docs/performance.md). */
static int listen_once(const char *host, uint16_t port)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || ai == NULL)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    int one = 1;
    if (fd >= 0 && (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
                    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
                    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
                    evutil_make_socket_nonblocking(fd) != 0)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_rc;

static void use_threads(void)
{
    threads_rc = evthread_use_pthreads();
}

static int worker_init(ds_http *h, ds_worker *wk, unsigned i, const ds_http_config *cfg)
{
    wk->h = h;
    wk->idx = i;
    wk->ctx = cfg->thread_ctx != NULL ? cfg->thread_ctx[i] : cfg->ctx;
    wk->base = event_base_new();
    wk->http = wk->base == NULL ? NULL : evhttp_new(wk->base);
    if (wk->http == NULL)
        return -1;
    evhttp_set_bevcb(wk->http, make_bev, wk);
    evhttp_set_gencb(wk->http, on_request, wk);
    evhttp_set_max_body_size(wk->http, DS_HTTP_HARD_BODY);
    evhttp_set_max_headers_size(wk->http, 16384);
    evhttp_set_timeout(wk->http, 30);
    evhttp_set_allowed_methods(wk->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    int fd = fcntl(h->listen_fd, F_DUPFD_CLOEXEC, 0);
    wk->sock = fd < 0 ? NULL : evhttp_accept_socket_with_handle(wk->http, fd);
    if (wk->sock == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0;
}

/* see http.h */
ds_http *ds_http_start(const ds_http_config *cfg, char *err, size_t errlen)
{
    unsigned n = cfg->threads == 0 ? 1 : cfg->threads;
    if (n > DS_HTTP_MAX_THREADS) {
        snprintf(err, errlen, "at most %d threads", DS_HTTP_MAX_THREADS);
        return NULL;
    }
    pthread_once(&threads_once, use_threads);
    if (threads_rc != 0) {
        snprintf(err, errlen, "libevent: no thread support");
        return NULL;
    }
    ds_http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->listen_fd = -1;
    atomic_init(&h->stopping, false);
    h->device_ca = cfg->device_ca;
    h->operator_ca = cfg->operator_ca;
    h->routes = cfg->routes;
    h->n_routes = cfg->n_routes;
    h->ctx = cfg->ctx;
    h->shared_init = pthread_rwlock_init(&h->shared, NULL) == 0;
    h->mlock_init = pthread_mutex_init(&h->mlock, NULL) == 0;
    if (!h->shared_init || !h->mlock_init) {
        snprintf(err, errlen, "cannot create locks");
        goto fail;
    }
    h->ssl = make_ssl_ctx(cfg, err, errlen);
    if (h->ssl == NULL)
        goto fail;
    h->workers = calloc(n, sizeof *h->workers);
    if (h->workers == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    h->n_workers = n;
    h->listen_fd = listen_once(cfg->host, cfg->port);
    if (h->listen_fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%u", cfg->host, (unsigned)cfg->port);
        goto fail;
    }
    for (unsigned i = 0; i < n; i++)
        if (worker_init(h, &h->workers[i], i, cfg) != 0) {
            snprintf(err, errlen, "libevent: cannot create the HTTP server (worker %u)", i);
            goto fail;
        }
    struct event_base *b0 = h->workers[0].base;
    h->sig_term = evsignal_new(b0, SIGTERM, on_signal, h);
    h->sig_int = evsignal_new(b0, SIGINT, on_signal, h);
    if (h->sig_term == NULL || h->sig_int == NULL || evsignal_add(h->sig_term, NULL) != 0 ||
        evsignal_add(h->sig_int, NULL) != 0) {
        snprintf(err, errlen, "cannot install signal handlers");
        goto fail;
    }
    return h;
fail:
    ds_http_free(h);
    return NULL;
}

static void *worker_main(void *arg)
{
    ds_worker *wk = arg;
    wk->rc = event_base_dispatch(wk->base) < 0 ? 1 : 0;
    return NULL;
}

/* see http.h */
int ds_http_run(ds_http *h)
{
    int rc = 0;
    for (unsigned i = 1; i < h->n_workers; i++) {
        ds_worker *wk = &h->workers[i];
        if (pthread_create(&wk->thread, NULL, worker_main, wk) != 0) {
            fprintf(stderr, "drot-server: cannot start worker thread %u\n", i);
            rc = 1;
            ds_http_stop(h);
            break;
        }
        wk->started = true;
    }
    worker_main(&h->workers[0]); /* the signal events live on worker 0 */
    rc |= h->workers[0].rc;
    for (unsigned i = 1; i < h->n_workers; i++) {
        ds_worker *wk = &h->workers[i];
        if (wk->started) {
            pthread_join(wk->thread, NULL);
            wk->started = false;
            rc |= wk->rc;
        }
    }
    return rc;
}

/* Runs on the worker's own thread: closes its listener, then drains. */
static void stop_worker(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ds_worker *wk = arg;
    if (wk->sock != NULL)
        evhttp_del_accept_socket(wk->http, wk->sock);
    wk->sock = NULL;
    struct timeval drain = {DS_HTTP_DRAIN_MS / 1000, (DS_HTTP_DRAIN_MS % 1000) * 1000};
    event_base_loopexit(wk->base, &drain);
}

/* see http.h */
void ds_http_stop(ds_http *h)
{
    bool was = false;
    if (!atomic_compare_exchange_strong(&h->stopping, &was, true))
        return;
    struct timeval now = {0, 0};
    for (unsigned i = 0; i < h->n_workers; i++) {
        ds_worker *wk = &h->workers[i];
        if (event_base_once(wk->base, -1, EV_TIMEOUT, stop_worker, wk, &now) != 0)
            event_base_loopexit(wk->base, NULL);
    }
}

/* see http.h */
void ds_http_set_device_gate(ds_http *h, ds_device_gate_fn fn)
{
    h->device_gate = fn;
}

void ds_http_set_admin(ds_http *h, ds_route_fn fn, void *ctx)
{
    h->admin_fn = fn;
    h->admin_ctx = ctx;
    for (unsigned i = 0; i < h->n_workers; i++) {
        evhttp_set_max_body_size(h->workers[i].http, DS_HTTP_ADMIN_HARD_BODY);
        evhttp_set_allowed_methods(h->workers[i].http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
    }
}

/* see http.h */
void ds_http_count_verdict(ds_http *h, int verdict)
{
    if (h == NULL || verdict < 1 || verdict > 3)
        return;
    pthread_mutex_lock(&h->mlock);
    h->verdicts[verdict]++;
    pthread_mutex_unlock(&h->mlock);
}

/* see http.h */
void ds_http_count_rotation(ds_http *h, const char *event)
{
    if (h == NULL || event == NULL)
        return;
    for (size_t i = 0; i < sizeof k_rotation_events / sizeof k_rotation_events[0]; i++) {
        if (strcmp(event, k_rotation_events[i]) == 0) {
            pthread_mutex_lock(&h->mlock);
            h->rotations[i]++;
            pthread_mutex_unlock(&h->mlock);
            return;
        }
    }
}

/* see http.h */
void ds_http_count_auto_quarantine(ds_http *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mlock);
    h->auto_quarantines++;
    pthread_mutex_unlock(&h->mlock);
}

/* see http.h */
void ds_http_shared_lock(ds_http *h, bool write)
{
    if (write)
        pthread_rwlock_wrlock(&h->shared);
    else
        pthread_rwlock_rdlock(&h->shared);
}

/* see http.h */
void ds_http_shared_unlock(ds_http *h)
{
    pthread_rwlock_unlock(&h->shared);
}

/* see http.h */
unsigned ds_http_threads(const ds_http *h)
{
    return h->n_workers;
}

/* see http.h */
void *ds_http_thread_ctx(const ds_http *h, unsigned i)
{
    return i < h->n_workers ? h->workers[i].ctx : NULL;
}

/* see http.h */
void ds_http_free(ds_http *h)
{
    if (h == NULL)
        return;
    if (h->sig_term != NULL)
        event_free(h->sig_term);
    if (h->sig_int != NULL)
        event_free(h->sig_int);
    for (unsigned i = 0; h->workers != NULL && i < h->n_workers; i++) {
        ds_worker *wk = &h->workers[i];
        if (wk->http != NULL)
            evhttp_free(wk->http); /* closes its listener's fd */
        if (wk->base != NULL)
            event_base_free(wk->base);
    }
    free(h->workers);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    SSL_CTX_free(h->ssl);
    if (h->shared_init)
        pthread_rwlock_destroy(&h->shared);
    if (h->mlock_init)
        pthread_mutex_destroy(&h->mlock);
    free(h);
}
