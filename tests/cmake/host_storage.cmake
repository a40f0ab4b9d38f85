# Secure storage, measured host boot and drot-agent against real drot-apm
# processes (tests/host/test_host_storage.c, tests/host/test_agent_cli.c;
# tests/host/apm_proc.c runs the devices).
if(TARGET drot_host AND TARGET drot-apm)
  drot_add_test(test_host_storage SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_host_storage.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e")
  target_compile_definitions(test_host_storage-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"")
  add_dependencies(test_host_storage-openssl drot-apm)
endif()

if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent)
  drot_add_test(test_agent_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_agent_cli.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e")
  target_compile_definitions(test_agent_cli-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
                             "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\"")
  add_dependencies(test_agent_cli-openssl drot-apm drot-agent)
endif()
