# Key custody and the certificate authorities (docs/keys.md): the library
# drot_server_keys, the operator tool drotctl (tools/drotctl.c) and their
# tests. Included by server/CMakeLists.txt, which includes every
# server/*.cmake; paths are relative to this file so it works from there.
set(DS_KEYS_SRC ${CMAKE_CURRENT_LIST_DIR}/src)

add_library(drot_server_keys STATIC ${DS_KEYS_SRC}/keys.c ${DS_KEYS_SRC}/keys_file.c ${DS_KEYS_SRC}/keys_file_meta.c
                             ${DS_KEYS_SRC}/ca.c)
target_include_directories(drot_server_keys PUBLIC ${DS_KEYS_SRC})
# Threads: the process-wide lock of a key's metadata (keys_file.c, invariant 5).
find_package(Threads REQUIRED)
target_link_libraries(drot_server_keys PUBLIC OpenSSL::Crypto drot_common PkgConfig::JANSSON Threads::Threads)

add_executable(drotctl ${CMAKE_SOURCE_DIR}/tools/drotctl.c ${CMAKE_SOURCE_DIR}/tools/drotctl_rotate.c
                       ${CMAKE_SOURCE_DIR}/tools/drotctl_firmware.c)
target_link_libraries(drotctl PRIVATE drot_server_keys)
drot_use_crypto(drotctl ${DROT_CRYPTO})

drot_add_test(test_keys SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_keys.c
              BACKENDS openssl LIBS drot_server_keys LABELS "server")
target_compile_definitions(test_keys-openssl PRIVATE "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
add_dependencies(test_keys-openssl drotctl)

drot_add_test(test_ca SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_ca.c
              BACKENDS openssl LIBS drot_server_keys LABELS "server")
