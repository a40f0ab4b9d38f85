/*
 * revocation.c — revocation list codec (see drot/revocation.h).
 *
 * Invariants:
 *   1. One set of rules: validate() holds every range, size and order rule;
 *      encode runs it before writing, decode after reading (as manifest.c).
 *      The reader checks only what the struct cannot show afterwards: CBOR
 *      types, which keys appeared, duplicates of keys, array heads over
 *      their limit, trailing bytes.
 *   2. Closed map, bounded arrays: an unknown key is refused before its
 *      value is looked at, and an array head above its limit before any
 *      entry is read, so the work is bounded by the limits, not the input.
 *      Nothing recurses.
 *   3. A failed decode (or verify) leaves a zeroed struct.
 */
#include "drot/revocation.h"

#include <string.h>

#include "drot/cbor.h"

#define KEY_BIT(k) (1u << (k))
#define ALL_KEYS                                                                                             \
    (KEY_BIT(DROT_REVOCATION_KEY_VERSION) | KEY_BIT(DROT_REVOCATION_KEY_ISSUED_AT) |                         \
     KEY_BIT(DROT_REVOCATION_KEY_AUTHORITIES) | KEY_BIT(DROT_REVOCATION_KEY_DRKS) |                          \
     KEY_BIT(DROT_REVOCATION_KEY_CERTS))

/* ---- order ---------------------------------------------------------------- */

/* see drot/revocation.h */
int drot_revocation_cmp_hash(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, DROT_REVOCATION_HASH_LEN);
}

/* see drot/revocation.h */
int drot_revocation_cmp_serial(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    if (a_len != b_len)
        return a_len < b_len ? -1 : 1;
    return a_len == 0 ? 0 : memcmp(a, b, a_len);
}

/* ---- rules ---------------------------------------------------------------- */

/* Order violations cost `unsorted`: the caller's mistake on encode
 * (DROT_E_ARG), a bad field on decode (DROT_E_CLAIM_INVALID). */
static drot_status check_hashes(const uint8_t *const *h, size_t n, size_t max, drot_status unsorted)
{
    if (n > max)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == NULL)
            return DROT_E_ARG;
        if (i > 0 && drot_revocation_cmp_hash(h[i - 1], h[i]) >= 0)
            return unsorted;
    }
    return DROT_OK;
}

static drot_status check_serials(const drot_revocation_serial *s, size_t n, drot_status unsorted)
{
    if (n > DROT_REVOCATION_MAX_CERTS)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        if (s[i].p == NULL)
            return DROT_E_ARG;
        if (s[i].len == 0 || s[i].len > DROT_REVOCATION_MAX_SERIAL || s[i].p[0] == 0)
            return DROT_E_CLAIM_INVALID;
    }
    for (size_t i = 1; i < n; i++)
        if (drot_revocation_cmp_serial(s[i - 1].p, s[i - 1].len, s[i].p, s[i].len) >= 0)
            return unsorted;
    return DROT_OK;
}

static drot_status validate(const drot_revocation_list *l, drot_status unsorted)
{
    drot_status st;

    if (l->version == 0 || l->version > DROT_REVOCATION_MAX_VERSION ||
        l->issued_at > DROT_REVOCATION_MAX_TIME)
        return DROT_E_CLAIM_INVALID;
    st = check_hashes(l->authorities, l->n_authorities, DROT_REVOCATION_MAX_AUTHORITIES, unsorted);
    if (st != DROT_OK)
        return st;
    if ((st = check_hashes(l->drks, l->n_drks, DROT_REVOCATION_MAX_DRKS, unsorted)) != DROT_OK)
        return st;
    return check_serials(l->certs, l->n_certs, unsorted);
}

/* ---- encoder -------------------------------------------------------------- */

/* see drot/revocation.h */
drot_status drot_revocation_encode(const drot_revocation_list *l, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_cbor_writer w;
    drot_status st;

    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (l == NULL || (out == NULL && cap != 0))
        return DROT_E_ARG;
    st = validate(l, DROT_E_ARG);
    if (st != DROT_OK)
        return st;

    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 5);
    drot_cbor_put_uint(&w, DROT_REVOCATION_KEY_VERSION);
    drot_cbor_put_uint(&w, l->version);
    drot_cbor_put_uint(&w, DROT_REVOCATION_KEY_ISSUED_AT);
    drot_cbor_put_uint(&w, l->issued_at);
    drot_cbor_put_uint(&w, DROT_REVOCATION_KEY_AUTHORITIES);
    drot_cbor_put_array(&w, l->n_authorities);
    for (size_t i = 0; i < l->n_authorities; i++)
        drot_cbor_put_bstr(&w, l->authorities[i], DROT_REVOCATION_HASH_LEN);
    drot_cbor_put_uint(&w, DROT_REVOCATION_KEY_DRKS);
    drot_cbor_put_array(&w, l->n_drks);
    for (size_t i = 0; i < l->n_drks; i++)
        drot_cbor_put_bstr(&w, l->drks[i], DROT_REVOCATION_HASH_LEN);
    drot_cbor_put_uint(&w, DROT_REVOCATION_KEY_CERTS);
    drot_cbor_put_array(&w, l->n_certs);
    for (size_t i = 0; i < l->n_certs; i++)
        drot_cbor_put_bstr(&w, l->certs[i].p, l->certs[i].len);
    return drot_cbor_writer_finish(&w, out_len);
}

/* ---- decoder -------------------------------------------------------------- */

/* The next item must be of type want: another type is a bad field
 * (DROT_E_CLAIM_INVALID); errors of the CBOR itself pass through. */
static drot_status expect_type(const drot_cbor_reader *r, drot_cbor_type want)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);
    if (st != DROT_OK)
        return st;
    return t == want ? DROT_OK : DROT_E_CLAIM_INVALID;
}

static drot_status read_uint(drot_cbor_reader *r, uint64_t *v)
{
    drot_status st = expect_type(r, DROT_CBOR_UINT);
    return st != DROT_OK ? st : drot_cbor_get_uint(r, v);
}

/* An array head of at most max entries (invariant 2). */
static drot_status read_array_head(drot_cbor_reader *r, size_t max, size_t *n)
{
    drot_status st = expect_type(r, DROT_CBOR_ARRAY);
    if (st != DROT_OK || (st = drot_cbor_get_array(r, n)) != DROT_OK)
        return st;
    return *n <= max ? DROT_OK : DROT_E_TOO_LARGE;
}

/* A byte string of 1..max bytes; exact > 0 demands exactly that many. */
static drot_status read_bytes(drot_cbor_reader *r, size_t exact, size_t max, const uint8_t **p, size_t *n)
{
    drot_status st = expect_type(r, DROT_CBOR_BSTR);
    if (st != DROT_OK || (st = drot_cbor_get_bstr(r, p, n)) != DROT_OK)
        return st;
    if ((exact != 0 && *n != exact) || *n == 0 || *n > max)
        return DROT_E_CLAIM_INVALID;
    return DROT_OK;
}

static drot_status read_hashes(drot_cbor_reader *r, size_t max, const uint8_t **h, size_t *count)
{
    size_t n = 0, got = 0;
    drot_status st = read_array_head(r, max, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++)
        st = read_bytes(r, DROT_REVOCATION_HASH_LEN, DROT_REVOCATION_HASH_LEN, &h[i], &got);
    if (st == DROT_OK)
        *count = n;
    return st;
}

static drot_status read_serials(drot_cbor_reader *r, drot_revocation_list *l)
{
    size_t n = 0;
    drot_status st = read_array_head(r, DROT_REVOCATION_MAX_CERTS, &n);
    for (size_t i = 0; st == DROT_OK && i < n; i++)
        st = read_bytes(r, 0, DROT_REVOCATION_MAX_SERIAL, &l->certs[i].p, &l->certs[i].len);
    if (st == DROT_OK)
        l->n_certs = n;
    return st;
}

/* One value, by its key; drot_cbor_read_keyed_map refuses any key outside
 * ALL_KEYS (invariant 2). */
static drot_status read_field(drot_cbor_reader *r, unsigned key, void *ctx)
{
    drot_revocation_list *l = ctx;
    switch (key) {
    case DROT_REVOCATION_KEY_VERSION: return read_uint(r, &l->version);
    case DROT_REVOCATION_KEY_ISSUED_AT: return read_uint(r, &l->issued_at);
    case DROT_REVOCATION_KEY_AUTHORITIES:
        return read_hashes(r, DROT_REVOCATION_MAX_AUTHORITIES, l->authorities, &l->n_authorities);
    case DROT_REVOCATION_KEY_DRKS: return read_hashes(r, DROT_REVOCATION_MAX_DRKS, l->drks, &l->n_drks);
    case DROT_REVOCATION_KEY_CERTS: return read_serials(r, l);
    default: return DROT_E_UNKNOWN_CLAIM;
    }
}

static drot_status decode_map(const uint8_t *payload, size_t len, drot_revocation_list *l)
{
    uint32_t seen;
    drot_status st = drot_cbor_read_keyed_map(payload, len, ALL_KEYS, read_field, l, &seen);
    if (st != DROT_OK)
        return st;
    if (seen != ALL_KEYS)
        return DROT_E_CLAIM_MISSING;
    return validate(l, DROT_E_CLAIM_INVALID);
}

/* see drot/revocation.h */
drot_status drot_revocation_decode(const uint8_t *payload, size_t len, drot_revocation_list *l)
{
    drot_status st;

    if (l == NULL)
        return DROT_E_ARG;
    memset(l, 0, sizeof *l);
    if (payload == NULL && len != 0)
        return DROT_E_ARG;
    st = decode_map(payload, len, l);
    if (st != DROT_OK)
        memset(l, 0, sizeof *l); /* invariant 3 */
    return st;
}

/* ---- lookups -------------------------------------------------------------- */

static bool has_hash(const uint8_t *const *h, size_t n, const uint8_t *hash)
{
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= drot_revocation_cmp_hash(h[i], hash) == 0;
    return found;
}

/* see drot/revocation.h */
bool drot_revocation_has_authority(const drot_revocation_list *l, const uint8_t *hash)
{
    return l != NULL && hash != NULL && has_hash(l->authorities, l->n_authorities, hash);
}

/* see drot/revocation.h */
bool drot_revocation_has_drk(const drot_revocation_list *l, const uint8_t *hash)
{
    return l != NULL && hash != NULL && has_hash(l->drks, l->n_drks, hash);
}

/* see drot/revocation.h */
bool drot_revocation_has_cert(const drot_revocation_list *l, const uint8_t *serial, size_t len)
{
    bool found = false;
    if (l == NULL || serial == NULL || len == 0)
        return false;
    for (size_t i = 0; i < l->n_certs; i++)
        found |= drot_revocation_cmp_serial(l->certs[i].p, l->certs[i].len, serial, len) == 0;
    return found;
}

/* ---- signed lists --------------------------------------------------------- */

/* see drot/revocation.h */
drot_status drot_revocation_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                 const drot_revocation_list *l, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t payload[DROT_REVOCATION_MAX_LEN];
    uint8_t signer[DROT_SHA256_LEN];
    size_t payload_len;
    drot_status st;

    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (priv == NULL || pub == NULL || l == NULL || (out == NULL && cap != 0))
        return DROT_E_ARG;
    st = drot_revocation_encode(l, payload, sizeof payload, &payload_len);
    if (st != DROT_OK)
        return st; /* DROT_E_BUFFER cannot happen: MAX_LEN bounds a valid list */
    /* A list revoking its own signer is refused by every verifier. */
    if ((st = drot_sha256(pub->q, sizeof pub->q, signer)) != DROT_OK)
        return st;
    if (drot_revocation_has_authority(l, signer))
        return DROT_E_BADKEY;
    return drot_authority_sign(priv, pub, DROT_AUTH_CT_REVOCATION, payload, payload_len, out, cap, out_len);
}

/* see drot/revocation.h */
drot_status drot_revocation_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                   size_t n_slots, drot_revocation_list *out, size_t *slot_index,
                                   uint8_t digest[DROT_SHA256_LEN])
{
    drot_cose_sign1_view view;
    uint8_t d[DROT_SHA256_LEN];
    size_t index = 0;
    drot_status st;

    if (out == NULL)
        return DROT_E_ARG;
    memset(out, 0, sizeof *out);
    st = drot_authority_verify(msg, len, DROT_AUTH_CT_REVOCATION, slots, n_slots, &view, &index);
    if (st != DROT_OK)
        return st;
    /* Authentic from here on, but decode is as strict as for any input. */
    st = drot_revocation_decode(view.payload, view.payload_len, out);
    if (st != DROT_OK)
        return st; /* decode has zeroed *out */
    if (drot_revocation_has_authority(out, slots[index].hash)) {
        memset(out, 0, sizeof *out);
        return DROT_E_BADKEY; /* the list revokes its own signer */
    }
    if (digest != NULL) {
        st = drot_sha256(view.payload, view.payload_len, d);
        if (st != DROT_OK) {
            memset(out, 0, sizeof *out);
            return st;
        }
        memcpy(digest, d, sizeof d);
    }
    if (slot_index != NULL)
        *slot_index = index;
    return DROT_OK;
}
