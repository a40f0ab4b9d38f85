/*
 * link_fw.c — payload codecs of the firmware-install messages (drot/link_fw.h).
 *
 * Same shape as link_msg.c (the helpers are link_cbor.h): open the map, read
 * each key of the message's closed set once with its value's type, size and
 * range checked, require every key, refuse trailing bytes. Encoders check
 * the same bounds first (DROT_E_ARG for a struct that would not decode) and
 * write keys ascending in shortest form.
 */
#include "drot/link_fw.h"

#include <string.h>

#include "drot/cbor.h"
#include "link_cbor.h"

/* ---- texts ------------------------------------------------------------------ */

/* Printable ASCII, lo..hi bytes: the rule of the manifest fields these
 * texts come from (drot/manifest.h). */
static bool printable(const char *p, size_t n, size_t lo, size_t hi)
{
    if (n < lo || n > hi || (n > 0 && p == NULL))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

/* A text field of lo..hi printable ASCII bytes into dst[0..cap). */
static drot_status read_printable(drot_cbor_reader *r, char *dst, size_t cap, size_t lo, size_t *n)
{
    drot_status st = read_tstr(r, dst, cap, n);
    if (st != DROT_OK)
        return st;
    return printable(dst, *n, lo, cap) ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* One map of a single uint key 1 with a value ≤ max (several responses). */
static drot_status encode_one_uint(uint64_t v, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, v);
    return finish(&w, out_len);
}

static drot_status decode_one_uint(const uint8_t *p, size_t len, uint64_t max, uint64_t *v)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(1), &seen, &key)) == DROT_OK)
            st = read_uint(&r, max, v);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(1));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- FW_BEGIN --------------------------------------------------------------- */

static bool mode_ok(uint64_t m)
{
    return m == DROT_LINK_FW_MODE_INSTALL || m == DROT_LINK_FW_MODE_VERIFY;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_begin_encode(const drot_link_fw_begin *m, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || m->manifest == NULL || m->manifest_len == 0 ||
        m->manifest_len > DROT_LINK_FW_MANIFEST_MAX || !mode_ok(m->mode))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, m->manifest, m->manifest_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, m->mode);
    return finish(&w, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_begin_decode(const uint8_t *p, size_t len, drot_link_fw_begin *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t mode = 0;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1) {
            st = read_bstr_view(&r, 1, DROT_LINK_FW_MANIFEST_MAX, &m->manifest, &m->manifest_len);
        } else {
            st = read_uint(&r, UINT32_MAX, &mode);
            if (st == DROT_OK && !mode_ok(mode))
                st = DROT_E_CLAIM_INVALID;
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    if (st == DROT_OK)
        st = drot_cbor_reader_done(&r);
    m->mode = (uint32_t)mode;
    return st;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_begin_resp_encode(const drot_link_fw_begin_resp *m, uint8_t *out, size_t cap,
                                           size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || m->size == 0 || m->size > DROT_LINK_FW_IMAGE_MAX ||
        m->chunk == 0 || m->chunk > DROT_LINK_FW_CHUNK_MAX)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, m->size);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, m->chunk);
    return finish(&w, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_begin_resp_decode(const uint8_t *p, size_t len, drot_link_fw_begin_resp *m)
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
        st = read_uint(&r, key == 1 ? DROT_LINK_FW_IMAGE_MAX : DROT_LINK_FW_CHUNK_MAX, &v);
        if (st == DROT_OK && v == 0)
            st = DROT_E_CLAIM_INVALID;
        if (key == 1)
            m->size = (uint32_t)v;
        else
            m->chunk = (uint32_t)v;
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- FW_CHUNK --------------------------------------------------------------- */

/* see drot/link_fw.h */
drot_status drot_link_fw_chunk_encode(const drot_link_fw_chunk *m, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || m->data == NULL || m->data_len == 0 ||
        m->data_len > DROT_LINK_FW_CHUNK_MAX || m->offset >= DROT_LINK_FW_IMAGE_MAX)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, m->offset);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, m->data, m->data_len);
    return finish(&w, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_chunk_decode(const uint8_t *p, size_t len, drot_link_fw_chunk *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t off = 0;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(2), &seen, &key)) != DROT_OK)
            break;
        if (key == 1)
            st = read_uint(&r, DROT_LINK_FW_IMAGE_MAX - 1u, &off);
        else
            st = read_bstr_view(&r, 1, DROT_LINK_FW_CHUNK_MAX, &m->data, &m->data_len);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(2));
    if (st == DROT_OK)
        st = drot_cbor_reader_done(&r);
    m->offset = (uint32_t)off;
    return st;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_received_encode(uint32_t received, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!out_ok(out, cap, out_len) || received > DROT_LINK_FW_IMAGE_MAX)
        return DROT_E_ARG;
    return encode_one_uint(received, out, cap, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_received_decode(const uint8_t *p, size_t len, uint32_t *received)
{
    uint64_t v = 0;
    if ((p == NULL && len != 0) || received == NULL)
        return DROT_E_ARG;
    drot_status st = decode_one_uint(p, len, DROT_LINK_FW_IMAGE_MAX, &v);
    *received = st == DROT_OK ? (uint32_t)v : 0;
    return st;
}

/* ---- an image ----------------------------------------------------------------- */

static bool image_ok(const drot_link_fw_image *m)
{
    return printable(m->component, m->component_len, 1, DROT_LINK_FW_COMPONENT_MAX) &&
           printable(m->version, m->version_len, 1, DROT_LINK_FW_VERSION_MAX) &&
           m->svn <= DROT_LINK_FW_SVN_MAX;
}

static void put_image(drot_cbor_writer *w, const drot_link_fw_image *m)
{
    drot_cbor_put_map(w, 5);
    drot_cbor_put_uint(w, 1);
    drot_cbor_put_tstr(w, m->component, m->component_len);
    drot_cbor_put_uint(w, 2);
    drot_cbor_put_tstr(w, m->version, m->version_len);
    drot_cbor_put_uint(w, 3);
    drot_cbor_put_uint(w, m->svn);
    drot_cbor_put_uint(w, 4);
    drot_cbor_put_bstr(w, m->digest, sizeof m->digest);
    drot_cbor_put_uint(w, 5);
    drot_cbor_put_bstr(w, m->signer, sizeof m->signer);
}

/* One image map; wrong_type is what a non-map costs (top level:
 * DROT_E_MALFORMED; inside FW_STATUS: DROT_E_CLAIM_INVALID). */
static drot_status read_image(drot_cbor_reader *r, drot_status wrong_type, drot_link_fw_image *m)
{
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t svn = 0;
    drot_status st = open_map(r, wrong_type, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(r, KEYS(5), &seen, &key)) != DROT_OK)
            break;
        switch (key) {
        case 1: st = read_printable(r, m->component, sizeof m->component, 1, &m->component_len); break;
        case 2: st = read_printable(r, m->version, sizeof m->version, 1, &m->version_len); break;
        case 3:
            st = read_uint(r, DROT_LINK_FW_SVN_MAX, &svn);
            m->svn = (uint32_t)svn;
            break;
        case 4: st = read_bstr_exact(r, m->digest, sizeof m->digest); break;
        default: st = read_bstr_exact(r, m->signer, sizeof m->signer); break;
        }
    }
    return st == DROT_OK ? require(seen, KEYS(5)) : st;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_image_encode(const drot_link_fw_image *m, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || !image_ok(m))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    put_image(&w, m);
    return finish(&w, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_image_decode(const uint8_t *p, size_t len, drot_link_fw_image *m)
{
    drot_cbor_reader r;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    drot_cbor_reader_init(&r, p, len);
    drot_status st = read_image(&r, DROT_E_MALFORMED, m);
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- FW_CONFIRM ---------------------------------------------------------------- */

/* see drot/link_fw.h */
drot_status drot_link_fw_confirm_req_encode(const drot_link_fw_confirm *m, uint8_t *out, size_t cap,
                                            size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) ||
        !printable(m->component, m->component_len, 1, DROT_LINK_FW_COMPONENT_MAX))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr(&w, m->component, m->component_len);
    return finish(&w, out_len);
}

/* Request (keys = KEYS(1)) or response (KEYS(2)). */
static drot_status decode_confirm(const uint8_t *p, size_t len, uint32_t keys, drot_link_fw_confirm *m)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t svn = 0;
    if ((p == NULL && len != 0) || m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, keys, &seen, &key)) != DROT_OK)
            break;
        if (key == 1)
            st = read_printable(&r, m->component, sizeof m->component, 1, &m->component_len);
        else
            st = read_uint(&r, DROT_LINK_FW_FUSE_MAX, &svn);
    }
    if (st == DROT_OK)
        st = require(seen, keys);
    m->svn = (uint32_t)svn;
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_confirm_req_decode(const uint8_t *p, size_t len, drot_link_fw_confirm *m)
{
    return decode_confirm(p, len, KEYS(1), m);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_confirm_resp_encode(const drot_link_fw_confirm *m, uint8_t *out, size_t cap,
                                             size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) ||
        !printable(m->component, m->component_len, 1, DROT_LINK_FW_COMPONENT_MAX) ||
        m->svn > DROT_LINK_FW_FUSE_MAX)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr(&w, m->component, m->component_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, m->svn);
    return finish(&w, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_confirm_resp_decode(const uint8_t *p, size_t len, drot_link_fw_confirm *m)
{
    return decode_confirm(p, len, KEYS(2), m);
}

/* ---- FW_ACTIVATE ----------------------------------------------------------------- */

static bool action_ok(uint64_t a)
{
    return a == DROT_LINK_FW_ACTIVATE_TRIAL || a == DROT_LINK_FW_ACTIVATE_ABORT;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_activate_encode(uint32_t action, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!out_ok(out, cap, out_len) || !action_ok(action))
        return DROT_E_ARG;
    return encode_one_uint(action, out, cap, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_activate_decode(const uint8_t *p, size_t len, uint32_t *action)
{
    uint64_t v = 0;
    if ((p == NULL && len != 0) || action == NULL)
        return DROT_E_ARG;
    drot_status st = decode_one_uint(p, len, UINT32_MAX, &v);
    if (st == DROT_OK && !action_ok(v))
        st = DROT_E_CLAIM_INVALID;
    *action = st == DROT_OK ? (uint32_t)v : 0;
    return st;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_activate_resp_encode(bool reset, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    if (!out_ok(out, cap, out_len))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bool(&w, reset);
    return finish(&w, out_len);
}

/* see drot/link_fw.h */
drot_status drot_link_fw_activate_resp_decode(const uint8_t *p, size_t len, bool *reset)
{
    drot_cbor_reader r;
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    if ((p == NULL && len != 0) || reset == NULL)
        return DROT_E_ARG;
    *reset = false;
    drot_cbor_reader_init(&r, p, len);
    drot_status st = open_map(&r, DROT_E_MALFORMED, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(&r, KEYS(1), &seen, &key)) != DROT_OK)
            break;
        /* A simple value other than true/false (null, undefined) is a
         * well-formed value of the wrong type. */
        if ((st = want(&r, DROT_CBOR_SIMPLE)) == DROT_OK && drot_cbor_get_bool(&r, reset) != DROT_OK)
            st = DROT_E_CLAIM_INVALID;
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(1));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}

/* ---- FW_STATUS ------------------------------------------------------------------ */

enum {
    ST_RUNNING = 1,
    ST_ACTIVE,
    ST_TRIAL,
    ST_LAST,
    ST_SLOTS,
    ST_SVNS,
    ST_PENDING,
    ST_SESSION,
    ST_KEYS = ST_SESSION,
};

static bool status_ok(const drot_link_fw_status *m)
{
    if (m->running >= DROT_LINK_FW_SLOTS || m->active >= DROT_LINK_FW_SLOTS ||
        m->trial > DROT_LINK_FW_TRIAL_TRYING || m->last > DROT_LINK_FW_LAST_ABORTED ||
        !svns_ok(m->svns, m->num_svns, DROT_LINK_FW_FUSE_MAX) || m->num_pending > DROT_LINK_FW_PENDING_MAX ||
        m->session_mode > DROT_LINK_FW_MODE_VERIFY || m->session_size > DROT_LINK_FW_IMAGE_MAX ||
        m->session_received > m->session_size ||
        !printable(m->session_component, m->session_component_len, 0, DROT_LINK_FW_COMPONENT_MAX))
        return false;
    for (size_t i = 0; i < DROT_LINK_FW_SLOTS; i++)
        if (!printable(m->slots[i].version, m->slots[i].version_len, 0, DROT_LINK_FW_VERSION_MAX) ||
            m->slots[i].svn > DROT_LINK_FW_SVN_MAX)
            return false;
    for (size_t i = 0; i < m->num_pending; i++)
        if (!image_ok(&m->pending[i]))
            return false;
    return true;
}

/* see drot/link_fw.h */
drot_status drot_link_fw_status_encode(const drot_link_fw_status *m, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    drot_cbor_writer w;
    if (m == NULL || !out_ok(out, cap, out_len) || !status_ok(m))
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, ST_KEYS);
    drot_cbor_put_uint(&w, ST_RUNNING);
    drot_cbor_put_uint(&w, m->running);
    drot_cbor_put_uint(&w, ST_ACTIVE);
    drot_cbor_put_uint(&w, m->active);
    drot_cbor_put_uint(&w, ST_TRIAL);
    drot_cbor_put_uint(&w, m->trial);
    drot_cbor_put_uint(&w, ST_LAST);
    drot_cbor_put_uint(&w, m->last);
    drot_cbor_put_uint(&w, ST_SLOTS);
    drot_cbor_put_array(&w, DROT_LINK_FW_SLOTS);
    for (size_t i = 0; i < DROT_LINK_FW_SLOTS; i++) {
        const drot_link_fw_slot *s = &m->slots[i];
        drot_cbor_put_map(&w, 4);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_int(&w, s->status);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_tstr(&w, s->version, s->version_len);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_uint(&w, s->svn);
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_bstr(&w, s->digest, sizeof s->digest);
    }
    drot_cbor_put_uint(&w, ST_SVNS);
    put_svns(&w, m->svns, m->num_svns);
    drot_cbor_put_uint(&w, ST_PENDING);
    drot_cbor_put_array(&w, m->num_pending);
    for (size_t i = 0; i < m->num_pending; i++)
        put_image(&w, &m->pending[i]);
    drot_cbor_put_uint(&w, ST_SESSION);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, m->session_mode);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_tstr(&w, m->session_component, m->session_component_len);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, m->session_received);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_uint(&w, m->session_size);
    return finish(&w, out_len);
}

static drot_status read_slot(drot_cbor_reader *r, drot_link_fw_slot *s)
{
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    int64_t code = 0;
    uint64_t svn = 0;
    drot_status st = open_map(r, DROT_E_CLAIM_INVALID, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(r, KEYS(4), &seen, &key)) != DROT_OK)
            break;
        switch (key) {
        case 1:
            st = read_int(r, INT32_MIN, INT32_MAX, &code);
            s->status = (int32_t)code;
            break;
        case 2: st = read_printable(r, s->version, sizeof s->version, 0, &s->version_len); break;
        case 3:
            st = read_uint(r, DROT_LINK_FW_SVN_MAX, &svn);
            s->svn = (uint32_t)svn;
            break;
        default: st = read_bstr_exact(r, s->digest, sizeof s->digest); break;
        }
    }
    return st == DROT_OK ? require(seen, KEYS(4)) : st;
}

static drot_status read_slots(drot_cbor_reader *r, drot_link_fw_status *m)
{
    size_t n;
    drot_status st = open_array(r, DROT_LINK_FW_SLOTS, &n);
    if (st == DROT_OK && n != DROT_LINK_FW_SLOTS)
        return DROT_E_CLAIM_INVALID;
    for (size_t i = 0; st == DROT_OK && i < n; i++)
        st = read_slot(r, &m->slots[i]);
    return st;
}

static drot_status read_pending(drot_cbor_reader *r, drot_link_fw_status *m)
{
    size_t n;
    drot_status st = open_array(r, DROT_LINK_FW_PENDING_MAX, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++)
        st = read_image(r, DROT_E_CLAIM_INVALID, &m->pending[i]);
    if (st == DROT_OK)
        m->num_pending = n;
    return st;
}

static drot_status read_session(drot_cbor_reader *r, drot_link_fw_status *m)
{
    uint32_t seen = 0;
    unsigned key;
    size_t n;
    uint64_t v = 0;
    drot_status st = open_map(r, DROT_E_CLAIM_INVALID, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++) {
        if ((st = next_key(r, KEYS(4), &seen, &key)) != DROT_OK)
            break;
        switch (key) {
        case 1:
            st = read_uint(r, DROT_LINK_FW_MODE_VERIFY, &v);
            m->session_mode = (uint32_t)v;
            break;
        case 2:
            st = read_printable(r, m->session_component, sizeof m->session_component, 0,
                                &m->session_component_len);
            break;
        case 3:
            st = read_uint(r, DROT_LINK_FW_IMAGE_MAX, &v);
            m->session_received = (uint32_t)v;
            break;
        default:
            st = read_uint(r, DROT_LINK_FW_IMAGE_MAX, &v);
            m->session_size = (uint32_t)v;
            break;
        }
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(4));
    if (st == DROT_OK && m->session_received > m->session_size)
        st = DROT_E_CLAIM_INVALID;
    return st;
}

static drot_status read_status_field(drot_cbor_reader *r, unsigned key, drot_link_fw_status *m)
{
    uint64_t v = 0;
    drot_status st;
    switch (key) {
    case ST_RUNNING:
    case ST_ACTIVE:
        st = read_uint(r, DROT_LINK_FW_SLOTS - 1u, &v);
        if (key == ST_RUNNING)
            m->running = (uint32_t)v;
        else
            m->active = (uint32_t)v;
        return st;
    case ST_TRIAL:
        st = read_uint(r, DROT_LINK_FW_TRIAL_TRYING, &v);
        m->trial = (uint32_t)v;
        return st;
    case ST_LAST:
        st = read_uint(r, DROT_LINK_FW_LAST_ABORTED, &v);
        m->last = (uint32_t)v;
        return st;
    case ST_SLOTS: return read_slots(r, m);
    case ST_SVNS: return read_svns(r, DROT_LINK_FW_FUSE_MAX, m->svns, &m->num_svns);
    case ST_PENDING: return read_pending(r, m);
    default: return read_session(r, m);
    }
}

/* see drot/link_fw.h */
drot_status drot_link_fw_status_decode(const uint8_t *p, size_t len, drot_link_fw_status *m)
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
        if ((st = next_key(&r, KEYS(ST_KEYS), &seen, &key)) == DROT_OK)
            st = read_status_field(&r, key, m);
    }
    if (st == DROT_OK)
        st = require(seen, KEYS(ST_KEYS));
    return st == DROT_OK ? drot_cbor_reader_done(&r) : st;
}
