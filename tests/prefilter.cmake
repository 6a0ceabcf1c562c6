# The policy's prefilter (src/prefilter.h) against the scenarios and tests/corpus: the
# same detections with and without it. tests/prefilter_test.py says what it compares.
add_test(NAME prefilter.same-detections
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/prefilter_test.py
                 --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR}
                 --corpus-dir ${OP25B_CORPUS_DIR})
set_tests_properties(prefilter.same-detections PROPERTIES TIMEOUT 300)
