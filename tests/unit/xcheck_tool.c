/*
 * xcheck_tool.c — drot-xcheck-<backend>: one crypto operation per run, for
 * cross-checking the two backends (they define the same symbols, so they
 * cannot share a process; test_cross_backend runs the other one's tool).
 *
 *   drot-xcheck-<b> COMMAND ARG...
 *
 * Byte-string arguments are hex ("" or "-" is the empty string); LEN
 * arguments are decimal. The result is printed as one line of lower-case
 * hex, or "ok"/"fail" for verify. Exit status: 0 success (including a
 * verify that prints "fail"), 1 the operation failed (its drot_status is
 * printed on stderr), 2 usage error.
 *
 * To add a command: write a cmd_* function and add one row to CMDS.
 */
#include "drot/cose.h"
#include "drot/hpke.h"
#include "drot/hpke_test.h"
#include "drot_crypto.h"
#include "drot_test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One decoded byte-string argument. */
typedef struct xbuf {
    uint8_t *p;
    size_t n;
} xbuf;

static xbuf arg_hex(const char *s)
{
    xbuf b;
    if (strcmp(s, "-") == 0)
        s = "";
    b.p = drot_test_hex_alloc(s, &b.n); /* aborts on bad hex */
    return b;
}

static size_t arg_len(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "xcheck: bad length '%s'\n", s);
        exit(2);
    }
    return (size_t)v;
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

/* Prints out[0..n) on success; reports st otherwise. */
static int finish(drot_status st, const uint8_t *out, size_t n)
{
    if (st != DROT_OK) {
        fprintf(stderr, "xcheck: %s (%d)\n", drot_status_str(st), (int)st);
        return 1;
    }
    print_hex(out, n);
    return 0;
}

/* Copies a 32-byte scalar argument into a key pair, or reports why not. */
static drot_status load_priv(const char *hex, drot_p256_priv *priv, drot_p256_pub *pub)
{
    xbuf d = arg_hex(hex);
    drot_status st = d.n == DROT_P256_SCALAR_LEN ? drot_p256_key_from_scalar(d.p, priv, pub) : DROT_E_ARG;
    free(d.p);
    return st;
}

static int cmd_backend(char **argv)
{
    (void)argv;
    printf("%s\n", drot_crypto_backend());
    return 0;
}

static int cmd_sha256(char **argv)
{
    xbuf data = arg_hex(argv[0]);
    uint8_t out[DROT_SHA256_LEN];
    int rc = finish(drot_sha256(data.p, data.n, out), out, sizeof out);
    free(data.p);
    return rc;
}

static int cmd_hmac(char **argv)
{
    xbuf key = arg_hex(argv[0]), data = arg_hex(argv[1]);
    uint8_t out[DROT_HMAC_SHA256_LEN];
    int rc = finish(drot_hmac_sha256(key.p, key.n, data.p, data.n, out), out, sizeof out);
    free(key.p);
    free(data.p);
    return rc;
}

static int cmd_hkdf(char **argv)
{
    xbuf salt = arg_hex(argv[0]), ikm = arg_hex(argv[1]), info = arg_hex(argv[2]);
    size_t len = arg_len(argv[3]);
    uint8_t *out = malloc(len + 1);
    int rc = finish(drot_hkdf_sha256(salt.p, salt.n, ikm.p, ikm.n, info.p, info.n, out, len), out, len);
    free(out);
    free(salt.p);
    free(ikm.p);
    free(info.p);
    return rc;
}

/* gcm-seal KEY IV AAD PT → CT || TAG */
static int cmd_gcm_seal(char **argv)
{
    xbuf key = arg_hex(argv[0]), iv = arg_hex(argv[1]), aad = arg_hex(argv[2]), pt = arg_hex(argv[3]);
    uint8_t *out = malloc(pt.n + DROT_AES_GCM_TAG_LEN);
    drot_status st = iv.n == DROT_AES_GCM_IV_LEN
                         ? drot_aes_gcm_seal(key.p, key.n, iv.p, aad.p, aad.n, pt.p, pt.n, out, out + pt.n)
                         : DROT_E_ARG;
    int rc = finish(st, out, pt.n + DROT_AES_GCM_TAG_LEN);
    free(out);
    free(key.p);
    free(iv.p);
    free(aad.p);
    free(pt.p);
    return rc;
}

/* gcm-open KEY IV AAD CT TAG → PT */
static int cmd_gcm_open(char **argv)
{
    xbuf key = arg_hex(argv[0]), iv = arg_hex(argv[1]), aad = arg_hex(argv[2]), ct = arg_hex(argv[3]),
         tag = arg_hex(argv[4]);
    uint8_t *out = malloc(ct.n + 1);
    drot_status st = iv.n == DROT_AES_GCM_IV_LEN && tag.n == DROT_AES_GCM_TAG_LEN
                         ? drot_aes_gcm_open(key.p, key.n, iv.p, aad.p, aad.n, ct.p, ct.n, tag.p, out)
                         : DROT_E_ARG;
    int rc = finish(st, out, ct.n);
    free(out);
    free(key.p);
    free(iv.p);
    free(aad.p);
    free(ct.p);
    free(tag.p);
    return rc;
}

static int cmd_pub(char **argv)
{
    drot_p256_priv priv;
    drot_p256_pub pub;
    return finish(load_priv(argv[0], &priv, &pub), pub.q, sizeof pub.q);
}

static int cmd_sign(char **argv)
{
    drot_p256_priv priv;
    uint8_t sig[DROT_P256_SIG_LEN];
    xbuf dig = arg_hex(argv[1]);
    drot_status st = load_priv(argv[0], &priv, NULL);
    if (st == DROT_OK)
        st = dig.n == DROT_SHA256_LEN ? drot_ecdsa_p256_sign(&priv, dig.p, sig) : DROT_E_ARG;
    free(dig.p);
    return finish(st, sig, sizeof sig);
}

/* verify PUB DIGEST SIG → ok | fail (exit 0 either way; 1 on a bad key) */
static int cmd_verify(char **argv)
{
    xbuf q = arg_hex(argv[0]), dig = arg_hex(argv[1]), sig = arg_hex(argv[2]);
    drot_p256_pub pub;
    drot_status st = drot_p256_pub_import(q.p, q.n, &pub);
    int rc = 1;
    if (st == DROT_OK && dig.n == DROT_SHA256_LEN) {
        st = drot_ecdsa_p256_verify(&pub, dig.p, sig.p, sig.n);
        printf("%s\n", st == DROT_OK ? "ok" : "fail");
        rc = st == DROT_OK || st == DROT_E_VERIFY ? 0 : 1;
    } else {
        fprintf(stderr, "xcheck: %s\n", drot_status_str(st != DROT_OK ? st : DROT_E_ARG));
    }
    free(q.p);
    free(dig.p);
    free(sig.p);
    return rc;
}

static int cmd_ecdh(char **argv)
{
    drot_p256_priv priv;
    uint8_t shared[DROT_P256_SHARED_LEN];
    xbuf peer = arg_hex(argv[1]);
    drot_status st = load_priv(argv[0], &priv, NULL);
    if (st == DROT_OK)
        st = drot_ecdh_p256(&priv, peer.p, peer.n, shared);
    free(peer.p);
    return finish(st, shared, sizeof shared);
}

/* Shared by drbg and drbg-reseed: instantiate, generate len1, optionally
 * reseed and generate len2; prints both outputs concatenated. */
static int drbg_run(char **argv, const char *reseed, size_t len2)
{
    xbuf e = arg_hex(argv[0]), n = arg_hex(argv[1]), p = arg_hex(argv[2]), r = {NULL, 0};
    size_t len1 = arg_len(argv[3]);
    uint8_t *out = malloc(len1 + len2 + 1);
    drot_drbg_ctx ctx;
    drot_status st = drot_drbg_init(&ctx, e.p, e.n, n.p, n.n, p.p, p.n);
    if (st == DROT_OK)
        st = drot_drbg_generate(&ctx, out, len1);
    if (st == DROT_OK && reseed != NULL) {
        r = arg_hex(reseed);
        st = drot_drbg_reseed(&ctx, r.p, r.n);
        if (st == DROT_OK)
            st = drot_drbg_generate(&ctx, out + len1, len2);
    }
    drot_drbg_release(&ctx);
    int rc = finish(st, out, len1 + len2);
    free(out);
    free(e.p);
    free(n.p);
    free(p.p);
    free(r.p);
    return rc;
}

static int cmd_drbg(char **argv)
{
    return drbg_run(argv, NULL, 0);
}

/* drbg-reseed ENTROPY NONCE PERS LEN1 RESEED_ENTROPY LEN2 */
static int cmd_drbg_reseed(char **argv)
{
    return drbg_run(argv, argv[4], arg_len(argv[5]));
}

/* hpke-seal PUB INFO AAD PT IKME → enc || ct. Derandomized with the given
 * ikmE, so both backends must print the same bytes for the same inputs. */
static int cmd_hpke_seal(char **argv)
{
    xbuf q = arg_hex(argv[0]), info = arg_hex(argv[1]), aad = arg_hex(argv[2]), pt = arg_hex(argv[3]),
         ikm = arg_hex(argv[4]);
    size_t cap = DROT_HPKE_ENC_LEN + pt.n + DROT_AES_GCM_TAG_LEN, ct_len = 0;
    uint8_t *out = malloc(cap);
    drot_p256_pub pub;
    drot_hpke_ctx ctx;
    drot_status st = drot_p256_pub_import(q.p, q.n, &pub);
    if (st == DROT_OK)
        st = drot_hpke_setup_base_s_derand(&ctx, out, &pub, info.p, info.n, ikm.p, ikm.n);
    if (st == DROT_OK)
        st = drot_hpke_seal(&ctx, aad.p, aad.n, pt.p, pt.n, out + DROT_HPKE_ENC_LEN, cap - DROT_HPKE_ENC_LEN,
                            &ct_len);
    drot_hpke_ctx_wipe(&ctx);
    int rc = finish(st, out, DROT_HPKE_ENC_LEN + ct_len);
    free(out);
    free(q.p);
    free(info.p);
    free(aad.p);
    free(pt.p);
    free(ikm.p);
    return rc;
}

/* hpke-open SCALAR ENC INFO AAD CT → pt */
static int cmd_hpke_open(char **argv)
{
    xbuf enc = arg_hex(argv[1]), info = arg_hex(argv[2]), aad = arg_hex(argv[3]), ct = arg_hex(argv[4]);
    uint8_t *pt = malloc(ct.n + 1);
    size_t pt_len = 0;
    drot_p256_priv priv;
    drot_status st = load_priv(argv[0], &priv, NULL);
    if (st == DROT_OK)
        st = drot_hpke_open_base(enc.p, enc.n, &priv, info.p, info.n, aad.p, aad.n, ct.p, ct.n, pt, ct.n + 1,
                                 &pt_len);
    drot_wipe(&priv, sizeof priv);
    int rc = finish(st, pt, pt_len);
    free(pt);
    free(enc.p);
    free(info.p);
    free(aad.p);
    free(ct.p);
    return rc;
}

/* cose-sign SCALAR KID AAD PAYLOAD → tagged COSE_Sign1 */
static int cmd_cose_sign(char **argv)
{
    xbuf kid = arg_hex(argv[1]), aad = arg_hex(argv[2]), payload = arg_hex(argv[3]);
    drot_cose_sign1_params params = {
        .kid = kid.p, .kid_len = kid.n, .external_aad = aad.p, .external_aad_len = aad.n};
    size_t cap = DROT_COSE_SIGN1_SIZE_BOUND(payload.n, kid.n), len = 0;
    uint8_t *out = malloc(cap);
    drot_p256_priv priv;
    drot_status st = load_priv(argv[0], &priv, NULL);
    if (st == DROT_OK)
        st = drot_cose_sign1_sign(&priv, &params, payload.p, payload.n, out, cap, &len);
    drot_wipe(&priv, sizeof priv);
    int rc = finish(st, out, len);
    free(out);
    free(kid.p);
    free(aad.p);
    free(payload.p);
    return rc;
}

/* cose-verify PUB AAD MSG → ok | fail, then the payload in hex on a second line when ok */
static int cmd_cose_verify(char **argv)
{
    xbuf q = arg_hex(argv[0]), aad = arg_hex(argv[1]), msg = arg_hex(argv[2]);
    drot_p256_pub pub;
    drot_cose_sign1_view view;
    drot_status st = drot_p256_pub_import(q.p, q.n, &pub);
    int rc = 1;
    if (st == DROT_OK) {
        st = drot_cose_sign1_verify_msg(msg.p, msg.n, &pub, aad.p, aad.n, &view);
        printf("%s\n", st == DROT_OK ? "ok" : "fail");
        if (st != DROT_OK)
            fprintf(stderr, "xcheck: %s\n", drot_status_str(st));
        rc = 0;
    }
    free(q.p);
    free(aad.p);
    free(msg.p);
    return rc;
}

typedef struct xcmd {
    const char *name;
    int nargs;
    int (*run)(char **argv);
    const char *usage;
} xcmd;

static const xcmd CMDS[] = {
    {"backend", 0, cmd_backend, ""},
    {"sha256", 1, cmd_sha256, "DATA"},
    {"hmac", 2, cmd_hmac, "KEY DATA"},
    {"hkdf", 4, cmd_hkdf, "SALT IKM INFO LEN"},
    {"gcm-seal", 4, cmd_gcm_seal, "KEY IV AAD PT  (prints CT||TAG)"},
    {"gcm-open", 5, cmd_gcm_open, "KEY IV AAD CT TAG"},
    {"pub", 1, cmd_pub, "SCALAR"},
    {"sign", 2, cmd_sign, "SCALAR DIGEST"},
    {"verify", 3, cmd_verify, "PUB DIGEST SIG  (prints ok|fail)"},
    {"ecdh", 2, cmd_ecdh, "SCALAR PEER"},
    {"drbg", 4, cmd_drbg, "ENTROPY NONCE PERS LEN"},
    {"drbg-reseed", 6, cmd_drbg_reseed, "ENTROPY NONCE PERS LEN1 RESEED_ENTROPY LEN2"},
    {"hpke-seal", 5, cmd_hpke_seal, "PUB INFO AAD PT IKME  (prints ENC||CT)"},
    {"hpke-open", 5, cmd_hpke_open, "SCALAR ENC INFO AAD CT"},
    {"cose-sign", 4, cmd_cose_sign, "SCALAR KID AAD PAYLOAD"},
    {"cose-verify", 3, cmd_cose_verify, "PUB AAD MSG  (prints ok|fail)"},
};

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s COMMAND ARG...  (hex byte strings, decimal lengths)\n", prog);
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        fprintf(stderr, "  %s %s\n", CMDS[i].name, CMDS[i].usage);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(argv[0]);
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++) {
        if (strcmp(argv[1], CMDS[i].name) != 0)
            continue;
        if (argc - 2 != CMDS[i].nargs)
            return usage(argv[0]);
        return CMDS[i].run(argv + 2);
    }
    return usage(argv[0]);
}
