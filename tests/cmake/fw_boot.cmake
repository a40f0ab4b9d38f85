# APM core: secure boot, tamper response, attestation tokens
# (fw/src/{boot,measure,tamper,attest}.c; docs/apm-boot.md). Each test runs
# a simulated device (fw/ports/sim) in a temporary state directory.
set(DROT_FW_TESTS ${CMAKE_SOURCE_DIR}/tests/fw)

foreach(t test_fw_boot test_fw_tamper test_fw_attest)
  drot_add_test(${t}
    SOURCES ${DROT_FW_TESTS}/${t}.c ${DROT_FW_TESTS}/fw_test_util.c
    LIBS drot_apm_core drot_apm_sim
    LABELS fw)
  foreach(b bearssl openssl)
    target_include_directories(${t}-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${DROT_FW_TESTS})
  endforeach()
endforeach()

# Tokens made by the core on one backend must verify on the other: the two
# backends cannot share a process, so test_fw_attest-<b> runs the other
# backend's drot-xcheck tool (tests/cmake/crypto.cmake) on a token it made.
# The case that matters most is bearssl → openssl: the firmware signs with
# BearSSL, the server verifies with OpenSSL.
foreach(pair "bearssl;openssl" "openssl;bearssl")
  list(GET pair 0 here)
  list(GET pair 1 other)
  target_compile_definitions(test_fw_attest-${here} PRIVATE
    "DROT_XCHECK_OTHER=\"$<TARGET_FILE:drot-xcheck-${other}>\"")
  add_dependencies(test_fw_attest-${here} drot-xcheck-${other})
endforeach()
