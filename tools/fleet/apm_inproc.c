/*
 * apm_inproc.c — the in-process APM (see apm_inproc.h).
 *
 * The transport mirrors what `drot-apm run` does with its socket
 * (fw/ports/sim/main.c, host_readable): bytes the driver sends are gathered
 * until a whole frame (header, payload, tag) is there, the frame goes to
 * apm_device_handle, and the answer waits for the driver's recv. A header
 * that cannot be parsed is handed over as is (the core answers it with an
 * ERROR) and the "connection" then closes, as the socket would. A reset
 * the core asks for (FW_ACTIVATE) happens after its answer is queued.
 */
#define _GNU_SOURCE
#include "apm_inproc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drot/link.h"
#include "drot_crypto.h"

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static dh_status t_connect(void *ctx, int timeout_ms)
{
    fleet_apm *a = ctx;
    (void)timeout_ms;
    if (!a->awake) {
        errno = ECONNREFUSED;
        return DH_E_CONNECT;
    }
    a->connected = true;
    a->in_len = a->out_len = a->out_pos = 0;
    return DH_OK;
}

/* Hands the frame in a->in[0..total) to the core; queues its answer. */
static dh_status deliver(fleet_apm *a, size_t total, bool close_after)
{
    size_t out_len = 0;
    uint64_t t0 = thread_ns();
    apm_status st =
        apm_device_handle(&a->dev, a->in, total, a->out + a->out_len, sizeof a->out - a->out_len, &out_len);
    a->handle_ns += thread_ns() - t0;
    a->handled++;
    drot_wipe(a->in, total);
    memmove(a->in, a->in + total, a->in_len - total);
    a->in_len -= total;
    if (st == APM_E_POWER) {
        a->connected = false;
        errno = EPIPE;
        return DH_E_CONNECT;
    }
    a->out_len += out_len;
    if (apm_device_reset_requested(&a->dev)) {
        if (apm_device_reset(&a->dev) != APM_OK)
            a->awake = false;
        close_after = true; /* the session is gone: the host reconnects */
    }
    if (close_after)
        a->connected = false;
    return DH_OK;
}

static dh_status t_send(void *ctx, const uint8_t *buf, size_t len, int timeout_ms)
{
    fleet_apm *a = ctx;
    (void)timeout_ms;
    if (!a->connected || !a->awake) {
        errno = EPIPE;
        return DH_E_CONNECT;
    }
    if (len > sizeof a->in - a->in_len) {
        /* More than one frame's worth with no answer read: the core would
         * refuse it by its header anyway. */
        a->connected = false;
        errno = EMSGSIZE;
        return DH_E_CONNECT;
    }
    memcpy(a->in + a->in_len, buf, len);
    a->in_len += len;
    while (a->in_len >= DROT_LINK_HEADER_LEN) {
        size_t payload_len = 0;
        bool bad = drot_link_parse_header(a->in, a->in_len, NULL, NULL, &payload_len) != DROT_OK;
        size_t total = bad ? a->in_len : DROT_LINK_HEADER_LEN + payload_len + DROT_LINK_TAG_LEN;
        if (!bad && a->in_len < total)
            break;
        if (a->out_len + APM_FRAME_MAX > sizeof a->out) {
            a->connected = false; /* answers pile up unread */
            errno = ENOBUFS;
            return DH_E_CONNECT;
        }
        dh_status st = deliver(a, total, bad);
        if (st != DH_OK || !a->connected)
            return st;
    }
    return DH_OK;
}

static dh_status t_recv(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    fleet_apm *a = ctx;
    (void)timeout_ms;
    if (a->out_len - a->out_pos < len) {
        /* Nothing more will come: a synchronous APM has answered whatever
         * it was going to answer. */
        errno = 0;
        return a->connected ? DH_E_TIMEOUT : DH_E_CONNECT;
    }
    memcpy(buf, a->out + a->out_pos, len);
    a->out_pos += len;
    if (a->out_pos == a->out_len) {
        drot_wipe(a->out, a->out_len);
        a->out_pos = a->out_len = 0;
    }
    return DH_OK;
}

static void t_close(void *ctx)
{
    fleet_apm *a = ctx;
    a->connected = false;
    drot_wipe(a->in, sizeof a->in);
    drot_wipe(a->out, sizeof a->out);
    a->in_len = a->out_len = a->out_pos = 0;
}

const dh_transport_ops fleet_apm_transport_ops = {t_connect, t_send, t_recv, t_close};

int fleet_apm_wake(fleet_apm *a, const char *dir, char *err, size_t cap)
{
    memset(a, 0, sizeof *a);
    if (apm_sim_open(&a->sim, dir, false, err, cap) != 0)
        return -1;
    apm_status st = apm_device_boot(&a->dev, &a->sim.hal);
    if (st != APM_OK) {
        snprintf(err, cap, "%s: the APM does not boot: %s", dir, apm_status_str(st));
        apm_device_shutdown(&a->dev);
        apm_sim_close(&a->sim);
        return -1;
    }
    a->awake = true;
    return 0;
}

void fleet_apm_sleep(fleet_apm *a)
{
    if (!a->awake)
        return;
    t_close(a);
    apm_device_shutdown(&a->dev);
    apm_sim_close(&a->sim);
    a->awake = false;
}

int fleet_apm_manufacture(const char *dir, const apm_manufacture_params *p, apm_identity *id, char *err,
                          size_t cap)
{
    if (mkdir(dir, 0700) != 0) {
        snprintf(err, cap, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    apm_sim sim;
    if (apm_sim_open(&sim, dir, true, err, cap) != 0)
        return -1;
    apm_status st = apm_device_manufacture(&sim.hal, p, id);
    if (st == APM_OK)
        st = apm_device_deploy(&sim.hal);
    apm_sim_close(&sim);
    if (st != APM_OK) {
        snprintf(err, cap, "%s: manufacturing failed: %s", dir, apm_status_str(st));
        return -1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/link.key", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, p->link_key, 32) == 32;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
