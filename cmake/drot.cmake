# Helpers shared by every CMakeLists.txt.

# drot_use_crypto(<target> <bearssl|openssl>)
# Links exactly one crypto backend into <target>. A second call with another
# backend is a configuration error: the two backends define the same symbols,
# and a static link would silently take whichever comes first.
function(drot_use_crypto target backend)
  if(NOT backend MATCHES "^(bearssl|openssl)$")
    message(FATAL_ERROR "drot_use_crypto(${target}): unknown backend '${backend}' (bearssl or openssl)")
  endif()
  get_target_property(have ${target} DROT_CRYPTO_BACKEND)
  if(have AND NOT have STREQUAL backend)
    message(FATAL_ERROR "drot: target ${target} already links crypto backend '${have}'; "
                        "exactly one backend per target (asked to add '${backend}')")
  endif()
  set_target_properties(${target} PROPERTIES DROT_CRYPTO_BACKEND ${backend})
  string(TOUPPER ${backend} up)
  target_compile_definitions(${target} PRIVATE DROT_CRYPTO_BACKEND_${up}=1)
  target_link_libraries(${target} PRIVATE drot_crypto_${backend})
endfunction()

# drot_add_test(<name> SOURCES <src...> [BACKENDS <b...>] [LIBS <lib...>] [LABELS <l...>])
# Builds tests/<name>-<backend> for each backend (default: both) and registers
# it with CTest. Every test gets DROT_VECTORS_DIR in its environment.
function(drot_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;BACKENDS;LIBS;LABELS" ${ARGN})
  if(NOT T_BACKENDS)
    set(T_BACKENDS bearssl openssl)
  endif()
  foreach(b ${T_BACKENDS})
    set(exe ${name}-${b})
    add_executable(${exe} ${T_SOURCES})
    target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
    target_link_libraries(${exe} PRIVATE drot_common drot_test_support ${T_LIBS} PkgConfig::CMOCKA)
    drot_use_crypto(${exe} ${b})
    add_test(NAME ${exe} COMMAND ${exe})
    set_tests_properties(${exe} PROPERTIES
      ENVIRONMENT "DROT_VECTORS_DIR=${DROT_VECTORS_DIR};DROT_BUILD_DIR=${CMAKE_BINARY_DIR}"
      LABELS "${b};${T_LABELS}"
      TIMEOUT 300)
  endforeach()
endfunction()
