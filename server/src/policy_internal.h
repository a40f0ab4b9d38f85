/*
 * policy_internal.h — what the policy parser's files share (policy.c,
 * policy_dupes.c). Not for use elsewhere.
 */
#ifndef DS_POLICY_INTERNAL_H
#define DS_POLICY_INTERNAL_H

#include <stddef.h>

#include "policy.h"

/* Longest JSON pointer built; longer ones are cut short (they only name a
 * field in an error message). */
#define DS_POL_PTR_MAX 160

/* out = base + "/" + key, escaped as RFC 6901 says ("~" → "~0", "/" → "~1";
 * bytes outside printable ASCII shown as "?"). */
void ds_pol_ptr_key(char out[DS_POL_PTR_MAX], const char *base, const char *key);

/* Calls fn (may be NULL) for every key repeated within one object of the
 * JSON text json[0..len), which MUST already have been accepted by a JSON
 * parser; returns how many. */
size_t ds_pol_find_duplicates(const char *json, size_t len, ds_ref_error_fn fn, void *ctx);

#endif
