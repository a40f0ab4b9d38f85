/*
 * attest.c — the attestation request handler (DESIGN.md §4, docs/host.md).
 *
 * The host binds the server's challenge to the TLS connection that will
 * carry the evidence and asks the APM for a token over that nonce. It never
 * touches the token: the bytes go to the server exactly as the APM signed
 * them, so nothing the host could get wrong (or be made to do) can change
 * evidence without breaking the DRK signature.
 */
#include <string.h>

#include "drot/host.h"
#include "drot/link_msg.h"
#include "drot_crypto.h"

/* see drot/host.h */
dh_status dh_attest_nonce(const uint8_t challenge[32], const uint8_t exporter[32], uint8_t nonce[32])
{
    if (challenge == NULL || exporter == NULL || nonce == NULL)
        return DH_E_ARG;
    const drot_cbuf parts[2] = {{challenge, 32}, {exporter, 32}};
    drot_status ds = drot_sha256_v(parts, 2, nonce);
    if (ds != DROT_OK) {
        drot_wipe(nonce, 32);
        return (dh_status)ds;
    }
    return DH_OK;
}

/* see drot/host.h */
dh_status dh_attest(dh_driver *d, const uint8_t challenge[32], const uint8_t exporter[32], uint32_t profile,
                    uint8_t *token, size_t cap, size_t *token_len)
{
    if (d == NULL || token_len == NULL)
        return DH_E_ARG;
    *token_len = 0;
    uint8_t nonce[32];
    dh_status st = dh_attest_nonce(challenge, exporter, nonce);
    if (st != DH_OK)
        return st;
    return dh_get_token(d, nonce, sizeof nonce, profile, token, cap, token_len);
}
