/*
 * drot/link.h — the host <-> APM link: frames and the session over them.
 *
 * The protocol is described in docs/link.md; this header is its contract in C.
 *
 * Frame = header(10) || payload(len) || tag(16)
 *
 *   header   'D' 'L' | version 0x01 | type | seq (uint32 BE) | len (uint16 BE)
 *   payload  exactly one well-formed CBOR map, 0..DROT_LINK_MAX_PAYLOAD bytes
 *            (the empty map a0 for messages without fields)
 *   tag      the first 16 bytes of HMAC-SHA-256(k, header || payload), k the
 *            sender's direction key
 *
 * Keys (all 32 bytes, from the 32-byte link_key fused into the APM):
 *
 *   k_hello        = HKDF-SHA256(salt = "", ikm = link_key, info = "drot-link v1 hello")
 *   k_h2a || k_a2h = HKDF-SHA256(salt = host_nonce || apm_nonce, ikm = link_key,
 *                                info = "drot-link v1 keys", 64 bytes)
 *
 * Session (drot_link_session): the host sends HELLO (seq 0, tagged under
 * k_hello) carrying a fresh 32-byte nonce; the APM answers HELLO_ACK (seq 0,
 * tagged under the new k_a2h) carrying its own. From then on each direction
 * numbers its frames 1, 2, 3, … and a receiver accepts a frame only if its
 * seq is greater than the last one it accepted in that direction.
 *
 * Invariants every function here keeps:
 *
 *   1. A frame is authenticated before its payload is interpreted: lengths
 *      are checked (they say where the tag is), then the tag, in constant
 *      time, and only then the CBOR. (Exception, unavoidable: the host reads
 *      the APM nonce out of HELLO_ACK before it can derive the key that
 *      authenticates it. The strict bounded decoder reads it.)
 *   2. A call that fails changes nothing in the session: every check runs
 *      on locals and the session is written in one step at the end.
 *   3. A sender never reuses a sequence number: after seq 0xFFFFFFFF the
 *      session refuses to seal (DROT_E_STATE); a new HELLO is needed.
 *   4. Secrets (link_key copy, derived keys, the pending host nonce) live
 *      only in the session struct and in locals that are wiped on every
 *      exit; drot_link_session_wipe() clears the struct.
 *
 * No allocation, no OS header: this links into the APM firmware.
 */
#ifndef DROT_LINK_H
#define DROT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"
#include "drot_crypto.h"

/* ---- frame constants ---------------------------------------------------- */

#define DROT_LINK_MAGIC0      0x44u /* 'D' */
#define DROT_LINK_MAGIC1      0x4Cu /* 'L' */
#define DROT_LINK_VERSION     0x01u
#define DROT_LINK_HEADER_LEN  10u
#define DROT_LINK_TAG_LEN     16u
#define DROT_LINK_MAX_PAYLOAD 4096u
/* Worst-case frame: size a receive or send buffer with this. */
#define DROT_LINK_MAX_FRAME (DROT_LINK_HEADER_LEN + DROT_LINK_MAX_PAYLOAD + DROT_LINK_TAG_LEN)
#define DROT_LINK_KEY_LEN   32u
#define DROT_LINK_NONCE_LEN 32u
/* Last usable sequence number in a direction. */
#define DROT_LINK_SEQ_LAST 0xFFFFFFFFu

/* ---- message types ------------------------------------------------------ */

/* A response's type is its request's type | DROT_LINK_RESPONSE. */
#define DROT_LINK_RESPONSE 0x80u

#define DROT_LINK_T_HELLO               0x01u
#define DROT_LINK_T_GET_INFO            0x02u
#define DROT_LINK_T_GET_TOKEN           0x03u
#define DROT_LINK_T_EXTEND_MEASUREMENT  0x04u
#define DROT_LINK_T_TAMPER_LOG          0x05u
#define DROT_LINK_T_GET_ROTATION_NONCE  0x06u
#define DROT_LINK_T_ROTATE_ROOT         0x07u
#define DROT_LINK_T_ROTATE_ANCHOR       0x08u
#define DROT_LINK_T_FW_BEGIN            0x09u
#define DROT_LINK_T_FW_CHUNK            0x0Au
#define DROT_LINK_T_FW_FINISH           0x0Bu
#define DROT_LINK_T_FW_CONFIRM          0x0Cu
#define DROT_LINK_T_SET_REVOCATION_LIST 0x0Du
#define DROT_LINK_T_SEAL                0x0Eu
#define DROT_LINK_T_UNSEAL              0x0Fu
#define DROT_LINK_T_ROTATE_PROPOSE      0x10u /* device-generated rotation: the APM's proposal */
#define DROT_LINK_T_ROTATE_ENDORSE      0x11u /* device-generated rotation: the authority's endorsement */
#define DROT_LINK_T_FW_ACTIVATE         0x12u /* firmware: reboot into the staged trial, or abort it */
#define DROT_LINK_T_FW_STATUS           0x13u /* firmware: slots, trial state, fuses, pending entries */

#define DROT_LINK_T_HELLO_ACK (DROT_LINK_T_HELLO | DROT_LINK_RESPONSE) /* 0x81 */
/* ERROR answers any request (payload: drot_link_error in drot/link_msg.h). */
#define DROT_LINK_T_ERROR 0xFFu

/* The response type of a request type. */
#define DROT_LINK_RESPONSE_TO(req) ((uint8_t)((req) | DROT_LINK_RESPONSE))

/* ---- frames ------------------------------------------------------------- */

/* An opened frame. payload points into the frame given to the open call,
 * which must outlive the view. */
typedef struct drot_link_frame {
    uint8_t type;
    uint32_t seq;
    const uint8_t *payload;
    size_t payload_len;
} drot_link_frame;

/* Reads the 10-byte header at hdr[0..len): a byte-stream reader calls this
 * once it has DROT_LINK_HEADER_LEN bytes, then knows that
 * *payload_len + DROT_LINK_TAG_LEN more bytes follow. Nothing here is
 * authenticated yet. Any output pointer may be NULL.
 * DROT_E_TRUNCATED  len < DROT_LINK_HEADER_LEN
 * DROT_E_MALFORMED  wrong magic
 * DROT_E_UNSUPPORTED version other than DROT_LINK_VERSION
 * DROT_E_TOO_LARGE  len field > DROT_LINK_MAX_PAYLOAD */
drot_status drot_link_parse_header(const uint8_t *hdr, size_t len, uint8_t *type, uint32_t *seq,
                                   size_t *payload_len);

/* Builds a frame into out[0..cap): header, payload, tag under key.
 * payload MUST be exactly one well-formed CBOR map (else DROT_E_MALFORMED),
 * len ≤ DROT_LINK_MAX_PAYLOAD (else DROT_E_TOO_LARGE). payload may overlap
 * out (in particular it may already sit at out + DROT_LINK_HEADER_LEN, to
 * build in place). cap too small: DROT_E_BUFFER and *out_len = bytes needed. */
drot_status drot_link_frame_seal(const uint8_t key[DROT_LINK_KEY_LEN], uint8_t type, uint32_t seq,
                                 const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
                                 size_t *out_len);

/* Checks frame[0..len) under key, in this order, and fills *view only on
 * DROT_OK:
 *   header (drot_link_parse_header's codes);
 *   exact length: DROT_E_TRUNCATED if shorter than the header announces,
 *     DROT_E_TRAILING if longer;
 *   tag, in constant time: DROT_E_VERIFY;
 *   payload is exactly one well-formed CBOR map with nothing after it:
 *     DROT_E_MALFORMED (any payload defect, trailing CBOR bytes included).
 * No sequence rule here: that is the session's. */
drot_status drot_link_frame_open(const uint8_t key[DROT_LINK_KEY_LEN], const uint8_t *frame, size_t len,
                                 drot_link_frame *view);

/* ---- keys ----------------------------------------------------------------- */

/* k_hello. On failure out is wiped. */
drot_status drot_link_hello_key(const uint8_t link_key[DROT_LINK_KEY_LEN], uint8_t out[DROT_LINK_KEY_LEN]);

/* k_h2a and k_a2h of a session. On failure both are wiped. */
drot_status drot_link_session_keys(const uint8_t link_key[DROT_LINK_KEY_LEN],
                                   const uint8_t host_nonce[DROT_LINK_NONCE_LEN],
                                   const uint8_t apm_nonce[DROT_LINK_NONCE_LEN],
                                   uint8_t k_h2a[DROT_LINK_KEY_LEN], uint8_t k_a2h[DROT_LINK_KEY_LEN]);

/* ---- session ------------------------------------------------------------ */

typedef enum drot_link_role {
    DROT_LINK_ROLE_HOST = 0x3C,
    DROT_LINK_ROLE_APM = 0xC3,
} drot_link_role;

/* Caller-owned. Holds secrets: wipe with drot_link_session_wipe() when done.
 * Fields are public so that tests and diagnostics can read them; only the
 * functions below may change them. */
typedef struct drot_link_session {
    drot_link_role role;
    bool established;     /* HELLO / HELLO_ACK completed */
    bool hello_pending;   /* host: HELLO sent, HELLO_ACK not yet accepted */
    uint32_t last_rx_seq; /* highest seq accepted from the peer (0 after the handshake) */
    uint64_t next_tx_seq; /* seq of the next frame sent; > DROT_LINK_SEQ_LAST: exhausted */
    uint8_t link_key[DROT_LINK_KEY_LEN];
    uint8_t k_hello[DROT_LINK_KEY_LEN];
    uint8_t k_rx[DROT_LINK_KEY_LEN];         /* peer -> us (zero until established) */
    uint8_t k_tx[DROT_LINK_KEY_LEN];         /* us -> peer (zero until established) */
    uint8_t host_nonce[DROT_LINK_NONCE_LEN]; /* host: nonce of the pending HELLO */
} drot_link_session;

/* Sets up a session without keys (established = false) for the host or the
 * APM side of link_key. On failure the struct is wiped. */
drot_status drot_link_session_init_host(drot_link_session *s, const uint8_t link_key[DROT_LINK_KEY_LEN]);
drot_status drot_link_session_init_apm(drot_link_session *s, const uint8_t link_key[DROT_LINK_KEY_LEN]);

/* Opens a frame from the peer within the established session: frame_open
 * under k_rx, then
 *   seq ≤ last_rx_seq (replay, duplicate, out of order):  DROT_E_STATE;
 *   a request type arriving at the host, or a response type (type with bit
 *   0x80, ERROR included) arriving at the APM:           DROT_E_UNSUPPORTED;
 *   session not established:                             DROT_E_STATE.
 * Only on DROT_OK is last_rx_seq raised to the frame's seq; on any failure
 * the session is unchanged byte for byte. */
drot_status drot_link_session_open(drot_link_session *s, const uint8_t *frame, size_t len,
                                   drot_link_frame *view);

/* Seals payload as a frame of the given type with seq next_tx_seq under
 * k_tx, then advances next_tx_seq. DROT_E_STATE if the session is not
 * established or the sequence is exhausted (after DROT_LINK_SEQ_LAST);
 * otherwise drot_link_frame_seal's codes. Nothing changes on failure. */
drot_status drot_link_session_seal(drot_link_session *s, uint8_t type, const uint8_t *payload, size_t len,
                                   uint8_t *out, size_t cap, size_t *out_len);

/* Wipes every byte of the session (keys included). s may be NULL. */
void drot_link_session_wipe(drot_link_session *s);

/* ---- handshake ---------------------------------------------------------- */

/* Host: draws a fresh nonce from rng and builds HELLO (seq 0, under k_hello)
 * into out. On DROT_OK the session forgets any earlier keys
 * (established = false) and waits for HELLO_ACK (hello_pending = true).
 * On failure nothing changes. */
drot_status drot_link_host_hello(drot_link_session *s, const drot_rng *rng, uint8_t *out, size_t cap,
                                 size_t *out_len);

/* Host: accepts the APM's answer to the pending HELLO.
 * DROT_OK: frame is HELLO_ACK, seq 0, tagged under the k_a2h derived from
 *   both nonces; the session is established (last_rx_seq 0, next_tx_seq 1)
 *   and the pending nonce wiped.
 * DROT_E_STATE: no HELLO pending; or — with view (if not NULL) filled and
 *   view->type == DROT_LINK_T_ERROR — the APM refused the HELLO with an
 *   ERROR authenticated under k_hello (decode view->payload with
 *   drot_link_error_decode). The session is unchanged.
 * Otherwise (bad tag, wrong type or seq, malformed): the session is unchanged.
 * view may be NULL; on DROT_OK it receives the HELLO_ACK view. */
drot_status drot_link_host_accept_ack(drot_link_session *s, const uint8_t *frame, size_t len,
                                      drot_link_frame *view);

/* APM: accepts HELLO (any time: a new HELLO replaces the current session)
 * and builds HELLO_ACK into out. The frame must verify under k_hello, have
 * type HELLO and seq 0 (else DROT_E_MALFORMED after a good tag) and a valid
 * HELLO payload. The APM's nonce is drawn from rng. On DROT_OK the session is
 * established (last_rx_seq 0, next_tx_seq 1). On failure nothing changes,
 * and the APM answers with drot_link_apm_seal_hello_error(). */
drot_status drot_link_apm_accept_hello(drot_link_session *s, const drot_rng *rng, const uint8_t *frame,
                                       size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* APM: an ERROR frame (seq 0, under k_hello) for a peer that has no session
 * keys: the answer to a refused HELLO, and to any request that arrives
 * before a session exists. It proves the APM holds link_key but is not
 * fresh (see docs/link.md). Does not change the session. */
drot_status drot_link_apm_seal_hello_error(const drot_link_session *s, const uint8_t *payload, size_t len,
                                           uint8_t *out, size_t cap, size_t *out_len);

#endif /* DROT_LINK_H */
