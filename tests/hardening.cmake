# Resource exhaustion: a spoofed SYN flood against a small flow bound.
add_test(NAME hardening.memory-bound
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/memory_bound_test.py
                 --binary $<TARGET_FILE:op25b-watch> --flood $<TARGET_FILE:flood>
                 --source-dir ${CMAKE_SOURCE_DIR}
                 --work-dir ${CMAKE_CURRENT_BINARY_DIR}/memory-bound
                 --sanitized=$<BOOL:${OP25B_SANITIZE}>)
set_tests_properties(hardening.memory-bound PROPERTIES TIMEOUT 300)

# The shipped systemd unit: valid and hardened.
add_test(NAME hardening.systemd-unit
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/systemd_test.py
                 --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR}
                 --work-dir ${CMAKE_CURRENT_BINARY_DIR}/systemd)
set_tests_properties(hardening.systemd-unit PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
