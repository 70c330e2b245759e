# SPDX-License-Identifier: MIT
# cmake -DPYTHON=... -DGEN=... -DEXPECT=... -DRUNNER=... -DOUT=... [-DFLAGS="..."]
#       [-DWRAP="tool args..."] -P run.cmake
# Regenerates the hostile cases into a fresh OUT, then runs the runner on
# them (under WRAP, e.g. valgrind, when given). FLAGS and WRAP are
# space-separated.
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
separate_arguments(wrap UNIX_COMMAND "${WRAP}")
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${PYTHON} ${GEN} ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gen_cases.py failed (${rc})")
endif()
execute_process(COMMAND ${wrap} ${RUNNER} ${OUT} ${EXPECT} ${flags} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "og_hostile_runner failed (${rc})")
endif()
