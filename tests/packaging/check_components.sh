#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs each CPack component into its own prefix (what each .deb holds)
# and checks the LICENSE, examples, man pages and completion land where the
# packages need them, and the library's SONAME.
# usage: check_components.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1; work=$2
rm -rf "$work"; mkdir -p "$work"
fail=0
has() { if [ -e "$work/$1/$2" ] || [ -L "$work/$1/$2" ]; then echo "ok: $1 has $2"; else echo "FAIL: $1 lacks $2"; fail=1; fi; }
for c in lib dev tools; do
    cmake --install "$build" --prefix "$work/$c" --component "$c" >/dev/null
done
has lib share/doc/libonnxgrad0/copyright
has dev share/doc/libonnxgrad-dev/LICENSE
has tools share/doc/onnxgrad-tools/copyright
has dev share/doc/libonnxgrad-dev/examples/lenet.c
has dev include/onnxgrad/onnxgrad.h
has dev lib/cmake/onnxgrad/onnxgradConfig.cmake
has dev lib/pkgconfig/onnxgrad.pc
has dev lib/libonnxgrad.so
has lib lib/libonnxgrad.so.0
has tools bin/onnxgrad
has tools share/bash-completion/completions/onnxgrad
if command -v help2man >/dev/null; then
    has tools share/man/man1/onnxgrad.1
    has tools share/man/man1/onnxgrad-run.1
    has tools share/man/man1/onnxgrad-train.1
fi
[ ! -e "$work/lib/lib/libonnxgrad.so" ] || { echo "FAIL: the .so symlink is in lib, not dev"; fail=1; }
[ ! -e "$work/lib/include" ] || { echo "FAIL: headers in lib"; fail=1; }
cmp -s "$work/dev/share/doc/libonnxgrad-dev/LICENSE" "$(dirname "$0")/../../LICENSE" || { echo "FAIL: LICENSE differs"; fail=1; }
soname=$(objdump -p "$work/lib/lib/libonnxgrad.so.0" | awk '/SONAME/{print $2}')
[ "$soname" = libonnxgrad.so.0 ] && echo "ok: SONAME $soname" || { echo "FAIL: SONAME '$soname'"; fail=1; }
exit $fail
