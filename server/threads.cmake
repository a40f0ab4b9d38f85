# server/threads.cmake — drot-server's worker threads (src/http.c, --threads;
# docs/operations.md "Threads and shutdown"): libevent's own locking
# (evthread_use_pthreads, libevent_pthreads) and the concurrent end-to-end
# test. Included by server/CMakeLists.txt after http.cmake.
if(TARGET drot-server)
  pkg_check_modules(LIBEVENT_PTHREADS REQUIRED IMPORTED_TARGET libevent_pthreads)
  find_package(Threads REQUIRED)
  target_link_libraries(drot-server PRIVATE PkgConfig::LIBEVENT_PTHREADS Threads::Threads)
endif()

# 8 client threads against drot-server --threads 4: challenges and real
# attestations concurrently, /metrics counts, ds_store_check, SIGTERM.
if(TARGET drot-server AND LIBCURL_FOUND AND TARGET drot_host AND TARGET drot-apm)
  drot_add_test(test_threads
    SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_threads.c ${CMAKE_SOURCE_DIR}/tests/server/srv_client.c
            ${CMAKE_SOURCE_DIR}/tests/host/apm_proc.c
    BACKENDS openssl
    LIBS drot_host drot_sysrng drot_server_store PkgConfig::LIBCURL OpenSSL::SSL PkgConfig::JANSSON
         Threads::Threads
    LABELS "server;e2e")
  target_include_directories(test_threads-openssl PRIVATE ${CMAKE_SOURCE_DIR}/tests/host)
  target_compile_definitions(test_threads-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\""
    "DROT_SERVER_BIN=\"$<TARGET_FILE:drot-server>\"" "DROTCTL_BIN=\"$<TARGET_FILE:drotctl>\"")
  add_dependencies(test_threads-openssl drot-apm drot-server drotctl)
endif()
