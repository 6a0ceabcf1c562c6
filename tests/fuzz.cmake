# Fuzz targets (tests/fuzz): libFuzzer with clang, built by tests/fuzz/run_fuzz.sh into
# build/fuzz apart from the gcc build, then each run for OP25B_FUZZ_SECONDS. One compile
# step serves the six runs (a ctest fixture). `ctest -L fuzz` runs only these and
# `ctest -LE fuzz` leaves them out; without clang they are reported as skipped.
set(OP25B_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz target runs under ctest")
find_program(OP25B_FUZZ_CC NAMES clang clang-14 DOC "clang with libFuzzer, for tests/fuzz")

set(FUZZ_SCRIPT ${CMAKE_SOURCE_DIR}/tests/fuzz/run_fuzz.sh)
set(FUZZ_ENVIRONMENT
    OP25B_FUZZ_DIR=${CMAKE_BINARY_DIR}/fuzz
    OP25B_FUZZ_CC=${OP25B_FUZZ_CC}
    OP25B_CORPUS_DIR=${OP25B_CORPUS_DIR}
    PYTHON=${Python3_EXECUTABLE})

add_test(NAME fuzz.build COMMAND sh ${FUZZ_SCRIPT} --build)
set_tests_properties(fuzz.build PROPERTIES
    FIXTURES_SETUP fuzz_binaries
    ENVIRONMENT "${FUZZ_ENVIRONMENT}"
    LABELS fuzz
    SKIP_RETURN_CODE 77
    TIMEOUT 900)

# Compiling is the fixture's work; the rest is the fuzzing time plus seeds and replays.
math(EXPR FUZZ_TIMEOUT "${OP25B_FUZZ_SECONDS} + 300")
foreach(target decode smtp policy sensor dns mail_login)
  add_test(NAME fuzz.${target} COMMAND sh ${FUZZ_SCRIPT} ${target} ${OP25B_FUZZ_SECONDS})
  set_tests_properties(fuzz.${target} PROPERTIES
      FIXTURES_REQUIRED fuzz_binaries
      ENVIRONMENT "${FUZZ_ENVIRONMENT}"
      LABELS fuzz
      SKIP_RETURN_CODE 77
      TIMEOUT ${FUZZ_TIMEOUT})
endforeach()
