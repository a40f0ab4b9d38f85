# CBOR writer/reader (common/src/cbor.c).
drot_add_test(test_cbor SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_cbor.c)
