# server/verify.cmake — the attestation verifier of drot-server
# (server/src/verify.c, server/src/reference.c; docs/verifier.md).
# Included by server/CMakeLists.txt. Paths are spelled from CMAKE_SOURCE_DIR
# so that the file also works when included from elsewhere.
#
#   drot_server_verify  token verification against a device record and the
#                       reference values of its class. Backend-neutral, like
#                       drot_common: the program picks the crypto backend.
add_library(drot_server_verify STATIC ${CMAKE_SOURCE_DIR}/server/src/verify.c
                                      ${CMAKE_SOURCE_DIR}/server/src/reference.c)
target_include_directories(drot_server_verify PUBLIC ${CMAKE_SOURCE_DIR}/server/src)
target_link_libraries(drot_server_verify PUBLIC drot_common PkgConfig::JANSSON)

# Reference-value parsing: pure JSON, no tokens.
drot_add_test(test_reference SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_reference.c
              BACKENDS openssl LIBS drot_server_verify LABELS server)

# The verifier on real tokens made in-process by the APM core on a simulated
# device (tests/fw/fw_test_util.c). Both backends: the firmware signs with
# BearSSL in the field, the server verifies with OpenSSL.
if(TARGET drot_apm_sim)
  drot_add_test(test_verify
    SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_verify.c ${CMAKE_SOURCE_DIR}/tests/fw/fw_test_util.c
    BACKENDS openssl bearssl
    LIBS drot_server_verify drot_apm_core drot_apm_sim
    LABELS server)
  foreach(b openssl bearssl)
    target_include_directories(test_verify-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${CMAKE_SOURCE_DIR}/tests/fw)
  endforeach()
endif()
