/* A library that breaks the firmware rules on purpose: it calls malloc and
 * defines a test-only entry point. The check_no_alloc_detects_* tests prove
 * that tests/check_static.sh notices both. Never linked into anything. */
#include <stdlib.h>

void *drot_canary_alloc(size_t n);
int drot_canary_test_hook(void);

void *drot_canary_alloc(size_t n)
{
    return malloc(n);
}

int drot_canary_test_hook(void)
{
    return 0;
}
