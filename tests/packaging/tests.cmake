# SPDX-License-Identifier: MIT
# Packaging: the man pages, the bash completion, what each .deb component
# installs. (The .deb install test in a Debian chroot is tools/test-debs.sh.)
find_program(OG_HELP2MAN help2man)  # cmake/man.cmake makes the pages with it
if(OG_HELP2MAN)
  add_test(NAME man_pages COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_man.sh
                                  $<TARGET_FILE:onnxgrad_cli> ${CMAKE_BINARY_DIR}/man)
endif()
add_test(NAME completion COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/completion_test.sh
                                 $<TARGET_FILE:onnxgrad_cli>
                                 ${PROJECT_SOURCE_DIR}/tools/onnxgrad-completion.bash
                                 ${CMAKE_CURRENT_BINARY_DIR}/completion-tmp)
add_test(NAME package_components COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_components.sh
                                         ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/components-tmp)

# Every source file carries its SPDX license line (tools/check-spdx.sh).
add_test(NAME spdx_headers COMMAND bash ${PROJECT_SOURCE_DIR}/tools/check-spdx.sh)

# The API reference (Doxygen, cmake/man.cmake) carries the header comments.
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  add_test(NAME api_docs COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_docs.sh $<TARGET_FILE:Doxygen::doxygen>
                                 ${CMAKE_BINARY_DIR}/Doxyfile ${CMAKE_BINARY_DIR}/docs/html)
  set_tests_properties(api_docs PROPERTIES WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
