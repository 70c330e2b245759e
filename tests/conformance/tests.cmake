# SPDX-License-Identifier: MIT
# Official ONNX node conformance: data generated at test time from Debian's
# python3-onnx, cached in the build dir, checked by a C runner.
# Included from tests/CMakeLists.txt.

# Debian's interpreter on purpose: it is the one that has python3-onnx 1.12.
set(OG_PYTHON3 /usr/bin/python3 CACHE FILEPATH "Python with the onnx package, for test data")
set(OG_ONNX_DATA_DIR ${CMAKE_BINARY_DIR}/onnx-test-data CACHE PATH
    "Generated ONNX backend test data (reused when complete)")

add_executable(og_conformance_runner ${CMAKE_CURRENT_LIST_DIR}/runner.c)
target_link_libraries(og_conformance_runner PRIVATE onnxgrad_static m)

# Setup fixture: generates the data once; later runs find it complete.
add_test(NAME conformance_data
         COMMAND ${OG_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/gen_data.py ${OG_ONNX_DATA_DIR})
set_tests_properties(conformance_data PROPERTIES FIXTURES_SETUP og_onnx_data TIMEOUT 600)

add_test(NAME conformance
         COMMAND og_conformance_runner ${OG_ONNX_DATA_DIR}/node
                 ${CMAKE_CURRENT_LIST_DIR}/cases.txt)
set_tests_properties(conformance PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 600)
# Model cases (simple/): the Gradient op's.
add_test(NAME conformance_simple
         COMMAND og_conformance_runner ${OG_ONNX_DATA_DIR}/simple
                 ${CMAKE_CURRENT_LIST_DIR}/cases_simple.txt)
set_tests_properties(conformance_simple PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 600)

# The same cases under valgrind: kernels must never read uninitialised
# memory (AddressSanitizer does not see that).
find_program(OG_VALGRIND valgrind)
if(OG_VALGRIND AND NOT OG_SANITIZE)
  add_test(NAME conformance_valgrind
           COMMAND ${OG_VALGRIND} -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
                   $<TARGET_FILE:og_conformance_runner> ${OG_ONNX_DATA_DIR}/node ${CMAKE_CURRENT_LIST_DIR}/cases.txt)
  set_tests_properties(conformance_valgrind PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 600
                       ENVIRONMENT OPENBLAS_NUM_THREADS=1)
endif()
