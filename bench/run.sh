#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh — onnxgrad vs PyTorch, side by side, in one command.
#
#   bash bench/run.sh [--quick] [-r N] [--cases NAME,...] [--threads 1,2] [--json PATH] [--no-torch]
#
# Builds the project and the bench programs in build-bench (Release, with
# -DOG_BUILD_BENCH=ON), then runs bench/bench.py with /usr/bin/python3 (the
# Debian python that has torch): it measures the machine (og_peak), and
# times onnxgrad (og_bench) and PyTorch (torch_bench.py) case by case,
# interleaved, at each thread count. Table on stdout, JSON in
# bench/results/latest.json (or --json PATH). See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${OG_BENCH_BUILD_DIR:-$root/build-bench}"
py="${OG_BENCH_PYTHON:-/usr/bin/python3}"
if [ ! -x "$py" ]; then py="$(command -v python3)"; fi
if ! "$py" -c 'import numpy' 2>/dev/null; then
  echo "bench/run.sh: $py has no numpy (set OG_BENCH_PYTHON to a python with numpy, and torch)" >&2
  exit 1
fi

echo "== building in $build ==" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOG_BUILD_BENCH=ON -DOG_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target og_bench og_peak -j "$(nproc)" >/dev/null

exec "$py" "$here/bench.py" --og-bench "$build/bench/og_bench" --og-peak "$build/bench/og_peak" "$@"
