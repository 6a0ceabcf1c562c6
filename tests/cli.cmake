# The command line as a user meets it: options, exit statuses, policy errors, input forms.
foreach(part version-help check policy-errors inputs damaged-inputs signals privileges)
  add_test(NAME cli.${part}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/cli_test.py
                   --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR}
                   --work-dir ${CMAKE_CURRENT_BINARY_DIR}/cli --only ${part})
  set_tests_properties(cli.${part} PROPERTIES TIMEOUT 120)
endforeach()
