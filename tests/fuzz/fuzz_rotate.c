/*
 * fuzz_rotate.c — the DRoT message decoders and verifiers (drot/rotate.h)
 * and their link payloads (drot/link_msg.h, DRoT section): what a
 * compromised host, or anyone on the way from the server, hands the APM.
 *
 * Input: one selector byte (which function, modulo the table size), then
 * the bytes. Properties:
 *   - nothing reads outside the input (ASan: the replay driver hands over an
 *     exact-size copy);
 *   - on DROT_OK, a decoder's struct encodes, decodes again, and encodes to
 *     the same bytes (a fixed point), and pointers it returns lie inside the
 *     input;
 *   - the verifiers (every kind, under the fixture keys) never crash, and a
 *     verified instruction's HPKE open under the fixture DRK either opens to
 *     the named KeyA or fails without writing the output.
 */
#include <string.h>

#include "drot/link_msg.h"
#include "drot/rotate.h"
#include "fuzz_fixtures.h"
#include "fuzz_target.h"

static uint8_t g_enc1[DROT_ROTATE_MAX_MSG + 64], g_enc2[DROT_ROTATE_MAX_MSG + 64];

#define ROUND_TRIP(type, decode, encode)                                                                     \
    do {                                                                                                     \
        static type a, b;                                                                                    \
        size_t n1 = 0, n2 = 0;                                                                               \
        if (decode(p, n, &a) != DROT_OK)                                                                     \
            return;                                                                                          \
        FZ_CHECK(encode(&a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);                                         \
        FZ_CHECK(decode(g_enc1, n1, &b) == DROT_OK);                                                         \
        FZ_CHECK(encode(&b, g_enc2, sizeof g_enc2, &n2) == DROT_OK);                                         \
        FZ_CHECK(n1 == n2 && memcmp(g_enc1, g_enc2, n1) == 0);                                               \
    } while (0)

static void verify_all(const uint8_t *p, size_t n)
{
    drot_p256_priv auth, drk, keya;
    drot_p256_pub auth_pub, drk_pub, keya_pub;
    drot_anchor_slot slot;
    fz_rotate_keys(&auth, &auth_pub, &drk, &drk_pub, &keya, &keya_pub);
    memset(&slot, 0, sizeof slot);
    slot.present = true;
    FZ_CHECK(drot_sha256(auth_pub.q, sizeof auth_pub.q, slot.hash) == DROT_OK);

    static drot_rotate_root r;
    uint8_t tbs[32];
    if (drot_rotate_root_verify(p, n, &slot, 1, &r, NULL, tbs) == DROT_OK) {
        drot_p256_priv out;
        memset(&out, 0x5A, sizeof out);
        if (drot_rotate_root_open(&r, &drk, &out) == DROT_OK) {
            drot_p256_priv check;
            drot_p256_pub q;
            FZ_CHECK(drot_p256_key_from_scalar(out.d, &check, &q) == DROT_OK);
            FZ_CHECK(memcmp(q.q, r.keya.q, sizeof q.q) == 0);
        } else {
            for (size_t i = 0; i < sizeof out.d; i++)
                FZ_CHECK(out.d[i] == 0x5A);
        }
    }
    static drot_rotate_proposal pr;
    (void)drot_rotate_endorse_verify(p, n, &slot, 1, &pr, NULL, NULL);
    (void)drot_rotate_proposal_verify(p, n, &drk_pub, &pr);
    static drot_rotate_receipt rc;
    (void)drot_rotate_receipt_verify(p, n, &keya_pub, &rc);
    static drot_anchor_instr a;
    if (drot_anchor_instr_verify(p, n, &slot, 1, &a, NULL) == DROT_OK && a.op == DROT_ANCHOR_OP_ADD)
        FZ_CHECK(FZ_INSIDE(a.consent, a.consent_len, p, n));
}

static void fuzz_one(unsigned which, const uint8_t *p, size_t n)
{
    switch (which) {
    case 0: ROUND_TRIP(drot_rotate_root, drot_rotate_root_decode, drot_rotate_root_encode); break;
    case 1: ROUND_TRIP(drot_rotate_receipt, drot_rotate_receipt_decode, drot_rotate_receipt_encode); break;
    case 2: ROUND_TRIP(drot_rotate_proposal, drot_rotate_proposal_decode, drot_rotate_proposal_encode); break;
    case 3: {
        static drot_anchor_instr a, b;
        size_t n1 = 0, n2 = 0;
        if (drot_anchor_instr_decode(p, n, &a) != DROT_OK)
            return;
        if (a.op == DROT_ANCHOR_OP_ADD)
            FZ_CHECK(FZ_INSIDE(a.consent, a.consent_len, p, n));
        FZ_CHECK(drot_anchor_instr_encode(&a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        FZ_CHECK(drot_anchor_instr_decode(g_enc1, n1, &b) == DROT_OK);
        FZ_CHECK(drot_anchor_instr_encode(&b, g_enc2, sizeof g_enc2, &n2) == DROT_OK);
        FZ_CHECK(n1 == n2 && memcmp(g_enc1, g_enc2, n1) == 0);
        break;
    }
    case 4: {
        const uint8_t *m = NULL;
        size_t mn = 0, n1 = 0;
        if (drot_link_rot_msg_decode(p, n, &m, &mn) != DROT_OK)
            return;
        FZ_CHECK(FZ_INSIDE(m, mn, p, n));
        FZ_CHECK(drot_link_rot_msg_encode(m, mn, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        break;
    }
    case 5: {
        uint8_t nonce[DROT_LINK_ROT_NONCE_LEN];
        size_t n1 = 0;
        if (drot_link_rot_nonce_decode(p, n, nonce) != DROT_OK)
            return;
        FZ_CHECK(drot_link_rot_nonce_encode(nonce, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        break;
    }
    case 6:
        ROUND_TRIP(drot_link_anchor_resp, drot_link_anchor_resp_decode, drot_link_anchor_resp_encode);
        break;
    default: verify_all(p, n); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_one(data[0] % 8u, data + 1, size - 1);
    return 0;
}
