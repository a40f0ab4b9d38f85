/*
 * test_link_fw.c — payload codecs of the firmware-install messages
 * (common/src/link_fw.c, drot/link_fw.h; docs/link.md §4).
 *
 * As test_link_msg.c: round trips against CBOR written out by hand from the
 * spec (the encoder is checked against the document, not against the
 * decoder), every cut of a valid encoding refused (exact-size heap copies,
 * so the sanitizer build catches over-reads), a table of hand-written
 * refusals that each break exactly one rule, and the limits (manifest 512,
 * chunk 2048, image 16 MiB, texts, SVNs, array sizes) at the bound and one
 * past it, built with drot's CBOR writer.
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
#include "drot/link_fw.h"
#include "drot_test_support.h"

#define N32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define N31 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e"
/* An image map: {1: "APM", 2: "1", 3: 2, 4: N32, 5: N32} without its head. */
#define IMG_BODY                                                                                             \
    "016341504d"                                                                                             \
    "026131"                                                                                                 \
    "0302"                                                                                                   \
    "045820" N32 "055820" N32

typedef drot_status (*decode_fn)(const uint8_t *p, size_t len);

static drot_status dec_begin(const uint8_t *p, size_t len)
{
    drot_link_fw_begin m;
    return drot_link_fw_begin_decode(p, len, &m);
}
static drot_status dec_begin_resp(const uint8_t *p, size_t len)
{
    drot_link_fw_begin_resp m;
    return drot_link_fw_begin_resp_decode(p, len, &m);
}
static drot_status dec_chunk(const uint8_t *p, size_t len)
{
    drot_link_fw_chunk m;
    return drot_link_fw_chunk_decode(p, len, &m);
}
static drot_status dec_received(const uint8_t *p, size_t len)
{
    uint32_t r;
    return drot_link_fw_received_decode(p, len, &r);
}
static drot_status dec_image(const uint8_t *p, size_t len)
{
    drot_link_fw_image m;
    return drot_link_fw_image_decode(p, len, &m);
}
static drot_status dec_confirm_req(const uint8_t *p, size_t len)
{
    drot_link_fw_confirm m;
    return drot_link_fw_confirm_req_decode(p, len, &m);
}
static drot_status dec_confirm_resp(const uint8_t *p, size_t len)
{
    drot_link_fw_confirm m;
    return drot_link_fw_confirm_resp_decode(p, len, &m);
}
static drot_status dec_activate(const uint8_t *p, size_t len)
{
    uint32_t a;
    return drot_link_fw_activate_decode(p, len, &a);
}
static drot_status dec_activate_resp(const uint8_t *p, size_t len)
{
    bool r;
    return drot_link_fw_activate_resp_decode(p, len, &r);
}
static drot_link_fw_status g_st;
static drot_status dec_status(const uint8_t *p, size_t len)
{
    return drot_link_fw_status_decode(p, len, &g_st);
}

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

static void all_cuts_refused(decode_fn fn, const uint8_t *p, size_t len)
{
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(decode_exact(fn, p, n), DROT_OK);
    assert_int_equal(decode_exact(fn, p, len), DROT_OK);
}

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
    char clean[2200];
    size_t k = 0;
    for (; *h != '\0' && k + 1 < sizeof clean; h++)
        if (*h != ' ')
            clean[k++] = *h;
    clean[k] = '\0';
    long n = drot_test_hex(clean, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

/* The encoding equals the hand-written hex, and decodes; every cut is refused. */
static void expect_bytes(const uint8_t *got, size_t n, const char *want_hex, decode_fn fn)
{
    uint8_t want[600];
    size_t wn = hex(want_hex, want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(got, want, n);
    all_cuts_refused(fn, got, n);
}

typedef struct vcase {
    decode_fn fn;
    const char *hex;
    drot_status want;
    const char *what;
} vcase;

static const vcase k_cases[] = {
    /* FW_BEGIN */
    {dec_begin, "a2 0143010203 0201", DROT_OK, "begin: valid, install"},
    {dec_begin, "a2 0202 0143010203", DROT_OK, "begin: keys in another order"},
    {dec_begin, "a2 0143010203 0203", DROT_E_CLAIM_INVALID, "begin: mode 3"},
    {dec_begin, "a2 0143010203 0200", DROT_E_CLAIM_INVALID, "begin: mode 0"},
    {dec_begin, "a2 0143010203 0220", DROT_E_CLAIM_INVALID, "begin: mode negative"},
    {dec_begin, "a2 0140 0201", DROT_E_CLAIM_INVALID, "begin: empty manifest"},
    {dec_begin, "a2 0163010203 0201", DROT_E_CLAIM_INVALID, "begin: manifest a text string"},
    {dec_begin, "a1 0143010203", DROT_E_CLAIM_MISSING, "begin: no mode"},
    {dec_begin, "a1 0201", DROT_E_CLAIM_MISSING, "begin: no manifest"},
    {dec_begin, "a3 0143010203 0201 0201", DROT_E_DUPLICATE, "begin: mode twice"},
    {dec_begin, "a3 0143010203 0201 0300", DROT_E_UNKNOWN_CLAIM, "begin: key 3"},
    {dec_begin, "a3 0143010203 0201 2000", DROT_E_UNKNOWN_CLAIM, "begin: negative key"},
    {dec_begin, "a2 0143010203 0201 00", DROT_E_TRAILING, "begin: trailing byte"},
    {dec_begin, "a2 01430102", DROT_E_TRUNCATED, "begin: cut in the manifest"},
    {dec_begin, "a2 015f4101ff 0201", DROT_E_UNSUPPORTED, "begin: indefinite manifest"},
    {dec_begin, "82 0102", DROT_E_MALFORMED, "begin: an array"},
    {dec_begin, "", DROT_E_TRUNCATED, "begin: nothing"},
    /* FW_BEGIN response */
    {dec_begin_resp, "a2 011932c8 02190800", DROT_OK, "begin resp: 13000, 2048"},
    {dec_begin_resp, "a2 0100 02190800", DROT_E_CLAIM_INVALID, "begin resp: size 0"},
    {dec_begin_resp, "a2 011a01000001 02190800", DROT_E_CLAIM_INVALID, "begin resp: size 16 MiB + 1"},
    {dec_begin_resp, "a2 011932c8 02190801", DROT_E_CLAIM_INVALID, "begin resp: chunk 2049"},
    {dec_begin_resp, "a2 011932c8 0200", DROT_E_CLAIM_INVALID, "begin resp: chunk 0"},
    {dec_begin_resp, "a1 011932c8", DROT_E_CLAIM_MISSING, "begin resp: no chunk"},
    /* FW_CHUNK */
    {dec_chunk, "a2 0100 0243010203", DROT_OK, "chunk: valid"},
    {dec_chunk, "a2 011a00ffffff 024100", DROT_OK, "chunk: last offset"},
    {dec_chunk, "a2 011a01000000 024100", DROT_E_CLAIM_INVALID, "chunk: offset 16 MiB"},
    {dec_chunk, "a2 0120 024100", DROT_E_CLAIM_INVALID, "chunk: negative offset"},
    {dec_chunk, "a2 0100 0240", DROT_E_CLAIM_INVALID, "chunk: empty data"},
    {dec_chunk, "a2 0100 0261 41", DROT_E_CLAIM_INVALID, "chunk: data a text string"},
    {dec_chunk, "a1 0100", DROT_E_CLAIM_MISSING, "chunk: no data"},
    {dec_chunk, "a3 0100 024100 0100", DROT_E_DUPLICATE, "chunk: offset twice"},
    {dec_chunk, "a2 0100 024100 ff", DROT_E_TRAILING, "chunk: trailing byte"},
    /* FW_CHUNK response */
    {dec_received, "a1 011932c8", DROT_OK, "received: 13000"},
    {dec_received, "a1 011a01000000", DROT_OK, "received: 16 MiB"},
    {dec_received, "a1 011a01000001", DROT_E_CLAIM_INVALID, "received: 16 MiB + 1"},
    {dec_received, "a1 0240", DROT_E_UNKNOWN_CLAIM, "received: key 2"},
    /* an image (FW_FINISH response) */
    {dec_image, "a5" IMG_BODY, DROT_OK, "image: valid"},
    {dec_image, "a5 016341 0a4d 026131 0302 045820" N32 "055820" N32, DROT_E_CLAIM_INVALID,
     "image: a control character in the component"},
    {dec_image, "a5 0162c3a9 026131 0302 045820" N32 "055820" N32, DROT_E_CLAIM_INVALID,
     "image: a non-ASCII component (valid UTF-8)"},
    {dec_image, "a5 0160 026131 0302 045820" N32 "055820" N32, DROT_E_CLAIM_INVALID,
     "image: empty component"},
    {dec_image, "a5 0163 41504d 0260 0302 045820" N32 "055820" N32, DROT_E_CLAIM_INVALID,
     "image: empty version"},
    {dec_image, "a5 0163 41504d 026131 031840 045820" N32 "055820" N32, DROT_E_CLAIM_INVALID,
     "image: svn 64"},
    {dec_image, "a5 0163 41504d 026131 0302 04581f" N31 "055820" N32, DROT_E_CLAIM_INVALID,
     "image: digest 31 bytes"},
    {dec_image, "a4 0163 41504d 026131 0302 045820" N32, DROT_E_CLAIM_MISSING, "image: no signer"},
    {dec_image, "a6" IMG_BODY "0600", DROT_E_UNKNOWN_CLAIM, "image: key 6"},
    /* FW_CONFIRM */
    {dec_confirm_req, "a1 0167484f53542d4f53", DROT_OK, "confirm: HOST-OS"},
    {dec_confirm_req, "a2 0163 41504d 0202", DROT_E_UNKNOWN_CLAIM, "confirm: a svn in the request"},
    {dec_confirm_req, "a1 0171 4141414141414141414141414141414141", DROT_E_CLAIM_INVALID,
     "confirm: 17 chars"},
    {dec_confirm_req, "a0", DROT_E_CLAIM_MISSING, "confirm: empty"},
    {dec_confirm_resp, "a2 0163 41504d 021840", DROT_OK, "confirm resp: fuse 64"},
    {dec_confirm_resp, "a2 0163 41504d 021841", DROT_E_CLAIM_INVALID, "confirm resp: fuse 65"},
    {dec_confirm_resp, "a1 0163 41504d", DROT_E_CLAIM_MISSING, "confirm resp: no svn"},
    /* FW_ACTIVATE */
    {dec_activate, "a1 0101", DROT_OK, "activate: trial"},
    {dec_activate, "a1 0102", DROT_OK, "activate: abort"},
    {dec_activate, "a1 0103", DROT_E_CLAIM_INVALID, "activate: action 3"},
    {dec_activate, "a1 0100", DROT_E_CLAIM_INVALID, "activate: action 0"},
    {dec_activate, "a1 01f5", DROT_E_CLAIM_INVALID, "activate: a bool"},
    {dec_activate, "a0", DROT_E_CLAIM_MISSING, "activate: empty"},
    {dec_activate_resp, "a1 01f5", DROT_OK, "activate resp: true"},
    {dec_activate_resp, "a1 01f4", DROT_OK, "activate resp: false"},
    {dec_activate_resp, "a1 01f6", DROT_E_CLAIM_INVALID, "activate resp: null"},
    {dec_activate_resp, "a1 0101", DROT_E_CLAIM_INVALID, "activate resp: an integer"},
    {dec_activate_resp, "a1 01f5 f5", DROT_E_TRAILING, "activate resp: trailing"},
};

/* Test 1: every row of the table / its expected status. */
static void test_table(void **state)
{
    (void)state;
    uint8_t buf[600];
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const vcase *c = &k_cases[i];
        size_t n = hex(c->hex, buf, sizeof buf);
        drot_status st = decode_exact(c->fn, buf, n);
        if (st != c->want)
            print_error("row %zu (%s): got %d, want %d\n", i, c->what, st, c->want);
        assert_int_equal(st, c->want);
    }
}

/* Test 2: every small message encoded / the spec's bytes, decoded back
 * equal, every cut refused; DROT_E_BUFFER with the size needed. */
static void test_round_trips(void **state)
{
    (void)state;
    uint8_t out[600], data[2] = {1, 2}, man[3] = {0xaa, 0xbb, 0xcc};
    size_t n;

    drot_link_fw_begin b = {man, 3, DROT_LINK_FW_MODE_VERIFY}, b2;
    assert_int_equal(drot_link_fw_begin_encode(&b, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a2 0143aabbcc 0202", dec_begin);
    assert_int_equal(drot_link_fw_begin_decode(out, n, &b2), DROT_OK);
    assert_int_equal(b2.manifest_len, 3);
    assert_ptr_equal(b2.manifest, out + 3); /* a view, not a copy */
    assert_int_equal(b2.mode, DROT_LINK_FW_MODE_VERIFY);
    assert_int_equal(drot_link_fw_begin_encode(&b, out, 5, &n), DROT_E_BUFFER);
    assert_int_equal(n, 8);

    drot_link_fw_begin_resp r = {13000, 2048}, r2;
    assert_int_equal(drot_link_fw_begin_resp_encode(&r, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a2 011932c8 02190800", dec_begin_resp);
    assert_int_equal(drot_link_fw_begin_resp_decode(out, n, &r2), DROT_OK);
    assert_int_equal(r2.size, 13000);
    assert_int_equal(r2.chunk, 2048);

    drot_link_fw_chunk c = {0x1000, data, 2}, c2;
    assert_int_equal(drot_link_fw_chunk_encode(&c, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a2 01191000 02420102", dec_chunk);
    assert_int_equal(drot_link_fw_chunk_decode(out, n, &c2), DROT_OK);
    assert_int_equal(c2.offset, 0x1000);
    assert_int_equal(c2.data_len, 2);
    assert_memory_equal(c2.data, data, 2);

    uint32_t got = 0;
    assert_int_equal(drot_link_fw_received_encode(13000, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a1 011932c8", dec_received);
    assert_int_equal(drot_link_fw_received_decode(out, n, &got), DROT_OK);
    assert_int_equal(got, 13000);

    drot_link_fw_image im, im2;
    memset(&im, 0, sizeof im);
    im.component_len = 3;
    memcpy(im.component, "APM", 3);
    im.version_len = 1;
    im.version[0] = '1';
    im.svn = 2;
    for (int i = 0; i < 32; i++)
        im.digest[i] = im.signer[i] = (uint8_t)i;
    assert_int_equal(drot_link_fw_image_encode(&im, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a5" IMG_BODY, dec_image);
    assert_int_equal(drot_link_fw_image_decode(out, n, &im2), DROT_OK);
    assert_memory_equal(&im, &im2, sizeof im);

    drot_link_fw_confirm f = {7, "HOST-OS", 0}, f2;
    assert_int_equal(drot_link_fw_confirm_req_encode(&f, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a1 0167484f53542d4f53", dec_confirm_req);
    f.svn = 5;
    assert_int_equal(drot_link_fw_confirm_resp_encode(&f, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a2 0167484f53542d4f53 0205", dec_confirm_resp);
    assert_int_equal(drot_link_fw_confirm_resp_decode(out, n, &f2), DROT_OK);
    assert_int_equal(f2.svn, 5);
    assert_int_equal(f2.component_len, 7);

    uint32_t a = 0;
    bool reset = false;
    assert_int_equal(drot_link_fw_activate_encode(DROT_LINK_FW_ACTIVATE_ABORT, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a1 0102", dec_activate);
    assert_int_equal(drot_link_fw_activate_decode(out, n, &a), DROT_OK);
    assert_int_equal(a, DROT_LINK_FW_ACTIVATE_ABORT);
    assert_int_equal(drot_link_fw_activate_resp_encode(true, out, sizeof out, &n), DROT_OK);
    expect_bytes(out, n, "a1 01f5", dec_activate_resp);
    assert_int_equal(drot_link_fw_activate_resp_decode(out, n, &reset), DROT_OK);
    assert_true(reset);
}

/* Test 3: the bounds / manifest 512 and chunk 2048 bytes accepted both
 * ways, 513 and 2049 refused by the encoder (DROT_E_ARG) and by the decoder
 * (DROT_E_CLAIM_INVALID, built with the writer); texts of 16 and 32
 * printable characters accepted, 17 / 33 / a control character refused;
 * NULL arguments DROT_E_ARG. */
static void test_bounds(void **state)
{
    (void)state;
    static uint8_t big[DROT_LINK_FW_CHUNK_MAX + 1], out[DROT_LINK_FW_CHUNK_MAX + 64];
    size_t n;
    drot_cbor_writer w;
    memset(big, 0x5a, sizeof big);

    drot_link_fw_begin b = {big, DROT_LINK_FW_MANIFEST_MAX, DROT_LINK_FW_MODE_INSTALL}, b2;
    assert_int_equal(drot_link_fw_begin_encode(&b, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_fw_begin_decode(out, n, &b2), DROT_OK);
    b.manifest_len++;
    assert_int_equal(drot_link_fw_begin_encode(&b, out, sizeof out, &n), DROT_E_ARG);
    drot_cbor_writer_init(&w, out, sizeof out);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_bstr(&w, big, DROT_LINK_FW_MANIFEST_MAX + 1);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, 1);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    assert_int_equal(decode_exact(dec_begin, out, n), DROT_E_CLAIM_INVALID);

    drot_link_fw_chunk c = {0, big, DROT_LINK_FW_CHUNK_MAX}, c2;
    assert_int_equal(drot_link_fw_chunk_encode(&c, out, sizeof out, &n), DROT_OK);
    assert_true(n <= DROT_LINK_MAX_PAYLOAD);
    assert_int_equal(drot_link_fw_chunk_decode(out, n, &c2), DROT_OK);
    c.data_len++;
    assert_int_equal(drot_link_fw_chunk_encode(&c, out, sizeof out, &n), DROT_E_ARG);
    c.data_len = 1;
    c.offset = DROT_LINK_FW_IMAGE_MAX;
    assert_int_equal(drot_link_fw_chunk_encode(&c, out, sizeof out, &n), DROT_E_ARG);
    drot_cbor_writer_init(&w, out, sizeof out);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, 0);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_bstr(&w, big, DROT_LINK_FW_CHUNK_MAX + 1);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    assert_int_equal(decode_exact(dec_chunk, out, n), DROT_E_CLAIM_INVALID);

    drot_link_fw_confirm f;
    memset(&f, 0, sizeof f);
    f.component_len = 16;
    memset(f.component, 'C', 16);
    assert_int_equal(drot_link_fw_confirm_req_encode(&f, out, sizeof out, &n), DROT_OK);
    f.component_len = 17;
    assert_int_equal(drot_link_fw_confirm_req_encode(&f, out, sizeof out, &n), DROT_E_ARG);
    f.component_len = 2;
    f.component[1] = '\n';
    assert_int_equal(drot_link_fw_confirm_req_encode(&f, out, sizeof out, &n), DROT_E_ARG);

    drot_link_fw_image im;
    memset(&im, 0, sizeof im);
    im.component_len = 1;
    im.component[0] = 'A';
    im.version_len = 32;
    memset(im.version, 'v', 32);
    assert_int_equal(drot_link_fw_image_encode(&im, out, sizeof out, &n), DROT_OK);
    im.svn = 64;
    assert_int_equal(drot_link_fw_image_encode(&im, out, sizeof out, &n), DROT_E_ARG);
    im.svn = 0;
    im.version_len = 33;
    assert_int_equal(drot_link_fw_image_encode(&im, out, sizeof out, &n), DROT_E_ARG);

    assert_int_equal(drot_link_fw_begin_encode(NULL, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_fw_begin_decode(NULL, 3, &b2), DROT_E_ARG);
    assert_int_equal(drot_link_fw_status_decode(out, n, NULL), DROT_E_ARG);
    assert_int_equal(drot_link_fw_activate_encode(3, out, sizeof out, &n), DROT_E_ARG);
    assert_int_equal(drot_link_fw_received_encode(DROT_LINK_FW_IMAGE_MAX + 1, out, sizeof out, &n),
                     DROT_E_ARG);
}

static void sample_status(drot_link_fw_status *s)
{
    memset(s, 0, sizeof *s);
    s->running = 1;
    s->active = 0;
    s->trial = DROT_LINK_FW_TRIAL_TRYING;
    s->last = DROT_LINK_FW_LAST_RESET;
    s->slots[0].status = 0;
    s->slots[0].version_len = 5;
    memcpy(s->slots[0].version, "1.2.3", 5);
    s->slots[0].svn = 1;
    s->slots[1].status = -104;
    for (uint32_t c = 0; c < 3; c++) {
        s->svns[c].component = c;
        s->svns[c].svn = c * 3;
    }
    s->num_svns = 3;
    s->num_pending = 1;
    s->pending[0].component_len = 7;
    memcpy(s->pending[0].component, "HOST-OS", 7);
    s->pending[0].version_len = 2;
    memcpy(s->pending[0].version, "v9", 2);
    s->pending[0].svn = 9;
    s->session_mode = DROT_LINK_FW_MODE_INSTALL;
    s->session_component_len = 3;
    memcpy(s->session_component, "APM", 3);
    s->session_received = 2048;
    s->session_size = 13000;
}

/* A status with one field changed, encoded field by field with the writer
 * (the encoder would refuse it). `bad` picks the change. */
static size_t status_with(int bad, uint8_t *out, size_t cap)
{
    drot_link_fw_status s;
    drot_cbor_writer w;
    size_t n = 0;
    sample_status(&s);
    drot_cbor_writer_init(&w, out, cap);
    drot_cbor_put_map(&w, 8);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, bad == 1 ? 2 : s.running);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, s.active);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, bad == 2 ? 3 : s.trial);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_uint(&w, s.last);
    drot_cbor_put_uint(&w, 5);
    size_t nslots = bad == 3 ? 1 : (bad == 4 ? 3 : 2);
    drot_cbor_put_array(&w, nslots);
    for (size_t i = 0; i < nslots; i++) {
        drot_cbor_put_map(&w, 4);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_int(&w, s.slots[i % 2].status);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_tstr(&w, s.slots[i % 2].version, s.slots[i % 2].version_len);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_uint(&w, bad == 5 ? 64 : s.slots[i % 2].svn);
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_bstr(&w, s.slots[i % 2].digest, 32);
    }
    drot_cbor_put_uint(&w, 6);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_uint(&w, 0);
    drot_cbor_put_uint(&w, bad == 6 ? 65 : 1);
    drot_cbor_put_uint(&w, bad == 7 ? 0 : 1);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, 7);
    size_t npend = bad == 8 ? DROT_LINK_FW_PENDING_MAX + 1 : 1;
    drot_cbor_put_array(&w, npend);
    for (size_t i = 0; i < npend; i++) {
        drot_cbor_put_map(&w, 5);
        drot_cbor_put_uint(&w, 1);
        drot_cbor_put_tstr(&w, "HOST-OS", 7);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_tstr(&w, "v9", 2);
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_uint(&w, 9);
        drot_cbor_put_uint(&w, 4);
        drot_cbor_put_bstr(&w, s.pending[0].digest, 32);
        drot_cbor_put_uint(&w, 5);
        drot_cbor_put_bstr(&w, s.pending[0].signer, 32);
    }
    drot_cbor_put_uint(&w, 8);
    drot_cbor_put_map(&w, 4);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, s.session_mode);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_tstr(&w, "APM", 3);
    drot_cbor_put_uint(&w, 3);
    drot_cbor_put_uint(&w, bad == 9 ? 13001 : s.session_received);
    drot_cbor_put_uint(&w, 4);
    drot_cbor_put_uint(&w, s.session_size);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    return n;
}

/* Test 4: FW_STATUS / a full status round-trips field for field, every cut
 * is refused, the writer-built copy of it is accepted; then each broken
 * field is refused: running slot 2, trial 3, one or three slots, a slot
 * SVN of 64, a fuse of 65, a component twice in the fuses, five pending
 * entries, more received than the size; the encoder refuses what the
 * decoder would. */
static void test_status(void **state)
{
    (void)state;
    static uint8_t out[2048];
    drot_link_fw_status s, s2;
    size_t n;
    sample_status(&s);
    assert_int_equal(drot_link_fw_status_encode(&s, out, sizeof out, &n), DROT_OK);
    assert_int_equal(drot_link_fw_status_decode(out, n, &s2), DROT_OK);
    assert_memory_equal(&s, &s2, sizeof s);
    all_cuts_refused(dec_status, out, n);

    static const struct {
        int bad;
        drot_status want;
    } cases[] = {{0, DROT_OK},
                 {1, DROT_E_CLAIM_INVALID},
                 {2, DROT_E_CLAIM_INVALID},
                 {3, DROT_E_CLAIM_INVALID},
                 {4, DROT_E_TOO_LARGE},
                 {5, DROT_E_CLAIM_INVALID},
                 {6, DROT_E_CLAIM_INVALID},
                 {7, DROT_E_DUPLICATE},
                 {8, DROT_E_TOO_LARGE},
                 {9, DROT_E_CLAIM_INVALID}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = status_with(cases[i].bad, out, sizeof out);
        drot_status st = decode_exact(dec_status, out, n);
        if (st != cases[i].want)
            print_error("status case %d: got %d, want %d\n", cases[i].bad, st, cases[i].want);
        assert_int_equal(st, cases[i].want);
    }

    s.running = 2;
    assert_int_equal(drot_link_fw_status_encode(&s, out, sizeof out, &n), DROT_E_ARG);
    sample_status(&s);
    s.session_received = s.session_size + 1;
    assert_int_equal(drot_link_fw_status_encode(&s, out, sizeof out, &n), DROT_E_ARG);
    sample_status(&s);
    s.svns[1].component = 0;
    assert_int_equal(drot_link_fw_status_encode(&s, out, sizeof out, &n), DROT_E_ARG);
    sample_status(&s);
    s.num_pending = DROT_LINK_FW_PENDING_MAX + 1;
    assert_int_equal(drot_link_fw_status_encode(&s, out, sizeof out, &n), DROT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests_name("link_fw", tests, NULL, NULL);
}
