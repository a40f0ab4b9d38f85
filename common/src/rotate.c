/*
 * rotate.c — the DRoT message codecs (see drot/rotate.h, docs/drot.md).
 *
 * Invariants:
 *   1. One map reader for every message: a closed key set given as a bit
 *      mask, a key outside it refused before its value is looked at
 *      (DROT_E_UNKNOWN_CLAIM), a key twice refused (DROT_E_DUPLICATE), and
 *      every value read through a typed helper that checks type and exact
 *      size. Nothing recurses; the work is bounded by the key set.
 *   2. Public keys in a payload are imported (on the curve, uncompressed)
 *      when decoded, so no later step sees a key that is not a point.
 *   3. A failed decode or verify leaves a zeroed struct; a verify never
 *      writes its slot or digest outputs unless it returns DROT_OK.
 *   4. Everything that held a secret (KeyA's scalar on both sides of the
 *      HPKE seal) is wiped at the one exit of its function.
 */
#include "drot/rotate.h"

#include <string.h>

#include "drot/cbor.h"
#include "drot/hpke.h"

#define KEY_BIT(k) (1u << (k))
#define KEYS(n)    ((uint32_t)(((1u << (n)) - 1u) << 1)) /* keys 1..n */

/* Largest payload any DRoT message carries (the anchor ADD instruction with
 * its consent is the biggest, about 400 bytes). */
#define PAYLOAD_MAX 640u

_Static_assert(DROT_AUTHORITY_SIZE_BOUND(PAYLOAD_MAX) <= DROT_ROTATE_MAX_MSG,
               "a DRoT payload must fit a DRoT message");

/* Largest keya-pop map: head 1; keys 5 x 1; device id 1 + 16; two epochs
 * 9 each; KeyA 2 + 65; nonce 2 + 32. Its signed form is the proposal's
 * inner message, held on the stack while the outer one is signed. */
#define POP_PAYLOAD_MAX 142u
#define POP_MSG_MAX     DROT_AUTHORITY_SIZE_BOUND(POP_PAYLOAD_MAX)

/* ---- reading ---------------------------------------------------------------- */

static drot_status want(const drot_cbor_reader *r, drot_cbor_type t)
{
    drot_cbor_type got;
    drot_status st = drot_cbor_peek(r, &got);
    if (st != DROT_OK)
        return st;
    return got == t ? DROT_OK : DROT_E_CLAIM_INVALID;
}

static drot_status rd_bstr(drot_cbor_reader *r, uint8_t *dst, size_t n)
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

static drot_status rd_uint(drot_cbor_reader *r, uint64_t max, uint64_t *v)
{
    drot_status st = want(r, DROT_CBOR_UINT);
    if (st != DROT_OK || (st = drot_cbor_get_uint(r, v)) != DROT_OK)
        return st;
    return *v <= max ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* A 65-byte public key that is a point (invariant 2). */
static drot_status rd_pub(drot_cbor_reader *r, drot_p256_pub *pub)
{
    uint8_t q[DROT_P256_PUB_LEN];
    drot_status st = rd_bstr(r, q, sizeof q);
    if (st != DROT_OK)
        return st;
    return drot_p256_pub_import(q, sizeof q, pub) == DROT_OK ? DROT_OK : DROT_E_CLAIM_INVALID;
}

/* A byte string of 1..max bytes, as a pointer into the input. */
static drot_status rd_view(drot_cbor_reader *r, size_t max, const uint8_t **p, size_t *n)
{
    drot_status st = want(r, DROT_CBOR_BSTR);
    if (st != DROT_OK || (st = drot_cbor_get_bstr(r, p, n)) != DROT_OK)
        return st;
    return *n >= 1 && *n <= max ? DROT_OK : DROT_E_CLAIM_INVALID;
}

typedef drot_cbor_field_fn field_fn;

/* Invariant 1: reads one map whose keys lie in `allowed`, calling fn for
 * each value; *seen = the keys found. The caller checks which are required. */
static drot_status read_map(const uint8_t *p, size_t len, uint32_t allowed, field_fn fn, void *obj,
                            uint32_t *seen)
{
    *seen = 0;
    if (p == NULL && len != 0)
        return DROT_E_ARG;
    if (len > DROT_ROTATE_MAX_MSG)
        return DROT_E_TOO_LARGE;
    return drot_cbor_read_keyed_map(p, len, allowed, fn, obj, seen);
}

/* ---- writing ---------------------------------------------------------------- */

static bool out_ok(const uint8_t *out, size_t cap, const size_t *out_len)
{
    return out_len != NULL && (out != NULL || cap == 0);
}

static drot_status finish(const drot_cbor_writer *w, size_t *out_len)
{
    return drot_cbor_writer_finish(w, out_len);
}

/* ---- envelopes ---------------------------------------------------------------- */

/* Decodes msg, checks its kind and verifies it under `key`, or under its
 * kid when key is NULL (then *kid_out, if given, receives the kid). A kid
 * that differs from a given key is DROT_E_VERIFY: such a message was made
 * by someone else, whatever its signature says. */
static drot_status verify_under(const uint8_t *msg, size_t len, uint64_t kind, const drot_p256_pub *key,
                                drot_cose_sign1_view *view, drot_p256_pub *kid_out)
{
    drot_p256_pub signer;
    drot_status st;

    if (msg == NULL)
        return DROT_E_ARG;
    if (len > DROT_ROTATE_MAX_MSG)
        return DROT_E_TOO_LARGE;
    if ((st = drot_cose_sign1_decode(msg, len, view)) != DROT_OK)
        return st;
    if (!view->has_content_type || view->content_type != kind)
        return DROT_E_UNSUPPORTED;
    if (view->kid == NULL)
        return DROT_E_MALFORMED;
    if (drot_p256_pub_import(view->kid, view->kid_len, &signer) != DROT_OK)
        return DROT_E_MALFORMED;
    if (key != NULL && drot_ct_equal(signer.q, key->q, DROT_P256_PUB_LEN) != DROT_OK)
        return DROT_E_VERIFY;
    st = drot_cose_sign1_verify(view, &signer, NULL, 0);
    if (st == DROT_E_BADKEY)
        st = DROT_E_VERIFY;
    if (st == DROT_OK && kid_out != NULL)
        *kid_out = signer;
    return st;
}

/* Signs a payload encoded by enc(obj) as kind `kind`. */
typedef drot_status (*encode_fn)(const void *obj, uint8_t *out, size_t cap, size_t *out_len);

static drot_status sign_obj(const drot_p256_priv *priv, const drot_p256_pub *pub, uint64_t kind,
                            encode_fn enc, const void *obj, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t payload[PAYLOAD_MAX];
    size_t n = 0;
    drot_status st;

    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (priv == NULL || pub == NULL || obj == NULL || (out == NULL && cap != 0))
        return DROT_E_ARG;
    st = enc(obj, payload, sizeof payload, &n);
    if (st == DROT_E_BUFFER)
        st = DROT_E_TOO_LARGE;
    if (st == DROT_OK)
        st = drot_authority_sign(priv, pub, kind, payload, n, out, cap, out_len);
    drot_wipe(payload, sizeof payload);
    return st;
}

/* ---- HPKE info ---------------------------------------------------------------- */

/* see drot/rotate.h */
void drot_rotate_hpke_info(const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN], uint64_t new_epoch,
                           uint8_t info[DROT_ROTATE_INFO_LEN])
{
    memcpy(info, DROT_ROTATE_INFO_LABEL, DROT_ROTATE_INFO_LABEL_LEN);
    memcpy(info + DROT_ROTATE_INFO_LABEL_LEN, device_id, DROT_ROTATE_DEVICE_ID_LEN);
    for (unsigned i = 0; i < 8; i++)
        info[DROT_ROTATE_INFO_LABEL_LEN + DROT_ROTATE_DEVICE_ID_LEN + i] =
            (uint8_t)(new_epoch >> (56u - 8u * i));
}

/* ---- ROTATE_ROOT ---------------------------------------------------------------- */

static drot_status root_encode(const void *obj, uint8_t *out, size_t cap, size_t *out_len)
{
    const drot_rotate_root *r = obj;
    drot_cbor_writer w;
    if (r->epoch == UINT64_MAX || r->new_epoch != r->epoch + 1u)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 7);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, r->device_id, sizeof r->device_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, r->epoch);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, r->new_epoch);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_bstr(&w, r->keya.q, sizeof r->keya.q);
    drot_cbor_put_uint(&w, 5);
    drot_cbor_put_bstr(&w, r->enc, sizeof r->enc);
    drot_cbor_put_uint(&w, 6);
    drot_cbor_put_bstr(&w, r->ct, sizeof r->ct);
    drot_cbor_put_uint(&w, 7);
    drot_cbor_put_bstr(&w, r->nonce, sizeof r->nonce);
    return finish(&w, out_len);
}

static drot_status root_field(drot_cbor_reader *rd, unsigned key, void *obj)
{
    drot_rotate_root *r = obj;
    switch (key) {
    case 1: return rd_bstr(rd, r->device_id, sizeof r->device_id);
    case 2: return rd_uint(rd, UINT64_MAX - 1u, &r->epoch);
    case 3: return rd_uint(rd, UINT64_MAX, &r->new_epoch);
    case 4: return rd_pub(rd, &r->keya);
    case 5: return rd_bstr(rd, r->enc, sizeof r->enc);
    case 6: return rd_bstr(rd, r->ct, sizeof r->ct);
    default: return rd_bstr(rd, r->nonce, sizeof r->nonce);
    }
}

/* see drot/rotate.h */
drot_status drot_rotate_root_encode(const drot_rotate_root *r, uint8_t *out, size_t cap, size_t *out_len)
{
    if (r == NULL || !out_ok(out, cap, out_len))
        return DROT_E_ARG;
    *out_len = 0;
    return root_encode(r, out, cap, out_len);
}

/* see drot/rotate.h */
drot_status drot_rotate_root_decode(const uint8_t *p, size_t len, drot_rotate_root *r)
{
    uint32_t seen;
    drot_status st;
    if (r == NULL)
        return DROT_E_ARG;
    memset(r, 0, sizeof *r);
    st = read_map(p, len, KEYS(7), root_field, r, &seen);
    if (st == DROT_OK && seen != KEYS(7))
        st = DROT_E_CLAIM_MISSING;
    if (st == DROT_OK && r->new_epoch != r->epoch + 1u)
        st = DROT_E_CLAIM_INVALID;
    if (st != DROT_OK)
        memset(r, 0, sizeof *r);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_root_seal(const drot_p256_pub *drk_pub, const drot_p256_priv *keya_priv,
                                  const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN], uint64_t epoch,
                                  const uint8_t nonce[DROT_ROTATE_NONCE_LEN], const drot_rng *rng,
                                  drot_rotate_root *r)
{
    uint8_t info[DROT_ROTATE_INFO_LEN];
    drot_p256_priv check;
    size_t ct_len = 0;
    drot_status st;

    if (drk_pub == NULL || keya_priv == NULL || device_id == NULL || nonce == NULL || rng == NULL ||
        r == NULL || epoch == UINT64_MAX)
        return DROT_E_ARG;
    memset(r, 0, sizeof *r);
    st = drot_p256_key_from_scalar(keya_priv->d, &check, &r->keya);
    if (st != DROT_OK)
        goto out;
    memcpy(r->device_id, device_id, sizeof r->device_id);
    r->epoch = epoch;
    r->new_epoch = epoch + 1u;
    memcpy(r->nonce, nonce, sizeof r->nonce);
    drot_rotate_hpke_info(device_id, r->new_epoch, info);
    st = drot_hpke_seal_base(drk_pub, info, sizeof info, r->keya.q, sizeof r->keya.q, keya_priv->d,
                             DROT_P256_SCALAR_LEN, rng, r->enc, r->ct, sizeof r->ct, &ct_len);
    if (st == DROT_OK && ct_len != sizeof r->ct)
        st = DROT_E_CRYPTO;
out:
    drot_wipe(&check, sizeof check);
    if (st != DROT_OK)
        memset(r, 0, sizeof *r);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_root_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                  const drot_rotate_root *r, uint8_t *out, size_t cap, size_t *out_len)
{
    return sign_obj(priv, pub, DROT_AUTH_CT_ROTATE_ROOT, root_encode, r, out, cap, out_len);
}

/* Anchor-signed kinds: authority verify, decode, tbs digest. */
typedef drot_status (*decode_fn)(const uint8_t *p, size_t len, void *obj);

static drot_status verify_anchor_signed(const uint8_t *msg, size_t len, uint64_t kind,
                                        const drot_anchor_slot *slots, size_t n_slots, decode_fn dec,
                                        void *obj, size_t *slot, uint8_t tbs[DROT_SHA256_LEN])
{
    drot_cose_sign1_view view;
    uint8_t digest[DROT_SHA256_LEN];
    size_t index = 0;
    drot_status st;

    if (msg != NULL && len > DROT_ROTATE_MAX_MSG)
        return DROT_E_TOO_LARGE;
    st = drot_authority_verify(msg, len, kind, slots, n_slots, &view, &index);
    if (st != DROT_OK)
        return st;
    if ((st = dec(view.payload, view.payload_len, obj)) != DROT_OK)
        return st;
    if ((st = drot_cose_sign1_tbs_digest(&view, NULL, 0, digest)) != DROT_OK)
        return st;
    if (slot != NULL)
        *slot = index;
    if (tbs != NULL)
        memcpy(tbs, digest, sizeof digest);
    return DROT_OK;
}

static drot_status root_decode_any(const uint8_t *p, size_t len, void *obj)
{
    return drot_rotate_root_decode(p, len, obj);
}

/* see drot/rotate.h */
drot_status drot_rotate_root_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                    size_t n_slots, drot_rotate_root *r, size_t *slot,
                                    uint8_t tbs[DROT_SHA256_LEN])
{
    drot_status st;
    if (r == NULL)
        return DROT_E_ARG;
    memset(r, 0, sizeof *r);
    st = verify_anchor_signed(msg, len, DROT_AUTH_CT_ROTATE_ROOT, slots, n_slots, root_decode_any, r, slot,
                              tbs);
    if (st != DROT_OK)
        memset(r, 0, sizeof *r);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_root_open(const drot_rotate_root *r, const drot_p256_priv *drk_priv,
                                  drot_p256_priv *keya_priv)
{
    uint8_t info[DROT_ROTATE_INFO_LEN];
    uint8_t pt[DROT_P256_SCALAR_LEN];
    drot_p256_priv priv;
    drot_p256_pub pub;
    size_t pt_len = 0;
    drot_status st;

    if (r == NULL || drk_priv == NULL || keya_priv == NULL)
        return DROT_E_ARG;
    memset(&priv, 0, sizeof priv);
    drot_rotate_hpke_info(r->device_id, r->new_epoch, info);
    st = drot_hpke_open_base(r->enc, sizeof r->enc, drk_priv, info, sizeof info, r->keya.q, sizeof r->keya.q,
                             r->ct, sizeof r->ct, pt, sizeof pt, &pt_len);
    if (st != DROT_OK)
        goto out;
    if (pt_len != sizeof pt) {
        st = DROT_E_BADKEY;
        goto out;
    }
    /* The sealed scalar must be the private half of the signed public key:
     * otherwise the device would commit a key the authority never named. */
    if (drot_p256_key_from_scalar(pt, &priv, &pub) != DROT_OK ||
        drot_ct_equal(pub.q, r->keya.q, DROT_P256_PUB_LEN) != DROT_OK) {
        st = DROT_E_BADKEY;
        goto out;
    }
    *keya_priv = priv;
out:
    drot_wipe(pt, sizeof pt);
    drot_wipe(&priv, sizeof priv);
    return st;
}

/* ---- receipt ---------------------------------------------------------------- */

static drot_status receipt_encode(const void *obj, uint8_t *out, size_t cap, size_t *out_len)
{
    const drot_rotate_receipt *r = obj;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, r->device_id, sizeof r->device_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, r->new_epoch);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, r->nonce, sizeof r->nonce);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_bstr(&w, r->instruction, sizeof r->instruction);
    return finish(&w, out_len);
}

static drot_status receipt_field(drot_cbor_reader *rd, unsigned key, void *obj)
{
    drot_rotate_receipt *r = obj;
    switch (key) {
    case 1: return rd_bstr(rd, r->device_id, sizeof r->device_id);
    case 2: return rd_uint(rd, UINT64_MAX, &r->new_epoch);
    case 3: return rd_bstr(rd, r->nonce, sizeof r->nonce);
    default: return rd_bstr(rd, r->instruction, sizeof r->instruction);
    }
}

/* see drot/rotate.h */
drot_status drot_rotate_receipt_encode(const drot_rotate_receipt *r, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    if (r == NULL || !out_ok(out, cap, out_len))
        return DROT_E_ARG;
    *out_len = 0;
    return receipt_encode(r, out, cap, out_len);
}

/* see drot/rotate.h */
drot_status drot_rotate_receipt_decode(const uint8_t *p, size_t len, drot_rotate_receipt *r)
{
    uint32_t seen;
    drot_status st;
    if (r == NULL)
        return DROT_E_ARG;
    memset(r, 0, sizeof *r);
    st = read_map(p, len, KEYS(4), receipt_field, r, &seen);
    if (st == DROT_OK && seen != KEYS(4))
        st = DROT_E_CLAIM_MISSING;
    if (st != DROT_OK)
        memset(r, 0, sizeof *r);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_receipt_sign(const drot_p256_priv *keya_priv, const drot_p256_pub *keya_pub,
                                     const drot_rotate_receipt *r, uint8_t *out, size_t cap, size_t *out_len)
{
    return sign_obj(keya_priv, keya_pub, DROT_AUTH_CT_ROTATE_RECEIPT, receipt_encode, r, out, cap, out_len);
}

/* see drot/rotate.h */
drot_status drot_rotate_receipt_verify(const uint8_t *msg, size_t len, const drot_p256_pub *keya,
                                       drot_rotate_receipt *r)
{
    drot_cose_sign1_view view;
    drot_status st;
    if (r == NULL)
        return DROT_E_ARG;
    memset(r, 0, sizeof *r);
    if (keya == NULL)
        return DROT_E_ARG;
    st = verify_under(msg, len, DROT_AUTH_CT_ROTATE_RECEIPT, keya, &view, NULL);
    if (st == DROT_OK)
        st = drot_rotate_receipt_decode(view.payload, view.payload_len, r);
    if (st != DROT_OK)
        memset(r, 0, sizeof *r);
    return st;
}

/* ---- proposal / endorsement ----------------------------------------------------- */

static drot_status proposal_encode(const void *obj, uint8_t *out, size_t cap, size_t *out_len)
{
    const drot_rotate_proposal *p = obj;
    drot_cbor_writer w;
    if (p->epoch == UINT64_MAX || p->new_epoch != p->epoch + 1u)
        return DROT_E_ARG;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 5);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, p->device_id, sizeof p->device_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, p->epoch);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, p->new_epoch);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_bstr(&w, p->keya.q, sizeof p->keya.q);
    drot_cbor_put_uint(&w, 5);
    drot_cbor_put_bstr(&w, p->nonce, sizeof p->nonce);
    return finish(&w, out_len);
}

static drot_status proposal_field(drot_cbor_reader *rd, unsigned key, void *obj)
{
    drot_rotate_proposal *p = obj;
    switch (key) {
    case 1: return rd_bstr(rd, p->device_id, sizeof p->device_id);
    case 2: return rd_uint(rd, UINT64_MAX - 1u, &p->epoch);
    case 3: return rd_uint(rd, UINT64_MAX, &p->new_epoch);
    case 4: return rd_pub(rd, &p->keya);
    default: return rd_bstr(rd, p->nonce, sizeof p->nonce);
    }
}

/* see drot/rotate.h */
drot_status drot_rotate_proposal_encode(const drot_rotate_proposal *p, uint8_t *out, size_t cap,
                                        size_t *out_len)
{
    if (p == NULL || !out_ok(out, cap, out_len))
        return DROT_E_ARG;
    *out_len = 0;
    return proposal_encode(p, out, cap, out_len);
}

/* see drot/rotate.h */
drot_status drot_rotate_proposal_decode(const uint8_t *in, size_t len, drot_rotate_proposal *p)
{
    uint32_t seen;
    drot_status st;
    if (p == NULL)
        return DROT_E_ARG;
    memset(p, 0, sizeof *p);
    st = read_map(in, len, KEYS(5), proposal_field, p, &seen);
    if (st == DROT_OK && seen != KEYS(5))
        st = DROT_E_CLAIM_MISSING;
    if (st == DROT_OK && p->new_epoch != p->epoch + 1u)
        st = DROT_E_CLAIM_INVALID;
    if (st != DROT_OK)
        memset(p, 0, sizeof *p);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_proposal_sign(const drot_p256_priv *drk_priv, const drot_p256_pub *drk_pub,
                                      const drot_p256_priv *keya_priv, const drot_rotate_proposal *p,
                                      uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t inner[POP_MSG_MAX];
    size_t inner_len = 0;
    drot_status st;

    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (drk_priv == NULL || drk_pub == NULL || keya_priv == NULL || p == NULL)
        return DROT_E_ARG;
    /* authority_sign refuses a keya that is not pub(keya_priv). */
    st = sign_obj(keya_priv, &p->keya, DROT_AUTH_CT_ROTATE_KEYA_POP, proposal_encode, p, inner, sizeof inner,
                  &inner_len);
    if (st == DROT_OK)
        st = drot_authority_sign(drk_priv, drk_pub, DROT_AUTH_CT_ROTATE_PROPOSAL, inner, inner_len, out, cap,
                                 out_len);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_proposal_verify(const uint8_t *msg, size_t len, const drot_p256_pub *old_drk,
                                        drot_rotate_proposal *p)
{
    drot_cose_sign1_view outer, inner;
    drot_p256_pub keya;
    drot_status st;

    if (p == NULL)
        return DROT_E_ARG;
    memset(p, 0, sizeof *p);
    if (old_drk == NULL)
        return DROT_E_ARG;
    st = verify_under(msg, len, DROT_AUTH_CT_ROTATE_PROPOSAL, old_drk, &outer, NULL);
    if (st == DROT_OK)
        st =
            verify_under(outer.payload, outer.payload_len, DROT_AUTH_CT_ROTATE_KEYA_POP, NULL, &inner, &keya);
    if (st == DROT_OK)
        st = drot_rotate_proposal_decode(inner.payload, inner.payload_len, p);
    /* KeyA signed a map naming KeyA: the proof of possession. */
    if (st == DROT_OK && drot_ct_equal(p->keya.q, keya.q, DROT_P256_PUB_LEN) != DROT_OK)
        st = DROT_E_VERIFY;
    if (st != DROT_OK)
        memset(p, 0, sizeof *p);
    return st;
}

/* see drot/rotate.h */
drot_status drot_rotate_endorse_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                     const drot_rotate_proposal *p, uint8_t *out, size_t cap, size_t *out_len)
{
    return sign_obj(priv, pub, DROT_AUTH_CT_ROTATE_ENDORSE, proposal_encode, p, out, cap, out_len);
}

static drot_status proposal_decode_any(const uint8_t *p, size_t len, void *obj)
{
    return drot_rotate_proposal_decode(p, len, obj);
}

/* see drot/rotate.h */
drot_status drot_rotate_endorse_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                       size_t n_slots, drot_rotate_proposal *p, size_t *slot,
                                       uint8_t tbs[DROT_SHA256_LEN])
{
    drot_status st;
    if (p == NULL)
        return DROT_E_ARG;
    memset(p, 0, sizeof *p);
    st = verify_anchor_signed(msg, len, DROT_AUTH_CT_ROTATE_ENDORSE, slots, n_slots, proposal_decode_any, p,
                              slot, tbs);
    if (st != DROT_OK)
        memset(p, 0, sizeof *p);
    return st;
}

/* ---- anchor consent ------------------------------------------------------------- */

typedef struct consent {
    uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN];
    uint8_t nonce[DROT_ROTATE_NONCE_LEN];
    drot_p256_pub key;
} consent;

static drot_status consent_encode(const void *obj, uint8_t *out, size_t cap, size_t *out_len)
{
    const consent *c = obj;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 3);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, c->device_id, sizeof c->device_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, c->nonce, sizeof c->nonce);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_bstr(&w, c->key.q, sizeof c->key.q);
    return finish(&w, out_len);
}

static drot_status consent_field(drot_cbor_reader *rd, unsigned key, void *obj)
{
    consent *c = obj;
    switch (key) {
    case 1: return rd_bstr(rd, c->device_id, sizeof c->device_id);
    case 2: return rd_bstr(rd, c->nonce, sizeof c->nonce);
    default: return rd_pub(rd, &c->key);
    }
}

/* see drot/rotate.h */
drot_status drot_anchor_consent_sign(const drot_p256_priv *new_priv, const drot_p256_pub *new_pub,
                                     const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN],
                                     const uint8_t nonce[DROT_ROTATE_NONCE_LEN], uint8_t *out, size_t cap,
                                     size_t *out_len)
{
    consent c;
    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (new_pub == NULL || device_id == NULL || nonce == NULL)
        return DROT_E_ARG;
    memcpy(c.device_id, device_id, sizeof c.device_id);
    memcpy(c.nonce, nonce, sizeof c.nonce);
    c.key = *new_pub;
    return sign_obj(new_priv, new_pub, DROT_AUTH_CT_ANCHOR_CONSENT, consent_encode, &c, out, cap, out_len);
}

/* see drot/rotate.h */
drot_status drot_anchor_consent_encode(const uint8_t device_id[DROT_ROTATE_DEVICE_ID_LEN],
                                       const uint8_t nonce[DROT_ROTATE_NONCE_LEN],
                                       const drot_p256_pub *new_pub, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    consent c;
    if (out_len == NULL)
        return DROT_E_ARG;
    *out_len = 0;
    if (device_id == NULL || nonce == NULL || new_pub == NULL || (out == NULL && cap > 0))
        return DROT_E_ARG;
    memcpy(c.device_id, device_id, sizeof c.device_id);
    memcpy(c.nonce, nonce, sizeof c.nonce);
    c.key = *new_pub;
    return consent_encode(&c, out, cap, out_len);
}

/* The ADD cross-signature: the consent, signed by the new key itself, names
 * the same device, nonce and key as the instruction. */
static drot_status check_consent(const drot_anchor_instr *a)
{
    drot_cose_sign1_view view;
    consent c;
    uint32_t seen;
    drot_status st;

    memset(&c, 0, sizeof c);
    st = verify_under(a->consent, a->consent_len, DROT_AUTH_CT_ANCHOR_CONSENT, &a->new_key, &view, NULL);
    if (st != DROT_OK)
        return st;
    st = read_map(view.payload, view.payload_len, KEYS(3), consent_field, &c, &seen);
    if (st == DROT_OK && seen != KEYS(3))
        st = DROT_E_CLAIM_MISSING;
    if (st != DROT_OK)
        return st;
    if (drot_ct_equal(c.device_id, a->device_id, sizeof c.device_id) != DROT_OK ||
        drot_ct_equal(c.nonce, a->nonce, sizeof c.nonce) != DROT_OK ||
        drot_ct_equal(c.key.q, a->new_key.q, sizeof c.key.q) != DROT_OK)
        return DROT_E_VERIFY;
    return DROT_OK;
}

/* ---- ROTATE_ANCHOR ---------------------------------------------------------------- */

/* Key 4 is typed by the op, which may come after it in the map: it is
 * read as whichever of the two shapes it has, and checked against the op
 * once the whole map is in. */
typedef struct anchor_rd {
    drot_anchor_instr *a;
    bool key4_is_slot;
} anchor_rd;

static drot_status anchor_field(drot_cbor_reader *rd, unsigned key, void *obj)
{
    anchor_rd *x = obj;
    drot_anchor_instr *a = x->a;
    drot_cbor_type t;
    uint64_t v;
    drot_status st;

    switch (key) {
    case 1: return rd_bstr(rd, a->device_id, sizeof a->device_id);
    case 2: return rd_bstr(rd, a->nonce, sizeof a->nonce);
    case 3:
        if ((st = rd_uint(rd, DROT_ANCHOR_OP_CONFIRM, &v)) != DROT_OK)
            return st;
        if (v < DROT_ANCHOR_OP_ADD)
            return DROT_E_CLAIM_INVALID;
        a->op = (uint32_t)v;
        return DROT_OK;
    case 4:
        if ((st = drot_cbor_peek(rd, &t)) != DROT_OK)
            return st;
        if (t == DROT_CBOR_UINT) {
            x->key4_is_slot = true;
            if ((st = rd_uint(rd, DROT_AUTHORITY_MAX_SLOTS - 1u, &v)) == DROT_OK)
                a->slot = (uint32_t)v;
            return st;
        }
        return rd_pub(rd, &a->new_key);
    default: return rd_view(rd, DROT_ROTATE_MAX_MSG, &a->consent, &a->consent_len);
    }
}

static drot_status anchor_decode_inner(const uint8_t *p, size_t len, drot_anchor_instr *a)
{
    anchor_rd x = {a, false};
    uint32_t seen;
    drot_status st = read_map(p, len, KEYS(5), anchor_field, &x, &seen);
    if (st != DROT_OK)
        return st;
    if ((seen & KEYS(3)) != KEYS(3))
        return DROT_E_CLAIM_MISSING;
    uint32_t need = a->op == DROT_ANCHOR_OP_ADD      ? KEYS(5)
                    : a->op == DROT_ANCHOR_OP_REVOKE ? KEYS(4)
                                                     : KEYS(3);
    if ((seen & ~need) != 0)
        return DROT_E_UNKNOWN_CLAIM;
    if (seen != need)
        return DROT_E_CLAIM_MISSING;
    if (a->op == DROT_ANCHOR_OP_ADD && x.key4_is_slot)
        return DROT_E_CLAIM_INVALID;
    if (a->op == DROT_ANCHOR_OP_REVOKE && !x.key4_is_slot)
        return DROT_E_CLAIM_INVALID;
    return DROT_OK;
}

/* see drot/rotate.h */
drot_status drot_anchor_instr_decode(const uint8_t *p, size_t len, drot_anchor_instr *a)
{
    drot_status st;
    if (a == NULL)
        return DROT_E_ARG;
    memset(a, 0, sizeof *a);
    st = anchor_decode_inner(p, len, a);
    if (st != DROT_OK)
        memset(a, 0, sizeof *a);
    return st;
}

static drot_status anchor_encode(const void *obj, uint8_t *out, size_t cap, size_t *out_len)
{
    const drot_anchor_instr *a = obj;
    drot_cbor_writer w;
    size_t n;

    switch (a->op) {
    case DROT_ANCHOR_OP_ADD:
        if (a->consent == NULL || a->consent_len == 0 || a->consent_len > DROT_ROTATE_MAX_MSG)
            return DROT_E_ARG;
        n = 5;
        break;
    case DROT_ANCHOR_OP_REVOKE:
        if (a->slot >= DROT_AUTHORITY_MAX_SLOTS)
            return DROT_E_ARG;
        n = 4;
        break;
    case DROT_ANCHOR_OP_CONFIRM: n = 3; break;
    default: return DROT_E_ARG;
    }
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, n);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, a->device_id, sizeof a->device_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, a->nonce, sizeof a->nonce);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, a->op);
    if (a->op == DROT_ANCHOR_OP_ADD) {
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_bstr(&w, a->new_key.q, sizeof a->new_key.q);
        drot_cbor_put_uint(&w, 5);
        drot_cbor_put_bstr(&w, a->consent, a->consent_len);
    } else if (a->op == DROT_ANCHOR_OP_REVOKE) {
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_uint(&w, a->slot);
    }
    return finish(&w, out_len);
}

/* see drot/rotate.h */
drot_status drot_anchor_instr_encode(const drot_anchor_instr *a, uint8_t *out, size_t cap, size_t *out_len)
{
    if (a == NULL || !out_ok(out, cap, out_len))
        return DROT_E_ARG;
    *out_len = 0;
    return anchor_encode(a, out, cap, out_len);
}

/* see drot/rotate.h */
drot_status drot_anchor_instr_sign(const drot_p256_priv *priv, const drot_p256_pub *pub,
                                   const drot_anchor_instr *a, uint8_t *out, size_t cap, size_t *out_len)
{
    return sign_obj(priv, pub, DROT_AUTH_CT_ROTATE_ANCHOR, anchor_encode, a, out, cap, out_len);
}

static drot_status anchor_decode_any(const uint8_t *p, size_t len, void *obj)
{
    return drot_anchor_instr_decode(p, len, obj);
}

/* see drot/rotate.h */
drot_status drot_anchor_instr_verify(const uint8_t *msg, size_t len, const drot_anchor_slot *slots,
                                     size_t n_slots, drot_anchor_instr *a, size_t *slot)
{
    size_t index = 0;
    drot_status st;

    if (a == NULL)
        return DROT_E_ARG;
    memset(a, 0, sizeof *a);
    st = verify_anchor_signed(msg, len, DROT_AUTH_CT_ROTATE_ANCHOR, slots, n_slots, anchor_decode_any, a,
                              &index, NULL);
    if (st == DROT_OK && a->op == DROT_ANCHOR_OP_ADD)
        st = check_consent(a);
    if (st != DROT_OK) {
        memset(a, 0, sizeof *a);
        return st;
    }
    if (slot != NULL)
        *slot = index;
    return DROT_OK;
}
