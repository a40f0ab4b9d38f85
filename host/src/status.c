/*
 * status.c — names of dh_status codes (see drot/host.h).
 *
 * Three ranges share the type: drot_status (-1 .. -99, named by common/),
 * the APM's own codes (-100 .. -199, which the host does not link: it only
 * prints the number; the APM's ERROR message carries the words), and the
 * host's DH_E_* codes.
 */
#include <stdio.h>

#include "drot/host.h"
#include "drot/status.h"

/* see drot/host.h */
const char *dh_status_str(dh_status st)
{
    switch (st) {
    case DH_OK: return "ok";
    case DH_E_ARG: return "bad argument";
    case DH_E_CONNECT: return "cannot reach the APM";
    case DH_E_TIMEOUT: return "the APM did not answer in time";
    case DH_E_PROTOCOL: return "bad answer from the APM";
    case DH_E_AUTH: return "the APM refused the HELLO (wrong link key?)";
    case DH_E_REFUSED: return "the APM refused the request";
    case DH_E_IO: return "I/O error";
    case DH_E_STORAGE: return "secure storage error";
    case DH_E_NOMEM: return "out of memory";
    default: break;
    }
    if (st <= -1 && st >= -99)
        return drot_status_str((drot_status)st);
    if (st <= -100 && st >= -199) {
        /* One buffer per thread: the text stays valid until this thread's
         * next call with an APM code. */
        static _Thread_local char buf[24];
        snprintf(buf, sizeof buf, "APM error %d", (int)st);
        return buf;
    }
    return "unknown status";
}
