# cmake -P script: regenerate the scenario captures and compare them with pcaps/.
file(REMOVE_RECURSE ${OUTDIR})
file(MAKE_DIRECTORY ${OUTDIR})
execute_process(COMMAND ${GENERATOR} ${OUTDIR} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "scenario generator failed: ${status}")
endif()
file(GLOB generated RELATIVE ${OUTDIR} ${OUTDIR}/*.pcap ${OUTDIR}/*.pcapng)
foreach(name ${generated})
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUTDIR}/${name}
                          ${PCAPDIR}/${name} RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    message(FATAL_ERROR "pcaps/${name} differs from what tests/gen/scenarios writes; "
                        "regenerate: build/tests/gen/scenarios pcaps")
  endif()
endforeach()
message(STATUS "${generated} match")
