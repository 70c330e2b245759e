#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds onnxgrad and runs every test (unit, conformance, CLI, hostile
# inputs, allocation failures, install), then replays the fuzz corpus and
# every saved crash reproducer through the libFuzzer targets (clang build).
# With --sanitize: the ctest suite under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DOG_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
# One BLAS thread: the machine has 2 cores and ctest runs tests in parallel.
export OPENBLAS_NUM_THREADS=1
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)"
cd ..
if [ "$build" = build ]; then
  bash tools/run-fuzz.sh replay
fi
