/*
 * test_cbor.c — the bounded CBOR writer/reader (common/src/cbor.c).
 *
 * Known encodings come from RFC 8949 Appendix A, so the writer is checked
 * against an outside reference, not against the reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cbor.h"

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* Test 1: integers, RFC 8949 Appendix A / shortest-form heads byte for byte. */
static void test_writer_integers(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        uint8_t enc[9];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {23, {0x17}, 1},
        {24, {0x18, 0x18}, 2},
        {100, {0x18, 0x64}, 2},
        {1000, {0x19, 0x03, 0xe8}, 3},
        {1000000, {0x1a, 0x00, 0x0f, 0x42, 0x40}, 5},
        {1000000000000, {0x1b, 0x00, 0x00, 0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00}, 9},
        {-1, {0x20}, 1},
        {-10, {0x29}, 1},
        {-100, {0x38, 0x63}, 2},
        {-1000, {0x39, 0x03, 0xe7}, 3},
        {-65537, {0x3a, 0x00, 0x01, 0x00, 0x00}, 5},
        {INT64_MIN, {0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[16];
        size_t n;
        drot_cbor_writer w;
        drot_cbor_writer_init(&w, buf, sizeof buf);
        drot_cbor_put_int(&w, cases[i].v);
        assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
        expect_bytes(buf, n, cases[i].enc, cases[i].n);

        int64_t back;
        drot_cbor_reader r;
        drot_cbor_reader_init(&r, buf, n);
        assert_int_equal(drot_cbor_get_int(&r, &back), DROT_OK);
        assert_true(back == cases[i].v);
        assert_int_equal(drot_cbor_reader_done(&r), DROT_OK);
    }
    /* 18446744073709551615 (RFC 8949 A) as uint */
    uint8_t buf[9];
    size_t n;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_uint(&w, UINT64_MAX);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    static const uint8_t umax[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_bytes(buf, n, umax, sizeof umax);
}

/* Test 2: strings, arrays, maps, tags, simple values; RFC 8949 A examples. */
static void test_writer_structures(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n;
    drot_cbor_writer w;

    /* {"a": 1, "b": [2, 3]} = a2 61 61 01 61 62 82 02 03 */
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 2);
    drot_cbor_put_tstr_z(&w, "a");
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_tstr_z(&w, "b");
    drot_cbor_put_array(&w, 2);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, 3);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    static const uint8_t map[] = {0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x82, 0x02, 0x03};
    expect_bytes(buf, n, map, sizeof map);

    /* 23(h'01020304') = d7 44 01 02 03 04 ; false, true, null = f4 f5 f6 */
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_tag(&w, 23);
    drot_cbor_put_bstr(&w, "\x01\x02\x03\x04", 4);
    drot_cbor_put_bool(&w, false);
    drot_cbor_put_bool(&w, true);
    drot_cbor_put_null(&w);
    drot_cbor_put_bstr(&w, NULL, 0);
    drot_cbor_put_tstr(&w, NULL, 0);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    static const uint8_t misc[] = {0xd7, 0x44, 0x01, 0x02, 0x03, 0x04, 0xf4, 0xf5, 0xf6, 0x40, 0x60};
    expect_bytes(buf, n, misc, sizeof misc);
}

/* Test 3: overflow is sticky and reports the size needed; measure mode. */
static void test_writer_overflow(void **state)
{
    (void)state;
    uint8_t buf[4];
    size_t n;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_bstr(&w, "0123456789", 10); /* 11 bytes */
    drot_cbor_put_uint(&w, 1000);             /* 3 more */
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_E_BUFFER);
    assert_int_equal(n, 14);

    drot_cbor_writer_init(&w, NULL, 0);
    drot_cbor_put_array(&w, 1);
    drot_cbor_put_tstr_z(&w, "hello");
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_E_BUFFER);
    assert_int_equal(n, 7);

    /* exactly fitting succeeds */
    uint8_t seven[7];
    drot_cbor_writer_init(&w, seven, sizeof seven);
    drot_cbor_put_array(&w, 1);
    drot_cbor_put_tstr_z(&w, "hello");
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
    assert_int_equal(n, 7);

    /* NULL data with a length is a caller error */
    drot_cbor_writer_init(&w, seven, sizeof seven);
    drot_cbor_put_bstr(&w, NULL, 3);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_E_ARG);

    /* the first error stays: an overflow, then a caller error */
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_bstr(&w, "0123456789", 10);
    drot_cbor_put_tstr(&w, NULL, 2);
    assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_E_BUFFER);
}

/* Test 4: reader walks a nested structure and returns zero-copy slices. */
static void test_reader_structure(void **state)
{
    (void)state;
    /* [h'0102', "xy", {1: -7}, 18(true), null] */
    static const uint8_t in[] = {0x85, 0x42, 0x01, 0x02, 0x62, 'x', 'y', 0xa1, 0x01, 0x26, 0xd2, 0xf5, 0xf6};
    drot_cbor_reader r;
    size_t n;
    const uint8_t *b;
    const char *t;
    uint64_t u;
    int64_t i;
    bool flag;
    drot_cbor_type ty;

    drot_cbor_reader_init(&r, in, sizeof in);
    assert_int_equal(drot_cbor_peek(&r, &ty), DROT_OK);
    assert_int_equal(ty, DROT_CBOR_ARRAY);
    assert_int_equal(drot_cbor_get_array(&r, &n), DROT_OK);
    assert_int_equal(n, 5);
    assert_int_equal(drot_cbor_get_bstr(&r, &b, &n), DROT_OK);
    assert_ptr_equal(b, in + 2);
    assert_int_equal(n, 2);
    assert_int_equal(drot_cbor_get_tstr(&r, &t, &n), DROT_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(t, "xy", 2);
    assert_int_equal(drot_cbor_get_map(&r, &n), DROT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(drot_cbor_get_uint(&r, &u), DROT_OK);
    assert_int_equal(u, 1);
    assert_int_equal(drot_cbor_get_int(&r, &i), DROT_OK);
    assert_int_equal(i, -7);
    assert_int_equal(drot_cbor_get_tag(&r, &u), DROT_OK);
    assert_int_equal(u, 18);
    assert_int_equal(drot_cbor_get_bool(&r, &flag), DROT_OK);
    assert_true(flag);
    assert_int_equal(drot_cbor_get_null(&r), DROT_OK);
    assert_int_equal(drot_cbor_reader_done(&r), DROT_OK);

    /* skip consumes exactly the whole item */
    drot_cbor_reader_init(&r, in, sizeof in);
    assert_int_equal(drot_cbor_skip(&r), DROT_OK);
    assert_int_equal(r.off, sizeof in);
}

/* Test 5: wrong type leaves the cursor where it was. */
static void test_reader_wrong_type(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x62, 'h', 'i'};
    drot_cbor_reader r;
    const uint8_t *b;
    size_t n;
    uint64_t u;
    drot_cbor_reader_init(&r, in, sizeof in);
    assert_int_equal(drot_cbor_get_bstr(&r, &b, &n), DROT_E_MALFORMED);
    assert_int_equal(drot_cbor_get_uint(&r, &u), DROT_E_MALFORMED);
    assert_int_equal(drot_cbor_get_null(&r), DROT_E_MALFORMED);
    assert_int_equal(r.off, 0);
    assert_int_equal(drot_cbor_reader_done(&r), DROT_E_TRAILING);
}

/* Test 6: every truncation of a valid item is refused, never over-read. */
static void test_reader_truncation(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x83, 0x19, 0x03, 0xe8, 0x45, 1, 2, 3, 4, 5,
                                 0xa1, 0x61, 'k',  0xc1, 0x1a, 0, 0, 0, 1};
    for (size_t len = 0; len < sizeof in; len++) {
        drot_cbor_reader r;
        drot_cbor_reader_init(&r, in, len);
        drot_status st = drot_cbor_skip(&r);
        assert_true(st == DROT_E_TRUNCATED);
        assert_int_equal(r.off, 0);
    }
    drot_cbor_reader r;
    drot_cbor_reader_init(&r, in, sizeof in);
    assert_int_equal(drot_cbor_skip(&r), DROT_OK);
}

/* Test 7: indefinite lengths, reserved heads, huge lengths and counts. */
static void test_reader_rejects(void **state)
{
    (void)state;
    static const struct {
        uint8_t in[12];
        size_t n;
        drot_status want;
    } cases[] = {
        {{0x5f, 0x41, 0x00, 0xff}, 4, DROT_E_UNSUPPORTED}, /* indefinite bstr */
        {{0x9f, 0x01, 0xff}, 3, DROT_E_UNSUPPORTED},       /* indefinite array */
        {{0xbf, 0x01, 0x02, 0xff}, 4, DROT_E_UNSUPPORTED}, /* indefinite map */
        {{0xff}, 1, DROT_E_UNSUPPORTED},                   /* lone break */
        {{0x1c}, 1, DROT_E_MALFORMED},                     /* reserved additional info 28 */
        {{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0x00},
         10,
         DROT_E_TRUNCATED},                                                            /* 2^64-16 byte bstr */
        {{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, DROT_E_TRUNCATED}, /* 2^64-1 items */
        {{0xbb, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}, 9, DROT_E_TRUNCATED}, /* 2*n overflows */
        {{0x82, 0x01}, 2, DROT_E_TRUNCATED}, /* array of 2 with 1 item */
        /* 8-byte lengths of 2^32 + 2 over 2 bytes of content: on a 32-bit
         * size_t these would read as 2, so they are refused before libcbor */
        {{0x5b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x41, 0x42}, 11, DROT_E_TRUNCATED},
        {{0x7b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x41, 0x42}, 11, DROT_E_TRUNCATED},
        {{0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02}, 11, DROT_E_TRUNCATED},
        {{0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02}, 11, DROT_E_TRUNCATED},
        {{0x5b, 0x00, 0x00, 0x00, 0x00}, 5, DROT_E_TRUNCATED}, /* head itself cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        drot_cbor_reader r;
        drot_cbor_reader_init(&r, cases[i].in, cases[i].n);
        drot_status st = drot_cbor_skip(&r);
        if (st != cases[i].want)
            fail_msg("case %zu: got %d want %d", i, st, cases[i].want);
        assert_int_equal(r.off, 0);
    }

    /* a non-shortest 8-byte length that fits is accepted: h'4142' */
    static const uint8_t long_head[] = {0x5b, 0, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x42};
    drot_cbor_reader lr;
    const uint8_t *lp;
    size_t ln;
    drot_cbor_reader_init(&lr, long_head, sizeof long_head);
    assert_int_equal(drot_cbor_get_bstr(&lr, &lp, &ln), DROT_OK);
    assert_int_equal(ln, 2);
    assert_int_equal(drot_cbor_reader_done(&lr), DROT_OK);

    /* int64 range */
    static const uint8_t big[] = {0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t bigneg[] = {0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0};
    drot_cbor_reader r;
    int64_t v;
    uint64_t u;
    drot_cbor_reader_init(&r, big, sizeof big);
    assert_int_equal(drot_cbor_get_int(&r, &v), DROT_E_TOO_LARGE);
    assert_int_equal(drot_cbor_get_uint(&r, &u), DROT_OK);
    assert_true(u == (uint64_t)1 << 63);
    drot_cbor_reader_init(&r, bigneg, sizeof bigneg);
    assert_int_equal(drot_cbor_get_int(&r, &v), DROT_E_TOO_LARGE);

    /* empty input */
    drot_cbor_reader_init(&r, NULL, 0);
    assert_int_equal(drot_cbor_skip(&r), DROT_E_TRUNCATED);
    assert_int_equal(drot_cbor_reader_done(&r), DROT_OK);
}

/* Test 8: nesting beyond DROT_CBOR_MAX_DEPTH is refused by skip; at the limit it passes. */
/* Test 8b: every one-byte tag head 0xc0..0xd7 reads as tags 0..23 (libcbor 0.8 work-around). */
static void test_reader_small_tags(void **state)
{
    (void)state;
    for (int t = 0; t < 24; t++) {
        uint8_t in[2] = {(uint8_t)(0xc0 + t), 0x00};
        drot_cbor_reader r;
        uint64_t tag;
        drot_cbor_reader_init(&r, in, sizeof in);
        assert_int_equal(drot_cbor_get_tag(&r, &tag), DROT_OK);
        assert_int_equal(tag, (uint64_t)t);
        assert_int_equal(r.off, 1);
        drot_cbor_reader_init(&r, in, sizeof in);
        assert_int_equal(drot_cbor_skip(&r), DROT_OK);
        assert_int_equal(r.off, 2);
    }
}

static void test_reader_depth(void **state)
{
    (void)state;
    uint8_t deep[DROT_CBOR_MAX_DEPTH + 2];
    drot_cbor_reader r;

    /* MAX_DEPTH nested one-element arrays around 0: accepted */
    memset(deep, 0x81, DROT_CBOR_MAX_DEPTH);
    deep[DROT_CBOR_MAX_DEPTH] = 0x00;
    drot_cbor_reader_init(&r, deep, DROT_CBOR_MAX_DEPTH + 1);
    assert_int_equal(drot_cbor_skip(&r), DROT_OK);

    /* one more level: refused */
    memset(deep, 0x81, DROT_CBOR_MAX_DEPTH + 1);
    deep[DROT_CBOR_MAX_DEPTH + 1] = 0x00;
    drot_cbor_reader_init(&r, deep, sizeof deep);
    assert_int_equal(drot_cbor_skip(&r), DROT_E_DEPTH);
    assert_int_equal(r.off, 0);

    /* tags nest too */
    memset(deep, 0xd8, sizeof deep); /* 0xd8 0xd8 = tag(216) repeated */
    drot_cbor_reader_init(&r, deep, sizeof deep);
    assert_true(drot_cbor_skip(&r) != DROT_OK);
}

/* Test 9: every single-byte input is handled without crashing; property:
 * skip either fails without moving, or consumes 1..len bytes. */
static void test_reader_all_heads(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        uint8_t in[10] = {(uint8_t)b, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (size_t len = 1; len <= sizeof in; len++) {
            drot_cbor_reader r;
            drot_cbor_reader_init(&r, in, len);
            drot_status st = drot_cbor_skip(&r);
            if (st == DROT_OK)
                assert_true(r.off >= 1 && r.off <= len);
            else
                assert_int_equal(r.off, 0);
        }
    }
}

/* The keyed map reader: what every closed map drot signs goes through. */
typedef struct kctx {
    uint64_t v[4];
    unsigned calls;
    drot_status fail_on_3;
} kctx;

static drot_status kfield(drot_cbor_reader *r, unsigned key, void *ctx)
{
    kctx *c = ctx;
    c->calls++;
    if (key == 3 && c->fail_on_3 != DROT_OK)
        return c->fail_on_3;
    return drot_cbor_get_uint(r, &c->v[key]);
}

static drot_status keyed(const uint8_t *p, size_t n, uint32_t allowed, kctx *c, uint32_t *seen)
{
    return drot_cbor_read_keyed_map(p, n, allowed, kfield, c, seen);
}

static void test_reader_keyed_map(void **state)
{
    (void)state;
    const uint32_t allowed = (1u << 1) | (1u << 2) | (1u << 3);
    uint32_t seen = 99;
    kctx c;

    /* {2: 7, 1: 5}: any order; seen names the keys found */
    static const uint8_t ok[] = {0xa2, 0x02, 0x07, 0x01, 0x05};
    memset(&c, 0, sizeof c);
    assert_int_equal(keyed(ok, sizeof ok, allowed, &c, &seen), DROT_OK);
    assert_int_equal(seen, (1u << 1) | (1u << 2));
    assert_int_equal(c.v[1], 5);
    assert_int_equal(c.v[2], 7);
    assert_int_equal(c.calls, 2);
    /* {} is a map with nothing seen */
    static const uint8_t empty[] = {0xa0};
    assert_int_equal(keyed(empty, 1, allowed, &c, &seen), DROT_OK);
    assert_int_equal(seen, 0);

    static const uint8_t not_map[] = {0x82, 0x01, 0x02};
    static const uint8_t unknown[] = {0xa1, 0x04, 0x00};       /* key 4 not allowed */
    static const uint8_t too_big[] = {0xa1, 0x18, 0x20, 0x00}; /* key 32 */
    static const uint8_t text_key[] = {0xa1, 0x61, 0x61, 0x00};
    static const uint8_t neg_key[] = {0xa1, 0x20, 0x00};
    static const uint8_t dup[] = {0xa2, 0x01, 0x00, 0x01, 0x00};
    static const uint8_t trailing[] = {0xa1, 0x01, 0x00, 0x00};
    static const uint8_t truncated[] = {0xa2, 0x01, 0x00, 0x02};
    static const uint8_t key3[] = {0xa1, 0x03, 0x00};
    memset(&c, 0, sizeof c);
    assert_int_equal(keyed(not_map, sizeof not_map, allowed, &c, &seen), DROT_E_MALFORMED);
    assert_int_equal(keyed(unknown, sizeof unknown, allowed, &c, &seen), DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(keyed(too_big, sizeof too_big, 0xffffffffu, &c, &seen), DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(keyed(text_key, sizeof text_key, allowed, &c, &seen), DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(keyed(neg_key, sizeof neg_key, allowed, &c, &seen), DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(keyed(dup, sizeof dup, allowed, &c, &seen), DROT_E_DUPLICATE);
    assert_int_equal(keyed(trailing, sizeof trailing, allowed, &c, &seen), DROT_E_TRAILING);
    assert_int_equal(keyed(truncated, sizeof truncated, allowed, &c, &seen), DROT_E_TRUNCATED);
    assert_int_equal(keyed(NULL, 0, allowed, &c, &seen), DROT_E_TRUNCATED);
    assert_int_equal(keyed(NULL, 1, allowed, &c, &seen), DROT_E_ARG);
    assert_int_equal(drot_cbor_read_keyed_map(ok, sizeof ok, allowed, kfield, &c, NULL), DROT_E_ARG);
    assert_int_equal(drot_cbor_read_keyed_map(ok, sizeof ok, allowed, NULL, &c, &seen), DROT_E_ARG);
    /* the field reader's status is returned as it is */
    c.fail_on_3 = DROT_E_CLAIM_INVALID;
    assert_int_equal(keyed(key3, sizeof key3, allowed, &c, &seen), DROT_E_CLAIM_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_integers),   cmocka_unit_test(test_writer_structures),
        cmocka_unit_test(test_writer_overflow),   cmocka_unit_test(test_reader_structure),
        cmocka_unit_test(test_reader_wrong_type), cmocka_unit_test(test_reader_truncation),
        cmocka_unit_test(test_reader_rejects),    cmocka_unit_test(test_reader_small_tags),
        cmocka_unit_test(test_reader_depth),      cmocka_unit_test(test_reader_all_heads),
        cmocka_unit_test(test_reader_keyed_map),
    };
    return cmocka_run_group_tests_name("cbor", tests, NULL, NULL);
}
