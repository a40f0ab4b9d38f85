# The storage layer (server/src/store.h) against both backends, from ONE
# source per suite (tests/server/test_store.c, tests/server/test_store_attest.c,
# sharing tests/server/store_fixture.c):
#   test_store_sqlite, test_store_attest_sqlite       a temporary database file per test
#   test_store_postgres, test_store_attest_postgres   a private PostgreSQL cluster, started
#                        and stopped by the fixture tests below (tests/support/pg_cluster.sh):
#                        UNIX socket only, non-root, no system service needed.
if(TARGET drot_server_store)
  # One cluster directory per build tree, short enough for a socket path and
  # outside the build tree so the postgres user can always reach it.
  string(MD5 _drot_pg_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pg_hash}" 0 10 _drot_pg_hash)
  set(DROT_PG_TEST_DIR "/tmp/drot-pg-${_drot_pg_hash}")
  set(_pg_script ${CMAKE_SOURCE_DIR}/tests/support/pg_cluster.sh)
  add_test(NAME store_pg_start COMMAND bash ${_pg_script} start ${DROT_PG_TEST_DIR})
  add_test(NAME store_pg_stop COMMAND bash ${_pg_script} stop ${DROT_PG_TEST_DIR})
  set_tests_properties(store_pg_start PROPERTIES FIXTURES_SETUP drot_pg LABELS "server;store" TIMEOUT 120)
  set_tests_properties(store_pg_stop PROPERTIES FIXTURES_CLEANUP drot_pg LABELS "server;store" TIMEOUT 60)

  foreach(suite test_store test_store_attest test_sql)
    add_executable(${suite} ${CMAKE_SOURCE_DIR}/tests/server/${suite}.c
                            ${CMAKE_SOURCE_DIR}/tests/server/store_fixture.c)
    target_link_libraries(${suite} PRIVATE drot_server_store PkgConfig::CMOCKA)
    drot_use_crypto(${suite} openssl)

    add_test(NAME ${suite}_sqlite COMMAND ${suite})
    set_tests_properties(${suite}_sqlite PROPERTIES
      ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store" TIMEOUT 120)
    # The PostgreSQL suites share one cluster (and its public schema, which
    # each test drops and re-creates): they must not run at the same time.
    add_test(NAME ${suite}_postgres COMMAND ${suite})
    set_tests_properties(${suite}_postgres PROPERTIES
      ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=${DROT_PG_TEST_DIR}/url"
      FIXTURES_REQUIRED drot_pg RESOURCE_LOCK drot_pg_schema LABELS "server;store" TIMEOUT 120)
  endforeach()
endif()
