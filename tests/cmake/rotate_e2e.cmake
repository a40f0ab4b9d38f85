# DRoT rotation end to end with real processes (tests/host/test_rotate_e2e.c):
# drotctl init, drot-apm deployed with the server's authority as an anchor,
# drot-server on SQLite, drot-agent attest-once running the jobs; includes
# the power-cut sweep over whole rotations.
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl)
  drot_add_test(test_rotate_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_rotate_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng drot_server_rotate PkgConfig::JANSSON LABELS "host;e2e;drot")
  target_compile_definitions(test_rotate_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\""
    "DROT_SERVER_CRASHTEST_BIN=\"$<TARGET_FILE:drot-server-crashtest>\"")
  add_dependencies(test_rotate_e2e-openssl drot-apm drot-agent drot-server drot-server-crashtest drotctl)
  set_tests_properties(test_rotate_e2e-openssl PROPERTIES TIMEOUT 600)
endif()
