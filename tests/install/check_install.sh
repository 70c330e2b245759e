#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs onnxgrad into a scratch prefix, then builds the README's C example
# outside the tree twice — with pkg-config and with find_package(onnxgrad) —
# and runs both. EXTRA_CFLAGS (e.g. sanitizer flags) is passed to both.
# Then builds examples/ with its Makefile (pkg-config) and runs the LeNet
# example; the installed CLI must read the model it saved.
# Usage: check_install.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -eu
src=$1; build=$2; work=$3
rm -rf "$work"; mkdir -p "$work/example"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null

# The first ```c block after the example marker in README.md.
awk '/<!-- example/{m=1} m&&/^```c/{f=1;next} f&&/^```/{exit} f{print}' "$src/README.md" > "$work/example/main.c"
test -s "$work/example/main.c"

libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n1 | xargs dirname)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cd "$work/example"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror ${EXTRA_CFLAGS:-} -o example_pc main.c $(pkg-config --cflags --libs onnxgrad)
out=$(LD_LIBRARY_PATH="$libdir" ./example_pc)
echo "pkg-config build: $out"
[ "$out" = "y = [0 0 0.5 2]" ]

cat > CMakeLists.txt <<'CM'
cmake_minimum_required(VERSION 3.25)
project(example C)
find_package(onnxgrad REQUIRED)
add_executable(example_cmake main.c)
target_link_libraries(example_cmake PRIVATE onnxgrad::onnxgrad)
CM
cmake -S . -B cm -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="${EXTRA_CFLAGS:-}" >/dev/null
cmake --build cm >/dev/null
out=$(cd cm && LD_LIBRARY_PATH="$libdir" ./example_cmake)
echo "find_package build: $out"
[ "$out" = "y = [0 0 0.5 2]" ]

cp -r "$src/examples" "$work/examples_build"
cd "$work/examples_build"
make clean >/dev/null
make CFLAGS="-std=c11 -Wall -Wextra -Werror -O2" EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" >/dev/null
out=$(LD_LIBRARY_PATH="$libdir" ./lenet lenet.onnx)
echo "examples/lenet: $out"
expected='input image: float [N,1,28,28]
output logits: float [N,10]
12 nodes, 10 parameter tensors, 61706 parameters
saved lenet.onnx
ran a batch of 2: logits [2,10]'
[ "$out" = "$expected" ]
info=$(LD_LIBRARY_PATH="$libdir" "$prefix/bin/onnxgrad" info lenet.onnx)
echo "$info" | grep -q 'logits: float \[N,10\]'
echo "$info" | grep -q 'Conv: 2'
echo "install test passed"
