/*
 * fleet_dev.c — one simulated device's work in one phase of drot-fleet.
 *
 * A device is awake only while a worker runs its part of a phase: the
 * worker opens its state directory, boots the APM core (which verifies its
 * own image, as at every power-on), opens libdrot-host's driver on the
 * in-process transport, and afterwards wipes and closes everything again.
 * So the fleet's memory does not grow with the number of devices, except
 * for the connections the hold phase keeps open.
 *
 * The exchanges with the server are those of drot-agent (host/agent/main.c,
 * docs/host.md): challenge and token on one connection (the token's nonce
 * binds it to that connection's TLS exporter), enroll with a CSR, attest
 * with the device certificate, and a rotation job run exactly as the agent
 * runs it (nonce or proposal from the APM, a fresh token on a new challenge
 * to rotate/begin, the APM's receipt to rotate/receipt).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drot/link_msg.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "fleet.h"

void fleet_tally_error(fleet_tally *t, const char *fmt, ...)
{
    t->errors++;
    if (t->first_error[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->first_error, sizeof t->first_error, fmt, ap);
    va_end(ap);
}

void fleet_dev_dir(const fleet_cfg *c, unsigned long i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/d/%07lu", c->state, i);
}

static int hex_to(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* ---- create --------------------------------------------------------------------- */

int fleet_dev_create(fleet_run *r, unsigned long i, fleet_tally *t)
{
    char dir[FLEET_PATH_MAX], err[FLEET_PATH_MAX + 128];
    fleet_dev_dir(r->cfg, i, dir, sizeof dir);
    apm_manufacture_params p;
    memset(&p, 0, sizeof p);
    drot_rng rng = drot_sysrng();
    if (drot_rng_fill(&rng, p.device_id, sizeof p.device_id) != DROT_OK ||
        drot_rng_fill(&rng, p.uds, sizeof p.uds) != DROT_OK ||
        drot_rng_fill(&rng, p.link_key, sizeof p.link_key) != DROT_OK) {
        fleet_tally_error(t, "device %lu: the OS random source failed", i);
        return -1;
    }
    p.anchors = (const uint8_t(*)[32])r->anchors;
    p.n_anchors = 2;
    p.manifest = r->manifest;
    p.manifest_len = r->manifest_len;
    p.image = r->image;
    p.image_len = r->image_len;
    uint64_t t0 = fleet_mono_us();
    int rc = fleet_apm_manufacture(dir, &p, &r->identities[i], err, sizeof err);
    drot_wipe(&p, sizeof p);
    if (rc != 0) {
        fleet_tally_error(t, "device %lu: %s", i, err);
        return -1;
    }
    fleet_lat_add(&t->lat[0], (uint32_t)(fleet_mono_us() - t0));
    t->ok++;
    return 0;
}

/* ---- a device awake ------------------------------------------------------------- */

typedef struct dev {
    unsigned long i;
    char dir[FLEET_PATH_MAX];
    uint8_t id[16];
    fleet_apm *apm;
    dh_driver *d;
    char *key; /* TLS key PEM */
    size_t key_len;
} dev;

static int dev_wake(fleet_run *r, unsigned long i, fleet_apm *apm, dev *v, fleet_tally *t)
{
    memset(v, 0, sizeof *v);
    v->i = i;
    v->apm = apm;
    fleet_dev_dir(r->cfg, i, v->dir, sizeof v->dir);
    if (hex_to(r->ids[i], v->id, 16) != 0) {
        fleet_tally_error(t, "device %lu: bad id in devices.txt", i);
        return -1;
    }
    char path[FLEET_PATH_MAX + 64], err[FLEET_PATH_MAX + 128], *lk = NULL;
    size_t lk_len = 0;
    snprintf(path, sizeof path, "%s/link.key", v->dir);
    if (fleet_read_file(path, &lk, &lk_len) != 0 || lk_len != 32) {
        free(lk);
        fleet_tally_error(t, "device %lu: cannot read %s (32 bytes)", i, path);
        return -1;
    }
    if (fleet_apm_wake(apm, v->dir, err, sizeof err) != 0) {
        drot_wipe(lk, 32);
        free(lk);
        fleet_tally_error(t, "device %lu: %s", i, err);
        return -1;
    }
    dh_driver_options o = {.timeout_ms = 1000, .retries = 1};
    dh_status st = dh_driver_open(&v->d, &fleet_apm_transport_ops, apm, (const uint8_t *)lk, &o);
    drot_wipe(lk, 32);
    free(lk);
    if (st != DH_OK) {
        fleet_apm_sleep(apm);
        fleet_tally_error(t, "device %lu: driver: %s", i, dh_status_str(st));
        return -1;
    }
    return 0;
}

static void dev_sleep(dev *v)
{
    dh_driver_close(v->d);
    v->d = NULL;
    fleet_apm_sleep(v->apm);
    if (v->key != NULL)
        dh_tls_free(v->key, v->key_len);
    v->key = NULL;
}

static int load_key(dev *v, fleet_tally *t)
{
    char path[FLEET_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/tls-key.pem", v->dir);
    if (fleet_read_file(path, &v->key, &v->key_len) != 0) {
        fleet_tally_error(t, "device %lu: no TLS key in %s: run the enroll phase first", v->i, v->dir);
        return -1;
    }
    return 0;
}

/* The certificate for server s (the file of server 0 when they share a database). */
static char *load_cert(fleet_run *r, dev *v, size_t s, fleet_tally *t)
{
    char path[FLEET_PATH_MAX + 64], *cert = NULL;
    snprintf(path, sizeof path, "%s/tls-cert-%zu.pem", v->dir, r->cfg->each_server ? s : 0);
    if (fleet_read_file(path, &cert, NULL) != 0)
        fleet_tally_error(t, "device %lu: no certificate %s: run the enroll phase first", v->i, path);
    return cert;
}

static dh_server *open_server(fleet_run *r, size_t s, const char *cert, const char *key, fleet_tally *t,
                              unsigned long i)
{
    dh_server *srv = NULL;
    dh_server_options so = {.url = r->cfg->urls[s],
                            .ca_file = r->cfg->ca,
                            .cert_pem = cert,
                            .key_pem = cert != NULL ? key : NULL,
                            .timeout_s = r->cfg->timeout_s};
    dh_status st = dh_server_open(&srv, &so);
    if (st != DH_OK) {
        fleet_tally_error(t, "device %lu: server client: %s", i, dh_status_str(st));
        return NULL;
    }
    return srv;
}

/* Challenge and token on srv's connection. */
static int challenge_token(dev *v, dh_server *srv, uint8_t ch[32], uint8_t *token, size_t *token_len,
                           fleet_tally *t)
{
    uint8_t exporter[32];
    dh_status st = dh_server_challenge(srv, v->id, ch, exporter);
    if (st != DH_OK) {
        fleet_tally_error(t, "device %lu: challenge: %s", v->i, dh_server_last_error(srv));
        return -1;
    }
    st = dh_attest(v->d, ch, exporter, DROT_LINK_PROFILE_DROT, token, DROT_LINK_MAX_TOKEN, token_len);
    if (st != DH_OK) {
        fleet_tally_error(t, "device %lu: token: %s", v->i, dh_driver_last_error(v->d));
        return -1;
    }
    return 0;
}

static void count_verdict(fleet_tally *t, uint32_t verdict)
{
    if (verdict == 1)
        t->pass++;
    else if (verdict == 2)
        t->warn++;
    else
        t->fail++;
}

/* ---- enroll ------------------------------------------------------------------------ */

static int enroll_at(fleet_run *r, dev *v, size_t s, const char *csr, fleet_tally *t)
{
    uint8_t ch[32], token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    uint64_t t0 = fleet_mono_us();
    dh_server *srv = open_server(r, s, NULL, NULL, t, v->i);
    if (srv == NULL)
        return -1;
    int rc = challenge_token(v, srv, ch, token, &token_len, t);
    dh_server_enrollment e;
    memset(&e, 0, sizeof e);
    if (rc == 0) {
        dh_server_verdict reasons;
        if (dh_server_enroll(srv, v->id, ch, token, token_len, csr, &e, &reasons) != DH_OK) {
            fleet_tally_error(t, "device %lu: enroll: %s", v->i, dh_server_last_error(srv));
            rc = -1;
        }
    }
    dh_server_close(srv);
    if (rc == 0) {
        fleet_lat_add(&t->lat[s], (uint32_t)(fleet_mono_us() - t0));
        count_verdict(t, e.verdict);
        char path[FLEET_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/tls-cert-%zu.pem", v->dir, s);
        if (fleet_write_file(path, e.cert_pem, strlen(e.cert_pem)) != 0) {
            fleet_tally_error(t, "device %lu: cannot write %s", v->i, path);
            rc = -1;
        }
    }
    dh_server_enrollment_free(&e);
    return rc;
}

int fleet_dev_enroll(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t)
{
    dev v;
    if (dev_wake(r, i, apm, &v, t) != 0)
        return -1;
    char *csr = NULL, path[FLEET_PATH_MAX + 64];
    int rc = 0;
    snprintf(path, sizeof path, "%s/tls-key.pem", v.dir);
    if (dh_tls_key_new(v.id, &v.key, &v.key_len, &csr) != DH_OK ||
        fleet_write_file(path, v.key, v.key_len) != 0) {
        fleet_tally_error(t, "device %lu: cannot make and store its TLS key", i);
        rc = -1;
    }
    size_t first = r->cfg->each_server ? 0 : i % r->cfg->n_urls;
    size_t last = r->cfg->each_server ? r->cfg->n_urls : first + 1;
    for (size_t s = first; rc == 0 && s < last; s++) {
        rc = enroll_at(r, &v, s, csr, t);
        if (rc == 0 && !r->cfg->each_server && s != 0) {
            /* Shared database: one certificate for every server, kept as server 0's. */
            char from[FLEET_PATH_MAX + 64], to[FLEET_PATH_MAX + 64];
            snprintf(from, sizeof from, "%s/tls-cert-%zu.pem", v.dir, s);
            snprintf(to, sizeof to, "%s/tls-cert-0.pem", v.dir);
            rc = rename(from, to);
        }
        __atomic_add_fetch(rc == 0 ? &r->ops : &r->errors, 1, __ATOMIC_RELAXED);
    }
    free(csr);
    if (rc == 0)
        t->ok++;
    dev_sleep(&v);
    return rc;
}

/* ---- attest ---------------------------------------------------------------------------- */

/* One attestation on srv: challenge, token, attest. */
static int attest_on(dev *v, dh_server *srv, size_t s, fleet_tally *t, dh_server_verdict *vd)
{
    uint8_t ch[32], token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    uint64_t t0 = fleet_mono_us();
    if (challenge_token(v, srv, ch, token, &token_len, t) != 0)
        return -1;
    if (dh_server_attest(srv, ch, token, token_len, vd) != DH_OK) {
        fleet_tally_error(t, "device %lu: attest: %s", v->i, dh_server_last_error(srv));
        return -1;
    }
    fleet_lat_add(&t->lat[s], (uint32_t)(fleet_mono_us() - t0));
    count_verdict(t, vd->verdict);
    if (vd->has_job)
        t->jobs_seen++;
    return 0;
}

int fleet_dev_attest(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t)
{
    const fleet_cfg *c = r->cfg;
    dev v;
    if (dev_wake(r, i, apm, &v, t) != 0)
        return -1;
    char *cert[FLEET_MAX_SERVERS] = {NULL};
    dh_server *srv[FLEET_MAX_SERVERS] = {NULL};
    int rc = load_key(&v, t);
    for (size_t s = 0; rc == 0 && s < c->n_urls; s++)
        if ((cert[s] = load_cert(r, &v, s, t)) == NULL)
            rc = -1;
    int failed = rc;
    for (unsigned long k = 0; rc == 0 && k < c->attests; k++) {
        size_t s = (i + k) % c->n_urls;
        if (srv[s] == NULL && (srv[s] = open_server(r, s, cert[s], v.key, t, i)) == NULL) {
            failed = -1;
            break;
        }
        dh_server_verdict vd;
        int one = attest_on(&v, srv[s], s, t, &vd);
        __atomic_add_fetch(one == 0 ? &r->ops : &r->errors, 1, __ATOMIC_RELAXED);
        if (one != 0)
            failed = -1;
        if (one != 0 || c->new_conn) {
            /* A failed exchange may leave the connection in any state; and
             * --new-connections asks for a full handshake every time. */
            dh_server_close(srv[s]);
            srv[s] = NULL;
        }
    }
    for (size_t s = 0; s < c->n_urls; s++) {
        dh_server_close(srv[s]);
        free(cert[s]);
    }
    if (failed == 0)
        t->ok++;
    dev_sleep(&v);
    return failed;
}

/* ---- rotate ---------------------------------------------------------------------------- */

/* The rotation job as drot-agent runs it (host/agent/main.c, do_rotation). */
static int run_job(fleet_run *r, dev *v, size_t s, const char *cert, const dh_server_job *job, fleet_tally *t)
{
    uint8_t token[DROT_LINK_MAX_TOKEN], prop[DROT_LINK_ROT_MAX_MSG], msg[DROT_LINK_ROT_MAX_MSG],
        receipt[DROT_LINK_ROT_MAX_MSG], nonce[DROT_LINK_ROT_NONCE_LEN], ch[32];
    size_t token_len = 0, prop_len = 0, msg_len = 0, receipt_len = 0;
    bool server_mode = job->mode == DH_JOB_MODE_SERVER;
    if (job->kind != DH_JOB_ROTATE_ROOT) {
        fleet_tally_error(t, "device %lu: job %llu of kind %u: the fleet runs root-key rotations only", v->i,
                          (unsigned long long)job->id, job->kind);
        return -1;
    }
    dh_status st =
        server_mode ? dh_rotation_nonce(v->d, nonce) : dh_rotate_propose(v->d, prop, sizeof prop, &prop_len);
    if (st != DH_OK) {
        fleet_tally_error(t, "device %lu: rotation nonce/proposal: %s", v->i, dh_driver_last_error(v->d));
        return -1;
    }
    dh_server *srv = open_server(r, s, cert, v->key, t, v->i);
    if (srv == NULL)
        return -1;
    int rc = challenge_token(v, srv, ch, token, &token_len, t);
    if (rc == 0 &&
        dh_server_rotate_begin(srv, job->id, ch, token, token_len, server_mode ? nonce : NULL,
                               server_mode ? NULL : prop, prop_len, msg, sizeof msg, &msg_len) != DH_OK) {
        fleet_tally_error(t, "device %lu: rotate/begin: %s", v->i, dh_server_last_error(srv));
        rc = -1;
    }
    if (rc == 0) {
        st = server_mode ? dh_rotate_root(v->d, msg, msg_len, receipt, sizeof receipt, &receipt_len)
                         : dh_rotate_endorse(v->d, msg, msg_len, receipt, sizeof receipt, &receipt_len);
        if (st != DH_OK) {
            fleet_tally_error(t, "device %lu: ROTATE: %s", v->i, dh_driver_last_error(v->d));
            rc = -1;
        }
    }
    uint64_t epoch = 0;
    if (rc == 0 && dh_server_rotate_receipt(srv, job->id, receipt, receipt_len, &epoch) != DH_OK) {
        fleet_tally_error(t, "device %lu: rotate/receipt: %s", v->i, dh_server_last_error(srv));
        rc = -1;
    }
    dh_server_close(srv);
    drot_wipe(nonce, sizeof nonce);
    return rc;
}

int fleet_dev_rotate(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t)
{
    dev v;
    if (dev_wake(r, i, apm, &v, t) != 0)
        return -1;
    size_t s = i % r->cfg->n_urls;
    char *cert = NULL;
    int rc = load_key(&v, t);
    if (rc == 0 && (cert = load_cert(r, &v, s, t)) == NULL)
        rc = -1;
    uint64_t t0 = fleet_mono_us();
    dh_server *srv = rc == 0 ? open_server(r, s, cert, v.key, t, i) : NULL;
    dh_server_verdict vd;
    memset(&vd, 0, sizeof vd);
    if (srv == NULL || attest_on(&v, srv, s, t, &vd) != 0)
        rc = -1;
    dh_server_close(srv);
    if (rc == 0 && vd.verdict == 1 && vd.has_job) {
        rc = run_job(r, &v, s, cert, &vd.job, t);
        if (rc == 0) {
            t->rotations++;
            /* The rotation's latency: its attestation, the job, the receipt. */
            fleet_lat_add(&t->lat[FLEET_MAX_SERVERS - 1], (uint32_t)(fleet_mono_us() - t0));
        }
    } else if (rc == 0) {
        fleet_tally_error(t, "device %lu: no rotation job offered (verdict %u)", i, vd.verdict);
        rc = -1;
    }
    __atomic_add_fetch(rc == 0 ? &r->ops : &r->errors, 1, __ATOMIC_RELAXED);
    if (rc == 0)
        t->ok++;
    free(cert);
    dev_sleep(&v);
    return rc;
}

/* ---- hold ------------------------------------------------------------------------------- */

int fleet_dev_hold(fleet_run *r, unsigned long i, fleet_apm *apm, fleet_tally *t)
{
    dev v;
    if (dev_wake(r, i, apm, &v, t) != 0)
        return -1;
    size_t s = i % r->cfg->n_urls;
    char *cert = NULL;
    int rc = load_key(&v, t);
    if (rc == 0 && (cert = load_cert(r, &v, s, t)) == NULL)
        rc = -1;
    dh_server *srv = rc == 0 ? open_server(r, s, cert, v.key, t, i) : NULL;
    dh_server_verdict vd;
    if (srv == NULL || attest_on(&v, srv, s, t, &vd) != 0)
        rc = -1;
    __atomic_add_fetch(rc == 0 ? &r->ops : &r->errors, 1, __ATOMIC_RELAXED);
    if (rc == 0) {
        /* The connection stays open; curl keeps pointers to the PEM strings. */
        r->held[i] = srv;
        r->held_pem[2 * i] = cert;
        r->held_pem[2 * i + 1] = v.key;
        v.key = NULL;
        t->ok++;
    } else {
        dh_server_close(srv);
        free(cert);
    }
    dev_sleep(&v);
    return rc;
}
