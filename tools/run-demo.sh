#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's main job, on a fresh machine: build onnxgrad, build LeNet-5
# with the C layer builder, train it on Fashion-MNIST (Debian's
# dataset-fashion-mnist) with `onnxgrad train` — progress, per-epoch test
# accuracy, checkpoints, a plot — score the trained model with `onnxgrad
# eval`, then show the gradient tools on a small CNN built through the C API.
#     DEMO_EPOCHS=N bash tools/run-demo.sh    # default 10 epochs (about 35 s of training at 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
demo=build/demo
data=/usr/share/datasets/fashion-mnist
epochs=${DEMO_EPOCHS:-10}
mkdir -p "$demo"
echo
echo "== 1. LeNet-5 from the C layer builder (examples/lenet.c)"
./build/examples/lenet "$demo/lenet5.onnx"
echo
echo "== 2. onnxgrad train: Fashion-MNIST, momentum SGD, batch 64, $epochs epochs"
./build/tools/onnxgrad train "$demo/lenet5.onnx" --data "$data" --loss-fn softmax-cross-entropy \
  --optimizer momentum --lr 0.01 --momentum 0.9 --epochs "$epochs" --batch 64 --rng-seed 1 \
  --checkpoint-dir "$demo/checkpoints" --keep 2 --plot "$demo/lenet5-curve.svg" -o "$demo/lenet5-trained.onnx"
echo "checkpoints: $(ls "$demo/checkpoints" | tr '\n' ' ')(continue with --resume)"
echo
echo "== 3. onnxgrad eval: the trained model on the 10000 test images"
./build/tools/onnxgrad eval "$demo/lenet5-trained.onnx" --data "$data"
echo
echo "== 4. gradients: a small CNN through the C API, its gradient graph, a float64 gradient check"
./build/tools/onnxgrad_demo "$demo/small_cnn.onnx"
echo
echo "== onnxgrad info $demo/lenet5-trained.onnx"
./build/tools/onnxgrad info "$demo/lenet5-trained.onnx"
