/*
 * fuzz_link_fw.c — the firmware-install message decoders of the host link
 * (drot/link_fw.h): what a possibly compromised host sends the APM to stage
 * an image, and what the APM answers.
 *
 * Input: one selector byte (which decoder, modulo the table size), then the
 * payload. Properties, for every decoder (as fuzz_link.c):
 *   - it never reads outside the payload (the replay driver hands over an
 *     exact-size copy);
 *   - on DROT_OK, encoding the decoded struct succeeds, the encoding decodes
 *     again, and encoding that gives the same bytes (a fixed point);
 *   - the views it returns (FW_BEGIN's manifest, FW_CHUNK's data) lie inside
 *     the input.
 */
#include <string.h>

#include "drot/link_fw.h"
#include "fuzz_target.h"

static uint8_t g_enc1[DROT_LINK_MAX_PAYLOAD], g_enc2[DROT_LINK_MAX_PAYLOAD];

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

/* A one-value message: decode, encode the value, decode, compare. */
#define VALUE_TRIP(type, decode, encode)                                                                     \
    do {                                                                                                     \
        type a, b;                                                                                           \
        size_t n1 = 0;                                                                                       \
        if (decode(p, n, &a) != DROT_OK)                                                                     \
            return;                                                                                          \
        FZ_CHECK(encode(a, g_enc1, sizeof g_enc1, &n1) == DROT_OK);                                          \
        FZ_CHECK(decode(g_enc1, n1, &b) == DROT_OK && a == b);                                               \
    } while (0)

static void fuzz_one(unsigned which, const uint8_t *p, size_t n)
{
    switch (which) {
    case 0: {
        ROUND_TRIP(drot_link_fw_begin, drot_link_fw_begin_decode, drot_link_fw_begin_encode);
        drot_link_fw_begin v;
        FZ_CHECK(drot_link_fw_begin_decode(p, n, &v) == DROT_OK);
        FZ_CHECK(FZ_INSIDE(v.manifest, v.manifest_len, p, n));
        break;
    }
    case 1:
        ROUND_TRIP(drot_link_fw_begin_resp, drot_link_fw_begin_resp_decode, drot_link_fw_begin_resp_encode);
        break;
    case 2: {
        ROUND_TRIP(drot_link_fw_chunk, drot_link_fw_chunk_decode, drot_link_fw_chunk_encode);
        drot_link_fw_chunk v;
        FZ_CHECK(drot_link_fw_chunk_decode(p, n, &v) == DROT_OK);
        FZ_CHECK(FZ_INSIDE(v.data, v.data_len, p, n));
        break;
    }
    case 3: VALUE_TRIP(uint32_t, drot_link_fw_received_decode, drot_link_fw_received_encode); break;
    case 4: ROUND_TRIP(drot_link_fw_image, drot_link_fw_image_decode, drot_link_fw_image_encode); break;
    case 5:
        ROUND_TRIP(drot_link_fw_confirm, drot_link_fw_confirm_req_decode, drot_link_fw_confirm_req_encode);
        break;
    case 6:
        ROUND_TRIP(drot_link_fw_confirm, drot_link_fw_confirm_resp_decode, drot_link_fw_confirm_resp_encode);
        break;
    case 7: VALUE_TRIP(uint32_t, drot_link_fw_activate_decode, drot_link_fw_activate_encode); break;
    case 8: VALUE_TRIP(bool, drot_link_fw_activate_resp_decode, drot_link_fw_activate_resp_encode); break;
    default: ROUND_TRIP(drot_link_fw_status, drot_link_fw_status_decode, drot_link_fw_status_encode); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_one(data[0] % 10u, data + 1, size - 1);
    return 0;
}
