/*
 * bench_crypto.c — the crypto reference benchmark (docs/performance.md).
 *
 * Built once per crypto backend (drot-bench-crypto-bearssl, -openssl) and
 * run by `make bench`. It measures the raw reference operations of the
 * crypto port and the formats built on them (COSE_Sign1, the EAT token,
 * HPKE), and reports every figure as a RATIO to one raw ECDSA P-256 verify
 * measured in the same process: absolute times are noise on shared
 * machines, ratios measured side by side are not (much).
 *
 * Method:
 *   - time is the CPU time of the process (CLOCK_PROCESS_CPUTIME_ID), so
 *     time spent descheduled does not count;
 *   - calibration: each operation gets a batch size such that one batch
 *     takes about 2 ms, so reading the clock costs nothing visible (the
 *     calibration also warms up caches and the backend);
 *   - a round gives every operation at least --seconds of CPU time (default
 *     0.3), in slices of one batch taken round-robin over the operations, so
 *     a drift of the machine (frequency, a busy neighbour) during the round
 *     hits all operations alike; the per-operation time of the round is its
 *     CPU time divided by its iteration count;
 *   - --rounds rounds (default 3) run one after the other; the figure of an
 *     operation is the median of its per-round times.
 *
 * Every call's status is checked on every iteration: an operation that
 * fails stops the program with exit status 1, so no failure is timed as if
 * it were work. --smoke runs the same machinery with a tiny budget and
 * prints no figure (the ctest "bench-smoke" tests use it).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drot/cose.h"
#include "drot/eat.h"
#include "drot/hpke.h"
#include "drot/status.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"

#define MAX_ROUNDS      15
#define DEFAULT_SECONDS 0.3
#define DEFAULT_ROUNDS  3
/* One batch should take about this much CPU time. */
#define BATCH_TARGET_S   0.002
#define SMOKE_ITERATIONS 3

/* ---- fixtures ------------------------------------------------------------ */

static drot_rng g_rng;
static drot_p256_priv g_priv; /* signer / HPKE recipient */
static drot_p256_pub g_pub;
static drot_p256_priv g_peer_priv; /* ECDH peer */
static drot_p256_pub g_peer_pub;
static uint8_t g_digest[DROT_SHA256_LEN];
static uint8_t g_sig[DROT_P256_SIG_LEN];

static uint8_t g_data_1k[1024];
static uint8_t g_out_1k[1024];
static uint8_t g_hmac_key[32];
static uint8_t g_aes_key[16];
static uint8_t g_iv[DROT_AES_GCM_IV_LEN];
static uint8_t g_hkdf_salt[32];
static uint8_t g_hkdf_ikm[32];
static const char g_hkdf_info[] = "drot bench hkdf info";

/* COSE_Sign1 of an opaque ~300-byte payload. */
#define COSE_PAYLOAD_LEN 300
static uint8_t g_cose_payload[COSE_PAYLOAD_LEN];
static uint8_t g_cose_msg[DROT_COSE_SIGN1_SIZE_BOUND(COSE_PAYLOAD_LEN, 0)];
static size_t g_cose_msg_len;

/* The token: a drot-profile claims set with three software components,
 * signed as a tagged COSE_Sign1 with a 32-byte kid (as the APM would). */
static drot_eat_claims g_claims;
static uint8_t g_nonce[32];
static uint8_t g_ueid[DROT_EAT_INSTANCE_ID_LEN];
static uint8_t g_boot_seed[32];
static uint8_t g_impl_id[DROT_EAT_IMPLEMENTATION_ID_LEN];
static uint8_t g_meas[3][32];
static uint8_t g_signer_id[3][32];
static uint8_t g_device_id[DROT_EAT_DEVICE_ID_LEN];
static uint8_t g_kid[32];
static drot_cose_sign1_params g_token_params;
static uint8_t g_payload[DROT_EAT_MAX_PAYLOAD];
static size_t g_payload_len;
static uint8_t g_token[DROT_COSE_SIGN1_SIZE_BOUND(DROT_EAT_MAX_PAYLOAD, 32)];
static size_t g_token_len;

/* HPKE: a fresh 32-byte key sealed to g_pub (DESIGN 7.1). */
static uint8_t g_hpke_pt[32];
static const char g_hpke_info[] = "drot root key rotation: device 000102030405060708090a0b0c0d0e0f epoch 4";
static uint8_t g_hpke_enc[DROT_HPKE_ENC_LEN];
static uint8_t g_hpke_ct[DROT_HPKE_CT_LEN(32)];
static size_t g_hpke_ct_len;

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 31u * (unsigned)i);
}

static drot_eat_text text(const char *s)
{
    drot_eat_text t = {s, strlen(s)};
    return t;
}

static drot_eat_bytes bytes(const uint8_t *p, size_t n)
{
    drot_eat_bytes b = {p, n};
    return b;
}

/* A realistic drot-profile claims set: APM, host boot loader and host OS,
 * each with type, measurement, version, signer and description. */
static void make_claims(void)
{
    static const char *const types[3] = {"APM", "HOST-BL", "HOST-OS"};
    static const char *const versions[3] = {"1.4.2", "2024.07.1", "6.1.0-drot3"};

    fill_pattern(g_nonce, sizeof g_nonce, 0x10);
    g_ueid[0] = 0x01;
    fill_pattern(g_ueid + 1, sizeof g_ueid - 1, 0x20);
    fill_pattern(g_boot_seed, sizeof g_boot_seed, 0x30);
    fill_pattern(g_impl_id, sizeof g_impl_id, 0x40);
    fill_pattern(g_device_id, sizeof g_device_id, 0x50);

    memset(&g_claims, 0, sizeof g_claims);
    g_claims.profile = DROT_EAT_PROFILE_DROT;
    g_claims.nonce = bytes(g_nonce, sizeof g_nonce);
    g_claims.instance_id = bytes(g_ueid, sizeof g_ueid);
    g_claims.implementation_id = bytes(g_impl_id, sizeof g_impl_id);
    g_claims.client_id = 1;
    g_claims.security_lifecycle = 0x3000; /* secured */
    g_claims.boot_seed = bytes(g_boot_seed, sizeof g_boot_seed);
    g_claims.verification_service = text("https://verifier.drot.example/v1");
    g_claims.num_components = 3;
    for (size_t i = 0; i < 3; i++) {
        drot_eat_sw_component *c = &g_claims.components[i];
        fill_pattern(g_meas[i], sizeof g_meas[i], (uint8_t)(0x60 + i));
        fill_pattern(g_signer_id[i], sizeof g_signer_id[i], (uint8_t)(0x70 + i));
        c->measurement_type = text(types[i]);
        c->measurement_value = bytes(g_meas[i], sizeof g_meas[i]);
        c->version = text(versions[i]);
        c->signer_id = bytes(g_signer_id[i], sizeof g_signer_id[i]);
        c->measurement_desc = text("sha-256");
    }
    g_claims.drot.device_id = bytes(g_device_id, sizeof g_device_id);
    g_claims.drot.epoch = 3;
    g_claims.drot.num_svns = 3;
    for (size_t i = 0; i < 3; i++) {
        g_claims.drot.svns[i].component = (uint32_t)i;
        g_claims.drot.svns[i].svn = 5 + i;
    }
    g_claims.drot.tamper_state = 0;
    g_claims.drot.tamper_count = 0;
}

/* ---- the operations ------------------------------------------------------ */
/* Each performs one operation on the fixtures and returns its status. */

static drot_status op_ecdsa_verify(void)
{
    return drot_ecdsa_p256_verify(&g_pub, g_digest, g_sig, sizeof g_sig);
}

static drot_status op_ecdsa_sign(void)
{
    uint8_t sig[DROT_P256_SIG_LEN];
    return drot_ecdsa_p256_sign(&g_priv, g_digest, sig);
}

static drot_status op_ecdh(void)
{
    uint8_t shared[DROT_P256_SHARED_LEN];
    drot_status st = drot_ecdh_p256(&g_priv, g_peer_pub.q, sizeof g_peer_pub.q, shared);
    drot_wipe(shared, sizeof shared);
    return st;
}

static drot_status op_keygen(void)
{
    drot_p256_priv priv;
    drot_p256_pub pub;
    drot_status st = drot_p256_keygen(&g_rng, &priv, &pub);
    drot_wipe(&priv, sizeof priv);
    return st;
}

static drot_status op_sha256_1k(void)
{
    uint8_t out[DROT_SHA256_LEN];
    return drot_sha256(g_data_1k, sizeof g_data_1k, out);
}

static drot_status op_hmac_64(void)
{
    uint8_t out[DROT_HMAC_SHA256_LEN];
    return drot_hmac_sha256(g_hmac_key, sizeof g_hmac_key, g_data_1k, 64, out);
}

static drot_status op_aes_gcm_seal_1k(void)
{
    uint8_t tag[DROT_AES_GCM_TAG_LEN];
    return drot_aes_gcm_seal(g_aes_key, sizeof g_aes_key, g_iv, NULL, 0, g_data_1k, sizeof g_data_1k,
                             g_out_1k, tag);
}

static drot_status op_hkdf_32(void)
{
    uint8_t okm[32];
    drot_status st = drot_hkdf_sha256(g_hkdf_salt, sizeof g_hkdf_salt, g_hkdf_ikm, sizeof g_hkdf_ikm,
                                      (const uint8_t *)g_hkdf_info, sizeof g_hkdf_info - 1, okm, sizeof okm);
    drot_wipe(okm, sizeof okm);
    return st;
}

static drot_status op_cose_sign(void)
{
    uint8_t msg[sizeof g_cose_msg];
    size_t len;
    return drot_cose_sign1_sign(&g_priv, NULL, g_cose_payload, sizeof g_cose_payload, msg, sizeof msg, &len);
}

static drot_status op_cose_verify(void)
{
    drot_cose_sign1_view view;
    return drot_cose_sign1_verify_msg(g_cose_msg, g_cose_msg_len, &g_pub, NULL, 0, &view);
}

static drot_status op_eat_encode(void)
{
    uint8_t payload[DROT_EAT_MAX_PAYLOAD];
    size_t len;
    return drot_eat_encode(&g_claims, payload, sizeof payload, &len);
}

static drot_status op_eat_decode(void)
{
    drot_eat_claims c;
    return drot_eat_decode(g_payload, g_payload_len, &c);
}

/* What the APM does to answer a challenge: encode the claims, sign them. */
static drot_status op_token(void)
{
    uint8_t payload[DROT_EAT_MAX_PAYLOAD];
    uint8_t token[sizeof g_token];
    size_t plen, tlen;
    drot_status st = drot_eat_encode(&g_claims, payload, sizeof payload, &plen);
    if (st != DROT_OK)
        return st;
    return drot_cose_sign1_sign(&g_priv, &g_token_params, payload, plen, token, sizeof token, &tlen);
}

/* What the verifier does with a token: check the COSE_Sign1, then decode
 * the (now authenticated) claims. */
static drot_status op_verify_token(void)
{
    drot_cose_sign1_view view;
    drot_eat_claims c;
    drot_status st = drot_cose_sign1_verify_msg(g_token, g_token_len, &g_pub, NULL, 0, &view);
    if (st != DROT_OK)
        return st;
    return drot_eat_decode(view.payload, view.payload_len, &c);
}

static drot_status op_hpke_seal(void)
{
    uint8_t enc[DROT_HPKE_ENC_LEN];
    uint8_t ct[DROT_HPKE_CT_LEN(32)];
    size_t ct_len;
    return drot_hpke_seal_base(&g_pub, (const uint8_t *)g_hpke_info, sizeof g_hpke_info - 1, NULL, 0,
                               g_hpke_pt, sizeof g_hpke_pt, &g_rng, enc, ct, sizeof ct, &ct_len);
}

static drot_status op_hpke_open(void)
{
    uint8_t pt[32];
    size_t pt_len;
    drot_status st = drot_hpke_open_base(g_hpke_enc, sizeof g_hpke_enc, &g_priv, (const uint8_t *)g_hpke_info,
                                         sizeof g_hpke_info - 1, NULL, 0, g_hpke_ct, g_hpke_ct_len, pt,
                                         sizeof pt, &pt_len);
    drot_wipe(pt, sizeof pt);
    return st;
}

/* ---- the table of operations --------------------------------------------- */

enum {
    OP_VERIFY,
    OP_SIGN,
    OP_ECDH,
    OP_KEYGEN,
    OP_SHA256,
    OP_HMAC,
    OP_AES_GCM,
    OP_HKDF,
    OP_COSE_SIGN,
    OP_COSE_VERIFY,
    OP_EAT_ENCODE,
    OP_EAT_DECODE,
    OP_TOKEN,
    OP_VERIFY_TOKEN,
    OP_HPKE_SEAL,
    OP_HPKE_OPEN,
    NUM_OPS
};

#define NO_REF (-1)

typedef struct bench_op {
    const char *id;    /* stable name for scripts (JSON) */
    const char *label; /* what the table shows */
    int ref;           /* natural reference (an OP_*), or NO_REF */
    drot_status (*fn)(void);
    /* results */
    unsigned long batch;
    double per_op[MAX_ROUNDS]; /* seconds per operation, each round */
    unsigned long long iters[MAX_ROUNDS];
    double median;
} bench_op;

#define OP(id_, label_, ref_, fn_)                                                                           \
    {                                                                                                        \
        .id = (id_), .label = (label_), .ref = (ref_), .fn = (fn_)                                           \
    }
static bench_op g_ops[NUM_OPS] = {
    [OP_VERIFY] = OP("ecdsa_p256_verify", "ECDSA P-256 verify (raw) = reference", NO_REF, op_ecdsa_verify),
    [OP_SIGN] = OP("ecdsa_p256_sign", "ECDSA P-256 sign (raw)", NO_REF, op_ecdsa_sign),
    [OP_ECDH] = OP("ecdh_p256", "ECDH P-256", NO_REF, op_ecdh),
    [OP_KEYGEN] = OP("p256_keygen", "P-256 keygen (OS rng)", NO_REF, op_keygen),
    [OP_SHA256] = OP("sha256_1k", "SHA-256, 1 KiB", NO_REF, op_sha256_1k),
    [OP_HMAC] = OP("hmac_sha256_64", "HMAC-SHA-256, 64 B", NO_REF, op_hmac_64),
    [OP_AES_GCM] = OP("aes128_gcm_seal_1k", "AES-128-GCM seal, 1 KiB", NO_REF, op_aes_gcm_seal_1k),
    [OP_HKDF] = OP("hkdf_sha256_32", "HKDF-SHA-256, 32 B out", NO_REF, op_hkdf_32),
    [OP_COSE_SIGN] = OP("cose_sign1_sign", "COSE_Sign1 sign, 300 B payload", OP_SIGN, op_cose_sign),
    [OP_COSE_VERIFY] = OP("cose_sign1_verify", "COSE_Sign1 decode + verify", OP_VERIFY, op_cose_verify),
    [OP_EAT_ENCODE] = OP("eat_encode", "EAT encode only (3 components)", OP_SIGN, op_eat_encode),
    [OP_EAT_DECODE] = OP("eat_decode", "EAT decode only (3 components)", OP_VERIFY, op_eat_decode),
    [OP_TOKEN] = OP("token", "token = EAT encode + COSE sign", OP_SIGN, op_token),
    [OP_VERIFY_TOKEN] =
        OP("verify_token", "verify token = COSE verify + EAT decode", OP_VERIFY, op_verify_token),
    [OP_HPKE_SEAL] = OP("hpke_seal_base", "HPKE seal_base, 32 B key", OP_ECDH, op_hpke_seal),
    [OP_HPKE_OPEN] = OP("hpke_open_base", "HPKE open_base, 32 B key", OP_ECDH, op_hpke_open),
};
#undef OP

/* Short names of the references, for the table. */
static const char *ref_name(int ref)
{
    switch (ref) {
    case OP_VERIFY: return "raw verify";
    case OP_SIGN: return "raw sign";
    case OP_ECDH: return "ECDH";
    default: return "-";
    }
}

/* ---- helpers --------------------------------------------------------------- */

static const char *g_backend;

static void die(const char *what, drot_status st)
{
    fprintf(stderr, "drot-bench-crypto-%s: %s failed: %s (%d)\n", g_backend, what, drot_status_str(st),
            (int)st);
    exit(1);
}

static void check(const char *what, drot_status st)
{
    if (st != DROT_OK)
        die(what, st);
}

static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) {
        fprintf(stderr, "drot-bench-crypto-%s: clock_gettime(CLOCK_PROCESS_CPUTIME_ID): %s\n", g_backend,
                strerror(errno));
        exit(1);
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run_batch(const bench_op *op, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        drot_status st = op->fn();
        if (st != DROT_OK)
            die(op->id, st);
    }
}

/* Batch size such that one batch takes about BATCH_TARGET_S. Doubles as warm-up. */
static unsigned long calibrate(const bench_op *op)
{
    unsigned long n = 1;
    for (;;) {
        double t0 = cpu_now();
        run_batch(op, n);
        double t = cpu_now() - t0;
        if (t >= BATCH_TARGET_S || n >= (1ul << 24))
            return n;
        if (t <= 0.0)
            n *= 16;
        else {
            double want = (double)n * BATCH_TARGET_S / t * 1.2;
            unsigned long next = want > (double)(n * 16) ? n * 16 : (unsigned long)want + 1;
            n = next > n ? next : n + 1;
        }
    }
}

/* One round: every operation gets at least `seconds` of CPU time, in slices
 * of one batch taken round-robin (A B C ... A B C ...), so that whatever the
 * machine does during the round (frequency, a busy neighbour) is spread over
 * all operations alike rather than landing on whichever ran at that moment.
 * With seconds == 0 (smoke), exactly one batch of each. */
static void measure_round(int round, double seconds)
{
    double spent[NUM_OPS] = {0};
    unsigned long long count[NUM_OPS] = {0};
    int pending;

    do {
        pending = 0;
        for (int i = 0; i < NUM_OPS; i++) {
            if (count[i] > 0 && spent[i] >= seconds)
                continue;
            double t0 = cpu_now();
            run_batch(&g_ops[i], g_ops[i].batch);
            spent[i] += cpu_now() - t0;
            count[i] += g_ops[i].batch;
            if (spent[i] < seconds)
                pending = 1;
        }
    } while (pending);
    for (int i = 0; i < NUM_OPS; i++) {
        g_ops[i].iters[round] = count[i];
        g_ops[i].per_op[round] = spent[i] / (double)count[i];
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return (n % 2) ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
}

static int g_rounds = DEFAULT_ROUNDS;

/* Ratio of two operations: the median over rounds of their ratio WITHIN each
 * round. Both were measured in the same window of the same round, so a drift
 * of the machine between rounds cancels out; only what differs inside a
 * round is left. */
static double ratio(int op, int ref)
{
    double r[MAX_ROUNDS];
    for (int i = 0; i < g_rounds; i++)
        r[i] = g_ops[op].per_op[i] / g_ops[ref].per_op[i];
    return median(r, g_rounds);
}

/* ---- set-up, with sanity checks --------------------------------------------- */

static void setup(void)
{
    uint8_t d[DROT_P256_SCALAR_LEN];
    drot_status st;

    g_rng = drot_sysrng();

    fill_pattern(d, sizeof d, 0xA1);
    check("key_from_scalar", drot_p256_key_from_scalar(d, &g_priv, &g_pub));
    fill_pattern(d, sizeof d, 0xB7);
    check("key_from_scalar (peer)", drot_p256_key_from_scalar(d, &g_peer_priv, &g_peer_pub));
    drot_wipe(d, sizeof d);

    fill_pattern(g_data_1k, sizeof g_data_1k, 0x01);
    fill_pattern(g_hmac_key, sizeof g_hmac_key, 0x02);
    fill_pattern(g_aes_key, sizeof g_aes_key, 0x03);
    fill_pattern(g_iv, sizeof g_iv, 0x04);
    fill_pattern(g_hkdf_salt, sizeof g_hkdf_salt, 0x05);
    fill_pattern(g_hkdf_ikm, sizeof g_hkdf_ikm, 0x06);
    fill_pattern(g_cose_payload, sizeof g_cose_payload, 0x07);
    fill_pattern(g_hpke_pt, sizeof g_hpke_pt, 0x08);
    fill_pattern(g_kid, sizeof g_kid, 0x09);

    check("sha256", drot_sha256("drot bench", 10, g_digest));
    check("ecdsa sign", drot_ecdsa_p256_sign(&g_priv, g_digest, g_sig));
    check("ecdsa verify", drot_ecdsa_p256_verify(&g_pub, g_digest, g_sig, sizeof g_sig));

    /* ECDH agrees both ways. */
    {
        uint8_t a[DROT_P256_SHARED_LEN], b[DROT_P256_SHARED_LEN];
        check("ecdh", drot_ecdh_p256(&g_priv, g_peer_pub.q, sizeof g_peer_pub.q, a));
        check("ecdh (peer)", drot_ecdh_p256(&g_peer_priv, g_pub.q, sizeof g_pub.q, b));
        if (memcmp(a, b, sizeof a) != 0)
            die("ecdh agreement", DROT_E_CRYPTO);
    }

    check("cose sign", drot_cose_sign1_sign(&g_priv, NULL, g_cose_payload, sizeof g_cose_payload, g_cose_msg,
                                            sizeof g_cose_msg, &g_cose_msg_len));

    make_claims();
    check("eat encode", drot_eat_encode(&g_claims, g_payload, sizeof g_payload, &g_payload_len));
    g_token_params.kid = g_kid;
    g_token_params.kid_len = sizeof g_kid;
    check("token sign", drot_cose_sign1_sign(&g_priv, &g_token_params, g_payload, g_payload_len, g_token,
                                             sizeof g_token, &g_token_len));

    /* The verify benchmarks must time real verifications: a changed byte
     * must be refused, and the round trip must give back the claims. */
    {
        drot_cose_sign1_view view;
        drot_eat_claims c;
        g_token[g_token_len - 1] ^= 0x01;
        st = drot_cose_sign1_verify_msg(g_token, g_token_len, &g_pub, NULL, 0, &view);
        g_token[g_token_len - 1] ^= 0x01;
        if (st != DROT_E_VERIFY)
            die("tampered token refused", st == DROT_OK ? DROT_E_VERIFY : st);
        check("verify token", op_verify_token());
        check("token verify", drot_cose_sign1_verify_msg(g_token, g_token_len, &g_pub, NULL, 0, &view));
        check("eat decode", drot_eat_decode(view.payload, view.payload_len, &c));
        if (c.num_components != 3 || c.drot.num_svns != 3 || c.nonce.len != sizeof g_nonce ||
            memcmp(c.nonce.p, g_nonce, sizeof g_nonce) != 0)
            die("token round trip", DROT_E_MALFORMED);
    }

    check("hpke seal", drot_hpke_seal_base(&g_pub, (const uint8_t *)g_hpke_info, sizeof g_hpke_info - 1, NULL,
                                           0, g_hpke_pt, sizeof g_hpke_pt, &g_rng, g_hpke_enc, g_hpke_ct,
                                           sizeof g_hpke_ct, &g_hpke_ct_len));
    {
        uint8_t pt[32];
        size_t pt_len = 0;
        check("hpke open", drot_hpke_open_base(g_hpke_enc, sizeof g_hpke_enc, &g_priv,
                                               (const uint8_t *)g_hpke_info, sizeof g_hpke_info - 1, NULL, 0,
                                               g_hpke_ct, g_hpke_ct_len, pt, sizeof pt, &pt_len));
        if (pt_len != sizeof g_hpke_pt || memcmp(pt, g_hpke_pt, sizeof pt) != 0)
            die("hpke round trip", DROT_E_CRYPTO);
    }
}

/* ---- output ------------------------------------------------------------------- */

/* A ratio for the table: three decimals, or three significant digits below 0.1. */
static void fmt_ratio(char *buf, size_t cap, double v)
{
    if (v >= 0.1)
        snprintf(buf, cap, "%.3f", v);
    else
        snprintf(buf, cap, "%.3g", v);
}

static void print_table(double seconds, int rounds)
{
    printf("\n## crypto backend: %s\n\n", g_backend);
    printf("CPU time (CLOCK_PROCESS_CPUTIME_ID). %d rounds; in each, every op runs >= %.2f s, round-robin.\n"
           "Ratio = median over rounds of the within-round ratio. ops/s = 1 / median time per op.\n",
           rounds, seconds);
    printf("Token: drot profile, 3 components, %zu B payload, %zu B COSE_Sign1 (kid 32 B).\n\n",
           g_payload_len, g_token_len);
    printf("| %-41s | %12s | %-11s | %7s | %20s |\n", "operation", "/ raw verify", "natural ref", "/ ref",
           "ops/s (machine-dep.)");
    printf("|%s|%s|%s|%s|%s|\n", "-------------------------------------------",
           "-------------:", "-------------", "--------:", "---------------------:");
    for (int i = 0; i < NUM_OPS; i++) {
        const bench_op *op = &g_ops[i];
        char byverify[32], byref[32];
        fmt_ratio(byverify, sizeof byverify, ratio(i, OP_VERIFY));
        if (op->ref != NO_REF)
            fmt_ratio(byref, sizeof byref, ratio(i, op->ref));
        else
            snprintf(byref, sizeof byref, "-");
        printf("| %-41s | %12s | %-11s | %7s | %20.0f |\n", op->label, byverify, ref_name(op->ref), byref,
               1.0 / op->median);
    }
    printf("\nRatios are the figures. ops/s depends on the machine and its load: orientation only.\n");
    fflush(stdout);
}

static void print_json(double seconds, int rounds)
{
    printf("{\"backend\":\"%s\",\"clock\":\"CLOCK_PROCESS_CPUTIME_ID\",\"seconds_per_measurement\":%.3f,"
           "\"rounds\":%d,\"ratio\":\"median over rounds of the within-round "
           "ratio\",\"reference\":\"%s\",\"token_payload_bytes\":%zu,\"token_bytes\":%zu,\"ops\":[",
           g_backend, seconds, rounds, g_ops[OP_VERIFY].id, g_payload_len, g_token_len);
    for (int i = 0; i < NUM_OPS; i++) {
        const bench_op *op = &g_ops[i];
        printf("%s{\"op\":\"%s\",\"label\":\"%s\",\"ratio_to_verify\":%.6f,", i ? "," : "", op->id, op->label,
               ratio(i, OP_VERIFY));
        if (op->ref != NO_REF)
            printf("\"natural_ref\":\"%s\",\"ratio_to_ref\":%.6f,", g_ops[op->ref].id, ratio(i, op->ref));
        else
            printf("\"natural_ref\":null,\"ratio_to_ref\":null,");
        printf("\"median_seconds\":%.9g,\"ops_per_second\":%.3f,\"batch\":%lu,\"rounds_seconds\":[",
               op->median, 1.0 / op->median, op->batch);
        for (int r = 0; r < rounds; r++)
            printf("%s%.9g", r ? "," : "", op->per_op[r]);
        printf("],\"rounds_iterations\":[");
        for (int r = 0; r < rounds; r++)
            printf("%s%llu", r ? "," : "", op->iters[r]);
        printf("]}");
    }
    printf("]}\n");
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: drot-bench-crypto-%s [--seconds S] [--rounds N] [--json] [--smoke] [--help]\n"
            "\n"
            "Crypto reference benchmark of drot (docs/performance.md), %s backend.\n"
            "Every figure is a ratio to one raw ECDSA P-256 verify measured in the same run:\n"
            "each round runs every operation for >= S s of CPU time, round-robin, and a\n"
            "ratio is the median over rounds of the within-round ratio.\n"
            "\n"
            "  --seconds S  CPU seconds per measurement of one operation (default %.1f)\n"
            "  --rounds N   interleaved rounds; the median is reported (default %d, max %d)\n"
            "  --json       one JSON object with every figure instead of the table\n"
            "  --smoke      a few iterations of every operation, checks they succeed,\n"
            "               prints no figure (the ctest 'bench-smoke' test)\n"
            "  --help       this text\n"
            "\n"
            "Progress goes to stderr, results to stdout. Exit status 1 if any operation fails.\n",
            g_backend, g_backend, DEFAULT_SECONDS, DEFAULT_ROUNDS, MAX_ROUNDS);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0.0 || v > 3600.0)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > MAX_ROUNDS)
        return -1;
    *out = (int)v;
    return 0;
}

/* Value of "--name V" or "--name=V"; advances *i for the former. NULL if argv[*i] is not --name. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    *missing = 0;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    double seconds = DEFAULT_SECONDS;
    int rounds = DEFAULT_ROUNDS;
    int json = 0, smoke = 0;

    g_backend = drot_crypto_backend();
    for (int i = 1; i < argc; i++) {
        const char *v;
        int missing;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--smoke") == 0) {
            smoke = 1;
        } else if ((v = opt_value(argc, argv, &i, "--seconds", &missing)) != NULL || missing) {
            if (v == NULL || parse_double(v, &seconds) != 0) {
                fprintf(stderr, "drot-bench-crypto-%s: --seconds needs a number in (0, 3600]\n", g_backend);
                return 2;
            }
        } else if ((v = opt_value(argc, argv, &i, "--rounds", &missing)) != NULL || missing) {
            if (v == NULL || parse_int(v, &rounds) != 0) {
                fprintf(stderr, "drot-bench-crypto-%s: --rounds needs an integer in [1, %d]\n", g_backend,
                        MAX_ROUNDS);
                return 2;
            }
        } else {
            fprintf(stderr, "drot-bench-crypto-%s: unknown argument '%s'\n", g_backend, argv[i]);
            usage(stderr);
            return 2;
        }
    }

    g_rounds = rounds;
    setup();

    if (smoke) {
        /* The measuring machinery with a budget of a few iterations: every
         * operation must succeed; nothing about speed is printed. */
        for (int i = 0; i < NUM_OPS; i++)
            g_ops[i].batch = SMOKE_ITERATIONS;
        for (int r = 0; r < rounds; r++)
            measure_round(r, 0.0);
        for (int i = 0; i < NUM_OPS; i++)
            (void)ratio(i, OP_VERIFY);
        for (int i = 0; i < NUM_OPS; i++) {
            g_ops[i].median = median(g_ops[i].per_op, rounds);
            printf("smoke %-20s ok (%d x %d calls)\n", g_ops[i].id, rounds, SMOKE_ITERATIONS);
        }
        printf("drot-bench-crypto-%s --smoke: all %d operations succeeded\n", g_backend, NUM_OPS);
        return 0;
    }

    fprintf(stderr, "[%s] calibrating %d operations ...\n", g_backend, NUM_OPS);
    for (int i = 0; i < NUM_OPS; i++)
        g_ops[i].batch = calibrate(&g_ops[i]);
    for (int r = 0; r < rounds; r++) {
        fprintf(stderr, "[%s] round %d/%d: %d operations x >= %.2f s CPU, interleaved ...", g_backend, r + 1,
                rounds, NUM_OPS, seconds);
        fflush(stderr);
        measure_round(r, seconds);
        fprintf(stderr, " done\n");
    }
    for (int i = 0; i < NUM_OPS; i++)
        g_ops[i].median = median(g_ops[i].per_op, rounds);

    if (json)
        print_json(seconds, rounds);
    else
        print_table(seconds, rounds);
    return 0;
}
