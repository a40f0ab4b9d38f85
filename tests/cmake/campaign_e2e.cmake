# A rotation campaign carried out through two drot-server processes on one
# PostgreSQL database (tests/host/test_campaign_e2e.c), with a private
# cluster of its own (/tmp/drot-pgc-<hash>) so that it never collides with
# the other PostgreSQL tests' clusters when ctest runs in parallel.
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl)
  drot_add_test(test_campaign_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_campaign_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e;drot")
  target_compile_definitions(test_campaign_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_campaign_e2e-openssl drot-apm drot-agent drot-server drotctl)

  string(MD5 _drot_pgc_hash "${CMAKE_BINARY_DIR}")
  string(SUBSTRING "${_drot_pgc_hash}" 0 10 _drot_pgc_hash)
  set(DROT_PGC_TEST_DIR "/tmp/drot-pgc-${_drot_pgc_hash}")
  set(_pgc_script ${CMAKE_SOURCE_DIR}/tests/support/pg_cluster.sh)
  add_test(NAME campaign_pg_start COMMAND bash ${_pgc_script} start ${DROT_PGC_TEST_DIR})
  add_test(NAME campaign_pg_stop COMMAND bash ${_pgc_script} stop ${DROT_PGC_TEST_DIR})
  set_tests_properties(campaign_pg_start PROPERTIES FIXTURES_SETUP drot_pg_campaign LABELS "drot" TIMEOUT 120)
  set_tests_properties(campaign_pg_stop PROPERTIES FIXTURES_CLEANUP drot_pg_campaign LABELS "drot" TIMEOUT 60)
  set_tests_properties(test_campaign_e2e-openssl PROPERTIES FIXTURES_REQUIRED drot_pg_campaign
    ENVIRONMENT "DROT_PG_URL_FILE=${DROT_PGC_TEST_DIR}/url" TIMEOUT 300)
endif()
