/*
 * test_manifest.c — firmware manifests (common/src/manifest.c).
 *
 * The reference encoding k_ref_hex was written by hand from RFC 8949 (each
 * head worked out byte by byte, then checked with a few lines of python3
 * that concatenate the hex, no CBOR library):
 *
 *   {1: "APM", 2: "1.2.3", 3: 42, 4: h'000102…1F', 5: 74565}
 *   A5                      map(5)
 *   01 63 41504D            1: "APM"
 *   02 65 312E322E33        2: "1.2.3"
 *   03 18 2A                3: 42          (one-byte argument: 42 > 23)
 *   04 58 20 0001…1F        4: bstr(32)    (one-byte length: 32 > 23)
 *   05 1A 00012345          5: 74565       (four-byte argument: > 0xFFFF)
 *
 * Rejections are built from hex fragments of that map with one thing
 * changed, so each shows that the rule it names is what stops it.
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

#include "drot/authority.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

static const char k_ref_hex[] = "A5016341504D0265312E322E3303182A045820000102030405060708090A0B0C0D0E0F"
                                "101112131415161718191A1B1C1D1E1F051A00012345";

/* The five fields of the reference map, as hex fragments. */
#define F1 "016341504D"
#define F2 "0265312E322E33"
#define F3 "03182A"
#define F4 "045820000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define F5 "051A00012345"

#define DIGEST32 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"

static drot_p256_priv g_priv[2];
static drot_p256_pub g_pub[2];
static drot_anchor_slot g_slots[2];
static uint8_t g_buf[1024];

static int setup(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        uint8_t d[DROT_P256_SCALAR_LEN];
        memset(d, 0x5A + k, sizeof d);
        if (drot_p256_key_from_scalar(d, &g_priv[k], &g_pub[k]) != DROT_OK)
            return -1;
    }
    /* Slot 0: an unrelated key; slot 1: key 0. Key 1 is untrusted. */
    memset(g_slots, 0, sizeof g_slots);
    memset(g_slots[0].hash, 0x77, DROT_SHA256_LEN);
    g_slots[0].present = true;
    if (drot_sha256(g_pub[0].q, DROT_P256_PUB_LEN, g_slots[1].hash) != DROT_OK)
        return -1;
    g_slots[1].present = true;
    return 0;
}

/* The manifest k_ref_hex encodes. */
static drot_manifest ref_manifest(void)
{
    drot_manifest m;
    memset(&m, 0, sizeof m);
    m.component = "APM";
    m.component_len = 3;
    m.version = "1.2.3";
    m.version_len = 5;
    m.svn = 42;
    for (int i = 0; i < DROT_SHA256_LEN; i++)
        m.digest[i] = (uint8_t)i;
    m.size = 74565;
    return m;
}

/* Concatenates the NULL-terminated list of hex fragments and decodes it
 * into g_buf; returns the byte count. */
static size_t hex_parts(const char *first, ...)
{
    char hex[1024];
    size_t k = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
        size_t n = strlen(s);
        assert_true(k + n < sizeof hex);
        memcpy(hex + k, s, n);
        k += n;
    }
    va_end(ap);
    hex[k] = '\0';
    long n = drot_test_hex(hex, g_buf, sizeof g_buf);
    assert_true(n >= 0);
    return (size_t)n;
}

static bool manifest_is_zero(const drot_manifest *m)
{
    static const drot_manifest zero;
    return memcmp(m, &zero, sizeof zero) == 0;
}

/* Decodes g_buf[0..n); on failure checks the struct was zeroed. */
static drot_status decode(size_t n, drot_manifest *m)
{
    memset(m, 0xA5, sizeof *m);
    drot_status st = drot_manifest_decode(g_buf, n, m);
    if (st != DROT_OK)
        assert_true(manifest_is_zero(m));
    return st;
}

static void assert_manifest_equal(const drot_manifest *a, const drot_manifest *b)
{
    assert_int_equal(a->component_len, b->component_len);
    assert_memory_equal(a->component, b->component, a->component_len);
    assert_int_equal(a->version_len, b->version_len);
    assert_memory_equal(a->version, b->version, a->version_len);
    assert_int_equal(a->svn, b->svn);
    assert_memory_equal(a->digest, b->digest, DROT_SHA256_LEN);
    assert_int_equal(a->size, b->size);
}

/* Test 1: encode then decode a manifest / the same fields back, the strings
 * pointing into the encoded bytes. */
static void test_round_trip(void **state)
{
    (void)state;
    drot_manifest m = ref_manifest(), back;
    m.component = "HOST-OS";
    m.component_len = 7;
    m.svn = 0;
    m.size = 1;
    size_t len;
    assert_int_equal(drot_manifest_encode(&m, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(decode(len, &back), DROT_OK);
    assert_manifest_equal(&m, &back);
    assert_true((const uint8_t *)back.component > g_buf && (const uint8_t *)back.component < g_buf + len);
}

/* Test 2: the hand-built reference bytes / encode reproduces them exactly,
 * decode reads the reference manifest from them. */
static void test_reference_vector(void **state)
{
    (void)state;
    uint8_t ref[128], out[128];
    long ref_len = drot_test_hex(k_ref_hex, ref, sizeof ref);
    assert_int_equal(ref_len, 57);
    drot_manifest m = ref_manifest(), back;
    size_t len;

    assert_int_equal(drot_manifest_encode(&m, out, sizeof out, &len), DROT_OK);
    assert_int_equal(len, (size_t)ref_len);
    assert_memory_equal(out, ref, len);

    /* The fragments reassemble into the same bytes (used by the tests below). */
    assert_int_equal(hex_parts("A5", F1, F2, F3, F4, F5, NULL), (size_t)ref_len);
    assert_memory_equal(g_buf, ref, len);
    assert_int_equal(decode(len, &back), DROT_OK);
    assert_manifest_equal(&m, &back);
}

/* Test 3: every field at its largest / exactly DROT_MANIFEST_MAX_LEN bytes;
 * (NULL, 0) and one byte short / DROT_E_BUFFER with the size needed. */
static void test_largest_and_buffer(void **state)
{
    (void)state;
    drot_manifest m = ref_manifest(), back;
    m.component = "ABCDEFGHIJKLMNOP";
    m.component_len = 16;
    m.version = " !\"#$%&'()*+,-./0123456789:;<=>~";
    m.version_len = 32;
    m.svn = 63;
    m.size = 16u * 1024u * 1024u;
    size_t len = 0, need = 0;

    assert_int_equal(drot_manifest_encode(&m, NULL, 0, &need), DROT_E_BUFFER);
    assert_int_equal(need, DROT_MANIFEST_MAX_LEN);
    assert_int_equal(drot_manifest_encode(&m, g_buf, need - 1, &len), DROT_E_BUFFER);
    assert_int_equal(len, need);
    assert_int_equal(drot_manifest_encode(&m, g_buf, need, &len), DROT_OK);
    assert_int_equal(len, DROT_MANIFEST_MAX_LEN);
    assert_int_equal(decode(len, &back), DROT_OK);
    assert_manifest_equal(&m, &back);
}

/* Test 4: a map without key k (for each k = 1..5) / DROT_E_CLAIM_MISSING;
 * the empty map too. */
static void test_field_missing(void **state)
{
    (void)state;
    drot_manifest m;
    assert_int_equal(decode(hex_parts("A4", F2, F3, F4, F5, NULL), &m), DROT_E_CLAIM_MISSING);
    assert_int_equal(decode(hex_parts("A4", F1, F3, F4, F5, NULL), &m), DROT_E_CLAIM_MISSING);
    assert_int_equal(decode(hex_parts("A4", F1, F2, F4, F5, NULL), &m), DROT_E_CLAIM_MISSING);
    assert_int_equal(decode(hex_parts("A4", F1, F2, F3, F5, NULL), &m), DROT_E_CLAIM_MISSING);
    assert_int_equal(decode(hex_parts("A4", F1, F2, F3, F4, NULL), &m), DROT_E_CLAIM_MISSING);
    assert_int_equal(decode(hex_parts("A0", NULL), &m), DROT_E_CLAIM_MISSING);
}

/* Test 5: each field with a value of another CBOR type / DROT_E_CLAIM_INVALID;
 * a payload that is not a map / DROT_E_MALFORMED. */
static void test_wrong_types(void **state)
{
    (void)state;
    drot_manifest m;
    /* component as bstr, as uint */
    assert_int_equal(decode(hex_parts("A5", "014341504D", F2, F3, F4, F5, NULL), &m), DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", "0101", F2, F3, F4, F5, NULL), &m), DROT_E_CLAIM_INVALID);
    /* version as bstr, as array */
    assert_int_equal(decode(hex_parts("A5", F1, "0245312E322E33", F3, F4, F5, NULL), &m),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", F1, "028161", F3, F4, F5, NULL), &m), DROT_E_CLAIM_INVALID);
    /* svn as negative int, as text, as bool */
    assert_int_equal(decode(hex_parts("A5", F1, F2, "0320", F4, F5, NULL), &m), DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", F1, F2, "036134", F4, F5, NULL), &m), DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", F1, F2, "03F5", F4, F5, NULL), &m), DROT_E_CLAIM_INVALID);
    /* digest as tstr of 32 bytes, as array */
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, "047820", DIGEST32, F5, NULL), &m),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, "0480", F5, NULL), &m), DROT_E_CLAIM_INVALID);
    /* size as negative int, as tagged uint, as float */
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, F4, "0520", NULL), &m), DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, F4, "05C21A00012345", NULL), &m),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, F4, "05F93C00", NULL), &m), DROT_E_CLAIM_INVALID);
    /* not a map */
    assert_int_equal(decode(hex_parts("85", F1, F2, F3, F4, F5, NULL), &m), DROT_E_MALFORMED);
    assert_int_equal(decode(hex_parts("6141", NULL), &m), DROT_E_MALFORMED);
    /* a tagged map is not a map either */
    assert_int_equal(decode(hex_parts("D818A5", F1, F2, F3, F4, F5, NULL), &m), DROT_E_MALFORMED);
}

/* Test 6: values out of range on the wire (svn 64 and 2^32, size 0,
 * 16 MiB + 1 and 2^32 + 1, digest 31/33 bytes, component empty or 17 bytes,
 * version empty or 33 bytes, control characters, DEL, non-ASCII)
 * / DROT_E_CLAIM_INVALID; the boundaries themselves pass. */
static void test_decode_ranges(void **state)
{
    (void)state;
    drot_manifest m;
#define BAD(...) assert_int_equal(decode(hex_parts(__VA_ARGS__, NULL), &m), DROT_E_CLAIM_INVALID)
#define OK(...)  assert_int_equal(decode(hex_parts(__VA_ARGS__, NULL), &m), DROT_OK)
    BAD("A5", F1, F2, "031840", F4, F5);
    OK("A5", F1, F2, "03183F", F4, F5);
    assert_int_equal(m.svn, 63);
    OK("A5", F1, F2, "0300", F4, F5);
    BAD("A5", F1, F2, "031A00000040", F4, F5);         /* 64, non-shortest head */
    BAD("A5", F1, F2, "031B0000000100000000", F4, F5); /* 2^32: must not wrap to 0 */
    BAD("A5", F1, F2, F3, F4, "0500");
    OK("A5", F1, F2, F3, F4, "0501");
    OK("A5", F1, F2, F3, F4, "051A01000000");
    assert_int_equal(m.size, 16u * 1024u * 1024u);
    BAD("A5", F1, F2, F3, F4, "051A01000001");
    BAD("A5", F1, F2, F3, F4, "051B0000000100000001"); /* 2^32 + 1: must not wrap to 1 */
    BAD("A5", F1, F2, F3, "04581F", "0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", F5);
    BAD("A5", F1, F2, F3, "045821", DIGEST32, "20", F5);
    BAD("A5", F1, F2, F3, "0440", F5);
    BAD("A5", "0160", F2, F3, F4, F5);
    BAD("A5", "0171", "4142434445464748494A4B4C4D4E4F5051", F2, F3, F4, F5);
    OK("A5", "0170", "4142434445464748494A4B4C4D4E4F50", F2, F3, F4, F5);
    BAD("A5", F1, "0260", F3, F4, F5);
    BAD("A5", F1, "027821", "3132333435363738393031323334353637383930313233343536373839303132", "33", F3, F4,
        F5);
    OK("A5", F1, "027820", "3132333435363738393031323334353637383930313233343536373839303132", F3, F4, F5);
    BAD("A5", F1, "0265312E320A33", F3, F4, F5);   /* "1.2\n3" */
    BAD("A5", F1, "0265312E321B33", F3, F4, F5);   /* ESC */
    BAD("A5", F1, "0265312E320033", F3, F4, F5);   /* NUL */
    BAD("A5", F1, "0265312E327F33", F3, F4, F5);   /* DEL */
    BAD("A5", F1, "0266312E32C3A933", F3, F4, F5); /* "1.2é3": UTF-8, not ASCII */
    BAD("A5", "0163415009", F2, F3, F4, F5);       /* "AP\t" */
    BAD("A5", "016341500D", F2, F3, F4, F5);       /* "AP\r" */
    OK("A5", "0163", "20417E", F2, F3, F4, F5);    /* " A~": space and tilde are printable */
#undef BAD
#undef OK
}

/* Test 7: encode with each field out of range / DROT_E_CLAIM_INVALID
 * (the same rules as decode), nothing written; NULL string with a length,
 * NULL arguments / DROT_E_ARG. */
static void test_encode_ranges(void **state)
{
    (void)state;
    size_t len;
    drot_manifest m;
#define ENC_BAD(field_change, want)                                                                          \
    do {                                                                                                     \
        m = ref_manifest();                                                                                  \
        field_change;                                                                                        \
        len = 7;                                                                                             \
        assert_int_equal(drot_manifest_encode(&m, g_buf, sizeof g_buf, &len), want);                         \
        assert_int_equal(len, 0);                                                                            \
    } while (0)
    ENC_BAD(m.svn = 64, DROT_E_CLAIM_INVALID);
    ENC_BAD(m.size = 0, DROT_E_CLAIM_INVALID);
    ENC_BAD(m.size = 16u * 1024u * 1024u + 1u, DROT_E_CLAIM_INVALID);
    ENC_BAD(m.component_len = 0, DROT_E_CLAIM_INVALID);
    ENC_BAD((m.component = "ABCDEFGHIJKLMNOPQ", m.component_len = 17), DROT_E_CLAIM_INVALID);
    ENC_BAD(m.version_len = 0, DROT_E_CLAIM_INVALID);
    ENC_BAD((m.version = "123456789012345678901234567890123", m.version_len = 33), DROT_E_CLAIM_INVALID);
    ENC_BAD((m.version = "1.2\t3", m.version_len = 5), DROT_E_CLAIM_INVALID);
    ENC_BAD((m.component = "AP\x80", m.component_len = 3), DROT_E_CLAIM_INVALID);
    ENC_BAD((m.component = NULL, m.component_len = 0), DROT_E_CLAIM_INVALID);
    ENC_BAD((m.component = NULL, m.component_len = 3), DROT_E_ARG);
    ENC_BAD((m.version = NULL, m.version_len = 5), DROT_E_ARG);
#undef ENC_BAD
    m = ref_manifest();
    assert_int_equal(drot_manifest_encode(NULL, g_buf, sizeof g_buf, &len), DROT_E_ARG);
    assert_int_equal(drot_manifest_encode(&m, g_buf, sizeof g_buf, NULL), DROT_E_ARG);
    assert_int_equal(drot_manifest_encode(&m, NULL, 10, &len), DROT_E_ARG);
    assert_int_equal(drot_manifest_decode(g_buf, 5, NULL), DROT_E_ARG);
    assert_int_equal(drot_manifest_decode(NULL, 5, &m), DROT_E_ARG);
}

/* Test 8: keys 0, 6, 24, -1, "1", h'01' (with or instead of a known one)
 * / DROT_E_UNKNOWN_CLAIM, before their value is looked at. */
static void test_unknown_key(void **state)
{
    (void)state;
    drot_manifest m;
    assert_int_equal(decode(hex_parts("A6", F1, F2, F3, F4, F5, "0600", NULL), &m), DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(decode(hex_parts("A6", "0000", F1, F2, F3, F4, F5, NULL), &m), DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(decode(hex_parts("A6", F1, "1818", "00", F2, F3, F4, F5, NULL), &m),
                     DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(decode(hex_parts("A5", "20634150", "4D", F2, F3, F4, F5, NULL), &m),
                     DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(decode(hex_parts("A5", "6131634150", "4D", F2, F3, F4, F5, NULL), &m),
                     DROT_E_UNKNOWN_CLAIM);
    assert_int_equal(decode(hex_parts("A5", "4101634150", "4D", F2, F3, F4, F5, NULL), &m),
                     DROT_E_UNKNOWN_CLAIM);
    /* An unknown key's value is never walked: a truncated value after it
     * still reports the key. */
    assert_int_equal(decode(hex_parts("A6", F1, F2, F3, F4, F5, "075BFFFFFFFF", NULL), &m),
                     DROT_E_UNKNOWN_CLAIM);
}

/* Test 9: a key repeated (same or different value, adjacent or not)
 * / DROT_E_DUPLICATE. */
static void test_duplicate_key(void **state)
{
    (void)state;
    drot_manifest m;
    assert_int_equal(decode(hex_parts("A6", F1, F2, F3, F4, F5, F3, NULL), &m), DROT_E_DUPLICATE);
    assert_int_equal(decode(hex_parts("A6", F1, F1, F2, F3, F4, F5, NULL), &m), DROT_E_DUPLICATE);
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, F4, "0301", NULL), &m), DROT_E_DUPLICATE);
}

/* Test 10: the reference map followed by one byte, by a second map
 * / DROT_E_TRAILING. Keys in another order / accepted (documented). */
static void test_trailing_and_order(void **state)
{
    (void)state;
    drot_manifest m;
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, F4, F5, "00", NULL), &m), DROT_E_TRAILING);
    assert_int_equal(decode(hex_parts("A5", F1, F2, F3, F4, F5, "A0", NULL), &m), DROT_E_TRAILING);
    assert_int_equal(decode(hex_parts("A5", F5, F4, F3, F2, F1, NULL), &m), DROT_OK);
    assert_int_equal(m.size, 74565);
}

/* Test 11: the reference cut at every length 0..56 / DROT_E_TRUNCATED. */
static void test_truncation(void **state)
{
    (void)state;
    drot_manifest m;
    size_t full = hex_parts(k_ref_hex, NULL);
    for (size_t n = 0; n < full; n++)
        assert_int_equal(decode(n, &m), DROT_E_TRUNCATED);
    assert_int_equal(decode(full, &m), DROT_OK);
    assert_int_equal(drot_manifest_decode(NULL, 0, &m), DROT_E_TRUNCATED);
}

/* Test 12: sign with a trusted key, verify against the anchors / DROT_OK,
 * slot 1, the manifest back; the envelope carries DROT_AUTH_CT_MANIFEST
 * and its payload is the canonical encoding. */
static void test_sign_verify(void **state)
{
    (void)state;
    drot_manifest m = ref_manifest(), back;
    uint8_t ref[128];
    long ref_len = drot_test_hex(k_ref_hex, ref, sizeof ref);
    size_t len, need, idx = 99;
    drot_cose_sign1_view v;

    assert_int_equal(drot_manifest_sign(&g_priv[0], &g_pub[0], &m, NULL, 0, &need), DROT_E_BUFFER);
    assert_true(need <= DROT_MANIFEST_SIGNED_MAX);
    assert_int_equal(drot_manifest_sign(&g_priv[0], &g_pub[0], &m, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(len, need);
    assert_int_equal(drot_manifest_verify(g_buf, len, g_slots, 2, &back, &idx), DROT_OK);
    assert_int_equal(idx, 1);
    assert_manifest_equal(&m, &back);
    assert_true((const uint8_t *)back.version > g_buf && (const uint8_t *)back.version < g_buf + len);

    assert_int_equal(drot_authority_verify(g_buf, len, DROT_AUTH_CT_MANIFEST, g_slots, 2, &v, &idx), DROT_OK);
    assert_int_equal(v.payload_len, (size_t)ref_len);
    assert_memory_equal(v.payload, ref, v.payload_len);

    /* The same key's anchor revoked / DROT_E_BADKEY. */
    drot_anchor_slot revoked[2] = {g_slots[0], g_slots[1]};
    revoked[1].revoked = true;
    idx = 99;
    memset(&back, 0xA5, sizeof back);
    assert_int_equal(drot_manifest_verify(g_buf, len, revoked, 2, &back, &idx), DROT_E_BADKEY);
    assert_true(manifest_is_zero(&back));
    assert_int_equal(idx, 99);

    /* An invalid manifest is not signed. */
    m.svn = 64;
    assert_int_equal(drot_manifest_sign(&g_priv[0], &g_pub[0], &m, g_buf, sizeof g_buf, &len),
                     DROT_E_CLAIM_INVALID);
}

/* Test 13: a manifest signed by an untrusted key; one signed by the trusted
 * key with one payload byte flipped / DROT_E_VERIFY, *out zeroed, index
 * untouched. */
static void test_untrusted_signer(void **state)
{
    (void)state;
    drot_manifest m = ref_manifest(), back;
    size_t len, idx = 99;
    drot_cose_sign1_view v;

    assert_int_equal(drot_manifest_sign(&g_priv[1], &g_pub[1], &m, g_buf, sizeof g_buf, &len), DROT_OK);
    memset(&back, 0xA5, sizeof back);
    assert_int_equal(drot_manifest_verify(g_buf, len, g_slots, 2, &back, &idx), DROT_E_VERIFY);
    assert_true(manifest_is_zero(&back));
    assert_int_equal(idx, 99);

    assert_int_equal(drot_manifest_sign(&g_priv[0], &g_pub[0], &m, g_buf, sizeof g_buf, &len), DROT_OK);
    assert_int_equal(drot_authority_verify(g_buf, len, DROT_AUTH_CT_MANIFEST, g_slots, 2, &v, &idx), DROT_OK);
    g_buf[(size_t)(v.payload - g_buf) + 10] ^= 0x01; /* inside "1.2.3" */
    idx = 99;
    memset(&back, 0xA5, sizeof back);
    assert_int_equal(drot_manifest_verify(g_buf, len, g_slots, 2, &back, &idx), DROT_E_VERIFY);
    assert_true(manifest_is_zero(&back));
    assert_int_equal(idx, 99);
}

/* Test 14: a valid manifest signed by a trusted key as another kind
 * (rotate-root) / DROT_E_UNSUPPORTED; a bad manifest (svn 64) correctly
 * signed as a manifest by a trusted key / DROT_E_CLAIM_INVALID, *out
 * zeroed, index untouched. */
static void test_wrong_kind_and_bad_signed_payload(void **state)
{
    (void)state;
    uint8_t payload[128];
    long n = drot_test_hex(k_ref_hex, payload, sizeof payload);
    size_t len, idx = 99;
    drot_manifest back;

    assert_int_equal(drot_authority_sign(&g_priv[0], &g_pub[0], DROT_AUTH_CT_ROTATE_ROOT, payload, (size_t)n,
                                         g_buf, sizeof g_buf, &len),
                     DROT_OK);
    assert_int_equal(drot_manifest_verify(g_buf, len, g_slots, 2, &back, &idx), DROT_E_UNSUPPORTED);
    assert_int_equal(idx, 99);

    payload[15] = 0x40; /* 03 18 2A → 03 18 40: svn 64 */
    assert_int_equal(payload[13], 0x03);
    assert_int_equal(drot_authority_sign(&g_priv[0], &g_pub[0], DROT_AUTH_CT_MANIFEST, payload, (size_t)n,
                                         g_buf, sizeof g_buf, &len),
                     DROT_OK);
    memset(&back, 0xA5, sizeof back);
    assert_int_equal(drot_manifest_verify(g_buf, len, g_slots, 2, &back, &idx), DROT_E_CLAIM_INVALID);
    assert_true(manifest_is_zero(&back));
    assert_int_equal(idx, 99);
    assert_int_equal(drot_manifest_verify(g_buf, len, g_slots, 2, NULL, &idx), DROT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_reference_vector),
        cmocka_unit_test(test_largest_and_buffer), cmocka_unit_test(test_field_missing),
        cmocka_unit_test(test_wrong_types),        cmocka_unit_test(test_decode_ranges),
        cmocka_unit_test(test_encode_ranges),      cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_duplicate_key),      cmocka_unit_test(test_trailing_and_order),
        cmocka_unit_test(test_truncation),         cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_untrusted_signer),   cmocka_unit_test(test_wrong_kind_and_bad_signed_payload),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
