/*
 * drot-apm — the simulated APM device (the sim port's main).
 *
 *   drot-apm provision --state DIR --authority-key PEM [options]
 *       manufactures a new device in DIR (fuses, flash, device root key,
 *       signed APM image) and prints its identity as JSON.
 *   drot-apm deploy --state DIR
 *       the factory's last step: burns the lifecycle to DEPLOYED.
 *   drot-apm run --state DIR [--socket PATH] [--control PATH]
 *       boots the device and serves the host link on a UNIX socket.
 *
 * The run loop is a single thread around poll(2): the link listener, one
 * host connection at a time (frames are assembled here and handed whole to
 * apm_device_handle), the control listener and its connections (a line
 * protocol for tamper sensors and the power-cut injector), and a one-second
 * tick for the tamper poll. SIGTERM/SIGINT end it cleanly: secrets wiped,
 * sockets removed. A simulated power cut ends it with exit status 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "apm/apm.h"
#include "drot/authority.h"
#include "drot/link.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "sim_hal.h"

#define EXIT_POWER_LOST 3
#define MAX_CONTROL     4

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void die(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "drot-apm: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(code);
}

static void hex_out(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static int hex_in(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* ---- provision ---------------------------------------------------------------- */

/* The authority's P-256 private key from a PEM file (SEC1 or PKCS#8, unencrypted). */
static void load_authority(const char *path, drot_p256_priv *priv, drot_p256_pub *pub)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die(2, "cannot open authority key '%s': %s", path, strerror(errno));
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pk == NULL)
        die(2, "'%s' is not a PEM private key (an unencrypted EC P-256 key is expected)", path);
    BIGNUM *d = NULL;
    char curve[32] = "";
    if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, NULL) != 1 ||
        strcmp(curve, "prime256v1") != 0 || EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
        die(2, "'%s' is not an EC P-256 private key (curve '%s')", path, curve);
    uint8_t scalar[32];
    if (BN_bn2binpad(d, scalar, sizeof scalar) != (int)sizeof scalar ||
        drot_p256_key_from_scalar(scalar, priv, pub) != DROT_OK)
        die(2, "'%s': private key out of range", path);
    drot_wipe(scalar, sizeof scalar);
    BN_clear_free(d);
    EVP_PKEY_free(pk);
}

/* The APM image: a file, or a deterministic stand-in of 16 KiB derived from
 * the version (the sim has no code image of its own; docs/apm.md). */
static uint8_t *load_image(const char *path, const char *version, size_t *len)
{
    if (path != NULL) {
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            die(2, "cannot open image '%s': %s", path, strerror(errno));
        uint8_t *buf = malloc(APM_SIM_SECTOR_SIZE * 25u);
        if (buf == NULL)
            die(1, "out of memory");
        *len = fread(buf, 1, APM_SIM_SECTOR_SIZE * 25u, f);
        fclose(f);
        if (*len == 0 || *len > 24u * APM_SIM_SECTOR_SIZE)
            die(2, "image '%s' must be 1 to %u bytes", path, 24u * APM_SIM_SECTOR_SIZE);
        return buf;
    }
    *len = 16384;
    uint8_t *buf = malloc(*len);
    if (buf == NULL)
        die(1, "out of memory");
    for (size_t off = 0; off < *len; off += 32) {
        char label[96];
        snprintf(label, sizeof label, "drot-apm sim image %s block %zu", version, off / 32);
        drot_sha256(label, strlen(label), buf + off);
    }
    return buf;
}

static int cmd_provision(int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, 0, 's'},
                                         {"authority-key", required_argument, 0, 'a'},
                                         {"image", required_argument, 0, 'i'},
                                         {"image-version", required_argument, 0, 'v'},
                                         {"image-svn", required_argument, 0, 'n'},
                                         {"device-id", required_argument, 0, 'd'},
                                         {"anchor", required_argument, 0, 'A'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *state = NULL, *auth = NULL, *image_path = NULL, *version = "1.0.0";
    long svn = 1;
    uint8_t device_id[16];
    bool have_id = false;
    uint8_t anchor[DROT_AUTHORITY_MAX_SLOTS][32];
    size_t n_anchors = 1; /* slot 0: the authority key's */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'a': auth = optarg; break;
        case 'i': image_path = optarg; break;
        case 'v': version = optarg; break;
        case 'n': {
            char *end;
            svn = strtol(optarg, &end, 10);
            if (*end != '\0' || svn < 0 || svn > 63)
                die(2, "--image-svn must be 0..63, not '%s'", optarg);
            break;
        }
        case 'd':
            if (hex_in(optarg, device_id, sizeof device_id) != 0)
                die(2, "--device-id must be 32 hex digits, not '%s'", optarg);
            have_id = true;
            break;
        case 'A':
            if (n_anchors == DROT_AUTHORITY_MAX_SLOTS)
                die(2, "at most %u anchors: the authority key's and %u --anchor", DROT_AUTHORITY_MAX_SLOTS,
                    DROT_AUTHORITY_MAX_SLOTS - 1);
            if (hex_in(optarg, anchor[n_anchors], 32) != 0)
                die(2,
                    "--anchor must be 64 hex digits (SHA-256 of a 65-byte P-256 public key, as 'drotctl "
                    "init' prints it), not '%s'",
                    optarg);
            n_anchors++;
            break;
        case 'h':
            printf("usage: drot-apm provision --state DIR --authority-key PEM [--image FILE]\n"
                   "                          [--image-version V] [--image-svn N] [--device-id HEX32]\n"
                   "                          [--anchor HEX64]...\n"
                   "Manufactures a simulated APM in the new directory DIR: burns a device id, a unique\n"
                   "device secret, a host link key and the authority key's SHA-256 as anchor 0, installs\n"
                   "the APM image with a manifest signed by the authority key, generates the device root\n"
                   "key inside the APM, and prints the identity as JSON. The host's copy of the link key\n"
                   "is written to DIR/host-link.key (mode 0600). Each --anchor burns one more anchor slot\n"
                   "(1, 2, 3) with the SHA-256 of another authority public key, e.g. the fleet server's\n"
                   "authority as 'drotctl init' prints it: the keys the device will obey for DRoT.\n");
            return 0;
        default: return 2;
        }
    }
    if (state == NULL || auth == NULL)
        die(2, "provision needs --state DIR and --authority-key PEM (see --help)");
    if (strlen(version) == 0 || strlen(version) > 32)
        die(2, "--image-version must be 1 to 32 characters");

    drot_p256_priv apriv;
    drot_p256_pub apub;
    load_authority(auth, &apriv, &apub);
    size_t image_len = 0;
    uint8_t *image = load_image(image_path, version, &image_len);

    drot_manifest m;
    memset(&m, 0, sizeof m);
    m.component = "APM";
    m.component_len = 3;
    m.version = version;
    m.version_len = strlen(version);
    m.svn = (uint32_t)svn;
    m.size = (uint32_t)image_len;
    drot_sha256(image, image_len, m.digest);
    static uint8_t manifest[4096];
    size_t manifest_len = 0;
    drot_status ds = drot_manifest_sign(&apriv, &apub, &m, manifest, sizeof manifest, &manifest_len);
    drot_wipe(&apriv, sizeof apriv);
    if (ds != DROT_OK)
        die(1, "signing the APM manifest failed: %s", drot_status_str(ds));

    drot_sha256(apub.q, sizeof apub.q, anchor[0]);
    for (size_t i = 1; i < n_anchors; i++)
        for (size_t k = 0; k < i; k++)
            if (memcmp(anchor[i], anchor[k], 32) == 0)
                die(2, "--anchor %zu repeats anchor %zu: every slot must hold a different key", i, k);
    apm_manufacture_params p;
    memset(&p, 0, sizeof p);
    drot_rng rng = drot_sysrng();
    if ((!have_id && drot_rng_fill(&rng, device_id, sizeof device_id) != DROT_OK) ||
        drot_rng_fill(&rng, p.uds, sizeof p.uds) != DROT_OK ||
        drot_rng_fill(&rng, p.link_key, sizeof p.link_key) != DROT_OK)
        die(1, "the OS random source failed");
    memcpy(p.device_id, device_id, sizeof device_id);
    p.anchors = (const uint8_t(*)[32])anchor;
    p.n_anchors = n_anchors;
    p.manifest = manifest;
    p.manifest_len = manifest_len;
    p.image = image;
    p.image_len = image_len;

    if (mkdir(state, 0700) != 0 && errno != EEXIST)
        die(1, "cannot create '%s': %s", state, strerror(errno));
    apm_sim sim;
    char err[256];
    if (apm_sim_open(&sim, state, true, err, sizeof err) != 0)
        die(1, "%s", err);
    const char *cut = getenv("DROT_SIM_POWER_CUT");
    if (cut != NULL && apm_sim_cut_from_string(&sim, cut) != 0)
        die(2, "DROT_SIM_POWER_CUT must be N or N:torn, not '%s'", cut);
    apm_identity id;
    apm_status st = apm_device_manufacture(&sim.hal, &p, &id);
    if (st == APM_E_POWER)
        die(EXIT_POWER_LOST, "power lost (simulated) during manufacturing");
    if (st != APM_OK)
        die(1, "manufacturing failed: %s", apm_status_str(st));
    apm_sim_close(&sim);

    char path[1024];
    snprintf(path, sizeof path, "%s/host-link.key", state);
    /* O_EXCL | O_NOFOLLOW: never write the link key through a planted link
     * or into an existing file whose mode may be looser. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, p.link_key, sizeof p.link_key) != (ssize_t)sizeof p.link_key || close(fd) != 0)
        die(1, "cannot write '%s': %s", path, strerror(errno));
    drot_wipe(&p, sizeof p);
    free(image);

    printf("{\"device_id\": \"");
    hex_out(stdout, id.device_id, sizeof id.device_id);
    printf("\", \"drk_pub\": \"");
    hex_out(stdout, id.drk_pub, sizeof id.drk_pub);
    printf("\", \"instance_id\": \"");
    hex_out(stdout, id.instance_id, sizeof id.instance_id);
    printf("\", \"epoch\": %u, \"anchor\": \"", (unsigned)id.epoch);
    hex_out(stdout, anchor[0], 32);
    printf("\", \"state\": \"%s\", \"link_key_file\": \"%s\"}\n", state, path);
    return 0;
}

/* ---- deploy --------------------------------------------------------------------- */

static int cmd_deploy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *state = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'h':
            printf("usage: drot-apm deploy --state DIR\n"
                   "The factory's last step for the device manufactured in DIR: burns its lifecycle fuse\n"
                   "from provisioned to deployed (PSA lifecycle 0x3000, \"secured\"), which verifiers\n"
                   "expect of a device in the field. One fuse write; running it again is a no-op.\n"
                   "Refused, changing nothing, before provisioning completed, without a device root\n"
                   "key, and on a tampered or decommissioned device. Run it while no 'drot-apm run'\n"
                   "serves DIR. Prints {\"lifecycle\": \"deployed\", \"psa_lifecycle\": 12288}.\n");
            return 0;
        default: return 2;
        }
    }
    if (state == NULL || optind != argc)
        die(2, "deploy needs --state DIR and nothing else (see --help)");
    apm_sim sim;
    char err[256];
    if (apm_sim_open(&sim, state, false, err, sizeof err) != 0)
        die(1, "%s (was the device provisioned with 'drot-apm provision --state %s'?)", err, state);
    const char *cut = getenv("DROT_SIM_POWER_CUT");
    if (cut != NULL && apm_sim_cut_from_string(&sim, cut) != 0)
        die(2, "DROT_SIM_POWER_CUT must be N or N:torn, not '%s'", cut);
    apm_status st = apm_device_deploy(&sim.hal);
    apm_sim_close(&sim);
    if (st == APM_E_POWER)
        die(EXIT_POWER_LOST, "power lost (simulated) while deploying; run deploy again");
    if (st == APM_E_NOT_PROVISIONED)
        die(1, "deploy refused: the device in '%s' has not completed provisioning", state);
    if (st == APM_E_LIFECYCLE)
        die(1, "deploy refused: the device in '%s' is tampered or decommissioned, which is final", state);
    if (st != APM_OK)
        die(1, "deploy failed: %s", apm_status_str(st));
    printf("{\"lifecycle\": \"deployed\", \"psa_lifecycle\": %u}\n", 0x3000u);
    return 0;
}

/* ---- run ------------------------------------------------------------------------ */

static int listen_unix(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path)
        die(2, "socket path too long: '%s'", path);
    strcpy(a.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0)
        die(1, "cannot listen on '%s': %s", path, strerror(errno));
    chmod(path, 0600);
    return fd;
}

/* One control line → one reply line. */
static void control_line(apm_sim *sim, char *line, int fd)
{
    char reply[256];
    apm_tamper_sensors s = sim->sensors;
    long v;
    char word[16];
    if (sscanf(line, "tamper voltage %ld", &v) == 1) {
        s.supply_mv = (int32_t)v;
        apm_sim_set_sensors(sim, &s);
        snprintf(reply, sizeof reply, "ok\n");
    } else if (sscanf(line, "tamper temp %ld", &v) == 1) {
        s.temp_mc = (int32_t)v;
        apm_sim_set_sensors(sim, &s);
        snprintf(reply, sizeof reply, "ok\n");
    } else if (strncmp(line, "tamper intrusion", 16) == 0) {
        s.intrusion = true;
        apm_sim_set_sensors(sim, &s);
        snprintf(reply, sizeof reply, "ok\n");
    } else if (strncmp(line, "tamper nominal", 14) == 0) {
        s.supply_mv = 3300;
        s.temp_mc = 25000;
        s.intrusion = false;
        apm_sim_set_sensors(sim, &s);
        snprintf(reply, sizeof reply, "ok\n");
    } else if (sscanf(line, "power-cut %ld %15s", &v, word) >= 1) {
        bool torn = strstr(line, "torn") != NULL;
        apm_sim_cut_after(sim, v, torn);
        snprintf(reply, sizeof reply, "ok\n");
    } else if (strncmp(line, "status", 6) == 0) {
        snprintf(
            reply, sizeof reply,
            "{\"powered\": %s, \"writes\": %ld, \"supply_mv\": %d, \"temp_mc\": %d, \"intrusion\": %s}\n",
            sim->powered ? "true" : "false", sim->writes, sim->sensors.supply_mv, sim->sensors.temp_mc,
            sim->sensors.intrusion ? "true" : "false");
    } else {
        snprintf(reply, sizeof reply,
                 "error: unknown command; use: tamper voltage MV | tamper temp MILLI_C | tamper intrusion | "
                 "tamper nominal | power-cut N [torn] | status\n");
    }
    (void)!write(fd, reply, strlen(reply));
}

/* Writes all of buf to a non-blocking socket, waiting at most WRITE_MS for
 * it to drain: a peer that sends frames but never reads its answers must
 * not stall the loop (and with it the tamper tick and the control socket). */
#define WRITE_MS 1000
static bool write_bounded(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false;
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, WRITE_MS) <= 0)
            return false; /* the peer is not reading: drop it */
    }
    return true;
}

typedef struct host_conn {
    int fd;
    uint8_t buf[APM_FRAME_MAX];
    size_t have;
} host_conn;

/* Reads what the host sent; answers every complete frame. Returns false when
 * the connection must close (EOF, error, unusable header). */
static bool host_readable(apm_device *dev, host_conn *h, apm_status *power)
{
    static uint8_t out[APM_FRAME_MAX];
    ssize_t n = read(h->fd, h->buf + h->have, sizeof h->buf - h->have);
    if (n <= 0)
        return false;
    h->have += (size_t)n;
    for (;;) {
        size_t payload_len = 0, out_len = 0;
        if (h->have < 10)
            return true;
        bool bad = drot_link_parse_header(h->buf, h->have, NULL, NULL, &payload_len) != DROT_OK;
        size_t total = bad ? h->have : 10 + payload_len + 16;
        if (!bad && h->have < total)
            return true;
        apm_status st = apm_device_handle(dev, h->buf, total, out, sizeof out, &out_len);
        if (st == APM_E_POWER) {
            *power = st;
            return false;
        }
        bool sent = out_len == 0 || write_bounded(h->fd, out, out_len);
        /* Frames may carry sealed plaintext (SEAL, UNSEAL): wipe both. */
        drot_wipe(out, out_len);
        drot_wipe(h->buf, total);
        if (apm_device_reset_requested(dev)) {
            /* FW_ACTIVATE: the answer is out; the device resets (boots again
             * in this process) and the host reconnects with a new HELLO. */
            st = apm_device_reset(dev);
            if (st != APM_OK)
                *power = st;
            return false;
        }
        if (!sent || bad)
            return false; /* peer gone or not reading, or the stream is out of step */
        memmove(h->buf, h->buf + total, h->have - total);
        drot_wipe(h->buf + h->have - total, total);
        h->have -= total;
    }
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, 0, 's'},
                                         {"socket", required_argument, 0, 'l'},
                                         {"control", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *state = NULL, *sock = NULL, *ctl = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'l': sock = optarg; break;
        case 'c': ctl = optarg; break;
        case 'h':
            printf("usage: drot-apm run --state DIR [--socket PATH] [--control PATH]\n"
                   "Boots the simulated APM in DIR and serves the host link on PATH (default DIR/apm.sock).\n"
                   "The control socket (default DIR/control.sock) takes one command per line:\n"
                   "  tamper voltage MV | tamper temp MILLI_C | tamper intrusion | tamper nominal\n"
                   "  power-cut N [torn]   stop after the N-th fuse/flash write from now\n"
                   "  status\n"
                   "DROT_SIM_POWER_CUT=N[:torn] arms the power-cut injector from the start.\n"
                   "Exit status: 0 clean shutdown (SIGTERM/SIGINT), 1 error, 2 usage, 3 power lost.\n");
            return 0;
        default: return 2;
        }
    }
    if (state == NULL)
        die(2, "run needs --state DIR (see --help)");
    static char sock_path[600], ctl_path[600];
    snprintf(sock_path, sizeof sock_path, "%s", sock != NULL ? sock : "");
    snprintf(ctl_path, sizeof ctl_path, "%s", ctl != NULL ? ctl : "");
    if (sock == NULL)
        snprintf(sock_path, sizeof sock_path, "%s/apm.sock", state);
    if (ctl == NULL)
        snprintf(ctl_path, sizeof ctl_path, "%s/control.sock", state);

    static apm_sim sim;
    char err[256];
    if (apm_sim_open(&sim, state, false, err, sizeof err) != 0)
        die(1, "%s", err);
    const char *cut = getenv("DROT_SIM_POWER_CUT");
    if (cut != NULL && apm_sim_cut_from_string(&sim, cut) != 0)
        die(2, "DROT_SIM_POWER_CUT must be N or N:torn, not '%s'", cut);

    static apm_device dev;
    apm_status st = apm_device_boot(&dev, &sim.hal);
    if (st == APM_E_POWER)
        die(EXIT_POWER_LOST, "power lost (simulated) at boot");
    if (st != APM_OK)
        die(1, "boot failed: %s", apm_status_str(st));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_unix(sock_path), cfd = listen_unix(ctl_path);
    static host_conn host = {.fd = -1};
    int ctl_fds[MAX_CONTROL];
    for (int i = 0; i < MAX_CONTROL; i++)
        ctl_fds[i] = -1;
    fprintf(stderr, "drot-apm: serving %s (control %s)\n", sock_path, ctl_path);

    int exit_code = 0;
    while (!g_stop) {
        struct pollfd p[3 + MAX_CONTROL];
        int n = 0;
        p[n++] = (struct pollfd){lfd, POLLIN, 0};
        p[n++] = (struct pollfd){cfd, POLLIN, 0};
        p[n++] = (struct pollfd){host.fd, POLLIN, 0};
        for (int i = 0; i < MAX_CONTROL; i++)
            p[n++] = (struct pollfd){ctl_fds[i], POLLIN, 0};
        int r = poll(p, (nfds_t)n, 1000);
        if (r < 0 && errno != EINTR)
            die(1, "poll: %s", strerror(errno));
        if (r <= 0) {
            if (apm_device_tick(&dev) == APM_E_POWER) {
                exit_code = EXIT_POWER_LOST;
                break;
            }
            continue;
        }
        if (p[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                if (host.fd >= 0)
                    close(host.fd); /* one host at a time: the newest wins */
                drot_wipe(host.buf, sizeof host.buf);
                host.fd = fd;
                host.have = 0;
            }
        }
        if (p[1].revents & POLLIN) {
            int fd = accept4(cfd, NULL, NULL, SOCK_CLOEXEC);
            for (int i = 0; fd >= 0 && i < MAX_CONTROL; i++) {
                if (ctl_fds[i] < 0) {
                    ctl_fds[i] = fd;
                    fd = -1;
                }
            }
            if (fd >= 0)
                close(fd);
        }
        if (host.fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            apm_status power = APM_OK;
            if (!host_readable(&dev, &host, &power)) {
                close(host.fd);
                host.fd = -1;
                drot_wipe(host.buf, sizeof host.buf);
                host.have = 0;
                if (power == APM_E_POWER) {
                    exit_code = EXIT_POWER_LOST;
                    break;
                }
                if (power != APM_OK) {
                    fprintf(stderr, "drot-apm: reset failed: %s\n", apm_status_str(power));
                    exit_code = 1;
                    break;
                }
            }
        }
        for (int i = 0; i < MAX_CONTROL; i++) {
            if (ctl_fds[i] < 0 || !(p[3 + i].revents & (POLLIN | POLLHUP)))
                continue;
            char line[256];
            ssize_t len = read(ctl_fds[i], line, sizeof line - 1);
            if (len <= 0) {
                close(ctl_fds[i]);
                ctl_fds[i] = -1;
                continue;
            }
            line[len] = '\0';
            for (char *save = NULL, *l = strtok_r(line, "\n", &save); l != NULL;
                 l = strtok_r(NULL, "\n", &save))
                control_line(&sim, l, ctl_fds[i]);
        }
        if (!sim.powered) {
            exit_code = EXIT_POWER_LOST;
            break;
        }
    }
    if (exit_code == EXIT_POWER_LOST)
        fprintf(stderr, "drot-apm: power lost (simulated) after %ld writes\n", sim.writes);
    apm_device_shutdown(&dev);
    apm_sim_close(&sim);
    close(lfd);
    close(cfd);
    unlink(sock_path);
    unlink(ctl_path);
    return exit_code;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: drot-apm provision --state DIR --authority-key PEM [options]\n"
               "       drot-apm deploy --state DIR\n"
               "       drot-apm run --state DIR [--socket PATH] [--control PATH]\n"
               "       drot-apm COMMAND --help\n"
               "The simulated Attestation & Provisioning Module: its fuses, flash and sensors live\n"
               "in DIR; the host talks to it over a UNIX socket (docs/link.md, docs/apm.md).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "provision") == 0)
        return cmd_provision(argc - 1, argv + 1);
    if (strcmp(argv[1], "deploy") == 0)
        return cmd_deploy(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    fprintf(stderr, "drot-apm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
