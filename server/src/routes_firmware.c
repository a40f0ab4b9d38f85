/*
 * routes_firmware.c — see routes_firmware.h. docs/api.md is the client's
 * description.
 */
#define _POSIX_C_SOURCE 200809L
#include "routes_firmware.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "routes_internal.h"

#define IMAGE_PREFIX "/v1/device/firmware/"

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int nibble(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* ---- the offer in the attest answer ------------------------------------------------------ */

/* see routes_firmware.h */
bool ds_fw_attest_offer(ds_app *app, const ds_device *dev, const uint8_t *token, size_t token_len,
                        ds_fw_offer *offer)
{
    bool found = false;
    ds_status st = fw_job_offer(app->store, dev->device_id, token, token_len, ds_store_now(), &offer->job,
                                &offer->rel, &found);
    if (st != DS_OK) { /* RF4 */
        char id[33];
        hex(dev->device_id, 16, id);
        fprintf(stderr, "drot-server: firmware offer for %s: %s: %s\n", id, ds_status_str(st),
                ds_store_error(app->store));
        return false;
    }
    return found;
}

/* see routes_firmware.h */
void ds_fw_put_offer(drot_cbor_writer *w, const ds_fw_offer *o)
{
    drot_cbor_put_uint(w, DS_FW_ATTEST_KEY);
    drot_cbor_put_map(w, 7);
    drot_cbor_put_uint(w, 1);
    drot_cbor_put_uint(w, (uint64_t)o->job.id);
    drot_cbor_put_uint(w, 2);
    drot_cbor_put_tstr_z(w, o->rel.component);
    drot_cbor_put_uint(w, 3);
    drot_cbor_put_tstr_z(w, o->rel.version);
    drot_cbor_put_uint(w, 4);
    drot_cbor_put_bstr(w, o->rel.image_digest, sizeof o->rel.image_digest);
    drot_cbor_put_uint(w, 5);
    drot_cbor_put_uint(w, o->rel.size);
    drot_cbor_put_uint(w, 6);
    drot_cbor_put_bstr(w, o->rel.manifest, o->rel.manifest_len);
    drot_cbor_put_uint(w, 7);
    drot_cbor_put_uint(w, (uint64_t)o->job.state);
}

/* ---- GET /v1/device/firmware/{sha256} ----------------------------------------------------------- */

/* A decimal without sign or spaces, at most 19 digits. */
static bool dec(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    size_t n = 0;
    while (*s >= '0' && *s <= '9' && n < 19) {
        x = x * 10 + (uint64_t)(*s - '0');
        s++;
        n++;
    }
    if (n == 0 || (*s >= '0' && *s <= '9'))
        return false;
    *p = s;
    *v = x;
    return true;
}

/* RFC 9110 §14: one range of bytes. Returns 1 with [*from, *from + *len)
 * for a satisfiable range, -1 for an unsatisfiable one (416), 0 to serve
 * the whole image (no Range header, or one this server does not honour:
 * another unit, several ranges, or a malformed one, which the RFC says to
 * ignore). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *len)
{
    if (h == NULL || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *p = h + 6;
    uint64_t a = 0, b = 0;
    if (*p == '-') { /* suffix: the last b bytes */
        p++;
        if (!dec(&p, &b) || *p != '\0')
            return 0;
        if (b == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *len = size - *from;
        return 1;
    }
    if (!dec(&p, &a) || *p != '-')
        return 0;
    p++;
    bool open = *p == '\0';
    if (!open && (!dec(&p, &b) || *p != '\0' || b < a))
        return 0;
    if (a >= size)
        return -1;
    *from = a;
    *len = (open || b >= size ? size - 1 : b) - a + 1;
    return 1;
}

static int add_bytes(const uint8_t *p, size_t n, void *ctx)
{
    return evbuffer_add(ctx, p, n) == 0 ? 0 : 1;
}

/* see routes_firmware.h */
void ds_fw_route_image(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->ev);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *h = path != NULL && strncmp(path, IMAGE_PREFIX, strlen(IMAGE_PREFIX)) == 0
                        ? path + strlen(IMAGE_PREFIX)
                        : "";
    uint8_t digest[32];
    bool ok = strlen(h) == 64;
    for (size_t i = 0; ok && i < 64; i++) {
        int v = nibble(h[i]);
        ok = v >= 0;
        if (ok)
            digest[i / 2] = (uint8_t)(i % 2 == 0 ? (unsigned)v << 4 : (unsigned)digest[i / 2] | (unsigned)v);
    }
    if (!ok) {
        ds_http_reply_error(req, 400, DS_ERR_BAD_REQUEST, "malformed path: expected %s<64 hex digits>",
                            IMAGE_PREFIX);
        return;
    }
    ds_device dev;
    if (!ds_rt_device(req, app, req->device_id, &dev))
        return;
    char dh[65];
    hex(digest, 32, dh);
    bool allowed = false;
    fw_image im;
    ds_status st = fw_job_for_image(app->store, dev.device_id, digest, &allowed);
    if (st == DS_OK && allowed)
        st = fw_image_get(app->store, digest, &im);
    if (st != DS_OK && st != DS_E_NOT_FOUND) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        return;
    }
    if (!allowed || st != DS_OK || !im.complete) { /* RF1 */
        ds_http_reply_error(req, 404, DS_ERR_NO_JOB, "no firmware job of this device names image %s", dh);
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);
    const char *range = evhttp_find_header(evhttp_request_get_input_headers(req->ev), "Range");
    uint64_t from = 0, len = im.size;
    int r = parse_range(range, im.size, &from, &len);
    char cr[96];
    if (r < 0) {
        snprintf(cr, sizeof cr, "bytes */%u", im.size);
        evhttp_add_header(out, "Content-Range", cr);
        ds_http_reply_error(req, 416, DS_ERR_BAD_REQUEST,
                            "range not satisfiable: %s (the image has %u bytes)", range, im.size);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    st = buf == NULL ? DS_E_NOMEM : fw_image_read(app->store, digest, from, len, add_bytes, buf);
    if (st != DS_OK) {
        if (buf != NULL)
            evbuffer_free(buf);
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "cannot read the image: %s", ds_status_str(st));
        return;
    }
    int status = r == 1 ? 206 : 200;
    if (r == 1) {
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%u", from, from + len - 1, im.size);
        evhttp_add_header(out, "Content-Range", cr);
    }
    char etag[70];
    snprintf(etag, sizeof etag, "\"%s\"", dh);
    evhttp_add_header(out, "Content-Type", "application/octet-stream");
    evhttp_add_header(out, "Accept-Ranges", "bytes");
    evhttp_add_header(out, "ETag", etag);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_send_reply(req->ev, status, NULL, buf);
    evbuffer_free(buf);
    req->status = status;
}

/* ---- POST /v1/device/firmware/report ------------------------------------------------------------- */

/* see routes_firmware.h */
void ds_fw_route_report(ds_http_req *req, void *ctx)
{
    ds_app *app = ctx;
    ds_rt_field f[] = {{1, DS_RT_UINT, 0, true, "job_id", NULL, 0, 0, false},
                       {2, DS_RT_UINT, 0, true, "state", NULL, 0, 0, false},
                       {3, DS_RT_TSTR, 0, false, "reason", NULL, 0, 0, false}};
    if (!ds_rt_body(req, f, 3))
        return;
    uint64_t state = f[1].u;
    if (state != FW_JOB_INSTALLED && state != FW_JOB_CONFIRMED && state != FW_JOB_FAILED) {
        ds_http_reply_error(
            req, 400, DS_ERR_BAD_REQUEST,
            "malformed body: state (key 2) must be 3 installed, 4 confirmed or 5 failed, not %llu",
            (unsigned long long)state);
        return;
    }
    if (f[0].u == 0 || f[0].u > INT64_MAX || (f[2].present && f[2].n > 200)) {
        ds_http_reply_error(req, 400, DS_ERR_BAD_REQUEST, "malformed body: %s",
                            f[0].u == 0 || f[0].u > INT64_MAX ? "job_id (key 1) out of range"
                                                              : "reason (key 3) longer than 200 bytes");
        return;
    }
    char reason[201] = "";
    for (size_t i = 0; f[2].present && i < f[2].n; i++) /* shown to operators: no control characters */
        reason[i] = f[2].p[i] < 0x20 || f[2].p[i] > 0x7e ? '?' : (char)f[2].p[i];
    ds_device dev;
    if (!ds_rt_device(req, app, req->device_id, &dev))
        return;
    fw_job j;
    ds_status st = fw_job_report(app->store, dev.device_id, (int64_t)f[0].u, (fw_job_state)state,
                                 f[2].present ? reason : NULL, ds_store_now(), &j);
    if (st == DS_E_NOT_FOUND) {
        ds_http_reply_error(req, 404, DS_ERR_NO_JOB, "no firmware job %llu for this device",
                            (unsigned long long)f[0].u);
        return;
    }
    if (st == DS_E_CONFLICT) {
        ds_http_reply_error(req, 409, DS_ERR_JOB_STATE, "%s", ds_store_error(app->store));
        return;
    }
    if (st == DS_E_BUSY) {
        ds_http_reply_error(req, 503, DS_ERR_BUSY, "the database is busy: retry");
        return;
    }
    if (st != DS_OK) {
        ds_http_reply_error(req, 500, DS_ERR_INTERNAL, "database: %s", ds_status_str(st));
        return;
    }
    uint8_t buf[32];
    drot_cbor_writer w;
    drot_cbor_writer_init(&w, buf, sizeof buf);
    drot_cbor_put_map(&w, 1);
    drot_cbor_put_uint(&w, 1);
    drot_cbor_put_uint(&w, (uint64_t)j.state);
    ds_rt_reply_map(req, &w);
}
