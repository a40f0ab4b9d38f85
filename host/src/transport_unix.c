/*
 * transport_unix.c — the byte stream to the simulated APM over a UNIX
 * stream socket (drot-apm run serves DIR/apm.sock).
 *
 * The socket is non-blocking and every wait goes through poll(2) against a
 * monotonic deadline, so a silent or stuck APM costs at most timeout_ms per
 * call, whatever signals arrive meanwhile (EINTR restarts the wait with the
 * time left, never the full timeout). send uses MSG_NOSIGNAL: a peer that
 * died turns into DH_E_CONNECT, not a SIGPIPE that kills the agent.
 *
 * On failure errno is left as the cause (0 when the peer closed the
 * stream), so the driver can put the system's words into its message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drot/host.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes.
 * DH_OK, DH_E_TIMEOUT, or DH_E_IO (errno set). */
static dh_status wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return DH_E_TIMEOUT;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (r > 0)
            return DH_OK; /* ready, or HUP/ERR: the next call says which */
        if (r == 0)
            continue; /* the loop head decides whether time is up */
        if (errno != EINTR)
            return DH_E_IO;
    }
}

static int peer_gone(int e)
{
    return e == EPIPE || e == ECONNRESET || e == ENOTCONN || e == ECONNREFUSED;
}

static void unix_close(void *ctx)
{
    dh_unix_transport *t = ctx;
    if (t != NULL && t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}

static dh_status unix_connect(void *ctx, int timeout_ms)
{
    dh_unix_transport *t = ctx;
    if (t == NULL || t->path[0] == '\0')
        return DH_E_ARG;
    unix_close(t);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return DH_E_IO;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, t->path, sizeof t->path); /* NUL-terminated by init */
    long long deadline = now_ms() + timeout_ms;
    int r;
    do {
        r = connect(fd, (struct sockaddr *)&a, sizeof a);
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno == EAGAIN) {
        /* On AF_UNIX, EAGAIN means the listen backlog is full: the socket is
         * NOT connected and will not become so; the APM is overloaded. */
        close(fd);
        errno = EAGAIN;
        return DH_E_CONNECT;
    }
    if (r != 0 && errno == EINPROGRESS) {
        /* Wait for the connection to complete, then ask the socket how it
         * ended. */
        dh_status st = wait_fd(fd, POLLOUT, deadline);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (st != DH_OK || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            int e = st == DH_E_TIMEOUT ? ETIMEDOUT : (soerr != 0 ? soerr : errno);
            close(fd);
            errno = e;
            return st == DH_E_TIMEOUT ? DH_E_TIMEOUT : DH_E_CONNECT;
        }
        r = 0;
    }
    if (r != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return DH_E_CONNECT;
    }
    t->fd = fd;
    return DH_OK;
}

static dh_status unix_send(void *ctx, const uint8_t *buf, size_t len, int timeout_ms)
{
    dh_unix_transport *t = ctx;
    if (t == NULL || (buf == NULL && len > 0))
        return DH_E_ARG;
    if (t->fd < 0) {
        errno = ENOTCONN;
        return DH_E_CONNECT;
    }
    long long deadline = now_ms() + timeout_ms;
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(t->fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            dh_status st = wait_fd(t->fd, POLLOUT, deadline);
            if (st != DH_OK)
                return st;
            continue;
        }
        return (n < 0 && peer_gone(errno)) ? DH_E_CONNECT : DH_E_IO;
    }
    return DH_OK;
}

static dh_status unix_recv(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    dh_unix_transport *t = ctx;
    if (t == NULL || (buf == NULL && len > 0))
        return DH_E_ARG;
    if (t->fd < 0) {
        errno = ENOTCONN;
        return DH_E_CONNECT;
    }
    long long deadline = now_ms() + timeout_ms;
    size_t done = 0;
    while (done < len) {
        ssize_t n = recv(t->fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) {
            errno = 0; /* orderly close by the peer */
            return DH_E_CONNECT;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            dh_status st = wait_fd(t->fd, POLLIN, deadline);
            if (st != DH_OK)
                return st;
            continue;
        }
        return peer_gone(errno) ? DH_E_CONNECT : DH_E_IO;
    }
    return DH_OK;
}

/* see drot/host.h */
const dh_transport_ops dh_unix_transport_ops = {
    .connect = unix_connect,
    .send = unix_send,
    .recv = unix_recv,
    .close = unix_close,
};

/* see drot/host.h */
dh_status dh_unix_transport_init(dh_unix_transport *t, const char *path)
{
    if (t == NULL)
        return DH_E_ARG;
    memset(t, 0, sizeof *t);
    t->fd = -1;
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof t->path)
        return DH_E_ARG;
    memcpy(t->path, path, strlen(path) + 1);
    return DH_OK;
}
