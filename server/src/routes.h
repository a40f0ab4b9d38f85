/*
 * routes.h — the device routes of drot-server (docs/api.md):
 *
 *   POST /v1/device/challenge   no certificate   {1: device_id} → {1: challenge, 2: expires_at}
 *   POST /v1/device/enroll      no certificate   {1: device_id, 2: challenge, 3: token, 4: csr}
 *                                                → {1: cert, 2: ca_chain, 3: verdict, 4: attest_interval}
 *   POST /v1/device/attest      device cert      {1: challenge, 2: token}
 *                                                → {1: verdict, 2: [reasons], 3: next_attest_in,
 *                                                   ? 4: {1: job_id, 2: kind, 3: mode},
 *                                                   ? 5: firmware offer (routes_firmware.h),
 *                                                   8: revocation list version (0: none)}
 *   GET  /v1/device/revocations  device cert     → the signed revocation list (routes_revocation.h)
 *   POST /v1/device/rotate/begin, /v1/device/rotate/receipt   (routes_rotate.c)
 *   GET  /v1/device/firmware/{sha256}, POST /v1/device/firmware/report, and
 *        key 5 of the attest answer (routes_firmware.h)
 *
 * Invariants:
 *   R1. A challenge is consumed (ds_challenge_consume: single use, whatever
 *       the outcome) BEFORE its token is looked at, and only a challenge
 *       bound to the device the request is about is accepted.
 *   R2. The exporter passed to the verifier is the server's own exporter of
 *       the connection that carried the token (http.h H3), never a value
 *       from the client: the challenge may come from any connection, the
 *       token binds itself to the one that carries it.
 *   R3. Every token that reaches the verifier is recorded as an
 *       attestation with its verdict, reasons and evidence digest.
 *   R4. A certificate is issued only on a PASS or WARN verdict.
 *   R5. The device-row changes an attestation causes are made in the
 *       transaction that records it (ds_attestation_record_update): the
 *       tamper count of a fresh drot-profile token (verify.h V4), and,
 *       when the verdict is FAIL and the class's reference says
 *       "on_fail": "quarantine", the move to quarantined (where the state
 *       machine allows it). The FAIL must be the device's own: on the
 *       attest route it came on the device's mTLS connection; on the
 *       enroll route (no certificate, any device id) only a fresh token
 *       signed by the device counts. The response then carries the reason
 *       "action: device quarantined automatically (…)", the record's
 *       action column says "quarantined", and /metrics counts it.
 *   R6. The attest answer names the device's PENDING rotation job (key 4)
 *       only with a PASS verdict; before verifying, the route reconciles an
 *       ISSUED job from the token (routes_rotate.h), so a device that has
 *       committed its new key is verified under it.
 */
#ifndef DS_ROUTES_H
#define DS_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "keys.h"
#include "http.h"
#include "reference.h"
#include "store.h"

typedef struct ds_app {
    ds_store *store;    /* used by the event thread only */
    ds_ca *device_ca;   /* issues device certificates */
    const char *ca_pem; /* the device CA certificate (PEM), returned as ca_chain */
    const ds_reference *refs;
    size_t n_refs;
    int64_t challenge_ttl;        /* seconds */
    uint64_t attest_interval;     /* seconds */
    ds_keystore *keys;            /* key custody: the authority key signs DRoT messages (exclusive lock) */
    const char *authority;        /* the custody name of the authority key that signs ("authority") */
    const char *server_id;        /* this process, as job lease owner ("host:pid") */
    struct ds_pol_engine *policy; /* the policy engine (policy_engine.h); NULL: none */
} ds_app;

extern const ds_route ds_device_routes[];
extern const size_t ds_device_routes_count;

#endif
