# Build-level checks that are not per-backend.

# The firmware-bound libraries (common/, the BearSSL backend, the APM core)
# link no allocator and no OS function (STYLE.md habit 3).
add_test(NAME check_no_alloc
  COMMAND ${CMAKE_SOURCE_DIR}/tests/check_static.sh
          $<TARGET_FILE:drot_common> $<TARGET_FILE:drot_crypto_bearssl> $<TARGET_FILE:drot_apm_core>)
set_tests_properties(check_no_alloc PROPERTIES LABELS "static")

# The check itself must be able to fail: feed it an archive that calls malloc.
add_library(drot_check_canary STATIC ${CMAKE_SOURCE_DIR}/tests/support/canary_malloc.c)
add_test(NAME check_no_alloc_detects_malloc
  COMMAND ${CMAKE_SOURCE_DIR}/tests/check_static.sh $<TARGET_FILE:drot_check_canary>)
# Passes only if the script names malloc as the offence (a crash or missing file would not match).
set_tests_properties(check_no_alloc_detects_malloc PROPERTIES
  PASS_REGULAR_EXPRESSION "FAIL: libdrot_check_canary.a references allocator/OS symbols: malloc" LABELS "static")

# Portability: common/ and the BearSSL backend compile for a Cortex-M33
# (arm-none-eabi-gcc, freestanding, no host headers, stack ≤ 4 KiB per function).
add_test(NAME check_cortex_m33_compile
  COMMAND ${CMAKE_SOURCE_DIR}/tests/check_cortex_m33.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/cortex-m33)
set_tests_properties(check_cortex_m33_compile PROPERTIES LABELS "static")

add_test(NAME check_no_alloc_detects_test_hooks
  COMMAND ${CMAKE_SOURCE_DIR}/tests/check_static.sh $<TARGET_FILE:drot_check_canary>)
set_tests_properties(check_no_alloc_detects_test_hooks PROPERTIES
  PASS_REGULAR_EXPRESSION "FAIL: libdrot_check_canary.a defines test-only functions: drot_canary_test_hook"
  LABELS "static")

# One formatter: tracked C files match .clang-format.
add_test(NAME check_format COMMAND ${CMAKE_SOURCE_DIR}/tests/check_format.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(check_format PROPERTIES LABELS "static")
