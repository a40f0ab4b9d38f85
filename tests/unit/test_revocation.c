/*
 * test_revocation.c — revocation lists (common/src/revocation.c) and the
 * SET_REVOCATION_LIST link payloads (common/src/link_msg.c).
 *
 * The reference encoding k_ref_hex was written by hand from RFC 8949:
 *
 *   {1: 7, 2: 1700000000, 3: [h'11…11'], 4: [], 5: [h'0102']}
 *   A5                      map(5)
 *   01 07                   1: 7
 *   02 1A 6553F100          2: 1700000000 (four-byte argument)
 *   03 81 5820 11…11        3: [bstr(32)]
 *   04 80                   4: []
 *   05 81 42 0102           5: [bstr(2)]
 *
 * Rejections are built from that map with one thing changed, so each shows
 * that the rule it names is what stops it.
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
#include "drot/cbor.h"
#include "drot/link_msg.h"
#include "drot/manifest.h"
#include "drot/revocation.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#define H11 "1111111111111111111111111111111111111111111111111111111111111111"
#define F1  "0107"
#define F2  "021A6553F100"
#define F3  "03815820" H11
#define F4  "0480"
#define F5  "0581420102"

static const char k_ref_hex[] = "A5" F1 F2 F3 F4 F5;

static drot_p256_priv g_priv[3];
static drot_p256_pub g_pub[3];
static uint8_t g_hash[3][32];
static drot_anchor_slot g_slots[2];

/* Big enough for the largest list, signed, and then some. */
static uint8_t g_buf[8192], g_buf2[8192];

static int setup(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        uint8_t d[DROT_P256_SCALAR_LEN];
        memset(d, 0x31 + k, sizeof d);
        if (drot_p256_key_from_scalar(d, &g_priv[k], &g_pub[k]) != DROT_OK)
            return -1;
        if (drot_sha256(g_pub[k].q, DROT_P256_PUB_LEN, g_hash[k]) != DROT_OK)
            return -1;
    }
    /* Slot 0: key 0; slot 1: key 1. Key 2 is a stranger. */
    memset(g_slots, 0, sizeof g_slots);
    for (int k = 0; k < 2; k++) {
        memcpy(g_slots[k].hash, g_hash[k], 32);
        g_slots[k].present = true;
    }
    return 0;
}

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
    char clean[20000];
    size_t k = 0;
    for (; *h != '\0' && k + 1 < sizeof clean; h++)
        if (*h != ' ')
            clean[k++] = *h;
    clean[k] = '\0';
    long n = drot_test_hex(clean, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

static const uint8_t k_h11[32] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                  0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                  0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
static const uint8_t k_serial[2] = {0x01, 0x02};

/* The list k_ref_hex encodes. */
static drot_revocation_list ref_list(void)
{
    drot_revocation_list l;
    memset(&l, 0, sizeof l);
    l.version = 7;
    l.issued_at = 1700000000;
    l.n_authorities = 1;
    l.authorities[0] = k_h11;
    l.n_certs = 1;
    l.certs[0].p = k_serial;
    l.certs[0].len = 2;
    return l;
}

/* Test 1: reference encoding / encode gives k_ref_hex byte for byte; decode
 * gives the list back; the lookups find exactly what is listed. */
static void test_reference(void **state)
{
    (void)state;
    uint8_t want[256];
    size_t wn = hex(k_ref_hex, want, sizeof want), n = 0;
    drot_revocation_list l = ref_list(), d;
    assert_int_equal(drot_revocation_encode(&l, g_buf, sizeof g_buf, &n), DROT_OK);
    assert_int_equal(n, wn);
    assert_memory_equal(g_buf, want, wn);

    assert_int_equal(drot_revocation_decode(want, wn, &d), DROT_OK);
    assert_int_equal(d.version, 7);
    assert_int_equal(d.issued_at, 1700000000);
    assert_int_equal(d.n_authorities, 1);
    assert_memory_equal(d.authorities[0], k_h11, 32);
    assert_int_equal(d.n_drks, 0);
    assert_int_equal(d.n_certs, 1);
    assert_int_equal(d.certs[0].len, 2);
    assert_memory_equal(d.certs[0].p, k_serial, 2);
    assert_true(drot_revocation_has_authority(&d, k_h11));
    assert_false(drot_revocation_has_authority(&d, g_hash[0]));
    assert_false(drot_revocation_has_drk(&d, k_h11));
    assert_true(drot_revocation_has_cert(&d, k_serial, 2));
    assert_false(drot_revocation_has_cert(&d, k_serial, 1));

    /* Measuring: cap 0 reports the size; one byte short, DROT_E_BUFFER. */
    assert_int_equal(drot_revocation_encode(&l, NULL, 0, &n), DROT_E_BUFFER);
    assert_int_equal(n, wn);
    assert_int_equal(drot_revocation_encode(&l, g_buf, wn - 1, &n), DROT_E_BUFFER);
    assert_int_equal(n, wn);
}

typedef struct dcase {
    const char *hex;
    drot_status want;
    const char *what;
} dcase;

#define H12 "1212121212121212121212121212121212121212121212121212121212121212"
#define H10 "1010101010101010101010101010101010101010101010101010101010101010"

static const dcase k_cases[] = {
    {"A5" F1 F2 F3 F4 F5, DROT_OK, "reference"},
    {"A5" F5 F4 F3 F2 F1, DROT_OK, "keys in another order"},
    {"A5"
     "011B0000000000000007" F2 F3 F4 F5,
     DROT_OK, "non-shortest head (signed bytes are what count)"},
    {"8101", DROT_E_MALFORMED, "an array"},
    {"", DROT_E_TRUNCATED, "nothing"},
    {"A4" F1 F2 F3 F4, DROT_E_CLAIM_MISSING, "certs missing"},
    {"A4" F2 F3 F4 F5, DROT_E_CLAIM_MISSING, "version missing"},
    {"A6" F1 F2 F3 F4 F5 "0600", DROT_E_UNKNOWN_CLAIM, "key 6"},
    {"A6" F1 F2 F3 F4 F5 "2000", DROT_E_UNKNOWN_CLAIM, "negative key"},
    {"A6" F1 F2 F3 F4 F5 "6176"
     "00",
     DROT_E_UNKNOWN_CLAIM, "text key"},
    {"A6" F1 F1 F2 F3 F4 F5, DROT_E_DUPLICATE, "version twice"},
    {"A5"
     "0100" F2 F3 F4 F5,
     DROT_E_CLAIM_INVALID, "version 0"},
    {"A5"
     "011B8000000000000000" F2 F3 F4 F5,
     DROT_E_CLAIM_INVALID, "version above INT64_MAX"},
    {"A5"
     "0127" F2 F3 F4 F5,
     DROT_E_CLAIM_INVALID, "negative version"},
    {"A5"
     "016137" F2 F3 F4 F5,
     DROT_E_CLAIM_INVALID, "text version"},
    {"A5" F1 "021B8000000000000000" F3 F4 F5, DROT_E_CLAIM_INVALID, "issued_at above INT64_MAX"},
    {"A5" F1 F2 "03A0" F4 F5, DROT_E_CLAIM_INVALID, "authorities a map"},
    {"A5" F1 F2 "0381581F"
     "11111111111111111111111111111111111111111111111111111111111111" F4 F5,
     DROT_E_CLAIM_INVALID, "31-byte hash"},
    {"A5" F1 F2 "03815821" H11 "11" F4 F5, DROT_E_CLAIM_INVALID, "33-byte hash"},
    {"A5" F1 F2 "03817820" H11 F4 F5, DROT_E_CLAIM_INVALID, "hash as text"},
    {"A5" F1 F2 "03825820" H12 "5820" H11 F4 F5, DROT_E_CLAIM_INVALID, "authorities not ascending"},
    {"A5" F1 F2 "03825820" H11 "5820" H11 F4 F5, DROT_E_CLAIM_INVALID, "authority twice"},
    {"A5" F1 F2 F3 "04825820" H12 "5820" H10 F5, DROT_E_CLAIM_INVALID, "drks not ascending"},
    {"A5" F1 F2 F3 "0491" F5, DROT_E_TRUNCATED, "17 drks announced, 5 bytes left"},
    {"A5" F1 F2 "0390" F4 F5, DROT_E_TRUNCATED, "16 authorities announced, 7 bytes left"},
    {"A5" F1 F2 "0382"
     "5820" H11 "01" F4 F5,
     DROT_E_CLAIM_INVALID, "an integer among the authorities"},
    {"A5" F1 F2 F3 F4 "058140", DROT_E_CLAIM_INVALID, "empty serial"},
    {"A5" F1 F2 F3 F4 "0581420001", DROT_E_CLAIM_INVALID, "serial with a leading zero"},
    {"A5" F1 F2 F3 F4 "058155"
     "0102030405060708090A0B0C0D0E0F101112131415",
     DROT_E_CLAIM_INVALID, "21-byte serial"},
    {"A5" F1 F2 F3 F4 "0582420102"
     "4101",
     DROT_E_CLAIM_INVALID, "serials not ascending (longer first)"},
    {"A5" F1 F2 F3 F4 "0582420102"
     "420101",
     DROT_E_CLAIM_INVALID, "serials not ascending"},
    {"A5" F1 F2 F3 F4 "0582420102"
     "420102",
     DROT_E_CLAIM_INVALID, "serial twice"},
    {"A5" F1 F2 F3 F4 "0581"
     "01",
     DROT_E_CLAIM_INVALID, "serial an integer"},
    {"A5" F1 F2 F3 F4 "0581420102"
     "00",
     DROT_E_TRAILING, "trailing byte"},
    {"BF" F1 F2 F3 F4 "0581420102"
     "FF",
     DROT_E_UNSUPPORTED, "indefinite map"},
    {"A5" F1 F2 F3 F4 "059F420102FF", DROT_E_UNSUPPORTED, "indefinite array"},
};

/* Test 2: hand-made payloads / each one's status; a failed decode leaves a
 * zeroed struct. */
static void test_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const dcase *c = &k_cases[i];
        size_t n = hex(c->hex, g_buf, sizeof g_buf);
        /* An exact-size heap copy, so a read past the end is caught by ASan. */
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, g_buf, n);
        drot_revocation_list l;
        memset(&l, 0xA5, sizeof l);
        drot_status st = drot_revocation_decode(p, n, &l);
        if (st != c->want)
            print_error("row %zu (%s): got %d, want %d\n", i, c->what, st, c->want);
        assert_int_equal(st, c->want);
        if (st != DROT_OK) {
            static const drot_revocation_list zero;
            assert_memory_equal(&l, &zero, sizeof l);
        }
        free(p);
    }
}

/* Test 3: truncation / every strict prefix of the reference is refused. */
static void test_every_cut(void **state)
{
    (void)state;
    uint8_t ref[256];
    size_t n = hex(k_ref_hex, ref, sizeof ref);
    drot_revocation_list l;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        assert_non_null(p);
        memcpy(p, ref, cut);
        assert_int_not_equal(drot_revocation_decode(p, cut, &l), DROT_OK);
        free(p);
    }
    assert_int_equal(drot_revocation_decode(ref, n, &l), DROT_OK);
}

/* The largest list: 16 authorities, 64 DRKs, 32 serials of 20 bytes. */
static uint8_t g_auth[DROT_REVOCATION_MAX_AUTHORITIES + 1][32];
static uint8_t g_drk[DROT_REVOCATION_MAX_DRKS + 1][32];
static uint8_t g_ser[DROT_REVOCATION_MAX_CERTS + 1][20];

static drot_revocation_list full_list(void)
{
    drot_revocation_list l;
    memset(&l, 0, sizeof l);
    l.version = DROT_REVOCATION_MAX_VERSION;
    l.issued_at = DROT_REVOCATION_MAX_TIME;
    for (size_t i = 0; i <= DROT_REVOCATION_MAX_AUTHORITIES; i++) {
        memset(g_auth[i], 0x80, 32);
        g_auth[i][31] = (uint8_t)i;
    }
    for (size_t i = 0; i <= DROT_REVOCATION_MAX_DRKS; i++) {
        memset(g_drk[i], 0x40, 32);
        g_drk[i][30] = (uint8_t)i;
    }
    for (size_t i = 0; i <= DROT_REVOCATION_MAX_CERTS; i++) {
        memset(g_ser[i], 0x7f, 20);
        g_ser[i][19] = (uint8_t)i;
    }
    l.n_authorities = DROT_REVOCATION_MAX_AUTHORITIES;
    for (size_t i = 0; i < l.n_authorities; i++)
        l.authorities[i] = g_auth[i];
    l.n_drks = DROT_REVOCATION_MAX_DRKS;
    for (size_t i = 0; i < l.n_drks; i++)
        l.drks[i] = g_drk[i];
    l.n_certs = DROT_REVOCATION_MAX_CERTS;
    for (size_t i = 0; i < l.n_certs; i++) {
        l.certs[i].p = g_ser[i];
        l.certs[i].len = 20;
    }
    return l;
}

/* Test 4: limits / the largest list encodes to exactly
 * DROT_REVOCATION_MAX_LEN bytes, signs within DROT_REVOCATION_SIGNED_MAX,
 * and its SET_REVOCATION_LIST frame payload fits DROT_LINK_MAX_PAYLOAD and
 * a real sealed frame; one entry more in any array is DROT_E_TOO_LARGE. */
static void test_limits(void **state)
{
    (void)state;
    drot_revocation_list l = full_list(), d;
    size_t n = 0, sn = 0, pn = 0, fn = 0;
    assert_int_equal(drot_revocation_encode(&l, g_buf, sizeof g_buf, &n), DROT_OK);
    assert_int_equal(n, DROT_REVOCATION_MAX_LEN);
    assert_int_equal(drot_revocation_decode(g_buf, n, &d), DROT_OK);
    assert_int_equal(d.n_drks, DROT_REVOCATION_MAX_DRKS);

    assert_int_equal(drot_revocation_sign(&g_priv[0], &g_pub[0], &l, g_buf, sizeof g_buf, &sn), DROT_OK);
    assert_true(sn <= DROT_REVOCATION_SIGNED_MAX);
    printf("largest list: payload %zu bytes, signed %zu bytes (bound %u)\n", n, sn,
           (unsigned)DROT_REVOCATION_SIGNED_MAX);
    assert_int_equal(drot_link_revocation_req_encode(g_buf, sn, g_buf2, sizeof g_buf2, &pn), DROT_OK);
    assert_true(pn <= DROT_LINK_MAX_PAYLOAD);
    uint8_t key[32];
    static uint8_t frame[DROT_LINK_MAX_FRAME];
    memset(key, 0x42, sizeof key);
    assert_int_equal(
        drot_link_frame_seal(key, DROT_LINK_T_SET_REVOCATION_LIST, 1, g_buf2, pn, frame, sizeof frame, &fn),
        DROT_OK);

    drot_revocation_list over = l;
    over.n_authorities++; /* the count is checked before any entry is read */
    assert_int_equal(drot_revocation_encode(&over, g_buf, sizeof g_buf, &n), DROT_E_TOO_LARGE);
    over = l;
    over.n_drks++;
    assert_int_equal(drot_revocation_encode(&over, g_buf, sizeof g_buf, &n), DROT_E_TOO_LARGE);
    over = l;
    over.n_certs++;
    assert_int_equal(drot_revocation_encode(&over, g_buf, sizeof g_buf, &n), DROT_E_TOO_LARGE);
    assert_int_equal(drot_revocation_sign(&g_priv[0], &g_pub[0], &over, g_buf, sizeof g_buf, &n),
                     DROT_E_TOO_LARGE);
    /* Decoding: an array one over its limit, with every entry present, is
     * refused from its head. */
    for (unsigned over_key = 3; over_key <= 5; over_key++) {
        drot_cbor_writer w;
        size_t max = over_key == 3   ? DROT_REVOCATION_MAX_AUTHORITIES
                     : over_key == 4 ? DROT_REVOCATION_MAX_DRKS
                                     : DROT_REVOCATION_MAX_CERTS;
        drot_cbor_writer_init(&w, g_buf, sizeof g_buf);
        drot_cbor_put_map(&w, 5);
        for (unsigned k = 1; k <= 5; k++) {
            drot_cbor_put_uint(&w, k);
            if (k <= 2) {
                drot_cbor_put_uint(&w, 1);
                continue;
            }
            size_t cnt = k == over_key ? max + 1 : 0;
            drot_cbor_put_array(&w, cnt);
            for (size_t i = 0; i < cnt; i++) {
                uint8_t e[32];
                memset(e, 0x20, sizeof e);
                e[31] = (uint8_t)i;
                drot_cbor_put_bstr(&w, e, k == 5 ? 20 : 32);
            }
        }
        assert_int_equal(drot_cbor_writer_finish(&w, &n), DROT_OK);
        assert_int_equal(drot_revocation_decode(g_buf, n, &d), DROT_E_TOO_LARGE);
    }
    /* A request longer than the bound is refused by the link codec too. */
    assert_int_equal(
        drot_link_revocation_req_encode(g_buf, DROT_LINK_REVOCATION_MAX + 1, g_buf2, sizeof g_buf2, &pn),
        DROT_E_ARG);
}

/* Test 5: encoder refusals / unsorted or duplicate entries (DROT_E_ARG),
 * NULL entries (DROT_E_ARG), version 0 and bad serials
 * (DROT_E_CLAIM_INVALID); the order helpers. */
static void test_encode_refusals(void **state)
{
    (void)state;
    drot_revocation_list l = full_list(), bad;
    size_t n = 0;
    bad = l;
    bad.drks[3] = bad.drks[2];
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_ARG);
    bad = l;
    bad.authorities[0] = g_auth[5];
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_ARG);
    bad = l;
    bad.certs[1].len = 19; /* shorter after longer: not ascending */
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_ARG);
    bad = l;
    bad.drks[0] = NULL;
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_ARG);
    bad = l;
    bad.version = 0;
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_CLAIM_INVALID);
    bad = l;
    bad.certs[0].len = 0;
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_CLAIM_INVALID);
    bad = l;
    bad.certs[0].len = 21;
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_CLAIM_INVALID);
    static const uint8_t lead0[2] = {0x00, 0x05};
    bad = ref_list();
    bad.certs[0].p = lead0;
    assert_int_equal(drot_revocation_encode(&bad, g_buf, sizeof g_buf, &n), DROT_E_CLAIM_INVALID);
    assert_int_equal(drot_revocation_encode(NULL, g_buf, sizeof g_buf, &n), DROT_E_ARG);
    assert_int_equal(drot_revocation_encode(&l, g_buf, sizeof g_buf, NULL), DROT_E_ARG);

    static const uint8_t a[2] = {0x01, 0xff}, b[3] = {0x01, 0x00, 0x00};
    assert_true(drot_revocation_cmp_serial(a, 2, b, 3) < 0);
    assert_true(drot_revocation_cmp_serial(b, 3, a, 2) > 0);
    assert_true(drot_revocation_cmp_serial(a, 2, a, 2) == 0);
    assert_true(drot_revocation_cmp_hash(g_auth[0], g_auth[1]) < 0);
}

/* Test 6: signing and verifying / a list signed by key 0 verifies against
 * the slots, names slot 0, and its digest is SHA-256 of the payload; signed
 * by a stranger: DROT_E_VERIFY; by a revoked anchor: DROT_E_BADKEY; a list
 * that revokes its own signer: sign refuses (DROT_E_BADKEY), and one made
 * anyway is refused by verify (DROT_E_BADKEY); a manifest offered as a list:
 * DROT_E_UNSUPPORTED; one flipped signature bit: DROT_E_VERIFY; a bare
 * payload (unsigned) and every cut of the signed list: refused. Every
 * failure leaves a zeroed list and an untouched slot index and digest. */
static void test_sign_verify(void **state)
{
    (void)state;
    static const drot_revocation_list zero;
    drot_revocation_list l = ref_list(), d;
    uint8_t digest[32], want_digest[32], payload[256];
    size_t n = 0, slot = 99, pn = 0;

    assert_int_equal(drot_revocation_sign(&g_priv[0], &g_pub[0], &l, g_buf, sizeof g_buf, &n), DROT_OK);
    assert_int_equal(drot_revocation_verify(g_buf, n, g_slots, 2, &d, &slot, digest), DROT_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(d.version, 7);
    assert_int_equal(drot_revocation_encode(&l, payload, sizeof payload, &pn), DROT_OK);
    assert_int_equal(drot_sha256(payload, pn, want_digest), DROT_OK);
    assert_memory_equal(digest, want_digest, 32);
    assert_int_equal(drot_revocation_verify(g_buf, n, g_slots, 2, &d, NULL, NULL), DROT_OK);

    /* Refusals: *d zeroed, slot and digest not written. */
    memset(digest, 0xEE, sizeof digest);
    slot = 99;
    g_buf[n - 1] ^= 0x01;
    assert_int_equal(drot_revocation_verify(g_buf, n, g_slots, 2, &d, &slot, digest), DROT_E_VERIFY);
    assert_memory_equal(&d, &zero, sizeof d);
    assert_int_equal(slot, 99);
    assert_int_equal(digest[0], 0xEE);
    g_buf[n - 1] ^= 0x01;

    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(drot_revocation_verify(g_buf, cut, g_slots, 2, &d, &slot, digest), DROT_OK);
    assert_int_equal(slot, 99);
    /* The payload alone, as if unsigned. */
    assert_int_not_equal(drot_revocation_verify(payload, pn, g_slots, 2, &d, &slot, digest), DROT_OK);

    size_t n2 = 0;
    assert_int_equal(drot_revocation_sign(&g_priv[2], &g_pub[2], &l, g_buf2, sizeof g_buf2, &n2), DROT_OK);
    assert_int_equal(drot_revocation_verify(g_buf2, n2, g_slots, 2, &d, &slot, digest), DROT_E_VERIFY);

    drot_anchor_slot revoked[2];
    memcpy(revoked, g_slots, sizeof revoked);
    revoked[0].revoked = true;
    assert_int_equal(drot_revocation_verify(g_buf, n, revoked, 2, &d, &slot, digest), DROT_E_BADKEY);
    assert_memory_equal(&d, &zero, sizeof d);

    /* A list revoking its own signer (key 1). */
    drot_revocation_list self = ref_list();
    const uint8_t *two[2];
    two[0] = memcmp(k_h11, g_hash[1], 32) < 0 ? k_h11 : g_hash[1];
    two[1] = two[0] == k_h11 ? g_hash[1] : k_h11;
    self.n_authorities = 2;
    self.authorities[0] = two[0];
    self.authorities[1] = two[1];
    assert_int_equal(drot_revocation_sign(&g_priv[1], &g_pub[1], &self, g_buf2, sizeof g_buf2, &n2),
                     DROT_E_BADKEY);
    assert_int_equal(drot_revocation_encode(&self, payload, sizeof payload, &pn), DROT_OK);
    assert_int_equal(drot_authority_sign(&g_priv[1], &g_pub[1], DROT_AUTH_CT_REVOCATION, payload, pn, g_buf2,
                                         sizeof g_buf2, &n2),
                     DROT_OK);
    assert_int_equal(drot_revocation_verify(g_buf2, n2, g_slots, 2, &d, &slot, digest), DROT_E_BADKEY);
    assert_memory_equal(&d, &zero, sizeof d);
    /* Key 0 may sign the same list: it revokes key 1, not its signer. */
    assert_int_equal(drot_revocation_sign(&g_priv[0], &g_pub[0], &self, g_buf2, sizeof g_buf2, &n2), DROT_OK);
    assert_int_equal(drot_revocation_verify(g_buf2, n2, g_slots, 2, &d, &slot, digest), DROT_OK);

    /* The same payload under another content type (a manifest's). */
    assert_int_equal(drot_revocation_encode(&l, payload, sizeof payload, &pn), DROT_OK);
    assert_int_equal(drot_authority_sign(&g_priv[0], &g_pub[0], DROT_AUTH_CT_MANIFEST, payload, pn, g_buf2,
                                         sizeof g_buf2, &n2),
                     DROT_OK);
    assert_int_equal(drot_revocation_verify(g_buf2, n2, g_slots, 2, &d, &slot, digest), DROT_E_UNSUPPORTED);
    /* A good envelope around a bad payload. */
    slot = 99;
    static const uint8_t junk[] = {0xA1, 0x01, 0x00};
    assert_int_equal(drot_authority_sign(&g_priv[0], &g_pub[0], DROT_AUTH_CT_REVOCATION, junk, sizeof junk,
                                         g_buf2, sizeof g_buf2, &n2),
                     DROT_OK);
    assert_int_equal(drot_revocation_verify(g_buf2, n2, g_slots, 2, &d, &slot, digest), DROT_E_CLAIM_MISSING);
    assert_int_equal(slot, 99);
    assert_int_equal(drot_revocation_verify(NULL, 0, g_slots, 2, &d, &slot, digest), DROT_E_ARG);
    assert_int_equal(drot_revocation_verify(g_buf, n, g_slots, 2, NULL, &slot, digest), DROT_E_ARG);
}

/* Test 7: SET_REVOCATION_LIST payloads / request and response round trip;
 * the response refuses version 0, a non-bool flag, a missing or unknown key
 * and trailing bytes; the request refuses an empty list. */
static void test_link_payloads(void **state)
{
    (void)state;
    static const uint8_t list[3] = {0xD2, 0x84, 0x40};
    const uint8_t *p = NULL;
    size_t n = 0, pn = 0;
    assert_int_equal(drot_link_revocation_req_encode(list, sizeof list, g_buf, sizeof g_buf, &n), DROT_OK);
    assert_int_equal(drot_link_revocation_req_decode(g_buf, n, &p, &pn), DROT_OK);
    assert_int_equal(pn, 3);
    assert_memory_equal(p, list, 3);
    assert_int_equal(drot_link_revocation_req_encode(list, 0, g_buf, sizeof g_buf, &n), DROT_E_ARG);
    uint8_t empty[] = {0xA1, 0x01, 0x40};
    assert_int_equal(drot_link_revocation_req_decode(empty, sizeof empty, &p, &pn), DROT_E_CLAIM_INVALID);

    drot_link_revocation_resp r = {0x123456789ull, true, false}, g;
    assert_int_equal(drot_link_revocation_resp_encode(&r, g_buf, sizeof g_buf, &n), DROT_OK);
    uint8_t want[32];
    size_t wn = hex("A3 01 1B0000000123456789 02 F5 03 F4", want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(g_buf, want, wn);
    assert_int_equal(drot_link_revocation_resp_decode(g_buf, n, &g), DROT_OK);
    assert_true(g.version == r.version && g.changed && !g.drk_revoked);
    r.version = 0;
    assert_int_equal(drot_link_revocation_resp_encode(&r, g_buf, sizeof g_buf, &n), DROT_E_ARG);

    static const struct {
        const char *hex;
        drot_status want;
    } bad[] = {
        {"A3 0100 02F5 03F4", DROT_E_CLAIM_INVALID},      {"A3 0101 0201 03F4", DROT_E_CLAIM_INVALID},
        {"A3 0101 02F6 03F4", DROT_E_CLAIM_INVALID},      {"A2 0101 02F5", DROT_E_CLAIM_MISSING},
        {"A4 0101 02F5 03F4 0400", DROT_E_UNKNOWN_CLAIM}, {"A3 0101 02F5 03F4 00", DROT_E_TRAILING},
        {"A3 0101 02F5 02F4", DROT_E_DUPLICATE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = hex(bad[i].hex, g_buf, sizeof g_buf);
        if (drot_link_revocation_resp_decode(g_buf, n, &g) != bad[i].want)
            fail_msg("response row %zu", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference),       cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_every_cut),       cmocka_unit_test(test_limits),
        cmocka_unit_test(test_encode_refusals), cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_link_payloads),
    };
    return cmocka_run_group_tests_name("revocation", tests, setup, NULL);
}
