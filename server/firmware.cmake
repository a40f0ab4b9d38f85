# server/firmware.cmake — the firmware repository, releases, staged rollouts
# and firmware jobs (src/firmware.c, firmware_rollout.c, firmware_jobs.c;
# docs/firmware.md),
# their admin routes (src/admin_firmware.c) and device routes
# (src/routes_firmware.c). Included by server/CMakeLists.txt; drot-server is
# defined later (http.cmake), so the wiring into it is deferred, like
# admin.cmake's.
add_library(drot_server_firmware STATIC ${CMAKE_CURRENT_LIST_DIR}/src/firmware.c
                                        ${CMAKE_CURRENT_LIST_DIR}/src/firmware_rollout.c
                                        ${CMAKE_CURRENT_LIST_DIR}/src/firmware_jobs.c)
target_include_directories(drot_server_firmware PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src)
target_link_libraries(drot_server_firmware PUBLIC drot_server_store drot_common)

function(drot_firmware_wire)
  target_sources(drot-server PRIVATE ${CMAKE_SOURCE_DIR}/server/src/admin_firmware.c
                                     ${CMAKE_SOURCE_DIR}/server/src/routes_firmware.c)
  target_link_libraries(drot-server PRIVATE drot_server_firmware)
endfunction()
cmake_language(DEFER CALL drot_firmware_wire)
