# server/revocation.cmake — revocations and signed revocation lists
# (server/src/revocation.c; docs/revocation.md): the library, its place in
# drot-server (device route GET /v1/device/revocations and the certificate
# gate: routes_revocation.c; admin routes /v1/admin/revocations:
# admin_revocation.c), drotctl's revoke / revocations commands, and the
# storage test on both backends. Included by server/CMakeLists.txt after
# http.cmake and keys.cmake, which define drot-server and drotctl.
set(DS_REV_SRC ${CMAKE_CURRENT_LIST_DIR}/src)

add_library(drot_server_revocation STATIC ${DS_REV_SRC}/revocation.c)
target_include_directories(drot_server_revocation PUBLIC ${DS_REV_SRC})
target_link_libraries(drot_server_revocation PUBLIC drot_server_store drot_server_keys drot_common)

if(TARGET drot-server)
  target_sources(drot-server PRIVATE ${DS_REV_SRC}/routes_revocation.c ${DS_REV_SRC}/admin_revocation.c)
  target_link_libraries(drot-server PRIVATE drot_server_revocation)
endif()
if(TARGET drotctl)
  target_sources(drotctl PRIVATE ${CMAKE_SOURCE_DIR}/tools/drotctl_revocation.c)
endif()

# The store part on SQLite and on the PostgreSQL cluster of the storage tests
# (tests/cmake/server_store.cmake starts it: fixture drot_pg).
if(TARGET drot_server_store)
  string(MD5 _drot_rev_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_rev_hash}" 0 10 _drot_rev_hash)
  add_executable(test_revocation_store ${CMAKE_SOURCE_DIR}/tests/server/test_revocation_store.c
                                       ${CMAKE_SOURCE_DIR}/tests/server/store_fixture.c)
  target_link_libraries(test_revocation_store PRIVATE drot_server_revocation PkgConfig::CMOCKA)
  drot_use_crypto(test_revocation_store openssl)
  add_test(NAME test_revocation_store_sqlite COMMAND test_revocation_store)
  set_tests_properties(test_revocation_store_sqlite PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store;revocation" TIMEOUT 120)
  add_test(NAME test_revocation_store_postgres COMMAND test_revocation_store)
  set_tests_properties(test_revocation_store_postgres PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=/tmp/drot-pg-${_drot_rev_hash}/url"
    FIXTURES_REQUIRED drot_pg RESOURCE_LOCK drot_pg_schema LABELS "server;store;revocation" TIMEOUT 120)
endif()
