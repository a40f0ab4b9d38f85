/*
 * drot/link_msg.h — payloads of the host <-> APM link (docs/link.md).
 *
 * Every payload is one CBOR map with small unsigned keys. The decoders are
 * strict: the key set is closed, every field listed is mandatory, sizes are
 * exact or bounded, and nothing may follow the map. A decoder returns:
 *
 *   DROT_OK               the whole input was one valid message; *m is filled
 *   DROT_E_MALFORMED      not well-formed CBOR, or the top level is not a map
 *   DROT_E_TRUNCATED      the input ends inside an item
 *   DROT_E_TRAILING       bytes after the map
 *   DROT_E_UNSUPPORTED    indefinite-length items
 *   DROT_E_UNKNOWN_CLAIM  a key outside the message's set (or a key that is
 *                         not an unsigned integer)
 *   DROT_E_DUPLICATE      a key twice (also a component twice in GET_INFO svns)
 *   DROT_E_CLAIM_MISSING  a field of the message is absent
 *   DROT_E_CLAIM_INVALID  a field (or an element inside a field) has the
 *                         wrong CBOR type, the wrong size, a string longer than
 *                         its bound or not UTF-8, or a value out of range
 *   DROT_E_TOO_LARGE      an array or map with more elements than its limit
 *
 * On failure *m holds no meaningful data (it may be partly written).
 *
 * Storage: small strings are copied into fixed arrays in the structs (the
 * struct owns them); the large byte strings (GET_TOKEN's token, SEAL's data,
 * UNSEAL's blob, and the two sealing responses) are a pointer and length
 * into the decoded input (zero copy, up to 3 KiB), which must outlive
 * their use.
 *
 * Encoders take the same structs, check the same bounds (DROT_E_ARG for a
 * struct that would not decode) and write (out, cap, *out_len): too small is
 * DROT_E_BUFFER with *out_len = bytes needed. They write keys in ascending
 * order, shortest-form heads (deterministic encoding).
 *
 * The frame layer (drot/link.h) authenticates a payload before any of these
 * run; they are strict anyway because the APM must not trust its host.
 */
#ifndef DROT_LINK_MSG_H
#define DROT_LINK_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/link.h"
#include "drot/revocation.h"
#include "drot/status.h"

#define DROT_LINK_MAX_ERROR_MSG    128u  /* ERROR message tstr */
#define DROT_LINK_MAX_TEXT         32u   /* measurement type and version, APM version */
#define DROT_LINK_MAX_SVNS         8u    /* GET_INFO svns map */
#define DROT_LINK_MAX_MEASUREMENTS 8u    /* GET_INFO measurements array */
#define DROT_LINK_MAX_TAMPER       16u   /* TAMPER_LOG events array */
#define DROT_LINK_MAX_TOKEN        3072u /* GET_TOKEN token bstr */
#define DROT_LINK_DEVICE_ID_LEN    16u
#define DROT_LINK_INSTANCE_ID_LEN  33u /* 0x01 || SHA-256(DRK public key) */
#define DROT_LINK_DIGEST_LEN       32u
#define DROT_LINK_TOKEN_NONCE_MAX  64u   /* GET_TOKEN nonce: 32, 48 or 64 bytes */
#define DROT_LINK_SEAL_MAX_LABEL   64u   /* SEAL / UNSEAL label: 1..64 bytes of [A-Za-z0-9._-] */
#define DROT_LINK_SEAL_MAX_DATA    2048u /* SEAL data, UNSEAL response data: 0..2048 bytes */
#define DROT_LINK_SEAL_MIN_BLOB    32u   /* a sealed blob: 32 + data bytes (docs/apm-boot.md) */
#define DROT_LINK_SEAL_MAX_BLOB    2080u

/* GET_TOKEN profiles. */
#define DROT_LINK_PROFILE_PSA  1u
#define DROT_LINK_PROFILE_DROT 2u

/* ---- HELLO / HELLO_ACK: {1: nonce bstr(32)} ------------------------------- */

drot_status drot_link_hello_encode(const uint8_t nonce[DROT_LINK_NONCE_LEN], uint8_t *out, size_t cap,
                                   size_t *out_len);
drot_status drot_link_hello_decode(const uint8_t *p, size_t len, uint8_t nonce[DROT_LINK_NONCE_LEN]);

/* ---- empty requests (GET_INFO, TAMPER_LOG): {} ---------------------------- */

drot_status drot_link_empty_encode(uint8_t *out, size_t cap, size_t *out_len);
/* DROT_OK iff p[0..len) is exactly the empty map a0. */
drot_status drot_link_empty_decode(const uint8_t *p, size_t len);

/* ---- ERROR: {1: code int, 2: message tstr ≤ 128} ------------------------- */

typedef struct drot_link_error {
    int32_t code; /* a drot_status or an APM status; int32 range */
    size_t message_len;
    char message[DROT_LINK_MAX_ERROR_MSG]; /* not NUL-terminated */
} drot_link_error;

drot_status drot_link_error_encode(const drot_link_error *m, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_error_decode(const uint8_t *p, size_t len, drot_link_error *m);

/* ---- a measurement: {1: type tstr≤32, 2: version tstr≤32, 3: digest bstr32,
 *      4: signer bstr32} (EXTEND_MEASUREMENT request, GET_INFO element) ---- */

typedef struct drot_link_measurement {
    size_t type_len;
    char type[DROT_LINK_MAX_TEXT]; /* "APM", "HOST-BL", … */
    size_t version_len;
    char version[DROT_LINK_MAX_TEXT];
    uint8_t digest[DROT_LINK_DIGEST_LEN]; /* SHA-256 of the component */
    uint8_t signer[DROT_LINK_DIGEST_LEN]; /* SHA-256 of the signing anchor key */
} drot_link_measurement;

drot_status drot_link_extend_req_encode(const drot_link_measurement *m, uint8_t *out, size_t cap,
                                        size_t *out_len);
drot_status drot_link_extend_req_decode(const uint8_t *p, size_t len, drot_link_measurement *m);

/* EXTEND_MEASUREMENT response: {1: index uint} (index < 2^32). */
drot_status drot_link_extend_resp_encode(uint32_t index, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_extend_resp_decode(const uint8_t *p, size_t len, uint32_t *index);

/* ---- GET_INFO response ---------------------------------------------------- */

typedef struct drot_link_svn {
    uint32_t component;
    uint64_t svn;
} drot_link_svn;

/* {1: device_id bstr16, 2: epoch uint, 3: lifecycle uint, 4: instance_id
 *  bstr33, 5: drk_pub bstr65, 6: svns {uint→uint} (≤ 8, components < 2^32,
 *  no component twice), 7: tamper_state uint, 8: tamper_count uint,
 *  9: boot_status int (int32), 10: apm_version tstr ≤ 32,
 *  11: measurements [≤ 8 measurement maps], 12: revocation_version uint} */
typedef struct drot_link_info {
    uint8_t device_id[DROT_LINK_DEVICE_ID_LEN];
    uint64_t epoch;
    uint32_t lifecycle; /* the APM's lifecycle value (fuse state), < 2^32 */
    uint8_t instance_id[DROT_LINK_INSTANCE_ID_LEN];
    uint8_t drk_pub[DROT_P256_PUB_LEN]; /* bytes only: the decoder does not check the point */
    size_t num_svns;
    drot_link_svn svns[DROT_LINK_MAX_SVNS];
    uint64_t tamper_state;
    uint64_t tamper_count;
    int32_t boot_status; /* 0 = image verified, else the refusal code */
    size_t apm_version_len;
    char apm_version[DROT_LINK_MAX_TEXT];
    size_t num_measurements;
    drot_link_measurement measurements[DROT_LINK_MAX_MEASUREMENTS];
    uint64_t revocation_version; /* version of the stored revocation list, 0 = none */
} drot_link_info;

drot_status drot_link_info_encode(const drot_link_info *m, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_info_decode(const uint8_t *p, size_t len, drot_link_info *m);

/* ---- GET_TOKEN ------------------------------------------------------------ */

/* Request {1: nonce bstr (32, 48 or 64), 2: profile uint (1 psa, 2 drot)}. */
typedef struct drot_link_token_req {
    size_t nonce_len;
    uint8_t nonce[DROT_LINK_TOKEN_NONCE_MAX];
    uint32_t profile;
} drot_link_token_req;

drot_status drot_link_token_req_encode(const drot_link_token_req *m, uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_link_token_req_decode(const uint8_t *p, size_t len, drot_link_token_req *m);

/* Response {1: token bstr, 1..3072 bytes}. On decode, *token points into p. */
drot_status drot_link_token_resp_encode(const uint8_t *token, size_t token_len, uint8_t *out, size_t cap,
                                        size_t *out_len);
drot_status drot_link_token_resp_decode(const uint8_t *p, size_t len, const uint8_t **token,
                                        size_t *token_len);

/* ---- TAMPER_LOG response -------------------------------------------------- */

typedef struct drot_link_tamper_event {
    uint32_t kind;    /* sensor / event kind, < 2^32 */
    uint64_t tick_ms; /* APM time of the event */
    int64_t value;    /* the reading */
} drot_link_tamper_event;

/* {1: [≤ 16 × {1: kind uint, 2: tick_ms uint, 3: value int}], 2: total_count uint}
 * total_count counts every event ever logged, so it may exceed the array. */
typedef struct drot_link_tamper_log {
    size_t num_events;
    drot_link_tamper_event events[DROT_LINK_MAX_TAMPER];
    uint64_t total_count;
} drot_link_tamper_log;

drot_status drot_link_tamper_log_encode(const drot_link_tamper_log *m, uint8_t *out, size_t cap,
                                        size_t *out_len);
drot_status drot_link_tamper_log_decode(const uint8_t *p, size_t len, drot_link_tamper_log *m);

/* ---- SEAL / UNSEAL --------------------------------------------------------
 *
 * The label names what is sealed (the APM binds the blob to it): 1..64
 * bytes, each one of A-Z a-z 0-9 . _ - (plain ASCII, so no UTF-8 question
 * arises). A label outside that rule is DROT_E_CLAIM_INVALID on decode and
 * DROT_E_ARG on encode, like every other bound here. */

/* SEAL request {1: label tstr, 2: data bstr (0..2048)}. On decode, the label
 * is copied into label[] (the rest zeroed) and data points into p; data may
 * be NULL on encode when data_len is 0. */
typedef struct drot_link_seal_req {
    size_t label_len;
    char label[DROT_LINK_SEAL_MAX_LABEL]; /* not NUL-terminated */
    const uint8_t *data;
    size_t data_len;
} drot_link_seal_req;

drot_status drot_link_seal_req_encode(const drot_link_seal_req *m, uint8_t *out, size_t cap, size_t *out_len);
drot_status drot_link_seal_req_decode(const uint8_t *p, size_t len, drot_link_seal_req *m);

/* UNSEAL request {1: label tstr, 2: blob bstr (32..2080)}. On decode, the
 * label is copied into label[] (the rest zeroed) and blob points into p. */
typedef struct drot_link_unseal_req {
    size_t label_len;
    char label[DROT_LINK_SEAL_MAX_LABEL]; /* not NUL-terminated */
    const uint8_t *blob;
    size_t blob_len;
} drot_link_unseal_req;

drot_status drot_link_unseal_req_encode(const drot_link_unseal_req *m, uint8_t *out, size_t cap,
                                        size_t *out_len);
drot_status drot_link_unseal_req_decode(const uint8_t *p, size_t len, drot_link_unseal_req *m);

/* SEAL response {1: blob bstr (32..2080)}. On decode, *blob points into p. */
drot_status drot_link_blob_resp_encode(const uint8_t *blob, size_t blob_len, uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_link_blob_resp_decode(const uint8_t *p, size_t len, const uint8_t **blob, size_t *blob_len);

/* UNSEAL response {1: data bstr (0..2048)}. On decode, *data points into p
 * (at the end of the byte string's head when it is empty, never NULL).
 * data may be NULL on encode when data_len is 0. */
drot_status drot_link_data_resp_encode(const uint8_t *data, size_t data_len, uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_link_data_resp_decode(const uint8_t *p, size_t len, const uint8_t **data, size_t *data_len);

/* ---- DRoT (docs/drot.md, drot/rotate.h) ------------------------------------
 *
 * GET_ROTATION_NONCE  request {}               response {1: nonce bstr(32)}
 * ROTATE_ROOT         request {1: instruction}  response {1: receipt}
 * ROTATE_PROPOSE      request {}               response {1: proposal}
 * ROTATE_ENDORSE      request {1: endorsement}  response {1: receipt}
 * ROTATE_ANCHOR       request {1: instruction}  response {1: op uint 1..3, 2: slot uint 0..3}
 *
 * Each signed message is a bstr of 1..DROT_LINK_ROT_MAX_MSG bytes, a pointer
 * into the payload on decode (zero copy). */
#define DROT_LINK_ROT_NONCE_LEN 32u
#define DROT_LINK_ROT_MAX_MSG   1024u

drot_status drot_link_rot_nonce_encode(const uint8_t nonce[DROT_LINK_ROT_NONCE_LEN], uint8_t *out, size_t cap,
                                       size_t *out_len);
drot_status drot_link_rot_nonce_decode(const uint8_t *p, size_t len, uint8_t nonce[DROT_LINK_ROT_NONCE_LEN]);

/* {1: msg bstr (1..1024)}: every DRoT request and response but the two above. */
drot_status drot_link_rot_msg_encode(const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap,
                                     size_t *out_len);
drot_status drot_link_rot_msg_decode(const uint8_t *p, size_t len, const uint8_t **msg, size_t *msg_len);

/* ROTATE_ANCHOR response. */
typedef struct drot_link_anchor_resp {
    uint32_t op;   /* DROT_ANCHOR_OP_* (1..3) */
    uint32_t slot; /* the slot added, revoked or confirmed (0..3) */
} drot_link_anchor_resp;

drot_status drot_link_anchor_resp_encode(const drot_link_anchor_resp *m, uint8_t *out, size_t cap,
                                         size_t *out_len);
drot_status drot_link_anchor_resp_decode(const uint8_t *p, size_t len, drot_link_anchor_resp *m);

/* ---- SET_REVOCATION_LIST (docs/revocation.md) ------------------------------
 *
 * request   {1: list bstr (1..DROT_LINK_REVOCATION_MAX)}  the signed list
 *           (drot/revocation.h), a pointer into the payload on decode
 * response  {1: version uint, 2: changed bool, 3: drk_revoked bool} */
#define DROT_LINK_REVOCATION_MAX DROT_REVOCATION_SIGNED_MAX

drot_status drot_link_revocation_req_encode(const uint8_t *list, size_t list_len, uint8_t *out, size_t cap,
                                            size_t *out_len);
drot_status drot_link_revocation_req_decode(const uint8_t *p, size_t len, const uint8_t **list,
                                            size_t *list_len);

typedef struct drot_link_revocation_resp {
    uint64_t version; /* the list version the APM holds now (≥ 1) */
    bool changed;     /* true: stored by this request; false: that very list was stored already */
    bool drk_revoked; /* the stored list revokes the APM's current device root key */
} drot_link_revocation_resp;

drot_status drot_link_revocation_resp_encode(const drot_link_revocation_resp *m, uint8_t *out, size_t cap,
                                             size_t *out_len);
drot_status drot_link_revocation_resp_decode(const uint8_t *p, size_t len, drot_link_revocation_resp *m);

#endif /* DROT_LINK_MSG_H */
