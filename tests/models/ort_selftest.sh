#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ORT stage must notice a disagreement: reruns ort_check.js on a copy of
# model_dynamic_batch's check with one of onnxgrad's gradient values moved
# well past the tolerance, and expects the failure to be reported.
#
#     ort_selftest.sh WORK_DIR NODE ORT_CHECK.js ORT_DIR
set -euo pipefail
work=$1 node=$2 script=$3 ort=$4
src="$work/dynamic_batch"
[ -f "$src/ort/check.json" ] || { echo "no $src/ort/check.json: model_dynamic_batch did not reach the ORT stage" >&2; exit 1; }
tmp="$work/ort_selftest"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$src/grad.onnx" "$tmp/"
cp -r "$src/ort" "$tmp/ort"
# The last expected output is a gradient (the model's outputs come first).
"$node" -e '
const fs = require("fs"), path = require("path");
const dir = process.argv[1], c = JSON.parse(fs.readFileSync(path.join(dir, "check.json")));
const e = c.expect[c.expect.length - 1], f = path.join(dir, e.file), b = fs.readFileSync(f);
const a = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
a[0] += 1e-2 * Math.max(...a.map(Math.abs)) + 1e-2;
fs.writeFileSync(f, b);
console.log("moved element 0 of " + e.name);' "$tmp/ort"
if "$node" "$script" "$ort" "$tmp/ort/check.json" "$tmp/ort/result.txt"; then
  echo "ort_selftest: ort_check.js accepted a wrong gradient" >&2
  exit 1
fi
grep -q "1 of [0-9]* elements differ from onnxgrad, worst \[0\]" "$tmp/ort/result.txt" ||
  { echo "ort_selftest: unexpected result: $(cat "$tmp/ort/result.txt")" >&2; exit 1; }
echo "ort_selftest: the disagreement was reported: $(cat "$tmp/ort/result.txt")"
