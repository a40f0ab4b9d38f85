# Rotation jobs and campaigns (server/src/store.h) against both backends.
# Three sources, each run twice, with one fixture (tests/support/jobs_fixture.c):
#   test_jobs_{sqlite,postgres}         one job at a time (tests/server/test_jobs.c)
#   test_jobs_shared_{sqlite,postgres}  claims, campaigns, multi-process races
#                                       (tests/server/test_jobs_shared.c)
#   test_jobs_anchor_{sqlite,postgres}  trust-anchor rotation steps, migration 4 -> 5
#                                       (tests/server/test_jobs_anchor.c)
# SQLite: a temporary database file per test. PostgreSQL: the private cluster
# of the drot_pg fixture defined in server_store.cmake (store_pg_start /
# store_pg_stop); each binary works in its own schema (DROT_PG_SCHEMA), so
# they may run beside each other and beside test_store_postgres.
if(TARGET drot_server_store)
  # The same cluster directory as server_store.cmake (read after this file,
  # so the path is derived here the same way).
  string(MD5 _drot_pgj_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pgj_hash}" 0 10 _drot_pgj_hash)
  set(_drot_pgj_url "/tmp/drot-pg-${_drot_pgj_hash}/url")

  foreach(suite jobs jobs_shared jobs_anchor)
    add_executable(test_${suite} ${CMAKE_SOURCE_DIR}/tests/server/test_${suite}.c
                                 ${CMAKE_SOURCE_DIR}/tests/support/jobs_fixture.c)
    target_include_directories(test_${suite} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
    target_link_libraries(test_${suite} PRIVATE drot_server_store PkgConfig::CMOCKA)
    drot_use_crypto(test_${suite} openssl)

    add_test(NAME test_${suite}_sqlite COMMAND test_${suite})
    set_tests_properties(test_${suite}_sqlite PROPERTIES
      ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store;jobs" TIMEOUT 120)
    add_test(NAME test_${suite}_postgres COMMAND test_${suite})
    set_tests_properties(test_${suite}_postgres PROPERTIES
      ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=${_drot_pgj_url};DROT_PG_SCHEMA=drot_${suite}"
      FIXTURES_REQUIRED drot_pg LABELS "server;store;jobs" TIMEOUT 120)
  endforeach()
endif()
