/*
 * client_fw.c — the firmware part of libdrot-host's server client
 * (drot/host.h "firmware"; docs/firmware.md, docs/api.md):
 *
 *   - the attest answer's offer (key 5), read strictly;
 *   - the image download that resumes (GET /v1/device/firmware/{sha256}
 *     with a byte range);
 *   - the job report (POST /v1/device/firmware/report).
 *
 * Download invariants:
 *   D1. Nothing but dir/<hex>.part is written while bytes arrive, and only
 *       bytes the server sent for this digest at the offset the partial
 *       file has reached (a 206 must say "bytes <that offset>-…/<size>"; a
 *       200 restarts the file from byte 0).
 *   D2. The partial file never grows beyond the announced size.
 *   D3. dir/<hex>.img exists only with exactly the announced size and a
 *       SHA-256 equal to digest: it is renamed into place after the check,
 *       file and directory fsync'ed, so a power cut leaves the partial file
 *       or the whole image, never a wrong one under the final name.
 *   D4. A partial file whose bytes turn out wrong (the final hash differs)
 *       is deleted, so the next fetch starts over rather than resuming
 *       from poisoned bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "drot/cbor.h"
#include "drot/host.h"
#include "drot_crypto.h"
#include "host_internal.h"

/* ---- the offer ----------------------------------------------------------------------------- */

static bool printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

/* see host_internal.h */
drot_status dh_fw_offer_read(drot_cbor_reader *r, dh_server_fw_offer *o)
{
    size_t n = 0;
    bool have[8] = {false};
    memset(o, 0, sizeof *o);
    drot_status ds = drot_cbor_get_map(r, &n);
    if (ds == DROT_OK && n != 7)
        ds = DROT_E_MALFORMED;
    for (size_t i = 0; ds == DROT_OK && i < n; i++) {
        uint64_t k = 0, v = 0;
        const char *t = NULL;
        const uint8_t *b = NULL;
        size_t len = 0;
        ds = drot_cbor_get_uint(r, &k);
        if (ds != DROT_OK || k < 1 || k > 7 || have[k])
            return DROT_E_MALFORMED;
        have[k] = true;
        switch (k) {
        case 2:
        case 3:
            ds = drot_cbor_get_tstr(r, &t, &len);
            if (ds == DROT_OK &&
                (len == 0 || len >= (k == 2 ? sizeof o->component : sizeof o->version) || !printable(t, len)))
                ds = DROT_E_MALFORMED;
            if (ds == DROT_OK)
                memcpy(k == 2 ? o->component : o->version, t, len);
            break;
        case 4:
        case 6:
            ds = drot_cbor_get_bstr(r, &b, &len);
            if (ds == DROT_OK && (k == 4 ? len != sizeof o->digest : len == 0 || len > sizeof o->manifest))
                ds = DROT_E_MALFORMED;
            if (ds == DROT_OK && k == 4)
                memcpy(o->digest, b, len);
            if (ds == DROT_OK && k == 6) {
                memcpy(o->manifest, b, len);
                o->manifest_len = len;
            }
            break;
        default:
            ds = drot_cbor_get_uint(r, &v);
            if (k == 1)
                o->job_id = v;
            else if (k == 5)
                o->size = v;
            else
                o->state = v <= 6 ? (uint32_t)v : 0;
        }
    }
    if (ds == DROT_OK && (o->job_id == 0 || o->size == 0 || o->size > DH_FW_IMAGE_MAX ||
                          (o->state != DH_FW_OFFERED && o->state != DH_FW_INSTALLED)))
        ds = DROT_E_MALFORMED;
    if (ds != DROT_OK)
        memset(o, 0, sizeof *o);
    return ds;
}

/* ---- the download ----------------------------------------------------------------------------- */

typedef struct fetch {
    dh_server *s;
    int fd;
    uint64_t from; /* where this transfer starts */
    uint64_t have; /* bytes in the partial file */
    uint64_t size;
    bool started;
    const dh_fetch_options *opt;
    char err[300];
} fetch;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* D1: the first bytes of an answer decide where they go. */
static bool fetch_start(fetch *f, long http)
{
    if (http == 200) { /* the whole image: start the file over */
        if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) != 0) {
            snprintf(f->err, sizeof f->err, "cannot rewind the partial file: %s", strerror(errno));
            return false;
        }
        f->have = 0;
        return true;
    }
    struct curl_header *h = NULL;
    uint64_t a = 0, b = 0, total = 0;
    if (curl_easy_header(dh_server_curl(f->s), "Content-Range", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
        sscanf(h->value, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64, &a, &b, &total) != 3 || a != f->from ||
        total != f->size || b < a) {
        snprintf(f->err, sizeof f->err,
                 "the server answered a range that is not the one asked for (bytes %" PRIu64 "- of %" PRIu64
                 ")",
                 f->from, f->size);
        return false;
    }
    return true;
}

static size_t fetch_sink(const uint8_t *p, size_t n, long http, void *ctx)
{
    fetch *f = ctx;
    if (!f->started) {
        f->started = true;
        if (!fetch_start(f, http)) {
            dh_server_fail(f->s, DH_E_PROTOCOL, f->err);
            return 0;
        }
    }
    if (n > f->size - f->have) { /* D2 */
        snprintf(f->err, sizeof f->err, "the server sent more than the image's %" PRIu64 " bytes", f->size);
        dh_server_fail(f->s, DH_E_PROTOCOL, f->err);
        return 0;
    }
    if (write_all(f->fd, p, n) != 0) {
        snprintf(f->err, sizeof f->err, "cannot write the partial file: %s", strerror(errno));
        dh_server_fail(f->s, DH_E_IO, f->err);
        return 0;
    }
    f->have += n;
    if (f->opt != NULL && f->opt->progress != NULL)
        f->opt->progress(f->opt->progress_ctx, f->have, f->size);
    return n;
}

/* SHA-256 of the first size bytes of the file at fd. */
static int hash_fd(int fd, uint64_t size, uint8_t out[32])
{
    uint8_t buf[16384]; /* on the stack: several threads may each drive a dh_server */
    drot_sha256_ctx h;
    if (drot_sha256_init(&h) != DROT_OK)
        return -1;
    int rc = lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
    uint64_t left = size;
    while (rc == 0 && left > 0) {
        ssize_t r = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || drot_sha256_update(&h, buf, (size_t)r) != DROT_OK)
            rc = -1;
        else
            left -= (uint64_t)r;
    }
    if (rc == 0 && drot_sha256_final(&h, out) != DROT_OK)
        rc = -1;
    drot_sha256_release(&h);
    return rc;
}

/* The file at path holds exactly size bytes hashing to digest. */
static bool image_ok(const char *path, const uint8_t digest[32], uint64_t size)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    uint8_t d[32];
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
              hash_fd(fd, size, d) == 0 && drot_ct_equal(d, digest, 32) == DROT_OK;
    if (fd >= 0)
        close(fd);
    return ok;
}

static dh_status fetch_fail(dh_server *s, dh_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dh_status fetch_fail(dh_server *s, dh_status st, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dh_server_fail(s, st, msg);
}

/* see drot/host.h */
dh_status dh_server_fw_fetch(dh_server *s, const char *dir, const uint8_t digest[32], uint64_t size,
                             const dh_fetch_options *opt, char *path, size_t cap, uint64_t *resumed_from)
{
    if (s == NULL || dir == NULL || digest == NULL || path == NULL || size == 0 || size > DH_FW_IMAGE_MAX ||
        strlen(dir) > 3000)
        return DH_E_ARG;
    char hex[65], part[3200], final[3200], url[128];
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    snprintf(part, sizeof part, "%s/%s.part", dir, hex);
    snprintf(final, sizeof final, "%s/%s.img", dir, hex);
    snprintf(url, sizeof url, "/v1/device/firmware/%s", hex);
    if (strlen(final) >= cap)
        return DH_E_ARG;
    if (resumed_from != NULL)
        *resumed_from = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fetch_fail(s, DH_E_IO, "cannot create the firmware directory %s: %s", dir, strerror(errno));
    if (image_ok(final, digest, size)) { /* fetched before */
        snprintf(path, cap, "%s", final);
        if (resumed_from != NULL)
            *resumed_from = size;
        return DH_OK;
    }
    int fd = open(part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fetch_fail(s, DH_E_IO, "cannot open the partial file %s: %s", part, strerror(e));
    }
    fetch f = {s, fd, 0, (uint64_t)st.st_size, size, false, opt, ""};
    if (f.have > size && ftruncate(fd, 0) == 0) /* D2: not ours, start over */
        f.have = 0;
    if (resumed_from != NULL)
        *resumed_from = f.have;
    dh_status rc = DH_OK;
    for (int pass = 0; f.have < size && pass < 2; pass++) {
        f.from = f.have;
        f.started = false;
        if (lseek(fd, (off_t)f.have, SEEK_SET) != (off_t)f.have) {
            rc = fetch_fail(s, DH_E_IO, "cannot seek in %s: %s", part, strerror(errno));
            break;
        }
        rc = dh_server_get_stream(s, url, f.from, opt != NULL ? opt->max_rate : 0, fetch_sink, &f);
        if (rc == DH_E_REFUSED && dh_server_last_http(s) == 416 && f.from > 0 && ftruncate(fd, 0) == 0) {
            f.have = 0; /* the server's image is shorter than our partial file: start over once */
            continue;
        }
        break;
    }
    if (rc == DH_OK && f.have < size)
        rc =
            fetch_fail(s, DH_E_PROTOCOL,
                       "the server's answer ended at %" PRIu64 " of %" PRIu64 " bytes: fetch again to resume",
                       f.have, size);
    if (rc != DH_OK) { /* the partial file stays: the next fetch resumes */
        fsync(fd);
        close(fd);
        return rc;
    }
    uint8_t d[32];
    if (fsync(fd) != 0 || hash_fd(fd, size, d) != 0) {
        int e = errno;
        close(fd);
        return fetch_fail(s, DH_E_IO, "cannot read back %s: %s", part, strerror(e));
    }
    close(fd);
    if (drot_ct_equal(d, digest, 32) != DROT_OK) { /* D4 */
        char got[65];
        for (size_t i = 0; i < 32; i++)
            snprintf(got + 2 * i, 3, "%02x", d[i]);
        unlink(part);
        return fetch_fail(
            s, DH_E_PROTOCOL,
            "the downloaded image's SHA-256 is %s, not %s: the partial file was discarded; fetch "
            "again",
            got, hex);
    }
    if (rename(part, final) != 0)
        return fetch_fail(s, DH_E_IO, "cannot rename %s to %s: %s", part, final, strerror(errno));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* D3: the rename itself survives a power cut */
        fsync(dfd);
        close(dfd);
    }
    snprintf(path, cap, "%s", final);
    return DH_OK;
}

/* ---- the report --------------------------------------------------------------------------------- */

/* see drot/host.h */
dh_status dh_server_fw_report(dh_server *s, uint64_t job_id, uint32_t state, const char *reason,
                              uint32_t *job_state)
{
    if (s == NULL || job_id == 0 ||
        (state != DH_FW_INSTALLED && state != DH_FW_CONFIRMED && state != DH_FW_FAILED) ||
        (reason != NULL &&
         (strlen(reason) == 0 || strlen(reason) > 200 || !printable(reason, strlen(reason)))))
        return DH_E_ARG;
    uint8_t req[300];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, req, sizeof req);
    drot_cbor_put_map(&w, reason != NULL ? 3 : 2);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, job_id);
    drot_cbor_put_uint(&w, 2);
    drot_cbor_put_uint(&w, state);
    if (reason != NULL) {
        drot_cbor_put_uint(&w, 3);
        drot_cbor_put_tstr_z(&w, reason);
    }
    const uint8_t *ans = NULL;
    size_t len = 0;
    dh_status st = dh_server_post_map(s, "/v1/device/firmware/report", &w, &ans, &len);
    if (st != DH_OK)
        return st;
    drot_cbor_reader r;
    size_t n = 0;
    uint64_t k = 0, v = 0;
    drot_cbor_reader_init(&r, ans, len);
    drot_status ds = drot_cbor_get_map(&r, &n);
    if (ds == DROT_OK && n != 1)
        ds = DROT_E_MALFORMED;
    if (ds == DROT_OK)
        ds = drot_cbor_get_uint(&r, &k);
    if (ds == DROT_OK && k != 1)
        ds = DROT_E_MALFORMED;
    if (ds == DROT_OK)
        ds = drot_cbor_get_uint(&r, &v);
    if (ds == DROT_OK)
        ds = drot_cbor_reader_done(&r);
    if (ds != DROT_OK || v < 1 || v > 6)
        return dh_server_fail(s, DH_E_PROTOCOL, "malformed firmware/report answer from the server");
    if (job_state != NULL)
        *job_state = (uint32_t)v;
    return DH_OK;
}
