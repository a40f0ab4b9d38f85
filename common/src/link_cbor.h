/*
 * link_cbor.h — the reading and writing helpers the link payload codecs share
 * (link_msg.c, link_fw.c). Internal to common/src: static inline, so each
 * codec file gets its own copy and no symbol leaks into the library's API.
 *
 * Why the type of a value is peeked before it is read: libcbor-level errors
 * (DROT_E_TRUNCATED, ...) must pass through unchanged, while a well-formed
 * value of the wrong type is the message's error (DROT_E_CLAIM_INVALID).
 */
#ifndef DROT_LINK_CBOR_H
#define DROT_LINK_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drot/cbor.h"
#include "drot/link_msg.h"
#include "drot/status.h"

/* Key sets: bit k set = key k belongs to the message (keys are 1..11). */
#define KEYS(n) ((uint32_t)(((1u << (n)) - 1u) << 1)) /* keys 1..n */

/* ---- reading helpers ------------------------------------------------------ */

/* The next item has type t (DROT_E_CLAIM_INVALID if another type). */
static inline drot_status want(const drot_cbor_reader *r, drot_cbor_type t)
{
    drot_cbor_type got;
    drot_status st = drot_cbor_peek(r, &got);
    if (st != DROT_OK)
        return st;
    return got == t ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* A map header; wrong_type is what a non-map costs. */
static inline drot_status open_map(drot_cbor_reader *r, drot_status wrong_type, size_t *n)
{
    drot_status st = want(r, DROT_CBOR_MAP);
    if (st == DROT_E_CLAIM_INVALID)
        return wrong_type;
    if (st != DROT_OK)
        return st;
    return drot_cbor_get_map(r, n);
}

/* An array header of at most max elements, as a field value. */
static inline drot_status open_array(drot_cbor_reader *r, size_t max, size_t *n)
{
    drot_status st = want(r, DROT_CBOR_ARRAY);
    if (st == DROT_OK)
        st = drot_cbor_get_array(r, n);
    if (st == DROT_OK && *n > max)
        return DROT_E_TOO_LARGE;
    return st;
}

/* A key of set (unsigned, bit set in set, not yet in *seen); adds it to *seen. */
static inline drot_status next_key(drot_cbor_reader *r, uint32_t set, uint32_t *seen, unsigned *key)
{
    uint64_t k;
    drot_status st = want(r, DROT_CBOR_UINT);
    if (st == DROT_E_CLAIM_INVALID)
        return DROT_E_UNKNOWN_CLAIM;
    if (st != DROT_OK || (st = drot_cbor_get_uint(r, &k)) != DROT_OK)
        return st;
    if (k > 31 || (set & (1u << k)) == 0)
        return DROT_E_UNKNOWN_CLAIM;
    if (*seen & (1u << k))
        return DROT_E_DUPLICATE;
    *seen |= 1u << k;
    *key = (unsigned)k;
    return DROT_OK;
}

/* After a map's entries: all of set seen. */
static inline drot_status require(uint32_t seen, uint32_t set)
{
    return (seen & set) == set ? DROT_OK : DROT_E_CLAIM_MISSING;
}

/* Unsigned integer ≤ max. */
static inline drot_status read_uint(drot_cbor_reader *r, uint64_t max, uint64_t *v)
{
    drot_status st = want(r, DROT_CBOR_UINT);
    if (st != DROT_OK || (st = drot_cbor_get_uint(r, v)) != DROT_OK)
        return st;
    return *v <= max ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* Signed integer (major 0 or 1) in [min, max]. */
static inline drot_status read_int(drot_cbor_reader *r, int64_t min, int64_t max, int64_t *v)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    if (t != DROT_CBOR_UINT && t != DROT_CBOR_NEGINT)
        return DROT_E_CLAIM_INVALID;
    st = drot_cbor_get_int(r, v);
    if (st == DROT_E_TOO_LARGE) /* outside int64_t: outside any range asked here */
        return DROT_E_CLAIM_INVALID;
    if (st != DROT_OK)
        return st;
    return (*v >= min && *v <= max) ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* Byte string of exactly n bytes, copied into dst. */
static inline drot_status read_bstr_exact(drot_cbor_reader *r, uint8_t *dst, size_t n)
{
    const uint8_t *p;
    size_t got;
    drot_status st = want(r, DROT_CBOR_BSTR);
    if (st != DROT_OK || (st = drot_cbor_get_bstr(r, &p, &got)) != DROT_OK)
        return st;
    if (got != n)
        return DROT_E_CLAIM_INVALID;
    memcpy(dst, p, n);
    return DROT_OK;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF. A text string that is not valid UTF-8 is not valid CBOR
 * (RFC 8949 section 3.1), and these strings end up in logs and the server. */
static inline bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t more;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            more = 1, cp = c & 0x1Fu, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, cp = c & 0x0Fu, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (more > n - i - 1)
            return false;
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += more + 1;
    }
    return true;
}

/* Text string of at most cap bytes, valid UTF-8, copied into dst[0..cap)
 * with the rest zeroed (so equal messages decode to equal structs). */
static inline drot_status read_tstr(drot_cbor_reader *r, char *dst, size_t cap, size_t *n)
{
    const char *p;
    size_t got;
    drot_status st = want(r, DROT_CBOR_TSTR);
    if (st != DROT_OK || (st = drot_cbor_get_tstr(r, &p, &got)) != DROT_OK)
        return st;
    if (got > cap || !utf8_valid((const uint8_t *)p, got))
        return DROT_E_CLAIM_INVALID;
    memset(dst, 0, cap);
    if (got > 0)
        memcpy(dst, p, got);
    *n = got;
    return DROT_OK;
}

/* ---- writing helpers ------------------------------------------------------ */

static inline bool text_ok(const char *p, size_t n, size_t cap)
{
    return n <= cap && (n == 0 || p != NULL) && utf8_valid((const uint8_t *)p, n);
}

static inline drot_status finish(const drot_cbor_writer *w, size_t *out_len)
{
    return drot_cbor_writer_finish(w, out_len);
}

static inline bool out_ok(const uint8_t *out, size_t cap, const size_t *out_len)
{
    return out_len != NULL && (out != NULL || cap == 0);
}

/* A byte string of min..max bytes, as a view into the input. */
static inline drot_status read_bstr_view(drot_cbor_reader *r, size_t min, size_t max, const uint8_t **p,
                                         size_t *n)
{
    const uint8_t *vp;
    size_t vn;
    drot_status st = want(r, DROT_CBOR_BSTR);
    if (st != DROT_OK || (st = drot_cbor_get_bstr(r, &vp, &vn)) != DROT_OK)
        return st;
    if (vn < min || vn > max)
        return DROT_E_CLAIM_INVALID;
    *p = vp;
    *n = vn;
    return DROT_OK;
}

/* ---- the svn map {component uint < 2^32 -> svn uint}, in GET_INFO and FW_STATUS ---- */

/* At most DROT_LINK_MAX_SVNS entries, each svn <= max, no component twice. */
static inline bool svns_ok(const drot_link_svn *svns, size_t n, uint64_t max)
{
    if (n > DROT_LINK_MAX_SVNS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (svns[i].svn > max)
            return false;
        for (size_t j = 0; j < i; j++)
            if (svns[i].component == svns[j].component)
                return false;
    }
    return true;
}

static inline void put_svns(drot_cbor_writer *w, const drot_link_svn *svns, size_t n)
{
    drot_cbor_put_map(w, n);
    for (size_t i = 0; i < n; i++) {
        drot_cbor_put_uint(w, svns[i].component);
        drot_cbor_put_uint(w, svns[i].svn);
    }
}

/* Reads the map into svns[0..*n); the same bounds as svns_ok. */
static inline drot_status read_svns(drot_cbor_reader *r, uint64_t max, drot_link_svn *svns, size_t *num)
{
    size_t n;
    drot_status st = want(r, DROT_CBOR_MAP);
    if (st != DROT_OK || (st = drot_cbor_get_map(r, &n)) != DROT_OK)
        return st;
    if (n > DROT_LINK_MAX_SVNS)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        uint64_t comp, svn;
        if ((st = read_uint(r, UINT32_MAX, &comp)) != DROT_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (svns[j].component == comp)
                return DROT_E_DUPLICATE;
        if ((st = read_uint(r, max, &svn)) != DROT_OK)
            return st;
        svns[i].component = (uint32_t)comp;
        svns[i].svn = svn;
    }
    *num = n;
    return DROT_OK;
}

#endif /* DROT_LINK_CBOR_H */
