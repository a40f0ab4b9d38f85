# drot-agent's networked side (enroll, attest-once, run) against real
# processes: drotctl init, drot-apm, drot-server (tests/host/test_agent_server.c).
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl)
  drot_add_test(test_agent_server SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_agent_server.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e")
  target_compile_definitions(test_agent_server-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_agent_server-openssl drot-apm drot-agent drot-server drotctl)
endif()
