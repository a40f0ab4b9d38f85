/*
 * cbor.c — the bounded CBOR writer and reader of drot/cbor.h.
 *
 * Writer: libcbor's cbor_encode_* produce each head (shortest form) into a
 * 9-byte scratch buffer; we append it. Nothing here allocates.
 *
 * Reader: libcbor's cbor_stream_decode decodes one head (and, for definite
 * strings, hands back a pointer to the content) through callbacks. One set of
 * callbacks records what was seen into a struct; the typed get_* calls then
 * check the type and advance the cursor. Invariants:
 *
 *   1. r->off only moves forward, and only over a complete, accepted item.
 *   2. A string's content lies inside [r->p, r->p + r->len): checked here
 *      again rather than trusted to the library, because a 64-bit length
 *      close to SIZE_MAX is exactly where length arithmetic goes wrong.
 *   3. An announced array/map count larger than the bytes that remain is
 *      refused at once (every item takes at least one byte), so no caller
 *      ever loops over a count that cannot be satisfied.
 *   4. drot_cbor_skip walks nested items with a fixed-size explicit stack of
 *      DROT_CBOR_MAX_DEPTH counters: no recursion, bounded stack.
 */
#include "drot/cbor.h"

#include <string.h>

#include <cbor/callbacks.h>
#include <cbor/encoding.h>
#include <cbor/streaming.h>

/* Largest CBOR head: one initial byte and an 8-byte argument. */
#define HEAD_MAX 9

/* ---- writer -------------------------------------------------------------- */

void drot_cbor_writer_init(drot_cbor_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf != NULL ? cap : 0;
    w->len = 0;
    w->err = DROT_OK;
}

/* Appends n bytes, or records the overflow and keeps counting. */
/* Records err unless an earlier error is already recorded (sticky). */
static void fail(drot_cbor_writer *w, drot_status err)
{
    if (w->err == DROT_OK)
        w->err = err;
}

static void append(drot_cbor_writer *w, const void *p, size_t n)
{
    if (n > SIZE_MAX - w->len) {
        fail(w, DROT_E_TOO_LARGE);
        return;
    }
    if (w->err == DROT_OK && w->len + n <= w->cap) {
        if (n > 0)
            memcpy(w->buf + w->len, p, n);
    } else if (w->err == DROT_OK) {
        w->err = DROT_E_BUFFER;
    }
    w->len += n;
}

static void append_head(drot_cbor_writer *w, const unsigned char *head, size_t n)
{
    if (n == 0) { /* libcbor reports no room; cannot happen with HEAD_MAX */
        fail(w, DROT_E_ARG);
        return;
    }
    append(w, head, n);
}

void drot_cbor_put_uint(drot_cbor_writer *w, uint64_t v)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_uint(v, h, sizeof h));
}

void drot_cbor_put_int(drot_cbor_writer *w, int64_t v)
{
    unsigned char h[HEAD_MAX];
    if (v >= 0) {
        append_head(w, h, cbor_encode_uint((uint64_t)v, h, sizeof h));
    } else {
        /* Major type 1 carries -1 - v; for INT64_MIN that is INT64_MAX, no overflow. */
        append_head(w, h, cbor_encode_negint((uint64_t)(-1 - v), h, sizeof h));
    }
}

void drot_cbor_put_bstr_header(drot_cbor_writer *w, size_t n)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_bytestring_start(n, h, sizeof h));
}

void drot_cbor_put_bstr(drot_cbor_writer *w, const void *p, size_t n)
{
    if (p == NULL && n != 0) {
        fail(w, DROT_E_ARG);
        return;
    }
    drot_cbor_put_bstr_header(w, n);
    append(w, p, n);
}

void drot_cbor_put_tstr(drot_cbor_writer *w, const char *p, size_t n)
{
    unsigned char h[HEAD_MAX];
    if (p == NULL && n != 0) {
        fail(w, DROT_E_ARG);
        return;
    }
    append_head(w, h, cbor_encode_string_start(n, h, sizeof h));
    append(w, p, n);
}

void drot_cbor_put_tstr_z(drot_cbor_writer *w, const char *s)
{
    drot_cbor_put_tstr(w, s, s != NULL ? strlen(s) : 0);
}

void drot_cbor_put_array(drot_cbor_writer *w, size_t n)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_array_start(n, h, sizeof h));
}

void drot_cbor_put_map(drot_cbor_writer *w, size_t n)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_map_start(n, h, sizeof h));
}

void drot_cbor_put_tag(drot_cbor_writer *w, uint64_t tag)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_tag(tag, h, sizeof h));
}

void drot_cbor_put_bool(drot_cbor_writer *w, bool v)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_bool(v, h, sizeof h));
}

void drot_cbor_put_null(drot_cbor_writer *w)
{
    unsigned char h[HEAD_MAX];
    append_head(w, h, cbor_encode_null(h, sizeof h));
}

void drot_cbor_put_raw(drot_cbor_writer *w, const void *p, size_t n)
{
    if (p == NULL && n != 0) {
        fail(w, DROT_E_ARG);
        return;
    }
    append(w, p, n);
}

drot_status drot_cbor_writer_finish(const drot_cbor_writer *w, size_t *out_len)
{
    if (out_len != NULL)
        *out_len = w->len;
    return w->err;
}

/* ---- reader: one head through libcbor's callbacks ------------------------ */

enum seen_kind {
    SEEN_NONE = 0,
    SEEN_VALUE,      /* a complete item or a definite head */
    SEEN_INDEFINITE, /* indefinite string/array/map start, or a break */
};

typedef struct seen {
    enum seen_kind kind;
    drot_cbor_type type;
    uint64_t u;          /* uint/negint argument, tag number, or collection count */
    const uint8_t *data; /* string content */
    size_t n;            /* string length */
    bool b;              /* boolean value */
    bool is_null;
} seen;

static seen *as_seen(void *ctx)
{
    return (seen *)ctx;
}

static void set_uint(void *ctx, uint64_t v)
{
    seen *s = as_seen(ctx);
    s->kind = SEEN_VALUE;
    s->type = DROT_CBOR_UINT;
    s->u = v;
}
static void cb_u8(void *ctx, uint8_t v)
{
    set_uint(ctx, v);
}
static void cb_u16(void *ctx, uint16_t v)
{
    set_uint(ctx, v);
}
static void cb_u32(void *ctx, uint32_t v)
{
    set_uint(ctx, v);
}
static void cb_u64(void *ctx, uint64_t v)
{
    set_uint(ctx, v);
}

static void set_negint(void *ctx, uint64_t v)
{
    seen *s = as_seen(ctx);
    s->kind = SEEN_VALUE;
    s->type = DROT_CBOR_NEGINT;
    s->u = v;
}
static void cb_n8(void *ctx, uint8_t v)
{
    set_negint(ctx, v);
}
static void cb_n16(void *ctx, uint16_t v)
{
    set_negint(ctx, v);
}
static void cb_n32(void *ctx, uint32_t v)
{
    set_negint(ctx, v);
}
static void cb_n64(void *ctx, uint64_t v)
{
    set_negint(ctx, v);
}

static void cb_bstr(void *ctx, cbor_data p, size_t n)
{
    seen *s = as_seen(ctx);
    s->kind = SEEN_VALUE;
    s->type = DROT_CBOR_BSTR;
    s->data = p;
    s->n = n;
}

static void cb_tstr(void *ctx, cbor_data p, size_t n)
{
    cb_bstr(ctx, p, n);
    as_seen(ctx)->type = DROT_CBOR_TSTR;
}

static void cb_indefinite(void *ctx)
{
    as_seen(ctx)->kind = SEEN_INDEFINITE;
}

static void cb_array(void *ctx, size_t n)
{
    seen *s = as_seen(ctx);
    s->kind = SEEN_VALUE;
    s->type = DROT_CBOR_ARRAY;
    s->u = n;
}

static void cb_map(void *ctx, size_t n)
{
    cb_array(ctx, n);
    as_seen(ctx)->type = DROT_CBOR_MAP;
}

static void cb_tag(void *ctx, uint64_t v)
{
    seen *s = as_seen(ctx);
    s->kind = SEEN_VALUE;
    s->type = DROT_CBOR_TAG;
    s->u = v;
}

static void cb_float(void *ctx, float v)
{
    (void)v;
    as_seen(ctx)->kind = SEEN_VALUE;
    as_seen(ctx)->type = DROT_CBOR_FLOAT;
}

static void cb_double(void *ctx, double v)
{
    (void)v;
    cb_float(ctx, 0.0f);
}

static void cb_simple(void *ctx)
{
    as_seen(ctx)->kind = SEEN_VALUE;
    as_seen(ctx)->type = DROT_CBOR_SIMPLE;
}

static void cb_null(void *ctx)
{
    cb_simple(ctx);
    as_seen(ctx)->is_null = true;
}

static void cb_bool(void *ctx, bool v)
{
    cb_simple(ctx);
    as_seen(ctx)->b = v;
}

/* libcbor 0.8's field comments swap "definite" and "indefinite"; the field
 * names and signatures are what matter: the ones with a size or data are the
 * definite forms. */
static const struct cbor_callbacks k_callbacks = {
    .uint8 = cb_u8,
    .uint16 = cb_u16,
    .uint32 = cb_u32,
    .uint64 = cb_u64,
    .negint8 = cb_n8,
    .negint16 = cb_n16,
    .negint32 = cb_n32,
    .negint64 = cb_n64,
    .byte_string = cb_bstr,
    .byte_string_start = cb_indefinite,
    .string = cb_tstr,
    .string_start = cb_indefinite,
    .array_start = cb_array,
    .indef_array_start = cb_indefinite,
    .map_start = cb_map,
    .indef_map_start = cb_indefinite,
    .tag = cb_tag,
    .float2 = cb_float,
    .float4 = cb_float,
    .float8 = cb_double,
    .undefined = cb_simple,
    .null = cb_null,
    .boolean = cb_bool,
    .indef_break = cb_indefinite,
};

/* Decodes the head at off into *s; *used = bytes it takes (content included
 * for strings). Does not move the cursor. */
static drot_status decode_at(const drot_cbor_reader *r, size_t off, seen *s, size_t *used)
{
    if (r->p == NULL || off >= r->len)
        return DROT_E_TRUNCATED;
    memset(s, 0, sizeof *s);
    uint8_t head = r->p[off];
    if (head >= 0xc6 && head <= 0xd4) {
        /* libcbor 0.8 (Debian 12) refuses the one-byte tag heads for tags
         * 6..20 as "unassigned" (upstream PJK/libcbor issue #307, fixed in
         * later releases) — and COSE_Sign1 is tag 18. The head is a single
         * byte whose low five bits are the tag number, so it is decoded here. */
        s->kind = SEEN_VALUE;
        s->type = DROT_CBOR_TAG;
        s->u = (uint64_t)(head & 0x1f);
        *used = 1;
        return DROT_OK;
    }
    if ((head >> 5) >= 2 && (head >> 5) <= 5 && (head & 0x1f) == 27) {
        /* An 8-byte length or count. libcbor 0.8 casts it to size_t, which
         * truncates on 32-bit targets (the firmware): 2^32 + 5 would read as
         * 5. Refuse here anything the remaining bytes cannot hold, so every
         * value handed to libcbor fits size_t and both builds agree. */
        if (r->len - off < 9)
            return DROT_E_TRUNCATED;
        uint64_t v = 0;
        for (int i = 1; i <= 8; i++)
            v = v << 8 | r->p[off + (size_t)i];
        uint64_t rest = (uint64_t)(r->len - off - 9);
        if (v > ((head >> 5) == 5 ? rest / 2 : rest))
            return DROT_E_TRUNCATED;
    }
    struct cbor_decoder_result res = cbor_stream_decode(r->p + off, r->len - off, &k_callbacks, s);
    if (res.status == CBOR_DECODER_NEDATA)
        return DROT_E_TRUNCATED;
    if (res.status != CBOR_DECODER_FINISHED || s->kind == SEEN_NONE)
        return DROT_E_MALFORMED;
    if (s->kind == SEEN_INDEFINITE)
        return DROT_E_UNSUPPORTED;
    if (res.read == 0 || res.read > r->len - off)
        return DROT_E_MALFORMED;
    if (s->type == DROT_CBOR_BSTR || s->type == DROT_CBOR_TSTR) {
        /* Invariant 2: the content must sit inside this item's bytes. */
        const uint8_t *end = r->p + off + res.read;
        if (s->data < r->p + off || s->n > (size_t)(end - s->data))
            return DROT_E_MALFORMED;
    }
    if ((s->type == DROT_CBOR_ARRAY || s->type == DROT_CBOR_MAP)) {
        /* Invariant 3: each announced item needs at least one more byte. */
        uint64_t rest = r->len - off - res.read;
        uint64_t need = s->u;
        if (s->type == DROT_CBOR_MAP && need > UINT64_MAX / 2)
            return DROT_E_TRUNCATED;
        if (s->type == DROT_CBOR_MAP)
            need *= 2;
        if (need > rest)
            return DROT_E_TRUNCATED;
    }
    *used = res.read;
    return DROT_OK;
}

/* Decodes the next item, requires the given type, and advances past it. */
static drot_status take(drot_cbor_reader *r, drot_cbor_type want, seen *s)
{
    size_t used;
    drot_status st = decode_at(r, r->off, s, &used);
    if (st != DROT_OK)
        return st;
    if (s->type != want)
        return DROT_E_MALFORMED;
    r->off += used;
    return DROT_OK;
}

void drot_cbor_reader_init(drot_cbor_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = p != NULL ? len : 0;
    r->off = 0;
}

drot_status drot_cbor_peek(const drot_cbor_reader *r, drot_cbor_type *type)
{
    seen s;
    size_t used;
    drot_status st = decode_at(r, r->off, &s, &used);
    if (st == DROT_OK)
        *type = s.type;
    return st;
}

drot_status drot_cbor_get_uint(drot_cbor_reader *r, uint64_t *v)
{
    seen s;
    drot_status st = take(r, DROT_CBOR_UINT, &s);
    if (st == DROT_OK)
        *v = s.u;
    return st;
}

drot_status drot_cbor_get_int(drot_cbor_reader *r, int64_t *v)
{
    seen s;
    size_t used;
    drot_status st = decode_at(r, r->off, &s, &used);
    if (st != DROT_OK)
        return st;
    if (s.type != DROT_CBOR_UINT && s.type != DROT_CBOR_NEGINT)
        return DROT_E_MALFORMED;
    if (s.u > (uint64_t)INT64_MAX)
        return DROT_E_TOO_LARGE;
    *v = s.type == DROT_CBOR_UINT ? (int64_t)s.u : -1 - (int64_t)s.u;
    r->off += used;
    return DROT_OK;
}

drot_status drot_cbor_get_bstr(drot_cbor_reader *r, const uint8_t **p, size_t *n)
{
    seen s;
    drot_status st = take(r, DROT_CBOR_BSTR, &s);
    if (st == DROT_OK) {
        *p = s.data;
        *n = s.n;
    }
    return st;
}

drot_status drot_cbor_get_tstr(drot_cbor_reader *r, const char **p, size_t *n)
{
    seen s;
    drot_status st = take(r, DROT_CBOR_TSTR, &s);
    if (st == DROT_OK) {
        *p = (const char *)s.data;
        *n = s.n;
    }
    return st;
}

drot_status drot_cbor_get_array(drot_cbor_reader *r, size_t *n)
{
    seen s;
    drot_status st = take(r, DROT_CBOR_ARRAY, &s);
    if (st == DROT_OK)
        *n = (size_t)s.u;
    return st;
}

drot_status drot_cbor_get_map(drot_cbor_reader *r, size_t *n)
{
    seen s;
    drot_status st = take(r, DROT_CBOR_MAP, &s);
    if (st == DROT_OK)
        *n = (size_t)s.u;
    return st;
}

drot_status drot_cbor_get_tag(drot_cbor_reader *r, uint64_t *tag)
{
    seen s;
    drot_status st = take(r, DROT_CBOR_TAG, &s);
    if (st == DROT_OK)
        *tag = s.u;
    return st;
}

drot_status drot_cbor_get_bool(drot_cbor_reader *r, bool *v)
{
    seen s;
    size_t used;
    drot_status st = decode_at(r, r->off, &s, &used);
    if (st != DROT_OK)
        return st;
    if (s.type != DROT_CBOR_SIMPLE || s.is_null || (r->p[r->off] != 0xf4 && r->p[r->off] != 0xf5))
        return DROT_E_MALFORMED;
    *v = s.b;
    r->off += used;
    return DROT_OK;
}

drot_status drot_cbor_get_null(drot_cbor_reader *r)
{
    seen s;
    size_t used;
    drot_status st = decode_at(r, r->off, &s, &used);
    if (st != DROT_OK)
        return st;
    if (s.type != DROT_CBOR_SIMPLE || !s.is_null)
        return DROT_E_MALFORMED;
    r->off += used;
    return DROT_OK;
}

drot_status drot_cbor_skip(drot_cbor_reader *r)
{
    /* pending[d] = items still to consume at nesting level d (invariant 4). */
    uint64_t pending[DROT_CBOR_MAX_DEPTH + 1];
    int depth = 0;
    size_t off = r->off;

    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;

        seen s;
        size_t used;
        drot_status st = decode_at(r, off, &s, &used);
        if (st != DROT_OK)
            return st;
        off += used;

        uint64_t children = 0;
        if (s.type == DROT_CBOR_ARRAY)
            children = s.u;
        else if (s.type == DROT_CBOR_MAP)
            children = 2 * s.u; /* decode_at bounded s.u by the bytes left */
        else if (s.type == DROT_CBOR_TAG)
            children = 1;
        if (children > 0) {
            if (depth == DROT_CBOR_MAX_DEPTH)
                return DROT_E_DEPTH;
            pending[++depth] = children;
        }
    }
    r->off = off;
    return DROT_OK;
}

drot_status drot_cbor_reader_done(const drot_cbor_reader *r)
{
    return r->off == r->len ? DROT_OK : DROT_E_TRAILING;
}

/* see drot/cbor.h */
drot_status drot_cbor_read_keyed_map(const uint8_t *p, size_t len, uint32_t allowed, drot_cbor_field_fn fn,
                                     void *ctx, uint32_t *found)
{
    drot_cbor_reader r;
    drot_cbor_type t;
    size_t n;
    drot_status st;

    if (found == NULL || fn == NULL || (p == NULL && len != 0))
        return DROT_E_ARG;
    *found = 0;
    drot_cbor_reader_init(&r, p, len);
    if ((st = drot_cbor_peek(&r, &t)) != DROT_OK)
        return st;
    if (t != DROT_CBOR_MAP)
        return DROT_E_MALFORMED;
    if ((st = drot_cbor_get_map(&r, &n)) != DROT_OK)
        return st;
    /* n comes from the input; with at most 32 allowed keys, entry 33 is
     * necessarily unknown or a duplicate and ends the loop. */
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        if ((st = drot_cbor_peek(&r, &t)) != DROT_OK)
            return st;
        if (t != DROT_CBOR_UINT)
            return DROT_E_UNKNOWN_CLAIM;
        if ((st = drot_cbor_get_uint(&r, &k)) != DROT_OK)
            return st;
        if (k > 31 || (allowed & (1u << k)) == 0)
            return DROT_E_UNKNOWN_CLAIM;
        if (*found & (1u << k))
            return DROT_E_DUPLICATE;
        *found |= 1u << k;
        if ((st = fn(&r, (unsigned)k, ctx)) != DROT_OK)
            return st;
    }
    return drot_cbor_reader_done(&r);
}
