/*
 * link.c — frames and sessions of the host <-> APM link (see drot/link.h,
 * docs/link.md).
 *
 * Order of checks when a frame arrives (drot_link_frame_open):
 *
 *   1. header: magic, version, announced payload length ≤ 4096;
 *   2. total length exactly header + payload + tag;
 *   3. tag, compared in constant time;
 *   4. payload: one well-formed CBOR map, nothing after it.
 *
 * Steps 1 and 2 must come before the tag because they say where the tag is;
 * they read no secret and branch only on public bytes. Nothing in the payload
 * is looked at before step 3.
 *
 * Session updates follow one rule (invariant 2 of the header): compute
 * everything into locals, and write the session only once nothing can fail
 * any more. The secret locals (derived keys, nonces) are wiped on the single
 * exit path of each function.
 */
#include "drot/link.h"

#include <string.h>

#include "drot/cbor.h"
#include "drot/link_msg.h"

static const char k_info_hello[] = "drot-link v1 hello";
static const char k_info_keys[] = "drot-link v1 keys";

/* ---- frames ------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* see drot/link.h */
drot_status drot_link_parse_header(const uint8_t *hdr, size_t len, uint8_t *type, uint32_t *seq,
                                   size_t *payload_len)
{
    if (hdr == NULL && len != 0)
        return DROT_E_ARG;
    if (len < DROT_LINK_HEADER_LEN)
        return DROT_E_TRUNCATED;
    if (hdr[0] != DROT_LINK_MAGIC0 || hdr[1] != DROT_LINK_MAGIC1)
        return DROT_E_MALFORMED;
    if (hdr[2] != DROT_LINK_VERSION)
        return DROT_E_UNSUPPORTED;
    size_t plen = ((size_t)hdr[8] << 8) | (size_t)hdr[9];
    if (plen > DROT_LINK_MAX_PAYLOAD)
        return DROT_E_TOO_LARGE;
    if (type != NULL)
        *type = hdr[3];
    if (seq != NULL)
        *seq = get_be32(hdr + 4);
    if (payload_len != NULL)
        *payload_len = plen;
    return DROT_OK;
}

/* DROT_OK iff p[0..len) is exactly one well-formed CBOR map. Every defect is
 * DROT_E_MALFORMED, so that TRUNCATED/TRAILING from frame_open always speak
 * of the frame's length, never of the payload's content. */
static drot_status check_payload(const uint8_t *p, size_t len)
{
    drot_cbor_reader r;
    drot_cbor_type t;
    drot_cbor_reader_init(&r, p, len);
    if (drot_cbor_peek(&r, &t) != DROT_OK || t != DROT_CBOR_MAP)
        return DROT_E_MALFORMED;
    if (drot_cbor_skip(&r) != DROT_OK || drot_cbor_reader_done(&r) != DROT_OK)
        return DROT_E_MALFORMED;
    return DROT_OK;
}

/* The full 32-byte HMAC of header || payload, both at frame[0..10+plen). */
static drot_status frame_mac(const uint8_t key[DROT_LINK_KEY_LEN], const uint8_t *frame, size_t plen,
                             uint8_t mac[DROT_HMAC_SHA256_LEN])
{
    return drot_hmac_sha256(key, DROT_LINK_KEY_LEN, frame, DROT_LINK_HEADER_LEN + plen, mac);
}

/* see drot/link.h */
drot_status drot_link_frame_seal(const uint8_t key[DROT_LINK_KEY_LEN], uint8_t type, uint32_t seq,
                                 const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
                                 size_t *out_len)
{
    uint8_t mac[DROT_HMAC_SHA256_LEN];
    drot_status st;
    if (key == NULL || out_len == NULL || (payload == NULL && len != 0) || (out == NULL && cap != 0))
        return DROT_E_ARG;
    if (len > DROT_LINK_MAX_PAYLOAD)
        return DROT_E_TOO_LARGE;
    if ((st = check_payload(payload, len)) != DROT_OK)
        return st;
    size_t total = DROT_LINK_HEADER_LEN + len + DROT_LINK_TAG_LEN;
    *out_len = total;
    if (cap < total)
        return DROT_E_BUFFER;
    /* Payload first: it may overlap the header's bytes. */
    memmove(out + DROT_LINK_HEADER_LEN, payload, len);
    out[0] = DROT_LINK_MAGIC0;
    out[1] = DROT_LINK_MAGIC1;
    out[2] = DROT_LINK_VERSION;
    out[3] = type;
    put_be32(out + 4, seq);
    out[8] = (uint8_t)(len >> 8);
    out[9] = (uint8_t)len;
    st = frame_mac(key, out, len, mac);
    if (st == DROT_OK)
        memcpy(out + DROT_LINK_HEADER_LEN + len, mac, DROT_LINK_TAG_LEN);
    else
        drot_wipe(out, total);
    drot_wipe(mac, sizeof mac);
    return st;
}

/* see drot/link.h */
drot_status drot_link_frame_open(const uint8_t key[DROT_LINK_KEY_LEN], const uint8_t *frame, size_t len,
                                 drot_link_frame *view)
{
    uint8_t mac[DROT_HMAC_SHA256_LEN];
    uint8_t type;
    uint32_t seq;
    size_t plen;
    if (key == NULL || view == NULL || (frame == NULL && len != 0))
        return DROT_E_ARG;
    drot_status st = drot_link_parse_header(frame, len, &type, &seq, &plen);
    if (st != DROT_OK)
        return st;
    size_t total = DROT_LINK_HEADER_LEN + plen + DROT_LINK_TAG_LEN;
    if (len < total)
        return DROT_E_TRUNCATED;
    if (len > total)
        return DROT_E_TRAILING;
    st = frame_mac(key, frame, plen, mac);
    if (st == DROT_OK)
        st = drot_ct_equal(mac, frame + DROT_LINK_HEADER_LEN + plen, DROT_LINK_TAG_LEN);
    drot_wipe(mac, sizeof mac);
    if (st != DROT_OK)
        return st;
    if ((st = check_payload(frame + DROT_LINK_HEADER_LEN, plen)) != DROT_OK)
        return st;
    view->type = type;
    view->seq = seq;
    view->payload = frame + DROT_LINK_HEADER_LEN;
    view->payload_len = plen;
    return DROT_OK;
}

/* ---- keys ----------------------------------------------------------------- */

/* see drot/link.h */
drot_status drot_link_hello_key(const uint8_t link_key[DROT_LINK_KEY_LEN], uint8_t out[DROT_LINK_KEY_LEN])
{
    if (link_key == NULL || out == NULL)
        return DROT_E_ARG;
    drot_status st = drot_hkdf_sha256(NULL, 0, link_key, DROT_LINK_KEY_LEN, (const uint8_t *)k_info_hello,
                                      sizeof k_info_hello - 1, out, DROT_LINK_KEY_LEN);
    if (st != DROT_OK)
        drot_wipe(out, DROT_LINK_KEY_LEN);
    return st;
}

/* see drot/link.h */
drot_status drot_link_session_keys(const uint8_t link_key[DROT_LINK_KEY_LEN],
                                   const uint8_t host_nonce[DROT_LINK_NONCE_LEN],
                                   const uint8_t apm_nonce[DROT_LINK_NONCE_LEN],
                                   uint8_t k_h2a[DROT_LINK_KEY_LEN], uint8_t k_a2h[DROT_LINK_KEY_LEN])
{
    uint8_t salt[2 * DROT_LINK_NONCE_LEN];
    uint8_t okm[2 * DROT_LINK_KEY_LEN];
    if (link_key == NULL || host_nonce == NULL || apm_nonce == NULL || k_h2a == NULL || k_a2h == NULL)
        return DROT_E_ARG;
    memcpy(salt, host_nonce, DROT_LINK_NONCE_LEN);
    memcpy(salt + DROT_LINK_NONCE_LEN, apm_nonce, DROT_LINK_NONCE_LEN);
    drot_status st = drot_hkdf_sha256(salt, sizeof salt, link_key, DROT_LINK_KEY_LEN,
                                      (const uint8_t *)k_info_keys, sizeof k_info_keys - 1, okm, sizeof okm);
    if (st == DROT_OK) {
        memcpy(k_h2a, okm, DROT_LINK_KEY_LEN);
        memcpy(k_a2h, okm + DROT_LINK_KEY_LEN, DROT_LINK_KEY_LEN);
    } else {
        drot_wipe(k_h2a, DROT_LINK_KEY_LEN);
        drot_wipe(k_a2h, DROT_LINK_KEY_LEN);
    }
    drot_wipe(okm, sizeof okm);
    drot_wipe(salt, sizeof salt);
    return st;
}

/* ---- session ------------------------------------------------------------ */

static drot_status session_init(drot_link_session *s, drot_link_role role,
                                const uint8_t link_key[DROT_LINK_KEY_LEN])
{
    if (s == NULL || link_key == NULL)
        return DROT_E_ARG;
    drot_wipe(s, sizeof *s);
    drot_status st = drot_link_hello_key(link_key, s->k_hello);
    if (st != DROT_OK) {
        drot_wipe(s, sizeof *s);
        return st;
    }
    s->role = role;
    memcpy(s->link_key, link_key, DROT_LINK_KEY_LEN);
    return DROT_OK;
}

/* see drot/link.h */
drot_status drot_link_session_init_host(drot_link_session *s, const uint8_t link_key[DROT_LINK_KEY_LEN])
{
    return session_init(s, DROT_LINK_ROLE_HOST, link_key);
}

/* see drot/link.h */
drot_status drot_link_session_init_apm(drot_link_session *s, const uint8_t link_key[DROT_LINK_KEY_LEN])
{
    return session_init(s, DROT_LINK_ROLE_APM, link_key);
}

/* see drot/link.h */
void drot_link_session_wipe(drot_link_session *s)
{
    if (s != NULL)
        drot_wipe(s, sizeof *s);
}

static bool role_valid(const drot_link_session *s)
{
    return s->role == DROT_LINK_ROLE_HOST || s->role == DROT_LINK_ROLE_APM;
}

/* see drot/link.h */
drot_status drot_link_session_open(drot_link_session *s, const uint8_t *frame, size_t len,
                                   drot_link_frame *view)
{
    drot_link_frame v;
    if (s == NULL || view == NULL || !role_valid(s))
        return DROT_E_ARG;
    if (!s->established)
        return DROT_E_STATE;
    drot_status st = drot_link_frame_open(s->k_rx, frame, len, &v);
    if (st != DROT_OK)
        return st;
    if (v.seq <= s->last_rx_seq)
        return DROT_E_STATE;
    /* Direction keys already stop a reflected frame; refusing the other
     * side's types as well keeps a dispatcher from ever seeing one. */
    bool is_response = (v.type & DROT_LINK_RESPONSE) != 0;
    if ((s->role == DROT_LINK_ROLE_HOST) != is_response)
        return DROT_E_UNSUPPORTED;
    s->last_rx_seq = v.seq;
    *view = v;
    return DROT_OK;
}

/* see drot/link.h */
drot_status drot_link_session_seal(drot_link_session *s, uint8_t type, const uint8_t *payload, size_t len,
                                   uint8_t *out, size_t cap, size_t *out_len)
{
    if (s == NULL || !role_valid(s))
        return DROT_E_ARG;
    if (!s->established || s->next_tx_seq == 0 || s->next_tx_seq > DROT_LINK_SEQ_LAST)
        return DROT_E_STATE;
    drot_status st =
        drot_link_frame_seal(s->k_tx, type, (uint32_t)s->next_tx_seq, payload, len, out, cap, out_len);
    if (st == DROT_OK)
        s->next_tx_seq++;
    return st;
}

/* ---- handshake ---------------------------------------------------------- */

/* see drot/link.h */
drot_status drot_link_host_hello(drot_link_session *s, const drot_rng *rng, uint8_t *out, size_t cap,
                                 size_t *out_len)
{
    uint8_t nonce[DROT_LINK_NONCE_LEN];
    uint8_t payload[64];
    size_t plen = 0;
    drot_status st;
    if (s == NULL || s->role != DROT_LINK_ROLE_HOST)
        return DROT_E_ARG;
    if ((st = drot_rng_fill(rng, nonce, sizeof nonce)) != DROT_OK)
        goto out;
    if ((st = drot_link_hello_encode(nonce, payload, sizeof payload, &plen)) != DROT_OK)
        goto out;
    if ((st = drot_link_frame_seal(s->k_hello, DROT_LINK_T_HELLO, 0, payload, plen, out, cap, out_len)) !=
        DROT_OK)
        goto out;
    /* Commit: the old session (if any) ends here; the APM will replace its
     * own when this HELLO arrives. */
    drot_wipe(s->k_rx, sizeof s->k_rx);
    drot_wipe(s->k_tx, sizeof s->k_tx);
    memcpy(s->host_nonce, nonce, sizeof nonce);
    s->established = false;
    s->hello_pending = true;
    s->last_rx_seq = 0;
    s->next_tx_seq = 0;
out:
    drot_wipe(nonce, sizeof nonce);
    drot_wipe(payload, sizeof payload);
    return st;
}

/* The ERROR branch of drot_link_host_accept_ack: an answer under k_hello. */
static drot_status host_hello_refused(const drot_link_session *s, const uint8_t *frame, size_t len,
                                      drot_link_frame *view)
{
    drot_link_frame v;
    drot_status st = drot_link_frame_open(s->k_hello, frame, len, &v);
    if (st != DROT_OK)
        return st;
    if (v.seq != 0)
        return DROT_E_MALFORMED;
    if (view != NULL)
        *view = v;
    return DROT_E_STATE;
}

/* see drot/link.h */
drot_status drot_link_host_accept_ack(drot_link_session *s, const uint8_t *frame, size_t len,
                                      drot_link_frame *view)
{
    uint8_t apm_nonce[DROT_LINK_NONCE_LEN];
    uint8_t k_h2a[DROT_LINK_KEY_LEN];
    uint8_t k_a2h[DROT_LINK_KEY_LEN];
    drot_link_frame v;
    uint8_t type;
    size_t plen;
    drot_status st;
    if (s == NULL || s->role != DROT_LINK_ROLE_HOST || (frame == NULL && len != 0))
        return DROT_E_ARG;
    if (view != NULL)
        view->type = 0;
    if (!s->hello_pending)
        return DROT_E_STATE;
    if ((st = drot_link_parse_header(frame, len, &type, NULL, &plen)) != DROT_OK)
        return st;
    if (type == DROT_LINK_T_ERROR)
        return host_hello_refused(s, frame, len, view);
    if (type != DROT_LINK_T_HELLO_ACK)
        return DROT_E_MALFORMED;
    if (len < DROT_LINK_HEADER_LEN + plen + DROT_LINK_TAG_LEN)
        return DROT_E_TRUNCATED;
    if (len > DROT_LINK_HEADER_LEN + plen + DROT_LINK_TAG_LEN)
        return DROT_E_TRAILING;
    /* The key that authenticates this frame depends on the nonce inside it,
     * so the nonce is read first (strict, bounded decoder) and trusted only
     * once the tag below verifies under the key derived from it. */
    if ((st = drot_link_hello_decode(frame + DROT_LINK_HEADER_LEN, plen, apm_nonce)) != DROT_OK) {
        st = DROT_E_MALFORMED;
        goto out;
    }
    if ((st = drot_link_session_keys(s->link_key, s->host_nonce, apm_nonce, k_h2a, k_a2h)) != DROT_OK)
        goto out;
    if ((st = drot_link_frame_open(k_a2h, frame, len, &v)) != DROT_OK)
        goto out;
    if (v.seq != 0) {
        st = DROT_E_MALFORMED;
        goto out;
    }
    memcpy(s->k_rx, k_a2h, sizeof k_a2h);
    memcpy(s->k_tx, k_h2a, sizeof k_h2a);
    drot_wipe(s->host_nonce, sizeof s->host_nonce);
    s->last_rx_seq = 0;
    s->next_tx_seq = 1;
    s->hello_pending = false;
    s->established = true;
    if (view != NULL)
        *view = v;
out:
    drot_wipe(apm_nonce, sizeof apm_nonce);
    drot_wipe(k_h2a, sizeof k_h2a);
    drot_wipe(k_a2h, sizeof k_a2h);
    return st;
}

/* see drot/link.h */
drot_status drot_link_apm_accept_hello(drot_link_session *s, const drot_rng *rng, const uint8_t *frame,
                                       size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t host_nonce[DROT_LINK_NONCE_LEN];
    uint8_t apm_nonce[DROT_LINK_NONCE_LEN];
    uint8_t k_h2a[DROT_LINK_KEY_LEN];
    uint8_t k_a2h[DROT_LINK_KEY_LEN];
    uint8_t payload[64];
    size_t plen = 0;
    drot_link_frame v;
    drot_status st;
    if (s == NULL || s->role != DROT_LINK_ROLE_APM)
        return DROT_E_ARG;
    if ((st = drot_link_frame_open(s->k_hello, frame, len, &v)) != DROT_OK)
        goto out;
    if (v.type != DROT_LINK_T_HELLO || v.seq != 0) {
        st = DROT_E_MALFORMED;
        goto out;
    }
    if ((st = drot_link_hello_decode(v.payload, v.payload_len, host_nonce)) != DROT_OK)
        goto out;
    if ((st = drot_rng_fill(rng, apm_nonce, sizeof apm_nonce)) != DROT_OK)
        goto out;
    if ((st = drot_link_session_keys(s->link_key, host_nonce, apm_nonce, k_h2a, k_a2h)) != DROT_OK)
        goto out;
    if ((st = drot_link_hello_encode(apm_nonce, payload, sizeof payload, &plen)) != DROT_OK)
        goto out;
    if ((st = drot_link_frame_seal(k_a2h, DROT_LINK_T_HELLO_ACK, 0, payload, plen, out, cap, out_len)) !=
        DROT_OK)
        goto out;
    memcpy(s->k_rx, k_h2a, sizeof k_h2a);
    memcpy(s->k_tx, k_a2h, sizeof k_a2h);
    s->last_rx_seq = 0;
    s->next_tx_seq = 1;
    s->established = true;
out:
    drot_wipe(host_nonce, sizeof host_nonce);
    drot_wipe(apm_nonce, sizeof apm_nonce);
    drot_wipe(k_h2a, sizeof k_h2a);
    drot_wipe(k_a2h, sizeof k_a2h);
    drot_wipe(payload, sizeof payload);
    return st;
}

/* see drot/link.h */
drot_status drot_link_apm_seal_hello_error(const drot_link_session *s, const uint8_t *payload, size_t len,
                                           uint8_t *out, size_t cap, size_t *out_len)
{
    if (s == NULL || s->role != DROT_LINK_ROLE_APM)
        return DROT_E_ARG;
    return drot_link_frame_seal(s->k_hello, DROT_LINK_T_ERROR, 0, payload, len, out, cap, out_len);
}
