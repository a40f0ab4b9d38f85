/*
 * driver.c — the APM driver: one authenticated link session over a
 * transport, one request at a time (docs/host.md, docs/link.md).
 *
 * State of a driver:
 *
 *   DOWN ──connect──▶ CONNECTED ──HELLO/HELLO_ACK──▶ READY ──request──▶ READY
 *     ▲                   │                            │
 *     └──── any failure of the link (closed, timeout, frame that does not
 *           open, bad header) ◀──────────────────────────┘
 *
 * Invariants:
 *
 *   1. The link is set up lazily: the first request (and the first one after
 *      a failure) connects and runs the handshake.
 *   2. Every answer is read as header (timeout) then the rest (timeout), and
 *      opened in the session (tag, increasing seq, direction) before its
 *      payload is decoded; its type must be the request's response type or
 *      ERROR. Anything else is DH_E_PROTOCOL.
 *   3. After any failure below the APM's own refusal (DH_E_REFUSED) the link
 *      is dropped, so a late or stray frame can never be taken as the answer
 *      to a later request: the next request starts with a fresh connection
 *      and a fresh HELLO, whose new keys make every old frame useless.
 *   4. Only idempotent requests (GET_INFO, GET_TOKEN, TAMPER_LOG, SEAL,
 *      UNSEAL, FW_STATUS) are retried, and only after a lost link or a garbled answer
 *      (DH_E_CONNECT, DH_E_PROTOCOL) on a link that was up; a timeout is
 *      reported, not retried, so a silent APM costs one timeout, and an APM
 *      that refuses the connection is reported at once. EXTEND_MEASUREMENT is never retried:
 *      the APM may have appended before the link broke.
 *   5. The link key and the session keys live only in the driver struct and
 *      are wiped by dh_driver_close.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drot/host.h"
#include "host_internal.h"
#include "drot/link.h"
#include "drot/link_msg.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"

#define DH_DEFAULT_TIMEOUT_MS 5000
#define DH_DEFAULT_RETRIES    1

struct dh_driver {
    const dh_transport_ops *ops;
    void *tctx;
    uint8_t link_key[DROT_LINK_KEY_LEN];
    drot_link_session session;
    int timeout_ms;
    int retries;
    bool connected;      /* the transport is open (the session may not be) */
    bool connect_failed; /* the last attempt failed at connect, not on an open link */
    char last_error[256];
    int32_t last_apm_code;
    uint8_t tx[DROT_LINK_MAX_FRAME];
    uint8_t rx[DROT_LINK_MAX_FRAME];
};

static const char *request_name(uint8_t type)
{
    switch (type) {
    case DROT_LINK_T_HELLO: return "HELLO";
    case DROT_LINK_T_GET_INFO: return "GET_INFO";
    case DROT_LINK_T_GET_TOKEN: return "GET_TOKEN";
    case DROT_LINK_T_EXTEND_MEASUREMENT: return "EXTEND_MEASUREMENT";
    case DROT_LINK_T_TAMPER_LOG: return "TAMPER_LOG";
    case DROT_LINK_T_SEAL: return "SEAL";
    case DROT_LINK_T_UNSEAL: return "UNSEAL";
    case DROT_LINK_T_GET_ROTATION_NONCE: return "GET_ROTATION_NONCE";
    case DROT_LINK_T_ROTATE_ROOT: return "ROTATE_ROOT";
    case DROT_LINK_T_ROTATE_PROPOSE: return "ROTATE_PROPOSE";
    case DROT_LINK_T_ROTATE_ENDORSE: return "ROTATE_ENDORSE";
    case DROT_LINK_T_ROTATE_ANCHOR: return "ROTATE_ANCHOR";
    case DROT_LINK_T_FW_BEGIN: return "FW_BEGIN";
    case DROT_LINK_T_FW_CHUNK: return "FW_CHUNK";
    case DROT_LINK_T_FW_FINISH: return "FW_FINISH";
    case DROT_LINK_T_FW_CONFIRM: return "FW_CONFIRM";
    case DROT_LINK_T_FW_ACTIVATE: return "FW_ACTIVATE";
    case DROT_LINK_T_FW_STATUS: return "FW_STATUS";
    case DROT_LINK_T_SET_REVOCATION_LIST: return "SET_REVOCATION_LIST";
    default: return "request";
    }
}

/* Requests that may be sent again after a lost answer. GET_ROTATION_NONCE
 * is not idempotent (each one replaces the APM's outstanding nonce), but a
 * repeat is harmless: the nonce it returns is the one then in effect. The
 * DRoT commands (ROTATE_*) are never repeated: the APM may have applied
 * one whose answer was lost, and the server reconciles that from the next
 * attestation (docs/drot.md). Of the firmware requests only FW_STATUS is
 * repeated: a BEGIN, CHUNK, FINISH, CONFIRM or ACTIVATE may have been
 * carried out (docs/firmware.md says how a host finds out).
 * SET_REVOCATION_LIST is idempotent: the same list again is a no-op on the
 * APM (docs/revocation.md). */
static bool is_idempotent(uint8_t type)
{
    return type == DROT_LINK_T_GET_INFO || type == DROT_LINK_T_GET_TOKEN || type == DROT_LINK_T_TAMPER_LOG ||
           type == DROT_LINK_T_SEAL || type == DROT_LINK_T_UNSEAL || type == DROT_LINK_T_GET_ROTATION_NONCE ||
           type == DROT_LINK_T_FW_STATUS || type == DROT_LINK_T_SET_REVOCATION_LIST;
}

/* see host_internal.h */
dh_status dh_driver_fail(dh_driver *d, dh_status st, const char *fmt, ...)
{
    va_list ap;
    if (d == NULL)
        return st;
    va_start(ap, fmt);
    vsnprintf(d->last_error, sizeof d->last_error, fmt, ap);
    va_end(ap);
    return st;
}

/* The system's reason after a failed transport call (errno), or a default. */
static const char *os_reason(int e, const char *dflt)
{
    return e != 0 ? strerror(e) : dflt;
}

static void drop_link(dh_driver *d)
{
    if (d->connected)
        d->ops->close(d->tctx);
    d->connected = false;
    d->session.established = false; /* never reuse keys of a broken link */
}

static dh_status link_connect(dh_driver *d)
{
    errno = 0;
    dh_status st = d->ops->connect(d->tctx, d->timeout_ms);
    int e = errno;
    d->connect_failed = st != DH_OK;
    if (st == DH_OK) {
        d->connected = true;
        return DH_OK;
    }
    if (st == DH_E_TIMEOUT)
        return dh_driver_fail(d, st, "cannot reach the APM: no connection within %d ms", d->timeout_ms);
    if (st == DH_E_ARG)
        return dh_driver_fail(d, st, "cannot reach the APM: the transport is not set up");
    return dh_driver_fail(d, st == DH_E_IO ? DH_E_IO : DH_E_CONNECT, "cannot reach the APM: %s",
                          os_reason(e, "connection refused"));
}

static dh_status link_send(dh_driver *d, size_t len, const char *what)
{
    errno = 0;
    dh_status st = d->ops->send(d->tctx, d->tx, len, d->timeout_ms);
    int e = errno;
    if (st == DH_OK)
        return DH_OK;
    drop_link(d);
    if (st == DH_E_TIMEOUT)
        return dh_driver_fail(d, st, "the APM did not take %s within %d ms", what, d->timeout_ms);
    if (st == DH_E_CONNECT)
        return dh_driver_fail(d, st, "the link to the APM is closed (sending %s: %s)", what,
                              os_reason(e, "peer closed"));
    return dh_driver_fail(d, DH_E_IO, "sending %s to the APM: %s", what, os_reason(e, "I/O error"));
}

static dh_status recv_part(dh_driver *d, uint8_t *buf, size_t len, const char *what)
{
    errno = 0;
    dh_status st = d->ops->recv(d->tctx, buf, len, d->timeout_ms);
    int e = errno;
    if (st == DH_OK)
        return DH_OK;
    drop_link(d);
    if (st == DH_E_TIMEOUT)
        return dh_driver_fail(d, st, "no answer from the APM within %d ms (%s)", d->timeout_ms, what);
    if (st == DH_E_CONNECT)
        return dh_driver_fail(d, st, "the APM closed the link while %s was outstanding", what);
    return dh_driver_fail(d, DH_E_IO, "reading the answer to %s: %s", what, os_reason(e, "I/O error"));
}

/* Reads one frame into d->rx; *len its size. */
static dh_status link_recv_frame(dh_driver *d, const char *what, size_t *len)
{
    dh_status st = recv_part(d, d->rx, DROT_LINK_HEADER_LEN, what);
    if (st != DH_OK)
        return st;
    size_t plen = 0;
    drot_status ds = drot_link_parse_header(d->rx, DROT_LINK_HEADER_LEN, NULL, NULL, &plen);
    if (ds != DROT_OK) {
        drop_link(d); /* the stream is out of step: nothing after this can be framed */
        return dh_driver_fail(d, DH_E_PROTOCOL, "the answer to %s has a bad frame header: %s", what,
                              drot_status_str(ds));
    }
    st = recv_part(d, d->rx + DROT_LINK_HEADER_LEN, plen + DROT_LINK_TAG_LEN, what);
    if (st != DH_OK)
        return st;
    *len = DROT_LINK_HEADER_LEN + plen + DROT_LINK_TAG_LEN;
    return DH_OK;
}

/* Copies an APM text into a printable C string (it is authenticated, but
 * it ends up in logs and terminals). */
static void printable(char *out, size_t cap, const char *in, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
}

static dh_status handshake(dh_driver *d)
{
    drot_rng rng = drot_sysrng();
    size_t len = 0;
    drot_status ds = drot_link_host_hello(&d->session, &rng, d->tx, sizeof d->tx, &len);
    if (ds != DROT_OK)
        return dh_driver_fail(d, ds == DROT_E_RNG ? DH_E_IO : DH_E_PROTOCOL, "cannot build the HELLO: %s",
                              drot_status_str(ds));
    dh_status st = link_send(d, len, "HELLO");
    if (st == DH_OK)
        st = link_recv_frame(d, "HELLO", &len);
    if (st != DH_OK)
        return st;
    drot_link_frame view;
    memset(&view, 0, sizeof view);
    ds = drot_link_host_accept_ack(&d->session, d->rx, len, &view);
    if (ds == DROT_OK)
        return DH_OK;
    drop_link(d);
    if (ds == DROT_E_STATE && view.type == DROT_LINK_T_ERROR) {
        /* An ERROR under k_hello: the APM holds our link key but refused. */
        drot_link_error e;
        if (drot_link_error_decode(view.payload, view.payload_len, &e) == DROT_OK) {
            char msg[DROT_LINK_MAX_ERROR_MSG + 1];
            printable(msg, sizeof msg, e.message, e.message_len);
            d->last_apm_code = e.code;
            return dh_driver_fail(d, DH_E_AUTH, "the APM refused the HELLO: %s (%d)", msg, (int)e.code);
        }
    }
    if (ds == DROT_E_VERIFY || d->rx[3] == DROT_LINK_T_ERROR)
        /* An answer that does not verify under keys from our link key: the
         * APM was paired with another key (its refusal is tagged under
         * a k_hello we cannot compute). */
        return dh_driver_fail(d, DH_E_AUTH, "the APM refused the HELLO: wrong link key? (%s)",
                              drot_status_str(ds));
    return dh_driver_fail(d, DH_E_PROTOCOL, "bad answer to the HELLO: %s", drot_status_str(ds));
}

static dh_status ensure_session(dh_driver *d)
{
    if (!d->connected) {
        dh_status st = link_connect(d);
        if (st != DH_OK)
            return st;
        d->session.established = false;
    }
    if (d->session.established && d->session.next_tx_seq <= DROT_LINK_SEQ_LAST)
        return DH_OK;
    return handshake(d);
}

/* One request and its answer on the current session; *view points into
 * d->rx on DH_OK. */
static dh_status exchange(dh_driver *d, uint8_t type, const uint8_t *payload, size_t plen,
                          drot_link_frame *view)
{
    const char *what = request_name(type);
    size_t len = 0;
    drot_status ds = drot_link_session_seal(&d->session, type, payload, plen, d->tx, sizeof d->tx, &len);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "cannot build %s: %s", what, drot_status_str(ds));
    dh_status st = link_send(d, len, what);
    if (st == DH_OK)
        st = link_recv_frame(d, what, &len);
    if (st != DH_OK)
        return st;
    ds = drot_link_session_open(&d->session, d->rx, len, view);
    if (ds != DROT_OK) {
        drop_link(d);
        return dh_driver_fail(d, DH_E_PROTOCOL, "the answer to %s does not open in the session: %s", what,
                              drot_status_str(ds));
    }
    if (view->type == DROT_LINK_T_ERROR) {
        drot_link_error e;
        ds = drot_link_error_decode(view->payload, view->payload_len, &e);
        if (ds != DROT_OK) {
            drop_link(d);
            return dh_driver_fail(d, DH_E_PROTOCOL, "malformed ERROR in answer to %s: %s", what,
                                  drot_status_str(ds));
        }
        char msg[DROT_LINK_MAX_ERROR_MSG + 1];
        printable(msg, sizeof msg, e.message, e.message_len);
        d->last_apm_code = e.code;
        return dh_driver_fail(d, DH_E_REFUSED, "APM refused %s: %s (%d)", what, msg, (int)e.code);
    }
    if (view->type != DROT_LINK_RESPONSE_TO(type)) {
        drop_link(d);
        return dh_driver_fail(d, DH_E_PROTOCOL, "the answer to %s has type 0x%02x, not 0x%02x", what,
                              view->type, DROT_LINK_RESPONSE_TO(type));
    }
    return DH_OK;
}

/* A request with set-up, and with the retries its type allows. */
static dh_status request(dh_driver *d, uint8_t type, const uint8_t *payload, size_t plen,
                         drot_link_frame *view)
{
    d->last_error[0] = '\0';
    d->last_apm_code = 0;
    int attempts = is_idempotent(type) && d->retries < 100 ? 1 + d->retries : (is_idempotent(type) ? 101 : 1);
    char first[sizeof d->last_error] = "";
    for (int i = 0;; i++) {
        d->connect_failed = false;
        dh_status st = ensure_session(d);
        if (st == DH_OK)
            st = exchange(d, type, payload, plen, view);
        if (st == DH_OK) {
            d->last_error[0] = '\0';
            return DH_OK;
        }
        /* A lost link or a garbled answer is worth one more session; an APM
         * that cannot be reached at all is not (retrying at once would only
         * fail the same way). */
        bool retryable = (st == DH_E_CONNECT || st == DH_E_PROTOCOL) && !d->connect_failed;
        if (i == 0)
            memcpy(first, d->last_error, sizeof first);
        if (!retryable || i + 1 >= attempts) {
            if (i > 0) {
                char last[sizeof d->last_error];
                memcpy(last, d->last_error, sizeof last);
                dh_driver_fail(d, st, "%.120s (after %d retr%s; first: %.100s)", last, i,
                               i == 1 ? "y" : "ies", first);
            } else if (retryable && !is_idempotent(type)) {
                char last[sizeof d->last_error];
                memcpy(last, d->last_error, sizeof last);
                dh_driver_fail(d, st, "%.180s; %s is not retried: the APM may have applied it", last,
                               request_name(type));
            }
            return st;
        }
    }
}

static dh_status bad_answer(dh_driver *d, uint8_t type, drot_status ds)
{
    drop_link(d);
    return dh_driver_fail(d, DH_E_PROTOCOL, "malformed %s answer from the APM: %s", request_name(type),
                          drot_status_str(ds));
}

/* see host_internal.h */
dh_status dh_driver_request(dh_driver *d, uint8_t type, const uint8_t *payload, size_t plen,
                            drot_link_frame *view)
{
    return request(d, type, payload, plen, view);
}

/* see host_internal.h */
dh_status dh_driver_bad_answer(dh_driver *d, uint8_t type, drot_status ds)
{
    return bad_answer(d, type, ds);
}

/* see host_internal.h */
void dh_driver_set_apm_code(dh_driver *d, int32_t code)
{
    if (d != NULL)
        d->last_apm_code = code;
}

/* see host_internal.h */
void dh_driver_drop_link(dh_driver *d)
{
    if (d != NULL)
        drop_link(d);
}

/* see drot/host.h */
dh_status dh_driver_open(dh_driver **out, const dh_transport_ops *ops, void *tctx, const uint8_t link_key[32],
                         const dh_driver_options *opt)
{
    if (out == NULL)
        return DH_E_ARG;
    *out = NULL;
    if (ops == NULL || ops->connect == NULL || ops->send == NULL || ops->recv == NULL || ops->close == NULL ||
        link_key == NULL || (opt != NULL && opt->timeout_ms < 0))
        return DH_E_ARG;
    dh_driver *d = calloc(1, sizeof *d);
    if (d == NULL)
        return DH_E_NOMEM;
    d->ops = ops;
    d->tctx = tctx;
    memcpy(d->link_key, link_key, DROT_LINK_KEY_LEN);
    d->timeout_ms = (opt != NULL && opt->timeout_ms > 0) ? opt->timeout_ms : DH_DEFAULT_TIMEOUT_MS;
    d->retries =
        opt == NULL || opt->retries == 0 ? DH_DEFAULT_RETRIES : (opt->retries < 0 ? 0 : opt->retries);
    if (drot_link_session_init_host(&d->session, d->link_key) != DROT_OK) {
        drot_wipe(d, sizeof *d);
        free(d);
        return DH_E_ARG;
    }
    *out = d;
    return DH_OK;
}

/* see drot/host.h */
void dh_driver_close(dh_driver *d)
{
    if (d == NULL)
        return;
    if (d->connected)
        d->ops->close(d->tctx);
    drot_link_session_wipe(&d->session);
    drot_wipe(d, sizeof *d);
    free(d);
}

/* see drot/host.h */
const char *dh_driver_last_error(const dh_driver *d)
{
    return d != NULL ? d->last_error : "no driver";
}

/* see drot/host.h */
int32_t dh_driver_last_apm_code(const dh_driver *d)
{
    return d != NULL ? d->last_apm_code : 0;
}

static dh_status arg_error(dh_driver *d, const char *what)
{
    if (d == NULL)
        return DH_E_ARG;
    d->last_apm_code = 0;
    return dh_driver_fail(d, DH_E_ARG, "%s", what);
}

/* see drot/host.h */
dh_status dh_get_info(dh_driver *d, drot_link_info *out)
{
    if (d == NULL || out == NULL)
        return arg_error(d, "dh_get_info: NULL argument");
    static const uint8_t empty[] = {0xa0};
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_GET_INFO, empty, sizeof empty, &v);
    if (st != DH_OK)
        return st;
    drot_status ds = drot_link_info_decode(v.payload, v.payload_len, out);
    return ds == DROT_OK ? DH_OK : bad_answer(d, DROT_LINK_T_GET_INFO, ds);
}

/* see drot/host.h */
dh_status dh_get_token(dh_driver *d, const uint8_t *nonce, size_t nonce_len, uint32_t profile, uint8_t *out,
                       size_t cap, size_t *out_len)
{
    if (d == NULL || nonce == NULL || out_len == NULL || (out == NULL && cap > 0))
        return arg_error(d, "dh_get_token: NULL argument");
    *out_len = 0;
    if (nonce_len != 32 && nonce_len != 48 && nonce_len != 64)
        return arg_error(d, "dh_get_token: the nonce must be 32, 48 or 64 bytes");
    if (profile != DROT_LINK_PROFILE_PSA && profile != DROT_LINK_PROFILE_DROT)
        return arg_error(d, "dh_get_token: unknown profile (1 psa, 2 drot)");
    drot_link_token_req req = {.nonce_len = nonce_len, .profile = profile};
    memcpy(req.nonce, nonce, nonce_len);
    uint8_t p[96];
    size_t plen = 0;
    drot_status ds = drot_link_token_req_encode(&req, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return arg_error(d, "dh_get_token: cannot encode the request");
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_GET_TOKEN, p, plen, &v);
    if (st != DH_OK)
        return st;
    const uint8_t *tok = NULL;
    size_t tok_len = 0;
    ds = drot_link_token_resp_decode(v.payload, v.payload_len, &tok, &tok_len);
    if (ds != DROT_OK)
        return bad_answer(d, DROT_LINK_T_GET_TOKEN, ds);
    *out_len = tok_len;
    if (tok_len > cap)
        return dh_driver_fail(d, DH_E_ARG, "token buffer too small: %zu bytes needed", tok_len);
    memcpy(out, tok, tok_len); /* the APM's bytes, unchanged */
    return DH_OK;
}

/* see drot/host.h */
dh_status dh_extend(dh_driver *d, const drot_link_measurement *m, uint32_t *index)
{
    if (d == NULL || m == NULL)
        return arg_error(d, "dh_extend: NULL argument");
    uint8_t p[160];
    size_t plen = 0;
    drot_status ds = drot_link_extend_req_encode(m, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "dh_extend: bad measurement (%s)", drot_status_str(ds));
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_EXTEND_MEASUREMENT, p, plen, &v);
    if (st != DH_OK)
        return st;
    uint32_t idx = 0;
    ds = drot_link_extend_resp_decode(v.payload, v.payload_len, &idx);
    if (ds != DROT_OK)
        return bad_answer(d, DROT_LINK_T_EXTEND_MEASUREMENT, ds);
    if (index != NULL)
        *index = idx;
    return DH_OK;
}

/* see drot/host.h */
dh_status dh_tamper_log(dh_driver *d, drot_link_tamper_log *out)
{
    if (d == NULL || out == NULL)
        return arg_error(d, "dh_tamper_log: NULL argument");
    static const uint8_t empty[] = {0xa0};
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_TAMPER_LOG, empty, sizeof empty, &v);
    if (st != DH_OK)
        return st;
    drot_status ds = drot_link_tamper_log_decode(v.payload, v.payload_len, out);
    return ds == DROT_OK ? DH_OK : bad_answer(d, DROT_LINK_T_TAMPER_LOG, ds);
}

/* A label for SEAL/UNSEAL: checked here for a clear message; the codec
 * checks it again. */
static dh_status check_label(dh_driver *d, const char *label, size_t *len)
{
    if (label == NULL)
        return dh_driver_fail(d, DH_E_ARG, "seal label: NULL");
    size_t n = strnlen(label, DROT_LINK_SEAL_MAX_LABEL + 1);
    if (n == 0 || n > DROT_LINK_SEAL_MAX_LABEL)
        return dh_driver_fail(d, DH_E_ARG, "seal label: 1 to %u characters", DROT_LINK_SEAL_MAX_LABEL);
    for (size_t i = 0; i < n; i++) {
        char c = label[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return dh_driver_fail(d, DH_E_ARG, "seal label: only A-Z a-z 0-9 . _ - allowed");
    }
    *len = n;
    return DH_OK;
}

/* Request payloads of SEAL and UNSEAL: label, a byte string, CBOR heads. */
#define DH_SEAL_REQ_MAX (DROT_LINK_SEAL_MAX_BLOB + DROT_LINK_SEAL_MAX_LABEL + 16u)

/* see drot/host.h */
dh_status dh_seal(dh_driver *d, const char *label, const uint8_t *data, size_t len, uint8_t *blob, size_t cap,
                  size_t *blob_len)
{
    if (d == NULL || blob_len == NULL || (data == NULL && len > 0) || (blob == NULL && cap > 0))
        return arg_error(d, "dh_seal: NULL argument");
    *blob_len = 0;
    d->last_apm_code = 0;
    drot_link_seal_req req;
    memset(&req, 0, sizeof req);
    dh_status st = check_label(d, label, &req.label_len);
    if (st != DH_OK)
        return st;
    if (len > DROT_LINK_SEAL_MAX_DATA)
        return dh_driver_fail(d, DH_E_ARG, "dh_seal: at most %u bytes can be sealed, not %zu",
                              DROT_LINK_SEAL_MAX_DATA, len);
    memcpy(req.label, label, req.label_len);
    req.data = data;
    req.data_len = len;
    uint8_t p[DH_SEAL_REQ_MAX];
    size_t plen = 0;
    drot_status ds = drot_link_seal_req_encode(&req, p, sizeof p, &plen);
    if (ds != DROT_OK) {
        st = dh_driver_fail(d, DH_E_ARG, "dh_seal: cannot encode the request (%s)", drot_status_str(ds));
        goto out;
    }
    drot_link_frame v;
    st = request(d, DROT_LINK_T_SEAL, p, plen, &v);
    if (st != DH_OK)
        goto out;
    const uint8_t *b = NULL;
    size_t blen = 0;
    ds = drot_link_blob_resp_decode(v.payload, v.payload_len, &b, &blen);
    if (ds != DROT_OK) {
        st = bad_answer(d, DROT_LINK_T_SEAL, ds);
        goto out;
    }
    *blob_len = blen;
    if (blen > cap) {
        st = dh_driver_fail(d, DH_E_ARG, "blob buffer too small: %zu bytes needed", blen);
        goto out;
    }
    memcpy(blob, b, blen);
    st = DH_OK;
out:
    /* the plaintext went through the request payload and the frame buffer */
    drot_wipe(p, sizeof p);
    drot_wipe(d->tx, sizeof d->tx);
    return st;
}

/* see drot/host.h */
dh_status dh_unseal(dh_driver *d, const char *label, const uint8_t *blob, size_t blob_len, uint8_t *data,
                    size_t cap, size_t *len)
{
    if (d == NULL || len == NULL || blob == NULL || (data == NULL && cap > 0))
        return arg_error(d, "dh_unseal: NULL argument");
    *len = 0;
    d->last_apm_code = 0;
    drot_link_unseal_req req;
    memset(&req, 0, sizeof req);
    dh_status st = check_label(d, label, &req.label_len);
    if (st != DH_OK)
        return st;
    if (blob_len < DROT_LINK_SEAL_MIN_BLOB || blob_len > DROT_LINK_SEAL_MAX_BLOB)
        return dh_driver_fail(d, DH_E_ARG, "dh_unseal: a blob is %u to %u bytes, not %zu",
                              DROT_LINK_SEAL_MIN_BLOB, DROT_LINK_SEAL_MAX_BLOB, blob_len);
    memcpy(req.label, label, req.label_len);
    req.blob = blob;
    req.blob_len = blob_len;
    uint8_t p[DH_SEAL_REQ_MAX];
    size_t plen = 0;
    drot_status ds = drot_link_unseal_req_encode(&req, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "dh_unseal: cannot encode the request (%s)", drot_status_str(ds));
    drot_link_frame v;
    st = request(d, DROT_LINK_T_UNSEAL, p, plen, &v);
    if (st != DH_OK)
        goto out;
    const uint8_t *pt = NULL;
    size_t n = 0;
    ds = drot_link_data_resp_decode(v.payload, v.payload_len, &pt, &n);
    if (ds != DROT_OK) {
        st = bad_answer(d, DROT_LINK_T_UNSEAL, ds);
        goto out;
    }
    *len = n;
    if (n > cap) {
        st = dh_driver_fail(d, DH_E_ARG, "data buffer too small: %zu bytes needed", n);
        goto out;
    }
    if (n > 0)
        memcpy(data, pt, n);
    st = DH_OK;
out:
    /* the plaintext arrived in the frame buffer; a failure returns none */
    drot_wipe(d->rx, sizeof d->rx);
    if (st != DH_OK && data != NULL)
        drot_wipe(data, cap);
    return st;
}

/* ---- DRoT pass-through (docs/drot.md) ---------------------------------------- */

/* see drot/host.h */
dh_status dh_rotation_nonce(dh_driver *d, uint8_t nonce[DROT_LINK_ROT_NONCE_LEN])
{
    static const uint8_t empty[] = {0xa0};
    if (d == NULL || nonce == NULL)
        return arg_error(d, "dh_rotation_nonce: NULL argument");
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_GET_ROTATION_NONCE, empty, sizeof empty, &v);
    if (st != DH_OK)
        return st;
    drot_status ds = drot_link_rot_nonce_decode(v.payload, v.payload_len, nonce);
    return ds == DROT_OK ? DH_OK : bad_answer(d, DROT_LINK_T_GET_ROTATION_NONCE, ds);
}

/* One signed message in ({1: msg}), one out, for the ROTATE_* requests. */
static dh_status rot_exchange(dh_driver *d, uint8_t type, const uint8_t *msg, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len)
{
    uint8_t p[DROT_LINK_ROT_MAX_MSG + 16];
    size_t plen = 0;
    drot_status ds;
    if (d == NULL || out_len == NULL || (out == NULL && cap > 0) || (msg == NULL && len > 0))
        return arg_error(d, "DRoT request: NULL argument");
    *out_len = 0;
    if (msg == NULL) {
        p[0] = 0xa0; /* ROTATE_PROPOSE: {} */
        plen = 1;
    } else if (len == 0 || len > DROT_LINK_ROT_MAX_MSG) {
        return dh_driver_fail(d, DH_E_ARG, "%s: the message must be 1..%u bytes, not %zu", request_name(type),
                              DROT_LINK_ROT_MAX_MSG, len);
    } else if ((ds = drot_link_rot_msg_encode(msg, len, p, sizeof p, &plen)) != DROT_OK) {
        return dh_driver_fail(d, DH_E_ARG, "%s: cannot encode the request (%s)", request_name(type),
                              drot_status_str(ds));
    }
    drot_link_frame v;
    dh_status st = request(d, type, p, plen, &v);
    if (st != DH_OK)
        return st;
    const uint8_t *m = NULL;
    size_t mlen = 0;
    ds = drot_link_rot_msg_decode(v.payload, v.payload_len, &m, &mlen);
    if (ds != DROT_OK)
        return bad_answer(d, type, ds);
    *out_len = mlen;
    if (mlen > cap)
        return dh_driver_fail(d, DH_E_ARG, "%s: answer buffer too small: %zu bytes needed",
                              request_name(type), mlen);
    memcpy(out, m, mlen);
    return DH_OK;
}

/* see drot/host.h */
dh_status dh_rotate_root(dh_driver *d, const uint8_t *instruction, size_t len, uint8_t *receipt, size_t cap,
                         size_t *receipt_len)
{
    if (instruction == NULL)
        return arg_error(d, "dh_rotate_root: NULL instruction");
    return rot_exchange(d, DROT_LINK_T_ROTATE_ROOT, instruction, len, receipt, cap, receipt_len);
}

/* see drot/host.h */
dh_status dh_rotate_propose(dh_driver *d, uint8_t *proposal, size_t cap, size_t *proposal_len)
{
    return rot_exchange(d, DROT_LINK_T_ROTATE_PROPOSE, NULL, 0, proposal, cap, proposal_len);
}

/* see drot/host.h */
dh_status dh_rotate_endorse(dh_driver *d, const uint8_t *endorsement, size_t len, uint8_t *receipt,
                            size_t cap, size_t *receipt_len)
{
    if (endorsement == NULL)
        return arg_error(d, "dh_rotate_endorse: NULL endorsement");
    return rot_exchange(d, DROT_LINK_T_ROTATE_ENDORSE, endorsement, len, receipt, cap, receipt_len);
}

/* see drot/host.h */
dh_status dh_rotate_anchor(dh_driver *d, const uint8_t *instruction, size_t len, drot_link_anchor_resp *out)
{
    uint8_t p[DROT_LINK_ROT_MAX_MSG + 16];
    size_t plen = 0;
    if (d == NULL || instruction == NULL || out == NULL)
        return arg_error(d, "dh_rotate_anchor: NULL argument");
    memset(out, 0, sizeof *out);
    if (len == 0 || len > DROT_LINK_ROT_MAX_MSG)
        return dh_driver_fail(d, DH_E_ARG, "ROTATE_ANCHOR: the instruction must be 1..%u bytes, not %zu",
                              DROT_LINK_ROT_MAX_MSG, len);
    drot_status ds = drot_link_rot_msg_encode(instruction, len, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "ROTATE_ANCHOR: cannot encode the request (%s)",
                              drot_status_str(ds));
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_ROTATE_ANCHOR, p, plen, &v);
    if (st != DH_OK)
        return st;
    ds = drot_link_anchor_resp_decode(v.payload, v.payload_len, out);
    return ds == DROT_OK ? DH_OK : bad_answer(d, DROT_LINK_T_ROTATE_ANCHOR, ds);
}

/* ---- revocation list ---------------------------------------------------------------- */

/* see drot/host.h */
dh_status dh_set_revocation_list(dh_driver *d, const uint8_t *list, size_t len,
                                 drot_link_revocation_resp *out)
{
    static const char what[] = "SET_REVOCATION_LIST";
    uint8_t p[DROT_LINK_REVOCATION_MAX + 16];
    size_t plen = 0;
    drot_link_revocation_resp r;
    if (d == NULL || list == NULL)
        return arg_error(d, "dh_set_revocation_list: NULL argument");
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (len == 0 || len > DROT_LINK_REVOCATION_MAX)
        return dh_driver_fail(d, DH_E_ARG, "%s: the signed list must be 1..%u bytes, not %zu", what,
                              (unsigned)DROT_LINK_REVOCATION_MAX, len);
    drot_status ds = drot_link_revocation_req_encode(list, len, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "%s: cannot encode the request (%s)", what, drot_status_str(ds));
    drot_link_frame v;
    dh_status st = request(d, DROT_LINK_T_SET_REVOCATION_LIST, p, plen, &v);
    if (st != DH_OK)
        return st;
    ds = drot_link_revocation_resp_decode(v.payload, v.payload_len, &r);
    if (ds != DROT_OK)
        return bad_answer(d, DROT_LINK_T_SET_REVOCATION_LIST, ds);
    if (out != NULL)
        *out = r;
    return DH_OK;
}
