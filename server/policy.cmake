# server/policy.cmake — the policy engine of drot-server (docs/policy.md):
# the policy document parser (src/policy.c), shared with drotctl's offline
# `policy validate`; its unit tests. Included by server/CMakeLists.txt.
add_library(drot_server_policy STATIC ${CMAKE_SOURCE_DIR}/server/src/policy.c
                                      ${CMAKE_SOURCE_DIR}/server/src/policy_dupes.c)
target_include_directories(drot_server_policy PUBLIC ${CMAKE_SOURCE_DIR}/server/src)
target_link_libraries(drot_server_policy PUBLIC drot_server_verify PkgConfig::JANSSON)

drot_add_test(test_policy SOURCES ${CMAKE_SOURCE_DIR}/tests/server/test_policy.c
              BACKENDS openssl LIBS drot_server_policy LABELS "server;policy")
