/*
 * drot_crypto_internal.h — helpers shared by the two crypto backends
 * (crypto/shared/drot_crypto_shared.c). Not part of the port: nothing
 * outside crypto/ includes this header.
 */
#ifndef DROT_CRYPTO_INTERNAL_H
#define DROT_CRYPTO_INTERNAL_H

#include "drot_crypto.h"

/* DROT_OK iff parts is a well-formed part list: parts may be NULL only when
 * n is 0, and every non-empty part has a pointer. Else DROT_E_ARG. */
drot_status drot_crypto_check_parts(const drot_cbuf *parts, size_t n);

/* drot_crypto_check_parts, plus the contract's bound on multi-part inputs
 * (DROT_CRYPTO_MAX_CONCAT), applied alike in both backends whether or not
 * one needs to join the parts: a single part is never limited. */
drot_status drot_crypto_check_joinable(const drot_cbuf *parts, size_t n);

#endif /* DROT_CRYPTO_INTERNAL_H */
