# The audit report (--report): every scenario of the manifest replayed with a JSON, HTML
# and text report whose numbers are checked against the .expect files and the events; the
# HTML in headless Chromium; SIGINT; file errors; the progress line on a pty.
set(REPORT_TEST ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/report_test.py
    --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR}
    --work-dir ${CMAKE_CURRENT_BINARY_DIR}/report)

file(STRINGS ${CMAKE_SOURCE_DIR}/tests/scenarios/manifest.txt REPORT_SCENARIOS REGEX "^[a-z]")
foreach(line ${REPORT_SCENARIOS})
  string(REGEX MATCH "^[^ ]+" scenario ${line})
  add_test(NAME report.scenario.${scenario}
           COMMAND ${REPORT_TEST} --only scenario --scenario ${scenario})
  set_tests_properties(report.scenario.${scenario} PROPERTIES TIMEOUT 120)
endforeach()

foreach(part html signal cli progress)
  add_test(NAME report.${part} COMMAND ${REPORT_TEST} --only ${part})
  set_tests_properties(report.${part} PROPERTIES TIMEOUT 300)
endforeach()
