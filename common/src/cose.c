/*
 * cose.c — COSE_Sign1 with ES256 (see drot/cose.h for the contract).
 *
 * Decoding runs in two passes over the message, so that the status says what
 * is wrong with the message as a whole before what is wrong inside it:
 *
 *   1. structure: optional tag 18, a 4-element array, item types, nothing
 *      after the array. The unprotected map is only skipped
 *      here (which also proves it complete and not too deep).
 *   2. headers: the protected map (from inside its bstr), then the
 *      unprotected map; each label is checked against the earlier labels of
 *      its bucket and, in the unprotected map, against the protected ones;
 *      last the signature length, which only means something once alg is
 *      known to be ES256.
 *
 * Invariants:
 *   - every pointer stored in a view lies inside the message (the CBOR reader
 *     guarantees it for strings; we store nothing else);
 *   - a failed decode leaves a zeroed view, whose NULL signature makes
 *     drot_cose_sign1_verify refuse it with DROT_E_ARG;
 *   - the Sig_structure is never materialised: its CBOR heads go through a
 *     small stack buffer into the streaming SHA-256, the byte strings go in
 *     place. Signing and verifying share that one function, so they cannot
 *     disagree on the bytes they sign.
 */
#include "drot/cose.h"

#include <string.h>

#include "drot/cbor.h"

/* Largest CBOR head: one initial byte and an 8-byte argument. */
#define HEAD_MAX 9

/* A header label: an integer (text == NULL) or a text string. */
typedef struct cose_label {
    int64_t num;
    const char *text;
    size_t text_len;
} cose_label;

/* The labels of one header bucket, kept for the duplicate checks. */
typedef struct cose_bucket {
    cose_label labels[DROT_COSE_MAX_LABELS];
    size_t count;
} cose_bucket;

/* ---- Sig_structure digest (shared by sign and verify) ------------------- */

/* Feeds a CBOR bstr (head, then content) into the hash. */
static drot_status hash_bstr(drot_sha256_ctx *ctx, const uint8_t *p, size_t n)
{
    uint8_t head[HEAD_MAX];
    drot_cbor_writer w;
    size_t head_len;
    drot_status st;

    drot_cbor_writer_init(&w, head, sizeof head);
    drot_cbor_put_bstr_header(&w, n);
    st = drot_cbor_writer_finish(&w, &head_len);
    if (st != DROT_OK)
        return st;
    st = drot_sha256_update(ctx, head, head_len);
    if (st != DROT_OK || n == 0)
        return st;
    return drot_sha256_update(ctx, p, n);
}

/* SHA-256 of ["Signature1", prot, aad, payload] (RFC 9052 §4.4). */
static drot_status sig_structure_digest(const uint8_t *prot, size_t prot_len, const uint8_t *aad,
                                        size_t aad_len, const uint8_t *payload, size_t payload_len,
                                        uint8_t digest[DROT_SHA256_LEN])
{
    /* array(4) + tstr "Signature1": 1 + 11 bytes. */
    uint8_t head[16];
    drot_sha256_ctx ctx;
    drot_cbor_writer w;
    size_t head_len;
    drot_status st;

    /* RFC 9052 §4.4: an empty protected bucket enters as a zero-length bstr;
     * a sender that encoded it as an empty map (h'A0') still means "empty". */
    if (prot_len == 1 && prot[0] == 0xA0)
        prot_len = 0;

    st = drot_sha256_init(&ctx);
    if (st != DROT_OK)
        goto out;
    drot_cbor_writer_init(&w, head, sizeof head);
    drot_cbor_put_array(&w, 4);
    drot_cbor_put_tstr_z(&w, "Signature1");
    st = drot_cbor_writer_finish(&w, &head_len);
    if (st != DROT_OK)
        goto out;
    st = drot_sha256_update(&ctx, head, head_len);
    if (st != DROT_OK)
        goto out;
    st = hash_bstr(&ctx, prot, prot_len);
    if (st != DROT_OK)
        goto out;
    st = hash_bstr(&ctx, aad, aad_len);
    if (st != DROT_OK)
        goto out;
    st = hash_bstr(&ctx, payload, payload_len);
    if (st != DROT_OK)
        goto out;
    st = drot_sha256_final(&ctx, digest);
out:
    /* Safe after final too; frees backend state on every error path. */
    drot_sha256_release(&ctx);
    return st;
}

/* ---- signing -------------------------------------------------------------- */

/* {1: -7} or {1: -7, 3: ct}: the order of the COSE WG examples. */
static drot_status encode_protected(const drot_cose_sign1_params *params, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    bool has_ct = params != NULL && params->has_content_type;
    drot_cbor_writer w;

    drot_cbor_writer_init(&w, buf, cap);
    drot_cbor_put_map(&w, has_ct ? 2 : 1);
    drot_cbor_put_int(&w, DROT_COSE_HDR_ALG);
    drot_cbor_put_int(&w, DROT_COSE_ALG_ES256);
    if (has_ct) {
        drot_cbor_put_int(&w, DROT_COSE_HDR_CONTENT_TYPE);
        drot_cbor_put_uint(&w, params->content_type);
    }
    return drot_cbor_writer_finish(&w, len);
}

/* see drot/cose.h */
drot_status drot_cose_sign1_sign(const drot_p256_priv *priv, const drot_cose_sign1_params *params,
                                 const uint8_t *payload, size_t payload_len, uint8_t *out, size_t cap,
                                 size_t *out_len)
{
    uint8_t prot[DROT_COSE_SIGN1_MAX_PROTECTED];
    uint8_t digest[DROT_SHA256_LEN];
    uint8_t sig[DROT_P256_SIG_LEN];
    const uint8_t *kid = NULL, *aad = NULL;
    size_t kid_len = 0, aad_len = 0, prot_len = 0, head_len = 0, needed;
    drot_cbor_writer w;
    drot_status st;

    drot_cbor_writer_init(&w, NULL, 0); /* w.len == 0 for the cleanup below */
    if (out_len != NULL)
        *out_len = 0;
    if (priv == NULL || out_len == NULL || (payload == NULL && payload_len != 0) || (out == NULL && cap != 0))
        return DROT_E_ARG;
    if (params != NULL) {
        kid = params->kid;
        kid_len = params->kid_len;
        aad = params->external_aad;
        aad_len = params->external_aad_len;
        if ((kid == NULL && kid_len != 0) || (aad == NULL && aad_len != 0))
            return DROT_E_ARG;
    }
    /* Checked first so that no size arithmetic below can wrap. */
    if (payload_len > DROT_COSE_SIGN1_MAX_MSG || kid_len > DROT_COSE_SIGN1_MAX_MSG)
        return DROT_E_TOO_LARGE;

    st = encode_protected(params, prot, sizeof prot, &prot_len);
    if (st != DROT_OK)
        goto out;

    /* Everything but the signature bytes; the writer counts past cap, so
     * this also measures when out is too small. */
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_tag(&w, DROT_COSE_SIGN1_TAG);
    drot_cbor_put_array(&w, 4);
    drot_cbor_put_bstr(&w, prot, prot_len);
    drot_cbor_put_map(&w, kid_len != 0 ? 1 : 0);
    if (kid_len != 0) {
        drot_cbor_put_int(&w, DROT_COSE_HDR_KID);
        drot_cbor_put_bstr(&w, kid, kid_len);
    }
    drot_cbor_put_bstr(&w, payload, payload_len);
    drot_cbor_put_bstr_header(&w, DROT_P256_SIG_LEN);
    st = drot_cbor_writer_finish(&w, &head_len);
    if (st != DROT_OK && st != DROT_E_BUFFER)
        goto out;
    needed = head_len + DROT_P256_SIG_LEN;
    /* Never produce what our own verifier would refuse. */
    if (needed > DROT_COSE_SIGN1_MAX_MSG) {
        st = DROT_E_TOO_LARGE;
        goto out;
    }
    if (st == DROT_E_BUFFER || needed > cap) {
        *out_len = needed;
        st = DROT_E_BUFFER;
        goto out;
    }

    st = sig_structure_digest(prot, prot_len, aad, aad_len, payload, payload_len, digest);
    if (st != DROT_OK)
        goto out;
    st = drot_ecdsa_p256_sign(priv, digest, sig);
    if (st != DROT_OK)
        goto out;
    drot_cbor_put_raw(&w, sig, sizeof sig);
    st = drot_cbor_writer_finish(&w, out_len);
out:
    if (st != DROT_OK && st != DROT_E_BUFFER)
        *out_len = 0;
    if (st != DROT_OK && out != NULL)
        /* Half a message must not be mistaken for a signed one. */
        memset(out, 0, cap < w.len ? cap : w.len);
    return st;
}

/* ---- decoding: headers ---------------------------------------------------- */

static bool label_equal(const cose_label *a, const cose_label *b)
{
    if (a->text == NULL || b->text == NULL)
        return a->text == NULL && b->text == NULL && a->num == b->num;
    return a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
}

static drot_status read_label(drot_cbor_reader *r, cose_label *l)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);

    if (st != DROT_OK)
        return st;
    l->num = 0;
    l->text = NULL;
    l->text_len = 0;
    if (t == DROT_CBOR_TSTR)
        return drot_cbor_get_tstr(r, &l->text, &l->text_len);
    if (t != DROT_CBOR_UINT && t != DROT_CBOR_NEGINT)
        return DROT_E_MALFORMED; /* RFC 9052 §3: label = int / tstr */
    st = drot_cbor_get_int(r, &l->num);
    /* A valid CBOR int outside int64_t names no header we know or could store. */
    return st == DROT_E_TOO_LARGE ? DROT_E_UNSUPPORTED : st;
}

/* alg: only the integer -7. A text alg is legal COSE but names nothing we implement. */
static drot_status read_alg(drot_cbor_reader *r, drot_cose_sign1_view *view, bool *has_alg)
{
    drot_cbor_type t;
    int64_t alg;
    drot_status st = drot_cbor_peek(r, &t);

    if (st != DROT_OK)
        return st;
    if (t == DROT_CBOR_TSTR)
        return DROT_E_UNSUPPORTED;
    if (t != DROT_CBOR_UINT && t != DROT_CBOR_NEGINT)
        return DROT_E_MALFORMED;
    st = drot_cbor_get_int(r, &alg);
    if (st == DROT_E_TOO_LARGE || (st == DROT_OK && alg != DROT_COSE_ALG_ES256))
        return DROT_E_UNSUPPORTED;
    if (st != DROT_OK)
        return st;
    view->alg = alg;
    *has_alg = true;
    return DROT_OK;
}

static drot_status read_content_type(drot_cbor_reader *r, drot_cose_sign1_view *view)
{
    drot_cbor_type t;
    drot_status st = drot_cbor_peek(r, &t);

    if (st != DROT_OK)
        return st;
    if (t == DROT_CBOR_TSTR)
        return DROT_E_UNSUPPORTED;
    st = drot_cbor_get_uint(r, &view->content_type);
    if (st == DROT_OK)
        view->has_content_type = true;
    return st;
}

/* Consumes the value of label l. Label-in-both is excluded later, so each
 * known field is set at most once per message. */
static drot_status read_value(drot_cbor_reader *r, const cose_label *l, drot_cose_sign1_view *view,
                              bool *has_alg)
{
    if (l->text != NULL)
        return drot_cbor_skip(r);
    switch (l->num) {
    case DROT_COSE_HDR_ALG: return read_alg(r, view, has_alg);
    /* We understand no critical extension, so a message that lists any,
     * however well-formed, must be refused (RFC 9052 §3.1). */
    case DROT_COSE_HDR_CRIT: return DROT_E_UNSUPPORTED;
    case DROT_COSE_HDR_CONTENT_TYPE: return read_content_type(r, view);
    case DROT_COSE_HDR_KID: return drot_cbor_get_bstr(r, &view->kid, &view->kid_len);
    default: return drot_cbor_skip(r); /* unknown, non-critical: ignored */
    }
}

/* Parses one bucket, a CBOR map filling p[0..len) exactly. A label is
 * checked against the earlier labels of b and against every label of other
 * (the bucket parsed before; RFC 9052 §3: a label MUST NOT occur in both)
 * before its value is looked at, so a repeated alg is reported as the
 * duplicate it is whatever its value. */
static drot_status parse_bucket(const uint8_t *p, size_t len, const cose_bucket *other, cose_bucket *b,
                                drot_cose_sign1_view *view, bool *has_alg)
{
    drot_cbor_reader r;
    size_t n;
    drot_status st;

    b->count = 0;
    drot_cbor_reader_init(&r, p, len);
    st = drot_cbor_get_map(&r, &n);
    if (st != DROT_OK)
        return st;
    if (n > DROT_COSE_MAX_LABELS)
        return DROT_E_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        cose_label *l = &b->labels[i];
        st = read_label(&r, l);
        if (st != DROT_OK)
            return st;
        for (size_t j = 0; j < i; j++) {
            if (label_equal(&b->labels[j], l))
                return DROT_E_DUPLICATE;
        }
        for (size_t j = 0; other != NULL && j < other->count; j++) {
            if (label_equal(&other->labels[j], l))
                return DROT_E_DUPLICATE;
        }
        b->count = i + 1;
        st = read_value(&r, l, view, has_alg);
        if (st != DROT_OK)
            return st;
    }
    return drot_cbor_reader_done(&r);
}

/* The protected bucket: empty, or exactly one map inside the bstr. */
static drot_status parse_protected(const uint8_t *p, size_t len, cose_bucket *b, drot_cose_sign1_view *view,
                                   bool *has_alg)
{
    drot_status st;

    b->count = 0;
    if (len == 0)
        return DROT_OK;
    st = parse_bucket(p, len, NULL, b, view, has_alg);
    /* The message itself is complete (pass 1); an inner item that runs past
     * or stops short of the bstr is a malformed header, not a cut message. */
    if (st == DROT_E_TRUNCATED || st == DROT_E_TRAILING)
        st = DROT_E_MALFORMED;
    return st;
}

/* ---- decoding: structure -------------------------------------------------- */

/* Pass 1. Leaves the unprotected map's bytes in [*unprot, *unprot + *unprot_len)
 * and the signature's length in *sig_len (checked once alg is known). */
static drot_status parse_structure(const uint8_t *msg, size_t len, drot_cose_sign1_view *view,
                                   const uint8_t **unprot, size_t *unprot_len, size_t *sig_len)
{
    drot_cbor_reader r;
    drot_cbor_type t;
    uint64_t tag;
    size_t n, start;
    drot_status st;

    drot_cbor_reader_init(&r, msg, len);
    st = drot_cbor_peek(&r, &t);
    if (st != DROT_OK)
        return st;
    if (t == DROT_CBOR_TAG) {
        st = drot_cbor_get_tag(&r, &tag);
        if (st != DROT_OK)
            return st;
        if (tag != DROT_COSE_SIGN1_TAG)
            return DROT_E_MALFORMED;
        view->tagged = true;
    }
    st = drot_cbor_get_array(&r, &n);
    if (st != DROT_OK)
        return st;
    if (n != 4)
        return DROT_E_MALFORMED;
    st = drot_cbor_get_bstr(&r, &view->protected_hdr, &view->protected_len);
    if (st != DROT_OK)
        return st;

    st = drot_cbor_peek(&r, &t);
    if (st != DROT_OK)
        return st;
    if (t != DROT_CBOR_MAP)
        return DROT_E_MALFORMED;
    start = r.off;
    st = drot_cbor_skip(&r);
    if (st != DROT_OK)
        return st;
    *unprot = msg + start;
    *unprot_len = r.off - start;

    st = drot_cbor_peek(&r, &t);
    if (st != DROT_OK)
        return st;
    if (t == DROT_CBOR_SIMPLE && drot_cbor_get_null(&r) == DROT_OK)
        return DROT_E_UNSUPPORTED; /* detached payload: not part of our profile */
    st = drot_cbor_get_bstr(&r, &view->payload, &view->payload_len);
    if (st != DROT_OK)
        return st;
    st = drot_cbor_get_bstr(&r, &view->signature, sig_len);
    if (st != DROT_OK)
        return st;
    return drot_cbor_reader_done(&r);
}

/* see drot/cose.h */
drot_status drot_cose_sign1_decode(const uint8_t *msg, size_t len, drot_cose_sign1_view *view)
{
    cose_bucket prot, unprot;
    const uint8_t *unprot_p = NULL;
    size_t unprot_len = 0, sig_len = 0;
    bool has_alg = false;
    drot_status st;

    if (view == NULL)
        return DROT_E_ARG;
    memset(view, 0, sizeof *view);
    if (msg == NULL && len != 0)
        return DROT_E_ARG;
    if (len > DROT_COSE_SIGN1_MAX_MSG)
        return DROT_E_TOO_LARGE;

    st = parse_structure(msg, len, view, &unprot_p, &unprot_len, &sig_len);
    if (st != DROT_OK)
        goto out;
    st = parse_protected(view->protected_hdr, view->protected_len, &prot, view, &has_alg);
    if (st != DROT_OK)
        goto out;
    st = parse_bucket(unprot_p, unprot_len, &prot, &unprot, view, &has_alg);
    if (st != DROT_OK)
        goto out;
    /* No implicit algorithm: the key alone must never decide how to verify. */
    if (!has_alg) {
        st = DROT_E_UNSUPPORTED;
        goto out;
    }
    /* Checked after alg, so that an ES384 message is reported as the
     * unsupported algorithm it is rather than as a bad ES256 signature. */
    if (sig_len != DROT_P256_SIG_LEN)
        st = DROT_E_MALFORMED; /* ES256: r || s, 32 bytes each */
    else
        view->signature_len = sig_len;
out:
    if (st != DROT_OK)
        memset(view, 0, sizeof *view);
    return st;
}

/* ---- verification --------------------------------------------------------- */

/* see drot/cose.h */
drot_status drot_cose_sign1_verify(const drot_cose_sign1_view *view, const drot_p256_pub *pub,
                                   const uint8_t *external_aad, size_t aad_len)
{
    uint8_t digest[DROT_SHA256_LEN];
    drot_status st;

    if (view == NULL || pub == NULL || (external_aad == NULL && aad_len != 0))
        return DROT_E_ARG;
    if (view->signature == NULL || (view->protected_hdr == NULL && view->protected_len != 0) ||
        (view->payload == NULL && view->payload_len != 0))
        return DROT_E_ARG;
    if (view->alg != DROT_COSE_ALG_ES256)
        return DROT_E_UNSUPPORTED;
    st = drot_cose_sign1_tbs_digest(view, external_aad, aad_len, digest);
    if (st != DROT_OK)
        return st;
    /* The view's own length, not an assumed 64: a view built by hand with a
     * shorter signature is refused instead of read past its end. */
    return drot_ecdsa_p256_verify(pub, digest, view->signature, view->signature_len);
}

/* see drot/cose.h */
drot_status drot_cose_sign1_tbs_digest(const drot_cose_sign1_view *view, const uint8_t *external_aad,
                                       size_t aad_len, uint8_t digest[DROT_SHA256_LEN])
{
    if (view == NULL || digest == NULL || (external_aad == NULL && aad_len != 0) ||
        (view->protected_hdr == NULL && view->protected_len != 0) ||
        (view->payload == NULL && view->payload_len != 0))
        return DROT_E_ARG;
    return sig_structure_digest(view->protected_hdr, view->protected_len, external_aad, aad_len,
                                view->payload, view->payload_len, digest);
}

/* see drot/cose.h */
drot_status drot_cose_sign1_verify_msg(const uint8_t *msg, size_t len, const drot_p256_pub *pub,
                                       const uint8_t *external_aad, size_t aad_len,
                                       drot_cose_sign1_view *view)
{
    drot_cose_sign1_view v;
    drot_status st = drot_cose_sign1_decode(msg, len, &v);

    if (st == DROT_OK)
        st = drot_cose_sign1_verify(&v, pub, external_aad, aad_len);
    if (view != NULL) {
        if (st == DROT_OK)
            *view = v;
        else
            memset(view, 0, sizeof *view);
    }
    return st;
}
