# Revocation lists (docs/revocation.md): the codec and the SET_REVOCATION_LIST
# payloads (common/src/revocation.c, common/src/link_msg.c); the APM side
# (fw/src/revocation.c, fw/src/anchors.c) in-process on the sim HAL: storage,
# version rules, refusals, what a stored list makes the APM refuse, and a
# power-cut sweep.
drot_add_test(test_revocation SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_revocation.c LABELS "revocation;authority")

set(DROT_FW_TESTS ${CMAKE_SOURCE_DIR}/tests/fw)
drot_add_test(test_fw_revocation
  SOURCES ${DROT_FW_TESTS}/test_fw_revocation.c ${DROT_FW_TESTS}/fw_inst_util.c ${DROT_FW_TESTS}/fw_rot_util.c
          ${DROT_FW_TESTS}/fw_test_util.c
  LIBS drot_apm_core drot_apm_sim
  LABELS "fw;revocation")
foreach(b bearssl openssl)
  target_include_directories(test_fw_revocation-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${DROT_FW_TESTS})
endforeach()

# drot-agent revocations and dh_set_revocation_list against a real drot-apm
# process (tests/host/test_agent_revocation.c).
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent)
  drot_add_test(test_agent_revocation SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_agent_revocation.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng PkgConfig::JANSSON LABELS "host;e2e;revocation")
  target_include_directories(test_agent_revocation-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host
                             ${CMAKE_SOURCE_DIR}/fw/include)
  target_compile_definitions(test_agent_revocation-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
                             "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\"")
  add_dependencies(test_agent_revocation-openssl drot-apm drot-agent)
endif()

# Revocation end to end with real processes (tests/host/test_revocation_e2e.c):
# drotctl init and revoke, drot-apm devices with two authority anchors,
# drot-server on SQLite, drot-agent attest-once fetching and handing over lists.
if(TARGET drot_host AND TARGET drot-apm AND TARGET drot-agent AND TARGET drot-server AND TARGET drotctl)
  find_package(SQLite3 REQUIRED) # the test edits the server's database behind its back once
  drot_add_test(test_revocation_e2e SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_revocation_e2e.c
                ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c ${CMAKE_SOURCE_DIR}/tests/host/e2e_proc.c
                BACKENDS openssl LIBS drot_host drot_sysrng drot_server_rotate PkgConfig::JANSSON SQLite::SQLite3
                LABELS "host;e2e;revocation")
  target_include_directories(test_revocation_e2e-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host
                             ${CMAKE_SOURCE_DIR}/fw/include)
  target_compile_definitions(test_revocation_e2e-openssl PRIVATE
    "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"" "DROT_AGENT_BIN=\"$<TARGET_FILE:drot-agent>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_revocation_e2e-openssl drot-apm drot-agent drot-server drotctl)
  set_tests_properties(test_revocation_e2e-openssl PROPERTIES TIMEOUT 300)
endif()
