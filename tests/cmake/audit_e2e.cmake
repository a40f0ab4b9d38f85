# The audit log end to end with real processes (tests/host/test_audit_e2e.c):
# drotctl init, drot-apm, drot-agent and drot-server on SQLite; operations
# leave entries with the right actors, and drotctl audit verify names every
# change made behind the server's back (docs/audit.md).
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl)
  find_package(SQLite3 REQUIRED) # imported targets are per directory: server/ found it for itself
  drot_add_test(test_audit_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_audit_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng drot_audit_chain SQLite::SQLite3 PkgConfig::JANSSON
                LABELS "host;e2e;audit")
  target_compile_definitions(test_audit_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_audit_e2e-openssl drot-apm drot-agent drot-server drotctl)
  set_tests_properties(test_audit_e2e-openssl PROPERTIES TIMEOUT 300)
endif()
