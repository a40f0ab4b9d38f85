# Host <-> APM link (common/src/link.c, common/src/link_msg.c): frames,
# sessions and payload codecs, with frames computed outside drot embedded.
drot_add_test(test_link SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_link.c LABELS link)
drot_add_test(test_link_msg SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_link_msg.c LABELS link)
