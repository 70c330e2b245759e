# SPDX-License-Identifier: MIT
# Gradient checks (float64 central differences, first and second order) over
# every conformance model, with the official inputs. Included from
# tests/CMakeLists.txt after conformance/tests.cmake (its data fixture).
add_executable(og_gradcheck_runner ${CMAKE_CURRENT_LIST_DIR}/runner.c)
target_link_libraries(og_gradcheck_runner PRIVATE onnxgrad_static m)
add_test(NAME gradcheck_models
         COMMAND og_gradcheck_runner ${OG_ONNX_DATA_DIR}/node ${CMAKE_SOURCE_DIR}/tests/conformance/cases.txt
                 ${CMAKE_CURRENT_LIST_DIR}/expect.txt)
set_tests_properties(gradcheck_models PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 900
                     ENVIRONMENT OPENBLAS_NUM_THREADS=1)
