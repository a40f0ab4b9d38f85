/*
 * webhook.h — signed webhook notifications of the policy engine
 * (docs/policy.md "Webhooks"): an event is queued in the database
 * (policy_store.h, ds_wh_enqueue), then POSTed by a background worker with
 * exponential back-off until a receiver answers 2xx or max_attempts is
 * reached; every attempt is recorded.
 *
 * The request:
 *
 *   POST <url>
 *   Content-Type: application/json
 *   X-Drot-Event: device.failed | device.tamper | device.stale
 *   X-Drot-Delivery: <32 hex digits, the same in every attempt>
 *   X-Drot-Signature: t=<unix seconds>,v1=<64 hex digits>
 *
 *   {"event": "device.failed", "delivery_id": "…", "device_id": "…", "class": "sim-v1",
 *    "policy_version": 3, "reasons": ["…"], "at": 1795880100, …}
 *
 * v1 = HMAC-SHA-256(secret, t ‖ "." ‖ body), over the body's exact bytes;
 * t is the time of this attempt. A receiver recomputes it with the shared
 * secret, compares in constant time, refuses a t more than 300 s from its
 * own clock (a replayed request), and treats a repeated X-Drot-Delivery as
 * a duplicate (an answer lost on the way back is retried).
 *
 * The secret is the content of the webhook's secret_file on the server that
 * sends (16..4096 bytes; one trailing newline is not part of it), read at
 * each attempt; it is never stored in the database.
 */
#ifndef DS_WEBHOOK_H
#define DS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define DS_WH_SIG_HEADER "X-Drot-Signature"
#define DS_WH_SIG_MAX    96 /* "t=<up to 20 digits>,v1=<64 hex>" + NUL */
#define DS_WH_SECRET_MIN 16
#define DS_WH_SECRET_MAX 4096
#define DS_WH_TOLERANCE  300 /* seconds a receiver accepts between t and its clock */
#define DS_WH_TIMEOUT_MS 10000
#define DS_WH_LEASE_S    60 /* longer than an attempt can take */

/* The signature header's value for body[0..len) signed at time t. 0, or -1
 * on a bad argument or a crypto failure. */
int ds_wh_sign(const uint8_t *secret, size_t secret_len, int64_t t, const char *body, size_t len,
               char out[DS_WH_SIG_MAX]);

/* What a receiver does: 0 when header is a valid signature of body with
 * secret whose t is within tolerance seconds of now; -1 malformed header,
 * -2 t out of tolerance, -3 the MAC does not match. */
int ds_wh_verify(const uint8_t *secret, size_t secret_len, const char *header, const char *body, size_t len,
                 int64_t now, int64_t tolerance);

/* Reads a secret file into out[0..cap): 0 and *len, or -1 with a reason
 * naming the file in err. */
int ds_wh_read_secret(const char *path, uint8_t *out, size_t cap, size_t *len, char *err, size_t errlen);

/* A new delivery id: 32 random hex digits. 0, or -1 if the generator failed. */
int ds_wh_new_id(char out[33]);

/* One attempt: claims the oldest due delivery (lease owner, DS_WH_LEASE_S),
 * signs and POSTs it, and records the outcome (ds_wh_attempt_done). 1 when
 * one was attempted, 0 when none is due, -1 on a store error (message in
 * ds_store_error). timeout_ms bounds the HTTP exchange (0: DS_WH_TIMEOUT_MS).
 * The caller has called curl_global_init. */
int ds_wh_deliver_one(ds_store *s, const char *owner, long timeout_ms);

#endif /* DS_WEBHOOK_H */
