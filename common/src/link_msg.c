/*
 * link_msg.c — payload codecs of the host <-> APM link (drot/link_msg.h).
 *
 * Every decoder has the same shape:
 *
 *   open_map          the top level is a map (else DROT_E_MALFORMED)
 *   for each entry:
 *     next_key        an unsigned key inside the message's set, not seen before
 *     read_<kind>     the value, with its type, size and range checked
 *   require           every key of the set was seen
 *   reader_done       nothing after the map
 *
 * Why the type of a value is peeked before it is read: libcbor-level errors
 * (DROT_E_TRUNCATED, …) must pass through unchanged, while a well-formed
 * value of the wrong type is the message's error (DROT_E_CLAIM_INVALID).
 *
 * The reader never reads outside [p, p + len) (drot/cbor.h), and a map or
 * array count is checked against its limit before any element is stored, so
 * a decoder writes only inside its struct's fixed arrays.
 */
#include "drot/link_msg.h"

#include <string.h>

#include "drot/cbor.h"

#include "link_cbor.h"

/* ---- HELLO / HELLO_ACK ---------------------------------------------------- */

/* see drot/link_msg.h */
drot_status drot_link_hello_encode(const uint8_t nonce[DROT_LINK_NONCE_LEN], uint8_t *out, size_t cap,
                                   size_t *out_len)
{
    drot_cbor_writer w;
    if (nonce == NULL || !out_ok(out, cap, out_len))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, nonce, DROT_LINK_NONCE_LEN);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_hello_decode(const uint8_t *p, size_t len, uint8_t nonce[DROT_LINK_NONCE_LEN])
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    if ((p == NULL && len != 0) || nonce == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(1), &seen, &key)) == DROT_OK)
            st = read_bstr_exact(&r, nonce, DROT_LINK_NONCE_LEN);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(1));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- empty ---------------------------------------------------------------- */

/* see drot/link_msg.h */
drot_status drot_link_empty_encode(uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (!out_ok(out, cap, out_len))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 0);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_empty_decode(const uint8_t *p, size_t len)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    if (p == NULL && len != 0)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    if (st == DROT_OK && n > 0) /* any key is outside the empty set */
        st = next_key(&r, 0, &seen, &key);
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- ERROR ---------------------------------------------------------------- */

/* see drot/link_msg.h */
drot_status drot_link_error_encode(const drot_link_error *m, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) ||
        !text_ok(m->message, m->message_len, DROT_LINK_MAX_ERROR_MSG))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_int(&w, m->code);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_tstr(&w, m->message, m->message_len);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_error_decode(const uint8_t *p, size_t len, drot_link_error *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    int64_t code;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1) {
            if ((st = read_int(&r, INT32_MIN, INT32_MAX, &code)) == DROT_OK)
                m->code = (int32_t)code;
        } else {
            st = read_tstr(&r, m->message, sizeof m->message, &m->message_len);
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- measurement ---------------------------------------------------------- */

static bool measurement_ok(const drot_link_measurement *m)
{
    return text_ok(m->type, m->type_len, DROT_LINK_MAX_TEXT) &&
           text_ok(m->version, m->version_len, DROT_LINK_MAX_TEXT);
}

static void put_measurement(drot_cbor_writer *w, const drot_link_measurement *m)
{
    drot_cbor_put_map(w, 4);
    drot_cbor_put_uint(w, 1);
    drot_cbor_put_tstr(w, m->type, m->type_len);
    drot_cbor_put_uint(w, 2);
    drot_cbor_put_tstr(w, m->version, m->version_len);
    drot_cbor_put_uint(w, 3);
    drot_cbor_put_bstr(w, m->digest, DROT_LINK_DIGEST_LEN);
    drot_cbor_put_uint(w, 4);
    drot_cbor_put_bstr(w, m->signer, DROT_LINK_DIGEST_LEN);
}

/* One measurement map; wrong_type is what a non-map costs (top level:
 * DROT_E_MALFORMED; inside GET_INFO: DROT_E_CLAIM_INVALID). */
static drot_status read_measurement(drot_cbor_reader *r, drot_status wrong_type, drot_link_measurement *m)
{
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    drot_status st = open_map(r, wrong_type, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(r, KEYS(4), &seen, &key)) != DROT_OK)
            break;
        switch (key) {
        case 1: st = read_tstr(r, m->type, sizeof m->type, &m->type_len); break;
        case 2: st = read_tstr(r, m->version, sizeof m->version, &m->version_len); break;
        case 3: st = read_bstr_exact(r, m->digest, sizeof m->digest); break;
        default: st = read_bstr_exact(r, m->signer, sizeof m->signer); break;
        }
    }
    return st == DROT_OK ? require(seen, KEYS(4)) : st;
}

/* see drot/link_msg.h */
drot_status drot_link_extend_req_encode(const drot_link_measurement *m, uint8_t *out, size_t cap,
                                        size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || !measurement_ok(m))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    put_measurement(&w, m);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_extend_req_decode(const uint8_t *p, size_t len, drot_link_measurement *m)
{
    drot_cbor_reader r;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = read_measurement(&r, DROT_E_MALFORMED, m);
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* see drot/link_msg.h */
drot_status drot_link_extend_resp_encode(uint32_t index, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (!out_ok(out, cap, out_len))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, index);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_extend_resp_decode(const uint8_t *p, size_t len, uint32_t *index)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t v = 0;
    if ((p == NULL && len != 0) || index == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(1), &seen, &key)) == DROT_OK)
            st = read_uint(&r, UINT32_MAX, &v);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(1));
    if (st == DROT_OK)
        st = drot_cbor_reader_done(&r);
    if (st == DROT_OK)
        *index = (uint32_t)v;
    return st;
}

/* ---- GET_INFO ------------------------------------------------------------- */

enum {
    INFO_DEVICE_ID = 1,
    INFO_EPOCH,
    INFO_LIFECYCLE,
    INFO_INSTANCE_ID,
    INFO_DRK_PUB,
    INFO_SVNS,
    INFO_TAMPER_STATE,
    INFO_TAMPER_COUNT,
    INFO_BOOT_STATUS,
    INFO_APM_VERSION,
    INFO_MEASUREMENTS,
    INFO_REVOCATION_VERSION,
    INFO_LAST = INFO_REVOCATION_VERSION,
};

/* see drot/link_msg.h */
drot_status drot_link_info_encode(const drot_link_info *m, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || !svns_ok(m->svns, m->num_svns, UINT64_MAX) ||
        m->num_measurements > DROT_LINK_MAX_MEASUREMENTS ||
        !text_ok(m->apm_version, m->apm_version_len, DROT_LINK_MAX_TEXT))
        return DROT_E_ARG;
    for (size_t i = 0; i < m->num_measurements; i++)
        if (!measurement_ok(&m->measurements[i]))
            return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, INFO_LAST);
    drot_cbor_put_uint(&w, INFO_DEVICE_ID);
    drot_cbor_put_bstr(&w, m->device_id, sizeof m->device_id);
    drot_cbor_put_uint(&w, INFO_EPOCH);
    drot_cbor_put_uint(&w, m->epoch);
    drot_cbor_put_uint(&w, INFO_LIFECYCLE);
    drot_cbor_put_uint(&w, m->lifecycle);
    drot_cbor_put_uint(&w, INFO_INSTANCE_ID);
    drot_cbor_put_bstr(&w, m->instance_id, sizeof m->instance_id);
    drot_cbor_put_uint(&w, INFO_DRK_PUB);
    drot_cbor_put_bstr(&w, m->drk_pub, sizeof m->drk_pub);
    drot_cbor_put_uint(&w, INFO_SVNS);
    put_svns(&w, m->svns, m->num_svns);
    drot_cbor_put_uint(&w, INFO_TAMPER_STATE);
    drot_cbor_put_uint(&w, m->tamper_state);
    drot_cbor_put_uint(&w, INFO_TAMPER_COUNT);
    drot_cbor_put_uint(&w, m->tamper_count);
    drot_cbor_put_uint(&w, INFO_BOOT_STATUS);
    drot_cbor_put_int(&w, m->boot_status);
    drot_cbor_put_uint(&w, INFO_APM_VERSION);
    drot_cbor_put_tstr(&w, m->apm_version, m->apm_version_len);
    drot_cbor_put_uint(&w, INFO_MEASUREMENTS);
    drot_cbor_put_array(&w, m->num_measurements);
    for (size_t i = 0; i < m->num_measurements; i++)
        put_measurement(&w, &m->measurements[i]);
    drot_cbor_put_uint(&w, INFO_REVOCATION_VERSION);
    drot_cbor_put_uint(&w, m->revocation_version);
    return finish(&w, out_len);
}

static drot_status read_measurements(drot_cbor_reader *r, drot_link_info *m)
{
    size_t n;
    drot_status st = open_array(r, DROT_LINK_MAX_MEASUREMENTS, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++)
        st = read_measurement(r, DROT_E_CLAIM_INVALID, &m->measurements[i]);
    if (st == DROT_OK)
        m->num_measurements = n;
    return st;
}

static drot_status read_info_field(drot_cbor_reader *r, unsigned key, drot_link_info *m)
{
    uint64_t u = 0;
    int64_t i = 0;
    drot_status st;
    switch (key) {
    case INFO_DEVICE_ID: return read_bstr_exact(r, m->device_id, sizeof m->device_id);
    case INFO_EPOCH: return read_uint(r, UINT64_MAX, &m->epoch);
    case INFO_LIFECYCLE:
        if ((st = read_uint(r, UINT32_MAX, &u)) == DROT_OK)
            m->lifecycle = (uint32_t)u;
        return st;
    case INFO_INSTANCE_ID: return read_bstr_exact(r, m->instance_id, sizeof m->instance_id);
    case INFO_DRK_PUB: return read_bstr_exact(r, m->drk_pub, sizeof m->drk_pub);
    case INFO_SVNS: return read_svns(r, UINT64_MAX, m->svns, &m->num_svns);
    case INFO_TAMPER_STATE: return read_uint(r, UINT64_MAX, &m->tamper_state);
    case INFO_TAMPER_COUNT: return read_uint(r, UINT64_MAX, &m->tamper_count);
    case INFO_BOOT_STATUS:
        if ((st = read_int(r, INT32_MIN, INT32_MAX, &i)) == DROT_OK)
            m->boot_status = (int32_t)i;
        return st;
    case INFO_APM_VERSION: return read_tstr(r, m->apm_version, sizeof m->apm_version, &m->apm_version_len);
    case INFO_REVOCATION_VERSION: return read_uint(r, UINT64_MAX, &m->revocation_version);
    default: return read_measurements(r, m);
    }
}

/* see drot/link_msg.h */
drot_status drot_link_info_decode(const uint8_t *p, size_t len, drot_link_info *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(INFO_LAST), &seen, &key)) == DROT_OK)
            st = read_info_field(&r, key, m);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(INFO_LAST));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- GET_TOKEN ------------------------------------------------------------ */

static bool token_nonce_len_ok(size_t n)
{
    return n == 32 || n == 48 || n == 64;
}

static bool profile_ok(uint64_t p)
{
    return p == DROT_LINK_PROFILE_PSA || p == DROT_LINK_PROFILE_DROT;
}

/* see drot/link_msg.h */
drot_status drot_link_token_req_encode(const drot_link_token_req *m, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || !token_nonce_len_ok(m->nonce_len) ||
        !profile_ok(m->profile))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, m->nonce, m->nonce_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, m->profile);
    return finish(&w, out_len);
}

static drot_status read_token_nonce(drot_cbor_reader *r, drot_link_token_req *m)
{
    const uint8_t *p;
    size_t n;
    drot_status st = want(r, DROT_CBOR_BSTR);
    if (st != DROT_OK || (st = drot_cbor_get_bstr(r, &p, &n)) != DROT_OK)
        return st;
    if (!token_nonce_len_ok(n))
        return DROT_E_CLAIM_INVALID;
    memcpy(m->nonce, p, n);
    m->nonce_len = n;
    return DROT_OK;
}

/* see drot/link_msg.h */
drot_status drot_link_token_req_decode(const uint8_t *p, size_t len, drot_link_token_req *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t profile;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1) {
            st = read_token_nonce(&r, m);
        } else if ((st = read_uint(&r, UINT32_MAX, &profile)) == DROT_OK) {
            if (!profile_ok(profile))
                st = DROT_E_CLAIM_INVALID;
            else
                m->profile = (uint32_t)profile;
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* see drot/link_msg.h */
drot_status drot_link_token_resp_encode(const uint8_t *token, size_t token_len, uint8_t *out, size_t cap,
                                        size_t *out_len)
{
    drot_cbor_writer w;
    if (token == NULL || token_len == 0 || token_len > DROT_LINK_MAX_TOKEN || !out_ok(out, cap, out_len))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, token, token_len);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_token_resp_decode(const uint8_t *p, size_t len, const uint8_t **token,
                                        size_t *token_len)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    const uint8_t *tp = NULL;
    size_t tn = 0;
    if ((p == NULL && len != 0) || token == NULL || token_len == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(1), &seen, &key)) != DROT_OK)
            break;
        if ((st = want(&r, DROT_CBOR_BSTR)) == DROT_OK &&
            (st = drot_cbor_get_bstr(&r, &tp, &tn)) == DROT_OK && (tn == 0 || tn > DROT_LINK_MAX_TOKEN))
            st = DROT_E_CLAIM_INVALID;
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(1));
    if (st == DROT_OK)
        st = drot_cbor_reader_done(&r);
    if (st == DROT_OK) {
        *token = tp;
        *token_len = tn;
    }
    return st;
}

/* ---- TAMPER_LOG ----------------------------------------------------------- */

/* see drot/link_msg.h */
drot_status drot_link_tamper_log_encode(const drot_link_tamper_log *m, uint8_t *out, size_t cap,
                                        size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || m->num_events > DROT_LINK_MAX_TAMPER ||
        m->total_count < m->num_events)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_array(&w, m->num_events);
    for (size_t i = 0; i < m->num_events; i++) {
        const drot_link_tamper_event *e = &m->events[i];
        drot_cbor_put_map(&w, 3);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_uint(&w, e->kind);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_uint(&w, e->tick_ms);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_int(&w, e->value);
    }
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, m->total_count);
    return finish(&w, out_len);
}

static drot_status read_tamper_event(drot_cbor_reader *r, drot_link_tamper_event *e)
{
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t kind;
    drot_status st = open_map(r, DROT_E_CLAIM_INVALID, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(r, KEYS(3), &seen, &key)) != DROT_OK)
            break;
        switch (key) {
        case 1:
            if ((st = read_uint(r, UINT32_MAX, &kind)) == DROT_OK)
                e->kind = (uint32_t)kind;
            break;
        case 2: st = read_uint(r, UINT64_MAX, &e->tick_ms); break;
        default: st = read_int(r, INT64_MIN, INT64_MAX, &e->value); break;
        }
    }
    return st == DROT_OK ? require(seen, KEYS(3)) : st;
}

static drot_status read_tamper_events(drot_cbor_reader *r, drot_link_tamper_log *m)
{
    size_t n;
    drot_status st = open_array(r, DROT_LINK_MAX_TAMPER, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++)
        st = read_tamper_event(r, &m->events[i]);
    if (st == DROT_OK)
        m->num_events = n;
    return st;
}

/* see drot/link_msg.h */
drot_status drot_link_tamper_log_decode(const uint8_t *p, size_t len, drot_link_tamper_log *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1)
            st = read_tamper_events(&r, m);
        else
            st = read_uint(&r, UINT64_MAX, &m->total_count);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    /* The log keeps the most recent events; the total counts all of them. */
    if (st == DROT_OK && m->total_count < m->num_events)
        st = DROT_E_CLAIM_INVALID;
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- SEAL / UNSEAL -------------------------------------------------------- */

/* The label alphabet: A-Z a-z 0-9 . _ - (docs/link.md). */
static bool label_ok(const char *p, size_t n)
{
    if (p == NULL || n == 0 || n > DROT_LINK_SEAL_MAX_LABEL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

/* {1: label tstr, 2: bytes bstr (min..max)}: the shape both requests share. */
static drot_status encode_labelled(const char *label, size_t label_len, const uint8_t *b, size_t n,
                                   size_t min, size_t max, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (!out_ok(out, cap, out_len) || !label_ok(label, label_len) || n < min || n > max ||
        (b == NULL && n != 0))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr(&w, label, label_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, b, n);
    return finish(&w, out_len);
}

static drot_status decode_labelled(const uint8_t *p, size_t len, size_t min, size_t max,
                                   char label[DROT_LINK_SEAL_MAX_LABEL], size_t *label_len, const uint8_t **b,
                                   size_t *n)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t count;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &count);
    for (size_t i = 0; st == DROT_OK && i < count; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1) {
            /* read_tstr bounds the length and checks UTF-8; the alphabet is
             * stricter still. */
            st = read_tstr(&r, label, DROT_LINK_SEAL_MAX_LABEL, label_len);
            if (st == DROT_OK && !label_ok(label, *label_len))
                st = DROT_E_CLAIM_INVALID;
        } else {
            st = read_bstr_view(&r, min, max, b, n);
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* see drot/link_msg.h */
drot_status drot_link_seal_req_encode(const drot_link_seal_req *m, uint8_t *out, size_t cap, size_t *out_len)
{
    if (m == NULL)
        return DROT_E_ARG;
    return encode_labelled(m->label, m->label_len, m->data, m->data_len, 0, DROT_LINK_SEAL_MAX_DATA, out, cap,
                           out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_seal_req_decode(const uint8_t *p, size_t len, drot_link_seal_req *m)
{
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    return decode_labelled(p, len, 0, DROT_LINK_SEAL_MAX_DATA, m->label, &m->label_len, &m->data,
                           &m->data_len);
}

/* see drot/link_msg.h */
drot_status drot_link_unseal_req_encode(const drot_link_unseal_req *m, uint8_t *out, size_t cap,
                                        size_t *out_len)
{
    if (m == NULL)
        return DROT_E_ARG;
    return encode_labelled(m->label, m->label_len, m->blob, m->blob_len, DROT_LINK_SEAL_MIN_BLOB,
                           DROT_LINK_SEAL_MAX_BLOB, out, cap, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_unseal_req_decode(const uint8_t *p, size_t len, drot_link_unseal_req *m)
{
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    return decode_labelled(p, len, DROT_LINK_SEAL_MIN_BLOB, DROT_LINK_SEAL_MAX_BLOB, m->label, &m->label_len,
                           &m->blob, &m->blob_len);
}

/* {1: bytes bstr (min..max)}: the shape both responses share. */
static drot_status encode_bytes_resp(const uint8_t *b, size_t n, size_t min, size_t max, uint8_t *out,
                                     size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (!out_ok(out, cap, out_len) || n < min || n > max || (b == NULL && n != 0))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, b, n);
    return finish(&w, out_len);
}

static drot_status decode_bytes_resp(const uint8_t *p, size_t len, size_t min, size_t max, const uint8_t **b,
                                     size_t *n)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t count;
    const uint8_t *vp = NULL;
    size_t vn = 0;
    if ((p == NULL && len != 0) || b == NULL || n == NULL)
        return DROT_E_ARG;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &count);
    for (size_t i = 0; st == DROT_OK && i < count; i++) {
        if ((st = next_key(&r, KEYS(1), &seen, &key)) == DROT_OK)
            st = read_bstr_view(&r, min, max, &vp, &vn);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(1));
    if (st == DROT_OK)
        st = drot_cbor_reader_done(&r);
    if (st == DROT_OK) {
        *b = vp;
        *n = vn;
    }
    return st;
}

/* see drot/link_msg.h */
drot_status drot_link_blob_resp_encode(const uint8_t *blob, size_t blob_len, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    return encode_bytes_resp(blob, blob_len, DROT_LINK_SEAL_MIN_BLOB, DROT_LINK_SEAL_MAX_BLOB, out, cap,
                             out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_blob_resp_decode(const uint8_t *p, size_t len, const uint8_t **blob, size_t *blob_len)
{
    return decode_bytes_resp(p, len, DROT_LINK_SEAL_MIN_BLOB, DROT_LINK_SEAL_MAX_BLOB, blob, blob_len);
}

/* see drot/link_msg.h */
drot_status drot_link_data_resp_encode(const uint8_t *data, size_t data_len, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    return encode_bytes_resp(data, data_len, 0, DROT_LINK_SEAL_MAX_DATA, out, cap, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_data_resp_decode(const uint8_t *p, size_t len, const uint8_t **data, size_t *data_len)
{
    return decode_bytes_resp(p, len, 0, DROT_LINK_SEAL_MAX_DATA, data, data_len);
}

/* ---- DRoT ------------------------------------------------------------------ */

/* see drot/link_msg.h */
drot_status drot_link_rot_nonce_encode(const uint8_t nonce[DROT_LINK_ROT_NONCE_LEN], uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    if (nonce == NULL)
        return DROT_E_ARG;
    return encode_bytes_resp(nonce, DROT_LINK_ROT_NONCE_LEN, DROT_LINK_ROT_NONCE_LEN, DROT_LINK_ROT_NONCE_LEN,
                             out, cap, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_rot_nonce_decode(const uint8_t *p, size_t len, uint8_t nonce[DROT_LINK_ROT_NONCE_LEN])
{
    const uint8_t *v = NULL;
    size_t n = 0;
    if (nonce == NULL)
        return DROT_E_ARG;
    drot_status st = decode_bytes_resp(p, len, DROT_LINK_ROT_NONCE_LEN, DROT_LINK_ROT_NONCE_LEN, &v, &n);
    if (st == DROT_OK)
        memcpy(nonce, v, DROT_LINK_ROT_NONCE_LEN);
    return st;
}

/* see drot/link_msg.h */
drot_status drot_link_rot_msg_encode(const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap,
                                     size_t *out_len)
{
    return encode_bytes_resp(msg, msg_len, 1, DROT_LINK_ROT_MAX_MSG, out, cap, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_rot_msg_decode(const uint8_t *p, size_t len, const uint8_t **msg, size_t *msg_len)
{
    return decode_bytes_resp(p, len, 1, DROT_LINK_ROT_MAX_MSG, msg, msg_len);
}

/* see drot/link_msg.h */
drot_status drot_link_anchor_resp_encode(const drot_link_anchor_resp *m, uint8_t *out, size_t cap,
                                         size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || m->op < 1 || m->op > 3 || m->slot > 3)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, m->op);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, m->slot);
    return finish(&w, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_anchor_resp_decode(const uint8_t *p, size_t len, drot_link_anchor_resp *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t v = 0;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1) {
            if ((st = read_uint(&r, 3, &v)) == DROT_OK && v < 1)
                st = DROT_E_CLAIM_INVALID;
            m->op = (uint32_t)v;
        } else if ((st = read_uint(&r, 3, &v)) == DROT_OK) {
            m->slot = (uint32_t)v;
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- SET_REVOCATION_LIST -------------------------------------------------- */

/* The list and its wrapper ({1: bstr}: map, key, a 3-byte bstr head) fit a frame. */
_Static_assert(DROT_LINK_REVOCATION_MAX + 5u <= DROT_LINK_MAX_PAYLOAD,
               "a signed revocation list must fit one link frame");

/* see drot/link_msg.h */
drot_status drot_link_revocation_req_encode(const uint8_t *list, size_t list_len, uint8_t *out, size_t cap,
                                            size_t *out_len)
{
    return encode_bytes_resp(list, list_len, 1, DROT_LINK_REVOCATION_MAX, out, cap, out_len);
}

/* see drot/link_msg.h */
drot_status drot_link_revocation_req_decode(const uint8_t *p, size_t len, const uint8_t **list,
                                            size_t *list_len)
{
    return decode_bytes_resp(p, len, 1, DROT_LINK_REVOCATION_MAX, list, list_len);
}

/* see drot/link_msg.h */
drot_status drot_link_revocation_resp_encode(const drot_link_revocation_resp *m, uint8_t *out, size_t cap,
                                             size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || m->version == 0)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 3);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, m->version);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bool(&w, m->changed);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bool(&w, m->drk_revoked);
    return finish(&w, out_len);
}

/* A CBOR bool (simple value false or true). */
static drot_status read_bool(drot_cbor_reader *r, bool *v)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    if (t != DROT_CBOR_SIMPLE)
        return DROT_E_CLAIM_INVALID;
    st = drot_cbor_get_bool(r, v);
    return st == DROT_OK ? DROT_OK : DROT_E_CLAIM_INVALID; /* null, undefined, other simple values */
}

/* see drot/link_msg.h */
drot_status drot_link_revocation_resp_decode(const uint8_t *p, size_t len, drot_link_revocation_resp *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(3), &seen, &key)) != DROT_OK)
            break;
        if (key == 1) {
            if ((st = read_uint(&r, UINT64_MAX, &m->version)) == DROT_OK && m->version == 0)
                st = DROT_E_CLAIM_INVALID;
        } else if (key == 2) {
            st = read_bool(&r, &m->changed);
        } else {
            st = read_bool(&r, &m->drk_revoked);
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(3));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}
