/*
 * fuzz_cbor.c — fuzz target for the CBOR reader and writer (drot/cbor.h).
 *
 * Properties checked on every input (one top-level item at offset 0):
 *
 *  1. drot_cbor_skip either fails and leaves the cursor at 0, or succeeds
 *     having consumed 1..size bytes; reader_done agrees with the offset.
 *  2. An independent walker that reads the same item with peek and the typed
 *     get_* calls (a bounded explicit stack with skip's depth rule) reaches
 *     the same verdict: the same status, and on success the same length.
 *  3. On the way, for every item: peek's type matches the major type of the
 *     initial byte; every getter of another type fails and leaves the cursor
 *     where it was; string content lies inside the item and ends it; leaf
 *     items the API has no getter for (floats, simple values, negative
 *     integers below INT64_MIN) have the length their head announces.
 *  4. Writer round trip: the walker re-encodes every item with the writer
 *     (shortest heads). The result is no longer than the input item, skip
 *     consumes it exactly, and walking it again reproduces it byte for byte
 *     (the writer's output is a fixed point).
 */
#include <stdbool.h>
#include <string.h>

#include "drot/cbor.h"
#include "fuzz_target.h"

static drot_cbor_type type_of_head(uint8_t b)
{
    switch (b >> 5) {
    case 0: return DROT_CBOR_UINT;
    case 1: return DROT_CBOR_NEGINT;
    case 2: return DROT_CBOR_BSTR;
    case 3: return DROT_CBOR_TSTR;
    case 4: return DROT_CBOR_ARRAY;
    case 5: return DROT_CBOR_MAP;
    case 6: return DROT_CBOR_TAG;
    default: return (b >= 0xf9 && b <= 0xfb) ? DROT_CBOR_FLOAT : DROT_CBOR_SIMPLE;
    }
}

/* Length of a major-7 item from its initial byte (RFC 8949 §3.3). */
static size_t major7_len(uint8_t b)
{
    switch (b) {
    case 0xf8: return 2;
    case 0xf9: return 3;
    case 0xfa: return 5;
    case 0xfb: return 9;
    default: return 1;
    }
}

/* Every getter whose type cannot be t must fail without moving the cursor. */
static void check_other_getters(drot_cbor_reader *r, drot_cbor_type t)
{
    const size_t off = r->off;
    uint64_t u;
    int64_t i;
    const uint8_t *p;
    const char *s;
    size_t n;
    bool b;

    if (t != DROT_CBOR_UINT) {
        FZ_CHECK(drot_cbor_get_uint(r, &u) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_UINT && t != DROT_CBOR_NEGINT) {
        FZ_CHECK(drot_cbor_get_int(r, &i) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_BSTR) {
        FZ_CHECK(drot_cbor_get_bstr(r, &p, &n) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_TSTR) {
        FZ_CHECK(drot_cbor_get_tstr(r, &s, &n) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_ARRAY) {
        FZ_CHECK(drot_cbor_get_array(r, &n) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_MAP) {
        FZ_CHECK(drot_cbor_get_map(r, &n) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_TAG) {
        FZ_CHECK(drot_cbor_get_tag(r, &u) != DROT_OK && r->off == off);
    }
    if (t != DROT_CBOR_SIMPLE) {
        FZ_CHECK(drot_cbor_get_bool(r, &b) != DROT_OK && r->off == off);
        FZ_CHECK(drot_cbor_get_null(r) != DROT_OK && r->off == off);
    }
}

/* Advances over a leaf item of len bytes that has no getter, after checking
 * that skip agrees on its length. */
static void take_leaf(drot_cbor_reader *r, size_t len, drot_cbor_writer *w)
{
    drot_cbor_reader one = *r;
    FZ_CHECK(len <= r->len - r->off);
    FZ_CHECK(drot_cbor_skip(&one) == DROT_OK && one.off == r->off + len);
    drot_cbor_put_raw(w, r->p + r->off, len);
    r->off += len;
}

/* Reads one item and writes it again in w; returns the number of children
 * it announces (array items, map keys and values, the tagged item). */
static drot_status walk_item(drot_cbor_reader *r, drot_cbor_writer *w, uint64_t *children)
{
    const size_t before = r->off;
    drot_cbor_type t;
    drot_status st;
    uint64_t u;
    int64_t i;
    size_t n;
    bool b;

    *children = 0;
    st = drot_cbor_peek(r, &t);
    if (st != DROT_OK) {
        FZ_CHECK(r->off == before);
        return st;
    }
    const uint8_t head = r->p[before];
    FZ_CHECK(type_of_head(head) == t);
    check_other_getters(r, t);

    switch (t) {
    case DROT_CBOR_UINT:
        FZ_CHECK(drot_cbor_get_uint(r, &u) == DROT_OK);
        drot_cbor_put_uint(w, u);
        {
            /* get_int on the same item: the same value, or TOO_LARGE without moving. */
            drot_cbor_reader again = *r;
            again.off = before;
            st = drot_cbor_get_int(&again, &i);
            if (u <= (uint64_t)INT64_MAX)
                FZ_CHECK(st == DROT_OK && (uint64_t)i == u && again.off == r->off);
            else
                FZ_CHECK(st == DROT_E_TOO_LARGE && again.off == before);
        }
        break;
    case DROT_CBOR_NEGINT:
        st = drot_cbor_get_int(r, &i);
        if (st == DROT_OK) {
            FZ_CHECK(i < 0);
            drot_cbor_put_int(w, i);
        } else {
            /* Below INT64_MIN: only an 8-byte argument can say so. */
            FZ_CHECK(st == DROT_E_TOO_LARGE && r->off == before && head == 0x3b);
            FZ_CHECK((r->p[before + 1] & 0x80) != 0);
            take_leaf(r, 9, w);
        }
        break;
    case DROT_CBOR_BSTR:
    case DROT_CBOR_TSTR: {
        const uint8_t *p;
        if (t == DROT_CBOR_BSTR) {
            FZ_CHECK(drot_cbor_get_bstr(r, &p, &n) == DROT_OK);
            drot_cbor_put_bstr(w, p, n);
        } else {
            const char *s;
            FZ_CHECK(drot_cbor_get_tstr(r, &s, &n) == DROT_OK);
            p = (const uint8_t *)s;
            drot_cbor_put_tstr(w, s, n);
        }
        /* The content is inside the item, right after its head, and ends it. */
        FZ_CHECK(FZ_INSIDE(p, n, r->p + before, r->off - before));
        FZ_CHECK(p != NULL || n == 0);
        FZ_CHECK(n == 0 || p + n == r->p + r->off);
        break;
    }
    case DROT_CBOR_ARRAY:
        FZ_CHECK(drot_cbor_get_array(r, &n) == DROT_OK);
        FZ_CHECK(n <= r->len - r->off); /* each element takes a byte */
        drot_cbor_put_array(w, n);
        *children = n;
        break;
    case DROT_CBOR_MAP:
        FZ_CHECK(drot_cbor_get_map(r, &n) == DROT_OK);
        FZ_CHECK(n <= (r->len - r->off) / 2);
        drot_cbor_put_map(w, n);
        *children = 2u * (uint64_t)n;
        break;
    case DROT_CBOR_TAG:
        FZ_CHECK(drot_cbor_get_tag(r, &u) == DROT_OK);
        drot_cbor_put_tag(w, u);
        *children = 1;
        break;
    case DROT_CBOR_SIMPLE:
        if (head == 0xf4 || head == 0xf5) {
            FZ_CHECK(drot_cbor_get_null(r) != DROT_OK && r->off == before);
            FZ_CHECK(drot_cbor_get_bool(r, &b) == DROT_OK && b == (head == 0xf5));
            FZ_CHECK(r->off == before + 1);
            drot_cbor_put_bool(w, b);
        } else if (head == 0xf6) {
            FZ_CHECK(drot_cbor_get_bool(r, &b) != DROT_OK && r->off == before);
            FZ_CHECK(drot_cbor_get_null(r) == DROT_OK && r->off == before + 1);
            drot_cbor_put_null(w);
        } else {
            FZ_CHECK(drot_cbor_get_bool(r, &b) != DROT_OK && r->off == before);
            FZ_CHECK(drot_cbor_get_null(r) != DROT_OK && r->off == before);
            take_leaf(r, major7_len(head), w);
        }
        break;
    case DROT_CBOR_FLOAT: take_leaf(r, major7_len(head), w); break;
    default: FZ_CHECK(!"peek returned an unknown type");
    }
    FZ_CHECK(r->off > before && r->off <= r->len);
    return DROT_OK;
}

/* Walks one complete item from offset 0 with skip's depth rule: a container
 * with children at depth DROT_CBOR_MAX_DEPTH is DROT_E_DEPTH. *consumed is
 * set on success. */
static drot_status walk(const uint8_t *data, size_t size, drot_cbor_writer *w, size_t *consumed)
{
    uint64_t pending[DROT_CBOR_MAX_DEPTH + 1];
    drot_cbor_reader r;
    int depth = 0;

    drot_cbor_reader_init(&r, data, size);
    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        uint64_t children;
        drot_status st = walk_item(&r, w, &children);
        if (st != DROT_OK)
            return st;
        if (children > 0) {
            if (depth == DROT_CBOR_MAX_DEPTH)
                return DROT_E_DEPTH;
            pending[++depth] = children;
        }
    }
    *consumed = r.off;
    return DROT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drot_cbor_reader r;
    drot_cbor_writer w;
    drot_status skip_st, walk_st;
    size_t walked = 0, written = 0;

    /* Property 1. */
    drot_cbor_reader_init(&r, data, size);
    skip_st = drot_cbor_skip(&r);
    if (skip_st != DROT_OK) {
        FZ_CHECK(r.off == 0);
    } else {
        FZ_CHECK(r.off >= 1 && r.off <= size);
        FZ_CHECK((drot_cbor_reader_done(&r) == DROT_OK) == (r.off == size));
    }

    /* Properties 2 and 3. The rewrite is never longer than the input item,
     * so a buffer of the input's size holds it. */
    uint8_t *out = malloc(size != 0 ? size : 1);
    FZ_CHECK(out != NULL);
    drot_cbor_writer_init(&w, out, size);
    walk_st = walk(data, size, &w, &walked);
    FZ_CHECK(walk_st == skip_st);
    if (skip_st != DROT_OK) {
        free(out);
        return 0;
    }
    FZ_CHECK(walked == r.off);

    /* Property 4. */
    FZ_CHECK(drot_cbor_writer_finish(&w, &written) == DROT_OK);
    FZ_CHECK(written >= 1 && written <= walked);
    drot_cbor_reader_init(&r, out, written);
    FZ_CHECK(drot_cbor_skip(&r) == DROT_OK && r.off == written);

    uint8_t *again = malloc(written);
    size_t walked2 = 0, written2 = 0;
    FZ_CHECK(again != NULL);
    drot_cbor_writer_init(&w, again, written);
    FZ_CHECK(walk(out, written, &w, &walked2) == DROT_OK && walked2 == written);
    FZ_CHECK(drot_cbor_writer_finish(&w, &written2) == DROT_OK && written2 == written);
    FZ_CHECK(memcmp(again, out, written) == 0);
    free(again);
    free(out);
    return 0;
}
