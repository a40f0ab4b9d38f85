# server/metrics.cmake — end-to-end test of drot-server's /metrics latency
# histograms, its --config file (docs/operations.md "Configuration file") and
# the refusal of revoked / decommissioned devices (tests/server/test_metrics.c).
# Included by server/CMakeLists.txt after http.cmake and keys.cmake, which
# define drot-server and drotctl.
if(LIBCURL_FOUND AND TARGET drot_host AND TARGET drot-apm)
  drot_add_test(test_metrics
    SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_metrics.c ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
    BACKENDS openssl
    LIBS drot_host drot_sysrng drot_server_store PkgConfig::LIBCURL OpenSSL::SSL
    LABELS "server;e2e")
  target_include_directories(test_metrics-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host)
  target_compile_definitions(test_metrics-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_metrics-openssl drot-apm drot-server drotctl)
endif()
