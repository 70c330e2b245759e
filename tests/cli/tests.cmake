# SPDX-License-Identifier: MIT
# End-to-end tests of the onnxgrad tool. Included from tests/CMakeLists.txt
# after conformance/tests.cmake, whose fixture generates the ONNX node data
# these tests run on (generated once, shared).

set(OG_PYTHON3 /usr/bin/python3 CACHE FILEPATH "Python with the onnx package, for test data")
set(OG_ONNX_DATA_DIR ${CMAKE_BINARY_DIR}/onnx-test-data CACHE PATH
    "Generated ONNX backend test data (reused when complete)")

add_test(NAME cli
         COMMAND /bin/sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh
                 $<TARGET_FILE:onnxgrad_cli> ${OG_ONNX_DATA_DIR}/node
                 ${CMAKE_CURRENT_BINARY_DIR}/cli-tmp ${OG_PYTHON3}
                 ${CMAKE_CURRENT_LIST_DIR}/helpers.py)
set_tests_properties(cli PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 600)

# The JSON writer behind every --json output, on its own.
add_executable(og_json_test ${CMAKE_CURRENT_LIST_DIR}/json_test.c ${PROJECT_SOURCE_DIR}/tools/json.c)
target_include_directories(og_json_test PRIVATE ${PROJECT_SOURCE_DIR}/tools)
target_link_libraries(og_json_test PRIVATE m)
add_test(NAME cli_json COMMAND og_json_test)

# The training-curve plot (tools/plot.c) with the real gnuplot, a failing
# one and none at all.
add_executable(og_plot_test ${CMAKE_CURRENT_LIST_DIR}/plot_test.c ${PROJECT_SOURCE_DIR}/tools/plot.c)
target_include_directories(og_plot_test PRIVATE ${PROJECT_SOURCE_DIR}/tools)
target_link_libraries(og_plot_test PRIVATE m)
add_test(NAME cli_plot
         COMMAND og_plot_test ${CMAKE_CURRENT_BINARY_DIR}/plot-tmp ${OG_PYTHON3}
                 ${CMAKE_CURRENT_LIST_DIR}/check_plot_svg.py)

# onnxgrad test, .npy I/O, --dim/--input-shape, run --random, --limit and
# --json errors (clitools_test.sh), on the same node data.
add_test(NAME cli_tools
         COMMAND /bin/sh ${CMAKE_CURRENT_LIST_DIR}/clitools_test.sh
                 $<TARGET_FILE:onnxgrad_cli> ${OG_ONNX_DATA_DIR}/node
                 ${CMAKE_CURRENT_BINARY_DIR}/clitools-tmp ${OG_PYTHON3}
                 ${CMAKE_CURRENT_LIST_DIR}/clitools_helpers.py
                 ${PROJECT_SOURCE_DIR}/tests/conformance/cases.txt)
set_tests_properties(cli_tools PROPERTIES FIXTURES_REQUIRED og_onnx_data TIMEOUT 600)

# run/grad --profile, onnxgrad profile and bench, info's FLOPs (profile_test.sh).
add_test(NAME cli_profile
         COMMAND /bin/sh ${CMAKE_CURRENT_LIST_DIR}/profile_test.sh $<TARGET_FILE:onnxgrad_cli>
                 ${CMAKE_CURRENT_BINARY_DIR}/profile-tmp ${OG_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/check_profile.py)
set_tests_properties(cli_profile PROPERTIES TIMEOUT 300)

# onnxgrad dot (Graphviz) and the info extras (tools/dot_cmd.c, info_cmd.c).
add_test(NAME cli_dot
         COMMAND /bin/sh ${CMAKE_CURRENT_LIST_DIR}/dot_test.sh $<TARGET_FILE:onnxgrad_cli>
                 ${CMAKE_CURRENT_BINARY_DIR}/dot-tmp ${OG_PYTHON3} ${PROJECT_SOURCE_DIR}/tests)
set_tests_properties(cli_dot PROPERTIES TIMEOUT 300)
if(OG_SANITIZE)
  set_tests_properties(cli_dot PROPERTIES ENVIRONMENT
                       "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_LIST_DIR}/graphviz.supp:print_suppressions=0")
endif()
