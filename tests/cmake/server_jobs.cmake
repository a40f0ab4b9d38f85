# Rotation jobs and campaigns (server/src/store.h) against both backends,
# from ONE source (tests/server/test_jobs.c):
#   test_jobs_sqlite    a temporary database file per test
#   test_jobs_postgres  the private cluster of the drot_pg fixture defined in
#                       server_store.cmake (store_pg_start / store_pg_stop);
#                       the tests use their own database in it (drot_jobs), so
#                       they may run beside test_store_postgres.
if(TARGET drot_server_store)
  add_executable(test_jobs ${CMAKE_SOURCE_DIR}/tests/server/test_jobs.c)
  target_link_libraries(test_jobs PRIVATE drot_server_store PkgConfig::CMOCKA)
  drot_use_crypto(test_jobs openssl)

  add_test(NAME test_jobs_sqlite COMMAND test_jobs)
  set_tests_properties(test_jobs_sqlite PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store;jobs" TIMEOUT 120)

  # The same cluster directory as server_store.cmake (which is read after this
  # file, so the path is derived here the same way).
  string(MD5 _drot_pgj_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pgj_hash}" 0 10 _drot_pgj_hash)
  add_test(NAME test_jobs_postgres COMMAND test_jobs)
  set_tests_properties(test_jobs_postgres PROPERTIES
    ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=/tmp/drot-pg-${_drot_pgj_hash}/url"
    FIXTURES_REQUIRED drot_pg LABELS "server;store;jobs" TIMEOUT 120)
endif()
