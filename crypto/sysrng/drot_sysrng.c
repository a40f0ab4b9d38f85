/* drot_sysrng.c — getrandom(2) behind drot_rng (see drot_sysrng.h). */
/* getrandom() is a GNU/Linux extension, hidden by -std=c11. */
#define _GNU_SOURCE
#include "drot_sysrng.h"

#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>

static drot_status sysrng_fill(void *ctx, uint8_t *out, size_t len)
{
    size_t done = 0;

    (void)ctx;
    if (out == NULL && len != 0)
        return DROT_E_ARG;
    while (done < len) {
        /* getrandom returns at most 33554431 bytes per call and may return
         * fewer after a signal: loop until the buffer is full. */
        ssize_t n = getrandom(out + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            drot_wipe(out, len);
            return DROT_E_RNG;
        }
        done += (size_t)n;
    }
    return DROT_OK;
}

/* see drot_sysrng.h */
drot_rng drot_sysrng(void)
{
    drot_rng r = {sysrng_fill, NULL};
    return r;
}
