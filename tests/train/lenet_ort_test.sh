#!/bin/sh
# SPDX-License-Identifier: MIT
# lenet_ort_test.sh — examples/train_lenet.c trains LeNet-5 on Fashion-MNIST
# for one epoch and saves it; `onnxgrad eval` and ONNX Runtime must score the
# saved model identically on the 10000 test images, and match the accuracy
# the example printed.
#
#     lenet_ort_test.sh TRAIN_LENET ONNXGRAD NODE ORT_SCORE.js ORT_DIR TMP
set -eu
TRAIN=$1; CLI=$2; NODE=$3; SCORE=$4; ORT=$5; TMP=$6
DATA=/usr/share/datasets/fashion-mnist
[ -d "$DATA" ] || { echo "FAIL: $DATA missing (Debian package dataset-fashion-mnist)"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP"
"$TRAIN" "$DATA" 1 "$TMP/lenet5.onnx" | tee "$TMP/train.txt"
printed=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$TMP/train.txt")
"$CLI" eval "$TMP/lenet5.onnx" --data "$DATA" --json > "$TMP/eval.json"
og=$(sed -n 's/.*"correct": \([0-9]*\).*/\1/p' "$TMP/eval.json")
ort=$("$NODE" "$SCORE" "$ORT" "$TMP/lenet5.onnx" "$DATA" | sed -n 's/^correct \([0-9]*\) of 10000$/\1/p')
echo "example printed ${printed}%, onnxgrad eval $og of 10000, ONNX Runtime $ort of 10000"
[ -n "$og" ] && [ "$og" = "$ort" ] || { echo "FAIL: onnxgrad eval and ONNX Runtime disagree"; exit 1; }
[ "$(awk "BEGIN { printf \"%.2f\", $og / 100 }")" = "$printed" ] || { echo "FAIL: eval differs from the example"; exit 1; }
[ "$og" -gt 7000 ] || { echo "FAIL: one epoch should reach 70% (got $og of 10000)"; exit 1; }
echo PASS
