/*
 * fuzz_cose.c — fuzz target for COSE_Sign1 decode and verify (drot/cose.h).
 *
 * Properties checked on every input:
 *
 *  1. drot_cose_sign1_decode is a pure function of the bytes: a second call
 *     gives the same status and the same view.
 *  2. On DROT_OK every pointer of the view lies inside [data, data + size)
 *     with its length; the signature is DROT_P256_SIG_LEN bytes inside the
 *     input; alg is ES256; tagged says whether the input starts with a tag.
 *     On any error the view is all zero bytes.
 *  3. No forgery: drot_cose_sign1_verify with the public key of fz_cose_key
 *     returns DROT_OK only for a (protected header, payload) pair that the
 *     key holder signed, namely one of the FZ_COSE_SEEDS seed messages
 *     (fuzz_fixtures.c). The signature covers only those two (and the empty
 *     external aad), so a seed whose tag, unprotected header or CBOR
 *     serialization was mutated still verifies, rightly. Anything else that
 *     verifies is a forged signature and aborts.
 *  4. The external aad is bound: a message that verifies with no aad does
 *     not verify with a one-byte aad.
 *  5. verify_msg agrees with decode + verify, and on failure leaves a zeroed view.
 *  6. Sign round trip, for every message that decodes: signing its payload
 *     again with its kid and content type gives a message that decodes to the
 *     same payload, kid and content type and verifies under the key.
 */
#include <stdbool.h>
#include <string.h>

#include "drot/cose.h"
#include "fuzz_fixtures.h"
#include "fuzz_target.h"

/* What the key holder signed: the protected bytes and payload of each seed. */
typedef struct signed_msg {
    uint8_t prot[DROT_COSE_SIGN1_MAX_PROTECTED];
    size_t prot_len;
    uint8_t payload[DROT_EAT_MAX_PAYLOAD];
    size_t payload_len;
} signed_msg;

static signed_msg g_signed[FZ_COSE_SEEDS];
static drot_p256_priv g_priv;
static drot_p256_pub g_pub;
static bool g_ready;

static void setup(void)
{
    fz_cose_key(&g_priv, &g_pub);
    for (unsigned i = 0; i < FZ_COSE_SEEDS; i++) {
        g_signed[i].prot_len = fz_cose_seed_protected(i, g_signed[i].prot, sizeof g_signed[i].prot);
        g_signed[i].payload_len = fz_cose_seed_payload(i, g_signed[i].payload, sizeof g_signed[i].payload);
    }
    g_ready = true;
}

static bool is_signed_by_us(const drot_cose_sign1_view *v)
{
    /* The Sig_structure reads an encoded empty map (h'A0') as h''. */
    size_t prot_len = (v->protected_len == 1 && v->protected_hdr[0] == 0xA0) ? 0 : v->protected_len;
    for (unsigned i = 0; i < FZ_COSE_SEEDS; i++) {
        const signed_msg *s = &g_signed[i];
        if (s->prot_len == prot_len && memcmp(s->prot, v->protected_hdr, prot_len) == 0 &&
            s->payload_len == v->payload_len &&
            (v->payload_len == 0 || memcmp(s->payload, v->payload, v->payload_len) == 0))
            return true;
    }
    return false;
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t k = 0; k < n; k++) {
        if (b[k] != 0)
            return false;
    }
    return true;
}

static void check_view(const drot_cose_sign1_view *v, const uint8_t *data, size_t size)
{
    FZ_CHECK(FZ_INSIDE(v->protected_hdr, v->protected_len, data, size));
    FZ_CHECK(FZ_INSIDE(v->payload, v->payload_len, data, size));
    FZ_CHECK(v->signature != NULL && FZ_INSIDE(v->signature, (size_t)DROT_P256_SIG_LEN, data, size));
    FZ_CHECK(FZ_INSIDE(v->kid, v->kid_len, data, size));
    FZ_CHECK(v->kid != NULL || v->kid_len == 0);
    FZ_CHECK(v->alg == DROT_COSE_ALG_ES256);
    /* Tag 18 is the one-byte head 0xD2 or a longer form of it (0xD8 0x12 …). */
    FZ_CHECK(v->tagged == ((data[0] >> 5) == 6));
    FZ_CHECK(v->has_content_type || v->content_type == 0);
}

/* Property 6. */
static void check_resign(const drot_cose_sign1_view *v)
{
    drot_cose_sign1_params p;
    drot_cose_sign1_view v2;
    size_t cap = DROT_COSE_SIGN1_SIZE_BOUND(v->payload_len, v->kid_len), len = 0;
    uint8_t *out = malloc(cap);
    drot_status st;

    FZ_CHECK(out != NULL);
    memset(&p, 0, sizeof p);
    p.kid = v->kid;
    p.kid_len = v->kid_len;
    p.has_content_type = v->has_content_type;
    p.content_type = v->content_type;
    st = drot_cose_sign1_sign(&g_priv, &p, v->payload, v->payload_len, out, cap, &len);
    if (st == DROT_E_TOO_LARGE) {
        /* Only when our longer heads push a message near the limit past it. */
        FZ_CHECK(len == 0 && v->payload_len + v->kid_len + 128u > DROT_COSE_SIGN1_MAX_MSG);
        free(out);
        return;
    }
    FZ_CHECK(st == DROT_OK && len <= cap);
    FZ_CHECK(drot_cose_sign1_decode(out, len, &v2) == DROT_OK);
    FZ_CHECK(v2.tagged && v2.payload_len == v->payload_len && v2.kid_len == v->kid_len);
    FZ_CHECK(v->payload_len == 0 || memcmp(v2.payload, v->payload, v->payload_len) == 0);
    FZ_CHECK(v->kid_len == 0 || memcmp(v2.kid, v->kid, v->kid_len) == 0);
    FZ_CHECK(v2.has_content_type == v->has_content_type && v2.content_type == v->content_type);
    FZ_CHECK(drot_cose_sign1_verify(&v2, &g_pub, NULL, 0) == DROT_OK);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drot_cose_sign1_view v, v2, vm;
    drot_status st, st2, vst;

    if (!g_ready)
        setup();

    /* Properties 1 and 2. */
    st = drot_cose_sign1_decode(data, size, &v);
    st2 = drot_cose_sign1_decode(data, size, &v2);
    FZ_CHECK(st == st2 && memcmp(&v, &v2, sizeof v) == 0);
    if (st != DROT_OK) {
        FZ_CHECK(all_zero(&v, sizeof v));
        /* A zeroed view must not verify either (its NULL signature is an ARG error). */
        FZ_CHECK(drot_cose_sign1_verify(&v, &g_pub, NULL, 0) != DROT_OK);
        FZ_CHECK(drot_cose_sign1_verify_msg(data, size, &g_pub, NULL, 0, &vm) == st);
        FZ_CHECK(all_zero(&vm, sizeof vm));
        return 0;
    }
    FZ_CHECK(size <= DROT_COSE_SIGN1_MAX_MSG);
    check_view(&v, data, size);

    /* Properties 3 and 4. */
    vst = drot_cose_sign1_verify(&v, &g_pub, NULL, 0);
    if (vst == DROT_OK) {
        FZ_CHECK(is_signed_by_us(&v)); /* else: a forged ES256 signature */
        const uint8_t aad[1] = {0};
        FZ_CHECK(drot_cose_sign1_verify(&v, &g_pub, aad, sizeof aad) == DROT_E_VERIFY);
    } else {
        FZ_CHECK(vst == DROT_E_VERIFY);
    }

    /* Property 5. */
    FZ_CHECK(drot_cose_sign1_verify_msg(data, size, &g_pub, NULL, 0, &vm) == vst);
    if (vst == DROT_OK)
        FZ_CHECK(memcmp(&vm, &v, sizeof v) == 0);
    else
        FZ_CHECK(all_zero(&vm, sizeof vm));

    /* Property 6. */
    check_resign(&v);
    return 0;
}
