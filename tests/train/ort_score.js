// SPDX-License-Identifier: MIT
// ort_score.js — scores a trained classifier in ONNX Runtime on an
// MNIST-style IDX test split, as `onnxgrad eval` does (pixels / 255 as
// N x 1 x H x W float32, arg-max of the first output against the labels).
//
//     node ort_score.js ORT_DIR MODEL.onnx DATA_DIR
//
// Prints "correct <k> of <n>".
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [ortDir, modelPath, dataDir] = process.argv.slice(2);
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));

function idx(stem) {
  for (const name of [stem, stem + '.gz']) {
    const p = path.join(dataDir, name);
    if (fs.existsSync(p)) {
      const raw = fs.readFileSync(p);
      return name.endsWith('.gz') ? zlib.gunzipSync(raw) : raw;
    }
  }
  throw new Error('no ' + stem + ' in ' + dataDir);
}

async function main() {
  const images = idx('t10k-images-idx3-ubyte'), labels = idx('t10k-labels-idx1-ubyte');
  const n = images.readUInt32BE(4), h = images.readUInt32BE(8), w = images.readUInt32BE(12);
  const session = await ort.InferenceSession.create(modelPath);
  const input = session.inputNames[0], output = session.outputNames[0];
  let correct = 0;
  for (let s = 0; s < n; s += 1000) {
    const m = Math.min(1000, n - s);
    const x = new Float32Array(m * h * w);
    for (let i = 0; i < m * h * w; i++) x[i] = images[16 + s * h * w + i] / 255;
    const res = await session.run({ [input]: new ort.Tensor('float32', x, [m, 1, h, w]) });
    const y = res[output].data, c = y.length / m;
    for (let k = 0; k < m; k++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (y[k * c + j] > y[k * c + best]) best = j;
      if (best === labels[8 + s + k]) correct++;
    }
  }
  console.log('correct ' + correct + ' of ' + n);
}
main().catch((e) => { console.error('ort_score: ' + e.message); process.exit(1); });
