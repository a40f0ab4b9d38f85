# HPKE (RFC 9180) base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM:
# common/src/hpke.c against RFC 9180 Appendix A.3 (embedded, and from
# hpke/rfc9180-appendix-a.json when the vectors folder is present), once per backend.
#
# The test links its own build of hpke.c with DROT_HPKE_TEST_HOOKS, which adds
# the hooks that reveal the KEM shared secret (to check Appendix A's
# shared_secret). An object on the link line takes precedence over the
# archive's hpke.o, which is never pulled in.
drot_add_test(test_hpke SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_hpke.c ${CMAKE_SOURCE_DIR}/common/src/hpke.c)
foreach(b bearssl openssl)
  target_compile_definitions(test_hpke-${b} PRIVATE DROT_HPKE_TEST_HOOKS=1)
endforeach()

# The file-driven vectors as their own CTest entry, reported as skipped
# (not passed) when ../shared/vectors is absent.
foreach(b bearssl openssl)
  add_test(NAME test_hpke_vectors-${b} COMMAND test_hpke-${b} --vector-file)
  set_tests_properties(test_hpke_vectors-${b} PROPERTIES
    ENVIRONMENT "DROT_VECTORS_DIR=${DROT_VECTORS_DIR}"
    SKIP_REGULAR_EXPRESSION "SKIP: "
    LABELS "${b};vectors")
endforeach()
