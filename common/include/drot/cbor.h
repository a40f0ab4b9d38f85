/*
 * drot/cbor.h — bounded, allocation-free CBOR writer and reader.
 *
 * A thin layer over libcbor's allocation-free parts: its encoders
 * (cbor_encode_*) for the writer and its streaming decoder
 * (cbor_stream_decode) for the reader. It adds what every drot format needs
 * and libcbor's streaming API leaves to the caller: a cursor, typed "expect"
 * calls, bounds, a nesting limit, and a strict subset:
 *
 *   - only definite lengths (indefinite strings, arrays and maps: DROT_E_UNSUPPORTED);
 *   - integers must fit int64_t where read as signed;
 *   - text strings are returned as bytes (UTF-8 validity is the caller's concern);
 *   - nesting deeper than DROT_CBOR_MAX_DEPTH is refused (DROT_E_DEPTH).
 *
 * Writer: the first error is sticky: a later one never replaces it. After
 * the first overflow the writer keeps counting, so drot_cbor_writer_finish()
 * reports DROT_E_BUFFER together with the size that would have been needed.
 * A writer over (NULL, 0) measures.
 *
 * Reader: every get_* call either consumes exactly one item of the expected
 * type and returns DROT_OK, or returns an error and leaves the cursor where
 * it was. Byte and text strings are returned as pointers into the input
 * (zero copy); the input must outlive their use.
 */
#ifndef DROT_CBOR_H
#define DROT_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drot/status.h"

#define DROT_CBOR_MAX_DEPTH 16

/* ---- writer -------------------------------------------------------------- */

typedef struct drot_cbor_writer {
    uint8_t *buf; /* may be NULL when cap == 0 (measure mode) */
    size_t cap;
    size_t len;      /* bytes written, or needed once overflowed */
    drot_status err; /* first error, sticky */
} drot_cbor_writer;

void drot_cbor_writer_init(drot_cbor_writer *w, uint8_t *buf, size_t cap);
void drot_cbor_put_uint(drot_cbor_writer *w, uint64_t v);
/* Major type 0 for v ≥ 0, major type 1 for v < 0. */
void drot_cbor_put_int(drot_cbor_writer *w, int64_t v);
void drot_cbor_put_bstr(drot_cbor_writer *w, const void *p, size_t n);
/* Only the header of a byte string of n bytes; the caller then puts the n
 * bytes with drot_cbor_put_raw (used to wrap an encoded item in a bstr). */
void drot_cbor_put_bstr_header(drot_cbor_writer *w, size_t n);
void drot_cbor_put_tstr(drot_cbor_writer *w, const char *p, size_t n);
/* NUL-terminated convenience for literals. */
void drot_cbor_put_tstr_z(drot_cbor_writer *w, const char *s);
void drot_cbor_put_array(drot_cbor_writer *w, size_t n);
void drot_cbor_put_map(drot_cbor_writer *w, size_t n);
void drot_cbor_put_tag(drot_cbor_writer *w, uint64_t tag);
void drot_cbor_put_bool(drot_cbor_writer *w, bool v);
void drot_cbor_put_null(drot_cbor_writer *w);
/* Bytes that are already CBOR (or the content of a bstr announced above). */
void drot_cbor_put_raw(drot_cbor_writer *w, const void *p, size_t n);
/* DROT_OK and *out_len = bytes written; or the sticky error (DROT_E_BUFFER
 * with *out_len = bytes needed). out_len may be NULL. */
drot_status drot_cbor_writer_finish(const drot_cbor_writer *w, size_t *out_len);

/* ---- reader -------------------------------------------------------------- */

typedef enum drot_cbor_type {
    DROT_CBOR_UINT,   /* major 0 */
    DROT_CBOR_NEGINT, /* major 1 */
    DROT_CBOR_BSTR,   /* major 2 */
    DROT_CBOR_TSTR,   /* major 3 */
    DROT_CBOR_ARRAY,  /* major 4 */
    DROT_CBOR_MAP,    /* major 5 */
    DROT_CBOR_TAG,    /* major 6 */
    DROT_CBOR_SIMPLE, /* major 7: false, true, null, undefined, simple values */
    DROT_CBOR_FLOAT,  /* major 7: half, single, double */
} drot_cbor_type;

typedef struct drot_cbor_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
} drot_cbor_reader;

void drot_cbor_reader_init(drot_cbor_reader *r, const uint8_t *p, size_t len);
/* Type of the next item without consuming it; DROT_E_TRUNCATED at the end. */
drot_status drot_cbor_peek(const drot_cbor_reader *r, drot_cbor_type *type);
drot_status drot_cbor_get_uint(drot_cbor_reader *r, uint64_t *v);
/* Major 0 or 1, in int64_t range (else DROT_E_TOO_LARGE). */
drot_status drot_cbor_get_int(drot_cbor_reader *r, int64_t *v);
drot_status drot_cbor_get_bstr(drot_cbor_reader *r, const uint8_t **p, size_t *n);
drot_status drot_cbor_get_tstr(drot_cbor_reader *r, const char **p, size_t *n);
/* Headers only: the caller then reads *n items (array) or *n key/value pairs (map). */
drot_status drot_cbor_get_array(drot_cbor_reader *r, size_t *n);
drot_status drot_cbor_get_map(drot_cbor_reader *r, size_t *n);
drot_status drot_cbor_get_tag(drot_cbor_reader *r, uint64_t *tag);
drot_status drot_cbor_get_bool(drot_cbor_reader *r, bool *v);
drot_status drot_cbor_get_null(drot_cbor_reader *r);
/* Consumes one complete item, nested content included, up to DROT_CBOR_MAX_DEPTH. */
drot_status drot_cbor_skip(drot_cbor_reader *r);
/* DROT_OK iff every byte was consumed, else DROT_E_TRAILING. */
drot_status drot_cbor_reader_done(const drot_cbor_reader *r);

/* Reads a value of a keyed map (drot_cbor_read_keyed_map). */
typedef drot_status (*drot_cbor_field_fn)(drot_cbor_reader *r, unsigned key, void *ctx);

/* Reads the whole of p[0..len) as ONE map whose keys are unsigned integers
 * 0..31 named in `allowed` (bit k = key k), each at most once, in any order;
 * fn reads each value. *seen receives the set of keys found (for the
 * caller's required-key check). The shape of every closed map drot signs
 * (manifests, revocation lists, DRoT messages). Statuses, first one wins:
 * DROT_E_MALFORMED (not a map), DROT_E_UNKNOWN_CLAIM (a key that is not an
 * unsigned integer, or not allowed), DROT_E_DUPLICATE, fn's status,
 * DROT_E_TRAILING (bytes after the map), and the reader's own. Reads only
 * within p[0..len); no allocation. */
drot_status drot_cbor_read_keyed_map(const uint8_t *p, size_t len, uint32_t allowed, drot_cbor_field_fn fn,
                                     void *ctx, uint32_t *seen);

#endif /* DROT_CBOR_H */
