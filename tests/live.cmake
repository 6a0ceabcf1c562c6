# Live capture on a veth pair inside the test's own network namespace (skipped, exit 77,
# where namespaces cannot be made).
add_test(NAME live.veth
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/live_test.py
                 --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR})
set_tests_properties(live.veth PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77)
