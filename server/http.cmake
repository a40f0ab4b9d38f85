# server/http.cmake — drot-server itself: the TLS 1.3 HTTPS front end on
# libevent (src/http.c), the device routes (src/routes*.c) and main.c;
# docs/api.md, docs/operations.md. Included by server/CMakeLists.txt.
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent_openssl)
pkg_check_modules(LIBCURL IMPORTED_TARGET libcurl)
set(DS_HTTP_SRC ${CMAKE_CURRENT_LIST_DIR}/src)

add_executable(drot-server ${DS_HTTP_SRC}/main.c ${DS_HTTP_SRC}/http.c ${DS_HTTP_SRC}/routes.c
                           ${DS_HTTP_SRC}/routes_verify.c ${DS_HTTP_SRC}/routes_rotate.c)
target_link_libraries(drot-server PRIVATE drot_server_store drot_server_verify drot_server_keys drot_server_rotate
                      PkgConfig::LIBEVENT OpenSSL::SSL OpenSSL::Crypto PkgConfig::JANSSON)
drot_use_crypto(drot-server ${DROT_CRYPTO})

# End to end: drotctl init, drot-apm provision + run, drot-server, and a
# libcurl client computing its own connection's exporter.
if(LIBCURL_FOUND AND TARGET drot_host AND TARGET drot-apm)
  drot_add_test(test_server_e2e
    SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_server_e2e.c ${CMAKE_SOURCE_DIR}/tests/server/srv_client.c
            ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
    BACKENDS openssl
    LIBS drot_host drot_sysrng drot_server_store PkgConfig::LIBCURL OpenSSL::SSL PkgConfig::JANSSON
    LABELS "server;e2e")
  target_include_directories(test_server_e2e-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host)
  target_compile_definitions(test_server_e2e-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_server_e2e-openssl drot-apm drot-server drotctl)
endif()
