/* A library that calls malloc: check_no_alloc_detects_malloc proves that
 * tests/check_static.sh notices it. Never linked into anything. */
#include <stdlib.h>

void *drot_canary_alloc(size_t n);

void *drot_canary_alloc(size_t n)
{
    return malloc(n);
}
