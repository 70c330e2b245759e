// SPDX-License-Identifier: MIT
// ort_check.js — runs a gradient graph saved by onnxgrad in ONNX Runtime and
// compares every output with onnxgrad's.
//
//     node ort_check.js ORT_DIR CHECK.json RESULT.txt
//
// ORT_DIR holds node_modules/onnxruntime-node (installed by install_ort.sh
// from package-lock.json). CHECK.json (written by runner.c) names the model,
// the feeds and onnxgrad's outputs, each a raw little-endian .bin beside it.
// Tolerance as runner.c: |ort - og| <= 1e-4 |og| + max(1e-5 max|og|, 1e-6).
// Writes "ok" or the first failure to RESULT.txt; exit status 0 only for ok.
'use strict';
const fs = require('fs');
const path = require('path');

const [ortDir, checkPath, resultPath] = process.argv.slice(2);

function finish(msg) {
  fs.writeFileSync(resultPath, msg.replace(/[\r\n]+/g, ' ') + '\n');
  console.log(msg === 'ok' ? 'ORT agrees' : 'ORT: ' + msg);
  process.exit(msg === 'ok' ? 0 : 1);
}

const ctors = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array,
};

function readTensor(dir, e) {
  const buf = fs.readFileSync(path.join(dir, e.file));
  const C = ctors[e.dtype];
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new C(copy.buffer, 0, buf.byteLength / C.BYTES_PER_ELEMENT);
}

async function main() {
  let ort;
  try {
    ort = require(path.join(path.resolve(ortDir), 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    finish(`cannot load onnxruntime-node from ${ortDir}/node_modules (run the models_ort_install test, ` +
           `which needs npm and the npm registry): ${e.message}`);
  }
  const dir = path.dirname(checkPath);
  const check = JSON.parse(fs.readFileSync(checkPath, 'utf8'));
  let session;
  try {
    session = await ort.InferenceSession.create(path.join(dir, check.model),
                                                {graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: 3});
  } catch (e) {
    finish(`ONNX Runtime cannot load the gradient graph: ${e.message}`);
  }
  const feeds = {};
  for (const f of check.feeds) {
    const dtype = f.dtype === 'bool' ? 'bool' : f.dtype;
    feeds[f.name] = new ort.Tensor(dtype, readTensor(dir, f), f.dims);
  }
  let out;
  try {
    out = await session.run(feeds);
  } catch (e) {
    finish(`ONNX Runtime run failed: ${e.message}`);
  }
  for (const e of check.expect) {
    const got = out[e.name];
    if (!got) finish(`ONNX Runtime gave no output '${e.name}'`);
    if (got.dims.length !== e.dims.length || got.dims.some((d, i) => d !== e.dims[i]))
      finish(`output '${e.name}': ORT shape [${got.dims}], onnxgrad [${e.dims}]`);
    const want = readTensor(dir, e);
    if (e.dtype !== 'float32' && e.dtype !== 'float64') {
      for (let i = 0; i < want.length; i++)
        if (got.data[i] !== want[i]) finish(`output '${e.name}': element ${i} is ${got.data[i]}, onnxgrad ${want[i]}`);
      continue;
    }
    let amax = 0;
    for (let i = 0; i < want.length; i++) amax = Math.max(amax, Math.abs(want[i]));
    const atol = Math.max(1e-5 * amax, 1e-6);
    let bad = 0, worst = -1, worstX = 0;
    for (let i = 0; i < want.length; i++) {
      const err = Math.abs(got.data[i] - want[i]), tol = atol + 1e-4 * Math.abs(want[i]);
      if (!(err <= tol)) {
        bad++;
        const x = Number.isNaN(err) ? Infinity : err / tol;
        if (worst < 0 || x > worstX) { worst = i; worstX = x; }
      }
    }
    if (bad)
      finish(`output '${e.name}': ${bad} of ${want.length} elements differ from onnxgrad, worst [${worst}] ` +
             `ORT ${got.data[worst]} vs onnxgrad ${want[worst]}`);
  }
  finish('ok');
}

main().catch((e) => finish(`unexpected error: ${e.stack || e}`));
