# Authority-signed objects (common/src/authority.c) and the firmware manifests
# they carry (common/src/manifest.c); docs/authority.md describes both.
drot_add_test(test_authority SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_authority.c LABELS authority)
drot_add_test(test_manifest SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_manifest.c LABELS authority)
