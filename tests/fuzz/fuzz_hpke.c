/*
 * fuzz_hpke.c — fuzz target for HPKE single-shot open (drot/hpke.h).
 *
 * The input is enc (its first DROT_HPKE_ENC_LEN bytes, or all of it when
 * shorter) followed by the ciphertext || tag. Both are opened with the fixed
 * info and aad of fuzz_fixtures.c, under two recipient keys:
 *
 *  1. fz_hpke_target_key, to which nothing was ever sealed: drot_hpke_open_base
 *     must never return DROT_OK (an input that opens is a forged AES-GCM tag
 *     or a broken key schedule). The seeds are sealed to the other key, so
 *     this holds for seeds and mutants alike.
 *  2. fz_hpke_seed_key, to which the FZ_HPKE_SEEDS seeds were sealed
 *     (deterministically): the open succeeds exactly when the input is one
 *     of the seeds, and then yields that seed's plaintext. So the success path
 *     is covered and checked too, and a mutant that still opens is a finding.
 *
 * For every failing open: *pt_len is 0; the plaintext buffer is all zero
 * over [0, ct_len - 16) after DROT_E_VERIFY and untouched (still the canary
 * pattern) after any earlier failure. The buffer is exactly ct_len - 16 bytes,
 * so ASan sees any write past it.
 */
#include <stdbool.h>
#include <string.h>

#include "drot/hpke.h"
#include "fuzz_fixtures.h"
#include "fuzz_target.h"

#define CANARY   0xA5u
#define SEED_MAX (DROT_HPKE_ENC_LEN + DROT_HPKE_CT_LEN(FZ_HPKE_MAX_PT))

static drot_p256_priv g_target_priv, g_seed_priv;
static uint8_t g_seed[FZ_HPKE_SEEDS][SEED_MAX];
static size_t g_seed_len[FZ_HPKE_SEEDS];
static uint8_t g_seed_pt[FZ_HPKE_SEEDS][FZ_HPKE_MAX_PT];
static size_t g_seed_pt_len[FZ_HPKE_SEEDS];
static bool g_ready;

static void setup(void)
{
    drot_p256_pub pub;
    fz_hpke_target_key(&g_target_priv, &pub);
    fz_hpke_seed_key(&g_seed_priv, &pub);
    for (unsigned i = 0; i < FZ_HPKE_SEEDS; i++) {
        g_seed_len[i] = fz_hpke_seed(i, g_seed[i], sizeof g_seed[i]);
        g_seed_pt_len[i] = fz_hpke_seed_plaintext(i, g_seed_pt[i], sizeof g_seed_pt[i]);
    }
    g_ready = true;
}

/* Index of the seed equal to data, or -1. */
static int find_seed(const uint8_t *data, size_t size)
{
    for (unsigned i = 0; i < FZ_HPKE_SEEDS; i++) {
        if (g_seed_len[i] == size && memcmp(g_seed[i], data, size) == 0)
            return (int)i;
    }
    return -1;
}

static bool all_equal(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t k = 0; k < n; k++) {
        if (p[k] != v)
            return false;
    }
    return true;
}

/* One open into a fresh canary-filled buffer of exactly the plaintext size.
 * Checks the failure rules; returns the status, and the plaintext in *pt_out
 * (caller frees) on success. */
static drot_status open_with(const drot_p256_priv *sk, const uint8_t *data, size_t size, uint8_t **pt_out,
                             size_t *pt_len)
{
    static const uint8_t empty[1] = {0};
    size_t enc_len = size < DROT_HPKE_ENC_LEN ? size : DROT_HPKE_ENC_LEN;
    const uint8_t *ct = size > enc_len ? data + enc_len : empty;
    size_t ct_len = size - enc_len;
    size_t cap = ct_len > DROT_HPKE_TAG_LEN ? ct_len - DROT_HPKE_TAG_LEN : 0;
    uint8_t *pt = malloc(cap != 0 ? cap : 1);
    drot_status st;

    FZ_CHECK(pt != NULL);
    memset(pt, CANARY, cap != 0 ? cap : 1);
    *pt_len = 12345;
    st = drot_hpke_open_base(size != 0 ? data : empty, enc_len, sk, fz_hpke_info, fz_hpke_info_len,
                             fz_hpke_aad, fz_hpke_aad_len, ct, ct_len, pt, cap, pt_len);
    if (st == DROT_OK) {
        FZ_CHECK(ct_len >= DROT_HPKE_TAG_LEN && *pt_len == cap);
        *pt_out = pt;
        return st;
    }
    FZ_CHECK(st != DROT_E_BUFFER); /* cap is exactly what is needed */
    FZ_CHECK(*pt_len == 0);
    if (st == DROT_E_VERIFY)
        FZ_CHECK(all_equal(pt, cap, 0));
    else
        FZ_CHECK(all_equal(pt, cap != 0 ? cap : 1, CANARY));
    /* What can go wrong with a well-formed call is the key (enc), the length, or the tag. */
    FZ_CHECK(st == DROT_E_VERIFY || st == DROT_E_BADKEY || st == DROT_E_TRUNCATED);
    /* The length is checked before the key: a short input (enc included) is TRUNCATED. */
    FZ_CHECK((st == DROT_E_TRUNCATED) == (ct_len < DROT_HPKE_TAG_LEN));
    free(pt);
    *pt_out = NULL;
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *pt = NULL;
    size_t pt_len;
    drot_status st;

    if (!g_ready)
        setup();

    /* Property 1: nothing opens under a key nothing was sealed to. */
    st = open_with(&g_target_priv, data, size, &pt, &pt_len);
    FZ_CHECK(st != DROT_OK);

    /* Property 2: exactly the seeds open under their key, to their plaintext. */
    int seed = find_seed(data, size);
    st = open_with(&g_seed_priv, data, size, &pt, &pt_len);
    if (seed < 0) {
        FZ_CHECK(st != DROT_OK);
    } else {
        FZ_CHECK(st == DROT_OK);
        FZ_CHECK(pt_len == g_seed_pt_len[seed] && (pt_len == 0 || memcmp(pt, g_seed_pt[seed], pt_len) == 0));
        free(pt);
    }
    return 0;
}
