/*
 * fuzz_eat.c — fuzz target for the EAT/PSA claims codec (drot/eat.h).
 *
 * Properties checked on every input:
 *
 *  1. On error the claims are all zero bytes (profile NONE): nothing of a
 *     refused payload reaches the caller.
 *  2. On DROT_OK: the profile is PSA or DROT; every byte and text pointer
 *     lies inside the input with its length; counts are within their limits;
 *     in the psa profile the drot claims are zero.
 *  3. Round trip: drot_eat_encode of the decoded claims succeeds (measuring
 *     first: the size it asks for is the size it writes, and one byte less
 *     is DROT_E_BUFFER); the encoding is no longer than the input (shortest
 *     heads, same content); decoding it succeeds with the same claims, field
 *     by field (profile, nonce, counts, every string and number); and
 *     encoding those again gives the same bytes (deterministic encoding is a
 *     fixed point).
 */
#include <stdbool.h>
#include <string.h>

#include "drot/eat.h"
#include "fuzz_target.h"

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t k = 0; k < n; k++) {
        if (b[k] != 0)
            return false;
    }
    return true;
}

static bool bytes_eq(const drot_eat_bytes *a, const drot_eat_bytes *b)
{
    if ((a->p == NULL) != (b->p == NULL) || a->len != b->len)
        return false;
    return a->len == 0 || memcmp(a->p, b->p, a->len) == 0;
}

static bool text_eq(const drot_eat_text *a, const drot_eat_text *b)
{
    if ((a->p == NULL) != (b->p == NULL) || a->len != b->len)
        return false;
    return a->len == 0 || memcmp(a->p, b->p, a->len) == 0;
}

#define INSIDE_B(b) FZ_INSIDE((b).p, (b).len, data, size)

static void check_inside(const drot_eat_claims *c, const uint8_t *data, size_t size)
{
    FZ_CHECK(INSIDE_B(c->nonce) && c->nonce.p != NULL);
    FZ_CHECK(INSIDE_B(c->instance_id) && c->instance_id.p != NULL);
    FZ_CHECK(INSIDE_B(c->implementation_id) && c->implementation_id.p != NULL);
    FZ_CHECK(INSIDE_B(c->boot_seed));
    FZ_CHECK(INSIDE_B(c->certification_reference));
    FZ_CHECK(INSIDE_B(c->verification_service));
    FZ_CHECK(c->num_components >= 1 && c->num_components <= DROT_EAT_MAX_COMPONENTS);
    for (size_t k = 0; k < c->num_components; k++) {
        const drot_eat_sw_component *sc = &c->components[k];
        FZ_CHECK(INSIDE_B(sc->measurement_type) && INSIDE_B(sc->version) && INSIDE_B(sc->measurement_desc));
        FZ_CHECK(INSIDE_B(sc->measurement_value) && sc->measurement_value.p != NULL);
        FZ_CHECK(INSIDE_B(sc->signer_id) && sc->signer_id.p != NULL);
    }
    /* Components past the count are untouched zeroes. */
    FZ_CHECK(all_zero(&c->components[c->num_components],
                      (DROT_EAT_MAX_COMPONENTS - c->num_components) * sizeof c->components[0]));
    if (c->profile == DROT_EAT_PROFILE_PSA) {
        FZ_CHECK(all_zero(&c->drot, sizeof c->drot));
    } else {
        FZ_CHECK(c->profile == DROT_EAT_PROFILE_DROT);
        FZ_CHECK(INSIDE_B(c->drot.device_id) && c->drot.device_id.len == DROT_EAT_DEVICE_ID_LEN);
        FZ_CHECK(c->drot.num_svns <= DROT_EAT_MAX_COMPONENTS);
        for (size_t k = 0; k < c->drot.num_svns; k++) {
            FZ_CHECK(c->drot.svns[k].component < c->num_components);
            FZ_CHECK(k == 0 || c->drot.svns[k - 1].component < c->drot.svns[k].component);
        }
    }
}

static bool claims_eq(const drot_eat_claims *a, const drot_eat_claims *b)
{
    if (a->profile != b->profile || !bytes_eq(&a->nonce, &b->nonce) ||
        !bytes_eq(&a->instance_id, &b->instance_id) ||
        !bytes_eq(&a->implementation_id, &b->implementation_id) || a->client_id != b->client_id ||
        a->security_lifecycle != b->security_lifecycle || !bytes_eq(&a->boot_seed, &b->boot_seed) ||
        !text_eq(&a->certification_reference, &b->certification_reference) ||
        !text_eq(&a->verification_service, &b->verification_service) ||
        a->num_components != b->num_components)
        return false;
    for (size_t k = 0; k < a->num_components; k++) {
        const drot_eat_sw_component *x = &a->components[k], *y = &b->components[k];
        if (!text_eq(&x->measurement_type, &y->measurement_type) ||
            !bytes_eq(&x->measurement_value, &y->measurement_value) || !text_eq(&x->version, &y->version) ||
            !bytes_eq(&x->signer_id, &y->signer_id) || !text_eq(&x->measurement_desc, &y->measurement_desc))
            return false;
    }
    const drot_eat_drot_claims *x = &a->drot, *y = &b->drot;
    if (!bytes_eq(&x->device_id, &y->device_id) || x->epoch != y->epoch || x->num_svns != y->num_svns ||
        x->tamper_state != y->tamper_state || x->tamper_count != y->tamper_count)
        return false;
    for (size_t k = 0; k < x->num_svns; k++) {
        if (x->svns[k].component != y->svns[k].component || x->svns[k].svn != y->svns[k].svn)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t enc[DROT_EAT_MAX_PAYLOAD], enc2[DROT_EAT_MAX_PAYLOAD];
    drot_eat_claims c, c2;
    size_t need = 0, len = 0, len2 = 0;
    drot_status st;

    /* Property 1. */
    st = drot_eat_decode(data, size, &c);
    if (st != DROT_OK) {
        FZ_CHECK(all_zero(&c, sizeof c));
        return 0;
    }
    /* Property 2. */
    FZ_CHECK(size <= DROT_EAT_MAX_PAYLOAD);
    check_inside(&c, data, size);

    /* Property 3. */
    FZ_CHECK(drot_eat_encode(&c, NULL, 0, &need) == DROT_E_BUFFER);
    FZ_CHECK(need >= 1 && need <= size && need <= sizeof enc);
    len = 1;
    FZ_CHECK(drot_eat_encode(&c, enc, need - 1, &len) == DROT_E_BUFFER && len == need);
    FZ_CHECK(drot_eat_encode(&c, enc, sizeof enc, &len) == DROT_OK && len == need);

    FZ_CHECK(drot_eat_decode(enc, len, &c2) == DROT_OK);
    FZ_CHECK(c2.profile == c.profile && c2.nonce.len == c.nonce.len);
    FZ_CHECK(memcmp(c2.nonce.p, c.nonce.p, c.nonce.len) == 0);
    FZ_CHECK(c2.num_components == c.num_components && c2.drot.num_svns == c.drot.num_svns);
    FZ_CHECK(claims_eq(&c, &c2));
    check_inside(&c2, enc, len);

    FZ_CHECK(drot_eat_encode(&c2, enc2, sizeof enc2, &len2) == DROT_OK);
    FZ_CHECK(len2 == len && memcmp(enc, enc2, len) == 0);
    return 0;
}
