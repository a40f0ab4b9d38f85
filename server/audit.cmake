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

# drot-server (http.cmake) and drotctl (keys.cmake) are defined after this
# file (alphabetical order): their audit parts are wired at the end of the
# directory, before rotate.cmake's crash-test copy of drot-server (deferred
# calls run in the order they were registered).
#   audit_server.c  the checkpoint signer on key custody, ds_audit_record
#   admin_audit.c   GET /v1/admin/audit…, POST /v1/admin/audit/checkpoint
#   drotctl_audit.c drotctl audit list | verify | checkpoint | export-key
function(drot_audit_wire)
  target_sources(drot-server PRIVATE ${DS_AUDIT_SRC}/audit_server.c ${DS_AUDIT_SRC}/admin_audit.c)
  target_sources(drotctl PRIVATE ${CMAKE_SOURCE_DIR}/tools/drotctl_audit.c)
  target_link_libraries(drotctl PRIVATE drot_audit_chain)
endfunction()
set(DS_AUDIT_SRC ${CMAKE_CURRENT_LIST_DIR}/src)
cmake_language(DEFER CALL drot_audit_wire)
