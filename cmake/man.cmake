# SPDX-License-Identifier: MIT
# Man pages (onnxgrad(1), onnxgrad-CMD(1) for every command of `onnxgrad
# --help`) generated at build time by tools/gen-man.sh with help2man, from the
# same text as --help. Without help2man (Debian: help2man) there are none.
find_program(OG_HELP2MAN help2man)
if(OG_HELP2MAN)
  set(OG_MAN_DIR ${CMAKE_BINARY_DIR}/man)
  add_custom_command(OUTPUT ${OG_MAN_DIR}/onnxgrad.1
    COMMAND bash ${CMAKE_SOURCE_DIR}/tools/gen-man.sh $<TARGET_FILE:onnxgrad_cli>
            ${OG_MAN_DIR} ${PROJECT_VERSION}
    DEPENDS onnxgrad_cli ${CMAKE_SOURCE_DIR}/tools/gen-man.sh
    COMMENT "Generating the man pages from --help (help2man)")
  add_custom_target(man ALL DEPENDS ${OG_MAN_DIR}/onnxgrad.1)
  install(DIRECTORY ${OG_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          COMPONENT tools FILES_MATCHING PATTERN "*.1")
else()
  message(STATUS "help2man not found: no man pages (Debian: help2man)")
endif()

# The API reference from the header comments: `cmake --build build --target
# docs` writes build/docs/html (not part of the default build).
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  configure_file(${CMAKE_SOURCE_DIR}/docs/Doxyfile.in ${CMAKE_BINARY_DIR}/Doxyfile @ONLY)
  add_custom_target(docs COMMAND Doxygen::doxygen ${CMAKE_BINARY_DIR}/Doxyfile
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    COMMENT "API reference (Doxygen) into ${CMAKE_BINARY_DIR}/docs/html")
endif()
