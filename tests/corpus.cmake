# Corpus tests: the sensor against third-party captures (Zeek, Suricata, nDPI, tcpdump test
# suites) in the shared corpus and against readings it did not write: the peers' expected
# outputs (smtp-facts.tsv) and tshark. tests/corpus_test.py says what each check asserts; it
# exits 77 (skipped) when the corpus or tshark is missing, so the test never passes unseen.
foreach(check all-captures smtp-facts tshark-agreement)
  add_test(NAME corpus.${check}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/corpus_test.py
                   --binary $<TARGET_FILE:op25b-watch> --shared-dir ${OP25B_SHARED_DIR}
                   --policy ${CMAKE_CURRENT_LIST_DIR}/corpus/corpus.yaml --check ${check})
  set_tests_properties(corpus.${check} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                                                  LABELS corpus)
endforeach()
