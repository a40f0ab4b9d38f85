# Crypto port tests: known answers, Wycheproof conformance, and the
# cross-check of the two backends. Included by tests/CMakeLists.txt.

set(DROT_CRYPTO_TESTS ${CMAKE_SOURCE_DIR}/tests)

# drot-xcheck-<backend>: one crypto operation per run, hex in and hex out.
# The two backends define the same symbols and cannot share a process, so
# test_cross_backend-<b> runs the other backend's tool.
foreach(b bearssl openssl)
  add_executable(drot-xcheck-${b} ${DROT_CRYPTO_TESTS}/unit/xcheck_tool.c)
  target_link_libraries(drot-xcheck-${b} PRIVATE drot_common drot_test_support)
  drot_use_crypto(drot-xcheck-${b} ${b})
endforeach()

drot_add_test(test_crypto SOURCES ${DROT_CRYPTO_TESTS}/unit/test_crypto.c LIBS drot_sysrng LABELS crypto)
drot_add_test(test_wycheproof SOURCES ${DROT_CRYPTO_TESTS}/vectors/test_wycheproof.c LABELS crypto vectors)
drot_add_test(test_cross_backend SOURCES ${DROT_CRYPTO_TESTS}/unit/test_cross_backend.c LABELS crypto)
foreach(pair "bearssl;openssl" "openssl;bearssl")
  list(GET pair 0 here)
  list(GET pair 1 other)
  target_compile_definitions(test_cross_backend-${here} PRIVATE
    "DROT_XCHECK_OTHER=\"$<TARGET_FILE:drot-xcheck-${other}>\"")
  # Building the test builds the tool it runs.
  add_dependencies(test_cross_backend-${here} drot-xcheck-${other})
endforeach()

# Every case of test_wycheproof reads ../shared/vectors: when the folder is
# absent it prints "SKIP: …" and CTest reports it skipped, not passed.
foreach(b bearssl openssl)
  set_tests_properties(test_wycheproof-${b} PROPERTIES SKIP_REGULAR_EXPRESSION "SKIP: ")
endforeach()
