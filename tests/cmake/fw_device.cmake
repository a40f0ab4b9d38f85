# The APM device through its public API (fw/include/apm/apm.h): manufacture,
# boot, link handling and attacks, the serve loop; in-process on the sim HAL.
find_package(Threads REQUIRED)
drot_add_test(test_fw_device SOURCES ${CMAKE_SOURCE_DIR}/tests/fw/test_fw_device.c
              LIBS drot_apm_core drot_apm_sim drot_sysrng Threads::Threads LABELS fw)

# drot-apm as a real process (tests/fw/test_fw_process.c): provision, run,
# link over its socket, control socket, restarts, power cut, bad state.
if(TARGET drot-apm)
  drot_add_test(test_fw_process SOURCES ${CMAKE_SOURCE_DIR}/tests/fw/test_fw_process.c
                BACKENDS openssl LIBS drot_sysrng PkgConfig::JANSSON LABELS "fw;e2e")
  target_compile_definitions(test_fw_process-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"")
  add_dependencies(test_fw_process-openssl drot-apm)
endif()
