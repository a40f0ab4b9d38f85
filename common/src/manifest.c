/*
 * manifest.c — firmware manifest codec (see drot/manifest.h).
 *
 * Invariants:
 *   1. One set of rules: validate() holds every size, range and character
 *      rule; encode runs it before writing, decode after reading. The reader
 *      checks only what the struct cannot show afterwards: CBOR types, which
 *      keys appeared, duplicates, the closed key set, trailing bytes.
 *   2. Closed map: an unknown key is refused before its value is looked at,
 *      so no attacker-chosen value is ever walked; nothing recurses.
 *   3. A failed decode (or verify) leaves a zeroed struct.
 */
#include "drot/manifest.h"

#include <stdbool.h>
#include <string.h>

#include "drot/cbor.h"

/* Bit per key 1..5 in the "seen" mask. */
#define KEY_BIT(k) (1u << (k))
#define ALL_KEYS                                                                                             \
    (KEY_BIT(DROT_MANIFEST_KEY_COMPONENT) | KEY_BIT(DROT_MANIFEST_KEY_VERSION) |                             \
     KEY_BIT(DROT_MANIFEST_KEY_SVN) | KEY_BIT(DROT_MANIFEST_KEY_DIGEST) | KEY_BIT(DROT_MANIFEST_KEY_SIZE))

/* ---- rules ---------------------------------------------------------------- */

/* 1..max bytes, each printable ASCII (0x20..0x7E). */
static drot_status check_text(const char *p, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return DROT_E_CLAIM_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c > 0x7E)
            return DROT_E_CLAIM_INVALID;
    }
    return DROT_OK;
}

static drot_status validate(const drot_manifest *m)
{
    drot_status st;

    if ((m->component == NULL && m->component_len != 0) || (m->version == NULL && m->version_len != 0))
        return DROT_E_ARG;
    if ((st = check_text(m->component, m->component_len, DROT_MANIFEST_MAX_COMPONENT)) != DROT_OK)
        return st;
    if ((st = check_text(m->version, m->version_len, DROT_MANIFEST_MAX_VERSION)) != DROT_OK)
        return st;
    if (m->svn > DROT_MANIFEST_MAX_SVN)
        return DROT_E_CLAIM_INVALID;
    if (m->size == 0 || m->size > DROT_MANIFEST_MAX_IMAGE)
        return DROT_E_CLAIM_INVALID;
    return DROT_OK;
}

/* ---- encoder -------------------------------------------------------------- */

/* see drot/manifest.h */
drot_status drot_manifest_encode(const drot_manifest *m, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    drot_status st;

    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (m == NULL || (out == NULL && cap != 0))
        return DROT_E_ARG;
    if ((st = validate(m)) != DROT_OK)
        return st;

    /* Keys 1..5 are one-byte heads, so ascending numbers are also the
     * bytewise order of their encodings (RFC 8949 §4.2.1). */
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 5);
    drot_cbor_put_uint(&w, DROT_MANIFEST_KEY_COMPONENT);
    drot_cbor_put_tstr(&w, m->component, m->component_len);
    drot_cbor_put_uint(&w, DROT_MANIFEST_KEY_VERSION);
    drot_cbor_put_tstr(&w, m->version, m->version_len);
    drot_cbor_put_uint(&w, DROT_MANIFEST_KEY_SVN);
    drot_cbor_put_uint(&w, m->svn);
    drot_cbor_put_uint(&w, DROT_MANIFEST_KEY_DIGEST);
    drot_cbor_put_bstr(&w, m->digest, sizeof m->digest);
    drot_cbor_put_uint(&w, DROT_MANIFEST_KEY_SIZE);
    drot_cbor_put_uint(&w, m->size);
    return drot_cbor_writer_finish(&w, out_len);
}

/* ---- decoder -------------------------------------------------------------- */

/* The next item must be of type want: a value of another type is a bad
 * field (DROT_E_CLAIM_INVALID), errors of the CBOR itself pass through. */
static drot_status expect_type(const drot_cbor_reader *r, drot_cbor_type want)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    return t == want ? DROT_OK : DROT_E_CLAIM_INVALID;
}

static drot_status read_text(drot_cbor_reader *r, const char **p, size_t *n)
{
    drot_status st = expect_type(r, DROT_CBOR_TSTR);
    if (st != DROT_OK)
        return st;
    return drot_cbor_get_tstr(r, p, n);
}

/* A uint no larger than max (so it fits the struct's uint32_t). */
static drot_status read_uint_max(drot_cbor_reader *r, uint32_t max, uint32_t *v)
{
    uint64_t u;
    drot_status st = expect_type(r, DROT_CBOR_UINT);
    if (st != DROT_OK || (st = drot_cbor_get_uint(r, &u)) != DROT_OK)
        return st;
    if (u > max)
        return DROT_E_CLAIM_INVALID;
    *v = (uint32_t)u;
    return DROT_OK;
}

static drot_status read_digest(drot_cbor_reader *r, uint8_t digest[DROT_SHA256_LEN])
{
    const uint8_t *p;
    size_t n;
    drot_status st = expect_type(r, DROT_CBOR_BSTR);
    if (st != DROT_OK || (st = drot_cbor_get_bstr(r, &p, &n)) != DROT_OK)
        return st;
    if (n != DROT_SHA256_LEN)
        return DROT_E_CLAIM_INVALID;
    memcpy(digest, p, DROT_SHA256_LEN);
    return DROT_OK;
}

/* One value, by its key; drot_cbor_read_keyed_map refuses any key outside
 * ALL_KEYS (invariant 2). */
static drot_status read_field(drot_cbor_reader *r, unsigned key, void *ctx)
{
    drot_manifest *m = ctx;
    switch (key) {
    case DROT_MANIFEST_KEY_COMPONENT: return read_text(r, &m->component, &m->component_len);
    case DROT_MANIFEST_KEY_VERSION: return read_text(r, &m->version, &m->version_len);
    /* Ranges are validate()'s; here only keep values from wrapping into
     * the struct's uint32_t as something valid-looking. */
    case DROT_MANIFEST_KEY_SVN: return read_uint_max(r, UINT32_MAX, &m->svn);
    case DROT_MANIFEST_KEY_DIGEST: return read_digest(r, m->digest);
    case DROT_MANIFEST_KEY_SIZE: return read_uint_max(r, UINT32_MAX, &m->size);
    default: return DROT_E_UNKNOWN_CLAIM;
    }
}

static drot_status decode_map(const uint8_t *payload, size_t len, drot_manifest *m)
{
    uint32_t seen;
    drot_status st = drot_cbor_read_keyed_map(payload, len, ALL_KEYS, read_field, m, &seen);
    if (st != DROT_OK)
        return st;
    if (seen != ALL_KEYS)
        return DROT_E_CLAIM_MISSING;
    return validate(m);
}

/* see drot/manifest.h */
drot_status drot_manifest_decode(const uint8_t *payload, size_t len, drot_manifest *m)
{
    drot_status st;

    if (m == NULL)
        return DROT_E_ARG;
    memset(m, 0, sizeof *m);
    if (payload == NULL && len != 0)
        return DROT_E_ARG;
    st = decode_map(payload, len, m);
    if (st != DROT_OK)
        memset(m, 0, sizeof *m); /* invariant 3 */
    return st;
}

/* ---- signed manifests ----------------------------------------------------- */

/* see drot/manifest.h */
drot_status drot_manifest_sign(const drot_p256_priv *priv, const drot_p256_pub *pub, const drot_manifest *m,
                               uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t payload[DROT_MANIFEST_MAX_LEN];
    size_t payload_len;
    drot_status st;

    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (priv == NULL || pub == NULL || m == NULL || (out == NULL && cap != 0))
        return DROT_E_ARG;
    st = drot_manifest_encode(m, payload, sizeof payload, &payload_len);
    if (st != DROT_OK)
        return st; /* DROT_E_BUFFER cannot happen: MAX_LEN bounds a valid manifest */
    return drot_authority_sign(priv, pub, DROT_AUTH_CT_MANIFEST, payload, payload_len, out, cap, out_len);
}

/* see drot/manifest.h */
drot_status drot_manifest_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                 size_t n_slots, drot_manifest *out, size_t *slot_index)
{
    drot_cose_sign1_view view;
    size_t index = 0;
    drot_status st;

    if (out == NULL)
        return DROT_E_ARG;
    memset(out, 0, sizeof *out);
    st = drot_authority_verify(msg, len, DROT_AUTH_CT_MANIFEST, slots, n_slots, &view, &index);
    if (st != DROT_OK)
        return st;
    /* Authentic from here on, but still only bytes: decode is as strict
     * for a signed manifest as for any other (authorities make mistakes). */
    st = drot_manifest_decode(view.payload, view.payload_len, out);
    if (st != DROT_OK)
        return st; /* decode has zeroed *out */
    if (slot_index != NULL)
        *slot_index = index;
    return DROT_OK;
}
