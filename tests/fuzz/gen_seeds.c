/*
 * gen_seeds.c — drot-fuzz-seeds OUTDIR: writes the seed corpora of every fuzz
 * target, built with drot's own encoders, into OUTDIR/{cbor,cose,eat,hpke}.
 *
 *   cbor  items of every major type (shortest and longer heads, nesting up
 *         to and past DROT_CBOR_MAX_DEPTH, the one-byte tags 6..20, floats,
 *         simple values, indefinite and truncated items), plus every EAT
 *         payload and COSE message below;
 *   cose  the FZ_COSE_SEEDS messages signed with fz_cose_key (tagged and
 *         untagged, with and without kid and content type), and the COSE WG
 *         examples' output.cbor from $DROT_VECTORS_DIR/cose/ (all levels;
 *         skipped quietly when the folder is absent);
 *   eat   the FZ_EAT_SEEDS claims sets: both profiles, 1..8 components;
 *   hpke  the FZ_HPKE_SEEDS enc || ct sealed to fz_hpke_seed_key, and a few
 *         damaged copies of them.
 *
 * No seed is committed: the build's fuzz-seeds test runs this (the corpus is
 * deterministic except for the OpenSSL backend's randomised ECDSA signatures).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "drot/cbor.h"
#include "drot/link_fw.h"
#include "drot/link_msg.h"
#include "drot/revocation.h"
#include "drot/rotate.h"
#include "drot_test_support.h"
#include "fuzz_fixtures.h"

#define PATH_MAX_LEN 4096

static const char *g_out;
static unsigned g_written;

static void die(const char *what, const char *path)
{
    fprintf(stderr, "drot-fuzz-seeds: %s: %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die("mkdir", path);
}

static void write_seed(const char *target, const char *name, const uint8_t *p, size_t n)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        die("open", path);
    if ((n != 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        die("write", path);
    g_written++;
}

/* ---- cbor ------------------------------------------------------------------- */

typedef void (*build_fn)(drot_cbor_writer *w);

static void cbor_seed(const char *name, build_fn build)
{
    uint8_t buf[1024];
    drot_cbor_writer w;
    size_t len;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    build(&w);
    if (drot_cbor_writer_finish(&w, &len) != DROT_OK) {
        fprintf(stderr, "drot-fuzz-seeds: cbor seed %s does not fit\n", name);
        exit(1);
    }
    write_seed("cbor", name, buf, len);
}

static void b_uints(drot_cbor_writer *w)
{
    static const uint64_t v[] = {
        0, 23, 24, 255, 256, 65535, 65536, 0xffffffffu, UINT64_C(0x100000000), UINT64_MAX};
    drot_cbor_put_array(w, sizeof v / sizeof v[0]);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        drot_cbor_put_uint(w, v[k]);
}

static void b_negints(drot_cbor_writer *w)
{
    static const int64_t v[] = {-1, -24, -25, -256, -257, -65537, -80005, INT64_MIN};
    static const uint8_t below_int64_min[] = {0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    drot_cbor_put_array(w, sizeof v / sizeof v[0] + 1);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        drot_cbor_put_int(w, v[k]);
    drot_cbor_put_raw(w, below_int64_min, sizeof below_int64_min);
}

static void b_strings(drot_cbor_writer *w)
{
    static const uint8_t bytes[300] = {1, 2, 3};
    drot_cbor_put_array(w, 8);
    drot_cbor_put_bstr(w, NULL, 0);
    drot_cbor_put_bstr(w, bytes, 1);
    drot_cbor_put_bstr(w, bytes, 24);
    drot_cbor_put_bstr(w, bytes, sizeof bytes);
    drot_cbor_put_tstr_z(w, "");
    drot_cbor_put_tstr_z(w, "a");
    drot_cbor_put_tstr_z(w, "\xc3\xbc\xe2\x82\xac\xf0\x9f\x94\x91 UTF-8");
    drot_cbor_put_tstr_z(w, "a text string that is longer than twenty-three bytes");
}

static void b_map(drot_cbor_writer *w)
{
    static const uint8_t h[] = {0xde, 0xad};
    drot_cbor_put_map(w, 5);
    drot_cbor_put_uint(w, 1);
    drot_cbor_put_int(w, -7);
    drot_cbor_put_tstr_z(w, "kid");
    drot_cbor_put_bstr(w, h, sizeof h);
    drot_cbor_put_int(w, -80003);
    drot_cbor_put_map(w, 0);
    drot_cbor_put_bstr(w, h, 1);
    drot_cbor_put_array(w, 0);
    drot_cbor_put_bool(w, true);
    drot_cbor_put_null(w);
}

static void b_tags(drot_cbor_writer *w)
{
    static const uint8_t big[] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    drot_cbor_put_array(w, 5);
    drot_cbor_put_tag(w, 18); /* one-byte head 0xD2: decoded by drot, not libcbor */
    drot_cbor_put_array(w, 0);
    drot_cbor_put_tag(w, 2); /* bignum */
    drot_cbor_put_bstr(w, big, sizeof big);
    drot_cbor_put_tag(w, 55799); /* self-described CBOR */
    drot_cbor_put_tag(w, 61);
    drot_cbor_put_uint(w, 0);
    drot_cbor_put_tag(w, 6);
    drot_cbor_put_tag(w, 20);
    drot_cbor_put_null(w);
    drot_cbor_put_tag(w, UINT64_MAX);
    drot_cbor_put_bool(w, false);
}

static void b_simple(drot_cbor_writer *w)
{
    /* undefined; half 1.0; single 100000.0; double 1.1. */
    static const uint8_t raw[] = {0xf7, 0xf9, 0x3c, 0x00, 0xfa, 0x47, 0xc3, 0x50, 0x00,
                                  0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a};
    drot_cbor_put_array(w, 7);
    drot_cbor_put_bool(w, false);
    drot_cbor_put_bool(w, true);
    drot_cbor_put_null(w);
    drot_cbor_put_raw(w, raw, sizeof raw);
}

static void nest(drot_cbor_writer *w, int depth)
{
    for (int d = 0; d < depth; d++) {
        if (d % 3 == 2) {
            drot_cbor_put_tag(w, 1);
        } else if (d % 3 == 1) {
            drot_cbor_put_map(w, 1);
            drot_cbor_put_uint(w, (uint64_t)d);
        } else {
            drot_cbor_put_array(w, 1);
        }
    }
    drot_cbor_put_uint(w, 7);
}
static void b_depth_max(drot_cbor_writer *w)
{
    nest(w, DROT_CBOR_MAX_DEPTH);
}
static void b_depth_over(drot_cbor_writer *w)
{
    nest(w, DROT_CBOR_MAX_DEPTH + 1);
}

/* Hand-written byte strings: non-preferred heads, indefinite lengths, cuts. */
static void raw_cbor_seeds(void)
{
    static const struct {
        const char *name;
        uint8_t b[16];
        size_t n;
    } raws[] = {
        {"raw-uint-long-head", {0x1b, 0, 0, 0, 0, 0, 0, 0, 1}, 9},
        {"raw-bstr-long-head", {0x59, 0x00, 0x02, 0xab, 0xcd}, 5},
        {"raw-tag18-long-head", {0xd8, 0x12, 0x80}, 3},
        {"raw-map-long-count", {0xb9, 0x00, 0x01, 0x01, 0x02}, 5},
        {"raw-indef-array", {0x9f, 0x01, 0x02, 0xff}, 4},
        {"raw-indef-bstr", {0x5f, 0x41, 0x00, 0xff}, 4},
        {"raw-indef-map", {0xbf, 0x01, 0x02, 0xff}, 4},
        {"raw-break", {0xff}, 1},
        {"raw-truncated-uint", {0x19, 0x01}, 2},
        {"raw-truncated-bstr", {0x45, 0x01, 0x02}, 3},
        {"raw-huge-array", {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 10},
        {"raw-huge-bstr", {0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0x00}, 10},
        {"raw-reserved-ai", {0x1c}, 1},
        {"raw-trailing", {0x01, 0x02}, 2},
        {"raw-simple-16", {0xf0}, 1},
        {"raw-simple-255", {0xf8, 0xff}, 2},
        {"raw-simple-2byte-low", {0xf8, 0x10}, 2},
    };
    for (size_t k = 0; k < sizeof raws / sizeof raws[0]; k++)
        write_seed("cbor", raws[k].name, raws[k].b, raws[k].n);
}

static void cbor_seeds(void)
{
    cbor_seed("uints", b_uints);
    cbor_seed("negints", b_negints);
    cbor_seed("strings", b_strings);
    cbor_seed("map", b_map);
    cbor_seed("tags", b_tags);
    cbor_seed("simple-float", b_simple);
    cbor_seed("depth-max", b_depth_max);
    cbor_seed("depth-over", b_depth_over);
    raw_cbor_seeds();
}

/* ---- eat, cose, hpke ---------------------------------------------------------- */

static void eat_seeds(void)
{
    static uint8_t buf[DROT_EAT_MAX_PAYLOAD];
    char name[64];
    for (unsigned i = 0; i < FZ_EAT_SEEDS; i++) {
        size_t len = fz_eat_payload(i, buf, sizeof buf);
        snprintf(name, sizeof name, "eat-%s-%02u", (i & 1u) ? "drot" : "psa", i);
        write_seed("eat", name, buf, len);
        write_seed("cbor", name, buf, len);
    }
}

static void cose_seeds(void)
{
    static uint8_t buf[DROT_COSE_SIGN1_MAX_MSG];
    char name[64];
    for (unsigned i = 0; i < FZ_COSE_SEEDS; i++) {
        size_t len = fz_cose_seed_sign(i, buf, sizeof buf);
        snprintf(name, sizeof name, "sign1-%02u-tagged", i);
        write_seed("cose", name, buf, len);
        write_seed("cbor", name, buf, len);
        /* sign writes the one-byte tag head 0xD2; without it, the untagged form. */
        snprintf(name, sizeof name, "sign1-%02u-untagged", i);
        write_seed("cose", name, buf + 1, len - 1);
    }
}

/* output.cbor of every JSON file under dir (COSE WG example format). */
static void cose_vectors(const char *dir, const char *prefix, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL || depth > 4) {
        if (d != NULL)
            closedir(d);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX_LEN], name[256];
        struct stat sb;
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0)
            continue;
        snprintf(name, sizeof name, "%s%s", prefix, e->d_name);
        if (S_ISDIR(sb.st_mode)) {
            strncat(name, "-", sizeof name - strlen(name) - 1);
            cose_vectors(path, name, depth + 1);
            continue;
        }
        if (!S_ISREG(sb.st_mode) || nl < 5 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        json_error_t err;
        json_t *j = json_load_file(path, 0, &err);
        const char *hex = json_string_value(json_object_get(json_object_get(j, "output"), "cbor"));
        static uint8_t msg[DROT_COSE_SIGN1_MAX_MSG];
        long n = hex != NULL ? drot_test_hex(hex, msg, sizeof msg) : -1;
        if (n > 0) {
            name[strlen(name) - 5] = '\0'; /* drop ".json" */
            write_seed("cose", name, msg, (size_t)n);
            write_seed("cbor", name, msg, (size_t)n);
        }
        json_decref(j);
    }
    closedir(d);
}

static void hpke_seeds(void)
{
    static uint8_t buf[DROT_HPKE_ENC_LEN + DROT_HPKE_CT_LEN(FZ_HPKE_MAX_PT)];
    char name[64];
    for (unsigned i = 0; i < FZ_HPKE_SEEDS; i++) {
        size_t len = fz_hpke_seed(i, buf, sizeof buf);
        snprintf(name, sizeof name, "sealed-%02u", i);
        write_seed("hpke", name, buf, len);
        if (i == 0) {
            /* Damaged copies: a flipped tag bit, a flipped enc bit, a cut. */
            buf[len - 1] ^= 0x01;
            write_seed("hpke", "sealed-00-bad-tag", buf, len);
            buf[len - 1] ^= 0x01;
            buf[10] ^= 0x01;
            write_seed("hpke", "sealed-00-bad-enc", buf, len);
            buf[10] ^= 0x01;
            write_seed("hpke", "sealed-00-cut", buf, len - 17);
        }
    }
}

/* One valid encoding of every firmware-install message, prefixed with the
 * selector byte fuzz_link_fw.c uses for its decoder. */
static void link_fw_seed(uint8_t which, const char *name, const uint8_t *p, size_t n)
{
    static uint8_t buf[1 + DROT_LINK_MAX_PAYLOAD];
    buf[0] = which;
    memcpy(buf + 1, p, n);
    write_seed("link_fw", name, buf, n + 1);
}

static void link_fw_seeds(void)
{
    static uint8_t enc[DROT_LINK_MAX_PAYLOAD], data[300];
    static drot_link_fw_status st;
    size_t n = 0;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7u);

    drot_link_fw_begin b = {data, 200, DROT_LINK_FW_MODE_INSTALL};
    if (drot_link_fw_begin_encode(&b, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(0, "begin", enc, n);
    drot_link_fw_begin_resp r = {13000, DROT_LINK_FW_CHUNK_MAX};
    if (drot_link_fw_begin_resp_encode(&r, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(1, "begin-resp", enc, n);
    drot_link_fw_chunk c = {4096, data, sizeof data};
    if (drot_link_fw_chunk_encode(&c, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(2, "chunk", enc, n);
    if (drot_link_fw_received_encode(4396, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(3, "received", enc, n);
    drot_link_fw_image im;
    memset(&im, 0, sizeof im);
    im.component_len = 7;
    memcpy(im.component, "HOST-OS", 7);
    im.version_len = 5;
    memcpy(im.version, "6.1.0", 5);
    im.svn = 3;
    memcpy(im.digest, data, 32);
    memcpy(im.signer, data + 32, 32);
    if (drot_link_fw_image_encode(&im, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(4, "image", enc, n);
    drot_link_fw_confirm f = {3, "APM", 2};
    if (drot_link_fw_confirm_req_encode(&f, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(5, "confirm-req", enc, n);
    if (drot_link_fw_confirm_resp_encode(&f, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(6, "confirm-resp", enc, n);
    if (drot_link_fw_activate_encode(DROT_LINK_FW_ACTIVATE_TRIAL, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(7, "activate", enc, n);
    if (drot_link_fw_activate_resp_encode(true, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(8, "activate-resp", enc, n);
    st.running = 1;
    st.trial = DROT_LINK_FW_TRIAL_TRYING;
    st.slots[0].version_len = 5;
    memcpy(st.slots[0].version, "1.0.0", 5);
    st.slots[1].status = -104;
    st.num_svns = 3;
    for (uint32_t k = 0; k < 3; k++) {
        st.svns[k].component = k;
        st.svns[k].svn = k;
    }
    st.num_pending = 1;
    st.pending[0] = im;
    st.session_mode = DROT_LINK_FW_MODE_VERIFY;
    st.session_component_len = 3;
    memcpy(st.session_component, "APM", 3);
    st.session_received = 2048;
    st.session_size = 13000;
    if (drot_link_fw_status_encode(&st, enc, sizeof enc, &n) == DROT_OK)
        link_fw_seed(9, "status", enc, n);
}

/* One valid encoding of every link message, prefixed with the selector byte
 * fuzz_link.c uses for its decoder. */
static void link_seed(uint8_t which, const char *name, const uint8_t *p, size_t n)
{
    static uint8_t buf[1 + DROT_LINK_MAX_PAYLOAD];
    buf[0] = which;
    memcpy(buf + 1, p, n);
    write_seed("link", name, buf, n + 1);
}

static void link_seeds(void)
{
    static uint8_t enc[DROT_LINK_MAX_PAYLOAD], data[64];
    static drot_link_info info;
    size_t n = 0;
    memset(&info, 0, sizeof info);
    memset(info.device_id, 0xd1, sizeof info.device_id);
    info.epoch = 3;
    info.lifecycle = 2;
    info.instance_id[0] = 0x01;
    info.drk_pub[0] = 0x04;
    info.num_svns = 2;
    info.svns[1].component = 1;
    info.svns[1].svn = 7;
    info.apm_version_len = 5;
    memcpy(info.apm_version, "1.0.0", 5);
    info.num_measurements = 1;
    info.measurements[0].type_len = 3;
    memcpy(info.measurements[0].type, "APM", 3);
    info.measurements[0].version_len = 1;
    info.measurements[0].version[0] = '1';
    if (drot_link_info_encode(&info, enc, sizeof enc, &n) == DROT_OK)
        link_seed(0, "info", enc, n);

    drot_link_token_req tr = {.nonce_len = 32, .profile = 2};
    if (drot_link_token_req_encode(&tr, enc, sizeof enc, &n) == DROT_OK)
        link_seed(1, "token-req", enc, n);

    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    m.type_len = 7;
    memcpy(m.type, "HOST-BL", 7);
    m.version_len = 3;
    memcpy(m.version, "2.0", 3);
    if (drot_link_extend_req_encode(&m, enc, sizeof enc, &n) == DROT_OK)
        link_seed(2, "extend-req", enc, n);

    static drot_link_tamper_log log;
    memset(&log, 0, sizeof log);
    log.num_events = 2;
    log.events[0].kind = 1;
    log.events[0].value = 2500;
    log.events[1].kind = 3;
    log.events[1].value = 1;
    log.total_count = 5;
    if (drot_link_tamper_log_encode(&log, enc, sizeof enc, &n) == DROT_OK)
        link_seed(3, "tamper-log", enc, n);

    drot_link_error e = {.code = -108, .message_len = 6};
    memcpy(e.message, "locked", 6);
    if (drot_link_error_encode(&e, enc, sizeof enc, &n) == DROT_OK)
        link_seed(4, "error", enc, n);

    drot_link_seal_req sr;
    memset(&sr, 0, sizeof sr);
    sr.label_len = 9;
    memcpy(sr.label, "wifi.conf", 9);
    sr.data = data;
    sr.data_len = sizeof data;
    if (drot_link_seal_req_encode(&sr, enc, sizeof enc, &n) == DROT_OK)
        link_seed(5, "seal-req", enc, n);

    drot_link_unseal_req ur;
    memset(&ur, 0, sizeof ur);
    ur.label_len = 9;
    memcpy(ur.label, "wifi.conf", 9);
    ur.blob = data;
    ur.blob_len = sizeof data;
    if (drot_link_unseal_req_encode(&ur, enc, sizeof enc, &n) == DROT_OK)
        link_seed(6, "unseal-req", enc, n);

    if (drot_link_token_resp_encode(data, sizeof data, enc, sizeof enc, &n) == DROT_OK)
        link_seed(7, "token-resp", enc, n);
    if (drot_link_blob_resp_encode(data, sizeof data, enc, sizeof enc, &n) == DROT_OK)
        link_seed(8, "blob-resp", enc, n);
    if (drot_link_data_resp_encode(data, 10, enc, sizeof enc, &n) == DROT_OK)
        link_seed(9, "data-resp", enc, n);
    if (drot_link_hello_encode(data, enc, sizeof enc, &n) == DROT_OK)
        link_seed(10, "hello", enc, n);
    if (drot_link_extend_resp_encode(3, enc, sizeof enc, &n) == DROT_OK)
        link_seed(11, "extend-resp", enc, n);
}

/* DRoT seeds for fuzz_rotate.c: one valid encoding per decoder (selector
 * byte first), and every signed kind for its verifier selector (7), all
 * under fz_rotate_keys. */
static void rotate_seed(uint8_t which, const char *name, const uint8_t *p, size_t n)
{
    static uint8_t buf[1 + DROT_ROTATE_MAX_MSG + 64];
    if (n > sizeof buf - 1)
        die("rotate seed too large", name);
    buf[0] = which;
    memcpy(buf + 1, p, n);
    write_seed("rotate", name, buf, n + 1);
}

static drot_status counter_fill(void *ctx, uint8_t *out, size_t len)
{
    uint8_t *c = ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(++*c * 37u);
    return DROT_OK;
}

static void rotate_seeds(void)
{
    static uint8_t enc[DROT_ROTATE_MAX_MSG + 64], msg[DROT_ROTATE_MAX_MSG], consent[DROT_ROTATE_MAX_MSG];
    drot_p256_priv auth, drk, keya;
    drot_p256_pub auth_pub, drk_pub, keya_pub;
    uint8_t dev[16], nonce[32], ctr = 0;
    drot_rng rng = {counter_fill, &ctr};
    size_t n = 0;
    fz_rotate_keys(&auth, &auth_pub, &drk, &drk_pub, &keya, &keya_pub);
    memset(dev, 0xD0, sizeof dev);
    memset(nonce, 0x4E, sizeof nonce);

    drot_rotate_root r;
    if (drot_rotate_root_seal(&drk_pub, &keya, dev, 3, nonce, &rng, &r) != DROT_OK)
        die("rotate seal", "root");
    if (drot_rotate_root_encode(&r, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(0, "root", enc, n);
    if (drot_rotate_root_sign(&auth, &auth_pub, &r, msg, sizeof msg, &n) == DROT_OK) {
        rotate_seed(7, "root-signed", msg, n);
        if (drot_link_rot_msg_encode(msg, n, enc, sizeof enc, &n) == DROT_OK)
            rotate_seed(4, "link-msg", enc, n);
    }

    drot_rotate_receipt rc;
    memset(&rc, 0x33, sizeof rc);
    rc.new_epoch = 4;
    if (drot_rotate_receipt_encode(&rc, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(1, "receipt", enc, n);
    if (drot_rotate_receipt_sign(&keya, &keya_pub, &rc, msg, sizeof msg, &n) == DROT_OK)
        rotate_seed(7, "receipt-signed", msg, n);

    drot_rotate_proposal p;
    memcpy(p.device_id, dev, sizeof dev);
    p.epoch = 3;
    p.new_epoch = 4;
    p.keya = keya_pub;
    memcpy(p.nonce, nonce, sizeof nonce);
    if (drot_rotate_proposal_encode(&p, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(2, "proposal", enc, n);
    if (drot_rotate_proposal_sign(&drk, &drk_pub, &keya, &p, msg, sizeof msg, &n) == DROT_OK)
        rotate_seed(7, "proposal-signed", msg, n);
    if (drot_rotate_endorse_sign(&auth, &auth_pub, &p, msg, sizeof msg, &n) == DROT_OK)
        rotate_seed(7, "endorse-signed", msg, n);

    drot_anchor_instr a;
    memset(&a, 0, sizeof a);
    memcpy(a.device_id, dev, sizeof dev);
    memcpy(a.nonce, nonce, sizeof nonce);
    a.op = DROT_ANCHOR_OP_ADD;
    a.new_key = keya_pub;
    if (drot_anchor_consent_sign(&keya, &keya_pub, dev, nonce, consent, sizeof consent, &n) != DROT_OK)
        die("rotate consent", "anchor");
    a.consent = consent;
    a.consent_len = n;
    if (drot_anchor_instr_encode(&a, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(3, "anchor-add", enc, n);
    if (drot_anchor_instr_sign(&auth, &auth_pub, &a, msg, sizeof msg, &n) == DROT_OK)
        rotate_seed(7, "anchor-add-signed", msg, n);
    a.op = DROT_ANCHOR_OP_REVOKE;
    a.slot = 2;
    if (drot_anchor_instr_encode(&a, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(3, "anchor-revoke", enc, n);

    if (drot_link_rot_nonce_encode(nonce, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(5, "link-nonce", enc, n);
    drot_link_anchor_resp ar = {1, 2};
    if (drot_link_anchor_resp_encode(&ar, enc, sizeof enc, &n) == DROT_OK)
        rotate_seed(6, "link-anchor-resp", enc, n);
}

/* Revocation seeds for fuzz_revocation.c (selector byte first): a list
 * with an entry of every kind, its signed form (verifier, 3), the link
 * request carrying it (1) and a response (2), under fz_rotate_keys. */
static void revocation_seed(uint8_t which, const char *name, const uint8_t *p, size_t n)
{
    static uint8_t buf[1 + DROT_LINK_MAX_PAYLOAD];
    if (n > sizeof buf - 1)
        die("revocation seed too large", name);
    buf[0] = which;
    memcpy(buf + 1, p, n);
    write_seed("revocation", name, buf, n + 1);
}

static void revocation_seeds(void)
{
    static uint8_t enc[DROT_REVOCATION_MAX_LEN], msg[DROT_REVOCATION_SIGNED_MAX], req[DROT_LINK_MAX_PAYLOAD];
    static const uint8_t a[32] = {0x10, 1}, b[32] = {0x20, 2}, c[32] = {0x30, 3}, serial[3] = {0x41, 0, 7};
    drot_p256_priv auth, drk, keya;
    drot_p256_pub auth_pub, drk_pub, keya_pub;
    drot_revocation_list l;
    size_t n = 0, rn = 0;
    fz_rotate_keys(&auth, &auth_pub, &drk, &drk_pub, &keya, &keya_pub);
    memset(&l, 0, sizeof l);
    l.version = 5;
    l.issued_at = 1767225600;
    l.n_authorities = 1;
    l.authorities[0] = a;
    l.n_drks = 2;
    l.drks[0] = b;
    l.drks[1] = c;
    l.n_certs = 1;
    l.certs[0].p = serial;
    l.certs[0].len = sizeof serial;
    if (drot_revocation_encode(&l, enc, sizeof enc, &n) == DROT_OK)
        revocation_seed(0, "list", enc, n);
    if (drot_revocation_sign(&auth, &auth_pub, &l, msg, sizeof msg, &n) == DROT_OK) {
        revocation_seed(3, "list-signed", msg, n);
        if (drot_link_revocation_req_encode(msg, n, req, sizeof req, &rn) == DROT_OK)
            revocation_seed(1, "set-req", req, rn);
    }
    drot_link_revocation_resp r = {5, true, false};
    if (drot_link_revocation_resp_encode(&r, enc, sizeof enc, &n) == DROT_OK)
        revocation_seed(2, "set-resp", enc, n);
}

int main(int argc, char **argv)
{
    char path[PATH_MAX_LEN];
    static const char *const targets[] = {"cbor", "cose",    "eat",    "hpke",
                                          "link", "link_fw", "rotate", "revocation"};

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    make_dir(g_out);
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", g_out, targets[k]);
        make_dir(path);
    }
    cbor_seeds();
    eat_seeds();
    cose_seeds();
    hpke_seeds();
    link_seeds();
    link_fw_seeds();
    rotate_seeds();
    revocation_seeds();

    const char *vec = getenv("DROT_VECTORS_DIR");
    unsigned before = g_written;
    if (vec != NULL && vec[0] != '\0') {
        snprintf(path, sizeof path, "%s/cose", vec);
        cose_vectors(path, "wg-", 0);
    }
    printf("drot-fuzz-seeds: wrote %u seeds to %s (%u from the COSE WG vectors)\n", g_written, g_out,
           g_written - before);
    return 0;
}
