/*
 * host_internal.h — what the parts of libdrot-host share and the API does
 * not show (private: host/src only).
 */
#ifndef DROT_HOST_INTERNAL_H
#define DROT_HOST_INTERNAL_H

#include <curl/curl.h>

#include "drot/cbor.h"
#include "drot/host.h"

/* Records a failure as the driver's last error (dh_driver_last_error) and
 * returns st, so handlers built on the driver (storage, measured boot)
 * report their own failures through the same channel as the driver's.
 * d may be NULL (then only st is returned). Defined in driver.c. */
dh_status dh_driver_fail(dh_driver *d, dh_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* One request and its checked answer, with the driver's set-up, retries
 * (only for idempotent types) and error text: what every dh_* request
 * function uses. *view points into the driver's receive buffer until the
 * next request. Defined in driver.c. */
dh_status dh_driver_request(dh_driver *d, uint8_t type, const uint8_t *payload, size_t plen,
                            drot_link_frame *view);
/* An answer that opened but does not decode: drops the link and records
 * "malformed <request> answer" (DH_E_PROTOCOL). Defined in driver.c. */
dh_status dh_driver_bad_answer(dh_driver *d, uint8_t type, drot_status ds);
/* Sets dh_driver_last_apm_code (to report an earlier refusal again after a
 * follow-up request). Defined in driver.c. */
void dh_driver_set_apm_code(dh_driver *d, int32_t code);
/* Drops the link on purpose (the APM resets after FW_ACTIVATE): the next
 * request connects and says HELLO again. Defined in driver.c. */
void dh_driver_drop_link(dh_driver *d);

/* ---- between the server client's parts (client.c, client_fw.c) ---------------- */

/* Records msg as the client's last error (dh_server_last_error); returns st. */
dh_status dh_server_fail(dh_server *s, dh_status st, const char *msg);

/* POSTs the finished map in w to path (no channel binding); on DH_OK
 * *answer / *len are the 200 answer (valid until the next request). A
 * refusal is DH_E_REFUSED with the server's error as the last error. */
dh_status dh_server_post_map(dh_server *s, const char *path, drot_cbor_writer *w, const uint8_t **answer,
                             size_t *len);

/* Receives the body of a 200 or 206 answer as it arrives (http: which);
 * returns n, or anything else to abort the transfer (after recording why
 * with dh_server_fail). */
typedef size_t (*dh_sink_fn)(const uint8_t *p, size_t n, long http, void *ctx);

/* GET path with "Range: bytes=from-" when from > 0, the body to sink, at
 * most max_rate bytes/s (0: no limit); no overall timeout, but a transfer
 * that moves nothing for the client's timeout fails. DH_OK after a 200 or
 * 206; DH_E_IO when the sink aborted; DH_E_REFUSED with the server's error
 * for any other status; transport failures as the other requests. */
dh_status dh_server_get_stream(dh_server *s, const char *path, uint64_t from, long max_rate, dh_sink_fn sink,
                               void *ctx);

/* The client's curl handle (to read response headers inside a sink). */
CURL *dh_server_curl(dh_server *s);

/* Reads the attest answer's firmware offer (key 5) into *o: a closed map of
 * the documented keys, each in its range. */
drot_status dh_fw_offer_read(drot_cbor_reader *r, dh_server_fw_offer *o);

#endif /* DROT_HOST_INTERNAL_H */
