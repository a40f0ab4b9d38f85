# DRoT (docs/drot.md): the message codecs (common/src/rotate.c) and their
# link payloads; the APM side (fw/src/rotate.c) in-process on the sim HAL:
# both key-rotation modes, anchor rotation, attacks and power-cut sweeps.
drot_add_test(test_rotate SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_rotate.c LABELS "drot;authority")

set(DROT_FW_TESTS ${CMAKE_SOURCE_DIR}/tests/fw)
foreach(t test_fw_rotate test_fw_anchor test_fw_rotate_link)
  drot_add_test(${t}
    SOURCES ${DROT_FW_TESTS}/${t}.c ${DROT_FW_TESTS}/fw_rot_util.c ${DROT_FW_TESTS}/fw_test_util.c
    LIBS drot_apm_core drot_apm_sim
    LABELS "fw;drot")
  foreach(b bearssl openssl)
    target_include_directories(${t}-${b} PRIVATE ${CMAKE_SOURCE_DIR}/fw/src ${DROT_FW_TESTS})
  endforeach()
endforeach()
