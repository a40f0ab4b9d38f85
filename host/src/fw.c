/*
 * fw.c — the firmware-install requests of the APM driver (drot/host.h
 * "firmware install"; docs/firmware.md; drot/link_fw.h).
 *
 * The host is only the courier: every decision (signer, signature,
 * component, SVN against the fuse, size, digest, which slot, when a fuse
 * rises) is the APM's. What the driver adds is streaming (the image is read
 * from a file descriptor one chunk at a time, never whole into memory: host
 * images may be 16 MiB) and one check of its own: the digest the APM
 * reports at FW_FINISH must be the SHA-256 of the bytes this host read, so
 * that a caller who goes on to use the file (measured boot) uses what was
 * verified.
 *
 * Retries (driver.c invariant 4): FW_STATUS only. A lost answer to any
 * other request is reported; the caller starts the install again (a new
 * FW_BEGIN drops the APM's old session) or reads FW_STATUS.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drot/host.h"
#include "drot/link_fw.h"
#include "drot_crypto.h"
#include "host_internal.h"

static dh_status arg_error(dh_driver *d, const char *what)
{
    return dh_driver_fail(d, DH_E_ARG, "%s", what);
}

/* Reads up to cap bytes (fewer only at the end of the file). */
static ssize_t read_full(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static dh_status begin(dh_driver *d, uint32_t mode, const uint8_t *manifest, size_t len,
                       drot_link_fw_begin_resp *resp)
{
    uint8_t p[DROT_LINK_FW_MANIFEST_MAX + 16];
    size_t plen = 0;
    drot_link_fw_begin b = {manifest, len, mode};
    drot_status ds = drot_link_fw_begin_encode(&b, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "FW_BEGIN: cannot encode the request (%s)", drot_status_str(ds));
    drot_link_frame v;
    dh_status st = dh_driver_request(d, DROT_LINK_T_FW_BEGIN, p, plen, &v);
    if (st != DH_OK)
        return st;
    ds = drot_link_fw_begin_resp_decode(v.payload, v.payload_len, resp);
    return ds == DROT_OK ? DH_OK : dh_driver_bad_answer(d, DROT_LINK_T_FW_BEGIN, ds);
}

static dh_status chunk(dh_driver *d, uint32_t offset, const uint8_t *data, size_t len)
{
    uint8_t p[DROT_LINK_FW_CHUNK_MAX + 16];
    size_t plen = 0;
    drot_link_fw_chunk c = {offset, data, len};
    drot_status ds = drot_link_fw_chunk_encode(&c, p, sizeof p, &plen);
    if (ds != DROT_OK)
        return dh_driver_fail(d, DH_E_ARG, "FW_CHUNK: cannot encode the request (%s)", drot_status_str(ds));
    drot_link_frame v;
    dh_status st = dh_driver_request(d, DROT_LINK_T_FW_CHUNK, p, plen, &v);
    if (st != DH_OK)
        return st;
    uint32_t received = 0;
    ds = drot_link_fw_received_decode(v.payload, v.payload_len, &received);
    if (ds != DROT_OK)
        return dh_driver_bad_answer(d, DROT_LINK_T_FW_CHUNK, ds);
    if (received != offset + len) {
        dh_driver_drop_link(d);
        return dh_driver_fail(d, DH_E_PROTOCOL, "FW_CHUNK: the APM reports %u bytes received, not %zu",
                              (unsigned)received, (size_t)offset + len);
    }
    return DH_OK;
}

static dh_status finish(dh_driver *d, drot_link_fw_image *out)
{
    static const uint8_t empty[] = {0xa0};
    drot_link_frame v;
    dh_status st = dh_driver_request(d, DROT_LINK_T_FW_FINISH, empty, sizeof empty, &v);
    if (st != DH_OK)
        return st;
    drot_status ds = drot_link_fw_image_decode(v.payload, v.payload_len, out);
    return ds == DROT_OK ? DH_OK : dh_driver_bad_answer(d, DROT_LINK_T_FW_FINISH, ds);
}

/* After the APM refused a chunk, the session it keeps open is closed with a
 * FW_FINISH (which ends it whatever the outcome, and writes nothing for an
 * incomplete image), so no half-sent install lingers on the APM. The
 * refusal stays the error reported. */
static void close_session(dh_driver *d)
{
    char keep[256];
    int32_t code = dh_driver_last_apm_code(d);
    drot_link_fw_image ignored;
    snprintf(keep, sizeof keep, "%s", dh_driver_last_error(d));
    (void)finish(d, &ignored);
    dh_driver_fail(d, DH_E_REFUSED, "%s", keep);
    dh_driver_set_apm_code(d, code);
}

/* BEGIN, CHUNK × n from fd, FINISH; the APM's digest against the bytes read. */
static dh_status stream(dh_driver *d, uint32_t mode, const uint8_t *manifest, size_t mlen, int fd,
                        dh_fw_progress_fn progress, void *ctx, drot_link_fw_image *out)
{
    static const char *const name[] = {"", "install", "verify"};
    uint8_t buf[DROT_LINK_FW_CHUNK_MAX], digest[DROT_SHA256_LEN];
    drot_link_fw_begin_resp r;
    drot_sha256_ctx sha;
    uint64_t done = 0;
    bool finished = false;

    if (d == NULL)
        return DH_E_ARG;
    if (manifest == NULL || out == NULL || fd < 0)
        return arg_error(d, "firmware: NULL manifest or result, or no image file");
    memset(out, 0, sizeof *out);
    if (mlen == 0 || mlen > DROT_LINK_FW_MANIFEST_MAX)
        return dh_driver_fail(d, DH_E_ARG, "firmware %s: a manifest is 1..%u bytes, not %zu", name[mode],
                              DROT_LINK_FW_MANIFEST_MAX, mlen);
    dh_status st = begin(d, mode, manifest, mlen, &r);
    if (st != DH_OK)
        return st;
    if (drot_sha256_init(&sha) != DROT_OK) {
        drot_sha256_release(&sha);
        return dh_driver_fail(d, DH_E_IO, "SHA-256 unavailable");
    }
    for (;;) {
        ssize_t n = read_full(fd, buf, r.chunk);
        if (n < 0) {
            st =
                dh_driver_fail(d, DH_E_IO, "firmware %s: reading the image: %s", name[mode], strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (done + (uint64_t)n > DROT_LINK_FW_IMAGE_MAX) {
            st = dh_driver_fail(d, DH_E_ARG, "firmware %s: the image is larger than %u bytes", name[mode],
                                DROT_LINK_FW_IMAGE_MAX);
            goto out;
        }
        if ((st = chunk(d, (uint32_t)done, buf, (size_t)n)) != DH_OK)
            goto out;
        (void)drot_sha256_update(&sha, buf, (size_t)n);
        done += (uint64_t)n;
        if (progress != NULL)
            progress(ctx, done, r.size);
    }
    finished = true;
    if ((st = finish(d, out)) != DH_OK)
        goto out;
    if (drot_sha256_final(&sha, digest) != DROT_OK ||
        drot_ct_equal(digest, out->digest, sizeof digest) != DROT_OK) {
        dh_driver_drop_link(d);
        st = dh_driver_fail(d, DH_E_PROTOCOL,
                            "firmware %s: the APM verified another digest than the bytes read from the image",
                            name[mode]);
    }
out:
    drot_sha256_release(&sha);
    if (st == DH_E_REFUSED && !finished)
        close_session(d);
    if (st != DH_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* see drot/host.h */
dh_status dh_fw_install(dh_driver *d, const uint8_t *manifest, size_t manifest_len, int image_fd,
                        dh_fw_progress_fn progress, void *progress_ctx, drot_link_fw_image *out)
{
    return stream(d, DROT_LINK_FW_MODE_INSTALL, manifest, manifest_len, image_fd, progress, progress_ctx,
                  out);
}

/* see drot/host.h */
dh_status dh_fw_verify(dh_driver *d, const uint8_t *manifest, size_t manifest_len, int image_fd,
                       drot_link_fw_image *out)
{
    return stream(d, DROT_LINK_FW_MODE_VERIFY, manifest, manifest_len, image_fd, NULL, NULL, out);
}

/* see drot/host.h */
dh_status dh_fw_activate(dh_driver *d, uint32_t action, bool *reset)
{
    uint8_t p[8];
    size_t plen = 0;
    if (d == NULL || reset == NULL)
        return d == NULL ? DH_E_ARG : arg_error(d, "dh_fw_activate: NULL argument");
    *reset = false;
    if (drot_link_fw_activate_encode(action, p, sizeof p, &plen) != DROT_OK)
        return arg_error(d, "FW_ACTIVATE: the action is 1 (trial) or 2 (abort)");
    drot_link_frame v;
    dh_status st = dh_driver_request(d, DROT_LINK_T_FW_ACTIVATE, p, plen, &v);
    if (st != DH_OK)
        return st;
    drot_status ds = drot_link_fw_activate_resp_decode(v.payload, v.payload_len, reset);
    if (ds != DROT_OK)
        return dh_driver_bad_answer(d, DROT_LINK_T_FW_ACTIVATE, ds);
    if (*reset)
        dh_driver_drop_link(d); /* the APM has reset: its session is gone */
    return DH_OK;
}

/* see drot/host.h */
dh_status dh_fw_confirm(dh_driver *d, const char *component, uint32_t *svn)
{
    uint8_t p[DROT_LINK_FW_COMPONENT_MAX + 8];
    size_t plen = 0;
    drot_link_fw_confirm c;
    if (d == NULL)
        return DH_E_ARG;
    if (component == NULL || svn == NULL)
        return arg_error(d, "dh_fw_confirm: NULL argument");
    memset(&c, 0, sizeof c);
    c.component_len = strnlen(component, DROT_LINK_FW_COMPONENT_MAX + 1);
    if (c.component_len > DROT_LINK_FW_COMPONENT_MAX)
        return arg_error(d, "FW_CONFIRM: a component name is at most 16 characters");
    memcpy(c.component, component, c.component_len);
    if (drot_link_fw_confirm_req_encode(&c, p, sizeof p, &plen) != DROT_OK)
        return arg_error(
            d, "FW_CONFIRM: a component name is 1..16 printable characters (APM, HOST-BL, HOST-OS)");
    drot_link_frame v;
    dh_status st = dh_driver_request(d, DROT_LINK_T_FW_CONFIRM, p, plen, &v);
    if (st != DH_OK)
        return st;
    drot_link_fw_confirm r;
    drot_status ds = drot_link_fw_confirm_resp_decode(v.payload, v.payload_len, &r);
    if (ds != DROT_OK)
        return dh_driver_bad_answer(d, DROT_LINK_T_FW_CONFIRM, ds);
    if (r.component_len != c.component_len || memcmp(r.component, c.component, c.component_len) != 0) {
        dh_driver_drop_link(d);
        return dh_driver_fail(d, DH_E_PROTOCOL, "FW_CONFIRM: the APM answered for another component");
    }
    *svn = r.svn;
    return DH_OK;
}

/* see drot/host.h */
dh_status dh_fw_status(dh_driver *d, drot_link_fw_status *out)
{
    static const uint8_t empty[] = {0xa0};
    if (d == NULL)
        return DH_E_ARG;
    if (out == NULL)
        return arg_error(d, "dh_fw_status: NULL argument");
    drot_link_frame v;
    dh_status st = dh_driver_request(d, DROT_LINK_T_FW_STATUS, empty, sizeof empty, &v);
    if (st != DH_OK)
        return st;
    drot_status ds = drot_link_fw_status_decode(v.payload, v.payload_len, out);
    return ds == DROT_OK ? DH_OK : dh_driver_bad_answer(d, DROT_LINK_T_FW_STATUS, ds);
}
