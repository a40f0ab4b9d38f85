# APM storage (fw/src/{core,otp,records,keystore,manufacture}.c on the sim
# port): fuse semantics, the sim HAL, records, the key store, and the
# power-cut sweeps (docs/apm-storage.md). Once per crypto backend.
foreach(t test_fw_otp test_fw_records test_fw_keystore)
  drot_add_test(${t}
    SOURCES ${CMAKE_SOURCE_DIR}/tests/fw/${t}.c ${CMAKE_SOURCE_DIR}/tests/fw/fw_fixture.c
    LIBS drot_apm_core drot_apm_sim
    LABELS fw)
  foreach(b bearssl openssl)
    target_include_directories(${t}-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${CMAKE_SOURCE_DIR}/tests/fw)
  endforeach()
endforeach()
