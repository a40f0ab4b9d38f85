# The policy engine end to end with real processes (tests/host/test_policy_e2e.c):
# drotctl init and policy commands, drot-apm devices, drot-server on SQLite,
# drot-agent attest-once and run, and a webhook receiver on loopback in the
# test process (libevent evhttp; signatures checked with OpenSSL's HMAC).
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl
)
  # Imported targets are per directory: found again here.
  pkg_check_modules(DROT_TEST_EVENT REQUIRED IMPORTED_TARGET libevent)
  pkg_check_modules(DROT_TEST_CURL REQUIRED IMPORTED_TARGET libcurl)
  find_package(SQLite3 REQUIRED)
  find_package(Threads REQUIRED)
  drot_add_test(test_policy_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_policy_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl
                LIBS drot_host drot_sysrng PkgConfig::JANSSON PkgConfig::DROT_TEST_EVENT PkgConfig::DROT_TEST_CURL
                     SQLite::SQLite3 OpenSSL::Crypto Threads::Threads
                LABELS "host;e2e;policy")
  target_compile_definitions(test_policy_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_policy_e2e-openssl drot-apm drot-agent drot-server drotctl)
  set_tests_properties(test_policy_e2e-openssl PROPERTIES TIMEOUT 300)
endif()
