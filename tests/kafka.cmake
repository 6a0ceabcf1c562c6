# Kafka sink tests: the sensor against librdkafka's mock cluster (tests/kafka/mock_broker),
# read back with kcat. Each case is one test; see tests/kafka/kafka_test.py.
find_program(KCAT_EXECUTABLE kcat)
if(NOT KCAT_EXECUTABLE)
  message(WARNING "kcat not found: the Kafka sink tests are not registered (.ci/install-deps)")
  return()
endif()

foreach(kafka_case replay broker-late outage spool restart unreachable options)
  add_test(NAME kafka.${kafka_case}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/kafka/kafka_test.py
                   --binary $<TARGET_FILE:op25b-watch> --mock-broker $<TARGET_FILE:mock_broker>
                   --kcat ${KCAT_EXECUTABLE} --source-dir ${CMAKE_SOURCE_DIR}
                   --case ${kafka_case})
  set_tests_properties(kafka.${kafka_case} PROPERTIES TIMEOUT 60)
endforeach()
