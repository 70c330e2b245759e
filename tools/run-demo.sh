#!/usr/bin/env bash
# Builds onnxgrad and runs the demo: a small CNN built through the C API,
# saved as ONNX, reloaded, run, and inspected with the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p build/demo
./build/tools/onnxgrad_demo build/demo/small_cnn.onnx
echo
echo "== onnxgrad info build/demo/small_cnn.onnx"
./build/tools/onnxgrad info build/demo/small_cnn.onnx
