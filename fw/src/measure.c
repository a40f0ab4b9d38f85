/*
 * measure.c — the measured components of this boot (see measure.h).
 *
 * A RAM table, append-only: apm_measure_add never changes an entry that is
 * already there, so a later boot stage cannot hide or rewrite an earlier
 * one. The table holds no secret.
 */
#include "measure.h"

#include <stdbool.h>
#include <string.h>

/* True iff s[0..len) is 1..APM_MEASURE_TEXT_MAX bytes of printable ASCII
 * (0x20..0x7E): shown to operators and logged, so no control characters and
 * no embedded NUL that would cut the string short. */
static bool text_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > APM_MEASURE_TEXT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20u || c > 0x7Eu)
            return false;
    }
    return true;
}

/* see measure.h */
void apm_measure_reset(apm_measurements *t)
{
    if (t != NULL)
        memset(t, 0, sizeof *t);
}

/* see measure.h */
apm_status apm_measure_add(apm_measurements *t, const char *type, size_t type_len, const char *version,
                           size_t version_len, const uint8_t digest[32], const uint8_t signer_id[32],
                           size_t *index)
{
    apm_measurement *e;

    if (t == NULL || digest == NULL || signer_id == NULL || t->count > APM_MEASURE_MAX)
        return APM_E_ARG;
    if (!text_ok(type, type_len) || !text_ok(version, version_len))
        return APM_E_ARG;
    if (t->count == APM_MEASURE_MAX)
        return APM_E_FULL;

    e = &t->m[t->count];
    memset(e, 0, sizeof *e);
    memcpy(e->type, type, type_len);
    memcpy(e->version, version, version_len);
    memcpy(e->digest, digest, sizeof e->digest);
    memcpy(e->signer_id, signer_id, sizeof e->signer_id);
    if (index != NULL)
        *index = t->count;
    t->count++;
    return APM_OK;
}
