# The agent's firmware loop end to end with real processes
# (tests/host/test_fw_update_e2e.c): drotctl publishing and rolling out,
# drot-apm devices installing, test-booting and confirming through drot-agent,
# host boot stages switched between A/B directories, steps done by hand as if
# the agent had been killed, and the APM's power cut during the agent's steps.
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl)
  drot_add_test(test_fw_update_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_fw_update_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e;firmware")
  target_compile_definitions(test_fw_update_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_fw_update_e2e-openssl drot-apm drot-agent drot-server drotctl)
  set_tests_properties(test_fw_update_e2e-openssl PROPERTIES TIMEOUT 600)
endif()
