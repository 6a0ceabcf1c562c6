# Scenario tests: hand-written expectations and reviewed golden events for the captures
# in pcaps/, which tests/gen/scenarios.c writes.
set(SCENARIO_DIR ${CMAKE_SOURCE_DIR}/tests/scenarios)

# The committed captures must be exactly what the generator writes today.
add_test(NAME scenario.captures-match-generator
         COMMAND ${CMAKE_COMMAND} -DGENERATOR=$<TARGET_FILE:scenarios>
                 -DOUTDIR=${CMAKE_CURRENT_BINARY_DIR}/scenario-pcaps
                 -DPCAPDIR=${CMAKE_SOURCE_DIR}/pcaps
                 -P ${CMAKE_SOURCE_DIR}/tests/gen/compare_captures.cmake)

file(STRINGS ${SCENARIO_DIR}/manifest.txt SCENARIO_LINES REGEX "^[a-z]")
foreach(line ${SCENARIO_LINES})
  string(REGEX MATCH "^[^ ]+" scenario ${line})
  add_test(NAME scenario.${scenario}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/scenario_test.py
                   --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR}
                   --name ${scenario})
  set_tests_properties(scenario.${scenario} PROPERTIES TIMEOUT 120)
endforeach()
