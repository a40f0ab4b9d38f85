/*
 * fuzz_revocation.c — revocation lists (drot/revocation.h) and their link
 * payloads (drot/link_msg.h, SET_REVOCATION_LIST): what a compromised host,
 * or anyone between the server and the device, hands the APM.
 *
 * Input: one selector byte (which function, modulo the table size), then
 * the bytes. Properties:
 *   - nothing reads outside the input (ASan: the replay driver hands over an
 *     exact-size copy);
 *   - on DROT_OK, a decoded list encodes, decodes again and encodes to the
 *     same bytes (a fixed point), every entry it points to lies inside the
 *     input, and every array is sorted strictly ascending;
 *   - the verifier (under the fixture authority key) never crashes, and a
 *     list it accepts never revokes its own signer;
 *   - the request decoder's list lies inside the input, the response
 *     round-trips.
 */
#include <string.h>

#include "drot/link_msg.h"
#include "drot/revocation.h"
#include "fuzz_fixtures.h"
#include "fuzz_target.h"

static uint8_t g_enc1[DROT_REVOCATION_MAX_LEN + 64], g_enc2[DROT_REVOCATION_MAX_LEN + 64];

static void check_list(const drot_revocation_list *l, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < l->n_authorities; i++) {
        FZ_CHECK(FZ_INSIDE(l->authorities[i], 32, p, n));
        FZ_CHECK(i == 0 || drot_revocation_cmp_hash(l->authorities[i - 1], l->authorities[i]) < 0);
    }
    for (size_t i = 0; i < l->n_drks; i++) {
        FZ_CHECK(FZ_INSIDE(l->drks[i], 32, p, n));
        FZ_CHECK(i == 0 || drot_revocation_cmp_hash(l->drks[i - 1], l->drks[i]) < 0);
    }
    for (size_t i = 0; i < l->n_certs; i++) {
        FZ_CHECK(FZ_INSIDE(l->certs[i].p, l->certs[i].len, p, n));
        FZ_CHECK(i == 0 || drot_revocation_cmp_serial(l->certs[i - 1].p, l->certs[i - 1].len, l->certs[i].p,
                                                      l->certs[i].len) < 0);
    }
}

static void round_trip(const uint8_t *p, size_t n)
{
    static drot_revocation_list a, b;
    size_t n1 = 0, n2 = 0;
    if (drot_revocation_decode(p, n, &a) != DROT_OK)
        return;
    check_list(&a, p, n);
    FZ_CHECK(drot_revocation_encode(&a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
    FZ_CHECK(drot_revocation_decode(g_enc1, n1, &b) == DROT_OK);
    FZ_CHECK(drot_revocation_encode(&b, g_enc2, sizeof g_enc2, &n2) == DROT_OK);
    FZ_CHECK(n1 == n2 && memcmp(g_enc1, g_enc2, n1) == 0);
}

static void verify(const uint8_t *p, size_t n)
{
    static drot_revocation_list l;
    drot_p256_priv auth, drk, keya;
    drot_p256_pub auth_pub, drk_pub, keya_pub;
    drot_anchor_slot slot;
    uint8_t digest[32];
    fz_rotate_keys(&auth, &auth_pub, &drk, &drk_pub, &keya, &keya_pub);
    memset(&slot, 0, sizeof slot);
    slot.present = true;
    FZ_CHECK(drot_sha256(auth_pub.q, sizeof auth_pub.q, slot.hash) == DROT_OK);
    if (drot_revocation_verify(p, n, &slot, 1, &l, NULL, digest) == DROT_OK) {
        check_list(&l, p, n);
        FZ_CHECK(!drot_revocation_has_authority(&l, slot.hash));
    }
}

static void fuzz_one(unsigned which, const uint8_t *p, size_t n)
{
    switch (which) {
    case 0: round_trip(p, n); break;
    case 1: {
        const uint8_t *m = NULL;
        size_t mn = 0, n1 = 0;
        if (drot_link_revocation_req_decode(p, n, &m, &mn) != DROT_OK)
            return;
        FZ_CHECK(FZ_INSIDE(m, mn, p, n));
        FZ_CHECK(drot_link_revocation_req_encode(m, mn, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        break;
    }
    case 2: {
        static drot_link_revocation_resp a, b;
        size_t n1 = 0, n2 = 0;
        if (drot_link_revocation_resp_decode(p, n, &a) != DROT_OK)
            return;
        FZ_CHECK(drot_link_revocation_resp_encode(&a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        FZ_CHECK(drot_link_revocation_resp_decode(g_enc1, n1, &b) == DROT_OK);
        FZ_CHECK(drot_link_revocation_resp_encode(&b, g_enc2, sizeof g_enc2, &n2) == DROT_OK);
        FZ_CHECK(n1 == n2 && memcmp(g_enc1, g_enc2, n1) == 0);
        break;
    }
    default: verify(p, n); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_one(data[0] % 4u, data + 1, size - 1);
    return 0;
}
