#!/bin/sh
# Installs onnxgrad into a scratch prefix, then builds the README's C example
# outside the tree twice — with pkg-config and with find_package(onnxgrad) —
# and runs both. EXTRA_CFLAGS (e.g. sanitizer flags) is passed to both.
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
echo "install test passed"
