# COSE_Sign1 / ES256 (common/src/cose.c): unit tests with embedded COSE WG
# examples, and the file-driven run over $DROT_VECTORS_DIR/cose.
drot_add_test(test_cose SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_cose.c LABELS cose)
drot_add_test(test_cose_vectors SOURCES ${CMAKE_SOURCE_DIR}/tests/vectors/test_cose_vectors.c LABELS cose)
# Without $DROT_VECTORS_DIR the vector tests call cmocka's skip() and print
# "SKIP: ..."; make CTest report them as skipped rather than passed.
foreach(b bearssl openssl)
  set_tests_properties(test_cose_vectors-${b} PROPERTIES SKIP_REGULAR_EXPRESSION "SKIP: ")
endforeach()
