# The audit log's storage (server/src/audit.h) on both backends, one source
# (tests/server/test_audit_store.c) with the storage tests' fixture; runs
# after server_store.cmake (alphabetical), which starts the PostgreSQL
# cluster fixture drot_pg and sets DROT_PG_TEST_DIR.
#   test_audit_store_sqlite    a temporary database file per test
#   test_audit_store_postgres  the shared private cluster (one schema at a time)
if(TARGET drot_server_store AND DEFINED DROT_PG_TEST_DIR)
  add_executable(test_audit_store ${CMAKE_SOURCE_DIR}/tests/server/test_audit_store.c
                                  ${CMAKE_SOURCE_DIR}/tests/server/store_fixture.c)
  target_link_libraries(test_audit_store PRIVATE drot_server_store PkgConfig::CMOCKA)
  drot_use_crypto(test_audit_store openssl)
  add_test(NAME test_audit_store_sqlite COMMAND test_audit_store)
  set_tests_properties(test_audit_store_sqlite PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store;audit" TIMEOUT 120)
  add_test(NAME test_audit_store_postgres COMMAND test_audit_store)
  set_tests_properties(test_audit_store_postgres PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=${DROT_PG_TEST_DIR}/url"
    FIXTURES_REQUIRED drot_pg RESOURCE_LOCK drot_pg_schema LABELS "server;store;audit" TIMEOUT 120)
endif()

# Two drot-server processes on one PostgreSQL appending to one chain, with
# real processes (tests/host/test_audit_multi_e2e.c). It uses the storage
# tests' cluster and, like them, empties its public schema: same fixture,
# same lock.
if(TARGET drot_server_store AND DEFINED DROT_PG_TEST_DIR AND TARGET drot-server AND TARGET drotctl
   AND TARGET drot_host)
  drot_add_test(test_audit_multi_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_audit_multi_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng drot_server_store PkgConfig::JANSSON
                LABELS "host;e2e;audit")
  target_compile_definitions(test_audit_multi_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\""
    "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_audit_multi_e2e-openssl drot-server drotctl)
  set_tests_properties(test_audit_multi_e2e-openssl PROPERTIES
    ENVIRONMENT "DROT_PG_URL_FILE=${DROT_PG_TEST_DIR}/url"
    FIXTURES_REQUIRED drot_pg RESOURCE_LOCK drot_pg_schema TIMEOUT 300)
endif()
