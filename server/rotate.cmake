# server/rotate.cmake — the server's side of a DRoT device-root-key rotation
# (server/src/rotation.c; docs/drot.md): KeyA generation and sealing, the
# authority-signed instruction or endorsement, and the receipt check.
# Included by server/CMakeLists.txt.
add_library(drot_server_rotate STATIC ${CMAKE_SOURCE_DIR}/server/src/rotation.c)
target_include_directories(drot_server_rotate PUBLIC ${CMAKE_SOURCE_DIR}/server/src)
target_link_libraries(drot_server_rotate PUBLIC drot_server_keys drot_common drot_sysrng)

drot_add_test(test_rotation SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_rotation.c
              BACKENDS openssl LIBS drot_server_rotate LABELS server)
