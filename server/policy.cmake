# server/policy.cmake — the policy engine of drot-server (docs/policy.md):
# the policy document parser (src/policy.c), shared with drotctl's offline
# `policy validate`; its unit tests. Included by server/CMakeLists.txt.
add_library(drot_server_policy STATIC ${CMAKE_SOURCE_DIR}/server/src/policy.c
                                      ${CMAKE_SOURCE_DIR}/server/src/policy_dupes.c)
target_include_directories(drot_server_policy PUBLIC ${CMAKE_SOURCE_DIR}/server/src)
target_link_libraries(drot_server_policy PUBLIC drot_server_verify PkgConfig::JANSSON)

drot_add_test(test_policy SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_policy.c
              BACKENDS openssl LIBS drot_server_policy LABELS "server;policy")

# The policy engine's tables (migration 007), written once against sql.h.
add_library(drot_server_policy_store STATIC ${CMAKE_SOURCE_DIR}/server/src/policy_store.c
                                            ${CMAKE_SOURCE_DIR}/server/src/webhook_store.c)
target_include_directories(drot_server_policy_store PUBLIC ${CMAKE_SOURCE_DIR}/server/src)
target_link_libraries(drot_server_policy_store PUBLIC drot_server_store)

# Its tests on both backends (tests/cmake/server_store.cmake's pattern and
# cluster: the drot_pg fixture; the public schema, hence the lock).
if(TARGET drot_server_store)
  string(MD5 _drot_pgp_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pgp_hash}" 0 10 _drot_pgp_hash)
  add_executable(test_policy_store ${CMAKE_SOURCE_DIR}/tests/server/test_policy_store.c
                                   ${CMAKE_SOURCE_DIR}/tests/server/store_fixture.c)
  target_link_libraries(test_policy_store PRIVATE drot_server_policy_store PkgConfig::CMOCKA)
  drot_use_crypto(test_policy_store openssl)
  add_test(NAME test_policy_store_sqlite COMMAND test_policy_store)
  set_tests_properties(test_policy_store_sqlite PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store;policy" TIMEOUT 120)
  add_test(NAME test_policy_store_postgres COMMAND test_policy_store)
  set_tests_properties(test_policy_store_postgres PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=/tmp/drot-pg-${_drot_pgp_hash}/url"
    FIXTURES_REQUIRED drot_pg RESOURCE_LOCK drot_pg_schema LABELS "server;store;policy" TIMEOUT 120)
endif()

# The engine in drot-server: cache, attestation hooks, plan/apply, the
# background worker and webhook deliveries; and the admin routes. Wired once
# drot-server exists (http.cmake), like admin.cmake.
find_package(Threads REQUIRED)
function(drot_policy_wire)
  target_sources(drot-server PRIVATE ${CMAKE_SOURCE_DIR}/server/src/policy_engine.c
                 ${CMAKE_SOURCE_DIR}/server/src/policy_attest.c ${CMAKE_SOURCE_DIR}/server/src/policy_plan.c
                 ${CMAKE_SOURCE_DIR}/server/src/webhook.c ${CMAKE_SOURCE_DIR}/server/src/admin_policy.c)
  target_link_libraries(drot-server PRIVATE drot_server_policy drot_server_policy_store PkgConfig::LIBCURL Threads::Threads)
endfunction()
cmake_language(DEFER CALL drot_policy_wire)

# drotctl policy / device clear / webhooks (tools/drotctl_policy.c); the
# parser is linked in for the offline `policy validate`.
function(drot_policy_wire_drotctl)
  target_sources(drotctl PRIVATE ${CMAKE_SOURCE_DIR}/tools/drotctl_policy.c)
  target_link_libraries(drotctl PRIVATE drot_server_policy)
endfunction()
cmake_language(DEFER CALL drot_policy_wire_drotctl)

# The webhook signature scheme and secret files (tests/server/test_webhook.c).
if(LIBCURL_FOUND)
  drot_add_test(test_webhook SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_webhook.c
                ${CMAKE_SOURCE_DIR}/server/src/webhook.c
                BACKENDS openssl LIBS drot_server_policy_store PkgConfig::LIBCURL OpenSSL::Crypto
                LABELS "server;policy")
endif()
