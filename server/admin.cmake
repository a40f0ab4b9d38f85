# server/admin.cmake — the admin API of drot-server (src/admin.c, docs/api.md
# "Admin API"), the drotctl operator commands that call it (tools/drotctl.c)
# and their end-to-end test. Included by server/CMakeLists.txt before
# http.cmake and keys.cmake (alphabetical), which define drot-server and
# drotctl: the wiring is deferred to the end of this directory.
set(DS_ADMIN_SRC ${CMAKE_CURRENT_LIST_DIR}/src)

function(drot_admin_wire)
  target_sources(drot-server PRIVATE ${DS_ADMIN_SRC}/admin.c ${DS_ADMIN_SRC}/admin_rotate.c)
  if(NOT LIBCURL_FOUND)
    message(FATAL_ERROR "drotctl's admin commands need libcurl (libcurl4-openssl-dev)")
  endif()
  target_link_libraries(drotctl PRIVATE PkgConfig::LIBCURL OpenSSL::SSL OpenSSL::Crypto PkgConfig::JANSSON)
  if(TARGET drot_host AND TARGET drot-apm)
    drot_add_test(test_admin
      SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_admin.c ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
      BACKENDS openssl
      LIBS drot_host drot_sysrng drot_server_store PkgConfig::LIBCURL OpenSSL::SSL PkgConfig::JANSSON
      LABELS "server;e2e")
    target_include_directories(test_admin-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host)
    target_compile_definitions(test_admin-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
      "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
    add_dependencies(test_admin-openssl drot-apm drot-server drotctl)
  endif()
endfunction()
cmake_language(DEFER CALL drot_admin_wire)
