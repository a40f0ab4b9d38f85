# server/multi.cmake — scale-out and crash tests of drot-server
# (tests/server/test_multi_server.c; docs/operations.md "Several servers on
# one PostgreSQL"). Included by server/CMakeLists.txt, which includes every
# server/*.cmake; paths are spelled from CMAKE_SOURCE_DIR.
#
#   multi_pg_start / multi_pg_stop  a private PostgreSQL cluster for this test
#       alone (tests/support/pg_cluster.sh), in a directory of its own
#       (/tmp/drot-pgm-<hash>), so it never collides with the storage tests'
#       cluster (/tmp/drot-pg-<hash>) when ctest runs in parallel.
#   test_multi_server-openssl  two drot-server processes on that database,
#       and the SIGKILL-during-a-burst test on PostgreSQL and on SQLite.
find_package(Threads REQUIRED)
if(LIBCURL_FOUND AND TARGET drot_host AND TARGET drot-apm AND TARGET drot-server)
  drot_add_test(test_multi_server
    SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_multi_server.c ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
    BACKENDS openssl
    LIBS drot_host drot_sysrng drot_server_store PkgConfig::LIBCURL OpenSSL::SSL PkgConfig::JANSSON
    LABELS "server;e2e;multi")
  target_include_directories(test_multi_server-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host)
  target_compile_definitions(test_multi_server-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  target_link_libraries(test_multi_server-openssl PRIVATE Threads::Threads)
  add_dependencies(test_multi_server-openssl drot-apm drot-server drotctl)

  string(MD5 _drot_pgm_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pgm_hash}" 0 10 _drot_pgm_hash)
  set(DROT_PGM_TEST_DIR "/tmp/drot-pgm-${_drot_pgm_hash}")
  set(_pgm_script ${CMAKE_SOURCE_DIR}/tests/support/pg_cluster.sh)
  add_test(NAME multi_pg_start COMMAND bash ${_pgm_script} start ${DROT_PGM_TEST_DIR})
  add_test(NAME multi_pg_stop COMMAND bash ${_pgm_script} stop ${DROT_PGM_TEST_DIR})
  set_tests_properties(multi_pg_start PROPERTIES FIXTURES_SETUP drot_pg_multi LABELS "server;multi" TIMEOUT 120)
  set_tests_properties(multi_pg_stop PROPERTIES FIXTURES_CLEANUP drot_pg_multi LABELS "server;multi" TIMEOUT 60)
  set_property(TEST test_multi_server-openssl APPEND PROPERTY ENVIRONMENT
    "DROT_PG_URL_FILE=${DROT_PGM_TEST_DIR}/url")
  set_tests_properties(test_multi_server-openssl PROPERTIES FIXTURES_REQUIRED drot_pg_multi TIMEOUT 120)
endif()
