# SPDX-License-Identifier: MIT
# The Python module (python/onnxgrad), each tests/python/test_<name>.py one
# ctest "python_<name>", run by the system Python (OG_PYTHON3, with numpy,
# onnx and torch) on the build tree's package (build/python), plus
# python_install: the package as `cmake --install` lays it out. Included
# from tests/CMakeLists.txt. Not under the sanitizers or the fuzzing
# build: an ASan-instrumented libonnxgrad cannot be loaded into an
# uninstrumented Python (the ASan runtime must come first in the process).
if(NOT OG_SANITIZE AND NOT OG_FUZZ)
  if(NOT OG_PYTHON3)
    set(OG_PYTHON3 /usr/bin/python3)
  endif()
  # Struct layouts as the C compiler sees them, for test_abi.py.
  add_executable(og_py_abi_layout ${CMAKE_CURRENT_LIST_DIR}/abi_layout.c)
  target_link_libraries(og_py_abi_layout PRIVATE onnxgrad)
  file(GLOB OG_PY_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.py)
  foreach(t ${OG_PY_TESTS})
    get_filename_component(name ${t} NAME_WE)
    add_test(NAME python_${name} COMMAND ${OG_PYTHON3} ${t})
    set_tests_properties(python_${name} PROPERTIES TIMEOUT 300
      ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python:${CMAKE_CURRENT_LIST_DIR};ONNXGRAD_CLI=$<TARGET_FILE:onnxgrad_cli>;OG_PY_TMP=${CMAKE_CURRENT_BINARY_DIR}/python-tmp/${name};OG_PY_ABI_LAYOUT=$<TARGET_FILE:og_py_abi_layout>;OPENBLAS_NUM_THREADS=1"
      ENVIRONMENT_MODIFICATION "ONNXGRAD_LIBRARY=unset:")
  endforeach()
  add_test(NAME python_install
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/install/check_install_python.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}
                   ${CMAKE_CURRENT_BINARY_DIR}/python_install_check ${OG_PYTHON3})
  set_tests_properties(python_install PROPERTIES TIMEOUT 600 ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                       ENVIRONMENT_MODIFICATION "ONNXGRAD_LIBRARY=unset:")
endif()
