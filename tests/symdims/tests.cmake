# SPDX-License-Identifier: MIT
# Symbolic dims of saved models against onnx.shape_inference (onnx 1.12 in
# /usr/bin/python3, as the conformance data uses).
set(OG_PYTHON3 /usr/bin/python3 CACHE FILEPATH "Python with the onnx package, for test data")
add_test(NAME symdims_onnx
         COMMAND ${OG_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/symdims_check.py
                 $<TARGET_FILE:onnxgrad_cli> ${CMAKE_CURRENT_BINARY_DIR}/symdims-tmp)
set_tests_properties(symdims_onnx PROPERTIES TIMEOUT 120)
