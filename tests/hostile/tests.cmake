# SPDX-License-Identifier: MIT
# Hostile inputs: malformed models and tensors, generated at test time by
# gen_cases.py, each of which must fail with a specific status and message
# (expect.txt), quickly, without leaking. Included from tests/CMakeLists.txt.
#
#   hostile           every case once, from a file and from memory
#   hostile_oom       every case again with each allocation failing in turn
#   hostile_valgrind  the plain run under valgrind (reads past a buffer,
#                     uninitialised memory), when valgrind is installed
# The last two skip the few big (size/complexity) cases: replaying those
# allocation by allocation, or under valgrind, would take minutes.

set(OG_PYTHON3 /usr/bin/python3 CACHE FILEPATH "Python with the onnx package, for test data")

add_executable(og_hostile_runner ${CMAKE_CURRENT_LIST_DIR}/runner.c)
target_link_libraries(og_hostile_runner PRIVATE onnxgrad_static)

set(_og_hostile_args
  -DPYTHON=${OG_PYTHON3}
  -DGEN=${CMAKE_CURRENT_LIST_DIR}/gen_cases.py
  -DEXPECT=${CMAKE_CURRENT_LIST_DIR}/expect.txt
  -DRUNNER=$<TARGET_FILE:og_hostile_runner>)

# The 100 ms bound is a property of the optimised build; sanitizers slow
# every allocation several-fold, so that run checks correctness only.
set(_og_hostile_time_flags "")
if(OG_SANITIZE)
  # Sanitized, the 10^6-node chain (88 MB) alone would take minutes; it runs
  # in the optimised build, its 10^5 sibling here.
  set(_og_hostile_time_flags "-DFLAGS=--no-time-limit --max-bytes 16000000")
endif()
add_test(NAME hostile
         COMMAND ${CMAKE_COMMAND} ${_og_hostile_args}
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/hostile-cases ${_og_hostile_time_flags}
                 -P ${CMAKE_CURRENT_LIST_DIR}/run.cmake)
add_test(NAME hostile_oom
         COMMAND ${CMAKE_COMMAND} ${_og_hostile_args}
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/hostile-cases-oom "-DFLAGS=--oom --max-bytes 65536"
                 -P ${CMAKE_CURRENT_LIST_DIR}/run.cmake)
# One BLAS thread: a thread pool spinning up beside the loader only adds
# noise to the 100 ms timings. The timed run has the machine to itself
# (RUN_SERIAL): on 2 cores a neighbouring test can double a 60 ms load.
set_tests_properties(hostile hostile_oom PROPERTIES TIMEOUT 300 ENVIRONMENT OPENBLAS_NUM_THREADS=1)
if(NOT OG_SANITIZE)
  set_tests_properties(hostile PROPERTIES RUN_SERIAL TRUE)
endif()

find_program(OG_VALGRIND valgrind)
if(OG_VALGRIND AND NOT OG_SANITIZE)
  add_test(NAME hostile_valgrind
           COMMAND ${CMAKE_COMMAND} ${_og_hostile_args}
                   -DOUT=${CMAKE_CURRENT_BINARY_DIR}/hostile-cases-valgrind "-DFLAGS=--no-time-limit --max-bytes 65536"
                   "-DWRAP=${OG_VALGRIND} -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
                   -P ${CMAKE_CURRENT_LIST_DIR}/run.cmake)
  set_tests_properties(hostile_valgrind PROPERTIES TIMEOUT 600 ENVIRONMENT OPENBLAS_NUM_THREADS=1)
endif()
