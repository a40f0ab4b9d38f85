# drotctl firmware sign / inspect as processes (tests/server/test_firmware_cli.c),
# the signed manifests checked in-process with the device's drot_manifest_verify.
if(TARGET drotctl)
  drot_add_test(test_firmware_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_firmware_cli.c
                BACKENDS openssl LIBS drot_common PkgConfig::JANSSON LABELS "server;tools")
  target_compile_definitions(test_firmware_cli-openssl PRIVATE "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_firmware_cli-openssl drotctl)
endif()
