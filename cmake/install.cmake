# SPDX-License-Identifier: MIT
# Installs headers, both libraries, the CLI, onnxgrad.pc and a CMake package.
include(CMakePackageConfigHelpers)

# Components (the .deb packages of cmake/packaging.cmake): lib the shared
# library, dev what building against it needs, tools the CLI.
install(DIRECTORY include/onnxgrad DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(TARGETS onnxgrad onnxgrad_static EXPORT onnxgradTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT lib
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS onnxgrad_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)

install(EXPORT onnxgradTargets NAMESPACE onnxgrad::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/onnxgrad COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/onnxgradConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/onnxgradConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/onnxgrad)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/onnxgradConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/onnxgradConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/onnxgradConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/onnxgrad COMPONENT dev)

configure_file(${CMAKE_CURRENT_LIST_DIR}/onnxgrad.pc.in ${CMAKE_CURRENT_BINARY_DIR}/onnxgrad.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/onnxgrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
