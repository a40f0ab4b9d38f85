# drot-fleet's smoke test (tests/host/fleet_smoke.sh, docs/fleet.md): four
# devices for a few seconds through every phase against a real drot-server
# on SQLite, and the failures it must report. The benchmarks themselves are
# `make bench` (tests/bench/bench_fleet.sh), not tests.
if(TARGET drot-fleet AND TARGET drot-server AND TARGET drotctl)
  add_test(NAME fleet_smoke COMMAND bash ${CMAKE_SOURCE_DIR}/tests/host/fleet_smoke.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(fleet_smoke PROPERTIES LABELS "host;e2e;fleet" TIMEOUT 180)
endif()
