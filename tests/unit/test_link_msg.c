/*
 * test_link_msg.c — payload codecs of the host <-> APM link
 * (common/src/link_msg.c).
 *
 * Two kinds of check:
 *
 *   - round trips: encode a struct, compare the bytes with CBOR written out
 *     by hand from docs/link.md (so the encoder is checked against the
 *     spec, not against the decoder), decode, compare the struct, and cut
 *     the encoding at every length (each cut refused; cuts live in
 *     exact-size heap buffers so the sanitizer build catches over-reads);
 *   - refusals: hand-written CBOR (table below) or CBOR built field by field
 *     with drot's writer (GET_INFO, long strings, element limits) that breaks
 *     exactly one rule of an otherwise valid message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cbor.h"
#include "drot/link_msg.h"
#include "drot_test_support.h"

/* 32 bytes 00..1f, as hex. */
#define N32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define N31 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e"

/* ---- decoders behind one signature ------------------------------------ */

typedef drot_status (*decode_fn)(const uint8_t *p, size_t len);

static drot_link_info g_info;

static drot_status dec_hello(const uint8_t *p, size_t len)
{
    uint8_t n[32];
    return drot_link_hello_decode(p, len, n);
}
static drot_status dec_empty(const uint8_t *p, size_t len)
{
    return drot_link_empty_decode(p, len);
}
static drot_status dec_error(const uint8_t *p, size_t len)
{
    drot_link_error e;
    return drot_link_error_decode(p, len, &e);
}
static drot_status dec_extend_req(const uint8_t *p, size_t len)
{
    drot_link_measurement m;
    return drot_link_extend_req_decode(p, len, &m);
}
static drot_status dec_extend_resp(const uint8_t *p, size_t len)
{
    uint32_t i;
    return drot_link_extend_resp_decode(p, len, &i);
}
static drot_status dec_token_req(const uint8_t *p, size_t len)
{
    drot_link_token_req m;
    return drot_link_token_req_decode(p, len, &m);
}
static drot_status dec_token_resp(const uint8_t *p, size_t len)
{
    const uint8_t *t;
    size_t n;
    return drot_link_token_resp_decode(p, len, &t, &n);
}
static drot_status dec_tamper(const uint8_t *p, size_t len)
{
    drot_link_tamper_log m;
    return drot_link_tamper_log_decode(p, len, &m);
}
static drot_status dec_info(const uint8_t *p, size_t len)
{
    return drot_link_info_decode(p, len, &g_info);
}
static drot_status dec_seal_req(const uint8_t *p, size_t len)
{
    drot_link_seal_req m;
    return drot_link_seal_req_decode(p, len, &m);
}
static drot_status dec_unseal_req(const uint8_t *p, size_t len)
{
    drot_link_unseal_req m;
    return drot_link_unseal_req_decode(p, len, &m);
}
static drot_status dec_blob_resp(const uint8_t *p, size_t len)
{
    const uint8_t *b;
    size_t n;
    return drot_link_blob_resp_decode(p, len, &b, &n);
}
static drot_status dec_data_resp(const uint8_t *p, size_t len)
{
    const uint8_t *b;
    size_t n;
    return drot_link_data_resp_decode(p, len, &b, &n);
}

/* Decodes a copy of p[0..len) in an exact-size heap buffer. */
static drot_status decode_exact(decode_fn fn, const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    if (len > 0)
        memcpy(c, p, len);
    drot_status st = fn(c, len);
    free(c);
    return st;
}

/* Every proper prefix of a valid encoding is refused. */
static void all_cuts_refused(decode_fn fn, const uint8_t *p, size_t len)
{
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(decode_exact(fn, p, n), DROT_OK);
    assert_int_equal(decode_exact(fn, p, len), DROT_OK);
}

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
    long n = drot_test_hex(h, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

/* ---- the refusal table -------------------------------------------------- */

typedef struct vcase {
    decode_fn fn;
    const char *hex;
    drot_status want;
    const char *what;
} vcase;

/* A measurement map {1: "APM", 2: "1.2.3", 3: digest, 4: signer}. */
#define MEAS_TYPE    "016341504d"
#define MEAS_VERSION "0265312e322e33"
#define MEAS_DIGEST  "035820" N32
#define MEAS_SIGNER  "045820" N32
/* One tamper event {1: 1, 2: 1000, 3: -1}. */
#define EVENT "a30101021903e80320"
/* SEAL / UNSEAL fields: label "ab", data h'010203', a 32-byte blob. */
#define LABEL_AB "01626162"
#define DATA3    "0243010203"
#define BLOB32   "025820" N32

static const vcase k_cases[] = {
    /* HELLO / HELLO_ACK */
    {dec_hello, "a1015820" N32, DROT_OK, "hello: valid"},
    {dec_hello, "", DROT_E_TRUNCATED, "hello: empty input"},
    {dec_hello, "a0", DROT_E_CLAIM_MISSING, "hello: nonce missing"},
    {dec_hello, "a10160", DROT_E_CLAIM_INVALID, "hello: nonce is a text string"},
    {dec_hello, "a10100", DROT_E_CLAIM_INVALID, "hello: nonce is an integer"},
    {dec_hello, "a101581f" N31, DROT_E_CLAIM_INVALID, "hello: nonce 31 bytes"},
    {dec_hello, "a1015821" N32 "ff", DROT_E_CLAIM_INVALID, "hello: nonce 33 bytes"},
    {dec_hello, "a2015820" N32 "015820" N32, DROT_E_DUPLICATE, "hello: nonce twice"},
    {dec_hello, "a2015820" N32 "0200", DROT_E_UNKNOWN_CLAIM, "hello: extra key 2"},
    {dec_hello, "a1025820" N32, DROT_E_UNKNOWN_CLAIM, "hello: key 2 instead of 1"},
    {dec_hello, "a1005820" N32, DROT_E_UNKNOWN_CLAIM, "hello: key 0"},
    {dec_hello, "a1205820" N32, DROT_E_UNKNOWN_CLAIM, "hello: key -1"},
    {dec_hello, "a161615820" N32, DROT_E_UNKNOWN_CLAIM, "hello: text key"},
    {dec_hello, "a1185f5820" N32, DROT_E_UNKNOWN_CLAIM, "hello: key 95 (past the key mask)"},
    {dec_hello, "a1015820" N32 "00", DROT_E_TRAILING, "hello: trailing byte"},
    {dec_hello, "a1015820" N31, DROT_E_TRUNCATED, "hello: nonce cut short"},
    {dec_hello, "815820" N32, DROT_E_MALFORMED, "hello: an array"},
    {dec_hello, "5820" N32, DROT_E_MALFORMED, "hello: a bare byte string"},
    {dec_hello, "bf015820" N32 "ff", DROT_E_UNSUPPORTED, "hello: indefinite map"},
    {dec_hello, "a3015820" N32, DROT_E_TRUNCATED, "hello: map count 3 with 1 entry"},
    /* empty requests */
    {dec_empty, "a0", DROT_OK, "empty: valid"},
    {dec_empty, "a10100", DROT_E_UNKNOWN_CLAIM, "empty: one key"},
    {dec_empty, "a0a0", DROT_E_TRAILING, "empty: two maps"},
    {dec_empty, "80", DROT_E_MALFORMED, "empty: empty array"},
    {dec_empty, "f6", DROT_E_MALFORMED, "empty: null"},
    {dec_empty, "", DROT_E_TRUNCATED, "empty: nothing"},
    /* ERROR */
    {dec_error, "a2012002636162 63", DROT_OK, "error: valid"},
    {dec_error, "a202636162630120", DROT_OK, "error: valid, keys in another order"},
    {dec_error, "a2013a7fffffff0260", DROT_OK, "error: code INT32_MIN"},
    {dec_error, "a2013a800000000260", DROT_E_CLAIM_INVALID, "error: code INT32_MIN - 1"},
    {dec_error, "a2011a800000000260", DROT_E_CLAIM_INVALID, "error: code INT32_MAX + 1"},
    {dec_error, "a2011bffffffffffffffff0260", DROT_E_CLAIM_INVALID, "error: code 2^64 - 1"},
    {dec_error, "a201f93c000260", DROT_E_CLAIM_INVALID, "error: code is a float"},
    {dec_error, "a20120024100", DROT_E_CLAIM_INVALID, "error: message is a byte string"},
    {dec_error, "a2012002 62c328", DROT_E_CLAIM_INVALID, "error: message not UTF-8"},
    {dec_error, "a201200262c080", DROT_E_CLAIM_INVALID, "error: message overlong UTF-8"},
    {dec_error, "a201200263eda080", DROT_E_CLAIM_INVALID, "error: message UTF-16 surrogate"},
    {dec_error, "a201200264f4908080", DROT_E_CLAIM_INVALID, "error: message above U+10FFFF"},
    {dec_error, "a201200262c3a9", DROT_OK, "error: message U+00E9"},
    {dec_error, "a10120", DROT_E_CLAIM_MISSING, "error: message missing"},
    {dec_error, "a10260", DROT_E_CLAIM_MISSING, "error: code missing"},
    {dec_error, "a30120012002 60", DROT_E_DUPLICATE, "error: code twice"},
    {dec_error, "a30120026003 00", DROT_E_UNKNOWN_CLAIM, "error: key 3"},
    {dec_error, "a201200260 00", DROT_E_TRAILING, "error: trailing byte"},
    /* EXTEND_MEASUREMENT request */
    {dec_extend_req, "a4" MEAS_TYPE MEAS_VERSION MEAS_DIGEST MEAS_SIGNER, DROT_OK, "extend: valid"},
    {dec_extend_req, "a4" MEAS_SIGNER MEAS_DIGEST MEAS_VERSION MEAS_TYPE, DROT_OK, "extend: valid, reversed"},
    {dec_extend_req, "a3" MEAS_TYPE MEAS_VERSION MEAS_DIGEST, DROT_E_CLAIM_MISSING, "extend: signer missing"},
    {dec_extend_req, "a3" MEAS_VERSION MEAS_DIGEST MEAS_SIGNER, DROT_E_CLAIM_MISSING, "extend: type missing"},
    {dec_extend_req,
     "a4" MEAS_TYPE MEAS_VERSION MEAS_DIGEST "04782020202020202020202020202020202020"
     "2020202020202020202020202020202020",
     DROT_E_CLAIM_INVALID, "extend: signer is a text string"},
    {dec_extend_req, "a4" MEAS_TYPE MEAS_VERSION "03581f" N31 MEAS_SIGNER, DROT_E_CLAIM_INVALID,
     "extend: digest 31 bytes"},
    {dec_extend_req,
     "a4"
     "0143415041" MEAS_VERSION MEAS_DIGEST MEAS_SIGNER,
     DROT_E_CLAIM_INVALID, "extend: type is a byte string"},
    {dec_extend_req,
     "a4"
     "010a" MEAS_VERSION MEAS_DIGEST MEAS_SIGNER,
     DROT_E_CLAIM_INVALID, "extend: type is an integer"},
    {dec_extend_req, "a5" MEAS_TYPE MEAS_VERSION MEAS_DIGEST MEAS_SIGNER MEAS_TYPE, DROT_E_DUPLICATE,
     "extend: type twice"},
    {dec_extend_req, "a5" MEAS_TYPE MEAS_VERSION MEAS_DIGEST MEAS_SIGNER "0500", DROT_E_UNKNOWN_CLAIM,
     "extend: key 5"},
    {dec_extend_req, "a4" MEAS_TYPE MEAS_VERSION MEAS_DIGEST MEAS_SIGNER "00", DROT_E_TRAILING,
     "extend: trailing byte"},
    {dec_extend_req,
     "84"
     "6341504d"
     "65312e322e33"
     "5820" N32 "5820" N32,
     DROT_E_MALFORMED, "extend: an array of the four values"},
    /* EXTEND_MEASUREMENT response */
    {dec_extend_resp, "a10105", DROT_OK, "extend resp: valid"},
    {dec_extend_resp, "a1011affffffff", DROT_OK, "extend resp: index 2^32 - 1"},
    {dec_extend_resp, "a1011b0000000100000000", DROT_E_CLAIM_INVALID, "extend resp: index 2^32"},
    {dec_extend_resp, "a10120", DROT_E_CLAIM_INVALID, "extend resp: index -1"},
    {dec_extend_resp, "a1016131", DROT_E_CLAIM_INVALID, "extend resp: index is text"},
    {dec_extend_resp, "a0", DROT_E_CLAIM_MISSING, "extend resp: no index"},
    {dec_extend_resp, "a201050106", DROT_E_DUPLICATE, "extend resp: index twice"},
    {dec_extend_resp, "a201050206", DROT_E_UNKNOWN_CLAIM, "extend resp: key 2"},
    {dec_extend_resp, "a1010500", DROT_E_TRAILING, "extend resp: trailing byte"},
    /* GET_TOKEN request */
    {dec_token_req, "a2015820" N32 "0201", DROT_OK, "token req: valid, psa"},
    {dec_token_req, "a2015820" N32 "0202", DROT_OK, "token req: valid, drot"},
    {dec_token_req, "a2015830" N32, DROT_E_TRUNCATED, "token req: nonce says 48, has 32"},
    {dec_token_req, "a2015830" N32 "000102030405060708090a0b0c0d0e0f0201", DROT_OK, "token req: nonce 48"},
    {dec_token_req, "a2015840" N32 N32 "0201", DROT_OK, "token req: nonce 64"},
    {dec_token_req, "a201581f" N31 "0201", DROT_E_CLAIM_INVALID, "token req: nonce 31"},
    {dec_token_req, "a2015821" N32 "000201", DROT_E_CLAIM_INVALID, "token req: nonce 33"},
    {dec_token_req, "a2015841" N32 N32 "000201", DROT_E_CLAIM_INVALID, "token req: nonce 65"},
    {dec_token_req, "a201400201", DROT_E_CLAIM_INVALID, "token req: nonce empty"},
    {dec_token_req, "a2015820" N32 "0203", DROT_E_CLAIM_INVALID, "token req: profile 3"},
    {dec_token_req, "a2015820" N32 "0200", DROT_E_CLAIM_INVALID, "token req: profile 0"},
    {dec_token_req, "a2015820" N32 "0220", DROT_E_CLAIM_INVALID, "token req: profile -1"},
    {dec_token_req, "a2015820" N32 "0263707361", DROT_E_CLAIM_INVALID, "token req: profile is text"},
    {dec_token_req, "a1015820" N32, DROT_E_CLAIM_MISSING, "token req: profile missing"},
    {dec_token_req, "a10201", DROT_E_CLAIM_MISSING, "token req: nonce missing"},
    {dec_token_req, "a3015820" N32 "02010201", DROT_E_DUPLICATE, "token req: profile twice"},
    {dec_token_req, "a3015820" N32 "02010300", DROT_E_UNKNOWN_CLAIM, "token req: key 3"},
    {dec_token_req, "a2015820" N32 "020100", DROT_E_TRAILING, "token req: trailing byte"},
    /* GET_TOKEN response */
    {dec_token_resp, "a10143010203", DROT_OK, "token resp: valid"},
    {dec_token_resp, "a10140", DROT_E_CLAIM_INVALID, "token resp: empty token"},
    {dec_token_resp, "a10163010203", DROT_E_CLAIM_INVALID, "token resp: token is text"},
    {dec_token_resp, "a0", DROT_E_CLAIM_MISSING, "token resp: no token"},
    {dec_token_resp, "a2014101014101", DROT_E_DUPLICATE, "token resp: token twice"},
    {dec_token_resp, "a2014101024101", DROT_E_UNKNOWN_CLAIM, "token resp: key 2"},
    {dec_token_resp, "a1014101a0", DROT_E_TRAILING, "token resp: trailing map"},
    /* TAMPER_LOG response */
    {dec_tamper, "a20181" EVENT "0205", DROT_OK, "tamper: valid"},
    {dec_tamper, "a201800200", DROT_OK, "tamper: no events"},
    {dec_tamper, "a20182" EVENT EVENT "0201", DROT_E_CLAIM_INVALID, "tamper: total below the events"},
    {dec_tamper,
     "a2018100"
     "0205",
     DROT_E_CLAIM_INVALID, "tamper: event is an integer"},
    {dec_tamper, "a20181a20101020002 05", DROT_E_CLAIM_MISSING, "tamper: event value missing"},
    {dec_tamper, "a20181a4010102000300040002 05", DROT_E_UNKNOWN_CLAIM, "tamper: event key 4"},
    {dec_tamper, "a20181a3010101010300 0205", DROT_E_DUPLICATE, "tamper: event kind twice"},
    {dec_tamper, "a20181a3011b00000001000000000200030002 05", DROT_E_CLAIM_INVALID, "tamper: kind 2^32"},
    {dec_tamper, "a20181a30101020003 1bffffffffffffffff 0205", DROT_E_CLAIM_INVALID,
     "tamper: value 2^64 - 1"},
    {dec_tamper, "a20181a30101020003 3b7fffffffffffffff 0205", DROT_OK, "tamper: value INT64_MIN"},
    {dec_tamper, "a20181a30101022003000205", DROT_E_CLAIM_INVALID, "tamper: tick -1"},
    {dec_tamper, "a201a00205", DROT_E_CLAIM_INVALID, "tamper: events is a map"},
    {dec_tamper, "a10181" EVENT, DROT_E_CLAIM_MISSING, "tamper: total missing"},
    {dec_tamper, "a10205", DROT_E_CLAIM_MISSING, "tamper: events missing"},
    {dec_tamper, "a3018002050205", DROT_E_DUPLICATE, "tamper: total twice"},
    {dec_tamper, "a30180020503f5", DROT_E_UNKNOWN_CLAIM, "tamper: key 3"},
    {dec_tamper, "a201800205ff", DROT_E_TRAILING, "tamper: trailing break"},
    {dec_tamper, "a2019f" EVENT "ff0205", DROT_E_UNSUPPORTED, "tamper: indefinite array"},
    /* SEAL request */
    {dec_seal_req, "a2" LABEL_AB DATA3, DROT_OK, "seal: valid"},
    {dec_seal_req, "a2" DATA3 LABEL_AB, DROT_OK, "seal: valid, keys in another order"},
    {dec_seal_req, "a2" LABEL_AB "0240", DROT_OK, "seal: empty data"},
    {dec_seal_req, "a2 0167417a30392e5f2d" DATA3, DROT_OK, "seal: label Az09._-"},
    {dec_seal_req, "a2 0160" DATA3, DROT_E_CLAIM_INVALID, "seal: empty label"},
    {dec_seal_req, "a2 0163612062" DATA3, DROT_E_CLAIM_INVALID, "seal: label with a space"},
    {dec_seal_req, "a2 0163612f62" DATA3, DROT_E_CLAIM_INVALID, "seal: label with a slash"},
    {dec_seal_req, "a2 01626100" DATA3, DROT_E_CLAIM_INVALID, "seal: label with a NUL"},
    {dec_seal_req, "a2 0162c3a9" DATA3, DROT_E_CLAIM_INVALID, "seal: label U+00E9 (valid UTF-8)"},
    {dec_seal_req, "a2 0162c328" DATA3, DROT_E_CLAIM_INVALID, "seal: label not UTF-8"},
    {dec_seal_req, "a2 01426162" DATA3, DROT_E_CLAIM_INVALID, "seal: label is a byte string"},
    {dec_seal_req, "a2 0101" DATA3, DROT_E_CLAIM_INVALID, "seal: label is an integer"},
    {dec_seal_req, "a2" LABEL_AB "0263010203", DROT_E_CLAIM_INVALID, "seal: data is a text string"},
    {dec_seal_req, "a2" LABEL_AB "0200", DROT_E_CLAIM_INVALID, "seal: data is an integer"},
    {dec_seal_req, "a2" LABEL_AB "02f6", DROT_E_CLAIM_INVALID, "seal: data is null"},
    {dec_seal_req, "a1" DATA3, DROT_E_CLAIM_MISSING, "seal: label missing"},
    {dec_seal_req, "a1" LABEL_AB, DROT_E_CLAIM_MISSING, "seal: data missing"},
    {dec_seal_req, "a0", DROT_E_CLAIM_MISSING, "seal: empty map"},
    {dec_seal_req, "a3" LABEL_AB DATA3 LABEL_AB, DROT_E_DUPLICATE, "seal: label twice"},
    {dec_seal_req, "a3" LABEL_AB DATA3 DATA3, DROT_E_DUPLICATE, "seal: data twice"},
    {dec_seal_req, "a3" LABEL_AB DATA3 "0300", DROT_E_UNKNOWN_CLAIM, "seal: key 3"},
    {dec_seal_req, "a3 0000" LABEL_AB DATA3, DROT_E_UNKNOWN_CLAIM, "seal: key 0"},
    {dec_seal_req, "a3 616100" LABEL_AB DATA3, DROT_E_UNKNOWN_CLAIM, "seal: text key"},
    {dec_seal_req, "a2" LABEL_AB DATA3 "00", DROT_E_TRAILING, "seal: trailing byte"},
    {dec_seal_req, "a2" LABEL_AB "02430102", DROT_E_TRUNCATED, "seal: data cut short"},
    {dec_seal_req, "82 626162 43010203", DROT_E_MALFORMED, "seal: an array of the two values"},
    {dec_seal_req, "bf" LABEL_AB DATA3 "ff", DROT_E_UNSUPPORTED, "seal: indefinite map"},
    /* UNSEAL request */
    {dec_unseal_req, "a2" LABEL_AB BLOB32, DROT_OK, "unseal: valid, 32-byte blob"},
    {dec_unseal_req, "a2" BLOB32 LABEL_AB, DROT_OK, "unseal: valid, keys in another order"},
    {dec_unseal_req, "a2" LABEL_AB "02581f" N31, DROT_E_CLAIM_INVALID, "unseal: blob 31 bytes"},
    {dec_unseal_req, "a2" LABEL_AB "0240", DROT_E_CLAIM_INVALID, "unseal: empty blob"},
    {dec_unseal_req, "a2" LABEL_AB "027820" N32, DROT_E_CLAIM_INVALID, "unseal: blob is a text string"},
    {dec_unseal_req, "a2 0163612a62" BLOB32, DROT_E_CLAIM_INVALID, "unseal: label with a star"},
    {dec_unseal_req, "a2 0160" BLOB32, DROT_E_CLAIM_INVALID, "unseal: empty label"},
    {dec_unseal_req, "a1" LABEL_AB, DROT_E_CLAIM_MISSING, "unseal: blob missing"},
    {dec_unseal_req, "a1" BLOB32, DROT_E_CLAIM_MISSING, "unseal: label missing"},
    {dec_unseal_req, "a3" LABEL_AB BLOB32 BLOB32, DROT_E_DUPLICATE, "unseal: blob twice"},
    {dec_unseal_req, "a3" LABEL_AB BLOB32 "0400", DROT_E_UNKNOWN_CLAIM, "unseal: key 4"},
    {dec_unseal_req, "a2" LABEL_AB BLOB32 "a0", DROT_E_TRAILING, "unseal: trailing map"},
    /* SEAL response */
    {dec_blob_resp, "a1015820" N32, DROT_OK, "blob resp: valid"},
    {dec_blob_resp, "a101581f" N31, DROT_E_CLAIM_INVALID, "blob resp: 31 bytes"},
    {dec_blob_resp, "a10140", DROT_E_CLAIM_INVALID, "blob resp: empty"},
    {dec_blob_resp, "a1017820" N32, DROT_E_CLAIM_INVALID, "blob resp: a text string"},
    {dec_blob_resp, "a0", DROT_E_CLAIM_MISSING, "blob resp: no blob"},
    {dec_blob_resp, "a2015820" N32 "015820" N32, DROT_E_DUPLICATE, "blob resp: blob twice"},
    {dec_blob_resp, "a2015820" N32 "0200", DROT_E_UNKNOWN_CLAIM, "blob resp: key 2"},
    {dec_blob_resp, "a1025820" N32, DROT_E_UNKNOWN_CLAIM, "blob resp: key 2 instead of 1"},
    {dec_blob_resp, "a1015820" N32 "00", DROT_E_TRAILING, "blob resp: trailing byte"},
    /* UNSEAL response */
    {dec_data_resp, "a10140", DROT_OK, "data resp: empty data"},
    {dec_data_resp, "a10143010203", DROT_OK, "data resp: 3 bytes"},
    {dec_data_resp, "a10163616263", DROT_E_CLAIM_INVALID, "data resp: a text string"},
    {dec_data_resp, "a10100", DROT_E_CLAIM_INVALID, "data resp: an integer"},
    {dec_data_resp, "a0", DROT_E_CLAIM_MISSING, "data resp: no data"},
    {dec_data_resp, "a201400140", DROT_E_DUPLICATE, "data resp: data twice"},
    {dec_data_resp, "a201400340", DROT_E_UNKNOWN_CLAIM, "data resp: key 3"},
    {dec_data_resp, "a1014000", DROT_E_TRAILING, "data resp: trailing byte"},
    {dec_data_resp, "8140", DROT_E_MALFORMED, "data resp: an array"},
};

/* Test 1: every row of the table (hand-written CBOR) / its expected status,
 * decoded from an exact-size heap copy. */
static void test_table(void **state)
{
    (void)state;
    uint8_t buf[512];
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const vcase *c = &k_cases[i];
        char clean[1100];
        size_t k = 0;
        for (const char *h = c->hex; *h != '\0'; h++)
            if (*h != ' ')
                clean[k++] = *h;
        clean[k] = '\0';
        size_t n = hex(clean, buf, sizeof buf);
        drot_status st = decode_exact(c->fn, buf, n);
        if (st != c->want)
            print_error("row %zu (%s): got %d, want %d\n", i, c->what, st, c->want);
        assert_int_equal(st, c->want);
    }
}

/* ---- round trips -------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

/* Test 2: HELLO, empty, ERROR, EXTEND resp encoded / the CBOR of the spec,
 * byte for byte; decoded back equal; every cut refused; a buffer one byte
 * short gives DROT_E_BUFFER and the size needed. */
static void test_small_round_trips(void **state)
{
    (void)state;
    uint8_t out[256], want[256], nonce[32], got[32];
    size_t n, wn;
    fill(nonce, 32, 0);
    assert_int_equal(drot_link_hello_encode(nonce, out, sizeof out, &n), DROT_OK);
    wn = hex("a1015820" N32, want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    assert_int_equal(drot_link_hello_decode(out, n, got), DROT_OK);
    assert_memory_equal(got, nonce, 32);
    all_cuts_refused(dec_hello, out, n);
    assert_int_equal(drot_link_hello_encode(nonce, out, wn - 1, &n), DROT_E_BUFFER);
    assert_int_equal(n, wn);

    assert_int_equal(drot_link_empty_encode(out, sizeof out, &n), DROT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0xa0);
    assert_int_equal(drot_link_empty_encode(NULL, 0, &n), DROT_E_BUFFER);

    drot_link_error e = {.code = -8, .message_len = 3}, e2;
    memcpy(e.message, "abc", 3);
    assert_int_equal(drot_link_error_encode(&e, out, sizeof out, &n), DROT_OK);
    wn = hex("a201270263616263", want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    memset(&e2, 0xee, sizeof e2);
    assert_int_equal(drot_link_error_decode(out, n, &e2), DROT_OK);
    assert_int_equal(e2.code, -8);
    assert_int_equal(e2.message_len, 3);
    assert_memory_equal(e2.message, "abc", 3);
    all_cuts_refused(dec_error, out, n);

    /* 128-byte message: accepted both ways; 129 refused by the encoder. */
    e.message_len = 128;
    memset(e.message, 'x', 128);
    assert_int_equal(drot_link_error_encode(&e, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_error_decode(out, n, &e2), DROT_OK);
    assert_int_equal(e2.message_len, 128);
    e.message_len = 129;
    assert_int_equal(drot_link_error_encode(&e, out, sizeof out, &n), DROT_E_ARG);
    e.message_len = 2;
    memcpy(e.message, "\xc3\x28", 2);
    assert_int_equal(drot_link_error_encode(&e, out, sizeof out, &n), DROT_E_ARG);

    uint32_t idx;
    assert_int_equal(drot_link_extend_resp_encode(0xFFFFFFFFu, out, sizeof out, &n), DROT_OK);
    wn = hex("a1011affffffff", want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    assert_int_equal(drot_link_extend_resp_decode(out, n, &idx), DROT_OK);
    assert_int_equal(idx, 0xFFFFFFFFu);
    all_cuts_refused(dec_extend_resp, out, n);
}

/* Test 3: an ERROR message of 129 bytes built with the CBOR writer /
 * DROT_E_CLAIM_INVALID; 128 is accepted. */
static void test_error_message_limit(void **state)
{
    (void)state;
    uint8_t out[256];
    char msg[129];
    size_t n;
    memset(msg, 'm', sizeof msg);
    for (size_t len = 128; len <= 129; len++) {
        drot_cbor_writer w;
        drot_cbor_writer_init(&w, out, sizeof out);
        drot_cbor_put_map(&w, 2);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_int(&w, -1);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_tstr(&w, msg, len);
        assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
        assert_int_equal(decode_exact(dec_error, out, n), len == 128 ? DROT_OK : DROT_E_CLAIM_INVALID);
    }
}

/* Test 4: EXTEND_MEASUREMENT request round trip with 32-byte strings / the
 * spec's CBOR, equal after decoding, every cut refused; 33-byte type or
 * version refused by encoder (DROT_E_ARG) and decoder (DROT_E_CLAIM_INVALID). */
static void test_measurement(void **state)
{
    (void)state;
    drot_link_measurement m = {.type_len = 3, .version_len = 5}, g;
    uint8_t out[256], want[256];
    size_t n, wn;
    memcpy(m.type, "APM", 3);
    memcpy(m.version, "1.2.3", 5);
    fill(m.digest, 32, 0);
    fill(m.signer, 32, 0);
    assert_int_equal(drot_link_extend_req_encode(&m, out, sizeof out, &n), DROT_OK);
    wn = hex("a4" MEAS_TYPE MEAS_VERSION MEAS_DIGEST MEAS_SIGNER, want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    memset(&g, 0, sizeof g);
    assert_int_equal(drot_link_extend_req_decode(out, n, &g), DROT_OK);
    assert_memory_equal(&g, &m, sizeof m);
    all_cuts_refused(dec_extend_req, out, n);

    m.type_len = 32;
    memset(m.type, 'T', 32);
    m.version_len = 32;
    memset(m.version, 'V', 32);
    assert_int_equal(drot_link_extend_req_encode(&m, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_extend_req_decode(out, n, &g), DROT_OK);
    assert_int_equal(g.type_len, 32);
    assert_int_equal(g.version_len, 32);
    m.type_len = 33;
    assert_int_equal(drot_link_extend_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    m.type_len = 32;
    m.version_len = 33;
    assert_int_equal(drot_link_extend_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);

    for (int which = 1; which <= 2; which++) {
        char s[33];
        memset(s, 'S', sizeof s);
        drot_cbor_writer w;
        drot_cbor_writer_init(&w, out, sizeof out);
        drot_cbor_put_map(&w, 4);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_tstr(&w, s, which == 1 ? 33 : 3);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_tstr(&w, s, which == 2 ? 33 : 3);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_bstr(&w, m.digest, 32);
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_bstr(&w, m.signer, 32);
        assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
        assert_int_equal(decode_exact(dec_extend_req, out, n), DROT_E_CLAIM_INVALID);
    }
}

/* Test 5: GET_TOKEN request and response round trips (nonces of 32, 48,
 * 64; tokens of 1 and 3072 bytes) / equal after decoding, the token view
 * points into the input; bad nonce size, profile, empty or 3073-byte token
 * refused by the encoder (DROT_E_ARG) and a 3073-byte token by the decoder. */
static void test_token(void **state)
{
    (void)state;
    static uint8_t out[4096], tok[3073];
    size_t n;
    for (size_t nl = 32; nl <= 64; nl += 16) {
        drot_link_token_req r = {.nonce_len = nl, .profile = DROT_LINK_PROFILE_PSA}, g;
        fill(r.nonce, nl, 7);
        assert_int_equal(drot_link_token_req_encode(&r, out, sizeof out, &n), DROT_OK);
        memset(&g, 0, sizeof g);
        assert_int_equal(drot_link_token_req_decode(out, n, &g), DROT_OK);
        assert_int_equal(g.nonce_len, nl);
        assert_memory_equal(g.nonce, r.nonce, nl);
        assert_int_equal(g.profile, 1);
        all_cuts_refused(dec_token_req, out, n);
    }
    drot_link_token_req r = {.nonce_len = 33, .profile = 1};
    assert_int_equal(drot_link_token_req_encode(&r, out, sizeof out, &n), DROT_E_ARG);
    r.nonce_len = 32;
    r.profile = 3;
    assert_int_equal(drot_link_token_req_encode(&r, out, sizeof out, &n), DROT_E_ARG);

    memset(tok, 0x42, sizeof tok);
    const uint8_t *tp;
    size_t tn;
    assert_int_equal(drot_link_token_resp_encode(tok, 3072, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_token_resp_decode(out, n, &tp, &tn), DROT_OK);
    assert_int_equal(tn, 3072);
    assert_ptr_equal(tp, out + 5); /* a1 01 59 0c 00 */
    assert_int_equal(drot_link_token_resp_encode(tok, 1, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_token_resp_decode(out, n, &tp, &tn), DROT_OK);
    assert_int_equal(tn, 1);
    all_cuts_refused(dec_token_resp, out, n);
    assert_int_equal(drot_link_token_resp_encode(tok, 3073, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_token_resp_encode(tok, 0, out, sizeof out, &n), DROT_E_ARG);
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, out, sizeof out);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, tok, 3073);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    assert_int_equal(decode_exact(dec_token_resp, out, n), DROT_E_CLAIM_INVALID);
}

/* Test 6: TAMPER_LOG with 0, 1 and 16 events / round trip equal, every cut
 * refused; 17 events refused by encoder (DROT_E_ARG) and decoder
 * (DROT_E_TOO_LARGE). */
static void test_tamper(void **state)
{
    (void)state;
    static drot_link_tamper_log m, g;
    static uint8_t out[2048];
    size_t n;
    for (size_t count = 0; count <= 16; count += (count == 0 ? 1 : 15)) {
        memset(&m, 0, sizeof m);
        m.num_events = count;
        m.total_count = 1000 + count;
        for (size_t i = 0; i < count; i++) {
            m.events[i].kind = (uint32_t)i;
            m.events[i].tick_ms = 0xFFFFFFFFFFull + i;
            m.events[i].value = i % 2 ? INT64_MIN : (int64_t)i;
        }
        assert_int_equal(drot_link_tamper_log_encode(&m, out, sizeof out, &n), DROT_OK);
        memset(&g, 0xcc, sizeof g);
        assert_int_equal(drot_link_tamper_log_decode(out, n, &g), DROT_OK);
        assert_int_equal(g.num_events, count);
        assert_int_equal(g.total_count, m.total_count);
        for (size_t i = 0; i < count; i++) { /* field by field: the struct has padding */
            assert_int_equal(g.events[i].kind, m.events[i].kind);
            assert_int_equal(g.events[i].tick_ms, m.events[i].tick_ms);
            assert_true(g.events[i].value == m.events[i].value);
        }
        all_cuts_refused(dec_tamper, out, n);
    }
    m.num_events = 17;
    m.total_count = 17;
    assert_int_equal(drot_link_tamper_log_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, out, sizeof out);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_array(&w, 17);
    for (int i = 0; i < 17; i++) {
        drot_cbor_put_map(&w, 3);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_int(&w, 3);
    }
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, 17);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    assert_int_equal(decode_exact(dec_tamper, out, n), DROT_E_TOO_LARGE);
}

/* ---- GET_INFO, built field by field --------------------------------------- */

static void sample_info(drot_link_info *m)
{
    memset(m, 0, sizeof *m);
    fill(m->device_id, 16, 0xd0);
    m->epoch = 3;
    m->lifecycle = 0x3000;
    m->instance_id[0] = 0x01;
    fill(m->instance_id + 1, 32, 0x20);
    m->drk_pub[0] = 0x04;
    fill(m->drk_pub + 1, 64, 0x40);
    m->num_svns = 2;
    m->svns[0].component = 0;
    m->svns[0].svn = 5;
    m->svns[1].component = 1;
    m->svns[1].svn = 0x100000000ull;
    m->tamper_state = 0;
    m->tamper_count = 2;
    m->boot_status = -8;
    m->apm_version_len = 10;
    memcpy(m->apm_version, "drot-0.1.0", 10);
    m->num_measurements = 2;
    for (size_t i = 0; i < 2; i++) {
        drot_link_measurement *x = &m->measurements[i];
        x->type_len = i ? 7 : 3;
        memcpy(x->type, i ? "HOST-BL" : "APM", x->type_len);
        x->version_len = 5;
        memcpy(x->version, "1.0.0", 5);
        fill(x->digest, 32, (uint8_t)(0x60 + i));
        fill(x->signer, 32, 0x90);
    }
    m->revocation_version = 0x1234567890ull;
}

/* How build_info breaks the message. */
enum mutation {
    MUT_NONE,
    MUT_OMIT,      /* leave field k out */
    MUT_DUP,       /* write field k twice */
    MUT_WRONGTYPE, /* field k's value is `true` */
    MUT_UNKNOWN,   /* add key 13 */
    MUT_SHORT,     /* bstr field k one byte short */
    MUT_LONG,      /* bstr / tstr field k one byte over its size or bound */
    MUT_SVNS9,     /* 9 svns */
    MUT_SVNDUP,    /* component 0 twice in svns */
    MUT_MEAS9,     /* 9 measurements */
    MUT_MEASBAD,   /* second measurement lacks its signer */
    MUT_TRAILING,  /* a byte after the map */
};

static void put_info_field(drot_cbor_writer *w, const drot_link_info *m, unsigned k, enum mutation mut,
                           unsigned target)
{
    static const uint8_t big[80] = {0};
    drot_cbor_put_uint(w, k);
    if (mut == MUT_WRONGTYPE && k == target) {
        drot_cbor_put_bool(w, true);
        return;
    }
    int delta = (k == target) ? (mut == MUT_SHORT ? -1 : mut == MUT_LONG ? 1 : 0) : 0;
    switch (k) {
    case 1: drot_cbor_put_bstr(w, delta > 0 ? big : m->device_id, (size_t)(16 + delta)); break;
    case 2: drot_cbor_put_uint(w, m->epoch); break;
    case 3: drot_cbor_put_uint(w, m->lifecycle); break;
    case 4: drot_cbor_put_bstr(w, delta > 0 ? big : m->instance_id, (size_t)(33 + delta)); break;
    case 5: drot_cbor_put_bstr(w, delta > 0 ? big : m->drk_pub, (size_t)(65 + delta)); break;
    case 6: {
        size_t n = mut == MUT_SVNS9 ? 9 : m->num_svns;
        drot_cbor_put_map(w, n);
        for (size_t i = 0; i < n; i++) {
            drot_cbor_put_uint(w, mut == MUT_SVNDUP ? 0 : i);
            drot_cbor_put_uint(w, i + 1);
        }
        break;
    }
    case 7: drot_cbor_put_uint(w, m->tamper_state); break;
    case 8: drot_cbor_put_uint(w, m->tamper_count); break;
    case 9: drot_cbor_put_int(w, m->boot_status); break;
    case 10:
        drot_cbor_put_tstr(w, delta > 0 ? "0123456789abcdef0123456789abcdefX" : m->apm_version,
                           delta > 0 ? 33 : m->apm_version_len);
        break;
    case 12: drot_cbor_put_uint(w, m->revocation_version); break;
    default: {
        size_t n = mut == MUT_MEAS9 ? 9 : m->num_measurements;
        drot_cbor_put_array(w, n);
        for (size_t i = 0; i < n; i++) {
            const drot_link_measurement *x = &m->measurements[i % 2];
            bool drop_signer = mut == MUT_MEASBAD && i == 1;
            drot_cbor_put_map(w, drop_signer ? 3 : 4);
            drot_cbor_put_uint(w, 1);
            drot_cbor_put_tstr(w, x->type, x->type_len);
            drot_cbor_put_uint(w, 2);
            drot_cbor_put_tstr(w, x->version, x->version_len);
            drot_cbor_put_uint(w, 3);
            drot_cbor_put_bstr(w, x->digest, 32);
            if (!drop_signer) {
                drot_cbor_put_uint(w, 4);
                drot_cbor_put_bstr(w, x->signer, 32);
            }
        }
        break;
    }
    }
}

static size_t build_info(const drot_link_info *m, enum mutation mut, unsigned target, uint8_t *out,
                         size_t cap)
{
    drot_cbor_writer w;
    size_t n;
    size_t count = 12 + (mut == MUT_DUP) + (mut == MUT_UNKNOWN) - (mut == MUT_OMIT);
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, count);
    /* Written in descending key order on purpose: order is not a rule. */
    for (unsigned k = 12; k >= 1; k--) {
        if (mut == MUT_OMIT && k == target)
            continue;
        put_info_field(&w, m, k, mut, target);
        if (mut == MUT_DUP && k == target)
            put_info_field(&w, m, k, mut, target);
    }
    if (mut == MUT_UNKNOWN) {
        drot_cbor_put_uint(&w, 13);
        drot_cbor_put_uint(&w, 0);
    }
    if (mut == MUT_TRAILING)
        drot_cbor_put_null(&w);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    return n;
}

/* Test 7: GET_INFO round trip / encoder output decodes to an equal struct,
 * matches the writer-built message in content, every cut refused, and a
 * 1-byte-short buffer gives DROT_E_BUFFER with the size needed; maximum
 * counts (8 svns, 8 measurements with 32-byte strings) round-trip too. */
static void test_info_round_trip(void **state)
{
    (void)state;
    static drot_link_info m, g;
    static uint8_t out[4096];
    size_t n, n2;
    sample_info(&m);
    assert_int_equal(drot_link_info_encode(&m, out, sizeof out, &n), DROT_OK);
    memset(&g, 0xcc, sizeof g);
    assert_int_equal(drot_link_info_decode(out, n, &g), DROT_OK);
    assert_memory_equal(g.device_id, m.device_id, 16);
    assert_int_equal(g.epoch, 3);
    assert_int_equal(g.lifecycle, 0x3000);
    assert_memory_equal(g.instance_id, m.instance_id, 33);
    assert_memory_equal(g.drk_pub, m.drk_pub, 65);
    assert_int_equal(g.num_svns, 2);
    assert_int_equal(g.svns[1].svn, 0x100000000ull);
    assert_int_equal(g.tamper_count, 2);
    assert_int_equal(g.boot_status, -8);
    assert_int_equal(g.apm_version_len, 10);
    assert_memory_equal(g.apm_version, "drot-0.1.0", 10);
    assert_int_equal(g.num_measurements, 2);
    assert_memory_equal(&g.measurements[0], &m.measurements[0], sizeof m.measurements[0]);
    assert_memory_equal(&g.measurements[1], &m.measurements[1], sizeof m.measurements[1]);
    assert_true(g.revocation_version == 0x1234567890ull);
    all_cuts_refused(dec_info, out, n);
    assert_int_equal(drot_link_info_encode(&m, out, n - 1, &n2), DROT_E_BUFFER);
    assert_int_equal(n2, n);
    /* The encoder writes keys ascending: byte 1 is key 1, then bstr(16). */
    assert_int_equal(drot_link_info_encode(&m, out, sizeof out, &n), DROT_OK);
    assert_int_equal(out[0], 0xac);
    assert_int_equal(out[1], 0x01);
    assert_int_equal(out[2], 0x50);

    m.num_svns = 8;
    for (uint32_t i = 0; i < 8; i++) {
        m.svns[i].component = 7 - i;
        m.svns[i].svn = UINT64_MAX - i;
    }
    m.num_measurements = 8;
    for (size_t i = 0; i < 8; i++) {
        m.measurements[i] = m.measurements[i % 2];
        m.measurements[i].type_len = 32;
        memset(m.measurements[i].type, 'a' + (int)i, 32);
    }
    m.apm_version_len = 32;
    memset(m.apm_version, 'v', 32);
    assert_int_equal(drot_link_info_encode(&m, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_info_decode(out, n, &g), DROT_OK);
    assert_int_equal(g.num_svns, 8);
    for (size_t i = 0; i < 8; i++) { /* field by field: the struct has padding */
        assert_int_equal(g.svns[i].component, m.svns[i].component);
        assert_true(g.svns[i].svn == m.svns[i].svn);
    }
    assert_int_equal(g.num_measurements, 8);
    assert_memory_equal(g.measurements, m.measurements, sizeof m.measurements);

    /* Encoder bounds: 9 svns, a duplicate component, 9 measurements. */
    m.num_svns = 9;
    assert_int_equal(drot_link_info_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    m.num_svns = 2;
    m.svns[1].component = m.svns[0].component;
    assert_int_equal(drot_link_info_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    m.svns[1].component = m.svns[0].component + 1;
    m.num_measurements = 9;
    assert_int_equal(drot_link_info_encode(&m, out, sizeof out, &n), DROT_E_ARG);
}

/* Test 8: GET_INFO with each of the 12 fields omitted, duplicated, or of
 * the wrong type (`true`) / CLAIM_MISSING, DUPLICATE, CLAIM_INVALID; each
 * fixed-size bstr one byte short or long and a 33-byte apm_version /
 * CLAIM_INVALID; an extra key 13 / UNKNOWN_CLAIM; 9 svns or 9 measurements
 * / TOO_LARGE; a component twice / DUPLICATE; a measurement without signer
 * / CLAIM_MISSING; trailing byte / TRAILING. The unbroken build decodes. */
static void test_info_refusals(void **state)
{
    (void)state;
    static drot_link_info m;
    static uint8_t out[4096];
    size_t n;
    sample_info(&m);
    n = build_info(&m, MUT_NONE, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_OK);
    for (unsigned k = 1; k <= 12; k++) {
        n = build_info(&m, MUT_OMIT, k, out, sizeof out);
        assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_MISSING);
        n = build_info(&m, MUT_DUP, k, out, sizeof out);
        assert_int_equal(decode_exact(dec_info, out, n), DROT_E_DUPLICATE);
        n = build_info(&m, MUT_WRONGTYPE, k, out, sizeof out);
        assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_INVALID);
    }
    static const unsigned sized[] = {1, 4, 5};
    for (size_t i = 0; i < 3; i++) {
        n = build_info(&m, MUT_SHORT, sized[i], out, sizeof out);
        assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_INVALID);
        n = build_info(&m, MUT_LONG, sized[i], out, sizeof out);
        assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_INVALID);
    }
    n = build_info(&m, MUT_LONG, 10, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_INVALID);
    n = build_info(&m, MUT_UNKNOWN, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_UNKNOWN_CLAIM);
    n = build_info(&m, MUT_SVNS9, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_TOO_LARGE);
    n = build_info(&m, MUT_SVNDUP, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_DUPLICATE);
    n = build_info(&m, MUT_MEAS9, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_TOO_LARGE);
    n = build_info(&m, MUT_MEASBAD, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_MISSING);
    n = build_info(&m, MUT_TRAILING, 0, out, sizeof out);
    assert_int_equal(decode_exact(dec_info, out, n), DROT_E_TRAILING);
    /* lifecycle 2^32, then boot_status INT32_MIN - 1. */
    drot_cbor_writer w;
    for (int which = 0; which < 2; which++) {
        drot_cbor_writer_init(&w, out, sizeof out);
        drot_cbor_put_map(&w, 11);
        for (unsigned k = 1; k <= 11; k++) {
            if (k == 3 && which == 0) {
                drot_cbor_put_uint(&w, 3);
                drot_cbor_put_uint(&w, 0x100000000ull);
            } else if (k == 9 && which == 1) {
                drot_cbor_put_uint(&w, 9);
                drot_cbor_put_int(&w, (int64_t)INT32_MIN - 1);
            } else {
                put_info_field(&w, &m, k, MUT_NONE, 0);
            }
        }
        assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
        assert_int_equal(decode_exact(dec_info, out, n), DROT_E_CLAIM_INVALID);
    }
}

/* Test 9: NULL arguments / DROT_E_ARG, never a crash. */
static void test_args(void **state)
{
    (void)state;
    uint8_t out[8], nonce[32] = {0};
    size_t n;
    drot_link_info info;
    assert_int_equal(drot_link_hello_decode(NULL, 3, nonce), DROT_E_ARG);
    assert_int_equal(drot_link_hello_decode(out, 1, NULL), DROT_E_ARG);
    assert_int_equal(drot_link_hello_encode(nonce, out, sizeof out, NULL), DROT_E_ARG);
    assert_int_equal(drot_link_hello_encode(nonce, NULL, 8, &n), DROT_E_ARG);
    assert_int_equal(drot_link_info_decode(NULL, 1, &info), DROT_E_ARG);
    assert_int_equal(drot_link_info_encode(NULL, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_error_encode(NULL, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_token_resp_decode(out, 1, NULL, &n), DROT_E_ARG);
    assert_int_equal(drot_link_empty_decode(NULL, 0), DROT_E_TRUNCATED);
    drot_link_seal_req sr;
    drot_link_unseal_req ur;
    const uint8_t *bp;
    assert_int_equal(drot_link_seal_req_encode(NULL, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_seal_req_decode(out, 1, NULL), DROT_E_ARG);
    assert_int_equal(drot_link_seal_req_decode(NULL, 1, &sr), DROT_E_ARG);
    assert_int_equal(drot_link_unseal_req_encode(NULL, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_unseal_req_decode(NULL, 1, &ur), DROT_E_ARG);
    assert_int_equal(drot_link_blob_resp_encode(NULL, 32, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_blob_resp_decode(out, 1, &bp, NULL), DROT_E_ARG);
    assert_int_equal(drot_link_data_resp_encode(NULL, 1, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_data_resp_decode(out, 1, NULL, &n), DROT_E_ARG);
    /* Empty data may be NULL on encode. */
    assert_int_equal(drot_link_data_resp_encode(NULL, 0, out, sizeof out, &n), DROT_OK);
    assert_int_equal(n, 3);
}

/* ---- SEAL / UNSEAL ------------------------------------------------------- */

/* {1: label, 2: bytes} built with drot's writer, for lengths beyond the table. */
static size_t build_labelled(const char *label, size_t label_len, const uint8_t *b, size_t n, uint8_t *out,
                             size_t cap)
{
    drot_cbor_writer w;
    size_t len;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr(&w, label, label_len);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, b, n);
    assert_int_equal(drot_cbor_writer_finish(&w, &len), DROT_OK);
    return len;
}

static size_t build_bytes_resp(const uint8_t *b, size_t n, uint8_t *out, size_t cap)
{
    drot_cbor_writer w;
    size_t len;
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, b, n);
    assert_int_equal(drot_cbor_writer_finish(&w, &len), DROT_OK);
    return len;
}

/* Test 10: SEAL request with data of 0, 1 and 2048 bytes / the spec's CBOR
 * byte for byte (small case), equal after decoding with data pointing into
 * the input, every cut refused, a 1-byte-short buffer gives DROT_E_BUFFER and
 * the size needed; a 64-byte label accepted both ways; a 65-byte or empty
 * label, a bad character, and 2049 bytes of data refused by the encoder
 * (DROT_E_ARG) and the decoder (DROT_E_CLAIM_INVALID). */
static void test_seal_req(void **state)
{
    (void)state;
    static uint8_t out[4096], want[64], data[2049];
    static const size_t sizes[] = {0, 1, 2048};
    char label[65];
    size_t n, n2, wn;
    drot_link_seal_req m, g;

    fill(data, sizeof data, 0x30);
    memset(&m, 0, sizeof m);
    m.label_len = 5;
    memcpy(m.label, "key-1", 5);
    m.data = data;
    m.data_len = 3;
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_OK);
    wn = hex("a201656b65792d310243303132", want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);

    for (size_t i = 0; i < 3; i++) {
        m.data_len = sizes[i];
        assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_OK);
        memset(&g, 0xcc, sizeof g);
        assert_int_equal(drot_link_seal_req_decode(out, n, &g), DROT_OK);
        assert_int_equal(g.label_len, 5);
        assert_memory_equal(g.label, "key-1", 5);
        assert_int_equal(g.label[5], 0); /* the rest of the array is zeroed */
        assert_int_equal(g.data_len, sizes[i]);
        assert_non_null(g.data);
        assert_ptr_equal(g.data, out + n - sizes[i]); /* the data is the message's tail */
        if (sizes[i] > 0)
            assert_memory_equal(g.data, data, sizes[i]);
        all_cuts_refused(dec_seal_req, out, n);
        assert_int_equal(drot_link_seal_req_encode(&m, out, n - 1, &n2), DROT_E_BUFFER);
        assert_int_equal(n2, n);
    }
    m.data = NULL; /* allowed with no data */
    m.data_len = 0;
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_OK);
    m.data_len = 1;
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    m.data = data;

    memset(label, 'L', sizeof label);
    m.label_len = 64;
    memcpy(m.label, label, 64);
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_seal_req_decode(out, n, &g), DROT_OK);
    assert_int_equal(g.label_len, 64);
    assert_memory_equal(g.label, label, 64);
    m.label_len = 65;
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    m.label_len = 0;
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    static const char bad[] = " /\\:*\x7f\xc3+@";
    for (size_t i = 0; i < sizeof bad - 1; i++) {
        m.label_len = 3;
        memcpy(m.label, "a b", 3);
        m.label[1] = bad[i];
        assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
        n = build_labelled(m.label, 3, data, 1, out, sizeof out);
        assert_int_equal(decode_exact(dec_seal_req, out, n), DROT_E_CLAIM_INVALID);
    }
    m.label_len = 1;
    m.data_len = 2049;
    assert_int_equal(drot_link_seal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);

    n = build_labelled(label, 65, data, 1, out, sizeof out);
    assert_int_equal(decode_exact(dec_seal_req, out, n), DROT_E_CLAIM_INVALID);
    n = build_labelled(label, 64, data, 2048, out, sizeof out);
    assert_int_equal(decode_exact(dec_seal_req, out, n), DROT_OK);
    n = build_labelled(label, 64, data, 2049, out, sizeof out);
    assert_int_equal(decode_exact(dec_seal_req, out, n), DROT_E_CLAIM_INVALID);
}

/* Test 11: UNSEAL request with blobs of 32 and 2080 bytes / the spec's CBOR
 * (32), equal after decoding with the blob pointing into the input, every
 * cut refused; 31 and 2081 bytes and a bad label refused by the encoder
 * (DROT_E_ARG) and the decoder (DROT_E_CLAIM_INVALID). */
static void test_unseal_req(void **state)
{
    (void)state;
    static uint8_t out[4096], want[64], blob[2081];
    size_t n, n2, wn;
    drot_link_unseal_req m, g;

    fill(blob, sizeof blob, 0);
    memset(&m, 0, sizeof m);
    m.label_len = 2;
    memcpy(m.label, "ab", 2);
    m.blob = blob;
    m.blob_len = 32;
    assert_int_equal(drot_link_unseal_req_encode(&m, out, sizeof out, &n), DROT_OK);
    wn = hex("a2" LABEL_AB BLOB32, want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    for (size_t len = 32; len <= 2080; len += 2048) {
        m.blob_len = len;
        assert_int_equal(drot_link_unseal_req_encode(&m, out, sizeof out, &n), DROT_OK);
        memset(&g, 0xcc, sizeof g);
        assert_int_equal(drot_link_unseal_req_decode(out, n, &g), DROT_OK);
        assert_int_equal(g.label_len, 2);
        assert_memory_equal(g.label, "ab", 2);
        assert_int_equal(g.blob_len, len);
        assert_ptr_equal(g.blob, out + n - len);
        assert_memory_equal(g.blob, blob, len);
        all_cuts_refused(dec_unseal_req, out, n);
        assert_int_equal(drot_link_unseal_req_encode(&m, out, n - 1, &n2), DROT_E_BUFFER);
        assert_int_equal(n2, n);
    }
    for (size_t len = 31; len <= 2081; len += 2050) {
        m.blob_len = len;
        assert_int_equal(drot_link_unseal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
        n = build_labelled("ab", 2, blob, len, out, sizeof out);
        assert_int_equal(decode_exact(dec_unseal_req, out, n), DROT_E_CLAIM_INVALID);
    }
    m.blob_len = 32;
    m.label[1] = '~';
    assert_int_equal(drot_link_unseal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
    n = build_labelled(m.label, 2, blob, 32, out, sizeof out);
    assert_int_equal(decode_exact(dec_unseal_req, out, n), DROT_E_CLAIM_INVALID);
    m.blob = NULL;
    m.label[1] = 'b';
    assert_int_equal(drot_link_unseal_req_encode(&m, out, sizeof out, &n), DROT_E_ARG);
}

/* Test 12: SEAL and UNSEAL responses at their bounds (blob 32 and 2080,
 * data 0 and 2048) / the spec's CBOR (small cases), round trip with the view
 * pointing into the input, every cut refused; blob 31 or 2081 and data 2049
 * refused by the encoder (DROT_E_ARG) and the decoder (DROT_E_CLAIM_INVALID). */
static void test_seal_resps(void **state)
{
    (void)state;
    static uint8_t out[4096], want[64], b[2081];
    const uint8_t *v;
    size_t n, n2, vn, wn;

    fill(b, sizeof b, 0);
    assert_int_equal(drot_link_blob_resp_encode(b, 32, out, sizeof out, &n), DROT_OK);
    wn = hex("a1015820" N32, want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    assert_int_equal(drot_link_data_resp_encode(b, 0, out, sizeof out, &n), DROT_OK);
    wn = hex("a10140", want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    assert_int_equal(drot_link_data_resp_decode(out, n, &v, &vn), DROT_OK);
    assert_int_equal(vn, 0);
    assert_non_null(v);

    for (size_t len = 32; len <= 2080; len += 2048) {
        assert_int_equal(drot_link_blob_resp_encode(b, len, out, sizeof out, &n), DROT_OK);
        assert_int_equal(drot_link_blob_resp_decode(out, n, &v, &vn), DROT_OK);
        assert_int_equal(vn, len);
        assert_ptr_equal(v, out + n - len);
        assert_memory_equal(v, b, len);
        all_cuts_refused(dec_blob_resp, out, n);
        assert_int_equal(drot_link_blob_resp_encode(b, len, out, n - 1, &n2), DROT_E_BUFFER);
        assert_int_equal(n2, n);
    }
    for (size_t len = 0; len <= 2048; len += 1024) {
        assert_int_equal(drot_link_data_resp_encode(b, len, out, sizeof out, &n), DROT_OK);
        assert_int_equal(drot_link_data_resp_decode(out, n, &v, &vn), DROT_OK);
        assert_int_equal(vn, len);
        assert_ptr_equal(v, out + n - len);
        assert_memory_equal(v, b, len);
        all_cuts_refused(dec_data_resp, out, n);
    }
    for (size_t len = 31; len <= 2081; len += 2050) {
        assert_int_equal(drot_link_blob_resp_encode(b, len, out, sizeof out, &n), DROT_E_ARG);
        n = build_bytes_resp(b, len, out, sizeof out);
        assert_int_equal(decode_exact(dec_blob_resp, out, n), DROT_E_CLAIM_INVALID);
    }
    assert_int_equal(drot_link_data_resp_encode(b, 2049, out, sizeof out, &n), DROT_E_ARG);
    n = build_bytes_resp(b, 2049, out, sizeof out);
    assert_int_equal(decode_exact(dec_data_resp, out, n), DROT_E_CLAIM_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_small_round_trips),
        cmocka_unit_test(test_error_message_limit),
        cmocka_unit_test(test_measurement),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_info_round_trip),
        cmocka_unit_test(test_info_refusals),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_seal_req),
        cmocka_unit_test(test_unseal_req),
        cmocka_unit_test(test_seal_resps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
