# Benchmarks (tests/bench/, docs/performance.md). Benchmarks are not tests:
# `make bench` runs them. Each is built once per crypto backend into
# ${CMAKE_BINARY_DIR}/tests/bench/. The only thing CTest runs is a smoke test
# per backend (label "bench-smoke"): a few iterations of every measured
# operation, checking that each one succeeds, so the benchmark cannot rot.
# It prints nothing about speed.
foreach(b bearssl openssl)
  set(exe drot-bench-crypto-${b})
  add_executable(${exe} ${CMAKE_SOURCE_DIR}/tests/bench/bench_crypto.c)
  target_link_libraries(${exe} PRIVATE drot_common drot_sysrng)
  drot_use_crypto(${exe} ${b})
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bench)
  add_test(NAME bench_smoke-${b} COMMAND ${exe} --smoke)
  set_tests_properties(bench_smoke-${b} PROPERTIES LABELS "bench-smoke;${b}" TIMEOUT 120)
endforeach()

# The APM token cost (tests/bench/bench_apm.c): the APM core in-process
# (tools/fleet/apm_inproc.c) answering GET_TOKEN over a real link session,
# against one raw ECDSA P-256 sign, for each backend. CTest runs --smoke.
if(TARGET drot_apm_sim AND TARGET drot_host)
  foreach(b bearssl openssl)
    set(exe drot-bench-apm-${b})
    add_executable(${exe} ${CMAKE_SOURCE_DIR}/tests/bench/bench_apm.c ${CMAKE_SOURCE_DIR}/tools/fleet/apm_inproc.c)
    target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/tools/fleet)
    target_link_libraries(${exe} PRIVATE drot_apm_core drot_apm_sim drot_host drot_common drot_sysrng)
    drot_use_crypto(${exe} ${b})
    set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bench)
    add_test(NAME bench_apm_smoke-${b} COMMAND ${exe} --smoke)
    set_tests_properties(bench_apm_smoke-${b} PROPERTIES LABELS "bench-smoke;${b}" TIMEOUT 120)
  endforeach()
endif()

# The registry-growth benchmark's filler (tests/bench/bench_fill.c): bulk
# registration through the store API, for `make bench` only.
if(TARGET drot_server_store)
  add_executable(drot-bench-fill ${CMAKE_SOURCE_DIR}/tests/bench/bench_fill.c)
  target_link_libraries(drot-bench-fill PRIVATE drot_server_store drot_common)
  drot_use_crypto(drot-bench-fill openssl)
  set_target_properties(drot-bench-fill PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bench)
endif()
