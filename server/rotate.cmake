# server/rotate.cmake — the server's side of a DRoT device-root-key rotation
# (server/src/rotation.c; docs/drot.md): KeyA generation and sealing, the
# authority-signed instruction or endorsement, and the receipt check.
# Included by server/CMakeLists.txt.
add_library(drot_server_rotate STATIC ${CMAKE_SOURCE_DIR}/server/src/rotation.c)
target_include_directories(drot_server_rotate PUBLIC ${CMAKE_SOURCE_DIR}/server/src)
target_link_libraries(drot_server_rotate PUBLIC drot_server_keys drot_common drot_sysrng)

drot_add_test(test_rotation SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_rotation.c
              BACKENDS openssl LIBS drot_server_rotate LABELS server)

# drot-server-crashtest: drot-server built with DROT_SERVER_TEST_HOOKS, which
# dies at a named step of a rotation job (DROT_SERVER_CRASH_AT; routes_rotate.c)
# so that test_rotate_e2e can restart the server after each step. Made from
# drot-server's own sources and settings once every part has added its own
# (deferred, like admin.cmake's wiring, which runs first).
function(drot_crashtest_wire)
  get_target_property(_srcs drot-server SOURCES)
  get_target_property(_libs drot-server LINK_LIBRARIES)
  get_target_property(_defs drot-server COMPILE_DEFINITIONS)
  add_executable(drot-server-crashtest ${_srcs})
  target_link_libraries(drot-server-crashtest PRIVATE ${_libs})
  target_compile_definitions(drot-server-crashtest PRIVATE ${_defs} DROT_SERVER_TEST_HOOKS)
  # The hook must never reach drot-server itself; the crash-test build is
  # the control that shows the check can see it.
  add_test(NAME check_no_crash_hook
    COMMAND sh -c "! grep -q DROT_SERVER_CRASH_AT \"$1\" && grep -q DROT_SERVER_CRASH_AT \"$2\""
            check $<TARGET_FILE:drot-server> $<TARGET_FILE:drot-server-crashtest>)
  set_tests_properties(check_no_crash_hook PROPERTIES LABELS "server;static")
endfunction()
cmake_language(DEFER CALL drot_crashtest_wire)
