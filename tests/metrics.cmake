# The Prometheus endpoint (--metrics): a real Prometheus scraping a streamed replay and every
# dashboard query evaluated against it; listening addresses; live capture on loopback
# (skipped, exit 77, where capturing is not permitted).
foreach(part prometheus cli live)
  add_test(NAME metrics.${part}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/metrics_test.py
                   --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR}
                   --work-dir ${CMAKE_CURRENT_BINARY_DIR}/metrics-${part} --only ${part})
  set_tests_properties(metrics.${part} PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77)
endforeach()
