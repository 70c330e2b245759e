# SPDX-License-Identifier: MIT
# The README's C example, built against an installed copy of onnxgrad.
add_test(NAME install
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_install.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}
                 ${CMAKE_CURRENT_BINARY_DIR}/install_check)
if(OG_SANITIZE)
  # The installed library is sanitized, so the example must be too.
  set_tests_properties(install PROPERTIES ENVIRONMENT "EXTRA_CFLAGS=-fsanitize=address,undefined")
endif()
