# Known-answer self-test (common/src/selftest.c); --wrap lets the test
# corrupt backend answers and see the self-test catch them.
drot_add_test(test_selftest SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_selftest.c)
foreach(b bearssl openssl)
  target_link_options(test_selftest-${b} PRIVATE
    -Wl,--wrap=drot_sha256 -Wl,--wrap=drot_ecdh_p256 -Wl,--wrap=drot_aes_gcm_open)
endforeach()
