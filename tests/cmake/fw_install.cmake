# Firmware install on the APM (docs/firmware.md): the link codecs
# (tests/unit/test_link_fw.c), the device side in-process on the sim HAL
# (fw/src/fwinstall.c, fwstate.c: updates, test boot and revert, refusals,
# power-cut sweeps), and drot-apm with drot-agent as real processes.
drot_add_test(test_link_fw SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_link_fw.c LABELS "link;firmware")

set(DROT_FWI_TESTS ${CMAKE_SOURCE_DIR}/tests/fw)
foreach(t test_fw_install test_fw_install_sweep test_fw_install_link)
  drot_add_test(${t}
    SOURCES ${DROT_FWI_TESTS}/${t}.c ${DROT_FWI_TESTS}/fw_inst_util.c ${DROT_FWI_TESTS}/fw_rot_util.c
            ${DROT_FWI_TESTS}/fw_test_util.c
    LIBS drot_apm_core drot_apm_sim
    LABELS "fw;firmware")
  foreach(b bearssl openssl)
    target_include_directories(${t}-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${DROT_FWI_TESTS})
  endforeach()
endforeach()

# drot-apm and drot-agent as processes (tests/host/test_fw_install_e2e.c).
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent)
  drot_add_test(test_fw_install_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_fw_install_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e;firmware")
  target_compile_definitions(test_fw_install_e2e-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
                             "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\"")
  add_dependencies(test_fw_install_e2e-openssl drot-apm drot-agent)
endif()
