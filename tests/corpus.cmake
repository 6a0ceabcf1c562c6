# Corpus tests: the sensor against third-party captures (Zeek, Suricata, nDPI, tcpdump test
# suites) in tests/corpus and against readings it did not write: the peers' expected
# outputs (smtp-facts.tsv) and tshark. tests/corpus_test.py says what each check asserts; it
# fails when the corpus is missing and exits 77 (skipped) only without tshark.
foreach(check all-captures smtp-facts tshark-agreement)
  add_test(NAME corpus.${check}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/corpus_test.py
                   --binary $<TARGET_FILE:op25b-watch> --corpus-dir ${OP25B_CORPUS_DIR}
                   --policy ${CMAKE_CURRENT_LIST_DIR}/corpus/corpus.yaml --check ${check})
  set_tests_properties(corpus.${check} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                                                  LABELS corpus)
endforeach()
