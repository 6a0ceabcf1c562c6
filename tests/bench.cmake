# The throughput benchmark's smoke run (issue #7): tiny captures from tests/bench/gen_bench
# through the bare read loop, op25b-watch (also with a small flow bound) and the peers that
# are installed. It checks that the sensor counted every packet and every attempt, gave the
# verdicts the captures imply and counted evictions under the bound; it asserts no timing.
# The full benchmark is run by hand: python3 tests/bench/run_bench.py (see the README).
add_test(NAME bench.smoke
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/bench/run_bench.py --smoke
                 --sensor $<TARGET_FILE:op25b-watch> --gen-bench $<TARGET_FILE:gen_bench>
                 --pcap-loop $<TARGET_FILE:pcap_loop> --state-floor $<TARGET_FILE:state_floor>
                 --measure $<TARGET_FILE:measure>
                 --work-dir ${CMAKE_CURRENT_BINARY_DIR}/bench-smoke)
set_tests_properties(bench.smoke PROPERTIES TIMEOUT 300)

# The live flood of spoofed SYNs (gen_bench spoofed, for live_bench.py --workers): its
# sources, read from the capture, must each be reported as spoofed, and nothing else.
add_test(NAME bench.spoofed-capture
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/bench/check_spoofed.py
                 --sensor $<TARGET_FILE:op25b-watch> --gen-bench $<TARGET_FILE:gen_bench>
                 --policy ${CMAKE_SOURCE_DIR}/tests/bench/bench.yaml
                 --work-dir ${CMAKE_CURRENT_BINARY_DIR}/bench-spoofed)
