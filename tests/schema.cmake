# The event schema (dashboards/events.schema.json, documented in dashboards/events.md): every
# committed golden line and every scenario of the manifest, replayed now, must follow it, and
# the documentation must name every type and field the schema has.
add_test(NAME schema.events
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/schema_test.py
                 --binary $<TARGET_FILE:op25b-watch> --source-dir ${CMAKE_SOURCE_DIR})
set_tests_properties(schema.events PROPERTIES TIMEOUT 300)
