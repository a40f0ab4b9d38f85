# Revocation lists (docs/revocation.md): the codec and the SET_REVOCATION_LIST
# payloads (common/src/revocation.c, common/src/link_msg.c); the APM side
# (fw/src/revocation.c, fw/src/anchors.c) in-process on the sim HAL: storage,
# version rules, refusals, what a stored list makes the APM refuse, and a
# power-cut sweep.
drot_add_test(test_revocation SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_revocation.c LABELS "revocation;authority")

set(DROT_FW_TESTS ${CMAKE_SOURCE_DIR}/tests/fw)
drot_add_test(test_fw_revocation
  SOURCES ${DROT_FW_TESTS}/test_fw_revocation.c ${DROT_FW_TESTS}/fw_rot_util.c ${DROT_FW_TESTS}/fw_test_util.c
  LIBS drot_apm_core drot_apm_sim
  LABELS "fw;revocation")
foreach(b bearssl openssl)
  target_include_directories(test_fw_revocation-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${DROT_FW_TESTS})
endforeach()
