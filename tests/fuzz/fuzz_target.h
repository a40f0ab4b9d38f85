/*
 * fuzz_target.h — the libFuzzer entry point every fuzz_<target>.c defines,
 * declared once so that -Wmissing-prototypes holds, and the check macro the
 * targets use for their properties.
 */
#ifndef DROT_FUZZ_TARGET_H
#define DROT_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A violated property is a finding: say which and abort(), so libFuzzer
 * saves the input as a crash and the replay test fails. */
#define FZ_CHECK(cond)                                                                                       \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);                    \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* p[0..n) lies inside [base, base + size). NULL only with n == 0. */
#define FZ_INSIDE(p, n, base, size)                                                                          \
    ((p) == NULL ? (n) == 0                                                                                  \
                 : ((const uint8_t *)(p) >= (base) && (size_t)((const uint8_t *)(p) - (base)) <= (size) &&   \
                    (n) <= (size) - (size_t)((const uint8_t *)(p) - (base))))

#endif /* DROT_FUZZ_TARGET_H */
