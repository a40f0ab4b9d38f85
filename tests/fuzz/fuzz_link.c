/*
 * fuzz_link.c — the host link's message decoders (drot/link_msg.h), which
 * parse what a possibly compromised host sends the APM and what the APM
 * sends the host.
 *
 * Input: one selector byte (which decoder, modulo the table size), then the
 * payload. Properties, for every decoder:
 *   - it never reads outside the payload (ASan: the replay driver hands over
 *     an exact-size copy);
 *   - on DROT_OK, encoding the decoded struct succeeds, the encoding decodes
 *     again, and encoding that gives the same bytes (a fixed point): the
 *     decoder accepts nothing the encoder could not have produced in meaning;
 *   - pointers it returns into the input lie inside the input.
 */
#include <string.h>

#include "drot/link_msg.h"
#include "fuzz_target.h"

static uint8_t g_enc1[DROT_LINK_MAX_PAYLOAD], g_enc2[DROT_LINK_MAX_PAYLOAD];

/* enc(decoded) → dec → enc must reproduce enc1. */
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

/* Responses that return a pointer into the input. */
#define BYTES_RESP(decode, encode)                                                                           \
    do {                                                                                                     \
        const uint8_t *v = NULL;                                                                             \
        size_t vn = 0, n1 = 0;                                                                               \
        if (decode(p, n, &v, &vn) != DROT_OK)                                                                \
            return;                                                                                          \
        FZ_CHECK(FZ_INSIDE(v, vn, p, n));                                                                    \
        FZ_CHECK(encode(v, vn, g_enc1, sizeof g_enc1, &n1) == DROT_OK);                                      \
    } while (0)

static void fuzz_one(unsigned which, const uint8_t *p, size_t n)
{
    switch (which) {
    case 0: ROUND_TRIP(drot_link_info, drot_link_info_decode, drot_link_info_encode); break;
    case 1: ROUND_TRIP(drot_link_token_req, drot_link_token_req_decode, drot_link_token_req_encode); break;
    case 2:
        ROUND_TRIP(drot_link_measurement, drot_link_extend_req_decode, drot_link_extend_req_encode);
        break;
    case 3: ROUND_TRIP(drot_link_tamper_log, drot_link_tamper_log_decode, drot_link_tamper_log_encode); break;
    case 4: ROUND_TRIP(drot_link_error, drot_link_error_decode, drot_link_error_encode); break;
    case 5: {
        static drot_link_seal_req a;
        size_t n1 = 0;
        if (drot_link_seal_req_decode(p, n, &a) != DROT_OK)
            return;
        FZ_CHECK(FZ_INSIDE(a.data, a.data_len, p, n));
        FZ_CHECK(drot_link_seal_req_encode(&a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        break;
    }
    case 6: {
        static drot_link_unseal_req a;
        size_t n1 = 0;
        if (drot_link_unseal_req_decode(p, n, &a) != DROT_OK)
            return;
        FZ_CHECK(FZ_INSIDE(a.blob, a.blob_len, p, n));
        FZ_CHECK(drot_link_unseal_req_encode(&a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        break;
    }
    case 7: BYTES_RESP(drot_link_token_resp_decode, drot_link_token_resp_encode); break;
    case 8: BYTES_RESP(drot_link_blob_resp_decode, drot_link_blob_resp_encode); break;
    case 9: BYTES_RESP(drot_link_data_resp_decode, drot_link_data_resp_encode); break;
    case 10: {
        uint8_t nonce[DROT_LINK_NONCE_LEN];
        (void)drot_link_hello_decode(p, n, nonce);
        break;
    }
    default: {
        uint32_t index = 0;
        size_t n1 = 0;
        if (drot_link_extend_resp_decode(p, n, &index) != DROT_OK)
            return;
        FZ_CHECK(drot_link_extend_resp_encode(index, g_enc1, sizeof g_enc1, &n1) == DROT_OK);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_one(data[0] % 12u, data + 1, size - 1);
    return 0;
}
