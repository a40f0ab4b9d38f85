# The firmware repository, rollouts and jobs (server/src/firmware.h) against
# both backends, with the rotation jobs' fixture (tests/support/jobs_fixture.c:
# a temporary SQLite file per test, or this binary's own PostgreSQL schema in
# the drot_pg cluster of server_store.cmake) and tests/support/fw_fixture.c:
#   test_fw_repo_{sqlite,postgres}     images in chunks, releases (tests/server/test_fw_repo.c)
#   test_fw_rollout_{sqlite,postgres}  rollouts, the job state machine, F1-F6 and
#                                      multi-process races (tests/server/test_fw_rollout.c)
if(TARGET drot_server_firmware)
  string(MD5 _drot_pgf_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pgf_hash}" 0 10 _drot_pgf_hash)
  set(_drot_pgf_url "/tmp/drot-pg-${_drot_pgf_hash}/url")
  foreach(suite fw_repo fw_rollout)
    add_executable(test_${suite} ${CMAKE_SOURCE_DIR}/tests/server/test_${suite}.c
                                 ${CMAKE_SOURCE_DIR}/tests/support/jobs_fixture.c
                                 ${CMAKE_SOURCE_DIR}/tests/support/fw_fixture.c)
    target_include_directories(test_${suite} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
    target_link_libraries(test_${suite} PRIVATE drot_server_firmware drot_sysrng PkgConfig::CMOCKA)
    drot_use_crypto(test_${suite} openssl)
    add_test(NAME test_${suite}_sqlite COMMAND test_${suite})
    set_tests_properties(test_${suite}_sqlite PROPERTIES
      ENVIRONMENT "DROT_STORE_BACKEND=sqlite" LABELS "server;store;firmware" TIMEOUT 180)
    add_test(NAME test_${suite}_postgres COMMAND test_${suite})
    set_tests_properties(test_${suite}_postgres PROPERTIES
      ENVIRONMENT "DROT_STORE_BACKEND=postgres;DROT_PG_URL_FILE=${_drot_pgf_url};DROT_PG_SCHEMA=drot_${suite}"
      FIXTURES_REQUIRED drot_pg LABELS "server;store;firmware" TIMEOUT 180)
  endforeach()
endif()
