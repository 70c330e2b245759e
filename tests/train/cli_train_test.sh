#!/bin/sh
# SPDX-License-Identifier: MIT
# cli_train_test.sh — `onnxgrad train` and `onnxgrad eval` end to end on a
# small random dataset and the examples' LeNet-5:
#
#     cli_train_test.sh ONNXGRAD LENET_EXAMPLE PYTHON3 TMP_DIR
#
# Checked: training writes one JSON line per epoch and a model with its
# training step; a checkpoint resumed to the same epochs ends bit-identical
# to the uninterrupted run (after an epoch and after a Ctrl-C mid-epoch,
# simulated by ONNXGRAD_TEST_INTERRUPT_AT_STEP); --keep; 1 and 2 threads give
# the same bits; --plot; eval's JSON; and the errors (one stderr line each).
set -u
CLI=$1
LENET=$2
PY=$3
TMP=$4
CHECK_TI=$(dirname "$0")/../tools/check_training_info.py
. "$(dirname "$0")/../cli/harness.sh"
mkdir -p "$TMP/data" || exit 1
expect_ok() {
    desc=$1; shift
    "$@" >"$OUT" 2>"$ERR"; rc=$?
    if [ "$rc" -eq 0 ]; then ok "$desc"; else not_ok "$desc (exit $rc)"; fi
}
# expect_fail DESC CODE FRAGMENT CMD...: exit CODE, one stderr line holding FRAGMENT
expect_fail() {
    desc=$1; code=$2; frag=$3; shift 3
    "$@" >"$OUT" 2>"$ERR"; rc=$?
    if [ "$rc" -eq "$code" ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -qF -- "$frag" "$ERR"; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want $code and one line with '$frag')"
    fi
}
# same_weights DESC A B: every initializer of A and B holds the same bytes
same_weights() {
    if "$PY" - "$2" "$3" >"$OUT" 2>"$ERR" <<'PYEOF'
import sys, onnx
a, b = (onnx.load(p) for p in sys.argv[1:3])
ia = {t.name: t.SerializeToString() for t in a.graph.initializer}
ib = {t.name: t.SerializeToString() for t in b.graph.initializer}
diff = [k for k in ia if ia[k] != ib.get(k)] + [k for k in ib if k not in ia]
print("differ:", diff)
sys.exit(1 if diff else 0)
PYEOF
    then ok "$1"; else not_ok "$1"; fi
}

# 300 training and 100 test images of 28x28, 10 classes
"$PY" - "$TMP/data" <<'PYEOF' || exit 1
import sys, numpy as np
from onnx import numpy_helper
d = sys.argv[1]
g = np.random.default_rng(5)
for split, n in (("train", 300), ("test", 100)):
    x = g.random((n, 1, 28, 28), dtype=np.float32)
    y = g.integers(0, 10, n).astype(np.int64)
    for name, a in (("x", x), ("y", y)):
        open("%s/%s_%s.pb" % (d, split, name), "wb").write(numpy_helper.from_array(a).SerializeToString())
PYEOF
"$LENET" "$TMP/lenet.onnx" >/dev/null || exit 1
D=$TMP/data
M=$TMP/lenet.onnx
COMMON="--data $D --loss-fn softmax-cross-entropy --optimizer momentum --lr 0.05 --batch 32 --rng-seed 9"

expect_ok "train 3 epochs" "$CLI" train "$M" $COMMON --epochs 3 --json -o "$TMP/full.onnx" --threads 2
if [ "$(grep -c '"epoch"' "$OUT")" -eq 3 ] && grep -q '"test_accuracy"' "$OUT" && grep -q '"images_per_second"' "$OUT"; then
    ok "one JSON object per epoch"; else not_ok "one JSON object per epoch"; fi
expect_ok "train 3 epochs on 1 thread" "$CLI" train "$M" $COMMON --epochs 3 --json -o "$TMP/full1.onnx" --threads 1
same_weights "1 and 2 threads give the same weights" "$TMP/full.onnx" "$TMP/full1.onnx"
# onnx 1.12's checker ignores training_info: check_training_info.py also checks the main graph followed by
# the algorithm (what ONNX runs as a step) and the bindings
if "$PY" -c "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); assert len(m.training_info)==1" "$TMP/full.onnx" >"$OUT" 2>"$ERR" &&
   "$PY" "$CHECK_TI" check "$TMP/full.onnx" >"$OUT" 2>"$ERR"; then
    ok "the trained model carries its training step; onnx.checker accepts it and the step"; else not_ok "trained model checker"; fi

expect_ok "train 1 epoch with checkpoints" "$CLI" train "$M" $COMMON --epochs 1 --checkpoint-dir "$TMP/ck"
if [ -f "$TMP/ck/epoch-1.onnx" ]; then ok "epoch-1.onnx written"; else not_ok "epoch-1.onnx written"; fi
expect_ok "resume to 3 epochs" "$CLI" train "$M" $COMMON --epochs 3 --resume "$TMP/ck/epoch-1.onnx" -o "$TMP/resumed.onnx"
same_weights "resumed after an epoch = uninterrupted" "$TMP/full.onnx" "$TMP/resumed.onnx"

ONNXGRAD_TEST_INTERRUPT_AT_STEP=13 "$CLI" train "$M" $COMMON --epochs 3 --checkpoint-dir "$TMP/ck2" >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 130 ] && [ -f "$TMP/ck2/interrupted.onnx" ] && grep -q "interrupted in epoch 2 after 3 batches" "$ERR"; then
    ok "Ctrl-C mid-epoch writes interrupted.onnx"; else not_ok "Ctrl-C mid-epoch (exit $rc)"; fi
expect_ok "resume from the Ctrl-C checkpoint" "$CLI" train "$M" $COMMON --epochs 3 --resume "$TMP/ck2/interrupted.onnx" -o "$TMP/resumed2.onnx"
same_weights "resumed mid-epoch = uninterrupted" "$TMP/full.onnx" "$TMP/resumed2.onnx"

expect_ok "--keep 1" "$CLI" train "$M" $COMMON --epochs 3 --checkpoint-dir "$TMP/ck3" --keep 1
if [ "$(ls "$TMP/ck3")" = "epoch-3.onnx" ]; then ok "--keep 1 keeps the last"; else not_ok "--keep 1 keeps the last: $(ls "$TMP/ck3")"; fi

if command -v gnuplot >/dev/null; then
    expect_ok "--plot" "$CLI" train "$M" $COMMON --epochs 2 --plot "$TMP/curve.svg"
    if grep -q "<svg" "$TMP/curve.svg" 2>/dev/null; then ok "the plot is an SVG"; else not_ok "the plot is an SVG"; fi
else
    not_ok "--plot: gnuplot is missing (Debian package gnuplot-nox)"
fi

expect_ok "eval --json" "$CLI" eval "$TMP/full.onnx" --data "$D" --json
if "$PY" -c "
import json,sys
r=json.load(open(sys.argv[1]))
c=r['confusion']
assert len(c)==10 and all(len(row)==10 for row in c)
assert sum(map(sum,c))==100==r['total']
assert abs(sum(c[i][i] for i in range(10))/100-r['accuracy'])<1e-12
" "$OUT" 2>"$ERR"; then ok "eval: accuracy = trace of the confusion matrix / total"; else not_ok "eval json"; fi
expect_ok "eval of the train split" "$CLI" eval "$TMP/full.onnx" --data "$D" --split train
if grep -q "of 300, train split" "$OUT"; then ok "eval --split train"; else not_ok "eval --split train"; fi

expect_fail "missing --data" 2 "missing --data" "$CLI" train "$M" --epochs 1 --batch 4
expect_fail "unknown optimizer" 2 "--optimizer must be one of" "$CLI" train "$M" $COMMON --epochs 1 --optimizer rmsprop
expect_fail "bad schedule" 2 "--lr-schedule" "$CLI" train "$M" $COMMON --epochs 1 --lr-schedule step:0:1
expect_fail "resume a model without a step" 1 "carries no onnxgrad training step" "$CLI" train "$M" $COMMON --epochs 2 --resume "$M"
expect_fail "resume with another learning rate" 1 "--lr contradicts" "$CLI" train "$M" $COMMON --epochs 3 --lr 0.1 --resume "$TMP/ck/epoch-1.onnx"
expect_fail "missing data files" 1 "train_x.pb" "$CLI" train "$M" $COMMON --epochs 1 --data "$TMP/nothing"
printf 'garbage' >"$TMP/data/test_y.pb.bad"
mkdir -p "$TMP/bad" && cp "$D/train_x.pb" "$D/train_y.pb" "$D/test_x.pb" "$TMP/bad/" && head -c 20 "$D/test_y.pb" >"$TMP/bad/test_y.pb"
expect_fail "truncated labels" 1 "test_y.pb" "$CLI" train "$M" $COMMON --epochs 1 --data "$TMP/bad"
expect_fail "eval: bad split" 2 "--split must be test or train" "$CLI" eval "$TMP/full.onnx" --data "$D" --split dev

finish
