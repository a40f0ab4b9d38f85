# Fuzz targets (tests/fuzz/, docs/fuzzing.md): one per message format.
#
# Always, with any compiler: each target is linked with tests/fuzz/fuzz_replay.c
# into drot-fuzz-replay-<target>, a plain program that runs the target over a
# corpus. CTest generates the seed corpora (fuzz-seeds, with drot's own
# encoders; nothing binary is committed) and replays each target over its
# corpus (fuzz-replay-<target>, label "fuzz"). A replay that reads no input
# fails: "replayed 0 inputs" does not match the pass expression.
#
# With -DDROT_FUZZ=ON and clang: also the libFuzzer binaries drot-fuzz-<target>
# (-fsanitize=fuzzer,address,undefined). They run for as long as they are
# asked to, so they are not CTest tests: scripts/fuzz.sh runs them.
option(DROT_FUZZ "Build libFuzzer fuzz targets (clang only; see scripts/fuzz.sh)" OFF)

set(DROT_FUZZ_TARGETS cbor cose eat hpke link link_fw rotate revocation)
set(DROT_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(DROT_FUZZ_CORPUS ${CMAKE_BINARY_DIR}/fuzz-corpus)

# Keys and seed messages shared by the targets and the seed generator.
add_library(drot_fuzz_fixtures STATIC ${DROT_FUZZ_DIR}/fuzz_fixtures.c)
target_include_directories(drot_fuzz_fixtures PUBLIC ${DROT_FUZZ_DIR})
target_link_libraries(drot_fuzz_fixtures PUBLIC drot_common)

add_executable(drot-fuzz-seeds ${DROT_FUZZ_DIR}/gen_seeds.c)
target_link_libraries(drot-fuzz-seeds PRIVATE drot_fuzz_fixtures drot_test_support PkgConfig::JANSSON)
drot_use_crypto(drot-fuzz-seeds openssl)
set_target_properties(drot-fuzz-seeds PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)

add_test(NAME fuzz-seeds COMMAND drot-fuzz-seeds ${DROT_FUZZ_CORPUS})
set_tests_properties(fuzz-seeds PROPERTIES
  FIXTURES_SETUP fuzz_corpus
  ENVIRONMENT "DROT_VECTORS_DIR=${DROT_VECTORS_DIR}"
  LABELS fuzz
  TIMEOUT 120)

foreach(t ${DROT_FUZZ_TARGETS})
  set(exe drot-fuzz-replay-${t})
  add_executable(${exe} ${DROT_FUZZ_DIR}/fuzz_${t}.c ${DROT_FUZZ_DIR}/fuzz_replay.c)
  target_link_libraries(${exe} PRIVATE drot_fuzz_fixtures)
  drot_use_crypto(${exe} openssl)
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)

  add_test(NAME fuzz-replay-${t} COMMAND ${exe} ${DROT_FUZZ_CORPUS}/${t})
  set_tests_properties(fuzz-replay-${t} PROPERTIES
    FIXTURES_REQUIRED fuzz_corpus
    PASS_REGULAR_EXPRESSION "replayed [1-9][0-9]* inputs"
    LABELS fuzz
    TIMEOUT 300)
endforeach()

if(DROT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DROT_FUZZ=ON needs clang (libFuzzer); configure with CC=clang")
  endif()
  # Instrument the code under test as well as the targets, so that coverage
  # feedback and ASan/UBSan see inside common/: a second build of its sources
  # with fuzzer-no-link (the crypto backend, OpenSSL, stays uninstrumented).
  set(fuzz_san address,undefined)
  set(fuzz_cflags -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  file(GLOB DROT_COMMON_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/common/src/*.c)
  add_library(drot_common_fuzz STATIC ${DROT_COMMON_FUZZ_SOURCES})
  target_include_directories(drot_common_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/common/include
                                                     ${CMAKE_SOURCE_DIR}/crypto/include)
  target_include_directories(drot_common_fuzz SYSTEM PUBLIC ${CBOR_INCLUDE_DIRS})
  target_link_libraries(drot_common_fuzz PUBLIC ${CBOR_LINK_LIBRARIES})
  target_compile_options(drot_common_fuzz PRIVATE -fsanitize=fuzzer-no-link,${fuzz_san} ${fuzz_cflags})
  foreach(t ${DROT_FUZZ_TARGETS})
    set(exe drot-fuzz-${t})
    add_executable(${exe} ${DROT_FUZZ_DIR}/fuzz_${t}.c ${DROT_FUZZ_DIR}/fuzz_fixtures.c)
    target_include_directories(${exe} PRIVATE ${DROT_FUZZ_DIR})
    target_link_libraries(${exe} PRIVATE drot_common_fuzz)
    drot_use_crypto(${exe} openssl)
    target_compile_options(${exe} PRIVATE -fsanitize=fuzzer,${fuzz_san} ${fuzz_cflags})
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer,${fuzz_san})
    set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  endforeach()
endif()
