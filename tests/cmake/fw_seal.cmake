# APM sealing (fw/src/seal.c; docs/apm-boot.md "Sealing"): SEAL / UNSEAL
# through the device's public API on the sim HAL, firmware updates by the
# same and by another signer, other devices, refusals.
set(DROT_FW_TESTS ${CMAKE_SOURCE_DIR}/tests/fw)

drot_add_test(test_fw_seal
  SOURCES ${DROT_FW_TESTS}/test_fw_seal.c ${DROT_FW_TESTS}/fw_test_util.c
  LIBS drot_apm_core drot_apm_sim
  LABELS fw)
foreach(b bearssl openssl)
  target_include_directories(test_fw_seal-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${DROT_FW_TESTS})
endforeach()
