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

#endif /* DROT_HOST_INTERNAL_H */
