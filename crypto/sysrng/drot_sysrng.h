/*
 * drot_sysrng.h — the operating system's random source as a drot_rng.
 *
 * Host only (agent, server, tools, tests): it calls getrandom(2) and is never
 * linked into firmware, which seeds a DRBG from its TRNG instead.
 */
#ifndef DROT_SYSRNG_H
#define DROT_SYSRNG_H

#include "drot_crypto.h"

/* A drot_rng whose fill draws from getrandom(2) (blocking until the kernel
 * pool is initialised; retried on EINTR and short reads). Its ctx is NULL;
 * the value may be copied freely. fill returns DROT_E_RNG on any other
 * failure, with the buffer wiped. */
drot_rng drot_sysrng(void);

#endif
