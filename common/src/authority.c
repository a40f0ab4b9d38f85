/*
 * authority.c — the authority-signed object envelope (see drot/authority.h).
 *
 * Invariants:
 *   1. The anchor match looks at every slot, whatever the earlier ones held:
 *      each comparison is drot_ct_equal over the full 32 bytes, and the
 *      results are folded into masks with arithmetic, not branches, so the
 *      time taken does not say which slot (if any) matched.
 *   2. DROT_E_BADKEY leaves drot_authority_verify only for "the signer's
 *      anchor is revoked"; every other key problem is mapped to another code
 *      before it can get out.
 *   3. A failed verify leaves a zeroed view and an untouched slot index, so
 *      no unverified payload or half-chosen slot reaches the caller.
 */
#include "drot/authority.h"

#include <string.h>

/* All ones if b, else all zeros; b must be 0 or 1. */
static uint32_t mask_of(uint32_t b)
{
    return (uint32_t)0 - b;
}

/* see drot/authority.h */
drot_status drot_authority_sign(const drot_p256_priv *priv, const drot_p256_pub *pub, uint64_t content_type,
                                const uint8_t *payload, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    drot_p256_priv check_priv;
    drot_p256_pub check_pub;
    drot_cose_sign1_params params;
    drot_status st;

    if (out_len != NULL)
        *out_len = 0;
    if (priv == NULL || pub == NULL || out_len == NULL || (payload == NULL && len != 0) ||
        (out == NULL && cap != 0))
        return DROT_E_ARG;

    /* A kid that is not the signing key's public half would give an object
     * no device accepts; refuse to make it. */
    st = drot_p256_key_from_scalar(priv->d, &check_priv, &check_pub);
    if (st != DROT_OK)
        goto out;
    if (memcmp(check_pub.q, pub->q, DROT_P256_PUB_LEN) != 0) {
        st = DROT_E_ARG;
        goto out;
    }

    memset(&params, 0, sizeof params);
    params.kid = pub->q;
    params.kid_len = DROT_P256_PUB_LEN;
    params.has_content_type = true;
    params.content_type = content_type;
    st = drot_cose_sign1_sign(priv, &params, payload, len, out, cap, out_len);
out:
    drot_wipe(&check_priv, sizeof check_priv);
    return st;
}

/*
 * Compares hash with every slot in constant time. *good_index = the lowest
 * present, non-revoked slot holding hash. Returns DROT_OK when there is one,
 * DROT_E_BADKEY when hash is only in present revoked slots, else DROT_E_VERIFY.
 */
static drot_status match_anchor(const uint8_t hash[DROT_SHA256_LEN], const drot_anchor_slot *slots,
                                size_t n_slots, size_t *good_index)
{
    uint32_t any_good = 0, any_revoked = 0, index = 0;

    for (size_t i = 0; i < n_slots; i++) {
        uint32_t eq = (uint32_t)(drot_ct_equal(hash, slots[i].hash, DROT_SHA256_LEN) == DROT_OK);
        uint32_t present = (uint32_t)slots[i].present;
        uint32_t revoked = (uint32_t)slots[i].revoked;
        uint32_t good = eq & present & (revoked ^ 1u);
        /* Take i only for the first good slot: later ones see any_good set. */
        uint32_t take = mask_of(good & (any_good ^ 1u));
        index = (index & ~take) | ((uint32_t)i & take);
        any_good |= good;
        any_revoked |= eq & present & revoked;
    }
    if (any_good != 0) {
        *good_index = index;
        return DROT_OK;
    }
    return any_revoked != 0 ? DROT_E_BADKEY : DROT_E_VERIFY;
}

/* Everything but the final zeroing of the view on failure. */
static drot_status verify_inner(const uint8_t *msg, size_t len, uint64_t want_content_type,
                                const drot_anchor_slot *slots, size_t n_slots, drot_cose_sign1_view *view,
                                size_t *index)
{
    uint8_t hash[DROT_SHA256_LEN];
    drot_p256_pub signer;
    drot_status st;

    st = drot_cose_sign1_decode(msg, len, view);
    if (st != DROT_OK)
        return st;
    /* The kind is signed (protected bucket); checking it first means a
     * manifest offered where an instruction is expected is refused as the
     * wrong kind, whoever signed it. */
    if (!view->has_content_type || view->content_type != want_content_type)
        return DROT_E_UNSUPPORTED;
    if (view->kid == NULL)
        return DROT_E_MALFORMED;
    /* Not DROT_E_BADKEY (invariant 2): a kid that is no point names no signer. */
    if (drot_p256_pub_import(view->kid, view->kid_len, &signer) != DROT_OK)
        return DROT_E_MALFORMED;

    st = drot_sha256(signer.q, DROT_P256_PUB_LEN, hash);
    if (st != DROT_OK)
        return st;
    st = match_anchor(hash, slots, n_slots, index);
    if (st != DROT_OK)
        return st;

    st = drot_cose_sign1_verify(view, &signer, NULL, 0);
    /* The key was imported above, so BADKEY cannot mean a bad point here;
     * whatever it means, it must not look like a revoked anchor. */
    return st == DROT_E_BADKEY ? DROT_E_VERIFY : st;
}

/* see drot/authority.h */
drot_status drot_authority_verify(const uint8_t *msg, size_t len, uint64_t want_content_type,
                                  const drot_anchor_slot *slots, size_t n_slots, drot_cose_sign1_view *view,
                                  size_t *slot_index)
{
    size_t index = 0;
    drot_status st;

    if (view == NULL)
        return DROT_E_ARG;
    if (msg == NULL || (slots == NULL && n_slots != 0) || n_slots > DROT_AUTHORITY_MAX_SLOTS) {
        memset(view, 0, sizeof *view);
        return DROT_E_ARG;
    }
    st = verify_inner(msg, len, want_content_type, slots, n_slots, view, &index);
    if (st != DROT_OK) {
        memset(view, 0, sizeof *view); /* invariant 3 */
        return st;
    }
    if (slot_index != NULL)
        *slot_index = index;
    return DROT_OK;
}
