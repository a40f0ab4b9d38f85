/*
 * test_eat.c — the EAT/PSA claims-set codec (common/src/eat.c, docs/token.md).
 *
 * Outside references, so the codec is not only checked against itself:
 *   - k_rfc_example: the claims set of the COSE_Sign1 example of RFC 9783
 *     Appendix A (hypothetical TF-M device, SECURED, SPE caller). Its bytes
 *     are the payload of the draft's psa-sign1.hex with the boot seed key
 *     written as EAT bootseed 268 (19 01 0c) as in the published example's
 *     diagnostic notation; decoded by hand below and with an independent
 *     CBOR library (Python cbor2) while writing this test.
 *   - k_drot_example: a drot-profile payload assembled claim by claim from
 *     the layout in docs/token.md and cross-checked with cbor2; the encoder
 *     must reproduce it byte for byte.
 *
 * Negative payloads are built by splitting a known-good payload into its
 * (key, value) entries and dropping, replacing, duplicating or adding raw
 * CBOR entries, so every rejection test differs from a valid payload by
 * exactly the defect it names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/cbor.h"
#include "drot/eat.h"
#include "drot_test_support.h"

/* ---- reference payloads ------------------------------------------------- */

/* clang-format off */
/* RFC 9783 Appendix A.1 claims set, 256 bytes. */
static const char k_rfc_example[] =
    "a8"                                                                       /* map(8) */
    "190100" "5821" "01" "0202020202020202020202020202020202020202020202020202020202020202" /* ueid */
    "19095c" "5820" "0000000000000000000000000000000000000000000000000000000000000000" /* impl id */
    "0a" "5820" "0101010101010101010101010101010101010101010101010101010101010101"     /* nonce */
    "19095a" "1a7fffffff"                                                       /* client id 2^31-1 */
    "19095b" "193000"                                                           /* lifecycle SECURED */
    "190109" "7821" "7461673a7073616365727469666965642e6f72672c323032333a7073612374666d" /* profile */
    "19010c" "48" "0000000000000000"                                            /* bootseed, 8 bytes */
    "19095f" "81" "a3"                                                          /* sw components [ {3} ] */
    "05" "5820" "0404040404040404040404040404040404040404040404040404040404040404" /* signer id */
    "02" "5820" "0303030303030303030303030303030303030303030303030303030303030303" /* measurement value */
    "01" "64" "50526f54";                                                       /* type "PRoT" */
/* Byte offset of the boot seed key in k_rfc_example (19 01 0c). */
#define RFC_BOOT_SEED_KEY_OFFSET 163

/* drot profile, 409 bytes, in the encoder's documented key order. */
static const char k_drot_example[] =
    "ad"                                                                        /* map(13) */
    "0a" "5820" "1111111111111111111111111111111111111111111111111111111111111111" /* nonce */
    "190100" "5821" "01" "2222222222222222222222222222222222222222222222222222222222222222" /* ueid */
    "190109" "781d" "7461673a64726f742e6465762c323032363a61706d2d746f6b656e2331" /* drot profile */
    "19010c" "5820" "3333333333333333333333333333333333333333333333333333333333333333" /* bootseed */
    "19095a" "20"                                                               /* client id -1 */
    "19095b" "193000"                                                           /* lifecycle 0x3000 */
    "19095c" "5820" "4444444444444444444444444444444444444444444444444444444444444444" /* impl id */
    "19095f" "82"                                                               /* sw components [2] */
    "a5" "01" "6341504d"                                                        /* {1: "APM", */
    "02" "5820" "5555555555555555555555555555555555555555555555555555555555555555" /*  2: value, */
    "04" "65312e322e30"                                                         /*  4: "1.2.0", */
    "05" "5820" "6666666666666666666666666666666666666666666666666666666666666666" /*  5: signer, */
    "06" "677368612d323536"                                                     /*  6: "sha-256"} */
    "a2" "02" "5820" "7777777777777777777777777777777777777777777777777777777777777777" /* {2: value, */
    "05" "5820" "6666666666666666666666666666666666666666666666666666666666666666" /*  5: signer} */
    "3a00013880" "50" "000102030405060708090a0b0c0d0e0f"                        /* -80001 device id */
    "3a00013881" "03"                                                           /* -80002 epoch 3 */
    "3a00013882" "a2" "0007" "0102"                                             /* -80003 {0: 7, 1: 2} */
    "3a00013883" "00"                                                           /* -80004 tamper state 0 */
    "3a00013884" "00";                                                          /* -80005 tamper count 0 */
/* clang-format on */

static uint8_t *hex_alloc(const char *hex, size_t *len)
{
    return drot_test_hex_alloc(hex, len);
}

/* ---- claims fixtures ---------------------------------------------------- */

static uint8_t g_nonce[64];
static uint8_t g_ueid[DROT_EAT_INSTANCE_ID_LEN];
static uint8_t g_seed[32];
static uint8_t g_impl[DROT_EAT_IMPLEMENTATION_ID_LEN];
static uint8_t g_meas[DROT_EAT_MAX_COMPONENTS][64];
static uint8_t g_signer[64];
static uint8_t g_devid[DROT_EAT_DEVICE_ID_LEN];

static drot_eat_bytes B(const uint8_t *p, size_t n)
{
    drot_eat_bytes b = {p, n};
    return b;
}

static drot_eat_text T(const char *s)
{
    drot_eat_text t = {s, strlen(s)};
    return t;
}

/* The claims of k_drot_example (profile drot) or the same without drot's
 * claims (profile psa). */
static void make_claims(drot_eat_claims *c, drot_eat_profile prof)
{
    memset(c, 0, sizeof *c);
    memset(g_nonce, 0x11, sizeof g_nonce);
    g_ueid[0] = 0x01;
    memset(g_ueid + 1, 0x22, sizeof g_ueid - 1);
    memset(g_seed, 0x33, sizeof g_seed);
    memset(g_impl, 0x44, sizeof g_impl);
    memset(g_meas[0], 0x55, sizeof g_meas[0]);
    memset(g_meas[1], 0x77, sizeof g_meas[1]);
    for (size_t i = 2; i < DROT_EAT_MAX_COMPONENTS; i++)
        memset(g_meas[i], (int)(0x80 + i), sizeof g_meas[i]);
    memset(g_signer, 0x66, sizeof g_signer);
    for (size_t i = 0; i < sizeof g_devid; i++)
        g_devid[i] = (uint8_t)i;

    c->profile = prof;
    c->nonce = B(g_nonce, 32);
    c->instance_id = B(g_ueid, sizeof g_ueid);
    c->implementation_id = B(g_impl, sizeof g_impl);
    c->client_id = -1;
    c->security_lifecycle = 0x3000;
    c->boot_seed = B(g_seed, 32);
    c->num_components = 2;
    c->components[0].measurement_type = T("APM");
    c->components[0].measurement_value = B(g_meas[0], 32);
    c->components[0].version = T("1.2.0");
    c->components[0].signer_id = B(g_signer, 32);
    c->components[0].measurement_desc = T("sha-256");
    c->components[1].measurement_value = B(g_meas[1], 32);
    c->components[1].signer_id = B(g_signer, 32);
    if (prof == DROT_EAT_PROFILE_DROT) {
        c->drot.device_id = B(g_devid, sizeof g_devid);
        c->drot.epoch = 3;
        c->drot.num_svns = 2;
        c->drot.svns[0].component = 0;
        c->drot.svns[0].svn = 7;
        c->drot.svns[1].component = 1;
        c->drot.svns[1].svn = 2;
    }
}

static void add_optional(drot_eat_claims *c)
{
    c->certification_reference = T("1234567890123-12345");
    c->verification_service = T("https://verifier.drot.example/v1");
}

static void expect_bytes_equal(drot_eat_bytes a, drot_eat_bytes b)
{
    assert_true((a.p == NULL) == (b.p == NULL));
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.p, b.p, a.len);
}

static void expect_text_equal(drot_eat_text a, drot_eat_text b)
{
    assert_true((a.p == NULL) == (b.p == NULL));
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.p, b.p, a.len);
}

static void expect_claims_equal(const drot_eat_claims *a, const drot_eat_claims *b)
{
    assert_int_equal(a->profile, b->profile);
    expect_bytes_equal(a->nonce, b->nonce);
    expect_bytes_equal(a->instance_id, b->instance_id);
    expect_bytes_equal(a->implementation_id, b->implementation_id);
    assert_true(a->client_id == b->client_id);
    assert_int_equal(a->security_lifecycle, b->security_lifecycle);
    expect_bytes_equal(a->boot_seed, b->boot_seed);
    expect_text_equal(a->certification_reference, b->certification_reference);
    expect_text_equal(a->verification_service, b->verification_service);
    assert_int_equal(a->num_components, b->num_components);
    for (size_t i = 0; i < a->num_components; i++) {
        expect_text_equal(a->components[i].measurement_type, b->components[i].measurement_type);
        expect_bytes_equal(a->components[i].measurement_value, b->components[i].measurement_value);
        expect_text_equal(a->components[i].version, b->components[i].version);
        expect_bytes_equal(a->components[i].signer_id, b->components[i].signer_id);
        expect_text_equal(a->components[i].measurement_desc, b->components[i].measurement_desc);
    }
    expect_bytes_equal(a->drot.device_id, b->drot.device_id);
    assert_true(a->drot.epoch == b->drot.epoch);
    assert_int_equal(a->drot.num_svns, b->drot.num_svns);
    for (size_t i = 0; i < a->drot.num_svns; i++) {
        assert_int_equal(a->drot.svns[i].component, b->drot.svns[i].component);
        assert_true(a->drot.svns[i].svn == b->drot.svns[i].svn);
    }
    assert_true(a->drot.tamper_state == b->drot.tamper_state);
    assert_true(a->drot.tamper_count == b->drot.tamper_count);
}

/* ---- raw payload surgery ------------------------------------------------ */

typedef struct item {
    uint8_t b[1200];
    size_t n;
} item;

typedef struct entry {
    item key;
    item val;
} entry;

typedef struct payload {
    entry e[40];
    size_t n;
} payload;

static item it_raw(const uint8_t *p, size_t n)
{
    item it;
    assert_true(n <= sizeof it.b);
    memcpy(it.b, p, n);
    it.n = n;
    return it;
}

static item it_hex(const char *hex)
{
    item it;
    long n = drot_test_hex(hex, it.b, sizeof it.b);
    assert_true(n >= 0);
    it.n = (size_t)n;
    return it;
}

static item it_int(int64_t v)
{
    item it;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, it.b, sizeof it.b);
    drot_cbor_put_int(&w, v);
    assert_int_equal(drot_cbor_writer_finish(&w, &it.n), DROT_OK);
    return it;
}

static item it_uint(uint64_t v)
{
    item it;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, it.b, sizeof it.b);
    drot_cbor_put_uint(&w, v);
    assert_int_equal(drot_cbor_writer_finish(&w, &it.n), DROT_OK);
    return it;
}

/* A byte string of n bytes, the first one first, the rest fill. */
static item it_bstr2(size_t n, uint8_t first, uint8_t fill)
{
    uint8_t tmp[1024];
    assert_true(n <= sizeof tmp);
    memset(tmp, fill, n);
    if (n > 0)
        tmp[0] = first;
    item it;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, it.b, sizeof it.b);
    drot_cbor_put_bstr(&w, tmp, n);
    assert_int_equal(drot_cbor_writer_finish(&w, &it.n), DROT_OK);
    return it;
}

static item it_bstr(size_t n, uint8_t fill)
{
    return it_bstr2(n, fill, fill);
}

static item it_tstrn(const char *s, size_t n)
{
    item it;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, it.b, sizeof it.b);
    drot_cbor_put_tstr(&w, s, n);
    assert_int_equal(drot_cbor_writer_finish(&w, &it.n), DROT_OK);
    return it;
}

static item it_tstr(const char *s)
{
    return it_tstrn(s, strlen(s));
}

/* n levels of one-element arrays around a 0. */
static item it_nested(size_t depth, uint8_t head)
{
    item it;
    assert_true(depth + 1 <= sizeof it.b);
    memset(it.b, head, depth);
    it.b[depth] = 0x00;
    it.n = depth + 1;
    return it;
}

/* Splits a payload (one definite map) into its entries. */
static void pl_from(payload *pl, const uint8_t *p, size_t len)
{
    drot_cbor_reader r;
    size_t n;
    drot_cbor_reader_init(&r, p, len);
    assert_int_equal(drot_cbor_get_map(&r, &n), DROT_OK);
    assert_true(n <= sizeof pl->e / sizeof pl->e[0]);
    pl->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t start = r.off;
        assert_int_equal(drot_cbor_skip(&r), DROT_OK);
        pl->e[i].key = it_raw(p + start, r.off - start);
        start = r.off;
        assert_int_equal(drot_cbor_skip(&r), DROT_OK);
        pl->e[i].val = it_raw(p + start, r.off - start);
    }
    assert_int_equal(drot_cbor_reader_done(&r), DROT_OK);
}

static void pl_from_hex(payload *pl, const char *hex)
{
    size_t len;
    uint8_t *p = hex_alloc(hex, &len);
    pl_from(pl, p, len);
    free(p);
}

static long pl_index(const payload *pl, int64_t key)
{
    item k = it_int(key);
    for (size_t i = 0; i < pl->n; i++) {
        if (pl->e[i].key.n == k.n && memcmp(pl->e[i].key.b, k.b, k.n) == 0)
            return (long)i;
    }
    return -1;
}

static void pl_drop(payload *pl, int64_t key)
{
    long i = pl_index(pl, key);
    assert_true(i >= 0);
    memmove(&pl->e[i], &pl->e[i + 1], (pl->n - (size_t)i - 1) * sizeof pl->e[0]);
    pl->n--;
}

static void pl_set(payload *pl, int64_t key, item val)
{
    long i = pl_index(pl, key);
    assert_true(i >= 0);
    pl->e[i].val = val;
}

static void pl_add_raw(payload *pl, item key, item val)
{
    assert_true(pl->n < sizeof pl->e / sizeof pl->e[0]);
    pl->e[pl->n].key = key;
    pl->e[pl->n].val = val;
    pl->n++;
}

static void pl_add(payload *pl, int64_t key, item val)
{
    pl_add_raw(pl, it_int(key), val);
}

/* Puts an entry first, before the profile claim. */
static void pl_add_front(payload *pl, int64_t key, item val)
{
    assert_true(pl->n < sizeof pl->e / sizeof pl->e[0]);
    memmove(&pl->e[1], &pl->e[0], pl->n * sizeof pl->e[0]);
    pl->e[0].key = it_int(key);
    pl->e[0].val = val;
    pl->n++;
}

/* Assembles into a fresh heap buffer of exactly the payload's size, so that
 * ASan sees any read past the end. */
static uint8_t *pl_build(const payload *pl, size_t *len)
{
    static uint8_t buf[16384];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, pl->n);
    for (size_t i = 0; i < pl->n; i++) {
        drot_cbor_put_raw(&w, pl->e[i].key.b, pl->e[i].key.n);
        drot_cbor_put_raw(&w, pl->e[i].val.b, pl->e[i].val.n);
    }
    assert_int_equal(drot_cbor_writer_finish(&w, len), DROT_OK);
    uint8_t *p = malloc(*len > 0 ? *len : 1);
    assert_non_null(p);
    memcpy(p, buf, *len);
    return p;
}

static drot_eat_claims g_claims;

static drot_status pl_decode(const payload *pl)
{
    size_t len;
    uint8_t *p = pl_build(pl, &len);
    drot_status st = drot_eat_decode(p, len, &g_claims);
    free(p);
    return st;
}

static void base_drot(payload *pl)
{
    pl_from_hex(pl, k_drot_example);
}

/* The drot example less drot's claims, with the PSA profile string. */
static void base_psa(payload *pl)
{
    base_drot(pl);
    pl_drop(pl, DROT_EAT_KEY_DEVICE_ID);
    pl_drop(pl, DROT_EAT_KEY_EPOCH);
    pl_drop(pl, DROT_EAT_KEY_SVNS);
    pl_drop(pl, DROT_EAT_KEY_TAMPER_STATE);
    pl_drop(pl, DROT_EAT_KEY_TAMPER_COUNT);
    pl_set(pl, DROT_EAT_KEY_PROFILE, it_tstr(DROT_EAT_PROFILE_PSA_STR));
}

static void base_of(payload *pl, drot_eat_profile prof)
{
    if (prof == DROT_EAT_PROFILE_PSA)
        base_psa(pl);
    else
        base_drot(pl);
}

static void expect_status(const payload *pl, drot_status want)
{
    drot_status st = pl_decode(pl);
    if (st != want)
        fail_msg("decode gave %d (%s), expected %d (%s)", st, drot_status_str(st), want,
                 drot_status_str(want));
}

/* Decode of the base payload with one claim's value replaced. */
static drot_status with_value(drot_eat_profile prof, int64_t key, item val)
{
    payload pl;
    base_of(&pl, prof);
    pl_set(&pl, key, val);
    return pl_decode(&pl);
}

/* The component map of k_drot_example's second entry, n times. */
static item components_array(size_t n)
{
    item it;
    drot_cbor_writer w;
    uint8_t meas[32], signer[32];
    memset(meas, 0x77, sizeof meas);
    memset(signer, 0x66, sizeof signer);
    drot_cbor_writer_init(&w, it.b, sizeof it.b);
    drot_cbor_put_array(&w, n);
    for (size_t i = 0; i < n; i++) {
        drot_cbor_put_map(&w, 2);
        drot_cbor_put_uint(&w, 2);
        drot_cbor_put_bstr(&w, meas, sizeof meas);
        drot_cbor_put_uint(&w, 5);
        drot_cbor_put_bstr(&w, signer, sizeof signer);
    }
    assert_int_equal(drot_cbor_writer_finish(&w, &it.n), DROT_OK);
    return it;
}

/* One component map built from its parts; absent parts are NULL. */
static item component_with(const item *type, const item *value, const item *version, const item *signer,
                           const item *desc, const item *extra_key, const item *extra_val)
{
    const item *parts[6][2] = {{NULL, type},   {NULL, value}, {NULL, version},
                               {NULL, signer}, {NULL, desc},  {extra_key, extra_val}};
    static const uint8_t keys[5] = {1, 2, 4, 5, 6};
    size_t n = 0;
    for (size_t i = 0; i < 6; i++)
        n += parts[i][1] != NULL;
    item it;
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, it.b, sizeof it.b);
    drot_cbor_put_array(&w, 1);
    drot_cbor_put_map(&w, n);
    for (size_t i = 0; i < 6; i++) {
        if (parts[i][1] == NULL)
            continue;
        if (i < 5)
            drot_cbor_put_uint(&w, keys[i]);
        else
            drot_cbor_put_raw(&w, parts[i][0]->b, parts[i][0]->n);
        drot_cbor_put_raw(&w, parts[i][1]->b, parts[i][1]->n);
    }
    assert_int_equal(drot_cbor_writer_finish(&w, &it.n), DROT_OK);
    return it;
}

/* ---- tests: reference payloads ------------------------------------------ */

/* Test 1: the RFC 9783 Appendix A claims set / decodes as psa with exactly
 * the values of the RFC's diagnostic notation, pointers into the input. */
static void test_rfc_example_decodes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = hex_alloc(k_rfc_example, &len);
    assert_int_equal(len, 256);
    drot_eat_claims c;
    assert_int_equal(drot_eat_decode(p, len, &c), DROT_OK);

    uint8_t want[33];
    assert_int_equal(c.profile, DROT_EAT_PROFILE_PSA);
    assert_int_equal(c.instance_id.len, 33);
    want[0] = 0x01;
    memset(want + 1, 0x02, 32);
    assert_memory_equal(c.instance_id.p, want, 33);
    memset(want, 0x00, 32);
    assert_int_equal(c.implementation_id.len, 32);
    assert_memory_equal(c.implementation_id.p, want, 32);
    memset(want, 0x01, 32);
    assert_int_equal(c.nonce.len, 32);
    assert_memory_equal(c.nonce.p, want, 32);
    assert_true(c.client_id == 2147483647);
    assert_int_equal(c.security_lifecycle, 12288);
    assert_int_equal(drot_eat_lifecycle_class(c.security_lifecycle), DROT_EAT_LC_SECURED);
    memset(want, 0x00, 8);
    assert_int_equal(c.boot_seed.len, 8);
    assert_memory_equal(c.boot_seed.p, want, 8);
    assert_null(c.certification_reference.p);
    assert_null(c.verification_service.p);
    assert_int_equal(c.num_components, 1);
    assert_int_equal(c.components[0].measurement_type.len, 4);
    assert_memory_equal(c.components[0].measurement_type.p, "PRoT", 4);
    memset(want, 0x03, 32);
    assert_int_equal(c.components[0].measurement_value.len, 32);
    assert_memory_equal(c.components[0].measurement_value.p, want, 32);
    memset(want, 0x04, 32);
    assert_int_equal(c.components[0].signer_id.len, 32);
    assert_memory_equal(c.components[0].signer_id.p, want, 32);
    assert_null(c.components[0].version.p);
    assert_null(c.components[0].measurement_desc.p);
    assert_null(c.drot.device_id.p);

    /* Zero copy: every string lies inside the input buffer. */
    assert_true(c.nonce.p > p && c.nonce.p + c.nonce.len <= p + len);
    assert_true(c.components[0].signer_id.p > p && c.components[0].signer_id.p + 32 <= p + len);
    free(p);
}

/* Test 2: the same example re-encoded / decodes to the same claims, and the
 * re-encoding is the RFC map in drot's key order (same size, 256 bytes). */
static void test_rfc_example_reencodes(void **state)
{
    (void)state;
    size_t len, out_len, len2;
    uint8_t *p = hex_alloc(k_rfc_example, &len);
    drot_eat_claims a, b;
    uint8_t out[DROT_EAT_MAX_PAYLOAD], out2[DROT_EAT_MAX_PAYLOAD];
    assert_int_equal(drot_eat_decode(p, len, &a), DROT_OK);
    assert_int_equal(drot_eat_encode(&a, out, sizeof out, &out_len), DROT_OK);
    assert_int_equal(out_len, len);
    assert_int_equal(drot_eat_decode(out, out_len, &b), DROT_OK);
    expect_claims_equal(&a, &b);
    assert_int_equal(drot_eat_encode(&b, out2, sizeof out2, &len2), DROT_OK);
    assert_int_equal(len2, out_len);
    assert_memory_equal(out, out2, out_len);
    /* drot order puts the nonce (key 10) first. */
    assert_int_equal(out[1], 0x0a);
    free(p);
}

/* Test 3: the pre-RFC boot seed key 2397 in place of 268 (the draft's own
 * example bytes) / refused in the psa profile as an unknown claim. */
static void test_rfc_example_pre_rfc_boot_seed_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = hex_alloc(k_rfc_example, &len);
    static const uint8_t key268[3] = {0x19, 0x01, 0x0c};
    assert_memory_equal(p + RFC_BOOT_SEED_KEY_OFFSET, key268, 3);
    p[RFC_BOOT_SEED_KEY_OFFSET + 1] = 0x09;
    p[RFC_BOOT_SEED_KEY_OFFSET + 2] = 0x5d; /* 19 09 5d = 2397 */
    drot_eat_claims c;
    assert_int_equal(drot_eat_decode(p, len, &c), DROT_E_UNKNOWN_CLAIM);
    free(p);

    /* Also in the drot profile, and added next to a valid 268. */
    payload pl;
    base_drot(&pl);
    pl_add(&pl, 2397, it_bstr(32, 0x33));
    expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
    base_psa(&pl);
    pl_drop(&pl, DROT_EAT_KEY_BOOT_SEED);
    pl_add(&pl, 2397, it_bstr(32, 0x33));
    expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
}

/* Test 4: encode of the drot example claims / exactly k_drot_example. */
static void test_drot_example_encodes(void **state)
{
    (void)state;
    drot_eat_claims c;
    size_t want_len, out_len;
    uint8_t out[DROT_EAT_MAX_PAYLOAD];
    uint8_t *want = hex_alloc(k_drot_example, &want_len);
    assert_int_equal(want_len, 409);
    make_claims(&c, DROT_EAT_PROFILE_DROT);
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, &out_len), DROT_OK);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
    free(want);
}

/* Test 5: decode of k_drot_example / the claims it was made from. */
static void test_drot_example_decodes(void **state)
{
    (void)state;
    drot_eat_claims want, got;
    size_t len;
    uint8_t *p = hex_alloc(k_drot_example, &len);
    make_claims(&want, DROT_EAT_PROFILE_DROT);
    assert_int_equal(drot_eat_decode(p, len, &got), DROT_OK);
    expect_claims_equal(&got, &want);
    free(p);
}

/* ---- tests: round trips and encoder output ------------------------------ */

static void round_trip(drot_eat_profile prof, bool optional)
{
    drot_eat_claims c, d;
    uint8_t out[DROT_EAT_MAX_PAYLOAD], out2[DROT_EAT_MAX_PAYLOAD];
    size_t len, len2;
    make_claims(&c, prof);
    if (optional)
        add_optional(&c);
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, &len), DROT_OK);
    assert_int_equal(drot_eat_decode(out, len, &d), DROT_OK);
    expect_claims_equal(&c, &d);
    assert_int_equal(drot_eat_encode(&d, out2, sizeof out2, &len2), DROT_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(out, out2, len);
}

/* Test 6: psa claims, with and without the optional claims / encode →
 * decode gives equal fields; re-encode gives identical bytes. */
static void test_round_trip_psa(void **state)
{
    (void)state;
    round_trip(DROT_EAT_PROFILE_PSA, false);
    round_trip(DROT_EAT_PROFILE_PSA, true);
}

/* Test 7: the same for the drot profile. */
static void test_round_trip_drot(void **state)
{
    (void)state;
    round_trip(DROT_EAT_PROFILE_DROT, false);
    round_trip(DROT_EAT_PROFILE_DROT, true);
}

/* Test 8: round trip with every optional field absent (no boot seed, no
 * optional component fields, no SVNs) and 48/64-byte hashes / equal. */
static void test_round_trip_minimal_and_long_hashes(void **state)
{
    (void)state;
    for (int prof = DROT_EAT_PROFILE_PSA; prof <= DROT_EAT_PROFILE_DROT; prof++) {
        drot_eat_claims c, d;
        uint8_t out[DROT_EAT_MAX_PAYLOAD];
        size_t len;
        make_claims(&c, (drot_eat_profile)prof);
        c.boot_seed = B(NULL, 0);
        c.components[0] = c.components[1];
        c.components[0].measurement_value = B(g_meas[0], 48);
        c.components[1].signer_id = B(g_signer, 64);
        c.nonce = B(g_nonce, 64);
        c.drot.num_svns = 0;
        assert_int_equal(drot_eat_encode(&c, out, sizeof out, &len), DROT_OK);
        assert_int_equal(drot_eat_decode(out, len, &d), DROT_OK);
        expect_claims_equal(&c, &d);
    }
}

static bool is_rfc9783_key(int64_t k)
{
    static const int64_t rfc[] = {10, 256, 265, 268, 2394, 2395, 2396, 2398, 2399, 2400};
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        if (rfc[i] == k)
            return true;
    }
    return false;
}

/* Walks an encoded payload with the CBOR reader: every top-level key must
 * be an integer accepted by allowed(), every component key one of RFC 9783's
 * 1, 2, 4, 5, 6, and the keys must ascend in bytewise order of their
 * encodings. Returns the number of top-level entries. */
static size_t walk_keys(const uint8_t *p, size_t len, bool (*allowed)(int64_t))
{
    drot_cbor_reader r;
    size_t n;
    uint8_t prev[9];
    size_t prev_n = 0;
    drot_cbor_reader_init(&r, p, len);
    assert_int_equal(drot_cbor_get_map(&r, &n), DROT_OK);
    for (size_t i = 0; i < n; i++) {
        size_t start = r.off;
        int64_t key;
        assert_int_equal(drot_cbor_get_int(&r, &key), DROT_OK);
        if (!allowed(key))
            fail_msg("key %lld is outside the profile's set", (long long)key);
        size_t kn = r.off - start;
        assert_true(kn <= sizeof prev);
        if (prev_n > 0) {
            int cmp = memcmp(prev, p + start, prev_n < kn ? prev_n : kn);
            assert_true(cmp < 0 || (cmp == 0 && prev_n < kn));
        }
        memcpy(prev, p + start, kn);
        prev_n = kn;
        if (key == DROT_EAT_KEY_SW_COMPONENTS) {
            size_t nc, nf;
            assert_int_equal(drot_cbor_get_array(&r, &nc), DROT_OK);
            for (size_t j = 0; j < nc; j++) {
                uint64_t last = 0;
                assert_int_equal(drot_cbor_get_map(&r, &nf), DROT_OK);
                for (size_t f = 0; f < nf; f++) {
                    uint64_t fk;
                    assert_int_equal(drot_cbor_get_uint(&r, &fk), DROT_OK);
                    assert_true(fk == 1 || fk == 2 || fk == 4 || fk == 5 || fk == 6);
                    assert_true(fk > last);
                    last = fk;
                    assert_int_equal(drot_cbor_skip(&r), DROT_OK);
                }
            }
        } else {
            assert_int_equal(drot_cbor_skip(&r), DROT_OK);
        }
    }
    assert_int_equal(drot_cbor_reader_done(&r), DROT_OK);
    return n;
}

static bool is_drot_key(int64_t k)
{
    /* The RFC's claims, or drot's own: CWT private use is below -65536. */
    return is_rfc9783_key(k) || (k < -65536 && k >= DROT_EAT_KEY_TAMPER_COUNT && k <= DROT_EAT_KEY_DEVICE_ID);
}

/* Test 9: psa payload with every optional claim, and with drot's claims
 * filled in the struct / every key walked is in RFC 9783's set (the drot
 * member is ignored), keys in bytewise order, and 10 entries. */
static void test_psa_payload_only_rfc_claims(void **state)
{
    (void)state;
    drot_eat_claims c, drotc;
    uint8_t out[DROT_EAT_MAX_PAYLOAD], out2[DROT_EAT_MAX_PAYLOAD];
    size_t len, len2;
    make_claims(&c, DROT_EAT_PROFILE_PSA);
    add_optional(&c);
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, &len), DROT_OK);
    assert_int_equal(walk_keys(out, len, is_rfc9783_key), 10);

    /* Same claims but with drot's member filled: still nothing else written. */
    make_claims(&drotc, DROT_EAT_PROFILE_DROT);
    add_optional(&drotc);
    drotc.profile = DROT_EAT_PROFILE_PSA;
    assert_int_equal(drot_eat_encode(&drotc, out2, sizeof out2, &len2), DROT_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(out, out2, len);
}

/* Test 10: drot payload / keys are RFC 9783's or drot's private-use ones,
 * in bytewise order, 15 entries with every optional claim. */
static void test_drot_payload_keys(void **state)
{
    (void)state;
    drot_eat_claims c;
    uint8_t out[DROT_EAT_MAX_PAYLOAD];
    size_t len;
    make_claims(&c, DROT_EAT_PROFILE_DROT);
    add_optional(&c);
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, &len), DROT_OK);
    assert_int_equal(walk_keys(out, len, is_drot_key), 15);
}

/* Test 11: encode into every capacity below the size / DROT_E_BUFFER with
 * the size needed; (NULL, 0) measures; exactly the size works. */
static void test_encode_buffer_sizes(void **state)
{
    (void)state;
    drot_eat_claims c;
    uint8_t full[DROT_EAT_MAX_PAYLOAD];
    size_t len, got;
    make_claims(&c, DROT_EAT_PROFILE_DROT);
    assert_int_equal(drot_eat_encode(&c, full, sizeof full, &len), DROT_OK);
    assert_int_equal(drot_eat_encode(&c, NULL, 0, &got), DROT_E_BUFFER);
    assert_int_equal(got, len);
    for (size_t cap = 1; cap < len; cap++) {
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        assert_int_equal(drot_eat_encode(&c, buf, cap, &got), DROT_E_BUFFER);
        assert_int_equal(got, len);
        free(buf);
    }
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(drot_eat_encode(&c, buf, len, &got), DROT_OK);
    assert_int_equal(got, len);
    assert_memory_equal(buf, full, len);
    free(buf);
}

/* Test 12: the largest valid claims (8 components, every field at its
 * maximum, 64-byte hashes, maximal integers) / encode fits
 * DROT_EAT_MAX_PAYLOAD and decodes back. */
static void test_worst_case_fits(void **state)
{
    (void)state;
    static char text[DROT_EAT_MAX_TEXT];
    static char vsi[DROT_EAT_MAX_VSI];
    drot_eat_claims c, d;
    static uint8_t out[DROT_EAT_MAX_PAYLOAD];
    size_t len;
    memset(text, 'x', sizeof text);
    memset(vsi, 'v', sizeof vsi);
    make_claims(&c, DROT_EAT_PROFILE_DROT);
    add_optional(&c);
    c.nonce = B(g_nonce, 64);
    c.client_id = INT32_MIN;
    c.num_components = DROT_EAT_MAX_COMPONENTS;
    c.verification_service.p = vsi;
    c.verification_service.len = sizeof vsi;
    for (size_t i = 0; i < DROT_EAT_MAX_COMPONENTS; i++) {
        drot_eat_sw_component *s = &c.components[i];
        drot_eat_text t = {text, sizeof text};
        s->measurement_type = t;
        s->version = t;
        s->measurement_desc = t;
        s->measurement_value = B(g_meas[i], 64);
        s->signer_id = B(g_signer, 64);
        c.drot.svns[i].component = (uint32_t)i;
        c.drot.svns[i].svn = UINT64_MAX;
    }
    c.drot.num_svns = DROT_EAT_MAX_COMPONENTS;
    c.drot.epoch = c.drot.tamper_state = c.drot.tamper_count = UINT64_MAX;
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, &len), DROT_OK);
    assert_true(len <= DROT_EAT_MAX_PAYLOAD);
    assert_int_equal(drot_eat_decode(out, len, &d), DROT_OK);
    expect_claims_equal(&c, &d);
}

/* Test 13: invalid claims handed to the encoder / each refused with the
 * documented status, *out_len 0, nothing written. */
static void test_encode_rejects_invalid(void **state)
{
    (void)state;
    enum { N_CASES = 22 };
    for (int i = 0; i < N_CASES; i++) {
        drot_eat_claims c;
        drot_status want;
        make_claims(&c, DROT_EAT_PROFILE_DROT);
        switch (i) {
        case 0: c.nonce = B(g_nonce, 31), want = DROT_E_CLAIM_INVALID; break;
        case 1: c.nonce = B(NULL, 0), want = DROT_E_CLAIM_MISSING; break;
        case 2: c.instance_id = B(g_ueid, 32), want = DROT_E_CLAIM_INVALID; break;
        case 3: c.implementation_id = B(g_impl, 31), want = DROT_E_CLAIM_INVALID; break;
        case 4: c.client_id = 0, want = DROT_E_CLAIM_INVALID; break;
        case 5: c.client_id = (int64_t)INT32_MAX + 1, want = DROT_E_CLAIM_INVALID; break;
        case 6: c.security_lifecycle = 0x7000, want = DROT_E_CLAIM_INVALID; break;
        case 7: c.security_lifecycle = 0x3100, want = DROT_E_CLAIM_INVALID; break;
        case 8: c.boot_seed = B(g_seed, 7), want = DROT_E_CLAIM_INVALID; break;
        case 9: c.num_components = 0, want = DROT_E_CLAIM_MISSING; break;
        case 10: c.num_components = DROT_EAT_MAX_COMPONENTS + 1, want = DROT_E_TOO_LARGE; break;
        case 11: c.components[1].signer_id = B(NULL, 0), want = DROT_E_CLAIM_MISSING; break;
        case 12: c.components[0].measurement_value = B(g_meas[0], 20), want = DROT_E_CLAIM_INVALID; break;
        case 13: c.drot.svns[1].component = 2, want = DROT_E_CLAIM_INVALID; break;
        case 14: c.drot.svns[1].component = 0, want = DROT_E_CLAIM_INVALID; break;
        case 15: c.drot.device_id = B(g_devid, 15), want = DROT_E_CLAIM_INVALID; break;
        case 16: c.drot.device_id = B(NULL, 0), want = DROT_E_CLAIM_MISSING; break;
        case 17: c.profile = DROT_EAT_PROFILE_NONE, want = DROT_E_ARG; break;
        case 18: c.certification_reference = T("1234567890123"), want = DROT_E_CLAIM_INVALID; break;
        case 19: c.components[0].version = T("\xc0\x80"), want = DROT_E_CLAIM_INVALID; break;
        case 20: c.boot_seed = B(NULL, 5), want = DROT_E_ARG; break;
        default: c.drot.num_svns = DROT_EAT_MAX_COMPONENTS + 1, want = DROT_E_TOO_LARGE; break;
        }
        uint8_t out[DROT_EAT_MAX_PAYLOAD];
        memset(out, 0xee, sizeof out);
        size_t len = 12345;
        drot_status st = drot_eat_encode(&c, out, sizeof out, &len);
        if (st != want)
            fail_msg("case %d: encode gave %d, expected %d", i, st, want);
        assert_int_equal(len, 0);
        assert_int_equal(out[0], 0xee);
    }
}

/* Test 14: NULL arguments / DROT_E_ARG, never a crash; a NULL payload still
 * wipes the claims. */
static void test_null_arguments(void **state)
{
    (void)state;
    drot_eat_claims c;
    uint8_t out[8];
    size_t len;
    make_claims(&c, DROT_EAT_PROFILE_PSA);
    assert_int_equal(drot_eat_encode(NULL, out, sizeof out, &len), DROT_E_ARG);
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, NULL), DROT_E_ARG);
    assert_int_equal(drot_eat_encode(&c, NULL, 5, &len), DROT_E_ARG);
    assert_int_equal(drot_eat_decode(out, sizeof out, NULL), DROT_E_ARG);
    assert_int_equal(drot_eat_decode(NULL, 5, &c), DROT_E_ARG);
    assert_int_equal(c.profile, DROT_EAT_PROFILE_NONE);
}

/* ---- tests: missing claims (one per mandatory claim) -------------------- */

static void expect_missing(drot_eat_profile prof, int64_t key)
{
    payload pl;
    base_of(&pl, prof);
    /* The base really had it, so the failure is about its absence. */
    assert_int_equal(pl_decode(&pl), DROT_OK);
    pl_drop(&pl, key);
    expect_status(&pl, DROT_E_CLAIM_MISSING);
}

/* Test 15: psa payload without the nonce (10) / DROT_E_CLAIM_MISSING. */
static void test_missing_nonce(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_NONCE);
}

/* Test 16: psa payload without the instance id (256) / DROT_E_CLAIM_MISSING. */
static void test_missing_instance_id(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_INSTANCE_ID);
}

/* Test 17: psa payload without the profile (265) / DROT_E_CLAIM_MISSING. */
static void test_missing_profile(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_PROFILE);
}

/* Test 18: psa payload without the client id (2394) / DROT_E_CLAIM_MISSING. */
static void test_missing_client_id(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_CLIENT_ID);
}

/* Test 19: psa payload without the security lifecycle (2395) /
 * DROT_E_CLAIM_MISSING. */
static void test_missing_lifecycle(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_LIFECYCLE);
}

/* Test 20: psa payload without the implementation id (2396) /
 * DROT_E_CLAIM_MISSING. */
static void test_missing_implementation_id(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_IMPL_ID);
}

/* Test 21: psa payload without software components (2399) /
 * DROT_E_CLAIM_MISSING. */
static void test_missing_sw_components(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS);
}

/* Test 22: drot payload without each RFC claim in turn / DROT_E_CLAIM_MISSING. */
static void test_missing_rfc_claims_in_drot(void **state)
{
    (void)state;
    static const int64_t keys[] = {DROT_EAT_KEY_NONCE,        DROT_EAT_KEY_INSTANCE_ID, DROT_EAT_KEY_PROFILE,
                                   DROT_EAT_KEY_CLIENT_ID,    DROT_EAT_KEY_LIFECYCLE,   DROT_EAT_KEY_IMPL_ID,
                                   DROT_EAT_KEY_SW_COMPONENTS};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        expect_missing(DROT_EAT_PROFILE_DROT, keys[i]);
}

/* Test 23: drot payload without device_id (-80001) / DROT_E_CLAIM_MISSING. */
static void test_missing_drot_device_id(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_DEVICE_ID);
}

/* Test 24: drot payload without epoch (-80002) / DROT_E_CLAIM_MISSING. */
static void test_missing_drot_epoch(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_EPOCH);
}

/* Test 25: drot payload without the SVN map (-80003) / DROT_E_CLAIM_MISSING. */
static void test_missing_drot_svns(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_SVNS);
}

/* Test 26: drot payload without tamper state (-80004) / DROT_E_CLAIM_MISSING. */
static void test_missing_drot_tamper_state(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_TAMPER_STATE);
}

/* Test 27: drot payload without tamper count (-80005) / DROT_E_CLAIM_MISSING. */
static void test_missing_drot_tamper_count(void **state)
{
    (void)state;
    expect_missing(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_TAMPER_COUNT);
}

/* Test 28: optional claims absent (boot seed; no cert ref or VSI in the
 * base) in both profiles / accepted, and absent in the result. */
static void test_optional_absent_ok(void **state)
{
    (void)state;
    for (int prof = DROT_EAT_PROFILE_PSA; prof <= DROT_EAT_PROFILE_DROT; prof++) {
        payload pl;
        base_of(&pl, (drot_eat_profile)prof);
        pl_drop(&pl, DROT_EAT_KEY_BOOT_SEED);
        expect_status(&pl, DROT_OK);
        assert_null(g_claims.boot_seed.p);
        assert_null(g_claims.certification_reference.p);
        assert_null(g_claims.verification_service.p);
    }
}

/* Test 29: a software component without measurement value (2) or without
 * signer id (5) / DROT_E_CLAIM_MISSING; with only those two / accepted. */
static void test_component_mandatory_fields(void **state)
{
    (void)state;
    item v = it_bstr(32, 0x03), s = it_bstr(32, 0x04), t = it_tstr("BL");
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(&t, NULL, NULL, &s, NULL, NULL, NULL)),
                     DROT_E_CLAIM_MISSING);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(&t, &v, NULL, NULL, NULL, NULL, NULL)),
                     DROT_E_CLAIM_MISSING);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(NULL, &v, NULL, &s, NULL, NULL, NULL)),
                     DROT_OK);
}

/* ---- tests: sizes and ranges -------------------------------------------- */

/* Test 30: nonce of 31, 33, 47, 65, 0 and 16 bytes / DROT_E_CLAIM_INVALID;
 * 32, 48 and 64 / accepted. */
static void test_nonce_sizes(void **state)
{
    (void)state;
    static const size_t bad[] = {31, 33, 47, 65, 0, 16};
    static const size_t good[] = {32, 48, 64};
    for (int prof = DROT_EAT_PROFILE_PSA; prof <= DROT_EAT_PROFILE_DROT; prof++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            assert_int_equal(with_value((drot_eat_profile)prof, DROT_EAT_KEY_NONCE, it_bstr(bad[i], 0x11)),
                             DROT_E_CLAIM_INVALID);
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            assert_int_equal(with_value((drot_eat_profile)prof, DROT_EAT_KEY_NONCE, it_bstr(good[i], 0x11)),
                             DROT_OK);
            assert_int_equal(g_claims.nonce.len, good[i]);
        }
    }
}

/* Test 31: instance id of 32 or 34 bytes, or 33 bytes starting 0x02 or 0x00
 * / DROT_E_CLAIM_INVALID; 33 bytes starting 0x01 / accepted. */
static void test_instance_id(void **state)
{
    (void)state;
    const int64_t k = DROT_EAT_KEY_INSTANCE_ID;
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr2(32, 0x01, 0x22)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr2(34, 0x01, 0x22)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr2(33, 0x02, 0x22)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr2(33, 0x00, 0x22)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_bstr2(33, 0x02, 0x22)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr2(33, 0x01, 0x99)), DROT_OK);
}

/* Test 32: implementation id of 31, 33 or 0 bytes / DROT_E_CLAIM_INVALID. */
static void test_implementation_id(void **state)
{
    (void)state;
    const int64_t k = DROT_EAT_KEY_IMPL_ID;
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(31, 0x44)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(33, 0x44)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_bstr(0, 0x44)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(32, 0x45)), DROT_OK);
}

/* Test 33: boot seed of 7, 33, 0 bytes / DROT_E_CLAIM_INVALID; 8 and 32 /
 * accepted (RFC 9783 section 4.3.2: 8..32 bytes). */
static void test_boot_seed_sizes(void **state)
{
    (void)state;
    const int64_t k = DROT_EAT_KEY_BOOT_SEED;
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(7, 0x33)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(33, 0x33)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(0, 0x33)), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_bstr(8, 0x33)), DROT_OK);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_bstr(32, 0x33)), DROT_OK);
}

/* Test 34: security lifecycle at both ends of each of the seven RFC ranges /
 * accepted with the right class; values outside (0x0100, 0x0fff, 0x1100,
 * 0x30ff+1, 0x6100, 0x7000, 0xffff, 0x10000, 2^32, 2^64-1, -1) / refused. */
static void test_lifecycle_ranges(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        drot_eat_lifecycle cls;
    } good[] = {
        {0x0000, DROT_EAT_LC_UNKNOWN},
        {0x00ff, DROT_EAT_LC_UNKNOWN},
        {0x1000, DROT_EAT_LC_ASSEMBLY_AND_TEST},
        {0x10ff, DROT_EAT_LC_ASSEMBLY_AND_TEST},
        {0x2000, DROT_EAT_LC_PSA_ROT_PROVISIONING},
        {0x20ff, DROT_EAT_LC_PSA_ROT_PROVISIONING},
        {0x3000, DROT_EAT_LC_SECURED},
        {0x30ff, DROT_EAT_LC_SECURED},
        {0x4000, DROT_EAT_LC_NON_PSA_ROT_DEBUG},
        {0x40ff, DROT_EAT_LC_NON_PSA_ROT_DEBUG},
        {0x5000, DROT_EAT_LC_RECOVERABLE_PSA_ROT_DEBUG},
        {0x50ff, DROT_EAT_LC_RECOVERABLE_PSA_ROT_DEBUG},
        {0x6000, DROT_EAT_LC_DECOMMISSIONED},
        {0x60ff, DROT_EAT_LC_DECOMMISSIONED},
    };
    static const uint64_t bad[] = {0x0100, 0x0fff, 0x1100,  0x30ff + 1, 0x3f00,    0x6100,
                                   0x7000, 0xffff, 0x10000, 1ull << 32, UINT64_MAX};
    const int64_t k = DROT_EAT_KEY_LIFECYCLE;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(drot_eat_lifecycle_class(good[i].v), good[i].cls);
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_uint(good[i].v)), DROT_OK);
        assert_int_equal(g_claims.security_lifecycle, good[i].v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(drot_eat_lifecycle_class(bad[i]), DROT_EAT_LC_INVALID);
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_uint(bad[i])), DROT_E_CLAIM_INVALID);
        assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_uint(bad[i])), DROT_E_CLAIM_INVALID);
    }
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_int(-1)), DROT_E_CLAIM_INVALID);
}

/* Test 35: client id 0, 2^31, -2^31-1, INT64_MIN, -2^64 / refused; -2^31,
 * 2^31-1, -1, 1 / accepted (RFC 9783 section 4.1.2). */
static void test_client_id_range(void **state)
{
    (void)state;
    const int64_t k = DROT_EAT_KEY_CLIENT_ID;
    static const int64_t good[] = {INT32_MIN, INT32_MAX, -1, 1};
    static const int64_t bad[] = {0, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_int(good[i])), DROT_OK);
        assert_true(g_claims.client_id == good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_int(bad[i])), DROT_E_CLAIM_INVALID);
    /* Negative integer beyond int64_t: -2^64. */
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_hex("3bffffffffffffffff")), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, it_hex("1bffffffffffffffff")), DROT_E_CLAIM_INVALID);
}

/* Test 36: certification reference: EAN-13+5 / accepted; EAN-13 alone (the
 * pre-RFC form), a letter, wrong separator, wrong lengths / refused. */
static void test_certification_reference(void **state)
{
    (void)state;
    static const char *bad[] = {"1234567890123",
                                "123456789012a-12345",
                                "1234567890123_12345",
                                "1234567890123-1234",
                                "12345678901234-12345",
                                "1234567890123-123456",
                                ""};
    payload pl;
    base_psa(&pl);
    pl_add(&pl, DROT_EAT_KEY_CERT_REF, it_tstr("0604565272820-10010"));
    expect_status(&pl, DROT_OK);
    assert_int_equal(g_claims.certification_reference.len, 19);
    assert_memory_equal(g_claims.certification_reference.p, "0604565272820-10010", 19);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pl_set(&pl, DROT_EAT_KEY_CERT_REF, it_tstr(bad[i]));
        expect_status(&pl, DROT_E_CLAIM_INVALID);
    }
}

/* Test 37: verification service indicator of DROT_EAT_MAX_VSI bytes /
 * accepted; one more / DROT_E_TOO_LARGE. Component text of
 * DROT_EAT_MAX_TEXT + 1 / DROT_E_TOO_LARGE. */
static void test_text_limits(void **state)
{
    (void)state;
    char s[DROT_EAT_MAX_VSI + 1];
    memset(s, 'a', sizeof s);
    payload pl;
    base_psa(&pl);
    pl_add(&pl, DROT_EAT_KEY_VSI, it_tstrn(s, DROT_EAT_MAX_VSI));
    expect_status(&pl, DROT_OK);
    assert_int_equal(g_claims.verification_service.len, DROT_EAT_MAX_VSI);
    pl_set(&pl, DROT_EAT_KEY_VSI, it_tstrn(s, DROT_EAT_MAX_VSI + 1));
    expect_status(&pl, DROT_E_TOO_LARGE);

    item v = it_bstr(32, 3), sg = it_bstr(32, 4);
    item ok = it_tstrn(s, DROT_EAT_MAX_TEXT), big = it_tstrn(s, DROT_EAT_MAX_TEXT + 1);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(&ok, &v, &ok, &sg, &ok, NULL, NULL)),
                     DROT_OK);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(NULL, &v, &big, &sg, NULL, NULL, NULL)),
                     DROT_E_TOO_LARGE);
}

/* Test 38: text claims that are not UTF-8 (stray continuation, overlong
 * NUL, surrogate, cut sequence, > U+10FFFF) / DROT_E_CLAIM_INVALID; real
 * multi-byte UTF-8 / accepted. */
static void test_text_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {"\x80", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "a\xff"};
    item v = it_bstr(32, 3), sg = it_bstr(32, 4);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        item t = it_tstr(bad[i]);
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                    component_with(&t, &v, NULL, &sg, NULL, NULL, NULL)),
                         DROT_E_CLAIM_INVALID);
        payload pl;
        base_psa(&pl);
        pl_add(&pl, DROT_EAT_KEY_VSI, t);
        expect_status(&pl, DROT_E_CLAIM_INVALID);
    }
    item good = it_tstr("\xce\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80"); /* Ω-€-😀 */
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(&good, &v, &good, &sg, &good, NULL, NULL)),
                     DROT_OK);
}

/* Test 39: measurement value or signer id of 31/33 bytes / refused; 48 / ok. */
static void test_component_hash_sizes(void **state)
{
    (void)state;
    item v31 = it_bstr(31, 3), v33 = it_bstr(33, 3), v48 = it_bstr(48, 3), v32 = it_bstr(32, 3);
    const int64_t k = DROT_EAT_KEY_SW_COMPONENTS;
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &v31, NULL, &v32, NULL, NULL, NULL)),
        DROT_E_CLAIM_INVALID);
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &v32, NULL, &v33, NULL, NULL, NULL)),
        DROT_E_CLAIM_INVALID);
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &v48, NULL, &v48, NULL, NULL, NULL)),
        DROT_OK);
}

/* Test 40: profile strings other than the two (the legacy PSA_IOT_PROFILE_1,
 * the 2019 legacy tag, a trailing space, drot's with another version) /
 * DROT_E_UNSUPPORTED. */
static void test_profile_strings(void **state)
{
    (void)state;
    static const char *bad[] = {
        "PSA_IOT_PROFILE_1",          "http://arm.com/psa/2.0.0",      "tag:psacertified.org,2019:psa#legacy",
        DROT_EAT_PROFILE_PSA_STR " ", "tag:drot.dev,2026:apm-token#2", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_PROFILE, it_tstr(bad[i])),
                         DROT_E_UNSUPPORTED);
}

/* Test 41: psa claims labelled with the drot profile string / missing drot
 * claims; drot claims labelled psa / unknown claims. */
static void test_profile_swapped(void **state)
{
    (void)state;
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_PROFILE, it_tstr(DROT_EAT_PROFILE_DROT_STR)),
        DROT_E_CLAIM_MISSING);
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_PROFILE, it_tstr(DROT_EAT_PROFILE_PSA_STR)),
        DROT_E_UNKNOWN_CLAIM);
}

/* ---- tests: closed maps, duplicates, types ------------------------------ */

/* Test 42: each drot claim added to a psa payload, after and before the
 * profile claim / DROT_E_UNKNOWN_CLAIM. */
static void test_drot_claim_in_psa(void **state)
{
    (void)state;
    static const int64_t keys[] = {DROT_EAT_KEY_DEVICE_ID, DROT_EAT_KEY_EPOCH, DROT_EAT_KEY_SVNS,
                                   DROT_EAT_KEY_TAMPER_STATE, DROT_EAT_KEY_TAMPER_COUNT};
    payload drot;
    base_drot(&drot);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        item val = drot.e[pl_index(&drot, keys[i])].val;
        payload pl;
        base_psa(&pl);
        pl_add(&pl, keys[i], val);
        expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
        base_psa(&pl);
        pl_add_front(&pl, keys[i], val);
        expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
    }
}

/* Test 43: keys outside both profiles (11, 257, 2397, 2401, -1, -65537,
 * -75008 the retired PSA nonce, -80006, text "nonce", bstr, 2^64-1) added to
 * psa and drot payloads / DROT_E_UNKNOWN_CLAIM. */
static void test_unknown_keys(void **state)
{
    (void)state;
    static const int64_t ints[] = {11, 257, 2397, 2401, -1, -65537, -75008, -80006, 0};
    for (int prof = DROT_EAT_PROFILE_PSA; prof <= DROT_EAT_PROFILE_DROT; prof++) {
        payload pl;
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            base_of(&pl, (drot_eat_profile)prof);
            pl_add(&pl, ints[i], it_uint(1));
            expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
        }
        const item odd_keys[] = {it_tstr("nonce"), it_bstr(2, 0x0a), it_hex("1bffffffffffffffff"),
                                 it_hex("f5"),     it_hex("a0"),     it_hex("c10a")};
        for (size_t i = 0; i < sizeof odd_keys / sizeof odd_keys[0]; i++) {
            base_of(&pl, (drot_eat_profile)prof);
            pl_add_raw(&pl, odd_keys[i], it_uint(1));
            expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
        }
    }
}

/* Test 44: unknown keys inside a software component (3, 7, -1, text) /
 * DROT_E_UNKNOWN_CLAIM. */
static void test_unknown_component_keys(void **state)
{
    (void)state;
    item v = it_bstr(32, 3), s = it_bstr(32, 4), one = it_uint(1);
    const item keys[] = {it_uint(3), it_uint(7),         it_uint(0),
                         it_int(-1), it_tstr("version"), it_uint(1u << 20)};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                    component_with(NULL, &v, NULL, &s, NULL, &keys[i], &one)),
                         DROT_E_UNKNOWN_CLAIM);
}

/* Test 45: a claim twice (same value, top level; nonce, profile, a drot
 * claim), a component key twice, an SVN index twice / DROT_E_DUPLICATE. */
static void test_duplicates(void **state)
{
    (void)state;
    static const int64_t keys[] = {DROT_EAT_KEY_NONCE, DROT_EAT_KEY_PROFILE, DROT_EAT_KEY_SW_COMPONENTS,
                                   DROT_EAT_KEY_EPOCH};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        payload pl;
        base_drot(&pl);
        pl_add(&pl, keys[i], pl.e[pl_index(&pl, keys[i])].val);
        expect_status(&pl, DROT_E_DUPLICATE);
    }
    payload pl;
    base_psa(&pl);
    pl_add(&pl, DROT_EAT_KEY_NONCE, it_bstr(32, 0x99)); /* different value */
    expect_status(&pl, DROT_E_DUPLICATE);

    item v = it_bstr(32, 3), s = it_bstr(32, 4), k2 = it_uint(2);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS,
                                component_with(NULL, &v, NULL, &s, NULL, &k2, &v)),
                     DROT_E_DUPLICATE);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_SVNS, it_hex("a200070007")),
                     DROT_E_DUPLICATE);
}

/* Test 46: the SVN map: empty / accepted; index equal to the component
 * count, descending indices, an index above 2^32, a negative svn, a text
 * index / DROT_E_CLAIM_INVALID; 9 entries / DROT_E_TOO_LARGE. */
static void test_svn_map(void **state)
{
    (void)state;
    const int64_t k = DROT_EAT_KEY_SVNS;
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a0")), DROT_OK);
    assert_int_equal(g_claims.drot.num_svns, 0);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a10107")), DROT_OK);
    assert_int_equal(g_claims.drot.num_svns, 1);
    assert_int_equal(g_claims.drot.svns[0].component, 1);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a10207")), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a201020007")), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a11b000000010000000007")),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a10020")), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a1613007")), DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, it_hex("a9000001010202030304040505060607070808")),
                     DROT_E_TOO_LARGE);
}

/* Test 47: every claim given a value of a wrong CBOR type (text for bytes,
 * bytes for text, negative for unsigned, array for the nonce, tagged
 * values, floats, booleans, null) / DROT_E_CLAIM_INVALID. */
static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        int64_t key;
        const char *hex;
    } cases[] = {
        {DROT_EAT_KEY_NONCE,
         "78201111111111111111111111111111111111111111111111111111111111111111"}, /* tstr */
        {DROT_EAT_KEY_NONCE,
         "8158201111111111111111111111111111111111111111111111111111111111111111"}, /* [bstr] */
        {DROT_EAT_KEY_NONCE,
         "d84058201111111111111111111111111111111111111111111111111111111111111111"}, /* tag */
        {DROT_EAT_KEY_NONCE, "0a"},
        {DROT_EAT_KEY_INSTANCE_ID, "7821012222222222222222222222222222222222222222222222222222222222222222"},
        {DROT_EAT_KEY_INSTANCE_ID, "f6"},
        {DROT_EAT_KEY_PROFILE,
         "58217461673a7073616365727469666965642e6f72672c323032333a7073612374666d"}, /* bstr */
        {DROT_EAT_KEY_PROFILE, "06"}, /* an OID-style profile is not the URI form */
        {DROT_EAT_KEY_BOOT_SEED, "68"
                                 "3333333333333333"},
        {DROT_EAT_KEY_BOOT_SEED, "f5"},
        {DROT_EAT_KEY_CLIENT_ID, "612d"},
        {DROT_EAT_KEY_CLIENT_ID, "4101"},
        {DROT_EAT_KEY_CLIENT_ID, "fa3f800000"}, /* 1.0f */
        {DROT_EAT_KEY_CLIENT_ID, "f5"},
        {DROT_EAT_KEY_LIFECYCLE, "6433303030"},
        {DROT_EAT_KEY_LIFECYCLE, "423000"},
        {DROT_EAT_KEY_LIFECYCLE, "f93000"},   /* half float */
        {DROT_EAT_KEY_LIFECYCLE, "c1193000"}, /* tagged */
        {DROT_EAT_KEY_IMPL_ID, "78204444444444444444444444444444444444444444444444444444444444444444"},
        {DROT_EAT_KEY_SW_COMPONENTS, "a0"},
        {DROT_EAT_KEY_SW_COMPONENTS, "4100"},
        {DROT_EAT_KEY_SW_COMPONENTS, "8100"},
        {DROT_EAT_KEY_SW_COMPONENTS, "81f6"},
        {DROT_EAT_KEY_SW_COMPONENTS, "80"}, /* "[ + component ]": empty is not allowed */
        {DROT_EAT_KEY_DEVICE_ID, "70000102030405060708090a0b0c0d0e0f"},
        {DROT_EAT_KEY_EPOCH, "22"},
        {DROT_EAT_KEY_EPOCH, "6133"},
        {DROT_EAT_KEY_SVNS, "820702"},
        {DROT_EAT_KEY_SVNS, "f6"},
        {DROT_EAT_KEY_TAMPER_STATE, "20"},
        {DROT_EAT_KEY_TAMPER_STATE, "4100"},
        {DROT_EAT_KEY_TAMPER_COUNT, "6130"},
        {DROT_EAT_KEY_TAMPER_COUNT, "f4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        drot_status st = with_value(DROT_EAT_PROFILE_DROT, cases[i].key, it_hex(cases[i].hex));
        if (st != DROT_E_CLAIM_INVALID)
            fail_msg("case %zu (key %lld, %s): got %d", i, (long long)cases[i].key, cases[i].hex, st);
    }
    /* Optional claims too: certification reference and VSI as bstr. */
    payload pl;
    base_psa(&pl);
    pl_add(&pl, DROT_EAT_KEY_CERT_REF,
           it_hex("53"
                  "313233343536373839303132332d3132333435"));
    expect_status(&pl, DROT_E_CLAIM_INVALID);
    base_psa(&pl);
    pl_add(&pl, DROT_EAT_KEY_VSI, it_hex("4161"));
    expect_status(&pl, DROT_E_CLAIM_INVALID);
    /* Component fields: bytes for text, text for bytes. */
    item v = it_bstr(32, 3), s = it_bstr(32, 4), bt = it_bstr(3, 'A'),
         tv = it_tstrn("0123456789abcdef0123456789abcdef", 32);
    const int64_t k = DROT_EAT_KEY_SW_COMPONENTS;
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, component_with(&bt, &v, NULL, &s, NULL, NULL, NULL)),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &v, &bt, &s, NULL, NULL, NULL)),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &v, NULL, &s, &bt, NULL, NULL)),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &tv, NULL, &s, NULL, NULL, NULL)),
        DROT_E_CLAIM_INVALID);
    assert_int_equal(
        with_value(DROT_EAT_PROFILE_PSA, k, component_with(NULL, &v, NULL, &tv, NULL, NULL, NULL)),
        DROT_E_CLAIM_INVALID);
}

/* Test 48: 8 software components / accepted; 9 / DROT_E_TOO_LARGE. */
static void test_component_count(void **state)
{
    (void)state;
    const int64_t k = DROT_EAT_KEY_SW_COMPONENTS;
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, components_array(DROT_EAT_MAX_COMPONENTS)), DROT_OK);
    assert_int_equal(g_claims.num_components, DROT_EAT_MAX_COMPONENTS);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, k, components_array(DROT_EAT_MAX_COMPONENTS + 1)),
                     DROT_E_TOO_LARGE);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, k, components_array(16)), DROT_E_TOO_LARGE);
}

/* ---- tests: framing ----------------------------------------------------- */

static void truncate_all(const uint8_t *full, size_t len)
{
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = malloc(n > 0 ? n : 1);
        assert_non_null(p);
        memcpy(p, full, n);
        drot_eat_claims c;
        drot_status st = drot_eat_decode(p, n, &c);
        if (st != DROT_E_TRUNCATED)
            fail_msg("prefix of %zu/%zu bytes: got %d, expected DROT_E_TRUNCATED", n, len, st);
        assert_int_equal(c.profile, DROT_EAT_PROFILE_NONE);
        free(p);
    }
}

/* Test 49: every proper prefix of the RFC example, the drot example and a
 * psa payload with every optional claim / DROT_E_TRUNCATED each time,
 * never a crash or an over-read (exact-size heap copies under ASan). */
static void test_truncation_everywhere(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = hex_alloc(k_rfc_example, &len);
    truncate_all(p, len);
    free(p);
    p = hex_alloc(k_drot_example, &len);
    truncate_all(p, len);
    free(p);
    drot_eat_claims c;
    uint8_t out[DROT_EAT_MAX_PAYLOAD];
    make_claims(&c, DROT_EAT_PROFILE_PSA);
    add_optional(&c);
    assert_int_equal(drot_eat_encode(&c, out, sizeof out, &len), DROT_OK);
    truncate_all(out, len);
}

/* Test 50: a valid payload followed by one zero byte, or by a second map /
 * DROT_E_TRAILING. */
static void test_trailing_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = hex_alloc(k_drot_example, &len);
    uint8_t *q = malloc(len * 2);
    assert_non_null(q);
    memcpy(q, p, len);
    q[len] = 0x00;
    drot_eat_claims c;
    assert_int_equal(drot_eat_decode(q, len + 1, &c), DROT_E_TRAILING);
    memcpy(q + len, p, len);
    assert_int_equal(drot_eat_decode(q, len * 2, &c), DROT_E_TRAILING);
    assert_int_equal(drot_eat_decode(q, len, &c), DROT_OK);
    free(q);
    free(p);
}

/* Test 51: input of DROT_EAT_MAX_PAYLOAD + 1 bytes / DROT_E_TOO_LARGE before
 * any parsing; exactly DROT_EAT_MAX_PAYLOAD (valid map + zeros) / parsed,
 * so DROT_E_TRAILING. */
static void test_oversized_input(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = hex_alloc(k_drot_example, &len);
    uint8_t *big = calloc(DROT_EAT_MAX_PAYLOAD + 1, 1);
    assert_non_null(big);
    memcpy(big, p, len);
    drot_eat_claims c;
    assert_int_equal(drot_eat_decode(big, DROT_EAT_MAX_PAYLOAD + 1, &c), DROT_E_TOO_LARGE);
    assert_int_equal(drot_eat_decode(big, DROT_EAT_MAX_PAYLOAD, &c), DROT_E_TRAILING);
    assert_int_equal(drot_eat_decode(big, SIZE_MAX, &c), DROT_E_TOO_LARGE);
    free(big);
    free(p);
}

/* Test 52: deeply nested junk — 2000 nested arrays as the whole payload, as
 * the nonce's value, as a key, inside the component array, as an SVN value;
 * 500 nested maps as an unknown claim's value / refused with the status
 * of the first wrong thing, never a crash or deep recursion. */
static void test_deep_nesting(void **state)
{
    (void)state;
    drot_eat_claims c;
    static uint8_t junk[2001];
    memset(junk, 0x81, 2000);
    junk[2000] = 0x00;
    assert_int_equal(drot_eat_decode(junk, sizeof junk, &c), DROT_E_MALFORMED);

    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_NONCE, it_nested(1000, 0x81)),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_PSA, DROT_EAT_KEY_SW_COMPONENTS, it_nested(1000, 0x81)),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_SVNS, it_nested(1000, 0x81)),
                     DROT_E_CLAIM_INVALID);
    assert_int_equal(with_value(DROT_EAT_PROFILE_DROT, DROT_EAT_KEY_SVNS, it_hex("a10081818100")),
                     DROT_E_CLAIM_INVALID);
    payload pl;
    base_psa(&pl);
    pl_add_raw(&pl, it_nested(1000, 0x81), it_uint(1));
    expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
    /* Maps nested 500 deep, {0: {0: ... {0: 0}}}, as an unknown key's value. */
    item maps;
    for (size_t i = 0; i < 500; i++) {
        maps.b[2 * i] = 0xa1;
        maps.b[2 * i + 1] = 0x00;
    }
    maps.b[1000] = 0x00;
    maps.n = 1001;
    base_psa(&pl);
    pl_add(&pl, 12, maps);
    expect_status(&pl, DROT_E_UNKNOWN_CLAIM);
}

/* Test 53: top level not a map (array, bstr, tag 18 around the map, null,
 * empty input) / DROT_E_MALFORMED or DROT_E_TRUNCATED; an empty map /
 * DROT_E_CLAIM_MISSING; an indefinite-length map / DROT_E_UNSUPPORTED. */
static void test_top_level_shape(void **state)
{
    (void)state;
    drot_eat_claims c;
    static const struct {
        const char *hex;
        drot_status want;
    } cases[] = {
        {"80", DROT_E_MALFORMED}, {"4100", DROT_E_MALFORMED},   {"d2a0", DROT_E_MALFORMED},
        {"f6", DROT_E_MALFORMED}, {"a0", DROT_E_CLAIM_MISSING}, {"bf0a5820ff", DROT_E_UNSUPPORTED},
        {"1f", DROT_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *p = hex_alloc(cases[i].hex, &len);
        drot_status st = drot_eat_decode(p, len, &c);
        if (st != cases[i].want)
            fail_msg("case %s: got %d, expected %d", cases[i].hex, st, cases[i].want);
        free(p);
    }
    uint8_t one = 0;
    assert_int_equal(drot_eat_decode(&one, 0, &c), DROT_E_TRUNCATED);
}

/* Test 54: non-preferred (but valid) serializations — a 2-byte head for
 * key 10, a 4-byte client id, an 8-byte lifecycle, a 2-byte bstr length —
 * and keys in a shuffled order / accepted with the same values (RFC 9783
 * section 5.1.1 asks for a variation-tolerant decoder); re-encoding gives
 * the deterministic form. */
static void test_variant_serialization(void **state)
{
    (void)state;
    payload pl;
    base_psa(&pl);
    size_t canon_len;
    uint8_t *canon = pl_build(&pl, &canon_len);

    pl.e[pl_index(&pl, DROT_EAT_KEY_NONCE)].key = it_hex("180a");
    pl_set(&pl, DROT_EAT_KEY_CLIENT_ID, it_hex("3a00000000"));
    pl_set(&pl, DROT_EAT_KEY_LIFECYCLE, it_hex("1b0000000000003000"));
    pl_set(&pl, DROT_EAT_KEY_IMPL_ID,
           it_hex("590020"
                  "4444444444444444444444444444444444444444444444444444444444444444"));
    entry first = pl.e[0];
    pl.e[0] = pl.e[pl.n - 1];
    pl.e[pl.n - 1] = first;
    expect_status(&pl, DROT_OK);
    assert_true(g_claims.client_id == -1);
    assert_int_equal(g_claims.security_lifecycle, 0x3000);

    uint8_t out[DROT_EAT_MAX_PAYLOAD];
    size_t len;
    size_t raw_len;
    uint8_t *raw = pl_build(&pl, &raw_len);
    assert_int_equal(drot_eat_decode(raw, raw_len, &g_claims), DROT_OK);
    assert_int_equal(drot_eat_encode(&g_claims, out, sizeof out, &len), DROT_OK);
    assert_int_equal(len, canon_len);
    assert_memory_equal(out, canon, len);
    free(raw);
    free(canon);
}

/* Test 55: a failed decode over a struct full of garbage / the struct is
 * all zero afterwards (profile NONE, no pointers). */
static void test_failure_wipes_claims(void **state)
{
    (void)state;
    payload pl;
    base_drot(&pl);
    pl_set(&pl, DROT_EAT_KEY_TAMPER_COUNT, it_hex("20")); /* last claim bad: everything else was filled */
    size_t len;
    uint8_t *p = pl_build(&pl, &len);
    drot_eat_claims c, zero;
    memset(&c, 0xa5, sizeof c);
    memset(&zero, 0, sizeof zero);
    assert_int_equal(drot_eat_decode(p, len, &c), DROT_E_CLAIM_INVALID);
    assert_memory_equal(&c, &zero, sizeof c);
    free(p);
}

/* Test 56: 20000 payloads derived from both examples by one to three random
 * byte changes or a cut (fixed-seed LCG) / never a crash under ASan, and
 * whatever decodes also re-encodes and decodes to equal claims: decoder and
 * encoder agree on what is valid. */
static void test_mutated_payloads(void **state)
{
    (void)state;
    static const uint8_t heads[] = {0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x20, 0x3b, 0x40,
                                    0x5f, 0x60, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xf6, 0xff};
    const char *seeds[] = {k_rfc_example, k_drot_example};
    uint32_t lcg = 12345;
    size_t accepted = 0;
    for (size_t s = 0; s < 2; s++) {
        size_t n;
        uint8_t *seed = hex_alloc(seeds[s], &n);
        for (int it = 0; it < 10000; it++) {
            size_t len = n;
            uint8_t *b = malloc(n);
            assert_non_null(b);
            memcpy(b, seed, n);
            lcg = lcg * 1103515245u + 12345u;
            int changes = 1 + (int)((lcg >> 16) % 3);
            for (int j = 0; j < changes && len > 0; j++) {
                lcg = lcg * 1103515245u + 12345u;
                size_t pos = (lcg >> 8) % len;
                switch ((lcg >> 28) % 4) {
                case 0: b[pos] ^= (uint8_t)(1u << ((lcg >> 4) % 8)); break;
                case 1: b[pos] = heads[(lcg >> 3) % sizeof heads]; break;
                case 2: len = pos; break;
                default: b[pos] = (uint8_t)(lcg >> 20); break;
                }
            }
            uint8_t *exact = malloc(len > 0 ? len : 1);
            assert_non_null(exact);
            memcpy(exact, b, len);
            drot_eat_claims c, d;
            if (drot_eat_decode(exact, len, &c) == DROT_OK) {
                uint8_t out[DROT_EAT_MAX_PAYLOAD];
                size_t out_len;
                accepted++;
                assert_int_equal(drot_eat_encode(&c, out, sizeof out, &out_len), DROT_OK);
                assert_int_equal(drot_eat_decode(out, out_len, &d), DROT_OK);
                expect_claims_equal(&c, &d);
            }
            free(exact);
            free(b);
        }
        free(seed);
    }
    /* Some mutants (in hash contents, say) are valid: the property was exercised. */
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example_decodes),
        cmocka_unit_test(test_rfc_example_reencodes),
        cmocka_unit_test(test_rfc_example_pre_rfc_boot_seed_refused),
        cmocka_unit_test(test_drot_example_encodes),
        cmocka_unit_test(test_drot_example_decodes),
        cmocka_unit_test(test_round_trip_psa),
        cmocka_unit_test(test_round_trip_drot),
        cmocka_unit_test(test_round_trip_minimal_and_long_hashes),
        cmocka_unit_test(test_psa_payload_only_rfc_claims),
        cmocka_unit_test(test_drot_payload_keys),
        cmocka_unit_test(test_encode_buffer_sizes),
        cmocka_unit_test(test_worst_case_fits),
        cmocka_unit_test(test_encode_rejects_invalid),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_missing_nonce),
        cmocka_unit_test(test_missing_instance_id),
        cmocka_unit_test(test_missing_profile),
        cmocka_unit_test(test_missing_client_id),
        cmocka_unit_test(test_missing_lifecycle),
        cmocka_unit_test(test_missing_implementation_id),
        cmocka_unit_test(test_missing_sw_components),
        cmocka_unit_test(test_missing_rfc_claims_in_drot),
        cmocka_unit_test(test_missing_drot_device_id),
        cmocka_unit_test(test_missing_drot_epoch),
        cmocka_unit_test(test_missing_drot_svns),
        cmocka_unit_test(test_missing_drot_tamper_state),
        cmocka_unit_test(test_missing_drot_tamper_count),
        cmocka_unit_test(test_optional_absent_ok),
        cmocka_unit_test(test_component_mandatory_fields),
        cmocka_unit_test(test_nonce_sizes),
        cmocka_unit_test(test_instance_id),
        cmocka_unit_test(test_implementation_id),
        cmocka_unit_test(test_boot_seed_sizes),
        cmocka_unit_test(test_lifecycle_ranges),
        cmocka_unit_test(test_client_id_range),
        cmocka_unit_test(test_certification_reference),
        cmocka_unit_test(test_text_limits),
        cmocka_unit_test(test_text_utf8),
        cmocka_unit_test(test_component_hash_sizes),
        cmocka_unit_test(test_profile_strings),
        cmocka_unit_test(test_profile_swapped),
        cmocka_unit_test(test_drot_claim_in_psa),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_unknown_component_keys),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_svn_map),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_component_count),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_oversized_input),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_top_level_shape),
        cmocka_unit_test(test_variant_serialization),
        cmocka_unit_test(test_failure_wipes_claims),
        cmocka_unit_test(test_mutated_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
