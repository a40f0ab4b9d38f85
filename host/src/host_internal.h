/*
 * host_internal.h — what the parts of libdrot-host share and the API does
 * not show (private: host/src only).
 */
#ifndef DROT_HOST_INTERNAL_H
#define DROT_HOST_INTERNAL_H

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

#endif /* DROT_HOST_INTERNAL_H */
