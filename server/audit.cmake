# server/audit.cmake — the audit log (src/audit.c, src/audit_chain.c;
# docs/audit.md). Included by server/CMakeLists.txt, which includes every
# server/*.cmake.
#
#   drot_audit_chain  the hash chain and checkpoint digests as pure functions
#                     (SHA-256 through the crypto port): drot-server writes
#                     the chain with them, drotctl audit verify recomputes it.
#   audit.c           appends, lists, checks and checkpoints, in the storage
#                     library drot_server_store (portable SQL, sql.h).
# The storage tests are in tests/cmake/server_store_audit.cmake.
add_library(drot_audit_chain STATIC ${CMAKE_CURRENT_LIST_DIR}/src/audit_chain.c)
target_include_directories(drot_audit_chain PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src)
target_link_libraries(drot_audit_chain PUBLIC drot_common)

target_sources(drot_server_store PRIVATE ${CMAKE_CURRENT_LIST_DIR}/src/audit.c)
target_link_libraries(drot_server_store PUBLIC drot_audit_chain PkgConfig::JANSSON)
