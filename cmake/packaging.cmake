# SPDX-License-Identifier: MIT
# What the install components hold beyond cmake/install.cmake (examples,
# LICENSE, bash completion, the Python module), and the Debian packages CPack
# makes of them: `cd build && cpack -G DEB` (or `cmake --build build --target
# package`) writes libonnxgrad0, libonnxgrad-dev, onnxgrad-tools and, once
# python/onnxgrad exists, python3-onnxgrad. tools/test-debs.sh installs them
# in a fresh Debian 12 chroot.
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libonnxgrad0
        RENAME copyright COMPONENT lib)
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libonnxgrad-dev
        COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/onnxgrad-tools
        RENAME copyright COMPONENT tools)
install(FILES ${CMAKE_SOURCE_DIR}/examples/lenet.c ${CMAKE_SOURCE_DIR}/examples/train_lenet.c
              ${CMAKE_SOURCE_DIR}/examples/Makefile
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libonnxgrad-dev/examples COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/tools/onnxgrad-completion.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME onnxgrad
        COMPONENT tools)
set(OG_COMPONENTS lib dev tools)
if(EXISTS ${CMAKE_SOURCE_DIR}/python/onnxgrad)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/onnxgrad DESTINATION lib/python3/dist-packages
          COMPONENT python PATTERN "__pycache__" EXCLUDE PATTERN "*.pyc" EXCLUDE)
  install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/python3-onnxgrad
          RENAME copyright COMPONENT python)
  list(APPEND OG_COMPONENTS python)
endif()

set(CPACK_PACKAGE_NAME onnxgrad)
set(CPACK_PACKAGE_VENDOR "the onnxgrad authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ONNX-compatible graph runtime with reverse-mode autodiff")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_CONTACT "the onnxgrad authors <onnxgrad@localhost>")
set(CPACK_COMPONENTS_ALL ${OG_COMPONENTS})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # name_version-release_arch.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "the onnxgrad authors <onnxgrad@localhost>")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/onnxgrad/onnxgrad")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)    # libprotobuf-c1, libopenblas0, zlib1g, libopenmpi3
# dpkg-shlibdeps finds libonnxgrad.so.0 in the package being built.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(OG_DEB_VER "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libonnxgrad0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_LIB_DESCRIPTION
  "ONNX-compatible graph runtime with reverse-mode autodiff - shared library\n Runs ONNX (opset 1..17) models and builds their gradient graphs as\n standard ONNX. This package holds the shared library libonnxgrad.so.0.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libonnxgrad-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libonnxgrad0 (= ${OG_DEB_VER}), libprotobuf-c-dev, libopenblas-dev, zlib1g-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "ONNX-compatible graph runtime with reverse-mode autodiff - development files\n Headers, the static library, the libonnxgrad.so symlink, the pkg-config\n file, the CMake package (find_package(onnxgrad)) and the C examples.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME onnxgrad-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION science)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "libonnxgrad0 (= ${OG_DEB_VER})")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SUGGESTS "gnuplot-nox, openmpi-bin")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "ONNX-compatible graph runtime with reverse-mode autodiff - command-line tool\n The onnxgrad command: run, grad, gradient-graph, gradcheck, train, eval\n and more, with its man pages and bash completion.")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-onnxgrad)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "python3, python3-numpy, libonnxgrad0 (= ${OG_DEB_VER})")
set(CPACK_COMPONENT_PYTHON_DESCRIPTION
  "ONNX-compatible graph runtime with reverse-mode autodiff - Python module\n The onnxgrad Python module over libonnxgrad.so.0.")
include(CPack)
