# libdrot-host against a real drot-apm process (tests/host/test_host_driver.c):
# session, every request, the attestation handler, APM killed and restarted,
# wrong link key, a silent APM, forged and replayed frames.
if(TARGET drot_host AND TARGET drot-apm)
  find_package(Threads REQUIRED)
  drot_add_test(test_host_driver SOURCES ${CMAKE_SOURCE_DIR}/tests/host/test_host_driver.c
                BACKENDS openssl LIBS drot_host drot_sysrng Threads::Threads PkgConfig::JANSSON LABELS "host;e2e")
  target_compile_definitions(test_host_driver-openssl PRIVATE "DROT_APM_BIN=\"$<TARGET_FILE:drot-apm>\"")
  add_dependencies(test_host_driver-openssl drot-apm)
endif()
