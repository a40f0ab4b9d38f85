# tools/fleet/fleet.cmake — drot-fleet (docs/fleet.md): simulated devices (the
# APM core in-process on the sim HAL, OpenSSL backend) running the agent's
# protocol (libdrot-host) against real drot-server processes. Included by
# tools/CMakeLists.txt.
if(TARGET drot_apm_sim AND TARGET drot_host)
  find_package(Threads REQUIRED)
  add_executable(drot-fleet ${CMAKE_CURRENT_LIST_DIR}/fleet_main.c ${CMAKE_CURRENT_LIST_DIR}/fleet_dev.c
                            ${CMAKE_CURRENT_LIST_DIR}/fleet_util.c ${CMAKE_CURRENT_LIST_DIR}/apm_inproc.c)
  target_include_directories(drot-fleet PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(drot-fleet PRIVATE drot_apm_core drot_apm_sim drot_host drot_common drot_sysrng
                        PkgConfig::JANSSON OpenSSL::Crypto Threads::Threads)
  drot_use_crypto(drot-fleet openssl)
endif()
