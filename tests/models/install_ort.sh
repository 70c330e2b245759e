#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs onnxruntime-node, pinned by package-lock.json, into ORT_DIR (once).
#
#     install_ort.sh SRC_DIR ORT_DIR
#
# `npm ci --ignore-scripts`: the package's install script only downloads
# the CUDA provider; the CPU binding for linux x64 ships in the package.
# Reused when ORT_DIR's stamp matches the lock file. Fails, saying why, when
# node/npm are missing or the registry cannot be reached: the model tests
# need ONNX Runtime and must never pass without it.
set -euo pipefail
src=$1 dir=$2
stamp="$dir/.complete"
want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
for tool in node npm; do
  command -v "$tool" >/dev/null ||
    { echo "install_ort.sh: '$tool' not found; install nodejs and npm (tools/install-deps.sh)" >&2; exit 1; }
done
tmp="$dir.tmp-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$src/package.json" "$src/package-lock.json" "$tmp/"
if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
  rm -rf "$tmp"
  echo "install_ort.sh: 'npm ci' of onnxruntime-node failed (no network or npm registry?);" \
       "the model tests cannot check gradient graphs in ONNX Runtime without it" >&2
  exit 1
fi
# The CPU binding must load without the skipped install script.
if ! (cd "$tmp" && node -e "require('onnxruntime-node')"); then
  rm -rf "$tmp"
  echo "install_ort.sh: onnxruntime-node was installed but does not load" >&2
  exit 1
fi
echo "$want" > "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
