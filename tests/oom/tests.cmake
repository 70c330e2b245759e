# SPDX-License-Identifier: MIT
# Allocation-failure injection over every fixture model (the conformance
# models and a graph built through the C API): load/build, validate, infer,
# plan, run and save, with each allocation failing once and from then on.
# Included from tests/CMakeLists.txt; the data comes from the conformance
# fixture.
add_executable(og_oom_runner ${CMAKE_CURRENT_LIST_DIR}/oom_runner.c)
target_link_libraries(og_oom_runner PRIVATE onnxgrad_static m)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/oom-tmp)
add_test(NAME oom
         COMMAND og_oom_runner ${OG_ONNX_DATA_DIR}/node ${CMAKE_SOURCE_DIR}/tests/conformance/cases.txt
                 ${CMAKE_CURRENT_BINARY_DIR}/oom-tmp)
set_tests_properties(oom PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 900
                     ENVIRONMENT OPENBLAS_NUM_THREADS=1)
