# EAT/PSA claims-set codec (common/src/eat.c, docs/token.md).
drot_add_test(test_eat SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_eat.c)
