/*
 * bench_apm.c — the APM token cost (docs/performance.md): the CPU time the
 * APM core spends to answer one GET_TOKEN request, divided by one raw ECDSA
 * P-256 sign through the same crypto backend, measured side by side.
 *
 * The APM is the real core on the sim HAL (a temporary state directory),
 * linked in-process (tools/fleet/apm_inproc.c) and driven by libdrot-host's
 * driver over an authenticated link session, exactly as drot-fleet does.
 * "Token" time is the CPU time inside apm_device_handle for the GET_TOKEN
 * frame: opening and checking the request frame, the claims, EAT encode,
 * COSE_Sign1 sign, sealing the answer frame. The host's side of the link is
 * not counted. Each round takes batches of tokens and raw signs in turn
 * (A B A B …) until each had --seconds of CPU; the figure is the median
 * over --rounds of the ratio within each round.
 *
 *   drot-bench-apm-<backend> [--seconds S] [--rounds N] [--json] [--smoke]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apm_inproc.h"
#include "drot/cose.h"
#include "drot/link_msg.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"

#if defined(DROT_CRYPTO_BACKEND_BEARSSL)
#define BACKEND "bearssl"
#else
#define BACKEND "openssl"
#endif

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "drot-bench-apm-%s: %s\n", BACKEND, what);
    exit(1);
}

/* A device manufactured in dir: the stand-in image, its manifest signed by a
 * fresh factory key, random identity. */
static void manufacture(const char *dir, uint8_t link_key[32])
{
    static uint8_t image[16384], manifest[DROT_MANIFEST_SIGNED_MAX];
    for (size_t off = 0; off < sizeof image; off += 32) {
        char label[96];
        snprintf(label, sizeof label, "drot-apm sim image 1.0.0 block %zu", off / 32);
        drot_sha256(label, strlen(label), image + off);
    }
    drot_rng rng = drot_sysrng();
    drot_p256_priv fpriv;
    drot_p256_pub fpub;
    drot_manifest m = {.component = "APM",
                       .component_len = 3,
                       .version = "1.0.0",
                       .version_len = 5,
                       .svn = 1,
                       .size = sizeof image};
    drot_sha256(image, sizeof image, m.digest);
    apm_manufacture_params p;
    memset(&p, 0, sizeof p);
    uint8_t anchor[1][32];
    if (drot_p256_keygen(&rng, &fpriv, &fpub) != DROT_OK ||
        drot_manifest_sign(&fpriv, &fpub, &m, manifest, sizeof manifest, &p.manifest_len) != DROT_OK ||
        drot_rng_fill(&rng, p.device_id, 16) != DROT_OK || drot_rng_fill(&rng, p.uds, 32) != DROT_OK ||
        drot_rng_fill(&rng, p.link_key, 32) != DROT_OK)
        die("cannot make the factory key and manifest");
    drot_sha256(fpub.q, sizeof fpub.q, anchor[0]);
    p.anchors = (const uint8_t(*)[32])anchor;
    p.n_anchors = 1;
    p.manifest = manifest;
    p.image = image;
    p.image_len = sizeof image;
    apm_identity id;
    char err[700];
    if (fleet_apm_manufacture(dir, &p, &id, err, sizeof err) != 0)
        die(err);
    memcpy(link_key, p.link_key, 32);
    drot_wipe(&fpriv, sizeof fpriv);
    drot_wipe(&p, sizeof p);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    double seconds = 0.3;
    int rounds = 3;
    bool json = false, smoke = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds > 0 && seconds <= 60))
                die("--seconds must be in (0, 60]");
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
            if (rounds < 1 || rounds > 99)
                die("--rounds must be 1..99");
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--smoke") == 0) {
            smoke = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: drot-bench-apm-%s [--seconds S] [--rounds N] [--json] [--smoke]\n"
                   "APM token cost: CPU time of the APM core answering GET_TOKEN (in-process, real link\n"
                   "session) / one raw ECDSA P-256 sign, same backend; median over rounds of the\n"
                   "within-round ratio. --smoke: three tokens, each verified, no figure.\n",
                   BACKEND);
            return 0;
        } else {
            die("unknown option (see --help)");
        }
    }
    char dir[] = "/tmp/drot-bench-apm.XXXXXX";
    if (mkdtemp(dir) == NULL)
        die("cannot make a temporary directory");
    char state[64];
    snprintf(state, sizeof state, "%s/dev", dir);
    uint8_t lk[32];
    manufacture(state, lk);
    static fleet_apm apm;
    char err[700];
    if (fleet_apm_wake(&apm, state, err, sizeof err) != 0)
        die(err);
    dh_driver *d = NULL;
    if (dh_driver_open(&d, &fleet_apm_transport_ops, &apm, lk, NULL) != DH_OK)
        die("driver");
    drot_link_info info;
    if (dh_get_info(d, &info) != DH_OK)
        die("GET_INFO failed");
    drot_p256_pub drk;
    if (drot_p256_pub_import(info.drk_pub, sizeof info.drk_pub, &drk) != DROT_OK)
        die("the APM's DRK is not a P-256 point");
    drot_rng rng = drot_sysrng();
    drot_p256_priv sk;
    drot_p256_pub pk;
    uint8_t digest[32], sig[64], nonce[32], token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    if (drot_p256_keygen(&rng, &sk, &pk) != DROT_OK)
        die("keygen");
    drot_sha256("bench", 5, digest);
    memset(nonce, 0x5a, sizeof nonce);

    /* Check first: a token that verifies under the DRK and carries the nonce. */
    for (int k = 0; k < 3; k++) {
        nonce[0] = (uint8_t)k;
        if (dh_get_token(d, nonce, sizeof nonce, DROT_LINK_PROFILE_DROT, token, sizeof token, &token_len) !=
            DH_OK)
            die(dh_driver_last_error(d));
        drot_cose_sign1_view view;
        if (drot_cose_sign1_verify_msg(token, token_len, &drk, NULL, 0, &view) != DROT_OK ||
            memmem(view.payload, view.payload_len, nonce, sizeof nonce) == NULL)
            die("the APM's token does not verify under its DRK or lacks the nonce");
    }
    if (smoke) {
        printf("drot-bench-apm-%s: smoke: 3 tokens verified\n", BACKEND);
        goto out;
    }
    double ratios[99], tok_us[99], sign_us[99];
    for (int r = 0; r < rounds; r++) {
        uint64_t t_ns = 0, s_ns = 0;
        unsigned long t_n = 0, s_n = 0;
        uint64_t budget = (uint64_t)(seconds * 1e9);
        while (t_ns < budget || s_ns < budget) {
            for (int k = 0; k < 20; k++) {
                nonce[1]++;
                uint64_t h0 = apm.handle_ns;
                if (dh_get_token(d, nonce, sizeof nonce, DROT_LINK_PROFILE_DROT, token, sizeof token,
                                 &token_len) != DH_OK)
                    die(dh_driver_last_error(d));
                t_ns += apm.handle_ns - h0;
                t_n++;
            }
            uint64_t s0 = cpu_ns();
            for (int k = 0; k < 20; k++)
                if (drot_ecdsa_p256_sign(&sk, digest, sig) != DROT_OK)
                    die("sign");
            s_ns += cpu_ns() - s0;
            s_n += 20;
        }
        tok_us[r] = (double)t_ns / 1000.0 / (double)t_n;
        sign_us[r] = (double)s_ns / 1000.0 / (double)s_n;
        ratios[r] = tok_us[r] / sign_us[r];
    }
    double sorted[99];
    memcpy(sorted, ratios, sizeof(double) * (size_t)rounds);
    qsort(sorted, (size_t)rounds, sizeof(double), cmp_d);
    double med = sorted[rounds / 2];
    if (json) {
        printf("{\"backend\": \"%s\", \"token_over_sign\": %.4f, \"rounds\": [", BACKEND, med);
        for (int r = 0; r < rounds; r++)
            printf("%s{\"ratio\": %.4f, \"token_us\": %.2f, \"sign_us\": %.2f}", r ? ", " : "", ratios[r],
                   tok_us[r], sign_us[r]);
        printf("]}\n");
    } else {
        printf("APM token cost, %s: token (APM core, GET_TOKEN) / raw ECDSA P-256 sign = %.3f  "
               "(token %.1f us, sign %.1f us, median of %d rounds; machine-dependent)\n",
               BACKEND, med, tok_us[rounds / 2], sign_us[rounds / 2], rounds);
    }
out:
    dh_driver_close(d);
    fleet_apm_sleep(&apm);
    drot_wipe(&sk, sizeof sk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "drot-bench-apm: could not remove %s\n", dir);
    return 0;
}
