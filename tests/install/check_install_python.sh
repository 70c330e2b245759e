#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs onnxgrad into a scratch prefix and uses the installed Python
# package from outside the tree: it must be in
# <prefix>/lib/python3/dist-packages/onnxgrad and load the installed
# library (not the build tree's), also after the prefix is moved; then runs
# the README's Python session (the first ```python block after the
# "python-session" marker) with it and checks its output.
# Usage: check_install_python.sh SOURCE_DIR BUILD_DIR WORK_DIR PYTHON3
set -eu
src=$1; build=$2; work=$3; py=$4
rm -rf "$work"; mkdir -p "$work/session"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
site="$prefix/lib/python3/dist-packages"
test -f "$site/onnxgrad/__init__.py"
test -f "$site/onnxgrad/_capi.py"
grep -q '^LIBRARY = "\.\./' "$site/onnxgrad/_libpath.py"   # relative to the package

cd "$work/session"
check='
import os, sys, numpy as np, onnxgrad
from onnxgrad import _capi
prefix = os.path.realpath(sys.argv[1])
lib = os.path.realpath(_capi.LIBRARY_PATH)
assert lib.startswith(prefix + os.sep), (lib, prefix)
assert _capi.LIBRARY_SOURCE == "_libpath.py", _capi.LIBRARY_SOURCE
print(onnxgrad.__version__, lib[len(prefix):])
'
out=$(env -u ONNXGRAD_LIBRARY PYTHONPATH="$site" "$py" -c "$check" "$prefix")
echo "installed: $out"
# a moved prefix still finds its library
mv "$prefix" "$work/moved"
out=$(env -u ONNXGRAD_LIBRARY PYTHONPATH="$work/moved/lib/python3/dist-packages" "$py" -c "$check" "$work/moved")
echo "moved: $out"
mv "$work/moved" "$prefix"

# The README's session, with the installed package.
awk '/<!-- python-session/{m=1} m&&/^```python/{f=1;next} f&&/^```/{exit} f{print}' "$src/README.md" > session.py
test -s session.py
env -u ONNXGRAD_LIBRARY PYTHONPATH="$site" OG_NUM_THREADS=2 "$py" -W ignore session.py > session.out
cat session.out
grep -q "^onnxgrad 0\." session.out
grep -q "'conv1.weight': (8, 3, 3, 3)" session.out
grep -q "gradcheck order 2: PASS" session.out
test -s train.onnx && test -s trained.onnx
echo "python install test passed"
